//! What a valid event is: one set of checks per event kind, run twice — on what this node
//! writes, just before it is appended to a feed, and on every entry received by sync, before
//! it is stored, applied or relayed. A valid signature is not valid content: an origin can
//! sign anything, so a peer's entries get the same checks as local input, plus those only
//! received entries need (payload size, author, timestamps).
//!
//! Commands check their input first, with the register or communications at hand, and give
//! people field-by-field errors; the limits they use are the ones defined here, so nothing a
//! node writes is refused by its peers.

use base64::Engine;
use sha2::{Digest, Sha256};

use super::{Event, PayloadError};
use crate::domain::disposal::{check_url, MAX_EVIDENCE_BYTES, MAX_EVIDENCE_FILES, MAX_URLS};
use crate::feed::{Audience, Entry};
use crate::identity::{validate_name, DivisionCode, Identity};

/// Longest risk title, in characters.
pub const MAX_TITLE: usize = 200;
/// Longest free text (descriptions, summaries, directives), in characters.
pub const MAX_TEXT: usize = 10_000;
/// Longest short field (source, department, owner, behaviour), in characters.
pub const MAX_SHORT: usize = 500;
/// Longest note or reason, in characters.
pub const MAX_NOTE: usize = 2_000;
/// Most risk behaviours on one risk.
pub const MAX_BEHAVIOURS: usize = 50;
/// Most county codes in one list (neighbours, targets, affected counties).
pub const MAX_CODES: usize = 200;
/// Longest alert event category, in characters.
pub const MAX_EVENT_KIND: usize = 500;
/// Longest partner display name or evidence file name, in characters.
pub const MAX_NAME: usize = 255;
/// Largest payload of an ordinary entry, in bytes.
pub const MAX_PAYLOAD: usize = 64 << 10;
/// Largest payload of a risk's snapshot (it carries the risk's whole history).
pub const MAX_SNAPSHOT_PAYLOAD: usize = 1 << 20;
/// Largest payload of a disposal request (evidence travels base64-encoded inside it).
pub const MAX_EVIDENCE_PAYLOAD: usize =
    MAX_PAYLOAD + MAX_EVIDENCE_FILES * (MAX_EVIDENCE_BYTES / 3 + 1) * 4 + 4096;
/// How far ahead of the receiver's clock an entry's timestamp may be.
pub const MAX_CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;
/// Deadlines (directives, disposal requests) lie at most this far after they are written.
pub const MAX_DEADLINE_AHEAD_MS: i64 = 400 * 24 * 3600 * 1000;

/// Why an event or a received entry is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    /// A field breaks a rule; names the field.
    #[error("{field}: {reason}")]
    Field {
        /// The field, as commands and the CLI name it.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The payload is larger than its kind allows.
    #[error("payload of {size} bytes is larger than the {max} bytes allowed for {kind}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
        /// What kind of entry.
        kind: &'static str,
    },
    /// Not JSON of an event this build knows (or written by a newer build).
    #[error("{0}")]
    Payload(String),
    /// Only the origin's node or its staff write in its feeds.
    #[error("author {author} does not act for {origin}")]
    Author {
        /// The entry's author.
        author: String,
        /// The feed's origin.
        origin: String,
    },
    /// The event is one its origin may not write (a county issuing a directive).
    #[error("{what} may only be written by {who}")]
    NotAllowed {
        /// The event.
        what: &'static str,
        /// Who may.
        who: &'static str,
    },
    /// The timestamp is later than the receiver's clock allows.
    #[error("timestamp {at_ms} is {ahead_s} s ahead of this node's clock (at most {} s allowed)", MAX_CLOCK_SKEW_MS / 1000)]
    FromTheFuture {
        /// The entry's timestamp, Unix ms.
        at_ms: i64,
        /// How far ahead, seconds.
        ahead_s: i64,
    },
    /// A county code the province's certificate directory does not (yet) list.
    #[error("county {code} is no county in the province's certificate directory")]
    UnlistedCounty {
        /// The code.
        code: String,
    },
    /// The timestamp is earlier than the entry before it.
    #[error("timestamp {at_ms} is before the previous entry's ({previous_ms})")]
    BeforePrevious {
        /// The entry's timestamp, Unix ms.
        at_ms: i64,
        /// The previous entry's, Unix ms.
        previous_ms: i64,
    },
}

impl ContentError {
    /// Whether the refusal depends on the receiver rather than on the entry: its clock, the
    /// directory it holds so far, the payload formats its build reads. Such an entry is tried
    /// again later (with backoff) instead of quarantining its feed for good.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::FromTheFuture { .. } | Self::UnlistedCounty { .. } | Self::Payload(_)
        )
    }
}

fn field(field: &'static str, reason: impl Into<String>) -> ContentError {
    ContentError::Field {
        field,
        reason: reason.into(),
    }
}

pub use crate::domain::text::{refused_char, visible, CharKind, Lines, RefusedChar};

/// Checks text for a field of `lines`: at most `max` characters, trimmed, and no character
/// [`refused_char`] names. The error names the field, the character's code point and its
/// position.
pub fn text_of(
    name: &'static str,
    value: &str,
    max: usize,
    lines: Lines,
) -> Result<(), ContentError> {
    let chars = value.chars().count();
    if chars > max {
        return Err(field(name, format!("{chars} characters; at most {max}")));
    }
    if value.trim() != value {
        return Err(field(name, "has leading or trailing spaces"));
    }
    match refused_char(value, lines) {
        Some(refused) => Err(field(name, refused.to_string())),
        None => Ok(()),
    }
}

/// Checks multi-line free text (descriptions, notes, summaries, reasons): see [`text_of`].
pub fn text(name: &'static str, value: &str, max: usize) -> Result<(), ContentError> {
    text_of(name, value, max, Lines::Many)
}

/// Checks one line of text (titles, names, departments, owners): see [`text_of`].
pub fn line(name: &'static str, value: &str, max: usize) -> Result<(), ContentError> {
    text_of(name, value, max, Lines::One)
}

/// [`text`], and not empty.
pub fn required(name: &'static str, value: &str, max: usize) -> Result<(), ContentError> {
    if value.is_empty() {
        return Err(field(name, "must not be empty"));
    }
    text(name, value, max)
}

/// [`line`], and not empty.
pub fn required_line(name: &'static str, value: &str, max: usize) -> Result<(), ContentError> {
    if value.is_empty() {
        return Err(field(name, "must not be empty"));
    }
    line(name, value, max)
}

/// What a command keeps of text a person typed: trimmed, line ends as `\n`, then checked
/// as [`text_of`] checks what every node receives, so nothing written is refused by a peer.
pub fn typed(
    name: &'static str,
    value: &str,
    max: usize,
    lines: Lines,
) -> Result<String, ContentError> {
    let kept = value.trim().replace("\r\n", "\n").replace('\r', "\n");
    text_of(name, &kept, max, lines)?;
    Ok(kept)
}

