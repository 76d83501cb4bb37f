//! What a feed entry says: the events every node can decode, whatever their origin.
//!
//! Payloads are JSON objects `{"v": 1, "type": "...", ...}`: self-describing, so an entry
//! written by an older or newer node still reads, and a person can inspect one.

pub mod check;
mod meta;
mod snapshot;

pub use meta::EntryMeta;
pub use snapshot::{
    ClosureSnapshot, GradeSnapshot, HistorySnapshot, MeasureSnapshot, RiskSnapshot,
};

use serde::{Deserialize, Serialize};

use crate::domain::alert::NewAlert;
use crate::domain::directive::{DirectiveKind, ResponseStatus};
use crate::domain::disposal::{Action, Outcome};
use crate::domain::risk::Closure;
use crate::domain::{FocusPoint, Level, MeasureStatus, RiskStatus, Scores};
use crate::feed::Audience;

/// Whether a payload may be an alert, report or directive event, or a risk shared (which
/// the journal tells the staff of the counties it reaches, as it tells them of alerts): a
/// cheap test before decoding: payloads are `{"v":1,"type":"…"` and only these types matter.
pub fn may_concern_comms(payload: &[u8]) -> bool {
    let head = &payload[..payload.len().min(48)];
    [
        &b"\"type\":\"alert-"[..],
        b"\"type\":\"report-",
        b"\"type\":\"directive-",
        b"\"type\":\"risk-shared\"",
    ]
    .iter()
    .any(|needle| head.windows(needle.len()).any(|w| w == *needle))
}

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
    /// The officer may set another level with a written reason (综合研判); a grade made with a
    /// situation note (动态管理) carries the note.
    RiskGraded {
        /// The risk.
        id: String,
        /// The three dimensions.
        scores: Scores,
        /// The level the standard computed (kept and shown even when overridden).
        level: Level,
        /// Version of the grading standard used.
        standard_version: String,
        /// The level the officer set instead of the computed one: the risk's level from here.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        override_level: Option<Level>,
        /// Why the officer set `override_level` (required with it).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        reason: String,
        /// The situation note this re-grade was made with (`risk note … --influence …`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// A dated situation note (动态管理): how the risk is developing, without a re-grade.
    RiskNoted {
        /// The risk.
        id: String,
        /// What was observed.
        note: String,
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
        /// How it was carried out (done) or why it was dropped (cancelled, required then).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        note: String,
    },
    /// A measure's action, owner or due date changed; `None` means unchanged.
    MeasureEdited {
        /// The risk.
        id: String,
        /// The measure.
        measure_id: String,
        /// New action.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        action: Option<String>,
        /// New owner.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<String>,
        /// New due date, YYYY-MM-DD.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due: Option<String>,
    },
    /// The risk's status was set explicitly.
    StatusSet {
        /// The risk.
        id: String,
        /// New status.
        status: RiskStatus,
    },
    /// The risk was closed: resolved (化解, with a summary of how) or ruled out (排除, a
    /// false alarm, with the reason).
    RiskClosed {
        /// The risk.
        id: String,
        /// Resolved or ruled out.
        closure: Closure,
        /// The summary (resolved) or the reason (ruled out).
        text: String,
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
        snapshot: Box<RiskSnapshot>,
        /// The counties it is addressed to, by name (a notification to them, in a feed
        /// that reaches them all); empty: everyone the feed reaches.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        counties: Vec<String>,
    },
    /// The origin's neighbouring counties, as its configuration names them: who may receive
    /// its `neighbours` feed (relays read this to know where to forward it).
    NeighboursDeclared {
        /// County codes.
        neighbours: Vec<String>,
    },
    /// A shared alert was issued (CAP `Alert`).
    AlertIssued {
        /// `<origin>-a<n>`.
        id: String,
        /// The alert as issued.
        alert: NewAlert,
        /// Recipients must acknowledge an extreme or severe alert within this many seconds.
        ack_within_s: u64,
    },
    /// The issuer replaced an alert's content (CAP `Update`); the audience stays.
    AlertUpdated {
        /// The alert.
        id: String,
        /// Its message number in the chain (the issue is 1).
        version: u32,
        /// The alert as it now stands.
        alert: NewAlert,
    },
    /// The issuer cancelled an alert (CAP `Cancel`).
    AlertCancelled {
        /// The alert.
        id: String,
        /// Its message number in the chain.
        version: u32,
        /// Why, for people.
        #[serde(default)]
        reason: String,
    },
    /// The origin (a recipient) received the alert: written by its node, unattended.
    AlertDelivered {
        /// The alert.
        id: String,
    },
    /// The origin's staff acknowledged the alert (签收).
    AlertAcknowledged {
        /// The alert.
        id: String,
        /// Optional note.
        #[serde(default)]
        note: String,
    },
    /// A major-issue report to the province (重大事项报告).
    ReportFiled {
        /// `<origin>-r<n>`.
        id: String,
        /// The risk it is about.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        risk: Option<String>,
        /// The risk's level when the report was filed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        level: Option<Level>,
        /// What happened, for people.
        summary: String,
        /// Filed by the node because a grading reached level I or II (not by hand).
        #[serde(default)]
        automatic: bool,
        /// The overdue disposal request it escalates (filed by the gateway's relay).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disposal: Option<String>,
    },
    /// The province acknowledged a report.
    ReportAcknowledged {
        /// The report.
        id: String,
        /// Optional note.
        #[serde(default)]
        note: String,
    },
    /// The province issued a directive or opened a consultation.
    DirectiveIssued {
        /// `<province>-d<n>` or `<province>-c<n>`.
        id: String,
        /// Directive or consultation.
        kind: DirectiveKind,
        /// The instruction or the question.
        text: String,
        /// When answers are due, Unix ms.
        deadline_ms: i64,
        /// Target counties; empty means every county of the province.
        #[serde(default)]
        targets: Vec<String>,
    },
    /// The origin (a county) answered a directive or consultation.
    DirectiveResponded {
        /// The directive or consultation.
        id: String,
        /// How far it has answered.
        status: ResponseStatus,
        /// What it says.
        #[serde(default)]
        text: String,
    },
    /// The province registered or changed a partner website (published so counties can
    /// check the partners they address).
    PartnerDeclared {
        /// Its name.
        name: String,
        /// For people.
        display_name: String,
        /// Receives nothing any more.
        #[serde(default)]
        disabled: bool,
        /// What it handles, for the counties that address it.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        handles: String,
    },
    /// The province published a certificate revocation list: every node adopts the newest by
    /// CRL number (never an older one) for TLS and for checking feeds.
    CrlPublished {
        /// Its CRL number.
        number: u64,
        /// The CRL, DER, base64.
        crl: String,
    },
    /// The province listed a node certificate in its directory (from the CA's
    /// `directory.pem`): the counties that exist, so codes naming none are refused.
    CertificateListed {
        /// The certificate, DER, base64.
        certificate: String,
    },
    /// The province re-keyed a county (a compromised or lost key): from each trusted head on,
    /// the county's feeds continue under `certificate`; what `previous` signed after those
    /// heads is set aside as evidence, never applied or relayed.
    Rekeyed {
        /// The county's identity path, e.g. `county/510104`.
        origin: String,
        /// Its new certificate, DER, base64.
        certificate: String,
        /// The certificate it signed with until now, DER, base64.
        previous: String,
        /// Per feed, the last entry of the old key the province still trusts.
        heads: Vec<TrustedHead>,
    },
    /// A county (or the province) asked a partner website to act on content (处置请求).
    DisposalFiled {
        /// `<requester>-x<n>`.
        id: String,
        /// The partner.
        partner: String,
        /// The exact URLs.
        urls: Vec<String>,
        /// What is asked.
        action: Action,
        /// Why.
        reason: String,
        /// Under which law or rule.
        legal_basis: String,
        /// When an outcome is due, Unix ms.
        deadline_ms: i64,
        /// Files attached, with their content.
        #[serde(default)]
        evidence: Vec<EvidenceFile>,
        /// The risk item it concerns.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        risk: Option<String>,
    },
    /// The requester withdrew its request.
    DisposalWithdrawn {
        /// The request.
        id: String,
        /// Why.
        #[serde(default)]
        reason: String,
    },
    /// The gateway held a request for provincial review, or decided it.
    DisposalReviewed {
        /// The request.
        id: String,
        /// `None`: held for review; `Some(true)`: approved; `Some(false)`: rejected.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        approved: Option<bool>,
        /// The reviewer's note.
        #[serde(default)]
        note: String,
    },
    /// The gateway queued a request, or its withdrawal, for its partner (the partner's
    /// outbox is built from these alone, in the gateway's feed order, so it reads the same
    /// after a rebuild).
    DisposalRelayed {
        /// The request.
        id: String,
        /// The withdrawal of a request already relayed.
        #[serde(default)]
        withdrawal: bool,
    },
    /// The partner received the request (its stream took it, or its webhook answered 2xx).
    DisposalDelivered {
        /// The request.
        id: String,
    },
    /// The partner confirmed receipt.
    DisposalAcknowledged {
        /// The request.
        id: String,
    },
    /// A county's intake figures over its last days (舆情采集统计): counts only, for the
    /// province's dashboard; observations themselves never leave the county.
    IntakeCounted {
        /// The figures.
        counts: IntakeCounts,
    },
    /// The partner reported its decision.
    DisposalAnswered {
        /// The request.
        id: String,
        /// What it did.
        outcome: Outcome,
        /// Why.
        #[serde(default)]
        reason: String,
        /// The partner's own reference id.
        #[serde(default)]
        reference: String,
    },
}

