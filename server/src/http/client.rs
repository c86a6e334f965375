//! Who the client is, for the per-address registration limit: the peer's
//! address, unless the peer is a trusted reverse proxy
//! (`Limits::trusted_proxies`, `ROSTER_TRUSTED_PROXIES`); then the
//! right-most address of `X-Forwarded-For` that is not itself a trusted
//! proxy. Addresses to its left were written by the client and are never
//! believed, so a client cannot pick its own bucket.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::settings::ProxyNet;
use crate::state::AppState;

/// The client's address for `peer`, given the request's headers.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[ProxyNet]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    let peer = peer.to_canonical();
    if !is_trusted(peer) {
        return peer;
    }
    // Every X-Forwarded-For line, in order, as one list; read from the right.
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|hop| !hop.is_empty())
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        // A proxy wrote this hop; one that does not parse ends the trail.
        let Ok(ip) = hop.parse::<IpAddr>().map(|ip| ip.to_canonical()) else { return client };
        client = ip;
        if !is_trusted(ip) {
            return ip;
        }
    }
    client
}

/// The address the request came from, as [`client_address`] decides
/// (unspecified when the server was not started with connection info, as
/// in router-only tests).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
        let peer = peer.unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
        Ok(ClientAddress(client_address(peer, &parts.headers, &state.limits.trusted_proxies)))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn nets(list: &[&str]) -> Vec<ProxyNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn blocks_contain_their_addresses() {
        for (net, inside, outside) in [
            ("10.0.0.0/8", "10.255.1.2", "11.0.0.1"),
            ("192.0.2.7", "192.0.2.7", "192.0.2.8"),
            ("0.0.0.0/0", "203.0.113.9", "::1"),
            ("fd00::/8", "fd12::1", "fe80::1"),
        ] {
            let net: ProxyNet = net.parse().unwrap();
            assert!(net.contains(ip(inside)), "{net:?} {inside}");
            assert!(!net.contains(ip(outside)), "{net:?} {outside}");
        }
        assert!(net_contains_mapped());
        for bad in ["10.0.0.0/33", "::/129", "ten", "10.0.0.0/x", ""] {
            assert!(bad.parse::<ProxyNet>().is_err(), "{bad}");
        }
    }

    fn net_contains_mapped() -> bool {
        "127.0.0.1".parse::<ProxyNet>().unwrap().contains(ip("::ffff:127.0.0.1"))
    }

    #[test]
    fn only_a_trusted_peer_is_believed_and_only_from_the_right() {
        let trusted = nets(&["127.0.0.1", "10.0.0.0/8"]);
        let headers = |lines: &[&str]| {
            let mut map = HeaderMap::new();
            for line in lines {
                map.append("x-forwarded-for", HeaderValue::from_str(line).unwrap());
            }
            map
        };
        for (peer, lines, expected) in [
            // An untrusted peer is the client, whatever it claims.
            ("203.0.113.5", &["198.51.100.1"][..], "203.0.113.5"),
            // Behind one proxy: the address it appended.
            ("127.0.0.1", &["198.51.100.1"][..], "198.51.100.1"),
            // A client's own entries are to the left of the proxy's.
            ("127.0.0.1", &["1.1.1.1, 198.51.100.1"][..], "198.51.100.1"),
            // Two proxies, and the header split over two lines.
            ("127.0.0.1", &["1.1.1.1, 198.51.100.1", "10.1.1.1"][..], "198.51.100.1"),
            // No header, or only proxies: the left-most known hop.
            ("127.0.0.1", &[][..], "127.0.0.1"),
            ("127.0.0.1", &["10.2.2.2"][..], "10.2.2.2"),
            // Junk where a proxy should have written ends the trail.
            ("127.0.0.1", &["198.51.100.1, junk"][..], "127.0.0.1"),
        ] {
            assert_eq!(client_address(ip(peer), &headers(lines), &trusted), ip(expected), "{peer} {lines:?}");
        }
        assert_eq!(client_address(ip("127.0.0.1"), &headers(&["198.51.100.1"]), &[]), ip("127.0.0.1"), "nothing trusted by default");
    }
}
