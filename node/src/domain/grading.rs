//! Grading: the province's versioned standard turns the three dimensions (influence,
//! attention, diffusion, each 1-5) and the focus point into a level I-IV.
//!
//! The rule (explained in `docs/grading.md`): a weighted score
//! `influence*w_i + attention*w_a + diffusion*w_d`, plus the focus point's adjustment, is
//! compared with the thresholds for I, II and III; below the threshold for III it is IV.
//! Optionally, any single dimension at or above `escalate_at` lifts the level to at least
//! `escalate_to`, so one extreme dimension is never averaged away.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::FocusPoint;

/// The default standard, shipped as `docs/grading-standard.toml`.
pub const DEFAULT_STANDARD_TOML: &str = include_str!("../../../docs/grading-standard.toml");

/// Risk level: I is the most serious.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Level {
    /// 特别重大, red.
    I,
    /// 重大, orange.
    II,
    /// 较大, yellow.
    III,
    /// 一般, blue.
    IV,
}

impl Level {
    /// Every level, gravest first.
    pub const ALL: [Level; 4] = [Self::I, Self::II, Self::III, Self::IV];

    /// Roman numeral, as shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::I => "I",
            Self::II => "II",
            Self::III => "III",
            Self::IV => "IV",
        }
    }

    /// The colour the source documents give the level.
    pub fn colour(self) -> &'static str {
        match self {
            Self::I => "red",
            Self::II => "orange",
            Self::III => "yellow",
            Self::IV => "blue",
        }
    }

    /// The Chinese label.
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::I => "特别重大",
            Self::II => "重大",
            Self::III => "较大",
            Self::IV => "一般",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Some(level) = Self::ALL.into_iter().find(|l| l.label_zh() == s) {
            return Ok(level);
        }
        match s.to_ascii_uppercase().as_str() {
            "I" | "1" => Ok(Self::I),
            "II" | "2" => Ok(Self::II),
            "III" | "3" => Ok(Self::III),
            "IV" | "4" => Ok(Self::IV),
            _ => Err(format!(
                "unknown level {s:?}: expected I, II, III or IV (or 特别重大, 重大, 较大, 一般)"
            )),
        }
    }
}

/// The three dimensions, each 1-5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scores {
    /// 影响力: how many people and how much the matter weighs.
    pub influence: u32,
    /// 关注度: how much attention it draws.
    pub attention: u32,
    /// 扩散度: how fast and far it spreads.
    pub diffusion: u32,
}

/// Why a standard or a grading request was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GradingError {
    /// A score outside 1-5; names the dimension.
    #[error("{field} must be between 1 and 5, got {value}")]
    ScoreOutOfRange {
        /// The dimension.
        field: &'static str,
        /// What was given.
        value: u32,
    },
    /// The TOML could not be read.
    #[error("grading standard is not valid TOML: {0}")]
    Parse(String),
    /// The TOML parsed but the rule is inconsistent.
    #[error("grading standard is inconsistent: {0}")]
    Invalid(String),
}

/// Level thresholds on the weighted score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Score at or above which a risk is level I.
    pub level_i: i64,
    /// Score at or above which a risk is level II.
    pub level_ii: i64,
    /// Score at or above which a risk is level III; below it, IV.
    pub level_iii: i64,
}

/// Weight of each dimension in the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weights {
    /// Weight of influence.
    pub influence: i64,
    /// Weight of attention.
    pub attention: i64,
    /// Weight of diffusion.
    pub diffusion: i64,
}

/// One extreme dimension lifts the level to at least this one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Escalation {
    /// A dimension scored at or above this triggers the escalation.
    pub at: u32,
    /// The level it lifts to at least.
    pub to: Level,
}

/// How intake suggests attention and diffusion scores from a post's engagement figures: the
/// figure at or above which the score is 2, 3, 4 and 5 (below the first, 1). The officer
/// confirms or overrides; a suggestion never grades by itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngagementScale {
    /// Attention (关注度) from views + comments + likes.
    pub attention: [i64; 4],
    /// Diffusion (扩散度) from reposts.
    pub diffusion: [i64; 4],
}

impl Default for EngagementScale {
    /// The scale a standard without `[engagement]` uses: one step per power of ten.
    fn default() -> Self {
        Self {
            attention: [1_000, 10_000, 100_000, 1_000_000],
            diffusion: [10, 100, 1_000, 10_000],
        }
    }
}

impl EngagementScale {
    /// The score 1-5 that `figure` reaches on `steps`.
    fn score(steps: &[i64; 4], figure: i64) -> u32 {
        1 + steps.iter().filter(|s| figure >= **s).count() as u32
    }

    /// The attention score suggested by these figures.
    pub fn attention(&self, views: i64, comments: i64, likes: i64) -> u32 {
        let seen = views.saturating_add(comments).saturating_add(likes);
        Self::score(&self.attention, seen)
    }

    /// The diffusion score suggested by this many reposts.
    pub fn diffusion(&self, reposts: i64) -> u32 {
        Self::score(&self.diffusion, reposts)
    }
}

