//! Delivering disposal requests to partners' webhooks: for each enabled partner with a
//! webhook, a worker takes its outbox from where it left off and POSTs each message as JSON,
//! signed (see `fenghuo_node::disposal::signature`), with an idempotency key; a failure is
//! retried with exponential backoff and jitter until the request's deadline; every attempt is
//! recorded and shown with the request. Partners answer through [`callback`] or over gRPC.

pub mod callback;
pub mod client;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use fenghuo_node::disposal::attempts::{self, Attempt};
use fenghuo_node::disposal::relay::Changes;
use fenghuo_node::disposal::{signature, view, Command};
use fenghuo_node::partner::{self, Partner};
use fenghuo_node::state::NodeState;
use fenghuo_node::timespec::now_ms;
use fenghuo_proto::v1;
use serde_json::{json, Value};
use tokio::sync::watch;

use client::WebhookClient;

/// How often the partner registry is re-read for new or changed webhooks.
const REGISTRY_POLL: Duration = Duration::from_secs(2);
/// First retry delay; doubled per attempt up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Longest wait between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Messages taken from the outbox at a time.
const PAGE: usize = 50;

/// The JSON body a webhook receives for one outbox message (documented in docs/partners.md).
pub fn body(m: &v1::PartnerMessage) -> Value {
    use base64::Engine as _;
    let r = m.request.clone().unwrap_or_default();
    json!({
        "type": m.kind,
        "cursor": m.cursor,
        "request": {
            "id": r.id,
            "requester": r.requester,
            "urls": r.urls,
            "action": r.action,
            "reason": r.reason,
            "legal_basis": r.legal_basis,
            "deadline": fenghuo_node::timespec::format_ms(r.deadline_ms),
            "risk": (!r.risk.is_empty()).then_some(&r.risk),
            "case": r.case_id,
            "linked": r.linked,
        },
        "evidence": m.evidence.iter().map(|e| json!({
            "name": e.name,
            "sha256": e.sha256,
            "size": e.size,
            "content_base64": base64::engine::general_purpose::STANDARD.encode(&e.content),
        })).collect::<Vec<_>>(),
    })
}

/// The delay before attempt `n` (0-based) of a retry: doubling, capped, ±20 % jitter so
/// partners coming back up are not hit by every gateway at once.
pub fn backoff(n: u32) -> Duration {
    let base = FIRST_BACKOFF
        .saturating_mul(2u32.saturating_pow(n.min(16)))
        .min(MAX_BACKOFF);
    base.mul_f64(0.8 + fastrand::f64() * 0.4)
}

