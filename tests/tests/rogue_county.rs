//! A rogue county: the test holds county X's (510106) real certificate and key — as an attacker
//! who took X's machine would — runs no node for it, and signs into X's province feed whatever
//! it likes, sending it to the gateway over a real sync session. Each test tries one attack.
//! The honest nodes (the gateway, A and B) must refuse the bad entry (X's feed quarantined at
//! it, an alarm in `fenghuo peers`, `fenghuo health` and the dashboard), never relay it, stay
//! usable (`risk list --origin all`, the overview, every dashboard page) and keep syncing
//! honest entries.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use ed25519_dalek::SigningKey;
use fenghuo_node::domain::FocusPoint;
use fenghuo_node::event::Event;
use fenghuo_node::feed::entry::GENESIS_HASH;
use fenghuo_node::feed::{Audience, FeedId};
use fenghuo_proto::v1::Entry;
use fenghuo_tests::province::{feed, Province, TestProvince, GATEWAY};
use fenghuo_tests::rogue::{cert_der, forge_run_at, now_ms, signing_key, RoguePeer};
use fenghuo_tests::wait;
use fenghuo_tests::web::Web;

const A: &str = "510104";
const B: &str = "510105";
const X: &str = "510106";
const X_PATH: &str = "county/510106";
const WAIT: Duration = Duration::from_secs(20);
const PASSWORD: &str = "correct horse battery staple";

/// A province of A and B (neighbours) with its dashboard, and a rogue session to the gateway
/// as X.
struct Attack {
    p: Province,
    rt: tokio::runtime::Runtime,
    rogue: RoguePeer,
    feed: FeedId,
    key: SigningKey,
    cert: Vec<u8>,
}

impl Attack {
    fn start() -> Self {
        let p = TestProvince::new("51")
            .county(A)
            .county(B)
            .neighbours(A, B)
            .dashboard()
            .start();
        p.pki().issue_county(X);
        p.add_staff("ada", "admin", PASSWORD);
        let rt = tokio::runtime::Runtime::new().unwrap();
        let rogue = rt.block_on(async {
            let r = RoguePeer::connect(&p.gateway().url(), &p.pki().credentials("county-510106"))
                .await
                .unwrap();
            r.hello(Vec::new()).await.unwrap();
            r
        });
        Self {
            key: signing_key(p.pki(), "county-510106"),
            cert: cert_der(p.pki(), "county-510106"),
            feed: FeedId::new(X_PATH, Audience::Province),
            p,
            rt,
            rogue,
        }
    }

    /// Signs `events` as X's next entries after `(after, prev)`, by `author` at `at_ms`, and
    /// sends them to the gateway with X's certificate.
    fn send(
        &self,
        after: u64,
        prev: &[u8],
        author: &str,
        at_ms: i64,
        events: &[Event],
    ) -> Vec<Entry> {
        self.send_payloads(
            after,
            prev,
            author,
            at_ms,
            events.iter().map(Event::encode).collect(),
        )
    }

    fn send_payloads(
        &self,
        after: u64,
        prev: &[u8],
        author: &str,
        at_ms: i64,
        payloads: Vec<Vec<u8>>,
    ) -> Vec<Entry> {
        let run = forge_run_at(&self.feed, after, prev, author, at_ms, payloads, &self.key);
        self.rt
            .block_on(self.rogue.send_run(run.clone(), self.cert.clone()))
            .unwrap();
        run
    }

    /// X's honest-looking first entry (a risk), held by the gateway once this returns.
    fn first(&self) -> Entry {
        let run = self.send(
            0,
            &GENESIS_HASH,
            X_PATH,
            now_ms(),
            &[created("510106-1", "Quarry dispute")],
        );
        self.p.wait_head(GATEWAY, &feed(X_PATH, "province"), 1);
        run[0].clone()
    }

    /// Waits for the gateway to quarantine X's province feed at `seq` for a reason containing
    /// `reason`, and checks every place the alarm shows.
    fn assert_quarantined(&self, seq: u64, reason: &str) {
        let q = wait::until(
            "the gateway to quarantine X's feed",
            WAIT,
            Duration::from_millis(100),
            || {
                let peers = self.p.peers(GATEWAY);
                peers["quarantined"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|q| {
                        q["feed"] == "county/510106#province"
                            && q["reason"].as_str().is_some_and(|r| r.contains(reason))
                    })
                    .cloned()
                    .ok_or_else(|| format!("{:#}", peers["quarantined"]))
            },
        );
        assert_eq!(q["seq"], seq, "{q:#}");
        assert!(
            q["reason"].as_str().unwrap().contains(reason),
            "refused for another reason: {q:#}"
        );
        let advice = q["advice"].as_str().unwrap();
        assert!(
            advice.contains(&format!("waits at #{}", seq - 1)),
            "the advice says where the feed waits: {q:#}"
        );
        let held = self
            .p
            .feeds(GATEWAY)
            .get(&feed(X_PATH, "province"))
            .copied()
            .unwrap_or(0);
        assert_eq!(held, seq - 1, "the gateway stored the refused entry");
        let health = self
            .p
            .gateway_cli()
            .args(["health", "--json"])
            .run()
            .ok()
            .json();
        let row = health["counties"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["county"] == X)
            .unwrap_or_else(|| panic!("no row for X in {health:#}"));
        assert_eq!(row["quarantined"][0]["seq"], seq, "{row:#}");
        let alarm = self
            .p
            .gateway()
            .log_lines_with("ALARM: feed quarantined")
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no alarm in the gateway's log"));
        assert_eq!(alarm["level"], "ERROR", "{alarm}");
    }

