//! `intake`: monitoring systems stream observations into one county node over gRPC while it
//! holds N stored observations (issue 18's goal: 2,000/s sustained against 10 million,
//! p99 from submit to the triage list ≤ 1 s, memory bounded).
//!
//! The county's store is filled before its node starts, through the node library
//! (`intake::store::record_in`, 10,000 observations per commit), with what a county's
//! systems would have sent over the last 80 days: distinct URLs of ~100,000 accounts on six
//! platforms, Chinese texts of 30–150 characters, one in ten a re-sighting of an earlier
//! post. `--reuse DIR` keeps that store (with its CA and config) for the next run of the
//! same N. Then a real `fenghuo-node` process serves it, and:
//!
//! - each client (an intake certificate `intake-<county>-yuqing-<k>`) streams observations
//!   over `SubmitStream`, paced to `--rate` in all: ~20% of them another sighting of a stored
//!   observation (same URL, or same text at another URL), ~5% a repeat of a (system, id)
//!   already sent, the rest new;
//! - every 100 ms the first client sends a probe that matches the watch rule `基准探针`
//!   (flagged: first on the triage list); a staff client polls `ListItems{state: open,
//!   limit: 20}` every 20 ms, and a probe's latency is from just before it was handed to the
//!   stream until the first list that shows it;
//! - the node process's RSS is sampled from `/proc/<pid>/status` every 250 ms.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use fenghuo_node::identity::Identity;
use fenghuo_node::intake::observation::{Engagement, Observation};
use fenghuo_node::intake::rules::WatchRules;
use fenghuo_node::intake::store as items;
use fenghuo_node::store::{Batch, SledStore, Store};
use fenghuo_node::timespec::now_ms;
use fenghuo_proto::v1 as pb;
use fenghuo_proto::v1::intake_client::IntakeClient;
use fenghuo_tests::daemon::{Daemon, Kind};
use fenghuo_tests::{Cli, Credentials};
use serde_json::{json, Value};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity as TlsIdentity};

use crate::fenghuo::Bench;
use crate::scale::{disk_usage, gib};
use crate::stats::{ms, Latencies, Outcome};

/// What to build and measure.
#[derive(Debug)]
pub struct Options {
    /// Observations recorded before the node starts.
    pub stored: u64,
    /// Observations per second, all clients together.
    pub rate: u64,
    /// How long the clients stream.
    pub seconds: u64,
    /// Streaming clients (monitoring systems), each with its own intake certificate.
    pub clients: usize,
    /// Keep the CA, config and store here, and use them again when they hold `stored`.
    pub reuse: Option<PathBuf>,
}

/// The county measured.
const COUNTY: &str = "510104";
/// Observations per commit while pre-loading.
const LOAD_BATCH: u64 = 10_000;
/// Accounts the stored observations come from.
const ACCOUNTS: u64 = 100_000;
/// The stored observations were captured over this many days before now.
const STORED_DAYS: i64 = 80;
const DAY_MS: i64 = 24 * 3600 * 1000;
/// The watch rule the probes match (and nothing else does).
const PROBE_WORD: &str = "基准探针";
/// How often a probe is sent.
const PROBE_EVERY: Duration = Duration::from_millis(100);
/// How often the staff client lists the triage list.
const POLL_EVERY: Duration = Duration::from_millis(20);
/// Items a poll lists.
const POLL_LIMIT: u32 = 20;
/// How long after the load a probe may still show up.
const PROBE_GRACE: Duration = Duration::from_secs(10);
/// The goal of issue 18.
const GOAL_P99_MS: f64 = 1000.0;
/// The file in the data folder's parent that says a pre-load finished, and of what.
const LOADED_FILE: &str = "loaded.json";

/// Platforms and the host of their URLs.
const PLATFORMS: [(&str, &str); 6] = [
    ("weibo", "weibo.com"),
    ("douyin", "www.douyin.com"),
    ("wechat", "mp.weixin.qq.com"),
    ("toutiao", "www.toutiao.com"),
    ("tieba", "tieba.baidu.com"),
    ("kuaishou", "www.kuaishou.com"),
];

