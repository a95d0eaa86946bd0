//! Requests the server makes to others: pushes to push services and deliveries to webhooks.
//!
//! Both go to URLs that users give, so both are held to a policy the operator sets, lest the
//! server be turned against the operator's own network: a URL must start with an allowed
//! prefix (or, for push endpoints, be any public `https` URL), and a host that resolves to a
//! loopback, private or link-local address is refused unless an allowed prefix names that very
//! address (or `localhost`). The check on addresses happens where the connection is made (a
//! resolver of our own), so a name that resolves differently later cannot slip past it.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use reqwest::{
    Url,
    dns::{Addrs, Name, Resolve, Resolving},
};

/// The longest URL a user may give.
pub const URL_MAX: usize = 2048;

/// Which URLs outbound requests may go to.
#[derive(Debug, Clone, Default)]
pub struct UrlPolicy {
    prefixes: Vec<Url>,
    /// Any `https` URL whose host is public (push endpoints).
    public_https: bool,
}

impl UrlPolicy {
    /// A policy of `prefixes` (URLs), plus any public `https` URL if `public_https`.
    pub fn new(prefixes: &[String], public_https: bool) -> Result<Self, String> {
        let prefixes = prefixes
            .iter()
            .map(|p| {
                let url = Url::parse(p.trim()).map_err(|e| format!("{p:?}: {e}"))?;
                if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                    return Err(format!("{p:?}: an http:// or https:// URL is needed"));
                }
                Ok(url)
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            prefixes,
            public_https,
        })
    }

    /// Whether any URL at all can pass.
    pub fn allows_any(&self) -> bool {
        self.public_https || !self.prefixes.is_empty()
    }

    /// Parses `url` and checks it against the policy; the error says why not.
    pub fn check(&self, url: &str) -> Result<Url, String> {
        if url.len() > URL_MAX {
            return Err(format!("the URL is longer than {URL_MAX} bytes"));
        }
        let parsed = Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err("the URL must be http:// or https://".into());
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err("the URL must not carry a user name or password".into());
        }
        let Some(host) = parsed.host_str() else {
            return Err("the URL has no host".into());
        };
        if self.prefixes.iter().any(|p| under(&parsed, p)) {
            return Ok(parsed);
        }
        if self.public_https && parsed.scheme() == "https" {
            let literal = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>();
            return match literal {
                Ok(ip) if !is_public(ip) => Err("the URL names a private address".into()),
                _ if host == "localhost" => Err("the URL names a private address".into()),
                _ => Ok(parsed),
            };
        }
        Err("the URL is not under a prefix the server's operator allows".into())
    }

    /// Whether `host` may resolve to private addresses: an allowed prefix names it and it is
    /// an address itself or `localhost`.
    fn private_allowed(&self, host: &str) -> bool {
        let private_name =
            host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| !is_public(ip));
        private_name
            && self
                .prefixes
                .iter()
                .any(|p| p.host_str().is_some_and(|h| h.eq_ignore_ascii_case(host)))
    }
}

/// Whether `url` falls under `prefix`: same scheme, host and port, and its path within the
/// prefix's path.
fn under(url: &Url, prefix: &Url) -> bool {
    url.scheme() == prefix.scheme()
        && url.host_str().map(str::to_ascii_lowercase)
            == prefix.host_str().map(str::to_ascii_lowercase)
        && url.port_or_known_default() == prefix.port_or_known_default()
        && {
            let p = prefix.path();
            let path = url.path();
            path.starts_with(p)
                && (p.ends_with('/') || path.len() == p.len() || path[p.len()..].starts_with('/'))
        }
}

/// Whether an address is one the public internet routes to, as far as a server can tell.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// Resolves names as the system does, keeping only the addresses the policy allows for them.
struct GuardedResolver {
    policy: Arc<UrlPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let private_ok = policy.private_allowed(&host);
            let kept: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| private_ok || is_public(a.ip()))
                .collect();
            if kept.is_empty() {
                return Err(format!("{host} resolves to no address the server may reach").into());
            }
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

