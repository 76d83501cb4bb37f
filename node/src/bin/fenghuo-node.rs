//! `fenghuo-node`: the county node server.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use fenghuo_node::config::{LogFormat, NodeConfig};
use fenghuo_node::{logging, start, store, views};

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
    /// Run the node: serve gRPC over mutual TLS until SIGINT or SIGTERM.
    Run {
        /// The node's configuration file (write one with `fenghuo init node`).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Log format (overrides the config's `log.format`).
        #[arg(long, value_enum)]
        log_format: Option<LogFormat>,
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
        Cmd::RebuildViews { config } => {
            let cfg = NodeConfig::load(&config)?;
            logging::init(cfg.log.format, cfg.log.filter.as_deref());
            let store = store::SledStore::open(&cfg.resolve(&cfg.data_dir))?;
            let n = views::rebuild(&store)?;
            eprintln!("rebuilt the views from {n} feed entries");
            Ok(())
        }
    }
}

#[tokio::main]
async fn run(cfg: NodeConfig) -> anyhow::Result<()> {
    let running = start::launch(&cfg, start::terminate_signal()).await?;
    running.task.await??;
    tracing::info!("stopped");
    Ok(())
}
