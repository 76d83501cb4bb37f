//! `fenghuo-gateway partner-sim`: a partner website's webhook receiver, for the demo, the
//! compose province and a website's engineers trying the integration. It checks each
//! delivery's Standard Webhooks signature and timestamp (401 otherwise), takes it once by its
//! `webhook-id`, then acknowledges the request and reports an outcome through the gateway's
//! HTTPS callback, signed the same way with the same secret — the whole round trip of
//! `docs/partners.md`.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use fenghuo_node::disposal::signature;
use fenghuo_node::domain::disposal::{Action, Outcome};
use fenghuo_node::timespec;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
use serde_json::{json, Value};

use crate::webhook::client::{Connection, WebhookClient};

/// The receiver's certificate, key and CA inside `--tls-dir`.
const CERT_FILE: &str = "partner.crt";
const KEY_FILE: &str = "partner.key";
/// The CA the gateway trusts for this receiver (`[disposal] webhook_ca`).
pub const CA_FILE: &str = "ca.crt";
/// Callback attempts before a request is given up (the gateway may be restarting).
const CALLBACK_ATTEMPTS: u32 = 8;
/// Message ids remembered; older ones are forgotten (a redelivery that old is rare).
const KEYS_KEPT: usize = 100_000;

/// Options of `fenghuo-gateway partner-sim`.
#[derive(Debug, clap::Args)]
pub struct PartnerSimArgs {
    /// The partner's name at the gateway (`fenghuo partner add <name>`).
    #[arg(long, value_name = "NAME", required_unless_present = "init_only")]
    name: Option<String>,
    /// Address to receive webhooks on (port 0: any free port; see --addr-file).
    #[arg(long, default_value = "127.0.0.1:9443", value_name = "ADDR")]
    listen: SocketAddr,
    /// Folder with the receiver's certificate (partner.crt, partner.key) and the CA that
    /// signed it (ca.crt: give it to the gateway as `[disposal] webhook_ca`). Made if missing.
    #[arg(long, value_name = "DIR")]
    tls_dir: PathBuf,
    /// A DNS name or IP address the certificate is made for (repeat; used when it is made).
    #[arg(long = "host", value_name = "NAME", default_values = ["localhost", "127.0.0.1"])]
    hosts: Vec<String>,
    /// The webhook secret shared with the gateway: the same file as `fenghuo partner add …
    /// --secret-file` (`whsec_…`, or raw bytes).
    #[arg(long, value_name = "FILE", required_unless_present = "init_only")]
    secret_file: Option<PathBuf>,
    /// The gateway's dashboard address, where partners' callbacks go (https://host:port).
    #[arg(long, value_name = "URL", required_unless_present = "init_only")]
    callback: Option<String>,
    /// The CA that signed the gateway's dashboard certificate (ca-web.crt).
    #[arg(long, value_name = "FILE")]
    callback_ca: Option<PathBuf>,
    /// The outcome reported for every request: removed, disabled, limited, labelled,
    /// corrected, responded, partial or no-action (default: what each request asked).
    #[arg(long, value_parser = parse_outcome)]
    answer: Option<Outcome>,
    /// How long after acknowledging to report the outcome (e.g. 500ms, 2s).
    #[arg(long, default_value = "1s", value_parser = timespec::parse_duration)]
    after: Duration,
    /// Write the bound address to this file once listening.
    #[arg(long, value_name = "FILE")]
    addr_file: Option<PathBuf>,
    /// Make the certificate in --tls-dir and stop.
    #[arg(long)]
    init_only: bool,
}

fn parse_outcome(s: &str) -> Result<Outcome, String> {
    s.parse::<Outcome>().map_err(|e| e.to_string())
}

