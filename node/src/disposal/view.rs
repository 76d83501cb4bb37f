//! The disposal view: request events applied to records as entries are committed (see
//! [`crate::dispatch`]). A node holds the requests it filed; the gateway holds every one, the
//! cases that link requests one answer settles (one partner, action and set of URLs), and
//! each partner's outbox.
//!
//! Trees: `disposal_request` (item key → [`DisposalRecord`]), `disposal_evidence` (item key
//! ‖ index → [`EvidenceFile`]), `disposal_case` (partner ‖ 0 ‖ action ‖ 0 ‖ SHA-256 of the URL keys → case id),
//! `disposal_case_member` (case id ‖ 0 ‖ request id), `partner_outbox` (partner ‖ 0 ‖ seq →
//! [`OutboxMessage`], from the gateway's `DisposalRelayed` entries alone, so a rebuild gives
//! the same sequence numbers partners resume from), `partner_directory` (name →
//! [`DirectoryEntry`], from the province's `PartnerDeclared` entries, at every node).

use serde::{Deserialize, Serialize};

use crate::counters;
use crate::domain::item::{ItemId, ItemKind};
use crate::domain::risk::source_key;
use crate::event::{EntryMeta, Event, EvidenceFile};
use crate::store::{Batch, Read, Store, StoreError};

use super::record::{DisposalRecord, EvidenceMeta, OutcomeRecord, State, Step};
use super::DisposalError;

/// Requests.
pub(crate) const REQUESTS_TREE: &str = "disposal_request";
/// Evidence content.
pub(crate) const EVIDENCE_TREE: &str = "disposal_evidence";
/// Cases by partner and URL.
pub(crate) const CASES_TREE: &str = "disposal_case";
/// Requests by case.
pub(crate) const CASE_MEMBERS_TREE: &str = "disposal_case_member";
/// What each partner is to receive, in order.
pub(crate) const OUTBOX_TREE: &str = "partner_outbox";
/// Partners as the province declared them.
pub(crate) const DIRECTORY_TREE: &str = "partner_directory";

/// A partner as every node knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DirectoryEntry {
    /// For people.
    pub display_name: String,
    /// Receives nothing any more.
    pub disabled: bool,
    /// What it handles.
    #[serde(default)]
    pub handles: String,
}

/// One message for a partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxMessage {
    /// The request.
    pub id: String,
    /// The request's withdrawal rather than the request.
    pub withdrawal: bool,
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Backend(format!("corrupt {what}: {e}")))
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Backend(format!("encoding a record: {e}")))
}

fn joined(a: &str, b: &[u8]) -> Vec<u8> {
    let mut k = a.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(b);
    k
}

/// The request `id`, if this node holds it.
pub fn get(src: &(impl Read + ?Sized), id: &str) -> Result<Option<DisposalRecord>, StoreError> {
    let Some(parsed) = ItemId::parse(id).filter(|p| p.kind == ItemKind::Disposal) else {
        return Ok(None);
    };
    src.value(REQUESTS_TREE, &parsed.key())?
        .map(|v| decode(id, &v))
        .transpose()
}

/// Every request this node holds, in id order.
pub(crate) fn list(store: &dyn Store) -> Result<Vec<DisposalRecord>, StoreError> {
    store
        .scan_prefix(REQUESTS_TREE, b"")
        .map(|kv| kv.and_then(|(k, v)| decode(&String::from_utf8_lossy(&k), &v)))
        .collect()
}

/// The files of request `id`, with their content.
pub(crate) fn evidence(store: &dyn Store, id: &str) -> Result<Vec<EvidenceFile>, StoreError> {
    let Some(parsed) = ItemId::parse(id) else {
        return Ok(Vec::new());
    };
    let mut prefix = parsed.key();
    prefix.push(0);
    store
        .scan_prefix(EVIDENCE_TREE, &prefix)
        .map(|kv| kv.and_then(|(_, v)| decode("evidence", &v)))
        .collect()
}

