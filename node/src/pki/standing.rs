//! Whether a live connection's certificate still stands. The handshake checks a certificate
//! once, but a connection can outlive that check by hours: each connection carries a
//! [`Standing`], which its watcher ([`watch`]) marks lapsed when a reloaded CRL revokes the
//! certificate, a reloaded CA no longer vouches for it, or it expires.
//!
//! Every request reads the standing with one atomic load (the `authenticate` interceptor), and
//! a lapsed one is refused with UNAUTHENTICATED and a message its holder can act on. The
//! connection itself is closed a moment later: its reads and writes fail, which also ends its
//! streams. The moment is there so that the request that finds out is told why instead of
//! seeing a reset: the connection closes shortly after its first refusal, or after
//! [`LAPSE_GRACE`] if none comes. Re-verifying the chain per request would cost a signature
//! check each; the watcher does that once per connection per change on disk.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::Context;
use std::time::{Duration, SystemTime};

use futures_util::task::AtomicWaker;
use rustls::CertificateError;
use time::format_description::well_known::Rfc3339;
use tokio::sync::{oneshot, watch, Notify};

use super::cert;
use super::tls::TlsState;
use crate::identity::Identity;

/// The verified peer of a connection, attached to every request on it.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    /// Who the client certificate says the peer is.
    pub identity: Identity,
    /// The peer's certificate (DER), to re-check it when the CRL changes.
    pub certificate: Arc<Vec<u8>>,
    /// Where the connection comes from.
    pub remote: Option<std::net::SocketAddr>,
    /// Whether the certificate still stands (not revoked or expired since the handshake):
    /// shared with the connection and its watcher, read by every request.
    pub standing: Arc<Standing>,
}

/// How long a lapsed connection stays open when none of its requests is refused (an idle
/// connection, or one carrying only streams): its streams end then.
pub const LAPSE_GRACE: Duration = Duration::from_secs(2);

/// After a refusal, how long the connection stays open so the refusal reaches the client.
const REFUSAL_FLUSH: Duration = Duration::from_millis(250);

/// The longest the watcher sleeps before looking at the clock again (long timers are coarse).
const EXPIRY_RECHECK: Duration = Duration::from_secs(3600);

/// Why a certificate no longer stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lapse {
    /// The CRL lists it.
    Revoked,
    /// Its validity period ended.
    Expired,
    /// The CA no longer vouches for it (the CA file changed), or another check failed.
    Untrusted(String),
}

impl Lapse {
    /// Classifies a failed verification.
    pub fn from_rustls(e: &rustls::Error) -> Self {
        match e {
            rustls::Error::InvalidCertificate(CertificateError::Revoked) => Self::Revoked,
            rustls::Error::InvalidCertificate(
                CertificateError::Expired | CertificateError::ExpiredContext { .. },
            ) => Self::Expired,
            other => Self::Untrusted(other.to_string()),
        }
    }

    /// What to tell the holder of `certificate` (DER) naming `identity`: which certificate,
    /// what happened, and what to do.
    pub fn message(&self, identity: &Identity, certificate: &[u8]) -> String {
        let serial = cert::serial_hex(certificate).unwrap_or_else(|_| "unreadable".into());
        let which = format!("your certificate ({identity}, serial {serial})");
        let what = match self {
            Self::Revoked => "was revoked by the provincial CA".to_owned(),
            Self::Expired => match cert::not_after(certificate)
                .ok()
                .map(|t| t.format(&Rfc3339))
            {
                Some(Ok(at)) => format!("expired at {at}"),
                _ => "has expired".to_owned(),
            },
            Self::Untrusted(reason) => format!("is no longer accepted ({reason})"),
        };
        format!("{which} {what}; ask the PKI operator for a new one")
    }
}

impl fmt::Display for Lapse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Revoked => f.write_str("revoked"),
            Self::Expired => f.write_str("expired"),
            Self::Untrusted(reason) => write!(f, "no longer trusted ({reason})"),
        }
    }
}

/// The standing of one connection's certificate; see the module documentation.
#[derive(Debug)]
pub struct Standing {
    /// Why the certificate lapsed, set once by the watcher.
    lapse: OnceLock<Lapse>,
    /// The certificate's notAfter, so a request is refused at the second it expires even
    /// before the watcher wakes.
    not_after: Option<SystemTime>,
    /// Set after the lapse (and its grace): the connection's reads and writes fail.
    closed: AtomicBool,
    /// The connection's pending read, woken when it closes.
    read_waker: AtomicWaker,
    /// The connection's pending write, woken when it closes.
    write_waker: AtomicWaker,
    /// Told when a request was refused, so the connection closes once the refusal is out.
    refused: Notify,
}

/// Which half of a connection asks.
#[derive(Debug, Clone, Copy)]
pub enum Half {
    /// Reading requests.
    Read,
    /// Writing responses.
    Write,
}

