//! The numbers a support lead runs the team by, computed from the facts folded out of the event
//! log ([`crate::report_facts`]). Every figure has one written definition (here and in the
//! README); the functions that compute them are pure over [`Row`]s so that tests can check
//! them against hand-computed scenarios.
//!
//! # Scope
//! A report covers the conversations that **started** in the period (`from`..=`to`, whole days
//! in the report's time zone), narrowed by team (the conversation's current team), operator
//! (who handled it: its assignee when resolved, else its latest one), channel (where it
//! started) and tag. Durations are reported as count, mean, median and 90th percentile, in
//! seconds.
//!
//! # Definitions
//! - **First response time**: from the customer's first message, or from the assistant's
//!   handoff when the assistant had the conversation first, to the first reply by a person.
//!   In calendar time, and in business time (the open hours of the conversation's team, or
//!   the default hours, between those two instants; absent when no hours are set).
//! - **Waiting before assignment**: from the same start to the first assignment to a person.
//! - **Resolution time**: from the customer's first message (or the conversation's start) to
//!   its first resolution. Also broken down by tag.
//! - **First-contact resolution**: among conversations people handled (assigned or replied)
//!   and resolved, the share resolved once, by one operator, and not reopened within
//!   `fcr_days` (default 7) of that resolution.
//! - **CSAT**: the average rating (1-5) and the share of ratings that are 4 or 5
//!   ("satisfied"), over the answers to surveys of those conversations; with the number of
//!   answers.
//! - **Handled by the assistant alone** ("bot-resolved"): the assistant answered from the
//!   knowledge base, never handed off, and no person was assigned or replied. **Handled by
//!   people**: a person was assigned or replied. Both as shares of conversations in which the
//!   customer wrote.
//! - **Transfers**: how many transfers, and the share of conversations transferred at least
//!   once.
//! - **Abandoned**: the customer wrote, got no answer (no reply from a person, no answer from
//!   the assistant), and the conversation was resolved or has been silent for
//!   [`ABANDON_AFTER_MS`].
//! - **Conversations per operator**: conversations each operator handled, with their median
//!   first response and resolution time and CSAT; **concurrent load**: the average number of
//!   conversations they held at once while holding any, and the most at once (from
//!   assignment spans).

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::api::query_text;
use crate::channel::Channel;
use crate::input::InvalidInput;
use crate::store::{Database, DbError, SqlValue};

/// A conversation whose customer got no answer and has been silent this long counts as
/// abandoned.
pub const ABANDON_AFTER_MS: i64 = 24 * 3_600_000;
/// The longest period one report covers.
pub const MAX_DAYS: i64 = 366;
const DAY_MS: i64 = 86_400_000;

/// What a report covers (see the module docs).
#[derive(Debug, Clone)]
pub struct Filter {
    pub from: Date,
    pub to: Date,
    pub time_zone: TimeZone,
    pub time_zone_name: String,
    pub team_id: Option<i64>,
    pub operator_id: Option<i64>,
    pub channel: Option<Channel>,
    pub tag_id: Option<i64>,
    pub fcr_days: i64,
}

impl Filter {
    /// The first instant of `from` and the first instant after `to`, in ms.
    pub fn range_ms(&self) -> (i64, i64) {
        let start = |date: Date| {
            self.time_zone
                .to_ambiguous_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
                .compatible()
                .map(|t| t.as_millisecond())
                .unwrap_or(0)
        };
        let after = self.to.tomorrow().unwrap_or(self.to);
        (start(self.from), start(after))
    }

    /// Whole days covered.
    pub fn days(&self) -> i64 {
        (self.to - self.from).get_days() as i64 + 1
    }

