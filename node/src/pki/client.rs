//! Dialling a Fenghuo server over mutual TLS, for a node's sync links and for the `fenghuo`
//! CLI alike: TLS 1.3 with our certificate; the server's certificate checked against the
//! provincial CA and its CRL, then its identity (the `fenghuo://` URI SAN) against the one we
//! meant. Every node certificate names `localhost` and `127.0.0.1`, so the host name alone
//! says nothing about which node answered: only the identity check does, and it runs on every
//! (re)connection, before any request is sent. [`NodeConnection`] is one node to reach as
//! one holder, from its URL: what the CLI's connection flags describe and the demo dials with.

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use rustls::client::WebPkiServerVerifier;
use rustls::{CertificateError, ClientConfig, RootCertStore};
use rustls_pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName,
};
use tokio::net::TcpStream;
use tonic::transport::{Channel, Endpoint, Uri};

use super::cert;
use super::trust::{self, peer_identity, TlsError};
use crate::identity::Identity;

/// The client configuration: TLS 1.3, `chain` and `key` as our identity, the server's
/// certificate checked against `roots` and `crls`.
pub fn config(
    roots: Arc<RootCertStore>,
    crls: Vec<CertificateRevocationListDer<'static>>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = trust::provider();
    let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
        .with_crls(crls)
        .build()
        .map_err(trust::rustls_err)?;
    let mut client = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(trust::rustls_err)?
        .with_webpki_verifier(verifier)
        .with_client_auth_cert(chain, key)
        .map_err(trust::rustls_err)?;
    client.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(client))
}

/// The files a client dials with.
#[derive(Debug, Clone)]
pub struct ClientFiles {
    /// The provincial CA certificate.
    pub ca: PathBuf,
    /// The provincial CRL.
    pub crl: PathBuf,
    /// Our certificate.
    pub cert: PathBuf,
    /// Our private key.
    pub key: PathBuf,
}

/// A client configuration read from files, with the identity our certificate names.
#[derive(Debug, Clone)]
pub struct ClientTls {
    /// What [`dial`] takes.
    pub config: Arc<ClientConfig>,
    /// Who we are, from our certificate (the CLI derives whom it expects from it).
    pub identity: Identity,
}

/// Reads `files` into a client configuration (see [`config`]).
pub fn load(files: &ClientFiles) -> Result<ClientTls, TlsError> {
    let ca = cert::read_cert_pem(&files.ca)?;
    let crls = trust::crls(cert::read_crl_pem(&files.crl)?);
    let chain = cert::read_cert_pem(&files.cert)?;
    let key = cert::read_key_pem(&files.key)?;
    let identity = match chain.first() {
        Some(leaf) => cert::identity_of(leaf)?,
        // read_cert_pem refuses a file without certificates.
        None => return Err(TlsError::Rustls("no certificate in the chain".into())),
    };
    let chain = chain.into_iter().map(CertificateDer::from).collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key));
    Ok(ClientTls {
        config: config(trust::roots(ca)?, crls, chain, key)?,
        identity,
    })
}

/// Why a server could not be dialled, or was refused once reached.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DialError {
    /// Not `host:port`.
    #[error("{address:?} is not a host:port address")]
    BadAddress {
        /// As given.
        address: String,
    },
    /// The server's certificate is valid but names another node.
    #[error("the server at {address} is {found}, not {expected} as expected")]
    WrongServer {
        /// Where we dialled.
        address: String,
        /// Who answered (boxed: an error stays small on the happy path's stack).
        found: Box<Identity>,
        /// Who we meant.
        expected: Box<Identity>,
    },
    /// The server's certificate is on the CRL.
    #[error("the server at {address} presents a certificate the provincial CA has revoked")]
    Revoked {
        /// Where we dialled.
        address: String,
    },
    /// The server's certificate has expired.
    #[error("the server at {address} presents an expired certificate")]
    Expired {
        /// Where we dialled.
        address: String,
    },
    /// The server's certificate is not from the provincial CA.
    #[error("the server at {address} presents a certificate that is not from the provincial CA")]
    UnknownIssuer {
        /// Where we dialled.
        address: String,
    },
    /// Any other TLS failure.
    #[error("the TLS handshake with {address} failed: {reason}")]
    Handshake {
        /// Where we dialled.
        address: String,
        /// What rustls said.
        reason: String,
    },
    /// No connection at all (refused, unreachable, timed out).
    #[error("cannot reach {address}: {reason}")]
    Connect {
        /// Where we dialled.
        address: String,
        /// What failed, with its causes.
        reason: String,
    },
}

