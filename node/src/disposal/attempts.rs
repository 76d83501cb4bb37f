//! Webhook deliveries at the gateway: how far each partner's webhook has taken its outbox,
//! and every attempt (status or error), shown with the request's history. Local to the
//! gateway (not a view: a rebuild keeps them).

use serde::{Deserialize, Serialize};

use crate::comms::ItemId;
use crate::store::{Batch, Store, StoreError};

/// Outbox cursor per webhook partner.
pub const CURSOR_TREE: &str = "webhook_cursor";
/// Attempts per request.
pub const ATTEMPT_TREE: &str = "webhook_attempt";

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
}

/// How far `partner`'s webhook has taken its outbox.
pub fn cursor(store: &dyn Store, partner: &str) -> Result<u64, StoreError> {
    Ok(crate::register::view::read_u64(
        store.get(CURSOR_TREE, partner.as_bytes())?,
    ))
}

/// Moves `partner`'s cursor to `seq`; durable on return.
pub fn advance(store: &dyn Store, partner: &str, seq: u64) -> Result<(), StoreError> {
    let mut b = Batch::new();
    b.insert(
        CURSOR_TREE,
        partner.as_bytes().to_vec(),
        seq.to_be_bytes().to_vec(),
    );
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