/// The case of request `id` (the id of its case's first request) and every request in it.
pub(crate) fn case(
    store: &dyn Store,
    record: &DisposalRecord,
) -> Result<(String, Vec<String>), StoreError> {
    let case_id = case_of(store, record)?.unwrap_or_else(|| record.id.clone());
    let members = store
        .scan_prefix(CASE_MEMBERS_TREE, &joined(&case_id, b""))
        .map(|kv| kv.map(|(k, _)| String::from_utf8_lossy(&k[case_id.len() + 1..]).into_owned()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((case_id, members))
}

fn url_key(url: &str) -> String {
    source_key(url).unwrap_or_else(|| url.to_owned())
}

/// What makes requests one case: the partner, the action and the set of URLs (each as its
/// source key). Only requests one answer settles share a case: a `label` and a `take-down` of
/// the same URL need two decisions, and so does a request that names one more URL.
fn case_key(r: &DisposalRecord) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut urls: Vec<String> = r.urls.iter().map(|u| url_key(u)).collect();
    urls.sort();
    urls.dedup();
    let mut h = Sha256::new();
    for u in &urls {
        h.update(u.as_bytes());
        h.update([0]);
    }
    let mut k = joined(&r.partner, r.action.as_str().as_bytes());
    k.push(0);
    k.extend_from_slice(&h.finalize());
    k
}

fn case_of(src: &(impl Read + ?Sized), r: &DisposalRecord) -> Result<Option<String>, StoreError> {
    Ok(src
        .value(CASES_TREE, &case_key(r))?
        .map(|v| String::from_utf8_lossy(&v).into_owned()))
}

/// Messages for `partner` after `cursor`, at most `limit`, with their sequence numbers.
pub fn outbox(
    store: &dyn Store,
    partner: &str,
    cursor: u64,
    limit: usize,
) -> Result<Vec<(u64, OutboxMessage)>, StoreError> {
    let start = joined(partner, &(cursor.saturating_add(1)).to_be_bytes());
    let end = joined(partner, &[0xff; 9]);
    let mut out = Vec::new();
    for kv in store.range(OUTBOX_TREE, &start, Some(&end)).take(limit) {
        let (k, v) = kv?;
        let seq = k
            .get(partner.len() + 1..)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0);
        out.push((seq, decode("outbox message", &v)?));
    }
    Ok(out)
}

/// The partner `name` as the province declared it, if it did.
pub(crate) fn directory(
    store: &dyn Store,
    name: &str,
) -> Result<Option<DirectoryEntry>, StoreError> {
    store
        .get(DIRECTORY_TREE, name.as_bytes())?
        .map(|v| decode("partner directory entry", &v))
        .transpose()
}

/// Every partner the province declared, by name: what a county may address (those not
/// disabled).
pub(crate) fn directory_all(
    store: &dyn Store,
) -> Result<Vec<(String, DirectoryEntry)>, StoreError> {
    store
        .scan_prefix(DIRECTORY_TREE, b"")
        .map(|kv| {
            let (k, v) = kv?;
            Ok((
                String::from_utf8_lossy(&k).into_owned(),
                decode("partner directory entry", &v)?,
            ))
        })
        .collect()
}

fn outbox_counter(partner: &str) -> Vec<u8> {
    format!("next_outbox/{partner}").into_bytes()
}

fn step(meta: &EntryMeta, kind: &str, note: &str) -> Step {
    Step {
        at_ms: meta.at_ms,
        kind: kind.to_owned(),
        by: meta.author.clone(),
        note: note.to_owned(),
    }
}

fn require_province(meta: &EntryMeta, what: &str) -> Result<(), DisposalError> {
    if meta.unit.len() == 2 {
        Ok(())
    } else {
        Err(DisposalError::Precondition(format!(
            "{what} is the gateway's to record, not {}'s",
            meta.unit
        )))
    }
}

fn save(batch: &mut Batch, r: &DisposalRecord) -> Result<(), DisposalError> {
    let parsed = ItemId::parse(&r.id)
        .ok_or_else(|| DisposalError::field("id", format!("{:?} is not a request id", r.id)))?;
    batch.insert(REQUESTS_TREE, parsed.key(), encode(r)?);
    Ok(())
}

