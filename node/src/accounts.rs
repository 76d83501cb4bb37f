//! Staff accounts for the web pages (工作人员账户): who may sign in to this node's pages, kept
//! in the node's own store (not federated: no feed carries them). Passwords are hashed with argon2id; only the
//! PHC string is stored.

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};

use crate::store::{Batch, Store, StoreError};

/// Accounts by name.
pub const STAFF_TREE: &str = "staff_account";

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted (argon2 would take more, but nobody types more).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// What an account may do on the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads every view and export.
    Viewer,
    /// Also acknowledges reports and issues directives and consultations.
    Analyst,
    /// Also manages staff accounts.
    Admin,
}

impl Role {
    /// Every role, least to most powerful.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Analyst, Role::Admin];

    /// `viewer`, `analyst` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }

    /// True when the role may acknowledge reports and issue directives.
    pub fn can_act(self) -> bool {
        self >= Role::Analyst
    }

    /// True when the role may manage staff accounts.
    pub fn can_manage_staff(self) -> bool {
        self == Role::Admin
    }
}

impl std::str::FromStr for Role {
    type Err = AccountError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| AccountError::Role(s.to_owned()))
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Sign-in name.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// The argon2id hash, as a PHC string.
    pub password_hash: String,
    /// When it was created or last replaced, Unix ms.
    pub created_at_ms: i64,
    /// Who created or replaced it.
    pub created_by: String,
}

/// Why an account operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The name is not acceptable.
    #[error(
        "staff name {0:?}: use 1–64 of a–z, 0–9, '.', '_', '-', starting with a letter or digit"
    )]
    Name(String),
    /// The role is not one we know.
    #[error("role {0:?}: use viewer, analyst or admin")]
    Role(String),
    /// The password is too short or too long.
    #[error("password: use {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")]
    Password,
    /// An account of that name exists and replacing was not asked for.
    #[error("staff account {0:?} already exists (replace its role and password with --replace)")]
    Exists(String),
    /// No account of that name.
    #[error("no staff account {0:?}")]
    NotFound(String),
    /// Hashing failed (out of memory, in practice).
    #[error("hashing the password: {0}")]
    Hash(String),
    /// The store failed or holds something unreadable.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks a sign-in name.
pub fn check_name(name: &str) -> Result<(), AccountError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(AccountError::Name(name.to_owned()))
    }
}

fn hash(password: &str) -> Result<String, AccountError> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Hash(e.to_string()))
}

fn decode(v: &[u8]) -> Result<Account, AccountError> {
    serde_json::from_slice(v)
        .map_err(|e| StoreError::Backend(format!("corrupt staff account: {e}")).into())
}

/// The account `name`, if any.
pub fn get(store: &dyn Store, name: &str) -> Result<Option<Account>, AccountError> {
    store
        .get(STAFF_TREE, name.as_bytes())?
        .map(|v| decode(&v))
        .transpose()
}

/// Every account, by name.
pub fn list(store: &dyn Store) -> Result<Vec<Account>, AccountError> {
    store
        .scan_prefix(STAFF_TREE, b"")
        .map(|item| decode(&item?.1))
        .collect()
}

/// Creates `name` (or, with `replace`, replaces its role and password); durable on return.
pub fn add(
    store: &dyn Store,
    name: &str,
    role: Role,
    password: &str,
    replace: bool,
    by: &str,
) -> Result<Account, AccountError> {
    check_name(name)?;
    let chars = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        return Err(AccountError::Password);
    }
    if !replace && get(store, name)?.is_some() {
        return Err(AccountError::Exists(name.to_owned()));
    }
    let account = Account {
        name: name.to_owned(),
        role,
        password_hash: hash(password)?,
        created_at_ms: crate::timespec::now_ms(),
        created_by: by.to_owned(),
    };
    let json = serde_json::to_vec(&account)
        .map_err(|e| StoreError::Backend(format!("encoding a staff account: {e}")))?;
    let mut batch = Batch::new();
    batch.insert(STAFF_TREE, name.as_bytes().to_vec(), json);
    store.commit(&batch)?;
    store.flush()?;
    Ok(account)
}

/// Deletes `name`; durable on return.
pub fn remove(store: &dyn Store, name: &str) -> Result<Account, AccountError> {
    let account = get(store, name)?.ok_or_else(|| AccountError::NotFound(name.to_owned()))?;
    let mut batch = Batch::new();
    batch.remove(STAFF_TREE, name.as_bytes().to_vec());
    store.commit(&batch)?;
    store.flush()?;
    Ok(account)
}

/// A hash of a password nobody has, verified against when the name is unknown so that a
/// wrong name takes as long as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("decoy password, never valid").unwrap_or_default())
}

