//! `admin-api`: what admins configure, under `/api/admin`: operators (invitations, roles,
//! capacity, skills, languages, teams, deactivation), teams and their routing, routing for
//! conversations without a team, topics, the tag list, team-wide canned responses, business
//! settings, business hours, outgoing webhooks (`shared::webhook`), knowledge-base articles, the assistant's and the satisfaction
//! survey's settings, the website widget's look and forms (`shared::widget_settings`). Changes that
//! may make waiting conversations assignable end with a routing pass.
//!
//! Thin like `inbox-api`: a [`Command`] per route, the operator's session from the same cookie
//! (or bearer token), and the use cases in `shared::admin`, each of which requires the admin
//! role. The API is documented in the README ("Admin API").

use shared::admin;
use shared::api::{ApiError, MAX_JSON_BODY_BYTES};
use shared::audit::{self, AdminChange, Change};
use shared::chat::ChatError;
use shared::router::Sweep;
use shared::webhook::{self, address::Origin};
use shared::{privacy, retention};
use spin_host::{Access, ApiRequest, SpinHost, id};
use spin_sdk::http::{IncomingRequest, Method, Response};
use spin_sdk::http_component;

const COMPONENT: &str = "admin-api";

/// The collections an admin manages; each has list/create and update/delete by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Collection {
    Operators,
    Teams,
    Tags,
    Canned,
    Topics,
    /// Knowledge-base articles (`/articles`).
    Articles,
}

impl Collection {
    fn parse(segment: &str) -> Option<Collection> {
        match segment {
            "operators" => Some(Collection::Operators),
            "teams" => Some(Collection::Teams),
            "tags" => Some(Collection::Tags),
            "canned" => Some(Collection::Canned),
            "topics" => Some(Collection::Topics),
            "articles" => Some(Collection::Articles),
            _ => None,
        }
    }

    /// The area an audit line names (`settings.changed`, `area`).
    fn area(self) -> &'static str {
        match self {
            Collection::Operators => "operators",
            Collection::Teams => "teams",
            Collection::Tags => "tags",
            Collection::Canned => "canned",
            Collection::Topics => "topics",
            Collection::Articles => "articles",
        }
    }
}

