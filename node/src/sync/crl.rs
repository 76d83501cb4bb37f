//! The CRL travels in the province feed. The gateway watches its own `crl.pem` and publishes
//! each newer CRL (by CRL number) as a `CrlPublished` entry; every node keeps the newest one
//! it received (a view of those entries) and its TLS state uses it alongside its own file,
//! whichever is newer. Giving the new `crl.pem` to the gateway alone is enough: within one
//! sync round every node refuses the revoked holder.
//!
//! Tree `province_crl`: `current` → CRL number (u64 BE) + the CRL's DER.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use tokio::sync::watch;

use crate::event::check::ContentError;
use crate::event::Event;
use crate::feed::Audience;
use crate::pki::{cert, crl};
use crate::store::{Batch, Store, StoreError};
use crate::writer::Writer;

/// Tree of the newest CRL published by the province.
pub const TREE: &str = "province_crl";
const KEY: &[u8] = b"current";
/// How often the gateway looks at its `crl.pem`.
const WATCH_EVERY: Duration = Duration::from_secs(2);

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

/// The gateway's worker: publishes each newer CRL it finds in `crl_path` (signed by the CA in
/// `ca_path`), until `stop`.
pub fn spawn_publisher(
    author: String,
    writer: Writer,
    store: std::sync::Arc<dyn Store>,
    ca_path: PathBuf,
    crl_path: PathBuf,
    mut stop: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        let span = tracing::info_span!("crl_publisher", crl = %crl_path.display());
        let _enter = span.enter();
        let mut published = 0u64;
        loop {
            if let Some(n) = publish_once(
                &author,
                &writer,
                store.as_ref(),
                &ca_path,
                &crl_path,
                published,
            )
            .await
            {
                published = n;
            }
            tokio::select! {
                _ = tokio::time::sleep(WATCH_EVERY) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
    });
}

/// One look at `crl.pem`; the number published (or already held), if any.
async fn publish_once(
    author: &str,
    writer: &Writer,
    store: &dyn Store,
    ca_path: &std::path::Path,
    crl_path: &std::path::Path,
    published: u64,
) -> Option<u64> {
    let der = cert::read_crl_pem(crl_path).ok()?.into_iter().next()?;
    let ca = cert::read_cert_pem(ca_path).ok()?.into_iter().next()?;
    let facts = match crl::verify(&der, &ca) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "crl.pem is not usable; not published");
            return None;
        }
    };
    if facts.number <= published {
        return None;
    }
    if current(store)
        .ok()
        .flatten()
        .is_some_and(|(n, _)| n >= facts.number)
    {
        return Some(facts.number);
    }
    if writer.is_read_only() {
        return None;
    }
    match writer
        .submit(author.to_owned(), Command::Publish { der })
        .await
    {
        Ok(w) => {
            tracing::info!(
                number = facts.number,
                revoked = facts.revoked,
                seq = w.seq,
                "published the CRL in the province feed"
            );
            Some(facts.number)
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not publish the CRL; will retry");
            None
        }
    }
}
