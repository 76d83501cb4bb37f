//! # fenghuo-gateway
//!
//! The provincial gateway: a node of kind province (from `fenghuo-node`, whose web layer
//! serves the dashboard) plus what only the province does: delivering disposal requests to
//! partners' webhooks and taking their HTTPS callbacks ([`webhook`]); and a partner
//! website's receiver to try that with ([`partner_sim`]), and a county's monitoring system
//! feeding its intake ([`monitor_sim`]).
#![forbid(unsafe_code)]

pub mod monitor_sim;
pub mod partner_sim;
pub mod webhook;
