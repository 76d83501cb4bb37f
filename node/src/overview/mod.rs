//! The overview (全省概览): the province at a glance — active risks by level, focus point and
//! status, a county × level table, new and resolved risks per day, risks whose level rose.
//! Its figures are a view kept current as entries are applied ([`view`]); a query only sums
//! a few thousand counts, whatever the number of risks. [`linked`] groups risks of different
//! counties that point at the same source.

pub mod linked;
pub mod rise;
pub mod view;

use std::collections::BTreeMap;

use crate::domain::{FocusPoint, Level, RiskStatus};
use crate::store::{KeyValue, Store, StoreError};
use crate::sync::directory;

/// What the overview counts of a risk: the register's record, as the views dispatcher hands
/// it over (the overview reads no other area).
#[derive(Debug, Clone, Copy)]
pub struct RiskFacts<'a> {
    /// `<county>-<n>`.
    pub id: &'a str,
    /// Division code of the owning county (or province).
    pub origin: &'a str,
    /// Short title.
    pub title: &'a str,
    /// Where the opinion lives.
    pub source: &'a str,
    /// The current level, if graded.
    pub level: Option<Level>,
    /// Focus point.
    pub focus: FocusPoint,
    /// Where it stands.
    pub status: RiskStatus,
    /// When identified, Unix ms.
    pub created_at_ms: i64,
    /// The gradings the change brings, oldest first (read with [`rise::grading_in`]): every
    /// one of the risk's history when `from_start`, else the one this change made, if any.
    pub gradings: &'a [rise::Grading],
    /// Whether the record arrived with its whole history (a shared snapshot), so `gradings`
    /// starts at the risk's creation rather than where the record before the change stood.
    pub from_start: bool,
}

use view::{day_of, level_index, Rise, COUNT_TREE, DAY_TREE, RISE_TREE};

/// Most rises listed.
pub const MAX_RISES: usize = 500;

/// What to count.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this county.
    pub county: Option<String>,
    /// Only risks at this level (counts and rises).
    pub level: Option<Level>,
    /// Only risks with this focus point (counts).
    pub focus: Option<FocusPoint>,
    /// Days and rises from this time, Unix ms.
    pub from_ms: i64,
    /// Days and rises until this time, Unix ms.
    pub to_ms: i64,
}

/// One county's row: active risks per level.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CountyRow {
    /// Active risks at I, II, III, IV.
    pub levels: [u64; 4],
    /// Active risks not yet graded.
    pub ungraded: u64,
    /// Resolved risks.
    pub resolved: u64,
    /// Risks ruled out as false alarms (neither active nor resolved).
    pub ruled_out: u64,
}

impl CountyRow {
    /// The gravest level with an active risk.
    pub fn worst(&self) -> Option<Level> {
        Level::ALL
            .into_iter()
            .zip(self.levels)
            .find(|(_, n)| *n > 0)
            .map(|(l, _)| l)
    }

    /// Active risks.
    pub fn active(&self) -> u64 {
        self.levels.iter().sum::<u64>() + self.ungraded
    }
}

/// New and resolved risks of one day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayRow {
    /// Identified that day.
    pub new: u64,
    /// Resolved that day.
    pub resolved: u64,
}

/// The figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overview {
    /// Active risks by level, I to IV.
    pub by_level: [u64; 4],
    /// Active risks not yet graded.
    pub ungraded: u64,
    /// Active risks by focus point.
    pub by_focus: BTreeMap<FocusPoint, u64>,
    /// Risks by status (resolved and ruled out included).
    pub by_status: BTreeMap<RiskStatus, u64>,
    /// Every county known, with its row.
    pub counties: BTreeMap<String, CountyRow>,
    /// Day number → its row, every day of the range.
    pub days: BTreeMap<u32, DayRow>,
    /// Levels that rose in the range, newest first.
    pub rises: Vec<Rise>,
}

impl Overview {
    /// Active risks in all.
    pub fn active(&self) -> u64 {
        self.by_level.iter().sum::<u64>() + self.ungraded
    }
}

/// A day number of [`Overview::days`] (local days since 1970-01-01, as [`view::day_of`]
/// counts them) as `YYYY-MM-DD`.
pub fn day_text(day: u32) -> String {
    crate::timespec::day_text(i64::from(day))
}

