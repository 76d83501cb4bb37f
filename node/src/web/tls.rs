//! The dashboard's TLS: its own certificate (ECDSA P-256 from the provincial web CA,
//! `fenghuo ca issue web`), no client certificate (staff sign in with a password), HTTP/2
//! or HTTP/1.1; re-read when the files change, so a renewed certificate needs no restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls::ServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::sync::watch;

use crate::pki::cert;
use crate::pki::tls::provider;

/// How often the files are checked for a change.
const RELOAD_POLL: Duration = Duration::from_secs(2);

/// Why the dashboard's certificate could not be used.
#[derive(Debug, thiserror::Error)]
#[error(
    "dashboard certificate {cert} / key {key}: {reason} (issue one with `fenghuo ca issue web`)"
)]
pub struct WebTlsError {
    cert: String,
    key: String,
    reason: String,
}

/// Builds the server configuration from the PEM files `cert_path` and `key_path`.
pub fn server_config(cert_path: &Path, key_path: &Path) -> Result<Arc<ServerConfig>, WebTlsError> {
    let err = |reason: String| WebTlsError {
        cert: cert_path.display().to_string(),
        key: key_path.display().to_string(),
        reason,
    };
    let chain: Vec<CertificateDer<'static>> = cert::read_cert_pem(cert_path)
        .map_err(|e| err(e.to_string()))?
        .into_iter()
        .map(CertificateDer::from)
        .collect();
    let key = cert::read_key_pem(key_path).map_err(|e| err(e.to_string()))?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key));
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| err(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| err(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn mtimes(paths: &[&PathBuf]) -> Vec<Option<SystemTime>> {
    paths
        .iter()
        .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .collect()
}

/// Loads the configuration now and keeps it current from a background task (which ends
/// when every receiver is dropped).
pub fn watch(
    cert: PathBuf,
    key: PathBuf,
) -> Result<watch::Receiver<Arc<ServerConfig>>, WebTlsError> {
    let (tx, rx) = watch::channel(server_config(&cert, &key)?);
    tokio::spawn(async move {
        let mut seen = mtimes(&[&cert, &key]);
        loop {
            tokio::time::sleep(RELOAD_POLL).await;
            if tx.is_closed() {
                break;
            }
            let now = mtimes(&[&cert, &key]);
            if now == seen {
                continue;
            }
            seen = now;
            match server_config(&cert, &key) {
                Ok(c) => {
                    tracing::info!(cert = %cert.display(), "dashboard certificate changed on disk: reloaded");
                    let _ = tx.send(c);
                }
                Err(e) => {
                    tracing::error!(error = %e, "dashboard certificate changed but cannot be used; keeping the previous one")
                }
            }
        }
    });
    Ok(rx)
}
