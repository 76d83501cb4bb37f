//! Mutual TLS for Fenghuo servers: TLS 1.3 only, client certificates required from the
//! provincial CA and checked against its CRL. tonic's built-in TLS cannot check a CRL, so
//! servers accept through this rustls configuration and carry the verified peer identity
//! into every request as [`PeerInfo`].
//!
//! The configuration sits behind a `watch` channel: [`TlsReloader`] re-reads the files when
//! the CRL or certificates change on disk, so a revocation takes effect without a restart:
//! on new connections at their handshake, and on open ones through each connection's
//! [`super::standing::Standing`]. Dialling out is [`super::client`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls::server::WebPkiClientVerifier;
use rustls::ServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::sync::watch;

use super::cert::{self, CertError};
use super::client;
use super::trust::{crls, roots, rustls_err};
pub use super::trust::{peer_identity, provider, TlsError};
use crate::identity::Identity;

/// How often certificate files are checked for changes.
const RELOAD_POLL: Duration = Duration::from_secs(2);
/// How often the CRL the province published (kept in the store) is looked at: a revocation
/// received by sync takes effect this soon.
const PUBLISHED_POLL: Duration = Duration::from_millis(500);

/// Where a node finds the newest CRL the province published in its feed (number and DER):
/// the store's copy, read without this module knowing the store.
pub type PublishedCrl = Arc<dyn Fn() -> Option<(u64, Vec<u8>)> + Send + Sync>;

/// The CRL a TLS state checks certificates against.
#[derive(Debug, Clone, Copy)]
pub struct CrlInUse {
    /// Its number and dates.
    pub facts: super::crl::CrlFacts,
    /// It came from the province feed (newer than the node's own `crl.pem`).
    pub from_feed: bool,
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
    /// The CRL in use (`None` when its number or dates could not be read).
    pub crl: Option<CrlInUse>,
    /// This node's own certificate (DER), for its expiry.
    pub own: Vec<u8>,
}

impl TlsState {
    /// True when `cert_der` chains to the provincial CA and is not revoked now.
    pub fn is_valid(&self, cert_der: &[u8]) -> bool {
        self.check(cert_der).is_ok()
    }

    /// Checks `cert_der` against the CA and the current CRL, saying why it fails (revoked,
    /// expired, another CA).
    pub fn check(&self, cert_der: &[u8]) -> Result<(), rustls::Error> {
        self.verifier
            .verify_client_cert(
                &CertificateDer::from(cert_der.to_vec()),
                &[],
                rustls_pki_types::UnixTime::now(),
            )
            .map(|_| ())
    }
}

/// Builds the TLS state from `paths`, checking that our certificate names `expected`.
pub fn load(paths: &TlsPaths, expected: &Identity) -> Result<TlsState, TlsError> {
    load_with(paths, expected, None)
}

/// [`load`], using `published` (a CRL the province published in its feed) instead of the
/// file's CRL when the CA signed it and its number is higher: never an older CRL.
pub fn load_with(
    paths: &TlsPaths,
    expected: &Identity,
    published: Option<&[u8]>,
) -> Result<TlsState, TlsError> {
    let ca = cert::read_cert_pem(&paths.ca)?;
    let chain = cert::read_cert_pem(&paths.cert)?;
    let key = cert::read_key_pem(&paths.key)?;
    let mut chosen = cert::read_crl_pem(&paths.crl)?;
    let mut crl = chosen
        .first()
        .and_then(|d| super::crl::facts(d).ok())
        .map(|facts| CrlInUse {
            facts,
            from_feed: false,
        });
    if let (Some(der), Some(ca_der)) = (published, ca.first()) {
        match super::crl::verify(der, ca_der) {
            Ok(facts) if crl.is_none_or(|c| facts.number > c.facts.number) => {
                chosen = vec![der.to_vec()];
                crl = Some(CrlInUse {
                    facts,
                    from_feed: true,
                });
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(alarm = "crl", error = %e, "the CRL in the province feed is not usable; keeping crl.pem")
            }
        }
    }
    let crls = crls(chosen);
    let own_der = chain.first().cloned().unwrap_or_default();

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

    let roots = roots(ca)?;
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

    let client = client::config(roots, crls, chain, key)?;

    Ok(TlsState {
        server: Arc::new(server),
        client,
        verifier,
        crl,
        own: own_der,
    })
}

