//! The stored form of a risk item, with its history. Stored as JSON with a format number so
//! the view can be read by people and migrated (or simply rebuilt from the feeds).

use serde::{Deserialize, Serialize};

use crate::domain::risk::Closure;
use crate::domain::{FocusPoint, Level, MeasureStatus, RiskStatus, Scores};
use crate::event::{
    ClosureSnapshot, GradeSnapshot, HistorySnapshot, MeasureSnapshot, RiskSnapshot,
};
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
    /// The level the officer set instead of the computed one (综合研判): the risk's level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_level: Option<Level>,
    /// Why the officer set it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

impl GradeRecord {
    /// The risk's level: the officer's override if any, else the computed level.
    pub fn effective_level(&self) -> Level {
        self.override_level.unwrap_or(self.level)
    }
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
    /// How it was carried out, or why it was cancelled.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    /// Due before today and neither done nor cancelled. Not stored: the read functions
    /// ([`super::read`]) fill it in with today's date where the people are.
    #[serde(skip)]
    pub overdue: bool,
}

impl MeasureRecord {
    /// Whether the measure is overdue on `today` (YYYY-MM-DD): due before it and still open.
    pub fn is_overdue(&self, today: &str) -> bool {
        self.status.is_open() && crate::domain::risk::due_before(&self.due, today)
    }
}

/// How a closed risk was closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClosureRecord {
    /// Resolved or ruled out.
    pub closure: Closure,
    /// The summary (resolved) or the reason (ruled out).
    pub text: String,
    /// When, Unix ms.
    pub at_ms: i64,
    /// Who closed it.
    pub by: String,
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
    /// How it was closed, while it is resolved or ruled out (reopening clears it; the
    /// history keeps it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closure: Option<ClosureRecord>,
    /// The counties it was shared with by name (notified); empty: no one by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_with: Vec<String>,
    /// The widest audience it was shared with openly, when a share with named counties took
    /// its feed further (everyone holding that feed holds it, but only the named are meant);
    /// `None`: `scope` itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_scope: Option<Audience>,
}

/// Whether county `unit` is meant to read a risk of another county shared with the
/// counties `shared_with` by name and openly with `openly` (`neighbour`: `unit` is the
/// origin's declared neighbour).
pub fn meant_for(shared_with: &[String], openly: Audience, unit: &str, neighbour: bool) -> bool {
    shared_with.iter().any(|c| c == unit)
        || match openly {
            Audience::Province => true,
            Audience::Neighbours => neighbour,
            Audience::Local | Audience::Upstream => false,
        }
}

fn local() -> Audience {
    Audience::Local
}

impl RiskRecord {
    /// The widest audience it was shared with openly (not only with named counties).
    pub fn openly(&self) -> Audience {
        self.open_scope.unwrap_or(self.scope)
    }

    /// Whether county `unit`, holding this risk of another county, is meant to see it: named
    /// in a share, or reached by an open one (`neighbour`: `unit` is the origin's declared
    /// neighbour).
    pub fn meant_for(&self, unit: &str, neighbour: bool) -> bool {
        meant_for(&self.shared_with, self.openly(), unit, neighbour)
    }

    /// The current level, if graded: the officer's override if any, else the computed one.
    pub fn level(&self) -> Option<Level> {
        self.grade.as_ref().map(GradeRecord::effective_level)
    }

    /// The ids of the measures still planned or in progress.
    pub fn open_measures(&self) -> Vec<String> {
        self.measures
            .iter()
            .filter(|m| m.status.is_open())
            .map(|m| m.id.clone())
            .collect()
    }

