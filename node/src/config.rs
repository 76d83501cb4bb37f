//! The node's configuration file (`node.toml`), typed and checked at start. Every field is
//! documented in `docs/configuration.md`; unknown keys are refused with their name.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::identity::{DivisionCode, Identity};

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not valid TOML, or a key is unknown or of the wrong type (the message names it).
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What toml said, with line and key.
        message: String,
    },
    /// A field's value is not acceptable.
    #[error("{path}: `{field}`: {reason}")]
    Field {
        /// The file.
        path: String,
        /// The field, dotted (e.g. `tls.cert`).
        field: String,
        /// Why.
        reason: String,
    },
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Readable lines for a terminal.
    #[default]
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Certificate files of the node.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The provincial CA certificate: only certificates it issued are accepted.
    pub ca: PathBuf,
    /// This node's certificate (its identity is the URI SAN).
    pub cert: PathBuf,
    /// This node's TLS private key (ECDSA P-256 from `fenghuo ca issue`).
    pub key: PathBuf,
    /// The key this node signs its feeds with (Ed25519, `<stem>.feed.key`, certified by its
    /// certificate). Default: the `.feed.key` beside `key` when it exists, else `key` itself
    /// (a certificate issued before TLS keys were ECDSA signs with its one Ed25519 key).
    #[serde(default)]
    pub feed_key: Option<PathBuf>,
    /// The province's certificate revocation list; re-read when it changes.
    pub crl: PathBuf,
    /// At the gateway: the CA's certificate directory (`directory.pem`, every live county and
    /// province certificate), published in the province feed so every node knows which
    /// counties exist. Optional; re-read when it changes.
    #[serde(default)]
    pub directory: Option<PathBuf>,
}

/// A neighbouring county.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Neighbour {
    /// Its division code.
    pub code: String,
    /// Its address, `host:port`.
    pub address: String,
}

/// Logging.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `human` (default) or `json`; `--log-format` overrides it.
    #[serde(default)]
    pub format: LogFormat,
    /// A tracing filter such as `info` or `fenghuo_node=debug` (default `info`; `RUST_LOG` overrides it).
    #[serde(default)]
    pub filter: Option<String>,
}

/// Notifications (`[notify]`): rosters and channels are kept in the store, managed with
/// `fenghuo duty` and `fenghuo notify`; the config says only where the pages are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// The address people open the node's pages at, for the links in notifications:
    /// `https://fenghuo.jinjiang.example:8443`. Default: `https://` and `[dashboard] listen`.
    #[serde(default)]
    pub page_url: Option<String>,
}

impl NodeConfig {
    /// Where links in notifications point: `[notify] page_url`, else the pages' own address.
    pub fn page_url(&self) -> String {
        match (&self.notify.page_url, &self.dashboard) {
            (Some(u), _) => u.trim_end_matches('/').to_owned(),
            (None, Some(d)) => format!("https://{}", d.listen),
            (None, None) => "https://localhost".to_owned(),
        }
    }
}

/// Shared alerts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// How long recipients have to acknowledge an extreme or severe alert this node issues
    /// before it is flagged overdue: `30m` (default), `2h`, `1d`…
    #[serde(default = "default_acknowledge_within")]
    pub acknowledge_within: String,
}

fn default_acknowledge_within() -> String {
    "30m".to_owned()
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            acknowledge_within: default_acknowledge_within(),
        }
    }
}

impl AlertsConfig {
    /// `acknowledge_within` as a duration (checked at load).
    pub fn acknowledge_within(&self) -> std::time::Duration {
        crate::timespec::parse_duration(&self.acknowledge_within)
            .unwrap_or(std::time::Duration::from_secs(1800))
    }
}

/// The web pages a node serves: the gateway's dashboard for provincial staff, or a county's.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardConfig {
    /// Address the dashboard (HTTPS) listens on.
    pub listen: SocketAddr,
    /// Its certificate: `fenghuo ca issue web` writes `province-<code>-web.crt` (ECDSA P-256
    /// from the provincial web CA; browsers accept no Ed25519).
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
    /// A session without a request for this long ends: `8h` (default), `30m`…
    #[serde(default = "default_session_idle")]
    pub session_idle: String,
    /// The wait after the free failed sign-ins, doubled with each further failure up to five
    /// minutes: `1s` (default), `10s`… (see `docs/dashboard.md`).
    #[serde(default = "default_signin_delay")]
    pub signin_delay: String,
    /// Reverse proxies (addresses or CIDR ranges) whose `forwarded_header` names the client.
    /// Empty (default): the client is the TCP peer and the header is ignored.
    #[serde(default)]
    pub trusted_proxies: Vec<ProxyRange>,
    /// The header a trusted proxy appends the client's address to: `X-Forwarded-For`
    /// (default), or e.g. `X-Real-IP`. Read only from a peer in `trusted_proxies`.
    #[serde(default = "default_forwarded_header")]
    pub forwarded_header: String,
}

