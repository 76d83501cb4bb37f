//! A county node as a child process: `fenghuo init node` writes its config, then
//! `fenghuo-node run --log-format json` serves on a port the OS picks.
//!
//! The process itself is a [`Daemon`]: readiness is the node's JSON log line
//! `fenghuo-node listening (mutual TLS)` with the bound address, and its output is drained
//! into a buffer that is shown when a test fails.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use fenghuo_proto::v1::registry_client::RegistryClient;
use tempfile::TempDir;
use tonic::transport::Channel;

use crate::binaries;
use crate::cli::{run_command, Cli, CliOutput, CLI_TIMEOUT};
use crate::daemon::{Daemon, Kind};
use crate::grpc;
use crate::pki::{unit_of, TestPki};

pub use crate::daemon::{listening_addr, READY_TIMEOUT, STOP_TIMEOUT};

/// The `message` of the log line that says the node serves.
pub const LISTENING: &str = "fenghuo-node listening (mutual TLS)";

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
    /// Serve the web pages (a `[dashboard]` section with the province's web certificate).
    dashboard: bool,
    /// Staff accounts (name, role, password) written into the store before the node starts.
    staff: Vec<(String, String, String)>,
    /// Staff accounts (name, role, password) made with `fenghuo staff add` once it serves.
    staff_by_cli: Vec<(String, String, String)>,
    /// Sections appended to the config `init node` writes.
    extra_config: String,
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

    /// Serves the web pages on a loopback port chosen at start ([`TestNode::dashboard_url`]),
    /// with the web certificate `province-<code>-web` (issued if missing).
    pub fn dashboard(mut self) -> Self {
        self.dashboard = true;
        self
    }

    /// Writes a staff account of any role into the node's store before it starts, as a tool
    /// filling a store would (no check of the role against the kind of node). Prefer
    /// [`NodeBuilder::staff`], which goes through `fenghuo staff add` as a county does.
    pub fn staff_account(mut self, name: &str, role: &str, password: &str) -> Self {
        self.staff
            .push((name.to_owned(), role.to_owned(), password.to_owned()));
        self
    }

    /// Makes a web account (`viewer`, `officer` or `leader`, or the Chinese label) once the
    /// node serves, with `fenghuo staff add NAME --role ROLE --password-stdin` and the
    /// county's own node certificate; panics if the CLI refuses.
    pub fn staff(mut self, name: &str, role: &str, password: &str) -> Self {
        self.staff_by_cli
            .push((name.to_owned(), role.to_owned(), password.to_owned()));
        self
    }

    /// Appends `toml` (whole sections, e.g. `[sign_off]\nclosures = true\n`) to the config
    /// `fenghuo init node` writes.
    pub fn config(mut self, toml: &str) -> Self {
        self.extra_config.push_str(toml);
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
        let mut init = Cli::new()
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
            .arg(&config);
        if self.dashboard {
            // The `[dashboard]` section as `init node --web` writes it.
            init = init.args(["--web", "127.0.0.1:0"]);
            self.pki.ensure_county_web(&self.county);
        }
        init.run().ok();
        if !self.extra_config.is_empty() {
            let mut text = std::fs::read_to_string(&config)
                .unwrap_or_else(|e| panic!("reading {}: {e}", config.display()));
            text.push('\n');
            text.push_str(&self.extra_config);
            std::fs::write(&config, text)
                .unwrap_or_else(|e| panic!("writing {}: {e}", config.display()));
        }
        if !self.staff.is_empty() {
            // The store is closed again (dropped) before the node opens it.
            let store = fenghuo_node::store::SledStore::open(&data)
                .unwrap_or_else(|e| panic!("opening {}: {e}", data.display()));
            for (name, role, password) in &self.staff {
                let role: fenghuo_node::accounts::Role = role
                    .parse()
                    .unwrap_or_else(|e| panic!("staff role {role:?}: {e}"));
                fenghuo_node::accounts::add(&store, name, role, password, false, "test harness")
                    .unwrap_or_else(|e| panic!("adding staff account {name}: {e}"));
            }
        }
        let daemon = Daemon::start_with(
            &self.county,
            Kind::Node,
            &config,
            self.rust_log.as_deref(),
            self.ready_timeout,
        );
        let node = TestNode {
            county: self.county,
            data,
            daemon,
            dir,
        };
        for (name, role, password) in &self.staff_by_cli {
            let stem = format!("county-{}", node.county);
            node.add_staff(self.pki, &stem, name, role, password).ok();
        }
        node
    }
}

