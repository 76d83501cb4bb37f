//! The provincial PKI: the offline certificate authority (`fenghuo ca`), reading identities
//! out of certificates, the rustls configurations for mutual TLS with CRL checks ([`tls`] for
//! servers, [`client`] for dialling one and checking who answers), the standing of a live
//! connection's certificate ([`standing`]), revocation lists ([`crl`]), what every rustls configuration is built from ([`trust`]), and the dashboard's web certificate ([`web`]), and the feed-signing key a node certificate carries ([`feed_key`]).

pub mod ca;
pub mod cert;
pub mod client;
pub mod crl;
pub mod feed_key;
pub mod standing;
pub mod tls;
pub mod trust;
pub mod web;
