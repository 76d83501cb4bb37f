//! `fenghuo disposal`: disposal requests to partner websites — filing, following and
//! withdrawing them (county and provincial staff), reviewing them (the gateway), and the
//! partner's side (`inbox`, `ack`, `respond`, with a partner certificate).

use crate::cli::output::outln;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use fenghuo_proto::v1::{
    self, disposal_client::DisposalClient, partner_service_client::PartnerServiceClient,
};
use serde_json::{json, Value};

use super::connect::ConnectArgs;
use super::output::{emit, optional_time, short_time, table, time_text, unit_name, unit_text};
use super::risk::{status_message, Output};
use crate::domain::disposal::{Action, Outcome, MAX_EVIDENCE_BYTES};
use crate::timespec::parse_time_from_now;

/// How long `inbox` waits for more before it stops (without `--follow`).
const INBOX_QUIET: Duration = Duration::from_secs(2);

/// `fenghuo disposal` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum DisposalCommand {
    /// 向合作平台提交处置请求 · File a request to a partner website (at a county node, or at
    /// the gateway).
    Request {
        /// 合作平台（见 `fenghuo partner list`） · The partner (`fenghuo partner list` shows
        /// whom your county may address).
        #[arg(long)]
        partner: String,
        /// 具体网址（可重复） · An exact URL (repeat for several).
        #[arg(long = "url", value_name = "URL", required = true)]
        urls: Vec<String>,
        /// 处置方式：更正、标注、回应、限流、删除（中英文均可） · What to ask: correct, label,
        /// respond, limit or take-down (either word).
        #[arg(long, value_parser = parse_action)]
        action: Action,
        /// 理由 · Why.
        #[arg(long)]
        reason: String,
        /// 法律依据 · Under which law or rule.
        #[arg(long)]
        legal_basis: String,
        /// 反馈期限：距今时长（24h、3d）或 RFC 3339 · When an outcome is due: a duration from
        /// now (24h, 3d) or an RFC 3339 time.
        #[arg(long, value_parser = parse_time_from_now)]
        deadline: i64,
        /// 附件（可重复，每个最多 256 KiB） · A file to attach (repeat; at most 256 KiB each);
        /// sent with its SHA-256.
        #[arg(long = "evidence", value_name = "FILE")]
        evidence: Vec<PathBuf>,
        /// 相关风险点 · The risk point it concerns.
        #[arg(long)]
        risk: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// 处置请求列表（县级看本县，省级看全部） · Requests: at a county its own, at the gateway
    /// every one.
    List {
        /// 仅此状态 · Only this state: filed, in-review, relayed, delivered, acknowledged,
        /// answered, withdrawn, rejected, or overdue.
        #[arg(long)]
        state: Option<String>,
        /// 仅发往此合作平台的 · Only to this partner.
        #[arg(long)]
        partner: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// 查看一个处置请求及其全过程 · One request with its whole lifecycle.
    Show {
        /// 请求编号，如 510104-x1 · The request, e.g. 510104-x1.
        id: String,
        #[command(flatten)]
        out: Output,
    },
    /// 撤回本方的处置请求 · Withdraw one's own request; the partner is told if it had it.
    Withdraw {
        /// 请求编号 · The request.
        id: String,
        /// 理由 · Why.
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        out: Output,
    },
    /// 待省级审核的处置请求 · Requests held for provincial review (gateway with `review =
    /// "manual"`).
    Review {
        #[command(flatten)]
        out: Output,
    },
    /// 审核通过，由省级汇聚节点转给合作平台 · Approve a held request: the gateway relays it to
    /// the partner.
    Approve {
        /// 请求编号 · The request.
        id: String,
        /// 给请求方的附言 · A note for the requester.
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        out: Output,
    },
    /// 审核不通过，请求到此为止 · Reject a held request: it ends here.
    Reject {
        /// 请求编号 · The request.
        id: String,
        /// 理由，告知请求方 · Why, for the requester.
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        out: Output,
    },
    /// （合作平台）接收处置请求 · (Partner) what the gateway has for you after a cursor; with
    /// --follow, then live.
    Inbox {
        /// 从此游标之后续接 · Resume after this cursor (the last one you handled).
        #[arg(long, default_value_t = 0)]
        cursor: u64,
        /// 持续接收新请求 · Keep listening for new requests.
        #[arg(long)]
        follow: bool,
        #[command(flatten)]
        out: Output,
    },
    /// （合作平台）确认收到请求 · (Partner) confirm receipt of a request.
    Ack {
        /// 请求编号 · The request.
        id: String,
        #[command(flatten)]
        out: Output,
    },
    /// （合作平台）反馈处置结果 · (Partner) report what you did.
    Respond {
        /// 请求编号 · The request.
        id: String,
        /// 处置结果：已删除、已屏蔽、已限流、已标注、已更正、已回应、部分处置、未处置（中英文均可） ·
        /// removed, disabled, limited, labelled, corrected, responded, partial or no-action.
        #[arg(long, value_parser = parse_outcome)]
        outcome: Outcome,
        /// 说明，一句话 · Why, in a sentence.
        #[arg(long, default_value = "")]
        reason: String,
        /// 本平台的案件编号 · Your own reference id for the case.
        #[arg(long, default_value = "")]
        reference: String,
        #[command(flatten)]
        out: Output,
    },
}

fn parse_action(s: &str) -> Result<Action, String> {
    s.parse()
}

fn parse_outcome(s: &str) -> Result<Outcome, String> {
    s.parse()
}

/// A request as scripts read it.
pub fn request_json(r: &v1::DisposalRequest) -> Value {
    json!({
        "id": r.id,
        "requester": r.requester,
        "requester_name": unit_name(&r.requester, &r.county_names),
        "partner": r.partner,
        "urls": r.urls,
        "action": r.action,
        "reason": r.reason,
        "legal_basis": r.legal_basis,
        "deadline": time_text(r.deadline_ms),
        "evidence": r.evidence.iter().map(|e| json!({"name": e.name, "sha256": e.sha256, "size": e.size})).collect::<Vec<_>>(),
        "risk": (!r.risk.is_empty()).then_some(&r.risk),
        "filed_at": time_text(r.filed_at_ms),
        "filed_by": r.filed_by,
        "state": r.state,
        "overdue": r.overdue,
        "escalated_report": (!r.escalated_report.is_empty()).then_some(&r.escalated_report),
        "case": r.case_id,
        "linked": r.linked,
        "delivered_at": optional_time(r.delivered_at_ms),
        "acknowledged_at": optional_time(r.acknowledged_at_ms),
        "outcome": r.outcome.as_ref().map(|o| json!({
            "outcome": o.outcome, "reason": o.reason, "reference": o.reference, "at": time_text(o.at_ms),
        })),
        "history": r.history.iter().map(|h| json!({
            "at": time_text(h.at_ms), "kind": h.kind, "by": h.by, "note": h.note,
        })).collect::<Vec<_>>(),
    })
}

/// An action as the node sends it, with its Chinese label: `take-down 删除`.
fn action_text(action: &str) -> String {
    match action.parse::<Action>() {
        Ok(a) => format!("{action} {}", a.label_zh()),
        Err(_) => action.to_owned(),
    }
}

/// An outcome as the node sends it, with its Chinese label: `removed 已删除`.
fn outcome_text(outcome: &str) -> String {
    match outcome.parse::<Outcome>() {
        Ok(o) => format!("{outcome} {}", o.label_zh()),
        Err(_) => outcome.to_owned(),
    }
}

fn state_text(r: &v1::DisposalRequest) -> String {
    match (&r.outcome, r.overdue) {
        (Some(o), _) => format!("{} ({})", r.state, outcome_text(&o.outcome)),
        (None, true) if !r.escalated_report.is_empty() => {
            format!("{} — OVERDUE, report {}", r.state, r.escalated_report)
        }
        (None, true) => format!("{} — OVERDUE", r.state),
        (None, false) => r.state.clone(),
    }
}

fn requests_text(list: &[v1::DisposalRequest]) -> String {
    if list.is_empty() {
        return "no disposal requests".into();
    }
    let mut t = table();
    t.set_header([
        "id", "county", "partner", "action", "urls", "state", "deadline", "case",
    ]);
    for r in list {
        t.add_row([
            r.id.clone(),
            unit_text(&r.requester, &r.county_names),
            r.partner.clone(),
            action_text(&r.action),
            r.urls.join("\n"),
            state_text(r),
            short_time(r.deadline_ms),
            if r.linked.is_empty() {
                String::new()
            } else {
                format!("{} (+{})", r.case_id, r.linked.len())
            },
        ]);
    }
    t.to_string()
}

fn request_text(r: &v1::DisposalRequest) -> String {
    let mut s = format!(
        "{} ({}) → {}: {} {}\n  state: {}\n  reason: {}\n  legal basis: {}\n  deadline: {}\n",
        r.id,
        unit_text(&r.requester, &r.county_names),
        r.partner,
        action_text(&r.action),
        r.urls.join(" "),
        state_text(r),
        r.reason,
        r.legal_basis,
        time_text(r.deadline_ms),
    );
    if !r.linked.is_empty() {
        s.push_str(&format!(
            "  case {} with {}\n",
            r.case_id,
            r.linked.join(", ")
        ));
    }
    for e in &r.evidence {
        s.push_str(&format!(
            "  evidence: {} ({} bytes, sha256 {})\n",
            e.name, e.size, e.sha256
        ));
    }
    if let Some(o) = &r.outcome {
        s.push_str(&format!(
            "  outcome: {} — {} (partner ref {})\n",
            outcome_text(&o.outcome),
            o.reason,
            o.reference
        ));
    }
    for h in &r.history {
        let note = if h.note.is_empty() {
            String::new()
        } else {
            format!(": {}", h.note)
        };
        s.push_str(&format!(
            "  {}  {} by {}{note}\n",
            short_time(h.at_ms),
            h.kind,
            h.by
        ));
    }
    s.trim_end().to_owned()
}

fn read_evidence(files: &[PathBuf]) -> anyhow::Result<Vec<v1::Evidence>> {
    files
        .iter()
        .map(|f| {
            let size = std::fs::metadata(f)
                .with_context(|| format!("--evidence {}", f.display()))?
                .len();
            if size > MAX_EVIDENCE_BYTES as u64 {
                bail!(
                    "--evidence {}: {size} bytes; files may be at most {MAX_EVIDENCE_BYTES} bytes (link larger ones in --reason)",
                    f.display()
                );
            }
            let content =
                std::fs::read(f).with_context(|| format!("--evidence {}", f.display()))?;
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok(v1::Evidence {
                name,
                content,
                ..Default::default()
            })
        })
        .collect()
}

fn receipt_json(r: &v1::PartnerReceipt) -> Value {
    json!({"id": r.id, "state": r.state, "unchanged": r.unchanged})
}

fn message_json(m: &v1::PartnerMessage) -> Value {
    json!({
        "cursor": m.cursor,
        "kind": m.kind,
        "request": m.request.as_ref().map(request_json),
        "evidence": m.evidence.iter().map(|e| json!({"name": e.name, "sha256": e.sha256, "size": e.size})).collect::<Vec<_>>(),
    })
}

/// Approves or rejects a held request at the gateway.
async fn review(
    client: &mut DisposalClient<tonic::transport::Channel>,
    id: String,
    approve: bool,
    note: String,
) -> anyhow::Result<v1::DisposalRequest> {
    Ok(client
        .review_request(v1::ReviewDisposalRequest { id, approve, note })
        .await
        .map_err(status_message)?
        .into_inner())
}

/// Runs a `fenghuo disposal` subcommand.
pub async fn run(connect: ConnectArgs, cmd: DisposalCommand) -> anyhow::Result<()> {
    let channel = connect.channel().await?;
    let mut client = DisposalClient::new(channel.clone());
    let one = |r: v1::DisposalRequest, out: Output, what: &str| {
        let line = format!("{} {what}", r.id);
        emit(
            out.json,
            || request_json(&r),
            || {
                if what.is_empty() {
                    request_text(&r)
                } else {
                    format!("{line}\n{}", request_text(&r))
                }
            },
        )
    };
    match cmd {
        DisposalCommand::Request {
            partner,
            urls,
            action,
            reason,
            legal_basis,
            deadline,
            evidence,
            risk,
            out,
        } => {
            let evidence = read_evidence(&evidence)?;
            let r = client
                .file_request(v1::FileDisposalRequest {
                    partner,
                    urls,
                    action: action.as_str().to_owned(),
                    reason,
                    legal_basis,
                    deadline_ms: deadline,
                    evidence,
                    risk: risk.unwrap_or_default(),
                })
                .await
                .map_err(status_message)?
                .into_inner();
            one(r, out, "filed")
        }
        DisposalCommand::List {
            state,
            partner,
            out,
        } => {
            let list = client
                .list_requests(v1::ListDisposalRequests {
                    state: state.unwrap_or_default(),
                    partner: partner.unwrap_or_default(),
                })
                .await
                .map_err(status_message)?
                .into_inner();
            emit(
                out.json,
                || list.requests.iter().map(request_json).collect(),
                || requests_text(&list.requests),
            )
        }
        DisposalCommand::Review { out } => {
            let list = client
                .list_requests(v1::ListDisposalRequests {
                    state: "in-review".into(),
                    partner: String::new(),
                })
                .await
                .map_err(status_message)?
                .into_inner();
            emit(
                out.json,
                || list.requests.iter().map(request_json).collect(),
                || requests_text(&list.requests),
            )
        }
        DisposalCommand::Show { id, out } => {
            let r = client
                .get_request(v1::GetDisposalRequest { id })
                .await
                .map_err(status_message)?
                .into_inner();
            one(r, out, "")
        }
        DisposalCommand::Withdraw { id, reason, out } => {
            let r = client
                .withdraw_request(v1::WithdrawDisposalRequest { id, reason })
                .await
                .map_err(status_message)?
                .into_inner();
            one(r, out, "withdrawn")
        }
        DisposalCommand::Approve { id, note, out } => {
            one(review(&mut client, id, true, note).await?, out, "approved")
        }
        DisposalCommand::Reject { id, note, out } => {
            one(review(&mut client, id, false, note).await?, out, "rejected")
        }
        DisposalCommand::Inbox {
            cursor,
            follow,
            out,
        } => {
            let mut partner = PartnerServiceClient::new(channel);
            let mut stream = partner
                .subscribe(v1::SubscribeRequest { cursor })
                .await
                .map_err(status_message)?
                .into_inner();
            let mut seen = Vec::new();
            loop {
                let next = if follow {
                    stream.message().await
                } else {
                    match tokio::time::timeout(INBOX_QUIET, stream.message()).await {
                        Ok(m) => m,
                        Err(_) => break,
                    }
                };
                let Some(m) = next.map_err(status_message)? else {
                    break;
                };
                if follow {
                    if out.json {
                        outln!("{}", message_json(&m));
                    } else {
                        outln!(
                            "[{}] {} {}",
                            m.cursor,
                            m.kind,
                            m.request.as_ref().map(request_text).unwrap_or_default()
                        );
                    }
                } else {
                    seen.push(m);
                }
            }
            emit(
                out.json,
                || seen.iter().map(message_json).collect(),
                || {
                    if seen.is_empty() {
                        return "nothing new".into();
                    }
                    seen.iter()
                        .map(|m| {
                            format!(
                                "[cursor {}] {}: {}",
                                m.cursor,
                                m.kind,
                                m.request.as_ref().map(request_text).unwrap_or_default()
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n\n")
                },
            )
        }
        DisposalCommand::Ack { id, out } => {
            let mut partner = PartnerServiceClient::new(channel);
            let r = partner
                .acknowledge(v1::PartnerAcknowledgeRequest { id })
                .await
                .map_err(status_message)?
                .into_inner();
            emit(
                out.json,
                || receipt_json(&r),
                || {
                    format!(
                        "{} acknowledged{}",
                        r.id,
                        if r.unchanged { " (already)" } else { "" }
                    )
                },
            )
        }
        DisposalCommand::Respond {
            id,
            outcome,
            reason,
            reference,
            out,
        } => {
            let mut partner = PartnerServiceClient::new(channel);
            let r = partner
                .respond(v1::PartnerRespondRequest {
                    id,
                    outcome: outcome.as_str().to_owned(),
                    reason,
                    reference,
                })
                .await
                .map_err(status_message)?
                .into_inner();
            emit(
                out.json,
                || receipt_json(&r),
                || {
                    format!(
                        "{} answered {} {}{}",
                        r.id,
                        outcome.as_str(),
                        outcome.label_zh(),
                        if r.unchanged {
                            " (already, unchanged)"
                        } else {
                            ""
                        }
                    )
                },
            )
        }
    }
}
