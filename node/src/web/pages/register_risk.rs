//! One risk of the county's register (`/register/{id}`): every field, its grade with the
//! standard in force (the three scores, the weights, the thresholds, the resulting level),
//! measures with the overdue ones flagged, the history (who, with their unit; when, in local
//! time), and the forms that change it: grade, add a measure, change a measure's status,
//! share, set the status. Every write goes through the node's writer as the signed-in
//! person; a refused one shows the page again with the reason beside its form and what was
//! typed still in it.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use maud::{html, Markup};
use serde::Deserialize;

use super::officer::{self, may_write, require_county, require_write, Refusal};
use super::PageError;
use crate::domain::risk::next_statuses;
use crate::domain::{GradingStandard, MeasureStatus, Scores};
use crate::feed::Audience;
use crate::register::record::RiskRecord;
use crate::register::{self, read, view, RegisterError};
use crate::timespec;
use crate::web::labels;
use crate::web::lang::Lang;
use crate::web::layout;
use crate::web::session::{Csrf, Staffer};
use crate::web::table::{Cell, Table};
use crate::web::App;

/// The risk `id` with its history, or 404.
fn load(app: &App, id: &str) -> Result<RiskRecord, PageError> {
    if view::parse_risk_id(id).is_none() {
        return Err(PageError::NotFound(format!(
            "{id:?}: {}",
            Lang::current().pick(
                "不是风险编号（如 510104-17）",
                "not a risk id (like 510104-17)"
            )
        )));
    }
    read::risk(app.node.store.as_ref(), id).map_err(|e| match e {
        RegisterError::RiskNotFound(_) => PageError::NotFound(format!(
            "{id}: {}",
            Lang::current().pick("本节点没有这条风险", "this node holds no such risk")
        )),
        RegisterError::Store(s) => PageError::Store(s),
        other => PageError::Internal(other.to_string()),
    })
}

/// Every field any of the page's forms posts (each form sends its own), kept to fill the
/// form again when it is refused.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RiskForms {
    #[serde(default)]
    influence: String,
    #[serde(default)]
    attention: String,
    #[serde(default)]
    diffusion: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    due: String,
    #[serde(default)]
    measure: String,
    #[serde(default)]
    measure_status: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    status: String,
}

fn measure_status(s: &str) -> Option<MeasureStatus> {
    s.parse().ok()
}

/// The grade as the standard in force gives it: scores, weights, thresholds, level.
fn grade_block(r: &RiskRecord, standard: &GradingStandard, l: Lang) -> Markup {
    let t = &standard.thresholds;
    let w = &standard.weights;
    let adjustment = standard
        .focus_adjustment
        .get(r.focus.as_str())
        .copied()
        .unwrap_or(0);
    html! {
        section #grade {
            h2 { (l.pick("定级", "Grade")) }
            @match &r.grade {
                Some(g) => {
                    @let score = standard.score(g.scores, r.focus);
                    dl.fields {
                        dt { (l.pick("等级", "Level")) }
                        dd #grade-level data-level=(g.level.as_str()) { (labels::level_in(l, g.level)) }
                        dt { (l.pick("三项评分", "Scores")) }
                        dd #grade-scores {
                            (l.pick("影响力", "influence")) " " (g.scores.influence) " · "
                            (l.pick("关注度", "attention")) " " (g.scores.attention) " · "
                            (l.pick("扩散度", "diffusion")) " " (g.scores.diffusion)
                        }
                        dt { (l.pick("加权得分", "Weighted score")) }
                        dd #grade-score {
                            (g.scores.influence) "×" (w.influence) " + " (g.scores.attention) "×" (w.attention)
                            " + " (g.scores.diffusion) "×" (w.diffusion)
                            @if adjustment != 0 { " + (" (adjustment) ")" }
                            " = " strong { (score) }
                        }
                        dt { (l.pick("定级时间", "Graded")) }
                        dd { (officer::local_time(g.graded_at_ms)) " · " (officer::who(&g.graded_by)) " · " (l.pick("标准版本", "standard")) " " (g.standard_version) }
                    }
                }
                None => p #grade-none { (l.pick("尚未定级", "Not graded yet")) }
            }
            h3 { (l.pick("现行标准", "The standard in force")) " " span #standard-version { (standard.version) } }
            dl.fields #standard {
                dt { (l.pick("权重", "Weights")) }
                dd { (l.pick("影响力", "influence")) " " (w.influence) " · " (l.pick("关注度", "attention")) " " (w.attention) " · " (l.pick("扩散度", "diffusion")) " " (w.diffusion) }
                dt { (l.pick("本重点加减分", "This focus point adds")) }
                dd { (adjustment) }
                dt { (l.pick("阈值", "Thresholds")) }
                dd #thresholds {
                    "I ≥ " (t.level_i) " · II ≥ " (t.level_ii) " · III ≥ " (t.level_iii) " · "
                    (l.pick("以下为 IV", "below: IV"))
                }
                @if let Some(e) = &standard.escalation {
                    dt { (l.pick("单项升级", "Escalation")) }
                    dd { (l.pick("任一项 ≥ ", "any score ≥ ")) (e.at) (l.pick(" 时至少为 ", " lifts to at least ")) (e.to.as_str()) }
                }
            }
        }
    }
}

