//! # fenghuo-node
//!
//! The county node library: everything a Fenghuo node is, with the `fenghuo-node` server and
//! the `fenghuo` command-line tool as thin binaries on top.
//!
//! ## Layout, from the bottom up
//! Each floor imports only the floors below it, and areas never import each other;
//! `node/tests/layers.rs` checks both from the code's own imports.
//!
//! **Foundations.**
//! - [`store`]: the narrow storage trait, its sled implementation, write batches.
//! - [`identity`]: division codes and certificate identities (`fenghuo://county/510104`).
//! - [`timespec`]: times and durations as people write them, in the display zone.
//! - [`places`]: names of administrative divisions by GB/T 2260 code (`锦江区 510104`).
//!
//! **Domain, feeds and PKI.**
//! - [`domain`]: pure rules — focus points, levels, grading, the three-step mechanism,
//!   alerts, directives, disposal actions, item ids, the text rule.
//! - [`feed`]: signed, hash-chained feeds per (origin, audience) and where they are stored.
//! - [`pki`]: the offline provincial CA, certificates, mutual TLS with CRL checks.
//!
//! **Events and what every area shares.**
//! - [`event`]: what a feed entry says (the payload every node decodes, with its own
//!   snapshot types) and the checks every entry passes, local or received.
//! - [`counters`]: the numbering of risks, items and outbox messages.
//!
//! **Areas** — each with `command` (validate, produce events), `view` (apply events),
//! `read` (read models as plain structs: what pages, gRPC and webhooks show) and its
//! records; none imports another:
//! - [`register`]: the risk register; [`comms`]: alerts, reports, directives and
//!   consultations; [`disposal`]: disposal requests to partner websites; [`overview`]: the
//!   province at a glance; [`intake`]: what monitoring systems find, deduplicated and kept
//!   locally for triage; [`notifications`]: duty rosters, channels and the outbox that
//!   reaches the person on duty. The federation's own views (directory, CRL, re-keys) live in
//!   [`sync`].
//!
//! **Where areas meet.**
//! - [`dispatch`]: applies each entry to the area that owns it and runs cross-area reactions;
//!   catch-up and rebuild.
//! - [`writer`]: the single writer — stage, sign, commit, flush (group commit; acknowledged
//!   means durable); [`change`]: each area's command as the writer runs it, with follow-ups.
//!
//! **Services** — long-running tasks above the writer:
//! - [`services`]: the view applier, the journal `Watch` streams read, the gateway's relay,
//!   each started through one worker helper (name, span, stop signal, a status health reads).
//! - [`sync`]: federation — entitlement, verification, sessions, links, health.
//! - [`partner`]: partner websites the province registered; [`accounts`]: the staff
//!   accounts that sign in to the web pages (argon2id); [`backup`]: online backups;
//!   [`config`]: `node.toml`, typed and checked; [`state`]: what handlers and workers share.
//!
//! **Edges.**
//! - [`api`]: gRPC handlers, authentication from the certificate, error mapping.
//! - [`web`]: web pages for any node over HTTPS: sign-in, sessions, CSRF, tables, charts,
//!   exports.
//! - [`cli`]: the `fenghuo` command-line tool; [`wire`]: conversions between domain values
//!   and their proto enums, shared by the gRPC server and the CLI client.
//! - [`server`]: the mTLS accept loop and the tonic server; [`start`]: opening and running a
//!   node from its config; [`logging`]: tracing set-up.
#![forbid(unsafe_code)]

pub mod accounts;
pub mod api;
pub mod backup;
pub mod change;
pub mod cli;
pub mod comms;
pub mod config;
pub mod counters;
pub mod dispatch;
pub mod disposal;
pub mod domain;
pub mod event;
pub mod feed;
pub mod identity;
pub mod intake;
pub mod logging;
pub mod notifications;
pub mod overview;
pub mod partner;
pub mod pki;
pub mod places;
pub mod register;
pub mod server;
pub mod services;
pub mod start;
pub mod state;
pub mod store;
pub mod sync;
pub mod timespec;
pub mod web;
pub mod wire;
pub mod writer;
