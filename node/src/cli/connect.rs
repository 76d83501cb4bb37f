//! Reaching a node from the CLI: a gRPC channel over mutual TLS with the caller's certificate,
//! the node's checked against the provincial CA, the CRL, and the identity the caller meant
//! (every node certificate names `localhost`, so the address alone proves nothing). Nothing is
//! sent before the node has passed all three. The flags become a
//! [`NodeConnection`](crate::pki::client::NodeConnection), which does the dialling; this module
//! adds what the person at the keyboard needs: which flag is missing, and what to do.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use tonic::transport::Channel;

use crate::identity::Identity;
use crate::pki::ca::CRL_FILE;
use crate::pki::client::{ClientFiles, ConnectError, DialError, NodeConnection};

/// Where the node is, which certificate to present, and how to check the node's.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConnectArgs {
    /// 要连接的节点或省级汇聚节点 · The node or gateway, e.g. https://127.0.0.1:7401.
    #[arg(long, env = "FENGHUO_NODE", global = true, value_name = "URL")]
    pub node: Option<String>,
    /// 本人证书 · Your certificate (e.g. pki/staff-510104-zhang.crt).
    #[arg(long, env = "FENGHUO_CERT", global = true, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// 本人私钥 · Your private key.
    #[arg(long, env = "FENGHUO_KEY", global = true, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// 省级根证书 · The provincial CA certificate (pki/ca.crt).
    #[arg(long, env = "FENGHUO_CA", global = true, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// 省级吊销列表 · The province's CRL, to refuse a node whose certificate is revoked
    /// [default: crl.pem beside --ca].
    #[arg(long, env = "FENGHUO_CRL", global = true, value_name = "FILE")]
    pub crl: Option<PathBuf>,
    /// 对方节点应是谁 · Who the node must be: county/510104, province/51 or the full
    /// fenghuo:// URI [default: your own unit's node, from your certificate].
    #[arg(
        long = "server-identity",
        env = "FENGHUO_SERVER",
        global = true,
        value_name = "ID"
    )]
    pub server_identity: Option<String>,
}

fn need<'a, T>(v: &'a Option<T>, flag: &str, env: &str) -> anyhow::Result<&'a T> {
    v.as_ref()
        .with_context(|| format!("missing {flag}: pass {flag} or set {env}"))
}

/// Parses `--server-identity`: `county/510104`, `province/51`, or the `fenghuo://` URI of either.
pub fn parse_server_identity(text: &str) -> anyhow::Result<Identity> {
    let parsed = if text.starts_with(crate::identity::SCHEME) {
        text.parse::<Identity>()
    } else {
        Identity::from_path(text)
    };
    let identity = parsed.with_context(|| format!("--server-identity {text:?}"))?;
    if !identity.is_node() {
        bail!(
            "--server-identity {text:?} names {identity}, which is not a node: give a county \
             (county/510104) or the gateway (province/51)"
        );
    }
    Ok(identity)
}

/// The node a caller expects when not told: `--server-identity`, else their own unit's node.
pub fn expected_server(given: Option<&str>, own: &Identity) -> anyhow::Result<Identity> {
    match given {
        Some(text) => parse_server_identity(text),
        None => own.home_node().with_context(|| no_home_node(own)),
    }
}

/// Why no node is expected for `own` when none is named, and what to do.
fn no_home_node(own: &Identity) -> String {
    format!(
        "your certificate names {own}, which has no node of its own: say which node \
         you mean with --server-identity (e.g. province/51 for the gateway) or \
         FENGHUO_SERVER"
    )
}

impl ConnectArgs {
    /// The CRL to check the node against: `--crl`, else `crl.pem` beside the CA file. Never
    /// skipped: a client that cannot tell a revoked node would send it passwords.
    fn crl_path(&self, ca: &Path) -> anyhow::Result<PathBuf> {
        if let Some(crl) = &self.crl {
            return Ok(crl.clone());
        }
        let beside = ca.with_file_name(CRL_FILE);
        if beside.is_file() {
            Ok(beside)
        } else {
            bail!(
                "no CRL to check the node against: {} does not exist. Pass --crl FILE or set \
                 FENGHUO_CRL to the province's current crl.pem (from the PKI operator), or put \
                 it beside the CA certificate",
                beside.display()
            )
        }
    }

    /// The node these flags name, or which flag is missing or wrong.
    pub fn connection(&self) -> anyhow::Result<NodeConnection> {
        let url = need(&self.node, "--node", "FENGHUO_NODE")?;
        if !url.starts_with("https://") {
            bail!("--node must be an https:// URL (nodes speak only mutual TLS), got {url:?}");
        }
        let ca = need(&self.ca, "--ca", "FENGHUO_CA")?;
        let files = ClientFiles {
            ca: ca.clone(),
            crl: self.crl_path(ca)?,
            cert: need(&self.cert, "--cert", "FENGHUO_CERT")?.clone(),
            key: need(&self.key, "--key", "FENGHUO_KEY")?.clone(),
        };
        let server = self
            .server_identity
            .as_deref()
            .map(parse_server_identity)
            .transpose()?;
        Ok(NodeConnection {
            url: url.clone(),
            files,
            server,
        })
    }

