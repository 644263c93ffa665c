//! Many nodes, one truth: two app instances over the same SQLite file and key-value data
//! (`TestApp::second_node`), loaded at once, keep every cross-request invariant, and a client
//! waiting on one node hears what was posted through the other.
//!
//! What runs concurrently through both nodes: visitors starting conversations on either node;
//! every visitor message posted twice at the same moment with the same `client_id`, once per
//! node (a client retrying through a load balancer); every Twilio webhook delivered four times
//! at once, twice per node (provider retries); operators with small capacities replying,
//! claiming waiting conversations and resolving on alternating nodes, which makes both nodes'
//! routers assign the freed seats at the same time. A watcher reads the database every few
//! milliseconds during the run, and the assignment history is checked afterwards, so that an
//! operator over capacity for an instant is caught, not only at the end.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use e2e::{AppSettings, Operator, Reply, TestApp, spawn_app_with};
use futures::future::join_all;
use serde_json::{Value, json};

const TWILIO_TOKEN: &str = "test-twilio-auth-token";
/// Twilio signs the public URL; with one configured, a signature is valid on either node.
const PUBLIC_BASE: &str = "https://chat.example.test";

const OPERATORS: usize = 4;
const CAPACITY: i64 = 2;
const VISITORS: usize = 24;
const MESSAGES_PER_VISITOR: usize = 3;
const SMS_SENDERS: usize = 8;
const OPERATOR_ROUNDS: usize = 6;

async fn two_nodes() -> (TestApp, TestApp) {
    let a = spawn_app_with(AppSettings {
        variables: HashMap::from([
            ("twilio_auth_token".to_owned(), TWILIO_TOKEN.to_owned()),
            ("public_base_url".to_owned(), PUBLIC_BASE.to_owned()),
        ]),
    })
    .await;
    let b = a.second_node().await;
    assert_ne!(a.base, b.base, "two listeners");
    (a, b)
}

/// Whatever the server answered that no client should ever see: a 5xx, a 429, or a status
/// outside the ones this request may legitimately get.
#[derive(Default)]
struct Failures(std::sync::Mutex<Vec<String>>);

impl Failures {
    fn check(&self, what: &str, reply: &Reply, allowed: &[u16]) {
        if !allowed.contains(&reply.status) {
            self.0
                .lock()
                .expect("the failure list is never poisoned")
                .push(format!("{what}: {} {}", reply.status, reply.text));
        }
    }

    fn all(&self) -> Vec<String> {
        self.0
            .lock()
            .expect("the failure list is never poisoned")
            .clone()
    }
}

/// Reads the database every few ms while the load runs and records every moment an operator
/// holds more open or pending conversations than their capacity, however they got them (a
/// customer reopening a resolved conversation of an operator at capacity goes back to the
/// queue: migration 0014). `conversations.assignee_id` is one column, so "two assignees at
/// once" cannot show in a snapshot; [`replay_assignments`] checks the history.
struct Watcher {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Watched>,
}

#[derive(Default)]
struct Watched {
    looks: u64,
    /// Moments an operator held more than their capacity.
    assigned_over: Vec<String>,
}

/// Operators holding more open or pending conversations than their capacity.
const LOADS: &str = "SELECT o.id, o.capacity, COUNT(*) AS held,
        GROUP_CONCAT(c.id, ', ') AS conversations
   FROM operators o JOIN conversations c ON c.assignee_id = o.id
  WHERE c.status IN ('open', 'pending')
  GROUP BY o.id HAVING COUNT(*) > o.capacity";

impl Watcher {
    fn start(database: PathBuf) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::task::spawn_blocking(move || {
            let db = rusqlite::Connection::open(&database).expect("the app's database");
            db.busy_timeout(Duration::from_secs(5))
                .expect("a busy timeout");
            let mut watched = Watched::default();
            while !flag.load(Ordering::Relaxed) {
                let mut statement = db.prepare_cached(LOADS).expect("the load query");
                let rows = statement
                    .query_map([], |r| {
                        Ok((
                            r.get::<_, i64>("id")?,
                            r.get::<_, i64>("capacity")?,
                            r.get::<_, i64>("held")?,
                            r.get::<_, String>("conversations")?,
                        ))
                    })
                    .expect("the load query runs");
                for row in rows {
                    let (operator, capacity, held, conversations) = row.expect("a row");
                    watched.assigned_over.push(format!(
                        "operator {operator} holds {held} of {capacity}: {conversations}"
                    ));
                }
                watched.looks += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            watched
        });
        Watcher { stop, task }
    }