fn tables(r: &RiskRecord, today: &str, l: Lang) -> (Table, Table) {
    let mut measures = Table::new(
        "risk-measures",
        l.pick("防范措施", "Preventive measures"),
        vec!["measure", "action", "owner", "due", "status", "overdue"],
    );
    measures.empty = l.pick("暂无措施", "no measures yet");
    for m in &r.measures {
        let overdue = m.is_overdue(today);
        measures.row(vec![
            Cell::text(m.id.clone()),
            Cell::text(m.action.clone()),
            Cell::text(m.owner.clone()),
            Cell::text(m.due.clone()),
            Cell::text(labels::measure_status_in(l, m.status)),
            Cell::text(if overdue {
                l.pick("已超期", "overdue")
            } else {
                ""
            })
            .alarm(overdue),
        ]);
    }
    let mut history = Table::new(
        "risk-history",
        l.pick("历史记录", "History"),
        vec!["rev", "when", "who", "action", "summary"],
    );
    for h in &r.history {
        history.row(vec![
            Cell::number(h.rev),
            Cell::text(officer::local_time(h.at_ms)),
            Cell::text(officer::who(&h.author)),
            Cell::text(h.action.clone()),
            Cell::text(h.summary.clone()),
        ]);
    }
    (measures, history)
}