impl Standing {
    /// The standing of a connection just verified with `certificate` (DER).
    pub fn new(certificate: &[u8]) -> Self {
        Self {
            lapse: OnceLock::new(),
            // rustls has parsed it already; if we cannot, the watcher's checks still apply.
            not_after: cert::not_after(certificate).ok().map(SystemTime::from),
            closed: AtomicBool::new(false),
            read_waker: AtomicWaker::new(),
            write_waker: AtomicWaker::new(),
            refused: Notify::new(),
        }
    }

    /// Why the certificate no longer stands, if it does not: cheap enough for every request.
    pub fn lapse(&self) -> Option<Lapse> {
        if let Some(lapse) = self.lapse.get() {
            return Some(lapse.clone());
        }
        self.is_expired().then_some(Lapse::Expired)
    }

    /// Records that a request was refused because of the lapse.
    pub fn refused(&self) {
        self.refused.notify_one();
    }

    /// Fails once the connection is closed; otherwise arranges for `cx` to be woken when it is.
    pub fn poll_open(&self, half: Half, cx: &Context<'_>) -> io::Result<()> {
        let waker = match half {
            Half::Read => &self.read_waker,
            Half::Write => &self.write_waker,
        };
        // Registered before the check, so a close between the two still wakes this task.
        waker.register(cx.waker());
        if self.closed.load(Ordering::Acquire) {
            Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "the peer's certificate no longer stands (revoked or expired)",
            ))
        } else {
            Ok(())
        }
    }

    fn is_expired(&self) -> bool {
        self.not_after.is_some_and(|t| SystemTime::now() >= t)
    }

    /// How long until the certificate expires (at most [`EXPIRY_RECHECK`]).
    fn until_expiry(&self) -> Duration {
        self.not_after
            .map(|t| {
                t.duration_since(SystemTime::now())
                    .unwrap_or(Duration::ZERO)
            })
            .unwrap_or(EXPIRY_RECHECK)
            .min(EXPIRY_RECHECK)
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.read_waker.wake();
        self.write_waker.wake();
    }
}

/// Watches `peer`'s certificate for the lifetime of its connection (until `closed` fires):
/// re-checks it against the CA and CRL whenever `tls` changes, and notices its expiry; on a
/// lapse, marks [`PeerInfo::standing`] and closes the connection after the grace.
pub fn watch(
    mut tls: watch::Receiver<Arc<TlsState>>,
    peer: PeerInfo,
    mut closed: oneshot::Receiver<()>,
) {
    tokio::spawn(async move {
        let standing = &peer.standing;
        let lapse = loop {
            tokio::select! {
                changed = tls.changed() => {
                    // The server is gone: so is the connection.
                    if changed.is_err() {
                        return;
                    }
                    let checked = tls.borrow_and_update().check(&peer.certificate);
                    if let Err(e) = checked {
                        break Lapse::from_rustls(&e);
                    }
                }
                _ = tokio::time::sleep(standing.until_expiry()) => {
                    if standing.is_expired() {
                        break Lapse::Expired;
                    }
                }
                _ = &mut closed => return,
            }
        };
        tracing::warn!(
            peer = %peer.identity,
            remote = ?peer.remote,
            "certificate {lapse}: refusing its requests and closing its connection"
        );
        // A lapse is set once, here; ignoring the "already set" case is correct.
        let _ = standing.lapse.set(lapse);
        tokio::select! {
            _ = tokio::time::sleep(LAPSE_GRACE) => {}
            _ = standing.refused.notified() => tokio::time::sleep(REFUSAL_FLUSH).await,
            _ = &mut closed => return,
        }
        standing.close();
    });
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use super::*;

    #[test]
    fn lapses_are_told_apart() {
        use rustls::Error::InvalidCertificate as Invalid;
        assert_eq!(
            Lapse::from_rustls(&Invalid(CertificateError::Revoked)),
            Lapse::Revoked
        );
        assert_eq!(
            Lapse::from_rustls(&Invalid(CertificateError::Expired)),
            Lapse::Expired
        );
        assert!(matches!(
            Lapse::from_rustls(&Invalid(CertificateError::UnknownIssuer)),
            Lapse::Untrusted(_)
        ));
    }

    #[test]
    fn a_standing_closes_both_halves() {
        let standing = Standing {
            not_after: None,
            ..Standing::new(&[])
        };
        let cx = Context::from_waker(std::task::Waker::noop());
        assert!(standing.lapse().is_none());
        assert!(standing.poll_open(Half::Read, &cx).is_ok());
        standing.lapse.set(Lapse::Revoked).unwrap();
        assert_eq!(standing.lapse(), Some(Lapse::Revoked));
        standing.close();
        assert!(standing.poll_open(Half::Read, &cx).is_err());
        assert!(standing.poll_open(Half::Write, &cx).is_err());
    }

    #[test]
    fn an_expired_certificate_lapses_without_the_watcher() {
        let standing = Standing {
            not_after: Some(SystemTime::now() - Duration::from_secs(1)),
            ..Standing::new(&[])
        };
        assert_eq!(standing.lapse(), Some(Lapse::Expired));
        assert_eq!(standing.until_expiry(), Duration::ZERO);
    }
}
