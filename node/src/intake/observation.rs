//! An observation: one thing a monitoring system saw — a post, an article, a video — as it
//! hands it to the county node, and the checks it passes before anything is stored.
//!
//! A monitoring system is not trusted any more than a peer: its content gets the same checks
//! as what a person types (bounded lengths, no control or bidi characters), with the limits
//! and functions of [`crate::event::check`], so nothing kept here could later be refused
//! when it is promoted into a risk.

use serde::{Deserialize, Serialize};

use crate::domain::disposal::check_url;
use crate::event::check::{typed, typed_required, ContentError, Lines, MAX_CLOCK_SKEW_MS};
use crate::event::check::{MAX_NAME, MAX_SHORT, MAX_TEXT};
use crate::identity::validate_name;

/// Most matched keywords on one observation.
pub const MAX_KEYWORDS: usize = 50;

/// Engagement figures as the monitoring system counted them when it captured the item.
/// Signed, so that a negative figure from a system reaches the checks (and is refused by
/// name) instead of failing somewhere in parsing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Engagement {
    /// Views or reads (阅读量).
    pub views: i64,
    /// Reposts or shares (转发).
    pub reposts: i64,
    /// Comments (评论).
    pub comments: i64,
    /// Likes (点赞).
    pub likes: i64,
}

/// One observation as a monitoring system submits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// Where it lives: an http(s) URL (the key of URL deduplication).
    pub url: String,
    /// The platform or site (`weibo`, `douyin`, `某论坛`).
    pub platform: String,
    /// The account that posted it, if the platform has accounts (`@zhang_san`); may be empty.
    pub account: String,
    /// An excerpt of its text (the key of content deduplication and what watch rules read).
    pub text: String,
    /// When the system captured it, Unix ms.
    pub captured_at_ms: i64,
    /// The figures at capture time.
    pub engagement: Engagement,
    /// The keywords the system says matched (its own rules, kept for the officer).
    pub keywords: Vec<String>,
    /// The monitoring system's name, as its intake certificate will name it (`yuqing-1`).
    pub system: String,
    /// The system's own id for this observation: submissions are idempotent by
    /// (system, system id).
    pub system_id: String,
}

/// Why an observation is refused; every variant names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObservationError {
    /// A text field breaks the content rules (length, characters, empty).
    #[error(transparent)]
    Content(#[from] ContentError),
    /// The URL is not an http(s) URL with a host, or is too long.
    #[error("url: {0}")]
    Url(String),
    /// The system name is not a lower-case name (`[a-z0-9][a-z0-9_-]{0,62}`).
    #[error("system: {0:?} is not a name of lower-case letters, digits, '-' and '_'")]
    System(String),
    /// An engagement figure is below zero.
    #[error("{field}: {value} is negative")]
    Negative {
        /// `views`, `reposts`, `comments` or `likes`.
        field: &'static str,
        /// The figure.
        value: i64,
    },
    /// The capture time is not a time (zero or before).
    #[error("captured_at: {0} is not a Unix time in milliseconds")]
    NotATime(i64),
    /// The capture time lies ahead of this node's clock by more than the skew allowed.
    #[error("captured_at: {at_ms} is {ahead_s} s ahead of this node's clock (at most {} s allowed)", MAX_CLOCK_SKEW_MS / 1000)]
    FromTheFuture {
        /// The capture time, Unix ms.
        at_ms: i64,
        /// How far ahead, seconds.
        ahead_s: i64,
    },
    /// More matched keywords than [`MAX_KEYWORDS`].
    #[error("keywords: {0} of them; at most {MAX_KEYWORDS}")]
    TooManyKeywords(usize),
}

impl ObservationError {
    /// The field the refusal is about, as the CLI and the import's row errors name it.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Content(ContentError::Field { field, .. }) => field,
            Self::Content(_) => "observation",
            Self::Url(_) => "url",
            Self::System(_) => "system",
            Self::Negative { field, .. } => field,
            Self::NotATime(_) | Self::FromTheFuture { .. } => "captured_at",
            Self::TooManyKeywords(_) => "keywords",
        }
    }
}

