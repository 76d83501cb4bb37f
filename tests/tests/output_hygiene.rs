//! What the `fenghuo` CLI prints: data shown with its control and bidirectional characters
//! escaped (a title cannot clear the terminal or reverse what an officer reads), and every
//! command ending quietly when its reader goes away (`fenghuo report list | head`).

#![allow(clippy::unwrap_used)]

use fenghuo_node::domain::FocusPoint;
use fenghuo_node::event::Event;
use fenghuo_node::feed::entry::next_entry;
use fenghuo_node::feed::{log, Audience, FeedId};
use fenghuo_node::store::{Batch, SledStore, Store};
use fenghuo_tests::register::ZHANG;
use fenghuo_tests::{TestNode, TestPki};

/// A node with one ordinary risk, 510104-1.
fn node_with_a_risk() -> (TestPki, TestNode) {
    let pki = TestPki::new("51");
    pki.issue_staff("510104", "zhang");
    let node = TestNode::start(&pki, "510104");
    node.cli(&pki, ZHANG)
        .args(["risk", "add", "--title", "Ordinary", "--focus", "key-work"])
        .run()
        .ok();
    (pki, node)
}

/// Appends risk 510104-2 to the node's local feed directly in its store, as a build before
/// the character rule could have written it, and rebuilds the views from the feeds.
fn store_as_an_older_build_would(node: &mut TestNode, title: &str, description: &str) {
    node.stop();
    {
        let store = SledStore::open(node.data_dir()).unwrap();
        let feed = FeedId::new("county/510104", Audience::Local);
        let head = log::head(&store, &feed).unwrap();
        let event = Event::RiskCreated {
            id: "510104-2".into(),
            title: title.into(),
            description: description.into(),
            focus: FocusPoint::MajorEvent,
            source: String::new(),
            behaviours: vec![],
            department: String::new(),
        };
        let entry = next_entry(
            &feed,
            head.seq,
            &head.hash,
            head.timestamp_ms.unwrap_or(0) + 1,
            "staff/510104/zhang",
            event.encode(),
        );
        let mut batch = Batch::new();
        log::stage_block(&mut batch, &feed, &[entry]);
        store.commit(&batch).unwrap();
        store.flush().unwrap();
    }
    node.offline(&["rebuild-views"]).ok();
    node.restart();
}

#[test]
fn stored_control_and_bidi_characters_are_shown_escaped() {
    let (pki, mut node) = node_with_a_risk();
    let title = "Flood\u{1b}[2J rumour \u{202e}gpj.exe";
    let description = "line one\r\nline two\u{9b}31m";
    store_as_an_older_build_would(&mut node, title, description);
    let cli = || node.cli(&pki, ZHANG);

    for args in [&["risk", "list"][..], &["risk", "show", "510104-2"]] {
        let out = cli().args(args).run().ok();
        assert!(
            out.stdout.contains("Flood\\u001b[2J rumour \\u202egpj.exe"),
            "{out}"
        );
        for raw in ['\u{1b}', '\u{202e}', '\u{9b}', '\r'] {
            assert!(
                !out.stdout.contains(raw),
                "raw U+{:04X} in:\n{out}",
                raw as u32
            );
        }
    }
    let show = cli().args(["risk", "show", "510104-2"]).run().ok();
    assert!(show.stdout.contains("\\u009b31m"), "{show}");

    // JSON stays JSON with the same values, and nothing raw reaches the terminal.
    let out = cli()
        .args(["risk", "show", "510104-2", "--json"])
        .run()
        .ok();
    assert_eq!(out.json()["title"], title);
    assert_eq!(out.json()["description"], description);
    assert!(!out.stdout.contains('\u{202e}') && !out.stdout.contains('\u{9b}'));
}

#[test]
fn every_listing_ends_quietly_when_its_reader_has_gone() {
    let (pki, node) = node_with_a_risk();
    let commands: [&[&str]; 9] = [
        &["risk", "list"],
        &["risk", "list", "--json"],
        &["risk", "show", "510104-1"],
        &["alert", "list"],
        &["report", "list"],
        &["consult", "list", "--json"],
        &["directive", "list"],
        &["feeds"],
        &["peers", "--json"],
    ];
    for args in commands {
        // It works with a reader…
        node.cli(&pki, ZHANG).args(args).run().ok();
        // …and without one ends with the status of a process ended by SIGPIPE, no panic.
        let out = node.cli(&pki, ZHANG).args(args).stdout_closed().run();
        assert_eq!(out.status.code(), Some(141), "{out}");
        assert!(out.stderr.is_empty(), "{out}");
    }
    // Commands that talk to no node too.
    let out = fenghuo_tests::Cli::new()
        .args(["ca", "list", "--dir"])
        .arg(pki.dir())
        .stdout_closed()
        .run();
    assert_eq!(out.status.code(), Some(141), "{out}");
    assert!(!out.stderr.contains("panicked"), "{out}");
}
