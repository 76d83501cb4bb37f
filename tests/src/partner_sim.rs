//! [`WebhookPartner`]: a partner website's webhook receiver, as a partner's engineers would
//! write it from `docs/partners.md`: an HTTPS server (its own throw-away CA) that checks the
//! signature and timestamp of every POST (401 otherwise), takes each delivery once by its
//! idempotency key, and can be "down" (503) for a while.

use std::collections::BTreeSet;
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
    secret: Arc<Vec<u8>>,
    inbox: Arc<Inbox>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let reply = |status: StatusCode, text: &str| {
        let mut r = Response::new(Full::new(Bytes::from(text.to_owned())));
        *r.status_mut() = status;
        Ok(r)
    };
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (ts, sig, key) = (
        header(signature::TIMESTAMP_HEADER),
        header(signature::SIGNATURE_HEADER),
        header(signature::IDEMPOTENCY_HEADER).unwrap_or_default(),
    );
    let Ok(body) = req.into_body().collect().await.map(|b| b.to_bytes()) else {
        return reply(StatusCode::BAD_REQUEST, "unreadable body");
    };
    if inbox.down.load(Ordering::SeqCst) {
        return reply(StatusCode::SERVICE_UNAVAILABLE, "down for maintenance");
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    if let Err(e) = signature::verify(&secret, ts.as_deref(), sig.as_deref(), &body, now) {
        inbox.refused.fetch_add(1, Ordering::SeqCst);
        return reply(StatusCode::UNAUTHORIZED, &e.to_string());
    }
    let Ok(value) = serde_json::from_slice::<Value>(&body) else {
        return reply(StatusCode::BAD_REQUEST, "not JSON");
    };
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

impl WebhookPartner {
    /// Starts a receiver checking signatures with `secret`.
    pub fn start(secret: &[u8]) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder for the partner's CA");
        // A CA of its own, and a certificate for 127.0.0.1 from it.
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
        std::fs::write(dir.path().join("ca.crt"), ca_cert.pem()).expect("writing the CA");

        let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf_cert.der().clone()],
            rustls_pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
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
        let inbox = Arc::new(Inbox::default());
        let secret = Arc::new(secret.to_vec());
        let served = inbox.clone();
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, secret, inbox) = (acceptor.clone(), secret.clone(), served.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |req| {
                        handle(req, secret.clone(), inbox.clone())
                    });
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

    /// Answers 503 to everything while `down`.
    pub fn set_down(&self, down: bool) {
        self.inbox.down.store(down, Ordering::SeqCst);
    }
}