/// A county's intake figures over a period (docs/intake.md defines each).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntakeCounts {
    /// The period's length in days.
    pub days: u32,
    /// Its start, Unix ms.
    pub from_ms: i64,
    /// Its end (when counted), Unix ms.
    pub to_ms: i64,
    /// Risks the county identified in the period.
    pub risks: u64,
    /// Of them, promoted from intake.
    pub risks_from_intake: u64,
    /// Of the period's risks, those whose source another unit also had.
    pub contested: u64,
    /// Of those, the ones the county identified first.
    pub found_first: u64,
    /// Median lead over the other unit, over those found first, ms.
    pub lead_median_ms: i64,
    /// Items promoted in the period.
    pub promoted: u64,
    /// Items attached to risks.
    pub attached: u64,
    /// Items dismissed.
    pub dismissed: u64,
    /// Median time from an item's first sighting to its triage, ms.
    pub triage_median_ms: i64,
    /// Items still to triage when counted.
    pub open: u64,
}

/// The last entry of one feed that a re-keyed county's old key signed and the province still
/// trusts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedHead {
    /// The feed's audience.
    pub audience: Audience,
    /// Its sequence number (0: nothing of the old key is trusted in this feed).
    pub seq: u64,
    /// Its hash, hex (zeros when `seq` is 0).
    pub hash: String,
}

