//! The second CSRF defence for cookie-authenticated requests: where the browser says the
//! request came from.
//!
//! The first defence is the session cookie's `SameSite=Strict` plus JSON-only bodies (a
//! cross-site form cannot send `application/json`). This one does not depend on the browser's
//! SameSite handling or on content-type rules: a state-changing request that carries the session
//! cookie (and no bearer token, which no other site can attach) must name our origin in `Origin`
//! or, when a browser sends no `Origin`, say `Sec-Fetch-Site: same-origin`. A request with
//! neither header is not from a current browser (API clients, curl) and passes: it cannot have
//! been forged by a page in someone's browser.

/// What the check needs to know about one request.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// POST, PUT, PATCH or DELETE.
    pub changes_state: bool,
    pub has_bearer: bool,
    pub has_session_cookie: bool,
    pub origin: Option<&'a str>,
    pub sec_fetch_site: Option<&'a str>,
}

/// Whether the request must be refused as cross-site. `own_origins` are `scheme://host[:port]`
/// as browsers write them (the address the browser used, and `public_base_url` when set).
pub fn is_cross_site(request: &Request<'_>, own_origins: &[&str]) -> bool {
    if !request.changes_state || request.has_bearer || !request.has_session_cookie {
        return false;
    }
    match (request.origin, request.sec_fetch_site) {
        // `null` (sandboxed frames, some redirects) matches no origin of ours.
        (Some(origin), _) => {
            let origin = origin.trim().trim_end_matches('/');
            !own_origins
                .iter()
                .map(|own| own.trim().trim_end_matches('/'))
                .any(|own| !own.is_empty() && own.eq_ignore_ascii_case(origin))
        }
        (None, Some(site)) => !site.trim().eq_ignore_ascii_case("same-origin"),
        (None, None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &[&str] = &["https://chat.example.com", ""];

    fn cookie_post<'a>(origin: Option<&'a str>, site: Option<&'a str>) -> Request<'a> {
        Request {
            changes_state: true,
            has_bearer: false,
            has_session_cookie: true,
            origin,
            sec_fetch_site: site,
        }
    }

    #[test]
    fn same_origin_cookie_requests_pass() {
        assert!(!is_cross_site(
            &cookie_post(Some("https://chat.example.com"), Some("same-origin")),
            OWN
        ));
        assert!(!is_cross_site(
            &cookie_post(Some("HTTPS://Chat.Example.com/"), None),
            OWN
        ));
        assert!(!is_cross_site(&cookie_post(None, Some("same-origin")), OWN));
    }

    #[test]
    fn other_origins_are_refused() {
        for origin in [
            "https://evil.example",
            "https://chat.example.com.evil.example",
            "http://chat.example.com",
            "https://chat.example.com:8443",
            "null",
            "",
        ] {
            assert!(
                is_cross_site(&cookie_post(Some(origin), Some("same-origin")), OWN),
                "{origin} must be refused (Origin wins over Sec-Fetch-Site)"
            );
        }
        for site in ["cross-site", "same-site", "none"] {
            assert!(is_cross_site(&cookie_post(None, Some(site)), OWN), "{site}");
        }
    }

    #[test]
    fn only_cookie_authenticated_changes_are_checked() {
        let evil = Some("https://evil.example");
        let read = Request {
            changes_state: false,
            ..cookie_post(evil, None)
        };
        assert!(!is_cross_site(&read, OWN), "reads change nothing");
        let bearer = Request {
            has_bearer: true,
            ..cookie_post(evil, None)
        };
        assert!(
            !is_cross_site(&bearer, OWN),
            "no other site can attach a bearer token"
        );
        let anonymous = Request {
            has_session_cookie: false,
            ..cookie_post(evil, None)
        };
        assert!(
            !is_cross_site(&anonymous, OWN),
            "login itself has no cookie to abuse"
        );
        assert!(
            !is_cross_site(&cookie_post(None, None), OWN),
            "no browser headers: not a browser, so not forged by a page"
        );
    }
}
