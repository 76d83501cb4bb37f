//! `fenghuo-gateway demo`: a whole province on loopback in one command.
//!
//! Creates (or reuses) a folder with a provincial CA, certificates and configs; starts the
//! gateway (with its dashboard), five Chengdu districts with their real borders as neighbour
//! links (each with its own web pages and a page account), a simulated monitoring system per
//! district feeding its intake, and a webhook partner simulator —
//! each its own process with its own store, on ports chosen at start; seeds sample data
//! through the same gRPC APIs staff use; and prints what to open and paste (an env file per
//! district and for the province, for the installed `fenghuo` CLI). Ctrl-C stops every
//! process; running it again continues with the same data; `--reset` starts fresh.

mod processes;
mod seed;
mod setup;

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use fenghuo_node::pki::client::{ClientFiles, NodeConnection};
use fenghuo_node::pki::web;
use fenghuo_proto::v1::{self, partners_client::PartnersClient, staff_client::StaffClient};

use processes::Processes;
use setup::{Layout, Ports, COUNTIES, PARTNER, PROVINCE, STAFF};

/// The demo's password for the dashboard and every district's pages: a local demo on
/// loopback, never a real deployment.
const DEMO_PASSWORD: &str = "fenghuo-demo-2026";

/// Options of `fenghuo-gateway demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Folder for the demo's CA, certificates, configs, logs and data.
    #[arg(long, default_value = "fenghuo-demo", value_name = "DIR")]
    dir: PathBuf,
    /// Delete the folder first and start fresh.
    #[arg(long)]
    reset: bool,
}

/// One progress line, rewritten in place.
fn progress(step: &str, text: &str) {
    eprint!("\r\x1b[2K[{step}] {text}");
    let _ = std::io::stderr().flush();
}

/// Writes a shell file exporting `who`'s connection for the `fenghuo` CLI.
fn write_env(path: &std::path::Path, purpose: &str, who: &NodeConnection) -> anyhow::Result<()> {
    let show = |p: &PathBuf| p.display().to_string();
    let mut text = format!(
        "# Source this to {purpose}.\n\
         export FENGHUO_NODE={}\nexport FENGHUO_CERT={}\nexport FENGHUO_KEY={}\nexport FENGHUO_CA={}\n\
         export FENGHUO_CRL={}\n",
        who.url,
        show(&who.files.cert),
        show(&who.files.key),
        show(&who.files.ca),
        show(&who.files.crl)
    );
    if let Some(server) = &who.server {
        text.push_str(&format!("export FENGHUO_SERVER={}\n", server.path()));
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// How to get the `fenghuo` and `fenghuo-node` commands the lines above use: already on
/// PATH, built next to this program, or to be installed.
fn cli_hint() -> String {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join("fenghuo").is_file()));
    if on_path {
        return "(`fenghuo` is on your PATH; `fenghuo-node` runs a county of your own.)".into();
    }
    let built = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(std::path::Path::to_path_buf))
        .filter(|d| d.join("fenghuo").is_file());
    match built {
        Some(dir) => format!(
            "(`fenghuo` is built but not on your PATH: export PATH=\"{}:$PATH\")",
            dir.display()
        ),
        None => "(no `fenghuo` on your PATH: `cargo install --path node` installs `fenghuo` and `fenghuo-node`)".into(),
    }
}