impl DialError {
    /// Classifies a failed TLS connect (tokio-rustls wraps rustls's error in an io::Error).
    fn from_tls(address: &str, e: &io::Error) -> Self {
        let address = address.to_owned();
        match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
            Some(rustls::Error::InvalidCertificate(c)) => match c {
                CertificateError::Revoked => Self::Revoked { address },
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    Self::Expired { address }
                }
                CertificateError::UnknownIssuer => Self::UnknownIssuer { address },
                other => Self::Handshake {
                    address,
                    reason: rustls::Error::InvalidCertificate(other.clone()).to_string(),
                },
            },
            _ => Self::Handshake {
                address,
                reason: e.to_string(),
            },
        }
    }
}

/// A server reached over mutual TLS and found to be the one we meant.
#[derive(Debug, Clone)]
pub struct Dialled {
    /// The gRPC channel.
    pub channel: Channel,
    /// The server's certificate (DER), as presented on the last connection.
    pub certificate: Vec<u8>,
}

/// The host of `host:port` (brackets of an IPv6 literal removed), as TLS names it.
fn host_of(address: &str) -> Option<&str> {
    let (host, port) = address.rsplit_once(':')?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return None;
    }
    Some(host.trim_start_matches('[').trim_end_matches(']'))
}

/// Connects to `address` (`host:port`) with `config` and checks that the server is
/// `expected`; `endpoint` sets timeouts and keep-alives. A refused server is refused before
/// any request is sent on the connection.
pub async fn dial(
    config: Arc<ClientConfig>,
    address: &str,
    expected: &Identity,
    endpoint: impl FnOnce(Endpoint) -> Endpoint,
) -> Result<Dialled, DialError> {
    let bad_address = || DialError::BadAddress {
        address: address.to_owned(),
    };
    let name = host_of(address)
        .and_then(|h| ServerName::try_from(h.to_owned()).ok())
        .ok_or_else(bad_address)?;
    // What the connector saw: the server's certificate, or why it refused the server. tonic
    // reports a connector's failure as an opaque transport error, so the typed reason
    // travels beside it.
    let seen: Arc<Mutex<Result<Vec<u8>, Option<DialError>>>> = Arc::new(Mutex::new(Err(None)));
    let slot = seen.clone();
    let (target, expected) = (address.to_owned(), expected.clone());
    let connector = tower::service_fn(move |_: Uri| {
        let (config, name, target, expected, slot) = (
            config.clone(),
            name.clone(),
            target.clone(),
            expected.clone(),
            slot.clone(),
        );
        async move {
            let outcome = connect(config, name, &target, &expected).await;
            let (result, record) = match outcome {
                Ok((stream, der)) => (Ok(TokioIo::new(stream)), Ok(der)),
                Err(e) => (Err(io::Error::other(e.to_string())), Err(Some(e))),
            };
            if let Ok(mut s) = slot.lock() {
                *s = record;
            }
            result
        }
    });
    let channel =
        endpoint(Endpoint::from_shared(format!("http://{address}")).map_err(|_| bad_address())?)
            .connect_with_connector(connector)
            .await;
    let seen = seen.lock().map(|s| s.clone()).unwrap_or(Err(None));
    match (channel, seen) {
        (Ok(channel), Ok(certificate)) => Ok(Dialled {
            channel,
            certificate,
        }),
        (_, Err(Some(refused))) => Err(refused),
        (Err(e), _) => Err(DialError::Connect {
            address: address.to_owned(),
            reason: error_chain(&e),
        }),
        // Connected without the connector recording anything: cannot happen, as tonic
        // connects through it; refuse rather than return an unchecked channel.
        (Ok(_), Err(None)) => Err(DialError::Connect {
            address: address.to_owned(),
            reason: "the connection was not checked".into(),
        }),
    }
}

/// One TCP connection and TLS handshake, checking who answered.
async fn connect(
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
    address: &str,
    expected: &Identity,
) -> Result<(tokio_rustls::client::TlsStream<TcpStream>, Vec<u8>), DialError> {
    let unreachable = |e: io::Error| DialError::Connect {
        address: address.to_owned(),
        reason: e.to_string(),
    };
    let tcp = TcpStream::connect(address).await.map_err(unreachable)?;
    // Small request/response frames: Nagle plus delayed ACKs would add ~40 ms to each.
    tcp.set_nodelay(true).map_err(unreachable)?;
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| DialError::from_tls(address, &e))?;
    let (found, der) = peer_identity(stream.get_ref().1).map_err(|e| DialError::Handshake {
        address: address.to_owned(),
        reason: e.to_string(),
    })?;
    if found != *expected {
        return Err(DialError::WrongServer {
            address: address.to_owned(),
            found: Box::new(found),
            expected: Box::new(expected.clone()),
        });
    }
    Ok((stream, der))
}

