//! Property tests for what spin-host reads from the outside before any component sees it: the
//! `Cookie` and `Authorization` headers (the session token), the client address (Spin's
//! `spin-client-addr` and, behind a proxy, the configured forwarded header), `x-request-id`,
//! the CSRF origin check, the path segments and the origin built from `spin-full-url`.
//! Body parsers are fuzzed in `shared/tests/fuzz` (README, "Fuzzing"); case counts follow
//! `PROPTEST_CASES` there and here (default 512).

use proptest::prelude::*;

use super::*;
use crate::csrf::{Request, is_cross_site};

fn request(headers: Vec<(String, Vec<u8>)>, path: &str) -> ApiRequest {
    ApiRequest {
        method: Method::Post,
        path: path.to_owned(),
        query: String::new(),
        client_addr: client_address_of(&headers, ""),
        headers,
        body: Vec::new(),
    }
}

fn any_headers() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    let name = prop_oneof![
        Just("cookie".to_owned()),
        Just("Cookie".to_owned()),
        Just("authorization".to_owned()),
        Just("spin-client-addr".to_owned()),
        Just("x-forwarded-for".to_owned()),
        Just("spin-full-url".to_owned()),
        Just("x-forwarded-proto".to_owned()),
        "[a-z-]{1,20}",
    ];
    prop::collection::vec((name, prop::collection::vec(any::<u8>(), 0..200)), 0..8)
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn arbitrary_headers_never_panic_and_a_cookie_value_has_no_separator(
        headers in any_headers(),
        path in ".{0,200}",
        name in "[a-z_]{1,12}",
    ) {
        let request = request(headers, &path);
        if let Some(value) = request.cookie(&name) {
            prop_assert!(!value.contains(';'));
        }
        let _ = request.session_token();
        let _ = request.origin();
        let _ = request.loopback_host();
        for segment in request.segments() {
            prop_assert!(!segment.is_empty() && !segment.contains('/'));
        }
    }

    #[test]
    fn the_session_cookie_is_found_among_any_others(
        before in prop::collection::vec(("[a-z]{1,8}", "[a-zA-Z0-9]{0,12}"), 0..5),
        after in prop::collection::vec(("[a-z]{1,8}", "[a-zA-Z0-9]{0,12}"), 0..5),
        token in "[A-Za-z0-9_-]{43}",
    ) {
        let cookie_name = shared::inbox::SESSION_COOKIE;
        let others = |pairs: &[(String, String)]| -> Vec<String> {
            pairs
                .iter()
                .filter(|(n, _)| n != cookie_name)
                .map(|(n, v)| format!("{n}={v}"))
                .collect()
        };
        let mut parts = others(&before);
        parts.push(format!("{cookie_name}={token}"));
        parts.extend(others(&after));
        let header = ("cookie".to_owned(), parts.join("; ").into_bytes());
        let request = request(vec![header], "/");
        prop_assert_eq!(request.session_token(), Some(token.as_str()));
    }

    #[test]
    fn without_a_configured_proxy_header_a_client_cannot_choose_its_address(
        spoofed in "[0-9a-f.:, ]{0,60}",
        own in "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}",
        port in 1u16..,
    ) {
        let headers = vec![
            ("spin-client-addr".to_owned(), spoofed.clone().into_bytes()),
            ("x-forwarded-for".to_owned(), spoofed.clone().into_bytes()),
            ("x-real-ip".to_owned(), spoofed.into_bytes()),
            ("spin-client-addr".to_owned(), format!("{own}:{port}").into_bytes()),
        ];
        prop_assert_eq!(client_address_of(&headers, ""), own);
    }

    #[test]
    fn a_configured_proxy_header_yields_an_address_or_spins(
        forwarded in prop::collection::vec(any::<u8>(), 0..120),
    ) {
        let headers = vec![
            ("x-forwarded-for".to_owned(), forwarded),
            ("spin-client-addr".to_owned(), b"10.0.0.2:5000".to_vec()),
        ];
        let address = client_address_of(&headers, "x-forwarded-for");
        prop_assert!(address.len() <= 45);
        prop_assert!(address
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || matches!(b, b'.' | b':' | b'[' | b']')));
    }

    #[test]
    fn a_request_id_is_echoed_only_when_it_is_safe_to_log(value in ".{0,100}") {
        if let Some(id) = observe::incoming_id(Some(&value)) {
            prop_assert!(!id.is_empty() && id.len() <= 64);
            prop_assert!(id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':')));
        }
    }

    #[test]
    fn a_cookie_change_from_any_other_origin_is_refused(
        origin in ".{0,80}",
        site in prop::option::of(".{0,20}"),
    ) {
        let own = "https://chat.example.com";
        let forged = Request {
            changes_state: true,
            has_bearer: false,
            has_session_cookie: true,
            origin: Some(&origin),
            sec_fetch_site: site.as_deref(),
        };
        let ours = origin.trim().trim_end_matches('/').eq_ignore_ascii_case(own);
        prop_assert_eq!(is_cross_site(&forged, &[own]), !ours);
        // A bearer token no other site can attach is never refused for its origin.
        let api_client = Request { has_bearer: true, ..forged };
        prop_assert!(!is_cross_site(&api_client, &[own]));
    }

    #[test]
    fn stripping_a_port_keeps_a_prefix(address in ".{0,60}") {
        let host = without_port(&address);
        prop_assert!(address.starts_with(host));
    }
}
