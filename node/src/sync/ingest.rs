//! Verifying and storing a run of entries received from a peer. Runs through the writer, so
//! the same entry arriving by two paths is stored once; the views apply it right after.
//!
//! Entries already held are compared with what is held: a different entry at the same (feed,
//! sequence) is **equivocation**: kept as evidence in `equivocation_evidence`, the run refused.
//!
//! New entries that are genuine (chain and signature) must also be valid
//! ([`crate::event::check::entry`]): the first invalid one quarantines its feed
//! ([`super::quarantine`]); what precedes it is kept up to its last signed entry.

use ed25519_dalek::VerifyingKey;
use prost::Message;

use super::quarantine::{self, Quarantined};
use crate::event::check;
use crate::feed::entry::verify_run;
use crate::feed::{self, Entry, FeedError, FeedId};
use crate::store::{Batch, Store, StoreError};

/// Tree of equivocation evidence: `feed` 0x00 u64be(seq) 0x00 hash → the conflicting entry.
pub const EVIDENCE_TREE: &str = "equivocation_evidence";

/// Why a received run was refused.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The run is empty or mixes feeds.
    #[error("malformed run: {0}")]
    Malformed(String),
    /// Hash, chain, contiguity or signature failed.
    #[error(transparent)]
    Verify(#[from] FeedError),
    /// A different entry is already held at this position.
    #[error("equivocation: {feed} #{seq} differs from the entry already held (kept as evidence)")]
    Equivocation {
        /// The feed.
        feed: String,
        /// The position.
        seq: u64,
    },
    /// Entries a re-keyed origin's retired key signed after the head the province trusts.
    #[error("{feed} #{seq}: signed by the retired key of a re-keyed origin after the head the province trusts (kept as evidence)")]
    SetAside {
        /// The feed.
        feed: String,
        /// The first such entry.
        seq: u64,
    },
    /// The run starts after a gap.
    #[error("{feed}: run starts at #{first} but only #{held} is held")]
    Gap {
        /// The feed.
        feed: String,
        /// First sequence number of the run.
        first: u64,
        /// Highest held.
        held: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a run added.
#[derive(Debug, Clone)]
pub struct Ingested {
    /// The feed.
    pub feed: FeedId,
    /// New entries stored.
    pub stored: usize,
    /// Entries already held (identical), skipped.
    pub duplicates: usize,
    /// The feed's head after the run.
    pub head: u64,
    /// Set when an entry of the run was genuine but invalid: the feed is held before it.
    pub quarantined: Option<Quarantined>,
    /// The feed had been quarantined and this run took it past the refused entry.
    pub released: bool,
    /// Feeds a re-key in this run cut back.
    pub truncated: Vec<super::rekey::Truncated>,
}

fn keep_evidence(batch: &mut Batch, feed: &FeedId, e: &Entry) {
    let mut key = feed.to_string().into_bytes();
    key.push(0);
    key.extend_from_slice(&e.seq.to_be_bytes());
    key.push(0);
    key.extend_from_slice(&e.hash);
    batch.insert(EVIDENCE_TREE, key, e.encode_to_vec());
}

/// Checks `entries` (one feed, contiguous, ending signed) against what is held and stages the
/// new ones into `batch`. On refusal nothing is staged except equivocation evidence. A
/// genuine run with an invalid entry stages what precedes it (up to its last signed entry)
/// and the feed's quarantine record; `now_ms` is the receiver's clock.
pub fn stage_run(
    store: &dyn Store,
    batch: &mut Batch,
    entries: &[Entry],
    origin_key: &VerifyingKey,
    now_ms: i64,
) -> Result<Ingested, IngestError> {
    let first = entries
        .first()
        .ok_or_else(|| IngestError::Malformed("empty run".into()))?;
    let feed =
        FeedId::of(first).ok_or_else(|| IngestError::Malformed("unknown audience".into()))?;
    let head = feed::log::head(&batch.over(store), &feed)?;
    let duplicates = entries.iter().take_while(|e| e.seq <= head.seq).count();
    // Entries are hash-chained: if the last one already held is identical, so is every one
    // before it, and one lookup settles the whole prefix (the common case of a relayed run).
    let settled = match duplicates.checked_sub(1).map(|i| &entries[i]) {
        None => true,
        Some(last) => feed::log::get_through(store, batch, &feed, last.seq)?
            .is_some_and(|h| h.hash == last.hash),
    };
    if !settled {
        for (i, e) in entries[..duplicates].iter().enumerate() {
            if feed::log::get_through(store, batch, &feed, e.seq)?.is_some_and(|h| h.hash == e.hash)
            {
                continue;
            }
            // Only the origin can equivocate: the conflicting entry and the rest of the
            // run must be a chain its key signed, or this is an ordinary bad run (anyone
            // could otherwise make an honest origin look like it forked its feed).
            verify_run(
                &feed,
                e.seq.saturating_sub(1),
                &e.prev_hash,
                &entries[i..],
                origin_key,
            )?;
            keep_evidence(batch, &feed, e);
            return Err(IngestError::Equivocation {
                feed: feed.to_string(),
                seq: e.seq,
            });
        }
    }
    let new = &entries[duplicates..];
    if new.is_empty() {
        return Ok(Ingested {
            feed,
            stored: 0,
            duplicates,
            head: head.seq,
            quarantined: None,
            released: false,
            truncated: Vec::new(),
        });
    }
    if new[0].seq != head.seq + 1 {
        return Err(IngestError::Gap {
            feed: feed.to_string(),
            first: new[0].seq,
            held: head.seq,
        });
    }
    verify_new(store, batch, &feed, &head, new, origin_key)?;
    // Genuine; now valid? Each entry gets the checks local input gets, and its timestamp
    // must not go back from the entry before it.
    let mut previous = head.timestamp_ms;
    let mut keep = new.len();
    let mut quarantined = None;
    let mut rekeys = Vec::new();
    // The province's directory, read only for an entry that names counties.
    let mut listed: Option<Option<std::collections::BTreeSet<String>>> = None;
    for (i, e) in new.iter().enumerate() {
        let mut checked = check::entry(e, previous, now_ms);
        let named = match &checked {
            Ok(event) if !check::county_codes_named(event).is_empty() => {
                if listed.is_none() {
                    listed = Some(super::directory::listed_counties(&batch.over(store))?);
                }
                check::listed_codes(event, listed.as_ref().and_then(|l| l.as_ref()))
            }
            _ => Ok(()),
        };
        if let Err(err) = named {
            checked = Err(err);
        }
        // A listing counts for the entries after it, in this run and the next.
        if let Ok(crate::event::Event::CertificateListed { certificate }) = &checked {
            super::directory::apply_listed(batch, certificate);
            listed = None;
        }
        if let Ok(event @ crate::event::Event::Rekeyed { .. }) = &checked {
            rekeys.push((e.seq, event.clone()));
        }
        if let Err(reason) = checked {
            // Only a signed entry can be a head (a run sent on must end signed).
            keep = new[..i]
                .iter()
                .rposition(|e| !e.signature.is_empty())
                .map_or(0, |p| p + 1);
            let record = Quarantined {
                format: 1,
                feed: feed.to_string(),
                seq: e.seq,
                hash: hex::encode(&e.hash),
                reason: reason.to_string(),
                since_ms: now_ms,
                transient: reason.is_transient(),
            };
            let known = quarantine::get(&batch.over(store), &feed)?;
            let new = known
                .as_ref()
                .is_none_or(|k| k.seq != record.seq || k.hash != record.hash);
            // A refusal that depends on this node is not kept: the entry is tried again.
            if new && !record.transient {
                quarantine::stage(batch, &feed, &record);
            }
            quarantined = Some(record);
            break;
        }
        previous = Some(e.timestamp_ms);
    }
    let kept = &new[..keep];
    let new_head = kept.last().map(|e| e.seq).unwrap_or(head.seq);
    let mut released = false;
    if quarantined.is_none() {
        if let Some(q) = quarantine::get(&batch.over(store), &feed)? {
            if new_head >= q.seq {
                quarantine::stage_clear(batch, &feed);
                released = true;
            }
        }
    }
    // A few blocks per run; views catch up off the writer thread (`services::applier`).
    feed::log::stage_block(batch, &feed, kept);
    // A re-key takes effect in the commit that stores it, before any later run is checked.
    let mut truncated = Vec::new();
    let stored_through = kept.last().map_or(0, |e| e.seq);
    for (seq, event) in &rekeys {
        if *seq <= stored_through {
            truncated.extend(super::rekey::apply(store, batch, event)?);
        }
    }
    Ok(Ingested {
        stored: kept.len(),
        duplicates,
        head: new_head,
        feed,
        quarantined,
        released,
        truncated,
    })
}

/// Checks the new entries of a run: chain and signature with the origin's key, or, for a
/// re-keyed origin, the retired key up to the head the province trusts and the new key after
/// it. What the retired key signed past that head is kept as evidence and refused.
fn verify_new(
    store: &dyn Store,
    batch: &mut Batch,
    feed: &FeedId,
    head: &feed::log::Head,
    new: &[Entry],
    key: &VerifyingKey,
) -> Result<(), IngestError> {
    let Some(r) = super::rekey::retired(&batch.over(store), feed)? else {
        return Ok(verify_run(feed, head.seq, &head.hash, new, key)?);
    };
    let split = new.iter().take_while(|e| e.seq <= r.seq).count();
    let (old, after) = new.split_at(split);
    if let Some(last) = old.last() {
        match verify_run(feed, head.seq, &head.hash, old, &r.key) {
            Ok(()) => {}
            // The province's record vouches for the trusted head itself.
            Err(FeedError::Unsigned { .. }) if last.seq == r.seq && last.hash == r.hash => {}
            Err(e) => return Err(e.into()),
        }
        if last.seq == r.seq && last.hash != r.hash {
            return Err(IngestError::Malformed(format!(
                "{feed} #{}: not the entry the province trusts there",
                r.seq
            )));
        }
    }
    if after.is_empty() {
        return Ok(());
    }
    let (prev_seq, prev_hash) = match old.last() {
        Some(l) => (l.seq, l.hash.clone()),
        None => (head.seq, head.hash.clone()),
    };
    // Past the trusted head only the new key counts: the one the province named, not one a
    // peer presents (that could be the retired certificate, still valid where the CRL lags).
    let new_key = r.current.as_ref().unwrap_or(key);
    let by_new = if prev_seq == r.seq && prev_hash != r.hash {
        Err(FeedError::BrokenChain {
            feed: feed.to_string(),
            seq: after[0].seq,
        })
    } else {
        verify_run(feed, prev_seq, &prev_hash, after, new_key)
    };
    match by_new {
        Ok(()) => Ok(()),
        Err(e) => {
            if verify_run(feed, prev_seq, &prev_hash, after, &r.key).is_ok() {
                for x in after {
                    super::rekey::keep_evidence(batch, feed, x);
                }
                Err(IngestError::SetAside {
                    feed: feed.to_string(),
                    seq: after[0].seq,
                })
            } else {
                Err(e.into())
            }
        }
    }
}

/// How many equivocations are kept as evidence.
pub fn evidence_count(store: &dyn Store) -> usize {
    store.scan_prefix(EVIDENCE_TREE, b"").count()
}
