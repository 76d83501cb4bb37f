//! The register view: risk events applied to stored risk records, incrementally, as entries
//! are committed (see [`crate::dispatch`] for catch-up and rebuild).
//!
//! Trees: `riskid_risk` (`<origin>-` + number as u64 BE → JSON [`RiskRecord`]) and
//! `view_meta` (`next_risk/<origin>` → last risk number).
//!
//! A risk's events go to its origin's feed for the risk's scope. Widening the scope writes a
//! full snapshot to the wider feed first, so a receiver of that feed alone has the whole
//! risk; an event from a narrower feed than the record's scope is older than that snapshot
//! (already included in it) and is skipped, whatever order the feeds arrive in.

use std::fmt::Write as _;

use crate::counters;
use crate::domain::risk::{check_close, check_transition, Closure, TransitionFacts};
use crate::domain::RiskStatus;
use crate::event::{EntryMeta, Event};
use crate::store::{Batch, Read, Store, StoreError};

use super::record::{
    ClosureRecord, GradeRecord, HistoryItem, MeasureRecord, RiskRecord, RECORD_FORMAT,
};
use super::RegisterError;

/// Tree of risk records (without their history).
pub const RISKS_TREE: &str = "riskid_risk";
/// The history action of a closure (resolved or ruled out).
pub const CLOSED: &str = "closed";
/// Tree of history items: risk key ‖ u64be(rev) → JSON [`HistoryItem`].
pub(crate) const HISTORY_TREE: &str = "riskid_history";

/// A risk as it was before an event and as the event left it (for the views that count
/// risks, which the dispatcher updates).
#[derive(Debug)]
pub(crate) struct RiskChange {
    /// The record before, if the risk existed.
    pub before: Option<RiskRecord>,
    /// The record after (its history holds only the new item).
    pub after: RiskRecord,
}

/// Splits `510104-17` into (`510104`, 17).
pub(crate) fn parse_risk_id(id: &str) -> Option<(&str, u64)> {
    let (origin, n) = id.rsplit_once('-')?;
    let n: u64 = n.parse().ok()?;
    if origin.is_empty() || !origin.bytes().all(|b| b.is_ascii_digit()) || n == 0 {
        return None;
    }
    Some((origin, n))
}

