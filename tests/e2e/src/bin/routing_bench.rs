//! Routing decision latency at scale: 500 operators and 5,000 waiting conversations (by
//! default), measured on the rules alone and on the real `router` component.
//!
//! ```text
//! cargo run --profile host -p e2e --bin routing_bench -- [--operators 500] [--waiting 5000] \
//!     [--samples 100]
//! ```
//!
//! Method (printed with the results):
//! 1. The rules alone: `shared::routing::route` choosing among `--operators` candidates (half of
//!    them with room, 8 topics as skills with levels 1-5, 3 languages), per strategy, timed over
//!    2,000 decisions in this process.
//! 2. The router component on the bundled test host: the database is seeded with rusqlite:
//!    `--operators` available operators (capacity 3, skills, languages), each already holding 3
//!    open conversations, and `--waiting` waiting conversations (topics, 10 % VIP, waits spread
//!    over the last 30 minutes, already classified). Then `POST /route` is sent to the private
//!    component the way service chaining reaches it (`App::call_component`), `--samples` times
//!    per case: a pass that finds everyone busy; a pass after one conversation was resolved
//!    (directly in SQLite), which must assign exactly one waiting conversation (checked); the
//!    same with skills routing; and a pass that also runs the re-routing sweep. Latency is the
//!    whole call (a fresh component instance, its SQLite connection, the pass, the response).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;
use shared::routing::{self, Candidate, Need, Policy, Strategy};

const TOPICS: [&str; 8] = [
    "billing", "shipping", "returns", "tech", "account", "sales", "legal", "partners",
];
const LANGUAGES: [&str; 3] = ["en", "de", "fr"];

struct Options {
    operators: i64,
    waiting: i64,
    samples: usize,
}

fn parse_options() -> Result<Options> {
    let mut options = Options {
        operators: 500,
        waiting: 5_000,
        samples: 100,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--operators" => options.operators = value()?.parse()?,
            "--waiting" => options.waiting = value()?.parse()?,
            "--samples" => options.samples = value()?.parse()?,
            other => bail!(
                "unknown option {other}\nusage: routing_bench [--operators N] [--waiting N] [--samples N]"
            ),
        }
    }
    ensure!(
        options.operators >= 1 && options.waiting >= options.samples as i64 * 2,
        "need an operator and at least two waiting conversations per sample"
    );
    Ok(options)
}

/// A deterministic spread (no RNG dependency needed for a benchmark's fixture).
fn pick(i: i64, salt: i64, n: usize) -> usize {
    ((i.wrapping_mul(2_654_435_761).wrapping_add(salt * 97)).rem_euclid(n as i64)) as usize
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn summary(mut samples: Vec<f64>) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    (percentile(&samples, 0.5), percentile(&samples, 0.99))
}

