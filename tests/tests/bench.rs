//! The benchmark harness itself works: every workload runs at a small size on Fenghuo and, when a
//! `nats-server` is at hand (`NATS_SERVER`, or on PATH; `.ci/run` installs one with
//! `tests/bench/install-nats.sh`), on NATS JetStream, and reports figures that add up (every
//! record counted at every receiver). No figure is judged here: speed is the benchmark's job.

#![allow(clippy::unwrap_used)]

use std::process::Command;

use serde_json::Value;

/// Runs `bench <args> --json` and returns its one JSON object.
fn bench(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(args)
        .arg("--json")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bench {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("bench {args:?} printed {stdout:?}: {e}"))
}

/// A nats-server that knows `sync_interval`, if one is at hand.
fn nats_server() -> Option<String> {
    let candidate = std::env::var("NATS_SERVER").ok().or_else(|| {
        let out = Command::new("sh")
            .args(["-c", "command -v nats-server"])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    })?;
    // `sync_interval` came with 2.10 (Debian 12 ships 2.9, which would refuse the config).
    let out = Command::new(&candidate).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let version = text.trim().rsplit('v').next()?;
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    let (major, minor) = (parts.next()??, parts.next()??);
    (out.status.success() && (major, minor) >= (2, 10)).then_some(candidate)
}

fn assert_counts_everything(v: &Value, system: &str) {
    assert_eq!(v["system"], system, "{v}");
    match v["workload"].as_str().unwrap() {
        "catch-up" => {
            let rates = v["records_per_s"]["runs"].as_array().unwrap();
            assert_eq!(rates.len(), 2, "{v}");
            assert!(rates.iter().all(|r| r.as_f64().unwrap() > 0.0), "{v}");
        }
        "fan-out" => {
            // Every record reached every receiver, and was counted once.
            assert_eq!(v["samples"], 2 * 40, "{v}");
            assert!(v["p99_ms"].as_f64().unwrap() > 0.0, "{v}");
        }
        "writes" => {
            assert_eq!(v["samples"], 60, "{v}");
            assert!(v["writes_per_s"].as_f64().unwrap() > 0.0, "{v}");
        }
        other => panic!("unexpected workload {other}"),
    }
}

const WORKLOADS: &[&[&str]] = &[
    &["catch-up", "--records", "300", "--runs", "2"],
    &[
        "fan-out",
        "--receivers",
        "2",
        "--rate",
        "200",
        "--records",
        "40",
    ],
    &["writes", "--writers", "4", "--records", "60"],
];

/// Fenghuo's writes straight into the node's writer, without gRPC.
const DIRECT_WRITES: &[&str] = &[
    "writes",
    "--via",
    "writer",
    "--writers",
    "4",
    "--records",
    "60",
];

#[test]
fn every_workload_runs_on_fenghuo_and_counts_every_record() {
    for w in WORKLOADS {
        let v = bench(w);
        assert_counts_everything(&v, "fenghuo");
        assert_eq!(v["durability"], "fsync before ack (per commit batch)");
    }
    let direct = bench(DIRECT_WRITES);
    assert_counts_everything(&direct, "fenghuo");
    assert_eq!(direct["via"], "writer");
}

#[test]
fn the_alert_round_trip_counts_every_acknowledgment() {
    let v = bench(&["alert-round-trip", "--neighbours", "2", "--alerts", "3"]);
    assert_eq!(v["workload"], "alert-round-trip");
    // One sample per neighbour per alert, one "all acknowledged" per alert.
    assert_eq!(v["samples"], 6, "{v}");
    assert_eq!(v["all_acknowledged"]["samples"], 3, "{v}");
    assert!(v["p50_ms"].as_f64().unwrap() > 0.0, "{v}");
}

#[test]
fn disposal_delivery_counts_every_request_taken_by_the_partner_either_way() {
    for via in ["grpc", "webhook"] {
        let v = bench(&[
            "disposal-delivery",
            "--via",
            via,
            "--requests",
            "20",
            "--concurrency",
            "4",
        ]);
        assert_eq!(
            (v["workload"].as_str(), v["via"].as_str()),
            (Some("disposal-delivery"), Some(via))
        );
        assert_eq!(v["samples"], 20, "{v}");
        assert_eq!(v["repeats"], 0, "{v}");
        assert!(v["requests_per_s"].as_f64().unwrap() > 0.0, "{v}");
    }
}

