//! A peer that lies: the test connects to county B's `Federation.Sync` with county C's real
//! certificate (C is a legitimate county, so the handshake and the call are accepted) and
//! sends runs of county A's feeds that are tampered with, re-signed by C, or claim what they
//! may not. B must refuse every one, count and log it, store nothing of it, and keep taking
//! A's honest entries.
//!
//! Genuine entries of A that B does not hold yet are obtained the way any county could: by
//! syncing from the gateway as C while B is cut off from everyone.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use fenghuo_node::event::Event;
use fenghuo_node::feed::entry::GENESIS_HASH;
use fenghuo_node::feed::{Audience, FeedId};
use fenghuo_proto::v1::Entry;
use fenghuo_tests::province::{feed, Province, TestProvince, GATEWAY};
use fenghuo_tests::rogue::{
    cert_der, forge_run, head, signing_key, with_payload_changed, with_signature_changed, RoguePeer,
};
use fenghuo_tests::wait;
use serde_json::Value;

const A: &str = "510104";
const B: &str = "510105";
const C: &str = "510106";
const WAIT: Duration = Duration::from_secs(15);

/// Cuts every link of B and waits until B shows none connected.
fn isolate_b(p: &Province) {
    for other in [A, C, GATEWAY] {
        p.link(B, other).cut();
    }
    wait::until(
        "B to have no connected link",
        WAIT,
        Duration::from_millis(100),
        || {
            let peers = p.peers(B);
            let up: Vec<&Value> = peers["peers"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|l| l["state"] == "connected")
                .collect();
            if up.is_empty() {
                Ok(())
            } else {
                Err(format!("{up:?}"))
            }
        },
    );
}

/// B's node-wide count of refused runs.
fn refused(p: &Province) -> u64 {
    p.peers(B)["refused"].as_u64().unwrap()
}

fn event_payload(e: &Event) -> Vec<u8> {
    e.encode()
}