fn default_session_idle() -> String {
    "8h".to_owned()
}

fn default_signin_delay() -> String {
    "1s".to_owned()
}

fn default_forwarded_header() -> String {
    "X-Forwarded-For".to_owned()
}

impl DashboardConfig {
    /// `session_idle` as a duration (checked at load).
    pub fn session_idle(&self) -> std::time::Duration {
        crate::timespec::parse_duration(&self.session_idle)
            .unwrap_or(std::time::Duration::from_secs(8 * 3600))
    }

    /// `signin_delay` as a duration (checked at load).
    pub fn signin_delay(&self) -> std::time::Duration {
        crate::timespec::parse_duration(&self.signin_delay)
            .unwrap_or(std::time::Duration::from_secs(1))
    }
}

/// A trusted reverse proxy: one address (`10.0.0.5`, `fd00::5`) or a CIDR range
/// (`10.0.0.0/24`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ProxyRange(pub ipnet::IpNet);

impl TryFrom<String> for ProxyRange {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        let s = s.trim();
        if let Ok(ip) = s.parse::<std::net::IpAddr>() {
            return Ok(Self(ipnet::IpNet::from(ip)));
        }
        s.parse::<ipnet::IpNet>()
            .map(|n| Self(n.trunc()))
            .map_err(|_| {
                format!("`{s}` is neither an IP address nor a CIDR range such as 10.0.0.0/24")
            })
    }
}

impl ProxyRange {
    /// True when `ip` is in this range.
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        self.0.contains(&ip.to_canonical())
    }
}

/// True for a header name of letters, digits and `-` (what proxies use).
fn is_header_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// What needs a county leader's (分管领导) sign-off at a county node. Off by default: officers
/// close risks and file reports themselves.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignOffConfig {
    /// Closing a risk (resolved or ruled out): an officer's closure waits for a leader on the
    /// pages, and over gRPC only a leader's certificate or the node's own closes.
    #[serde(default)]
    pub closures: bool,
    /// Filing a report to the province: only a leader's certificate or the node's own files.
    #[serde(default)]
    pub reports: bool,
}

/// Intake (舆情采集) at a county node: the watch rules that flag what monitoring systems find,
/// and how long items are kept (docs/intake.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeConfig {
    /// Days an item is kept after its last sighting (observations carry personal data).
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
    /// The most items kept; beyond it the least recently seen are purged early (the store's
    /// memory grows with what it holds: docs/intake.md gives the figure per million).
    #[serde(default = "default_max_items")]
    pub max_items: u64,
    /// Watch rules: a keyword pattern and the focus point it suggests.
    #[serde(default)]
    pub rules: Vec<WatchRuleConfig>,
    /// How often the county's intake figures are counted and, when changed, published to
    /// the province, in seconds.
    #[serde(default = "default_publish_every_secs")]
    pub publish_every_secs: u64,
    /// RSS/Atom feeds the node polls (`[[intake.feeds]]`).
    #[serde(default)]
    pub feeds: Vec<crate::services::intake_pull::FeedSource>,
    /// Monitoring systems that POST observations to the HTTPS endpoint on the web port.
    #[serde(default)]
    pub systems: Vec<IntakeSystem>,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        Self {
            retention_days: default_retention_days(),
            max_items: default_max_items(),
            rules: Vec::new(),
            publish_every_secs: default_publish_every_secs(),
            feeds: Vec::new(),
            systems: Vec::new(),
        }
    }
}

fn default_retention_days() -> u32 {
    90
}

fn default_max_items() -> u64 {
    10_000_000
}

fn default_publish_every_secs() -> u64 {
    600
}

/// One `[[intake.rules]]`: `pattern = "拆迁|补偿"`, `focus = "reform-measure"` (or 重要改革举措).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchRuleConfig {
    /// A regular expression, in practice keywords joined by `|`.
    pub pattern: String,
    /// The focus point it suggests, in English or Chinese.
    pub focus: String,
}