/// Phrases the texts are made of.
const PHRASES: [&str; 24] = [
    "某村拆迁补偿款迟迟未发放",
    "村民聚集在镇政府门口要求说法",
    "网传某小区物业违规收费",
    "业主群里有人号召周六维权",
    "某学校食堂饭菜质量引发家长不满",
    "视频显示城管与摊贩发生争执",
    "有网友称医院挂号难问题长期存在",
    "企业拖欠农民工工资已有三个月",
    "养老金调整政策解读引发热议",
    "暴雨过后部分道路积水严重",
    "网友质疑征地程序不透明",
    "多名家长反映校车超载",
    "疑似有人在网上散布不实消息",
    "当地回应称正在调查核实",
    "评论区情绪较为激烈",
    "多个账号集中转发相关帖子",
    "有人呼吁媒体关注此事",
    "事件起因仍有待进一步确认",
    "附近居民表示噪音扰民已久",
    "工厂排污问题再次被提起",
    "房屋质量问题投诉无人处理",
    "部分商户对新规表示担忧",
    "该话题阅读量持续上升",
    "相关部门已介入处置",
];

/// The watch words systems say matched.
const KEYWORDS: [&str; 6] = ["拆迁", "补偿", "维权", "聚集", "欠薪", "污染"];

/// splitmix64: the same index always gives the same observation.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The post stored observation `i` is a sighting of: itself, or for one in ten an earlier
/// one.
fn post_of(i: u64) -> u64 {
    if i % 10 == 9 {
        mix(i ^ 0x5151) % i
    } else {
        i
    }
}

/// A Chinese text of 30–150 characters, unique to `post`, tagged `tag`.
fn text(post: u64, tag: &str) -> String {
    let h = mix(post);
    let parts = 2 + (h % 9) as usize;
    let mut t = String::new();
    for k in 0..parts {
        let p = PHRASES[(mix(h.wrapping_add(k as u64)) % PHRASES.len() as u64) as usize];
        t.push_str(p);
        t.push(if k + 1 == parts { '。' } else { '，' });
    }
    t.push_str(&format!("（{tag}）"));
    t.chars().take(150).collect()
}

/// Platform, host and account of `post`.
fn source(post: u64) -> (&'static str, &'static str, String) {
    let account = mix(post ^ 0xacc) % ACCOUNTS;
    let (platform, host) = PLATFORMS[(account % PLATFORMS.len() as u64) as usize];
    (platform, host, format!("u{account}"))
}

/// The URL of stored post `post`.
fn stored_url(post: u64) -> String {
    let (_, host, account) = source(post);
    format!("https://{host}/{account}/{post:x}")
}

/// The system that stored observation `i` came from.
fn stored_system(i: u64) -> String {
    format!("yuqing-{}", i % 2 + 1)
}

/// Stored observation `i` of `n`, captured between 80 days before `now` and now.
fn stored(i: u64, n: u64, now: i64) -> Observation {
    let post = post_of(i);
    let (platform, _, account) = source(post);
    let span = STORED_DAYS * DAY_MS - 3_600_000;
    let h = mix(i);
    Observation {
        url: stored_url(post),
        platform: platform.into(),
        account,
        text: text(post, &format!("帖{post}")),
        captured_at_ms: now - STORED_DAYS * DAY_MS + (i as i64).saturating_mul(span) / n as i64,
        engagement: engagement(h),
        keywords: vec![KEYWORDS[(h % KEYWORDS.len() as u64) as usize].into()],
        system: stored_system(i),
        system_id: format!("s{i}"),
    }
}

fn engagement(h: u64) -> Engagement {
    Engagement {
        views: (h % 100_000) as i64,
        reposts: (h >> 20) as i64 % 1000,
        comments: (h >> 30) as i64 % 500,
        likes: (h >> 40) as i64 % 5000,
    }
}

