//! The state a running node shares between its request handlers and workers.

use std::sync::Arc;

use crate::domain::GradingStandard;
use crate::identity::Identity;
use crate::services::worker::Workers;
use crate::store::Store;
use crate::sync::session::SyncContext;
use crate::writer::Writer;

/// Shared by every request handler of one node (several nodes may run in one process).
#[derive(Debug, Clone)]
pub struct NodeState {
    /// This node's identity (`county/510104` or `province/51`).
    pub identity: Identity,
    /// Feeds and views.
    pub store: Arc<dyn Store>,
    /// The only way to change anything.
    pub writer: Writer,
    /// The grading standard in force.
    pub standard: Arc<GradingStandard>,
    /// What sync sessions share (entitlement, status board).
    pub sync: Arc<SyncContext>,
    /// The newest journal cursor (see [`crate::services::journal`]); changes as items arrive.
    pub journal: tokio::sync::watch::Receiver<u64>,
    /// Counts the view applier's passes: changes whenever views have taken new entries.
    pub views: tokio::sync::watch::Receiver<u64>,
    /// Whether the gateway holds disposal requests for review.
    pub disposal_review: crate::domain::disposal::Review,
    /// How long recipients have to acknowledge this node's extreme and severe alerts.
    pub ack_within: std::time::Duration,
    /// What needs a county leader's sign-off.
    pub sign_off: crate::config::SignOffConfig,
    /// The store's folder (backups are staged beside the store in it).
    pub data_dir: std::path::PathBuf,
    /// Turns true when the node shuts down: every long-lived response stream ends then.
    pub stop: tokio::sync::watch::Receiver<bool>,
    /// The county's intake (舆情采集); `None` at the gateway.
    pub intake: Option<Arc<crate::services::intake_desk::IntakeDesk>>,
    /// Notifications to the person on duty (the `Notify` service's test sends through it).
    pub notifier: Arc<crate::services::notifier::Notifier>,
    /// The statuses of the node's workers (journal, sync links, …), for the health views;
    /// whoever starts a worker later (the gateway's webhook delivery) registers it here too.
    pub workers: Arc<Workers>,
}

impl NodeState {
    /// This node's division code (its county, or its province for the gateway).
    pub fn unit(&self) -> &str {
        self.identity.unit().map(|u| u.as_str()).unwrap_or_default()
    }
}
