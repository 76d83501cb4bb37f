//! Commands from staff about communications: checked against the views as they stand and
//! turned into events, each in the feed of this node that reaches exactly who must see it.
//! A command that fails a check writes nothing.
//!
//! Which feed:
//! - an alert goes to the issuer's `neighbours` feed (neighbours, or named counties that are
//!   all neighbours) or its `province` feed (the province, or named counties beyond the
//!   neighbours: receivers not named hold it but are not asked to act); updates and the cancel
//!   follow it;
//! - a county's receipt, acknowledgment or answer goes to its `upstream` feed when the province
//!   asked, else to its `neighbours` feed when the issuer is a declared neighbour, else to
//!   its `province` feed; a report goes `upstream`;
//! - the province writes to its `province` feed, the only one that reaches counties.

use crate::counters;
use crate::domain::alert::{AlertAudience, Certainty, NewAlert, Severity, Urgency};
use crate::domain::directive::{DirectiveKind, ResponseStatus};
use crate::domain::risk::RiskLookup;
use crate::domain::Level;
use crate::event::Event;
use crate::feed::Audience;
use crate::identity::is_province;
use crate::store::{Batch, Store};
use crate::sync::directory;

use super::view;
use super::{parse_id, CommsError, ItemKind};

// The limits every node checks received entries against (one set, used twice).
use crate::event::check::{self, Lines, MAX_EVENT_KIND, MAX_NOTE, MAX_TEXT};

/// Changes to an alert's content; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertChanges {
    /// New headline.
    pub headline: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New instruction.
    pub instruction: Option<String>,
    /// New event category.
    pub event: Option<String>,
    /// New urgency.
    pub urgency: Option<Urgency>,
    /// New severity.
    pub severity: Option<Severity>,
    /// New certainty.
    pub certainty: Option<Certainty>,
    /// New expiry, Unix ms.
    pub expires_ms: Option<i64>,
    /// New affected counties.
    pub affected: Option<Vec<String>>,
}

/// What staff (or the node itself, for deliveries) ask.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Issue an alert.
    IssueAlert {
        /// The alert.
        alert: NewAlert,
        /// Acknowledgment time for extreme and severe alerts (from the node's config).
        ack_within_s: u64,
    },
    /// Replace fields of one's own alert.
    UpdateAlert {
        /// The alert.
        id: String,
        /// What changes.
        changes: AlertChanges,
    },
    /// Cancel one's own alert.
    CancelAlert {
        /// The alert.
        id: String,
        /// Why.
        reason: String,
    },
    /// Record that this node received an alert addressed to it (written by the node).
    RecordDelivery {
        /// The alert.
        id: String,
    },
    /// Acknowledge an alert received.
    AcknowledgeAlert {
        /// The alert.
        id: String,
        /// Optional note.
        note: String,
    },
    /// File a major-issue report by hand.
    FileReport {
        /// The risk it concerns.
        risk: Option<String>,
        /// What happened.
        summary: String,
    },
    /// Acknowledge a county's report (the province).
    AcknowledgeReport {
        /// The report.
        id: String,
        /// Optional note.
        note: String,
    },
    /// Issue a directive or open a consultation (the province).
    IssueDirective {
        /// Directive or consultation.
        kind: DirectiveKind,
        /// The instruction or question.
        text: String,
        /// When answers are due, Unix ms.
        deadline_ms: i64,
        /// Target counties; empty for all.
        targets: Vec<String>,
    },
    /// Answer a directive or consultation (a target county).
    RespondDirective {
        /// The directive or consultation.
        id: String,
        /// How far.
        status: ResponseStatus,
        /// What it says.
        text: String,
    },
}

/// Checks the county codes of `field` ([`directory::check_known`]).
fn known(
    store: &dyn Store,
    field: &'static str,
    unit: &str,
    codes: &[String],
) -> Result<(), CommsError> {
    directory::check_known(store, unit, codes).map_err(|e| address_error(field, e))
}

fn address_error(field: &'static str, e: directory::AddressError) -> CommsError {
    match e {
        directory::AddressError::Refused(m) => CommsError::field(field, m),
        directory::AddressError::Store(s) => CommsError::Store(s),
    }
}

/// The feed of `unit` that carries its answers to something `issuer` wrote.
fn reply_feed(store: &dyn Store, unit: &str, issuer: &str) -> Result<Audience, CommsError> {
    Ok(if is_province(unit) {
        Audience::Province
    } else if is_province(issuer) {
        Audience::Upstream
    } else if directory::declared(store, unit)?.is_some_and(|n| n.contains(issuer)) {
        Audience::Neighbours
    } else {
        Audience::Province
    })
}

