//! A province's data set as its counties would write it, for `dashboard-scale`; one county's
//! own store for `county-pages` ([`county_store`]).
//!
//! Each county identifies risks over the last 90 days, grades them, shares them with the
//! province (or its neighbours), sets measures, keeps some under monitoring, re-grades a few
//! to a graver level and resolves the older ones. Every command goes through the node
//! library's own checks and view updates — `register::command::prepare`, `follow_up` (the
//! major-issue snapshot upstream), `comms::command::report_on_grading` (the automatic
//! report) and `dispatch::apply_event` — against an in-memory copy of that county's register,
//! and is recorded as hash-chained entries whose last entry per feed is signed with the
//! county's key, one commit per command: what a county's writer writes when its staff work
//! one command at a time, which is how staff work.
//!
//! The one difference from the writer: each command carries the moment it was written (the
//! writer stamps entries with the present, so it cannot write a history spread over 90
//! days). [`CountyWriter::command`] therefore repeats the writer's few lines that chain
//! events into entries (`OwnEntries` in `node/src/writer.rs`); everything that decides what
//! the events say is the library's.
//!
//! The feeds the gateway is entitled to (`neighbours`, `province`, `upstream`) come out cut
//! into runs as a sync session sends them; the `local` feed stays behind, as it does.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use anyhow::Context as _;
use ed25519_dalek::SigningKey;
use fenghuo_node::change::Risks;
use fenghuo_node::comms;
use fenghuo_node::dispatch;
use fenghuo_node::domain::risk::Closure;
use fenghuo_node::domain::{FocusPoint, GradingStandard, Level, MeasureStatus, RiskStatus, Scores};
use fenghuo_node::event::EntryMeta;
use fenghuo_node::event::Event;
use fenghuo_node::feed::entry::{next_entry, sign_head, GENESIS_HASH};
use fenghuo_node::feed::{self, Audience, Entry, FeedId};
use fenghuo_node::register::view;
use fenghuo_node::register::{self, Command};
use fenghuo_node::store::{Batch, ExportSink, KeyValue, Store, StoreError};
use fenghuo_node::timespec::{format_ms, local_date};

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;
const MINUTE_MS: i64 = 60_000;

/// Days over which risks were identified.
const SPAN_DAYS: i64 = 90;
/// Levels at the first grading, I to IV, per mille.
const FIRST_LEVEL: [u32; 4] = [20, 80, 300, 600];
/// Risks shared with the neighbours rather than the whole province.
const TO_NEIGHBOURS: f64 = 0.2;
/// Risks shared as soon as they are identified, graded afterwards in the wider feed.
const SHARED_FIRST: f64 = 0.15;
/// Risks identified in the last 3 days that are not graded yet.
const UNGRADED_YOUNG: f64 = 0.3;
/// A risk is resolved by now with probability `RESOLVED_MAX × min(1, age / RESOLVED_AGE)`.
const RESOLVED_MAX: f64 = 0.7;
const RESOLVED_AGE_DAYS: f64 = 45.0;
/// What happened after grading and sharing to a risk still active, in turn: a measure; a
/// measure and monitoring; a description updated; a re-grading to a graver level; nothing
/// (the rest).
const ACTIVE_NEXT: [f64; 4] = [0.30, 0.15, 0.10, 0.04];
/// Risks whose source is one of a few thousand shared across the province (linked risks).
const SHARED_SOURCE: f64 = 0.03;
const SHARED_SOURCES: u64 = 2000;

/// One county's feeds for the gateway, as runs a sync session would send.
pub struct CountyFeeds {
    /// Runs of `neighbours`, `province` and `upstream` entries, each ending signed.
    pub runs: Vec<Vec<Entry>>,
    /// Entries in those runs.
    pub entries: u64,
    /// Commands the county ran (including those that wrote only to `local`).
    pub commands: u64,
}

/// A county's register in memory: what the command checks read and the view updates
/// write. The feeds themselves are kept by [`CountyWriter`].
#[derive(Debug, Default)]
struct MemStore {
    trees: Mutex<HashMap<String, Tree>>,
}

/// One tree's keys and values, in key order.
type Tree = BTreeMap<Vec<u8>, Vec<u8>>;

