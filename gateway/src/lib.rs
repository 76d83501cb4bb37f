//! # fenghuo-gateway
//!
//! The provincial gateway: a node of kind province (from `fenghuo-node`) plus what only the
//! gateway does: the web [`dashboard`] for provincial staff, and delivering disposal requests
//! to partners' webhooks ([`webhook`]); and a partner website's receiver to try that with
//! ([`partner_sim`]).
#![forbid(unsafe_code)]

pub mod dashboard;
pub mod partner_sim;
pub mod webhook;
