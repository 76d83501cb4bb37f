//! A whole province on loopback: one CA, the provincial gateway, county nodes with their
//! neighbours, and a [`FaultProxy`] on every sync link so a test can cut and heal links, kill
//! and restart nodes.
//!
//! ```no_run
//! use fenghuo_tests::province::TestProvince;
//!
//! let p = TestProvince::new("51")
//!     .county("510104")
//!     .county("510105")
//!     .neighbours("510104", "510105")
//!     .start();
//! p.link("510104", "510105").cut();
//! p.cli("510104").args(["risk", "list", "--json"]).run().ok();
//! p.link("510104", "510105").heal();
//! p.wait_converged();
//! ```
//!
//! Topology, as the nodes implement it: a county dials the gateway and each neighbour whose
//! code is higher than its own; the gateway dials nobody. So there is one proxy per county
//! for its gateway link and one per neighbour pair, and each node's config names the proxy,
//! never the node behind it. The proxy follows the node when it restarts on a new port.
//!
//! Members are named by county code, or [`GATEWAY`] for the gateway. Every member is read as
//! the provincial staff member `staff-<province>-p` for federation status; each county's
//! register is read as its own staff member `staff-<code>-s`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use fenghuo_proto::v1::federation_client::FederationClient;
use fenghuo_proto::v1::registry_client::RegistryClient;
use serde_json::Value;
use tempfile::TempDir;
use tonic::transport::Channel;

use crate::cli::Cli;
use crate::daemon::{Daemon, Kind};
use crate::grpc;
use crate::pki::{unit_of, TestPki};
use crate::proxy::FaultProxy;
use crate::wait;

/// The member name of the provincial gateway.
pub const GATEWAY: &str = "gateway";
/// How long [`Province::wait_feeds`] and friends wait by default.
pub const SYNC_TIMEOUT: Duration = Duration::from_secs(30);
/// How often they look.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// A status read (`feeds`, `peers`) that takes longer than this fails the test.
const READ_TIMEOUT: Duration = Duration::from_secs(15);

/// A version vector as `fenghuo feeds --json` prints it: (origin, audience) → highest seq,
/// e.g. `("county/510104", "neighbours") → 3`.
pub type Feeds = BTreeMap<(String, String), u64>;

/// The feed key of `origin_path` (an identity path, `county/510104`) and `audience`.
pub fn feed(origin_path: &str, audience: &str) -> (String, String) {
    (origin_path.to_owned(), audience.to_owned())
}

/// A province to start; [`TestProvince::start`] starts it.
#[derive(Debug, Clone)]
pub struct TestProvince {
    /// Two-digit province code.
    province: String,
    /// County codes, in the order given.
    counties: Vec<String>,
    /// Neighbour pairs, each (lower, higher).
    neighbours: BTreeSet<(String, String)>,
    /// `RUST_LOG` for every server.
    rust_log: Option<String>,
    /// TOML appended to every server's config.
    extra_config: String,
    /// TOML appended to the gateway's config only.
    gateway_extra: String,
    /// Serve the dashboard.
    dashboard: bool,
    /// Further keys of its `[dashboard]` section.
    dashboard_extra: String,
    /// Each county reads its own copy of crl.pem (only the gateway reads the CA's).
    county_crl_copies: bool,
    /// Certificates of the kind issued before TLS keys were ECDSA: one Ed25519 key each.
    legacy_keys: bool,
    /// Unit names given to `fenghuo ca issue county --name`, by county code.
    names: BTreeMap<String, String>,
    /// Config appended to one county's node.toml only, by county code.
    county_extra: BTreeMap<String, String>,
}

impl TestProvince {
    /// The province of the federation tests: a gateway and counties A (510104), B (510105)
    /// and C (510106), A–B and B–C neighbours, A and C not; started.
    pub fn abc() -> Province {
        Self::new("51")
            .county("510104")
            .county("510105")
            .county("510106")
            .neighbours("510104", "510105")
            .neighbours("510105", "510106")
            .start()
    }

    /// A province with a gateway and no counties yet.
    pub fn new(province: &str) -> Self {
        Self {
            province: province.to_owned(),
            counties: Vec::new(),
            neighbours: BTreeSet::new(),
            rust_log: None,
            extra_config: String::new(),
            gateway_extra: String::new(),
            dashboard: false,
            dashboard_extra: String::new(),
            county_crl_copies: false,
            legacy_keys: false,
            names: BTreeMap::new(),
            county_extra: BTreeMap::new(),
        }
    }

