//! Discrete-event simulation of a business day through the real routing rules
//! (`shared::routing::choose` and `queue_order`), one table per team size, one row per strategy.
//!
//! ```text
//! cargo run --profile host -p e2e --bin routing_sim -- [--seed 42] [--days 5]
//! ```
//!
//! Method (printed with the results): a 12-hour day (08:00-20:00) of chats arriving as a Poisson
//! process whose rate has a morning and an afternoon peak, scaled to the team so that the
//! offered load is about 80% of the team's concurrent capacity at the peaks. Each chat has a
//! topic (billing 35%, shipping 30%, technical 25%, sales 10%), a language (80% en, 20% de) and a
//! priority (10% VIP). Each operator (capacity 3) has two topic skills with levels and speaks
//! English, some also German. Handle time is log-normal (median 6 min) and 50% longer when the
//! operator lacks the chat's topic (a wrong-skill assignment: in real life, a transfer). After
//! every event (arrival, chat finished, skills wait expired, supervisor sweep) the queue is
//! walked in `queue_order` and `choose` decides for each waiting chat. "Manual" is modelled as a
//! supervisor assigning every waiting chat to the least-loaded operator every 2 minutes. Wait =
//! arrival to assignment (the operator's first reply is taken as immediate). Utilisation = time
//! average of load / capacity over the day. Same arrivals and handle times for every strategy
//! (same seed).

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use anyhow::{Context, Result, bail};
use shared::routing::{self, Candidate, Need, Policy, Strategy, Waiting};

/// xorshift64*: small, fast and deterministic, which is all a simulation needs.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
    fn pick<'a, T>(&mut self, weighted: &'a [(T, f64)]) -> &'a T {
        let mut x = self.uniform() * weighted.iter().map(|(_, w)| w).sum::<f64>();
        for (item, weight) in weighted {
            if x < *weight {
                return item;
            }
            x -= weight;
        }
        &weighted[weighted.len() - 1].0
    }
}

const DAY_S: f64 = 12.0 * 3600.0;
const CAPACITY: i64 = 3;
const TOPICS: [(&str, f64); 4] = [
    ("billing", 0.35),
    ("shipping", 0.30),
    ("technical", 0.25),
    ("sales", 0.10),
];
const SWEEP_S: f64 = 120.0;

/// Relative arrival rate over the day (hours since opening): peaks mid-morning and
/// mid-afternoon.
fn shape(hour: f64) -> f64 {
    let bump =
        |centre: f64, width: f64, height: f64| height * (-((hour - centre) / width).powi(2)).exp();
    0.35 + bump(2.5, 1.2, 0.65) + bump(7.0, 1.5, 0.5)
}

#[derive(Clone)]
struct Chat {
    arrival: f64,
    topic: &'static str,
    language: &'static str,
    priority: i64,
    /// Handle time if a skilled operator takes it; ×1.5 otherwise.
    handle_s: f64,
}

fn day(rng: &mut Rng, operators: usize) -> Vec<Chat> {
    // At the peak (shape ~1), offered load = rate × handle time ≈ 80% of operators × capacity.
    let mean_handle_s = 360.0 * (0.5f64 * 0.5).exp(); // log-normal mean, median 6 min, sigma 0.5
    let peak_rate = 0.8 * (operators as f64 * CAPACITY as f64) / mean_handle_s;
    let mut chats = Vec::new();
    let mut t = 0.0;
    loop {
        t += -rng.uniform().ln() / peak_rate;
        if t >= DAY_S {
            return chats;
        }
        let accept = shape(t / 3600.0) / 1.05;
        if rng.uniform() > accept {
            continue;
        }
        chats.push(Chat {
            arrival: t,
            topic: *rng.pick(&TOPICS),
            language: *rng.pick(&[("en", 0.8), ("de", 0.2)]),
            priority: if rng.uniform() < 0.1 { 1 } else { 0 },
            handle_s: 360.0 * (0.5 * rng.normal()).exp(),
        });
    }
}

