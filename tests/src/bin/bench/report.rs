//! The comparison table: the JSON lines of one run (both systems, every workload) rendered as
//! Markdown, with ratios and the goals of issue 8, and spliced into `docs/benchmarks.md`.

use std::path::Path;

use anyhow::Context as _;
use serde_json::Value;

/// The section `report --into` replaces lies between these two lines.
pub const START: &str = "<!-- bench-vs-nats:start (written by tests/bench/compare.sh) -->";
/// See [`START`].
pub const END: &str = "<!-- bench-vs-nats:end -->";

/// Which column a result belongs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Fenghuo,
    NatsLazy,
    NatsAlways,
}

fn column(v: &Value) -> Option<Column> {
    match (v["system"].as_str()?, v["fsync"].as_str()) {
        ("fenghuo", _) => Some(Column::Fenghuo),
        ("nats", Some("lazy")) => Some(Column::NatsLazy),
        ("nats", Some("always")) => Some(Column::NatsAlways),
        _ => None,
    }
}

/// One row: a workload at one setting, with the result of each column.
struct Row {
    key: String,
    label: String,
    better: Better,
    goal: Option<Goal>,
    cells: [Option<Value>; 3],
    /// Fenghuo's writes straight into the writer, shown beside its gRPC figure.
    direct: Option<Value>,
}

/// Whether a bigger figure is better (throughput) or a smaller one (latency).
#[derive(Clone, Copy)]
enum Better {
    Higher,
    Lower,
}

/// A goal Fenghuo's figure is held to.
#[derive(Clone, Copy)]
enum Goal {
    /// At least the NATS lazy-fsync figure.
    AtLeastNatsLazy,
    /// p99 at most this many milliseconds.
    P99AtMost(f64),
    /// At least this many per second.
    AtLeast(f64),
}

/// The figure rows are compared on.
fn key_figure(workload: &str, v: &Value) -> Option<f64> {
    match workload {
        "catch-up" => v["records_per_s"]["median"].as_f64(),
        "fan-out" => v["p99_ms"].as_f64(),
        "writes" => v["writes_per_s"].as_f64(),
        _ => None,
    }
}

