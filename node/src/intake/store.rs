//! Items as the county node keeps them: in its own store, local only (no intake tree is ever
//! written to a feed), each with its sightings, and indexes that make every lookup a key read.
//!
//! Trees (named key → value):
//! - `intakeid_item`: u64be(id) → JSON [`Item`];
//! - `intakeseen_id`: u64be(last sighting, Unix ms) ‖ u64be(id) → empty (newest first,
//!   and what retention purges);
//! - `intakeurl_id`: normalised URL → u64be(id);
//! - `intakehash_id`: content hash (hex) → u64be(id);
//! - `intakesystem_id`: system 0x00 system id → u64be(id) (idempotent submissions);
//! - `intakegroup_id`: candidate-incident key 0x00 u64be(id) → empty;
//! - `intakeid_keys`: u64be(id) ‖ tree tag ‖ key → empty: the index entries of an item that
//!   its record does not name (the system ids and URLs of later sightings), so purging it
//!   removes them all without a scan. The entries its record names (its URL, hash, first
//!   system id and group) have none: sled holds ~40 bytes of memory per key, whatever its
//!   size, so every key an item does not need is memory a large store does not spend.
//!   (Stores written before this have entries for those too; purging removes both.)
//! - `intake_counter`: `next` → u64be, the last item id given; `items` → u64be, how many
//!   items are held (counted once from `intakeseen_id` in a store written before it);
//! - `intakeopen_id`: flagged (0) or not (1) ‖ u64be(!last sighting) ‖ u64be(id) → empty:
//!   the items still to triage, flagged ones first, each part newest first;
//! - `intaketriaged_at`: u64be(triaged at, Unix ms) ‖ u64be(id) → JSON [`Triaged`]: what
//!   officers did, kept after the item is purged (the rates read it; it holds no content).
//!
//! Recording reads and writes through one [`Batch`]: a caller may record many observations
//! into one batch and commit once. Records must be serialised (one task records at a time):
//! two concurrent read-modify-writes of an item would lose a sighting.

use serde::{Deserialize, Serialize};

use super::dedupe::{content_hash, url_key};
use super::group::incident_key;
use super::observation::{Engagement, Observation, ObservationError, MAX_KEYWORDS};
use super::rules::{Flag, WatchRules};
use crate::store::{read_u64, Batch, Store, StoreError};

/// Items by id.
pub const ITEMS_TREE: &str = "intakeid_item";
/// Items by last sighting.
pub const SEEN_TREE: &str = "intakeseen_id";
/// Items by normalised URL.
pub const URLS_TREE: &str = "intakeurl_id";
/// Items by content hash.
pub const HASHES_TREE: &str = "intakehash_id";
/// Items by (system, system id).
pub const SYSTEMS_TREE: &str = "intakesystem_id";
/// Items by candidate-incident key.
pub const GROUPS_TREE: &str = "intakegroup_id";
/// Each item's index entries.
pub const KEYS_TREE: &str = "intakeid_keys";
/// The last item id given.
pub const COUNTER_TREE: &str = "intake_counter";
/// Items still to triage, flagged first, newest first.
pub const OPEN_TREE: &str = "intakeopen_id";
/// Triage decisions by time.
pub const TRIAGED_TREE: &str = "intaketriaged_at";
const COUNTER_KEY: &[u8] = b"next";
const ITEMS_KEY: &[u8] = b"items";
/// The format of [`Item`] records this build writes.
pub const ITEM_FORMAT: u32 = 1;
const DAY_MS: i64 = 24 * 3600 * 1000;
/// Items purged per commit.
const PURGE_BATCH: usize = 1000;

/// The index trees an item has entries in, with the tag its `intakeid_keys` entries carry.
const INDEXES: [(u8, &str); 4] = [
    (b'u', URLS_TREE),
    (b'h', HASHES_TREE),
    (b's', SYSTEMS_TREE),
    (b'g', GROUPS_TREE),
];

/// Why an observation was not recorded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IntakeError {
    /// The observation fails the checks; names the field.
    #[error(transparent)]
    Invalid(#[from] ObservationError),
    /// The store failed, or holds an unreadable item.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One item: every observation of the same thing, its sightings counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// [`ITEM_FORMAT`] when written.
    pub format: u32,
    /// The node's number for it (`intake list` shows it).
    pub id: u64,
    /// The URL of its first sighting.
    pub url: String,
    /// Its normalised URL.
    pub url_key: String,
    /// The platform of its first sighting.
    pub platform: String,
    /// The account of its first sighting (may be empty).
    pub account: String,
    /// The text of its first sighting.
    pub text: String,
    /// The hash of that text, if long enough to have one.
    pub content_hash: Option<String>,
    /// The candidate incident it belongs to.
    pub incident: String,
    /// The earliest capture time of its sightings, Unix ms.
    pub first_seen_ms: i64,
    /// The latest capture time of its sightings, Unix ms (retention counts from it).
    pub last_seen_ms: i64,
    /// How many distinct observations of it arrived.
    pub sightings: u64,
    /// The figures of its latest-captured sighting.
    pub engagement: Engagement,
    /// When those figures were captured, Unix ms.
    pub engagement_at_ms: i64,
    /// The keywords its sightings matched, first ones first, at most [`MAX_KEYWORDS`].
    pub keywords: Vec<String>,
    /// The system of its first sighting.
    pub system: String,
    /// That system's id for it.
    pub system_id: String,
    /// The watch rules its sightings matched.
    pub flags: Vec<Flag>,
    /// What an officer decided about it.
    #[serde(default)]
    pub triage: Triage,
}