fn team(rng: &mut Rng, size: usize) -> Vec<Candidate> {
    (0..size)
        .map(|i| {
            // Everyone covers two topics; coverage follows demand (billing and shipping most).
            let first = TOPICS[i % 3].0;
            let second = TOPICS[(i + 1 + i / 3) % 4].0;
            let mut skills = vec![(first.to_owned(), 3 + (rng.next_u64() % 3) as i64)];
            if second != first {
                skills.push((second.to_owned(), 1 + (rng.next_u64() % 3) as i64));
            }
            let mut languages = vec!["en".to_owned()];
            if i % 3 == 1 {
                languages.push("de".to_owned());
            }
            Candidate {
                operator_id: i as i64 + 1,
                available: true,
                load: 0,
                capacity: CAPACITY,
                last_assigned_at: None,
                skills,
                languages,
            }
        })
        .collect()
}

#[derive(Debug, PartialEq)]
enum Event {
    Arrival(usize),
    Finish(usize, usize),
    Recheck,
    Sweep,
}

struct Timed(f64, Event);
impl PartialEq for Timed {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl Eq for Timed {}
impl PartialOrd for Timed {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timed {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[derive(Default)]
struct Outcome {
    waits: Vec<f64>,
    wrong_skill: usize,
    busy_seconds: f64,
    capacity_seconds: f64,
    unserved: usize,
}

fn run(strategy: Strategy, chats: &[Chat], operators: &[Candidate]) -> Outcome {
    let policy = Policy {
        strategy,
        ..Policy::default()
    };
    let mut ops = operators.to_vec();
    let mut events: BinaryHeap<Reverse<Timed>> = chats
        .iter()
        .enumerate()
        .map(|(i, c)| Reverse(Timed(c.arrival, Event::Arrival(i))))
        .collect();
    if strategy == Strategy::Manual {
        let mut t = SWEEP_S;
        while t < DAY_S + 4.0 * 3600.0 {
            events.push(Reverse(Timed(t, Event::Sweep)));
            t += SWEEP_S;
        }
    }
    let mut waiting: Vec<usize> = Vec::new();
    let mut outcome = Outcome::default();
    let mut last_t = 0.0;
    while let Some(Reverse(Timed(now, event))) = events.pop() {
        let load: i64 = ops.iter().map(|o| o.load).sum();
        outcome.busy_seconds += load as f64 * (now - last_t);
        last_t = now;
        let sweep = event == Event::Sweep;
        match event {
            Event::Arrival(i) => {
                waiting.push(i);
                if strategy == Strategy::Skills {
                    let at = now + policy.skill_wait_ms as f64 / 1000.0;
                    events.push(Reverse(Timed(at, Event::Recheck)));
                }
            }
            Event::Finish(_, operator) => ops[operator].load -= 1,
            Event::Recheck | Event::Sweep => {}
        }
        let now_ms = (now * 1000.0) as i64;
        waiting.sort_by(|a, b| {
            routing::queue_order(
                &Waiting {
                    conversation_id: *a as i64,
                    priority: chats[*a].priority,
                    waiting_since: (chats[*a].arrival * 1000.0) as i64,
                },
                &Waiting {
                    conversation_id: *b as i64,
                    priority: chats[*b].priority,
                    waiting_since: (chats[*b].arrival * 1000.0) as i64,
                },
            )
        });
        let mut still_waiting = Vec::new();
        for i in std::mem::take(&mut waiting) {
            let chat = &chats[i];
            let need = Need {
                topic: Some(chat.topic.to_owned()),
                language: Some(chat.language.to_owned()),
                waited_ms: now_ms - (chat.arrival * 1000.0) as i64,
                ..Need::default()
            };
            let decision = if strategy == Strategy::Manual {
                // The supervisor's sweep: least loaded, whatever the skills.
                sweep
                    .then(|| {
                        routing::choose(
                            &Policy {
                                strategy: Strategy::LeastLoaded,
                                ..policy
                            },
                            &need,
                            &ops,
                            now_ms,
                        )
                    })
                    .flatten()
            } else {
                routing::choose(&policy, &need, &ops, now_ms)
            };
            let Some(decision) = decision else {
                still_waiting.push(i);
                continue;
            };
            let index = (decision.operator_id - 1) as usize;
            let operator = &mut ops[index];
            assert!(operator.eligible(), "routing chose an ineligible operator");
            operator.load += 1;
            operator.last_assigned_at = Some(now_ms);
            outcome.waits.push(now - chat.arrival);
            let handle = if decision.topic_match {
                chat.handle_s
            } else {
                outcome.wrong_skill += 1;
                chat.handle_s * 1.5
            };
            events.push(Reverse(Timed(now + handle, Event::Finish(i, index))));
        }
        waiting = still_waiting;
    }
    outcome.capacity_seconds = ops.len() as f64 * CAPACITY as f64 * DAY_S;
    outcome.unserved = waiting.len();
    outcome
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize - 1]
}

/// Chats arriving at a steady `per_hour` for `hours`, every one the same topic and language
/// (so routing never waits for a skill and handle times are never stretched): the setting
/// Erlang C describes. Handle times are exponential with mean `mean_s`, or log-normal with
/// that mean (sigma 0.5), as chats really are.
fn steady(rng: &mut Rng, per_hour: f64, hours: f64, mean_s: f64, exponential: bool) -> Vec<Chat> {
    let mut chats = Vec::new();
    let mut t = 0.0;
    let sigma = 0.5f64;
    let median = mean_s / (sigma * sigma / 2.0).exp();
    loop {
        t += -rng.uniform().ln() / (per_hour / 3600.0);
        if t >= hours * 3600.0 {
            return chats;
        }
        let handle_s = if exponential {
            -rng.uniform().ln() * mean_s
        } else {
            median * (sigma * rng.normal()).exp()
        };
        chats.push(Chat {
            arrival: t,
            topic: "billing",
            language: "en",
            priority: 0,
            handle_s,
        });
    }
}

/// The staffing model against the simulation: for a steady hour of chats, the service level
/// Erlang C predicts (`shared::staffing`, each chat slot a server) beside the one the routing
/// simulation measures with the same operators.
fn erlang_check(seed: u64, hours: f64) {
    const PER_HOUR: f64 = 60.0;
    const MEAN_S: f64 = 408.0;
    const ANSWER_S: f64 = 20.0;
    let traffic = shared::staffing::traffic(PER_HOUR, 3600.0, MEAN_S);
    println!();
    println!(
        "staffing model vs simulation: {PER_HOUR} chats/hour, mean handle {MEAN_S} s ({traffic:.1} Erlangs), capacity {CAPACITY} chats per operator, service level = answered within {ANSWER_S} s"
    );
    println!(
        "method: Erlang C over operators x {CAPACITY} chat slots (shared::staffing::predict) vs the routing simulation (least loaded, one topic, no skill waits) over {hours} hours of steady Poisson arrivals, the first hour dropped as warm-up; handle times exponential (Erlang C's assumption) and log-normal (sigma 0.5, same mean)"
    );
    println!("| operators | slots | Erlang C | simulated, exponential | simulated, log-normal |");
    println!("|---:|---:|---:|---:|---:|");
    for operators in 3..=5usize {
        let slots = operators as u32 * CAPACITY as u32;
        let predicted = shared::staffing::predict(traffic, slots, MEAN_S, ANSWER_S);
        let mut measured = Vec::new();
        for exponential in [true, false] {
            let mut rng = Rng(seed ^ (operators as u64 * 7919) | 1);
            let chats = steady(&mut rng, PER_HOUR, hours, MEAN_S, exponential);
            let team: Vec<Candidate> = (0..operators)
                .map(|i| Candidate {
                    operator_id: i as i64 + 1,
                    available: true,
                    load: 0,
                    capacity: CAPACITY,
                    last_assigned_at: None,
                    skills: vec![("billing".to_owned(), 3)],
                    languages: vec!["en".to_owned()],
                })
                .collect();
            let outcome = run(Strategy::LeastLoaded, &chats, &team);
            // Waits are recorded in assignment order, which first-come-first-served keeps
            // close to arrival order: the first hour's worth of them is the warm-up.
            let warm = chats.iter().filter(|c| c.arrival < 3600.0).count();
            let steady_waits = outcome.waits.get(warm..).unwrap_or(&outcome.waits[..]);
            let within = steady_waits.iter().filter(|w| **w <= ANSWER_S).count();
            measured.push(100.0 * within as f64 / steady_waits.len().max(1) as f64);
        }
        println!(
            "| {operators} | {slots} | {:.1}% | {:.1}% | {:.1}% |",
            100.0 * predicted.service_level,
            measured[0],
            measured[1]
        );
    }
}

fn main() -> Result<()> {
    let mut seed = 42u64;
    let mut days = 5usize;
    let mut erlang_hours = 400.0f64;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--seed" => seed = value()?.parse()?,
            "--days" => days = value()?.parse()?,
            "--erlang-hours" => erlang_hours = value()?.parse()?,
            other => bail!(
                "unknown option {other}\nusage: routing_sim [--seed N] [--days N] [--erlang-hours N]"
            ),
        }
    }
    println!("routing simulation: {days} business days per team size, seed {seed}");
    println!(
        "method: discrete-event simulation through shared::routing (choose, queue_order); 12-hour days, Poisson arrivals with two peaks at ~80% of team capacity, 4 topics, 20% German, 10% VIP; capacity 3; log-normal handle time (median 6 min, x1.5 without the topic skill); wait = arrival to assignment; manual = a supervisor assigns every 2 min"
    );
    for size in [3usize, 6, 10] {
        let mut rng = Rng(seed ^ (size as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let operators = team(&mut rng, size);
        let chats: Vec<Chat> = (0..days).flat_map(|_| day(&mut rng, size)).collect();
        println!();
        println!("{size} operators, {} chats", chats.len());
        println!(
            "| strategy | wait p50 | wait p90 | answered within 30 s | utilisation | wrong-skill assignments (transfers needed) |"
        );
        println!("|---|---:|---:|---:|---:|---:|");
        for strategy in Strategy::ALL {
            // Days run back to back on the same team; each day starts empty.
            let mut all = Outcome::default();
            for chunk in chats.chunk_by(|a, b| a.arrival <= b.arrival) {
                let outcome = run(strategy, chunk, &operators);
                all.waits.extend(outcome.waits);
                all.wrong_skill += outcome.wrong_skill;
                all.busy_seconds += outcome.busy_seconds;
                all.capacity_seconds += outcome.capacity_seconds;
                all.unserved += outcome.unserved;
            }
            all.waits.sort_by(f64::total_cmp);
            let within = all.waits.iter().filter(|w| **w <= 30.0).count();
            println!(
                "| {} | {:.0} s | {:.0} s | {:.0}% | {:.0}% | {} ({:.1}%) |",
                strategy.as_str(),
                percentile(&all.waits, 50.0),
                percentile(&all.waits, 90.0),
                100.0 * within as f64 / all.waits.len().max(1) as f64,
                100.0 * all.busy_seconds / all.capacity_seconds,
                all.wrong_skill,
                100.0 * all.wrong_skill as f64 / all.waits.len().max(1) as f64,
            );
            if all.unserved > 0 {
                println!(
                    "|  (unserved at closing + 4 h: {}) | | | | | |",
                    all.unserved
                );
            }
        }
    }
    erlang_check(seed, erlang_hours);
    Ok(())
}