fn thousands(x: f64) -> String {
    let n = x.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A result as its table cell; `direct` (Fenghuo's in-process writes) rides along with writes.
fn cell(workload: &str, v: &Value, direct: Option<&Value>) -> String {
    let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    match workload {
        "catch-up" => {
            let r = &v["records_per_s"];
            let g = |k: &str| thousands(r[k].as_f64().unwrap_or(0.0));
            format!("{} / {} / {}", g("min"), g("median"), g("max"))
        }
        "fan-out" => format!(
            "{:.2} / {:.2} / {:.2} ms",
            f("p50_ms"),
            f("p99_ms"),
            f("max_ms")
        ),
        "writes" => {
            let mut s = format!(
                "{}/s, p99 {:.2} ms",
                thousands(f("writes_per_s")),
                f("p99_ms")
            );
            if let Some(direct) = direct {
                let d = |k: &str| direct[k].as_f64().unwrap_or(f64::NAN);
                s.push_str(&format!(
                    " (in-process writer, no gRPC: {}/s, p99 {:.2} ms)",
                    thousands(d("writes_per_s")),
                    d("p99_ms")
                ));
            }
            s
        }
        _ => String::new(),
    }
}

/// "2.1× faster" / "3.0× slower", Fenghuo against the other.
fn ratio(better: Better, ours: f64, theirs: f64) -> String {
    if !(ours > 0.0 && theirs > 0.0) {
        return "—".into();
    }
    let speed = match better {
        Better::Higher => ours / theirs,
        Better::Lower => theirs / ours,
    };
    if speed >= 1.0 {
        format!("{speed:.2}× better")
    } else {
        format!("{:.2}× worse", 1.0 / speed)
    }
}

fn rows(results: &[Value]) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    for v in results {
        let Some(workload) = v["workload"].as_str() else {
            continue;
        };
        let Some(col) = column(v) else { continue };
        let (label, better, goal) = match workload {
            "catch-up" => (
                format!(
                    "catch-up: {} records, records/s min / median / max",
                    thousands(v["records"].as_f64().unwrap_or(0.0))
                ),
                Better::Higher,
                Some(Goal::AtLeastNatsLazy),
            ),
            "fan-out" => {
                let r = v["receivers"].as_u64().unwrap_or(0);
                (
                    format!(
                        "live fan-out: {} records at {}/s to {r} receiver{}, latency p50 / p99 / max",
                        thousands(v["records"].as_f64().unwrap_or(0.0)),
                        thousands(v["rate"].as_f64().unwrap_or(0.0).round()),
                        if r == 1 { "" } else { "s" }
                    ),
                    Better::Lower,
                    (r == 9).then_some(Goal::P99AtMost(2.0)),
                )
            }
            "writes" => {
                let w = v["writers"].as_u64().unwrap_or(0);
                (
                    format!(
                        "durable writes at the origin: {w} writer{}",
                        if w == 1 { "" } else { "s" }
                    ),
                    Better::Higher,
                    (w == 64).then_some(Goal::AtLeast(50_000.0)),
                )
            }
            _ => continue,
        };
        // Rows match on the workload and its setting (labels carry achieved rates).
        let row_key = match workload {
            "fan-out" => format!("fan-out {}", v["receivers"]),
            "writes" => format!("writes {}", v["writers"]),
            _ => workload.to_owned(),
        };
        let idx = match rows.iter().position(|r| r.key == row_key) {
            Some(i) => i,
            None => {
                rows.push(Row {
                    key: row_key,
                    label,
                    better,
                    goal,
                    cells: [None, None, None],
                    direct: None,
                });
                rows.len() - 1
            }
        };
        // A Fenghuo write through the writer directly rides along with the gRPC figure.
        if workload == "writes" && col == Column::Fenghuo && v["via"] == "writer" {
            rows[idx].direct = Some(v.clone());
        } else {
            rows[idx].cells[col as usize] = Some(v.clone());
        }
    }
    rows
}

/// The Markdown table.
pub fn render(results: &[Value]) -> String {
    let mut out = String::from(
        "| workload | Fenghuo: fsync before ack | NATS: fsync every 2 min (default) | NATS: fsync every message | Fenghuo vs NATS (2 min) | Fenghuo vs NATS (every message) | goal | met? |\n|---|---|---|---|---|---|---|---|\n",
    );
    for row in rows(results) {
        let workload = row.key.split(' ').next().unwrap_or_default();
        let shown = |i: usize| match &row.cells[i] {
            Some(v) => cell(workload, v, row.direct.as_ref().filter(|_| i == 0)),
            None => "not run".into(),
        };
        let fig = |c: &Option<Value>| c.as_ref().and_then(|v| key_figure(workload, v));
        let ours = fig(&row.cells[0]);
        let vs = |i: usize| match (ours, fig(&row.cells[i])) {
            (Some(o), Some(t)) => ratio(row.better, o, t),
            _ => "—".into(),
        };
        let (goal, met) = match (row.goal, ours) {
            (None, _) => ("—".to_owned(), "—".to_owned()),
            (Some(g), ours) => {
                let (text, ok) = match g {
                    Goal::AtLeastNatsLazy => (
                        "≥ NATS (2 min) median".to_owned(),
                        ours.zip(fig(&row.cells[1])).map(|(o, t)| o >= t),
                    ),
                    Goal::P99AtMost(ms) => (format!("p99 ≤ {ms} ms"), ours.map(|o| o <= ms)),
                    Goal::AtLeast(n) => (format!("≥ {}/s", thousands(n)), ours.map(|o| o >= n)),
                };
                let met = match ok {
                    Some(true) => "**yes**",
                    Some(false) => "**no**",
                    None => "not measured",
                };
                (text, met.to_owned())
            }
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {goal} | {met} |\n",
            row.label,
            shown(0),
            shown(1),
            shown(2),
            vs(1),
            vs(2),
        ));
    }
    out
}

