//! The node crate's shape, checked from its own source text (issue 16).
//!
//! Every module sits on a floor ([`FLOORS`]). The rules, one test each:
//! 1. a module imports only modules on its own floor or below, never one above;
//! 2. two different areas (floor [`AREAS`]) never import each other: areas are leaves, and a
//!    reaction of one area to another's change belongs to the views dispatcher or the writer;
//! 3. every module file is on a floor (a new module fails until it is added to [`FLOORS`]);
//! 4. the domain is pure: it imports only [`DOMAIN_MAY_IMPORT`].
//!
//! [`KNOWN`] lists each (file, module) import that breaks a rule and that the team has agreed
//! to keep for a while (none today). The rule tests fail on any break not in it, and
//! `known_exceptions_still_exist` fails on an entry that no longer breaks a rule, so the list
//! only shrinks.
//!
//! How the source is read (text only, no `syn`): comments, doc comments, string and character
//! literals are blanked out (lines kept, for line numbers); the rest is cut into identifiers,
//! `::` and single punctuation characters; `#[cfg(test)] mod … { … }` blocks are skipped (tests
//! may reach anywhere). A reference is a `use` tree (grouped and multi-line ones expanded to
//! one path per leaf) or an inline path, rooted at `crate` (`$crate` in macros; `fenghuo_node`
//! in the binaries), `super` or `self` (resolved against the module they are written in,
//! inline `mod x { … }` blocks included), or at a child module's name. A path lands in the
//! longest module it names (`crate::overview::view::record_change` → `overview::view`).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::OnceLock;

/// One floor of the crate: a name for messages and the module prefixes on it. A module's floor
/// is that of the longest prefix that matches it whole (`disposal::relay` before `disposal`).
struct Floor {
    name: &'static str,
    modules: &'static [&'static str],
}

/// The layer map, lowest floor first; a floor's number is its index. Lower floors never import
/// higher ones.
const FLOORS: &[Floor] = &[
    // 0
    Floor {
        name: "foundations",
        // Storage behind its trait, who is who, times as people write them, the names of
        // division codes (pure data).
        modules: &["store", "identity", "timespec", "places"],
    },
    // 1
    Floor {
        name: "pure domain, feeds and PKI",
        // The domain is the vocabulary events are made of, so it sits below `event` (which
        // imports it throughout) and imports only identity and time (rule 4). Feeds sit on
        // the store; the PKI reads feed-signing keys, which certificates carry.
        modules: &["domain", "feed", "pki"],
    },
    // 2
    Floor {
        name: "events, numbering and the directory",
        // What an entry says, and the checks every entry passes: domain values in signed
        // bytes, checked against feeds and certificates. Beside them what every area reads
        // or writes alike: the numbering of risks and items, and the federation's directory
        // of who is who (counties, neighbours, certificates).
        modules: &["event", "counters", "sync::directory"],
    },
    // 3
    Floor {
        name: "areas",
        // Each area validates commands into events and applies events to its view. The
        // federation's own views live in `sync` but are areas too.
        modules: &[
            "register",
            "comms",
            "disposal",
            "overview",
            "sync::crl",
            "sync::rekey",
            "intake",
            "notifications",
        ],
    },
    // 4
    Floor {
        name: "views dispatcher and writer",
        // The dispatcher applies entries to every area (cross-area reactions happen there);
        // the single writer, with its staging of received runs (and of the quarantine a bad
        // one sets off); `change` runs each area's commands and composes their follow-ups
        // (the upward report).
        modules: &[
            "dispatch",
            "writer",
            "sync::ingest",
            "sync::quarantine",
            "change",
        ],
    },
    // 5
    Floor {
        name: "services",
        // Long-running workers and node-local stores: sync links and sessions, the journal,
        // the gateway's relay and webhook deliveries, partner and staff accounts, backups, the
        // typed config they are started from, and the state handlers and workers share (the
        // writer, the store, the sync context: it is built from services and handed to both).
        modules: &[
            "state", "sync", "services", "partner", "accounts", "backup", "config",
        ],
    },
    // 6
    Floor {
        name: "edges",
        // gRPC, pages, the CLI, the accept loop, opening a node, and tracing set-up
        // for the servers (the binary's job; it reads the config's log format).
        modules: &["api", "web", "cli", "wire", "server", "start", "logging"],
    },
    // 7
    Floor {
        name: "binaries and the crate root",
        // `crate` is lib.rs, which only declares modules: nothing below may import through
        // it (a re-export there would hide a floor).
        modules: &["bin", "crate"],
    },
];

