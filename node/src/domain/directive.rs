//! Directives (工作指令 / 督办) and consultations (会商): what the province asks of counties,
//! and how a county answers. Free of transport and storage.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::risk::parse_named_or_label;

/// What the province sends down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DirectiveKind {
    /// An instruction with a deadline: counties acknowledge, answer, and report it done.
    Directive,
    /// A question with a deadline: counties answer it.
    Consultation,
}

impl DirectiveKind {
    /// Both kinds.
    pub const ALL: &'static [DirectiveKind] = &[Self::Directive, Self::Consultation];

    /// The CLI and JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Directive => "directive",
            Self::Consultation => "consultation",
        }
    }

    /// The Chinese label (the glossary's).
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Directive => "工作指令",
            Self::Consultation => "会商",
        }
    }

    /// The letter of its ids (`51-d3`, `51-c2`).
    pub fn id_letter(self) -> char {
        match self {
            Self::Directive => 'd',
            Self::Consultation => 'c',
        }
    }

    /// Whether a county with `status` has done what this kind asks (so is never overdue): a
    /// directive must be done, a consultation answered.
    pub fn satisfied_by(self, status: ResponseStatus) -> bool {
        match self {
            Self::Directive => status == ResponseStatus::Done,
            Self::Consultation => status >= ResponseStatus::Responded,
        }
    }
}

impl fmt::Display for DirectiveKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DirectiveKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // 督办 (supervision) is the other word officers use for a directive.
        if s.trim() == "督办" {
            return Ok(Self::Directive);
        }
        parse_named_or_label(Self::ALL, Self::as_str, Self::label_zh, s, "kind")
    }
}

/// How far a county has answered, in order: a later status includes the earlier ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResponseStatus {
    /// Received and read (签收).
    Acknowledged,
    /// Answered with text.
    Responded,
    /// What was asked is done.
    Done,
}

impl ResponseStatus {
    /// Every status, in order.
    pub const ALL: &'static [ResponseStatus] = &[Self::Acknowledged, Self::Responded, Self::Done];

    /// The CLI and JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Acknowledged => "acknowledged",
            Self::Responded => "responded",
            Self::Done => "done",
        }
    }

    /// The Chinese label, e.g. `已签收`.
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Acknowledged => "已签收",
            Self::Responded => "已答复",
            Self::Done => "已办结",
        }
    }
}

impl fmt::Display for ResponseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ResponseStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Typed as a verb too: 签收, 答复, 办结.
        let s = s.trim();
        let bare = Self::ALL
            .iter()
            .copied()
            .find(|v| v.label_zh().strip_prefix('已') == Some(s));
        match bare {
            Some(v) => Ok(v),
            None => parse_named_or_label(
                Self::ALL,
                Self::as_str,
                Self::label_zh,
                s,
                "response status",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_satisfies_each_kind() {
        use ResponseStatus::*;
        assert!(!DirectiveKind::Directive.satisfied_by(Responded));
        assert!(DirectiveKind::Directive.satisfied_by(Done));
        assert!(!DirectiveKind::Consultation.satisfied_by(Acknowledged));
        assert!(DirectiveKind::Consultation.satisfied_by(Responded));
        assert_eq!("done".parse(), Ok(Done));
        assert!("finished"
            .parse::<ResponseStatus>()
            .unwrap_err()
            .contains("acknowledged (已签收), responded (已答复), done (已办结)"));
        assert_eq!("consultation".parse(), Ok(DirectiveKind::Consultation));
    }

    #[test]
    fn chinese_labels_are_taken_too() {
        for s in ResponseStatus::ALL {
            assert_eq!(s.label_zh().parse(), Ok(*s));
            assert_eq!(s.as_str().parse(), Ok(*s));
        }
        for k in DirectiveKind::ALL {
            assert_eq!(k.label_zh().parse(), Ok(*k));
        }
        assert_eq!("签收".parse(), Ok(ResponseStatus::Acknowledged));
        assert_eq!(" 办结".parse(), Ok(ResponseStatus::Done));
        assert_eq!("督办".parse(), Ok(DirectiveKind::Directive));
        assert_eq!("会商".parse(), Ok(DirectiveKind::Consultation));
        assert!("已".parse::<ResponseStatus>().is_err());
        assert!("会议"
            .parse::<DirectiveKind>()
            .unwrap_err()
            .contains("directive (工作指令), consultation (会商)"));
    }
}
