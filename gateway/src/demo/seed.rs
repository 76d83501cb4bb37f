//! Sample data, written through the same gRPC APIs staff use: risks across every focus point
//! and level in every district (some shared, some kept local), an alert with
//! acknowledgments, reports, a directive with answers, and a disposal request the simulated
//! partner answers.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::Context;
use fenghuo_node::pki::client::NodeConnection;
use fenghuo_proto::v1::{
    self, alerts_client::AlertsClient, directives_client::DirectivesClient,
    disposal_client::DisposalClient, registry_client::RegistryClient,
    reports_client::ReportsClient,
};
use tonic::transport::Channel;

use super::setup::{PARTNER, PROVINCE};

/// How long one step may wait for what it needs to reach a node.
const SYNC_WAIT: Duration = Duration::from_secs(60);

/// Calls `f` until it succeeds or [`SYNC_WAIT`] passes (what it needs is still syncing).
async fn until<T, F, Fut>(what: &str, mut f: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let deadline = Instant::now() + SYNC_WAIT;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if Instant::now() > deadline => {
                return Err(e.context(format!("waiting for {what}")))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

use v1::FocusPoint as F;

/// Influence, attention, diffusion (each 1–5).
type Scores = (u32, u32, u32);

/// One sample risk: district, title, focus point, source, scores (None: not graded yet),
/// who sees it (None: kept local).
struct Sample {
    county: &'static str,
    title: &'static str,
    focus: F,
    source: &'static str,
    scores: Option<Scores>,
    share: Option<v1::Audience>,
}

const fn s(
    county: &'static str,
    title: &'static str,
    focus: F,
    source: &'static str,
    scores: Option<Scores>,
    share: Option<v1::Audience>,
) -> Sample {
    Sample {
        county,
        title,
        focus,
        source,
        scores,
        share,
    }
}

const P: Option<v1::Audience> = Some(v1::Audience::Province);
const N: Option<v1::Audience> = Some(v1::Audience::Neighbours);
/// A video two districts register on their own: the province sees one incident.
const SHARED_SOURCE: &str = "https://video.example/v/88213";

const SAMPLES: &[Sample] = &[
    s(
        "510104",
        "Chemical smell complaints along the Jinjiang river after heavy rain",
        F::EmergencyTrigger,
        SHARED_SOURCE,
        Some((5, 5, 5)),
        P,
    ),
    s(
        "510104",
        "Demolition compensation dispute spreading on short-video platforms",
        F::ReformMeasure,
        "https://video.example/u/4411",
        Some((4, 4, 5)),
        P,
    ),
    s(
        "510104",
        "Crowd expected at the Chunxi Road lantern fair",
        F::ActivityConcentration,
        "city events calendar",
        Some((2, 2, 1)),
        N,
    ),
    s(
        "510104",
        "Shop owners' group chat about rent increases",
        F::KeyWork,
        "wechat group (reported)",
        None,
        None,
    ),
    s(
        "510105",
        "Rumour about school enrolment zoning change",
        F::PolicyAdjustment,
        "weibo: @qingyang-parents",
        Some((3, 3, 2)),
        P,
    ),
    s(
        "510105",
        "Kuanzhai Alley tourist overcrowding on the holiday",
        F::ActivityConcentration,
        "https://travel.example/t/551",
        Some((3, 2, 2)),
        N,
    ),
    s(
        "510105",
        "Heritage-building renovation objections",
        F::MajorEvent,
        "residents' letter",
        Some((2, 1, 1)),
        None,
    ),
    s(
        "510106",
        "Wholesale market relocation protest call",
        F::ReformMeasure,
        "https://forum.example/t/8812",
        Some((4, 4, 4)),
        P,
    ),
    s(
        "510106",
        "Pension payment delay complaints",
        F::KeyWork,
        "hotline 12345 records",
        Some((3, 3, 3)),
        P,
    ),
    s(
        "510106",
        "Station-area taxi queue dispute",
        F::EmergencyTrigger,
        "traffic police report",
        Some((1, 2, 1)),
        None,
    ),
    s(
        "510107",
        "Video of the river pollution re-shared with a false casualty claim",
        F::EmergencyTrigger,
        SHARED_SOURCE,
        Some((4, 5, 5)),
        P,
    ),
    s(
        "510107",
        "University admissions policy misinformation",
        F::PolicyAdjustment,
        "https://weibo.example/status/77120",
        Some((3, 4, 3)),
        P,
    ),
    s(
        "510107",
        "Marathon road closures annoy commuters",
        F::MajorEvent,
        "city marathon notice",
        Some((2, 2, 2)),
        N,
    ),
    s(
        "510108",
        "Property-management fee strike in a new estate",
        F::KeyWork,
        "community office",
        Some((3, 2, 3)),
        N,
    ),
    s(
        "510108",
        "Panda base ticketing system outage anger",
        F::MajorEvent,
        "https://news.example/a/3310",
        Some((2, 3, 2)),
        P,
    ),
    s(
        "510108",
        "Old-neighbourhood renewal consultation",
        F::ReformMeasure,
        "district notice",
        None,
        None,
    ),
];

/// A gRPC channel to `node` as `unit`'s demo staff member.
pub type Connect = dyn Fn(&str) -> NodeConnection + Send + Sync;

async fn channel(connect: &Connect, unit: &str) -> anyhow::Result<Channel> {
    connect(unit)
        .channel()
        .await
        .with_context(|| format!("connecting to {unit}"))
}

/// Whether the demo was seeded before (its first district holds risks).
pub async fn seeded(connect: &Connect) -> anyhow::Result<bool> {
    let mut r = RegistryClient::new(channel(connect, "510104").await?);
    let list = r
        .list_risks(v1::ListRisksRequest {
            limit: 1,
            ..Default::default()
        })
        .await?
        .into_inner();
    Ok(!list.risks.is_empty())
}

/// Writes every sample; `progress` hears each step.
pub async fn seed(connect: &Connect, mut progress: impl FnMut(&str)) -> anyhow::Result<()> {
    progress("risks");
    for sample in SAMPLES {
        let mut reg = RegistryClient::new(channel(connect, sample.county).await?);
        let risk = reg
            .create_risk(v1::CreateRiskRequest {
                title: sample.title.into(),
                focus: sample.focus as i32,
                source: sample.source.into(),
                department: "District Party Committee Publicity Department".into(),
                ..Default::default()
            })
            .await?
            .into_inner();
        if let Some((influence, attention, diffusion)) = sample.scores {
            reg.grade_risk(v1::GradeRiskRequest {
                id: risk.id.clone(),
                influence,
                attention,
                diffusion,
                ..Default::default()
            })
            .await?;
            reg.add_measure(v1::AddMeasureRequest {
                id: risk.id.clone(),
                action: "Publish an authoritative explanation and meet the people concerned".into(),
                owner: "Publicity Department".into(),
                due: "2026-12-31".into(),
            })
            .await?;
        }
        if let Some(scope) = sample.share {
            reg.share_risk(v1::ShareRiskRequest {
                id: risk.id,
                scope: scope as i32,
                counties: Vec::new(),
            })
            .await?;
        }
    }

    progress("an alert to Jinjiang's neighbours");
    let mut alerts = AlertsClient::new(channel(connect, "510104").await?);
    let alert = alerts
        .issue_alert(v1::IssueAlertRequest {
            content: Some(v1::AlertContent {
                headline: "False casualty claim about the river pollution spreading".into(),
                description: "A re-shared video claims deaths; none occurred. Prepare the \
                              joint statement with the environment bureau."
                    .into(),
                instruction: "Acknowledge, and report re-shares in your district.".into(),
                event: "Online rumour".into(),
                urgency: "immediate".into(),
                severity: "severe".into(),
                certainty: "likely".into(),
                audience: "neighbours".into(),
                ..Default::default()
            }),
        })
        .await?
        .into_inner();
    for county in ["510105", "510107"] {
        let a = AlertsClient::new(channel(connect, county).await?);
        until(&format!("the alert at {county}"), || {
            let mut a = a.clone();
            let id = alert.id.clone();
            async move {
                a.acknowledge_alert(v1::AcknowledgeAlertRequest {
                    id,
                    note: "Received; monitoring re-shares".into(),
                })
                .await?;
                Ok(())
            }
        })
        .await?;
    }

    progress("a report from Jinniu");
    let mut reports = ReportsClient::new(channel(connect, "510106").await?);
    reports
        .file_report(v1::FileReportRequest {
            summary: "About 200 traders plan to gather at the wholesale market on Saturday \
                      over the relocation; talks with the market operator are under way."
                .into(),
            risk: String::new(),
        })
        .await?;

    progress("a directive from the province");
    let mut directives = DirectivesClient::new(channel(connect, PROVINCE).await?);
    let directive = directives
        .issue_directive(v1::IssueDirectiveRequest {
            kind: "directive".into(),
            text: "Verify every re-share of the river-pollution video in your district and \
                   report the accounts involved."
                .into(),
            deadline_ms: fenghuo_node::timespec::now_ms() + 2 * 24 * 3600 * 1000,
            targets: Vec::new(),
        })
        .await?
        .into_inner();
    for (county, text) in [
        ("510104", "Three accounts found; statements requested"),
        (
            "510107",
            "One account; the video was taken down by its author",
        ),
    ] {
        let d = DirectivesClient::new(channel(connect, county).await?);
        until(&format!("the directive at {county}"), || {
            let mut d = d.clone();
            let id = directive.id.clone();
            async move {
                d.respond_directive(v1::RespondDirectiveRequest {
                    id,
                    status: "done".into(),
                    text: text.into(),
                })
                .await?;
                Ok(())
            }
        })
        .await?;
    }

    progress("a disposal request to the partner");
    let d = DisposalClient::new(channel(connect, "510104").await?);
    let request = until("the partner at Jinjiang", || {
        let mut d = d.clone();
        async move {
            Ok(d.file_request(v1::FileDisposalRequest {
                partner: PARTNER.into(),
                urls: vec![SHARED_SOURCE.into()],
                action: "label".into(),
                reason: "The video claims deaths at the river; none occurred (see the \
                         environment bureau's statement)."
                    .into(),
                legal_basis: "Provisions on the Governance of the Online Information Content \
                              Ecosystem, art. 6"
                    .into(),
                deadline_ms: fenghuo_node::timespec::now_ms() + 24 * 3600 * 1000,
                evidence: Vec::new(),
                risk: String::new(),
            })
            .await?
            .into_inner())
        }
    })
    .await?;
    until("the partner's outcome at Jinjiang", || {
        let mut d = d.clone();
        let id = request.id.clone();
        async move {
            let r = d
                .get_request(v1::GetDisposalRequest { id })
                .await?
                .into_inner();
            anyhow::ensure!(r.outcome.is_some(), "no outcome yet ({})", r.state);
            Ok(())
        }
    })
    .await?;
    Ok(())
}
