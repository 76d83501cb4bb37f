//! What a node acknowledged survives: a crash (SIGKILL, nothing flushed on the way out), and
//! rebuilding the views from the feeds.

#![allow(clippy::unwrap_used)]

use fenghuo_tests::register::{county_with_zhang, ids, list_all, risk_as, show, ZHANG};
use fenghuo_tests::{TestNode, TestPki};
use serde_json::Value;

fn risk(node: &TestNode, pki: &TestPki, args: &[&str]) -> Value {
    risk_as(node, pki, ZHANG, args)
}

fn grade(node: &TestNode, pki: &TestPki, id: &str, score: &str) -> Value {
    risk(
        node,
        pki,
        &[
            "grade",
            id,
            "--influence",
            score,
            "--attention",
            score,
            "--diffusion",
            score,
        ],
    )
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let (pki, mut node) = county_with_zhang();
    let focuses = [
        "key-work",
        "major-event",
        "activity-concentration",
        "emergency-trigger",
        "reform-measure",
        "policy-adjustment",
    ];
    for i in 1..=20 {
        let title = format!("Risk item {i}");
        let focus = focuses[i % focuses.len()];
        let added = risk(
            &node,
            &pki,
            &[
                "add", "--title", &title, "--focus", focus, "--source", "forum",
            ],
        );
        assert_eq!(
            added["id"],
            format!("510104-{i}"),
            "acknowledged with its id"
        );
    }
    for i in (1..=20).step_by(3) {
        let score = ["1", "3", "5"][i % 3];
        grade(&node, &pki, &format!("510104-{i}"), score);
    }
    risk(
        &node,
        &pki,
        &[
            "measure",
            "add",
            "510104-4",
            "--action",
            "Hold a briefing",
            "--owner",
            "Press office",
            "--due",
            "2030-03-01",
        ],
    );
    // The last write before the crash is acknowledged like the others.
    let last = risk(&node, &pki, &["set-status", "510104-4", "monitoring"]);
    assert_eq!(last["status"], "monitoring");

    let before = list_all(&node, &pki, ZHANG);
    assert_eq!(
        ids(&before),
        (1..=20).map(|i| format!("510104-{i}")).collect::<Vec<_>>()
    );

    node.kill9();
    node.restart();

    let after = list_all(&node, &pki, ZHANG);
    assert_eq!(after.as_array().unwrap().len(), 20);
    assert_eq!(
        after, before,
        "the register after kill -9 differs from what was acknowledged"
    );
    // A write answers with the risk and the changes it made; `show` adds the whole history.
    let shown = show(&node, &pki, ZHANG, "510104-4");
    assert_eq!(
        shown["history"].as_array().unwrap().last(),
        last["history"].as_array().unwrap().last()
    );
    let without_history = |v: &serde_json::Value| {
        let mut v = v.clone();
        v["history"] = serde_json::Value::Null;
        v
    };
    assert_eq!(without_history(&shown), without_history(&last));

    // Numbering carries on where it stopped.
    let next = risk(
        &node,
        &pki,
        &["add", "--title", "After the crash", "--focus", "key-work"],
    );
    assert_eq!(next["id"], "510104-21");
}

#[test]
fn rebuilding_the_views_from_the_feeds_changes_nothing() {
    let (pki, mut node) = county_with_zhang();
    for (title, focus) in [
        ("Land acquisition complaints", "reform-measure"),
        ("Lantern festival crowding", "activity-concentration"),
        ("Tap water smell", "emergency-trigger"),
    ] {
        risk(
            &node,
            &pki,
            &[
                "add",
                "--title",
                title,
                "--focus",
                focus,
                "--behaviour",
                "posts",
                "--department",
                "Town office",
            ],
        );
    }
    grade(&node, &pki, "510104-1", "5");
    grade(&node, &pki, "510104-2", "2");
    risk(
        &node,
        &pki,
        &[
            "measure",
            "add",
            "510104-1",
            "--action",
            "Public hearing",
            "--owner",
            "Land bureau",
            "--due",
            "2030-04-15",
        ],
    );
    risk(
        &node,
        &pki,
        &["measure", "update", "510104-1", "m1", "--status", "done"],
    );
    risk(
        &node,
        &pki,
        &[
            "close",
            "510104-1",
            "--resolved",
            "--summary",
            "Hearing held",
        ],
    );
    risk(
        &node,
        &pki,
        &[
            "update",
            "510104-3",
            "--title",
            "Tap water smell (Xinjin district)",
            "--behaviour",
            "petition",
        ],
    );
    let writes = 3 + 2 + 2 + 1 + 1;

    let list = list_all(&node, &pki, ZHANG);
    let shown: Vec<Value> = ["510104-1", "510104-2", "510104-3"]
        .iter()
        .map(|id| show(&node, &pki, ZHANG, id))
        .collect();

    node.stop();
    let stderr = node.offline(&["rebuild-views"]).ok().stderr;
    // The feeds hold every acknowledged write (and may hold entries of the node's own, such
    // as its declared neighbours).
    let replayed: usize = stderr
        .split("rebuilt the views from ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| {
            panic!("rebuild-views should say how many feed entries it replayed:\n{stderr}")
        });
    assert!(
        replayed >= writes,
        "replayed {replayed} feed entries for {writes} writes:\n{stderr}"
    );
    node.restart();

    assert_eq!(
        list_all(&node, &pki, ZHANG),
        list,
        "the list differs after rebuild-views"
    );
    for before in &shown {
        let id = before["id"].as_str().unwrap();
        assert_eq!(
            &show(&node, &pki, ZHANG, id),
            before,
            "{id} differs after rebuild-views"
        );
    }
    let next = risk(
        &node,
        &pki,
        &["add", "--title", "After the rebuild", "--focus", "key-work"],
    );
    assert_eq!(
        next["id"], "510104-4",
        "numbering carries on after a rebuild"
    );
}

#[test]
fn rebuild_views_refuses_while_the_node_runs() {
    let (pki, node) = county_with_zhang();
    risk(
        &node,
        &pki,
        &["add", "--title", "Still here", "--focus", "key-work"],
    );
    let before = list_all(&node, &pki, ZHANG);
    // The running node holds the database: the rebuild must not touch it behind its back.
    let stderr = node.offline(&["rebuild-views"]).err();
    assert!(!stderr.contains("rebuilt the views"), "{stderr}");
    assert_eq!(list_all(&node, &pki, ZHANG), before);
}
