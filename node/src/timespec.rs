//! Times and durations as people write and read them: `30m`, `6h`, `2d`, an RFC 3339 time or
//! a local `2026-12-07 11:36`; stored in UTC, printed for machines as RFC 3339 in UTC with
//! milliseconds ([`format_ms`]) and for people in the display zone with its offset
//! ([`short_time`]: `2026-12-07 11:36 +08:00`).
//!
//! The display zone is process-wide: the binaries set it once at start (`fenghuo-node` from
//! its config, `fenghuo` from `--time-zone` / `FENGHUO_TIME_ZONE`); until then, and in tests,
//! it is [`DEFAULT_ZONE`]. It only changes how times are shown and which calendar day a time
//! falls on, never what is stored.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jiff::tz::TimeZone;
use jiff::Timestamp;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The display zone when none is configured: China Standard Time, where Fenghuo's users are.
pub const DEFAULT_ZONE: &str = "Asia/Shanghai";

/// Milliseconds in a day (of UTC; local days are counted with [`local_day`]).
const DAY_MS: i64 = 86_400_000;

/// The zone set by [`set_display_zone`].
static DISPLAY_ZONE: OnceLock<TimeZone> = OnceLock::new();

/// A zone name the tz database does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown time zone {name:?}: use an IANA name such as Asia/Shanghai or Asia/Urumqi")]
pub struct UnknownZone {
    /// The name given.
    pub name: String,
}

/// The zone called `name` (IANA, e.g. `Asia/Shanghai`; `UTC`), from the system's tz database
/// or the copy bundled in the binary.
pub fn zone_named(name: &str) -> Result<TimeZone, UnknownZone> {
    TimeZone::get(name.trim()).map_err(|_| UnknownZone {
        name: name.to_owned(),
    })
}

/// Sets the process's display zone; the first call wins (binaries call it once, at start).
/// Returns false when a zone was set already.
pub fn set_display_zone(zone: TimeZone) -> bool {
    DISPLAY_ZONE.set(zone).is_ok()
}

/// The display zone: the one set at start, else [`DEFAULT_ZONE`] (fixed UTC+08:00 should
/// even the bundled database lack it, which it does not).
pub fn display_zone() -> &'static TimeZone {
    DISPLAY_ZONE.get_or_init(|| {
        zone_named(DEFAULT_ZONE).unwrap_or_else(|_| TimeZone::fixed(jiff::tz::offset(8)))
    })
}

/// Now, Unix ms.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Unix milliseconds as RFC 3339 in UTC with exactly three fractional digits, so the
/// strings sort as the times do. For machines (JSON, wire fields, exports' machine columns);
/// people get [`short_time`].
pub fn format_ms(ms: i64) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// `ms` as a timestamp (clamped into jiff's range, which spans ±9999 years).
fn timestamp(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// A time to the minute in `zone` with its offset: `2026-12-07 11:36 +08:00`.
pub fn short_time_in(ms: i64, zone: &TimeZone) -> String {
    timestamp(ms)
        .to_zoned(zone.clone())
        .strftime("%Y-%m-%d %H:%M %:z")
        .to_string()
}

/// A time to the minute in the display zone with its offset (`2026-12-07 11:36 +08:00`), for
/// tables in the CLI and on web pages.
pub fn short_time(ms: i64) -> String {
    short_time_in(ms, display_zone())
}

/// A time to the second in the display zone with its offset (`2026-12-07 11:36:05 +08:00`),
/// where people read one time on its own line (the CLI's alarms, detail views).
pub fn long_time(ms: i64) -> String {
    timestamp(ms)
        .to_zoned(display_zone().clone())
        .strftime("%Y-%m-%d %H:%M:%S %:z")
        .to_string()
}

/// The local day number of `ms` in `zone`: days since 1970-01-01 of the calendar date there.
pub fn local_day_in(ms: i64, zone: &TimeZone) -> i64 {
    let offset_ms = i64::from(zone.to_offset(timestamp(ms)).seconds()) * 1000;
    ms.saturating_add(offset_ms).div_euclid(DAY_MS)
}

/// The local day number of `ms` in the display zone (see [`local_day_in`]): per-day counts
/// and day boundaries follow it.
pub fn local_day(ms: i64) -> i64 {
    local_day_in(ms, display_zone())
}

/// A day number of [`local_day`] as its date, `YYYY-MM-DD`.
pub fn day_text(day: i64) -> String {
    format_ms(day.saturating_mul(DAY_MS))
        .get(..10)
        .unwrap_or_default()
        .to_owned()
}

/// The calendar date (`YYYY-MM-DD`) of `ms` in the display zone: due dates are local dates.
pub fn local_date(ms: i64) -> String {
    day_text(local_day(ms))
}

/// Today's date where the node's people are ([`local_date`] of now): due dates are compared
/// with it.
pub fn today() -> String {
    local_date(now_ms())
}

/// A duration written `90s`, `30m`, `6h` or `2d`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let bad = || {
        format!(
            "{s:?} is not a duration: write a whole number with s, m, h or d (e.g. 30m, 24h, 2d)"
        )
    };
    let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60).ok_or_else(bad)?,
        "h" => n.checked_mul(3600).ok_or_else(bad)?,
        "d" => n.checked_mul(86_400).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    Ok(Duration::from_secs(secs))
}

