//! Watch rules (关注规则): a county's keyword patterns, each with the focus point an item
//! matching it suggests (`拆迁|补偿` → reform measure). Matching items are flagged with the
//! rule's focus point, for the officer's triage.
//!
//! A pattern is a `regex` expression (in practice an alternation of keywords), matched
//! without regard to Latin case against the item's text and its matched keywords. The regex
//! crate runs in linear time, and a size limit bounds what a pattern may compile to; a
//! pattern that matches empty text would flag everything and is refused.

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

use crate::domain::FocusPoint;
use crate::event::check::{typed_required, ContentError, Lines, MAX_SHORT};

/// Most bytes a compiled pattern may take.
const COMPILED_LIMIT: usize = 1 << 20;

/// Why a watch rule is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// The pattern is empty, too long or holds a refused character.
    #[error(transparent)]
    Content(#[from] ContentError),
    /// The pattern does not compile.
    #[error("pattern: {0}")]
    Pattern(String),
    /// The pattern matches empty text, so it would flag every item.
    #[error("pattern: {0:?} matches empty text (an empty alternative?)")]
    MatchesEmpty(String),
    /// The focus point is none of the six.
    #[error("focus: {0}")]
    Focus(String),
}

/// A flag an item carries: the pattern it matched and the focus point that suggests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flag {
    /// The rule's pattern, as written.
    pub pattern: String,
    /// The rule's focus point.
    pub focus: FocusPoint,
}

/// One watch rule.
#[derive(Debug, Clone)]
pub struct WatchRule {
    /// As written (`拆迁|补偿`): what flags and pages show.
    pattern: String,
    /// Compiled once.
    regex: Regex,
    /// The focus point items matching it suggest.
    focus: FocusPoint,
}

impl WatchRule {
    /// A rule from its pattern and focus point.
    pub fn new(pattern: &str, focus: FocusPoint) -> Result<Self, RuleError> {
        let pattern = typed_required("pattern", pattern, MAX_SHORT, Lines::One)?;
        let regex = RegexBuilder::new(&pattern)
            .case_insensitive(true)
            .size_limit(COMPILED_LIMIT)
            .build()
            .map_err(|e| RuleError::Pattern(e.to_string()))?;
        if regex.is_match("") {
            return Err(RuleError::MatchesEmpty(pattern));
        }
        Ok(Self {
            pattern,
            regex,
            focus,
        })
    }

    /// A rule from its pattern and a focus point as people write it, in English or Chinese
    /// (`reform-measure`, `重要改革举措`).
    pub fn parse(pattern: &str, focus: &str) -> Result<Self, RuleError> {
        let focus = focus
            .trim()
            .parse::<FocusPoint>()
            .map_err(RuleError::Focus)?;
        Self::new(pattern, focus)
    }

    /// The pattern as written.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The focus point it suggests.
    pub fn focus(&self) -> FocusPoint {
        self.focus
    }

    /// Whether the text or one of the keywords matches.
    pub fn matches(&self, text: &str, keywords: &[String]) -> bool {
        self.regex.is_match(text) || keywords.iter().any(|k| self.regex.is_match(k))
    }
}

/// A county's watch rules, in the order they were written.
#[derive(Debug, Clone, Default)]
pub struct WatchRules(pub Vec<WatchRule>);

impl WatchRules {
    /// No rules: nothing is flagged.
    pub fn none() -> Self {
        Self::default()
    }

    /// The flags of every rule the text or keywords match, in rule order.
    pub fn flags(&self, text: &str, keywords: &[String]) -> Vec<Flag> {
        self.0
            .iter()
            .filter(|r| r.matches(text, keywords))
            .map(|r| Flag {
                pattern: r.pattern.clone(),
                focus: r.focus,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alternation_matches_chinese_text() {
        let rule = WatchRule::parse("拆迁|补偿", "reform-measure").unwrap();
        assert_eq!(rule.focus(), FocusPoint::ReformMeasure);
        assert!(rule.matches("某村拆迁工作引发不满", &[]));
        assert!(rule.matches("补偿标准太低", &[]));
        assert!(!rule.matches("某地暴雨致道路中断", &[]));
        assert!(rule.matches("无关", &["征地补偿".into()]));
    }

    #[test]
    fn chinese_focus_labels_and_latin_case() {
        let rule = WatchRule::parse("PX项目|化工厂", "重大事件").unwrap();
        assert_eq!(rule.focus(), FocusPoint::MajorEvent);
        assert!(rule.matches("反对px项目落地", &[]));
    }

    #[test]
    fn flags_name_every_matching_rule() {
        let rules = WatchRules(vec![
            WatchRule::parse("拆迁|补偿", "reform-measure").unwrap(),
            WatchRule::parse("聚集|堵路", "activity-concentration").unwrap(),
            WatchRule::parse("暴雨", "emergency-trigger").unwrap(),
        ]);
        let flags = rules.flags("拆迁户聚集在镇政府门口", &[]);
        assert_eq!(
            flags.iter().map(|f| f.focus).collect::<Vec<_>>(),
            [FocusPoint::ReformMeasure, FocusPoint::ActivityConcentration]
        );
        assert_eq!(flags[0].pattern, "拆迁|补偿");
        assert!(WatchRules::none().flags("拆迁", &[]).is_empty());
    }

    #[test]
    fn bad_rules_are_refused() {
        assert!(matches!(
            WatchRule::parse("拆迁|", "reform-measure"),
            Err(RuleError::MatchesEmpty(_))
        ));
        assert!(matches!(
            WatchRule::parse("(拆迁", "reform-measure"),
            Err(RuleError::Pattern(_))
        ));
        assert!(matches!(
            WatchRule::parse("", "reform-measure"),
            Err(RuleError::Content(_))
        ));
        assert!(matches!(
            WatchRule::parse("拆迁", "no-such-point"),
            Err(RuleError::Focus(_))
        ));
        assert!(matches!(
            WatchRule::parse("a{1000}{1000}", "reform-measure"),
            Err(RuleError::Pattern(_))
        ));
    }
}
