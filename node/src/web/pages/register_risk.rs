//! One risk of the county's register (`/register/{id}`): every field, its grade with the
//! standard in force (the three scores, the weights, the thresholds, the computed level and
//! any level set by judgement with its reason), measures with the overdue ones flagged, how
//! it was closed, the history (who, by name and unit; when, in local time), and the forms
//! ([`super::register_forms`]). Every write goes through the node's writer as the signed-in
//! person; a refused one shows the page again with the reason beside its form and what was
//! typed still in it.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use maud::{html, Markup};

use super::officer::{may_write, require_county, require_write, People, Refusal};
use super::register_forms::{self, closure_label, FormContext, RiskForms, FORMS};
use super::{when, PageError};
use crate::domain::GradingStandard;
use crate::feed::Audience;
use crate::register::record::RiskRecord;
use crate::register::sign_off::{self, Proposal, Returned};
use crate::register::{self, read, view, RegisterError};
use crate::sync::directory;
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
    let store = app.node.store.as_ref();
    let r = read::risk(store, id).map_err(|e| match e {
        RegisterError::RiskNotFound(_) => PageError::NotFound(format!(
            "{id}: {}",
            Lang::current().pick("本节点没有这条风险", "this node holds no such risk")
        )),
        RegisterError::Store(s) => PageError::Store(s),
        other => PageError::Internal(other.to_string()),
    })?;
    let unit = app.node.unit();
    if r.origin != unit {
        // Held because a feed reaching named counties reached this one too: not meant here.
        let neighbour = directory::declared(store, &r.origin)?.is_some_and(|n| n.contains(unit));
        if !r.meant_for(unit, neighbour) {
            return Err(PageError::NotFound(format!(
                "{id}: {}",
                Lang::current().pick("本节点没有这条风险", "this node holds no such risk")
            )));
        }
    }
    Ok(r)
}

/// The grade as the standard in force gives it: scores, weights, thresholds, level.
fn grade_block(r: &RiskRecord, standard: &GradingStandard, people: &People, l: Lang) -> Markup {
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
                        dd #grade-level data-level=(g.effective_level().as_str()) { (labels::level_in(l, g.effective_level())) }
                        @if let Some(o) = g.override_level {
                            dt { (l.pick("综合研判", "Set by judgement")) }
                            dd #grade-override data-level=(o.as_str()) {
                                (labels::level_in(l, o)) " · " (l.pick("理由：", "because: ")) (g.reason)
                            }
                            dt { (l.pick("按评分计算", "The scores give")) }
                            dd #grade-computed data-level=(g.level.as_str()) { (labels::level_in(l, g.level)) }
                        }
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
                        dd { (when(g.graded_at_ms)) " · " (people.who(&g.graded_by)) " · " (l.pick("标准版本", "standard")) " " (g.standard_version) }
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

fn tables(r: &RiskRecord, today: &str, people: &People, l: Lang) -> (Table, Table) {
    let mut measures = Table::new(
        "risk-measures",
        l.pick("防范措施", "Preventive measures"),
        vec![
            "measure", "action", "owner", "due", "status", "overdue", "note",
        ],
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
            Cell::text(m.note.clone()),
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
            Cell::text(when(h.at_ms)),
            Cell::text(people.who(&h.author)),
            Cell::text(h.action.clone()),
            Cell::text(h.summary.clone()),
        ]);
    }
    (measures, history)
}

/// Who a risk is shared with, for people.
fn scope_label(scope: Audience, l: Lang) -> &'static str {
    match scope {
        Audience::Local => l.pick("仅本县", "this county only"),
        Audience::Neighbours => {
            l.pick("周边兄弟县及省级", "neighbouring counties and the province")
        }
        Audience::Province => l.pick("全省各节点", "every node of the province"),
        Audience::Upstream => l.pick("仅省级", "the province only"),
    }
}

/// The closure proposed for `r`, waiting or sent back, unless the risk was closed since.
fn proposal_of(app: &App, r: &RiskRecord) -> Result<Option<Proposal>, PageError> {
    let p = sign_off::get(app.node.store.as_ref(), &r.id)
        .map_err(|e| PageError::Internal(e.to_string()))?;
    Ok(p.filter(|p| !p.overtaken(r)))
}

