//! A risk as it travels in a `risk-shared` event: the event's own type, so the register can
//! change how it stores a risk without changing the bytes its peers verify. The field names,
//! order and defaults are the wire format (JSON inside signed payloads): change them only
//! with a new payload version.

use serde::{Deserialize, Serialize};

use crate::domain::risk::Closure;
use crate::domain::{FocusPoint, Level, MeasureStatus, RiskStatus, Scores};
use crate::feed::Audience;

/// A grade as the snapshot carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradeSnapshot {
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
    /// The level the officer set instead of the computed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_level: Option<Level>,
    /// Why the officer set it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// A preventive measure as the snapshot carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasureSnapshot {
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
    /// How it was carried out, or why it was cancelled.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// How a closed risk was closed, as the snapshot carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClosureSnapshot {
    /// Resolved or ruled out.
    pub closure: Closure,
    /// The summary (resolved) or the reason (ruled out).
    pub text: String,
    /// When, Unix ms.
    pub at_ms: i64,
    /// Who closed it.
    pub by: String,
}

/// One change of the risk's history as the snapshot carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistorySnapshot {
    /// The risk's revision at the origin (older origins wrote none).
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

/// A risk item as it stands at its origin, history included.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskSnapshot {
    /// The origin's record format (informative).
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
    /// Who it was shared with before this event.
    #[serde(default = "local")]
    pub scope: Audience,
    /// The current grade, if graded.
    pub grade: Option<GradeSnapshot>,
    /// Preventive measures.
    pub measures: Vec<MeasureSnapshot>,
    /// Every change, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<HistorySnapshot>,
    /// How many history items the risk had at its origin.
    #[serde(default)]
    pub revs: u64,
    /// When identified, Unix ms.
    pub created_at_ms: i64,
    /// Last change, Unix ms.
    pub updated_at_ms: i64,
    /// How it was closed, while it is resolved or ruled out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closure: Option<ClosureSnapshot>,
    /// The counties it was shared with by name before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_with: Vec<String>,
    /// The widest audience it was shared with openly, when narrower than `scope`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_scope: Option<Audience>,
}

fn local() -> Audience {
    Audience::Local
}
