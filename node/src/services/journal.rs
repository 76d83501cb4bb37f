//! The journal: what arrived for this node's staff — alerts addressed to it or issued by it,
//! their updates and cancels, receipts of its own alerts, directives for it, its reports and
//! their acknowledgments, risks other counties shared with it (a shared risk is a mutual
//! notification too) (at the gateway: all of them) — numbered in the order this node
//! learnt them. `Watch` streams it; its number is the cursor a client resumes after, so a
//! reconnect misses and repeats nothing.
//!
//! One task follows every feed behind the views (so what a watcher then reads is current)
//! and is the journal's only writer: numbers never race. It reads feeds only after the
//! writer says communications were stored (and once at start), up to the heads of that
//! moment, so risk traffic alone costs it nothing. It also records, through the writer,
//! each delivery of an alert addressed to this node, before it moves past the alert: a crash
//! in between replays the alert, and the delivery command is idempotent.
//!
//! Trees: `comms_journal` (u64 BE cursor → JSON [`JournalItem`]) and `comms_journal_meta`
//! (`read/<feed>` → u64 BE, `last` → u64 BE). Not views: rebuilding the views leaves them
//! alone, so cursors stay valid.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::dispatch;
use crate::event::Event;
use crate::event::{may_concern_comms, EntryMeta};
use crate::feed::{self, Audience, FeedId};
use crate::store::{read_u64, Batch, Store, StoreError};
use crate::sync::directory;
use crate::writer::Writer;

use crate::comms::view;

use super::worker::{self, Workers};

/// Tree of journal items.
pub const JOURNAL_TREE: &str = "comms_journal";
/// Tree of the journal's positions.
pub const JOURNAL_META_TREE: &str = "comms_journal_meta";
const LAST_KEY: &[u8] = b"last";
/// Entries looked at per pass.
const PASS: usize = 5000;
const READ_CHUNK: usize = 500;

/// One thing that arrived for this node's staff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalItem {
    /// Its number: resume after it to get what follows.
    pub cursor: u64,
    /// `alert`, `alert-update`, `alert-cancel`, `alert-delivered`, `alert-acknowledged`,
    /// `report`, `report-acknowledged`, `directive`, `consultation`, `directive-response`.
    pub kind: String,
    /// The alert, report or directive.
    pub id: String,
    /// Division code of whoever wrote the event.
    pub origin: String,
    /// When its origin wrote it, Unix ms.
    pub at_ms: i64,
    /// A line for people.
    pub title: String,
    /// The alert's severity, for alert events.
    #[serde(default)]
    pub severity: String,
    /// The risk's level (`I`–`IV`, empty if ungraded), for a shared risk.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub level: String,
    /// Whom the risk is now shared with (`neighbours`, `province`, `upstream`), for a shared
    /// risk.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
}

fn read_key(feed: &FeedId) -> Vec<u8> {
    format!("read/{feed}").into_bytes()
}

/// The cursor of the newest item (0: none).
pub fn last(store: &dyn Store) -> Result<u64, StoreError> {
    Ok(read_u64(store.get(JOURNAL_META_TREE, LAST_KEY)?))
}

/// Up to `limit` items after `cursor`, oldest first.
pub fn read_after(
    store: &dyn Store,
    cursor: u64,
    limit: usize,
) -> Result<Vec<JournalItem>, StoreError> {
    let start = cursor.saturating_add(1).to_be_bytes();
    store
        .range(JOURNAL_TREE, &start, None)
        .take(limit)
        .map(|kv| {
            kv.and_then(|(_, v)| {
                serde_json::from_slice(&v)
                    .map_err(|e| StoreError::Backend(format!("corrupt journal item: {e}")))
            })
        })
        .collect()
}