#[test]
fn every_workload_runs_on_nats_both_ways_when_a_nats_server_is_at_hand() {
    let Some(server) = nats_server() else {
        eprintln!(
            "SKIPPED: no nats-server (set NATS_SERVER, or run tests/bench/install-nats.sh); .ci/run installs one"
        );
        return;
    };
    for fsync in ["lazy", "always"] {
        for w in WORKLOADS {
            let mut args = w.to_vec();
            args.extend([
                "--system",
                "nats",
                "--fsync",
                fsync,
                "--nats-server",
                &server,
            ]);
            let v = bench(&args);
            assert_counts_everything(&v, "nats");
            assert_eq!(v["fsync"], fsync, "{v}");
        }
    }
}

#[test]
fn the_report_renders_a_run_into_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results.jsonl");
    let lines = [
        bench(&["writes", "--writers", "4", "--records", "60"]),
        bench(DIRECT_WRITES),
    ];
    let text: String = lines.iter().map(|v| format!("{v}\n")).collect();
    std::fs::write(&results, text).unwrap();
    let doc = dir.path().join("benchmarks.md");
    std::fs::write(&doc, "# Benchmarks\n\nkept\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args([
            "report",
            results.to_str().unwrap(),
            "--into",
            doc.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read_to_string(&doc).unwrap();
    assert!(written.starts_with("# Benchmarks\n\nkept\n"), "{written}");
    let row = written
        .lines()
        .find(|l| l.starts_with("| durable writes at the origin: 4 writers"))
        .unwrap_or_else(|| panic!("no writes row in {written}"));
    assert!(row.contains("in-process writer, no gRPC"), "{row}");
    assert!(
        row.contains("not run"),
        "NATS columns say they were not run: {row}"
    );
}

/// The whole-province overview, one county and one level, each timed; what the figures must
/// add up to for a data set of `counties` × `risks`.
fn assert_dashboard_scale_adds_up(v: &Value, counties: u64, risks: u64, queries: u64) {
    assert_eq!(v["workload"], "dashboard-scale", "{v}");
    let total = counties * risks;
    assert_eq!(v["total_risks"], total, "{v}");
    // The overview counts exactly the risks the counties wrote.
    let o = &v["overview"];
    let (active, resolved) = (
        o["active"].as_u64().unwrap(),
        o["resolved"].as_u64().unwrap(),
    );
    assert_eq!(active + resolved, total, "{v}");
    let by_status: u64 = o["by_status"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(by_status, total, "{v}");
    let graded: u64 = o["by_level"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(graded + o["ungraded"].as_u64().unwrap(), active, "{v}");
    assert!(resolved > 0 && graded > 0, "{v}");
    // Histories as the gateway holds them: created and shared at least; at most created,
    // graded, shared, a measure added and done, closed and a report's share (7).
    let h = &v["history"];
    assert!(h["min"].as_u64().unwrap() >= 2, "{v}");
    assert!(h["max"].as_u64().unwrap() <= 7, "{v}");
    let timed = v["queries"].as_object().unwrap();
    assert_eq!(timed.len(), 4, "{v}");
    assert!(timed.contains_key("full dashboard page render"), "{v}");
    for q in timed.values() {
        assert_eq!(q["samples"], queries, "{v}");
        assert!(q["p99_ms"].as_f64().unwrap() > 0.0, "{v}");
    }
    assert_eq!(
        v["page_render"],
        Value::Null,
        "measured, so nothing pending: {v}"
    );
    let load = &v["load"];
    assert!(load["entries"].as_u64().unwrap() > total, "{v}");
    assert!(load["seconds"].as_f64().unwrap() > 0.0, "{v}");
    assert!(v["disk_bytes"]["loaded"].as_u64().unwrap() > 0, "{v}");
    assert!(v["rss_mib"]["after_queries"].as_f64().unwrap() > 0.0, "{v}");
}

#[test]
fn the_dashboard_scale_counts_every_risk_written_and_rebuilds_the_same_views() {
    let v = bench(&[
        "dashboard-scale",
        "--counties",
        "3",
        "--risks",
        "50",
        "--queries",
        "20",
    ]);
    assert_dashboard_scale_adds_up(&v, 3, 50, 20);
    assert_eq!(v["reused"], false, "{v}");
    // Every entry applied again, giving the same overview: the load's, and the CRL the
    // gateway publishes in its province feed when it starts.
    let r = &v["rebuild"];
    assert_eq!(
        r["entries"].as_u64(),
        v["load"]["entries"].as_u64().map(|n| n + 1),
        "{v}"
    );
    assert_eq!(r["overview_identical"], true, "{v}");
}

#[test]
fn a_kept_dashboard_scale_data_set_is_measured_again_without_loading() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("province");
    let data = data.to_str().unwrap();
    let args = |keep: bool| {
        let mut a = vec![
            "dashboard-scale",
            "--counties",
            "2",
            "--risks",
            "20",
            "--queries",
            "5",
            "--no-rebuild",
            "--data-dir",
            data,
        ];
        if keep {
            a.push("--keep");
        }
        a
    };
    let first = bench(&args(true));
    assert_dashboard_scale_adds_up(&first, 2, 20, 5);
    assert_eq!(first["reused"], false);
    assert!(first["rebuild"].is_null(), "{first}");
    let again = bench(&args(false));
    assert_eq!(again["reused"], true, "{again}");
    assert_eq!(again["overview"], first["overview"]);
    assert_eq!(again["load"], first["load"]);
    // Without --keep the folder goes at the end.
    assert!(!std::path::Path::new(data).exists());
    // A folder holding something else is refused, and left alone.
    std::fs::create_dir_all(data).unwrap();
    std::fs::write(dir.path().join("province/notes.txt"), "mine").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(args(false))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("province/notes.txt").exists());
}