    /// Connects to the node over mutual TLS, refusing a node that is revoked, from another CA,
    /// or not the one meant.
    pub async fn channel(&self) -> anyhow::Result<Channel> {
        let connection = self.connection()?;
        connection
            .channel()
            .await
            .map_err(|e| explain_connect(e, &connection))
    }
}

/// A failed connection as the person at the keyboard needs it, naming the flags.
fn explain_connect(e: ConnectError, connection: &NodeConnection) -> anyhow::Error {
    let url = &connection.url;
    match e {
        ConnectError::NotHttps { .. } => anyhow::anyhow!(
            "--node must be an https:// URL (nodes speak only mutual TLS), got {url:?}"
        ),
        ConnectError::BadUrl { .. } => anyhow::anyhow!("--node {url:?} is not a valid URL"),
        ConnectError::NoHost { .. } => anyhow::anyhow!("--node {url:?} names no host"),
        ConnectError::Files(e) => anyhow::Error::new(e).context("reading the certificates"),
        ConnectError::NoHomeNode { own } => anyhow::anyhow!(no_home_node(&own)),
        ConnectError::Dial(e) => anyhow::anyhow!(explain(&e, url, &connection.files)),
    }
}

/// A dial failure as the person at the keyboard needs it: what happened and what to do.
fn explain(e: &DialError, url: &str, files: &ClientFiles) -> String {
    match e {
        DialError::WrongServer {
            found, expected, ..
        } => format!(
            "the server at {url} is {found}, not {expected} as expected; pass \
             --server-identity to talk to it"
        ),
        DialError::Revoked { .. } => format!(
            "the server at {url} presents a certificate the provincial CA has revoked (per {}); \
             refusing to talk to it: tell the PKI operator",
            files.crl.display()
        ),
        DialError::Expired { .. } => format!(
            "the server at {url} presents an expired certificate; refusing to talk to it \
             (its operator must renew it)"
        ),
        DialError::UnknownIssuer { .. } => format!(
            "the TLS handshake with {url} failed: the server's certificate is not from the \
             provincial CA in {}",
            files.ca.display()
        ),
        DialError::Handshake { reason, .. } => {
            format!("the TLS handshake with {url} failed: {reason}")
        }
        DialError::Connect { reason, .. } => format!(
            "cannot reach {url} (is the node running, and does it accept your certificate?): \
             {reason}"
        ),
        DialError::BadAddress { .. } => format!("--node {url:?} is not a valid URL"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use super::*;

    fn id(uri: &str) -> Identity {
        uri.parse().unwrap()
    }

    #[test]
    fn the_default_server_is_the_callers_own_units_node() {
        let expect = |own: &str| expected_server(None, &id(own)).map(|i| i.uri());
        assert_eq!(
            expect("fenghuo://staff/510104/zhang").unwrap(),
            "fenghuo://county/510104"
        );
        assert_eq!(
            expect("fenghuo://county/510104").unwrap(),
            "fenghuo://county/510104"
        );
        assert_eq!(
            expect("fenghuo://staff/51/wang").unwrap(),
            "fenghuo://province/51"
        );
        assert_eq!(
            expect("fenghuo://province/51").unwrap(),
            "fenghuo://province/51"
        );
        let partner = expect("fenghuo://partner/weibo").unwrap_err().to_string();
        assert!(partner.contains("--server-identity"), "{partner}");
    }

    #[test]
    fn a_given_server_identity_wins_in_either_form() {
        let own = id("fenghuo://staff/51/wang");
        for given in ["county/510104", "fenghuo://county/510104"] {
            assert_eq!(
                expected_server(Some(given), &own).unwrap().uri(),
                "fenghuo://county/510104"
            );
        }
        assert_eq!(
            expected_server(Some("province/51"), &own).unwrap().uri(),
            "fenghuo://province/51"
        );
        for bad in [
            "staff/510104/zhang",
            "partner/weibo",
            "county/5101",
            "510104",
        ] {
            assert!(expected_server(Some(bad), &own).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn the_crl_is_found_beside_the_ca_or_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.crt");
        let args = ConnectArgs::default();
        let missing = args.crl_path(&ca).unwrap_err().to_string();
        assert!(
            missing.contains("--crl") && missing.contains("FENGHUO_CRL"),
            "{missing}"
        );
        std::fs::write(dir.path().join(CRL_FILE), "").unwrap();
        assert_eq!(args.crl_path(&ca).unwrap(), dir.path().join(CRL_FILE));
        let given = ConnectArgs {
            crl: Some(PathBuf::from("elsewhere.pem")),
            ..ConnectArgs::default()
        };
        assert_eq!(given.crl_path(&ca).unwrap(), PathBuf::from("elsewhere.pem"));
    }
}
