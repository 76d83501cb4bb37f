//! The dashboard's web certificate. Browsers accept neither Ed25519 signatures in a chain nor
//! an Ed25519 handshake, and every key of the provincial CA is Ed25519 (nodes sign their
//! feeds with their certificate keys). So the CA folder also holds a web CA with an ECDSA
//! P-256 key (`ca-web.crt`, `ca-web.key`), made the first time it is needed, valid as long as
//! the provincial CA, which issues only the gateway's dashboard certificate
//! (`province-<code>-web.crt/.key`, P-256, server authentication). Staff browsers trust
//! `ca-web.crt`; nothing else does.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod,
    KeyPair, KeyUsagePurpose, SerialNumber,
};
use time::{Duration, OffsetDateTime};

use super::ca::{
    distinguished_name, dns_names, exists, now, random_serial, subject_alt_names, write_atomic,
    CaError, CertificateAuthority, CLOCK_SKEW, KEY_MODE, PUBLIC_MODE,
};
use crate::identity::Identity;

/// The web CA's certificate: what staff browsers are told to trust.
pub const WEB_CA_CERT_FILE: &str = "ca-web.crt";
/// The web CA's key (mode 0600; offline, like `ca.key`).
pub const WEB_CA_KEY_FILE: &str = "ca-web.key";

/// The dashboard certificate just issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebIssued {
    /// `<dir>/province-<code>-web.crt`.
    pub cert_path: PathBuf,
    /// `<dir>/province-<code>-web.key` (PKCS#8 PEM, mode 0600).
    pub key_path: PathBuf,
    /// `<dir>/ca-web.crt`, for browsers.
    pub ca_path: PathBuf,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

/// The file stem of the dashboard certificate of `province`.
pub fn web_stem(province: &str) -> String {
    format!("province-{province}-web")
}

/// The file stem of the pages' certificate of the node `identity`: `province-51-web`,
/// `county-510104-web`.
pub fn web_stem_of(identity: &Identity) -> String {
    format!("{}-web", identity.file_stem())
}

fn p256() -> Result<KeyPair, CaError> {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|source| CaError::Sign {
        action: "generate an ECDSA P-256 key",
        source,
    })
}

fn read(path: &Path, action: &'static str) -> Result<String, CaError> {
    std::fs::read_to_string(path).map_err(|source| CaError::Io {
        action,
        path: path.to_owned(),
        source,
    })
}

/// The web CA of `ca`, made now if its folder has none.
fn web_ca(ca: &CertificateAuthority) -> Result<Issuer<'static, KeyPair>, CaError> {
    let cert_path = ca.dir().join(WEB_CA_CERT_FILE);
    let key_path = ca.dir().join(WEB_CA_KEY_FILE);
    if exists(&cert_path)? && exists(&key_path)? {
        let key = KeyPair::from_pem(&read(&key_path, "read the web CA key")?).map_err(|e| {
            CaError::BadKey {
                path: key_path.clone(),
                reason: e.to_string(),
            }
        })?;
        let pem = read(&cert_path, "read the web CA certificate")?;
        return Issuer::from_ca_cert_pem(&pem, key).map_err(|e| CaError::BadCaCert {
            path: cert_path,
            reason: e.to_string(),
        });
    }
    let key = p256()?;
    let mut params = CertificateParams::default();
    params.distinguished_name =
        distinguished_name(&format!("Fenghuo provincial web CA {}", ca.province()));
    // It issues the dashboard's certificate and nothing below that.
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.key_identifier_method = KeyIdMethod::Sha256;
    params.serial_number = Some(SerialNumber::from_slice(&random_serial()?));
    params.not_before = now() - CLOCK_SKEW;
    params.not_after = ca.not_after();
    let cert = params.self_signed(&key).map_err(|source| CaError::Sign {
        action: "self-sign the web CA certificate",
        source,
    })?;
    write_atomic(&key_path, key.serialize_pem().as_bytes(), KEY_MODE)?;
    write_atomic(&cert_path, cert.pem().as_bytes(), PUBLIC_MODE)?;
    Issuer::from_ca_cert_der(cert.der(), key).map_err(|e| CaError::BadCaCert {
        path: cert_path,
        reason: e.to_string(),
    })
}

/// Issues the gateway's dashboard certificate for the names and addresses browsers reach it
/// by (always also `localhost` and `127.0.0.1`), valid `days`. Refuses to replace an existing
/// one unless `force`.
pub fn issue(
    ca: &CertificateAuthority,
    dns: &[String],
    ips: &[IpAddr],
    days: u32,
    force: bool,
) -> Result<WebIssued, CaError> {
    let identity = Identity::Province(ca.province().clone());
    issue_for(ca, &identity, dns, ips, days, force)
}

