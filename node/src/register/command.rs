//! Commands from staff: checked against the register as it stands and turned into events.
//! A command that fails a check writes nothing.

use crate::domain::risk::{check_close, due_before, Closure, TransitionError};
use crate::domain::{FocusPoint, GradingStandard, Level, MeasureStatus, RiskStatus, Scores};
use crate::event::{Event, RiskSnapshot};
use crate::feed::Audience;
use crate::store::{Batch, Store};
use crate::sync::directory;

use super::record::RiskRecord;
use super::view::{self, parse_risk_id};
use super::RegisterError;

// The limits every node checks received entries against (one set, used twice).
use crate::event::check::{self, Lines, MAX_BEHAVIOURS, MAX_NOTE, MAX_SHORT, MAX_TEXT, MAX_TITLE};

/// What staff ask the register to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Identify a new risk item.
    Create {
        /// Short title (required).
        title: String,
        /// Longer description.
        description: String,
        /// Focus point (required).
        focus: Option<FocusPoint>,
        /// Where the opinion lives.
        source: String,
        /// Risk behaviours.
        behaviours: Vec<String>,
        /// Responsible department.
        department: String,
    },
    /// Change descriptive fields; `None` leaves a field as it is.
    Update {
        /// The risk.
        id: String,
        /// New title.
        title: Option<String>,
        /// New description.
        description: Option<String>,
        /// New focus point.
        focus: Option<FocusPoint>,
        /// New source.
        source: Option<String>,
        /// New behaviours, replacing the old.
        behaviours: Option<Vec<String>>,
        /// Behaviours to add to the current ones (after `behaviours`, if both are given).
        add_behaviours: Vec<String>,
        /// Behaviours to remove from the current ones; each must be there.
        remove_behaviours: Vec<String>,
        /// New department.
        department: Option<String>,
    },
    /// Grade from the three dimensions; the officer may set another level with a reason.
    Grade {
        /// The risk.
        id: String,
        /// The scores.
        scores: Scores,
        /// The level the officer sets instead of the computed one (综合研判).
        override_level: Option<Level>,
        /// Why (required with `override_level`).
        reason: String,
    },
    /// Record a dated situation note (动态管理), optionally re-grading in the same entry.
    Note {
        /// The risk.
        id: String,
        /// What was observed.
        note: String,
        /// New scores: the level is recomputed with the standard in force, as `Grade` does.
        scores: Option<Scores>,
        /// With `scores`: the level the officer sets instead of the computed one.
        override_level: Option<Level>,
        /// Why (required with `override_level`).
        reason: String,
    },
    /// Add a preventive measure.
    AddMeasure {
        /// The risk.
        id: String,
        /// What will be done.
        action: String,
        /// Who does it.
        owner: String,
        /// Due date, YYYY-MM-DD.
        due: String,
    },
    /// Change a measure's status (done with a note, cancelled with a reason).
    UpdateMeasure {
        /// The risk.
        id: String,
        /// The measure.
        measure_id: String,
        /// New status.
        status: MeasureStatus,
        /// How it was done, or why it was cancelled (required then).
        note: String,
    },
    /// Change a measure's action, owner or due date; `None` leaves it as it is.
    EditMeasure {
        /// The risk.
        id: String,
        /// The measure.
        measure_id: String,
        /// New action.
        action: Option<String>,
        /// New owner.
        owner: Option<String>,
        /// New due date, YYYY-MM-DD, not in the past.
        due: Option<String>,
    },
    /// Set the risk's status explicitly (resolving and ruling out are `Close`).
    SetStatus {
        /// The risk.
        id: String,
        /// New status.
        status: RiskStatus,
    },
    /// Close the risk: resolved with a summary, or ruled out (a false alarm) with a reason.
    Close {
        /// The risk.
        id: String,
        /// Resolved or ruled out.
        closure: Closure,
        /// The summary or the reason.
        text: String,
    },
    /// Widen who the risk is shared with (`neighbours` or `province`).
    Share {
        /// The risk.
        id: String,
        /// The new audience.
        scope: Audience,
    },
    /// Share with named counties (a notification to them): in the feed that reaches them
    /// all (neighbours', else the province's), never narrower than the risk's scope.
    ShareWith {
        /// The risk.
        id: String,
        /// County codes of this province (not this one) that have joined.
        counties: Vec<String>,
    },
    /// Publish this node's neighbouring counties (from its configuration).
    DeclareNeighbours {
        /// County codes.
        neighbours: Vec<String>,
    },
}

impl Command {
    /// The risk this command changes (none for `Create`).
    pub fn risk_id(&self) -> Option<&str> {
        match self {
            Self::Create { .. } | Self::DeclareNeighbours { .. } => None,
            Self::Share { id, .. }
            | Self::ShareWith { id, .. }
            | Self::Update { id, .. }
            | Self::Grade { id, .. }
            | Self::AddMeasure { id, .. }
            | Self::UpdateMeasure { id, .. }
            | Self::SetStatus { id, .. }
            | Self::Note { id, .. }
            | Self::EditMeasure { id, .. }
            | Self::Close { id, .. } => Some(id),
        }
    }
}

