//! Shared alerts (预警通报), modelled on OASIS CAP 1.2, the standard alert hubs exchange: how
//! urgent, severe and certain an alert is, whom it is for, and the checks a new alert must pass
//! before anything is written. Free of transport and storage.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::identity::DivisionCode;

use super::risk::parse_named_or_label;

/// Defines a CAP vocabulary: variants with their CLI name, CAP name and Chinese label, `ALL`,
/// `as_str`, `cap_name`, `label_zh`, `Display` and `FromStr` (which takes the name or the label).
macro_rules! cap_vocabulary {
    ($(#[$doc:meta])* $name:ident, $what:literal, { $($(#[$vdoc:meta])* $variant:ident => $cli:literal, $cap:literal, $zh:literal;)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every value, most pressing first.
            pub const ALL: &'static [$name] = &[$(Self::$variant,)+];

            /// The CLI and JSON name, e.g. `severe`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $cli,)+
                }
            }

            /// The name CAP 1.2 gives it, e.g. `Severe`.
            pub fn cap_name(self) -> &'static str {
                match self {
                    $(Self::$variant => $cap,)+
                }
            }

            /// The Chinese label, e.g. `严重`.
            pub fn label_zh(self) -> &'static str {
                match self {
                    $(Self::$variant => $zh,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_named_or_label(Self::ALL, Self::as_str, Self::label_zh, s, $what)
            }
        }
    };
}

// The Chinese labels are those of China's national early-warning publication (预警信息发布),
// which also follows CAP: severities 特别严重 / 严重 / 较重 / 一般 match the four colours.
cap_vocabulary!(
    /// How soon action is needed (CAP `urgency`).
    Urgency, "urgency", {
        /// Act now.
        Immediate => "immediate", "Immediate", "立即";
        /// Act soon, within the next hour.
        Expected => "expected", "Expected", "预期";
        /// Act in the near future.
        Future => "future", "Future", "将来";
        /// No longer needed.
        Past => "past", "Past", "过去";
        /// Not known.
        Unknown => "unknown", "Unknown", "未知";
    }
);

cap_vocabulary!(
    /// How much harm is expected (CAP `severity`).
    Severity, "severity", {
        /// Extraordinary threat.
        Extreme => "extreme", "Extreme", "特别严重";
        /// Significant threat.
        Severe => "severe", "Severe", "严重";
        /// Possible threat.
        Moderate => "moderate", "Moderate", "较重";
        /// Minimal to no known threat.
        Minor => "minor", "Minor", "一般";
        /// Not known.
        Unknown => "unknown", "Unknown", "未知";
    }
);

cap_vocabulary!(
    /// How sure the issuer is (CAP `certainty`).
    Certainty, "certainty", {
        /// Determined to have occurred or to be ongoing.
        Observed => "observed", "Observed", "已发生";
        /// Likely (more than even odds).
        Likely => "likely", "Likely", "很可能";
        /// Possible but not likely.
        Possible => "possible", "Possible", "可能";
        /// Not expected to occur.
        Unlikely => "unlikely", "Unlikely", "不太可能";
        /// Not known.
        Unknown => "unknown", "Unknown", "未知";
    }
);

impl Severity {
    /// Whether recipients must acknowledge within the configured time, or be flagged overdue.
    pub fn needs_prompt_acknowledgment(self) -> bool {
        matches!(self, Self::Extreme | Self::Severe)
    }
}

/// Whom an alert is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertAudience {
    /// The issuer's neighbouring counties (and the province).
    Neighbours,
    /// Every county of the province.
    Province,
    /// These counties (and the province).
    Counties(Vec<String>),
}

impl FromStr for AlertAudience {
    type Err = String;

    /// `neighbours`, `province`, or county codes separated by commas.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "neighbours" => Ok(Self::Neighbours),
            "province" => Ok(Self::Province),
            "" => Err(
                "an empty audience: expected neighbours, province or county codes (510104,510105)"
                    .into(),
            ),
            list => {
                let mut codes: Vec<String> = Vec::new();
                for part in list.split(',').map(str::trim) {
                    let code = DivisionCode::county(part).map_err(|e| {
                        format!("audience {part:?} is neither neighbours, province nor a county code: {e}")
                    })?;
                    let code = code.to_string();
                    if !codes.contains(&code) {
                        codes.push(code);
                    }
                }
                Ok(Self::Counties(codes))
            }
        }
    }
}

