//! What notifies (通知规则): which arrivals for a unit's staff reach the person on duty, and
//! the message each becomes. Defaults, for every unit: an alert from another unit (issued,
//! updated, cancelled), a directive or consultation, a report filed with the province, and a
//! level I or II risk a neighbour shared. What the unit did itself notifies nobody.

use std::str::FromStr;

use super::message::Message;
use crate::domain::alert::Severity;

/// Something that arrived for the unit's staff (a journal item, as the notifier reads it).
#[derive(Debug, Clone, Default)]
pub struct Arrival {
    /// `alert`, `alert-update`, `alert-cancel`, `report`, `directive`, `consultation`,
    /// `risk-shared`, …
    pub kind: String,
    /// The alert, report, directive or risk.
    pub id: String,
    /// Who wrote it (division code).
    pub origin: String,
    /// A line for people.
    pub title: String,
    /// The alert's severity (`severe`), for alerts.
    pub severity: String,
    /// The risk's level (`I`–`IV`), for a shared risk.
    pub level: String,
}

/// The rules in force at one unit.
#[derive(Debug, Clone)]
pub struct Rules {
    /// This unit's division code.
    pub unit: String,
    /// Where its pages are, for links: `https://host:port`.
    pub pages: String,
}

fn severity_zh(s: &str) -> String {
    Severity::from_str(s)
        .map(|v| v.label_zh().to_owned())
        .unwrap_or_else(|_| s.to_owned())
}

impl Rules {
    /// The message `a` becomes, if it notifies.
    pub fn message(&self, a: &Arrival) -> Option<Message> {
        if a.origin == self.unit {
            return None;
        }
        let from = crate::places::display(&a.origin, None);
        let (head, path) = match a.kind.as_str() {
            "alert" => (
                format!("【预警·{}】", severity_zh(&a.severity)),
                format!("/inbox#{}", a.id),
            ),
            "alert-update" => (
                format!("【预警更新·{}】", severity_zh(&a.severity)),
                format!("/inbox#{}", a.id),
            ),
            "alert-cancel" => ("【预警解除】".to_owned(), format!("/inbox#{}", a.id)),
            "directive" => ("【工作指令】".to_owned(), format!("/inbox#{}", a.id)),
            "consultation" => ("【征询意见】".to_owned(), format!("/inbox#{}", a.id)),
            "report" if self.unit.len() == 2 => {
                ("【报告待签收】".to_owned(), format!("/comms#{}", a.id))
            }
            "risk-shared" if matches!(a.level.as_str(), "I" | "II") => (
                format!("【{}级风险通报】", a.level),
                format!("/risk/{}", a.id),
            ),
            _ => return None,
        };
        Some(Message {
            title: format!("{head}{from}：{}", a.title),
            text: format!("来自 · From: {from}\n编号 · Id: {}", a.id),
            link: format!("{}{path}", self.pages.trim_end_matches('/')),
            event: format!("{}:{}", a.kind, a.id),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(unit: &str) -> Rules {
        Rules {
            unit: unit.into(),
            pages: "https://127.0.0.1:8443/".into(),
        }
    }

    #[test]
    fn what_notifies_by_default() {
        let alert = Arrival {
            kind: "alert".into(),
            id: "a1".into(),
            origin: "510105".into(),
            title: "某村聚集".into(),
            severity: "severe".into(),
            ..Default::default()
        };
        let m = rules("510104").message(&alert).unwrap();
        assert_eq!(m.title, "【预警·严重】青羊区 510105：某村聚集");
        assert_eq!(m.link, "https://127.0.0.1:8443/inbox#a1");
        assert_eq!(m.event, "alert:a1");
        // What the unit wrote itself notifies nobody.
        assert!(rules("510105").message(&alert).is_none());
        let shared = |level: &str| Arrival {
            kind: "risk-shared".into(),
            id: "r1".into(),
            origin: "510105".into(),
            level: level.into(),
            ..Default::default()
        };
        assert!(rules("510104").message(&shared("II")).is_some());
        assert!(rules("510104").message(&shared("III")).is_none());
        let report = Arrival {
            kind: "report".into(),
            origin: "510104".into(),
            ..Default::default()
        };
        assert!(rules("51").message(&report).is_some());
        assert!(rules("510105").message(&report).is_none());
        let receipt = Arrival {
            kind: "alert-delivered".into(),
            origin: "510105".into(),
            ..Default::default()
        };
        assert!(rules("510104").message(&receipt).is_none());
    }
}
