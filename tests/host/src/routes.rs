//! HTTP route matching, as Spin's `spin-http` `routes` module does it.
//!
//! Spin (through 3.x and 4.x) matches routes with the `routefinder` 0.5.4 crate; this module
//! re-implements the parts of it Spin relies on, so matches and header values agree:
//!
//! - A manifest route is made absolute and loses one trailing slash (`"/"` becomes `""`); a
//!   route ending in `/...` (or `/*`) is a trailing wildcard. Routes are split on `/` and `.`
//!   into exact text, `:name` parameters and the wildcard.
//! - A request path is matched with its leading and trailing slashes trimmed, so `/foo/`
//!   matches the exact route `/foo`. A `:name` parameter takes one path segment; when the route
//!   continues with `.` it stops at the next dot.
//! - When several routes match, the most specific wins: segments are compared left to right
//!   (exact text beats a parameter, which beats the wildcard), then the route with more dots,
//!   then the longer one. So an exact route beats a wildcard and `/api/...` beats `/...`.
//!   Among equally specific routes the one declared first wins.
//! - Two triggers with the same route text: the later one replaces the earlier (Spin logs the
//!   duplicate and does the same).
//! - `spin-path-info` is the wildcard's remainder with a leading `/`, keeping a trailing slash of
//!   the request path (`/test/...` on `/test` gives `""`, on `/test/` gives `"/"`); for exact
//!   routes it is empty.
//!
//! Not verified against a running Spin (read from its source only): the order among routes
//! whose specificity is identical but whose text differs (`/a/:x` vs `/a/:y`), which in
//! `routefinder` depends on `BTreeMap` insertion with an ordering that never reports equality;
//! here declaration order decides, which is what that gives for up to 11 routes.

use std::cmp::Ordering;

use anyhow::anyhow;

use crate::manifest::{HttpTrigger, RouteSpec};

/// The prefix Spin reserves for its own endpoints (`health`, `info`).
pub const WELL_KNOWN_PREFIX: &str = "/.well-known/spin/";

/// The public routes of an application.
#[derive(Debug, Clone, Default)]
pub struct Router {
    /// Ordered most specific first, so the first match is the best.
    routes: Vec<Route>,
}

#[derive(Debug, Clone)]
struct Route {
    pattern: Pattern,
    component: String,
    based_route: String,
    raw_route: String,
}

/// The result of routing a path to a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    component: String,
    based_route: String,
    raw_route: String,
    named_wildcards: Vec<(String, String)>,
    path_info: String,
}

impl RouteMatch {
    /// A match as if `path` hit the wildcard route `/...` of `component`: what Spin uses for
    /// service-chaining requests (`http://<component>.spin.internal<path>`).
    pub fn synthetic(component: &str, path: &str) -> Self {
        Self {
            component: component.to_owned(),
            based_route: "/...".to_owned(),
            raw_route: "/...".to_owned(),
            named_wildcards: Vec::new(),
            path_info: path.to_owned(),
        }
    }

    /// The component that handles the request.
    pub fn component(&self) -> &str {
        &self.component
    }

    /// `spin-matched-route`: the route with the base applied (`"/"` becomes `""`).
    pub fn based_route(&self) -> &str {
        &self.based_route
    }

    /// `spin-raw-component-route`: the route exactly as written in the manifest.
    pub fn raw_route(&self) -> &str {
        &self.raw_route
    }

    /// `spin-component-route`: the raw route without a trailing `/...`.
    pub fn raw_route_or_prefix(&self) -> &str {
        self.raw_route
            .strip_suffix("/...")
            .unwrap_or(&self.raw_route)
    }

    /// `spin-path-info`: the part of the path the wildcard matched.
    pub fn path_info(&self) -> &str {
        &self.path_info
    }

    /// `:name` captures, in route order.
    pub fn named_wildcards(&self) -> &[(String, String)] {
        &self.named_wildcards
    }
}

