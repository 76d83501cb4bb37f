//! Times and durations as people write and read them: `30m`, `6h`, `2d`, or an RFC 3339 time;
//! printed as RFC 3339 in UTC with milliseconds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Now, Unix ms.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Unix milliseconds as RFC 3339 in UTC with exactly three fractional digits, so the
/// strings sort as the times do.
pub fn format_ms(ms: i64) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// A time to the minute (`2026-05-01 09:30`, UTC), for tables in the CLI and on web pages.
pub fn short_time(ms: i64) -> String {
    let t = format_ms(ms);
    t.get(..16).map(|s| s.replace('T', " ")).unwrap_or(t)
}

/// The calendar date (`YYYY-MM-DD`) of `ms` where the node's people are. Fixed at UTC+08:00
/// (China Standard Time) until the display zone becomes configurable (issue 17).
pub fn local_date(ms: i64) -> String {
    const OFFSET_MS: i64 = 8 * 3_600_000;
    let t = format_ms(ms.saturating_add(OFFSET_MS));
    t.get(..10).map(str::to_owned).unwrap_or(t)
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

/// A point in time, Unix ms: a duration from `now_ms` (`24h`) or an RFC 3339 time
/// (`2026-11-26T18:00:00+08:00`).
pub fn parse_time(s: &str, now_ms: i64) -> Result<i64, String> {
    if let Ok(d) = parse_duration(s) {
        return Ok(now_ms.saturating_add(d.as_millis() as i64));
    }
    OffsetDateTime::parse(s.trim(), &Rfc3339)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .map_err(|_| {
            format!("{s:?} is neither a duration from now (24h, 30m, 2d) nor an RFC 3339 time (2026-11-26T18:00:00+08:00)")
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
        assert_eq!(short_time(61_500), "1970-01-01 00:01");
        // 23:30 UTC is already the next day in China.
        assert_eq!(local_date(23 * 3_600_000 + 1_800_000), "1970-01-02");
    }
}
