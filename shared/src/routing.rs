//! Routing rules: which operator should take a waiting conversation, and in what order waiting
//! conversations are served. Pure functions over plain data, so the same rules run in the
//! router, in unit tests and in the discrete-event simulation (`tests/e2e/src/bin/routing_sim.rs`).
//!
//! Every decision says which rule chose whom and why, for the conversation's timeline.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

/// How a team's conversations are handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The eligible operator assigned least recently.
    RoundRobin,
    /// The eligible operator with the lowest load relative to capacity.
    LeastLoaded,
    /// The eligible operator whose skills best match the conversation (topic, language, region,
    /// tier), even when someone else has more room; falls back to anyone only after waiting
    /// [`Policy::skill_wait_ms`] for a match.
    Skills,
    /// Nobody is chosen: conversations wait for a supervisor or a claim.
    Manual,
}

impl Strategy {
    pub const ALL: [Strategy; 4] = [
        Strategy::RoundRobin,
        Strategy::LeastLoaded,
        Strategy::Skills,
        Strategy::Manual,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::RoundRobin => "round_robin",
            Strategy::LeastLoaded => "least_loaded",
            Strategy::Skills => "skills",
            Strategy::Manual => "manual",
        }
    }

    pub fn parse(text: &str) -> Option<Strategy> {
        Strategy::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A team's routing settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub strategy: Strategy,
    /// A returning customer goes back to their previous operator within this long of the last
    /// conversation (if that operator is available and has room). 0 turns stickiness off.
    pub stickiness_window_ms: i64,
    /// Skills routing waits this long for a matching operator before taking anyone.
    pub skill_wait_ms: i64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            strategy: Strategy::LeastLoaded,
            stickiness_window_ms: 7 * 24 * 3_600_000,
            skill_wait_ms: 60_000,
        }
    }
}

/// An operator as routing sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub operator_id: i64,
    /// Presence `available` with a recent heartbeat (see `operator::PRESENCE_GRACE_MS`).
    pub available: bool,
    pub load: i64,
    pub capacity: i64,
    pub last_assigned_at: Option<i64>,
    /// Lower-case skill names with levels 1-5. Regions and tiers are skills too
    /// (`region:eu`, `tier:vip`).
    pub skills: Vec<(String, i64)>,
    /// Lower-case language tags (`en`, `pt-br`).
    pub languages: Vec<String>,
}

impl Candidate {
    /// May receive a new conversation now: available and below capacity.
    pub fn eligible(&self) -> bool {
        self.available && self.load < self.capacity
    }

    fn level(&self, skill: &str) -> i64 {
        self.skills
            .iter()
            .find(|(name, _)| name == skill)
            .map_or(0, |(_, level)| *level)
    }

    fn speaks(&self, language: &str) -> bool {
        let primary = |tag: &str| tag.split('-').next().unwrap_or(tag).to_owned();
        self.languages
            .iter()
            .any(|l| l == language || primary(l) == primary(language))
    }

    /// Load relative to capacity, compared without floating point: a/b < c/d as a*d < c*b.
    fn fuller_than(&self, other: &Candidate) -> Ordering {
        (self.load * other.capacity.max(1)).cmp(&(other.load * self.capacity.max(1)))
    }
}

/// What a conversation needs, from the topic picker, the channel, keyword rules and the contact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Need {
    pub topic: Option<String>,
    pub language: Option<String>,
    pub region: Option<String>,
    pub tier: Option<String>,
    /// The operator of this customer's previous conversation, and when it last changed.
    pub previous: Option<(i64, i64)>,
    /// How long the conversation has waited so far.
    pub waited_ms: i64,
    /// The operator it was taken from for not answering: not offered to them again right away.
    pub declined_by: Option<i64>,
}

/// Which rule made a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    Sticky,
    RoundRobin,
    LeastLoaded,
    SkillsMatch,
    /// Skills routing found no matching operator with room within the wait, and took anyone.
    SkillsFallback,
}

