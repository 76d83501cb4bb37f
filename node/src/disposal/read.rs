//! Read models of disposal requests: a request as staff see it (its case, overdue flag and
//! history with the gateway's webhook attempts) or as its partner sees it (its own case only,
//! with the evidence files' content), and the message a partner receives for one outbox
//! entry, the same over its gRPC stream and its webhook. Plain structs built from the view's
//! records at a given time (`now`, Unix ms); the gRPC `api` and the gateway's webhook delivery
//! only present them.
//!
//! Unlike the communications read models, a request's is not its record: what the partner
//! is shown must leave out the review, relay and escalation, so only the fields shown are
//! copied, and those shown to staff alone are empty for the partner.

use crate::domain::disposal::Action;
use crate::store::{Store, StoreError};

use super::record::{DisposalRecord, OutcomeRecord, State};
use super::view::{self, OutboxMessage};

/// Whom a request is shown to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShownTo {
    /// Requesters and provincial staff: the history (with webhook attempts) and escalation,
    /// no evidence content.
    Staff,
    /// The partner: its own case only, nothing of the review, relay or escalation; the
    /// evidence content when `evidence` (with a request, not with a withdrawal).
    Partner {
        /// Load the evidence files' content.
        evidence: bool,
    },
}

/// A disposal request as shown to staff or to its partner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestDetails {
    /// `<requester>-x<n>`.
    pub id: String,
    /// Division code of the requester.
    pub requester: String,
    /// The partner.
    pub partner: String,
    /// The exact URLs.
    pub urls: Vec<String>,
    /// What is asked.
    pub action: Action,
    /// Why.
    pub reason: String,
    /// Under which law or rule.
    pub legal_basis: String,
    /// When an outcome is due, Unix ms.
    pub deadline_ms: i64,
    /// Files attached, with their content only where the partner is sent it.
    pub evidence: Vec<Evidence>,
    /// The risk concerned.
    pub risk: Option<String>,
    /// When filed, Unix ms.
    pub filed_at_ms: i64,
    /// Identity path of who filed it.
    pub filed_by: String,
    /// Where it stands.
    pub state: State,
    /// Past its deadline without an outcome when read.
    pub overdue: bool,
    /// Its case: the id of the case's first request (its own id when alone).
    pub case_id: String,
    /// The other requests of its case.
    pub linked: Vec<String>,
    /// When the partner received it, Unix ms.
    pub delivered_at_ms: Option<i64>,
    /// When the partner confirmed receipt, Unix ms.
    pub acknowledged_at_ms: Option<i64>,
    /// The partner's decision.
    pub outcome: Option<OutcomeRecord>,
    /// Its steps with the webhook attempts among them, oldest first (staff only).
    pub history: Vec<HistoryLine>,
    /// The gateway's report that escalated it once overdue (staff only).
    pub escalated_report: Option<String>,
}

/// A file attached to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// File name.
    pub name: String,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
    /// The content; empty where it is not sent (to staff, with a withdrawal, in the request
    /// part of a partner's message).
    pub content: Vec<u8>,
}

/// One line of a request's history: a step of its life or a webhook attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryLine {
    /// When, Unix ms.
    pub at_ms: i64,
    /// The step (`filed`, `relayed`, …), `attempt`, or `delivery failed`.
    pub kind: String,
    /// Identity path of who did it, or `webhook`.
    pub by: String,
    /// Reason or note; for an attempt, the message kind and its HTTP status or error.
    pub note: String,
}

/// What a partner receives for one outbox entry: a request, or its withdrawal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryMessage {
    /// The outbox sequence number, the partner's cursor to resume from.
    pub cursor: u64,
    /// A withdrawal of the request rather than the request.
    pub withdrawal: bool,
    /// The request as its partner is shown it, without evidence content.
    pub request: RequestDetails,
    /// The evidence files with their content; none with a withdrawal.
    pub evidence: Vec<Evidence>,
}