    async fn finish(self) -> Watched {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("the watcher ran")
    }
}

fn count(database: &PathBuf, sql: &str) -> i64 {
    let db = rusqlite::Connection::open(database).expect("the app's database");
    db.query_row(sql, [], |r| r.get(0)).expect(sql)
}

/// What the assignment history says, replayed event by event in commit order (the event log's
/// ids: SQLite has one writer).
#[derive(Debug, Default)]
struct History {
    /// Assignments (router, claim by reply, transfer) and reopenings that gave an operator a
    /// conversation while they already held their capacity.
    assignments_over_capacity: Vec<String>,
    /// The most conversations each operator held at once.
    peaks: BTreeMap<i64, i64>,
    assignments: usize,
}

fn replay_assignments(database: &PathBuf) -> History {
    let db = rusqlite::Connection::open(database).expect("the app's database");
    let capacity: HashMap<i64, i64> = db
        .prepare("SELECT id, capacity FROM operators")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()
        })
        .expect("capacities");
    let events: Vec<(i64, String, Value)> = db
        .prepare(
            "SELECT conversation_id, kind, data FROM events
              WHERE kind IN ('conversation.assigned', 'conversation.transferred', 'conversation.status')
              ORDER BY id",
        )
        .and_then(|mut s| {
            s.query_map([], |r| {
                let data: String = r.get(2)?;
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    serde_json::from_str(&data).unwrap_or(Value::Null),
                ))
            })?
            .collect::<Result<_, _>>()
        })
        .expect("events");
    let counts = |status: &str| matches!(status, "open" | "pending");
    // Conversation -> (assignee, status); every conversation starts open and unassigned.
    let mut state: HashMap<i64, (Option<i64>, String)> = HashMap::new();
    let mut history = History::default();
    let load = |state: &HashMap<i64, (Option<i64>, String)>, operator: i64, except: i64| {
        state
            .iter()
            .filter(|(id, (who, status))| {
                **id != except && *who == Some(operator) && counts(status)
            })
            .count() as i64
    };
    for (conversation, kind, data) in events {
        let (assignee, status) = state
            .get(&conversation)
            .cloned()
            .unwrap_or((None, "open".to_owned()));
        let (next_assignee, next_status) = match kind.as_str() {
            "conversation.assigned" => (data["to"]["id"].as_i64(), status.clone()),
            "conversation.transferred" => (data["to_operator"]["id"].as_i64(), status.clone()),
            _ => (assignee, data["to"].as_str().unwrap_or(&status).to_owned()),
        };
        if let Some(operator) = next_assignee
            && counts(&next_status)
        {
            let before = load(&state, operator, conversation);
            let cap = capacity.get(&operator).copied().unwrap_or(0);
            let gained = next_assignee != assignee || !counts(&status);
            if gained && before >= cap {
                history.assignments_over_capacity.push(format!(
                    "{kind} of conversation {conversation} to operator {operator} holding {before} of {cap}: {data}"
                ));
            }
            if kind != "conversation.status" {
                history.assignments += 1;
            }
            let peak = history.peaks.entry(operator).or_default();
            *peak = (*peak).max(before + 1);
        }
        state.insert(conversation, (next_assignee, next_status));
    }
    // The replay must end where the database is, or it proves nothing.
    let actual: HashMap<i64, (Option<i64>, String)> = db
        .prepare("SELECT id, assignee_id, status FROM conversations")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?
                .collect::<Result<_, _>>()
        })
        .expect("conversations");
    for (id, now) in &actual {
        let replayed = state.get(id).cloned().unwrap_or((None, "open".to_owned()));
        assert_eq!(&replayed, now, "replayed history of conversation {id}");
    }
    history
}

fn sms(sid: &str, from: &str, body: &str) -> Vec<(&'static str, String)> {
    vec![
        ("MessageSid", sid.to_owned()),
        (
            "AccountSid",
            "AC00000000000000000000000000000000".to_owned(),
        ),
        ("From", from.to_owned()),
        ("To", "+15005550006".to_owned()),
        ("Body", body.to_owned()),
        ("NumMedia", "0".to_owned()),
    ]
}

