//! Fenghuo's side: nodes in this process, each with its own sled store, TLS configuration and
//! gRPC server on a loopback port; mutual TLS, signature checks and durable writes all on.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use fenghuo_node::config::NodeConfig;
use fenghuo_node::dispatch;
use fenghuo_node::domain::FocusPoint;
use fenghuo_node::feed::{self, Audience, FeedId};
use fenghuo_node::identity::Identity;
use fenghuo_node::pki::ca::{CertificateAuthority, IssueOptions};
use fenghuo_node::register::Command;
use fenghuo_node::start::{self, Running};
use fenghuo_proto::v1 as pb;
use fenghuo_tests::Credentials;
use serde_json::json;
use tokio::sync::watch;

use crate::load;
use crate::stats::{peak_rss_mib, record, spread, spread_line, Latencies, Outcome};

/// What a Fenghuo acknowledgment promises.
pub const DURABILITY: &str = "fsync before ack (per commit batch)";

/// A province on disk: CA, certificates and a data folder per node.
pub struct Bench {
    dir: Root,
    ca: CertificateAuthority,
}

/// Where a bench keeps everything: a temporary folder removed on drop, or a chosen one.
enum Root {
    Temp(tempfile::TempDir),
    Chosen(PathBuf),
}

/// A node serving in this process, stopped by [`Node::stop`] or when the bench ends.
pub struct Node {
    running: Running,
    stop: watch::Sender<bool>,
}

impl std::ops::Deref for Node {
    type Target = Running;
    fn deref(&self) -> &Running {
        &self.running
    }
}

impl Node {
    /// Stops the server and its links and waits for the server to finish.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.running.task.await;
    }
}

/// A free loopback port.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Bench {
    /// A fresh folder with a CA for province 51.
    pub fn new() -> anyhow::Result<Self> {
        // BENCH_DATA_DIR puts the stores elsewhere (e.g. /dev/shm, to take the disk out of a
        // measurement and see what is left).
        let dir = match std::env::var_os("BENCH_DATA_DIR") {
            Some(root) => tempfile::tempdir_in(root)?,
            None => tempfile::tempdir()?,
        };
        let ca = CertificateAuthority::init(&dir.path().join("pki"), "51", false)?;
        Ok(Self {
            dir: Root::Temp(dir),
            ca,
        })
    }

    /// The province in `dir` (created if missing), kept when the bench ends; its CA is
    /// opened when the folder already has one.
    pub fn at(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let pki = dir.join("pki");
        let ca = if pki.join("ca.crt").exists() {
            CertificateAuthority::open(&pki)?
        } else {
            CertificateAuthority::init(&pki, "51", false)?
        };
        Ok(Self {
            dir: Root::Chosen(dir.to_owned()),
            ca,
        })
    }

    /// Leaves a temporary folder on disk when the bench ends; returns where it is.
    pub fn keep(&mut self) -> PathBuf {
        let dir = match std::mem::replace(&mut self.dir, Root::Chosen(PathBuf::new())) {
            Root::Temp(t) => t.keep(),
            Root::Chosen(p) => p,
        };
        self.dir = Root::Chosen(dir.clone());
        dir
    }

    /// The folder everything lives in.
    pub fn dir(&self) -> &Path {
        match &self.dir {
            Root::Temp(t) => t.path(),
            Root::Chosen(p) => p,
        }
    }

    fn pki(&self) -> PathBuf {
        self.dir().join("pki")
    }

    /// Certificate and key for `identity` (issued on first use), trusting this CA.
    pub fn credentials(&mut self, identity: &Identity) -> anyhow::Result<Credentials> {
        let stem = identity.file_stem();
        let cert = self.pki().join(format!("{stem}.crt"));
        if !cert.exists() {
            self.ca.issue(identity, &IssueOptions::default())?;
        }
        Ok(Credentials {
            cert,
            key: self.pki().join(format!("{stem}.key")),
            ca: self.ca.ca_cert_path(),
        })
    }

    /// Writes a config and launches the node (county when `code` has six digits), its store
    /// in `data-<code><suffix>`.
    pub async fn launch(
        &mut self,
        code: &str,
        suffix: &str,
        port: u16,
        gateway: Option<u16>,
        neighbours: &[(String, u16)],
    ) -> anyhow::Result<Node> {
        let identity = if code.len() == 6 {
            Identity::county(code)?
        } else {
            Identity::province(code)?
        };
        let stem = identity.file_stem();
        self.credentials(&identity)?;
        let kind = if code.len() == 6 {
            "county"
        } else {
            "province"
        };
        let mut text = format!(
            "{kind} = \"{code}\"\nlisten = \"127.0.0.1:{port}\"\ndata_dir = \"data-{code}{suffix}\"\n",
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
        let cfg = NodeConfig::parse(&text, code, self.dir())?;
        let (stop, mut stopped) = watch::channel(false);
        let running = start::launch(&cfg, async move {
            let _ = stopped.wait_for(|s| *s).await;
        })
        .await
        .with_context(|| format!("starting {code}"))?;
        Ok(Node { running, stop })
    }
}

