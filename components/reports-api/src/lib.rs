//! `reports-api`: the numbers for supervisors and admins (`/api/reports/...`), computed by
//! `shared::reports` from the facts `shared::report_facts` folds out of the event log.
//!
//! Every request first folds what the event log gained since the last one (two indexed reads
//! when nothing did; batches of `report_facts::BATCH` events for at most [`FOLD_BUDGET_MS`],
//! each its own short write transaction: a report over a long backlog says
//! `"caught_up": false` and the next request folds on). Routes, each `GET`, each taking the filters of
//! `shared::reports::Filter::parse` (`from`, `to`, `tz`, `team`, `operator`, `channel`, `tag`,
//! `fcr_days`), and the tables `format=csv`:
//!
//! - `/summary`: the headline metrics and the daily series (`/daily?format=csv`);
//! - `/operators`: conversations per operator, times, CSAT, concurrent load;
//! - `/tags`: resolution time by tag;
//! - `/traffic`: conversations by weekday and hour;
//! - `/staffing`: the Erlang C plan per hour of the week beside the presence roster, with the
//!   plan's settings (`target_service_level`, `target_answer_secs`, `concurrency`,
//!   `concurrency_slowdown`, `shrinkage`, `handle_s`);
//! - `/live`: the queue now, operators available, today's first response and CSAT.

use serde::Serialize;
use shared::api::{ApiError, query_text};
use shared::operator::Role;
use shared::report_facts::{self, Progress};
use shared::reports::{self, Filter};
use shared::staffing;
use spin_host::{Access, ApiRequest, SpinHost};
use spin_sdk::http::{IncomingRequest, Method, Response};
use spin_sdk::http_component;

const COMPONENT: &str = "reports-api";
/// How long a request may spend folding a backlog of the event log before it answers.
const FOLD_BUDGET_MS: i64 = 1_500;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Command {
    Summary,
    Daily,
    Operators,
    Tags,
    Traffic,
    Staffing,
    Live,
    /// Health figures for supervisors: queue, delivery failures, refused webhooks, rate limits.
    System,
    WrongMethod,
    Unknown,
}

impl Command {
    fn route(method: &Method, segments: &[&str]) -> Command {
        let command = match segments {
            ["summary"] => Command::Summary,
            ["daily"] => Command::Daily,
            ["operators"] => Command::Operators,
            ["tags"] => Command::Tags,
            ["traffic"] => Command::Traffic,
            ["staffing"] => Command::Staffing,
            ["live"] => Command::Live,
            ["system"] => Command::System,
            _ => return Command::Unknown,
        };
        if *method == Method::Get {
            command
        } else {
            Command::WrongMethod
        }
    }
}

#[http_component]
async fn handle(request: IncomingRequest) -> Response {
    spin_host::begin(COMPONENT, &request);
    spin_host::finish(match serve(request).await {
        Ok(response) => response,
        Err(e) => spin_host::error(COMPONENT, e),
    })
}

/// A report's JSON: the period, whether every event is in the figures (`caught_up`), and
/// the report's fields.
fn report(filter: &Filter, progress: Progress, fields: &[(&str, serde_json::Value)]) -> Response {
    let mut map = serde_json::Map::new();
    map.insert("from".into(), filter.from.to_string().into());
    map.insert("to".into(), filter.to.to_string().into());
    map.insert("time_zone".into(), filter.time_zone_name.clone().into());
    map.insert("caught_up".into(), progress.caught_up.into());
    for (key, value) in fields {
        map.insert((*key).to_owned(), value.clone());
    }
    spin_host::json(200, &map)
}

fn value(value: impl Serialize) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(value).map_err(ApiError::internal)
}

fn csv_response(name: &str, filter: &Filter, body: String) -> Response {
    Response::builder()
        .status(200)
        .header("content-type", "text/csv; charset=utf-8")
        .header(
            "content-disposition",
            format!(
                "attachment; filename=\"{name}-{}-{}.csv\"",
                filter.from, filter.to
            ),
        )
        .header("cache-control", "no-store")
        .header("x-content-type-options", "nosniff")
        .body(body.into_bytes())
        .build()
}

