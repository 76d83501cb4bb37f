//! Counties by name in the CLI's listings, end to end: alerts, reports, directives,
//! consultations and disposal requests show `锦江试点区 510104` (name, then code) where they
//! named a county by its code, with the name the county's certificate carries (the nodes learn
//! it through the province's directory; the replies carry it in `county_names`), else the
//! GB/T 2260 table's; their `--json` keeps the code with a `*_name` beside it. `fenghuo ca
//! list` shows each unit by the name in its certificate, else the table's.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use fenghuo_tests::cli::Cli;
use fenghuo_tests::province::{Province, TestProvince, GATEWAY, SYNC_TIMEOUT};
use fenghuo_tests::wait;
use serde_json::Value;

const A: &str = "510104";
const B: &str = "510105";
/// A's name in its certificate: not the table's 锦江区, so what is shown can only come from
/// the certificate.
const A_NAME: &str = "锦江试点区";
const A_SHOWN: &str = "锦江试点区 510104";
/// A as the table would show it: never, once the certificate's name is known.
const A_BY_TABLE: &str = "锦江区 510104";
/// B has no name in its certificate: the table's.
const B_SHOWN: &str = "青羊区 510105";

/// `args` at `member` as text, retried until it contains every one of `wanted`.
fn text_with(p: &Province, member: &str, args: &[&str], wanted: &[&str]) -> String {
    wait::until(
        &format!("{member}'s `{}` to show {wanted:?}", args.join(" ")),
        SYNC_TIMEOUT,
        Duration::from_millis(200),
        || {
            let text = p.cli(member).args(args).run().ok().stdout;
            if wanted.iter().all(|w| text.contains(w)) {
                Ok(text)
            } else {
                Err(text)
            }
        },
    )
}

/// `args --json` at `member`.
fn json(p: &Province, member: &str, args: &[&str]) -> Value {
    p.cli(member).args(args).arg("--json").run().ok().json()
}

/// The item of a `--json` list with this id.
fn item<'a>(list: &'a Value, id: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {list:#}"))
}

