//! Who the node refuses: plaintext clients, certificates from another CA, revoked
//! certificates, and callers whose certificate does not entitle them to what they ask.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use fenghuo_proto::v1::{self, registry_client::RegistryClient};
use fenghuo_tests::cli::Cli;
use fenghuo_tests::register::{list_all, ZHANG};
use fenghuo_tests::{grpc, wait, Snapshot, TestNode, TestPki};

const WANG: &str = "staff-510104-wang";

/// How long a node may take to notice a new crl.pem (it polls every ~2 s).
const CRL_RELOAD: Duration = Duration::from_secs(15);
/// Between attempts while waiting for the reload.
const ATTEMPT_EVERY: Duration = Duration::from_millis(200);

/// A node of 510104 with zhang and one risk item, 510104-1.
fn county_with_a_risk() -> (TestPki, TestNode) {
    let pki = TestPki::new("51");
    pki.issue_staff("510104", "zhang");
    let node = TestNode::start(&pki, "510104");
    node.cli(&pki, ZHANG)
        .args([
            "risk",
            "add",
            "--title",
            "Flood rumour",
            "--focus",
            "emergency-trigger",
        ])
        .run()
        .ok();
    (pki, node)
}

/// Asserts `stderr` is the CLI's report of a connection the TLS handshake refused. With
/// TLS 1.3 the client may finish its side of the handshake before the node checks the
/// client certificate, so the refusal shows either when connecting (`cannot reach …`) or
/// on the first call (`failed: transport error`, `operation was canceled`).
#[track_caller]
fn assert_handshake_refused(stderr: &str) {
    assert!(
        [
            "cannot reach",
            "transport error",
            "operation was canceled",
            "handshake"
        ]
        .iter()
        .any(|s| stderr.contains(s)),
        "expected a refused connection, got:\n{stderr}"
    );
    assert!(
        !stderr.contains("permission denied"),
        "refused at the handshake, not by the service: {stderr}"
    );
}

/// True for a gRPC status that comes from a failed connection rather than from the service.
fn is_transport_failure(code: tonic::Code) -> bool {
    matches!(
        code,
        tonic::Code::Unavailable
            | tonic::Code::Unknown
            | tonic::Code::Cancelled
            | tonic::Code::Internal
    )
}

fn add_as(node: &TestNode, pki: &TestPki, stem: &str) -> fenghuo_tests::CliOutput {
    node.cli(pki, stem)
        .args([
            "risk",
            "add",
            "--title",
            "Should not be written",
            "--focus",
            "key-work",
        ])
        .run()
}

