//! Reading the register: one risk with its history (whole, or the part a write added), and
//! filtered, paged listing over `riskid_risk` in id order. The read model of a risk is its
//! stored [`RiskRecord`] with the history filled in and each measure's `overdue` set for
//! today where the people are; the gRPC `api` and the web pages only present it.

use crate::domain::grading::Assessment;
use crate::domain::{FocusPoint, GradingError, GradingStandard, Level, RiskStatus, Scores};
use crate::store::{Store, StoreError};

use super::record::RiskRecord;
use super::view::{self, risk_key, RISKS_TREE};
use super::RegisterError;

/// `r` as people read it: each measure marked overdue or not on today's date.
fn presented(mut r: RiskRecord) -> RiskRecord {
    r.mark_overdue(&crate::timespec::today());
    r
}

/// The risk `id` without its history, if this node holds it.
pub fn find(store: &dyn Store, id: &str) -> Result<Option<RiskRecord>, RegisterError> {
    Ok(view::load(store, id)?.map(presented))
}

/// The risk `id` with its whole history, or `RiskNotFound`.
pub fn risk(store: &dyn Store, id: &str) -> Result<RiskRecord, RegisterError> {
    view::load_full(store, id).map(presented)
}

/// The risk `id` with only the history after revision `after` (what a write answers with:
/// the changes it made, at a cost that does not grow with the history), or `RiskNotFound`.
pub fn risk_since(store: &dyn Store, id: &str, after: u64) -> Result<RiskRecord, RegisterError> {
    view::load_since(store, id, after).map(presented)
}

/// How `scores` would grade a risk of `focus` under `standard`: the three scores, the
/// weighted score against the thresholds, the resulting level (for a page that shows the
/// standard at work before an officer grades). Refuses scores outside 1-5.
pub fn grading_preview(
    standard: &GradingStandard,
    scores: Scores,
    focus: FocusPoint,
) -> Result<Assessment, GradingError> {
    standard.assess(scores, focus)
}

/// How `r`'s current grade came about under `standard` (the one in force), if it is graded
/// and `standard` is the version it was graded with; with the officer's override beside it
/// in `r.grade`.
pub fn grade_explained(standard: &GradingStandard, r: &RiskRecord) -> Option<Assessment> {
    let g = r.grade.as_ref()?;
    if g.standard_version != standard.version {
        return None;
    }
    standard.assess(g.scores, r.focus).ok()
}

/// The latest revision of risk `id`, 0 when this node does not hold it.
pub fn revision(store: &dyn Store, id: &str) -> Result<u64, RegisterError> {
    Ok(find(store, id)?.map_or(0, |r| r.revs))
}

/// Default page size.
pub const DEFAULT_LIMIT: usize = 50;
/// Largest page size.
pub const MAX_LIMIT: usize = 500;

/// What to list; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this level (ungraded risks never match).
    pub level: Option<Level>,
    /// Only this focus point.
    pub focus: Option<FocusPoint>,
    /// Only this status.
    pub status: Option<RiskStatus>,
    /// Case-insensitive substring of title, description, source or department.
    pub text: Option<String>,
    /// Only risks of this origin (division code).
    pub origin: Option<String>,
}

impl Filter {
    /// True when `r` passes every filter.
    pub fn matches(&self, r: &RiskRecord) -> bool {
        if self.level.is_some() && r.level() != self.level {
            return false;
        }
        if self.focus.is_some_and(|f| f != r.focus) || self.status.is_some_and(|s| s != r.status) {
            return false;
        }
        if self.origin.as_ref().is_some_and(|o| *o != r.origin) {
            return false;
        }
        if let Some(t) = &self.text {
            let t = t.to_lowercase();
            let hit = [&r.title, &r.description, &r.source, &r.department]
                .iter()
                .any(|f| f.to_lowercase().contains(&t));
            if !hit {
                return false;
            }
        }
        true
    }
}

/// One page of results.
#[derive(Debug, Clone)]
pub struct Page {
    /// The risks, in id order.
    pub risks: Vec<RiskRecord>,
    /// Where the next page starts (the last id of this page), `None` at the end.
    pub next_cursor: Option<String>,
}

/// Lists risks matching `filter`, `limit` per page, after the risk id `cursor`; each measure
/// marked overdue or not on today's date.
pub fn list(
    store: &dyn Store,
    filter: &Filter,
    limit: usize,
    cursor: Option<&str>,
) -> Result<Page, StoreError> {
    let limit = match limit {
        0 => DEFAULT_LIMIT,
        n => n.min(MAX_LIMIT),
    };
    let mut start = match cursor {
        Some(c) => risk_key(c)
            .ok_or_else(|| StoreError::Backend(format!("cursor {c:?} is not a risk id")))?,
        None => Vec::new(),
    };
    if cursor.is_some() {
        // Start strictly after the cursor.
        start.push(0);
    }
    // One origin's risks are contiguous (keys are `origin-number`): read only those.
    let end = filter.origin.as_ref().map(|o| format!("{o}.").into_bytes());
    if let (Some(o), None) = (&filter.origin, cursor) {
        start = format!("{o}-").into_bytes();
    }
    let today = crate::timespec::today();
    let mut risks = Vec::new();
    let mut more = false;
    for item in store.range(RISKS_TREE, &start, end.as_deref()) {
        let (_, v) = item?;
        let r: RiskRecord = serde_json::from_slice(&v)
            .map_err(|e| StoreError::Backend(format!("corrupt risk record: {e}")))?;
        if !filter.matches(&r) {
            continue;
        }
        if risks.len() == limit {
            more = true;
            break;
        }
        let mut r = r;
        view::fill_history(store, &mut r).map_err(|e| StoreError::Backend(e.to_string()))?;
        r.mark_overdue(&today);
        risks.push(r);
    }
    let next_cursor = if more {
        risks.last().map(|r| r.id.clone())
    } else {
        None
    };
    Ok(Page { risks, next_cursor })
}