#[test]
fn alerts_reports_directives_consultations_and_disposal_requests_show_counties_by_name() {
    let p = TestProvince::new("51")
        .county_named(A, A_NAME)
        .county(B)
        .neighbours(A, B)
        .start();

    // An alert from A to its neighbours: B lists and shows it by A's certificate name.
    let alert = json(
        &p,
        A,
        &[
            "alert",
            "issue",
            "--headline",
            "Gathering called online",
            "--severity",
            "严重",
            "--urgency",
            "expected",
            "--certainty",
            "likely",
            "--audience",
            "neighbours",
            "--affected",
            B,
        ],
    );
    let id = alert["id"].as_str().unwrap().to_owned();
    assert_eq!(alert["issuer"], A);
    let list = text_with(&p, B, &["alert", "list"], &[&id, A_SHOWN]);
    assert!(!list.contains(A_BY_TABLE), "{list}");
    let listed = json(&p, B, &["alert", "list"]);
    let listed = item(&listed, &id);
    assert_eq!(listed["issuer"], A, "{listed:#}");
    assert_eq!(listed["issuer_name"], A_NAME, "{listed:#}");
    let shown = p.cli(B).args(["alert", "show", &id]).run().ok().stdout;
    assert!(
        shown.contains(A_SHOWN) && shown.contains(B_SHOWN) && !shown.contains(A_BY_TABLE),
        "issuer and affected by name: {shown}"
    );
    assert_eq!(json(&p, B, &["alert", "show", &id])["issuer_name"], A_NAME);

    // A learns its own name through the directory too; its receipts show B by the table's.
    wait::until(
        "A to show its alert by its certificate's name",
        SYNC_TIMEOUT,
        Duration::from_millis(200),
        || {
            let a = json(&p, A, &["alert", "show", &id]);
            if a["issuer_name"] == A_NAME {
                Ok(())
            } else {
                Err(a.to_string())
            }
        },
    );
    let shown = p.cli(A).args(["alert", "show", &id]).run().ok().stdout;
    assert!(
        shown.contains(A_SHOWN) && shown.contains(B_SHOWN),
        "issuer, receipt and affected by name: {shown}"
    );
    let a = json(&p, A, &["alert", "show", &id]);
    assert_eq!(a["receipts"][0]["county"], B, "{a:#}");
    assert_eq!(a["receipts"][0]["county_name"], "青羊区", "{a:#}");

    // Watch at B: the alert arrived from A, by name.
    let watched = p
        .cli(B)
        .args(["alert", "watch", "--from-start", "--count", "1"])
        .timeout(SYNC_TIMEOUT)
        .run()
        .ok()
        .stdout;
    assert!(watched.contains(&format!("from {A_SHOWN}")), "{watched}");
    let watched = p
        .cli(B)
        .args(["alert", "watch", "--from-start", "--count", "1", "--json"])
        .timeout(SYNC_TIMEOUT)
        .run()
        .ok()
        .json();
    assert_eq!(watched["origin_name"], A_NAME, "{watched:#}");

    // An alert from B: its receipt for A is shown by A's certificate name.
    let from_b = json(
        &p,
        B,
        &[
            "alert",
            "issue",
            "--headline",
            "Crowd dispersing",
            "--severity",
            "minor",
            "--urgency",
            "expected",
            "--certainty",
            "likely",
            "--audience",
            "neighbours",
        ],
    );
    assert!(
        from_b["receipts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["county"] == A && r["county_name"] == A_NAME),
        "{from_b:#}"
    );
    let bid = from_b["id"].as_str().unwrap();
    let shown = p.cli(B).args(["alert", "show", bid]).run().ok().stdout;
    assert!(
        shown.contains(A_SHOWN) && shown.contains(B_SHOWN),
        "receipt and issuer by name: {shown}"
    );

    // A report from A: the gateway lists it by A's certificate name.
    let report = json(&p, A, &["report", "file", "--summary", "Crowd expected"]);
    let rid = report["id"].as_str().unwrap().to_owned();
    assert_eq!(report["origin_name"], A_NAME);
    let reports = text_with(&p, GATEWAY, &["report", "list"], &[&rid, A_SHOWN]);
    assert!(!reports.contains(A_BY_TABLE), "{reports}");
    let reports = json(&p, GATEWAY, &["report", "list"]);
    assert_eq!(item(&reports, &rid)["origin_name"], A_NAME, "{reports:#}");
    let mine = text_with(&p, A, &["report", "list"], &[&rid]);
    assert!(mine.contains(A_SHOWN), "{mine}");

    // A directive and a consultation to A and B: each county's answer row by name.
    for (group, verb, text) in [
        ("directive", "issue", "--text"),
        ("consult", "open", "--question"),
    ] {
        let d = p
            .gateway_cli()
            .args([
                group,
                verb,
                text,
                "Report on the square",
                "--deadline",
                "1d",
            ])
            .args(["--to", &format!("{A},{B}"), "--json"])
            .run()
            .ok()
            .json();
        let did = d["id"].as_str().unwrap().to_owned();
        let shown = p
            .gateway_cli()
            .args([group, "show", &did])
            .run()
            .ok()
            .stdout;
        assert!(
            shown.contains(A_SHOWN) && shown.contains(B_SHOWN) && !shown.contains(A_BY_TABLE),
            "{group} show: {shown}"
        );
        let by_name = |responses: &Value| {
            let responses = responses.as_array().unwrap();
            responses
                .iter()
                .any(|r| r["county"] == A && r["county_name"] == A_NAME)
                && responses
                    .iter()
                    .any(|r| r["county"] == B && r["county_name"] == "青羊区")
        };
        let one = json(&p, GATEWAY, &[group, "show", &did]);
        assert!(by_name(&one["responses"]), "{group} show --json: {one:#}");
        let listed = json(&p, GATEWAY, &[group, "list"]);
        let responses = &item(&listed, &did)["responses"];
        assert!(by_name(responses), "{group} list --json: {responses:#}");
    }

    // A disposal request from A: A and the gateway list it by A's certificate name.
    p.pki().issue_partner("weibo");
    json(
        &p,
        GATEWAY,
        &["partner", "add", "weibo", "--display-name", "Weibo"],
    );
    let xid = p.file_disposal(
        A,
        &[
            "--partner",
            "weibo",
            "--url",
            "https://weibo.example/p/1",
            "--action",
            "take-down",
            "--reason",
            "Fabricated casualty figures",
            "--legal-basis",
            "Provisions on the Governance of the Online Information Content Ecosystem, art. 6",
            "--deadline",
            "24h",
        ],
    );
    for member in [A, GATEWAY] {
        let list = text_with(&p, member, &["disposal", "list"], &[&xid, A_SHOWN]);
        assert!(!list.contains(A_BY_TABLE), "{member}: {list}");
        let list = json(&p, member, &["disposal", "list"]);
        let r = item(&list, &xid);
        assert_eq!(r["requester"], A, "{member}: {r:#}");
        assert_eq!(r["requester_name"], A_NAME, "{member}: {r:#}");
    }
    let shown = p.cli(A).args(["disposal", "show", &xid]).run().ok().stdout;
    assert!(shown.contains(A_SHOWN), "{shown}");
}

#[test]
fn ca_list_shows_the_name_in_the_certificate_else_the_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    let ca = |args: &[&str]| {
        Cli::new()
            .arg("ca")
            .args(args)
            .args(["--dir", dir])
            .run()
            .ok()
    };
    ca(&["init", "--province", "51"]);
    ca(&["issue", "county", A, "--name", "锦江试点区"]);
    ca(&["issue", "county", B]);
    ca(&["issue", "staff", A, "zhang"]);
    ca(&["issue", "partner", "weibo"]);
    let text = ca(&["list"]).stdout;
    assert_eq!(text.matches("锦江试点区 510104").count(), 2, "{text}");
    assert!(text.contains(B_SHOWN), "{text}");
    let json = ca(&["list", "--json"]).json();
    let names: Vec<_> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["stem"].as_str().unwrap(), r["unit_name"].clone()))
        .collect();
    assert!(
        names.contains(&("county-510104", "锦江试点区".into())),
        "{names:?}"
    );
    assert!(
        names.contains(&("county-510105", "青羊区".into())),
        "{names:?}"
    );
    assert!(
        names.contains(&("partner-weibo", serde_json::Value::Null)),
        "{names:?}"
    );
    // The record's own fields are still there.
    assert!(json[0]["serial"].is_string() && json[0]["identity"].is_string());
}
