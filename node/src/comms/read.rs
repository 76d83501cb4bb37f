//! Read models of communications, as a node shows them: an alert with a receipt per recipient
//! county and who is overdue, a report with the province's acknowledgment, a directive or
//! consultation with a response line per target county. Plain structs built from the view's
//! records at a given time (`now`, Unix ms); the gRPC `api` and the web pages only present
//! them.
//!
//! Each read model holds its record as stored, whole (everything in it is shown to whoever
//! may see the item), with what is derived from other records beside it.

use std::collections::BTreeSet;

use crate::domain::directive::{DirectiveKind, ResponseStatus};
use crate::identity::{DivisionCode, Identity};
use crate::store::{Store, StoreError};
use crate::sync::directory;

use super::cap::{CapMessage, CapReference, MessageKind};
use super::record::{AlertRecord, DirectiveRecord, ReportRecord};
use super::view;

/// An alert as a node shows it: the record, its status and a receipt per recipient county.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertDetails {
    /// The alert as stored: content, chain, issuer.
    pub record: AlertRecord,
    /// `active`, `cancelled` or `expired` when it was read.
    pub status: &'static str,
    /// The issuer's identity URI (`fenghuo://county/510104`), the sender CAP names.
    pub sender: String,
    /// One per county the alert is addressed to or that answered it, in code order.
    pub receipts: Vec<Receipt>,
    /// The alert as CAP 1.2 XML, when it was asked for.
    pub cap_xml: Option<String>,
}

/// What one recipient county did with an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// Division code of the recipient.
    pub county: String,
    /// When its node received the alert, Unix ms.
    pub delivered_at_ms: Option<i64>,
    /// When its staff acknowledged, Unix ms.
    pub acknowledged_at_ms: Option<i64>,
    /// Identity path of who acknowledged (or last answered); empty before that.
    pub acknowledged_by: String,
    /// The acknowledgment's note.
    pub note: String,
    /// An extreme or severe active alert not acknowledged within the issuer's time.
    pub overdue: bool,
}

/// A major-issue report with the province's acknowledgment, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportDetails {
    /// The report as stored.
    pub record: ReportRecord,
    /// The province's acknowledgment, once given.
    pub acknowledged: Option<Acknowledgment>,
}

/// The province's acknowledgment of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledgment {
    /// When, Unix ms.
    pub at_ms: i64,
    /// Identity path of who acknowledged.
    pub by: String,
    /// Their note.
    pub note: String,
}

/// A directive or consultation with a response line per target county.
#[derive(Debug, Clone, PartialEq)]
pub struct DirectiveDetails {
    /// The directive as stored.
    pub record: DirectiveRecord,
    /// One per county asked (at a county node: its own only), in code order.
    pub responses: Vec<ResponseLine>,
}

/// Where one county stands with a directive or consultation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseLine {
    /// Division code of the county.
    pub county: String,
    /// How far it answered; `None` before it did.
    pub status: Option<ResponseStatus>,
    /// Its latest answer's text.
    pub text: String,
    /// When it first answered, Unix ms.
    pub responded_at_ms: Option<i64>,
    /// Identity path of who last answered; empty before that.
    pub responded_by: String,
    /// The deadline passed without the answer the kind asks for.
    pub overdue: bool,
}

/// The alert `id`, if this node holds it.
pub fn find_alert(store: &dyn Store, id: &str) -> Result<Option<AlertRecord>, StoreError> {
    view::alert(store, id)
}

/// The report `id`, if this node holds it.
pub fn find_report(store: &dyn Store, id: &str) -> Result<Option<ReportRecord>, StoreError> {
    view::report(store, id)
}

/// The directive or consultation `id`, if this node holds it.
pub fn find_directive(store: &dyn Store, id: &str) -> Result<Option<DirectiveRecord>, StoreError> {
    view::directive(store, id)
}

/// Whether the node of `unit` shows the alert: the province every one it holds, a county
/// those it issued or is among the recipients of (a county may hold an alert of its
/// neighbour's feed addressed to named counties it is not among).
pub fn shown_to(record: &AlertRecord, unit: &str) -> bool {
    unit.len() == 2 || record.issuer == unit || view::addressed_to(record, unit)
}

