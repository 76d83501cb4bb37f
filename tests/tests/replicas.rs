//! Gateway replicas: a second gateway with the province's certificate holds every feed and
//! syncs with the counties on its own (a county dials each replica); it reads and refuses
//! writes, which the writing replica makes; and it goes on receiving while the writer is down.

use std::collections::BTreeSet;
use std::time::Duration;

use fenghuo_tests::cli::Cli;
use fenghuo_tests::daemon::{Daemon, Kind};
use fenghuo_tests::province::{Province, TestProvince, GATEWAY, SYNC_TIMEOUT};
use fenghuo_tests::wait;
use serde_json::Value;

const A: &str = "510104";

fn add_shared(p: &Province, title: &str) -> String {
    let r = p.risk(A, &["add", "--title", title, "--focus", "key-work"]);
    let id = r["id"].as_str().expect("an id").to_owned();
    p.risk(A, &["share", &id, "--scope", "province"]);
    id
}

/// The provincial staff CLI against `gateway`.
fn at(p: &Province, gateway: &Daemon) -> Cli {
    Cli::connected(gateway.url(), p.pki().credentials(&p.provincial_staff()))
}

fn ids(p: &Province, gateway: &Daemon) -> BTreeSet<String> {
    at(p, gateway)
        .args(["risk", "list", "--origin", "all", "--all", "--json"])
        .run()
        .ok()
        .json()
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn wait_holds(p: &Province, gateway: &Daemon, id: &str, what: &str) {
    wait::until(what, SYNC_TIMEOUT, Duration::from_millis(200), || {
        let held = ids(p, gateway);
        if held.contains(id) {
            Ok(())
        } else {
            Err(format!("{held:?}"))
        }
    });
}

#[test]
fn a_reading_gateway_replica_syncs_every_county_on_its_own_and_refuses_writes() {
    let mut p = TestProvince::new("51").county(A).start();
    let first = add_shared(&p, "before the replica");
    let tmp = tempfile::tempdir().expect("a folder for the replica");

    // The replica: the same province certificate, its own store, and a writer elsewhere.
    let config = tmp.path().join("replica.toml");
    Cli::new()
        .args([
            "init",
            "gateway",
            "--province",
            "51",
            "--listen",
            "127.0.0.1:0",
        ])
        .arg("--pki")
        .arg(p.pki().dir())
        .arg("--data")
        .arg(tmp.path().join("replica-data"))
        .arg("--out")
        .arg(&config)
        .run()
        .ok();
    let mut text = std::fs::read_to_string(&config).expect("the replica's config");
    text.push_str("\n[replication]\nwriter_host = \"the-writing-replica\"\n");
    std::fs::write(&config, text).expect("writing the replica's config");
    let replica = Daemon::start("gateway-replica", Kind::Gateway, &config, None);

    // The county dials both.
    let county_config = p.county(A).config_path().to_owned();
    let text = std::fs::read_to_string(&county_config).expect("the county's config");
    std::fs::write(
        &county_config,
        format!("gateway_replicas = [\"{}\"]\n{text}", replica.addr()),
    )
    .expect("writing the county's config");
    p.stop(A);
    p.restart(A);

    // Everything the county shared reaches the replica directly, old and new.
    wait_holds(&p, &replica, &first, "the older risk at the replica");
    let second = add_shared(&p, "with the replica");
    wait_holds(&p, &replica, &second, "the new risk at the replica");
    wait_holds(&p, p.gateway(), &second, "the new risk at the writer");

    // A directive written at the writer reaches the replica through the county.
    let d: Value = p
        .gateway_cli()
        .args([
            "directive",
            "issue",
            "--text",
            "Check every gathering notice",
            "--deadline",
            "2h",
            "--json",
        ])
        .run()
        .ok()
        .json();
    let d = d["id"].as_str().expect("a directive id").to_owned();
    wait::until(
        "the writer's directive at the replica",
        SYNC_TIMEOUT,
        Duration::from_millis(200),
        || {
            let list = at(&p, &replica)
                .args(["directive", "list", "--json"])
                .run()
                .ok()
                .json();
            if list.to_string().contains(&d) {
                Ok(())
            } else {
                Err(list.to_string())
            }
        },
    );

    // The replica refuses writes, saying where to write.
    let e = at(&p, &replica)
        .args(["directive", "issue", "--text", "x", "--deadline", "2h"])
        .run()
        .err();
    assert!(
        e.contains("only reads") && e.contains("the-writing-replica"),
        "{e}"
    );

    // With the writer down, the replica still receives.
    p.stop(GATEWAY);
    let third = add_shared(&p, "while the writer is down");
    wait_holds(
        &p,
        &replica,
        &third,
        "a risk at the replica while the writer is down",
    );
}
