//! The offline provincial certificate authority behind `fenghuo ca`.
//!
//! Everything lives in one directory (`./pki` by default), kept on an offline machine:
//!
//! | file                | what                                                         |
//! |---------------------|--------------------------------------------------------------|
//! | `ca.crt`            | the CA certificate (PEM); written once by `init`, never again |
//! | `ca.key`            | the CA's Ed25519 key (PKCS#8 PEM, mode 0600)                  |
//! | `crl.pem`           | the CRL (PEM), re-signed on every revocation                  |
//! | `issued.json`       | the registry of every certificate issued (`"format": 1`)      |
//! | `directory.pem`     | every live county and province certificate, for the gateway   |
//! | `<stem>.crt/.key`   | each holder's certificate and TLS key (ECDSA P-256), `<stem>` = `Identity::file_stem` |
//! | `<stem>.feed.key`   | a county's or the province's feed-signing key (Ed25519), certified by its certificate |
//!
//! The registry is the source of truth for `list` and `revoke`, and the CRL is generated
//! from it, so the CRL always lists exactly the revoked registry entries.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use rcgen::string::Ia5String;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    PublicKeyData, RevokedCertParams, SanType, SerialNumber,
};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::FromDer;

use crate::identity::{DivisionCode, Identity, IdentityError, SCHEME};
use crate::pki::cert::{self, CertError};
use crate::pki::feed_key;

/// File name of the CA certificate inside the CA directory.
pub const CA_CERT_FILE: &str = "ca.crt";
/// File name of the CA private key inside the CA directory.
pub const CA_KEY_FILE: &str = "ca.key";
/// File name of the certificate revocation list inside the CA directory.
pub const CRL_FILE: &str = "crl.pem";
/// File name of the registry of issued certificates inside the CA directory.
pub const REGISTRY_FILE: &str = "issued.json";
/// File name of the certificate directory: every live node certificate (counties and the
/// province), PEM, rewritten on every issue and revocation. Given to the gateway, which
/// publishes it in the province feed, so every node knows which counties exist.
pub const DIRECTORY_FILE: &str = "directory.pem";
/// Suffix of a node's feed-signing key file: `<stem>.feed.key`.
pub const FEED_KEY_SUFFIX: &str = "feed.key";
/// Default validity of a leaf certificate, in days.
pub const DEFAULT_DAYS: u32 = 365;

/// The registry format this code reads and writes; bump it with a migration when it changes.
const REGISTRY_FORMAT: u32 = 1;
/// The CA lives ten years: re-keying a province means re-issuing every certificate in it.
const CA_VALIDITY: Duration = Duration::days(3652);
/// Certificates start a little in the past so a peer whose clock lags still accepts them.
pub(super) const CLOCK_SKEW: Duration = Duration::minutes(5);
/// How long a CRL stays current; the province must re-sign it before then.
const CRL_VALIDITY: Duration = Duration::days(30);
/// Mode of private key files: the holder alone may read them.
pub(super) const KEY_MODE: u32 = 0o600;
/// Mode of public files (certificates, CRL, registry).
pub(super) const PUBLIC_MODE: u32 = 0o644;
/// Mode of a CA directory this code creates: it holds the CA key.
const DIR_MODE: u32 = 0o700;

/// Why a CA operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// `--name` is not acceptable.
    #[error("--name: {0}")]
    BadUnitName(String),
    /// `init` found a CA already there.
    #[error("a certificate authority already exists in {} ({} or {} is present); pass --force to replace it, after which every certificate it issued stops validating", dir.display(), CA_CERT_FILE, CA_KEY_FILE)]
    CaExists {
        /// The CA directory.
        dir: PathBuf,
    },
    /// `open` found no CA.
    #[error("no certificate authority in {} ({} is missing); create one with `fenghuo ca init --province NN`, or point --dir / FENGHUO_PKI at the right directory", dir.display(), CA_CERT_FILE)]
    NoCa {
        /// The CA directory.
        dir: PathBuf,
    },
    /// A file or directory could not be read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "write".
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A code or name was not valid.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// A certificate or PEM file could not be read.
    #[error(transparent)]
    Cert(#[from] CertError),
    /// The CA key file is not a usable key.
    #[error("{} is not a usable private key: {reason}", path.display())]
    BadKey {
        /// The key file.
        path: PathBuf,
        /// What the key parser said.
        reason: String,
    },
    /// The CA certificate cannot serve as the issuer.
    #[error("{} is not a usable CA certificate: {reason}", path.display())]
    BadCaCert {
        /// The certificate file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The CA key does not belong to the CA certificate.
    #[error("{} does not hold the key of the certificate in {}; restore the matching pair from backup", key.display(), cert.display())]
    KeyMismatch {
        /// The key file.
        key: PathBuf,
        /// The certificate file.
        cert: PathBuf,
    },
    /// The registry is unreadable or inconsistent.
    #[error("{} is corrupt: {reason}", path.display())]
    BadRegistry {
        /// The registry file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The registry was written by a different version of Fenghuo.
    #[error("{} has format {found}, but this fenghuo reads format {REGISTRY_FORMAT}; use a matching fenghuo version", path.display())]
    UnsupportedFormat {
        /// The registry file.
        path: PathBuf,
        /// The format it declares.
        found: u64,
    },
    /// The identity lies in another province than the CA's.
    #[error(
        "{identity} lies in province {found}, but this CA issues only for province {province}"
    )]
    OutsideProvince {
        /// The identity URI refused.
        identity: String,
        /// The province the identity lies in.
        found: String,
        /// The CA's province.
        province: String,
    },
    /// A province identity for another province than the CA's.
    #[error("{identity} is another province; this CA issues only for province {province}, and province {found} needs its own CA")]
    OtherProvince {
        /// The identity URI refused.
        identity: String,
        /// The province asked for.
        found: String,
        /// The CA's province.
        province: String,
    },
    /// The identity already holds a live certificate.
    #[error("{identity} already has a certificate ({existing}); pass --force to issue a new one (the old one stays valid until it expires or is revoked)")]
    AlreadyIssued {
        /// The identity URI.
        identity: String,
        /// What was found: the existing file or the unrevoked registry entry.
        existing: String,
    },
    /// A validity of zero days.
    #[error("certificate validity must be at least 1 day, got {days}")]
    BadDays {
        /// The validity asked for.
        days: u32,
    },
    /// The leaf would still be valid after the CA that vouches for it expired.
    #[error("a certificate valid for {days} days would outlive the CA, which expires {ca_not_after}; ask for fewer days")]
    OutlivesCa {
        /// The validity asked for.
        days: u32,
        /// When the CA expires (RFC 3339).
        ca_not_after: String,
    },
    /// A `--dns` name is not a valid DNS name.
    #[error("{name:?} is not a valid DNS name for a certificate (use letters, digits, '-' and '.', e.g. node1.example.org)")]
    BadDnsName {
        /// The name given.
        name: String,
    },
    /// `revoke` was given a stem nothing was issued under.
    #[error("nothing was issued under the name {stem:?} in {} (the file stem, e.g. county-510104 or staff-510104-zhang); `fenghuo ca list` shows them", dir.display())]
    UnknownStem {
        /// The stem given.
        stem: String,
        /// The CA directory.
        dir: PathBuf,
    },
    /// Every certificate under that stem is already revoked.
    #[error("{stem} is already revoked (since {revoked_at}); nothing to do")]
    AlreadyRevoked {
        /// The stem given.
        stem: String,
        /// When it was revoked (RFC 3339).
        revoked_at: String,
    },
    /// Renewing needs the holder's key file.
    #[error("renewing {stem}: cannot use its key {}: {reason} (renewal keeps the key; without it, issue anew with --force)", path.display())]
    RenewKey {
        /// The holder.
        stem: String,
        /// The key file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// rcgen refused to build or sign something.
    #[error("cannot {action}: {source}")]
    Sign {
        /// What was being built, e.g. "sign the certificate".
        action: &'static str,
        /// What rcgen said.
        #[source]
        source: rcgen::Error,
    },
    /// A feed-signing key could not be made or encoded.
    #[error("cannot make the feed-signing key: {0}")]
    FeedKey(String),
    /// The operating system's random number generator failed.
    #[error("cannot draw a random serial number: the system random number generator failed")]
    Random,
    /// A date fell outside what certificates can encode.
    #[error("the date {what} is out of range")]
    DateRange {
        /// Which date.
        what: &'static str,
    },
}

/// What `issue` should put in the certificate beyond the identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueOptions {
    /// Extra DNS names the holder serves under (always also `localhost`).
    pub dns: Vec<String>,
    /// Extra IP addresses the holder serves under (always also `127.0.0.1`).
    pub ips: Vec<IpAddr>,
    /// Validity in days from now.
    pub days: u32,
    /// Issue even if the identity already holds a live certificate.
    pub force: bool,
    /// Renew: a new certificate for the holder's existing keys (`<stem>.key`, and for a node
    /// `<stem>.feed.key`, in the CA folder), so what it signed stays valid under the new
    /// certificate. A holder issued before TLS keys were ECDSA (one Ed25519 key) is moved
    /// over: its Ed25519 key becomes its feed key and it gets a new P-256 TLS key.
    pub renew: bool,
    /// Issue the old kind of certificate: one Ed25519 key for TLS and feeds, no feed-key
    /// extension. Only for tests of the migration; no command offers it.
    pub legacy_ed25519: bool,
    /// The unit's name for people (`锦江区`), written in the subject's organization (O) as a
    /// UTF8String, for a county or the province; checked with
    /// [`crate::places::check_unit_name`]. None: people see the GB/T 2260 table's name.
    pub unit_name: Option<String>,
}

