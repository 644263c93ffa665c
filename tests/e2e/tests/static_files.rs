//! The widget and the console are served with the right types, caching and security headers.

use e2e::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn assets_have_types_etags_and_security_headers() {
    let app = spawn_app().await;
    let loader = app.get("/widget/loader.js").await;
    assert_eq!(loader.status, 200);
    assert_eq!(
        loader.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(loader.header("x-content-type-options"), Some("nosniff"));
    let etag = loader.header("etag").expect("an ETag").to_owned();

    let revalidated = app
        .http
        .get(app.url("/widget/loader.js"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status().as_u16(), 304);
    assert!(revalidated.bytes().await.unwrap().is_empty());

    let console = app.get("/console/").await;
    assert_eq!(console.status, 200);
    assert_eq!(
        console.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = console
        .header("content-security-policy")
        .expect("a CSP on the console");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );

    let frame = app.get("/widget/frame.html").await;
    assert_eq!(frame.status, 200);
    assert!(
        frame
            .header("content-security-policy")
            .unwrap()
            .contains("frame-ancestors *")
    );

    let redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let bare = redirect.get(app.url("/console")).send().await.unwrap();
    assert_eq!(bare.status().as_u16(), 308);
    assert_eq!(bare.headers()["location"], "/console/");

    for path in ["/nope.js", "/.gitignore"] {
        assert_eq!(app.get(path).await.status, 404, "{path}");
    }
    // HTTP clients normalise `..` away, so traversal is sent as raw bytes.
    for path in [
        "/../spin.toml",
        "/widget/../../spin.toml",
        "/%2e%2e/spin.toml",
        "/..%2fspin.toml",
    ] {
        let head = raw_get(&app.base, path).await;
        assert!(head.starts_with("HTTP/1.1 404"), "{path}: {head}");
    }
    let post = app
        .post_raw("/widget/loader.js", "text/plain", b"x".to_vec(), None)
        .await;
    assert_eq!(post.status, 405);
}

/// Sends `GET <path>` byte for byte and returns the status line.
async fn raw_get(base: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    String::from_utf8_lossy(&response)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}