impl Router {
    /// Builds the router from the manifest's HTTP triggers (private routes are left out).
    pub fn build(triggers: &[HttpTrigger]) -> anyhow::Result<Self> {
        // Deduplicate by raw route text first: the later trigger replaces the earlier one but
        // keeps its position, as Spin's `IndexMap` does.
        let mut unique: Vec<(&str, &str)> = Vec::new();
        for trigger in triggers {
            let RouteSpec::Path(raw) = &trigger.route else {
                continue;
            };
            if let Some(existing) = unique.iter_mut().find(|(r, _)| *r == raw.as_str()) {
                eprintln!(
                    "spin-test-host: route {raw:?} of component {:?} duplicates component {:?}'s and replaces it",
                    trigger.component, existing.1
                );
                existing.1 = &trigger.component;
            } else {
                unique.push((raw, &trigger.component));
            }
        }

        let mut router = Router::default();
        for (raw, component) in unique {
            let based_route = with_base(raw);
            let pattern = Pattern::for_route(&based_route).map_err(|e| {
                anyhow!(
                    "Error parsing route {based_route} associated with component {component}: {e}"
                )
            })?;
            if based_route.starts_with(WELL_KNOWN_PREFIX) {
                eprintln!(
                    "spin-test-host: routes under {WELL_KNOWN_PREFIX} are handled by the host and will never be reached ({component}: {raw})"
                );
            }
            router.insert(Route {
                pattern,
                component: component.to_owned(),
                based_route,
                raw_route: raw.to_owned(),
            });
        }
        Ok(router)
    }

    fn insert(&mut self, route: Route) {
        // Before the first route it is more specific than; ties keep declaration order.
        let at = self
            .routes
            .iter()
            .position(|existing| route.pattern.specificity(&existing.pattern) == Ordering::Greater)
            .unwrap_or(self.routes.len());
        self.routes.insert(at, route);
    }

    /// Routes `path` (the request URI's path, without query) to a component.
    pub fn route(&self, path: &str) -> Option<RouteMatch> {
        self.routes.iter().find_map(|route| {
            let captures = route.pattern.matches(path)?;
            let mut named_wildcards = Vec::new();
            let mut wildcard = None;
            for (segment, capture) in route
                .pattern
                .segments
                .iter()
                .filter(|s| matches!(s, Segment::Param(_) | Segment::Wildcard))
                .zip(captures)
            {
                match segment {
                    Segment::Param(name) => {
                        named_wildcards.push((name.clone(), capture.to_owned()))
                    }
                    _ => wildcard = Some(capture),
                }
            }
            // Spin has always kept the trailing slash that the matcher trims.
            let path_info = match wildcard {
                None => String::new(),
                Some(rest) => match (rest.is_empty(), path.ends_with('/')) {
                    (true, false) => String::new(),
                    (true, true) => "/".to_owned(),
                    (false, false) => format!("/{rest}"),
                    (false, true) => format!("/{rest}/"),
                },
            };
            Some(RouteMatch {
                component: route.component.clone(),
                based_route: route.based_route.clone(),
                raw_route: route.raw_route.clone(),
                named_wildcards,
                path_info,
            })
        })
    }

    /// `(route, component)` pairs, most specific first, for the startup banner.
    pub fn routes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.routes
            .iter()
            .map(|r| (r.raw_route.as_str(), r.component.as_str()))
    }
}