/// `record` with its receipts and overdue flags at `now`, and its CAP XML when `cap`.
pub fn alert(
    store: &dyn Store,
    record: &AlertRecord,
    now: i64,
    cap: bool,
) -> Result<AlertDetails, StoreError> {
    let responses = view::responses(store, &record.id)?;
    let mut counties = view::recipients(store, record)?;
    // A county that answered is shown even where this node does not count it a recipient:
    // the issuer's declared neighbours may have changed, or not reached this node yet.
    counties.extend(responses.keys().filter(|k| k.len() == 6).cloned());
    let status = record.status(now);
    let due = record.issued_at_ms + (record.ack_within_s as i64) * 1000;
    let prompt = record.alert.severity.needs_prompt_acknowledgment() && status == "active";
    let receipts = counties
        .into_iter()
        .map(|county| {
            let r = responses.get(&county);
            let acknowledged_at_ms = r.and_then(|r| r.acknowledged_at_ms);
            Receipt {
                delivered_at_ms: r.and_then(|r| r.delivered_at_ms),
                acknowledged_at_ms,
                acknowledged_by: r.map(|r| r.by.clone()).unwrap_or_default(),
                note: r.map(|r| r.note.clone()).unwrap_or_default(),
                overdue: prompt && acknowledged_at_ms.is_none() && now > due,
                county,
            }
        })
        .collect();
    Ok(AlertDetails {
        record: record.clone(),
        status,
        sender: sender_uri(&record.issuer),
        receipts,
        cap_xml: cap.then(|| cap_xml(record)),
    })
}

/// The alerts the node of `unit` shows, newest first: the active ones, or every one when
/// `all`; receipts as [`alert`] gives them (without CAP XML).
pub fn alerts(
    store: &dyn Store,
    unit: &str,
    now: i64,
    all: bool,
) -> Result<Vec<AlertDetails>, StoreError> {
    let mut records: Vec<AlertRecord> = view::alerts(store)?
        .into_iter()
        .filter(|a| shown_to(a, unit))
        .filter(|a| all || a.status(now) == "active")
        .collect();
    records.sort_by_key(|a| std::cmp::Reverse(a.issued_at_ms));
    records
        .iter()
        .map(|a| alert(store, a, now, false))
        .collect()
}

/// The identity URI of a unit's node: `fenghuo://county/510104` or `fenghuo://province/51`.
fn sender_uri(unit: &str) -> String {
    match DivisionCode::parse(unit) {
        Ok(c) if c.is_county() => Identity::County(c).uri(),
        Ok(c) => Identity::Province(c).uri(),
        Err(_) => unit.to_owned(),
    }
}

/// CAP identifier of message `version` of alert `id`: the id for the issue, then `id.v2`…
fn cap_identifier(id: &str, version: u32) -> String {
    if version <= 1 {
        id.to_owned()
    } else {
        format!("{id}.v{version}")
    }
}

/// The alert as CAP 1.2 XML: its latest message, referencing the one before.
pub fn cap_xml(record: &AlertRecord) -> String {
    let sender = sender_uri(&record.issuer);
    let last = record.chain.last();
    let version = last.map_or(1, |m| m.version);
    let references: Vec<CapReference> = record
        .chain
        .iter()
        .rev()
        .nth(1)
        .map(|prev| CapReference {
            sender: sender.clone(),
            identifier: cap_identifier(&record.id, prev.version),
            sent_ms: prev.at_ms,
        })
        .into_iter()
        .collect();
    let name = if record.issuer.len() == 2 {
        format!("Province {}", record.issuer)
    } else {
        format!("County {}", record.issuer)
    };
    CapMessage {
        identifier: &cap_identifier(&record.id, version),
        sender: &sender,
        sender_name: &name,
        sent_ms: last.map_or(record.issued_at_ms, |m| m.at_ms),
        kind: last.map_or(MessageKind::Alert, |m| m.kind),
        references: &references,
        alert: &record.alert,
    }
    .to_xml()
}

