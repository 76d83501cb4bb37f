//! The triage forms of an open intake item (`/intake/{id}`): promote it into a new risk
//! (转为风险点, prefilled from the suggestion), attach it to a risk of the county (并入已有风险点),
//! dismiss it with a reason (排除). Each form posts fields no other form uses, so a refused
//! form comes back filled with what was typed.

use maud::{html, Markup};
use serde::Deserialize;

use super::officer::Refusal;
use crate::domain::FocusPoint;
use crate::intake::{Item, Suggestion};
use crate::services::intake_desk::Promotion;
use crate::web::labels;
use crate::web::lang::Lang;
use crate::web::layout;
use crate::web::session::Staffer;

/// The names of the forms, as `/intake/{id}/{form}` spells them.
pub const FORMS: &[&str] = &["promote", "attach", "dismiss"];

/// Every field of the three forms (each form sends its own).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IntakeForms {
    #[serde(default)]
    p_title: String,
    #[serde(default)]
    p_description: String,
    #[serde(default)]
    p_focus: String,
    /// One per line, or separated by 、.
    #[serde(default)]
    p_behaviours: String,
    #[serde(default)]
    p_department: String,
    /// 1-5, or empty: do not grade yet.
    #[serde(default)]
    p_influence: String,
    #[serde(default)]
    p_attention: String,
    #[serde(default)]
    p_diffusion: String,
    /// The risk to attach to.
    #[serde(default)]
    pub a_risk: String,
    /// A note for the risk's history.
    #[serde(default)]
    pub a_note: String,
    /// Why the item is not a risk.
    #[serde(default)]
    pub d_reason: String,
}

impl IntakeForms {
    /// The forms as the suggestion fills them.
    pub fn suggested(s: &Suggestion) -> Self {
        Self {
            p_title: s.title.clone(),
            p_description: s.description.clone(),
            p_focus: s.focus.map(|f| f.as_str().to_owned()).unwrap_or_default(),
            p_behaviours: s.behaviours.join("\n"),
            p_attention: s.attention.to_string(),
            p_diffusion: s.diffusion.to_string(),
            ..Self::default()
        }
    }
}

fn score(label: &str, value: &str) -> Result<Option<u32>, String> {
    match value.trim() {
        "" => Ok(None),
        v => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=5).contains(n))
            .map(Some)
            .ok_or_else(|| {
                format!(
                    "{label}{}",
                    Lang::current().pick("应为 1–5", " must be 1-5")
                )
            }),
    }
}

