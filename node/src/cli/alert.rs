//! `fenghuo alert …`: shared alerts (预警通报) — issue, update, cancel, acknowledge, list,
//! show (also as CAP 1.2 XML), and watch what arrives live.

use crate::cli::output::outln;
use std::collections::HashMap;

use fenghuo_proto::v1::{self, alerts_client::AlertsClient};
use serde_json::{json, Value};

use super::connect::ConnectArgs;
use super::output::{emit, optional_time, short_time, table, time_text, unit_name, unit_text};
use super::risk::{status_message, Output};
use crate::domain::alert::{AlertAudience, Certainty, Severity, Urgency};
use crate::domain::Level;
use crate::timespec::parse_time_from_now;

/// `fenghuo alert …` commands.
#[derive(Debug, clap::Subcommand)]
pub enum AlertCommand {
    /// 发布预警通报：发往周边兄弟县（市）、全省或指定县 · Issue an alert to neighbouring
    /// counties, the whole province, or named counties.
    Issue {
        /// 标题，一行，最多 160 字 · Headline: one line, at most 160 characters.
        #[arg(long)]
        headline: String,
        /// 严重程度：特别严重、严重、较重、一般、未知（中英文均可；特别严重和严重须按时签收） ·
        /// extreme, severe, moderate, minor or unknown (either word; extreme and severe must
        /// be acknowledged in time, the node's `alerts.acknowledge_within`, or show overdue).
        #[arg(long)]
        severity: Severity,
        /// 紧急程度：立即、预期、将来、过去、未知 · immediate, expected, future, past or unknown
        /// (either word).
        #[arg(long)]
        urgency: Urgency,
        /// 确定程度：已发生、很可能、可能、不太可能、未知 · observed, likely, possible, unlikely
        /// or unknown (either word).
        #[arg(long)]
        certainty: Certainty,
        /// 发往：neighbours（周边）、province（全省）或逗号分隔的县代码 · neighbours, province,
        /// or county codes separated by commas (510105,510106).
        #[arg(long)]
        audience: AlertAudience,
        /// 情况描述 · What is happening.
        #[arg(long, default_value = "")]
        description: String,
        /// 处置建议 · What recipients should do.
        #[arg(long, default_value = "")]
        instruction: String,
        /// 事件类别 · Event category, e.g. "gathering called online".
        #[arg(long, default_value = "")]
        event: String,
        /// 涉及的县，逗号分隔 · Counties the event affects, separated by commas.
        #[arg(long, value_delimiter = ',')]
        affected: Vec<String>,
        /// 事件开始时间：距今时长（2h）或 RFC 3339 · When the event starts: a time from now (2h)
        /// or RFC 3339.
        #[arg(long, value_parser = parse_time_from_now)]
        onset: Option<i64>,
        /// 失效时间：距今时长（24h）或 RFC 3339 · When the alert stops being valid: a time from
        /// now (24h) or RFC 3339.
        #[arg(long, value_parser = parse_time_from_now)]
        expires: Option<i64>,
        /// 相关风险点，如 510104-3 · The related risk point, e.g. 510104-3.
        #[arg(long)]
        risk: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// 更新本县发布的预警通报（CAP Update） · Replace fields of an alert you issued (CAP
    /// Update); recipients see the change.
    Update {
        /// 通报编号，如 510104-a1 · Alert id, e.g. 510104-a1.
        id: String,
        /// 新标题 · New headline.
        #[arg(long)]
        headline: Option<String>,
        /// 新严重程度（中英文均可） · New severity (either word).
        #[arg(long)]
        severity: Option<Severity>,
        /// 新紧急程度 · New urgency.
        #[arg(long)]
        urgency: Option<Urgency>,
        /// 新确定程度 · New certainty.
        #[arg(long)]
        certainty: Option<Certainty>,
        /// 新情况描述 · New description.
        #[arg(long)]
        description: Option<String>,
        /// 新处置建议 · New instruction.
        #[arg(long)]
        instruction: Option<String>,
        /// 新事件类别 · New event category.
        #[arg(long)]
        event: Option<String>,
        /// 新的涉及县，逗号分隔 · New affected counties, separated by commas.
        #[arg(long, value_delimiter = ',')]
        affected: Option<Vec<String>>,
        /// 新失效时间 · New expiry: a time from now (24h) or RFC 3339.
        #[arg(long, value_parser = parse_time_from_now)]
        expires: Option<i64>,
        #[command(flatten)]
        out: Output,
    },
    /// 撤销本县发布的预警通报（不可恢复） · Cancel an alert you issued (CAP Cancel); it cannot
    /// be undone.
    Cancel {
        /// 通报编号，如 510104-a1 · Alert id, e.g. 510104-a1.
        id: String,
        /// 撤销原因 · Why, for the recipients.
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        out: Output,
    },
    /// 签收本县收到的预警通报 · Acknowledge an alert your county received.
    Ack {
        /// 通报编号，如 510105-a2 · Alert id, e.g. 510105-a2.
        id: String,
        /// 给发布方的附言 · A note for the issuer.
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        out: Output,
    },
    /// 本节点发布或收到的预警通报，最新在前 · Alerts this node issued or received, newest
    /// first (active ones unless --all).
    List {
        /// 包括已撤销和已失效的 · Also cancelled and expired alerts.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        out: Output,
    },
    /// 查看一条预警通报：内容、消息链和各接收县签收情况 · One alert: its content, chain of
    /// messages and per-recipient receipts.
    Show {
        /// 通报编号，如 510104-a1 · Alert id, e.g. 510104-a1.
        id: String,
        /// 格式：table（默认）、json 或 cap · table (default), json, or cap (OASIS CAP 1.2 XML).
        #[arg(long, value_parser = ["table", "json", "cap"], default_value = "table")]
        format: String,
        #[command(flatten)]
        out: Output,
    },
    /// 实时接收通报、签收、指令、报告和共享的风险点 · Stream alerts, receipts, directives,
    /// reports and shared risks as they arrive.
    ///
    /// 每行带游标，传给 --after 可续接，不漏不重。
    ///
    /// Alerts, updates, cancels, receipts, directives, reports and risks other counties shared
    /// with this one (risk-shared). Each line carries a cursor: pass it to --after to resume
    /// with nothing missed or repeated.
    Watch {
        /// 从此游标之后续接 · Resume after this cursor.
        #[arg(long, conflicts_with = "from_start")]
        after: Option<u64>,
        /// 先重放本节点已有的全部事件 · Replay everything this node holds first.
        #[arg(long)]
        from_start: bool,
        /// 收到这么多条后停止 · Stop after this many events.
        #[arg(long)]
        count: Option<u64>,
        #[command(flatten)]
        out: Output,
    },
}

/// An alert as the JSON scripts read.
pub fn alert_json(a: &v1::Alert) -> Value {
    let c = a.content.clone().unwrap_or_default();
    json!({
        "id": a.id,
        "issuer": a.issuer,
        "issuer_name": unit_name(&a.issuer, &a.county_names),
        "sender": a.sender,
        "status": a.status,
        "headline": c.headline,
        "description": c.description,
        "instruction": c.instruction,
        "event": c.event,
        "urgency": c.urgency,
        "severity": c.severity,
        "certainty": c.certainty,
        "audience": c.audience,
        "affected": c.affected,
        "onset": optional_time(c.onset_ms),
        "expires": optional_time(c.expires_ms),
        "risk": (!c.risk.is_empty()).then_some(c.risk),
        "issued_at": time_text(a.issued_at_ms),
        "acknowledge_within_s": a.ack_within_s,
        "chain": a.chain.iter().map(|m| json!({
            "version": m.version,
            "kind": m.kind,
            "at": time_text(m.at_ms),
            "author": m.author,
            "summary": m.summary,
        })).collect::<Vec<_>>(),
        "receipts": a.receipts.iter().map(|r| json!({
            "county": r.county,
            "county_name": unit_name(&r.county, &a.county_names),
            "delivered_at": optional_time(r.delivered_at_ms),
            "acknowledged_at": optional_time(r.acknowledged_at_ms),
            "acknowledged_by": (!r.acknowledged_by.is_empty()).then_some(&r.acknowledged_by),
            "note": r.note,
            "overdue": r.overdue,
        })).collect::<Vec<_>>(),
    })
}

/// A vocabulary's value as the node sends it (`severe`) with its Chinese label beside it
/// (`severe 严重`); a value this build does not know as it came.
fn labelled<T: std::str::FromStr>(value: &str, label: fn(&T) -> &'static str) -> String {
    match value.parse::<T>() {
        Ok(v) => format!("{value} {}", label(&v)),
        Err(_) => value.to_owned(),
    }
}

fn severity_text(value: &str) -> String {
    labelled::<Severity>(value, |s| s.label_zh())
}

fn receipt_text(r: &v1::Receipt) -> String {
    if r.acknowledged_at_ms != 0 {
        format!("acknowledged {}", short_time(r.acknowledged_at_ms))
    } else if r.overdue {
        "OVERDUE: not acknowledged".to_owned()
    } else if r.delivered_at_ms != 0 {
        format!("delivered {}", short_time(r.delivered_at_ms))
    } else {
        "not yet delivered".to_owned()
    }
}

fn alert_detail(a: &v1::Alert) -> String {
    let c = a.content.clone().unwrap_or_default();
    let mut t = table();
    let time_or = |ms: i64, none: &str| {
        if ms == 0 {
            none.to_owned()
        } else {
            short_time(ms)
        }
    };
    for (k, v) in [
        ("id", a.id.clone()),
        ("issuer", unit_text(&a.issuer, &a.county_names)),
        ("status", a.status.clone()),
        ("headline", c.headline),
        (
            "severity / urgency / certainty",
            format!(
                "{} / {} / {}",
                severity_text(&c.severity),
                labelled::<Urgency>(&c.urgency, |u| u.label_zh()),
                labelled::<Certainty>(&c.certainty, |x| x.label_zh())
            ),
        ),
        ("event", c.event),
        ("audience", c.audience),
        ("affected", units_text(&c.affected, &a.county_names)),
        ("onset", time_or(c.onset_ms, "-")),
        ("expires", time_or(c.expires_ms, "does not expire")),
        ("risk", c.risk),
        ("description", c.description),
        ("instruction", c.instruction),
        ("issued", short_time(a.issued_at_ms)),
    ] {
        t.add_row(vec![k.to_owned(), v]);
    }
    let mut out = t.to_string();
    let mut chain = table();
    chain.set_header(vec!["#", "kind", "when", "who", "what"]);
    for m in &a.chain {
        chain.add_row(vec![
            m.version.to_string(),
            m.kind.clone(),
            short_time(m.at_ms),
            m.author.clone(),
            m.summary.clone(),
        ]);
    }
    out.push_str("\n\nMessages\n");
    out.push_str(&chain.to_string());
    let mut r = table();
    r.set_header(vec!["county", "receipt", "by", "note"]);
    for x in &a.receipts {
        r.add_row(vec![
            unit_text(&x.county, &a.county_names),
            receipt_text(x),
            x.acknowledged_by.clone(),
            x.note.clone(),
        ]);
    }
    out.push_str("\n\nReceipts\n");
    out.push_str(&r.to_string());
    out
}

/// Counties as people read them, `锦江区 510104, 青羊区 510105`, by the reply's `names`.
fn units_text(codes: &[String], names: &HashMap<String, String>) -> String {
    codes
        .iter()
        .map(|c| unit_text(c, names))
        .collect::<Vec<_>>()
        .join(", ")
}

fn alert_table(alerts: &[v1::Alert]) -> String {
    let mut t = table();
    t.set_header(vec![
        "id",
        "issuer",
        "severity",
        "status",
        "acknowledged",
        "headline",
        "issued",
    ]);
    for a in alerts {
        let c = a.content.clone().unwrap_or_default();
        let acked = a
            .receipts
            .iter()
            .filter(|r| r.acknowledged_at_ms != 0)
            .count();
        let overdue = a.receipts.iter().filter(|r| r.overdue).count();
        let mut ack = format!("{acked}/{}", a.receipts.len());
        if overdue > 0 {
            ack.push_str(&format!(" ({overdue} overdue)"));
        }
        t.add_row(vec![
            a.id.clone(),
            unit_text(&a.issuer, &a.county_names),
            severity_text(&c.severity),
            a.status.clone(),
            ack,
            c.headline,
            short_time(a.issued_at_ms),
        ]);
    }
    t.to_string()
}

fn print(a: &v1::Alert, out: &Output, line: impl FnOnce() -> String) -> anyhow::Result<()> {
    emit(out.json, || alert_json(a), line)
}

/// A watch event as the JSON line scripts read.
pub fn event_json(e: &v1::WatchEvent) -> Value {
    json!({
        "cursor": e.cursor,
        "kind": e.kind,
        "id": e.id,
        "origin": e.origin,
        "origin_name": unit_name(&e.origin, &e.county_names),
        "at": time_text(e.at_ms),
        "title": e.title,
        "severity": (!e.severity.is_empty()).then_some(&e.severity),
        "level": (!e.level.is_empty()).then_some(&e.level),
        "scope": (!e.scope.is_empty()).then_some(&e.scope),
    })
}

/// Runs an alert command against the node.
pub async fn run(connect: ConnectArgs, cmd: AlertCommand) -> anyhow::Result<()> {
    let mut client = AlertsClient::new(connect.channel().await?);
    match cmd {
        AlertCommand::Issue {
            headline,
            severity,
            urgency,
            certainty,
            audience,
            description,
            instruction,
            event,
            affected,
            onset,
            expires,
            risk,
            out,
        } => {
            let content = v1::AlertContent {
                headline,
                description,
                instruction,
                event,
                urgency: urgency.to_string(),
                severity: severity.to_string(),
                certainty: certainty.to_string(),
                affected,
                onset_ms: onset.unwrap_or(0),
                expires_ms: expires.unwrap_or(0),
                risk: risk.unwrap_or_default(),
                audience: audience.to_string(),
            };
            let a = client
                .issue_alert(v1::IssueAlertRequest {
                    content: Some(content),
                })
                .await
                .map_err(status_message)?
                .into_inner();
            print(&a, &out, || {
                format!(
                    "issued alert {} ({} {}) to {}: {} recipient(s)",
                    a.id,
                    severity,
                    severity.label_zh(),
                    audience,
                    a.receipts.len()
                )
            })?;
        }
        AlertCommand::Update {
            id,
            headline,
            severity,
            urgency,
            certainty,
            description,
            instruction,
            event,
            affected,
            expires,
            out,
        } => {
            let a = client
                .update_alert(v1::UpdateAlertRequest {
                    id,
                    headline,
                    description,
                    instruction,
                    event,
                    urgency: urgency.map(|u| u.to_string()),
                    severity: severity.map(|s| s.to_string()),
                    certainty: certainty.map(|c| c.to_string()),
                    expires_ms: expires,
                    replace_affected: affected.is_some(),
                    affected: affected.unwrap_or_default(),
                })
                .await
                .map_err(status_message)?
                .into_inner();
            print(&a, &out, || {
                let summary = a
                    .chain
                    .last()
                    .map(|m| m.summary.clone())
                    .unwrap_or_default();
                format!("{} {}", a.id, summary)
            })?;
        }
        AlertCommand::Cancel { id, reason, out } => {
            let a = client
                .cancel_alert(v1::CancelAlertRequest { id, reason })
                .await
                .map_err(status_message)?
                .into_inner();
            print(&a, &out, || format!("{} cancelled", a.id))?;
        }
        AlertCommand::Ack { id, note, out } => {
            let a = client
                .acknowledge_alert(v1::AcknowledgeAlertRequest { id, note })
                .await
                .map_err(status_message)?
                .into_inner();
            print(&a, &out, || {
                format!(
                    "acknowledged alert {} from {}",
                    a.id,
                    unit_text(&a.issuer, &a.county_names)
                )
            })?;
        }
        AlertCommand::List { all, out } => {
            let alerts = client
                .list_alerts(v1::ListAlertsRequest { all })
                .await
                .map_err(status_message)?
                .into_inner()
                .alerts;
            emit(
                out.json,
                || alerts.iter().map(alert_json).collect(),
                || format!("{}\n{} alert(s)", alert_table(&alerts), alerts.len()),
            )?;
        }
        AlertCommand::Show { id, format, out } => {
            let cap = format == "cap";
            let a = client
                .get_alert(v1::GetAlertRequest { id, cap })
                .await
                .map_err(status_message)?
                .into_inner();
            if cap {
                outln!("{}", a.cap_xml);
            } else if out.json || format == "json" {
                outln!("{}", serde_json::to_string_pretty(&alert_json(&a))?);
            } else {
                outln!("{}", alert_detail(&a));
            }
        }
        AlertCommand::Watch {
            after,
            from_start,
            count,
            out,
        } => {
            let request = v1::WatchRequest {
                after: after.unwrap_or(0),
                from_now: after.is_none() && !from_start,
            };
            let mut stream = client
                .watch(request)
                .await
                .map_err(status_message)?
                .into_inner();
            if !out.json {
                eprintln!("watching (Ctrl-C to stop; resume with --after CURSOR)");
            }
            let mut seen = 0;
            while count.is_none_or(|n| seen < n) {
                let Some(e) = stream.message().await.map_err(status_message)? else {
                    anyhow::bail!("the node ended the stream (shutting down?); resume with --after the last cursor");
                };
                seen += 1;
                if out.json {
                    outln!("{}", serde_json::to_string(&event_json(&e))?);
                } else {
                    let severity = if !e.severity.is_empty() {
                        format!(" [{}]", severity_text(&e.severity))
                    } else if e.kind == "risk-shared" {
                        // A shared risk: its level and whom it is shared with.
                        let level = match e.level.parse::<Level>() {
                            Ok(l) => format!("level {} {}", l.as_str(), l.label_zh()),
                            Err(_) => "not graded 未定级".to_owned(),
                        };
                        format!(" [{level}; shared with {}]", e.scope)
                    } else {
                        String::new()
                    };
                    outln!(
                        "{:>6}  {}  {:<19} {} from {}{}: {}",
                        e.cursor,
                        short_time(e.at_ms),
                        e.kind,
                        e.id,
                        unit_text(&e.origin, &e.county_names),
                        severity,
                        e.title
                    );
                }
            }
        }
    }
    Ok(())
}
