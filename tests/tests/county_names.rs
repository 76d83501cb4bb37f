//! Counties by name in the CLI's listings, end to end: alerts, reports, directives and
//! consultations show `锦江区 510104` (name, then code) where they named a county by its code,
//! their `--json` keeps the code with a `*_name` beside it; `fenghuo ca list` shows each
//! unit by the name in its certificate, else the GB/T 2260 table's.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use fenghuo_tests::cli::Cli;
use fenghuo_tests::province::{TestProvince, SYNC_TIMEOUT};
use fenghuo_tests::wait;

const A: &str = "510104";
const B: &str = "510105";
const A_SHOWN: &str = "锦江区 510104";
const B_SHOWN: &str = "青羊区 510105";

#[test]
fn alerts_reports_directives_and_consultations_show_counties_by_name_and_code() {
    let p = TestProvince::new("51")
        .county(A)
        .county(B)
        .neighbours(A, B)
        .start();

    // An alert from A to its neighbours: B lists it with A's name; A shows B's receipt by name.
    let alert = p
        .cli(A)
        .args([
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
            "--json",
        ])
        .run()
        .ok()
        .json();
    let id = alert["id"].as_str().unwrap().to_owned();
    assert_eq!(alert["issuer"], A);
    assert_eq!(alert["issuer_name"], "锦江区");
    let list = wait::until(
        "B to list A's alert",
        SYNC_TIMEOUT,
        Duration::from_millis(200),
        || {
            let text = p.cli(B).args(["alert", "list"]).run().ok().stdout;
            if text.contains(&id) {
                Ok(text)
            } else {
                Err(text)
            }
        },
    );
    assert!(list.contains(A_SHOWN), "{list}");
    let shown = p.cli(A).args(["alert", "show", &id]).run().ok().stdout;
    assert!(
        shown.contains(B_SHOWN),
        "receipt and affected by name: {shown}"
    );
    let json = p
        .cli(A)
        .args(["alert", "show", &id, "--json"])
        .run()
        .ok()
        .json();
    assert_eq!(json["receipts"][0]["county"], B, "{json:#}");
    assert_eq!(json["receipts"][0]["county_name"], "青羊区", "{json:#}");
    let watched = p
        .cli(B)
        .args(["alert", "watch", "--from-start", "--count", "1"])
        .timeout(SYNC_TIMEOUT)
        .run()
        .ok()
        .stdout;
    assert!(watched.contains(&format!("from {A_SHOWN}")), "{watched}");

    // A report from A: the gateway lists it by A's name.
    let report = p
        .cli(A)
        .args(["report", "file", "--summary", "Crowd expected", "--json"])
        .run()
        .ok()
        .json();
    let rid = report["id"].as_str().unwrap().to_owned();
    assert_eq!(report["origin_name"], "锦江区");
    let reports = wait::until(
        "the gateway to list A's report",
        SYNC_TIMEOUT,
        Duration::from_millis(200),
        || {
            let text = p.gateway_cli().args(["report", "list"]).run().ok().stdout;
            if text.contains(&rid) {
                Ok(text)
            } else {
                Err(text)
            }
        },
    );
    assert!(reports.contains(A_SHOWN), "{reports}");

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
            shown.contains(A_SHOWN) && shown.contains(B_SHOWN),
            "{group} show: {shown}"
        );
        let listed = p
            .gateway_cli()
            .args([group, "list", "--json"])
            .run()
            .ok()
            .json();
        let responses = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == did.as_str())
            .unwrap()["responses"]
            .clone();
        assert!(
            responses
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["county"] == A && r["county_name"] == "锦江区"),
            "{responses:#}"
        );
    }
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
