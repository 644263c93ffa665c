//! Load tool: N visitors and M operators chatting against any base URL (the test host or real
//! Spin), printing throughput, post-to-delivery latency percentiles, errors and, when given the
//! server's process id, its memory at the start and the end.
//!
//! ```text
//! load --base-url http://127.0.0.1:3000 --visitors 500 --think-ms 2000 --duration 300 \
//!      --admin-email admin@example.com --admin-password '...' --host-pid 12345
//! ```
//!
//! Method (printed with the results): the tool invites M operators through the admin API
//! (`--operators`, raised to at least visitors / 50 so that every conversation has a seat;
//! capacity `ceil(visitors / M)`, at most 50), signs them in, makes them available and keeps
//! them online with heartbeats. Every visitor starts a conversation, so N conversations are
//! open at once: they arrive spread over `--ramp-s` seconds, each saying hello and getting its
//! first answer (the router assigns it to an operator then), and the measured run starts when
//! the last has arrived (its errors still count). Each visitor then, in a closed
//! loop, posts a message and waits on its own long-poll for its operator's answer before
//! posting the next, pausing `--think-ms` (±50 %, so visitors do not march in step) in between.
//! Each operator long-polls the inbox event stream and answers the visitor messages of the
//! conversations assigned to it. The latency of a message is from just before its POST is sent
//! to the moment the other side's long-poll hands it over, measured in this process on one
//! clock. Throughput counts messages acknowledged with a 2xx during the run, both directions.
//!
//! Errors (the run exits non-zero when there is any): every non-2xx answer or failed request
//! (including timeouts), and every acknowledged message that was not delivered to the other
//! side: after `--duration` no new messages are posted, and clients keep polling for up to
//! `--grace` seconds for the answers still due; what is still undelivered then is lost.
//!
//! At the end the operators go offline, so the next run starts from an empty seat plan; the
//! conversations stay (a load run against a real deployment leaves its traffic behind).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// The most conversations the app lets one operator hold (README, "Limits").
const MAX_CAPACITY: usize = 50;

struct Options {
    base_url: String,
    visitors: usize,
    operators: usize,
    duration: Duration,
    grace: Duration,
    think: Duration,
    ramp: Duration,
    admin_email: String,
    admin_password: String,
    host_pid: Option<u32>,
}

const USAGE: &str = "usage: load [--base-url URL] [--visitors N] [--operators M] [--duration SECONDS] [--grace SECONDS] [--think-ms MS] [--ramp-s SECONDS] [--admin-email E] [--admin-password P] [--host-pid PID]";

fn parse_options() -> Result<Options> {
    let mut options = Options {
        base_url: "http://127.0.0.1:3000".into(),
        visitors: 50,
        operators: 5,
        duration: Duration::from_secs(30),
        grace: Duration::from_secs(10),
        think: Duration::ZERO,
        ramp: Duration::ZERO,
        admin_email: std::env::var("SPIN_VARIABLE_ADMIN_EMAIL")
            .unwrap_or_else(|_| "admin@example.com".into()),
        admin_password: std::env::var("SPIN_VARIABLE_ADMIN_PASSWORD").unwrap_or_default(),
        host_pid: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--base-url" => options.base_url = value()?.trim_end_matches('/').to_owned(),
            "--visitors" => options.visitors = value()?.parse()?,
            "--operators" => options.operators = value()?.parse()?,
            "--duration" => options.duration = Duration::from_secs(value()?.parse()?),
            "--grace" => options.grace = Duration::from_secs(value()?.parse()?),
            "--think-ms" => options.think = Duration::from_millis(value()?.parse()?),
            "--ramp-s" => options.ramp = Duration::from_secs(value()?.parse()?),
            "--admin-email" => options.admin_email = value()?,
            "--admin-password" => options.admin_password = value()?,
            "--host-pid" => options.host_pid = Some(value()?.parse()?),
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other} (try --help)"),
        }
    }
    if options.visitors == 0 || options.operators == 0 {
        bail!("--visitors and --operators must be at least 1");
    }
    options.operators = options
        .operators
        .max(options.visitors.div_ceil(MAX_CAPACITY));
    Ok(options)
}