    /// From the query string: `from`, `to` (`YYYY-MM-DD`, default the 7 days up to today),
    /// `tz` (IANA, default `default_tz`), `team`, `operator`, `tag` (ids), `channel`,
    /// `fcr_days` (1-90).
    pub fn parse(query: &str, default_tz: &str, now_ms: i64) -> Result<Filter, InvalidInput> {
        let tz_text = query_text(query, "tz").unwrap_or_else(|| default_tz.to_owned());
        let tz_name = crate::hours::TimeZoneName::parse(&tz_text)
            .map_err(|_| InvalidInput::new("tz", "must be an IANA time zone like Europe/Berlin"))?;
        let time_zone = tz_name.time_zone().clone();
        let today = Timestamp::from_millisecond(now_ms)
            .map(|t| time_zone.to_datetime(t).date())
            .map_err(|_| InvalidInput::new("now", "out of range"))?;
        let date = |name: &'static str, default: Date| -> Result<Date, InvalidInput> {
            match query_text(query, name) {
                None => Ok(default),
                Some(text) => text
                    .parse::<Date>()
                    .map_err(|_| InvalidInput::new(name, "must be a date like 2026-01-31")),
            }
        };
        let to = date("to", today)?;
        let default_from = to
            .checked_sub(jiff::Span::new().days(6))
            .map_err(|_| InvalidInput::new("to", "out of range"))?;
        let from = date("from", default_from)?;
        if from > to {
            return Err(InvalidInput::new("from", "must not be after to"));
        }
        if (to - from).get_days() as i64 >= MAX_DAYS {
            return Err(InvalidInput::new(
                "from",
                format!("a report covers at most {MAX_DAYS} days"),
            ));
        }
        let id = |name: &'static str| -> Result<Option<i64>, InvalidInput> {
            query_text(query, name)
                .filter(|t| !t.is_empty())
                .map(|t| {
                    t.parse::<i64>()
                        .ok()
                        .filter(|v| *v > 0)
                        .ok_or_else(|| InvalidInput::new(name, "must be a positive id"))
                })
                .transpose()
        };
        let channel = query_text(query, "channel")
            .filter(|t| !t.is_empty())
            .map(|t| {
                Channel::parse(&t).ok_or_else(|| {
                    InvalidInput::new(
                        "channel",
                        "must be one of web, sms, whatsapp, email, messenger, instagram",
                    )
                })
            })
            .transpose()?;
        let fcr_days = match query_text(query, "fcr_days") {
            None => 7,
            Some(t) => t
                .parse::<i64>()
                .ok()
                .filter(|d| (1..=90).contains(d))
                .ok_or_else(|| InvalidInput::new("fcr_days", "must be 1 to 90"))?,
        };
        Ok(Filter {
            from,
            to,
            time_zone,
            time_zone_name: tz_name.as_str().to_owned(),
            team_id: id("team")?,
            operator_id: id("operator")?,
            channel,
            tag_id: id("tag")?,
            fcr_days,
        })
    }
}

/// One conversation's facts, as reports read them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    pub conversation_id: i64,
    pub created_at: i64,
    pub channel: String,
    pub first_customer_at: Option<i64>,
    pub handoff_at: Option<i64>,
    pub bot_answered: bool,
    pub first_assigned_at: Option<i64>,
    pub first_human_reply_at: Option<i64>,
    pub first_response_business_ms: Option<i64>,
    pub first_resolved_at: Option<i64>,
    pub reopened_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub resolutions: i64,
    pub transfers: i64,
    pub operator_id: Option<i64>,
    /// Operators who held it: 0, 1, or 2 meaning two or more.
    pub operator_count: i64,
    pub last_customer_at: Option<i64>,
    pub first_answer_at: Option<i64>,
    pub csat: Option<i64>,
}

impl Row {
    fn wait_started(&self) -> Option<i64> {
        self.handoff_at.or(self.first_customer_at)
    }

    fn people_handled(&self) -> bool {
        self.first_assigned_at.is_some() || self.first_human_reply_at.is_some()
    }
}

/// The facts of the covered conversations as one JSON array of arrays: one value crosses the
/// host's database interface instead of 19 per conversation, which over 100,000 conversations
/// is most of a report's time (measured with `reports_scale`). Instants after the start are
/// sent relative to it (shorter numbers to build, send and parse), and the number of operators
/// as 0, 1 or 2 for "two or more" (all a report needs, without parsing the list).
const ROWS: &str = "SELECT COALESCE(json_group_array(json_array(
        f.conversation_id, f.created_at, f.channel, f.first_customer_at - f.created_at,
        f.handoff_at - f.created_at, f.bot_answered, f.first_assigned_at - f.created_at,
        f.first_human_reply_at - f.created_at, f.first_response_business_ms,
        f.first_resolved_at - f.created_at, f.reopened_at - f.created_at,
        f.resolved_at - f.created_at, f.resolutions, f.transfers, f.operator_id,
        (f.operators != '[]') + (instr(f.operators, ',') > 0),
        f.last_customer_at - f.created_at, f.first_answer_at - f.created_at, f.csat)), '[]') AS rows
   FROM conversation_facts f
  WHERE f.created_at >= ?1 AND f.created_at < ?2
    AND (?3 IS NULL OR f.conversation_id IN (SELECT id FROM conversations WHERE team_id = ?3))
    AND (?4 IS NULL OR f.operator_id = ?4)
    AND (?5 IS NULL OR f.channel = ?5)
    AND (?6 IS NULL OR EXISTS (SELECT 1 FROM conversation_tags t
                                WHERE t.conversation_id = f.conversation_id AND t.tag_id = ?6))";