/// The account when `password` is its password; `None` for a wrong name or password alike.
/// Slow on purpose (argon2id): call it off the async executor.
pub fn verify(
    store: &dyn Store,
    name: &str,
    password: &str,
) -> Result<Option<Account>, AccountError> {
    let account = get(store, name)?;
    let stored = account
        .as_ref()
        .map(|a| a.password_hash.clone())
        .unwrap_or_else(|| decoy_hash().to_owned());
    let ok = PasswordHash::new(&stored)
        .map(|h| matches(&h, password.as_bytes()))
        .unwrap_or(false);
    Ok(account.filter(|_| ok))
}

thread_local! {
    /// argon2's working memory (~19 MiB with the default parameters), kept by each thread that
    /// checks passwords: allocating it afresh on every check left freed blocks in the
    /// allocator's per-thread arenas, so a flood of sign-ins grew the process by hundreds of
    /// MiB that were never given back.
    static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Whether `password` hashes to `hash` (a PHC string argon2 wrote), with this thread's
/// reused working memory; compared in constant time.
fn matches(hash: &PasswordHash<'_>, password: &[u8]) -> bool {
    let (Ok(params), Some(salt), Some(expected)) = (
        argon2::Params::try_from(hash),
        hash.salt.as_ref(),
        hash.hash.as_ref(),
    ) else {
        return false;
    };
    let Ok(algorithm) = argon2::Algorithm::try_from(hash.algorithm) else {
        return false;
    };
    let version = match hash.version.map(argon2::Version::try_from) {
        None => argon2::Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let blocks = params.block_count();
    let argon = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    let hashed = BLOCKS.with(|cell| {
        let mut memory = cell.borrow_mut();
        memory.resize(blocks, argon2::Block::default());
        argon
            .hash_password_into_with_memory(password, salt, &mut out, &mut memory[..])
            .is_ok()
    });
    // Constant time: the comparison must not tell how much of a guess was right.
    hashed
        && out
            .iter()
            .zip(expected.as_bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SledStore;

    #[test]
    fn reused_memory_checks_passwords_as_argon2_does() {
        use argon2::password_hash::PasswordVerifier;
        let salt = SaltString::from_b64("c29tZXNhbHRzb21lc2FsdA").unwrap();
        let stored = Argon2::default()
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        let hash = PasswordHash::new(&stored).unwrap();
        for (guess, right) in [
            (&b"correct horse"[..], true),
            (b"correct horsf", false),
            (b"", false),
        ] {
            // Twice: the second check reuses the first one's memory.
            for _ in 0..2 {
                assert_eq!(matches(&hash, guess), right);
            }
            assert_eq!(
                Argon2::default().verify_password(guess, &hash).is_ok(),
                right
            );
        }
        // Other parameters (less memory) in the same thread: the memory follows them.
        let small = argon2::Params::new(1024, 1, 1, None).unwrap();
        let stored = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, small)
            .hash_password(b"pw", &salt)
            .unwrap()
            .to_string();
        let hash = PasswordHash::new(&stored).unwrap();
        assert!(matches(&hash, b"pw"));
        assert!(!matches(&hash, b"pX"));
    }

    #[test]
    fn accounts_are_added_verified_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let a = add(
            &store,
            "wang",
            Role::Analyst,
            "correct horse battery",
            false,
            "t",
        )
        .unwrap();
        assert!(
            a.password_hash.starts_with("$argon2id$"),
            "{}",
            a.password_hash
        );
        assert!(!a.password_hash.contains("correct horse"));
        assert_eq!(
            verify(&store, "wang", "correct horse battery").unwrap(),
            Some(a.clone())
        );
        assert_eq!(verify(&store, "wang", "wrong password!!").unwrap(), None);
        assert_eq!(
            verify(&store, "nobody", "correct horse battery").unwrap(),
            None
        );
        assert!(matches!(
            add(&store, "wang", Role::Admin, "another password", false, "t"),
            Err(AccountError::Exists(_))
        ));
        let b = add(&store, "wang", Role::Admin, "another password", true, "t").unwrap();
        assert_eq!(b.role, Role::Admin);
        assert_eq!(list(&store).unwrap(), vec![b]);
        remove(&store, "wang").unwrap();
        assert!(list(&store).unwrap().is_empty());
        assert!(matches!(
            remove(&store, "wang"),
            Err(AccountError::NotFound(_))
        ));
    }

    #[test]
    fn bad_names_and_passwords_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        for name in ["", "Wang", "-x", "a b", &"x".repeat(65)] {
            assert!(matches!(
                add(
                    &store,
                    name,
                    Role::Viewer,
                    "long enough password",
                    false,
                    "t"
                ),
                Err(AccountError::Name(_))
            ));
        }
        assert!(matches!(
            add(&store, "li", Role::Viewer, "short", false, "t"),
            Err(AccountError::Password)
        ));
        assert_eq!("analyst".parse::<Role>().unwrap(), Role::Analyst);
        assert!("root".parse::<Role>().is_err());
        assert!(Role::Admin.can_manage_staff() && Role::Analyst.can_act());
        assert!(!Role::Viewer.can_act() && !Role::Analyst.can_manage_staff());
    }
}
