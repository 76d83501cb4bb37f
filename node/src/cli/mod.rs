//! The `fenghuo` command-line tool, one module per command group:
//! - [`ca`]: the offline provincial certificate authority;
//! - [`init`]: writing configuration files;
//! - [`risk`]: the risk register of a node;
//! - [`alert`], [`report`], [`directive`]: shared alerts, major-issue reports, directives and
//!   consultations;
//! - [`overview`], [`health`], [`linked`]: aggregated figures, federation health, risks
//!   linked across counties;
//! - [`staff`]: dashboard accounts at the gateway; [`partner`]: partner websites;
//!   [`disposal`]: disposal requests to them;
//! - [`peers`]: the sync links of a node or the gateway; [`rekey`]: re-keying a county;
//! - [`connect`]: reaching a node over mutual TLS; [`output`]: tables and JSON.

pub mod alert;
pub mod backup;
pub mod ca;
pub mod connect;
pub mod directive;
pub mod disposal;
pub mod health;
pub mod init;
pub mod linked;
pub mod output;
pub mod overview;
pub mod partner;
pub mod peers;
pub mod rekey;
pub mod report;
pub mod risk;
pub mod staff;

use clap::{Parser, Subcommand};

/// Fenghuo (烽火): federated public-opinion risk information sharing.
#[derive(Debug, Parser)]
#[command(
    name = "fenghuo",
    version,
    about = "Fenghuo (烽火): the command-line tool for county and provincial staff",
    long_about = "Fenghuo (烽火): the command-line tool for county and provincial staff.\n\n\
    Runs the offline provincial CA (`fenghuo ca`), writes node configurations \
    (`fenghuo init`), drives a node's risk register (`fenghuo risk`), and exchanges \
    alerts, reports, directives and consultations (`fenghuo alert|report|directive|consult`).\n\n\
    Commands that talk to a node take --node https://HOST:PORT --cert F --key F --ca F \
    [--crl F] [--server-identity ID], or the environment variables FENGHUO_NODE, \
    FENGHUO_CERT, FENGHUO_KEY, FENGHUO_CA, FENGHUO_CRL, FENGHUO_SERVER. The node must be the \
    one meant (by default your own unit's node; --server-identity county/510104 or \
    province/51 for another) and its certificate must not be on the CRL (by default crl.pem \
    beside the CA certificate). \
    Tables are printed by default; --json prints JSON for scripts."
)]
pub struct Cli {
    /// How to reach a node (for commands that talk to one).
    #[command(flatten)]
    pub connect: connect::ConnectArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The command groups.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The offline provincial certificate authority: init, issue, revoke, list.
    #[command(subcommand)]
    Ca(ca::CaCommand),
    /// Write a complete, commented configuration file for a node.
    #[command(subcommand)]
    Init(init::InitCommand),
    /// The risk register (风险点台账) of a county node (or, read-only, the gateway).
    #[command(subcommand)]
    Risk(risk::RiskCommand),
    /// Shared alerts (预警通报): issue, update, cancel, acknowledge, list, show, watch.
    #[command(subcommand)]
    Alert(alert::AlertCommand),
    /// Major-issue reports (重大事项报告): file at a county; list and acknowledge at the gateway.
    #[command(subcommand)]
    Report(report::ReportCommand),
    /// Directives (工作指令): issue at the gateway; list and respond at a county.
    #[command(subcommand)]
    Directive(directive::DirectiveCommand),
    /// Consultations (会商): open at the gateway; list and answer at a county.
    #[command(subcommand)]
    Consult(directive::ConsultCommand),
    /// The province (at the gateway) or a county at a glance: active risks by level, focus
    /// point and status, the county × level table, new and resolved per day, levels that rose.
    Overview(overview::OverviewArgs),
    /// Disposal requests (处置请求) to partner websites: request, list, show, withdraw;
    /// review, approve, reject at the gateway; inbox, ack, respond with a partner certificate.
    #[command(subcommand)]
    Disposal(disposal::DisposalCommand),
    /// Partner websites at the gateway: add, list, show, disable.
    #[command(subcommand)]
    Partner(partner::PartnerCommand),
    /// Dashboard staff accounts at the gateway: add, list, remove.
    #[command(subcommand)]
    Staff(staff::StaffCommand),
    /// Federation health per county: link, last contact, lag, errors, equivocation alarms,
    /// certificate expiry; silent counties stand out.
    Health(health::HealthArgs),
    /// Risks of different counties that point at the same source URL or platform account.
    Linked(linked::LinkedArgs),
    /// The sync links of a node or the gateway: state, last contact, lag, errors.
    Peers(peers::PeersArgs),
    /// The feeds a node or the gateway holds, and how far (its version vector).
    Feeds(peers::PeersArgs),
    /// At the gateway: re-key a compromised county (after revoking its old certificate): its
    /// new certificate, and per feed the last entry of the old key still trusted.
    Rekey(rekey::RekeyArgs),
}

/// Runs the CLI; returns the process exit code.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Ca(cmd) => ca::run(cmd),
        Command::Init(cmd) => init::run(cmd),
        Command::Risk(cmd) => tokio_main(risk::run(cli.connect, cmd)),
        Command::Alert(cmd) => tokio_main(alert::run(cli.connect, cmd)),
        Command::Report(cmd) => tokio_main(report::run(cli.connect, cmd)),
        Command::Directive(cmd) => tokio_main(directive::run(cli.connect, cmd)),
        Command::Consult(cmd) => tokio_main(directive::run_consult(cli.connect, cmd)),
        Command::Overview(args) => tokio_main(overview::run(cli.connect, args)),
        Command::Staff(cmd) => tokio_main(staff::run(cli.connect, cmd)),
        Command::Partner(cmd) => tokio_main(partner::run(cli.connect, cmd)),
        Command::Disposal(cmd) => tokio_main(disposal::run(cli.connect, cmd)),
        Command::Health(args) => tokio_main(health::run(cli.connect, args)),
        Command::Linked(args) => tokio_main(linked::run(cli.connect, args)),
        Command::Peers(args) => tokio_main(peers::run(cli.connect, args)),
        Command::Feeds(args) => tokio_main(peers::feeds(cli.connect, args)),
        Command::Rekey(args) => tokio_main(rekey::run(cli.connect, args)),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // The reader went away (`| head`): nothing is wrong, and nobody is left to tell. The
        // status is the one a process ended by SIGPIPE reports (128 + 13), as `cat` would.
        Err(e) if output::is_broken_pipe(&e) => std::process::ExitCode::from(141),
        Err(e) => {
            // A server's message can carry data: shown escaped like everything else. A
            // closed stderr is not worth a panic.
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "error: {}",
                output::visible(&format!("{e:#}"))
            );
            std::process::ExitCode::FAILURE
        }
    }
}

fn tokio_main(fut: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(fut)
}
