//! Federation sync end to end: a province gateway and three counties, A = 510104,
//! B = 510105 and C = 510106, with A–B and B–C neighbours (A and C are not), every link
//! through a fault-injecting proxy. Sharing scopes decide who receives what; a crashed node,
//! a cut link and a revoked certificate are survived; `fenghuo peers` tells the truth.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use fenghuo_proto::v1::UpdateRiskRequest;
use fenghuo_tests::province::{feed, Feeds, Province, TestProvince, GATEWAY};
use fenghuo_tests::wait;
use serde_json::Value;

const A: &str = "510104";
const B: &str = "510105";
const C: &str = "510106";

/// `risk add` at `code`; returns the new id.
fn add(p: &Province, code: &str, title: &str) -> String {
    p.risk(code, &["add", "--title", title, "--focus", "major-event"])["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn share(p: &Province, code: &str, id: &str, scope: &str) -> Value {
    p.risk(code, &["share", id, "--scope", scope])
}

fn grade(p: &Province, code: &str, id: &str, score: &str) -> Value {
    p.risk(
        code,
        &[
            "grade",
            id,
            "--influence",
            score,
            "--attention",
            score,
            "--diffusion",
            score,
        ],
    )
}

fn update(p: &Province, code: &str, id: &str, title: &str) -> Value {
    p.risk(code, &["update", id, "--title", title])
}

fn path(code: &str) -> String {
    format!("county/{code}")
}

/// The head of `code`'s own feed for `audience` (0 when it has none).
fn own_head(p: &Province, code: &str, audience: &str) -> u64 {
    p.feeds(code)
        .get(&feed(&path(code), audience))
        .copied()
        .unwrap_or(0)
}

/// Asserts a risk's history is one entry per revision, 1..=n, none repeated.
#[track_caller]
fn assert_history_has_no_duplicates(risk: &Value) {
    let revs: Vec<u64> = risk["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["rev"].as_u64().unwrap())
        .collect();
    let expected: Vec<u64> = (1..=revs.len() as u64).collect();
    assert_eq!(
        revs, expected,
        "history of {} is not one entry per revision",
        risk["id"]
    );
}

/// Asserts `name` sees risk `id` exactly as its origin does.
#[track_caller]
fn assert_same_view(p: &Province, origin: &str, name: &str, id: &str) {
    let theirs = p.show(origin, id);
    let ours = p.show(name, id);
    assert_history_has_no_duplicates(&theirs);
    assert!(
        ours == theirs,
        "{name}'s view of {id} differs from its origin {origin}'s:\norigin: {theirs:#}\n{name}: {ours:#}"
    );
}

#[test]
fn sharing_scopes_decide_who_receives_a_risk() {
    let p = TestProvince::abc();
    let local = add(&p, A, "Kept at home");
    let neighbours = add(&p, A, "Told to the neighbours");
    share(&p, A, &neighbours, "neighbours");
    let province = add(&p, A, "Told to everyone");
    share(&p, A, &province, "province");
    let upstream = add(&p, A, "A major issue");
    let graded = grade(&p, A, &upstream, "5");
    assert_eq!(graded["level"], "I", "5/5/5 grades I: {graded:#}");
    assert_eq!(
        graded["scope"], "upstream",
        "a level I risk is reported upstream in the same write: {graded:#}"
    );

    // Every node holds exactly what it is entitled to, at its origin's head.
    let all = p.wait_converged();
    let a_local = feed(&path(A), "local");
    let a_upstream = feed(&path(A), "upstream");
    let a_neighbours = feed(&path(A), "neighbours");
    let a_province = feed(&path(A), "province");
    assert_eq!(
        all[A].get(&a_local),
        Some(&5),
        "four creations and the grade"
    );
    assert_eq!(all[A].get(&a_neighbours), Some(&1));
    assert_eq!(
        all[A].get(&a_upstream),
        Some(&2),
        "the share and the report"
    );
    assert_eq!(all[A].get(&a_province), Some(&2), "declaration + share");
    for m in [GATEWAY, B, C] {
        assert!(!all[m].contains_key(&a_local), "{m} holds A's local feed");
    }
    assert!(
        !all[C].contains_key(&a_neighbours),
        "C is not A's neighbour"
    );
    assert!(!all[C].contains_key(&a_upstream));
    assert!(
        !all[B].contains_key(&a_upstream),
        "upstream is for the province only"
    );
    assert_eq!(all[B].get(&a_neighbours), Some(&1));
    assert_eq!(all[GATEWAY].get(&a_neighbours), Some(&1));
    assert_eq!(all[GATEWAY].get(&a_upstream), Some(&2));
    for m in [GATEWAY, B, C] {
        assert_eq!(all[m].get(&a_province), Some(&2), "{m}");
    }

    // The registers agree.
    let set = |ids: &[&String]| ids.iter().map(|s| (*s).clone()).collect::<BTreeSet<_>>();
    assert_eq!(
        p.risk_ids(A),
        set(&[&local, &neighbours, &province, &upstream])
    );
    assert_eq!(p.risk_ids(B), set(&[&neighbours, &province]));
    assert_eq!(p.risk_ids(C), set(&[&province]));
    assert_eq!(
        p.risk_ids(GATEWAY),
        set(&[&neighbours, &province, &upstream])
    );
    for id in [&neighbours, &province] {
        assert_same_view(&p, A, B, id);
        assert_same_view(&p, A, GATEWAY, id);
    }
    assert_same_view(&p, A, C, &province);
    assert_same_view(&p, A, GATEWAY, &upstream);
    for (m, id) in [(B, &local), (B, &upstream), (C, &neighbours), (C, &local)] {
        let err = p.cli(m).args(["risk", "show", id]).run().err();
        assert!(
            err.to_lowercase().contains("not found"),
            "{m} must not know {id}: {err}"
        );
    }

    // Later events follow the widest scope: an update of the upstream risk reaches the
    // gateway only, one of the neighbours risk reaches B and the gateway only.
    update(&p, A, &upstream, "A major issue, updated");
    update(&p, A, &neighbours, "Told to the neighbours, updated");
    let all = p.wait_converged();
    assert_eq!(all[GATEWAY].get(&a_upstream), Some(&3));
    assert_eq!(all[B].get(&a_neighbours), Some(&2));
    assert!(!all[B].contains_key(&a_upstream) && !all[C].contains_key(&a_neighbours));
    assert_same_view(&p, A, GATEWAY, &upstream);
    assert_same_view(&p, A, B, &neighbours);
}

#[test]
fn a_killed_neighbour_catches_up_a_thousand_entries_exactly_once() {
    const RISKS: usize = 10;
    const ENTRIES: usize = 1000;
    let mut p = TestProvince::abc();
    let a_neighbours = feed(&path(A), "neighbours");
    p.kill9(B);

    let rt = tokio::runtime::Runtime::new().unwrap();
    let ids: Vec<String> = (0..RISKS)
        .map(|i| {
            let id = add(&p, A, &format!("Risk {i}"));
            share(&p, A, &id, "neighbours");
            id
        })
        .collect();
    // The rest as concurrent updates through gRPC: each is acknowledged once durable.
    rt.block_on(async {
        let client = p.registry(A).await;
        let workers = 16;
        let per_worker = (ENTRIES - RISKS) / workers;
        let extra = (ENTRIES - RISKS) % workers;
        let mut tasks = Vec::new();
        for w in 0..workers {
            let mut client = client.clone();
            let ids = ids.clone();
            let n = per_worker + usize::from(w < extra);
            tasks.push(tokio::spawn(async move {
                for i in 0..n {
                    let id = ids[(w + i * workers) % ids.len()].clone();
                    client
                        .update_risk(UpdateRiskRequest {
                            id,
                            title: Some(format!("worker {w} update {i}")),
                            ..Default::default()
                        })
                        .await
                        .unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    let head = own_head(&p, A, "neighbours");
    assert_eq!(head, ENTRIES as u64, "A's neighbours feed");
    // B is down: nobody but the gateway holds them.
    p.wait_head(GATEWAY, &a_neighbours, head);

    p.restart(B);
    p.wait_head(B, &a_neighbours, head);
    let all = p.wait_converged();
    assert_eq!(
        all[B].get(&a_neighbours),
        Some(&head),
        "B at exactly A's head"
    );
    for id in &ids {
        assert_same_view(&p, A, B, id);
    }
    let revs: usize = ids
        .iter()
        .map(|id| p.show(B, id)["history"].as_array().unwrap().len())
        .sum();
    assert_eq!(
        revs,
        RISKS + ENTRIES,
        "one history item per creation and per neighbours entry"
    );
}

#[test]
fn a_cut_link_is_bridged_by_the_gateway_and_healing_it_duplicates_nothing() {
    let p = TestProvince::abc();
    let a_neighbours = feed(&path(A), "neighbours");
    let id = add(&p, A, "Flood rumour");
    share(&p, A, &id, "neighbours");
    p.wait_head(B, &a_neighbours, 1);

    p.link(A, B).cut();
    wait::until(
        "B to see its link from A go down",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || match p.link_status(B, A, "inbound") {
            Some(s) if s["state"] == "connected" => Err(format!("{s}")),
            other => Ok(other),
        },
    );
    for i in 1..=20 {
        update(&p, A, &id, &format!("Flood rumour, take {i}"));
    }
    // The direct link is down, so these can only come through the gateway.
    p.wait_head(B, &a_neighbours, 21);
    assert_eq!(
        p.link(A, B).live_connections(),
        0,
        "the cut link carried traffic"
    );
    assert_ne!(
        p.link_status(B, A, "inbound").map(|s| s["state"].clone()),
        Some(Value::from("connected")),
        "B still shows a connection from A through a cut link"
    );
    assert_same_view(&p, A, B, &id);

    p.link(A, B).heal();
    p.wait_links_up();
    for i in 21..=25 {
        update(&p, A, &id, &format!("Flood rumour, take {i}"));
    }
    p.wait_head(B, &a_neighbours, 26);
    let all = p.wait_converged();
    assert_eq!(
        all[B], all[GATEWAY],
        "B and the gateway hold the same feeds"
    );
    assert_same_view(&p, A, B, &id);
    assert_eq!(
        p.show(B, &id)["history"].as_array().unwrap().len(),
        27,
        "created + shared + 25 updates, each once"
    );
}

#[test]
fn peers_show_every_link_connected_with_its_direction() {
    let p = TestProvince::abc();
    let id = add(&p, A, "Checked by the peers");
    share(&p, A, &id, "neighbours");
    p.wait_converged();

    let link = |on: &str, peer: &str, direction: &str| -> Value {
        p.link_status(on, peer, direction).unwrap_or_else(|| {
            panic!(
                "{on} lists no {direction} link with {peer}: {:#}",
                p.peers(on)
            )
        })
    };
    let connected = |s: &Value, what: &str| {
        assert_eq!(s["state"], "connected", "{what}: {s:#}");
        assert!(
            s["last_contact"].is_string(),
            "{what}: no last contact: {s:#}"
        );
        assert!(
            s["address"].as_str().is_some_and(|a| !a.is_empty()),
            "{what}: no address: {s:#}"
        );
    };
    // B: A dials B (inbound), B dials the gateway and C (outbound).
    connected(&link(B, A, "inbound"), "B's link from A");
    connected(&link(B, GATEWAY, "outbound"), "B's link to the gateway");
    connected(&link(B, C, "outbound"), "B's link to C");
    let b = p.peers(B);
    assert_eq!(
        b["peers"].as_array().unwrap().len(),
        3,
        "B has three links: {b:#}"
    );
    assert_eq!(b["equivocations"], 0);
    assert_eq!(b["refused"], 0);
    // The gateway dials nobody: three inbound links.
    let gw = p.peers(GATEWAY);
    let gw_links = gw["peers"].as_array().unwrap();
    assert_eq!(gw_links.len(), 3, "{gw:#}");
    for c in [A, B, C] {
        connected(
            &link(GATEWAY, c, "inbound"),
            &format!("the gateway's link from {c}"),
        );
    }
    assert!(
        gw_links.iter().all(|l| l["direction"] == "inbound"),
        "{gw:#}"
    );
    // A dials both its peers.
    connected(&link(A, B, "outbound"), "A's link to B");
    connected(&link(A, GATEWAY, "outbound"), "A's link to the gateway");
    assert!(p.link_status(A, C, "outbound").is_none() && p.link_status(A, C, "inbound").is_none());

    // Once everything is held, the lag reports (every two seconds) drain to nothing.
    wait::until(
        "every link to report no lag",
        Duration::from_secs(10),
        Duration::from_millis(200),
        || {
            let mut lagging = Vec::new();
            for m in p.members() {
                for l in p.peers(&m)["peers"].as_array().unwrap() {
                    let empty = |k: &str| l[k].as_object().is_some_and(|o| o.is_empty());
                    if !empty("peer_behind") || !empty("we_behind") {
                        lagging.push(format!("{m}: {l}"));
                    }
                }
            }
            if lagging.is_empty() {
                Ok(())
            } else {
                Err(lagging.join("\n"))
            }
        },
    );
    // B received A's neighbours entry on one of its links and stored it once.
    let received: u64 = p.peers(B)["peers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["entries_received"].as_u64().unwrap())
        .sum();
    assert!(
        received >= 1,
        "B stored nothing it received: {:#}",
        p.peers(B)
    );
}

#[test]
fn a_revoked_county_is_cut_off_and_the_others_keep_syncing() {
    let p = TestProvince::abc();
    let a_province = feed(&path(A), "province");
    let before = add(&p, A, "Shared before the revocation");
    share(&p, A, &before, "province");
    p.wait_converged();

    // A's staff (or whoever holds A's machine) keep a CRL from before the revocation: with
    // the new one their CLI would refuse to talk to A's node at all.
    let old_crl = p.dir().join("crl-before-revocation.pem");
    std::fs::copy(p.pki().crl(), &old_crl).unwrap();
    let at_a = |args: &[&str]| -> Value {
        p.cli(A)
            .arg("--crl")
            .arg(&old_crl)
            .args(args)
            .arg("--json")
            .run()
            .ok()
            .json()
    };
    p.pki().revoke("county-510104");
    // The nodes re-read crl.pem within about two seconds and end A's sessions.
    for m in [B, GATEWAY] {
        let s = wait::until(
            &format!("{m} to end its session with revoked A"),
            Duration::from_secs(15),
            Duration::from_millis(100),
            || match p.link_status(m, A, "inbound") {
                Some(s) if s["state"] != "connected" => Ok(s),
                other => Err(format!("{other:?}")),
            },
        );
        assert!(
            s["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("revoked")),
            "{m} should say why the link from A ended: {s:#}"
        );
    }

    // A's new connections are refused at the handshake: count the refusals so far.
    let refusals = |m: &str| {
        p.member(m)
            .log_lines_with("connection refused")
            .iter()
            .filter(|l| l["reason"].as_str().is_some_and(|r| r.contains("Revoked")))
            .count()
    };
    let refused_before = [refusals(B), refusals(GATEWAY)];
    let after = at_a(&[
        "risk",
        "add",
        "--title",
        "Written after the revocation",
        "--focus",
        "major-event",
    ])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    at_a(&["risk", "share", &after, "--scope", "province"]);
    let a_head = at_a(&["feeds"])
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["origin"] == path(A) && h["audience"] == "province")
        .and_then(|h| h["seq"].as_u64())
        .unwrap();
    // A keeps dialling; wait until both have refused it again since the write.
    for (m, before) in [B, GATEWAY].into_iter().zip(refused_before) {
        wait::until(
            &format!("{m} to refuse A's handshake again after A's write"),
            Duration::from_secs(20),
            Duration::from_millis(100),
            || {
                let now = refusals(m);
                if now > before {
                    Ok(())
                } else {
                    Err(format!("{now} refusals"))
                }
            },
        );
    }
    // Meanwhile B's own entries still travel: to the gateway, and on to C.
    let from_b = add(&p, B, "B carries on");
    share(&p, B, &from_b, "province");
    let b_province = feed(&path(B), "province");
    let b_head = own_head(&p, B, "province");
    p.wait_head(GATEWAY, &b_province, b_head);
    p.wait_head(C, &b_province, b_head);

    for m in [B, C, GATEWAY] {
        let f: Feeds = p.feeds(m);
        assert!(
            f.get(&a_province).is_some_and(|s| *s < a_head),
            "{m} received A's entries written after A was revoked: {f:?}"
        );
        assert!(
            !p.risk_ids(m).contains(&after),
            "{m} shows {after}, written after A was revoked"
        );
        assert!(p.risk_ids(m).contains(&before), "{m} lost {before}");
    }
    for m in [B, GATEWAY] {
        let s = p.link_status(m, A, "inbound").unwrap();
        assert_ne!(s["state"], "connected", "{m} took A back: {s:#}");
    }
    assert!(
        p.link(A, B).forwarded() > 1 && p.link(A, GATEWAY).forwarded() > 1,
        "A kept dialling"
    );
}

#[test]
fn the_province_harness_follows_restarts_and_leaves_nothing_behind() {
    let mut p = TestProvince::new("51")
        .county(A)
        .county(B)
        .neighbours(A, B)
        .start();
    let old = p.county(B).addr();
    p.kill9(B);
    assert!(!p.is_running(B));
    p.restart(B);
    assert_ne!(
        p.county(B).addr(),
        old,
        "a restarted node listens on a new port"
    );
    // A's config still names the proxy: the link comes back through it.
    p.wait_links_up();
    p.kill9(GATEWAY);
    p.restart(GATEWAY);
    p.wait_links_up();

    let pids: Vec<u32> = p
        .members()
        .iter()
        .filter_map(|m| p.member(m).pid())
        .collect();
    let dirs = [p.dir(), p.pki().dir().to_path_buf()];
    let proxy = p.link(A, B).addr();
    drop(p);
    for pid in pids {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap());
        assert!(
            nix::sys::signal::kill(pid, None).is_err(),
            "{pid} outlived the province"
        );
    }
    for d in dirs {
        assert!(!d.exists(), "{} outlived the province", d.display());
    }
    assert!(
        std::net::TcpStream::connect(proxy).is_err(),
        "the proxy outlived the province"
    );
}

#[test]
fn a_node_with_peers_connected_stops_on_sigterm() {
    let mut p = TestProvince::abc();
    // B serves A's session (A dials B); the gateway serves all three.
    p.stop(B);
    p.stop(GATEWAY);
}