impl MemStore {
    fn collect(
        &self,
        tree: &str,
        keep: impl Fn(&[u8]) -> bool,
        from: &[u8],
    ) -> Vec<Result<KeyValue, StoreError>> {
        let trees = self.trees.lock().unwrap_or_else(|e| e.into_inner());
        let Some(t) = trees.get(tree) else {
            return Vec::new();
        };
        t.range(from.to_vec()..)
            .take_while(|(k, _)| keep(k))
            .map(|(k, v)| Ok((k.clone(), v.clone())))
            .collect()
    }
}

impl Store for MemStore {
    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let trees = self.trees.lock().unwrap_or_else(|e| e.into_inner());
        Ok(trees.get(tree).and_then(|t| t.get(key)).cloned())
    }

    fn range(
        &self,
        tree: &str,
        start: &[u8],
        end: Option<&[u8]>,
    ) -> Box<dyn Iterator<Item = Result<KeyValue, StoreError>> + Send + '_> {
        let end = end.map(<[u8]>::to_vec);
        Box::new(
            self.collect(
                tree,
                |k| end.as_ref().is_none_or(|e| k < e.as_slice()),
                start,
            )
            .into_iter(),
        )
    }

    fn scan_prefix(
        &self,
        tree: &str,
        prefix: &[u8],
    ) -> Box<dyn Iterator<Item = Result<KeyValue, StoreError>> + Send + '_> {
        Box::new(
            self.collect(tree, |k| k.starts_with(prefix), prefix)
                .into_iter(),
        )
    }

    fn last_in_range(
        &self,
        tree: &str,
        start: &[u8],
        end: &[u8],
    ) -> Result<Option<KeyValue>, StoreError> {
        let trees = self.trees.lock().unwrap_or_else(|e| e.into_inner());
        Ok(trees.get(tree).and_then(|t| {
            t.range(start.to_vec()..end.to_vec())
                .next_back()
                .map(|(k, v)| (k.clone(), v.clone()))
        }))
    }

    fn last_with_prefix(&self, tree: &str, prefix: &[u8]) -> Result<Option<KeyValue>, StoreError> {
        self.scan_prefix(tree, prefix).last().transpose()
    }

    fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
        let mut trees = self.trees.lock().unwrap_or_else(|e| e.into_inner());
        for (tree, key, value) in batch.writes() {
            let t = trees.entry(tree.to_owned()).or_default();
            match value {
                Some(v) => t.insert(key.to_vec(), v.to_vec()),
                None => t.remove(key),
            };
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn clear(&self, tree: &str) -> Result<(), StoreError> {
        let mut trees = self.trees.lock().unwrap_or_else(|e| e.into_inner());
        trees.remove(tree);
        Ok(())
    }
    fn export(&self, sink: &mut ExportSink<'_>) -> Result<u64, StoreError> {
        let trees = self.trees.lock().unwrap_or_else(|e| e.into_inner());
        let mut n = 0;
        for (tree, kvs) in trees.iter() {
            for (k, v) in kvs {
                let mut key = tree.as_bytes().to_vec();
                key.push(0);
                key.extend_from_slice(k);
                sink(&key, v)?;
                n += 1;
            }
        }
        Ok(n)
    }
}

/// A county's writer with a clock of its own.
struct CountyWriter {
    /// Division code; it owns the risks it creates.
    unit: String,
    /// `county/<code>`, the origin of its feeds.
    origin: String,
    /// Signs each commit's last entry per feed (the key of the county's certificate).
    key: SigningKey,
    standard: GradingStandard,
    store: MemStore,
    /// Each feed's head: sequence number and hash.
    heads: BTreeMap<Audience, (u64, Vec<u8>)>,
    /// Entries of the feeds the gateway receives (and `local` with `keep_local`), in order.
    sent: BTreeMap<Audience, Vec<Entry>>,
    /// Keep the `local` feed too: the county's own store holds it, the gateway never does.
    keep_local: bool,
    commands: u64,
}

