//! The stored form of a risk item, with its history. Stored as JSON with a format number so
//! the view can be read by people and migrated (or simply rebuilt from the feeds).

use serde::{Deserialize, Serialize};

use crate::domain::{FocusPoint, Level, MeasureStatus, RiskStatus, Scores};
use crate::event::{GradeSnapshot, HistorySnapshot, MeasureSnapshot, RiskSnapshot};
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

impl From<&RiskRecord> for RiskSnapshot {
    fn from(r: &RiskRecord) -> Self {
        Self {
            format: r.format,
            id: r.id.clone(),
            origin: r.origin.clone(),
            title: r.title.clone(),
            description: r.description.clone(),
            focus: r.focus,
            source: r.source.clone(),
            behaviours: r.behaviours.clone(),
            department: r.department.clone(),
            status: r.status,
            scope: r.scope,
            grade: r.grade.as_ref().map(|g| GradeSnapshot {
                scores: g.scores,
                level: g.level,
                standard_version: g.standard_version.clone(),
                graded_at_ms: g.graded_at_ms,
                graded_by: g.graded_by.clone(),
            }),
            measures: r
                .measures
                .iter()
                .map(|m| MeasureSnapshot {
                    id: m.id.clone(),
                    action: m.action.clone(),
                    owner: m.owner.clone(),
                    due: m.due.clone(),
                    status: m.status,
                })
                .collect(),
            history: r
                .history
                .iter()
                .map(|h| HistorySnapshot {
                    rev: h.rev,
                    feed: h.feed,
                    seq: h.seq,
                    at_ms: h.at_ms,
                    author: h.author.clone(),
                    action: h.action.clone(),
                    summary: h.summary.clone(),
                })
                .collect(),
            revs: r.revs,
            created_at_ms: r.created_at_ms,
            updated_at_ms: r.updated_at_ms,
        }
    }
}

impl From<&RiskSnapshot> for RiskRecord {
    fn from(s: &RiskSnapshot) -> Self {
        Self {
            format: s.format,
            id: s.id.clone(),
            origin: s.origin.clone(),
            title: s.title.clone(),
            description: s.description.clone(),
            focus: s.focus,
            source: s.source.clone(),
            behaviours: s.behaviours.clone(),
            department: s.department.clone(),
            status: s.status,
            scope: s.scope,
            grade: s.grade.as_ref().map(|g| GradeRecord {
                scores: g.scores,
                level: g.level,
                standard_version: g.standard_version.clone(),
                graded_at_ms: g.graded_at_ms,
                graded_by: g.graded_by.clone(),
            }),
            measures: s
                .measures
                .iter()
                .map(|m| MeasureRecord {
                    id: m.id.clone(),
                    action: m.action.clone(),
                    owner: m.owner.clone(),
                    due: m.due.clone(),
                    status: m.status,
                })
                .collect(),
            history: s
                .history
                .iter()
                .map(|h| HistoryItem {
                    rev: h.rev,
                    feed: h.feed,
                    seq: h.seq,
                    at_ms: h.at_ms,
                    author: h.author.clone(),
                    action: h.action.clone(),
                    summary: h.summary.clone(),
                })
                .collect(),
            revs: s.revs,
            created_at_ms: s.created_at_ms,
            updated_at_ms: s.updated_at_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{FocusPoint, Level, MeasureStatus, RiskStatus, Scores};

    /// The snapshot a `risk-shared` event carries is its own type now; its bytes must stay
    /// exactly those of the record it was before (peers verify signatures over them).
    #[test]
    fn a_snapshot_encodes_exactly_as_the_record_did() {
        let record = RiskRecord {
            format: RECORD_FORMAT,
            id: "510104-3".into(),
            origin: "510104".into(),
            title: "拆迁补偿".into(),
            description: "两行\n说明".into(),
            focus: FocusPoint::PolicyAdjustment,
            source: "https://weibo.com/x".into(),
            behaviours: vec!["聚集".into()],
            department: "街道办".into(),
            status: RiskStatus::Monitoring,
            scope: Audience::Upstream,
            grade: Some(GradeRecord {
                scores: Scores {
                    influence: 4,
                    attention: 3,
                    diffusion: 5,
                },
                level: Level::II,
                standard_version: "2025-1".into(),
                graded_at_ms: 1_700_000_000_000,
                graded_by: "staff/510104/zhang".into(),
            }),
            measures: vec![MeasureRecord {
                id: "m1".into(),
                action: "约谈".into(),
                owner: "李".into(),
                due: "2026-12-31".into(),
                status: MeasureStatus::Planned,
            }],
            history: vec![HistoryItem {
                rev: 1,
                feed: Audience::Local,
                seq: 7,
                at_ms: 1_700_000_000_000,
                author: "staff/510104/zhang".into(),
                action: "created".into(),
                summary: "created".into(),
            }],
            revs: 2,
            created_at_ms: 1_700_000_000_000,
            updated_at_ms: 1_700_000_000_500,
        };
        let snapshot = RiskSnapshot::from(&record);
        let (Ok(as_record), Ok(as_snapshot)) =
            (serde_json::to_vec(&record), serde_json::to_vec(&snapshot))
        else {
            panic!("encoding failed");
        };
        assert_eq!(as_record, as_snapshot);
        assert_eq!(RiskRecord::from(&snapshot), record);
        // Without history, both leave the field out.
        let bare = RiskRecord {
            history: Vec::new(),
            ..record
        };
        assert_eq!(
            serde_json::to_vec(&bare).ok(),
            serde_json::to_vec(&RiskSnapshot::from(&bare)).ok()
        );
    }
}
