//! Endpoint benchmark: requests/s and latency of the hottest endpoints, each as a share of a
//! baseline that touches no store, against any base URL (test host or real Spin).
//!
//! ```text
//! bench --base-url http://127.0.0.1:3000 --clients 16 --duration 10 \
//!       --admin-email admin@example.com --admin-password '...'
//! ```
//!
//! Method (printed with the results): for each endpoint in turn, `--clients` concurrent clients
//! send requests back to back for `--duration` seconds over keep-alive connections; requests/s
//! counts 2xx answers, latency is per request in this process. The baseline, `GET
//! /api/widget/config`, runs a component that reads one variable and touches neither SQLite nor
//! the key-value store: the closest thing in the app to DESIGN.md's no-op component (~5,500-5,900
//! requests/s on real Spin on these machines), so each endpoint's share of it is the cost of its
//! own work.
//!
//! `--idle-waiters N --host-pid PID` measures the other side of real time: the host's CPU while
//! N visitors hold long-polls on quiet conversations, hot (checked every 40 ms) and cold (every
//! 250 ms), read from `/proc/PID/stat`, so the server must run on this machine.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

struct Options {
    base_url: String,
    clients: usize,
    duration: Duration,
    admin_email: String,
    admin_password: String,
    /// With a host PID: measure the CPU cost of this many idle long-polls instead.
    idle_waiters: usize,
    host_pid: Option<u32>,
}

fn parse_options() -> Result<Options> {
    let mut options = Options {
        base_url: "http://127.0.0.1:3000".into(),
        clients: 16,
        duration: Duration::from_secs(10),
        admin_email: std::env::var("SPIN_VARIABLE_ADMIN_EMAIL")
            .unwrap_or_else(|_| "admin@example.com".into()),
        admin_password: std::env::var("SPIN_VARIABLE_ADMIN_PASSWORD").unwrap_or_default(),
        idle_waiters: 0,
        host_pid: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--base-url" => options.base_url = value()?.trim_end_matches('/').to_owned(),
            "--clients" => options.clients = value()?.parse()?,
            "--duration" => options.duration = Duration::from_secs(value()?.parse()?),
            "--admin-email" => options.admin_email = value()?,
            "--admin-password" => options.admin_password = value()?,
            "--idle-waiters" => options.idle_waiters = value()?.parse()?,
            "--host-pid" => options.host_pid = Some(value()?.parse()?),
            "--help" | "-h" => {
                println!(
                    "usage: bench [--base-url URL] [--clients N] [--duration SECONDS] [--admin-email E] [--admin-password P]"
                );
                println!(
                    "       bench --idle-waiters N --host-pid PID [--base-url URL] [--duration SECONDS]   (CPU cost of waiting)"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other} (try --help)"),
        }
    }
    if options.clients == 0 {
        bail!("--clients must be at least 1");
    }
    Ok(options)
}

/// One client's identity: a visitor with a conversation, and an operator session.
#[derive(Clone)]
struct Client {
    visitor_token: String,
    conversation: i64,
    operator_token: String,
}

#[derive(Clone, Copy)]
enum Endpoint {
    Config,
    PostMessage,
    VisitorEvents,
    InboxList,
}

impl Endpoint {
    fn name(self) -> &'static str {
        match self {
            Endpoint::Config => "GET  /api/widget/config (baseline)",
            Endpoint::PostMessage => "POST /api/widget/.../messages",
            Endpoint::VisitorEvents => "GET  /api/widget/.../events?wait=0",
            Endpoint::InboxList => "GET  /api/inbox/conversations",
        }
    }

    fn request(
        self,
        http: &reqwest::Client,
        base: &str,
        client: &Client,
        n: u64,
    ) -> reqwest::RequestBuilder {
        let conversation = format!("{base}/api/widget/conversations/{}", client.conversation);
        match self {
            Endpoint::Config => http.get(format!("{base}/api/widget/config")),
            Endpoint::PostMessage => http
                .post(format!("{conversation}/messages"))
                .bearer_auth(&client.visitor_token)
                .json(&json!({ "body": format!("benchmark message {n}") })),
            // From a recent cursor, as a reconnecting client would: a page of events, no waiting.
            Endpoint::VisitorEvents => http
                .get(format!("{conversation}/events?after=0&wait=0"))
                .bearer_auth(&client.visitor_token),
            Endpoint::InboxList => http
                .get(format!("{base}/api/inbox/conversations"))
                .bearer_auth(&client.operator_token),
        }
    }
}

async fn setup_client(http: &reqwest::Client, options: &Options) -> Result<Client> {
    let started: Value = http
        .post(format!("{}/api/widget/conversations", options.base_url))
        .json(&json!({}))
        .send()
        .await?
        .json()
        .await?;
    let login: Value = http
        .post(format!("{}/api/inbox/login", options.base_url))
        .json(&json!({ "email": options.admin_email, "password": options.admin_password }))
        .send()
        .await?
        .json()
        .await?;
    Ok(Client {
        visitor_token: started["visitor_token"]
            .as_str()
            .context("no visitor token")?
            .to_owned(),
        conversation: started["conversation"]["id"]
            .as_i64()
            .context("no conversation id")?,
        operator_token: login["token"]
            .as_str()
            .with_context(|| format!("login failed: {login}; pass --admin-email/--admin-password"))?
            .to_owned(),
    })
}

