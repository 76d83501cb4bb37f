//! `fenghuo risk …`: the risk register of a node.

use crate::cli::output::outln;
use anyhow::Context;
use fenghuo_proto::v1::{self, registry_client::RegistryClient};
use tonic::transport::Channel;

use super::connect::ConnectArgs;
use super::output;
use crate::domain::{FocusPoint, Level, MeasureStatus, RiskStatus};
use crate::wire::{
    focus_to_proto, level_from_proto, level_to_proto, measure_status_to_proto, status_from_proto,
    status_to_proto,
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
        /// Risk behaviours, replacing the current ones (repeat for several).
        #[arg(long = "behaviour", value_name = "TEXT")]
        behaviours: Vec<String>,
        /// New responsible department.
        #[arg(long)]
        department: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// Grade a risk from the three dimensions, each 1-5; the node computes the level I-IV
    /// with its grading standard.
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
        out: Output,
    },
    /// Preventive measures: add, update.
    #[command(subcommand)]
    Measure(MeasureCommand),
    /// Move a risk along identified → graded → measures-set → monitoring → resolved.
    SetStatus {
        /// Risk id, e.g. 510104-1.
        id: String,
        /// identified, graded, measures-set, monitoring or resolved.
        status: RiskStatus,
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
        /// planned, in-progress or done.
        #[arg(long)]
        status: MeasureStatus,
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
            out,
        } => {
            let r = client
                .grade_risk(v1::GradeRiskRequest {
                    id,
                    influence,
                    attention,
                    diffusion,
                })
                .await
                .map_err(status_message)?
                .into_inner();
            if out.json {
                print_risk(&r, &out)?;
            } else {
                let level = r.grade.as_ref().and_then(|g| level_from_proto(g.level));
                match level {
                    Some(l) => outln!(
                        "{} graded: level {} {} ({})",
                        r.id,
                        l,
                        l.label_zh(),
                        l.colour()
                    ),
                    None => outln!("{} graded", r.id),
                }
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
        RiskCommand::Measure(MeasureCommand::Update {
            id,
            measure,
            status,
            out,
        }) => {
            let r = client
                .update_measure(v1::UpdateMeasureRequest {
                    id,
                    measure_id: measure.clone(),
                    status: measure_status_to_proto(status) as i32,
                })
                .await
                .map_err(status_message)?
                .into_inner();
            report(&r, &out, || {
                format!("{}: measure {} is now {}", r.id, measure, status.as_str())
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
            report(&r, &out, || format!("{} is now {}", r.id, status))?;
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