/// A point in time, Unix ms: a duration from `now_ms` (`24h`), an RFC 3339 time
/// (`2026-11-26T18:00:00+08:00`), or a local time in the display zone (`2026-11-26 18:00`,
/// seconds optional).
pub fn parse_time(s: &str, now_ms: i64) -> Result<i64, String> {
    parse_time_in(s, now_ms, display_zone())
}

/// [`parse_time`] with local times read in `zone`.
pub fn parse_time_in(s: &str, now_ms: i64, zone: &TimeZone) -> Result<i64, String> {
    if let Ok(d) = parse_duration(s) {
        return Ok(now_ms.saturating_add(d.as_millis() as i64));
    }
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok((t.unix_timestamp_nanos() / 1_000_000) as i64);
    }
    // A wall-clock time without an offset: read in the zone (a time skipped or repeated by a
    // clock change takes the earlier offset, jiff's "compatible" rule).
    ["%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|f| jiff::civil::DateTime::strptime(f, s).ok())
        .and_then(|dt| zone.to_zoned(dt).ok())
        .map(|z| z.timestamp().as_millisecond())
        .ok_or_else(|| {
            format!("{s:?} is neither a duration from now (24h, 30m, 2d), a local time (2026-11-26 18:00) nor an RFC 3339 time (2026-11-26T18:00:00+08:00)")
        })
}

/// [`parse_time`] from the present moment: what a command-line option takes.
pub fn parse_time_from_now(s: &str) -> Result<i64, String> {
    parse_time(s, now_ms())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times() {
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        for bad in ["", "m", "5", "5 weeks", "-3h", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_time("1h", 1_000), Ok(3_601_000));
        assert_eq!(parse_time("1970-01-01T08:00:01+08:00", 0), Ok(1_000));
        assert!(parse_time("tomorrow", 0).unwrap_err().contains("RFC 3339"));
        assert_eq!(format_ms(1_500), "1970-01-01T00:00:01.500Z");
    }

    fn shanghai() -> TimeZone {
        zone_named("Asia/Shanghai").unwrap()
    }

    #[test]
    fn people_read_times_in_the_zone_with_its_offset() {
        // 2026-12-07 03:36 UTC is 11:36 in Beijing.
        let ms = 1_796_614_560_000;
        assert_eq!(format_ms(ms), "2026-12-07T03:36:00.000Z");
        assert_eq!(short_time_in(ms, &shanghai()), "2026-12-07 11:36 +08:00");
        assert_eq!(short_time_in(ms, &TimeZone::UTC), "2026-12-07 03:36 +00:00");
        let urumqi = zone_named("Asia/Urumqi").unwrap();
        assert_eq!(short_time_in(ms, &urumqi), "2026-12-07 09:36 +06:00");
        // The default display zone is China's.
        assert_eq!(short_time(ms), "2026-12-07 11:36 +08:00");
        assert_eq!(long_time(ms + 5_000), "2026-12-07 11:36:05 +08:00");
    }

    #[test]
    fn days_follow_the_local_calendar() {
        // 23:30 UTC is already the next day in China.
        let late = 23 * 3_600_000 + 1_800_000;
        assert_eq!(local_day_in(late, &shanghai()), 1);
        assert_eq!(local_day_in(late, &TimeZone::UTC), 0);
        assert_eq!(local_date(late), "1970-01-02");
        assert_eq!(day_text(1), "1970-01-02");
        // 07:00 in Beijing (23:00 UTC the evening before) counts on its own day.
        let morning = parse_time_in("2026-12-07 07:00", 0, &shanghai()).unwrap();
        assert_eq!(format_ms(morning), "2026-12-06T23:00:00.000Z");
        assert_eq!(day_text(local_day_in(morning, &shanghai())), "2026-12-07");
        // Before 1970 too.
        assert_eq!(local_day_in(-1, &TimeZone::UTC), -1);
    }

    #[test]
    fn local_times_are_read_in_the_zone() {
        let z = shanghai();
        let want = parse_time("2026-12-07T11:36:00+08:00", 0).unwrap();
        for s in [
            "2026-12-07 11:36",
            "2026-12-07 11:36:00",
            "2026-12-07T11:36",
        ] {
            assert_eq!(parse_time_in(s, 0, &z), Ok(want), "{s}");
        }
        assert_eq!(
            parse_time_in("2026-12-07 11:36", 0, &TimeZone::UTC),
            Ok(want + 8 * 3_600_000)
        );
        assert!(parse_time_in("2026-13-07 11:36", 0, &z).is_err());
        assert!(parse_time_in("07/12/2026", 0, &z)
            .unwrap_err()
            .contains("local time"));
    }

    #[test]
    fn an_unknown_zone_is_refused() {
        let e = zone_named("Asia/Beijing").unwrap_err();
        assert!(e.to_string().contains("Asia/Beijing"), "{e}");
        assert!(zone_named("Mars/Olympus").is_err());
        assert!(zone_named("UTC").is_ok());
        assert!(zone_named("Asia/Shanghai").is_ok());
    }
}
