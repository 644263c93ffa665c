//! Inbox listing latency at scale: 10,000 conversations and 200,000 messages (by default) in the
//! database, then the console's listings measured through the real components.
//!
//! ```text
//! cargo run --profile host -p e2e --bin inbox_scale -- [--conversations 10000] \
//!     [--messages 200000] [--clients 8] [--duration 10]
//! ```
//!
//! Method (printed with the results): the app runs on the bundled test host over a fresh data
//! directory. After the first sign-in has created the schema, the database is seeded directly
//! with rusqlite through the app's own triggers (so every message also writes its event, its
//! conversation's state and its full-text index entry, exactly as a real POST would): contacts,
//! conversations over 90 days, messages alternating visitor/operator, 20 operators, tags on a
//! third of the conversations, then statuses (70 % resolved, 20 % open, 5 % pending, 5 %
//! snoozed). Each listing then runs for `--duration` seconds with `--clients` concurrent
//! clients back to back over keep-alive connections; latency is per request in this process,
//! requests/s counts 2xx answers. The baseline (`GET /api/widget/config`, no store) gives each
//! listing's share of what the runtime can do at all.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

#[derive(Clone)]
struct Options {
    conversations: i64,
    messages: i64,
    clients: usize,
    duration: Duration,
}

fn parse_options() -> Result<Options> {
    let mut options = Options {
        conversations: 10_000,
        messages: 200_000,
        clients: 8,
        duration: Duration::from_secs(10),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--conversations" => options.conversations = value()?.parse()?,
            "--messages" => options.messages = value()?.parse()?,
            "--clients" => options.clients = value()?.parse()?,
            "--duration" => options.duration = Duration::from_secs(value()?.parse()?),
            other => bail!(
                "unknown option {other}\nusage: inbox_scale [--conversations N] [--messages N] [--clients N] [--duration SECONDS]"
            ),
        }
    }
    if options.conversations < 1 || options.messages < options.conversations {
        bail!("need at least one conversation and one message per conversation");
    }
    Ok(options)
}

