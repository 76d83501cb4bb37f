//! How the CLI shows things: readable tables by default, JSON for scripts. Everything goes to
//! the terminal through [`print`] (the [`outln!`] macro): what came from data is shown with
//! its control and bidirectional characters escaped, and a reader that stops reading (`|
//! head`) ends the command quietly instead of a panic.

use std::io::Write as _;

use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use fenghuo_proto::v1;
use serde_json::{json, Value};

use crate::wire::{
    focus_from_proto, level_from_proto, measure_status_from_proto, status_from_proto,
};

/// `println!` for the CLI: formats, writes through [`print`], and returns the write error
/// with `?` (the command then ends; [`crate::cli::main`] ends quietly on a closed pipe).
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::output::print(&format!($($arg)*))?
    };
}
pub(crate) use outln;

/// Unix milliseconds as RFC 3339 in UTC (see [`crate::timespec::format_ms`]).
pub fn time_text(ms: i64) -> String {
    crate::timespec::format_ms(ms)
}

/// Prints `value()` as pretty JSON when `json` is set, else the text `text()` makes.
pub fn emit(
    json: bool,
    value: impl FnOnce() -> Value,
    text: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    if json {
        outln!("{}", serde_json::to_string_pretty(&value())?);
    } else {
        outln!("{}", text());
    }
    Ok(())
}

/// Writes `text` and a line break to stdout, [`visible`]. Rust's `println!` panics when
/// the reader has gone (`fenghuo report list | head`); this returns the `BrokenPipe` error
/// instead. (Resetting SIGPIPE to its default would also end the process quietly, but needs
/// `unsafe`, which this crate forbids, and would kill the process on a write to any closed
/// socket on platforms without `MSG_NOSIGNAL`.)
pub fn print(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(visible(text).as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()
}

/// True when `e` comes from writing to a reader that has gone.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `text` as it may be shown: see [`crate::event::check::visible`].
pub use crate::event::check::visible;

/// An optional time (0: none) as RFC 3339 or JSON null.
pub fn optional_time(ms: i64) -> Value {
    if ms == 0 {
        Value::Null
    } else {
        Value::String(time_text(ms))
    }
}

/// A time to the minute in the display zone with its offset, for tables (see
/// [`crate::timespec::short_time`]).
pub use crate::timespec::short_time;

/// A division code as people read it, `锦江区 510104`: the name a reply's `county_names`
/// gives, else the GB/T 2260 table's, else the bare code.
pub fn unit_text(code: &str, names: &std::collections::HashMap<String, String>) -> String {
    crate::places::display(code, names.get(code).map(String::as_str))
}

/// The name of `code` for a JSON `county_name` field beside the bare code (null when nobody
/// names it).
pub fn unit_name(code: &str, names: &std::collections::HashMap<String, String>) -> Value {
    names
        .get(code)
        .map(String::as_str)
        .or_else(|| crate::places::name_of(code))
        .map_or(Value::Null, |n| Value::String(n.to_owned()))
}

fn level_text(r: &v1::Risk) -> Option<&'static str> {
    r.grade
        .as_ref()
        .and_then(|g| level_from_proto(g.level))
        .map(|l| l.as_str())
}

fn focus_text(v: i32) -> &'static str {
    focus_from_proto(v).map(|f| f.as_str()).unwrap_or("?")
}

fn status_text(v: i32) -> &'static str {
    status_from_proto(v).map(|s| s.as_str()).unwrap_or("?")
}

/// A risk's level for people: `II 重大 (orange)`, and when the officer set it, the computed
/// level and the reason beside it; `not graded` before grading.
pub fn level_line(r: &v1::Risk) -> String {
    let Some(g) = r.grade.as_ref() else {
        return "not graded".into();
    };
    let Some(l) = level_from_proto(g.level) else {
        return "?".into();
    };
    let mut text = format!("level {} {} ({})", l.as_str(), l.label_zh(), l.colour());
    if !g.override_reason.is_empty() {
        if let Some(c) = level_from_proto(g.computed_level) {
            text.push_str(&format!(
                ", set by the officer (computed {} {}): {}",
                c.as_str(),
                c.label_zh(),
                g.override_reason
            ));
        }
    }
    text
}

