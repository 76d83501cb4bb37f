//! The forms of one risk's page (`/register/{id}`) and the register command each becomes:
//! grade (with 综合研判, an override of the level with a written reason), a situation note
//! with an optional re-grade (动态管理), measures (add, edit, progress, complete with a note,
//! cancel with a reason), one behaviour added or removed, share (with neighbours, the
//! province, or named counties), set the status (reopen included), and close as resolved or as ruled out. Where the county requires a leader's
//! sign-off of closures, an officer's closing form becomes a proposal the leader signs off
//! ([`crate::register::sign_off`]).
//!
//! Each form posts its own fields under names no other form uses, so a refused form comes
//! back filled with what was typed and the others stay empty.

use maud::{html, Markup};
use serde::Deserialize;

use super::officer::Refusal;
use crate::domain::risk::{next_statuses, Closure};
use crate::domain::{Level, MeasureStatus, RiskStatus, Scores};
use crate::feed::Audience;
use crate::register::record::RiskRecord;
use crate::register::{self, sign_off::Proposal};
use crate::timespec;
use crate::web::labels;
use crate::web::lang::Lang;
use crate::web::layout;
use crate::web::session::Staffer;

/// The names of the forms, as `/register/{id}/{form}` spells them.
pub const FORMS: &[&str] = &[
    "grade",
    "note",
    "measure",
    "measure-edit",
    "measure-status",
    "behaviour",
    "share",
    "share-with",
    "status",
    "close",
    "sign-off",
    "return",
];

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
    /// The grade form's override (综合研判): a level, or empty for the computed one.
    #[serde(default)]
    level: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    note_influence: String,
    #[serde(default)]
    note_attention: String,
    #[serde(default)]
    note_diffusion: String,
    #[serde(default)]
    note_level: String,
    #[serde(default)]
    note_reason: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    due: String,
    #[serde(default)]
    edit_measure: String,
    #[serde(default)]
    edit_action: String,
    #[serde(default)]
    edit_owner: String,
    #[serde(default)]
    edit_due: String,
    #[serde(default)]
    measure: String,
    #[serde(default)]
    measure_status: String,
    #[serde(default)]
    measure_note: String,
    #[serde(default)]
    behaviour: String,
    /// `add` or `remove`.
    #[serde(default)]
    behaviour_change: String,
    #[serde(default)]
    scope: String,
    /// County codes, separated by commas, spaces or 、.
    #[serde(default)]
    counties: String,
    #[serde(default)]
    status: String,
    /// `resolved` or `ruled-out`.
    #[serde(default)]
    closure: String,
    /// The summary (resolved) or the reason (ruled out).
    #[serde(default)]
    close_text: String,
    /// Why a leader sends a proposed closure back.
    #[serde(default)]
    return_reason: String,
}

/// What the forms need to know beyond the risk: who is looking and the county's rules.
pub struct FormContext<'a> {
    /// The signed-in person.
    pub staffer: &'a Staffer,
    /// Whether closures need a leader's sign-off at this county.
    pub closures_need_leader: bool,
    /// The closure proposed and awaiting a leader, if any.
    pub proposal: Option<&'a Proposal>,
    /// How to show the proposer (`林晓 (lin)`).
    pub proposer: String,
    /// The other counties of the province that have joined, as (code, `锦江区 510104`).
    pub counties: Vec<(String, String)>,
}

fn score_select(name: &'static str, id: &str, label: &str, value: &str, required: bool) -> Markup {
    html! {
        label for=(id) { (label) }
        select id=(id) name=(name) required[required] {
            option value="" { "—" }
            @for n in 1..=5u32 {
                option value=(n) selected[value == n.to_string()] { (n) }
            }
        }
    }
}

fn level_select(name: &'static str, id: &str, value: &str, l: Lang) -> Markup {
    let chosen = value.parse::<Level>().ok();
    html! {
        select id=(id) name=(name) {
            option value="" { (l.pick("按评分计算", "as the scores give")) }
            @for lv in Level::ALL {
                option value=(lv.as_str()) selected[chosen == Some(lv)] { (labels::level_in(l, lv)) }
            }
        }
    }
}

