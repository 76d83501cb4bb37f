//! The risk register through the CLI with `--json`: a risk's whole life, list filters and
//! paging. One node and CA per test.

#![allow(clippy::unwrap_used)]

use fenghuo_tests::register::{county_with_zhang, ids, list_all, risk_as, show, ZHANG};
use fenghuo_tests::{TestNode, TestPki};
use serde_json::Value;

fn add(node: &TestNode, pki: &TestPki, title: &str, focus: &str, extra: &[&str]) -> Value {
    node.cli(pki, ZHANG)
        .args(["risk", "add", "--title", title, "--focus", focus, "--json"])
        .args(extra)
        .run()
        .ok()
        .json()
}

fn risk(node: &TestNode, pki: &TestPki, args: &[&str]) -> Value {
    risk_as(node, pki, ZHANG, args)
}

fn last_history(r: &Value) -> &Value {
    r["history"].as_array().unwrap().last().unwrap()
}

/// A write's answer is what `show` gives, but with only the write's own changes as history
/// (the last ones of the whole history).
fn assert_answer_agrees(shown: &Value, answer: &Value) {
    let all = shown["history"].as_array().unwrap();
    let own = answer["history"].as_array().unwrap();
    assert!(
        !own.is_empty() && all.ends_with(own),
        "the answer's history {own:#?} is not the end of {all:#?}"
    );
    let mut same = answer.clone();
    same["history"] = shown["history"].clone();
    assert_eq!(shown, &same, "show and the last write's answer differ");
}

/// The last history entry with `action`.
fn last_entry<'a>(r: &'a Value, action: &str) -> &'a Value {
    r["history"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|h| h["action"] == action)
        .unwrap_or_else(|| panic!("no {action:?} entry in the history of {r:#}"))
}

/// An RFC 3339 UTC time as (date, seconds into the day), comparable in time order. The CLI
/// writes as few fractional digits as needed ("…:11.1Z" is after "…:11.05Z"), so the
/// strings themselves do not sort.
fn instant(v: &Value) -> (String, f64) {
    let text = v.as_str().unwrap_or_else(|| panic!("not a time: {v}"));
    let (date, time) = text.trim_end_matches('Z').split_once('T').unwrap();
    let mut parts = time.split(':').map(|p| p.parse::<f64>().unwrap());
    let (h, m, s) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    (date.to_owned(), h * 3600.0 + m * 60.0 + s)
}

/// True when `expected` occurs in `actual` in order (the node may add entries of its own
/// between them, e.g. a level-I risk is reported upward as it is graded).
fn in_order(actual: &[&str], expected: &[&str]) -> bool {
    let mut rest = actual.iter();
    expected.iter().all(|e| rest.any(|a| a == e))
}

