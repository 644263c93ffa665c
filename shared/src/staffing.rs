//! Staffing plans: how many operators a team needs, hour by hour, to answer chats within a
//! target time, from the chats it receives and how long they take. Pure arithmetic over plain
//! numbers; the staffing report (`GET /api/reports/staffing`) feeds it observed demand and
//! serialises the [`HourPlan`]s.
//!
//! # The queueing model: Erlang C
//! Within one interval (an hour in [`plan`]), contacts arrive at a steady average rate and wait in
//! one first-come first-served queue for any of `N` identical servers. With `A` the offered
//! traffic in Erlangs (arrivals × average handle time / interval length, see [`traffic`]):
//! - the probability that a contact has to wait, `P(W)`, is Erlang C ([`wait_probability`]);
//! - the service level, the share answered within `T` seconds, is
//!   `1 − P(W) · e^(−(N − A) · T / AHT)` ([`service_level`]);
//! - the average speed of answer is `P(W) · AHT / (N − A)` ([`average_speed_of_answer`]);
//! - occupancy, the share of time a server is busy, is `A / N` ([`occupancy`]).
//!
//! With `N <= A` the servers cannot keep up: the queue grows without bound for as long as the
//! interval lasts, so every contact waits (`P(W) = 1`), the service level is 0 and the average
//! answer time is unbounded (`None`). No traffic at all is the other end: nobody waits, whatever
//! `N` is, and the answer is 0 servers.
//!
//! Erlang C assumes three things. What each means for chats, and which way it errs:
//! - **Poisson arrivals**: visitors start chats independently of each other at a rate that is
//!   constant within the interval. A burst (a newsletter going out, an outage) breaks this;
//!   plan from hours that include such bursts, or expect a bad quarter of an hour.
//! - **Exponentially distributed handle times**: many short chats and a few very long ones,
//!   with only the average mattering. Real chat durations are usually a little less variable
//!   than that, which makes the model slightly pessimistic; the average is what you must get
//!   right.
//! - **Infinite patience**: nobody gives up while waiting. Chat visitors do close the widget;
//!   those who leave stop loading the queue, so the service level for the ones who stay is
//!   better than predicted (the model over-staffs a little), but the ones who left were not
//!   served at all. Neither shows up here.
//!
//! Each interval is planned on its own, as if it started with an empty queue: a backlog left by an
//! understaffed hour is not carried into the next.
//!
//! # Chats at once
//! An operator handles up to `concurrency` chats at a time (like `capacity` in [`crate::routing`]).
//! The model treats each of those chat slots as one server: the team needs `S` slots by Erlang C,
//! then `ceil(S / concurrency)` operators. That holds when routing gives a waiting chat to any
//! operator with a free slot, so that all slots form one pool; it is optimistic when chats are
//! tied to particular operators (stickiness, skills).
//!
//! A chat handled alongside others takes longer from start to end than one handled alone,
//! because the operator's attention is split. [`Settings::concurrency_slowdown`] multiplies the
//! handle time per slot to account for that. It defaults to 1.0 (no adjustment), because the
//! handle times [`plan`] receives are measured from the chats the team actually had, which were
//! already handled concurrently: the slowdown is already in them, and multiplying again would
//! count it twice. Raise it only when the handle times were measured one chat at a time, or when
//! planning for more concurrency than the team had when they were measured. It is at most the
//! concurrency itself: beyond that, handling chats side by side would be slower than one after
//! another, and the answer is to lower the concurrency.
//!
//! # Shrinkage
//! Operators are paid for hours they cannot spend on chats: breaks, training, meetings, sick
//! leave. With `shrinkage` the unavailable share of paid time (0.3 is 30%), the roster needs
//! `ceil(operators / (1 − shrinkage))` people for `operators` to be available.
//!
//! # Worked example
//! The one workforce-planning guides reproduce: 100 contacts in 30 minutes with a 180-second
//! handle time is 10 Erlangs. With 14 agents, 17.4% wait, 88.8% are answered within 20 seconds
//! and the average answer takes 7.84 seconds. With 13 agents 79.6% are answered within 20
//! seconds (28.5% wait), with 12 agents 64.0%: 13 falls just short of 80% within 20 seconds,
//! so 14 is the least that meets it, and with 30% shrinkage the roster is 20. The tests check
//! these numbers.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::input::InvalidInput;

/// Seconds in the hours [`plan`] works in.
pub const HOUR_SECS: f64 = 3600.0;
/// At most this many chats per hour in one [`Demand`]; far above any one team's load, and it
/// bounds the work [`servers_needed`] does.
pub const MAX_ARRIVALS_PER_HOUR: f64 = 10_000.0;
/// At most this long an average handle time, in seconds: an hour.
pub const MAX_HANDLE_SECS: f64 = 3600.0;
/// Concurrency: 1 to this many chats at once per operator.
pub const MAX_CONCURRENCY: u32 = 10;
/// Target answer time: 1 second to this many.
pub const MAX_ANSWER_SECS: f64 = 3600.0;
/// Shrinkage: 0 to this share of paid time.
pub const MAX_SHRINKAGE: f64 = 0.9;

/// Rostering divides by `1 − shrinkage`, which floats do not represent exactly: 21 operators at
/// 30% shrinkage must be 30 people, not 31 because `21 / (1 − 0.3)` comes out as
/// `30.000000000000004`.
const ROUNDING_SLACK: f64 = 1e-9;