fn forms(
    staffer: &Staffer,
    r: &RiskRecord,
    f: &RiskForms,
    refusal: Option<&Refusal>,
    l: Lang,
) -> Markup {
    let action = |form: &str| format!("/register/{}/{form}", r.id);
    let score_select = |name: &'static str, label: &str, value: &str| {
        html! {
            label for={ "g-" (name) } { (label) }
            select id={ "g-" (name) } name=(name) required {
                option value="" { "—" }
                @for n in 1..=5u32 {
                    option value=(n) selected[value == n.to_string()] { (n) }
                }
            }
        }
    };
    let open: Vec<_> = r.measures.iter().filter(|m| m.status.is_open()).collect();
    let wider: Vec<Audience> = [Audience::Neighbours, Audience::Province]
        .into_iter()
        .filter(|a| a.breadth() > r.scope.breadth())
        .collect();
    let resolved = r.status.is_closed();
    html! {
        div.forms {
            @if !resolved {
                section {
                    h2 { (l.pick("定级", "Grade")) }
                    form.stack #form-grade method="post" action=(action("grade")) {
                        (layout::csrf(staffer))
                        (Refusal::show(refusal, "grade"))
                        (score_select("influence", l.pick("影响力 (1–5)", "Influence (1–5)"), &f.influence))
                        (score_select("attention", l.pick("关注度 (1–5)", "Attention (1–5)"), &f.attention))
                        (score_select("diffusion", l.pick("扩散度 (1–5)", "Diffusion (1–5)"), &f.diffusion))
                        div.actions { button type="submit" { (l.pick("定级", "Grade")) } }
                    }
                }
                section {
                    h2 { (l.pick("添加措施", "Add a measure")) }
                    form.stack #form-measure method="post" action=(action("measure")) {
                        (layout::csrf(staffer))
                        (Refusal::show(refusal, "measure"))
                        label for="m-action" { (l.pick("措施内容", "What will be done")) }
                        input #m-action name="action" required maxlength="500" value=(f.action);
                        label for="m-owner" { (l.pick("负责人", "Owner")) }
                        input #m-owner name="owner" required maxlength="200" value=(f.owner);
                        label for="m-due" { (l.pick("完成期限", "Due date")) }
                        input #m-due type="date" name="due" required min=(timespec::today()) value=(f.due);
                        div.actions { button type="submit" { (l.pick("添加", "Add")) } }
                    }
                }
            }
            @if !open.is_empty() {
                section {
                    h2 { (l.pick("更新措施状态", "A measure's status")) }
                    form.stack #form-measure-status method="post" action=(action("measure-status")) {
                        (layout::csrf(staffer))
                        (Refusal::show(refusal, "measure-status"))
                        label for="ms-measure" { (l.pick("措施", "Measure")) }
                        select #ms-measure name="measure" required {
                            @for m in &open {
                                option value=(m.id) selected[f.measure == m.id] { (m.id) " · " (m.action.chars().take(40).collect::<String>()) }
                            }
                        }
                        label for="ms-status" { (l.pick("状态", "Status")) }
                        select #ms-status name="measure_status" required {
                            @for s in [MeasureStatus::Planned, MeasureStatus::InProgress, MeasureStatus::Done] {
                                option value=(s.as_str()) selected[measure_status(&f.measure_status) == Some(s)] { (labels::measure_status_in(l, s)) }
                            }
                        }
                        div.actions { button type="submit" { (l.pick("更新", "Update")) } }
                    }
                }
            }
            // SLOT(register-ops): measure edit / cancel / done with a note go here, beside the
            // status form, once the register's new commands are merged.
            @if !wider.is_empty() {
                section {
                    h2 { (l.pick("共享", "Share")) }
                    form.stack #form-share method="post" action=(action("share")) {
                        (layout::csrf(staffer))
                        (Refusal::show(refusal, "share"))
                        label for="s-scope" { (l.pick("共享给", "Share with")) }
                        select #s-scope name="scope" required {
                            @for a in &wider {
                                option value=(a.as_str()) selected[f.scope == a.as_str()] {
                                    (match a {
                                        Audience::Neighbours => l.pick("周边兄弟县及省级", "neighbouring counties and the province"),
                                        _ => l.pick("全省各节点", "every node of the province"),
                                    })
                                }
                            }
                        }
                        p.hint { (l.pick("共享只能扩大，不能收回。", "A share only widens; it cannot be taken back.")) }
                        div.actions { button type="submit" { (l.pick("共享", "Share")) } }
                    }
                }
            }
            @if !next_statuses(r.status).is_empty() {
                section {
                    h2 { (l.pick("设置状态", "Set the status")) }
                    form.stack #form-status method="post" action=(action("status")) {
                        (layout::csrf(staffer))
                        (Refusal::show(refusal, "status"))
                        label for="st-status" { (l.pick("新状态", "New status")) }
                        select #st-status name="status" required {
                            @for s in next_statuses(r.status) {
                                option value=(s.as_str()) selected[f.status == s.as_str()] { (labels::status_in(l, *s)) }
                            }
                        }
                        div.actions { button type="submit" { (l.pick("设置", "Set")) } }
                    }
                }
            }
            // SLOT(register-ops): a situation note (with an optional re-grade), a grade
            // override with its reason, closing as resolved or ruled out, and adding or
            // removing one behaviour go here once the register's new commands are merged.
        }
    }
}