/// Builds the server configuration from `paths` (see [`load`]).
pub fn server_config(paths: &TlsPaths, expected: &Identity) -> Result<Arc<ServerConfig>, TlsError> {
    load(paths, expected).map(|s| s.server)
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
    /// Loads the configuration now and watches the files, and the CRL the province
    /// published (`published`), from a background task (which ends when the reloader and
    /// every receiver are dropped).
    pub fn start(
        paths: TlsPaths,
        expected: Identity,
        published: Option<PublishedCrl>,
    ) -> Result<Self, TlsError> {
        let read_published = move || published.as_ref().and_then(|p| p());
        let mut adopted = read_published();
        let state = load_with(
            &paths,
            &expected,
            adopted.as_ref().map(|(_, d)| d.as_slice()),
        )?;
        let (tx, rx) = watch::channel(Arc::new(state));
        tokio::spawn(async move {
            let mut seen = mtimes(&paths);
            let mut since_files = Duration::ZERO;
            loop {
                tokio::time::sleep(PUBLISHED_POLL).await;
                if tx.is_closed() {
                    break;
                }
                let newest = read_published();
                let newer_crl =
                    newest.as_ref().map(|(n, _)| *n) > adopted.as_ref().map(|(n, _)| *n);
                since_files += PUBLISHED_POLL;
                let files_changed = since_files >= RELOAD_POLL && {
                    since_files = Duration::ZERO;
                    let now = mtimes(&paths);
                    let changed = now != seen;
                    seen = now;
                    changed
                };
                if !newer_crl && !files_changed {
                    continue;
                }
                if newer_crl {
                    adopted = newest;
                }
                match load_with(
                    &paths,
                    &expected,
                    adopted.as_ref().map(|(_, d)| d.as_slice()),
                ) {
                    Ok(c) => {
                        if newer_crl {
                            tracing::info!(number = ?c.crl.map(|c| c.facts.number), from_feed = c.crl.is_some_and(|c| c.from_feed), "the province published a CRL: reloaded");
                        } else {
                            tracing::info!(crl = %paths.crl.display(), "certificates or CRL changed on disk: reloaded");
                        }
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::pki::ca::{CertificateAuthority, IssueOptions};

    #[test]
    fn the_newest_crl_is_used_whether_from_the_file_or_the_province_feed() {
        let dir = tempfile::tempdir().unwrap();
        let mut ca = CertificateAuthority::init(dir.path(), "51", false).unwrap();
        let me: Identity = "fenghuo://county/510104".parse().unwrap();
        let zhang: Identity = "fenghuo://staff/510104/zhang".parse().unwrap();
        ca.issue(&me, &IssueOptions::default()).unwrap();
        let zhang_cert = ca
            .issue(&zhang, &IssueOptions::default())
            .unwrap()
            .cert_path;
        let old = dir.path().join("old-crl.pem");
        std::fs::copy(ca.crl_path(), &old).unwrap();
        ca.revoke("staff-510104-zhang").unwrap();
        let new_der = cert::read_crl_pem(&ca.crl_path()).unwrap().remove(0);
        let old_der = cert::read_crl_pem(&old).unwrap().remove(0);
        let zhang_der = cert::read_cert_pem(&zhang_cert).unwrap().remove(0);
        let paths = |crl: &Path| TlsPaths {
            ca: ca.ca_cert_path(),
            cert: dir.path().join("county-510104.crt"),
            key: dir.path().join("county-510104.key"),
            crl: crl.to_path_buf(),
        };

        // The node's file is old; the province published the new one: the new one counts.
        let s = load_with(&paths(&old), &me, Some(&new_der)).unwrap();
        let c = s.crl.unwrap();
        assert!(c.from_feed && c.facts.number == 2, "{c:?}");
        assert!(!s.is_valid(&zhang_der), "the revocation is in force");
        // The file is newer than what was published: never back to the older one.
        let s = load_with(&paths(&ca.crl_path()), &me, Some(&old_der)).unwrap();
        let c = s.crl.unwrap();
        assert!(!c.from_feed && c.facts.number == 2, "{c:?}");
        assert!(!s.is_valid(&zhang_der));
        // Something the CA did not sign is ignored.
        let mut other = CertificateAuthority::init(&dir.path().join("other"), "51", false).unwrap();
        other.issue(&zhang, &IssueOptions::default()).unwrap();
        other.revoke("staff-510104-zhang").unwrap();
        let forged = cert::read_crl_pem(&other.crl_path()).unwrap().remove(0);
        let s = load_with(&paths(&old), &me, Some(&forged)).unwrap();
        assert!(!s.crl.unwrap().from_feed);
        assert!(s.is_valid(&zhang_der), "only the old file is in force");
    }
}