    /// The honest nodes stay usable and keep syncing; nothing of X past `held` reached B.
    fn assert_honest_nodes_unharmed(&self, held: u64) {
        for member in [GATEWAY, A, B] {
            self.p.risks(member);
        }
        self.p.gateway_cli().args(["overview", "--json"]).run().ok();
        let mut w = Web::new(&self.p.dashboard_url(), &self.p.pki().web_ca_cert());
        assert_eq!(w.sign_in("ada", PASSWORD).status, 303);
        for page in [
            "/",
            "/health",
            "/comms",
            "/linked",
            "/county/510106",
            "/risk/510106-1",
        ] {
            let r = w.get(page);
            assert_eq!(r.status, 200, "{page}: {}", r.body);
            assert!(r.body.len() < 1 << 20, "{page} is {} bytes", r.body.len());
        }
        let health = w.get("/health");
        assert!(
            health.body.contains("隔离"),
            "the health page shows no quarantine"
        );
        // An honest write still travels.
        let id = self.p.risk(
            A,
            &["add", "--title", "Ferry delays", "--focus", "key-work"],
        )["id"]
            .as_str()
            .unwrap()
            .to_owned();
        self.p.risk(A, &["share", &id, "--scope", "province"]);
        for member in [GATEWAY, B] {
            wait::until(
                "the honest share to arrive",
                WAIT,
                Duration::from_millis(100),
                || {
                    if self.p.risk_ids(member).contains(&id) {
                        Ok(())
                    } else {
                        Err(format!("{member} lacks {id}"))
                    }
                },
            );
        }
        let at_b = self
            .p
            .feeds(B)
            .get(&feed(X_PATH, "province"))
            .copied()
            .unwrap_or(0);
        assert!(at_b <= held, "B holds X's feed up to #{at_b}, past #{held}");
    }
}

fn created(id: &str, title: &str) -> Event {
    Event::RiskCreated {
        id: id.into(),
        title: title.into(),
        description: String::new(),
        focus: FocusPoint::MajorEvent,
        source: String::new(),
        behaviours: vec![],
        department: String::new(),
    }
}

#[test]
fn an_oversized_title_is_refused_and_quarantines_the_feed() {
    let a = Attack::start();
    let first = a.first();
    let huge = "标".repeat(1_500_000); // 4.5 MB
    a.send(
        1,
        &first.hash,
        X_PATH,
        now_ms(),
        &[created("510106-2", &huge)],
    );
    a.assert_quarantined(2, "larger than");
    a.assert_honest_nodes_unharmed(1);
}

#[test]
fn a_title_over_the_limit_is_refused_like_local_input() {
    let a = Attack::start();
    let first = a.first();
    a.send(
        1,
        &first.hash,
        X_PATH,
        now_ms(),
        &[created("510106-2", &"x".repeat(201))],
    );
    a.assert_quarantined(2, "title");
    a.assert_honest_nodes_unharmed(1);
}

#[test]
fn terminal_escapes_and_bidi_overrides_are_refused_like_local_input() {
    let a = Attack::start();
    let first = a.first();
    a.send(
        1,
        &first.hash,
        X_PATH,
        now_ms(),
        &[created("510106-2", "Flood\u{1b}[2J\u{202e}gpj.exe")],
    );
    a.assert_quarantined(
        2,
        "title: contains a control character (U+001B) at position 6",
    );
    a.assert_honest_nodes_unharmed(1);
}

#[test]
fn an_author_of_another_unit_is_refused() {
    let a = Attack::start();
    let first = a.first();
    a.send(
        1,
        &first.hash,
        "staff/51/wang",
        now_ms(),
        &[created("510106-2", "Forged")],
    );
    a.assert_quarantined(2, "does not act for county/510106");
    a.assert_honest_nodes_unharmed(1);
}

#[test]
fn a_timestamp_in_2100_is_refused() {
    let a = Attack::start();
    let first = a.first();
    a.send(
        1,
        &first.hash,
        X_PATH,
        4_102_444_800_000,
        &[created("510106-2", "From the future")],
    );
    a.assert_quarantined(2, "ahead of this node's clock");
    a.assert_honest_nodes_unharmed(1);
}

