//! `fenghuo directive …` and `fenghuo consult …`: directives (工作指令) and consultations (会商)
//! from the province — issued against the gateway, answered at a county.

use fenghuo_proto::v1::{self, directives_client::DirectivesClient};
use serde_json::{json, Value};

use super::connect::ConnectArgs;
use super::output::{emit, optional_time, short_time, table, time_text, unit_name, unit_text};
use super::risk::{status_message, Output};
use crate::domain::directive::{DirectiveKind, ResponseStatus};
use crate::timespec::parse_time_from_now;

/// `fenghuo directive …` commands.
#[derive(Debug, clap::Subcommand)]
pub enum DirectiveCommand {
    /// 下达工作指令（省级工作人员，连省级汇聚节点） · Issue a directive (provincial staff,
    /// against the gateway).
    Issue {
        /// 指令内容 · The instruction.
        #[arg(long)]
        text: String,
        /// 办结期限：距今时长（24h、3d）或 RFC 3339 · When it must be done: a time from now
        /// (24h, 3d) or RFC 3339.
        #[arg(long, value_parser = parse_time_from_now)]
        deadline: i64,
        /// 下达到的县，逗号分隔（默认全省各县） · Target counties, separated by commas (default:
        /// every county).
        #[arg(long, value_delimiter = ',')]
        to: Vec<String>,
        #[command(flatten)]
        out: Output,
    },
    /// 工作指令列表：已反馈和超期的县 · Directives with who has responded and who is overdue
    /// (at a county: those for it).
    List {
        #[command(flatten)]
        out: Output,
    },
    /// 查看一条工作指令及各县反馈 · One directive: its text, who it was addressed to and each
    /// county's answer.
    Show {
        /// 指令编号，如 51-d1 · Directive id, e.g. 51-d1.
        id: String,
        #[command(flatten)]
        out: Output,
    },
    /// 反馈工作指令：已签收、已答复或已办结 · Respond to a directive: acknowledged, responded
    /// or done.
    Respond {
        /// 指令编号，如 51-d1 · Directive id, e.g. 51-d1.
        id: String,
        /// 已签收、已答复或已办结 · acknowledged, responded or done (either word).
        #[arg(long)]
        status: ResponseStatus,
        /// 反馈内容 · What you say.
        #[arg(long, default_value = "")]
        text: String,
        #[command(flatten)]
        out: Output,
    },
}

/// `fenghuo consult …` commands.
#[derive(Debug, clap::Subcommand)]
pub enum ConsultCommand {
    /// 发起会商：向各县提出问题（省级工作人员） · Open a consultation: a question to counties
    /// (provincial staff, against the gateway).
    Open {
        /// 会商问题 · The question.
        #[arg(long)]
        question: String,
        /// 答复期限：距今时长（24h）或 RFC 3339 · When answers are due: a time from now (24h)
        /// or RFC 3339.
        #[arg(long, value_parser = parse_time_from_now)]
        deadline: i64,
        /// 征询的县，逗号分隔（默认全省各县） · Counties asked, separated by commas (default:
        /// every county).
        #[arg(long, value_delimiter = ',')]
        to: Vec<String>,
        #[command(flatten)]
        out: Output,
    },
    /// 会商列表：答复情况和超期的县 · Consultations with answers and who is overdue (at a
    /// county: those for it).
    List {
        #[command(flatten)]
        out: Output,
    },
    /// 查看一次会商及各县答复 · One consultation: its question, who was asked and each
    /// county's answer.
    Show {
        /// 会商编号，如 51-c1 · Consultation id, e.g. 51-c1.
        id: String,
        #[command(flatten)]
        out: Output,
    },
    /// 答复会商（县级工作人员） · Answer a consultation (a county's staff).
    Respond {
        /// 会商编号，如 51-c1 · Consultation id, e.g. 51-c1.
        id: String,
        /// 答复内容 · Your answer.
        #[arg(long)]
        text: String,
        /// 已签收、已答复（默认）或已办结 · acknowledged, responded (the default) or done.
        #[arg(long, default_value = "responded")]
        status: ResponseStatus,
        #[command(flatten)]
        out: Output,
    },
}

