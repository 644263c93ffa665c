//! Privacy and the operator's record over HTTP: the audit log, a customer's export and
//! erasure, retention, and the online backup the README describes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use e2e::{ADMIN_EMAIL, ADMIN_PASSWORD, Operator, spawn_app, workspace_root};
use serde_json::{Value, json};

async fn audit(admin: &Operator, query: &str) -> Vec<Value> {
    let page = admin
        .call("GET", &format!("/admin/audit?{query}"), None)
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    page.body["entries"].as_array().cloned().unwrap_or_default()
}

/// Everything the console gets for a conversation (summary, messages, events), as text.
async fn thread_text(admin: &Operator, conversation_id: i64) -> String {
    let thread = admin
        .get(&format!("/conversations/{conversation_id}"))
        .await;
    assert_eq!(thread.status, 200, "{}", thread.text);
    thread.text
}

fn actions(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .map(|l| l["action"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn sign_ins_and_admin_changes_are_in_the_audit_log_for_admins_only() {
    let app = spawn_app().await;
    assert!(
        app.login(ADMIN_EMAIL, "not the password at all")
            .await
            .is_err()
    );
    let admin = app.operator().await;
    let changed = admin
        .call(
            "PATCH",
            "/admin/settings",
            Some(json!({ "transfer_notice_team": "Passed to {team}." })),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    let staff = app.staff("operator", "Olive").await;
    let promoted = admin
        .call(
            "PATCH",
            &format!("/admin/operators/{}", staff.id),
            Some(json!({ "role": "supervisor" })),
        )
        .await;
    assert_eq!(promoted.status, 200, "{}", promoted.text);

    let lines = audit(&admin, "").await;
    let got = actions(&lines);
    for expected in [
        "login.failed",
        "login",
        "settings.changed",
        "operator.invited",
        "invite.accepted",
        "operator.role_changed",
    ] {
        assert!(
            got.iter().any(|a| a == expected),
            "{expected} missing: {got:?}"
        );
    }
    let failed = lines
        .iter()
        .find(|l| l["action"] == "login.failed")
        .expect("a failed sign-in");
    assert_eq!(failed["detail"]["email"], ADMIN_EMAIL);
    assert!(!failed.to_string().contains("not the password"));
    assert!(
        failed["client_addr"]
            .as_str()
            .is_some_and(|a| !a.is_empty())
    );
    let settings = lines
        .iter()
        .find(|l| l["action"] == "settings.changed")
        .expect("a settings change");
    assert_eq!(settings["detail"]["area"], "settings");
    assert_eq!(
        settings["detail"]["fields"],
        json!(["transfer_notice_team"])
    );
    assert!(!settings.to_string().contains("Passed to"));
    let role = lines
        .iter()
        .find(|l| l["action"] == "operator.role_changed")
        .expect("a role change");
    assert_eq!(role["detail"]["from"], "operator");
    assert_eq!(role["detail"]["to"], "supervisor");
    assert_eq!(role["actor_email"], ADMIN_EMAIL);

    // Filters and pages.
    assert_eq!(
        actions(&audit(&admin, "action=login.failed").await),
        vec!["login.failed"]
    );
    let first = admin.call("GET", "/admin/audit?limit=2", None).await;
    assert_eq!(first.body["entries"].as_array().map(Vec::len), Some(2));
    let before = first.body["next_before"].as_i64().expect("another page");
    let second = audit(&admin, &format!("limit=2&before={before}")).await;
    assert!(second.iter().all(|l| l["id"].as_i64() < Some(before)));
    let bad = admin
        .call("GET", "/admin/audit?action=drop.tables", None)
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);

    let csv = admin.call("GET", "/admin/audit?format=csv", None).await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.header("content-type")
            .is_some_and(|t| t.starts_with("text/csv"))
    );
    assert!(
        csv.text
            .starts_with("id,at,actor_id,actor_email,action,target,detail,client_addr")
    );
    assert!(csv.text.contains("operator.role_changed"));

    let refused = staff.call("GET", "/admin/audit", None).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
}

#[tokio::test]
async fn an_admin_finds_exports_and_erases_a_customer() {
    let app = spawn_app().await;
    let admin = app.operator().await;
    let visitor = app
        .visitor_with(json!({ "name": "Ada Lovelace", "email": "ada@example.com" }))
        .await;
    assert_eq!(visitor.say("my order 4411 never came").await.status, 201);
    let bystander = app.visitor_with(json!({ "name": "Bob" })).await;
    assert_eq!(bystander.say("bob's own question").await.status, 201);
    assert_eq!(
        admin
            .reply(visitor.conversation_id, "Sorry Ada, checking")
            .await
            .status,
        201
    );

    let found = admin
        .call("GET", "/admin/contacts?q=ada%40example", None)
        .await;
    assert_eq!(found.status, 200, "{}", found.text);
    let contacts = found.body["contacts"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(contacts.len(), 1, "{}", found.text);
    let id = contacts[0]["id"].as_i64().expect("a contact id");

    let export = admin
        .call("GET", &format!("/admin/contacts/{id}/export"), None)
        .await;
    assert_eq!(export.status, 200, "{}", export.text);
    assert!(
        export
            .header("content-disposition")
            .is_some_and(|d| d.starts_with("attachment"))
    );
    assert_eq!(export.body["format_version"], 1);
    assert_eq!(export.body["contact"]["email"], "ada@example.com");
    assert!(export.text.contains("my order 4411 never came"));
    assert!(export.text.contains("Sorry Ada, checking"));
    assert!(!export.text.contains("bob's own question"));

    let unconfirmed = admin
        .call(
            "DELETE",
            &format!("/admin/contacts/{id}"),
            Some(json!({ "confirm": "yes" })),
        )
        .await;
    assert_eq!(unconfirmed.status, 400, "{}", unconfirmed.text);
    let missing = admin
        .call(
            "DELETE",
            "/admin/contacts/999999",
            Some(json!({ "confirm": "erase" })),
        )
        .await;
    assert_eq!(missing.status, 404, "{}", missing.text);

    let erased = admin
        .call(
            "DELETE",
            &format!("/admin/contacts/{id}"),
            Some(json!({ "confirm": "erase" })),
        )
        .await;
    assert_eq!(erased.status, 200, "{}", erased.text);
    assert_eq!(erased.body["erased"]["conversations"], 1);
    assert_eq!(erased.body["erased"]["messages"], 2);

    // What operators and the visitor see now holds none of it.
    let thread = thread_text(&admin, visitor.conversation_id).await;
    assert!(
        !thread.contains("4411") && !thread.contains("Ada"),
        "{thread}"
    );
    let after = admin
        .call("GET", &format!("/admin/contacts/{id}/export"), None)
        .await;
    assert_eq!(after.status, 200);
    assert!(!after.text.contains("4411") && !after.text.contains("ada@example.com"));
    let gone = visitor.load().await;
    assert!(
        gone.status == 401 || gone.status == 404,
        "{} {}",
        gone.status,
        gone.text
    );
    let search = admin.call("GET", "/admin/contacts?q=ada", None).await;
    assert_eq!(search.body["contacts"], json!([]));
    // The bystander is untouched.
    let bob = thread_text(&admin, bystander.conversation_id).await;
    assert!(bob.contains("bob's own question"));

    // Again: idempotent, zero counts.
    let again = admin
        .call(
            "DELETE",
            &format!("/admin/contacts/{id}?confirm=erase"),
            None,
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.body["erased"]["messages"], 0);

    let lines = audit(&admin, "").await;
    let got = actions(&lines);
    assert!(got.contains(&"contact.exported".to_owned()), "{got:?}");
    let line = lines
        .iter()
        .find(|l| l["action"] == "contact.erased")
        .expect("an erasure line");
    assert_eq!(line["target"], format!("contact:{id}"));
    assert!(!line.to_string().contains("ada@"));

    let operator = app.staff("operator", "Otto").await;
    let refused = operator
        .call(
            "DELETE",
            &format!("/admin/contacts/{id}?confirm=erase"),
            None,
        )
        .await;
    assert_eq!(refused.status, 403);
}

#[tokio::test]
async fn retention_empties_old_resolved_conversations_and_says_so_in_the_audit_log() {
    let app = spawn_app().await;
    let admin = app.operator().await;
    let old = app.visitor().await;
    assert_eq!(old.say("an old question about invoices").await.status, 201);
    let fresh = app.visitor().await;
    assert_eq!(fresh.say("a new question").await.status, 201);
    let version = admin.conversation(old.conversation_id).await["version"].clone();
    let resolved = admin
        .post(
            &format!("/conversations/{}/status", old.conversation_id),
            json!({ "status": "resolved", "version": version }),
        )
        .await;
    assert_eq!(resolved.status, 200, "{}", resolved.text);

    let bad = admin
        .call(
            "PATCH",
            "/admin/retention",
            Some(json!({ "conversation_days": 99999 })),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    let set = admin
        .call(
            "PATCH",
            "/admin/retention",
            Some(json!({ "conversation_days": 30 })),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(set.body["retention"]["conversation_days"], 30);

    // Nothing is old yet.
    let none = admin
        .call("POST", "/admin/retention/purge", Some(json!({})))
        .await;
    assert_eq!(none.status, 200, "{}", none.text);
    assert_eq!(none.body["purged"]["conversations"]["conversations"], 0);

    // Forty days pass for the resolved conversation (the app's clock is real; its data ages).
    let db = rusqlite::Connection::open(app.database()).expect("the app's database");
    db.busy_timeout(Duration::from_secs(5))
        .expect("busy timeout");
    db.execute(
        "UPDATE conversations SET updated_at = updated_at - 40 * 86400000 WHERE id = ?1",
        [old.conversation_id],
    )
    .expect("age the conversation");
    drop(db);

    let purged = admin
        .call("POST", "/admin/retention/purge", Some(json!({})))
        .await;
    assert_eq!(purged.status, 200, "{}", purged.text);
    assert_eq!(purged.body["purged"]["conversations"]["conversations"], 1);
    let thread = thread_text(&admin, old.conversation_id).await;
    assert!(!thread.contains("invoices"), "{thread}");
    let kept = thread_text(&admin, fresh.conversation_id).await;
    assert!(kept.contains("a new question"));
    let got = actions(&audit(&admin, "action=retention.purged").await);
    assert_eq!(got, vec!["retention.purged"]);
}

/// The README's backup (`VACUUM INTO`, run here through rusqlite, the same SQLite statement the
/// `sqlite3` CLI runs) taken while a visitor keeps writing: the copy passes the integrity check,
/// holds every message acknowledged before it began, and a fresh app serves it.
#[tokio::test]
async fn an_online_backup_holds_every_acknowledged_message_and_a_fresh_app_serves_it() {
    let app = spawn_app().await;
    let visitor = app.visitor().await;
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (visitor, acked, stop) = (visitor.clone(), acked.clone(), stop.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let body = format!("message number {i}");
                if visitor.say(&body).await.status == 201 {
                    acked.lock().expect("lock").push(body);
                }
                i += 1;
            }
        })
    };
    while acked.lock().expect("lock").len() < 30 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before: Vec<String> = acked.lock().expect("lock").clone();
    let backup_dir = tempfile::tempdir().expect("a backup directory");
    let backup = backup_dir.path().join("sqlite_db.db");
    let (source, target) = (app.database(), backup.clone());
    tokio::task::spawn_blocking(move || {
        let db = rusqlite::Connection::open(source).expect("open the live database");
        db.busy_timeout(Duration::from_secs(10))
            .expect("busy timeout");
        db.execute("VACUUM INTO ?1", [target.to_string_lossy()])
            .expect("VACUUM INTO");
    })
    .await
    .expect("the backup task");
    // The writer was still going while the copy was taken.
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.await.expect("the writer");
    assert!(acked.lock().expect("lock").len() > before.len());

    let copy = rusqlite::Connection::open(&backup).expect("open the backup");
    let check: String = copy
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(check, "ok");
    let mut statement = copy
        .prepare("SELECT body FROM messages WHERE conversation_id = ?1")
        .expect("prepare");
    let stored: Vec<String> = statement
        .query_map([visitor.conversation_id], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    for body in &before {
        assert!(
            stored.contains(body),
            "{body} acknowledged before the backup is missing"
        );
    }
    drop(statement);
    drop(copy);

    // Restore: a fresh app over a directory holding only the copy.
    let mut options =
        spin_test_host::HostOptions::new(workspace_root().join("spin.toml"), backup_dir.path());
    options.variables = [
        ("admin_email", ADMIN_EMAIL),
        ("admin_password", ADMIN_PASSWORD),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let restored = spin_test_host::App::load(options)
        .await
        .expect("a host over the restored file");
    let server = restored
        .serve("127.0.0.1:0".parse().expect("an address"))
        .await
        .expect("serve");
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();
    let login: Value = http
        .post(format!("{base}/api/inbox/login"))
        .json(&json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD }))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("JSON");
    let token = login["token"]
        .as_str()
        .expect("a session on the restored app");
    let thread = http
        .get(format!(
            "{base}/api/inbox/conversations/{}",
            visitor.conversation_id
        ))
        .bearer_auth(token)
        .send()
        .await
        .expect("thread")
        .text()
        .await
        .expect("text");
    let last = before.last().expect("messages");
    assert!(
        thread.contains(last.as_str()),
        "{last} not served: {thread}"
    );
}
