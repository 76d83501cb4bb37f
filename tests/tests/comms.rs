//! Communications end to end on the three-county province of the sync tests (A = 510104,
//! B = 510105, C = 510106; A–B and B–C neighbours): shared alerts with receipts,
//! acknowledgments, updates, cancels and overdue flags; an alert issued while its recipient
//! is down; major-issue reports; directives and consultations; the watch stream resuming
//! after a reconnect. Every refusal is checked to have written nothing.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use fenghuo_tests::province::{Feeds, Province, TestProvince, GATEWAY, SYNC_TIMEOUT};
use fenghuo_tests::wait;
use serde_json::Value;

const A: &str = "510104";
const B: &str = "510105";
const C: &str = "510106";

fn abc_with(config: &str) -> Province {
    TestProvince::new("51")
        .county(A)
        .county(B)
        .county(C)
        .neighbours(A, B)
        .neighbours(B, C)
        .config(config)
        .start()
}

/// `fenghuo <args> --json` as `name`'s staff; asserts success.
fn json(p: &Province, name: &str, args: &[&str]) -> Value {
    p.cli(name).args(args).arg("--json").run().ok().json()
}

/// `fenghuo <args>` as `name`'s staff; asserts failure and returns the error text.
fn refused(p: &Province, name: &str, args: &[&str]) -> String {
    p.cli(name).args(args).run().err()
}