/// One operator's work for a round on `node`: answer everything they hold, try to claim one
/// waiting conversation by replying to it, and resolve the oldest they hold, which frees a seat
/// for the router.
async fn operator_round(operator: &Operator, round: usize, failures: &Failures) {
    let mine = operator.get("/conversations?assignee=me&status=open").await;
    failures.check("my conversations", &mine, &[200]);
    let held: Vec<Value> = mine.body["conversations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for conversation in &held {
        let id = conversation["id"].as_i64().expect("an id");
        let reply = operator
            .reply(id, &format!("{} answers (round {round})", operator.name))
            .await;
        // 403/409: the conversation moved to someone else meanwhile (transfer by the router).
        failures.check("reply", &reply, &[201, 403, 409]);
    }
    let all = operator.get("/conversations?status=open").await;
    failures.check("open conversations", &all, &[200]);
    let waiting = all.body["conversations"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["assignee"].is_null())
        .and_then(|c| c["id"].as_i64());
    if let Some(id) = waiting {
        let claim = operator.reply(id, "I can take this one").await;
        // 201: claimed (room left); 409: at capacity or someone else was faster.
        failures.check("claim by reply", &claim, &[201, 403, 409]);
    }
    if let Some(oldest) = held.last() {
        let id = oldest["id"].as_i64().expect("an id");
        let resolve = operator
            .post(
                &format!("/conversations/{id}/status"),
                json!({ "status": "resolved", "version": oldest["version"] }),
            )
            .await;
        // 409: a stale version, because a message or the router changed it since the listing.
        failures.check("resolve", &resolve, &[200, 409]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn load_through_two_nodes_at_once_keeps_every_invariant() {
    let (a, b) = two_nodes().await;
    let nodes = [&a, &b];
    let database = a.database();
    assert_eq!(database, b.database(), "one store");

    // The first requests of a fresh store hit both nodes at once (both migrate).
    let (admin_a, admin_b) = futures::join!(a.operator(), b.operator());
    assert_eq!(admin_a.id, admin_b.id);
    let mut operators = Vec::new();
    for i in 0..OPERATORS {
        let operator = a.staff("operator", &format!("Node Op {i}")).await;
        let patched = admin_b
            .admin_patch(
                &format!("/operators/{}", operator.id),
                json!({ "capacity": CAPACITY }),
            )
            .await;
        assert_eq!(patched.status, 200, "capacity: {}", patched.text);
        // Presence from alternating nodes: each change asks that node's router for a pass.
        let operator = operator.on(nodes[i % 2]);
        let presence = operator
            .post("/presence", json!({ "presence": "available" }))
            .await;
        assert_eq!(presence.status, 200, "presence: {}", presence.text);
        operators.push(operator);
    }

    let watcher = Watcher::start(database.clone());
    let failures = Failures::default();
    let started = Instant::now();

    let visitors = async {
        join_all((0..VISITORS).map(|i| {
            let failures = &failures;
            async move {
                let visitor = nodes[i % 2].visitor().await;
                let mut ids = Vec::new();
                for n in 0..MESSAGES_PER_VISITOR {
                    let body = format!("visitor {i} message {n}");
                    let client_id = format!("v{i}-{n}");
                    // The same POST through both nodes at the same moment.
                    let (via_a, via_b) = (visitor.on(nodes[0]), visitor.on(nodes[1]));
                    let (one, two) = futures::join!(
                        via_a.say_with_id(&body, Some(&client_id)),
                        via_b.say_with_id(&body, Some(&client_id)),
                    );
                    failures.check("visitor message (node A)", &one, &[200, 201]);
                    failures.check("visitor message (node B)", &two, &[200, 201]);
                    let mut statuses = [one.status, two.status];
                    statuses.sort();
                    assert_eq!(
                        statuses,
                        [200, 201],
                        "exactly one of the two copies is created: {} / {}",
                        one.text,
                        two.text
                    );
                    assert_eq!(
                        one.body["message"]["id"], two.body["message"]["id"],
                        "the retry answers with the stored message"
                    );
                    ids.push(one.body["message"]["id"].as_i64().expect("a message id"));
                }
                (visitor, ids)
            }
        }))
        .await
    };
    let texts = async {
        join_all((0..SMS_SENDERS).map(|i| {
            let failures = &failures;
            async move {
                let sid = format!("SMnodes{i:026}");
                let params = sms(&sid, &format!("+1415555{i:04}"), &format!("sms {i}"));
                let params: Vec<(&str, &str)> =
                    params.iter().map(|(n, v)| (*n, v.as_str())).collect();
                let path = "/hooks/twilio/sms";
                let replies = join_all((0..4).map(|copy| {
                    nodes[copy % 2].post_twilio(PUBLIC_BASE, path, &params, TWILIO_TOKEN)
                }))
                .await;
                for reply in &replies {
                    failures.check("twilio retry", reply, &[200]);
                }
            }
        }))
        .await
    };
    let staff = async {
        for round in 0..OPERATOR_ROUNDS {
            join_all(operators.iter().enumerate().map(|(i, operator)| {
                let operator = operator.on(nodes[(i + round) % 2]);
                let failures = &failures;
                async move { operator_round(&operator, round, failures).await }
            }))
            .await;
        }
    };
    let (visitors, _, ()) = futures::join!(visitors, texts, staff);
    let elapsed = started.elapsed();
    // Let the last routing passes (run after their responses) finish before the final look.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let watched = watcher.finish().await;

    let failures = failures.all();
    assert!(failures.is_empty(), "unexpected answers: {failures:#?}");
    assert!(
        watched.assigned_over.is_empty(),
        "over capacity by assignment, seen during the run ({} looks): {:#?}",
        watched.looks,
        watched.assigned_over
    );
    assert!(
        watched.looks >= 10,
        "the watcher looked only {} times",
        watched.looks
    );

    // No duplicate messages: what each visitor sees is their messages once, in order...
    for (visitor, ids) in &visitors {
        let history = visitor.on(&b).load().await;
        assert_eq!(history.status, 200, "{}", history.text);
        let mine: Vec<i64> = history.body["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .filter(|m| m["author"] == "visitor")
            .filter_map(|m| m["id"].as_i64())
            .collect();
        assert_eq!(&mine, ids, "conversation {}", visitor.conversation_id);
    }
    // ...and every row agrees: one row per client id and one per provider message id.
    assert_eq!(
        count(
            &database,
            "SELECT COUNT(*) FROM messages WHERE author = 'visitor' AND channel = 'web'"
        ),
        (VISITORS * MESSAGES_PER_VISITOR) as i64
    );
    assert_eq!(
        count(
            &database,
            "SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE client_id IS NOT NULL
              GROUP BY conversation_id, author, client_id HAVING COUNT(*) > 1)"
        ),
        0
    );
    assert_eq!(
        count(
            &database,
            "SELECT COUNT(*) FROM messages WHERE channel = 'sms' AND author = 'visitor'"
        ),
        SMS_SENDERS as i64,
        "one SMS stored per MessageSid"
    );
    assert_eq!(
        count(
            &database,
            "SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE external_id IS NOT NULL
              GROUP BY channel, external_id HAVING COUNT(*) > 1)"
        ),
        0
    );
    assert_eq!(
        count(
            &database,
            "SELECT COUNT(*) FROM conversations WHERE channel = 'sms'"
        ),
        SMS_SENDERS as i64,
        "one thread per texting customer"
    );

    // The reports fold the event log into assignment spans (start to unassignment, transfer or
    // resolution); asking for any report brings them up to date.
    let report = admin_a.call("GET", "/reports/summary", None).await;
    assert_eq!(report.status, 200, "report: {}", report.text);
    assert_eq!(
        count(
            &database,
            "SELECT (SELECT last_event_id FROM report_progress) = (SELECT MAX(id) FROM events)"
        ),
        1,
        "the fold caught up"
    );
    // No double assignment, ever: each assignment event follows an unassigned state, and no
    // conversation has two open assignment spans.
    assert_eq!(
        count(
            &database,
            "SELECT COUNT(*) FROM (
                SELECT json_extract(data, '$.to.id') AS to_id,
                       LAG(json_extract(data, '$.to.id'))
                         OVER (PARTITION BY conversation_id ORDER BY id) AS before
                  FROM events WHERE kind = 'conversation.assigned')
              WHERE to_id IS NOT NULL AND before IS NOT NULL"
        ),
        0,
        "an assignment over an existing one"
    );
    assert_eq!(
        count(
            &database,
            "SELECT COUNT(*) FROM (SELECT 1 FROM assignment_spans WHERE ended_at IS NULL
              GROUP BY conversation_id HAVING COUNT(*) > 1)"
        ),
        0
    );
    // No assignment ever put an operator over capacity, at any moment of the history.
    let history = replay_assignments(&database);
    assert!(
        history.assignments_over_capacity.is_empty(),
        "{:#?}",
        history.assignments_over_capacity
    );
    // The load did exercise capacity: operators were full while conversations waited.
    assert!(
        history.peaks.values().any(|peak| *peak >= CAPACITY),
        "nobody ever reached capacity: {history:?}"
    );
    // And what operators see agrees with the store: their own list is what they hold.
    for operator in &operators {
        let mine = operator
            .on(&a)
            .get("/conversations?assignee=me&status=open")
            .await;
        assert_eq!(mine.status, 200, "{}", mine.text);
        let seen = mine.body["conversations"].as_array().map_or(0, Vec::len) as i64;
        let held = count(
            &database,
            &format!(
                "SELECT COUNT(*) FROM conversations WHERE assignee_id = {} AND status = 'open'",
                operator.id
            ),
        );
        assert_eq!(seen, held, "{} sees what they hold", operator.name);
    }
    let idle_while_waiting = count(
        &database,
        "SELECT (SELECT COUNT(*) FROM conversations
                  WHERE status = 'open' AND assignee_id IS NULL AND waiting_since IS NOT NULL) > 0
            AND COALESCE((SELECT SUM(o.capacity - (SELECT COUNT(*) FROM conversations c
                  WHERE c.assignee_id = o.id AND c.status IN ('open', 'pending')))
                FROM operators o WHERE o.presence = 'available' AND o.active = 1), 0) > 0",
    );
    assert_eq!(
        idle_while_waiting, 0,
        "a conversation waits while an operator has room"
    );
    println!(
        "two nodes: {VISITORS} visitors x {MESSAGES_PER_VISITOR} messages (each sent through both nodes), \
         {SMS_SENDERS} SMS x 4 deliveries, {OPERATORS} operators x {OPERATOR_ROUNDS} rounds in {:.1} s; \
         {} assignments, none over capacity, reopenings included (watcher: {} looks), peaks {:?}",
        elapsed.as_secs_f64(),
        history.assignments,
        watched.looks,
        history.peaks
    );
}