fn behaviours(list: &[String]) -> Result<Vec<String>, RegisterError> {
    if list.len() > MAX_BEHAVIOURS {
        return Err(RegisterError::field(
            "behaviour",
            format!("at most {MAX_BEHAVIOURS} behaviours"),
        ));
    }
    list.iter()
        .map(|b| check::typed_required("behaviour", b, MAX_SHORT, Lines::One).map_err(Into::into))
        .collect()
}

/// Checks a due date is a real calendar date written YYYY-MM-DD.
pub fn check_date(field: &'static str, value: &str) -> Result<String, RegisterError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(value.trim(), &format).map_err(|_| {
        RegisterError::field(field, format!("{value:?} is not a date written YYYY-MM-DD"))
    })?;
    Ok(value.trim().to_owned())
}

/// [`check_date`], and not before `today` (YYYY-MM-DD where the people are): a measure is
/// not set already overdue. (Received entries are not held to this: their today was another.)
pub fn check_due(value: &str, today: &str) -> Result<String, RegisterError> {
    let due = check_date("due", value)?;
    check::date("due", &due)?;
    if due_before(&due, today) {
        return Err(RegisterError::field(
            "due",
            format!("{due} is in the past (today is {today}): give today or a later date"),
        ));
    }
    Ok(due)
}

/// A situation note, a measure's note or a reason, as typed: trimmed, at most [`MAX_NOTE`].
fn note_text(field: &'static str, value: &str, required: bool) -> Result<String, RegisterError> {
    Ok(if required {
        check::typed_required(field, value, MAX_NOTE, Lines::Many)?
    } else {
        check::typed(field, value, MAX_NOTE, Lines::Many)?
    })
}

/// Checks closing `risk` as `closure` with `text` (the summary, or the reason it is ruled
/// out) and returns the text as kept: what `Close` checks, for whoever must know first (a
/// closure proposed for a leader's sign-off).
pub fn check_closing(
    risk: &RiskRecord,
    closure: Closure,
    text: &str,
) -> Result<String, RegisterError> {
    check_close(risk.status, closure, &risk.open_measures())?;
    Ok(match closure {
        Closure::Resolved => check::typed_required("summary", text, MAX_TEXT, Lines::Many)?,
        Closure::RuledOut => note_text("reason", text, true)?,
    })
}

/// A grade's override: refused without a reason, or when it is the computed level.
fn grade_override(
    computed: Level,
    override_level: Option<Level>,
    reason: &str,
) -> Result<(Option<Level>, String), RegisterError> {
    let Some(level) = override_level else {
        if !reason.trim().is_empty() {
            return Err(RegisterError::field(
                "reason",
                "a reason goes with --level: the level you set instead of the computed one",
            ));
        }
        return Ok((None, String::new()));
    };
    if level == computed {
        return Err(RegisterError::field(
            "level",
            format!(
                "{level} {} is the level the standard computes: leave out --level (and --reason) to keep it",
                level.label_zh()
            ),
        ));
    }
    let reason = note_text("reason", reason, false)?;
    if reason.is_empty() {
        return Err(RegisterError::field(
            "reason",
            format!(
                "required with --level: say why the risk is level {level} {} and not the computed {computed} {}",
                level.label_zh(),
                computed.label_zh()
            ),
        ));
    }
    Ok((Some(level), reason))
}

/// Checks `cmd` against the register (seen through `batch`) and returns the events it
/// records, each with the audience of the feed it goes to (a risk's events go to the feed of
/// its scope). `unit` is this node's division code: it owns the risks it creates. `today`
/// (YYYY-MM-DD where the people are, [`crate::timespec::local_date`] of the write) is what
/// due dates may not precede.
pub fn prepare(
    store: &dyn Store,
    batch: &Batch,
    unit: &str,
    standard: &GradingStandard,
    today: &str,
    cmd: &Command,
) -> Result<Vec<(Audience, Event)>, RegisterError> {
    let scope = match cmd.risk_id() {
        Some(id) => view::load(&batch.over(store), id)?.map(|r| r.scope),
        None => None,
    };
    let event = prepare_event(store, batch, unit, standard, today, cmd)?;
    let audience = match (cmd, &event, scope) {
        // A risk shared further with named counties keeps its events in that wider feed.
        (Command::Share { scope: to, .. }, _, Some(now)) if now.breadth() > to.breadth() => now,
        (Command::Share { scope, .. }, _, _) => *scope,
        (Command::ShareWith { .. }, Event::RiskShared { scope, .. }, _) => *scope,
        (Command::DeclareNeighbours { .. }, _, _) => Audience::Province,
        (_, _, Some(scope)) => scope,
        (_, _, None) => Audience::Local,
    };
    Ok(vec![(audience, event)])
}

