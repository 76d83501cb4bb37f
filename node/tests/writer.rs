//! The single writer end to end on a real store: concurrent commands become one contiguous,
//! hash-chained feed whose signatures verify; the register view rebuilds identically from
//! the feed; refused commands write nothing.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use fenghuo_node::dispatch;
use fenghuo_node::domain::{FocusPoint, GradingStandard, Level, RiskStatus, Scores};
use fenghuo_node::feed::entry::{verify_run, GENESIS_HASH};
use fenghuo_node::feed::{self, Audience, FeedId, FeedSigner};
use fenghuo_node::register::view::{self, RISKS_TREE};
use fenghuo_node::register::Command;
use fenghuo_node::store::{SledStore, Store};
use fenghuo_node::writer::{WriteError, Writer, WriterContext};

const ORIGIN: &str = "county/510104";

fn writer(store: Arc<SledStore>, key: &SigningKey) -> Writer {
    Writer::start(WriterContext {
        store,
        origin: ORIGIN.into(),
        unit: "510104".into(),
        signer: FeedSigner::from_key(key.clone()),
        standard: Arc::new(GradingStandard::default_standard()),
        views_lock: Default::default(),
    })
    .unwrap()
}

fn create(title: &str) -> Command {
    Command::Create {
        title: title.into(),
        description: String::new(),
        focus: Some(FocusPoint::MajorEvent),
        source: String::new(),
        behaviours: vec![],
        department: String::new(),
    }
}