/// The feed an alert of `unit` for `audience` travels in.
fn alert_feed(
    store: &dyn Store,
    unit: &str,
    audience: &AlertAudience,
) -> Result<Audience, CommsError> {
    match audience {
        AlertAudience::Neighbours if is_province(unit) => Err(CommsError::field(
            "audience",
            "the province has no neighbours: address the province or name counties",
        )),
        AlertAudience::Neighbours => Ok(Audience::Neighbours),
        AlertAudience::Province => Ok(Audience::Province),
        AlertAudience::Counties(list) if is_province(unit) => {
            known(store, "audience", unit, list)?;
            Ok(Audience::Province)
        }
        AlertAudience::Counties(list) => {
            directory::feed_reaching(store, unit, list).map_err(|e| address_error("audience", e))
        }
    }
}

fn existing_alert(
    store: &dyn Store,
    batch: &Batch,
    id: &str,
) -> Result<super::record::AlertRecord, CommsError> {
    parse_id(id, ItemKind::Alert)?;
    view::alert(&batch.over(store), id)?
        .ok_or_else(|| CommsError::NotFound(format!("no alert {id} has reached this node")))
}

/// The issuer's own alert, still open to change.
fn own_open_alert(
    store: &dyn Store,
    batch: &Batch,
    unit: &str,
    id: &str,
    now_ms: i64,
    what: &str,
) -> Result<super::record::AlertRecord, CommsError> {
    let record = existing_alert(store, batch, id)?;
    if record.issuer != unit {
        return Err(CommsError::NotYours(format!(
            "alert {id} was issued by {}; only its issuer may {what} it",
            record.issuer
        )));
    }
    match record.status(now_ms) {
        "cancelled" => Err(CommsError::Precondition(format!(
            "alert {id} is already cancelled; a cancelled alert cannot be {what}d"
        ))),
        "expired" => Err(CommsError::Precondition(format!(
            "alert {id} has expired; issue a new alert instead"
        ))),
        _ => Ok(record),
    }
}