/// What the journal makes of one event at node `unit`: an item (without its cursor) if it
/// concerns this node's staff, and whether the node must record the alert's delivery.
fn consider(
    store: &dyn Store,
    unit: &str,
    meta: &EntryMeta,
    event: &Event,
) -> Result<(Option<JournalItem>, bool), StoreError> {
    let province = unit.len() == 2;
    let mine = meta.unit == unit;
    let item = |kind: &str, id: &str, title: String, severity: String| JournalItem {
        cursor: 0,
        kind: kind.to_owned(),
        id: id.to_owned(),
        origin: meta.unit.clone(),
        at_ms: meta.at_ms,
        title,
        severity,
        level: String::new(),
        scope: String::new(),
    };
    let alert_of = |id: &str| view::alert(store, id);
    Ok(match event {
        Event::AlertIssued { id, alert, .. } => {
            let record = alert_of(id)?;
            let addressed = record.as_ref().is_some_and(|r| view::addressed_to(r, unit));
            let out = (mine || province || addressed).then(|| {
                item(
                    "alert",
                    id,
                    alert.headline.clone(),
                    alert.severity.to_string(),
                )
            });
            (out, addressed)
        }
        Event::AlertUpdated { id, alert, .. } => {
            let addressed = alert_of(id)?.is_some_and(|r| view::addressed_to(&r, unit));
            let out = (mine || province || addressed).then(|| {
                item(
                    "alert-update",
                    id,
                    alert.headline.clone(),
                    alert.severity.to_string(),
                )
            });
            (out, false)
        }
        Event::AlertCancelled { id, reason, .. } => {
            let record = alert_of(id)?;
            let addressed = record.as_ref().is_some_and(|r| view::addressed_to(r, unit));
            let severity = record
                .map(|r| r.alert.severity.to_string())
                .unwrap_or_default();
            let out = (mine || province || addressed)
                .then(|| item("alert-cancel", id, reason.clone(), severity));
            (out, false)
        }
        Event::AlertDelivered { id } | Event::AlertAcknowledged { id, .. } => {
            let issuer_is_me = crate::comms::ItemId::parse(id).is_some_and(|p| p.unit == unit);
            let (kind, title) = match event {
                Event::AlertAcknowledged { note, .. } => ("alert-acknowledged", note.clone()),
                _ => ("alert-delivered", String::new()),
            };
            (
                (issuer_is_me || province).then(|| item(kind, id, title, String::new())),
                false,
            )
        }
        Event::ReportFiled { id, summary, .. } => (
            (mine || province).then(|| item("report", id, summary.clone(), String::new())),
            false,
        ),
        Event::ReportAcknowledged { id, note } => {
            let reporter_is_me = crate::comms::ItemId::parse(id).is_some_and(|p| p.unit == unit);
            (
                (reporter_is_me || province)
                    .then(|| item("report-acknowledged", id, note.clone(), String::new())),
                false,
            )
        }
        Event::DirectiveIssued {
            id,
            kind,
            text,
            targets,
            ..
        } => {
            let targeted = !province && (targets.is_empty() || targets.iter().any(|t| t == unit));
            (
                (province || targeted)
                    .then(|| item(kind.as_str(), id, text.clone(), String::new())),
                false,
            )
        }
        Event::DirectiveResponded { id, status, text } => (
            (province || mine).then(|| {
                let title = if text.is_empty() {
                    status.to_string()
                } else {
                    format!("{status}: {text}")
                };
                item("directive-response", id, title, String::new())
            }),
            false,
        ),
        // Another county's risk reached this node: a neighbour's, one shared with the whole
        // province or with this county by name (at the gateway, every county's). Its own
        // shares it knows of.
        Event::RiskShared {
            id,
            scope,
            snapshot,
            counties,
            ..
        } => {
            // Shared with named counties: theirs to be told of. An open share: everyone its
            // audience reaches (a neighbours' share may travel in the province's feed when
            // named counties took the risk there before).
            let told = if !counties.is_empty() {
                counties.iter().any(|c| c == unit)
            } else {
                match scope {
                    Audience::Province => true,
                    Audience::Neighbours => {
                        meta.audience == Audience::Neighbours
                            || directory::declared(store, &meta.unit)?
                                .is_some_and(|n| n.contains(unit))
                    }
                    Audience::Local | Audience::Upstream => false,
                }
            };
            (
                (!mine && (province || told)).then(|| JournalItem {
                    level: snapshot
                        .grade
                        .as_ref()
                        .map(|g| g.level.as_str().to_owned())
                        .unwrap_or_default(),
                    scope: scope.as_str().to_owned(),
                    ..item("risk-shared", id, snapshot.title.clone(), String::new())
                }),
                false,
            )
        }
        _ => (None, false),
    })
}

