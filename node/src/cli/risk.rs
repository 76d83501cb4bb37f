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
    /// Print JSON (an object, or an array for lists) instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn score(s: &str) -> Result<u32, String> {
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
    /// Identify a new risk item (status "identified").
    Add {
        /// Short title (required).
        #[arg(long)]
        title: String,
        /// Focus point: key-work, major-event, activity-concentration, emergency-trigger,
        /// reform-measure or policy-adjustment.
        #[arg(long)]
        focus: FocusPoint,
        /// Longer description.
        #[arg(long, default_value = "")]
        description: String,
        /// Where the opinion lives: platform, site, account or URL.
        #[arg(long, default_value = "")]
        source: String,
        /// A risk behaviour (repeat for several).
        #[arg(long = "behaviour", value_name = "TEXT")]
        behaviours: Vec<String>,
        /// Responsible department.
        #[arg(long, default_value = "")]
        department: String,
        #[command(flatten)]
        out: Output,
    },
    /// Change descriptive fields of a risk item (only those given).
    Update {
        /// Risk id, e.g. 510104-1.
        id: String,
        /// New title.
        #[arg(long)]
        title: Option<String>,
        /// New focus point.
        #[arg(long)]
        focus: Option<FocusPoint>,
        /// New description.
        #[arg(long)]
        description: Option<String>,
        /// New source.
        #[arg(long)]
        source: Option<String>,
        /// Risk behaviours replacing ALL the current ones (repeat for several; `--behaviour`
        /// is the older spelling). To change one at a time, use --add-behaviour and
        /// --remove-behaviour.
        #[arg(
            long = "set-behaviour",
            visible_alias = "behaviour",
            value_name = "TEXT"
        )]
        behaviours: Vec<String>,
        /// Add one risk behaviour to the current ones (repeat for several).
        #[arg(long = "add-behaviour", value_name = "TEXT")]
        add_behaviours: Vec<String>,
        /// Remove one risk behaviour, written as it is shown (repeat for several).
        #[arg(long = "remove-behaviour", value_name = "TEXT")]
        remove_behaviours: Vec<String>,
        /// New responsible department.
        #[arg(long)]
        department: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// Grade a risk from the three dimensions, each 1-5; the node computes the level I-IV
    /// with its grading standard. With --level and --reason the officer sets another level
    /// (综合研判): the computed level is kept and shown beside it.
    Grade {
        /// Risk id, e.g. 510104-1.
        id: String,
        /// Influence (影响力), 1-5.
        #[arg(long, value_parser = score)]
        influence: u32,
        /// Attention (关注度), 1-5.
        #[arg(long, value_parser = score)]
        attention: u32,
        /// Diffusion (扩散度), 1-5.
        #[arg(long, value_parser = score)]
        diffusion: u32,
        #[command(flatten)]
        judgement: Judgement,
        #[command(flatten)]
        out: Output,
    },
    /// Record a dated situation note (动态管理) in the risk's history; with the three scores
    /// it re-grades the risk in the same entry, with the standard in force.
    Note {
        /// Risk id, e.g. 510104-1.
        id: String,
        /// What was observed.
        text: String,
        /// Influence (影响力), 1-5: re-grade (give all three).
        #[arg(long, value_parser = score, requires_all = ["attention", "diffusion"])]
        influence: Option<u32>,
        /// Attention (关注度), 1-5.
        #[arg(long, value_parser = score, requires_all = ["influence", "diffusion"])]
        attention: Option<u32>,
        /// Diffusion (扩散度), 1-5.
        #[arg(long, value_parser = score, requires_all = ["influence", "attention"])]
        diffusion: Option<u32>,
        #[command(flatten)]
        judgement: Judgement,
        #[command(flatten)]
        out: Output,
    },
    /// Preventive measures: add, edit, update, done, cancel.
    #[command(subcommand)]
    Measure(MeasureCommand),
    /// Move a risk along identified → graded → measures-set → monitoring, or reopen a
    /// resolved or ruled-out risk (monitoring). Resolving and ruling out: `risk close`.
    SetStatus {
        /// Risk id, e.g. 510104-1.
        id: String,
        /// identified, graded, measures-set or monitoring (or the Chinese label).
        status: RiskStatus,
        #[command(flatten)]
        out: Output,
    },
    /// Close a risk: --resolved --summary "…" (化解: every measure done or cancelled), or
    /// --ruled-out --reason "…" (排除: a false alarm, from any status). Reopen with
    /// `set-status ID monitoring`.
    #[command(group(clap::ArgGroup::new("how").required(true).args(["resolved", "ruled_out"])))]
    Close {
        /// Risk id, e.g. 510104-1.
        id: String,
        /// Resolved (化解): needs --summary.
        #[arg(long, requires = "summary", conflicts_with = "reason")]
        resolved: bool,
        /// Ruled out (排除), a false alarm (误报): needs --reason.
        #[arg(long, requires = "reason", conflicts_with = "summary")]
        ruled_out: bool,
        /// How the risk was defused (with --resolved).
        #[arg(long)]
        summary: Option<String>,
        /// Why it is a false alarm (with --ruled-out).
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// Widen who a risk is shared with: neighbours (adjacent counties and the province) or
    /// province (every county of the province). A share only widens, and is kept in history.
    Share {
        /// Risk id, e.g. 510104-1.
        id: String,
        /// neighbours or province.
        #[arg(long, value_parser = ["neighbours", "province"])]
        scope: String,
        #[command(flatten)]
        out: Output,
    },
    /// One risk item with its measures and whole history (who, when, what changed).
    Show {
        /// Risk id, e.g. 510104-1.
        id: String,
        #[command(flatten)]
        out: Output,
    },
    /// Risk items, filtered and paged.
    List {
        /// Only this level: I, II, III or IV.
        #[arg(long)]
        level: Option<Level>,
        /// Only this focus point.
        #[arg(long)]
        focus: Option<FocusPoint>,
        /// Only this status.
        #[arg(long)]
        status: Option<RiskStatus>,
        /// Only risks whose title, description, source or department contain this text.
        #[arg(long)]
        text: Option<String>,
        /// Page size (default 50, at most 500).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Start after this cursor (printed after a page that has more).
        #[arg(long)]
        cursor: Option<String>,
        /// Whose risks: this node's own (default), `all` (own and those shared with this
        /// node), or a division code.
        #[arg(long, value_name = "all|CODE")]
        origin: Option<String>,
        /// Walk every page.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        out: Output,
    },
}

