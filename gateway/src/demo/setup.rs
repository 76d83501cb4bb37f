//! The demo's folder: a provincial CA and certificates, the partner simulator's own TLS and
//! webhook secret, a configuration per process, written anew at each start because the
//! ports are chosen then, and each district's page account.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use anyhow::Context;
use fenghuo_gateway::partner_sim;
use fenghuo_node::identity::Identity;
use fenghuo_node::pki::ca::{CertificateAuthority, IssueOptions};
use fenghuo_node::pki::web;

/// The province: Sichuan.
pub const PROVINCE: &str = "51";
/// Chengdu's five central districts: division code and name.
pub const COUNTIES: &[(&str, &str)] = &[
    ("510104", "锦江区 Jinjiang"),
    ("510105", "青羊区 Qingyang"),
    ("510106", "金牛区 Jinniu"),
    ("510107", "武侯区 Wuhou"),
    ("510108", "成华区 Chenghua"),
];
/// Which of them share a border (the neighbour links).
pub const BORDERS: &[(&str, &str)] = &[
    ("510104", "510105"),
    ("510104", "510107"),
    ("510104", "510108"),
    ("510105", "510106"),
    ("510105", "510107"),
    ("510106", "510108"),
];
/// The simulated partner website.
pub const PARTNER: &str = "weibo";
/// Each district's simulated monitoring system (its intake certificate's system name).
pub const MONITOR: &str = "demo-monitor";

/// Every staff certificate and the dashboard account are called this.
pub const STAFF: &str = "demo";

/// Where everything of one demo lives.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The demo folder (absolute).
    pub dir: PathBuf,
}

impl Layout {
    /// The CA and every certificate.
    pub fn pki(&self) -> PathBuf {
        self.dir.join("pki")
    }

    /// The partner simulator's TLS folder.
    pub fn partner_tls(&self) -> PathBuf {
        self.dir.join("partner-sim")
    }

    /// The webhook secret the gateway and the simulator share.
    pub fn partner_secret(&self) -> PathBuf {
        self.dir.join("partner-sim").join("secret")
    }

    /// One log file per process.
    pub fn log(&self, name: &str) -> PathBuf {
        self.dir.join("logs").join(format!("{name}.log"))
    }

    /// The env file that sets the `fenghuo` CLI up as `unit`'s demo staff member.
    pub fn env_file(&self, unit: &str) -> PathBuf {
        if unit == PROVINCE {
            self.dir.join("env-province")
        } else {
            self.dir.join(format!("env-{unit}"))
        }
    }

    /// The intake certificate and key of `county`'s simulated monitoring system.
    pub fn monitor_cert(&self, county: &str) -> (PathBuf, PathBuf) {
        let stem = format!("intake-{county}-{MONITOR}");
        let pki = self.pki();
        (
            pki.join(format!("{stem}.crt")),
            pki.join(format!("{stem}.key")),
        )
    }

    /// A staff member's certificate and key.
    pub fn staff_cert(&self, unit: &str) -> (PathBuf, PathBuf) {
        let stem = format!("staff-{unit}-{STAFF}");
        (
            self.pki().join(format!("{stem}.crt")),
            self.pki().join(format!("{stem}.key")),
        )
    }
}

/// The ports of one run.
#[derive(Debug, Clone)]
pub struct Ports {
    /// The gateway's gRPC port.
    pub gateway: u16,
    /// The dashboard's.
    pub dashboard: u16,
    /// Each county's, in [`COUNTIES`] order.
    pub counties: Vec<u16>,
    /// Each county's web pages, in [`COUNTIES`] order.
    pub county_pages: Vec<u16>,
    /// The partner simulator's.
    pub partner: u16,
}

fn free_port() -> anyhow::Result<u16> {
    // Bound and released at once: another program could take it before our process does,
    // which on a loopback demo is rare; a clash shows as a clear "address in use" in the log.
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(l.local_addr()?.port())
}

impl Ports {
    /// Free loopback ports for every process.
    pub fn pick() -> anyhow::Result<Self> {
        Ok(Self {
            gateway: free_port()?,
            dashboard: free_port()?,
            counties: COUNTIES
                .iter()
                .map(|_| free_port())
                .collect::<Result<_, _>>()?,
            county_pages: COUNTIES
                .iter()
                .map(|_| free_port())
                .collect::<Result<_, _>>()?,
            partner: free_port()?,
        })
    }

