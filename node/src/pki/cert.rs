//! Reading certificates: the holder's identity (its `fenghuo://` URI SAN), serial and
//! expiry, and PEM files (certificates, CRLs, PKCS#8 keys) read into DER.
//!
//! Everything here is read-only and works on DER, so the TLS layer can ask "who is this
//! peer?" of the certificate rustls hands it, and the CA can read back what it wrote.

use std::path::{Path, PathBuf};

use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer;

use crate::identity::{Identity, IdentityError, SCHEME};

/// PEM label of an X.509 certificate.
const CERTIFICATE_LABEL: &str = "CERTIFICATE";
/// PEM label of an X.509 certificate revocation list.
const CRL_LABEL: &str = "X509 CRL";
/// PEM label of a PKCS#8 private key (the only key form Fenghuo writes).
const PKCS8_LABEL: &str = "PRIVATE KEY";

/// Why a certificate, CRL or key could not be read or did not say who it belongs to.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// The file could not be read at all.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not well-formed PEM.
    #[error("{} is not a valid PEM file: {reason}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What the PEM parser said.
        reason: String,
    },
    /// The file is PEM but holds no block of the expected kind.
    #[error("{} contains no \"{label}\" PEM block", path.display())]
    Missing {
        /// The file.
        path: PathBuf,
        /// The PEM label looked for, e.g. `CERTIFICATE`.
        label: &'static str,
    },
    /// A key file holds something other than exactly one PKCS#8 key.
    #[error("{} must contain exactly one \"PRIVATE KEY\" (PKCS#8) PEM block, found {found}", path.display())]
    KeyCount {
        /// The file.
        path: PathBuf,
        /// How many PKCS#8 blocks it holds.
        found: usize,
    },
    /// The DER is not an X.509 certificate.
    #[error("not a valid X.509 certificate: {0}")]
    Parse(String),
    /// The subject alternative name extension is malformed or duplicated.
    #[error(
        "certificate {subject:?} has an unreadable subject alternative name extension: {reason}"
    )]
    BadSan {
        /// The certificate's subject, to tell which one.
        subject: String,
        /// What the parser said.
        reason: String,
    },
    /// No `fenghuo://` URI SAN: not a certificate issued by `fenghuo ca`.
    #[error("certificate {subject:?} carries no {SCHEME} URI SAN, so it names no Fenghuo identity (was it issued by `fenghuo ca issue`?)")]
    NoIdentity {
        /// The certificate's subject, to tell which one.
        subject: String,
    },
    /// More than one `fenghuo://` URI SAN: ambiguous, so refused rather than guessed.
    #[error("certificate {subject:?} carries several {SCHEME} URI SANs ({}); exactly one is required", uris.join(", "))]
    SeveralIdentities {
        /// The certificate's subject, to tell which one.
        subject: String,
        /// All the identity URIs found.
        uris: Vec<String>,
    },
    /// The `fenghuo://` URI SAN is not a valid identity.
    #[error("certificate {subject:?} carries an invalid identity {uri:?}: {source}")]
    BadIdentity {
        /// The certificate's subject, to tell which one.
        subject: String,
        /// The URI as found.
        uri: String,
        /// Why it was refused.
        #[source]
        source: IdentityError,
    },
}

/// Parses one DER certificate, refusing trailing garbage (a certificate is the whole input).
fn parse(cert_der: &[u8]) -> Result<X509Certificate<'_>, CertError> {
    let (rest, cert) =
        X509Certificate::from_der(cert_der).map_err(|e| CertError::Parse(e.to_string()))?;
    if !rest.is_empty() {
        return Err(CertError::Parse(format!(
            "{} bytes of trailing data after the certificate",
            rest.len()
        )));
    }
    Ok(cert)
}

/// The holder's identity: the certificate's single `fenghuo://` URI SAN.
pub fn identity_of(cert_der: &[u8]) -> Result<Identity, CertError> {
    let cert = parse(cert_der)?;
    identity_of_parsed(&cert)
}