/// Whether `root` holds a finished pre-load of `n`.
fn loaded(root: &Path, n: u64) -> bool {
    std::fs::read_to_string(root.join(LOADED_FILE))
        .ok()
        .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        .is_some_and(|v| v["stored"] == n)
}

/// What pre-loading did.
struct Loaded {
    seconds: f64,
    items: u64,
    sightings: u64,
}

/// Records `n` observations into the store at `data`, printing progress.
fn preload(data: &Path, n: u64) -> anyhow::Result<Loaded> {
    let store = SledStore::open(data).with_context(|| format!("opening {}", data.display()))?;
    let rules = WatchRules::default();
    let now = now_ms();
    let started = Instant::now();
    let mut shown = Instant::now();
    let (mut items_new, mut sightings) = (0, 0);
    let mut i = 0;
    while i < n {
        let mut batch = Batch::new();
        let end = (i + LOAD_BATCH).min(n);
        for j in i..end {
            match items::record_in(&mut batch, &store, stored(j, n, now), &rules, now) {
                Ok(items::Recorded::New(_)) => items_new += 1,
                Ok(_) => sightings += 1,
                Err(e) => anyhow::bail!("stored observation {j}: {e}"),
            }
        }
        store.commit(&batch)?;
        i = end;
        if shown.elapsed() >= Duration::from_secs(5) || i == n {
            shown = Instant::now();
            let rate = i as f64 / started.elapsed().as_secs_f64();
            let eta = (n - i) as f64 / rate.max(1.0);
            eprintln!(
                "  {i}/{n} stored ({:.0}%), {rate:.0}/s, ETA {eta:.0} s, {:.2} GiB on disk",
                100.0 * i as f64 / n as f64,
                gib(disk_usage(data).1)
            );
        }
    }
    store.flush()?;
    Ok(Loaded {
        seconds: started.elapsed().as_secs_f64(),
        items: items_new,
        sightings,
    })
}

/// One live observation of client `c` (the `k`-th it sends) in run `nonce`; `sent` is how
/// many it sent before (repeats pick one of them).
fn live(c: usize, k: u64, nonce: i64, stored_n: u64, rng: &mut fastrand::Rng) -> Observation {
    let system = format!("yuqing-{}", c + 1);
    let now = now_ms();
    let roll = rng.u32(0..100);
    let fresh_id = format!("live-{nonce}-{c}-{k}");
    if roll < 20 && stored_n > 0 {
        // Another sighting of a stored post: its URL, or its text elsewhere.
        let j = rng.u64(0..stored_n);
        let post = post_of(j);
        let (platform, host, account) = source(post);
        let url = if roll < 10 {
            stored_url(post)
        } else {
            format!("https://{host}/{account}/copy-{nonce}-{c}-{k}")
        };
        return Observation {
            url,
            platform: platform.into(),
            account,
            text: text(post, &format!("帖{post}")),
            captured_at_ms: now,
            engagement: engagement(rng.u64(..)),
            keywords: vec![KEYWORDS[rng.usize(..KEYWORDS.len())].into()],
            system,
            system_id: fresh_id,
        };
    }
    let mut o = {
        let post = u64::MAX - (k * 64 + c as u64);
        let (platform, host, account) = source(post ^ nonce as u64);
        Observation {
            url: format!("https://{host}/{account}/live-{nonce}-{c}-{k}"),
            platform: platform.into(),
            account,
            text: text(mix(post ^ nonce as u64), &format!("实时{nonce}-{c}-{k}")),
            captured_at_ms: now,
            engagement: engagement(rng.u64(..)),
            keywords: vec![KEYWORDS[rng.usize(..KEYWORDS.len())].into()],
            system: system.clone(),
            system_id: fresh_id,
        }
    };
    if roll < 25 {
        // A repeat of a (system, id): one this client sent, or a stored one of its system.
        if k > 0 && (rng.bool() || c >= 2 || stored_n < 2) {
            o.system_id = format!("live-{nonce}-{c}-{}", rng.u64(0..k));
        } else if stored_n >= 2 {
            let j = (rng.u64(0..stored_n) & !1) + c as u64 % 2;
            o.system_id = format!("s{}", j.min(stored_n - 1));
        }
    }
    o
}

