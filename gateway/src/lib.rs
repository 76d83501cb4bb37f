//! # fenghuo-gateway
//!
//! The provincial gateway: a node of kind province (from `fenghuo-node`) plus what only the
//! gateway does: the web [`dashboard`] for provincial staff.
#![forbid(unsafe_code)]

pub mod dashboard;
