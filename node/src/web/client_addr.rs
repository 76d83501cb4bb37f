//! Whose address a request comes from, for the sign-in throttle and the logs. By default the
//! TCP peer's. Behind a reverse proxy every request would come from the proxy, so a proxy
//! listed in `dashboard.trusted_proxies` may name the client in `dashboard.forwarded_header`;
//! from any other peer that header is ignored, since anyone can write it.

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderName};

use crate::config::{DashboardConfig, ProxyRange};

/// How the client's address is found.
#[derive(Debug, Clone)]
pub struct ClientAddress {
    /// Peers whose forwarded header is believed; empty: none.
    proxies: Vec<ProxyRange>,
    /// The header they append the client's address to.
    header: HeaderName,
}

impl Default for ClientAddress {
    fn default() -> Self {
        Self {
            proxies: Vec::new(),
            header: HeaderName::from_static("x-forwarded-for"),
        }
    }
}

impl ClientAddress {
    /// From the `[dashboard]` section (its header name was checked at load).
    pub fn from_config(cfg: &DashboardConfig) -> Self {
        let header = HeaderName::try_from(cfg.forwarded_header.as_str()).unwrap_or_else(|e| {
            tracing::warn!(header = %cfg.forwarded_header, error = %e, "dashboard.forwarded_header: using X-Forwarded-For");
            HeaderName::from_static("x-forwarded-for")
        });
        Self {
            proxies: cfg.trusted_proxies.clone(),
            header,
        }
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        self.proxies.iter().any(|p| p.contains(ip))
    }

    /// The client of a request from TCP peer `peer`: walking the forwarded header from its
    /// end (the hop nearest us), the first address that is not a trusted proxy. A client can
    /// write anything at the header's start, so only what trusted proxies appended counts;
    /// a value that is not an address stops the walk at the last proxy.
    pub fn of(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusted(peer) {
            return peer;
        }
        let hops: Vec<&str> = headers
            .get_all(&self.header)
            .iter()
            .map(|v| v.to_str().unwrap_or(""))
            .flat_map(|v| v.split(','))
            .collect();
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            if !self.trusted(client) {
                break;
            }
            match parse_hop(hop) {
                Some(ip) => client = ip,
                None => {
                    tracing::debug!(%peer, hop, "forwarded header: not an address");
                    break;
                }
            }
        }
        client
    }
}

/// One hop: `203.0.113.7`, `2001:db8::7`, `[2001:db8::7]:443` or `203.0.113.7:443`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    hop.parse::<std::net::SocketAddr>()
        .ok()
        .map(|a| a.ip().to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn behind(proxies: &[&str]) -> ClientAddress {
        ClientAddress {
            proxies: proxies
                .iter()
                .map(|p| ProxyRange::try_from((*p).to_owned()).unwrap())
                .collect(),
            ..ClientAddress::default()
        }
    }

    #[test]
    fn the_header_is_ignored_unless_the_peer_is_a_trusted_proxy() {
        let h = headers(&["203.0.113.7"]);
        assert_eq!(
            ClientAddress::default().of(ip("10.0.0.5"), &h),
            ip("10.0.0.5")
        );
        let c = behind(&["10.0.0.5"]);
        assert_eq!(c.of(ip("10.0.0.6"), &h), ip("10.0.0.6"));
        assert_eq!(c.of(ip("10.0.0.5"), &h), ip("203.0.113.7"));
        assert_eq!(c.of(ip("::ffff:10.0.0.5"), &h), ip("203.0.113.7"));
        // A trusted proxy that sent no header is the client as far as we can tell.
        assert_eq!(c.of(ip("10.0.0.5"), &HeaderMap::new()), ip("10.0.0.5"));
    }

    #[test]
    fn only_what_trusted_proxies_appended_counts() {
        let c = behind(&["10.0.0.0/24"]);
        // The client wrote "1.1.1.1" itself; the proxies appended the rest.
        let h = headers(&["1.1.1.1, 203.0.113.7", "10.0.0.9"]);
        assert_eq!(c.of(ip("10.0.0.5"), &h), ip("203.0.113.7"));
        let h = headers(&["[2001:db8::7]:443, 198.51.100.2:5000"]);
        assert_eq!(c.of(ip("10.0.0.5"), &h), ip("198.51.100.2"));
        let h = headers(&["203.0.113.7, not-an-address"]);
        assert_eq!(c.of(ip("10.0.0.5"), &h), ip("10.0.0.5"));
        // Every hop a proxy: the first one is the client.
        let h = headers(&["10.0.0.7, 10.0.0.8"]);
        assert_eq!(c.of(ip("10.0.0.5"), &h), ip("10.0.0.7"));
    }
}
