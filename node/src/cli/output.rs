//! How the CLI shows things: readable tables by default, JSON for scripts.

use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use fenghuo_proto::v1;
use serde_json::{json, Value};

use crate::api::convert::{
    focus_from_proto, level_from_proto, measure_status_from_proto, status_from_proto,
};

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
        println!("{}", serde_json::to_string_pretty(&value())?);
    } else {
        println!("{}", text());
    }
    Ok(())
}

/// An optional time (0: none) as RFC 3339 or JSON null.
pub fn optional_time(ms: i64) -> Value {
    if ms == 0 {
        Value::Null
    } else {
        Value::String(time_text(ms))
    }
}

/// A time to the minute, for tables.
pub fn short_time(ms: i64) -> String {
    let t = time_text(ms);
    t.get(..16).map(|s| s.replace('T', " ")).unwrap_or(t)
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
        "level": level_text(r),
        "grade": r.grade.as_ref().map(|g| json!({
            "influence": g.influence,
            "attention": g.attention,
            "diffusion": g.diffusion,
            "level": level_from_proto(g.level).map(|l| l.as_str()),
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
        })).collect::<Vec<_>>(),
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
    let level = match r.grade.as_ref().and_then(|g| level_from_proto(g.level)) {
        Some(l) => format!("{} {} ({})", l.as_str(), l.label_zh(), l.colour()),
        None => "not graded".into(),
    };
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
    for (k, v) in [
        ("id", r.id.clone()),
        ("origin", r.origin.clone()),
        ("title", r.title.clone()),
        ("level", level),
        ("status", status_text(r.status).to_owned()),
        ("shared with", scope_text(r.scope).to_owned()),
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
        m.set_header(vec!["measure", "action", "owner", "due", "status"]);
        for x in &r.measures {
            m.add_row(vec![
                x.id.clone(),
                x.action.clone(),
                x.owner.clone(),
                x.due.clone(),
                measure_status_from_proto(x.status)
                    .map(|s| s.as_str())
                    .unwrap_or("?")
                    .to_owned(),
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
    fn times_always_have_three_fractional_digits() {
        assert_eq!(time_text(1_764_000_000_100), "2025-11-24T16:00:00.100Z");
        assert_eq!(time_text(1_764_000_000_000), "2025-11-24T16:00:00.000Z");
        assert_eq!(time_text(1_764_000_000_123), "2025-11-24T16:00:00.123Z");
    }
}