/// Checks `cmd` for `unit` at `now_ms` and returns the event it records with its feed, or
/// `None` when there is nothing to write (a delivery already recorded).
pub fn prepare(
    store: &dyn Store,
    batch: &Batch,
    unit: &str,
    now_ms: i64,
    cmd: &Command,
    risks: &dyn RiskLookup,
) -> Result<Option<(Audience, Event)>, CommsError> {
    Ok(Some(match cmd {
        Command::IssueAlert {
            alert,
            ack_within_s,
        } => {
            let mut alert = alert.clone();
            alert.headline = alert.headline.trim().to_owned();
            alert.description =
                check::typed("description", &alert.description, MAX_TEXT, Lines::Many)?;
            alert.instruction =
                check::typed("instruction", &alert.instruction, MAX_TEXT, Lines::Many)?;
            alert.event = check::typed("event", &alert.event, MAX_EVENT_KIND, Lines::One)?;
            alert
                .check(now_ms)
                .map_err(|e| CommsError::field(e.field, e.reason))?;
            if let Some(risk) = &alert.risk {
                if risks
                    .risk(risk)
                    .map_err(CommsError::Precondition)?
                    .is_none()
                {
                    return Err(CommsError::NotFound(format!(
                        "risk: no risk item {risk:?} at this node"
                    )));
                }
            }
            let feed = alert_feed(store, unit, &alert.audience)?;
            let id = counters::next_item_id(&batch.over(store), unit, ItemKind::Alert)?;
            (
                feed,
                Event::AlertIssued {
                    id,
                    alert,
                    ack_within_s: *ack_within_s,
                },
            )
        }
        Command::UpdateAlert { id, changes } => {
            let record = own_open_alert(store, batch, unit, id, now_ms, "update")?;
            let old = &record.alert;
            let mut new = old.clone();
            if let Some(h) = &changes.headline {
                new.headline = h.trim().to_owned();
            }
            if let Some(d) = &changes.description {
                new.description = check::typed("description", d, MAX_TEXT, Lines::Many)?;
            }
            if let Some(i) = &changes.instruction {
                new.instruction = check::typed("instruction", i, MAX_TEXT, Lines::Many)?;
            }
            if let Some(e) = &changes.event {
                new.event = check::typed("event", e, MAX_EVENT_KIND, Lines::One)?;
            }
            new.urgency = changes.urgency.unwrap_or(new.urgency);
            new.severity = changes.severity.unwrap_or(new.severity);
            new.certainty = changes.certainty.unwrap_or(new.certainty);
            if changes.expires_ms.is_some() {
                new.expires_ms = changes.expires_ms;
            }
            if let Some(a) = &changes.affected {
                new.affected = a.clone();
            }
            if new == *old {
                return Err(CommsError::field(
                    "update",
                    "nothing to change: give at least one field with a new value",
                ));
            }
            new.check(now_ms)
                .map_err(|e| CommsError::field(e.field, e.reason))?;
            (
                record.feed,
                Event::AlertUpdated {
                    id: record.id.clone(),
                    version: record.chain.len() as u32 + 1,
                    alert: new,
                },
            )
        }
        Command::CancelAlert { id, reason } => {
            let record = own_open_alert(store, batch, unit, id, now_ms, "cancel")?;
            (
                record.feed,
                Event::AlertCancelled {
                    id: record.id.clone(),
                    version: record.chain.len() as u32 + 1,
                    reason: check::typed("reason", reason, MAX_NOTE, Lines::Many)?,
                },
            )
        }
        Command::RecordDelivery { id } => {
            let record = existing_alert(store, batch, id)?;
            if !view::addressed_to(&record, unit) {
                return Ok(None);
            }
            if view::response(&batch.over(store), id, unit)?
                .is_some_and(|r| r.delivered_at_ms.is_some())
            {
                return Ok(None);
            }
            (
                reply_feed(store, unit, &record.issuer)?,
                Event::AlertDelivered { id: record.id },
            )
        }
        Command::AcknowledgeAlert { id, note } => {
            let record = existing_alert(store, batch, id)?;
            if record.issuer == unit {
                return Err(CommsError::Precondition(format!(
                    "alert {id} is this node's own; its recipients acknowledge it"
                )));
            }
            if !view::addressed_to(&record, unit) && !is_province(unit) {
                return Err(CommsError::NotYours(format!(
                    "alert {id} is not addressed to {unit} (its audience: {})",
                    record.alert.audience
                )));
            }
            if let Some(at) =
                view::response(&batch.over(store), id, unit)?.and_then(|r| r.acknowledged_at_ms)
            {
                return Err(CommsError::Precondition(format!(
                    "alert {id} was already acknowledged by {unit} at {}",
                    crate::timespec::format_ms(at)
                )));
            }
            (
                reply_feed(store, unit, &record.issuer)?,
                Event::AlertAcknowledged {
                    id: record.id,
                    note: check::typed("note", note, MAX_NOTE, Lines::Many)?,
                },
            )
        }
        Command::FileReport { risk, summary } => {
            if is_province(unit) {
                return Err(CommsError::Precondition(
                    "reports go up to the province; the province does not file them".into(),
                ));
            }
            let summary = check::typed_required("summary", summary, MAX_TEXT, Lines::Many)?;
            let level = match risk {
                None => None,
                Some(risk) => {
                    let record = risks
                        .risk(risk)
                        .map_err(CommsError::Precondition)?
                        .ok_or_else(|| {
                            CommsError::NotFound(format!(
                                "risk: no risk item {risk:?} at this node"
                            ))
                        })?;
                    if record.origin != unit {
                        return Err(CommsError::NotYours(format!(
                            "risk {risk} belongs to {}; report your own county's risks",
                            record.origin
                        )));
                    }
                    record.level
                }
            };
            (
                Audience::Upstream,
                Event::ReportFiled {
                    id: counters::next_item_id(&batch.over(store), unit, ItemKind::Report)?,
                    risk: risk.clone(),
                    level,
                    summary,
                    automatic: false,
                    disposal: None,
                },
            )
        }
        Command::AcknowledgeReport { id, note } => {
            if !is_province(unit) {
                return Err(CommsError::NotYours(
                    "reports are acknowledged by the province, at the gateway".into(),
                ));
            }
            parse_id(id, ItemKind::Report)?;
            let report = view::report(&batch.over(store), id)?.ok_or_else(|| {
                CommsError::NotFound(format!("no report {id} has reached this node"))
            })?;
            if let Some(at) =
                view::response(&batch.over(store), id, unit)?.and_then(|r| r.acknowledged_at_ms)
            {
                return Err(CommsError::Precondition(format!(
                    "report {id} was already acknowledged at {}",
                    crate::timespec::format_ms(at)
                )));
            }
            (
                // The gateway's own reports (escalations) never left it; nor does their
                // acknowledgment.
                if report.origin == unit {
                    Audience::Local
                } else {
                    Audience::Province
                },
                Event::ReportAcknowledged {
                    id: id.trim().to_owned(),
                    note: check::typed("note", note, MAX_NOTE, Lines::Many)?,
                },
            )
        }
        Command::IssueDirective {
            kind,
            text: body,
            deadline_ms,
            targets,
        } => {
            if !is_province(unit) {
                return Err(CommsError::NotYours(format!(
                    "only the province issues {kind}s; {unit} is a county"
                )));
            }
            let body = check::typed_required("text", body, MAX_TEXT, Lines::Many)?;
            if *deadline_ms <= now_ms {
                return Err(CommsError::field(
                    "deadline",
                    "is in the past: give a time after now",
                ));
            }
            let mut targets = targets.clone();
            targets.sort();
            targets.dedup();
            known(store, "targets", unit, &targets)?;
            let item = match kind {
                DirectiveKind::Directive => ItemKind::Directive,
                DirectiveKind::Consultation => ItemKind::Consultation,
            };
            (
                Audience::Province,
                Event::DirectiveIssued {
                    id: counters::next_item_id(&batch.over(store), unit, item)?,
                    kind: *kind,
                    text: body,
                    deadline_ms: *deadline_ms,
                    targets,
                },
            )
        }
        Command::RespondDirective {
            id,
            status,
            text: body,
        } => {
            let parsed = super::ItemId::parse(id.trim())
                .filter(|p| matches!(p.kind, ItemKind::Directive | ItemKind::Consultation))
                .ok_or_else(|| {
                    CommsError::field(
                        "id",
                        format!("{id:?} is not a directive or consultation id (e.g. 51-d1)"),
                    )
                })?;
            let record = view::directive(&batch.over(store), id.trim())?.ok_or_else(|| {
                CommsError::NotFound(format!(
                    "no {} {id} has reached this node",
                    parsed.kind.name()
                ))
            })?;
            if is_province(unit) || !record.targets(unit) {
                return Err(CommsError::NotYours(format!(
                    "{} {id} is not addressed to {unit}",
                    record.kind
                )));
            }
            let body = check::typed("text", body, MAX_TEXT, Lines::Many)?;
            if *status == ResponseStatus::Responded && body.is_empty() {
                return Err(CommsError::field("text", "a response needs its text"));
            }
            if let Some(prev) =
                view::response(&batch.over(store), id.trim(), unit)?.and_then(|r| r.status)
            {
                if *status < prev || (*status == prev && body.is_empty()) {
                    return Err(CommsError::Precondition(format!(
                        "{} {id} is already {prev} by {unit}",
                        record.kind
                    )));
                }
            }
            (
                reply_feed(store, unit, record.id.get(..2).unwrap_or_default())?,
                Event::DirectiveResponded {
                    id: record.id,
                    status: *status,
                    text: body,
                },
            )
        }
    }))
}

