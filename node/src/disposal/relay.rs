//! The gateway's relay: whenever the views change, each request that arrived is held for
//! review or queued for its partner, an approved one is queued, and a withdrawal of a queued
//! one is queued too. Decisions are entries in the gateway's feed, so requesters see them and
//! a restart resumes where it stopped.

use std::sync::Arc;

use serde::Deserialize;
use tokio::sync::watch;

use crate::state::NodeState;

use super::record::{DisposalRecord, State};
use super::{view, Command};

/// Whether requests wait for a person at the gateway before they reach partners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Review {
    /// Relay at once.
    #[default]
    Auto,
    /// Hold for `fenghuo disposal approve|reject`.
    Manual,
}

/// What the relay must write for `r`, if anything.
pub fn next_step(r: &DisposalRecord, review: Review) -> Option<Command> {
    let approved = r.history.iter().any(|s| s.kind == "approved");
    let withdrawal_sent = r.history.iter().any(|s| s.kind == "withdrawal relayed");
    match r.state {
        State::Filed if review == Review::Manual => Some(Command::Review {
            id: r.id.clone(),
            approved: None,
            note: String::new(),
        }),
        State::Filed => Some(Command::Relay {
            id: r.id.clone(),
            withdrawal: false,
        }),
        State::InReview if approved => Some(Command::Relay {
            id: r.id.clone(),
            withdrawal: false,
        }),
        State::Withdrawn if r.relayed && !withdrawal_sent => Some(Command::Relay {
            id: r.id.clone(),
            withdrawal: true,
        }),
        _ => None,
    }
}

/// One pass: every step due now; returns how many were written.
pub async fn pass(state: &NodeState, review: Review) -> usize {
    let records = match view::list(state.store.as_ref()) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "disposal relay: cannot read requests");
            return 0;
        }
    };
    let mut written = 0;
    for r in records {
        let Some(cmd) = next_step(&r, review) else {
            continue;
        };
        match state.writer.submit(state.identity.path(), cmd).await {
            Ok(w) if w.seq > 0 => {
                written += 1;
                tracing::info!(request = %r.id, partner = %r.partner, "disposal request moved on");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(request = %r.id, error = %e, "disposal relay step refused"),
        }
    }
    written
}

/// Runs the relay at the gateway until `stop` turns true.
pub fn spawn(state: Arc<NodeState>, review: Review, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut changes = Changes::new(&state);
        loop {
            let span = tracing::info_span!("disposal_relay", node = %state.identity.path());
            let _ = tracing::Instrument::instrument(pass(&state, review), span).await;
            tokio::select! {
                r = changes.next() => if !r { break },
                _ = stop.wait_for(|s| *s) => break,
            }
        }
    });
}

/// Wakes whoever follows requests: the view applier took received entries, or the writer
/// stored communications (the gateway's own relays and decisions are applied as they are
/// written, so the applier never reports them).
#[derive(Debug)]
pub struct Changes {
    views: watch::Receiver<u64>,
    stored: watch::Receiver<u64>,
}

impl Changes {
    /// Follows `state`'s applier and writer from now on.
    pub fn new(state: &NodeState) -> Self {
        let mut views = state.views.clone();
        let mut stored = state.writer.comms_stored();
        views.borrow_and_update();
        stored.borrow_and_update();
        Self { views, stored }
    }

    /// Resolves at the next change; `false` once the node is gone.
    pub async fn next(&mut self) -> bool {
        tokio::select! {
            r = self.views.changed() => r.is_ok(),
            r = self.stored.changed() => r.is_ok(),
        }
    }
}

/// After a partner answered `id`, gives the same outcome to every other request of its case
/// still waiting for one, so each requester sees the shared outcome; returns how many.
pub async fn share_outcome(state: &NodeState, author: &str, id: &str) -> usize {
    let store = state.store.as_ref();
    let Ok(Some(r)) = view::get(store, &crate::store::Batch::new(), id) else {
        return 0;
    };
    let (Some(o), Ok((case_id, members))) = (r.outcome.clone(), view::case(store, &r)) else {
        return 0;
    };
    let mut shared = 0;
    for member in members.iter().filter(|m| **m != r.id) {
        let cmd = Command::Answer {
            partner: r.partner.clone(),
            id: member.clone(),
            outcome: o.outcome,
            reason: format!("shared outcome of case {case_id}: {}", o.reason),
            reference: o.reference.clone(),
        };
        // A member withdrawn, answered already or not yet relayed keeps its own course.
        if let Ok(w) = state.writer.submit(author.to_owned(), cmd).await {
            shared += usize::from(w.seq > 0);
        }
    }
    shared
}
