//! The duty roster (值班表): the people a unit's notifications reach, each with the channels
//! that reach them, an optional schedule (none: on duty at all times) and whether they are a
//! leader to escalate to. Tree `notify_roster`: name → JSON [`Person`].

use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::schedule::Schedule;
use super::{check_name, corrupt, invalid, NotifyError};
use crate::store::{Batch, Store};

/// The roster's tree.
pub const ROSTER_TREE: &str = "notify_roster";

/// One person on the roster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Their name on the roster (a sign-in name if they have an account).
    pub name: String,
    /// Their name as colleagues write it (林晓); may be empty.
    #[serde(default)]
    pub display_name: String,
    /// The channels that reach them, by name, in the order tried.
    pub channels: Vec<String>,
    /// When they are on duty; `None`: at all times.
    #[serde(default)]
    pub schedule: Option<Schedule>,
    /// A leader (分管领导) is escalated to when nobody on duty acknowledges.
    #[serde(default)]
    pub leader: bool,
    /// Who put them on the roster (a certificate identity or an account).
    #[serde(default)]
    pub added_by: String,
    /// When, Unix ms.
    #[serde(default)]
    pub added_at_ms: i64,
}

impl Person {
    /// Whether they are on duty at `at_ms` in `zone`.
    pub fn on_duty(&self, at_ms: i64, zone: &TimeZone) -> bool {
        self.schedule.as_ref().is_none_or(|s| s.covers(at_ms, zone))
    }
}

/// A person to put on the roster, as given.
#[derive(Debug, Clone, Default)]
pub struct NewPerson {
    /// Roster name.
    pub name: String,
    /// Name as colleagues write it.
    pub display_name: String,
    /// Channel names; each must exist.
    pub channels: Vec<String>,
    /// Schedule text; empty: at all times.
    pub schedule: String,
    /// A leader to escalate to.
    pub leader: bool,
    /// Replace an existing entry.
    pub replace: bool,
    /// Who asks.
    pub by: String,
}

/// Checks `new` and puts it on the roster; the channels must exist (`channel_exists`).
pub fn add(
    store: &dyn Store,
    new: NewPerson,
    now_ms: i64,
    channel_exists: impl Fn(&str) -> Result<bool, NotifyError>,
) -> Result<Person, NotifyError> {
    let name = new.name.trim().to_owned();
    check_name("person", &name)?;
    let display_name = new.display_name.trim().to_owned();
    if display_name.chars().count() > 64 || display_name.contains(['\n', '\r']) {
        return Err(invalid("display name", "one line, at most 64 characters"));
    }
    if new.channels.is_empty() {
        return Err(invalid(
            "channel",
            "give at least one channel that reaches them (fenghuo notify channel add)",
        ));
    }
    for c in &new.channels {
        if !channel_exists(c)? {
            return Err(invalid(
                "channel",
                format!("no channel named {c:?}: add it first with fenghuo notify channel add"),
            ));
        }
    }
    let schedule = match new.schedule.trim() {
        "" => None,
        text => Some(Schedule::parse(text).map_err(|e| invalid("schedule", e.to_string()))?),
    };
    if !new.replace && get(store, &name)?.is_some() {
        return Err(NotifyError::Exists {
            what: "person",
            name,
        });
    }
    let person = Person {
        name,
        display_name,
        channels: new.channels,
        schedule,
        leader: new.leader,
        added_by: new.by,
        added_at_ms: now_ms,
    };
    let v = serde_json::to_vec(&person).map_err(|e| corrupt("person", e))?;
    let mut batch = Batch::new();
    batch.insert(ROSTER_TREE, person.name.as_bytes().to_vec(), v);
    store.commit(&batch)?;
    Ok(person)
}

/// The person `name`, if on the roster.
pub fn get(store: &dyn Store, name: &str) -> Result<Option<Person>, NotifyError> {
    store
        .get(ROSTER_TREE, name.as_bytes())?
        .map(|v| serde_json::from_slice(&v).map_err(|e| corrupt("person", e).into()))
        .transpose()
}

/// Everyone on the roster, by name.
pub fn list(store: &dyn Store) -> Result<Vec<Person>, NotifyError> {
    store
        .scan_prefix(ROSTER_TREE, &[])
        .map(|kv| {
            let (_, v) = kv?;
            serde_json::from_slice(&v).map_err(|e| corrupt("person", e).into())
        })
        .collect()
}

/// Takes `name` off the roster.
pub fn remove(store: &dyn Store, name: &str) -> Result<Person, NotifyError> {
    let person = get(store, name)?.ok_or_else(|| NotifyError::NotFound {
        what: "person",
        name: name.to_owned(),
    })?;
    let mut batch = Batch::new();
    batch.remove(ROSTER_TREE, name.as_bytes().to_vec());
    store.commit(&batch)?;
    Ok(person)
}

/// Who is on duty at `at_ms` in `zone`: leaders are not among them unless their schedule
/// says so (they are escalated to); with nobody else on duty, the leaders.
pub fn on_duty(store: &dyn Store, at_ms: i64, zone: &TimeZone) -> Result<Vec<Person>, NotifyError> {
    let all = list(store)?;
    let duty: Vec<Person> = all
        .iter()
        .filter(|p| !p.leader && p.on_duty(at_ms, zone))
        .cloned()
        .collect();
    if !duty.is_empty() {
        return Ok(duty);
    }
    Ok(all.into_iter().filter(|p| p.leader).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SledStore;

    fn person(name: &str, schedule: &str, leader: bool) -> NewPerson {
        NewPerson {
            name: name.into(),
            channels: vec!["mail".into()],
            schedule: schedule.into(),
            leader,
            ..Default::default()
        }
    }

    #[test]
    fn on_duty_follows_schedules_and_falls_back_to_the_leaders() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let ok = |_: &str| Ok(true);
        add(&store, person("day", "mon-fri 08:30-17:30", false), 0, ok).unwrap();
        add(&store, person("night", "daily 17:30-08:30", false), 0, ok).unwrap();
        add(&store, person("chief", "", true), 0, ok).unwrap();
        let zone = TimeZone::get("Asia/Shanghai").unwrap();
        let at = |s: &str| {
            s.parse::<jiff::civil::DateTime>()
                .unwrap()
                .to_zoned(zone.clone())
                .unwrap()
                .timestamp()
                .as_millisecond()
        };
        let names = |ms| -> Vec<String> {
            on_duty(&store, ms, &zone)
                .unwrap()
                .into_iter()
                .map(|p| p.name)
                .collect()
        };
        assert_eq!(names(at("2026-12-07T10:00")), ["day"]);
        assert_eq!(names(at("2026-12-07T23:00")), ["night"]);
        remove(&store, "night").unwrap();
        assert_eq!(names(at("2026-12-07T23:00")), ["chief"]);
    }

    #[test]
    fn refusals_name_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let field = |r: Result<Person, NotifyError>| match r {
            Err(NotifyError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(add(&store, person("林晓", "", false), 0, |_| Ok(true))),
            "person"
        );
        assert_eq!(
            field(add(&store, person("lin", "", false), 0, |_| Ok(false))),
            "channel"
        );
        assert_eq!(
            field(add(&store, person("lin", "someday", false), 0, |_| Ok(
                true
            ))),
            "schedule"
        );
        add(&store, person("lin", "", false), 0, |_| Ok(true)).unwrap();
        assert!(matches!(
            add(&store, person("lin", "", false), 0, |_| Ok(true)),
            Err(NotifyError::Exists { .. })
        ));
        assert!(matches!(
            remove(&store, "nobody"),
            Err(NotifyError::NotFound { .. })
        ));
    }
}
