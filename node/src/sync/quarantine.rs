//! Feeds held back at an invalid entry. An entry whose origin signed it but whose content
//! fails the checks (`event::check`) is neither stored nor relayed: its feed waits at the
//! entry before it, an alarm is raised, and later arrivals of the same entry are refused
//! cheaply, counted and logged at most once a minute, so a bad feed cannot become a hot loop.
//!
//! Tree `feed_quarantine`: `origin#audience` → JSON [`Quarantined`] (format 1). The record is
//! written by the writer in the commit that refuses the entry and removed in the commit that
//! takes the feed past it (an origin's re-keyed continuation, or a newer build that accepts
//! it). [`Quarantine`] holds the same records in memory, with counts, for sessions and health.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::feed::FeedId;
use crate::store::{Batch, Read, Store, StoreError};

/// Tree of quarantined feeds.
pub const TREE: &str = "feed_quarantine";
/// How often a repeated refusal of the same entry is logged.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// A feed held back at one entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantined {
    /// Record format.
    pub format: u32,
    /// The feed, `origin#audience`.
    pub feed: String,
    /// The refused entry's sequence number: the feed is held at the one before.
    pub seq: u64,
    /// The refused entry's hash, hex.
    pub hash: String,
    /// Why it was refused.
    pub reason: String,
    /// When it was first refused, Unix ms.
    pub since_ms: i64,
    /// The refusal depends on this node (its clock, its copy of the directory, its build):
    /// the entry is tried again as it comes, and the record is not kept across restarts.
    #[serde(default)]
    pub transient: bool,
}

impl Quarantined {
    /// What an operator should do about it.
    pub fn advice(&self) -> String {
        let origin = self.feed.split('#').next().unwrap_or_default();
        if self.transient {
            return format!(
                "{origin}'s feed waits at #{} for something this node lacks ({}): check this node's clock, that the gateway publishes the CA's directory, and that this node runs the newest release; the entry is tried again as it comes",
                self.seq.saturating_sub(1),
                self.reason
            );
        }
        format!(
            "{origin} signed an entry this node refuses ({}); its feed waits at #{}. Ask {origin}'s operator: the node may be compromised (see docs/operations.md, \"A compromised county\") or run a build that writes what others refuse.",
            self.reason,
            self.seq.saturating_sub(1)
        )
    }
}

fn key(feed: &FeedId) -> Vec<u8> {
    feed.to_string().into_bytes()
}

/// Stages the record of a refused entry (replacing an older one of the same feed).
pub fn stage(batch: &mut Batch, feed: &FeedId, record: &Quarantined) {
    batch.insert(
        TREE,
        key(feed),
        serde_json::to_vec(record).unwrap_or_default(),
    );
}

/// The record of `feed`, seeing `batch`'s pending writes.
pub fn get(src: &(impl Read + ?Sized), feed: &FeedId) -> Result<Option<Quarantined>, StoreError> {
    Ok(src
        .value(TREE, &key(feed))?
        .and_then(|v| serde_json::from_slice(&v).ok()))
}

/// Stages the removal of `feed`'s record.
pub fn stage_clear(batch: &mut Batch, feed: &FeedId) {
    batch.remove(TREE, key(feed));
}

/// Every record in the store.
pub fn all(store: &dyn Store) -> Result<Vec<Quarantined>, StoreError> {
    let mut out = Vec::new();
    for kv in store.scan_prefix(TREE, b"") {
        let (_, v) = kv?;
        if let Ok(r) = serde_json::from_slice(&v) {
            out.push(r);
        }
    }
    Ok(out)
}

/// One quarantined feed as this node knows it now.
#[derive(Debug, Clone)]
pub struct Held {
    /// The stored record.
    pub record: Quarantined,
    /// Refusals of it since this node started.
    pub refusals: u64,
    /// Refusals not yet logged.
    unlogged: u64,
    /// When it was last logged.
    logged: Option<Instant>,
}

/// The quarantined feeds of a node, in memory: refusals counted, alarms rate-limited.
#[derive(Debug, Default)]
pub struct Quarantine {
    held: Mutex<HashMap<String, Held>>,
}