/// Fills the database the way months of use would, through the schema's own triggers.
fn seed(db_path: &std::path::Path, options: &Options, admin_id: i64) -> Result<()> {
    let mut db = rusqlite::Connection::open(db_path)?;
    db.busy_timeout(Duration::from_secs(30))?;
    db.pragma_update(None, "synchronous", "NORMAL")?;
    let tx = db.transaction()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let start = now - 90 * 86_400_000;
    let span = now - start;
    let mut operators = vec![admin_id];
    for i in 0..19 {
        tx.execute(
            "INSERT INTO operators (email, name, role, password_hash, created_at, presence)
             VALUES (?1, ?2, 'operator', '', ?3, 'available')",
            rusqlite::params![format!("agent{i}@example.com"), format!("Agent {i}"), start],
        )?;
        operators.push(tx.last_insert_rowid());
    }
    let mut tags = Vec::new();
    for name in ["billing", "shipping", "bug", "refund", "vip"] {
        tx.execute(
            "INSERT INTO tags (name, created_at) VALUES (?1, ?2)",
            rusqlite::params![name, start],
        )?;
        tags.push(tx.last_insert_rowid());
    }
    let words = [
        "order",
        "parcel",
        "refund",
        "invoice",
        "password",
        "delivery",
        "account",
        "upgrade",
        "broken",
        "discount",
        "shipping",
        "address",
        "login",
        "payment",
        "subscription",
    ];
    let per_conversation = options.messages / options.conversations;
    let mut extra = options.messages % options.conversations;
    {
        let mut contact =
            tx.prepare("INSERT INTO contacts (name, email, created_at) VALUES (?1, ?2, ?3)")?;
        let mut conversation = tx.prepare(
            "INSERT INTO conversations (contact_id, visitor_contact_id, created_at, updated_at)
             VALUES (?1, ?1, ?2, ?2)",
        )?;
        let mut message = tx.prepare(
            "INSERT INTO messages (conversation_id, author, operator_id, body, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut tag = tx.prepare(
            "INSERT INTO conversation_tags (conversation_id, tag_id, created_at) VALUES (?1, ?2, ?3)",
        )?;
        for i in 0..options.conversations {
            let began = start + span * i / options.conversations;
            contact.execute(rusqlite::params![
                format!("Customer {i}"),
                format!("customer{i}@example.com"),
                began
            ])?;
            let contact_id = tx.last_insert_rowid();
            conversation.execute(rusqlite::params![contact_id, began])?;
            let conversation_id = tx.last_insert_rowid();
            let operator = operators[(i as usize) % operators.len()];
            let count = per_conversation + i64::from(extra > 0);
            extra = extra.saturating_sub(1);
            for m in 0..count {
                let (author, operator_id) = if m % 2 == 0 {
                    ("visitor", None)
                } else {
                    ("operator", Some(operator))
                };
                let body = format!(
                    "Message {m} about my {} and the {} (conversation {conversation_id})",
                    words[((i + m) as usize) % words.len()],
                    words[((i * 7 + m * 3) as usize) % words.len()]
                );
                message.execute(rusqlite::params![
                    conversation_id,
                    author,
                    operator_id,
                    body,
                    began + m * 60_000
                ])?;
            }
            if i % 3 == 0 {
                tag.execute(rusqlite::params![
                    conversation_id,
                    tags[(i as usize) % tags.len()],
                    began
                ])?;
            }
        }
    }
    // Statuses last: the message trigger reopens on every visitor message, as in real life.
    tx.execute_batch(&format!(
        "UPDATE conversations SET status = 'resolved', waiting_since = NULL WHERE id % 20 < 14;
         UPDATE conversations SET status = 'pending', waiting_since = NULL WHERE id % 20 = 14;
         UPDATE conversations SET status = 'snoozed', snoozed_until = {}, waiting_since = NULL
          WHERE id % 20 = 15;",
        now + 86_400_000
    ))?;
    tx.commit()?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let options = parse_options()?;
    let data = tempfile::tempdir()?;
    let mut host =
        spin_test_host::HostOptions::new(e2e::workspace_root().join("spin.toml"), data.path());
    host.variables
        .insert("admin_email".into(), e2e::ADMIN_EMAIL.into());
    host.variables
        .insert("admin_password".into(), e2e::ADMIN_PASSWORD.into());
    host.variables.extend(
        e2e::UNLIMITED_RATES
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
    );
    let app = spin_test_host::App::load(host)
        .await
        .context("build the components first (see README)")?;
    let server = app.serve("127.0.0.1:0".parse()?).await?;
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(60))
        .build()?;

    let login: Value = http
        .post(format!("{base}/api/inbox/login"))
        .json(&json!({ "email": e2e::ADMIN_EMAIL, "password": e2e::ADMIN_PASSWORD }))
        .send()
        .await?
        .json()
        .await?;
    let token = login["token"].as_str().context("login failed")?.to_owned();
    let admin_id = login["operator"]["id"].as_i64().context("no operator id")?;

    let seeding = Instant::now();
    let db_path = data.path().join("sqlite_db.db");
    let seed_options = options.clone();
    let seed_path = db_path.clone();
    tokio::task::spawn_blocking(move || seed(&seed_path, &seed_options, admin_id)).await??;
    println!(
        "seeded {} conversations and {} messages in {:.1} s ({:.0} MB database)",
        options.conversations,
        options.messages,
        seeding.elapsed().as_secs_f64(),
        std::fs::metadata(&db_path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6
    );

    let inbox = |query: &str| format!("{base}/api/inbox/conversations?{query}");
    let cases: Vec<(&str, String, Option<String>)> = vec![
        (
            "baseline: GET /api/widget/config (no store)",
            format!("{base}/api/widget/config"),
            None,
        ),
        (
            "open conversations (default view)",
            inbox("status=open"),
            Some(token.clone()),
        ),
        (
            "all conversations, newest first",
            inbox("status=all"),
            Some(token.clone()),
        ),
        (
            "one operator's open conversations",
            inbox("status=open&assignee=2"),
            Some(token.clone()),
        ),
        (
            "by tag, all statuses",
            inbox("status=all&tag=1"),
            Some(token.clone()),
        ),
        (
            "search: two common words (each in ~13 % of messages)",
            inbox("status=all&q=parcel%20refund"),
            Some(token.clone()),
        ),
        (
            "search: a rare term (one conversation's messages)",
            inbox("status=all&q=4242"),
            Some(token.clone()),
        ),
        (
            "search: contact email",
            inbox("status=all&q=customer4242%40"),
            Some(token.clone()),
        ),
    ];
    println!();
    println!(
        "method: test host on this machine, {} clients back to back for {} s per row; latency per request; share = requests/s relative to the baseline",
        options.clients,
        options.duration.as_secs()
    );
    println!("| listing | requests/s | share of baseline | p50 ms | p99 ms | failures |");
    println!("|---|---:|---:|---:|---:|---:|");
    let mut baseline = f64::NAN;
    for (name, url, token) in cases {
        let http = http.clone();
        let measured = e2e::measure(options.clients, options.duration, move |_, _| {
            let request = http.get(&url);
            match &token {
                Some(token) => request.bearer_auth(token),
                None => request,
            }
        })
        .await;
        if baseline.is_nan() {
            baseline = measured.per_second;
        }
        println!(
            "| {name} | {:.0} | {:.0} % | {:.1} | {:.1} | {} |",
            measured.per_second,
            100.0 * measured.per_second / baseline,
            measured.p50,
            measured.p99,
            measured.failures
        );
    }
    server.shutdown().await;
    Ok(())
}
