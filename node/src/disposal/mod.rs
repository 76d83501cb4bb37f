//! Disposal requests (处置请求) to partner websites: a county (or the province) files one in
//! its feed to the province; the gateway holds it for review or relays it to the partner's
//! outbox, from which the partner's gRPC stream (or its webhook) takes it; acknowledgment and
//! outcome come back to the gateway, which records them in its feed, so the requester sees
//! the whole lifecycle. Two requests to the same partner about the same URL share a case.
//!
//! [`record`]: what a node keeps of a request; [`view`]: events applied to records, cases and
//! the partner outboxes; [`command`]: checking what staff and partners ask; [`relay`]: the
//! gateway's task that reviews or relays what arrives; [`signature`]: how webhooks and
//! partners' callbacks are signed.

pub mod attempts;
pub mod command;
pub mod read;
pub mod record;
pub mod relay;
pub mod signature;
pub mod view;

pub use command::Command;
pub use record::{DisposalRecord, State};
