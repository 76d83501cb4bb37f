//! Keeping the overview's figures current: every change of a risk record, as the register
//! view applies it, moves one count from the record's old bucket to its new one, counts a
//! new or resolved risk on its day, and notes a level that rose. Never recomputed per query.
//!
//! Trees (views, rebuilt with the register), laid out so a whole-province query reads a few
//! thousand keys however many risks there are:
//! - `overview_count`: `<origin>` → [`BUCKETS`] counts, u32 BE each, one per (level or
//!   ungraded, focus point, status): a county's whole row in one value;
//! - `overview_day`: u32 BE(local day since 1970, see [`day_of`]) ‖ `<origin>` → u64 BE
//!   identified ‖ u64 BE resolved that day;
//! - `overview_rise`: u64 BE(at ms) ‖ risk id ‖ 0x00 ‖ level index → JSON [`Rise`] (the key
//!   names county and new level, so filters skip without decoding; read newest first);
//! - `overview_rise_by_county`: `<origin>` ‖ 0x00 ‖ the rise's key → nothing, and
//!   `overview_rise_by_level`: level index ‖ the rise's key → nothing: a county's or a level's
//!   rises without walking every county's.
//!
//! A key names its origin, and only one thread changes an origin's records (the writer for
//! this node's own, the view applier for the others'), so the read-modify-write of a count
//! never races.

use serde::{Deserialize, Serialize};

use crate::domain::{FocusPoint, Level, RiskStatus};
use crate::store::{Batch, Store, StoreError};

use super::RiskFacts;

/// Counts by bucket.
pub const COUNT_TREE: &str = "overview_count";
/// Counts by day.
pub const DAY_TREE: &str = "overview_day";
/// Levels that rose.
pub const RISE_TREE: &str = "overview_rise";
/// The rises of each county (keys of [`RISE_TREE`] under the county).
pub(crate) const RISE_BY_COUNTY_TREE: &str = "overview_rise_by_county";
/// The rises to each level (keys of [`RISE_TREE`] under the level index).
pub(crate) const RISE_BY_LEVEL_TREE: &str = "overview_rise_by_level";

/// The prefix of a county's keys in [`RISE_BY_COUNTY_TREE`].
pub(crate) fn county_prefix(origin: &str) -> Vec<u8> {
    let mut k = origin.as_bytes().to_vec();
    k.push(0);
    k
}

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
pub(crate) struct Bucket<'a> {
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
    pub fn of(r: &RiskFacts<'a>) -> Self {
        Self {
            origin: r.origin,
            level: r.level,
            focus: r.focus,
            status: r.status,
        }
    }

    /// Its place in a county's row of counts.
    pub fn index(&self) -> usize {
        let level = self.level.map_or(4, level_index);
        let focus = FocusPoint::ALL
            .iter()
            .position(|f| *f == self.focus)
            .unwrap_or(0);
        let status = RiskStatus::ALL
            .iter()
            .position(|s| *s == self.status)
            .unwrap_or(0);
        (level * FocusPoint::ALL.len() + focus) * RiskStatus::ALL.len() + status
    }
}

/// Counts in a county's row: (I–IV or ungraded) × focus points × statuses.
pub(crate) const BUCKETS: usize = 5 * 6 * RiskStatus::ALL.len();

/// Statuses in a row written before `ruled-out` existed: the first five of
/// [`RiskStatus::ALL`], in the same order.
const OLD_STATUSES: usize = 5;

/// The position of `l` among I–IV.
pub(crate) fn level_index(l: Level) -> usize {
    Level::ALL.iter().position(|x| *x == l).unwrap_or(0)
}

/// The (level, focus point, status) of place `i` of a row.
pub(crate) fn bucket_at(i: usize) -> (Option<Level>, FocusPoint, RiskStatus) {
    let (statuses, focuses) = (RiskStatus::ALL.len(), FocusPoint::ALL.len());
    let status = RiskStatus::ALL[i % statuses];
    let focus = FocusPoint::ALL[(i / statuses) % focuses];
    let level = Level::ALL.get(i / statuses / focuses).copied();
    (level, focus, status)
}

