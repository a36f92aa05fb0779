//! Who is asking: the client's address as the service believes it, and the key it is kept
//! under (never the address itself).
//!
//! `X-Forwarded-For` is believed only from `server.trusted_proxies`: it is read from the
//! right, skipping the trusted proxies, and the first address that is not one is the client.
//! A request that reaches the service directly (or from an address not listed) is its peer
//! address, whatever it claims. The key is HMAC-SHA256 of the address under a secret the
//! service made at its first start (kept in the database, shared by every instance), so the
//! stored keys cannot be turned back into addresses by hashing all 2³² of them.

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;

pub(crate) struct ClientAddresses {
    trusted: Vec<IpNet>,
    secret: Vec<u8>,
}

impl ClientAddresses {
    pub(crate) fn new(trusted: Vec<IpNet>, secret: Vec<u8>) -> Self {
        ClientAddresses { trusted, secret }
    }

    fn trusted(&self, ip: &IpAddr) -> bool {
        self.trusted.iter().any(|n| n.contains(ip))
    }

    /// The client's address: the peer's, or behind trusted proxies the right-most address of
    /// `X-Forwarded-For` that is not one of them.
    pub(crate) fn addr(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip();
        if !self.trusted(&peer) {
            return Some(peer);
        }
        let mut client = peer;
        let hops: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        for hop in hops.into_iter().rev() {
            let Some(ip) = parse_hop(hop) else {
                // Garbage written by someone before our proxies: stop at the last proxy.
                break;
            };
            client = ip;
            if !self.trusted(&ip) {
                break;
            }
        }
        Some(client)
    }

    /// The key the client's address is kept under (rate limits, sign-in throttling, audit).
    /// An IPv6 client is keyed by its /64: a network gives each device (each home, each phone
    /// on a mobile network) a /64 of its own, so a script cycling through the addresses of its
    /// /64 is still one client.
    pub(crate) fn key(&self, req: &HttpRequest) -> String {
        let client = self
            .addr(req)
            .map(client_of)
            .unwrap_or_else(|| "unknown".into());
        crate::tokens::keyed_hash(&self.secret, client.as_bytes())
    }
}

/// What a client is, for its key: an IPv4 address, or an IPv6 address's /64.
fn client_of(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    hop.rsplit_once(':')?.0.parse().ok()
}

/// Who may read the metrics (`metrics.*`): a bearer token, or a client from a listed network.
pub(crate) struct MetricsAccess {
    pub token: Option<String>,
    pub networks: Vec<ipnet::IpNet>,
}

impl MetricsAccess {
    pub(crate) fn admits(&self, clients: &ClientAddresses, req: &HttpRequest) -> bool {
        let bearer = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().strip_prefix("Bearer "))
            .map(str::trim);
        if let (Some(token), Some(given)) = (&self.token, bearer) {
            // Compared as digests: the time taken says nothing about the token.
            if crate::tokens::sha256_hex(token.as_bytes())
                == crate::tokens::sha256_hex(given.as_bytes())
            {
                return true;
            }
        }
        clients
            .addr(req)
            .is_some_and(|ip| self.networks.iter().any(|n| n.contains(&ip)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn clients(trusted: &[&str]) -> ClientAddresses {
        let list: Vec<String> = trusted.iter().map(|s| s.to_string()).collect();
        ClientAddresses::new(
            crate::config::parse_networks(&list).expect("networks"),
            b"secret".to_vec(),
        )
    }

    fn req(peer: &str, xff: Option<&str>) -> HttpRequest {
        let mut r = TestRequest::default().peer_addr(peer.parse().expect("peer"));
        if let Some(x) = xff {
            r = r.insert_header(("X-Forwarded-For", x));
        }
        r.to_http_request()
    }

    fn ip(s: &str) -> Option<IpAddr> {
        s.parse().ok()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let c = clients(&[]);
        assert_eq!(
            c.addr(&req("203.0.113.9:5000", Some("10.0.0.7"))),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_forged_header_from_an_untrusted_peer_changes_nothing() {
        let c = clients(&["10.0.0.0/8"]);
        assert_eq!(
            c.addr(&req("198.51.100.4:5000", Some("10.1.2.3"))),
            ip("198.51.100.4")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_right_most_untrusted_address_is_the_client() {
        let c = clients(&["10.0.0.0/8", "192.0.2.1"]);
        // The client wrote "1.1.1.1" itself; its real address was appended by our proxies.
        let r = req("10.0.0.2:5000", Some("1.1.1.1, 203.0.113.50, 192.0.2.1"));
        assert_eq!(c.addr(&r), ip("203.0.113.50"));
        // Two headers count as one list, in order.
        let r = TestRequest::default()
            .peer_addr("10.0.0.2:5000".parse().expect("peer"))
            .append_header(("X-Forwarded-For", "1.1.1.1"))
            .append_header(("X-Forwarded-For", "203.0.113.51:4433"))
            .to_http_request();
        assert_eq!(c.addr(&r), ip("203.0.113.51"));
        // Garbage stops the walk at the last proxy.
        let r = req("10.0.0.2:5000", Some("not-an-address, 10.9.9.9"));
        assert_eq!(c.addr(&r), ip("10.9.9.9"));
    }

    #[test]
    fn an_ipv6_client_is_its_64() {
        let c = clients(&[]);
        let key = |peer: &str| c.key(&req(peer, None));
        assert_eq!(
            key("[2001:db8:1:2::1]:4000"),
            key("[2001:db8:1:2:ffff::9]:4001")
        );
        assert_ne!(key("[2001:db8:1:2::1]:4000"), key("[2001:db8:1:3::1]:4000"));
        assert_eq!(
            key("[::ffff:192.0.2.7]:1"),
            key("192.0.2.7:2"),
            "a mapped IPv4 address"
        );
        assert_ne!(key("192.0.2.7:1"), key("192.0.2.8:1"));
    }

    #[test]
    fn keys_are_keyed_hashes_not_plain_digests() {
        let c = clients(&[]);
        let key = c.key(&req("203.0.113.9:5000", None));
        assert_ne!(key, crate::tokens::sha256_hex(b"203.0.113.9"));
        assert_eq!(key, crate::tokens::keyed_hash(b"secret", b"203.0.113.9"));
        assert!(crate::config::parse_networks(&["10.0.0.0/33".into()]).is_err());
    }
}
