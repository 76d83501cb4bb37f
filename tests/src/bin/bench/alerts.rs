//! Fenghuo only: the alert round trip. One county issues alerts to its neighbours; at each
//! neighbour a staff member's `Watch` stream sees the alert arrive and acknowledges it over
//! gRPC at once; the issuer's own `Watch` sees each acknowledgment. Measured: from the
//! `IssueAlert` call to each acknowledgment visible at the issuer, and to the last of them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use fenghuo_node::identity::Identity;
use fenghuo_proto::v1 as pb;
use fenghuo_tests::grpc::mtls_channel;
use serde_json::json;
use tokio::sync::mpsc;
use tonic::transport::Channel;

use crate::fenghuo::{free_port, Bench, DURABILITY};
use crate::stats::{Latencies, Outcome};

const ISSUER: &str = "510104";

async fn staff_channel(b: &mut Bench, code: &str, port: u16) -> anyhow::Result<Channel> {
    let creds = b.credentials(&Identity::staff(code, "bench")?)?;
    mtls_channel(&format!("https://127.0.0.1:{port}"), &creds).await
}

/// Watches `channel`'s node from now on, sending each event of `kind` to `tx`.
async fn watch(
    channel: Channel,
    kind: &'static str,
    tx: mpsc::UnboundedSender<(pb::WatchEvent, Instant)>,
) -> anyhow::Result<()> {
    let mut client = pb::alerts_client::AlertsClient::new(channel);
    let mut stream = client
        .watch(pb::WatchRequest {
            after: 0,
            from_now: true,
        })
        .await?
        .into_inner();
    tokio::spawn(async move {
        while let Ok(Some(e)) = stream.message().await {
            if e.kind == kind && tx.send((e, Instant::now())).is_err() {
                break;
            }
        }
    });
    Ok(())
}

/// `alerts` alerts, one at a time with `pause` between, from a county to its `neighbours`
/// neighbours.
pub async fn round_trip(
    neighbours: usize,
    alerts: u64,
    pause: Duration,
) -> anyhow::Result<Outcome> {
    anyhow::ensure!(neighbours >= 1, "--neighbours must be at least 1");
    let mut b = Bench::new()?;
    let codes: Vec<String> = (0..neighbours)
        .map(|i| format!("5101{:02}", 5 + i))
        .collect();
    let ports: Vec<u16> = codes
        .iter()
        .map(|_| free_port())
        .collect::<Result<_, _>>()?;
    let (pg, pa) = (free_port()?, free_port()?);
    let mut nodes = vec![b.launch("51", "", pg, None, &[]).await?];
    for (code, port) in codes.iter().zip(&ports) {
        nodes.push(
            b.launch(code, "", *port, Some(pg), &[(ISSUER.into(), pa)])
                .await?,
        );
    }
    let list: Vec<(String, u16)> = codes.iter().cloned().zip(ports.iter().copied()).collect();
    let issuer = b.launch(ISSUER, "", pa, Some(pg), &list).await?;

    // Each neighbour's staff acknowledge what their watch shows them, at once.
    for (code, port) in codes.iter().zip(&ports) {
        let channel = staff_channel(&mut b, code, *port).await?;
        let (tx, mut rx) = mpsc::unbounded_channel();
        watch(channel.clone(), "alert", tx).await?;
        let mut client = pb::alerts_client::AlertsClient::new(channel);
        tokio::spawn(async move {
            while let Some((e, _)) = rx.recv().await {
                let ack = pb::AcknowledgeAlertRequest {
                    id: e.id.clone(),
                    note: String::new(),
                };
                if let Err(err) = client.acknowledge_alert(ack).await {
                    eprintln!("acknowledging {} failed: {err}", e.id);
                }
            }
        });
    }
    let channel = staff_channel(&mut b, ISSUER, pa).await?;
    let (tx, mut acks) = mpsc::unbounded_channel();
    watch(channel.clone(), "alert-acknowledged", tx).await?;
    let mut client = pb::alerts_client::AlertsClient::new(channel);

    // The neighbours declare themselves as the nodes start; an alert issued before the
    // issuer knows all of them would have fewer recipients. Wait until it does.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let known = fenghuo_node::sync::directory::known_counties(issuer.state.store.as_ref())?;
        if codes.iter().all(|c| known.contains(c)) {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the neighbours never declared themselves"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut each = Vec::new();
    let mut all = Vec::new();
    let started = Instant::now();
    for i in 0..alerts {
        if i > 0 {
            tokio::time::sleep(pause).await;
        }
        let sent = Instant::now();
        let content = pb::AlertContent {
            headline: format!("Bench alert {i}"),
            urgency: "immediate".into(),
            severity: "severe".into(),
            certainty: "observed".into(),
            audience: "neighbours".into(),
            ..Default::default()
        };
        let alert = client
            .issue_alert(pb::IssueAlertRequest {
                content: Some(content),
            })
            .await
            .context("issuing an alert")?
            .into_inner();
        let mut pending: HashMap<String, ()> = codes.iter().map(|c| (c.clone(), ())).collect();
        while !pending.is_empty() {
            let (e, at) = tokio::time::timeout(Duration::from_secs(30), acks.recv())
                .await
                .with_context(|| {
                    format!(
                        "alert {i}: no acknowledgment within 30 s from {:?}",
                        pending.keys()
                    )
                })?
                .context("the issuer's watch ended")?;
            if e.id == alert.id && pending.remove(&e.origin).is_some() {
                each.push(at - sent);
                if pending.is_empty() {
                    all.push(at - sent);
                }
            }
        }
    }
    let took = started.elapsed();
    drop(nodes);
    drop(issuer);
    let (each, all) = (Latencies::new(each), Latencies::new(all));
    let mut figures = each.summary();
    figures["neighbours"] = neighbours.into();
    figures["alerts"] = alerts.into();
    figures["all_acknowledged"] = all.summary();
    figures["seconds"] = took.as_secs_f64().into();
    figures["pause_ms"] = (pause.as_millis() as u64).into();
    Ok(Outcome {
        workload: "alert-round-trip",
        system: "fenghuo",
        durability: DURABILITY.into(),
        line: format!(
            "{alerts} alerts to {neighbours} neighbours, {} ms apart, issue → acknowledgment visible at the issuer: each {}; all {neighbours}: {}",
            pause.as_millis(),
            each.line(),
            all.line()
        ),
        figures: json!(figures),
    })
}
