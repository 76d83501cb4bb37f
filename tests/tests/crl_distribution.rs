//! The CRL travels in the province feed: every county has its own copy of crl.pem, as
//! separate machines do, and only the gateway is given the new one. Every node must adopt it
//! (by CRL number, never going back) and refuse the revoked county: its handshakes, its open
//! sessions, and entries signed with its key.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use fenghuo_tests::province::{feed, Province, TestProvince, GATEWAY};
use fenghuo_tests::rogue::RoguePeer;
use fenghuo_tests::wait;

const COUNTIES: [&str; 5] = ["510104", "510105", "510106", "510107", "510108"];
const REVOKED: &str = "510108";

/// Whether `member` refuses a sync session presented with the revoked county's certificate.
fn refuses_revoked(p: &Province, rt: &tokio::runtime::Runtime, member: &str) -> bool {
    rt.block_on(async {
        let creds = p.pki().credentials(&format!("county-{REVOKED}"));
        let Ok(Ok(r)) = tokio::time::timeout(
            Duration::from_secs(2),
            RoguePeer::connect(&p.member(member).url(), &creds),
        )
        .await
        else {
            return true;
        };
        if r.hello(Vec::new()).await.is_err() {
            return true;
        }
        // Accepted: the node answers with its Hello. Refused: the stream ends.
        r.wait_for("an answer", Duration::from_secs(2), |r| {
            (!r.frames().is_empty()).then_some(())
        })
        .await
        .is_err()
    })
}

#[test]
fn a_crl_given_to_the_gateway_alone_reaches_every_county_and_cuts_off_the_revoked_one() {
    let mut b = TestProvince::new("51").county_crl_copies();
    for c in COUNTIES {
        b = b.county(c);
    }
    let p = b
        .neighbours("510104", "510105")
        .neighbours("510105", "510108")
        .neighbours("510106", "510107")
        .start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let others: Vec<&str> = COUNTIES.iter().copied().filter(|c| *c != REVOKED).collect();
    // Before: everyone accepts it.
    for m in others.iter().copied().chain([GATEWAY]) {
        assert!(
            !refuses_revoked(&p, &rt, m),
            "{m} refuses {REVOKED} before any revocation"
        );
    }

    let started = Instant::now();
    p.pki().revoke(&format!("county-{REVOKED}"));
    let mut refused_at = Vec::new();
    for m in [GATEWAY].into_iter().chain(others.iter().copied()) {
        wait::until(
            &format!("{m} to refuse the revoked county"),
            Duration::from_secs(30),
            Duration::from_millis(50),
            || {
                if refuses_revoked(&p, &rt, m) {
                    Ok(())
                } else {
                    Err("still accepted".to_owned())
                }
            },
        );
        refused_at.push((m, started.elapsed()));
    }
    let everywhere = started.elapsed();
    // The figure docs/pki.md quotes: `cargo test -p fenghuo-tests --test crl_distribution -- --nocapture`.
    println!(
        "crl.pem given to the gateway: refused everywhere after {everywhere:?} ({refused_at:?})"
    );

    // Each county adopted the CRL from the province feed (its own file is the old one), and
    // the revoked county's neighbour ended its session with it.
    for c in &others {
        let adopted = p.member(c).log_lines_with("the province published a CRL");
        assert!(!adopted.is_empty(), "{c} never adopted the published CRL");
    }
    let s = wait::until(
        "510105 to end its session with the revoked county",
        Duration::from_secs(15),
        Duration::from_millis(100),
        || {
            let links: Vec<_> = ["inbound", "outbound"]
                .into_iter()
                .filter_map(|d| p.link_status("510105", REVOKED, d))
                .collect();
            if links.iter().any(|l| l["state"] == "connected") {
                Err(format!("{links:?}"))
            } else {
                Ok(links)
            }
        },
    );
    assert!(!s.is_empty());
    // The province feed carries the CRLs: #1 at start, #2 the revocation.
    let gateway_feed = p.feeds(GATEWAY)[&feed("province/51", "province")];
    assert!(gateway_feed >= 2, "province feed at #{gateway_feed}");
}