/// Offered traffic in Erlangs: `arrivals` contacts in `interval_secs` (more than 0), each taking
/// `handle_secs`. 100 contacts in 1800 seconds at 180 seconds each is 10 Erlangs: ten servers busy all the time.
pub fn traffic(arrivals: f64, interval_secs: f64, handle_secs: f64) -> f64 {
    arrivals * handle_secs / interval_secs
}

/// Erlang B for `servers` servers and `traffic` Erlangs: the share of contacts that would be
/// turned away if nobody could wait. Computed with the recursion `B(0) = 1`,
/// `B(k) = A·B(k−1) / (k + A·B(k−1))`, which stays within [0, 1] at every step, where the textbook
/// form's `A^N / N!` overflows from about 170 servers on.
pub fn erlang_b(traffic: f64, servers: u32) -> f64 {
    (1..=servers).fold(1.0, |b, k| erlang_b_step(traffic, k, b))
}

fn erlang_b_step(traffic: f64, k: u32, previous: f64) -> f64 {
    let carried = traffic * previous;
    carried / (f64::from(k) + carried)
}

/// Whether `traffic` is none at all. Anything not above zero counts (negative or NaN traffic is
/// a caller's bug, and treating it as none keeps every result a probability).
fn is_idle(traffic: f64) -> bool {
    traffic.is_nan() || traffic <= 0.0
}

/// Erlang C from Erlang B: `C = N·B / (N − A·(1 − B))`. Callers have checked `N > A`, so the
/// denominator is positive.
fn erlang_c_from_b(traffic: f64, servers: u32, b: f64) -> f64 {
    let n = f64::from(servers);
    (n * b / (n - traffic * (1.0 - b))).clamp(0.0, 1.0)
}

/// Erlang C: the probability that a contact has to wait, `P(W)`, with `servers` servers and
/// `traffic` Erlangs. 1 when `servers <= traffic` (the queue never drains), 0 without traffic.
pub fn wait_probability(traffic: f64, servers: u32) -> f64 {
    if is_idle(traffic) {
        0.0
    } else if f64::from(servers) <= traffic {
        1.0
    } else {
        erlang_c_from_b(traffic, servers, erlang_b(traffic, servers))
    }
}

/// The share of contacts answered within `answer_secs`: `1 − P(W)·e^(−(N − A)·T / AHT)`.
/// 0 when `servers <= traffic`, 1 without traffic.
pub fn service_level(traffic: f64, servers: u32, handle_secs: f64, answer_secs: f64) -> f64 {
    predict(traffic, servers, handle_secs, answer_secs).service_level
}

/// The average time to answer, in seconds, over all contacts (those answered at once count as
/// 0): `P(W)·AHT / (N − A)`. `None` when `servers <= traffic`: the wait grows without bound.
pub fn average_speed_of_answer(traffic: f64, servers: u32, handle_secs: f64) -> Option<f64> {
    predict(traffic, servers, handle_secs, 0.0).average_answer_secs
}

/// The share of time a server is busy, `A / N`; at most 1 (when `servers <= traffic` everyone
/// is busy all the time), and 0 without traffic.
pub fn occupancy(traffic: f64, servers: u32) -> f64 {
    if is_idle(traffic) {
        0.0
    } else if servers == 0 {
        1.0
    } else {
        (traffic / f64::from(servers)).min(1.0)
    }
}

/// What Erlang C predicts for one team size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prediction {
    pub servers: u32,
    /// `P(W)`, the probability that a contact waits at all.
    pub wait_probability: f64,
    /// The share answered within the target answer time.
    pub service_level: f64,
    /// Average speed of answer in seconds; `None` (JSON `null`) when the queue never drains.
    pub average_answer_secs: Option<f64>,
    /// The share of time a server is busy.
    pub occupancy: f64,
}

/// Everything Erlang C says about `servers` servers facing `traffic` Erlangs of contacts that take
/// `handle_secs` each on average, with `answer_secs` the target answer time.
pub fn predict(traffic: f64, servers: u32, handle_secs: f64, answer_secs: f64) -> Prediction {
    let wait = wait_probability(traffic, servers);
    prediction(traffic, servers, handle_secs, answer_secs, wait)
}

fn prediction(
    traffic: f64,
    servers: u32,
    handle_secs: f64,
    answer_secs: f64,
    wait_probability: f64,
) -> Prediction {
    let occupancy = occupancy(traffic, servers);
    if is_idle(traffic) {
        return Prediction {
            servers,
            wait_probability: 0.0,
            service_level: 1.0,
            average_answer_secs: Some(0.0),
            occupancy,
        };
    }
    let spare = f64::from(servers) - traffic;
    if spare <= 0.0 {
        return Prediction {
            servers,
            wait_probability: 1.0,
            service_level: 0.0,
            average_answer_secs: None,
            occupancy,
        };
    }
    Prediction {
        servers,
        wait_probability,
        service_level: (1.0 - wait_probability * (-spare * answer_secs / handle_secs).exp())
            .clamp(0.0, 1.0),
        average_answer_secs: Some(wait_probability * handle_secs / spare),
        occupancy,
    }
}

