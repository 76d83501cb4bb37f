//! Every node's long-running tasks run as named workers (issue 16) and the health views list
//! them: `fenghuo health` (text and `--json`, from `GetHealth`) and the dashboard's health
//! page, on the gateway and on a county.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use fenghuo_tests::province::{Province, TestProvince, GATEWAY};
use fenghuo_tests::web::Web;
use serde_json::Value;

const A: &str = "510104";
const B: &str = "510105";
const PASSWORD: &str = "long enough password";

/// `fenghuo health --json` on `name`: each worker's state by name.
fn workers(p: &Province, name: &str) -> BTreeMap<String, Value> {
    let h = p.cli(name).args(["health", "--json"]).run().ok().json();
    h["workers"]
        .as_array()
        .unwrap_or_else(|| panic!("no workers in {h:#}"))
        .iter()
        .map(|w| (w["name"].as_str().unwrap().to_owned(), w.clone()))
        .collect()
}

/// Asserts `name` runs exactly the workers `expected`, each running since a known time.
fn assert_running(p: &Province, name: &str, expected: &[&str]) {
    let got = workers(p, name);
    let names: Vec<&str> = got.keys().map(String::as_str).collect();
    let mut want = expected.to_vec();
    want.sort_unstable();
    assert_eq!(names, want, "{name}: {got:#?}");
    for (worker, w) in &got {
        assert_eq!(w["state"], "running", "{name} {worker}: {w:#}");
        assert!(w["started_at"].is_string(), "{name} {worker}: {w:#}");
        assert!(w["stopped_at"].is_null(), "{name} {worker}: {w:#}");
        assert!(w["reason"].is_null(), "{name} {worker}: {w:#}");
    }
}

#[test]
fn every_service_runs_as_a_named_worker_that_health_lists() {
    let p = TestProvince::new("51")
        .county(A)
        .county(B)
        .neighbours(A, B)
        .dashboard()
        .start();

    assert_running(
        &p,
        GATEWAY,
        &[
            "alarm-log",
            "disposal-relay",
            "journal",
            "notify",
            "publish",
            "view-applier",
            "webhook-delivery",
        ],
    );
    // A dials the gateway and B (the lower code dials); B dials only the gateway.
    assert_running(
        &p,
        A,
        &[
            "alarm-log",
            "intake-publish",
            "intake-purge",
            "journal",
            "notify",
            "sync-link county/510105",
            "sync-link province/51",
            "view-applier",
        ],
    );
    assert_running(
        &p,
        B,
        &[
            "alarm-log",
            "intake-publish",
            "intake-purge",
            "journal",
            "notify",
            "sync-link province/51",
            "view-applier",
        ],
    );

    // The text output has a line per worker, and no alarm for any.
    let text = p.cli(A).args(["health"]).run().ok().stdout;
    assert!(
        text.contains("worker sync-link county/510105: running since "),
        "{text}"
    );
    assert!(text.contains("worker journal: running since "), "{text}");
    assert!(!text.contains("ALARM"), "{text}");

    // The health page shows them with their Chinese labels first.
    p.add_staff("ada", "admin", PASSWORD);
    let mut w = Web::new(&p.dashboard_url(), &p.pki().web_ca_cert());
    assert_eq!(w.sign_in("ada", PASSWORD).status, 303);
    let page = w.get("/health");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("后台任务"), "{}", page.body);
    for worker in ["journal", "webhook-delivery", "disposal-relay", "publish"] {
        assert!(
            page.body.contains(&format!("data-worker=\"{worker}\"")),
            "no row for {worker}: {}",
            page.body
        );
    }
    assert!(page.body.contains("运行中"), "{}", page.body);
    assert!(!page.body.contains("故障"), "{}", page.body);
    let en = w.get("/health?lang=en");
    assert!(
        en.body.contains("<h2>Workers</h2>") && en.body.contains("running"),
        "{}",
        en.body
    );
}
