//! Durability: the server process is killed with SIGKILL in the middle of a load run and
//! restarted on the same data directory. Every message that was acknowledged with a 2xx is
//! still there, and every client's event stream resumed from its last cursor returns exactly the
//! messages it had not seen yet, in order, with no gap and no duplicate.
//!
//! This test runs the test host's binary (`spin-test-host up`) as a child process, because only
//! a separate process can be killed the way a power cut or an OOM kill stops a server: no
//! destructor, no flush, no clean close of SQLite. The binary is `LIVECHAT_TEST_HOST` or
//! `spin-test-host` next to this test's own directory in the target dir (`cargo test --profile
//! host -p spin-test-host -p e2e` builds it; `cargo build --profile host -p spin-test-host`
//! alone does too).
//!
//! Method (printed with the figures): visitors each post messages back to back with a client
//! id, operators answer each one; a message counts as acknowledged when its 2xx response has been
//! read in full. After about 3 s of load the server gets SIGKILL; requests without a response
//! at that moment are "in flight": they may or may not have been stored, and are reported
//! apart. After the restart every acknowledged message is looked up through the API (the
//! visitor's conversation), and each visitor's long-poll resumes from the cursor it last got.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use e2e::{ADMIN_EMAIL, ADMIN_PASSWORD, SETUP_TOKEN, workspace_root};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::Mutex;

const VISITORS: usize = 24;
const OPERATORS: usize = 3;
const LOAD_BEFORE_KILL: Duration = Duration::from_secs(3);

/// The test host binary built for the same profile as this test.
fn host_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("LIVECHAT_TEST_HOST") {
        return PathBuf::from(path);
    }
    // This test runs from <target>/<profile>/deps/crash-<hash>; the binary is in <profile>.
    let exe = std::env::current_exe().expect("the test's own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test runs from <target>/<profile>/deps");
    profile_dir.join("spin-test-host")
}

/// One run of `spin-test-host up` as a child process.
struct Server {
    child: tokio::process::Child,
    base: String,
}

impl Server {
    async fn start(data: &Path, log: &Path, port: u16) -> Server {
        Server::start_with(data, log, port, None).await
    }

    /// `sql_trace`: a file where the host writes every statement the app runs, per connection.
    async fn start_with(data: &Path, log: &Path, port: u16, sql_trace: Option<&Path>) -> Server {
        let binary = host_binary();
        assert!(
            binary.exists(),
            "{} is missing: build it with `cargo build --profile host -p spin-test-host` (or set LIVECHAT_TEST_HOST)",
            binary.display()
        );
        let root = workspace_root();
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("a log file for the server");
        let mut command = tokio::process::Command::new(&binary);
        command
            .current_dir(&root)
            .arg("up")
            .arg("--manifest")
            .arg(root.join("spin.toml"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data)
            .args(["--var", &format!("admin_email={ADMIN_EMAIL}")])
            .args(["--var", &format!("admin_password={ADMIN_PASSWORD}")])
            .args(["--var", &format!("setup_token={SETUP_TOKEN}")])
            // All load comes from 127.0.0.1: per-IP and per-client limits sized for people
            // would turn this load into 429s.
            .args(["--var", "rate_limit_ip_per_minute=1000000"])
            .args(["--var", "rate_limit_visitor_per_minute=1000000"])
            .args(["--var", "rate_limit_operator_per_minute=1000000"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true);
        if let Some(trace) = sql_trace {
            command.env("SPIN_TEST_HOST_SQL_TRACE", trace);
        }
        let mut child = command.spawn().expect("the test host starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let serving = tokio::time::timeout(Duration::from_secs(120), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(base) = line.strip_prefix("Serving ") {
                    return Some(base.trim().to_owned());
                }
            }
            None
        })
        .await;
        let Ok(Some(base)) = serving else {
            let _ = child.start_kill();
            panic!(
                "the test host did not start; its log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Server { child, base }
    }

    /// SIGKILL: no destructor, no flush, no clean close of anything.
    async fn kill_9(mut self) {
        self.child.start_kill().expect("SIGKILL is sent");
        let status = self.child.wait().await.expect("the host exits");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status:?}");
    }
}

/// A message some client got a 2xx for.
#[derive(Debug, Clone)]
struct Acknowledged {
    conversation_id: i64,
    message_id: i64,
    body: String,
}