/// What a team size must achieve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Target {
    /// The share to answer within `answer_secs`, like 0.8.
    pub service_level: f64,
    /// Seconds, like 20.
    pub answer_secs: f64,
    /// If set, the average speed of answer must not exceed it, in seconds.
    pub max_average_answer_secs: Option<f64>,
}

impl Target {
    fn is_met_by(&self, prediction: &Prediction) -> bool {
        prediction.service_level >= self.service_level
            && self.max_average_answer_secs.is_none_or(|max| {
                prediction
                    .average_answer_secs
                    .is_some_and(|average| average <= max)
            })
    }
}

/// No team size up to the search limit meets the target.
#[derive(Debug, Clone, Copy, PartialEq, Error)]
#[error("no team of up to {limit} servers meets the target for {traffic:.2} Erlangs")]
pub struct Unreachable {
    pub traffic: f64,
    pub limit: u32,
}

/// The largest team [`servers_needed`] considers for `traffic` Erlangs:
/// `ceil(A + 10·√A + 50)`. Ten standard deviations of the load above it leave a waiting
/// probability below 1e-20, so any target a person would set is met well before; the limit
/// only stops a search for an impossible target (an average answer of 0 seconds, say) from
/// running on.
pub fn search_limit(traffic: f64) -> u32 {
    if is_idle(traffic) {
        return 0;
    }
    // `as` saturates: infinite traffic gives u32::MAX, and the search then fails at once below.
    (traffic + 10.0 * traffic.sqrt() + 50.0).ceil() as u32
}

/// The smallest number of servers that meets `target` for `traffic` Erlangs of contacts taking
/// `handle_secs` each: 0 without traffic. Service level rises and the average answer time falls
/// as servers are added, so the first team size that meets the target is the answer; Erlang B's
/// recursion carries from one size to the next, so the search costs one step per size.
pub fn servers_needed(traffic: f64, handle_secs: f64, target: &Target) -> Result<u32, Unreachable> {
    if is_idle(traffic) {
        return Ok(0);
    }
    let limit = search_limit(traffic);
    if !traffic.is_finite() {
        return Err(Unreachable { traffic, limit });
    }
    let mut b = 1.0;
    for servers in 1..=limit {
        b = erlang_b_step(traffic, servers, b);
        if f64::from(servers) <= traffic {
            continue;
        }
        let wait = erlang_c_from_b(traffic, servers, b);
        if target.is_met_by(&prediction(
            traffic,
            servers,
            handle_secs,
            target.answer_secs,
            wait,
        )) {
            return Ok(servers);
        }
    }
    Err(Unreachable { traffic, limit })
}

/// People to roster so that `operators` are available when `shrinkage` of paid time is not:
/// `ceil(operators / (1 − shrinkage))`, never fewer than `operators`.
pub fn rostered(operators: u32, shrinkage: f64) -> u32 {
    let people = (f64::from(operators) / (1.0 - shrinkage) - ROUNDING_SLACK).ceil();
    // `as` saturates, and a shrinkage of at most 0.9 keeps this within 10 × `operators`.
    (people as u32).max(operators)
}

/// How a staffing plan is computed. Built only by parsing ([`TryFrom<SettingsInput>`]), so
/// every value is in range; serialises back to the [`SettingsInput`] shape.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SettingsInput", into = "SettingsInput")]
pub struct Settings {
    target: Target,
    concurrency: u32,
    concurrency_slowdown: f64,
    shrinkage: f64,
}

impl Settings {
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Chats one operator handles at once, 1 to [`MAX_CONCURRENCY`].
    pub fn concurrency(&self) -> u32 {
        self.concurrency
    }

    /// How much longer a chat takes when handled alongside others, from 1 (not at all, the
    /// default) to the concurrency. See the module docs for why the default is 1.
    pub fn concurrency_slowdown(&self) -> f64 {
        self.concurrency_slowdown
    }

    /// The share of paid time operators are unavailable for chats, 0 to [`MAX_SHRINKAGE`].
    pub fn shrinkage(&self) -> f64 {
        self.shrinkage
    }
}

impl Default for Settings {
    /// The defaults of [`SettingsInput`]: 80% within 20 seconds, 3 chats at once, no slowdown,
    /// 30% shrinkage.
    fn default() -> Settings {
        Settings {
            target: Target {
                service_level: default_service_level(),
                answer_secs: default_answer_secs(),
                max_average_answer_secs: None,
            },
            concurrency: default_concurrency(),
            concurrency_slowdown: default_concurrency_slowdown(),
            shrinkage: default_shrinkage(),
        }
    }
}

/// The JSON of [`Settings`] before parsing. Every field may be left out:
/// `{"target_service_level":0.8,"target_answer_secs":20,"max_average_answer_secs":null,
/// "concurrency":3,"concurrency_slowdown":1.0,"shrinkage":0.3}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsInput {
    /// Strictly between 0 and 1.
    #[serde(default = "default_service_level")]
    pub target_service_level: f64,
    /// 1 to [`MAX_ANSWER_SECS`].
    #[serde(default = "default_answer_secs")]
    pub target_answer_secs: f64,
    /// `null` for no limit, else 1 to [`MAX_ANSWER_SECS`].
    #[serde(default)]
    pub max_average_answer_secs: Option<f64>,
    /// 1 to [`MAX_CONCURRENCY`].
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
    /// 1 to `concurrency`.
    #[serde(default = "default_concurrency_slowdown")]
    pub concurrency_slowdown: f64,
    /// 0 to [`MAX_SHRINKAGE`].
    #[serde(default = "default_shrinkage")]
    pub shrinkage: f64,
}

