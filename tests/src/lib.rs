//! # fenghuo-tests
//!
//! End-to-end tests of Fenghuo: the real `fenghuo`, `fenghuo-node` and `fenghuo-gateway`
//! executables, each node
//! on a loopback port the OS picks, with its own data and its own throw-away CA. Nothing is
//! shared between tests, so they run in parallel; everything is removed on drop.
//!
//! ## Layout
//!
//! - [`binaries`]: finds the executables next to the test executable (building them once
//!   with `cargo build -p fenghuo-node --bins` if they are missing).
//! - [`pki`]: [`TestPki`], a provincial CA in a temporary folder (`fenghuo ca …`), and
//!   [`Credentials`], the cert/key/CA triple a client presents.
//! - [`node`]: [`TestNode`], a county node as a child process: started with
//!   [`TestNode::start`] or [`TestNode::builder`], ready when it logs its listening line,
//!   then [`TestNode::stop`], [`TestNode::kill9`], [`TestNode::restart`].
//! - [`cli`]: [`Cli`], a `fenghuo` run built up with `.args(…)` and `.run()`, and
//!   [`CliOutput`] with `.ok()`, `.json()`, `.err()`, `.next_cursor()`.
//! - [`grpc`]: tonic channels with a chosen certificate (or none) for calling services
//!   directly.
//! - [`register`]: reading a register through the CLI; [`Snapshot`] to prove a refused
//!   command wrote nothing.
//! - [`wait`]: [`wait::until`], a bounded loop of short attempts for conditions that become
//!   true asynchronously (a CRL reload, convergence). Readiness never needs it.
//! - [`daemon`]: a node or gateway process started from a config file (federation tests).
//! - [`proxy`]: a fault-injecting TCP proxy that can cut and heal a link.
//! - [`province`]: `TestProvince`, a gateway and counties with a proxy on every link, and
//!   the entitlement model the federation tests check against.
//! - [`rogue`]: a peer that speaks the sync protocol with a valid certificate but sends
//!   tampered or forged runs.
//! - [`web`]: [`web::Web`], an HTTPS client with cookies for the dashboard's tests without a browser
//!   (from any loopback address, with extra headers such as `X-Forwarded-For`).
//! - [`partner_sim`]: [`partner_sim::WebhookPartner`], a partner's webhook receiver that checks
//!   signatures and takes each delivery once.
//! - [`python`]: the venv with grpcio and standardwebhooks (`tests/python/`), for foreign clients.
//! - [`browser`]: [`browser::Browser`], headless Chromium through chromedriver for the dashboard.
//!
//! The `bench` binary (`src/bin/bench.rs`) runs the federation benchmarks with in-process
//! nodes; `docs/benchmarks.md` has the commands and figures.
//!
//! ## A test
//!
//! ```no_run
//! use fenghuo_tests::{TestNode, TestPki};
//!
//! let pki = TestPki::new("51");
//! pki.issue_staff("510104", "zhang");
//! let node = TestNode::start(&pki, "510104");
//! let risk = node
//!     .cli(&pki, "staff-510104-zhang")
//!     .args(["risk", "add", "--title", "Flood rumour", "--focus", "emergency-trigger", "--json"])
//!     .run()
//!     .ok()
//!     .json();
//! assert_eq!(risk["id"], "510104-1");
//! ```

pub mod binaries;
pub mod browser;
pub mod cli;
pub mod daemon;
pub mod grpc;
pub mod node;
pub mod partner_sim;
pub mod pki;
pub mod province;
pub mod proxy;
pub mod python;
pub mod register;
pub mod rogue;
pub mod wait;
pub mod web;

pub use cli::{Cli, CliOutput};
pub use node::{NodeBuilder, TestNode};
pub use pki::{Credentials, TestPki};
pub use register::Snapshot;
