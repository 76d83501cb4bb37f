//! `fenghuo-gateway`: the provincial gateway server, and `demo`, which sets up and runs a
//! small province on loopback for a first look.
//!
//! The gateway is a node of kind province (it holds every county's shared feeds and serves
//! the aggregated views over gRPC, and, when configured, the node library's web pages as the
//! provincial dashboard) plus partner webhook delivery, whose callback routes it serves on
//! the dashboard's listener.

mod demo;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use fenghuo_gateway::webhook;
use fenghuo_node::config::{LogFormat, NodeConfig};
use fenghuo_node::{logging, start};

/// The Fenghuo provincial gateway.
#[derive(Debug, Parser)]
#[command(
    name = "fenghuo-gateway",
    version,
    about = "The Fenghuo (烽火) provincial gateway",
    long_about = "The Fenghuo (烽火) provincial gateway.\n\n`fenghuo-gateway demo` sets up a \
    local province on loopback (certificates, configs, a gateway, five counties and a partner \
    simulator, each its own process, with sample data) and runs it; \
    `fenghuo-gateway run --config gateway.toml` runs a real gateway (write the file with \
    `fenghuo init gateway`)."
)]
struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the gateway until SIGINT or SIGTERM.
    Run {
        /// The gateway's configuration file (write one with `fenghuo init gateway`).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Log format (overrides the config's `log.format`).
        #[arg(long, value_enum)]
        log_format: Option<LogFormat>,
    },
    /// Set up and run a local province on loopback, with sample data, until Ctrl-C.
    Demo(demo::DemoArgs),
    /// Run a county node, as `fenghuo-node run` does (the demo starts its counties with it,
    /// so one binary runs a whole province).
    Node {
        /// The node's configuration file (write one with `fenghuo init node`).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Log format (overrides the config's `log.format`).
        #[arg(long, value_enum)]
        log_format: Option<LogFormat>,
    },
    /// A partner website's webhook receiver: verifies each delivery, then acknowledges it
    /// and reports an outcome through the gateway's HTTPS callback (docs/partners.md).
    PartnerSim(fenghuo_gateway::partner_sim::PartnerSimArgs),
    /// A county's monitoring system: streams made-up findings into the county's intake
    /// with an intake certificate (docs/intake.md).
    MonitorSim(fenghuo_gateway::monitor_sim::MonitorSimArgs),
}

fn main() -> anyhow::Result<()> {
    match Args::parse().command {
        Cmd::Run { config, log_format } => {
            let cfg = NodeConfig::load(&config)?;
            if cfg.province.is_none() {
                anyhow::bail!(
                    "{}: `province` is required for the gateway (county nodes run with fenghuo-node)",
                    config.display()
                );
            }
            logging::init(
                log_format.unwrap_or(cfg.log.format),
                cfg.log.filter.as_deref(),
            );
            run(cfg)
        }
        Cmd::Demo(args) => demo::run(args),
        Cmd::Node { config, log_format } => {
            let cfg = NodeConfig::load(&config)?;
            if cfg.county.is_none() {
                anyhow::bail!(
                    "{}: `county` is required for a county node",
                    config.display()
                );
            }
            logging::init(
                log_format.unwrap_or(cfg.log.format),
                cfg.log.filter.as_deref(),
            );
            run_county(cfg)
        }
        Cmd::PartnerSim(args) => {
            logging::init(LogFormat::default(), Some("info"));
            fenghuo_gateway::partner_sim::run(args)
        }
        Cmd::MonitorSim(args) => {
            logging::init(LogFormat::default(), Some("info"));
            fenghuo_gateway::monitor_sim::run(args)
        }
    }
}

/// `fenghuo-gateway node`: exactly `fenghuo-node run`.
#[tokio::main]
async fn run_county(cfg: NodeConfig) -> anyhow::Result<()> {
    start::run_until_stopped(&cfg, |_| axum::Router::new()).await?;
    Ok(())
}

/// `fenghuo-gateway run`: the node, with partner webhook delivery and the partners' callback
/// routes on the dashboard's listener.
#[tokio::main]
async fn run(cfg: NodeConfig) -> anyhow::Result<()> {
    let client = webhook::client::WebhookClient::new(
        cfg.disposal
            .webhook_ca
            .as_ref()
            .map(|p| cfg.resolve(p))
            .as_deref(),
        cfg.disposal.allow_private_webhooks,
    )?;
    let (stop_webhooks, stop_rx) = tokio::sync::watch::channel(false);
    let ran = start::run_until_stopped(&cfg, |node| {
        // Delivering records attempts and deliveries: the writing replica alone does it.
        if !node.writer.is_read_only() {
            webhook::spawn(node.clone(), client, stop_rx);
        }
        webhook::callback::routes(node.clone())
    })
    .await;
    let _ = stop_webhooks.send(true);
    ran?;
    Ok(())
}
