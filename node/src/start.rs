//! Opening a node from its configuration: store, views caught up, grading standard, signing
//! key, writer and TLS ([`Node::open`]); serving it ([`launch`]); and the whole life of a
//! server process, web pages included ([`run_until_stopped`]), which `fenghuo-node run` and
//! `fenghuo-gateway run`/`node` share.

use std::sync::Arc;

use crate::config::NodeConfig;
use crate::dispatch;
use crate::domain::{GradingError, GradingStandard};
use crate::feed::keys::KeyError;
use crate::feed::FeedSigner;
use crate::identity::Identity;
use crate::pki::cert;
use crate::pki::tls::{TlsError, TlsPaths, TlsReloader};
use crate::register::Command;
use crate::services::worker::{self, Workers};
use crate::state::NodeState;
use crate::store::{SledStore, StoreError};
use crate::sync::directory;
use crate::sync::link::{self, LinkTarget};
use crate::sync::session::SyncContext;
use crate::sync::status::StatusBoard;
use crate::writer::{Writer, WriterContext};

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store could not be opened or read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The intake's feeds could not be started.
    #[error("intake.feeds: {0}")]
    Intake(String),
    /// The notifier could not be set up.
    #[error("notify: {0}")]
    Notify(String),
    /// The grading standard file is missing or invalid.
    #[error("grading_standard {path}: {source}")]
    Standard {
        /// The file.
        path: String,
        /// What is wrong with it.
        source: GradingError,
    },
    /// The grading standard file could not be read.
    #[error("grading_standard {path}: {source}")]
    StandardRead {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The feed-signing key could not be loaded.
    #[error("tls.feed_key: {0}")]
    Key(#[from] KeyError),
    /// The feed-signing key is not the one the certificate certifies.
    #[error(
        "{key} is not the feed-signing key {cert} certifies: install the certificate and \
             its .key and .feed.key from the same `fenghuo ca issue` (peers would refuse every \
             entry signed with it)"
    )]
    FeedKeyMismatch {
        /// The certificate.
        cert: String,
        /// The feed key file.
        key: String,
    },
    /// TLS material is wrong.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The writer thread could not start, or the socket could not be read.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The listen address could not be bound.
    #[error("listen: cannot bind {addr}: {source}")]
    Bind {
        /// The address from the config.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A node ready to serve.
#[derive(Debug)]
pub struct Node {
    /// Shared state for the handlers.
    pub state: Arc<NodeState>,
    /// The current TLS configuration, reloaded when files change.
    pub tls: TlsReloader,
    /// Set to true to stop the server, its links and every sync session.
    pub stop: tokio::sync::watch::Sender<bool>,
}

/// Tree of node-local settings the views were built under (not a view: a rebuild keeps it).
const SETTINGS_TREE: &str = "node_settings";
/// Key of the display zone the per-day counts were last built in.
const VIEWS_ZONE_KEY: &[u8] = b"views_time_zone";

/// Makes `cfg.time_zone` the process's display zone (what the daemons print and count days
/// in). A process that opens several nodes (the demo) keeps the first node's zone.
pub fn use_display_zone(cfg: &NodeConfig) {
    let zone = cfg.display_zone();
    if !crate::timespec::set_display_zone(zone.clone()) && crate::timespec::display_zone() != &zone
    {
        tracing::warn!(
            time_zone = %cfg.time_zone,
            "another node of this process set the display zone first; showing its times"
        );
    }
}

/// Per-day counts are kept by local day: when the node's zone differs from the one its views
/// were built in (or they were built before days were local), rebuild them from the feeds.
pub fn rebuild_if_zone_changed(
    store: &dyn crate::store::Store,
    zone: &str,
) -> Result<(), StoreError> {
    let built = store.get(SETTINGS_TREE, VIEWS_ZONE_KEY)?;
    if built.as_deref() == Some(zone.as_bytes()) {
        return Ok(());
    }
    if built.is_some() || !crate::feed::log::heads(store)?.is_empty() {
        tracing::info!(
            time_zone = zone,
            "display zone changed: rebuilding the views' per-day counts"
        );
        dispatch::rebuild(store)?;
    }
    mark_views_zone(store, zone)
}

/// Records that the views were (re)built in `zone` (after `fenghuo-node rebuild-views`).
pub fn mark_views_zone(store: &dyn crate::store::Store, zone: &str) -> Result<(), StoreError> {
    let mut b = crate::store::Batch::new();
    b.insert(
        SETTINGS_TREE,
        VIEWS_ZONE_KEY.to_vec(),
        zone.as_bytes().to_vec(),
    );
    store.commit(&b)
}

/// The TLS file paths of `cfg`, resolved against its folder.
pub fn tls_paths(cfg: &NodeConfig) -> TlsPaths {
    TlsPaths {
        ca: cfg.resolve(&cfg.tls.ca),
        cert: cfg.resolve(&cfg.tls.cert),
        key: cfg.resolve(&cfg.tls.key),
        crl: cfg.resolve(&cfg.tls.crl),
    }
}

/// The feed-signing key `cfg` names: `tls.feed_key`, else the `.feed.key` beside the TLS
/// key, else the TLS key itself (a holder from before TLS keys were ECDSA).
pub fn feed_key_path(cfg: &NodeConfig, paths: &TlsPaths) -> std::path::PathBuf {
    if let Some(p) = &cfg.tls.feed_key {
        return cfg.resolve(p);
    }
    let beside = paths.key.with_extension(crate::pki::ca::FEED_KEY_SUFFIX);
    if beside.exists() {
        beside
    } else {
        paths.key.clone()
    }
}

/// The grading standard `cfg` names, or the built-in one.
pub fn load_standard(cfg: &NodeConfig) -> Result<GradingStandard, StartError> {
    match &cfg.grading_standard {
        None => Ok(GradingStandard::default_standard()),
        Some(p) => {
            let path = cfg.resolve(p);
            let text =
                std::fs::read_to_string(&path).map_err(|source| StartError::StandardRead {
                    path: path.display().to_string(),
                    source,
                })?;
            GradingStandard::from_toml(&text).map_err(|source| StartError::Standard {
                path: path.display().to_string(),
                source,
            })
        }
    }
}

impl Node {
    /// Opens everything `cfg` names. Must run inside a tokio runtime (the TLS reloader is a task).
    pub fn open(cfg: &NodeConfig) -> Result<Self, StartError> {
        let identity = cfg.identity();
        let paths = tls_paths(cfg);
        let signer = FeedSigner::from_pem_file(&feed_key_path(cfg, &paths))?;
        let feed_public = signer.verifying_key();
        let standard = Arc::new(load_standard(cfg)?);
        let store: Arc<SledStore> = Arc::new(SledStore::open(&cfg.resolve(&cfg.data_dir))?);
        // TLS uses the newest CRL: the node's own file or the one the province published.
        let crl_store = store.clone();
        let published: crate::pki::tls::PublishedCrl =
            Arc::new(move || crate::sync::crl::current(crl_store.as_ref()).ok().flatten());
        let tls = TlsReloader::start(paths.clone(), identity.clone(), Some(published))?;
        use_display_zone(cfg);
        rebuild_if_zone_changed(store.as_ref(), &cfg.time_zone)?;
        let applied = dispatch::catch_up(store.as_ref())?;
        if applied > 0 {
            tracing::info!(entries = applied, "views caught up with the feeds");
        }
        let views_lock: Arc<std::sync::Mutex<()>> = Arc::default();
        let writer = Writer::start(WriterContext {
            views_lock: views_lock.clone(),
            store: store.clone(),
            origin: identity.path(),
            unit: identity.unit().map(|u| u.to_string()).unwrap_or_default(),
            signer,
            standard: standard.clone(),
        })?;
        let writer = match cfg.replication.reader_of() {
            Some(host) if cfg.province.is_some() => {
                tracing::info!(writer = %host, "gateway replica: reads and syncs; the replica on {host} writes");
                writer.read_only(&host)
            }
            _ => writer,
        };
        // A county with no links has nobody to fetch its entries from: it goes on at once.
        let has_peers = cfg.province.is_some() || !link_targets(cfg, &identity).is_empty();
        // Restored, or started with nothing of its own: its peers may hold more of its feeds
        // than it does (a lost disk, a re-keyed county). Writing now could fork its own feed,
        // so writes wait until a peer that holds them all shows it is not behind.
        let own = identity.path();
        let holds_nothing_of_its_own = !crate::feed::log::heads(store.as_ref())?
            .iter()
            .any(|(f, _)| f.origin == own);
        if has_peers && crate::backup::restore_pending(store.as_ref())? {
            tracing::warn!("restored from a backup: writes wait until this node's own entries are back from its peers");
            writer.hold_until_caught_up();
        } else if cfg.gateway.is_some() && holds_nothing_of_its_own && cfg.county.is_some() {
            // (A gateway started empty is a new province or a restore; counties dial it, so
            // it cannot know whom to wait for.)
            tracing::info!("no entry of this node's own yet: writes wait until a peer shows it holds nothing more of them");
            writer.hold_until_caught_up();
        }
        // Our own certificate is what others check our feeds with: keep it in the directory
        // so sessions can hand it on with our runs.
        let own_cert = cert::read_cert_pem(&paths.cert)
            .map_err(TlsError::from)?
            .into_iter()
            .next()
            .unwrap_or_default();
        // A feed key the certificate does not certify would sign entries every peer refuses.
        match directory::key_of(&own_cert) {
            Ok(k) if k == feed_public => {}
            _ => {
                return Err(StartError::FeedKeyMismatch {
                    cert: paths.cert.display().to_string(),
                    key: feed_key_path(cfg, &paths).display().to_string(),
                })
            }
        }
        let store_dyn: Arc<dyn crate::store::Store> = store.clone();
        directory::remember_certificate(store_dyn.as_ref(), &identity.path(), &own_cert)?;
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let quarantine = crate::sync::quarantine::Quarantine::load(store_dyn.as_ref())?;
        let sync = Arc::new(SyncContext {
            stop: stop_rx,
            keys: Default::default(),
            quarantine,
            log_limit: Default::default(),
            me: identity.clone(),
            store: store_dyn,
            writer: writer.clone(),
            tls: tls.subscribe(),
            neighbours: cfg.neighbours.iter().map(|n| n.code.clone()).collect(),
            status: Arc::new(StatusBoard::default()),
            sessions: Default::default(),
            budget: crate::sync::budget::RunBudget::new(cfg.sync.runs_in_flight_bytes()),
        });
        let workers = Workers::new();
        let (passes, views_applied) = tokio::sync::watch::channel(0);
        let (applied_store, commits, urgent) = (store.clone(), writer.commits(), writer.urgent());
        let origin = identity.path();
        // The applier ignores the stop signal, as it always has: it ends with the writer.
        worker::spawn(&workers, "view-applier", stop.subscribe(), move |_| {
            crate::services::applier::run(
                views_lock,
                applied_store,
                commits,
                urgent,
                origin,
                passes,
            )
        });
        let journal = crate::services::journal::spawn(
            &workers,
            store.clone(),
            writer.clone(),
            identity.path(),
            views_applied.clone(),
            stop.subscribe(),
        )?;
        // The gateway publishes each newer CRL, and the CA's certificate directory, in its
        // province feed: giving the files to the gateway alone reaches every node.
        if matches!(identity, Identity::Province(_)) {
            let (author, writer, store) = (identity.path(), writer.clone(), store.clone());
            let sources = crate::sync::publish::Sources {
                ca: paths.ca.clone(),
                crl: paths.crl.clone(),
                directory: cfg.tls.directory.as_ref().map(|d| cfg.resolve(d)),
            };
            worker::spawn(&workers, "publish", stop.subscribe(), move |stop| {
                crate::sync::publish::run(author, writer, store, sources, stop)
            });
        }
        let (alarm_tls, alarm_store) = (tls.subscribe(), store.clone());
        worker::spawn(&workers, "alarm-log", stop.subscribe(), move |stop| {
            crate::sync::health::run_alarm_log(alarm_tls, alarm_store, stop)
        });
        let intake = match &identity {
            Identity::County(_) => {
                let rules = cfg.intake.watch_rules().unwrap_or_default();
                let desk = Arc::new(crate::services::intake_desk::IntakeDesk::new(
                    store.clone(),
                    rules,
                    crate::services::intake_desk::Retention {
                        days: cfg.intake.retention_days,
                        max_items: cfg.intake.max_items,
                    },
                ));
                let purging = desk.clone();
                worker::spawn(&workers, "intake-purge", stop.subscribe(), move |stop| {
                    crate::services::intake_desk::run_purge(purging, stop)
                });
                let (publishing, publisher) = (desk.clone(), writer.clone());
                let (county, author) = (
                    identity.unit().map(|u| u.to_string()).unwrap_or_default(),
                    identity.path(),
                );
                let every = std::time::Duration::from_secs(cfg.intake.publish_every_secs);
                worker::spawn(&workers, "intake-publish", stop.subscribe(), move |stop| {
                    crate::services::intake_desk::run_publisher(
                        publishing, publisher, county, author, every, stop,
                    )
                });
                if !cfg.intake.feeds.is_empty() {
                    let (sink, batches) = tokio::sync::mpsc::channel(16);
                    let recording = desk.clone();
                    worker::spawn(&workers, "intake-record", stop.subscribe(), move |_| {
                        crate::services::intake_desk::run_recorder(recording, batches)
                    });
                    crate::services::intake_pull::spawn_all(
                        &workers,
                        &cfg.intake.feeds,
                        sink,
                        desk.feeds(),
                        stop.subscribe(),
                    )
                    .map_err(|e| StartError::Intake(e.to_string()))?;
                }
                Some(desk)
            }
            _ => None,
        };
        let notifier = Arc::new(
            crate::services::notifier::Notifier::new(
                store.clone(),
                crate::notifications::rules::Rules {
                    unit: identity.unit().map(|u| u.to_string()).unwrap_or_default(),
                    pages: cfg.page_url(),
                },
                cfg.display_zone(),
            )
            .map_err(|e| StartError::Notify(e.to_string()))?,
        );
        let (notifying, notify_journal) = (notifier.clone(), journal.clone());
        worker::spawn(&workers, "notify", stop.subscribe(), move |stop| {
            crate::services::notifier::run(notifying, notify_journal, stop)
        });
        let state = Arc::new(NodeState {
            identity,
            store,
            writer,
            standard,
            sync,
            journal,
            views: views_applied,
            disposal_review: cfg.disposal.review,
            ack_within: cfg.alerts.acknowledge_within(),
            sign_off: cfg.sign_off,
            data_dir: cfg.resolve(&cfg.data_dir),
            stop: stop.subscribe(),
            intake,
            notifier,
            workers,
        });
        Ok(Self { state, tls, stop })
    }
}

/// Why a node stopped with an error once started, or could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The node could not be opened or could not bind its address.
    #[error(transparent)]
    Start(#[from] StartError),
    /// The web layer could not start (certificate, address).
    #[error(transparent)]
    Web(#[from] crate::web::DashboardError),
    /// The gRPC server failed.
    #[error(transparent)]
    Serve(#[from] crate::server::ServeError),
    /// The server task panicked or was cancelled.
    #[error(transparent)]
    Task(#[from] tokio::task::JoinError),
}

/// Runs the node `cfg` describes until SIGINT or SIGTERM: launches it, calls `extend` with
/// the running node (for what the binary adds: the gateway starts its webhook delivery there
/// and returns its partners' callback routes), serves the web layer with those routes beside
/// its pages when `cfg` has a `[dashboard]` section, waits until the server has stopped and
/// its store is flushed, then stops the web layer. Must run inside a tokio runtime.
pub async fn run_until_stopped(
    cfg: &NodeConfig,
    extend: impl FnOnce(&Arc<NodeState>) -> axum::Router,
) -> Result<(), RunError> {
    let running = launch(cfg, terminate_signal()).await?;
    let extra_routes = extend(&running.state);
    let web = match &cfg.dashboard {
        Some(d) => Some(crate::web::start(d, cfg, running.state.clone(), extra_routes).await?),
        None => None,
    };
    let stopped = running.task.await;
    // The pages have nothing to show once the node has stopped.
    if let Some(web) = web {
        web.task.abort();
    }
    stopped??;
    tracing::info!("stopped");
    Ok(())
}

/// A node serving in the background.
#[derive(Debug)]
pub struct Running {
    /// The address it listens on (useful when the config said port 0).
    pub addr: std::net::SocketAddr,
    /// The node's shared state.
    pub state: Arc<NodeState>,
    /// Resolves when the server stops.
    pub task: tokio::task::JoinHandle<Result<(), crate::server::ServeError>>,
}

/// Opens the node, binds `cfg.listen` and serves until `shutdown` resolves. Logs the
/// `listening` line (with the bound address) that tests and operators wait for.
pub async fn launch(
    cfg: &NodeConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<Running, StartError> {
    let node = Node::open(cfg)?;
    if node.state.writer.is_catching_up() {
        // Writes wait for this node's own entries to come back: declare once they have (the
        // declaration may be among them, and then nothing needs writing).
        let (cfg, state) = (cfg.clone(), node.state.clone());
        tokio::spawn(async move {
            while state.writer.is_catching_up() {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            if let Err(e) = declare_neighbours(&cfg, &state).await {
                tracing::error!(error = %e, "declaring neighbours failed");
            }
        });
    } else if let Err(e) = declare_neighbours(cfg, &node.state).await {
        // Not fatal: the node serves its staff; a refused declaration (say, a neighbour the
        // province's directory does not list yet) is written at the next start.
        tracing::error!(error = %e, "declaring neighbours failed");
    }
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: cfg.listen,
            source,
        })?;
    let addr = listener.local_addr()?;
    let kind = if cfg.county.is_some() {
        "fenghuo-node"
    } else {
        "fenghuo-gateway"
    };
    tracing::info!(node = %node.state.identity, %addr, "{kind} listening (mutual TLS)");
    // One stop signal for the server and every link.
    let stop_tx = node.stop.clone();
    let stop_rx = node.stop.subscribe();
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    // Relaying is writing: the writing replica alone does it.
    if cfg.province.is_some() && !node.state.writer.is_read_only() {
        crate::services::relay::spawn(node.state.clone(), cfg.disposal.review, stop_rx.clone());
    }
    let targets = link_targets(cfg, &node.state.identity);
    for target in &targets {
        tracing::info!(peer = %target.peer, address = %target.address, "link configured");
        let ctx = node.state.sync.clone();
        let target = target.clone();
        let name = link_worker_name(&target, &targets);
        worker::spawn(
            &node.state.workers,
            name,
            stop_rx.clone(),
            move |stop| async move {
                link::run(ctx, target, stop).await;
                Ok::<_, std::convert::Infallible>(())
            },
        );
    }
    let state = node.state.clone();
    let tls = node.tls;
    let mut server_stop = stop_rx;
    let task = tokio::spawn(async move {
        let rx = tls.subscribe();
        // The reloader lives as long as the server.
        let _tls = tls;
        let stopped = async move {
            let _ = server_stop.wait_for(|s| *s).await;
        };
        let served = crate::server::serve(listener, state.clone(), rx, stopped).await;
        // Every stream has ended (each observes the stop signal), so the server returned
        // promptly: make the store durable now; it closes when the process exits.
        match state.store.flush() {
            Ok(()) => tracing::info!("server stopped; store flushed"),
            Err(e) => tracing::error!(error = %e, "flushing the store at shutdown failed"),
        }
        served
    });
    Ok(Running {
        addr,
        state: node.state,
        task,
    })
}

/// The peers this node dials: the gateway, and each configured neighbour whose code is
/// higher than ours (the lower code dials, so each pair of neighbours keeps one link).
pub fn link_targets(cfg: &NodeConfig, me: &Identity) -> Vec<LinkTarget> {
    let mut out = Vec::new();
    let Identity::County(code) = me else {
        return out;
    };
    // Every gateway replica gets its own link: each holds every feed on its own.
    for address in cfg.gateway.iter().chain(&cfg.gateway_replicas) {
        if let Ok(peer) = Identity::province(code.province_code()) {
            out.push(LinkTarget {
                peer,
                address: address.clone(),
            });
        }
    }
    for n in &cfg.neighbours {
        if n.code.as_str() > code.as_str() {
            if let Ok(peer) = Identity::county(&n.code) {
                out.push(LinkTarget {
                    peer,
                    address: n.address.clone(),
                });
            }
        }
    }
    out
}

/// The worker name of the link to `target`: `sync-link <peer>`, with the address too when
/// several of `all` go to that peer (a county links to each gateway replica).
fn link_worker_name(target: &LinkTarget, all: &[LinkTarget]) -> String {
    let peer = target.peer.path();
    if all.iter().filter(|t| t.peer.path() == peer).count() > 1 {
        format!("sync-link {peer} {}", target.address)
    } else {
        format!("sync-link {peer}")
    }
}

/// Publishes the configured neighbours in the province feed when they differ from what this
/// county last declared (relays learn from it where to forward its `neighbours` feed).
async fn declare_neighbours(cfg: &NodeConfig, state: &NodeState) -> Result<(), StartError> {
    if cfg.county.is_none() {
        return Ok(());
    }
    let wanted: std::collections::BTreeSet<String> =
        cfg.neighbours.iter().map(|n| n.code.clone()).collect();
    let declared = directory::declared(state.store.as_ref(), state.unit())?;
    if declared.as_ref() == Some(&wanted) {
        return Ok(());
    }
    state
        .writer
        .submit(
            state.identity.path(),
            Command::DeclareNeighbours {
                neighbours: wanted.into_iter().collect(),
            },
        )
        .await
        .map_err(|e| StartError::Io(std::io::Error::other(format!("declaring neighbours: {e}"))))?;
    Ok(())
}

/// A future that resolves on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when
/// this is called, not when the future is first polled, so a signal that arrives right after
/// the node reports ready still stops it cleanly. Must be called inside a tokio runtime.
pub fn terminate_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let int = signal(SignalKind::interrupt());
        let term = signal(SignalKind::terminate());
        async move {
            match (int, term) {
                (Ok(mut int), Ok(mut term)) => {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async move {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
