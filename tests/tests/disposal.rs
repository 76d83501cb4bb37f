//! Disposal requests end to end over gRPC: counties file, the gateway relays to the right
//! partner only, partners acknowledge and answer through PartnerService (`fenghuo disposal
//! inbox|ack|respond` with a partner certificate), outcomes reach the requester, requests
//! about one URL share a case, withdrawals reach the partner, manual review holds.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use fenghuo_proto::v1::{self, partner_service_client::PartnerServiceClient};
use fenghuo_tests::province::{Province, TestProvince, GATEWAY, SYNC_TIMEOUT};
use fenghuo_tests::wait;
use serde_json::Value;

const A: &str = "510104";
const B: &str = "510105";

fn json(p: &Province, name: &str, args: &[&str]) -> Value {
    p.cli(name).args(args).arg("--json").run().ok().json()
}

fn partner_cli(p: &Province, partner: &str, args: &[&str]) -> Value {
    p.cli_as(GATEWAY, &format!("partner-{partner}"))
        .args(args)
        .arg("--json")
        .run()
        .ok()
        .json()
}

fn register(p: &Province, partner: &str) {
    p.pki().issue_partner(partner);
    json(
        p,
        GATEWAY,
        &["partner", "add", partner, "--display-name", partner],
    );
}

/// One field of every step in a request's history, oldest first.
fn history<'a>(request: &'a Value, field: &str) -> Vec<&'a str> {
    request["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h[field].as_str().unwrap())
        .collect()
}

/// Files a request at `county` once the partner directory has reached it.
fn file(p: &Province, county: &str, partner: &str, url: &str) -> String {
    p.file_disposal(
        county,
        &[
            "--partner",
            partner,
            "--url",
            url,
            "--action",
            "take-down",
            "--reason",
            "Fabricated casualty figures",
            "--legal-basis",
            "Provisions on the Governance of the Online Information Content Ecosystem, art. 6",
            "--deadline",
            "24h",
        ],
    )
}

fn inbox(p: &Province, partner: &str, cursor: u64) -> Vec<Value> {
    partner_cli(
        p,
        partner,
        &["disposal", "inbox", "--cursor", &cursor.to_string()],
    )
    .as_array()
    .unwrap()
    .clone()
}

/// Waits until `partner`'s inbox after `cursor` holds `n` messages.
fn wait_inbox(p: &Province, partner: &str, cursor: u64, n: usize) -> Vec<Value> {
    wait::until(
        "the partner's inbox",
        SYNC_TIMEOUT,
        Duration::from_millis(200),
        || {
            let got = inbox(p, partner, cursor);
            if got.len() >= n {
                Ok(got)
            } else {
                Err(format!("{} of {n}", got.len()))
            }
        },
    )
}

fn wait_state(p: &Province, name: &str, id: &str, state: &str) -> Value {
    wait::until(
        &format!("{id} {state} at {name}"),
        SYNC_TIMEOUT,
        Duration::from_millis(100),
        || {
            // Not there yet is as good as not in that state yet.
            let out = p.cli(name).args(["disposal", "show", id, "--json"]).run();
            if !out.status.success() {
                return Err(out.stderr);
            }
            let r = out.json();
            if r["state"] == state {
                Ok(r)
            } else {
                Err(r["state"].to_string())
            }
        },
    )
}