impl DeliveryMessage {
    /// `request` or `withdrawal`, as the stream, the webhook body and its id name it.
    pub fn kind(&self) -> &'static str {
        if self.withdrawal {
            "withdrawal"
        } else {
            "request"
        }
    }
}

/// The request `id`, if this node holds it.
pub fn find(store: &dyn Store, id: &str) -> Result<Option<DisposalRecord>, StoreError> {
    view::get(store, id)
}

/// Where request `id` stands, if this node holds it.
pub fn state(store: &dyn Store, id: &str) -> Result<Option<State>, StoreError> {
    Ok(find(store, id)?.map(|r| r.state))
}

/// `r` as shown to `to`, its overdue flag computed at `now`.
pub fn request(
    store: &dyn Store,
    r: &DisposalRecord,
    now: i64,
    to: ShownTo,
) -> Result<RequestDetails, StoreError> {
    let (case_id, members) = view::case(store, r)?;
    let content = if to == (ShownTo::Partner { evidence: true }) {
        view::evidence(store, &r.id)?
    } else {
        Vec::new()
    };
    let staff = to == ShownTo::Staff;
    Ok(RequestDetails {
        id: r.id.clone(),
        requester: r.requester.clone(),
        partner: r.partner.clone(),
        urls: r.urls.clone(),
        action: r.action,
        reason: r.reason.clone(),
        legal_basis: r.legal_basis.clone(),
        deadline_ms: r.deadline_ms,
        evidence: r
            .evidence
            .iter()
            .map(|e| Evidence {
                name: e.name.clone(),
                sha256: e.sha256.clone(),
                size: e.size,
                // Stored as base64 in the event; a file that does not decode goes out empty
                // rather than failing the whole message.
                content: content
                    .iter()
                    .find(|c| c.sha256 == e.sha256 && c.name == e.name)
                    .and_then(|c| {
                        use base64::Engine as _;
                        base64::engine::general_purpose::STANDARD
                            .decode(&c.content)
                            .ok()
                    })
                    .unwrap_or_default(),
            })
            .collect(),
        risk: r.risk.clone(),
        filed_at_ms: r.filed_at_ms,
        filed_by: r.filed_by.clone(),
        state: r.state,
        overdue: r.overdue(now),
        case_id,
        linked: members.into_iter().filter(|m| *m != r.id).collect(),
        delivered_at_ms: r.delivered_at_ms,
        acknowledged_at_ms: r.acknowledged_at_ms,
        outcome: r.outcome.clone(),
        history: if staff {
            history(store, r)?
        } else {
            Vec::new()
        },
        escalated_report: if staff { r.escalated.clone() } else { None },
    })
}

/// Every request this node holds as staff see it, newest first, overdue flags at `now`.
pub fn requests(store: &dyn Store, now: i64) -> Result<Vec<RequestDetails>, StoreError> {
    let mut requests = view::list(store)?
        .iter()
        .map(|r| request(store, r, now, ShownTo::Staff))
        .collect::<Result<Vec<_>, _>>()?;
    requests.sort_by_key(|r| std::cmp::Reverse(r.filed_at_ms));
    Ok(requests)
}

/// The request's steps, with the gateway's webhook attempts among them, oldest first.
pub fn history(store: &dyn Store, r: &DisposalRecord) -> Result<Vec<HistoryLine>, StoreError> {
    let mut h: Vec<HistoryLine> = r
        .history
        .iter()
        .map(|s| HistoryLine {
            at_ms: s.at_ms,
            kind: s.kind.clone(),
            by: s.by.clone(),
            note: s.note.clone(),
        })
        .collect();
    for a in super::attempts::list(store, &r.id)? {
        h.push(HistoryLine {
            at_ms: a.at_ms,
            // The last attempt of a message the partner refused for good (or that outlived
            // its deadline) says so in the history's kind, for staff scanning it.
            kind: if a.last { "delivery failed" } else { "attempt" }.into(),
            by: "webhook".into(),
            note: match (a.status, a.error.is_empty()) {
                (0, _) => format!("{}: {}", a.kind, a.error),
                (s, true) => format!("{}: HTTP {s}", a.kind),
                (s, false) => format!("{}: HTTP {s}: {}", a.kind, a.error),
            },
        });
    }
    // Stable: a step and an attempt in the same millisecond keep steps first.
    h.sort_by_key(|e| e.at_ms);
    Ok(h)
}

