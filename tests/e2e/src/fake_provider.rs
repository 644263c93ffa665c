//! A fake provider API (Twilio, Meta Graph, Postmark) on loopback for the `dispatch` tests: it
//! records every request it receives and answers like the provider, or fails on demand.
//!
//! A deliberately small HTTP/1.1 server (one request per connection, `Connection: close`):
//! the point is to see exactly what the app sends, not to be a web server.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The Twilio auth token in [`FakeProvider::app_variables`].
pub const TWILIO_TOKEN: &str = "test-twilio-auth-token";
/// The Meta app secret in [`FakeProvider::app_variables`].
pub const META_SECRET: &str = "test-meta-app-secret";
/// The app's public base URL in [`FakeProvider::app_variables`] (what Twilio signs).
pub const PUBLIC_BASE: &str = "https://chat.example.com";

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
    /// A form field of an `application/x-www-form-urlencoded` body, decoded.
    pub fn form(&self, name: &str) -> Option<String> {
        self.text().split('&').find_map(|pair| {
            let (n, v) = pair.split_once('=')?;
            (decode(n) == name).then(|| decode(v))
        })
    }
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("00");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Default)]
struct State {
    base: String,
    requests: Vec<Recorded>,
    /// The next `n` requests get this status and body.
    failures: Option<(usize, u16, String)>,
    /// What a chat-completions endpoint answers (an OpenAI-compatible model).
    chat_answer: String,
    /// Answer the next request only after this long.
    delay_next: Option<std::time::Duration>,
}

/// The running fake; stops with the test's runtime.
#[derive(Clone)]
pub struct FakeProvider {
    /// `http://127.0.0.1:<port>`
    pub base: String,
    state: Arc<Mutex<State>>,
}

