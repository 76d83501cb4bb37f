//! `fenghuo overview`: the province (at the gateway) or a county at a glance.

use crate::cli::output::outln;
use fenghuo_proto::v1::{self, overview_client::OverviewClient};
use serde_json::{json, Value};

use super::connect::ConnectArgs;
use super::output::{short_time, table, time_text, unit_name, unit_text};
use super::risk::{status_message, Output};
use crate::domain::{FocusPoint, Level};
use crate::timespec::{now_ms, parse_time_from_now};
use crate::wire::{focus_to_proto, level_to_proto};

/// `fenghuo overview` options.
#[derive(Debug, clap::Args)]
pub struct OverviewArgs {
    /// 仅此县（区划代码） · Only this county (its code).
    #[arg(long)]
    county: Option<String>,
    /// 仅此等级：I、II、III、IV 或 特别重大、重大、较大、一般 · Only risks at this level: I,
    /// II, III or IV (or the Chinese label).
    #[arg(long)]
    level: Option<Level>,
    /// 仅此重点，如 活动集中点（中英文均可） · Only risks with this focus point (either word).
    #[arg(long)]
    focus: Option<FocusPoint>,
    /// 统计最近多少天的每日新增和化解（默认 30） · New and resolved risks per day over this many
    /// days (default 30).
    #[arg(long, conflicts_with = "since")]
    days: Option<i64>,
    /// 起始时间：RFC 3339 或 --time-zone 下的本地时间 · Days and rises from this time: RFC
    /// 3339, or a local time in --time-zone (`2026-12-01 08:00`).
    #[arg(long, value_parser = parse_time_from_now)]
    since: Option<i64>,
    /// 截止时间（默认现在） · Days and rises until this time (RFC 3339 or local; default now).
    #[arg(long, value_parser = parse_time_from_now)]
    until: Option<i64>,
    #[command(flatten)]
    out: Output,
}

/// The overview as the JSON scripts read.
pub fn overview_json(o: &v1::ProvinceOverview) -> Value {
    let counts = |list: &[v1::NamedCount]| -> Value {
        list.iter()
            .map(|c| (c.name.clone(), Value::from(c.count)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    json!({
        "active": o.active,
        "from": time_text(o.from_ms),
        "to": time_text(o.to_ms),
        "by_level": counts(&o.by_level),
        "by_focus": counts(&o.by_focus),
        "by_status": counts(&o.by_status),
        "counties": o.counties.iter().map(|c| json!({
            "county": c.county,
            "county_name": unit_name(&c.county, &o.county_names),
            "I": c.level_i, "II": c.level_ii, "III": c.level_iii, "IV": c.level_iv,
            "ungraded": c.ungraded,
            "active": c.active,
            "resolved": c.resolved,
            "worst": (!c.worst.is_empty()).then_some(&c.worst),
        })).collect::<Vec<_>>(),
        "days": o.days.iter().map(|d| json!({"day": d.day, "new": d.new, "resolved": d.resolved})).collect::<Vec<_>>(),
        "rises": o.rises.iter().map(|r| json!({
            "risk": r.risk, "county": r.county, "county_name": unit_name(&r.county, &o.county_names),
            "title": r.title,
            "from": r.from, "to": r.to, "at": time_text(r.at_ms),
        })).collect::<Vec<_>>(),
    })
}

fn label(level: &str) -> String {
    match level.parse::<Level>() {
        Ok(l) => format!("{} {} ({})", l.as_str(), l.label_zh(), l.colour()),
        Err(_) => level.to_owned(),
    }
}

fn text(o: &v1::ProvinceOverview) -> String {
    let mut out = format!(
        "{} active risk(s); days {} to {}\n\n",
        o.active,
        short_time(o.from_ms),
        short_time(o.to_ms)
    );
    let mut levels = table();
    levels.set_header(vec!["level", "active"]);
    for c in &o.by_level {
        levels.add_row(vec![label(&c.name), c.count.to_string()]);
    }
    let mut focus = table();
    focus.set_header(vec!["focus point", "active"]);
    for c in &o.by_focus {
        let name = match c.name.parse::<FocusPoint>() {
            Ok(f) => format!("{} {}", f.as_str(), f.label_zh()),
            Err(_) => c.name.clone(),
        };
        focus.add_row(vec![name, c.count.to_string()]);
    }
    let mut status = table();
    status.set_header(vec!["status", "risks"]);
    for c in &o.by_status {
        status.add_row(vec![c.name.clone(), c.count.to_string()]);
    }
    let mut counties = table();
    counties.set_header(vec![
        "county", "I", "II", "III", "IV", "ungraded", "active", "resolved", "worst",
    ]);
    for c in &o.counties {
        counties.add_row(vec![
            unit_text(&c.county, &o.county_names),
            c.level_i.to_string(),
            c.level_ii.to_string(),
            c.level_iii.to_string(),
            c.level_iv.to_string(),
            c.ungraded.to_string(),
            c.active.to_string(),
            c.resolved.to_string(),
            if c.worst.is_empty() {
                "-".into()
            } else {
                label(&c.worst)
            },
        ]);
    }
    let mut days = table();
    days.set_header(vec!["day", "new", "resolved"]);
    for d in o.days.iter().filter(|d| d.new + d.resolved > 0) {
        days.add_row(vec![
            d.day.clone(),
            d.new.to_string(),
            d.resolved.to_string(),
        ]);
    }
    for (title, t) in [
        ("Active risks by level", levels),
        ("By focus point", focus),
        ("By status", status),
        ("Counties", counties),
        ("New and resolved per day (days with any)", days),
    ] {
        out.push_str(title);
        out.push('\n');
        out.push_str(&t.to_string());
        out.push_str("\n\n");
    }
    let mut rises = table();
    rises.set_header(vec!["risk", "county", "level", "when", "title"]);
    for r in &o.rises {
        rises.add_row(vec![
            r.risk.clone(),
            unit_text(&r.county, &o.county_names),
            format!("{} → {}", r.from, r.to),
            short_time(r.at_ms),
            r.title.clone(),
        ]);
    }
    out.push_str("Levels that rose\n");
    out.push_str(&rises.to_string());
    out
}

/// Runs `fenghuo overview`.
pub async fn run(connect: ConnectArgs, args: OverviewArgs) -> anyhow::Result<()> {
    let mut client = OverviewClient::new(connect.channel().await?);
    let to_ms = args.until.unwrap_or(0);
    let from_ms = match (args.since, args.days) {
        (Some(s), _) => s,
        (None, Some(d)) if d >= 1 => args.until.unwrap_or_else(now_ms) - (d - 1) * 86_400_000,
        (None, Some(d)) => anyhow::bail!("--days {d}: give at least 1"),
        (None, None) => 0,
    };
    let o = client
        .get_overview(v1::OverviewRequest {
            county: args.county.unwrap_or_default(),
            level: args.level.map(|l| level_to_proto(l) as i32).unwrap_or(0),
            focus: args.focus.map(|f| focus_to_proto(f) as i32).unwrap_or(0),
            from_ms,
            to_ms,
        })
        .await
        .map_err(status_message)?
        .into_inner();
    if args.out.json {
        outln!("{}", serde_json::to_string_pretty(&overview_json(&o))?);
    } else {
        outln!("{}", text(&o));
    }
    Ok(())
}