/// `r` with the province's acknowledgment, if it gave one.
pub fn report(store: &dyn Store, r: &ReportRecord) -> Result<ReportDetails, StoreError> {
    let acknowledged = view::responses(store, &r.id)?
        .into_values()
        .find_map(|resp| {
            let at_ms = resp
                .acknowledged_at_ms
                .filter(|_| resp.responder.len() == 2)?;
            Some(Acknowledgment {
                at_ms,
                by: resp.by,
                note: resp.note,
            })
        });
    Ok(ReportDetails {
        record: r.clone(),
        acknowledged,
    })
}

/// Every report this node holds, newest first; only those the province has not
/// acknowledged yet when `awaiting`.
pub fn reports(store: &dyn Store, awaiting: bool) -> Result<Vec<ReportDetails>, StoreError> {
    let mut reports = view::reports(store)?
        .iter()
        .map(|r| report(store, r))
        .collect::<Result<Vec<_>, _>>()?;
    reports.retain(|r| !awaiting || r.acknowledged.is_none());
    reports.sort_by_key(|r| std::cmp::Reverse(r.record.filed_at_ms));
    Ok(reports)
}

/// `d` with a response line per county it asks, as the node of `unit` shows it (a county sees
/// its own line only), overdue flags computed at `now`.
pub fn directive(
    store: &dyn Store,
    d: &DirectiveRecord,
    unit: &str,
    now: i64,
) -> Result<DirectiveDetails, StoreError> {
    let responses = view::responses(store, &d.id)?;
    let mut counties: BTreeSet<String> = if unit.len() == 6 {
        std::iter::once(unit.to_owned()).collect()
    } else if d.targets.is_empty() {
        directory::known_counties(store)?
            .into_iter()
            .filter(|c| c.starts_with(unit))
            .collect()
    } else {
        d.targets.iter().cloned().collect()
    };
    if unit.len() == 2 {
        // Every county that answered is shown, whether or not this node lists it as asked.
        counties.extend(responses.keys().cloned());
    }
    let responses = counties
        .into_iter()
        .map(|county| {
            let r = responses.get(&county);
            let status = r.and_then(|r| r.status);
            ResponseLine {
                status,
                text: r.map(|r| r.text.clone()).unwrap_or_default(),
                responded_at_ms: r.and_then(|r| r.responded_at_ms),
                responded_by: r.map(|r| r.by.clone()).unwrap_or_default(),
                overdue: now > d.deadline_ms && !status.is_some_and(|s| d.kind.satisfied_by(s)),
                county,
            }
        })
        .collect();
    Ok(DirectiveDetails {
        record: d.clone(),
        responses,
    })
}

