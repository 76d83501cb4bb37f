//! A county node as a child process: `fenghuo init node` writes its config, then
//! `fenghuo-node run --log-format json` serves on a port the OS picks.
//!
//! Readiness is the node's own signal: its JSON log line `fenghuo-node listening (mutual
//! TLS)` carries the bound address. A thread reads stderr line by line until that line
//! arrives and then keeps draining it into a buffer (so the pipe never fills), which is shown
//! when a test fails.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use fenghuo_proto::v1::registry_client::RegistryClient;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use tempfile::TempDir;
use tonic::transport::Channel;

use crate::binaries;
use crate::cli::{run_command, Cli, CliOutput, CLI_TIMEOUT};
use crate::grpc;
use crate::pki::TestPki;

/// The `message` of the log line that says the node serves.
pub const LISTENING: &str = "fenghuo-node listening (mutual TLS)";
/// How long a node may take to log [`LISTENING`] before the test fails.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a node may take to exit after SIGTERM before the test fails.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// Options for starting a node; [`NodeBuilder::start`] starts it.
#[derive(Debug)]
pub struct NodeBuilder<'a> {
    /// The CA whose `county-<code>` certificate, ca.crt and crl.pem the node uses.
    pki: &'a TestPki,
    /// The county's division code.
    county: String,
    /// `RUST_LOG` for the node; the config's `info` when `None`.
    rust_log: Option<String>,
    /// See [`READY_TIMEOUT`].
    ready_timeout: Duration,
}

impl NodeBuilder<'_> {
    /// Sets `RUST_LOG` on the node process (e.g. "debug" to see every connection).
    pub fn rust_log(mut self, filter: &str) -> Self {
        self.rust_log = Some(filter.to_owned());
        self
    }

    /// Waits this long for the listening line instead of [`READY_TIMEOUT`].
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// Issues `county-<code>` if the CA has not yet, writes the config and starts the node;
    /// returns once it is listening.
    pub fn start(self) -> TestNode {
        let stem = format!("county-{}", self.county);
        if !self.pki.cert(&stem).is_file() {
            self.pki.issue_county(&self.county);
        }
        let dir = tempfile::Builder::new()
            .prefix(&format!("fenghuo-node-{}-", self.county))
            .tempdir()
            .expect("cannot create a temporary folder for the node");
        let config = dir.path().join("node.toml");
        let data = dir.path().join("data");
        Cli::new()
            .args([
                "init",
                "node",
                "--county",
                &self.county,
                "--listen",
                "127.0.0.1:0",
            ])
            .arg("--pki")
            .arg(self.pki.dir())
            .arg("--data")
            .arg(&data)
            .arg("--out")
            .arg(&config)
            .run()
            .ok();
        let mut node = TestNode {
            county: self.county,
            config,
            data,
            rust_log: self.rust_log,
            ready_timeout: self.ready_timeout,
            log: Arc::new(Mutex::new(String::new())),
            running: None,
            log_shown: false,
            dir,
        };
        node.spawn();
        node
    }
}

/// The live process of a node.
#[derive(Debug)]
struct Running {
    /// The `fenghuo-node run` child.
    child: Child,
    /// The address from its listening line.
    addr: SocketAddr,
    /// Ends with the process's stderr; dropping its sender is how we learn the process is gone.
    exited: mpsc::Receiver<()>,
    /// The stderr and stdout drain threads.
    drains: Vec<JoinHandle<()>>,
}

/// A county node running as a child process, with its config and data in a temporary folder.
///
/// Dropping it kills the process (SIGKILL) and removes the folder. If the test is failing,
/// the node's log is printed first.
#[derive(Debug)]
pub struct TestNode {
    /// The county's division code, e.g. "510104".
    county: String,
    /// `node.toml`, written by `fenghuo init node`.
    config: PathBuf,
    /// The node's database folder.
    data: PathBuf,
    /// `RUST_LOG` for the process.
    rust_log: Option<String>,
    /// See [`READY_TIMEOUT`].
    ready_timeout: Duration,
    /// Every line the node printed, across restarts, for diagnostics.
    log: Arc<Mutex<String>>,
    /// The process while it runs; `None` after [`TestNode::stop`] or [`TestNode::kill9`].
    running: Option<Running>,
    /// Set when a panic message already carries the log, so `Drop` does not print it twice.
    log_shown: bool,
    /// Holds the config and data; declared last so it is removed after the process is gone.
    dir: TempDir,
}