/// The probe `p` of run `nonce`.
fn probe(p: u64, nonce: i64) -> Observation {
    Observation {
        url: probe_url(p, nonce),
        platform: "weibo".into(),
        account: "bench-probe".into(),
        text: format!("{PROBE_WORD}：某镇政府门口有人聚集，网传补偿款未发放（探针{nonce}-{p}）"),
        captured_at_ms: now_ms(),
        engagement: Engagement::default(),
        keywords: Vec::new(),
        system: "yuqing-1".into(),
        system_id: format!("probe-{nonce}-{p}"),
    }
}

fn probe_url(p: u64, nonce: i64) -> String {
    format!("https://weibo.com/bench-probe/{nonce}-{p}")
}

fn to_proto(o: Observation) -> pb::Observation {
    pb::Observation {
        url: o.url,
        platform: o.platform,
        account: o.account,
        text: o.text,
        captured_at_ms: o.captured_at_ms,
        engagement: Some(pb::Engagement {
            views: o.engagement.views,
            reposts: o.engagement.reposts,
            comments: o.engagement.comments,
            likes: o.engagement.likes,
        }),
        keywords: o.keywords,
        system_id: o.system_id,
        // The certificate names the system.
        system: String::new(),
    }
}

/// What one streaming client did.
struct Streamed {
    sent: u64,
    probes: u64,
    summary: pb::SubmitSummary,
    /// From its first observation to the summary.
    took: Duration,
}

/// A channel over mutual TLS as `creds` with no deadline on calls (the harness's channels
/// give every call 20 s, and a system's stream lasts as long as it runs).
async fn stream_channel(url: &str, creds: &Credentials) -> anyhow::Result<Channel> {
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read(&creds.ca)?))
        .identity(TlsIdentity::from_pem(read(&creds.cert)?, read(&creds.key)?))
        .domain_name(fenghuo_tests::grpc::SERVER_NAME);
    Endpoint::from_shared(url.to_owned())?
        .tls_config(tls)?
        .connect_timeout(fenghuo_tests::grpc::CONNECT_TIMEOUT)
        .connect()
        .await
        .with_context(|| format!("connecting to {url}"))
}

/// Probes sent and not yet seen: URL → when sent.
type Pending = Arc<Mutex<HashMap<String, Instant>>>;

/// Client `c` streams `rate`/s for `seconds`; client 0 also sends the probes.
#[allow(clippy::too_many_arguments)]
async fn stream(
    url: String,
    creds: Credentials,
    c: usize,
    rate: u64,
    seconds: u64,
    nonce: i64,
    stored_n: u64,
    pending: Pending,
) -> anyhow::Result<Streamed> {
    let channel = stream_channel(&url, &creds).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<pb::Observation>(1000);
    let call = tokio::spawn(async move {
        IntakeClient::new(channel)
            .submit_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
    });
    let mut rng = fastrand::Rng::with_seed(mix(c as u64 ^ nonce as u64));
    let started = Instant::now();
    let total = rate * seconds;
    let (mut sent, mut probes) = (0u64, 0u64);
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut next_probe = started;
    let end = started + Duration::from_secs(seconds);
    loop {
        tick.tick().await;
        let now = Instant::now();
        if c == 0 && now >= next_probe && now < end {
            next_probe += PROBE_EVERY;
            let o = probe(probes, nonce);
            pending
                .lock()
                .map_err(|_| anyhow::anyhow!("poisoned"))?
                .insert(o.url.clone(), Instant::now());
            probes += 1;
            if tx.send(to_proto(o)).await.is_err() {
                break;
            }
        }
        // Token bucket: what is due by now, never more than the total.
        let due = ((now - started).as_secs_f64() * rate as f64) as u64;
        let mut closed = false;
        while sent < due.min(total) {
            let o = live(c, sent, nonce, stored_n, &mut rng);
            if tx.send(to_proto(o)).await.is_err() {
                closed = true;
                break;
            }
            sent += 1;
        }
        // A closed stream: the call's answer says why.
        if closed || (sent >= total && now >= end) {
            break;
        }
    }
    drop(tx);
    let summary = call
        .await?
        .with_context(|| format!("client {c}'s stream after {sent} observations"))?
        .into_inner();
    Ok(Streamed {
        sent,
        probes,
        summary,
        took: started.elapsed(),
    })
}

