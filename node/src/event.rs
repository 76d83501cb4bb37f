//! What a feed entry says: the events every node can decode, whatever their origin.
//!
//! Payloads are JSON objects `{"v": 1, "type": "...", ...}`: self-describing, so an entry
//! written by an older or newer node still reads, and a person can inspect one.

use serde::{Deserialize, Serialize};

use crate::domain::{FocusPoint, Level, MeasureStatus, RiskStatus, Scores};
use crate::feed::Audience;
use crate::register::record::RiskRecord;

/// The payload format this build writes.
pub const PAYLOAD_VERSION: u32 = 1;

/// One change, as recorded in its origin's feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Event {
    /// A risk item was identified.
    RiskCreated {
        /// `<county>-<n>`.
        id: String,
        /// Short title.
        title: String,
        /// Longer description.
        #[serde(default)]
        description: String,
        /// Focus point.
        focus: FocusPoint,
        /// Where the opinion lives.
        #[serde(default)]
        source: String,
        /// Risk behaviours.
        #[serde(default)]
        behaviours: Vec<String>,
        /// Responsible department.
        #[serde(default)]
        department: String,
    },
    /// Descriptive fields changed; `None` means unchanged.
    RiskUpdated {
        /// The risk.
        id: String,
        /// New title.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        /// New description.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        /// New focus point.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        focus: Option<FocusPoint>,
        /// New source.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<String>,
        /// New behaviours (replacing the old ones).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        behaviours: Option<Vec<String>>,
        /// New department.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        department: Option<String>,
    },
    /// The risk was graded; the level was computed by the origin with `standard_version`.
    RiskGraded {
        /// The risk.
        id: String,
        /// The three dimensions.
        scores: Scores,
        /// The resulting level.
        level: Level,
        /// Version of the grading standard used.
        standard_version: String,
    },
    /// A preventive measure was added.
    MeasureAdded {
        /// The risk.
        id: String,
        /// `m<n>` within the risk.
        measure_id: String,
        /// What will be done.
        action: String,
        /// Who does it.
        owner: String,
        /// Due date, YYYY-MM-DD.
        due: String,
    },
    /// A measure's status changed.
    MeasureUpdated {
        /// The risk.
        id: String,
        /// The measure.
        measure_id: String,
        /// New status.
        status: MeasureStatus,
    },
    /// The risk's status was set explicitly.
    StatusSet {
        /// The risk.
        id: String,
        /// New status.
        status: RiskStatus,
    },
    /// The risk was widened to `scope`: from here on its events go to that feed, which starts
    /// with this full snapshot (receivers of the wider feed never saw the narrower one).
    RiskShared {
        /// The risk.
        id: String,
        /// The new, wider audience.
        scope: Audience,
        /// Why, for people: `shared by staff` or `major-issue report: level I`.
        #[serde(default)]
        reason: String,
        /// The risk as it stands, history included.
        snapshot: Box<RiskRecord>,
    },
    /// The origin's neighbouring counties, as its configuration names them: who may receive
    /// its `neighbours` feed (relays read this to know where to forward it).
    NeighboursDeclared {
        /// County codes.
        neighbours: Vec<String>,
    },
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    v: u32,
    #[serde(flatten)]
    event: Event,
}

/// Why a payload could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// Not JSON of a known event.
    #[error("payload is not a known event: {0}")]
    Decode(String),
    /// Written by a newer format.
    #[error("payload format {0} is newer than this build reads ({PAYLOAD_VERSION})")]
    Version(u32),
}

impl Event {
    /// The payload bytes for a feed entry.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(&Envelope {
            v: PAYLOAD_VERSION,
            event: self.clone(),
        })
        .unwrap_or_default()
    }

    /// Reads a feed entry's payload.
    pub fn decode(payload: &[u8]) -> Result<Self, PayloadError> {
        let env: Envelope =
            serde_json::from_slice(payload).map_err(|e| PayloadError::Decode(e.to_string()))?;
        if env.v > PAYLOAD_VERSION {
            return Err(PayloadError::Version(env.v));
        }
        Ok(env.event)
    }

    /// The risk item this event is about, if any.
    pub fn risk_id(&self) -> Option<&str> {
        match self {
            Self::RiskCreated { id, .. }
            | Self::RiskUpdated { id, .. }
            | Self::RiskGraded { id, .. }
            | Self::MeasureAdded { id, .. }
            | Self::MeasureUpdated { id, .. }
            | Self::StatusSet { id, .. }
            | Self::RiskShared { id, .. } => Some(id),
            Self::NeighboursDeclared { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_are_versioned() {
        let e = Event::StatusSet {
            id: "510104-1".into(),
            status: RiskStatus::Monitoring,
        };
        let bytes = e.encode();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.contains(r#""v":1"#) && text.contains(r#""type":"status-set""#),
            "{text}"
        );
        assert_eq!(Event::decode(&bytes).unwrap(), e);
        let newer = text.replace(r#""v":1"#, r#""v":99"#);
        assert!(matches!(
            Event::decode(newer.as_bytes()),
            Err(PayloadError::Version(99))
        ));
    }
}