/// The forms for `r`, with `f` typed into them and `refusal` beside the one refused.
pub fn forms(
    ctx: &FormContext,
    r: &RiskRecord,
    f: &RiskForms,
    refusal: Option<&Refusal>,
) -> Markup {
    let l = Lang::current();
    let staffer = ctx.staffer;
    let action = |form: &str| format!("/register/{}/{form}", r.id);
    let open: Vec<_> = r.measures.iter().filter(|m| m.status.is_open()).collect();
    let wider: Vec<Audience> = [Audience::Neighbours, Audience::Province]
        .into_iter()
        .filter(|a| a.breadth() > r.scope.breadth())
        .collect();
    let closed = r.status.is_closed();
    // Closing has its own form; the status form only steps along the mechanism or reopens.
    let statuses: Vec<RiskStatus> = next_statuses(r.status)
        .iter()
        .copied()
        .filter(|s| !s.is_closed())
        .collect();
    let leader = staffer.role.can_sign_off();
    let today = timespec::today();
    html! {
        div.forms {
            @if !closed {
                section {
                    h2 { (l.pick("定级", "Grade")) }
                    form.stack #form-grade method="post" action=(action("grade")) {
                        (layout::csrf(staffer))
                        (Refusal::show(refusal, "grade"))
                        (score_select("influence", "g-influence", l.pick("影响力 (1–5)", "Influence (1–5)"), &f.influence, true))
                        (score_select("attention", "g-attention", l.pick("关注度 (1–5)", "Attention (1–5)"), &f.attention, true))
                        (score_select("diffusion", "g-diffusion", l.pick("扩散度 (1–5)", "Diffusion (1–5)"), &f.diffusion, true))
                        label for="g-level" { (l.pick("综合研判等级（可选）", "Level by judgement (optional)")) }
                        (level_select("level", "g-level", &f.level, l))
                        label for="g-reason" { (l.pick("研判理由（改定等级时必填）", "Reason (required with a level)")) }
                        textarea #g-reason name="reason" rows="2" maxlength="2000" { (f.reason) }
                        div.actions { button type="submit" { (l.pick("定级", "Grade")) } }
                    }
                }
                section {
                    h2 { (l.pick("动态记录", "Situation note")) }
                    form.stack #form-note method="post" action=(action("note")) {
                        (layout::csrf(staffer))
                        (Refusal::show(refusal, "note"))
                        label for="n-note" { (l.pick("情况（记录时间自动填写）", "What was observed (dated when saved)")) }
                        textarea #n-note name="note" rows="3" required maxlength="2000" { (f.note) }
                        fieldset {
                            legend { (l.pick("同时重新定级（可选）", "Re-grade at the same time (optional)")) }
                            (score_select("note_influence", "n-influence", l.pick("影响力", "Influence"), &f.note_influence, false))
                            (score_select("note_attention", "n-attention", l.pick("关注度", "Attention"), &f.note_attention, false))
                            (score_select("note_diffusion", "n-diffusion", l.pick("扩散度", "Diffusion"), &f.note_diffusion, false))
                            label for="n-level" { (l.pick("综合研判等级", "Level by judgement")) }
                            (level_select("note_level", "n-level", &f.note_level, l))
                            label for="n-reason" { (l.pick("研判理由", "Reason")) }
                            input #n-reason name="note_reason" maxlength="2000" value=(f.note_reason);
                        }
                        div.actions { button type="submit" { (l.pick("记录", "Record")) } }
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
                        input #m-due type="date" name="due" required min=(today) value=(f.due);
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
                            @for s in [MeasureStatus::Planned, MeasureStatus::InProgress, MeasureStatus::Done, MeasureStatus::Cancelled] {
                                option value=(s.as_str()) selected[f.measure_status.parse::<MeasureStatus>().ok() == Some(s)] { (labels::measure_status_in(l, s)) }
                            }
                        }
                        label for="ms-note" { (l.pick("说明（完成情况；取消时必填理由）", "Note (how it was done; the reason when cancelled)")) }
                        textarea #ms-note name="measure_note" rows="2" maxlength="2000" { (f.measure_note) }
                        div.actions { button type="submit" { (l.pick("更新", "Update")) } }
                    }
                }
                section {
                    h2 { (l.pick("修改措施", "Edit a measure")) }
                    form.stack #form-measure-edit method="post" action=(action("measure-edit")) {
                        (layout::csrf(staffer))
                        (Refusal::show(refusal, "measure-edit"))
                        label for="me-measure" { (l.pick("措施", "Measure")) }
                        select #me-measure name="edit_measure" required {
                            @for m in &open {
                                option value=(m.id) selected[f.edit_measure == m.id] { (m.id) " · " (m.action.chars().take(40).collect::<String>()) }
                            }
                        }
                        p.hint { (l.pick("只填要改的项，空着的不变。", "Fill in only what changes; empty fields stay as they are.")) }
                        label for="me-action" { (l.pick("措施内容", "What will be done")) }
                        input #me-action name="edit_action" maxlength="500" value=(f.edit_action);
                        label for="me-owner" { (l.pick("负责人", "Owner")) }
                        input #me-owner name="edit_owner" maxlength="200" value=(f.edit_owner);
                        label for="me-due" { (l.pick("完成期限", "Due date")) }
                        input #me-due type="date" name="edit_due" min=(today) value=(f.edit_due);
                        div.actions { button type="submit" { (l.pick("保存", "Save")) } }
                    }
                }
            }
            @if !closed {
                section {
                    h2 { (l.pick("风险行为", "Risk behaviours")) }
                    form.stack #form-behaviour method="post" action=(action("behaviour")) {
                        (layout::csrf(staffer))
                        (Refusal::show(refusal, "behaviour"))
                        label for="b-change" { (l.pick("操作", "Change")) }
                        select #b-change name="behaviour_change" required {
                            option value="add" selected[f.behaviour_change != "remove"] { (l.pick("增加一项", "add one")) }
                            @if !r.behaviours.is_empty() {
                                option value="remove" selected[f.behaviour_change == "remove"] { (l.pick("删除一项", "remove one")) }
                            }
                        }
                        label for="b-behaviour" { (l.pick("风险行为", "Behaviour")) }
                        input #b-behaviour name="behaviour" required maxlength="200" list="b-current" value=(f.behaviour);
                        datalist #b-current { @for b in &r.behaviours { option value=(b) {} } }
                        div.actions { button type="submit" { (l.pick("保存", "Save")) } }
                    }
                }
            }
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
            @if !ctx.counties.is_empty() {
                section {
                    h2 { (l.pick("共享给指定县（区）", "Share with named counties")) }
                    form.stack #form-share-with method="post" action=(action("share-with")) {
                        (layout::csrf(staffer))
                        (Refusal::show(refusal, "share-with"))
                        label for="sw-counties" { (l.pick("县（区）代码，多个用逗号分隔", "County codes, separated by commas")) }
                        input #sw-counties name="counties" required maxlength="2000" list="sw-known" placeholder="510105, 510106" value=(f.counties);
                        datalist #sw-known { @for (code, label) in &ctx.counties { option value=(code) { (label) } } }
                        @if !r.shared_with.is_empty() {
                            p.hint #shared-with { (l.pick("已共享给：", "Already shared with: ")) (r.shared_with.join("、")) }
                        }
                        p.hint { (l.pick("指定县（区）会收到通知；同一数据通道中的其他单位也持有这条记录，但不会列入其收件箱。", "The named counties are notified; others holding the same feed keep the entry but it is not listed in their inbox.")) }
                        div.actions { button type="submit" { (l.pick("共享", "Share")) } }
                    }
                }
            }
            @if !statuses.is_empty() {
                section {
                    h2 { @if closed { (l.pick("重新打开", "Reopen")) } @else { (l.pick("设置状态", "Set the status")) } }
                    form.stack #form-status method="post" action=(action("status")) {
                        (layout::csrf(staffer))
                        (Refusal::show(refusal, "status"))
                        label for="st-status" { (l.pick("新状态", "New status")) }
                        select #st-status name="status" required {
                            @for s in &statuses {
                                option value=(s.as_str()) selected[f.status == s.as_str()] { (labels::status_in(l, *s)) }
                            }
                        }
                        div.actions { button type="submit" { (l.pick("设置", "Set")) } }
                    }
                }
            }
            @if !closed {
                @if let Some(p) = ctx.proposal {
                    section #sign-off {
                        h2 { (l.pick("待分管领导签批的关闭", "A closure awaiting the leader's sign-off")) }
                        dl.fields {
                            dt { (l.pick("关闭方式", "Closed as")) } dd #proposal-closure { (closure_label(p.closure, l)) }
                            dt { (l.pick("说明", "Text")) } dd #proposal-text { (p.text) }
                            dt { (l.pick("提出人", "Proposed by")) } dd { (ctx.proposer) " · " (super::when(p.at_ms)) }
                        }
                        @if leader {
                            form.stack #form-sign-off method="post" action=(action("sign-off")) {
                                (layout::csrf(staffer))
                                (Refusal::show(refusal, "sign-off"))
                                div.actions { button type="submit" { (l.pick("签批并关闭", "Sign off and close")) } }
                            }
                            form.stack #form-return method="post" action=(action("return")) {
                                (layout::csrf(staffer))
                                (Refusal::show(refusal, "return"))
                                label for="rt-reason" { (l.pick("退回理由", "Why it goes back")) }
                                input #rt-reason name="return_reason" required maxlength="2000" value=(f.return_reason);
                                div.actions { button type="submit" { (l.pick("退回", "Send back")) } }
                            }
                        } @else {
                            p.hint { (l.pick("分管领导签批后关闭。", "It closes when a leader signs it off.")) }
                        }
                    }
                } @else {
                    section {
                        h2 { (l.pick("关闭风险", "Close the risk")) }
                        form.stack #form-close method="post" action=(action("close")) {
                            (layout::csrf(staffer))
                            (Refusal::show(refusal, "close"))
                            label for="c-closure" { (l.pick("关闭方式", "Close as")) }
                            select #c-closure name="closure" required {
                                @for c in [Closure::Resolved, Closure::RuledOut] {
                                    option value=(c.status().as_str()) selected[f.closure == c.status().as_str()] { (closure_label(c, l)) }
                                }
                            }
                            label for="c-text" { (l.pick("化解情况总结，或排除理由", "The summary (resolved) or the reason (ruled out)")) }
                            textarea #c-text name="close_text" rows="3" required maxlength="2000" { (f.close_text) }
                            p.hint {
                                (l.pick("化解需全部措施已完成或已取消；排除（误报）可在任何状态。", "Resolving needs every measure done or cancelled; ruling out (a false alarm) works from any state."))
                                @if ctx.closures_need_leader && !leader {
                                    " " (l.pick("本县要求分管领导签批：提交后等待签批。", "This county needs a leader's sign-off: the closure waits for it."))
                                }
                            }
                            div.actions { button type="submit" { (l.pick("关闭", "Close")) } }
                        }
                    }
                }
            }
        }
    }
}

