//! Staff accounts for the web pages (工作人员账户): who may sign in to this node's pages, kept
//! in the node's own store (not federated: no feed carries them). Passwords are hashed with argon2id; only the
//! PHC string is stored.

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};

use crate::identity::DivisionCode;
use crate::store::{Batch, Store, StoreError};

/// Accounts by name.
pub const STAFF_TREE: &str = "staff_account";

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted (argon2 would take more, but nobody types more).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// What an account may do on the pages. A county's accounts are viewers, officers and
/// leaders; the gateway's are viewers, analysts and admins ([`Role::at`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// 查看人员: reads every page and export (county or province).
    Viewer,
    /// 研判人员 (province): also acknowledges reports and issues directives and consultations.
    Analyst,
    /// 管理员 (province): also manages the gateway's accounts.
    Admin,
    /// 经办人员 (county): identifies, grades, sets measures, notes, shares, acknowledges,
    /// answers and files disposal requests.
    Officer,
    /// 分管领导 (county): all an officer does, signs off reports and closures, and manages
    /// the county's accounts.
    Leader,
}

impl Role {
    /// Every role: the county's, then the province's.
    pub const ALL: [Role; 5] = [
        Role::Viewer,
        Role::Officer,
        Role::Leader,
        Role::Analyst,
        Role::Admin,
    ];
    /// The roles of a county node's accounts, least to most powerful.
    pub const COUNTY: [Role; 3] = [Role::Viewer, Role::Officer, Role::Leader];
    /// The roles of the provincial gateway's accounts, least to most powerful.
    pub const PROVINCE: [Role; 3] = [Role::Viewer, Role::Analyst, Role::Admin];

    /// The roles an account may have at the node of `unit` (a county or the province).
    pub fn at(unit: &DivisionCode) -> &'static [Role] {
        if unit.is_county() {
            &Self::COUNTY
        } else {
            &Self::PROVINCE
        }
    }

    /// `viewer`, `officer`, `leader`, `analyst` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
            Role::Officer => "officer",
            Role::Leader => "leader",
        }
    }

    /// The Chinese label officers read (and may type instead of the English name).
    pub fn label_zh(self) -> &'static str {
        match self {
            Role::Viewer => "查看人员",
            Role::Analyst => "研判人员",
            Role::Admin => "管理员",
            Role::Officer => "经办人员",
            Role::Leader => "分管领导",
        }
    }

    /// `officer (经办人员)`: the name and its label, as the CLI and pages print a role.
    pub fn labelled(self) -> String {
        format!("{} ({})", self.as_str(), self.label_zh())
    }

    /// True when the role may write: register work, alerts, acknowledgments, answers and
    /// disposal requests at a county; report acknowledgments and directives at the province.
    pub fn can_write(self) -> bool {
        matches!(
            self,
            Role::Officer | Role::Leader | Role::Analyst | Role::Admin
        )
    }

    /// The province's pages' older name for [`Role::can_write`] (at the gateway, analysts and
    /// admins acknowledge reports and issue directives).
    pub fn can_act(self) -> bool {
        self.can_write()
    }

    /// True when the role may sign off: a leader the county's reports and closures; an
    /// analyst or admin the province's acknowledgment of reports.
    pub fn can_sign_off(self) -> bool {
        matches!(self, Role::Leader | Role::Analyst | Role::Admin)
    }

    /// True when the role may manage the node's accounts: a county's leader, the gateway's admin.
    pub fn can_manage_staff(self) -> bool {
        matches!(self, Role::Leader | Role::Admin)
    }

    /// Refuses a role that accounts at the node of `unit` cannot have, naming those they can.
    pub fn check_at(self, unit: &DivisionCode) -> Result<(), AccountError> {
        if Self::at(unit).contains(&self) {
            Ok(())
        } else {
            Err(AccountError::RoleNotHere {
                role: self,
                county: unit.is_county(),
            })
        }
    }
}

/// `a (甲), b (乙) or c (丙)`.
fn listed(roles: &[Role]) -> String {
    let names: Vec<String> = roles.iter().map(|r| r.labelled()).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => names.concat(),
    }
}

impl std::str::FromStr for Role {
    type Err = AccountError;

    /// The English name or the Chinese label, e.g. `officer` or `经办人员`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s || r.label_zh() == s)
            .ok_or_else(|| AccountError::Role(s.to_owned()))
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Longest display name or department, in characters.
pub const MAX_LABEL_CHARS: usize = 64;

/// One account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Sign-in name; also the last part of the author (`staff/<unit>/<name>`) of what the
    /// account writes, so ASCII only.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// The argon2id hash, as a PHC string.
    pub password_hash: String,
    /// When it was created or last replaced, Unix ms.
    pub created_at_ms: i64,
    /// Who created or replaced it.
    pub created_by: String,
    /// The person's name as colleagues write it (林晓); empty when not given. Accounts
    /// stored before it existed read as empty.
    #[serde(default)]
    pub display_name: String,
    /// The person's department (县委网信办); empty when not given.
    #[serde(default)]
    pub department: String,
}

