//! `dashboard-scale`: the provincial gateway at full size — C counties × R risks with their
//! histories — and what the dashboard's queries cost on it.
//!
//! The gateway is a real node (province 51) started in this process as every bench node is.
//! Each county's feeds come from [`crate::dataset`] (the county's commands through the node
//! library, signed with the key of the county's own certificate) and reach the gateway
//! through its writer's `queue_ingest`, the call a sync session makes for each run it
//! receives: chain, hash and signature checks, group commit, fsync. The gateway's own view
//! applier builds the views in the background, as during a real catch-up; loading ends when
//! they have applied every entry. What is left out is only the transport (TLS, gRPC, the
//! certificate check per session), measured by the other workloads.
//!
//! Then: the overview (`fenghuo_node::overview::overview`) for the whole province, one county
//! and one level; resident memory; every view deleted and rebuilt from the feeds; the store's
//! size on disk. With `--data-dir` and `--keep` the data set stays, and a later run with the
//! same `--data-dir` measures it again without loading it (the page-render hook below is what
//! that is for).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use ed25519_dalek::VerifyingKey;
use fenghuo_node::dispatch;
use fenghuo_node::domain::Level;
use fenghuo_node::feed::{self, FeedSigner};
use fenghuo_node::identity::Identity;
use fenghuo_node::overview::view::{day_of, Rise, COUNT_TREE, DAY_TREE, RISE_TREE};
use fenghuo_node::overview::{self, linked, Filter};
use fenghuo_node::pki::cert;
use fenghuo_node::register::view as register_view;
use fenghuo_node::state::NodeState;
use fenghuo_node::store::Store;
use fenghuo_node::sync::directory;
use fenghuo_node::timespec::now_ms;
use futures_util::stream::{FuturesOrdered, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::dataset::{self, CountyFeeds, DAY_MS};
use crate::fenghuo::{free_port, Bench, Node, DURABILITY};
use crate::stats::{ms, peak_rss_mib, rss_mib, Latencies, Outcome};

/// What to build and measure.
#[derive(Debug)]
pub struct Options {
    /// Counties in the province.
    pub counties: usize,
    /// Risks per county.
    pub risks: u64,
    /// Timed runs of each query.
    pub queries: usize,
    /// Where the province lives (else a temporary folder).
    pub data_dir: Option<PathBuf>,
    /// Leave it on disk at the end.
    pub keep: bool,
    /// Delete and rebuild every view (minutes at full size; skip when only re-measuring
    /// queries).
    pub rebuild: bool,
}

/// Written into the folder once a data set is complete: what it holds and how loading went.
const MARKER: &str = "dashboard-scale.json";
/// Runs waiting for the gateway's writer at once (as one sync session keeps).
const IN_FLIGHT: usize = 8;
/// How often loading says how far it is.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// Unmeasured runs before each query's timed ones.
const WARM_UP: usize = 3;
/// Risks whose history length is sampled.
const HISTORY_SAMPLE: usize = 1000;
/// The default range of the overview, as `Overview.GetOverview` takes it: 30 days to now.
const RANGE_DAYS: i64 = 30;

/// The division codes of `n` counties of province 51 (5101xx, 5102xx…).
fn county_codes(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("51{:02}{:02}", 1 + i / 99, 1 + i % 99))
        .collect()
}

/// The neighbours of county `i`: up to two codes either side.
fn neighbours_of(codes: &[String], i: usize) -> Vec<String> {
    (i.saturating_sub(2)..(i + 3).min(codes.len()))
        .filter(|j| *j != i)
        .map(|j| codes[j].clone())
        .collect()
}

/// One query's timings.
pub struct Timed {
    name: String,
    lat: Latencies,
}