/// One `[[intake.systems]]`: a monitoring system allowed to POST observations over HTTPS
/// (`name = "yuqing-2"`, `token_file`, `secret_file`; paths relative to the config file).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeSystem {
    /// The system's name: what its observations carry as `system`.
    pub name: String,
    /// A file holding the bearer token that names the system (one line).
    pub token_file: PathBuf,
    /// A file holding the system's signing secret, `whsec_<base64>` as Standard Webhooks
    /// prints it.
    pub secret_file: PathBuf,
}

/// Shortest bearer token accepted, in characters.
pub const MIN_TOKEN_CHARS: usize = 24;
/// Shortest signing key accepted, in bytes.
pub const MIN_INTAKE_KEY_BYTES: usize = 32;

/// A system's token and signing key as read from its files.
#[derive(Clone)]
pub struct IntakeCredentials {
    /// The system's name.
    pub name: String,
    /// Its bearer token.
    pub token: String,
    /// Its HMAC-SHA256 key.
    pub key: Vec<u8>,
}

impl std::fmt::Debug for IntakeCredentials {
    // Secrets stay out of logs and panics.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntakeCredentials")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl IntakeConfig {
    /// The watch rules, compiled (checked when the config loads).
    pub fn watch_rules(
        &self,
    ) -> Result<crate::intake::WatchRules, (usize, crate::intake::RuleError)> {
        self.rules
            .iter()
            .enumerate()
            .map(|(i, r)| crate::intake::WatchRule::parse(&r.pattern, &r.focus).map_err(|e| (i, e)))
            .collect::<Result<Vec<_>, _>>()
            .map(crate::intake::WatchRules)
    }
}

/// Disposal requests to partner websites (the gateway).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisposalConfig {
    /// `auto` (default): relay requests to partners at once; `manual`: hold each for
    /// `fenghuo disposal approve|reject`.
    #[serde(default)]
    pub review: crate::domain::disposal::Review,
    /// Extra CA certificates (PEM) to trust for partners' webhooks, besides the public
    /// roots (e.g. a partner's private CA, or a test's).
    #[serde(default)]
    pub webhook_ca: Option<PathBuf>,
    /// Let webhooks reach loopback, link-local, private and unique-local addresses (the
    /// tests and the demo, whose partners run on the same machine). Off by default: a webhook
    /// URL must not make the gateway call into its own network.
    #[serde(default)]
    pub allow_private_webhooks: bool,
}

/// Gateway replicas (the gateway only): several gateways with the province's certificate each
/// hold every feed and sync with every county on their own; one of them writes the
/// province's feeds, the others serve reads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicationConfig {
    /// The host name of the replica that writes (e.g. the pod `fenghuo-gateway-0`). A
    /// gateway whose host name differs only reads and syncs; unset, this gateway writes.
    #[serde(default)]
    pub writer_host: Option<String>,
}

impl ReplicationConfig {
    /// The writer's host name when this gateway is not it (it then only reads).
    pub fn reader_of(&self) -> Option<String> {
        let writer = self.writer_host.as_deref()?.trim();
        (this_host().as_deref() != Some(writer)).then(|| writer.to_owned())
    }
}

/// This machine's host name (a pod's name in Kubernetes).
fn this_host() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

/// Sync sessions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// MiB of received runs all sync sessions together may hold before they are verified and
    /// applied (64 by default); a session that finds it spent waits, and its peer with it.
    #[serde(default = "default_runs_in_flight_mib")]
    pub runs_in_flight_mib: u64,
}

fn default_runs_in_flight_mib() -> u64 {
    (crate::sync::budget::DEFAULT_BYTES >> 20) as u64
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            runs_in_flight_mib: default_runs_in_flight_mib(),
        }
    }
}

impl SyncConfig {
    /// `runs_in_flight_mib` in bytes (checked at load).
    pub fn runs_in_flight_bytes(&self) -> usize {
        usize::try_from(self.runs_in_flight_mib << 20).unwrap_or(crate::sync::budget::DEFAULT_BYTES)
    }
}

fn default_time_zone() -> String {
    crate::timespec::DEFAULT_ZONE.to_owned()
}

