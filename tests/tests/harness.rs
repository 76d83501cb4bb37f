//! The harness itself: failures are reported with the node's log, and everything a test
//! starts or creates is gone when its handles drop.

#![allow(clippy::unwrap_used)]

use std::panic::{catch_unwind, AssertUnwindSafe};

use fenghuo_tests::{binaries, TestNode, TestPki};
use nix::sys::signal::kill;
use nix::unistd::Pid;

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

#[test]
fn the_binaries_sit_next_to_the_test_executable() {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    for name in [binaries::FENGHUO, binaries::FENGHUO_NODE] {
        let path = binaries::path(name);
        assert!(path.is_file(), "{}", path.display());
        if std::env::var_os("CARGO_TARGET_DIR").is_none() {
            assert_eq!(path.parent().unwrap(), profile_dir);
        }
    }
}

#[test]
fn a_node_that_cannot_start_fails_at_once_with_its_log() {
    let pki = TestPki::new("51");
    pki.issue_county("510104");
    std::fs::write(pki.crl(), "not a CRL\n").unwrap();
    let started = std::time::Instant::now();
    let payload = catch_unwind(AssertUnwindSafe(|| TestNode::start(&pki, "510104"))).unwrap_err();
    let message = panic_text(payload);
    assert!(message.contains("exited"), "{message}");
    assert!(
        message.contains("crl"),
        "the panic should carry the node's own error:\n{message}"
    );
    assert!(
        started.elapsed() < fenghuo_tests::node::READY_TIMEOUT / 2,
        "an early exit is noticed at once, not after the readiness timeout"
    );
}

#[test]
fn stop_restart_and_drop_leave_nothing_behind() {
    let pki = TestPki::new("51");
    pki.issue_staff("510104", "zhang");
    let pki_dir = pki.dir().to_path_buf();
    let mut node = TestNode::start(&pki, "510104");
    let node_dir = node.dir().to_path_buf();
    assert!(node.config_path().starts_with(&node_dir) && node.data_dir().starts_with(&node_dir));
    assert_eq!(node.url(), format!("https://{}", node.addr()));
    assert!(node.addr().ip().is_loopback() && node.addr().port() != 0);

    // Served once, then stopped (a node stopped the moment it is ready is tested below).
    node.cli(&pki, "staff-510104-zhang")
        .args(["risk", "list"])
        .run()
        .ok();
    assert!(node.stop().success());
    assert!(!node.is_running());
    assert!(node.data_dir().is_dir(), "stopping keeps the data");
    let refused = catch_unwind(AssertUnwindSafe(|| node.addr()));
    assert!(refused.is_err(), "a stopped node has no address");

    node.restart();
    node.cli(&pki, "staff-510104-zhang")
        .args(["risk", "list"])
        .run()
        .ok();
    let pid = Pid::from_raw(i32::try_from(node.pid().unwrap()).unwrap());
    assert!(
        node.log().contains("--- stopped with SIGTERM"),
        "{}",
        node.log()
    );

    drop(node);
    assert!(
        kill(pid, None).is_err(),
        "the node process outlived its handle"
    );
    assert!(
        !node_dir.exists(),
        "{} outlived the node",
        node_dir.display()
    );
    drop(pki);
    assert!(!pki_dir.exists(), "{} outlived the CA", pki_dir.display());
}

/// The listening line is the readiness signal, so a node must already handle SIGTERM when it
/// logs it.
#[test]
fn a_node_stopped_the_moment_it_is_ready_exits_cleanly() {
    let pki = TestPki::new("51");
    // The window is short: try several times.
    for _ in 0..10 {
        let mut node = TestNode::start(&pki, "510104");
        node.stop();
    }
}
