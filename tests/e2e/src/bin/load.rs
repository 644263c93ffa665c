//! Load tool: N visitors and M operators chatting against any base URL (the test host or real
//! Spin), printing throughput and post-to-delivery latency percentiles.
//!
//! ```text
//! load --base-url http://127.0.0.1:3000 --visitors 50 --operators 5 --duration 30 \
//!      --admin-email admin@example.com --admin-password '...'
//! ```
//!
//! Method (printed with the results): every visitor starts a conversation, then in a closed loop
//! posts a message and waits, on its own long-poll, for the operator's answer before posting the
//! next (`--think-ms` pauses in between). Each operator session long-polls the inbox event stream
//! and answers the visitor messages of the conversations it owns (conversation id mod M). The
//! latency of a message is from just before its POST is sent to the moment the other side's
//! long-poll hands it over, measured in this process on one clock. Throughput counts messages
//! acknowledged with a 2xx during the run, both directions. Messages still in flight when the run
//! ends are reported, not counted as lost.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tokio::sync::Mutex;

struct Options {
    base_url: String,
    visitors: usize,
    operators: usize,
    duration: Duration,
    think: Duration,
    admin_email: String,
    admin_password: String,
}

fn parse_options() -> Result<Options> {
    let mut options = Options {
        base_url: "http://127.0.0.1:3000".into(),
        visitors: 50,
        operators: 5,
        duration: Duration::from_secs(30),
        think: Duration::ZERO,
        admin_email: std::env::var("SPIN_VARIABLE_ADMIN_EMAIL")
            .unwrap_or_else(|_| "admin@example.com".into()),
        admin_password: std::env::var("SPIN_VARIABLE_ADMIN_PASSWORD").unwrap_or_default(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--base-url" => options.base_url = value()?.trim_end_matches('/').to_owned(),
            "--visitors" => options.visitors = value()?.parse()?,
            "--operators" => options.operators = value()?.parse()?,
            "--duration" => options.duration = Duration::from_secs(value()?.parse()?),
            "--think-ms" => options.think = Duration::from_millis(value()?.parse()?),
            "--admin-email" => options.admin_email = value()?,
            "--admin-password" => options.admin_password = value()?,
            "--help" | "-h" => {
                println!(
                    "usage: load [--base-url URL] [--visitors N] [--operators M] [--duration SECONDS] [--think-ms MS] [--admin-email E] [--admin-password P]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other} (try --help)"),
        }
    }
    if options.visitors == 0 || options.operators == 0 {
        bail!("--visitors and --operators must be at least 1");
    }
    Ok(options)
}

/// Shared bookkeeping: when each message's POST started, and what was measured.
#[derive(Default)]
struct Stats {
    sent_at: Mutex<HashMap<String, Instant>>,
    to_operator_ms: Mutex<Vec<f64>>,
    to_visitor_ms: Mutex<Vec<f64>>,
    acknowledged: AtomicU64,
    errors: AtomicU64,
}

impl Stats {
    async fn sending(&self, client_id: &str) {
        self.sent_at
            .lock()
            .await
            .insert(client_id.to_owned(), Instant::now());
    }

    async fn delivered(&self, client_id: &str, to_operator: bool) {
        if let Some(sent) = self.sent_at.lock().await.remove(client_id) {
            let ms = sent.elapsed().as_secs_f64() * 1000.0;
            let samples = if to_operator {
                &self.to_operator_ms
            } else {
                &self.to_visitor_ms
            };
            samples.lock().await.push(ms);
        }
    }
}

async fn post(http: &reqwest::Client, url: &str, bearer: &str, body: Value) -> Result<Value> {
    let response = http
        .post(url)
        .bearer_auth(bearer)
        .json(&body)
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("POST {url}: {status} {body}");
    }
    Ok(body)
}

async fn get(http: &reqwest::Client, url: &str, bearer: &str) -> Result<Value> {
    let response = http.get(url).bearer_auth(bearer).send().await?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("GET {url}: {status} {body}");
    }
    Ok(body)
}

