//! Levels that rose (风险等级上升): which rises a change of a risk shows. A node does not see
//! every grading of a risk as it happens: the province first sees a risk when it is reported
//! (already at II, say, after a grading at III the same afternoon), a neighbour when it is
//! shared. The rises are read from the risk's own history, which a shared snapshot carries
//! whole, not only from the levels this node happened to observe.

use crate::domain::Level;

use super::view::Rise;
use super::RiskFacts;

/// One grading in a risk's history: the level it gave, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grading {
    /// The level given.
    pub level: Level,
    /// When, Unix ms.
    pub at_ms: i64,
}

/// The level a history item of `action` with `summary` graded the risk to, if it is a
/// grading. The register words a grading `graded … → level II (standard …)` (its history is
/// text for people, shared in snapshots as it was written); anything else reads as none.
pub fn grading_in(action: &str, summary: &str) -> Option<Level> {
    if action != "graded" {
        return None;
    }
    let (_, rest) = summary.split_once("→ level ")?;
    let word = rest.split([' ', ';', '(']).next()?;
    Level::ALL.into_iter().find(|l| l.as_str() == word)
}

/// The rises the change of a risk from `before` to `after` (applied at `at_ms`) shows, oldest
/// first. Each keeps the time of the grading that made it, so seeing the same grading again
/// (in a wider snapshot, or on a rebuild) gives the same rise.
pub(crate) fn rises(
    before: Option<&RiskFacts<'_>>,
    after: &RiskFacts<'_>,
    at_ms: i64,
) -> Vec<Rise> {
    let rise = |from: Level, to: Level, at_ms: i64| Rise {
        id: after.id.to_owned(),
        origin: after.origin.to_owned(),
        title: after.title.to_owned(),
        from,
        to,
        at_ms,
    };
    // A whole history starts at creation; otherwise the change follows the record before.
    let mut last = if after.from_start && !after.gradings.is_empty() {
        None
    } else {
        before.and_then(|b| b.level)
    };
    let mut out = Vec::new();
    for g in after.gradings {
        // Levels order I < II < III < IV: a lower level is graver.
        if last.is_some_and(|from| g.level < from) {
            out.extend(last.map(|from| rise(from, g.level, g.at_ms)));
        }
        last = Some(g.level);
    }
    // Where the history shows no grading this build can read, the levels themselves still
    // tell a rise.
    if let (Some(from), Some(to)) = (last, after.level) {
        if to < from {
            out.push(rise(from, to, at_ms));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{FocusPoint, RiskStatus};

    fn facts<'a>(level: Option<Level>, gradings: &'a [Grading], from_start: bool) -> RiskFacts<'a> {
        RiskFacts {
            id: "510104-1",
            origin: "510104",
            title: "Land dispute video",
            source: "",
            level,
            focus: FocusPoint::EmergencyTrigger,
            status: RiskStatus::Graded,
            created_at_ms: 1,
            gradings,
            from_start,
        }
    }

    fn g(level: Level, at_ms: i64) -> Grading {
        Grading { level, at_ms }
    }

    fn steps(r: &[Rise]) -> Vec<(Level, Level, i64)> {
        r.iter().map(|r| (r.from, r.to, r.at_ms)).collect()
    }

    #[test]
    fn the_register_wording_of_a_grading_gives_its_level() {
        let s = "graded influence 4 / attention 4 / diffusion 3 → level II (standard 2024-1); level III → II";
        assert_eq!(grading_in("graded", s), Some(Level::II));
        assert_eq!(
            grading_in(
                "graded",
                "graded influence 1 / attention 1 / diffusion 1 → level IV (standard v)"
            ),
            Some(Level::IV)
        );
        assert_eq!(grading_in("updated", s), None);
        assert_eq!(grading_in("graded", "→ level V (standard x)"), None);
        assert_eq!(grading_in("graded", "no level here"), None);
    }

    #[test]
    fn a_risk_first_seen_at_ii_rose_from_iii_by_its_history() {
        // The province first sees the risk in the report: graded III at 10, II at 20.
        let history = [g(Level::III, 10), g(Level::II, 20)];
        let after = facts(Some(Level::II), &history, true);
        assert_eq!(
            steps(&rises(None, &after, 30)),
            vec![(Level::III, Level::II, 20)]
        );
        // A node that held the risk at III before sees the same rise, once.
        let before = facts(Some(Level::III), &[], false);
        assert_eq!(
            steps(&rises(Some(&before), &after, 30)),
            vec![(Level::III, Level::II, 20)]
        );
        // IV → III → IV → I: two rises, the fall is none.
        let history = [
            g(Level::IV, 1),
            g(Level::III, 2),
            g(Level::IV, 3),
            g(Level::I, 4),
        ];
        let after = facts(Some(Level::I), &history, true);
        assert_eq!(
            steps(&rises(None, &after, 9)),
            vec![(Level::IV, Level::III, 2), (Level::IV, Level::I, 4)]
        );
    }

    #[test]
    fn a_change_seen_as_it_happens_rises_from_the_record_before() {
        let before = facts(Some(Level::III), &[], false);
        let grading = [g(Level::II, 50)];
        let after = facts(Some(Level::II), &grading, false);
        assert_eq!(
            steps(&rises(Some(&before), &after, 50)),
            vec![(Level::III, Level::II, 50)]
        );
        // Graded down, or not graded at all: nothing.
        let down = [g(Level::IV, 60)];
        let after = facts(Some(Level::IV), &down, false);
        assert!(rises(Some(&before), &after, 60).is_empty());
        let after = facts(Some(Level::III), &[], false);
        assert!(rises(Some(&before), &after, 70).is_empty());
        // A history this build cannot read: the levels still tell.
        let after = facts(Some(Level::I), &[], true);
        assert_eq!(
            steps(&rises(Some(&before), &after, 80)),
            vec![(Level::III, Level::I, 80)]
        );
        assert!(rises(None, &after, 80).is_empty());
    }
}