/// A versioned grading standard, as the province publishes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradingStandard {
    /// Recorded on every grade made with this standard.
    pub version: String,
    /// Who published it, for people.
    #[serde(default)]
    pub issued_by: String,
    /// Dimension weights.
    pub weights: Weights,
    /// Added to the score per focus point (keys are the CLI names, e.g. `emergency-trigger`).
    #[serde(default)]
    pub focus_adjustment: BTreeMap<String, i64>,
    /// Score thresholds for I, II, III.
    pub thresholds: Thresholds,
    /// Optional single-dimension escalation.
    #[serde(default)]
    pub escalation: Option<Escalation>,
    /// How intake suggests scores from engagement figures ([`EngagementScale::default`]
    /// when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engagement: Option<EngagementScale>,
}

fn check_score(field: &'static str, value: u32) -> Result<(), GradingError> {
    if (1..=5).contains(&value) {
        Ok(())
    } else {
        Err(GradingError::ScoreOutOfRange { field, value })
    }
}

impl Scores {
    /// Checks each dimension is 1-5, naming the first that is not.
    pub fn validate(&self) -> Result<(), GradingError> {
        check_score("influence", self.influence)?;
        check_score("attention", self.attention)?;
        check_score("diffusion", self.diffusion)
    }
}

impl GradingStandard {
    /// The standard shipped with Fenghuo.
    pub fn default_standard() -> Self {
        // The shipped file is checked by a unit test, so this cannot fail in a release.
        Self::from_toml(DEFAULT_STANDARD_TOML)
            .unwrap_or_else(|e| panic!("docs/grading-standard.toml is invalid: {e}"))
    }

    /// Parses and checks a standard.
    pub fn from_toml(text: &str) -> Result<Self, GradingError> {
        let s: Self = toml::from_str(text).map_err(|e| GradingError::Parse(e.to_string()))?;
        s.validate()?;
        Ok(s)
    }

