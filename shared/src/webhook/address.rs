//! Where a webhook may be sent: the rule against sending the app's requests into its own
//! network (SSRF).
//!
//! An endpoint URL must be `https://` to a public host name or public IP address. Refused:
//! `http://`; credentials in the URL; fragments; `localhost` and `*.localhost`, `*.local`,
//! `*.internal` (which covers Spin's own `*.spin.internal` service-chaining hosts) and
//! single-label names; numeric host names that are not plain dotted IPv4; and IP literals in
//! loopback, private, link-local, carrier-grade NAT, unspecified, multicast, broadcast or
//! reserved ranges (IPv4-mapped IPv6 is checked as IPv4). One origin can be trusted past these
//! rules by the `webhook_trusted_origin` variable (a receiver on your own network, or a test
//! receiver on loopback), which is also the only `http://` origin the component's
//! `allowed_outbound_hosts` lets through.
//!
//! What this cannot see: a public name whose DNS answer is a private address. Spin resolves
//! names outside the component; its runtime config `[outbound_networking] block_networks =
//! ["private"]` closes that gap for the whole app (README, "Webhooks").

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::input::InvalidInput;

/// The longest endpoint URL accepted.
pub const MAX_URL_CHARS: usize = 2000;

/// `scheme://host[:port]`, lower-cased, without a default port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin(String);

impl Origin {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `webhook_trusted_origin` variable: empty is none; otherwise an origin with nothing
    /// after the authority (a trailing `/` is fine).
    pub fn parse_setting(text: &str) -> Result<Option<Origin>, String> {
        let text = text.trim().trim_end_matches('/');
        if text.is_empty() {
            return Ok(None);
        }
        let parts = Parts::parse(text).map_err(|e| e.problem)?;
        if !parts.rest.is_empty() {
            return Err(format!(
                "{text:?} has a path; give scheme://host[:port] only"
            ));
        }
        Ok(Some(parts.origin()))
    }
}

/// An endpoint URL that passed the rules in the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointUrl {
    url: String,
    origin: Origin,
}

impl EndpointUrl {
    /// Parses `text` for an endpoint, allowing `trusted` past the https and public-host rules.
    pub fn parse(text: &str, trusted: Option<&Origin>) -> Result<EndpointUrl, InvalidInput> {
        let text = text.trim();
        if text.is_empty() {
            return Err(invalid("must not be empty"));
        }
        if text.chars().count() > MAX_URL_CHARS {
            return Err(invalid(format!(
                "must be at most {MAX_URL_CHARS} characters"
            )));
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("must not contain spaces or control characters"));
        }
        let parts = Parts::parse(text)?;
        if parts.rest.contains('#') {
            return Err(invalid("must not have a #fragment"));
        }
        let origin = parts.origin();
        if trusted != Some(&origin) {
            if parts.scheme != "https" {
                return Err(invalid(
                    "must start with https:// (plain http is allowed only for the origin in the webhook_trusted_origin setting)",
                ));
            }
            if let Some(why) = private_host(&parts.host) {
                return Err(invalid(format!(
                    "{why}: webhooks go to public hosts only (unless it is the webhook_trusted_origin setting)"
                )));
            }
        }
        let path = if parts.rest.is_empty() {
            "/"
        } else {
            parts.rest
        };
        Ok(EndpointUrl {
            url: format!("{}{path}", origin.as_str()),
            origin,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.url
    }

    pub fn origin(&self) -> &Origin {
        &self.origin
    }
}

fn invalid(problem: impl Into<String>) -> InvalidInput {
    InvalidInput::new("url", problem)
}

/// A URL split at its authority.
struct Parts<'a> {
    scheme: String,
    /// Lower-cased; IPv6 literals keep their brackets.
    host: String,
    port: Option<u16>,
    /// Path, query and fragment, as given.
    rest: &'a str,
}