/// Runs `f` [`WARM_UP`] times unmeasured, then `n` times measured.
pub fn time_queries(
    name: &str,
    n: usize,
    mut f: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<Timed> {
    for _ in 0..WARM_UP {
        f()?;
    }
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f()?;
        samples.push(t.elapsed());
    }
    let lat = Latencies::new(samples);
    eprintln!("  {name}: {}", lat.line());
    Ok(Timed {
        name: name.to_owned(),
        lat,
    })
}

/// A page render to time: the dashboard's province overview page (whole province, default
/// 30 days), rendered to HTML as a signed-in viewer's request would render it.
type Render<'a> = Box<dyn FnMut() -> anyhow::Result<()> + 'a>;
fn page_render(node: &Arc<NodeState>, now_ms: i64) -> Option<Render<'_>> {
    use fenghuo_node::web::{self, filters::RawFilters, session::Staffer};
    let app = web::App::new(node.clone(), std::time::Duration::from_secs(3600));
    let staffer = Staffer {
        name: "bench".into(),
        role: fenghuo_node::accounts::Role::Viewer,
        display_name: String::new(),
        csrf: "bench".into(),
    };
    let filters = RawFilters::default().check(now_ms).ok()?;
    Some(Box::new(move || {
        let html = web::pages::overview::render(&app, &staffer, &filters)
            .map_err(|e| anyhow::anyhow!("rendering the overview page: {e}"))?
            .into_string();
        black_box(html);
        Ok(())
    }))
}
/// What the report says while [`page_render`] gives nothing.
const RENDER_PENDING: &str = "(not measured: the default filters did not check)";

/// Reads the marker of a complete data set in `dir`, if there is one. A folder that exists,
/// is not empty and has no marker is refused: it holds something else, or a load that was
/// interrupted.
fn earlier_data_set(dir: &Path, o: &Options) -> anyhow::Result<Option<Value>> {
    let marker = dir.join(MARKER);
    if marker.exists() {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&marker)?)
            .with_context(|| format!("reading {}", marker.display()))?;
        anyhow::ensure!(
            v["counties"] == o.counties && v["risks"] == o.risks,
            "{} holds {} counties × {} risks, not {} × {}: give those numbers or another folder",
            dir.display(),
            v["counties"],
            v["risks"],
            o.counties,
            o.risks
        );
        return Ok(Some(v));
    }
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        anyhow::bail!(
            "{} is not empty and holds no complete dashboard-scale data set (an interrupted load?): remove it or give a new folder",
            dir.display()
        );
    }
    Ok(None)
}

/// The whole province over the default range ending at `now_ms`.
fn default_range(now_ms: i64) -> Filter {
    Filter {
        from_ms: now_ms - (RANGE_DAYS - 1) * DAY_MS,
        to_ms: now_ms,
        ..Default::default()
    }
}

/// Entries the gateway holds, and how many of them its views have applied.
fn views_progress(store: &dyn Store) -> anyhow::Result<(u64, u64)> {
    let (mut held, mut applied) = (0, 0);
    for (f, head) in feed::log::heads(store)? {
        held += head.seq;
        applied += dispatch::applied(store, &f)?.min(head.seq);
    }
    Ok((held, applied))
}

/// CPU seconds (user + system) in a `/proc/…/stat` file; 0 where it cannot be read.
fn cpu_seconds(stat: &str) -> f64 {
    // Clock ticks per second: 100 on Linux (USER_HZ).
    const TICKS: f64 = 100.0;
    std::fs::read_to_string(stat)
        .ok()
        .and_then(|s| {
            let fields: Vec<&str> = s.rsplit_once(") ")?.1.split_whitespace().collect();
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) / TICKS)
        })
        .unwrap_or(0.0)
}

/// CPU seconds of this process's thread named `name` (0 if none).
fn thread_cpu(name: &str) -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    dir.flatten()
        .filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name))
        .map(|t| cpu_seconds(&t.path().join("stat").to_string_lossy()))
        .sum()
}

