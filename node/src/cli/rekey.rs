//! `fenghuo rekey`: at the gateway, re-key a compromised county — its new certificate, and
//! per feed the last entry of its old key the province still trusts.

use crate::cli::output::outln;
use std::path::PathBuf;

use anyhow::Context;
use fenghuo_proto::v1::{self, admin_client::AdminClient};
use serde_json::json;

use super::connect::ConnectArgs;
use super::risk::{status_message, Output};
use crate::feed::Audience;

/// `fenghuo rekey` options.
#[derive(Debug, clap::Args)]
pub struct RekeyArgs {
    /// The county's code, e.g. 510104.
    #[arg(value_name = "COUNTY")]
    county: String,
    /// Its new certificate: from `fenghuo ca issue county CODE`, after `fenghuo ca revoke
    /// county-CODE` (a new key).
    #[arg(long, value_name = "FILE")]
    new_cert: PathBuf,
    /// Trust the old key up to this entry of a feed, e.g. `province=41` (repeatable). A feed
    /// not named: up to what the gateway holds of it now.
    #[arg(long, value_name = "FEED=SEQ", value_parser = parse_trust)]
    trust: Vec<(Audience, u64)>,
    #[command(flatten)]
    out: Output,
}

fn parse_trust(s: &str) -> Result<(Audience, u64), String> {
    let (feed, seq) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: write FEED=SEQ, e.g. province=41"))?;
    let audience: Audience = feed.trim().parse()?;
    if audience == Audience::Local {
        return Err(
            "the local feed never leaves the county: name neighbours, province or upstream".into(),
        );
    }
    let seq = seq
        .trim()
        .parse()
        .map_err(|_| format!("{seq:?} is not a sequence number"))?;
    Ok((audience, seq))
}

/// Runs `fenghuo rekey`.
pub async fn run(connect: ConnectArgs, args: RekeyArgs) -> anyhow::Result<()> {
    let certificate = std::fs::read(&args.new_cert)
        .with_context(|| format!("reading {}", args.new_cert.display()))?;
    let mut client = AdminClient::new(connect.channel().await?);
    let r = client
        .rekey(v1::RekeyRequest {
            county: args.county.clone(),
            certificate,
            trust: args
                .trust
                .iter()
                .map(|(a, seq)| v1::TrustedSeq {
                    audience: a.to_proto() as i32,
                    seq: *seq,
                })
                .collect(),
        })
        .await
        .map_err(status_message)?
        .into_inner();
    let feed = |h: &v1::FeedHead| {
        format!(
            "{}#{}",
            h.origin,
            Audience::from_proto(h.audience).map_or("?", |a| a.as_str())
        )
    };
    if args.out.json {
        let trusted: serde_json::Map<_, _> =
            r.trusted.iter().map(|h| (feed(h), json!(h.seq))).collect();
        outln!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "county": args.county,
                "seq": r.seq,
                "trusted": trusted,
                "set_aside": r.set_aside,
            }))?
        );
    } else {
        outln!(
            "county {} re-keyed (province feed #{}); the old key is trusted up to:",
            args.county,
            r.seq
        );
        for h in &r.trusted {
            outln!("  {} #{}", feed(h), h.seq);
        }
        outln!(
            "{} entr{} of the old key past those set aside as evidence here. Install the new certificate and key on the county's node and start it (empty or restored): it fetches its feeds before it writes.",
            r.set_aside,
            if r.set_aside == 1 { "y" } else { "ies" }
        );
    }
    Ok(())
}