/// What the clients saw, shared between their tasks.
#[derive(Default)]
struct Ledger {
    acknowledged: Mutex<Vec<Acknowledged>>,
    /// Sent, but the connection died before a response: (conversation, client id).
    in_flight: Mutex<Vec<(i64, String)>>,
}

struct VisitorClient {
    conversation_id: i64,
    token: String,
}

/// Each visitor's view of its own event stream: the cursor it last got and the message ids it
/// received, in order.
#[derive(Default, Clone)]
struct Stream {
    cursor: i64,
    messages: Vec<i64>,
}

async fn post_json(
    http: &reqwest::Client,
    url: &str,
    bearer: Option<&str>,
    body: Value,
) -> Result<(u16, Value), reqwest::Error> {
    let mut request = http.post(url).json(&body);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    // The acknowledgement is the whole response, not only its head.
    let text = response.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

async fn get_json(
    http: &reqwest::Client,
    url: &str,
    bearer: &str,
) -> Result<(u16, Value), reqwest::Error> {
    let response = http.get(url).bearer_auth(bearer).send().await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

async fn login(http: &reqwest::Client, base: &str) -> String {
    let (status, body) = post_json(
        http,
        &format!("{base}/api/inbox/login"),
        None,
        json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD }),
    )
    .await
    .expect("login reaches the app");
    assert_eq!(status, 200, "login: {body}");
    body["token"].as_str().expect("a session token").to_owned()
}

/// Posts messages back to back until the server dies or `stop` is set.
async fn visit(
    http: reqwest::Client,
    base: String,
    index: usize,
    visitor: Arc<VisitorClient>,
    ledger: Arc<Ledger>,
    stop: Arc<AtomicBool>,
) {
    let url = format!(
        "{base}/api/widget/conversations/{}/messages",
        visitor.conversation_id
    );
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let client_id = format!("v{index}-{n}");
        let body = format!("visitor {index} message {n}");
        match post_json(
            &http,
            &url,
            Some(&visitor.token),
            json!({ "body": body, "client_id": client_id }),
        )
        .await
        {
            Ok((201, reply)) => ledger.acknowledged.lock().await.push(Acknowledged {
                conversation_id: visitor.conversation_id,
                message_id: reply["message"]["id"].as_i64().expect("a message id"),
                body,
            }),
            Ok((status, reply)) => panic!("visitor message: {status} {reply}"),
            Err(_) => {
                ledger
                    .in_flight
                    .lock()
                    .await
                    .push((visitor.conversation_id, client_id));
                return;
            }
        }
    }
}

/// Follows the visitor's event stream until the server dies or `stop` is set.
async fn follow(
    http: reqwest::Client,
    base: String,
    visitor: Arc<VisitorClient>,
    stream: Arc<Mutex<Stream>>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        let cursor = stream.lock().await.cursor;
        let url = format!(
            "{base}/api/widget/conversations/{}/events?after={cursor}&wait=2",
            visitor.conversation_id
        );
        let Ok((200, page)) = get_json(&http, &url, &visitor.token).await else {
            return;
        };
        let mut stream = stream.lock().await;
        stream.messages.extend(message_ids(&page));
        stream.cursor = page["cursor"].as_i64().expect("a cursor");
    }
}