impl CountyWriter {
    /// Runs `command` by `author` at `at_ms` in a commit of its own, as the county's writer
    /// does (`Change::run` for a register command in `fenghuo_node::change`); returns the risk it is about. A refusal is an
    /// error: the data set must be exactly what the script says.
    fn command(&mut self, at_ms: i64, author: &str, command: &Command) -> anyhow::Result<String> {
        let mut batch = Batch::new();
        let mut staged: BTreeMap<Audience, Vec<Entry>> = BTreeMap::new();
        let planned = register::command::prepare(
            &self.store,
            &batch,
            &self.unit,
            &self.standard,
            &local_date(at_ms),
            command,
        )
        .with_context(|| format!("{}: {command:?}", self.unit))?;
        let mut id = String::new();
        for (audience, event) in planned {
            let previous = match &event {
                Event::RiskGraded { id, .. } => {
                    view::load(&batch.over(&self.store), id)?.and_then(|r| r.level())
                }
                _ => None,
            };
            self.append(&mut batch, &mut staged, at_ms, author, audience, &event)?;
            id = event.risk_id().unwrap_or_default().to_owned();
            if let Some((audience, follow)) =
                register::command::follow_up(&self.store, &batch, &event)?
            {
                self.append(&mut batch, &mut staged, at_ms, author, audience, &follow)?;
            }
            if let Some((audience, report)) = comms::command::report_on_grading(
                &self.store,
                &batch,
                &self.unit,
                previous,
                &event,
                &Risks::new(&self.store, &batch),
            )? {
                self.append(&mut batch, &mut staged, at_ms, author, audience, &report)?;
            }
        }
        for (audience, mut list) in staged {
            // `local` never leaves the county: kept (and signed, as the writer signs every
            // feed's last entry) only for a county's own store.
            if audience == Audience::Local && !self.keep_local {
                continue;
            }
            if let Some(last) = list.last_mut() {
                last.signature = sign_head(&self.key, &last.hash);
            }
            self.sent.entry(audience).or_default().extend(list);
        }
        self.store.commit(&batch)?;
        self.commands += 1;
        Ok(id)
    }

    /// Chains `event` into the feed for `audience` and applies it to the register
    /// (`Staging::append`).
    fn append(
        &mut self,
        batch: &mut Batch,
        staged: &mut BTreeMap<Audience, Vec<Entry>>,
        at_ms: i64,
        author: &str,
        audience: Audience,
        event: &Event,
    ) -> anyhow::Result<()> {
        let feed = FeedId::new(self.origin.clone(), audience);
        let (seq, hash) = self
            .heads
            .get(&audience)
            .cloned()
            .unwrap_or((0, GENESIS_HASH.to_vec()));
        let entry = next_entry(&feed, seq, &hash, at_ms, author, event.encode());
        dispatch::apply_event(&self.store, batch, &EntryMeta::of(&entry), event)?;
        dispatch::mark_applied(batch, &feed, entry.seq);
        self.heads.insert(audience, (entry.seq, entry.hash.clone()));
        staged.entry(audience).or_default().push(entry);
        Ok(())
    }
}

/// Entries per run before extending to the next signed entry (as `sync::session` does).
const RUN_ENTRIES: usize = 512;

/// Cuts a feed into runs as a sync session sends them: 512 entries, extended to the next
/// signed one, so every run ends signed.
fn runs(entries: Vec<Entry>) -> Vec<Vec<Entry>> {
    let mut out = Vec::new();
    let mut run = Vec::new();
    for e in entries {
        let signed = !e.signature.is_empty();
        run.push(e);
        if run.len() >= RUN_ENTRIES && signed {
            out.push(std::mem::take(&mut run));
        }
    }
    if !run.is_empty() {
        out.push(run);
    }
    out
}

/// What happens to one risk, planned before anything is written.
#[derive(Debug, Clone)]
enum Step {
    Create,
    Grade(Scores),
    Share(Audience),
    Measure,
    /// The risk's first measure (m1) carried out.
    MeasureDone,
    Status(RiskStatus),
    /// Closed as resolved (every measure done).
    Resolve,
    Update,
}

/// Score triples giving each level, per focus point, under `standard`.
struct ScoreTable(HashMap<(FocusPoint, Level), Vec<Scores>>);

impl ScoreTable {
    fn new(standard: &GradingStandard) -> anyhow::Result<Self> {
        let mut t: HashMap<(FocusPoint, Level), Vec<Scores>> = HashMap::new();
        for focus in FocusPoint::ALL {
            for influence in 1..=5 {
                for attention in 1..=5 {
                    for diffusion in 1..=5 {
                        let s = Scores {
                            influence,
                            attention,
                            diffusion,
                        };
                        t.entry((focus, standard.grade(s, focus)?))
                            .or_default()
                            .push(s);
                    }
                }
            }
        }
        for focus in FocusPoint::ALL {
            for level in Level::ALL {
                anyhow::ensure!(
                    t.contains_key(&(focus, level)),
                    "no scores give level {level} for {focus} under the standard"
                );
            }
        }
        Ok(Self(t))
    }

