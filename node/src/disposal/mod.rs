//! Disposal requests (处置请求) to partner websites: a county (or the province) files one in
//! its feed to the province; the gateway holds it for review or relays it to the partner's
//! outbox, from which the partner's gRPC stream (or its webhook) takes it; acknowledgment and
//! outcome come back to the gateway, which records them in its feed, so the requester sees
//! the whole lifecycle. Two requests to the same partner about the same URL share a case.
//!
//! [`record`]: what a node keeps of a request; [`view`]: events applied to records, cases and
//! the partner outboxes; [`command`]: checking what staff and partners ask (the gateway's task that reviews
//! or relays what arrives is [`crate::services::relay`]); [`signature`]: how webhooks and
//! partners' callbacks are signed.
//! [`read`]: read models: a request as staff or its partner see it, a partner's message.

pub mod attempts;
pub mod command;
pub mod read;
pub mod record;
pub mod signature;
pub mod view;

pub use command::Command;
pub use record::{DisposalRecord, State};

use crate::domain::item::{ItemId, ItemKind};
use crate::event::check::ContentError;
use crate::store::StoreError;

/// Why a disposal operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum DisposalError {
    /// A field of the request is not acceptable; names the field.
    #[error("{field}: {reason}")]
    InvalidField {
        /// The field, as the CLI and API name it.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// No such request (or case, or partner) at this node.
    #[error("{0}")]
    NotFound(String),
    /// The caller may not do this (e.g. withdraw another county's request).
    #[error("{0}")]
    NotYours(String),
    /// The operation does not fit the request's state (e.g. acknowledge a withdrawn one).
    #[error("{0}")]
    Precondition(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DisposalError {
    /// An invalid-field error.
    pub fn field(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidField {
            field,
            reason: reason.into(),
        }
    }
}

impl From<ContentError> for DisposalError {
    fn from(e: ContentError) -> Self {
        match e {
            ContentError::Field { field, reason } => Self::InvalidField { field, reason },
            other => Self::Precondition(other.to_string()),
        }
    }
}

/// Parses `id` as a disposal request id, or says precisely what is wrong with it.
pub fn parse_id(id: &str) -> Result<ItemId<'_>, DisposalError> {
    ItemId::parse_as(id, ItemKind::Disposal).map_err(|reason| DisposalError::field("id", reason))
}
