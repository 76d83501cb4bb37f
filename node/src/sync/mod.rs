//! Federation sync: nodes keep each other's feeds, over one long-lived bidirectional gRPC
//! stream per link, across outages.
//!
//! - [`entitlement`]: who may receive which feed (checked by sender and receiver);
//! - [`directory`]: declared neighbours and origin certificates;
//! - [`crl`]: the province's CRL, published in its feed and adopted by every node;
//! - [`publish`]: the gateway's workers that publish its CRL and certificate directory;
//! - [`ingest`]: verifying and storing a received run (equivocation kept as evidence);
//! - [`quarantine`]: feeds held back at a genuine but invalid entry, with rate-limited alarms;
//! - [`rekey`]: a compromised county's new key, and what its old key signed set aside;
//! - [`session`]: one sync session, the same on both ends of a link;
//! - [`sessions`]: one inbound session per peer identity (a newer one replaces the older);
//! - [`budget`]: the node-wide memory budget for received runs in flight;
//! - [`link`]: the outbound worker that dials a peer and reconnects with backoff;
//! - [`status`]: what each link is doing, for `fenghuo peers`;
//! - [`health`]: per county, link, contact, lag, errors, evidence, certificate expiry.

pub mod budget;
pub mod crl;
pub mod directory;
pub mod entitlement;
pub mod health;
pub mod ingest;
pub mod link;
pub mod publish;
pub mod quarantine;
pub mod rekey;
pub mod session;
pub mod sessions;
pub mod status;