/// The directives and consultations the node of `unit` shows (at a county, those addressed
/// to it), of `kind` when given, newest first, with their response lines at `now`.
pub fn directives(
    store: &dyn Store,
    unit: &str,
    kind: Option<DirectiveKind>,
    now: i64,
) -> Result<Vec<DirectiveDetails>, StoreError> {
    let mut records: Vec<DirectiveRecord> = view::directives(store)?
        .into_iter()
        .filter(|d| kind.is_none_or(|k| k == d.kind))
        .filter(|d| unit.len() == 2 || d.targets(unit))
        .collect();
    records.sort_by_key(|d| std::cmp::Reverse(d.issued_at_ms));
    records
        .iter()
        .map(|d| directive(store, d, unit, now))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::alert::{AlertAudience, Certainty, NewAlert, Severity, Urgency};
    use crate::event::EntryMeta;
    use crate::event::Event;
    use crate::feed::Audience;
    use crate::store::Batch;
    use crate::store::SledStore;

    /// A store the test applies events to, as the views would.
    struct Node {
        _dir: tempfile::TempDir,
        store: SledStore,
    }

    impl Node {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let store = SledStore::open(dir.path()).unwrap();
            Self { _dir: dir, store }
        }

        /// Applies `event` written by `author` (`county/510104`, `staff/51/wang`) at `at_ms`.
        fn apply(&self, author: &str, at_ms: i64, event: Event) {
            let unit = author.split('/').nth(1).unwrap().to_owned();
            let meta = EntryMeta {
                unit,
                seq: 1,
                at_ms,
                author: author.to_owned(),
                audience: Audience::Neighbours,
            };
            let mut batch = Batch::new();
            view::apply(&self.store, &mut batch, &meta, &event).unwrap();
            self.store.commit(&batch).unwrap();
        }
    }

    fn new_alert(severity: Severity, counties: &[&str]) -> NewAlert {
        NewAlert {
            headline: "gathering called online".into(),
            description: String::new(),
            instruction: String::new(),
            event: "gathering".into(),
            urgency: Urgency::Immediate,
            severity,
            certainty: Certainty::Likely,
            affected: vec![],
            onset_ms: None,
            expires_ms: None,
            risk: None,
            audience: AlertAudience::Counties(counties.iter().map(|c| c.to_string()).collect()),
        }
    }

    fn issue(node: &Node, id: &str, at_ms: i64, severity: Severity) {
        node.apply(
            "county/510104",
            at_ms,
            Event::AlertIssued {
                id: id.into(),
                alert: new_alert(severity, &["510105", "510106"]),
                ack_within_s: 60,
            },
        );
    }

    fn overdue(d: &AlertDetails) -> Vec<&str> {
        d.receipts
            .iter()
            .filter(|r| r.overdue)
            .map(|r| r.county.as_str())
            .collect()
    }

    #[test]
    fn receipts_are_overdue_once_a_prompt_alert_waits_past_its_time() {
        let node = Node::new();
        issue(&node, "510104-a1", 1_000, Severity::Severe);
        node.apply(
            "staff/510105/li",
            2_000,
            Event::AlertAcknowledged {
                id: "510104-a1".into(),
                note: "on it".into(),
            },
        );
        node.apply(
            "county/510106",
            1_500,
            Event::AlertDelivered {
                id: "510104-a1".into(),
            },
        );
        let record = find_alert(&node.store, "510104-a1").unwrap().unwrap();
        let due = 1_000 + 60_000;

        let d = alert(&node.store, &record, due, false).unwrap();
        assert_eq!(d.status, "active");
        assert_eq!(d.sender, "fenghuo://county/510104");
        assert_eq!(d.cap_xml, None);
        assert!(overdue(&d).is_empty(), "not yet past due: {d:?}");
        let li = &d.receipts[0];
        assert_eq!(
            (
                li.county.as_str(),
                li.acknowledged_at_ms,
                li.acknowledged_by.as_str(),
                li.note.as_str()
            ),
            ("510105", Some(2_000), "staff/510105/li", "on it")
        );
        assert_eq!(d.receipts[1].delivered_at_ms, Some(1_500));
        assert_eq!(d.receipts[1].acknowledged_at_ms, None);

        // Past due: only the county that has not acknowledged.
        let d = alert(&node.store, &record, due + 1, true).unwrap();
        assert_eq!(overdue(&d), ["510106"]);
        assert!(d.cap_xml.is_some_and(|x| x.contains("510104-a1")));

        // A minor alert asks for no prompt acknowledgment.
        issue(&node, "510104-a2", 1_000, Severity::Minor);
        let minor = find_alert(&node.store, "510104-a2").unwrap().unwrap();
        assert!(overdue(&alert(&node.store, &minor, due + 1, false).unwrap()).is_empty());

        // Nor does a cancelled one.
        node.apply(
            "county/510104",
            3_000,
            Event::AlertCancelled {
                id: "510104-a1".into(),
                version: 2,
                reason: String::new(),
            },
        );
        let record = find_alert(&node.store, "510104-a1").unwrap().unwrap();
        let d = alert(&node.store, &record, due + 1, false).unwrap();
        assert_eq!(d.status, "cancelled");
        assert!(overdue(&d).is_empty());
    }

    #[test]
    fn a_unit_is_shown_the_alerts_it_issued_or_is_among_the_recipients_of() {
        let node = Node::new();
        issue(&node, "510104-a1", 1_000, Severity::Severe);
        issue(&node, "510104-a2", 2_000, Severity::Minor);
        node.apply(
            "county/510104",
            3_000,
            Event::AlertCancelled {
                id: "510104-a1".into(),
                version: 2,
                reason: String::new(),
            },
        );
        let record = find_alert(&node.store, "510104-a1").unwrap().unwrap();
        for (unit, shown) in [
            ("510104", true),
            ("510105", true),
            ("51", true),
            ("510107", false),
        ] {
            assert_eq!(shown_to(&record, unit), shown, "{unit}");
        }
        let ids = |unit: &str, all: bool| -> Vec<String> {
            alerts(&node.store, unit, 5_000, all)
                .unwrap()
                .into_iter()
                .map(|a| a.record.id)
                .collect()
        };
        assert_eq!(ids("51", true), ["510104-a2", "510104-a1"], "newest first");
        assert_eq!(ids("510105", false), ["510104-a2"], "active only");
        assert!(ids("510107", true).is_empty());
    }

    #[test]
    fn a_report_awaits_until_the_province_acknowledges_it() {
        let node = Node::new();
        for (id, at) in [("510104-r1", 1_000), ("510104-r2", 2_000)] {
            node.apply(
                "county/510104",
                at,
                Event::ReportFiled {
                    id: id.into(),
                    risk: Some("510104-7".into()),
                    level: Some(crate::domain::Level::II),
                    summary: "level II".into(),
                    automatic: true,
                    disposal: None,
                },
            );
        }
        node.apply(
            "staff/51/wang",
            3_000,
            Event::ReportAcknowledged {
                id: "510104-r1".into(),
                note: "seen".into(),
            },
        );
        let all = reports(&node.store, false).unwrap();
        assert_eq!(all[0].record.id, "510104-r2", "newest first");
        assert_eq!(all[0].acknowledged, None);
        assert_eq!(
            all[1].acknowledged,
            Some(Acknowledgment {
                at_ms: 3_000,
                by: "staff/51/wang".into(),
                note: "seen".into(),
            })
        );
        let awaiting = reports(&node.store, true).unwrap();
        assert_eq!(awaiting.len(), 1);
        assert_eq!(awaiting[0].record.id, "510104-r2");
    }

    #[test]
    fn directive_lines_are_overdue_until_the_kind_is_satisfied() {
        let node = Node::new();
        for (id, kind) in [
            ("51-d1", DirectiveKind::Directive),
            ("51-c1", DirectiveKind::Consultation),
        ] {
            node.apply(
                "staff/51/wang",
                1_000,
                Event::DirectiveIssued {
                    id: id.into(),
                    kind,
                    text: "check the square".into(),
                    deadline_ms: 10_000,
                    targets: vec!["510104".into(), "510105".into()],
                },
            );
            node.apply(
                "staff/510104/zhang",
                2_000,
                Event::DirectiveResponded {
                    id: id.into(),
                    status: ResponseStatus::Responded,
                    text: "looking".into(),
                },
            );
        }
        let lines = |id: &str, unit: &str, now: i64| -> Vec<(String, bool)> {
            let d = find_directive(&node.store, id).unwrap().unwrap();
            directive(&node.store, &d, unit, now)
                .unwrap()
                .responses
                .into_iter()
                .map(|l| (l.county, l.overdue))
                .collect()
        };
        let line = |county: &str, overdue: bool| (county.to_owned(), overdue);
        // Before the deadline nobody is overdue.
        assert_eq!(
            lines("51-d1", "51", 10_000),
            [line("510104", false), line("510105", false)]
        );
        // After it, a directive needs `done`; a consultation an answer.
        assert_eq!(
            lines("51-d1", "51", 10_001),
            [line("510104", true), line("510105", true)]
        );
        assert_eq!(
            lines("51-c1", "51", 10_001),
            [line("510104", false), line("510105", true)]
        );
        // A county sees its own line only.
        assert_eq!(lines("51-c1", "510105", 10_001), [line("510105", true)]);

        let d = find_directive(&node.store, "51-d1").unwrap().unwrap();
        let zhang = &directive(&node.store, &d, "51", 0).unwrap().responses[0];
        assert_eq!(zhang.status, Some(ResponseStatus::Responded));
        assert_eq!(
            (
                zhang.text.as_str(),
                zhang.responded_at_ms,
                zhang.responded_by.as_str()
            ),
            ("looking", Some(2_000), "staff/510104/zhang")
        );

        let listed = |unit: &str, kind| -> Vec<String> {
            directives(&node.store, unit, kind, 0)
                .unwrap()
                .into_iter()
                .map(|d| d.record.id)
                .collect()
        };
        assert_eq!(listed("51", Some(DirectiveKind::Consultation)), ["51-c1"]);
        assert_eq!(listed("510105", None).len(), 2);
        assert!(listed("510106", None).is_empty(), "not a target");
    }
}
