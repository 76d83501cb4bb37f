//! `bench`: Fenghuo's federation benchmarks, and the same workloads on NATS JetStream for
//! comparison in the same run on the same machine.
//!
//! ```text
//! cargo run --release -p fenghuo-tests --bin bench -- catch-up --records 1000000 --runs 3
//! cargo run --release -p fenghuo-tests --bin bench -- fan-out --receivers 9 --rate 1000 --records 5000
//! cargo run --release -p fenghuo-tests --bin bench -- writes --writers 64 --records 200000
//! cargo run --release -p fenghuo-tests --bin bench -- writes --system nats --fsync always --writers 64
//! cargo run --release -p fenghuo-tests --bin bench -- province --counties 100 --entries 10000
//! cargo run --release -p fenghuo-tests --bin bench -- alert-round-trip --neighbours 8 --alerts 200 [--pause-ms 500]
//! cargo run --release -p fenghuo-tests --bin bench -- dashboard-scale --counties 180 --risks 10000 [--data-dir DIR] [--keep]
//! cargo run --release -p fenghuo-tests --bin bench -- county-pages --risks 100000 [--runs 200]
//! cargo run --release -p fenghuo-tests --bin bench -- disposal-delivery --via grpc|webhook --requests 2000 --concurrency 32
//! cargo run --release -p fenghuo-tests --bin bench -- intake --stored 10000000 --rate 2000 --seconds 60 [--reuse DIR]
//! cargo run --release -p fenghuo-tests --bin bench -- keys --handshakes 2000 --signatures 20000
//! cargo run --release -p fenghuo-tests --bin bench -- report results.jsonl --into docs/benchmarks.md
//! ```
//!
//! Each workload prints one line of figures (and `--json` a JSON object); `report` turns the
//! JSON objects of a whole run into the comparison table of `docs/benchmarks.md`.
//! `tests/bench/compare.sh` runs everything for both systems.
#![allow(clippy::unwrap_used)]

mod alerts;
mod county_pages;
mod dataset;
mod disposal;
mod fenghuo;
mod intake;
mod keys;
mod load;
mod nats;
mod report;
mod scale;
mod stats;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "bench",
    about = "Fenghuo federation benchmarks, and the same workloads on NATS JetStream"
)]
struct Args {
    #[command(subcommand)]
    workload: Workload,
    /// Print a JSON object instead of a line.
    #[arg(long, global = true)]
    json: bool,
}

/// Which system runs the workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum System {
    /// Fenghuo nodes in this process.
    Fenghuo,
    /// `nats-server` processes (a hub and leaf sites), driven with async-nats.
    Nats,
}

#[derive(Debug, ClapArgs)]
struct SystemArgs {
    /// The system to measure.
    #[arg(long, value_enum, default_value_t = System::Fenghuo)]
    system: System,
    /// With `--system nats`: when NATS fsyncs (every 2 minutes by default, or every message).
    #[arg(long, value_enum, default_value_t = nats::Fsync::Lazy)]
    fsync: nats::Fsync,
    /// With `--system nats`: the nats-server binary.
    #[arg(long, env = "NATS_SERVER", default_value = "nats-server")]
    nats_server: PathBuf,
}

impl SystemArgs {
    fn nats(&self) -> anyhow::Result<nats::Nats> {
        nats::Nats::new(self.nats_server.clone(), self.fsync)
    }
}