impl<'a> Parts<'a> {
    fn parse(text: &'a str) -> Result<Parts<'a>, InvalidInput> {
        let (scheme, after) = text
            .split_once("://")
            .ok_or_else(|| invalid("must be an absolute URL like https://example.com/hooks"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "https" && scheme != "http" {
            return Err(invalid("must start with https://"));
        }
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let (authority, rest) = after.split_at(end);
        if authority.contains('@') {
            return Err(invalid(
                "must not contain credentials (user:password@); the signature authenticates us",
            ));
        }
        let (host, port) = split_port(authority)?;
        let host = host.to_ascii_lowercase();
        if host.is_empty() {
            return Err(invalid("has no host"));
        }
        if let Some(inner) = host.strip_prefix('[') {
            let inner = inner
                .strip_suffix(']')
                .ok_or_else(|| invalid("has an unclosed [IPv6] host"))?;
            inner
                .parse::<Ipv6Addr>()
                .map_err(|_| invalid("has an invalid IPv6 address"))?;
        } else if !host.split('.').all(valid_label) {
            return Err(invalid("has an invalid host name"));
        }
        let default = if scheme == "https" { 443 } else { 80 };
        Ok(Parts {
            scheme,
            host,
            port: port.filter(|p| *p != default),
            rest,
        })
    }

    fn origin(&self) -> Origin {
        Origin(match self.port {
            Some(port) => format!("{}://{}:{port}", self.scheme, self.host),
            None => format!("{}://{}", self.scheme, self.host),
        })
    }
}

fn valid_label(label: &str) -> bool {
    (1..=63).contains(&label.len())
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

fn split_port(authority: &str) -> Result<(&str, Option<u16>), InvalidInput> {
    let bracket_end = authority.rfind(']');
    match authority.rfind(':') {
        Some(colon) if bracket_end.is_none_or(|end| colon > end) => {
            let port = &authority[colon + 1..];
            let port = port
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| invalid("has an invalid port"))?;
            Ok((&authority[..colon], Some(port)))
        }
        _ => Ok((authority, None)),
    }
}

/// Why `host` (lower-cased, IPv6 in brackets) is not a public destination, if it is not.
pub fn private_host(host: &str) -> Option<String> {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return match inner.parse::<Ipv6Addr>() {
            Ok(ip) => private_ip(IpAddr::V6(ip)).map(|why| format!("{host} is {why}")),
            Err(_) => Some(format!("{host} is not an IPv6 address")),
        };
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return private_ip(IpAddr::V4(ip)).map(|why| format!("{host} is {why}"));
    }
    let name = host.trim_end_matches('.');
    let last = name.rsplit('.').next().unwrap_or_default();
    if name == "localhost" || name.ends_with(".localhost") {
        return Some(format!("{host} is this machine"));
    }
    if matches!(
        last,
        "local" | "internal" | "localdomain" | "home" | "lan" | "intranet"
    ) {
        return Some(format!("{host} is a local network name"));
    }
    if !name.contains('.') {
        return Some(format!("{host} is not a fully qualified domain name"));
    }
    // `0x7f.1`, `127.1` or `2130706433.com`-like tricks end in a numeric label, which no real
    // top-level domain is; resolvers would read some of them as IP addresses.
    if last.chars().all(|c| c.is_ascii_digit()) || last.starts_with("0x") {
        return Some(format!(
            "{host} looks like an IP address in another notation"
        ));
    }
    None
}

fn private_ip(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_loopback() {
                Some("a loopback address")
            } else if v4.is_private() {
                Some("a private address")
            } else if v4.is_link_local() {
                Some("a link-local address")
            } else if a == 100 && (64..128).contains(&b) {
                Some("a carrier-grade NAT address")
            } else if a == 0 || v4.is_unspecified() {
                Some("an unspecified address")
            } else if v4.is_multicast() || v4.is_broadcast() || a >= 240 {
                Some("a multicast, broadcast or reserved address")
            } else if (a, b) == (192, 0) || (a == 198 && (b == 18 || b == 19)) {
                Some("a reserved address")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return private_ip(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("a loopback address")
            } else if v6.is_unspecified() {
                Some("an unspecified address")
            } else if first & 0xfe00 == 0xfc00 {
                Some("a private (unique local) address")
            } else if first & 0xffc0 == 0xfe80 {
                Some("a link-local address")
            } else if v6.is_multicast() {
                Some("a multicast address")
            } else if v6.segments()[..6] == [0, 0, 0, 0, 0, 0] {
                Some("an IPv4-compatible address")
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(url: &str) -> Result<String, String> {
        EndpointUrl::parse(url, None)
            .map(|u| u.as_str().to_owned())
            .map_err(|e| e.problem)
    }

    #[test]
    fn public_https_urls_are_normalised() {
        assert_eq!(
            parse(" HTTPS://Hooks.Example.COM/in?x=1 ").unwrap(),
            "https://hooks.example.com/in?x=1"
        );
        assert_eq!(
            parse("https://hooks.example.com:443").unwrap(),
            "https://hooks.example.com/"
        );
        assert_eq!(
            parse("https://hooks.example.com:8443/a").unwrap(),
            "https://hooks.example.com:8443/a"
        );
        assert_eq!(parse("https://8.8.8.8/x").unwrap(), "https://8.8.8.8/x");
        assert_eq!(
            parse("https://[2606:4700::1111]/x").unwrap(),
            "https://[2606:4700::1111]/x"
        );
    }

    #[test]
    fn refuses_what_is_not_https_to_a_public_host() {
        for (url, expect) in [
            ("http://hooks.example.com/", "https://"),
            ("ftp://hooks.example.com/", "https://"),
            ("hooks.example.com/x", "absolute URL"),
            ("https://user:pw@hooks.example.com/", "credentials"),
            ("https://hooks.example.com/#x", "fragment"),
            ("https://localhost/x", "this machine"),
            ("https://app.localhost/x", "this machine"),
            ("https://127.0.0.1/x", "loopback"),
            ("https://127.1/x", "another notation"),
            ("https://0x7f.0.0.1/x", "another notation"),
            ("https://10.1.2.3/x", "private"),
            ("https://172.16.0.1/x", "private"),
            ("https://192.168.1.1/x", "private"),
            ("https://169.254.169.254/latest/meta-data", "link-local"),
            ("https://100.64.0.1/", "carrier-grade"),
            ("https://0.0.0.0/", "unspecified"),
            ("https://[::1]/", "loopback"),
            ("https://[::ffff:10.0.0.1]/", "private"),
            ("https://[fd00::1]/", "unique local"),
            ("https://[fe80::1]/", "link-local"),
            ("https://dispatch.spin.internal/send", "local network"),
            ("https://printer.local/", "local network"),
            ("https://helpdesk/", "fully qualified"),
            ("https://exa mple.com/", "spaces"),
            ("https://exa$mple.com/", "invalid host"),
            ("https://example.com:0/", "port"),
            ("https://example.com:99999/", "port"),
            ("https://[::1/", "unclosed"),
            ("", "empty"),
        ] {
            let problem = parse(url).expect_err(url);
            assert!(problem.contains(expect), "{url}: {problem}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_CHARS));
        assert!(parse(&long).unwrap_err().contains("at most"));
    }

    #[test]
    fn the_trusted_origin_may_be_http_and_private() {
        let trusted = Origin::parse_setting("http://127.0.0.1:4000/")
            .unwrap()
            .unwrap();
        assert_eq!(trusted.as_str(), "http://127.0.0.1:4000");
        let url = EndpointUrl::parse("http://127.0.0.1:4000/hook", Some(&trusted)).unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:4000/hook");
        // Only that origin: another port or scheme is still refused.
        assert!(EndpointUrl::parse("http://127.0.0.1:4001/hook", Some(&trusted)).is_err());
        assert!(EndpointUrl::parse("https://127.0.0.1:4000/hook", Some(&trusted)).is_err());
        assert_eq!(Origin::parse_setting(" ").unwrap(), None);
        assert!(Origin::parse_setting("http://127.0.0.1:4000/hook").is_err());
        assert!(Origin::parse_setting("127.0.0.1:4000").is_err());
        // A default port is the same origin written either way.
        let trusted = Origin::parse_setting("https://hooks.corp.example:443")
            .unwrap()
            .unwrap();
        assert_eq!(trusted.as_str(), "https://hooks.corp.example");
    }

    proptest! {
        #[test]
        fn no_private_ipv4_address_is_accepted(a in 0u8..=255, b in 0u8..=255, c in 0u8..=255, d in 0u8..=255) {
            let ip = Ipv4Addr::new(a, b, c, d);
            let url = format!("https://{ip}/x");
            let refused = EndpointUrl::parse(&url, None).is_err();
            let private = ip.is_loopback() || ip.is_private() || ip.is_link_local()
                || a == 0 || a >= 224 || (a == 100 && (64..128).contains(&b));
            if private {
                prop_assert!(refused, "{} was accepted", url);
            }
            // The same address as IPv4-mapped IPv6 gets the same answer.
            let mapped = format!("https://[::ffff:{ip}]/x");
            prop_assert_eq!(EndpointUrl::parse(&mapped, None).is_err(), refused);
        }

        #[test]
        fn parsing_never_panics_and_accepted_urls_are_https_or_trusted(text in "\\PC{0,80}") {
            if let Ok(url) = EndpointUrl::parse(&text, None) {
                prop_assert!(url.as_str().starts_with("https://"));
            }
        }
    }
}