/// The officer's own level (综合研判), beside the computed one.
#[derive(Debug, Clone, clap::Args)]
pub struct Judgement {
    /// Set this level instead of the computed one: I-IV or 特别重大, 重大, 较大, 一般
    /// (needs --reason).
    #[arg(long, requires = "reason")]
    pub level: Option<Level>,
    /// Why the level differs from the computed one.
    #[arg(long, requires = "level")]
    pub reason: Option<String>,
}

/// `fenghuo risk measure …` commands.
#[derive(Debug, clap::Subcommand)]
pub enum MeasureCommand {
    /// Add a preventive measure to a risk.
    Add {
        /// Risk id, e.g. 510104-1.
        id: String,
        /// What will be done.
        #[arg(long)]
        action: String,
        /// Who does it.
        #[arg(long)]
        owner: String,
        /// Due date, YYYY-MM-DD.
        #[arg(long)]
        due: String,
        #[command(flatten)]
        out: Output,
    },
    /// Change a measure's status.
    Update {
        /// Risk id, e.g. 510104-1.
        id: String,
        /// Measure id, e.g. m1.
        measure: String,
        /// planned, in-progress, done or cancelled (or 计划, 进行中, 完成, 取消).
        #[arg(long)]
        status: MeasureStatus,
        /// How it was done, or why it was cancelled (required then).
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        out: Output,
    },
    /// Change a measure's action, owner or due date (only those given).
    Edit {
        /// Risk id, e.g. 510104-1.
        id: String,
        /// Measure id, e.g. m1.
        measure: String,
        /// What will be done.
        #[arg(long)]
        action: Option<String>,
        /// Who does it.
        #[arg(long)]
        owner: Option<String>,
        /// Due date, YYYY-MM-DD, today or later.
        #[arg(long)]
        due: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// Mark a measure done (完成), with a note on how it was carried out.
    Done {
        /// Risk id, e.g. 510104-1.
        id: String,
        /// Measure id, e.g. m1.
        measure: String,
        /// How it was carried out.
        #[arg(long)]
        note: String,
        #[command(flatten)]
        out: Output,
    },
    /// Cancel a measure (取消), with the reason.
    Cancel {
        /// Risk id, e.g. 510104-1.
        id: String,
        /// Measure id, e.g. m1.
        measure: String,
        /// Why it is dropped.
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
        RiskCommand::Share { id, scope, out } => {
            let scope = match scope.as_str() {
                "province" => v1::Audience::Province,
                _ => v1::Audience::Neighbours,
            };
            let r = client
                .share_risk(v1::ShareRiskRequest {
                    id,
                    scope: scope as i32,
                })
                .await
                .map_err(status_message)?
                .into_inner();
            report(&r, &out, || {
                format!(
                    "{} is now shared with {}",
                    r.id,
                    output::scope_text(r.scope)
                )
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
