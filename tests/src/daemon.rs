//! A server of the federation (a county's `fenghuo-node` or the province's
//! `fenghuo-gateway`) as a child process, started from a config file that already exists.
//!
//! [`crate::TestNode`] writes a bare county config itself; a province needs configs with a
//! gateway and neighbours, and a gateway, so [`crate::province`] writes those with
//! `fenghuo init …` and hands them here. Readiness is the same signal: the JSON log line
//! `<binary> listening (mutual TLS)` carrying the bound address. A thread drains stderr (and
//! another stdout) into a buffer for the whole life of the process, shown when a test fails.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

use crate::binaries;

/// How long a server may take to log its listening line.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a server may take to exit after SIGTERM.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// The end of the message of the readiness line, after the binary's name.
pub const LISTENING_SUFFIX: &str = " listening (mutual TLS)";

/// Which server binary runs the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `fenghuo-node run`, a county.
    Node,
    /// `fenghuo-gateway run`, the province.
    Gateway,
}

impl Kind {
    fn command(self) -> Command {
        match self {
            Self::Node => binaries::fenghuo_node(),
            Self::Gateway => binaries::fenghuo_gateway(),
        }
    }
}

/// The live process.
#[derive(Debug)]
struct Running {
    /// The `… run` child.
    child: Child,
    /// The address from its listening line.
    addr: SocketAddr,
    /// Disconnects when stderr reaches end of file, i.e. when the process is gone.
    exited: mpsc::Receiver<()>,
    /// The stderr and stdout drain threads.
    drains: Vec<JoinHandle<()>>,
}

impl Running {
    fn reap(mut self) -> String {
        let _ = self.child.kill();
        let status = self
            .child
            .wait()
            .map(|s| s.to_string())
            .unwrap_or_else(|e| e.to_string());
        for d in self.drains.drain(..) {
            let _ = d.join();
        }
        status
    }
}

/// A federation server run from `config`; killed (SIGKILL) when dropped. The config and data
/// belong to the caller (usually a [`crate::TestProvince`] temporary folder).
#[derive(Debug)]
pub struct Daemon {
    /// What the server is called in messages: "510104" or "gateway".
    name: String,
    /// Node or gateway.
    kind: Kind,
    /// The config file, written by `fenghuo init …`.
    config: PathBuf,
    /// `RUST_LOG` for the process; the config's filter when `None`.
    rust_log: Option<String>,
    /// Every line printed, across restarts.
    log: Arc<Mutex<String>>,
    /// How long to wait for the listening line.
    ready_timeout: Duration,
    /// The process while it runs.
    running: Option<Running>,
}

impl Daemon {
    /// Starts `kind` with `config` and returns once it is listening.
    pub fn start(name: &str, kind: Kind, config: &Path, rust_log: Option<&str>) -> Self {
        Self::start_with(name, kind, config, rust_log, READY_TIMEOUT)
    }

    /// [`Daemon::start`], waiting up to `ready_timeout` for the listening line.
    pub fn start_with(
        name: &str,
        kind: Kind,
        config: &Path,
        rust_log: Option<&str>,
        ready_timeout: Duration,
    ) -> Self {
        let mut d = Self {
            name: name.to_owned(),
            kind,
            config: config.to_path_buf(),
            rust_log: rust_log.map(str::to_owned),
            log: Arc::new(Mutex::new(String::new())),
            ready_timeout,
            running: None,
        };
        d.spawn();
        d
    }

    fn push_log(&self, line: &str) {
        push(&self.log, line);
    }