fn render(
    app: &App,
    staffer: &Staffer,
    r: &RiskRecord,
    f: &RiskForms,
    refusal: Option<&Refusal>,
) -> Markup {
    let l = Lang::current();
    let today = timespec::today();
    let (measures, history) = tables(r, &today, l);
    let own = r.origin == app.node.unit();
    let query = format!("?risk={}", r.id);
    let body = html! {
        p { a href="/register" { "← " (l.pick("风险台账", "Register")) } }
        @if let Some(lv) = r.level() {
            div.cards {
                div.card #risk-level style={ "border-top:6px solid " (labels::level_colour(lv)) } {
                    div { (l.pick("等级", "Level")) } div.n { (labels::level_in(l, lv)) }
                }
                div.card #risk-status { div { (l.pick("状态", "Status")) } div.n { (labels::status_in(l, r.status)) } }
            }
        }
        dl.fields #risk-fields {
            dt { (l.pick("编号", "Id")) } dd { (r.id) }
            dt { (l.pick("标题", "Title")) } dd #risk-title { (r.title) }
            dt { (l.pick("描述", "Description")) } dd { (r.description) }
            dt { (l.pick("舆情源", "Source")) } dd { (r.source) }
            dt { (l.pick("重点", "Focus point")) } dd { (labels::focus_in(l, r.focus)) }
            dt { (l.pick("风险行为", "Risk behaviours")) } dd { (r.behaviours.join("；")) }
            dt { (l.pick("责任部门", "Responsible department")) } dd { (r.department) }
            dt { (l.pick("状态", "Status")) } dd #risk-status-text { (labels::status_in(l, r.status)) }
            dt { (l.pick("共享范围", "Shared with")) } dd #risk-scope data-scope=(r.scope.as_str()) { (r.scope.as_str()) }
            dt { (l.pick("所属单位", "County")) } dd { (r.origin) }
            dt { (l.pick("发现时间", "Identified")) } dd { (officer::local_time(r.created_at_ms)) }
            dt { (l.pick("最近更新", "Last changed")) } dd { (officer::local_time(r.updated_at_ms)) }
        }
        (grade_block(r, &app.node.standard, l))
        (measures.html(&query))
        @if own && may_write(staffer) {
            (forms(staffer, r, f, refusal, l))
        } @else if !own {
            p.notice { (l.pick("这是其他单位共享的风险，只能查看。", "Another unit shared this risk: you can read it only.")) }
        }
        (history.html(&query))
    };
    layout::page(
        staffer,
        &format!("{} {}", l.pick("风险", "Risk"), r.id),
        "/register",
        None,
        body,
    )
}

/// GET /register/{id}.
pub async fn page(
    State(app): State<Arc<App>>,
    Extension(staffer): Extension<Staffer>,
    Path(id): Path<String>,
) -> Result<Markup, PageError> {
    require_county(&app)?;
    let r = load(&app, &id)?;
    Ok(render(&app, &staffer, &r, &RiskForms::default(), None))
}

fn score(field: &'static str, v: &str) -> Result<u32, String> {
    v.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=5).contains(n))
        .ok_or_else(|| {
            format!(
                "{field}: {}",
                Lang::current().pick("请选择 1 至 5 分", "choose 1 to 5")
            )
        })
}

