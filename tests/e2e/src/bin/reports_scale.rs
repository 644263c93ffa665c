//! Reports at scale: 100,000 conversations (by default) over 90 days in the event log, then
//! every report measured through the real `reports-api` component.
//!
//! ```text
//! cargo run --profile host -p e2e --bin reports_scale -- [--conversations 100000] [--runs 20]
//! ```
//!
//! Method (printed with the results): the app runs on the bundled test host over a fresh data
//! directory. After the first sign-in has created the schema, the database is seeded directly
//! with rusqlite through the app's own triggers, so the event log is what real traffic writes:
//! each conversation gets a customer message and (90 %) an assignment (`conversation.assigned`)
//! and an operator reply (`message.created` from the trigger); 75 % of those are resolved
//! (`conversation.status` events), 5 % of those reopened by a second customer message and
//! resolved again, 4 % transferred, 10 % handed off by the assistant first, 30 % rated, a third
//! tagged; 20 operators. Then the fold: `GET /api/reports/summary` is called until it reports
//! `caught_up` (each call folds batches of 5,000 events for at most 1.5 s), and the time to catch up is printed
//! with the events per second. Then each report over the whole 90 days is requested `--runs`
//! times one after another by one client; latency per request, p50 and max.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

fn parse_options() -> Result<(i64, usize)> {
    let (mut conversations, mut runs) = (100_000i64, 20usize);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--conversations" => conversations = value()?.parse()?,
            "--runs" => runs = value()?.parse()?,
            other => {
                bail!("unknown option {other}\nusage: reports_scale [--conversations N] [--runs N]")
            }
        }
    }
    if conversations < 1 || runs < 1 {
        bail!("need at least one conversation and one run");
    }
    Ok((conversations, runs))
}

fn seed(db_path: &std::path::Path, conversations: i64, admin_id: i64) -> Result<i64> {
    let mut db = rusqlite::Connection::open(db_path)?;
    db.busy_timeout(Duration::from_secs(30))?;
    db.pragma_update(None, "synchronous", "NORMAL")?;
    let tx = db.transaction()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let start = now - 90 * 86_400_000;
    let span = now - start - 3_600_000;
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
        let mut event = tx.prepare(
            "INSERT INTO events (conversation_id, kind, visibility, data, created_at)
             VALUES (?1, ?2, 'internal', ?3, ?4)",
        )?;
        let mut resolve = tx.prepare(
            "UPDATE conversations SET status = 'resolved', resolved_at = ?2, waiting_since = NULL
              WHERE id = ?1",
        )?;
        let mut tag = tx.prepare(
            "INSERT INTO conversation_tags (conversation_id, tag_id, created_at) VALUES (?1, ?2, ?3)",
        )?;
        let status = |from: &str, to: &str| {
            json!({"from": from, "to": to, "by": null, "reason": null, "snoozed_until": null})
                .to_string()
        };
        for i in 0..conversations {
            // Business-day-ish arrivals: the day's hour follows i, the day spreads over 90.
            let began = start + span * i / conversations;
            contact.execute(rusqlite::params![
                format!("Customer {i}"),
                format!("customer{i}@example.com"),
                began
            ])?;
            let contact_id = tx.last_insert_rowid();
            conversation.execute(rusqlite::params![contact_id, began])?;
            let id = tx.last_insert_rowid();
            let operator = operators[(i as usize * 7) % operators.len()];
            message.execute(rusqlite::params![
                id,
                "visitor",
                None::<i64>,
                "Where is my order?",
                began
            ])?;
            let mut at = began;
            if i % 10 == 3 {
                at += 60_000;
                event.execute(rusqlite::params![
                    id,
                    "assistant.handoff",
                    json!({"reasons": [{"trigger": "explicit_request", "evidence": "a person"}]})
                        .to_string(),
                    at
                ])?;
            }
            if i % 10 == 9 {
                continue; // never answered
            }
            at += 20_000 + (i % 17) * 15_000;
            // Assigned as the reply lands (routing's event), so the reply's trigger has
            // nothing to claim whatever the operator's load.
            event.execute(rusqlite::params![
                id,
                "conversation.assigned",
                json!({"from": null, "to": {"id": operator, "name": "x"}, "by": null, "reason": "routed"}).to_string(),
                at
            ])?;
            tx.execute(
                "UPDATE conversations SET assignee_id = ?2, assigned_at = ?3, waiting_since = NULL WHERE id = ?1",
                rusqlite::params![id, operator, at],
            )?;
            message.execute(rusqlite::params![
                id,
                "operator",
                Some(operator),
                "Happy to help.",
                at
            ])?;
            if i % 25 == 1 {
                at += 120_000;
                let to = operators[(i as usize * 7 + 1) % operators.len()];
                event.execute(rusqlite::params![
                    id,
                    "conversation.transferred",
                    json!({"from": {"id": operator}, "to_operator": {"id": to, "name": "x"}, "to_team": null}).to_string(),
                    at
                ])?;
                tx.execute(
                    "UPDATE conversations SET assignee_id = ?2 WHERE id = ?1",
                    rusqlite::params![id, to],
                )?;
            }
            if i % 4 == 0 {
                continue; // still open
            }
            at += 300_000 + (i % 23) * 60_000;
            event.execute(rusqlite::params![
                id,
                "conversation.status",
                status("open", "resolved"),
                at
            ])?;
            resolve.execute(rusqlite::params![id, at])?;
            if i % 20 == 7 {
                at += 3_600_000;
                message.execute(rusqlite::params![
                    id,
                    "visitor",
                    None::<i64>,
                    "Still not here",
                    at
                ])?;
                at += 600_000;
                event.execute(rusqlite::params![
                    id,
                    "conversation.status",
                    status("open", "resolved"),
                    at
                ])?;
                resolve.execute(rusqlite::params![id, at])?;
            }
            if i % 10 < 3 {
                event.execute(rusqlite::params![
                    id,
                    "csat.received",
                    json!({"rating": 1 + i % 5, "comment": null, "channel": "web", "operator_id": operator}).to_string(),
                    at + 60_000
                ])?;
            }
            if i % 3 == 0 {
                tag.execute(rusqlite::params![
                    id,
                    tags[(i as usize) % tags.len()],
                    began
                ])?;
            }
        }
    }
    let events: i64 = tx.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))?;
    tx.commit()?;
    Ok(events)
}

