//! # fenghuo-gateway
//!
//! The provincial gateway: a node of kind province (from `fenghuo-node`) plus what only the
//! gateway does: the web [`dashboard`] for provincial staff, and delivering disposal requests
//! to partners' webhooks ([`webhook`]).
#![forbid(unsafe_code)]

pub mod dashboard;
pub mod webhook;