impl FakeProvider {
    pub async fn start() -> FakeProvider {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let base = format!("http://{}", listener.local_addr().expect("its address"));
        let state = Arc::new(Mutex::new(State {
            base: base.clone(),
            ..State::default()
        }));
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, state).await;
                });
            }
        });
        FakeProvider { base, state }
    }

    /// The app's variables for every provider pointed at this fake: Twilio (auth token
    /// [`TWILIO_TOKEN`], signing [`PUBLIC_BASE`]), Meta (app secret [`META_SECRET`]), Postmark
    /// (inbound credentials `hook:secret`), with `retry_schedule` as
    /// `dispatch_retry_schedule_ms` (empty: the default).
    pub fn app_variables(&self, retry_schedule: &str) -> std::collections::HashMap<String, String> {
        // Another name for the same fake, so a redirect from the Twilio base to it changes host.
        let graph_base = self.base.replace("127.0.0.1", "localhost");
        [
            ("twilio_auth_token", TWILIO_TOKEN),
            ("twilio_account_sid", "AC00000000000000000000000000000001"),
            ("twilio_from", "+15005550006"),
            ("twilio_api_base", self.base.as_str()),
            ("public_base_url", PUBLIC_BASE),
            ("meta_app_secret", META_SECRET),
            ("meta_verify_token", "verify"),
            ("meta_graph_base", graph_base.as_str()),
            ("whatsapp_token", "WA-TOKEN"),
            ("whatsapp_phone_number_id", "PHONE-ID"),
            ("meta_page_token", "PAGE-TOKEN"),
            ("postmark_api_base", self.base.as_str()),
            ("postmark_server_token", "POSTMARK-TOKEN"),
            ("email_from", "Support <help@shop.example>"),
            ("dispatch_retry_schedule_ms", retry_schedule),
            ("postmark_inbound_credentials", "hook:secret"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    }

    /// The next `count` requests are answered with `status` and `body`.
    pub fn fail_next(&self, count: usize, status: u16, body: &str) {
        self.state.lock().expect("fake state").failures = Some((count, status, body.to_owned()));
    }

    /// The text the fake model answers at `.../chat/completions`.
    pub fn answer_chats_with(&self, text: &str) {
        self.state.lock().expect("fake state").chat_answer = text.to_owned();
    }

    /// The next request is answered only after `delay`.
    pub fn delay_next(&self, delay: std::time::Duration) {
        self.state.lock().expect("fake state").delay_next = Some(delay);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().expect("fake state").requests.clone()
    }

    /// Waits (up to 10 s) until at least `count` requests arrived; returns them all.
    pub async fn wait_for(&self, count: usize) -> Vec<Recorded> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let requests = self.requests();
            if requests.len() >= count || Instant::now() > deadline {
                return requests;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// A tiny PNG the fake serves as media.
pub const MEDIA_PNG: &[u8] = b"\x89PNG\r\n\x1a\nfake-media";

/// What the real provider answers for a successful request to `path`, numbered `n`: sends
/// (POST), media downloads (`GET /media/...`, also behind a `GET /redirect/...` hop like
/// Twilio's), and WhatsApp media lookups (`GET /v21.0/<media id>`).
fn success(
    base: &str,
    method: &str,
    path: &str,
    body: &[u8],
    n: usize,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let json = |status: u16, text: String| {
        (
            status,
            vec![("content-type".to_owned(), "application/json".to_owned())],
            text.into_bytes(),
        )
    };
    if method == "GET" {
        if let Some(rest) = path.strip_prefix("/redirect/") {
            return (
                307,
                vec![(
                    "location".to_owned(),
                    format!("{}/media/{rest}", base.replace("127.0.0.1", "localhost")),
                )],
                Vec::new(),
            );
        }
        if path.starts_with("/media/") {
            return (
                200,
                vec![("content-type".to_owned(), "image/png".to_owned())],
                MEDIA_PNG.to_vec(),
            );
        }
        return json(
            200,
            format!(r#"{{"url":"{base}/media/wa-{n}.png","mime_type":"image/png","id":"x"}}"#),
        );
    }
    let (status, text) = success_send(path, body, n);
    json(status, text)
}

fn success_send(path: &str, body: &[u8], n: usize) -> (u16, String) {
    if path.ends_with("/Messages.json") {
        (201, format!(r#"{{"sid":"SMf{n:031}","status":"queued"}}"#))
    } else if path.ends_with("/email") {
        (
            200,
            format!(r#"{{"ErrorCode":0,"Message":"OK","MessageID":"pm-{n}"}}"#),
        )
    } else if String::from_utf8_lossy(body).contains("\"messaging_product\"") {
        (200, format!(r#"{{"messages":[{{"id":"wamid.{n}"}}]}}"#))
    } else {
        (
            200,
            format!(r#"{{"recipient_id":"r","message_id":"m_{n}"}}"#),
        )
    }
}

async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut start = lines.next().unwrap_or_default().split(' ');
    let method = start.next().unwrap_or_default().to_owned();
    let path = start.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    // Wasm components' outbound bodies are often streamed (chunked, no length).
    while if chunked {
        !buffer[header_end..].ends_with(b"0\r\n\r\n")
    } else {
        buffer.len() < header_end + length
    } {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            break;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    let body = if chunked {
        dechunk(&buffer[header_end..])
    } else {
        buffer[header_end..].to_vec()
    };
    let delay = state.lock().expect("fake state").delay_next.take();
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let (status, answer_headers, answer) = {
        let mut state = state.lock().expect("fake state");
        state.requests.push(Recorded {
            method: method.clone(),
            path: path.clone(),
            headers,
            body: body.clone(),
        });
        let n = state.requests.len();
        let base = state.base.clone();
        match &mut state.failures {
            Some((left, status, text)) if *left > 0 => {
                *left -= 1;
                (
                    *status,
                    vec![("content-type".to_owned(), "application/json".to_owned())],
                    text.clone().into_bytes(),
                )
            }
            _ if path.ends_with("/chat/completions") => (
                200,
                vec![("content-type".to_owned(), "application/json".to_owned())],
                serde_json::json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": state.chat_answer}}]})
                    .to_string()
                    .into_bytes(),
            ),
            _ => success(&base, &method, &path, &body, n),
        }
    };
    let mut head = format!(
        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
        answer.len()
    );
    for (name, value) in answer_headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&answer).await?;
    stream.shutdown().await
}

/// The payload of a chunked body (sizes in hex, each chunk followed by CRLF, a 0 chunk ends).
fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        let end = (start + size).min(data.len());
        out.extend_from_slice(&data[start..end]);
        data = data.get(end + 2..).unwrap_or_default();
    }
    out
}
