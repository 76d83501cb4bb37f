//! The `fenghuo-gateway` executable answers for itself. Having an integration test here also
//! makes `cargo test --workspace` build the binary, so the end-to-end tests in `tests/`,
//! which run it, never drive one left over from an older build.

use std::process::Command;

#[test]
fn the_gateway_explains_its_subcommands() {
    let out = Command::new(env!("CARGO_BIN_EXE_fenghuo-gateway"))
        .arg("--help")
        .output()
        .map_err(|e| e.to_string());
    let out = match out {
        Ok(out) => out,
        Err(e) => panic!("cannot run fenghuo-gateway: {e}"),
    };
    assert!(out.status.success(), "{out:?}");
    let help = String::from_utf8_lossy(&out.stdout);
    for sub in ["run", "demo", "node", "partner-sim"] {
        assert!(help.contains(sub), "`{sub}` missing from:\n{help}");
    }
}

#[test]
fn the_gateway_refuses_an_unknown_subcommand_with_usage() {
    let out = match Command::new(env!("CARGO_BIN_EXE_fenghuo-gateway"))
        .arg("no-such-thing")
        .output()
    {
        Ok(out) => out,
        Err(e) => panic!("cannot run fenghuo-gateway: {e}"),
    };
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Usage"), "{err}");
}