/// Applies `event` to the view in `batch`. An event about a request this node does not hold
/// (another county's, at a county) changes nothing.
pub(crate) fn apply(
    store: &dyn Store,
    batch: &mut Batch,
    meta: &EntryMeta,
    event: &Event,
) -> Result<(), DisposalError> {
    if let Event::PartnerDeclared {
        name,
        display_name,
        disabled,
        handles,
    } = event
    {
        require_province(meta, "a partner")?;
        let entry = DirectoryEntry {
            display_name: display_name.clone(),
            disabled: *disabled,
            handles: handles.clone(),
        };
        batch.insert(DIRECTORY_TREE, name.as_bytes().to_vec(), encode(&entry)?);
        return Ok(());
    }
    if let Event::DisposalFiled {
        id,
        partner,
        urls,
        action,
        reason,
        legal_basis,
        deadline_ms,
        evidence,
        risk,
    } = event
    {
        let parsed = ItemId::parse(id)
            .ok_or_else(|| DisposalError::field("id", format!("{id:?} is not a request id")))?;
        if let Some(why) = parsed.refuse_writer(&meta.unit, ItemKind::Disposal) {
            return Err(DisposalError::Precondition(why));
        }
        if get(&batch.over(store), id)?.is_some() {
            return Ok(());
        }
        let mut record = DisposalRecord {
            id: id.clone(),
            requester: meta.unit.clone(),
            partner: partner.clone(),
            urls: urls.clone(),
            action: *action,
            reason: reason.clone(),
            legal_basis: legal_basis.clone(),
            deadline_ms: *deadline_ms,
            evidence: evidence
                .iter()
                .map(|e| EvidenceMeta {
                    name: e.name.clone(),
                    sha256: e.sha256.clone(),
                    size: e.size,
                })
                .collect(),
            risk: risk.clone(),
            filed_at_ms: meta.at_ms,
            filed_by: meta.author.clone(),
            state: State::Filed,
            relayed: false,
            delivered_at_ms: None,
            acknowledged_at_ms: None,
            outcome: None,
            history: Vec::new(),
            escalated: None,
        };
        record.history.push(step(meta, "filed", reason));
        // One case per partner, action and set of URLs: a later request asking the same
        // joins the first one's case.
        let case_id = match case_of(&batch.over(store), &record)? {
            Some(c) => c,
            None => {
                batch.insert(CASES_TREE, case_key(&record), id.as_bytes().to_vec());
                id.clone()
            }
        };
        batch.insert(
            CASE_MEMBERS_TREE,
            joined(&case_id, id.as_bytes()),
            Vec::new(),
        );
        for (i, e) in evidence.iter().enumerate() {
            let mut k = parsed.key();
            k.push(0);
            k.push(i as u8);
            batch.insert(EVIDENCE_TREE, k, encode(e)?);
        }
        counters::raise_item(store, batch, &parsed)?;
        return save(batch, &record);
    }
    if let Event::ReportFiled {
        id: report,
        disposal: Some(id),
        ..
    } = event
    {
        require_province(meta, "an escalation")?;
        let Some(mut r) = get(&batch.over(store), id)? else {
            return Ok(());
        };
        if r.escalated.is_some() {
            return Ok(());
        }
        r.escalated = Some(report.clone());
        r.history.push(step(
            meta,
            "escalated",
            &format!("overdue: report {report} in the gateway's report list"),
        ));
        return save(batch, &r);
    }
    let Some(id) = event.disposal_id() else {
        return Ok(());
    };
    let Some(mut r) = get(&batch.over(store), id)? else {
        return Ok(());
    };
    match event {
        Event::DisposalWithdrawn { reason, .. } => {
            if meta.unit != r.requester {
                return Err(DisposalError::NotYours(format!(
                    "only {} withdraws {id}",
                    r.requester
                )));
            }
            if r.state.is_final() {
                return Ok(());
            }
            r.state = State::Withdrawn;
            r.history.push(step(meta, "withdrawn", reason));
        }
        Event::DisposalReviewed { approved, note, .. } => {
            require_province(meta, "a review")?;
            match approved {
                None if r.state == State::Filed => {
                    r.state = State::InReview;
                    r.history.push(step(meta, "held for review", note));
                }
                Some(true) if !r.state.is_final() => {
                    r.history.push(step(meta, "approved", note));
                }
                Some(false) if !r.state.is_final() => {
                    r.state = State::Rejected;
                    r.history.push(step(meta, "rejected", note));
                }
                _ => return Ok(()),
            }
        }
        Event::DisposalRelayed { withdrawal, .. } => {
            require_province(meta, "a relay")?;
            if !withdrawal {
                if r.relayed {
                    return Ok(());
                }
                r.relayed = true;
                if matches!(r.state, State::Filed | State::InReview) {
                    r.state = State::Relayed;
                }
            }
            r.history.push(step(
                meta,
                if *withdrawal {
                    "withdrawal relayed"
                } else {
                    "relayed"
                },
                "",
            ));
            let key = outbox_counter(&r.partner);
            let seq = counters::take(store, batch, key)?;
            let message = OutboxMessage {
                id: id.to_owned(),
                withdrawal: *withdrawal,
            };
            batch.insert(
                OUTBOX_TREE,
                joined(&r.partner, &seq.to_be_bytes()),
                encode(&message)?,
            );
        }
        Event::DisposalDelivered { .. } => {
            require_province(meta, "a delivery")?;
            if r.delivered_at_ms.is_some() {
                return Ok(());
            }
            r.delivered_at_ms = Some(meta.at_ms);
            if r.state == State::Relayed {
                r.state = State::Delivered;
            }
            r.history.push(step(meta, "delivered", ""));
        }
        Event::DisposalAcknowledged { .. } => {
            require_province(meta, "an acknowledgment")?;
            if r.acknowledged_at_ms.is_some() {
                return Ok(());
            }
            r.acknowledged_at_ms = Some(meta.at_ms);
            r.delivered_at_ms.get_or_insert(meta.at_ms);
            if matches!(r.state, State::Relayed | State::Delivered) {
                r.state = State::Acknowledged;
            }
            r.history.push(step(meta, "acknowledged", ""));
        }
        Event::DisposalAnswered {
            outcome,
            reason,
            reference,
            ..
        } => {
            require_province(meta, "an outcome")?;
            if r.outcome.is_some() {
                return Ok(());
            }
            r.outcome = Some(OutcomeRecord {
                outcome: *outcome,
                reason: reason.clone(),
                reference: reference.clone(),
                at_ms: meta.at_ms,
            });
            r.delivered_at_ms.get_or_insert(meta.at_ms);
            r.acknowledged_at_ms.get_or_insert(meta.at_ms);
            if r.state != State::Withdrawn {
                r.state = State::Answered;
            }
            r.history
                .push(step(meta, "answered", &format!("{outcome}: {reason}")));
        }
        _ => return Ok(()),
    }
    save(batch, &r)
}

