//! The county's intake desk (舆情采集台): the one place observations are recorded and items
//! triaged, whichever way they came (gRPC, the HTTPS endpoint, feeds, files, the pages).
//!
//! Recording is a read-modify-write of items and their indexes, so the desk records one
//! batch at a time (a lock around the store's commit); a batch of a stream commits once.
//! Triage writes the register through the writer like any other client (a promoted item is
//! a new risk written as the officer who promoted it) and then marks the item, under the
//! same lock.

use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::domain::risk::source_key;
use crate::domain::{FocusPoint, GradingStandard, Scores};
use crate::event::{check, IntakeCounts};
use crate::intake::store::{self, Triage, TriageError};
use crate::intake::{suggest, IntakeError, Item, Observation, Recorded, Suggestion, WatchRules};
use crate::overview::linked;
use crate::register::{self, read as register_read, RegisterError};
use crate::services::intake_pull::FeedStatuses;
use crate::store::{Store, StoreError};
use crate::writer::{WriteError, Writer};

/// Items counted at most when a page or list says how many are open.
pub const OPEN_COUNT_CAP: usize = 10_000;
const DAY_MS: i64 = 24 * 3600 * 1000;

/// Why a triage step failed.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    /// The item cannot be triaged (missing, already decided, no reason).
    #[error(transparent)]
    Triage(#[from] TriageError),
    /// The register refused the risk or the note.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The risk to attach to is not this county's, or does not exist.
    #[error(transparent)]
    Register(#[from] RegisterError),
    /// No focus point was given and no watch rule suggests one.
    #[error(
        "say which focus point (重点) this risk concerns: no watch rule suggests one for item {0}"
    )]
    NoFocus(u64),
    /// Only risks of this county take sightings.
    #[error("risk {risk} is {origin}'s; an item joins a risk of this county ({county})")]
    NotOurs {
        /// The risk.
        risk: String,
        /// Its origin.
        origin: String,
        /// This county.
        county: String,
    },
    /// A text breaks the rules every typed text follows.
    #[error(transparent)]
    Invalid(#[from] check::ContentError),
    /// A score is outside 1-5.
    #[error("{0} must be 1-5")]
    Score(&'static str),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A lock was poisoned by a panic elsewhere.
    #[error("the intake desk is unavailable after an internal error; restart the node")]
    Poisoned,
}

/// What an officer confirms when promoting an item; empty fields take the suggestion.
#[derive(Debug, Clone, Default)]
pub struct Promotion {
    /// The risk's title.
    pub title: String,
    /// Its description.
    pub description: String,
    /// Its focus point (required when no watch rule suggests one).
    pub focus: Option<FocusPoint>,
    /// Its behaviours; `None` takes the suggested ones.
    pub behaviours: Option<Vec<String>>,
    /// The responsible department.
    pub department: String,
    /// Influence 1-5: grade the risk at once; `None` leaves it to grade later.
    pub influence: Option<u32>,
    /// Attention 1-5 (`None`: suggested).
    pub attention: Option<u32>,
    /// Diffusion 1-5 (`None`: suggested).
    pub diffusion: Option<u32>,
}

/// What a triage step did.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The item as it is now.
    pub item: Item,
    /// The risk it became or joined.
    pub risk: String,
    /// After an attach: the scores a re-grade would have when the item's figures rose past
    /// the risk's grade (attention, diffusion).
    pub propose: Option<(u32, u32)>,
}

/// Counts of one recorded batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BatchCounts {
    /// New items.
    pub new_items: u64,
    /// Further sightings of items.
    pub sightings: u64,
    /// Repeats of a (system, id).
    pub repeats: u64,
    /// Refused by the checks.
    pub refused: u64,
}

impl BatchCounts {
    /// Counts one result.
    pub fn add(&mut self, r: &Result<Recorded, IntakeError>) {
        match r {
            Ok(Recorded::New(_)) => self.new_items += 1,
            Ok(Recorded::Sighting(_)) => self.sightings += 1,
            Ok(Recorded::Repeat(_)) => self.repeats += 1,
            Err(_) => self.refused += 1,
        }
    }
}

/// How long, and how many, intake items a county keeps (`[intake] retention_days`,
/// `max_items`).
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Days an item is kept after its last sighting.
    pub days: u32,
    /// The most items kept: beyond it, those seen least recently go first. The store's
    /// memory grows with the items it holds, so this bounds it.
    pub max_items: u64,
}

