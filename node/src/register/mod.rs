//! The risk register (风险点台账): a view derived from the feeds a node holds.
//!
//! - [`command`]: what staff ask for, checked and turned into an [`Event`](crate::event::Event);
//! - [`view`]: applying events to the stored records (`riskid_risk`), incrementally, and
//!   rebuilding them from the feeds;
//! - [`record`]: the stored risk record with its history;
//! - [`read`]: read models: one risk with its history, filtered, paged listing;
//! - [`sign_off`]: closures waiting for a county leader, where the county requires it.

pub mod command;
pub mod read;
pub mod record;
pub mod sign_off;
pub mod view;

pub use command::Command;
pub use record::RiskRecord;

use crate::domain::{GradingError, TransitionError};
use crate::store::StoreError;

/// Why a register operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// A field of the request is not acceptable; names the field.
    #[error("{field}: {reason}")]
    InvalidField {
        /// The field, as the CLI and API name it.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// No such risk item.
    #[error("no risk item with id {0:?}")]
    RiskNotFound(String),
    /// No such measure on the risk.
    #[error("risk {risk} has no measure {measure:?}")]
    MeasureNotFound {
        /// The risk.
        risk: String,
        /// The measure asked for.
        measure: String,
    },
    /// The status change is impossible.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// The operation does not fit the risk's state (e.g. grading a resolved risk).
    #[error("{0}")]
    Precondition(String),
    /// Grading refused the scores.
    #[error(transparent)]
    Grading(#[from] GradingError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<crate::event::check::ContentError> for RegisterError {
    fn from(e: crate::event::check::ContentError) -> Self {
        match e {
            crate::event::check::ContentError::Field { field, reason } => {
                Self::InvalidField { field, reason }
            }
            other => Self::Precondition(other.to_string()),
        }
    }
}

impl RegisterError {
    /// An invalid-field error.
    pub fn field(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidField {
            field,
            reason: reason.into(),
        }
    }
}