/// A directive or consultation as the JSON scripts read.
pub fn directive_json(d: &v1::Directive) -> Value {
    let responded = d.responses.iter().filter(|r| !r.status.is_empty()).count();
    json!({
        "id": d.id,
        "kind": d.kind,
        "text": d.text,
        "deadline": time_text(d.deadline_ms),
        "targets": d.targets,
        "issued_at": time_text(d.issued_at_ms),
        "issued_by": d.issued_by,
        "responded": responded,
        "asked": d.responses.len(),
        "overdue": d.responses.iter().filter(|r| r.overdue).map(|r| &r.county).collect::<Vec<_>>(),
        "responses": d.responses.iter().map(|r| json!({
            "county": r.county,
            "county_name": unit_name(&r.county, &d.county_names),
            "status": (!r.status.is_empty()).then_some(&r.status),
            "text": r.text,
            "responded_at": optional_time(r.responded_at_ms),
            "responded_by": (!r.responded_by.is_empty()).then_some(&r.responded_by),
            "overdue": r.overdue,
        })).collect::<Vec<_>>(),
    })
}

fn directive_table(list: &[v1::Directive]) -> String {
    let mut t = table();
    t.set_header(vec![
        "id",
        "kind",
        "deadline",
        "responded",
        "overdue",
        "text",
    ]);
    for d in list {
        let responded = d.responses.iter().filter(|r| !r.status.is_empty()).count();
        let overdue: Vec<String> = d
            .responses
            .iter()
            .filter(|r| r.overdue)
            .map(|r| unit_text(&r.county, &d.county_names))
            .collect();
        t.add_row(vec![
            d.id.clone(),
            kind_text(&d.kind),
            short_time(d.deadline_ms),
            format!("{responded}/{}", d.responses.len()),
            if overdue.is_empty() {
                "-".to_owned()
            } else {
                overdue.join(", ")
            },
            d.text.clone(),
        ]);
    }
    t.to_string()
}

/// `done 已办结` for people; `—` for no answer yet; the raw word if this build does not know it.
fn status_text(status: &str) -> String {
    match status.parse::<ResponseStatus>() {
        _ if status.is_empty() => "— 未答复".to_owned(),
        Ok(s) => format!("{} {}", s.as_str(), s.label_zh()),
        Err(_) => status.to_owned(),
    }
}

/// `directive 工作指令` for people.
fn kind_text(kind: &str) -> String {
    match kind.parse::<DirectiveKind>() {
        Ok(k) => format!("{} {}", k.as_str(), k.label_zh()),
        Err(_) => kind.to_owned(),
    }
}

