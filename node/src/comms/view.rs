//! The communications view: alert, report, directive and response events applied to stored
//! records as entries are committed (see [`crate::dispatch`]), in whatever order feeds arrive:
//! a recipient's receipt may reach the gateway before the alert it answers, so responses
//! live in their own tree, keyed by item and responder, and never need their item first.
//!
//! Trees: `comms_alert`, `comms_report`, `comms_directive` (item key → JSON record),
//! `comms_response` (item key ‖ 0 ‖ responder code → JSON [`ResponseRecord`]); the next
//! item numbers live in `view_meta` (`next_item/<unit>/<letter>`).

use std::collections::{BTreeMap, BTreeSet};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::counters;
use crate::domain::alert::AlertAudience;
use crate::event::{EntryMeta, Event};
use crate::store::{Batch, Read, Store, StoreError};
use crate::sync::directory;

use super::cap::MessageKind;
use super::record::{AlertRecord, ChainMessage, DirectiveRecord, ReportRecord, ResponseRecord};
use super::{CommsError, ItemId, ItemKind};

/// Tree of alerts.
pub(crate) const ALERTS_TREE: &str = "comms_alert";
/// Tree of reports.
pub(crate) const REPORTS_TREE: &str = "comms_report";
/// Tree of directives and consultations.
pub(crate) const DIRECTIVES_TREE: &str = "comms_directive";
/// Tree of responses to any of them.
pub(crate) const RESPONSES_TREE: &str = "comms_response";

/// The tree of a kind of item; `None` for disposal requests, which are not communications.
fn tree_of(kind: ItemKind) -> Option<&'static str> {
    match kind {
        ItemKind::Alert => Some(ALERTS_TREE),
        ItemKind::Report => Some(REPORTS_TREE),
        ItemKind::Directive | ItemKind::Consultation => Some(DIRECTIVES_TREE),
        ItemKind::Disposal => None,
    }
}

fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Backend(format!("corrupt {what}: {e}")))
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Backend(format!("encoding a record: {e}")))
}

fn load<T: DeserializeOwned>(
    src: &(impl Read + ?Sized),
    id: &str,
) -> Result<Option<T>, StoreError> {
    let Some(parsed) = ItemId::parse(id) else {
        return Ok(None);
    };
    let Some(tree) = tree_of(parsed.kind) else {
        return Ok(None);
    };
    src.value(tree, &parsed.key())?
        .map(|v| decode(id, &v))
        .transpose()
}

/// The alert `id`, if this node holds it.
pub(crate) fn alert(
    src: &(impl Read + ?Sized),
    id: &str,
) -> Result<Option<AlertRecord>, StoreError> {
    load(src, id)
}

/// The report `id`, if this node holds it.
pub(crate) fn report(
    src: &(impl Read + ?Sized),
    id: &str,
) -> Result<Option<ReportRecord>, StoreError> {
    load(src, id)
}

/// The directive or consultation `id`, if this node holds it.
pub(crate) fn directive(
    src: &(impl Read + ?Sized),
    id: &str,
) -> Result<Option<DirectiveRecord>, StoreError> {
    load(src, id)
}

fn all<T: DeserializeOwned>(store: &dyn Store, tree: &str) -> Result<Vec<T>, StoreError> {
    store
        .scan_prefix(tree, b"")
        .map(|kv| kv.and_then(|(k, v)| decode(&String::from_utf8_lossy(&k), &v)))
        .collect()
}

/// Every alert this node holds, in id order.
pub(crate) fn alerts(store: &dyn Store) -> Result<Vec<AlertRecord>, StoreError> {
    all(store, ALERTS_TREE)
}

/// Every report this node holds, in id order.
pub fn reports(store: &dyn Store) -> Result<Vec<ReportRecord>, StoreError> {
    all(store, REPORTS_TREE)
}

/// The reports `unit` filed: how many, and the newest `n`, newest first. Its reports are
/// numbered in the order its writer filed them and keyed by number, so the newest are the
/// last keys under its prefix: `n` lookups and a count of keys, none of the others decoded
/// (a county files one for every risk graded I or II, thousands at 100,000 risks).
pub fn newest_reports_of(
    store: &dyn Store,
    unit: &str,
    n: usize,
) -> Result<(usize, Vec<ReportRecord>), StoreError> {
    let mut prefix = unit.as_bytes().to_vec();
    prefix.push(b'-');
    prefix.push(ItemKind::Report.letter() as u8);
    let total = store.scan_prefix(REPORTS_TREE, &prefix).count();
    // Past every key under the prefix (they end in an 8-byte number).
    let mut end = prefix.clone();
    end.extend_from_slice(&[0xff; 9]);
    let mut newest = Vec::with_capacity(n.min(total));
    while newest.len() < n {
        let Some((k, v)) = store.last_in_range(REPORTS_TREE, &prefix, &end)? else {
            break;
        };
        newest.push(decode(&String::from_utf8_lossy(&k), &v)?);
        end = k;
    }
    Ok((total, newest))
}