#[test]
fn requests_reach_their_partner_only_and_outcomes_come_back() {
    let p = TestProvince::new("51")
        .county(A)
        .county(B)
        .neighbours(A, B)
        .start();
    register(&p, "weibo");
    register(&p, "douyin");

    // Once the partner is known at A (it travels in the province feed), bad requests are
    // refused at once, naming the field.
    let a1 = file(&p, A, "weibo", "https://weibo.example/status/1");

    let base = [
        "disposal",
        "request",
        "--action",
        "label",
        "--legal-basis",
        "rule 6",
        "--deadline",
        "24h",
    ];
    let err = |extra: &[&str]| p.cli(A).args(base).args(extra).run().err();
    assert!(err(&["--partner", "weibo", "--url", "ftp://x", "--reason", "r"]).contains("url"));
    assert!(err(&[
        "--partner",
        "weibo",
        "--url",
        "https://x.example/1",
        "--reason",
        " "
    ])
    .contains("reason"));
    let big = p.dir().join("big.bin");
    std::fs::write(&big, vec![0u8; 300 * 1024]).unwrap();
    let e = err(&[
        "--partner",
        "weibo",
        "--url",
        "https://x.example/1",
        "--reason",
        "r",
        "--evidence",
        big.to_str().unwrap(),
    ]);
    assert!(e.contains("262144"), "{e}");
    let e = p
        .cli(A)
        .args([
            "disposal",
            "request",
            "--partner",
            "weibo",
            "--url",
            "https://x.example/1",
        ])
        .args([
            "--action",
            "label",
            "--reason",
            "r",
            "--legal-basis",
            "l",
            "--deadline",
            "2020-01-01T00:00:00Z",
        ])
        .run()
        .err();
    assert!(e.contains("deadline"), "{e}");
    // Deadlines are capped: a far one would keep the request open for years.
    let e = p
        .cli(A)
        .args([
            "disposal",
            "request",
            "--partner",
            "weibo",
            "--url",
            "https://x.example/1",
            "--action",
            "label",
            "--reason",
            "r",
            "--legal-basis",
            "l",
            "--deadline",
            "9999-01-01T00:00:00Z",
        ])
        .run()
        .err();
    assert!(e.contains("90 days"), "{e}");

    let e = err(&[
        "--partner",
        "nobody",
        "--url",
        "https://x.example/1",
        "--reason",
        "r",
    ]);
    assert!(e.contains("partner"), "{e}");
    let b1 = file(
        &p,
        B,
        "weibo",
        "https://www.weibo.example/status/1?utm_source=share",
    );
    let a2 = file(&p, A, "douyin", "https://douyin.example/video/9");

    // Each partner gets its own, and nothing else.
    let weibo = wait_inbox(&p, "weibo", 0, 2);
    let ids: Vec<&str> = weibo
        .iter()
        .map(|m| m["request"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [a1.as_str(), b1.as_str()]);
    assert!(weibo.iter().all(|m| m["kind"] == "request"));
    assert_eq!(weibo[0]["request"]["reason"], "Fabricated casualty figures");
    let douyin = wait_inbox(&p, "douyin", 0, 1);
    assert_eq!(douyin.len(), 1);
    assert_eq!(douyin[0]["request"]["id"], a2.as_str());
    // The two requests about one URL are one case.
    let a1_at_gw = json(&p, GATEWAY, &["disposal", "show", &a1]);
    assert_eq!(a1_at_gw["linked"], serde_json::json!([b1]), "{a1_at_gw:#}");
    // Resuming from a cursor repeats nothing.
    let after_first = weibo[0]["cursor"].as_u64().unwrap();
    let rest = inbox(&p, "weibo", after_first);
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["request"]["id"], b1.as_str());

    // A partner cannot touch another's request, nor read anything else.
    let e = p
        .cli_as(GATEWAY, "partner-weibo")
        .args(["disposal", "ack", &a2])
        .run()
        .err();
    assert!(e.contains("not found"), "{e}");
    // … and cannot tell it from one that does not exist.
    let missing = format!("{A}-x999");
    let e_missing = p
        .cli_as(GATEWAY, "partner-weibo")
        .args(["disposal", "ack", &missing])
        .run()
        .err();
    assert_eq!(e.replace(&a2, "ID"), e_missing.replace(&missing, "ID"));
    let e = p
        .cli_as(GATEWAY, "partner-weibo")
        .args(["risk", "list", "--origin", "all"])
        .run()
        .err();
    assert!(e.contains("permission denied"), "{e}");
    let e = p
        .cli_as(GATEWAY, "partner-weibo")
        .args(["disposal", "list"])
        .run()
        .err();
    assert!(e.contains("permission denied"), "{e}");

    // A label asked about the same URL needs its own decision: not in the take-down's case.
    let a3 = p.file_disposal(
        A,
        &[
            "--partner",
            "weibo",
            "--url",
            "https://weibo.example/status/1",
            "--action",
            "label",
            "--reason",
            "Misleading",
            "--legal-basis",
            "rule 6",
            "--deadline",
            "24h",
        ],
    );
    wait_inbox(&p, "weibo", 0, 3);
    let a3_at_gw = json(&p, GATEWAY, &["disposal", "show", &a3]);
    assert_eq!(a3_at_gw["linked"], serde_json::json!([]), "{a3_at_gw:#}");
    assert_eq!(a3_at_gw["case"], a3.as_str(), "{a3_at_gw:#}");

    // Acknowledge and answer, idempotently; the requester sees the outcome.
    let ack = partner_cli(&p, "weibo", &["disposal", "ack", &a1]);
    assert_eq!(
        (ack["state"].as_str(), ack["unchanged"].as_bool()),
        (Some("acknowledged"), Some(false))
    );
    assert_eq!(
        partner_cli(&p, "weibo", &["disposal", "ack", &a1])["unchanged"],
        true
    );
    let respond = [
        "disposal",
        "respond",
        &a1,
        "--outcome",
        "removed",
        "--reason",
        "false information",
        "--reference",
        "WB-2026-0042",
    ];
    let r = partner_cli(&p, "weibo", &respond);
    assert_eq!(
        (r["state"].as_str(), r["unchanged"].as_bool()),
        (Some("answered"), Some(false))
    );
    assert_eq!(
        partner_cli(&p, "weibo", &respond)["unchanged"],
        true,
        "the same response twice changes nothing"
    );
    let e = p
        .cli_as(GATEWAY, "partner-weibo")
        .args(["disposal", "respond", &a1, "--outcome", "no-action"])
        .run()
        .err();
    assert!(e.contains("answered already"), "{e}");
    // B's request about the same URL shares the outcome: B sees it too.
    let at_b = wait_state(&p, B, &b1, "answered");
    assert_eq!(at_b["outcome"]["outcome"], "removed", "{at_b:#}");
    assert!(
        at_b["outcome"]["reason"]
            .as_str()
            .unwrap()
            .contains("shared outcome"),
        "{at_b:#}"
    );
    // The partner answering the shared request the same way again changes nothing.
    let again = [
        "disposal",
        "respond",
        &b1,
        "--outcome",
        "removed",
        "--reason",
        "false information",
        "--reference",
        "WB-2026-0042",
    ];
    assert_eq!(partner_cli(&p, "weibo", &again)["unchanged"], true);
    // The label request was not settled by the take-down's answer.
    let a3_at_gw = json(&p, GATEWAY, &["disposal", "show", &a3]);
    assert!(a3_at_gw["outcome"].is_null(), "{a3_at_gw:#}");
    let at_a = wait_state(&p, A, &a1, "answered");
    assert_eq!(at_a["outcome"]["outcome"], "removed");
    assert_eq!(at_a["outcome"]["reference"], "WB-2026-0042");
    assert!(
        at_a["delivered_at"].is_string() && at_a["acknowledged_at"].is_string(),
        "{at_a:#}"
    );
    let kinds = history(&at_a, "kind");
    assert_eq!(
        kinds,
        ["filed", "relayed", "delivered", "acknowledged", "answered"],
        "{at_a:#}"
    );
    // The partner's figures follow.
    let weibo_figures = json(&p, GATEWAY, &["partner", "show", "weibo"]);
    assert_eq!(
        (
            weibo_figures["delivered"].as_u64(),
            weibo_figures["acknowledged"].as_u64(),
            weibo_figures["answered"].as_u64()
        ),
        (Some(3), Some(2), Some(2)),
        "{weibo_figures:#}"
    );
    // B's request stays B's; A sees only its own.
    let mine: Vec<String> = json(&p, A, &["disposal", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(mine, [a3.clone(), a2.clone(), a1.clone()]);

    // A withdrawal reaches the partner; a partner's answer after it is refused.
    let w = json(
        &p,
        A,
        &["disposal", "withdraw", &a2, "--reason", "resolved locally"],
    );
    assert_eq!(w["state"], "withdrawn");
    let after = douyin[0]["cursor"].as_u64().unwrap();
    let next = wait_inbox(&p, "douyin", after, 1);
    assert_eq!(
        (next[0]["kind"].as_str(), next[0]["request"]["id"].as_str()),
        (Some("withdrawal"), Some(a2.as_str()))
    );
    let e = p
        .cli_as(GATEWAY, "partner-douyin")
        .args(["disposal", "respond", &a2, "--outcome", "removed"])
        .run()
        .err();
    assert!(e.contains("withdrawn"), "{e}");

    // A disabled partner is refused.
    json(&p, GATEWAY, &["partner", "disable", "douyin"]);
    let e = p
        .cli_as(GATEWAY, "partner-douyin")
        .args(["disposal", "inbox"])
        .run()
        .err();
    assert!(e.contains("disabled"), "{e}");
}

#[test]
fn manual_review_holds_a_request_until_approved() {
    let p = TestProvince::new("51")
        .county(A)
        .gateway_config("[disposal]\nreview = \"manual\"\n")
        .start();
    register(&p, "weibo");
    let held = file(&p, A, "weibo", "https://weibo.example/status/7");
    let rejected = file(&p, A, "weibo", "https://weibo.example/status/8");
    wait_state(&p, GATEWAY, &held, "in-review");
    wait_state(&p, GATEWAY, &rejected, "in-review");
    let review = json(&p, GATEWAY, &["disposal", "review"]);
    assert_eq!(review.as_array().unwrap().len(), 2, "{review:#}");
    assert!(
        inbox(&p, "weibo", 0).is_empty(),
        "nothing reaches the partner before review"
    );
    wait_state(&p, A, &held, "in-review");

    json(
        &p,
        GATEWAY,
        &[
            "disposal",
            "reject",
            &rejected,
            "--note",
            "not our jurisdiction",
        ],
    );
    json(
        &p,
        GATEWAY,
        &["disposal", "approve", &held, "--note", "urgent"],
    );
    let got = wait_inbox(&p, "weibo", 0, 1);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["request"]["id"], held.as_str());
    let r = wait_state(&p, A, &rejected, "rejected");
    let notes = history(&r, "note");
    assert!(notes.contains(&"not our jurisdiction"), "{r:#}");
    // Approving twice, or a county approving, is refused.
    let e = p
        .gateway_cli()
        .args(["disposal", "approve", &held])
        .run()
        .err();
    assert!(e.contains("in review"), "{e}");
    let e = p.cli(A).args(["disposal", "approve", &held]).run().err();
    assert!(e.contains("gateway"), "{e}");
}

#[test]
fn a_request_past_its_deadline_without_an_outcome_is_overdue_at_the_gateway() {
    let p = TestProvince::new("51").county(A).start();
    register(&p, "weibo");
    file(&p, A, "weibo", "https://weibo.example/status/1"); // once the partner is known
    let late = json(
        &p,
        A,
        &[
            "disposal",
            "request",
            "--partner",
            "weibo",
            "--url",
            "https://weibo.example/status/2",
            "--action",
            "respond",
            "--reason",
            "r",
            "--legal-basis",
            "l",
            "--deadline",
            "2s",
        ],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let overdue = wait::until(
        "the request overdue",
        SYNC_TIMEOUT,
        Duration::from_millis(200),
        || {
            let list = json(&p, GATEWAY, &["disposal", "list", "--state", "overdue"]);
            let ids: Vec<String> = list
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned())
                .collect();
            if ids == [late.clone()] {
                Ok(list)
            } else {
                Err(format!("{ids:?}"))
            }
        },
    );
    assert_eq!(overdue[0]["overdue"], true);
    // Escalated to the gateway's report list, once, and marked on the request.
    let report = wait::until(
        "the overdue request in the gateway's report list",
        SYNC_TIMEOUT,
        Duration::from_millis(200),
        || {
            let reports = json(&p, GATEWAY, &["report", "list", "--awaiting"]);
            let escalations: Vec<&Value> = reports
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["disposal"] == late.as_str())
                .collect();
            match escalations.as_slice() {
                [one] => Ok((*one).clone()),
                other => Err(format!("{other:?}")),
            }
        },
    );
    let report_id = report["id"].as_str().unwrap().to_owned();
    assert!(report_id.starts_with("51-r"), "{report:#}");
    assert_eq!(report["automatic"], true);
    assert!(
        report["summary"].as_str().unwrap().contains("overdue"),
        "{report:#}"
    );
    let shown = json(&p, GATEWAY, &["disposal", "show", &late]);
    assert_eq!(shown["escalated_report"], report_id.as_str(), "{shown:#}");
    let steps = history(&shown, "kind");
    assert_eq!(
        steps.iter().filter(|k| **k == "escalated").count(),
        1,
        "{steps:?}"
    );
    // The escalation is the province's own: it stays at the gateway.
    let county_reports = json(&p, A, &["report", "list"]);
    assert!(
        !county_reports.to_string().contains(&report_id),
        "{county_reports:#}"
    );
    json(
        &p,
        GATEWAY,
        &["report", "ack", &report_id, "--note", "calling weibo"],
    );
    let awaiting = json(&p, GATEWAY, &["report", "list", "--awaiting"]);
    assert!(!awaiting.to_string().contains(&report_id), "{awaiting:#}");
    let all = json(&p, GATEWAY, &["report", "list"]);
    let escalations = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["disposal"] == late.as_str())
        .count();
    assert_eq!(escalations, 1, "{all:#}");
    let figures = json(&p, GATEWAY, &["partner", "show", "weibo"]);
    assert!(figures.to_string().contains("\"delivered\""), "{figures:#}");
    // An outcome, even late, ends it.
    partner_cli(
        &p,
        "weibo",
        &["disposal", "respond", &late, "--outcome", "responded"],
    );
    let list = json(&p, GATEWAY, &["disposal", "list", "--state", "overdue"]);
    assert!(list.as_array().unwrap().is_empty(), "{list:#}");
}