impl Observation {
    /// The observation as it is kept, or the first refusal: text trimmed with line ends as
    /// `\n` (as [`typed`] keeps what people type), checked against the limits every node
    /// applies; `now_ms` is this node's clock.
    pub fn check(self, now_ms: i64) -> Result<Observation, ObservationError> {
        let url = check_url(&self.url).map_err(ObservationError::Url)?;
        let platform = typed_required("platform", &self.platform, MAX_SHORT, Lines::One)?;
        let account = typed("account", &self.account, MAX_SHORT, Lines::One)?;
        let text = typed_required("text", &self.text, MAX_TEXT, Lines::Many)?;
        if self.captured_at_ms <= 0 {
            return Err(ObservationError::NotATime(self.captured_at_ms));
        }
        let ahead = self.captured_at_ms.saturating_sub(now_ms);
        if ahead > MAX_CLOCK_SKEW_MS {
            return Err(ObservationError::FromTheFuture {
                at_ms: self.captured_at_ms,
                ahead_s: ahead / 1000,
            });
        }
        let e = self.engagement;
        for (field, value) in [
            ("views", e.views),
            ("reposts", e.reposts),
            ("comments", e.comments),
            ("likes", e.likes),
        ] {
            if value < 0 {
                return Err(ObservationError::Negative { field, value });
            }
        }
        if self.keywords.len() > MAX_KEYWORDS {
            return Err(ObservationError::TooManyKeywords(self.keywords.len()));
        }
        let keywords = self
            .keywords
            .iter()
            .map(|k| typed_required("keywords", k, MAX_SHORT, Lines::One))
            .collect::<Result<Vec<_>, _>>()?;
        validate_name(&self.system).map_err(|_| ObservationError::System(self.system.clone()))?;
        let system_id = typed_required("system_id", &self.system_id, MAX_NAME, Lines::One)?;
        Ok(Observation {
            url,
            platform,
            account,
            text,
            captured_at_ms: self.captured_at_ms,
            engagement: e,
            keywords,
            system: self.system,
            system_id,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// 2026-06-15 00:00 UTC.
    pub(crate) const NOW: i64 = 1_781_481_600_000;

    /// A valid observation of `url` with `text`, captured at `NOW`.
    pub(crate) fn seen(url: &str, text: &str) -> Observation {
        Observation {
            url: url.into(),
            platform: "weibo".into(),
            account: "@zhang_san".into(),
            text: text.into(),
            captured_at_ms: NOW,
            engagement: Engagement {
                views: 100,
                reposts: 10,
                comments: 5,
                likes: 20,
            },
            keywords: vec!["拆迁".into()],
            system: "yuqing-1".into(),
            system_id: format!(
                "{url}|{}",
                text.split_whitespace().collect::<Vec<_>>().join("_")
            ),
        }
    }

    fn refused(o: Observation) -> &'static str {
        o.check(NOW).unwrap_err().field()
    }

    #[test]
    fn a_valid_observation_is_kept_trimmed() {
        let mut o = seen("https://weibo.com/u/1/p/2", "  某村拆迁补偿\r\n不到位  ");
        o.platform = " weibo ".into();
        let kept = o.check(NOW).unwrap();
        assert_eq!(kept.text, "某村拆迁补偿\n不到位");
        assert_eq!(kept.platform, "weibo");
    }

    #[test]
    fn each_refusal_names_its_field() {
        let ok = || seen("https://weibo.com/u/1", "拆迁");
        assert_eq!(
            refused(Observation {
                url: "ftp://x.cn/a".into(),
                ..ok()
            }),
            "url"
        );
        assert_eq!(
            refused(Observation {
                url: "javascript:alert(1)".into(),
                ..ok()
            }),
            "url"
        );
        assert_eq!(
            refused(Observation {
                url: "https://".into(),
                ..ok()
            }),
            "url"
        );
        assert_eq!(
            refused(Observation {
                platform: "".into(),
                ..ok()
            }),
            "platform"
        );
        assert_eq!(
            refused(Observation {
                account: "a\nb".into(),
                ..ok()
            }),
            "account"
        );
        assert_eq!(
            refused(Observation {
                text: "   ".into(),
                ..ok()
            }),
            "text"
        );
        // A bidi override and a control character, as a hostile system might send.
        assert_eq!(
            refused(Observation {
                text: "abc\u{202e}def".into(),
                ..ok()
            }),
            "text"
        );
        assert_eq!(
            refused(Observation {
                text: "abc\u{7}".into(),
                ..ok()
            }),
            "text"
        );
        assert_eq!(
            refused(Observation {
                text: "长".repeat(MAX_TEXT + 1),
                ..ok()
            }),
            "text"
        );
        assert_eq!(
            refused(Observation {
                platform: "p".repeat(MAX_SHORT + 1),
                ..ok()
            }),
            "platform"
        );
        let mut o = ok();
        o.engagement.reposts = -1;
        assert_eq!(refused(o), "reposts");
        assert_eq!(
            refused(Observation {
                captured_at_ms: 0,
                ..ok()
            }),
            "captured_at"
        );
        let future = Observation {
            captured_at_ms: NOW + MAX_CLOCK_SKEW_MS + 1000,
            ..ok()
        };
        assert!(matches!(
            future.check(NOW),
            Err(ObservationError::FromTheFuture { ahead_s: 301, .. })
        ));
        let slightly_ahead = Observation {
            captured_at_ms: NOW + 1000,
            ..ok()
        };
        assert!(slightly_ahead.check(NOW).is_ok());
        assert_eq!(
            refused(Observation {
                keywords: vec!["k".into(); MAX_KEYWORDS + 1],
                ..ok()
            }),
            "keywords"
        );
        assert_eq!(
            refused(Observation {
                keywords: vec!["".into()],
                ..ok()
            }),
            "keywords"
        );
        assert_eq!(
            refused(Observation {
                system: "Bad System".into(),
                ..ok()
            }),
            "system"
        );
        assert_eq!(
            refused(Observation {
                system_id: "".into(),
                ..ok()
            }),
            "system_id"
        );
        assert_eq!(
            refused(Observation {
                system_id: "x\u{2066}".into(),
                ..ok()
            }),
            "system_id"
        );
    }
}
