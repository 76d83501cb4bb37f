//! `fenghuo risk …`: the risk register of a node.

use crate::cli::output::outln;
use anyhow::Context;
use fenghuo_proto::v1::{self, registry_client::RegistryClient};
use tonic::transport::Channel;

use super::connect::ConnectArgs;
use super::output;
use crate::domain::{FocusPoint, Level, MeasureStatus, RiskStatus};
use crate::wire::{
    focus_to_proto, level_to_proto, measure_status_to_proto, status_from_proto, status_to_proto,
};

/// JSON output switch shared by every risk command.
#[derive(Debug, Clone, clap::Args)]
pub struct Output {
    /// 输出 JSON（对象，列表为数组）而非表格 · Print JSON (an object, or an array for lists)
    /// instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Parses a score 1-5 given on the command line.
pub fn score(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(n) if (1..=5).contains(&n) => Ok(n),
        _ => Err(format!(
            "{s:?} is not a score: use a whole number from 1 to 5"
        )),
    }
}

/// `fenghuo risk …` commands.
#[derive(Debug, clap::Subcommand)]
pub enum RiskCommand {
    /// 发现识别：登记一个风险点 · Identify a new risk point (status "identified").
    Add {
        /// 标题（必填） · Short title (required).
        #[arg(long)]
        title: String,
        /// 重点：重点工作中心、重大事件、活动集中点、突发事件触发点、重要改革举措、政策调整热点难点
        /// （中英文均可） · Focus point: key-work, major-event, activity-concentration,
        /// emergency-trigger, reform-measure or policy-adjustment (either word).
        #[arg(long)]
        focus: FocusPoint,
        /// 描述 · Longer description.
        #[arg(long, default_value = "")]
        description: String,
        /// 舆情源：平台、网站、账号或网址 · Source: platform, site, account or URL.
        #[arg(long, default_value = "")]
        source: String,
        /// 风险行为（可重复） · A risk behaviour (repeat for several).
        #[arg(long = "behaviour", value_name = "TEXT")]
        behaviours: Vec<String>,
        /// 责任部门 · Responsible department.
        #[arg(long, default_value = "")]
        department: String,
        #[command(flatten)]
        out: Output,
    },
    /// 修改风险点的描述字段（仅改所给项） · Change descriptive fields of a risk point (only
    /// those given).
    Update {
        /// 风险点编号，如 510104-1 · Risk id, e.g. 510104-1.
        id: String,
        /// 新标题 · New title.
        #[arg(long)]
        title: Option<String>,
        /// 新重点（中英文均可） · New focus point (either word).
        #[arg(long)]
        focus: Option<FocusPoint>,
        /// 新描述 · New description.
        #[arg(long)]
        description: Option<String>,
        /// 新舆情源 · New source.
        #[arg(long)]
        source: Option<String>,
        /// 替换全部现有风险行为（可重复） · Risk behaviours replacing ALL the current ones
        /// (repeat; `--behaviour` is the older spelling; one at a time: --add-behaviour,
        /// --remove-behaviour).
        #[arg(
            long = "set-behaviour",
            visible_alias = "behaviour",
            value_name = "TEXT"
        )]
        behaviours: Vec<String>,
        /// 增加一条风险行为（可重复） · Add one risk behaviour (repeat for several).
        #[arg(long = "add-behaviour", value_name = "TEXT")]
        add_behaviours: Vec<String>,
        /// 删除一条风险行为，按显示原文 · Remove one risk behaviour, written as shown (repeat).
        #[arg(long = "remove-behaviour", value_name = "TEXT")]
        remove_behaviours: Vec<String>,
        /// 新责任部门 · New responsible department.
        #[arg(long)]
        department: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// 风险定级：影响力、关注度、扩散度各 1-5 分 · Grade a risk from the three dimensions,
    /// each 1-5.
    ///
    /// 节点按评估办法算出等级 I-IV；给出 --level 和 --reason 时由经办人综合研判另定等级，算出的等级保留并并列显示。
    ///
    /// The node computes the level I-IV with its grading standard. With --level and --reason
    /// the officer sets another level (综合研判): the computed level is kept and shown beside
    /// it.
    Grade {
        /// 风险点编号，如 510104-1 · Risk id, e.g. 510104-1.
        id: String,
        /// 影响力，1-5 · Influence, 1-5.
        #[arg(long, value_parser = score)]
        influence: u32,
        /// 关注度，1-5 · Attention, 1-5.
        #[arg(long, value_parser = score)]
        attention: u32,
        /// 扩散度，1-5 · Diffusion, 1-5.
        #[arg(long, value_parser = score)]
        diffusion: u32,
        #[command(flatten)]
        judgement: Judgement,
        #[command(flatten)]
        out: Output,
    },
    /// 动态管理：记一条情况说明，可同时重新定级 · Record a situation note; with the three
    /// scores, re-grade too.
    ///
    /// 说明记入风险点历史；给出三项分数时按现行评估办法在同一条记录中重新定级。
    ///
    /// The note is kept, dated, in the risk's history; with the three scores it re-grades the
    /// risk in the same entry, with the standard in force.
    Note {
        /// 风险点编号，如 510104-1 · Risk id, e.g. 510104-1.
        id: String,
        /// 所见情况 · What was observed.
        text: String,
        /// 影响力，1-5：重新定级（三项齐给） · Influence, 1-5: re-grade (give all three).
        #[arg(long, value_parser = score, requires_all = ["attention", "diffusion"])]
        influence: Option<u32>,
        /// 关注度，1-5 · Attention, 1-5.
        #[arg(long, value_parser = score, requires_all = ["influence", "diffusion"])]
        attention: Option<u32>,
        /// 扩散度，1-5 · Diffusion, 1-5.
        #[arg(long, value_parser = score, requires_all = ["influence", "attention"])]
        diffusion: Option<u32>,
        #[command(flatten)]
        judgement: Judgement,
        #[command(flatten)]
        out: Output,
    },
    /// 防范措施：添加、修改、更新、完成、取消 · Preventive measures: add, edit, update, done,
    /// cancel.
    #[command(subcommand)]
    Measure(MeasureCommand),
    /// 推进风险状态（发现识别→风险定级→制定措施→动态管理）或重新打开 · Move a risk's status
    /// along, or reopen it.
    ///
    /// 化解或排除请用 `risk close`；已化解或已排除的风险点可设回 monitoring（动态管理）重新打开。
    ///
    /// Moves a risk along identified → graded → measures-set → monitoring, or reopens a
    /// resolved or ruled-out risk (monitoring). Resolving and ruling out: `risk close`.
    SetStatus {
        /// 风险点编号，如 510104-1 · Risk id, e.g. 510104-1.
        id: String,
        /// 发现识别、风险定级、制定措施或动态管理 · identified, graded, measures-set or
        /// monitoring (either word).
        status: RiskStatus,
        #[command(flatten)]
        out: Output,
    },
    /// 结案：化解（--resolved）或排除误报（--ruled-out） · Close a risk: resolved or ruled out.
    ///
    /// 化解：--resolved --summary "…"，须各项措施已完成或取消；排除：--ruled-out --reason "…"，
    /// 误报，任何状态均可。用 `set-status 编号 monitoring` 重新打开。
    ///
    /// --resolved --summary "…" (every measure done or cancelled), or --ruled-out --reason "…"
    /// (a false alarm, from any status). Reopen with `set-status ID monitoring`.
    #[command(group(clap::ArgGroup::new("how").required(true).args(["resolved", "ruled_out"])))]
    Close {
        /// 风险点编号，如 510104-1 · Risk id, e.g. 510104-1.
        id: String,
        /// 化解，须给 --summary · Resolved: needs --summary.
        #[arg(long, requires = "summary", conflicts_with = "reason")]
        resolved: bool,
        /// 排除（误报），须给 --reason · Ruled out, a false alarm: needs --reason.
        #[arg(long, requires = "reason", conflicts_with = "summary")]
        ruled_out: bool,
        /// 化解情况（配合 --resolved） · How the risk was defused (with --resolved).
        #[arg(long)]
        summary: Option<String>,
        /// 误报原因（配合 --ruled-out） · Why it is a false alarm (with --ruled-out).
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// 扩大共享范围：周边兄弟县（市）、全省或指定县（区） · Widen who a risk is shared with:
    /// neighbours, province, or named counties.
    ///
    /// neighbours：相邻县和省级；province：全省各县；--to：指定的县（区）收到通知（同一数据通道的其他单位也持有该记录，但不通知、不列入收件箱）。共享范围只扩大不缩小，并记入历史。
    ///
    /// neighbours: adjacent counties and the province; province: every county of the province;
    /// --to: the named counties are notified (others holding the same feed keep the entry
    /// but are not told). A share only widens, and is kept in history.
    Share {
        /// 风险点编号，如 510104-1 · Risk id, e.g. 510104-1.
        id: String,
        /// neighbours（周边）或 province（全省） · neighbours or province.
        #[arg(long, value_parser = ["neighbours", "province"], required_unless_present = "to")]
        scope: Option<String>,
        /// 指定县（区）代码，逗号分隔，如 510105,510106 · Named counties instead, e.g. 510105,510106.
        #[arg(long, value_delimiter = ',', conflicts_with = "scope")]
        to: Vec<String>,
        #[command(flatten)]
        out: Output,
    },
    /// 查看一个风险点及其措施和全部历史 · One risk point with its measures and whole history.
    Show {
        /// 风险点编号，如 510104-1 · Risk id, e.g. 510104-1.
        id: String,
        #[command(flatten)]
        out: Output,
    },
    /// 风险点台账，可筛选分页 · Risk points, filtered and paged.
    List {
        /// 仅此等级：I、II、III、IV 或 特别重大、重大、较大、一般 · Only this level: I, II, III
        /// or IV (or the Chinese label).
        #[arg(long)]
        level: Option<Level>,
        /// 仅此重点（中英文均可） · Only this focus point (either word).
        #[arg(long)]
        focus: Option<FocusPoint>,
        /// 仅此状态（中英文均可） · Only this status (either word).
        #[arg(long)]
        status: Option<RiskStatus>,
        /// 标题、描述、舆情源或责任部门含此文字 · Only risks whose title, description, source
        /// or department contain this text.
        #[arg(long)]
        text: Option<String>,
        /// 每页条数（默认 50，最多 500） · Page size (default 50, at most 500).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// 从此游标之后开始 · Start after this cursor (printed after a page that has more).
        #[arg(long)]
        cursor: Option<String>,
        /// 谁的风险点：本节点（默认）、all（含共享给本节点的）或区划代码 · Whose risks: this
        /// node's own (default), `all` (own and shared with it), or a division code.
        #[arg(long, value_name = "all|CODE")]
        origin: Option<String>,
        /// 列出所有页 · Walk every page.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        out: Output,
    },
}