/// The name of a scope (feed audience) value.
pub fn scope_text(v: i32) -> &'static str {
    crate::feed::Audience::from_proto(v)
        .map(|a| a.as_str())
        .unwrap_or("local")
}

/// A risk as the JSON scripts read.
pub fn risk_json(r: &v1::Risk) -> Value {
    json!({
        "id": r.id,
        "origin": r.origin,
        "title": r.title,
        "description": r.description,
        "focus": focus_text(r.focus),
        "source": r.source,
        "behaviours": r.behaviours,
        "department": r.department,
        "status": status_text(r.status),
        "scope": scope_text(r.scope),
        "shared_with": r.shared_with,
        "level": level_text(r),
        "grade": r.grade.as_ref().map(|g| json!({
            "influence": g.influence,
            "attention": g.attention,
            "diffusion": g.diffusion,
            "level": level_from_proto(g.level).map(|l| l.as_str()),
            "computed_level": level_from_proto(g.computed_level)
                .or(level_from_proto(g.level))
                .map(|l| l.as_str()),
            "override_reason": (!g.override_reason.is_empty()).then_some(&g.override_reason),
            "standard_version": g.standard_version,
            "graded_at": time_text(g.graded_at_ms),
            "graded_by": g.graded_by,
        })),
        "measures": r.measures.iter().map(|m| json!({
            "id": m.id,
            "action": m.action,
            "owner": m.owner,
            "due": m.due,
            "status": measure_status_from_proto(m.status).map(|s| s.as_str()),
            "overdue": m.overdue,
            "note": m.note,
        })).collect::<Vec<_>>(),
        "closure": r.closure.as_ref().map(|c| json!({
            "status": status_text(c.status),
            "text": c.text,
            "at": time_text(c.at_ms),
            "by": c.by,
        })),
        "history": r.history.iter().map(|h| json!({
            "rev": h.rev,
            "feed": scope_text(h.feed),
            "seq": h.seq,
            "at": time_text(h.at_ms),
            "author": h.author,
            "action": h.action,
            "summary": h.summary,
        })).collect::<Vec<_>>(),
        "created_at": time_text(r.created_at_ms),
        "updated_at": time_text(r.updated_at_ms),
    })
}

/// An empty table in the CLI's style.
pub fn table() -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    t
}