/// `text` with the part between [`START`] and [`END`] replaced by `section` (appended, with
/// the markers, when they are missing).
pub fn splice(text: &str, section: &str) -> String {
    match (text.find(START), text.find(END)) {
        (Some(s), Some(e)) if e > s => format!("{}{START}\n{section}{}", &text[..s], &text[e..]),
        _ => format!("{}\n\n{START}\n{section}{END}\n", text.trim_end()),
    }
}

/// `bench report`: reads the results, renders, prints or splices.
pub fn run(results: &Path, header: Option<&Path>, into: Option<&Path>) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(results)
        .with_context(|| format!("reading {}", results.display()))?;
    let mut values = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        values.push(
            serde_json::from_str::<Value>(line)
                .with_context(|| format!("{}:{}: not a JSON object", results.display(), n + 1))?,
        );
    }
    let mut section = match header {
        Some(h) => {
            std::fs::read_to_string(h).with_context(|| format!("reading {}", h.display()))?
        }
        None => String::new(),
    };
    if !section.is_empty() && !section.ends_with("\n\n") {
        section.push('\n');
    }
    section.push_str(&render(&values));
    match into {
        None => print!("{section}"),
        Some(path) => {
            let doc = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            std::fs::write(path, splice(&doc, &section))
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote the table into {}", path.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn results() -> Vec<Value> {
        vec![
            json!({"workload":"catch-up","system":"fenghuo","records":1000000,"records_per_s":{"min":100.0,"median":300.0,"max":400.0}}),
            json!({"workload":"catch-up","system":"nats","fsync":"lazy","records":1000000,"records_per_s":{"min":200.0,"median":250.0,"max":260.0}}),
            json!({"workload":"fan-out","system":"fenghuo","receivers":9,"records":5000,"rate":999.7,"p50_ms":1.0,"p99_ms":3.0,"max_ms":9.0}),
            json!({"workload":"fan-out","system":"nats","fsync":"lazy","receivers":9,"records":5000,"rate":1000.2,"p50_ms":0.3,"p99_ms":0.5,"max_ms":1.0}),
            json!({"workload":"writes","system":"fenghuo","via":"grpc","writers":64,"writes_per_s":40000.0,"p99_ms":4.0}),
            json!({"workload":"writes","system":"fenghuo","via":"writer","writers":64,"writes_per_s":60000.0,"p99_ms":2.0}),
            json!({"workload":"writes","system":"nats","fsync":"always","writers":64,"writes_per_s":20000.0,"p99_ms":8.0}),
        ]
    }

    #[test]
    fn table_compares_and_judges_goals() {
        let t = render(&results());
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 5, "{t}");
        let catch_up = lines[2];
        assert!(catch_up.contains("100 / 300 / 400"), "{catch_up}");
        assert!(catch_up.contains("1.20× better"), "{catch_up}");
        assert!(catch_up.contains("**yes**"), "{catch_up}");
        assert!(catch_up.contains("not run"), "{catch_up}");
        let fan_out = lines[3];
        assert!(fan_out.contains("6.00× worse"), "{fan_out}");
        assert!(fan_out.contains("**no**"), "{fan_out}");
        let writes = lines[4];
        assert!(writes.contains("40,000/s, p99 4.00 ms"), "{writes}");
        assert!(
            writes.contains("in-process writer, no gRPC: 60,000/s"),
            "{writes}"
        );
        assert!(writes.contains("2.00× better"), "{writes}");
        assert!(writes.contains("**no**"), "{writes}");
    }

    #[test]
    fn splice_replaces_between_markers_and_appends_otherwise() {
        let doc = format!("# B\n\nbefore\n{START}\nold\n{END}\nafter\n");
        let out = splice(&doc, "new\n");
        assert_eq!(out, format!("# B\n\nbefore\n{START}\nnew\n{END}\nafter\n"));
        let appended = splice("# B\n", "new\n");
        assert_eq!(appended, format!("# B\n\n{START}\nnew\n{END}\n"));
        assert_eq!(
            splice(&appended, "newer\n"),
            format!("# B\n\n{START}\nnewer\n{END}\n")
        );
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
    }
}
