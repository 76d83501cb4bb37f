//! Risk items: focus points, the three-step mechanism (identified → graded → measures set),
//! dynamic management (monitoring) and resolution, with the transitions allowed between them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The value of `all` whose name or Chinese label (`活动集中点` for `activity-concentration`)
/// is `s`, or an error that lists each name with its label: officers type the words they use.
pub(crate) fn parse_named_or_label<T: Copy>(
    all: &[T],
    name: fn(T) -> &'static str,
    label: fn(T) -> &'static str,
    s: &str,
    what: &str,
) -> Result<T, String> {
    let s = s.trim();
    all.iter()
        .copied()
        .find(|v| name(*v) == s || label(*v) == s)
        .ok_or_else(|| {
            let names: Vec<String> = all
                .iter()
                .map(|v| format!("{} ({})", name(*v), label(*v)))
                .collect();
            format!("unknown {what} {s:?}: expected one of {}", names.join(", "))
        })
}

/// The six focus points (重点).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FocusPoint {
    /// 重点工作中心.
    KeyWork,
    /// 重大事件.
    MajorEvent,
    /// 活动集中点.
    ActivityConcentration,
    /// 突发事件触发点.
    EmergencyTrigger,
    /// 重要改革举措.
    ReformMeasure,
    /// 政策调整热点难点.
    PolicyAdjustment,
}

impl FocusPoint {
    /// Every focus point, in the source documents' order.
    pub const ALL: [FocusPoint; 6] = [
        Self::KeyWork,
        Self::MajorEvent,
        Self::ActivityConcentration,
        Self::EmergencyTrigger,
        Self::ReformMeasure,
        Self::PolicyAdjustment,
    ];

    /// The CLI and config name, e.g. `emergency-trigger`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::KeyWork => "key-work",
            Self::MajorEvent => "major-event",
            Self::ActivityConcentration => "activity-concentration",
            Self::EmergencyTrigger => "emergency-trigger",
            Self::ReformMeasure => "reform-measure",
            Self::PolicyAdjustment => "policy-adjustment",
        }
    }

    /// The Chinese label.
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::KeyWork => "重点工作中心",
            Self::MajorEvent => "重大事件",
            Self::ActivityConcentration => "活动集中点",
            Self::EmergencyTrigger => "突发事件触发点",
            Self::ReformMeasure => "重要改革举措",
            Self::PolicyAdjustment => "政策调整热点难点",
        }
    }
}

impl fmt::Display for FocusPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FocusPoint {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_named_or_label(&Self::ALL, Self::as_str, Self::label_zh, s, "focus point")
    }
}

/// Where a risk item stands (风险状态).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RiskStatus {
    /// 发现识别: found, not yet graded.
    Identified,
    /// 风险定级: graded.
    Graded,
    /// 制定措施: preventive measures set.
    MeasuresSet,
    /// 动态管理: watched and re-graded as conditions change.
    Monitoring,
    /// 化解: defused.
    Resolved,
    /// 排除: a false alarm (误报), closed from any status without grade or measure.
    RuledOut,
}

impl RiskStatus {
    /// Every status, in order.
    pub const ALL: [RiskStatus; 6] = [
        Self::Identified,
        Self::Graded,
        Self::MeasuresSet,
        Self::Monitoring,
        Self::Resolved,
        Self::RuledOut,
    ];

    /// The CLI name, e.g. `measures-set`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Identified => "identified",
            Self::Graded => "graded",
            Self::MeasuresSet => "measures-set",
            Self::Monitoring => "monitoring",
            Self::Resolved => "resolved",
            Self::RuledOut => "ruled-out",
        }
    }
    /// The Chinese label officers know it by, e.g. `制定措施`.
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Identified => "发现识别",
            Self::Graded => "风险定级",
            Self::MeasuresSet => "制定措施",
            Self::Monitoring => "动态管理",
            Self::Resolved => "化解",
            Self::RuledOut => "排除",
        }
    }

    /// Closed (resolved or ruled out): no longer an open risk, counted apart from the active.
    pub fn is_closed(self) -> bool {
        matches!(self, Self::Resolved | Self::RuledOut)
    }
}

impl fmt::Display for RiskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RiskStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_named_or_label(&Self::ALL, Self::as_str, Self::label_zh, s, "status")
    }
}

