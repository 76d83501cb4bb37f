//! `fenghuo health`: federation health per county, from the gateway (or a county's peers),
//! the node's alarms, and its workers.

use crate::cli::output::outln;
use fenghuo_proto::v1::{self, overview_client::OverviewClient};
use serde_json::{json, Value};

use super::connect::ConnectArgs;
use super::output::{optional_time, short_time, table, unit_name, unit_text};
use super::risk::{status_message, Output};
use crate::timespec::parse_duration;

/// `fenghuo health` options.
#[derive(Debug, clap::Args)]
pub struct HealthArgs {
    /// A county with no contact for longer than this is silent (e.g. 10m, 1h).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    silent_after: std::time::Duration,
    #[command(flatten)]
    out: Output,
}

/// Federation health as the JSON scripts read.
pub fn health_json(h: &v1::FederationHealth) -> Value {
    json!({
        "silent_after_s": h.silent_after_s,
        "alarms": h.alarms,
        "counties": h.counties.iter().map(|c| json!({
            "county": c.county,
            "county_name": unit_name(&c.county, &h.county_names),
            "link": c.link,
            "last_contact": optional_time(c.last_contact_ms),
            "silent": c.silent,
            "behind": c.behind.iter().map(|l| (l.feed.clone(), Value::from(l.behind))).collect::<serde_json::Map<_, _>>(),
            "refused": c.refused,
            "last_error": (!c.last_error.is_empty()).then_some(&c.last_error),
            "last_error_at": optional_time(c.last_error_ms),
            "equivocations": c.equivocations,
            "certificate_expires": optional_time(c.certificate_expires_ms),
            "quarantined": c.quarantined.iter().map(super::peers::quarantine_json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "workers": h.workers.iter().map(|w| json!({
            "name": w.name,
            "state": w.state,
            "reason": (!w.reason.is_empty()).then_some(&w.reason),
            "started_at": optional_time(w.started_at_ms),
            "stopped_at": optional_time(w.stopped_at_ms),
        })).collect::<Vec<_>>(),
    })
}

/// One line per worker: `worker journal: running since …`, a failed one with its reason.
fn worker_lines(h: &v1::FederationHealth) -> String {
    let mut out = String::new();
    for w in &h.workers {
        let since = if w.stopped_at_ms != 0 {
            w.stopped_at_ms
        } else {
            w.started_at_ms
        };
        out.push_str(&format!(
            "\nworker {}: {} since {}",
            w.name,
            w.state,
            short_time(since)
        ));
        if !w.reason.is_empty() {
            out.push_str(&format!(" ({})", w.reason));
        }
    }
    out
}

fn text(h: &v1::FederationHealth) -> String {
    let mut t = table();
    t.set_header(vec![
        "county",
        "link",
        "last contact",
        "behind",
        "refused",
        "equivocations",
        "certificate expires",
        "last error",
    ]);
    for c in &h.counties {
        let contact = if c.last_contact_ms == 0 {
            "never".to_owned()
        } else {
            short_time(c.last_contact_ms)
        };
        let behind: u64 = c.behind.iter().map(|l| l.behind).sum();
        t.add_row(vec![
            if c.silent {
                format!("{} SILENT", unit_text(&c.county, &h.county_names))
            } else {
                unit_text(&c.county, &h.county_names)
            },
            c.link.clone(),
            contact,
            behind.to_string(),
            c.refused.to_string(),
            if c.equivocations > 0 {
                format!("{} ALARM", c.equivocations)
            } else {
                "0".into()
            },
            if c.certificate_expires_ms == 0 {
                "-".into()
            } else {
                short_time(c.certificate_expires_ms)
            },
            c.last_error.clone(),
        ]);
    }
    let silent = h.counties.iter().filter(|c| c.silent).count();
    let mut out = format!(
        "{t}\n{} county(ies), {silent} silent for more than {} s",
        h.counties.len(),
        h.silent_after_s
    );
    out.push_str(&worker_lines(h));
    for a in &h.alarms {
        out.push_str("\nALARM ");
        out.push_str(a);
    }
    for q in h.counties.iter().flat_map(|c| &c.quarantined) {
        out.push('\n');
        out.push_str(&super::peers::quarantine_text(q));
    }
    out
}

/// Runs `fenghuo health`.
pub async fn run(connect: ConnectArgs, args: HealthArgs) -> anyhow::Result<()> {
    let mut client = OverviewClient::new(connect.channel().await?);
    let h = client
        .get_health(v1::HealthRequest {
            silent_after_s: args.silent_after.as_secs().max(1) as i64,
        })
        .await
        .map_err(status_message)?
        .into_inner();
    if args.out.json {
        outln!("{}", serde_json::to_string_pretty(&health_json(&h))?);
    } else {
        outln!("{}", text(&h));
    }
    Ok(())
}
