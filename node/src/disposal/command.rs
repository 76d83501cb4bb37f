//! Checking what staff, the gateway's relay and partners ask, and the event each records.

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::counters;
use crate::domain::disposal::{
    check_deadline, check_url, Action, Outcome, MAX_EVIDENCE_BYTES, MAX_EVIDENCE_FILES,
    MAX_TEXT_CHARS, MAX_URLS,
};
use crate::domain::item::ItemKind;
use crate::domain::risk::RiskLookup;
use crate::event::check;
use crate::event::check::Lines;
use crate::event::{Event, EvidenceFile};
use crate::feed::Audience;
use crate::identity::is_province;
use crate::store::{Batch, Store};

use super::record::{DisposalRecord, State};
use super::view;
use super::{parse_id, DisposalError};

/// What is asked about disposal requests and partners.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// File a request (a county's staff, or provincial staff at the gateway).
    File {
        /// The partner.
        partner: String,
        /// The exact URLs.
        urls: Vec<String>,
        /// What is asked.
        action: Action,
        /// Why.
        reason: String,
        /// Under which law or rule.
        legal_basis: String,
        /// When an outcome is due, Unix ms.
        deadline_ms: i64,
        /// Files: name and content.
        evidence: Vec<(String, Vec<u8>)>,
        /// The risk concerned.
        risk: Option<String>,
    },
    /// Withdraw one's own request.
    Withdraw {
        /// The request.
        id: String,
        /// Why.
        reason: String,
    },
    /// Hold a request for review (`approved: None`), or approve or reject a held one.
    Review {
        /// The request.
        id: String,
        /// The decision, if any.
        approved: Option<bool>,
        /// Note.
        note: String,
    },
    /// Queue a request (or its withdrawal) for its partner (the gateway's relay).
    Relay {
        /// The request.
        id: String,
        /// Its withdrawal.
        withdrawal: bool,
    },
    /// Record that the partner received a request.
    RecordDelivery {
        /// The request.
        id: String,
    },
    /// The partner confirms receipt.
    Acknowledge {
        /// The partner calling.
        partner: String,
        /// The request.
        id: String,
    },
    /// The partner reports its decision.
    Answer {
        /// The partner calling.
        partner: String,
        /// The request.
        id: String,
        /// What it did.
        outcome: Outcome,
        /// Why.
        reason: String,
        /// Its own reference.
        reference: String,
    },
    /// File a report in the gateway's report list for an overdue request (the relay).
    Escalate {
        /// The request.
        id: String,
    },
    /// Publish a partner to every node (the gateway, when one is added or changed).
    DeclarePartner {
        /// Its name.
        name: String,
        /// For people.
        display_name: String,
        /// Receives nothing any more.
        disabled: bool,
        /// What it handles.
        handles: String,
    },
}

/// The feed a unit's requests (and their withdrawals) travel in: a county's to the province
/// only; the gateway's own stay with it.
fn request_feed(unit: &str) -> Audience {
    if is_province(unit) {
        Audience::Local
    } else {
        Audience::Upstream
    }
}

fn existing(store: &dyn Store, batch: &Batch, id: &str) -> Result<DisposalRecord, DisposalError> {
    parse_id(id)?;
    view::get(&batch.over(store), id)?
        .ok_or_else(|| DisposalError::NotFound(format!("no disposal request {id} at this node")))
}

fn require_gateway(unit: &str, what: &str) -> Result<(), DisposalError> {
    if is_province(unit) {
        Ok(())
    } else {
        Err(DisposalError::Precondition(format!(
            "{what} happens at the provincial gateway"
        )))
    }
}

/// A partner sees only its own requests: another's, one not relayed yet and one that does
/// not exist get the same "not found", so a partner cannot probe for others' requests.
fn for_partner(
    store: &dyn Store,
    batch: &Batch,
    partner: &str,
    id: &str,
) -> Result<DisposalRecord, DisposalError> {
    parse_id(id)?;
    match view::get(&batch.over(store), id)? {
        Some(r) if r.partner == partner && r.relayed => Ok(r),
        _ => Err(DisposalError::NotFound(format!(
            "no disposal request {id} for partner {partner}"
        ))),
    }
}