/// Delivery figures of one partner.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartnerFigures {
    /// Requests relayed to it.
    pub relayed: u64,
    /// Received by it.
    pub delivered: u64,
    /// Acknowledged by it.
    pub acknowledged: u64,
    /// Answered by it.
    pub answered: u64,
    /// Past their deadline without an outcome.
    pub overdue: u64,
    /// Mean time from delivery to acknowledgment, ms (0: none yet).
    pub mean_ms_to_acknowledge: i64,
    /// Mean time from delivery to outcome, ms (0: none yet).
    pub mean_ms_to_outcome: i64,
}

fn mean(sum: i64, n: i64) -> i64 {
    sum.checked_div(n).unwrap_or(0)
}

/// Figures per partner from the requests in `records`, at `now_ms`.
pub(crate) fn figures(
    records: &[DisposalRecord],
    now_ms: i64,
) -> std::collections::BTreeMap<String, PartnerFigures> {
    let mut out: std::collections::BTreeMap<String, (PartnerFigures, [i64; 4])> =
        Default::default();
    for r in records.iter().filter(|r| r.relayed) {
        let (f, sums) = out.entry(r.partner.clone()).or_default();
        f.relayed += 1;
        f.overdue += u64::from(r.overdue(now_ms));
        let Some(delivered) = r.delivered_at_ms else {
            continue;
        };
        f.delivered += 1;
        if let Some(ack) = r.acknowledged_at_ms {
            f.acknowledged += 1;
            sums[0] += (ack - delivered).max(0);
            sums[1] += 1;
        }
        if let Some(o) = &r.outcome {
            f.answered += 1;
            sums[2] += (o.at_ms - delivered).max(0);
            sums[3] += 1;
        }
    }
    out.into_iter()
        .map(|(p, (mut f, s))| {
            f.mean_ms_to_acknowledge = mean(s[0], s[1]);
            f.mean_ms_to_outcome = mean(s[2], s[3]);
            (p, f)
        })
        .collect()
}
