//! `fenghuo intake …`: what the county's monitoring systems found (舆情采集) — list, show,
//! promote into a risk, attach to a risk, dismiss, import a file, and the rates.

use fenghuo_proto::v1::{self, intake_client::IntakeClient};
use serde_json::{json, Value};

use super::connect::ConnectArgs;
use super::output::{emit, optional_time, short_time, table, time_text};
use super::risk::{score, status_message, Output};
use crate::intake::counts::permille_text;

/// `fenghuo intake …` commands.
#[derive(Debug, clap::Subcommand)]
pub enum IntakeCommand {
    /// 待研判条目（命中关注规则的在前，新的在前）· Items to triage: flagged by a watch rule
    /// first, newest first; `--all` for every item, newest first.
    List {
        /// 所有条目（含已处理的）· Every item, decided ones too.
        #[arg(long)]
        all: bool,
        /// 同一疑似事件（账号或网站栏目）的条目 · Only the items of this candidate incident
        /// (as `show` prints it, e.g. account:weibo:zhang_san).
        #[arg(long, value_name = "KEY")]
        incident: Option<String>,
        /// 最多列出几条 · At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// 跳过前几条 · Skip this many first.
        #[arg(long, default_value_t = 0)]
        offset: u32,
        #[command(flatten)]
        out: Output,
    },
    /// 查看一条，含转为风险点时的建议 · One item, with what promoting it would suggest.
    Show {
        /// 条目编号 · Item id, as `list` shows it.
        id: u64,
        #[command(flatten)]
        out: Output,
    },
    /// 转为风险点（未给的项取建议值）· Make an item a new risk; what is not given is taken
    /// from the suggestion. With --influence the risk is graded at once.
    Promote {
        /// 条目编号 · Item id.
        id: u64,
        /// 重点（英文名或中文），无规则建议时必填 · Focus point (e.g. reform-measure or
        /// 重要改革举措); required when no watch rule suggests one.
        #[arg(long)]
        focus: Option<String>,
        /// 标题 · Title (default: the start of the text).
        #[arg(long)]
        title: Option<String>,
        /// 描述 · Description (default: the text, where and when it was seen).
        #[arg(long)]
        description: Option<String>,
        /// 风险行为（可多次给出，替换建议）· A risk behaviour (repeat; replaces the suggested
        /// ones).
        #[arg(long = "behaviour", value_name = "TEXT")]
        behaviours: Vec<String>,
        /// 责任部门 · Responsible department.
        #[arg(long, default_value = "")]
        department: String,
        /// 影响力 1-5：给出则立即定级 · Influence 1-5: grade the new risk at once.
        #[arg(long, value_parser = score)]
        influence: Option<u32>,
        /// 关注度 1-5（默认取建议）· Attention 1-5 (default: suggested from the figures).
        #[arg(long, value_parser = score)]
        attention: Option<u32>,
        /// 扩散度 1-5（默认取建议）· Diffusion 1-5 (default: suggested from the figures).
        #[arg(long, value_parser = score)]
        diffusion: Option<u32>,
        #[command(flatten)]
        out: Output,
    },
    /// 并入已有风险点的动态记录 · Join an item to an existing risk of this county: the sighting
    /// and its figures become a situation note; rising figures propose a re-grade.
    Attach {
        /// 条目编号 · Item id.
        id: u64,
        /// 风险点编号，如 510104-3 · The risk, e.g. 510104-3.
        #[arg(long)]
        risk: String,
        /// 附言 · A note of your own.
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        out: Output,
    },
    /// 排除（不是风险）· Decide an item is not a risk.
    Dismiss {
        /// 条目编号 · Item id.
        id: u64,
        /// 理由（必填）· Why (required).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        out: Output,
    },
    /// 导入监测结果文件（CSV 或 Excel）· Import a file of observations (CSV or XLSX; columns
    /// in docs/intake.md); --dry-run checks every row and records nothing.
    Import {
        /// 文件 · The CSV or XLSX file.
        file: std::path::PathBuf,
        /// 只检查，不导入 · Check every row and report errors; record nothing.
        #[arg(long)]
        dry_run: bool,
        /// 来源系统名称 · The system name the observations carry.
        #[arg(long, default_value = crate::api::intake::IMPORT_SYSTEM)]
        system: String,
        /// 工作表名称（默认第一个）· The workbook's sheet (default: the first).
        #[arg(long)]
        sheet: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// 采集率、发现率、领先时间、研判用时 · Collection and discovery rates, discovery lead
    /// time and triage time (definitions in docs/intake.md).
    Rates {
        /// 统计最近几天 · Over the last this many days.
        #[arg(long, default_value_t = 30)]
        days: u32,
        #[command(flatten)]
        out: Output,
    },
}

fn figures(e: Option<v1::Engagement>) -> String {
    let e = e.unwrap_or_default();
    format!(
        "阅读 views {} · 转发 reposts {} · 评论 comments {} · 点赞 likes {}",
        e.views, e.reposts, e.comments, e.likes
    )
}

fn state_text(i: &v1::IntakeItem) -> String {
    match i.state.as_str() {
        "open" => "open 待研判".to_owned(),
        "promoted" => format!("promoted 已转风险点 {}", i.risk_id),
        "attached" => format!("attached 已并入 {}", i.risk_id),
        "dismissed" => format!("dismissed 已排除: {}", i.dismiss_reason),
        other => other.to_owned(),
    }
}

/// An item as the JSON scripts read.
pub fn item_json(i: &v1::IntakeItem) -> Value {
    let e = i.engagement.unwrap_or_default();
    json!({
        "id": i.id,
        "url": i.url,
        "platform": i.platform,
        "account": i.account,
        "text": i.text,
        "incident": i.incident,
        "first_seen": time_text(i.first_seen_ms),
        "last_seen": time_text(i.last_seen_ms),
        "sightings": i.sightings,
        "views": e.views,
        "reposts": e.reposts,
        "comments": e.comments,
        "likes": e.likes,
        "figures_at": time_text(i.engagement_at_ms),
        "keywords": i.keywords,
        "system": i.system,
        "system_id": i.system_id,
        "flags": i.flags.iter().map(|f| json!({"pattern": f.pattern, "focus": f.focus})).collect::<Vec<_>>(),
        "state": i.state,
        "risk": (!i.risk_id.is_empty()).then_some(&i.risk_id),
        "decided_by": (!i.decided_by.is_empty()).then_some(&i.decided_by),
        "decided_at": optional_time(i.decided_at_ms),
        "dismiss_reason": (!i.dismiss_reason.is_empty()).then_some(&i.dismiss_reason),
        "suggestion": i.suggestion.as_ref().map(|s| json!({
            "title": s.title,
            "description": s.description,
            "source": s.source,
            "focus": (!s.focus.is_empty()).then_some(&s.focus),
            "behaviours": s.behaviours,
            "attention": s.attention,
            "diffusion": s.diffusion,
        })),
        "incident_items": i.incident_items,
    })
}

fn excerpt(text: &str, chars: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = one_line.chars().take(chars).collect();
    if one_line.chars().count() > chars {
        out.push('…');
    }
    out
}

fn item_table(items: &[v1::IntakeItem]) -> String {
    let mut t = table();
    t.set_header(vec![
        "id",
        "flag 规则",
        "platform 平台",
        "text 内容",
        "seen 次数",
        "reposts 转发",
        "last 最近",
        "state 状态",
    ]);
    for i in items {
        t.add_row(vec![
            i.id.to_string(),
            i.flags
                .iter()
                .map(|f| f.focus.clone())
                .collect::<Vec<_>>()
                .join(","),
            if i.account.is_empty() {
                i.platform.clone()
            } else {
                format!("{} {}", i.platform, i.account)
            },
            excerpt(&i.text, 40),
            i.sightings.to_string(),
            i.engagement.unwrap_or_default().reposts.to_string(),
            short_time(i.last_seen_ms),
            state_text(i),
        ]);
    }
    t.to_string()
}

fn item_detail(i: &v1::IntakeItem) -> String {
    let mut out = format!(
        "intake item {} · {}\n{}\nplatform 平台: {} {}\nincident 疑似事件: {}\nseen 发现: {} first, {} last, {} sighting(s) from {} ({})\n{} (at {})\n",
        i.id,
        state_text(i),
        i.url,
        i.platform,
        i.account,
        i.incident,
        short_time(i.first_seen_ms),
        short_time(i.last_seen_ms),
        i.sightings,
        i.system,
        i.system_id,
        figures(i.engagement),
        short_time(i.engagement_at_ms),
    );
    if !i.keywords.is_empty() {
        out.push_str(&format!("keywords 关键词: {}\n", i.keywords.join("、")));
    }
    for f in &i.flags {
        out.push_str(&format!("flag 命中规则: {} → {}\n", f.pattern, f.focus));
    }
    out.push_str(&format!("\n{}\n", i.text));
    if let Some(s) = &i.suggestion {
        out.push_str(&format!(
            "\nsuggested 建议: focus {} · attention {} · diffusion {} · behaviours {}\n  title: {}\n",
            if s.focus.is_empty() { "-" } else { &s.focus },
            s.attention,
            s.diffusion,
            if s.behaviours.is_empty() {
                "-".to_owned()
            } else {
                s.behaviours.join("、")
            },
            s.title,
        ));
    }
    if !i.incident_items.is_empty() {
        out.push_str(&format!(
            "same incident 同一疑似事件: {}\n",
            i.incident_items
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out
}

fn duration_text(ms: i64) -> String {
    let mins = ms / 60_000;
    if mins < 120 {
        format!("{mins} min")
    } else if mins < 48 * 60 {
        format!("{:.1} h", mins as f64 / 60.0)
    } else {
        format!("{:.1} d", mins as f64 / 1440.0)
    }
}

/// Rates as the JSON scripts read.
pub fn rates_json(r: &v1::IntakeRates) -> Value {
    json!({
        "county": r.county,
        "from": time_text(r.from_ms),
        "to": time_text(r.to_ms),
        "risks": r.risks,
        "risks_from_intake": r.risks_from_intake,
        "collection_rate": f64::from(r.collection_rate_permille) / 1000.0,
        "contested": r.contested,
        "found_first": r.found_first,
        "discovery_rate": f64::from(r.discovery_rate_permille) / 1000.0,
        "discovery_lead_median_ms": r.discovery_lead_median_ms,
        "promoted": r.promoted,
        "attached": r.attached,
        "dismissed": r.dismissed,
        "triage_median_ms": r.triage_median_ms,
        "open": r.open,
    })
}

fn rates_text(r: &v1::IntakeRates) -> String {
    format!(
        "intake rates of {} from {} to {}\n\
         采集率 collection rate: {} ({} of {} new risks came through intake)\n\
         发现率 discovery rate:  {} ({} of {} risks another unit also had were found here first)\n\
         领先时间 lead time:      {} (median, over those found first)\n\
         研判 triage:            {} promoted, {} attached, {} dismissed; median {} from first sighting\n\
         待研判 open items:       {}",
        r.county,
        short_time(r.from_ms),
        short_time(r.to_ms),
        permille_text(r.collection_rate_permille),
        r.risks_from_intake,
        r.risks,
        permille_text(r.discovery_rate_permille),
        r.found_first,
        r.contested,
        duration_text(r.discovery_lead_median_ms),
        r.promoted,
        r.attached,
        r.dismissed,
        duration_text(r.triage_median_ms),
        r.open,
    )
}

fn province_rates_table(counties: &[v1::CountyRates]) -> String {
    let mut t = table();
    t.set_header(vec![
        "county 县",
        "risks 风险点",
        "collection 采集率",
        "discovery 发现率",
        "lead 领先",
        "triage 研判用时",
        "open 待研判",
        "published 报送",
    ]);
    for c in counties {
        let r = c.rates.clone().unwrap_or_default();
        t.add_row(vec![
            format!("{} {}", c.county_name, r.county),
            r.risks.to_string(),
            permille_text(r.collection_rate_permille),
            format!(
                "{} ({}/{})",
                permille_text(r.discovery_rate_permille),
                r.found_first,
                r.contested
            ),
            duration_text(r.discovery_lead_median_ms),
            duration_text(r.triage_median_ms),
            r.open.to_string(),
            short_time(c.published_at_ms),
        ]);
    }
    format!(
        "{}\n{} county(ies); each publishes its last 30 days when they change",
        t,
        counties.len()
    )
}

fn triage_line(what: &str, r: &v1::TriageReply) -> String {
    let id = r.item.as_ref().map_or(0, |i| i.id);
    let mut line = match what {
        "promote" => format!("item {id} promoted: risk {}", r.risk_id),
        "attach" => format!("item {id} attached to risk {}", r.risk_id),
        _ => format!("item {id} dismissed"),
    };
    if r.propose_attention != 0 {
        line.push_str(&format!(
            "\nits figures rose past the risk's grade: consider re-grading with attention {} and diffusion {} (fenghuo risk note {} --attention … or its page)",
            r.propose_attention, r.propose_diffusion, r.risk_id
        ));
    }
    line
}

fn triage_json(r: &v1::TriageReply) -> Value {
    json!({
        "item": r.item.as_ref().map(item_json),
        "risk": (!r.risk_id.is_empty()).then_some(&r.risk_id),
        "propose_regrade": (r.propose_attention != 0).then(|| json!({
            "attention": r.propose_attention,
            "diffusion": r.propose_diffusion,
        })),
    })
}

/// What an import did, for people and scripts.
#[derive(Debug, serde::Serialize)]
struct ImportReport {
    file: String,
    dry_run: bool,
    rows: usize,
    recorded: usize,
    new_items: u64,
    sightings: u64,
    repeats: u64,
    warnings: Vec<String>,
    /// "line N: reason".
    row_errors: Vec<String>,
}

impl ImportReport {
    fn text(&self) -> String {
        let mut out = String::new();
        for w in &self.warnings {
            out.push_str(&format!("note 提示: {w}\n"));
        }
        for e in &self.row_errors {
            out.push_str(&format!("{e}\n"));
        }
        if self.dry_run {
            out.push_str(&format!(
                "{}: {} row(s), {} would be recorded, {} refused (dry run: nothing recorded) 试导入，未写入",
                self.file,
                self.rows,
                self.rows - self.row_errors.len(),
                self.row_errors.len()
            ));
        } else {
            out.push_str(&format!(
                "{}: {} row(s): {} recorded ({} new items, {} sightings, {} repeats), {} refused 已导入",
                self.file,
                self.rows,
                self.recorded,
                self.new_items,
                self.sightings,
                self.repeats,
                self.row_errors.len()
            ));
        }
        out
    }
}

/// Reads `file`, checks every row, and unless `dry_run` streams the good rows to the node.
async fn import(
    client: &mut IntakeClient<tonic::transport::Channel>,
    file: &std::path::Path,
    dry_run: bool,
    system: &str,
    sheet: Option<&str>,
) -> anyhow::Result<ImportReport> {
    let bytes =
        std::fs::read(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let name = file.display().to_string();
    let parsed = crate::intake::import::read_sheet(&name, &bytes, system, sheet)?
        .checked(crate::timespec::now_ms());
    let mut report = ImportReport {
        file: name,
        dry_run,
        rows: parsed.rows.len(),
        recorded: 0,
        new_items: 0,
        sightings: 0,
        repeats: 0,
        warnings: parsed.warnings.clone(),
        row_errors: parsed
            .errors()
            .map(|(line, e)| format!("line 第{line}行: {e}"))
            .collect(),
    };
    if dry_run {
        return Ok(report);
    }
    let good: Vec<(usize, v1::Observation)> = parsed
        .rows
        .iter()
        .filter_map(|r| {
            r.result
                .as_ref()
                .ok()
                .map(|o| (r.line, observation_to_proto(o)))
        })
        .collect();
    let lines: Vec<usize> = good.iter().map(|(l, _)| *l).collect();
    let summary = client
        .submit_stream(tokio_stream::iter(good.into_iter().map(|(_, o)| o)))
        .await
        .map_err(status_message)?
        .into_inner();
    // The node names a refused row by its place in the stream (#n): give its line instead.
    for refusal in &summary.refusals {
        let line = refusal
            .strip_prefix('#')
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| lines.get(n.wrapping_sub(1)));
        let reason = refusal
            .split_once(": ")
            .map_or(refusal.as_str(), |(_, r)| r);
        report.row_errors.push(match line {
            Some(l) => format!("line 第{l}行: {reason}"),
            None => refusal.clone(),
        });
    }
    report.recorded = (summary.received - summary.refused) as usize;
    report.new_items = summary.new_items;
    report.sightings = summary.sightings;
    report.repeats = summary.repeats;
    Ok(report)
}

/// An observation on the wire.
pub fn observation_to_proto(o: &crate::intake::Observation) -> v1::Observation {
    v1::Observation {
        url: o.url.clone(),
        platform: o.platform.clone(),
        account: o.account.clone(),
        text: o.text.clone(),
        captured_at_ms: o.captured_at_ms,
        engagement: Some(v1::Engagement {
            views: o.engagement.views,
            reposts: o.engagement.reposts,
            comments: o.engagement.comments,
            likes: o.engagement.likes,
        }),
        keywords: o.keywords.clone(),
        system_id: o.system_id.clone(),
        system: o.system.clone(),
    }
}

/// Runs an intake command against the county's node.
pub async fn run(connect: ConnectArgs, cmd: IntakeCommand) -> anyhow::Result<()> {
    let mut client = IntakeClient::new(connect.channel().await?);
    match cmd {
        IntakeCommand::List {
            all,
            incident,
            limit,
            offset,
            out,
        } => {
            let r = client
                .list_items(v1::ListItemsRequest {
                    state: if all { "all" } else { "open" }.into(),
                    limit,
                    offset,
                    incident: incident.unwrap_or_default(),
                })
                .await
                .map_err(status_message)?
                .into_inner();
            emit(
                out.json,
                || r.items.iter().map(item_json).collect(),
                || {
                    format!(
                        "{}\n{} shown; {} open to triage 待研判, {} of them flagged 命中规则",
                        item_table(&r.items),
                        r.items.len(),
                        r.open,
                        r.flagged
                    )
                },
            )?;
        }
        IntakeCommand::Show { id, out } => {
            let i = client
                .get_item(v1::GetItemRequest { id })
                .await
                .map_err(status_message)?
                .into_inner();
            emit(out.json, || item_json(&i), || item_detail(&i))?;
        }
        IntakeCommand::Promote {
            id,
            focus,
            title,
            description,
            behaviours,
            department,
            influence,
            attention,
            diffusion,
            out,
        } => {
            let r = client
                .promote(v1::PromoteRequest {
                    id,
                    title: title.unwrap_or_default(),
                    description: description.unwrap_or_default(),
                    focus: focus.unwrap_or_default(),
                    replace_behaviours: !behaviours.is_empty(),
                    behaviours,
                    department,
                    influence: influence.unwrap_or(0),
                    attention: attention.unwrap_or(0),
                    diffusion: diffusion.unwrap_or(0),
                })
                .await
                .map_err(status_message)?
                .into_inner();
            emit(out.json, || triage_json(&r), || triage_line("promote", &r))?;
        }
        IntakeCommand::Attach {
            id,
            risk,
            note,
            out,
        } => {
            let r = client
                .attach(v1::AttachRequest {
                    id,
                    risk_id: risk,
                    note,
                })
                .await
                .map_err(status_message)?
                .into_inner();
            emit(out.json, || triage_json(&r), || triage_line("attach", &r))?;
        }
        IntakeCommand::Dismiss { id, reason, out } => {
            let r = client
                .dismiss(v1::DismissRequest { id, reason })
                .await
                .map_err(status_message)?
                .into_inner();
            emit(out.json, || triage_json(&r), || triage_line("dismiss", &r))?;
        }
        IntakeCommand::Import {
            file,
            dry_run,
            system,
            sheet,
            out,
        } => {
            let report = import(&mut client, &file, dry_run, &system, sheet.as_deref()).await?;
            let failed = report.row_errors.len();
            emit(
                out.json,
                || serde_json::to_value(&report).unwrap_or_default(),
                || report.text(),
            )?;
            if failed > 0 {
                anyhow::bail!(
                    "{failed} row(s) refused (see above); the other rows were {}",
                    if dry_run { "checked" } else { "recorded" }
                );
            }
        }
        IntakeCommand::Rates { days, out } => {
            match client.rates(v1::RatesRequest { days }).await {
                Ok(r) => {
                    let r = r.into_inner();
                    emit(out.json, || rates_json(&r), || rates_text(&r))?;
                }
                // The gateway keeps no intake of its own: it shows every county's figures.
                Err(s) if s.code() == tonic::Code::FailedPrecondition => {
                    let r = client
                        .province_rates(v1::ProvinceRatesRequest {})
                        .await
                        .map_err(status_message)?
                        .into_inner();
                    emit(
                        out.json,
                        || {
                            r.counties
                                .iter()
                                .map(|c| {
                                    let mut v = rates_json(&c.rates.clone().unwrap_or_default());
                                    v["county_name"] = json!(c.county_name);
                                    v["published_at"] = json!(time_text(c.published_at_ms));
                                    v
                                })
                                .collect()
                        },
                        || province_rates_table(&r.counties),
                    )?;
                }
                Err(s) => return Err(status_message(s)),
            }
        }
    }
    Ok(())
}
