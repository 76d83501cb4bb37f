//! The gRPC edge: who is calling ([`auth`]: every handler checks its caller through a
//! `require_*` helper), one module per service (thin handlers that convert protobuf ↔ domain,
//! call the domain, and present the areas' read models), and the one mapping from domain
//! errors to `tonic::Status` ([`errors`]); how long-lived response streams end
//! ([`stream_end`]). Enum conversions the CLI shares live in [`crate::wire`].

pub mod admin;
pub mod alerts;
pub mod auth;
pub mod convert;
pub mod directives;
pub mod disposal;
pub mod errors;
pub mod federation;
pub mod intake;
pub mod notify;
pub mod overview;
pub mod partners;
pub mod register;
pub mod reports;
pub mod staff;
pub mod stream_end;