/// The resident memory of process `pid` (`VmRSS` in /proc), in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Shared bookkeeping: when each message's POST started, and what was measured.
#[derive(Default)]
struct Stats {
    sent_at: Mutex<HashMap<String, Instant>>,
    /// Acknowledged messages not yet delivered to the other side (client id).
    undelivered: Mutex<HashSet<String>>,
    to_operator_ms: Mutex<Vec<f64>>,
    to_visitor_ms: Mutex<Vec<f64>>,
    acknowledged: AtomicU64,
    /// Conversations the visitors started (all open during the run: nobody resolves).
    conversations: AtomicU64,
    errors: AtomicU64,
    first_errors: Mutex<Vec<String>>,
}

impl Stats {
    async fn sending(&self, client_id: &str) {
        self.sent_at
            .lock()
            .await
            .insert(client_id.to_owned(), Instant::now());
    }

    async fn acknowledged(&self, client_id: &str) {
        self.acknowledged.fetch_add(1, Ordering::Relaxed);
        // The answer may already have been delivered (the other side's poll can win the race
        // with this POST's response); then there is nothing left to wait for.
        // Both under the `sent_at` lock (always taken first), so a delivery cannot slip in
        // between the check and the insert.
        let sent_at = self.sent_at.lock().await;
        if sent_at.contains_key(client_id) {
            self.undelivered.lock().await.insert(client_id.to_owned());
        }
    }

    async fn delivered(&self, client_id: &str, to_operator: bool) {
        let sent = {
            let mut sent_at = self.sent_at.lock().await;
            self.undelivered.lock().await.remove(client_id);
            sent_at.remove(client_id)
        };
        if let Some(sent) = sent {
            let ms = sent.elapsed().as_secs_f64() * 1000.0;
            let samples = if to_operator {
                &self.to_operator_ms
            } else {
                &self.to_visitor_ms
            };
            samples.lock().await.push(ms);
        }
    }