fn issue(p: &Province, name: &str, audience: &str, severity: &str, headline: &str) -> String {
    json(
        p,
        name,
        &[
            "alert",
            "issue",
            "--headline",
            headline,
            "--severity",
            severity,
            "--urgency",
            "expected",
            "--certainty",
            "likely",
            "--audience",
            audience,
            "--event",
            "gathering called online",
            "--expires",
            "1d",
        ],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `alert show ID --json` at `name`, once it answers and `pred` holds.
#[track_caller]
fn wait_alert(
    p: &Province,
    name: &str,
    id: &str,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    wait::until(
        &format!("{what} (alert {id} at {name})"),
        SYNC_TIMEOUT,
        Duration::from_millis(100),
        || {
            let out = p.cli(name).args(["alert", "show", id, "--json"]).run();
            if !out.status.success() {
                return Err(out.stderr.clone());
            }
            let v = out.json();
            if pred(&v) {
                Ok(v)
            } else {
                Err(v.to_string())
            }
        },
    )
}

fn receipt<'a>(alert: &'a Value, county: &str) -> &'a Value {
    alert["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["county"] == county)
        .unwrap_or_else(|| panic!("no receipt for {county} in {alert}"))
}

fn counties(alert: &Value) -> Vec<String> {
    alert["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["county"].as_str().unwrap().to_owned())
        .collect()
}

/// Every member's feeds, to check a refusal wrote nothing anywhere.
fn heads(p: &Province) -> Vec<Feeds> {
    p.members().iter().map(|m| p.feeds(m)).collect()
}

#[test]
fn an_alert_to_neighbours_is_delivered_acknowledged_updated_and_cancelled() {
    let p = abc_with("[alerts]\nacknowledge_within = \"2s\"\n");
    let id = issue(
        &p,
        A,
        "neighbours",
        "severe",
        "Gathering called at the county office",
    );
    assert_eq!(id, "510104-a1");

    // B receives it and its node records the delivery; the gateway sees it; C never holds it.
    let at_a = wait_alert(&p, A, &id, "B's delivery", |a| {
        !receipt(a, B)["delivered_at"].is_null()
    });
    assert_eq!(counties(&at_a), [B], "recipients are A's neighbours only");
    assert!(receipt(&at_a, B)["acknowledged_at"].is_null());
    let at_b = wait_alert(&p, B, &id, "the alert", |_| true);
    assert_eq!(at_b["headline"], "Gathering called at the county office");
    assert_eq!(at_b["severity"], "severe");
    wait_alert(&p, GATEWAY, &id, "the alert", |_| true);
    p.wait_views(C);
    assert!(refused(&p, C, &["alert", "show", &id]).contains("not found"));
    assert!(json(&p, C, &["alert", "list", "--all"])
        .as_array()
        .unwrap()
        .is_empty());

    // Severe and not acknowledged within 2 s: overdue at the issuer and at the gateway.
    wait_alert(&p, A, &id, "B's receipt to turn overdue", |a| {
        receipt(a, B)["overdue"] == true
    });
    wait_alert(&p, GATEWAY, &id, "B's receipt to turn overdue", |a| {
        receipt(a, B)["overdue"] == true
    });

    // B acknowledges with a note; A sees who and when, and the flag goes.
    json(&p, B, &["alert", "ack", &id, "--note", "liaison sent"]);
    let at_a = wait_alert(&p, A, &id, "B's acknowledgment", |a| {
        !receipt(a, B)["acknowledged_at"].is_null()
    });
    let r = receipt(&at_a, B);
    assert_eq!(r["note"], "liaison sent");
    assert_eq!(r["acknowledged_by"], format!("staff/{B}/s"));
    assert_eq!(r["overdue"], false);
    let before = heads(&p);
    assert!(refused(&p, B, &["alert", "ack", &id]).contains("already acknowledged"));

    // Update, then cancel: both reach B with the chain kept.
    json(
        &p,
        A,
        &[
            "alert",
            "update",
            &id,
            "--severity",
            "extreme",
            "--headline",
            "Gathering moved to Sunday",
        ],
    );
    let at_b = wait_alert(&p, B, &id, "the update", |a| {
        a["chain"].as_array().unwrap().len() == 2
    });
    assert_eq!(at_b["headline"], "Gathering moved to Sunday");
    assert_eq!(at_b["severity"], "extreme");
    assert_eq!(at_b["chain"][1]["kind"], "update");
    json(&p, A, &["alert", "cancel", &id, "--reason", "called off"]);
    let at_b = wait_alert(&p, B, &id, "the cancel", |a| a["status"] == "cancelled");
    assert_eq!(at_b["chain"][2]["kind"], "cancel");
    wait_alert(&p, GATEWAY, &id, "the cancel", |a| {
        a["status"] == "cancelled"
    });

    // The CAP export of the cancel reads back in an independent parser.
    let xml = p
        .cli(B)
        .args(["alert", "show", &id, "--format", "cap"])
        .run()
        .ok()
        .stdout;
    let oasiscap::Alert::V1dot2(cap) = xml
        .parse::<oasiscap::Alert>()
        .unwrap_or_else(|e| panic!("{e}\n{xml}"))
    else {
        panic!("not CAP 1.2: {xml}");
    };
    assert_eq!(cap.identifier, format!("{id}.v3").as_str());
    assert_eq!(cap.sender, format!("fenghuo://county/{A}").as_str());
    assert_eq!(cap.message_type, oasiscap::v1dot2::MessageType::Cancel);
    assert_eq!(
        cap.references.unwrap()[0].identifier,
        format!("{id}.v2").as_str()
    );
    assert_eq!(
        cap.info[0].headline.as_deref(),
        Some("Gathering moved to Sunday")
    );
    assert_eq!(cap.info[0].severity, oasiscap::v1dot2::Severity::Extreme);

    // Refusals, each with nothing written: cancelling twice, updating a cancelled alert,
    // cancelling someone else's alert (C holds A's province-wide alert), unknown counties,
    // an expiry in the past.
    let wide = issue(
        &p,
        A,
        "province",
        "moderate",
        "Rumour about the school merger",
    );
    wait_alert(&p, C, &wide, "the province-wide alert", |a| {
        a["status"] == "active"
    });
    p.wait_converged();
    let before_refusals = heads(&p);
    assert!(refused(&p, A, &["alert", "cancel", &id]).contains("already cancelled"));
    assert!(
        refused(&p, A, &["alert", "update", &id, "--headline", "x"]).contains("already cancelled")
    );
    let err = refused(&p, C, &["alert", "cancel", &wide]);
    assert!(
        err.contains("permission denied") && err.contains("only its issuer"),
        "{err}"
    );
    let err = refused(&p, C, &["alert", "update", &wide, "--headline", "mine now"]);
    assert!(err.contains("only its issuer"), "{err}");
    let err = refused(
        &p,
        A,
        &[
            "alert",
            "issue",
            "--headline",
            "h",
            "--severity",
            "minor",
            "--urgency",
            "future",
            "--certainty",
            "possible",
            "--audience",
            "510199",
        ],
    );
    assert!(err.contains("unknown county 510199"), "{err}");
    let err = refused(
        &p,
        A,
        &[
            "alert",
            "issue",
            "--headline",
            "h",
            "--severity",
            "minor",
            "--urgency",
            "future",
            "--certainty",
            "possible",
            "--audience",
            "neighbours",
            "--expires",
            "2020-01-01T00:00:00Z",
        ],
    );
    assert!(err.contains("expires") && err.contains("past"), "{err}");
    let err = refused(
        &p,
        A,
        &[
            "alert",
            "issue",
            "--headline",
            "h",
            "--severity",
            "dire",
            "--urgency",
            "future",
            "--certainty",
            "possible",
            "--audience",
            "neighbours",
        ],
    );
    // The refusal lists each value with its Chinese label.
    assert!(err.contains("extreme (特别严重), severe (严重)"), "{err}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(heads(&p), before_refusals, "a refusal wrote something");
    drop(before);

    // C's staff acknowledge the province-wide alert: it is for every county.
    json(&p, C, &["alert", "ack", &wide]);
    let at_a = wait_alert(&p, A, &wide, "C's acknowledgment", |a| {
        !receipt(a, C)["acknowledged_at"].is_null()
    });
    assert_eq!(counties(&at_a), [B, C]);
}

#[test]
fn an_alert_issued_while_a_neighbour_is_down_reaches_it_when_it_returns() {
    let mut p = TestProvince::abc();
    p.stop(B);
    let id = issue(
        &p,
        A,
        "neighbours",
        "extreme",
        "Petition spreading in chat groups",
    );
    wait_alert(&p, GATEWAY, &id, "the alert", |_| true);
    let at_a = wait_alert(&p, A, &id, "the alert", |_| true);
    assert!(receipt(&at_a, B)["delivered_at"].is_null());
    p.restart(B);
    wait_alert(&p, A, &id, "B's delivery after its return", |a| {
        !receipt(a, B)["delivered_at"].is_null()
    });
    json(&p, B, &["alert", "ack", &id, "--note", "back online"]);
    wait_alert(&p, A, &id, "B's acknowledgment", |a| {
        receipt(a, B)["note"] == "back online"
    });
    wait_alert(&p, GATEWAY, &id, "B's acknowledgment", |a| {
        receipt(a, B)["note"] == "back online"
    });
}

#[test]
fn reports_go_up_and_directives_and_consultations_collect_responses() {
    let p = TestProvince::abc();
    // A level-I grading at C files a report in the same write.
    let risk = json(
        &p,
        C,
        &[
            "risk",
            "add",
            "--title",
            "Land dispute video trending",
            "--focus",
            "emergency-trigger",
        ],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    json(
        &p,
        C,
        &[
            "risk",
            "grade",
            &risk,
            "--influence",
            "5",
            "--attention",
            "5",
            "--diffusion",
            "5",
        ],
    );
    let own = json(&p, C, &["report", "list"]);
    assert_eq!(own[0]["risk"], risk.as_str());
    assert_eq!(own[0]["automatic"], true);
    assert_eq!(own[0]["level"], "I");
    let report = own[0]["id"].as_str().unwrap().to_owned();
    // A report by hand at A.
    let by_hand = json(
        &p,
        A,
        &[
            "report",
            "file",
            "--summary",
            "Crowd expected at the station",
        ],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let awaiting = wait::until(
        "both reports at the gateway",
        SYNC_TIMEOUT,
        Duration::from_millis(100),
        || {
            let list = json(&p, GATEWAY, &["report", "list", "--awaiting"]);
            let ids: Vec<&str> = list
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap())
                .collect();
            if ids.contains(&report.as_str()) && ids.contains(&by_hand.as_str()) {
                Ok(list.clone())
            } else {
                Err(list.to_string())
            }
        },
    );
    assert_eq!(awaiting.as_array().unwrap().len(), 2);
    json(
        &p,
        GATEWAY,
        &["report", "ack", &report, "--note", "seen; call at 15:00"],
    );
    assert_eq!(
        json(&p, GATEWAY, &["report", "list", "--awaiting"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    wait::until(
        "the acknowledgment at C",
        SYNC_TIMEOUT,
        Duration::from_millis(100),
        || {
            let list = json(&p, C, &["report", "list"]);
            if list[0]["note"] == "seen; call at 15:00" {
                Ok(())
            } else {
                Err(list.to_string())
            }
        },
    );
    assert!(refused(&p, A, &["report", "ack", &by_hand]).contains("province"));
    assert!(refused(&p, GATEWAY, &["report", "ack", &report]).contains("already acknowledged"));

    // A directive to every county collects every response.
    let d = json(
        &p,
        GATEWAY,
        &[
            "directive",
            "issue",
            "--text",
            "Check every gathering notice",
            "--deadline",
            "2h",
        ],
    );
    let d = d["id"].as_str().unwrap().to_owned();
    assert_eq!(d, "51-d1");
    for c in [A, B, C] {
        wait::until(
            &format!("the directive at {c}"),
            SYNC_TIMEOUT,
            Duration::from_millis(100),
            || {
                let list = json(&p, c, &["directive", "list"]);
                if list[0]["id"] == d.as_str() {
                    Ok(())
                } else {
                    Err(list.to_string())
                }
            },
        );
        json(
            &p,
            c,
            &[
                "directive",
                "respond",
                &d,
                "--status",
                // Officers may answer in Chinese: 办结 is done.
                if c == C { "办结" } else { "done" },
                "--text",
                &format!("{c} checked"),
            ],
        );
    }
    let at_gw = wait::until(
        "every response at the gateway",
        SYNC_TIMEOUT,
        Duration::from_millis(100),
        || {
            let list = json(&p, GATEWAY, &["directive", "list"]);
            if list[0]["responded"] == 3 {
                Ok(list[0].clone())
            } else {
                Err(list.to_string())
            }
        },
    );
    assert_eq!(at_gw["asked"], 3);
    assert!(at_gw["overdue"].as_array().unwrap().is_empty());
    // `directive show`: the directive, whom it asked, each county's answer.
    let shown = json(&p, GATEWAY, &["directive", "show", &d]);
    assert_eq!(shown["text"], "Check every gathering notice", "{shown:#}");
    let answers: Vec<(&str, &str, &str)> = shown["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(r["responded_at"].is_string(), "{r:#}");
            (
                r["county"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
                r["text"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        answers,
        [
            (A, "done", "510104 checked"),
            (B, "done", "510105 checked"),
            (C, "done", "510106 checked")
        ]
    );
    let text = p
        .cli(GATEWAY)
        .args(["directive", "show", &d])
        .run()
        .ok()
        .stdout;
    for want in [
        "工作指令",
        "every county",
        "逐县答复",
        "done 已办结",
        "510106 checked",
    ] {
        assert!(text.contains(want), "{want:?} in {text}");
    }
    // At a county: the same directive, with its own answer only.
    let at_c = json(&p, C, &["directive", "show", &d]);
    assert_eq!(at_c["responses"].as_array().unwrap().len(), 1, "{at_c:#}");
    assert_eq!(at_c["responses"][0]["county"], C);
    assert!(refused(
        &p,
        B,
        &["directive", "respond", &d, "--status", "acknowledged"]
    )
    .contains("already done"));

    // A consultation to A and B with a short deadline: B's silence turns overdue; C is not asked.
    let c1 = json(
        &p,
        GATEWAY,
        &[
            "consult",
            "open",
            "--question",
            "Expected turnout on Saturday?",
            "--deadline",
            "3s",
            "--to",
            &format!("{A},{B}"),
        ],
    );
    let c1 = c1["id"].as_str().unwrap().to_owned();
    wait::until(
        "the consultation at A",
        SYNC_TIMEOUT,
        Duration::from_millis(100),
        || {
            let list = json(&p, A, &["consult", "list"]);
            if list[0]["id"] == c1.as_str() {
                Ok(())
            } else {
                Err(list.to_string())
            }
        },
    );
    json(
        &p,
        A,
        &["consult", "respond", &c1, "--text", "about 200 people"],
    );
    p.wait_views(C);
    assert!(json(&p, C, &["consult", "list"])
        .as_array()
        .unwrap()
        .is_empty());
    assert!(refused(&p, C, &["consult", "respond", &c1, "--text", "x"]).contains("not addressed"));
    let at_gw = wait::until(
        "B overdue at the gateway",
        SYNC_TIMEOUT,
        Duration::from_millis(200),
        || {
            let list = json(&p, GATEWAY, &["consult", "list"]);
            let c = list[0].clone();
            if c["responded"] == 1 && c["overdue"] == serde_json::json!([B]) {
                Ok(c)
            } else {
                Err(list.to_string())
            }
        },
    );
    assert_eq!(at_gw["responses"][0]["text"], "about 200 people");
    // `consult show`: A's answer, B overdue; C, not asked, does not see it; a consultation
    // is not shown as a directive (the refusal names the command that fits).
    let shown = json(&p, GATEWAY, &["consult", "show", &c1]);
    assert_eq!(shown["targets"], serde_json::json!([A, B]), "{shown:#}");
    assert_eq!(shown["responses"][0]["status"], "responded", "{shown:#}");
    assert_eq!(shown["responses"][1]["overdue"], true, "{shown:#}");
    assert_eq!(shown["responses"][1]["status"], Value::Null, "{shown:#}");
    let text = p
        .cli(GATEWAY)
        .args(["consult", "show", &c1])
        .run()
        .ok()
        .stdout;
    for want in [
        "会商",
        "responded 已答复",
        "未答复",
        "超期",
        "about 200 people",
    ] {
        assert!(text.contains(want), "{want:?} in {text}");
    }
    assert!(refused(&p, C, &["consult", "show", &c1]).contains("not addressed"));
    let wrong = refused(&p, GATEWAY, &["directive", "show", &c1]);
    assert!(
        wrong.contains(&format!("fenghuo consult show {c1}")),
        "{wrong}"
    );
    assert!(refused(&p, GATEWAY, &["directive", "show", "51-a1"]).contains("not a directive"));
    assert!(refused(&p, GATEWAY, &["directive", "show", "51-d99"]).contains("no directive"));

    // Bad input, nothing written.
    let before = heads(&p);
    assert!(refused(
        &p,
        GATEWAY,
        &[
            "directive",
            "issue",
            "--text",
            "t",
            "--deadline",
            "2020-01-01T00:00:00Z"
        ]
    )
    .contains("past"));
    assert!(refused(
        &p,
        GATEWAY,
        &[
            "directive",
            "issue",
            "--text",
            "t",
            "--deadline",
            "1h",
            "--to",
            "510199"
        ]
    )
    .contains("unknown county 510199"));
    assert!(refused(
        &p,
        A,
        &["directive", "issue", "--text", "t", "--deadline", "1h"]
    )
    .contains("province"));
    assert_eq!(heads(&p), before);
}

#[test]
fn watch_resumes_after_a_reconnect_with_no_gap_and_no_repeat() {
    let p = TestProvince::abc();
    // Live: a watcher at B sees two alerts from A as they arrive.
    let watcher = {
        let cli = p
            .cli(B)
            .args(["alert", "watch", "--json", "--count", "2"])
            .timeout(SYNC_TIMEOUT);
        std::thread::spawn(move || cli.run())
    };
    // Let the watcher connect first (it starts from now).
    std::thread::sleep(Duration::from_millis(1500));
    let first: Vec<String> = (1..=2)
        .map(|i| issue(&p, A, "neighbours", "minor", &format!("first {i}")))
        .collect();
    let out = watcher.join().unwrap().ok();
    let seen: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<&str> = seen.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, first);
    assert!(seen
        .iter()
        .all(|e| e["kind"] == "alert" && e["origin"] == A));
    let cursor = seen[1]["cursor"].as_u64().unwrap();

    // Disconnected: three more alerts and a directive arrive meanwhile.
    let second: Vec<String> = (1..=3)
        .map(|i| issue(&p, A, "neighbours", "minor", &format!("second {i}")))
        .collect();
    let d = json(
        &p,
        GATEWAY,
        &[
            "directive",
            "issue",
            "--text",
            "Report turnout",
            "--deadline",
            "1h",
        ],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Resume after the cursor: exactly what came since, in order, once each.
    let out = p
        .cli(B)
        .args([
            "alert",
            "watch",
            "--json",
            "--count",
            "4",
            "--after",
            &cursor.to_string(),
        ])
        .timeout(SYNC_TIMEOUT)
        .run()
        .ok();
    let resumed: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut ids: Vec<String> = resumed
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    let cursors: Vec<u64> = resumed
        .iter()
        .map(|e| e["cursor"].as_u64().unwrap())
        .collect();
    assert_eq!(cursors, (cursor + 1..=cursor + 4).collect::<Vec<_>>());
    ids.sort();
    let mut want = second.clone();
    want.push(d);
    want.sort();
    assert_eq!(ids, want);
    // A replay from the start holds the first two again, before the rest, and nothing twice.
    let all = p
        .cli(B)
        .args(["alert", "watch", "--json", "--from-start", "--count", "6"])
        .timeout(SYNC_TIMEOUT)
        .run()
        .ok();
    let all: Vec<Value> = all
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut ids: Vec<&str> = all.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(
        &ids[..2],
        &first.iter().map(String::as_str).collect::<Vec<_>>()[..]
    );
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6);
    // A cursor beyond the journal is refused.
    assert!(refused(&p, B, &["alert", "watch", "--after", "999999"]).contains("beyond"));
}

#[test]
fn a_risk_a_neighbour_shares_is_a_watch_event_too() {
    let p = TestProvince::abc();
    let a1 = json(
        &p,
        A,
        &[
            "risk",
            "add",
            "--title",
            "Bridge closure anger",
            "--focus",
            "key-work",
        ],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    json(
        &p,
        A,
        &[
            "risk",
            "grade",
            &a1,
            "--influence",
            "1",
            "--attention",
            "1",
            "--diffusion",
            "1",
        ],
    );
    json(&p, A, &["risk", "share", &a1, "--scope", "neighbours"]);
    // Then an alert to the whole province, in Chinese words: every county's journal has it.
    let alert = json(
        &p,
        A,
        &[
            "alert",
            "issue",
            "--headline",
            "Bridge protest called",
            "--severity",
            "严重",
            "--urgency",
            "预期",
            "--certainty",
            "很可能",
            "--audience",
            "province",
        ],
    );
    assert_eq!(alert["severity"], "severe", "{alert:#}");
    let alert = alert["id"].as_str().unwrap().to_owned();
    let first_two = |name: &str| -> Vec<Value> {
        p.cli(name)
            .args(["alert", "watch", "--json", "--from-start", "--count", "2"])
            .timeout(SYNC_TIMEOUT)
            .run()
            .ok()
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    // B, A's neighbour: the shared risk, with its county, id, title, level and scope.
    let at_b = first_two(B);
    let shared = at_b
        .iter()
        .find(|e| e["kind"] == "risk-shared")
        .unwrap_or_else(|| panic!("no risk-shared at B: {at_b:?}"));
    assert_eq!(shared["id"], a1.as_str());
    assert_eq!(shared["origin"], A);
    assert_eq!(shared["title"], "Bridge closure anger");
    assert_eq!(shared["level"], "IV");
    assert_eq!(shared["scope"], "neighbours");
    assert!(at_b.iter().any(|e| e["id"] == alert.as_str()), "{at_b:?}");
    let text = p
        .cli(B)
        .args(["alert", "watch", "--from-start", "--count", "2"])
        .timeout(SYNC_TIMEOUT)
        .run()
        .ok()
        .stdout;
    for want in [
        "risk-shared",
        "level IV 一般",
        "shared with neighbours",
        "severe 严重",
    ] {
        assert!(text.contains(want), "{want:?} in {text}");
    }
    // The gateway hears of it too.
    assert!(first_two(GATEWAY)
        .iter()
        .any(|e| e["kind"] == "risk-shared" && e["id"] == a1.as_str()));
    // C, not A's neighbour, never holds it: its first event is the alert. A does not notify
    // itself of its own share.
    for name in [C, A] {
        let first = p
            .cli(name)
            .args(["alert", "watch", "--json", "--from-start", "--count", "1"])
            .timeout(SYNC_TIMEOUT)
            .run()
            .ok()
            .stdout;
        let first: Value = serde_json::from_str(first.trim()).unwrap();
        assert_eq!(first["id"], alert.as_str(), "at {name}: {first:#}");
    }
}