/// What must follow `event` in the same durable write: a risk graded I or II that the
/// province cannot see yet is reported upward at once (a major-issue report).
pub fn follow_up(
    store: &dyn Store,
    batch: &Batch,
    event: &Event,
) -> Result<Option<(Audience, Event)>, RegisterError> {
    let (Event::RiskGraded { id, .. }, Some(level)) = (event, event.graded_level()) else {
        return Ok(None);
    };
    if !matches!(level, Level::I | Level::II) {
        return Ok(None);
    }
    let risk = view::load_existing(&batch.over(store), id)?;
    if risk.scope != Audience::Local {
        return Ok(None);
    }
    let risk = view::load_full(&batch.over(store), id)?;
    Ok(Some((
        Audience::Upstream,
        Event::RiskShared {
            id: id.clone(),
            scope: Audience::Upstream,
            reason: format!("major-issue report: level {level}"),
            snapshot: Box::new(RiskSnapshot::from(&risk)),
            counties: Vec::new(),
        },
    )))
}

fn prepare_event(
    store: &dyn Store,
    batch: &Batch,
    unit: &str,
    standard: &GradingStandard,
    today: &str,
    cmd: &Command,
) -> Result<Event, RegisterError> {
    if let Some(id) = cmd.risk_id() {
        match parse_risk_id(id) {
            None => {
                return Err(RegisterError::field(
                    "id",
                    format!("{id:?} is not a risk id (e.g. {unit}-1)"),
                ))
            }
            Some((origin, _)) if origin != unit => {
                return Err(RegisterError::Precondition(format!(
                    "risk {id} belongs to {origin}; only its own staff can change it"
                )))
            }
            _ => {}
        }
    }
    Ok(match cmd {
        Command::Create {
            title,
            description,
            focus,
            source,
            behaviours: b,
            department,
        } => Event::RiskCreated {
            id: format!(
                "{unit}-{}",
                view::next_risk_number(&batch.over(store), unit)?
            ),
            title: check::typed_required("title", title, MAX_TITLE, Lines::One)?,
            description: check::typed("description", description, MAX_TEXT, Lines::Many)?,
            focus: focus.ok_or_else(|| {
                RegisterError::field(
                    "focus",
                    format!(
                        "required: one of {}",
                        FocusPoint::ALL.map(|f| f.as_str()).join(", ")
                    ),
                )
            })?,
            source: check::typed("source", source, MAX_SHORT, Lines::One)?,
            behaviours: behaviours(b)?,
            department: check::typed("department", department, MAX_SHORT, Lines::One)?,
        },
        Command::Update {
            id,
            title,
            description,
            focus,
            source,
            behaviours: b,
            add_behaviours,
            remove_behaviours,
            department,
        } => {
            let risk = view::load_existing(&batch.over(store), id)?;
            // Adding and removing one at a time are turned into the new full list here, so
            // the event (and every node that applies it) stays "the behaviours are now …".
            let b = edit_behaviours(
                &risk.behaviours,
                b.as_deref(),
                add_behaviours,
                remove_behaviours,
            )?;
            // Only what really changes is recorded: a field given its current value is no
            // change (and an update of nothing but such fields is refused below).
            fn differs<T: PartialEq>(new: Option<T>, old: &T) -> Option<T> {
                new.filter(|n| n != old)
            }
            let event = Event::RiskUpdated {
                id: id.clone(),
                title: differs(
                    title
                        .as_deref()
                        .map(|t| check::typed_required("title", t, MAX_TITLE, Lines::One))
                        .transpose()?,
                    &risk.title,
                ),
                description: differs(
                    description
                        .as_deref()
                        .map(|t| check::typed("description", t, MAX_TEXT, Lines::Many))
                        .transpose()?,
                    &risk.description,
                ),
                focus: differs(*focus, &risk.focus),
                source: differs(
                    source
                        .as_deref()
                        .map(|t| check::typed("source", t, MAX_SHORT, Lines::One))
                        .transpose()?,
                    &risk.source,
                ),
                behaviours: differs(b, &risk.behaviours),
                department: differs(
                    department
                        .as_deref()
                        .map(|t| check::typed("department", t, MAX_SHORT, Lines::One))
                        .transpose()?,
                    &risk.department,
                ),
            };
            if let Event::RiskUpdated {
                title: None,
                description: None,
                focus: None,
                source: None,
                behaviours: None,
                department: None,
                ..
            } = event
            {
                return Err(RegisterError::field(
                    "update",
                    "nothing to change: give at least one field with a new value",
                ));
            }
            event
        }
        Command::Grade {
            id,
            scores,
            override_level,
            reason,
        } => grading(
            store,
            batch,
            standard,
            id,
            *scores,
            *override_level,
            reason,
            None,
        )?,
        Command::Note {
            id,
            note,
            scores,
            override_level,
            reason,
        } => {
            let note = note_text("note", note, true)?;
            match scores {
                Some(scores) => grading(
                    store,
                    batch,
                    standard,
                    id,
                    *scores,
                    *override_level,
                    reason,
                    Some(note),
                )?,
                None => {
                    view::load_existing(&batch.over(store), id)?;
                    if override_level.is_some() || !reason.trim().is_empty() {
                        return Err(RegisterError::field(
                            "level",
                            "--level and --reason set a level with a re-grade: give --influence, --attention and --diffusion too",
                        ));
                    }
                    Event::RiskNoted {
                        id: id.clone(),
                        note,
                    }
                }
            }
        }
        Command::AddMeasure {
            id,
            action,
            owner,
            due,
        } => {
            let risk = view::load_existing(&batch.over(store), id)?;
            Event::MeasureAdded {
                id: id.clone(),
                measure_id: format!("m{}", risk.measures.len() + 1),
                action: check::typed_required("action", action, MAX_TEXT, Lines::Many)?,
                owner: check::typed_required("owner", owner, MAX_SHORT, Lines::One)?,
                due: check_due(due, today)?,
            }
        }
        Command::UpdateMeasure {
            id,
            measure_id,
            status,
            note,
        } => {
            let risk = view::load_existing(&batch.over(store), id)?;
            open_for_measures(&risk, "changing a measure")?;
            let m = find_measure(&risk, measure_id)?;
            if m.status == *status {
                return Err(RegisterError::Precondition(format!(
                    "measure {measure_id} is already {} {}",
                    status.as_str(),
                    status.label_zh()
                )));
            }
            let cancelled = *status == MeasureStatus::Cancelled;
            Event::MeasureUpdated {
                id: id.clone(),
                measure_id: measure_id.clone(),
                status: *status,
                note: note_text(if cancelled { "reason" } else { "note" }, note, cancelled)?,
            }
        }
        Command::EditMeasure {
            id,
            measure_id,
            action,
            owner,
            due,
        } => {
            let risk = view::load_existing(&batch.over(store), id)?;
            open_for_measures(&risk, "editing a measure")?;
            let m = find_measure(&risk, measure_id)?;
            if !m.status.is_open() {
                return Err(RegisterError::Precondition(format!(
                    "measure {measure_id} is {} {}: only a planned or in-progress measure is edited",
                    m.status.as_str(),
                    m.status.label_zh()
                )));
            }
            let action = action
                .as_deref()
                .map(|a| check::typed_required("action", a, MAX_TEXT, Lines::Many))
                .transpose()?
                .filter(|a| *a != m.action);
            let owner = owner
                .as_deref()
                .map(|o| check::typed_required("owner", o, MAX_SHORT, Lines::One))
                .transpose()?
                .filter(|o| *o != m.owner);
            let due = due
                .as_deref()
                .map(|d| check_due(d, today))
                .transpose()?
                .filter(|d| *d != m.due);
            if action.is_none() && owner.is_none() && due.is_none() {
                return Err(RegisterError::field(
                    "measure",
                    "nothing to change: give --action, --owner or --due with a new value",
                ));
            }
            Event::MeasureEdited {
                id: id.clone(),
                measure_id: measure_id.clone(),
                action,
                owner,
                due,
            }
        }
        Command::SetStatus { id, status } => {
            if status.is_closed() {
                return Err(TransitionError::UseClose(*status).into());
            }
            Event::StatusSet {
                id: id.clone(),
                status: *status,
            }
        }
        Command::Close { id, closure, text } => {
            let risk = view::load_existing(&batch.over(store), id)?;
            let text = check_closing(&risk, *closure, text)?;
            Event::RiskClosed {
                id: id.clone(),
                closure: *closure,
                text,
            }
        }
        Command::Share { id, scope } => {
            let risk = view::load_full(&batch.over(store), id)?;
            if !matches!(scope, Audience::Neighbours | Audience::Province) {
                return Err(RegisterError::field(
                    "scope",
                    "share with neighbours or province",
                ));
            }
            if risk.openly().breadth() >= scope.breadth() {
                return Err(RegisterError::Precondition(format!(
                    "risk {id} is already shared with {} (a share can only widen)",
                    risk.openly()
                )));
            }
            Event::RiskShared {
                id: id.clone(),
                scope: *scope,
                reason: "shared by staff".into(),
                snapshot: Box::new(RiskSnapshot::from(&risk)),
                counties: Vec::new(),
            }
        }
        Command::ShareWith { id, counties } => {
            let risk = view::load_full(&batch.over(store), id)?;
            let mut named: Vec<String> = Vec::new();
            for c in counties {
                let c = c.trim().to_owned();
                if !c.is_empty() && !named.contains(&c) {
                    named.push(c);
                }
            }
            if named.is_empty() {
                return Err(RegisterError::field(
                    "counties",
                    "name at least one county (its six-digit code)",
                ));
            }
            let reaching = directory::feed_reaching(store, unit, &named).map_err(|e| match e {
                directory::AddressError::Refused(m) => RegisterError::field("counties", m),
                directory::AddressError::Store(s) => RegisterError::Store(s),
            })?;
            let new: Vec<String> = named
                .into_iter()
                .filter(|c| !risk.shared_with.contains(c))
                .collect();
            if new.is_empty() {
                return Err(RegisterError::Precondition(format!(
                    "risk {id} is already shared with {}",
                    counties.join(", ")
                )));
            }
            // Never narrower than the risk's scope: its events go to that feed already.
            let scope = if reaching.breadth() > risk.scope.breadth() {
                reaching
            } else {
                risk.scope
            };
            Event::RiskShared {
                id: id.clone(),
                scope,
                reason: "shared with named counties".into(),
                snapshot: Box::new(RiskSnapshot::from(&risk)),
                counties: new,
            }
        }
        Command::DeclareNeighbours { neighbours } => Event::NeighboursDeclared {
            neighbours: neighbours.clone(),
        },
    })
}