/// Every request the admin screens can make, decided before any I/O.
#[derive(Debug, PartialEq)]
enum Command {
    List(Collection),
    Create(Collection),
    Update(Collection, i64),
    Delete(Collection, i64),
    Reinvite(i64),
    Article(i64),
    Assistant,
    UpdateAssistant,
    Csat,
    UpdateCsat,
    Settings,
    UpdateSettings,
    /// The website widget's look, pre-chat fields and offline form.
    Widget,
    UpdateWidget,
    Routing,
    UpdateRouting,
    /// Business hours: the default, and a team's own.
    Hours,
    UpdateHours,
    TeamHours(i64),
    UpdateTeamHours(i64),
    /// Outgoing webhooks: endpoints, a test ping, recent deliveries.
    Webhooks,
    CreateWebhook,
    UpdateWebhook(i64),
    DeleteWebhook(i64),
    TestWebhook(i64),
    WebhookDeliveries(i64),
    /// The audit log (`format=csv` for a download).
    Audit,
    /// Customers' data on request: search, export, erasure.
    Contacts,
    ExportContact(i64),
    EraseContact(i64),
    /// Retention settings, and one purge batch now.
    Retention,
    UpdateRetention,
    PurgeRetention,
    WrongMethod(&'static str),
    Unknown,
}

impl Command {
    fn route(method: &Method, segments: &[&str]) -> Command {
        use Method::{Delete, Get, Patch, Post, Put};
        match (segments, method) {
            (["settings"], Get) => Command::Settings,
            (["settings"], Patch) => Command::UpdateSettings,
            (["settings"], _) => Command::WrongMethod("GET, PATCH"),
            (["widget"], Get) => Command::Widget,
            (["widget"], Patch) => Command::UpdateWidget,
            (["widget"], _) => Command::WrongMethod("GET, PATCH"),
            (["routing"], Get) => Command::Routing,
            (["routing"], Patch) => Command::UpdateRouting,
            (["routing"], _) => Command::WrongMethod("GET, PATCH"),
            (["assistant"], Get) => Command::Assistant,
            (["assistant"], Patch) => Command::UpdateAssistant,
            (["assistant"], _) => Command::WrongMethod("GET, PATCH"),
            (["csat"], Get) => Command::Csat,
            (["csat"], Patch) => Command::UpdateCsat,
            (["csat"], _) => Command::WrongMethod("GET, PATCH"),
            (["articles", a], Get) => id(a).map_or(Command::Unknown, Command::Article),
            (["hours"], Get) => Command::Hours,
            (["hours"], Put) => Command::UpdateHours,
            (["hours"], _) => Command::WrongMethod("GET, PUT"),
            (["teams", t, "hours"], m) => match (id(t), m) {
                (None, _) => Command::Unknown,
                (Some(t), Get) => Command::TeamHours(t),
                (Some(t), Put) => Command::UpdateTeamHours(t),
                (Some(_), _) => Command::WrongMethod("GET, PUT"),
            },
            (["webhooks"], Get) => Command::Webhooks,
            (["webhooks"], Post) => Command::CreateWebhook,
            (["webhooks"], _) => Command::WrongMethod("GET, POST"),
            (["webhooks", w], m) => match (id(w), m) {
                (None, _) => Command::Unknown,
                (Some(w), Patch) => Command::UpdateWebhook(w),
                (Some(w), Delete) => Command::DeleteWebhook(w),
                (Some(_), _) => Command::WrongMethod("PATCH, DELETE"),
            },
            (["webhooks", w, "test"], m) => match (id(w), m) {
                (None, _) => Command::Unknown,
                (Some(w), Post) => Command::TestWebhook(w),
                (Some(_), _) => Command::WrongMethod("POST"),
            },
            (["webhooks", w, "deliveries"], m) => match (id(w), m) {
                (None, _) => Command::Unknown,
                (Some(w), Get) => Command::WebhookDeliveries(w),
                (Some(_), _) => Command::WrongMethod("GET"),
            },
            (["audit"], Get) => Command::Audit,
            (["audit"], _) => Command::WrongMethod("GET"),
            (["contacts"], Get) => Command::Contacts,
            (["contacts"], _) => Command::WrongMethod("GET"),
            (["contacts", c], m) => match (id(c), m) {
                (None, _) => Command::Unknown,
                (Some(c), Delete) => Command::EraseContact(c),
                (Some(_), _) => Command::WrongMethod("DELETE"),
            },
            (["contacts", c, "export"], m) => match (id(c), m) {
                (None, _) => Command::Unknown,
                (Some(c), Get) => Command::ExportContact(c),
                (Some(_), _) => Command::WrongMethod("GET"),
            },
            (["retention"], Get) => Command::Retention,
            (["retention"], Patch) => Command::UpdateRetention,
            (["retention"], _) => Command::WrongMethod("GET, PATCH"),
            (["retention", "purge"], Post) => Command::PurgeRetention,
            (["retention", "purge"], _) => Command::WrongMethod("POST"),
            (["operators", o, "invite"], m) => match (id(o), m) {
                (None, _) => Command::Unknown,
                (Some(o), Post) => Command::Reinvite(o),
                (Some(_), _) => Command::WrongMethod("POST"),
            },
            ([collection], m) => match (Collection::parse(collection), m) {
                (None, _) => Command::Unknown,
                (Some(c), Get) => Command::List(c),
                (Some(c), Post) => Command::Create(c),
                (Some(_), _) => Command::WrongMethod("GET, POST"),
            },
            ([collection, item], m) => match (Collection::parse(collection), id(item), m) {
                (Some(c), Some(item), Patch) => Command::Update(c, item),
                // Operators are deactivated (PATCH active=false), never deleted: their history stays.
                (Some(Collection::Operators), Some(_), _) => Command::WrongMethod("PATCH"),
                (Some(c), Some(item), Delete) => Command::Delete(c, item),
                (Some(_), Some(_), _) => Command::WrongMethod("PATCH, DELETE"),
                _ => Command::Unknown,
            },
            _ => Command::Unknown,
        }
    }
}

impl Command {
    /// Changes after which waiting conversations may now be assignable (more capacity, other
    /// members, another strategy): the router gets a pass.
    fn may_change_routing(&self) -> bool {
        matches!(
            self,
            Command::Update(Collection::Operators | Collection::Teams, _)
                | Command::Create(Collection::Teams)
                | Command::Delete(Collection::Teams, _)
                | Command::UpdateRouting
        )
    }

