//! Disposal requests (处置请求) to partner websites: what may be asked, what a partner may
//! answer, and what a well-formed request holds. Free of transport and storage.
//!
//! The vocabularies follow the EU DSA's notice-and-action practice: a notice names exact
//! URLs, the action asked, the reason and the legal basis; the platform answers with a
//! decision from a fixed list, its reason and its own reference.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::risk::parse_named_or_label;

/// Longest description of what a partner handles, in characters.
pub const MAX_HANDLES_CHARS: usize = 200;
/// Most URLs in one request.
pub const MAX_URLS: usize = 50;
/// Longest URL accepted.
pub const MAX_URL_CHARS: usize = 2048;
/// Longest reason, legal basis or partner reason.
pub const MAX_TEXT_CHARS: usize = 4000;
/// Most evidence files in one request.
pub const MAX_EVIDENCE_FILES: usize = 5;
/// Largest evidence file: it travels in feeds and to the partner.
pub const MAX_EVIDENCE_BYTES: usize = 256 * 1024;
/// Furthest deadline, in days from filing: a request is about content online now, and a
/// far deadline would keep it (and its retries) open for years without ever being overdue.
pub const MAX_DEADLINE_DAYS: i64 = 90;

/// Checks a request's deadline against when it was filed (`at_ms`): after it, at most
/// [`MAX_DEADLINE_DAYS`] ahead.
pub fn check_deadline(deadline_ms: i64, at_ms: i64) -> Result<(), String> {
    if deadline_ms <= at_ms {
        return Err("must be in the future".into());
    }
    if deadline_ms.saturating_sub(at_ms) > MAX_DEADLINE_DAYS * 24 * 3600 * 1000 {
        return Err(format!(
            "is more than {MAX_DEADLINE_DAYS} days ahead; ask for less time and file again if needed"
        ));
    }
    Ok(())
}

/// Whether requests wait for a person at the gateway before they reach partners (the
/// gateway's `disposal.review`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Review {
    /// Relay at once.
    #[default]
    Auto,
    /// Hold for `fenghuo disposal approve|reject`.
    Manual,
}

/// What the requester asks the partner to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Correct false statements (更正).
    Correct,
    /// Label the content (e.g. "disputed", "unverified") (标注).
    Label,
    /// Publish a response from the authorities alongside it (回应).
    Respond,
    /// Limit its distribution (限流).
    Limit,
    /// Take it down (删除).
    TakeDown,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 5] = [
        Self::Correct,
        Self::Label,
        Self::Respond,
        Self::Limit,
        Self::TakeDown,
    ];

    /// The CLI and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Correct => "correct",
            Self::Label => "label",
            Self::Respond => "respond",
            Self::Limit => "limit",
            Self::TakeDown => "take-down",
        }
    }

    /// The Chinese label, e.g. `删除`.
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Correct => "更正",
            Self::Label => "标注",
            Self::Respond => "回应",
            Self::Limit => "限流",
            Self::TakeDown => "删除",
        }
    }
}

/// What the partner decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Removed.
    Removed,
    /// Disabled (access blocked, the content kept).
    Disabled,
    /// Distribution limited.
    Limited,
    /// Labelled.
    Labelled,
    /// Corrected.
    Corrected,
    /// Responded publicly.
    Responded,
    /// Part of what was asked.
    Partial,
    /// Nothing done (the reason says why).
    NoAction,
}

impl Outcome {
    /// The outcome that does what `action` asked.
    pub fn fulfilling(action: Action) -> Self {
        match action {
            Action::Correct => Self::Corrected,
            Action::Label => Self::Labelled,
            Action::Respond => Self::Responded,
            Action::Limit => Self::Limited,
            Action::TakeDown => Self::Removed,
        }
    }

    /// Every outcome.
    pub const ALL: [Outcome; 8] = [
        Self::Removed,
        Self::Disabled,
        Self::Limited,
        Self::Labelled,
        Self::Corrected,
        Self::Responded,
        Self::Partial,
        Self::NoAction,
    ];