/// A grading of `id` from `scores` with the standard in force, with the officer's override
/// and the situation note it is made with, if any.
#[allow(clippy::too_many_arguments)]
fn grading(
    store: &dyn Store,
    batch: &Batch,
    standard: &GradingStandard,
    id: &str,
    scores: Scores,
    override_level: Option<Level>,
    reason: &str,
    note: Option<String>,
) -> Result<Event, RegisterError> {
    let risk = view::load_existing(&batch.over(store), id)?;
    if risk.status.is_closed() {
        return Err(closed(&risk, "re-grading"));
    }
    let level = standard.grade(scores, risk.focus)?;
    let (override_level, reason) = grade_override(level, override_level, reason)?;
    Ok(Event::RiskGraded {
        id: id.to_owned(),
        scores,
        level,
        standard_version: standard.version.clone(),
        override_level,
        reason,
        note,
    })
}

/// The refusal of `what` on a closed risk.
fn closed(risk: &super::RiskRecord, what: &str) -> RegisterError {
    RegisterError::Precondition(format!(
        "risk {} is {} {}; reopen it (`fenghuo risk set-status {} monitoring`) before {what}",
        risk.id,
        risk.status,
        risk.status.label_zh(),
        risk.id
    ))
}

/// Measures of a closed risk stay as they were closed with.
fn open_for_measures(risk: &super::RiskRecord, what: &str) -> Result<(), RegisterError> {
    if risk.status.is_closed() {
        return Err(closed(risk, what));
    }
    Ok(())
}