/// The major-issue report a grading files by itself, in the same durable write: when it
/// puts a risk at level I or II from a lower level (or none).
pub fn report_on_grading(
    store: &dyn Store,
    batch: &Batch,
    unit: &str,
    previous: Option<Level>,
    event: &Event,
    risks: &dyn RiskLookup,
) -> Result<Option<(Audience, Event)>, CommsError> {
    // The level the grading leaves: an officer's override counts, not the computed one.
    let (Event::RiskGraded { id, .. }, Some(level)) = (event, event.graded_level()) else {
        return Ok(None);
    };
    let level = &level;
    if !matches!(level, Level::I | Level::II) || is_province(unit) {
        return Ok(None);
    }
    // Levels order I < II < III < IV: lower is graver.
    if previous.is_some_and(|p| p <= *level) {
        return Ok(None);
    }
    let title = risks
        .risk(id)
        .map_err(CommsError::Precondition)?
        .map(|r| r.title)
        .unwrap_or_default();
    Ok(Some((
        Audience::Upstream,
        Event::ReportFiled {
            id: counters::next_item_id(&batch.over(store), unit, ItemKind::Report)?,
            risk: Some(id.clone()),
            level: Some(*level),
            summary: format!(
                "risk {id} graded level {level} ({}): {title}",
                level.label_zh()
            ),
            automatic: true,
            disposal: None,
        },
    )))
}