/// The staff client: lists the triage list every [`POLL_EVERY`] until `stop`, timing each
/// probe from `pending` it shows; also the list calls' own latencies.
async fn poll(
    url: String,
    creds: Credentials,
    nonce: i64,
    pending: Pending,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
    let mut client = IntakeClient::new(fenghuo_tests::grpc::mtls_channel(&url, &creds).await?);
    let prefix = probe_url(0, nonce);
    let prefix = prefix.trim_end_matches("-0");
    let (mut seen, mut calls) = (Vec::new(), Vec::new());
    let mut tick = tokio::time::interval(POLL_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if *stop.borrow() {
            break;
        }
        let t = Instant::now();
        let list = client
            .list_items(pb::ListItemsRequest {
                state: "open".into(),
                limit: POLL_LIMIT,
                ..Default::default()
            })
            .await
            .context("ListItems")?
            .into_inner();
        let at = Instant::now();
        calls.push(at - t);
        let mut pending = pending.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        for item in &list.items {
            if item.url.starts_with(prefix) {
                if let Some(sent) = pending.remove(&item.url) {
                    seen.push(at.saturating_duration_since(sent));
                }
            }
        }
    }
    Ok((seen, calls))
}

/// The node's recorded batches (its debug lines `intake batch recorded`): sizes, and the
/// time spent waiting for the desk, staging (every lookup) and committing.
struct Batches {
    sizes: Vec<u64>,
    waited: Latencies,
    staged: Latencies,
    committed: Latencies,
}

impl Batches {
    fn of(lines: &[Value]) -> Self {
        let field = |l: &Value, k: &str| {
            l.get("fields").unwrap_or(l)[k]
                .as_u64()
                .or_else(|| l[k].as_u64())
                .unwrap_or(0)
        };
        let us = |k: &str| {
            Latencies::new(
                lines
                    .iter()
                    .map(|l| Duration::from_micros(field(l, k)))
                    .collect(),
            )
        };
        Self {
            sizes: lines.iter().map(|l| field(l, "observations")).collect(),
            waited: us("waited_us"),
            staged: us("staged_us"),
            committed: us("committed_us"),
        }
    }

    fn mean_size(&self) -> f64 {
        self.sizes.iter().sum::<u64>() as f64 / self.sizes.len().max(1) as f64
    }

    fn line(&self) -> String {
        format!(
            "{} batches recorded (mean {:.0} observations): staging {}; commit {}; waiting for the desk {}",
            self.sizes.len(),
            self.mean_size(),
            self.staged.line(),
            self.committed.line(),
            self.waited.line()
        )
    }

    fn json(&self) -> Value {
        json!({
            "count": self.sizes.len(),
            "mean_observations": self.mean_size(),
            "max_observations": self.sizes.iter().max(),
            "staged": self.staged.summary(),
            "committed": self.committed.summary(),
            "waited": self.waited.summary(),
        })
    }
}

