//! `bench`: Fenghuo's federation benchmarks, with nodes in this process (each with its own
//! sled store, TLS and gRPC server on a loopback port), mutual TLS, signature checks and
//! durable writes all on.
//!
//! ```text
//! cargo run --release -p fenghuo-tests --bin bench -- catch-up --entries 1000000
//! cargo run --release -p fenghuo-tests --bin bench -- fan-out --neighbours 8 --rate 1000 --seconds 5
//! cargo run --release -p fenghuo-tests --bin bench -- province --counties 100 --entries 10000
//! cargo run --release -p fenghuo-tests --bin bench -- writes --writers 64 --entries 200000
//! ```
//!
//! Each prints one line of figures (and `--json` a JSON object) for `docs/benchmarks.md`.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use fenghuo_node::config::NodeConfig;
use fenghuo_node::domain::FocusPoint;
use fenghuo_node::feed::{self, Audience, FeedId};
use fenghuo_node::identity::Identity;
use fenghuo_node::pki::ca::{CertificateAuthority, IssueOptions};
use fenghuo_node::register::Command;
use fenghuo_node::start::{self, Running};
use fenghuo_node::store::Batch;
use tokio::sync::watch;

#[derive(Debug, Parser)]
#[command(
    name = "bench",
    about = "Fenghuo federation benchmarks (in-process nodes on loopback)"
)]
struct Args {
    #[command(subcommand)]
    workload: Workload,
    /// Print a JSON object instead of a line.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Workload {
    /// A node that missed N entries of a neighbour's feed starts and catches up.
    CatchUp {
        #[arg(long, default_value_t = 1_000_000)]
        entries: u64,
    },
    /// One county writes at a steady rate; latency until each neighbour and the gateway hold it.
    FanOut {
        #[arg(long, default_value_t = 8)]
        neighbours: usize,
        #[arg(long, default_value_t = 1000)]
        rate: u64,
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
    /// A province of N counties and a gateway; a burst of province entries at one county.
    Province {
        #[arg(long, default_value_t = 100)]
        counties: usize,
        #[arg(long, default_value_t = 10_000)]
        entries: u64,
    },
    /// Durable writes at one node with concurrent writers (group commit).
    Writes {
        #[arg(long, default_value_t = 64)]
        writers: usize,
        #[arg(long, default_value_t = 200_000)]
        entries: u64,
    },
}

/// A province on disk: CA, certificates and a data folder per node.
struct Bench {
    dir: tempfile::TempDir,
    ca: CertificateAuthority,
    stop_tx: watch::Sender<bool>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Bench {
    fn new() -> anyhow::Result<Self> {
        // BENCH_DATA_DIR puts the stores elsewhere (e.g. /dev/shm, to take the disk out of a
        // measurement and see what is left).
        let dir = match std::env::var_os("BENCH_DATA_DIR") {
            Some(root) => tempfile::tempdir_in(root)?,
            None => tempfile::tempdir()?,
        };
        let ca = CertificateAuthority::init(&dir.path().join("pki"), "51", false)?;
        let (stop_tx, _) = watch::channel(false);
        Ok(Self { dir, ca, stop_tx })
    }

    fn pki(&self) -> PathBuf {
        self.dir.path().join("pki")
    }

    /// Writes a config and launches the node (county when `code` has six digits).
    async fn launch(
        &mut self,
        code: &str,
        port: u16,
        gateway: Option<u16>,
        neighbours: &[(String, u16)],
    ) -> anyhow::Result<Running> {
        let identity = if code.len() == 6 {
            Identity::county(code)?
        } else {
            Identity::province(code)?
        };
        let stem = identity.file_stem();
        if !self.pki().join(format!("{stem}.crt")).exists() {
            self.ca.issue(&identity, &IssueOptions::default())?;
        }
        let kind = if code.len() == 6 {
            "county"
        } else {
            "province"
        };
        let mut text = format!(
            "{kind} = \"{code}\"\nlisten = \"127.0.0.1:{port}\"\ndata_dir = \"data-{code}\"\n",
        );
        if let Some(g) = gateway {
            text.push_str(&format!("gateway = \"127.0.0.1:{g}\"\n"));
        }
        text.push_str(&format!(
            "[tls]\nca = \"pki/ca.crt\"\ncert = \"pki/{stem}.crt\"\nkey = \"pki/{stem}.key\"\ncrl = \"pki/crl.pem\"\n"
        ));
        for (n, p) in neighbours {
            text.push_str(&format!(
                "[[neighbours]]\ncode = \"{n}\"\naddress = \"127.0.0.1:{p}\"\n"
            ));
        }
        let cfg = NodeConfig::parse(&text, code, self.dir.path())?;
        let mut stop = self.stop_tx.subscribe();
        let running = start::launch(&cfg, async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await
        .with_context(|| format!("starting {code}"))?;
        Ok(running)
    }

    fn stop(&self) {
        let _ = self.stop_tx.send(true);
    }
}

fn head(node: &Running, feed: &FeedId) -> u64 {
    feed::log::head(node.state.store.as_ref(), &Batch::new(), feed)
        .map(|h| h.seq)
        .unwrap_or(0)
}

/// Waits until `node` holds `feed` up to `seq`, calling `on_progress` with each new head.
async fn wait_for(node: &Running, feed: &FeedId, seq: u64, mut on_progress: impl FnMut(u64)) {
    let mut commits = node.state.writer.commits();
    loop {
        let h = head(node, feed);
        on_progress(h);
        if h >= seq {
            return;
        }
        let _ = tokio::time::timeout(Duration::from_millis(50), commits.changed()).await;
    }
}

const PAYLOAD: &str = "Video of a crowd outside the township office is being reposted with claims that compensation was withheld; local accounts ask for a gathering on Saturday at 9.";

fn staff(code: &str) -> String {
    format!("staff/{code}/bench")
}

/// Creates a risk at `node` and shares it with `scope`; returns its id.
async fn shared_risk(node: &Running, code: &str, scope: Audience) -> anyhow::Result<String> {
    let w = &node.state.writer;
    let r = w
        .submit(
            staff(code),
            Command::Create {
                title: "Bench risk".into(),
                description: String::new(),
                focus: Some(FocusPoint::MajorEvent),
                source: String::new(),
                behaviours: vec![],
                department: String::new(),
            },
        )
        .await?;
    w.submit(
        staff(code),
        Command::Share {
            id: r.risk_id.clone(),
            scope,
        },
    )
    .await?;
    Ok(r.risk_id)
}

fn update(id: &str, i: u64) -> Command {
    Command::Update {
        id: id.to_owned(),
        title: None,
        description: Some(format!("{i:08} {PAYLOAD}")),
        focus: None,
        source: None,
        behaviours: None,
        department: None,
    }
}

/// Writes `n` updates to `risks` (round robin) with `writers` concurrent writers; returns
/// the elapsed time and the per-write latencies.
async fn write_many(
    node: &Running,
    code: &str,
    risks: &[String],
    n: u64,
    writers: usize,
) -> anyhow::Result<(Duration, Vec<Duration>)> {
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let w = node.state.writer.clone();
        let next = next.clone();
        let risks = risks.to_vec();
        let author = staff(code);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let t = Instant::now();
                w.submit(
                    author.clone(),
                    update(&risks[(i as usize) % risks.len()], i),
                )
                .await?;
                lat.push(t.elapsed());
            }
            anyhow::Ok(lat)
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await??);
    }
    Ok((started.elapsed(), lat))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|k| k.parse::<f64>().ok())
            })
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