    /// The CLI and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Removed => "removed",
            Self::Disabled => "disabled",
            Self::Limited => "limited",
            Self::Labelled => "labelled",
            Self::Corrected => "corrected",
            Self::Responded => "responded",
            Self::Partial => "partial",
            Self::NoAction => "no-action",
        }
    }

    /// The Chinese label, e.g. `已删除`.
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Removed => "已删除",
            Self::Disabled => "已屏蔽",
            Self::Limited => "已限流",
            Self::Labelled => "已标注",
            Self::Corrected => "已更正",
            Self::Responded => "已回应",
            Self::Partial => "部分处置",
            Self::NoAction => "未处置",
        }
    }
}

macro_rules! named {
    ($t:ty, $what:literal) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $t {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_named_or_label(&Self::ALL, Self::as_str, Self::label_zh, s, $what)
            }
        }
    };
}

named!(Action, "action");
named!(Outcome, "outcome");

/// Checks one URL: http or https, a host, no spaces, not too long. Returns it trimmed.
pub fn check_url(url: &str) -> Result<String, String> {
    let u = url.trim();
    if u.chars().count() > MAX_URL_CHARS {
        return Err(format!("{u:.60}…: longer than {MAX_URL_CHARS} characters"));
    }
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"))
        .ok_or_else(|| format!("{u:?} is not an http(s):// URL"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || u.chars().any(char::is_whitespace) {
        return Err(format!("{u:?} has no host, or contains spaces"));
    }
    // The one rule for characters in text (a URL is shown and opened by people too).
    if let Some(refused) = super::text::refused_char(u, super::text::Lines::One) {
        return Err(refused.to_string());
    }
    Ok(u.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabularies_read_as_written() {
        for a in Action::ALL {
            assert_eq!(a.as_str().parse::<Action>().unwrap(), a);
        }
        for o in Outcome::ALL {
            assert_eq!(o.as_str().parse::<Outcome>().unwrap(), o);
        }
        assert!("delete"
            .parse::<Action>()
            .unwrap_err()
            .contains("take-down"));
        assert_eq!(
            serde_json::to_string(&Outcome::NoAction).unwrap(),
            "\"no-action\""
        );
    }

    #[test]
    fn chinese_labels_are_taken_too() {
        for a in Action::ALL {
            assert_eq!(a.label_zh().parse::<Action>(), Ok(a));
        }
        for o in Outcome::ALL {
            assert_eq!(o.label_zh().parse::<Outcome>(), Ok(o));
        }
        assert_eq!("删除".parse(), Ok(Action::TakeDown));
        assert_eq!("未处置".parse(), Ok(Outcome::NoAction));
        let err = "封号".parse::<Action>().unwrap_err();
        assert!(err.contains("take-down (删除)"), "{err}");
    }

    #[test]
    fn deadlines_are_after_filing_and_at_most_90_days_ahead() {
        let day = 24 * 3600 * 1000;
        assert!(check_deadline(1_000 + day, 1_000).is_ok());
        assert!(check_deadline(1_000 + MAX_DEADLINE_DAYS * day, 1_000).is_ok());
        assert!(check_deadline(1_000 + MAX_DEADLINE_DAYS * day + 1, 1_000).is_err());
        assert!(
            check_deadline(253_370_764_800_000, 1_000).is_err(),
            "year 9999"
        );
        assert!(check_deadline(1_000, 1_000).is_err());
    }

    #[test]
    fn urls_are_checked() {
        assert_eq!(
            check_url(" https://video.example/v/1 ").unwrap(),
            "https://video.example/v/1"
        );
        for bad in [
            "ftp://x",
            "video.example/v/1",
            "https://",
            "https://a b",
            "https://a/\u{1b}[2J",
            "https://a/\u{202e}gpj.exe",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        assert!(check_url(&format!("https://x/{}", "a".repeat(3000))).is_err());
    }
}