/// What an officer decided about an item (研判处置).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Triage {
    /// Still to triage.
    #[default]
    Open,
    /// Made into a new risk.
    Promoted {
        /// The risk it became.
        risk: String,
        /// Who (identity path).
        by: String,
        /// When, Unix ms.
        at_ms: i64,
    },
    /// Joined to an existing risk's history.
    Attached {
        /// The risk.
        risk: String,
        /// Who.
        by: String,
        /// When, Unix ms.
        at_ms: i64,
    },
    /// Not a risk.
    Dismissed {
        /// Why (required).
        reason: String,
        /// Who.
        by: String,
        /// When, Unix ms.
        at_ms: i64,
    },
}

impl Triage {
    /// True while the item waits for an officer.
    pub fn is_open(&self) -> bool {
        matches!(self, Self::Open)
    }

    /// `open`, `promoted`, `attached` or `dismissed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Promoted { .. } => "promoted",
            Self::Attached { .. } => "attached",
            Self::Dismissed { .. } => "dismissed",
        }
    }

    /// The risk it became or joined, if any.
    pub fn risk(&self) -> Option<&str> {
        match self {
            Self::Promoted { risk, .. } | Self::Attached { risk, .. } => Some(risk),
            _ => None,
        }
    }
}

/// One triage decision as the rates read it: no content, only what and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Triaged {
    /// The item.
    pub item: u64,
    /// `promoted`, `attached` or `dismissed`.
    pub kind: String,
    /// The risk it became or joined (empty when dismissed).
    #[serde(default)]
    pub risk: String,
    /// The item's first sighting, Unix ms (triage time counts from it).
    pub first_seen_ms: i64,
    /// When it was decided, Unix ms.
    pub at_ms: i64,
    /// The URL key and candidate-incident key of the item (the discovery rate compares them
    /// with what other units shared).
    #[serde(default)]
    pub url_key: String,
    /// Its account, `platform:account` in lower case, if any.
    #[serde(default)]
    pub account: String,
}

/// What recording an observation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// A new item.
    New(u64),
    /// Another sighting of an existing item.
    Sighting(u64),
    /// The same (system, system id) again: no new sighting (newer figures are kept).
    Repeat(u64),
}

impl Recorded {
    /// The item's id.
    pub fn id(self) -> u64 {
        match self {
            Self::New(id) | Self::Sighting(id) | Self::Repeat(id) => id,
        }
    }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("intake: {what}: {e}"))
}

fn seen_key(at_ms: i64, id: u64) -> Vec<u8> {
    let mut k = (at_ms.max(0) as u64).to_be_bytes().to_vec();
    k.extend_from_slice(&id.to_be_bytes());
    k
}

fn system_key(system: &str, system_id: &str) -> Vec<u8> {
    let mut k = system.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(system_id.as_bytes());
    k
}

fn group_key(incident: &str, id: u64) -> Vec<u8> {
    let mut k = incident.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&id.to_be_bytes());
    k
}

fn id_of(v: Vec<u8>) -> Result<u64, StoreError> {
    <[u8; 8]>::try_from(v.as_slice())
        .map(u64::from_be_bytes)
        .map_err(|_| corrupt("index entry", "not an item id"))
}

fn decode(v: &[u8]) -> Result<Item, StoreError> {
    serde_json::from_slice(v).map_err(|e| corrupt("item record", e))
}

fn lookup(
    batch: &Batch,
    store: &dyn Store,
    tree: &'static str,
    key: &[u8],
) -> Result<Option<u64>, StoreError> {
    batch.get(store, tree, key)?.map(id_of).transpose()
}

fn load(batch: &Batch, store: &dyn Store, id: u64) -> Result<Item, StoreError> {
    let v = batch
        .get(store, ITEMS_TREE, &id.to_be_bytes())?
        .ok_or_else(|| corrupt("index names a missing item", id))?;
    decode(&v)
}

/// The key in `intakeid_keys` that records item `id`'s entry `key` in the index tagged `tag`.
fn back_key(id: u64, tag: u8, key: &[u8]) -> Vec<u8> {
    let mut back = id.to_be_bytes().to_vec();
    back.push(tag);
    back.extend_from_slice(key);
    back
}

/// The index entries an item's record names, which purging derives from it.
fn named_keys(item: &Item) -> Vec<(&'static str, Vec<u8>)> {
    let mut keys = vec![
        (URLS_TREE, item.url_key.as_bytes().to_vec()),
        (SYSTEMS_TREE, system_key(&item.system, &item.system_id)),
        (GROUPS_TREE, group_key(&item.incident, item.id)),
    ];
    if let Some(h) = &item.content_hash {
        keys.push((HASHES_TREE, h.as_bytes().to_vec()));
    }
    keys
}

/// Whether `key` in `tree` is one of the entries [`named_keys`] derives from `item`; compares
/// in place, since recording asks it for every index entry of every observation.
fn names(item: &Item, tree: &str, key: &[u8]) -> bool {
    match tree {
        URLS_TREE => key == item.url_key.as_bytes(),
        HASHES_TREE => item
            .content_hash
            .as_ref()
            .is_some_and(|h| key == h.as_bytes()),
        SYSTEMS_TREE => {
            let (s, id) = (item.system.as_bytes(), item.system_id.as_bytes());
            key.len() == s.len() + 1 + id.len()
                && key.starts_with(s)
                && key[s.len()] == 0
                && key.ends_with(id)
        }
        GROUPS_TREE => {
            let inc = item.incident.as_bytes();
            key.len() == inc.len() + 9
                && key.starts_with(inc)
                && key[inc.len()] == 0
                && key.ends_with(&item.id.to_be_bytes())
        }
        _ => false,
    }
}