/// The floor whose modules are areas (rule 2).
const AREAS: usize = 3;

/// What the domain may import besides itself (rule 4): floor 0 without the store, since the
/// domain is free of storage as well as transport.
const DOMAIN_MAY_IMPORT: &[&str] = &["identity", "timespec"];

/// Today's breaks of the rules, as (importing file under `node/src/`, imported module). Each
/// goes when the code is fixed; `known_exceptions_still_exist` says when to remove one.
const KNOWN: &[(&str, &str)] = &[];

// ---------------------------------------------------------------------------------------------
// The rules.

#[test]
fn no_module_imports_a_higher_floor() {
    check(Rule::Upward);
}

#[test]
fn areas_do_not_import_each_other() {
    check(Rule::AreaToArea);
}

#[test]
fn every_module_is_on_a_floor() {
    let crate_ = read_crate();
    let mut missing = String::new();
    for f in &crate_.files {
        if floor_of(&f.module).is_none() {
            let top = f.module.split("::").next().unwrap_or_default();
            let _ = writeln!(
                missing,
                "node/src/{} (module `{}`) is on no floor: add `{top}` to FLOORS at the top of \
                 node/tests/layers.rs, on the lowest floor that holds everything it imports.",
                f.file, f.module
            );
        }
    }
    assert!(missing.is_empty(), "\n{missing}");
}

#[test]
fn every_prefix_is_on_one_floor() {
    let mut seen = BTreeSet::new();
    for f in FLOORS {
        for m in f.modules {
            assert!(seen.insert(*m), "FLOORS lists `{m}` twice");
        }
    }
}

#[test]
fn the_domain_imports_only_foundations() {
    check(Rule::ImpureDomain);
}

#[test]
fn known_exceptions_still_exist() {
    let crate_ = read_crate();
    let found: BTreeSet<(String, String)> = violations(crate_)
        .into_iter()
        .map(|v| (v.file, v.target))
        .collect();
    let mut stale = String::new();
    let mut seen = BTreeSet::new();
    for &(file, module) in KNOWN {
        if !seen.insert((file, module)) {
            let _ = writeln!(stale, "KNOWN lists (\"{file}\", \"{module}\") twice.");
        } else if !found.contains(&(file.to_string(), module.to_string())) {
            let _ = writeln!(
                stale,
                "node/src/{file} no longer imports `{module}` against a rule: remove \
                 (\"{file}\", \"{module}\") from KNOWN in node/tests/layers.rs."
            );
        }
    }
    assert!(stale.is_empty(), "\n{stale}");
}

/// The rules a reference can break (rule 3 is about files, not references).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    /// Rule 1.
    Upward,
    /// Rule 2.
    AreaToArea,
    /// Rule 4.
    ImpureDomain,
}

/// One reference that breaks a rule.
#[derive(Debug)]
struct Violation {
    rule: Rule,
    /// The importing file, under `node/src/`.
    file: String,
    line: usize,
    /// The path as resolved, e.g. `crate::overview::view::record_change`.
    path: String,
    /// The importing module and the imported one.
    module: String,
    target: String,
}

