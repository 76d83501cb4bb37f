//! The README's first command: `fenghuo-gateway demo` runs a whole province (a gateway, five
//! districts with their own pages, a partner simulator, each its own process), seeds it
//! through the APIs, prints what to paste (installed `fenghuo` commands, an env file and a
//! sign-in per district); Ctrl-C stops every process; the next run continues with the same
//! data.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use fenghuo_tests::binaries;
use fenghuo_tests::cli::run_command;
use fenghuo_tests::web::Web;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

/// Starting five nodes and seeding them on a loaded CI machine.
const START_TIMEOUT: Duration = Duration::from_secs(240);

/// A running demo and what it printed until it was ready.
struct Demo {
    child: Child,
    printed: String,
}

impl Demo {
    fn start(dir: &Path) -> Self {
        let mut child = binaries::fenghuo_gateway()
            .args(["demo", "--dir"])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the demo");
        let stdout = child.stdout.take().expect("the demo's stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut printed = String::new();
        loop {
            match rx.recv_timeout(START_TIMEOUT) {
                Ok(line) => {
                    printed.push_str(&line);
                    printed.push('\n');
                    if line.contains("Ctrl-C stops every process") {
                        break;
                    }
                }
                Err(e) => {
                    let _ = child.kill();
                    panic!("the demo did not get ready ({e}); it printed:\n{printed}");
                }
            }
        }
        Self { child, printed }
    }

    /// Ctrl-C, as a terminal sends it to the demo; it must stop within a minute, cleanly.
    fn interrupt(mut self) {
        let pid = Pid::from_raw(i32::try_from(self.child.id()).expect("a pid"));
        kill(pid, Signal::SIGINT).expect("signalling the demo");
        for _ in 0..600 {
            if let Some(status) = self.child.try_wait().expect("the demo's status") {
                assert!(status.success(), "the demo ended with {status}");
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        panic!("the demo did not stop within a minute of Ctrl-C");
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        // A failed test leaves no province behind: the demo stops its children on SIGTERM.
        // (An exited demo is not signalled: its pid may belong to another process by now.)
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

/// Runs `fenghuo args… --json` with the variables of the demo's env file `env`.
fn cli(dir: &Path, env: &str, args: &[&str]) -> Value {
    let text = std::fs::read_to_string(dir.join(env)).expect("the demo's env file");
    let mut cmd = binaries::fenghuo();
    for line in text.lines().filter_map(|l| l.strip_prefix("export ")) {
        let (k, v) = line.split_once('=').expect("NAME=value");
        cmd.env(k, v);
    }
    cmd.args(args).arg("--json");
    run_command(cmd, Duration::from_secs(30)).ok().json()
}

/// Each district's pages as the demo printed them: (code, URL).
fn district_pages(printed: &str) -> Vec<(String, String)> {
    printed
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let code = l
                .get(..6)
                .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))?;
            let url = l.split_whitespace().find(|w| w.starts_with("https://"))?;
            Some((code.to_owned(), url.trim_end_matches('/').to_owned()))
        })
        .collect()
}

fn pids(dir: &Path) -> Vec<(String, i32)> {
    std::fs::read_to_string(dir.join("pids"))
        .expect("the demo's pids file")
        .lines()
        .map(|l| {
            let (name, pid) = l.split_once(' ').expect("name pid");
            (name.to_owned(), pid.parse().expect("a pid"))
        })
        .collect()
}

#[test]
fn the_demo_runs_a_whole_province_stops_on_ctrl_c_and_continues_the_next_time() {
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let dir = tmp.path().join("fenghuo-demo");
    let demo = Demo::start(&dir);
    assert!(
        demo.printed.contains("sample data written"),
        "{}",
        demo.printed
    );
    assert!(
        demo.printed.contains("demo / fenghuo-demo-2026"),
        "{}",
        demo.printed
    );
    // Twelve processes: the gateway, five districts, the partner simulator, and each
    // district's monitoring system.
    let running = pids(&dir);
    let names: Vec<&str> = running.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "gateway",
            "510104",
            "510105",
            "510106",
            "510107",
            "510108",
            "partner-sim",
            "monitor-510104",
            "monitor-510105",
            "monitor-510106",
            "monitor-510107",
            "monitor-510108",
        ]
    );
    assert_eq!(
        running
            .iter()
            .map(|(_, p)| p)
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        12,
        "each its own process"
    );

    // The monitoring systems keep each district's triage list alive.
    fenghuo_tests::wait::until(
        "findings on 510104's triage list",
        START_TIMEOUT,
        Duration::from_millis(500),
        || {
            let items = cli(&dir, "env", &["intake", "list", "--all"]);
            match items.as_array().map(Vec::len) {
                Some(n) if n >= 2 => Ok(()),
                other => Err(format!("{other:?} items")),
            }
        },
    );

    // What a newcomer pastes works, and shows the seeded province.
    let risks = cli(&dir, "env", &["risk", "list"]);
    assert_eq!(risks.as_array().map(Vec::len), Some(4), "{risks:#}");
    let requests = cli(&dir, "env", &["disposal", "list"]);
    assert_eq!(requests[0]["state"], "answered", "{requests:#}");
    assert_eq!(
        requests[0]["outcome"]["outcome"], "labelled",
        "{requests:#}"
    );
    let alerts = cli(&dir, "env", &["alert", "list"]);
    assert_eq!(alerts.as_array().map(Vec::len), Some(1), "{alerts:#}");
    let overview = cli(&dir, "env-province", &["overview"]);
    assert_eq!(
        overview["active"], 12,
        "the shared risks at the gateway: {overview:#}"
    );
    let reports = cli(&dir, "env-province", &["report", "list"]);
    assert!(
        reports.as_array().map(Vec::len) >= Some(2),
        "automatic and by-hand reports: {reports:#}"
    );
    let linked = cli(&dir, "env-province", &["linked"]);
    assert!(
        linked.to_string().contains("video.example/v/88213"),
        "one incident across two districts: {linked:#}"
    );

    // The commands printed are the installed programs', not cargo's.
    assert!(
        demo.printed.contains("    fenghuo risk list"),
        "{}",
        demo.printed
    );
    assert!(!demo.printed.contains("cargo run"), "{}", demo.printed);
    // Every district: an env file the CLI works with, and its own pages with a sign-in.
    let pages = district_pages(&demo.printed);
    let codes: Vec<&str> = pages.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(
        codes,
        ["510104", "510105", "510106", "510107", "510108"],
        "{}",
        demo.printed
    );
    let web_ca = dir.join("pki").join("ca-web.crt");
    for (code, url) in &pages {
        let env = format!("env-{code}");
        assert!(demo.printed.contains(&env), "{}", demo.printed);
        let own = cli(&dir, &env, &["risk", "list", "--origin", code]);
        assert!(own.is_array(), "{code}: {own:#}");
        let mut web = Web::new(url, &web_ca);
        let r = web.sign_in("demo", "fenghuo-demo-2026");
        assert_eq!(r.status, 303, "{code} signs in at {url}: {}", r.body);
        let home = web.get("/");
        assert_eq!(home.status, 200, "{code}: {}", home.body);
    }

    demo.interrupt();
    for (name, pid) in &running {
        assert!(
            kill(Pid::from_raw(*pid), None).is_err(),
            "{name} (pid {pid}) still runs after Ctrl-C"
        );
    }

    // Again: the same data, nothing seeded twice.
    let again = Demo::start(&dir);
    assert!(
        again
            .printed
            .contains("continuing with the data of the last run"),
        "{}",
        again.printed
    );
    let risks = cli(&dir, "env", &["risk", "list"]);
    assert_eq!(risks.as_array().map(Vec::len), Some(4), "{risks:#}");
    again.interrupt();
}