impl fmt::Display for AlertAudience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Neighbours => f.write_str("neighbours"),
            Self::Province => f.write_str("province"),
            Self::Counties(c) => f.write_str(&c.join(",")),
        }
    }
}

/// The longest headline: CAP asks for headlines short enough for text messages.
pub const MAX_HEADLINE_CHARS: usize = 160;

/// An alert as its issuer states it, before it is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAlert {
    /// One line (CAP `headline`).
    pub headline: String,
    /// What is happening (CAP `description`).
    pub description: String,
    /// What recipients should do (CAP `instruction`).
    pub instruction: String,
    /// The kind of event (CAP `event`), e.g. `gathering called online`.
    pub event: String,
    /// How soon action is needed.
    pub urgency: Urgency,
    /// How much harm is expected.
    pub severity: Severity,
    /// How sure the issuer is.
    pub certainty: Certainty,
    /// Counties the event affects (CAP `area`); may be empty.
    pub affected: Vec<String>,
    /// When the event starts, Unix ms.
    pub onset_ms: Option<i64>,
    /// When the alert stops being valid, Unix ms.
    pub expires_ms: Option<i64>,
    /// The risk item it concerns, if any.
    pub risk: Option<String>,
    /// Whom it is for.
    pub audience: AlertAudience,
}

/// Why an alert was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct AlertError {
    /// The field at fault, as the CLI names it.
    pub field: &'static str,
    /// What is wrong with it, for the person who wrote it.
    pub reason: String,
}

fn refuse(field: &'static str, reason: impl Into<String>) -> AlertError {
    AlertError {
        field,
        reason: reason.into(),
    }
}

