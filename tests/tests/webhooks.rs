//! Disposal requests delivered to a partner's webhook: signed JSON POSTs taken exactly once
//! (a partner down for a while gets everything on return, retried with backoff), every
//! attempt visible at the gateway; the receiver refuses a bad signature and a replayed
//! timestamp; the partner answers through the gateway's signed HTTPS callback.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use fenghuo_node::disposal::signature;
use fenghuo_tests::partner_sim::WebhookPartner;
use fenghuo_tests::province::{Province, TestProvince, GATEWAY, SYNC_TIMEOUT};
use fenghuo_tests::wait;
use fenghuo_tests::web::Web;
use serde_json::Value;

const A: &str = "510104";
const SECRET: &[u8] = b"kuaishou-shared-secret-0123456789abcdef";

fn json(p: &Province, name: &str, args: &[&str]) -> Value {
    p.cli(name).args(args).arg("--json").run().ok().json()
}

fn file(p: &Province, url: &str) -> String {
    p.file_disposal(
        A,
        &[
            "--partner",
            "kuaishou",
            "--url",
            url,
            "--action",
            "label",
            "--reason",
            "Unverified claim of a chemical leak",
            "--legal-basis",
            "rule 6",
            "--deadline",
            "1h",
        ],
    )
}

fn wait_taken(sim: &WebhookPartner, n: usize) -> Vec<Value> {
    wait::until(
        "deliveries at the partner",
        SYNC_TIMEOUT,
        Duration::from_millis(100),
        || {
            let t = sim.taken();
            if t.len() >= n {
                Ok(t)
            } else {
                Err(format!("{} of {n}", t.len()))
            }
        },
    )
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn webhooks_deliver_exactly_once_through_an_outage_and_callbacks_answer() {
    let sim = WebhookPartner::start(SECRET);
    let p = TestProvince::new("51")
        .county(A)
        .dashboard()
        .gateway_config(&format!(
            "[disposal]\nwebhook_ca = {:?}\nallow_private_webhooks = true\n",
            sim.ca()
        ))
        .start();
    let secret_file = p.dir().join("kuaishou.secret");
    std::fs::write(&secret_file, SECRET).unwrap();
    p.gateway_cli()
        .args([
            "partner",
            "add",
            "kuaishou",
            "--display-name",
            "Kuaishou",
            "--webhook",
            &sim.url(),
            "--secret-file",
        ])
        .arg(&secret_file)
        .run()
        .ok();

    let first = file(&p, "https://kuaishou.example/v/1");
    let got = wait_taken(&sim, 1);
    assert_eq!(got[0]["type"], "request");
    assert_eq!(got[0]["request"]["id"], first.as_str());
    assert_eq!(
        got[0]["request"]["urls"],
        serde_json::json!(["https://kuaishou.example/v/1"])
    );
    assert_eq!(got[0]["request"]["action"], "label");
    let shown = wait::until(
        "the delivery recorded",
        SYNC_TIMEOUT,
        Duration::from_millis(100),
        || {
            let r = json(&p, GATEWAY, &["disposal", "show", &first]);
            if r["state"] == "delivered" {
                Ok(r)
            } else {
                Err(r["state"].to_string())
            }
        },
    );
    let attempts: Vec<&str> = shown["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["kind"] == "attempt")
        .map(|h| h["note"].as_str().unwrap())
        .collect();
    assert_eq!(attempts, ["request: HTTP 200"], "{shown:#}");

    // The partner is down for a while: what is filed meanwhile is retried, and taken once
    // each when it is back.
    sim.set_down(true);
    let second = file(&p, "https://kuaishou.example/v/2");
    let third = file(&p, "https://kuaishou.example/v/3");
    wait::until(
        "failed attempts",
        SYNC_TIMEOUT,
        Duration::from_millis(100),
        || {
            let r = json(&p, GATEWAY, &["disposal", "show", &second]);
            let failed = r["history"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|h| h["note"].as_str().unwrap_or_default().contains("HTTP 503"))
                .count();
            if failed >= 2 {
                Ok(())
            } else {
                Err(format!("{failed} failed attempts"))
            }
        },
    );
    sim.set_down(false);
    let got = wait_taken(&sim, 3);
    // Each message is retried on its own: the two filed meanwhile come in either order.
    let mut ids: Vec<&str> = got
        .iter()
        .map(|m| m["request"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids[0], first.as_str());
    ids.sort();
    let mut want = vec![first.as_str(), second.as_str(), third.as_str()];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(sim.repeats(), 0, "each delivery taken once");
    assert_eq!(sim.refused(), 0, "every signature held");

    // The receiver refuses a forged signature and a replayed (stale) timestamp.
    let base = sim.url().split("/hooks").next().unwrap().to_owned();
    let mut attacker = Web::new(&base, &sim.ca());
    let body = got[0].to_string();
    let signed = |secret: &[u8], id: &str, at: i64, body: &str| {
        vec![
            (signature::ID_HEADER.to_owned(), id.to_owned()),
            (signature::TIMESTAMP_HEADER.to_owned(), at.to_string()),
            (
                signature::SIGNATURE_HEADER.to_owned(),
                signature::sign(&[secret], id, at, body.as_bytes()).unwrap(),
            ),
        ]
    };
    let post_to = |w: &mut Web, path: &str, headers: Vec<(String, String)>, body: &str| {
        let h: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        w.post_raw(path, &h, body)
    };
    let forged = post_to(
        &mut attacker,
        "/hooks/fenghuo",
        signed(b"a guessed secret", "forged:request", now_s(), &body),
        &body,
    );
    assert_eq!(forged.status, 401, "{}", forged.body);
    let replayed = post_to(
        &mut attacker,
        "/hooks/fenghuo",
        signed(SECRET, "replayed:request", now_s() - 3600, &body),
        &body,
    );
    assert_eq!(replayed.status, 401, "{}", replayed.body);
    assert_eq!(sim.refused(), 2);
    assert_eq!(sim.taken().len(), 3, "nothing forged was taken");

    // The partner answers through the gateway's signed callback.
    let mut partner = Web::new(&p.dashboard_url(), &p.pki().web_ca_cert());
    let answer = serde_json::json!({
        "id": first, "outcome": "labelled", "reason": "marked as unverified", "reference": "KS-77",
    })
    .to_string();
    let signed = |secret: &[u8], at: i64| signed(secret, "msg_answer_1", at, &answer);
    let post = |w: &mut Web, headers: Vec<(String, String)>| {
        post_to(w, "/partner-api/kuaishou/respond", headers, &answer)
    };
    assert_eq!(
        post(&mut partner, signed(b"wrong secret", now_s())).status,
        401
    );
    assert_eq!(
        post(&mut partner, signed(SECRET, now_s() - 3600)).status,
        401
    );
    let ok = post(&mut partner, signed(SECRET, now_s()));
    assert_eq!(ok.status, 200, "{}", ok.body);
    let receipt: Value = serde_json::from_str(&ok.body).unwrap();
    assert_eq!(
        (receipt["state"].as_str(), receipt["unchanged"].as_bool()),
        (Some("answered"), Some(false))
    );
    let again: Value =
        serde_json::from_str(&post(&mut partner, signed(SECRET, now_s())).body).unwrap();
    assert_eq!(again["unchanged"], true);
    let at_a = wait::until(
        "the outcome at the county",
        SYNC_TIMEOUT,
        Duration::from_millis(100),
        || {
            let r = json(&p, A, &["disposal", "show", &first]);
            if r["state"] == "answered" {
                Ok(r)
            } else {
                Err(r["state"].to_string())
            }
        },
    );
    assert_eq!(at_a["outcome"]["outcome"], "labelled");
    assert_eq!(at_a["outcome"]["reference"], "KS-77");

    // A withdrawal is delivered too.
    json(
        &p,
        A,
        &["disposal", "withdraw", &third, "--reason", "duplicate"],
    );
    let got = wait_taken(&sim, 4);
    assert_eq!(
        (got[3]["type"].as_str(), got[3]["request"]["id"].as_str()),
        (Some("withdrawal"), Some(third.as_str()))
    );
}
