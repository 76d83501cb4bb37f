//! What the gateway publishes in its province feed from files the CA machine gives it: each
//! newer CRL (`crl.pem`, see [`super::crl`]) and the certificate directory (`directory.pem`,
//! see [`super::directory`]). Workers that look at the files every two seconds, so handing a
//! file to the gateway is all an operator does.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::Instrument;

use super::{crl as crl_view, directory};
use crate::pki::{cert, crl};
use crate::store::Store;
use crate::writer::Writer;

/// How often the files are looked at.
const WATCH_EVERY: Duration = Duration::from_secs(2);

/// Where the gateway finds what it publishes.
#[derive(Debug, Clone)]
pub struct Sources {
    /// The provincial CA certificate (what is published must be signed by it).
    pub ca: PathBuf,
    /// The CRL.
    pub crl: PathBuf,
    /// The CA's certificate directory, if the gateway is given one.
    pub directory: Option<PathBuf>,
}

/// The gateway's publisher: writes as `author` until `stop`. Runs as the worker `publish`
/// (see [`crate::services::worker`]); what it cannot publish it logs and tries again, so it
/// never fails.
pub async fn run(
    author: String,
    writer: Writer,
    store: Arc<dyn Store>,
    sources: Sources,
    mut stop: watch::Receiver<bool>,
) -> Result<(), Infallible> {
    let span = tracing::info_span!("publisher", crl = %sources.crl.display());
    // Instrumented, not entered: a guard held across awaits would tag other tasks' lines.
    async move {
        let mut published = 0u64;
        loop {
            // What is published must be signed by the CA: read it once a pass, for both.
            if let Some(ca) = cert::read_cert_pem(&sources.ca)
                .ok()
                .and_then(|c| c.into_iter().next())
            {
                if let Some(n) = publish_crl(
                    &author,
                    &writer,
                    store.as_ref(),
                    &sources.crl,
                    &ca,
                    published,
                )
                .await
                {
                    published = n;
                }
                if let Some(path) = &sources.directory {
                    publish_directory(&author, &writer, &ca, path).await;
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(WATCH_EVERY) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
    }
    .instrument(span)
    .await;
    Ok(())
}

/// One look at `crl.pem`; the number published (or already held), if any.
async fn publish_crl(
    author: &str,
    writer: &Writer,
    store: &dyn Store,
    crl_path: &Path,
    ca: &[u8],
    published: u64,
) -> Option<u64> {
    let der = cert::read_crl_pem(crl_path).ok()?.into_iter().next()?;
    let facts = match crl::verify(&der, ca) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "crl.pem is not usable; not published");
            return None;
        }
    };
    if facts.number <= published {
        return None;
    }
    if crl_view::current(store)
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
        .submit(author.to_owned(), crl_view::Command::Publish { der })
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

/// One look at `directory.pem`: lists every certificate the CA signed that is not listed yet.
async fn publish_directory(author: &str, writer: &Writer, ca: &[u8], path: &Path) {
    if writer.is_read_only() {
        return;
    }
    let Ok(certs) = cert::read_cert_pem(path) else {
        return;
    };
    for der in certs {
        if !signed_by(&der, ca) {
            tracing::error!(
                alarm = "directory",
                "a certificate in directory.pem is not signed by the provincial CA; not listed"
            );
            continue;
        }
        match writer
            .submit(author.to_owned(), directory::ListCommand { der })
            .await
        {
            Ok(w) if w.seq > 0 => tracing::info!(
                seq = w.seq,
                "listed a certificate in the province's directory"
            ),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "could not list a certificate; will retry");
                return;
            }
        }
    }
}

/// Whether the CA certificate `ca` signed `der`.
fn signed_by(der: &[u8], ca: &[u8]) -> bool {
    use x509_parser::prelude::FromDer;
    let (Ok((_, c)), Ok((_, issuer))) = (
        x509_parser::certificate::X509Certificate::from_der(der),
        x509_parser::certificate::X509Certificate::from_der(ca),
    ) else {
        return false;
    };
    c.verify_signature(Some(issuer.public_key())).is_ok()
}