#[tokio::main]
async fn main() -> Result<()> {
    let (conversations, runs) = parse_options()?;
    let data = tempfile::tempdir()?;
    // REPORTS_SCALE_KEEP=1 keeps the seeded database for a closer look (its path is printed).
    let data_path = if std::env::var_os("REPORTS_SCALE_KEEP").is_some() {
        let kept = data.keep();
        println!("data kept in {}", kept.display());
        kept
    } else {
        data.path().to_owned()
    };
    let mut host =
        spin_test_host::HostOptions::new(e2e::workspace_root().join("spin.toml"), &data_path);
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
        .timeout(Duration::from_secs(120))
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
    let db_path = data_path.join("sqlite_db.db");
    let seed_path = db_path.clone();
    let events =
        tokio::task::spawn_blocking(move || seed(&seed_path, conversations, admin_id)).await??;
    println!(
        "seeded {conversations} conversations, {events} events in {:.1} s ({:.0} MB database)",
        seeding.elapsed().as_secs_f64(),
        std::fs::metadata(&db_path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6
    );

    let period = "tz=UTC&from={from}&to={to}";
    let today = chrono_like_today();
    let from = shift_days(&today, -91);
    let query = period.replace("{from}", &from).replace("{to}", &today);
    let get = |path: String| {
        let http = http.clone();
        let token = token.clone();
        async move {
            let started = Instant::now();
            let reply = http.get(path).bearer_auth(token).send().await?;
            let status = reply.status();
            let body = reply.text().await?;
            anyhow::ensure!(status.is_success(), "{status}: {body}");
            Ok::<_, anyhow::Error>((started.elapsed(), body))
        }
    };

    let folding = Instant::now();
    let mut calls = 0;
    loop {
        calls += 1;
        let (_, body) = get(format!("{base}/api/reports/summary?{query}")).await?;
        let summary: Value = serde_json::from_str(&body)?;
        if summary["caught_up"] == true {
            let n = summary["summary"]["conversations"].as_i64().unwrap_or(0);
            println!(
                "folded {events} events in {:.1} s over {calls} requests (each folds for at most 1.5 s) ({:.0} events/s); the report covers {n} conversations",
                folding.elapsed().as_secs_f64(),
                events as f64 / folding.elapsed().as_secs_f64()
            );
            break;
        }
    }

    println!();
    println!(
        "method: test host on this machine; each report over the 92 days holding all {conversations} conversations, requested {runs} times one after another by one client, after the fold caught up; latency per request"
    );
    println!("| report | p50 ms | max ms | under 1 s |");
    println!("|---|---:|---:|---|");
    for (name, path) in [
        ("summary (headline metrics + daily series)", "summary"),
        (
            "operators (per-operator table, concurrent load)",
            "operators",
        ),
        ("tags (resolution time by tag)", "tags"),
        ("traffic (weekday x hour)", "traffic"),
        ("staffing (Erlang C for 168 hours + roster)", "staffing"),
        ("live (queue now, today's figures)", "live"),
        ("operators as CSV", "operators?format=csv&x=1"),
    ] {
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let separator = if path.contains('?') { '&' } else { '?' };
            let (elapsed, _) = get(format!("{base}/api/reports/{path}{separator}{query}")).await?;
            times.push(elapsed.as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        let p50 = times[times.len() / 2];
        let max = times[times.len() - 1];
        println!(
            "| {name} | {p50:.0} | {max:.0} | {} |",
            if max < 1000.0 { "yes" } else { "no" }
        );
    }
    server.shutdown().await;
    Ok(())
}

/// Today's date in UTC, `YYYY-MM-DD`.
fn chrono_like_today() -> String {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0) as i64;
    civil(days)
}

fn shift_days(date: &str, by: i64) -> String {
    let mut parts = date.split('-').map(|p| p.parse::<i64>().unwrap_or(1));
    let (y, m, d) = (
        parts.next().unwrap_or(1970),
        parts.next().unwrap_or(1),
        parts.next().unwrap_or(1),
    );
    civil(days_from_civil(y, m, d) + by)
}

/// Howard Hinnant's civil-from-days and days-from-civil (proleptic Gregorian).
fn civil(z: i64) -> String {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