/// Who takes the conversation, by which rule, and why (for the timeline).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub operator_id: i64,
    pub rule: Rule,
    pub reason: String,
    /// Whether the chosen operator has the conversation's topic as a skill (when it has one):
    /// a `false` here is a likely transfer later.
    pub topic_match: bool,
    /// Chosen from the backup team because the conversation's own team was full or it waited
    /// past the overflow threshold.
    pub overflow: bool,
}

/// How well `candidate` fits `need`: the topic weighs most, then language, region, tier.
/// Returns (has the topic skill or no topic is known, score).
pub fn fit(candidate: &Candidate, need: &Need) -> (bool, i64) {
    let topic_level = need.topic.as_deref().map_or(0, |t| candidate.level(t));
    let language = need
        .language
        .as_deref()
        .is_some_and(|l| candidate.speaks(l));
    let region = need
        .region
        .as_deref()
        .map_or(0, |r| candidate.level(&format!("region:{r}")));
    let tier = need
        .tier
        .as_deref()
        .map_or(0, |t| candidate.level(&format!("tier:{t}")));
    let score = topic_level * 100 + i64::from(language) * 40 + region * 5 + tier * 5;
    (need.topic.is_none() || topic_level > 0, score)
}

fn least_recently_assigned(a: &Candidate, b: &Candidate) -> Ordering {
    // Never assigned sorts first; then oldest; then the lower id, so ties are deterministic.
    a.last_assigned_at
        .unwrap_or(i64::MIN)
        .cmp(&b.last_assigned_at.unwrap_or(i64::MIN))
        .then(a.operator_id.cmp(&b.operator_id))
}

/// Chooses who should take a conversation now, or `None` (nobody eligible, manual routing, or
/// skills routing still waiting for a match). Never picks an operator who is not available or
/// has no room.
pub fn choose(
    policy: &Policy,
    need: &Need,
    candidates: &[Candidate],
    now: i64,
) -> Option<Decision> {
    if policy.strategy == Strategy::Manual {
        return None;
    }
    let eligible: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| c.eligible() && Some(c.operator_id) != need.declined_by)
        .collect();
    let topic_match = |c: &Candidate| fit(c, need).0;
    if let Some((previous, at)) = need.previous
        && policy.stickiness_window_ms > 0
        && now - at <= policy.stickiness_window_ms
        && let Some(c) = eligible.iter().find(|c| c.operator_id == previous)
    {
        return Some(Decision {
            operator_id: c.operator_id,
            rule: Rule::Sticky,
            reason: "the customer's previous operator, available with room".into(),
            topic_match: topic_match(c),
            overflow: false,
        });
    }
    let decide = |c: &Candidate, rule: Rule, reason: String| Decision {
        operator_id: c.operator_id,
        rule,
        reason,
        topic_match: topic_match(c),
        overflow: false,
    };
    match policy.strategy {
        Strategy::Manual => None,
        Strategy::RoundRobin => eligible
            .iter()
            .min_by(|a, b| least_recently_assigned(a, b))
            .map(|c| {
                decide(
                    c,
                    Rule::RoundRobin,
                    "assigned least recently among available operators with room".into(),
                )
            }),
        Strategy::LeastLoaded => eligible
            .iter()
            .min_by(|a, b| a.fuller_than(b).then_with(|| least_recently_assigned(a, b)))
            .map(|c| {
                decide(
                    c,
                    Rule::LeastLoaded,
                    format!("lowest load ({} of {})", c.load, c.capacity),
                )
            }),
        Strategy::Skills => {
            let best = eligible.iter().max_by(|a, b| {
                let (fa, sa) = fit(a, need);
                let (fb, sb) = fit(b, need);
                fa.cmp(&fb)
                    .then(sa.cmp(&sb))
                    .then_with(|| b.fuller_than(a))
                    .then_with(|| least_recently_assigned(b, a))
            })?;
            let (matches, score) = fit(best, need);
            if matches {
                let topic = need.topic.as_deref().unwrap_or("any topic");
                return Some(decide(
                    best,
                    Rule::SkillsMatch,
                    format!("best skills match for {topic} (score {score})"),
                ));
            }
            // Nobody with room has the topic. Someone who has it may free up soon: wait for them
            // a while, unless nobody at all (busy or not) has the skill.
            let anyone_skilled = candidates.iter().any(|c| c.available && fit(c, need).0);
            if anyone_skilled && need.waited_ms < policy.skill_wait_ms {
                return None;
            }
            Some(decide(
                best,
                Rule::SkillsFallback,
                format!(
                    "no operator with {} had room{}; best available fit",
                    need.topic.as_deref().unwrap_or("the skill"),
                    if anyone_skilled {
                        format!(" within {} s", policy.skill_wait_ms / 1000)
                    } else {
                        String::new()
                    }
                ),
            ))
        }
    }
}