/// Issues the pages' certificate of the node `identity` (the gateway, or a county of the CA's
/// province: its officers' browsers trust the same web CA), as [`issue`] does.
pub fn issue_for(
    ca: &CertificateAuthority,
    identity: &Identity,
    dns: &[String],
    ips: &[IpAddr],
    days: u32,
    force: bool,
) -> Result<WebIssued, CaError> {
    if days == 0 {
        return Err(CaError::BadDays { days });
    }
    ca.check_in_province(identity)?;
    let stem = web_stem_of(identity);
    let cert_path = ca.dir().join(format!("{stem}.crt"));
    let key_path = ca.dir().join(format!("{stem}.key"));
    if !force && exists(&cert_path)? {
        return Err(CaError::Io {
            action: "replace (pass --force to re-issue)",
            path: cert_path,
            source: std::io::Error::from(std::io::ErrorKind::AlreadyExists),
        });
    }
    let issuer = web_ca(ca)?;
    let not_after = now()
        .checked_add(Duration::days(i64::from(days)))
        .filter(|t| *t <= ca.not_after())
        .ok_or_else(|| CaError::OutlivesCa {
            days,
            ca_not_after: super::ca::rfc3339_text(ca.not_after()),
        })?;
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(&format!("{} dashboard", identity.path()));
    params.subject_alt_names = subject_alt_names(identity, &dns_names(dns)?, ips)?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(SerialNumber::from_slice(&random_serial()?));
    params.not_before = now() - CLOCK_SKEW;
    params.not_after = not_after;
    let key = p256()?;
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(|source| CaError::Sign {
            action: "sign the dashboard certificate",
            source,
        })?;
    write_atomic(&key_path, key.serialize_pem().as_bytes(), KEY_MODE)?;
    write_atomic(&cert_path, cert.pem().as_bytes(), PUBLIC_MODE)?;
    Ok(WebIssued {
        cert_path,
        key_path,
        ca_path: ca.dir().join(WEB_CA_CERT_FILE),
        not_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::client::danger::ServerCertVerifier as _;

    #[test]
    fn the_dashboard_certificate_is_p256_and_chains_to_the_web_ca() {
        let dir = tempfile::tempdir().unwrap();
        let ca = CertificateAuthority::init(dir.path(), "51", false).unwrap();
        let issued = issue(&ca, &["gw.example".into()], &[], 30, false).unwrap();
        let leaf_der = crate::pki::cert::read_cert_pem(&issued.cert_path)
            .unwrap()
            .remove(0);
        let root_der = crate::pki::cert::read_cert_pem(&issued.ca_path)
            .unwrap()
            .remove(0);
        let (_, leaf) = x509_parser::parse_x509_certificate(&leaf_der).unwrap();
        // id-ecPublicKey, signed with ecdsa-with-SHA256: what browsers accept.
        assert_eq!(
            leaf.public_key().algorithm.algorithm.to_id_string(),
            "1.2.840.10045.2.1"
        );
        assert_eq!(
            leaf.signature_algorithm.algorithm.to_id_string(),
            "1.2.840.10045.4.3.2"
        );
        // A TLS client trusting only the web CA accepts it for the names asked for.
        let mut roots = rustls::RootCertStore::empty();
        roots.add(root_der.into()).unwrap();
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            std::sync::Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap();
        for name in ["gw.example", "localhost", "127.0.0.1"] {
            verifier
                .verify_server_cert(
                    &leaf_der.clone().into(),
                    &[],
                    &rustls_pki_types::ServerName::try_from(name).unwrap(),
                    &[],
                    rustls_pki_types::UnixTime::now(),
                )
                .unwrap();
        }
        assert!(
            matches!(issue(&ca, &[], &[], 30, false), Err(CaError::Io { .. })),
            "no silent replacement"
        );
        // Re-issuing keeps the web CA.
        let before = std::fs::read(&issued.ca_path).unwrap();
        issue(&ca, &[], &[], 30, true).unwrap();
        assert_eq!(std::fs::read(&issued.ca_path).unwrap(), before);
    }

    #[test]
    fn a_county_gets_its_own_pages_certificate_from_the_same_web_ca() {
        let dir = tempfile::tempdir().unwrap();
        let ca = CertificateAuthority::init(dir.path(), "51", false).unwrap();
        let county = Identity::county("510104").unwrap();
        let issued = issue_for(&ca, &county, &[], &[], 30, false).unwrap();
        assert_eq!(
            issued.cert_path,
            dir.path().join("county-510104-web.crt"),
            "the stem `fenghuo init node --web` names"
        );
        // The gateway's is another file, from the same web CA.
        let gateway = issue(&ca, &[], &[], 30, false).unwrap();
        assert_ne!(gateway.cert_path, issued.cert_path);
        assert_eq!(gateway.ca_path, issued.ca_path);
        // A county of another province is not this CA's to certify.
        let other = Identity::county("440104").unwrap();
        assert!(matches!(
            issue_for(&ca, &other, &[], &[], 30, false),
            Err(CaError::OutsideProvince { .. })
        ));
    }
}