fn rules_alone(operators: i64) -> Vec<(Strategy, f64, f64)> {
    let candidates: Vec<Candidate> = (0..operators)
        .map(|i| Candidate {
            operator_id: i + 1,
            available: true,
            load: if i % 2 == 0 { 3 } else { pick(i, 1, 3) as i64 },
            capacity: 3,
            last_assigned_at: Some(pick(i, 2, 100_000) as i64),
            skills: (0..3)
                .map(|k| {
                    (
                        TOPICS[pick(i, k, TOPICS.len())].to_owned(),
                        1 + pick(i, k + 10, 5) as i64,
                    )
                })
                .collect(),
            languages: vec![LANGUAGES[pick(i, 3, LANGUAGES.len())].to_owned()],
        })
        .collect();
    let mut results = Vec::new();
    for strategy in [
        Strategy::RoundRobin,
        Strategy::LeastLoaded,
        Strategy::Skills,
    ] {
        let policy = Policy {
            strategy,
            ..Policy::default()
        };
        let mut samples = Vec::new();
        for n in 0..2_000i64 {
            let need = Need {
                topic: Some(TOPICS[pick(n, 4, TOPICS.len())].to_owned()),
                language: Some(LANGUAGES[pick(n, 5, LANGUAGES.len())].to_owned()),
                tier: (n % 10 == 0).then(|| "vip".to_owned()),
                waited_ms: 120_000,
                ..Need::default()
            };
            let started = Instant::now();
            let decision = routing::route(&policy, &need, &candidates, None, 1_000_000);
            samples.push(started.elapsed().as_secs_f64() * 1e6);
            std::hint::black_box(decision);
        }
        let (p50, p99) = summary(samples);
        results.push((strategy, p50, p99));
    }
    results
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Operators, their full loads and the waiting queue, written as months of use would leave them.
fn seed(db: &mut rusqlite::Connection, options: &Options) -> Result<Vec<i64>> {
    let now = now_ms();
    let tx = db.transaction()?;
    let mut assigned = Vec::new();
    {
        let mut operator = tx.prepare(
            "INSERT INTO operators (email, name, role, password_hash, created_at, capacity,
                                    presence, last_seen_at)
             VALUES (?1, ?2, 'operator', 'seeded', ?3, 3, 'available', ?3)",
        )?;
        let mut skill = tx.prepare(
            "INSERT OR IGNORE INTO operator_skills (operator_id, skill, level) VALUES (?1, ?2, ?3)",
        )?;
        let mut language =
            tx.prepare("INSERT INTO operator_languages (operator_id, language) VALUES (?1, ?2)")?;
        let mut contact =
            tx.prepare("INSERT INTO contacts (name, created_at, attributes) VALUES (?1, ?2, ?3)")?;
        let mut conversation = tx.prepare(
            "INSERT INTO conversations (contact_id, visitor_contact_id, created_at, updated_at,
                                        assignee_id, assigned_at, topic, language)
             VALUES (?1, ?1, ?2, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut message = tx.prepare(
            "INSERT INTO messages (conversation_id, author, body, created_at)
             VALUES (?1, 'visitor', ?2, ?3)",
        )?;
        let mut reply = tx.prepare(
            "INSERT INTO messages (conversation_id, author, operator_id, body, created_at)
             VALUES (?1, 'operator', ?2, 'On it', ?3)",
        )?;
        let mut new_conversation = |i: i64, at: i64, assignee: Option<i64>| -> Result<i64> {
            let vip = i % 10 == 0;
            contact.execute(rusqlite::params![
                format!("Customer {i}"),
                at,
                if vip { r#"{"tier":"vip"}"# } else { "{}" }
            ])?;
            let contact_id = tx.last_insert_rowid();
            conversation.execute(rusqlite::params![
                contact_id,
                at,
                assignee,
                assignee.map(|_| at),
                TOPICS[pick(i, 6, TOPICS.len())],
                LANGUAGES[pick(i, 7, LANGUAGES.len())]
            ])?;
            let id = tx.last_insert_rowid();
            message.execute(rusqlite::params![id, "Hello, I need help", at])?;
            if let Some(operator_id) = assignee {
                reply.execute(rusqlite::params![id, operator_id, at + 1_000])?;
            }
            Ok(id)
        };
        for i in 0..options.operators {
            operator.execute(rusqlite::params![
                format!("agent{i}@example.com"),
                format!("Agent {i}"),
                now
            ])?;
            let id = tx.last_insert_rowid();
            for k in 0..3 {
                skill.execute(rusqlite::params![
                    id,
                    TOPICS[pick(i, k, TOPICS.len())],
                    1 + pick(i, k + 10, 5) as i64
                ])?;
            }
            language.execute(rusqlite::params![
                id,
                LANGUAGES[pick(i, 3, LANGUAGES.len())]
            ])?;
            for k in 0..3 {
                assigned.push(new_conversation(
                    1_000_000 + i * 3 + k,
                    now - 600_000,
                    Some(id),
                )?);
            }
        }
        for i in 0..options.waiting {
            let at = now - 1_800_000 + 1_800_000 * i / options.waiting;
            new_conversation(i, at, None)?;
        }
    }
    tx.execute(
        "UPDATE conversations SET classified_at = ?1,
                priority = CASE WHEN id IN (SELECT c.id FROM conversations c JOIN contacts t
                                             ON t.id = c.contact_id
                                            WHERE json_extract(t.attributes, '$.tier') = 'vip')
                                THEN 1 ELSE 0 END
          WHERE waiting_since IS NOT NULL",
        [now],
    )?;
    tx.commit()?;
    Ok(assigned)
}

async fn pass(app: &spin_test_host::App, sweep: &str) -> Result<(f64, Value)> {
    let started = Instant::now();
    let (status, body) = app
        .call_component(
            "router",
            http::Method::POST,
            &format!("/route?sweep={sweep}"),
            Vec::new(),
        )
        .await?;
    let ms = started.elapsed().as_secs_f64() * 1e3;
    ensure!(
        status == 200,
        "router answered {status}: {}",
        String::from_utf8_lossy(&body)
    );
    Ok((ms, serde_json::from_slice(&body)?))
}

#[tokio::main]
async fn main() -> Result<()> {
    let options = parse_options()?;
    println!(
        "method: (1) shared::routing::route over {} candidates (half with room, 8 topic skills with levels, 3 languages), 2,000 decisions per strategy, in-process; (2) POST /route to the private router component on the bundled test host (as service chaining reaches it) with {} available operators each holding 3 open conversations and {} classified waiting conversations (10 % VIP) seeded with rusqlite; {} calls per case; latency = the whole call (instance, SQLite connection, pass, response)",
        options.operators, options.operators, options.waiting, options.samples
    );
    println!();
    println!(
        "| rules alone, {} candidates | p50 | p99 |",
        options.operators
    );
    println!("|---|---:|---:|");
    for (strategy, p50, p99) in rules_alone(options.operators) {
        println!("| {} | {p50:.1} µs | {p99:.1} µs |", strategy.as_str());
    }

    let data = tempfile::tempdir()?;
    let host =
        spin_test_host::HostOptions::new(e2e::workspace_root().join("spin.toml"), data.path());
    let app = spin_test_host::App::load(host)
        .await
        .context("build the components first (see README)")?;
    // The first request creates the schema.
    pass(&app, "skip").await?;
    let mut db = rusqlite::Connection::open(data.path().join("sqlite_db.db"))?;
    db.busy_timeout(Duration::from_secs(30))?;
    let seeding = Instant::now();
    let assigned = seed(&mut db, &options)?;
    println!();
    println!(
        "seeded {} operators, {} open assigned and {} waiting conversations in {:.1} s",
        options.operators,
        assigned.len(),
        options.waiting,
        seeding.elapsed().as_secs_f64()
    );
    let keep_online = |db: &rusqlite::Connection| -> Result<()> {
        db.execute(
            "UPDATE operators SET last_seen_at = ?1 WHERE password_hash = 'seeded'",
            [now_ms()],
        )?;
        Ok(())
    };
    let mut freed = assigned.into_iter();
    let mut rows: Vec<(String, f64, f64)> = Vec::new();
    for (case, strategy) in [
        ("everyone busy: nothing to assign", None),
        (
            "one seat freed: assigns 1 (least loaded)",
            Some("least_loaded"),
        ),
        ("one seat freed: assigns 1 (skills)", Some("skills")),
        ("everyone busy, with the re-routing sweep", None),
    ] {
        if let Some(strategy) = strategy {
            db.execute(
                "INSERT INTO settings (key, value) VALUES ('routing.default', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [format!(
                    r#"{{"strategy":"{strategy}","backup_team_id":null,"overflow_after_s":null,"stickiness_window_h":0,"skill_wait_s":60,"answer_timeout_s":300}}"#
                )],
            )?;
        }
        let sweep = if case.contains("sweep") {
            "now"
        } else {
            "skip"
        };
        let mut samples = Vec::new();
        for _ in 0..options.samples {
            keep_online(&db)?;
            if strategy.is_some() {
                let id = freed.next().context("ran out of assigned conversations")?;
                db.execute(
                    "UPDATE conversations SET status = 'resolved', resolved_at = ?2 WHERE id = ?1",
                    [id, now_ms()],
                )?;
            }
            let (ms, outcome) = pass(&app, sweep).await?;
            let assigned = outcome["assigned"].as_array().map_or(0, Vec::len);
            let expected = usize::from(strategy.is_some());
            ensure!(
                assigned == expected,
                "{case}: the pass assigned {assigned}, expected {expected}: {outcome}"
            );
            samples.push(ms);
        }
        let (p50, p99) = summary(samples);
        rows.push((case.to_owned(), p50, p99));
    }
    println!();
    println!(
        "| router pass, {} operators / {} waiting | p50 | p99 |",
        options.operators, options.waiting
    );
    println!("|---|---:|---:|");
    for (case, p50, p99) in rows {
        println!("| {case} | {p50:.1} ms | {p99:.1} ms |");
    }
    Ok(())
}