/// The unit's name for people the CA wrote in the subject's organization (O), e.g. `锦江区`
/// (`fenghuo ca issue county 510104 --name 锦江区`); `None` when it wrote none or the
/// certificate does not parse. Not checked here: callers check it with
/// [`crate::places::check_unit_name`] before they show or keep it.
pub fn unit_name_of(cert_der: &[u8]) -> Option<String> {
    let cert = parse(cert_der).ok()?;
    unit_name_of_parsed(&cert)
}

/// [`unit_name_of`] for a certificate already parsed by the caller.
pub fn unit_name_of_parsed(cert: &X509Certificate<'_>) -> Option<String> {
    cert.subject()
        .iter_organization()
        .next()
        .and_then(|a| a.as_str().ok())
        .map(str::to_owned)
}

/// [`identity_of`] for a certificate already parsed by the caller.
pub fn identity_of_parsed(cert: &X509Certificate<'_>) -> Result<Identity, CertError> {
    let subject = cert.subject().to_string();
    let san = cert
        .subject_alternative_name()
        .map_err(|e| CertError::BadSan {
            subject: subject.clone(),
            reason: e.to_string(),
        })?;
    // Other URI SANs (there are none today) are tolerated; only our scheme names the holder.
    let uris: Vec<&str> = san
        .iter()
        .flat_map(|ext| ext.value.general_names.iter())
        .filter_map(|name| match name {
            GeneralName::URI(uri) if uri.starts_with(SCHEME) => Some(*uri),
            _ => None,
        })
        .collect();
    match uris.as_slice() {
        [] => Err(CertError::NoIdentity { subject }),
        [uri] => uri.parse().map_err(|source| CertError::BadIdentity {
            subject,
            uri: (*uri).to_owned(),
            source,
        }),
        _ => Err(CertError::SeveralIdentities {
            subject,
            uris: uris.iter().map(|u| (*u).to_owned()).collect(),
        }),
    }
}

/// The end of the certificate's validity period.
pub fn not_after(cert_der: &[u8]) -> Result<OffsetDateTime, CertError> {
    Ok(parse(cert_der)?.validity().not_after.to_datetime())
}

/// The certificate's serial number as lowercase hex of its DER integer bytes, the form the
/// CA's registry and `fenghuo ca list` use.
pub fn serial_hex(cert_der: &[u8]) -> Result<String, CertError> {
    Ok(hex::encode(parse(cert_der)?.raw_serial()))
}

