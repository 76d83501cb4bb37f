//! Certificate revocation lists as nodes handle them: their number and validity, whether the
//! provincial CA signed them, and which of several is the newest. A node may hold two — its
//! own `crl.pem` and the newest one the province published in its feed — and uses the one
//! with the higher CRL number, never going back to an older one.

use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

/// Why a CRL is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrlError {
    /// Not a DER CRL.
    #[error("not a valid CRL: {0}")]
    Parse(String),
    /// It carries no CRL number, so it cannot be ordered.
    #[error("the CRL has no CRL number")]
    NoNumber,
    /// The provincial CA did not sign it.
    #[error("the CRL is not signed by the provincial CA: {0}")]
    Signature(String),
}

/// What a CRL says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrlFacts {
    /// Its CRL number: a newer CRL has a higher one.
    pub number: u64,
    /// When it was signed, Unix ms.
    pub this_update_ms: i64,
    /// When the next one is due, Unix ms; after it this CRL is stale.
    pub next_update_ms: Option<i64>,
    /// How many certificates it revokes.
    pub revoked: usize,
}

fn parse(der: &[u8]) -> Result<CertificateRevocationList<'_>, CrlError> {
    CertificateRevocationList::from_der(der)
        .map(|(_, crl)| crl)
        .map_err(|e| CrlError::Parse(e.to_string()))
}

fn ms(t: x509_parser::time::ASN1Time) -> i64 {
    t.timestamp().saturating_mul(1000)
}

/// Reads a CRL's number and dates.
pub fn facts(der: &[u8]) -> Result<CrlFacts, CrlError> {
    let crl = parse(der)?;
    let digits = crl.crl_number().ok_or(CrlError::NoNumber)?.to_u64_digits();
    // Little-endian digits; our CA numbers its CRLs from 1, so one digit is all there is.
    let number = match digits.as_slice() {
        [] => 0,
        [d] => *d,
        _ => u64::MAX,
    };
    Ok(CrlFacts {
        number,
        this_update_ms: ms(crl.last_update()),
        next_update_ms: crl.next_update().map(ms),
        revoked: crl.iter_revoked_certificates().count(),
    })
}

/// Checks that the CA certificate `ca_der` signed the CRL `der`; returns its facts.
pub fn verify(der: &[u8], ca_der: &[u8]) -> Result<CrlFacts, CrlError> {
    let crl = parse(der)?;
    let (_, ca) = x509_parser::certificate::X509Certificate::from_der(ca_der)
        .map_err(|e| CrlError::Signature(format!("the CA certificate is unreadable: {e}")))?;
    crl.verify_signature(ca.public_key())
        .map_err(|e| CrlError::Signature(e.to_string()))?;
    facts(der)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;
    use crate::pki::ca::{CertificateAuthority, IssueOptions};

    fn crl_der(ca: &CertificateAuthority) -> Vec<u8> {
        crate::pki::cert::read_crl_pem(&ca.crl_path())
            .unwrap()
            .remove(0)
    }

    #[test]
    fn a_crl_is_numbered_dated_and_checked_against_its_ca() {
        let dir = tempfile::tempdir().unwrap();
        let mut ca = CertificateAuthority::init(&dir.path().join("a"), "51", false).unwrap();
        let first = crl_der(&ca);
        let f1 = verify(
            &first,
            &crate::pki::cert::read_cert_pem(&ca.ca_cert_path()).unwrap()[0],
        )
        .unwrap();
        let id: Identity = "fenghuo://county/510104".parse().unwrap();
        ca.issue(&id, &IssueOptions::default()).unwrap();
        ca.revoke("county-510104").unwrap();
        let second = crl_der(&ca);
        let f2 = facts(&second).unwrap();
        assert!(f2.number > f1.number, "{f1:?} then {f2:?}");
        assert_eq!(f2.revoked, 1);
        assert!(f2.next_update_ms.unwrap() > f2.this_update_ms);
        // Another CA's CRL does not pass as this CA's.
        let other = CertificateAuthority::init(&dir.path().join("b"), "51", false).unwrap();
        let ca_der = crate::pki::cert::read_cert_pem(&ca.ca_cert_path())
            .unwrap()
            .remove(0);
        assert!(matches!(
            verify(&crl_der(&other), &ca_der),
            Err(CrlError::Signature(_))
        ));
        assert!(matches!(facts(b"junk"), Err(CrlError::Parse(_))));
    }
}