impl Retention {
    /// How far past `max_items` recording may go before the purge worker is woken, so it
    /// trims in batches rather than after every one.
    fn slack(&self) -> u64 {
        (self.max_items / 100).max(1)
    }
}

/// The county's intake: its store, watch rules and retention.
#[derive(Debug)]
pub struct IntakeDesk {
    store: Arc<dyn Store>,
    rules: WatchRules,
    retention: Retention,
    /// Woken when the store holds more than `max_items` (and the slack).
    over: tokio::sync::Notify,
    lock: Mutex<()>,
    recorded: tokio::sync::watch::Sender<u64>,
    feeds: Arc<FeedStatuses>,
}

impl IntakeDesk {
    /// A desk over `store` flagging with `rules`, keeping items as `retention` says.
    pub fn new(store: Arc<dyn Store>, rules: WatchRules, retention: Retention) -> Self {
        Self {
            store,
            rules,
            retention,
            over: tokio::sync::Notify::new(),
            lock: Mutex::new(()),
            recorded: tokio::sync::watch::channel(0).0,
            feeds: FeedStatuses::new(),
        }
    }

    /// How the county's RSS/Atom feeds fare (the pull workers write it).
    pub fn feeds(&self) -> &Arc<FeedStatuses> {
        &self.feeds
    }

    /// The watch rules in force.
    pub fn rules(&self) -> &WatchRules {
        &self.rules
    }

    /// How long items are kept after their last sighting, in days.
    pub fn retention_days(&self) -> u32 {
        self.retention.days
    }

    /// Changes whenever a batch was recorded (live pages follow it).
    pub fn recorded(&self) -> tokio::sync::watch::Receiver<u64> {
        self.recorded.subscribe()
    }

    /// Records `batch` with one commit; each observation's result in order. A store failure
    /// fails the whole batch (nothing of it is kept).
    pub fn record(
        &self,
        batch: Vec<Observation>,
        now_ms: i64,
    ) -> Result<Vec<Result<Recorded, IntakeError>>, StoreError> {
        let asked = std::time::Instant::now();
        let _one_at_a_time = self.lock.lock().map_err(|_| poisoned())?;
        let started = std::time::Instant::now();
        let observations = batch.len();
        let mut staged = crate::store::Batch::new();
        let mut results = Vec::with_capacity(batch.len());
        for obs in batch {
            match store::record_in(&mut staged, self.store.as_ref(), obs, &self.rules, now_ms) {
                Err(IntakeError::Store(e)) => return Err(e),
                r => results.push(r),
            }
        }
        let staged_at = std::time::Instant::now();
        self.store.commit(&staged)?;
        self.recorded.send_modify(|n| *n += 1);
        if results.iter().any(|r| matches!(r, Ok(Recorded::New(_))))
            && store::items_held(self.store.as_ref())?
                > self.retention.max_items + self.retention.slack()
        {
            self.over.notify_one();
        }
        // What a batch costs, for profiling (`RUST_LOG=fenghuo_node::services::intake_desk=debug`).
        tracing::debug!(
            observations,
            waited_us = (started - asked).as_micros() as u64,
            staged_us = (staged_at - started).as_micros() as u64,
            committed_us = staged_at.elapsed().as_micros() as u64,
            "intake batch recorded"
        );
        Ok(results)
    }

    /// Removes items past the retention, then the least recently seen beyond `max_items`;
    /// how many of each.
    pub fn purge(&self, now_ms: i64) -> Result<(usize, usize), StoreError> {
        let _one_at_a_time = self.lock.lock().map_err(|_| poisoned())?;
        let expired = store::purge(self.store.as_ref(), now_ms, self.retention.days)?;
        let trimmed = store::trim(self.store.as_ref(), self.retention.max_items)?;
        Ok((expired, trimmed))
    }

    /// The item `id` with what promoting it would suggest.
    pub fn suggestion(&self, item: &Item, standard: &GradingStandard) -> Suggestion {
        suggest(
            item,
            &standard.engagement_scale(),
            crate::timespec::short_time,
        )
    }