/// Where a team's conversations go when the team cannot take them: another team, once the team
/// is full (nobody available with room) or the conversation has waited `after_ms`.
#[derive(Debug, Clone, Copy)]
pub struct Overflow<'a> {
    pub backup_name: &'a str,
    pub policy: &'a Policy,
    pub candidates: &'a [Candidate],
    /// `None`: overflow only when the team is full.
    pub after_ms: Option<i64>,
}

/// [`choose`] within the conversation's own team; failing that, within the backup team when the
/// overflow conditions hold. Stickiness applies only to the conversation's own team.
pub fn route(
    policy: &Policy,
    need: &Need,
    candidates: &[Candidate],
    overflow: Option<&Overflow<'_>>,
    now: i64,
) -> Option<Decision> {
    if let Some(decision) = choose(policy, need, candidates, now) {
        return Some(decision);
    }
    let overflow = overflow?;
    let team_full = !candidates
        .iter()
        .any(|c| c.eligible() && Some(c.operator_id) != need.declined_by);
    let waited_out = overflow
        .after_ms
        .is_some_and(|after| need.waited_ms >= after);
    if !team_full && !waited_out {
        return None;
    }
    let backup_need = Need {
        previous: None,
        ..need.clone()
    };
    let mut decision = choose(overflow.policy, &backup_need, overflow.candidates, now)?;
    let why = if team_full {
        "the team had nobody available with room".to_owned()
    } else {
        format!(
            "waited over {} s",
            overflow.after_ms.unwrap_or_default() / 1000
        )
    };
    decision.reason = format!(
        "overflow to {} ({why}): {}",
        overflow.backup_name, decision.reason
    );
    decision.overflow = true;
    Some(decision)
}

/// A waiting conversation as the queue orders it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waiting {
    pub conversation_id: i64,
    /// Higher is served first (VIP customers, urgent topics).
    pub priority: i64,
    pub waiting_since: i64,
}

