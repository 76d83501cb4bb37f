//! Hardened partner delivery: one message a partner keeps refusing holds back no other, a
//! final 4xx ends a message and says so in its history; a replaced secret takes effect at
//! once for deliveries and callbacks, with the old one still valid for an overlap; the
//! maintained Python `standardwebhooks` library verifies deliveries and signs callbacks in one
//! call; webhooks into internal addresses are refused unless the configuration allows them.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use fenghuo_node::disposal::signature;
use fenghuo_tests::partner_sim::{PythonPartner, WebhookPartner};
use fenghuo_tests::province::{Province, TestProvince, GATEWAY, SYNC_TIMEOUT};
use fenghuo_tests::wait;
use fenghuo_tests::web::Web;
use serde_json::Value;

const A: &str = "510104";
const OLD: [u8; 32] = [11; 32];
const NEW: [u8; 32] = [22; 32];

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

fn add_partner(p: &Province, url: &str, secret_file: &std::path::Path, replace: bool) {
    let mut cli = p.gateway_cli();
    cli = cli.args([
        "partner",
        "add",
        "kuaishou",
        "--display-name",
        "Kuaishou",
        "--webhook",
        url,
        "--secret-file",
    ]);
    cli = cli.arg(secret_file);
    if replace {
        cli = cli.arg("--replace");
    }
    cli.run().ok();
}

fn province(ca: &std::path::Path, allow_private: bool) -> Province {
    TestProvince::new("51")
        .county(A)
        .dashboard()
        .gateway_config(&format!(
            "[disposal]\nwebhook_ca = {ca:?}\nallow_private_webhooks = {allow_private}\n"
        ))
        .start()
}