/// [`typed`], refused when empty too.
pub fn typed_required(
    name: &'static str,
    value: &str,
    max: usize,
    lines: Lines,
) -> Result<String, ContentError> {
    let kept = typed(name, value, max, lines)?;
    if kept.is_empty() {
        return Err(field(name, "must not be empty"));
    }
    Ok(kept)
}

/// Checks a list of county codes: well formed, in `province`, at most [`MAX_CODES`].
pub fn county_codes(
    name: &'static str,
    codes: &[String],
    province: &str,
) -> Result<(), ContentError> {
    if codes.len() > MAX_CODES {
        return Err(field(name, format!("at most {MAX_CODES} counties")));
    }
    for code in codes {
        let c = DivisionCode::county(code)
            .map_err(|_| field(name, format!("{:.20?} is not a county code", code)))?;
        if c.province_code() != province {
            return Err(field(
                name,
                format!("{code} is not a county of province {province}"),
            ));
        }
    }
    Ok(())
}

/// The origin unit's code and province of a feed origin path (`county/510104`).
fn origin_unit(origin: &str) -> Result<DivisionCode, ContentError> {
    match Identity::from_path(origin) {
        Ok(Identity::County(c)) | Ok(Identity::Province(c)) => Ok(c),
        _ => Err(field("origin", format!("{origin:.80?} is not a node"))),
    }
}

/// `<unit>-<n>` (a risk) or `<unit>-<letter><n>` (an item): the unit, the letter (if any).
fn split_id(id: &str) -> Option<(&str, Option<char>)> {
    let (unit, rest) = id.split_once('-')?;
    if DivisionCode::parse(unit).is_err() {
        return None;
    }
    let (letter, digits) = match rest.chars().next()? {
        c if c.is_ascii_lowercase() => (Some(c), &rest[1..]),
        _ => (None, rest),
    };
    let ok = !digits.is_empty()
        && digits.len() <= 19
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    ok.then_some((unit, letter))
}

/// Checks `id` is an id of kind `letter` (None: a risk); with `owner`, that unit's own.
fn id_of(
    name: &'static str,
    id: &str,
    letter: &[char],
    owner: Option<&str>,
) -> Result<(), ContentError> {
    let bad = || field(name, format!("{id:.40?} is not a valid id"));
    let (unit, l) = split_id(id).ok_or_else(bad)?;
    let kind_ok = match l {
        None => letter.is_empty(),
        Some(c) => letter.contains(&c),
    };
    if !kind_ok {
        return Err(bad());
    }
    if let Some(owner) = owner {
        if unit != owner {
            return Err(field(
                name,
                format!("{id} belongs to {unit}, not to {owner} that wrote it"),
            ));
        }
    }
    Ok(())
}

const RISK: &[char] = &[];

/// Checks a due date or other calendar date, `YYYY-MM-DD`, between 2000 and 2199.
pub fn date(name: &'static str, value: &str) -> Result<(), ContentError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(value, &format).map_err(|_| {
        field(
            name,
            format!("{value:.20?} is not a date written YYYY-MM-DD"),
        )
    })?;
    if !(2000..2200).contains(&d.year()) {
        return Err(field(name, format!("{value} is out of range")));
    }
    Ok(())
}

/// Checks a deadline: after `at_ms` (when it was written) and not absurdly far.
fn deadline(name: &'static str, deadline_ms: i64, at_ms: i64) -> Result<(), ContentError> {
    if deadline_ms <= at_ms {
        return Err(field(name, "is not after the time it was set"));
    }
    if deadline_ms.saturating_sub(at_ms) > MAX_DEADLINE_AHEAD_MS {
        return Err(field(name, "is more than 400 days ahead"));
    }
    Ok(())
}

/// When this build's text rule and 90-day disposal deadlines took effect (2026-12-07T00:00Z).
/// An entry timestamped before it was written by an earlier build, under the rules of its
/// time: it is held to those, so a node that receives old history for the first time (a new
/// node, one catching up) takes what every node took then instead of quarantining the feed.
/// Timestamps only go forward within a feed, so this admits nothing new once a feed has
/// moved past the date.
pub const RULES_OF_ISSUE_15_MS: i64 = 1_796_601_600_000;

/// The text and deadline rules an entry is held to, by when it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rules {
    /// Written before [`RULES_OF_ISSUE_15_MS`]: control characters but `\n`, `\r` and `\t`
    /// refused in every field, bidirectional characters allowed, deadlines up to 400 days.
    earlier: bool,
}

impl Rules {
    /// The rules for an entry written at `at_ms`.
    fn at(at_ms: i64) -> Self {
        Self {
            earlier: at_ms < RULES_OF_ISSUE_15_MS,
        }
    }

    /// [`text_of`] for a field of `lines`, or the earlier rule.
    fn text_of(
        self,
        name: &'static str,
        value: &str,
        max: usize,
        lines: Lines,
    ) -> Result<(), ContentError> {
        if !self.earlier {
            return text_of(name, value, max, lines);
        }
        let chars = value.chars().count();
        if chars > max {
            return Err(field(name, format!("{chars} characters; at most {max}")));
        }
        if value.trim() != value {
            return Err(field(name, "has leading or trailing spaces"));
        }
        if value
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(field(name, "contains control characters"));
        }
        Ok(())
    }

    /// [`text`] under these rules.
    fn text(self, name: &'static str, value: &str, max: usize) -> Result<(), ContentError> {
        self.text_of(name, value, max, Lines::Many)
    }

    /// [`line`] under these rules.
    fn line(self, name: &'static str, value: &str, max: usize) -> Result<(), ContentError> {
        self.text_of(name, value, max, Lines::One)
    }

    /// [`required`] under these rules.
    fn required(self, name: &'static str, value: &str, max: usize) -> Result<(), ContentError> {
        if value.is_empty() {
            return Err(field(name, "must not be empty"));
        }
        self.text(name, value, max)
    }

    /// [`required_line`] under these rules.
    fn required_line(
        self,
        name: &'static str,
        value: &str,
        max: usize,
    ) -> Result<(), ContentError> {
        if value.is_empty() {
            return Err(field(name, "must not be empty"));
        }
        self.line(name, value, max)
    }

    /// A disposal request's deadline: at most 90 days ahead, or 400 under the earlier rule.
    fn disposal_deadline(self, deadline_ms: i64, at_ms: i64) -> Result<(), ContentError> {
        if self.earlier {
            return deadline("deadline", deadline_ms, at_ms);
        }
        crate::domain::disposal::check_deadline(deadline_ms, at_ms)
            .map_err(|e| field("deadline", e))
    }
}