#[test]
fn a_risk_goes_from_identified_to_resolved_and_its_history_says_who_did_what() {
    let (pki, node) = county_with_zhang();

    // Identify.
    let r1 = add(
        &node,
        &pki,
        "Rumour of a chemical plant leak",
        "emergency-trigger",
        &[
            "--description",
            "Posts claim the river is polluted",
            "--source",
            "weibo.com/u/123",
            "--behaviour",
            "gathering at the plant gate",
            "--behaviour",
            "petition",
            "--department",
            "Ecology bureau",
        ],
    );
    assert_eq!(r1["id"], "510104-1");
    assert_eq!(r1["origin"], "510104");
    assert_eq!(r1["title"], "Rumour of a chemical plant leak");
    assert_eq!(r1["description"], "Posts claim the river is polluted");
    assert_eq!(r1["focus"], "emergency-trigger");
    assert_eq!(r1["source"], "weibo.com/u/123");
    assert_eq!(
        r1["behaviours"],
        serde_json::json!(["gathering at the plant gate", "petition"])
    );
    assert_eq!(r1["department"], "Ecology bureau");
    assert_eq!(r1["status"], "identified");
    assert_eq!(r1["level"], Value::Null);
    assert_eq!(r1["grade"], Value::Null);
    assert_eq!(r1["measures"], serde_json::json!([]));
    let history = r1["history"].as_array().unwrap();
    assert_eq!(history.len(), 1, "{r1:#}");
    assert_eq!(history[0]["action"], "created");
    assert_eq!(history[0]["author"], "staff/510104/zhang");
    assert_eq!(r1["created_at"], r1["updated_at"]);

    let r2 = add(
        &node,
        &pki,
        "Complaints about school fees",
        "policy-adjustment",
        &[],
    );
    assert_eq!(r2["id"], "510104-2");

    // Grade: 5/5/5 is level I and moves the risk to "graded"; 1/1/1 is level IV.
    let graded = risk(
        &node,
        &pki,
        &[
            "grade",
            "510104-1",
            "--influence",
            "5",
            "--attention",
            "5",
            "--diffusion",
            "5",
        ],
    );
    assert_eq!(graded["level"], "I", "{graded:#}");
    assert_eq!(graded["status"], "graded");
    assert_eq!(graded["grade"]["influence"], 5);
    assert_eq!(graded["grade"]["attention"], 5);
    assert_eq!(graded["grade"]["diffusion"], 5);
    assert_eq!(graded["grade"]["level"], "I");
    assert_eq!(graded["grade"]["graded_by"], "staff/510104/zhang");
    let entry = last_entry(&graded, "graded");
    assert_eq!(entry["author"], "staff/510104/zhang");
    assert!(
        entry["summary"].as_str().unwrap().contains("level I"),
        "{entry}"
    );

    let low = risk(
        &node,
        &pki,
        &[
            "grade",
            "510104-2",
            "--influence",
            "1",
            "--attention",
            "1",
            "--diffusion",
            "1",
        ],
    );
    assert_eq!(low["level"], "IV", "{low:#}");
    assert_eq!(low["status"], "graded");

    // In words, grading says where the risk's status went and what the next step is (a
    // measure, not `set-status`, which is refused until one exists).
    // Officers type the Chinese words: a focus point by its label.
    let r3 = add(&node, &pki, "Rumours about a bus route", "活动集中点", &[]);
    assert_eq!(r3["focus"], "activity-concentration", "{r3:#}");
    let text = node
        .cli(&pki, ZHANG)
        .args([
            "risk",
            "grade",
            "510104-3",
            "--influence",
            "2",
            "--attention",
            "2",
            "--diffusion",
            "2",
        ])
        .run()
        .ok()
        .stdout;
    assert!(text.contains("status: graded 风险定级"), "{text}");
    assert!(
        text.contains("next: add a preventive measure (`fenghuo risk measure add 510104-3`)"),
        "{text}"
    );

    // A measure moves it to "measures-set"; the measure is then worked through.
    let measured = risk(
        &node,
        &pki,
        &[
            "measure",
            "add",
            "510104-1",
            "--action",
            "Publish the water test results",
            "--owner",
            "Ecology bureau",
            "--due",
            "2030-06-30",
        ],
    );
    assert_eq!(measured["status"], "measures-set", "{measured:#}");
    let measures = measured["measures"].as_array().unwrap();
    assert_eq!(measures.len(), 1);
    assert_eq!(measures[0]["id"], "m1");
    assert_eq!(measures[0]["action"], "Publish the water test results");
    assert_eq!(measures[0]["owner"], "Ecology bureau");
    assert_eq!(measures[0]["due"], "2030-06-30");
    assert_eq!(measures[0]["status"], "planned");

    let working = risk(
        &node,
        &pki,
        &[
            "measure",
            "update",
            "510104-1",
            "m1",
            "--status",
            "in-progress",
        ],
    );
    assert_eq!(working["measures"][0]["status"], "in-progress");
    let done = risk(
        &node,
        &pki,
        &["measure", "update", "510104-1", "m1", "--status", "done"],
    );
    assert_eq!(done["measures"][0]["status"], "done", "{done:#}");
    assert_eq!(done["status"], "measures-set");

    // Dynamic management.
    let monitoring = risk(&node, &pki, &["set-status", "510104-1", "monitoring"]);
    assert_eq!(monitoring["status"], "monitoring");
    // Resolving is `close`, with a summary (every measure is done).
    let resolved = risk(
        &node,
        &pki,
        &[
            "close",
            "510104-1",
            "--resolved",
            "--summary",
            "Water tests published; no gathering",
        ],
    );
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(
        resolved["closure"]["text"],
        "Water tests published; no gathering"
    );

    // A descriptive change is recorded with who and what.
    let updated = risk(
        &node,
        &pki,
        &[
            "update",
            "510104-1",
            "--title",
            "Chemical plant leak rumour (refuted)",
        ],
    );
    assert_eq!(updated["title"], "Chemical plant leak rumour (refuted)");
    assert_eq!(updated["status"], "resolved");
    assert_eq!(updated["level"], "I");
    let change = last_history(&updated);
    assert_eq!(change["action"], "updated");
    assert_eq!(change["author"], "staff/510104/zhang");
    let summary = change["summary"].as_str().unwrap();
    assert!(
        summary.contains("title") && summary.contains("Chemical plant leak rumour (refuted)"),
        "the history should say what changed: {summary:?}"
    );

    // A write answers with the changes it made, not the whole history.
    assert_eq!(
        updated["history"].as_array().unwrap().len(),
        1,
        "{updated:#}"
    );

    // `show` tells the whole story, in order, and agrees with what the last write returned.
    let shown = show(&node, &pki, ZHANG, "510104-1");
    assert_answer_agrees(&shown, &updated);
    let history = shown["history"].as_array().unwrap();
    let actions: Vec<&str> = history
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    let steps = [
        "created",
        "graded",
        "measure-added",
        "measure-updated",
        "measure-updated",
        "status-set",
        "closed",
        "updated",
    ];
    assert!(
        in_order(&actions, &steps),
        "expected {steps:?} in order, got {actions:?}"
    );
    for step in history
        .iter()
        .filter(|h| steps.contains(&h["action"].as_str().unwrap()))
    {
        assert_eq!(step["author"], "staff/510104/zhang", "{step}");
    }
    // Every entry carries its feed position (whether it increases across a major-issue
    // report is checked by `history_seq_increases_across_a_major_issue_report`).
    assert!(
        history
            .iter()
            .all(|h| h["seq"].as_u64().is_some_and(|n| n > 0)),
        "{shown:#}"
    );
    let times: Vec<(String, f64)> = history.iter().map(|h| instant(&h["at"])).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "times must not go back: {times:?}"
    );
    assert_eq!(shown["updated_at"], last_history(&shown)["at"]);
    let statuses: Vec<&str> = history
        .iter()
        .filter(|h| h["action"] == "status-set")
        .map(|h| h["summary"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["status measures-set → monitoring"]);
    assert_eq!(
        last_entry(&shown, "closed")["summary"],
        "resolved 化解: Water tests published; no gathering; status monitoring → resolved"
    );

    // The other risk was not touched by any of this; its own steps are numbered in order.
    let other = show(&node, &pki, ZHANG, "510104-2");
    assert_answer_agrees(&other, &low);
    let measured = risk(
        &node,
        &pki,
        &[
            "measure",
            "add",
            "510104-2",
            "--action",
            "Meet parents",
            "--owner",
            "School",
            "--due",
            "2030-09-01",
        ],
    );
    assert_eq!(measured["status"], "measures-set");
    let other = risk(&node, &pki, &["set-status", "510104-2", "monitoring"]);
    assert_eq!(other["status"], "monitoring");
    let other = show(&node, &pki, ZHANG, "510104-2");
    let seqs = seqs(&other);
    assert_eq!(seqs.len(), 4, "{other:#}");
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "seq must increase: {seqs:?}"
    );
}