    async fn error(&self, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first_errors.lock().await;
        if first.len() < 10 {
            first.push(what);
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

fn events(page: &Value) -> impl Iterator<Item = &Value> {
    page["events"].as_array().into_iter().flatten()
}

fn message_events(page: &Value) -> impl Iterator<Item = &Value> {
    events(page)
        .filter(|e| e["kind"] == "message.created")
        .map(|e| &e["data"]["message"])
}

/// Flags that end the run in two steps.
#[derive(Default)]
struct Phase {
    /// No new visitor messages after this.
    no_new_messages: AtomicBool,
    /// Everybody stops polling after this.
    done: AtomicBool,
}

/// A signed-in operator of this run.
struct Staff {
    id: i64,
    token: String,
}

/// Invites an operator, signs them in through the invitation, sets their capacity and makes
/// them available.
async fn hire(
    http: &reqwest::Client,
    base: &str,
    admin: &str,
    email: &str,
    capacity: usize,
) -> Result<Staff> {
    let invited = post(
        http,
        &format!("{base}/api/admin/operators"),
        admin,
        json!({ "email": email, "name": email, "role": "operator" }),
    )
    .await
    .context("invite an operator")?;
    let token = invited["invite_url"]
        .as_str()
        .and_then(|url| url.split_once("#invite="))
        .map(|(_, token)| token.to_owned())
        .context("no invite_url in the invitation")?;
    let response = http
        .post(format!("{base}/api/inbox/invites/accept"))
        .json(&json!({ "token": token, "password": "load test password 1" }))
        .send()
        .await?;
    let signed_in: Value = response.json().await?;
    let staff = Staff {
        id: signed_in["operator"]["id"]
            .as_i64()
            .context("accepting the invitation gave no operator")?,
        token: signed_in["token"]
            .as_str()
            .context("accepting the invitation gave no session")?
            .to_owned(),
    };
    let url = format!("{base}/api/admin/operators/{}", staff.id);
    let response = http
        .patch(url)
        .bearer_auth(admin)
        .json(&json!({ "capacity": capacity }))
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("set capacity: {}", response.status());
    }
    post(
        http,
        &format!("{base}/api/inbox/presence"),
        &staff.token,
        json!({ "presence": "available" }),
    )
    .await?;
    Ok(staff)
}

/// Answers the visitor messages of the conversations assigned to this operator.
async fn run_operator(
    index: usize,
    staff: Arc<Staff>,
    base: String,
    http: reqwest::Client,
    stats: Arc<Stats>,
    phase: Arc<Phase>,
) {
    let token = &staff.token;
    // Start from now: the inbox listing's cursor is the newest event, not the oldest.
    let mut cursor = match get(&http, &format!("{base}/api/inbox/conversations"), token).await {
        Ok(page) => page["cursor"].as_i64().unwrap_or(0),
        Err(error) => {
            stats.error(format!("operator listing: {error:#}")).await;
            0
        }
    };
    let mut mine = HashSet::new();
    // Visitor messages seen before their conversation's assignment reached this stream.
    let mut waiting: HashMap<i64, String> = HashMap::new();
    let mut replies = 0u64;
    while !phase.done.load(Ordering::Relaxed) {
        let page = match get(
            &http,
            &format!("{base}/api/inbox/events?after={cursor}&wait=5"),
            token,
        )
        .await
        {
            Ok(page) => page,
            Err(error) => {
                stats.error(format!("operator events: {error:#}")).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        cursor = page["cursor"].as_i64().unwrap_or(cursor);
        let mut to_answer = Vec::new();
        for event in events(&page) {
            let conversation = event["conversation_id"].as_i64().unwrap_or(0);
            match event["kind"].as_str() {
                Some("conversation.assigned") => {
                    if event["data"]["to"]["id"].as_i64() == Some(staff.id) {
                        mine.insert(conversation);
                        if let Some(client_id) = waiting.remove(&conversation) {
                            to_answer.push((conversation, client_id));
                        }
                    } else {
                        // Someone else's (or nobody's) now: a message seen earlier is theirs
                        // to answer, not this operator's, even if it comes back here later.
                        mine.remove(&conversation);
                        waiting.remove(&conversation);
                    }
                }
                Some("message.created") => {
                    let message = &event["data"]["message"];
                    if message["author"] != "visitor" {
                        continue;
                    }
                    let Some(client_id) = message["client_id"].as_str() else {
                        continue;
                    };
                    if mine.contains(&conversation) {
                        to_answer.push((conversation, client_id.to_owned()));
                    } else {
                        waiting.insert(conversation, client_id.to_owned());
                    }
                }
                _ => {}
            }
        }
        for (conversation, client_id) in to_answer {
            stats.delivered(&client_id, true).await;
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
                    Ok(_) => stats.acknowledged(&reply_id).await,
                    Err(error) => stats.error(format!("operator reply: {error:#}")).await,
                };
            });
        }
    }
}

/// Keeps the operators online (the app counts an operator as available only while their
/// console checks in).
async fn heartbeats(
    staff: Vec<Arc<Staff>>,
    base: String,
    http: reqwest::Client,
    stats: Arc<Stats>,
    phase: Arc<Phase>,
) {
    while !phase.done.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_secs(20)).await;
        for operator in &staff {
            if let Err(error) = post(
                &http,
                &format!("{base}/api/inbox/heartbeat"),
                &operator.token,
                json!({}),
            )
            .await
            {
                stats.error(format!("heartbeat: {error:#}")).await;
            }
        }
    }
}

/// A small deterministic spread of think times (±50 %), so that visitors do not post in step.
fn jitter(think: Duration, index: usize, sequence: u64) -> Duration {
    let spread = ((index as u64).wrapping_mul(7919) ^ sequence.wrapping_mul(104_729)) % 101;
    think.mul_f64(0.5 + spread as f64 / 100.0)
}

/// When a visitor arrives and how long it thinks between messages.
struct Pace {
    think: Duration,
    arrive_after: Duration,
}