fn behaviours(r: Rules, list: &[String]) -> Result<(), ContentError> {
    if list.len() > MAX_BEHAVIOURS {
        return Err(field(
            "behaviour",
            format!("at most {MAX_BEHAVIOURS} behaviours"),
        ));
    }
    list.iter()
        .try_for_each(|b| r.required_line("behaviour", b, MAX_SHORT))
}

fn snapshot(
    r: Rules,
    risk: &super::RiskSnapshot,
    id: &str,
    unit: &str,
) -> Result<(), ContentError> {
    if risk.id != id || risk.origin != unit {
        return Err(field(
            "snapshot",
            format!(
                "is of {:.40} from {:.10}, not of {id} from {unit}",
                risk.id, risk.origin
            ),
        ));
    }
    r.required_line("title", &risk.title, MAX_TITLE)?;
    r.text("description", &risk.description, MAX_TEXT)?;
    r.line("source", &risk.source, MAX_SHORT)?;
    r.line("department", &risk.department, MAX_SHORT)?;
    behaviours(r, &risk.behaviours)?;
    // (How many measures and history items a risk has is bounded by the snapshot's payload
    // size; their summaries are written by the origin's node, not typed by people.)
    for m in &risk.measures {
        r.required("action", &m.action, MAX_TEXT)?;
        r.required_line("owner", &m.owner, MAX_SHORT)?;
        date("due", &m.due)?;
        measure_note(r, m.status, &m.note)?;
    }
    if let Some(g) = &risk.grade {
        g.scores
            .validate()
            .map_err(|e| field("scores", e.to_string()))?;
        r.line("standard", &g.standard_version, 64)?;
        grade_override(r, g.level, g.override_level, &g.reason)?;
    }
    if let Some(c) = &risk.closure {
        closing_text(r, c.closure, &c.text)?;
        if risk.status != c.closure.status() {
            return Err(field(
                "closure",
                format!("the risk is {}, not {}", risk.status, c.closure.as_str()),
            ));
        }
    }
    Ok(())
}

/// An officer's level override (综合研判): a different level than computed, with a reason;
/// no reason without an override.
fn grade_override(
    r: Rules,
    computed: crate::domain::Level,
    override_level: Option<crate::domain::Level>,
    reason: &str,
) -> Result<(), ContentError> {
    match override_level {
        Some(l) if l == computed => Err(field(
            "level",
            format!("{l} is the computed level: no override to record"),
        )),
        Some(_) => r.required("reason", reason, MAX_NOTE),
        None if !reason.is_empty() => Err(field("reason", "given without a level to set")),
        None => Ok(()),
    }
}

/// A measure's note: at most [`MAX_NOTE`], required when it was cancelled.
fn measure_note(
    r: Rules,
    status: crate::domain::MeasureStatus,
    note: &str,
) -> Result<(), ContentError> {
    if status == crate::domain::MeasureStatus::Cancelled {
        r.required("reason", note, MAX_NOTE)
    } else {
        r.text("note", note, MAX_NOTE)
    }
}

/// The text a risk is closed with: a summary of how it was resolved (up to [`MAX_TEXT`]) or
/// the reason it was ruled out (up to [`MAX_NOTE`]); required either way.
fn closing_text(
    r: Rules,
    closure: crate::domain::risk::Closure,
    text: &str,
) -> Result<(), ContentError> {
    match closure {
        crate::domain::risk::Closure::Resolved => r.required("summary", text, MAX_TEXT),
        crate::domain::risk::Closure::RuledOut => r.required("reason", text, MAX_NOTE),
    }
}

fn province_only(is_province: bool, what: &'static str) -> Result<(), ContentError> {
    if is_province {
        Ok(())
    } else {
        Err(ContentError::NotAllowed {
            what,
            who: "the province",
        })
    }
}

fn county_only(is_province: bool, what: &'static str) -> Result<(), ContentError> {
    if is_province {
        Err(ContentError::NotAllowed {
            what,
            who: "a county",
        })
    } else {
        Ok(())
    }
}

/// The largest payload an event of this kind may have.
pub fn max_payload(event: &Event) -> (usize, &'static str) {
    match event {
        Event::RiskShared { .. } => (MAX_SNAPSHOT_PAYLOAD, "a risk's snapshot"),
        Event::DisposalFiled { .. } => (MAX_EVIDENCE_PAYLOAD, "a disposal request"),
        _ => (MAX_PAYLOAD, "an entry"),
    }
}