    /// Makes open item `id` a new risk of the register, written as `author`.
    pub async fn promote(
        &self,
        writer: &Writer,
        standard: &GradingStandard,
        author: &str,
        id: u64,
        p: Promotion,
        now_ms: i64,
    ) -> Result<Outcome, DeskError> {
        let item = store::open_item(self.store.as_ref(), id)?;
        let s = self.suggestion(&item, standard);
        let focus = p.focus.or(s.focus).ok_or(DeskError::NoFocus(id))?;
        let scores = match p.influence {
            Some(influence) => {
                let scores = Scores {
                    influence,
                    attention: p.attention.unwrap_or(s.attention),
                    diffusion: p.diffusion.unwrap_or(s.diffusion),
                };
                for (name, v) in [
                    ("influence", scores.influence),
                    ("attention", scores.attention),
                    ("diffusion", scores.diffusion),
                ] {
                    if !(1..=5).contains(&v) {
                        return Err(DeskError::Score(name));
                    }
                }
                Some(scores)
            }
            None => None,
        };
        let or = |given: String, suggested: String| {
            if given.trim().is_empty() {
                suggested
            } else {
                given
            }
        };
        let created = writer
            .submit(
                author.to_owned(),
                register::Command::Create {
                    title: or(p.title, s.title),
                    description: or(p.description, s.description),
                    focus: Some(focus),
                    source: s.source,
                    behaviours: p.behaviours.unwrap_or(s.behaviours),
                    department: p.department,
                },
            )
            .await?;
        let risk = created.id;
        if let Some(scores) = scores {
            // The risk exists now: a refused grade leaves it to be graded on its page.
            if let Err(e) = writer
                .submit(
                    author.to_owned(),
                    register::Command::Grade {
                        id: risk.clone(),
                        scores,
                        override_level: None,
                        reason: String::new(),
                    },
                )
                .await
            {
                tracing::warn!(%risk, error = %e, "promoted risk not graded");
            }
        }
        let item = self.decide(
            id,
            Triage::Promoted {
                risk: risk.clone(),
                by: author.to_owned(),
                at_ms: now_ms,
            },
        )?;
        tracing::info!(item = id, %risk, %author, "intake item promoted");
        Ok(Outcome {
            item,
            risk,
            propose: None,
        })
    }

    /// Joins open item `id` to risk `risk` of this county: a situation note with the
    /// sighting and its figures; proposes a re-grade when the figures rose past the grade.
    #[allow(clippy::too_many_arguments)]
    pub async fn attach(
        &self,
        writer: &Writer,
        standard: &GradingStandard,
        county: &str,
        author: &str,
        id: u64,
        risk: &str,
        note: &str,
        now_ms: i64,
    ) -> Result<Outcome, DeskError> {
        let item = store::open_item(self.store.as_ref(), id)?;
        let record = register_read::risk(self.store.as_ref(), risk)?;
        if record.origin != county {
            return Err(DeskError::NotOurs {
                risk: risk.to_owned(),
                origin: record.origin,
                county: county.to_owned(),
            });
        }
        let s = self.suggestion(&item, standard);
        let e = &item.engagement;
        let mut text = format!(
            "舆情采集第 {id} 条：{} {} {}；{} 首次发现，共 {} 次；阅读 {}、转发 {}、评论 {}、点赞 {}（{}）。",
            item.platform,
            item.account,
            item.url,
            crate::timespec::short_time(item.first_seen_ms),
            item.sightings,
            e.views,
            e.reposts,
            e.comments,
            e.likes,
            crate::timespec::short_time(item.engagement_at_ms),
        );
        if !note.trim().is_empty() {
            text = format!("{}\n{text}", note.trim());
        }
        writer
            .submit(
                author.to_owned(),
                register::Command::Note {
                    id: risk.to_owned(),
                    note: text,
                    scores: None,
                    override_level: None,
                    reason: String::new(),
                },
            )
            .await?;
        let propose = record.grade.as_ref().and_then(|g| {
            let rose = s.attention > g.scores.attention || s.diffusion > g.scores.diffusion;
            rose.then(|| {
                (
                    s.attention.max(g.scores.attention),
                    s.diffusion.max(g.scores.diffusion),
                )
            })
        });
        let item = self.decide(
            id,
            Triage::Attached {
                risk: risk.to_owned(),
                by: author.to_owned(),
                at_ms: now_ms,
            },
        )?;
        tracing::info!(item = id, %risk, %author, "intake item attached");
        Ok(Outcome {
            item,
            risk: risk.to_owned(),
            propose,
        })
    }

