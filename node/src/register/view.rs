//! The register view: events applied to stored risk records, incrementally, as entries are
//! committed; and rebuilt from the feeds when the view is missing or of an older format.
//!
//! Trees: `riskid_risk` (`<origin>-` + number as u64 BE → JSON [`RiskRecord`]) and
//! `view_meta` (`applied/<feed>` → last seq applied; `next_risk/<origin>` → last risk
//! number; `format` → view format).

use std::fmt::Write as _;

use crate::domain::risk::{check_transition, TransitionFacts};
use crate::domain::RiskStatus;
use crate::event::Event;
use crate::feed::{self, FeedId};
use crate::store::{Batch, Store, StoreError};

use super::record::{GradeRecord, HistoryItem, MeasureRecord, RiskRecord, RECORD_FORMAT};
use super::RegisterError;

/// Tree of risk records.
pub const RISKS_TREE: &str = "riskid_risk";
/// Tree of view bookkeeping.
pub const META_TREE: &str = "view_meta";
/// Bump to make every node rebuild its views from the feeds at start.
const VIEW_FORMAT: u32 = 1;
const FORMAT_KEY: &[u8] = b"format";
const CATCH_UP_CHUNK: usize = 1000;

/// Facts about the entry being applied.
#[derive(Debug, Clone)]
pub struct EntryMeta {
    /// Division code of the origin (from `county/510104`).
    pub unit: String,
    /// Sequence number in its feed.
    pub seq: u64,
    /// Timestamp, Unix ms.
    pub at_ms: i64,
    /// Identity path of the author.
    pub author: String,
}

impl EntryMeta {
    /// The facts of a feed entry.
    pub fn of(entry: &feed::Entry) -> Self {
        Self {
            unit: entry
                .origin
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned(),
            seq: entry.seq,
            at_ms: entry.timestamp_ms,
            author: entry.author.clone(),
        }
    }
}

/// Splits `510104-17` into (`510104`, 17).
pub fn parse_risk_id(id: &str) -> Option<(&str, u64)> {
    let (origin, n) = id.rsplit_once('-')?;
    let n: u64 = n.parse().ok()?;
    if origin.is_empty() || !origin.bytes().all(|b| b.is_ascii_digit()) || n == 0 {
        return None;
    }
    Some((origin, n))
}

/// The store key of a risk id (ordered by origin, then number).
pub fn risk_key(id: &str) -> Option<Vec<u8>> {
    let (origin, n) = parse_risk_id(id)?;
    let mut k = Vec::with_capacity(origin.len() + 9);
    k.extend_from_slice(origin.as_bytes());
    k.push(b'-');
    k.extend_from_slice(&n.to_be_bytes());
    Some(k)
}

fn counter_key(unit: &str) -> Vec<u8> {
    format!("next_risk/{unit}").into_bytes()
}

fn applied_key(feed: &FeedId) -> Vec<u8> {
    format!("applied/{feed}").into_bytes()
}

