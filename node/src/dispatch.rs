//! The views dispatcher: everything a node shows is derived from the feeds it holds. Each
//! entry is applied to the area that owns its event — the risk register
//! ([`crate::register::view`]), communications ([`crate::comms::view`]), disposal
//! ([`crate::disposal::view`]) or the federation directory ([`crate::sync::directory`]) — in
//! the same commit that stores it, and the reactions of one area to another's change happen
//! here (the overview counts each risk change the register applies), so areas never call
//! each other.
//!
//! `view_meta` records, per feed, the last sequence number applied. At start the node applies
//! whatever its views have not seen, so deleting the view trees (or changing the view format)
//! rebuilds them from the feeds.

use crate::comms::{view as comms_view, CommsError};
use crate::disposal::{view as disposal_view, DisposalError};
use crate::event::Event;
use crate::feed::{self, Entry, FeedId};
use crate::overview::{self, RiskFacts};
use crate::register::view as register_view;
use crate::register::RegisterError;
use crate::register::RiskRecord;
use crate::store::{Batch, Store, StoreError};
use crate::sync::directory;

/// Tree of view bookkeeping.
pub(crate) const META_TREE: &str = crate::counters::TREE;
/// Bump to make every node rebuild its views from the feeds at start.
const VIEW_FORMAT: u64 = 12;
const FORMAT_KEY: &[u8] = b"format";
const CATCH_UP_CHUNK: usize = 1000;

/// Every tree that holds a view (deleted on rebuild).
pub(crate) const VIEW_TREES: &[&str] = &[
    register_view::RISKS_TREE,
    register_view::HISTORY_TREE,
    comms_view::ALERTS_TREE,
    comms_view::REPORTS_TREE,
    comms_view::DIRECTIVES_TREE,
    comms_view::RESPONSES_TREE,
    overview::view::COUNT_TREE,
    overview::view::DAY_TREE,
    overview::view::RISE_TREE,
    overview::view::RISE_BY_COUNTY_TREE,
    overview::view::RISE_BY_LEVEL_TREE,
    overview::linked::PENDING_TREE,
    overview::linked::MEMBER_TREE,
    overview::linked::ORIGINS_TREE,
    overview::linked::GROUP_TREE,
    crate::intake::counts::COUNTS_TREE,
    directory::NEIGHBOURS_TREE,
    directory::LISTED_TREE,
    crate::sync::crl::TREE,
    disposal_view::REQUESTS_TREE,
    disposal_view::EVIDENCE_TREE,
    disposal_view::CASES_TREE,
    disposal_view::CASE_MEMBERS_TREE,
    disposal_view::OUTBOX_TREE,
    disposal_view::DIRECTORY_TREE,
    META_TREE,
];

fn applied_key(feed: &FeedId) -> Vec<u8> {
    format!("applied/{feed}").into_bytes()
}

/// How far the views have applied `feed` (the sequence number of the last entry applied).
pub fn applied(store: &dyn Store, feed: &FeedId) -> Result<u64, StoreError> {
    Ok(crate::store::read_u64(
        store.get(META_TREE, &applied_key(feed))?,
    ))
}

