//! Protobuf ↔ domain conversions for the API.

use fenghuo_proto::v1;

use crate::domain::{FocusPoint, Level, MeasureStatus, RiskStatus};
use crate::register::record::RiskRecord;

/// Focus point from protobuf; `None` when unspecified or unknown.
pub fn focus_from_proto(v: i32) -> Option<FocusPoint> {
    use v1::FocusPoint as P;
    Some(match P::try_from(v).ok()? {
        P::KeyWork => FocusPoint::KeyWork,
        P::MajorEvent => FocusPoint::MajorEvent,
        P::ActivityConcentration => FocusPoint::ActivityConcentration,
        P::EmergencyTrigger => FocusPoint::EmergencyTrigger,
        P::ReformMeasure => FocusPoint::ReformMeasure,
        P::PolicyAdjustment => FocusPoint::PolicyAdjustment,
        P::Unspecified => return None,
    })
}

/// Focus point to protobuf.
pub fn focus_to_proto(f: FocusPoint) -> v1::FocusPoint {
    use v1::FocusPoint as P;
    match f {
        FocusPoint::KeyWork => P::KeyWork,
        FocusPoint::MajorEvent => P::MajorEvent,
        FocusPoint::ActivityConcentration => P::ActivityConcentration,
        FocusPoint::EmergencyTrigger => P::EmergencyTrigger,
        FocusPoint::ReformMeasure => P::ReformMeasure,
        FocusPoint::PolicyAdjustment => P::PolicyAdjustment,
    }
}

/// Level from protobuf; `None` when unspecified or unknown.
pub fn level_from_proto(v: i32) -> Option<Level> {
    Some(match v1::Level::try_from(v).ok()? {
        v1::Level::I => Level::I,
        v1::Level::Ii => Level::II,
        v1::Level::Iii => Level::III,
        v1::Level::Iv => Level::IV,
        v1::Level::Unspecified => return None,
    })
}

/// Level to protobuf.
pub fn level_to_proto(l: Level) -> v1::Level {
    match l {
        Level::I => v1::Level::I,
        Level::II => v1::Level::Ii,
        Level::III => v1::Level::Iii,
        Level::IV => v1::Level::Iv,
    }
}

/// Risk status from protobuf; `None` when unspecified or unknown.
pub fn status_from_proto(v: i32) -> Option<RiskStatus> {
    use v1::RiskStatus as P;
    Some(match P::try_from(v).ok()? {
        P::Identified => RiskStatus::Identified,
        P::Graded => RiskStatus::Graded,
        P::MeasuresSet => RiskStatus::MeasuresSet,
        P::Monitoring => RiskStatus::Monitoring,
        P::Resolved => RiskStatus::Resolved,
        P::Unspecified => return None,
    })
}

/// Risk status to protobuf.
pub fn status_to_proto(s: RiskStatus) -> v1::RiskStatus {
    use v1::RiskStatus as P;
    match s {
        RiskStatus::Identified => P::Identified,
        RiskStatus::Graded => P::Graded,
        RiskStatus::MeasuresSet => P::MeasuresSet,
        RiskStatus::Monitoring => P::Monitoring,
        RiskStatus::Resolved => P::Resolved,
    }
}

/// Measure status from protobuf; `None` when unspecified or unknown.
pub fn measure_status_from_proto(v: i32) -> Option<MeasureStatus> {
    use v1::MeasureStatus as P;
    Some(match P::try_from(v).ok()? {
        P::Planned => MeasureStatus::Planned,
        P::InProgress => MeasureStatus::InProgress,
        P::Done => MeasureStatus::Done,
        P::Unspecified => return None,
    })
}

/// Measure status to protobuf.
pub fn measure_status_to_proto(s: MeasureStatus) -> v1::MeasureStatus {
    use v1::MeasureStatus as P;
    match s {
        MeasureStatus::Planned => P::Planned,
        MeasureStatus::InProgress => P::InProgress,
        MeasureStatus::Done => P::Done,
    }
}

/// A stored risk record as the API returns it.
pub fn risk_to_proto(r: &RiskRecord) -> v1::Risk {
    v1::Risk {
        id: r.id.clone(),
        origin: r.origin.clone(),
        title: r.title.clone(),
        description: r.description.clone(),
        focus: focus_to_proto(r.focus) as i32,
        source: r.source.clone(),
        behaviours: r.behaviours.clone(),
        department: r.department.clone(),
        status: status_to_proto(r.status) as i32,
        grade: r.grade.as_ref().map(|g| v1::Grade {
            influence: g.scores.influence,
            attention: g.scores.attention,
            diffusion: g.scores.diffusion,
            level: level_to_proto(g.level) as i32,
            standard_version: g.standard_version.clone(),
            graded_at_ms: g.graded_at_ms,
            graded_by: g.graded_by.clone(),
        }),
        measures: r
            .measures
            .iter()
            .map(|m| v1::Measure {
                id: m.id.clone(),
                action: m.action.clone(),
                owner: m.owner.clone(),
                due: m.due.clone(),
                status: measure_status_to_proto(m.status) as i32,
            })
            .collect(),
        history: r
            .history
            .iter()
            .map(|h| v1::HistoryEntry {
                rev: h.rev,
                feed: h.feed.to_proto() as i32,
                seq: h.seq,
                at_ms: h.at_ms,
                author: h.author.clone(),
                action: h.action.clone(),
                summary: h.summary.clone(),
            })
            .collect(),
        created_at_ms: r.created_at_ms,
        updated_at_ms: r.updated_at_ms,
        scope: r.scope.to_proto() as i32,
    }
}
