//! Delivering disposal requests to partners' webhooks: for each enabled partner with a
//! webhook, a worker takes its outbox from where it left off and POSTs each message as JSON,
//! signed after Standard Webhooks (see `fenghuo_node::disposal::signature`) with a
//! `webhook-id` the same on every retry; each message is retried on its own with exponential
//! backoff and jitter until its request's deadline, and a 4xx other than 408/429 ends it; every
//! attempt is recorded and shown with the request. Partners answer through [`callback`] or
//! over gRPC. [`address`] keeps webhooks off the gateway's own network.

pub mod address;
pub mod callback;
pub mod client;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use fenghuo_node::disposal::attempts::{self, Attempt};
use fenghuo_node::disposal::read::{self, DeliveryMessage};
use fenghuo_node::disposal::{signature, view, Command};
use fenghuo_node::partner::{self, Partner};
use fenghuo_node::services::relay::Changes;
use fenghuo_node::state::NodeState;
use fenghuo_node::timespec::now_ms;
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
pub fn body(m: &DeliveryMessage) -> Value {
    use base64::Engine as _;
    let r = &m.request;
    json!({
        "type": m.kind(),
        "cursor": m.cursor,
        "request": {
            "id": r.id,
            "requester": r.requester,
            "urls": r.urls,
            "action": r.action.as_str(),
            "reason": r.reason,
            "legal_basis": r.legal_basis,
            "deadline": fenghuo_node::timespec::format_ms(r.deadline_ms),
            "risk": r.risk.as_deref().filter(|risk| !risk.is_empty()),
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

/// Starts the supervisor as the worker `webhook-delivery` in `state.workers` (see
/// [`fenghuo_node::services::worker`]). Ends when `stop` turns true.
pub fn spawn(state: Arc<NodeState>, client: WebhookClient, stop: watch::Receiver<bool>) {
    let workers = state.workers.clone();
    fenghuo_node::services::worker::spawn(&workers, "webhook-delivery", stop, move |stop| {
        run(state, client, stop)
    });
}

/// The supervisor: a delivery task per enabled webhook partner, restarted when its webhook
/// changes, stopped when it is disabled. Ends when `stop` turns true; it logs what it cannot
/// read and tries again, so it never fails.
pub async fn run(
    state: Arc<NodeState>,
    client: WebhookClient,
    mut stop: watch::Receiver<bool>,
) -> Result<(), std::convert::Infallible> {
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
                let task = tokio::spawn(worker(state.clone(), client.clone(), p.name.clone()));
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
    Ok(())
}

/// What one attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settled {
    /// Taken (2xx), refused for good, or past its deadline: no more attempts.
    Yes,
    /// Try again at this time, Unix ms.
    RetryAt(i64),
}

/// Whether an HTTP status ends a message's delivery for good: a 4xx other than 408
/// (timeout) and 429 (too many requests) says the partner will never take it as sent.
pub fn is_final_refusal(status: u16) -> bool {
    (400..500).contains(&status) && status != 408 && status != 429
}

/// Delivers `name`'s outbox from its saved cursor, forever: each message taken from the
/// outbox waits in the pending list with its own retry time, so a message the partner keeps
/// refusing holds back no other. Only a request's own messages keep their order (its
/// withdrawal is not sent before it); between requests none is needed.
async fn worker(state: Arc<NodeState>, client: WebhookClient, name: String) {
    let store = state.store.clone();
    let mut changes = Changes::new(&state);
    let mut conn = None;
    loop {
        if let Err(e) = take_new(store.as_ref(), &name) {
            tracing::error!(partner = %name, error = %e, "webhooks: cannot read the outbox");
            tokio::time::sleep(REGISTRY_POLL).await;
            continue;
        }
        let pending = match attempts::pending(store.as_ref(), &name) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(partner = %name, error = %e, "webhooks: cannot read pending deliveries");
                tokio::time::sleep(REGISTRY_POLL).await;
                continue;
            }
        };
        // Read for every pass, so a replaced secret signs the very next attempt.
        let p = match partner::get(store.as_ref(), &name) {
            Ok(Some(p)) if !p.disabled && !p.webhook_url.is_empty() => p,
            Ok(_) => return,
            Err(e) => {
                tracing::error!(partner = %name, error = %e, "webhooks: cannot read the partner");
                tokio::time::sleep(REGISTRY_POLL).await;
                continue;
            }
        };
        let mut waiting_request = std::collections::HashSet::new();
        let mut next_wake: Option<i64> = None;
        let mut attempted = false;
        for (seq, mut pm) in pending {
            // An earlier message of the same request is still pending: this one waits for it.
            if !waiting_request.insert(pm.id.clone()) {
                continue;
            }
            if pm.next_at_ms > now_ms() {
                next_wake = Some(next_wake.map_or(pm.next_at_ms, |w| w.min(pm.next_at_ms)));
                continue;
            }
            attempted = true;
            let span = tracing::info_span!("webhook", partner = %name, request = %pm.id, seq);
            let settled = tracing::Instrument::instrument(
                deliver(&state, &client, &mut conn, &p, seq, &pm),
                span,
            )
            .await;
            let saved = match settled {
                Settled::Yes => attempts::settle(store.as_ref(), &name, seq),
                Settled::RetryAt(at) => {
                    pm.tries += 1;
                    pm.next_at_ms = at;
                    attempts::reschedule(store.as_ref(), &name, seq, &pm)
                }
            };
            if let Err(e) = saved {
                tracing::error!(partner = %name, error = %e, "webhooks: cannot save a delivery's state");
            }
        }
        if attempted {
            continue; // new messages may have come meanwhile, and some may be due again
        }
        let wake =
            next_wake.map(|w| Duration::from_millis(u64::try_from(w - now_ms()).unwrap_or(0)));
        tokio::select! {
            r = changes.next() => if !r { return },
            _ = tokio::time::sleep(wake.unwrap_or_default()), if wake.is_some() => {}
        }
    }
}

/// Moves every new outbox message of `partner` to its pending list.
fn take_new(
    store: &dyn fenghuo_node::store::Store,
    partner: &str,
) -> Result<(), fenghuo_node::store::StoreError> {
    loop {
        let cursor = attempts::cursor(store, partner)?;
        let page = view::outbox(store, partner, cursor, PAGE)?;
        if page.is_empty() {
            return Ok(());
        }
        attempts::take(store, partner, &page, now_ms())?;
    }
}

/// One attempt at message `seq`: POSTed, signed with the partner's current secret (and the
/// replaced one while its overlap lasts), recorded with the request.
async fn deliver(
    state: &NodeState,
    client: &WebhookClient,
    conn: &mut Option<client::Connection>,
    p: &Partner,
    seq: u64,
    pm: &attempts::Pending,
) -> Settled {
    let store = state.store.as_ref();
    let m = view::OutboxMessage {
        id: pm.id.clone(),
        withdrawal: pm.withdrawal,
    };
    let message = match read::message(store, seq, &m, now_ms()) {
        Ok(Some(msg)) => msg,
        Ok(None) => return Settled::Yes,
        Err(e) => {
            tracing::error!(error = %e, "webhooks: cannot build the message");
            return Settled::RetryAt(now_ms() + MAX_BACKOFF.as_millis() as i64);
        }
    };
    let deadline = message.request.deadline_ms;
    let kind = message.kind();
    let body = body(&message).to_string();
    let id = format!("{}:{kind}", m.id);
    let keys = p.secrets(now_ms());
    let keys: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    let ts = now_ms() / 1000;
    let result = match signature::sign(&keys, &id, ts, body.as_bytes()) {
        Ok(sig) => {
            let signed = client::Signed {
                id: &id,
                timestamp: ts,
                signature: &sig,
            };
            client.post(conn, &p.webhook_url, &body, &signed).await
        }
        Err(e) => Err(client::WebhookError::Transport(e.to_string())),
    };
    let (status, error) = match &result {
        Ok(s) => (*s, String::new()),
        Err(e) => (0, e.to_string()),
    };
    let record = |status: u16, error: String, last: bool| {
        let attempt = Attempt {
            at_ms: now_ms(),
            kind: kind.to_owned(),
            status,
            error,
            last,
        };
        if let Err(e) = attempts::record(store, &m.id, &attempt) {
            tracing::error!(error = %e, "webhooks: cannot record an attempt");
        }
    };
    if (200..300).contains(&status) {
        record(status, String::new(), false);
        tracing::info!(status, attempt = pm.tries + 1, "webhook delivered");
        if !m.withdrawal {
            let cmd = Command::RecordDelivery { id: m.id.clone() };
            if let Err(e) = state.writer.submit(state.identity.path(), cmd).await {
                tracing::warn!(error = %e, "recording a delivery failed");
            }
        }
        return Settled::Yes;
    }
    if is_final_refusal(status) {
        record(status, "refused by the partner: not retried".into(), true);
        tracing::error!(
            status,
            attempts = pm.tries + 1,
            "webhook refused for good by the partner"
        );
        return Settled::Yes;
    }
    let wait = backoff(pm.tries);
    let at = now_ms() + wait.as_millis() as i64;
    if at > deadline {
        let error = if error.is_empty() {
            "gave up: the deadline passed".to_owned()
        } else {
            format!("{error}; gave up: the deadline passed")
        };
        record(status, error.clone(), true);
        tracing::error!(status, %error, attempts = pm.tries + 1, "webhook gave up: the request's deadline has passed");
        return Settled::Yes;
    }
    record(status, error.clone(), false);
    tracing::warn!(status, %error, attempt = pm.tries + 1, retry_in_ms = wait.as_millis() as u64, "webhook failed; retrying");
    Settled::RetryAt(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fenghuo_node::disposal::read::{Evidence, RequestDetails};
    use fenghuo_node::disposal::State;
    use fenghuo_node::domain::disposal::Action;

    /// docs/partners.md's example message, as the read model holds it. (The docs show the
    /// deadline without its milliseconds; `timespec::format_ms` always writes them.)
    fn documented(withdrawal: bool, risk: Option<&str>) -> DeliveryMessage {
        let file = |content: &[u8]| Evidence {
            name: "screenshot.png".into(),
            sha256: "9f2c".into(),
            size: 48213,
            content: content.to_vec(),
        };
        DeliveryMessage {
            cursor: 42,
            withdrawal,
            request: RequestDetails {
                id: "510104-x3".into(),
                requester: "510104".into(),
                partner: "weibo".into(),
                urls: vec!["https://weibo.example/status/1".into()],
                action: Action::TakeDown,
                reason: "Fabricated casualty figures".into(),
                legal_basis: "art. 6".into(),
                deadline_ms: 1_795_766_400_000,
                evidence: vec![file(b"")],
                risk: risk.map(str::to_owned),
                filed_at_ms: 1_795_000_000_000,
                filed_by: "staff/510104/zhang".into(),
                state: State::Relayed,
                overdue: false,
                case_id: "510104-x3".into(),
                linked: vec![],
                delivered_at_ms: None,
                acknowledged_at_ms: None,
                outcome: None,
                history: vec![],
                escalated_report: None,
            },
            evidence: if withdrawal {
                vec![]
            } else {
                vec![file(b"PNG")]
            },
        }
    }

    #[test]
    fn the_body_is_the_documented_json() {
        let expected = json!({
            "type": "request", "cursor": 42,
            "request": {"id": "510104-x3", "requester": "510104",
                        "urls": ["https://weibo.example/status/1"], "action": "take-down",
                        "reason": "Fabricated casualty figures", "legal_basis": "art. 6",
                        "deadline": "2026-11-27T08:00:00.000Z", "risk": "510104-17",
                        "case": "510104-x3", "linked": []},
            "evidence": [{"name": "screenshot.png", "sha256": "9f2c", "size": 48213,
                          "content_base64": "UE5H"}],
        });
        assert_eq!(body(&documented(false, Some("510104-17"))), expected);

        let withdrawal = body(&documented(true, None));
        assert_eq!(withdrawal["type"], "withdrawal");
        assert_eq!(withdrawal["request"]["risk"], Value::Null);
        assert_eq!(withdrawal["evidence"], json!([]));
    }

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