fn message_ids(page: &Value) -> Vec<i64> {
    page["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["kind"] == "message.created")
        .filter_map(|e| e["data"]["message"]["id"].as_i64())
        .collect()
}

/// Answers every visitor message on the inbox stream until the server dies or `stop` is set.
async fn operate(
    http: reqwest::Client,
    base: String,
    index: usize,
    token: String,
    ledger: Arc<Ledger>,
    stop: Arc<AtomicBool>,
) {
    let Ok((200, listing)) =
        get_json(&http, &format!("{base}/api/inbox/conversations"), &token).await
    else {
        return;
    };
    let mut cursor = listing["cursor"].as_i64().unwrap_or(0);
    let mut replies = 0;
    while !stop.load(Ordering::Relaxed) {
        let url = format!("{base}/api/inbox/events?after={cursor}&wait=2");
        let Ok((200, page)) = get_json(&http, &url, &token).await else {
            return;
        };
        cursor = page["cursor"].as_i64().expect("a cursor");
        let questions: Vec<i64> = page["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["kind"] == "message.created")
            .map(|e| &e["data"]["message"])
            .filter(|m| m["author"] == "visitor")
            .filter_map(|m| m["conversation_id"].as_i64())
            .filter(|id| *id as usize % OPERATORS == index)
            .collect();
        for conversation_id in questions {
            replies += 1;
            let client_id = format!("o{index}-{replies}");
            let body = format!("operator {index} answer {replies}");
            let url = format!("{base}/api/inbox/conversations/{conversation_id}/messages");
            match post_json(
                &http,
                &url,
                Some(&token),
                json!({ "body": body, "client_id": client_id }),
            )
            .await
            {
                Ok((201, reply)) => ledger.acknowledged.lock().await.push(Acknowledged {
                    conversation_id,
                    message_id: reply["message"]["id"].as_i64().expect("a message id"),
                    body,
                }),
                Ok((status, reply)) => panic!("operator reply: {status} {reply}"),
                Err(_) => {
                    ledger
                        .in_flight
                        .lock()
                        .await
                        .push((conversation_id, client_id));
                    return;
                }
            }
        }
    }
}

/// The conversation's messages as its visitor loads it: (id, body, client id), in order.
async fn conversation_messages(
    http: &reqwest::Client,
    base: &str,
    visitor: &VisitorClient,
) -> Vec<(i64, String, Option<String>)> {
    let url = format!(
        "{base}/api/widget/conversations/{}",
        visitor.conversation_id
    );
    let (status, body) = get_json(http, &url, &visitor.token)
        .await
        .expect("the restarted app answers");
    assert_eq!(status, 200, "load conversation: {body}");
    body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| {
            (
                m["id"].as_i64().expect("an id"),
                m["body"].as_str().unwrap_or_default().to_owned(),
                m["client_id"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_message_survives_kill_9_and_clients_resume_from_their_cursor() {
    let data = tempfile::tempdir().expect("a data directory");
    let logs = tempfile::tempdir().expect("a log directory");
    let log = logs.path().join("host.log");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(128)
        .build()
        .expect("an HTTP client");

    let server = Server::start(data.path(), &log, port).await;
    let base = server.base.clone();
    let mut visitors = Vec::new();
    for _ in 0..VISITORS {
        let (status, body) = post_json(
            &http,
            &format!("{base}/api/widget/conversations"),
            None,
            json!({}),
        )
        .await
        .expect("start a conversation");
        assert_eq!(status, 201, "start: {body}");
        visitors.push(Arc::new(VisitorClient {
            conversation_id: body["conversation"]["id"].as_i64().expect("an id"),
            token: body["visitor_token"].as_str().expect("a token").to_owned(),
        }));
    }
    let mut operator_tokens = Vec::new();
    for _ in 0..OPERATORS {
        operator_tokens.push(login(&http, &base).await);
    }

    let ledger = Arc::new(Ledger::default());
    let stop = Arc::new(AtomicBool::new(false));
    let streams: Vec<Arc<Mutex<Stream>>> = (0..VISITORS).map(|_| Arc::default()).collect();
    let mut tasks = Vec::new();
    for (index, token) in operator_tokens.iter().enumerate() {
        tasks.push(tokio::spawn(operate(
            http.clone(),
            base.clone(),
            index,
            token.clone(),
            ledger.clone(),
            stop.clone(),
        )));
    }
    for (index, visitor) in visitors.iter().enumerate() {
        tasks.push(tokio::spawn(follow(
            http.clone(),
            base.clone(),
            visitor.clone(),
            streams[index].clone(),
            stop.clone(),
        )));
        tasks.push(tokio::spawn(visit(
            http.clone(),
            base.clone(),
            index,
            visitor.clone(),
            ledger.clone(),
            stop.clone(),
        )));
    }

    tokio::time::sleep(LOAD_BEFORE_KILL).await;
    let killed_at = Instant::now();
    server.kill_9().await;
    // Every client notices the dead server (its request fails) and stops.
    for task in tasks {
        task.await.expect("a client task");
    }
    stop.store(true, Ordering::Relaxed);
    let acknowledged = ledger.acknowledged.lock().await.clone();
    let in_flight = ledger.in_flight.lock().await.clone();
    assert!(
        acknowledged.len() >= 50,
        "too little load before the kill to prove anything: {}",
        acknowledged.len()
    );

    let server = Server::start(data.path(), &log, port).await;
    let restarted_after = killed_at.elapsed();
    let base = server.base.clone();

    // Every acknowledged message is there, with its text, in its conversation.
    let mut stored: HashMap<i64, Vec<(i64, String, Option<String>)>> = HashMap::new();
    for visitor in &visitors {
        stored.insert(
            visitor.conversation_id,
            conversation_messages(&http, &base, visitor).await,
        );
    }
    let missing: Vec<&Acknowledged> = acknowledged
        .iter()
        .filter(|ack| {
            !stored[&ack.conversation_id]
                .iter()
                .any(|(id, body, _)| *id == ack.message_id && *body == ack.body)
        })
        .collect();
    let found = acknowledged.len() - missing.len();
    let in_flight_stored = in_flight
        .iter()
        .filter(|(conversation, client_id)| {
            stored[conversation]
                .iter()
                .any(|(_, _, c)| c.as_deref() == Some(client_id.as_str()))
        })
        .count();

    // Each visitor's stream, resumed from the cursor it last got, returns exactly the messages
    // it had not received: together they are the conversation, in order, once.
    for (index, visitor) in visitors.iter().enumerate() {
        let before = streams[index].lock().await.clone();
        let mut cursor = before.cursor;
        let mut after = Vec::new();
        loop {
            let url = format!(
                "{base}/api/widget/conversations/{}/events?after={cursor}&wait=0",
                visitor.conversation_id
            );
            let (status, page) = get_json(&http, &url, &visitor.token)
                .await
                .expect("the restarted app answers");
            assert_eq!(status, 200, "events: {page}");
            let ids = message_ids(&page);
            let next = page["cursor"].as_i64().expect("a cursor");
            after.extend(ids);
            if next == cursor {
                break;
            }
            cursor = next;
        }
        let mut seen = before.messages.clone();
        seen.extend(&after);
        let all: Vec<i64> = stored[&visitor.conversation_id]
            .iter()
            .map(|(id, _, _)| *id)
            .collect();
        assert_eq!(
            seen, all,
            "conversation {}: received before the kill {:?} + resumed from cursor {} {:?}",
            visitor.conversation_id, before.messages, before.cursor, after
        );
    }

    println!(
        "crash test: {VISITORS} visitors and {OPERATORS} operators chatting; SIGKILL after {:.1} s of load; \
         restarted on the same data directory and serving again {:.1} s later",
        LOAD_BEFORE_KILL.as_secs_f64(),
        restarted_after.as_secs_f64()
    );
    println!(
        "acknowledged before kill {}, found after restart {found}; in flight at the kill (no response) {}, of which stored {in_flight_stored}",
        acknowledged.len(),
        in_flight.len()
    );
    println!(
        "method: a message counts as acknowledged when its 201 response was read in full; found = the same id and text in the visitor's conversation after the restart; \
         each visitor's long-poll resumed from its last cursor and returned the rest of its conversation, in order, once"
    );
    assert!(missing.is_empty(), "lost after the crash: {missing:#?}");
    drop(server);
}

/// Statements that change the database (or take its write lock).
fn writes(statement: &str) -> bool {
    let head = statement.trim_start().to_ascii_uppercase();
    [
        "INSERT",
        "UPDATE",
        "DELETE",
        "REPLACE",
        "BEGIN IMMEDIATE",
        "CREATE",
        "DROP",
        "ALTER",
    ]
    .iter()
    .any(|verb| head.starts_with(verb))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_connection_waits_on_locks_writers_sync_safely_and_the_file_stays_in_wal_mode() {
    let data = tempfile::tempdir().expect("a data directory");
    let logs = tempfile::tempdir().expect("a log directory");
    let trace = logs.path().join("sql.trace");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let server = Server::start_with(
        data.path(),
        &logs.path().join("host.log"),
        port,
        Some(&trace),
    )
    .await;
    let base = server.base.clone();
    let http = reqwest::Client::new();

    // A little of everything: the visitor's and the operator's reads and writes, the router
    // behind them, reports, admin.
    let (status, started) = post_json(
        &http,
        &format!("{base}/api/widget/conversations"),
        None,
        json!({}),
    )
    .await
    .expect("start");
    assert_eq!(status, 201, "{started}");
    let visitor = VisitorClient {
        conversation_id: started["conversation"]["id"].as_i64().expect("an id"),
        token: started["visitor_token"]
            .as_str()
            .expect("a token")
            .to_owned(),
    };
    let conversation = format!(
        "{base}/api/widget/conversations/{}",
        visitor.conversation_id
    );
    for n in 0..3 {
        let (status, body) = post_json(
            &http,
            &format!("{conversation}/messages"),
            Some(&visitor.token),
            json!({ "body": format!("hello {n}") }),
        )
        .await
        .expect("post");
        assert_eq!(status, 201, "{body}");
    }
    let token = login(&http, &base).await;
    let (status, body) = post_json(
        &http,
        &format!(
            "{base}/api/inbox/conversations/{}/messages",
            visitor.conversation_id
        ),
        Some(&token),
        json!({ "body": "hi, how can I help?" }),
    )
    .await
    .expect("reply");
    assert_eq!(status, 201, "{body}");
    for url in [
        format!("{conversation}/events?after=0&wait=0"),
        format!("{conversation}/queue"),
    ] {
        let (status, body) = get_json(&http, &url, &visitor.token)
            .await
            .expect("visitor read");
        assert_eq!(status, 200, "{url}: {body}");
    }
    for path in [
        "/api/inbox/events?after=0&wait=0",
        "/api/inbox/conversations",
        "/api/reports/summary",
        "/api/admin/operators",
    ] {
        let (status, body) = get_json(&http, &format!("{base}{path}"), &token)
            .await
            .expect("operator read");
        assert_eq!(status, 200, "{path}: {body}");
    }
    // Work the app does after answering (routing, dispatch) gets a moment to finish.
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.kill_9().await;

    let text = std::fs::read_to_string(&trace).expect("the host wrote the SQL trace");
    let mut connections: std::collections::BTreeMap<u64, Vec<(bool, String)>> =
        std::collections::BTreeMap::new();
    for line in text.lines() {
        // <serial> <ok|err> <start µs> <duration µs> <statement>
        let mut fields = line.splitn(5, '\t');
        let (Some(serial), Some(outcome), Some(statement)) =
            (fields.next(), fields.next(), fields.nth(2))
        else {
            panic!("malformed trace line {line:?}");
        };
        connections
            .entry(serial.parse().expect("a connection serial"))
            .or_default()
            .push((outcome == "ok", statement.to_owned()));
    }
    let mut problems = Vec::new();
    let mut writers = 0;
    for (serial, statements) in &connections {
        let first = &statements[0];
        if first != &(true, "PRAGMA busy_timeout = 100".to_owned()) {
            problems.push(format!(
                "connection {serial} starts with {first:?}, not a busy timeout"
            ));
        }
        if let Some(at) = statements.iter().position(|(_, s)| writes(s)) {
            writers += 1;
            let synced = statements[..at]
                .iter()
                .any(|(ok, s)| *ok && s == "PRAGMA synchronous = NORMAL");
            if !synced {
                problems.push(format!(
                    "connection {serial} writes ({:?}) without synchronous=NORMAL first",
                    statements[at].1
                ));
            }
        }
        for (ok, statement) in statements {
            let upper = statement.to_ascii_uppercase();
            let unsafe_setting = upper.contains("SYNCHRONOUS = OFF")
                || upper.contains("SYNCHRONOUS=OFF")
                || (upper.starts_with("PRAGMA JOURNAL_MODE")
                    && upper.contains('=')
                    && !upper.contains("WAL"));
            if unsafe_setting || (!ok && upper.starts_with("PRAGMA")) {
                problems.push(format!("connection {serial}: {statement:?} (ok: {ok})"));
            }
        }
    }
    let mode: String = rusqlite::Connection::open(data.path().join("sqlite_db.db"))
        .and_then(|db| db.query_row("PRAGMA journal_mode", [], |r| r.get(0)))
        .expect("the database file opens after the kill");
    println!(
        "SQL trace: {} connections, {writers} of them writing; journal mode of the file after the run: {mode}",
        connections.len()
    );
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(
        connections.len() >= 10 && writers >= 3,
        "too little traffic to prove anything: {} connections, {writers} writers",
        connections.len()
    );
    assert_eq!(mode, "wal", "the journal mode persists in the file");
}
