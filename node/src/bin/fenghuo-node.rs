//! `fenghuo-node`: the county node server (with its web pages when the config has a
//! `[dashboard]` section).

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use fenghuo_node::config::{LogFormat, NodeConfig};
use fenghuo_node::{cli, dispatch, logging, start, store};

/// The Fenghuo county node.
#[derive(Debug, Parser)]
#[command(
    name = "fenghuo-node",
    version,
    about = "The Fenghuo (烽火) county node server",
    long_about = "The Fenghuo (烽火) county node server: holds the county's risk register and \
    serves it over gRPC with mutual TLS.\n\nWrite a configuration with `fenghuo init node`, \
    then `fenghuo-node run --config node.toml`."
)]
struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the node: serve gRPC over mutual TLS (and web pages over HTTPS when the config has
    /// a `[dashboard]` section) until SIGINT or SIGTERM.
    Run {
        /// The node's configuration file (write one with `fenghuo init node`).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Log format (overrides the config's `log.format`).
        #[arg(long, value_enum)]
        log_format: Option<LogFormat>,
    },
    /// Take a consistent backup of the running node's store into FILE (through the node, with
    /// its own certificate; writes pause only while the store is copied beside itself).
    Backup {
        /// The node's configuration file (a gateway's works too).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Where to write the backup (checked whole before it is kept).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The node's address, when not its config's `listen` (e.g. that says port 0).
        #[arg(long, value_name = "URL")]
        node: Option<String>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Restore a backup into the node's empty data folder (stop the node and move its data
    /// folder aside first). Only this node's own backups are accepted.
    Restore {
        /// The node's configuration file (a gateway's works too).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The backup file.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete the node's views and rebuild them from its feeds (stop the node first).
    RebuildViews {
        /// The node's configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    match Args::parse().command {
        Cmd::Run { config, log_format } => {
            let cfg = NodeConfig::load(&config)?;
            if cfg.county.is_none() {
                anyhow::bail!(
                    "{}: `county` is required for a county node (the gateway runs with fenghuo-gateway)",
                    config.display()
                );
            }
            logging::init(
                log_format.unwrap_or(cfg.log.format),
                cfg.log.filter.as_deref(),
            );
            run(cfg)
        }
        Cmd::Backup {
            config,
            out,
            node,
            json,
        } => {
            let cfg = NodeConfig::load(&config)?;
            tokio::runtime::Runtime::new()?.block_on(cli::backup::backup(
                &cfg,
                node.as_deref(),
                &out,
                json,
            ))
        }
        Cmd::Restore { config, from, json } => {
            let cfg = NodeConfig::load(&config)?;
            cli::backup::restore(&cfg, &from, json)
        }
        Cmd::RebuildViews { config } => {
            let cfg = NodeConfig::load(&config)?;
            logging::init(cfg.log.format, cfg.log.filter.as_deref());
            let store = store::SledStore::open(&cfg.resolve(&cfg.data_dir))?;
            // Per-day counts follow the node's zone.
            start::use_display_zone(&cfg);
            let n = dispatch::rebuild(&store)?;
            start::mark_views_zone(&store, &cfg.time_zone)?;
            eprintln!("rebuilt the views from {n} feed entries");
            Ok(())
        }
    }
}

#[tokio::main]
async fn run(cfg: NodeConfig) -> anyhow::Result<()> {
    // A county adds nothing of its own to the web layer.
    start::run_until_stopped(&cfg, |_| axum::Router::new()).await?;
    Ok(())
}