    /// Decides open item `id` is not a risk.
    pub fn dismiss(
        &self,
        author: &str,
        id: u64,
        reason: &str,
        now_ms: i64,
    ) -> Result<Outcome, DeskError> {
        if reason.trim().is_empty() {
            return Err(TriageError::NoReason.into());
        }
        let reason = check::typed("reason", reason, check::MAX_NOTE, check::Lines::Many)?;
        let item = self.decide(
            id,
            Triage::Dismissed {
                reason,
                by: author.to_owned(),
                at_ms: now_ms,
            },
        )?;
        tracing::info!(item = id, %author, "intake item dismissed");
        Ok(Outcome {
            item,
            risk: String::new(),
            propose: None,
        })
    }

    fn decide(&self, id: u64, triage: Triage) -> Result<Item, DeskError> {
        let _one_at_a_time = self.lock.lock().map_err(|_| DeskError::Poisoned)?;
        Ok(store::decide(self.store.as_ref(), id, triage)?)
    }

    /// The rates of `county` over the `days` days before `now_ms` (docs/intake.md).
    pub fn rates(&self, county: &str, days: u32, now_ms: i64) -> Result<Rates, StoreError> {
        rates(self.store.as_ref(), county, days, now_ms)
    }
}

fn poisoned() -> StoreError {
    StoreError::Backend("the intake desk's lock was poisoned by an earlier panic".into())
}

/// The collection and discovery rates of a county over a period (docs/intake.md): the
/// figures it publishes to the province, and whose they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Rates {
    /// The county.
    pub county: String,
    /// The figures.
    pub counts: IntakeCounts,
}

fn median(mut v: Vec<i64>) -> i64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    v[v.len() / 2]
}

/// Computes [`Rates`] from the register's view and the intake's decisions.
pub fn rates(store: &dyn Store, county: &str, days: u32, now_ms: i64) -> Result<Rates, StoreError> {
    let days = days.max(1);
    let from_ms = now_ms.saturating_sub(i64::from(days) * DAY_MS);
    let decisions = store::decisions_since(store, from_ms)?;
    let mut r = IntakeCounts {
        days,
        from_ms,
        to_ms: now_ms,
        open: store::open_counts(store, OPEN_COUNT_CAP)?.0,
        ..IntakeCounts::default()
    };
    let mut from_intake = std::collections::HashSet::new();
    let mut triage_times = Vec::new();
    for d in &decisions {
        match d.kind.as_str() {
            "promoted" => {
                r.promoted += 1;
                from_intake.insert(d.risk.clone());
            }
            "attached" => r.attached += 1,
            _ => r.dismissed += 1,
        }
        triage_times.push(d.at_ms.saturating_sub(d.first_seen_ms).max(0));
    }
    r.triage_median_ms = median(triage_times);

    let filter = register_read::Filter {
        origin: Some(county.to_owned()),
        ..register_read::Filter::default()
    };
    let mut leads = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page =
            register_read::list(store, &filter, register_read::MAX_LIMIT, cursor.as_deref())?;
        for risk in &page.risks {
            if risk.created_at_ms < from_ms || risk.created_at_ms > now_ms {
                continue;
            }
            r.risks += 1;
            if from_intake.contains(&risk.id) {
                r.risks_from_intake += 1;
            }
            let Some(key) = source_key(&risk.source) else {
                continue;
            };
            let earliest_other = linked::members(store, &key)?
                .into_iter()
                .filter(|(origin, _)| origin != county)
                .filter_map(|(_, id)| register_read::find(store, &id).ok().flatten())
                .map(|other| other.created_at_ms)
                .min();
            if let Some(other) = earliest_other {
                r.contested += 1;
                if risk.created_at_ms < other {
                    r.found_first += 1;
                    leads.push(other - risk.created_at_ms);
                }
            }
        }
        match page.next_cursor {
            Some(c) if !page.risks.is_empty() => cursor = Some(c),
            _ => break,
        }
    }
    r.lead_median_ms = median(leads);
    Ok(Rates {
        county: county.to_owned(),
        counts: r,
    })
}

