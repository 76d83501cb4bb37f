//! Shared alerts (预警通报) beyond their domain rules (`crate::domain::alert`): for now their
//! export as OASIS CAP 1.2 XML, the format alert hubs exchange.

pub mod cap;

pub use cap::{CapMessage, CapReference, MessageKind};
