//! The stored form of a risk item, with its history. Stored as JSON with a format number so
//! the view can be read by people and migrated (or simply rebuilt from the feeds).

use serde::{Deserialize, Serialize};

use crate::domain::{FocusPoint, Level, MeasureStatus, RiskStatus, Scores};
use crate::feed::Audience;

/// The record format this build writes.
pub const RECORD_FORMAT: u32 = 1;

/// A grade as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradeRecord {
    /// The three dimensions.
    pub scores: Scores,
    /// The level computed by the origin.
    pub level: Level,
    /// Grading standard version used.
    pub standard_version: String,
    /// When, Unix ms.
    pub graded_at_ms: i64,
    /// Who graded it.
    pub graded_by: String,
}

/// A preventive measure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasureRecord {
    /// `m<n>`, unique within the risk.
    pub id: String,
    /// What will be done.
    pub action: String,
    /// Who does it.
    pub owner: String,
    /// Due date, YYYY-MM-DD.
    pub due: String,
    /// Progress.
    pub status: MeasureStatus,
}

/// One change in the history: who, when, what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryItem {
    /// The risk's revision: 1 for its creation, then one more per change.
    #[serde(default)]
    pub rev: u64,
    /// Audience of the feed the change was recorded in.
    #[serde(default = "local")]
    pub feed: Audience,
    /// Sequence number of the entry in that feed.
    pub seq: u64,
    /// When, Unix ms.
    pub at_ms: i64,
    /// Identity path of the person or node.
    pub author: String,
    /// Kind of change, e.g. `graded`.
    pub action: String,
    /// What changed, for people.
    pub summary: String,
}

/// A risk item as the register holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskRecord {
    /// Record format.
    pub format: u32,
    /// `<county>-<n>`.
    pub id: String,
    /// Division code of the owning county (or province).
    pub origin: String,
    /// Short title.
    pub title: String,
    /// Longer description.
    pub description: String,
    /// Focus point.
    pub focus: FocusPoint,
    /// Where the opinion lives.
    pub source: String,
    /// Risk behaviours.
    pub behaviours: Vec<String>,
    /// Responsible department.
    pub department: String,
    /// Where it stands.
    pub status: RiskStatus,
    /// Who it is shared with; its events go to the origin's feed for this audience.
    #[serde(default = "local")]
    pub scope: Audience,
    /// The current grade, if graded.
    pub grade: Option<GradeRecord>,
    /// Preventive measures.
    pub measures: Vec<MeasureRecord>,
    /// Every change, oldest first. Kept in its own tree (`riskid_history`), so a change costs
    /// the same however long the history; filled in when a risk is read for people or put in
    /// a snapshot, empty in the stored record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<HistoryItem>,
    /// How many history items the risk has (its current revision).
    #[serde(default)]
    pub revs: u64,
    /// When identified, Unix ms.
    pub created_at_ms: i64,
    /// Last change, Unix ms.
    pub updated_at_ms: i64,
}

fn local() -> Audience {
    Audience::Local
}

impl RiskRecord {
    /// The current level, if graded.
    pub fn level(&self) -> Option<Level> {
        self.grade.as_ref().map(|g| g.level)
    }
}