    /// Marks each measure overdue or not on `today` (YYYY-MM-DD).
    pub fn mark_overdue(&mut self, today: &str) {
        for m in &mut self.measures {
            m.overdue = m.is_overdue(today);
        }
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
                override_level: g.override_level,
                reason: g.reason.clone(),
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
                    note: m.note.clone(),
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
            closure: r.closure.as_ref().map(|c| ClosureSnapshot {
                closure: c.closure,
                text: c.text.clone(),
                at_ms: c.at_ms,
                by: c.by.clone(),
            }),
            shared_with: r.shared_with.clone(),
            open_scope: r.open_scope,
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
                override_level: g.override_level,
                reason: g.reason.clone(),
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
                    note: m.note.clone(),
                    overdue: false,
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
            closure: s.closure.as_ref().map(|c| ClosureRecord {
                closure: c.closure,
                text: c.text.clone(),
                at_ms: c.at_ms,
                by: c.by.clone(),
            }),
            shared_with: s.shared_with.clone(),
            open_scope: s.open_scope,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_risk_is_meant_for_the_named_and_whoever_an_open_share_reaches() {
        let named = ["510106".to_owned()];
        assert!(meant_for(&named, Audience::Local, "510106", false));
        assert!(!meant_for(&named, Audience::Local, "510105", true));
        assert!(meant_for(&named, Audience::Neighbours, "510105", true));
        assert!(!meant_for(&named, Audience::Neighbours, "510107", false));
        assert!(meant_for(&[], Audience::Province, "510107", false));
        assert!(!meant_for(&[], Audience::Upstream, "510105", true));
    }
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
                override_level: None,
                reason: String::new(),
            }),
            measures: vec![MeasureRecord {
                id: "m1".into(),
                action: "约谈".into(),
                owner: "李".into(),
                due: "2026-12-31".into(),
                status: MeasureStatus::Planned,
                note: String::new(),
                overdue: false,
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
            closure: None,
            shared_with: vec![],
            open_scope: None,
        };
        let snapshot = RiskSnapshot::from(&record);
        let (Ok(as_record), Ok(as_snapshot)) =
            (serde_json::to_vec(&record), serde_json::to_vec(&snapshot))
        else {
            panic!("encoding failed");
        };
        assert_eq!(as_record, as_snapshot);
        assert_eq!(RiskRecord::from(&snapshot), record);
        // What older builds wrote has no override, measure note or closure: the new fields
        // are left out, so the bytes are those a snapshot always had.
        let text = String::from_utf8(as_snapshot).unwrap_or_default();
        for absent in ["override_level", "reason", "note", "overdue", "closure"] {
            assert!(!text.contains(absent), "{absent} in {text}");
        }
        // With them, both carry them alike, and they come back.
        let mut closed = record.clone();
        if let Some(g) = closed.grade.as_mut() {
            g.override_level = Some(Level::I);
            g.reason = "两地同时发生".into();
        }
        closed.measures[0].status = MeasureStatus::Cancelled;
        closed.measures[0].note = "不再需要".into();
        closed.status = RiskStatus::RuledOut;
        closed.closure = Some(ClosureRecord {
            closure: Closure::RuledOut,
            text: "误报".into(),
            at_ms: 1_700_000_000_900,
            by: "staff/510104/zhang".into(),
        });
        let snapshot = RiskSnapshot::from(&closed);
        assert_eq!(
            serde_json::to_vec(&closed).ok(),
            serde_json::to_vec(&snapshot).ok()
        );
        assert_eq!(RiskRecord::from(&snapshot), closed);
        assert_eq!(closed.level(), Some(Level::I));
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

    #[test]
    fn a_measure_is_overdue_when_due_before_today_and_still_open() {
        let mut m = MeasureRecord {
            id: "m1".into(),
            action: "约谈".into(),
            owner: "李".into(),
            due: "2026-03-01".into(),
            status: MeasureStatus::Planned,
            note: String::new(),
            overdue: false,
        };
        assert!(m.is_overdue("2026-03-02"));
        assert!(!m.is_overdue("2026-03-01"), "due today is not overdue yet");
        m.status = MeasureStatus::InProgress;
        assert!(m.is_overdue("2027-01-01"));
        for closed in [MeasureStatus::Done, MeasureStatus::Cancelled] {
            m.status = closed;
            assert!(!m.is_overdue("2027-01-01"), "{closed}");
        }
    }
}
