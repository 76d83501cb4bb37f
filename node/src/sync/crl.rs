//! The CRL travels in the province feed. The gateway watches its own `crl.pem` and publishes
//! each newer CRL (by CRL number) as a `CrlPublished` entry (`super::publish`); every node keeps the newest one
//! it received (a view of those entries) and its TLS state uses it alongside its own file,
//! whichever is newer. Giving the new `crl.pem` to the gateway alone is enough: within one
//! sync round every node refuses the revoked holder.
//!
//! Tree `province_crl`: `current` → CRL number (u64 BE) + the CRL's DER.

use base64::Engine;

use crate::event::check::ContentError;
use crate::event::Event;
use crate::feed::Audience;
use crate::pki::crl;
use crate::store::{Batch, Store, StoreError};

/// Tree of the newest CRL published by the province.
pub const TREE: &str = "province_crl";
const KEY: &[u8] = b"current";

/// The newest CRL received from the province: its number and DER.
pub fn current(store: &dyn Store) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
    Ok(store.get(TREE, KEY)?.and_then(|v| decode(&v)))
}

fn decode(v: &[u8]) -> Option<(u64, Vec<u8>)> {
    let (n, der) = v.split_at_checked(8)?;
    Some((u64::from_be_bytes(n.try_into().ok()?), der.to_vec()))
}

/// Applies a `CrlPublished` entry: kept when newer than the one held (never going back).
pub fn apply(
    store: &dyn Store,
    batch: &mut Batch,
    number: u64,
    crl_b64: &str,
) -> Result<(), StoreError> {
    let held = batch.get(store, TREE, KEY)?.and_then(|v| decode(&v));
    if held.is_some_and(|(n, _)| n >= number) {
        return Ok(());
    }
    let Ok(der) = base64::engine::general_purpose::STANDARD.decode(crl_b64) else {
        return Ok(());
    };
    let mut v = number.to_be_bytes().to_vec();
    v.extend_from_slice(&der);
    batch.insert(TREE, KEY.to_vec(), v);
    Ok(())
}

/// What the gateway asks the writer to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Publish this CRL (DER) if it is newer than the last one published.
    Publish {
        /// The CRL.
        der: Vec<u8>,
    },
}

/// The event a command writes in the province feed; `None` when there is nothing newer.
pub fn prepare(
    store: &dyn Store,
    batch: &Batch,
    unit: &str,
    cmd: &Command,
) -> Result<Option<(Audience, Event)>, ContentError> {
    let Command::Publish { der } = cmd;
    if unit.len() != 2 {
        return Err(ContentError::NotAllowed {
            what: "a CRL",
            who: "the province",
        });
    }
    let facts = crl::facts(der).map_err(|e| ContentError::Field {
        field: "crl",
        reason: e.to_string(),
    })?;
    let held = batch
        .get(store, TREE, KEY)
        .map_err(|e| ContentError::Payload(e.to_string()))?
        .and_then(|v| decode(&v));
    if held.is_some_and(|(n, _)| n >= facts.number) {
        return Ok(None);
    }
    Ok(Some((
        Audience::Province,
        Event::CrlPublished {
            number: facts.number,
            crl: base64::engine::general_purpose::STANDARD.encode(der),
        },
    )))
}
