//! Partner websites (合作网站) the province has registered, kept by the gateway in its own
//! store (no feed carries them): name (as in the partner's certificate), display name, and
//! the webhook requests are POSTed to, with the secret its signatures use. Replacing the
//! secret keeps the previous one for [`SECRET_OVERLAP_MS`]: deliveries are signed with both
//! and callbacks signed with either are taken, so the partner can switch at its own pace.

use serde::{Deserialize, Serialize};

use crate::identity::Identity;
use crate::store::{Batch, Store, StoreError};

/// Partners by name.
pub const PARTNER_TREE: &str = "partner_account";
/// Shortest webhook secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;
/// How long a replaced webhook secret still signs deliveries and is accepted on callbacks.
pub const SECRET_OVERLAP_MS: i64 = 24 * 3600 * 1000;
/// Longest display name.
const MAX_DISPLAY_NAME: usize = 200;

/// One partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partner {
    /// Its name: `fenghuo://partner/<name>` in its certificate.
    pub name: String,
    /// For people.
    pub display_name: String,
    /// Where requests are POSTed (HTTPS); empty when it subscribes over gRPC.
    #[serde(default)]
    pub webhook_url: String,
    /// The webhook's HMAC-SHA256 key, hex.
    #[serde(default)]
    pub webhook_secret_hex: String,
    /// The key it replaced, hex, still valid until [`Partner::previous_secret_until_ms`].
    #[serde(default)]
    pub previous_secret_hex: String,
    /// When the previous key stops being used, Unix ms (0: there is none).
    #[serde(default)]
    pub previous_secret_until_ms: i64,
    /// Receives nothing and may call nothing.
    #[serde(default)]
    pub disabled: bool,
    /// What it handles, for the counties that address it.
    #[serde(default)]
    pub handles: String,
    /// When it was added or last replaced, Unix ms.
    pub added_at_ms: i64,
    /// Who added or replaced it.
    pub added_by: String,
}

impl Partner {
    /// The webhook keys in use at `now_ms`: the current one first, then the replaced one
    /// while its overlap lasts. Empty without a webhook.
    pub fn secrets(&self, now_ms: i64) -> Vec<Vec<u8>> {
        let mut keys: Vec<Vec<u8>> = hex::decode(&self.webhook_secret_hex)
            .ok()
            .filter(|k| !k.is_empty())
            .into_iter()
            .collect();
        if now_ms < self.previous_secret_until_ms {
            keys.extend(
                hex::decode(&self.previous_secret_hex)
                    .ok()
                    .filter(|k| !k.is_empty()),
            );
        }
        keys
    }
}

/// Why a partner operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PartnerError {
    /// A field is not acceptable; names it.
    #[error("{field}: {reason}")]
    Field {
        /// The field, as the CLI names it.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The partner exists and replacing was not asked for.
    #[error("partner {0:?} already exists (change it with --replace)")]
    Exists(String),
    /// No partner of that name.
    #[error("no partner {0:?} is registered at this gateway (fenghuo partner list)")]
    NotFound(String),
    /// The store failed or holds something unreadable.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn field(field: &'static str, reason: impl Into<String>) -> PartnerError {
    PartnerError::Field {
        field,
        reason: reason.into(),
    }
}

fn decode(v: &[u8]) -> Result<Partner, PartnerError> {
    serde_json::from_slice(v)
        .map_err(|e| StoreError::Backend(format!("corrupt partner record: {e}")).into())
}

/// The partner `name`, if registered.
pub fn get(store: &dyn Store, name: &str) -> Result<Option<Partner>, PartnerError> {
    store
        .get(PARTNER_TREE, name.as_bytes())?
        .map(|v| decode(&v))
        .transpose()
}

/// The partner `name`, or `NotFound`.
pub fn require(store: &dyn Store, name: &str) -> Result<Partner, PartnerError> {
    get(store, name)?.ok_or_else(|| PartnerError::NotFound(name.to_owned()))
}

/// Every partner, by name.
pub fn list(store: &dyn Store) -> Result<Vec<Partner>, PartnerError> {
    store
        .scan_prefix(PARTNER_TREE, b"")
        .map(|item| decode(&item?.1))
        .collect()
}

fn save(store: &dyn Store, p: &Partner) -> Result<(), PartnerError> {
    let json = serde_json::to_vec(p)
        .map_err(|e| StoreError::Backend(format!("encoding a partner: {e}")))?;
    let mut batch = Batch::new();
    batch.insert(PARTNER_TREE, p.name.as_bytes().to_vec(), json);
    store.commit(&batch)?;
    store.flush()?;
    Ok(())
}

/// What `add` is given.
#[derive(Debug, Clone, Default)]
pub struct NewPartner {
    /// Its name.
    pub name: String,
    /// For people.
    pub display_name: String,
    /// What it handles (may be empty).
    pub handles: String,
    /// HTTPS webhook, or empty.
    pub webhook_url: String,
    /// The webhook secret file's content (required with a webhook): `whsec_<base64>`, or
    /// raw bytes.
    pub webhook_secret: Vec<u8>,
}