/// Progress of one preventive measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MeasureStatus {
    /// 计划: agreed, not started.
    Planned,
    /// 进行中: under way.
    InProgress,
    /// 完成: carried out.
    Done,
    /// 取消: dropped, with a reason (no longer needed, replaced by another).
    Cancelled,
}

impl MeasureStatus {
    /// Every measure status, in order.
    pub const ALL: [MeasureStatus; 4] =
        [Self::Planned, Self::InProgress, Self::Done, Self::Cancelled];

    /// The CLI name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Planned => "planned",
            Self::InProgress => "in-progress",
            Self::Done => "done",
            Self::Cancelled => "cancelled",
        }
    }

    /// The Chinese label, e.g. `取消`.
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Planned => "计划",
            Self::InProgress => "进行中",
            Self::Done => "完成",
            Self::Cancelled => "取消",
        }
    }

    /// Still to be carried out: planned or in progress (a risk is not resolved while one is).
    pub fn is_open(self) -> bool {
        matches!(self, Self::Planned | Self::InProgress)
    }
}

impl fmt::Display for MeasureStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MeasureStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_named_or_label(
            &Self::ALL,
            Self::as_str,
            Self::label_zh,
            s,
            "measure status",
        )
    }
}

/// Whether `due` (YYYY-MM-DD) lies before `today` (YYYY-MM-DD, where the people are): the
/// dates are written with fixed widths, so they compare as text.
pub fn due_before(due: &str, today: &str) -> bool {
    due < today
}

/// How a risk is closed (`fenghuo risk close`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Closure {
    /// 化解: defused, every measure done or cancelled, with a summary.
    Resolved,
    /// 排除: a false alarm (误报), from any status, with a reason.
    RuledOut,
}

impl Closure {
    /// The status the risk is left in.
    pub fn status(self) -> RiskStatus {
        match self {
            Self::Resolved => RiskStatus::Resolved,
            Self::RuledOut => RiskStatus::RuledOut,
        }
    }

    /// The CLI name.
    pub fn as_str(self) -> &'static str {
        self.status().as_str()
    }
}

/// Why a status change is impossible.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TransitionError {
    /// Already there.
    #[error("the risk is already {0}")]
    Unchanged(RiskStatus),
    /// Grading comes before `graded`.
    #[error("cannot move to graded: the risk has not been graded yet (use `risk grade` first)")]
    NotGraded,
    /// A measure comes before `measures-set`.
    #[error("cannot move to measures-set: the risk has no preventive measure yet (use `risk measure add` first)")]
    NoMeasures,
    /// A risk is resolved only once its measures are carried out or cancelled.
    #[error("cannot resolve: measure(s) {} still open (mark each done with `risk measure done` or cancel it with `risk measure cancel`)", .0.join(", "))]
    OpenMeasures(Vec<String>),
    /// Resolving and ruling out have their own command, which asks for the why.
    #[error("use `fenghuo risk close ID --resolved --summary \"…\"` (or `--ruled-out --reason \"…\"` for a false alarm) to move a risk to {0}: closing records why")]
    UseClose(RiskStatus),
    /// Steps cannot be skipped or walked back.
    #[error("cannot move from {from} to {to}: allowed from {from} is {allowed}")]
    NotAllowed {
        /// Current status.
        from: RiskStatus,
        /// Requested status.
        to: RiskStatus,
        /// What would be allowed, for the message.
        allowed: String,
    },
}

/// What a transition check needs to know about the risk.
#[derive(Debug, Clone, Copy)]
pub struct TransitionFacts {
    /// A grade has been recorded.
    pub graded: bool,
    /// At least one measure exists.
    pub has_measures: bool,
}

/// The statuses reachable from `from` in one explicit step.
pub fn next_statuses(from: RiskStatus) -> &'static [RiskStatus] {
    use RiskStatus::*;
    match from {
        Identified => &[Graded],
        Graded => &[MeasuresSet],
        MeasuresSet => &[Monitoring, Resolved],
        Monitoring => &[Resolved],
        // Reopening a closed risk puts it back under dynamic management.
        Resolved | RuledOut => &[Monitoring],
    }
}

/// Checks an explicit status change: one step forward along the mechanism (measures-set may
/// go straight to resolved), or reopening a resolved risk into monitoring.
pub fn check_transition(
    from: RiskStatus,
    to: RiskStatus,
    facts: TransitionFacts,
) -> Result<(), TransitionError> {
    if from == to {
        return Err(TransitionError::Unchanged(from));
    }
    if to == RiskStatus::Graded && !facts.graded {
        return Err(TransitionError::NotGraded);
    }
    if to == RiskStatus::MeasuresSet && !facts.has_measures {
        return Err(TransitionError::NoMeasures);
    }
    let allowed = next_statuses(from);
    if allowed.contains(&to) {
        Ok(())
    } else {
        Err(TransitionError::NotAllowed {
            from,
            to,
            allowed: allowed
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" or "),
        })
    }
}

