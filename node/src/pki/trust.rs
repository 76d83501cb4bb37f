//! What every rustls configuration of ours is built from: the crypto provider, the provincial
//! CA as trust anchors, the CRLs, the identity a verified peer certificate carries, and why a
//! configuration could not be built. Servers ([`super::tls`]) and clients ([`super::client`])
//! both build on it.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer};

use super::cert::{self, CertError};
use crate::identity::Identity;

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or parsed.
    #[error(transparent)]
    File(#[from] CertError),
    /// rustls refused the material.
    #[error("TLS configuration: {0}")]
    Rustls(String),
    /// This node's certificate does not carry the identity the config says.
    #[error("certificate {path} is for {found}, but this node is configured as {expected}")]
    WrongIdentity {
        /// The certificate file.
        path: String,
        /// What it says.
        found: String,
        /// What the config says.
        expected: String,
    },
}

/// A rustls error, as the reason a configuration could not be built.
pub fn rustls_err(e: impl std::fmt::Display) -> TlsError {
    TlsError::Rustls(e.to_string())
}

/// The crypto every TLS configuration of ours uses (ring).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The trust anchors: every certificate of the CA file.
pub fn roots(ca: Vec<Vec<u8>>) -> Result<Arc<RootCertStore>, TlsError> {
    let mut roots = RootCertStore::empty();
    for c in ca {
        roots.add(CertificateDer::from(c)).map_err(rustls_err)?;
    }
    Ok(Arc::new(roots))
}

/// The CRLs of a CRL file, as rustls takes them.
pub fn crls(crls: Vec<Vec<u8>>) -> Vec<CertificateRevocationListDer<'static>> {
    crls.into_iter()
        .map(CertificateRevocationListDer::from)
        .collect()
}

/// The identity in the peer's end-entity certificate, once rustls has verified the chain.
pub fn peer_identity(conn: &rustls::CommonState) -> Result<(Identity, Vec<u8>), CertError> {
    let leaf = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or_else(|| CertError::NoIdentity {
            subject: "(no client certificate)".into(),
        })?;
    Ok((cert::identity_of(leaf)?, leaf.to_vec()))
}
