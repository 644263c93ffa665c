//! `allowed_outbound_hosts`: which outbound HTTP requests a component may make.
//!
//! Follows Spin's `outbound-networking-config` crate:
//!
//! - An entry is `scheme://host[:port]`. `*` stands for any scheme, any host (`*://*:*` allows
//!   everything) or any port; `*.example.com` allows subdomains only (not `example.com`); a
//!   host may be an IP address or a CIDR range (`10.0.0.0/8`); a port may be a range
//!   (`8000..8080`, end exclusive). A missing port means the scheme's well-known port, so
//!   `https://api.example.com` allows port 443 only, and `*://host` is an error.
//! - `self` (or `self.alt`) allows relative URLs, which go back to this application.
//! - `{{ variable }}` templates are resolved from application variables; an entry that
//!   resolves to empty, `http://` or `https://` is skipped (an "optional endpoint").
//! - `http://*.spin.internal` expands to `http://<id>.spin.internal` for every component.
//! - `insecure:allow-all` on its own is rejected, as Spin rejects it.
//!
//! Not modelled: Spin's port and host lists (`{a,b}`) are errors in Spin too; its
//! `blocked_networks` runtime option; IDNA normalisation of international domain names (hosts
//! are compared after ASCII lower-casing).

use std::net::IpAddr;

use anyhow::{Context as _, bail, ensure};

use crate::variables::{AppVariables, Template};

/// The domain of service-chaining hosts (`<component>.spin.internal`).
pub const SERVICE_CHAINING_DOMAIN: &str = "spin.internal";

