//! Reaching a node from the CLI: a gRPC channel over mutual TLS with the caller's certificate.

use std::path::PathBuf;

use anyhow::{bail, Context};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// Where the node is and which certificate to present.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectArgs {
    /// The node or gateway, e.g. https://127.0.0.1:7401.
    #[arg(long, env = "FENGHUO_NODE", global = true, value_name = "URL")]
    pub node: Option<String>,
    /// Your certificate (e.g. pki/staff-510104-zhang.crt).
    #[arg(long, env = "FENGHUO_CERT", global = true, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Your private key.
    #[arg(long, env = "FENGHUO_KEY", global = true, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// The provincial CA certificate (pki/ca.crt).
    #[arg(long, env = "FENGHUO_CA", global = true, value_name = "FILE")]
    pub ca: Option<PathBuf>,
}

fn need<'a, T>(v: &'a Option<T>, flag: &str, env: &str) -> anyhow::Result<&'a T> {
    v.as_ref()
        .with_context(|| format!("missing {flag}: pass {flag} or set {env}"))
}

fn read(path: &PathBuf, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {what} {}", path.display()))
}

impl ConnectArgs {
    /// Connects to the node over mutual TLS.
    pub async fn channel(&self) -> anyhow::Result<Channel> {
        let url = need(&self.node, "--node", "FENGHUO_NODE")?;
        if !url.starts_with("https://") {
            bail!("--node must be an https:// URL (nodes speak only mutual TLS), got {url:?}");
        }
        let cert = read(need(&self.cert, "--cert", "FENGHUO_CERT")?, "certificate")?;
        let key = read(need(&self.key, "--key", "FENGHUO_KEY")?, "key")?;
        let ca = read(need(&self.ca, "--ca", "FENGHUO_CA")?, "CA certificate")?;
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(ca))
            .identity(Identity::from_pem(cert, key));
        let endpoint = Endpoint::from_shared(url.clone())
            .with_context(|| format!("--node {url:?} is not a valid URL"))?
            .tls_config(tls)
            .context("setting up TLS")?
            .connect_timeout(std::time::Duration::from_secs(10));
        endpoint.connect().await.with_context(|| {
            format!(
                "cannot reach {url} (is the node running, and does it accept your certificate?)"
            )
        })
    }
}