/// The command form `form` asks for, or why it cannot be.
fn command(id: &str, form: &str, f: &RiskForms) -> Result<register::Command, String> {
    let l = Lang::current();
    let id = id.to_owned();
    Ok(match form {
        "grade" => register::Command::Grade {
            id,
            scores: Scores {
                influence: score("influence", &f.influence)?,
                attention: score("attention", &f.attention)?,
                diffusion: score("diffusion", &f.diffusion)?,
            },
            override_level: None,
            reason: String::new(),
        },
        "measure" => {
            let due = register::command::check_date("due", &f.due).map_err(|e| e.to_string())?;
            let today = timespec::today();
            if due < today {
                return Err(format!(
                    "due: {due} {} {today}",
                    l.pick(
                        "已经过去，期限不能早于今天",
                        "is in the past: a due date is today or later; today is"
                    )
                ));
            }
            register::Command::AddMeasure {
                id,
                action: f.action.clone(),
                owner: f.owner.clone(),
                due,
            }
        }
        "measure-status" => register::Command::UpdateMeasure {
            id,
            measure_id: f.measure.trim().to_owned(),
            status: f.measure_status.trim().parse()?,
            note: String::new(),
        },
        "share" => register::Command::Share {
            id,
            scope: match f.scope.trim() {
                "neighbours" => Audience::Neighbours,
                "province" => Audience::Province,
                other => {
                    return Err(format!(
                        "scope: {other:?}: {}",
                        l.pick("请选择共享范围", "share with neighbours or province")
                    ))
                }
            },
        },
        "status" => register::Command::SetStatus {
            id,
            status: f.status.trim().parse()?,
        },
        // SLOT(register-ops): the new register commands' forms post here too.
        _ => return Err(String::new()),
    })
}

/// POST /register/{id}/{form}: `grade`, `measure`, `measure-status`, `share` or `status`.
pub async fn submit(
    State(app): State<Arc<App>>,
    Path((id, form)): Path<(String, String)>,
    Csrf(staffer, fields): Csrf<RiskForms>,
) -> Result<Response, PageError> {
    require_county(&app)?;
    require_write(&staffer)?;
    let r = load(&app, &id)?;
    if r.origin != app.node.unit() {
        return Err(PageError::Forbidden(
            Lang::current()
                .pick(
                    "其他单位的风险只能查看",
                    "another unit's risk is read-only here",
                )
                .to_owned(),
        ));
    }
    let name: &'static str = match form.as_str() {
        "grade" => "grade",
        "measure" => "measure",
        "measure-status" => "measure-status",
        "share" => "share",
        "status" => "status",
        other => return Err(PageError::NotFound(format!("no form {other:?}"))),
    };
    let refused = |message: String| {
        let refusal = Refusal {
            form: name,
            message,
        };
        (
            StatusCode::BAD_REQUEST,
            render(&app, &staffer, &r, &fields, Some(&refusal)),
        )
            .into_response()
    };
    let command = match command(&id, name, &fields) {
        Ok(c) => c,
        Err(m) => return Ok(refused(m)),
    };
    let author = staffer.author(app.node.unit());
    match app.node.writer.submit(author.clone(), command).await {
        Ok(w) => {
            tracing::info!(risk = %id, form = name, seq = w.seq, %author, "risk changed on the county's pages");
            Ok(Redirect::to(&format!("/register/{id}#{name}-done")).into_response())
        }
        Err(e) => match PageError::from(e) {
            PageError::Bad(m) | PageError::NotFound(m) => Ok(refused(m)),
            other => Err(other),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_become_commands_and_a_past_due_date_is_refused() {
        let f = RiskForms {
            influence: "5".into(),
            attention: "4".into(),
            diffusion: "4".into(),
            ..RiskForms::default()
        };
        assert!(matches!(
            command("510104-1", "grade", &f),
            Ok(register::Command::Grade { scores, .. }) if scores.influence == 5
        ));
        let f = RiskForms {
            influence: "6".into(),
            ..f
        };
        assert!(command("510104-1", "grade", &f).is_err());
        let past = RiskForms {
            action: "约谈".into(),
            owner: "信访办".into(),
            due: "2020-01-01".into(),
            ..RiskForms::default()
        };
        let e = command("510104-1", "measure", &past).unwrap_err();
        assert!(e.contains("2020-01-01"), "{e}");
        let future = RiskForms {
            due: "2199-12-31".into(),
            ..past
        };
        assert!(command("510104-1", "measure", &future).is_ok());
        let share = RiskForms {
            scope: "local".into(),
            ..RiskForms::default()
        };
        assert!(command("510104-1", "share", &share).is_err());
    }
}