    /// The loopback address of `port`.
    pub fn addr(port: u16) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, port))
    }

    /// County `code`'s port.
    pub fn county(&self, code: &str) -> u16 {
        Self::of(&self.counties, code)
    }

    /// County `code`'s web pages' port.
    pub fn county_pages(&self, code: &str) -> u16 {
        Self::of(&self.county_pages, code)
    }

    fn of(ports: &[u16], code: &str) -> u16 {
        COUNTIES
            .iter()
            .position(|(c, _)| *c == code)
            .and_then(|i| ports.get(i).copied())
            .unwrap_or(0)
    }
}

fn issue_if_missing(ca: &mut CertificateAuthority, identity: &Identity) -> anyhow::Result<()> {
    let stem = identity.file_stem();
    if !ca.dir().join(format!("{stem}.crt")).exists() {
        ca.issue(identity, &IssueOptions::default())
            .with_context(|| format!("issuing {identity}"))?;
    }
    Ok(())
}

/// Makes (or keeps) the CA, every certificate, the partner's TLS and secret.
pub fn pki(layout: &Layout) -> anyhow::Result<()> {
    let pki = layout.pki();
    std::fs::create_dir_all(&pki).with_context(|| format!("creating {}", pki.display()))?;
    std::fs::create_dir_all(layout.dir.join("logs"))?;
    let mut ca = if pki.join("ca.crt").exists() {
        CertificateAuthority::open(&pki)?
    } else {
        CertificateAuthority::init(&pki, PROVINCE, false)?
    };
    issue_if_missing(&mut ca, &Identity::province(PROVINCE)?)?;
    issue_if_missing(&mut ca, &Identity::staff(PROVINCE, STAFF)?)?;
    for (code, _) in COUNTIES {
        issue_if_missing(&mut ca, &Identity::county(code)?)?;
        issue_if_missing(&mut ca, &Identity::staff(code, STAFF)?)?;
        issue_if_missing(&mut ca, &Identity::intake(code, MONITOR)?)?;
    }
    if !pki
        .join(format!("{}.crt", web::web_stem(PROVINCE)))
        .exists()
    {
        web::issue(&ca, &[], &[], 365, false).context("issuing the dashboard certificate")?;
    }
    for (code, _) in COUNTIES {
        let county = Identity::county(code)?;
        if !pki
            .join(format!("{}.crt", web::web_stem_of(&county)))
            .exists()
        {
            web::issue_for(&ca, &county, &[], &[], 365, false)
                .with_context(|| format!("issuing the pages' certificate of {code}"))?;
        }
    }
    partner_sim::ensure_tls(
        &layout.partner_tls(),
        &["localhost".to_owned(), "127.0.0.1".to_owned()],
    )?;
    if !layout.partner_secret().exists() {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        // The Standard Webhooks form the partner's library takes as it is.
        let text = fenghuo_node::disposal::signature::format_secret(&bytes);
        std::fs::write(layout.partner_secret(), text)?;
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> anyhow::Result<PathBuf> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path.to_owned())
}

fn tls_block(stem: &str) -> String {
    format!(
        "[tls]\nca = \"pki/ca.crt\"\ncert = \"pki/{stem}.crt\"\nkey = \"pki/{stem}.key\"\ncrl = \"pki/crl.pem\"\n"
    )
}

/// Writes the gateway's configuration for `ports`.
pub fn gateway_config(layout: &Layout, ports: &Ports) -> anyhow::Result<PathBuf> {
    let web = web::web_stem(PROVINCE);
    let text = format!(
        "# Written by `fenghuo-gateway demo` at each start (the ports change); see docs/configuration.md.\n\
         province = \"{PROVINCE}\"\n\
         listen = \"{}\"\n\
         data_dir = \"data/gateway\"\n\n\
         {}\n\
         [log]\nformat = \"json\"\nfilter = \"info\"\n\n\
         [dashboard]\nlisten = \"{}\"\ncert = \"pki/{web}.crt\"\nkey = \"pki/{web}.key\"\n\n\
         [disposal]\nreview = \"auto\"\n# The partner simulator's own CA.\nwebhook_ca = \"partner-sim/{}\"\n# The simulator listens on this machine's loopback address.\nallow_private_webhooks = true\n",
        Ports::addr(ports.gateway),
        tls_block(&format!("province-{PROVINCE}")),
        Ports::addr(ports.dashboard),
        partner_sim::CA_FILE,
    );
    write(&layout.dir.join("gateway.toml"), &text)
}