impl Violation {
    /// What a person reads: where, what, the floors, the rule, and what to do.
    fn message(&self) -> String {
        let (from, to) = (floor_of(&self.module), floor_of(&self.target));
        let floors = format!(
            "`{}` is on floor {} and `{}` on floor {}",
            self.module,
            describe(from),
            self.target,
            describe(to)
        );
        let rule = match self.rule {
            Rule::Upward => {
                "rule 1: a module imports only its own floor or below. Move what it needs down, \
                 or the code that needs it up."
                    .to_string()
            }
            Rule::AreaToArea => format!(
                "rule 2: areas (`{}` and `{}` here) never import each other. A reaction of one \
                 area to another's change belongs on floor 4 (the views dispatcher or the \
                 writer); a shared rule belongs in the domain.",
                area_of(&self.module).unwrap_or_default(),
                area_of(&self.target).unwrap_or_default()
            ),
            Rule::ImpureDomain => format!(
                "rule 4: the domain is pure and imports only {DOMAIN_MAY_IMPORT:?}. Pass what it \
                 needs in as plain values."
            ),
        };
        format!(
            "node/src/{}:{}: `{}`: {floors}; {rule}",
            self.file, self.line, self.path
        )
    }
}

/// `3 (areas)`, or `none`.
fn describe(floor: Option<usize>) -> String {
    match floor {
        Some(n) => format!("{n} ({})", FLOORS[n].name),
        None => "none".to_string(),
    }
}

/// Fails on every break of `rule` that KNOWN does not list.
fn check(rule: Rule) {
    let crate_ = read_crate();
    let known: BTreeSet<(&str, &str)> = KNOWN.iter().copied().collect();
    let new: Vec<Violation> = violations(crate_)
        .into_iter()
        .filter(|v| v.rule == rule && !known.contains(&(v.file.as_str(), v.target.as_str())))
        .collect();
    if new.is_empty() {
        return;
    }
    let mut text = String::new();
    for v in &new {
        let _ = writeln!(text, "{}", v.message());
    }
    let pairs: BTreeSet<(&str, &str)> = new
        .iter()
        .map(|v| (v.file.as_str(), v.target.as_str()))
        .collect();
    let _ = writeln!(
        text,
        "\nFix the code. Only an exception the team has agreed to keep for now goes in KNOWN:"
    );
    for (file, target) in pairs {
        let _ = writeln!(text, "    (\"{file}\", \"{target}\"),");
    }
    panic!("\n{text}");
}

/// Every reference of the crate that breaks rule 1, 2 or 4.
fn violations(crate_: &Crate) -> Vec<Violation> {
    let mut out = Vec::new();
    for f in &crate_.files {
        let Some(from) = floor_of(&f.module) else {
            continue; // rule 3's business
        };
        for r in &f.refs {
            let Some(to) = floor_of(&r.target) else {
                continue;
            };
            let mut broken = Vec::new();
            if to > from {
                broken.push(Rule::Upward);
            }
            if from == AREAS && to == AREAS && area_of(&f.module) != area_of(&r.target) {
                broken.push(Rule::AreaToArea);
            }
            if in_prefix(&f.module, "domain")
                && !in_prefix(&r.target, "domain")
                && !DOMAIN_MAY_IMPORT.iter().any(|p| in_prefix(&r.target, p))
            {
                broken.push(Rule::ImpureDomain);
            }
            for rule in broken {
                out.push(Violation {
                    rule,
                    file: f.file.clone(),
                    line: r.line,
                    path: r.path.clone(),
                    module: f.module.clone(),
                    target: r.target.clone(),
                });
            }
        }
    }
    out
}

/// Whether `module` is `prefix` or inside it (whole segments: `sync::crl` is in `sync`,
/// `synced` is not).
fn in_prefix(module: &str, prefix: &str) -> bool {
    module == prefix
        || module
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with("::"))
}

/// The longest prefix of FLOORS that holds `module`, with its floor.
fn placement(module: &str) -> Option<(usize, &'static str)> {
    FLOORS
        .iter()
        .enumerate()
        .flat_map(|(n, f)| f.modules.iter().map(move |p| (n, *p)))
        .filter(|(_, p)| in_prefix(module, p))
        .max_by_key(|(_, p)| p.len())
}

fn floor_of(module: &str) -> Option<usize> {
    placement(module).map(|(n, _)| n)
}

