//! Webhook deliveries at the gateway: how far each partner's webhook has taken its outbox,
//! the messages taken but not settled yet (each with its own retry schedule, so one message
//! a partner keeps refusing holds back no other), and every attempt (status or error), shown
//! with the request's history. Local to the gateway (not a view: a rebuild keeps them).

use serde::{Deserialize, Serialize};

use crate::domain::item::ItemId;
use crate::store::{Batch, Store, StoreError};

/// Outbox cursor per webhook partner.
pub const CURSOR_TREE: &str = "webhook_cursor";
/// Attempts per request.
pub const ATTEMPT_TREE: &str = "webhook_attempt";
/// Messages taken from the outbox and not settled yet: partner ‖ 0 ‖ seq → [`Pending`].
pub const PENDING_TREE: &str = "webhook_pending";

/// A message waiting for its next attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The request.
    pub id: String,
    /// Its withdrawal rather than the request.
    pub withdrawal: bool,
    /// Attempts made so far.
    pub tries: u32,
    /// Not before, Unix ms.
    pub next_at_ms: i64,
}

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// When, Unix ms.
    pub at_ms: i64,
    /// `request` or `withdrawal`.
    pub kind: String,
    /// The HTTP status, 0 when there was none.
    pub status: u16,
    /// What went wrong, or empty.
    pub error: String,
    /// The last attempt: the partner refused it for good (a 4xx other than 408/429), or the
    /// deadline passed. Shown as `delivery failed` in the request's history.
    #[serde(default)]
    pub last: bool,
}

/// How far `partner`'s webhook has taken its outbox.
pub fn cursor(store: &dyn Store, partner: &str) -> Result<u64, StoreError> {
    Ok(crate::store::read_u64(
        store.get(CURSOR_TREE, partner.as_bytes())?,
    ))
}

fn pending_key(partner: &str, seq: u64) -> Vec<u8> {
    let mut k = partner.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Backend(format!("encoding a delivery: {e}")))
}

/// Takes outbox messages `(seq, message)` for `partner`, due at `now_ms`, and moves its
/// cursor past them, in one commit; durable on return.
pub fn take(
    store: &dyn Store,
    partner: &str,
    messages: &[(u64, crate::disposal::view::OutboxMessage)],
    now_ms: i64,
) -> Result<(), StoreError> {
    let Some(last) = messages.iter().map(|(seq, _)| *seq).max() else {
        return Ok(());
    };
    let mut b = Batch::new();
    for (seq, m) in messages {
        let p = Pending {
            id: m.id.clone(),
            withdrawal: m.withdrawal,
            tries: 0,
            next_at_ms: now_ms,
        };
        b.insert(PENDING_TREE, pending_key(partner, *seq), encode(&p)?);
    }
    b.insert(
        CURSOR_TREE,
        partner.as_bytes().to_vec(),
        last.to_be_bytes().to_vec(),
    );
    store.commit(&b)?;
    store.flush()
}

/// `partner`'s unsettled messages, oldest first.
pub fn pending(store: &dyn Store, partner: &str) -> Result<Vec<(u64, Pending)>, StoreError> {
    let prefix = {
        let mut k = partner.as_bytes().to_vec();
        k.push(0);
        k
    };
    store
        .scan_prefix(PENDING_TREE, &prefix)
        .map(|kv| {
            let (k, v) = kv?;
            let seq = k
                .get(prefix.len()..)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
                .unwrap_or(0);
            let p = serde_json::from_slice(&v)
                .map_err(|e| StoreError::Backend(format!("corrupt pending delivery: {e}")))?;
            Ok((seq, p))
        })
        .collect()
}

/// Saves `p`'s next attempt.
pub fn reschedule(
    store: &dyn Store,
    partner: &str,
    seq: u64,
    p: &Pending,
) -> Result<(), StoreError> {
    let mut b = Batch::new();
    b.insert(PENDING_TREE, pending_key(partner, seq), encode(p)?);
    store.commit(&b)
}

/// Message `seq` is settled (taken, refused for good, or past its deadline); durable on
/// return.
pub fn settle(store: &dyn Store, partner: &str, seq: u64) -> Result<(), StoreError> {
    let mut b = Batch::new();
    b.remove(PENDING_TREE, pending_key(partner, seq));
    store.commit(&b)?;
    store.flush()
}

fn prefix(id: &str) -> Vec<u8> {
    let mut k = ItemId::parse(id).map(|p| p.key()).unwrap_or_default();
    k.push(0);
    k
}

/// Records an attempt for request `id`.
pub fn record(store: &dyn Store, id: &str, attempt: &Attempt) -> Result<(), StoreError> {
    let n = store.scan_prefix(ATTEMPT_TREE, &prefix(id)).count() as u32;
    let mut k = prefix(id);
    k.extend_from_slice(&n.to_be_bytes());
    let v = serde_json::to_vec(attempt)
        .map_err(|e| StoreError::Backend(format!("encoding an attempt: {e}")))?;
    let mut b = Batch::new();
    b.insert(ATTEMPT_TREE, k, v);
    store.commit(&b)
}

/// Every attempt for request `id`, oldest first.
pub fn list(store: &dyn Store, id: &str) -> Result<Vec<Attempt>, StoreError> {
    store
        .scan_prefix(ATTEMPT_TREE, &prefix(id))
        .map(|kv| {
            kv.and_then(|(_, v)| {
                serde_json::from_slice(&v)
                    .map_err(|e| StoreError::Backend(format!("corrupt attempt: {e}")))
            })
        })
        .collect()
}