    /// The standard as TOML, for publishing.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    fn validate(&self) -> Result<(), GradingError> {
        let invalid = |m: String| Err(GradingError::Invalid(m));
        if self.version.trim().is_empty() {
            return invalid("`version` must not be empty".into());
        }
        let w = &self.weights;
        if w.influence < 0 || w.attention < 0 || w.diffusion < 0 {
            return invalid("`weights` must not be negative".into());
        }
        let t = &self.thresholds;
        if !(t.level_i > t.level_ii && t.level_ii > t.level_iii) {
            return invalid(format!(
                "`thresholds` must satisfy level_i > level_ii > level_iii, got {} / {} / {}",
                t.level_i, t.level_ii, t.level_iii
            ));
        }
        for key in self.focus_adjustment.keys() {
            if key.parse::<FocusPoint>().is_err() {
                return invalid(format!(
                    "`focus_adjustment.{key}` is not a focus point (expected one of {})",
                    FocusPoint::ALL.map(|f| f.as_str()).join(", ")
                ));
            }
        }
        if let Some(e) = &self.escalation {
            if !(1..=5).contains(&e.at) {
                return invalid(format!("`escalation.at` must be 1-5, got {}", e.at));
            }
        }
        if let Some(e) = &self.engagement {
            for (name, steps) in [("attention", e.attention), ("diffusion", e.diffusion)] {
                if steps[0] < 0 || steps.windows(2).any(|w| w[0] >= w[1]) {
                    return invalid(format!(
                        "`engagement.{name}` must be four rising figures, not negative, got {steps:?}"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The engagement scale intake suggests scores with.
    pub fn engagement_scale(&self) -> EngagementScale {
        self.engagement.clone().unwrap_or_default()
    }

    /// The weighted score of `scores` under `focus`.
    pub fn score(&self, scores: Scores, focus: FocusPoint) -> i64 {
        let w = &self.weights;
        i64::from(scores.influence) * w.influence
            + i64::from(scores.attention) * w.attention
            + i64::from(scores.diffusion) * w.diffusion
            + self
                .focus_adjustment
                .get(focus.as_str())
                .copied()
                .unwrap_or(0)
    }

    /// The level of `scores` under `focus`; refuses scores outside 1-5.
    pub fn grade(&self, scores: Scores, focus: FocusPoint) -> Result<Level, GradingError> {
        Ok(self.assess(scores, focus)?.level)
    }

    /// How `scores` under `focus` come to their level: the weighted score, the focus point's
    /// adjustment, the thresholds compared with and any escalation (what a page shows beside
    /// "the three scores → the level"). Refuses scores outside 1-5.
    pub fn assess(&self, scores: Scores, focus: FocusPoint) -> Result<Assessment, GradingError> {
        scores.validate()?;
        let score = self.score(scores, focus);
        let t = &self.thresholds;
        let by_score = if score >= t.level_i {
            Level::I
        } else if score >= t.level_ii {
            Level::II
        } else if score >= t.level_iii {
            Level::III
        } else {
            Level::IV
        };
        let mut level = by_score;
        if let Some(e) = &self.escalation {
            let max = scores.influence.max(scores.attention).max(scores.diffusion);
            if max >= e.at && e.to < level {
                level = e.to;
            }
        }
        Ok(Assessment {
            standard_version: self.version.clone(),
            scores,
            focus,
            focus_adjustment: self
                .focus_adjustment
                .get(focus.as_str())
                .copied()
                .unwrap_or(0),
            score,
            thresholds: self.thresholds.clone(),
            by_score,
            escalated: level != by_score,
            level,
        })
    }
}

/// One grading worked through: the three scores, the weighted score against the
/// thresholds, and the level that results (see [`GradingStandard::assess`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    /// The standard used.
    pub standard_version: String,
    /// The three dimensions.
    pub scores: Scores,
    /// The risk's focus point.
    pub focus: FocusPoint,
    /// What the focus point adds to the score.
    pub focus_adjustment: i64,
    /// The weighted score, adjustment included.
    pub score: i64,
    /// The thresholds the score is compared with.
    pub thresholds: Thresholds,
    /// The level the score alone reaches.
    pub by_score: Level,
    /// One extreme dimension lifted the level above `by_score`.
    pub escalated: bool,
    /// The resulting level.
    pub level: Level,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(i: u32, a: u32, d: u32) -> Scores {
        Scores {
            influence: i,
            attention: a,
            diffusion: d,
        }
    }

    #[test]
    fn shipped_standard_parses() {
        let std = GradingStandard::from_toml(DEFAULT_STANDARD_TOML).unwrap();
        assert!(!std.version.is_empty());
    }

    #[test]
    fn extremes_of_the_default_standard() {
        let std = GradingStandard::default_standard();
        for focus in FocusPoint::ALL {
            assert_eq!(std.grade(s(5, 5, 5), focus).unwrap(), Level::I, "{focus}");
            assert_eq!(std.grade(s(1, 1, 1), focus).unwrap(), Level::IV, "{focus}");
        }
    }

    #[test]
    fn levels_are_monotonic_in_every_dimension() {
        let std = GradingStandard::default_standard();
        for focus in FocusPoint::ALL {
            for i in 1..=5 {
                for a in 1..=5 {
                    for d in 1..=5 {
                        let here = std.grade(s(i, a, d), focus).unwrap();
                        if i < 5 {
                            assert!(std.grade(s(i + 1, a, d), focus).unwrap() <= here);
                        }
                        if a < 5 {
                            assert!(std.grade(s(i, a + 1, d), focus).unwrap() <= here);
                        }
                        if d < 5 {
                            assert!(std.grade(s(i, a, d + 1), focus).unwrap() <= here);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn every_level_is_reachable() {
        let std = GradingStandard::default_standard();
        let mut seen = std::collections::BTreeSet::new();
        for i in 1..=5 {
            for a in 1..=5 {
                for d in 1..=5 {
                    seen.insert(std.grade(s(i, a, d), FocusPoint::KeyWork).unwrap());
                }
            }
        }
        assert_eq!(seen.len(), 4);
    }

    #[test]
    fn scores_out_of_range_name_the_field() {
        let std = GradingStandard::default_standard();
        let e = std.grade(s(0, 3, 3), FocusPoint::KeyWork).unwrap_err();
        assert_eq!(e.to_string(), "influence must be between 1 and 5, got 0");
        let e = std.grade(s(3, 3, 6), FocusPoint::KeyWork).unwrap_err();
        assert!(e.to_string().starts_with("diffusion"));
    }

    #[test]
    fn inconsistent_standards_are_refused() {
        let bad = DEFAULT_STANDARD_TOML.replace("level_i = ", "level_i = -100 + ");
        assert!(GradingStandard::from_toml(&bad).is_err());
        let unknown = format!("{DEFAULT_STANDARD_TOML}\nsurprise = 1\n");
        let e = GradingStandard::from_toml(&unknown).unwrap_err();
        assert!(e.to_string().contains("surprise"), "{e}");
    }

    #[test]
    fn an_assessment_shows_the_score_against_the_thresholds() {
        let std = GradingStandard::default_standard();
        for (i, a, d) in [(1, 1, 1), (3, 4, 2), (5, 5, 5)] {
            let a = std
                .assess(s(i, a, d), FocusPoint::EmergencyTrigger)
                .unwrap();
            assert_eq!(a.level, std.grade(a.scores, a.focus).unwrap());
            assert_eq!(a.score, std.score(a.scores, a.focus));
            assert_eq!(a.thresholds, std.thresholds);
            let t = &a.thresholds;
            let expected = if a.score >= t.level_i {
                Level::I
            } else if a.score >= t.level_ii {
                Level::II
            } else if a.score >= t.level_iii {
                Level::III
            } else {
                Level::IV
            };
            assert_eq!(a.by_score, expected);
            assert_eq!(a.escalated, a.level != a.by_score);
        }
        assert!(std.assess(s(0, 1, 1), FocusPoint::KeyWork).is_err());
    }

    #[test]
    fn escalation_lifts_a_single_extreme_dimension() {
        let mut std = GradingStandard::default_standard();
        std.escalation = Some(Escalation {
            at: 5,
            to: Level::II,
        });
        assert!(std.grade(s(5, 1, 1), FocusPoint::KeyWork).unwrap() <= Level::II);
    }
}