/// Queue order: higher priority first; within a priority, longest waiting first.
pub fn queue_order(a: &Waiting, b: &Waiting) -> Ordering {
    b.priority
        .cmp(&a.priority)
        .then(a.waiting_since.cmp(&b.waiting_since))
        .then(a.conversation_id.cmp(&b.conversation_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operator(id: i64, load: i64, last: Option<i64>, skills: &[(&str, i64)]) -> Candidate {
        Candidate {
            operator_id: id,
            available: true,
            load,
            capacity: 3,
            last_assigned_at: last,
            skills: skills.iter().map(|(s, l)| ((*s).to_owned(), *l)).collect(),
            languages: vec!["en".into()],
        }
    }

    fn policy(strategy: Strategy) -> Policy {
        Policy {
            strategy,
            ..Policy::default()
        }
    }

    #[test]
    fn nobody_unavailable_or_full_is_ever_chosen() {
        let mut away = operator(1, 0, None, &[("billing", 5)]);
        away.available = false;
        let full = operator(2, 3, None, &[("billing", 5)]);
        let need = Need {
            topic: Some("billing".into()),
            waited_ms: i64::MAX,
            ..Need::default()
        };
        for strategy in Strategy::ALL {
            assert_eq!(
                choose(&policy(strategy), &need, &[away.clone(), full.clone()], 0),
                None
            );
        }
    }

    #[test]
    fn round_robin_takes_the_least_recently_assigned() {
        let ops = [
            operator(1, 0, Some(300), &[]),
            operator(2, 2, Some(100), &[]),
            operator(3, 0, Some(200), &[]),
        ];
        let decision = choose(&policy(Strategy::RoundRobin), &Need::default(), &ops, 0).unwrap();
        assert_eq!((decision.operator_id, decision.rule), (2, Rule::RoundRobin));
    }

    #[test]
    fn least_loaded_compares_load_relative_to_capacity() {
        let mut big = operator(1, 2, None, &[]);
        big.capacity = 10;
        let small = operator(2, 1, None, &[]);
        let decision = choose(
            &policy(Strategy::LeastLoaded),
            &Need::default(),
            &[small, big],
            0,
        )
        .unwrap();
        assert_eq!(decision.operator_id, 1, "2 of 10 is emptier than 1 of 3");
    }

    #[test]
    fn skills_prefer_the_best_match_even_when_someone_is_freer() {
        let need = Need {
            topic: Some("billing".into()),
            language: Some("de".into()),
            ..Need::default()
        };
        let mut expert = operator(1, 2, Some(0), &[("billing", 5)]);
        expert.languages.push("de-AT".to_lowercase());
        let idle_generalist = operator(2, 0, None, &[("shipping", 5)]);
        let novice = operator(3, 0, None, &[("billing", 2)]);
        let decision = choose(
            &policy(Strategy::Skills),
            &need,
            &[idle_generalist, novice, expert],
            0,
        )
        .unwrap();
        assert_eq!(decision.operator_id, 1);
        assert_eq!(decision.rule, Rule::SkillsMatch);
        assert!(decision.topic_match);
    }

    #[test]
    fn skills_wait_for_a_match_then_fall_back() {
        let skilled_but_full = operator(1, 3, None, &[("billing", 5)]);
        let free = operator(2, 0, None, &[]);
        let ops = [skilled_but_full, free];
        let mut need = Need {
            topic: Some("billing".into()),
            waited_ms: 10_000,
            ..Need::default()
        };
        assert_eq!(choose(&policy(Strategy::Skills), &need, &ops, 0), None);
        need.waited_ms = 60_000;
        let decision = choose(&policy(Strategy::Skills), &need, &ops, 0).unwrap();
        assert_eq!(
            (decision.operator_id, decision.rule),
            (2, Rule::SkillsFallback)
        );
        assert!(!decision.topic_match, "a likely transfer");
        // Nobody has the skill at all: no point waiting.
        let need = Need {
            topic: Some("legal".into()),
            ..Need::default()
        };
        assert_eq!(
            choose(&policy(Strategy::Skills), &need, &ops, 0).map(|d| d.operator_id),
            Some(2)
        );
    }

    #[test]
    fn a_returning_customer_goes_back_to_their_operator_within_the_window() {
        let ops = [operator(1, 0, None, &[]), operator(2, 2, Some(5), &[])];
        let need = Need {
            previous: Some((2, 1_000)),
            ..Need::default()
        };
        let sticky = choose(&policy(Strategy::LeastLoaded), &need, &ops, 2_000).unwrap();
        assert_eq!((sticky.operator_id, sticky.rule), (2, Rule::Sticky));
        let window = Policy::default().stickiness_window_ms;
        let later = choose(
            &policy(Strategy::LeastLoaded),
            &need,
            &ops,
            1_000 + window + 1,
        )
        .unwrap();
        assert_eq!((later.operator_id, later.rule), (1, Rule::LeastLoaded));
    }

    #[test]
    fn an_operator_who_did_not_answer_is_not_offered_it_again() {
        let ops = [operator(1, 0, None, &[]), operator(2, 2, None, &[])];
        let need = Need {
            previous: Some((1, 0)),
            declined_by: Some(1),
            ..Need::default()
        };
        for strategy in [
            Strategy::RoundRobin,
            Strategy::LeastLoaded,
            Strategy::Skills,
        ] {
            let decision = choose(&policy(strategy), &need, &ops, 10).unwrap();
            assert_eq!(decision.operator_id, 2, "{strategy:?}");
        }
    }

    #[test]
    fn overflow_goes_to_the_backup_team_when_full_or_after_the_threshold() {
        let full_team = [operator(1, 3, None, &[])];
        let backup = [operator(7, 0, None, &[])];
        let backup_policy = policy(Strategy::RoundRobin);
        let overflow = Overflow {
            backup_name: "Tier 2",
            policy: &backup_policy,
            candidates: &backup,
            after_ms: Some(120_000),
        };
        let least = policy(Strategy::LeastLoaded);
        let decision = route(&least, &Need::default(), &full_team, Some(&overflow), 0).unwrap();
        assert_eq!((decision.operator_id, decision.overflow), (7, true));
        assert!(decision.reason.contains("Tier 2"), "{}", decision.reason);
        // Without a backup, a full team leaves it waiting.
        assert_eq!(route(&least, &Need::default(), &full_team, None, 0), None);

        // A team with room but waiting for a skill overflows only after the threshold.
        let skills = policy(Strategy::Skills);
        let team = [
            operator(1, 3, None, &[("billing", 5)]),
            operator(2, 0, None, &[]),
        ];
        let mut need = Need {
            topic: Some("billing".into()),
            waited_ms: 30_000,
            ..Need::default()
        };
        let patient = Overflow {
            after_ms: Some(40_000),
            ..overflow
        };
        let skills_wait = Policy {
            skill_wait_ms: 100_000,
            ..skills
        };
        assert_eq!(route(&skills_wait, &need, &team, Some(&patient), 0), None);
        need.waited_ms = 40_000;
        let decision = route(&skills_wait, &need, &team, Some(&patient), 0).unwrap();
        assert_eq!((decision.operator_id, decision.overflow), (7, true));
        assert!(decision.reason.contains("waited over 40 s"));
        // A team with room does not overflow on a routine decision.
        let decision = route(&least, &Need::default(), &team, Some(&patient), 0).unwrap();
        assert_eq!((decision.operator_id, decision.overflow), (2, false));
    }

    #[test]
    fn manual_routing_chooses_nobody() {
        let ops = [operator(1, 0, None, &[])];
        assert_eq!(
            choose(&policy(Strategy::Manual), &Need::default(), &ops, 0),
            None
        );
    }

    #[test]
    fn the_queue_serves_priority_first_then_the_longest_wait() {
        let mut queue = [
            Waiting {
                conversation_id: 1,
                priority: 0,
                waiting_since: 10,
            },
            Waiting {
                conversation_id: 2,
                priority: 1,
                waiting_since: 50,
            },
            Waiting {
                conversation_id: 3,
                priority: 0,
                waiting_since: 5,
            },
        ];
        queue.sort_by(queue_order);
        let order: Vec<i64> = queue.iter().map(|w| w.conversation_id).collect();
        assert_eq!(order, [2, 3, 1]);
    }

    #[test]
    fn strategies_parse_from_their_names() {
        for strategy in Strategy::ALL {
            assert_eq!(Strategy::parse(strategy.as_str()), Some(strategy));
        }
        assert_eq!(Strategy::parse("random"), None);
    }
}
