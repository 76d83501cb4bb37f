//! Commands from staff: checked against the register as it stands and turned into events.
//! A command that fails a check writes nothing.

use crate::domain::{FocusPoint, GradingStandard, Level, MeasureStatus, RiskStatus, Scores};
use crate::event::{Event, RiskSnapshot};
use crate::feed::Audience;
use crate::store::{Batch, Store};

use super::view::{self, parse_risk_id};
use super::RegisterError;

// The limits every node checks received entries against (one set, used twice).
use crate::event::check::{self, Lines, MAX_BEHAVIOURS, MAX_SHORT, MAX_TEXT, MAX_TITLE};

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
        /// New department.
        department: Option<String>,
    },
    /// Grade from the three dimensions.
    Grade {
        /// The risk.
        id: String,
        /// The scores.
        scores: Scores,
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
    /// Change a measure's status.
    UpdateMeasure {
        /// The risk.
        id: String,
        /// The measure.
        measure_id: String,
        /// New status.
        status: MeasureStatus,
    },
    /// Set the risk's status explicitly.
    SetStatus {
        /// The risk.
        id: String,
        /// New status.
        status: RiskStatus,
    },
    /// Widen who the risk is shared with (`neighbours` or `province`).
    Share {
        /// The risk.
        id: String,
        /// The new audience.
        scope: Audience,
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
            | Self::Update { id, .. }
            | Self::Grade { id, .. }
            | Self::AddMeasure { id, .. }
            | Self::UpdateMeasure { id, .. }
            | Self::SetStatus { id, .. } => Some(id),
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

/// Checks `cmd` against the register (seen through `batch`) and returns the events it
/// records, each with the audience of the feed it goes to (a risk's events go to the feed of
/// its scope). `unit` is this node's division code: it owns the risks it creates.
pub fn prepare(
    store: &dyn Store,
    batch: &Batch,
    unit: &str,
    standard: &GradingStandard,
    cmd: &Command,
) -> Result<Vec<(Audience, Event)>, RegisterError> {
    let scope = match cmd.risk_id() {
        Some(id) => view::load(&batch.over(store), id)?.map(|r| r.scope),
        None => None,
    };
    let event = prepare_event(store, batch, unit, standard, cmd)?;
    let audience = match (cmd, scope) {
        (Command::Share { scope, .. }, _) => *scope,
        (Command::DeclareNeighbours { .. }, _) => Audience::Province,
        (_, Some(scope)) => scope,
        (_, None) => Audience::Local,
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
    let Event::RiskGraded { id, level, .. } = event else {
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
        },
    )))
}

fn prepare_event(
    store: &dyn Store,
    batch: &Batch,
    unit: &str,
    standard: &GradingStandard,
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
            department,
        } => {
            let risk = view::load_existing(&batch.over(store), id)?;
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
                behaviours: differs(b.as_deref().map(behaviours).transpose()?, &risk.behaviours),
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
        Command::Grade { id, scores } => {
            let risk = view::load_existing(&batch.over(store), id)?;
            let level = standard.grade(*scores, risk.focus)?;
            Event::RiskGraded {
                id: id.clone(),
                scores: *scores,
                level,
                standard_version: standard.version.clone(),
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
                due: check_date("due", due)?,
            }
        }
        Command::UpdateMeasure {
            id,
            measure_id,
            status,
        } => Event::MeasureUpdated {
            id: id.clone(),
            measure_id: measure_id.clone(),
            status: *status,
        },
        Command::SetStatus { id, status } => Event::StatusSet {
            id: id.clone(),
            status: *status,
        },
        Command::Share { id, scope } => {
            let risk = view::load_full(&batch.over(store), id)?;
            if !matches!(scope, Audience::Neighbours | Audience::Province) {
                return Err(RegisterError::field(
                    "scope",
                    "share with neighbours or province",
                ));
            }
            if risk.scope.breadth() >= scope.breadth() {
                return Err(RegisterError::Precondition(format!(
                    "risk {id} is already shared with {} (a share can only widen)",
                    risk.scope
                )));
            }
            Event::RiskShared {
                id: id.clone(),
                scope: *scope,
                reason: "shared by staff".into(),
                snapshot: Box::new(RiskSnapshot::from(&risk)),
            }
        }
        Command::DeclareNeighbours { neighbours } => Event::NeighboursDeclared {
            neighbours: neighbours.clone(),
        },
    })
}