fn head(node: &Running, feed: &FeedId) -> u64 {
    feed::log::head(node.state.store.as_ref(), feed)
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

/// Waits until `node`'s views have applied `feed` up to `seq` (its background work is done).
async fn wait_applied(node: &Running, feed: &FeedId, seq: u64) {
    while dispatch::applied(node.state.store.as_ref(), feed).unwrap_or(0) < seq {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

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
            id: r.id.clone(),
            scope,
        },
    )
    .await?;
    Ok(r.id)
}

/// A risk update carrying benchmark record `i` as its description.
fn update(id: &str, i: u64) -> Command {
    Command::Update {
        id: id.to_owned(),
        title: None,
        description: Some(record(i)),
        focus: None,
        source: None,
        behaviours: None,
        add_behaviours: Vec::new(),
        remove_behaviours: Vec::new(),
        department: None,
    }
}

/// How the durable-writes workload reaches the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Via {
    /// `RegistryService.UpdateRisk` over mutual TLS, as staff and tools write (compare with
    /// a NATS client publishing over TLS).
    Grpc,
    /// Straight to the node's writer in this process: the node's own cost, no transport.
    Writer,
}

/// Writes `n` updates to `risks` (round robin) with `writers` concurrent writers through the
/// writer; returns the elapsed time and the per-write latencies.
async fn write_many(
    node: &Running,
    code: &str,
    risks: &[String],
    n: u64,
    writers: usize,
) -> anyhow::Result<(Duration, Vec<Duration>)> {
    let (w, risks, author) = (node.state.writer.clone(), risks.to_vec(), staff(code));
    load::concurrent(writers, n, move |i| {
        let (w, author) = (w.clone(), author.clone());
        let update = update(&risks[(i as usize) % risks.len()], i);
        async move {
            w.submit(author, update).await?;
            Ok(())
        }
    })
    .await
}

/// The same as [`write_many`], through `RegistryService.UpdateRisk` on one mutual-TLS channel.
async fn write_many_grpc(
    channel: tonic::transport::Channel,
    risks: &[String],
    n: u64,
    writers: usize,
) -> anyhow::Result<(Duration, Vec<Duration>)> {
    let (client, risks) = (
        pb::registry_client::RegistryClient::new(channel),
        risks.to_vec(),
    );
    load::concurrent(writers, n, move |i| {
        let mut client = client.clone();
        let request = pb::UpdateRiskRequest {
            id: risks[(i as usize) % risks.len()].clone(),
            description: Some(record(i)),
            ..Default::default()
        };
        async move {
            client.update_risk(request).await?;
            Ok(())
        }
    })
    .await
}

