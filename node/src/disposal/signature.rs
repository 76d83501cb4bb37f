//! Webhook signatures, after the Standard Webhooks specification
//! (<https://www.standardwebhooks.com>): HMAC-SHA256 with the partner's secret over
//! `<webhook-id>.<webhook-timestamp>.<body>`, sent as `webhook-signature: v1,<base64>` (several
//! space-separated while a rotated secret's overlap lasts). A receiver refuses a timestamp more
//! than five minutes from its clock, so a captured message cannot be replayed later. The same
//! scheme signs a partner's callbacks to the gateway, so both sides verify with the maintained
//! `standardwebhooks` libraries in one call. Secrets are written `whsec_<base64 of the key>`.
//!
//! Signing and checking is the spec authors' Rust library; what is ours is the secret's two
//! written forms and checking against several secrets at once.

use base64::Engine as _;

/// The header naming one message, the same on every retry of it (take each id once).
pub const ID_HEADER: &str = standardwebhooks::HEADER_WEBHOOK_ID;
/// The header with the signing time, Unix seconds.
pub const TIMESTAMP_HEADER: &str = standardwebhooks::HEADER_WEBHOOK_TIMESTAMP;
/// The header with the signatures.
pub const SIGNATURE_HEADER: &str = standardwebhooks::HEADER_WEBHOOK_SIGNATURE;
/// How far a timestamp may be from the receiver's clock (fixed by the specification).
pub const TOLERANCE_S: i64 = 300;
/// The written form's prefix.
pub const SECRET_PREFIX: &str = "whsec_";

/// Why a signed message was refused, or could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A header is missing or malformed, or the timestamp is outside the tolerance.
    #[error("{0}")]
    Refused(String),
    /// No secret's signature matches.
    #[error("the signature does not match the body, id and timestamp")]
    Mismatch,
    /// The body is not UTF-8 (Standard Webhooks signs text).
    #[error("the body is not UTF-8 text")]
    Body,
}

/// A webhook secret's key bytes from what a secret file holds: `whsec_<base64>` (the form
/// the Standard Webhooks libraries take), or, from before, the raw bytes themselves.
pub fn parse_secret(file: &[u8]) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(file).map(str::trim);
    match text.ok().and_then(|t| t.strip_prefix(SECRET_PREFIX)) {
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| format!("{SECRET_PREFIX}… is not base64: {e}")),
        None => Ok(file.to_vec()),
    }
}

/// The written form of `key`: what the partner's library is given.
pub fn format_secret(key: &[u8]) -> String {
    format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

/// The `webhook-signature` value for a message signed with each of `keys` (the current
/// secret first; a previous one while its overlap lasts).
pub fn sign(
    keys: &[&[u8]],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, SignatureError> {
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let wh = standardwebhooks::Webhook::from_bytes(key.to_vec())
            .map_err(|e| SignatureError::Refused(e.to_string()))?;
        out.push(
            wh.sign(id, timestamp, body)
                .map_err(|_| SignatureError::Body)?,
        );
    }
    Ok(out.join(" "))
}

/// Checks a received message's headers against each of `keys`: accepted when one matches
/// (constant-time comparison and the ±5 min tolerance are the library's).
pub fn verify(
    keys: &[&[u8]],
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<(), SignatureError> {
    use standardwebhooks::WebhookError as E;
    let mut last = SignatureError::Mismatch;
    for key in keys {
        let wh = standardwebhooks::Webhook::from_bytes(key.to_vec())
            .map_err(|e| SignatureError::Refused(e.to_string()))?;
        match wh.verify(body, headers) {
            Ok(()) => return Ok(()),
            Err(E::InvalidSignature) => last = SignatureError::Mismatch,
            Err(E::InvalidPayload) => return Err(SignatureError::Body),
            Err(E::TimestampTooOldError | E::FutureTimestampError) => {
                return Err(SignatureError::Refused(format!(
                    "{TIMESTAMP_HEADER} is more than {TOLERANCE_S}s from the gateway's clock (a replay, or a wrong clock)"
                )))
            }
            Err(e) => return Err(SignatureError::Refused(e.to_string())),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(id: &str, ts: i64, sig: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(ID_HEADER, id.parse().unwrap());
        h.insert(TIMESTAMP_HEADER, ts.to_string().parse().unwrap());
        h.insert(SIGNATURE_HEADER, sig.parse().unwrap());
        h
    }

    fn now() -> i64 {
        crate::timespec::now_ms() / 1000
    }

    #[test]
    fn the_specifications_example_signs_as_published() {
        // The example of the Standard Webhooks specification and its libraries' tests.
        let key = parse_secret(b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n").unwrap();
        assert_eq!(
            format_secret(&key),
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        );
        let sig = sign(
            &[&key],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn raw_secret_files_keep_their_bytes() {
        assert_eq!(parse_secret(b"\x01\x02raw").unwrap(), b"\x01\x02raw");
        assert!(parse_secret(b"whsec_not base64!").is_err());
    }

    #[test]
    fn signatures_verify_and_refuse_tampering_replay_and_old_secrets() {
        let (new, old) = ([7u8; 32], [9u8; 32]);
        let body = br#"{"type":"request"}"#;
        let ts = now();
        let both = sign(&[&new, &old], "510104-x1:request", ts, body).unwrap();
        assert_eq!(both.split(' ').count(), 2);
        // Either secret alone verifies a message signed with both (rotation's overlap).
        for key in [&new, &old] {
            assert_eq!(
                verify(&[key], &headers("510104-x1:request", ts, &both), body),
                Ok(())
            );
        }
        let only_new = sign(&[&new], "510104-x1:request", ts, body).unwrap();
        assert_eq!(
            verify(&[&old], &headers("510104-x1:request", ts, &only_new), body),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                &[&old, &new],
                &headers("510104-x1:request", ts, &only_new),
                body
            ),
            Ok(())
        );
        // Another body or id does not match.
        assert_eq!(
            verify(&[&new], &headers("510104-x1:request", ts, &only_new), b"{}"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&[&new], &headers("510104-x2:request", ts, &only_new), body),
            Err(SignatureError::Mismatch)
        );
        // A replay later than the tolerance is refused.
        let stale = ts - TOLERANCE_S - 60;
        let sig = sign(&[&new], "510104-x1:request", stale, body).unwrap();
        assert!(matches!(
            verify(&[&new], &headers("510104-x1:request", stale, &sig), body),
            Err(SignatureError::Refused(_))
        ));
        // No headers at all.
        assert!(matches!(
            verify(&[&new], &http::HeaderMap::new(), body),
            Err(SignatureError::Refused(_))
        ));
    }
}