fn report(json: bool, name: &str, figures: serde_json::Value, line: String) {
    if json {
        let mut v = figures;
        v["workload"] = name.into();
        println!("{v}");
    } else {
        println!("{name}: {line}");
    }
}

async fn catch_up(json: bool, entries: u64) -> anyhow::Result<()> {
    let mut b = Bench::new()?;
    // A (510105) holds the feed; B (510104, the lower code) dials A when it starts.
    let (pa, pb) = (free_port(), free_port());
    let a = b
        .launch("510105", pa, None, &[("510104".into(), pb)])
        .await?;
    let risk = shared_risk(&a, "510105", Audience::Province).await?;
    let feed = FeedId::new("county/510105", Audience::Province);
    eprintln!("filling A with {entries} entries…");
    let (fill, _) = write_many(&a, "510105", &[risk], entries.saturating_sub(1), 512).await?;
    let total = head(&a, &feed);
    if std::env::var_os("BENCH_DEBUG").is_some() {
        let (mut last_signed, mut max_gap, mut from) = (0, 0, 1);
        loop {
            let chunk = feed::log::read(a.state.store.as_ref(), &feed, from, 10_000)?;
            let Some(last) = chunk.last().map(|e| e.seq) else {
                break;
            };
            for e in chunk.iter().filter(|e| !e.signature.is_empty()) {
                max_gap = max_gap.max(e.seq - last_signed);
                last_signed = e.seq;
            }
            from = last + 1;
        }
        eprintln!("debug: last signed {last_signed}, max gap {max_gap}");
    }
    eprintln!(
        "filled in {:.1} s ({:.0} entries/s); starting B",
        fill.as_secs_f64(),
        total as f64 / fill.as_secs_f64()
    );
    let started = Instant::now();
    let bnode = b
        .launch("510104", pb, None, &[("510105".into(), pa)])
        .await?;
    let mut last_print = Instant::now();
    wait_for(&bnode, &feed, total, |h| {
        if last_print.elapsed() > Duration::from_secs(2) {
            eprintln!("  B holds {h}/{total}");
            last_print = Instant::now();
        }
    })
    .await;
    let took = started.elapsed();
    let rate = total as f64 / took.as_secs_f64();
    b.stop();
    report(
        json,
        "catch-up",
        serde_json::json!({"entries": total, "seconds": took.as_secs_f64(), "entries_per_s": rate, "peak_rss_mib": peak_rss_mib()}),
        format!(
            "{total} entries in {:.2} s = {rate:.0} entries/s (peak RSS of both nodes {:.0} MiB)",
            took.as_secs_f64(),
            peak_rss_mib()
        ),
    );
    Ok(())
}