/// One element of [`ROWS`], in its column order.
#[derive(serde::Deserialize)]
struct Packed(
    i64,
    i64,
    String,
    Option<i64>,
    Option<i64>,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    i64,
    i64,
    Option<i64>,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

fn filter_params(filter: &Filter) -> Vec<SqlValue> {
    let (from, to) = filter.range_ms();
    vec![
        from.into(),
        to.into(),
        filter.team_id.into(),
        filter.operator_id.into(),
        filter.channel.map(Channel::as_str).into(),
        filter.tag_id.into(),
    ]
}

/// The facts of the conversations `filter` covers.
pub fn rows(db: &dyn Database, filter: &Filter) -> Result<Vec<Row>, DbError> {
    let result = db.execute(ROWS, &filter_params(filter))?;
    let Some(row) = result.first() else {
        return Ok(Vec::new());
    };
    let packed: Vec<Packed> = serde_json::from_str(row.str("rows")?)
        .map_err(|e| DbError::Decode(format!("report rows: {e}")))?;
    Ok(packed
        .into_iter()
        .map(|p| {
            let at = |offset: Option<i64>| offset.map(|ms| p.1 + ms);
            Row {
                conversation_id: p.0,
                created_at: p.1,
                first_customer_at: at(p.3),
                handoff_at: at(p.4),
                bot_answered: p.5 == 1,
                first_assigned_at: at(p.6),
                first_human_reply_at: at(p.7),
                first_response_business_ms: p.8,
                first_resolved_at: at(p.9),
                reopened_at: at(p.10),
                resolved_at: at(p.11),
                resolutions: p.12,
                transfers: p.13,
                operator_id: p.14,
                operator_count: p.15,
                last_customer_at: at(p.16),
                first_answer_at: at(p.17),
                csat: p.18,
                channel: p.2,
            }
        })
        .collect())
}

/// Durations in seconds: how many, mean, median, 90th percentile (nearest rank).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Durations {
    pub count: usize,
    pub mean_s: Option<f64>,
    pub median_s: Option<f64>,
    pub p90_s: Option<f64>,
}

impl Durations {
    pub fn of(mut ms: Vec<i64>) -> Durations {
        ms.retain(|v| *v >= 0);
        if ms.is_empty() {
            return Durations::default();
        }
        ms.sort_unstable();
        let n = ms.len();
        let rank = |q: f64| ms[((q * n as f64).ceil() as usize).clamp(1, n) - 1] as f64 / 1000.0;
        let median = if n % 2 == 1 {
            ms[n / 2] as f64 / 1000.0
        } else {
            (ms[n / 2 - 1] + ms[n / 2]) as f64 / 2000.0
        };
        Durations {
            count: n,
            mean_s: Some(ms.iter().sum::<i64>() as f64 / n as f64 / 1000.0),
            median_s: Some(median),
            p90_s: Some(rank(0.9)),
        }
    }
}

/// A share: `count` of `of`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Share {
    pub count: usize,
    pub of: usize,
    pub rate: Option<f64>,
}