/// The area a module belongs to: the prefix that placed it, when that is on the areas floor.
fn area_of(module: &str) -> Option<&'static str> {
    placement(module).and_then(|(n, p)| (n == AREAS).then_some(p))
}

// ---------------------------------------------------------------------------------------------
// Reading the crate.

/// The node crate's source files and what each refers to.
struct Crate {
    files: Vec<SourceFile>,
}

struct SourceFile {
    /// Under `node/src/`, with `/`: `comms/view.rs`.
    file: String,
    /// `comms::view`; `crate` for lib.rs; `bin::fenghuo` for a binary.
    module: String,
    refs: Vec<Ref>,
}

/// A reference from a file to a module of the library.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ref {
    line: usize,
    /// The path with `super`/`self`/child names resolved, from `crate`.
    path: String,
    /// The module the path lands in.
    target: String,
}

/// The crate, read once for all the tests.
fn read_crate() -> &'static Crate {
    static CRATE: OnceLock<Crate> = OnceLock::new();
    CRATE.get_or_init(read_source)
}

fn read_source() -> Crate {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    rs_files(&src, &mut paths);
    let named: Vec<(String, String)> = paths
        .iter()
        .map(|p| {
            let rel = p.strip_prefix(&src).unwrap();
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let rel = rel.join("/");
            let module = module_of(&rel);
            (rel, module)
        })
        .collect();
    // The library's modules, which paths resolve against (the binaries are other crates).
    let modules: BTreeSet<String> = named
        .iter()
        .map(|(_, m)| m.clone())
        .filter(|m| !in_prefix(m, "bin"))
        .collect();
    let files = named
        .into_iter()
        .map(|(file, module)| {
            let text = std::fs::read_to_string(src.join(&file)).unwrap();
            let refs = references(&text, &module, &modules);
            SourceFile { file, module, refs }
        })
        .collect();
    Crate { files }
}

fn rs_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rs_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `comms/view.rs` → `comms::view`; `comms/mod.rs` → `comms`; `lib.rs` → `crate`;
/// `bin/fenghuo.rs` → `bin::fenghuo`.
fn module_of(file: &str) -> String {
    let stem = file.strip_suffix(".rs").unwrap_or(file);
    let mut segments: Vec<&str> = stem.split('/').collect();
    if segments.len() > 1 && segments.last() == Some(&"mod") {
        segments.pop();
    }
    if segments == ["lib"] {
        return "crate".to_string();
    }
    segments.join("::")
}

/// Every reference in `text`, the source of `module`, to another module of the library
/// (`modules`). References to the file's own module are left out.
fn references(text: &str, module: &str, modules: &BTreeSet<String>) -> Vec<Ref> {
    let binary = in_prefix(module, "bin");
    let tokens = tokenize(&blank_comments_and_literals(text));
    let file_module: Vec<String> = if module == "crate" || binary {
        Vec::new()
    } else {
        module.split("::").map(str::to_string).collect()
    };
    let mut walk = Walk {
        t: &tokens,
        i: 0,
        depth: 0,
        inline: Vec::new(),
        file_module,
        binary,
        modules,
        out: Vec::new(),
    };
    walk.run();
    let mut out = walk.out;
    out.retain(|r| r.target != module);
    out
}