fn read_u64(v: Option<Vec<u8>>) -> u64 {
    v.and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

/// The number the next risk created by `unit` gets.
pub fn next_risk_number(store: &dyn Store, batch: &Batch, unit: &str) -> Result<u64, StoreError> {
    Ok(read_u64(batch.get(store, META_TREE, &counter_key(unit))?) + 1)
}

/// The record of `id`, if the view has it.
pub fn load(
    store: &dyn Store,
    batch: &Batch,
    id: &str,
) -> Result<Option<RiskRecord>, RegisterError> {
    let Some(key) = risk_key(id) else {
        return Ok(None);
    };
    match batch.get(store, RISKS_TREE, &key)? {
        None => Ok(None),
        Some(v) => serde_json::from_slice(&v)
            .map(Some)
            .map_err(|e| StoreError::Backend(format!("corrupt risk record {id}: {e}")).into()),
    }
}

/// The record of `id`, or `RiskNotFound`.
pub fn load_existing(
    store: &dyn Store,
    batch: &Batch,
    id: &str,
) -> Result<RiskRecord, RegisterError> {
    load(store, batch, id)?.ok_or_else(|| RegisterError::RiskNotFound(id.to_owned()))
}

fn save(batch: &mut Batch, record: &RiskRecord) -> Result<(), RegisterError> {
    let key =
        risk_key(&record.id).ok_or_else(|| RegisterError::field("id", "malformed risk id"))?;
    let value = serde_json::to_vec(record)
        .map_err(|e| StoreError::Backend(format!("encoding risk record: {e}")))?;
    batch.insert(RISKS_TREE, key, value);
    Ok(())
}

fn change<T: PartialEq + std::fmt::Display>(
    out: &mut Vec<String>,
    name: &str,
    old: &mut T,
    new: Option<T>,
) {
    if let Some(new) = new {
        if *old != new {
            out.push(format!("{name}: {old} → {new}"));
            *old = new;
        }
    }
}

fn not_resolved(risk: &RiskRecord, what: &str) -> Result<(), RegisterError> {
    if risk.status == RiskStatus::Resolved {
        return Err(RegisterError::Precondition(format!(
            "risk {} is resolved; reopen it (set-status monitoring) before {what}",
            risk.id
        )));
    }
    Ok(())
}

/// Applies `event` to the view in `batch`. Checks first and stages nothing on error, so a
/// refused command leaves the batch as it was.
pub fn apply(
    store: &dyn Store,
    batch: &mut Batch,
    meta: &EntryMeta,
    event: &Event,
) -> Result<(), RegisterError> {
    let id = event.risk_id();
    match parse_risk_id(id) {
        Some((origin, _)) if origin == meta.unit => {}
        _ => {
            return Err(RegisterError::Precondition(format!(
                "event about risk {id:?} does not belong to origin {}",
                meta.unit
            )))
        }
    }
    let (record, action, summary) = match event {
        Event::RiskCreated {
            id,
            title,
            description,
            focus,
            source,
            behaviours,
            department,
        } => {
            if load(store, batch, id)?.is_some() {
                return Err(RegisterError::Precondition(format!(
                    "risk {id} already exists"
                )));
            }
            let record = RiskRecord {
                format: RECORD_FORMAT,
                id: id.clone(),
                origin: meta.unit.clone(),
                title: title.clone(),
                description: description.clone(),
                focus: *focus,
                source: source.clone(),
                behaviours: behaviours.clone(),
                department: department.clone(),
                status: RiskStatus::Identified,
                grade: None,
                measures: Vec::new(),
                history: Vec::new(),
                created_at_ms: meta.at_ms,
                updated_at_ms: meta.at_ms,
            };
            let n = parse_risk_id(id).map(|(_, n)| n).unwrap_or(0);
            let key = counter_key(&meta.unit);
            if n > read_u64(batch.get(store, META_TREE, &key)?) {
                batch.insert(META_TREE, key, n.to_be_bytes().to_vec());
            }
            let summary = format!("identified: {title} (focus {focus})");
            (record, "created", summary)
        }
        Event::RiskUpdated {
            id,
            title,
            description,
            focus,
            source,
            behaviours,
            department,
        } => {
            let mut r = load_existing(store, batch, id)?;
            let mut changes = Vec::new();
            change(&mut changes, "title", &mut r.title, title.clone());
            change(
                &mut changes,
                "description",
                &mut r.description,
                description.clone(),
            );
            change(&mut changes, "focus", &mut r.focus, *focus);
            change(&mut changes, "source", &mut r.source, source.clone());
            change(
                &mut changes,
                "department",
                &mut r.department,
                department.clone(),
            );
            if let Some(b) = behaviours {
                if *b != r.behaviours {
                    changes.push(format!(
                        "behaviours: [{}] → [{}]",
                        r.behaviours.join(", "),
                        b.join(", ")
                    ));
                    r.behaviours = b.clone();
                }
            }
            let summary = if changes.is_empty() {
                "no change".to_owned()
            } else {
                changes.join("; ")
            };
            (r, "updated", summary)
        }
        Event::RiskGraded {
            id,
            scores,
            level,
            standard_version,
        } => {
            let mut r = load_existing(store, batch, id)?;
            not_resolved(&r, "re-grading")?;
            let mut summary = format!(
                "graded influence {} / attention {} / diffusion {} → level {level} (standard {standard_version})",
                scores.influence, scores.attention, scores.diffusion
            );
            if let Some(old) = r.level() {
                if old != *level {
                    let _ = write!(summary, "; level {old} → {level}");
                }
            }
            r.grade = Some(GradeRecord {
                scores: *scores,
                level: *level,
                standard_version: standard_version.clone(),
                graded_at_ms: meta.at_ms,
                graded_by: meta.author.clone(),
            });
            if r.status == RiskStatus::Identified {
                r.status = RiskStatus::Graded;
                summary.push_str("; status identified → graded");
            }
            (r, "graded", summary)
        }
        Event::MeasureAdded {
            id,
            measure_id,
            action,
            owner,
            due,
        } => {
            let mut r = load_existing(store, batch, id)?;
            not_resolved(&r, "adding measures")?;
            if r.measures.iter().any(|m| m.id == *measure_id) {
                return Err(RegisterError::Precondition(format!(
                    "risk {id} already has measure {measure_id}"
                )));
            }
            r.measures.push(MeasureRecord {
                id: measure_id.clone(),
                action: action.clone(),
                owner: owner.clone(),
                due: due.clone(),
                status: crate::domain::MeasureStatus::Planned,
            });
            let mut summary = format!("{measure_id}: {action} (owner {owner}, due {due})");
            if r.status == RiskStatus::Graded {
                r.status = RiskStatus::MeasuresSet;
                summary.push_str("; status graded → measures-set");
            }
            (r, "measure-added", summary)
        }
        Event::MeasureUpdated {
            id,
            measure_id,
            status,
        } => {
            let mut r = load_existing(store, batch, id)?;
            let m = r
                .measures
                .iter_mut()
                .find(|m| m.id == *measure_id)
                .ok_or_else(|| RegisterError::MeasureNotFound {
                    risk: id.clone(),
                    measure: measure_id.clone(),
                })?;
            if m.status == *status {
                return Err(RegisterError::Precondition(format!(
                    "measure {measure_id} is already {}",
                    status.as_str()
                )));
            }
            let summary = format!("{measure_id}: {} → {}", m.status.as_str(), status.as_str());
            m.status = *status;
            (r, "measure-updated", summary)
        }
        Event::StatusSet { id, status } => {
            let mut r = load_existing(store, batch, id)?;
            check_transition(
                r.status,
                *status,
                TransitionFacts {
                    graded: r.grade.is_some(),
                    has_measures: !r.measures.is_empty(),
                },
            )?;
            let summary = format!("status {} → {}", r.status, status);
            r.status = *status;
            (r, "status-set", summary)
        }
    };
    let mut record = record;
    record.updated_at_ms = meta.at_ms;
    record.history.push(HistoryItem {
        seq: meta.seq,
        at_ms: meta.at_ms,
        author: meta.author.clone(),
        action: action.to_owned(),
        summary,
    });
    save(batch, &record)
}

/// Records that `feed` has been applied up to `seq`.
pub fn mark_applied(batch: &mut Batch, feed: &FeedId, seq: u64) {
    batch.insert(META_TREE, applied_key(feed), seq.to_be_bytes().to_vec());
}

/// Applies every held entry the view has not seen yet (all of them after the view trees are
/// deleted or its format changed). Returns how many entries were applied.
pub fn catch_up(store: &dyn Store) -> Result<u64, StoreError> {
    let format = read_u64(store.get(META_TREE, FORMAT_KEY)?);
    if format != u64::from(VIEW_FORMAT) {
        if format != 0 {
            tracing::info!(
                from = format,
                to = VIEW_FORMAT,
                "view format changed: rebuilding views from feeds"
            );
        }
        clear(store)?;
        let mut b = Batch::new();
        b.insert(
            META_TREE,
            FORMAT_KEY.to_vec(),
            u64::from(VIEW_FORMAT).to_be_bytes().to_vec(),
        );
        store.commit(&b)?;
    }
    let mut total = 0;
    for (feed, head) in feed::log::heads(store)? {
        let mut applied = read_u64(store.get(META_TREE, &applied_key(&feed))?);
        while applied < head.seq {
            let entries = feed::log::read(store, &feed, applied + 1, CATCH_UP_CHUNK)?;
            if entries.is_empty() {
                break;
            }
            let mut batch = Batch::new();
            for e in &entries {
                match Event::decode(&e.payload) {
                    Ok(event) => {
                        if let Err(err) = apply(store, &mut batch, &EntryMeta::of(e), &event) {
                            tracing::warn!(%feed, seq = e.seq, error = %err, "entry not applied to the register view");
                        }
                    }
                    Err(err) => {
                        tracing::warn!(%feed, seq = e.seq, error = %err, "entry payload not understood")
                    }
                }
                applied = e.seq;
                total += 1;
            }
            mark_applied(&mut batch, &feed, applied);
            store.commit(&batch)?;
        }
    }
    store.flush()?;
    Ok(total)
}

/// Deletes the view trees (the feeds stay).
pub fn clear(store: &dyn Store) -> Result<(), StoreError> {
    store.clear(RISKS_TREE)?;
    store.clear(META_TREE)
}

/// Deletes the views and rebuilds them from the feeds.
pub fn rebuild(store: &dyn Store) -> Result<u64, StoreError> {
    clear(store)?;
    catch_up(store)
}