fn seqs(r: &Value) -> Vec<u64> {
    r["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["seq"].as_u64().unwrap())
        .collect()
}

/// A level-I grade reports the risk upward at once: its later changes are recorded in the
/// `upstream` feed, whose positions start again at 1, so a risk's history is ordered by its
/// revision, and each item names the feed and position that recorded it.
#[test]
fn history_revisions_increase_across_a_major_issue_report() {
    let (pki, node) = county_with_zhang();
    add(&node, &pki, "Major issue", "emergency-trigger", &[]);
    add(&node, &pki, "Something else", "key-work", &[]);
    risk(
        &node,
        &pki,
        &[
            "grade",
            "510104-1",
            "--influence",
            "5",
            "--attention",
            "5",
            "--diffusion",
            "5",
        ],
    );
    risk(
        &node,
        &pki,
        &[
            "measure",
            "add",
            "510104-1",
            "--action",
            "Report",
            "--owner",
            "Office",
            "--due",
            "2030-01-01",
        ],
    );
    let answer = risk(&node, &pki, &["set-status", "510104-1", "monitoring"]);
    // The write answers with its own change; `show` has them all.
    assert_eq!(answer["history"].as_array().unwrap().len(), 1, "{answer:#}");
    assert_eq!(last_history(&answer)["action"], "status-set");
    let r = show(&node, &pki, ZHANG, "510104-1");
    let revs: Vec<u64> = r["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["rev"].as_u64().unwrap())
        .collect();
    assert_eq!(revs, (1..=revs.len() as u64).collect::<Vec<_>>(), "{r:#}");
    let feeds: Vec<(&str, u64)> = r["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["feed"].as_str().unwrap(), h["seq"].as_u64().unwrap()))
        .collect();
    // created and graded in `local` (risk 2 was created between them), then the share and
    // everything after it in `upstream` (the major-issue report, upstream 2, is no change of
    // the risk), each feed's positions increasing.
    assert_eq!(
        feeds,
        [
            ("local", 1),
            ("local", 3),
            ("upstream", 1),
            ("upstream", 3),
            ("upstream", 4)
        ],
        "{r:#}"
    );
    assert_eq!(r["scope"], "upstream");
    assert_eq!(r["history"][2]["action"], "shared");
}

#[test]
fn list_filters_by_level_focus_status_and_text() {
    let (pki, node) = county_with_zhang();
    add(
        &node,
        &pki,
        "Flood rumour on the river",
        "emergency-trigger",
        &[],
    ); // 1: I
    add(
        &node,
        &pki,
        "Demolition dispute",
        "reform-measure",
        &["--department", "Housing"],
    ); // 2: IV
    add(
        &node,
        &pki,
        "Marathon crowding",
        "major-event",
        &["--source", "douyin river-runner"],
    ); // 3: ungraded
    add(&node, &pki, "Pension reform posts", "reform-measure", &[]); // 4: I, measures-set
    let grade = |id: &str, s: &str| {
        risk(
            &node,
            &pki,
            &[
                "grade",
                id,
                "--influence",
                s,
                "--attention",
                s,
                "--diffusion",
                s,
            ],
        );
    };
    grade("510104-1", "5");
    grade("510104-2", "1");
    grade("510104-4", "5");
    risk(
        &node,
        &pki,
        &[
            "measure",
            "add",
            "510104-4",
            "--action",
            "Explain the policy",
            "--owner",
            "HR",
            "--due",
            "2030-01-31",
        ],
    );

    let list = |filter: &[&str]| {
        let out = node
            .cli(&pki, ZHANG)
            .args(["risk", "list", "--json"])
            .args(filter)
            .run()
            .ok();
        ids(&out.json())
    };
    assert_eq!(list(&[]), ["510104-1", "510104-2", "510104-3", "510104-4"]);
    assert_eq!(list(&["--level", "I"]), ["510104-1", "510104-4"]);
    assert_eq!(list(&["--level", "IV"]), ["510104-2"]);
    assert!(list(&["--level", "II"]).is_empty());
    assert_eq!(
        list(&["--focus", "reform-measure"]),
        ["510104-2", "510104-4"]
    );
    assert_eq!(list(&["--status", "identified"]), ["510104-3"]);
    assert_eq!(list(&["--status", "graded"]), ["510104-1", "510104-2"]);
    assert_eq!(list(&["--status", "measures-set"]), ["510104-4"]);
    assert_eq!(
        list(&["--level", "I", "--focus", "reform-measure"]),
        ["510104-4"]
    );
    // Text matches title or source, case-insensitively, and department.
    assert_eq!(list(&["--text", "RIVER"]), ["510104-1", "510104-3"]);
    assert_eq!(list(&["--text", "housing"]), ["510104-2"]);
    assert!(list(&["--text", "no such words"]).is_empty());
}

#[test]
fn list_pages_with_a_cursor_and_all_walks_every_page() {
    let (pki, node) = county_with_zhang();
    for i in 1..=7 {
        add(&node, &pki, &format!("Risk number {i}"), "key-work", &[]);
    }
    let every: Vec<String> = (1..=7).map(|i| format!("510104-{i}")).collect();

    let page = |cursor: Option<&str>| {
        let mut cli = node
            .cli(&pki, ZHANG)
            .args(["risk", "list", "--limit", "3", "--json"]);
        if let Some(c) = cursor {
            cli = cli.args(["--cursor", c]);
        }
        let out = cli.run().ok();
        (ids(&out.json()), out.next_cursor())
    };
    let (first, cursor) = page(None);
    assert_eq!(first, every[..3]);
    let cursor = cursor.expect("a first page of 3 out of 7 must print a cursor on stderr");
    let (second, cursor) = page(Some(&cursor));
    assert_eq!(second, every[3..6]);
    let cursor = cursor.expect("the second page must print a cursor");
    let (third, cursor) = page(Some(&cursor));
    assert_eq!(third, every[6..]);
    assert_eq!(cursor, None, "the last page must not print a cursor");

    let all = node
        .cli(&pki, ZHANG)
        .args(["risk", "list", "--all", "--limit", "3", "--json"])
        .run()
        .ok();
    assert_eq!(ids(&all.json()), every);
    assert_eq!(all.next_cursor(), None, "{}", all.stderr);
    assert_eq!(all.json(), list_all(&node, &pki, ZHANG));

    // Paging a filtered list: the cursor carries on through matches only.
    for id in ["510104-1", "510104-4", "510104-7"] {
        risk(
            &node,
            &pki,
            &[
                "grade",
                id,
                "--influence",
                "1",
                "--attention",
                "1",
                "--diffusion",
                "1",
            ],
        );
    }
    let level_iv = |cursor: Option<&str>| {
        let mut cli = node
            .cli(&pki, ZHANG)
            .args(["risk", "list", "--level", "IV", "--limit", "2", "--json"]);
        if let Some(c) = cursor {
            cli = cli.args(["--cursor", c]);
        }
        let out = cli.run().ok();
        (ids(&out.json()), out.next_cursor())
    };
    let (first, cursor) = level_iv(None);
    assert_eq!(first, ["510104-1", "510104-4"]);
    let (second, cursor) = level_iv(Some(&cursor.expect("a cursor after 2 of 3 matches")));
    assert_eq!(second, ["510104-7"]);
    assert_eq!(cursor, None);
}

#[test]
fn the_connection_can_come_from_the_environment() {
    let (pki, node) = county_with_zhang();
    let added = node
        .cli(&pki, ZHANG)
        .via_env()
        .args([
            "risk",
            "add",
            "--title",
            "Set by FENGHUO_* variables",
            "--focus",
            "key-work",
            "--json",
        ])
        .run()
        .ok()
        .json();
    assert_eq!(added["id"], "510104-1");
    assert_eq!(show(&node, &pki, ZHANG, "510104-1"), added);
}