/// One pass: what the journal gains, the deliveries to record first, whether more waits,
/// and whether every feed was read up to the target.
struct Pass {
    batch: Batch,
    last: u64,
    deliveries: Vec<String>,
    more: bool,
    reached: bool,
}

/// The heads of every feed held now: how far the journal must read.
fn heads_now(store: &dyn Store) -> Result<HashMap<FeedId, u64>, StoreError> {
    Ok(feed::log::heads(store)?
        .into_iter()
        .map(|(f, h)| (f, h.seq))
        .collect())
}

fn pass(store: &dyn Store, unit: &str, target: &HashMap<FeedId, u64>) -> Result<Pass, StoreError> {
    let mut batch = Batch::new();
    let mut last = last(store)?;
    let mut deliveries = Vec::new();
    let mut looked = 0;
    let mut more = false;
    let mut reached = true;
    for (feed, _) in feed::log::heads(store)? {
        if feed.audience == Audience::Local {
            continue; // only risk events live there
        }
        let key = read_key(&feed);
        let mut read = read_u64(store.get(JOURNAL_META_TREE, &key)?);
        let applied = dispatch::applied(store, &feed)?;
        let start = read;
        while read < applied {
            if looked >= PASS {
                more = true;
                break;
            }
            let entries = feed::log::read(store, &feed, read + 1, READ_CHUNK)?;
            if entries.is_empty() {
                break;
            }
            for e in entries.iter().take_while(|e| e.seq <= applied) {
                looked += 1;
                read = e.seq;
                if !may_concern_comms(&e.payload) {
                    continue;
                }
                let Ok(event) = Event::decode(&e.payload) else {
                    continue;
                };
                let (item, deliver) = consider(store, unit, &EntryMeta::of(e), &event)?;
                if deliver {
                    deliveries.extend(event.item_id().map(str::to_owned));
                }
                if let Some(mut item) = item {
                    last += 1;
                    item.cursor = last;
                    let bytes = serde_json::to_vec(&item)
                        .map_err(|e| StoreError::Backend(format!("encoding journal item: {e}")))?;
                    batch.insert(JOURNAL_TREE, last.to_be_bytes().to_vec(), bytes);
                }
            }
        }
        if read != start {
            batch.insert(JOURNAL_META_TREE, key, read.to_be_bytes().to_vec());
        }
        reached &= read >= target.get(&feed).copied().unwrap_or(0);
    }
    batch.insert(
        JOURNAL_META_TREE,
        LAST_KEY.to_vec(),
        last.to_be_bytes().to_vec(),
    );
    Ok(Pass {
        batch,
        last,
        deliveries,
        more,
        reached,
    })
}