impl Default for IssueOptions {
    fn default() -> Self {
        Self {
            dns: Vec::new(),
            ips: Vec::new(),
            days: DEFAULT_DAYS,
            force: false,
            renew: false,
            legacy_ed25519: false,
            unit_name: None,
        }
    }
}

/// A certificate just issued, and where its files were written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// Who the certificate names.
    pub identity: Identity,
    /// The certificate (PEM), `<dir>/<stem>.crt`.
    pub cert_path: PathBuf,
    /// The TLS private key (ECDSA P-256, PKCS#8 PEM, mode 0600), `<dir>/<stem>.key`.
    pub key_path: PathBuf,
    /// For a county or province node, its feed-signing key (Ed25519, PKCS#8 PEM, mode 0600),
    /// `<dir>/<stem>.feed.key`, which the certificate certifies.
    pub feed_key_path: Option<PathBuf>,
    /// Serial number, lowercase hex.
    pub serial: String,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

/// One certificate in the registry (`issued.json`), as `list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedRecord {
    /// File stem of the holder's `.crt`/`.key` and the name `revoke` takes; derived from the
    /// identity when read back.
    #[serde(default, skip_deserializing)]
    pub stem: String,
    /// Who the certificate names (its URI SAN).
    #[serde(with = "identity_uri")]
    pub identity: Identity,
    /// Serial number, lowercase hex of the DER integer; how the CRL names the certificate.
    pub serial: String,
    /// Start of validity.
    #[serde(with = "rfc3339")]
    pub not_before: OffsetDateTime,
    /// End of validity.
    #[serde(with = "rfc3339")]
    pub not_after: OffsetDateTime,
    /// Extra DNS names beyond `localhost`, as given at issue time.
    #[serde(default)]
    pub dns: Vec<String>,
    /// Extra IP addresses beyond `127.0.0.1`, as given at issue time.
    #[serde(default)]
    pub ips: Vec<IpAddr>,
    /// Whether it is on the CRL; derived from `revoked_at` when read back.
    #[serde(default, skip_deserializing)]
    pub revoked: bool,
    /// When it was revoked, if it was.
    #[serde(with = "rfc3339_option", default)]
    pub revoked_at: Option<OffsetDateTime>,
}

/// The outcome of a revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// The certificates just revoked (more than one if the identity was re-issued).
    pub records: Vec<IssuedRecord>,
    /// The CRL that now lists them.
    pub crl: CrlInfo,
}

/// The state of the CRL after it was (re-)signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlInfo {
    /// Where it was written.
    pub path: PathBuf,
    /// Its CRL number (grows by one on every signing, so relying parties keep the newest).
    pub number: u64,
    /// How many serials it lists.
    pub revoked: usize,
    /// When it stops being current; re-sign before then.
    pub next_update: OffsetDateTime,
}

/// The registry file, `issued.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Registry {
    /// Always [`REGISTRY_FORMAT`].
    format: u32,
    /// The CA's province, two digits.
    province: String,
    /// Number of the last CRL signed.
    crl_number: u64,
    /// Every certificate ever issued by this CA, oldest first.
    issued: Vec<IssuedRecord>,
}

/// Only the version field, read first so a newer file is refused by its format, not by
/// whatever field it happens to add.
#[derive(Deserialize)]
struct FormatProbe {
    /// The declared format.
    format: u64,
}

/// The provincial CA: its key and certificate, loaded from the CA directory, and the registry.
#[derive(Debug)]
pub struct CertificateAuthority {
    /// The CA directory all files are read from and written to.
    dir: PathBuf,
    /// The province this CA issues for.
    province: DivisionCode,
    /// Signs leaves and CRLs: the CA key plus the name and key identifier read from `ca.crt`,
    /// so what it signs chains to the certificate on disk byte for byte.
    issuer: Issuer<'static, KeyPair>,
    /// The CA's subject key identifier, used as the CRL's authority key identifier.
    key_id: Vec<u8>,
    /// When the CA certificate expires; no leaf may outlive it.
    not_after: OffsetDateTime,
    /// What was issued, as last saved to `issued.json`.
    registry: Registry,
}

