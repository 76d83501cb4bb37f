//! When a person is on duty (值班时间): a weekly pattern of shifts in the unit's zone, with
//! extra shifts and days off on given dates.
//!
//! Written as clauses separated by `;`, each one of:
//! - `mon-fri 08:30-17:30`, `sat,sun 09:00-12:00`, `daily 18:00-08:30` (a shift that ends at
//!   or before it starts runs past midnight), with Chinese days too: `周一-周五`, `每天`;
//! - `2026-12-26 08:00-18:00`: an extra shift on that date;
//! - `off 2026-12-25` (or `不值班 2026-12-25`): no shift of the weekly pattern starts that day.
//!
//! A shift belongs to the day it starts on, so `off` cancels a night shift starting that
//! evening and leaves alone the one that started the evening before.

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Why a schedule was not understood; names the clause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("schedule clause {clause:?}: {reason}")]
pub struct ScheduleError {
    /// The clause as written.
    pub clause: String,
    /// What is wrong, and what is expected.
    pub reason: String,
}

/// A shift: from `start` to `end` minutes after midnight; `end <= start` runs past midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shift {
    start: u16,
    end: u16,
}

impl Shift {
    /// Minutes from the start of the day it starts on to its end.
    fn end_from_start_day(self) -> u16 {
        if self.end <= self.start {
            self.end + 24 * 60
        } else {
            self.end
        }
    }
}

/// A weekly pattern with dated exceptions, as written and as parsed. Stored as its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Schedule {
    /// The text it was parsed from (shown back to people).
    pub text: String,
    /// Shifts by weekday, Monday first.
    weekly: [Vec<Shift>; 7],
    /// Extra shifts on dates.
    extra: Vec<(Date, Shift)>,
    /// Days on which no weekly shift starts.
    off: Vec<Date>,
}

fn weekday_of(word: &str) -> Option<Weekday> {
    Some(match word {
        "mon" | "monday" | "周一" | "星期一" => Weekday::Monday,
        "tue" | "tuesday" | "周二" | "星期二" => Weekday::Tuesday,
        "wed" | "wednesday" | "周三" | "星期三" => Weekday::Wednesday,
        "thu" | "thursday" | "周四" | "星期四" => Weekday::Thursday,
        "fri" | "friday" | "周五" | "星期五" => Weekday::Friday,
        "sat" | "saturday" | "周六" | "星期六" => Weekday::Saturday,
        "sun" | "sunday" | "周日" | "周天" | "星期日" | "星期天" => Weekday::Sunday,
        _ => return None,
    })
}

fn day_index(d: Weekday) -> usize {
    usize::from(d.to_monday_zero_offset().unsigned_abs())
}