/// Every district's intake: watch rules for the simulator's topics, figures published to the
/// province each minute.
const INTAKE: &str = "[intake]\nretention_days = 90\npublish_every_secs = 60\n\
    [[intake.rules]]\npattern = \"拆迁|补偿|旧改\"\nfocus = \"重要改革举措\"\n\
    [[intake.rules]]\npattern = \"暴雨|内涝\"\nfocus = \"突发事件触发点\"\n\
    [[intake.rules]]\npattern = \"招生|划片\"\nfocus = \"政策调整热点难点\"\n\
    [[intake.rules]]\npattern = \"聚集|维权|讨薪\"\nfocus = \"活动集中点\"\n";

/// Writes county `code`'s configuration for `ports`, with its bordering districts and its
/// web pages, served with the county's own certificate from the provincial web CA
/// (`county-<code>-web`, as `fenghuo ca issue web <code>` makes it).
pub fn county_config(layout: &Layout, ports: &Ports, code: &str) -> anyhow::Result<PathBuf> {
    let web = web::web_stem_of(&Identity::county(code)?);
    let mut text = format!(
        "# Written by `fenghuo-gateway demo` at each start (the ports change); see docs/configuration.md.\n\
         county = \"{code}\"\n\
         listen = \"{}\"\n\
         data_dir = \"data/{code}\"\n\
         gateway = \"{}\"\n\n\
         {}\n\
         [log]\nformat = \"json\"\nfilter = \"info\"\n\n\
         [dashboard]\nlisten = \"{}\"\ncert = \"pki/{web}.crt\"\nkey = \"pki/{web}.key\"\n\n\
         {INTAKE}",
        Ports::addr(ports.county(code)),
        Ports::addr(ports.gateway),
        tls_block(&format!("county-{code}")),
        Ports::addr(ports.county_pages(code)),
    );
    for other in neighbours(code) {
        let _ = write!(
            text,
            "\n[[neighbours]]\ncode = \"{other}\"\naddress = \"{}\"\n",
            Ports::addr(ports.county(other))
        );
    }
    write(&layout.dir.join(format!("county-{code}.toml")), &text)
}

/// The `fenghuo` command-line tool officers run: the one installed beside this program (as
/// `cargo install` and a build put them), else the first on PATH.
pub fn fenghuo_cli() -> Option<PathBuf> {
    let name = format!("fenghuo{}", std::env::consts::EXE_SUFFIX);
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(&name)))
        .filter(|p| p.is_file())
        .or_else(|| {
            let path = std::env::var_os("PATH")?;
            std::env::split_paths(&path)
                .map(|dir| dir.join(&name))
                .find(|p| p.is_file())
        })
}

/// Makes the page account `name` (a leader, 分管领导: all a county's roles allow) at county
/// `code`'s running node as its officer would, with `cli`: `fenghuo staff add NAME --role
/// leader --password-stdin`, presenting the county's demo staff certificate. An account
/// already there is kept (its password may have been changed since). True when it was made.
pub fn county_account(
    cli: &Path,
    layout: &Layout,
    ports: &Ports,
    code: &str,
    name: &str,
    password: &str,
) -> anyhow::Result<bool> {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let (cert, key) = layout.staff_cert(code);
    let mut cmd = Command::new(cli);
    // The officer's own FENGHUO_* settings (another node, zone, CRL) are not this demo's.
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("FENGHUO_") {
            cmd.env_remove(var);
        }
    }
    cmd.arg("--node")
        .arg(format!("https://{}", Ports::addr(ports.county(code))))
        .arg("--cert")
        .arg(&cert)
        .arg("--key")
        .arg(&key)
        .arg("--ca")
        .arg(layout.pki().join("ca.crt"))
        .args(["staff", "add", name, "--role", "leader", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .with_context(|| format!("running {}", cli.display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(format!("{password}\n").as_bytes())?;
    }
    let out = child.wait_with_output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        Ok(true)
    } else if stderr.contains("already exists") {
        Ok(false)
    } else {
        anyhow::bail!("fenghuo staff add {name} at {code}: {}", stderr.trim())
    }
}

/// The districts bordering `code`.
pub fn neighbours(code: &str) -> Vec<&'static str> {
    BORDERS
        .iter()
        .filter_map(|(a, b)| {
            if *a == code {
                Some(*b)
            } else if *b == code {
                Some(*a)
            } else {
                None
            }
        })
        .collect()
}