/// `kB` field `field` of `/proc/<pid>/status`, in MiB.
fn proc_mib(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

/// `RssAnon`, `RssFile` and `RssShmem` of `/proc/<pid>/status` in MiB: heap, mapped files
/// and mapped shared memory (tmpfs files mapped count there).
fn rss_parts(pid: u32) -> Value {
    json!({
        "anon": proc_mib(pid, "RssAnon:"),
        "file": proc_mib(pid, "RssFile:"),
        "shmem": proc_mib(pid, "RssShmem:"),
    })
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Pre-loads (or reuses) the county's store, starts its node, streams and measures.
pub async fn intake(o: Options) -> anyhow::Result<Outcome> {
    anyhow::ensure!(
        o.rate >= 1 && o.seconds >= 1 && o.clients >= 1,
        "--rate, --seconds and --clients must be at least 1"
    );
    let mut bench = match &o.reuse {
        Some(dir) => Bench::at(dir)?,
        None => Bench::new()?,
    };
    let root = bench.dir().to_owned();
    let county = bench.credentials(&Identity::county(COUNTY)?)?;
    let staff = bench.credentials(&Identity::staff(COUNTY, "bench")?)?;
    let systems = (0..o.clients)
        .map(|c| bench.credentials(&Identity::intake(COUNTY, &format!("yuqing-{}", c + 1))?))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let data = root.join("data");
    let config = root.join("node.toml");
    if !config.exists() {
        Cli::new()
            .args([
                "init",
                "node",
                "--county",
                COUNTY,
                "--listen",
                "127.0.0.1:0",
            ])
            .arg("--pki")
            .arg(county.ca.parent().context("the CA has no folder")?)
            .arg("--data")
            .arg(&data)
            .arg("--out")
            .arg(&config)
            .run()
            .ok();
        let mut text = std::fs::read_to_string(&config)?;
        text.push_str(&format!(
            "\n[intake]\nretention_days = 90\n[[intake.rules]]\npattern = \"{PROBE_WORD}\"\nfocus = \"key-work\"\n"
        ));
        std::fs::write(&config, text)?;
    }

    let loaded_before = loaded(&root, o.stored);
    let load = if loaded_before {
        eprintln!(
            "reusing the store of {} observations in {}",
            o.stored,
            data.display()
        );
        None
    } else {
        if data.exists() {
            std::fs::remove_dir_all(&data)
                .with_context(|| format!("removing {}", data.display()))?;
        }
        let _ = std::fs::remove_file(root.join(LOADED_FILE));
        eprintln!(
            "recording {} observations into county {COUNTY}'s store at {}…",
            o.stored,
            data.display()
        );
        let (d, n) = (data.clone(), o.stored);
        let l = tokio::task::spawn_blocking(move || preload(&d, n)).await??;
        std::fs::write(
            root.join(LOADED_FILE),
            json!({ "stored": o.stored, "items": l.items, "seconds": l.seconds }).to_string(),
        )?;
        eprintln!(
            "  stored in {:.0} s ({:.0}/s): {} items, {} re-sightings",
            l.seconds,
            o.stored as f64 / l.seconds,
            l.items,
            l.sightings
        );
        Some(l)
    };
    let (apparent, on_disk) = disk_usage(&data);

    let t = Instant::now();
    let mut node = Daemon::start_with(
        COUNTY,
        Kind::Node,
        &config,
        // Each recorded batch's cost, at debug (`IntakeDesk::record`).
        Some("info,fenghuo_node::services::intake_desk=debug"),
        Duration::from_secs(1800),
    );
    let open_time = t.elapsed();
    let pid = node.pid().context("the node is not running")?;
    let url = node.url();
    eprintln!(
        "node {COUNTY} (pid {pid}) serves at {url} after {:.1} s; RSS {:.0} MiB; load average {}",
        open_time.as_secs_f64(),
        proc_mib(pid, "VmRSS:"),
        load_average()
    );

    // The RSS sampler.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let rss: Arc<Mutex<Vec<(f64, f64)>>> = Arc::default();
    let sampler = {
        let (rss, mut stop) = (rss.clone(), stop_rx.clone());
        tokio::spawn(async move {
            let t = Instant::now();
            loop {
                if let Ok(mut v) = rss.lock() {
                    v.push((t.elapsed().as_secs_f64(), proc_mib(pid, "VmRSS:")));
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                    _ = stop.changed() => return,
                }
            }
        })
    };

    let nonce = now_ms();
    let pending: Pending = Arc::default();
    let poller = tokio::spawn(poll(
        url.clone(),
        staff.clone(),
        nonce,
        pending.clone(),
        stop_rx.clone(),
    ));
    let load_avg_start = load_average();
    let rss_start = proc_mib(pid, "VmRSS:");
    let rss_start_parts = rss_parts(pid);
    eprintln!(
        "streaming {}/s for {} s from {} client(s), a probe every {} ms…",
        o.rate,
        o.seconds,
        o.clients,
        PROBE_EVERY.as_millis()
    );
    let started = Instant::now();
    let mut streams = Vec::new();
    for (c, creds) in systems.iter().enumerate() {
        let share = o.rate / o.clients as u64 + u64::from((c as u64) < o.rate % o.clients as u64);
        streams.push(tokio::spawn(stream(
            url.clone(),
            creds.clone(),
            c,
            share,
            o.seconds,
            nonce,
            o.stored,
            pending.clone(),
        )));
    }
    // Progress while streaming.
    let progress = {
        let (rss, pending, mut stop) = (rss.clone(), pending.clone(), stop_rx.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    _ = stop.changed() => return,
                }
                let r = rss.lock().ok().and_then(|v| v.last().map(|x| x.1));
                let waiting = pending.lock().map(|p| p.len()).unwrap_or(0);
                eprintln!(
                    "  {:.0} s: node RSS {:.0} MiB, probes not yet listed {waiting}, load average {}",
                    started.elapsed().as_secs_f64(),
                    r.unwrap_or(0.0),
                    load_average()
                );
            }
        })
    };
    let mut results = Vec::new();
    for s in streams {
        results.push(s.await??);
    }
    let streamed = started.elapsed();
    let rss_end_load = proc_mib(pid, "VmRSS:");
    let load_avg_end = load_average();
    // Probes still in flight get a grace period.
    let grace = Instant::now();
    while grace.elapsed() < PROBE_GRACE && pending.lock().map(|p| !p.is_empty()).unwrap_or(false) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop_tx.send(true);
    let (seen, calls) = poller.await??;
    let _ = sampler.await;
    let _ = progress.await;
    let hwm = proc_mib(pid, "VmHWM:");
    let rss_end = proc_mib(pid, "VmRSS:");
    let rss_end_parts = rss_parts(pid);
    let recorded_lines = node.log_lines_with("observations recorded");
    let batches = Batches::of(&node.log_lines_with("intake batch recorded"));
    node.stop();
    let (apparent_after, on_disk_after) = disk_usage(&data);
    if o.reuse.is_none() {
        // The temporary folder goes with `bench`.
        drop(bench);
    }

    let sent: u64 = results.iter().map(|r| r.sent).sum();
    let probes: u64 = results.iter().map(|r| r.probes).sum();
    let received: u64 = results.iter().map(|r| r.summary.received).sum();
    let sum = |f: fn(&pb::SubmitSummary) -> u64| results.iter().map(|r| f(&r.summary)).sum::<u64>();
    let (new_items, sightings, repeats, refused) = (
        sum(|s| s.new_items),
        sum(|s| s.sightings),
        sum(|s| s.repeats),
        sum(|s| s.refused),
    );
    let took = results.iter().map(|r| r.took).max().unwrap_or(streamed);
    let achieved = received as f64 / took.as_secs_f64();
    let target = (o.rate * o.seconds) as f64;
    let kept_up = sent as f64 >= target && took.as_secs_f64() <= o.seconds as f64 * 1.05 + 0.5;
    let lost = probes.saturating_sub(seen.len() as u64);
    let lat = Latencies::new(seen);
    let list = Latencies::new(calls);
    let p99 = ms(lat.quantile(0.99));
    let samples = rss.lock().map(|v| v.clone()).unwrap_or_default();
    let rss_peak_sampled = samples.iter().map(|s| s.1).fold(0.0, f64::max);
    // RSS every ~10 s of the run, to show whether it grows.
    let series: Vec<Value> = samples
        .iter()
        .step_by(40)
        .map(|(t, m)| json!([(*t * 10.0).round() / 10.0, m.round()]))
        .collect();
    let refusals: Vec<String> = results
        .iter()
        .flat_map(|r| r.summary.refusals.iter().cloned())
        .take(5)
        .collect();

    let lines = [
        format!(
            "county {COUNTY} holding {} observations ({}; {:.2} GiB on disk, {:.2} GiB after the run); node started in {:.1} s",
            o.stored,
            match &load {
                Some(l) => format!("stored in {:.0} s, {:.0}/s", l.seconds, o.stored as f64 / l.seconds),
                None => "reused".into(),
            },
            gib(on_disk),
            gib(on_disk_after),
            open_time.as_secs_f64()
        ),
        format!(
            "  streamed {sent} of {target:.0} at {}/s × {} s from {} client(s): the node received {received} in {:.1} s = {achieved:.0}/s (kept up: {kept_up}); new {new_items}, sightings {sightings}, repeats {repeats}, refused {refused}",
            o.rate,
            o.seconds,
            o.clients,
            took.as_secs_f64()
        ),
        format!(
            "  submit → triage list ({} of {probes} probes listed, {lost} never): p50 {:.0} ms, p95 {:.0} ms, p99 {p99:.0} ms, max {:.0} ms (goal p99 ≤ {GOAL_P99_MS:.0} ms: {})",
            lat.len(),
            ms(lat.quantile(0.5)),
            ms(lat.quantile(0.95)),
            ms(lat.quantile(1.0)),
            if p99 <= GOAL_P99_MS && lost == 0 { "met" } else { "MISSED" }
        ),
        format!(
            "  ListItems calls ({}): {}",
            list.len(),
            list.line()
        ),
        format!(
            "  node RSS: {rss_start:.0} MiB at the start of the load, {rss_end_load:.0} MiB at its end, {rss_end:.0} MiB after; peak {hwm:.0} MiB (VmHWM; {rss_peak_sampled:.0} sampled); at the start {rss_start_parts}, at the end {rss_end_parts} MiB"
        ),
        format!("  load average {load_avg_start} at the start, {load_avg_end} at the end"),
        format!("  {}", batches.line()),
    ];
    let figures = json!({
        "county": COUNTY,
        "stored": o.stored,
        "rate": o.rate,
        "seconds": o.seconds,
        "clients": o.clients,
        "reused": loaded_before,
        "load": load.as_ref().map(|l| json!({
            "seconds": l.seconds,
            "per_s": o.stored as f64 / l.seconds,
            "items": l.items,
            "sightings": l.sightings,
        })),
        "store_bytes": { "apparent": apparent, "on_disk": on_disk, "apparent_after": apparent_after, "on_disk_after": on_disk_after },
        "open_seconds": open_time.as_secs_f64(),
        "sent": sent,
        "received": received,
        "received_per_s": achieved,
        "stream_seconds": took.as_secs_f64(),
        "kept_up": kept_up,
        "new_items": new_items,
        "sightings": sightings,
        "repeats": repeats,
        "refused": refused,
        "refusals": refusals,
        "probes": probes,
        "probes_lost": lost,
        "latency_ms": {
            "samples": lat.len(),
            "p50": ms(lat.quantile(0.5)),
            "p95": ms(lat.quantile(0.95)),
            "p99": p99,
            "max": ms(lat.quantile(1.0)),
        },
        "goal_p99_ms": GOAL_P99_MS,
        "meets_goal": p99 <= GOAL_P99_MS && lost == 0 && kept_up,
        "list_items_ms": list.summary(),
        "rss_mib": {
            "start": rss_start,
            "end_of_load": rss_end_load,
            "end": rss_end,
            "peak": hwm,
            "peak_sampled": rss_peak_sampled,
            "series": series,
            "start_parts": rss_start_parts,
            "end_parts": rss_end_parts,
        },
        "load_average": { "start": load_avg_start, "end": load_avg_end },
        "node_log": recorded_lines,
        "batches": batches.json(),
    });
    Ok(Outcome {
        workload: "intake",
        system: "fenghuo",
        durability: "a commit per stream batch (500 observations or 200 ms); no fsync of its own (sled's background flush)".into(),
        figures,
        line: lines.join("\n"),
    })
}
