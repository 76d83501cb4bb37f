//! The web pages of a node, served over HTTPS with a certificate from the provincial web CA
//! ([`tls`]) when its config has a `[dashboard]` section: the provincial dashboard at the
//! gateway, and the same layer on a county node. Pages are rendered on the server (HTML from
//! [`layout`] and [`pages`], SVG charts from [`chart`]); every table exports as CSV and JSON
//! ([`table`]); pages reload when the views change ([`live`]). Staff sign in with accounts
//! the node keeps ([`crate::accounts`]; `fenghuo staff add` at the gateway); [`session`] holds sessions and CSRF
//! tokens, [`signin`] the sign-in page, [`throttle`] its progressive delays,
//! [`password_checks`] the threads passwords are checked on per account and address,
//! [`client_addr`] whose address a request is (behind a trusted proxy too), [`filters`] the
//! query every view takes. A binary may serve routes of its own on the same listener (the
//! gateway's partner callbacks): [`router`] and [`start`] take them as `extra_routes`.

pub mod chart;
pub mod client_addr;
pub mod filters;
pub mod intake_push;
pub mod labels;
pub mod lang;
pub mod layout;
pub mod live;
pub mod pages;
pub mod password_checks;
pub mod session;
pub mod signin;
pub mod table;
pub mod throttle;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware;
use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

use crate::config::{DashboardConfig, NodeConfig};
use crate::state::NodeState;
use client_addr::ClientAddress;
use password_checks::PasswordChecks;
use session::Sessions;
use throttle::Throttle;

/// A browser that has not finished its TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What every handler shares.
#[derive(Debug)]
pub struct App {
    /// The node the pages show: store, writer, status board.
    pub node: Arc<NodeState>,
    /// Signed-in sessions and pending sign-in forms.
    pub sessions: Sessions,
    /// Failed sign-ins per (account, address), per address and per account.
    pub throttle: Throttle,
    /// The threads argon2 password checks run on, so a flood of sign-ins cannot exhaust memory.
    pub password_checks: PasswordChecks,
    /// How a request's client address is found (the TCP peer, or behind a trusted proxy).
    pub client_address: ClientAddress,
    /// The register as a county's pages search it.
    pub register: pages::register_index::RegisterIndex,
    /// When each person last opened the inbox (Unix ms), for the header's unread counts.
    pub inbox_seen: pages::inbox::Seen,
    /// The monitoring systems allowed to POST observations ([`intake_push`]).
    pub intake_push: intake_push::Systems,
}

impl App {
    /// A dashboard over `node` with the default settings; sessions end after `idle` without
    /// a request.
    pub fn new(node: Arc<NodeState>, idle: Duration) -> Arc<Self> {
        Arc::new(Self {
            node,
            sessions: Sessions::new(idle),
            throttle: Throttle::default(),
            password_checks: PasswordChecks::default(),
            client_address: ClientAddress::default(),
            register: Default::default(),
            inbox_seen: Default::default(),
            intake_push: Default::default(),
        })
    }

    /// A dashboard over `node` as the `[dashboard]` section says, taking observations over
    /// HTTPS from `systems`.
    pub fn configured(
        node: Arc<NodeState>,
        cfg: &DashboardConfig,
        systems: Vec<crate::config::IntakeCredentials>,
    ) -> Arc<Self> {
        Arc::new(Self {
            node,
            sessions: Sessions::new(cfg.session_idle()),
            throttle: Throttle::new(cfg.signin_delay()),
            password_checks: PasswordChecks::default(),
            client_address: ClientAddress::from_config(cfg),
            register: Default::default(),
            inbox_seen: Default::default(),
            intake_push: intake_push::Systems::new(systems),
        })
    }
}

/// The TCP peer's address, set by the accept loop ([`client_addr`] finds the client from it).
#[derive(Debug, Clone, Copy)]
pub struct Remote(pub SocketAddr);

