//! Chinese and English labels for what the dashboard shows (GLOSSARY.md's names), and the
//! colours of the levels.

use crate::domain::{FocusPoint, Level, RiskStatus};
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
