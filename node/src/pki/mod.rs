//! The provincial PKI: the offline certificate authority (`fenghuo ca`), reading identities
//! out of certificates, the rustls configurations for mutual TLS with CRL checks, and the
//! dashboard's web certificate ([`web`]).

pub mod ca;
pub mod cert;
pub mod tls;
pub mod web;