/// Makes a CA and a certificate for `hosts` in `dir` unless they are there already.
pub fn ensure_tls(dir: &Path, hosts: &[String]) -> anyhow::Result<()> {
    if dir.join(CERT_FILE).exists() && dir.join(KEY_FILE).exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "Fenghuo partner simulator CA");
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = rcgen::Issuer::from_params(&ca, &ca_key);
    let leaf_key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(Vec::<String>::new())?;
    for h in hosts {
        leaf.subject_alt_names.push(match h.parse() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(h.as_str().try_into()?),
        });
    }
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer)?;
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    };
    write(CA_FILE, ca_cert.pem())?;
    write(CERT_FILE, leaf_cert.pem())?;
    write(KEY_FILE, leaf_key.serialize_pem())?;
    Ok(())
}

/// What the receiver shares between connections.
#[derive(Debug)]
struct Sim {
    name: String,
    secret: Vec<u8>,
    callback: String,
    client: WebhookClient,
    answer: Option<Outcome>,
    after: Duration,
    keys: Mutex<HashSet<String>>,
    answered: AtomicU64,
}

fn reply(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(text.to_owned())));
    *r.status_mut() = status;
    r
}

async fn handle(sim: Arc<Sim>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let key = header(signature::ID_HEADER).unwrap_or_default();
    let (parts, body) = req.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return reply(StatusCode::BAD_REQUEST, "unreadable body");
    };
    if let Err(e) = signature::verify(&[&sim.secret], &parts.headers, &body) {
        tracing::warn!(error = %e, "webhook refused");
        return reply(StatusCode::UNAUTHORIZED, &e.to_string());
    }
    let Ok(value) = serde_json::from_slice::<Value>(&body) else {
        return reply(StatusCode::BAD_REQUEST, "not JSON");
    };
    let fresh = match sim.keys.lock() {
        Ok(mut keys) => {
            if keys.len() >= KEYS_KEPT {
                keys.clear();
            }
            keys.insert(key)
        }
        Err(_) => return reply(StatusCode::INTERNAL_SERVER_ERROR, "receiver state lost"),
    };
    let id = value["request"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let kind = value["type"].as_str().unwrap_or_default();
    if !fresh {
        tracing::info!(request = %id, kind, "delivered again: taken already");
        return reply(StatusCode::OK, "taken already");
    }
    tracing::info!(
        request = %id,
        kind,
        action = value["request"]["action"].as_str().unwrap_or_default(),
        urls = %value["request"]["urls"],
        "webhook taken"
    );
    if kind == "request" && !id.is_empty() {
        let asked = value["request"]["action"]
            .as_str()
            .and_then(|a| a.parse::<Action>().ok());
        let outcome = sim
            .answer
            .or(asked.map(Outcome::fulfilling))
            .unwrap_or(Outcome::Partial);
        tokio::spawn(answer(sim, id, outcome));
    }
    reply(StatusCode::OK, "taken")
}

/// POSTs one signed callback, retrying while the gateway does not answer.
async fn call(sim: &Sim, conn: &mut Option<Connection>, action: &str, body: Value) -> bool {
    let url = format!(
        "{}/partner-api/{}/{action}",
        sim.callback.trim_end_matches('/'),
        sim.name
    );
    let text = body.to_string();
    for attempt in 0..CALLBACK_ATTEMPTS {
        let ts = timespec::now_ms() / 1000;
        let key = format!("{action}-{}", body["id"].as_str().unwrap_or_default());
        let Ok(sig) = signature::sign(&[&sim.secret], &key, ts, text.as_bytes()) else {
            return false;
        };
        let signed = crate::webhook::client::Signed {
            id: &key,
            timestamp: ts,
            signature: &sig,
        };
        match sim.client.post(conn, &url, &text, &signed).await {
            Ok(status) if (200..300).contains(&status) => return true,
            // Refused for what it says: retrying would not change that.
            Ok(status) if (400..500).contains(&status) => {
                tracing::warn!(%url, status, "callback refused");
                return false;
            }
            Ok(status) => tracing::warn!(%url, status, attempt, "callback failed; retrying"),
            Err(e) => tracing::warn!(%url, error = %e, attempt, "callback failed; retrying"),
        }
        tokio::time::sleep(crate::webhook::backoff(attempt)).await;
    }
    false
}

