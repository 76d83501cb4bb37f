//! `fenghuo peers` and `fenghuo feeds`: every sync link of a node or the gateway, with state
//! and lag, and the feeds it holds.

use crate::cli::output::outln;
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use fenghuo_proto::v1::{self, federation_client::FederationClient};
use serde_json::json;

use super::connect::ConnectArgs;
use super::output::{short_time, time_text, unit_name, unit_text};
use super::risk::status_message;

/// Options of `fenghuo peers` and `fenghuo feeds`.
#[derive(Debug, clap::Args)]
pub struct PeersArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

fn lag_text(l: &[v1::FeedLag]) -> String {
    if l.is_empty() {
        return "0".into();
    }
    l.iter()
        .map(|x| format!("{} {}", x.feed, x.behind))
        .collect::<Vec<_>>()
        .join(", ")
}

fn lag_json(l: &[v1::FeedLag]) -> serde_json::Value {
    l.iter()
        .map(|x| (x.feed.clone(), json!(x.behind)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Runs `fenghuo feeds`: the feeds a node holds and how far.
pub async fn feeds(connect: ConnectArgs, args: PeersArgs) -> anyhow::Result<()> {
    let mut client = FederationClient::new(connect.channel().await?);
    let r = client
        .feeds(v1::FeedsRequest {})
        .await
        .map_err(status_message)?
        .into_inner();
    let audience = |a: i32| {
        crate::feed::Audience::from_proto(a)
            .map(|a| a.as_str())
            .unwrap_or("?")
    };
    if args.json {
        let list: Vec<_> = r
            .heads
            .iter()
            .map(|h| json!({"origin": h.origin, "audience": audience(h.audience), "seq": h.seq, "applied": h.applied}))
            .collect();
        outln!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        "origin",
        "audience",
        "entries held",
        "applied to the register",
    ]);
    for h in &r.heads {
        t.add_row(vec![
            h.origin.clone(),
            audience(h.audience).to_owned(),
            h.seq.to_string(),
            h.applied.to_string(),
        ]);
    }
    outln!("{t}");
    Ok(())
}

/// Runs `fenghuo peers`.
pub async fn run(connect: ConnectArgs, args: PeersArgs) -> anyhow::Result<()> {
    let mut client = FederationClient::new(connect.channel().await?);
    let r = client
        .peers(v1::PeersRequest {})
        .await
        .map_err(status_message)?
        .into_inner();
    if args.json {
        let peers: Vec<_> = r
            .peers
            .iter()
            .map(|p| {
                json!({
                    "peer": p.peer,
                    "unit_name": peer_unit(&p.peer).map(|u| unit_name(u, &r.unit_names)),
                    "address": p.address,
                    "direction": p.direction,
                    "state": p.state,
                    "last_contact": (p.last_contact_ms > 0).then(|| time_text(p.last_contact_ms)),
                    "peer_behind": lag_json(&p.peer_behind),
                    "we_behind": lag_json(&p.we_behind),
                    "entries_sent": p.entries_sent,
                    "entries_received": p.entries_received,
                    "entries_refused": p.entries_refused,
                    "last_error": (!p.last_error.is_empty()).then(|| p.last_error.clone()),
                    "last_error_at": (p.last_error_ms > 0).then(|| time_text(p.last_error_ms)),
                })
            })
            .collect();
        let out = json!({
            "peers": peers,
            "equivocations": r.equivocations,
            "refused": r.refused,
            "quarantined": r.quarantined.iter().map(quarantine_json).collect::<Vec<_>>(),
        });
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(vec![
            "peer",
            "direction",
            "state",
            "last contact",
            "peer lacks",
            "we lack",
            "sent",
            "received",
            "refused",
            "last error",
        ]);
    for p in &r.peers {
        t.add_row(vec![
            peer_text(&p.peer, &r.unit_names),
            p.direction.clone(),
            p.state.clone(),
            if p.last_contact_ms > 0 {
                short_time(p.last_contact_ms)
            } else {
                "never".into()
            },
            lag_text(&p.peer_behind),
            lag_text(&p.we_behind),
            p.entries_sent.to_string(),
            p.entries_received.to_string(),
            p.entries_refused.to_string(),
            // A past error of a link that is up again would only mislead here (--json has it).
            if p.state == "connected" {
                String::new()
            } else {
                p.last_error.clone()
            },
        ]);
    }
    outln!("{t}");
    outln!(
        "{} link(s); equivocations {}; refused runs {}; quarantined feeds {}",
        r.peers.len(),
        r.equivocations,
        r.refused,
        r.quarantined.len()
    );
    for q in &r.quarantined {
        outln!("{}", quarantine_text(q));
    }
    Ok(())
}

/// A quarantined feed as scripts read it.
pub fn quarantine_json(q: &v1::Quarantine) -> serde_json::Value {
    json!({
        "feed": q.feed,
        "seq": q.seq,
        "reason": q.reason,
        "since": time_text(q.since_ms),
        "refusals": q.refusals,
        "advice": q.advice,
    })
}

/// The division code of a peer's identity path (`county/510104` → `510104`), if it has one.
fn peer_unit(peer: &str) -> Option<&str> {
    let mut parts = peer.split('/');
    match (parts.next(), parts.next()) {
        (Some("county" | "province" | "staff"), Some(code)) => Some(code),
        _ => None,
    }
}

/// A peer as people read it: `county/510104 锦江区` (the path, then its unit's name).
fn peer_text(peer: &str, names: &std::collections::HashMap<String, String>) -> String {
    match peer_unit(peer).map(|u| unit_text(u, names)) {
        Some(shown) if shown.contains(' ') => {
            let name = shown.rsplit_once(' ').map(|(n, _)| n).unwrap_or_default();
            format!("{peer} {name}")
        }
        _ => peer.to_owned(),
    }
}

/// A quarantined feed as an alarm line for people.
pub fn quarantine_text(q: &v1::Quarantine) -> String {
    format!(
        "ALARM quarantined {} at #{} since {} ({} refusals): {}",
        q.feed,
        q.seq,
        crate::timespec::long_time(q.since_ms),
        q.refusals,
        q.advice
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_are_shown_with_their_units_name() {
        let mut names = std::collections::HashMap::new();
        names.insert("510105".to_owned(), "青羊".to_owned());
        assert_eq!(peer_text("county/510104", &names), "county/510104 锦江区");
        assert_eq!(peer_text("county/510105", &names), "county/510105 青羊");
        assert_eq!(peer_text("province/51", &names), "province/51 四川省");
        assert_eq!(peer_text("partner/xinhua", &names), "partner/xinhua");
        assert_eq!(peer_text("county/519999", &names), "county/519999");
    }
}
