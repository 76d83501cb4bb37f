//! `bench keys`: what the key types cost. Full mutual-TLS 1.3 handshakes (no resumption, in
//! memory, so only the cryptography and rustls are timed) with ECDSA P-256 leaf keys, as
//! `fenghuo ca issue` writes them now, and with the Ed25519 leaf keys it wrote before; and
//! signatures made and checked per second with Ed25519 (what feeds use) and ECDSA P-256.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use fenghuo_node::identity::Identity;
use fenghuo_node::pki::ca::{CertificateAuthority, IssueOptions};
use fenghuo_node::pki::cert;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;

use crate::stats::Outcome;

/// A certificate and key pair, DER.
struct Pair {
    cert: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

fn pair(dir: &std::path::Path, stem: &str) -> anyhow::Result<Pair> {
    let certs = cert::read_cert_pem(&dir.join(format!("{stem}.crt")))?;
    let key = cert::read_key_pem(&dir.join(format!("{stem}.key")))?;
    Ok(Pair {
        cert: certs.into_iter().map(CertificateDer::from).collect(),
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
    })
}

/// Handshakes per second between a server and a client holding `server` and `client`.
fn handshakes(ca: &[u8], server: &Pair, client: &Pair, n: u64) -> anyhow::Result<f64> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(ca.to_vec()))?;
    let roots = Arc::new(roots);
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        roots.clone(),
        provider.clone(),
    )
    .build()?;
    let server_config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_client_cert_verifier(verifier)
            .with_single_cert(server.cert.clone(), server.key.clone_key())?,
    );
    let mut client_config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_client_auth_cert(client.cert.clone(), client.key.clone_key())?;
    client_config.resumption = rustls::client::Resumption::disabled();
    let client_config = Arc::new(client_config);
    let name = rustls::pki_types::ServerName::try_from("localhost")?;
    let started = Instant::now();
    for _ in 0..n {
        let mut c = rustls::ClientConnection::new(client_config.clone(), name.clone())?;
        let mut s = rustls::ServerConnection::new(server_config.clone())?;
        while c.is_handshaking() || s.is_handshaking() {
            let mut buf = Vec::new();
            while c.wants_write() {
                c.write_tls(&mut buf)?;
            }
            let mut slice = buf.as_slice();
            while !slice.is_empty() {
                s.read_tls(&mut slice)?;
            }
            s.process_new_packets()
                .context("server side of the handshake")?;
            let mut buf = Vec::new();
            while s.wants_write() {
                s.write_tls(&mut buf)?;
            }
            let mut slice = buf.as_slice();
            while !slice.is_empty() {
                c.read_tls(&mut slice)?;
            }
            c.process_new_packets()
                .context("client side of the handshake")?;
        }
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// Signatures made and checked per second with Ed25519 (ed25519-dalek, as feeds do) and
/// ECDSA P-256 (ring, as rustls does), over 32-byte head hashes.
fn signatures(n: u64) -> anyhow::Result<[f64; 4]> {
    use ed25519_dalek::{Signer, Verifier};
    use ring::signature::{self, KeyPair};
    let msg = [7u8; 32];
    let ed = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
    let t = Instant::now();
    let mut sig = ed.sign(&msg);
    for _ in 1..n {
        sig = ed.sign(&msg);
    }
    let ed_sign = n as f64 / t.elapsed().as_secs_f64();
    let public = ed.verifying_key();
    let t = Instant::now();
    for _ in 0..n {
        public.verify(&msg, &sig)?;
    }
    let ed_verify = n as f64 / t.elapsed().as_secs_f64();

    let rng = ring::rand::SystemRandom::new();
    let alg = &signature::ECDSA_P256_SHA256_ASN1_SIGNING;
    let pkcs8 = signature::EcdsaKeyPair::generate_pkcs8(alg, &rng)
        .map_err(|_| anyhow::anyhow!("generating a P-256 key"))?;
    let ec = signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng)
        .map_err(|_| anyhow::anyhow!("reading the P-256 key"))?;
    let t = Instant::now();
    let mut ec_sig = Vec::new();
    for _ in 0..n {
        ec_sig = ec
            .sign(&rng, &msg)
            .map_err(|_| anyhow::anyhow!("P-256 signing"))?
            .as_ref()
            .to_vec();
    }
    let ec_sign = n as f64 / t.elapsed().as_secs_f64();
    let ec_public =
        signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, ec.public_key());
    let t = Instant::now();
    for _ in 0..n {
        ec_public
            .verify(&msg, &ec_sig)
            .map_err(|_| anyhow::anyhow!("P-256 verification"))?;
    }
    let ec_verify = n as f64 / t.elapsed().as_secs_f64();
    Ok([ed_sign, ed_verify, ec_sign, ec_verify])
}

/// Runs the workload.
pub fn keys(handshake_count: u64, signature_count: u64) -> anyhow::Result<Outcome> {
    let dir = tempfile::tempdir()?;
    let mut ca = CertificateAuthority::init(dir.path(), "51", false)?;
    let legacy = IssueOptions {
        legacy_ed25519: true,
        ..IssueOptions::default()
    };
    ca.issue(&Identity::county("510104")?, &IssueOptions::default())?;
    ca.issue(&Identity::county("510105")?, &IssueOptions::default())?;
    ca.issue(&Identity::county("510106")?, &legacy)?;
    ca.issue(&Identity::county("510107")?, &legacy)?;
    let ca_der = cert::read_cert_pem(&ca.ca_cert_path())?
        .into_iter()
        .next()
        .context("no CA certificate")?;
    let p256 = handshakes(
        &ca_der,
        &pair(dir.path(), "county-510104")?,
        &pair(dir.path(), "county-510105")?,
        handshake_count,
    )?;
    let ed25519 = handshakes(
        &ca_der,
        &pair(dir.path(), "county-510106")?,
        &pair(dir.path(), "county-510107")?,
        handshake_count,
    )?;
    let [ed_sign, ed_verify, ec_sign, ec_verify] = signatures(signature_count)?;
    Ok(Outcome {
        workload: "keys",
        system: "fenghuo",
        durability: "no storage".into(),
        figures: json!({"handshakes": handshake_count, "p256_handshakes_per_s": p256,
            "ed25519_handshakes_per_s": ed25519, "ed25519_signs_per_s": ed_sign,
            "ed25519_verifies_per_s": ed_verify, "p256_signs_per_s": ec_sign,
            "p256_verifies_per_s": ec_verify}),
        line: format!(
            "mutual TLS 1.3 handshakes/s: P-256 leaves {p256:.0}, Ed25519 leaves {ed25519:.0} ({:.2}×); \
             signatures/s: Ed25519 sign {ed_sign:.0} verify {ed_verify:.0}, P-256 sign {ec_sign:.0} verify {ec_verify:.0}",
            p256 / ed25519
        ),
    })
}