#[test]
fn the_county_pages_bench_signs_in_and_every_page_answers() {
    let v = bench(&["county-pages", "--risks", "2000", "--runs", "5"]);
    assert_eq!(v["workload"], "county-pages", "{v}");
    assert_eq!(v["risks"], 2000, "{v}");
    // The risk opened has measures and a history beyond being identified.
    assert!(v["risk"]["measures"].as_u64().unwrap() >= 1, "{v}");
    assert!(v["risk"]["history"].as_u64().unwrap() >= 3, "{v}");
    let pages = v["pages"].as_array().unwrap();
    let paths: Vec<&str> = pages.iter().map(|p| p["path"].as_str().unwrap()).collect();
    for route in [
        "/",
        "/register",
        "/register/new",
        "/inbox",
        "/disposal",
        "/export/register.csv",
    ] {
        assert!(paths.contains(&route), "{route} not timed: {paths:?}");
    }
    for query in [
        "page=",
        "q=",
        "status=",
        "level=",
        "focus=",
        "overdue=1",
        "sort=",
    ] {
        assert!(
            paths
                .iter()
                .any(|p| p.starts_with("/register?") && p.contains(query)),
            "no register query with {query}: {paths:?}"
        );
    }
    assert!(
        paths.iter().any(|p| p.starts_with("/register/510104-")),
        "no risk page: {paths:?}"
    );
    for p in pages {
        // Answered 200 to a signed-in officer (a lost session would be a redirect to /login).
        assert_eq!(p["status"], 200, "{p}");
        assert!(p["bytes"].as_u64().unwrap() > 0, "{p}");
        assert_eq!(p["samples"], 5, "{p}");
        assert!(p["p99_ms"].as_f64().unwrap() > 0.0, "{p}");
        assert!(p["first_ms"].as_f64().unwrap() > 0.0, "{p}");
    }
    assert_eq!(v["all_ok"], true, "{v}");
}

#[test]
fn the_intake_bench_streams_into_a_county_node_and_times_probes() {
    let v = bench(&[
        "intake",
        "--stored",
        "2000",
        "--rate",
        "200",
        "--seconds",
        "3",
    ]);
    assert_eq!(v["workload"], "intake", "{v}");
    assert_eq!(v["stored"], 2000, "{v}");
    // Every stored observation was recorded: new items and re-sightings.
    let load = &v["load"];
    assert_eq!(
        load["items"].as_u64().unwrap() + load["sightings"].as_u64().unwrap(),
        2000,
        "{v}"
    );
    assert!(load["sightings"].as_u64().unwrap() > 0, "{v}");
    // The node received the stream (probes included) and deduplicated against the store.
    let received = v["received"].as_u64().unwrap();
    assert!(received >= v["sent"].as_u64().unwrap(), "{v}");
    assert_eq!(v["sent"], 600, "{v}");
    assert_eq!(v["refused"], 0, "{v}");
    assert!(v["sightings"].as_u64().unwrap() > 0, "{v}");
    assert!(v["repeats"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(
        v["new_items"].as_u64().unwrap()
            + v["sightings"].as_u64().unwrap()
            + v["repeats"].as_u64().unwrap(),
        received,
        "{v}"
    );
    // Probes were sent and some were seen on the triage list; no figure is judged.
    assert!(v["probes"].as_u64().unwrap() > 0, "{v}");
    assert!(v["latency_ms"]["samples"].as_u64().unwrap() > 0, "{v}");
    assert!(v["rss_mib"]["peak"].as_f64().unwrap() > 0.0, "{v}");
}