impl CertificateAuthority {
    /// Creates a new CA for `province` in `dir`: `ca.crt`, `ca.key`, an empty `crl.pem` and
    /// an empty `issued.json`. Refuses if a CA is already there unless `force`.
    pub fn init(dir: &Path, province: &str, force: bool) -> Result<Self, CaError> {
        let province = DivisionCode::province(province)?;
        create_dir(dir)?;
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        if !force && (exists(&cert_path)? || exists(&key_path)?) {
            return Err(CaError::CaExists {
                dir: dir.to_owned(),
            });
        }

        let key = generate_key()?;
        let now = now();
        let mut params = CertificateParams::default();
        params.distinguished_name =
            distinguished_name(&format!("Fenghuo provincial CA {province}"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        // The subject key identifier leaves and CRLs will point back to.
        params.key_identifier_method = KeyIdMethod::Sha256;
        params.serial_number = Some(SerialNumber::from_slice(&random_serial()?));
        params.not_before = now - CLOCK_SKEW;
        params.not_after = now
            .checked_add(CA_VALIDITY)
            .ok_or(CaError::DateRange { what: "CA expiry" })?;
        let cert = params.self_signed(&key).map_err(|source| CaError::Sign {
            action: "self-sign the CA certificate",
            source,
        })?;

        write_atomic(&key_path, key.serialize_pem().as_bytes(), KEY_MODE)?;
        write_atomic(&cert_path, cert.pem().as_bytes(), PUBLIC_MODE)?;
        let registry = Registry {
            format: REGISTRY_FORMAT,
            province: province.as_str().to_owned(),
            crl_number: 0,
            issued: Vec::new(),
        };
        // Build the CA exactly as `open` would, from the certificate as written, so the
        // first CRL is signed the same way every later one is.
        let mut ca = Self::from_parts(dir, &cert_path, cert.der(), key, registry)?;
        let mut registry = ca.registry.clone();
        ca.sign_crl(&mut registry)?;
        ca.save(registry)?;
        Ok(ca)
    }

    /// Loads the CA in `dir` (`ca.crt`, `ca.key`, `issued.json`).
    pub fn open(dir: &Path) -> Result<Self, CaError> {
        let cert_path = dir.join(CA_CERT_FILE);
        if !exists(&cert_path)? {
            return Err(CaError::NoCa {
                dir: dir.to_owned(),
            });
        }
        let ca_der = cert::read_cert_pem(&cert_path)?
            .into_iter()
            .next()
            .ok_or_else(|| {
                CaError::Cert(CertError::Missing {
                    path: cert_path.clone(),
                    label: "CERTIFICATE",
                })
            })?;
        let key_path = dir.join(CA_KEY_FILE);
        let key_pem = fs::read_to_string(&key_path).map_err(|source| CaError::Io {
            action: "read the CA key",
            path: key_path.clone(),
            source,
        })?;
        let key = KeyPair::from_pem(&key_pem).map_err(|e| CaError::BadKey {
            path: key_path,
            reason: e.to_string(),
        })?;
        let registry = load_registry(&dir.join(REGISTRY_FILE))?;
        Self::from_parts(dir, &cert_path, &ca_der, key, registry)
    }

    /// Builds the issuer from the CA certificate as stored and checks it matches key and registry.
    fn from_parts(
        dir: &Path,
        cert_path: &Path,
        ca_der: &[u8],
        key: KeyPair,
        registry: Registry,
    ) -> Result<Self, CaError> {
        let bad_cert = |reason: String| CaError::BadCaCert {
            path: cert_path.to_owned(),
            reason,
        };
        let (_, x509) = X509Certificate::from_der(ca_der).map_err(|e| bad_cert(e.to_string()))?;
        if x509.public_key().raw != key.subject_public_key_info().as_slice() {
            return Err(CaError::KeyMismatch {
                key: dir.join(CA_KEY_FILE),
                cert: cert_path.to_owned(),
            });
        }
        let key_id = x509
            .iter_extensions()
            .find_map(|ext| match ext.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
                _ => None,
            })
            .ok_or_else(|| bad_cert("the CA certificate has no subject key identifier".into()))?;
        let not_after = x509.validity().not_after.to_datetime();
        let province =
            DivisionCode::province(&registry.province).map_err(|e| CaError::BadRegistry {
                path: dir.join(REGISTRY_FILE),
                reason: e.to_string(),
            })?;
        let issuer =
            Issuer::from_ca_cert_der(&ca_der.into(), key).map_err(|e| bad_cert(e.to_string()))?;
        Ok(Self {
            dir: dir.to_owned(),
            province,
            issuer,
            key_id,
            not_after,
            registry,
        })
    }

    /// The province this CA issues for.
    pub fn province(&self) -> &DivisionCode {
        &self.province
    }

    /// The CA directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of the CA certificate, the trust anchor every node is configured with.
    pub fn ca_cert_path(&self) -> PathBuf {
        self.dir.join(CA_CERT_FILE)
    }

    /// Path of the CRL.
    pub fn crl_path(&self) -> PathBuf {
        self.dir.join(CRL_FILE)
    }

    /// When the CA certificate expires.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// Number of the CRL currently in `crl.pem`.
    pub fn crl_number(&self) -> u64 {
        self.registry.crl_number
    }

    /// Every certificate issued, oldest first, revoked ones included.
    pub fn list(&self) -> &[IssuedRecord] {
        &self.registry.issued
    }

    /// Issues a certificate and key for `identity`, written to `<dir>/<stem>.crt` and
    /// `<dir>/<stem>.key`, and records it in the registry.
    pub fn issue(&mut self, identity: &Identity, opts: &IssueOptions) -> Result<Issued, CaError> {
        self.check_in_province(identity)?;
        if opts.days == 0 {
            return Err(CaError::BadDays { days: opts.days });
        }
        let dns = dns_names(&opts.dns)?;
        let ips = dedup(opts.ips.clone());

        let stem = identity.file_stem();
        let cert_path = self.dir.join(format!("{stem}.crt"));
        let key_path = self.dir.join(format!("{stem}.key"));
        if !opts.force && !opts.renew {
            self.check_not_issued(identity, &stem, &cert_path, &key_path)?;
        }

        let now = now();
        let not_after = now
            .checked_add(Duration::days(i64::from(opts.days)))
            .filter(|t| *t <= self.not_after)
            .ok_or_else(|| CaError::OutlivesCa {
                days: opts.days,
                ca_not_after: rfc3339::text(self.not_after),
            })?;

        let unit_name = match (&opts.unit_name, identity) {
            (None, _) => None,
            (Some(n), Identity::County(_) | Identity::Province(_)) => Some(
                crate::places::check_unit_name(n)
                    .map_err(|e| CaError::BadUnitName(e.to_string()))?
                    .to_owned(),
            ),
            (Some(_), _) => {
                return Err(CaError::BadUnitName(
                    "only a county's or the province's certificate carries a unit name".into(),
                ))
            }
        };
        let mut params = CertificateParams::default();
        params.distinguished_name = distinguished_name(&identity.path());
        if let Some(n) = unit_name {
            params
                .distinguished_name
                .push(DnType::OrganizationName, rcgen::DnValue::Utf8String(n));
        }
        params.subject_alt_names = subject_alt_names(identity, &dns, &ips)?;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = extended_key_usages(identity);
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(SerialNumber::from_slice(&random_serial()?));
        params.not_before = now - CLOCK_SKEW;
        params.not_after = not_after;

        let keys = self.holder_keys(identity, &stem, opts)?;
        if let Some((feed, _)) = &keys.feed {
            let content = feed_key::extension_content(&feed.verifying_key())
                .map_err(|e| CaError::FeedKey(e.to_string()))?;
            params.custom_extensions = vec![rcgen::CustomExtension::from_oid_content(
                &feed_key::OID,
                content,
            )];
        }
        let key = &keys.tls;
        let cert = params
            .signed_by(key, &self.issuer)
            .map_err(|source| CaError::Sign {
                action: "sign the certificate",
                source,
            })?;
        // Read back what was encoded, so the registry holds exactly the serial and dates
        // the certificate carries (DER drops sub-second precision).
        let der = cert.der();
        let serial = cert::serial_hex(der)?;
        let not_after = cert::not_after(der)?;

        let record = IssuedRecord {
            stem: stem.clone(),
            identity: identity.clone(),
            serial: serial.clone(),
            not_before: params.not_before,
            not_after,
            dns: opts.dns.iter().map(|d| d.to_ascii_lowercase()).collect(),
            ips: opts.ips.clone(),
            revoked: false,
            revoked_at: None,
        };
        // The registry is saved before the files: a crash in between leaves a recorded,
        // revocable certificate nobody holds, never a held certificate nobody can revoke.
        let mut registry = self.registry.clone();
        registry.issued.push(record);
        self.save(registry)?;
        // The feed key first: when a holder is moved over, it is the old key, and the TLS key
        // file that held it is overwritten next.
        let feed_key_path = self.dir.join(format!("{stem}.{FEED_KEY_SUFFIX}"));
        if let Some((feed, true)) = &keys.feed {
            let pem = feed_key::to_pem(feed).map_err(|e| CaError::FeedKey(e.to_string()))?;
            write_atomic(&feed_key_path, pem.as_bytes(), KEY_MODE)?;
        }
        if keys.tls_is_new {
            write_atomic(&key_path, key.serialize_pem().as_bytes(), KEY_MODE)?;
        }
        write_atomic(&cert_path, cert.pem().as_bytes(), PUBLIC_MODE)?;
        // Now that the file is there, the directory can list it.
        self.write_directory(&self.registry)?;

        Ok(Issued {
            identity: identity.clone(),
            cert_path,
            key_path,
            feed_key_path: keys.feed.is_some().then_some(feed_key_path),
            serial,
            not_after,
        })
    }

    /// The keys a certificate for `identity` certifies: kept on renewal, new otherwise.
    fn holder_keys(
        &self,
        identity: &Identity,
        stem: &str,
        opts: &IssueOptions,
    ) -> Result<HolderKeys, CaError> {
        let signs_feeds = matches!(identity, Identity::County(_) | Identity::Province(_));
        let key_path = self.dir.join(format!("{stem}.key"));
        let feed_key_path = self.dir.join(format!("{stem}.{FEED_KEY_SUFFIX}"));
        if opts.legacy_ed25519 {
            let tls =
                KeyPair::generate_for(&rcgen::PKCS_ED25519).map_err(|source| CaError::Sign {
                    action: "generate an Ed25519 key",
                    source,
                })?;
            return Ok(HolderKeys {
                tls,
                tls_is_new: true,
                feed: None,
            });
        }
        if !opts.renew {
            let feed = if signs_feeds {
                let key = feed_key::generate().map_err(|e| CaError::FeedKey(e.to_string()))?;
                Some((key, true))
            } else {
                None
            };
            return Ok(HolderKeys {
                tls: generate_tls_key()?,
                tls_is_new: true,
                feed,
            });
        }
        let err = |path: &Path, reason: String| CaError::RenewKey {
            stem: stem.to_owned(),
            path: path.to_owned(),
            reason,
        };
        let pem = std::fs::read_to_string(&key_path).map_err(|e| err(&key_path, e.to_string()))?;
        let old = KeyPair::from_pem(&pem).map_err(|e| err(&key_path, e.to_string()))?;
        if old.algorithm() == &rcgen::PKCS_ECDSA_P256_SHA256 {
            let feed = if signs_feeds {
                let key = crate::feed::FeedSigner::from_pem_file(&feed_key_path)
                    .map_err(|e| err(&feed_key_path, e.to_string()))?;
                Some((key.signing_key().clone(), false))
            } else {
                None
            };
            return Ok(HolderKeys {
                tls: old,
                tls_is_new: false,
                feed,
            });
        }
        // Issued before TLS keys were ECDSA: the Ed25519 key signed the node's feeds, so it
        // stays as the feed key, and TLS gets a key every stack speaks.
        let feed = if signs_feeds {
            use ed25519_dalek::pkcs8::DecodePrivateKey;
            let key = ed25519_dalek::SigningKey::from_pkcs8_pem(&pem)
                .map_err(|e| err(&key_path, e.to_string()))?;
            Some((key, true))
        } else {
            None
        };
        Ok(HolderKeys {
            tls: generate_tls_key()?,
            tls_is_new: true,
            feed,
        })
    }

    /// Revokes every live certificate issued under `stem` (e.g. `staff-510104-zhang`; an
    /// identity URI or a `.crt` file name is accepted too) and re-signs the CRL.
    pub fn revoke(&mut self, stem: &str) -> Result<Revoked, CaError> {
        let stem = normalise_stem(stem);
        let mut registry = self.registry.clone();
        let mut matching = registry
            .issued
            .iter_mut()
            .filter(|r| r.stem == stem)
            .peekable();
        if matching.peek().is_none() {
            return Err(CaError::UnknownStem {
                stem,
                dir: self.dir.clone(),
            });
        }
        let now = now();
        let mut revoked = Vec::new();
        let mut last_revoked_at = None;
        for record in matching {
            match record.revoked_at {
                Some(at) => last_revoked_at = last_revoked_at.max(Some(at)),
                None => {
                    record.revoked_at = Some(now);
                    record.revoked = true;
                    revoked.push(record.clone());
                }
            }
        }
        if revoked.is_empty() {
            return Err(CaError::AlreadyRevoked {
                stem,
                revoked_at: last_revoked_at.map(rfc3339::text).unwrap_or_default(),
            });
        }
        // The CRL is written before the registry: a crash in between leaves the holder
        // already refused, and the worst case is signing that CRL again.
        let crl = self.sign_crl(&mut registry)?;
        self.save(registry)?;
        Ok(Revoked {
            records: revoked,
            crl,
        })
    }

    /// Re-signs the CRL with the same revocations, a new number and a fresh next-update;
    /// the province does this before the current CRL's next-update passes.
    pub fn refresh_crl(&mut self) -> Result<CrlInfo, CaError> {
        let mut registry = self.registry.clone();
        let info = self.sign_crl(&mut registry)?;
        self.save(registry)?;
        Ok(info)
    }

    /// Refuses identities outside the CA's province (partners belong to none).
    pub(crate) fn check_in_province(&self, identity: &Identity) -> Result<(), CaError> {
        let Some(unit) = identity.unit() else {
            return Ok(());
        };
        if unit.province_code() == self.province.as_str() {
            return Ok(());
        }
        let found = unit.province_code().to_owned();
        let province = self.province.to_string();
        let uri = identity.uri();
        Err(match identity {
            Identity::Province(_) => CaError::OtherProvince {
                identity: uri,
                found,
                province,
            },
            _ => CaError::OutsideProvince {
                identity: uri,
                found,
                province,
            },
        })
    }

    /// Refuses to overwrite a holder's files or shadow its live certificate without `force`.
    fn check_not_issued(
        &self,
        identity: &Identity,
        stem: &str,
        cert_path: &Path,
        key_path: &Path,
    ) -> Result<(), CaError> {
        let already = |existing: String| CaError::AlreadyIssued {
            identity: identity.uri(),
            existing,
        };
        if let Some(live) = self
            .registry
            .issued
            .iter()
            .find(|r| r.stem == stem && r.revoked_at.is_none())
        {
            return Err(already(format!(
                "serial {} in {}, valid until {}",
                live.serial,
                self.dir.join(REGISTRY_FILE).display(),
                rfc3339::text(live.not_after)
            )));
        }
        for path in [cert_path, key_path] {
            if exists(path)? {
                return Err(already(format!("{} exists", path.display())));
            }
        }
        Ok(())
    }

    /// Signs a CRL listing every revoked serial of `registry` under the next CRL number,
    /// writes `crl.pem`, and records the number in `registry` (saved by the caller).
    fn sign_crl(&self, registry: &mut Registry) -> Result<CrlInfo, CaError> {
        let path = self.crl_path();
        let number = registry.crl_number + 1;
        let mut revoked_certs = Vec::new();
        for record in &registry.issued {
            if let Some(revocation_time) = record.revoked_at {
                let serial = hex::decode(&record.serial).map_err(|e| CaError::BadRegistry {
                    path: self.dir.join(REGISTRY_FILE),
                    reason: format!("serial {:?} of {}: {e}", record.serial, record.stem),
                })?;
                revoked_certs.push(RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&serial),
                    revocation_time,
                    reason_code: None,
                    invalidity_date: None,
                });
            }
        }
        let this_update = now();
        let next_update = this_update + CRL_VALIDITY;
        let params = CertificateRevocationListParams {
            this_update,
            next_update,
            crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
            issuing_distribution_point: None,
            revoked_certs,
            // Exactly the CA's subject key identifier, so relying parties match the CRL to it.
            key_identifier_method: KeyIdMethod::PreSpecified(self.key_id.clone()),
        };
        let revoked = params.revoked_certs.len();
        let pem = params
            .signed_by(&self.issuer)
            .and_then(|crl| crl.pem())
            .map_err(|source| CaError::Sign {
                action: "sign the CRL",
                source,
            })?;
        write_atomic(&path, pem.as_bytes(), PUBLIC_MODE)?;
        registry.crl_number = number;
        Ok(CrlInfo {
            path,
            number,
            revoked,
            next_update,
        })
    }

    /// Writes `registry` to `issued.json` and makes it the current one.
    fn save(&mut self, registry: Registry) -> Result<(), CaError> {
        let path = self.dir.join(REGISTRY_FILE);
        let mut json = serde_json::to_vec_pretty(&registry).map_err(|e| CaError::BadRegistry {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        json.push(b'\n');
        write_atomic(&path, &json, PUBLIC_MODE)?;
        self.write_directory(&registry)?;
        self.registry = registry;
        Ok(())
    }

    /// Writes `directory.pem`: the current certificate of every county and province whose
    /// latest certificate is neither revoked nor expired.
    fn write_directory(&self, registry: &Registry) -> Result<(), CaError> {
        let now = now();
        let live: std::collections::BTreeSet<&str> = registry
            .issued
            .iter()
            .filter(|r| matches!(r.identity, Identity::County(_) | Identity::Province(_)))
            .filter(|r| r.revoked_at.is_none() && r.not_after > now)
            .map(|r| r.serial.as_str())
            .collect();
        let mut pem = String::new();
        let mut stems = std::collections::BTreeSet::new();
        for r in &registry.issued {
            let stem = r.identity.file_stem();
            if !matches!(r.identity, Identity::County(_) | Identity::Province(_))
                || !stems.insert(stem.clone())
            {
                continue;
            }
            let path = self.dir.join(format!("{stem}.crt"));
            let Ok(certs) = cert::read_cert_pem(&path) else {
                continue;
            };
            for der in certs {
                let serial = cert::serial_hex(&der).unwrap_or_default();
                if live.contains(serial.as_str()) {
                    pem.push_str(&pem_block("CERTIFICATE", &der));
                }
            }
        }
        write_atomic(&self.dir.join(DIRECTORY_FILE), pem.as_bytes(), PUBLIC_MODE)
    }
}

/// One PEM block.
fn pem_block(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Reads and checks `issued.json`, filling in the fields derived from others.
fn load_registry(path: &Path) -> Result<Registry, CaError> {
    let bad = |reason: String| CaError::BadRegistry {
        path: path.to_owned(),
        reason,
    };
    let text = fs::read(path).map_err(|source| CaError::Io {
        action: "read the registry",
        path: path.to_owned(),
        source,
    })?;
    let probe: FormatProbe = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
    if probe.format != u64::from(REGISTRY_FORMAT) {
        return Err(CaError::UnsupportedFormat {
            path: path.to_owned(),
            found: probe.format,
        });
    }
    let mut registry: Registry = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
    for record in &mut registry.issued {
        record.stem = record.identity.file_stem();
        record.revoked = record.revoked_at.is_some();
        if record.serial.is_empty() || hex::decode(&record.serial).is_err() {
            return Err(bad(format!(
                "serial {:?} of {} is not hex",
                record.serial, record.stem
            )));
        }
    }
    Ok(registry)
}

/// Accepts the stem itself, the identity URI, or the certificate/key file name.
fn normalise_stem(input: &str) -> String {
    if input.starts_with(SCHEME) {
        if let Ok(identity) = input.parse::<Identity>() {
            return identity.file_stem();
        }
    }
    let name = Path::new(input)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(input);
    name.strip_suffix(".crt")
        .or_else(|| name.strip_suffix(".key"))
        .unwrap_or(name)
        .to_owned()
}

/// Extended key usages by role: nodes are servers and clients; people and partners only
/// ever connect, so their certificates cannot be used to impersonate a server.
fn extended_key_usages(identity: &Identity) -> Vec<ExtendedKeyUsagePurpose> {
    match identity {
        Identity::County(_) | Identity::Province(_) => vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ],
        Identity::Partner(_) | Identity::Staff { .. } | Identity::Intake { .. } => {
            vec![ExtendedKeyUsagePurpose::ClientAuth]
        }
    }
}

/// The identity URI first, then `localhost`, the extra DNS names, `127.0.0.1` and the extra IPs.
pub(super) fn subject_alt_names(
    identity: &Identity,
    dns: &[String],
    ips: &[IpAddr],
) -> Result<Vec<SanType>, CaError> {
    let ia5 =
        |s: String| Ia5String::try_from(s.clone()).map_err(|_| CaError::BadDnsName { name: s });
    let mut sans = vec![SanType::URI(ia5(identity.uri())?)];
    for name in dedup(std::iter::once("localhost".to_owned()).chain(dns.iter().cloned())) {
        sans.push(SanType::DnsName(ia5(name)?));
    }
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    for ip in dedup(std::iter::once(loopback).chain(ips.iter().copied())) {
        sans.push(SanType::IpAddress(ip));
    }
    Ok(sans)
}

/// Validates `--dns` names (as rustls will when matching them) and lowercases them.
pub(super) fn dns_names(names: &[String]) -> Result<Vec<String>, CaError> {
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let lower = name.to_ascii_lowercase();
        let valid = rustls_pki_types::DnsName::try_from(lower.as_str()).is_ok()
            // An IP address is a valid DNS name to the parser but belongs in --ip.
            && lower.parse::<IpAddr>().is_err();
        if !valid {
            return Err(CaError::BadDnsName { name: name.clone() });
        }
        out.push(lower);
    }
    Ok(dedup(out))
}

