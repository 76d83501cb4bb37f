//! Fenghuo only: disposal requests from a county to a partner website through the gateway.
//! The county's staff file requests over gRPC (`concurrency` at a time); the partner takes
//! them either from `PartnerService.Subscribe` or from signed webhook POSTs (a receiver that
//! checks every signature). Measured: from the `FileRequest` call to the partner holding the
//! request (each), and the rate requests reach the partner (all).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::ValueEnum;
use fenghuo_gateway::webhook::{self, client::WebhookClient};
use fenghuo_node::disposal::Command;
use fenghuo_node::identity::Identity;
use fenghuo_node::partner::{self, NewPartner};
use fenghuo_proto::v1 as pb;
use fenghuo_tests::grpc::mtls_channel;
use fenghuo_tests::partner_sim::WebhookPartner;
use serde_json::json;
use tokio::sync::{mpsc, watch};

use crate::fenghuo::{free_port, Bench, DURABILITY};
use crate::stats::{Latencies, Outcome};

const COUNTY: &str = "510104";
const PARTNER: &str = "bench-partner";
const SECRET: &[u8] = b"bench partner shared secret 0123456789";

/// How the partner takes its requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Via {
    /// `PartnerService.Subscribe` over mutual TLS.
    Grpc,
    /// Signed HTTPS POSTs to the partner's webhook.
    Webhook,
}

/// `requests` requests filed `concurrency` at a time, taken by the partner `via`.
pub async fn delivery(via: Via, requests: u64, concurrency: usize) -> anyhow::Result<Outcome> {
    anyhow::ensure!(concurrency >= 1, "--concurrency must be at least 1");
    let mut b = Bench::new()?;
    let (pg, pc) = (free_port()?, free_port()?);
    let gateway = b.launch("51", "", pg, None, &[]).await?;
    let county = b.launch(COUNTY, "", pc, Some(pg), &[]).await?;
    // The receiver runs its own runtime: start (and later drop) it off this one.
    let sim = match via {
        Via::Webhook => Some(tokio::task::spawn_blocking(|| WebhookPartner::start(SECRET)).await?),
        Via::Grpc => None,
    };
    partner::add(
        gateway.state.store.as_ref(),
        &NewPartner {
            name: PARTNER.into(),
            display_name: "Bench partner".into(),
            handles: String::new(),
            webhook_url: sim.as_ref().map(|s| s.url()).unwrap_or_default(),
            webhook_secret: SECRET.to_vec(),
        },
        false,
        "bench",
    )?;
    let declare = Command::DeclarePartner {
        name: PARTNER.into(),
        display_name: "Bench partner".into(),
        disabled: false,
        handles: String::new(),
    };
    gateway
        .state
        .writer
        .submit("province/51".into(), declare)
        .await?;
    let (stop_hooks, stop_rx) = watch::channel(false);
    if let Some(sim) = &sim {
        let client = WebhookClient::new(Some(&sim.ca()), true)?;
        webhook::spawn(gateway.state.clone(), client, stop_rx);
    }

    // Where the partner takes each request, and when.
    let (tx, mut arrivals) = mpsc::unbounded_channel::<(String, Instant)>();
    if via == Via::Grpc {
        let creds = b.credentials(&Identity::partner(PARTNER)?)?;
        let channel = mtls_channel(&format!("https://127.0.0.1:{pg}"), &creds).await?;
        let mut client = pb::partner_service_client::PartnerServiceClient::new(channel);
        let mut stream = client
            .subscribe(pb::SubscribeRequest { cursor: 0 })
            .await?
            .into_inner();
        tokio::spawn(async move {
            while let Ok(Some(m)) = stream.message().await {
                let id = m.request.map(|r| r.id).unwrap_or_default();
                if tx.send((id, Instant::now())).is_err() {
                    break;
                }
            }
        });
    }

    let staff = b.credentials(&Identity::staff(COUNTY, "bench")?)?;
    let channel = mtls_channel(&format!("https://127.0.0.1:{pc}"), &staff).await?;
    let request = |i: u64| pb::FileDisposalRequest {
        partner: PARTNER.into(),
        urls: vec![format!("https://video.example/v/{i}")],
        action: "label".into(),
        reason: "Unverified claim".into(),
        legal_basis: "rule 6".into(),
        deadline_ms: fenghuo_node::timespec::now_ms() + 3_600_000,
        ..Default::default()
    };
    // The partner reaches the county through the province feed: wait for it.
    let mut probe = pb::disposal_client::DisposalClient::new(channel.clone());
    let deadline = Instant::now() + Duration::from_secs(60);
    let first = loop {
        match probe.file_request(request(0)).await {
            Ok(r) => break r.into_inner().id,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e).context("the partner never reached the county"),
        }
    };
    let filed: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let mut taken: HashMap<String, Instant> = HashMap::new();
    let started = Instant::now();
    let mut next = 1u64;
    let mut in_flight = tokio::task::JoinSet::new();
    // Everything filed, and everything filed (and the unmeasured probe) taken by the partner.
    while (taken.len() as u64) < requests + 1 {
        while next <= requests && in_flight.len() < concurrency {
            let (mut client, filed, req) = (
                pb::disposal_client::DisposalClient::new(channel.clone()),
                filed.clone(),
                request(next),
            );
            in_flight.spawn(async move {
                let sent = Instant::now();
                let id = client.file_request(req).await?.into_inner().id;
                filed
                    .lock()
                    .map_err(|_| anyhow::anyhow!("a filing task panicked"))?
                    .insert(id, sent);
                anyhow::Ok(())
            });
            next += 1;
        }
        while let Some(r) = in_flight.try_join_next() {
            r??;
        }
        while let Ok((id, at)) = arrivals.try_recv() {
            taken.entry(id).or_insert(at);
        }
        if let Some(sim) = &sim {
            for (v, at) in sim.taken_at() {
                let id = v["request"]["id"].as_str().unwrap_or_default().to_owned();
                taken.entry(id).or_insert(at);
            }
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "only {} of {requests} requests reached the partner in 10 minutes",
            taken.len().saturating_sub(1)
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    while let Some(r) = in_flight.join_next().await {
        r??;
    }
    let filed = filed
        .lock()
        .map_err(|_| anyhow::anyhow!("a filing task panicked"))?
        .clone();
    let each: Vec<Duration> = filed
        .iter()
        .filter(|(id, _)| **id != first)
        .filter_map(|(id, sent)| taken.get(id).map(|at| at.saturating_duration_since(*sent)))
        .collect();
    let took = started.elapsed();
    let _ = stop_hooks.send(true);
    let repeats = sim.as_ref().map(|s| s.repeats()).unwrap_or(0);
    if let Some(sim) = sim {
        tokio::task::spawn_blocking(move || drop(sim)).await?;
    }
    drop(county);
    drop(gateway);
    let each = Latencies::new(each);
    let rate = requests as f64 / took.as_secs_f64();
    let via_name = match via {
        Via::Grpc => "grpc",
        Via::Webhook => "webhook",
    };
    let mut figures = each.summary();
    figures["via"] = via_name.into();
    figures["requests"] = requests.into();
    figures["concurrency"] = concurrency.into();
    figures["requests_per_s"] = rate.into();
    figures["repeats"] = repeats.into();
    Ok(Outcome {
        workload: "disposal-delivery",
        system: "fenghuo",
        durability: DURABILITY.into(),
        line: format!(
            "{requests} disposal requests, {concurrency} in flight, county → gateway → partner ({via_name}): {rate:.0} requests/s; filing → partner holds it: {}",
            each.line()
        ),
        figures: json!(figures),
    })
}
