//! Conversions between domain values and their proto enums, shared by the gRPC server
//! ([`crate::api`]) and the CLI client ([`crate::cli`]): both edges speak the same enums, and
//! neither imports the other. Conversions of whole messages only the server makes (a risk
//! record to `v1::Risk`) stay in `api`.
//!
//! `*_from_proto` take the raw `i32` a message carries and give `None` for "unspecified" and
//! for values this build does not know, so each caller says what a missing value means.

use fenghuo_proto::v1;

use crate::accounts::Role;
use crate::domain::{FocusPoint, Level, MeasureStatus, RiskStatus};

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
        P::RuledOut => RiskStatus::RuledOut,
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
        RiskStatus::RuledOut => P::RuledOut,
    }
}

/// Measure status from protobuf; `None` when unspecified or unknown.
pub fn measure_status_from_proto(v: i32) -> Option<MeasureStatus> {
    use v1::MeasureStatus as P;
    Some(match P::try_from(v).ok()? {
        P::Planned => MeasureStatus::Planned,
        P::InProgress => MeasureStatus::InProgress,
        P::Done => MeasureStatus::Done,
        P::Cancelled => MeasureStatus::Cancelled,
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
        MeasureStatus::Cancelled => P::Cancelled,
    }
}

/// Web staff role from protobuf; `None` when unspecified or unknown.
pub fn role_from_proto(v: i32) -> Option<Role> {
    match v1::StaffRole::try_from(v).ok()? {
        v1::StaffRole::Viewer => Some(Role::Viewer),
        v1::StaffRole::Analyst => Some(Role::Analyst),
        v1::StaffRole::Admin => Some(Role::Admin),
        v1::StaffRole::Officer => Some(Role::Officer),
        v1::StaffRole::Leader => Some(Role::Leader),
        v1::StaffRole::Unspecified => None,
    }
}

/// Web staff role to protobuf.
pub fn role_to_proto(r: Role) -> v1::StaffRole {
    match r {
        Role::Viewer => v1::StaffRole::Viewer,
        Role::Analyst => v1::StaffRole::Analyst,
        Role::Admin => v1::StaffRole::Admin,
        Role::Officer => v1::StaffRole::Officer,
        Role::Leader => v1::StaffRole::Leader,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_comes_back_from_its_proto_enum() {
        for f in FocusPoint::ALL {
            assert_eq!(focus_from_proto(focus_to_proto(f) as i32), Some(f));
        }
        for l in Level::ALL {
            assert_eq!(level_from_proto(level_to_proto(l) as i32), Some(l));
        }
        for s in RiskStatus::ALL {
            assert_eq!(status_from_proto(status_to_proto(s) as i32), Some(s));
        }
        for s in MeasureStatus::ALL {
            assert_eq!(
                measure_status_from_proto(measure_status_to_proto(s) as i32),
                Some(s)
            );
        }
        for r in Role::ALL {
            assert_eq!(role_from_proto(role_to_proto(r) as i32), Some(r));
        }
        // Unspecified and unknown values are nobody's.
        assert_eq!(focus_from_proto(0), None);
        assert_eq!(level_from_proto(99), None);
        assert_eq!(role_from_proto(0), None);
        assert_eq!(role_from_proto(-1), None);
    }
}
