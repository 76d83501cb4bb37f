//! Bad input is refused with a non-zero exit and an `error: …` naming the field, and
//! nothing is written: the register reads the same before and after.

#![allow(clippy::unwrap_used)]

use fenghuo_proto::v1;
use fenghuo_tests::register::ZHANG;
use fenghuo_tests::{Snapshot, TestNode, TestPki};

/// A node with three risks: 510104-1 identified, 510104-2 graded with measure m1 (so
/// measures-set), 510104-3 graded without measures.
fn register_with_three_risks() -> (TestPki, TestNode) {
    let pki = TestPki::new("51");
    pki.issue_staff("510104", "zhang");
    let node = TestNode::start(&pki, "510104");
    let run = |args: &[&str]| {
        node.cli(&pki, ZHANG).arg("risk").args(args).run().ok();
    };
    run(&["add", "--title", "Identified only", "--focus", "key-work"]);
    run(&["add", "--title", "With a measure", "--focus", "major-event"]);
    run(&["add", "--title", "Graded only", "--focus", "reform-measure"]);
    run(&[
        "grade",
        "510104-2",
        "--influence",
        "3",
        "--attention",
        "3",
        "--diffusion",
        "3",
    ]);
    run(&[
        "measure",
        "add",
        "510104-2",
        "--action",
        "Talk to residents",
        "--owner",
        "Street office",
        "--due",
        "2030-05-01",
    ]);
    run(&[
        "grade",
        "510104-3",
        "--influence",
        "2",
        "--attention",
        "2",
        "--diffusion",
        "2",
    ]);
    (pki, node)
}

/// The register as it reads before any refused command.
fn baseline(node: &TestNode, pki: &TestPki) -> Snapshot {
    Snapshot::take(node, pki, ZHANG, &["510104-1", "510104-2", "510104-3"])
}

/// Runs `risk <args>`, asserts it fails naming every one of `names` on stderr, and that
/// neither the list nor the target risk (`args[1]`, or `args[2]` for `measure …`) changed.
#[track_caller]
fn refused(
    node: &TestNode,
    pki: &TestPki,
    before: &Snapshot,
    args: &[&str],
    names: &[&str],
) -> String {
    let stderr = node.cli(pki, ZHANG).arg("risk").args(args).run().err();
    for name in names {
        assert!(
            stderr.contains(name),
            "`fenghuo risk {}` should name {name:?} in its error, got:\n{stderr}",
            args.join(" ")
        );
    }
    let target = if args[0] == "measure" {
        args[2]
    } else {
        args[1]
    };
    let after = format!("the refused `risk {}`", args.join(" "));
    before.assert_unchanged_for(node, pki, ZHANG, &[target], &after);
    stderr
}

#[test]
fn an_empty_title_is_refused() {
    let (pki, node) = register_with_three_risks();
    let before = baseline(&node, &pki);
    refused(
        &node,
        &pki,
        &before,
        &["add", "--title", "", "--focus", "key-work"],
        &["title", "must not be empty"],
    );
    refused(
        &node,
        &pki,
        &before,
        &["update", "510104-1", "--title", ""],
        &["title", "must not be empty"],
    );
}

#[test]
fn scores_outside_one_to_five_are_refused_naming_the_dimension() {
    let (pki, node) = register_with_three_risks();
    let before = baseline(&node, &pki);
    for (flag, position) in [("--influence", 0), ("--attention", 1), ("--diffusion", 2)] {
        for bad in ["0", "6"] {
            let mut scores = ["3", "3", "3"];
            scores[position] = bad;
            let args = [
                "grade",
                "510104-1",
                "--influence",
                scores[0],
                "--attention",
                scores[1],
                "--diffusion",
                scores[2],
            ];
            refused(&node, &pki, &before, &args, &[flag, bad]);
        }
    }
}

#[test]
fn an_unknown_focus_point_is_refused() {
    let (pki, node) = register_with_three_risks();
    let before = baseline(&node, &pki);
    refused(
        &node,
        &pki,
        &before,
        &["add", "--title", "x", "--focus", "gossip"],
        &["focus", "gossip"],
    );
    refused(
        &node,
        &pki,
        &before,
        &["update", "510104-1", "--focus", "gossip"],
        &["focus", "gossip"],
    );
}

#[test]
fn an_unknown_risk_id_is_not_found() {
    let (pki, node) = register_with_three_risks();
    let before = baseline(&node, &pki);
    let commands: [&[&str]; 7] = [
        &["show", "510104-99"],
        &[
            "grade",
            "510104-99",
            "--influence",
            "2",
            "--attention",
            "2",
            "--diffusion",
            "2",
        ],
        &["update", "510104-99", "--title", "x"],
        &[
            "measure",
            "add",
            "510104-99",
            "--action",
            "a",
            "--owner",
            "o",
            "--due",
            "2030-01-01",
        ],
        &["measure", "update", "510104-99", "m1", "--status", "done"],
        &["close", "510104-99", "--resolved", "--summary", "s"],
        &["note", "510104-99", "a note on no risk"],
    ];
    for args in commands {
        let stderr = refused(&node, &pki, &before, args, &["510104-99"]);
        assert!(stderr.contains("not found"), "{stderr}");
    }
}

#[test]
fn a_malformed_due_date_is_refused() {
    let (pki, node) = register_with_three_risks();
    let before = baseline(&node, &pki);
    for due in ["2026-13-01", "tomorrow", "2026-02-30", "01/05/2030"] {
        refused(
            &node,
            &pki,
            &before,
            &[
                "measure", "add", "510104-2", "--action", "a", "--owner", "o", "--due", due,
            ],
            &["due", due],
        );
    }
}

