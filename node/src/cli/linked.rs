//! `fenghuo linked`: risks of different counties that point at the same source (跨县关联).

use crate::cli::output::outln;
use fenghuo_proto::v1::{self, overview_client::OverviewClient};
use serde_json::{json, Value};

use super::connect::ConnectArgs;
use super::output::{table, unit_name, unit_text};
use super::risk::{status_message, Output};

/// `fenghuo linked` options.
#[derive(Debug, clap::Args)]
pub struct LinkedArgs {
    /// Only groups with a risk of this county.
    #[arg(long)]
    county: Option<String>,
    #[command(flatten)]
    out: Output,
}

/// Linked risks as the JSON scripts read.
pub fn linked_json(l: &v1::LinkedRisks) -> Value {
    json!(l
        .groups
        .iter()
        .map(|g| json!({
            "source": g.source,
            "counties": g.counties,
            "risks": g.risks.iter().map(|r| json!({
                "id": r.id, "county": r.county,
                "county_name": unit_name(&r.county, &l.county_names), "title": r.title,
                "level": (!r.level.is_empty()).then_some(&r.level),
                "status": r.status, "source": r.source,
            })).collect::<Vec<_>>(),
        }))
        .collect::<Vec<_>>())
}

/// Runs `fenghuo linked`.
pub async fn run(connect: ConnectArgs, args: LinkedArgs) -> anyhow::Result<()> {
    let mut client = OverviewClient::new(connect.channel().await?);
    let l = client
        .get_linked(v1::LinkedRequest {
            county: args.county.unwrap_or_default(),
        })
        .await
        .map_err(status_message)?
        .into_inner();
    if args.out.json {
        outln!("{}", serde_json::to_string_pretty(&linked_json(&l))?);
        return Ok(());
    }
    let mut t = table();
    t.set_header(vec![
        "source", "counties", "risk", "level", "status", "title",
    ]);
    for g in &l.groups {
        for (i, r) in g.risks.iter().enumerate() {
            t.add_row(vec![
                if i == 0 {
                    g.source.clone()
                } else {
                    String::new()
                },
                if i == 0 {
                    g.counties
                        .iter()
                        .map(|c| unit_text(c, &l.county_names))
                        .collect::<Vec<_>>()
                        .join(", ")
                } else {
                    String::new()
                },
                r.id.clone(),
                if r.level.is_empty() {
                    "-".into()
                } else {
                    r.level.clone()
                },
                r.status.clone(),
                r.title.clone(),
            ]);
        }
    }
    outln!(
        "{t}\n{} group(s) of risks sharing a source across counties",
        l.groups.len()
    );
    Ok(())
}
