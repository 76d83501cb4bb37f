//! Intake (舆情采集, issue 18): what the county's monitoring systems find — posts, articles,
//! videos, with their engagement figures — taken in as observations, so that officers triage
//! them into risks instead of typing every risk themselves.
//!
//! Observations stay in the county node's own store: they carry personal data, are never
//! written to a feed, and are purged after the county's retention. The same thing seen twice
//! (the same normalised URL, or the same text) is one item with a sighting count and its
//! latest figures; items of one account or one site section form a candidate incident; the
//! county's watch rules flag items with a suggested focus point. docs/intake.md describes
//! the rules.
//!
//! - [`counts`]: the figures a county publishes to its province (counts only), and the view
//!   of every county's latest;
//! - [`observation`]: what a monitoring system submits, and the checks it passes;
//! - [`import`]: observation files (CSV, Excel) read into observations, with per-row errors;
//! - [`feed`]: an RSS or Atom document's entries as observations (the pull worker,
//!   `services::intake_pull`, fetches them);
//! - [`dedupe`]: the normalised URL and the content hash that make two observations one item;
//! - [`group`]: the candidate-incident key;
//! - [`rules`]: watch rules (keyword patterns → focus point);
//! - [`store`]: items in the node's store, their indexes, listing, triage decisions and
//!   retention;
//! - [`suggest`]: what a promoted item suggests for its risk (focus, behaviours, scores).
//!
//! Not built yet (later increments of issue 18): the gRPC `Intake.Submit` service and intake
//! certificates, the HTTPS JSON endpoint, RSS/Atom pull, CSV/XLSX import, where a county's
//! watch rules and retention are configured, triage (list, show, promote, attach, dismiss on
//! the pages and in the CLI), the collection and discovery rates, and the benchmark.

pub mod counts;
pub mod dedupe;
pub mod feed;
pub mod group;
pub mod import;
pub mod observation;
pub mod rules;
pub mod store;
pub mod suggest;

pub use observation::{Engagement, Observation, ObservationError};
pub use rules::{Flag, RuleError, WatchRule, WatchRules};
pub use store::{IntakeError, Item, Recorded, Triage, TriageError};
pub use suggest::{suggest, Suggestion};
