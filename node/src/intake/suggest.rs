//! What a promoted item suggests for its risk: a title, a description, the source, the focus
//! point of the watch rule it matched, behaviours named in its text, and attention and
//! diffusion scores from its engagement figures on the grading standard's scale. The officer
//! confirms or overrides every one; nothing here grades by itself.

use serde::Serialize;

use super::store::Item;
use crate::domain::grading::EngagementScale;
use crate::domain::FocusPoint;

/// Longest suggested title, in characters.
const TITLE_CHARS: usize = 40;

/// Words of a text that name a risk behaviour (风险行为), as officers write them. A
/// suggestion lists the ones the text contains; the officer edits the list.
const BEHAVIOUR_WORDS: &[&str] = &[
    "聚集",
    "上访",
    "信访",
    "集访",
    "堵路",
    "围堵",
    "静坐",
    "拉横幅",
    "维权",
    "讨薪",
    "罢工",
    "罢课",
    "抗议",
    "游行",
    "冲突",
    "打砸",
    "煽动",
    "串联",
    "谣言",
    "炒作",
    "网络暴力",
    "人肉",
    "自杀",
    "跳楼",
];

/// What promoting an item would create, for the officer to confirm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    /// The start of the text's first line.
    pub title: String,
    /// The text, then where and when it was seen.
    pub description: String,
    /// The URL of its first sighting.
    pub source: String,
    /// The focus point of the first watch rule it matched.
    pub focus: Option<FocusPoint>,
    /// Behaviour words found in the text.
    pub behaviours: Vec<String>,
    /// Attention 1-5 from views + comments + likes.
    pub attention: u32,
    /// Diffusion 1-5 from reposts.
    pub diffusion: u32,
}

/// The suggestion for `item` on `scale`; `seen` writes a capture time for people.
pub fn suggest(item: &Item, scale: &EngagementScale, seen: impl Fn(i64) -> String) -> Suggestion {
    let first_line = item
        .text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let mut title: String = first_line.trim().chars().take(TITLE_CHARS).collect();
    if first_line.trim().chars().count() > TITLE_CHARS {
        title.push('…');
    }
    if title.is_empty() {
        title = format!("{} {}", item.platform, item.url);
    }
    let who = if item.account.is_empty() {
        item.platform.clone()
    } else {
        format!("{} {}", item.platform, item.account)
    };
    let e = &item.engagement;
    let description = format!(
        "{}\n\n舆情采集：{who}，{} 首次发现，共 {} 次；阅读 {}、转发 {}、评论 {}、点赞 {}（{}）。",
        item.text,
        seen(item.first_seen_ms),
        item.sightings,
        e.views,
        e.reposts,
        e.comments,
        e.likes,
        seen(item.engagement_at_ms),
    );
    let behaviours = BEHAVIOUR_WORDS
        .iter()
        .filter(|w| item.text.contains(*w))
        .map(|w| (*w).to_owned())
        .collect();
    Suggestion {
        title,
        description,
        source: item.url.clone(),
        focus: item.flags.first().map(|f| f.focus),
        behaviours,
        attention: scale.attention(e.views, e.comments, e.likes),
        diffusion: scale.diffusion(e.reposts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::observation::tests::{seen, NOW};
    use crate::intake::rules::{WatchRule, WatchRules};
    use crate::intake::store::record;
    use crate::store::SledStore;

    #[test]
    fn a_flagged_popular_post_suggests_its_focus_behaviours_and_scores() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let rules = WatchRules(vec![WatchRule::parse("拆迁|补偿", "重要改革举措").unwrap()]);
        let mut obs = seen(
            "https://weibo.com/u/1/p/2",
            "某村拆迁补偿款迟迟未发放，村民聚集在镇政府门口拉横幅\n第二行",
        );
        obs.engagement.views = 50_000;
        obs.engagement.comments = 60_000;
        obs.engagement.reposts = 120;
        let id = record(&store, obs, &rules, NOW).unwrap().id();
        let item = crate::intake::store::item(&store, id).unwrap().unwrap();
        let s = suggest(&item, &EngagementScale::default(), |ms| ms.to_string());
        assert_eq!(s.focus, Some(FocusPoint::ReformMeasure));
        assert_eq!(s.behaviours, vec!["聚集", "拉横幅"]);
        assert_eq!(s.attention, 4, "110,000 seen is past 100,000");
        assert_eq!(s.diffusion, 3, "120 reposts is past 100");
        assert_eq!(
            s.title,
            "某村拆迁补偿款迟迟未发放，村民聚集在镇政府门口拉横幅"
        );
        assert!(s.description.contains("阅读 50000、转发 120"));
        assert_eq!(s.source, "https://weibo.com/u/1/p/2");
    }

    #[test]
    fn the_scale_counts_steps_reached() {
        let scale = EngagementScale::default();
        assert_eq!(scale.attention(0, 0, 0), 1);
        assert_eq!(scale.attention(999, 0, 0), 1);
        assert_eq!(scale.attention(1000, 0, 0), 2);
        assert_eq!(scale.attention(i64::MAX, i64::MAX, 1), 5);
        assert_eq!(scale.diffusion(10_000), 5);
    }
}