fn find_measure<'a>(
    risk: &'a super::RiskRecord,
    measure_id: &str,
) -> Result<&'a super::record::MeasureRecord, RegisterError> {
    risk.measures
        .iter()
        .find(|m| m.id == measure_id)
        .ok_or_else(|| RegisterError::MeasureNotFound {
            risk: risk.id.clone(),
            measure: measure_id.to_owned(),
        })
}

/// The behaviours after an update: `replace` (if given) instead of `current`, then `add`
/// appended (those already there are skipped), then `remove` taken out (each must be there).
/// `None` when the update does not touch them.
fn edit_behaviours(
    current: &[String],
    replace: Option<&[String]>,
    add: &[String],
    remove: &[String],
) -> Result<Option<Vec<String>>, RegisterError> {
    if replace.is_none() && add.is_empty() && remove.is_empty() {
        return Ok(None);
    }
    let mut list = match replace {
        Some(r) => behaviours(r)?,
        None => current.to_vec(),
    };
    for b in behaviours(add)? {
        if !list.contains(&b) {
            list.push(b);
        }
    }
    for b in remove {
        let b = check::typed_required("behaviour", b, MAX_SHORT, Lines::One)?;
        let Some(at) = list.iter().position(|x| *x == b) else {
            return Err(RegisterError::field(
                "remove-behaviour",
                format!(
                    "{b:?} is not a behaviour of this risk (it has: {})",
                    if list.is_empty() {
                        "none".to_owned()
                    } else {
                        list.join("; ")
                    }
                ),
            ));
        };
        list.remove(at);
    }
    Ok(Some(behaviours(&list)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EntryMeta;
    use crate::register::view;
    use crate::store::SledStore;

    const UNIT: &str = "510104";
    const TODAY: &str = "2026-06-15";

    /// A county's register on a real store: each command prepared, checked as peers check
    /// it, applied and committed, as the writer does (without feeds).
    struct Register {
        _dir: tempfile::TempDir,
        store: SledStore,
        standard: GradingStandard,
        seq: u64,
    }

    impl Register {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let store = SledStore::open(dir.path()).unwrap();
            Self {
                _dir: dir,
                store,
                standard: GradingStandard::default_standard(),
                seq: 0,
            }
        }

        fn run(&mut self, cmd: Command) -> Result<Vec<Event>, RegisterError> {
            let mut batch = Batch::new();
            let planned = prepare(&self.store, &batch, UNIT, &self.standard, TODAY, &cmd)?;
            let mut events = Vec::new();
            for (audience, event) in planned {
                self.append(&mut batch, audience, &event)?;
                if let Some((audience, follow)) = follow_up(&self.store, &batch, &event)? {
                    self.append(&mut batch, audience, &follow)?;
                }
                events.push(event);
            }
            self.store.commit(&batch).unwrap();
            Ok(events)
        }

        fn append(
            &mut self,
            batch: &mut Batch,
            audience: Audience,
            event: &Event,
        ) -> Result<(), RegisterError> {
            check::event(event, "county/510104", 1_800_000_000_000)?;
            self.seq += 1;
            let meta = EntryMeta {
                unit: UNIT.into(),
                seq: self.seq,
                at_ms: 1_800_000_000_000 + self.seq as i64,
                author: "staff/510104/zhang".into(),
                audience,
            };
            view::apply(&self.store, batch, &meta, event)?;
            Ok(())
        }

        fn ok(&mut self, cmd: Command) {
            if let Err(e) = self.run(cmd.clone()) {
                panic!("{cmd:?} refused: {e}");
            }
        }

        fn refused(&mut self, cmd: Command) -> String {
            match self.run(cmd.clone()) {
                Ok(_) => panic!("{cmd:?} was accepted"),
                Err(e) => e.to_string(),
            }
        }

        fn risk(&self, id: &str) -> crate::register::RiskRecord {
            view::load_full(&self.store, id).unwrap()
        }
    }

    fn create(title: &str) -> Command {
        Command::Create {
            title: title.into(),
            description: String::new(),
            focus: Some(FocusPoint::KeyWork),
            source: String::new(),
            behaviours: vec!["聚集".into()],
            department: String::new(),
        }
    }

    fn scores(n: u32) -> Scores {
        Scores {
            influence: n,
            attention: n,
            diffusion: n,
        }
    }

    fn grade(id: &str, n: u32, set: Option<Level>, reason: &str) -> Command {
        Command::Grade {
            id: id.into(),
            scores: scores(n),
            override_level: set,
            reason: reason.into(),
        }
    }

    fn add_measure(id: &str, due: &str) -> Command {
        Command::AddMeasure {
            id: id.into(),
            action: "约谈当事人".into(),
            owner: "信访办".into(),
            due: due.into(),
        }
    }

    fn measure(id: &str, m: &str, status: MeasureStatus, note: &str) -> Command {
        Command::UpdateMeasure {
            id: id.into(),
            measure_id: m.into(),
            status,
            note: note.into(),
        }
    }

    fn close(id: &str, closure: Closure, text: &str) -> Command {
        Command::Close {
            id: id.into(),
            closure,
            text: text.into(),
        }
    }

    fn edit(id: &str, m: &str, owner: Option<&str>, due: Option<&str>) -> Command {
        Command::EditMeasure {
            id: id.into(),
            measure_id: m.into(),
            action: None,
            owner: owner.map(Into::into),
            due: due.map(Into::into),
        }
    }

    fn note(id: &str, text: &str, regrade: Option<(u32, Option<Level>, &str)>) -> Command {
        Command::Note {
            id: id.into(),
            note: text.into(),
            scores: regrade.map(|(n, _, _)| scores(n)),
            override_level: regrade.and_then(|(_, l, _)| l),
            reason: regrade.map(|(_, _, r)| r.to_owned()).unwrap_or_default(),
        }
    }

    fn update_behaviours(id: &str, add: &[&str], remove: &[&str]) -> Command {
        Command::Update {
            id: id.into(),
            title: None,
            description: None,
            focus: None,
            source: None,
            behaviours: None,
            add_behaviours: add.iter().map(|s| (*s).to_owned()).collect(),
            remove_behaviours: remove.iter().map(|s| (*s).to_owned()).collect(),
            department: None,
        }
    }

    #[test]
    fn an_override_keeps_the_computed_level_and_needs_a_reason() {
        let mut reg = Register::new();
        reg.ok(create("t"));
        let computed = reg.standard.grade(scores(2), FocusPoint::KeyWork).unwrap();
        let err = reg.refused(grade("510104-1", 2, Some(Level::II), "  "));
        assert!(err.starts_with("reason: required with --level"), "{err}");
        let err = reg.refused(grade("510104-1", 2, None, "why not"));
        assert!(err.starts_with("reason:"), "{err}");
        let err = reg.refused(grade("510104-1", 2, Some(computed), "same"));
        assert!(err.starts_with("level:"), "{err}");
        assert_eq!(reg.risk("510104-1").grade, None, "refusals wrote nothing");

        reg.ok(grade("510104-1", 2, Some(Level::II), "两个乡镇同时出现"));
        let r = reg.risk("510104-1");
        let g = r.grade.as_ref().unwrap();
        assert_eq!(g.level, computed, "the computed level is kept");
        assert_eq!(g.override_level, Some(Level::II));
        assert_eq!(
            r.level(),
            Some(Level::II),
            "the override is the risk's level"
        );
        let summary = &r
            .history
            .iter()
            .find(|h| h.action == "graded")
            .unwrap()
            .summary;
        assert!(
            summary.contains(&format!("→ level {computed}"))
                && summary.contains("set to level II 重大 by the officer")
                && summary.contains("两个乡镇同时出现"),
            "{summary}"
        );
        // Level II by override is a major issue: reported upward in the same write.
        assert_eq!(r.scope, Audience::Upstream);
    }

    #[test]
    fn a_note_is_dated_history_and_may_regrade() {
        let mut reg = Register::new();
        let err = reg.refused(note("510104-1", "无此风险", None));
        assert!(err.contains("no risk item"), "{err}");
        reg.ok(create("t"));
        let err = reg.refused(note("510104-1", "  ", None));
        assert!(err.starts_with("note: must not be empty"), "{err}");
        let err = reg.refused(note("510104-1", &"长".repeat(MAX_NOTE + 1), None));
        assert!(err.starts_with("note:"), "{err}");
        reg.ok(note("510104-1", "转发量下降", None));
        let r = reg.risk("510104-1");
        let last = r.history.last().unwrap();
        assert_eq!(
            (last.action.as_str(), last.summary.as_str()),
            ("noted", "note: 转发量下降")
        );
        assert_eq!(r.status, RiskStatus::Identified);
        assert!(r.grade.is_none());

        // With scores: graded in the same entry, with the standard in force.
        let events = reg
            .run(note("510104-1", "又有新帖", Some((3, None, ""))))
            .unwrap();
        assert_eq!(events.len(), 1);
        let r = reg.risk("510104-1");
        let expected = reg.standard.grade(scores(3), FocusPoint::KeyWork).unwrap();
        assert_eq!(r.level(), Some(expected));
        assert_eq!(r.status, RiskStatus::Graded);
        let last = r.history.last().unwrap();
        assert_eq!(last.action, "noted");
        assert!(
            last.summary
                .starts_with("note: 又有新帖; re-graded influence 3"),
            "{}",
            last.summary
        );
        // --level without scores is refused (it has nothing to override).
        let err = reg.refused(Command::Note {
            id: "510104-1".into(),
            note: "x".into(),
            scores: None,
            override_level: Some(Level::I),
            reason: "y".into(),
        });
        assert!(err.starts_with("level:"), "{err}");
    }

    #[test]
    fn due_dates_in_the_past_are_refused_on_add_and_edit() {
        let mut reg = Register::new();
        reg.ok(create("t"));
        reg.ok(grade("510104-1", 1, None, ""));
        let err = reg.refused(add_measure("510104-1", "2026-06-14"));
        assert!(
            err.starts_with("due: 2026-06-14 is in the past (today is 2026-06-15)"),
            "{err}"
        );
        reg.ok(add_measure("510104-1", TODAY));
        let err = reg.refused(edit("510104-1", "m1", None, Some("2020-01-01")));
        assert!(err.starts_with("due:"), "{err}");
        let err = reg.refused(edit("510104-1", "m1", Some("信访办"), None));
        assert!(err.contains("nothing to change"), "{err}");
        let err = reg.refused(edit("510104-1", "m9", Some("宣传部"), None));
        assert!(err.contains("no measure \"m9\""), "{err}");
        reg.ok(edit("510104-1", "m1", Some("宣传部"), Some("2026-07-01")));
        let r = reg.risk("510104-1");
        assert_eq!(
            (r.measures[0].owner.as_str(), r.measures[0].due.as_str()),
            ("宣传部", "2026-07-01")
        );
        let last = r.history.last().unwrap();
        assert_eq!(last.action, "measure-edited");
        assert_eq!(
            last.summary,
            "m1: owner: 信访办 → 宣传部; due: 2026-06-15 → 2026-07-01"
        );
    }

    #[test]
    fn measures_are_done_with_a_note_or_cancelled_with_a_reason() {
        let mut reg = Register::new();
        reg.ok(create("t"));
        reg.ok(grade("510104-1", 1, None, ""));
        reg.ok(add_measure("510104-1", "2030-01-01"));
        reg.ok(add_measure("510104-1", "2030-01-01"));
        let err = reg.refused(measure("510104-1", "m1", MeasureStatus::Cancelled, ""));
        assert!(err.starts_with("reason: must not be empty"), "{err}");
        reg.ok(measure(
            "510104-1",
            "m1",
            MeasureStatus::Cancelled,
            "已由他部门处理",
        ));
        reg.ok(measure("510104-1", "m2", MeasureStatus::Done, "已约谈"));
        let r = reg.risk("510104-1");
        assert_eq!(r.measures[0].status, MeasureStatus::Cancelled);
        assert_eq!(r.measures[0].note, "已由他部门处理");
        assert_eq!(r.measures[1].note, "已约谈");
        let summaries: Vec<&str> = r.history.iter().map(|h| h.summary.as_str()).collect();
        assert!(summaries.contains(&"m1: planned → cancelled 取消; reason: 已由他部门处理"));
        assert!(summaries.contains(&"m2: planned → done 完成; note: 已约谈"));
        let err = reg.refused(edit("510104-1", "m2", Some("宣传部"), None));
        assert!(
            err.contains("only a planned or in-progress measure"),
            "{err}"
        );
    }

    #[test]
    fn resolving_needs_every_measure_done_or_cancelled_and_a_summary() {
        let mut reg = Register::new();
        reg.ok(create("t"));
        reg.ok(grade("510104-1", 1, None, ""));
        reg.ok(add_measure("510104-1", "2030-01-01"));
        reg.ok(add_measure("510104-1", "2030-01-01"));
        reg.ok(measure("510104-1", "m1", MeasureStatus::InProgress, ""));
        let err = reg.refused(close("510104-1", Closure::Resolved, "已化解"));
        assert!(err.contains("measure(s) m1, m2 still open"), "{err}");
        reg.ok(measure("510104-1", "m1", MeasureStatus::Done, ""));
        reg.ok(measure(
            "510104-1",
            "m2",
            MeasureStatus::Cancelled,
            "不需要",
        ));
        let err = reg.refused(close("510104-1", Closure::Resolved, " "));
        assert!(err.starts_with("summary: must not be empty"), "{err}");
        // `set-status resolved` points to the close command.
        let err = reg.refused(Command::SetStatus {
            id: "510104-1".into(),
            status: RiskStatus::Resolved,
        });
        assert!(err.contains("risk close"), "{err}");
        reg.ok(close("510104-1", Closure::Resolved, "当事人诉求已解决"));
        let r = reg.risk("510104-1");
        assert_eq!(r.status, RiskStatus::Resolved);
        let c = r.closure.as_ref().unwrap();
        assert_eq!(
            (c.closure, c.text.as_str()),
            (Closure::Resolved, "当事人诉求已解决")
        );
        let last = r.history.last().unwrap();
        assert_eq!(last.action, "closed");
        assert_eq!(
            last.summary,
            "resolved 化解: 当事人诉求已解决; status measures-set → resolved"
        );
        // Closed: measures and grades wait for a reopening; a note does not.
        let err = reg.refused(measure("510104-1", "m1", MeasureStatus::Planned, ""));
        assert!(err.contains("reopen it"), "{err}");
        let err = reg.refused(grade("510104-1", 2, None, ""));
        assert!(err.contains("reopen it"), "{err}");
        reg.ok(note("510104-1", "一周内无新帖", None));
        reg.ok(Command::SetStatus {
            id: "510104-1".into(),
            status: RiskStatus::Monitoring,
        });
        let r = reg.risk("510104-1");
        assert_eq!(r.status, RiskStatus::Monitoring);
        assert_eq!(r.closure, None, "reopening clears the closure");
        assert_eq!(
            r.history.last().unwrap().summary,
            "status resolved → monitoring (reopened)"
        );
    }

    #[test]
    fn a_false_alarm_is_ruled_out_from_any_status_with_a_reason() {
        let mut reg = Register::new();
        reg.ok(create("t"));
        let err = reg.refused(close("510104-1", Closure::Resolved, "x"));
        assert!(
            err.contains("cannot move from identified to resolved"),
            "{err}"
        );
        let err = reg.refused(close("510104-1", Closure::RuledOut, ""));
        assert!(err.starts_with("reason: must not be empty"), "{err}");
        reg.ok(close("510104-1", Closure::RuledOut, "系谣言，已核实"));
        let r = reg.risk("510104-1");
        assert_eq!(r.status, RiskStatus::RuledOut);
        assert_eq!(
            r.history.last().unwrap().summary,
            "ruled out 排除 (false alarm 误报): 系谣言，已核实; status identified → ruled-out"
        );
        let err = reg.refused(close("510104-1", Closure::RuledOut, "again"));
        assert!(err.contains("already ruled-out"), "{err}");
        // Reopening puts it under dynamic management.
        reg.ok(Command::SetStatus {
            id: "510104-1".into(),
            status: RiskStatus::Monitoring,
        });
        assert_eq!(reg.risk("510104-1").status, RiskStatus::Monitoring);
    }

    #[test]
    fn behaviours_are_added_and_removed_one_at_a_time() {
        let mut reg = Register::new();
        reg.ok(create("t"));
        reg.ok(update_behaviours("510104-1", &["上访", "聚集"], &[]));
        assert_eq!(reg.risk("510104-1").behaviours, ["聚集", "上访"]);
        let err = reg.refused(update_behaviours("510104-1", &[], &["堵路"]));
        assert!(
            err.starts_with("remove-behaviour: \"堵路\" is not a behaviour of this risk"),
            "{err}"
        );
        reg.ok(update_behaviours("510104-1", &["堵路"], &["聚集"]));
        let r = reg.risk("510104-1");
        assert_eq!(r.behaviours, ["上访", "堵路"]);
        assert_eq!(
            r.history.last().unwrap().summary,
            "behaviours: [聚集, 上访] → [上访, 堵路]"
        );
        let err = reg.refused(update_behaviours("510104-1", &["上访"], &[]));
        assert!(err.contains("nothing to change"), "{err}");
    }
}
