//! Opening a node from its configuration: store, views caught up, grading standard, signing
//! key, writer and TLS. No sockets are bound here; the binary (or a test) binds and calls
//! [`crate::server::serve`].

use std::sync::Arc;

use crate::config::NodeConfig;
use crate::domain::{GradingError, GradingStandard};
use crate::feed::keys::KeyError;
use crate::feed::FeedSigner;
use crate::pki::tls::{TlsError, TlsPaths, TlsReloader};
use crate::register::view;
use crate::state::NodeState;
use crate::store::{SledStore, StoreError};
use crate::writer::{Writer, WriterContext};

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store could not be opened or read.
    #[error(transparent)]
    Store(#[from] StoreError),
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
    /// The node key could not be loaded.
    #[error("tls.key: {0}")]
    Key(#[from] KeyError),
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
        let tls = TlsReloader::start(paths.clone(), identity.clone())?;
        let signer = FeedSigner::from_pem_file(&paths.key)?;
        let standard = Arc::new(load_standard(cfg)?);
        let store: Arc<SledStore> = Arc::new(SledStore::open(&cfg.resolve(&cfg.data_dir))?);
        let applied = view::catch_up(store.as_ref())?;
        if applied > 0 {
            tracing::info!(entries = applied, "views caught up with the feeds");
        }
        let writer = Writer::start(WriterContext {
            store: store.clone(),
            origin: identity.path(),
            unit: identity.unit().map(|u| u.to_string()).unwrap_or_default(),
            signer,
            standard: standard.clone(),
        })?;
        let state = Arc::new(NodeState {
            identity,
            store,
            writer,
            standard,
        });
        Ok(Self { state, tls })
    }
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
    let state = node.state.clone();
    let tls = node.tls;
    let task = tokio::spawn(async move {
        let rx = tls.subscribe();
        // The reloader lives as long as the server.
        let _tls = tls;
        crate::server::serve(listener, state, rx, shutdown).await
    });
    Ok(Running {
        addr,
        state: node.state,
        task,
    })
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn terminate_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
