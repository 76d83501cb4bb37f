//! CAP 1.2 XML for an alert (`fenghuo alert show <id> --format cap`), so alert hubs and other
//! CAP tools can take Fenghuo's alerts as they are.
//!
//! Written by hand: one fixed element order (the schema's `sequence`), every text escaped.

use std::fmt::Write as _;

use time::OffsetDateTime;

use crate::domain::alert::NewAlert;

/// CAP's `msgType`: a new alert, or one that updates or cancels earlier ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MessageKind {
    /// A new alert.
    Alert,
    /// Replaces the alerts it references.
    Update,
    /// Cancels the alerts it references.
    Cancel,
}

impl MessageKind {
    /// The CLI and JSON name: `alert`, `update` or `cancel`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Alert => "alert",
            Self::Update => "update",
            Self::Cancel => "cancel",
        }
    }

    fn cap_name(self) -> &'static str {
        match self {
            Self::Alert => "Alert",
            Self::Update => "Update",
            Self::Cancel => "Cancel",
        }
    }
}

/// An earlier message this one updates or cancels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapReference {
    /// Its sender.
    pub sender: String,
    /// Its identifier.
    pub identifier: String,
    /// When it was sent, Unix ms.
    pub sent_ms: i64,
}

/// Everything a CAP message says about one alert.
#[derive(Debug, Clone)]
pub struct CapMessage<'a> {
    /// The alert's id, unique for its sender (e.g. `510104-A3`).
    pub identifier: &'a str,
    /// The issuer's identity URI (e.g. `fenghuo://county/510104`).
    pub sender: &'a str,
    /// The issuer for people (e.g. `County 510104`).
    pub sender_name: &'a str,
    /// When it was issued, Unix ms.
    pub sent_ms: i64,
    /// New, update or cancel.
    pub kind: MessageKind,
    /// What an update or cancel refers to.
    pub references: &'a [CapReference],
    /// The alert itself.
    pub alert: &'a NewAlert,
}

/// CAP's time format: seconds, and UTC written `-00:00` (the standard forbids `Z`).
fn cap_time(ms: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}-00:00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `s` with the characters XML gives meaning to escaped.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Appends `<name>text</name>` on its own line, text escaped, when `text` is not empty.
fn element(out: &mut String, indent: &str, name: &str, text: &str) {
    if !text.is_empty() {
        let _ = writeln!(out, "{indent}<{name}>{}</{name}>", escape(text));
    }
}

impl CapMessage<'_> {
    /// The message as a CAP 1.2 XML document.
    pub fn to_xml(&self) -> String {
        let a = self.alert;
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        out.push_str("<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">\n");
        let top = "  ";
        element(&mut out, top, "identifier", self.identifier);
        element(&mut out, top, "sender", self.sender);
        element(&mut out, top, "sent", &cap_time(self.sent_ms));
        element(&mut out, top, "status", "Actual");
        element(&mut out, top, "msgType", self.kind.cap_name());
        // Only Fenghuo nodes of the audience receive it.
        element(&mut out, top, "scope", "Restricted");
        element(
            &mut out,
            top,
            "restriction",
            &format!("Fenghuo federation, audience: {}", a.audience),
        );
        if !self.references.is_empty() {
            let refs: Vec<String> = self
                .references
                .iter()
                .map(|r| format!("{},{},{}", r.sender, r.identifier, cap_time(r.sent_ms)))
                .collect();
            element(&mut out, top, "references", &refs.join(" "));
        }
        out.push_str("  <info>\n");
        let inner = "    ";
        element(&mut out, inner, "language", "zh-CN");
        // Public-opinion risks concern public order: CAP's `Security`.
        element(&mut out, inner, "category", "Security");
        let event = if a.event.is_empty() {
            "public-opinion risk"
        } else {
            &a.event
        };
        element(&mut out, inner, "event", event);
        element(&mut out, inner, "urgency", a.urgency.cap_name());
        element(&mut out, inner, "severity", a.severity.cap_name());
        element(&mut out, inner, "certainty", a.certainty.cap_name());
        if let Some(onset) = a.onset_ms {
            element(&mut out, inner, "onset", &cap_time(onset));
        }
        if let Some(expires) = a.expires_ms {
            element(&mut out, inner, "expires", &cap_time(expires));
        }
        element(&mut out, inner, "senderName", self.sender_name);
        element(&mut out, inner, "headline", &a.headline);
        element(&mut out, inner, "description", &a.description);
        element(&mut out, inner, "instruction", &a.instruction);
        if let Some(risk) = &a.risk {
            out.push_str("    <parameter>\n");
            element(&mut out, "      ", "valueName", "fenghuo-risk");
            element(&mut out, "      ", "value", risk);
            out.push_str("    </parameter>\n");
        }
        if !a.affected.is_empty() {
            out.push_str("    <area>\n");
            element(
                &mut out,
                "      ",
                "areaDesc",
                &format!("Counties {}", a.affected.join(", ")),
            );
            for code in &a.affected {
                out.push_str("      <geocode>\n");
                element(&mut out, "        ", "valueName", "GB/T 2260");
                element(&mut out, "        ", "value", code);
                out.push_str("      </geocode>\n");
            }
            out.push_str("    </area>\n");
        }
        out.push_str("  </info>\n</alert>\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::alert::{AlertAudience, Certainty, Severity, Urgency};

    #[test]
    fn times_use_cap_s_utc_offset() {
        assert_eq!(cap_time(0), "1970-01-01T00:00:00-00:00");
        assert_eq!(cap_time(1_764_104_400_999), "2025-11-25T21:00:00-00:00");
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("a<b & \"c\" 'd'>"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;"
        );
        let alert = NewAlert {
            headline: "<script>&".into(),
            description: String::new(),
            instruction: String::new(),
            event: String::new(),
            urgency: Urgency::Unknown,
            severity: Severity::Unknown,
            certainty: Certainty::Unknown,
            affected: vec![],
            onset_ms: None,
            expires_ms: None,
            risk: None,
            audience: AlertAudience::Province,
        };
        let xml = CapMessage {
            identifier: "510104-A1",
            sender: "fenghuo://county/510104",
            sender_name: "County 510104",
            sent_ms: 0,
            kind: MessageKind::Alert,
            references: &[],
            alert: &alert,
        }
        .to_xml();
        assert!(
            xml.contains("<headline>&lt;script&gt;&amp;</headline>"),
            "{xml}"
        );
        assert!(
            !xml.contains("<description>"),
            "empty elements are left out: {xml}"
        );
    }
}