/// The store key of a risk id (ordered by origin, then number).
pub(crate) fn risk_key(id: &str) -> Option<Vec<u8>> {
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

/// The number the next risk created by `unit` gets.
pub(crate) fn next_risk_number(src: &(impl Read + ?Sized), unit: &str) -> Result<u64, StoreError> {
    Ok(counters::last(src, &counter_key(unit))? + 1)
}

/// The record of `id`, if the view has it.
pub fn load(src: &(impl Read + ?Sized), id: &str) -> Result<Option<RiskRecord>, RegisterError> {
    let Some(key) = risk_key(id) else {
        return Ok(None);
    };
    match src.value(RISKS_TREE, &key)? {
        None => Ok(None),
        Some(v) => decode(id, v).map(Some),
    }
}

thread_local! {
    /// The record last decoded on this thread and the bytes it came from. A command reads its
    /// risk several times (its checks, then the view update), and decoding the JSON each time
    /// was a tenth of the writer's work. Keyed by the bytes themselves, so never stale.
    static LAST_DECODED: std::cell::RefCell<Option<(Vec<u8>, RiskRecord)>> =
        const { std::cell::RefCell::new(None) };
}

fn decode(id: &str, bytes: Vec<u8>) -> Result<RiskRecord, RegisterError> {
    let known = LAST_DECODED.with_borrow(|last| {
        last.as_ref()
            .filter(|(b, _)| *b == bytes)
            .map(|(_, r)| r.clone())
    });
    if let Some(record) = known {
        return Ok(record);
    }
    let record: RiskRecord = serde_json::from_slice(&bytes)
        .map_err(|e| StoreError::Backend(format!("corrupt risk record {id}: {e}")))?;
    LAST_DECODED.with_borrow_mut(|last| *last = Some((bytes, record.clone())));
    Ok(record)
}

/// The record of `id` (without history), or `RiskNotFound`.
pub(crate) fn load_existing(
    src: &(impl Read + ?Sized),
    id: &str,
) -> Result<RiskRecord, RegisterError> {
    load(src, id)?.ok_or_else(|| RegisterError::RiskNotFound(id.to_owned()))
}

/// The record of `id` with its whole history, or `RiskNotFound`.
pub fn load_full(src: &(impl Read + ?Sized), id: &str) -> Result<RiskRecord, RegisterError> {
    let mut r = load_existing(src, id)?;
    fill_history(src, &mut r)?;
    Ok(r)
}

/// The record of `id` with only the history items after revision `after` (what write calls
/// answer with: the changes the write made, at a cost that does not grow with the history),
/// or `RiskNotFound`.
pub(crate) fn load_since(
    src: &(impl Read + ?Sized),
    id: &str,
    after: u64,
) -> Result<RiskRecord, RegisterError> {
    let mut r = load_existing(src, id)?;
    for rev in after + 1..=r.revs {
        let Some(key) = history_key(&r.id, rev) else {
            break;
        };
        if let Some(v) = src.value(HISTORY_TREE, &key)? {
            let item: HistoryItem = serde_json::from_slice(&v).map_err(|e| {
                StoreError::Backend(format!("corrupt history item of {}: {e}", r.id))
            })?;
            r.history.push(item);
        }
    }
    Ok(r)
}

/// Reads `r`'s history into it.
pub(crate) fn fill_history(
    src: &(impl Read + ?Sized),
    r: &mut RiskRecord,
) -> Result<(), RegisterError> {
    let Some(mut prefix) = risk_key(&r.id) else {
        return Ok(());
    };
    prefix.push(0);
    let mut history = Vec::new();
    for (_, v) in src.with_prefix(HISTORY_TREE, &prefix)? {
        let item: HistoryItem = serde_json::from_slice(&v)
            .map_err(|e| StoreError::Backend(format!("corrupt history item of {}: {e}", r.id)))?;
        history.push(item);
    }
    r.history = history;
    Ok(())
}

fn history_key(id: &str, rev: u64) -> Option<Vec<u8>> {
    let mut k = risk_key(id)?;
    k.push(0);
    k.extend_from_slice(&rev.to_be_bytes());
    Some(k)
}

/// Stages `record`; its history items go to their own tree, not into the record.
fn save(batch: &mut Batch, record: &RiskRecord) -> Result<(), RegisterError> {
    let malformed = || RegisterError::field("id", "malformed risk id");
    let encode = |e: serde_json::Error| StoreError::Backend(format!("encoding risk record: {e}"));
    let key = risk_key(&record.id).ok_or_else(malformed)?;
    for item in &record.history {
        let hk = history_key(&record.id, item.rev).ok_or_else(malformed)?;
        batch.insert(HISTORY_TREE, hk, serde_json::to_vec(item).map_err(encode)?);
    }
    let bare = RiskRecord {
        history: Vec::new(),
        ..record.clone()
    };
    batch.insert(RISKS_TREE, key, serde_json::to_vec(&bare).map_err(encode)?);
    Ok(())
}

/// Keeps `next_risk/<unit>` at least at the number of `id`, so new ids never collide.
fn bump_counter(
    store: &dyn Store,
    batch: &mut Batch,
    unit: &str,
    id: &str,
) -> Result<(), StoreError> {
    let n = parse_risk_id(id).map(|(_, n)| n).unwrap_or(0);
    counters::raise(store, batch, counter_key(unit), n)
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
    if risk.status.is_closed() {
        return Err(RegisterError::Precondition(format!(
            "risk {} is {}; reopen it (set-status monitoring) before {what}",
            risk.id, risk.status
        )));
    }
    Ok(())
}

fn find_measure<'a>(
    r: &'a mut RiskRecord,
    measure_id: &str,
) -> Result<&'a mut MeasureRecord, RegisterError> {
    let id = r.id.clone();
    r.measures
        .iter_mut()
        .find(|m| m.id == measure_id)
        .ok_or_else(|| RegisterError::MeasureNotFound {
            risk: id,
            measure: measure_id.to_owned(),
        })
}

