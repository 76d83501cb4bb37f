//! `fenghuo-node backup` while the node runs and writes, `restore` into a stopped node: the
//! restored node holds exactly what the backup did, and syncs on from there.

use std::collections::BTreeSet;
use std::time::Duration;

use fenghuo_node::config::NodeConfig;
use fenghuo_proto::v1::{self, admin_client::AdminClient};
use fenghuo_tests::binaries;
use fenghuo_tests::cli::run_command;
use fenghuo_tests::province::{TestProvince, GATEWAY, SYNC_TIMEOUT};
use fenghuo_tests::wait;
use serde_json::Value;

const A: &str = "510104";

fn add(p: &fenghuo_tests::province::Province, title: &str) -> String {
    let r = p.risk(A, &["add", "--title", title, "--focus", "key-work"]);
    r["id"].as_str().expect("an id").to_owned()
}

/// Waits until `member` holds risk `id`.
fn wait_holds(p: &fenghuo_tests::province::Province, member: &str, id: &str, what: &str) {
    wait::until(what, SYNC_TIMEOUT, Duration::from_millis(200), || {
        if p.risk_ids(member).contains(id) {
            Ok(())
        } else {
            Err("not yet".to_owned())
        }
    });
}

fn node_cmd(args: &[&str]) -> fenghuo_tests::cli::CliOutput {
    let mut cmd = binaries::fenghuo_node();
    cmd.args(args);
    run_command(cmd, Duration::from_secs(60))
}

#[test]
fn a_backup_taken_while_the_node_writes_restores_to_exactly_its_moment() {
    let mut p = TestProvince::new("51").county(A).start();
    let before: BTreeSet<String> = (0..20).map(|i| add(&p, &format!("risk {i}"))).collect();
    let config = p.county(A).config_path().to_owned();
    let tmp = tempfile::tempdir().expect("a folder for the backup");
    let file = tmp.path().join("510104.fhb");

    // Writes go on while the backup is taken.
    let args: Vec<String> = [
        "backup",
        "--config",
        config.to_str().expect("a UTF-8 path"),
        "--node",
        &p.county(A).url(),
        "--out",
        file.to_str().expect("a UTF-8 path"),
        "--json",
    ]
    .map(str::to_owned)
    .to_vec();
    let backup = std::thread::spawn(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        node_cmd(&args).ok().json()
    });
    let written_during: Vec<String> = (0..10).map(|i| add(&p, &format!("during {i}"))).collect();
    let summary = backup.join().expect("the backup");
    assert_eq!(summary["node"], "county/510104", "{summary:#}");
    assert!(summary["records"].as_u64() > Some(0), "{summary:#}");
    assert!(file.exists());
    assert!(!tmp.path().join("510104.fhb.partial").exists());
    let after = add(&p, "after the backup");
    // Shared after the backup: the gateway holds it, and gives it back after the restore.
    let after_shared = add(&p, "shared after the backup");
    p.risk(A, &["share", &after_shared, "--scope", "province"]);
    wait_holds(&p, GATEWAY, &after_shared, "the shared risk at the gateway");

    // Only the node's own certificate takes a backup: not its staff, not the gateway.
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    for stem in [p.staff(A), p.node_stem(GATEWAY)] {
        let status = rt.block_on(async {
            AdminClient::new(p.channel_as(A, &stem).await)
                .backup(v1::BackupRequest {})
                .await
                .map(|_| ())
        });
        assert_eq!(
            status.map_err(|s| s.code()),
            Err(tonic::Code::PermissionDenied),
            "{stem}"
        );
    }

    // Restore: refused into the folder in use, accepted into an emptied one.
    p.stop(A);
    let cfg = NodeConfig::load(&config).expect("the county's config");
    let data = cfg.resolve(&cfg.data_dir);
    let e = node_cmd(&[
        "restore",
        "--config",
        config.to_str().expect("a UTF-8 path"),
        "--from",
        file.to_str().expect("a UTF-8 path"),
    ])
    .err();
    assert!(e.contains("not empty"), "{e}");
    let aside = tmp.path().join("data-aside");
    std::fs::rename(&data, &aside).expect("moving the data folder aside");
    let restored = node_cmd(&[
        "restore",
        "--config",
        config.to_str().expect("a UTF-8 path"),
        "--from",
        file.to_str().expect("a UTF-8 path"),
        "--json",
    ])
    .ok()
    .json();
    assert_eq!(restored["records"], summary["records"], "{restored:#}");
    // Cut off from the gateway, the restored node refuses writes: its own entries shared after
    // the backup are still out there, and a write now could take their place.
    p.link(A, GATEWAY).cut();
    p.restart(A);
    let e = p
        .cli(A)
        .args(["risk", "add", "--title", "too early", "--focus", "key-work"])
        .run()
        .err();
    assert!(e.contains("restored from a backup"), "{e}");
    p.link(A, GATEWAY).heal();

    // Everything from before the backup, none of what came after; writes made during the
    // backup are there as a prefix (the backup is one moment, not a mix).
    let held: BTreeSet<String> = p.risk_ids(A);
    assert!(
        before.is_subset(&held),
        "lost: {:?}",
        before.difference(&held)
    );
    assert!(!held.contains(&after), "{after} came after the backup");
    let kept: Vec<bool> = written_during.iter().map(|id| held.contains(id)).collect();
    assert!(
        kept.windows(2).all(|w| w[0] || !w[1]),
        "a later write without an earlier one: {kept:?}"
    );
    // What it had shared after the backup comes back from the gateway, so its chain goes on
    // from there (a write before that would equivocate: docs/operations.md).
    wait_holds(
        &p,
        A,
        &after_shared,
        "the county's own shared entry back from the gateway",
    );
    // The restored node works: it writes and the gateway receives it.
    // Writes resume at the next heads exchange with the gateway (every two seconds).
    let fresh = wait::until(
        "writes accepted again",
        SYNC_TIMEOUT,
        Duration::from_millis(200),
        || {
            let out = p
                .cli(A)
                .args([
                    "risk",
                    "add",
                    "--title",
                    "after the restore",
                    "--focus",
                    "key-work",
                    "--json",
                ])
                .run();
            if out.status.success() {
                Ok(out.json()["id"].as_str().unwrap_or_default().to_owned())
            } else {
                Err(out.stderr)
            }
        },
    );
    let shared: Value = p.risk(A, &["share", &fresh, "--scope", "province"]);
    assert_eq!(shared["id"], fresh.as_str());
    wait_holds(&p, GATEWAY, &fresh, "the new risk at the gateway");

    // Caught up once is enough: restarted cut off, the node writes at once.
    p.link(A, GATEWAY).cut();
    p.stop(A);
    p.restart(A);
    add(&p, "after a plain restart");
    p.link(A, GATEWAY).heal();
}