/// A risk with its measures and history, for people.
pub fn risk_detail(r: &v1::Risk) -> String {
    let mut t = table();
    let level = level_line(r);
    let focus = focus_from_proto(r.focus)
        .map(|f| format!("{} {}", f.as_str(), f.label_zh()))
        .unwrap_or_default();
    let grade = r
        .grade
        .as_ref()
        .map(|g| {
            format!(
                "influence {} / attention {} / diffusion {} (standard {}, by {} at {})",
                g.influence,
                g.attention,
                g.diffusion,
                g.standard_version,
                g.graded_by,
                short_time(g.graded_at_ms)
            )
        })
        .unwrap_or_default();
    let status = status_from_proto(r.status)
        .map(|s| format!("{} {}", s.as_str(), s.label_zh()))
        .unwrap_or_else(|| "?".into());
    let closure = r
        .closure
        .as_ref()
        .map(|c| {
            format!(
                "{}: {} (by {} at {})",
                status_text(c.status),
                c.text,
                c.by,
                short_time(c.at_ms)
            )
        })
        .unwrap_or_default();
    for (k, v) in [
        ("id", r.id.clone()),
        ("origin", r.origin.clone()),
        ("title", r.title.clone()),
        ("level", level),
        ("status", status),
        ("closed", closure),
        ("shared with", {
            let named: Vec<String> = r
                .shared_with
                .iter()
                .map(|c| crate::places::display(c, None))
                .collect();
            if named.is_empty() {
                scope_text(r.scope).to_owned()
            } else {
                format!("{} ({})", scope_text(r.scope), named.join("、"))
            }
        }),
        ("focus", focus),
        ("grade", grade),
        ("source", r.source.clone()),
        ("behaviours", r.behaviours.join("; ")),
        ("department", r.department.clone()),
        ("description", r.description.clone()),
        ("created", short_time(r.created_at_ms)),
        ("updated", short_time(r.updated_at_ms)),
    ] {
        t.add_row(vec![k.to_owned(), v]);
    }
    let mut out = t.to_string();
    if !r.measures.is_empty() {
        let mut m = table();
        m.set_header(vec!["measure", "action", "owner", "due", "status", "note"]);
        for x in &r.measures {
            let due = if x.overdue {
                format!("{} OVERDUE 逾期", x.due)
            } else {
                x.due.clone()
            };
            m.add_row(vec![
                x.id.clone(),
                x.action.clone(),
                x.owner.clone(),
                due,
                measure_status_from_proto(x.status)
                    .map(|s| format!("{} {}", s.as_str(), s.label_zh()))
                    .unwrap_or_else(|| "?".into()),
                x.note.clone(),
            ]);
        }
        out.push_str("\n\nPreventive measures\n");
        out.push_str(&m.to_string());
    }
    let mut h = table();
    h.set_header(vec!["rev", "when", "who", "what", "change", "entry"]);
    for x in &r.history {
        h.add_row(vec![
            x.rev.to_string(),
            short_time(x.at_ms),
            x.author.clone(),
            x.action.clone(),
            x.summary.clone(),
            format!("{} #{}", scope_text(x.feed), x.seq),
        ]);
    }
    out.push_str("\n\nHistory\n");
    out.push_str(&h.to_string());
    out
}

/// A list of risks, one row each.
pub fn risk_table(risks: &[v1::Risk]) -> String {
    let mut t = table();
    t.set_header(vec![
        "id", "level", "status", "focus", "scope", "title", "updated",
    ]);
    for r in risks {
        t.add_row(vec![
            r.id.clone(),
            level_text(r).unwrap_or("-").to_owned(),
            status_text(r.status).to_owned(),
            focus_text(r.focus).to_owned(),
            scope_text(r.scope).to_owned(),
            r.title.clone(),
            short_time(r.updated_at_ms),
        ]);
    }
    t.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_and_bidi_controls_are_shown_escaped() {
        assert_eq!(visible("plain 标题\n\tnext"), "plain 标题\n\tnext");
        assert_eq!(visible("a\u{1b}[2Jb"), "a\\u001b[2Jb");
        assert_eq!(visible("over\rwrite"), "over\\u000dwrite");
        assert_eq!(
            visible("\u{202e}gpj.exe \u{9b}31m \u{7f} \u{200f}"),
            "\\u202egpj.exe \\u009b31m \\u007f \\u200f"
        );
        // Valid JSON with the same value.
        let json = serde_json::to_string(&json!({"t": "\u{202e}x\u{9b}"})).unwrap();
        let shown = visible(&json);
        assert!(shown.is_ascii(), "{shown}");
        let back: Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(back["t"], "\u{202e}x\u{9b}");
    }

    #[test]
    fn units_are_shown_by_name_and_code() {
        let mut names = std::collections::HashMap::new();
        names.insert("510105".to_owned(), "青羊".to_owned());
        assert_eq!(unit_text("510104", &names), "锦江区 510104");
        assert_eq!(unit_text("510105", &names), "青羊 510105");
        assert_eq!(unit_text("519999", &names), "519999");
        assert_eq!(unit_name("510104", &names), json!("锦江区"));
        assert_eq!(unit_name("519999", &names), Value::Null);
    }

    #[test]
    fn times_always_have_three_fractional_digits() {
        assert_eq!(time_text(1_764_000_000_100), "2025-11-24T16:00:00.100Z");
        assert_eq!(time_text(1_764_000_000_000), "2025-11-24T16:00:00.000Z");
        assert_eq!(time_text(1_764_000_000_123), "2025-11-24T16:00:00.123Z");
    }
}