impl Quarantine {
    /// Loads the records kept in `store`.
    pub fn load(store: &dyn Store) -> Result<Self, StoreError> {
        let held = all(store)?
            .into_iter()
            .map(|record| {
                (
                    record.feed.clone(),
                    Held {
                        record,
                        refusals: 0,
                        unlogged: 0,
                        logged: None,
                    },
                )
            })
            .collect();
        Ok(Self {
            held: Mutex::new(held),
        })
    }

    /// The record `feed` is held at, when `entries` (one feed) carry that very entry: they
    /// are refused again without going to the writer.
    pub fn holds(&self, feed: &FeedId, entries: &[crate::feed::Entry]) -> Option<Quarantined> {
        let held = self.held.lock().ok()?;
        let h = held
            .get(&feed.to_string())
            .filter(|h| !h.record.transient)?;
        entries
            .iter()
            .any(|e| e.seq == h.record.seq && hex::encode(&e.hash) == h.record.hash)
            .then(|| h.record.clone())
    }

    /// Records a refusal of `record`'s entry (new or again) and raises the alarm: logged the
    /// first time, then at most once a minute with the count since.
    pub fn refused(&self, record: &Quarantined, peer: &str) {
        let Ok(mut held) = self.held.lock() else {
            return;
        };
        let h = held.entry(record.feed.clone()).or_insert_with(|| Held {
            record: record.clone(),
            refusals: 0,
            unlogged: 0,
            logged: None,
        });
        if h.record.seq != record.seq || h.record.hash != record.hash {
            h.record = record.clone();
            h.logged = None;
        }
        h.refusals += 1;
        h.unlogged += 1;
        let due = h.logged.is_none_or(|t| t.elapsed() >= LOG_EVERY);
        if due {
            tracing::error!(
                alarm = "quarantine",
                feed = %h.record.feed,
                seq = h.record.seq,
                reason = %h.record.reason,
                refusals = h.unlogged,
                from = %peer,
                "ALARM: feed quarantined: {}",
                h.record.advice()
            );
            h.unlogged = 0;
            h.logged = Some(Instant::now());
        }
    }

    /// Forgets `feed`'s quarantine (the feed moved past the entry).
    pub fn cleared(&self, feed: &FeedId) {
        if let Ok(mut held) = self.held.lock() {
            if held.remove(&feed.to_string()).is_some() {
                tracing::info!(%feed, "feed no longer quarantined");
            }
        }
    }

    /// Every quarantined feed, by feed.
    pub fn snapshot(&self) -> Vec<Held> {
        let mut v: Vec<Held> = self
            .held
            .lock()
            .map(|h| h.values().cloned().collect())
            .unwrap_or_default();
        v.sort_by(|a, b| a.record.feed.cmp(&b.record.feed));
        v
    }
}

/// Logs a recurring warning at most once a minute per key, with the count since.
#[derive(Debug, Default)]
pub struct LogLimiter {
    seen: Mutex<HashMap<String, (Instant, u64)>>,
}

impl LogLimiter {
    /// Returns `Some(count)` when the warning for `key` should be logged now (the count of
    /// occurrences it covers), `None` while it is held back.
    pub fn due(&self, key: &str) -> Option<u64> {
        let Ok(mut seen) = self.seen.lock() else {
            return Some(1);
        };
        if seen.len() > 10_000 {
            seen.clear();
        }
        match seen.get_mut(key) {
            Some((at, n)) if at.elapsed() < LOG_EVERY => {
                *n += 1;
                None
            }
            Some((at, n)) => {
                let count = *n + 1;
                *at = Instant::now();
                *n = 0;
                Some(count)
            }
            None => {
                seen.insert(key.to_owned(), (Instant::now(), 0));
                Some(1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_warnings_are_held_back() {
        let l = LogLimiter::default();
        assert_eq!(l.due("a"), Some(1));
        assert_eq!(l.due("a"), None);
        assert_eq!(l.due("a"), None);
        assert_eq!(l.due("b"), Some(1));
    }
}
