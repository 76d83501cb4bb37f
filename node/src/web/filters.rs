//! The filters every view takes from its query string — time range, county, level, focus
//! point — checked once, carried on into links and exports.

use serde::Deserialize;

use super::lang::Lang;
use crate::domain::{FocusPoint, Level};
use crate::identity::DivisionCode;
use crate::overview;
use crate::timespec;

/// A day in milliseconds.
const DAY_MS: i64 = 86_400_000;
/// The range when none is given.
pub const DEFAULT_DAYS: i64 = 30;
/// The longest range a view takes.
pub const MAX_DAYS: i64 = 366;

/// The query string as sent (empty fields mean "any": what an untouched `<select>` sends).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RawFilters {
    county: Option<String>,
    level: Option<String>,
    focus: Option<String>,
    days: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// Checked filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// Only this county.
    pub county: Option<String>,
    /// Only this level.
    pub level: Option<Level>,
    /// Only this focus point.
    pub focus: Option<FocusPoint>,
    /// The range in days, when given as days.
    pub days: Option<i64>,
    /// From, Unix ms.
    pub from_ms: i64,
    /// The range was asked for (views of open items ignore the default range).
    pub explicit_range: bool,
    /// Until, Unix ms.
    pub to_ms: i64,
    /// `from` and `to` as sent (YYYY-MM-DD or RFC 3339), to fill the form again.
    from_text: Option<String>,
    to_text: Option<String>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// A date (`2026-11-01`, the whole day in UTC) or an RFC 3339 time, Unix ms; `end` picks
/// the end of a date's day.
fn parse_when(field: &str, s: &str, now: i64, end: bool) -> Result<i64, String> {
    if s.len() == 10 {
        // A date is a local day (the display zone's), from its first to its last millisecond.
        let t = if end {
            format!("{s} 23:59:59")
        } else {
            format!("{s} 00:00")
        };
        let ms = timespec::parse_time(&t, now).map_err(|_| match Lang::current() {
            Lang::Zh => format!("{field}：{s:?} 不是日期（YYYY-MM-DD）"),
            Lang::En => format!("{field}: {s:?} is not a date (YYYY-MM-DD)"),
        })?;
        return Ok(if end { ms + 999 } else { ms });
    }
    timespec::parse_time(s, now).map_err(|e| format!("{field}: {e}"))
}

impl RawFilters {
    /// Checks every field; the message (in the page's language) starts with the name of the
    /// one that is wrong.
    pub fn check(&self, now: i64) -> Result<Filters, String> {
        let lang = Lang::current();
        let county = given(&self.county)
            .map(|c| {
                DivisionCode::county(c)
                    .map(|c| c.to_string())
                    .map_err(|e| format!("county: {e}"))
            })
            .transpose()?;
        let level = given(&self.level)
            .map(|l| l.parse::<Level>().map_err(|e| format!("level: {e}")))
            .transpose()?;
        let focus = given(&self.focus)
            .map(|f| f.parse::<FocusPoint>().map_err(|e| format!("focus: {e}")))
            .transpose()?;
        let days = given(&self.days)
            .map(|d| match d.parse::<i64>() {
                Ok(n) if (1..=MAX_DAYS).contains(&n) => Ok(n),
                _ => Err(match lang {
                    Lang::Zh => format!("days：{d:?} 不是 1 到 {MAX_DAYS} 之间的整数"),
                    Lang::En => format!("days: {d:?} is not a whole number from 1 to {MAX_DAYS}"),
                }),
            })
            .transpose()?;
        let to_ms = given(&self.to)
            .map(|t| parse_when("to", t, now, true))
            .transpose()?
            .unwrap_or(now);
        let from_ms = match (given(&self.from), days) {
            (Some(f), _) => parse_when("from", f, now, false)?,
            (None, Some(d)) => to_ms - d * DAY_MS,
            (None, None) => to_ms - DEFAULT_DAYS * DAY_MS,
        };
        if from_ms > to_ms {
            return Err(lang
                .pick(
                    "from：起始日期须早于截止日期（to）",
                    "from: must be before to",
                )
                .into());
        }
        if to_ms - from_ms > MAX_DAYS * DAY_MS {
            return Err(match lang {
                Lang::Zh => format!("时间范围超过 {MAX_DAYS} 天"),
                Lang::En => format!("the range is longer than {MAX_DAYS} days"),
            });
        }
        Ok(Filters {
            county,
            level,
            focus,
            days: if given(&self.from).is_some() {
                None
            } else {
                Some(days.unwrap_or(DEFAULT_DAYS))
            },
            from_ms,
            to_ms,
            explicit_range: days.is_some()
                || given(&self.from).is_some()
                || given(&self.to).is_some(),
            from_text: given(&self.from).map(str::to_owned),
            to_text: given(&self.to).map(str::to_owned),
        })
    }
}

