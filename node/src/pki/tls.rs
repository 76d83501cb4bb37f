//! Mutual TLS for Fenghuo servers: TLS 1.3 only, client certificates required from the
//! provincial CA and checked against its CRL. tonic's built-in TLS cannot check a CRL, so
//! servers accept through this rustls configuration and carry the verified peer identity
//! into every request as [`PeerInfo`].
//!
//! The configuration sits behind a `watch` channel: [`TlsReloader`] re-reads the files when
//! the CRL or certificates change on disk, so a revocation takes effect without a restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, PrivatePkcs8KeyDer,
};
use tokio::sync::watch;

use super::cert::{self, CertError};
use crate::identity::Identity;

/// How often certificate files are checked for changes.
const RELOAD_POLL: Duration = Duration::from_secs(2);

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

/// The certificate files a server uses.
#[derive(Debug, Clone)]
pub struct TlsPaths {
    /// Provincial CA certificate.
    pub ca: PathBuf,
    /// This server's certificate.
    pub cert: PathBuf,
    /// This server's key.
    pub key: PathBuf,
    /// The CRL.
    pub crl: PathBuf,
}

/// The verified peer of a connection, attached to every request on it.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    /// Who the client certificate says the peer is.
    pub identity: Identity,
    /// Where the connection comes from.
    pub remote: Option<std::net::SocketAddr>,
}

fn rustls_err(e: impl std::fmt::Display) -> TlsError {
    TlsError::Rustls(e.to_string())
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the server configuration from `paths`, checking that the server certificate names
/// `expected` (this node's identity).
pub fn server_config(paths: &TlsPaths, expected: &Identity) -> Result<Arc<ServerConfig>, TlsError> {
    let ca = cert::read_cert_pem(&paths.ca)?;
    let chain = cert::read_cert_pem(&paths.cert)?;
    let key = cert::read_key_pem(&paths.key)?;
    let crls = cert::read_crl_pem(&paths.crl)?;

    let own = chain.first().map(|c| cert::identity_of(c)).transpose()?;
    if let Some(own) = own {
        if own != *expected {
            return Err(TlsError::WrongIdentity {
                path: paths.cert.display().to_string(),
                found: own.uri(),
                expected: expected.uri(),
            });
        }
    }

    let mut roots = RootCertStore::empty();
    for c in ca {
        roots.add(CertificateDer::from(c)).map_err(rustls_err)?;
    }
    let provider = provider();
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .with_crls(crls.into_iter().map(CertificateRevocationListDer::from))
        .build()
        .map_err(rustls_err)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(rustls_err)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            chain.into_iter().map(CertificateDer::from).collect(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
        )
        .map_err(rustls_err)?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// The identity in the peer's end-entity certificate, once rustls has verified the chain.
pub fn peer_identity(conn: &rustls::ServerConnection) -> Result<Identity, CertError> {
    let leaf = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or_else(|| CertError::NoIdentity {
            subject: "(no client certificate)".into(),
        })?;
    cert::identity_of(leaf)
}

fn mtimes(paths: &TlsPaths) -> Vec<Option<SystemTime>> {
    [&paths.ca, &paths.cert, &paths.key, &paths.crl]
        .iter()
        .map(|p: &&PathBuf| {
            std::fs::metadata(p.as_path())
                .and_then(|m| m.modified())
                .ok()
        })
        .collect()
}

/// Keeps a server configuration current with the files on disk.
#[derive(Debug)]
pub struct TlsReloader {
    rx: watch::Receiver<Arc<ServerConfig>>,
}

impl TlsReloader {
    /// Loads the configuration now and watches the files from a background task (which
    /// ends when the reloader and every receiver are dropped).
    pub fn start(paths: TlsPaths, expected: Identity) -> Result<Self, TlsError> {
        let config = server_config(&paths, &expected)?;
        let (tx, rx) = watch::channel(config);
        tokio::spawn(async move {
            let mut seen = mtimes(&paths);
            loop {
                tokio::time::sleep(RELOAD_POLL).await;
                if tx.is_closed() {
                    break;
                }
                let now = mtimes(&paths);
                if now == seen {
                    continue;
                }
                seen = now;
                match server_config(&paths, &expected) {
                    Ok(c) => {
                        tracing::info!(crl = %paths.crl.display(), "certificates or CRL changed on disk: reloaded");
                        let _ = tx.send(c);
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "certificates or CRL changed but could not be loaded; keeping the previous ones")
                    }
                }
            }
        });
        Ok(Self { rx })
    }

    /// A receiver that always holds the current configuration.
    pub fn subscribe(&self) -> watch::Receiver<Arc<ServerConfig>> {
        self.rx.clone()
    }
}

/// Reads a PEM file into bytes, for clients that take PEM.
pub fn read_pem(path: &Path) -> Result<Vec<u8>, CertError> {
    std::fs::read(path).map_err(|source| CertError::Read {
        path: path.to_path_buf(),
        source,
    })
}
