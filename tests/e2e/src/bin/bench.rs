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

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tokio::sync::Mutex;

struct Options {
    base_url: String,
    clients: usize,
    duration: Duration,
    admin_email: String,
    admin_password: String,
}

fn parse_options() -> Result<Options> {
    let mut options = Options {
        base_url: "http://127.0.0.1:3000".into(),
        clients: 16,
        duration: Duration::from_secs(10),
        admin_email: std::env::var("SPIN_VARIABLE_ADMIN_EMAIL").unwrap_or_else(|_| "admin@example.com".into()),
        admin_password: std::env::var("SPIN_VARIABLE_ADMIN_PASSWORD").unwrap_or_default(),
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
            "--help" | "-h" => {
                println!("usage: bench [--base-url URL] [--clients N] [--duration SECONDS] [--admin-email E] [--admin-password P]");
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

    fn request(self, http: &reqwest::Client, base: &str, client: &Client, n: u64) -> reqwest::RequestBuilder {
        let conversation = format!("{base}/api/widget/conversations/{}", client.conversation);
        match self {
            Endpoint::Config => http.get(format!("{base}/api/widget/config")),
            Endpoint::PostMessage => http
                .post(format!("{conversation}/messages"))
                .bearer_auth(&client.visitor_token)
                .json(&json!({ "body": format!("benchmark message {n}") })),
            // From a recent cursor, as a reconnecting client would: a page of events, no waiting.
            Endpoint::VisitorEvents => http.get(format!("{conversation}/events?after=0&wait=0")).bearer_auth(&client.visitor_token),
            Endpoint::InboxList => http.get(format!("{base}/api/inbox/conversations")).bearer_auth(&client.operator_token),
        }
    }
}

async fn setup_client(http: &reqwest::Client, options: &Options) -> Result<Client> {
    let started: Value = http.post(format!("{}/api/widget/conversations", options.base_url)).json(&json!({})).send().await?.json().await?;
    let login: Value = http
        .post(format!("{}/api/inbox/login", options.base_url))
        .json(&json!({ "email": options.admin_email, "password": options.admin_password }))
        .send()
        .await?
        .json()
        .await?;
    Ok(Client {
        visitor_token: started["visitor_token"].as_str().context("no visitor token")?.to_owned(),
        conversation: started["conversation"]["id"].as_i64().context("no conversation id")?,
        operator_token: login["token"].as_str().with_context(|| format!("login failed: {login}; pass --admin-email/--admin-password"))?.to_owned(),
    })
}

struct Measured {
    per_second: f64,
    p50: f64,
    p99: f64,
    failures: u64,
}

async fn measure(endpoint: Endpoint, http: &reqwest::Client, options: &Options, clients: &[Client]) -> Measured {
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for client in clients.iter().cloned() {
        let (http, base, stop, ok, failures, latencies) =
            (http.clone(), options.base_url.clone(), stop.clone(), ok.clone(), failures.clone(), latencies.clone());
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let started = Instant::now();
                let response = endpoint.request(&http, &base, &client, n).send().await;
                let success = match response {
                    Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if success {
                    ok.fetch_add(1, Ordering::Relaxed);
                    mine.push(started.elapsed().as_secs_f64() * 1000.0);
                } else {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies.lock().await.extend(mine);
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(options.duration).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut samples = latencies.lock().await.clone();
    samples.sort_by(|a, b| a.total_cmp(b));
    let at = |p: f64| samples.get(((p / 100.0) * samples.len() as f64).ceil().max(1.0) as usize - 1).copied().unwrap_or(f64::NAN);
    Measured { per_second: ok.load(Ordering::Relaxed) as f64 / elapsed, p50: at(50.0), p99: at(99.0), failures: failures.load(Ordering::Relaxed) }
}

#[tokio::main]
async fn main() -> Result<()> {
    let options = parse_options()?;
    let http = reqwest::Client::builder().pool_max_idle_per_host(options.clients * 2).timeout(Duration::from_secs(30)).build()?;
    let mut clients = Vec::new();
    for _ in 0..options.clients {
        clients.push(setup_client(&http, &options).await?);
    }
    // Each conversation gets some history, so reads return real pages.
    for client in &clients {
        for n in 0..20 {
            Endpoint::PostMessage.request(&http, &options.base_url, client, n).send().await?.error_for_status()?;
        }
    }
    println!("livechat bench: {} clients, {} s per endpoint, against {}", options.clients, options.duration.as_secs(), options.base_url);
    println!("method: closed loop, keep-alive, back to back; req/s counts 2xx; latency per request in this process;");
    println!("        share = req/s / baseline req/s (the baseline touches no store; DESIGN.md section 6: no-op ~5,500-5,900/s on real Spin).");
    let mut baseline = f64::NAN;
    for endpoint in [Endpoint::Config, Endpoint::PostMessage, Endpoint::VisitorEvents, Endpoint::InboxList] {
        let m = measure(endpoint, &http, &options, &clients).await;
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