/// A token: an identifier (`$crate` is one), `::`, or one other character.
#[derive(Debug)]
struct Tok {
    text: String,
    line: usize,
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn is_ident(s: &str) -> bool {
    s.chars().next().is_some_and(is_ident_start)
}

/// An identifier, or `$crate` (a path in a macro).
fn is_path_start(s: &str) -> bool {
    is_ident(s) || s == "$crate"
}

/// `src` with comments (doc comments too), strings and character literals replaced by spaces;
/// newlines are kept, so lines still count. Lifetimes (`'a`) stay.
fn blank_comments_and_literals(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let blank = |out: &mut String, from: usize, to: usize| {
        for &ch in &c[from..to.min(c.len())] {
            out.push(if ch == '\n' { '\n' } else { ' ' });
        }
    };
    let at = |i: usize| c.get(i).copied();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch == '/' && at(i + 1) == Some('/') {
            // A line comment, `///` and `//!` included.
            let end = (i..c.len()).find(|&j| c[j] == '\n').unwrap_or(c.len());
            blank(&mut out, i, end);
            i = end;
        } else if ch == '/' && at(i + 1) == Some('*') {
            // A block comment; they nest.
            let (mut j, mut depth) = (i, 0);
            while j < c.len() {
                if c[j] == '/' && at(j + 1) == Some('*') {
                    depth += 1;
                    j += 2;
                } else if c[j] == '*' && at(j + 1) == Some('/') {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if ch == '"' {
            // A string; `\` escapes the next character.
            let mut j = i + 1;
            while j < c.len() && c[j] != '"' {
                j += if c[j] == '\\' { 2 } else { 1 };
            }
            blank(&mut out, i, j + 1);
            i = j + 1;
        } else if ch == '\'' {
            // A character literal (`'x'`, `'\n'`, `'\u{1F600}'`), or a lifetime or label.
            let end = if at(i + 1) == Some('\\') {
                (i + 3..c.len()).find(|&j| c[j] == '\'')
            } else if at(i + 2) == Some('\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(end) => {
                    blank(&mut out, i, end + 1);
                    i = end + 1;
                }
                None => {
                    out.push(ch);
                    i += 1;
                }
            }
        } else if ch == 'b'
            && (matches!(at(i + 1), Some('"' | '\''))
                || (at(i + 1) == Some('r') && raw_string_follows(&c, i + 1)))
        {
            // The `b` of a byte string, byte character or raw byte string: the literal follows.
            out.push(' ');
            i += 1;
        } else if ch == 'r' && raw_string_follows(&c, i) {
            // A raw string: `r"…"`, `r#"…"#`, …
            let hashes = (i + 1..c.len()).take_while(|&j| c[j] == '#').count();
            let body = i + 1 + hashes + 1;
            let mut j = body;
            while j < c.len() {
                if c[j] == '"' && (1..=hashes).all(|k| at(j + k) == Some('#')) {
                    break;
                }
                j += 1;
            }
            blank(&mut out, i, j + 1 + hashes);
            i = j + 1 + hashes;
        } else if is_ident_start(ch) {
            // A whole identifier, so a name ending in `r` or `b` never starts a literal.
            let end = (i..c.len())
                .find(|&j| !is_ident_char(c[j]))
                .unwrap_or(c.len());
            out.extend(&c[i..end]);
            i = end;
        } else {
            out.push(ch);
            i += 1;
        }
    }
    out
}

/// Whether `c[i]` is the `r` of a raw string: `r`, any `#`s, then `"`.
fn raw_string_follows(c: &[char], i: usize) -> bool {
    let mut j = i + 1;
    while c.get(j) == Some(&'#') {
        j += 1;
    }
    c.get(j) == Some(&'"')
}

/// Cuts blanked source into tokens.
fn tokenize(code: &str) -> Vec<Tok> {
    let c: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < c.len() {
        let ch = c[i];
        let start = i;
        if ch == '\n' {
            line += 1;
            i += 1;
            continue;
        } else if ch.is_whitespace() {
            i += 1;
            continue;
        } else if is_ident_char(ch)
            || (ch == '$' && c.get(i + 1).is_some_and(|&n| is_ident_start(n)))
        {
            // Identifiers and numbers; `$crate` (and a macro's `$arg`) as one.
            i += 1;
            while i < c.len() && is_ident_char(c[i]) {
                i += 1;
            }
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            i += 2;
        } else {
            i += 1;
        }
        out.push(Tok {
            text: c[start..i].iter().collect(),
            line,
        });
    }
    out
}

/// A walk through one file's tokens, collecting references.
struct Walk<'a> {
    t: &'a [Tok],
    i: usize,
    /// Braces open here.
    depth: usize,
    /// Inline `mod name { … }` blocks we are in, with the depth of their body.
    inline: Vec<(String, usize)>,
    /// The file's module, as segments (empty for lib.rs and the binaries).
    file_module: Vec<String>,
    /// A binary: the library is `fenghuo_node`, and `crate`/`super`/`self` are the binary's.
    binary: bool,
    modules: &'a BTreeSet<String>,
    out: Vec<Ref>,
}

impl Walk<'_> {
    fn text(&self, i: usize) -> &str {
        self.t.get(i).map_or("", |t| t.text.as_str())
    }