/// Every directive and consultation this node holds, in id order.
pub(crate) fn directives(store: &dyn Store) -> Result<Vec<DirectiveRecord>, StoreError> {
    all(store, DIRECTIVES_TREE)
}

fn response_prefix(id: &ItemId<'_>) -> Vec<u8> {
    let mut k = id.key();
    k.push(0);
    k
}

/// The responses to item `id` this node holds, by responder.
pub(crate) fn responses(
    src: &(impl Read + ?Sized),
    id: &str,
) -> Result<BTreeMap<String, ResponseRecord>, StoreError> {
    let Some(parsed) = ItemId::parse(id) else {
        return Ok(BTreeMap::new());
    };
    src.with_prefix(RESPONSES_TREE, &response_prefix(&parsed))?
        .into_iter()
        .map(|(_, v)| decode::<ResponseRecord>(id, &v).map(|r| (r.responder.clone(), r)))
        .collect()
}

/// The response of `responder` to `id`, if any.
pub(crate) fn response(
    src: &(impl Read + ?Sized),
    id: &str,
    responder: &str,
) -> Result<Option<ResponseRecord>, StoreError> {
    let Some(parsed) = ItemId::parse(id) else {
        return Ok(None);
    };
    let mut key = response_prefix(&parsed);
    key.extend_from_slice(responder.as_bytes());
    src.value(RESPONSES_TREE, &key)?
        .map(|v| decode(id, &v))
        .transpose()
}

/// Stages `responder`'s response to `id` as `change` leaves it.
fn respond(
    store: &dyn Store,
    batch: &mut Batch,
    id: &ItemId<'_>,
    responder: &str,
    change: impl FnOnce(&mut ResponseRecord),
) -> Result<(), StoreError> {
    let mut key = response_prefix(id);
    key.extend_from_slice(responder.as_bytes());
    let mut r: ResponseRecord = match batch.get(store, RESPONSES_TREE, &key)? {
        Some(v) => decode("response", &v)?,
        None => ResponseRecord {
            responder: responder.to_owned(),
            ..ResponseRecord::default()
        },
    };
    change(&mut r);
    batch.insert(RESPONSES_TREE, key, encode(&r)?);
    Ok(())
}

/// The counties an alert is addressed to, as far as this node knows: the issuer's declared
/// neighbours, every county of the province, or the named ones (never the issuer).
pub(crate) fn recipients(
    store: &dyn Store,
    alert: &AlertRecord,
) -> Result<BTreeSet<String>, StoreError> {
    let mut out = match &alert.alert.audience {
        AlertAudience::Neighbours => directory::declared(store, &alert.issuer)?.unwrap_or_default(),
        AlertAudience::Province => directory::known_counties(store)?
            .into_iter()
            .filter(|c| c.starts_with(alert.issuer.get(..2).unwrap_or_default()))
            .collect(),
        AlertAudience::Counties(list) => list.iter().cloned().collect(),
    };
    out.remove(&alert.issuer);
    Ok(out)
}

/// Whether `unit` (a county) is one of the alert's recipients. A county that holds an alert of
/// its neighbours' feed was named by its issuer, so only a list is checked.
pub(crate) fn addressed_to(alert: &AlertRecord, unit: &str) -> bool {
    if unit == alert.issuer || unit.len() != 6 {
        return false;
    }
    match &alert.alert.audience {
        AlertAudience::Neighbours | AlertAudience::Province => true,
        AlertAudience::Counties(list) => list.iter().any(|c| c == unit),
    }
}

/// Refuses an item whose id names another origin than the entry's, or another kind.
pub(crate) fn require_origin(
    id: &ItemId<'_>,
    meta: &EntryMeta,
    kind: ItemKind,
) -> Result<(), CommsError> {
    match id.refuse_writer(&meta.unit, kind) {
        Some(why) => Err(CommsError::Precondition(why)),
        None => Ok(()),
    }
}

fn parse(id: &str) -> Result<ItemId<'_>, CommsError> {
    ItemId::parse(id).ok_or_else(|| CommsError::field("id", format!("{id:?} is not an item id")))
}