/// The gateway's history notes of `kind` for request `id` (none while it has not reached
/// the gateway).
fn notes(p: &Province, id: &str, kind: &str) -> Vec<String> {
    let out = p
        .cli(GATEWAY)
        .args(["disposal", "show", id, "--json"])
        .run();
    if !out.status.success() {
        return Vec::new();
    }
    out.json()["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["kind"] == kind)
        .map(|h| h["note"].as_str().unwrap().to_owned())
        .collect()
}

fn wait_taken_id(sim: &WebhookPartner, id: &str, kind: &str) {
    wait::until(
        &format!("{id} {kind} taken"),
        SYNC_TIMEOUT,
        Duration::from_millis(100),
        || {
            let taken = sim.taken();
            if taken
                .iter()
                .any(|m| m["request"]["id"] == id && m["type"] == kind)
            {
                Ok(())
            } else {
                Err(format!("{} taken", taken.len()))
            }
        },
    )
}

fn signed_post(w: &mut Web, path: &str, key: &[u8], body: &str) -> fenghuo_tests::web::Reply {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let sig = signature::sign(&[key], "msg_cb", now, body.as_bytes()).unwrap();
    let ts = now.to_string();
    w.post_raw(
        path,
        &[
            (signature::ID_HEADER, "msg_cb"),
            (signature::TIMESTAMP_HEADER, &ts),
            (signature::SIGNATURE_HEADER, &sig),
        ],
        body,
    )
}

#[test]
fn each_message_retries_alone_a_final_refusal_ends_it_and_secret_rotation_overlaps() {
    let sim = WebhookPartner::start(&OLD);
    let p = province(&sim.ca(), true);
    let old_file = p.dir().join("old.secret");
    // A raw secret file (from before the whsec_ form) keeps working.
    std::fs::write(&old_file, OLD).unwrap();
    add_partner(&p, &sim.url(), &old_file, false);

    // The partner keeps failing one request (503): the next is taken all the same.
    sim.refuse("https://kuaishou.example/v/1", 503);
    let stuck = file(&p, "https://kuaishou.example/v/1");
    let next = file(&p, "https://kuaishou.example/v/2");
    wait_taken_id(&sim, &next, "request");
    wait::until(
        "the stuck request retried",
        SYNC_TIMEOUT,
        Duration::from_millis(100),
        || {
            let n = sim.posts(&stuck);
            if n >= 2 {
                Ok(())
            } else {
                Err(format!("{n} posts"))
            }
        },
    );

    // A 422 is final: one attempt, "delivery failed" in the history, no retry.
    sim.refuse("https://kuaishou.example/v/3", 422);
    let refused = file(&p, "https://kuaishou.example/v/3");
    let failed = wait::until(
        "the final refusal recorded",
        SYNC_TIMEOUT,
        Duration::from_millis(100),
        || {
            let n = notes(&p, &refused, "delivery failed");
            if n.is_empty() {
                Err("not yet".to_owned())
            } else {
                Ok(n)
            }
        },
    );
    assert!(failed[0].contains("HTTP 422"), "{failed:?}");
    let after = file(&p, "https://kuaishou.example/v/4");
    wait_taken_id(&sim, &after, "request");
    assert_eq!(sim.posts(&refused), 1, "a final refusal is not retried");
    assert_eq!(
        json(&p, GATEWAY, &["disposal", "show", &refused])["state"],
        "relayed"
    );

    // The secret is replaced (same URL, whsec_ form): deliveries are signed with both at
    // once, so a partner still verifying with the old one takes them …
    let new_file = p.dir().join("new.secret");
    std::fs::write(&new_file, signature::format_secret(&NEW)).unwrap();
    add_partner(&p, &sim.url(), &new_file, true);
    let rotated = file(&p, "https://kuaishou.example/v/5");
    wait_taken_id(&sim, &rotated, "request");
    // … and one verifying with the new one only takes them too, without a restart.
    sim.set_keys(&[&NEW]);
    let rotated2 = file(&p, "https://kuaishou.example/v/6");
    wait_taken_id(&sim, &rotated2, "request");
    assert_eq!(sim.refused(), 0, "every signature held across the rotation");

    // Callbacks are checked against the new secret and, during the overlap, the old one.
    let mut partner = Web::new(&p.dashboard_url(), &p.pki().web_ca_cert());
    let ack = |id: &str| format!(r#"{{"id": "{id}"}}"#);
    assert_eq!(
        signed_post(
            &mut partner,
            "/partner-api/kuaishou/acknowledge",
            &NEW,
            &ack(&rotated)
        )
        .status,
        200
    );
    assert_eq!(
        signed_post(
            &mut partner,
            "/partner-api/kuaishou/acknowledge",
            &OLD,
            &ack(&rotated2)
        )
        .status,
        200
    );
    assert_eq!(
        signed_post(
            &mut partner,
            "/partner-api/kuaishou/acknowledge",
            &[33; 32],
            &ack(&next)
        )
        .status,
        401
    );
    // Not found is the same for a request that does not exist and one not relayed to it.
    let missing = signed_post(
        &mut partner,
        "/partner-api/kuaishou/acknowledge",
        &NEW,
        &ack(&format!("{A}-x999")),
    );
    assert_eq!(missing.status, 404, "{}", missing.body);
    assert!(!missing.body.contains("at this node"), "{}", missing.body);
}

#[test]
fn the_python_standardwebhooks_library_verifies_deliveries_and_signs_callbacks() {
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("kuaishou.secret");
    std::fs::write(&secret_file, signature::format_secret(&NEW)).unwrap();
    let py = PythonPartner::start(&secret_file);
    let p = province(&py.ca(), true);
    add_partner(&p, &py.url(), &secret_file, false);
    let id = file(&p, "https://kuaishou.example/v/1");
    let got = wait::until(
        "the delivery at the Python receiver",
        SYNC_TIMEOUT,
        Duration::from_millis(100),
        || {
            let r = py.received();
            if r.is_empty() {
                Err("nothing yet".to_owned())
            } else {
                Ok(r)
            }
        },
    );
    assert!(got[0]["refused"].is_null(), "{got:?}");
    assert_eq!(got[0]["body"]["request"]["id"], id.as_str());
    assert_eq!(got[0]["webhook_id"], format!("{id}:request"));
    wait::until(
        "the delivery recorded",
        SYNC_TIMEOUT,
        Duration::from_millis(100),
        || {
            let s = json(&p, GATEWAY, &["disposal", "show", &id])["state"].clone();
            if s == "delivered" {
                Ok(())
            } else {
                Err(s.to_string())
            }
        },
    );

    // The library's sign() makes a callback the gateway takes.
    let answer = serde_json::json!({
        "id": id, "outcome": "labelled", "reason": "marked as unverified", "reference": "KS-1",
    })
    .to_string();
    let out = fenghuo_tests::python::run_script(
        "webhook_partner.py",
        &[
            "callback",
            "--secret-file",
            secret_file.to_str().unwrap(),
            "--url",
            &format!("{}/partner-api/kuaishou/respond", p.dashboard_url()),
            "--ca",
            p.pki().web_ca_cert().to_str().unwrap(),
            "--body",
            &answer,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reply: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reply["status"], 200, "{reply}");
    let receipt: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
    assert_eq!(receipt["state"], "answered", "{receipt}");
}

#[test]
fn webhooks_into_internal_addresses_are_refused_unless_allowed() {
    let sim = WebhookPartner::start(&NEW);
    let p = province(&sim.ca(), false);
    let secret_file = p.dir().join("kuaishou.secret");
    std::fs::write(&secret_file, signature::format_secret(&NEW)).unwrap();
    add_partner(&p, &sim.url(), &secret_file, false);
    let id = file(&p, "https://kuaishou.example/v/1");
    let attempts = wait::until(
        "a refused attempt",
        SYNC_TIMEOUT,
        Duration::from_millis(100),
        || {
            let n = notes(&p, &id, "attempt");
            if n.is_empty() {
                Err("no attempt yet".to_owned())
            } else {
                Ok(n)
            }
        },
    );
    // Staff see a generic error; the address is in the gateway's log only.
    assert!(attempts[0].contains("not allowed"), "{attempts:?}");
    assert!(!attempts[0].contains("127.0.0.1"), "{attempts:?}");
    assert!(
        !p.gateway().log_lines_with("webhook refused").is_empty(),
        "the details are logged"
    );
    assert!(sim.taken().is_empty() && sim.posts(&id) == 0);
}
