//! [`WebhookPartner`]: a partner website's webhook receiver, as a partner's engineers would
//! write it from `docs/partners.md`: an HTTPS server (its own throw-away CA) that checks the
//! Standard Webhooks signature and timestamp of every POST (401 otherwise), takes each
//! delivery once by its `webhook-id`, can be "down" (503) for a while, and can refuse one
//! request's messages with a chosen status. (`tests/python/webhook_receiver.py` is the same
//! receiver written with the Python `standardwebhooks` library.)

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use fenghuo_node::disposal::signature;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
use serde_json::Value;

#[derive(Debug, Default)]
struct Inbox {
    /// Deliveries taken, in order (each idempotency key once), with when.
    taken: Mutex<Vec<(Value, std::time::Instant)>>,
    /// Idempotency keys seen.
    keys: Mutex<BTreeSet<String>>,
    /// Deliveries that came again after they were taken.
    repeats: AtomicUsize,
    /// Requests refused for their signature or timestamp.
    refused: AtomicUsize,
    /// Answer 503 to everything.
    down: AtomicBool,
    /// Answer this status to the messages of requests naming these URLs.
    refuse: Mutex<BTreeMap<String, u16>>,
    /// The keys it verifies with (several while a rotation's overlap lasts: any one).
    secrets: Mutex<Vec<Vec<u8>>>,
    /// POSTs per request id, refused ones included.
    posts: Mutex<BTreeMap<String, usize>>,
}

/// A webhook receiver on a loopback port; stops when dropped.
#[derive(Debug)]
pub struct WebhookPartner {
    addr: SocketAddr,
    dir: tempfile::TempDir,
    inbox: Arc<Inbox>,
    _runtime: tokio::runtime::Runtime,
}