/// Every route, and `extra_routes` beside them (they bring their own authentication, and
/// get the same security headers). Everything else but the sign-in page requires a session
/// ([`session::require`]).
pub fn router(app: Arc<App>, extra_routes: Router) -> Router {
    let signed_in = Router::new()
        .route("/", get(pages::glance::home))
        .route("/comms", get(pages::comms::page))
        .route("/health", get(pages::health::page))
        .route("/linked", get(pages::linked::page))
        .route("/county/{code}", get(pages::county::page))
        .route("/risk/{id}", get(pages::risk::page))
        .route("/staff", get(pages::staff::page).post(pages::staff::add))
        .route("/staff/{name}/remove", post(pages::staff::remove))
        .route("/reports/ack", post(pages::comms::acknowledge_report))
        .route("/directives", post(pages::comms::issue_directive))
        .route("/export/{file}", get(pages::export))
        .route("/events", get(live::events))
        .route("/assets/live.js", get(live::script))
        .route("/logout", post(signin::logout))
        // A county's pages (the province's answer 404 at the gateway).
        .route("/register", get(pages::register::list))
        .route(
            "/register/new",
            get(pages::register::new_form).post(pages::register::create),
        )
        .route("/register/{id}", get(pages::register_risk::page))
        .route("/register/{id}/{form}", post(pages::register_risk::submit))
        .route("/intake", get(pages::intake::list))
        .route("/intake/rates", get(pages::intake::rates))
        .route(
            "/intake/import",
            get(pages::intake_import::form)
                .post(pages::intake_import::submit)
                // Bigger than the default 2 MB: a month's export; the page says when it is over.
                .layer(axum::extract::DefaultBodyLimit::max(
                    pages::intake_import::MAX_BODY,
                )),
        )
        .route(
            "/intake/import/template.csv",
            get(pages::intake_import::template),
        )
        .route("/intake/{id}", get(pages::intake::page))
        .route("/intake/{id}/{form}", post(pages::intake::submit))
        .route("/inbox", get(pages::inbox::page))
        .route("/inbox/alerts/ack", post(pages::inbox::acknowledge_alert))
        .route(
            "/inbox/directives/respond",
            post(pages::inbox::respond_directive),
        )
        .route(
            "/disposal",
            get(pages::disposal::page).post(pages::disposal::file),
        )
        .layer(middleware::from_fn_with_state(
            app.clone(),
            session::require,
        ));
    Router::new()
        .route("/login", get(signin::form).post(signin::submit))
        // Monitoring systems: no session, a token and a signature instead.
        .route(
            intake_push::PATH,
            post(intake_push::observations)
                .layer(axum::extract::DefaultBodyLimit::max(intake_push::MAX_BODY)),
        )
        .merge(signed_in)
        .with_state(app.clone())
        .merge(extra_routes)
        .layer(middleware::from_fn_with_state(app.clone(), lang::remember))
        .layer(middleware::map_response(security_headers))
}

/// Headers every response carries: no caching of figures, no framing, no sniffing, and a
/// policy that allows only our own script and inline styles.
async fn security_headers(mut res: axum::response::Response) -> axum::response::Response {
    let h = res.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, k: header::HeaderName, v: &'static str| {
        h.entry(k).or_insert(HeaderValue::from_static(v));
    };
    set(h, header::CACHE_CONTROL, "no-store");
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; \
         img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    res
}

/// Why the web layer could not start.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// The certificate or key is missing or unusable.
    #[error(transparent)]
    Tls(#[from] tls::WebTlsError),
    /// An `[[intake.systems]]` token or secret file cannot be read or is unusable.
    #[error("{field}: {reason}")]
    IntakeSystems {
        /// The field (`intake.systems[0].secret_file`).
        field: String,
        /// Why.
        reason: String,
    },
    /// The listen address could not be bound.
    #[error("dashboard.listen: cannot bind {addr}: {source}")]
    Bind {
        /// The address from the config.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// The web layer serving in the background.
#[derive(Debug)]
pub struct Started {
    /// The address it listens on (useful when the config said port 0).
    pub addr: SocketAddr,
    /// Serves until aborted.
    pub task: tokio::task::JoinHandle<()>,
}

/// Binds `cfg.listen` and serves the pages of the running `node` (with `extra_routes`) in
/// the background, until the task is aborted. `base` is the node's config, against whose
/// folder the certificate paths are resolved. Logs the `dashboard listening` line with the
/// bound address.
pub async fn start(
    cfg: &DashboardConfig,
    base: &NodeConfig,
    node: Arc<NodeState>,
    extra_routes: Router,
) -> Result<Started, DashboardError> {
    let web_tls = tls::watch(base.resolve(&cfg.cert), base.resolve(&cfg.key))?;
    // Read again here (the config's check read them too) so a replaced file counts at start.
    let systems = base
        .intake_credentials()
        .map_err(|(field, reason)| DashboardError::IntakeSystems { field, reason })?;
    let listener = TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| DashboardError::Bind {
            addr: cfg.listen,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| DashboardError::Bind {
            addr: cfg.listen,
            source,
        })?;
    tracing::info!(url = %format!("https://{addr}/"), %addr, "dashboard listening (HTTPS)");
    let app = App::configured(node, cfg, systems);
    if matches!(app.node.identity, crate::identity::Identity::County(_)) {
        // The county's register pages search an index built from the whole register: build
        // it now rather than on the first person's request.
        let warm = app.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = warm.register.refresh(warm.node.store.as_ref()) {
                tracing::warn!(error = %e, "building the register's search index");
            }
        });
    }
    let task = tokio::spawn(serve(
        listener,
        app,
        extra_routes,
        web_tls,
        std::future::pending(),
    ));
    Ok(Started { addr, task })
}

/// Serves the pages (and `extra_routes`) on `listener` over HTTPS until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    extra_routes: Router,
    tls: watch::Receiver<Arc<rustls::ServerConfig>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let router = router(app, extra_routes);
    tokio::pin!(shutdown);
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Usually out of file descriptors: pause rather than spin.
                    tracing::warn!(error = %e, "dashboard accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.borrow().clone());
        let router = router.clone();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%remote, error = %e, "dashboard TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let service =
                hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(Remote(remote));
                    router.clone().oneshot(req.map(axum::body::Body::new))
                });
            let served = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .await;
            if let Err(e) = served {
                tracing::debug!(%remote, error = %e, "dashboard connection ended with an error");
            }
        });
    }
}