#[test]
fn an_impossible_transition_is_refused_with_the_reason() {
    let (pki, node) = register_with_three_risks();
    let before = baseline(&node, &pki);
    let stderr = refused(
        &node,
        &pki,
        &before,
        &["set-status", "510104-1", "monitoring"],
        &["identified", "monitoring"],
    );
    assert!(stderr.contains("refused"), "{stderr}");
    // identified → graded needs a grade; graded → measures-set needs a measure.
    refused(
        &node,
        &pki,
        &before,
        &["set-status", "510104-1", "graded"],
        &["grade"],
    );
    refused(
        &node,
        &pki,
        &before,
        &["set-status", "510104-3", "measures-set"],
        &["measure"],
    );
    // Never backwards, never skipping.
    refused(
        &node,
        &pki,
        &before,
        &["set-status", "510104-2", "identified"],
        &["measures-set", "identified"],
    );
    refused(
        &node,
        &pki,
        &before,
        &["close", "510104-3", "--resolved", "--summary", "s"],
        &["graded", "resolved"],
    );
    // Resolving has its own command, which asks how.
    refused(
        &node,
        &pki,
        &before,
        &["set-status", "510104-3", "resolved"],
        &["risk close", "--summary"],
    );
    refused(
        &node,
        &pki,
        &before,
        &["set-status", "510104-1", "limbo"],
        &["limbo"],
    );
}

#[test]
fn updating_a_measure_that_does_not_exist_is_refused() {
    let (pki, node) = register_with_three_risks();
    let before = baseline(&node, &pki);
    refused(
        &node,
        &pki,
        &before,
        &["measure", "update", "510104-2", "m9", "--status", "done"],
        &["m9"],
    );
    refused(
        &node,
        &pki,
        &before,
        &["measure", "update", "510104-1", "m1", "--status", "done"],
        &["m1"],
    );
}

/// The node checks the same fields itself: a client that skips the CLI's checks is refused
/// with `InvalidArgument` naming the field.
#[tokio::test]
async fn the_node_itself_refuses_bad_fields_over_grpc() {
    let (pki, node) = register_with_three_risks();
    let before = Snapshot::take(&node, &pki, ZHANG, &["510104-1", "510104-2", "510104-3"]);
    let mut client = node.registry(&pki, ZHANG).await;

    let grade = |influence, attention, diffusion| v1::GradeRiskRequest {
        id: "510104-1".into(),
        influence,
        attention,
        diffusion,
        ..Default::default()
    };
    for (req, field) in [
        (grade(0, 3, 3), "influence"),
        (grade(3, 6, 3), "attention"),
        (grade(3, 3, 99), "diffusion"),
    ] {
        let status = client.grade_risk(req).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
        assert!(status.message().contains(field), "{status:?}");
    }
    let status = client
        .create_risk(v1::CreateRiskRequest {
            title: "No focus".into(),
            focus: v1::FocusPoint::Unspecified as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("focus"), "{status:?}");
    let status = client
        .create_risk(v1::CreateRiskRequest {
            title: "Out-of-range focus".into(),
            focus: 42,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("focus"), "{status:?}");
    let status = client
        .set_status(v1::SetStatusRequest {
            id: "510104-1".into(),
            status: v1::RiskStatus::Unspecified as i32,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    let status = client
        .update_measure(v1::UpdateMeasureRequest {
            id: "510104-2".into(),
            measure_id: "m1".into(),
            status: v1::MeasureStatus::Unspecified as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    drop(client);

    before.assert_unchanged(&node, &pki, ZHANG, "the refused gRPC calls");
}

/// Control characters and bidirectional overrides are refused in text fields, naming the
/// field, the code point and its position; line breaks only where several lines make sense,
/// and a CRLF typed (as HTML forms send it) is kept as LF.
#[tokio::test]
async fn control_and_bidi_characters_are_refused_naming_field_code_point_and_position() {
    let (pki, node) = register_with_three_risks();
    let before = baseline(&node, &pki);
    refused(
        &node,
        &pki,
        &before,
        &["add", "--title", "ab\u{1b}[2J", "--focus", "key-work"],
        &["title", "U+001B", "position 3"],
    );
    refused(
        &node,
        &pki,
        &before,
        &[
            "update",
            "510104-1",
            "--department",
            "Office\u{202e}gpj.exe",
        ],
        &["department", "U+202E", "position 7"],
    );
    refused(
        &node,
        &pki,
        &before,
        &["update", "510104-1", "--title", "two\nlines"],
        &["title", "U+000A", "line break"],
    );
    refused(
        &node,
        &pki,
        &before,
        &["update", "510104-1", "--description", "ok\u{9b}31m"],
        &["description", "U+009B"],
    );

    let mut client = node.registry(&pki, ZHANG).await;
    let status = client
        .create_risk(v1::CreateRiskRequest {
            title: "Rumour \u{2066}isolated\u{2069}".into(),
            focus: v1::FocusPoint::KeyWork as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().contains("title") && status.message().contains("U+2066"),
        "{status:?}"
    );
    drop(client);
    before.assert_unchanged(&node, &pki, ZHANG, "the refused commands");

    // Several lines where they make sense; CRLF kept as LF.
    let risk = node
        .cli(&pki, ZHANG)
        .args([
            "risk",
            "update",
            "510104-1",
            "--description",
            "one\r\ntwo\tcol",
            "--json",
        ])
        .run()
        .ok()
        .json();
    assert_eq!(risk["description"], "one\ntwo\tcol");
}
