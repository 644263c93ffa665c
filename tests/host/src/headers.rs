//! The `spin-*` request headers a component receives, as Spin's `spin-trigger-http` sets them.
//!
//! Spin keeps every header of the incoming request (a non-UTF-8 value fails the request) and
//! appends, with lower-case names: `spin-path-info`, `spin-full-url`, `spin-matched-route`,
//! `spin-base-path` (always `/`), `spin-raw-component-route`, `spin-component-route`,
//! `spin-client-addr` and one `spin-path-match-<name>` per `:name` route segment (upper-cased
//! then lower-cased again, with `_` turned into `-`). A client may send its own `spin-*`
//! headers; Spin appends rather than replaces, and so does this host.
//!
//! `spin-full-url` is `http://<Host header or "localhost"><path and query>`. A service-chaining
//! request has no `Host` header (Spin's outbound HTTP removes it), so its full URL starts with
//! `http://localhost`, and its client address is `0.0.0.0:0`.

use std::net::SocketAddr;

use anyhow::Context as _;
use http::{HeaderMap, HeaderName, HeaderValue, Uri};

use crate::routes::RouteMatch;

/// The client address Spin reports for service-chaining requests.
pub const CHAINED_CLIENT_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0);

/// The `spin-*` header pairs for a request.
pub fn spin_headers(
    uri: &Uri,
    host: Option<&str>,
    route_match: &RouteMatch,
    client_addr: SocketAddr,
) -> Vec<(String, String)> {
    let path_and_query = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let scheme = uri.scheme_str().unwrap_or("http");
    let host = host.unwrap_or("localhost");
    let mut headers = vec![
        (
            "spin-path-info".to_owned(),
            route_match.path_info().to_owned(),
        ),
        (
            "spin-full-url".to_owned(),
            format!("{scheme}://{host}{path_and_query}"),
        ),
        (
            "spin-matched-route".to_owned(),
            route_match.based_route().to_owned(),
        ),
        ("spin-base-path".to_owned(), "/".to_owned()),
        (
            "spin-raw-component-route".to_owned(),
            route_match.raw_route().to_owned(),
        ),
        (
            "spin-component-route".to_owned(),
            route_match.raw_route_or_prefix().to_owned(),
        ),
        ("spin-client-addr".to_owned(), client_addr.to_string()),
    ];
    for (name, value) in route_match.named_wildcards() {
        let key = format!("SPIN_PATH_MATCH_{}", name.to_ascii_uppercase())
            .replace('_', "-")
            .to_ascii_lowercase();
        headers.push((key, value.clone()));
    }
    headers
}

/// Rewrites `headers` in place: the original headers (which must be UTF-8, as Spin requires),
/// then the `spin-*` ones appended. Pairs that are not valid header names or values are
/// skipped, as Spin skips them.
pub fn apply(
    headers: &mut HeaderMap,
    uri: &Uri,
    route_match: &RouteMatch,
    client_addr: SocketAddr,
) -> anyhow::Result<()> {
    for (name, value) in headers.iter() {
        value
            .to_str()
            .with_context(|| format!("request header {name} is not valid UTF-8"))?;
    }
    let host = headers
        .get(http::header::HOST)
        .map(|h| h.to_str().map(str::to_owned))
        .transpose()
        .context("'Host' header is not valid UTF-8")?;
    for (name, value) in spin_headers(uri, host.as_deref(), route_match, client_addr) {
        let (Ok(name), Ok(value)) = (
            name.parse::<HeaderName>(),
            HeaderValue::from_bytes(value.as_bytes()),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{HttpTrigger, RouteSpec};
    use crate::routes::Router;

    fn route(route: &str, path: &str) -> anyhow::Result<RouteMatch> {
        let router = Router::build(&[HttpTrigger {
            route: RouteSpec::Path(route.to_owned()),
            component: "c".to_owned(),
        }])?;
        router
            .route(path)
            .ok_or_else(|| anyhow::anyhow!("{route} should match {path}"))
    }

    fn get<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn wildcard_route_headers() -> anyhow::Result<()> {
        let uri: Uri = "https://fermyon.dev/foo/bar?key1=value1&key2=value2".parse()?;
        let client: SocketAddr = "127.0.0.1:8777".parse()?;
        let h = spin_headers(
            &uri,
            Some("fermyon.dev"),
            &route("/foo/...", "/foo/bar")?,
            client,
        );
        assert_eq!(
            get(&h, "spin-full-url"),
            Some("https://fermyon.dev/foo/bar?key1=value1&key2=value2")
        );
        assert_eq!(get(&h, "spin-path-info"), Some("/bar"));
        assert_eq!(get(&h, "spin-matched-route"), Some("/foo/..."));
        assert_eq!(get(&h, "spin-base-path"), Some("/"));
        assert_eq!(get(&h, "spin-raw-component-route"), Some("/foo/..."));
        assert_eq!(get(&h, "spin-component-route"), Some("/foo"));
        assert_eq!(get(&h, "spin-client-addr"), Some("127.0.0.1:8777"));
        Ok(())
    }

    #[test]
    fn named_segments_become_path_match_headers() -> anyhow::Result<()> {
        let uri: Uri = "/foo/42/bar".parse()?;
        let client: SocketAddr = "127.0.0.1:1".parse()?;
        let m = route("/foo/:user_id/...", "/foo/42/bar")?;
        let h = spin_headers(&uri, Some("localhost:3000"), &m, client);
        assert_eq!(get(&h, "spin-path-match-user-id"), Some("42"));
        assert_eq!(get(&h, "spin-component-route"), Some("/foo/:user_id"));
        assert_eq!(
            get(&h, "spin-full-url"),
            Some("http://localhost:3000/foo/42/bar")
        );
        Ok(())
    }

    #[test]
    fn chained_requests_look_like_spins() -> anyhow::Result<()> {
        let uri: Uri = "http://worker.spin.internal/jobs?x=1".parse()?;
        let m = RouteMatch::synthetic("worker", "/jobs");
        let h = spin_headers(&uri, None, &m, CHAINED_CLIENT_ADDR);
        assert_eq!(get(&h, "spin-full-url"), Some("http://localhost/jobs?x=1"));
        assert_eq!(get(&h, "spin-path-info"), Some("/jobs"));
        assert_eq!(get(&h, "spin-matched-route"), Some("/..."));
        assert_eq!(get(&h, "spin-component-route"), Some(""));
        assert_eq!(get(&h, "spin-client-addr"), Some("0.0.0.0:0"));
        Ok(())
    }

    #[test]
    fn apply_keeps_original_headers_and_rejects_non_utf8() -> anyhow::Result<()> {
        let uri: Uri = "/foo/x".parse()?;
        let m = route("/foo/...", "/foo/x")?;
        let client: SocketAddr = "127.0.0.1:1".parse()?;
        let mut headers = HeaderMap::new();
        headers.insert("accept", HeaderValue::from_static("text/plain"));
        headers.insert("host", HeaderValue::from_static("example.test"));
        apply(&mut headers, &uri, &m, client)?;
        assert_eq!(
            headers.get("accept").map(HeaderValue::as_bytes),
            Some(&b"text/plain"[..])
        );
        assert_eq!(
            headers.get("spin-full-url").map(HeaderValue::as_bytes),
            Some(&b"http://example.test/foo/x"[..])
        );

        let mut bad = HeaderMap::new();
        bad.insert("x-bin", HeaderValue::from_bytes(&[0xff])?);
        assert!(apply(&mut bad, &uri, &m, client).is_err());
        Ok(())
    }
}