/// Checks `event`, written by `origin` (identity path, e.g. `county/510104`) at `at_ms`:
/// field lengths and forms, ids of the origin's own items, codes of its province, deadlines
/// after the time of writing, and events only the province (or only a county) writes.
pub fn event(event: &Event, origin: &str, at_ms: i64) -> Result<(), ContentError> {
    let r = Rules::at(at_ms);
    let unit = origin_unit(origin)?;
    let is_province = !unit.is_county();
    let own = Some(unit.as_str());
    let province = unit.province_code();
    match event {
        Event::RiskCreated {
            id,
            title,
            description,
            source,
            behaviours: b,
            department,
            focus: _,
        } => {
            id_of("id", id, RISK, own)?;
            r.required_line("title", title, MAX_TITLE)?;
            r.text("description", description, MAX_TEXT)?;
            r.line("source", source, MAX_SHORT)?;
            behaviours(r, b)?;
            r.line("department", department, MAX_SHORT)
        }
        Event::RiskUpdated {
            id,
            title,
            description,
            source,
            behaviours: b,
            department,
            focus: _,
        } => {
            id_of("id", id, RISK, own)?;
            if let Some(t) = title {
                r.required_line("title", t, MAX_TITLE)?;
            }
            if let Some(d) = description {
                r.text("description", d, MAX_TEXT)?;
            }
            if let Some(s) = source {
                r.line("source", s, MAX_SHORT)?;
            }
            if let Some(b) = b {
                behaviours(r, b)?;
            }
            if let Some(d) = department {
                r.line("department", d, MAX_SHORT)?;
            }
            Ok(())
        }
        Event::RiskGraded {
            id,
            scores,
            standard_version,
            level,
            override_level,
            reason,
            note,
        } => {
            id_of("id", id, RISK, own)?;
            scores
                .validate()
                .map_err(|e| field("scores", e.to_string()))?;
            r.required_line("standard", standard_version, 64)?;
            grade_override(r, *level, *override_level, reason)?;
            match note {
                Some(n) => r.required("note", n, MAX_NOTE),
                None => Ok(()),
            }
        }
        Event::RiskNoted { id, note } => {
            id_of("id", id, RISK, own)?;
            r.required("note", note, MAX_NOTE)
        }
        Event::MeasureAdded {
            id,
            measure_id,
            action,
            owner,
            due,
        } => {
            id_of("id", id, RISK, own)?;
            measure(measure_id)?;
            r.required("action", action, MAX_TEXT)?;
            r.required_line("owner", owner, MAX_SHORT)?;
            date("due", due)
        }
        Event::MeasureUpdated {
            id,
            measure_id,
            status,
            note,
        } => {
            id_of("id", id, RISK, own)?;
            measure(measure_id)?;
            measure_note(r, *status, note)
        }
        Event::MeasureEdited {
            id,
            measure_id,
            action,
            owner,
            due,
        } => {
            id_of("id", id, RISK, own)?;
            measure(measure_id)?;
            if action.is_none() && owner.is_none() && due.is_none() {
                return Err(field("measure", "an edit that changes nothing"));
            }
            if let Some(a) = action {
                r.required("action", a, MAX_TEXT)?;
            }
            if let Some(o) = owner {
                r.required_line("owner", o, MAX_SHORT)?;
            }
            match due {
                Some(d) => date("due", d),
                None => Ok(()),
            }
        }
        Event::StatusSet { id, .. } => id_of("id", id, RISK, own),
        Event::RiskClosed { id, closure, text } => {
            id_of("id", id, RISK, own)?;
            closing_text(r, *closure, text)
        }
        Event::RiskShared {
            id,
            scope,
            reason,
            snapshot: s,
            counties,
        } => {
            id_of("id", id, RISK, own)?;
            if *scope == Audience::Local {
                return Err(field("scope", "a share cannot narrow to local"));
            }
            r.text("reason", reason, MAX_SHORT)?;
            for (name, codes) in [("counties", counties), ("shared_with", &s.shared_with)] {
                county_codes(name, codes, province)?;
                if codes.iter().any(|c| c == unit.as_str()) {
                    return Err(field(name, "names the origin itself"));
                }
            }
            snapshot(r, s, id, unit.as_str())
        }
        Event::IntakeCounted { counts: c } => {
            county_only(is_province, "intake figures")?;
            if !(1..=3650).contains(&c.days) {
                return Err(field("days", "must be 1-3650"));
            }
            if c.from_ms >= c.to_ms || c.to_ms > at_ms + MAX_CLOCK_SKEW_MS {
                return Err(field("to", "the period must end by the time of writing"));
            }
            if c.risks_from_intake > c.risks || c.contested > c.risks || c.found_first > c.contested
            {
                return Err(field("risks", "parts larger than their whole"));
            }
            if c.lead_median_ms < 0 || c.triage_median_ms < 0 {
                return Err(field("median", "a time cannot be negative"));
            }
            Ok(())
        }
        Event::NeighboursDeclared { neighbours } => {
            county_only(is_province, "a neighbour declaration")?;
            county_codes("neighbours", neighbours, province)?;
            if neighbours.iter().any(|n| n == unit.as_str()) {
                return Err(field("neighbours", "names the county itself"));
            }
            Ok(())
        }
        Event::AlertIssued { id, alert, .. } | Event::AlertUpdated { id, alert, .. } => {
            id_of("id", id, &['a'], own)?;
            r.required_line(
                "headline",
                &alert.headline,
                crate::domain::alert::MAX_HEADLINE_CHARS,
            )?;
            r.text("description", &alert.description, MAX_TEXT)?;
            r.text("instruction", &alert.instruction, MAX_TEXT)?;
            r.line("event", &alert.event, MAX_EVENT_KIND)?;
            if alert.affected.len() > MAX_CODES {
                return Err(field("affected", format!("at most {MAX_CODES} counties")));
            }
            if let crate::domain::alert::AlertAudience::Counties(c) = &alert.audience {
                county_codes("audience", c, province)?;
            }
            if let Some(risk) = &alert.risk {
                id_of("risk", risk, RISK, own)?;
            }
            if matches!(event, Event::AlertIssued { .. }) {
                alert.check(at_ms).map_err(|e| field(e.field, e.reason))?;
            }
            Ok(())
        }
        Event::AlertCancelled { id, reason, .. } => {
            id_of("id", id, &['a'], own)?;
            r.text("reason", reason, MAX_NOTE)
        }
        Event::AlertDelivered { id } => id_of("id", id, &['a'], None),
        Event::AlertAcknowledged { id, note } => {
            id_of("id", id, &['a'], None)?;
            r.text("note", note, MAX_NOTE)
        }
        Event::ReportFiled {
            id,
            risk,
            summary,
            disposal,
            ..
        } => {
            id_of("id", id, &['r'], own)?;
            if let Some(r) = risk {
                id_of("risk", r, RISK, own)?;
            }
            if let Some(x) = disposal {
                province_only(is_province, "an escalated disposal request")?;
                id_of("disposal", x, &['x'], None)?;
            }
            r.required("summary", summary, MAX_TEXT)
        }
        Event::ReportAcknowledged { id, note } => {
            province_only(is_province, "a report's acknowledgment")?;
            id_of("id", id, &['r'], None)?;
            r.text("note", note, MAX_NOTE)
        }
        Event::DirectiveIssued {
            id,
            kind,
            text: body,
            deadline_ms,
            targets,
        } => {
            province_only(is_province, "a directive or consultation")?;
            id_of("id", id, &[kind.id_letter()], own)?;
            r.required("text", body, MAX_TEXT)?;
            deadline("deadline", *deadline_ms, at_ms)?;
            county_codes("targets", targets, province)
        }
        Event::DirectiveResponded { id, text: body, .. } => {
            county_only(is_province, "an answer to a directive")?;
            id_of("id", id, &['d', 'c'], None)?;
            r.text("text", body, MAX_TEXT)
        }
        Event::PartnerDeclared {
            name,
            display_name,
            handles,
            ..
        } => {
            province_only(is_province, "a partner declaration")?;
            validate_name(name).map_err(|e| field("name", e.to_string()))?;
            r.line("display-name", display_name, MAX_NAME)?;
            r.line(
                "handles",
                handles,
                crate::domain::disposal::MAX_HANDLES_CHARS,
            )
        }
        Event::CertificateListed { certificate } => {
            province_only(is_province, "a certificate directory entry")?;
            if certificate.len() > MAX_PAYLOAD / 4 {
                return Err(field("certificate", "too large"));
            }
            let der = base64::engine::general_purpose::STANDARD
                .decode(certificate)
                .map_err(|_| field("certificate", "not base64"))?;
            match crate::pki::cert::identity_of(&der)
                .map_err(|e| field("certificate", e.to_string()))?
            {
                Identity::County(c) | Identity::Province(c) if c.province_code() == province => {
                    // The unit's name people will read: as checked as any typed text.
                    match crate::pki::cert::unit_name_of(&der) {
                        Some(name) => crate::places::check_unit_name(&name)
                            .map(|_| ())
                            .map_err(|e| field("certificate", format!("its unit name: {e}"))),
                        None => Ok(()),
                    }
                }
                other => Err(field(
                    "certificate",
                    format!("names {other}, no node of province {province}"),
                )),
            }
        }
        Event::Rekeyed {
            origin: county,
            certificate,
            previous,
            heads,
        } => {
            province_only(is_province, "a re-key")?;
            let c = match Identity::from_path(county) {
                Ok(Identity::County(c)) => c,
                _ => return Err(field("origin", format!("{county:.40?} is not a county"))),
            };
            if c.province_code() != province {
                return Err(field(
                    "origin",
                    format!("{c} is not a county of {province}"),
                ));
            }
            for (name, b64) in [("certificate", certificate), ("previous", previous)] {
                if b64.len() > MAX_PAYLOAD / 4 {
                    return Err(field(name, "too large"));
                }
                let der = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|_| field(name, "not base64"))?;
                let named =
                    crate::pki::cert::identity_of(&der).map_err(|e| field(name, e.to_string()))?;
                if named.path() != *county {
                    return Err(field(name, format!("names {named}, not {county}")));
                }
            }
            if certificate == previous {
                return Err(field("certificate", "is the previous certificate"));
            }
            if heads.is_empty() || heads.len() > 3 {
                return Err(field("heads", "give one trusted head per shared feed"));
            }
            for (i, h) in heads.iter().enumerate() {
                if h.audience == Audience::Local
                    || heads[..i].iter().any(|o| o.audience == h.audience)
                {
                    return Err(field(
                        "heads",
                        "one head per shared feed (neighbours, province, upstream)",
                    ));
                }
                let hash_ok = h.hash.len() == 64 && h.hash.bytes().all(|b| b.is_ascii_hexdigit());
                if !hash_ok {
                    return Err(field("heads", "a hash is 64 hex digits"));
                }
            }
            Ok(())
        }
        Event::CrlPublished { number, crl } => {
            province_only(is_province, "a CRL")?;
            if crl.len() > MAX_PAYLOAD {
                return Err(field("crl", "too large"));
            }
            let der = base64::engine::general_purpose::STANDARD
                .decode(crl)
                .map_err(|_| field("crl", "not base64"))?;
            let facts = crate::pki::crl::facts(&der).map_err(|e| field("crl", e.to_string()))?;
            if facts.number != *number {
                return Err(field(
                    "crl",
                    format!("says number {}, the entry {number}", facts.number),
                ));
            }
            Ok(())
        }
        Event::DisposalFiled {
            id,
            partner,
            urls,
            reason,
            legal_basis,
            deadline_ms,
            evidence,
            risk,
            action: _,
        } => {
            id_of("id", id, &['x'], own)?;
            validate_name(partner).map_err(|e| field("partner", e.to_string()))?;
            if urls.is_empty() || urls.len() > MAX_URLS {
                return Err(field("url", format!("give 1 to {MAX_URLS} URLs")));
            }
            for u in urls {
                let checked = check_url(u).map_err(|e| field("url", e))?;
                if checked != *u {
                    return Err(field("url", "has leading or trailing spaces"));
                }
            }
            r.required("reason", reason, crate::domain::disposal::MAX_TEXT_CHARS)?;
            r.required(
                "legal-basis",
                legal_basis,
                crate::domain::disposal::MAX_TEXT_CHARS,
            )?;
            r.disposal_deadline(*deadline_ms, at_ms)?;
            if evidence.len() > MAX_EVIDENCE_FILES {
                return Err(field(
                    "evidence",
                    format!("at most {MAX_EVIDENCE_FILES} files"),
                ));
            }
            for f in evidence {
                r.required_line("evidence", &f.name, MAX_NAME)?;
                // A file's name, not a path: whoever saves it must not be led elsewhere.
                if f.name.contains(['/', '\\']) || f.name == ".." || f.name == "." {
                    return Err(field(
                        "evidence",
                        format!("{:.40?} is a path; give a file name", f.name),
                    ));
                }
                let content = base64::engine::general_purpose::STANDARD
                    .decode(&f.content)
                    .map_err(|_| field("evidence", format!("{:.40}: not base64", f.name)))?;
                if content.len() > MAX_EVIDENCE_BYTES || content.len() as u64 != f.size {
                    return Err(field(
                        "evidence",
                        format!("{:.40}: size does not match or is too large", f.name),
                    ));
                }
                if hex::encode(Sha256::digest(&content)) != f.sha256 {
                    return Err(field(
                        "evidence",
                        format!("{:.40}: SHA-256 does not match its content", f.name),
                    ));
                }
            }
            if let Some(r) = risk {
                id_of("risk", r, RISK, own)?;
            }
            Ok(())
        }
        Event::DisposalWithdrawn { id, reason } => {
            id_of("id", id, &['x'], own)?;
            r.text("reason", reason, crate::domain::disposal::MAX_TEXT_CHARS)
        }
        Event::DisposalReviewed { id, note, .. } => {
            province_only(is_province, "a disposal review")?;
            id_of("id", id, &['x'], None)?;
            r.text("note", note, crate::domain::disposal::MAX_TEXT_CHARS)
        }
        Event::DisposalRelayed { id, .. }
        | Event::DisposalDelivered { id }
        | Event::DisposalAcknowledged { id } => {
            province_only(is_province, "a disposal request's delivery")?;
            id_of("id", id, &['x'], None)
        }
        Event::DisposalAnswered {
            id,
            reason,
            reference,
            ..
        } => {
            province_only(is_province, "a partner's answer")?;
            id_of("id", id, &['x'], None)?;
            r.text("reason", reason, crate::domain::disposal::MAX_TEXT_CHARS)?;
            r.line(
                "reference",
                reference,
                crate::domain::disposal::MAX_TEXT_CHARS,
            )
        }
    }
}

