//! Sync session limits: one session per peer identity (a newer session from the same
//! certificate ends the older one, so a flood holds one), frames of at most 8 MiB (a larger
//! one ends the session, and sync goes on), and a small run budget that still syncs. The
//! ignored `rss_with_200_sessions_from_one_certificate` prints the figure in
//! docs/benchmarks.md.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use fenghuo_node::feed::{Audience, FeedId};
use fenghuo_tests::province::{Province, TestProvince, GATEWAY, POLL_INTERVAL, SYNC_TIMEOUT};
use fenghuo_tests::rogue::{forge_run, signing_key, RoguePeer};
use fenghuo_tests::wait;

const A: &str = "510104";
/// A county with a certificate but no running node: the rogue sessions' identity.
const ROGUE: &str = "510107";

/// A session to the gateway as county [`ROGUE`], open once the gateway's `Hello` arrived.
async fn open_session(p: &Province) -> RoguePeer {
    let r = start_session(p).await;
    r.wait_for("the gateway's hello", SYNC_TIMEOUT, |r| {
        (!r.frames().is_empty()).then_some(())
    })
    .await
    .unwrap();
    r
}

/// A session to the gateway as county [`ROGUE`] that has said `Hello` (unless a newer one
/// replaced it first).
async fn start_session(p: &Province) -> RoguePeer {
    let r = RoguePeer::connect(
        &p.gateway().url(),
        &p.pki().credentials(&format!("county-{ROGUE}")),
    )
    .await
    .unwrap();
    let _ = r.hello(Vec::new()).await;
    r
}

/// The gateway's inbound links from [`ROGUE`] that are connected.
fn connected_rogue_sessions(p: &Province) -> usize {
    p.peers(GATEWAY)["peers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| {
            l["peer"] == format!("county/{ROGUE}").as_str()
                && l["direction"] == "inbound"
                && l["state"] == "connected"
        })
        .count()
}

#[test]
fn a_new_session_from_the_same_certificate_ends_the_older_and_a_flood_holds_one() {
    let p = TestProvince::new("51").county(A).start();
    p.pki().issue_county(ROGUE);
    let rt = tokio::runtime::Runtime::new().unwrap();

    let first = rt.block_on(open_session(&p));
    let second = rt.block_on(open_session(&p));
    let why = rt
        .block_on(first.wait_for("the first session's end", SYNC_TIMEOUT, |r| r.closed()))
        .unwrap();
    assert!(
        why.contains("replaced this one"),
        "the older session ended with: {why}"
    );
    assert!(second.closed().is_none(), "{:?}", second.closed());

    // A flood from the same certificate: each session ends the one before it.
    let flood: Vec<RoguePeer> = (0..30).map(|_| rt.block_on(open_session(&p))).collect();
    let why = rt
        .block_on(second.wait_for("the second session's end", SYNC_TIMEOUT, |r| r.closed()))
        .unwrap();
    assert!(why.contains("replaced this one"), "{why}");
    for (i, s) in flood.iter().take(29).enumerate() {
        let why = rt
            .block_on(s.wait_for("a flooded session's end", SYNC_TIMEOUT, |r| r.closed()))
            .unwrap();
        assert!(why.contains("replaced this one"), "session {i}: {why}");
    }
    assert!(flood[29].closed().is_none(), "{:?}", flood[29].closed());
    wait::until(
        "one connected session from the rogue certificate",
        SYNC_TIMEOUT,
        POLL_INTERVAL,
        || match connected_rogue_sessions(&p) {
            1 => Ok(()),
            n => Err(format!("{n} connected")),
        },
    );
    // The real county's own link was never touched.
    p.wait_links_up();
}

#[test]
fn a_frame_over_8_mib_ends_the_session_and_sync_goes_on_within_a_small_run_budget() {
    // A budget of 1 MiB for runs in flight on every node: runs still go, one at a time.
    let p = TestProvince::new("51")
        .county(A)
        .config("\n[sync]\nruns_in_flight_mib = 1\n")
        .start();
    p.pki().issue_county(ROGUE);
    let rt = tokio::runtime::Runtime::new().unwrap();

    let rogue = rt.block_on(open_session(&p));
    let feed = FeedId::new(format!("county/{ROGUE}"), Audience::Province);
    let key = signing_key(p.pki(), &format!("county-{ROGUE}"));
    let run = forge_run(
        &feed,
        0,
        &fenghuo_node::feed::entry::GENESIS_HASH,
        &format!("staff/{ROGUE}/x"),
        vec![vec![b'x'; 9 << 20]],
        &key,
    );
    rt.block_on(rogue.send_run(run, Vec::new())).unwrap();
    let why = rt
        .block_on(rogue.wait_for("the end of the session", SYNC_TIMEOUT, |r| r.closed()))
        .unwrap();
    assert!(
        why.contains("sync frame refused") && why.contains("at most 8 MiB"),
        "the session ended with: {why}"
    );

    // Normal sync goes on: a risk written at the county reaches the gateway, and a new
    // session with the same certificate is served.
    let risk = p.risk(
        A,
        &[
            "add",
            "--title",
            "Flood rumour",
            "--focus",
            "emergency-trigger",
        ],
    );
    let id = risk["id"].as_str().unwrap().to_owned();
    p.risk(A, &["share", &id, "--scope", "province"]);
    wait::until(
        "the risk at the gateway",
        SYNC_TIMEOUT,
        POLL_INTERVAL,
        || {
            if p.risk_ids(GATEWAY).contains(&id) {
                Ok(())
            } else {
                Err(format!("{id} not at the gateway yet"))
            }
        },
    );
    let again = rt.block_on(open_session(&p));
    assert!(again.closed().is_none());
}

/// The gateway's resident set size, from /proc.
fn vm_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Prints the gateway's RSS with 200 sync sessions opened at once from one certificate (each
/// on its own connection, each past `Hello`). Run with
/// `cargo test -p fenghuo-tests --test sync_limits -- --ignored --nocapture rss_with`.
#[test]
#[ignore = "a measurement for docs/benchmarks.md, not a check"]
fn rss_with_200_sessions_from_one_certificate() {
    let p = TestProvince::new("51").start();
    p.pki().issue_county(ROGUE);
    let pid = p.gateway().pid().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // Warm: one session opened and closed, so one-off allocations are not counted.
    drop(rt.block_on(open_session(&p)));
    let before = vm_rss_kib(pid);
    // All at once: a session may be replaced before the gateway's `Hello` reaches it.
    let sessions: Vec<RoguePeer> = rt.block_on(async {
        let opened = (0..200).map(|_| async {
            let r = start_session(&p).await;
            let answered = |r: &RoguePeer| !r.frames().is_empty() || r.closed().is_some();
            r.wait_for("an answer", SYNC_TIMEOUT, |r| answered(r).then_some(()))
                .await
                .unwrap();
            r
        });
        futures_util::future::join_all(opened).await
    });
    // Let replaced sessions finish ending before measuring.
    std::thread::sleep(Duration::from_secs(2));
    let after = vm_rss_kib(pid);
    let open = sessions.iter().filter(|s| s.closed().is_none()).count();
    println!(
        "gateway RSS: {before} KiB idle, {after} KiB with 200 sessions from one certificate \
         (+{} KiB); sessions still open: {open}",
        after.saturating_sub(before)
    );
}