/// Registers a partner (or, with `replace`, changes one, keeping it enabled as it was);
/// durable on return.
pub fn add(
    store: &dyn Store,
    new: &NewPartner,
    replace: bool,
    by: &str,
) -> Result<Partner, PartnerError> {
    let name = new.name.trim();
    Identity::partner(name).map_err(|e| field("name", e.to_string()))?;
    let display_name = new.display_name.trim();
    if display_name.is_empty() || display_name.chars().count() > MAX_DISPLAY_NAME {
        return Err(field(
            "display-name",
            format!("give 1 to {MAX_DISPLAY_NAME} characters"),
        ));
    }
    // The one text rule (it is declared in the province feed, where every node checks it).
    if let Some(refused) =
        crate::event::check::refused_char(display_name, crate::event::check::Lines::One)
    {
        return Err(field("display-name", refused.to_string()));
    }
    let handles = new.handles.trim();
    if handles.chars().count() > crate::domain::disposal::MAX_HANDLES_CHARS {
        return Err(field(
            "handles",
            format!(
                "at most {} characters",
                crate::domain::disposal::MAX_HANDLES_CHARS
            ),
        ));
    }
    if let Some(refused) =
        crate::event::check::refused_char(handles, crate::event::check::Lines::One)
    {
        return Err(field("handles", refused.to_string()));
    }
    let url = new.webhook_url.trim();
    if !url.is_empty() {
        let rest = url
            .strip_prefix("https://")
            .ok_or_else(|| field("webhook", format!("{url:?} is not an https:// URL")))?;
        if rest
            .split(['/', '?', '#'])
            .next()
            .unwrap_or_default()
            .is_empty()
        {
            return Err(field("webhook", format!("{url:?} has no host")));
        }
    }
    let key = if url.is_empty() {
        Vec::new()
    } else {
        let key = crate::disposal::signature::parse_secret(&new.webhook_secret)
            .map_err(|e| field("secret-file", e))?;
        if key.len() < MIN_SECRET_BYTES {
            return Err(field(
                "secret-file",
                format!(
                    "a webhook needs a key of at least {MIN_SECRET_BYTES} bytes (e.g. `echo \"whsec_$(head -c 32 /dev/urandom | base64)\" > secret`)"
                ),
            ));
        }
        key
    };
    let existing = get(store, name)?;
    if existing.is_some() && !replace {
        return Err(PartnerError::Exists(name.to_owned()));
    }
    let now = crate::timespec::now_ms();
    // A new key keeps the one it replaces for an overlap; the same key keeps what was.
    let (previous_secret_hex, previous_secret_until_ms) = match &existing {
        Some(old)
            if !old.webhook_secret_hex.is_empty()
                && old.webhook_secret_hex != hex::encode(&key)
                && !key.is_empty() =>
        {
            (old.webhook_secret_hex.clone(), now + SECRET_OVERLAP_MS)
        }
        Some(old) if !key.is_empty() => (
            old.previous_secret_hex.clone(),
            old.previous_secret_until_ms,
        ),
        _ => (String::new(), 0),
    };
    let partner = Partner {
        name: name.to_owned(),
        display_name: display_name.to_owned(),
        webhook_url: url.to_owned(),
        webhook_secret_hex: hex::encode(&key),
        previous_secret_hex,
        previous_secret_until_ms,
        disabled: existing.is_some_and(|p| p.disabled),
        handles: handles.to_owned(),
        added_at_ms: now,
        added_by: by.to_owned(),
    };
    save(store, &partner)?;
    Ok(partner)
}

/// Disables `name`; durable on return.
pub fn disable(store: &dyn Store, name: &str) -> Result<Partner, PartnerError> {
    let mut p = require(store, name)?;
    p.disabled = true;
    save(store, &p)?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SledStore;

    fn new(name: &str, url: &str, secret: &[u8]) -> NewPartner {
        NewPartner {
            name: name.into(),
            display_name: "Weibo".into(),
            handles: "posts and comments".into(),
            webhook_url: url.into(),
            webhook_secret: secret.to_vec(),
        }
    }

    #[test]
    fn partners_are_added_checked_replaced_and_disabled() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let p = add(&store, &new("weibo", "", b""), false, "t").unwrap();
        assert_eq!(p.webhook_url, "");
        assert!(matches!(
            add(&store, &new("weibo", "", b""), false, "t"),
            Err(PartnerError::Exists(_))
        ));
        let secret = [7u8; 32];
        let p = add(
            &store,
            &new("weibo", "https://hooks.weibo.example/fenghuo", &secret),
            true,
            "t",
        )
        .unwrap();
        assert_eq!(p.webhook_secret_hex, hex::encode(secret));
        assert_eq!(p.secrets(crate::timespec::now_ms()), vec![secret.to_vec()]);
        // A new secret (in the whsec_ form) keeps the old one for the overlap only.
        let rotated = [8u8; 32];
        let p = add(
            &store,
            &new(
                "weibo",
                "https://hooks.weibo.example/fenghuo",
                crate::disposal::signature::format_secret(&rotated).as_bytes(),
            ),
            true,
            "t",
        )
        .unwrap();
        let now = crate::timespec::now_ms();
        assert_eq!(p.secrets(now), vec![rotated.to_vec(), secret.to_vec()]);
        assert_eq!(
            p.secrets(now + SECRET_OVERLAP_MS + 1),
            vec![rotated.to_vec()]
        );
        assert!(disable(&store, "weibo").unwrap().disabled);
        assert!(get(&store, "weibo").unwrap().unwrap().disabled);
        // Replacing keeps it disabled.
        let p = add(&store, &new("weibo", "", b""), true, "t").unwrap();
        assert!(p.disabled);
        assert_eq!(list(&store).unwrap().len(), 1);
        for (bad, field_name) in [
            (new("Weibo!", "", b""), "name"),
            (new("douyin", "http://x.example/h", &secret), "webhook"),
            (
                new("douyin", "https://x.example/h", b"short"),
                "secret-file",
            ),
        ] {
            match add(&store, &bad, false, "t") {
                Err(PartnerError::Field { field, .. }) => assert_eq!(field, field_name),
                other => panic!("{field_name}: {other:?}"),
            }
        }
        assert!(matches!(
            disable(&store, "nobody"),
            Err(PartnerError::NotFound(_))
        ));
    }
}
