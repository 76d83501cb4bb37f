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
//! - [`duty`], [`notify`]: the duty roster, notification channels and deliveries;
//! - [`peers`]: the sync links of a node or the gateway; [`rekey`]: re-keying a county;
//! - [`connect`]: reaching a node over mutual TLS; [`output`]: tables and JSON.

pub mod alert;
pub mod backup;
pub mod ca;
pub mod connect;
pub mod directive;
pub mod disposal;
pub mod duty;
pub mod health;
pub mod init;
pub mod intake;
pub mod linked;
pub mod notify;
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
    about = "烽火：县级和省级工作人员的命令行工具 · Fenghuo: the command-line tool for county and provincial staff",
    long_about = "烽火：县级和省级工作人员的命令行工具 · Fenghuo: the command-line tool for county and provincial staff.\n\n\
    管理离线的省级证书机构（fenghuo ca），生成节点配置（fenghuo init），维护节点的风险点台账\
    （fenghuo risk），收发预警通报、重大事项报告、工作指令和会商（fenghuo alert|report|directive|consult）。\
    连接节点的命令需要 --node、--cert、--key、--ca（或对应的 FENGHUO_* 环境变量）；表格中的时间按 \
    --time-zone（默认 Asia/Shanghai）显示，--json 输出供脚本使用的 JSON。\n\n\
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
    /// 如何连接节点 · How to reach a node (for commands that talk to one).
    #[command(flatten)]
    pub connect: connect::ConnectArgs,
    /// 表格显示时间及读取本地时间所用的时区（IANA 名称） · The zone tables show times in and
    /// local times such as `--since "2026-12-07 08:00"` are read in: an IANA name (--json stays
    /// RFC 3339 UTC).
    #[arg(
        long,
        global = true,
        env = "FENGHUO_TIME_ZONE",
        value_name = "ZONE",
        default_value = crate::timespec::DEFAULT_ZONE
    )]
    pub time_zone: String,
    /// 要做什么 · What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The command groups.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// 离线省级证书机构：初始化、签发、吊销、列出 · The offline provincial certificate
    /// authority: init, issue, revoke, list.
    #[command(subcommand)]
    Ca(ca::CaCommand),
    /// 为节点生成带注释的完整配置文件 · Write a complete, commented configuration file for a
    /// node.
    #[command(subcommand)]
    Init(init::InitCommand),
    /// 风险点台账（县级节点；省级汇聚节点只读） · The risk register of a county node (or,
    /// read-only, the gateway).
    #[command(subcommand)]
    Risk(risk::RiskCommand),
    /// 预警通报：发布、更新、撤销、签收、列出、查看、实时接收 · Shared alerts: issue, update,
    /// cancel, acknowledge, list, show, watch.
    #[command(subcommand)]
    Alert(alert::AlertCommand),
    /// 重大事项报告：县级报送，省级列出和签收 · Major-issue reports: file at a county; list and
    /// acknowledge at the gateway.
    #[command(subcommand)]
    Report(report::ReportCommand),
    /// 舆情采集：研判监测系统发现的条目、导入文件、采集率 · Intake: triage what monitoring
    /// systems found, import files, collection and discovery rates.
    #[command(subcommand)]
    Intake(intake::IntakeCommand),
    /// 工作指令/督办：省级下达，县级查看和反馈 · Directives: issue at the gateway; list and
    /// respond at a county.
    #[command(subcommand)]
    Directive(directive::DirectiveCommand),
    /// 会商：省级发起，县级查看和答复 · Consultations: open at the gateway; list and answer at
    /// a county.
    #[command(subcommand)]
    Consult(directive::ConsultCommand),
    /// 全省（省级汇聚节点）或本县风险概览 · The province (at the gateway) or a county at a
    /// glance.
    ///
    /// 在管风险点按等级、重点和状态统计，各县×等级表，每日新增和化解，等级上升的风险点。
    ///
    /// Active risks by level, focus point and status, the county × level table, new and
    /// resolved per day, levels that rose.
    Overview(overview::OverviewArgs),
    /// 向合作平台发处置请求：提交、列出、查看、撤回、审核 · Disposal requests to partner
    /// websites: request, list, show, withdraw, review.
    ///
    /// 省级汇聚节点审核（review、approve、reject）；合作平台凭其证书接收和反馈（inbox、ack、respond）。
    ///
    /// Review, approve, reject at the gateway; inbox, ack, respond with a partner
    /// certificate.
    #[command(subcommand)]
    Disposal(disposal::DisposalCommand),
    /// 合作平台（省级汇聚节点）：添加、列出、查看、停用 · Partner websites at the gateway: add,
    /// list, show, disable.
    #[command(subcommand)]
    Partner(partner::PartnerCommand),
    /// 工作人员页面账号：添加、列出、删除 · Staff accounts for the pages: add, list, remove.
    #[command(subcommand)]
    Staff(staff::StaffCommand),
    /// 值班表：排班、列出、此刻在班、移除 · The duty roster: add, list, now, remove.
    #[command(subcommand)]
    Duty(duty::DutyCommand),
    /// 通知渠道（邮件、群机器人、webhook）、测试、投递记录 · Notification channels (mail, group
    /// robots, webhooks), a test message, deliveries.
    #[command(subcommand)]
    Notify(notify::NotifyCommand),
    /// 各县联通状况：链路、最近联系、滞后、错误、证书到期 · Federation health per county: link,
    /// last contact, lag, errors, certificate expiry.
    ///
    /// 失联的县醒目标出；也报告分叉（equivocation）告警。
    ///
    /// Silent counties stand out; equivocation alarms are reported too.
    Health(health::HealthArgs),
    /// 跨县关联：不同县指向同一舆情源的风险点 · Risks of different counties that point at the
    /// same source URL or platform account.
    Linked(linked::LinkedArgs),
    /// 节点或省级汇聚节点的同步链路：状态、最近联系、滞后、错误 · The sync links of a node or
    /// the gateway: state, last contact, lag, errors.
    Peers(peers::PeersArgs),
    /// 节点持有的数据流及进度 · The feeds a node or the gateway holds, and how far (its
    /// version vector).
    Feeds(peers::PeersArgs),
    /// 为密钥泄露的县更换密钥（省级汇聚节点） · At the gateway: re-key a compromised county.
    ///
    /// 先吊销其旧证书；给出新证书，以及每个数据流中仍然信任的旧密钥最后一条。
    ///
    /// After revoking its old certificate: its new certificate, and per feed the last entry of
    /// the old key still trusted.
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
        Command::Intake(cmd) => tokio_main(intake::run(cli.connect, cmd)),
        Command::Directive(cmd) => tokio_main(directive::run(cli.connect, cmd)),
        Command::Consult(cmd) => tokio_main(directive::run_consult(cli.connect, cmd)),
        Command::Overview(args) => tokio_main(overview::run(cli.connect, args)),
        Command::Staff(cmd) => tokio_main(staff::run(cli.connect, cmd)),
        Command::Duty(cmd) => tokio_main(duty::run(cli.connect, cmd)),
        Command::Notify(cmd) => tokio_main(notify::run(cli.connect, cmd)),
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
