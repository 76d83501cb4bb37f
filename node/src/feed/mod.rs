//! Signed feeds: one append-only, hash-chained log per (origin, audience).
//!
//! - [`entry`]: the entry's hash, the origin's signature over a chain head, and checking a
//!   run of entries received from elsewhere;
//! - [`keys`]: the origin's Ed25519 signing key, read from its certificate key;
//! - [`log`]: where entries and feed heads live in the store.

pub mod entry;
pub mod keys;
pub mod log;

pub use entry::{Audience, FeedError, FeedId};
pub use fenghuo_proto::v1::Entry;
pub use keys::FeedSigner;