/// A county node running as a child process, with its config and data in a temporary folder.
///
/// Dropping it kills the process (SIGKILL) and removes the folder. If the test is failing,
/// the node's log is printed first.
#[derive(Debug)]
pub struct TestNode {
    /// The county's division code, e.g. "510104".
    county: String,
    /// The node's database folder.
    data: PathBuf,
    /// The `fenghuo-node run` process.
    daemon: Daemon,
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
            dashboard: false,
            staff: Vec::new(),
            staff_by_cli: Vec::new(),
            extra_config: String::new(),
        }
    }

    /// The county's division code.
    pub fn county(&self) -> &str {
        &self.county
    }

    /// The address the node listens on (from its listening line); panics if it is stopped.
    pub fn addr(&self) -> SocketAddr {
        self.daemon.addr()
    }

    /// `https://127.0.0.1:PORT`, what `--node` takes.
    pub fn url(&self) -> String {
        self.daemon.url()
    }

    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.daemon.pid()
    }

    /// True while the process runs (as far as the harness knows).
    pub fn is_running(&self) -> bool {
        self.daemon.is_running()
    }

    /// The node's database folder.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// The `node.toml` the node runs with.
    pub fn config_path(&self) -> &Path {
        self.daemon.config_path()
    }

    /// The folder holding the config and data.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The web pages' URL (`https://127.0.0.1:PORT`), from the node's latest `dashboard
    /// listening` line (started with [`NodeBuilder::dashboard`]).
    pub fn dashboard_url(&self) -> String {
        self.daemon.dashboard_url()
    }

    /// Every line the node has printed so far (stderr, and stdout prefixed `stdout:`).
    pub fn log(&self) -> String {
        self.daemon.log()
    }

    /// Kills the node with SIGKILL and waits for it: a crash, nothing flushed on the way out.
    pub fn kill9(&mut self) {
        self.daemon.kill9();
    }

    /// Stops the node with SIGTERM and waits for it to exit; panics unless it exits
    /// successfully within [`STOP_TIMEOUT`].
    pub fn stop(&mut self) -> ExitStatus {
        self.daemon.stop()
    }

    /// Starts the node again with the same config and data (stopping it first with SIGTERM
    /// if it runs); it listens on a new port.
    pub fn restart(&mut self) {
        if self.daemon.is_running() {
            self.daemon.stop();
        }
        self.daemon.restart();
    }

    /// Runs `fenghuo-node <args> --config <node.toml>` to completion: the offline commands
    /// such as `rebuild-views`, meant for a stopped node.
    pub fn offline(&self, args: &[&str]) -> CliOutput {
        let mut cmd = binaries::fenghuo_node();
        cmd.args(args).arg("--config").arg(self.config_path());
        run_command(cmd, CLI_TIMEOUT)
    }

    /// The CLI connected to this node as `stem` (e.g. "staff-510104-zhang") of `pki`. Like a
    /// user, it names the node with `--server-identity` only when `stem` belongs to another
    /// unit (the CLI expects the caller's own unit's node by default).
    pub fn cli(&self, pki: &TestPki, stem: &str) -> Cli {
        let cli = Cli::connected(self.url(), pki.credentials(stem));
        if unit_of(stem) == Some(self.county.as_str()) {
            cli
        } else {
            cli.server_identity(format!("county/{}", self.county))
        }
    }

    /// `fenghuo staff add NAME --role ROLE --password-stdin` (then `extra` arguments, e.g.
    /// `--display-name 林晓`) against this node as `stem` of `pki`; the output, to judge.
    pub fn add_staff_with(
        &self,
        pki: &TestPki,
        stem: &str,
        name: &str,
        role: &str,
        password: &str,
        extra: &[&str],
    ) -> CliOutput {
        self.cli(pki, stem)
            .args(["staff", "add", name, "--role", role, "--password-stdin"])
            .args(extra)
            .stdin(format!("{password}\n"))
            .run()
    }

    /// [`TestNode::add_staff_with`] without extra arguments.
    pub fn add_staff(
        &self,
        pki: &TestPki,
        stem: &str,
        name: &str,
        role: &str,
        password: &str,
    ) -> CliOutput {
        self.add_staff_with(pki, stem, name, role, password, &[])
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

impl Drop for TestNode {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- log of node {} ({}) ----\n{}---- end of log ----",
                self.county,
                self.dir.path().display(),
                self.log()
            );
        }
    }
}