/// The officer's own level (综合研判), beside the computed one.
#[derive(Debug, Clone, clap::Args)]
pub struct Judgement {
    /// 综合研判另定等级：I-IV 或 特别重大、重大、较大、一般（须给 --reason） · Set this level
    /// instead of the computed one: I-IV or the Chinese label (needs --reason).
    #[arg(long, requires = "reason")]
    pub level: Option<Level>,
    /// 另定等级的理由 · Why the level differs from the computed one.
    #[arg(long, requires = "level")]
    pub reason: Option<String>,
}

/// `fenghuo risk measure …` commands.
#[derive(Debug, clap::Subcommand)]
pub enum MeasureCommand {
    /// 添加一项防范措施 · Add a preventive measure to a risk.
    Add {
        /// 风险点编号，如 510104-1 · Risk id, e.g. 510104-1.
        id: String,
        /// 措施内容 · What will be done.
        #[arg(long)]
        action: String,
        /// 责任人 · Who does it.
        #[arg(long)]
        owner: String,
        /// 完成期限，YYYY-MM-DD · Due date, YYYY-MM-DD.
        #[arg(long)]
        due: String,
        #[command(flatten)]
        out: Output,
    },
    /// 更改措施状态 · Change a measure's status.
    Update {
        /// 风险点编号，如 510104-1 · Risk id, e.g. 510104-1.
        id: String,
        /// 措施编号，如 m1 · Measure id, e.g. m1.
        measure: String,
        /// 计划、进行中、完成或取消 · planned, in-progress, done or cancelled (either word).
        #[arg(long)]
        status: MeasureStatus,
        /// 完成情况或取消原因（取消时必填） · How it was done, or why it was cancelled (required
        /// then).
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        out: Output,
    },
    /// 修改措施内容、责任人或期限 · Change a measure's action, owner or due date.
    Edit {
        /// 风险点编号，如 510104-1 · Risk id, e.g. 510104-1.
        id: String,
        /// 措施编号，如 m1 · Measure id, e.g. m1.
        measure: String,
        /// 措施内容 · What will be done.
        #[arg(long)]
        action: Option<String>,
        /// 责任人 · Who does it.
        #[arg(long)]
        owner: Option<String>,
        /// 完成期限，YYYY-MM-DD，不早于今天 · Due date, YYYY-MM-DD, today or later.
        #[arg(long)]
        due: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// 措施完成，附落实情况 · Mark a measure done, with a note on how it was carried out.
    Done {
        /// 风险点编号，如 510104-1 · Risk id, e.g. 510104-1.
        id: String,
        /// 措施编号，如 m1 · Measure id, e.g. m1.
        measure: String,
        /// 落实情况 · How it was carried out.
        #[arg(long)]
        note: String,
        #[command(flatten)]
        out: Output,
    },
    /// 取消措施，附理由 · Cancel a measure, with the reason.
    Cancel {
        /// 风险点编号，如 510104-1 · Risk id, e.g. 510104-1.
        id: String,
        /// 措施编号，如 m1 · Measure id, e.g. m1.
        measure: String,
        /// 取消理由 · Why it is dropped.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        out: Output,
    },
}

/// A gRPC error as a line a person can act on.
pub fn status_message(s: tonic::Status) -> anyhow::Error {
    // With TLS 1.3 the server checks the client certificate after the client thinks the
    // handshake is done, so a refused certificate shows up as a broken first call.
    let transport = s.message().contains("transport error")
        || s.message().contains("operation was canceled")
        || s.message().contains("connection");
    if matches!(
        s.code(),
        tonic::Code::Unknown | tonic::Code::Unavailable | tonic::Code::Cancelled
    ) && transport
    {
        return anyhow::anyhow!(
            "the node closed the connection ({}): is your certificate issued by this province's CA, not revoked, and is the node running?",
            s.message()
        );
    }
    let code = match s.code() {
        tonic::Code::InvalidArgument => "invalid input",
        tonic::Code::NotFound => "not found",
        tonic::Code::PermissionDenied => "permission denied",
        tonic::Code::FailedPrecondition => "refused",
        tonic::Code::Unauthenticated => "not authenticated",
        tonic::Code::Unavailable => "node unavailable",
        tonic::Code::Unimplemented => {
            return anyhow::anyhow!(
            "the node does not offer this call: is it running an older version of Fenghuo? ({})",
            s.message()
        )
        }
        _ => "failed",
    };
    anyhow::anyhow!("{code}: {}", s.message())
}

/// Sets a measure's status (with its note) and returns the risk.
async fn update_measure(
    client: &mut RegistryClient<Channel>,
    id: String,
    measure: &str,
    status: MeasureStatus,
    note: String,
) -> anyhow::Result<v1::Risk> {
    Ok(client
        .update_measure(v1::UpdateMeasureRequest {
            id,
            measure_id: measure.to_owned(),
            status: measure_status_to_proto(status) as i32,
            note,
        })
        .await
        .map_err(status_message)?
        .into_inner())
}

/// Prints the risk as JSON with `--json`, else the one line `line` makes.
fn report(r: &v1::Risk, out: &Output, line: impl FnOnce() -> String) -> anyhow::Result<()> {
    if out.json {
        print_risk(r, out)
    } else {
        outln!("{}", line());
        Ok(())
    }
}

fn print_risk(r: &v1::Risk, out: &Output) -> anyhow::Result<()> {
    if out.json {
        outln!("{}", serde_json::to_string_pretty(&output::risk_json(r))?);
    } else {
        outln!("{}", output::risk_detail(r));
    }
    Ok(())
}

/// Runs a risk command against the node.
pub async fn run(connect: ConnectArgs, cmd: RiskCommand) -> anyhow::Result<()> {
    let channel: Channel = connect.channel().await?;
    let mut client = RegistryClient::new(channel);
    match cmd {
        RiskCommand::Add {
            title,
            focus,
            description,
            source,
            behaviours,
            department,
            out,
        } => {
            let r = client
                .create_risk(v1::CreateRiskRequest {
                    title,
                    description,
                    focus: focus_to_proto(focus) as i32,
                    source,
                    behaviours,
                    department,
                })
                .await
                .map_err(status_message)?
                .into_inner();
            report(&r, &out, || {
                format!("added {} ({}): {}", r.id, focus, r.title)
            })?;
        }
        RiskCommand::Update {
            id,
            title,
            focus,
            description,
            source,
            behaviours,
            add_behaviours,
            remove_behaviours,
            department,
            out,
        } => {
            let replace = !behaviours.is_empty();
            let r = client
                .update_risk(v1::UpdateRiskRequest {
                    id,
                    title,
                    description,
                    focus: focus.map(|f| focus_to_proto(f) as i32).unwrap_or(0),
                    source,
                    behaviours,
                    replace_behaviours: replace,
                    department,
                    add_behaviours,
                    remove_behaviours,
                })
                .await
                .map_err(status_message)?
                .into_inner();
            print_risk(&r, &out)?;
        }
        RiskCommand::Grade {
            id,
            influence,
            attention,
            diffusion,
            judgement,
            out,
        } => {
            let r = client
                .grade_risk(v1::GradeRiskRequest {
                    id,
                    influence,
                    attention,
                    diffusion,
                    override_level: judgement
                        .level
                        .map(|l| level_to_proto(l) as i32)
                        .unwrap_or(0),
                    reason: judgement.reason.unwrap_or_default(),
                })
                .await
                .map_err(status_message)?
                .into_inner();
            if out.json {
                print_risk(&r, &out)?;
            } else {
                outln!("{} graded: {}", r.id, output::level_line(&r));
                // Grading moves an identified risk on by itself: say so, and what comes next,
                // so `set-status` is not tried for a step that needs a measure first.
                if let Some(status) = status_from_proto(r.status) {
                    outln!("status: {} {}", status, status.label_zh());
                    if status == RiskStatus::Graded {
                        outln!(
                            "next: add a preventive measure (`fenghuo risk measure add {}`); the risk then moves to measures-set {}",
                            r.id,
                            RiskStatus::MeasuresSet.label_zh()
                        );
                    }
                }
            }
        }
        RiskCommand::Measure(MeasureCommand::Add {
            id,
            action,
            owner,
            due,
            out,
        }) => {
            let r = client
                .add_measure(v1::AddMeasureRequest {
                    id,
                    action,
                    owner,
                    due,
                })
                .await
                .map_err(status_message)?
                .into_inner();
            if out.json {
                print_risk(&r, &out)?;
            } else if let Some(m) = r.measures.last() {
                outln!(
                    "{}: added measure {}: {} (owner {}, due {})",
                    r.id,
                    m.id,
                    m.action,
                    m.owner,
                    m.due
                );
            }
        }
        RiskCommand::Note {
            id,
            text,
            influence,
            attention,
            diffusion,
            judgement,
            out,
        } => {
            let regrade = influence.is_some();
            let r = client
                .add_note(v1::AddNoteRequest {
                    id,
                    note: text,
                    influence,
                    attention,
                    diffusion,
                    override_level: judgement
                        .level
                        .map(|l| level_to_proto(l) as i32)
                        .unwrap_or(0),
                    reason: judgement.reason.unwrap_or_default(),
                })
                .await
                .map_err(status_message)?
                .into_inner();
            report(&r, &out, || {
                if regrade {
                    format!(
                        "{}: note recorded and re-graded: {}",
                        r.id,
                        output::level_line(&r)
                    )
                } else {
                    format!("{}: note recorded", r.id)
                }
            })?;
        }
        RiskCommand::Measure(MeasureCommand::Update {
            id,
            measure,
            status,
            note,
            out,
        }) => {
            let r = update_measure(&mut client, id, &measure, status, note).await?;
            report(&r, &out, || {
                format!(
                    "{}: measure {} is now {} {}",
                    r.id,
                    measure,
                    status.as_str(),
                    status.label_zh()
                )
            })?;
        }
        RiskCommand::Measure(MeasureCommand::Done {
            id,
            measure,
            note,
            out,
        }) => {
            let r = update_measure(&mut client, id, &measure, MeasureStatus::Done, note).await?;
            report(&r, &out, || {
                format!("{}: measure {} is done 完成", r.id, measure)
            })?;
        }
        RiskCommand::Measure(MeasureCommand::Cancel {
            id,
            measure,
            reason,
            out,
        }) => {
            let r =
                update_measure(&mut client, id, &measure, MeasureStatus::Cancelled, reason).await?;
            report(&r, &out, || {
                format!("{}: measure {} is cancelled 取消", r.id, measure)
            })?;
        }
        RiskCommand::Measure(MeasureCommand::Edit {
            id,
            measure,
            action,
            owner,
            due,
            out,
        }) => {
            let r = client
                .edit_measure(v1::EditMeasureRequest {
                    id,
                    measure_id: measure.clone(),
                    action,
                    owner,
                    due,
                })
                .await
                .map_err(status_message)?
                .into_inner();
            report(&r, &out, || {
                let m = r.measures.iter().find(|m| m.id == measure);
                match m {
                    Some(m) => format!(
                        "{}: measure {}: {} (owner {}, due {})",
                        r.id, m.id, m.action, m.owner, m.due
                    ),
                    None => format!("{}: measure {} edited", r.id, measure),
                }
            })?;
        }
        RiskCommand::Close {
            id,
            resolved,
            ruled_out: _,
            summary,
            reason,
            out,
        } => {
            let (status, text) = if resolved {
                (RiskStatus::Resolved, summary.unwrap_or_default())
            } else {
                (RiskStatus::RuledOut, reason.unwrap_or_default())
            };
            let r = client
                .close_risk(v1::CloseRiskRequest {
                    id,
                    status: status_to_proto(status) as i32,
                    text,
                })
                .await
                .map_err(status_message)?
                .into_inner();
            report(&r, &out, || {
                format!("{} is now {} {}", r.id, status, status.label_zh())
            })?;
        }
        RiskCommand::SetStatus { id, status, out } => {
            let r = client
                .set_status(v1::SetStatusRequest {
                    id,
                    status: status_to_proto(status) as i32,
                })
                .await
                .map_err(status_message)?
                .into_inner();
            report(&r, &out, || {
                format!("{} is now {} {}", r.id, status, status.label_zh())
            })?;
        }
        RiskCommand::Share { id, scope, to, out } => {
            let scope = match scope.as_deref() {
                Some("province") => v1::Audience::Province,
                Some(_) => v1::Audience::Neighbours,
                None => v1::Audience::Unspecified,
            };
            let named = !to.is_empty();
            let r = client
                .share_risk(v1::ShareRiskRequest {
                    id,
                    scope: scope as i32,
                    counties: to,
                })
                .await
                .map_err(status_message)?
                .into_inner();
            report(&r, &out, || {
                if named {
                    let names: Vec<String> = r
                        .shared_with
                        .iter()
                        .map(|c| crate::places::display(c, None))
                        .collect();
                    format!("{} is now shared with {}", r.id, names.join("、"))
                } else {
                    format!(
                        "{} is now shared with {}",
                        r.id,
                        output::scope_text(r.scope)
                    )
                }
            })?;
        }
        RiskCommand::Show { id, out } => {
            let r = client
                .get_risk(v1::GetRiskRequest { id })
                .await
                .map_err(status_message)?
                .into_inner();
            print_risk(&r, &out)?;
        }
        RiskCommand::List {
            level,
            focus,
            status,
            text,
            limit,
            cursor,
            origin,
            all,
            out,
        } => {
            let mut cursor = cursor.unwrap_or_default();
            let mut risks = Vec::new();
            let next = loop {
                let page = client
                    .list_risks(v1::ListRisksRequest {
                        level: level.map(|l| level_to_proto(l) as i32).unwrap_or(0),
                        focus: focus.map(|f| focus_to_proto(f) as i32).unwrap_or(0),
                        status: status.map(|s| status_to_proto(s) as i32).unwrap_or(0),
                        text: text.clone().unwrap_or_default(),
                        limit,
                        cursor: cursor.clone(),
                        origin: origin.clone().unwrap_or_default(),
                    })
                    .await
                    .map_err(status_message)?
                    .into_inner();
                risks.extend(page.risks);
                if !all || page.next_cursor.is_empty() {
                    break page.next_cursor;
                }
                cursor = page.next_cursor;
            };
            if out.json {
                let list: Vec<_> = risks.iter().map(output::risk_json).collect();
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&list).context("encoding JSON")?
                );
            } else {
                outln!("{}", output::risk_table(&risks));
                outln!("{} risk item(s)", risks.len());
            }
            if !next.is_empty() {
                eprintln!("more: next page with --cursor {next} (or --all for every page)");
            }
        }
    }
    Ok(())
}
