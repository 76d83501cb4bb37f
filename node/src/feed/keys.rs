//! The origin's feed-signing key: an Ed25519 key its certificate certifies (see
//! `pki::feed_key`), so any node that holds the certificate (from the province's directory)
//! can check its feeds.

use std::path::Path;

use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::{SigningKey, VerifyingKey};

/// Why a key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read.
    #[error("reading key {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The key is not an Ed25519 PKCS#8 key.
    #[error(
        "{path} is not an Ed25519 PKCS#8 PEM key (the feed key is the <stem>.feed.key `fenghuo ca issue` wrote; set tls.feed_key): {reason}"
    )]
    Format {
        /// The file.
        path: String,
        /// What the parser said.
        reason: String,
    },
    /// The certificate's public key is not Ed25519.
    #[error("certificate public key is not Ed25519: {0}")]
    PublicKey(String),
}

/// Signs this node's feed heads.
#[derive(Clone)]
pub struct FeedSigner {
    key: SigningKey,
}

impl std::fmt::Debug for FeedSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedSigner")
            .field("public", &hex::encode(self.key.verifying_key().as_bytes()))
            .finish()
    }
}

impl FeedSigner {
    /// Loads the node's feed-signing key (PKCS#8 PEM, Ed25519).
    pub fn from_pem_file(path: &Path) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let key = SigningKey::from_pkcs8_pem(&text).map_err(|e| KeyError::Format {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(Self { key })
    }

    /// A signer from a raw key (tests and benchmarks).
    pub fn from_key(key: SigningKey) -> Self {
        Self { key }
    }

    /// The key that signs.
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// The matching public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }
}
