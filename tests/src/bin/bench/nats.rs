//! The peer: NATS JetStream doing the same jobs. A hub `nats-server` holds stream `ORIGIN`;
//! each site is its own `nats-server` (not clustered) joined to the hub as a leaf node, with
//! its own JetStream domain and a stream `MIRROR` that mirrors `ORIGIN` through the hub's
//! domain (`$JS.hub.API`). Client and leaf connections use mutual TLS with certificates from
//! the same kind of CA as Fenghuo's (Ed25519, made here); storage is on file.

use std::collections::VecDeque;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream::{self, consumer, stream};
use fenghuo_node::identity::Identity;
use fenghuo_tests::Credentials;
use futures_util::StreamExt as _;
use serde_json::json;

use crate::fenghuo::{free_port, Bench};
use crate::load;
use crate::stats::{peak_rss_mib, record, spread, spread_line, Latencies, Outcome};

/// When NATS fsyncs, the setting every row is labelled with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Fsync {
    /// NATS's default: `sync_interval` 2 minutes; acknowledged writes can be lost on power loss.
    Lazy,
    /// `sync_interval: always`: fsync after every message, before the acknowledgment.
    Always,
}

impl Fsync {
    /// What an acknowledgment promises under this setting.
    fn durability(self) -> &'static str {
        match self {
            Self::Lazy => "fsync every 2 min (NATS default)",
            Self::Always => "fsync every message (sync_interval: always)",
        }
    }

    /// `lazy` or `always`, as the command line and the JSON name it.
    fn name(self) -> &'static str {
        match self {
            Self::Lazy => "lazy",
            Self::Always => "always",
        }
    }

    /// The `jetstream {}` line that sets it.
    fn config_line(self) -> &'static str {
        match self {
            Self::Lazy => "",
            Self::Always => "sync_interval: always",
        }
    }
}

/// Where the servers live and what they trust.
pub struct Nats {
    bin: PathBuf,
    fsync: Fsync,
    bench: Bench,
    servers: usize,
}

/// A running `nats-server`, killed when dropped.
struct Server {
    child: Child,
    name: String,
    port: u16,
    leaf_port: Option<u16>,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

fn tls_block(c: &Credentials, verify: bool) -> String {
    format!(
        "tls {{\n    cert_file: \"{}\"\n    key_file: \"{}\"\n    ca_file: \"{}\"\n    verify: {verify}\n    timeout: 5\n  }}",
        c.cert.display(),
        c.key.display(),
        c.ca.display()
    )
}

impl Nats {
    /// Servers run `bin` with stores under a fresh temporary folder.
    pub fn new(bin: PathBuf, fsync: Fsync) -> anyhow::Result<Self> {
        let version = Command::new(&bin)
            .arg("--version")
            .output()
            .with_context(|| format!("running {} --version (is nats-server installed? --nats-server or NATS_SERVER names it)", bin.display()))?;
        eprintln!("using {}", String::from_utf8_lossy(&version.stdout).trim());
        Ok(Self {
            bin,
            fsync,
            bench: Bench::new()?,
            servers: 0,
        })
    }

    /// The hub (domain `hub`), accepting leaf nodes, with `fsync`.
    fn hub(&mut self, fsync: Fsync) -> anyhow::Result<Server> {
        let creds = self.bench.credentials(&Identity::province("51")?)?;
        let leaf_port = free_port()?;
        let leaf = format!(
            "leafnodes {{\n  listen: \"127.0.0.1:{leaf_port}\"\n  {}\n}}\n",
            tls_block(&creds, true)
        );
        self.start("hub", fsync, &creds, &leaf, Some(leaf_port))
    }

    /// Site `i` (domain `site<i>`), a leaf node of the hub at `hub_leaf_port`.
    fn site(&mut self, i: usize, hub_leaf_port: u16) -> anyhow::Result<Server> {
        let creds = self
            .bench
            .credentials(&Identity::county(&format!("5101{:02}", 5 + i))?)?;
        let leaf = format!(
            "leafnodes {{\n  remotes: [\n    {{\n      urls: [\"tls://127.0.0.1:{hub_leaf_port}\"]\n      {}\n    }}\n  ]\n}}\n",
            tls_block(&creds, false)
        );
        self.start(&format!("site{i}"), self.fsync, &creds, &leaf, None)
    }

    fn start(
        &mut self,
        name: &str,
        fsync: Fsync,
        creds: &Credentials,
        leaf: &str,
        leaf_port: Option<u16>,
    ) -> anyhow::Result<Server> {
        self.servers += 1;
        // A fresh folder per start: a restarted site holds nothing.
        let dir = self.bench.dir().join(format!("{name}-{}", self.servers));
        std::fs::create_dir_all(&dir)?;
        let port = free_port()?;
        let conf = format!(
            "server_name: \"{name}\"\nlisten: \"127.0.0.1:{port}\"\n{}\njetstream {{\n  store_dir: \"{}\"\n  domain: \"{name}\"\n  {}\n}}\n{leaf}",
            tls_block(creds, true),
            dir.join("js").display(),
            fsync.config_line()
        );
        let conf_path = dir.join("nats.conf");
        std::fs::File::create(&conf_path)?.write_all(conf.as_bytes())?;
        let log = dir.join("nats.log");
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        Ok(Server {
            child,
            name: name.to_owned(),
            port,
            leaf_port,
            log,
        })
    }