async fn fan_out(json: bool, neighbours: usize, rate: u64, seconds: u64) -> anyhow::Result<()> {
    let mut b = Bench::new()?;
    let codes: Vec<String> = (0..neighbours)
        .map(|i| format!("5101{:02}", 5 + i))
        .collect();
    let ports: Vec<u16> = codes.iter().map(|_| free_port()).collect();
    let (pg, pa) = (free_port(), free_port());
    let gateway = b.launch("51", pg, None, &[]).await?;
    let mut receivers = vec![("gateway".to_owned(), gateway)];
    for (code, port) in codes.iter().zip(&ports) {
        let n = b
            .launch(code, *port, Some(pg), &[("510104".into(), pa)])
            .await?;
        receivers.push((code.clone(), n));
    }
    let list: Vec<(String, u16)> = codes.iter().cloned().zip(ports.iter().copied()).collect();
    let a = b.launch("510104", pa, Some(pg), &list).await?;
    let risk = shared_risk(&a, "510104", Audience::Neighbours).await?;
    let feed = FeedId::new("county/510104", Audience::Neighbours);
    // Let every link come up and deliver the share before measuring.
    let base = head(&a, &feed);
    for (_, r) in &receivers {
        wait_for(r, &feed, base, |_| {}).await;
    }
    let sent: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let total = rate * seconds;
    // Each watcher notes when its node first holds each entry; joined with the write times
    // at the end (an entry can reach a neighbour before its writer hears back).
    let mut watchers = Vec::new();
    for (_, r) in &receivers {
        let state = r.state.clone();
        let feed = feed.clone();
        watchers.push(tokio::spawn(async move {
            let mut commits = state.writer.commits();
            let mut seen = base;
            let mut arrivals = Vec::new();
            while seen < base + total {
                let _ = tokio::time::timeout(Duration::from_millis(20), commits.changed()).await;
                let h = feed::log::head(state.store.as_ref(), &Batch::new(), &feed)
                    .map(|h| h.seq)
                    .unwrap_or(0);
                let now = Instant::now();
                arrivals.extend((seen + 1..=h).map(|seq| (seq, now)));
                seen = seen.max(h);
            }
            arrivals
        }));
    }
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut writes = Vec::new();
    for i in 0..total {
        tick.tick().await;
        let w = a.state.writer.clone();
        let sent = sent.clone();
        let risk = risk.clone();
        writes.push(tokio::spawn(async move {
            let t = Instant::now();
            let r = w.submit(staff("510104"), update(&risk, i)).await?;
            sent.lock().unwrap().insert(r.seq, t);
            anyhow::Ok(())
        }));
    }
    for w in writes {
        w.await??;
    }
    let wrote = started.elapsed();
    let mut l = Vec::new();
    {
        let sent = sent.lock().unwrap().clone();
        for w in watchers {
            let arrivals = tokio::time::timeout(Duration::from_secs(60), w).await??;
            l.extend(
                arrivals.into_iter().filter_map(|(seq, at)| {
                    sent.get(&seq).map(|t| at.saturating_duration_since(*t))
                }),
            );
        }
    }
    l.sort();
    b.stop();
    let (p50, p99, max) = (
        percentile(&l, 0.50),
        percentile(&l, 0.99),
        percentile(&l, 1.0),
    );
    report(
        json,
        "fan-out",
        serde_json::json!({"receivers": receivers.len(), "entries": total, "rate": total as f64 / wrote.as_secs_f64(),
            "samples": l.len(), "p50_ms": ms(p50), "p99_ms": ms(p99), "max_ms": ms(max)}),
        format!(
            "{total} entries at {:.0}/s to {} receivers ({} samples): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            total as f64 / wrote.as_secs_f64(),
            receivers.len(),
            l.len(),
            ms(p50),
            ms(p99),
            ms(max)
        ),
    );
    Ok(())
}

