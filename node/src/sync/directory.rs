//! The federation directory: which counties each origin names as neighbours (a view of its
//! `NeighboursDeclared` events), and the certificate each origin signs its feeds with.
//!
//! Trees: `origin_neighbours` (origin code → JSON list of county codes; a view) and
//! `origin_cert` (origin identity path → DER certificate; learnt from sync sessions and
//! checked against the CA and CRL before it is kept).

use std::collections::BTreeSet;

use crate::feed::keys::KeyError;
use crate::store::{Batch, Read, Store, StoreError};

/// Tree of declared neighbours.
pub const NEIGHBOURS_TREE: &str = "origin_neighbours";
/// Tree of origin certificates.
pub const CERTS_TREE: &str = "origin_cert";
/// Tree of the province's certificate directory: identity path → DER (a view of its
/// `CertificateListed` entries).
pub const LISTED_TREE: &str = "unit_directory";

/// Stages a certificate the province listed.
pub fn apply_listed(batch: &mut Batch, certificate_b64: &str) {
    use base64::Engine;
    let Ok(der) = base64::engine::general_purpose::STANDARD.decode(certificate_b64) else {
        return;
    };
    if let Ok(identity) = crate::pki::cert::identity_of(&der) {
        batch.insert(LISTED_TREE, identity.path().into_bytes(), der);
    }
}

/// The county codes in the province's certificate directory, seeing `batch`; `None` while
/// the province has published none (codes are then checked for form only).
pub fn listed_counties(src: &(impl Read + ?Sized)) -> Result<Option<BTreeSet<String>>, StoreError> {
    let mut out = BTreeSet::new();
    let mut any = false;
    for (k, _) in src.with_prefix(LISTED_TREE, b"")? {
        any = true;
        if let Some(code) = String::from_utf8_lossy(&k).strip_prefix("county/") {
            out.insert(code.to_owned());
        }
    }
    Ok(any.then_some(out))
}

/// What the gateway asks: list a certificate of the CA's directory in the province feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCommand {
    /// The certificate, DER.
    pub der: Vec<u8>,
}

/// The `CertificateListed` event for `cmd`; `None` when it is listed already.
pub fn prepare_listing(
    store: &dyn Store,
    batch: &Batch,
    unit: &str,
    cmd: &ListCommand,
) -> Result<Option<(crate::feed::Audience, crate::event::Event)>, crate::event::check::ContentError>
{
    use crate::event::check::ContentError;
    use base64::Engine;
    if unit.len() != 2 {
        return Err(ContentError::NotAllowed {
            what: "a certificate directory entry",
            who: "the province",
        });
    }
    let identity = crate::pki::cert::identity_of(&cmd.der).map_err(|e| ContentError::Field {
        field: "certificate",
        reason: e.to_string(),
    })?;
    let held = batch
        .get(store, LISTED_TREE, identity.path().as_bytes())
        .map_err(|e| ContentError::Payload(e.to_string()))?;
    if held.as_deref() == Some(cmd.der.as_slice()) {
        return Ok(None);
    }
    Ok(Some((
        crate::feed::Audience::Province,
        crate::event::Event::CertificateListed {
            certificate: base64::engine::general_purpose::STANDARD.encode(&cmd.der),
        },
    )))
}

/// The certificate the province listed for `identity` (a path), if any.
pub fn listed_certificate(
    store: &dyn Store,
    identity: &str,
) -> Result<Option<Vec<u8>>, StoreError> {
    store.get(LISTED_TREE, identity.as_bytes())
}

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
    for tree in [CERTS_TREE, LISTED_TREE] {
        for kv in store.scan_prefix(tree, b"county/") {
            let (k, _) = kv?;
            if let Some(code) = String::from_utf8_lossy(&k).strip_prefix("county/") {
                out.insert(code.to_owned());
            }
        }
    }
    Ok(out)
}