    fn pick(&self, rng: &mut fastrand::Rng, focus: FocusPoint, level: Level) -> Scores {
        let list = &self.0[&(focus, level)];
        list[rng.usize(..list.len())]
    }
}

fn first_level(rng: &mut fastrand::Rng) -> Level {
    let mut x = rng.u32(..1000);
    for (level, share) in Level::ALL.into_iter().zip(FIRST_LEVEL) {
        if x < share {
            return level;
        }
        x -= share;
    }
    Level::IV
}

/// A graver level than `from` (`from` is III or IV).
fn graver(rng: &mut fastrand::Rng, from: Level) -> Level {
    match (from, rng.f64()) {
        (Level::IV, x) if x < 0.7 => Level::III,
        (Level::IV, _) => Level::II,
        (_, x) if x < 0.8 => Level::II,
        _ => Level::I,
    }
}

/// A risk's steps with their times, in order, all before `now_ms`.
fn plan_risk(
    rng: &mut fastrand::Rng,
    scores: &ScoreTable,
    focus: FocusPoint,
    now_ms: i64,
) -> Vec<(i64, Step)> {
    let created = now_ms - rng.i64(HOUR_MS..SPAN_DAYS * DAY_MS);
    let age = now_ms - created;
    let mut t = created;
    let mut steps = vec![(t, Step::Create)];
    // The next moment: about `gap` later, never past a third of what is left before now.
    let after = |t: &mut i64, rng: &mut fastrand::Rng, lo: i64, hi: i64| {
        let gap = rng.i64(lo..hi).min((now_ms - *t) / 3).max(1);
        *t += gap;
        *t
    };
    let scope = if rng.f64() < TO_NEIGHBOURS {
        Audience::Neighbours
    } else {
        Audience::Province
    };
    if age < 3 * DAY_MS && rng.f64() < UNGRADED_YOUNG {
        steps.push((
            after(&mut t, rng, 5 * MINUTE_MS, HOUR_MS),
            Step::Share(scope),
        ));
        return steps;
    }
    let mut level = first_level(rng);
    let grade = Step::Grade(scores.pick(rng, focus, level));
    if rng.f64() < SHARED_FIRST {
        steps.push((
            after(&mut t, rng, 5 * MINUTE_MS, HOUR_MS),
            Step::Share(scope),
        ));
        steps.push((after(&mut t, rng, 10 * MINUTE_MS, DAY_MS), grade));
    } else {
        steps.push((after(&mut t, rng, 10 * MINUTE_MS, 6 * HOUR_MS), grade));
        steps.push((
            after(&mut t, rng, 5 * MINUTE_MS, 2 * HOUR_MS),
            Step::Share(scope),
        ));
    }
    // Later steps: each somewhere in what is left before now.
    let later = |t: &mut i64, rng: &mut fastrand::Rng| {
        *t += (((now_ms - *t) as f64) * (0.05 + 0.55 * rng.f64())) as i64 + 1;
        *t
    };
    let resolved = RESOLVED_MAX * (age as f64 / (RESOLVED_AGE_DAYS * DAY_MS as f64)).min(1.0);
    if rng.f64() < resolved {
        steps.push((later(&mut t, rng), Step::Measure));
        steps.push((later(&mut t, rng), Step::MeasureDone));
        steps.push((later(&mut t, rng), Step::Resolve));
        return steps;
    }
    let x = rng.f64();
    let [measure, monitoring, update, rise] = ACTIVE_NEXT;
    if x < measure {
        steps.push((later(&mut t, rng), Step::Measure));
    } else if x < measure + monitoring {
        steps.push((later(&mut t, rng), Step::Measure));
        steps.push((later(&mut t, rng), Step::Status(RiskStatus::Monitoring)));
    } else if x < measure + monitoring + update {
        steps.push((later(&mut t, rng), Step::Update));
    } else if x < measure + monitoring + update + rise {
        if matches!(level, Level::III | Level::IV) {
            level = graver(rng, level);
            steps.push((
                later(&mut t, rng),
                Step::Grade(scores.pick(rng, focus, level)),
            ));
        } else {
            steps.push((later(&mut t, rng), Step::Update));
        }
    }
    steps
}

const TOPICS: [&str; 8] = [
    "compensation for land requisition",
    "wage arrears at a construction site",
    "school district boundaries",
    "a food safety rumour",
    "a road closure for a festival",
    "pension adjustment",
    "flood relief distribution",
    "a chemical plant's permit",
];
const DEPARTMENTS: [&str; 5] = [
    "township government",
    "public security bureau",
    "housing and construction bureau",
    "education bureau",
    "emergency management bureau",
];
const BEHAVIOURS: [&str; 5] = [
    "calls to gather",
    "petition drafting",
    "rumour spreading",
    "doxxing of officials",
    "boycott calls",
];

