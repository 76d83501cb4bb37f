//! Clients nobody here wrote: OpenSSL reads every key `fenghuo ca issue` writes, and Python's
//! grpcio (BoringSSL, which offers no Ed25519 in a handshake) uses those files unmodified for
//! a health check, server reflection (v1 and v1alpha) and a partner's Subscribe → Acknowledge
//! → Respond. The client is `tests/python/grpc_client.py`, written the way docs/partners.md
//! shows it.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use fenghuo_tests::province::{Province, TestProvince, GATEWAY};
use fenghuo_tests::python;
use serde_json::Value;

const A: &str = "510104";

/// Runs the Python client against `addr` as `stem`, returning its JSON answer.
fn python_client(p: &Province, addr: &str, stem: &str, command: &str) -> Value {
    let pki = p.pki();
    let out = python::run_script(
        "grpc_client.py",
        &[
            addr,
            "--ca",
            pki.ca_cert().to_str().unwrap(),
            "--cert",
            pki.cert(stem).to_str().unwrap(),
            "--key",
            pki.key(stem).to_str().unwrap(),
            command,
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "grpc_client.py {command} as {stem} failed:\n{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("grpc_client.py printed no JSON ({e}): {stdout}"))
}

/// `openssl pkey` reads the key file and says what type it is.
fn openssl_key_type(path: &Path) -> String {
    let out = Command::new("openssl")
        .args(["pkey", "-noout", "-text", "-in"])
        .arg(path)
        .output()
        .expect("openssl is installed");
    assert!(
        out.status.success(),
        "openssl cannot read {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn openssl_reads_every_key_and_tls_keys_are_p256() {
    let p = TestProvince::new("51").county(A).start();
    let pki = p.pki();
    pki.issue_partner("weibo").issue_web();
    let county = p.node_stem(A);
    let province = p.node_stem(GATEWAY);
    for stem in [
        county.as_str(),
        province.as_str(),
        &p.staff(A),
        "partner-weibo",
    ] {
        let text = openssl_key_type(&pki.key(stem));
        assert!(text.contains("256 bit"), "{stem}.key: {text}");
    }
    for stem in [&county, &province] {
        let text = openssl_key_type(&pki.feed_key(stem));
        assert!(text.contains("ED25519"), "{stem}.feed.key: {text}");
    }
    let web = openssl_key_type(&pki.dir().join("province-51-web.key"));
    assert!(web.contains("256 bit"), "the web key: {web}");
}

#[test]
fn python_grpcio_checks_health_reflects_and_answers_as_a_partner() {
    let p = TestProvince::new("51").county(A).start();
    p.pki().issue_partner("weibo");
    p.gateway_cli()
        .args(["partner", "add", "weibo", "--display-name", "新浪微博"])
        .run()
        .ok();
    let gateway = format!("127.0.0.1:{}", p.gateway().addr().port());
    let county = format!("127.0.0.1:{}", p.county(A).addr().port());

    // Health, as a partner at the gateway and as staff at a county node.
    let h = python_client(&p, &gateway, "partner-weibo", "health");
    assert_eq!(h["status"], "SERVING");
    let h = python_client(&p, &county, &p.staff(A), "health");
    assert_eq!(h["status"], "SERVING");

    // Reflection lists the same services under both versions.
    let r = python_client(&p, &gateway, "partner-weibo", "reflection");
    for version in ["v1", "v1alpha"] {
        let names: Vec<&str> = r[version]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        for service in [
            "fenghuo.v1.PartnerService",
            "grpc.health.v1.Health",
            "fenghuo.v1.Registry",
        ] {
            assert!(names.contains(&service), "{version}: {names:?}");
        }
    }

    // A county files a request; the partner's Python code takes it, acknowledges, answers.
    let id = p.file_disposal(
        A,
        &[
            "--partner",
            "weibo",
            "--url",
            "https://weibo.example/status/1",
            "--action",
            "take-down",
            "--reason",
            "编造伤亡人数",
            "--legal-basis",
            "网络信息内容生态治理规定 第六条",
            "--deadline",
            "24h",
        ],
    );
    let answer = python_client(&p, &gateway, "partner-weibo", "partner");
    assert_eq!(answer["id"], id.as_str());
    assert_eq!(answer["urls"][0], "https://weibo.example/status/1");
    assert_eq!(answer["action"], "take-down");
    assert!(answer["deadline_ms"].as_i64().unwrap() > 0);
    assert_eq!(answer["acknowledged"], "acknowledged");
    assert_eq!(answer["answered"], "answered");
    assert_eq!(answer["again_unchanged"], true);
}

/// A risk at `code`, shared with its neighbours; its id.
fn shared_risk(p: &Province, code: &str, title: &str) -> String {
    let id = p.risk(code, &["add", "--title", title, "--focus", "major-event"])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    p.risk(code, &["share", &id, "--scope", "neighbours"]);
    id
}

#[test]
fn a_province_issued_ed25519_keys_moves_over_with_renew_and_keeps_its_feeds() {
    let mut p = TestProvince::new("51")
        .county(A)
        .county("510105")
        .neighbours(A, "510105")
        .legacy_keys()
        .start();
    let staff = p.staff(A);
    let health = |p: &Province| {
        let pki = p.pki();
        python::run_script(
            "grpc_client.py",
            &[
                &format!("127.0.0.1:{}", p.county(A).addr().port()),
                "--ca",
                pki.ca_cert().to_str().unwrap(),
                "--cert",
                pki.cert(&staff).to_str().unwrap(),
                "--key",
                pki.key(&staff).to_str().unwrap(),
                "health",
            ],
        )
    };
    // What the issue found: grpcio cannot use Ed25519 files.
    assert!(!health(&p).status.success());
    let before = shared_risk(&p, A, "Before the move");
    p.wait_converged();

    // A rolling move: A first, while its neighbour and the gateway still hold Ed25519 keys.
    let pki = p.pki();
    pki.run_ca(["issue", "county", A, "--renew"])
        .run_ca(["issue", "staff", A, "s", "--renew"]);
    assert!(pki.feed_key(&p.node_stem(A)).exists());
    p.stop(A);
    p.restart(A);
    let out = health(&p);
    assert!(
        out.status.success(),
        "grpcio after the move: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = shared_risk(&p, A, "After the move");
    let all = p.wait_converged();
    // A's feeds, signed before and after, are one chain every holder accepted.
    assert!(all.values().all(|feeds| !feeds.is_empty()));
    for id in [&before, &after] {
        assert!(p.risk_ids("510105").contains(id.as_str()), "{id} at B");
    }

    // Then the rest of the province.
    let pki = p.pki();
    pki.run_ca(["issue", "county", "510105", "--renew"])
        .run_ca(["issue", "province", "51", "--renew"])
        .run_ca(["issue", "staff", "51", "p", "--renew"]);
    for member in ["510105", GATEWAY] {
        p.stop(member);
        p.restart(member);
    }
    let third = shared_risk(&p, "510105", "On P-256 everywhere");
    p.wait_converged();
    assert!(p.risk_ids(A).contains(third.as_str()));
    assert!(p.risk_ids(GATEWAY).contains(before.as_str()));
}

#[test]
fn a_node_refuses_to_start_with_a_feed_key_its_certificate_does_not_certify() {
    let pki = fenghuo_tests::TestPki::new("51");
    pki.issue_county(A).issue_county("510105");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("node.toml");
    fenghuo_tests::Cli::new()
        .args(["init", "node", "--county", A, "--listen", "127.0.0.1:0"])
        .arg("--pki")
        .arg(pki.dir())
        .arg("--data")
        .arg(dir.path().join("data"))
        .arg("--out")
        .arg(&config)
        .run()
        .ok();
    // The neighbour's feed key, as when files from two issues are mixed up.
    let text = std::fs::read_to_string(&config).unwrap();
    let wrong = pki.feed_key("county-510105");
    let text = text
        .lines()
        .map(|l| {
            if l.starts_with("feed_key = ") {
                format!("feed_key = {:?}", wrong.to_str().unwrap())
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&config, text).unwrap();
    let out = fenghuo_tests::binaries::fenghuo_node()
        .args(["run", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started: {stderr}");
    assert!(
        stderr.contains("is not the feed-signing key"),
        "the error names the mismatch: {stderr}"
    );
}