/// Checks `cmd` for `unit` at `now_ms` and returns the event it records with its feed, or
/// `None` when there is nothing to write (it was recorded already).
pub fn prepare(
    store: &dyn Store,
    batch: &Batch,
    unit: &str,
    now_ms: i64,
    cmd: &Command,
    risks: &dyn RiskLookup,
) -> Result<Option<(Audience, Event)>, DisposalError> {
    Ok(Some(match cmd {
        Command::File {
            partner,
            urls,
            action,
            reason,
            legal_basis,
            deadline_ms,
            evidence,
            risk,
        } => {
            let partner = partner.trim();
            match view::directory(store, partner)? {
                None => {
                    return Err(DisposalError::field(
                        "partner",
                        format!("{partner:?} is not a partner the province has registered"),
                    ))
                }
                Some(p) if p.disabled => {
                    return Err(DisposalError::field(
                        "partner",
                        format!("{partner:?} is disabled: the province no longer relays to it"),
                    ))
                }
                Some(_) => {}
            }
            if urls.is_empty() || urls.len() > MAX_URLS {
                return Err(DisposalError::field(
                    "url",
                    format!("give 1 to {MAX_URLS} URLs"),
                ));
            }
            let urls = urls
                .iter()
                .map(|u| check_url(u).map_err(|e| DisposalError::field("url", e)))
                .collect::<Result<Vec<_>, _>>()?;
            let reason = check::typed_required("reason", reason, MAX_TEXT_CHARS, Lines::Many)?;
            let legal_basis =
                check::typed_required("legal-basis", legal_basis, MAX_TEXT_CHARS, Lines::Many)?;
            check_deadline(*deadline_ms, now_ms)
                .map_err(|e| DisposalError::field("deadline", e))?;
            if evidence.len() > MAX_EVIDENCE_FILES {
                return Err(DisposalError::field(
                    "evidence",
                    format!("at most {MAX_EVIDENCE_FILES} files"),
                ));
            }
            let mut files = Vec::with_capacity(evidence.len());
            for (name, content) in evidence {
                if content.len() > MAX_EVIDENCE_BYTES {
                    return Err(DisposalError::field(
                        "evidence",
                        format!(
                            "{name} is {} bytes; files may be at most {MAX_EVIDENCE_BYTES} bytes (link larger ones in the reason)",
                            content.len()
                        ),
                    ));
                }
                files.push(EvidenceFile {
                    name: name.clone(),
                    sha256: hex::encode(Sha256::digest(content)),
                    size: content.len() as u64,
                    content: base64::engine::general_purpose::STANDARD.encode(content),
                });
            }
            if let Some(risk) = risk {
                if risks
                    .risk(risk)
                    .map_err(DisposalError::Precondition)?
                    .is_none()
                {
                    return Err(DisposalError::NotFound(format!(
                        "risk: no risk item {risk:?} at this node"
                    )));
                }
            }
            (
                request_feed(unit),
                Event::DisposalFiled {
                    id: counters::next_item_id(&batch.over(store), unit, ItemKind::Disposal)?,
                    partner: partner.to_owned(),
                    urls,
                    action: *action,
                    reason,
                    legal_basis,
                    deadline_ms: *deadline_ms,
                    evidence: files,
                    risk: risk.clone(),
                },
            )
        }
        Command::Withdraw { id, reason } => {
            let r = existing(store, batch, id)?;
            if r.requester != unit {
                return Err(DisposalError::NotYours(format!(
                    "{id} was filed by {}; only it may withdraw it",
                    r.requester
                )));
            }
            if r.state.is_final() {
                return Err(DisposalError::Precondition(format!(
                    "{id} is {} already",
                    r.state.as_str()
                )));
            }
            (
                request_feed(unit),
                Event::DisposalWithdrawn {
                    id: id.clone(),
                    reason: check::typed("reason", reason, MAX_TEXT_CHARS, Lines::Many)?,
                },
            )
        }
        Command::Review { id, approved, note } => {
            require_gateway(unit, "review")?;
            let r = existing(store, batch, id)?;
            let fits = match approved {
                None => r.state == State::Filed,
                Some(_) => r.state == State::InReview,
            };
            if !fits {
                return Err(DisposalError::Precondition(format!(
                    "{id} is {}: only a request in review is approved or rejected",
                    r.state.as_str()
                )));
            }
            (
                Audience::Province,
                Event::DisposalReviewed {
                    id: id.clone(),
                    approved: *approved,
                    note: check::typed("note", note, MAX_TEXT_CHARS, Lines::Many)?,
                },
            )
        }
        Command::Relay { id, withdrawal } => {
            require_gateway(unit, "relaying")?;
            let r = existing(store, batch, id)?;
            let due = if *withdrawal {
                r.relayed && r.state == State::Withdrawn
            } else {
                !r.relayed && matches!(r.state, State::Filed | State::InReview)
            };
            if !due {
                return Ok(None);
            }
            (
                Audience::Province,
                Event::DisposalRelayed {
                    id: id.clone(),
                    withdrawal: *withdrawal,
                },
            )
        }
        Command::RecordDelivery { id } => {
            require_gateway(unit, "delivery")?;
            let r = existing(store, batch, id)?;
            if r.delivered_at_ms.is_some() || !r.relayed {
                return Ok(None);
            }
            (
                Audience::Province,
                Event::DisposalDelivered { id: id.clone() },
            )
        }
        Command::Acknowledge { partner, id } => {
            require_gateway(unit, "acknowledgment")?;
            let r = for_partner(store, batch, partner, id)?;
            if r.acknowledged_at_ms.is_some() {
                return Ok(None);
            }
            if matches!(r.state, State::Withdrawn | State::Rejected) {
                return Err(DisposalError::Precondition(format!(
                    "{id} was {}",
                    r.state.as_str()
                )));
            }
            (
                Audience::Province,
                Event::DisposalAcknowledged { id: id.clone() },
            )
        }
        Command::Answer {
            partner,
            id,
            outcome,
            reason,
            reference,
        } => {
            require_gateway(unit, "an outcome")?;
            let r = for_partner(store, batch, partner, id)?;
            let reason = check::typed("reason", reason, MAX_TEXT_CHARS, Lines::Many)?;
            let reference = check::typed("reference", reference, MAX_TEXT_CHARS, Lines::One)?;
            // An answer repeated with the same outcome and reference changes nothing, whatever
            // its reason (a shared answer carries the case's note in its reason); another
            // outcome or reference is a different decision, refused: an outcome is final.
            if let Some(o) = &r.outcome {
                if o.outcome == *outcome && o.reference == reference {
                    return Ok(None);
                }
                return Err(DisposalError::Precondition(format!(
                    "{id} was answered already ({}, reference {:?}); an outcome is final",
                    o.outcome, o.reference
                )));
            }
            if r.state == State::Withdrawn {
                return Err(DisposalError::Precondition(format!(
                    "{id} was withdrawn by {}",
                    r.requester
                )));
            }
            (
                Audience::Province,
                Event::DisposalAnswered {
                    id: id.clone(),
                    outcome: *outcome,
                    reason,
                    reference,
                },
            )
        }
        Command::Escalate { id } => {
            require_gateway(unit, "escalation")?;
            let r = existing(store, batch, id)?;
            if r.escalated.is_some() || !r.overdue(now_ms) {
                return Ok(None);
            }
            let level = match &r.risk {
                Some(risk) => risks
                    .risk(risk)
                    .map_err(DisposalError::Precondition)?
                    .and_then(|risk| risk.level),
                None => None,
            };
            let urls = r.urls.len();
            (
                // The province's report list is the gateway's own: escalations stay with it.
                Audience::Local,
                Event::ReportFiled {
                    id: counters::next_item_id(&batch.over(store), unit, ItemKind::Report)?,
                    risk: r.risk.clone(),
                    level,
                    summary: format!(
                        "disposal request {id} from {} to partner {} is overdue: no outcome by {} ({} {urls} URL{}, {})",
                        r.requester,
                        r.partner,
                        crate::timespec::format_ms(r.deadline_ms),
                        r.action.as_str(),
                        if urls == 1 { "" } else { "s" },
                        r.state.as_str(),
                    ),
                    automatic: true,
                    disposal: Some(r.id.clone()),
                },
            )
        }
        Command::DeclarePartner {
            name,
            display_name,
            disabled,
            handles,
        } => {
            require_gateway(unit, "declaring partners")?;
            (
                Audience::Province,
                Event::PartnerDeclared {
                    name: name.clone(),
                    display_name: display_name.clone(),
                    disabled: *disabled,
                    handles: handles.clone(),
                },
            )
        }
    }))
}