    fn run(&mut self) {
        while self.i < self.t.len() {
            let i = self.i;
            match self.text(i) {
                "#" if self.is_cfg_test(i) => self.skip_test_module(),
                "mod" if is_ident(self.text(i + 1)) && self.text(i + 2) == "{" => {
                    self.depth += 1;
                    self.inline.push((self.text(i + 1).to_string(), self.depth));
                    self.i += 3;
                }
                "{" => {
                    self.depth += 1;
                    self.i += 1;
                }
                "}" => {
                    if self.inline.last().is_some_and(|(_, d)| *d == self.depth) {
                        self.inline.pop();
                    }
                    self.depth = self.depth.saturating_sub(1);
                    self.i += 1;
                }
                "use" => {
                    self.i += 1;
                    let mut leaves = Vec::new();
                    self.use_tree(Vec::new(), &mut leaves);
                    for (segments, line) in leaves {
                        self.record(&segments, line);
                    }
                    while self.i < self.t.len() && self.text(self.i) != ";" {
                        self.i += 1;
                    }
                }
                word if is_path_start(word)
                    && self.text(i + 1) == "::"
                    && self.text(i.wrapping_sub(1)) != "::" =>
                {
                    // An inline path: `crate::a::B::new()`. It ends before `::<` or `::{`.
                    let mut segments = vec![word.to_string()];
                    let mut j = i + 1;
                    while self.text(j) == "::" && is_ident(self.text(j + 1)) {
                        segments.push(self.text(j + 1).to_string());
                        j += 2;
                    }
                    self.record(&segments, self.t[i].line);
                    self.i = j;
                }
                _ => self.i += 1,
            }
        }
    }

    /// `#[cfg(test)]` at token `i`.
    fn is_cfg_test(&self, i: usize) -> bool {
        (0..7).all(|k| self.text(i + k) == ["#", "[", "cfg", "(", "test", ")", "]"][k])
    }

    /// Past `#[cfg(test)]`, further attributes and a visibility: a `mod … { … }` is skipped
    /// whole; anything else is walked as usual.
    fn skip_test_module(&mut self) {
        let mut j = self.i + 7;
        while self.text(j) == "#" && self.text(j + 1) == "[" {
            j = self.after_group(j + 1, "[", "]");
        }
        if self.text(j) == "pub" {
            j += 1;
            if self.text(j) == "(" {
                j = self.after_group(j, "(", ")");
            }
        }
        if self.text(j) == "mod" && self.text(j + 2) == "{" {
            self.i = self.after_group(j + 2, "{", "}");
        } else {
            self.i += 7;
        }
    }