/// The feeds `code` (whose neighbours are `neighbours`) sends the gateway after identifying
/// `risks` risks over the last 90 days before `now_ms`, signed with `key`. Deterministic for a
/// given `seed`.
pub fn county(
    code: &str,
    neighbours: Vec<String>,
    key: SigningKey,
    risks: u64,
    now_ms: i64,
    seed: u64,
) -> anyhow::Result<CountyFeeds> {
    let mut w = write_county(code, neighbours, key, risks, now_ms, seed, false)?;
    let mut out = Vec::new();
    let mut entries = 0;
    // Narrower feeds first, as the gateway's views would apply them.
    for audience in [Audience::Upstream, Audience::Neighbours, Audience::Province] {
        if let Some(list) = w.sent.remove(&audience) {
            entries += list.len() as u64;
            out.extend(runs(list));
        }
    }
    Ok(CountyFeeds {
        runs: out,
        entries,
        commands: w.commands,
    })
}

/// What [`county_store`] wrote.
pub struct CountyStore {
    /// Entries of the county's own feeds, `local` included.
    pub entries: u64,
    /// Commands the county ran.
    pub commands: u64,
    /// Keys of its views (register, overview counts, journal…).
    pub view_keys: u64,
}

/// Keys written per commit while copying a county into a store.
const COPY_BATCH: usize = 20_000;

/// The same county as [`county`] (same risks and commands for the same `seed`), written
/// into `into` as the county's own node would hold it: every feed it wrote, `local`
/// included, with each commit's last entry signed by `key` (its node's feed key), and its
/// views built from them, marked applied. A node opened on `into` starts with nothing to
/// catch up. `into` should be empty.
pub fn county_store(
    code: &str,
    neighbours: Vec<String>,
    key: SigningKey,
    risks: u64,
    now_ms: i64,
    seed: u64,
    into: &dyn Store,
) -> anyhow::Result<CountyStore> {
    let w = write_county(code, neighbours, key, risks, now_ms, seed, true)?;
    let mut batch = Batch::new();
    let mut pending = 0;
    let mut view_keys = 0;
    let flush = |batch: &mut Batch, pending: &mut usize| -> anyhow::Result<()> {
        into.commit(batch)?;
        *batch = Batch::new();
        *pending = 0;
        Ok(())
    };
    let trees = std::mem::take(&mut *w.store.trees.lock().unwrap_or_else(|e| e.into_inner()));
    for (tree, kvs) in trees {
        // Batches name trees with `&'static str`; there are a few dozen, once per run.
        let tree: &'static str = Box::leak(tree.into_boxed_str());
        for (k, v) in kvs {
            batch.insert(tree, k, v);
            pending += 1;
            view_keys += 1;
            if pending >= COPY_BATCH {
                flush(&mut batch, &mut pending)?;
            }
        }
    }
    let mut entries = 0;
    for (audience, list) in &w.sent {
        let feed = FeedId::new(w.origin.clone(), *audience);
        for chunk in list.chunks(COPY_BATCH) {
            feed::log::stage_block(&mut batch, &feed, chunk);
            flush(&mut batch, &mut pending)?;
        }
        entries += list.len() as u64;
    }
    flush(&mut batch, &mut pending)?;
    into.flush()?;
    Ok(CountyStore {
        entries,
        commands: w.commands,
        view_keys,
    })
}