    fn spawn(&mut self) {
        assert!(self.running.is_none(), "{} is already running", self.name);
        let mut cmd = self.kind.command();
        cmd.arg("run")
            .arg("--config")
            .arg(&self.config)
            .args(["--log-format", "json"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(filter) = &self.rust_log {
            cmd.env("RUST_LOG", filter);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        self.push_log(&format!("--- started pid {} ---", child.id()));
        let stderr = child.stderr.take().expect("stderr was not piped");
        let stdout = child.stdout.take().expect("stdout was not piped");
        let (ready_tx, ready_rx) = mpsc::channel::<SocketAddr>();
        let (exit_tx, exited) = mpsc::channel::<()>();
        let log = self.log.clone();
        let err_drain = std::thread::spawn(move || {
            let _exit_tx = exit_tx;
            let mut ready = Some(ready_tx);
            for_each_line(stderr, |line| {
                push(&log, line);
                if ready.is_some() {
                    if let Some(addr) = listening_addr(line) {
                        if let Some(tx) = ready.take() {
                            let _ = tx.send(addr);
                        }
                    }
                }
            });
            // Dropping `ready` unsent tells the waiter the process is gone.
        });
        let log = self.log.clone();
        let out_drain = std::thread::spawn(move || {
            for_each_line(stdout, |line| push(&log, &format!("stdout: {line}")));
        });
        let drains = vec![err_drain, out_drain];
        match ready_rx.recv_timeout(self.ready_timeout) {
            Ok(addr) => {
                self.running = Some(Running {
                    child,
                    addr,
                    exited,
                    drains,
                })
            }
            Err(e) => {
                let status = Running {
                    child,
                    addr: SocketAddr::from(([127, 0, 0, 1], 0)),
                    exited,
                    drains,
                }
                .reap();
                let why = match e {
                    mpsc::RecvTimeoutError::Timeout => {
                        format!(
                            "did not log its listening line within {:?}",
                            self.ready_timeout
                        )
                    }
                    mpsc::RecvTimeoutError::Disconnected => "exited before listening".into(),
                };
                panic!("{} {why} ({status}). Its log:\n{}", self.name, self.log());
            }
        }
    }

    /// "510104" or "gateway".
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The config file.
    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// Whether the process runs.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// The address it listens on; panics if it is not running.
    pub fn addr(&self) -> SocketAddr {
        self.running
            .as_ref()
            .unwrap_or_else(|| panic!("{} is not running", self.name))
            .addr
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr())
    }

    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.running.as_ref().map(|r| r.child.id())
    }

    /// Everything it printed so far, across restarts.
    pub fn log(&self) -> String {
        self.log
            .lock()
            .map(|l| l.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// The web layer's URL (`https://127.0.0.1:PORT`), from the latest `dashboard listening`
    /// line (logged just after the listening line, so it may take a moment).
    pub fn dashboard_url(&self) -> String {
        crate::wait::until(
            "the dashboard's listening line",
            Duration::from_secs(10),
            Duration::from_millis(50),
            || {
                self.log_lines_with("dashboard listening")
                    .last()
                    .and_then(|l| {
                        let fields = l.get("fields").unwrap_or(l);
                        fields["addr"].as_str().map(|a| format!("https://{a}"))
                    })
                    .ok_or_else(|| "not logged yet".to_owned())
            },
        )
    }

    /// The JSON log lines whose message contains `text` (parsed).
    pub fn log_lines_with(&self, text: &str) -> Vec<Value> {
        self.log()
            .lines()
            .filter(|l| l.contains(text))
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// SIGKILL: a crash, nothing flushed on the way out.
    pub fn kill9(&mut self) {
        let r = self
            .running
            .take()
            .unwrap_or_else(|| panic!("{} is not running", self.name));
        let status = r.reap();
        self.push_log(&format!("--- killed with SIGKILL: {status} ---"));
    }

    /// SIGTERM, then waits for a clean exit; panics if it does not come.
    pub fn stop(&mut self) -> ExitStatus {
        let mut r = self
            .running
            .take()
            .unwrap_or_else(|| panic!("{} is not running", self.name));
        let pid = Pid::from_raw(i32::try_from(r.child.id()).expect("pid fits an i32"));
        kill(pid, Signal::SIGTERM).expect("cannot send SIGTERM");
        let exited = !matches!(
            r.exited.recv_timeout(STOP_TIMEOUT),
            Err(mpsc::RecvTimeoutError::Timeout)
        );
        let status = if exited { r.child.wait().ok() } else { None };
        let shown = r.reap();
        self.push_log(&format!("--- stopped with SIGTERM: {shown} ---"));
        match status {
            Some(s) if s.success() => s,
            Some(s) => panic!(
                "{} exited with {s} after SIGTERM. Its log:\n{}",
                self.name,
                self.log()
            ),
            None => panic!(
                "{} did not exit within {STOP_TIMEOUT:?} of SIGTERM. Its log:\n{}",
                self.name,
                self.log()
            ),
        }
    }

    /// Starts it again with the same config and data (it must be stopped or killed); it
    /// listens on a new port.
    pub fn restart(&mut self) {
        self.spawn();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            r.reap();
        }
    }
}

fn push(log: &Mutex<String>, line: &str) {
    let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
    log.push_str(line);
    log.push('\n');
}

fn for_each_line(pipe: impl Read, mut f: impl FnMut(&str)) {
    let mut reader = BufReader::new(pipe);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => f(String::from_utf8_lossy(&buf).trim_end_matches(['\n', '\r'])),
        }
    }
}

/// The address of a JSON log line whose message is `<something> listening (mutual TLS)`.
pub fn listening_addr(line: &str) -> Option<SocketAddr> {
    let v: Value = serde_json::from_str(line).ok()?;
    let field = |name: &str| {
        v.get(name)
            .or_else(|| v.get("fields").and_then(|f| f.get(name)))
            .and_then(Value::as_str)
    };
    if !field("message")?.ends_with(LISTENING_SUFFIX) {
        return None;
    }
    field("addr")?.parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_listening_line_of_either_server() {
        let node = r#"{"message":"fenghuo-node listening (mutual TLS)","addr":"127.0.0.1:40123"}"#;
        let gw = r#"{"fields":{"message":"fenghuo-gateway listening (mutual TLS)","addr":"127.0.0.1:40124"}}"#;
        assert_eq!(
            listening_addr(node),
            Some("127.0.0.1:40123".parse().unwrap())
        );
        assert_eq!(listening_addr(gw), Some("127.0.0.1:40124".parse().unwrap()));
        assert_eq!(
            listening_addr(r#"{"message":"link down","addr":"1.2.3.4:5"}"#),
            None
        );
    }
}