/// The whole `node.toml` (and, with `province` instead of `county`, `gateway.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// This node's county code (a county node).
    #[serde(default)]
    pub county: Option<String>,
    /// This node's province code (the provincial gateway).
    #[serde(default)]
    pub province: Option<String>,
    /// Address the gRPC server listens on, e.g. `127.0.0.1:7401`.
    pub listen: SocketAddr,
    /// Directory of the node's database.
    pub data_dir: PathBuf,
    /// Certificates.
    pub tls: TlsFiles,
    /// A grading standard TOML file; the built-in default when absent.
    #[serde(default)]
    pub grading_standard: Option<PathBuf>,
    /// Address of the provincial gateway, `host:port` (used by sync).
    #[serde(default)]
    pub gateway: Option<String>,
    /// Addresses of further gateway replicas, `host:port`: the county syncs with each, as
    /// with `gateway`.
    #[serde(default)]
    pub gateway_replicas: Vec<String>,
    /// Neighbouring counties (used by sync).
    #[serde(default)]
    pub neighbours: Vec<Neighbour>,
    /// Logging.
    #[serde(default)]
    pub log: LogConfig,
    /// Shared alerts.
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// The web pages (the gateway's dashboard, or a county node's pages).
    #[serde(default)]
    pub dashboard: Option<DashboardConfig>,
    /// Disposal requests (review matters at the gateway only).
    #[serde(default)]
    pub disposal: DisposalConfig,
    /// What needs a leader's sign-off (a county only).
    #[serde(default)]
    pub sign_off: SignOffConfig,
    /// Intake of what monitoring systems find (a county only).
    #[serde(default)]
    pub intake: IntakeConfig,
    /// Notifications to the person on duty (docs/notifications.md).
    #[serde(default)]
    pub notify: NotifyConfig,
    /// Gateway replicas (the gateway only).
    #[serde(default)]
    pub replication: ReplicationConfig,
    /// Sync sessions.
    #[serde(default)]
    pub sync: SyncConfig,
    /// The zone times are shown in and calendar days follow (per-day counts, due dates): an
    /// IANA name, `Asia/Shanghai` by default. Stored times stay UTC.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// Directory relative paths are resolved against (the config file's own).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