/// `mon-fri`, `sat,sun`, `daily` → the weekdays (Monday = 0).
fn days_of(spec: &str) -> Result<Vec<usize>, String> {
    if matches!(spec, "daily" | "every" | "每天" | "每日") {
        return Ok((0..7).collect());
    }
    let mut days = Vec::new();
    for part in spec.split([',', '，', '、']) {
        let unknown = || {
            format!("{part:?} is not a day: use mon…sun or 周一…周日, a range (mon-fri), a list (sat,sun) or daily (每天)")
        };
        match part.split_once(['-', '至', '~']) {
            Some((a, b)) => {
                let a = weekday_of(a.trim()).ok_or_else(unknown)?;
                let b = weekday_of(b.trim()).ok_or_else(unknown)?;
                let (a, b) = (day_index(a), day_index(b));
                let mut d = a;
                loop {
                    days.push(d);
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => days.push(day_index(weekday_of(part.trim()).ok_or_else(unknown)?)),
        }
    }
    Ok(days)
}

/// `08:30` → minutes after midnight; `24:00` is the end of the day.
fn minutes(s: &str) -> Result<u16, String> {
    let bad = || format!("{s:?} is not a time of day: write HH:MM, 00:00 to 24:00");
    let (h, m) = s.split_once([':', '：']).ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m > 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// `08:30-17:30` → a shift; `00:00-24:00` is the whole day.
fn shift_of(s: &str) -> Result<Shift, String> {
    let (a, b) = s
        .split_once(['-', '~', '至'])
        .ok_or_else(|| format!("{s:?} is not a shift: write HH:MM-HH:MM"))?;
    let (start, end) = (minutes(a.trim())?, minutes(b.trim())?);
    if start == 24 * 60 {
        return Err(format!("{s:?}: a shift starts before 24:00"));
    }
    if start == end {
        return Err(format!(
            "{s:?} is empty: a whole day is 00:00-24:00, and a shift that ends at or before it starts runs past midnight"
        ));
    }
    Ok(Shift { start, end })
}

fn date_of(s: &str) -> Result<Date, String> {
    s.parse::<Date>()
        .map_err(|_| format!("{s:?} is not a date: write YYYY-MM-DD"))
}

impl Schedule {
    /// Parses `text` (see the module's documentation).
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        let mut s = Schedule {
            text: text.trim().to_owned(),
            weekly: Default::default(),
            extra: Vec::new(),
            off: Vec::new(),
        };
        let mut any = false;
        for clause in text
            .split([';', '；'])
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            let fail = |reason: String| ScheduleError {
                clause: clause.to_owned(),
                reason,
            };
            let lower = clause.to_lowercase();
            let words: Vec<&str> = lower.split_whitespace().collect();
            match words.as_slice() {
                ["off" | "不值班" | "休息", date] => s.off.push(date_of(date).map_err(fail)?),
                [when, shift] if when.len() == 10 && when.as_bytes()[4] == b'-' => {
                    let date = date_of(when).map_err(fail)?;
                    s.extra.push((date, shift_of(shift).map_err(fail)?));
                }
                [days, shift] => {
                    let shift = shift_of(shift).map_err(fail)?;
                    for d in days_of(days).map_err(fail)? {
                        s.weekly[d].push(shift);
                    }
                }
                _ => {
                    return Err(fail(
                        "write days and a shift (mon-fri 08:30-17:30), a date and a shift (2026-12-26 08:00-18:00) or off and a date (off 2026-12-25)".into(),
                    ))
                }
            }
            any = true;
        }
        if !any {
            return Err(ScheduleError {
                clause: text.to_owned(),
                reason: "empty: give at least one shift (or no schedule, for on duty at all times)"
                    .into(),
            });
        }
        Ok(s)
    }

    /// The shifts starting on `date`.
    fn shifts_on(&self, date: Date) -> Vec<Shift> {
        let mut out = Vec::new();
        if !self.off.contains(&date) {
            out.extend_from_slice(&self.weekly[day_index(date.weekday())]);
        }
        out.extend(
            self.extra
                .iter()
                .filter(|(d, _)| *d == date)
                .map(|(_, s)| *s),
        );
        out
    }

    /// Whether a shift covers the instant `at_ms` (Unix ms) in `zone`.
    pub fn covers(&self, at_ms: i64, zone: &TimeZone) -> bool {
        let Ok(ts) = Timestamp::from_millisecond(at_ms) else {
            return false;
        };
        let local = ts.to_zoned(zone.clone()).datetime();
        let (date, time) = (local.date(), local.time());
        let now = minutes_of(time);
        let today = self
            .shifts_on(date)
            .into_iter()
            .any(|s| s.start <= now && now < s.end_from_start_day());
        let from_yesterday = date.yesterday().is_ok_and(|y| {
            self.shifts_on(y)
                .into_iter()
                .any(|s| s.end_from_start_day() > 24 * 60 && now + 24 * 60 < s.end_from_start_day())
        });
        today || from_yesterday
    }
}

impl TryFrom<String> for Schedule {
    type Error = ScheduleError;
    fn try_from(text: String) -> Result<Self, ScheduleError> {
        Self::parse(&text)
    }
}

impl From<Schedule> for String {
    fn from(s: Schedule) -> String {
        s.text
    }
}

fn minutes_of(t: Time) -> u16 {
    u16::try_from(t.hour()).unwrap_or(0) * 60 + u16::try_from(t.minute()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        // China time, as the default display zone.
        let dt: jiff::civil::DateTime = s.parse().unwrap();
        dt.to_zoned(TimeZone::get("Asia/Shanghai").unwrap())
            .unwrap()
            .timestamp()
            .as_millisecond()
    }

    fn china() -> TimeZone {
        TimeZone::get("Asia/Shanghai").unwrap()
    }

    #[test]
    fn weekday_office_hours() {
        let s = Schedule::parse("mon-fri 08:30-17:30").unwrap();
        // 2026-12-07 is a Monday.
        assert!(s.covers(at("2026-12-07T08:30"), &china()));
        assert!(s.covers(at("2026-12-11T17:29"), &china()));
        assert!(!s.covers(at("2026-12-11T17:30"), &china()));
        assert!(!s.covers(at("2026-12-12T10:00"), &china()));
        assert!(!s.covers(at("2026-12-07T08:29"), &china()));
    }

    #[test]
    fn night_shifts_run_past_midnight_and_belong_to_the_day_they_start() {
        let s = Schedule::parse("每天 18:00-08:30; off 2026-12-08").unwrap();
        assert!(s.covers(at("2026-12-07T23:00"), &china()));
        // The Monday night shift runs into Tuesday morning, though Tuesday is off…
        assert!(s.covers(at("2026-12-08T02:00"), &china()));
        // …but no shift starts on Tuesday evening.
        assert!(!s.covers(at("2026-12-08T20:00"), &china()));
        assert!(!s.covers(at("2026-12-09T02:00"), &china()));
        assert!(s.covers(at("2026-12-09T19:00"), &china()));
        assert!(!s.covers(at("2026-12-09T12:00"), &china()));
    }

    #[test]
    fn chinese_days_lists_and_extra_shifts() {
        let s = Schedule::parse("周六,周日 00:00-24:00；2026-12-09 09:00-12:00").unwrap();
        assert!(s.covers(at("2026-12-12T03:00"), &china()));
        assert!(s.covers(at("2026-12-13T23:59"), &china()));
        assert!(!s.covers(at("2026-12-14T00:00"), &china()));
        assert!(s.covers(at("2026-12-09T10:00"), &china()));
        assert!(!s.covers(at("2026-12-10T10:00"), &china()));
        // Shifts are in the zone given: 10:00 in Shanghai is 02:00 UTC.
        assert!(!s.covers(at("2026-12-09T10:00"), &TimeZone::UTC));
    }

    #[test]
    fn mistakes_name_the_clause() {
        for (text, clause) in [
            (
                "mon-fri 8:30-17:30; funday 09:00-10:00",
                "funday 09:00-10:00",
            ),
            ("mon 09:00-09:00", "mon 09:00-09:00"),
            ("mon 25:00-26:00", "mon 25:00-26:00"),
            ("off 2026-13-01", "off 2026-13-01"),
            ("mon-fri", "mon-fri"),
            ("  ", "  "),
        ] {
            let e = Schedule::parse(text).unwrap_err();
            assert_eq!(e.clause, clause, "{text}: {e}");
        }
    }
}
