//! The stored communications records: what the views keep of alerts, reports, directives and
//! the responses to them. JSON, like the register's records.

use serde::{Deserialize, Serialize};

use crate::domain::alert::NewAlert;
use crate::domain::directive::{DirectiveKind, ResponseStatus};
use crate::domain::Level;
use crate::feed::Audience;

use super::cap::MessageKind;

/// One message of an alert's chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainMessage {
    /// 1 for the issue, then 2, 3… for updates and the cancel.
    pub version: u32,
    /// Alert, update or cancel.
    pub kind: MessageKind,
    /// When, Unix ms.
    pub at_ms: i64,
    /// Identity path of who wrote it.
    pub author: String,
    /// For people: what changed.
    pub summary: String,
}

/// A shared alert as it now stands, with its chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    /// `<issuer>-a<n>`.
    pub id: String,
    /// Division code of the issuer.
    pub issuer: String,
    /// The issuer's feed it travels in (its updates and cancel travel there too).
    pub feed: Audience,
    /// The content, as the latest update left it.
    pub alert: NewAlert,
    /// Seconds within which an extreme or severe alert must be acknowledged.
    pub ack_within_s: u64,
    /// When it was issued, Unix ms.
    pub issued_at_ms: i64,
    /// When it was cancelled, Unix ms.
    #[serde(default)]
    pub cancelled_at_ms: Option<i64>,
    /// Issue, updates, cancel.
    pub chain: Vec<ChainMessage>,
}

impl AlertRecord {
    /// `active`, `cancelled` or `expired` at `now_ms`.
    pub fn status(&self, now_ms: i64) -> &'static str {
        if self.cancelled_at_ms.is_some() {
            "cancelled"
        } else if self.alert.expires_ms.is_some_and(|e| e <= now_ms) {
            "expired"
        } else {
            "active"
        }
    }
}

/// A unit's response to an alert, report or directive: delivery and acknowledgment of an
/// alert, the province's acknowledgment of a report, a county's answer to a directive.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseRecord {
    /// Division code of the responding unit.
    pub responder: String,
    /// When its node received the alert, Unix ms.
    #[serde(default)]
    pub delivered_at_ms: Option<i64>,
    /// When its staff acknowledged, Unix ms.
    #[serde(default)]
    pub acknowledged_at_ms: Option<i64>,
    /// Identity path of who acknowledged or last answered.
    #[serde(default)]
    pub by: String,
    /// The acknowledgment's note.
    #[serde(default)]
    pub note: String,
    /// How far it answered a directive.
    #[serde(default)]
    pub status: Option<ResponseStatus>,
    /// Its latest answer's text.
    #[serde(default)]
    pub text: String,
    /// When it first answered a directive, Unix ms.
    #[serde(default)]
    pub responded_at_ms: Option<i64>,
}

/// A major-issue report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportRecord {
    /// `<county>-r<n>`.
    pub id: String,
    /// Division code of the reporting county.
    pub origin: String,
    /// The risk it concerns.
    #[serde(default)]
    pub risk: Option<String>,
    /// The risk's level when filed.
    #[serde(default)]
    pub level: Option<Level>,
    /// What happened.
    pub summary: String,
    /// Filed by the node on a grading to level I or II.
    pub automatic: bool,
    /// When, Unix ms.
    pub filed_at_ms: i64,
    /// Identity path of the author.
    pub filed_by: String,
    /// The overdue disposal request it escalates (the gateway's own reports).
    #[serde(default)]
    pub disposal: Option<String>,
}

/// A directive or consultation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DirectiveRecord {
    /// `<province>-d<n>` or `<province>-c<n>`.
    pub id: String,
    /// Directive or consultation.
    pub kind: DirectiveKind,
    /// The instruction or question.
    pub text: String,
    /// When answers are due, Unix ms.
    pub deadline_ms: i64,
    /// Target counties; empty for every county.
    pub targets: Vec<String>,
    /// When, Unix ms.
    pub issued_at_ms: i64,
    /// Identity path of the author.
    pub issued_by: String,
}

impl DirectiveRecord {
    /// Whether `county` is asked to respond.
    pub fn targets(&self, county: &str) -> bool {
        self.targets.is_empty() || self.targets.iter().any(|t| t == county)
    }
}