fn measure(id: &str) -> Result<(), ContentError> {
    let ok = id
        .strip_prefix('m')
        .is_some_and(|n| !n.is_empty() && n.len() <= 6 && n.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(field(
            "measure",
            format!("{id:.20?} is not a measure id (m1, m2, …)"),
        ))
    }
}

/// The county codes an event names (neighbours, targets, an alert's counties), if any.
pub fn county_codes_named(event: &Event) -> Vec<&str> {
    match event {
        Event::NeighboursDeclared { neighbours } => neighbours.iter().map(String::as_str).collect(),
        Event::DirectiveIssued { targets, .. } => targets.iter().map(String::as_str).collect(),
        Event::RiskShared {
            counties, snapshot, ..
        } => counties
            .iter()
            .chain(&snapshot.shared_with)
            .map(String::as_str)
            .collect(),
        Event::AlertIssued { alert, .. } | Event::AlertUpdated { alert, .. } => {
            let mut v: Vec<&str> = alert.affected.iter().map(String::as_str).collect();
            if let crate::domain::alert::AlertAudience::Counties(c) = &alert.audience {
                v.extend(c.iter().map(String::as_str));
            }
            v
        }
        _ => Vec::new(),
    }
}

/// Checks every county code `event` names is in `listed` (the province's certificate
/// directory); nothing to check while the province has published none.
pub fn listed_codes(
    event: &Event,
    listed: Option<&std::collections::BTreeSet<String>>,
) -> Result<(), ContentError> {
    let Some(listed) = listed else {
        return Ok(());
    };
    match county_codes_named(event)
        .into_iter()
        .find(|c| !listed.contains(*c))
    {
        None => Ok(()),
        Some(code) => Err(ContentError::UnlistedCounty {
            code: code.chars().take(20).collect(),
        }),
    }
}