/// A file attached to a disposal request: its content travels base64-encoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceFile {
    /// File name, as given.
    pub name: String,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// The content, base64.
    pub content: String,
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
            | Self::RiskShared { id, .. }
            | Self::RiskNoted { id, .. }
            | Self::MeasureEdited { id, .. }
            | Self::RiskClosed { id, .. } => Some(id),
            _ => None,
        }
    }

    /// The level a grading leaves the risk at: the officer's override, else the computed
    /// level; `None` for any other event.
    pub fn graded_level(&self) -> Option<Level> {
        match self {
            Self::RiskGraded {
                level,
                override_level,
                ..
            } => Some(override_level.unwrap_or(*level)),
            _ => None,
        }
    }

    /// The alert, report or directive this event is about, if any.
    pub fn item_id(&self) -> Option<&str> {
        match self {
            Self::AlertIssued { id, .. }
            | Self::AlertUpdated { id, .. }
            | Self::AlertCancelled { id, .. }
            | Self::AlertDelivered { id }
            | Self::AlertAcknowledged { id, .. }
            | Self::ReportFiled { id, .. }
            | Self::ReportAcknowledged { id, .. }
            | Self::DirectiveIssued { id, .. }
            | Self::DirectiveResponded { id, .. } => Some(id),
            _ => None,
        }
    }

    /// The disposal request this event is about, if any.
    pub fn disposal_id(&self) -> Option<&str> {
        match self {
            Self::DisposalFiled { id, .. }
            | Self::DisposalWithdrawn { id, .. }
            | Self::DisposalReviewed { id, .. }
            | Self::DisposalRelayed { id, .. }
            | Self::DisposalDelivered { id }
            | Self::DisposalAcknowledged { id }
            | Self::DisposalAnswered { id, .. } => Some(id),
            _ => None,
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

    /// Entries written before overrides, notes and measure notes existed still read, and
    /// what this build writes without them is byte for byte what older builds wrote (their
    /// signatures and hashes cover those bytes).
    #[test]
    fn older_payloads_read_and_unused_new_fields_are_left_out() {
        let graded = br#"{"v":1,"type":"risk-graded","id":"510104-1","scores":{"influence":3,"attention":3,"diffusion":3},"level":"III","standard_version":"2025-1"}"#;
        let e = Event::decode(graded).unwrap();
        assert_eq!(
            e,
            Event::RiskGraded {
                id: "510104-1".into(),
                scores: Scores {
                    influence: 3,
                    attention: 3,
                    diffusion: 3
                },
                level: Level::III,
                standard_version: "2025-1".into(),
                override_level: None,
                reason: String::new(),
                note: None,
            }
        );
        assert_eq!(e.encode(), graded.to_vec());
        assert_eq!(e.graded_level(), Some(Level::III));
        let updated = br#"{"v":1,"type":"measure-updated","id":"510104-1","measure_id":"m1","status":"done"}"#;
        let e = Event::decode(updated).unwrap();
        assert_eq!(e.encode(), updated.to_vec());
        let overridden = Event::RiskGraded {
            id: "510104-1".into(),
            scores: Scores {
                influence: 3,
                attention: 3,
                diffusion: 3,
            },
            level: Level::III,
            standard_version: "2025-1".into(),
            override_level: Some(Level::II),
            reason: "a second incident nearby".into(),
            note: None,
        };
        assert_eq!(overridden.graded_level(), Some(Level::II));
        assert_eq!(Event::decode(&overridden.encode()).unwrap(), overridden);
    }
}