    /// What an admin write changes, for its audit line; `None` for reads, and for exports and
    /// erasures, which `shared::privacy` audits itself (in the erasure's own transaction).
    /// Every write command must be listed here: the match has no catch-all for writes.
    fn audited_change(&self) -> Option<AdminChange> {
        use Change::{Created, Deleted, Ran, Tested, Updated};
        let change = |area: &'static str, change: Change, item: Option<i64>| {
            Some(AdminChange { area, change, item })
        };
        match *self {
            Command::Create(c) => change(c.area(), Created, None),
            Command::Update(c, id) => change(c.area(), Updated, Some(id)),
            Command::Delete(c, id) => change(c.area(), Deleted, Some(id)),
            Command::Reinvite(id) => change("operators", Tested, Some(id)),
            Command::UpdateAssistant => change("assistant", Updated, None),
            Command::UpdateCsat => change("csat", Updated, None),
            Command::UpdateSettings => change("settings", Updated, None),
            Command::UpdateWidget => change("widget", Updated, None),
            Command::UpdateRouting => change("routing", Updated, None),
            Command::UpdateHours => change("hours", Updated, None),
            Command::UpdateTeamHours(id) => change("team_hours", Updated, Some(id)),
            Command::CreateWebhook => change("webhooks", Created, None),
            Command::UpdateWebhook(id) => change("webhooks", Updated, Some(id)),
            Command::DeleteWebhook(id) => change("webhooks", Deleted, Some(id)),
            Command::TestWebhook(id) => change("webhooks", Tested, Some(id)),
            Command::UpdateRetention => change("retention", Updated, None),
            Command::PurgeRetention => change("retention", Ran, None),
            Command::List(_)
            | Command::Article(_)
            | Command::Assistant
            | Command::Csat
            | Command::Settings
            | Command::Widget
            | Command::Routing
            | Command::Hours
            | Command::TeamHours(_)
            | Command::Webhooks
            | Command::WebhookDeliveries(_)
            | Command::Audit
            | Command::Contacts
            | Command::ExportContact(_)
            | Command::EraseContact(_)
            | Command::Retention
            | Command::WrongMethod(_)
            | Command::Unknown => None,
        }
    }
}

/// The `webhook_trusted_origin` setting (README, "Webhooks"); a malformed one is the server's
/// fault, a 500 with the reason in the log.
fn trusted_origin() -> Result<Option<Origin>, ApiError> {
    Origin::parse_setting(&spin_host::variable("webhook_trusted_origin", ""))
        .map_err(|e| ApiError::internal(format!("webhook_trusted_origin: {e}")))
}

/// A body the browser saves as a file (an export, a CSV) rather than shows.
fn download(content_type: &str, file_name: &str, body: Vec<u8>) -> Response {
    Response::builder()
        .status(200)
        .header("content-type", content_type)
        .header(
            "content-disposition",
            format!("attachment; filename=\"{file_name}\""),
        )
        .header("cache-control", "no-store")
        .header("x-content-type-options", "nosniff")
        .body(body)
        .build()
}

#[http_component]
async fn handle(request: IncomingRequest) -> Response {
    spin_host::begin(COMPONENT, &request);
    spin_host::finish(match serve(request).await {
        Ok(response) => response,
        Err(e) => spin_host::error(COMPONENT, e),
    })
}

