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
    /// The peer's certificate (DER), to re-check it when the CRL changes.
    pub certificate: Arc<Vec<u8>>,
    /// Where the connection comes from.
    pub remote: Option<std::net::SocketAddr>,
}

fn rustls_err(e: impl std::fmt::Display) -> TlsError {
    TlsError::Rustls(e.to_string())
}

/// The crypto every TLS configuration of ours uses (ring).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Everything TLS a node needs, built from one reading of its files: the server
/// configuration, a client configuration for dialling peers, and a verifier to check any
/// certificate (a relayed record's origin, a connected peer after a CRL change).
#[derive(Debug, Clone)]
pub struct TlsState {
    /// Accepting connections: TLS 1.3, client certificate required, CRL checked.
    pub server: Arc<ServerConfig>,
    /// Dialling peers: TLS 1.3, our certificate, the server's checked against CA and CRL.
    pub client: Arc<rustls::ClientConfig>,
    /// Checks a certificate against the CA and the current CRL.
    pub verifier: Arc<dyn rustls::server::danger::ClientCertVerifier>,
}

impl TlsState {
    /// True when `cert_der` chains to the provincial CA and is not revoked now.
    pub fn is_valid(&self, cert_der: &[u8]) -> bool {
        self.verifier
            .verify_client_cert(
                &CertificateDer::from(cert_der.to_vec()),
                &[],
                rustls_pki_types::UnixTime::now(),
            )
            .is_ok()
    }
}

/// Builds the TLS state from `paths`, checking that our certificate names `expected`.
pub fn load(paths: &TlsPaths, expected: &Identity) -> Result<TlsState, TlsError> {
    let ca = cert::read_cert_pem(&paths.ca)?;
    let chain = cert::read_cert_pem(&paths.cert)?;
    let key = cert::read_key_pem(&paths.key)?;
    let crls: Vec<CertificateRevocationListDer<'static>> = cert::read_crl_pem(&paths.crl)?
        .into_iter()
        .map(CertificateRevocationListDer::from)
        .collect();

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
    let roots = Arc::new(roots);
    let provider = provider();
    let chain: Vec<CertificateDer<'static>> = chain.into_iter().map(CertificateDer::from).collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key));

    let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
        .with_crls(crls.clone())
        .build()
        .map_err(rustls_err)?;
    let mut server = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(rustls_err)?
        .with_client_cert_verifier(verifier.clone())
        .with_single_cert(chain.clone(), key.clone_key())
        .map_err(rustls_err)?;
    server.alpn_protocols = vec![b"h2".to_vec()];

    let server_verifier =
        rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
            .with_crls(crls)
            .build()
            .map_err(rustls_err)?;
    let mut client = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(rustls_err)?
        .with_webpki_verifier(server_verifier)
        .with_client_auth_cert(chain, key)
        .map_err(rustls_err)?;
    client.alpn_protocols = vec![b"h2".to_vec()];

    Ok(TlsState {
        server: Arc::new(server),
        client: Arc::new(client),
        verifier,
    })
}

/// Builds the server configuration from `paths` (see [`load`]).
pub fn server_config(paths: &TlsPaths, expected: &Identity) -> Result<Arc<ServerConfig>, TlsError> {
    load(paths, expected).map(|s| s.server)
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
    rx: watch::Receiver<Arc<TlsState>>,
}

impl TlsReloader {
    /// Loads the configuration now and watches the files from a background task (which
    /// ends when the reloader and every receiver are dropped).
    pub fn start(paths: TlsPaths, expected: Identity) -> Result<Self, TlsError> {
        let state = load(&paths, &expected)?;
        let (tx, rx) = watch::channel(Arc::new(state));
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
                match load(&paths, &expected) {
                    Ok(c) => {
                        tracing::info!(crl = %paths.crl.display(), "certificates or CRL changed on disk: reloaded");
                        let _ = tx.send(Arc::new(c));
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "certificates or CRL changed but could not be loaded; keeping the previous ones")
                    }
                }
            }
        });
        Ok(Self { rx })
    }

    /// A receiver that always holds the current TLS state.
    pub fn subscribe(&self) -> watch::Receiver<Arc<TlsState>> {
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