impl Share {
    pub fn new(count: usize, of: usize) -> Share {
        Share {
            count,
            of,
            rate: (of > 0).then(|| count as f64 / of as f64),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Csat {
    pub responses: usize,
    pub average: Option<f64>,
    /// Ratings of 4 or 5.
    pub satisfied: Share,
}

impl Csat {
    fn of(ratings: impl Iterator<Item = i64>) -> Csat {
        let ratings: Vec<i64> = ratings.filter(|r| (1..=5).contains(r)).collect();
        let n = ratings.len();
        Csat {
            responses: n,
            average: (n > 0).then(|| ratings.iter().sum::<i64>() as f64 / n as f64),
            satisfied: Share::new(ratings.iter().filter(|r| **r >= 4).count(), n),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Transfers {
    pub total: i64,
    pub conversations: Share,
}

/// The headline metrics (see the module docs for each definition).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub conversations: usize,
    /// Conversations in which the customer wrote.
    pub with_customer_message: usize,
    pub first_response: Durations,
    pub first_response_business: Durations,
    pub waiting_before_assignment: Durations,
    pub resolution: Durations,
    pub first_contact_resolution: Share,
    pub csat: Csat,
    pub bot_resolved: Share,
    pub human_handled: Share,
    pub transfers: Transfers,
    pub abandoned: Share,
}

fn delta(from: Option<i64>, to: Option<i64>) -> Option<i64> {
    Some(to? - from?)
}

/// Whether a resolved conversation counts as resolved at first contact.
fn first_contact(row: &Row, fcr_days: i64) -> bool {
    let Some(resolved) = row.first_resolved_at else {
        return false;
    };
    let reopened_soon = row
        .reopened_at
        .is_some_and(|at| at - resolved <= fcr_days * DAY_MS);
    !reopened_soon && row.operator_count <= 1
}

fn abandoned(row: &Row, now_ms: i64) -> bool {
    row.first_customer_at.is_some()
        && row.first_answer_at.is_none()
        && (row.first_resolved_at.is_some()
            || row
                .last_customer_at
                .is_some_and(|at| now_ms - at >= ABANDON_AFTER_MS))
}

/// The headline metrics over `rows`.
pub fn summarize(rows: &[Row], fcr_days: i64, now_ms: i64) -> Summary {
    let wrote: Vec<&Row> = rows
        .iter()
        .filter(|r| r.first_customer_at.is_some())
        .collect();
    let handled_resolved: Vec<&Row> = rows
        .iter()
        .filter(|r| r.people_handled() && r.first_resolved_at.is_some())
        .collect();
    let bot_resolved = wrote
        .iter()
        .filter(|r| r.bot_answered && r.handoff_at.is_none() && !r.people_handled())
        .count();
    let human_handled = wrote.iter().filter(|r| r.people_handled()).count();
    Summary {
        conversations: rows.len(),
        with_customer_message: wrote.len(),
        first_response: Durations::of(
            rows.iter()
                .filter_map(|r| delta(r.wait_started(), r.first_human_reply_at))
                .collect(),
        ),
        first_response_business: Durations::of(
            rows.iter()
                .filter(|r| r.first_human_reply_at.is_some())
                .filter_map(|r| r.first_response_business_ms)
                .collect(),
        ),
        waiting_before_assignment: Durations::of(
            rows.iter()
                .filter_map(|r| delta(r.wait_started(), r.first_assigned_at))
                .collect(),
        ),
        resolution: Durations::of(resolution_ms(rows.iter())),
        first_contact_resolution: Share::new(
            handled_resolved
                .iter()
                .filter(|r| first_contact(r, fcr_days))
                .count(),
            handled_resolved.len(),
        ),
        csat: Csat::of(rows.iter().filter_map(|r| r.csat)),
        bot_resolved: Share::new(bot_resolved, wrote.len()),
        human_handled: Share::new(human_handled, wrote.len()),
        transfers: Transfers {
            total: rows.iter().map(|r| r.transfers).sum(),
            conversations: Share::new(rows.iter().filter(|r| r.transfers > 0).count(), rows.len()),
        },
        abandoned: Share::new(
            wrote.iter().filter(|r| abandoned(r, now_ms)).count(),
            wrote.len(),
        ),
    }
}

fn resolution_ms<'a>(rows: impl Iterator<Item = &'a Row>) -> Vec<i64> {
    rows.filter_map(|r| {
        delta(
            Some(r.first_customer_at.unwrap_or(r.created_at)),
            r.first_resolved_at,
        )
    })
    .collect()
}

/// Conversations per day, in the report's time zone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Day {
    pub date: String,
    pub conversations: usize,
    pub resolved: usize,
    pub first_response_median_s: Option<f64>,
}

pub fn daily(rows: &[Row], filter: &Filter) -> Vec<Day> {
    let mut days: BTreeMap<Date, Vec<&Row>> = BTreeMap::new();
    let mut date = filter.from;
    while date <= filter.to {
        days.insert(date, Vec::new());
        match date.tomorrow() {
            Ok(next) => date = next,
            Err(_) => break,
        }
    }
    for row in rows {
        if let Ok(t) = Timestamp::from_millisecond(row.created_at) {
            let day = filter.time_zone.to_datetime(t).date();
            if let Some(list) = days.get_mut(&day) {
                list.push(row);
            }
        }
    }
    days.into_iter()
        .map(|(date, list)| Day {
            date: date.to_string(),
            conversations: list.len(),
            resolved: list
                .iter()
                .filter(|r| r.first_resolved_at.is_some())
                .count(),
            first_response_median_s: Durations::of(
                list.iter()
                    .filter_map(|r| delta(r.wait_started(), r.first_human_reply_at))
                    .collect(),
            )
            .median_s,
        })
        .collect()
}

/// Conversations started by weekday (0 = Monday) and hour, in the report's time zone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Traffic {
    pub time_zone: String,
    /// `counts[weekday][hour]`.
    pub counts: Vec<Vec<usize>>,
    pub max: usize,
    pub total: usize,
}

pub fn traffic(rows: &[Row], filter: &Filter) -> Traffic {
    let mut counts = vec![vec![0usize; 24]; 7];
    for row in rows {
        let at = row.first_customer_at.unwrap_or(row.created_at);
        if let Ok(t) = Timestamp::from_millisecond(at) {
            let z = filter.time_zone.to_datetime(t);
            let weekday = z.weekday().to_monday_zero_offset() as usize;
            counts[weekday][z.hour() as usize] += 1;
        }
    }
    let max = counts.iter().flatten().copied().max().unwrap_or(0);
    Traffic {
        time_zone: filter.time_zone_name.clone(),
        total: counts.iter().flatten().sum(),
        counts,
        max,
    }
}

/// One operator's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperatorRow {
    pub operator_id: i64,
    pub name: String,
    pub conversations: usize,
    pub resolved: usize,
    pub first_response: Durations,
    pub resolution: Durations,
    pub csat: Csat,
    /// Average conversations held at once while holding any.
    pub concurrent_average: Option<f64>,
    pub concurrent_peak: usize,
    /// Time spent holding conversations, in hours.
    pub handling_hours: f64,
}

/// A stretch an operator held a conversation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    pub operator_id: i64,
    pub started_at: i64,
    pub ended_at: i64,
}