/// Bytes of files under `dir`: (apparent, allocated on disk).
pub fn disk_usage(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let mut total = (0, 0);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return total;
    };
    for e in entries.flatten() {
        let Ok(m) = e.metadata() else { continue };
        if m.is_dir() {
            let (a, b) = disk_usage(&e.path());
            total = (total.0 + a, total.1 + b);
        } else {
            total = (total.0 + m.len(), total.1 + m.blocks() * 512);
        }
    }
    total
}

pub fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

/// What one overview of `range` spends in each of the scans it makes: every count of
/// `overview_count`, the days of `overview_day` in the range, the rises of `overview_rise`
/// in the range (each decoded). Medians of 50 runs, with the keys each reads.
fn scan_costs(s: &dyn Store, range: &Filter) -> anyhow::Result<Value> {
    let mut out = json!({});
    let from = (range.from_ms.max(0) as u64).to_be_bytes();
    let to = (range.to_ms.max(0) as u64 + 1).to_be_bytes();
    let (first, last) = (day_of(range.from_ms), day_of(range.to_ms));
    let scans: [(&str, &dyn Fn() -> anyhow::Result<usize>); 3] = [
        ("counts", &|| Ok(s.scan_prefix(COUNT_TREE, b"").count())),
        ("days", &|| {
            Ok(s.range(
                DAY_TREE,
                &first.to_be_bytes(),
                Some(&(last + 1).to_be_bytes()),
            )
            .count())
        }),
        ("rises", &|| {
            let mut n = 0;
            for kv in s.range(RISE_TREE, &from, Some(&to)) {
                black_box(serde_json::from_slice::<Rise>(&kv?.1)?);
                n += 1;
            }
            Ok(n)
        }),
    ];
    for (name, scan) in scans {
        let mut keys = 0;
        let mut samples = Vec::new();
        for _ in 0..50 {
            let t = Instant::now();
            keys = scan()?;
            samples.push(t.elapsed());
        }
        out[name] = json!({"keys": keys, "p50_ms": ms(Latencies::new(samples).quantile(0.5))});
    }
    Ok(out)
}