impl TestNode {
    /// Starts the node of `county` with its certificate from `pki` (issued if missing).
    pub fn start(pki: &TestPki, county: &str) -> Self {
        Self::builder(pki, county).start()
    }

    /// A builder for a node with non-default options.
    pub fn builder<'a>(pki: &'a TestPki, county: &str) -> NodeBuilder<'a> {
        NodeBuilder {
            pki,
            county: county.to_owned(),
            rust_log: None,
            ready_timeout: READY_TIMEOUT,
        }
    }

    fn push_log(&self, line: &str) {
        push(&self.log, line);
    }

    /// Spawns `fenghuo-node run` and waits for its listening line.
    fn spawn(&mut self) {
        assert!(
            self.running.is_none(),
            "node {} is already running",
            self.county
        );
        let mut cmd = binaries::fenghuo_node();
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

        let (ready_tx, ready_rx) = mpsc::channel::<SocketAddr>();
        let (exit_tx, exited) = mpsc::channel::<()>();
        let stderr = child
            .stderr
            .take()
            .expect("the node's stderr was not piped");
        let stdout = child
            .stdout
            .take()
            .expect("the node's stdout was not piped");
        let log = self.log.clone();
        let stderr_drain = std::thread::spawn(move || {
            let mut ready = Some(ready_tx);
            for_each_line(stderr, |line| {
                push(&log, line);
                if let Some(addr) = ready.as_ref().and_then(|_| listening_addr(line)) {
                    if let Some(tx) = ready.take() {
                        let _ = tx.send(addr);
                    }
                }
            });
            drop(exit_tx);
        });
        let log = self.log.clone();
        let stdout_drain = std::thread::spawn(move || {
            for_each_line(stdout, |line| push(&log, &format!("stdout: {line}")));
        });

        let addr = match ready_rx.recv_timeout(self.ready_timeout) {
            Ok(addr) => addr,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = child
                    .wait()
                    .map(|s| s.to_string())
                    .unwrap_or_else(|e| e.to_string());
                let _ = stderr_drain.join();
                let _ = stdout_drain.join();
                self.log_shown = true;
                panic!(
                    "node {} exited ({status}) before it was listening. Its log:\n{}",
                    self.county,
                    self.log()
                );
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = stderr_drain.join();
                let _ = stdout_drain.join();
                self.log_shown = true;
                panic!(
                    "node {} did not log {LISTENING:?} within {:?}; killed it. Its log:\n{}",
                    self.county,
                    self.ready_timeout,
                    self.log()
                );
            }
        };
        self.running = Some(Running {
            child,
            addr,
            exited,
            drains: vec![stderr_drain, stdout_drain],
        });
    }

    fn running(&self) -> &Running {
        self.running
            .as_ref()
            .unwrap_or_else(|| panic!("node {} is not running (call restart())", self.county))
    }

    /// The county's division code.
    pub fn county(&self) -> &str {
        &self.county
    }

    /// The address the node listens on (from its listening line); panics if it is stopped.
    pub fn addr(&self) -> SocketAddr {
        self.running().addr
    }

    /// `https://127.0.0.1:PORT`, what `--node` takes.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr())
    }

    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.running.as_ref().map(|r| r.child.id())
    }

    /// True while the process runs (as far as the harness knows).
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// The node's database folder.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// The `node.toml` the node runs with.
    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// The folder holding the config and data.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Every line the node has printed so far (stderr, and stdout prefixed `stdout:`).
    pub fn log(&self) -> String {
        self.log
            .lock()
            .map(|l| l.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Kills the node with SIGKILL and waits for it: a crash, nothing flushed on the way out.
    pub fn kill9(&mut self) {
        let Some(mut r) = self.running.take() else {
            panic!("node {} is not running", self.county);
        };
        r.child.kill().expect("cannot SIGKILL the node");
        let status = r.child.wait().expect("cannot wait for the killed node");
        r.join_drains();
        self.push_log(&format!("--- killed with SIGKILL: {status} ---"));
    }

    /// Stops the node with SIGTERM and waits for it to exit; panics unless it exits
    /// successfully within [`STOP_TIMEOUT`].
    pub fn stop(&mut self) -> ExitStatus {
        let Some(mut r) = self.running.take() else {
            panic!("node {} is not running", self.county);
        };
        let pid = Pid::from_raw(i32::try_from(r.child.id()).expect("the pid does not fit an i32"));
        kill(pid, Signal::SIGTERM).expect("cannot send SIGTERM to the node");
        if let Err(mpsc::RecvTimeoutError::Timeout) = r.exited.recv_timeout(STOP_TIMEOUT) {
            let _ = r.child.kill();
            let _ = r.child.wait();
            r.join_drains();
            self.log_shown = true;
            panic!(
                "node {} did not exit within {STOP_TIMEOUT:?} of SIGTERM; killed it. Its log:\n{}",
                self.county,
                self.log()
            );
        }
        let status = r.child.wait().expect("cannot wait for the stopped node");
        r.join_drains();
        self.push_log(&format!("--- stopped with SIGTERM: {status} ---"));
        self.log_shown = !status.success();
        assert!(
            status.success(),
            "node {} exited with {status} after SIGTERM. Its log:\n{}",
            self.county,
            self.log()
        );
        status
    }

    /// Starts the node again with the same config and data (stopping it first with SIGTERM
    /// if it runs); it listens on a new port.
    pub fn restart(&mut self) {
        if self.running.is_some() {
            self.stop();
        }
        self.spawn();
    }

    /// Runs `fenghuo-node <args> --config <node.toml>` to completion: the offline commands
    /// such as `rebuild-views`, meant for a stopped node.
    pub fn offline(&self, args: &[&str]) -> CliOutput {
        let mut cmd = binaries::fenghuo_node();
        cmd.args(args).arg("--config").arg(&self.config);
        run_command(cmd, CLI_TIMEOUT)
    }

    /// The CLI connected to this node as `stem` (e.g. "staff-510104-zhang") of `pki`.
    pub fn cli(&self, pki: &TestPki, stem: &str) -> Cli {
        Cli::connected(self.url(), pki.credentials(stem))
    }

    /// A gRPC channel to this node over mutual TLS as `stem` of `pki`.
    pub async fn channel(&self, pki: &TestPki, stem: &str) -> anyhow::Result<Channel> {
        grpc::mtls_channel(&self.url(), &pki.credentials(stem)).await
    }

    /// A `Registry` client to this node as `stem` of `pki`; panics if it cannot connect.
    pub async fn registry(&self, pki: &TestPki, stem: &str) -> RegistryClient<Channel> {
        let channel = self
            .channel(pki, stem)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to node {} as {stem}: {e:#}", self.county));
        RegistryClient::new(channel)
    }
}

impl Running {
    fn join_drains(&mut self) {
        for d in self.drains.drain(..) {
            let _ = d.join();
        }
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if let Some(mut r) = self.running.take() {
            let _ = r.child.kill();
            let _ = r.child.wait();
            r.join_drains();
        }
        if std::thread::panicking() && !self.log_shown {
            eprintln!(
                "---- log of node {} ({}) ----\n{}---- end of log ----",
                self.county,
                self.dir.path().display(),
                self.log()
            );
        }
    }
}

fn push(log: &Mutex<String>, line: &str) {
    let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
    log.push_str(line);
    log.push('\n');
}

/// Calls `f` with every line of `pipe` (lossily decoded) until end of file or a read error.
fn for_each_line(pipe: impl Read, mut f: impl FnMut(&str)) {
    let mut reader = BufReader::new(pipe);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf);
                f(line.trim_end_matches(['\n', '\r']));
            }
        }
    }
}