fn message_events(page: &Value) -> impl Iterator<Item = &Value> {
    page["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["kind"] == "message.created")
        .map(|e| &e["data"]["message"])
}

async fn run_operator(
    index: usize,
    count: usize,
    base: String,
    token: String,
    http: reqwest::Client,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
) {
    // Start from now: the inbox listing's cursor is the newest event, not the oldest.
    let mut cursor = match get(&http, &format!("{base}/api/inbox/conversations"), &token).await {
        Ok(page) => page["cursor"].as_i64().unwrap_or(0),
        Err(_) => 0,
    };
    let mut replies = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let page = match get(
            &http,
            &format!("{base}/api/inbox/events?after={cursor}&wait=5"),
            &token,
        )
        .await
        {
            Ok(page) => page,
            Err(_) => {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        cursor = page["cursor"].as_i64().unwrap_or(cursor);
        for message in message_events(&page) {
            let conversation = message["conversation_id"].as_i64().unwrap_or(0);
            if message["author"] != "visitor" || conversation as usize % count != index {
                continue;
            }
            let Some(client_id) = message["client_id"].as_str() else {
                continue;
            };
            stats.delivered(client_id, true).await;
            replies += 1;
            let reply_id = format!("o{index}-{replies}");
            let (http, base, token, stats) =
                (http.clone(), base.clone(), token.clone(), stats.clone());
            tokio::spawn(async move {
                stats.sending(&reply_id).await;
                let url = format!("{base}/api/inbox/conversations/{conversation}/messages");
                match post(
                    &http,
                    &url,
                    &token,
                    json!({ "body": "Thanks, looking into it.", "client_id": reply_id }),
                )
                .await
                {
                    Ok(_) => stats.acknowledged.fetch_add(1, Ordering::Relaxed),
                    Err(_) => stats.errors.fetch_add(1, Ordering::Relaxed),
                };
            });
        }
    }
}

async fn run_visitor(
    index: usize,
    base: String,
    http: reqwest::Client,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
    think: Duration,
) -> Result<()> {
    let response = http
        .post(format!("{base}/api/widget/conversations"))
        .json(&json!({}))
        .send()
        .await?;
    let started: Value = response.json().await?;
    let token = started["visitor_token"]
        .as_str()
        .context("no visitor token")?
        .to_owned();
    let conversation = started["conversation"]["id"]
        .as_i64()
        .context("no conversation id")?;
    let url = format!("{base}/api/widget/conversations/{conversation}");
    let mut cursor = get(&http, &url, &token).await?["cursor"]
        .as_i64()
        .unwrap_or(0);
    let mut sequence = 0u64;
    while !stop.load(Ordering::Relaxed) {
        sequence += 1;
        let client_id = format!("v{index}-{sequence}");
        stats.sending(&client_id).await;
        match post(
            &http,
            &format!("{url}/messages"),
            &token,
            json!({ "body": format!("question {sequence}"), "client_id": client_id }),
        )
        .await
        {
            Ok(_) => stats.acknowledged.fetch_add(1, Ordering::Relaxed),
            Err(_) => {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        };
        // Wait for the operator's answer on this conversation's own stream.
        'answer: while !stop.load(Ordering::Relaxed) {
            let page = match get(
                &http,
                &format!("{url}/events?after={cursor}&wait=5"),
                &token,
            )
            .await
            {
                Ok(page) => page,
                Err(_) => {
                    stats.errors.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            };
            cursor = page["cursor"].as_i64().unwrap_or(cursor);
            for message in message_events(&page) {
                if message["author"] == "operator" {
                    if let Some(id) = message["client_id"].as_str() {
                        stats.delivered(id, false).await;
                    }
                    break 'answer;
                }
            }
        }
        if !think.is_zero() {
            tokio::time::sleep(think).await;
        }
    }
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn summary(name: &str, samples: &mut [f64]) {
    samples.sort_by(|a, b| a.total_cmp(b));
    println!(
        "  {name:<22} n={:<7} p50={:>7.1} ms  p95={:>7.1} ms  p99={:>7.1} ms  max={:>7.1} ms",
        samples.len(),
        percentile(samples, 50.0),
        percentile(samples, 95.0),
        percentile(samples, 99.0),
        samples.last().copied().unwrap_or(f64::NAN)
    );
}

#[tokio::main]
async fn main() -> Result<()> {
    let options = parse_options()?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(options.visitors * 2 + options.operators * 2)
        .timeout(Duration::from_secs(40))
        .build()?;
    let stats = Arc::new(Stats::default());
    let stop = Arc::new(AtomicBool::new(false));

    let mut operator_tokens = Vec::new();
    for _ in 0..options.operators {
        let response = http
            .post(format!("{}/api/inbox/login", options.base_url))
            .json(&json!({ "email": options.admin_email, "password": options.admin_password }))
            .send()
            .await
            .context("login request")?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let token = body["token"].as_str().with_context(|| {
            format!("login failed ({status}): {body}; pass --admin-email/--admin-password")
        })?;
        operator_tokens.push(token.to_owned());
    }

    let mut tasks = Vec::new();
    for (index, token) in operator_tokens.into_iter().enumerate() {
        let task = run_operator(
            index,
            options.operators,
            options.base_url.clone(),
            token,
            http.clone(),
            stats.clone(),
            stop.clone(),
        );
        tasks.push(tokio::spawn(async move {
            task.await;
            Ok::<(), anyhow::Error>(())
        }));
    }
    // Let the operators' first long-polls settle before visitors start writing.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    for index in 0..options.visitors {
        tasks.push(tokio::spawn(run_visitor(
            index,
            options.base_url.clone(),
            http.clone(),
            stats.clone(),
            stop.clone(),
            options.think,
        )));
    }
    tokio::time::sleep(options.duration).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();
    let acknowledged = stats.acknowledged.load(Ordering::Relaxed);
    // Give in-flight deliveries a moment, then stop waiting for long-polls.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for task in &tasks {
        task.abort();
    }

    let in_flight = stats.sent_at.lock().await.len();
    let mut to_operator = stats.to_operator_ms.lock().await.clone();
    let mut to_visitor = stats.to_visitor_ms.lock().await.clone();
    let mut all: Vec<f64> = to_operator
        .iter()
        .chain(to_visitor.iter())
        .copied()
        .collect();

    println!(
        "livechat load: {} visitors, {} operators, {:.1} s against {}",
        options.visitors,
        options.operators,
        elapsed.as_secs_f64(),
        options.base_url
    );
    println!(
        "method: closed loop; each visitor posts, waits for its operator's answer on its own long-poll, repeats (think {} ms).",
        options.think.as_millis()
    );
    println!(
        "        latency = POST sent -> message returned by the receiver's long-poll, one clock, this process."
    );
    println!(
        "messages acknowledged (2xx): {acknowledged}  ->  {:.1} messages/s",
        acknowledged as f64 / elapsed.as_secs_f64()
    );
    println!(
        "errors: {}   in flight at the end (not lost, not counted): {in_flight}",
        stats.errors.load(Ordering::Relaxed)
    );
    println!("post-to-delivery latency:");
    summary("visitor -> operator", &mut to_operator);
    summary("operator -> visitor", &mut to_visitor);
    summary("all messages", &mut all);
    Ok(())
}