/// After an attack: B and the gateway still answer `risk list --origin all` and the overview,
/// and an honest write of C still reaches B (its neighbour) and the gateway.
fn assert_still_usable(p: &Province) {
    for m in [B, GATEWAY] {
        p.risks(m);
        p.cli_as(m, &p.provincial_staff())
            .args(["overview", "--json"])
            .run()
            .ok();
    }
    let id = p.risk(
        C,
        &[
            "add",
            "--title",
            "Honest after the attack",
            "--focus",
            "key-work",
        ],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    p.risk(C, &["share", &id, "--scope", "province"]);
    for m in [B, GATEWAY] {
        wait::until(
            "an honest share after the attack",
            WAIT,
            Duration::from_millis(100),
            || {
                if p.risk_ids(m).contains(&id) {
                    Ok(())
                } else {
                    Err(format!("{m} lacks {id}"))
                }
            },
        );
    }
}

/// What B holds of `key`.
fn b_head(p: &Province, key: &(String, String)) -> u64 {
    p.feeds(B).get(key).copied().unwrap_or(0)
}

#[test]
fn tampered_forged_and_unentitled_runs_are_refused_and_honest_entries_still_arrive() {
    let p = TestProvince::abc();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let a_path = format!("county/{A}");
    let a_province = FeedId::new(a_path.clone(), Audience::Province);
    let a_province_key = feed(&a_path, "province");
    p.wait_converged();
    assert_eq!(b_head(&p, &a_province_key), 1, "A's neighbour declaration");

    // B hears nothing new; A writes three entries in its province feed (#2..#4).
    isolate_b(&p);
    let id = p.risk(
        A,
        &["add", "--title", "Bridge closure", "--focus", "key-work"],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    p.risk(A, &["share", &id, "--scope", "province"]);
    p.risk(A, &["update", &id, "--title", "Bridge closure, day 2"]);
    p.risk(A, &["update", &id, "--title", "Bridge closure, day 3"]);
    p.wait_head(GATEWAY, &a_province_key, 4);

    let c_creds = p.pki().credentials("county-510106");
    let c_key = signing_key(p.pki(), "county-510106");
    let c_cert = cert_der(p.pki(), "county-510106");
    let a_cert = cert_der(p.pki(), "county-510104");

    // C's view from the gateway: A's genuine province entries #1..#4. C's own link is cut
    // meanwhile: the gateway keeps one session per peer, and C's would replace this one.
    p.link(C, GATEWAY).cut();
    let genuine: Vec<Entry> = rt.block_on(async {
        let from_gateway = RoguePeer::connect(&p.gateway().url(), &c_creds)
            .await
            .unwrap();
        from_gateway.hello(Vec::new()).await.unwrap();
        from_gateway
            .wait_entries(&a_province, 4, WAIT)
            .await
            .unwrap()
    });
    p.link(C, GATEWAY).heal();
    assert!(genuine[3].signature.len() == 64, "the run ends signed");
    let new = genuine[1..].to_vec();
    assert_eq!(new[0].seq, 2);

    let rogue = rt.block_on(async {
        let r = RoguePeer::connect(&p.county(B).url(), &c_creds)
            .await
            .unwrap();
        r.hello(vec![head(&a_path, Audience::Province, 1)])
            .await
            .unwrap();
        r
    });
    let forged_declaration = |seq_after: u64, prev: &[u8]| {
        forge_run(
            &a_province,
            seq_after,
            prev,
            &a_path,
            vec![event_payload(&Event::NeighboursDeclared {
                neighbours: vec![B.to_owned(), C.to_owned()],
            })],
            &c_key,
        )
    };
    let cases: Vec<(&str, Vec<Entry>, Vec<u8>, &str)> = vec![
        (
            "(a) a genuine run with one payload changed",
            with_payload_changed(
                &new,
                1,
                event_payload(&Event::StatusSet {
                    id: id.clone(),
                    status: fenghuo_node::domain::RiskStatus::Resolved,
                }),
            ),
            a_cert.clone(),
            "hash does not match",
        ),
        (
            "(b) a genuine run with its signature changed",
            with_signature_changed(&new),
            a_cert.clone(),
            "signature is not the origin's",
        ),
        (
            "(c) a chain claiming origin A, signed by C, with C's certificate",
            forged_declaration(1, &genuine[0].hash),
            c_cert.clone(),
            "names fenghuo://county/510106",
        ),
        (
            "(d) a chain claiming origin A, signed by C, with A's real certificate",
            forged_declaration(1, &genuine[0].hash),
            a_cert.clone(),
            "signature is not the origin's",
        ),
        (
            "(e) a chain claiming origin A, signed by C, no certificate (B knows A's)",
            forged_declaration(1, &genuine[0].hash),
            Vec::new(),
            "signature is not the origin's",
        ),
        (
            "(f) A's upstream feed, which B may not hold, signed by C",
            forge_run(
                &FeedId::new(a_path.clone(), Audience::Upstream),
                0,
                &GENESIS_HASH,
                &a_path,
                vec![event_payload(&Event::NeighboursDeclared {
                    neighbours: vec![],
                })],
                &c_key,
            ),
            a_cert.clone(),
            "not entitled",
        ),
    ];
    for (what, run, cert, reason) in cases {
        let before = refused(&p);
        let feed_of_run = FeedId::of(&run[0]).unwrap();
        let refusals_before = rogue.refusals_of(&feed_of_run);
        rt.block_on(rogue.send_run(run, cert)).unwrap();
        // Repeated refusals are logged at most once a minute: the link's last error and
        // the node's count say why and how often, whatever the log held back.
        wait::until(
            &format!("B to refuse {what}"),
            WAIT,
            Duration::from_millis(50),
            || {
                let n = refused(&p);
                (n > before)
                    .then_some(())
                    .ok_or_else(|| format!("{n} refusals"))
            },
        );
        let link = rogue_link(&p);
        let logged_reason = link["last_error"].as_str().unwrap_or_default();
        assert!(
            logged_reason.contains(reason),
            "{what}: refused, but for {logged_reason:?}, not {reason:?}: {link}"
        );
        assert_eq!(refused(&p), before + 1, "{what}: `refused` counts it once");
        assert_eq!(
            b_head(&p, &a_province_key),
            1,
            "{what}: B stored something of it"
        );
        // Refusals the writer makes (bad hash, bad signature) are answered with the heads
        // really held, so an honest sender can resend.
        if !reason.contains("entitled") && !reason.contains("names") {
            rt.block_on(rogue.wait_for("a refusal answer", WAIT, |r| {
                (r.refusals_of(&feed_of_run) > refusals_before).then_some(())
            }))
            .unwrap();
        }
    }
    assert!(
        !p.feeds(B).contains_key(&feed(&a_path, "upstream")),
        "B holds A's upstream feed"
    );
    assert_eq!(p.peers(B)["equivocations"], 0);
    assert!(
        p.risk_ids(B).is_empty(),
        "B shows a risk it only heard of from the rogue: {:?}",
        p.risk_ids(B)
    );

    // Relayed honestly, the same entries are taken: a county may relay a province feed.
    rt.block_on(rogue.send_run(new.clone(), a_cert.clone()))
        .unwrap();
    p.wait_head(B, &a_province_key, 4);
    assert_eq!(p.show(B, &id), p.show(A, &id), "B's view of {id}");
    drop(rogue);

    // Back in touch, B keeps receiving A's honest entries.
    p.heal_all();
    p.risk(A, &["update", &id, "--title", "Bridge reopened"]);
    p.wait_head(B, &a_province_key, 5);
    p.wait_converged();
    assert_eq!(p.show(B, &id), p.show(A, &id));
}

/// B's status of the rogue's link (inbound, as C).
fn rogue_link(p: &Province) -> Value {
    p.link_status(B, C, "inbound")
        .unwrap_or_else(|| panic!("B lists no inbound link from C: {:#}", p.peers(B)))
}

/// A province where B holds A's province feed up to #2, and a rogue session to B as C.
fn b_holding_a_province_feed(p: &Province, rt: &tokio::runtime::Runtime) -> (String, RoguePeer) {
    let id = p.risk(
        A,
        &["add", "--title", "Dam inspection", "--focus", "key-work"],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    p.risk(A, &["share", &id, "--scope", "province"]);
    p.wait_head(B, &feed(&format!("county/{A}"), "province"), 2);
    // B dials C, so the rogue's session is B's only inbound link from C.
    let rogue = rt.block_on(async {
        let r = RoguePeer::connect(&p.county(B).url(), &p.pki().credentials("county-510106"))
            .await
            .unwrap();
        r.hello(Vec::new()).await.unwrap();
        r
    });
    (id, rogue)
}

#[test]
fn a_links_entries_refused_counts_every_entry_it_refused() {
    let p = TestProvince::abc();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_, rogue) = b_holding_a_province_feed(&p, &rt);
    let a_path = format!("county/{A}");
    let a_province = FeedId::new(a_path.clone(), Audience::Province);
    let held = rt
        .block_on(rogue.wait_entries(&a_province, 2, WAIT))
        .unwrap();
    let c_key = signing_key(p.pki(), "county-510106");
    // Three entries after B's head, re-signed by C: refused for the signature.
    let run = forge_run(
        &a_province,
        2,
        &held[1].hash,
        &a_path,
        vec![b"{}".to_vec(), b"{}".to_vec(), b"{}".to_vec()],
        &c_key,
    );
    let before = refused(&p);
    rt.block_on(rogue.send_run(run, Vec::new())).unwrap();
    wait::until(
        "B to refuse the run",
        WAIT,
        Duration::from_millis(50),
        || {
            (refused(&p) > before)
                .then_some(())
                .ok_or_else(|| "not yet".to_owned())
        },
    );
    let link = rogue_link(&p);
    assert_eq!(
        link["entries_refused"], 3,
        "the link should count the three entries it refused: {link:#}"
    );
}

#[test]
fn an_origin_signing_two_entries_at_one_position_raises_an_equivocation_alarm() {
    let p = TestProvince::abc();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (id, rogue) = b_holding_a_province_feed(&p, &rt);
    let a_path = format!("county/{A}");
    let a_province = FeedId::new(a_path.clone(), Audience::Province);
    let key = feed(&a_path, "province");
    let held = rt
        .block_on(rogue.wait_entries(&a_province, 2, WAIT))
        .unwrap();
    let before = p.show(B, &id);

    // A's own key (as a compromised or broken A would) signs a different #2.
    let a_key = signing_key(p.pki(), "county-510104");
    let other = forge_run(
        &a_province,
        1,
        &held[0].hash,
        &a_path,
        vec![Event::StatusSet {
            id: id.clone(),
            status: fenghuo_node::domain::RiskStatus::Resolved,
        }
        .encode()],
        &a_key,
    );
    assert_ne!(other[0].hash, held[1].hash);
    let refused_before = refused(&p);
    rt.block_on(rogue.send_run(other, Vec::new())).unwrap();
    let alarm = wait::until(
        "B to raise the equivocation alarm",
        WAIT,
        Duration::from_millis(50),
        || {
            p.county(B)
                .log_lines_with("equivocation")
                .into_iter()
                .find(|l| l["alarm"] == "equivocation")
                .ok_or_else(|| "no alarm logged".to_owned())
        },
    );
    assert_eq!(alarm["level"], "ERROR", "{alarm}");
    assert_eq!(alarm["feed"], "county/510104#province", "{alarm}");
    let peers = p.peers(B);
    assert_eq!(peers["equivocations"], 1, "{peers:#}");
    assert_eq!(peers["refused"], refused_before + 1, "{peers:#}");
    assert_eq!(p.feeds(B)[&key], 2, "B still holds A's feed up to #2");
    assert_eq!(p.show(B, &id), before, "B kept the entry it held");
    assert_still_usable(&p);
}

#[test]
fn a_conflicting_entry_not_signed_by_its_origin_is_no_equivocation() {
    let p = TestProvince::abc();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_, rogue) = b_holding_a_province_feed(&p, &rt);
    let a_path = format!("county/{A}");
    let a_province = FeedId::new(a_path.clone(), Audience::Province);
    let key = feed(&a_path, "province");
    let held = rt
        .block_on(rogue.wait_entries(&a_province, 2, WAIT))
        .unwrap();

    // A different #1 (a declaration naming C), chained from genesis, signed by C.
    let c_key = signing_key(p.pki(), "county-510106");
    let forged = forge_run(
        &a_province,
        0,
        &GENESIS_HASH,
        &a_path,
        vec![Event::NeighboursDeclared {
            neighbours: vec![B.to_owned(), C.to_owned()],
        }
        .encode()],
        &c_key,
    );
    assert_ne!(forged[0].hash, held[0].hash);
    let logged_before = p.county(B).log_lines_with("run refused").len();
    rt.block_on(rogue.send_run(forged, Vec::new())).unwrap();
    let line = wait::until("B to refuse it", WAIT, Duration::from_millis(50), || {
        p.county(B)
            .log_lines_with("run refused")
            .get(logged_before)
            .cloned()
            .ok_or_else(|| "not yet".to_owned())
    });
    assert_eq!(p.feeds(B)[&key], 2);
    let peers = p.peers(B);
    assert!(
        line["reason"]
            .as_str()
            .is_some_and(|r| r.contains("signature is not the origin's")),
        "refused for the wrong reason: {line}"
    );
    assert_eq!(
        peers["equivocations"], 0,
        "an entry A never signed is no evidence that A equivocated: {peers:#}"
    );
}

#[test]
fn a_second_session_from_a_connected_peer_replaces_it_and_the_peer_comes_back() {
    let p = TestProvince::abc();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // A second session as C (as after a reconnect that beat the old session's timeout): the
    // gateway keeps one session per peer, so it ends C's own; C's link reconnects and its
    // new session ends this one in turn.
    let why = rt.block_on(async {
        let r = RoguePeer::connect(&p.gateway().url(), &p.pki().credentials("county-510106"))
            .await
            .unwrap();
        r.hello(Vec::new()).await.unwrap();
        r.wait_for("C's own link to take over again", WAIT, |r| r.closed())
            .await
            .unwrap()
    });
    assert!(why.contains("replaced this one"), "{why}");
    // One row of C's is connected (ended sessions' rows, closed, may sort before or after it
    // by address), and C has one connection through its link.
    wait::until(
        "C's link to be back, once",
        WAIT,
        Duration::from_millis(50),
        || {
            let peers = p.peers(GATEWAY);
            let connected = peers["peers"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| {
                    r["peer"] == format!("county/{C}").as_str()
                        && r["direction"] == "inbound"
                        && r["state"] == "connected"
                })
                .count();
            let live = p.link(C, GATEWAY).live_connections();
            (connected == 1 && live == 1)
                .then_some(())
                .ok_or_else(|| format!("{connected} rows connected, {live} live connections"))
        },
    );
    p.wait_links_up();
}

/// Every feed `rogue` was offered, in `Hello`, `Heads` or runs.
fn feeds_offered(rogue: &RoguePeer) -> std::collections::BTreeSet<String> {
    use fenghuo_proto::v1::sync_frame::Frame;
    let name = |origin: &str, audience: i32| {
        let a = Audience::from_proto(audience).map_or("?", |a| a.as_str());
        format!("{origin}#{a}")
    };
    let mut out = std::collections::BTreeSet::new();
    for f in rogue.frames() {
        match f.frame {
            Some(Frame::Hello(h)) => {
                out.extend(h.heads.iter().map(|x| name(&x.origin, x.audience)))
            }
            Some(Frame::Heads(h)) => {
                out.extend(h.heads.iter().map(|x| name(&x.origin, x.audience)))
            }
            Some(Frame::Run(r)) => {
                out.extend(r.entries.iter().map(|e| name(&e.origin, e.audience)))
            }
            None => {}
        }
    }
    out
}

#[test]
fn senders_offer_a_county_only_the_feeds_it_is_entitled_to() {
    let p = TestProvince::abc();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // A has all four feeds, B has a neighbours feed too.
    let mk = |code: &str, title: &str| {
        p.risk(code, &["add", "--title", title, "--focus", "key-work"])["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let n = mk(A, "For B");
    p.risk(A, &["share", &n, "--scope", "neighbours"]);
    let u = mk(A, "For the province only");
    p.risk(
        A,
        &[
            "grade",
            &u,
            "--influence",
            "5",
            "--attention",
            "5",
            "--diffusion",
            "5",
        ],
    );
    let b = mk(B, "For A and C");
    p.risk(B, &["share", &b, "--scope", "neighbours"]);
    p.wait_converged();

    // As C, ask the gateway and B for everything (an empty Hello) and wait until each has
    // sent its second progress report, so every run it would send has been sent.
    let c_creds = p.pki().credentials("county-510106");
    // C's own link to the gateway is cut meanwhile: the gateway keeps one session per peer.
    // (B dials C, so B holds no session from C to be replaced.)
    p.link(C, GATEWAY).cut();
    for m in [GATEWAY, B] {
        let offered = rt.block_on(async {
            let r = RoguePeer::connect(&p.member(m).url(), &c_creds)
                .await
                .unwrap();
            r.hello(Vec::new()).await.unwrap();
            r.wait_for("two progress reports", WAIT, |r| {
                let reports = r
                    .frames()
                    .iter()
                    .filter(|f| {
                        matches!(
                            f.frame,
                            Some(fenghuo_proto::v1::sync_frame::Frame::Heads(_))
                        )
                    })
                    .count();
                (reports >= 2).then_some(())
            })
            .await
            .unwrap();
            feeds_offered(&r)
        });
        let want: std::collections::BTreeSet<String> = [
            "county/510104#province",
            "county/510105#province",
            "county/510106#province",
            "county/510105#neighbours",
            // The province's feed carries at least its CRL.
            "province/51#province",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        assert_eq!(offered, want, "what {m} offers C");
    }
}

#[test]
fn entries_signed_by_a_revoked_origin_are_refused_with_or_without_its_certificate() {
    let p = TestProvince::abc();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let a_path = format!("county/{A}");
    let a_province = FeedId::new(a_path.clone(), Audience::Province);
    let key = feed(&a_path, "province");
    p.wait_converged();
    p.pki().revoke("county-510104");
    wait::until(
        "B to drop revoked A",
        WAIT,
        Duration::from_millis(100),
        || match p.link_status(B, A, "inbound") {
            Some(s) if s["state"] != "connected" => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );

    // A's key (stolen, or A itself through a friend) signs a new entry after the revocation.
    let rogue = rt.block_on(async {
        let r = RoguePeer::connect(&p.county(B).url(), &p.pki().credentials("county-510106"))
            .await
            .unwrap();
        r.hello(Vec::new()).await.unwrap();
        r
    });
    let held = rt
        .block_on(rogue.wait_entries(&a_province, 1, WAIT))
        .unwrap();
    let run = forge_run(
        &a_province,
        1,
        &held[0].hash,
        &a_path,
        vec![Event::NeighboursDeclared {
            neighbours: vec![B.to_owned(), C.to_owned()],
        }
        .encode()],
        &signing_key(p.pki(), "county-510104"),
    );
    let a_cert = cert_der(p.pki(), "county-510104");
    for (what, cert) in [("with", a_cert), ("without", Vec::new())] {
        let before = refused(&p);
        rt.block_on(rogue.send_run(run.clone(), cert)).unwrap();
        wait::until(
            &format!("B to refuse A's entry sent {what} A's revoked certificate"),
            WAIT,
            Duration::from_millis(50),
            || {
                if b_head(&p, &key) > 1 {
                    return Ok(Err("B stored it".to_owned()));
                }
                if refused(&p) > before {
                    Ok(Ok(()))
                } else {
                    Err("not refused yet".to_owned())
                }
            },
        )
        .unwrap_or_else(|e| panic!("{what} the certificate: {e}"));
    }
    assert_eq!(b_head(&p, &key), 1);
    assert_still_usable(&p);
}