/// Why a list of counties cannot be addressed by `unit`.
#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    /// A code is not a county, is the node's own, or names no county that has joined.
    #[error("{0}")]
    Refused(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks that every code of `codes` is a county of this province that has joined (it
/// declared its neighbours), other than `unit`.
pub fn check_known(store: &dyn Store, unit: &str, codes: &[String]) -> Result<(), AddressError> {
    let counties = known_counties(store)?;
    for code in codes {
        crate::identity::DivisionCode::county(code)
            .map_err(|e| AddressError::Refused(format!("{code:?} is not a county code: {e}")))?;
        if code == unit {
            return Err(AddressError::Refused(format!(
                "{code} is this node's own county"
            )));
        }
        if !counties.contains(code) {
            let list: Vec<&str> = counties.iter().map(String::as_str).collect();
            return Err(AddressError::Refused(format!(
                "unknown county {code}: no county of this province by that code has joined (known: {})",
                if list.is_empty() { "none yet".to_owned() } else { list.join(", ") }
            )));
        }
    }
    Ok(())
}

/// The feed of county `unit` that reaches every county of `codes` (checked with
/// [`check_known`]): its neighbours' when they are all its declared neighbours, else the
/// province's. Named counties are an address, not a secret: every holder of that feed holds
/// what it carries.
pub fn feed_reaching(
    store: &dyn Store,
    unit: &str,
    codes: &[String],
) -> Result<crate::feed::Audience, AddressError> {
    check_known(store, unit, codes)?;
    Ok(match declared(store, unit)? {
        Some(n) if codes.iter().all(|c| n.contains(c)) => crate::feed::Audience::Neighbours,
        _ => crate::feed::Audience::Province,
    })
}

/// The names units are shown by (`锦江区 510104`): the name the province's CA wrote in each
/// county's or province's certificate, else the GB/T 2260 table's ([`crate::places`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitNames {
    /// Division code → the name in its certificate (checked).
    given: std::collections::BTreeMap<String, String>,
}

impl UnitNames {
    /// The name people read for `code`: its certificate's, else the table's.
    pub fn name<'a>(&'a self, code: &str) -> Option<&'a str> {
        self.given
            .get(code)
            .map(String::as_str)
            .or_else(|| crate::places::name_of(code))
    }

    /// `code` as people see it: `锦江区 510104` (the bare code when nobody names it).
    pub fn display(&self, code: &str) -> String {
        crate::places::display(code, self.name(code))
    }

    /// The names of `codes` (those that have one), for a reply's `county_names`.
    pub fn of<'a>(
        &self,
        codes: impl IntoIterator<Item = &'a str>,
    ) -> std::collections::HashMap<String, String> {
        codes
            .into_iter()
            .filter_map(|c| Some((c.to_owned(), self.name(c)?.to_owned())))
            .collect()
    }
}

/// The units' names this node knows from certificates: the province's directory first, then
/// the certificates its peers presented. A name that fails [`crate::places::check_unit_name`]
/// is ignored (the table's is shown).
pub fn unit_names(store: &dyn Store) -> Result<UnitNames, StoreError> {
    let mut given = std::collections::BTreeMap::new();
    for tree in [LISTED_TREE, CERTS_TREE] {
        for kv in store.scan_prefix(tree, b"") {
            let (k, der) = kv?;
            let key = String::from_utf8_lossy(&k);
            let Some(code) = key
                .strip_prefix("county/")
                .or_else(|| key.strip_prefix("province/"))
            else {
                continue;
            };
            if given.contains_key(code) {
                continue;
            }
            if let Some(name) = crate::pki::cert::unit_name_of(&der) {
                if let Ok(name) = crate::places::check_unit_name(&name) {
                    given.insert(code.to_owned(), name.to_owned());
                }
            }
        }
    }
    Ok(UnitNames { given })
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

/// The feed-signing key a DER certificate certifies (see [`crate::pki::feed_key`]).
pub fn key_of(der: &[u8]) -> Result<ed25519_dalek::VerifyingKey, KeyError> {
    crate::pki::feed_key::of_certificate(der)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;
    use crate::pki::ca::{CertificateAuthority, IssueOptions};

    #[test]
    fn units_are_shown_by_the_name_in_their_certificate_else_the_tables() {
        let dir = tempfile::tempdir().unwrap();
        let mut ca = CertificateAuthority::init(&dir.path().join("pki"), "51", false).unwrap();
        let issued = ca
            .issue(
                &Identity::county("510104").unwrap(),
                &IssueOptions {
                    unit_name: Some("锦江".into()),
                    ..IssueOptions::default()
                },
            )
            .unwrap();
        let der = crate::pki::cert::read_cert_pem(&issued.cert_path)
            .unwrap()
            .remove(0);
        let store = crate::store::SledStore::open(&dir.path().join("db")).unwrap();
        let none = unit_names(&store).unwrap();
        assert_eq!(none.display("510104"), "锦江区 510104");
        let mut b = Batch::new();
        use base64::Engine;
        apply_listed(
            &mut b,
            &base64::engine::general_purpose::STANDARD.encode(&der),
        );
        store.commit(&b).unwrap();
        let names = unit_names(&store).unwrap();
        assert_eq!(names.display("510104"), "锦江 510104");
        assert_eq!(names.display("510105"), "青羊区 510105");
        assert_eq!(names.display("519999"), "519999");
        let map = names.of(["510104", "51", "519999"]);
        assert_eq!(map.get("510104").map(String::as_str), Some("锦江"));
        assert_eq!(map.get("51").map(String::as_str), Some("四川省"));
        assert!(!map.contains_key("519999"));
    }
}