/// A directive with who it was addressed to and each county's answer, for people.
fn directive_detail(d: &v1::Directive) -> String {
    let answered = d.responses.iter().filter(|r| !r.status.is_empty()).count();
    let overdue: Vec<String> = d
        .responses
        .iter()
        .filter(|r| r.overdue)
        .map(|r| unit_text(&r.county, &d.county_names))
        .collect();
    let addressed = if d.targets.is_empty() {
        format!("every county 全省各县 ({})", d.responses.len())
    } else {
        d.targets
            .iter()
            .map(|c| unit_text(c, &d.county_names))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut head = table();
    for (k, v) in [
        ("id", d.id.clone()),
        ("kind", kind_text(&d.kind)),
        ("text", d.text.clone()),
        (
            "issued",
            format!("{} by {}", short_time(d.issued_at_ms), d.issued_by),
        ),
        ("deadline", short_time(d.deadline_ms)),
        ("addressed to", addressed),
        ("answered", format!("{answered}/{}", d.responses.len())),
        (
            "overdue",
            if overdue.is_empty() {
                "-".to_owned()
            } else {
                overdue.join(", ")
            },
        ),
    ] {
        head.add_row(vec![k.to_owned(), v]);
    }
    let mut answers = table();
    answers.set_header(vec!["county", "status", "when", "by", "text", "overdue"]);
    for r in &d.responses {
        answers.add_row(vec![
            unit_text(&r.county, &d.county_names),
            status_text(&r.status),
            if r.responded_at_ms == 0 {
                "-".to_owned()
            } else {
                short_time(r.responded_at_ms)
            },
            r.responded_by.clone(),
            r.text.clone(),
            if r.overdue { "overdue 超期" } else { "" }.to_owned(),
        ]);
    }
    format!("{head}\n\nAnswers per county 逐县答复\n{answers}")
}

fn print(d: &v1::Directive, out: &Output, line: String) -> anyhow::Result<()> {
    emit(out.json, || directive_json(d), || line)
}

async fn issue(
    connect: ConnectArgs,
    kind: DirectiveKind,
    text: String,
    deadline_ms: i64,
    targets: Vec<String>,
    out: Output,
) -> anyhow::Result<()> {
    let mut client = DirectivesClient::new(connect.channel().await?);
    let d = client
        .issue_directive(v1::IssueDirectiveRequest {
            kind: kind.to_string(),
            text,
            deadline_ms,
            targets,
        })
        .await
        .map_err(status_message)?
        .into_inner();
    print(
        &d,
        &out,
        format!(
            "{kind} {} {} sent to {} county(ies), due {}",
            kind.label_zh(),
            d.id,
            d.responses.len(),
            short_time(d.deadline_ms)
        ),
    )
}

async fn list(connect: ConnectArgs, kind: DirectiveKind, out: Output) -> anyhow::Result<()> {
    let mut client = DirectivesClient::new(connect.channel().await?);
    let list = client
        .list_directives(v1::ListDirectivesRequest {
            kind: kind.to_string(),
        })
        .await
        .map_err(status_message)?
        .into_inner()
        .directives;
    emit(
        out.json,
        || list.iter().map(directive_json).collect(),
        || format!("{}\n{} {kind}(s)", directive_table(&list), list.len()),
    )
}

async fn respond(
    connect: ConnectArgs,
    id: String,
    status: ResponseStatus,
    text: String,
    out: Output,
) -> anyhow::Result<()> {
    let mut client = DirectivesClient::new(connect.channel().await?);
    let d = client
        .respond_directive(v1::RespondDirectiveRequest {
            id,
            status: status.to_string(),
            text,
        })
        .await
        .map_err(status_message)?
        .into_inner();
    print(
        &d,
        &out,
        format!("{}: {status} {}", d.id, status.label_zh()),
    )
}

async fn show(
    connect: ConnectArgs,
    kind: DirectiveKind,
    id: String,
    out: Output,
) -> anyhow::Result<()> {
    let mut client = DirectivesClient::new(connect.channel().await?);
    let d = client
        .get_directive(v1::GetDirectiveRequest { id })
        .await
        .map_err(status_message)?
        .into_inner();
    // `directive show 51-c1` would work, but names the wrong thing: say which command fits.
    if d.kind != kind.as_str() {
        let command = match kind {
            DirectiveKind::Directive => "consult",
            DirectiveKind::Consultation => "directive",
        };
        anyhow::bail!(
            "{} is a {} ({}), not a {kind}: fenghuo {command} show {}",
            d.id,
            d.kind,
            kind_text(&d.kind),
            d.id
        );
    }
    emit(out.json, || directive_json(&d), || directive_detail(&d))
}

/// Runs a directive command.
pub async fn run(connect: ConnectArgs, cmd: DirectiveCommand) -> anyhow::Result<()> {
    match cmd {
        DirectiveCommand::Issue {
            text,
            deadline,
            to,
            out,
        } => issue(connect, DirectiveKind::Directive, text, deadline, to, out).await,
        DirectiveCommand::List { out } => list(connect, DirectiveKind::Directive, out).await,
        DirectiveCommand::Show { id, out } => {
            show(connect, DirectiveKind::Directive, id, out).await
        }
        DirectiveCommand::Respond {
            id,
            status,
            text,
            out,
        } => respond(connect, id, status, text, out).await,
    }
}

/// Runs a consultation command.
pub async fn run_consult(connect: ConnectArgs, cmd: ConsultCommand) -> anyhow::Result<()> {
    match cmd {
        ConsultCommand::Open {
            question,
            deadline,
            to,
            out,
        } => {
            issue(
                connect,
                DirectiveKind::Consultation,
                question,
                deadline,
                to,
                out,
            )
            .await
        }
        ConsultCommand::List { out } => list(connect, DirectiveKind::Consultation, out).await,
        ConsultCommand::Show { id, out } => {
            show(connect, DirectiveKind::Consultation, id, out).await
        }
        ConsultCommand::Respond {
            id,
            text,
            status,
            out,
        } => respond(connect, id, status, text, out).await,
    }
}