/// The address of a JSON log line whose message is [`LISTENING`] (at the top level, as
/// `flatten_event` writes it, or under `fields`).
pub fn listening_addr(line: &str) -> Option<SocketAddr> {
    let v: Value = serde_json::from_str(line).ok()?;
    let field = |name: &str| {
        v.get(name)
            .or_else(|| v.get("fields").and_then(|f| f.get(name)))
            .and_then(Value::as_str)
    };
    if field("message")? != LISTENING {
        return None;
    }
    field("addr")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_listening_line_flat_or_nested() {
        let flat = r#"{"level":"INFO","message":"fenghuo-node listening (mutual TLS)","addr":"127.0.0.1:40123"}"#;
        let nested = r#"{"fields":{"message":"fenghuo-node listening (mutual TLS)","addr":"127.0.0.1:40124"}}"#;
        assert_eq!(
            listening_addr(flat),
            Some("127.0.0.1:40123".parse().unwrap())
        );
        assert_eq!(
            listening_addr(nested),
            Some("127.0.0.1:40124".parse().unwrap())
        );
        assert_eq!(listening_addr(r#"{"message":"stopped"}"#), None);
        assert_eq!(
            listening_addr("fenghuo-node listening (mutual TLS) addr=1.2.3.4:5"),
            None
        );
    }
}
