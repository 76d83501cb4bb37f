//! The provincial PKI: the offline certificate authority (`fenghuo ca`), reading identities
//! out of certificates, and the rustls configurations for mutual TLS with CRL checks.

pub mod ca;
pub mod cert;
pub mod tls;