/// Applies `event` to the view in `batch`. Checks first and stages nothing on error.
pub(crate) fn apply(
    store: &dyn Store,
    batch: &mut Batch,
    meta: &EntryMeta,
    event: &Event,
) -> Result<(), CommsError> {
    match event {
        Event::AlertIssued {
            id,
            alert,
            ack_within_s,
        } => {
            let parsed = parse(id)?;
            require_origin(&parsed, meta, ItemKind::Alert)?;
            if self::alert(&batch.over(store), id)?.is_some() {
                return Ok(()); // the same entry by another path
            }
            let record = AlertRecord {
                id: id.clone(),
                issuer: meta.unit.clone(),
                feed: meta.audience,
                alert: alert.clone(),
                ack_within_s: *ack_within_s,
                issued_at_ms: meta.at_ms,
                cancelled_at_ms: None,
                chain: vec![ChainMessage {
                    version: 1,
                    kind: MessageKind::Alert,
                    at_ms: meta.at_ms,
                    author: meta.author.clone(),
                    summary: format!("issued: {}", alert.headline),
                }],
            };
            counters::raise_item(store, batch, &parsed)?;
            batch.insert(ALERTS_TREE, parsed.key(), encode(&record)?);
        }
        Event::AlertUpdated { id, version, alert } => {
            let parsed = parse(id)?;
            require_origin(&parsed, meta, ItemKind::Alert)?;
            let mut record = existing_alert(&batch.over(store), id)?;
            if (*version as usize) <= record.chain.len() {
                return Ok(());
            }
            if record.cancelled_at_ms.is_some() {
                return Err(CommsError::Precondition(format!("alert {id} is cancelled")));
            }
            let summary = update_summary(&record.alert, alert);
            record.alert = crate::domain::alert::NewAlert {
                audience: record.alert.audience.clone(),
                ..alert.clone()
            };
            record.chain.push(ChainMessage {
                version: *version,
                kind: MessageKind::Update,
                at_ms: meta.at_ms,
                author: meta.author.clone(),
                summary,
            });
            batch.insert(ALERTS_TREE, parsed.key(), encode(&record)?);
        }
        Event::AlertCancelled {
            id,
            version,
            reason,
        } => {
            let parsed = parse(id)?;
            require_origin(&parsed, meta, ItemKind::Alert)?;
            let mut record = existing_alert(&batch.over(store), id)?;
            if (*version as usize) <= record.chain.len() || record.cancelled_at_ms.is_some() {
                return Ok(());
            }
            record.cancelled_at_ms = Some(meta.at_ms);
            record.chain.push(ChainMessage {
                version: *version,
                kind: MessageKind::Cancel,
                at_ms: meta.at_ms,
                author: meta.author.clone(),
                summary: if reason.is_empty() {
                    "cancelled".to_owned()
                } else {
                    format!("cancelled: {reason}")
                },
            });
            batch.insert(ALERTS_TREE, parsed.key(), encode(&record)?);
        }
        Event::AlertDelivered { id } => {
            let parsed = parse(id)?;
            respond(store, batch, &parsed, &meta.unit, |r| {
                r.delivered_at_ms.get_or_insert(meta.at_ms);
            })?;
        }
        Event::AlertAcknowledged { id, note } => {
            let parsed = parse(id)?;
            respond(store, batch, &parsed, &meta.unit, |r| {
                r.delivered_at_ms.get_or_insert(meta.at_ms);
                if r.acknowledged_at_ms.is_none() {
                    r.acknowledged_at_ms = Some(meta.at_ms);
                    r.by = meta.author.clone();
                    r.note = note.clone();
                }
            })?;
        }
        Event::ReportFiled {
            id,
            risk,
            level,
            summary,
            automatic,
            disposal,
        } => {
            let parsed = parse(id)?;
            require_origin(&parsed, meta, ItemKind::Report)?;
            if self::report(&batch.over(store), id)?.is_some() {
                return Ok(());
            }
            let record = ReportRecord {
                id: id.clone(),
                origin: meta.unit.clone(),
                risk: risk.clone(),
                level: *level,
                summary: summary.clone(),
                automatic: *automatic,
                filed_at_ms: meta.at_ms,
                filed_by: meta.author.clone(),
                disposal: disposal.clone(),
            };
            counters::raise_item(store, batch, &parsed)?;
            batch.insert(REPORTS_TREE, parsed.key(), encode(&record)?);
        }
        Event::ReportAcknowledged { id, note } => {
            let parsed = parse(id)?;
            if meta.unit.len() != 2 {
                return Err(CommsError::Precondition(format!(
                    "report {id} can only be acknowledged by the province, not {}",
                    meta.unit
                )));
            }
            respond(store, batch, &parsed, &meta.unit, |r| {
                if r.acknowledged_at_ms.is_none() {
                    r.acknowledged_at_ms = Some(meta.at_ms);
                    r.by = meta.author.clone();
                    r.note = note.clone();
                }
            })?;
        }
        Event::DirectiveIssued {
            id,
            kind,
            text,
            deadline_ms,
            targets,
        } => {
            let parsed = parse(id)?;
            let item = match kind {
                crate::domain::directive::DirectiveKind::Directive => ItemKind::Directive,
                crate::domain::directive::DirectiveKind::Consultation => ItemKind::Consultation,
            };
            require_origin(&parsed, meta, item)?;
            if meta.unit.len() != 2 {
                return Err(CommsError::Precondition(format!(
                    "only the province issues directives, not {}",
                    meta.unit
                )));
            }
            if self::directive(&batch.over(store), id)?.is_some() {
                return Ok(());
            }
            let record = DirectiveRecord {
                id: id.clone(),
                kind: *kind,
                text: text.clone(),
                deadline_ms: *deadline_ms,
                targets: targets.clone(),
                issued_at_ms: meta.at_ms,
                issued_by: meta.author.clone(),
            };
            counters::raise_item(store, batch, &parsed)?;
            batch.insert(DIRECTIVES_TREE, parsed.key(), encode(&record)?);
        }
        Event::DirectiveResponded { id, status, text } => {
            let parsed = parse(id)?;
            respond(store, batch, &parsed, &meta.unit, |r| {
                r.status = Some(r.status.map_or(*status, |s| s.max(*status)));
                if !text.is_empty() {
                    r.text = text.clone();
                }
                r.responded_at_ms.get_or_insert(meta.at_ms);
                r.by = meta.author.clone();
            })?;
        }
        _ => {}
    }
    Ok(())
}

