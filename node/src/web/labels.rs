//! Chinese and English labels for what the dashboard shows (GLOSSARY.md's names), and the
//! colours of the levels.

use super::lang::Lang;
use crate::disposal::record::State as DisposalState;
use crate::domain::directive::ResponseStatus;
use crate::domain::disposal::{Action, Outcome};
use crate::domain::{FocusPoint, Level, MeasureStatus, RiskStatus};
use crate::services::worker::WorkerState;

/// `I 特别重大 · extremely serious`.
pub fn level(l: Level) -> String {
    format!("{} {} · {}", l.as_str(), l.label_zh(), level_en(l))
}

/// The English name of a level.
pub fn level_en(l: Level) -> &'static str {
    match l {
        Level::I => "extremely serious",
        Level::II => "serious",
        Level::III => "relatively serious",
        Level::IV => "general",
    }
}

/// The colour a level is drawn in (red, orange, yellow, blue).
pub fn level_colour(l: Level) -> &'static str {
    match l {
        Level::I => "#d7263d",
        Level::II => "#f46036",
        Level::III => "#e8c547",
        Level::IV => "#2e86de",
    }
}

/// Text that stays readable on [`level_colour`].
pub fn level_ink(l: Level) -> &'static str {
    match l {
        Level::III => "#222",
        _ => "#fff",
    }
}

/// `突发事件触发点 · emergency trigger point`.
pub fn focus(f: FocusPoint) -> String {
    format!("{} · {}", f.label_zh(), focus_en(f))
}

/// The English name of a focus point.
pub fn focus_en(f: FocusPoint) -> &'static str {
    match f {
        FocusPoint::KeyWork => "key work centre",
        FocusPoint::MajorEvent => "major event",
        FocusPoint::ActivityConcentration => "activity concentration point",
        FocusPoint::EmergencyTrigger => "emergency trigger point",
        FocusPoint::ReformMeasure => "important reform measure",
        FocusPoint::PolicyAdjustment => "policy adjustment hot spot",
    }
}

/// `发现识别 · identified`.
pub fn status(s: RiskStatus) -> String {
    let zh = match s {
        RiskStatus::Identified => "发现识别",
        RiskStatus::Graded => "风险定级",
        RiskStatus::MeasuresSet => "制定措施",
        RiskStatus::Monitoring => "动态管理",
        RiskStatus::Resolved => "化解",
        RiskStatus::RuledOut => "排除",
    };
    format!("{zh} · {}", s.as_str())
}

/// `运行中 · running`: where a worker is in its life.
pub fn worker_state(s: &WorkerState) -> String {
    let zh = match s {
        WorkerState::Running => "运行中",
        WorkerState::Stopped => "已停止",
        WorkerState::Failed(_) => "故障",
    };
    format!("{zh} · {}", s.as_str())
}

// Labels in the page's language (county pages): Chinese from the domain's `label_zh()`
// where it has one, the English names otherwise.

/// A level in `lang`: `I 特别重大` or `I extremely serious`.
pub fn level_in(lang: Lang, l: Level) -> String {
    format!("{} {}", l.as_str(), lang.pick(l.label_zh(), level_en(l)))
}

/// A focus point in `lang`.
pub fn focus_in(lang: Lang, f: FocusPoint) -> &'static str {
    match lang {
        Lang::Zh => f.label_zh(),
        Lang::En => focus_en(f),
    }
}

/// A risk status in `lang`.
pub fn status_in(lang: Lang, s: RiskStatus) -> &'static str {
    match lang {
        Lang::Zh => s.label_zh(),
        Lang::En => s.as_str(),
    }
}

/// A measure's status in `lang`.
pub fn measure_status_in(lang: Lang, s: MeasureStatus) -> &'static str {
    match lang {
        Lang::Zh => s.label_zh(),
        Lang::En => s.as_str(),
    }
}

/// A directive's answer in `lang`.
pub fn response_in(lang: Lang, s: ResponseStatus) -> &'static str {
    match lang {
        Lang::Zh => s.label_zh(),
        Lang::En => s.as_str(),
    }
}

/// What a disposal request asks, in `lang`.
pub fn action_in(lang: Lang, a: Action) -> &'static str {
    match lang {
        Lang::Zh => a.label_zh(),
        Lang::En => a.as_str(),
    }
}

/// Where a disposal request stands, in `lang`.
pub fn disposal_state_in(lang: Lang, s: DisposalState) -> &'static str {
    match (lang, s) {
        (Lang::Zh, DisposalState::Filed) => "已提交",
        (Lang::Zh, DisposalState::InReview) => "省级审核中",
        (Lang::Zh, DisposalState::Relayed) => "已转交",
        (Lang::Zh, DisposalState::Delivered) => "已送达",
        (Lang::Zh, DisposalState::Acknowledged) => "已签收",
        (Lang::Zh, DisposalState::Answered) => "已反馈",
        (Lang::Zh, DisposalState::Rejected) => "省级驳回",
        (Lang::Zh, DisposalState::Withdrawn) => "已撤回",
        (Lang::En, s) => s.as_str(),
    }
}

/// A partner's outcome, in `lang`.
pub fn outcome_in(lang: Lang, o: Outcome) -> &'static str {
    match lang {
        Lang::Zh => o.label_zh(),
        Lang::En => o.as_str(),
    }
}