    /// Adds a county node.
    pub fn county(mut self, code: &str) -> Self {
        assert!(
            !self.counties.iter().any(|c| c == code),
            "county {code} added twice"
        );
        self.counties.push(code.to_owned());
        self
    }

    /// Adds a county node whose certificate names it `name` (`fenghuo ca issue county CODE
    /// --name NAME`).
    pub fn county_named(mut self, code: &str, name: &str) -> Self {
        self.names.insert(code.to_owned(), name.to_owned());
        self.county(code)
    }

    /// Makes two counties neighbours (configured on both sides).
    pub fn neighbours(mut self, a: &str, b: &str) -> Self {
        assert!(a != b, "a county is not its own neighbour");
        for c in [a, b] {
            assert!(
                self.counties.iter().any(|x| x == c),
                "add county {c} before naming its neighbours"
            );
        }
        self.neighbours.insert(ordered(a, b));
        self
    }

    /// Sets `RUST_LOG` for every server (e.g. "info,fenghuo_node::sync=debug").
    pub fn rust_log(mut self, filter: &str) -> Self {
        self.rust_log = Some(filter.to_owned());
        self
    }

    /// Appends `toml` to every server's config (e.g. `[alerts]` settings).
    pub fn config(mut self, toml: &str) -> Self {
        self.extra_config.push('\n');
        self.extra_config.push_str(toml);
        self
    }

    /// Appends `toml` to county `code`'s config only (e.g. its `[intake]`).
    pub fn county_config(mut self, code: &str, toml: &str) -> Self {
        let extra = self.county_extra.entry(code.to_owned()).or_default();
        extra.push('\n');
        extra.push_str(toml);
        self
    }

    /// Appends `toml` to the gateway's config only (e.g. `[dashboard]`).
    pub fn gateway_config(mut self, toml: &str) -> Self {
        self.gateway_extra.push('\n');
        self.gateway_extra.push_str(toml);
        self
    }

    /// Serves the web dashboard on a loopback port chosen at start ([`Province::dashboard_url`]).
    pub fn dashboard(mut self) -> Self {
        self.dashboard = true;
        self
    }

    /// Serves the dashboard with further `[dashboard]` keys, e.g. `signin_delay = "10m"`.
    pub fn dashboard_with(mut self, keys: &str) -> Self {
        self.dashboard = true;
        self.dashboard_extra.push('\n');
        self.dashboard_extra.push_str(keys);
        self
    }

    /// Gives each county its own copy of crl.pem, as separate machines have: a revocation
    /// (`TestPki::revoke` rewrites the CA's crl.pem, which the gateway reads) reaches the
    /// counties only through the province feed.
    pub fn county_crl_copies(mut self) -> Self {
        self.county_crl_copies = true;
        self
    }

    /// Issues every certificate as before TLS keys were ECDSA (one Ed25519 key for TLS and
    /// feeds), for tests of the migration.
    pub fn legacy_keys(mut self) -> Self {
        self.legacy_keys = true;
        self
    }