#[tokio::test]
async fn plaintext_clients_get_no_grpc_answer() {
    let (pki, node) = county_with_a_risk();

    // A gRPC client without TLS.
    let channel = grpc::plaintext_channel(node.addr()).unwrap();
    let result = RegistryClient::new(channel)
        .list_risks(v1::ListRisksRequest::default())
        .await;
    let status = result.expect_err("a plaintext ListRisks must fail");
    assert_ne!(status.code(), tonic::Code::Ok);
    assert!(
        is_transport_failure(status.code()),
        "a transport failure, not an answer from the service: {status:?}"
    );

    // A raw HTTP/2 connection preface and an empty SETTINGS frame.
    let mut tcp = TcpStream::connect(node.addr()).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tcp.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .unwrap();
    let mut answer = Vec::new();
    // The node closes the connection (a reset also ends the read, with an error).
    let _ = tcp.read_to_end(&mut answer);
    let is_tls_alert = answer.first() == Some(&0x15);
    assert!(
        answer.is_empty() || is_tls_alert,
        "expected nothing or a TLS alert, got {answer:02x?}"
    );
    let is_http2_settings = answer.len() >= 9 && answer[3] == 0x04;
    assert!(
        !is_http2_settings || is_tls_alert,
        "the node answered HTTP/2 in plaintext: {answer:02x?}"
    );

    // The node says why, and still serves mutual-TLS clients.
    wait::until(
        "the node to log the refused connection",
        Duration::from_secs(5),
        Duration::from_millis(20),
        || {
            if node.log().contains("connection refused") {
                Ok(())
            } else {
                Err("no `connection refused` line yet".into())
            }
        },
    );
    assert_eq!(list_all(&node, &pki, ZHANG).as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn certificates_from_another_ca_are_refused_at_the_handshake() {
    let (pki, node) = county_with_a_risk();
    let before = Snapshot::take(&node, &pki, ZHANG, &["510104-1"]);
    // Same names, another CA: a forger who knows the naming scheme.
    let foreign = TestPki::new("51");
    foreign.issue_staff("510104", "zhang");

    // Trusting the real CA, so it is the node that refuses the client certificate.
    let stderr = node
        .cli(&foreign, ZHANG)
        .trusting(pki.ca_cert())
        .args(["risk", "list"])
        .run()
        .err();
    assert_handshake_refused(&stderr);
    let stderr = add_as(&node, &foreign, ZHANG).err();
    assert_handshake_refused(&stderr);
    // Trusting its own CA, the client refuses the node too.
    let stderr = node.cli(&foreign, ZHANG).args(["risk", "list"]).run().err();
    assert_handshake_refused(&stderr);

    // Directly over gRPC.
    let creds = foreign.credentials(ZHANG).trusting(pki.ca_cert());
    match grpc::mtls_channel(&node.url(), &creds).await {
        Err(_) => {}
        Ok(channel) => {
            let status = RegistryClient::new(channel)
                .list_risks(v1::ListRisksRequest::default())
                .await
                .expect_err("a foreign certificate must not be served");
            assert!(is_transport_failure(status.code()), "{status:?}");
        }
    }

    before.assert_unchanged(&node, &pki, ZHANG, "the foreign certificate's attempts");
}

#[test]
fn a_revoked_certificate_is_refused_once_the_node_reloads_the_crl() {
    let (pki, node) = county_with_a_risk();
    pki.issue_staff("510104", "wang");
    node.cli(&pki, WANG)
        .args(["risk", "list", "--json"])
        .run()
        .ok();

    pki.revoke(WANG);
    let stderr = wait::until(
        "the node to refuse the revoked certificate",
        CRL_RELOAD,
        ATTEMPT_EVERY,
        || {
            let out = node.cli(&pki, WANG).args(["risk", "list"]).run();
            if out.status.success() {
                Err("still served".into())
            } else {
                Ok(out.err())
            }
        },
    );
    // A connection that slipped in just before the reload is refused on its request instead.
    if !stderr.contains("was revoked by the provincial CA") {
        assert_handshake_refused(&stderr);
    }
    assert!(
        node.log()
            .contains("certificates or CRL changed on disk: reloaded"),
        "{}",
        node.log()
    );

    // Refused for writes too, and nothing written; others are unaffected.
    let before = Snapshot::take(&node, &pki, ZHANG, &["510104-1"]);
    let stderr = add_as(&node, &pki, WANG).err();
    assert_handshake_refused(&stderr);
    before.assert_unchanged(&node, &pki, ZHANG, "the revoked certificate's attempt");
    add_as(&node, &pki, ZHANG).ok();

    // A node that starts after the revocation refuses it from the first connection.
    let fresh = TestNode::start(&pki, "510104");
    let stderr = fresh.cli(&pki, WANG).args(["risk", "list"]).run().err();
    assert_handshake_refused(&stderr);
    fresh.cli(&pki, ZHANG).args(["risk", "list"]).run().ok();
}

fn written_by_wang() -> v1::CreateRiskRequest {
    v1::CreateRiskRequest {
        title: "Written by a revoked certificate".into(),
        focus: v1::FocusPoint::KeyWork as i32,
        ..Default::default()
    }
}

/// A connection opened before the revocation must not outlive it: its next request is refused
/// with UNAUTHENTICATED saying why, none after it succeeds, and the connection is closed.
#[tokio::test]
async fn a_revoked_certificate_loses_its_open_connection() {
    let (pki, node) = county_with_a_risk();
    pki.issue_staff("510104", "wang");
    let mut open = node.registry(&pki, WANG).await;
    open.list_risks(v1::ListRisksRequest::default())
        .await
        .unwrap();

    // Write on the open connection until the node has reloaded the CRL: the first refusal
    // must come from the service (UNAUTHENTICATED), not from a dropped connection.
    pki.revoke(WANG);
    let deadline = Instant::now() + CRL_RELOAD;
    let mut written = 0usize;
    let refusal = loop {
        match open.create_risk(written_by_wang()).await {
            Ok(_) => {
                written += 1;
                assert!(
                    Instant::now() < deadline,
                    "the revoked certificate was still served on its open connection after \
                     {CRL_RELOAD:?} ({written} writes)"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(status) => break status,
        }
    };
    assert_eq!(
        refusal.code(),
        tonic::Code::Unauthenticated,
        "the open connection's next request is refused by the service: {refusal:?}"
    );
    for part in [
        "your certificate (fenghuo://staff/510104/wang, serial ",
        "was revoked by the provincial CA",
        "ask the PKI operator",
    ] {
        assert!(refusal.message().contains(part), "{part:?} in {refusal:?}");
    }
    // The node logs it from the connection's own task: it may reach the log a moment after
    // the refusal reached the client.
    wait::until(
        "the revocation in the node's log",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || {
            let log = node.log();
            if log.contains("certificate revoked: refusing its requests and closing its connection")
            {
                Ok(())
            } else {
                Err(log)
            }
        },
    );

    // Nothing succeeds any more: refused by the service while the connection lasts, then
    // refused at the handshake once it is closed (the channel dials again).
    let mut closed = false;
    for attempt in 0..20 {
        match open.create_risk(written_by_wang()).await {
            Ok(r) => panic!("attempt {attempt} after the refusal was served: {r:?}"),
            Err(s) if s.code() == tonic::Code::Unauthenticated => {}
            Err(s) => {
                assert!(is_transport_failure(s.code()), "attempt {attempt}: {s:?}");
                closed = true;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        closed,
        "the connection of the revoked certificate was not closed"
    );

    // Only the writes before the reload landed.
    let by_wang = list_all(&node, &pki, ZHANG)
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["title"] == "Written by a revoked certificate")
        .count();
    assert_eq!(by_wang, written);
}

/// The CLI checks the node's certificate against the CRL too: a revoked node (a stolen
/// machine, say) is refused before anything is sent to it.
#[test]
fn the_cli_refuses_a_node_whose_certificate_is_revoked() {
    let (pki, node) = county_with_a_risk();
    let before = list_all(&node, &pki, ZHANG);
    // The CRL as a client held it before the revocation.
    let old_crl = pki.dir().join("crl-before.pem");
    std::fs::copy(pki.crl(), &old_crl).unwrap();

    // `ca revoke` rewrites crl.pem beside ca.crt, which the CLI reads by default.
    pki.revoke("county-510104");
    let stderr = add_as(&node, &pki, ZHANG).err();
    assert!(
        stderr.contains(&format!(
            "the server at {} presents a certificate the provincial CA has revoked",
            node.url()
        )),
        "{stderr}"
    );
    // Given explicitly (flag or environment), the same.
    for cli in [
        node.cli(&pki, ZHANG).crl(pki.crl()),
        node.cli(&pki, ZHANG).crl(pki.crl()).via_env(),
    ] {
        let stderr = cli.args(["risk", "list"]).run().err();
        assert!(stderr.contains("revoked"), "{stderr}");
    }
    // The CLI refused during the handshake: the node saw the CLI's alert, not a request.
    wait::until(
        "the node to log the CLI's refusal",
        Duration::from_secs(5),
        Duration::from_millis(20),
        || {
            if node.log().contains("CertificateRevoked") {
                Ok(())
            } else {
                Err("no CertificateRevoked alert logged yet".into())
            }
        },
    );

    // With the CRL of before the revocation the node is reachable, and nothing was written.
    let after = node
        .cli(&pki, ZHANG)
        .crl(&old_crl)
        .args(["risk", "list", "--all", "--json"])
        .run()
        .ok()
        .json();
    assert_eq!(after, before, "the refused `risk add` reached the node");
}

/// Every node certificate names localhost: the CLI checks which node answered, so a
/// password or a write meant for one county cannot go to another.
#[test]
fn the_cli_refuses_a_node_that_is_not_the_one_meant() {
    let pki = TestPki::new("51");
    pki.issue_staff("510104", "zhang")
        .issue_staff("51", "wang")
        .issue_partner("weibo");
    let a = TestNode::start(&pki, "510104");
    let b = TestNode::start(&pki, "510105");
    add_as(&a, &pki, ZHANG).ok();
    let zhang = || Cli::connected(b.url(), pki.credentials(ZHANG));

    // zhang of 510104 points at 510105's node by mistake: refused before anything is sent.
    let stderr = zhang()
        .args([
            "risk",
            "add",
            "--title",
            "Meant for 510104",
            "--focus",
            "key-work",
        ])
        .run()
        .err();
    assert!(
        stderr.contains(&format!(
            "the server at {} is fenghuo://county/510105, not fenghuo://county/510104 as \
             expected; pass --server-identity to talk to it",
            b.url()
        )),
        "{stderr}"
    );
    // Told which node it is, the CLI talks to it (and the node answers for itself).
    let stderr = zhang()
        .server_identity("county/510105")
        .args(["risk", "list"])
        .run()
        .err();
    assert!(stderr.contains("permission denied"), "{stderr}");
    // Told the wrong node, refused again.
    let stderr = zhang()
        .server_identity("fenghuo://county/510104")
        .args(["risk", "list"])
        .run()
        .err();
    assert!(
        stderr.contains("is fenghuo://county/510105, not"),
        "{stderr}"
    );

    // Provincial staff expect the gateway; reading a county they name it, in any form.
    let wang = || Cli::connected(a.url(), pki.credentials("staff-51-wang"));
    let stderr = wang().args(["risk", "list"]).run().err();
    assert!(
        stderr.contains("is fenghuo://county/510104, not fenghuo://province/51 as expected"),
        "{stderr}"
    );
    for cli in [
        wang().server_identity("county/510104"),
        wang().server_identity("fenghuo://county/510104"),
        wang().server_identity("county/510104").via_env(),
    ] {
        let list = cli.args(["risk", "list", "--json"]).run().ok().json();
        assert_eq!(fenghuo_tests::register::ids(&list), ["510104-1"]);
    }

    // B holds nothing of zhang's attempt.
    let list = Cli::connected(b.url(), pki.credentials("staff-51-wang"))
        .server_identity("county/510105")
        .args(["risk", "list", "--all", "--json"])
        .run()
        .ok()
        .json();
    assert_eq!(list, serde_json::json!([]));

    // A partner's certificate names no node: it must say which.
    let stderr = Cli::connected(a.url(), pki.credentials("partner-weibo"))
        .args(["risk", "list"])
        .run()
        .err();
    assert!(
        stderr.contains("no node of its own") && stderr.contains("--server-identity"),
        "{stderr}"
    );
}

/// Without a CRL the CLI could not tell a revoked node: it refuses to guess.
#[test]
fn the_cli_will_not_skip_the_crl() {
    let (pki, node) = county_with_a_risk();
    let elsewhere = tempfile::tempdir().unwrap();
    let ca = elsewhere.path().join("ca.crt");
    std::fs::copy(pki.ca_cert(), &ca).unwrap();
    let stderr = node
        .cli(&pki, ZHANG)
        .trusting(&ca)
        .args(["risk", "list"])
        .run()
        .err();
    assert!(
        stderr.contains("no CRL to check the node against")
            && stderr.contains("--crl")
            && stderr.contains("FENGHUO_CRL"),
        "{stderr}"
    );
    node.cli(&pki, ZHANG)
        .trusting(&ca)
        .crl(pki.crl())
        .args(["risk", "list"])
        .run()
        .ok();
}

#[test]
fn another_countys_staff_may_neither_write_nor_read() {
    let (pki, node) = county_with_a_risk();
    pki.issue_staff("510105", "li").issue_county("510105");
    let before = Snapshot::take(&node, &pki, ZHANG, &["510104-1"]);
    const LI: &str = "staff-510105-li";

    let stderr = add_as(&node, &pki, LI).err();
    assert!(stderr.contains("permission denied"), "{stderr}");
    let writes: [&[&str]; 5] = [
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
        &["update", "510104-1", "--title", "Renamed by a neighbour"],
        &[
            "measure",
            "add",
            "510104-1",
            "--action",
            "a",
            "--owner",
            "o",
            "--due",
            "2030-01-01",
        ],
        &["set-status", "510104-1", "graded"],
        &["measure", "update", "510104-1", "m1", "--status", "done"],
    ];
    for args in writes {
        for who in [LI, "county-510105"] {
            let stderr = node.cli(&pki, who).arg("risk").args(args).run().err();
            assert!(
                stderr.contains("permission denied"),
                "{who} {args:?}: {stderr}"
            );
        }
    }
    let stderr = node.cli(&pki, LI).args(["risk", "list"]).run().err();
    assert!(stderr.contains("permission denied"), "{stderr}");
    let stderr = node
        .cli(&pki, LI)
        .args(["risk", "show", "510104-1"])
        .run()
        .err();
    assert!(stderr.contains("permission denied"), "{stderr}");

    before.assert_unchanged(&node, &pki, ZHANG, "the neighbour's attempts");
}

#[test]
fn a_partner_may_not_read_or_write() {
    let (pki, node) = county_with_a_risk();
    pki.issue_partner("weibo");
    let before = Snapshot::take(&node, &pki, ZHANG, &["510104-1"]);
    for args in [&["risk", "list"][..], &["risk", "show", "510104-1"]] {
        let stderr = node.cli(&pki, "partner-weibo").args(args).run().err();
        assert!(stderr.contains("permission denied"), "{args:?}: {stderr}");
    }
    let stderr = add_as(&node, &pki, "partner-weibo").err();
    assert!(stderr.contains("permission denied"), "{stderr}");
    before.assert_unchanged(&node, &pki, ZHANG, "the partner's attempts");
}

#[test]
fn the_province_may_read_but_not_write() {
    let (pki, node) = county_with_a_risk();
    pki.issue_staff("51", "wang").issue_province("51");
    let before = Snapshot::take(&node, &pki, ZHANG, &["510104-1"]);
    for who in ["staff-51-wang", "province-51"] {
        assert_eq!(
            list_all(&node, &pki, who),
            before.list,
            "{who} reads the same list"
        );
        let shown = node
            .cli(&pki, who)
            .args(["risk", "show", "510104-1", "--json"])
            .run()
            .ok()
            .json();
        assert_eq!(shown, before.shown["510104-1"]);
        let stderr = add_as(&node, &pki, who).err();
        assert!(stderr.contains("permission denied"), "{who}: {stderr}");
        let stderr = node
            .cli(&pki, who)
            .args([
                "risk",
                "grade",
                "510104-1",
                "--influence",
                "5",
                "--attention",
                "5",
                "--diffusion",
                "5",
            ])
            .run()
            .err();
        assert!(stderr.contains("permission denied"), "{who}: {stderr}");
    }
    before.assert_unchanged(&node, &pki, ZHANG, "the province's attempts");
}
