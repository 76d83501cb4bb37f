//! The node's long-running tasks above the writer: each follows the views or the feeds and
//! writes through the writer like any other client.
//!
//! - [`applier`]: applies entries received from peers to the views;
//! - [`intake_desk`]: records what monitoring systems find and the officers' triage of it;
//! - [`intake_pull`]: pulls the county's RSS/Atom feeds into intake, with conditional GET
//!   and backoff;
//! - [`journal`]: what arrived for this node's staff, numbered for `Watch` streams; it also
//!   records each alert's delivery;
//! - [`relay`]: the gateway's review and relay of disposal requests to partners' outboxes;
//! - [`worker`]: how each of them (and the sync links, the publisher, the alarm log, the
//!   gateway's webhook delivery) is started: a name, a span, a stop signal and a status the
//!   health views read.

pub mod applier;
pub mod intake_desk;
pub mod intake_pull;
pub mod journal;
pub mod notifier;
pub mod relay;
pub mod worker;