    /// Issues the certificates, writes the configs and starts the gateway, then every county;
    /// returns once every link is connected.
    pub fn start(self) -> Province {
        let pki = TestPki::new(&self.province);
        if self.legacy_keys {
            pki.issue_legacy(&self.province, &self.counties);
        } else {
            pki.issue_province(&self.province)
                .issue_staff(&self.province, "p");
            for c in &self.counties {
                match self.names.get(c) {
                    Some(name) => pki.run_ca(["issue", "county", c, "--name", name]),
                    None => pki.issue_county(c),
                }
                .issue_staff(c, "s");
            }
        }
        let dir = tempfile::Builder::new()
            .prefix(&format!("fenghuo-province-{}-", self.province))
            .tempdir()
            .expect("cannot create a temporary folder for the province");

        let mut links = BTreeMap::new();
        for c in &self.counties {
            links.insert(
                (c.clone(), GATEWAY.to_owned()),
                FaultProxy::start(&format!("{c}→{GATEWAY}")),
            );
        }
        for (lo, hi) in &self.neighbours {
            links.insert(
                (lo.clone(), hi.clone()),
                FaultProxy::start(&format!("{lo}→{hi}")),
            );
        }
        let mut adjacency: BTreeMap<String, BTreeSet<String>> = self
            .counties
            .iter()
            .map(|c| (c.clone(), BTreeSet::new()))
            .collect();
        for (lo, hi) in &self.neighbours {
            adjacency.entry(lo.clone()).or_default().insert(hi.clone());
            adjacency.entry(hi.clone()).or_default().insert(lo.clone());
        }

        let gateway_config = dir.path().join("gateway.toml");
        Cli::new()
            .args([
                "init",
                "gateway",
                "--province",
                &self.province,
                "--listen",
                "127.0.0.1:0",
            ])
            .arg("--pki")
            .arg(pki.dir())
            .arg("--data")
            .arg(dir.path().join("gateway-data"))
            .arg("--out")
            .arg(&gateway_config)
            .run()
            .ok();
        append(&gateway_config, &self.extra_config);
        append(&gateway_config, &self.gateway_extra);
        if self.dashboard {
            pki.issue_web();
            let stem = format!("province-{}-web", self.province);
            append(
                &gateway_config,
                &format!(
                    "\n[dashboard]\nlisten = \"127.0.0.1:0\"\ncert = {:?}\nkey = {:?}\n{}\n",
                    pki.dir().join(format!("{stem}.crt")),
                    pki.dir().join(format!("{stem}.key")),
                    self.dashboard_extra,
                ),
            );
        }
        let mut county_configs = Vec::new();
        for c in &self.counties {
            let config = dir.path().join(format!("node-{c}.toml"));
            let mut cli = Cli::new()
                .args(["init", "node", "--county", c, "--listen", "127.0.0.1:0"])
                .arg("--pki")
                .arg(pki.dir())
                .arg("--data")
                .arg(dir.path().join(format!("data-{c}")))
                .arg("--out")
                .arg(&config)
                .arg("--gateway")
                .arg(links[&(c.clone(), GATEWAY.to_owned())].addr().to_string());
            for n in &adjacency[c] {
                // Only the lower code dials; the higher one is still configured with the
                // same proxy's address, as an operator would write it.
                let proxy = &links[&ordered(c, n)];
                cli = cli.arg("--neighbour").arg(format!("{n}={}", proxy.addr()));
            }
            cli.run().ok();
            if self.county_crl_copies {
                let copy = dir.path().join(format!("crl-{c}.pem"));
                std::fs::copy(pki.crl(), &copy).expect("copying crl.pem");
                let text = std::fs::read_to_string(&config).expect("reading a config just written");
                let text = text
                    .lines()
                    .map(|l| {
                        if l.starts_with("crl = ") {
                            format!("crl = {:?}", copy.display().to_string())
                        } else {
                            l.to_owned()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                std::fs::write(&config, text + "\n").expect("writing a config");
            }
            append(&config, &self.extra_config);
            if let Some(extra) = self.county_extra.get(c) {
                append(&config, extra);
            }
            county_configs.push((c.clone(), config));
        }

        let gateway = Daemon::start(
            GATEWAY,
            Kind::Gateway,
            &gateway_config,
            self.rust_log.as_deref(),
        );
        let mut province = Province {
            gateway,
            counties: BTreeMap::new(),
            links,
            adjacency,
            province: self.province,
            pki,
            dir,
        };
        province.retarget(GATEWAY);
        for (c, config) in county_configs {
            let d = Daemon::start(&c, Kind::Node, &config, self.rust_log.as_deref());
            province.counties.insert(c.clone(), d);
            province.retarget(&c);
        }
        province.wait_links_up();
        province
    }
}

fn append(config: &std::path::Path, toml: &str) {
    if toml.is_empty() {
        return;
    }
    let mut text = std::fs::read_to_string(config).expect("reading a config just written");
    text.push_str(toml);
    std::fs::write(config, text).expect("writing a config");
}

fn ordered(a: &str, b: &str) -> (String, String) {
    if a < b {
        (a.to_owned(), b.to_owned())
    } else {
        (b.to_owned(), a.to_owned())
    }
}

/// A running province. Dropping it kills every server, stops the proxies and removes the
/// configs, data and CA; if the test is failing, every server's log is printed first.
#[derive(Debug)]
pub struct Province {
    /// The provincial gateway.
    gateway: Daemon,
    /// County nodes by code.
    counties: BTreeMap<String, Daemon>,
    /// One proxy per link, keyed (dialler, dialled): (county, [`GATEWAY`]) or (lower, higher).
    links: BTreeMap<(String, String), FaultProxy>,
    /// Each county's configured neighbours.
    adjacency: BTreeMap<String, BTreeSet<String>>,
    /// Two-digit province code.
    province: String,
    /// The CA, every certificate and crl.pem (which every server watches).
    pki: TestPki,
    /// Configs and data folders; declared after the servers so it is removed after them.
    dir: TempDir,
}

impl Province {
    /// The CA of the province (certificates, crl.pem).
    pub fn pki(&self) -> &TestPki {
        &self.pki
    }

    /// The province code, e.g. "51".
    pub fn province(&self) -> &str {
        &self.province
    }

    /// The folder holding configs and data.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// County codes, in order.
    pub fn county_codes(&self) -> Vec<String> {
        self.counties.keys().cloned().collect()
    }

    /// [`GATEWAY`] and every county code.
    pub fn members(&self) -> Vec<String> {
        std::iter::once(GATEWAY.to_owned())
            .chain(self.counties.keys().cloned())
            .collect()
    }

    /// The gateway process.
    pub fn gateway(&self) -> &Daemon {
        &self.gateway
    }

    /// A county's process.
    pub fn county(&self, code: &str) -> &Daemon {
        self.counties
            .get(code)
            .unwrap_or_else(|| panic!("no county {code} in this province"))
    }

    /// A member's process: [`GATEWAY`] or a county code.
    pub fn member(&self, name: &str) -> &Daemon {
        if name == GATEWAY {
            &self.gateway
        } else {
            self.county(name)
        }
    }

    fn member_mut(&mut self, name: &str) -> &mut Daemon {
        if name == GATEWAY {
            &mut self.gateway
        } else {
            self.counties
                .get_mut(name)
                .unwrap_or_else(|| panic!("no county {name} in this province"))
        }
    }

    /// The identity path of a member: `county/510104` or `province/51`.
    pub fn path_of(&self, name: &str) -> String {
        if name == GATEWAY {
            format!("province/{}", self.province)
        } else {
            format!("county/{name}")
        }
    }

    /// The member an identity path names (`county/510104` → "510104", `province/51` →
    /// [`GATEWAY`]).
    pub fn member_of_path(&self, path: &str) -> Option<String> {
        match path.split_once('/')? {
            ("province", p) if p == self.province => Some(GATEWAY.to_owned()),
            ("county", c) if self.counties.contains_key(c) => Some(c.to_owned()),
            _ => None,
        }
    }

    /// A county's configured neighbours.
    pub fn neighbours_of(&self, code: &str) -> &BTreeSet<String> {
        &self.adjacency[code]
    }

    /// The staff certificate stem of a county (`staff-510104-s`) or of the province
    /// (`staff-51-p`) for [`GATEWAY`].
    pub fn staff(&self, name: &str) -> String {
        if name == GATEWAY {
            self.provincial_staff()
        } else {
            format!("staff-{name}-s")
        }
    }

    /// The provincial staff certificate stem, `staff-51-p`.
    pub fn provincial_staff(&self) -> String {
        format!("staff-{}-p", self.province)
    }

    /// The certificate stem of a member's node: `county-510104` or `province-51`.
    pub fn node_stem(&self, name: &str) -> String {
        if name == GATEWAY {
            format!("province-{}", self.province)
        } else {
            format!("county-{name}")
        }
    }

    /// The proxy on the link between `a` and `b` (two neighbouring counties in either order,
    /// or a county and [`GATEWAY`]).
    pub fn link(&self, a: &str, b: &str) -> &FaultProxy {
        let key = if a == GATEWAY {
            (b.to_owned(), GATEWAY.to_owned())
        } else if b == GATEWAY {
            (a.to_owned(), GATEWAY.to_owned())
        } else {
            ordered(a, b)
        };
        self.links
            .get(&key)
            .unwrap_or_else(|| panic!("no link between {a} and {b}"))
    }

    /// Every link as (dialler, dialled) with its proxy.
    pub fn links(&self) -> impl Iterator<Item = (&(String, String), &FaultProxy)> {
        self.links.iter()
    }

    /// Heals every link.
    pub fn heal_all(&self) {
        for p in self.links.values() {
            p.heal();
        }
    }

    /// Points every proxy that leads to `name` at where it listens now (or nowhere).
    fn retarget(&self, name: &str) {
        let target = self
            .member(name)
            .is_running()
            .then(|| self.member(name).addr());
        for ((_, to), proxy) in &self.links {
            if to == name {
                proxy.retarget(target);
            }
        }
    }

    /// SIGKILLs a member ([`GATEWAY`] or a county); its links refuse until it restarts.
    pub fn kill9(&mut self, name: &str) {
        self.member_mut(name).kill9();
        self.retarget(name);
    }

    /// Stops a member with SIGTERM.
    pub fn stop(&mut self, name: &str) {
        self.member_mut(name).stop();
        self.retarget(name);
    }

    /// Starts a stopped or killed member again with the same config and data; it listens on
    /// a new port and the proxies follow it.
    pub fn restart(&mut self, name: &str) {
        self.member_mut(name).restart();
        self.retarget(name);
    }

    /// Whether a member runs.
    pub fn is_running(&self, name: &str) -> bool {
        self.member(name).is_running()
    }

    /// The CLI connected to `name` as `stem`. Like a user, it names the member with
    /// `--server-identity` only when `stem` belongs to another unit (the CLI expects the
    /// caller's own unit's node by default).
    pub fn cli_as(&self, name: &str, stem: &str) -> Cli {
        let cli = Cli::connected(self.member(name).url(), self.pki.credentials(stem));
        let unit = if name == GATEWAY {
            self.province.as_str()
        } else {
            name
        };
        if unit_of(stem) == Some(unit) {
            cli
        } else {
            cli.server_identity(self.path_of(name))
        }
    }

    /// The CLI connected to a county as its staff member `staff-<code>-s` (or to the gateway
    /// as provincial staff).
    pub fn cli(&self, name: &str) -> Cli {
        self.cli_as(name, &self.staff(name))
    }

    /// The CLI connected to the gateway as provincial staff.
    pub fn gateway_cli(&self) -> Cli {
        self.cli(GATEWAY)
    }

    /// The dashboard's URL (`https://127.0.0.1:PORT`), from the gateway's latest
    /// `dashboard listening` line (started with [`TestProvince::dashboard`]).
    pub fn dashboard_url(&self) -> String {
        self.gateway.dashboard_url()
    }

    /// Serves county `code`'s own web pages, with the certificate `fenghuo ca issue web CODE`
    /// makes: stops it, appends a `[dashboard]` section to its config and starts it again on
    /// the same data; then makes each of `accounts` (name, role) with `fenghuo staff add …
    /// --password-stdin` as the county's staff. Returns the pages' URL.
    pub fn serve_county_pages(
        &mut self,
        code: &str,
        accounts: &[(&str, &str)],
        password: &str,
    ) -> String {
        self.stop(code);
        self.pki().ensure_county_web(code);
        let config = self.dir().join(format!("node-{code}.toml"));
        let mut text = std::fs::read_to_string(&config)
            .unwrap_or_else(|e| panic!("reading {}: {e}", config.display()));
        let stem = format!("county-{code}-web");
        text.push_str(&format!(
            "\n[dashboard]\nlisten = \"127.0.0.1:0\"\ncert = {:?}\nkey = {:?}\n",
            self.pki().cert(&stem),
            self.pki().key(&stem),
        ));
        std::fs::write(&config, text)
            .unwrap_or_else(|e| panic!("writing {}: {e}", config.display()));
        self.restart(code);
        for (name, role) in accounts {
            self.cli(code)
                .args(["staff", "add", name, "--role", role, "--password-stdin"])
                .stdin(format!("{password}\n"))
                .run()
                .ok();
        }
        self.county(code).dashboard_url()
    }

    /// Creates a dashboard account at the gateway with `fenghuo staff add … --password-stdin`.
    pub fn add_staff(&self, name: &str, role: &str, password: &str) {
        self.gateway_cli()
            .args(["staff", "add", name, "--role", role, "--password-stdin"])
            .stdin(format!("{password}\n"))
            .run()
            .ok();
    }

    /// `fenghuo feeds --json` on a member: its version vector.
    pub fn feeds(&self, name: &str) -> Feeds {
        parse_feeds(&self.feeds_json(name))
    }

    /// What `fenghuo feeds --json` prints on a member: each feed's head and how far its
    /// views have applied it.
    fn feeds_json(&self, name: &str) -> Value {
        self.cli_as(name, &self.provincial_staff())
            .args(["feeds", "--json"])
            .timeout(READ_TIMEOUT)
            .run()
            .ok()
            .json()
    }

    /// `fenghuo peers --json` on a member.
    pub fn peers(&self, name: &str) -> Value {
        self.cli_as(name, &self.provincial_staff())
            .args(["peers", "--json"])
            .timeout(READ_TIMEOUT)
            .run()
            .ok()
            .json()
    }

    /// `fenghuo risk <args> --json` as a county's staff member; asserts success.
    pub fn risk(&self, code: &str, args: &[&str]) -> Value {
        self.cli(code)
            .arg("risk")
            .args(args)
            .arg("--json")
            .run()
            .ok()
            .json()
    }

    /// `disposal request ARGS --json` at `county`, retried until the partner it names has
    /// reached the county (the province declares partners in its feed); the request's id.
    pub fn file_disposal(&self, county: &str, args: &[&str]) -> String {
        wait::until(
            "the partner at the county",
            SYNC_TIMEOUT,
            Duration::from_millis(100),
            || {
                let out = self
                    .cli(county)
                    .args(["disposal", "request"])
                    .args(args)
                    .arg("--json")
                    .run();
                if out.status.success() {
                    Ok(out.json()["id"].as_str().unwrap_or_default().to_owned())
                } else {
                    Err(out.stderr)
                }
            },
        )
    }

    /// `risk list --origin all --all --json` on a member: every risk it holds.
    pub fn risks(&self, name: &str) -> Value {
        self.cli(name)
            .args(["risk", "list", "--origin", "all", "--all", "--json"])
            .run()
            .ok()
            .json()
    }

    /// The ids of every risk a member holds, sorted.
    pub fn risk_ids(&self, name: &str) -> BTreeSet<String> {
        crate::register::ids(&self.risks(name))
            .into_iter()
            .collect()
    }

    /// `risk show ID --json` on a member.
    pub fn show(&self, name: &str, id: &str) -> Value {
        self.cli(name)
            .args(["risk", "show", id, "--json"])
            .run()
            .ok()
            .json()
    }

    /// A gRPC channel to a member as `stem`.
    pub async fn channel_as(&self, name: &str, stem: &str) -> Channel {
        grpc::mtls_channel(&self.member(name).url(), &self.pki.credentials(stem))
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {name} as {stem}: {e:#}"))
    }

    /// A `Registry` client to a county as its staff member.
    pub async fn registry(&self, code: &str) -> RegistryClient<Channel> {
        RegistryClient::new(self.channel_as(code, &self.staff(code)).await)
    }

    /// A `Federation` client to a member as provincial staff.
    pub async fn federation(&self, name: &str) -> FederationClient<Channel> {
        FederationClient::new(self.channel_as(name, &self.provincial_staff()).await)
    }

    /// May `holder` hold the feed of `origin` (both member names) for `audience`? The
    /// entitlement rules of docs/protocol.md, "Sharing scopes": an origin holds its own feeds;
    /// `local` goes nowhere else, `upstream` to the gateway, `neighbours` to the gateway and
    /// the origin's configured neighbours, `province` everywhere.
    pub fn entitled(&self, holder: &str, origin: &str, audience: &str) -> bool {
        if holder == origin {
            return true;
        }
        match audience {
            "upstream" => holder == GATEWAY,
            "neighbours" => {
                holder == GATEWAY
                    || self
                        .adjacency
                        .get(origin)
                        .is_some_and(|n| n.contains(holder))
            }
            "province" => true,
            _ => false,
        }
    }

    /// What `holder` should hold given every origin's own feeds (`origins`, keyed by identity
    /// path and audience, as [`Province::own_feeds`] reads them).
    pub fn expected_feeds(&self, holder: &str, origins: &Feeds) -> Feeds {
        origins
            .iter()
            .filter(|((origin, audience), _)| {
                self.member_of_path(origin)
                    .is_some_and(|o| self.entitled(holder, &o, audience))
            })
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    /// The feeds a member wrote itself (its origin), from its version vector.
    pub fn own_feeds(&self, name: &str, feeds: &Feeds) -> Feeds {
        let me = self.path_of(name);
        feeds
            .iter()
            .filter(|((o, _), _)| *o == me)
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    /// Polls a member's feeds until `pred` holds; returns them. Panics after
    /// [`SYNC_TIMEOUT`] with `what` and the last version vector.
    #[track_caller]
    pub fn wait_feeds(&self, name: &str, what: &str, pred: impl Fn(&Feeds) -> bool) -> Feeds {
        self.wait_feeds_for(name, what, SYNC_TIMEOUT, pred)
    }

    /// [`Province::wait_feeds`] with another timeout.
    #[track_caller]
    pub fn wait_feeds_for(
        &self,
        name: &str,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Feeds) -> bool,
    ) -> Feeds {
        let feeds = wait::until(&format!("{name}: {what}"), timeout, POLL_INTERVAL, || {
            let f = self.feeds(name);
            if pred(&f) {
                Ok(f)
            } else {
                Err(format!("feeds of {name}: {f:?}"))
            }
        });
        self.wait_views(name);
        feeds
    }

    /// Waits until a member holds `key` at `seq` exactly.
    #[track_caller]
    pub fn wait_head(&self, name: &str, key: &(String, String), seq: u64) -> Feeds {
        self.wait_feeds(name, &format!("{}#{} at {seq}", key.0, key.1), |f| {
            f.get(key) == Some(&seq)
        })
    }

    /// Waits until `name`'s views (its register) have applied every feed it holds: they
    /// follow the stored entries by a few tens of milliseconds, so a test that reads the
    /// register after waiting for feeds waits for this too.
    pub fn wait_views(&self, name: &str) {
        wait::until(
            &format!("{name}'s register to apply every feed it holds"),
            SYNC_TIMEOUT,
            Duration::from_millis(20),
            || {
                let out = self.feeds_json(name);
                let behind: Vec<String> = out
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|h| h["applied"] != h["seq"])
                    .map(|h| {
                        format!(
                            "{}#{} {} of {}",
                            h["origin"], h["audience"], h["applied"], h["seq"]
                        )
                    })
                    .collect();
                if behind.is_empty() {
                    Ok(())
                } else {
                    Err(behind.join(", "))
                }
            },
        )
    }

    /// Every running member's version vector.
    pub fn all_feeds(&self) -> BTreeMap<String, Feeds> {
        self.members()
            .into_iter()
            .filter(|m| self.is_running(m))
            .map(|m| {
                let f = self.feeds(&m);
                (m, f)
            })
            .collect()
    }

    /// Compares every member's version vector with what it is entitled to, given the
    /// origins' own feeds: `Ok` with the feeds when they match, or the differences.
    pub fn check_converged(&self, all: &BTreeMap<String, Feeds>) -> Result<(), String> {
        let origins: Feeds = all.iter().flat_map(|(m, f)| self.own_feeds(m, f)).collect();
        let mut problems = Vec::new();
        for (m, held) in all {
            let want = self.expected_feeds(m, &origins);
            if *held != want {
                problems.push(format!("{m}: {}", diff(&want, held)));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    /// Waits until every member holds exactly the feeds it is entitled to, each at its
    /// origin's head (every member must be running); returns the version vectors.
    #[track_caller]
    pub fn wait_converged(&self) -> BTreeMap<String, Feeds> {
        self.wait_converged_for(SYNC_TIMEOUT)
    }

    /// [`Province::wait_converged`] with another timeout.
    #[track_caller]
    pub fn wait_converged_for(&self, timeout: Duration) -> BTreeMap<String, Feeds> {
        for m in self.members() {
            assert!(self.is_running(&m), "{m} is not running: restart it first");
        }
        let all = wait::until("the province to converge", timeout, POLL_INTERVAL, || {
            let all = self.all_feeds();
            self.check_converged(&all).map(|()| all)
        });
        for m in self.members() {
            self.wait_views(&m);
        }
        all
    }

    /// Waits until every member's version vector equals `expected` (member → feeds).
    #[track_caller]
    pub fn wait_feeds_equal(
        &self,
        expected: &BTreeMap<String, Feeds>,
        timeout: Duration,
    ) -> BTreeMap<String, Feeds> {
        let all = wait::until(
            "every member to hold exactly the expected feeds",
            timeout,
            POLL_INTERVAL,
            || {
                let all = self.all_feeds();
                let problems: Vec<String> = expected
                    .iter()
                    .filter_map(|(m, want)| {
                        let held = all.get(m)?;
                        (held != want).then(|| format!("{m}: {}", diff(want, held)))
                    })
                    .collect();
                if problems.is_empty() {
                    Ok(all)
                } else {
                    Err(problems.join("; "))
                }
            },
        );
        for m in expected.keys().filter(|m| self.is_running(m)) {
            self.wait_views(m);
        }
        all
    }

    /// The status of one link of `name` from `peers --json`, if listed.
    pub fn link_status(&self, name: &str, peer: &str, direction: &str) -> Option<Value> {
        let peer_path = self.path_of(peer);
        self.peers(name)["peers"]
            .as_array()?
            .iter()
            .find(|p| p["peer"] == peer_path.as_str() && p["direction"] == direction)
            .cloned()
    }

    /// Waits until every county's outbound links (to the gateway and its higher neighbours)
    /// show `connected`, and the other end lists them as connected inbound links.
    #[track_caller]
    pub fn wait_links_up(&self) {
        let expected: Vec<(String, String)> = self.links.keys().cloned().collect();
        wait::until("every link to connect", SYNC_TIMEOUT, POLL_INTERVAL, || {
            let mut down = Vec::new();
            let peers: BTreeMap<String, Value> = self
                .members()
                .into_iter()
                .map(|m| {
                    let p = self.peers(&m);
                    (m, p)
                })
                .collect();
            let connected = |on: &str, peer: &str, direction: &str| {
                let path = self.path_of(peer);
                peers[on]["peers"].as_array().is_some_and(|l| {
                    l.iter().any(|p| {
                        p["peer"] == path.as_str()
                            && p["direction"] == direction
                            && p["state"] == "connected"
                    })
                })
            };
            for (from, to) in &expected {
                if !connected(from, to, "outbound") || !connected(to, from, "inbound") {
                    down.push(format!("{from}→{to}"));
                }
            }
            if down.is_empty() {
                Ok(())
            } else {
                Err(format!("not connected: {}", down.join(", ")))
            }
        });
    }
}

impl Drop for Province {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for m in self.members() {
                eprintln!(
                    "---- log of {m} ----\n{}---- end of log of {m} ----",
                    self.member(&m).log()
                );
            }
            for ((from, to), p) in &self.links {
                eprintln!(
                    "proxy {from}→{to}: cut {}, {} live, {} forwarded, {} refused",
                    p.is_cut(),
                    p.live_connections(),
                    p.forwarded(),
                    p.refused()
                );
            }
        }
    }
}

/// Parses `fenghuo feeds --json`.
pub fn parse_feeds(v: &Value) -> Feeds {
    v.as_array()
        .unwrap_or_else(|| panic!("`feeds --json` is not an array: {v}"))
        .iter()
        .map(|h| {
            let s = |k: &str| {
                h[k].as_str()
                    .unwrap_or_else(|| panic!("a feed head without {k}: {h}"))
                    .to_owned()
            };
            let seq = h["seq"]
                .as_u64()
                .unwrap_or_else(|| panic!("a feed head without seq: {h}"));
            ((s("origin"), s("audience")), seq)
        })
        .collect()
}

/// "missing X#a (want n), extra Y#b at m, X#c at m (want n)".
pub fn diff(want: &Feeds, held: &Feeds) -> String {
    let mut out = Vec::new();
    for (k, w) in want {
        match held.get(k) {
            None => out.push(format!("missing {}#{} (want {w})", k.0, k.1)),
            Some(h) if h != w => out.push(format!("{}#{} at {h} (want {w})", k.0, k.1)),
            Some(_) => {}
        }
    }
    for (k, h) in held {
        if !want.contains_key(k) {
            out.push(format!("extra {}#{} at {h}", k.0, k.1));
        }
    }
    out.join(", ")
}