impl NodeConfig {
    /// Reads, parses and checks a config file; relative paths become relative to its folder.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::parse(&text, &path.display().to_string(), &base)
    }

    /// Parses and checks config text; `name` is used in messages.
    pub fn parse(text: &str, name: &str, base_dir: &Path) -> Result<Self, ConfigError> {
        let mut cfg: Self = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: name.to_owned(),
            message: e.to_string(),
        })?;
        cfg.base_dir = base_dir.to_path_buf();
        cfg.validate(name)?;
        Ok(cfg)
    }

    fn validate(&self, name: &str) -> Result<(), ConfigError> {
        let field = |field: &str, reason: String| ConfigError::Field {
            path: name.to_owned(),
            field: field.to_owned(),
            reason,
        };
        match (&self.county, &self.province) {
            (Some(c), None) => {
                DivisionCode::county(c).map_err(|e| field("county", e.to_string()))?;
            }
            (None, Some(p)) => {
                DivisionCode::province(p).map_err(|e| field("province", e.to_string()))?;
            }
            (Some(_), Some(_)) => {
                return Err(field(
                    "county",
                    "give either `county` (a county node) or `province` (the gateway), not both"
                        .into(),
                ))
            }
            (None, None) => {
                return Err(field(
                    "county",
                    "missing: give `county = \"510104\"` (or `province` for the gateway)".into(),
                ))
            }
        }
        for (i, n) in self.neighbours.iter().enumerate() {
            DivisionCode::county(&n.code)
                .map_err(|e| field(&format!("neighbours[{i}].code"), e.to_string()))?;
            if n.address.trim().is_empty() {
                return Err(field(
                    &format!("neighbours[{i}].address"),
                    "must not be empty".into(),
                ));
            }
        }
        match crate::timespec::parse_duration(&self.alerts.acknowledge_within) {
            Ok(d) if d.as_secs() > 0 => {}
            Ok(_) => {
                return Err(field(
                    "alerts.acknowledge_within",
                    "must be longer than 0s".into(),
                ))
            }
            Err(e) => return Err(field("alerts.acknowledge_within", e)),
        }
        if let Err((i, e)) = self.intake.watch_rules() {
            return Err(field(&format!("intake.rules[{i}]"), e.to_string()));
        }
        for (i, f) in self.intake.feeds.iter().enumerate() {
            f.check()
                .map_err(|e| field(&format!("intake.feeds[{i}]"), e.to_string()))?;
        }
        if !(1..=86_400).contains(&self.intake.publish_every_secs) {
            return Err(field(
                "intake.publish_every_secs",
                "must be from 1 to 86400 (seconds)".into(),
            ));
        }
        if let Err((f, reason)) = self.intake_credentials() {
            return Err(field(&f, reason));
        }
        if !self.intake.systems.is_empty() && self.county.is_none() {
            return Err(field(
                "intake.systems",
                "a county's setting: observations are recorded at county nodes".into(),
            ));
        }
        if !(1..=3650).contains(&self.intake.retention_days) {
            return Err(field(
                "intake.retention_days",
                "must be from 1 to 3650 (days)".into(),
            ));
        }
        if let Some(u) = &self.notify.page_url {
            let ok = u.parse::<http::Uri>().is_ok_and(|p| {
                matches!(p.scheme_str(), Some("https" | "http")) && p.host().is_some()
            });
            if !ok {
                return Err(field(
                    "notify.page_url",
                    format!("{u:?} is not an https:// address"),
                ));
            }
        }
        if !(1_000..=1_000_000_000).contains(&self.intake.max_items) {
            return Err(field(
                "intake.max_items",
                "must be from 1000 to 1000000000 (items)".into(),
            ));
        }
        if !(1..4096).contains(&self.sync.runs_in_flight_mib) {
            return Err(field(
                "sync.runs_in_flight_mib",
                "must be from 1 to 4095 (MiB)".into(),
            ));
        }
        if let Some(d) = &self.dashboard {
            match crate::timespec::parse_duration(&d.session_idle) {
                Ok(t) if t.as_secs() >= 60 => {}
                Ok(_) => {
                    return Err(field(
                        "dashboard.session_idle",
                        "must be at least 1m".into(),
                    ))
                }
                Err(e) => return Err(field("dashboard.session_idle", e)),
            }
            match crate::timespec::parse_duration(&d.signin_delay) {
                Ok(t) if t.as_secs() >= 1 && t.as_secs() <= 3600 => {}
                Ok(_) => {
                    return Err(field(
                        "dashboard.signin_delay",
                        "must be between 1s and 1h".into(),
                    ))
                }
                Err(e) => return Err(field("dashboard.signin_delay", e)),
            }
            if !is_header_name(&d.forwarded_header) {
                return Err(field(
                    "dashboard.forwarded_header",
                    "must be a header name such as X-Forwarded-For (letters, digits and -)".into(),
                ));
            }
            if d.listen == self.listen && d.listen.port() != 0 {
                return Err(field(
                    "dashboard.listen",
                    "must differ from `listen` (the gRPC port)".into(),
                ));
            }
        }
        crate::timespec::zone_named(&self.time_zone)
            .map_err(|e| field("time_zone", e.to_string()))?;
        if self.data_dir.as_os_str().is_empty() {
            return Err(field("data_dir", "must not be empty".into()));
        }
        if self.province.is_some() && !self.gateway_replicas.is_empty() {
            return Err(field(
                "gateway_replicas",
                "a county's setting: the gateway does not dial other gateways".into(),
            ));
        }
        if self.gateway_replicas.iter().any(|a| a.trim().is_empty()) {
            return Err(field("gateway_replicas", "an address is empty".into()));
        }
        if !self.gateway_replicas.is_empty() && self.gateway.is_none() {
            return Err(field(
                "gateway_replicas",
                "give the first gateway as `gateway`, further replicas here".into(),
            ));
        }
        if self.county.is_some() && self.replication.writer_host.is_some() {
            return Err(field(
                "replication.writer_host",
                "only the gateway has replicas".into(),
            ));
        }
        Ok(())
    }

    /// This node's identity (county or province).
    pub fn identity(&self) -> Identity {
        // `validate` guaranteed exactly one well-formed code.
        match (&self.county, &self.province) {
            (Some(c), _) => Identity::County(
                DivisionCode::county(c).unwrap_or_else(|_| unreachable!("validated")),
            ),
            (_, Some(p)) => Identity::Province(
                DivisionCode::province(p).unwrap_or_else(|_| unreachable!("validated")),
            ),
            (None, None) => unreachable!("validated"),
        }
    }

    /// The display zone `time_zone` names (checked at load).
    pub fn display_zone(&self) -> jiff::tz::TimeZone {
        crate::timespec::zone_named(&self.time_zone)
            .unwrap_or_else(|_| crate::timespec::display_zone().clone())
    }

    /// The intake systems' tokens and keys, read from their files; the error names the
    /// field (`intake.systems[0].token_file`) and says why.
    pub fn intake_credentials(&self) -> Result<Vec<IntakeCredentials>, (String, String)> {
        let mut out: Vec<IntakeCredentials> = Vec::with_capacity(self.intake.systems.len());
        for (i, s) in self.intake.systems.iter().enumerate() {
            let at = |f: &str| format!("intake.systems[{i}].{f}");
            crate::identity::validate_name(&s.name).map_err(|e| (at("name"), e.to_string()))?;
            if out.iter().any(|o| o.name == s.name) {
                return Err((at("name"), format!("{:?} is configured twice", s.name)));
            }
            let read = |field: &str, p: &Path| {
                let path = self.resolve(p);
                std::fs::read(&path)
                    .map_err(|e| (at(field), format!("cannot read {}: {e}", path.display())))
            };
            let token = read("token_file", &s.token_file)?;
            let token = String::from_utf8(token)
                .map_err(|_| (at("token_file"), "the token is not UTF-8 text".to_owned()))?
                .trim()
                .to_owned();
            if token.chars().count() < MIN_TOKEN_CHARS
                || !token.chars().all(|c| c.is_ascii_graphic())
            {
                return Err((
                    at("token_file"),
                    format!(
                        "the token must be at least {MIN_TOKEN_CHARS} printable ASCII characters without spaces (e.g. `head -c 32 /dev/urandom | base64 > token`)"
                    ),
                ));
            }
            if out.iter().any(|o| o.token == token) {
                return Err((
                    at("token_file"),
                    "another system has the same token".to_owned(),
                ));
            }
            let key =
                crate::disposal::signature::parse_secret(&read("secret_file", &s.secret_file)?)
                    .map_err(|e| (at("secret_file"), e))?;
            if key.len() < MIN_INTAKE_KEY_BYTES {
                return Err((
                    at("secret_file"),
                    format!(
                        "the key must be at least {MIN_INTAKE_KEY_BYTES} bytes (e.g. `echo \"whsec_$(head -c 32 /dev/urandom | base64)\" > secret`)"
                    ),
                ));
            }
            out.push(IntakeCredentials {
                name: s.name.clone(),
                token,
                key,
            });
        }
        Ok(out)
    }

    /// `path` resolved against the config file's folder.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