impl Filters {
    /// The overview's filter.
    pub fn overview(&self) -> overview::Filter {
        overview::Filter {
            county: self.county.clone(),
            level: self.level,
            focus: self.focus,
            from_ms: self.from_ms,
            to_ms: self.to_ms,
        }
    }

    /// True when `ms` is in the range.
    pub fn in_range(&self, ms: i64) -> bool {
        (self.from_ms..=self.to_ms).contains(&ms)
    }

    /// True when `ms` is in a range that was asked for (or none was).
    pub fn in_asked_range(&self, ms: i64) -> bool {
        !self.explicit_range || self.in_range(ms)
    }

    /// True when `county` passes (no county filter, or that county).
    pub fn county_ok(&self, county: &str) -> bool {
        self.county.as_deref().is_none_or(|c| c == county)
    }

    /// The filters as a query string (empty, or starting with `?`), for links and exports.
    pub fn query(&self) -> String {
        self.query_with(None)
    }

    /// [`Filters::query`] with the county replaced.
    pub fn query_with(&self, county: Option<&str>) -> String {
        let mut parts = Vec::new();
        if let Some(c) = county.or(self.county.as_deref()) {
            parts.push(format!("county={c}"));
        }
        if let Some(l) = self.level {
            parts.push(format!("level={l}"));
        }
        if let Some(f) = self.focus {
            parts.push(format!("focus={f}"));
        }
        if let Some(d) = self.days.filter(|d| *d != DEFAULT_DAYS) {
            parts.push(format!("days={d}"));
        }
        for (k, v) in [("from", &self.from_text), ("to", &self.to_text)] {
            if let Some(v) = v {
                parts.push(format!("{k}={}", encode(v)));
            }
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("?{}", parts.join("&"))
        }
    }

    /// `from` as sent, for the form.
    pub fn from_text(&self) -> &str {
        self.from_text.as_deref().unwrap_or_default()
    }

    /// `to` as sent, for the form.
    pub fn to_text(&self) -> &str {
        self.to_text.as_deref().unwrap_or_default()
    }
}

/// Percent-encodes what a query value may not hold as is.
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawFilters {
        let q = pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        serde_json::from_value(serde_json::Value::Object(
            url_pairs(&q)
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect(),
        ))
        .unwrap()
    }

    fn url_pairs(q: &str) -> Vec<(String, String)> {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    const NOW: i64 = 1_790_000_000_000;

    #[test]
    fn empty_fields_mean_any_and_the_default_range_is_30_days() {
        let f = raw(&[("county", ""), ("level", "")]).check(NOW).unwrap();
        assert_eq!(f.county, None);
        assert_eq!(f.to_ms - f.from_ms, 30 * DAY_MS);
        assert_eq!(f.query(), "");
    }

    #[test]
    fn fields_are_checked_and_carried_on() {
        let f = raw(&[
            ("county", "510104"),
            ("level", "II"),
            ("focus", "major-event"),
            ("days", "90"),
        ])
        .check(NOW)
        .unwrap();
        assert_eq!(f.level, Some(Level::II));
        assert_eq!(f.to_ms - f.from_ms, 90 * DAY_MS);
        assert_eq!(
            f.query(),
            "?county=510104&level=II&focus=major-event&days=90"
        );
        assert_eq!(
            f.query_with(Some("510105")),
            "?county=510105&level=II&focus=major-event&days=90"
        );
        let f = raw(&[("from", "2026-11-01"), ("to", "2026-11-02")])
            .check(NOW)
            .unwrap();
        assert_eq!(f.to_ms - f.from_ms, 2 * DAY_MS - 1);
        for (k, v, field) in [
            ("county", "51", "county"),
            ("level", "V", "level"),
            ("focus", "x", "focus"),
            ("days", "0", "days"),
            ("from", "yesterday", "from"),
        ] {
            let e = raw(&[(k, v)]).check(NOW).unwrap_err();
            assert!(e.starts_with(field), "{e}");
        }
        assert!(raw(&[("from", "2026-11-05"), ("to", "2026-11-01")])
            .check(NOW)
            .is_err());
    }
}
