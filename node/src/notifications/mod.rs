//! Notifications that reach people (值班与通知): who is on duty, the channels that reach them
//! (mail, the WeCom, DingTalk and Feishu group robots, a signed webhook), which arrivals
//! notify, and the outbox that delivers each one once, retrying a failing channel.
//!
//! All of it is local state: rosters and channels (with their secrets) stay on the unit's
//! node and never enter a feed. The `notify` worker (`services/notifier.rs`) follows the
//! journal, asks [`rules`] whom an item concerns, and sends through [`outbox`].

pub mod channel;
pub mod message;
pub mod outbox;
pub mod roster;
pub mod rules;
pub mod schedule;

use crate::store::StoreError;

/// Why a roster, channel or delivery change was refused.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// A field is missing or malformed; says which and why.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field, as the CLI and the pages name it.
        field: &'static str,
        /// What is wrong, and what is expected.
        reason: String,
    },
    /// Nothing of that name.
    #[error("no {what} named {name:?}")]
    NotFound {
        /// `person` or `channel`.
        what: &'static str,
        /// The name asked for.
        name: String,
    },
    /// The name is taken.
    #[error("{what} {name:?} already exists (replace it with --replace)")]
    Exists {
        /// `person` or `channel`.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// A channel still named by people on duty cannot go.
    #[error("channel {name:?} is used by {people}: remove it from them first")]
    InUse {
        /// The channel.
        name: String,
        /// Who uses it, comma-separated.
        people: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &'static str, reason: impl Into<String>) -> NotifyError {
    NotifyError::Invalid {
        field,
        reason: reason.into(),
    }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("notify: corrupt {what}: {e}"))
}

/// A name for a person or channel: 1–63 of a–z, 0–9, '_', '-' (as sign-in names).
fn check_name(field: &'static str, name: &str) -> Result<(), NotifyError> {
    crate::identity::validate_name(name)
        .map_err(|_| invalid(field, "use 1–63 of a–z, 0–9, '_', '-', starting with a letter or digit (a Chinese name goes in --display-name)"))
}