#[derive(Debug, Subcommand)]
enum Workload {
    /// A receiver that holds none of N records starts and catches up (timed per run).
    CatchUp {
        #[command(flatten)]
        system: SystemArgs,
        /// Records the origin takes before the receiver starts.
        #[arg(long, default_value_t = 1_000_000)]
        records: u64,
        /// Runs (each with a fresh receiver); min / median / max are reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// The origin writes at a steady rate; latency until each receiver holds each record.
    FanOut {
        #[command(flatten)]
        system: SystemArgs,
        /// Receivers: for Fenghuo the gateway and N-1 neighbours; for NATS N leaf sites.
        #[arg(long, default_value_t = 9)]
        receivers: usize,
        /// Records per second.
        #[arg(long, default_value_t = 1000)]
        rate: u64,
        /// Records in all.
        #[arg(long, default_value_t = 5000)]
        records: u64,
    },
    /// Acknowledged durable writes at the origin with concurrent writers.
    Writes {
        #[command(flatten)]
        system: SystemArgs,
        /// Concurrent writers, each waiting for its acknowledgment before the next write.
        #[arg(long, default_value_t = 64)]
        writers: usize,
        /// Writes in all.
        #[arg(long, default_value_t = 200_000)]
        records: u64,
        /// For Fenghuo: through gRPC (as clients write) or straight to the node's writer.
        #[arg(long, value_enum, default_value_t = fenghuo::Via::Grpc)]
        via: fenghuo::Via,
    },
    /// Fenghuo only: a province of N counties and a gateway; a burst at one county.
    Province {
        #[arg(long, default_value_t = 100)]
        counties: usize,
        #[arg(long, default_value_t = 10_000)]
        entries: u64,
    },
    /// Fenghuo only: a county issues alerts to N neighbours whose staff acknowledge each as
    /// their watch shows it; time until each acknowledgment is visible at the issuer.
    AlertRoundTrip {
        #[arg(long, default_value_t = 8)]
        neighbours: usize,
        /// Alerts, issued one after another once the last is fully acknowledged.
        #[arg(long, default_value_t = 200)]
        alerts: u64,
        /// Pause between an alert's last acknowledgment and the next alert (0: back to back,
        /// the busiest case; staff issue alerts minutes apart).
        #[arg(long, default_value_t = 0)]
        pause_ms: u64,
    },
    /// Fenghuo only: a provincial gateway holding C counties × R risks with their histories
    /// (90 days of them); overview query latencies, memory, rebuilding every view from the
    /// feeds, load time and size on disk.
    DashboardScale {
        #[arg(long, default_value_t = 180)]
        counties: usize,
        /// Risks per county.
        #[arg(long, default_value_t = 10_000)]
        risks: u64,
        /// Timed runs of each query.
        #[arg(long, default_value_t = 1000)]
        queries: usize,
        /// Keep the province here instead of a temporary folder; a folder holding a complete
        /// data set of the same size is measured again without loading it.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Leave the data set on disk at the end.
        #[arg(long)]
        keep: bool,
        /// Skip deleting and rebuilding every view (minutes at full size).
        #[arg(long)]
        no_rebuild: bool,
    },
    /// Fenghuo only: every page of a county node holding N risks of its own, over HTTP in
    /// this process (a signed-in officer); p50, p99 and max per page, the first request apart.
    CountyPages {
        /// Risks in the county's register.
        #[arg(long, default_value_t = 100_000)]
        risks: u64,
        /// Timed requests per page (fewer for a page too slow for that many in ~20 s).
        #[arg(long, default_value_t = 200)]
        runs: usize,
    },
    /// Fenghuo only: disposal requests filed at a county, relayed by the gateway, taken by a
    /// partner over gRPC or its webhook; requests/s and filing → partner latency.
    DisposalDelivery {
        /// How the partner takes them.
        #[arg(long, value_enum, default_value_t = disposal::Via::Grpc)]
        via: disposal::Via,
        /// Requests filed.
        #[arg(long, default_value_t = 2000)]
        requests: u64,
        /// Filing calls in flight at once.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
    },
    /// Fenghuo only: monitoring systems stream observations over gRPC into a county node (a
    /// `fenghuo-node` process) holding N stored ones; received/s, submit → triage-list
    /// latency of flagged probes, the node's RSS.
    Intake {
        /// Observations recorded into the county's store before its node starts.
        #[arg(long, default_value_t = 10_000_000)]
        stored: u64,
        /// Observations per second, all clients together.
        #[arg(long, default_value_t = 2000)]
        rate: u64,
        /// How long the clients stream.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Streaming clients, each a monitoring system with its own intake certificate.
        #[arg(long, default_value_t = 1)]
        clients: usize,
        /// Keep the CA, config and store in DIR and use them again when DIR holds a finished
        /// pre-load of the same --stored (each run adds its new observations to it).
        #[arg(long)]
        reuse: Option<PathBuf>,
    },
    /// What the key types cost: mutual-TLS handshakes with P-256 and Ed25519 leaf keys, and
    /// signatures made and checked with each.
    Keys {
        /// Handshakes per key type.
        #[arg(long, default_value_t = 2000)]
        handshakes: u64,
        /// Signatures made and checked per algorithm.
        #[arg(long, default_value_t = 20000)]
        signatures: u64,
    },
    /// Renders the JSON lines of a run (`--json` output) as the comparison table.
    Report {
        /// The file of JSON lines.
        results: PathBuf,
        /// Markdown put above the table (date, machine, versions, commands).
        #[arg(long)]
        header: Option<PathBuf>,
        /// Replace the section between the markers in this file instead of printing.
        #[arg(long)]
        into: Option<PathBuf>,
    },
}

async fn run(workload: Workload) -> anyhow::Result<Option<stats::Outcome>> {
    Ok(Some(match workload {
        Workload::CatchUp {
            system,
            records,
            runs,
        } => match system.system {
            System::Fenghuo => fenghuo::catch_up(records, runs).await?,
            System::Nats => system.nats()?.catch_up(records, runs).await?,
        },
        Workload::FanOut {
            system,
            receivers,
            rate,
            records,
        } => match system.system {
            System::Fenghuo => fenghuo::fan_out(receivers, rate, records).await?,
            System::Nats => system.nats()?.fan_out(receivers, rate, records).await?,
        },
        Workload::Writes {
            system,
            writers,
            records,
            via,
        } => match system.system {
            System::Fenghuo => fenghuo::writes(writers, records, via).await?,
            System::Nats => system.nats()?.writes(writers, records).await?,
        },
        Workload::Province { counties, entries } => fenghuo::province(counties, entries).await?,
        Workload::AlertRoundTrip {
            neighbours,
            alerts,
            pause_ms,
        } => alerts::round_trip(neighbours, alerts, Duration::from_millis(pause_ms)).await?,
        Workload::DashboardScale {
            counties,
            risks,
            queries,
            data_dir,
            keep,
            no_rebuild,
        } => {
            scale::dashboard_scale(scale::Options {
                counties,
                risks,
                queries,
                data_dir,
                keep,
                rebuild: !no_rebuild,
            })
            .await?
        }
        Workload::CountyPages { risks, runs } => {
            county_pages::county_pages(county_pages::Options { risks, runs }).await?
        }
        Workload::DisposalDelivery {
            via,
            requests,
            concurrency,
        } => disposal::delivery(via, requests, concurrency).await?,
        Workload::Intake {
            stored,
            rate,
            seconds,
            clients,
            reuse,
        } => {
            intake::intake(intake::Options {
                stored,
                rate,
                seconds,
                clients,
                reuse,
            })
            .await?
        }
        Workload::Keys {
            handshakes,
            signatures,
        } => keys::keys(handshakes, signatures)?,
        Workload::Report {
            results,
            header,
            into,
        } => {
            report::run(&results, header.as_deref(), into.as_deref())?;
            return Ok(None);
        }
    }))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    fenghuo_node::logging::init(Default::default(), Some("warn"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(run(args.workload));
    // Views may still be catching up in blocking tasks; the figures are taken, don't wait.
    rt.shutdown_timeout(Duration::from_secs(1));
    if let Some(outcome) = result? {
        outcome.print(args.json);
    }
    Ok(())
}
