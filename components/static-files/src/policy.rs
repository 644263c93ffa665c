//! Everything about serving a static file except the I/O: path resolution, content types,
//! caching and security headers. Pure, so it is unit-tested natively.

use sha2::{Digest, Sha256};

/// What a request path means.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Serve this file (an absolute path inside the mounted `static/`).
    File(String),
    /// A directory asked for without its trailing slash: send the browser to the slashed URL so
    /// relative links in its `index.html` resolve.
    Redirect(String),
    NotFound,
}

/// Maps a URL path to a file. Rejects anything that could step outside the mount (`..`,
/// backslashes, NUL, hidden files) rather than trying to clean it.
pub fn resolve(path: &str) -> Resolution {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    if !path.starts_with('/') || path.contains(['\\', '\0']) {
        return Resolution::NotFound;
    }
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segments.iter().any(|s| s.starts_with('.')) {
        return Resolution::NotFound;
    }
    let joined = segments.join("/");
    if path.ends_with('/') || segments.is_empty() {
        return Resolution::File(format!(
            "/{joined}{}index.html",
            if joined.is_empty() { "" } else { "/" }
        ));
    }
    match segments.last() {
        Some(last) if !last.contains('.') => Resolution::Redirect(format!("/{joined}/")),
        _ => Resolution::File(format!("/{joined}")),
    }
}

pub fn content_type(file: &str) -> &'static str {
    match file
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .as_deref()
    {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The console runs operators' sessions: nothing but our own scripts, never framed.
const CONSOLE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";
/// The widget frame is embedded by customers' sites, so any ancestor may frame it.
const WIDGET_FRAME_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; frame-ancestors *; base-uri 'none'; form-action 'self'; object-src 'none'";
/// Everything else we serve as a page.
const DEFAULT_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; base-uri 'none'; object-src 'none'";

/// `Strict-Transport-Security` for the `hsts_max_age` variable: a positive number of seconds,
/// else none.
pub fn hsts(max_age: &str) -> Option<String> {
    let seconds = max_age.trim().parse::<u64>().ok().filter(|s| *s > 0)?;
    Some(format!("max-age={seconds}"))
}

/// The status and headers for serving `file` whose content is `bytes`.
pub struct ServePlan {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
}

impl ServePlan {
    pub fn new(file: &str, bytes: &[u8], if_none_match: Option<&str>) -> ServePlan {
        let digest = Sha256::digest(bytes);
        let etag = format!(
            "\"{}\"",
            digest[..12]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let fresh = if_none_match.is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == etag || t.trim() == "*")
        });
        let mut headers = vec![
            ("content-type", content_type(file).to_owned()),
            ("etag", etag),
            // Files are not fingerprinted, so browsers revalidate every time; the ETag makes
            // that a 304 without a body.
            ("cache-control", "no-cache".to_owned()),
            ("x-content-type-options", "nosniff".to_owned()),
            (
                "referrer-policy",
                "strict-origin-when-cross-origin".to_owned(),
            ),
        ];
        if file.ends_with(".html") {
            let csp = if file.starts_with("/console/") {
                headers.push(("x-frame-options", "DENY".to_owned()));
                CONSOLE_CSP
            } else if file.starts_with("/widget/") {
                WIDGET_FRAME_CSP
            } else {
                DEFAULT_CSP
            };
            headers.push(("content-security-policy", csp.to_owned()));
        }
        if file.starts_with("/widget/") {
            // Customers' pages load the loader and the frame's assets cross-origin.
            headers.push(("cross-origin-resource-policy", "cross-origin".to_owned()));
        }
        ServePlan {
            status: if fresh { 304 } else { 200 },
            headers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_paths_inside_the_mount_only() {
        assert_eq!(resolve("/"), Resolution::File("/index.html".into()));
        assert_eq!(
            resolve("/console/"),
            Resolution::File("/console/index.html".into())
        );
        assert_eq!(
            resolve("/console"),
            Resolution::Redirect("/console/".into())
        );
        assert_eq!(
            resolve("/widget/loader.js"),
            Resolution::File("/widget/loader.js".into())
        );
        assert_eq!(
            resolve("/widget//loader.js"),
            Resolution::File("/widget/loader.js".into())
        );
        for bad in [
            "/../etc/passwd",
            "/widget/../../x.js",
            "/.git/config",
            "/a\\b.js",
            "relative.js",
            "/x\0.js",
        ] {
            assert_eq!(resolve(bad), Resolution::NotFound, "{bad}");
        }
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type("/a.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("/a.CSS"), "text/css; charset=utf-8");
        assert_eq!(content_type("/a"), "application/octet-stream");
    }

    #[test]
    fn hsts_needs_a_positive_number_of_seconds() {
        assert_eq!(hsts("31536000").as_deref(), Some("max-age=31536000"));
        assert_eq!(hsts(""), None);
        assert_eq!(hsts("0"), None);
        assert_eq!(hsts("a year"), None);
    }

    fn header<'a>(plan: &'a ServePlan, name: &str) -> Option<&'a str> {
        plan.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn etags_answer_304_when_unchanged() {
        let plan = ServePlan::new("/a.js", b"x", None);
        let etag = header(&plan, "etag").map(str::to_owned);
        assert_eq!(plan.status, 200);
        assert!(
            etag.as_deref()
                .is_some_and(|e| e.starts_with('"') && e.ends_with('"')),
            "{etag:?}"
        );
        assert_eq!(ServePlan::new("/a.js", b"x", etag.as_deref()).status, 304);
        assert_eq!(ServePlan::new("/a.js", b"y", etag.as_deref()).status, 200);
    }

    #[test]
    fn console_is_locked_down_and_widget_frame_is_frameable() {
        let console = ServePlan::new("/console/index.html", b"", None);
        assert!(
            header(&console, "content-security-policy")
                .is_some_and(|csp| csp.contains("frame-ancestors 'none'"))
        );
        assert_eq!(header(&console, "x-frame-options"), Some("DENY"));
        let frame = ServePlan::new("/widget/frame.html", b"", None);
        assert!(
            header(&frame, "content-security-policy")
                .is_some_and(|csp| csp.contains("frame-ancestors *"))
        );
        assert_eq!(header(&frame, "x-frame-options"), None);
        assert_eq!(header(&frame, "x-content-type-options"), Some("nosniff"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]

        /// Whatever the path, a resolved file stays inside the mount: no `..` or hidden
        /// segment, no backslash or NUL, always absolute; a redirect only adds a slash.
        #[test]
        fn no_path_resolves_outside_the_mount(
            path in "(/|\\.|\\.\\.|%2e|[a-z]{1,4}|\\\\|\\x00|\\?|#){0,12}",
            raw in ".{0,60}",
        ) {
            for candidate in [path, raw] {
                match resolve(&candidate) {
                    Resolution::File(file) => {
                        proptest::prop_assert!(file.starts_with('/'));
                        proptest::prop_assert!(!file.contains(['\\', '\0']));
                        proptest::prop_assert!(file.split('/').all(|s| !s.starts_with('.')));
                    }
                    Resolution::Redirect(to) => {
                        proptest::prop_assert!(to.starts_with('/') && to.ends_with('/'));
                        proptest::prop_assert!(to.split('/').all(|s| !s.starts_with('.')));
                    }
                    Resolution::NotFound => {}
                }
            }
        }
    }
}