    /// The index after the `close` that matches the `open` at `j`.
    fn after_group(&self, mut j: usize, open: &str, close: &str) -> usize {
        let mut depth = 0;
        while j < self.t.len() {
            let text = self.text(j);
            j += 1;
            if text == open {
                depth += 1;
            } else if text == close {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
        }
        j
    }

    /// Reads one use tree after `prefix`, pushing each leaf's path with the line of its last
    /// segment: `a::{b, c::{self, d as e}, f::*}` → `a::b`, `a::c`, `a::c::d`, `a::f`.
    fn use_tree(&mut self, prefix: Vec<String>, leaves: &mut Vec<(Vec<String>, usize)>) {
        let mut path = prefix;
        let mut line = self.t.get(self.i).map_or(0, |t| t.line);
        loop {
            match self.text(self.i) {
                "::" => self.i += 1,
                "*" => {
                    self.i += 1;
                    leaves.push((path, line));
                    return;
                }
                "{" => {
                    self.i += 1;
                    loop {
                        match self.text(self.i) {
                            "}" => {
                                self.i += 1;
                                return;
                            }
                            "," => self.i += 1,
                            "" | ";" => return,
                            _ => self.use_tree(path.clone(), leaves),
                        }
                    }
                }
                word if is_path_start(word) => {
                    line = self.t[self.i].line;
                    if word != "self" || path.is_empty() {
                        path.push(word.to_string());
                    }
                    self.i += 1;
                    if self.text(self.i) == "as" {
                        self.i += 2;
                    }
                    if self.text(self.i) != "::" {
                        leaves.push((path, line));
                        return;
                    }
                }
                _ => return,
            }
        }
    }

    /// The module the walk is in: the file's, then inline `mod` blocks.
    fn here(&self) -> Vec<String> {
        let mut here = self.file_module.clone();
        here.extend(self.inline.iter().map(|(n, _)| n.clone()));
        here
    }

    /// Resolves `segments` as written here and, if they name the library, records them.
    fn record(&mut self, segments: &[String], line: usize) {
        let Some(path) = self.resolve(segments) else {
            return;
        };
        // The longest module the path names; `crate` when it names none.
        let target = (1..=path.len())
            .rev()
            .map(|n| path[..n].join("::"))
            .find(|m| self.modules.contains(m))
            .unwrap_or_else(|| "crate".to_string());
        let mut shown = vec!["crate".to_string()];
        shown.extend(path);
        self.out.push(Ref {
            line,
            path: shown.join("::"),
            target,
        });
    }

    /// The path from the library's root, or None for what is not the library (`std::…`,
    /// a local item, the binary's own modules).
    fn resolve(&self, segments: &[String]) -> Option<Vec<String>> {
        let first = segments.first()?.as_str();
        if self.binary {
            return (first == "fenghuo_node").then(|| segments[1..].to_vec());
        }
        match first {
            "crate" | "$crate" => Some(segments[1..].to_vec()),
            "super" | "self" => {
                let mut path = self.here();
                let mut rest = segments;
                while let Some(s) = rest.first() {
                    match s.as_str() {
                        "super" => {
                            path.pop()?;
                        }
                        "self" => {}
                        _ => break,
                    }
                    rest = &rest[1..];
                }
                path.extend(rest.iter().cloned());
                Some(path)
            }
            _ => {
                // A child module of this one, named without `self::` (2018 paths).
                let mut path = self.here();
                path.push(first.to_string());
                self.modules.contains(&path.join("::")).then(|| {
                    path.extend(segments[1..].iter().cloned());
                    path
                })
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The reader's own tests.

/// The modules the parser tests resolve against.
fn test_modules() -> BTreeSet<String> {
    [
        "crate",
        "store",
        "feed",
        "identity",
        "api",
        "cli",
        "overview",
        "overview::view",
        "register",
        "register::record",
        "register::view",
        "domain",
        "domain::text",
        "disposal",
        "disposal::relay",
        "pki",
        "pki::ca",
    ]
    .into_iter()
    .map(str::to_string)
    .collect()
}

/// (line, target) of each reference.
fn found(text: &str, module: &str) -> Vec<(usize, String)> {
    references(text, module, &test_modules())
        .into_iter()
        .map(|r| (r.line, r.target))
        .collect()
}

fn pairs(expected: &[(usize, &str)]) -> Vec<(usize, String)> {
    expected.iter().map(|&(l, m)| (l, m.to_string())).collect()
}

#[test]
fn parser_expands_grouped_multi_line_uses() {
    let text = "use crate::{\n    feed::{Audience, Entry as E},\n    store::{self, Batch},\n    \
                identity::*,\n};\nuse std::sync::Arc;\npub use crate::api;\n";
    assert_eq!(
        found(text, "cli"),
        pairs(&[
            (2, "feed"),
            (2, "feed"),
            (3, "store"),
            (3, "store"),
            (4, "identity"),
            (7, "api"),
        ])
    );
    let paths: Vec<String> = references(text, "cli", &test_modules())
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert_eq!(
        paths[..4],
        [
            "crate::feed::Audience",
            "crate::feed::Entry",
            "crate::store",
            "crate::store::Batch"
        ]
    );
}

#[test]
fn parser_resolves_super_self_and_child_modules() {
    let text = "use super::record::RiskRecord;\nuse super::RegisterError;\nuse self::x::Y;\n\
                fn f() { super::super::overview::view::g(); }\n";
    assert_eq!(
        found(text, "register::view"),
        pairs(&[
            (1, "register::record"),
            (2, "register"),
            (4, "overview::view")
        ])
    );
    // In a mod.rs, a child module may be named without `self::`; an extern crate is not ours.
    let text = "pub use relay::spawn;\nuse serde::Serialize;\nfn f() { relay::go(); }\n";
    assert_eq!(
        found(text, "disposal"),
        pairs(&[(1, "disposal::relay"), (3, "disposal::relay")])
    );
    // Inside an inline module, `super` is the file's module.
    let text = "mod inner {\n    use super::helper;\n    use super::super::feed::Entry;\n}\n\
                use super::store::Batch;\n";
    assert_eq!(found(text, "pki::ca"), pairs(&[(3, "pki"), (5, "pki")]));
}

#[test]
fn parser_finds_inline_paths_and_macro_paths() {
    let text =
        "fn f() {\n    crate::overview::view::record_change(crate::store::Batch::new());\n    \
                let v = std::sync::Arc::new(crate::feed::log::heads::<u8>());\n}\n\
                macro_rules! m { () => { $crate::cli::print() } }\n";
    assert_eq!(
        found(text, "register::view"),
        pairs(&[(2, "overview::view"), (2, "store"), (3, "feed"), (5, "cli")])
    );
}

#[test]
fn parser_skips_comments_strings_and_own_module() {
    let text = "//! See [`crate::api`].\n/// [`crate::cli`]\n// use crate::cli;\n\
                /* crate::api /* nested */ crate::cli */\nconst A: &str = \"crate::api \\\" \
                crate::cli\";\nconst B: &str = r#\"crate::cli \" crate::api\"#;\nconst C: char = \
                '\"';\nfn f<'a>(x: &'a str) -> char { '\\'' }\nuse crate::store::Batch;\n\
                fn g() { crate::register::view::h(); }\n";
    assert_eq!(found(text, "register::view"), pairs(&[(9, "store")]));
}

#[test]
fn parser_skips_cfg_test_modules() {
    let text = "use crate::store::Batch;\n#[cfg(test)]\n#[allow(clippy::unwrap_used)] // tests\n\
                mod tests {\n    use crate::api::x;\n    fn f() { if true { crate::cli::y(); } }\n}\n\
                fn after() { crate::feed::z(); }\n";
    assert_eq!(found(text, "domain"), pairs(&[(1, "store"), (8, "feed")]));
}

#[test]
fn parser_reads_binaries_through_the_library_name() {
    let text = "use fenghuo_node::{cli, store::Batch};\nuse crate::args::Args;\n\
                fn main() { fenghuo_node::cli::main(); }\n";
    assert_eq!(
        found(text, "bin::fenghuo"),
        pairs(&[(1, "cli"), (1, "store"), (3, "cli")])
    );
}

#[test]
fn modules_are_named_after_their_files() {
    assert_eq!(module_of("comms/view.rs"), "comms::view");
    assert_eq!(module_of("comms/mod.rs"), "comms");
    assert_eq!(module_of("lib.rs"), "crate");
    assert_eq!(module_of("bin/fenghuo-node.rs"), "bin::fenghuo-node");
    assert_eq!(floor_of("services::relay"), Some(5));
    assert_eq!(floor_of("disposal::view"), Some(AREAS));
    assert_eq!(area_of("sync::crl"), Some("sync::crl"));
    assert_eq!(area_of("sync::directory"), None);
    assert_eq!(floor_of("sync::session"), Some(5));
    assert_eq!(floor_of("syncing"), None);
}