/// Why an event could not be applied to its view.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The register refused it.
    #[error(transparent)]
    Register(#[from] RegisterError),
    /// The communications view refused it.
    #[error(transparent)]
    Comms(#[from] CommsError),
    /// The disposal view refused it.
    #[error(transparent)]
    Disposal(#[from] DisposalError),
}

/// Applies one decoded event to the view that owns it.
pub fn apply_event(
    store: &dyn Store,
    batch: &mut Batch,
    meta: &crate::event::EntryMeta,
    event: &Event,
) -> Result<(), ViewError> {
    match event {
        Event::NeighboursDeclared { neighbours } => {
            directory::apply_declaration(batch, &meta.unit, neighbours);
            Ok(())
        }
        Event::PartnerDeclared { .. } => Ok(disposal_view::apply(store, batch, meta, event)?),
        Event::IntakeCounted { counts } => {
            crate::intake::counts::apply(store, batch, &meta.unit, meta.at_ms, counts)
                .map_err(|e| ViewError::Register(e.into()))?;
            Ok(())
        }
        // Applied where it is stored (the writer or ingest): it cuts feeds, not a view.
        Event::Rekeyed { .. } => Ok(()),
        Event::CertificateListed { certificate } => {
            directory::apply_listed(batch, certificate);
            Ok(())
        }
        Event::CrlPublished { number, crl } => {
            crate::sync::crl::apply(store, batch, *number, crl)
                .map_err(|e| ViewError::Register(e.into()))?;
            Ok(())
        }
        // An overdue request's escalation is a report that also marks the request.
        Event::ReportFiled {
            disposal: Some(_), ..
        } => {
            comms_view::apply(store, batch, meta, event)?;
            Ok(disposal_view::apply(store, batch, meta, event)?)
        }
        _ if event.disposal_id().is_some() => Ok(disposal_view::apply(store, batch, meta, event)?),
        _ if event.item_id().is_some() => Ok(comms_view::apply(store, batch, meta, event)?),
        _ => {
            // The overview counts risks: it follows each change the register applies.
            if let Some(change) = register_view::apply(store, batch, meta, event)? {
                let before = change.before.as_ref().map(risk_facts);
                // The gradings of the history the change carries (all of them when the record
                // arrived whole, in a shared snapshot): the overview reads rises from them.
                let gradings: Vec<overview::rise::Grading> = change
                    .after
                    .history
                    .iter()
                    .filter_map(|h| {
                        overview::rise::grading_in(&h.action, &h.summary).map(|level| {
                            overview::rise::Grading {
                                level,
                                at_ms: h.at_ms,
                            }
                        })
                    })
                    .collect();
                let after = RiskFacts {
                    gradings: &gradings,
                    from_start: change.after.history.first().is_some_and(|h| h.rev == 1),
                    ..risk_facts(&change.after)
                };
                overview::view::record_change(store, batch, before.as_ref(), &after, meta.at_ms)
                    .map_err(RegisterError::from)?;
                overview::linked::note_change(batch, meta, before.as_ref(), &after)
                    .map_err(RegisterError::from)?;
            }
            Ok(())
        }
    }
}

/// What the overview reads of a risk record.
fn risk_facts(r: &RiskRecord) -> RiskFacts<'_> {
    RiskFacts {
        id: &r.id,
        origin: &r.origin,
        title: &r.title,
        source: &r.source,
        level: r.level(),
        focus: r.focus,
        status: r.status,
        created_at_ms: r.created_at_ms,
        gradings: &[],
        from_start: false,
    }
}

/// Applies a stored or received entry; an entry whose event cannot be applied is logged and
/// skipped (it stays in the feed: the feed is the record, the view a reading of it).
pub fn apply_entry(store: &dyn Store, batch: &mut Batch, feed: &FeedId, entry: &Entry) {
    match Event::decode(&entry.payload) {
        Ok(event) => {
            let meta = crate::event::EntryMeta::of(entry);
            if let Err(err) = apply_event(store, batch, &meta, &event) {
                tracing::warn!(%feed, seq = entry.seq, error = %err, "entry not applied to the views");
            }
        }
        Err(err) => {
            tracing::warn!(%feed, seq = entry.seq, error = %err, "entry payload not understood")
        }
    }
    mark_applied(batch, feed, entry.seq);
}

/// Records that `feed` has been applied up to `seq`.
pub fn mark_applied(batch: &mut Batch, feed: &FeedId, seq: u64) {
    batch.insert(META_TREE, applied_key(feed), seq.to_be_bytes().to_vec());
}

/// Applies every held entry the views have not seen yet (all of them after the view trees are
/// deleted or the view format changed), then flushes. Returns how many entries were applied.
pub fn catch_up(store: &dyn Store) -> Result<u64, StoreError> {
    ensure_format(store)?;
    let total = apply_pending(store, u64::MAX, None)?;
    while overview::linked::fold_pending(store)? > 0 {}
    store.flush()?;
    Ok(total)
}

/// Clears the views when they were built by another view format.
fn ensure_format(store: &dyn Store) -> Result<(), StoreError> {
    let format = crate::store::read_u64(store.get(META_TREE, FORMAT_KEY)?);
    if format == VIEW_FORMAT {
        return Ok(());
    }
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
        VIEW_FORMAT.to_be_bytes().to_vec(),
    );
    store.commit(&b)
}

/// Applies what the views have not seen, feed by feed (per origin, narrower feeds first: a
/// risk's events only ever move to wider feeds). Not flushed: views are rebuilt from the
/// feeds, and `applied/…` commits atomically with what it covers. Stops after about `max`
/// entries (a whole chunk more at most). Feeds of `skip_origin` are left alone.
pub(crate) fn apply_pending(
    store: &dyn Store,
    max: u64,
    skip_origin: Option<&str>,
) -> Result<u64, StoreError> {
    let mut heads = feed::log::heads(store)?;
    heads.retain(|(f, _)| Some(f.origin.as_str()) != skip_origin);
    heads.sort_by(|(a, _), (b, _)| {
        (&a.origin, a.audience.breadth()).cmp(&(&b.origin, b.audience.breadth()))
    });
    let mut total = 0;
    for (feed, head) in heads {
        let mut applied = crate::store::read_u64(store.get(META_TREE, &applied_key(&feed))?);
        while applied < head.seq && total < max {
            let entries = feed::log::read(store, &feed, applied + 1, CATCH_UP_CHUNK)?;
            if entries.is_empty() {
                break;
            }
            let mut batch = Batch::new();
            for e in &entries {
                apply_entry(store, &mut batch, &feed, e);
                applied = e.seq;
                total += 1;
            }
            store.commit(&batch)?;
        }
    }
    Ok(total)
}

/// Deletes the view trees (the feeds stay).
pub fn clear(store: &dyn Store) -> Result<(), StoreError> {
    for t in VIEW_TREES {
        store.clear(t)?;
    }
    Ok(())
}

/// Deletes the views and rebuilds them from the feeds.
pub fn rebuild(store: &dyn Store) -> Result<u64, StoreError> {
    clear(store)?;
    catch_up(store)
}