    /// A client of `server` over mutual TLS, as `staff/51/bench`; waits until it answers.
    async fn client(&mut self, server: &mut Server) -> anyhow::Result<async_nats::Client> {
        let creds = self.bench.credentials(&Identity::staff("51", "bench")?)?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = server.child.try_wait()? {
                anyhow::bail!(
                    "nats-server {} exited ({status}): {}",
                    server.name,
                    tail(&server.log)
                );
            }
            let connected = async_nats::ConnectOptions::new()
                .require_tls(true)
                .add_root_certificates(creds.ca.clone())
                .add_client_certificate(creds.cert.clone(), creds.key.clone())
                .connection_timeout(Duration::from_secs(2))
                .retry_on_initial_connect()
                .max_reconnects(Some(0))
                .connect(format!("tls://127.0.0.1:{}", server.port))
                .await;
            if let Ok(c) = connected {
                // JetStream answers once its store is open.
                if jetstream::new(c.clone()).query_account().await.is_ok() {
                    return Ok(c);
                }
            }
            if Instant::now() > deadline {
                anyhow::bail!(
                    "nats-server {} did not answer within 20 s: {}",
                    server.name,
                    tail(&server.log)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}

/// Creates `ORIGIN` on the hub.
async fn origin_stream(hub: &async_nats::Client) -> anyhow::Result<()> {
    jetstream::new(hub.clone())
        .create_stream(stream::Config {
            name: "ORIGIN".into(),
            subjects: vec!["rec.>".into()],
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .context("creating stream ORIGIN on the hub")?;
    Ok(())
}

/// Waits until the site reaches the hub's JetStream over its leaf connection, then creates
/// `MIRROR` there.
async fn mirror_stream(site: &async_nats::Client) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while jetstream::with_domain(site.clone(), "hub")
        .query_account()
        .await
        .is_err()
    {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the site's leaf connection to the hub did not come up within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    jetstream::new(site.clone())
        .create_stream(stream::Config {
            name: "MIRROR".into(),
            storage: stream::StorageType::File,
            mirror: Some(stream::Source {
                name: "ORIGIN".into(),
                external: Some(stream::External {
                    api_prefix: "$JS.hub.API".into(),
                    delivery_prefix: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .context("creating the mirror stream at the site")?;
    Ok(())
}

async fn mirror_holds(site: &async_nats::Client) -> anyhow::Result<u64> {
    let mut s = jetstream::new(site.clone()).get_stream("MIRROR").await?;
    Ok(s.info().await?.state.messages)
}

/// Publishes records `from..to` to the hub with up to `window` acknowledgments outstanding.
async fn fill(hub: &async_nats::Client, from: u64, to: u64, window: usize) -> anyhow::Result<()> {
    let js = jetstream::new(hub.clone());
    let mut acks = VecDeque::new();
    for i in from..to {
        acks.push_back(js.publish("rec.bench", record(i).into()).await?);
        if acks.len() >= window {
            if let Some(a) = acks.pop_front() {
                a.await?;
            }
        }
    }
    for a in acks {
        a.await?;
    }
    Ok(())
}

impl Nats {
    /// Catch-up: the hub takes `records`; then, `runs` times, a site with an empty store
    /// starts, joins as a leaf, mirrors `ORIGIN`, and is timed until it holds them all (its
    /// fsync setting is the one measured).
    pub async fn catch_up(mut self, records: u64, runs: usize) -> anyhow::Result<Outcome> {
        // Only the receiving site is measured, so the hub is filled with NATS's default fsync
        // whatever the setting: with fsync every message the fill alone would take minutes.
        let mut hub = self.hub(Fsync::Lazy)?;
        let hub_client = self.client(&mut hub).await?;
        origin_stream(&hub_client).await?;
        eprintln!("filling the hub with {records} records…");
        let t = Instant::now();
        fill(&hub_client, 0, records, 4096).await?;
        let fill_rate = records as f64 / t.elapsed().as_secs_f64();
        eprintln!("filled at {fill_rate:.0} records/s");
        let leaf_port = hub.leaf_port.context("the hub listens for leaf nodes")?;
        let mut rates = Vec::new();
        for run in 1..=runs {
            let started = Instant::now();
            let mut site = self.site(0, leaf_port)?;
            let site_client = self.client(&mut site).await?;
            mirror_stream(&site_client).await?;
            let mut last_print = Instant::now();
            loop {
                let held = mirror_holds(&site_client).await?;
                if held >= records {
                    break;
                }
                if last_print.elapsed() > Duration::from_secs(2) {
                    eprintln!("  run {run}: site holds {held}/{records}");
                    last_print = Instant::now();
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let took = started.elapsed();
            let rate = records as f64 / took.as_secs_f64();
            eprintln!(
                "  run {run}: {records} records in {:.2} s = {rate:.0}/s",
                took.as_secs_f64()
            );
            rates.push(rate);
            drop(site_client);
            drop(site);
        }
        drop(hub);
        let s = spread(&rates);
        let line = spread_line(records, runs, &s);
        Ok(Outcome {
            workload: "catch-up",
            system: "nats",
            durability: self.fsync.durability().into(),
            figures: json!({"records": records, "records_per_s": s, "fill_per_s": fill_rate, "bench_peak_rss_mib": peak_rss_mib(), "fsync": self.fsync.name()}),
            line,
        })
    }

    /// Live fan-out: `records` at `rate`/s to the hub; latency from the publish call until
    /// each of `receivers` sites delivers the record from its mirror to a local consumer.
    pub async fn fan_out(
        mut self,
        receivers: usize,
        rate: u64,
        records: u64,
    ) -> anyhow::Result<Outcome> {
        anyhow::ensure!(receivers >= 1, "--receivers must be at least 1");
        let mut hub = self.hub(self.fsync)?;
        let hub_client = self.client(&mut hub).await?;
        origin_stream(&hub_client).await?;
        let leaf_port = hub.leaf_port.context("the hub listens for leaf nodes")?;
        let mut sites = Vec::new();
        for i in 0..receivers {
            let mut site = self.site(i, leaf_port)?;
            let client = self.client(&mut site).await?;
            mirror_stream(&client).await?;
            sites.push((site, client));
        }
        // One record first: every mirror is flowing before the clock starts.
        fill(&hub_client, u64::MAX - 1, u64::MAX, 1).await?;
        for (_, c) in &sites {
            while mirror_holds(c).await? < 1 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        let mut watchers = Vec::new();
        for (_, c) in &sites {
            let consumer = jetstream::new(c.clone())
                .get_stream("MIRROR")
                .await?
                .create_consumer(consumer::pull::OrderedConfig {
                    deliver_policy: consumer::DeliverPolicy::New,
                    ..Default::default()
                })
                .await?;
            let mut messages = consumer.messages().await?;
            watchers.push(tokio::spawn(async move {
                let mut arrivals = Vec::new();
                while (arrivals.len() as u64) < records {
                    let Some(m) = messages.next().await else {
                        break;
                    };
                    let now = Instant::now();
                    let m = m?;
                    let i = std::str::from_utf8(&m.payload[..12])
                        .ok()
                        .and_then(|s| s.parse::<u64>().ok())
                        .context("a record without its number")?;
                    arrivals.push((i, now));
                }
                anyhow::Ok(arrivals)
            }));
        }
        // Sites know each record by its number, carried in its first bytes.
        let js = jetstream::new(hub_client.clone());
        let (wrote, sent) = load::paced(rate, records, |i| {
            let js = js.clone();
            async move {
                js.publish("rec.bench", record(i).into()).await?.await?;
                Ok(i)
            }
        })
        .await?;
        let l = load::latencies(watchers, &sent, "sites").await?;
        drop(sites);
        drop(hub);
        let mut outcome = Outcome::fan_out(
            "nats",
            self.fsync.durability(),
            receivers,
            "leaf sites",
            records,
            wrote,
            &l,
        );
        outcome.figures["fsync"] = self.fsync.name().into();
        Ok(outcome)
    }

    /// Durable writes at the hub: `writers` tasks, each publishing and awaiting its ack.
    pub async fn writes(mut self, writers: usize, records: u64) -> anyhow::Result<Outcome> {
        let mut hub = self.hub(self.fsync)?;
        let hub_client = self.client(&mut hub).await?;
        origin_stream(&hub_client).await?;
        let js = jetstream::new(hub_client.clone());
        let (took, lat) = load::concurrent(writers, records, move |i| {
            let js = js.clone();
            async move {
                js.publish("rec.bench", record(i).into()).await?.await?;
                Ok(())
            }
        })
        .await?;
        drop(hub);
        let l = Latencies::new(lat);
        let rate = records as f64 / took.as_secs_f64();
        let mut figures = l.summary();
        figures["writers"] = writers.into();
        figures["records"] = records.into();
        figures["writes_per_s"] = rate.into();
        figures["via"] = "nats client over TLS".into();
        figures["fsync"] = self.fsync.name().into();
        Ok(Outcome {
            workload: "writes",
            system: "nats",
            durability: self.fsync.durability().into(),
            line: format!(
                "{records} acknowledged publishes with {writers} writers: {rate:.0}/s, {}",
                l.line()
            ),
            figures,
        })
    }
}
