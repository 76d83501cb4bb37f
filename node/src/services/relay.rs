//! The gateway's relay: whenever the views change, each request that arrived is held for
//! review or queued for its partner, an approved one is queued, and a withdrawal of a queued
//! one is queued too. Decisions are entries in the gateway's feed, so requesters see them and
//! a restart resumes where it stopped. A request past its deadline without an outcome is
//! escalated to the gateway's report list, once; the relay wakes at the next deadline for it.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::state::NodeState;

use super::worker;

use crate::disposal::record::{DisposalRecord, State};
use crate::disposal::{view, Command};
use crate::domain::disposal::Review;

/// What the relay must write for `r` at `now_ms`, if anything.
pub fn next_step(r: &DisposalRecord, review: Review, now_ms: i64) -> Option<Command> {
    let approved = r.history.iter().any(|s| s.kind == "approved");
    let withdrawal_sent = r.history.iter().any(|s| s.kind == "withdrawal relayed");
    let step = match r.state {
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
    };
    step.or_else(|| {
        (r.escalated.is_none() && r.overdue(now_ms)).then(|| Command::Escalate { id: r.id.clone() })
    })
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Steps written.
    pub written: usize,
    /// The earliest deadline still to watch (Unix ms): the relay wakes then to escalate.
    pub next_deadline_ms: Option<i64>,
}

/// One pass: every step due now.
pub async fn pass(state: &NodeState, review: Review) -> Pass {
    let records = match view::list(state.store.as_ref()) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "disposal relay: cannot read requests");
            return Pass::default();
        }
    };
    let now_ms = crate::timespec::now_ms();
    let mut done = Pass::default();
    for r in records {
        if r.escalated.is_none() && !r.state.is_final() && r.deadline_ms >= now_ms {
            done.next_deadline_ms = Some(
                done.next_deadline_ms
                    .map_or(r.deadline_ms, |d| d.min(r.deadline_ms)),
            );
        }
        let Some(cmd) = next_step(&r, review, now_ms) else {
            continue;
        };
        match state.writer.submit(state.identity.path(), cmd).await {
            Ok(w) if w.seq > 0 => {
                done.written += 1;
                tracing::info!(request = %r.id, partner = %r.partner, "disposal request moved on");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(request = %r.id, error = %e, "disposal relay step refused"),
        }
    }
    done
}

/// Starts the relay at the gateway as the worker `disposal-relay` in `state.workers` (see
/// [`super::worker`]); it runs until `stop` turns true.
pub fn spawn(state: Arc<NodeState>, review: Review, stop: watch::Receiver<bool>) {
    let workers = state.workers.clone();
    worker::spawn(&workers, "disposal-relay", stop, move |stop| {
        run(state, review, stop)
    });
}

/// Runs the relay at the gateway until `stop` turns true (or the node is gone); step errors
/// are logged per request, so it never fails.
pub async fn run(
    state: Arc<NodeState>,
    review: Review,
    mut stop: watch::Receiver<bool>,
) -> Result<(), Infallible> {
    let mut changes = Changes::new(&state);
    loop {
        let span = tracing::info_span!("disposal_relay", node = %state.identity.path());
        let done = tracing::Instrument::instrument(pass(&state, review), span).await;
        // Overdue means strictly past the deadline: wake just after it.
        let wake = done.next_deadline_ms.map(|d| {
            Duration::from_millis(u64::try_from(d + 1 - crate::timespec::now_ms()).unwrap_or(0))
        });
        tokio::select! {
            r = changes.next() => if !r { break },
            _ = tokio::time::sleep(wake.unwrap_or_default()), if wake.is_some() => {}
            _ = stop.wait_for(|s| *s) => break,
        }
    }
    Ok(())
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
    let Ok(Some(r)) = view::get(store, id) else {
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