/// Reads a PEM file and returns the DER of every block with the given label, in order.
fn read_pem_blocks(path: &Path, label: &'static str) -> Result<Vec<Vec<u8>>, CertError> {
    let bytes = std::fs::read(path).map_err(|source| CertError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut blocks = Vec::new();
    for pem in Pem::iter_from_buffer(&bytes) {
        let pem: Pem = pem.map_err(|e| CertError::Pem {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        if pem.label == label {
            blocks.push(pem.contents);
        }
    }
    Ok(blocks)
}

/// Reads every certificate of a PEM file (a chain or a bundle) as DER; at least one is required.
pub fn read_cert_pem(path: &Path) -> Result<Vec<Vec<u8>>, CertError> {
    let certs = read_pem_blocks(path, CERTIFICATE_LABEL)?;
    if certs.is_empty() {
        return Err(CertError::Missing {
            path: path.to_owned(),
            label: CERTIFICATE_LABEL,
        });
    }
    for der in &certs {
        parse(der).map_err(|e| CertError::Pem {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    }
    Ok(certs)
}

/// Reads every CRL of a PEM file as DER; at least one is required.
pub fn read_crl_pem(path: &Path) -> Result<Vec<Vec<u8>>, CertError> {
    let crls = read_pem_blocks(path, CRL_LABEL)?;
    if crls.is_empty() {
        return Err(CertError::Missing {
            path: path.to_owned(),
            label: CRL_LABEL,
        });
    }
    Ok(crls)
}

/// Reads the single PKCS#8 private key of a PEM file as DER.
pub fn read_key_pem(path: &Path) -> Result<Vec<u8>, CertError> {
    let keys = read_pem_blocks(path, PKCS8_LABEL)?;
    let found = keys.len();
    match <[Vec<u8>; 1]>::try_from(keys) {
        Ok([key]) => Ok(key),
        Err(_) => Err(CertError::KeyCount {
            path: path.to_owned(),
            found,
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use std::fs;

    use rcgen::string::Ia5String;
    use rcgen::{CertificateParams, KeyPair, SanType};

    use super::*;

    /// A self-signed certificate with the given URI SANs (and a DNS name, to be ignored).
    fn cert_with_uris(uris: &[&str]) -> Vec<u8> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        for uri in uris {
            params
                .subject_alt_names
                .push(SanType::URI(Ia5String::try_from(*uri).unwrap()));
        }
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn identity_comes_from_the_single_fenghuo_uri() {
        let der = cert_with_uris(&["https://example.org/x", "fenghuo://staff/510104/zhang"]);
        assert_eq!(
            identity_of(&der).unwrap(),
            Identity::staff("510104", "zhang").unwrap()
        );
        assert!(not_after(&der).unwrap() > OffsetDateTime::now_utc());
        assert!(!serial_hex(&der).unwrap().is_empty());
    }

    #[test]
    fn missing_several_or_invalid_identities_are_refused() {
        let err = identity_of(&cert_with_uris(&[])).unwrap_err();
        assert!(matches!(err, CertError::NoIdentity { .. }), "{err}");
        let err = identity_of(&cert_with_uris(&[
            "fenghuo://county/510104",
            "fenghuo://county/510105",
        ]))
        .unwrap_err();
        assert!(matches!(err, CertError::SeveralIdentities { .. }), "{err}");
        assert!(err.to_string().contains("fenghuo://county/510105"), "{err}");
        let err = identity_of(&cert_with_uris(&["fenghuo://county/5101"])).unwrap_err();
        assert!(
            matches!(
                err,
                CertError::BadIdentity {
                    source: IdentityError::BadCounty(_),
                    ..
                }
            ),
            "{err}"
        );
        let err = identity_of(b"not a certificate").unwrap_err();
        assert!(matches!(err, CertError::Parse(_)), "{err}");
        let mut der = cert_with_uris(&["fenghuo://county/510104"]);
        der.push(0);
        assert!(matches!(identity_of(&der), Err(CertError::Parse(_))));
    }

    #[test]
    fn pem_files_are_read_and_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let der = cert_with_uris(&["fenghuo://county/510104"]);
        let pem = x509_pem(CERTIFICATE_LABEL, &der);
        let path = dir.path().join("bundle.crt");
        fs::write(&path, format!("{pem}{pem}")).unwrap();
        assert_eq!(
            read_cert_pem(&path).unwrap(),
            vec![der.clone(), der.clone()]
        );

        let missing = dir.path().join("missing.crt");
        let err = read_cert_pem(&missing).unwrap_err();
        assert!(matches!(err, CertError::Read { .. }), "{err}");
        assert!(err.to_string().contains("missing.crt"), "{err}");

        let key = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let key_path = dir.path().join("node.key");
        fs::write(&key_path, key.serialize_pem()).unwrap();
        assert_eq!(read_key_pem(&key_path).unwrap(), key.serialize_der());
        let err = read_cert_pem(&key_path).unwrap_err();
        assert!(matches!(err, CertError::Missing { .. }), "{err}");
        assert!(err.to_string().contains("node.key"), "{err}");
        let err = read_key_pem(&path).unwrap_err();
        assert!(matches!(err, CertError::KeyCount { found: 0, .. }), "{err}");
        fs::write(
            &key_path,
            format!("{}{}", key.serialize_pem(), key.serialize_pem()),
        )
        .unwrap();
        let err = read_key_pem(&key_path).unwrap_err();
        assert!(matches!(err, CertError::KeyCount { found: 2, .. }), "{err}");

        let garbage = dir.path().join("garbage.crt");
        fs::write(&garbage, x509_pem(CERTIFICATE_LABEL, b"junk")).unwrap();
        let err = read_cert_pem(&garbage).unwrap_err();
        assert!(err.to_string().contains("garbage.crt"), "{err}");
    }

    /// PEM-encodes `der` under `label`, 64 columns as OpenSSL writes it.
    fn x509_pem(label: &str, der: &[u8]) -> String {
        let body = base64_encode(der);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    /// Standard base64 (no base64 crate among our dependencies).
    fn base64_encode(data: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in data.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}