/// Runs the demo until Ctrl-C (or SIGTERM).
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    if args.reset && args.dir.exists() {
        std::fs::remove_dir_all(&args.dir)
            .with_context(|| format!("removing {}", args.dir.display()))?;
    }
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let layout = Layout {
        dir: std::path::absolute(&args.dir)?,
    };
    progress(
        "1/4",
        &format!("certificates in {}", layout.pki().display()),
    );
    setup::pki(&layout)?;
    let ports = Ports::pick()?;
    let gateway_cfg = setup::gateway_config(&layout, &ports)?;
    let mut children = Processes::default();
    let mut started = Vec::new();
    progress(
        "2/4",
        "starting the gateway, 5 districts, their monitoring systems and the partner simulator",
    );
    let path = |p: &PathBuf| p.display().to_string();
    children.spawn(
        "gateway",
        &["run", "--config", &path(&gateway_cfg)],
        vec![ports.gateway, ports.dashboard],
        &layout.log("gateway"),
        &layout.dir,
    )?;
    for (code, _) in COUNTIES {
        let cfg = setup::county_config(&layout, &ports, code)?;
        children.spawn(
            code,
            &["node", "--config", &path(&cfg)],
            vec![ports.county(code), ports.county_pages(code)],
            &layout.log(code),
            &layout.dir,
        )?;
    }
    let callback = format!("https://{}", Ports::addr(ports.dashboard));
    let web_ca = layout.pki().join(web::WEB_CA_CERT_FILE);
    children.spawn(
        "partner-sim",
        &[
            "partner-sim",
            "--name",
            PARTNER,
            "--listen",
            &Ports::addr(ports.partner).to_string(),
            "--tls-dir",
            &path(&layout.partner_tls()),
            "--secret-file",
            &path(&layout.partner_secret()),
            "--callback",
            &callback,
            "--callback-ca",
            &path(&web_ca),
            "--after",
            "2s",
        ],
        vec![ports.partner],
        &layout.log("partner-sim"),
        &layout.dir,
    )?;
    // Each district's monitoring system, so its triage list is alive when someone looks.
    for (code, _) in COUNTIES {
        let (cert, key) = layout.monitor_cert(code);
        children.spawn(
            &format!("monitor-{code}"),
            &[
                "monitor-sim",
                "--node",
                &format!("https://{}", Ports::addr(ports.county(code))),
                "--cert",
                &path(&cert),
                "--key",
                &path(&key),
                "--ca",
                &path(&layout.pki().join("ca.crt")),
                "--crl",
                &path(&layout.pki().join(fenghuo_node::pki::ca::CRL_FILE)),
                "--every",
                "4s",
                "--seed",
                code,
            ],
            Vec::new(),
            &layout.log(&format!("monitor-{code}")),
            &layout.dir,
        )?;
    }
    children.wait_ready(|name| {
        started.push(name.to_owned());
        progress("2/4", &format!("started: {}", started.join(" ")));
    })?;
    std::fs::write(
        layout.dir.join("pids"),
        children
            .pids()
            .iter()
            .map(|(n, p)| format!("{n} {p}\n"))
            .collect::<String>(),
    )?;

    let connect = {
        let (layout, ports) = (layout.clone(), ports.clone());
        move |unit: &str| {
            let port = if unit == PROVINCE {
                ports.gateway
            } else {
                ports.county(unit)
            };
            let (cert, key) = layout.staff_cert(unit);
            NodeConnection {
                url: format!("https://{}", Ports::addr(port)),
                files: ClientFiles {
                    cert,
                    key,
                    ca: layout.pki().join("ca.crt"),
                    crl: layout.pki().join(fenghuo_node::pki::ca::CRL_FILE),
                },
                // Each unit's own staff: the CLI expects their unit's node by default.
                server: None,
            }
        }
    };
    // Each district's page account, made as its officer would: with the installed CLI.
    progress("3/4", "district page accounts: fenghuo staff add");
    let cli = setup::fenghuo_cli();
    if let Some(cli) = &cli {
        for (code, _) in COUNTIES {
            setup::county_account(cli, &layout, &ports, code, STAFF, DEMO_PASSWORD)?;
        }
    }
    let runtime = tokio::runtime::Runtime::new()?;
    let seeded_now = runtime.block_on(async {
        if cli.is_none() {
            // No `fenghuo` installed: the same call `fenghuo staff add` makes.
            for (code, _) in COUNTIES {
                let added = StaffClient::new(connect(code).channel().await?)
                    .add_staff(v1::AddStaffRequest {
                        name: STAFF.into(),
                        role: v1::StaffRole::Leader as i32,
                        password: DEMO_PASSWORD.into(),
                        ..Default::default()
                    })
                    .await;
                match added {
                    Err(e) if e.code() != tonic::Code::AlreadyExists => {
                        return Err(anyhow::anyhow!("adding {code}'s page account: {e}"));
                    }
                    _ => {}
                }
            }
        }
        progress("3/4", "dashboard account and partner");
        let gw = connect(PROVINCE).channel().await?;
        StaffClient::new(gw.clone())
            .add_staff(v1::AddStaffRequest {
                name: STAFF.into(),
                role: v1::StaffRole::Admin as i32,
                password: DEMO_PASSWORD.into(),
                replace: true,
                ..Default::default()
            })
            .await
            .context("adding the dashboard account")?;
        let secret = std::fs::read(layout.partner_secret())?;
        // The simulator's port changes at each start: replace its webhook address.
        PartnersClient::new(gw)
            .add_partner(v1::AddPartnerRequest {
                name: PARTNER.into(),
                display_name: "微博 Weibo (simulated)".into(),
                webhook_url: format!("https://{}/hooks/fenghuo", Ports::addr(ports.partner)),
                webhook_secret: secret,
                replace: true,
                handles: "微博 posts, comments and accounts".into(),
            })
            .await
            .context("registering the partner")?;
        if seed::seeded(&connect).await? {
            return anyhow::Ok(false);
        }
        seed::seed(&connect, |step| {
            progress("4/4", &format!("sample data: {step}"))
        })
        .await
        .context("seeding sample data")?;
        anyhow::Ok(true)
    })?;
    eprint!("\r\x1b[2K");

    for (code, name) in COUNTIES {
        write_env(
            &layout.env_file(code),
            &format!("act as the demo staff member of {code} ({name})"),
            &connect(code),
        )?;
    }
    // `env`: the first district's, as earlier demos wrote it.
    let env = layout.dir.join("env");
    write_env(
        &env,
        "act as the demo staff member of 510104 (锦江区 Jinjiang)",
        &connect("510104"),
    )?;
    write_env(
        &layout.env_file(PROVINCE),
        "act as provincial staff against the gateway",
        &connect(PROVINCE),
    )?;

    let shown = |p: &std::path::Path| {
        std::env::current_dir()
            .ok()
            .and_then(|d| p.strip_prefix(d).ok().map(|r| r.display().to_string()))
            .unwrap_or_else(|| p.display().to_string())
    };
    println!("Fenghuo demo: province {PROVINCE} with Chengdu's districts 510104–510108 and partner \"{PARTNER}\" (simulated)");
    println!(
        "  {}",
        if seeded_now {
            "sample data written: risks in every district, an alert, reports, a directive, a disposal request; a simulated monitoring system feeds each district's intake (舆情采集)"
        } else {
            "continuing with the data of the last run (--reset starts fresh)"
        }
    );
    println!();
    println!("  Dashboard  https://{}/", Ports::addr(ports.dashboard));
    println!(
        "             sign in as {STAFF} / {DEMO_PASSWORD}; the certificate is the demo's own:"
    );
    println!(
        "             trust {} or accept the browser's warning",
        shown(&web_ca)
    );
    println!();
    println!(
        "  Each district's own pages (sign in as {STAFF} / {DEMO_PASSWORD}) and CLI env file:"
    );
    for (code, name) in COUNTIES {
        println!(
            "    {code} {name:<16} https://{}/   source {}",
            Ports::addr(ports.county_pages(code)),
            shown(&layout.env_file(code))
        );
    }
    println!();
    println!("  As staff of 510104 (锦江区 Jinjiang), in another terminal:");
    println!("    source {}", shown(&layout.env_file("510104")));
    println!("    fenghuo risk list");
    println!("    fenghuo alert list");
    println!("    fenghuo disposal list");
    println!(
        "    fenghuo intake list      (what the district's simulated monitoring system found)"
    );
    println!(
        "  (source {} instead to act at the gateway: fenghuo overview.)",
        shown(&layout.env_file(PROVINCE))
    );
    println!("  {}", cli_hint());
    println!();
    println!(
        "  Logs in {}. Ctrl-C stops every process.",
        shown(&layout.dir.join("logs"))
    );
    let _ = std::io::stdout().flush();

    let stopped = runtime.block_on(async {
        let signal = fenghuo_node::start::terminate_signal();
        tokio::pin!(signal);
        loop {
            tokio::select! {
                _ = &mut signal => return None,
                _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {
                    if let Some(why) = children.exited() {
                        return Some(why);
                    }
                }
            }
        }
    });
    eprintln!("stopping every process…");
    children.stop();
    let _ = std::fs::remove_file(layout.dir.join("pids"));
    match stopped {
        Some(why) => anyhow::bail!("{why}"),
        None => {
            eprintln!("stopped; run the demo again to continue with the same data");
            Ok(())
        }
    }
}