/// How often expired items are purged.
const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// The `intake-purge` worker: purges expired items, and trims to `max_items`, at start,
/// hourly and whenever recording goes past `max_items`, until `stop`.
pub async fn run_purge(
    desk: Arc<IntakeDesk>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), StoreError> {
    loop {
        let purging = desk.clone();
        let now = crate::timespec::now_ms();
        let (expired, trimmed) = tokio::task::spawn_blocking(move || purging.purge(now))
            .await
            .map_err(|e| StoreError::Backend(format!("intake purge: {e}")))??;
        if expired > 0 {
            tracing::info!(
                removed = expired,
                days = desk.retention.days,
                "expired intake items purged"
            );
        }
        if trimmed > 0 {
            // Worth a warning: items went before their retention ran out.
            tracing::warn!(
                removed = trimmed,
                max_items = desk.retention.max_items,
                "intake holds more than [intake] max_items: the least recently seen items purged"
            );
        }
        tokio::select! {
            _ = tokio::time::sleep(PURGE_EVERY) => {}
            _ = desk.over.notified() => {}
            _ = stop.changed() => return Ok(()),
        }
        if *stop.borrow() {
            return Ok(());
        }
    }
}

/// The `intake-record` worker: records what the feed pollers hand over, one batch at a
/// time, until every poller has stopped (their senders are dropped).
pub async fn run_recorder(
    desk: Arc<IntakeDesk>,
    mut batches: tokio::sync::mpsc::Receiver<Vec<Observation>>,
) -> Result<(), StoreError> {
    while let Some(batch) = batches.recv().await {
        let recording = desk.clone();
        let now = crate::timespec::now_ms();
        let results = tokio::task::spawn_blocking(move || recording.record(batch, now))
            .await
            .map_err(|e| StoreError::Backend(format!("intake recording: {e}")))??;
        let mut counts = BatchCounts::default();
        results.iter().for_each(|r| counts.add(r));
        tracing::debug!(?counts, "feed observations recorded");
    }
    Ok(())
}

/// The period the figures published to the province cover, in days.
pub const PUBLISHED_DAYS: u32 = 30;

/// The `intake-publish` worker: every `every`, counts the county's figures over the last
/// [`PUBLISHED_DAYS`] days and, when they changed, writes them in its province feed (counts
/// only), until `stop`.
pub async fn run_publisher(
    desk: Arc<IntakeDesk>,
    writer: Writer,
    county: String,
    author: String,
    every: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), DeskError> {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return Ok(()),
        }
        if *stop.borrow() {
            return Ok(());
        }
        let counting = desk.clone();
        let unit = county.clone();
        let now = crate::timespec::now_ms();
        let rates = tokio::task::spawn_blocking(move || counting.rates(&unit, PUBLISHED_DAYS, now))
            .await
            .map_err(|e| StoreError::Backend(format!("intake counts: {e}")))??;
        let written = writer
            .submit(
                author.clone(),
                crate::intake::counts::PublishCounts(rates.counts),
            )
            .await?;
        if written.seq != 0 {
            tracing::info!(
                seq = written.seq,
                "intake figures published to the province"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::observation::tests::seen;
    use crate::store::SledStore;
    use crate::timespec::now_ms;

    #[tokio::test]
    async fn recording_past_max_items_wakes_the_purge_worker_which_trims() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        let retention = Retention {
            days: 90,
            max_items: 5,
        };
        let desk = Arc::new(IntakeDesk::new(
            store.clone(),
            WatchRules::default(),
            retention,
        ));
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        let worker = tokio::spawn(run_purge(desk.clone(), stop));
        // The worker purges by this machine's clock.
        let now = now_ms();
        let batch = |from: i64| {
            (from..from + 4)
                .map(|i| {
                    let mut o = seen(
                        &format!("https://a.example/{i}"),
                        &format!("第{i}条帖子,内容足够长了"),
                    );
                    o.captured_at_ms = now - 100_000 + i * 1000;
                    o
                })
                .collect::<Vec<_>>()
        };
        // Let the worker's pass at start go by (with nothing to do), so what trims below is
        // the wake-up, not that pass (next one in an hour).
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        // 4 and then 8 items: within the slack (one past 5), then past it.
        desk.record(batch(0), now).unwrap();
        desk.record(batch(4), now).unwrap();
        let mut held = 0;
        for _ in 0..100 {
            held = store::items_held(store.as_ref()).unwrap();
            if held == 5 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(held, 5);
        let kept: Vec<String> = store::newest(store.as_ref(), 10)
            .unwrap()
            .into_iter()
            .map(|i| i.url)
            .collect();
        assert_eq!(kept.last().map(String::as_str), Some("https://a.example/3"));
        stop_tx.send(true).unwrap();
        worker.await.unwrap().unwrap();
    }
}