/// The partner's message for outbox entry `seq` at `now`; `None` when the request is no
/// longer held (nothing to send).
pub fn message(
    store: &dyn Store,
    seq: u64,
    m: &OutboxMessage,
    now: i64,
) -> Result<Option<DeliveryMessage>, StoreError> {
    let Some(r) = find(store, &m.id)? else {
        return Ok(None);
    };
    let to = ShownTo::Partner {
        evidence: !m.withdrawal,
    };
    let mut request = request(store, &r, now, to)?;
    // The content travels once, beside the request, not inside it.
    let evidence = request.evidence.clone();
    for e in &mut request.evidence {
        e.content = Vec::new();
    }
    Ok(Some(DeliveryMessage {
        cursor: seq,
        withdrawal: m.withdrawal,
        request,
        evidence: if m.withdrawal { Vec::new() } else { evidence },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disposal::attempts::{self, Attempt};
    use crate::event::EntryMeta;
    use crate::event::{Event, EvidenceFile};
    use crate::feed::Audience;
    use crate::store::Batch;
    use crate::store::SledStore;

    fn store() -> (tempfile::TempDir, SledStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        (dir, store)
    }

    /// Applies `event` written by `author` at `at_ms`, as the views would.
    fn apply(store: &SledStore, author: &str, at_ms: i64, event: Event) {
        let meta = EntryMeta {
            unit: author.split('/').nth(1).unwrap().to_owned(),
            seq: 1,
            at_ms,
            author: author.to_owned(),
            audience: Audience::Upstream,
        };
        let mut batch = Batch::new();
        view::apply(store, &mut batch, &meta, &event).unwrap();
        store.commit(&batch).unwrap();
    }

    fn file(store: &SledStore, id: &str, at_ms: i64, content: &str) {
        use base64::Engine as _;
        apply(
            store,
            &format!("staff/{}/zhang", id.split('-').next().unwrap()),
            at_ms,
            Event::DisposalFiled {
                id: id.into(),
                partner: "weibo".into(),
                urls: vec!["https://weibo.example/p/1".into()],
                action: Action::TakeDown,
                reason: "rumour".into(),
                legal_basis: "art. 12".into(),
                deadline_ms: 100_000,
                evidence: vec![EvidenceFile {
                    name: "shot.png".into(),
                    sha256: "ab".repeat(32),
                    size: 3,
                    content: base64::engine::general_purpose::STANDARD.encode(content),
                }],
                risk: None,
            },
        );
    }

    #[test]
    fn staff_see_the_history_with_attempts_and_the_partner_the_evidence() {
        let (_dir, store) = store();
        file(&store, "510104-x1", 1_000, "png");
        file(&store, "510105-x1", 2_000, "gif");
        apply(
            &store,
            "province/51",
            200_000,
            Event::ReportFiled {
                id: "51-r1".into(),
                risk: None,
                level: None,
                summary: "overdue".into(),
                automatic: true,
                disposal: Some("510104-x1".into()),
            },
        );
        let attempt = |at_ms, status, error: &str, last| Attempt {
            at_ms,
            kind: "request".into(),
            status,
            error: error.into(),
            last,
        };
        attempts::record(
            &store,
            "510104-x1",
            &attempt(1_500, 0, "connection refused", false),
        )
        .unwrap();
        attempts::record(&store, "510104-x1", &attempt(3_000, 410, "gone", true)).unwrap();

        let r = find(&store, "510104-x1").unwrap().unwrap();
        let staff = request(&store, &r, 100_001, ShownTo::Staff).unwrap();
        assert!(staff.overdue);
        assert_eq!(
            (staff.case_id.as_str(), staff.linked.as_slice()),
            ("510104-x1", &["510105-x1".to_owned()][..])
        );
        assert_eq!(staff.escalated_report.as_deref(), Some("51-r1"));
        assert!(
            staff.evidence[0].content.is_empty(),
            "staff are not sent the files"
        );
        let lines: Vec<(i64, &str, &str, &str)> = staff
            .history
            .iter()
            .map(|h| (h.at_ms, h.kind.as_str(), h.by.as_str(), h.note.as_str()))
            .collect();
        assert_eq!(
            lines,
            [
                (1_000, "filed", "staff/510104/zhang", "rumour"),
                (1_500, "attempt", "webhook", "request: connection refused"),
                (
                    3_000,
                    "delivery failed",
                    "webhook",
                    "request: HTTP 410: gone"
                ),
                (
                    200_000,
                    "escalated",
                    "province/51",
                    "overdue: report 51-r1 in the gateway's report list"
                ),
            ]
        );

        let partner = request(&store, &r, 100_001, ShownTo::Partner { evidence: true }).unwrap();
        assert!(partner.history.is_empty() && partner.escalated_report.is_none());
        assert_eq!(partner.evidence[0].content, b"png");
        let partner = request(&store, &r, 0, ShownTo::Partner { evidence: false }).unwrap();
        assert!(!partner.overdue);
        assert!(partner.evidence[0].content.is_empty());

        assert_eq!(state(&store, "510104-x1").unwrap(), Some(State::Filed));
        assert_eq!(state(&store, "510104-x9").unwrap(), None);
        let listed: Vec<String> = requests(&store, 0)
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(listed, ["510105-x1", "510104-x1"], "newest first");
    }

    #[test]
    fn a_message_carries_the_files_beside_the_request_and_none_with_a_withdrawal() {
        let (_dir, store) = store();
        file(&store, "510104-x1", 1_000, "png");
        let outbox = |withdrawal| OutboxMessage {
            id: "510104-x1".into(),
            withdrawal,
        };

        let m = message(&store, 7, &outbox(false), 0).unwrap().unwrap();
        assert_eq!((m.cursor, m.kind()), (7, "request"));
        assert!(
            m.request.evidence[0].content.is_empty(),
            "not inside the request"
        );
        assert_eq!(m.evidence[0].content, b"png");
        assert_eq!(m.evidence[0].name, "shot.png");
        assert!(
            m.request.history.is_empty(),
            "nothing of the gateway's steps"
        );

        let m = message(&store, 8, &outbox(true), 0).unwrap().unwrap();
        assert_eq!(m.kind(), "withdrawal");
        assert!(m.evidence.is_empty());
        assert_eq!(m.request.evidence.len(), 1);

        let gone = OutboxMessage {
            id: "510104-x2".into(),
            withdrawal: false,
        };
        assert_eq!(message(&store, 9, &gone, 0).unwrap(), None);
    }
}

// ---------------------------------------------------------------------------------------
// Added for a county's web pages (issue 17): the partners a request may name, as the
// province declared them (`PartnerDeclared`), for the disposal form's choice.

/// A partner as every node knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerListing {
    /// Its name, as requests name it.
    pub name: String,
    /// For people.
    pub display_name: String,
    /// The province relays nothing to it any more.
    pub disabled: bool,
}

/// Every partner the province has declared, in name order.
pub fn partners(store: &dyn Store) -> Result<Vec<PartnerListing>, StoreError> {
    store
        .scan_prefix(view::DIRECTORY_TREE, b"")
        .map(|kv| {
            let (k, v) = kv?;
            let entry: view::DirectoryEntry = serde_json::from_slice(&v).map_err(|e| {
                StoreError::Backend(format!("corrupt partner directory entry: {e}"))
            })?;
            Ok(PartnerListing {
                name: String::from_utf8_lossy(&k).into_owned(),
                display_name: entry.display_name,
                disabled: entry.disabled,
            })
        })
        .collect()
}
