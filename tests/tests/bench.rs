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