/// The promotion the form asks for, or what to fix.
pub fn promotion(f: &IntakeForms) -> Result<Promotion, String> {
    let l = Lang::current();
    let focus = match f.p_focus.trim() {
        "" => None,
        v => Some(
            v.parse::<FocusPoint>()
                .map_err(|e| format!("{}{e}", l.pick("重点：", "focus: ")))?,
        ),
    };
    Ok(Promotion {
        title: f.p_title.clone(),
        description: f.p_description.clone(),
        focus,
        behaviours: Some(
            f.p_behaviours
                .split(['\n', '、'])
                .map(str::trim)
                .filter(|b| !b.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
        department: f.p_department.trim().to_owned(),
        influence: score(l.pick("影响力", "influence"), &f.p_influence)?,
        attention: score(l.pick("关注度", "attention"), &f.p_attention)?,
        diffusion: score(l.pick("扩散度", "diffusion"), &f.p_diffusion)?,
    })
}

/// The risk the attach form names, or what to fix.
pub fn attach_risk(f: &IntakeForms) -> Result<String, String> {
    match f.a_risk.trim() {
        "" => Err(Lang::current()
            .pick("请填写或选择风险点编号", "give or choose a risk id")
            .to_owned()),
        r => Ok(r.to_owned()),
    }
}

fn score_select(name: &str, id: &str, label: &str, value: &str, none: &str) -> Markup {
    html! {
        label for=(id) { (label) }
        select id=(id) name=(name) {
            option value="" { (none) }
            @for n in 1..=5u32 {
                option value=(n) selected[value.trim() == n.to_string()] { (n) }
            }
        }
    }
}

/// The three forms for open `item`, with `f` typed into them and `refusal` beside the one
/// refused; `s` is what promoting would suggest, `risks` the county's risks to attach to.
pub fn forms(
    staffer: &Staffer,
    item: &Item,
    s: &Suggestion,
    f: &IntakeForms,
    refusal: Option<&Refusal>,
    risks: &[(String, String)],
) -> Markup {
    let l = Lang::current();
    let action = |form: &str| format!("/intake/{}/{form}", item.id);
    let suggested_hint = match l {
        Lang::Zh => format!(
            "由阅读/转发数建议：关注度 {}、扩散度 {}",
            s.attention, s.diffusion
        ),
        Lang::En => format!(
            "suggested from views and reposts: attention {}, diffusion {}",
            s.attention, s.diffusion
        ),
    };
    html! {
        div.forms {
            section {
                h2 { (l.pick("转为风险点", "Promote into a risk")) }
                form.stack #form-promote method="post" action=(action("promote")) {
                    (layout::csrf(staffer))
                    (Refusal::show(refusal, "promote"))
                    label for="p-title" { (l.pick("标题", "Title")) }
                    input #p-title name="p_title" maxlength="200" value=(f.p_title);
                    label for="p-description" { (l.pick("描述", "Description")) }
                    textarea #p-description name="p_description" rows="5" { (f.p_description) }
                    label for="p-focus" { (l.pick("重点", "Focus point")) }
                    select #p-focus name="p_focus" required {
                        option value="" { (l.pick("请选择", "choose one")) }
                        @for p in FocusPoint::ALL {
                            option value=(p.as_str()) selected[f.p_focus == p.as_str()] { (p.label_zh()) " · " (labels::focus_en(p)) }
                        }
                    }
                    @if s.focus.is_some() {
                        p.hint { (l.pick("由命中的关注规则建议", "suggested by the watch rule it matched")) }
                    }
                    label for="p-behaviours" { (l.pick("风险行为（每行一条，或用“、”分隔）", "Risk behaviours (one per line, or separated by 、)")) }
                    textarea #p-behaviours name="p_behaviours" rows="3" { (f.p_behaviours) }
                    label for="p-department" { (l.pick("责任部门", "Responsible department")) }
                    input #p-department name="p_department" maxlength="200" value=(f.p_department);
                    (score_select("p_influence", "p-influence", l.pick("影响力 (1–5)", "Influence (1–5)"), &f.p_influence, l.pick("暂不定级", "grade later")))
                    p.hint { (l.pick("选择影响力即同时定级；留空则稍后在风险点页面定级。", "Choosing an influence grades the risk at once; leave it empty to grade later on the risk's page.")) }
                    (score_select("p_attention", "p-attention", l.pick("关注度 (1–5)", "Attention (1–5)"), &f.p_attention, l.pick("按建议", "as suggested")))
                    (score_select("p_diffusion", "p-diffusion", l.pick("扩散度 (1–5)", "Diffusion (1–5)"), &f.p_diffusion, l.pick("按建议", "as suggested")))
                    p.hint #promote-suggested { (suggested_hint) }
                    div.actions { button type="submit" { (l.pick("转为风险点", "Promote")) } }
                }
            }
            section {
                h2 { (l.pick("并入已有风险点", "Attach to a risk")) }
                form.stack #form-attach method="post" action=(action("attach")) {
                    (layout::csrf(staffer))
                    (Refusal::show(refusal, "attach"))
                    label for="a-risk" { (l.pick("风险点编号", "Risk id")) }
                    input #a-risk name="a_risk" required maxlength="40" list="a-risks" value=(f.a_risk) placeholder="510104-17";
                    datalist #a-risks {
                        @for (id, title) in risks {
                            option value=(id) { (id) " " (title) }
                        }
                    }
                    @if !risks.is_empty() {
                        p.hint { (l.pick("可从本县最近的未关闭风险点中选择", "or pick one of the county's newest open risks")) }
                    }
                    label for="a-note" { (l.pick("说明（可选）", "Note (optional)")) }
                    textarea #a-note name="a_note" rows="2" maxlength="2000" { (f.a_note) }
                    div.actions { button type="submit" { (l.pick("并入", "Attach")) } }
                }
            }
            section {
                h2 { (l.pick("排除", "Dismiss")) }
                form.stack #form-dismiss method="post" action=(action("dismiss")) {
                    (layout::csrf(staffer))
                    (Refusal::show(refusal, "dismiss"))
                    label for="d-reason" { (l.pick("排除理由（必填）", "Why this is not a risk (required)")) }
                    textarea #d-reason name="d_reason" rows="2" required maxlength="2000" { (f.d_reason) }
                    div.actions { button.secondary type="submit" { (l.pick("排除", "Dismiss")) } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_become_promotions() {
        let f = IntakeForms {
            p_title: "拆迁".into(),
            p_focus: "重要改革举措".into(),
            p_behaviours: "聚集、上访\n网上炒作".into(),
            p_influence: "3".into(),
            ..IntakeForms::default()
        };
        let p = promotion(&f).unwrap();
        assert!(p.focus.is_some());
        assert_eq!(
            p.behaviours.unwrap(),
            vec!["聚集".to_owned(), "上访".into(), "网上炒作".into()]
        );
        assert_eq!(p.influence, Some(3));
        assert_eq!(p.attention, None);
        let bad = IntakeForms {
            p_influence: "7".into(),
            ..IntakeForms::default()
        };
        assert!(promotion(&bad).is_err());
        assert!(attach_risk(&IntakeForms::default()).is_err());
    }
}