/// Applies `event` to the view in `batch`. Checks first and stages nothing on error, so a
/// refused command leaves the batch as it was.
pub(crate) fn apply(
    store: &dyn Store,
    batch: &mut Batch,
    meta: &EntryMeta,
    event: &Event,
) -> Result<Option<RiskChange>, RegisterError> {
    let Some(id) = event.risk_id() else {
        return Ok(None);
    };
    match parse_risk_id(id) {
        Some((origin, _)) if origin == meta.unit => {}
        _ => {
            return Err(RegisterError::Precondition(format!(
                "event about risk {id:?} does not belong to origin {}",
                meta.unit
            )))
        }
    }
    if let Event::RiskShared {
        id,
        scope,
        reason,
        snapshot,
        counties,
    } = event
    {
        let existing = load(&batch.over(store), id)?;
        if let Some(r) = existing
            .as_ref()
            .filter(|r| r.scope.breadth() >= scope.breadth())
        {
            // Already this wide: a replay, or the same snapshot by another path, unless it
            // names counties the risk was not yet shared with.
            let new: Vec<&String> = counties
                .iter()
                .filter(|c| !r.shared_with.contains(c))
                .collect();
            // An open share below a scope a named share reached: it widens who is meant.
            let opens = counties.is_empty() && r.openly().breadth() < scope.breadth();
            if new.is_empty() && !opens {
                return Ok(None);
            }
            let mut record = r.clone();
            record.shared_with.extend(new.iter().map(|c| (*c).clone()));
            if opens {
                record.open_scope = Some(*scope).filter(|s| s.breadth() < r.scope.breadth());
            }
            record.updated_at_ms = meta.at_ms;
            record.history.clear();
            record.revs += 1;
            let named: Vec<&str> = new.iter().map(|c| c.as_str()).collect();
            record.history.push(HistoryItem {
                rev: record.revs,
                feed: meta.audience,
                seq: meta.seq,
                at_ms: meta.at_ms,
                author: meta.author.clone(),
                action: "shared".to_owned(),
                summary: if opens {
                    format!("shared with {scope}")
                } else {
                    format!("shared with counties {}", named.join(", "))
                },
            });
            save(batch, &record)?;
            return Ok(Some(RiskChange {
                before: existing,
                after: record,
            }));
        }
        if snapshot.id != *id || snapshot.origin != meta.unit {
            return Err(RegisterError::Precondition(format!(
                "snapshot of {} from {} does not match risk {id}",
                snapshot.id, snapshot.origin
            )));
        }
        let mut record = RiskRecord::from(&**snapshot);
        record.scope = *scope;
        for c in counties {
            if !record.shared_with.contains(c) {
                record.shared_with.push(c.clone());
            }
        }
        // Widened for named counties only: who else holds the feed is not meant to read it.
        record.open_scope = if counties.is_empty() {
            None
        } else {
            Some(snapshot.open_scope.unwrap_or(snapshot.scope))
        };
        record.updated_at_ms = meta.at_ms;
        // Number the snapshot's history as the origin did (older records may lack revs).
        for (i, item) in record.history.iter_mut().enumerate() {
            item.rev = i as u64 + 1;
        }
        record.revs = record.history.len() as u64 + 1;
        let why = if reason.is_empty() {
            String::new()
        } else {
            format!(" ({reason})")
        };
        record.history.push(HistoryItem {
            rev: record.revs,
            feed: meta.audience,
            seq: meta.seq,
            at_ms: meta.at_ms,
            author: meta.author.clone(),
            action: "shared".to_owned(),
            summary: if counties.is_empty() {
                format!("shared with {scope}{why}")
            } else {
                format!("shared with counties {}{why}", counties.join(", "))
            },
        });
        bump_counter(store, batch, &meta.unit, id)?;
        save(batch, &record)?;
        return Ok(Some(RiskChange {
            before: existing,
            after: record,
        }));
    }
    let before = load(&batch.over(store), id)?;
    if let Some(existing) = &before {
        if meta.audience.breadth() < existing.scope.breadth() {
            // Older than the snapshot that widened the risk, and included in it.
            return Ok(None);
        }
    }
    let (record, action, summary) = match event {
        // Not about a risk (the `risk_id` check above returned already).
        Event::RiskShared { .. }
        | Event::IntakeCounted { .. }
        | Event::NeighboursDeclared { .. }
        | Event::AlertIssued { .. }
        | Event::AlertUpdated { .. }
        | Event::AlertCancelled { .. }
        | Event::AlertDelivered { .. }
        | Event::AlertAcknowledged { .. }
        | Event::ReportFiled { .. }
        | Event::ReportAcknowledged { .. }
        | Event::DirectiveIssued { .. }
        | Event::DirectiveResponded { .. }
        | Event::PartnerDeclared { .. }
        | Event::CrlPublished { .. }
        | Event::Rekeyed { .. }
        | Event::CertificateListed { .. }
        | Event::DisposalFiled { .. }
        | Event::DisposalWithdrawn { .. }
        | Event::DisposalReviewed { .. }
        | Event::DisposalRelayed { .. }
        | Event::DisposalDelivered { .. }
        | Event::DisposalAcknowledged { .. }
        | Event::DisposalAnswered { .. } => return Ok(None),
        Event::RiskCreated {
            id,
            title,
            description,
            focus,
            source,
            behaviours,
            department,
        } => {
            if load(&batch.over(store), id)?.is_some() {
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
                scope: meta.audience,
                grade: None,
                measures: Vec::new(),
                history: Vec::new(),
                revs: 0,
                created_at_ms: meta.at_ms,
                updated_at_ms: meta.at_ms,
                closure: None,
                shared_with: Vec::new(),
                open_scope: None,
            };
            bump_counter(store, batch, &meta.unit, id)?;
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
            let mut r = load_existing(&batch.over(store), id)?;
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
            override_level,
            reason,
            note,
        } => {
            let mut r = load_existing(&batch.over(store), id)?;
            not_resolved(&r, "re-grading")?;
            let mut summary = match note {
                Some(n) => format!("note: {n}; re-graded "),
                None => "graded ".to_owned(),
            };
            let _ = write!(
                summary,
                "influence {} / attention {} / diffusion {} → level {level} (standard {standard_version})",
                scores.influence, scores.attention, scores.diffusion
            );
            let effective = override_level.unwrap_or(*level);
            if let Some(set) = override_level {
                let _ = write!(
                    summary,
                    "; set to level {set} {} by the officer (computed {level}): {reason}",
                    set.label_zh()
                );
            }
            if let Some(old) = r.level() {
                if old != effective {
                    let _ = write!(summary, "; level {old} → {effective}");
                }
            }
            r.grade = Some(GradeRecord {
                scores: *scores,
                level: *level,
                standard_version: standard_version.clone(),
                graded_at_ms: meta.at_ms,
                graded_by: meta.author.clone(),
                override_level: *override_level,
                reason: reason.clone(),
            });
            if r.status == RiskStatus::Identified {
                r.status = RiskStatus::Graded;
                summary.push_str("; status identified → graded");
            }
            let action = if note.is_some() { "noted" } else { "graded" };
            (r, action, summary)
        }
        Event::RiskNoted { id, note } => {
            // A note is kept whatever the status: what happens after a risk is closed is
            // worth writing down too.
            let r = load_existing(&batch.over(store), id)?;
            (r, "noted", format!("note: {note}"))
        }
        Event::MeasureAdded {
            id,
            measure_id,
            action,
            owner,
            due,
        } => {
            let mut r = load_existing(&batch.over(store), id)?;
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
                note: String::new(),
                overdue: false,
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
            note,
        } => {
            let mut r = load_existing(&batch.over(store), id)?;
            let m = find_measure(&mut r, measure_id)?;
            if m.status == *status {
                return Err(RegisterError::Precondition(format!(
                    "measure {measure_id} is already {}",
                    status.as_str()
                )));
            }
            let mut summary = format!(
                "{measure_id}: {} → {} {}",
                m.status.as_str(),
                status.as_str(),
                status.label_zh()
            );
            if !note.is_empty() {
                let what = if *status == crate::domain::MeasureStatus::Cancelled {
                    "reason"
                } else {
                    "note"
                };
                let _ = write!(summary, "; {what}: {note}");
            }
            m.status = *status;
            m.note = note.clone();
            (r, "measure-updated", summary)
        }
        Event::MeasureEdited {
            id,
            measure_id,
            action,
            owner,
            due,
        } => {
            let mut r = load_existing(&batch.over(store), id)?;
            not_resolved(&r, "editing a measure")?;
            let m = find_measure(&mut r, measure_id)?;
            let mut changes = Vec::new();
            change(&mut changes, "action", &mut m.action, action.clone());
            change(&mut changes, "owner", &mut m.owner, owner.clone());
            change(&mut changes, "due", &mut m.due, due.clone());
            let summary = if changes.is_empty() {
                format!("{measure_id}: no change")
            } else {
                format!("{measure_id}: {}", changes.join("; "))
            };
            (r, "measure-edited", summary)
        }
        Event::StatusSet { id, status } => {
            let mut r = load_existing(&batch.over(store), id)?;
            check_transition(
                r.status,
                *status,
                TransitionFacts {
                    graded: r.grade.is_some(),
                    has_measures: !r.measures.is_empty(),
                },
            )?;
            let mut summary = format!("status {} → {}", r.status, status);
            if r.status.is_closed() {
                // Reopened: the closure stays in the history, not on the record.
                summary.push_str(" (reopened)");
                r.closure = None;
            }
            r.status = *status;
            (r, "status-set", summary)
        }
        Event::RiskClosed { id, closure, text } => {
            let mut r = load_existing(&batch.over(store), id)?;
            check_close(r.status, *closure, &r.open_measures())?;
            let to = closure.status();
            let what = match closure {
                Closure::Resolved => format!("resolved {}: {text}", to.label_zh()),
                Closure::RuledOut => {
                    format!("ruled out {} (false alarm 误报): {text}", to.label_zh())
                }
            };
            let summary = format!("{what}; status {} → {to}", r.status);
            r.status = to;
            r.closure = Some(ClosureRecord {
                closure: *closure,
                text: text.clone(),
                at_ms: meta.at_ms,
                by: meta.author.clone(),
            });
            (r, CLOSED, summary)
        }
    };
    let mut record = record;
    record.updated_at_ms = meta.at_ms;
    // Only the new item is staged: the older ones are already in the history tree.
    record.history.clear();
    record.revs += 1;
    record.history.push(HistoryItem {
        rev: record.revs,
        feed: meta.audience,
        seq: meta.seq,
        at_ms: meta.at_ms,
        author: meta.author.clone(),
        action: action.to_owned(),
        summary,
    });
    save(batch, &record)?;
    Ok(Some(RiskChange {
        before,
        after: record,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FocusPoint;
    use crate::feed::Audience;
    use crate::store::SledStore;

    #[test]
    fn a_remembered_decoding_never_hides_a_change() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let mut record = RiskRecord {
            format: RECORD_FORMAT,
            id: "510104-1".into(),
            origin: "510104".into(),
            title: "first".into(),
            description: String::new(),
            focus: FocusPoint::MajorEvent,
            source: String::new(),
            behaviours: vec![],
            department: String::new(),
            status: RiskStatus::Identified,
            scope: Audience::Local,
            grade: None,
            measures: vec![],
            history: vec![],
            revs: 1,
            created_at_ms: 0,
            updated_at_ms: 0,
            closure: None,
            shared_with: Vec::new(),
            open_scope: None,
        };
        let mut batch = Batch::new();
        save(&mut batch, &record).unwrap();
        store.commit(&batch).unwrap();
        assert_eq!(load_existing(&store, "510104-1").unwrap().title, "first");
        assert_eq!(load_existing(&store, "510104-1").unwrap().title, "first");
        // Changed in a batch, then in the store: each read sees the change.
        record.title = "second".into();
        let mut batch = Batch::new();
        save(&mut batch, &record).unwrap();
        assert_eq!(
            load_existing(&batch.over(&store), "510104-1")
                .unwrap()
                .title,
            "second"
        );
        assert_eq!(load_existing(&store, "510104-1").unwrap().title, "first");
        store.commit(&batch).unwrap();
        assert_eq!(load_existing(&store, "510104-1").unwrap().title, "second");
    }
}