/// Checks that `author` may write in `origin`'s feeds: the origin's node itself, its staff,
/// or (for the province, which writes what partners report through it) a partner.
pub fn author(author: &str, origin: &str) -> Result<(), ContentError> {
    let unit = origin_unit(origin)?;
    let ok = match Identity::from_path(author) {
        Ok(Identity::County(c)) | Ok(Identity::Province(c)) => c == unit,
        Ok(Identity::Staff { unit: u, .. }) => u == unit,
        Ok(Identity::Partner(_)) => !unit.is_county(),
        // A monitoring system feeds intake; what it found enters a feed only when a person
        // promotes it, as that person.
        Ok(Identity::Intake { .. }) | Err(_) => false,
    };
    if ok {
        Ok(())
    } else {
        Err(ContentError::Author {
            author: author.chars().take(80).collect(),
            origin: origin.to_owned(),
        })
    }
}

/// Checks a payload's size for its event.
pub fn payload_size(size: usize, event: &Event) -> Result<(), ContentError> {
    let (max, kind) = max_payload(event);
    if size > max {
        return Err(ContentError::TooLarge { size, max, kind });
    }
    Ok(())
}

/// Checks one received entry of `origin`'s feed, given the timestamp of the entry before it
/// (`None` when not known) and the receiver's clock: size before anything is decoded, the
/// author, the timestamp, then the event itself. Returns the event.
pub fn entry(entry: &Entry, previous_ms: Option<i64>, now_ms: i64) -> Result<Event, ContentError> {
    if entry.payload.len() > MAX_EVIDENCE_PAYLOAD.max(MAX_SNAPSHOT_PAYLOAD) {
        return Err(ContentError::TooLarge {
            size: entry.payload.len(),
            max: MAX_EVIDENCE_PAYLOAD.max(MAX_SNAPSHOT_PAYLOAD),
            kind: "any entry",
        });
    }
    author(&entry.author, &entry.origin)?;
    if entry.timestamp_ms > now_ms.saturating_add(MAX_CLOCK_SKEW_MS) {
        return Err(ContentError::FromTheFuture {
            at_ms: entry.timestamp_ms,
            ahead_s: (entry.timestamp_ms - now_ms) / 1000,
        });
    }
    if let Some(previous_ms) = previous_ms.filter(|p| entry.timestamp_ms < *p) {
        return Err(ContentError::BeforePrevious {
            at_ms: entry.timestamp_ms,
            previous_ms,
        });
    }
    let decoded = Event::decode(&entry.payload).map_err(|e| match e {
        PayloadError::Decode(_) | PayloadError::Version(_) => ContentError::Payload(e.to_string()),
    })?;
    payload_size(entry.payload.len(), &decoded)?;
    event(&decoded, &entry.origin, entry.timestamp_ms)?;
    Ok(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FocusPoint;
    use crate::feed::entry::next_entry;
    use crate::feed::FeedId;

    fn created(id: &str, title: &str) -> Event {
        Event::RiskCreated {
            id: id.into(),
            title: title.into(),
            description: String::new(),
            focus: FocusPoint::MajorEvent,
            source: String::new(),
            behaviours: vec![],
            department: String::new(),
        }
    }

    fn entry_of(origin: &str, author: &str, at: i64, event: &Event) -> Entry {
        let feed = FeedId::new(origin, Audience::Province);
        next_entry(&feed, 0, &[0; 32], at, author, event.encode())
    }

    #[test]
    fn a_valid_entry_passes_and_returns_its_event() {
        let e = created("510104-1", "Crowd outside the township office");
        let got = entry(
            &entry_of("county/510104", "staff/510104/zhang", 1_000, &e),
            Some(900),
            1_000,
        )
        .unwrap();
        assert_eq!(got, e);
    }

    #[test]
    fn oversized_fields_and_payloads_are_refused() {
        let long = "长".repeat(MAX_TITLE + 1);
        let err = event(&created("510104-1", &long), "county/510104", 0).unwrap_err();
        assert!(err.to_string().starts_with("title:"), "{err}");
        let huge = "x".repeat(5 << 20);
        let e = entry_of(
            "county/510104",
            "county/510104",
            0,
            &created("510104-1", &huge),
        );
        assert!(matches!(
            entry(&e, None, 0),
            Err(ContentError::TooLarge { .. })
        ));
    }

    #[test]
    fn a_partner_declaration_says_what_it_handles_in_one_short_line() {
        let declared = |handles: &str| Event::PartnerDeclared {
            name: "weibo".into(),
            display_name: "新浪微博".into(),
            disabled: false,
            handles: handles.into(),
        };
        // Under today's rules (entries written before them were checked more loosely).
        let now = crate::timespec::now_ms();
        event(&declared("微博帖子、评论与账号"), "province/51", now).unwrap();
        event(&declared(""), "province/51", now).unwrap();
        for bad in [
            "x".repeat(crate::domain::disposal::MAX_HANDLES_CHARS + 1),
            "posts\ncomments".to_owned(),
            "posts \u{202e}stnemmoc".to_owned(),
        ] {
            let err = event(&declared(&bad), "province/51", now).unwrap_err();
            assert!(err.to_string().starts_with("handles"), "{err}");
        }
        assert!(event(&declared("posts"), "county/510104", now).is_err());
    }

    #[test]
    fn authors_act_for_the_origin_only() {
        author("staff/510104/zhang", "county/510104").unwrap();
        author("county/510104", "county/510104").unwrap();
        author("partner/weibo", "province/51").unwrap();
        for (a, o) in [
            ("staff/51/wang", "county/510104"),
            ("staff/510105/li", "county/510104"),
            ("county/510105", "county/510104"),
            ("partner/weibo", "county/510104"),
            ("<b>x</b>", "county/510104"),
        ] {
            assert!(author(a, o).is_err(), "{a} for {o}");
        }
    }

    #[test]
    fn timestamps_in_the_future_or_before_the_previous_entry_are_refused() {
        let e = created("510104-1", "t");
        let year_2100 = 4_102_444_800_000;
        let at = |ts| entry_of("county/510104", "county/510104", ts, &e);
        assert!(matches!(
            entry(&at(year_2100), None, 1_000_000),
            Err(ContentError::FromTheFuture { .. })
        ));
        // Within the skew is fine.
        entry(&at(1_000_000 + MAX_CLOCK_SKEW_MS), None, 1_000_000).unwrap();
        assert!(matches!(
            entry(&at(500), Some(600), 1_000),
            Err(ContentError::BeforePrevious { .. })
        ));
    }

    #[test]
    fn a_listed_certificate_whose_unit_name_has_control_characters_is_refused() {
        use base64::Engine;
        // Only the name matters here (the CA's signature is checked elsewhere).
        let listed = |name: &str| {
            let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            p.subject_alt_names = vec![rcgen::SanType::URI(
                "fenghuo://county/510104".try_into().unwrap(),
            )];
            p.distinguished_name.push(
                rcgen::DnType::OrganizationName,
                rcgen::DnValue::Utf8String(name.into()),
            );
            let key = rcgen::KeyPair::generate().unwrap();
            let der = p.self_signed(&key).unwrap().der().to_vec();
            Event::CertificateListed {
                certificate: base64::engine::general_purpose::STANDARD.encode(der),
            }
        };
        event(&listed("锦江区"), "province/51", 0).unwrap();
        for bad in [
            "锦江\u{1b}[31m区",
            "锦江\n区",
            "\u{202e}区江锦",
            &"区".repeat(41),
        ] {
            let e = event(&listed(bad), "province/51", 0).unwrap_err();
            assert!(e.to_string().contains("unit name"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn codes_ids_and_roles_are_checked() {
        let declare = |n: &[&str]| Event::NeighboursDeclared {
            neighbours: n.iter().map(|s| s.to_string()).collect(),
        };
        event(&declare(&["510105", "510107"]), "county/510104", 0).unwrap();
        for bad in [
            &["<b>not-a-code</b>"][..],
            &["110101"],
            &["510104"],
            &["5101"],
        ] {
            assert!(event(&declare(bad), "county/510104", 0).is_err(), "{bad:?}");
        }
        // Another unit's id, a directive from a county.
        assert!(event(&created("510105-1", "t"), "county/510104", 0).is_err());
        let directive = Event::DirectiveIssued {
            id: "510104-d1".into(),
            kind: crate::domain::directive::DirectiveKind::Directive,
            text: "Report by Friday".into(),
            deadline_ms: 10_000,
            targets: vec![],
        };
        assert!(matches!(
            event(&directive, "county/510104", 0),
            Err(ContentError::NotAllowed { .. })
        ));
        let from_province = Event::DirectiveIssued {
            id: "51-d1".into(),
            kind: crate::domain::directive::DirectiveKind::Directive,
            text: "Report by Friday".into(),
            deadline_ms: 10_000,
            targets: vec!["510104".into()],
        };
        event(&from_province, "province/51", 0).unwrap();
        assert!(event(&from_province, "province/51", 20_000).is_err());
    }

    #[test]
    fn evidence_names_are_file_names() {
        let content = b"screenshot";
        let file = |name: &str| crate::event::EvidenceFile {
            name: name.into(),
            sha256: hex::encode(Sha256::digest(content)),
            size: content.len() as u64,
            content: base64::engine::general_purpose::STANDARD.encode(content),
        };
        let filed = |name: &str| Event::DisposalFiled {
            id: "510104-x1".into(),
            partner: "weibo".into(),
            urls: vec!["https://video.example/v/1".into()],
            action: crate::domain::disposal::Action::TakeDown,
            reason: "Rumour".into(),
            legal_basis: "Art. 12".into(),
            deadline_ms: 10_000,
            evidence: vec![file(name)],
            risk: None,
        };
        event(&filed("screen.png"), "county/510104", 0).unwrap();
        for bad in [
            "../../etc/passwd",
            "a/b.png",
            "a\\b.png",
            "..",
            &"x".repeat(256),
        ] {
            assert!(event(&filed(bad), "county/510104", 0).is_err(), "{bad}");
        }
    }

    #[test]
    fn entries_written_before_the_text_rule_are_held_to_the_rules_of_their_time() {
        let before = RULES_OF_ISSUE_15_MS - 1;
        let after = RULES_OF_ISSUE_15_MS;
        // A tab or a bidi mark in a title: earlier builds took it, this one refuses it.
        for title in ["Two\tcolumns", "Mark\u{200f}ed", "Over\u{202e}ride"] {
            let e = created("510104-1", title);
            let old = entry_of("county/510104", "staff/510104/zhang", before, &e);
            entry(&old, None, after).unwrap();
            let new = entry_of("county/510104", "staff/510104/zhang", after, &e);
            assert!(entry(&new, None, after).is_err(), "{title:?}");
        }
        // ESC was refused then too.
        let e = created("510104-1", "a\u{1b}[2J");
        let old = entry_of("county/510104", "staff/510104/zhang", before, &e);
        assert!(entry(&old, None, after).is_err());
        // A disposal deadline 200 days ahead: within the 400 days of then, not the 90 of now.
        let day = 24 * 3600 * 1000;
        let filed = |at: i64| Event::DisposalFiled {
            id: "510104-x1".into(),
            partner: "weibo".into(),
            urls: vec!["https://video.example/v/1".into()],
            action: crate::domain::disposal::Action::TakeDown,
            reason: "Rumour".into(),
            legal_basis: "Art. 12".into(),
            deadline_ms: at + 200 * day,
            evidence: vec![],
            risk: None,
        };
        event(&filed(before), "county/510104", before).unwrap();
        let err = event(&filed(after), "county/510104", after).unwrap_err();
        assert!(err.to_string().contains("90 days"), "{err}");
    }

    #[test]
    fn control_characters_and_untrimmed_text_are_refused() {
        assert!(text("title", "a\u{1b}[31mred", 100).is_err());
        assert!(text("title", " padded", 100).is_err());
        text("description", "line one\nline two", 100).unwrap();
    }

    #[test]
    fn the_error_names_the_field_the_code_point_and_the_position() {
        let err = line("title", "ab\u{1b}[2J", 100).unwrap_err().to_string();
        assert!(
            err.starts_with("title: contains a control character (U+001B) at position 3"),
            "{err}"
        );
        let err = line("title", "报告\u{202e}txt.exe", 100)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("U+202E") && err.contains("position 3"),
            "{err}"
        );
    }

    #[test]
    fn one_line_and_multi_line_fields_hold_what_they_should() {
        let refused_everywhere = [
            '\u{0}', '\u{7}', '\u{1b}', '\u{7f}', '\u{80}', '\u{85}', '\u{9b}', '\u{9f}',
            '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}', '\u{200e}', '\u{200f}', '\u{61c}',
        ];
        for c in refused_everywhere {
            let v = format!("a{c}b");
            assert!(line("title", &v, 100).is_err(), "{:04X}", c as u32);
            assert!(text("description", &v, 100).is_err(), "{:04X}", c as u32);
        }
        for c in ['\n', '\t', '\r'] {
            let v = format!("a{c}b");
            assert!(line("title", &v, 100).is_err(), "{:04X}", c as u32);
            text("description", &v, 100).unwrap();
        }
        // Chinese, other scripts, emoji, the zero-width joiner emoji need: all fine.
        line("title", "锦江区 · Жара ✓ 👩‍👩‍👧 ئۇيغۇرچە", 100).unwrap();
    }

    #[test]
    fn typed_text_is_trimmed_with_line_ends_as_line_feeds() {
        assert_eq!(
            typed("description", " one\r\ntwo\rthree ", 100, Lines::Many).unwrap(),
            "one\ntwo\nthree"
        );
        assert!(typed("title", "one\r\ntwo", 100, Lines::One).is_err());
    }

    /// What a peer sends of the new register operations passes the checks local input does:
    /// a note or reason over [`MAX_NOTE`], an override without its reason (or at the computed
    /// level), a cancellation or a closing without its why are refused on receipt.
    #[test]
    fn received_notes_overrides_and_closings_are_held_to_the_local_limits() {
        use crate::domain::risk::Closure;
        use crate::domain::{Level, MeasureStatus, Scores};
        let at = RULES_OF_ISSUE_15_MS + 1_000;
        let received = |e: &Event| {
            entry(
                &entry_of("county/510104", "staff/510104/zhang", at, e),
                None,
                at,
            )
        };
        let long = "长".repeat(MAX_NOTE + 1);
        let graded = |set: Option<Level>, reason: &str, note: Option<&str>| Event::RiskGraded {
            id: "510104-1".into(),
            scores: Scores {
                influence: 3,
                attention: 3,
                diffusion: 3,
            },
            level: Level::III,
            standard_version: "2025-1".into(),
            override_level: set,
            reason: reason.into(),
            note: note.map(Into::into),
        };
        received(&graded(Some(Level::II), "两地同时发生", Some("转发上升"))).unwrap();
        for (bad, field) in [
            (graded(Some(Level::II), "", None), "reason:"),
            (graded(Some(Level::II), &long, None), "reason:"),
            (graded(Some(Level::III), "same as computed", None), "level:"),
            (graded(None, "a reason for nothing", None), "reason:"),
            (graded(None, "", Some(&long)), "note:"),
            (graded(None, "", Some("")), "note:"),
            (
                Event::RiskNoted {
                    id: "510104-1".into(),
                    note: long.clone(),
                },
                "note:",
            ),
            (
                Event::MeasureUpdated {
                    id: "510104-1".into(),
                    measure_id: "m1".into(),
                    status: MeasureStatus::Cancelled,
                    note: String::new(),
                },
                "reason:",
            ),
            (
                Event::MeasureUpdated {
                    id: "510104-1".into(),
                    measure_id: "m1".into(),
                    status: MeasureStatus::Done,
                    note: long.clone(),
                },
                "note:",
            ),
            (
                Event::MeasureEdited {
                    id: "510104-1".into(),
                    measure_id: "m1".into(),
                    action: None,
                    owner: None,
                    due: Some("someday".into()),
                },
                "due:",
            ),
            (
                Event::MeasureEdited {
                    id: "510104-1".into(),
                    measure_id: "m1".into(),
                    action: None,
                    owner: None,
                    due: None,
                },
                "measure:",
            ),
            (
                Event::RiskClosed {
                    id: "510104-1".into(),
                    closure: Closure::RuledOut,
                    text: long.clone(),
                },
                "reason:",
            ),
            (
                Event::RiskClosed {
                    id: "510104-1".into(),
                    closure: Closure::Resolved,
                    text: String::new(),
                },
                "summary:",
            ),
        ] {
            let err = received(&bad).unwrap_err();
            assert!(err.to_string().starts_with(field), "{bad:?}: {err}");
            assert!(!err.is_transient(), "{err}");
        }
    }

    #[test]
    fn received_entries_with_refused_characters_are_refused() {
        let e = created("510104-1", "\u{202e}evil");
        let at = RULES_OF_ISSUE_15_MS + 1_000;
        let err = entry(
            &entry_of("county/510104", "county/510104", at, &e),
            None,
            at,
        )
        .unwrap_err();
        assert!(err.to_string().contains("U+202E"), "{err}");
        assert!(!err.is_transient());
    }
}

#[cfg(test)]
mod intake_counts_tests {
    use super::*;
    use crate::event::IntakeCounts;

    fn counted(c: IntakeCounts) -> Event {
        Event::IntakeCounted { counts: c }
    }

    #[test]
    fn intake_figures_are_a_countys_and_add_up() {
        let ok = IntakeCounts {
            days: 30,
            from_ms: 1_000,
            to_ms: 2_000,
            risks: 10,
            risks_from_intake: 4,
            contested: 3,
            found_first: 2,
            lead_median_ms: 60_000,
            triage_median_ms: 5_000,
            ..IntakeCounts::default()
        };
        event(&counted(ok.clone()), "county/510104", 2_000).unwrap();
        assert!(matches!(
            event(&counted(ok.clone()), "province/51", 2_000),
            Err(ContentError::NotAllowed { .. })
        ));
        for bad in [
            IntakeCounts {
                risks_from_intake: 11,
                ..ok.clone()
            },
            IntakeCounts {
                contested: 11,
                ..ok.clone()
            },
            IntakeCounts {
                found_first: 4,
                ..ok.clone()
            },
            IntakeCounts {
                lead_median_ms: -1,
                ..ok.clone()
            },
            IntakeCounts {
                days: 0,
                ..ok.clone()
            },
            IntakeCounts {
                from_ms: 3_000,
                ..ok.clone()
            },
            IntakeCounts {
                to_ms: 2_000 + MAX_CLOCK_SKEW_MS + 1,
                ..ok.clone()
            },
        ] {
            assert!(
                event(&counted(bad.clone()), "county/510104", 2_000).is_err(),
                "{bad:?}"
            );
        }
    }
}