county = "510104"
listen = "127.0.0.1:7401"
data_dir = "data"
[tls]
ca = "pki/ca.crt"
cert = "pki/county-510104.crt"
key = "pki/county-510104.key"
crl = "pki/crl.pem"
"#;

    #[test]
    fn intake_systems_are_read_at_start_and_refused_by_field() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("token", "abcdefghijklmnopqrstuvwxyz012345\n");
        write(
            "secret",
            "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n",
        );
        write("short", "whsec_MDEy\n");
        let with = |name: &str, token: &str, secret: &str| {
            let text = format!(
                "{GOOD}[[intake.systems]]\nname = \"{name}\"\ntoken_file = \"{token}\"\nsecret_file = \"{secret}\"\n"
            );
            NodeConfig::parse(&text, "node.toml", dir.path())
        };
        let c = with("yuqing-2", "token", "secret").unwrap();
        let creds = c.intake_credentials().unwrap();
        assert_eq!(creds[0].name, "yuqing-2");
        assert_eq!(creds[0].token, "abcdefghijklmnopqrstuvwxyz012345");
        assert_eq!(creds[0].key, b"0123456789abcdef0123456789abcdef");
        assert!(
            !format!("{creds:?}").contains("abcdefghij"),
            "no secrets in Debug"
        );
        let refused = |r: Result<NodeConfig, ConfigError>, field: &str| match r {
            Err(ConfigError::Field { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{other:?}"),
        };
        refused(with("Yuqing", "token", "secret"), "intake.systems[0].name");
        refused(
            with("yq", "missing", "secret"),
            "intake.systems[0].token_file",
        );
        refused(
            with("yq", "short", "secret"),
            "intake.systems[0].token_file",
        );
        refused(
            with("yq", "token", "short"),
            "intake.systems[0].secret_file",
        );
    }

    #[test]
    fn the_intake_ceiling_defaults_to_ten_million_and_is_refused_out_of_range() {
        let at = Path::new("/etc/fenghuo");
        let c = NodeConfig::parse(GOOD, "node.toml", at).unwrap();
        assert_eq!(c.intake.max_items, 10_000_000);
        let with = |n: u64| {
            NodeConfig::parse(
                &format!("{GOOD}[intake]\nmax_items = {n}\n"),
                "node.toml",
                at,
            )
        };
        assert_eq!(with(2_000).unwrap().intake.max_items, 2_000);
        for n in [999, 1_000_000_001] {
            match with(n) {
                Err(ConfigError::Field { field, .. }) => assert_eq!(field, "intake.max_items"),
                other => panic!("{n}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_minimal_config_parses() {
        let c = NodeConfig::parse(GOOD, "node.toml", Path::new("/etc/fenghuo")).unwrap();
        assert_eq!(c.identity().path(), "county/510104");
        assert_eq!(c.resolve(&c.data_dir), PathBuf::from("/etc/fenghuo/data"));
    }

    #[test]
    fn the_run_budget_defaults_to_64_mib_and_must_be_positive() {
        let c = NodeConfig::parse(GOOD, "node.toml", Path::new(".")).unwrap();
        assert_eq!(c.sync.runs_in_flight_bytes(), 64 << 20);
        let with = |mib: &str| {
            let text = format!("{GOOD}[sync]\nruns_in_flight_mib = {mib}\n");
            NodeConfig::parse(&text, "node.toml", Path::new("."))
        };
        assert_eq!(with("8").unwrap().sync.runs_in_flight_bytes(), 8 << 20);
        let e = with("0").unwrap_err().to_string();
        assert!(e.contains("sync.runs_in_flight_mib"), "{e}");
    }

    #[test]
    fn gateway_replicas_are_a_counties_setting_and_need_a_gateway() {
        let with = |top: &str| {
            let text = GOOD.replacen(
                "county = \"510104\"",
                &format!("{top}\ncounty = \"510104\""),
                1,
            );
            NodeConfig::parse(&text, "node.toml", Path::new("."))
        };
        let c = with("gateway = \"gw-0:7400\"\ngateway_replicas = [\"gw-1:7400\"]").unwrap();
        assert_eq!(c.gateway_replicas, ["gw-1:7400"]);
        let e = with("gateway_replicas = [\"gw-1:7400\"]").unwrap_err();
        assert!(e.to_string().contains("gateway_replicas"), "{e}");
        let province = GOOD.replace(
            "county = \"510104\"",
            "province = \"51\"\ngateway_replicas = [\"x:1\"]",
        );
        let e = NodeConfig::parse(&province, "gateway.toml", Path::new(".")).unwrap_err();
        assert!(e.to_string().contains("gateway_replicas"), "{e}");
    }

    #[test]
    fn a_gateway_writes_unless_another_host_is_named_the_writer() {
        assert_eq!(ReplicationConfig::default().reader_of(), None);
        let elsewhere = ReplicationConfig {
            writer_host: Some("no-such-host-fenghuo-writer".into()),
        };
        assert_eq!(
            elsewhere.reader_of().as_deref(),
            Some("no-such-host-fenghuo-writer")
        );
        if let Some(me) = this_host() {
            let here = ReplicationConfig {
                writer_host: Some(me),
            };
            assert_eq!(here.reader_of(), None);
        }
    }

    #[test]
    fn the_time_zone_defaults_to_china_and_an_unknown_one_is_refused() {
        let cfg = NodeConfig::parse(GOOD, "node.toml", Path::new(".")).unwrap();
        assert_eq!(cfg.time_zone, "Asia/Shanghai");
        let urumqi = format!("time_zone = \"Asia/Urumqi\"\n{GOOD}");
        let cfg = NodeConfig::parse(&urumqi, "node.toml", Path::new(".")).unwrap();
        assert_eq!(cfg.display_zone().iana_name(), Some("Asia/Urumqi"));
        let bad = format!("time_zone = \"Asia/Beijing\"\n{GOOD}");
        let e = NodeConfig::parse(&bad, "node.toml", Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`time_zone`") && e.contains("Asia/Beijing"),
            "{e}"
        );
    }

    #[test]
    fn unknown_keys_are_named() {
        let text = format!("{GOOD}\n[log]\nformatt = \"json\"\n");
        let e = NodeConfig::parse(&text, "node.toml", Path::new(".")).unwrap_err();
        assert!(e.to_string().contains("formatt"), "{e}");
    }

    #[test]
    fn bad_values_name_the_field() {
        let e = NodeConfig::parse(
            &GOOD.replace("510104\"\nlisten", "5101\"\nlisten"),
            "n",
            Path::new("."),
        )
        .unwrap_err();
        assert!(e.to_string().contains("`county`"), "{e}");
        let e = NodeConfig::parse(
            &GOOD.replace("127.0.0.1:7401", "nowhere"),
            "n",
            Path::new("."),
        )
        .unwrap_err();
        assert!(e.to_string().contains("listen"), "{e}");
        let text = format!("{GOOD}\n[[neighbours]]\ncode = \"12\"\naddress = \"x:1\"\n");
        let e = NodeConfig::parse(&text, "n", Path::new(".")).unwrap_err();
        assert!(e.to_string().contains("neighbours[0].code"), "{e}");
        let web = "cert = \"w.crt\"\nkey = \"w.key\"\n";
        // A county node serves the same pages as the gateway.
        let text = format!("{GOOD}\n[dashboard]\nlisten = \"127.0.0.1:8443\"\n{web}");
        let c = NodeConfig::parse(&text, "n", Path::new(".")).unwrap();
        assert!(c.dashboard.is_some());
        let gw = GOOD.replace("county = \"510104\"", "province = \"51\"");
        let text = format!("{gw}\n[dashboard]\nlisten = \"127.0.0.1:8443\"\n{web}");
        let c = NodeConfig::parse(&text, "n", Path::new(".")).unwrap();
        assert_eq!(c.dashboard.unwrap().session_idle().as_secs(), 8 * 3600);
        let text = format!("{gw}\n[dashboard]\nlisten = \"127.0.0.1:7401\"\n{web}");
        let e = NodeConfig::parse(&text, "n", Path::new(".")).unwrap_err();
        assert!(e.to_string().contains("dashboard.listen"), "{e}");
        let text =
            format!("{gw}\n[dashboard]\nlisten = \"127.0.0.1:8443\"\n{web}signin_delay = \"0s\"\n");
        let e = NodeConfig::parse(&text, "n", Path::new(".")).unwrap_err();
        assert!(e.to_string().contains("dashboard.signin_delay"), "{e}");
        let text = format!("{GOOD}\n[alerts]\nacknowledge_within = \"soon\"\n");
        let e = NodeConfig::parse(&text, "n", Path::new(".")).unwrap_err();
        assert!(e.to_string().contains("alerts.acknowledge_within"), "{e}");
    }

    #[test]
    fn trusted_proxies_are_off_by_default_and_take_addresses_or_ranges() {
        let gw = GOOD.replace("county = \"510104\"", "province = \"51\"");
        let dashboard = |extra: &str| {
            format!("{gw}\n[dashboard]\nlisten = \"127.0.0.1:8443\"\ncert = \"w.crt\"\nkey = \"w.key\"\n{extra}")
        };
        let c = NodeConfig::parse(&dashboard(""), "n", Path::new(".")).unwrap();
        let d = c.dashboard.unwrap();
        assert!(d.trusted_proxies.is_empty(), "off by default");
        assert_eq!(d.forwarded_header, "X-Forwarded-For");
        assert_eq!(d.signin_delay().as_secs(), 1);
        let c = NodeConfig::parse(
            &dashboard(
                "trusted_proxies = [\"10.0.0.5\", \"10.1.0.0/16\", \"fd00::/64\"]\nforwarded_header = \"X-Real-IP\"\nsignin_delay = \"10s\"\n",
            ),
            "n",
            Path::new("."),
        )
        .unwrap();
        let d = c.dashboard.unwrap();
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let trusted = |s: &str| d.trusted_proxies.iter().any(|p| p.contains(ip(s)));
        assert!(trusted("10.0.0.5") && trusted("10.1.200.3") && trusted("fd00::9"));
        assert!(
            trusted("::ffff:10.0.0.5"),
            "an IPv4-mapped peer is its IPv4 address"
        );
        assert!(!trusted("10.0.0.6") && !trusted("fd00:0:0:1::9"));
        assert_eq!(d.forwarded_header, "X-Real-IP");
        assert_eq!(d.signin_delay().as_secs(), 10);
        for (extra, named) in [
            ("trusted_proxies = [\"proxy.local\"]\n", "proxy.local"),
            ("trusted_proxies = [\"10.0.0.0/33\"]\n", "10.0.0.0/33"),
            (
                "forwarded_header = \"X-Forwarded-For: 1\"\n",
                "dashboard.forwarded_header",
            ),
            ("trusted_proxy = [\"10.0.0.5\"]\n", "trusted_proxy"),
        ] {
            let e = NodeConfig::parse(&dashboard(extra), "n", Path::new(".")).unwrap_err();
            assert!(e.to_string().contains(named), "{extra}: {e}");
        }
    }
}