const SPANS: &str = "SELECT operator_id, started_at, COALESCE(ended_at, ?3) AS ended_at
   FROM assignment_spans
  WHERE started_at < ?2 AND (ended_at IS NULL OR ended_at > ?1)";

/// Assignment spans overlapping the period (open ones end now).
pub fn spans(db: &dyn Database, filter: &Filter, now_ms: i64) -> Result<Vec<Span>, DbError> {
    let (from, to) = filter.range_ms();
    db.execute(SPANS, &[from.into(), to.into(), now_ms.into()])?
        .iter()
        .map(|row| {
            Ok(Span {
                operator_id: row.i64("operator_id")?,
                started_at: row.i64("started_at")?,
                ended_at: row.i64("ended_at")?,
            })
        })
        .collect()
}

/// Average and peak number of spans open at once, clipped to `from..to`, while any is open.
pub fn concurrency(spans: &[Span], from: i64, to: i64) -> (Option<f64>, usize, i64) {
    let mut edges: Vec<(i64, i32)> = Vec::new();
    for s in spans {
        let (a, b) = (s.started_at.max(from), s.ended_at.min(to));
        if b > a {
            edges.push((a, 1));
            edges.push((b, -1));
        }
    }
    // Ends before starts at the same instant: a handover is not two at once.
    edges.sort_unstable();
    let (mut open, mut peak, mut busy_ms, mut weighted) = (0i64, 0i64, 0i64, 0i64);
    let mut last = None;
    for (at, change) in edges {
        if let Some(prev) = last
            && open > 0
        {
            busy_ms += at - prev;
            weighted += (at - prev) * open;
        }
        open += i64::from(change);
        peak = peak.max(open);
        last = Some(at);
    }
    let held: i64 = spans
        .iter()
        .map(|s| (s.ended_at.min(to) - s.started_at.max(from)).max(0))
        .sum();
    (
        (busy_ms > 0).then(|| weighted as f64 / busy_ms as f64),
        peak as usize,
        held,
    )
}

const OPERATOR_NAMES: &str = "SELECT id, name FROM operators";

/// Conversations per operator (see the module docs).
pub fn by_operator(
    db: &dyn Database,
    rows: &[Row],
    spans: &[Span],
    filter: &Filter,
) -> Result<Vec<OperatorRow>, DbError> {
    let names: HashMap<i64, String> = db
        .execute(OPERATOR_NAMES, &[])?
        .iter()
        .map(|r| Ok((r.i64("id")?, r.str("name")?.to_owned())))
        .collect::<Result<_, DbError>>()?;
    let mut by: BTreeMap<i64, Vec<&Row>> = BTreeMap::new();
    for row in rows {
        if let Some(id) = row.operator_id {
            by.entry(id).or_default().push(row);
        }
    }
    for span in spans {
        if filter.operator_id.is_none_or(|id| id == span.operator_id) {
            by.entry(span.operator_id).or_default();
        }
    }
    let (from, to) = filter.range_ms();
    let mut out: Vec<OperatorRow> = by
        .into_iter()
        .map(|(operator_id, list)| {
            let own: Vec<Span> = spans
                .iter()
                .filter(|s| s.operator_id == operator_id)
                .copied()
                .collect();
            let (average, peak, held_ms) = concurrency(&own, from, to);
            OperatorRow {
                operator_id,
                name: names
                    .get(&operator_id)
                    .cloned()
                    .unwrap_or_else(|| format!("#{operator_id}")),
                conversations: list.len(),
                resolved: list
                    .iter()
                    .filter(|r| r.first_resolved_at.is_some())
                    .count(),
                first_response: Durations::of(
                    list.iter()
                        .filter_map(|r| delta(r.wait_started(), r.first_human_reply_at))
                        .collect(),
                ),
                resolution: Durations::of(resolution_ms(list.iter().copied())),
                csat: Csat::of(list.iter().filter_map(|r| r.csat)),
                concurrent_average: average,
                concurrent_peak: peak,
                handling_hours: held_ms as f64 / 3_600_000.0,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.conversations
            .cmp(&a.conversations)
            .then(a.name.cmp(&b.name))
    });
    Ok(out)
}

/// Resolution time for one tag.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagRow {
    pub tag_id: i64,
    pub name: String,
    pub conversations: usize,
    pub resolution: Durations,
}

