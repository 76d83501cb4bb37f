//! `fenghuo-gateway demo`: a province on loopback in one command.
//!
//! Creates (or reuses) a folder with a provincial CA, certificates and configs, starts the
//! gateway (with its dashboard) and a county node (in this process, each with its own store and TLS, on ports
//! the OS picks), seeds sample risks through the same gRPC API staff use, and prints what to
//! paste to try the CLI. Ctrl-C stops both; running it again continues with the same data.

use std::path::{Path, PathBuf};

use anyhow::Context;
use fenghuo_gateway::dashboard;
use fenghuo_node::cli::connect::ConnectArgs;
use fenghuo_node::config::NodeConfig;
use fenghuo_node::identity::Identity;
use fenghuo_node::pki::ca::{CertificateAuthority, IssueOptions};
use fenghuo_node::pki::web;
use fenghuo_node::staff::{self, Role};
use fenghuo_node::{logging, start};
use fenghuo_proto::v1::{self, registry_client::RegistryClient};
use tokio::sync::watch;

const PROVINCE: &str = "51";
const COUNTY: &str = "510104";
const STAFF: &str = "demo";
/// The demo's dashboard password: a local demo on loopback, never a real deployment.
const DEMO_PASSWORD: &str = "fenghuo-demo-2026";

/// Options of `fenghuo-gateway demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Folder for the demo's CA, certificates, configs and data.
    #[arg(long, default_value = "fenghuo-demo", value_name = "DIR")]
    dir: PathBuf,
    /// Delete the folder first and start fresh.
    #[arg(long)]
    reset: bool,
}

fn issue_if_missing(ca: &mut CertificateAuthority, identity: &Identity) -> anyhow::Result<()> {
    if !ca
        .dir()
        .join(format!("{}.crt", identity.file_stem()))
        .exists()
    {
        ca.issue(identity, &IssueOptions::default())
            .with_context(|| format!("issuing {identity}"))?;
    }
    Ok(())
}

fn write_config(dir: &Path, name: &str, text: String) -> anyhow::Result<NodeConfig> {
    let path = dir.join(name);
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(NodeConfig::load(&path)?)
}

fn config_text(
    kind: &str,
    code: &str,
    stem: &str,
    data: &str,
    gateway: Option<std::net::SocketAddr>,
) -> String {
    let gateway = gateway
        .map(|g| format!("gateway = \"{g}\"\n"))
        .unwrap_or_default();
    let dashboard = if kind == "province" {
        let web = web::web_stem(code);
        format!("\n[dashboard]\nlisten = \"127.0.0.1:0\"\ncert = \"pki/{web}.crt\"\nkey = \"pki/{web}.key\"\n")
    } else {
        String::new()
    };
    format!(
        "# Written by `fenghuo-gateway demo`; see docs/configuration.md.\n\
         {kind} = \"{code}\"\n\
         listen = \"127.0.0.1:0\"\n\
         data_dir = \"data/{data}\"\n\
         {gateway}\n\
         [tls]\nca = \"pki/ca.crt\"\ncert = \"pki/{stem}.crt\"\nkey = \"pki/{stem}.key\"\ncrl = \"pki/crl.pem\"\n\n\
         [log]\nfilter = \"warn\"\n{dashboard}"
    )
}

/// Influence, attention, diffusion.
type Scores = (u32, u32, u32);

/// Sample risks across focus points and levels: (title, focus, source, scores).
const SAMPLES: &[(&str, v1::FocusPoint, &str, Option<Scores>)] = &[
    (
        "Demolition compensation dispute spreading on short-video platforms",
        v1::FocusPoint::ReformMeasure,
        "https://video.example/u/4411",
        Some((4, 4, 5)),
    ),
    (
        "Rumour about school enrolment policy change",
        v1::FocusPoint::PolicyAdjustment,
        "weibo: @jinjiang-parents",
        Some((3, 3, 2)),
    ),
    (
        "Crowd expected at the Lantern Festival fair",
        v1::FocusPoint::ActivityConcentration,
        "local forum thread 8812",
        Some((2, 2, 1)),
    ),
    (
        "Chemical plant smell complaints after heavy rain",
        v1::FocusPoint::EmergencyTrigger,
        "https://news.example/a/77",
        Some((5, 5, 5)),
    ),
    (
        "Bus route cuts petition",
        v1::FocusPoint::KeyWork,
        "wechat group (reported)",
        None,
    ),
];

async fn seed(connect: &ConnectArgs) -> anyhow::Result<usize> {
    let mut client = RegistryClient::new(connect.channel().await?);
    let existing = client
        .list_risks(v1::ListRisksRequest {
            limit: 1,
            ..Default::default()
        })
        .await?
        .into_inner();
    if !existing.risks.is_empty() {
        return Ok(0);
    }
    for (title, focus, source, scores) in SAMPLES {
        let r = client
            .create_risk(v1::CreateRiskRequest {
                title: (*title).into(),
                focus: *focus as i32,
                source: (*source).into(),
                department: "County Party Committee Publicity Department".into(),
                ..Default::default()
            })
            .await?
            .into_inner();
        if let Some((influence, attention, diffusion)) = scores {
            client
                .grade_risk(v1::GradeRiskRequest {
                    id: r.id.clone(),
                    influence: *influence,
                    attention: *attention,
                    diffusion: *diffusion,
                })
                .await?;
            client
                .share_risk(v1::ShareRiskRequest {
                    id: r.id.clone(),
                    scope: v1::Audience::Province as i32,
                })
                .await?;
            client
                .add_measure(v1::AddMeasureRequest {
                    id: r.id,
                    action: "Publish an authoritative explanation and meet the people concerned"
                        .into(),
                    owner: "Publicity Department".into(),
                    due: "2026-12-31".into(),
                })
                .await?;
        }
    }
    Ok(SAMPLES.len())
}