async fn serve(request: IncomingRequest) -> Result<Response, ApiError> {
    // Reports take no body; a small allowance lets a wrong method get its 405.
    let request = ApiRequest::read(request, 1024).await?;
    let command = Command::route(&request.method, &request.segments());
    match command {
        Command::Unknown => return Err(ApiError::not_found_route()),
        Command::WrongMethod => return Err(ApiError::method_not_allowed("GET")),
        _ => {}
    }
    let host = SpinHost::open(Access::Write)?;
    let ctx = host.ctx();
    let operator = spin_host::operator(&ctx, &request)?;
    operator.require(Role::Supervisor)?;
    let now = ctx.clock.now_ms();
    if command == Command::System {
        let system = shared::system_report::report(ctx.db, now).map_err(ApiError::internal)?;
        return Ok(spin_host::json(200, &system));
    }
    let progress = if report_facts::behind(ctx.db).map_err(ApiError::internal)? {
        report_facts::catch_up_for(ctx.db, ctx.clock, FOLD_BUDGET_MS).map_err(ApiError::internal)?
    } else {
        Progress {
            folded_events: 0,
            caught_up: true,
        }
    };
    let default_tz = shared::hours::default_hours(ctx.db)
        .map_err(ApiError::internal)?
        .map_or_else(|| "UTC".to_owned(), |h| h.time_zone().as_str().to_owned());
    let csv = query_text(&request.query, "format").as_deref() == Some("csv");
    let mut filter = Filter::parse(&request.query, &default_tz, now)?;
    if command == Command::Live {
        // Today only, whatever the period asked for.
        let today = Filter::parse(&format!("tz={}", filter.time_zone_name), &default_tz, now)?;
        filter.from = today.to;
        filter.to = today.to;
        return Ok(spin_host::json(
            200,
            &reports::live(ctx.db, &filter, now).map_err(ApiError::internal)?,
        ));
    }
    let rows = reports::rows(ctx.db, &filter).map_err(ApiError::internal)?;
    let response = match command {
        Command::Summary => report(
            &filter,
            progress,
            &[
                (
                    "summary",
                    value(reports::summarize(&rows, filter.fcr_days, now))?,
                ),
                ("daily", value(reports::daily(&rows, &filter))?),
            ],
        ),
        Command::Daily => {
            let days = reports::daily(&rows, &filter);
            if csv {
                csv_response("daily", &filter, reports::daily_csv(&days))
            } else {
                report(&filter, progress, &[("daily", value(days)?)])
            }
        }
        Command::Operators => {
            let spans = reports::spans(ctx.db, &filter, now).map_err(ApiError::internal)?;
            let table =
                reports::by_operator(ctx.db, &rows, &spans, &filter).map_err(ApiError::internal)?;
            if csv {
                csv_response("operators", &filter, reports::operators_csv(&table))
            } else {
                report(&filter, progress, &[("operators", value(table)?)])
            }
        }
        Command::Tags => {
            let table = reports::by_tag(ctx.db, &rows, &filter).map_err(ApiError::internal)?;
            if csv {
                csv_response("tags", &filter, reports::tags_csv(&table))
            } else {
                report(&filter, progress, &[("tags", value(table)?)])
            }
        }
        Command::Traffic => {
            let traffic = reports::traffic(&rows, &filter);
            if csv {
                csv_response("traffic", &filter, reports::traffic_csv(&traffic))
            } else {
                report(&filter, progress, &[("traffic", value(traffic)?)])
            }
        }
        Command::Staffing => {
            let settings = staffing_settings(&request.query)?;
            let handle_s = match query_text(&request.query, "handle_s") {
                None => None,
                Some(text) => Some(
                    text.parse::<f64>()
                        .ok()
                        .filter(|s| (1.0..=3_600.0).contains(s))
                        .ok_or_else(|| {
                            shared::input::InvalidInput::new(
                                "handle_s",
                                "must be 1 to 3600 seconds",
                            )
                        })?,
                ),
            };
            let plan = reports::staffing(ctx.db, &rows, &filter, &settings, handle_s)
                .map_err(ApiError::internal)?;
            if csv {
                csv_response("staffing", &filter, reports::staffing_csv(&plan))
            } else {
                report(&filter, progress, &[("staffing", value(plan)?)])
            }
        }
        Command::Live | Command::System | Command::WrongMethod | Command::Unknown => {
            return Err(ApiError::not_found_route());
        }
    };
    Ok(response)
}

/// The staffing plan's settings from the query (each optional; see `staffing::SettingsInput`).
fn staffing_settings(query: &str) -> Result<staffing::Settings, ApiError> {
    let mut input = staffing::SettingsInput::default();
    let number = |name: &'static str| -> Result<Option<f64>, ApiError> {
        query_text(query, name)
            .map(|t| {
                t.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| {
                        shared::input::InvalidInput::new(name, "must be a number").into()
                    })
            })
            .transpose()
    };
    if let Some(v) = number("target_service_level")? {
        input.target_service_level = v;
    }
    if let Some(v) = number("target_answer_secs")? {
        input.target_answer_secs = v;
    }
    if let Some(v) = number("concurrency")? {
        if v.fract() != 0.0 || !(1.0..=100.0).contains(&v) {
            return Err(
                shared::input::InvalidInput::new("concurrency", "must be a whole number").into(),
            );
        }
        input.concurrency = v as u32;
    }
    if let Some(v) = number("concurrency_slowdown")? {
        input.concurrency_slowdown = v;
    }
    if let Some(v) = number("shrinkage")? {
        input.shrinkage = v;
    }
    Ok(staffing::Settings::try_from(input)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(Command::route(&Method::Get, &["summary"]), Command::Summary);
        assert_eq!(
            Command::route(&Method::Get, &["staffing"]),
            Command::Staffing
        );
        assert_eq!(
            Command::route(&Method::Post, &["live"]),
            Command::WrongMethod
        );
        assert_eq!(Command::route(&Method::Get, &["x"]), Command::Unknown);
    }

    #[test]
    fn staffing_settings_come_from_the_query_with_field_errors() -> Result<(), ApiError> {
        let settings = staffing_settings("concurrency=2&shrinkage=0.25")?;
        assert_eq!(settings.concurrency(), 2);
        assert!(staffing_settings("concurrency=2.5").is_err());
        assert!(staffing_settings("target_service_level=2").is_err());
        assert!(staffing_settings("shrinkage=abc").is_err());
        Ok(())
    }

    spin_host::route_table_property!(Command::route);
}
