//! The feed-signing key a node's certificate carries.
//!
//! A node's TLS key is ECDSA P-256, the one key type every mainstream TLS stack offers
//! (BoringSSL-based gRPC stacks — Python, C++, Ruby, C#, PHP, Node — do not offer Ed25519 in a
//! handshake). Its feeds are signed with a separate Ed25519 key (`<stem>.feed.key`), because
//! Ed25519 verifies faster and every stored feed is already signed with it. The CA certifies
//! that key inside the node's certificate, as a non-critical extension holding the key's
//! SubjectPublicKeyInfo, so every place that already learns a node's certificate (the
//! handshake, the certificate directory, a re-key) learns its feed key with it, and TLS
//! stacks that do not know the extension ignore it.
//!
//! A certificate without the extension is one from before this change: its own Ed25519 key
//! is the feed key (`fenghuo ca issue … --renew` moves such a holder over, keeping the key).

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePublicKey, EncodePrivateKey, EncodePublicKey, KeypairBytes};
use ed25519_dalek::{SigningKey, VerifyingKey};
use x509_parser::prelude::FromDer;

use crate::feed::keys::KeyError;

/// The extension's OID, 1.3.6.1.4.1.32473.2025.1: under the example enterprise number of
/// RFC 5612. It only means something inside a province's own PKI, where the CA that writes it
/// and the nodes that read it are ours, and it is non-critical, so other stacks skip it.
pub const OID: [u64; 9] = [1, 3, 6, 1, 4, 1, 32473, 2025, 1];

/// The dotted form of [`OID`], as x509-parser prints it.
const OID_TEXT: &str = "1.3.6.1.4.1.32473.2025.1";

/// A fresh feed-signing key, from the system's random number generator.
pub fn generate() -> Result<SigningKey, KeyError> {
    let mut seed = [0u8; 32];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut seed)
        .map_err(|_| KeyError::PublicKey("the system random number generator failed".into()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The key as PKCS#8 v1 PEM (no public key inside), the form OpenSSL 3 reads; v2, which
/// carries the public key too, is refused by `openssl pkey`.
pub fn to_pem(key: &SigningKey) -> Result<String, KeyError> {
    let bytes = KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    };
    bytes
        .to_pkcs8_pem(LineEnding::LF)
        .map(|pem| pem.to_string())
        .map_err(|e| KeyError::PublicKey(e.to_string()))
}

/// The extension's content for `key`: its SubjectPublicKeyInfo, DER.
pub fn extension_content(key: &VerifyingKey) -> Result<Vec<u8>, KeyError> {
    key.to_public_key_der()
        .map(|d| d.as_bytes().to_vec())
        .map_err(|e| KeyError::PublicKey(e.to_string()))
}

/// The feed key a certificate (DER) certifies: the extension's key, or for a certificate
/// issued before the extension, the certificate's own Ed25519 key.
pub fn of_certificate(der: &[u8]) -> Result<VerifyingKey, KeyError> {
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der)
        .map_err(|e| KeyError::PublicKey(e.to_string()))?;
    let ext = cert
        .tbs_certificate
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == OID_TEXT);
    let spki = match ext {
        Some(ext) => ext.value,
        None => cert.tbs_certificate.subject_pki.raw,
    };
    VerifyingKey::from_public_key_der(spki).map_err(|e| KeyError::PublicKey(e.to_string()))
}

/// Whether a certificate (DER) carries the feed-key extension.
pub fn is_certified(der: &[u8]) -> bool {
    x509_parser::certificate::X509Certificate::from_der(der).is_ok_and(|(_, cert)| {
        cert.tbs_certificate
            .extensions()
            .iter()
            .any(|e| e.oid.to_id_string() == OID_TEXT)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use ed25519_dalek::pkcs8::DecodePrivateKey;

    use super::*;

    #[test]
    fn the_pem_reads_back_as_the_same_key() {
        let key = generate().unwrap();
        let pem = to_pem(&key).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let back = SigningKey::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(back.to_bytes(), key.to_bytes());
    }

    #[test]
    fn the_extension_carries_the_key_and_a_legacy_certificate_its_own() {
        let feed = generate().unwrap();
        let tls = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.custom_extensions = vec![rcgen::CustomExtension::from_oid_content(
            &OID,
            extension_content(&feed.verifying_key()).unwrap(),
        )];
        let der = params.self_signed(&tls).unwrap().der().to_vec();
        assert!(is_certified(&der));
        assert_eq!(of_certificate(&der).unwrap(), feed.verifying_key());

        let legacy = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        let der = params.self_signed(&legacy).unwrap().der().to_vec();
        assert!(!is_certified(&der));
        assert_eq!(
            of_certificate(&der).unwrap().as_bytes().as_slice(),
            legacy.public_key_raw()
        );

        // A P-256 certificate without the extension certifies no feed key.
        let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        let der = params.self_signed(&tls).unwrap().der().to_vec();
        assert!(of_certificate(&der).is_err());
    }
}
