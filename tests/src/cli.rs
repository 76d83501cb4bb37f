//! Running the `fenghuo` CLI as a child process and judging what it printed.
//!
//! The connection (`--node`, `--cert`, `--key`, `--ca`, and `--crl`, `--server-identity` when
//! set) is given to the child only, as flags or as `FENGHUO_*` variables on its environment;
//! the test process's environment is never changed, so tests can run in parallel.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::binaries;
use crate::pki::Credentials;

/// A CLI run that takes longer than this is killed and the test fails: a hung client means
/// a hung node.
pub const CLI_TIMEOUT: Duration = Duration::from_secs(60);

/// How the connection reaches the child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    /// `--node URL --cert F --key F --ca F` before the subcommand.
    Flags,
    /// `FENGHUO_NODE`, `FENGHUO_CERT`, `FENGHUO_KEY`, `FENGHUO_CA` (`FENGHUO_CRL`,
    /// `FENGHUO_SERVER`) on the child.
    Env,
}

/// A `fenghuo` invocation being built; [`Cli::run`] runs it.
#[derive(Debug, Clone)]
pub struct Cli {
    /// Where the node is (`https://127.0.0.1:PORT`), for risk commands.
    node: Option<String>,
    /// The certificate, key and CA to connect with.
    credentials: Option<Credentials>,
    /// `--crl`; without it the CLI reads crl.pem beside the CA.
    crl: Option<PathBuf>,
    /// `--server-identity`; without it the CLI expects the certificate's own unit's node.
    server: Option<String>,
    /// Flags or environment.
    via: Via,
    /// The subcommand and its arguments.
    args: Vec<OsString>,
    /// Killed after this long.
    timeout: Duration,
    /// Written to the child's stdin (which is empty otherwise).
    input: Option<String>,
    /// Give the child a stdout whose reader has already gone (see [`Cli::stdout_closed`]).
    stdout_closed: bool,
}

impl Default for Cli {
    fn default() -> Self {
        Self::new()
    }
}

impl Cli {
    /// A CLI run that talks to no node (`ca …`, `init …`).
    pub fn new() -> Self {
        Self {
            node: None,
            credentials: None,
            crl: None,
            server: None,
            via: Via::Flags,
            args: Vec::new(),
            timeout: CLI_TIMEOUT,
            input: None,
            stdout_closed: false,
        }
    }

    /// A CLI run against the node at `url` presenting `credentials`.
    pub fn connected(url: impl Into<String>, credentials: Credentials) -> Self {
        Self {
            node: Some(url.into()),
            credentials: Some(credentials),
            ..Self::new()
        }
    }

    /// Passes the connection as `FENGHUO_*` variables on the child instead of flags.
    pub fn via_env(mut self) -> Self {
        self.via = Via::Env;
        self
    }

    /// Trusts `ca` instead of the CA of the credentials.
    pub fn trusting(mut self, ca: impl Into<std::path::PathBuf>) -> Self {
        if let Some(c) = self.credentials.take() {
            self.credentials = Some(c.trusting(ca));
        }
        self
    }

    /// Checks the node against `crl` instead of the crl.pem beside the CA.
    pub fn crl(mut self, crl: impl Into<PathBuf>) -> Self {
        self.crl = Some(crl.into());
        self
    }

    /// Expects the node to be `identity` (`county/510104`, `province/51`) instead of the
    /// certificate's own unit's node.
    pub fn server_identity(mut self, identity: impl Into<String>) -> Self {
        self.server = Some(identity.into());
        self
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Writes `text` to the run's stdin (e.g. for `--password-stdin`).
    pub fn stdin(mut self, text: impl Into<String>) -> Self {
        self.input = Some(text.into());
        self
    }

    /// Runs with stdout a pipe whose reading end is closed before the child starts, as under
    /// `fenghuo … | head` once `head` has read its fill: every write fails with a broken
    /// pipe, deterministically. [`CliOutput::stdout`] is then empty.
    pub fn stdout_closed(mut self) -> Self {
        self.stdout_closed = true;
        self
    }

    /// Kills the run after `timeout` instead of [`CLI_TIMEOUT`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn command(&self) -> Command {
        let mut cmd = binaries::fenghuo();
        if let (Some(node), Some(c)) = (&self.node, &self.credentials) {
            match self.via {
                Via::Flags => {
                    cmd.arg("--node").arg(node);
                    cmd.arg("--cert").arg(&c.cert);
                    cmd.arg("--key").arg(&c.key);
                    cmd.arg("--ca").arg(&c.ca);
                    if let Some(crl) = &self.crl {
                        cmd.arg("--crl").arg(crl);
                    }
                    if let Some(server) = &self.server {
                        cmd.arg("--server-identity").arg(server);
                    }
                }
                Via::Env => {
                    cmd.env("FENGHUO_NODE", node);
                    cmd.env("FENGHUO_CERT", &c.cert);
                    cmd.env("FENGHUO_KEY", &c.key);
                    cmd.env("FENGHUO_CA", &c.ca);
                    if let Some(crl) = &self.crl {
                        cmd.env("FENGHUO_CRL", crl);
                    }
                    if let Some(server) = &self.server {
                        cmd.env("FENGHUO_SERVER", server);
                    }
                }
            }
        }
        cmd.args(&self.args);
        cmd
    }

