//! Views: everything a node shows is derived from the feeds it holds. Each entry is applied
//! to the view that owns its event — the risk register ([`crate::register::view`]), the
//! communications ([`crate::comms::view`]) or the federation directory
//! ([`crate::sync::directory`]) — in the same commit that stores it.
//!
//! `view_meta` records, per feed, the last sequence number applied. At start the node applies
//! whatever its views have not seen, so deleting the view trees (or changing the view format)
//! rebuilds them from the feeds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

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
pub const META_TREE: &str = crate::counters::TREE;
/// Bump to make every node rebuild its views from the feeds at start.
const VIEW_FORMAT: u64 = 11;
const FORMAT_KEY: &[u8] = b"format";
const CATCH_UP_CHUNK: usize = 1000;
/// Entries the view applier applies per pass.
const APPLY_SLICE: u64 = 5000;

/// Every tree that holds a view (deleted on rebuild).
pub const VIEW_TREES: &[&str] = &[
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
                let after = risk_facts(&change.after);
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
pub fn apply_pending(
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

/// Under sustained traffic, let commits gather after the first: one pass applies them all.
/// Views of received entries lag by this much more; in return the applier runs a few times
/// less often, which at 1,000 entries/s across ten nodes on two cores took a quarter off the
/// sync latencies.
const GATHER: Duration = Duration::from_millis(50);
/// A commit after this long without one is applied at once: sporadic traffic (an alert, its
/// acknowledgment) gains nothing from gathering, and each gather was half of an alert's
/// issue-to-acknowledgment round trip.
const QUIET: Duration = Duration::from_millis(100);

/// How long to let commits gather after one arrives `since_last` after the last pass that
/// applied received entries; never when those entries include communications people wait on.
fn gather_after(since_last: Duration, urgent: bool) -> Duration {
    if urgent || since_last >= QUIET {
        Duration::ZERO
    } else {
        GATHER
    }
}
/// While sync is storing a backlog, the applier rests this many times as long as its last
/// slice took: views get about a quarter of a core, sync the rest (views were over 40 % of
/// the CPU during a catch-up, slowing it), and views catch up when sync quiets down.
const YIELD_FACTOR: u32 = 3;

/// What the applier does after a pass.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    /// Apply the next slice at once.
    Apply,
    /// Rest this long, then apply the next slice.
    Rest(Duration),
    /// Everything is applied: wait for the next commit.
    Wait,
}

/// After a pass that applied `applied` entries in `busy`, with `sync_active` telling whether
/// the writer committed meanwhile.
fn next_after(applied: u64, busy: Duration, sync_active: bool) -> Next {
    if applied < APPLY_SLICE {
        Next::Wait
    } else if sync_active {
        Next::Rest(busy * YIELD_FACTOR)
    } else {
        Next::Apply
    }
}

/// Keeps the views current with entries received from peers: after every commit, applies
/// what is new, off the writer thread, yielding to sync while it stores a backlog (see
/// [`YIELD_FACTOR`]). The feeds of `origin` (this node) are not its business: the writer
/// applies every entry of them in the commit that stores it, as it must check commands
/// against them (and a commit may be seen half-applied for a moment: the applier could
/// otherwise find an entry of this node stored but not yet marked applied). Bumps `passes`
/// after every pass that applied something. Lets commits gather under sustained traffic,
/// not after a quiet spell nor when `urgent` says communications arrived. Ends when the
/// writer stops.
pub fn spawn_applier(
    lock: Arc<std::sync::Mutex<()>>,
    store: Arc<dyn Store>,
    mut commits: watch::Receiver<u64>,
    urgent: crate::writer::Urgent,
    origin: String,
    passes: watch::Sender<u64>,
) {
    tokio::spawn(async move {
        // When a pass last applied received entries: the traffic the gathering is for
        // (this node's own commits wake the applier too, but give it nothing to apply).
        let mut last_applied = Instant::now();
        loop {
            let s = store.clone();
            let own = origin.clone();
            let lock = lock.clone();
            commits.borrow_and_update();
            let started = Instant::now();
            // In slices, so a large backlog never holds up shutdown for long.
            let applied = match tokio::task::spawn_blocking(move || {
                // Not while the writer rebuilds the views after a re-key.
                let _views = lock.lock().unwrap_or_else(|p| p.into_inner());
                let n = apply_pending(s.as_ref(), APPLY_SLICE, Some(&own))?;
                // This task alone writes the linked-risk index (see `overview::linked`).
                overview::linked::fold_pending(s.as_ref())?;
                Ok::<_, StoreError>(n)
            })
            .await
            {
                Ok(Ok(n)) => n,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "applying received entries to the views failed");
                    0
                }
                Err(e) => {
                    tracing::error!(error = %e, "view applier panicked");
                    0
                }
            };
            if applied > 0 {
                passes.send_modify(|n| *n += 1);
                last_applied = Instant::now();
            }
            let sync_active = commits.has_changed().unwrap_or(false);
            match next_after(applied, started.elapsed(), sync_active) {
                Next::Apply => continue,
                Next::Rest(d) => {
                    tokio::time::sleep(d).await;
                    continue;
                }
                Next::Wait => {}
            }
            if commits.changed().await.is_err() {
                break;
            }
            let gather = gather_after(last_applied.elapsed(), urgent.take());
            if !gather.is_zero() {
                // Communications arriving meanwhile end the gathering.
                tokio::select! {
                    _ = tokio::time::sleep(gather) => {}
                    _ = urgent.wait() => {}
                }
                urgent.take();
            }
        }
    });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_gather_only_under_sustained_traffic() {
        assert_eq!(gather_after(Duration::from_millis(5), false), GATHER);
        assert_eq!(gather_after(Duration::from_millis(5), true), Duration::ZERO);
        assert_eq!(gather_after(QUIET, false), Duration::ZERO);
        assert_eq!(gather_after(Duration::from_secs(30), false), Duration::ZERO);
    }

    #[test]
    fn the_applier_yields_to_sync_only_while_it_stores_a_backlog() {
        let ms = Duration::from_millis;
        assert_eq!(next_after(10, ms(1), true), Next::Wait);
        assert_eq!(next_after(APPLY_SLICE, ms(40), false), Next::Apply);
        assert_eq!(
            next_after(APPLY_SLICE, ms(40), true),
            Next::Rest(ms(40) * YIELD_FACTOR)
        );
    }
}
