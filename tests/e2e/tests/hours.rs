//! Business hours through the real admin-api: the default and a team's own, read back as stored,
//! cleared with `null`; bad input refused naming the field, with nothing stored; only admins.

use e2e::{Operator, Reply, TestApp, spawn_app};
use serde_json::{Value, json};

async fn put(operator: &Operator, path: &str, body: Value) -> Reply {
    operator
        .call("PUT", &format!("/admin{path}"), Some(body))
        .await
}

async fn get(operator: &Operator, path: &str) -> Reply {
    operator.call("GET", &format!("/admin{path}"), None).await
}

async fn team(app: &TestApp, name: &str) -> i64 {
    let admin = app.operator().await;
    let created = admin.admin_post("/teams", json!({ "name": name })).await;
    assert_eq!(created.status, 201, "{}", created.text);
    created.body["team"]["id"].as_i64().expect("a team id")
}

fn berlin() -> Value {
    json!({
        "time_zone": "europe/berlin",
        "weekly": {
            "monday": ["13:00-17:30", "09:00-12:00"],
            "tuesday": ["09:00-17:30"],
            "saturday": ["10:00-14:00"],
        },
        "holidays": [
            { "date": "2026-12-25", "name": "Christmas Day" },
            { "date": "2026-12-24", "name": "Christmas Eve", "hours": ["09:00-12:00"] },
        ],
    })
}

#[tokio::test]
async fn admins_set_default_and_team_hours_and_read_them_back() {
    let app = spawn_app().await;
    let admin = app.operator().await;
    let unset = get(&admin, "/hours").await;
    assert_eq!(unset.status, 200, "{}", unset.text);
    assert_eq!(unset.body, json!({ "hours": null }), "unset: always open");

    let saved = put(&admin, "/hours", berlin()).await;
    assert_eq!(saved.status, 200, "{}", saved.text);
    // Stored as parsed: the database's spelling of the zone, every weekday, intervals and
    // holidays in order.
    let expected = json!({
        "time_zone": "Europe/Berlin",
        "weekly": {
            "monday": ["09:00-12:00", "13:00-17:30"],
            "tuesday": ["09:00-17:30"],
            "wednesday": [], "thursday": [], "friday": [],
            "saturday": ["10:00-14:00"],
            "sunday": [],
        },
        "holidays": [
            { "date": "2026-12-24", "name": "Christmas Eve", "hours": ["09:00-12:00"] },
            { "date": "2026-12-25", "name": "Christmas Day" },
        ],
    });
    assert_eq!(saved.body["hours"], expected);
    assert_eq!(get(&admin, "/hours").await.body["hours"], expected);

    let support = team(&app, "Support").await;
    let tokyo = json!({
        "time_zone": "Asia/Tokyo",
        "weekly": { "monday": ["09:00-18:00"], "friday": ["09:00-18:00"] },
    });
    let own = get(&admin, &format!("/teams/{support}/hours")).await;
    assert_eq!(own.status, 200, "{}", own.text);
    assert_eq!(
        own.body["hours"],
        Value::Null,
        "a team without hours follows the default"
    );
    let set = put(&admin, &format!("/teams/{support}/hours"), tokyo).await;
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(set.body["hours"]["time_zone"], "Asia/Tokyo");
    assert_eq!(set.body["hours"]["holidays"], json!([]));
    let read = get(&admin, &format!("/teams/{support}/hours")).await;
    assert_eq!(read.body["hours"], set.body["hours"]);
    assert_eq!(
        get(&admin, "/hours").await.body["hours"],
        expected,
        "the default is untouched"
    );
    // The team listing still works with the new column.
    let teams = get(&admin, "/teams").await;
    assert_eq!(teams.status, 200, "{}", teams.text);
    assert_eq!(teams.body["teams"][0]["name"], "Support");

    let cleared = put(&admin, &format!("/teams/{support}/hours"), Value::Null).await;
    assert_eq!(cleared.status, 200, "{}", cleared.text);
    assert_eq!(cleared.body, json!({ "hours": null }));
    assert_eq!(
        get(&admin, &format!("/teams/{support}/hours")).await.body["hours"],
        Value::Null
    );
    let cleared = put(&admin, "/hours", Value::Null).await;
    assert_eq!(cleared.status, 200, "{}", cleared.text);
    assert_eq!(get(&admin, "/hours").await.body, json!({ "hours": null }));
}