/// Points `key` of the index tagged `tag` at `item`, unless it already points somewhere (the
/// first item to claim a key keeps it). A key the item's record does not name gets a
/// back-reference, so purging finds it.
fn index(
    batch: &mut Batch,
    store: &dyn Store,
    (tag, tree): (u8, &'static str),
    key: &[u8],
    item: &Item,
) -> Result<(), StoreError> {
    if batch.get(store, tree, key)?.is_some() {
        return Ok(());
    }
    let value = if tree == GROUPS_TREE {
        Vec::new()
    } else {
        item.id.to_be_bytes().to_vec()
    };
    batch.insert(tree, key.to_vec(), value);
    if !names(item, tree, key) {
        batch.insert(KEYS_TREE, back_key(item.id, tag, key), Vec::new());
    }
    Ok(())
}

/// Where an item stood in the time-ordered indexes before a change.
struct Before {
    seen: i64,
    open: Option<Vec<u8>>,
}

impl Before {
    fn of(item: &Item) -> Self {
        Self {
            seen: item.last_seen_ms,
            open: open_key(item),
        }
    }
}

/// The item's key in [`OPEN_TREE`], if it is still to triage.
fn open_key(item: &Item) -> Option<Vec<u8>> {
    if !item.triage.is_open() {
        return None;
    }
    let mut k = vec![u8::from(item.flags.is_empty())];
    k.extend_from_slice(&(!(item.last_seen_ms.max(0) as u64)).to_be_bytes());
    k.extend_from_slice(&item.id.to_be_bytes());
    Some(k)
}

fn save(batch: &mut Batch, item: &Item, before: Option<Before>) -> Result<(), StoreError> {
    let v = serde_json::to_vec(item).map_err(|e| corrupt("encoding an item", e))?;
    batch.insert(ITEMS_TREE, item.id.to_be_bytes().to_vec(), v);
    let open = open_key(item);
    if let Some(before) = before {
        if before.seen != item.last_seen_ms {
            batch.remove(SEEN_TREE, seen_key(before.seen, item.id));
        }
        if let Some(old) = before.open.filter(|o| Some(o) != open.as_ref()) {
            batch.remove(OPEN_TREE, old);
        }
    }
    batch.insert(SEEN_TREE, seen_key(item.last_seen_ms, item.id), Vec::new());
    if let Some(k) = open {
        batch.insert(OPEN_TREE, k, Vec::new());
    }
    Ok(())
}

impl Item {
    /// Takes a sighting's figures if it was captured no earlier than the ones held.
    fn take_figures(&mut self, obs: &Observation) -> bool {
        if obs.captured_at_ms < self.engagement_at_ms {
            return false;
        }
        let changed =
            self.engagement != obs.engagement || self.engagement_at_ms != obs.captured_at_ms;
        self.engagement = obs.engagement;
        self.engagement_at_ms = obs.captured_at_ms;
        changed
    }

    /// Adds what a sighting brings besides its figures: its time, keywords and flags.
    fn add_sighting(&mut self, obs: &Observation, flags: Vec<Flag>) {
        self.sightings += 1;
        self.first_seen_ms = self.first_seen_ms.min(obs.captured_at_ms);
        self.last_seen_ms = self.last_seen_ms.max(obs.captured_at_ms);
        for k in &obs.keywords {
            if self.keywords.len() < MAX_KEYWORDS && !self.keywords.contains(k) {
                self.keywords.push(k.clone());
            }
        }
        for f in flags {
            if !self.flags.contains(&f) {
                self.flags.push(f);
            }
        }
    }
}

/// Checks `obs` (with `now_ms`, this node's clock) and records it into `batch`: a new item,
/// another sighting of the item with the same normalised URL or content hash, or a repeat of
/// a (system, system id) already recorded. `rules` flag what it matches.
pub fn record_in(
    batch: &mut Batch,
    store: &dyn Store,
    obs: Observation,
    rules: &WatchRules,
    now_ms: i64,
) -> Result<Recorded, IntakeError> {
    let obs = obs.check(now_ms)?;
    let url = url_key(&obs.url);
    let hash = content_hash(&obs.text);
    let system = system_key(&obs.system, &obs.system_id);

    if let Some(id) = lookup(batch, store, SYSTEMS_TREE, &system)? {
        let mut item = load(batch, store, id)?;
        let before = Before::of(&item);
        if item.take_figures(&obs) {
            item.last_seen_ms = item.last_seen_ms.max(obs.captured_at_ms);
            save(batch, &item, Some(before))?;
        }
        return Ok(Recorded::Repeat(id));
    }

    let flags = rules.flags(&obs.text, &obs.keywords);
    let found = match lookup(batch, store, URLS_TREE, url.as_bytes())? {
        Some(id) => Some(id),
        None => match &hash {
            Some(h) => lookup(batch, store, HASHES_TREE, h.as_bytes())?,
            None => None,
        },
    };
    let (item, seen_before, recorded) = match found {
        Some(id) => {
            let mut item = load(batch, store, id)?;
            let before = Before::of(&item);
            item.add_sighting(&obs, flags);
            item.take_figures(&obs);
            if item.account.is_empty() && !obs.account.is_empty() {
                // First seen where accounts are not named (a feed, a copy elsewhere): the
                // sighting that names the account puts the item in that account's group.
                let old = group_key(&item.incident, id);
                batch.remove(GROUPS_TREE, old.clone());
                // A store written before named keys lost their back-references has one.
                batch.remove(KEYS_TREE, back_key(id, INDEXES[3].0, &old));
                item.account = obs.account.clone();
                item.platform = obs.platform.clone();
                item.incident = incident_key(&obs.platform, &obs.account, &item.url);
                let group = group_key(&item.incident, id);
                index(batch, store, INDEXES[3], &group, &item)?;
            }
            (item, Some(before), Recorded::Sighting(id))
        }
        None => {
            let id = read_u64(batch.get(store, COUNTER_TREE, COUNTER_KEY)?) + 1;
            batch.insert(
                COUNTER_TREE,
                COUNTER_KEY.to_vec(),
                id.to_be_bytes().to_vec(),
            );
            let held = held_in(batch, store)?;
            set_held(batch, held + 1);
            let mut item = Item {
                format: ITEM_FORMAT,
                id,
                url: obs.url.clone(),
                url_key: url.clone(),
                platform: obs.platform.clone(),
                account: obs.account.clone(),
                text: obs.text.clone(),
                content_hash: hash.clone(),
                incident: incident_key(&obs.platform, &obs.account, &obs.url),
                first_seen_ms: obs.captured_at_ms,
                last_seen_ms: obs.captured_at_ms,
                sightings: 0,
                engagement: obs.engagement,
                engagement_at_ms: obs.captured_at_ms,
                keywords: Vec::new(),
                system: obs.system.clone(),
                system_id: obs.system_id.clone(),
                flags: Vec::new(),
                triage: Triage::Open,
            };
            item.add_sighting(&obs, flags);
            let group = group_key(&item.incident, id);
            index(batch, store, INDEXES[3], &group, &item)?;
            (item, None, Recorded::New(id))
        }
    };
    index(batch, store, INDEXES[0], url.as_bytes(), &item)?;
    if let Some(h) = &hash {
        index(batch, store, INDEXES[1], h.as_bytes(), &item)?;
    }
    index(batch, store, INDEXES[2], &system, &item)?;
    save(batch, &item, seen_before)?;
    Ok(recorded)
}

/// [`record_in`] one observation, committed.
pub fn record(
    store: &dyn Store,
    obs: Observation,
    rules: &WatchRules,
    now_ms: i64,
) -> Result<Recorded, IntakeError> {
    let mut batch = Batch::new();
    let recorded = record_in(&mut batch, store, obs, rules, now_ms)?;
    store.commit(&batch)?;
    Ok(recorded)
}

/// The item `id`, if held.
pub fn item(store: &dyn Store, id: u64) -> Result<Option<Item>, StoreError> {
    store
        .get(ITEMS_TREE, &id.to_be_bytes())?
        .map(|v| decode(&v))
        .transpose()
}

fn item_at(store: &dyn Store, tree: &'static str, key: &[u8]) -> Result<Option<Item>, StoreError> {
    match store.get(tree, key)? {
        Some(v) => item(store, id_of(v)?),
        None => Ok(None),
    }
}

/// The item a URL (normalised here) belongs to.
pub fn by_url(store: &dyn Store, url: &str) -> Result<Option<Item>, StoreError> {
    item_at(store, URLS_TREE, url_key(url).as_bytes())
}

/// The item a text (hashed here) belongs to; `None` for a text too short to have a hash.
pub fn by_text(store: &dyn Store, text: &str) -> Result<Option<Item>, StoreError> {
    match content_hash(text) {
        Some(h) => item_at(store, HASHES_TREE, h.as_bytes()),
        None => Ok(None),
    }
}

/// The item a system recorded under its own id.
pub fn by_system(
    store: &dyn Store,
    system: &str,
    system_id: &str,
) -> Result<Option<Item>, StoreError> {
    item_at(store, SYSTEMS_TREE, &system_key(system, system_id))
}

/// The ids of the items of a candidate incident, oldest first.
pub fn incident_items(store: &dyn Store, incident: &str) -> Result<Vec<u64>, StoreError> {
    let mut prefix = incident.as_bytes().to_vec();
    prefix.push(0);
    store
        .scan_prefix(GROUPS_TREE, &prefix)
        .map(|kv| {
            let (k, _) = kv?;
            id_of(k[prefix.len()..].to_vec())
        })
        .collect()
}

/// The `limit` items seen most recently, newest first.
pub fn newest(store: &dyn Store, limit: usize) -> Result<Vec<Item>, StoreError> {
    let mut items = Vec::with_capacity(limit.min(1000));
    for kv in store.range_rev(SEEN_TREE, &[], &[0xff; 17]).take(limit) {
        let (k, _) = kv?;
        let id = id_of(k.get(8..).unwrap_or_default().to_vec())?;
        if let Some(item) = item(store, id)? {
            items.push(item);
        }
    }
    Ok(items)
}

/// Up to `limit` items still to triage, after skipping `skip`: flagged ones first, each part
/// newest first (the triage list).
pub fn open_items(store: &dyn Store, skip: usize, limit: usize) -> Result<Vec<Item>, StoreError> {
    let mut items = Vec::with_capacity(limit.min(1000));
    for kv in store.range(OPEN_TREE, &[], None).skip(skip).take(limit) {
        let (k, _) = kv?;
        let id = id_of(k.get(9..).unwrap_or_default().to_vec())?;
        if let Some(item) = item(store, id)? {
            items.push(item);
        }
    }
    Ok(items)
}

/// How many items are still to triage, and how many of them are flagged, counting no
/// further than `cap` (a page says "10000+" rather than walk millions).
pub fn open_counts(store: &dyn Store, cap: usize) -> Result<(u64, u64), StoreError> {
    let mut open = 0;
    let mut flagged = 0;
    for kv in store.range(OPEN_TREE, &[], None).take(cap) {
        let (k, _) = kv?;
        open += 1;
        if k.first() == Some(&0) {
            flagged += 1;
        }
    }
    Ok((open, flagged))
}

/// Why a triage decision was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TriageError {
    /// No such item (or purged).
    #[error("intake item {0} does not exist (or was purged after the retention period)")]
    NoItem(u64),
    /// Already decided.
    #[error("intake item {id} was already {state}{risk}; only open items can be triaged")]
    Decided {
        /// The item.
        id: u64,
        /// What it is now.
        state: &'static str,
        /// ` (risk …)` when there is one.
        risk: String,
    },
    /// Dismissed without a reason.
    #[error("a dismissal needs a reason (why this is not a risk)")]
    NoReason,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The open item `id`, or why it cannot be triaged.
pub fn open_item(store: &dyn Store, id: u64) -> Result<Item, TriageError> {
    let item = item(store, id)?.ok_or(TriageError::NoItem(id))?;
    if !item.triage.is_open() {
        return Err(TriageError::Decided {
            id,
            state: item.triage.as_str(),
            risk: item
                .triage
                .risk()
                .map(|r| format!(" (risk {r})"))
                .unwrap_or_default(),
        });
    }
    Ok(item)
}

/// Records an officer's decision on open item `id` (serialised with recording).
pub fn decide(store: &dyn Store, id: u64, triage: Triage) -> Result<Item, TriageError> {
    let (at_ms, risk) = match &triage {
        Triage::Open => return open_item(store, id),
        Triage::Dismissed { reason, .. } if reason.trim().is_empty() => {
            return Err(TriageError::NoReason)
        }
        Triage::Dismissed { at_ms, .. } => (*at_ms, String::new()),
        Triage::Promoted { risk, at_ms, .. } | Triage::Attached { risk, at_ms, .. } => {
            (*at_ms, risk.clone())
        }
    };
    let mut item = open_item(store, id)?;
    let before = Before::of(&item);
    item.triage = triage;
    let mut batch = Batch::new();
    save(&mut batch, &item, Some(before))?;
    let log = Triaged {
        item: id,
        kind: item.triage.as_str().to_owned(),
        risk,
        first_seen_ms: item.first_seen_ms,
        at_ms,
        url_key: item.url_key.clone(),
        account: item
            .incident
            .strip_prefix(super::group::ACCOUNT_PREFIX)
            .unwrap_or_default()
            .to_owned(),
    };
    let v = serde_json::to_vec(&log).map_err(|e| corrupt("encoding a decision", e))?;
    batch.insert(TRIAGED_TREE, seen_key(at_ms, id), v);
    store.commit(&batch)?;
    Ok(item)
}

/// How many items `batch` and `store` hold together. A store written before the count was
/// kept is counted once.
fn held_in(batch: &Batch, store: &dyn Store) -> Result<u64, StoreError> {
    match batch.get(store, COUNTER_TREE, ITEMS_KEY)? {
        Some(v) => Ok(read_u64(Some(v))),
        None => Ok(store.scan_prefix(SEEN_TREE, &[]).count() as u64),
    }
}

fn set_held(batch: &mut Batch, n: u64) {
    batch.insert(COUNTER_TREE, ITEMS_KEY.to_vec(), n.to_be_bytes().to_vec());
}

/// How many items the store holds.
pub fn items_held(store: &dyn Store) -> Result<u64, StoreError> {
    held_in(&Batch::new(), store)
}

/// The triage decisions taken from `from_ms` on, oldest first.
pub fn decisions_since(store: &dyn Store, from_ms: i64) -> Result<Vec<Triaged>, StoreError> {
    store
        .range(TRIAGED_TREE, &seen_key(from_ms, 0), None)
        .map(|kv| {
            let (_, v) = kv?;
            serde_json::from_slice(&v).map_err(|e| corrupt("decision record", e))
        })
        .collect()
}

/// Removes every item whose last sighting is more than `days` days before `now_ms`, with
/// all its index entries; returns how many. Commits every [`PURGE_BATCH`] items.
pub fn purge(store: &dyn Store, now_ms: i64, days: u32) -> Result<usize, StoreError> {
    let cutoff = now_ms.saturating_sub(i64::from(days) * DAY_MS);
    remove_oldest(store, Some(&seen_key(cutoff, 0)), usize::MAX)
}

/// Removes the items seen least recently until at most `max_items` are held; how many.
pub fn trim(store: &dyn Store, max_items: u64) -> Result<usize, StoreError> {
    let held = items_held(store)?;
    let over = usize::try_from(held.saturating_sub(max_items)).unwrap_or(usize::MAX);
    if over == 0 {
        return Ok(0);
    }
    remove_oldest(store, None, over)
}

/// Removes up to `limit` items in order of last sighting, stopping at `end` (exclusive), with
/// all their index entries; how many.
fn remove_oldest(store: &dyn Store, end: Option<&[u8]>, limit: usize) -> Result<usize, StoreError> {
    let mut removed = 0;
    while removed < limit {
        let expired: Vec<Vec<u8>> = store
            .range(SEEN_TREE, &[], end)
            .take(PURGE_BATCH.min(limit - removed))
            .map(|kv| kv.map(|(k, _)| k))
            .collect::<Result<_, _>>()?;
        if expired.is_empty() {
            break;
        }
        let mut batch = Batch::new();
        let held = held_in(&batch, store)?;
        for seen in &expired {
            let id_bytes = seen.get(8..).unwrap_or_default();
            for kv in store.scan_prefix(KEYS_TREE, id_bytes) {
                let (back, _) = kv?;
                let tag = back.get(8).copied();
                if let Some((_, tree)) = INDEXES.iter().find(|(t, _)| Some(*t) == tag) {
                    batch.remove(tree, back[9..].to_vec());
                }
                batch.remove(KEYS_TREE, back);
            }
            if let Some(item) = store.get(ITEMS_TREE, id_bytes)? {
                let item = decode(&item)?;
                for (tree, key) in named_keys(&item) {
                    batch.remove(tree, key);
                }
                if let Some(k) = open_key(&item) {
                    batch.remove(OPEN_TREE, k);
                }
            }
            batch.remove(ITEMS_TREE, id_bytes.to_vec());
            batch.remove(SEEN_TREE, seen.clone());
        }
        set_held(&mut batch, held.saturating_sub(expired.len() as u64));
        store.commit(&batch)?;
        removed += expired.len();
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FocusPoint;
    use crate::intake::observation::tests::{seen, NOW};
    use crate::intake::rules::WatchRule;
    use crate::store::SledStore;

    const LONG: &str = "某村拆迁补偿款迟迟未发放,村民聚集在镇政府门口";

    fn open() -> (tempfile::TempDir, SledStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        (dir, store)
    }

    fn rec(store: &SledStore, obs: Observation) -> Recorded {
        record(store, obs, &WatchRules::none(), NOW).unwrap()
    }

    #[test]
    fn urls_differing_by_tracking_fragment_or_www_are_one_item_with_the_latest_figures() {
        let (_dir, store) = open();
        let first = seen("https://weibo.com/u/1/p/2", "第一次看到的文字内容,长一些");
        let first_id = rec(&store, first).id();
        let mut later = seen(
            "http://www.weibo.com/u/1/p/2/?utm_source=share#comments",
            "第二次看到,文字略有不同,也长一些",
        );
        later.system_id = "another".into();
        later.captured_at_ms = NOW - 1000;
        later.engagement.views = 5000;
        assert_eq!(rec(&store, later), Recorded::Sighting(first_id));

        let item = item(&store, first_id).unwrap().unwrap();
        assert_eq!(item.sightings, 2);
        // The later-captured sighting's figures stay: the submission that came second was
        // captured earlier.
        assert_eq!(item.engagement.views, 100);
        assert_eq!(item.first_seen_ms, NOW - 1000);

        let mut newest = seen("https://weibo.com/u/1/p/2#top", "第三次");
        newest.system_id = "third".into();
        newest.captured_at_ms = NOW + 1000;
        newest.engagement.views = 9000;
        newest.engagement.likes = 300;
        assert_eq!(rec(&store, newest), Recorded::Sighting(first_id));
        let item = by_url(&store, "https://WWW.weibo.com/u/1/p/2/")
            .unwrap()
            .unwrap();
        assert_eq!(item.id, first_id);
        assert_eq!(item.sightings, 3);
        assert_eq!((item.engagement.views, item.engagement.likes), (9000, 300));
        assert_eq!(item.last_seen_ms, NOW + 1000);
        // The first sighting's URL and text are the item's.
        assert_eq!(item.url, "https://weibo.com/u/1/p/2");
    }

    #[test]
    fn the_same_text_at_another_url_is_one_item() {
        let (_dir, store) = open();
        let id = rec(&store, seen("https://weibo.com/u/1/p/2", LONG)).id();
        let mut copy = seen("https://tieba.example/p/77", &format!("  {LONG}\n"));
        copy.system_id = "copy".into();
        assert_eq!(rec(&store, copy), Recorded::Sighting(id));
        // The copy's URL now leads to the item too.
        assert_eq!(
            by_url(&store, "https://tieba.example/p/77")
                .unwrap()
                .unwrap()
                .id,
            id
        );
        assert_eq!(by_text(&store, LONG).unwrap().unwrap().sightings, 2);

        // Short texts are not deduplicated by content.
        let a = rec(&store, seen("https://a.example/1", "转发微博"));
        let b = rec(&store, seen("https://b.example/2", "转发微博"));
        assert!(matches!((a, b), (Recorded::New(_), Recorded::New(_))));
    }

    #[test]
    fn the_same_submission_twice_is_one_sighting() {
        let (_dir, store) = open();
        let obs = seen("https://weibo.com/u/1/p/2", LONG);
        let id = rec(&store, obs.clone()).id();
        assert_eq!(rec(&store, obs.clone()), Recorded::Repeat(id));
        assert_eq!(
            by_system(&store, "yuqing-1", &obs.system_id)
                .unwrap()
                .unwrap()
                .sightings,
            1
        );
        // The system re-sends its id with newer figures: still one sighting, figures taken.
        let mut again = obs.clone();
        again.captured_at_ms = NOW + 60_000;
        again.engagement.reposts = 999;
        assert_eq!(rec(&store, again), Recorded::Repeat(id));
        let item = item(&store, id).unwrap().unwrap();
        assert_eq!((item.sightings, item.engagement.reposts), (1, 999));
        assert_eq!(newest(&store, 10).unwrap().len(), 1);
        // The same id from another system is another sighting.
        let mut other = obs;
        other.system = "vendor-b".into();
        assert_eq!(rec(&store, other), Recorded::Sighting(id));
    }

    #[test]
    fn refused_observations_are_not_stored() {
        let (_dir, store) = open();
        let mut bad = seen("https://weibo.com/u/1", LONG);
        bad.engagement.views = -3;
        let err = record(&store, bad, &WatchRules::none(), NOW).unwrap_err();
        assert!(
            matches!(err, IntakeError::Invalid(ref e) if e.field() == "views"),
            "{err}"
        );
        assert!(newest(&store, 10).unwrap().is_empty());
    }

    #[test]
    fn items_of_one_account_or_url_family_share_a_candidate_incident() {
        let (_dir, store) = open();
        let a = rec(
            &store,
            seen("https://weibo.com/u/1/p/1", "第一条关于拆迁的帖子内容"),
        )
        .id();
        let b = rec(
            &store,
            seen("https://weibo.com/u/1/p/2", "第二条关于补偿的帖子内容"),
        )
        .id();
        let mut news = seen(
            "https://news.example/society/1.html",
            "新闻报道一,内容足够长",
        );
        news.account = String::new();
        let c = rec(&store, news.clone()).id();
        news.url = "https://www.news.example/society/2.html".into();
        news.text = "新闻报道二,内容也足够长".into();
        news.system_id = "n2".into();
        let d = rec(&store, news).id();
        let ia = item(&store, a).unwrap().unwrap().incident;
        assert_eq!(ia, item(&store, b).unwrap().unwrap().incident);
        let ic = item(&store, c).unwrap().unwrap().incident;
        assert_eq!(ic, "site:news.example/society");
        assert_eq!(incident_items(&store, &ia).unwrap(), [a, b]);
        assert_eq!(incident_items(&store, &ic).unwrap(), [c, d]);
    }

    #[test]
    fn watch_rules_flag_matching_items() {
        let (_dir, store) = open();
        let rules = WatchRules(vec![
            WatchRule::parse("拆迁|补偿", "重要改革举措").unwrap(),
            WatchRule::parse("暴雨", "emergency-trigger").unwrap(),
        ]);
        let hit = record(&store, seen("https://a.example/1", LONG), &rules, NOW).unwrap();
        let mut quiet = seen("https://b.example/2", "今天天气晴朗,适合出游踏青");
        quiet.keywords.clear();
        let miss = record(&store, quiet, &rules, NOW).unwrap();
        let flags = item(&store, hit.id()).unwrap().unwrap().flags;
        assert_eq!(flags.len(), 1);
        assert_eq!(flags[0].focus, FocusPoint::ReformMeasure);
        assert!(item(&store, miss.id()).unwrap().unwrap().flags.is_empty());
    }

    #[test]
    fn a_sighting_that_names_the_account_moves_the_item_into_its_group() {
        let (_dir, store) = open();
        let mut from_feed = seen("https://weibo.com/u/7/status/1", "转载");
        from_feed.account.clear();
        from_feed.platform = "某县新闻网".into();
        let id = rec(&store, from_feed).id();
        assert_eq!(incident_items(&store, "site:weibo.com/u").unwrap(), [id]);
        let mut crawled = seen(
            "https://weibo.com/u/7/status/1",
            "原帖内容,足够长的一段文字",
        );
        crawled.account = "@Li_Si".into();
        rec(&store, crawled);
        let it = item(&store, id).unwrap().unwrap();
        assert_eq!(it.incident, "account:weibo:li_si");
        assert_eq!(
            (it.account.as_str(), it.platform.as_str()),
            ("@Li_Si", "weibo")
        );
        assert_eq!(incident_items(&store, "account:weibo:li_si").unwrap(), [id]);
        assert!(incident_items(&store, "site:weibo.com/u")
            .unwrap()
            .is_empty());
        // Purging it leaves no group entry behind.
        assert_eq!(purge(&store, NOW + 100 * DAY_MS, 90).unwrap(), 1);
        assert!(incident_items(&store, "account:weibo:li_si")
            .unwrap()
            .is_empty());
        assert_eq!(store.scan_prefix(KEYS_TREE, &id.to_be_bytes()).count(), 0);
    }

    #[test]
    fn listing_is_newest_first_and_a_sighting_moves_an_item_up() {
        let (_dir, store) = open();
        let mut ids = Vec::new();
        for i in 0..5 {
            let mut o = seen(
                &format!("https://a.example/{i}"),
                &format!("第{i}条帖子,内容足够长了"),
            );
            o.captured_at_ms = NOW - 10_000 + i * 1000;
            ids.push(rec(&store, o).id());
        }
        let listed: Vec<u64> = newest(&store, 3).unwrap().iter().map(|i| i.id).collect();
        assert_eq!(listed, [ids[4], ids[3], ids[2]]);
        let mut again = seen("https://a.example/0", "再次看到第0条");
        again.system_id = "again".into();
        again.captured_at_ms = NOW;
        rec(&store, again);
        let listed: Vec<u64> = newest(&store, 10).unwrap().iter().map(|i| i.id).collect();
        assert_eq!(listed, [ids[0], ids[4], ids[3], ids[2], ids[1]]);
    }

    #[test]
    fn an_item_keeps_back_references_only_for_keys_its_record_does_not_name() {
        let (_dir, store) = open();
        let first = seen("https://a.example/p/1", LONG);
        let id = rec(&store, first.clone()).id();
        // A new item has no back-references: its record names all its keys.
        assert_eq!(store.scan_prefix(KEYS_TREE, &[]).count(), 0);
        // The same text at another URL, and the same URL from another system.
        let mut copy = seen("https://b.example/copy", LONG);
        copy.system_id = "copy".into();
        let mut other = seen("https://a.example/p/1", "同一个帖子,另一段摘录文字");
        other.system = "yuqing-2".into();
        other.system_id = "x9".into();
        assert_eq!(rec(&store, copy.clone()), Recorded::Sighting(id));
        assert_eq!(rec(&store, other.clone()), Recorded::Sighting(id));
        // Two system ids, one URL and one hash the record does not name.
        assert_eq!(store.scan_prefix(KEYS_TREE, &[]).count(), 4);
        assert_eq!(by_url(&store, &copy.url).unwrap().map(|i| i.id), Some(id));
        assert_eq!(
            by_system(&store, "yuqing-2", "x9").unwrap().map(|i| i.id),
            Some(id)
        );

        assert_eq!(purge(&store, NOW + 100 * DAY_MS, 90).unwrap(), 1);
        for tree in [
            ITEMS_TREE,
            SEEN_TREE,
            URLS_TREE,
            HASHES_TREE,
            SYSTEMS_TREE,
            GROUPS_TREE,
            KEYS_TREE,
            OPEN_TREE,
        ] {
            assert_eq!(store.scan_prefix(tree, &[]).count(), 0, "{tree} not empty");
        }
    }

    #[test]
    fn purge_also_removes_the_back_references_of_an_older_store() {
        let (_dir, store) = open();
        let o = seen("https://a.example/p/1", LONG);
        let id = rec(&store, o.clone()).id();
        let it = item(&store, id).unwrap().unwrap();
        // Before named keys lost their back-references, every index entry had one.
        let mut batch = Batch::new();
        for ((tag, tree), key) in INDEXES.iter().zip([
            it.url_key.as_bytes().to_vec(),
            it.content_hash.clone().unwrap_or_default().into_bytes(),
            system_key(&it.system, &it.system_id),
            group_key(&it.incident, id),
        ]) {
            assert!(store.get(tree, &key).unwrap().is_some(), "{tree}");
            batch.insert(KEYS_TREE, back_key(id, *tag, &key), Vec::new());
        }
        store.commit(&batch).unwrap();
        assert_eq!(purge(&store, NOW + 100 * DAY_MS, 90).unwrap(), 1);
        for tree in [URLS_TREE, HASHES_TREE, SYSTEMS_TREE, GROUPS_TREE, KEYS_TREE] {
            assert_eq!(store.scan_prefix(tree, &[]).count(), 0, "{tree} not empty");
        }
    }

    #[test]
    fn trimming_keeps_the_items_seen_most_recently_and_the_count_follows() {
        let (_dir, store) = open();
        let mut ids = Vec::new();
        for i in 0..5 {
            let mut o = seen(
                &format!("https://a.example/{i}"),
                &format!("第{i}条帖子,内容足够长了"),
            );
            o.captured_at_ms = NOW - 10_000 + i * 1000;
            ids.push(rec(&store, o).id());
        }
        // The first item seen again is now the newest; sightings and repeats count no item.
        let mut again = seen("https://a.example/0", "再次看到第0条");
        again.system_id = "again".into();
        rec(&store, again.clone());
        rec(&store, again);
        assert_eq!(items_held(&store).unwrap(), 5);
        assert_eq!(trim(&store, 10).unwrap(), 0);
        assert_eq!(trim(&store, 2).unwrap(), 3);
        let kept: Vec<u64> = newest(&store, 10).unwrap().iter().map(|i| i.id).collect();
        assert_eq!(kept, [ids[0], ids[4]]);
        assert_eq!(items_held(&store).unwrap(), 2);
        assert_eq!(purge(&store, NOW + 100 * DAY_MS, 90).unwrap(), 2);
        assert_eq!(items_held(&store).unwrap(), 0);
    }

    #[test]
    fn a_store_without_the_count_is_counted_once() {
        let (_dir, store) = open();
        for i in 0..3 {
            rec(
                &store,
                seen(
                    &format!("https://a.example/{i}"),
                    &format!("第{i}条帖子,内容足够长了"),
                ),
            );
        }
        let mut batch = Batch::new();
        batch.remove(COUNTER_TREE, ITEMS_KEY.to_vec());
        store.commit(&batch).unwrap();
        assert_eq!(items_held(&store).unwrap(), 3);
        rec(
            &store,
            seen("https://a.example/9", "又一条帖子,内容足够长了"),
        );
        assert_eq!(items_held(&store).unwrap(), 4);
        assert!(store.get(COUNTER_TREE, ITEMS_KEY).unwrap().is_some());
    }

    #[test]
    fn purge_removes_items_last_seen_before_the_retention_with_their_indexes() {
        let (_dir, store) = open();
        let mut old = seen("https://old.example/1", LONG);
        old.captured_at_ms = NOW - 91 * DAY_MS;
        let old_id = rec(&store, old.clone()).id();
        let mut recent = seen("https://new.example/1", "最近的帖子,内容足够长");
        recent.captured_at_ms = NOW - 89 * DAY_MS;
        let recent_id = rec(&store, recent).id();
        // An item first seen long ago but seen again lately stays.
        let mut revived = seen("https://revived.example/1", "旧帖又被转发,内容足够长");
        revived.captured_at_ms = NOW - 200 * DAY_MS;
        let revived_id = rec(&store, revived.clone()).id();
        revived.captured_at_ms = NOW - DAY_MS;
        revived.system_id = "later".into();
        rec(&store, revived);

        assert_eq!(purge(&store, NOW, 90).unwrap(), 1);
        assert_eq!(item(&store, old_id).unwrap(), None);
        assert!(by_url(&store, &old.url).unwrap().is_none());
        assert!(by_text(&store, LONG).unwrap().is_none());
        assert!(by_system(&store, &old.system, &old.system_id)
            .unwrap()
            .is_none());
        let old_incident = incident_items(&store, "account:weibo:zhang_san").unwrap();
        assert!(!old_incident.contains(&old_id));
        assert_eq!(
            store.scan_prefix(KEYS_TREE, &old_id.to_be_bytes()).count(),
            0
        );
        let kept: Vec<u64> = newest(&store, 10).unwrap().iter().map(|i| i.id).collect();
        assert_eq!(kept, [revived_id, recent_id]);
        assert_eq!(purge(&store, NOW, 90).unwrap(), 0);

        // The same observation again is a new item now.
        assert!(matches!(rec(&store, old), Recorded::New(id) if id != old_id));
    }
}
