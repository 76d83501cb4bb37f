//! Directives (工作指令 / 督办) and consultations (会商): what the province asks of counties,
//! and how a county answers. Free of transport and storage.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::risk::parse_named;

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
        parse_named(Self::ALL, Self::as_str, s, "kind")
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
}

impl fmt::Display for ResponseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ResponseStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_named(Self::ALL, Self::as_str, s, "response status")
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
            .contains("acknowledged, responded, done"));
        assert_eq!("consultation".parse(), Ok(DirectiveKind::Consultation));
    }
}
