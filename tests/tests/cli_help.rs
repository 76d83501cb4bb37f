//! `fenghuo --help` in both languages: the users are county officers who read Chinese first.
//! Every command the main command groups list (walked from the `Commands:` section of each
//! help, so a new subcommand is checked without being named here) has an about line with
//! Chinese and English, and so has every option and argument they take.

#![allow(clippy::unwrap_used)]

use fenghuo_tests::cli::Cli;

/// The command groups officers use; their subcommands are found, not listed.
const MAIN: &[&str] = &[
    "risk",
    "alert",
    "directive",
    "consult",
    "report",
    "disposal",
    "staff",
    "ca",
    "init",
    "partner",
    "overview",
];

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{9fff}')
}

/// Chinese (a CJK character) and English (a word of three Latin letters).
fn bilingual(text: &str) -> bool {
    let english = text
        .split(|c: char| !c.is_ascii_alphabetic())
        .any(|w| w.len() >= 3);
    text.chars().any(is_cjk) && english
}

/// The help of `fenghuo <path> --help`.
fn help<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(path: &[S]) -> String {
    let out = Cli::new().args(path).arg("--help").run().ok();
    assert!(
        !out.stdout.is_empty(),
        "fenghuo {path:?} --help printed nothing"
    );
    out.stdout
}

/// The items of a help section (`Commands:`, `Options:`, `Arguments:`): each item's first
/// word (the command, or the option's spelling) and its whole text, wrapped lines joined.
fn section(help: &str, title: &str) -> Vec<(String, String)> {
    let mut items: Vec<(String, String)> = Vec::new();
    let mut inside = false;
    for line in help.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            inside = line.trim_end() == title;
            continue;
        }
        if !inside || line.trim().is_empty() {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        // An item starts at the section's own indentation (2, or 6 for a long option without
        // a short one); its text continues on deeper lines.
        if indent <= 6 {
            let trimmed = line.trim_start();
            let (head, text) = match trimmed.find("  ") {
                Some(i) => (&trimmed[..i], trimmed[i..].trim()),
                None => (trimmed, ""),
            };
            items.push((head.to_owned(), text.to_owned()));
        } else if let Some((_, text)) = items.last_mut() {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(line.trim());
        }
    }
    items
}

/// The about line of a help: its first line.
fn about(help: &str) -> &str {
    help.lines().next().unwrap_or_default()
}

/// Checks `fenghuo <path> --help` and, through its `Commands:` section, every subcommand.
fn walk(path: Vec<String>, problems: &mut Vec<String>, seen: &mut usize) {
    let text = help(&path);
    *seen += 1;
    let name = format!("fenghuo {}", path.join(" "));
    if !bilingual(about(&text)) {
        problems.push(format!("{name}: about line {:?}", about(&text)));
    }
    for title in ["Options:", "Arguments:"] {
        for (head, text) in section(&text, title) {
            if head.contains("--help") || head.contains("--version") {
                continue;
            }
            if !bilingual(&text) {
                problems.push(format!("{name}: {head}: {text:?}"));
            }
        }
    }
    for (command, line) in section(&text, "Commands:") {
        if command == "help" {
            continue;
        }
        if !bilingual(&line) {
            problems.push(format!("{name}: in Commands: {command}: {line:?}"));
        }
        let mut sub = path.clone();
        sub.push(command);
        walk(sub, problems, seen);
    }
}

#[test]
fn the_top_level_help_lists_every_command_in_chinese_and_english() {
    let text = help::<&str>(&[]);
    assert!(bilingual(about(&text)), "{text}");
    let commands = section(&text, "Commands:");
    for main in MAIN {
        assert!(
            commands.iter().any(|(c, _)| c == main),
            "`fenghuo --help` does not list {main}:\n{text}"
        );
    }
    let untranslated: Vec<_> = commands
        .iter()
        .filter(|(c, line)| c != "help" && !bilingual(line))
        .collect();
    assert!(untranslated.is_empty(), "{untranslated:?}\n{text}");
    // The long description has a Chinese paragraph, then the English one.
    let zh = text.find("管理离线的省级证书机构").unwrap();
    let en = text.find("Runs the offline provincial CA").unwrap();
    assert!(zh < en, "{text}");
}

#[test]
fn every_subcommand_of_the_main_commands_has_chinese_and_english_help() {
    let mut problems = Vec::new();
    let mut seen = 0;
    for main in MAIN {
        walk(vec![(*main).to_owned()], &mut problems, &mut seen);
    }
    // risk (10 + measure's 5), alert 7, … : the walk found the subcommands, not only the groups.
    assert!(seen > 60, "only {seen} helps walked");
    assert!(
        problems.is_empty(),
        "help without both languages:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_section_parser_finds_wrapped_items() {
    let text = "About · 关于\n\nUsage: x\n\nCommands:\n  add   登记 · Add\n        more\n  help  Print\n\nOptions:\n      --json\n          输出 · Print JSON\n\n  -h, --help  Print help\n";
    assert_eq!(
        section(text, "Commands:"),
        [
            ("add".to_owned(), "登记 · Add more".to_owned()),
            ("help".to_owned(), "Print".to_owned())
        ]
    );
    let options = section(text, "Options:");
    assert_eq!(
        options[0],
        ("--json".to_owned(), "输出 · Print JSON".to_owned())
    );
    assert!(bilingual(&options[0].1) && !bilingual("Print JSON") && !bilingual("输出"));
}

#[test]
fn vocabularies_say_they_take_chinese_values() {
    let add = help(&["risk", "add"]);
    assert!(
        add.contains("活动集中点") && add.contains("activity-concentration"),
        "{add}"
    );
    let list = help(&["risk", "list"]);
    assert!(list.contains("重大") && list.contains("--level"), "{list}");
}
