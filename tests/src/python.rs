//! Python clients nobody here wrote (grpcio, standardwebhooks), for the tests that prove
//! other stacks can talk to Fenghuo.
//!
//! [`python`] returns the interpreter of a venv made by `tests/python/setup.sh` from the
//! pinned `tests/python/requirements.txt` (PyPI), at `target/pyenv` or `$FENGHUO_PYENV`.
//! The first test to need it makes it; the others wait on the script's lock.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

use crate::binaries::workspace_root;

static PYTHON: OnceLock<PathBuf> = OnceLock::new();

/// The venv's `python`, made on first use.
pub fn python() -> PathBuf {
    PYTHON
        .get_or_init(|| {
            let script = workspace_root().join("tests/python/setup.sh");
            let out = Command::new(&script)
                .output()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
            assert!(
                out.status.success(),
                "{} failed (it needs python3 with venv and PyPI):\n{}",
                script.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        })
        .clone()
}

/// Runs a script from `tests/python/` with the venv's python and `args`, returning its output.
pub fn run_script(script: &str, args: &[&str]) -> Output {
    let path = workspace_root().join("tests/python").join(script);
    Command::new(python())
        .arg(&path)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()))
}

/// Starts a script from `tests/python/` with the venv's python and `args`, its standard output
/// piped (a server prints its port there); the caller kills it.
pub fn spawn_script(script: &str, args: &[&str]) -> std::process::Child {
    let path = workspace_root().join("tests/python").join(script);
    Command::new(python())
        .arg(&path)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()))
}