impl NewAlert {
    /// Checks everything that can be checked without the register: a headline of sensible
    /// length, county codes, an expiry after `now_ms` and after the onset.
    pub fn check(&self, now_ms: i64) -> Result<(), AlertError> {
        let headline = self.headline.trim();
        if headline.is_empty() {
            return Err(refuse("headline", "must not be empty"));
        }
        let chars = headline.chars().count();
        if chars > MAX_HEADLINE_CHARS {
            return Err(refuse(
                "headline",
                format!("{chars} characters; at most {MAX_HEADLINE_CHARS} (put the rest in --description)"),
            ));
        }
        if let Some(refused) = super::text::refused_char(headline, super::text::Lines::One) {
            return Err(refuse("headline", refused.to_string()));
        }
        for code in &self.affected {
            DivisionCode::county(code)
                .map_err(|e| refuse("affected", format!("{code:?} is not a county code: {e}")))?;
        }
        if let AlertAudience::Counties(codes) = &self.audience {
            if codes.is_empty() {
                return Err(refuse("audience", "names no county"));
            }
        }
        if let Some(expires) = self.expires_ms {
            if expires <= now_ms {
                return Err(refuse(
                    "expires",
                    "is in the past: an alert must expire after it is issued",
                ));
            }
            if self.onset_ms.is_some_and(|onset| onset > expires) {
                return Err(refuse("expires", "is before the onset"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> NewAlert {
        NewAlert {
            headline: "Gathering called at the county office on Saturday".into(),
            description: String::new(),
            instruction: String::new(),
            event: "gathering called online".into(),
            urgency: Urgency::Expected,
            severity: Severity::Severe,
            certainty: Certainty::Likely,
            affected: vec!["510104".into()],
            onset_ms: None,
            expires_ms: Some(2_000),
            risk: None,
            audience: AlertAudience::Neighbours,
        }
    }

    #[test]
    fn vocabularies_parse_their_names_and_name_their_cap_values() {
        for u in Urgency::ALL {
            assert_eq!(u.as_str().parse::<Urgency>(), Ok(*u));
        }
        for s in Severity::ALL {
            assert_eq!(s.as_str().parse::<Severity>(), Ok(*s));
        }
        for c in Certainty::ALL {
            assert_eq!(c.as_str().parse::<Certainty>(), Ok(*c));
        }
        assert_eq!(Severity::Extreme.cap_name(), "Extreme");
        assert_eq!(Certainty::Observed.cap_name(), "Observed");
        let err = "dire".parse::<Severity>().unwrap_err();
        assert!(
            err.contains(
                "extreme (特别严重), severe (严重), moderate (较重), minor (一般), unknown (未知)"
            ),
            "{err}"
        );
        assert!(Severity::Severe.needs_prompt_acknowledgment());
        assert!(!Severity::Moderate.needs_prompt_acknowledgment());
    }

    #[test]
    fn vocabularies_take_their_chinese_labels_too() {
        for u in Urgency::ALL {
            assert_eq!(u.label_zh().parse::<Urgency>(), Ok(*u));
        }
        for s in Severity::ALL {
            assert_eq!(s.label_zh().parse::<Severity>(), Ok(*s));
        }
        for c in Certainty::ALL {
            assert_eq!(c.label_zh().parse::<Certainty>(), Ok(*c));
        }
        assert_eq!(" 严重 ".parse(), Ok(Severity::Severe));
        assert_eq!("较重".parse(), Ok(Severity::Moderate));
        assert_eq!("立即".parse(), Ok(Urgency::Immediate));
        assert_eq!("很可能".parse(), Ok(Certainty::Likely));
        // Each value's label is its own within a vocabulary.
        let labels: std::collections::BTreeSet<_> =
            Severity::ALL.iter().map(|s| s.label_zh()).collect();
        assert_eq!(labels.len(), Severity::ALL.len());
        assert!("很严重".parse::<Severity>().is_err());
    }

    #[test]
    fn audiences_are_neighbours_province_or_county_codes() {
        assert_eq!("neighbours".parse(), Ok(AlertAudience::Neighbours));
        assert_eq!("province".parse(), Ok(AlertAudience::Province));
        assert_eq!(
            "510104, 510105,510104".parse(),
            Ok(AlertAudience::Counties(vec![
                "510104".into(),
                "510105".into()
            ]))
        );
        let err = "510104,everyone".parse::<AlertAudience>().unwrap_err();
        assert!(err.contains("\"everyone\""), "{err}");
        assert!(
            "51".parse::<AlertAudience>().is_err(),
            "a province code is no county"
        );
        assert!("".parse::<AlertAudience>().is_err());
        assert_eq!(
            AlertAudience::Counties(vec!["510104".into(), "510105".into()]).to_string(),
            "510104,510105"
        );
    }

    #[test]
    fn a_new_alert_is_checked_before_anything_is_written() {
        assert_eq!(alert().check(1_000), Ok(()));
        let field = |a: NewAlert| a.check(1_000).unwrap_err().field;
        assert_eq!(
            field(NewAlert {
                headline: "  ".into(),
                ..alert()
            }),
            "headline"
        );
        assert_eq!(
            field(NewAlert {
                headline: "x".repeat(MAX_HEADLINE_CHARS + 1),
                ..alert()
            }),
            "headline"
        );
        assert_eq!(
            field(NewAlert {
                expires_ms: Some(999),
                ..alert()
            }),
            "expires"
        );
        assert_eq!(
            field(NewAlert {
                onset_ms: Some(3_000),
                ..alert()
            }),
            "expires",
            "expiry before onset"
        );
        assert_eq!(
            field(NewAlert {
                affected: vec!["5101".into()],
                ..alert()
            }),
            "affected"
        );
        assert_eq!(
            field(NewAlert {
                audience: AlertAudience::Counties(vec![]),
                ..alert()
            }),
            "audience"
        );
        // A headline of exactly the limit in Chinese characters is fine.
        let zh = NewAlert {
            headline: "预".repeat(MAX_HEADLINE_CHARS),
            expires_ms: None,
            ..alert()
        };
        assert_eq!(zh.check(1_000), Ok(()));
    }
}