async fn serve(request: IncomingRequest) -> Result<Response, ApiError> {
    let request = ApiRequest::read(request, MAX_JSON_BODY_BYTES).await?;
    let command = Command::route(&request.method, &request.segments());
    match command {
        Command::Unknown => return Err(ApiError::not_found_route()),
        Command::WrongMethod(allowed) => return Err(ApiError::method_not_allowed(allowed)),
        _ => {}
    }
    request.guard_state_change()?;
    let access = match command {
        Command::List(_)
        | Command::Settings
        | Command::Widget
        | Command::Routing
        | Command::Hours
        | Command::TeamHours(_)
        | Command::Article(_)
        | Command::Webhooks
        | Command::WebhookDeliveries(_)
        | Command::Assistant
        | Command::Csat
        | Command::Audit
        | Command::Contacts
        | Command::Retention => Access::Read,
        _ => Access::Write,
    };
    let host = SpinHost::open(access)?;
    let ctx = host.ctx();
    let admin = spin_host::operator(&ctx, &request)?;
    let origin = request.origin();
    let client = request.client_address().to_owned();
    // The target's role before a change, so a role change's audit line names both ends.
    let role_before = match command {
        Command::Update(Collection::Operators, id) => shared::operator::by_id(ctx.db, id)
            .map_err(ApiError::internal)?
            .map(|o| o.role),
        _ => None,
    };
    use Collection as C;
    let response = match command {
        Command::List(C::Operators) => {
            spin_host::json_field(200, "operators", admin::operators(&ctx, &admin)?)
        }
        Command::List(C::Teams) => spin_host::json_field(200, "teams", admin::teams(&ctx, &admin)?),
        Command::List(C::Tags) => spin_host::json_field(200, "tags", admin::tags(&ctx, &admin)?),
        Command::List(C::Canned) => {
            spin_host::json_field(200, "canned", admin::team_canned(&ctx, &admin)?)
        }
        Command::List(C::Topics) => {
            spin_host::json_field(200, "topics", admin::topics(&ctx, &admin)?)
        }
        Command::Create(C::Topics) => spin_host::json_field(
            201,
            "topic",
            admin::create_topic(&ctx, &admin, &request.json()?)?,
        ),
        Command::Update(C::Topics, id) => spin_host::json_field(
            200,
            "topic",
            admin::update_topic(&ctx, &admin, id, &request.json()?)?,
        ),
        Command::List(C::Articles) => {
            let language = shared::api::query_text(&request.query, "language");
            spin_host::json_field(
                200,
                "articles",
                admin::articles(&ctx, &admin, language.as_deref())?,
            )
        }
        Command::Article(id) => {
            spin_host::json_field(200, "article", admin::article(&ctx, &admin, id)?)
        }
        Command::Create(C::Articles) => spin_host::json_field(
            201,
            "article",
            admin::create_article(&ctx, &admin, &request.json()?)?,
        ),
        Command::Update(C::Articles, id) => spin_host::json_field(
            200,
            "article",
            admin::update_article(&ctx, &admin, id, &request.json()?)?,
        ),
        Command::Assistant => {
            spin_host::json_field(200, "assistant", admin::assistant_settings(&ctx, &admin)?)
        }
        Command::UpdateAssistant => spin_host::json_field(
            200,
            "assistant",
            admin::update_assistant_settings(&ctx, &admin, &request.json()?)?,
        ),
        Command::Csat => spin_host::json_field(200, "csat", admin::csat_settings(&ctx, &admin)?),
        Command::UpdateCsat => spin_host::json_field(
            200,
            "csat",
            admin::update_csat_settings(&ctx, &admin, &request.json()?)?,
        ),
        Command::Routing => {
            spin_host::json_field(200, "routing", admin::default_routing(&ctx, &admin)?)
        }
        Command::UpdateRouting => spin_host::json_field(
            200,
            "routing",
            admin::update_default_routing(&ctx, &admin, &request.json()?)?,
        ),
        Command::Hours => spin_host::json_field(200, "hours", admin::default_hours(&ctx, &admin)?),
        Command::UpdateHours => spin_host::json_field(
            200,
            "hours",
            admin::update_default_hours(&ctx, &admin, request.json()?)?,
        ),
        Command::TeamHours(id) => {
            spin_host::json_field(200, "hours", admin::team_hours(&ctx, &admin, id)?)
        }
        Command::UpdateTeamHours(id) => spin_host::json_field(
            200,
            "hours",
            admin::update_team_hours(&ctx, &admin, id, request.json()?)?,
        ),
        Command::Create(C::Operators) => spin_host::json(
            201,
            &admin::invite(&ctx, &admin, &request.json()?, &origin)?,
        ),
        Command::Create(C::Teams) => spin_host::json_field(
            201,
            "team",
            admin::create_team(&ctx, &admin, &request.json()?)?,
        ),
        Command::Create(C::Tags) => spin_host::json_field(
            201,
            "tag",
            admin::create_tag(&ctx, &admin, &request.json()?)?,
        ),
        Command::Create(C::Canned) => spin_host::json_field(
            201,
            "canned",
            admin::create_team_canned(&ctx, &admin, &request.json()?)?,
        ),
        Command::Update(C::Operators, id) => spin_host::json_field(
            200,
            "operator",
            admin::update_operator(&ctx, &admin, id, &request.json()?)?,
        ),
        Command::Update(C::Teams, id) => spin_host::json_field(
            200,
            "team",
            admin::update_team(&ctx, &admin, id, &request.json()?)?,
        ),
        Command::Update(C::Tags, id) => spin_host::json_field(
            200,
            "tag",
            admin::update_tag(&ctx, &admin, id, &request.json()?)?,
        ),
        Command::Update(C::Canned, id) => spin_host::json_field(
            200,
            "canned",
            admin::update_team_canned(&ctx, &admin, id, &request.json()?)?,
        ),
        Command::Delete(collection, id) => {
            match collection {
                C::Teams => admin::delete_team(&ctx, &admin, id)?,
                C::Tags => admin::delete_tag(&ctx, &admin, id)?,
                C::Canned => admin::delete_team_canned(&ctx, &admin, id)?,
                C::Topics => admin::delete_topic(&ctx, &admin, id)?,
                C::Articles => admin::delete_article(&ctx, &admin, id)?,
                C::Operators => return Err(ApiError::method_not_allowed("PATCH")),
            }
            spin_host::no_content()
        }
        Command::Reinvite(id) => spin_host::json(200, &admin::reinvite(&ctx, &admin, id, &origin)?),
        Command::Webhooks => {
            spin_host::json_field(200, "webhooks", webhook::endpoints(&ctx, &admin)?)
        }
        Command::CreateWebhook => spin_host::json_field(
            201,
            "webhook",
            webhook::create_endpoint(&ctx, &admin, &request.json()?, trusted_origin()?.as_ref())?,
        ),
        Command::UpdateWebhook(id) => spin_host::json_field(
            200,
            "webhook",
            webhook::update_endpoint(
                &ctx,
                &admin,
                id,
                &request.json()?,
                trusted_origin()?.as_ref(),
            )?,
        ),
        Command::DeleteWebhook(id) => {
            webhook::delete_endpoint(&ctx, &admin, id)?;
            spin_host::no_content()
        }
        Command::TestWebhook(id) => {
            // The admin waits for the attempt (at most webhook_timeout_ms): "send test" is
            // for seeing at once whether the receiver answers.
            let row = webhook::queue_ping(&ctx, &admin, id)?;
            spin_host::webhooks(COMPONENT).await;
            let delivery = webhook::delivery(ctx.db, row).map_err(ApiError::internal)?;
            spin_host::json_field(202, "delivery", delivery)
        }
        Command::WebhookDeliveries(id) => {
            spin_host::json_field(200, "deliveries", webhook::deliveries(&ctx, &admin, id)?)
        }
        Command::Settings => spin_host::json_field(200, "settings", admin::settings(&ctx, &admin)?),
        Command::UpdateSettings => spin_host::json_field(
            200,
            "settings",
            admin::update_settings(&ctx, &admin, &request.json()?)?,
        ),
        Command::Widget => {
            spin_host::json_field(200, "widget", admin::widget_settings(&ctx, &admin)?)
        }
        Command::UpdateWidget => spin_host::json_field(
            200,
            "widget",
            admin::update_widget_settings(&ctx, &admin, &request.json()?)?,
        ),
        Command::Audit => {
            let query = audit::Query::parse(&request.query).map_err(ChatError::from)?;
            if shared::api::query_param(&request.query, "format") == Some("csv") {
                download(
                    "text/csv; charset=utf-8",
                    "audit-log.csv",
                    audit::csv(&ctx, &admin, &query)?.into_bytes(),
                )
            } else {
                spin_host::json(200, &audit::list(&ctx, &admin, &query)?)
            }
        }
        Command::Contacts => spin_host::json_field(
            200,
            "contacts",
            privacy::search(&ctx, &admin, &request.query)?,
        ),
        Command::ExportContact(id) => {
            let export = privacy::export(&ctx, &admin, id, &client)?;
            download(
                "application/json",
                &format!("contact-{id}-export.json"),
                shared::api::to_json(&export),
            )
        }
        Command::EraseContact(id) => {
            // The confirmation may come in the body or the query (`?confirm=erase`).
            let confirm = match shared::api::query_text(&request.query, "confirm") {
                Some(confirm) => privacy::EraseRequest { confirm },
                None => request.json()?,
            };
            spin_host::json_field(
                200,
                "erased",
                privacy::erase(&ctx, &admin, id, &confirm, &client)?,
            )
        }
        Command::Retention => {
            spin_host::json_field(200, "retention", retention::settings(&ctx, &admin)?)
        }
        Command::UpdateRetention => spin_host::json_field(
            200,
            "retention",
            retention::update(&ctx, &admin, &request.json()?)?,
        ),
        Command::PurgeRetention => {
            spin_host::json_field(200, "purged", retention::purge_now(&ctx, &admin)?)
        }
        Command::WrongMethod(_) | Command::Unknown => return Err(ApiError::not_found_route()),
    };
    // One place for every admin write's audit line: a route added above is audited as soon as
    // `audited_change` names it. Only successes reach here (failures returned early).
    if let Some(change) = command.audited_change() {
        let body = audit::body_value(&request.body);
        let entry = audit::admin_entry(&admin, &change, &body, role_before).from(&client);
        audit::record_or_log(&ctx, &entry);
    }
    if command.may_change_routing() {
        spin_host::route_if_needed(COMPONENT, &ctx, Sweep::Skip).await;
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        use Method::{Delete, Get, Patch, Post, Put};
        assert_eq!(
            Command::route(&Get, &["operators"]),
            Command::List(Collection::Operators)
        );
        assert_eq!(
            Command::route(&Post, &["tags"]),
            Command::Create(Collection::Tags)
        );
        assert_eq!(
            Command::route(&Patch, &["teams", "2"]),
            Command::Update(Collection::Teams, 2)
        );
        assert_eq!(
            Command::route(&Delete, &["operators", "2"]),
            Command::WrongMethod("PATCH")
        );
        assert_eq!(
            Command::route(&Delete, &["canned", "5"]),
            Command::Delete(Collection::Canned, 5)
        );
        assert_eq!(
            Command::route(&Post, &["operators", "3", "invite"]),
            Command::Reinvite(3)
        );
        assert_eq!(Command::route(&Patch, &["widget"]), Command::UpdateWidget);
        assert_eq!(
            Command::route(&Patch, &["settings"]),
            Command::UpdateSettings
        );
        assert_eq!(Command::route(&Put, &["hours"]), Command::UpdateHours);
        assert_eq!(
            Command::route(&Patch, &["hours"]),
            Command::WrongMethod("GET, PUT")
        );
        assert_eq!(
            Command::route(&Get, &["teams", "4", "hours"]),
            Command::TeamHours(4)
        );
        assert_eq!(
            Command::route(&Put, &["teams", "4", "hours"]),
            Command::UpdateTeamHours(4)
        );
        assert_eq!(
            Command::route(&Put, &["teams", "x", "hours"]),
            Command::Unknown
        );
        assert_eq!(Command::route(&Post, &["webhooks"]), Command::CreateWebhook);
        assert_eq!(
            Command::route(&Patch, &["webhooks", "3"]),
            Command::UpdateWebhook(3)
        );
        assert_eq!(
            Command::route(&Post, &["webhooks", "3", "test"]),
            Command::TestWebhook(3)
        );
        assert_eq!(
            Command::route(&Get, &["webhooks", "3", "deliveries"]),
            Command::WebhookDeliveries(3)
        );
        assert_eq!(
            Command::route(&Put, &["webhooks", "3"]),
            Command::WrongMethod("PATCH, DELETE")
        );
        assert_eq!(Command::route(&Get, &["audit"]), Command::Audit);
        assert_eq!(
            Command::route(&Delete, &["audit"]),
            Command::WrongMethod("GET")
        );
        assert_eq!(Command::route(&Get, &["contacts"]), Command::Contacts);
        assert_eq!(
            Command::route(&Get, &["contacts", "5", "export"]),
            Command::ExportContact(5)
        );
        assert_eq!(
            Command::route(&Delete, &["contacts", "5"]),
            Command::EraseContact(5)
        );
        assert_eq!(
            Command::route(&Get, &["contacts", "5"]),
            Command::WrongMethod("DELETE")
        );
        assert_eq!(
            Command::route(&Patch, &["retention"]),
            Command::UpdateRetention
        );
        assert_eq!(
            Command::route(&Post, &["retention", "purge"]),
            Command::PurgeRetention
        );
        assert_eq!(Command::route(&Get, &["nothing"]), Command::Unknown);
        assert_eq!(Command::route(&Get, &["tags", "x"]), Command::Unknown);
    }

    spin_host::route_table_property!(Command::route);
}