fn existing_alert(src: &(impl Read + ?Sized), id: &str) -> Result<AlertRecord, CommsError> {
    alert(src, id)?.ok_or_else(|| CommsError::NotFound(format!("no alert {id} at this node")))
}

/// For people: which fields an update changed.
fn update_summary(
    old: &crate::domain::alert::NewAlert,
    new: &crate::domain::alert::NewAlert,
) -> String {
    let mut changed = Vec::new();
    if old.headline != new.headline {
        changed.push(format!("headline: {}", new.headline));
    }
    if old.description != new.description {
        changed.push("description".to_owned());
    }
    if old.instruction != new.instruction {
        changed.push("instruction".to_owned());
    }
    if old.event != new.event {
        changed.push(format!("event: {}", new.event));
    }
    if old.urgency != new.urgency {
        changed.push(format!("urgency {} → {}", old.urgency, new.urgency));
    }
    if old.severity != new.severity {
        changed.push(format!("severity {} → {}", old.severity, new.severity));
    }
    if old.certainty != new.certainty {
        changed.push(format!("certainty {} → {}", old.certainty, new.certainty));
    }
    if old.expires_ms != new.expires_ms {
        changed.push("expiry".to_owned());
    }
    if old.affected != new.affected {
        changed.push(format!("affected: {}", new.affected.join(",")));
    }
    format!("updated: {}", changed.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SledStore;

    fn report(unit: &str, n: u64) -> ReportRecord {
        ReportRecord {
            id: format!("{unit}-r{n}"),
            origin: unit.to_owned(),
            risk: None,
            level: None,
            summary: format!("report {n}"),
            automatic: true,
            filed_at_ms: n as i64,
            filed_by: format!("county/{unit}"),
            disposal: None,
        }
    }

    #[test]
    fn the_newest_reports_of_a_county_come_by_number_from_the_end_of_its_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let mut batch = Batch::new();
        // Numbers past 255 check the keys order by number, not by text.
        for (unit, n) in [("510104", 300), ("510105", 5)] {
            for i in 1..=n {
                let r = report(unit, i);
                let key = ItemId::parse(&r.id).unwrap().key();
                batch.insert(REPORTS_TREE, key, encode(&r).unwrap());
            }
        }
        store.commit(&batch).unwrap();
        let (total, newest) = newest_reports_of(&store, "510104", 3).unwrap();
        assert_eq!(total, 300);
        let ids: Vec<&str> = newest.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["510104-r300", "510104-r299", "510104-r298"]);
        let (total, newest) = newest_reports_of(&store, "510105", 50).unwrap();
        assert_eq!((total, newest.len()), (5, 5));
        assert_eq!(newest_reports_of(&store, "510106", 50).unwrap().0, 0);
    }
}