/// Removes repeats, keeping the first occurrence's position.
fn dedup<T: PartialEq>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// A subject with a single common name.
pub(super) fn distinguished_name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

/// The keys a certificate is issued for.
struct HolderKeys {
    /// The TLS key the certificate names.
    tls: KeyPair,
    /// Whether `tls` is new (to be written) rather than the holder's existing key.
    tls_is_new: bool,
    /// A node's feed-signing key, and whether it is to be written.
    feed: Option<(ed25519_dalek::SigningKey, bool)>,
}

/// A fresh TLS key: ECDSA P-256, which every mainstream TLS stack offers in a handshake.
fn generate_tls_key() -> Result<KeyPair, CaError> {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|source| CaError::Sign {
        action: "generate an ECDSA P-256 key",
        source,
    })
}

/// A fresh Ed25519 key for the CA itself. Its signatures in certificate chains are checked by
/// OpenSSL, BoringSSL, Go and Java alike; only handshakes need P-256.
fn generate_key() -> Result<KeyPair, CaError> {
    KeyPair::generate_for(&rcgen::PKCS_ED25519).map_err(|source| CaError::Sign {
        action: "generate an Ed25519 key",
        source,
    })
}

/// Sixteen random bytes as a positive serial number.
pub(super) fn random_serial() -> Result<[u8; 16], CaError> {
    let mut serial = [0u8; 16];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut serial)
        .map_err(|_| CaError::Random)?;
    // Top bit clear keeps the INTEGER positive; a non-zero first byte keeps all sixteen
    // bytes in the encoding, so the registry's hex is exactly what the certificate carries.
    serial[0] &= 0x7f;
    if serial[0] == 0 {
        serial[0] = 1;
    }
    Ok(serial)
}