const TAGS_OF: &str = "SELECT t.id, t.name, ct.conversation_id FROM conversation_tags ct
   JOIN tags t ON t.id = ct.tag_id
   JOIN conversation_facts f ON f.conversation_id = ct.conversation_id
  WHERE f.created_at >= ?1 AND f.created_at < ?2";

/// Resolution time broken down by tag (issue type); a conversation counts under each of its
/// tags, and untagged ones under none.
pub fn by_tag(db: &dyn Database, rows: &[Row], filter: &Filter) -> Result<Vec<TagRow>, DbError> {
    let (from, to) = filter.range_ms();
    let by_id: HashMap<i64, &Row> = rows.iter().map(|r| (r.conversation_id, r)).collect();
    let mut tags: BTreeMap<(String, i64), Vec<&Row>> = BTreeMap::new();
    for row in db.execute(TAGS_OF, &[from.into(), to.into()])?.iter() {
        if let Some(r) = by_id.get(&row.i64("conversation_id")?) {
            tags.entry((row.str("name")?.to_owned(), row.i64("id")?))
                .or_default()
                .push(r);
        }
    }
    Ok(tags
        .into_iter()
        .map(|((name, tag_id), list)| TagRow {
            tag_id,
            name,
            conversations: list.len(),
            resolution: Durations::of(resolution_ms(list.iter().copied())),
        })
        .collect())
}

/// The staffing plan for a typical week of the period (see [`crate::staffing`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StaffingReport {
    pub time_zone: String,
    pub settings: crate::staffing::Settings,
    /// The average handle time used: the `handle_s` asked for, else the period's mean from
    /// first assignment to first resolution of conversations people handled.
    pub average_handle_s: Option<f64>,
    /// Conversations it is based on.
    pub conversations: usize,
    /// 168 hours, Monday 00:00 first.
    pub hours: Vec<StaffingHour>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StaffingHour {
    /// 0 = Monday.
    pub weekday: usize,
    pub hour: usize,
    /// Conversations started in this hour of the week, averaged over the period's weeks.
    pub arrivals_per_hour: f64,
    /// Erlang C's plan for it (absent when the handle time is unknown).
    pub plan: Option<crate::staffing::HourPlan>,
    /// Operators available then, on average (from their presence).
    pub actual_operators: f64,
}

/// How many times each weekday (0 = Monday) occurs in `from..=to`.
fn weekday_counts(from: Date, to: Date) -> [f64; 7] {
    let mut counts = [0.0; 7];
    let mut date = from;
    while date <= to {
        counts[date.weekday().to_monday_zero_offset() as usize % 7] += 1.0;
        match date.tomorrow() {
            Ok(next) => date = next,
            Err(_) => break,
        }
    }
    counts
}

const PRESENCE: &str = "SELECT started_at, last_seen_at FROM presence_spans
  WHERE started_at < ?2 AND last_seen_at > ?1";

/// The staffing plan: arrivals per hour of the week and the handle time from `rows`, the
/// actual roster from presence spans, Erlang C for each hour with `settings`.
pub fn staffing(
    db: &dyn Database,
    rows: &[Row],
    filter: &Filter,
    settings: &crate::staffing::Settings,
    handle_s: Option<f64>,
) -> Result<StaffingReport, DbError> {
    let occurrences = weekday_counts(filter.from, filter.to);
    let mut arrivals = [[0.0f64; 24]; 7];
    for row in rows {
        let at = row.first_customer_at.unwrap_or(row.created_at);
        if let Ok(t) = Timestamp::from_millisecond(at) {
            let local = filter.time_zone.to_datetime(t);
            arrivals[local.weekday().to_monday_zero_offset() as usize % 7]
                [local.hour() as usize] += 1.0;
        }
    }
    let handled: Vec<i64> = rows
        .iter()
        .filter_map(|r| delta(r.first_assigned_at, r.first_resolved_at))
        .filter(|ms| *ms > 0)
        .collect();
    let average_handle_s = handle_s.or_else(|| {
        (!handled.is_empty())
            .then(|| handled.iter().sum::<i64>() as f64 / handled.len() as f64 / 1000.0)
    });
    // Operator-hours available in each hour of the week, from presence spans clipped to the
    // period; each hour is walked in local time.
    let (from, to) = filter.range_ms();
    let mut online = [[0.0f64; 24]; 7];
    for row in db.execute(PRESENCE, &[from.into(), to.into()])?.iter() {
        let (mut t, end) = (
            row.i64("started_at")?.max(from),
            row.i64("last_seen_at")?.min(to),
        );
        while t < end {
            let Ok(ts) = Timestamp::from_millisecond(t) else {
                break;
            };
            let local = filter.time_zone.to_datetime(ts);
            let into_hour = i64::from(local.minute()) * 60_000
                + i64::from(local.second()) * 1000
                + i64::from(local.subsec_nanosecond() / 1_000_000);
            let step = (3_600_000 - into_hour).min(end - t).max(1);
            online[local.weekday().to_monday_zero_offset() as usize % 7][local.hour() as usize] +=
                step as f64 / 3_600_000.0;
            t += step;
        }
    }
    let mut hours = Vec::with_capacity(168);
    for weekday in 0..7 {
        for hour in 0..24 {
            let per = occurrences[weekday].max(1.0);
            let arrivals_per_hour = arrivals[weekday][hour] / per;
            let plan = average_handle_s.and_then(|handle| {
                let demand = crate::staffing::Demand::try_from(crate::staffing::DemandInput {
                    arrivals_per_hour: arrivals_per_hour.min(10_000.0),
                    average_handle_secs: handle.clamp(1.0, 3_600.0),
                })
                .ok()?;
                crate::staffing::plan(&[demand], settings).ok()?.pop()
            });
            hours.push(StaffingHour {
                weekday,
                hour,
                arrivals_per_hour,
                plan,
                actual_operators: online[weekday][hour] / per,
            });
        }
    }
    Ok(StaffingReport {
        time_zone: filter.time_zone_name.clone(),
        settings: *settings,
        average_handle_s,
        conversations: rows.len(),
        hours,
    })
}