async fn run_visitor(
    index: usize,
    base: String,
    http: reqwest::Client,
    stats: Arc<Stats>,
    phase: Arc<Phase>,
    pace: Pace,
    arrived: Arc<AtomicU64>,
) -> Result<()> {
    let think = pace.think;
    tokio::time::sleep(pace.arrive_after).await;
    let opened = async {
        let response = http
            .post(format!("{base}/api/widget/conversations"))
            .json(&json!({}))
            .send()
            .await?;
        let status = response.status();
        let started: Value = response.json().await?;
        if !status.is_success() {
            bail!("start conversation: {status} {started}");
        }
        anyhow::Ok(started)
    }
    .await;
    let started = match opened {
        Ok(started) => {
            stats.conversations.fetch_add(1, Ordering::Relaxed);
            started
        }
        Err(error) => {
            stats.error(format!("{error:#}")).await;
            arrived.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
    };
    let token = started["visitor_token"]
        .as_str()
        .context("no visitor token")?
        .to_owned();
    let conversation = started["conversation"]["id"]
        .as_i64()
        .context("no conversation id")?;
    let url = format!("{base}/api/widget/conversations/{conversation}");
    let mut cursor = match get(&http, &url, &token).await {
        Ok(snapshot) => snapshot["cursor"].as_i64().unwrap_or(0),
        Err(error) => {
            stats.error(format!("visitor snapshot: {error:#}")).await;
            return Ok(());
        }
    };
    let mut sequence = 0u64;
    while !phase.no_new_messages.load(Ordering::Relaxed) {
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
            Ok(_) => stats.acknowledged(&client_id).await,
            Err(error) => {
                stats.error(format!("visitor message: {error:#}")).await;
                if sequence == 1 {
                    arrived.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        // Wait for the operator's answer on this conversation's own stream.
        'answer: while !phase.done.load(Ordering::Relaxed) {
            let page = match get(
                &http,
                &format!("{url}/events?after={cursor}&wait=5"),
                &token,
            )
            .await
            {
                Ok(page) => page,
                Err(error) => {
                    stats.error(format!("visitor events: {error:#}")).await;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            cursor = page["cursor"].as_i64().unwrap_or(cursor);
            // Every operator message the poll returns is delivered (a late answer can arrive
            // together with the current one).
            let mut answered = false;
            for message in message_events(&page) {
                if message["author"] == "operator" {
                    if let Some(id) = message["client_id"].as_str() {
                        stats.delivered(id, false).await;
                    }
                    answered = true;
                }
            }
            if answered {
                break 'answer;
            }
        }
        if sequence == 1 {
            // Arrived: said hello and got an answer (or failed to); the measured run starts
            // when every visitor has.
            arrived.fetch_add(1, Ordering::Relaxed);
        }
        if !think.is_zero() {
            tokio::time::sleep(jitter(think, index, sequence)).await;
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

fn memory(pid: Option<u32>) -> String {
    match pid.and_then(rss_kib) {
        Some(kib) => format!("{:.1} MiB", kib as f64 / 1024.0),
        None => "n/a".to_owned(),
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let options = parse_options()?;
    let base = options.base_url.clone();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(options.visitors * 2 + options.operators * 2)
        .timeout(Duration::from_secs(40))
        .build()?;
    let stats = Arc::new(Stats::default());
    let phase = Arc::new(Phase::default());
    let memory_at_start = memory(options.host_pid);

    let response = http
        .post(format!("{base}/api/inbox/login"))
        .json(&json!({ "email": options.admin_email, "password": options.admin_password }))
        .send()
        .await
        .context("login request")?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let admin = body["token"]
        .as_str()
        .with_context(|| {
            format!("admin login failed ({status}): {body}; pass --admin-email/--admin-password")
        })?
        .to_owned();
    let capacity = options
        .visitors
        .div_ceil(options.operators)
        .clamp(1, MAX_CAPACITY);
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let mut staff = Vec::new();
    for i in 0..options.operators {
        let email = format!("load-{run}-{i}@example.com");
        staff.push(Arc::new(
            hire(&http, &base, &admin, &email, capacity).await?,
        ));
    }

    let mut tasks = Vec::new();
    for (index, operator) in staff.iter().enumerate() {
        tasks.push(tokio::spawn(run_operator(
            index,
            operator.clone(),
            base.clone(),
            http.clone(),
            stats.clone(),
            phase.clone(),
        )));
    }
    tokio::spawn(heartbeats(
        staff.clone(),
        base.clone(),
        http.clone(),
        stats.clone(),
        phase.clone(),
    ));
    // Let the operators' first long-polls settle before visitors start writing.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let arrived = Arc::new(AtomicU64::new(0));
    let mut visitors = Vec::new();
    for index in 0..options.visitors {
        visitors.push(tokio::spawn(run_visitor(
            index,
            base.clone(),
            http.clone(),
            stats.clone(),
            phase.clone(),
            Pace {
                think: options.think,
                arrive_after: options.ramp.mul_f64(index as f64 / options.visitors as f64),
            },
            arrived.clone(),
        )));
    }
    // The measured run starts once every visitor has arrived (started a conversation, said
    // hello and been answered), or a minute after the last was due, whichever comes first.
    let arrival_deadline = Instant::now() + options.ramp + Duration::from_secs(60);
    while arrived.load(Ordering::Relaxed) < options.visitors as u64
        && Instant::now() < arrival_deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let started = Instant::now();
    let before_run = (
        stats.acknowledged.load(Ordering::Relaxed),
        stats.to_operator_ms.lock().await.len(),
        stats.to_visitor_ms.lock().await.len(),
        stats.errors.load(Ordering::Relaxed),
    );
    // The host's memory every 30 s of the run: a plateau and a leak look different.
    let memory_samples = Arc::new(Mutex::new(Vec::new()));
    if let Some(pid) = options.host_pid {
        let (samples, phase) = (memory_samples.clone(), phase.clone());
        tokio::spawn(async move {
            while !phase.done.load(Ordering::Relaxed) {
                if let Some(kib) = rss_kib(pid) {
                    samples
                        .lock()
                        .await
                        .push((started.elapsed().as_secs(), kib / 1024));
                }
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
        });
    }
    let open = stats.conversations.load(Ordering::Relaxed);
    tokio::time::sleep(options.duration).await;
    phase.no_new_messages.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();
    let acknowledged = stats.acknowledged.load(Ordering::Relaxed) - before_run.0;
    // Answers still due get `--grace` to arrive.
    let grace_until = Instant::now() + options.grace;
    while Instant::now() < grace_until && !stats.undelivered.lock().await.is_empty() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    phase.done.store(true, Ordering::Relaxed);
    let memory_at_end = memory(options.host_pid);
    for task in &tasks {
        task.abort();
    }
    for task in &visitors {
        task.abort();
    }
    for operator in &staff {
        let _ = post(
            &http,
            &format!("{base}/api/inbox/presence"),
            &operator.token,
            json!({ "presence": "offline" }),
        )
        .await;
    }

    let lost = stats.undelivered.lock().await.len() as u64;
    let errors = stats.errors.load(Ordering::Relaxed);
    // Latency of the measured run only (the arrivals' exchanges come before).
    let mut to_operator = stats.to_operator_ms.lock().await[before_run.1..].to_vec();
    let mut to_visitor = stats.to_visitor_ms.lock().await[before_run.2..].to_vec();
    let mut all: Vec<f64> = to_operator
        .iter()
        .chain(to_visitor.iter())
        .copied()
        .collect();

    println!(
        "livechat load: {} visitors arriving over {} s ({open} open conversations during the run), {} operators (capacity {capacity} each), {:.1} s against {base}",
        options.visitors,
        options.ramp.as_secs(),
        options.operators,
        elapsed.as_secs_f64(),
    );
    println!(
        "method: closed loop; each visitor posts, waits for its operator's answer on its own long-poll, thinks {} ms (±50 %), repeats;",
        options.think.as_millis()
    );
    println!(
        "        operators answer the conversations the router assigned them, from the inbox long-poll; heartbeats every 20 s."
    );
    println!(
        "        latency = POST sent -> message returned by the receiver's long-poll, one clock, this process."
    );
    println!(
        "        errors = non-2xx answers and failed requests + acknowledged messages not delivered {} s after the last post.",
        options.grace.as_secs()
    );
    println!(
        "messages acknowledged (2xx): {acknowledged}  ->  {:.1} messages/s",
        acknowledged as f64 / elapsed.as_secs_f64()
    );
    println!(
        "errors: {}  (failed requests {errors}: {} while visitors arrived, {} during the run; acknowledged but never delivered {lost})",
        errors + lost,
        before_run.3,
        errors - before_run.3
    );
    for error in stats.first_errors.lock().await.iter() {
        println!("  e.g. {error}");
    }
    let undelivered = stats.undelivered.lock().await;
    if !undelivered.is_empty() {
        let some: Vec<&String> = undelivered.iter().take(10).collect();
        println!("  undelivered (client ids; v = visitor message, o = operator reply): {some:?}");
    }
    drop(undelivered);
    println!("post-to-delivery latency:");
    summary("visitor -> operator", &mut to_operator);
    summary("operator -> visitor", &mut to_visitor);
    summary("all messages", &mut all);
    if let Some(pid) = options.host_pid {
        println!(
            "host process {pid} memory (VmRSS): {memory_at_start} at the start (before any traffic), {memory_at_end} at the end"
        );
        let samples = memory_samples.lock().await;
        let timeline: Vec<String> = samples
            .iter()
            .map(|(at, mib)| format!("{at} s: {mib} MiB"))
            .collect();
        println!("  during the run: {}", timeline.join(", "));
    }
    if errors + lost > 0 {
        bail!("{} errors", errors + lost);
    }
    Ok(())
}