/// Applies the base path `/`: absolute, one trailing slash removed.
fn with_base(raw: &str) -> String {
    let absolute = if raw.starts_with('/') {
        raw.to_owned()
    } else {
        format!("/{raw}")
    };
    match absolute.strip_suffix('/') {
        Some(stripped) => stripped.to_owned(),
        None => absolute,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Slash,
    Dot,
    Exact(String),
    Param(String),
    Wildcard,
}

impl Segment {
    /// `routefinder`'s segment order (not a total order: it is reproduced as is).
    fn specificity(&self, other: &Self) -> Ordering {
        use Ordering::{Equal, Greater, Less};
        use Segment::{Dot, Exact, Param, Slash, Wildcard};
        match (self, other) {
            (Exact(_), Exact(_))
            | (Slash, Slash)
            | (Dot, Slash)
            | (Slash, Dot)
            | (Dot, Dot)
            | (Param(_), Param(_))
            | (Wildcard, Wildcard) => Equal,
            (Dot, _) | (Exact(_), _) => Greater,
            (Param(_), Exact(_)) => Less,
            (Param(_), _) => Greater,
            (Wildcard, Exact(_)) | (Wildcard, Param(_)) => Less,
            (Wildcard, _) => Greater,
            (Slash, _) => Less,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    segments: Vec<Segment>,
}

impl Pattern {
    /// The pattern for a based route, turning a trailing `/...` into the wildcard.
    fn for_route(based_route: &str) -> Result<Self, String> {
        let spec = match based_route.strip_suffix("/...") {
            Some(prefix) => format!("{prefix}/*"),
            None => based_route.to_owned(),
        };
        let pattern = Self::parse(&spec)?;
        if let Some(pos) = pattern
            .segments
            .iter()
            .position(|s| *s == Segment::Wildcard)
            && pos + 1 != pattern.segments.len()
        {
            return Err("a wildcard may only end a route".to_owned());
        }
        Ok(pattern)
    }

    fn parse(source: &str) -> Result<Self, String> {
        let trimmed = source.trim_start_matches('/').trim_end_matches('/');
        let mut segments: Vec<Segment> = Vec::new();
        let mut start = 0;
        let mut separator_before: Option<char> = None;
        let boundaries = trimmed
            .char_indices()
            .filter(|(_, c)| *c == '/' || *c == '.')
            .map(|(i, c)| (i, Some(c)))
            .chain(std::iter::once((trimmed.len(), None)));
        for (end, separator_after) in boundaries {
            let section = &trimmed[start..end];
            let segment = match section {
                "" => None,
                "*" => Some(Segment::Wildcard),
                ":" => return Err("params must be named".to_owned()),
                s if s.starts_with('*') => {
                    return Err(format!(
                        "since there can only be one wildcard, it doesn't need a name. replace `{s}` with `*`"
                    ));
                }
                s => match s.strip_prefix(':') {
                    Some(name) => Some(Segment::Param(name.to_owned())),
                    None => Some(Segment::Exact(s.to_owned())),
                },
            };
            if separator_before == Some('.') {
                match segments.last_mut() {
                    Some(Segment::Exact(text)) => text.push('.'),
                    _ => segments.push(Segment::Dot),
                }
            }
            if let Some(segment) = segment {
                if separator_before == Some('/') {
                    segments.push(Segment::Slash);
                }
                segments.push(segment);
            }
            start = end + 1;
            separator_before = separator_after;
        }
        Ok(Self { segments })
    }

    fn dots(&self) -> usize {
        self.segments.iter().filter(|s| **s == Segment::Dot).count()
    }

    /// `Greater` when `self` is the more specific route.
    fn specificity(&self, other: &Self) -> Ordering {
        self.segments
            .iter()
            .zip(&other.segments)
            .map(|(mine, theirs)| mine.specificity(theirs))
            .chain([
                self.dots().cmp(&other.dots()),
                other.segments.len().cmp(&self.segments.len()),
            ])
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    }

    /// The captures (parameters, then the wildcard, in route order) if `path` matches.
    fn matches<'p>(&self, path: &'p str) -> Option<Vec<&'p str>> {
        let mut rest = path.trim_start_matches('/').trim_end_matches('/');
        let mut captures = Vec::new();
        let mut segments = self.segments.iter().peekable();
        while let Some(segment) = segments.next() {
            rest = match segment {
                Segment::Exact(text) => rest.strip_prefix(text.as_str())?,
                Segment::Param(_) => {
                    if rest.is_empty() {
                        return None;
                    }
                    match segments.peek() {
                        Some(Segment::Dot) => {
                            let index = rest.find(['.', '/'])?;
                            if !rest[index..].starts_with('.') {
                                return None;
                            }
                            captures.push(&rest[..index]);
                            &rest[index..]
                        }
                        _ => {
                            let capture = rest.split('/').next().unwrap_or(rest);
                            captures.push(capture);
                            &rest[capture.len()..]
                        }
                    }
                }
                Segment::Wildcard => {
                    captures.push(rest);
                    ""
                }
                Segment::Slash => match (rest.chars().next(), segments.peek()) {
                    (Some('/'), Some(_)) => &rest[1..],
                    (None, None) | (None, Some(Segment::Wildcard)) => rest,
                    _ => return None,
                },
                Segment::Dot => rest.strip_prefix('.')?,
            };
        }
        (rest.is_empty() || rest == "/").then_some(captures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a router; a route that does not parse routes nothing (and fails the test).
    fn router(routes: &[(&str, &str)]) -> Router {
        let triggers: Vec<HttpTrigger> = routes
            .iter()
            .map(|(component, route)| HttpTrigger {
                route: RouteSpec::Path((*route).to_owned()),
                component: (*component).to_owned(),
            })
            .collect();
        let built = Router::build(&triggers);
        assert!(
            built.is_ok(),
            "router should build: {:?}",
            built.as_ref().err()
        );
        built.unwrap_or_default()
    }

    fn check_route(raw: &str) -> Result<(), String> {
        Pattern::for_route(&with_base(raw)).map(drop)
    }

    fn component(router: &Router, path: &str) -> Option<String> {
        router.route(path).map(|m| m.component().to_owned())
    }

    fn path_info(router: &Router, path: &str) -> Option<String> {
        router.route(path).map(|m| m.path_info().to_owned())
    }

    #[test]
    fn exact_routes() {
        let r = router(&[("foo", "/foo"), ("foobar", "/foo/bar")]);
        assert_eq!(component(&r, "/foo").as_deref(), Some("foo"));
        assert_eq!(component(&r, "/foo/").as_deref(), Some("foo"));
        assert_eq!(component(&r, "/foo/bar").as_deref(), Some("foobar"));
        assert_eq!(component(&r, "/foo/baz"), None);
        assert_eq!(component(&r, "/"), None);
        assert_eq!(path_info(&r, "/foo").as_deref(), Some(""));
    }

    #[test]
    fn catch_all_wildcard_matches_everything() {
        let r = router(&[("all", "/...")]);
        for path in ["/foo/bar", "/abc/", "/", "/this/should/be/captured"] {
            assert_eq!(component(&r, path).as_deref(), Some("all"), "{path}");
        }
        assert_eq!(path_info(&r, "/1/2/3").as_deref(), Some("/1/2/3"));
        assert_eq!(path_info(&r, "/").as_deref(), Some("/"));
    }

    #[test]
    fn exact_beats_wildcard() {
        let r = router(&[("wildcard", "/..."), ("one_exact", "/one")]);
        assert_eq!(component(&r, "/one").as_deref(), Some("one_exact"));
        assert_eq!(component(&r, "/one/two").as_deref(), Some("wildcard"));
    }

    #[test]
    fn longest_wildcard_prefix_wins_regardless_of_order() {
        let routes = [
            ("one", "/one/..."),
            ("onetwo", "/one/two/..."),
            ("onetwothree", "/one/two/three/..."),
        ];
        let mut reversed = routes;
        reversed.reverse();
        for r in [router(&routes), router(&reversed)] {
            assert_eq!(
                component(&r, "/one/two/three/four").as_deref(),
                Some("onetwothree")
            );
            assert_eq!(component(&r, "/one/two/x").as_deref(), Some("onetwo"));
            assert_eq!(component(&r, "/one").as_deref(), Some("one"));
        }
    }

    #[test]
    fn the_apps_routes() {
        let r = router(&[
            ("widget-api", "/api/widget/..."),
            ("inbox-api", "/api/inbox/..."),
            ("static-files", "/..."),
        ]);
        assert_eq!(
            component(&r, "/api/widget/conversations").as_deref(),
            Some("widget-api")
        );
        assert_eq!(
            path_info(&r, "/api/widget/conversations").as_deref(),
            Some("/conversations")
        );
        assert_eq!(component(&r, "/api/inbox").as_deref(), Some("inbox-api"));
        assert_eq!(path_info(&r, "/api/inbox").as_deref(), Some(""));
        assert_eq!(
            component(&r, "/api/widgets").as_deref(),
            Some("static-files")
        );
        assert_eq!(
            component(&r, "/index.html").as_deref(),
            Some("static-files")
        );
        assert_eq!(
            path_info(&r, "/console/app.js").as_deref(),
            Some("/console/app.js")
        );
    }

    #[test]
    fn path_info_keeps_the_trailing_slash() {
        let r = router(&[("comp", "/test/...")]);
        assert_eq!(path_info(&r, "/test").as_deref(), Some(""));
        assert_eq!(path_info(&r, "/test/").as_deref(), Some("/"));
        assert_eq!(path_info(&r, "/test/hello").as_deref(), Some("/hello"));
        assert_eq!(path_info(&r, "/test/hello/").as_deref(), Some("/hello/"));
        assert_eq!(component(&r, "/testing"), None);
    }

    #[test]
    fn named_segments_are_captured() {
        let r = router(&[("comp", "/1/:two/3")]);
        let m = r.route("/1/2/3");
        assert_eq!(
            m.as_ref().map(|m| m.named_wildcards().to_vec()),
            Some(vec![("two".to_owned(), "2".to_owned())])
        );
        assert_eq!(m.as_ref().map(|m| m.path_info()), Some(""));

        let r = router(&[("comp", "/users/:id/...")]);
        let m = r.route("/users/42/posts/7");
        assert_eq!(
            m.as_ref().map(|m| m.named_wildcards().to_vec()),
            Some(vec![("id".to_owned(), "42".to_owned())])
        );
        assert_eq!(m.as_ref().map(|m| m.path_info()), Some("/posts/7"));
        assert_eq!(
            m.as_ref().map(|m| m.raw_route_or_prefix()),
            Some("/users/:id")
        );
    }

    #[test]
    fn exact_segment_beats_named_segment_which_beats_wildcard() {
        let r = router(&[
            ("wild", "/users/..."),
            ("param", "/users/:id"),
            ("exact", "/users/me"),
        ]);
        assert_eq!(component(&r, "/users/me").as_deref(), Some("exact"));
        assert_eq!(component(&r, "/users/42").as_deref(), Some("param"));
        assert_eq!(component(&r, "/users/42/x").as_deref(), Some("wild"));
        assert_eq!(component(&r, "/users").as_deref(), Some("wild"));
    }

    #[test]
    fn a_named_segment_stops_at_a_dot_only_when_the_route_has_one() {
        let r = router(&[("plain", "/files/:name"), ("dotted", "/docs/:name.:ext")]);
        assert_eq!(
            r.route("/files/report.pdf")
                .map(|m| m.named_wildcards().to_vec()),
            Some(vec![("name".to_owned(), "report.pdf".to_owned())])
        );
        assert_eq!(
            r.route("/docs/report.pdf")
                .map(|m| m.named_wildcards().to_vec()),
            Some(vec![
                ("name".to_owned(), "report".to_owned()),
                ("ext".to_owned(), "pdf".to_owned())
            ])
        );
    }

    #[test]
    fn dotted_exact_routes_match() {
        let r = router(&[("favicon", "/favicon.ico"), ("all", "/...")]);
        assert_eq!(component(&r, "/favicon.ico").as_deref(), Some("favicon"));
        assert_eq!(component(&r, "/favicon.png").as_deref(), Some("all"));
    }

    #[test]
    fn root_route_is_exact_and_has_an_empty_based_route() {
        let r = router(&[("root", "/"), ("all", "/x/...")]);
        let m = r.route("/");
        assert_eq!(m.as_ref().map(|m| m.component()), Some("root"));
        assert_eq!(m.as_ref().map(|m| m.based_route()), Some(""));
        assert_eq!(m.as_ref().map(|m| m.raw_route()), Some("/"));
        assert_eq!(component(&r, "/other"), None);
    }

    #[test]
    fn header_values_follow_spin() {
        let r = router(&[("foo", "/foo/...")]);
        let m = r.route("/foo/bar");
        assert_eq!(m.as_ref().map(|m| m.path_info()), Some("/bar"));
        assert_eq!(m.as_ref().map(|m| m.based_route()), Some("/foo/..."));
        assert_eq!(m.as_ref().map(|m| m.raw_route()), Some("/foo/..."));
        assert_eq!(m.as_ref().map(|m| m.raw_route_or_prefix()), Some("/foo"));
    }

    #[test]
    fn private_routes_are_not_routable() {
        let triggers = vec![
            HttpTrigger {
                route: RouteSpec::Private,
                component: "secret".into(),
            },
            HttpTrigger {
                route: RouteSpec::Path("/public".into()),
                component: "public".into(),
            },
        ];
        let r = Router::build(&triggers).ok();
        assert_eq!(r.as_ref().map(|r| r.routes().count()), Some(1));
        assert_eq!(r.and_then(|r| r.route("/secret")), None);
    }

    #[test]
    fn duplicate_routes_last_one_wins() {
        let r = router(&[("first", "/foo"), ("second", "/foo")]);
        assert_eq!(component(&r, "/foo").as_deref(), Some("second"));
        assert_eq!(r.routes().count(), 1);
    }

    #[test]
    fn synthetic_matches_describe_the_whole_path() {
        let m = RouteMatch::synthetic("worker", "/jobs/1");
        assert_eq!(m.path_info(), "/jobs/1");
        assert_eq!(m.based_route(), "/...");
        assert_eq!(m.raw_route_or_prefix(), "");
    }

    #[test]
    fn bad_routes_are_rejected() {
        assert!(check_route("/a/*name").is_err());
        assert!(check_route("/a/:").is_err());
        assert!(
            check_route("/a/.../b").is_ok(),
            "`...` mid-route is plain text to Spin"
        );
        assert!(check_route("/a/*/b").is_err());
        assert!(check_route("/a/:b/...").is_ok());
    }
}