/// Checks closing a risk in status `from` as `closure`: resolving needs measures-set or
/// monitoring and no open measure (`open` names those still planned or in progress); ruling
/// out (a false alarm) is possible from any status but ruled-out itself.
pub fn check_close(
    from: RiskStatus,
    closure: Closure,
    open: &[String],
) -> Result<(), TransitionError> {
    let to = closure.status();
    if from == to {
        return Err(TransitionError::Unchanged(from));
    }
    if closure == Closure::Resolved {
        if !matches!(from, RiskStatus::MeasuresSet | RiskStatus::Monitoring) {
            return Err(TransitionError::NotAllowed {
                from,
                to,
                allowed: next_statuses(from)
                    .iter()
                    .filter(|s| **s != RiskStatus::Resolved)
                    .map(|s| s.as_str())
                    .chain([RiskStatus::RuledOut.as_str()])
                    .collect::<Vec<_>>()
                    .join(" or "),
            });
        }
        if !open.is_empty() {
            return Err(TransitionError::OpenMeasures(open.to_vec()));
        }
    }
    Ok(())
}

/// What the commands of other areas learn of a risk they name (the register answers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskRef {
    /// Division code of the owning county (or province).
    pub origin: String,
    /// Short title.
    pub title: String,
    /// The current level, if graded.
    pub level: Option<crate::domain::Level>,
}

/// Looks up the risks a command names, so areas need not read each other's views.
pub trait RiskLookup {
    /// The risk `id`, if this node holds it; the error is a storage failure, for people.
    fn risk(&self, id: &str) -> Result<Option<RiskRef>, String>;
}