/// Starts the supervisor: a worker per enabled webhook partner, restarted when its webhook
/// changes, stopped when it is disabled. Ends when `stop` turns true.
pub fn spawn(state: Arc<NodeState>, client: WebhookClient, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut workers: HashMap<String, (String, tokio::task::JoinHandle<()>)> = HashMap::new();
        loop {
            let partners = partner::list(state.store.as_ref()).unwrap_or_else(|e| {
                tracing::error!(error = %e, "webhooks: cannot read partners");
                Vec::new()
            });
            let wanted: HashMap<String, Partner> = partners
                .into_iter()
                .filter(|p| !p.disabled && !p.webhook_url.is_empty())
                .map(|p| (p.name.clone(), p))
                .collect();
            workers.retain(|name, (url, task)| {
                let keep = wanted.get(name).is_some_and(|p| p.webhook_url == *url);
                if !keep {
                    task.abort();
                }
                keep
            });
            for (name, p) in wanted {
                if let std::collections::hash_map::Entry::Vacant(slot) = workers.entry(name) {
                    tracing::info!(partner = %p.name, url = %p.webhook_url, "webhook delivery started");
                    let task = tokio::spawn(worker(state.clone(), client.clone(), p.clone()));
                    slot.insert((p.webhook_url, task));
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(REGISTRY_POLL) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
        for (_, (_, task)) in workers {
            task.abort();
        }
    });
}

/// Delivers `p`'s outbox, in order, from its saved cursor, forever.
async fn worker(state: Arc<NodeState>, client: WebhookClient, p: Partner) {
    let secret = hex::decode(&p.webhook_secret_hex).unwrap_or_default();
    let store = state.store.clone();
    let mut changes = Changes::new(&state);
    let mut conn = None;
    loop {
        let cursor = attempts::cursor(store.as_ref(), &p.name).unwrap_or(0);
        let page = match view::outbox(store.as_ref(), &p.name, cursor, PAGE) {
            Ok(page) => page,
            Err(e) => {
                tracing::error!(partner = %p.name, error = %e, "webhooks: cannot read the outbox");
                tokio::time::sleep(REGISTRY_POLL).await;
                continue;
            }
        };
        if page.is_empty() {
            if !changes.next().await {
                return;
            }
            continue;
        }
        for (seq, m) in page {
            let span = tracing::info_span!("webhook", partner = %p.name, request = %m.id, seq);
            let _ = tracing::Instrument::instrument(
                deliver(&state, &client, &mut conn, &p, &secret, seq, &m),
                span,
            )
            .await;
            if let Err(e) = attempts::advance(store.as_ref(), &p.name, seq) {
                tracing::error!(partner = %p.name, error = %e, "webhooks: cannot save the cursor");
            }
        }
    }
}

/// POSTs one message until it is taken (2xx) or its request's deadline passes.
async fn deliver(
    state: &NodeState,
    client: &WebhookClient,
    conn: &mut Option<client::Connection>,
    p: &Partner,
    secret: &[u8],
    seq: u64,
    m: &view::OutboxMessage,
) {
    let store = state.store.as_ref();
    let message = match fenghuo_node::api::disposal::message(store, seq, m) {
        Ok(Some(msg)) => msg,
        Ok(None) => return,
        Err(e) => {
            tracing::error!(error = %e, "webhooks: cannot build the message");
            return;
        }
    };
    let deadline = message.request.as_ref().map(|r| r.deadline_ms).unwrap_or(0);
    let kind = message.kind.clone();
    let body = body(&message).to_string();
    let key = format!("{}:{kind}", m.id);
    let mut n = 0u32;
    loop {
        let ts = now_ms() / 1000;
        let sig = signature::sign(secret, ts, body.as_bytes());
        let result = client
            .post(conn, &p.webhook_url, &body, ts, &sig, &key)
            .await;
        let (status, error) = match &result {
            Ok(s) => (*s, String::new()),
            Err(e) => (0, e.to_string()),
        };
        let attempt = Attempt {
            at_ms: now_ms(),
            kind: kind.clone(),
            status,
            error: error.clone(),
        };
        if let Err(e) = attempts::record(store, &m.id, &attempt) {
            tracing::error!(error = %e, "webhooks: cannot record an attempt");
        }
        if (200..300).contains(&status) {
            tracing::info!(status, attempt = n + 1, "webhook delivered");
            if !m.withdrawal {
                let cmd = Command::RecordDelivery { id: m.id.clone() };
                if let Err(e) = state.writer.submit(state.identity.path(), cmd).await {
                    tracing::warn!(error = %e, "recording a delivery failed");
                }
            }
            return;
        }
        let wait = backoff(n);
        if now_ms() + wait.as_millis() as i64 > deadline {
            tracing::error!(status, %error, attempts = n + 1, "webhook gave up: the request's deadline has passed");
            let _ = attempts::record(
                store,
                &m.id,
                &Attempt {
                    at_ms: now_ms(),
                    kind: kind.clone(),
                    status: 0,
                    error: "gave up: the deadline passed".into(),
                },
            );
            return;
        }
        tracing::warn!(status, %error, attempt = n + 1, retry_in_ms = wait.as_millis() as u64, "webhook failed; retrying");
        tokio::time::sleep(wait).await;
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_a_cap() {
        for n in 0..20 {
            let d = backoff(n);
            let base = FIRST_BACKOFF
                .saturating_mul(2u32.saturating_pow(n))
                .min(MAX_BACKOFF);
            assert!(
                d >= base.mul_f64(0.8) && d <= base.mul_f64(1.2),
                "{n}: {d:?}"
            );
        }
        assert!(backoff(30) <= MAX_BACKOFF.mul_f64(1.2));
    }
}
