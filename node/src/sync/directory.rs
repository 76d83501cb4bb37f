//! The federation directory: which counties each origin names as neighbours (a view of its
//! `NeighboursDeclared` events), and the certificate each origin signs its feeds with.
//!
//! Trees: `origin_neighbours` (origin code → JSON list of county codes; a view) and
//! `origin_cert` (origin identity path → DER certificate; learnt from sync sessions and
//! checked against the CA and CRL before it is kept).

use std::collections::BTreeSet;

use crate::feed::keys::{verifying_key_from_spki, KeyError};
use crate::store::{Batch, Store, StoreError};

/// Tree of declared neighbours.
pub const NEIGHBOURS_TREE: &str = "origin_neighbours";
/// Tree of origin certificates.
pub const CERTS_TREE: &str = "origin_cert";

/// Stages `unit`'s declaration.
pub fn apply_declaration(batch: &mut Batch, unit: &str, neighbours: &[String]) {
    let list: BTreeSet<&String> = neighbours.iter().collect();
    batch.insert(
        NEIGHBOURS_TREE,
        unit.as_bytes().to_vec(),
        serde_json::to_vec(&list).unwrap_or_default(),
    );
}

/// The neighbours `unit` declared, if it has.
pub fn declared(store: &dyn Store, unit: &str) -> Result<Option<BTreeSet<String>>, StoreError> {
    Ok(store
        .get(NEIGHBOURS_TREE, unit.as_bytes())?
        .and_then(|v| serde_json::from_slice(&v).ok()))
}

/// Every county this node knows of: those that declared their neighbours, and those named
/// in a declaration.
pub fn known_counties(store: &dyn Store) -> Result<BTreeSet<String>, StoreError> {
    let mut out = BTreeSet::new();
    for kv in store.scan_prefix(NEIGHBOURS_TREE, b"") {
        let (k, v) = kv?;
        out.insert(String::from_utf8_lossy(&k).into_owned());
        if let Ok(list) = serde_json::from_slice::<BTreeSet<String>>(&v) {
            out.extend(list);
        }
    }
    Ok(out)
}

/// The counties that are members for certain: those that declared their neighbours in a
/// signed entry of their own, and those whose certificate this node has checked. A code only
/// *named* in someone's declaration is not enough (any county could name an invented one), so
/// health tables, overviews and filters list these.
pub fn member_counties(store: &dyn Store) -> Result<BTreeSet<String>, StoreError> {
    let mut out = BTreeSet::new();
    for kv in store.scan_prefix(NEIGHBOURS_TREE, b"") {
        let (k, _) = kv?;
        out.insert(String::from_utf8_lossy(&k).into_owned());
    }
    for kv in store.scan_prefix(CERTS_TREE, b"county/") {
        let (k, _) = kv?;
        if let Some(code) = String::from_utf8_lossy(&k).strip_prefix("county/") {
            out.insert(code.to_owned());
        }
    }
    Ok(out)
}

/// The certificate (DER) `origin` signs with, if known.
pub fn certificate(store: &dyn Store, origin: &str) -> Result<Option<Vec<u8>>, StoreError> {
    store.get(CERTS_TREE, origin.as_bytes())
}

/// Records `origin`'s certificate (already checked against the CA and CRL).
pub fn remember_certificate(store: &dyn Store, origin: &str, der: &[u8]) -> Result<(), StoreError> {
    let mut b = Batch::new();
    b.insert(CERTS_TREE, origin.as_bytes().to_vec(), der.to_vec());
    store.commit(&b)
}

/// The Ed25519 key in a DER certificate.
pub fn key_of(der: &[u8]) -> Result<ed25519_dalek::VerifyingKey, KeyError> {
    use x509_parser::prelude::FromDer;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der)
        .map_err(|e| KeyError::PublicKey(e.to_string()))?;
    verifying_key_from_spki(cert.tbs_certificate.subject_pki.raw)
}

/// Origin keys already checked under the current TLS state (CA and CRL): checking a
/// certificate costs a signature verification, and every received run needs its origin's
/// key. Cleared whenever the TLS state changes (a new CRL may revoke any of them).
#[derive(Debug, Default)]
pub struct KeyCache {
    inner: std::sync::Mutex<KeyCacheInner>,
}

#[derive(Debug, Default)]
struct KeyCacheInner {
    /// Address of the TLS state the entries were checked under.
    state: usize,
    /// Certificate DER → its key, or `None` when it did not pass.
    keys: std::collections::HashMap<Vec<u8>, Option<ed25519_dalek::VerifyingKey>>,
}

impl KeyCache {
    /// The key of `der` if it is valid under `tls`, checking (and remembering) once per state.
    pub fn key(
        &self,
        tls: &std::sync::Arc<crate::pki::tls::TlsState>,
        der: &[u8],
    ) -> Option<ed25519_dalek::VerifyingKey> {
        let state = std::sync::Arc::as_ptr(tls) as usize;
        if let Ok(mut c) = self.inner.lock() {
            if c.state != state {
                c.state = state;
                c.keys.clear();
            }
            if let Some(k) = c.keys.get(der) {
                return *k;
            }
        }
        let key = if tls.is_valid(der) {
            key_of(der).ok()
        } else {
            None
        };
        if let Ok(mut c) = self.inner.lock() {
            if c.state == state {
                c.keys.insert(der.to_vec(), key);
            }
        }
        key
    }
}
