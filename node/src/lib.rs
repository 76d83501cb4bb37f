//! # fenghuo-node
//!
//! The county node library: everything a Fenghuo node is, with the `fenghuo-node` server and
//! the `fenghuo` command-line tool as thin binaries on top.
//!
//! ## Layout
//! - [`identity`]: division codes and certificate identities (`fenghuo://county/510104`).
//! - [`pki`]: the offline provincial CA, reading certificates, mutual TLS with CRL checks
//!   (serving, dialling with an identity check, revocation of open connections).
//! - [`store`]: the narrow storage trait and its sled implementation.
//! - [`feed`]: signed, hash-chained feeds per (origin, audience) and where they are stored.
//! - [`event`]: what a feed entry says (the payload every node decodes).
//! - [`domain`]: focus points, levels, grading standard, the three-step mechanism, and the
//!   shared alert's rules, directives and consultations.
//! - [`register`]: the risk register, a view derived from the feeds, read through its
//!   `read.rs`; [`comms`]: alerts, reports, directives and consultations, views too, with the
//!   journal `Watch` streams and read models in `read.rs` (receipts, responses, overdue
//!   flags); [`views`]: applying entries to every view, catch-up and rebuild.
//! - [`disposal`]: disposal requests to partner websites, relayed by the gateway; read models
//!   in `read.rs` (a request with its case, evidence and history, a partner's message).
//! - [`overview`]: the province at a glance, figures kept current as entries are applied.
//! - [`partner`]: partner websites the province registered, kept by the gateway.
//! - [`staff`]: dashboard staff accounts, kept by the gateway (argon2id password hashes).
//! - [`timespec`]: times and durations as people write them.
//! - [`sync`]: federation: entitlement, verification, sync sessions and links.
//! - [`writer`]: the single writer with group commit; acknowledged means durable.
//! - [`config`]: `node.toml`, typed and checked; [`logging`]: tracing set-up.
//! - [`start`]: opening a node from its config; [`state`]: what handlers share.
//! - [`wire`]: conversions between domain values and their proto enums, shared by the gRPC
//!   server and the CLI client.
//! - [`api`]: gRPC handlers, authentication from the certificate, error mapping.
//! - [`server`]: the mTLS accept loop and the tonic server.
//! - [`cli`]: the `fenghuo` command-line tool.
#![forbid(unsafe_code)]

pub mod api;
pub mod backup;
pub mod cli;
pub mod comms;
pub mod config;
pub mod disposal;
pub mod domain;
pub mod event;
pub mod feed;
pub mod identity;
pub mod logging;
pub mod overview;
pub mod partner;
pub mod pki;
pub mod register;
pub mod server;
pub mod staff;
pub mod start;
pub mod state;
pub mod store;
pub mod sync;
pub mod timespec;
pub mod views;
pub mod wire;
pub mod writer;