/// Builds the data set at the gateway: every county's feeds ingested, views caught up.
async fn load(bench: &mut Bench, gateway: &Node, o: &Options) -> anyhow::Result<Value> {
    let store = gateway.state.store.clone();
    let now = now_ms();
    let codes = county_codes(o.counties);
    // Each county signs with the feed key its certificate certifies, which the gateway keeps in its
    // directory (a sync session stores it with the county's first run).
    let mut signers = Vec::with_capacity(codes.len());
    let mut keys: Vec<VerifyingKey> = Vec::with_capacity(codes.len());
    for code in &codes {
        let identity = Identity::county(code)?;
        let creds = bench.credentials(&identity)?;
        let der = cert::read_cert_pem(&creds.cert)?
            .into_iter()
            .next()
            .context("certificate file without a certificate")?;
        directory::remember_certificate(store.as_ref(), &identity.path(), &der)?;
        let signer = FeedSigner::from_pem_file(&creds.key.with_extension("feed.key"))?;
        keys.push(signer.verifying_key());
        signers.push(signer);
    }
    eprintln!(
        "loading {} counties × {} risks into the gateway at {}…",
        o.counties,
        o.risks,
        bench.dir().display()
    );
    let cpu_before = cpu_seconds("/proc/self/stat");
    let started = Instant::now();
    // One thread plays the counties, one after another; the gateway ingests each county's
    // runs while the next county is written.
    let (tx, mut rx) = mpsc::channel::<(usize, CountyFeeds)>(1);
    let (risks, gen_codes) = (o.risks, codes.clone());
    let generator = std::thread::Builder::new()
        .name("county-writers".into())
        .spawn(move || -> anyhow::Result<f64> {
            for (i, signer) in signers.into_iter().enumerate() {
                let feeds = dataset::county(
                    &gen_codes[i],
                    neighbours_of(&gen_codes, i),
                    signer.signing_key().clone(),
                    risks,
                    now,
                    i as u64 + 1,
                )?;
                if tx.blocking_send((i, feeds)).is_err() {
                    break;
                }
            }
            Ok(cpu_seconds("/proc/thread-self/stat"))
        })?;

    let writer = gateway.state.writer.clone();
    let mut in_flight = FuturesOrdered::new();
    let (mut counties_done, mut entries, mut commands) = (0usize, 0u64, 0u64);
    let mut last_print = Instant::now();
    let check = |r: Option<Result<_, _>>, n: usize| -> anyhow::Result<()> {
        if let Some(r) = r {
            let ingested: fenghuo_node::sync::ingest::Ingested = r?;
            anyhow::ensure!(
                ingested.stored == n,
                "{}: {} of {n} entries stored",
                ingested.feed,
                ingested.stored
            );
        }
        Ok(())
    };
    let mut sizes = std::collections::VecDeque::new();
    while let Some((i, feeds)) = rx.recv().await {
        for run in feeds.runs {
            if in_flight.len() >= IN_FLIGHT {
                check(in_flight.next().await, sizes.pop_front().unwrap_or(0))?;
            }
            sizes.push_back(run.len());
            in_flight.push_back(writer.queue_ingest(run, keys[i]).await?);
        }
        counties_done += 1;
        entries += feeds.entries;
        commands += feeds.commands;
        if last_print.elapsed() >= PROGRESS_EVERY {
            last_print = Instant::now();
            let s = started.elapsed().as_secs_f64();
            let (held, applied) = views_progress(store.as_ref())?;
            eprintln!(
                "  {s:.0} s: {counties_done}/{} counties written and sent ({:.0} risks/s), gateway holds {held} entries, views applied {applied}",
                o.counties,
                (counties_done as u64 * o.risks) as f64 / s
            );
        }
    }
    while let Some(r) = in_flight.next().await {
        check(Some(r), sizes.pop_front().unwrap_or(0))?;
    }
    let generator_cpu = generator
        .join()
        .map_err(|_| anyhow::anyhow!("the county writers panicked"))??;
    let ingested = started.elapsed();
    eprintln!(
        "  every county's feeds stored at the gateway after {:.1} s; waiting for the views",
        ingested.as_secs_f64()
    );
    loop {
        let (held, applied) = views_progress(store.as_ref())?;
        let pending = store
            .scan_prefix(linked::PENDING_TREE, b"")
            .next()
            .is_some();
        if applied >= held && !pending {
            break;
        }
        if last_print.elapsed() >= PROGRESS_EVERY {
            last_print = Instant::now();
            eprintln!(
                "  {:.0} s: views applied {applied}/{held} entries",
                started.elapsed().as_secs_f64()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The applier does not flush (views can be rebuilt); the figures below are of the disk.
    store.flush()?;
    let took = started.elapsed();
    let cpu = cpu_seconds("/proc/self/stat") - cpu_before;
    let (writer_cpu, flusher_cpu) = (thread_cpu("fenghuo-writer"), thread_cpu("fenghuo-flusher"));
    let total = o.counties as u64 * o.risks;
    eprintln!(
        "  loaded in {:.1} s: {total} risks ({:.0}/s), {entries} entries",
        took.as_secs_f64(),
        total as f64 / took.as_secs_f64()
    );
    Ok(json!({
        "counties": o.counties,
        "risks": o.risks,
        "now_ms": now,
        "entries": entries,
        "commands": commands,
        "seconds": took.as_secs_f64(),
        "ingest_seconds": ingested.as_secs_f64(),
        "risks_per_s": total as f64 / took.as_secs_f64(),
        "cpu_seconds": {
            "process": cpu,
            "county_writers": generator_cpu,
            "gateway_writer": writer_cpu,
            "gateway_flusher": flusher_cpu,
            "rest": cpu - generator_cpu - writer_cpu - flusher_cpu,
        },
    }))
}

/// Builds (or finds) the data set and measures the gateway on it.
pub async fn dashboard_scale(o: Options) -> anyhow::Result<Outcome> {
    anyhow::ensure!(
        (1..=99 * 99).contains(&o.counties) && o.risks >= 1 && o.queries >= 1,
        "--counties (1 to 9801), --risks and --queries must be at least 1"
    );
    let (mut bench, earlier) = match &o.data_dir {
        Some(d) => {
            let earlier = earlier_data_set(d, &o)?;
            (Bench::at(d)?, earlier)
        }
        None => (Bench::new()?, None),
    };
    let started = Instant::now();
    let gateway = bench.launch("51", "", free_port()?, None, &[]).await?;
    // On a kept data set: how long the gateway takes to start on it.
    let opened = started.elapsed();
    let store = gateway.state.store.clone();
    let reused = earlier.is_some();
    let loaded = match earlier {
        Some(l) => {
            eprintln!(
                "measuring the data set loaded earlier in {}",
                bench.dir().display()
            );
            l
        }
        None => {
            let l = load(&mut bench, &gateway, &o).await?;
            std::fs::write(bench.dir().join(MARKER), l.to_string())?;
            l
        }
    };
    let now = loaded["now_ms"].as_i64().context("marker without now_ms")?;
    let data_dir = bench.dir().join("data-51");
    let disk_loaded = disk_usage(&data_dir);
    let rss_loaded = rss_mib();
    // The queries and the rebuild are plain calls on the store, as the API makes them in a
    // blocking task.
    let node = gateway.state.clone();
    let measured = tokio::task::block_in_place(|| measure(store, &node, &o, now))?;
    let disk_end = disk_usage(&data_dir);
    gateway.stop().await;

    let total = o.counties as u64 * o.risks;
    let mut figures = measured.figures;
    figures["counties"] = o.counties.into();
    figures["risks"] = o.risks.into();
    figures["total_risks"] = total.into();
    figures["reused"] = reused.into();
    figures["open_seconds"] = opened.as_secs_f64().into();
    figures["load"] = loaded.clone();
    figures["disk_bytes"] = json!({
        "loaded": disk_loaded.1, "loaded_apparent": disk_loaded.0,
        "at_end": disk_end.1,
    });
    figures["rss_mib"]["loaded"] = rss_loaded.into();
    figures["rss_mib"]["peak"] = peak_rss_mib().into();
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    let cpu = &loaded["cpu_seconds"];
    let line = format!(
        "{} counties × {} risks = {total} risks at the gateway, {} feed entries\n  \
         loading{}: {:.1} s ({:.0} risks/s; every feed stored after {:.1} s, views caught up after that); \
         CPU {:.0} s: county writers {:.0} s, gateway writer {:.0} s, flusher {:.0} s, views applier and the rest {:.0} s\n  \
         on disk: {:.2} GiB {}, {:.2} GiB at the end (sled, {})\n{}",
        o.counties,
        o.risks,
        loaded["entries"],
        if reused { " (by the earlier run that built it)" } else { "" },
        f(&loaded["seconds"]),
        f(&loaded["risks_per_s"]),
        f(&loaded["ingest_seconds"]),
        f(&cpu["process"]),
        f(&cpu["county_writers"]),
        f(&cpu["gateway_writer"]),
        f(&cpu["gateway_flusher"]),
        f(&cpu["rest"]),
        gib(disk_loaded.1),
        if reused {
            format!("when the gateway started on it (in {:.1} s)", opened.as_secs_f64())
        } else {
            "after loading".to_owned()
        },
        gib(disk_end.1),
        data_dir.display(),
        measured.lines.join("\n")
    );
    let after_rebuild = match figures["rss_mib"]["after_rebuild"].as_f64() {
        Some(m) => format!(", {m:.0} MiB after the rebuild"),
        None => String::new(),
    };
    let line = format!(
        "{line}\n  memory (VmRSS of this bench process, which holds the gateway's store{}): {rss_loaded:.0} MiB {}, {:.0} MiB after the queries{after_rebuild}, peak {:.0} MiB",
        if reused { "" } else { " and what is left of the county writers" },
        if reused { "after opening it" } else { "after loading" },
        f(&figures["rss_mib"]["after_queries"]),
        peak_rss_mib()
    );

    match (&o.data_dir, o.keep) {
        (Some(d), false) => {
            std::fs::remove_dir_all(d).with_context(|| format!("removing {}", d.display()))?
        }
        (None, true) => eprintln!("kept in {}", bench.keep().display()),
        _ => {}
    }
    Ok(Outcome {
        workload: "dashboard-scale",
        system: "fenghuo",
        durability: DURABILITY.into(),
        figures,
        line,
    })
}

/// Deletes every view and rebuilds them from the feeds (what a node does at start when the
/// view format changed), timed; checks the rebuilt views give `before` again.
fn rebuild(s: &dyn Store, range: &Filter, before: &overview::Overview) -> anyhow::Result<Value> {
    eprintln!("deleting every view and rebuilding them from the feeds…");
    let t = Instant::now();
    dispatch::clear(s)?;
    let cleared = t.elapsed();
    let t = Instant::now();
    let applied = dispatch::catch_up(s)?;
    let rebuilt = t.elapsed();
    let identical = overview::overview(s, range)? == *before;
    if !identical {
        eprintln!("WARNING: the rebuilt views give another overview than the views built as entries arrived");
    }
    Ok(json!({
        "clear_seconds": cleared.as_secs_f64(),
        "rebuild_seconds": rebuilt.as_secs_f64(),
        "entries": applied,
        "entries_per_s": applied as f64 / rebuilt.as_secs_f64(),
        "overview_identical": identical,
    }))
}

/// What [`measure`] found.
struct Measured {
    figures: Value,
    lines: Vec<String>,
}

/// Queries, memory, history lengths and the rebuild, on the loaded store.
fn measure(
    store: Arc<dyn Store>,
    node: &Arc<NodeState>,
    o: &Options,
    now: i64,
) -> anyhow::Result<Measured> {
    let s = store.as_ref();
    let codes = county_codes(o.counties);
    let total = o.counties as u64 * o.risks;
    let range = default_range(now);

    // What the overview says must be what was written.
    let province = overview::overview(s, &range)?;
    let counted: u64 = province.by_status.values().sum();
    let resolved: u64 = province.counties.values().map(|r| r.resolved).sum();
    anyhow::ensure!(
        province.counties.len() == o.counties
            && counted == total
            && province.active() + resolved == total,
        "the overview counts {counted} risks ({} active, {resolved} resolved) in {} counties; {total} in {} were written",
        province.active(),
        province.counties.len(),
        o.counties
    );
    let rises = |from: i64| {
        s.range(RISE_TREE, &(from as u64).to_be_bytes(), None)
            .count()
    };
    let overview_figures = json!({
        "active": province.active(),
        "resolved": resolved,
        "by_level": province.by_level,
        "ungraded": province.ungraded,
        "by_status": province.by_status.iter().map(|(k, v)| (k.as_str(), *v)).collect::<std::collections::BTreeMap<_, _>>(),
        "rises_in_range": rises(range.from_ms),
        "rises_last_7_days": rises(now - 7 * DAY_MS),
        "days_in_range_with_new": province.days.values().filter(|d| d.new > 0).count(),
    });
    eprintln!("overview: {overview_figures}");
    let scans = scan_costs(s, &range)?;
    eprintln!("the overview's scans: {scans}");

    eprintln!("timing {} runs of each query…", o.queries);
    let mut timed = vec![time_queries(
        "overview, whole province (30 days; the county table is its `counties`)",
        o.queries,
        || {
            black_box(overview::overview(s, &range)?);
            Ok(())
        },
    )?];
    let mut i = 0;
    timed.push(time_queries("overview, one county", o.queries, || {
        let f = Filter {
            county: Some(codes[i % codes.len()].clone()),
            ..range.clone()
        };
        i += 1;
        black_box(overview::overview(s, &f)?);
        Ok(())
    })?);
    let mut i = 0;
    timed.push(time_queries("overview, one level", o.queries, || {
        let f = Filter {
            level: Some(Level::ALL[i % Level::ALL.len()]),
            ..range.clone()
        };
        i += 1;
        black_box(overview::overview(s, &f)?);
        Ok(())
    })?);
    let render = match page_render(node, now) {
        Some(r) => Some(time_queries("full dashboard page render", o.queries, r)?),
        None => None,
    };
    let rss_queries = rss_mib();

    // History lengths of a sample of risks, as the gateway holds them.
    let mut rng = fastrand::Rng::with_seed(7);
    let mut lengths = Vec::with_capacity(HISTORY_SAMPLE);
    for _ in 0..HISTORY_SAMPLE {
        let id = format!(
            "{}-{}",
            codes[rng.usize(..codes.len())],
            rng.u64(1..=o.risks)
        );
        lengths.push(register_view::load_full(s, &id)?.history.len());
    }
    let history = json!({
        "sample": lengths.len(),
        "min": lengths.iter().min(),
        "max": lengths.iter().max(),
        "mean": lengths.iter().sum::<usize>() as f64 / lengths.len().max(1) as f64,
    });

    let rebuild = if o.rebuild {
        Some(rebuild(s, &range, &province)?)
    } else {
        None
    };

    let mut queries = json!({});
    let mut lines = Vec::new();
    for t in &timed {
        queries[&t.name] = t.lat.summary();
        lines.push(format!("  {}: {}", t.name, t.lat.line()));
    }
    match &render {
        Some(t) => {
            queries["full dashboard page render"] = t.lat.summary();
            lines.push(format!("  full dashboard page render: {}", t.lat.line()));
        }
        None => lines.push(format!("  full dashboard page render: {RENDER_PENDING}")),
    }
    lines.push(format!(
        "  ({} runs each; {} rises in the 30-day range, {} in the last 7 days; histories of {} sampled risks: {}–{} items, mean {:.1})",
        o.queries,
        overview_figures["rises_in_range"],
        overview_figures["rises_last_7_days"],
        history["sample"],
        history["min"],
        history["max"],
        history["mean"].as_f64().unwrap_or(0.0)
    ));
    let scan = |k: &str| {
        format!(
            "{} keys {:.1} ms",
            scans[k]["keys"],
            scans[k]["p50_ms"].as_f64().unwrap_or(0.0)
        )
    };
    lines.push(format!(
        "  (a whole-province overview reads: counts {}, days {}, rises {}, each rise decoded; medians)",
        scan("counts"),
        scan("days"),
        scan("rises")
    ));
    lines.push(match &rebuild {
        Some(r) => format!(
            "  rebuild of every view from the feeds: cleared in {:.1} s, {} entries applied in {:.1} s ({:.0} entries/s); overview after the rebuild {}",
            r["clear_seconds"].as_f64().unwrap_or(0.0),
            r["entries"],
            r["rebuild_seconds"].as_f64().unwrap_or(0.0),
            r["entries_per_s"].as_f64().unwrap_or(0.0),
            if r["overview_identical"] == true { "identical" } else { "DIFFERENT" }
        ),
        None => "  rebuild of every view from the feeds: skipped (--no-rebuild)".to_owned(),
    });
    Ok(Measured {
        figures: json!({
            "queries": queries,
            "page_render": if render.is_some() { Value::Null } else { RENDER_PENDING.into() },
            "overview": overview_figures,
            "overview_scans": scans,
            "history": history,
            "rebuild": rebuild,
            "rss_mib": { "after_queries": rss_queries, "after_rebuild": rebuild.as_ref().map(|_| rss_mib()) },
            "p99_ms_whole_province": ms(timed[0].lat.quantile(0.99)),
        }),
        lines,
    })
}