/// Catch-up: the origin (510105) takes `records`; then, `runs` times, a receiver (510104, a
/// neighbour) that holds none of them starts with an empty store and syncs them all.
pub async fn catch_up(records: u64, runs: usize) -> anyhow::Result<Outcome> {
    let mut b = Bench::new()?;
    // A (510105) holds the feed; B (510104, the lower code) dials A when it starts.
    let (pa, pb) = (free_port()?, free_port()?);
    let a = b
        .launch("510105", "", pa, None, &[("510104".into(), pb)])
        .await?;
    let risk = shared_risk(&a, "510105", Audience::Neighbours).await?;
    let feed = FeedId::new("county/510105", Audience::Neighbours);
    eprintln!("filling the origin with {records} records…");
    let base = head(&a, &feed);
    let (fill, _) = write_many(&a, "510105", &[risk], records, 512).await?;
    let total = head(&a, &feed);
    eprintln!(
        "filled in {:.1} s ({:.0} records/s)",
        fill.as_secs_f64(),
        records as f64 / fill.as_secs_f64()
    );
    // Let the origin's own views settle so they don't share the cores with the runs.
    wait_applied(&a, &feed, total).await;
    let mut rates = Vec::new();
    for run in 1..=runs {
        let started = Instant::now();
        let bnode = b
            .launch(
                "510104",
                &format!("-run{run}"),
                pb,
                None,
                &[("510105".into(), pa)],
            )
            .await?;
        let mut last_print = Instant::now();
        wait_for(&bnode, &feed, total, |h| {
            if last_print.elapsed() > Duration::from_secs(2) {
                eprintln!("  run {run}: receiver holds {h}/{total}");
                last_print = Instant::now();
            }
        })
        .await;
        let took = started.elapsed();
        let rate = (total - base) as f64 / took.as_secs_f64();
        eprintln!(
            "  run {run}: {} records in {:.2} s = {rate:.0}/s",
            total - base,
            took.as_secs_f64()
        );
        rates.push(rate);
        // The receiver's views apply in the background; let them finish before the next run.
        wait_applied(&bnode, &feed, total).await;
        bnode.stop().await;
    }
    a.stop().await;
    let s = spread(&rates);
    let line = format!(
        "{} (peak RSS {:.0} MiB)",
        spread_line(records, runs, &s),
        peak_rss_mib()
    );
    let mut figures =
        json!({"records": records, "records_per_s": s, "peak_rss_mib": peak_rss_mib()});
    figures["fill_per_s"] = (records as f64 / fill.as_secs_f64()).into();
    Ok(Outcome {
        workload: "catch-up",
        system: "fenghuo",
        durability: DURABILITY.into(),
        figures,
        line,
    })
}

/// Live fan-out: the origin (510104) writes `records` at `rate`/s to its `neighbours` feed;
/// latency from the write call until each of `receivers` (the gateway and `receivers - 1`
/// neighbours) holds the entry durably.
pub async fn fan_out(receivers: usize, rate: u64, records: u64) -> anyhow::Result<Outcome> {
    anyhow::ensure!(receivers >= 1, "--receivers must be at least 1");
    let mut b = Bench::new()?;
    let codes: Vec<String> = (0..receivers - 1)
        .map(|i| format!("5101{:02}", 5 + i))
        .collect();
    let mut ports = Vec::new();
    for _ in &codes {
        ports.push(free_port()?);
    }
    let (pg, pa) = (free_port()?, free_port()?);
    let mut nodes = vec![b.launch("51", "", pg, None, &[]).await?];
    for (code, port) in codes.iter().zip(&ports) {
        nodes.push(
            b.launch(code, "", *port, Some(pg), &[("510104".into(), pa)])
                .await?,
        );
    }
    let list: Vec<(String, u16)> = codes.iter().cloned().zip(ports.iter().copied()).collect();
    let a = b.launch("510104", "", pa, Some(pg), &list).await?;
    let risk = shared_risk(&a, "510104", Audience::Neighbours).await?;
    let feed = FeedId::new("county/510104", Audience::Neighbours);
    // Let every link come up and deliver the share before measuring.
    let base = head(&a, &feed);
    for n in &nodes {
        wait_for(n, &feed, base, |_| {}).await;
    }
    // Each watcher notes when its node first holds each entry; joined with the write times
    // at the end (an entry can reach a neighbour before its writer hears back).
    let mut watchers = Vec::new();
    for n in &nodes {
        let state = n.state.clone();
        let feed = feed.clone();
        watchers.push(tokio::spawn(async move {
            let mut commits = state.writer.commits();
            let mut seen = base;
            let mut arrivals = Vec::new();
            while seen < base + records {
                let _ = tokio::time::timeout(Duration::from_millis(20), commits.changed()).await;
                let h = feed::log::head(state.store.as_ref(), &feed)
                    .map(|h| h.seq)
                    .unwrap_or(0);
                let now = Instant::now();
                arrivals.extend((seen + 1..=h).map(|seq| (seq, now)));
                seen = seen.max(h);
            }
            anyhow::Ok(arrivals)
        }));
    }
    // Receivers know each record by its feed position, which the write answers with.
    let (wrote, sent) = load::paced(rate, records, |i| {
        let w = a.state.writer.clone();
        let update = update(&risk, i);
        async move { Ok(w.submit(staff("510104"), update).await?.seq) }
    })
    .await?;
    let l = load::latencies(watchers, &sent, "receivers").await?;
    drop(nodes);
    Ok(Outcome::fan_out(
        "fenghuo",
        DURABILITY,
        receivers,
        "receivers",
        records,
        wrote,
        &l,
    ))
}