/// Acknowledges request `id`, then reports `outcome` after `sim.after`.
async fn answer(sim: Arc<Sim>, id: String, outcome: Outcome) {
    let mut conn = None;
    if !call(&sim, &mut conn, "acknowledge", json!({"id": id})).await {
        return;
    }
    tokio::time::sleep(sim.after).await;
    let n = sim.answered.fetch_add(1, Ordering::Relaxed) + 1;
    let body = json!({
        "id": id,
        "outcome": outcome.as_str(),
        "reason": "Handled by the partner simulator under its community rules",
        "reference": format!("{}-case-{n}", sim.name),
    });
    if call(&sim, &mut conn, "respond", body).await {
        tracing::info!(request = %id, outcome = outcome.as_str(), "outcome reported");
    }
}

fn server_tls(dir: &Path) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    use fenghuo_node::pki::cert;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let certs = cert::read_cert_pem(&dir.join(CERT_FILE))?
        .into_iter()
        .map(CertificateDer::from)
        .collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert::read_key_pem(
        &dir.join(KEY_FILE),
    )?));
    let config = rustls::ServerConfig::builder_with_provider(fenghuo_node::pki::tls::provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(Arc::new(config))
}

/// Runs the simulator until SIGINT or SIGTERM.
pub fn run(args: PartnerSimArgs) -> anyhow::Result<()> {
    ensure_tls(&args.tls_dir, &args.hosts)?;
    if args.init_only {
        eprintln!(
            "partner simulator certificate in {}; the gateway trusts {}",
            args.tls_dir.display(),
            args.tls_dir.join(CA_FILE).display()
        );
        return Ok(());
    }
    // clap requires these unless --init-only.
    let (Some(name), Some(secret_file), Some(callback)) =
        (args.name, args.secret_file, args.callback)
    else {
        anyhow::bail!("--name, --secret-file and --callback are required");
    };
    // As `fenghuo partner add --secret-file` reads it: `whsec_…`, or the raw bytes.
    let secret = std::fs::read(&secret_file)
        .with_context(|| format!("--secret-file {}", secret_file.display()))?;
    let secret = signature::parse_secret(&secret)
        .map_err(|e| anyhow::anyhow!("--secret-file {}: {e}", secret_file.display()))?;
    if secret.is_empty() {
        anyhow::bail!("--secret-file {} is empty", secret_file.display());
    }
    let tls = server_tls(&args.tls_dir)?;
    // The callback goes to the gateway the operator named, often on this machine.
    let client = WebhookClient::new(args.callback_ca.as_deref(), true)?;
    let sim = Arc::new(Sim {
        name,
        secret,
        callback,
        client,
        answer: args.answer,
        after: args.after,
        keys: Mutex::new(HashSet::new()),
        answered: AtomicU64::new(0),
    });
    tokio::runtime::Runtime::new()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let addr = listener.local_addr()?;
        if let Some(f) = &args.addr_file {
            std::fs::write(f, addr.to_string())
                .with_context(|| format!("writing {}", f.display()))?;
        }
        tracing::info!(partner = %sim.name, %addr, "partner simulator listening (HTTPS)");
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        let stop = fenghuo_node::start::terminate_signal();
        tokio::pin!(stop);
        loop {
            let (tcp, remote) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                _ = &mut stop => break,
            };
            let (acceptor, sim) = (acceptor.clone(), sim.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    tracing::debug!(%remote, "TLS handshake failed");
                    return;
                };
                let service = hyper::service::service_fn(move |req| {
                    let sim = sim.clone();
                    async move { Ok::<_, std::convert::Infallible>(handle(sim, req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
        tracing::info!("partner simulator stopped");
        anyhow::Ok(())
    })
}
