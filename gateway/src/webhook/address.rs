//! Which addresses a webhook may reach. A webhook URL is typed in by staff and its host name
//! is resolved by whoever runs the partner's DNS: without a check, `https://10.0.0.5/…` or a
//! name resolving to the gateway's own network would make the gateway POST into it (SSRF).
//! The host is resolved once, each address checked, and the connection made to a checked
//! address (never resolved again, so a rebinding DNS cannot swap it in between).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why no address of a webhook's host may be used.
#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    /// The name did not resolve.
    #[error("resolving {host}: {reason}")]
    Resolve {
        /// The host.
        host: String,
        /// Why.
        reason: String,
    },
    /// Every address is in a range webhooks may not reach.
    #[error("{host} resolves only to addresses webhooks may not reach: {addresses:?}")]
    Private {
        /// The host.
        host: String,
        /// What it resolved to.
        addresses: Vec<IpAddr>,
    },
}

/// An address on the public internet: not loopback, private (RFC 1918), shared (RFC 6598),
/// link-local, unique-local (fc00::/7), unspecified, broadcast, multicast or documentation.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_unique_local()
        || ip.is_unicast_link_local()
        // The NAT64 and 6to4 prefixes carry IPv4 addresses that are not checked here.
        || ip.segments()[0] == 0x2002
        || ip.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0])
}

/// Resolves `host:port` once and returns the addresses a webhook may use, in the resolver's
/// order: all of them when `allow_private`, else the public ones, or an error naming them.
pub async fn resolve(
    host: &str,
    port: u16,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, AddressError> {
    let all: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| AddressError::Resolve {
            host: host.to_owned(),
            reason: e.to_string(),
        })?
        .collect();
    if all.is_empty() {
        return Err(AddressError::Resolve {
            host: host.to_owned(),
            reason: "no addresses".into(),
        });
    }
    let usable: Vec<SocketAddr> = all
        .iter()
        .copied()
        .filter(|a| allow_private || is_public(a.ip()))
        .collect();
    if usable.is_empty() {
        return Err(AddressError::Private {
            host: host.to_owned(),
            addresses: all.iter().map(|a| a.ip()).collect(),
        });
    }
    Ok(usable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_ranges_are_not_public() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "2002:7f00:1::",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(internal.parse().unwrap()), "{internal}");
        }
        for public in ["8.8.8.8", "223.5.5.5", "2400:3200::1", "::ffff:1.2.3.4"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn loopback_names_are_refused_unless_allowed() {
        assert!(matches!(
            resolve("localhost", 443, false).await,
            Err(AddressError::Private { .. })
        ));
        assert!(matches!(
            resolve("127.0.0.1", 443, false).await,
            Err(AddressError::Private { .. })
        ));
        let allowed = resolve("127.0.0.1", 443, true).await.unwrap();
        assert_eq!(allowed, vec!["127.0.0.1:443".parse().unwrap()]);
    }
}