#[tokio::test]
async fn bad_hours_are_refused_naming_the_field_and_nothing_is_stored() {
    let app = spawn_app().await;
    let admin = app.operator().await;
    let support = team(&app, "Support").await;
    let team_path = format!("/teams/{support}/hours");
    let cases = [
        (
            json!({ "time_zone": "Mars/Olympus_Mons", "weekly": {} }),
            "time_zone",
            "Mars/Olympus_Mons",
        ),
        (
            json!({ "time_zone": "UTC", "weekly": { "monday": ["09:00-12:00", "11:30-14:00"] } }),
            "weekly.monday",
            "overlaps",
        ),
        (
            json!({ "time_zone": "UTC", "weekly": { "friday": ["17:00-09:00"] } }),
            "weekly.friday",
            "17:00-09:00",
        ),
        (
            json!({ "time_zone": "UTC", "weekly": { "friday": ["9am-5pm"] } }),
            "weekly.friday",
            "9am-5pm",
        ),
        (
            json!({ "time_zone": "UTC", "weekly": {},
                    "holidays": [{ "date": "2026-02-30", "name": "Leap" }] }),
            "holidays",
            "2026-02-30",
        ),
        (
            json!({ "time_zone": "UTC", "weekly": {},
                    "holidays": [{ "date": "2026-12-25", "name": "One" },
                                 { "date": "2026-12-25", "name": "Two" }] }),
            "holidays",
            "listed twice",
        ),
    ];
    for path in ["/hours", team_path.as_str()] {
        for (body, field, detail) in &cases {
            let reply = put(&admin, path, body.clone()).await;
            assert_eq!(reply.status, 400, "{path} {body}: {}", reply.text);
            assert_eq!(reply.error_code(), "invalid_input");
            let message = reply.body["error"]["message"].as_str().unwrap_or_default();
            assert!(
                message.starts_with(&format!("{field}:")) && message.contains(detail),
                "{path} {body}: {message}"
            );
        }
        // A misspelt day is an error, never a silently closed Monday.
        let misspelt = put(
            &admin,
            path,
            json!({ "time_zone": "UTC", "weekly": { "mon": ["09:00-17:00"] } }),
        )
        .await;
        assert_eq!(misspelt.status, 400, "{}", misspelt.text);
        assert!(misspelt.text.contains("mon"), "{}", misspelt.text);
        assert_eq!(
            get(&admin, path).await.body,
            json!({ "hours": null }),
            "{path}: nothing stored"
        );
    }
    let plain_text = Reply::from(
        app.http
            .put(app.url("/api/admin/hours"))
            .bearer_auth(&admin.token)
            .header("content-type", "text/plain")
            .body(berlin().to_string())
            .send()
            .await
            .expect("the app answers"),
    )
    .await;
    assert_eq!(plain_text.status, 415, "{}", plain_text.text);
    let no_team = put(&admin, "/teams/999/hours", berlin()).await;
    assert_eq!(no_team.status, 404, "{}", no_team.text);
    assert_eq!(get(&admin, "/teams/999/hours").await.status, 404);
    let patch = admin.call("PATCH", "/admin/hours", Some(berlin())).await;
    assert_eq!(patch.status, 405, "{}", patch.text);
}

#[tokio::test]
async fn only_admins_see_or_change_business_hours() {
    let app = spawn_app().await;
    let admin = app.operator().await;
    let support = team(&app, "Support").await;
    assert_eq!(put(&admin, "/hours", berlin()).await.status, 200);
    let team_path = format!("/teams/{support}/hours");
    for role in ["supervisor", "operator"] {
        let someone = app.staff(role, &format!("Sam {role}")).await;
        for path in ["/hours", team_path.as_str()] {
            let read = get(&someone, path).await;
            assert_eq!(read.status, 403, "{role} GET {path}: {}", read.text);
            assert_eq!(read.error_code(), "forbidden");
            let write = put(&someone, path, Value::Null).await;
            assert_eq!(write.status, 403, "{role} PUT {path}: {}", write.text);
        }
    }
    let anonymous = app.get("/api/admin/hours").await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.text);
    assert_eq!(
        get(&admin, "/hours").await.body["hours"]["time_zone"],
        "Europe/Berlin",
        "the refused calls changed nothing"
    );
}