/// Now, in UTC, to the second (certificates and the registry carry no fractions).
pub(super) fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

/// Whether a path exists, distinguishing "absent" from "cannot tell".
pub(super) fn exists(path: &Path) -> Result<bool, CaError> {
    path.try_exists().map_err(|source| CaError::Io {
        action: "check",
        path: path.to_owned(),
        source,
    })
}

/// Creates the CA directory (private to the user, since it holds keys) if it is missing.
fn create_dir(dir: &Path) -> Result<(), CaError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(dir).map_err(|source| CaError::Io {
        action: "create the directory",
        path: dir.to_owned(),
        source,
    })
}

/// Writes `contents` to `path` through a temporary file and a rename, so readers see the
/// old or the new file, never half of one. The temporary file is created with `mode`, so a
/// key is never readable by others, not even for an instant.
pub(super) fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), CaError> {
    let io = |action: &'static str, path: &Path| {
        let path = path.to_owned();
        move |source| CaError::Io {
            action,
            path,
            source,
        }
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    // A leftover from a crashed run may have other permissions: start from nothing.
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io("remove", &tmp)(e)),
        _ => {}
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let result = options
        .open(&tmp)
        .map_err(io("create", &tmp))
        .and_then(|mut file| {
            file.write_all(contents).map_err(io("write", &tmp))?;
            file.sync_all().map_err(io("sync", &tmp))
        })
        .and_then(|()| fs::rename(&tmp, path).map_err(io("replace", path)));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    // Make the rename itself durable; best effort, as not every platform can open a directory.
    if let Ok(d) = fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Serde for [`Identity`] as its URI.
mod identity_uri {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::identity::Identity;

    /// Writes the URI.
    pub fn serialize<S: Serializer>(identity: &Identity, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&identity.uri())
    }

    /// Parses and validates the URI.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Identity, D::Error> {
        let uri = String::deserialize(d)?;
        uri.parse().map_err(serde::de::Error::custom)
    }
}

/// Serde for timestamps as RFC 3339 text (the `time` crate's serde feature is not enabled).
mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::format_description::well_known::Rfc3339;
    use time::OffsetDateTime;

    /// The RFC 3339 text of a UTC timestamp; certificate dates are always representable.
    pub fn text(t: OffsetDateTime) -> String {
        t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
    }

    /// Writes RFC 3339 text.
    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        let text = t.format(&Rfc3339).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    /// Parses RFC 3339 text.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let text = String::deserialize(d)?;
        OffsetDateTime::parse(&text, &Rfc3339).map_err(serde::de::Error::custom)
    }
}

/// Serde for optional timestamps as RFC 3339 text or `null`.
mod rfc3339_option {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::format_description::well_known::Rfc3339;
    use time::OffsetDateTime;

    /// Writes RFC 3339 text or `null`.
    pub fn serialize<S: Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => super::rfc3339::serialize(t, s),
            None => s.serialize_none(),
        }
    }

    /// Parses RFC 3339 text or `null`.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| OffsetDateTime::parse(&text, &Rfc3339).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// RFC 3339 text of a timestamp, for messages and the CLI.
