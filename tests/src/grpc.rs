//! Calling a node's gRPC services directly, as a chosen certificate, or without TLS at all.

use std::time::Duration;

use anyhow::Context;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::pki::Credentials;

/// Connecting gives up after this long.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A call gives up after this long.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// The name the node's certificate is checked against (every certificate names localhost).
pub const SERVER_NAME: &str = "localhost";

/// A channel to `url` (`https://127.0.0.1:PORT`) over mutual TLS: `credentials.cert` and
/// `.key` as the client identity, `.ca` as the only trust anchor, domain [`SERVER_NAME`].
pub async fn mtls_channel(url: &str, credentials: &Credentials) -> anyhow::Result<Channel> {
    let read =
        |p: &std::path::Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read(&credentials.ca)?))
        .identity(Identity::from_pem(
            read(&credentials.cert)?,
            read(&credentials.key)?,
        ))
        .domain_name(SERVER_NAME);
    Endpoint::from_shared(url.to_owned())
        .with_context(|| format!("{url:?} is not a URL"))?
        .tls_config(tls)
        .context("setting up client TLS")?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(CALL_TIMEOUT)
        .connect()
        .await
        .with_context(|| format!("connecting to {url} over mutual TLS"))
}

/// A plaintext (h2c) channel to `addr`, connected lazily: for proving the node refuses it.
pub fn plaintext_channel(addr: std::net::SocketAddr) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(format!("http://{addr}"))
        .context("building a plaintext endpoint")?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(CALL_TIMEOUT)
        .connect_lazy())
}