/// CPU time (user + system) of a local process so far, in seconds, from /proc.
fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("no process {pid}"))?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th of them.
    let after = stat
        .rsplit_once(')')
        .context("unexpected /proc stat format")?
        .1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11).context("no utime")?.parse::<f64>()?
        + fields.get(12).context("no stime")?.parse::<f64>()?;
    Ok(ticks / 100.0)
}

/// The host's CPU use (% of one core) while `waiters` visitors each hold a long-poll open on a
/// quiet conversation: first while their conversations are hot (a message in the last 30 s,
/// so waiters check often), then after they have gone cold.
async fn idle_cost(http: &reqwest::Client, options: &Options, pid: u32) -> Result<()> {
    let mut clients = Vec::new();
    for _ in 0..options.idle_waiters {
        let started: Value = http
            .post(format!("{}/api/widget/conversations", options.base_url))
            .json(&json!({}))
            .send()
            .await?
            .json()
            .await?;
        let token = started["visitor_token"]
            .as_str()
            .context("no visitor token")?
            .to_owned();
        let conversation = started["conversation"]["id"]
            .as_i64()
            .context("no conversation id")?;
        clients.push((token, conversation));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (token, conversation) in clients.clone() {
        let (http, base, stop) = (http.clone(), options.base_url.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let url = format!("{base}/api/widget/conversations/{conversation}");
            let mut cursor = 0;
            while !stop.load(Ordering::Relaxed) {
                let page: Value = match http
                    .get(format!("{url}/events?after={cursor}&wait=25"))
                    .bearer_auth(&token)
                    .send()
                    .await
                {
                    Ok(response) => response.json().await.unwrap_or(Value::Null),
                    Err(_) => Value::Null,
                };
                cursor = page["cursor"].as_i64().unwrap_or(cursor);
            }
        }));
    }
    // Make every conversation hot with one message each, then let the waiters settle.
    for (token, conversation) in &clients {
        http.post(format!(
            "{}/api/widget/conversations/{conversation}/messages",
            options.base_url
        ))
        .bearer_auth(token)
        .json(&json!({ "body": "hello" }))
        .send()
        .await?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let window = options.duration.min(Duration::from_secs(20));
    let sample = || async {
        let before = cpu_seconds(pid)?;
        tokio::time::sleep(window).await;
        Ok::<f64, anyhow::Error>(100.0 * (cpu_seconds(pid)? - before) / window.as_secs_f64())
    };
    let hot = sample().await?;
    // Past the hot window (30 s after the last event), waiters check rarely.
    let since_hot = 2.0 + window.as_secs_f64();
    tokio::time::sleep(Duration::from_secs_f64((32.0 - since_hot).max(0.0))).await;
    let cold = sample().await?;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.abort();
    }
    println!(
        "livechat bench: CPU cost of {} idle long-polls (host pid {pid}, {} s windows)",
        options.idle_waiters,
        window.as_secs()
    );
    println!(
        "method: each waiter holds GET .../events?wait=25 on a quiet conversation and re-issues it when it returns;"
    );
    println!(
        "        CPU = host process user+system time from /proc over the window, as % of one core."
    );
    println!(
        "  hot  (event in the last 30 s, marker checked every 40 ms):  {hot:>5.1}% of one core"
    );
    println!(
        "  cold (no event for 30 s, marker checked every 250 ms):     {cold:>5.1}% of one core"
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let options = parse_options()?;
    if options.idle_waiters > 0 {
        let pid = options
            .host_pid
            .context("--idle-waiters needs --host-pid (the server must run on this machine)")?;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(options.idle_waiters + 8)
            .timeout(Duration::from_secs(40))
            .build()?;
        return idle_cost(&http, &options, pid).await;
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(options.clients * 2)
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut clients = Vec::new();
    for _ in 0..options.clients {
        clients.push(setup_client(&http, &options).await?);
    }
    // Each conversation gets some history, so reads return real pages.
    for client in &clients {
        for n in 0..20 {
            Endpoint::PostMessage
                .request(&http, &options.base_url, client, n)
                .send()
                .await?
                .error_for_status()?;
        }
    }
    println!(
        "livechat bench: {} clients, {} s per endpoint, against {}",
        options.clients,
        options.duration.as_secs(),
        options.base_url
    );
    println!(
        "method: closed loop, keep-alive, back to back; req/s counts 2xx; latency per request in this process;"
    );
    println!(
        "        share = req/s / baseline req/s (the baseline touches no store; DESIGN.md section 6: no-op ~5,500-5,900/s on real Spin)."
    );
    let mut baseline = f64::NAN;
    for endpoint in [
        Endpoint::Config,
        Endpoint::PostMessage,
        Endpoint::VisitorEvents,
        Endpoint::InboxList,
    ] {
        let (http, base, clients) = (http.clone(), options.base_url.clone(), clients.clone());
        let m = e2e::measure(clients.len(), options.duration, move |client, n| {
            endpoint.request(&http, &base, &clients[client], n)
        })
        .await;
        if matches!(endpoint, Endpoint::Config) {
            baseline = m.per_second;
        }
        println!(
            "  {:<38} {:>8.0} req/s  p50 {:>6.1} ms  p99 {:>6.1} ms  share {:>5.1}%  failures {}",
            endpoint.name(),
            m.per_second,
            m.p50,
            m.p99,
            100.0 * m.per_second / baseline,
            m.failures
        );
    }
    Ok(())
}