async fn handle(
    req: Request<Incoming>,
    inbox: Arc<Inbox>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let reply = |status: StatusCode, text: &str| {
        let mut r = Response::new(Full::new(Bytes::from(text.to_owned())));
        *r.status_mut() = status;
        Ok(r)
    };
    let (parts, body) = req.into_parts();
    let key = parts
        .headers
        .get(signature::ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return reply(StatusCode::BAD_REQUEST, "unreadable body");
    };
    if inbox.down.load(Ordering::SeqCst) {
        return reply(StatusCode::SERVICE_UNAVAILABLE, "down for maintenance");
    }
    let secrets = inbox.secrets.lock().map(|k| k.clone()).unwrap_or_default();
    let secrets: Vec<&[u8]> = secrets.iter().map(Vec::as_slice).collect();
    if let Err(e) = signature::verify(&secrets, &parts.headers, &body) {
        inbox.refused.fetch_add(1, Ordering::SeqCst);
        return reply(StatusCode::UNAUTHORIZED, &e.to_string());
    }
    let Ok(value) = serde_json::from_slice::<Value>(&body) else {
        return reply(StatusCode::BAD_REQUEST, "not JSON");
    };
    let id = value["request"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if let Ok(mut p) = inbox.posts.lock() {
        *p.entry(id.clone()).or_default() += 1;
    }
    let urls = value["request"]["urls"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let refused = inbox.refuse.lock().ok().and_then(|r| {
        urls.iter()
            .find_map(|u| u.as_str().and_then(|u| r.get(u).copied()))
    });
    if let Some(status) = refused {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
        return reply(status, "refused by the test");
    }
    let fresh = inbox
        .keys
        .lock()
        .map(|mut k| k.insert(key))
        .unwrap_or(false);
    if fresh {
        if let Ok(mut t) = inbox.taken.lock() {
            t.push((value, std::time::Instant::now()));
        }
    } else {
        inbox.repeats.fetch_add(1, Ordering::SeqCst);
    }
    reply(StatusCode::OK, "taken")
}

/// Makes a throw-away CA (`ca.crt` in `dir`) and a certificate for 127.0.0.1 and localhost
/// from it (`server.crt`, `server.key` in `dir` too); returns the certificate and key, DER.
fn server_certificate(dir: &Path) -> (rustls_pki_types::CertificateDer<'static>, Vec<u8>) {
    let ca_key = KeyPair::generate().expect("a CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).expect("the partner CA");
    let issuer = rcgen::Issuer::from_params(&ca, &ca_key);
    let leaf_key = KeyPair::generate().expect("a server key");
    let mut leaf = CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
    leaf.subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().expect("an address")));
    let leaf_cert = leaf
        .signed_by(&leaf_key, &issuer)
        .expect("the server certificate");
    std::fs::write(dir.join("ca.crt"), ca_cert.pem()).expect("writing the CA");
    std::fs::write(dir.join("server.crt"), leaf_cert.pem()).expect("writing the certificate");
    std::fs::write(dir.join("server.key"), leaf_key.serialize_pem()).expect("writing the key");
    (leaf_cert.der().clone(), leaf_key.serialize_der())
}

/// The same receiver written in Python with the maintained `standardwebhooks` library
/// (`tests/python/webhook_partner.py serve`), as a partner's engineers would, on a loopback
/// port; killed when dropped.
#[derive(Debug)]
pub struct PythonPartner {
    port: u16,
    dir: tempfile::TempDir,
    child: std::process::Child,
}

impl PythonPartner {
    /// Starts a receiver verifying with the secret in `secret_file` (`whsec_…`).
    pub fn start(secret_file: &Path) -> Self {
        use std::io::BufRead as _;
        let dir = tempfile::tempdir().expect("a temporary folder for the partner");
        server_certificate(dir.path());
        let path = |name: &str| dir.path().join(name).display().to_string();
        let mut child = crate::python::spawn_script(
            "webhook_partner.py",
            &[
                "serve",
                "--secret-file",
                &secret_file.display().to_string(),
                "--cert",
                &path("server.crt"),
                "--key",
                &path("server.key"),
                "--out",
                &path("received.jsonl"),
            ],
        );
        let mut line = String::new();
        let stdout = child.stdout.take().expect("the script's output");
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the receiver's port");
        let port = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("the Python receiver did not start: {line:?}")
        });
        Self { port, dir, child }
    }

    /// The webhook URL to register.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/fenghuo", self.port)
    }

    /// The CA the gateway must trust to reach it.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// Every POST received: `{"webhook_id", "body"}` when the library verified it,
    /// `{"webhook_id", "refused"}` when it did not.
    pub fn received(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("received.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for PythonPartner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl WebhookPartner {
    /// Starts a receiver checking signatures with `secret`.
    pub fn start(secret: &[u8]) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder for the partner's CA");
        let (leaf_cert, leaf_key) = server_certificate(dir.path());
        let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf_cert],
            rustls_pki_types::PrivateKeyDer::Pkcs8(leaf_key.into()),
        )
        .expect("a server TLS configuration");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the partner");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        let inbox = Arc::new(Inbox {
            secrets: Mutex::new(vec![secret.to_vec()]),
            ..Inbox::default()
        });
        let served = inbox.clone();
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, inbox) = (acceptor.clone(), served.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |req| handle(req, inbox.clone()));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            dir,
            inbox,
            _runtime: runtime,
        }
    }

    /// The webhook URL to register.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/hooks/fenghuo", self.addr.port())
    }

    /// The CA the gateway must trust to reach it (`disposal.webhook_ca`).
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// Its folder.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Deliveries taken, in order, each once.
    pub fn taken(&self) -> Vec<Value> {
        self.taken_at().into_iter().map(|(v, _)| v).collect()
    }

    /// Deliveries taken, in order, each once, with when they were taken.
    pub fn taken_at(&self) -> Vec<(Value, std::time::Instant)> {
        self.inbox
            .taken
            .lock()
            .map(|t| t.clone())
            .unwrap_or_default()
    }

    /// Deliveries that came again after they were taken.
    pub fn repeats(&self) -> usize {
        self.inbox.repeats.load(Ordering::SeqCst)
    }

    /// POSTs refused for their signature or timestamp.
    pub fn refused(&self) -> usize {
        self.inbox.refused.load(Ordering::SeqCst)
    }

    /// Answers `status` to every message of a request naming `url`, from now on.
    pub fn refuse(&self, url: &str, status: u16) {
        if let Ok(mut r) = self.inbox.refuse.lock() {
            r.insert(url.to_owned(), status);
        }
    }

    /// Verifies with these keys from now on (any one may match).
    pub fn set_keys(&self, keys: &[&[u8]]) {
        if let Ok(mut k) = self.inbox.secrets.lock() {
            *k = keys.iter().map(|k| k.to_vec()).collect();
        }
    }

    /// POSTs that named request `id` and passed the signature check, refused ones included.
    pub fn posts(&self, id: &str) -> usize {
        self.inbox
            .posts
            .lock()
            .map(|p| p.get(id).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Answers 503 to everything while `down`.
    pub fn set_down(&self, down: bool) {
        self.inbox.down.store(down, Ordering::SeqCst);
    }
}