/// Reads a county's row of counts; a row of the size written before `ruled-out` existed is
/// read into the places of today's row (so the figures survive an upgrade without a rebuild);
/// a value of any other size reads as zeros.
pub(crate) fn decode_row(v: &[u8]) -> [u32; BUCKETS] {
    let mut row = [0u32; BUCKETS];
    let statuses = match v.len() / 4 {
        n if n * 4 == v.len() && n == BUCKETS => RiskStatus::ALL.len(),
        n if n * 4 == v.len() && n == BUCKETS / RiskStatus::ALL.len() * OLD_STATUSES => {
            OLD_STATUSES
        }
        _ => return row,
    };
    for (i, chunk) in v.chunks_exact(4).enumerate() {
        let (group, status) = (i / statuses, i % statuses);
        row[group * RiskStatus::ALL.len() + status] =
            u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    row
}

fn encode_row(row: &[u32; BUCKETS]) -> Vec<u8> {
    row.iter().flat_map(|n| n.to_be_bytes()).collect()
}

/// Moves one risk of `origin` out of place `from` (if any) into place `to`.
fn move_count(
    store: &dyn Store,
    batch: &mut Batch,
    origin: &str,
    from: Option<usize>,
    to: usize,
) -> Result<(), StoreError> {
    let mut row = decode_row(
        &batch
            .get(store, COUNT_TREE, origin.as_bytes())?
            .unwrap_or_default(),
    );
    if let Some(f) = from {
        row[f] = row[f].saturating_sub(1);
    }
    row[to] = row[to].saturating_add(1);
    batch.insert(COUNT_TREE, origin.as_bytes().to_vec(), encode_row(&row));
    Ok(())
}

/// The day number of `ms` on the local calendar (days since 1970-01-01 in the display zone,
/// [`crate::timespec::local_day`]): a risk found at 07:00 in Beijing counts on that day, not
/// on the UTC day before. The node rebuilds its views when its zone changes (`start`).
pub fn day_of(ms: i64) -> u32 {
    crate::timespec::local_day(ms).clamp(0, i64::from(u32::MAX)) as u32
}

/// The key of `origin`'s counts on `day`.
pub(crate) fn day_key(day: u32, origin: &str) -> Vec<u8> {
    let mut k = day.to_be_bytes().to_vec();
    k.extend_from_slice(origin.as_bytes());
    k
}

/// Reads a day's (identified, resolved); malformed values read as zeros.
pub(crate) fn decode_day(v: &[u8]) -> (u64, u64) {
    let half = |r: std::ops::Range<usize>| {
        v.get(r)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map_or(0, u64::from_be_bytes)
    };
    (half(0..8), half(8..16))
}

/// Counts one more risk of `origin` identified (`resolved` false) or resolved on `day`.
fn count_day(
    store: &dyn Store,
    batch: &mut Batch,
    day: u32,
    origin: &str,
    resolved: bool,
) -> Result<(), StoreError> {
    let key = day_key(day, origin);
    let (mut n, mut r) = decode_day(&batch.get(store, DAY_TREE, &key)?.unwrap_or_default());
    if resolved {
        r += 1;
    } else {
        n += 1;
    }
    let mut v = n.to_be_bytes().to_vec();
    v.extend_from_slice(&r.to_be_bytes());
    batch.insert(DAY_TREE, key, v);
    Ok(())
}

/// Stages what the change of a risk from `before` to `after` (at `at_ms`) does to the
/// figures.
pub(crate) fn record_change(
    store: &dyn Store,
    batch: &mut Batch,
    before: Option<&RiskFacts<'_>>,
    after: &RiskFacts<'_>,
    at_ms: i64,
) -> Result<(), StoreError> {
    let new_bucket = Bucket::of(after);
    match before {
        Some(b) if Bucket::of(b) == new_bucket => {}
        Some(b) => {
            let from = Bucket::of(b).index();
            move_count(store, batch, after.origin, Some(from), new_bucket.index())?;
        }
        None => {
            move_count(store, batch, after.origin, None, new_bucket.index())?;
            count_day(
                store,
                batch,
                day_of(after.created_at_ms),
                after.origin,
                false,
            )?;
        }
    }
    let was_resolved = before.is_some_and(|b| b.status == RiskStatus::Resolved);
    if after.status == RiskStatus::Resolved && !was_resolved {
        count_day(store, batch, day_of(at_ms), after.origin, true)?;
    }
    for rise in super::rise::rises(before, after, at_ms) {
        stage_rise(batch, &rise)?;
    }
    Ok(())
}

/// Stages `rise` under its key and in both indexes. The key is the same however often the
/// rise is seen (again in a wider snapshot, or on a rebuild): staging it twice is harmless.
fn stage_rise(batch: &mut Batch, rise: &Rise) -> Result<(), StoreError> {
    let mut key = (rise.at_ms.max(0) as u64).to_be_bytes().to_vec();
    key.extend_from_slice(rise.id.as_bytes());
    key.push(0);
    key.push(level_index(rise.to) as u8);
    let value = serde_json::to_vec(rise)
        .map_err(|e| StoreError::Backend(format!("encoding a rise: {e}")))?;
    let mut by_county = county_prefix(&rise.origin);
    by_county.extend_from_slice(&key);
    batch.insert(RISE_BY_COUNTY_TREE, by_county, Vec::new());
    let mut by_level = vec![level_index(rise.to) as u8];
    by_level.extend_from_slice(&key);
    batch.insert(RISE_BY_LEVEL_TREE, by_level, Vec::new());
    batch.insert(RISE_TREE, key, value);
    Ok(())
}

#[cfg(test)]
mod layout_tests {
    use super::*;

    #[test]
    fn every_bucket_has_its_own_place_in_a_row() {
        let mut seen = std::collections::BTreeSet::new();
        for level in Level::ALL.map(Some).into_iter().chain([None]) {
            for focus in FocusPoint::ALL {
                for status in RiskStatus::ALL {
                    let b = Bucket {
                        origin: "510104",
                        level,
                        focus,
                        status,
                    };
                    let i = b.index();
                    assert!(i < BUCKETS && seen.insert(i), "{b:?} → {i}");
                    assert_eq!(bucket_at(i), (level, focus, status));
                }
            }
        }
        assert_eq!(seen.len(), BUCKETS);
        let mut row = [0u32; BUCKETS];
        row[7] = 3;
        row[BUCKETS - 1] = 1;
        assert_eq!(decode_row(&encode_row(&row)), row);
        assert_eq!(decode_row(b"junk"), [0; BUCKETS]);
        // A row written with five statuses (before ruled-out) keeps its counts in place.
        let old_buckets = BUCKETS / RiskStatus::ALL.len() * OLD_STATUSES;
        let old: Vec<u8> = (0..old_buckets as u32)
            .flat_map(|n| (n + 1).to_be_bytes())
            .collect();
        let read = decode_row(&old);
        for i in 0..old_buckets {
            let (group, status) = (i / OLD_STATUSES, i % OLD_STATUSES);
            let b = group * RiskStatus::ALL.len() + status;
            assert_eq!(read[b], i as u32 + 1, "{:?}", bucket_at(b));
            assert_ne!(bucket_at(b).2, RiskStatus::RuledOut);
        }
        assert_eq!(
            read.iter().filter(|n| **n == 0).count(),
            BUCKETS - old_buckets
        );
        assert_eq!(decode_day(&[]), (0, 0));
    }

    #[test]
    fn a_risk_found_early_in_the_morning_counts_on_its_local_day() {
        // 2026-12-07 07:00 in Beijing is 2026-12-06 23:00 UTC (the default display zone).
        let at = crate::timespec::parse_time("2026-12-07T07:00:00+08:00", 0).unwrap();
        assert_eq!(super::super::day_text(day_of(at)), "2026-12-07");
        assert_eq!(day_of(-5), 0);
    }
}