async fn province(json: bool, counties: usize, entries: u64) -> anyhow::Result<()> {
    let mut b = Bench::new()?;
    let pg = free_port();
    let gateway = b.launch("51", pg, None, &[]).await?;
    let mut nodes = Vec::new();
    for i in 0..counties {
        // 5101xx, 5102xx…: valid county codes of province 51.
        let code = format!("51{:02}{:02}", 1 + i / 99, 1 + i % 99);
        let n = b.launch(&code, free_port(), Some(pg), &[]).await?;
        nodes.push((code, n));
    }
    let (origin_code, origin) = &nodes[0];
    let risk = shared_risk(origin, origin_code, Audience::Province).await?;
    let feed = FeedId::new(format!("county/{origin_code}"), Audience::Province);
    let base = head(origin, &feed);
    for (_, n) in nodes.iter().chain([(String::new(), gateway)].iter()) {
        wait_for(n, &feed, base, |_| {}).await;
    }
    eprintln!("{counties} counties and the gateway up; burst of {entries} province entries");
    let started = Instant::now();
    let (wrote, _) = write_many(origin, origin_code, &[risk], entries, 256).await?;
    let target = base + entries;
    let mut slowest = Duration::ZERO;
    for (_, n) in &nodes {
        wait_for(n, &feed, target, |_| {}).await;
        slowest = slowest.max(started.elapsed());
    }
    let took = started.elapsed();
    b.stop();
    report(
        json,
        "province",
        serde_json::json!({"counties": counties, "entries": entries, "write_seconds": wrote.as_secs_f64(),
            "converged_seconds": took.as_secs_f64(), "deliveries_per_s": (entries as f64 * counties as f64) / took.as_secs_f64(),
            "peak_rss_mib": peak_rss_mib()}),
        format!(
            "{counties} counties + gateway: burst of {entries} written in {:.2} s, every node holds it after {:.2} s ({:.0} deliveries/s; peak RSS {:.0} MiB)",
            wrote.as_secs_f64(),
            took.as_secs_f64(),
            (entries as f64 * counties as f64) / took.as_secs_f64(),
            peak_rss_mib()
        ),
    );
    Ok(())
}

async fn writes(json: bool, writers: usize, entries: u64) -> anyhow::Result<()> {
    let mut b = Bench::new()?;
    let a = b.launch("510104", free_port(), None, &[]).await?;
    let risks: Vec<String> = {
        let mut v = Vec::new();
        for _ in 0..writers.clamp(1, 64) {
            v.push(shared_risk(&a, "510104", Audience::Neighbours).await?);
        }
        v
    };
    let (took, mut lat) = write_many(&a, "510104", &risks, entries, writers).await?;
    lat.sort();
    b.stop();
    let rate = entries as f64 / took.as_secs_f64();
    report(
        json,
        "writes",
        serde_json::json!({"writers": writers, "entries": entries, "writes_per_s": rate, "p50_ms": ms(percentile(&lat, 0.5)), "p99_ms": ms(percentile(&lat, 0.99))}),
        format!(
            "{entries} durable writes with {writers} writers: {rate:.0}/s, p50 {:.2} ms, p99 {:.2} ms",
            ms(percentile(&lat, 0.5)),
            ms(percentile(&lat, 0.99))
        ),
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    fenghuo_node::logging::init(Default::default(), Some("warn"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(async move {
        match args.workload {
            Workload::CatchUp { entries } => catch_up(args.json, entries).await,
            Workload::FanOut {
                neighbours,
                rate,
                seconds,
            } => fan_out(args.json, neighbours, rate, seconds).await,
            Workload::Province { counties, entries } => {
                province(args.json, counties, entries).await
            }
            Workload::Writes { writers, entries } => writes(args.json, writers, entries).await,
        }
    });
    // Views may still be catching up in blocking tasks; the figures are taken, don't wait.
    rt.shutdown_timeout(Duration::from_secs(1));
    result
}
