//! `fenghuo report …`: major-issue reports (重大事项报告) — file at a county, list, and
//! acknowledge at the gateway.

use fenghuo_proto::v1::{self, reports_client::ReportsClient};
use serde_json::{json, Value};

use super::connect::ConnectArgs;
use super::output::{emit, optional_time, short_time, table, time_text, unit_name, unit_text};
use super::risk::{status_message, Output};
use crate::domain::Level;

/// `fenghuo report …` commands.
#[derive(Debug, clap::Subcommand)]
pub enum ReportCommand {
    /// 人工报送重大事项报告（定为 I、II 级时自动报送） · File a report to the province by hand
    /// (a grading to level I or II files one by itself).
    File {
        /// 报告内容 · What happened, for the province.
        #[arg(long)]
        summary: String,
        /// 相关风险点，如 510104-3 · The risk point it concerns, e.g. 510104-3.
        #[arg(long)]
        risk: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// 重大事项报告列表（县级看本县，省级看全省），最新在前 · Reports: a county's own, or at the
    /// gateway every county's; newest first.
    List {
        /// 仅待省级签收的 · Only those awaiting the province's acknowledgment.
        #[arg(long)]
        awaiting: bool,
        #[command(flatten)]
        out: Output,
    },
    /// 签收报告（省级工作人员，连省级汇聚节点） · Acknowledge a report (provincial staff,
    /// against the gateway).
    Ack {
        /// 报告编号，如 510104-r1 · Report id, e.g. 510104-r1.
        id: String,
        /// 给县里的附言 · A note for the county.
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        out: Output,
    },
}

/// A report as the JSON scripts read.
pub fn report_json(r: &v1::Report) -> Value {
    json!({
        "id": r.id,
        "origin": r.origin,
        "origin_name": unit_name(&r.origin, &r.county_names),
        "risk": (!r.risk.is_empty()).then_some(&r.risk),
        "level": (!r.level.is_empty()).then_some(&r.level),
        "summary": r.summary,
        "automatic": r.automatic,
        "disposal": (!r.disposal.is_empty()).then_some(&r.disposal),
        "filed_at": time_text(r.filed_at_ms),
        "filed_by": r.filed_by,
        "acknowledged_at": optional_time(r.acknowledged_at_ms),
        "acknowledged_by": (!r.acknowledged_by.is_empty()).then_some(&r.acknowledged_by),
        "note": r.note,
    })
}

fn report_table(reports: &[v1::Report]) -> String {
    let mut t = table();
    t.set_header(vec![
        "id",
        "county",
        "level",
        "how",
        "summary",
        "filed",
        "acknowledged",
    ]);
    for r in reports {
        t.add_row(vec![
            r.id.clone(),
            unit_text(&r.origin, &r.county_names),
            match r.level.parse::<Level>() {
                Ok(l) => format!("{} {}", l.as_str(), l.label_zh()),
                Err(_) if r.level.is_empty() => "-".into(),
                Err(_) => r.level.clone(),
            },
            if !r.disposal.is_empty() {
                format!("overdue 处置超期 {}", r.disposal)
            } else if r.automatic {
                "automatic 自动报告".to_owned()
            } else {
                "by hand 人工报告".to_owned()
            },
            r.summary.clone(),
            short_time(r.filed_at_ms),
            if r.acknowledged_at_ms == 0 {
                "awaiting 待签收".to_owned()
            } else {
                format!("{} 已签收", short_time(r.acknowledged_at_ms))
            },
        ]);
    }
    t.to_string()
}

fn print(r: &v1::Report, out: &Output, line: String) -> anyhow::Result<()> {
    emit(out.json, || report_json(r), || line)
}

/// Runs a report command against the node or gateway.
pub async fn run(connect: ConnectArgs, cmd: ReportCommand) -> anyhow::Result<()> {
    let mut client = ReportsClient::new(connect.channel().await?);
    match cmd {
        ReportCommand::File { summary, risk, out } => {
            let r = client
                .file_report(v1::FileReportRequest {
                    summary,
                    risk: risk.unwrap_or_default(),
                })
                .await
                .map_err(status_message)?
                .into_inner();
            print(&r, &out, format!("filed report {} to the province", r.id))?;
        }
        ReportCommand::List { awaiting, out } => {
            let reports = client
                .list_reports(v1::ListReportsRequest { awaiting })
                .await
                .map_err(status_message)?
                .into_inner()
                .reports;
            emit(
                out.json,
                || reports.iter().map(report_json).collect(),
                || format!("{}\n{} report(s)", report_table(&reports), reports.len()),
            )?;
        }
        ReportCommand::Ack { id, note, out } => {
            let r = client
                .acknowledge_report(v1::AcknowledgeReportRequest { id, note })
                .await
                .map_err(status_message)?
                .into_inner();
            print(
                &r,
                &out,
                format!(
                    "acknowledged report {} from {}",
                    r.id,
                    unit_text(&r.origin, &r.county_names)
                ),
            )?;
        }
    }
    Ok(())
}
