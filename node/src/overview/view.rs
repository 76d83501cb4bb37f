//! Keeping the overview's figures current: every change of a risk record, as the register
//! view applies it, moves one count from the record's old bucket to its new one, counts a
//! new or resolved risk on its day, and notes a level that rose. Never recomputed per query.
//!
//! Trees (views, rebuilt with the register):
//! - `overview_count`: `<origin>/<level|->/<focus>/<status>` → u64 BE, risks in that bucket;
//! - `overview_day`: u32 BE(day since 1970) ‖ `<origin>` ‖ 0x00 ‖ `n`|`r` → u64 BE, risks
//!   identified (`n`) or resolved (`r`) that day;
//! - `overview_rise`: u64 BE(at ms) ‖ risk id → JSON [`Rise`].
//!
//! A key names its origin, and only one thread changes an origin's records (the writer for
//! this node's own, the view applier for the others'), so the read-modify-write of a count
//! never races.

use serde::{Deserialize, Serialize};

use crate::domain::{FocusPoint, Level, RiskStatus};
use crate::register::record::RiskRecord;
use crate::register::view::read_u64;
use crate::store::{Batch, Store, StoreError};

/// Counts by bucket.
pub const COUNT_TREE: &str = "overview_count";
/// Counts by day.
pub const DAY_TREE: &str = "overview_day";
/// Levels that rose.
pub const RISE_TREE: &str = "overview_rise";

const DAY_MS: i64 = 86_400_000;

/// A risk whose level rose (became graver).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rise {
    /// The risk.
    pub id: String,
    /// Its county.
    pub origin: String,
    /// Its title then.
    pub title: String,
    /// The level before.
    pub from: Level,
    /// The level after.
    pub to: Level,
    /// When, Unix ms.
    pub at_ms: i64,
}

/// The bucket of a record: origin, level (if graded), focus, status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket<'a> {
    /// Division code of the origin.
    pub origin: &'a str,
    /// Its level, if graded.
    pub level: Option<Level>,
    /// Its focus point.
    pub focus: FocusPoint,
    /// Its status.
    pub status: RiskStatus,
}

impl<'a> Bucket<'a> {
    /// The bucket `r` is in.
    pub fn of(r: &'a RiskRecord) -> Self {
        Self {
            origin: &r.origin,
            level: r.level(),
            focus: r.focus,
            status: r.status,
        }
    }

    fn key(&self) -> Vec<u8> {
        format!(
            "{}/{}/{}/{}",
            self.origin,
            self.level.map_or("-", |l| l.as_str()),
            self.focus.as_str(),
            self.status.as_str()
        )
        .into_bytes()
    }

    /// Reads a key back; `None` for a malformed one.
    pub fn parse(key: &'a [u8]) -> Option<Self> {
        let text = std::str::from_utf8(key).ok()?;
        let mut parts = text.split('/');
        let origin = parts.next()?;
        let level = match parts.next()? {
            "-" => None,
            l => Some(l.parse().ok()?),
        };
        let focus = parts.next()?.parse().ok()?;
        let status = parts.next()?.parse().ok()?;
        Some(Self {
            origin,
            level,
            focus,
            status,
        })
    }
}

/// The day number (since 1970-01-01 UTC) of `ms`.
pub fn day_of(ms: i64) -> u32 {
    ms.div_euclid(DAY_MS).clamp(0, u32::MAX as i64) as u32
}

/// The key of `origin`'s count of `kind` (`n` new, `r` resolved) on `day`.
pub fn day_key(day: u32, origin: &str, kind: u8) -> Vec<u8> {
    let mut k = day.to_be_bytes().to_vec();
    k.extend_from_slice(origin.as_bytes());
    k.push(0);
    k.push(kind);
    k
}

fn add(
    store: &dyn Store,
    batch: &mut Batch,
    tree: &'static str,
    key: Vec<u8>,
    delta: i64,
) -> Result<(), StoreError> {
    let n = read_u64(batch.get(store, tree, &key)?) as i64 + delta;
    if n <= 0 {
        batch.remove(tree, key);
    } else {
        batch.insert(tree, key, (n as u64).to_be_bytes().to_vec());
    }
    Ok(())
}

/// Stages what the change of a risk from `before` to `after` (at `at_ms`) does to the
/// figures.
pub fn record_change(
    store: &dyn Store,
    batch: &mut Batch,
    before: Option<&RiskRecord>,
    after: &RiskRecord,
    at_ms: i64,
) -> Result<(), StoreError> {
    let new_bucket = Bucket::of(after);
    match before {
        Some(b) if Bucket::of(b) == new_bucket => {}
        Some(b) => {
            add(store, batch, COUNT_TREE, Bucket::of(b).key(), -1)?;
            add(store, batch, COUNT_TREE, new_bucket.key(), 1)?;
        }
        None => {
            add(store, batch, COUNT_TREE, new_bucket.key(), 1)?;
            let day = day_of(after.created_at_ms);
            add(store, batch, DAY_TREE, day_key(day, &after.origin, b'n'), 1)?;
        }
    }
    let was_resolved = before.is_some_and(|b| b.status == RiskStatus::Resolved);
    if after.status == RiskStatus::Resolved && !was_resolved {
        add(
            store,
            batch,
            DAY_TREE,
            day_key(day_of(at_ms), &after.origin, b'r'),
            1,
        )?;
    }
    if let (Some(from), Some(to)) = (before.and_then(RiskRecord::level), after.level()) {
        // Levels order I < II < III < IV: a lower level is graver.
        if to < from {
            let rise = Rise {
                id: after.id.clone(),
                origin: after.origin.clone(),
                title: after.title.clone(),
                from,
                to,
                at_ms,
            };
            let mut key = (at_ms.max(0) as u64).to_be_bytes().to_vec();
            key.extend_from_slice(after.id.as_bytes());
            let value = serde_json::to_vec(&rise)
                .map_err(|e| StoreError::Backend(format!("encoding a rise: {e}")))?;
            batch.insert(RISE_TREE, key, value);
        }
    }
    Ok(())
}