fn default_service_level() -> f64 {
    0.8
}

fn default_answer_secs() -> f64 {
    20.0
}

fn default_concurrency() -> u32 {
    3
}

fn default_concurrency_slowdown() -> f64 {
    1.0
}

fn default_shrinkage() -> f64 {
    0.3
}

impl Default for SettingsInput {
    fn default() -> SettingsInput {
        Settings::default().into()
    }
}

/// `value` if it lies within `min..=max` (so never NaN), else why not under `field`.
fn within(field: &'static str, value: f64, min: f64, max: f64) -> Result<f64, InvalidInput> {
    if value >= min && value <= max {
        Ok(value)
    } else {
        Err(InvalidInput::new(
            field,
            format!("must be from {min} to {max}, not {value}"),
        ))
    }
}

impl TryFrom<SettingsInput> for Settings {
    type Error = InvalidInput;

    fn try_from(input: SettingsInput) -> Result<Settings, InvalidInput> {
        let service_level = input.target_service_level;
        if !(service_level > 0.0 && service_level < 1.0) {
            return Err(InvalidInput::new(
                "target_service_level",
                format!("must be a share strictly between 0 and 1, like 0.8, not {service_level}"),
            ));
        }
        let answer_secs = within(
            "target_answer_secs",
            input.target_answer_secs,
            1.0,
            MAX_ANSWER_SECS,
        )?;
        let max_average_answer_secs = input
            .max_average_answer_secs
            .map(|secs| within("max_average_answer_secs", secs, 1.0, MAX_ANSWER_SECS))
            .transpose()?;
        let concurrency = input.concurrency;
        if !(1..=MAX_CONCURRENCY).contains(&concurrency) {
            return Err(InvalidInput::new(
                "concurrency",
                format!("must be from 1 to {MAX_CONCURRENCY} chats at once, not {concurrency}"),
            ));
        }
        let concurrency_slowdown = within(
            "concurrency_slowdown",
            input.concurrency_slowdown,
            1.0,
            f64::from(concurrency),
        )?;
        let shrinkage = within("shrinkage", input.shrinkage, 0.0, MAX_SHRINKAGE)?;
        Ok(Settings {
            target: Target {
                service_level,
                answer_secs,
                max_average_answer_secs,
            },
            concurrency,
            concurrency_slowdown,
            shrinkage,
        })
    }
}

impl From<Settings> for SettingsInput {
    fn from(settings: Settings) -> SettingsInput {
        SettingsInput {
            target_service_level: settings.target.service_level,
            target_answer_secs: settings.target.answer_secs,
            max_average_answer_secs: settings.target.max_average_answer_secs,
            concurrency: settings.concurrency,
            concurrency_slowdown: settings.concurrency_slowdown,
            shrinkage: settings.shrinkage,
        }
    }
}

/// One hour's demand: chats started in it and their average handle time (first response to
/// close, as the team handled them). Built only by parsing ([`TryFrom<DemandInput>`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "DemandInput", into = "DemandInput")]
pub struct Demand {
    arrivals_per_hour: f64,
    handle_secs: f64,
}

impl Demand {
    pub fn arrivals_per_hour(&self) -> f64 {
        self.arrivals_per_hour
    }

    pub fn handle_secs(&self) -> f64 {
        self.handle_secs
    }
}

/// The JSON of [`Demand`] before parsing: `{"arrivals_per_hour":12.5,"average_handle_secs":420}`.
/// Arrivals may be fractional (an average over several weeks' same hour).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemandInput {
    /// 0 to [`MAX_ARRIVALS_PER_HOUR`].
    pub arrivals_per_hour: f64,
    /// Seconds, up to [`MAX_HANDLE_SECS`]; more than 0 when there are arrivals (an hour without
    /// chats has no handle time to measure, so 0 is accepted then).
    pub average_handle_secs: f64,
}

impl TryFrom<DemandInput> for Demand {
    type Error = InvalidInput;

    fn try_from(input: DemandInput) -> Result<Demand, InvalidInput> {
        let arrivals_per_hour = within(
            "arrivals_per_hour",
            input.arrivals_per_hour,
            0.0,
            MAX_ARRIVALS_PER_HOUR,
        )?;
        let handle_secs = within(
            "average_handle_secs",
            input.average_handle_secs,
            0.0,
            MAX_HANDLE_SECS,
        )?;
        if arrivals_per_hour > 0.0 && handle_secs == 0.0 {
            return Err(InvalidInput::new(
                "average_handle_secs",
                "must be more than 0 when there are arrivals",
            ));
        }
        Ok(Demand {
            arrivals_per_hour,
            handle_secs,
        })
    }
}

impl From<Demand> for DemandInput {
    fn from(demand: Demand) -> DemandInput {
        DemandInput {
            arrivals_per_hour: demand.arrivals_per_hour,
            average_handle_secs: demand.handle_secs,
        }
    }
}