/// The supervisors' live view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Live {
    pub at: i64,
    pub waiting: i64,
    /// Since when the longest-waiting conversation waits, and for how long (s).
    pub longest_wait_since: Option<i64>,
    pub longest_wait_s: Option<f64>,
    /// Operators available now (presence available, console checked in), and those online.
    pub available_operators: i64,
    pub online_operators: i64,
    /// Conversations held by people now, and their seats in all.
    pub open_assigned: i64,
    pub capacity_available: i64,
    /// The assistant's conversations now.
    pub with_assistant: i64,
    /// Today (in the report's time zone): conversations, first response, CSAT.
    pub today: LiveToday,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveToday {
    pub date: String,
    pub conversations: usize,
    pub first_response: Durations,
    pub csat: Csat,
}

const LIVE_OPERATORS: &str = "SELECT
      SUM(CASE WHEN last_seen_at >= ?1 - ?2 THEN 1 ELSE 0 END) AS online,
      SUM(CASE WHEN last_seen_at >= ?1 - ?2 AND presence = 'available' THEN 1 ELSE 0 END) AS available,
      SUM(CASE WHEN last_seen_at >= ?1 - ?2 AND presence = 'available' THEN capacity ELSE 0 END) AS seats
    FROM operators WHERE active = 1";
const LIVE_CONVERSATIONS: &str = "SELECT
      SUM(CASE WHEN assignee_id IS NOT NULL THEN 1 ELSE 0 END) AS assigned,
      SUM(CASE WHEN assignee_id IS NULL AND bot_active = 1 THEN 1 ELSE 0 END) AS bot
    FROM conversations WHERE status IN ('open', 'pending')";

/// Now: the queue, who is available, and today's first response and CSAT (`today` is the
/// filter for today's date).
pub fn live(db: &dyn Database, today: &Filter, now_ms: i64) -> Result<Live, DbError> {
    let (waiting, oldest, _) = crate::conversation::waiting_stats(db)?;
    let ops = db.execute(
        LIVE_OPERATORS,
        &[now_ms.into(), crate::operator::PRESENCE_GRACE_MS.into()],
    )?;
    let ops = ops.first();
    let get = |row: &Option<crate::store::Row<'_>>, c: &str| {
        row.as_ref()
            .and_then(|r| r.opt_i64(c).ok().flatten())
            .unwrap_or(0)
    };
    let convs = db.execute(LIVE_CONVERSATIONS, &[])?;
    let convs = convs.first();
    let rows = rows(db, today)?;
    let assigned = get(&convs, "assigned");
    Ok(Live {
        at: now_ms,
        waiting,
        longest_wait_since: oldest,
        longest_wait_s: oldest.map(|at| (now_ms - at).max(0) as f64 / 1000.0),
        available_operators: get(&ops, "available"),
        online_operators: get(&ops, "online"),
        open_assigned: assigned,
        capacity_available: get(&ops, "seats"),
        with_assistant: get(&convs, "bot"),
        today: LiveToday {
            date: today.from.to_string(),
            conversations: rows.len(),
            first_response: Durations::of(
                rows.iter()
                    .filter_map(|r| delta(r.wait_started(), r.first_human_reply_at))
                    .collect(),
            ),
            csat: Csat::of(rows.iter().filter_map(|r| r.csat)),
        },
    })
}

