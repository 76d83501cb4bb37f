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
    Tables are printed by default, times in them in the zone of --time-zone \
    (FENGHUO_TIME_ZONE, default Asia/Shanghai) with their offset; --json prints JSON for \
    scripts, times in RFC 3339 UTC."
)]
pub struct Cli {
    /// How to reach a node (for commands that talk to one).
    #[command(flatten)]
    pub connect: connect::ConnectArgs,
    /// The zone tables show times in, with their offset (--json stays RFC 3339 UTC), and
    /// local times such as `--since "2026-12-07 08:00"` are read in: an IANA name.
    #[arg(
        long,
        global = true,
        env = "FENGHUO_TIME_ZONE",
        value_name = "ZONE",
        default_value = crate::timespec::DEFAULT_ZONE
    )]
    pub time_zone: String,
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
    // Set before parsing: options such as --since read local times in the zone as clap parses
    // them. `Cli::parse` then takes the same value (and shows it in --help).
    let zone = requested_zone(std::env::args())
        .or_else(|| std::env::var("FENGHUO_TIME_ZONE").ok())
        .unwrap_or_else(|| crate::timespec::DEFAULT_ZONE.to_owned());
    match crate::timespec::zone_named(&zone) {
        Ok(zone) => {
            crate::timespec::set_display_zone(zone);
        }
        Err(e) => {
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "error: --time-zone: {e}");
            return std::process::ExitCode::from(2);
        }
    }
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

/// The value of `--time-zone ZONE` or `--time-zone=ZONE` among `args`, if given (the last).
fn requested_zone(args: impl Iterator<Item = String>) -> Option<String> {
    let mut found = None;
    let mut args = args.take_while(|a| a != "--");
    while let Some(a) = args.next() {
        if a == "--time-zone" {
            found = args.next();
        } else if let Some(v) = a.strip_prefix("--time-zone=") {
            found = Some(v.to_owned());
        }
    }
    found
}

fn tokio_main(fut: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(fut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_zone_is_found_before_clap_parses() {
        let args = |v: &[&str]| {
            v.iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .into_iter()
        };
        assert_eq!(requested_zone(args(&["fenghuo", "overview"])), None);
        assert_eq!(
            requested_zone(args(&["fenghuo", "--time-zone", "UTC", "overview"])),
            Some("UTC".into())
        );
        assert_eq!(
            requested_zone(args(&[
                "fenghuo",
                "risk",
                "list",
                "--time-zone=Asia/Urumqi"
            ])),
            Some("Asia/Urumqi".into())
        );
        assert_eq!(
            requested_zone(args(&["fenghuo", "x", "--", "--time-zone=UTC"])),
            None
        );
        let cli = Cli::try_parse_from(["fenghuo", "--time-zone", "UTC", "peers"]).unwrap();
        assert_eq!(cli.time_zone, "UTC");
    }
}