/// Time from just before a POST on one node until a long-poll held on the other node returns
/// the message.
async fn crossing(
    post: impl std::future::Future<Output = Reply>,
    poll: impl std::future::Future<Output = Vec<Value>> + Send + 'static,
    body: &str,
) -> Duration {
    let waiting = tokio::spawn(poll);
    // The poll is parked on its node before anything is posted.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let sent = Instant::now();
    let posted = post.await;
    assert_eq!(posted.status, 201, "{}", posted.text);
    let events = waiting.await.expect("the long-poll task");
    let delivered = sent.elapsed();
    assert!(
        e2e::message_bodies(&events).iter().any(|b| b == body),
        "the long-poll returned {events:?}, not {body:?}"
    );
    delivered
}

/// Holds a long-poll (`wait` 20 s) and keeps polling until a message event arrives.
async fn until_a_message(mut next: impl AsyncFnMut(i64) -> Reply, mut cursor: i64) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let page = next(cursor).await;
        assert_eq!(page.status, 200, "events: {}", page.text);
        cursor = page.body["cursor"].as_i64().expect("a cursor");
        let events = page.body["events"].as_array().cloned().unwrap_or_default();
        if !e2e::message_bodies(&events).is_empty() {
            return events;
        }
    }
    Vec::new()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_posted_through_one_node_reach_a_long_poll_waiting_on_the_other() {
    /// A waiting client hears of a new message within this, whichever node it waits on (the
    /// long-poll checks the shared change marker every 40-250 ms).
    const BOUND: Duration = Duration::from_millis(1_500);
    let (a, b) = two_nodes().await;
    let admin = a.operator().await;
    let visitor = a.visitor().await;
    assert_eq!(visitor.say("hello from node A").await.status, 201);
    let id = visitor.conversation_id;

    let mut to_visitor = Vec::new();
    let mut to_operator = Vec::new();
    for round in 0..4 {
        // Operator writes on one node; the visitor waits on the other.
        let (write, wait) = if round % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let waiter = visitor.on(wait);
        let cursor = waiter.load().await.body["cursor"].as_i64().expect("cursor");
        let body = format!("operator answer {round}");
        let poll = until_a_message(async move |c| waiter.events(c, 20).await, cursor);
        to_visitor.push(crossing(admin.on(write).reply(id, &body), poll, &body).await);

        // The visitor writes on one node; the operator's inbox stream waits on the other.
        let waiter = admin.on(wait);
        let cursor = waiter.cursor().await;
        let body = format!("visitor question {round}");
        let poll = until_a_message(async move |c| waiter.events(c, 20).await, cursor);
        to_operator.push(crossing(visitor.on(write).say(&body), poll, &body).await);
    }
    println!(
        "across nodes, post -> long-poll delivery: to visitor {to_visitor:?}, to operator {to_operator:?}"
    );
    for delivered in to_visitor.iter().chain(&to_operator) {
        assert!(
            *delivered < BOUND,
            "delivered after {delivered:?} (bound {BOUND:?}); all: {to_visitor:?} {to_operator:?}"
        );
    }
}
