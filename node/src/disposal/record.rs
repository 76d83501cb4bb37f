//! What a node keeps of a disposal request.

use serde::{Deserialize, Serialize};

use crate::domain::disposal::{Action, Outcome};

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Filed; the gateway has not decided yet.
    Filed,
    /// Held for provincial review.
    InReview,
    /// Queued for the partner.
    Relayed,
    /// The partner received it.
    Delivered,
    /// The partner confirmed receipt.
    Acknowledged,
    /// The partner reported its decision.
    Answered,
    /// The province rejected it.
    Rejected,
    /// The requester withdrew it.
    Withdrawn,
}

impl State {
    /// The CLI and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Filed => "filed",
            Self::InReview => "in-review",
            Self::Relayed => "relayed",
            Self::Delivered => "delivered",
            Self::Acknowledged => "acknowledged",
            Self::Answered => "answered",
            Self::Rejected => "rejected",
            Self::Withdrawn => "withdrawn",
        }
    }

    /// No further change but a withdrawal's notice can follow.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Answered | Self::Rejected | Self::Withdrawn)
    }
}

/// A file's name, hash and size (the content is kept apart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceMeta {
    /// File name.
    pub name: String,
    /// Hex SHA-256.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
}

/// The partner's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeRecord {
    /// What it did.
    pub outcome: Outcome,
    /// Why.
    pub reason: String,
    /// Its own reference id.
    pub reference: String,
    /// When, Unix ms.
    pub at_ms: i64,
}

/// One step of a request's life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// When, Unix ms.
    pub at_ms: i64,
    /// filed, held, approved, rejected, relayed, delivered, acknowledged, answered, withdrawn.
    pub kind: String,
    /// Identity path of who did it.
    pub by: String,
    /// Reason or note.
    #[serde(default)]
    pub note: String,
}

/// A disposal request as a node holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisposalRecord {
    /// `<requester>-x<n>`.
    pub id: String,
    /// Division code of the requester.
    pub requester: String,
    /// The partner.
    pub partner: String,
    /// The exact URLs.
    pub urls: Vec<String>,
    /// What is asked.
    pub action: Action,
    /// Why.
    pub reason: String,
    /// Under which law or rule.
    pub legal_basis: String,
    /// When an outcome is due.
    pub deadline_ms: i64,
    /// Files attached.
    pub evidence: Vec<EvidenceMeta>,
    /// The risk concerned.
    pub risk: Option<String>,
    /// When filed.
    pub filed_at_ms: i64,
    /// Who filed it.
    pub filed_by: String,
    /// Where it stands.
    pub state: State,
    /// It was queued for the partner (so a withdrawal must be told to it).
    #[serde(default)]
    pub relayed: bool,
    /// When the partner received it.
    #[serde(default)]
    pub delivered_at_ms: Option<i64>,
    /// When the partner confirmed receipt.
    #[serde(default)]
    pub acknowledged_at_ms: Option<i64>,
    /// The decision.
    #[serde(default)]
    pub outcome: Option<OutcomeRecord>,
    /// Every step, oldest first.
    pub history: Vec<Step>,
    /// The gateway's report that escalated it once overdue.
    #[serde(default)]
    pub escalated: Option<String>,
}

impl DisposalRecord {
    /// Past its deadline without an outcome (and neither withdrawn nor rejected).
    pub fn overdue(&self, now_ms: i64) -> bool {
        now_ms > self.deadline_ms && !self.state.is_final()
    }
}