/// The plan for one hour.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HourPlan {
    /// The demand it was planned for, echoed.
    pub arrivals_per_hour: f64,
    pub average_handle_secs: f64,
    /// Offered traffic on the chat slots, in Erlangs, with the handle time multiplied by the
    /// concurrency slowdown.
    pub traffic: f64,
    /// Chat slots (servers) Erlang C needs to meet the target.
    pub slots_needed: u32,
    /// Operators available for chats: `ceil(slots_needed / concurrency)`.
    pub operators_needed: u32,
    /// People to roster with shrinkage: `ceil(operators_needed / (1 − shrinkage))`.
    pub rostered: u32,
    /// What the operators needed would achieve, with all their slots
    /// (`operators_needed × concurrency`, which may be more than `slots_needed`): never below
    /// the target.
    pub service_level: f64,
    pub wait_probability: f64,
    pub average_answer_secs: f64,
    /// The share of time a chat slot is busy.
    pub occupancy: f64,
}

/// The hour that could not be planned, counting from 0 in the order given.
#[derive(Debug, Clone, Copy, PartialEq, Error)]
#[error("hour {hour}: {cause}")]
pub struct PlanError {
    pub hour: usize,
    #[source]
    pub cause: Unreachable,
}

/// The staffing plan for each hour of `demand`, in the same order (a week is 168 of them, but
/// any list works). Fails only if an hour's target cannot be met within [`search_limit`], which
/// the ranges [`Settings`] and [`Demand`] accept do not allow in practice.
pub fn plan(demand: &[Demand], settings: &Settings) -> Result<Vec<HourPlan>, PlanError> {
    demand
        .iter()
        .enumerate()
        .map(|(hour, demand)| {
            plan_hour(demand, settings).map_err(|cause| PlanError { hour, cause })
        })
        .collect()
}

