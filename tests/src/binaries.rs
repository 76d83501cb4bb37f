//! Finding the `fenghuo`, `fenghuo-node` and `fenghuo-gateway` executables under test.
//!
//! The test executable lives in `<target>/<profile>/deps/`; the binaries it drives live in
//! `<target>/<profile>/`. When they are missing there,
//! `cargo build -p fenghuo-node -p fenghuo-gateway --bins` runs once per test process, with
//! the same profile and target directory.
//!
//! `cargo test --workspace` builds all three (the node's and the gateway's own integration
//! tests need them), but `cargo test -p fenghuo-tests` alone does not rebuild them when only
//! their sources changed: run `cargo build --workspace` first, or set
//! `FENGHUO_TESTS_REBUILD=1` to make the harness build them once before the first test.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The command-line tool: CA, config generation, risk commands.
pub const FENGHUO: &str = "fenghuo";
/// The county node server.
pub const FENGHUO_NODE: &str = "fenghuo-node";
/// The provincial gateway server.
pub const FENGHUO_GATEWAY: &str = "fenghuo-gateway";
/// Every binary the harness drives.
const ALL: [&str; 3] = [FENGHUO, FENGHUO_NODE, FENGHUO_GATEWAY];

/// Where the binaries are, resolved once per test process.
#[derive(Debug)]
struct Located {
    /// `<target>/<profile>`, holding the executables.
    profile_dir: PathBuf,
}

static LOCATED: OnceLock<Located> = OnceLock::new();

/// The profile directory (`<target>/<profile>`) the test executable was built into, or the
/// `CARGO_TARGET_DIR` equivalent when that is set.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("cannot find the path of the running test executable");
    // …/target/debug/deps/register-0123abcd → …/target/debug
    let deps = exe
        .parent()
        .expect("the test executable has no parent directory");
    let from_exe = if deps.file_name().is_some_and(|n| n == "deps") {
        deps.parent()
            .expect("the deps directory has no parent")
            .to_path_buf()
    } else {
        deps.to_path_buf()
    };
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let profile = from_exe
                .file_name()
                .map(OsString::from)
                .unwrap_or_else(|| "debug".into());
            let dir = PathBuf::from(dir);
            let dir = if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            };
            dir.join(profile)
        }
        _ => from_exe,
    }
}

/// The workspace root: the folder above this crate's manifest.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate has no parent folder")
        .to_path_buf()
}

fn exe_name(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}

/// Runs `cargo build -p fenghuo-node -p fenghuo-gateway --bins` for the profile that
/// `profile_dir` belongs to.
fn build(profile_dir: &Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir = profile_dir
        .parent()
        .expect("the profile directory has no parent");
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .expect("the profile directory has no UTF-8 name");
    let mut cmd = Command::new(&cargo);
    cmd.args([
        "build",
        "-p",
        "fenghuo-node",
        "-p",
        "fenghuo-gateway",
        "--bins",
    ])
    .current_dir(workspace_root())
    .env("CARGO_TARGET_DIR", target_dir);
    match profile {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    eprintln!("fenghuo-tests: building the binaries: {cmd:?}");
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run {cargo:?} to build the fenghuo binaries: {e}"));
    assert!(
        status.success(),
        "`{cmd:?}` failed ({status}); see its output above"
    );
}

fn located() -> &'static Located {
    LOCATED.get_or_init(|| {
        let profile_dir = profile_dir();
        let missing = ALL.iter().any(|n| !profile_dir.join(exe_name(n)).is_file());
        let forced =
            std::env::var_os("FENGHUO_TESTS_REBUILD").is_some_and(|v| v != "0" && !v.is_empty());
        if missing || forced {
            build(&profile_dir);
        }
        for n in ALL {
            let p = profile_dir.join(exe_name(n));
            assert!(
                p.is_file(),
                "{} is still missing after building",
                p.display()
            );
        }
        Located { profile_dir }
    })
}

/// The path of binary `name` (`fenghuo`, `fenghuo-node` or `fenghuo-gateway`), building it
/// first if needed.
pub fn path(name: &str) -> PathBuf {
    located().profile_dir.join(exe_name(name))
}

/// A `Command` for the `fenghuo` CLI, with `RUST_LOG` and the `FENGHUO_*` connection
/// variables removed so that only what a test passes reaches the child.
pub fn fenghuo() -> Command {
    clean(Command::new(path(FENGHUO)))
}

/// A `Command` for the `fenghuo-node` server, cleaned like [`fenghuo`].
pub fn fenghuo_node() -> Command {
    clean(Command::new(path(FENGHUO_NODE)))
}

/// A `Command` for the `fenghuo-gateway` server, cleaned like [`fenghuo`].
pub fn fenghuo_gateway() -> Command {
    clean(Command::new(path(FENGHUO_GATEWAY)))
}

fn clean(mut cmd: Command) -> Command {
    for var in [
        "RUST_LOG",
        "FENGHUO_NODE",
        "FENGHUO_CERT",
        "FENGHUO_KEY",
        "FENGHUO_CA",
        "FENGHUO_CRL",
        "FENGHUO_SERVER",
        "FENGHUO_PKI",
    ] {
        cmd.env_remove(var);
    }
    cmd
}