/// The key two sources share when they point at the same thing: a URL without scheme,
/// `www.`, fragment, tracking parameters and trailing slash, its host in lower case; or, with
/// no URL, the text in lower case with single spaces (a platform account such as
/// `weibo @zhang_san`). `None` for an empty source.
pub fn source_key(source: &str) -> Option<String> {
    let url = source
        .split_whitespace()
        .find(|w| w.starts_with("http://") || w.starts_with("https://"));
    if let Some(url) = url {
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        let rest = rest.split('#').next().unwrap_or_default();
        let (host_path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (host, path) = host_path.split_once('/').unwrap_or((host_path, ""));
        let host = host.to_lowercase();
        let host = host.strip_prefix("www.").unwrap_or(&host);
        let path = path.trim_end_matches('/');
        let query: Vec<&str> = query
            .split('&')
            .filter(|p| !p.is_empty() && !p.starts_with("utm_"))
            .collect();
        let mut key = host.to_owned();
        if !path.is_empty() {
            key.push('/');
            key.push_str(path);
        }
        if !query.is_empty() {
            key.push('?');
            key.push_str(&query.join("&"));
        }
        return (!host.is_empty()).then_some(key);
    }
    let text = source
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use RiskStatus::*;

    const BOTH: TransitionFacts = TransitionFacts {
        graded: true,
        has_measures: true,
    };

    #[test]
    fn the_mechanism_walks_forward() {
        for (from, to) in [
            (Identified, Graded),
            (Graded, MeasuresSet),
            (MeasuresSet, Monitoring),
            (Monitoring, Resolved),
            (MeasuresSet, Resolved),
            (Resolved, Monitoring),
        ] {
            assert_eq!(check_transition(from, to, BOTH), Ok(()), "{from} -> {to}");
        }
    }

    #[test]
    fn skipping_and_walking_back_are_refused() {
        for (from, to) in [
            (Identified, MeasuresSet),
            (Identified, Resolved),
            (Graded, Monitoring),
            (Monitoring, Identified),
            (Resolved, Identified),
            (Monitoring, Graded),
        ] {
            assert!(
                matches!(
                    check_transition(from, to, BOTH),
                    Err(TransitionError::NotAllowed { .. })
                ),
                "{from} -> {to}"
            );
        }
    }

    #[test]
    fn preconditions_have_their_own_reasons() {
        let none = TransitionFacts {
            graded: false,
            has_measures: false,
        };
        assert_eq!(
            check_transition(Identified, Graded, none),
            Err(TransitionError::NotGraded)
        );
        assert_eq!(
            check_transition(Graded, MeasuresSet, none),
            Err(TransitionError::NoMeasures)
        );
        assert_eq!(
            check_transition(Graded, Graded, BOTH),
            Err(TransitionError::Unchanged(Graded))
        );
    }

    #[test]
    fn names_round_trip() {
        for f in FocusPoint::ALL {
            assert_eq!(f.as_str().parse::<FocusPoint>().unwrap(), f);
        }
        for s in RiskStatus::ALL {
            assert_eq!(s.as_str().parse::<RiskStatus>().unwrap(), s);
        }
        assert!("key work".parse::<FocusPoint>().is_err());
    }

    #[test]
    fn closing_resolves_without_open_measures_or_rules_out_from_anywhere() {
        use Closure::*;
        let none: Vec<String> = Vec::new();
        for from in [MeasuresSet, Monitoring] {
            assert_eq!(check_close(from, Resolved, &none), Ok(()), "{from}");
        }
        for from in [Identified, Graded] {
            assert!(
                matches!(
                    check_close(from, Resolved, &none),
                    Err(TransitionError::NotAllowed { .. })
                ),
                "{from}"
            );
        }
        let open = vec!["m2".to_owned()];
        assert_eq!(
            check_close(Monitoring, Resolved, &open),
            Err(TransitionError::OpenMeasures(open.clone()))
        );
        for from in [
            Identified,
            Graded,
            MeasuresSet,
            Monitoring,
            RiskStatus::Resolved,
        ] {
            assert_eq!(check_close(from, RuledOut, &open), Ok(()), "{from}");
        }
        assert_eq!(
            check_close(RiskStatus::RuledOut, RuledOut, &none),
            Err(TransitionError::Unchanged(RiskStatus::RuledOut))
        );
        // Reopening from either closed status, and ruled-out is reached by closing only.
        for from in [RiskStatus::Resolved, RiskStatus::RuledOut] {
            assert_eq!(check_transition(from, Monitoring, BOTH), Ok(()), "{from}");
        }
        assert!(check_transition(Monitoring, RiskStatus::RuledOut, BOTH).is_err());
        let e = TransitionError::OpenMeasures(vec!["m1".into(), "m3".into()]).to_string();
        assert!(e.contains("m1, m3 still open"), "{e}");
    }

    #[test]
    fn measure_statuses_have_chinese_labels_and_take_them() {
        for s in MeasureStatus::ALL {
            assert_eq!(s.as_str().parse::<MeasureStatus>(), Ok(s));
            assert_eq!(s.label_zh().parse::<MeasureStatus>(), Ok(s));
        }
        assert_eq!(
            "取消".parse::<MeasureStatus>(),
            Ok(MeasureStatus::Cancelled)
        );
        assert!(MeasureStatus::InProgress.is_open() && !MeasureStatus::Cancelled.is_open());
        assert_eq!(RiskStatus::RuledOut.label_zh(), "排除");
        assert_eq!("排除".parse::<RiskStatus>(), Ok(RiskStatus::RuledOut));
        assert!(RiskStatus::RuledOut.is_closed() && !RiskStatus::Monitoring.is_closed());
    }

    #[test]
    fn vocabularies_take_the_chinese_labels_too() {
        assert_eq!(
            "活动集中点".parse::<FocusPoint>(),
            Ok(FocusPoint::ActivityConcentration)
        );
        assert_eq!(
            " 制定措施 ".parse::<RiskStatus>(),
            Ok(RiskStatus::MeasuresSet)
        );
        assert_eq!(
            "重大".parse::<crate::domain::Level>(),
            Ok(crate::domain::Level::II)
        );
        assert_eq!(
            "ii".parse::<crate::domain::Level>(),
            Ok(crate::domain::Level::II)
        );
        for focus in FocusPoint::ALL {
            assert_eq!(focus.label_zh().parse::<FocusPoint>(), Ok(focus));
            assert_eq!(focus.as_str().parse::<FocusPoint>(), Ok(focus));
        }
        for status in RiskStatus::ALL {
            assert_eq!(status.label_zh().parse::<RiskStatus>(), Ok(status));
        }
        let err = "活动".parse::<FocusPoint>().err().unwrap_or_default();
        assert!(err.contains("activity-concentration (活动集中点)"), "{err}");
    }
}