    /// Runs the CLI to completion (or kills it after the timeout and panics).
    pub fn run(self) -> CliOutput {
        let mut cmd = self.command();
        if self.stdout_closed {
            let (reader, writer) = std::io::pipe().expect("cannot make a pipe");
            drop(reader);
            cmd.stdout(writer);
        }
        run_inner(cmd, self.input.as_deref(), self.timeout, self.stdout_closed)
    }
}

/// Runs any command to completion like [`Cli::run`]: both pipes are read to the end on their
/// own threads; after `timeout` the child is killed and the test fails.
pub fn run_command(cmd: Command, timeout: Duration) -> CliOutput {
    run_command_with_input(cmd, None, timeout)
}

/// [`run_command`] with `input` written to the child's stdin.
pub fn run_command_with_input(cmd: Command, input: Option<&str>, timeout: Duration) -> CliOutput {
    run_inner(cmd, input, timeout, false)
}

/// [`run_command_with_input`]; with `own_stdout`, the stdout `cmd` already has is kept.
fn run_inner(
    mut cmd: Command,
    input: Option<&str>,
    timeout: Duration,
    own_stdout: bool,
) -> CliOutput {
    let shown = format!("{cmd:?}");
    if !own_stdout {
        cmd.stdout(Stdio::piped());
    }
    let mut child = cmd
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        let text = text.to_owned();
        // A child that exits without reading is not our failure to report here.
        std::thread::spawn(move || {
            let _ = std::io::Write::write_all(&mut stdin, text.as_bytes());
        });
    }
    let (tx, rx) = mpsc::channel::<()>();
    let reader = |pipe: Option<Box<dyn Read + Send>>, tx: mpsc::Sender<()>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                // A read error ends the capture; whatever was read is still shown.
                let _ = pipe.read_to_end(&mut bytes);
            }
            drop(tx);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let out = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        tx.clone(),
    );
    let err = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        tx,
    );
    // Both senders drop when both pipes reach end of file, i.e. when the child has exited.
    if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(timeout) {
        let _ = child.kill();
        let _ = child.wait();
        let stderr = err.join().unwrap_or_default();
        panic!("{shown} did not finish within {timeout:?}; killed it. stderr:\n{stderr}");
    }
    let status = child
        .wait()
        .unwrap_or_else(|e| panic!("waiting for {shown}: {e}"));
    let stdout = out.join().expect("the stdout reader thread panicked");
    let stderr = err.join().expect("the stderr reader thread panicked");
    CliOutput {
        command: shown,
        status,
        stdout,
        stderr,
    }
}

/// What a CLI run did.
#[derive(Debug, Clone)]
pub struct CliOutput {
    /// The command line, for failure messages.
    pub command: String,
    /// How it exited.
    pub status: ExitStatus,
    /// Everything it printed on stdout.
    pub stdout: String,
    /// Everything it printed on stderr.
    pub stderr: String,
}

impl fmt::Display for CliOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\n  exit: {}\n  stdout:\n{}\n  stderr:\n{}",
            self.command, self.status, self.stdout, self.stderr
        )
    }
}

impl CliOutput {
    /// Asserts the run succeeded (showing the command, stdout and stderr if not).
    #[track_caller]
    pub fn ok(self) -> Self {
        assert!(self.status.success(), "expected success:\n{self}");
        self
    }

    /// Parses stdout as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{self}"))
    }

    /// Asserts the run failed the ordinary way (an `error: …` exit, not a crash) and
    /// returns stderr.
    #[track_caller]
    pub fn err(self) -> String {
        assert!(!self.status.success(), "expected failure:\n{self}");
        assert!(
            self.status.code().is_some_and(|c| c != 101) && !self.stderr.contains("panicked at"),
            "the CLI crashed instead of reporting an error:\n{self}"
        );
        assert!(
            self.stderr.to_lowercase().contains("error:"),
            "a failure should print `error: …` on stderr:\n{self}"
        );
        self.stderr
    }

    /// The cursor of the next page, from `more: next page with --cursor X` on stderr.
    pub fn next_cursor(&self) -> Option<String> {
        let (_, rest) = self.stderr.split_once("--cursor ")?;
        rest.split_whitespace().next().map(str::to_owned)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::os::unix::process::ExitStatusExt;

    use super::*;

    fn output(code: i32, stdout: &str, stderr: &str) -> CliOutput {
        CliOutput {
            command: "fenghuo test".into(),
            status: ExitStatus::from_raw(code << 8),
            stdout: stdout.into(),
            stderr: stderr.into(),
        }
    }

    #[test]
    fn reads_the_cursor_of_the_next_page() {
        let more = output(
            0,
            "[]",
            "more: next page with --cursor 510104-3 (or --all for every page)\n",
        );
        assert_eq!(more.next_cursor().as_deref(), Some("510104-3"));
        assert_eq!(output(0, "[]", "").next_cursor(), None);
    }

    #[test]
    fn judges_success_and_failure() {
        assert_eq!(output(0, "{\"id\": 1}", "").ok().json()["id"], 1);
        let stderr = output(1, "", "error: invalid input: title: must not be empty\n").err();
        assert!(stderr.contains("title"));
        assert!(std::panic::catch_unwind(|| output(1, "", "error: x").ok()).is_err());
        assert!(std::panic::catch_unwind(|| output(0, "", "").err()).is_err());
        let crash = output(101, "", "thread 'main' panicked at src/x.rs:1:1");
        assert!(std::panic::catch_unwind(|| crash.err()).is_err());
    }
}