/// A component's parsed `allowed_outbound_hosts`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    hosts: Vec<AllowedHost>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct AllowedHost {
    original: String,
    scheme: SchemeConfig,
    host: HostConfig,
    port: PortConfig,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum SchemeConfig {
    Any,
    Exactly(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostConfig {
    Any,
    /// `*.example.com`, stored as the suffix `.example.com`.
    AnySubdomain(String),
    ToSelf,
    Domain(String),
    Network(IpNetwork),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PortConfig {
    Any,
    Port(u16),
    /// `start..end`, end exclusive.
    Range(u16, u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IpNetwork {
    addr: IpAddr,
    prefix: u8,
}

impl AllowedHosts {
    /// Parses a component's entries, resolving templates with `variables` and expanding
    /// `*.spin.internal` to the given component ids.
    pub fn parse(
        entries: &[String],
        variables: &AppVariables,
        component_ids: &[&str],
    ) -> anyhow::Result<Self> {
        if let [only] = entries
            && only == "insecure:allow-all"
        {
            bail!(
                "'insecure:allow-all' is not allowed - use '*://*:*' instead if you really want to allow all outbound traffic"
            );
        }
        let mut hosts = Vec::new();
        for entry in entries {
            let template = Template::parse(entry)
                .map_err(|e| anyhow::anyhow!("invalid template {entry:?}: {e}"))?;
            let resolved = if template.is_literal() {
                entry.clone()
            } else {
                let resolved = variables
                    .render(&template)
                    .with_context(|| format!("cannot resolve {entry:?}"))?;
                if resolved.is_empty() || resolved == "http://" || resolved == "https://" {
                    continue;
                }
                resolved
            };
            let host = AllowedHost::parse(&resolved)
                .with_context(|| format!("invalid allowed_outbound_hosts entry {resolved:?}"))?;
            match &host.host {
                HostConfig::AnySubdomain(suffix)
                    if suffix.strip_prefix('.') == Some(SERVICE_CHAINING_DOMAIN) =>
                {
                    for id in component_ids {
                        let mut expanded = host.clone();
                        expanded.host =
                            HostConfig::Domain(format!("{id}.{SERVICE_CHAINING_DOMAIN}"));
                        hosts.push(expanded);
                    }
                }
                _ => hosts.push(host),
            }
        }
        Ok(Self { hosts })
    }

    /// Whether a request to `scheme://host[:port]` is allowed. `host` may be a bracketed IPv6
    /// literal as it appears in a URI.
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let host = match host.parse::<IpAddr>() {
            Ok(ip) => Host::Ip(ip),
            Err(_) => Host::Domain(host.to_ascii_lowercase()),
        };
        let Some(port) = port.or_else(|| well_known_port(scheme)) else {
            // Without an explicit port only a port wildcard can match.
            return self.hosts.iter().any(|h| {
                h.port == PortConfig::Any && h.scheme.allows(scheme) && h.host.allows(&host)
            });
        };
        self.hosts
            .iter()
            .any(|h| h.scheme.allows(scheme) && h.host.allows(&host) && h.port.allows(port))
    }

    /// Whether relative ("self") requests with one of `schemes` are allowed.
    pub fn allows_relative(&self, schemes: &[&str]) -> bool {
        self.hosts.iter().any(|h| {
            schemes.iter().any(|s| h.scheme.allows(s))
                && matches!(h.host, HostConfig::Any | HostConfig::ToSelf)
        })
    }

    /// The entries as written (after template resolution), for error messages.
    pub fn describe(&self) -> Vec<&str> {
        self.hosts.iter().map(|h| h.original.as_str()).collect()
    }
}

/// The component a service-chaining host (`<component>.spin.internal[:port]`) names.
pub fn service_chaining_target(host: &str) -> Option<&str> {
    let host = host.trim();
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let (first, rest) = host.split_once('.')?;
    (rest == SERVICE_CHAINING_DOMAIN).then_some(first)
}

enum Host {
    Ip(IpAddr),
    Domain(String),
}

impl AllowedHost {
    fn parse(url: &str) -> anyhow::Result<Self> {
        let original = url.to_owned();
        let url = url.trim();
        let Some((scheme, rest)) = url.split_once("://") else {
            if matches!(url, "*" | ":" | "" | "?") {
                bail!(
                    "{url:?} is not an allowed outbound host format. Hosts must be in the form <scheme>://<host>[:<port>], with '*' wildcards allowed for each. To allow all outbound networking use '*://*:*'"
                );
            }
            bail!("{url:?} does not contain a scheme (e.g., 'http://' or '*://')");
        };
        let (host, port) = match rest.rsplit_once(':') {
            None => (rest, ""),
            Some((h, "")) => (h, ""),
            Some((h, tail)) => {
                // A bare IPv6 address or CIDR has colons but no port.
                if HostConfig::parse(rest).is_ok() {
                    (rest, "")
                } else {
                    let port = match tail.split_once('/') {
                        Some((port, path)) => {
                            ensure!(path.is_empty(), "{url:?} has a path but is not allowed to");
                            port
                        }
                        None => tail,
                    };
                    (h, port)
                }
            }
        };
        let port = PortConfig::parse(port, scheme)
            .with_context(|| format!("Invalid allowed host port {port:?}"))?;
        let scheme = SchemeConfig::parse(scheme)
            .with_context(|| format!("Invalid allowed host scheme {scheme:?}"))?;
        let host =
            HostConfig::parse(host).with_context(|| format!("Invalid allowed host {host:?}"))?;
        Ok(Self {
            original,
            scheme,
            host,
            port,
        })
    }
}

impl SchemeConfig {
    fn parse(scheme: &str) -> anyhow::Result<Self> {
        if scheme == "*" {
            return Ok(Self::Any);
        }
        ensure!(!scheme.starts_with('{'), "scheme lists are not supported");
        ensure!(
            !scheme.is_empty() && scheme.chars().all(char::is_alphabetic),
            "only alphabetic characters are allowed"
        );
        Ok(Self::Exactly(scheme.to_owned()))
    }

    fn allows(&self, scheme: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Exactly(s) => s == scheme,
        }
    }
}

impl HostConfig {
    fn parse(host: &str) -> anyhow::Result<Self> {
        let host = host.trim();
        if host == "*" {
            return Ok(Self::Any);
        }
        if host == "self" || host == "self.alt" {
            return Ok(Self::ToSelf);
        }
        ensure!(!host.starts_with('{'), "host lists are not yet supported");
        if let Some(network) = IpNetwork::parse(host) {
            return Ok(Self::Network(network));
        }
        let host = host.strip_suffix('/').unwrap_or(host);
        ensure!(!host.contains('/'), "must not include a path");
        if let Some(domain) = host.strip_prefix("*.") {
            ensure!(
                !domain.contains('*'),
                "wildcards are allowed only as prefixes"
            );
            ensure!(valid_domain(domain), "invalid wildcard host \"*.{domain}\"");
            ensure!(
                domain.parse::<IpAddr>().is_err(),
                "wildcard suffix must be a domain"
            );
            return Ok(Self::AnySubdomain(format!(
                ".{}",
                domain.to_ascii_lowercase()
            )));
        }
        ensure!(
            !host.contains('*'),
            "wildcards are allowed only as subdomains"
        );
        let unbracketed = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = unbracketed.parse::<IpAddr>() {
            return Ok(Self::Network(IpNetwork::single(ip)));
        }
        ensure!(valid_domain(host), "invalid host name");
        Ok(Self::Domain(host.to_ascii_lowercase()))
    }

    fn allows(&self, host: &Host) -> bool {
        match (self, host) {
            (Self::Any, _) => true,
            (Self::AnySubdomain(suffix), Host::Domain(domain)) => domain.ends_with(suffix.as_str()),
            (Self::Domain(literal), Host::Domain(domain)) => literal == domain,
            (Self::Network(network), Host::Ip(ip)) => network.contains(*ip),
            _ => false,
        }
    }
}

fn valid_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

impl PortConfig {
    fn parse(port: &str, scheme: &str) -> anyhow::Result<Self> {
        if port.is_empty() {
            return well_known_port(scheme).map(Self::Port).with_context(|| {
                format!("no port was provided and the scheme {scheme:?} does not have a known default port number")
            });
        }
        if port == "*" {
            return Ok(Self::Any);
        }
        ensure!(!port.starts_with('{'), "port lists are not yet supported");
        if let Some((start, end)) = port.split_once("..") {
            let start = start
                .parse()
                .with_context(|| format!("port range {port:?} contains non-number"))?;
            let end = end
                .parse()
                .with_context(|| format!("port range {port:?} contains non-number"))?;
            return Ok(Self::Range(start, end));
        }
        Ok(Self::Port(port.parse().with_context(|| {
            format!("port {port:?} is not a number")
        })?))
    }

    fn allows(&self, port: u16) -> bool {
        match self {
            Self::Any => true,
            Self::Port(p) => *p == port,
            Self::Range(start, end) => (*start..*end).contains(&port),
        }
    }
}

impl IpNetwork {
    fn single(addr: IpAddr) -> Self {
        let prefix = if addr.is_ipv4() { 32 } else { 128 };
        Self { addr, prefix }
    }

    /// An IP address (a one-address network) or `addr/prefix`.
    fn parse(text: &str) -> Option<Self> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (
                addr.parse::<IpAddr>().ok()?,
                Some(prefix.parse::<u8>().ok()?),
            ),
            None => (text.parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Self { addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

fn well_known_port(scheme: &str) -> Option<u16> {
    match scheme {
        "postgres" => Some(5432),
        "mysql" => Some(3306),
        "redis" => Some(6379),
        "mqtt" => Some(1883),
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use super::*;
    use crate::manifest::VariableDecl;

    fn hosts(entries: &[&str]) -> anyhow::Result<AllowedHosts> {
        let entries: Vec<String> = entries.iter().map(|s| (*s).to_owned()).collect();
        AllowedHosts::parse(&entries, &AppVariables::default(), &["api", "worker"])
    }

    fn parse_err(entry: &str) -> String {
        AllowedHosts::parse(&[entry.to_owned()], &AppVariables::default(), &[])
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default()
    }

    #[test]
    fn nothing_is_allowed_by_default() -> anyhow::Result<()> {
        let h = hosts(&[])?;
        assert!(!h.allows("https", "example.com", None));
        assert!(!h.allows_relative(&["http", "https"]));
        Ok(())
    }

    #[test]
    fn scheme_host_and_default_port_must_all_match() -> anyhow::Result<()> {
        let h = hosts(&["https://api.example.com"])?;
        assert!(h.allows("https", "api.example.com", None));
        assert!(h.allows("https", "API.example.com", Some(443)));
        assert!(!h.allows("https", "api.example.com", Some(8443)));
        assert!(!h.allows("http", "api.example.com", None));
        assert!(!h.allows("https", "example.com", None));
        assert!(!h.allows("https", "evil-api.example.com", None));
        Ok(())
    }

    #[test]
    fn wildcards_for_scheme_host_and_port() -> anyhow::Result<()> {
        let h = hosts(&["*://*:*"])?;
        assert!(h.allows("http", "anything.test", Some(1234)));
        assert!(h.allows("https", "10.1.2.3", None));

        let h = hosts(&["https://*.example.com"])?;
        assert!(h.allows("https", "a.example.com", None));
        assert!(h.allows("https", "a.b.example.com", None));
        assert!(!h.allows("https", "example.com", None));
        assert!(!h.allows("https", "notexample.com", None));

        let h = hosts(&["http://localhost:*"])?;
        assert!(h.allows("http", "localhost", Some(3000)));
        assert!(h.allows("http", "localhost", None));

        let h = hosts(&["http://localhost:8000..8080"])?;
        assert!(h.allows("http", "localhost", Some(8000)));
        assert!(!h.allows("http", "localhost", Some(8080)));
        Ok(())
    }

    #[test]
    fn ip_addresses_and_networks() -> anyhow::Result<()> {
        let h = hosts(&[
            "http://10.0.0.0/8:80",
            "http://[::1]:8080",
            "http://127.0.0.1:3000",
        ])?;
        assert!(h.allows("http", "10.200.0.1", None));
        assert!(!h.allows("http", "11.0.0.1", None));
        assert!(h.allows("http", "[::1]", Some(8080)));
        assert!(h.allows("http", "127.0.0.1", Some(3000)));
        assert!(!h.allows("http", "localhost", Some(3000)));
        Ok(())
    }

    #[test]
    fn service_chaining_wildcard_expands_to_components() -> anyhow::Result<()> {
        let h = hosts(&["http://*.spin.internal"])?;
        assert!(h.allows("http", "api.spin.internal", None));
        assert!(h.allows("http", "worker.spin.internal", None));
        assert!(!h.allows("http", "ghost.spin.internal", None));
        let h = hosts(&["http://worker.spin.internal"])?;
        assert!(h.allows("http", "worker.spin.internal", None));
        assert!(!h.allows("http", "api.spin.internal", None));
        Ok(())
    }

    #[test]
    fn self_allows_relative_requests() -> anyhow::Result<()> {
        let h = hosts(&["http://self"])?;
        assert!(h.allows_relative(&["http", "https"]));
        assert!(!h.allows("http", "self", None));
        assert!(hosts(&["*://*:*"])?.allows_relative(&["http"]));
        assert!(!hosts(&["https://self"])?.allows_relative(&["http"]));
        Ok(())
    }

    #[test]
    fn invalid_entries_are_rejected_with_a_reason() {
        assert!(parse_err("example.com").contains("does not contain a scheme"));
        assert!(parse_err("*://example.com").contains("does not have a known default port"));
        assert!(parse_err("https://example.com/path").contains("must not include a path"));
        assert!(parse_err("https://ex*ample.com").contains("wildcards are allowed only"));
        assert!(parse_err("https://example.com:http").contains("not a number"));
        assert!(parse_err("insecure:allow-all").contains("not allowed"));
        assert!(parse_err("*").contains("not an allowed outbound host format"));
        assert!(parse_err("").contains("not an allowed outbound host format"));
    }

    #[test]
    fn templates_resolve_from_variables_and_empty_ones_are_skipped() -> anyhow::Result<()> {
        let declared = BTreeMap::from([
            (
                "api_host".to_owned(),
                VariableDecl {
                    default: Some("api.example.com".into()),
                    required: false,
                    secret: false,
                },
            ),
            (
                "optional_url".to_owned(),
                VariableDecl {
                    default: Some(String::new()),
                    required: false,
                    secret: false,
                },
            ),
        ]);
        let vars = AppVariables::resolve(&declared, &HashMap::new(), |_| None)?;
        let entries = vec![
            "https://{{ api_host }}".to_owned(),
            "{{ optional_url }}".to_owned(),
            "https://{{optional_url}}".to_owned(),
        ];
        let h = AllowedHosts::parse(&entries, &vars, &[])?;
        assert!(h.allows("https", "api.example.com", None));
        assert_eq!(h.describe(), ["https://api.example.com"]);
        Ok(())
    }

    #[test]
    fn chaining_targets_are_single_labels_under_spin_internal() {
        assert_eq!(
            service_chaining_target("worker.spin.internal"),
            Some("worker")
        );
        assert_eq!(
            service_chaining_target("worker.spin.internal:80"),
            Some("worker")
        );
        assert_eq!(service_chaining_target("a.worker.spin.internal"), None);
        assert_eq!(service_chaining_target("spin.internal"), None);
        assert_eq!(service_chaining_target("example.com"), None);
    }
}