fn render(
    app: &App,
    staffer: &Staffer,
    r: &RiskRecord,
    f: &RiskForms,
    refusal: Option<&Refusal>,
) -> Result<Markup, PageError> {
    let l = Lang::current();
    let today = timespec::today();
    let people = People::of(app)?;
    let (measures, history) = tables(r, &today, &people, l);
    let own = r.origin == app.node.unit();
    let query = format!("?risk={}", r.id);
    let proposal = proposal_of(app, r)?;
    let waiting = proposal.as_ref().filter(|p| p.waiting());
    let ctx = FormContext {
        staffer,
        closures_need_leader: app.node.sign_off.closures,
        proposal: waiting,
        proposer: waiting.map(|p| people.who(&p.by)).unwrap_or_default(),
        counties: directory::known_counties(app.node.store.as_ref())?
            .into_iter()
            .filter(|c| c != app.node.unit())
            .map(|c| {
                let label = people.unit(&c);
                (c, label)
            })
            .collect(),
    };
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
            dt { (l.pick("风险行为", "Risk behaviours")) } dd #risk-behaviours { (r.behaviours.join("；")) }
            dt { (l.pick("责任部门", "Responsible department")) } dd { (r.department) }
            dt { (l.pick("状态", "Status")) } dd #risk-status-text data-status=(r.status.as_str()) { (labels::status_in(l, r.status)) }
            dt { (l.pick("共享范围", "Shared with")) } dd #risk-scope data-scope=(r.scope.as_str()) { (scope_label(r.scope, l)) }
            dt { (l.pick("所属单位", "County")) } dd { (people.unit(&r.origin)) }
            dt { (l.pick("发现时间", "Identified")) } dd { (when(r.created_at_ms)) }
            dt { (l.pick("最近更新", "Last changed")) } dd { (when(r.updated_at_ms)) }
            @if let Some(c) = &r.closure {
                dt { (l.pick("关闭", "Closed")) }
                dd #risk-closure data-closure=(c.closure.as_str()) {
                    (closure_label(c.closure, l)) " · " (c.text) " · " (people.who(&c.by)) " · " (when(c.at_ms))
                }
            }
        }
        @if let Some(Returned { by, reason, at_ms }) = proposal.as_ref().and_then(|p| p.returned.as_ref()) {
            p.notice #proposal-returned role="status" {
                (l.pick("关闭申请已被退回：", "The closure was sent back: ")) (reason) " · " (people.who(by)) " · " (when(*at_ms))
            }
        }
        (grade_block(r, &app.node.standard, &people, l))
        (measures.html(&query))
        @if own && may_write(staffer) {
            (register_forms::forms(&ctx, r, f, refusal))
        } @else if !own {
            p.notice { (l.pick("这是其他单位共享的风险，只能查看。", "Another unit shared this risk: you can read it only.")) }
        }
        (history.html(&query))
    };
    Ok(layout::page(
        staffer,
        &format!("{} {}", l.pick("风险", "Risk"), r.id),
        "/register",
        None,
        body,
    ))
}

/// GET /register/{id}.
pub async fn page(
    State(app): State<Arc<App>>,
    Extension(staffer): Extension<Staffer>,
    Path(id): Path<String>,
) -> Result<Markup, PageError> {
    require_county(&app)?;
    let r = load(&app, &id)?;
    render(&app, &staffer, &r, &RiskForms::default(), None)
}

/// What a posted form does: a register command, or a step of the leader's sign-off.
enum Step {
    /// Submit this command as the person.
    Write(register::Command),
    /// Keep the closure as a proposal for a leader.
    Propose(Proposal),
    /// Send the waiting proposal back, with why.
    Return(String),
}