/// Reaching a node with [`NodeConnection::channel`] gives up after this long.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// One node to reach as one holder: where it is, the files to dial with, and who it must be.
#[derive(Debug, Clone)]
pub struct NodeConnection {
    /// The node's `https://host:port` URL.
    pub url: String,
    /// Our certificate and key, and the CA and CRL the node's certificate is checked against.
    pub files: ClientFiles,
    /// Who the node must be; `None`: our own unit's node, from our certificate.
    pub server: Option<Identity>,
}

/// Why a node could not be reached, or was refused once reached.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Not an `https://` URL: nodes speak only mutual TLS.
    #[error("{url:?} is not an https:// URL (nodes speak only mutual TLS)")]
    NotHttps {
        /// As given.
        url: String,
    },
    /// The URL does not parse.
    #[error("{url:?} is not a valid URL")]
    BadUrl {
        /// As given.
        url: String,
    },
    /// The URL names no host.
    #[error("{url:?} names no host")]
    NoHost {
        /// As given.
        url: String,
    },
    /// Our certificate or key, the CA or the CRL could not be read.
    #[error("reading the certificates")]
    Files(#[source] TlsError),
    /// No server was named, and our certificate's holder belongs to no node (a partner).
    #[error("{own} has no node of its own: name the node meant")]
    NoHomeNode {
        /// Who our certificate names.
        own: Identity,
    },
    /// Dialling failed, or the node was refused.
    #[error(transparent)]
    Dial(#[from] DialError),
}

/// `host:port` of an `https://` URL (port 443 when none is given).
pub fn address_of(url: &str) -> Result<String, ConnectError> {
    let uri: Uri = url.parse().map_err(|_| ConnectError::BadUrl {
        url: url.to_owned(),
    })?;
    let authority = uri.authority().ok_or_else(|| ConnectError::NoHost {
        url: url.to_owned(),
    })?;
    Ok(format!(
        "{}:{}",
        authority.host(),
        authority.port_u16().unwrap_or(443)
    ))
}

impl NodeConnection {
    /// Connects over mutual TLS, refusing a node that is revoked, from another CA, or not the
    /// one meant. Nothing is sent before the node has passed all three.
    pub async fn channel(&self) -> Result<Channel, ConnectError> {
        if !self.url.starts_with("https://") {
            return Err(ConnectError::NotHttps {
                url: self.url.clone(),
            });
        }
        let tls = load(&self.files).map_err(ConnectError::Files)?;
        let expected = match &self.server {
            Some(server) => server.clone(),
            None => tls
                .identity
                .home_node()
                .ok_or_else(|| ConnectError::NoHomeNode {
                    own: tls.identity.clone(),
                })?,
        };
        let address = address_of(&self.url)?;
        let dialled = dial(tls.config, &address, &expected, |e| {
            e.connect_timeout(CONNECT_TIMEOUT)
        })
        .await?;
        Ok(dialled.channel)
    }
}

/// An error with its sources, skipping a source that only repeats its parent's message.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let text = c.to_string();
        // hyper and tonic often repeat their source's message in their own.
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_read_from_addresses() {
        assert_eq!(host_of("127.0.0.1:7401"), Some("127.0.0.1"));
        assert_eq!(host_of("[::1]:7401"), Some("::1"));
        assert_eq!(host_of("county-510104:7401"), Some("county-510104"));
        assert_eq!(host_of("county-510104"), None);
        assert_eq!(host_of(":7401"), None);
        assert_eq!(host_of("host:port"), None);
    }

    #[test]
    #[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
    fn addresses_come_from_urls() {
        assert_eq!(
            address_of("https://127.0.0.1:7401").unwrap(),
            "127.0.0.1:7401"
        );
        assert_eq!(address_of("https://gateway").unwrap(), "gateway:443");
        assert_eq!(address_of("https://[::1]:7400/").unwrap(), "[::1]:7400");
        assert!(matches!(
            address_of("https://"),
            Err(ConnectError::BadUrl { .. } | ConnectError::NoHost { .. })
        ));
    }
}
