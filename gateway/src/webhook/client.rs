//! The HTTPS client webhooks are POSTed with: rustls with the public roots (and any CA the
//! gateway's config adds), HTTP/1.1, a timeout on every request, and only to addresses
//! [`super::address`] allows (dialled as checked, never resolved a second time).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;

use fenghuo_node::disposal::signature::{ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use fenghuo_node::pki::{cert, tls::provider};

/// How long one POST may take, connection included.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Why a POST did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The URL is not https://host[:port]/path.
    #[error("webhook URL {0:?} is not https://host[:port]/path")]
    Url(String),
    /// Connecting, TLS or HTTP failed.
    #[error("{0}")]
    Transport(String),
    /// No answer in time.
    #[error("no answer within {TIMEOUT:?}")]
    Timeout,
    /// The host resolves only to addresses webhooks may not reach (details in the log, not
    /// in what staff see).
    #[error("the webhook's address is not allowed by the gateway's configuration (details in the gateway's log)")]
    Forbidden,
    /// The extra CA file could not be used.
    #[error("disposal.webhook_ca {path}: {reason}")]
    Ca {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// POSTs signed JSON to partners.
#[derive(Debug, Clone)]
pub struct WebhookClient {
    tls: Arc<rustls::ClientConfig>,
    /// `[disposal] allow_private_webhooks`.
    allow_private: bool,
}

/// The Standard Webhooks headers of one message.
#[derive(Debug, Clone)]
pub struct Signed<'a> {
    /// `webhook-id`: the same on every retry.
    pub id: &'a str,
    /// `webhook-timestamp`, Unix seconds.
    pub timestamp: i64,
    /// `webhook-signature`.
    pub signature: &'a str,
}

impl WebhookClient {
    /// A client trusting the public roots and the certificates in `extra_ca`, if given,
    /// reaching internal addresses only when `allow_private`.
    pub fn new(extra_ca: Option<&Path>, allow_private: bool) -> Result<Self, WebhookError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = extra_ca {
            let err = |reason: String| WebhookError::Ca {
                path: path.display().to_string(),
                reason,
            };
            for der in cert::read_cert_pem(path).map_err(|e| err(e.to_string()))? {
                roots
                    .add(CertificateDer::from(der))
                    .map_err(|e| err(e.to_string()))?;
            }
        }
        let tls = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| WebhookError::Transport(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            tls: Arc::new(tls),
            allow_private,
        })
    }

    /// POSTs `body` to `url` with the signature headers; the HTTP status. `conn` keeps the
    /// connection alive between calls (one TLS handshake per partner, not per request).
    pub async fn post(
        &self,
        conn: &mut Option<Connection>,
        url: &str,
        body: &str,
        signed: &Signed<'_>,
    ) -> Result<u16, WebhookError> {
        let target = Target::parse(url)?;
        let request = || {
            hyper::Request::post(target.path.as_str())
                .header(hyper::header::HOST, target.authority.as_str())
                .header(hyper::header::CONTENT_TYPE, "application/json")
                .header(hyper::header::USER_AGENT, "fenghuo-gateway")
                .header(ID_HEADER, signed.id)
                .header(TIMESTAMP_HEADER, signed.timestamp.to_string())
                .header(SIGNATURE_HEADER, signed.signature)
                .body(Full::new(Bytes::from(body.to_owned())))
                .map_err(|e| WebhookError::Transport(e.to_string()))
        };
        tokio::time::timeout(TIMEOUT, async {
            if let Some(c) = conn.as_mut().filter(|c| c.authority == target.authority) {
                // A kept connection the partner closed meanwhile fails at once: dial again.
                if let Ok(status) = send(&mut c.sender, request()?).await {
                    return Ok(status);
                }
            }
            *conn = None;
            let mut fresh = self.connect(&target).await?;
            let status = send(&mut fresh.sender, request()?).await?;
            *conn = Some(fresh);
            Ok(status)
        })
        .await
        .map_err(|_| WebhookError::Timeout)?
    }

    async fn connect(&self, t: &Target) -> Result<Connection, WebhookError> {
        let transport = |e: &dyn std::fmt::Display| WebhookError::Transport(e.to_string());
        let addresses = super::address::resolve(&t.host, t.port, self.allow_private)
            .await
            .map_err(|e| match e {
                super::address::AddressError::Private { .. } => {
                    tracing::warn!(error = %e, "webhook refused: set [disposal] allow_private_webhooks only for tests and demos");
                    WebhookError::Forbidden
                }
                other => transport(&other),
            })?;
        // The checked addresses themselves, in turn: no second lookup.
        let mut last = None;
        let mut tcp = None;
        for a in &addresses {
            match TcpStream::connect(a).await {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = Some(format!("connecting to {a}: {e}")),
            }
        }
        let tcp = tcp.ok_or_else(|| transport(&last.unwrap_or_default()))?;
        let _ = tcp.set_nodelay(true);
        let name = ServerName::try_from(t.host.clone())
            .map_err(|_| WebhookError::Url(t.authority.clone()))?;
        let stream = tokio_rustls::TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| transport(&format!("TLS with {}: {e}", t.host)))?;
        let (sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| transport(&e))?;
        tokio::spawn(conn);
        Ok(Connection {
            authority: t.authority.clone(),
            sender,
        })
    }
}

/// A kept-alive connection to one webhook host.
#[derive(Debug)]
pub struct Connection {
    authority: String,
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

async fn send(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    req: hyper::Request<Full<Bytes>>,
) -> Result<u16, WebhookError> {
    let transport = |e: &dyn std::fmt::Display| WebhookError::Transport(e.to_string());
    sender.ready().await.map_err(|e| transport(&e))?;
    let res = sender.send_request(req).await.map_err(|e| transport(&e))?;
    let status = res.status().as_u16();
    // Read the answer to the end so the connection can carry the next request.
    let _ = res.into_body().collect().await;
    Ok(status)
}

/// Where a webhook URL points.
struct Target {
    host: String,
    port: u16,
    authority: String,
    path: String,
}

impl Target {
    fn parse(url: &str) -> Result<Self, WebhookError> {
        let bad = || WebhookError::Url(url.to_owned());
        let rest = url.strip_prefix("https://").ok_or_else(bad)?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                (h, p.parse::<u16>().map_err(|_| bad())?)
            }
            _ => (authority, 443),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Self {
            host: host.to_owned(),
            port,
            authority: authority.to_owned(),
            path: path.to_owned(),
        })
    }
}