/// A table as CSV (RFC 4180: fields with commas, quotes or line breaks are quoted, quotes
/// doubled; a leading `=`, `+`, `-` or `@` is prefixed with `'` so spreadsheets do not run it).
pub fn csv(header: &[&str], records: &[Vec<String>]) -> String {
    let field = |text: &str| -> String {
        let safe = if text.starts_with(['=', '+', '-', '@']) && text.parse::<f64>().is_err() {
            format!("'{text}")
        } else {
            text.to_owned()
        };
        if safe.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", safe.replace('"', "\"\""))
        } else {
            safe
        }
    };
    let mut out = String::new();
    for line in std::iter::once(header.iter().map(|h| field(h)).collect::<Vec<_>>())
        .chain(records.iter().map(|r| r.iter().map(|f| field(f)).collect()))
    {
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// A number for CSV: empty when absent, else up to 3 decimals.
pub fn csv_number(value: Option<f64>) -> String {
    value.map_or(String::new(), |v| {
        let text = format!("{v:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    })
}

fn seconds(d: &Durations) -> [String; 4] {
    [
        d.count.to_string(),
        csv_number(d.mean_s),
        csv_number(d.median_s),
        csv_number(d.p90_s),
    ]
}

/// The daily series as CSV.
pub fn daily_csv(days: &[Day]) -> String {
    let records: Vec<Vec<String>> = days
        .iter()
        .map(|d| {
            vec![
                d.date.clone(),
                d.conversations.to_string(),
                d.resolved.to_string(),
                csv_number(d.first_response_median_s),
            ]
        })
        .collect();
    csv(
        &[
            "date",
            "conversations",
            "resolved",
            "first_response_median_s",
        ],
        &records,
    )
}

/// The per-operator table as CSV.
pub fn operators_csv(rows: &[OperatorRow]) -> String {
    let records: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut record = vec![
                r.operator_id.to_string(),
                r.name.clone(),
                r.conversations.to_string(),
                r.resolved.to_string(),
            ];
            record.extend(seconds(&r.first_response));
            record.extend(seconds(&r.resolution));
            record.extend([
                r.csat.responses.to_string(),
                csv_number(r.csat.average),
                csv_number(r.concurrent_average),
                r.concurrent_peak.to_string(),
                csv_number(Some(r.handling_hours)),
            ]);
            record
        })
        .collect();
    csv(
        &[
            "operator_id",
            "name",
            "conversations",
            "resolved",
            "first_response_count",
            "first_response_mean_s",
            "first_response_median_s",
            "first_response_p90_s",
            "resolution_count",
            "resolution_mean_s",
            "resolution_median_s",
            "resolution_p90_s",
            "csat_responses",
            "csat_average",
            "concurrent_average",
            "concurrent_peak",
            "handling_hours",
        ],
        &records,
    )
}

/// Resolution time by tag as CSV.
pub fn tags_csv(rows: &[TagRow]) -> String {
    let records: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut record = vec![
                r.tag_id.to_string(),
                r.name.clone(),
                r.conversations.to_string(),
            ];
            record.extend(seconds(&r.resolution));
            record
        })
        .collect();
    csv(
        &[
            "tag_id",
            "tag",
            "conversations",
            "resolution_count",
            "resolution_mean_s",
            "resolution_median_s",
            "resolution_p90_s",
        ],
        &records,
    )
}

const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// The traffic heatmap as CSV: a row per weekday, a column per hour.
pub fn traffic_csv(traffic: &Traffic) -> String {
    let hours: Vec<String> = (0..24).map(|h| format!("{h:02}:00")).collect();
    let mut header = vec!["weekday"];
    header.extend(hours.iter().map(String::as_str));
    let records: Vec<Vec<String>> = traffic
        .counts
        .iter()
        .enumerate()
        .map(|(day, counts)| {
            std::iter::once(WEEKDAYS[day].to_owned())
                .chain(counts.iter().map(ToString::to_string))
                .collect()
        })
        .collect();
    csv(&header, &records)
}

/// The staffing plan as CSV: a row per hour of the week.
pub fn staffing_csv(report: &StaffingReport) -> String {
    let records: Vec<Vec<String>> = report
        .hours
        .iter()
        .map(|h| {
            let plan = h.plan.as_ref();
            vec![
                WEEKDAYS[h.weekday % 7].to_owned(),
                format!("{:02}:00", h.hour),
                csv_number(Some(h.arrivals_per_hour)),
                csv_number(plan.map(|p| p.traffic)),
                plan.map_or(String::new(), |p| p.operators_needed.to_string()),
                plan.map_or(String::new(), |p| p.rostered.to_string()),
                csv_number(Some(h.actual_operators)),
                csv_number(plan.map(|p| p.service_level)),
            ]
        })
        .collect();
    csv(
        &[
            "weekday",
            "hour",
            "arrivals_per_hour",
            "traffic_erlangs",
            "operators_needed",
            "rostered_with_shrinkage",
            "actual_operators",
            "predicted_service_level",
        ],
        &records,
    )
}

#[cfg(test)]
mod tests;