fn plan_hour(demand: &Demand, settings: &Settings) -> Result<HourPlan, Unreachable> {
    let slot_handle_secs = demand.handle_secs * settings.concurrency_slowdown;
    let traffic = traffic(demand.arrivals_per_hour, HOUR_SECS, slot_handle_secs);
    let slots_needed = servers_needed(traffic, slot_handle_secs, &settings.target)?;
    let operators_needed = slots_needed.div_ceil(settings.concurrency);
    let predicted = predict(
        traffic,
        operators_needed.saturating_mul(settings.concurrency),
        slot_handle_secs,
        settings.target.answer_secs,
    );
    Ok(HourPlan {
        arrivals_per_hour: demand.arrivals_per_hour,
        average_handle_secs: demand.handle_secs,
        traffic,
        slots_needed,
        operators_needed,
        rostered: rostered(operators_needed, settings.shrinkage),
        service_level: predicted.service_level,
        wait_probability: predicted.wait_probability,
        // Some whenever the slots meet a target, which needs more slots than traffic.
        average_answer_secs: predicted.average_answer_secs.unwrap_or(f64::INFINITY),
        occupancy: predicted.occupancy,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A test that unwraps fails loudly, which is what it is for.
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// The published example: 100 contacts per 30 minutes at 180 seconds each.
    const EXAMPLE_TRAFFIC: f64 = 10.0;
    const EXAMPLE_HANDLE_SECS: f64 = 180.0;

    fn eighty_in_twenty() -> Target {
        Target {
            service_level: 0.8,
            answer_secs: 20.0,
            max_average_answer_secs: None,
        }
    }

    fn settings(value: serde_json::Value) -> Result<Settings, InvalidInput> {
        let input: SettingsInput = serde_json::from_value(value).unwrap();
        Settings::try_from(input)
    }

    fn demand(arrivals_per_hour: f64, average_handle_secs: f64) -> Demand {
        Demand::try_from(DemandInput {
            arrivals_per_hour,
            average_handle_secs,
        })
        .unwrap()
    }

    fn assert_near(actual: f64, expected: f64, tolerance: f64) {
        assert!(
            (actual - expected).abs() <= tolerance,
            "{actual} is not within {tolerance} of {expected}"
        );
    }

    /// Erlang C in its textbook form, summing `A^k / k!`; fine for the small team sizes below.
    fn textbook_erlang_c(traffic: f64, servers: u32) -> f64 {
        let mut term = 1.0;
        let mut sum = 0.0;
        for k in 0..servers {
            sum += term;
            term *= traffic / f64::from(k + 1);
        }
        let n = f64::from(servers);
        let top = term * n / (n - traffic);
        top / (sum + top)
    }

    #[test]
    fn the_published_example_with_fourteen_agents() {
        let traffic = traffic(100.0, 1800.0, 180.0);
        assert_near(traffic, EXAMPLE_TRAFFIC, 1e-12);
        let predicted = predict(traffic, 14, EXAMPLE_HANDLE_SECS, 20.0);
        assert_near(predicted.wait_probability, 0.1741, 0.0005);
        assert_near(predicted.service_level, 0.888, 0.001);
        assert_near(predicted.average_answer_secs.unwrap(), 7.84, 0.02);
        assert_near(predicted.occupancy, 10.0 / 14.0, 1e-12);
        assert_eq!(
            service_level(traffic, 14, EXAMPLE_HANDLE_SECS, 20.0),
            predicted.service_level
        );
        assert_eq!(
            average_speed_of_answer(traffic, 14, EXAMPLE_HANDLE_SECS),
            predicted.average_answer_secs
        );
    }

    #[test]
    fn the_published_example_needs_fourteen_agents_for_eighty_percent_in_twenty_seconds() {
        // 12 agents: P(W) 0.4494, 64.0% within 20 s; 13 agents: P(W) 0.2853, 79.56% within
        // 20 s, just short of 80%; 14 agents: 88.8%.
        let twelve = predict(EXAMPLE_TRAFFIC, 12, EXAMPLE_HANDLE_SECS, 20.0);
        let thirteen = predict(EXAMPLE_TRAFFIC, 13, EXAMPLE_HANDLE_SECS, 20.0);
        assert_near(twelve.wait_probability, 0.4494, 0.0005);
        assert_near(twelve.service_level, 0.6402, 0.0005);
        assert_near(thirteen.wait_probability, 0.2853, 0.0005);
        assert_near(thirteen.service_level, 0.7956, 0.0005);
        assert!(thirteen.service_level < 0.8);
        assert_eq!(
            servers_needed(EXAMPLE_TRAFFIC, EXAMPLE_HANDLE_SECS, &eighty_in_twenty()),
            Ok(14)
        );
        // A slightly lower target is met by 13.
        let lower = Target {
            service_level: 0.79,
            ..eighty_in_twenty()
        };
        assert_eq!(
            servers_needed(EXAMPLE_TRAFFIC, EXAMPLE_HANDLE_SECS, &lower),
            Ok(13)
        );
        // ...and the guides' 30% shrinkage makes the roster 20, not 21 from `14 / 0.7` in floats.
        assert_eq!(rostered(14, 0.3), 20);
    }

    #[test]
    fn a_maximum_average_answer_adds_agents_when_it_binds() {
        // 14 agents answer in 7.84 s on average, 15 in 3.67 s.
        let quick = Target {
            max_average_answer_secs: Some(5.0),
            ..eighty_in_twenty()
        };
        assert_eq!(
            servers_needed(EXAMPLE_TRAFFIC, EXAMPLE_HANDLE_SECS, &quick),
            Ok(15)
        );
        let loose = Target {
            max_average_answer_secs: Some(60.0),
            ..eighty_in_twenty()
        };
        assert_eq!(
            servers_needed(EXAMPLE_TRAFFIC, EXAMPLE_HANDLE_SECS, &loose),
            Ok(14)
        );
    }

    #[test]
    fn the_recursion_agrees_with_the_textbook_formula() {
        for (traffic, servers) in [(0.5, 1), (2.0, 3), (10.0, 14), (17.3, 20), (40.0, 45)] {
            assert_near(
                wait_probability(traffic, servers),
                textbook_erlang_c(traffic, servers),
                1e-12,
            );
        }
        // One server: P(W) is the occupancy, and Erlang B is A / (1 + A).
        assert_near(wait_probability(0.25, 1), 0.25, 1e-15);
        assert_near(erlang_b(3.0, 1), 0.75, 1e-15);
    }

    #[test]
    fn large_teams_stay_finite() {
        // The textbook form's A^N / N! overflows long before this.
        let traffic = 5000.0;
        let servers = servers_needed(traffic, 300.0, &eighty_in_twenty()).unwrap();
        assert!(servers > 5000 && servers < 5100, "{servers}");
        let predicted = predict(traffic, servers, 300.0, 20.0);
        assert!(predicted.service_level >= 0.8 && predicted.service_level <= 1.0);
        assert!(predicted.wait_probability.is_finite());
    }

    #[test]
    fn no_traffic_needs_nobody_and_nobody_waits() {
        assert_eq!(traffic(0.0, 3600.0, 300.0), 0.0);
        assert_eq!(servers_needed(0.0, 300.0, &eighty_in_twenty()), Ok(0));
        for servers in [0, 1, 5] {
            let predicted = predict(0.0, servers, 300.0, 20.0);
            assert_eq!(predicted.wait_probability, 0.0);
            assert_eq!(predicted.service_level, 1.0);
            assert_eq!(predicted.average_answer_secs, Some(0.0));
            assert_eq!(predicted.occupancy, 0.0);
        }
    }

    #[test]
    fn as_many_servers_as_erlangs_or_fewer_never_catch_up() {
        for servers in [0, 5, 10] {
            let predicted = predict(EXAMPLE_TRAFFIC, servers, EXAMPLE_HANDLE_SECS, 20.0);
            assert_eq!(predicted.wait_probability, 1.0, "{servers}");
            assert_eq!(predicted.service_level, 0.0, "{servers}");
            assert_eq!(predicted.average_answer_secs, None, "{servers}");
            assert_eq!(predicted.occupancy, 1.0, "{servers}");
        }
        assert_eq!(
            serde_json::to_value(predict(EXAMPLE_TRAFFIC, 10, EXAMPLE_HANDLE_SECS, 20.0)).unwrap()
                ["average_answer_secs"],
            json!(null)
        );
        // Just above the traffic the queue drains, slowly.
        let barely = predict(EXAMPLE_TRAFFIC, 11, EXAMPLE_HANDLE_SECS, 20.0);
        assert!(barely.wait_probability < 1.0 && barely.average_answer_secs.unwrap() > 100.0);
    }

    #[test]
    fn an_impossible_target_stops_at_the_search_limit() {
        // Everyone answered at once: every team size leaves some chance of waiting. (A service
        // level of 1 is no test: in floats `1 − P(W)·e^…` reaches 1 by 47 servers.)
        let everyone = Target {
            max_average_answer_secs: Some(0.0),
            ..eighty_in_twenty()
        };
        let limit = search_limit(EXAMPLE_TRAFFIC);
        assert_eq!(limit, 92); // ceil(10 + 10·√10 + 50)
        assert_eq!(search_limit(0.0), 0);
        assert_eq!(
            servers_needed(EXAMPLE_TRAFFIC, EXAMPLE_HANDLE_SECS, &everyone),
            Err(Unreachable {
                traffic: EXAMPLE_TRAFFIC,
                limit
            })
        );
        assert!(servers_needed(f64::INFINITY, 180.0, &eighty_in_twenty()).is_err());
    }

    #[test]
    fn rostering_rounds_up_but_not_for_float_noise() {
        assert_eq!(rostered(0, 0.3), 0);
        assert_eq!(rostered(5, 0.0), 5);
        assert_eq!(rostered(5, 0.3), 8); // 7.14
        assert_eq!(rostered(21, 0.3), 30); // 30.000000000000004 in floats
        assert_eq!(rostered(1, 0.8), 5); // 5.000000000000001 in floats
        assert_eq!(rostered(1, 0.9), 10);
    }

    #[test]
    fn a_plan_spreads_slots_over_operators_and_adds_shrinkage() {
        // The example per hour: 200 chats at 180 s is 10 Erlangs of chat slots.
        let defaults = Settings::default();
        let hours = plan(&[demand(200.0, 180.0), demand(0.0, 0.0)], &defaults).unwrap();
        let busy = hours[0];
        assert_near(busy.traffic, 10.0, 1e-12);
        assert_eq!(busy.slots_needed, 14);
        assert_eq!(busy.operators_needed, 5); // 14 slots at 3 chats each
        assert_eq!(busy.rostered, 8); // 5 / 0.7 = 7.14
        // Five operators have 15 slots, one more than needed.
        assert_near(busy.service_level, 0.9415, 0.0005);
        assert_near(busy.wait_probability, 0.1020, 0.0005);
        assert_near(busy.average_answer_secs, 3.67, 0.01);
        assert_near(busy.occupancy, 10.0 / 15.0, 1e-12);
        let quiet = hours[1];
        assert_eq!(
            (quiet.slots_needed, quiet.operators_needed, quiet.rostered),
            (0, 0, 0)
        );
        assert_eq!(quiet.service_level, 1.0);
        assert_eq!(
            serde_json::to_value(busy).unwrap()["operators_needed"],
            json!(5)
        );
    }

    #[test]
    fn a_concurrency_slowdown_lengthens_each_slot() {
        // Chats taking 1.5 times as long when handled three at a time: 15 Erlangs of slots.
        let slow = settings(json!({ "concurrency_slowdown": 1.5, "shrinkage": 0.0 })).unwrap();
        let hours = plan(&[demand(200.0, 180.0)], &slow).unwrap();
        assert_near(hours[0].traffic, 15.0, 1e-12);
        assert_eq!(
            hours[0].slots_needed,
            servers_needed(15.0, 270.0, slow.target()).unwrap()
        );
        assert!(hours[0].slots_needed > 14);
        assert_eq!(hours[0].operators_needed, hours[0].slots_needed.div_ceil(3));
        assert_eq!(hours[0].rostered, hours[0].operators_needed);
        // One chat at a time: operators are slots.
        let single = settings(json!({ "concurrency": 1, "shrinkage": 0.0 })).unwrap();
        let hours = plan(&[demand(200.0, 180.0)], &single).unwrap();
        assert_eq!((hours[0].slots_needed, hours[0].operators_needed), (14, 14));
    }

    #[test]
    fn settings_default_and_round_trip() {
        let parsed = settings(json!({})).unwrap();
        assert_eq!(parsed, Settings::default());
        assert_eq!(parsed.concurrency(), 3);
        assert_eq!(parsed.concurrency_slowdown(), 1.0);
        assert_eq!(parsed.shrinkage(), 0.3);
        assert_eq!(*parsed.target(), eighty_in_twenty());
        let json = json!({
            "target_service_level": 0.9,
            "target_answer_secs": 30.0,
            "max_average_answer_secs": 10.0,
            "concurrency": 2,
            "concurrency_slowdown": 1.2,
            "shrinkage": 0.35,
        });
        let parsed: Settings = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(parsed).unwrap(), json);
    }

    #[test]
    fn settings_refusals_name_the_field() {
        let cases = [
            (
                json!({ "target_service_level": 1.0 }),
                "target_service_level",
            ),
            (
                json!({ "target_service_level": 0.0 }),
                "target_service_level",
            ),
            (
                json!({ "target_service_level": 80 }),
                "target_service_level",
            ),
            (json!({ "target_answer_secs": 0.5 }), "target_answer_secs"),
            (json!({ "target_answer_secs": 3601 }), "target_answer_secs"),
            (
                json!({ "max_average_answer_secs": 0 }),
                "max_average_answer_secs",
            ),
            (json!({ "concurrency": 0 }), "concurrency"),
            (json!({ "concurrency": 11 }), "concurrency"),
            (
                json!({ "concurrency_slowdown": 0.9 }),
                "concurrency_slowdown",
            ),
            (
                json!({ "concurrency": 2, "concurrency_slowdown": 2.5 }),
                "concurrency_slowdown",
            ),
            (json!({ "shrinkage": -0.1 }), "shrinkage"),
            (json!({ "shrinkage": 0.95 }), "shrinkage"),
        ];
        for (value, field) in cases {
            let refusal = settings(value.clone()).unwrap_err();
            assert_eq!(refusal.field, field, "{value}");
        }
        // The edges are accepted.
        assert!(settings(json!({ "shrinkage": 0.9, "target_answer_secs": 3600 })).is_ok());
        assert!(settings(json!({ "concurrency": 10, "concurrency_slowdown": 10 })).is_ok());
        // NaN cannot come from JSON, but the parse refuses it all the same.
        let nan = SettingsInput {
            shrinkage: f64::NAN,
            ..SettingsInput::default()
        };
        assert_eq!(Settings::try_from(nan).unwrap_err().field, "shrinkage");
        assert!(serde_json::from_value::<SettingsInput>(json!({ "target": 0.8 })).is_err());
    }

    #[test]
    fn demand_refusals_name_the_field() {
        let refuse = |arrivals_per_hour, average_handle_secs| {
            Demand::try_from(DemandInput {
                arrivals_per_hour,
                average_handle_secs,
            })
            .unwrap_err()
            .field
        };
        assert_eq!(refuse(-1.0, 300.0), "arrivals_per_hour");
        assert_eq!(refuse(10_001.0, 300.0), "arrivals_per_hour");
        assert_eq!(refuse(f64::NAN, 300.0), "arrivals_per_hour");
        assert_eq!(refuse(5.0, 0.0), "average_handle_secs");
        assert_eq!(refuse(5.0, 3601.0), "average_handle_secs");
        let parsed: Demand = serde_json::from_value(
            json!({ "arrivals_per_hour": 12.5, "average_handle_secs": 420 }),
        )
        .unwrap();
        assert_eq!(
            (parsed.arrivals_per_hour(), parsed.handle_secs()),
            (12.5, 420.0)
        );
    }

    #[test]
    fn an_unplannable_hour_is_named() {
        let error = PlanError {
            hour: 3,
            cause: Unreachable {
                traffic: 10.0,
                limit: 92,
            },
        };
        assert_eq!(
            error.to_string(),
            "hour 3: no team of up to 92 servers meets the target for 10.00 Erlangs"
        );
    }

    proptest! {
        #[test]
        fn wait_probability_is_a_probability(traffic in 0.0..500.0f64, servers in 0u32..600) {
            let wait = wait_probability(traffic, servers);
            prop_assert!((0.0..=1.0).contains(&wait), "{wait}");
            let predicted = predict(traffic, servers, 300.0, 20.0);
            prop_assert!((0.0..=1.0).contains(&predicted.service_level));
            prop_assert!((0.0..=1.0).contains(&predicted.occupancy));
        }

        #[test]
        fn service_level_rises_with_every_server(
            traffic in 0.01..200.0f64,
            handle_secs in 10.0..3600.0f64,
            answer_secs in 1.0..300.0f64,
            servers in 0u32..300,
        ) {
            let fewer = predict(traffic, servers, handle_secs, answer_secs);
            let more = predict(traffic, servers + 1, handle_secs, answer_secs);
            prop_assert!(more.service_level >= fewer.service_level,
                "{} servers: {}, one more: {}", servers, fewer.service_level, more.service_level);
            prop_assert!(more.wait_probability <= fewer.wait_probability);
        }

        #[test]
        fn servers_needed_is_the_least_that_meets_the_target(
            traffic in 0.01..300.0f64,
            handle_secs in 10.0..3600.0f64,
            service_level in 0.05..0.99f64,
            answer_secs in 1.0..600.0f64,
            max_average in proptest::option::of(1.0..600.0f64),
        ) {
            let target = Target { service_level, answer_secs, max_average_answer_secs: max_average };
            let needed = servers_needed(traffic, handle_secs, &target).unwrap();
            prop_assert!(f64::from(needed) > traffic);
            let enough = predict(traffic, needed, handle_secs, answer_secs);
            prop_assert!(enough.service_level >= service_level);
            if let Some(max) = max_average {
                prop_assert!(enough.average_answer_secs.unwrap() <= max);
            }
            let short = predict(traffic, needed - 1, handle_secs, answer_secs);
            let short_of_answer = max_average.is_some_and(|max| {
                short.average_answer_secs.is_none_or(|average| average > max)
            });
            prop_assert!(short.service_level < service_level || short_of_answer);
        }

        #[test]
        fn a_plan_always_meets_its_target(
            arrivals in 0.0..2000.0f64,
            handle_secs in 1.0..3600.0f64,
            concurrency in 1u32..=10,
            shrinkage in 0.0..=0.9f64,
        ) {
            let settings = Settings::try_from(SettingsInput {
                concurrency,
                shrinkage,
                ..SettingsInput::default()
            }).unwrap();
            let hour = plan(&[demand(arrivals, handle_secs)], &settings).unwrap()[0];
            prop_assert!(hour.service_level >= 0.8);
            prop_assert!(hour.operators_needed * concurrency >= hour.slots_needed);
            prop_assert!((hour.operators_needed - 1) * concurrency < hour.slots_needed
                || hour.operators_needed == 0);
            prop_assert!(hour.rostered >= hour.operators_needed);
            prop_assert!(f64::from(hour.rostered) * (1.0 - shrinkage)
                >= f64::from(hour.operators_needed) - 1e-6);
        }
    }
}