#[test]
fn a_timestamp_before_the_previous_entry_is_refused() {
    let a = Attack::start();
    let first = a.first();
    let day_before = first.timestamp_ms - 86_400_000;
    a.send(
        1,
        &first.hash,
        X_PATH,
        day_before,
        &[created("510106-2", "Backdated")],
    );
    a.assert_quarantined(2, "before the previous entry");
    a.assert_honest_nodes_unharmed(1);
}

#[test]
fn codes_of_no_county_in_the_province_directory_are_refused_and_never_listed() {
    let a = Attack::start();
    let first = a.first();
    let declare = |codes: &[&str]| Event::NeighboursDeclared {
        neighbours: codes.iter().map(|c| c.to_string()).collect(),
    };
    // Well formed, of the province, but no county the CA issued a certificate to: the
    // gateway publishes the CA's directory, so every node knows which counties exist.
    a.send(1, &first.hash, X_PATH, now_ms(), &[declare(&["519999"])]);
    a.assert_quarantined(2, "no county in the province's certificate directory");
    // Not a code at all, and another province's county.
    a.send(
        1,
        &first.hash,
        X_PATH,
        now_ms(),
        &[declare(&["<b>not-a-code</b>"])],
    );
    a.assert_quarantined(2, "not a county code");
    a.send(1, &first.hash, X_PATH, now_ms(), &[declare(&["110101"])]);
    a.assert_quarantined(2, "not a county of province 51");
    // A real one passes.
    a.send(1, &first.hash, X_PATH, now_ms(), &[declare(&[B])]);
    a.p.wait_head(GATEWAY, &feed(X_PATH, "province"), 2);
    let health =
        a.p.gateway_cli()
            .args(["health", "--json"])
            .run()
            .ok()
            .json();
    let listed: Vec<&str> = health["counties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["county"].as_str().unwrap())
        .collect();
    assert!(
        !listed.contains(&"519999"),
        "an invented county is listed: {listed:?}"
    );
    let mut w = Web::new(&a.p.dashboard_url(), &a.p.pki().web_ca_cert());
    assert_eq!(w.sign_in("ada", PASSWORD).status, 303);
    let home = w.get("/");
    assert!(
        !home.body.contains("519999"),
        "the filters offer an invented county"
    );
    a.assert_honest_nodes_unharmed(2);
}

#[test]
fn a_flood_of_refused_runs_is_counted_not_logged_or_looped() {
    let a = Attack::start();
    let first = a.first();
    let bad = forge_run_at(
        &a.feed,
        1,
        &first.hash,
        "staff/51/wang",
        now_ms(),
        vec![created("510106-2", "Forged").encode()],
        &a.key,
    );
    a.rt.block_on(async {
        for _ in 0..2000 {
            a.rogue.send_run(bad.clone(), Vec::new()).await.unwrap();
        }
    });
    a.assert_quarantined(2, "does not act for");
    let refusals = wait::until(
        "2000 refusals counted",
        WAIT,
        Duration::from_millis(200),
        || {
            let peers = a.p.peers(GATEWAY);
            let n = peers["quarantined"][0]["refusals"].as_u64().unwrap_or(0);
            (n >= 2000)
                .then_some(n)
                .ok_or_else(|| format!("{n} so far"))
        },
    );
    assert!(refusals >= 2000);
    let logged = a.p.gateway().log_lines_with("quarantined").len();
    let refused_lines = a.p.gateway().log_lines_with("run refused").len();
    assert!(
        logged <= 3,
        "{logged} alarm lines for one bad entry sent 2000 times"
    );
    assert!(refused_lines <= 3, "{refused_lines} 'run refused' lines");
    a.assert_honest_nodes_unharmed(1);
}

#[test]
fn a_sender_backs_off_from_a_peer_that_keeps_refusing() {
    let a = Attack::start();
    let a_path = format!("county/{A}");
    let a_feed = FeedId::new(a_path.clone(), Audience::Province);
    a.p.wait_head(GATEWAY, &feed(&a_path, "province"), 1);
    // The rogue refuses A's feed every time the gateway sends it.
    let sent = a.rt.block_on(async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(6);
        let mut runs = 0;
        let mut seen = 0;
        while tokio::time::Instant::now() < deadline {
            let frames = a.rogue.frames();
            let now_runs = frames
                .iter()
                .filter(|f| matches!(&f.frame, Some(fenghuo_proto::v1::sync_frame::Frame::Run(r)) if r.entries.first().is_some_and(|e| FeedId::of(e).as_ref() == Some(&a_feed))))
                .count();
            if now_runs > seen {
                seen = now_runs;
                runs = now_runs;
                a.rogue
                    .heads(vec![fenghuo_tests::rogue::head(&a_path, Audience::Province, 0)], true)
                    .await
                    .unwrap();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        runs
    });
    // Without a backoff the gateway resends at once: hundreds of runs in six seconds. With
    // it: at once, then after ~1 s, ~2 s, ~4 s.
    assert!(
        (2..=6).contains(&sent),
        "{sent} runs of A's feed sent to a peer that refuses them"
    );
}