fn dump(store: &dyn Store, tree: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    store.scan_prefix(tree, b"").map(|r| r.unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_form_one_verified_chain_and_views_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SledStore::open(dir.path()).unwrap());
    let key = SigningKey::from_bytes(&[7; 32]);
    let w = writer(store.clone(), &key);

    let mut tasks = Vec::new();
    for i in 0..200 {
        let w = w.clone();
        tasks.push(tokio::spawn(async move {
            let r = w
                .submit("staff/510104/zhang".into(), create(&format!("risk {i}")))
                .await
                .unwrap();
            let scores = Scores {
                influence: 5,
                attention: 5,
                diffusion: 5,
            };
            w.submit(
                "staff/510104/zhang".into(),
                Command::Grade {
                    id: r.id.clone(),
                    scores,
                    override_level: None,
                    reason: String::new(),
                },
            )
            .await
            .unwrap();
            r.id
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 200, "every create got its own id");

    // One contiguous chain of 400 entries, signed by the origin.
    let feed_id = FeedId::new(ORIGIN, Audience::Local);
    let entries = feed::log::read(store.as_ref(), &feed_id, 1, 10_000).unwrap();
    assert_eq!(entries.len(), 400);
    verify_run(&feed_id, 0, &GENESIS_HASH, &entries, &key.verifying_key()).unwrap();
    let signed = entries.iter().filter(|e| !e.signature.is_empty()).count();
    assert!((1..=400).contains(&signed));

    // Every risk is graded I in the view.
    for id in &ids {
        let r = view::load_full(store.as_ref(), id).unwrap();
        assert_eq!(r.level(), Some(Level::I));
        assert_eq!(r.status, RiskStatus::Graded);
        // Level I is reported upward in the same write: the risk now lives in `upstream`.
        assert_eq!(r.history.len(), 3);
        assert_eq!(r.scope, Audience::Upstream);
        assert_eq!(r.history[2].action, "shared");
    }
    let upstream = FeedId::new(ORIGIN, Audience::Upstream);
    // …with its major-issue report: a share and a report per risk.
    let upstream_entries = feed::log::read(store.as_ref(), &upstream, 1, 10_000).unwrap();
    assert_eq!(upstream_entries.len(), 400);
    verify_run(
        &upstream,
        0,
        &GENESIS_HASH,
        &upstream_entries,
        &key.verifying_key(),
    )
    .unwrap();
    let reports = fenghuo_node::comms::view::reports(store.as_ref()).unwrap();
    assert_eq!(reports.len(), 200);
    assert!(reports
        .iter()
        .all(|r| r.automatic && r.level == Some(Level::I)));

    // The overview counts them, and a rebuild counts them the same.
    let filter = fenghuo_node::overview::Filter {
        to_ms: i64::MAX / 2,
        from_ms: i64::MAX / 2 - 86_400_000,
        ..Default::default()
    };
    let overview = fenghuo_node::overview::overview(store.as_ref(), &filter).unwrap();
    assert_eq!(overview.by_level, [200, 0, 0, 0]);
    assert_eq!(overview.counties["510104"].worst(), Some(Level::I));

    // Deleting the views and rebuilding gives the same bytes.
    let before = dump(store.as_ref(), RISKS_TREE);
    dispatch::clear(store.as_ref()).unwrap();
    assert!(dump(store.as_ref(), RISKS_TREE).is_empty());
    assert_eq!(dispatch::catch_up(store.as_ref()).unwrap(), 800);
    assert_eq!(dump(store.as_ref(), RISKS_TREE), before);
    assert_eq!(
        fenghuo_node::overview::overview(store.as_ref(), &filter).unwrap(),
        overview
    );
}

#[tokio::test]
async fn refused_commands_write_nothing_and_batches_stay_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SledStore::open(dir.path()).unwrap());
    let key = SigningKey::from_bytes(&[9; 32]);
    let w = writer(store.clone(), &key);
    let author = || "staff/510104/zhang".to_string();

    let r = w.submit(author(), create("a")).await.unwrap();
    let heads_before = feed::log::heads(store.as_ref()).unwrap();
    let risks_before = dump(store.as_ref(), RISKS_TREE);

    let refusals = [
        create("  "),
        // Giving a field its current value changes nothing, so there is nothing to record.
        Command::Update {
            id: r.id.clone(),
            title: Some("a".into()),
            description: None,
            focus: Some(FocusPoint::MajorEvent),
            source: None,
            behaviours: None,
            add_behaviours: Vec::new(),
            remove_behaviours: Vec::new(),
            department: None,
        },
        Command::SetStatus {
            id: r.id.clone(),
            status: RiskStatus::Monitoring,
        },
        Command::Grade {
            id: r.id.clone(),
            scores: Scores {
                influence: 6,
                attention: 1,
                diffusion: 1,
            },
            override_level: None,
            reason: String::new(),
        },
        Command::Grade {
            id: "510104-99".into(),
            scores: Scores {
                influence: 1,
                attention: 1,
                diffusion: 1,
            },
            override_level: None,
            reason: String::new(),
        },
        Command::Grade {
            id: "510105-1".into(),
            scores: Scores {
                influence: 1,
                attention: 1,
                diffusion: 1,
            },
            override_level: None,
            reason: String::new(),
        },
        Command::AddMeasure {
            id: r.id.clone(),
            action: "x".into(),
            owner: "y".into(),
            due: "2026-02-30".into(),
        },
    ];
    for cmd in refusals {
        let e = w.submit(author(), cmd.clone()).await.unwrap_err();
        assert!(matches!(e, WriteError::Refused(_)), "{cmd:?}: {e}");
    }
    assert_eq!(feed::log::heads(store.as_ref()).unwrap(), heads_before);
    assert_eq!(dump(store.as_ref(), RISKS_TREE), risks_before);

    // A refused command in the middle of a batch does not disturb its neighbours.
    let (a, b, c) = tokio::join!(
        w.submit(author(), create("b")),
        w.submit(author(), create("")),
        w.submit(author(), create("c")),
    );
    assert!(a.is_ok() && b.is_err() && c.is_ok());
    let entries = feed::log::read(
        store.as_ref(),
        &FeedId::new(ORIGIN, Audience::Local),
        1,
        100,
    )
    .unwrap();
    assert_eq!(entries.len(), 3);
    verify_run(
        &FeedId::new(ORIGIN, Audience::Local),
        0,
        &GENESIS_HASH,
        &entries,
        &key.verifying_key(),
    )
    .unwrap();
}