/// Runs the demo until Ctrl-C.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    logging::init(Default::default(), Some("warn"));
    if args.reset && args.dir.exists() {
        std::fs::remove_dir_all(&args.dir)
            .with_context(|| format!("removing {}", args.dir.display()))?;
    }
    let dir = std::path::absolute(&args.dir)?;
    let pki = dir.join("pki");
    std::fs::create_dir_all(&pki)?;
    eprintln!("[1/4] certificates in {}", pki.display());
    let mut ca = if pki.join("ca.crt").exists() {
        CertificateAuthority::open(&pki)?
    } else {
        CertificateAuthority::init(&pki, PROVINCE, false)?
    };
    for id in [
        Identity::province(PROVINCE)?,
        Identity::county(COUNTY)?,
        Identity::staff(COUNTY, STAFF)?,
        Identity::staff(PROVINCE, STAFF)?,
    ] {
        issue_if_missing(&mut ca, &id)?;
    }
    if !pki
        .join(format!("{}.crt", web::web_stem(PROVINCE)))
        .exists()
    {
        web::issue(&ca, &[], &[], 365, false).context("issuing the dashboard certificate")?;
    }
    eprintln!("[2/4] configs");
    let gateway_cfg = write_config(
        &dir,
        "gateway.toml",
        config_text(
            "province",
            PROVINCE,
            &format!("province-{PROVINCE}"),
            "gateway",
            None,
        ),
    )?;

    tokio::runtime::Runtime::new()?.block_on(async move {
        let interrupted = start::terminate_signal();
        eprintln!("[3/4] starting the gateway and county {COUNTY}");
        let (stop_tx, stop_rx) = watch::channel(false);
        let stopped = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let gateway = start::launch(&gateway_cfg, stopped(stop_rx.clone())).await?;
        // The county syncs with the gateway, whose port was chosen just now.
        let county_text = config_text("county", COUNTY, &format!("county-{COUNTY}"), COUNTY, Some(gateway.addr));
        let county_cfg = write_config(&dir, &format!("county-{COUNTY}.toml"), county_text)?;
        let county = start::launch(&county_cfg, stopped(stop_rx)).await?;
        let dashboard = match &gateway_cfg.dashboard {
            Some(d) => dashboard::start(d, &gateway_cfg, &gateway).await?,
            None => anyhow::bail!("gateway.toml has no [dashboard]: delete it or run with --reset"),
        };
        if staff::get(gateway.state.store.as_ref(), STAFF)?.is_none() {
            staff::add(gateway.state.store.as_ref(), STAFF, Role::Admin, DEMO_PASSWORD, false, "demo")?;
        }

        let staff = |unit: &str| ConnectArgs {
            node: Some(format!("https://{}", if unit == COUNTY { county.addr } else { gateway.addr })),
            cert: Some(pki.join(format!("staff-{unit}-{STAFF}.crt"))),
            key: Some(pki.join(format!("staff-{unit}-{STAFF}.key"))),
            ca: Some(pki.join("ca.crt")),
        };
        let county_staff = staff(COUNTY);
        eprintln!("[4/4] sample data");
        let seeded = seed(&county_staff).await.context("seeding sample risks")?;

        let env = dir.join("env");
        let opt = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
        std::fs::write(
            &env,
            format!(
                "export FENGHUO_NODE={}\nexport FENGHUO_CERT={}\nexport FENGHUO_KEY={}\nexport FENGHUO_CA={}\n",
                county_staff.node.clone().unwrap_or_default(),
                opt(&county_staff.cert),
                opt(&county_staff.key),
                opt(&county_staff.ca)
            ),
        )?;
        println!();
        println!("Fenghuo demo: province {PROVINCE}, gateway at https://{}, county {COUNTY} at https://{}", gateway.addr, county.addr);
        if seeded > 0 {
            println!("Seeded {seeded} sample risks in county {COUNTY}.");
        }
        println!("The county syncs with the gateway: graded samples are shared with the province, so provincial");
        println!("staff see them there (FENGHUO_CERT=…/staff-{PROVINCE}-{STAFF}.crt, `risk list --origin all`).");
        println!();
        println!("Dashboard: https://{}/  (sign in as {STAFF} / {DEMO_PASSWORD})", dashboard.addr);
        println!("  Its certificate comes from the demo's web CA: trust {} in the browser, or accept", pki.join(web::WEB_CA_CERT_FILE).display());
        println!("  the warning for this local demo.");
        println!("(More counties and partners arrive with later issues.)");
        println!();
        println!("In another terminal, as a staff member of county {COUNTY}:");
        println!("  source {}", env.display());
        println!("  cargo run -q -p fenghuo-node --bin fenghuo -- risk list");
        println!("  cargo run -q -p fenghuo-node --bin fenghuo -- risk show {COUNTY}-1");
        println!("  cargo run -q -p fenghuo-node --bin fenghuo -- risk add --title \"Flooded underpass video\" --focus emergency-trigger");
        println!();
        println!("Ctrl-C stops everything; run the demo again to continue with the same data (--reset starts fresh).");

        interrupted.await;
        eprintln!("stopping…");
        dashboard.task.abort();
        let _ = stop_tx.send(true);
        gateway.task.await??;
        county.task.await??;
        anyhow::Ok(())
    })
}