/// A province of `counties` counties and a gateway; a burst of `entries` province entries at
/// one county; the time until every node holds them.
pub async fn province(counties: usize, entries: u64) -> anyhow::Result<Outcome> {
    let mut b = Bench::new()?;
    let pg = free_port()?;
    let gateway = b.launch("51", "", pg, None, &[]).await?;
    let mut nodes = Vec::new();
    for i in 0..counties {
        // 5101xx, 5102xx…: valid county codes of province 51.
        let code = format!("51{:02}{:02}", 1 + i / 99, 1 + i % 99);
        let n = b.launch(&code, "", free_port()?, Some(pg), &[]).await?;
        nodes.push((code, n));
    }
    let (origin_code, origin) = nodes.first().context("--counties must be at least 1")?;
    let risk = shared_risk(origin, origin_code, Audience::Province).await?;
    let feed = FeedId::new(format!("county/{origin_code}"), Audience::Province);
    let base = head(origin, &feed);
    wait_for(&gateway, &feed, base, |_| {}).await;
    for (_, n) in &nodes {
        wait_for(n, &feed, base, |_| {}).await;
    }
    eprintln!("{counties} counties and the gateway up; burst of {entries} province entries");
    let started = Instant::now();
    let (wrote, _) = write_many(origin, origin_code, &[risk], entries, 256).await?;
    let target = base + entries;
    for (_, n) in &nodes {
        wait_for(n, &feed, target, |_| {}).await;
    }
    let took = started.elapsed();
    let deliveries = (entries as f64 * counties as f64) / took.as_secs_f64();
    Ok(Outcome {
        workload: "province",
        system: "fenghuo",
        durability: DURABILITY.into(),
        figures: json!({"counties": counties, "entries": entries, "write_seconds": wrote.as_secs_f64(),
            "converged_seconds": took.as_secs_f64(), "deliveries_per_s": deliveries,
            "peak_rss_mib": peak_rss_mib()}),
        line: format!(
            "{counties} counties + gateway: burst of {entries} written in {:.2} s, every node holds it after {:.2} s ({deliveries:.0} deliveries/s; peak RSS {:.0} MiB)",
            wrote.as_secs_f64(),
            took.as_secs_f64(),
            peak_rss_mib()
        ),
    })
}

/// Durable writes at one county with `writers` concurrent writers (group commit).
pub async fn writes(writers: usize, records: u64, via: Via) -> anyhow::Result<Outcome> {
    let mut b = Bench::new()?;
    let port = free_port()?;
    let a = b.launch("510104", "", port, None, &[]).await?;
    let mut risks = Vec::new();
    for _ in 0..writers.clamp(1, 64) {
        risks.push(shared_risk(&a, "510104", Audience::Neighbours).await?);
    }
    let (took, lat) = match via {
        Via::Writer => write_many(&a, "510104", &risks, records, writers).await?,
        Via::Grpc => {
            let creds = b.credentials(&Identity::staff("510104", "bench")?)?;
            let channel =
                fenghuo_tests::grpc::mtls_channel(&format!("https://127.0.0.1:{port}"), &creds)
                    .await?;
            write_many_grpc(channel, &risks, records, writers).await?
        }
    };
    a.stop().await;
    let l = Latencies::new(lat);
    let rate = records as f64 / took.as_secs_f64();
    let mut figures = l.summary();
    figures["writers"] = writers.into();
    figures["records"] = records.into();
    figures["writes_per_s"] = rate.into();
    figures["via"] = format!("{via:?}").to_lowercase().into();
    Ok(Outcome {
        workload: "writes",
        system: "fenghuo",
        durability: DURABILITY.into(),
        line: format!(
            "{records} durable writes with {writers} writers via {via:?}: {rate:.0}/s, {}",
            l.line()
        ),
        figures,
    })
}