/// `化解 resolved` or `排除（误报） ruled out`, in the page's language.
pub fn closure_label(c: Closure, l: Lang) -> &'static str {
    match c {
        Closure::Resolved => l.pick("已化解", "resolved"),
        Closure::RuledOut => l.pick("排除（误报）", "ruled out (a false alarm)"),
    }
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

/// An optional level: empty is none.
fn level(field: &'static str, v: &str) -> Result<Option<Level>, String> {
    match v.trim() {
        "" => Ok(None),
        v => v.parse().map(Some).map_err(|e| format!("{field}: {e}")),
    }
}

/// A due date typed into a form: a date, today or later.
fn due(field: &'static str, v: &str) -> Result<String, String> {
    let due = register::command::check_date(field, v).map_err(|e| e.to_string())?;
    let today = timespec::today();
    if due < today {
        return Err(format!(
            "{field}: {due} {} {today}",
            Lang::current().pick(
                "已经过去，期限不能早于今天",
                "is in the past: a due date is today or later; today is"
            )
        ));
    }
    Ok(due)
}

/// Empty is "leave it as it is".
fn changed(v: &str) -> Option<String> {
    Some(v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// How a closing form asks to close.
pub fn closure(f: &RiskForms) -> Result<(Closure, String), String> {
    let closure = match f.closure.trim() {
        "resolved" => Closure::Resolved,
        "ruled-out" => Closure::RuledOut,
        other => {
            return Err(format!(
                "closure: {other:?}: {}",
                Lang::current().pick(
                    "请选择“已化解”或“排除（误报）”",
                    "choose resolved or ruled out"
                )
            ))
        }
    };
    Ok((closure, f.close_text.clone()))
}

/// Why a leader sends a proposal back (required).
pub fn return_reason(f: &RiskForms) -> Result<String, String> {
    match f.return_reason.trim() {
        "" => Err(format!(
            "return_reason: {}",
            Lang::current().pick("请写明退回理由", "say why it goes back")
        )),
        r => Ok(r.to_owned()),
    }
}

/// The command form `form` asks for, or why it cannot be. `close`, `sign-off` and `return`
/// are not here: they may wait for a leader (see the page's handler).
pub fn command(id: &str, form: &str, f: &RiskForms) -> Result<register::Command, String> {
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
            override_level: level("level", &f.level)?,
            reason: f.reason.clone(),
        },
        "note" => {
            let typed = [&f.note_influence, &f.note_attention, &f.note_diffusion]
                .iter()
                .filter(|v| !v.trim().is_empty())
                .count();
            let scores = match typed {
                0 => None,
                3 => Some(Scores {
                    influence: score("note_influence", &f.note_influence)?,
                    attention: score("note_attention", &f.note_attention)?,
                    diffusion: score("note_diffusion", &f.note_diffusion)?,
                }),
                _ => {
                    return Err(l
                        .pick(
                            "重新定级需三项评分都选",
                            "a re-grade needs all three scores",
                        )
                        .to_owned())
                }
            };
            let override_level = level("note_level", &f.note_level)?;
            if override_level.is_some() && scores.is_none() {
                return Err(l
                    .pick(
                        "综合研判等级需同时选三项评分",
                        "a level by judgement comes with the three scores",
                    )
                    .to_owned());
            }
            register::Command::Note {
                id,
                note: f.note.clone(),
                scores,
                override_level,
                reason: f.note_reason.clone(),
            }
        }
        "measure" => register::Command::AddMeasure {
            id,
            action: f.action.clone(),
            owner: f.owner.clone(),
            due: due("due", &f.due)?,
        },
        "measure-edit" => register::Command::EditMeasure {
            id,
            measure_id: f.edit_measure.trim().to_owned(),
            action: changed(&f.edit_action),
            owner: changed(&f.edit_owner),
            due: changed(&f.edit_due)
                .map(|d| due("edit_due", &d))
                .transpose()?,
        },
        "measure-status" => register::Command::UpdateMeasure {
            id,
            measure_id: f.measure.trim().to_owned(),
            status: f.measure_status.trim().parse()?,
            note: f.measure_note.clone(),
        },
        "behaviour" => {
            let b = f.behaviour.trim().to_owned();
            let (add, remove) = match f.behaviour_change.trim() {
                "remove" => (vec![], vec![b]),
                _ => (vec![b], vec![]),
            };
            register::Command::Update {
                id,
                title: None,
                description: None,
                focus: None,
                source: None,
                behaviours: None,
                add_behaviours: add,
                remove_behaviours: remove,
                department: None,
            }
        }
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
        "share-with" => register::Command::ShareWith {
            id,
            counties: f
                .counties
                .split(|c: char| c == ',' || c == '，' || c == '、' || c.is_whitespace())
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect(),
        },
        "status" => register::Command::SetStatus {
            id,
            status: f.status.trim().parse()?,
        },
        other => return Err(format!("no form {other:?}")),
    })
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
            Ok(register::Command::Grade { scores, override_level: None, .. }) if scores.influence == 5
        ));
        let judged = RiskForms {
            level: "重大".into(),
            reason: "涉及群体".into(),
            ..f.clone()
        };
        assert!(matches!(
            command("510104-1", "grade", &judged),
            Ok(register::Command::Grade { override_level: Some(Level::II), reason, .. }) if reason == "涉及群体"
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
        let edit = RiskForms {
            edit_measure: "m1".into(),
            edit_due: "2020-01-01".into(),
            ..RiskForms::default()
        };
        assert!(command("510104-1", "measure-edit", &edit).is_err());
        let edit = RiskForms {
            edit_due: String::new(),
            edit_owner: "张三".into(),
            ..edit
        };
        assert!(matches!(
            command("510104-1", "measure-edit", &edit),
            Ok(register::Command::EditMeasure { owner: Some(o), due: None, action: None, .. }) if o == "张三"
        ));
        let share = RiskForms {
            scope: "local".into(),
            ..RiskForms::default()
        };
        assert!(command("510104-1", "share", &share).is_err());
    }

    #[test]
    fn a_note_regrades_only_with_all_three_scores() {
        let note = RiskForms {
            note: "热度下降".into(),
            ..RiskForms::default()
        };
        assert!(matches!(
            command("510104-1", "note", &note),
            Ok(register::Command::Note { scores: None, .. })
        ));
        let partial = RiskForms {
            note_influence: "3".into(),
            ..note.clone()
        };
        assert!(command("510104-1", "note", &partial).is_err());
        let level_alone = RiskForms {
            note_level: "I".into(),
            ..note.clone()
        };
        assert!(command("510104-1", "note", &level_alone).is_err());
        let regrade = RiskForms {
            note_influence: "3".into(),
            note_attention: "2".into(),
            note_diffusion: "2".into(),
            ..note
        };
        assert!(matches!(
            command("510104-1", "note", &regrade),
            Ok(register::Command::Note { scores: Some(s), .. }) if s.attention == 2
        ));
    }

    #[test]
    fn one_behaviour_is_added_or_removed_and_closing_names_its_kind() {
        let add = RiskForms {
            behaviour: " 聚集 ".into(),
            behaviour_change: "add".into(),
            ..RiskForms::default()
        };
        assert!(matches!(
            command("510104-1", "behaviour", &add),
            Ok(register::Command::Update { add_behaviours, remove_behaviours, behaviours: None, .. })
                if add_behaviours == ["聚集"] && remove_behaviours.is_empty()
        ));
        let remove = RiskForms {
            behaviour_change: "remove".into(),
            ..add
        };
        assert!(matches!(
            command("510104-1", "behaviour", &remove),
            Ok(register::Command::Update { remove_behaviours, .. }) if remove_behaviours == ["聚集"]
        ));
        let close = RiskForms {
            closure: "ruled-out".into(),
            close_text: "误报".into(),
            ..RiskForms::default()
        };
        assert_eq!(closure(&close).unwrap().0, Closure::RuledOut);
        let odd = RiskForms {
            closure: "gone".into(),
            ..close
        };
        assert!(closure(&odd).is_err());
        assert!(return_reason(&RiskForms::default()).is_err());
    }
}