/// The overview this node's views give for `filter`.
pub fn overview(store: &dyn Store, filter: &Filter) -> Result<Overview, StoreError> {
    let mut o = Overview::default();
    // Every county appears, with nothing if it has nothing.
    for c in directory::member_counties(store)? {
        if filter.county.as_ref().is_none_or(|f| *f == c) {
            o.counties.entry(c).or_default();
        }
    }
    let rows: Vec<(Vec<u8>, Vec<u8>)> = match &filter.county {
        Some(c) => store
            .get(COUNT_TREE, c.as_bytes())?
            .map(|v| (c.as_bytes().to_vec(), v))
            .into_iter()
            .collect(),
        None => store
            .scan_prefix(COUNT_TREE, b"")
            .collect::<Result<_, _>>()?,
    };
    for (origin, v) in rows {
        let origin = String::from_utf8_lossy(&origin).into_owned();
        let counts = view::decode_row(&v);
        let row = o.counties.entry(origin).or_default();
        for (i, n) in counts.iter().enumerate().filter(|(_, n)| **n > 0) {
            let n = u64::from(*n);
            let (level, focus, status) = view::bucket_at(i);
            if filter.level.is_some_and(|l| level != Some(l))
                || filter.focus.is_some_and(|f| focus != f)
            {
                continue;
            }
            *o.by_status.entry(status).or_default() += n;
            // Closed risks are no open risks: counted by status only.
            match status {
                RiskStatus::Resolved => {
                    row.resolved += n;
                    continue;
                }
                RiskStatus::RuledOut => {
                    row.ruled_out += n;
                    continue;
                }
                _ => {}
            }
            *o.by_focus.entry(focus).or_default() += n;
            match level {
                Some(l) => {
                    o.by_level[level_index(l)] += n;
                    row.levels[level_index(l)] += n;
                }
                None => {
                    o.ungraded += n;
                    row.ungraded += n;
                }
            }
        }
    }
    let (first, last) = (day_of(filter.from_ms), day_of(filter.to_ms));
    for d in first..=last {
        o.days.insert(d, DayRow::default());
    }
    let end = last.saturating_add(1).to_be_bytes();
    for kv in store.range(DAY_TREE, &first.to_be_bytes(), Some(&end)) {
        let (k, v) = kv?;
        let (Some(day), Some(origin)) = (
            k.get(..4)
                .and_then(|d| <[u8; 4]>::try_from(d).ok())
                .map(u32::from_be_bytes),
            k.get(4..),
        ) else {
            continue;
        };
        if filter
            .county
            .as_ref()
            .is_some_and(|c| c.as_bytes() != origin)
        {
            continue;
        }
        let (new, resolved) = view::decode_day(&v);
        let row = o.days.entry(day).or_default();
        row.new += new;
        row.resolved += resolved;
    }
    o.rises = rises(store, filter)?;
    Ok(o)
}

/// The rises the filter selects, newest first, at most [`MAX_RISES`]: through the county's or
/// the level's index when filtered, so a county reads its own rises only.
fn rises(store: &dyn Store, filter: &Filter) -> Result<Vec<Rise>, StoreError> {
    let from = (filter.from_ms.max(0) as u64).to_be_bytes();
    let to = (filter.to_ms.max(0) as u64).saturating_add(1).to_be_bytes();
    let (index, prefix): (Option<&str>, Vec<u8>) = match (&filter.county, filter.level) {
        (Some(c), _) => (Some(view::RISE_BY_COUNTY_TREE), view::county_prefix(c)),
        (None, Some(l)) => (Some(view::RISE_BY_LEVEL_TREE), vec![level_index(l) as u8]),
        (None, None) => (None, Vec::new()),
    };
    let bound = |b: &[u8]| [prefix.as_slice(), b].concat();
    let keys: Box<dyn Iterator<Item = Result<KeyValue, StoreError>> + '_> = match index {
        Some(tree) => Box::new(store.range_rev(tree, &bound(&from), &bound(&to)).map(|kv| {
            kv.map(|(k, _)| {
                (
                    k.get(prefix.len()..).unwrap_or_default().to_vec(),
                    Vec::new(),
                )
            })
        })),
        None => Box::new(store.range_rev(RISE_TREE, &from, &to)),
    };
    // Newest first, and only as many as are shown: a busy month has tens of thousands.
    let mut rises = Vec::new();
    for kv in keys {
        let (k, v) = kv?;
        // The key holds the risk id (which starts with its county) and the new level: skip
        // what the filters exclude unread.
        if let Some(c) = &filter.county {
            if !k.get(8..).is_some_and(|id| id.starts_with(c.as_bytes())) {
                continue;
            }
        }
        if let Some(l) = filter.level {
            if k.last().copied() != Some(level_index(l) as u8) {
                continue;
            }
        }
        // Through an index, the rise itself is one read away.
        let v = if index.is_some() {
            match store.get(RISE_TREE, &k)? {
                Some(v) => v,
                None => continue,
            }
        } else {
            v
        };
        let Ok(r) = serde_json::from_slice::<Rise>(&v) else {
            continue;
        };
        if filter.county.as_ref().is_some_and(|c| *c != r.origin)
            || filter.level.is_some_and(|l| l != r.to)
        {
            continue;
        }
        rises.push(r);
        if rises.len() == MAX_RISES {
            break;
        }
    }
    Ok(rises)
}