/// An HTTP client held to `policy`: no redirects, no proxy, `timeout` for a whole request.
pub fn client(policy: Arc<UrlPolicy>, timeout: Duration) -> Result<reqwest::Client, String> {
    // rustls with *ring*, as the NATS client has it: no C toolchain for another provider. Only
    // the first call in a process installs it; later ones find it there.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .user_agent(concat!("natter/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout)
        .dns_resolver(Arc::new(GuardedResolver { policy }))
        .build()
        .map_err(|e| format!("cannot make an HTTP client: {e}"))
}

/// Why a request failed, in words for a webhook's `last_error` and for logs.
pub fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer in time".into()
    } else if e.is_connect() {
        let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
        let mut last = None;
        while let Some(s) = source {
            last = Some(s.to_string());
            source = s.source();
        }
        format!(
            "cannot connect{}",
            last.map(|l| format!(": {l}")).unwrap_or_default()
        )
    } else {
        "the request failed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(prefixes: &[&str], public: bool) -> UrlPolicy {
        UrlPolicy::new(
            &prefixes.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            public,
        )
        .unwrap()
    }

    #[test]
    fn prefixes_match_scheme_host_port_and_path() {
        let p = policy(&["https://bots.example.com/natter/"], false);
        assert!(p.check("https://bots.example.com/natter/a").is_ok());
        assert!(p.check("https://bots.example.com:443/natter/").is_ok());
        assert!(p.check("https://bots.example.com/other").is_err());
        assert!(p.check("http://bots.example.com/natter/a").is_err());
        assert!(
            p.check("https://bots.example.com.evil.net/natter/")
                .is_err()
        );
        assert!(p.check("https://bots.example.com:8443/natter/").is_err());
        assert!(p.check("https://user:pw@bots.example.com/natter/").is_err());
        let p = policy(&["http://127.0.0.1:9000/hook"], false);
        assert!(p.check("http://127.0.0.1:9000/hook").is_ok());
        assert!(p.check("http://127.0.0.1:9000/hook/x").is_ok());
        assert!(p.check("http://127.0.0.1:9000/hooked").is_err());
    }

    #[test]
    fn public_https_refuses_private_literals_and_plain_http() {
        let p = policy(&[], true);
        assert!(p.check("https://push.example.com/abc").is_ok());
        assert!(p.check("http://push.example.com/abc").is_err());
        assert!(p.check("https://127.0.0.1/abc").is_err());
        assert!(p.check("https://[::1]/abc").is_err());
        assert!(p.check("https://10.1.2.3/abc").is_err());
        assert!(p.check("https://localhost/abc").is_err());
        assert!(
            p.check(&format!("https://a.example/{}", "x".repeat(URL_MAX)))
                .is_err()
        );
    }

    #[test]
    fn private_addresses_are_allowed_only_to_prefixes_naming_them() {
        let p = policy(
            &["http://127.0.0.1:9000/", "https://bots.example.com/"],
            false,
        );
        assert!(p.private_allowed("127.0.0.1"));
        assert!(!p.private_allowed("bots.example.com"));
        assert!(!p.private_allowed("localhost"));
        assert!(policy(&["http://localhost:9/"], false).private_allowed("localhost"));
    }

    #[tokio::test]
    async fn names_resolving_to_private_addresses_are_refused_unless_a_prefix_names_them() {
        let resolve = |prefixes: &[&str]| {
            let resolver = GuardedResolver {
                policy: Arc::new(policy(prefixes, true)),
            };
            resolver.resolve("localhost".parse().unwrap())
        };
        // `localhost` resolves to loopback: refused where no prefix names it…
        let refused = resolve(&["https://bots.example.com/"]).await;
        assert!(refused.is_err());
        // …and kept where one does.
        let kept: Vec<SocketAddr> = resolve(&["http://localhost:9000/"])
            .await
            .unwrap()
            .collect();
        assert!(!kept.is_empty());
        assert!(kept.iter().all(|a| a.ip().is_loopback()));
    }

    #[test]
    fn public_addresses() {
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "192.168.1.1",
            "172.16.0.1",
            "169.254.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["1.1.1.1", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }
}