/// Runs the county's commands (see the module's comment) into a writer of its own.
fn write_county(
    code: &str,
    neighbours: Vec<String>,
    key: SigningKey,
    risks: u64,
    now_ms: i64,
    seed: u64,
    keep_local: bool,
) -> anyhow::Result<CountyWriter> {
    let standard = GradingStandard::default_standard();
    let scores = ScoreTable::new(&standard)?;
    let mut w = CountyWriter {
        unit: code.to_owned(),
        origin: format!("county/{code}"),
        key,
        standard,
        store: MemStore::default(),
        heads: BTreeMap::new(),
        sent: BTreeMap::new(),
        keep_local,
        commands: 0,
    };
    let mut rng = fastrand::Rng::with_seed(seed);
    // The node declares its neighbours when it first starts, before any risk.
    let origin = w.origin.clone();
    w.command(
        now_ms - (SPAN_DAYS + 1) * DAY_MS,
        &origin,
        &Command::DeclareNeighbours { neighbours },
    )?;
    let mut focuses = Vec::with_capacity(risks as usize);
    let mut plan = Vec::new();
    for i in 0..risks as usize {
        let focus = FocusPoint::ALL[rng.usize(..FocusPoint::ALL.len())];
        focuses.push(focus);
        plan.extend(
            plan_risk(&mut rng, &scores, focus, now_ms)
                .into_iter()
                .map(|(at, step)| (at, i, step)),
        );
    }
    // The county writes in time order (stable: a risk's steps keep their order).
    plan.sort_by_key(|(at, _, _)| *at);
    let authors: Vec<String> = (1..=5)
        .map(|n| format!("staff/{code}/officer{n}"))
        .collect();
    let mut ids: Vec<String> = vec![String::new(); risks as usize];
    for (at, i, step) in plan {
        let author = &authors[i % authors.len()];
        let id = ids[i].clone();
        let command = match step {
            Step::Create => {
                let topic = TOPICS[rng.usize(..TOPICS.len())];
                let source = if rng.f64() < SHARED_SOURCE {
                    format!(
                        "https://www.douyin.com/video/7{:018}?utm_source=share",
                        rng.u64(..SHARED_SOURCES)
                    )
                } else {
                    format!("https://weibo.com/{code}{i:06}/status/{}", rng.u64(..1 << 40))
                };
                Command::Create {
                    title: format!("{}: {topic}", focuses[i].label_zh()),
                    description: format!(
                        "Posts about {topic} are being reposted with claims that officials ignored residents' complaints; accounts in {code} ask people to gather on Saturday morning."
                    ),
                    focus: Some(focuses[i]),
                    source,
                    behaviours: (0..1 + rng.usize(..2))
                        .map(|_| BEHAVIOURS[rng.usize(..BEHAVIOURS.len())].to_owned())
                        .collect(),
                    department: DEPARTMENTS[rng.usize(..DEPARTMENTS.len())].to_owned(),
                }
            }
            Step::Grade(scores) => Command::Grade {
                id,
                scores,
                override_level: None,
                reason: String::new(),
            },
            Step::Share(scope) => Command::Share { id, scope },
            Step::Measure => Command::AddMeasure {
                id,
                action: "Publish the facts on the county's official account and meet the residents' representatives".into(),
                owner: DEPARTMENTS[rng.usize(..DEPARTMENTS.len())].into(),
                due: format_ms(at + 14 * DAY_MS).get(..10).unwrap_or_default().to_owned(),
            },
            Step::MeasureDone => Command::UpdateMeasure {
                id,
                measure_id: "m1".into(),
                status: MeasureStatus::Done,
                note: "Carried out as planned".into(),
            },
            Step::Status(status) => Command::SetStatus { id, status },
            Step::Resolve => Command::Close {
                id,
                closure: Closure::Resolved,
                text: "The facts were published and the residents' representatives met; reposts stopped".into(),
            },
            Step::Update => Command::Update {
                id,
                title: None,
                description: Some(format!(
                    "Reposts of the claims slowed after the township's statement; {} accounts still active.",
                    rng.u32(3..40)
                )),
                focus: None,
                source: None,
                behaviours: None,
                add_behaviours: Vec::new(),
                remove_behaviours: Vec::new(),
                department: None,
            },
        };
        let written = w.command(at, author, &command)?;
        if ids[i].is_empty() {
            ids[i] = written;
        }
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_county_writes_every_risk_to_a_feed_the_gateway_holds() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let now = 1_800_000_000_000;
        let feeds = county("510104", vec!["510105".into()], key.clone(), 200, now, 1).unwrap();
        let all: Vec<&Entry> = feeds.runs.iter().flatten().collect();
        assert_eq!(all.len() as u64, feeds.entries);
        assert!(feeds
            .runs
            .iter()
            .all(|r| !r.last().unwrap().signature.is_empty()));
        // Every risk was shared (or reported upward), so the gateway sees all 200.
        let mut shared = std::collections::BTreeSet::new();
        for e in &all {
            assert!(e.timestamp_ms < now);
            if let Ok(Event::RiskShared { id, .. }) = Event::decode(&e.payload) {
                shared.insert(id);
            }
        }
        assert_eq!(shared.len(), 200);
    }
}
