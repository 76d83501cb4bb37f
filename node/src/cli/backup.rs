//! `fenghuo-node backup|restore`: the operator's side of [`crate::backup`]. A backup asks the
//! running node (over gRPC, with the node's own certificate from its config) for a consistent
//! copy and checks it whole before keeping it; a restore fills an empty data folder while the
//! node is stopped.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::Context;
use fenghuo_proto::v1::{self, admin_client::AdminClient};
use serde_json::json;

use super::connect::ConnectArgs;
use super::output::{emit, time_text};
use crate::backup::{self, Summary};
use crate::config::NodeConfig;

/// Where to reach the node on its own host: its listen address, loopback when it listens on
/// every interface.
fn own_address(listen: SocketAddr) -> SocketAddr {
    match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, listen.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, listen.port()).into(),
        _ => listen,
    }
}

fn summary_json(s: &Summary, file: &Path) -> serde_json::Value {
    json!({
        "file": file.display().to_string(),
        "node": s.identity,
        "taken_at": time_text(s.taken_at_ms),
        "records": s.records,
        "bytes": s.bytes,
    })
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

/// Takes a backup of the running node `cfg` describes (at `node`, else at its `listen`
/// address) into `out`.
pub async fn backup(
    cfg: &NodeConfig,
    node: Option<&str>,
    out: &Path,
    json: bool,
) -> anyhow::Result<()> {
    if cfg.listen.port() == 0 && node.is_none() {
        anyhow::bail!(
            "the config listens on port 0: give the node's address with --node https://HOST:PORT"
        );
    }
    let connect = ConnectArgs {
        node: Some(
            node.map(str::to_owned)
                .unwrap_or_else(|| format!("https://{}", own_address(cfg.listen))),
        ),
        cert: Some(cfg.resolve(&cfg.tls.cert)),
        key: Some(cfg.resolve(&cfg.tls.key)),
        ca: Some(cfg.resolve(&cfg.tls.ca)),
        crl: Some(cfg.resolve(&cfg.tls.crl)),
        // The node's own certificate: it expects to reach itself.
        server_identity: None,
    };
    let mut client = AdminClient::new(connect.channel().await?).max_decoding_message_size(8 << 20);
    let mut stream = client
        .backup(v1::BackupRequest {})
        .await
        .context("asking the node for a backup")?
        .into_inner();
    // Written beside the target and renamed once whole and checked: `out` is never partial.
    let partial = PathBuf::from(format!("{}.partial", out.display()));
    let mut file = std::fs::File::create(&partial)
        .with_context(|| format!("creating {}", partial.display()))?;
    let (mut got, mut total) = (0u64, 0u64);
    let result = async {
        while let Some(chunk) = stream.message().await.context("receiving the backup")? {
            if chunk.total_bytes > 0 {
                total = chunk.total_bytes;
            }
            file.write_all(&chunk.data)
                .with_context(|| format!("writing {}", partial.display()))?;
            got += chunk.data.len() as u64;
            if !json {
                eprint!("\rbackup: {:.1} of {:.1} MiB", mib(got), mib(total));
            }
        }
        file.sync_all()?;
        anyhow::Ok(())
    }
    .await;
    if !json {
        eprintln!();
    }
    let checked = result.and_then(|()| Ok(backup::verify(&partial)?));
    let summary = match checked {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    std::fs::rename(&partial, out)
        .with_context(|| format!("renaming {} to {}", partial.display(), out.display()))?;
    emit(
        json,
        || summary_json(&summary, out),
        || {
            format!(
                "backup of {} at {}: {} records, {:.1} MiB, checked → {}",
                summary.identity,
                time_text(summary.taken_at_ms),
                summary.records,
                mib(summary.bytes),
                out.display()
            )
        },
    )
}

/// Restores `from` into the (empty or missing) data folder of the stopped node `cfg`.
pub fn restore(cfg: &NodeConfig, from: &Path, json: bool) -> anyhow::Result<()> {
    let data_dir = cfg.resolve(&cfg.data_dir);
    let identity = cfg.identity().path();
    let summary = backup::restore(from, &identity, &data_dir).map_err(|e| match e {
        backup::BackupError::Store(inner) if inner.to_string().contains("not empty") => {
            anyhow::anyhow!(
                "{inner}\n(stop the node, move its data folder aside — keep it until the restored node runs — and restore again)"
            )
        }
        other => other.into(),
    })?;
    emit(
        json,
        || summary_json(&summary, &data_dir),
        || {
            format!(
                "restored {} records of {} (taken {}) into {}; start the node to go on from there",
                summary.records,
                summary.identity,
                time_text(summary.taken_at_ms),
                data_dir.display()
            )
        },
    )
}
