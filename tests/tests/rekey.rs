//! Recovering a compromised county, end to end: A's machine is lost and a thief signs an extra
//! entry into A's feed with A's real key; the province revokes A, issues A a certificate with
//! a new key and re-keys A at the gateway, trusting A's old key up to the last honest entry.
//! Every node sets the thief's entry aside; A starts again on a new machine with an empty
//! store, fetches its own feeds before it writes, and carries on under the new key. Nothing
//! signed up to the trusted head is lost, nothing after it is applied anywhere.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use fenghuo_node::domain::FocusPoint;
use fenghuo_node::event::Event;
use fenghuo_node::feed::{Audience, FeedId};
use fenghuo_tests::province::{feed, TestProvince, GATEWAY};
use fenghuo_tests::rogue::{cert_der, forge_run, signing_key, RoguePeer};
use fenghuo_tests::wait;

const A: &str = "510104";
const B: &str = "510105";
const A_PATH: &str = "county/510104";
const WAIT: Duration = Duration::from_secs(30);

fn has_risk(p: &fenghuo_tests::province::Province, member: &str, id: &str) -> bool {
    p.risk_ids(member).contains(id)
}

#[test]
fn a_compromised_county_is_rekeyed_and_recovers_from_an_empty_store_without_a_fork() {
    let mut p = TestProvince::new("51")
        .county(A)
        .county(B)
        .neighbours(A, B)
        .start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let shared = p.risk(
        A,
        &["add", "--title", "Levee seepage", "--focus", "key-work"],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    p.risk(A, &["share", &shared, "--scope", "province"]);
    let neighbourly = p.risk(
        A,
        &["add", "--title", "Market closure", "--focus", "major-event"],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    p.risk(A, &["share", &neighbourly, "--scope", "neighbours"]);
    p.wait_converged();
    let a_province = feed(A_PATH, "province");
    let trusted = p.feeds(GATEWAY)[&a_province];

    // A's machine is lost. The thief, holding A's key, signs one more entry and hands it to
    // the gateway, which relays it to B.
    p.stop(A);
    let old_key = signing_key(p.pki(), "county-510104");
    let old_cert = cert_der(p.pki(), "county-510104");
    rt.block_on(async {
        let thief = RoguePeer::connect(&p.gateway().url(), &p.pki().credentials("county-510104"))
            .await
            .unwrap();
        thief.hello(Vec::new()).await.unwrap();
        let held = thief
            .wait_entries(&FeedId::new(A_PATH, Audience::Province), trusted, WAIT)
            .await
            .unwrap();
        let prev = held.last().unwrap().hash.clone();
        let forged = forge_run(
            &FeedId::new(A_PATH, Audience::Province),
            trusted,
            &prev,
            A_PATH,
            vec![Event::RiskCreated {
                id: "510104-99".into(),
                title: "Planted by the thief".into(),
                description: String::new(),
                focus: FocusPoint::MajorEvent,
                source: String::new(),
                behaviours: vec![],
                department: String::new(),
            }
            .encode()],
            &old_key,
        );
        thief.send_run(forged, old_cert.clone()).await.unwrap();
    });
    for m in [GATEWAY, B] {
        p.wait_head(m, &a_province, trusted + 1);
        wait::until(
            "the planted risk to show",
            WAIT,
            Duration::from_millis(100),
            || {
                has_risk(&p, m, "510104-99")
                    .then_some(())
                    .ok_or_else(|| "not yet".to_owned())
            },
        );
    }

    // The province revokes A, issues it a certificate with a new key, and re-keys it,
    // trusting the old key up to the last honest entry.
    p.pki().revoke("county-510104");
    p.pki().run_ca(["issue", "county", A, "--force"]);
    let new_cert = p.pki().cert("county-510104");
    let rekeyed = wait::until(
        "the gateway to take the re-key",
        WAIT,
        Duration::from_millis(200),
        || {
            let out = p
                .gateway_cli()
                .arg("rekey")
                .arg(A)
                .arg("--new-cert")
                .arg(&new_cert)
                .arg("--trust")
                .arg(format!("province={trusted}"))
                .arg("--json")
                .run();
            // Refused while the gateway has not read the new crl.pem yet.
            if out.status.success() {
                Ok(out.json())
            } else {
                Err(out.stderr)
            }
        },
    );
    assert_eq!(rekeyed["set_aside"], 1, "{rekeyed:#}");
    assert_eq!(
        rekeyed["trusted"][format!("{A_PATH}#province")],
        trusted,
        "{rekeyed:#}"
    );

    // Every node sets the planted entry aside: out of its feed and its views.
    for m in [GATEWAY, B] {
        wait::until(
            "the planted entry to be set aside",
            WAIT,
            Duration::from_millis(100),
            || {
                let head = p.feeds(m)[&a_province];
                if head == trusted && !has_risk(&p, m, "510104-99") {
                    Ok(())
                } else {
                    Err(format!("{m}: A#province at #{head}"))
                }
            },
        );
        assert!(has_risk(&p, m, &shared), "{m} lost {shared}");
    }

    // A's new machine: the new certificate and key, an empty store.
    std::fs::remove_dir_all(p.dir().join(format!("data-{A}"))).unwrap();
    p.restart(A);
    // It fetches its own feeds before it writes: its next write continues its feed.
    let next = wait::until("A to write again", WAIT, Duration::from_millis(200), || {
        let out = p
            .cli(A)
            .args([
                "risk",
                "add",
                "--title",
                "After the recovery",
                "--focus",
                "key-work",
                "--json",
            ])
            .run();
        if out.status.success() {
            Ok(out.json()["id"].as_str().unwrap().to_owned())
        } else {
            Err(out.stderr)
        }
    });
    assert!(
        has_risk(&p, A, &shared),
        "A lost {shared} written before the re-key"
    );
    assert!(has_risk(&p, A, &neighbourly), "A lost {neighbourly}");
    assert!(!has_risk(&p, A, "510104-99"), "A shows the planted risk");
    assert_ne!(next, "510104-1", "A reused an id: it forked its own feed");
    p.risk(A, &["share", &next, "--scope", "province"]);
    let a_head = p.feeds(A)[&a_province];
    assert_eq!(
        a_head,
        trusted + 1,
        "A continued its province feed at #{a_head}"
    );
    // The new key's continuation reaches everyone; the planted entry never comes back.
    for m in [GATEWAY, B] {
        p.wait_head(m, &a_province, trusted + 1);
        wait::until("A's new risk", WAIT, Duration::from_millis(100), || {
            has_risk(&p, m, &next)
                .then_some(())
                .ok_or_else(|| "not yet".to_owned())
        });
        assert!(
            !has_risk(&p, m, "510104-99"),
            "{m} shows the planted risk again"
        );
    }
    // And it goes on: a later write under the new key travels too (a receiver checks each
    // run after the first from where it stands, with the key the province named).
    let later = p.risk(
        A,
        &["add", "--title", "A week later", "--focus", "key-work"],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    p.risk(A, &["share", &later, "--scope", "province"]);
    for m in [GATEWAY, B] {
        p.wait_head(m, &a_province, trusted + 2);
        wait::until("A's later risk", WAIT, Duration::from_millis(100), || {
            has_risk(&p, m, &later)
                .then_some(())
                .ok_or_else(|| "not yet".to_owned())
        });
    }
    let peers = p.peers(GATEWAY);
    assert_eq!(peers["equivocations"], 0, "{peers:#}");
}