/// What `form` asks of the county for `staffer`, or why it cannot be.
fn step(
    app: &App,
    staffer: &Staffer,
    r: &RiskRecord,
    form: &str,
    f: &RiskForms,
) -> Result<Step, String> {
    let l = Lang::current();
    let leader = staffer.role.can_sign_off();
    let waiting = || match proposal_of(app, r) {
        Ok(Some(p)) if p.waiting() => Ok(p),
        Ok(_) => Err(l
            .pick("没有待签批的关闭申请", "no closure waits for a sign-off")
            .to_owned()),
        Err(e) => Err(e.to_string()),
    };
    let not_leader = || {
        l.pick(
            "只有分管领导可以签批或退回",
            "only a leader signs off or sends back",
        )
        .to_owned()
    };
    Ok(match form {
        "close" => {
            let (closure, text) = register_forms::closure(f)?;
            if app.node.sign_off.closures && !leader {
                // Refused now what the leader's sign-off would be refused later.
                let text = register::command::check_closing(r, closure, &text)
                    .map_err(|e| format!("{}: {e}", l.pick("不能关闭", "cannot close")))?;
                Step::Propose(Proposal {
                    closure,
                    text,
                    by: staffer.author(app.node.unit()),
                    at_ms: timespec::now_ms(),
                    rev: r.revs,
                    returned: None,
                })
            } else {
                Step::Write(register::Command::Close {
                    id: r.id.clone(),
                    closure,
                    text,
                })
            }
        }
        "sign-off" => {
            if !leader {
                return Err(not_leader());
            }
            let p = waiting()?;
            let people = People::of(app).map_err(|e| e.to_string())?;
            Step::Write(register::Command::Close {
                id: r.id.clone(),
                closure: p.closure,
                text: p.closing_text(&people.who(&p.by)),
            })
        }
        "return" => {
            if !leader {
                return Err(not_leader());
            }
            waiting()?;
            Step::Return(register_forms::return_reason(f)?)
        }
        other => Step::Write(register_forms::command(&r.id, other, f)?),
    })
}

/// POST /register/{id}/{form}: one of [`FORMS`].
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
    let Some(name) = FORMS.iter().copied().find(|f| *f == form) else {
        return Err(PageError::NotFound(format!("no form {form:?}")));
    };
    let refused = |message: String| -> Result<Response, PageError> {
        let refusal = Refusal {
            form: name,
            message,
        };
        let page = render(&app, &staffer, &r, &fields, Some(&refusal))?;
        Ok((StatusCode::BAD_REQUEST, page).into_response())
    };
    let author = staffer.author(app.node.unit());
    let store = app.node.store.as_ref();
    let internal = |e: sign_off::SignOffError| PageError::Internal(e.to_string());
    match step(&app, &staffer, &r, name, &fields) {
        Err(m) => refused(m),
        Ok(Step::Propose(p)) => {
            sign_off::propose(store, &id, &p).map_err(internal)?;
            tracing::info!(risk = %id, %author, closure = p.closure.as_str(), "closure proposed for a leader's sign-off");
            Ok(Redirect::to(&format!("/register/{id}#sign-off")).into_response())
        }
        Ok(Step::Return(reason)) => {
            if let Some(mut p) = sign_off::get(store, &id).map_err(internal)? {
                p.returned = Some(Returned {
                    by: author.clone(),
                    reason,
                    at_ms: timespec::now_ms(),
                });
                sign_off::propose(store, &id, &p).map_err(internal)?;
            }
            tracing::info!(risk = %id, %author, "closure sent back");
            Ok(Redirect::to(&format!("/register/{id}#proposal-returned")).into_response())
        }
        Ok(Step::Write(command)) => match app.node.writer.submit(author.clone(), command).await {
            Ok(w) => {
                if name == "close" || name == "sign-off" {
                    sign_off::clear(store, &id).map_err(internal)?;
                }
                tracing::info!(risk = %id, form = name, seq = w.seq, %author, "risk changed on the county's pages");
                Ok(Redirect::to(&format!("/register/{id}#{name}-done")).into_response())
            }
            Err(e) => match PageError::from(e) {
                PageError::Bad(m) | PageError::NotFound(m) => refused(m),
                other => Err(other),
            },
        },
    }
}