pub fn rfc3339_text(t: OffsetDateTime) -> String {
    rfc3339::text(t)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use std::sync::Arc;

    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, ServerName, UnixTime};
    use x509_parser::revocation_list::CertificateRevocationList;

    use super::*;

    /// A fresh CA for province 51 in a temporary directory.
    fn new_ca() -> (tempfile::TempDir, CertificateAuthority) {
        let dir = tempfile::tempdir().unwrap();
        let ca = CertificateAuthority::init(dir.path(), "51", false).unwrap();
        (dir, ca)
    }

    fn der_of(path: &Path) -> Vec<u8> {
        cert::read_cert_pem(path).unwrap().remove(0)
    }

    fn crl_der(ca: &CertificateAuthority) -> Vec<u8> {
        cert::read_crl_pem(&ca.crl_path()).unwrap().remove(0)
    }

    #[test]
    fn the_directory_lists_live_node_certificates_only() {
        let (dir, mut ca) = new_ca();
        let listed = || -> Vec<String> {
            cert::read_cert_pem(&dir.path().join(DIRECTORY_FILE))
                .unwrap_or_default()
                .iter()
                .map(|d| cert::identity_of(d).unwrap().path())
                .collect()
        };
        assert!(listed().is_empty());
        for uri in [
            "fenghuo://county/510104",
            "fenghuo://county/510105",
            "fenghuo://province/51",
            "fenghuo://staff/510104/zhang",
            "fenghuo://partner/weibo",
        ] {
            let id: Identity = uri.parse().unwrap();
            ca.issue(&id, &IssueOptions::default()).unwrap();
        }
        assert_eq!(listed(), ["county/510104", "county/510105", "province/51"]);
        ca.revoke("county-510105").unwrap();
        assert_eq!(listed(), ["county/510104", "province/51"]);
        // Re-issued after the revocation: listed again, with the new certificate.
        let id: Identity = "fenghuo://county/510105".parse().unwrap();
        let force = IssueOptions {
            force: true,
            ..IssueOptions::default()
        };
        let again = ca.issue(&id, &force).unwrap();
        let certs = cert::read_cert_pem(&dir.path().join(DIRECTORY_FILE)).unwrap();
        assert!(certs.contains(&der_of(&again.cert_path)));
        assert_eq!(certs.len(), 3);
    }

    fn key_identifier(exts: &[x509_parser::extensions::X509Extension<'_>], ski: bool) -> Vec<u8> {
        exts.iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(id) if ski => Some(id.0.to_vec()),
                ParsedExtension::AuthorityKeyIdentifier(aki) if !ski => {
                    aki.key_identifier.as_ref().map(|id| id.0.to_vec())
                }
                _ => None,
            })
            .unwrap()
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn init_writes_ca_key_crl_and_registry() {
        let (dir, ca) = new_ca();
        for file in [CA_CERT_FILE, CA_KEY_FILE, CRL_FILE, REGISTRY_FILE] {
            assert!(dir.path().join(file).is_file(), "{file} missing");
        }
        #[cfg(unix)]
        assert_eq!(mode(&dir.path().join(CA_KEY_FILE)), 0o600);
        assert_eq!(ca.province().as_str(), "51");

        let ca_der = der_of(&ca.ca_cert_path());
        let (_, ca_x509) = X509Certificate::from_der(&ca_der).unwrap();
        assert_eq!(ca_x509.subject().to_string(), "CN=Fenghuo provincial CA 51");
        assert!(ca_x509.is_ca());
        ca_x509.verify_signature(None).unwrap();

        let crl = crl_der(&ca);
        let (_, crl) = x509_parser::parse_x509_crl(&crl).unwrap();
        assert_eq!(crl.iter_revoked_certificates().count(), 0);
        assert_eq!(crl.crl_number().unwrap().to_string(), "1");
        crl.verify_signature(ca_x509.public_key()).unwrap();

        let registry: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.path().join(REGISTRY_FILE)).unwrap()).unwrap();
        assert_eq!(registry["format"], 1);
        assert_eq!(registry["province"], "51");
    }

    #[test]
    fn init_refuses_an_existing_ca_unless_forced() {
        let (dir, _ca) = new_ca();
        let before = fs::read(dir.path().join(CA_CERT_FILE)).unwrap();
        let err = CertificateAuthority::init(dir.path(), "51", false).unwrap_err();
        assert!(matches!(err, CaError::CaExists { .. }), "{err}");
        assert_eq!(fs::read(dir.path().join(CA_CERT_FILE)).unwrap(), before);
        CertificateAuthority::init(dir.path(), "51", true).unwrap();
        assert_ne!(fs::read(dir.path().join(CA_CERT_FILE)).unwrap(), before);
    }

    #[test]
    fn init_refuses_a_bad_province() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["5", "510104", "99"] {
            let err = CertificateAuthority::init(dir.path(), bad, false).unwrap_err();
            assert!(
                matches!(err, CaError::Identity(IdentityError::BadProvince(_))),
                "{err}"
            );
        }
    }

    #[test]
    fn open_without_a_ca_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let err = CertificateAuthority::open(dir.path()).unwrap_err();
        assert!(matches!(err, CaError::NoCa { .. }), "{err}");
    }

    #[test]
    fn every_kind_of_identity_round_trips_through_its_certificate() {
        let (dir, mut ca) = new_ca();
        let cases = [
            (Identity::county("510104").unwrap(), "county-510104", true),
            (Identity::province("51").unwrap(), "province-51", true),
            (Identity::partner("weibo").unwrap(), "partner-weibo", false),
            (
                Identity::staff("510104", "zhang").unwrap(),
                "staff-510104-zhang",
                false,
            ),
            (Identity::staff("51", "li").unwrap(), "staff-51-li", false),
        ];
        for (identity, stem, server) in cases {
            let issued = ca.issue(&identity, &IssueOptions::default()).unwrap();
            assert_eq!(issued.cert_path, dir.path().join(format!("{stem}.crt")));
            assert_eq!(issued.key_path, dir.path().join(format!("{stem}.key")));
            let der = der_of(&issued.cert_path);
            assert_eq!(cert::identity_of(&der).unwrap(), identity);
            assert_eq!(cert::serial_hex(&der).unwrap(), issued.serial);
            assert_eq!(cert::not_after(&der).unwrap(), issued.not_after);
            assert_eq!(issued.serial.len(), 32, "16-byte serial");

            let (_, x509) = X509Certificate::from_der(&der).unwrap();
            assert_eq!(
                x509.subject().to_string(),
                format!("CN={}", identity.path())
            );
            assert!(!x509.is_ca());
            let eku = x509.extended_key_usage().unwrap().unwrap().value;
            assert!(eku.client_auth);
            assert_eq!(eku.server_auth, server, "{stem}");
            let ku = x509.key_usage().unwrap().unwrap().value;
            assert!(ku.digital_signature() && !ku.key_cert_sign());
            let days = (issued.not_after - OffsetDateTime::now_utc()).whole_days();
            assert!((364..=365).contains(&days), "{days}");
        }
        let stems: Vec<&str> = ca.list().iter().map(|r| r.stem.as_str()).collect();
        assert_eq!(
            stems,
            [
                "county-510104",
                "province-51",
                "partner-weibo",
                "staff-510104-zhang",
                "staff-51-li"
            ]
        );
        // The registry survives a reopen.
        let reopened = CertificateAuthority::open(dir.path()).unwrap();
        assert_eq!(reopened.list(), ca.list());
    }

    #[test]
    fn a_unit_name_goes_into_the_subject() {
        let (_dir, mut ca) = new_ca();
        let named = |n: &str| IssueOptions {
            unit_name: Some(n.into()),
            ..IssueOptions::default()
        };
        let county = Identity::county("510104").unwrap();
        let issued = ca.issue(&county, &named(" 锦江区 ")).unwrap();
        let der = der_of(&issued.cert_path);
        assert_eq!(
            crate::pki::cert::unit_name_of(&der).as_deref(),
            Some("锦江区")
        );
        assert_eq!(crate::pki::cert::identity_of(&der).unwrap(), county);
        // Refused: control characters, and a name for a partner.
        let other = Identity::county("510105").unwrap();
        let e = ca.issue(&other, &named("锦江\u{1b}[2J")).unwrap_err();
        assert!(e.to_string().contains("--name"), "{e}");
        let partner = Identity::partner("xinhua").unwrap();
        assert!(ca.issue(&partner, &named("新华网")).is_err());
        // Without a name, none is written.
        let plain = ca.issue(&other, &IssueOptions::default()).unwrap();
        assert_eq!(
            crate::pki::cert::unit_name_of(&der_of(&plain.cert_path)),
            None
        );
    }

    #[test]
    fn names_and_days_are_honoured() {
        let (_dir, mut ca) = new_ca();
        let opts = IssueOptions {
            dns: vec!["Node1.Example.org".into(), "localhost".into()],
            ips: vec!["10.0.0.7".parse().unwrap(), "127.0.0.1".parse().unwrap()],
            days: 30,
            force: false,
            renew: false,
            legacy_ed25519: false,
            unit_name: None,
        };
        let issued = ca
            .issue(&Identity::county("510104").unwrap(), &opts)
            .unwrap();
        let der = der_of(&issued.cert_path);
        let (_, x509) = X509Certificate::from_der(&der).unwrap();
        let names: Vec<String> = x509
            .subject_alternative_name()
            .unwrap()
            .unwrap()
            .value
            .general_names
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(
            names,
            [
                "URI(fenghuo://county/510104)",
                "DNSName(localhost)",
                "DNSName(node1.example.org)",
                "IPAddress(7f:00:00:01)",
                "IPAddress(0a:00:00:07)",
            ]
        );
        let days = (issued.not_after - OffsetDateTime::now_utc()).whole_days();
        assert!((29..=30).contains(&days), "{days}");
        let not_before = x509.validity().not_before.to_datetime();
        assert!(OffsetDateTime::now_utc() - not_before >= CLOCK_SKEW - Duration::seconds(2));
    }

    #[test]
    fn bad_options_are_refused() {
        let (_dir, mut ca) = new_ca();
        let county = Identity::county("510104").unwrap();
        let with = |f: fn(&mut IssueOptions)| {
            let mut o = IssueOptions::default();
            f(&mut o);
            o
        };
        let err = ca.issue(&county, &with(|o| o.days = 0)).unwrap_err();
        assert!(matches!(err, CaError::BadDays { .. }), "{err}");
        let err = ca.issue(&county, &with(|o| o.days = 4000)).unwrap_err();
        assert!(matches!(err, CaError::OutlivesCa { .. }), "{err}");
        let err = ca.issue(&county, &with(|o| o.days = u32::MAX)).unwrap_err();
        assert!(matches!(err, CaError::OutlivesCa { .. }), "{err}");
        for bad in ["bad name", "", "a..b", "10.0.0.1", "ünï.example"] {
            let err = ca.issue(&county, &with_dns(bad)).expect_err(bad);
            assert!(matches!(err, CaError::BadDnsName { .. }), "{bad}: {err}");
        }
        assert!(
            ca.list().is_empty(),
            "nothing recorded for refused requests"
        );

        fn with_dns(name: &str) -> IssueOptions {
            IssueOptions {
                dns: vec![name.to_owned()],
                ..IssueOptions::default()
            }
        }
    }

    #[test]
    fn identities_outside_the_province_are_refused() {
        let (dir, mut ca) = new_ca();
        for identity in [
            Identity::county("520102").unwrap(),
            Identity::province("52").unwrap(),
            Identity::staff("520102", "wang").unwrap(),
            Identity::staff("52", "wang").unwrap(),
        ] {
            let err = ca.issue(&identity, &IssueOptions::default()).unwrap_err();
            match &err {
                CaError::OutsideProvince {
                    found, province, ..
                }
                | CaError::OtherProvince {
                    found, province, ..
                } => {
                    assert_eq!((found.as_str(), province.as_str()), ("52", "51"));
                }
                other => panic!("{identity}: {other}"),
            }
            assert!(err.to_string().contains(&identity.uri()), "{err}");
            assert!(!dir
                .path()
                .join(format!("{}.crt", identity.file_stem()))
                .exists());
        }
    }

    #[test]
    fn reissue_needs_force() {
        let (dir, mut ca) = new_ca();
        let county = Identity::county("510104").unwrap();
        let first = ca.issue(&county, &IssueOptions::default()).unwrap();
        let err = ca.issue(&county, &IssueOptions::default()).unwrap_err();
        assert!(matches!(err, CaError::AlreadyIssued { .. }), "{err}");
        assert!(err.to_string().contains(&first.serial), "{err}");

        let forced = IssueOptions {
            force: true,
            ..IssueOptions::default()
        };
        let second = ca.issue(&county, &forced).unwrap();
        assert_ne!(first.serial, second.serial);
        assert_eq!(ca.list().len(), 2);

        // Renewal: a new certificate for the same key, so old signatures stay valid.
        let key_before = std::fs::read(&second.key_path).unwrap();
        let spki = |path: &Path| {
            let der = der_of(path);
            let (_, x509) = X509Certificate::from_der(&der).unwrap();
            x509.public_key().raw.to_vec()
        };
        let spki_before = spki(&second.cert_path);
        let renewed = ca
            .issue(
                &county,
                &IssueOptions {
                    renew: true,
                    ..IssueOptions::default()
                },
            )
            .unwrap();
        assert_ne!(renewed.serial, second.serial);
        assert_eq!(std::fs::read(&renewed.key_path).unwrap(), key_before);
        assert_eq!(spki(&renewed.cert_path), spki_before);
        // Without the key there is nothing to renew.
        std::fs::remove_file(&renewed.key_path).unwrap();
        let err = ca
            .issue(
                &county,
                &IssueOptions {
                    renew: true,
                    ..IssueOptions::default()
                },
            )
            .unwrap_err();
        assert!(matches!(err, CaError::RenewKey { .. }), "{err}");
        assert_eq!(
            cert::serial_hex(&der_of(&second.cert_path)).unwrap(),
            renewed.serial
        );

        // A certificate file the registry does not know about is protected too.
        fs::write(dir.path().join("partner-weibo.crt"), "stray").unwrap();
        let err = ca
            .issue(
                &Identity::partner("weibo").unwrap(),
                &IssueOptions::default(),
            )
            .unwrap_err();
        assert!(
            err.to_string().contains("partner-weibo.crt exists"),
            "{err}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn keys_are_private_and_a_node_signs_feeds_with_the_key_its_certificate_certifies() {
        use ed25519_dalek::pkcs8::DecodePrivateKey;

        let (dir, mut ca) = new_ca();
        let issued = ca
            .issue(
                &Identity::county("510104").unwrap(),
                &IssueOptions::default(),
            )
            .unwrap();
        let feed_key_path = issued.feed_key_path.clone().unwrap();
        assert_eq!(mode(&issued.key_path), 0o600);
        assert_eq!(mode(&feed_key_path), 0o600);
        assert_eq!(mode(&issued.cert_path), 0o644 & !umask_bits(dir.path()));

        // The TLS key is P-256 and is the certificate's key.
        let tls = KeyPair::from_pem(&fs::read_to_string(&issued.key_path).unwrap()).unwrap();
        assert_eq!(tls.algorithm(), &rcgen::PKCS_ECDSA_P256_SHA256);
        let der = der_of(&issued.cert_path);
        let (_, x509) = X509Certificate::from_der(&der).unwrap();
        assert_eq!(
            tls.public_key_raw(),
            &*x509.public_key().subject_public_key.data
        );
        // The feed key is Ed25519 and is the one the certificate certifies.
        let pem = fs::read_to_string(&feed_key_path).unwrap();
        let key = ed25519_dalek::SigningKey::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(feed_key::of_certificate(&der).unwrap(), key.verifying_key());

        // Staff sign no feeds: a TLS key only.
        let staff = ca
            .issue(
                &Identity::staff("510104", "zhang").unwrap(),
                &IssueOptions::default(),
            )
            .unwrap();
        assert_eq!(staff.feed_key_path, None);
        assert!(!feed_key::is_certified(&der_of(&staff.cert_path)));

        /// The bits the umask removed from a fresh public file in `dir`.
        fn umask_bits(dir: &Path) -> u32 {
            let probe = dir.join("probe");
            fs::write(&probe, "").unwrap();
            0o666 & !mode(&probe)
        }
    }

    #[test]
    fn renewing_moves_an_ed25519_holder_over_and_keeps_the_feed_key() {
        let (_dir, mut ca) = new_ca();
        let county = Identity::county("510104").unwrap();
        let legacy = IssueOptions {
            legacy_ed25519: true,
            ..IssueOptions::default()
        };
        let old = ca.issue(&county, &legacy).unwrap();
        let old_der = der_of(&old.cert_path);
        let old_feed_key = feed_key::of_certificate(&old_der).unwrap();
        assert!(!feed_key::is_certified(&old_der));
        let renew = IssueOptions {
            renew: true,
            ..IssueOptions::default()
        };
        let moved = ca.issue(&county, &renew).unwrap();
        let der = der_of(&moved.cert_path);
        assert!(feed_key::is_certified(&der));
        assert_eq!(feed_key::of_certificate(&der).unwrap(), old_feed_key);
        let signer =
            crate::feed::FeedSigner::from_pem_file(&moved.feed_key_path.clone().unwrap()).unwrap();
        assert_eq!(signer.verifying_key(), old_feed_key);
        let tls = KeyPair::from_pem(&fs::read_to_string(&moved.key_path).unwrap()).unwrap();
        assert_eq!(tls.algorithm(), &rcgen::PKCS_ECDSA_P256_SHA256);

        // Renewing again keeps both keys as they are.
        let tls_pem = fs::read_to_string(&moved.key_path).unwrap();
        let again = ca.issue(&county, &renew).unwrap();
        assert_eq!(fs::read_to_string(&again.key_path).unwrap(), tls_pem);
        assert_eq!(
            feed_key::of_certificate(&der_of(&again.cert_path)).unwrap(),
            old_feed_key
        );
        // Without the feed key there is nothing to renew.
        fs::remove_file(again.feed_key_path.unwrap()).unwrap();
        let err = ca.issue(&county, &renew).unwrap_err();
        assert!(err.to_string().contains("feed.key"), "{err}");
    }

    #[test]
    fn leaves_and_crl_chain_to_the_unchanged_ca_certificate() {
        let (dir, mut ca) = new_ca();
        let ca_pem = fs::read(dir.path().join(CA_CERT_FILE)).unwrap();
        let issued = ca
            .issue(
                &Identity::county("510104").unwrap(),
                &IssueOptions::default(),
            )
            .unwrap();
        // Issue and revoke from a reopened CA, as the CLI does, one process per command.
        let mut ca = CertificateAuthority::open(dir.path()).unwrap();
        let staff = ca
            .issue(
                &Identity::staff("510104", "zhang").unwrap(),
                &IssueOptions::default(),
            )
            .unwrap();
        ca.revoke("staff-510104-zhang").unwrap();
        assert_eq!(fs::read(dir.path().join(CA_CERT_FILE)).unwrap(), ca_pem);

        let ca_der = der_of(&ca.ca_cert_path());
        let (_, ca_x509) = X509Certificate::from_der(&ca_der).unwrap();
        let ca_ski = key_identifier(ca_x509.extensions(), true);
        for path in [&issued.cert_path, &staff.cert_path] {
            let der = der_of(path);
            let (_, leaf) = X509Certificate::from_der(&der).unwrap();
            leaf.verify_signature(Some(ca_x509.public_key())).unwrap();
            assert_eq!(leaf.issuer(), ca_x509.subject());
            assert_eq!(key_identifier(leaf.extensions(), false), ca_ski);
        }
        let crl = crl_der(&ca);
        let (_, crl) = x509_parser::parse_x509_crl(&crl).unwrap();
        crl.verify_signature(ca_x509.public_key()).unwrap();
        assert_eq!(crl.issuer(), ca_x509.subject());
        assert_eq!(key_identifier(crl.extensions(), false), ca_ski);
    }

    #[test]
    fn revoke_lists_the_serial_in_a_new_crl() {
        let (dir, mut ca) = new_ca();
        let county = ca
            .issue(
                &Identity::county("510104").unwrap(),
                &IssueOptions::default(),
            )
            .unwrap();
        let staff = ca
            .issue(
                &Identity::staff("510104", "zhang").unwrap(),
                &IssueOptions::default(),
            )
            .unwrap();
        let revoked = ca.revoke("staff-510104-zhang").unwrap();
        assert_eq!(revoked.records.len(), 1);
        assert_eq!(revoked.records[0].serial, staff.serial);
        assert_eq!((revoked.crl.number, revoked.crl.revoked), (2, 1));

        let crl = crl_der(&ca);
        let (_, parsed): (_, CertificateRevocationList<'_>) =
            x509_parser::parse_x509_crl(&crl).unwrap();
        let serials: Vec<String> = parsed
            .iter_revoked_certificates()
            .map(|r| hex::encode(r.raw_serial()))
            .collect();
        assert_eq!(serials, [staff.serial.as_str()]);
        assert_eq!(parsed.crl_number().unwrap().to_string(), "2");
        let next = parsed.next_update().unwrap().to_datetime();
        let this = parsed.last_update().to_datetime();
        assert_eq!(next - this, CRL_VALIDITY);

        // list shows it, also after a reopen, and JSON carries the promised fields.
        let ca = CertificateAuthority::open(dir.path()).unwrap();
        let by_stem = |stem: &str| ca.list().iter().find(|r| r.stem == stem).unwrap().clone();
        assert!(by_stem("staff-510104-zhang").revoked);
        assert!(by_stem("staff-510104-zhang").revoked_at.is_some());
        assert!(!by_stem("county-510104").revoked);
        let json = serde_json::to_value(ca.list()).unwrap();
        let first = &json[0];
        assert_eq!(first["stem"], "county-510104");
        assert_eq!(first["identity"], "fenghuo://county/510104");
        assert_eq!(first["serial"], county.serial.as_str());
        assert_eq!(first["revoked"], false);
        assert!(first["revoked_at"].is_null());
        let not_after = first["not_after"].as_str().unwrap();
        assert_eq!(
            OffsetDateTime::parse(not_after, &time::format_description::well_known::Rfc3339)
                .unwrap(),
            county.not_after
        );
        assert!(json[1]["revoked_at"].is_string());
    }

    #[test]
    fn revoke_refuses_unknown_and_repeated_and_accepts_other_spellings() {
        let (_dir, mut ca) = new_ca();
        ca.issue(
            &Identity::county("510104").unwrap(),
            &IssueOptions::default(),
        )
        .unwrap();
        ca.issue(
            &Identity::partner("weibo").unwrap(),
            &IssueOptions::default(),
        )
        .unwrap();
        let err = ca.revoke("county-510105").unwrap_err();
        assert!(matches!(err, CaError::UnknownStem { .. }), "{err}");
        ca.revoke("fenghuo://county/510104").unwrap();
        let err = ca.revoke("county-510104").unwrap_err();
        assert!(matches!(err, CaError::AlreadyRevoked { .. }), "{err}");
        ca.revoke("pki/partner-weibo.crt").unwrap();
        assert_eq!(ca.crl_number(), 3);
    }

    #[test]
    fn revoke_covers_every_live_certificate_of_a_reissued_identity() {
        let (_dir, mut ca) = new_ca();
        let county = Identity::county("510104").unwrap();
        ca.issue(&county, &IssueOptions::default()).unwrap();
        let forced = IssueOptions {
            force: true,
            ..IssueOptions::default()
        };
        ca.issue(&county, &forced).unwrap();
        let revoked = ca.revoke("county-510104").unwrap();
        assert_eq!(revoked.records.len(), 2);
        assert_eq!(revoked.crl.revoked, 2);
    }

    #[test]
    fn refresh_crl_renumbers_and_keeps_revocations() {
        let (_dir, mut ca) = new_ca();
        ca.issue(
            &Identity::county("510104").unwrap(),
            &IssueOptions::default(),
        )
        .unwrap();
        ca.revoke("county-510104").unwrap();
        let info = ca.refresh_crl().unwrap();
        assert_eq!((info.number, info.revoked), (3, 1));
        let crl = crl_der(&ca);
        let (_, parsed) = x509_parser::parse_x509_crl(&crl).unwrap();
        assert_eq!(parsed.iter_revoked_certificates().count(), 1);
    }

    #[test]
    fn registry_of_another_format_is_refused() {
        let (dir, _ca) = new_ca();
        let path = dir.path().join(REGISTRY_FILE);
        let text = fs::read_to_string(&path).unwrap();
        fs::write(&path, text.replace("\"format\": 1", "\"format\": 2")).unwrap();
        let err = CertificateAuthority::open(dir.path()).unwrap_err();
        assert!(
            matches!(err, CaError::UnsupportedFormat { found: 2, .. }),
            "{err}"
        );
        fs::write(&path, "{").unwrap();
        let err = CertificateAuthority::open(dir.path()).unwrap_err();
        assert!(matches!(err, CaError::BadRegistry { .. }), "{err}");
    }

    #[test]
    fn a_foreign_ca_key_is_detected() {
        let (dir, _ca) = new_ca();
        let other = tempfile::tempdir().unwrap();
        CertificateAuthority::init(other.path(), "51", false).unwrap();
        fs::copy(other.path().join(CA_KEY_FILE), dir.path().join(CA_KEY_FILE)).unwrap();
        let err = CertificateAuthority::open(dir.path()).unwrap_err();
        assert!(matches!(err, CaError::KeyMismatch { .. }), "{err}");
    }

    /// rustls's own verifiers (webpki) accept the chain, honour the EKUs and the CRL.
    #[test]
    fn rustls_verifies_the_chain_and_the_crl() {
        let (_dir, mut ca) = new_ca();
        let opts = IssueOptions {
            dns: vec!["node1.example.org".into()],
            ..IssueOptions::default()
        };
        let county = ca
            .issue(&Identity::county("510104").unwrap(), &opts)
            .unwrap();
        let staff = ca
            .issue(
                &Identity::staff("510104", "zhang").unwrap(),
                &IssueOptions::default(),
            )
            .unwrap();
        let county_der = CertificateDer::from(der_of(&county.cert_path));
        let staff_der = CertificateDer::from(der_of(&staff.cert_path));

        let verifiers = |ca: &CertificateAuthority| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut roots = rustls::RootCertStore::empty();
            roots
                .add(CertificateDer::from(der_of(&ca.ca_cert_path())))
                .unwrap();
            let roots = Arc::new(roots);
            let crls = vec![CertificateRevocationListDer::from(crl_der(ca))];
            let client = rustls::server::WebPkiClientVerifier::builder_with_provider(
                roots.clone(),
                provider.clone(),
            )
            .with_crls(crls.clone())
            .build()
            .unwrap();
            let server =
                rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider)
                    .with_crls(crls)
                    .build()
                    .unwrap();
            (client, server)
        };
        let now = UnixTime::now();
        let (client, server) = verifiers(&ca);
        for name in ["localhost", "127.0.0.1", "node1.example.org"] {
            let name = ServerName::try_from(name).unwrap();
            server
                .verify_server_cert(&county_der, &[], &name, &[], now)
                .unwrap();
        }
        let elsewhere = ServerName::try_from("other.example.org").unwrap();
        assert!(server
            .verify_server_cert(&county_der, &[], &elsewhere, &[], now)
            .is_err());
        client.verify_client_cert(&county_der, &[], now).unwrap();
        client.verify_client_cert(&staff_der, &[], now).unwrap();
        let localhost = ServerName::try_from("localhost").unwrap();
        assert!(
            server
                .verify_server_cert(&staff_der, &[], &localhost, &[], now)
                .is_err(),
            "a staff certificate must not serve"
        );

        ca.revoke("staff-510104-zhang").unwrap();
        let (client, _) = verifiers(&ca);
        let err = client.verify_client_cert(&staff_der, &[], now).unwrap_err();
        assert_eq!(
            err,
            rustls::Error::InvalidCertificate(rustls::CertificateError::Revoked)
        );
        client.verify_client_cert(&county_der, &[], now).unwrap();
    }
}