impl Account {
    /// `林晓 (lin)`, or just `lin` without a display name: how pages name the person.
    pub fn label(&self) -> String {
        label(&self.name, &self.display_name)
    }
}

/// `林晓 (lin)` for `name` with `display_name`, or `lin` when it is empty.
pub fn label(name: &str, display_name: &str) -> String {
    if display_name.is_empty() {
        name.to_owned()
    } else {
        format!("{display_name} ({name})")
    }
}

/// An account to save with [`save`].
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Sign-in name ([`check_name`]).
    pub name: String,
    /// Its role, which must be one of [`Role::at`] the node.
    pub role: Role,
    /// The password, 12–256 characters; only its hash is kept.
    pub password: String,
    /// The person's name (林晓); may be empty.
    pub display_name: String,
    /// The person's department (县委网信办); may be empty.
    pub department: String,
    /// Replace an existing account of that name.
    pub replace: bool,
    /// Who saves it: a certificate identity or `dashboard:<account>`.
    pub by: String,
}

/// Why an account operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The name is not acceptable.
    #[error(
        "staff name {0:?}: use 1–63 of a–z, 0–9, '-', '_', starting with a letter or digit \
         (it is recorded as staff/<unit>/<name>; put a Chinese name in --display-name)"
    )]
    Name(String),
    /// The role is not one we know.
    #[error(
        "role {0:?}: use viewer (查看人员), officer (经办人员) or leader (分管领导) at a county node; \
         viewer (查看人员), analyst (研判人员) or admin (管理员) at the provincial gateway"
    )]
    Role(String),
    /// The role belongs to the other kind of node.
    #[error(
        "role {} is not one {}: use {}",
        role.labelled(),
        if *county { "a county node's accounts have" } else { "the provincial gateway's accounts have" },
        listed(if *county { &Role::COUNTY } else { &Role::PROVINCE })
    )]
    RoleNotHere {
        /// The role asked for.
        role: Role,
        /// True at a county node, false at the gateway.
        county: bool,
    },
    /// The password is too short or too long.
    #[error("password: use {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")]
    Password,
    /// The display name or department is too long or holds a refused character.
    #[error("{field}: {reason}")]
    Text {
        /// `display name` or `department`.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
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

/// Checks a sign-in name: the identity rule for staff names, since what the account writes
/// is authored `staff/<unit>/<name>` and every receiver parses that as an identity (a name
/// it refused would quarantine the feed). So no Chinese names here: see `display_name`.
pub fn check_name(name: &str) -> Result<(), AccountError> {
    crate::identity::validate_name(name).map_err(|_| AccountError::Name(name.to_owned()))
}

/// Checks a display name or department (`field`): one line, at most [`MAX_LABEL_CHARS`],
/// none of the characters text fields refuse; returns it trimmed.
fn check_label(field: &'static str, value: &str) -> Result<String, AccountError> {
    let value = value.trim();
    if value.chars().count() > MAX_LABEL_CHARS {
        return Err(AccountError::Text {
            field,
            reason: format!("at most {MAX_LABEL_CHARS} characters"),
        });
    }
    if let Some(c) = crate::domain::text::refused_char(value, crate::domain::text::Lines::One) {
        return Err(AccountError::Text {
            field,
            reason: format!("{c}"),
        });
    }
    Ok(value.to_owned())
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

/// Saves `new` at the node of `unit` (or, with `replace`, replaces the role, password and
/// names of an existing account); refuses a role accounts there cannot have. Durable on return.
pub fn save(
    store: &dyn Store,
    unit: &DivisionCode,
    new: NewAccount,
) -> Result<Account, AccountError> {
    new.role.check_at(unit)?;
    write(store, new)
}

/// Creates `name` (or, with `replace`, replaces its role and password), without checking
/// the role against the kind of node: for tools that fill a store before its node starts
/// (test harnesses, the demo). Durable on return.
pub fn add(
    store: &dyn Store,
    name: &str,
    role: Role,
    password: &str,
    replace: bool,
    by: &str,
) -> Result<Account, AccountError> {
    write(
        store,
        NewAccount {
            name: name.to_owned(),
            role,
            password: password.to_owned(),
            display_name: String::new(),
            department: String::new(),
            replace,
            by: by.to_owned(),
        },
    )
}

fn write(store: &dyn Store, new: NewAccount) -> Result<Account, AccountError> {
    check_name(&new.name)?;
    let chars = new.password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        return Err(AccountError::Password);
    }
    let display_name = check_label("display name", &new.display_name)?;
    let department = check_label("department", &new.department)?;
    if !new.replace && get(store, &new.name)?.is_some() {
        return Err(AccountError::Exists(new.name));
    }
    let account = Account {
        password_hash: hash(&new.password)?,
        name: new.name,
        role: new.role,
        created_at_ms: crate::timespec::now_ms(),
        created_by: new.by,
        display_name,
        department,
    };
    let json = serde_json::to_vec(&account)
        .map_err(|e| StoreError::Backend(format!("encoding a staff account: {e}")))?;
    let mut batch = Batch::new();
    batch.insert(STAFF_TREE, account.name.as_bytes().to_vec(), json);
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
        for name in ["", "Wang", "-x", "a b", "a.b", "林晓", &"x".repeat(64)] {
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

    #[test]
    fn roles_parse_in_english_and_chinese_and_print_both() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
            assert_eq!(r.label_zh().parse::<Role>().unwrap(), r);
            assert_eq!(r.to_string(), r.as_str());
        }
        assert_eq!("经办人员".parse::<Role>().unwrap(), Role::Officer);
        assert_eq!(" 分管领导 ".parse::<Role>().unwrap(), Role::Leader);
        assert_eq!("查看人员".parse::<Role>().unwrap(), Role::Viewer);
        assert_eq!(Role::Officer.labelled(), "officer (经办人员)");
        let e = "root".parse::<Role>().unwrap_err().to_string();
        for named in ["officer (经办人员)", "leader (分管领导)", "admin (管理员)"] {
            assert!(e.contains(named), "{e}");
        }
    }

    #[test]
    fn each_kind_of_node_has_its_own_roles() {
        let county = DivisionCode::county("510104").unwrap();
        let province = DivisionCode::province("51").unwrap();
        for r in [Role::Viewer, Role::Officer, Role::Leader] {
            r.check_at(&county).unwrap();
        }
        for r in [Role::Viewer, Role::Analyst, Role::Admin] {
            r.check_at(&province).unwrap();
        }
        let e = Role::Admin.check_at(&county).unwrap_err().to_string();
        assert_eq!(
            e,
            "role admin (管理员) is not one a county node's accounts have: use viewer (查看人员), \
             officer (经办人员) or leader (分管领导)"
        );
        let e = Role::Leader.check_at(&province).unwrap_err().to_string();
        assert!(
            e.contains("the provincial gateway's accounts")
                && e.ends_with("viewer (查看人员), analyst (研判人员) or admin (管理员)"),
            "{e}"
        );
    }

    #[test]
    fn what_each_role_may_do() {
        use Role::*;
        let writes: Vec<Role> = Role::ALL.into_iter().filter(|r| r.can_write()).collect();
        assert_eq!(writes, [Officer, Leader, Analyst, Admin]);
        let signs: Vec<Role> = Role::ALL.into_iter().filter(|r| r.can_sign_off()).collect();
        assert_eq!(signs, [Leader, Analyst, Admin]);
        let manages: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| r.can_manage_staff())
            .collect();
        assert_eq!(manages, [Leader, Admin]);
        for r in Role::ALL {
            assert_eq!(r.can_act(), r.can_write(), "{r}");
        }
    }

    #[test]
    fn accounts_keep_a_display_name_and_department() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let county = DivisionCode::county("510104").unwrap();
        let new = |name: &str, role, display: &str, department: &str| NewAccount {
            name: name.into(),
            role,
            password: "long enough password".into(),
            display_name: display.into(),
            department: department.into(),
            replace: false,
            by: "county/510104".into(),
        };
        let a = save(
            &store,
            &county,
            new("lin", Role::Officer, " 林晓 ", "县委网信办"),
        )
        .unwrap();
        assert_eq!(
            (a.display_name.as_str(), a.department.as_str()),
            ("林晓", "县委网信办")
        );
        assert_eq!(a.label(), "林晓 (lin)");
        assert_eq!(get(&store, "lin").unwrap(), Some(a));
        // A province role at a county, a Chinese sign-in name, a label with a control
        // character or too long: refused, nothing saved.
        assert!(matches!(
            save(&store, &county, new("ada", Role::Admin, "", "")),
            Err(AccountError::RoleNotHere { .. })
        ));
        assert!(matches!(
            save(&store, &county, new("林晓", Role::Officer, "", "")),
            Err(AccountError::Name(_))
        ));
        assert!(matches!(
            save(&store, &county, new("li", Role::Officer, "李\u{1b}[2J", "")),
            Err(AccountError::Text {
                field: "display name",
                ..
            })
        ));
        assert!(matches!(
            save(
                &store,
                &county,
                new("li", Role::Officer, "", &"部".repeat(65))
            ),
            Err(AccountError::Text {
                field: "department",
                ..
            })
        ));
        assert_eq!(list(&store).unwrap().len(), 1);
        // Accounts stored before names existed still read.
        let old = br#"{"name":"wang","role":"admin","password_hash":"x","created_at_ms":1,"created_by":"t"}"#;
        let mut batch = Batch::new();
        batch.insert(STAFF_TREE, b"wang".to_vec(), old.to_vec());
        store.commit(&batch).unwrap();
        let wang = get(&store, "wang").unwrap().unwrap();
        assert_eq!((wang.role, wang.label()), (Role::Admin, "wang".to_owned()));
    }
}