/// Starts the journal task of the node `identity_path` (`county/510105`); returns a receiver
/// of the newest cursor, which changes whenever items are added. It reads feeds while the
/// writer's flushes of communications are not all journalled, on each commit and each pass
/// of the view applier (`views_applied`), which it must follow. Ends when `stop` turns true.
/// Runs as the worker `journal` in `workers` (see [`super::worker`]); it logs its errors and
/// goes on, so it never fails.
pub fn spawn(
    workers: &Arc<Workers>,
    store: Arc<dyn Store>,
    writer: Writer,
    identity_path: String,
    mut views_applied: watch::Receiver<u64>,
    stop: watch::Receiver<bool>,
) -> Result<watch::Receiver<u64>, StoreError> {
    let (tx, rx) = watch::channel(last(store.as_ref())?);
    let unit = identity_path
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut commits = writer.commits();
    let mut comms = writer.comms_stored();
    // At start, whatever is held may not be journalled yet (a crash, a rebuilt store).
    let mut target = Some(heads_now(store.as_ref())?);
    let mut comms_seen = *comms.borrow();
    worker::spawn(workers, "journal", stop, move |mut stop| async move {
        let span = tracing::info_span!("journal", node = %identity_path);
        loop {
            commits.borrow_and_update();
            views_applied.borrow_and_update();
            // Compared by value: the waits below mark changes seen.
            let flushed = *comms.borrow_and_update();
            if flushed != comms_seen {
                comms_seen = flushed;
                match heads_now(store.as_ref()) {
                    Ok(h) => {
                        let t = target.get_or_insert_with(HashMap::new);
                        for (f, seq) in h {
                            let e = t.entry(f).or_insert(0);
                            *e = (*e).max(seq);
                        }
                    }
                    Err(e) => {
                        tracing::error!(parent: &span, error = %e, "reading feed heads failed")
                    }
                }
            }
            let Some(goal) = target.clone() else {
                tokio::select! {
                    r = comms.changed() => if r.is_err() { break },
                    _ = stop.wait_for(|s| *s) => break,
                }
                continue;
            };
            let (s, u) = (store.clone(), unit.clone());
            let outcome = tokio::task::spawn_blocking(move || pass(s.as_ref(), &u, &goal)).await;
            let more = match outcome {
                Ok(Ok(p)) => {
                    // Deliveries first: the journal moves past an alert only once its
                    // delivery is durable.
                    let mut delivered = true;
                    for id in &p.deliveries {
                        let cmd = crate::comms::Command::RecordDelivery { id: id.clone() };
                        match writer.submit(identity_path.clone(), cmd).await {
                            Ok(_) => {
                                tracing::info!(parent: &span, alert = %id, "alert delivered; receipt recorded")
                            }
                            Err(crate::writer::WriteError::Stopped) => return Ok(()),
                            // A reading replica: the writing one records the receipt.
                            Err(crate::writer::WriteError::ReadOnly { .. }) => {}
                            Err(crate::writer::WriteError::CatchingUp) => {
                                delivered = false;
                            }
                            Err(e) => {
                                tracing::warn!(parent: &span, alert = %id, error = %e, "recording an alert's delivery failed");
                                delivered = false;
                            }
                        }
                    }
                    if !delivered {
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        continue;
                    }
                    match store.commit(&p.batch) {
                        Ok(()) => {
                            tx.send_if_modified(|l| std::mem::replace(l, p.last) != p.last);
                            if p.reached && !p.more {
                                target = None;
                            }
                            p.more
                        }
                        Err(e) => {
                            tracing::error!(parent: &span, error = %e, "writing the journal failed");
                            false
                        }
                    }
                }
                Ok(Err(e)) => {
                    tracing::error!(parent: &span, error = %e, "reading feeds for the journal failed");
                    false
                }
                Err(e) => {
                    tracing::error!(parent: &span, error = %e, "journal pass panicked");
                    false
                }
            };
            if more {
                continue;
            }
            tokio::select! {
                r = commits.changed() => if r.is_err() { break },
                r = views_applied.changed() => if r.is_err() { break },
                r = comms.changed() => if r.is_err() { break },
                _ = stop.wait_for(|s| *s) => break,
            }
        }
        Ok::<_, Infallible>(())
    });
    Ok(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_communications_payloads_are_decoded() {
        let alert = br#"{"v":1,"type":"alert-issued","id":"510104-a1"}"#;
        let risk = br#"{"v":1,"type":"risk-created","id":"510104-1","title":"alert-issued"}"#;
        assert!(may_concern_comms(alert));
        assert!(may_concern_comms(br#"{"v":1,"type":"directive-issued"}"#));
        assert!(may_concern_comms(
            br#"{"v":1,"type":"risk-shared","id":"510104-1"}"#
        ));
        assert!(!may_concern_comms(risk));
        assert!(!may_concern_comms(b""));
    }
}