/// The next message of a live partner stream.
async fn next_message(stream: &mut tonic::Streaming<v1::PartnerMessage>) -> v1::PartnerMessage {
    tokio::time::timeout(SYNC_TIMEOUT, stream.message())
        .await
        .expect("a message before the timeout")
        .expect("the stream healthy")
        .expect("the stream still open")
}

async fn subscribe(p: &Province, cursor: u64) -> tonic::Streaming<v1::PartnerMessage> {
    PartnerServiceClient::new(p.channel_as(GATEWAY, "partner-weibo").await)
        .subscribe(v1::SubscribeRequest { cursor })
        .await
        .expect("subscribed")
        .into_inner()
}

#[test]
fn a_partner_whose_live_stream_breaks_resumes_from_its_cursor_exactly_once() {
    let mut p = TestProvince::new("51").county(A).start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    register(&p, "weibo");
    let first = file(&p, A, "weibo", "https://weibo.example/status/11");
    let mut stream = rt.block_on(subscribe(&p, 0));
    let mut got = vec![rt.block_on(next_message(&mut stream))];
    // Filed while the stream is open: it arrives live.
    let second = file(&p, A, "weibo", "https://weibo.example/status/12");
    got.push(rt.block_on(next_message(&mut stream)));

    // The gateway dies under the open stream, which ends in an error, not silence.
    p.kill9(GATEWAY);
    let end = rt.block_on(async { tokio::time::timeout(SYNC_TIMEOUT, stream.message()).await });
    assert!(
        matches!(end, Ok(Err(_)) | Ok(Ok(None))),
        "the stream should end with the gateway: {end:?}"
    );
    // Meanwhile the county files another and withdraws the first.
    let third = file(&p, A, "weibo", "https://weibo.example/status/13");
    json(
        &p,
        A,
        &[
            "disposal",
            "withdraw",
            &first,
            "--reason",
            "posted in error",
        ],
    );
    p.restart(GATEWAY);

    // The partner resumes from the last cursor it handled: the rest, once.
    let cursor = got.last().map(|m| m.cursor).unwrap();
    let mut stream = rt.block_on(subscribe(&p, cursor));
    got.push(rt.block_on(next_message(&mut stream)));
    got.push(rt.block_on(next_message(&mut stream)));
    let extra =
        rt.block_on(async { tokio::time::timeout(Duration::from_secs(2), stream.message()).await });
    assert!(extra.is_err(), "nothing more was due: {extra:?}");

    let cursors: Vec<u64> = got.iter().map(|m| m.cursor).collect();
    assert!(
        cursors.windows(2).all(|w| w[0] < w[1]),
        "cursors rise: {cursors:?}"
    );
    let mut seen: Vec<(String, String)> = got
        .iter()
        .map(|m| {
            let id = m.request.as_ref().map(|r| r.id.clone()).unwrap_or_default();
            (m.kind.clone(), id)
        })
        .collect();
    assert_eq!(
        seen[..2],
        [
            ("request".to_owned(), first.clone()),
            ("request".to_owned(), second.clone())
        ]
    );
    seen.sort();
    let mut want = vec![
        ("request".to_owned(), first.clone()),
        ("request".to_owned(), second),
        ("request".to_owned(), third),
        ("withdrawal".to_owned(), first),
    ];
    want.sort();
    assert_eq!(seen, want);
}
