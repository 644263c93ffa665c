//! Evaluates the assistant's deterministic core on the labelled sets in `shared/eval/`: when to
//! hand a conversation to a person (`shared::escalation::assess`) and which knowledge-base
//! article answers a question (`shared::kb::best_answer`). No app, no network.
//!
//! ```text
//! cargo run --profile host -p e2e --bin assistant_eval -- [--dir shared/eval]
//! ```
//!
//! Exits 1 when a target of issue 6 is missed on the main set (`escalation.jsonl`, all its
//! batches together) or the questions: escalation recall >= 0.95 on explicit requests and >= 0.85
//! on frustration, precision >= 0.9, right article >= 0.8. Two more escalation sets are reported
//! apart and checked against nothing:
//! - `escalation_heldout.jsonl` was written after the rules were restructured and measured once
//!   before any tuning on it (the README keeps that first measurement). The rules have been
//!   tuned on it since, so it is now a development set like the main set.
//! - `escalation_fresh.jsonl` measures unseen wordings, in two batches. `fresh` (135 cases) was
//!   written and committed before the rules were broadened for generality; the first run
//!   printed its misses, and they informed that broadening, so its later figures overstate
//!   generalization. `fresh2` (60 cases) was written after that run but before any rule change,
//!   and only its summary row was looked at until the broadening was done. One author wrote
//!   both batches and the rule changes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use shared::escalation::{self, EscalationSettings, Speaker, Trigger, Turn};
use shared::kb;
use shared::store::{Database, DbError, Rows, SqlValue};

const EXPLICIT_RECALL: f64 = 0.95;
const FRUSTRATION_RECALL: f64 = 0.85;
const PRECISION: f64 = 0.9;
const RIGHT_ARTICLE: f64 = 0.8;

/// The app's SQL on an in-memory rusqlite database (the same SQLite the tests use).
struct Memory(rusqlite::Connection);

impl Database for Memory {
    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<Rows, DbError> {
        let host = |e: rusqlite::Error| DbError::Host(e.to_string());
        let mut statement = self.0.prepare(sql).map_err(host)?;
        let columns: Vec<String> = statement
            .column_names()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let params = params.iter().map(|p| match p {
            SqlValue::Null => rusqlite::types::Value::Null,
            SqlValue::Integer(v) => rusqlite::types::Value::Integer(*v),
            SqlValue::Real(v) => rusqlite::types::Value::Real(*v),
            SqlValue::Text(v) => rusqlite::types::Value::Text(v.clone()),
            SqlValue::Blob(v) => rusqlite::types::Value::Blob(v.clone()),
        });
        let mut rows = statement
            .query(rusqlite::params_from_iter(params))
            .map_err(host)?;
        let mut out = Rows {
            columns: columns.clone(),
            rows: Vec::new(),
        };
        while let Some(row) = rows.next().map_err(host)? {
            let mut values = Vec::with_capacity(columns.len());
            for i in 0..columns.len() {
                values.push(match row.get_ref(i).map_err(host)? {
                    rusqlite::types::ValueRef::Null => SqlValue::Null,
                    rusqlite::types::ValueRef::Integer(v) => SqlValue::Integer(v),
                    rusqlite::types::ValueRef::Real(v) => SqlValue::Real(v),
                    rusqlite::types::ValueRef::Text(v) => {
                        SqlValue::Text(String::from_utf8_lossy(v).into_owned())
                    }
                    rusqlite::types::ValueRef::Blob(v) => SqlValue::Blob(v.to_vec()),
                });
            }
            out.rows.push(values);
        }
        Ok(out)
    }
}

#[derive(Deserialize)]
struct Case {
    id: String,
    set: String,
    lang: String,
    expected: String,
    message: Option<String>,
    conversation: Option<Vec<Turn>>,
}

impl Case {
    fn turns(&self) -> Vec<Turn> {
        match (&self.message, &self.conversation) {
            (Some(message), _) => vec![Turn::customer(message.clone())],
            (None, Some(turns)) => turns.clone(),
            (None, None) => Vec::new(),
        }
    }

    fn last_customer_text(&self) -> String {
        self.turns()
            .iter()
            .filter(|t| t.from == Speaker::Customer)
            .map(|t| t.text.as_str())
            .collect::<Vec<_>>()
            .join(" / ")
    }
}

#[derive(Deserialize)]
struct KbFile {
    articles: Vec<ArticleSeed>,
}

#[derive(Deserialize)]
struct ArticleSeed {
    title: String,
    body: String,
    tags: Vec<String>,
    language: String,
}

#[derive(Deserialize)]
struct QuestionCase {
    id: String,
    set: String,
    lang: String,
    question: String,
    expected: Option<String>,
}

fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path:?}"))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str(line).with_context(|| format!("{path:?} line {}", n + 1))
        })
        .collect()
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        f64::NAN
    } else {
        part as f64 / whole as f64
    }
}

/// Escalation outcomes of one slice of the cases.
#[derive(Default)]
struct Tally {
    true_positive: usize,
    false_positive: usize,
    false_negative: usize,
    true_negative: usize,
    explicit: (usize, usize),
    explicit_by_trigger: usize,
    frustration: (usize, usize),
    frustration_by_trigger: usize,
}

impl Tally {
    fn add(&mut self, expected: &str, assessment: &escalation::Assessment) {
        let escalated = assessment.escalate;
        match (expected != "none", escalated) {
            (true, true) => self.true_positive += 1,
            (false, true) => self.false_positive += 1,
            (true, false) => self.false_negative += 1,
            (false, false) => self.true_negative += 1,
        }
        if expected == "explicit" {
            self.explicit.1 += 1;
            self.explicit.0 += usize::from(escalated);
            self.explicit_by_trigger += usize::from(assessment.has(Trigger::ExplicitRequest));
        }
        if expected == "frustration" {
            self.frustration.1 += 1;
            self.frustration.0 += usize::from(escalated);
            self.frustration_by_trigger += usize::from(assessment.has(Trigger::Frustration));
        }
    }

    fn precision(&self) -> f64 {
        ratio(self.true_positive, self.true_positive + self.false_positive)
    }

    fn recall(&self) -> f64 {
        ratio(self.true_positive, self.true_positive + self.false_negative)
    }

    fn cases(&self) -> usize {
        self.true_positive + self.false_positive + self.false_negative + self.true_negative
    }
}

/// Knowledge-base outcomes of one slice of the questions.
#[derive(Default)]
struct KbTally {
    answerable: usize,
    right: usize,
    wrong: usize,
    unanswered: usize,
    unanswerable: usize,
    abstained: usize,
}

/// Prints the escalation figures of `cases` by set and by language, and every misclassified
/// case; the tally over all of them.
fn report_escalation(title: &str, cases: &[Case]) -> Tally {
    let settings = EscalationSettings::default();
    let mut by_set: BTreeMap<String, Tally> = BTreeMap::new();
    let mut by_language: BTreeMap<String, Tally> = BTreeMap::new();
    let mut misclassified = Vec::new();
    for case in cases {
        let assessment = escalation::assess(&case.turns(), &Default::default(), &settings);
        for key in [case.set.clone(), "all".to_owned()] {
            by_set
                .entry(key)
                .or_default()
                .add(&case.expected, &assessment);
        }
        by_language
            .entry(case.lang.clone())
            .or_default()
            .add(&case.expected, &assessment);
        if assessment.escalate != (case.expected != "none") {
            let why = assessment
                .reasons
                .iter()
                .map(|r| format!("{:?} {}", r.trigger, r.evidence))
                .collect::<Vec<_>>()
                .join("; ");
            misclassified.push(format!(
                "{} [{}] expected {}, got {}: {}{}",
                case.id,
                case.set,
                case.expected,
                if assessment.escalate {
                    "escalate"
                } else {
                    "none"
                },
                case.last_customer_text(),
                if why.is_empty() {
                    String::new()
                } else {
                    format!(" <- {why}")
                }
            ));
        }
    }
    println!("## Escalation: {title} ({} cases)", cases.len());
    println!();
    println!(
        "| set | cases | precision | recall | explicit recall | frustration recall | false escalations |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (set, t) in &by_set {
        println!(
            "| {set} | {} | {:.3} | {:.3} | {:.3} ({}/{}, {} by the explicit trigger) | {:.3} ({}/{}, {} by the frustration trigger) | {} of {} |",
            t.cases(),
            t.precision(),
            t.recall(),
            ratio(t.explicit.0, t.explicit.1),
            t.explicit.0,
            t.explicit.1,
            t.explicit_by_trigger,
            ratio(t.frustration.0, t.frustration.1),
            t.frustration.0,
            t.frustration.1,
            t.frustration_by_trigger,
            t.false_positive,
            t.false_positive + t.true_negative,
        );
    }
    println!();
    println!("| language | cases | precision | recall | explicit recall | frustration recall |");
    println!("|---|---|---|---|---|---|");
    for (language, t) in &by_language {
        println!(
            "| {language} | {} | {:.3} | {:.3} | {:.3} ({}/{}) | {:.3} ({}/{}) |",
            t.cases(),
            t.precision(),
            t.recall(),
            ratio(t.explicit.0, t.explicit.1),
            t.explicit.0,
            t.explicit.1,
            ratio(t.frustration.0, t.frustration.1),
            t.frustration.0,
            t.frustration.1,
        );
    }
    println!();
    println!("Misclassified ({}):", misclassified.len());
    for line in &misclassified {
        println!("- {line}");
    }
    println!();

    by_set.remove("all").unwrap_or_default()
}

fn main() -> Result<()> {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/eval");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dir" => dir = PathBuf::from(args.next().context("--dir needs a path")?),
            other => bail!("unknown argument {other}; use --dir PATH"),
        }
    }
    let cases: Vec<Case> = read_jsonl(&dir.join("escalation.jsonl"))?;
    let optional = |name: &str| -> Result<Option<Vec<Case>>> {
        let path = dir.join(name);
        if path.exists() {
            Ok(Some(read_jsonl(&path)?))
        } else {
            Ok(None)
        }
    };
    let heldout = optional("escalation_heldout.jsonl")?;
    let fresh = optional("escalation_fresh.jsonl")?;
    let questions: Vec<QuestionCase> = read_jsonl(&dir.join("kb_questions.jsonl"))?;
    let kb_file: KbFile = serde_json::from_str(
        &std::fs::read_to_string(dir.join("kb_articles.json"))
            .context("reading kb_articles.json")?,
    )
    .context("parsing kb_articles.json")?;

    println!("# Assistant evaluation (deterministic core, no language model)");
    println!();
    println!("Method: every escalation case is assessed with `escalation::assess` on its customer");
    println!("(and bot) turns, default `EscalationSettings`, and an empty context (no retrieval");
    println!(
        "confidence, not VIP, no human-only topic, no wait), so only the text triggers can fire."
    );
    println!(
        "A case labelled explicit or frustration counts as found when the assessment escalates"
    );
    println!(
        "(by any trigger; the trigger-specific count is shown too); precision and recall are over"
    );
    println!(
        "escalate vs none. The knowledge base is seeded into an in-memory SQLite migrated with"
    );
    println!(
        "`shared::migrations::migrate`; each question goes to `kb::best_answer` with the language"
    );
    println!(
        "`kb::detect_language` finds in it, and counts as right when the answer's confidence is at"
    );
    println!(
        "least kb::CONFIDENT ({}) and its title is the expected one. Questions",
        kb::CONFIDENT
    );
    println!(
        "with no expected article count as right when nothing is answered confidently; they are"
    );
    println!("reported apart. Sets, in the order they were written: \"tuning\" (the rules were");
    println!(
        "developed on it); \"holdout1\" and \"holdout2\" (each written after a round of tuning,"
    );
    println!("measured once, then used for the next round); \"holdout3\" (likewise, before the");
    println!("rules were restructured around composable parts; the restructuring saw its misses,");
    println!("measured once before tuning on it). Targets are checked on the main set. The");
    println!(
        "held-out set (`escalation_heldout.jsonl`) was written after the rules were restructured"
    );
    println!(
        "and measured once before any tuning on it (that first measurement is in the README);"
    );
    println!("the rules were tuned on it since, so it is a development set, reported apart with");
    println!("no target. The fresh set (`escalation_fresh.jsonl`, no target) measures unseen");
    println!("wordings: batch \"fresh\" was written before the rules were broadened for");
    println!("generality, but its misses were seen and informed that work (optimistic); batch");
    println!("\"fresh2\" was written before any rule change and not read case by case during it.");
    println!();

    // Escalation: the main set (targets); the held-out and fresh sets (reported apart).
    let all = report_escalation("main set, `escalation.jsonl`", &cases);
    if let Some(heldout) = &heldout {
        report_escalation(
            "held-out set, `escalation_heldout.jsonl` (no targets)",
            heldout,
        );
    }
    if let Some(fresh) = &fresh {
        report_escalation("fresh set, `escalation_fresh.jsonl` (no targets)", fresh);
    }

    // Knowledge base.
    let db = Memory(rusqlite::Connection::open_in_memory().context("opening SQLite")?);
    shared::migrations::migrate(&db).context("migrating")?;
    for (n, article) in kb_file.articles.iter().enumerate() {
        let request = kb::ArticleRequest {
            title: Some(article.title.clone()),
            body: Some(article.body.clone()),
            tags: Some(article.tags.clone()),
            language: Some(article.language.clone()),
            topic: None,
            published: Some(true),
        };
        kb::create(&db, &request, n as i64)
            .map_err(|e| anyhow::anyhow!("{}: {e}", article.title))?;
    }
    let mut kb_by_set: BTreeMap<String, KbTally> = BTreeMap::new();
    let mut kb_by_language: BTreeMap<String, KbTally> = BTreeMap::new();
    let mut kb_misses = Vec::new();
    for question in &questions {
        let language = kb::detect_language(&question.question);
        let answer = kb::best_answer(&db, &question.question, language)
            .map_err(|e| anyhow::anyhow!("{}: {e}", question.id))?;
        let confident = answer.as_ref().filter(|a| a.confidence >= kb::CONFIDENT);
        let outcome = match (&question.expected, confident) {
            (Some(expected), Some(a)) if &a.article.title == expected => "right",
            (Some(_), Some(_)) => "wrong",
            (Some(_), None) => "unanswered",
            (None, None) => "abstained",
            (None, Some(_)) => "answered an unanswerable question",
        };
        let record = |tally: &mut KbTally| {
            match outcome {
                "right" => tally.right += 1,
                "wrong" => tally.wrong += 1,
                "unanswered" => tally.unanswered += 1,
                "abstained" => tally.abstained += 1,
                _ => {}
            }
            if question.expected.is_some() {
                tally.answerable += 1;
            } else {
                tally.unanswerable += 1;
            }
        };
        record(kb_by_set.entry(question.set.clone()).or_default());
        record(kb_by_set.entry("all".into()).or_default());
        record(kb_by_language.entry(question.lang.clone()).or_default());
        if outcome != "right" && outcome != "abstained" {
            kb_misses.push(format!(
                "{} [{}] {:?} (detected {}): expected {:?}, {outcome}: best {:?} at {:.2} (coverage {:.2}, margin {:.2}, missing {:?})",
                question.id,
                question.set,
                question.question,
                language.unwrap_or("-"),
                question.expected.as_deref().unwrap_or("nothing"),
                answer.as_ref().map(|a| a.article.title.as_str()),
                answer.as_ref().map_or(0.0, |a| a.confidence),
                answer.as_ref().map_or(0.0, |a| a.why.coverage),
                answer.as_ref().map_or(0.0, |a| a.why.margin),
                answer.as_ref().map(|a| a.why.missing.clone()).unwrap_or_default(),
            ));
        }
    }
    println!(
        "## Knowledge base ({} articles, {} questions)",
        kb_file.articles.len(),
        questions.len()
    );
    println!();
    println!(
        "| slice | answerable | right article | wrong article | unanswered | unanswerable: abstained |"
    );
    println!("|---|---|---|---|---|---|");
    let kb_row = |name: &str, t: &KbTally| {
        println!(
            "| {name} | {} | {:.3} ({}) | {} | {} | {}/{} |",
            t.answerable,
            ratio(t.right, t.answerable),
            t.right,
            t.wrong,
            t.unanswered,
            t.abstained,
            t.unanswerable
        );
    };
    for (set, t) in &kb_by_set {
        kb_row(set, t);
    }
    for (language, t) in &kb_by_language {
        kb_row(&format!("lang {language}"), t);
    }
    println!();
    println!("Misses ({}):", kb_misses.len());
    for line in &kb_misses {
        println!("- {line}");
    }
    println!();

    // Targets, on everything.
    if all.cases() == 0 {
        bail!("no escalation cases");
    }
    let kb_all = kb_by_set.get("all").context("no questions")?;
    let checks = [
        (
            "explicit recall",
            ratio(all.explicit.0, all.explicit.1),
            EXPLICIT_RECALL,
        ),
        (
            "frustration recall",
            ratio(all.frustration.0, all.frustration.1),
            FRUSTRATION_RECALL,
        ),
        ("precision", all.precision(), PRECISION),
        (
            "right article",
            ratio(kb_all.right, kb_all.answerable),
            RIGHT_ARTICLE,
        ),
    ];
    let mut missed = 0;
    println!("## Targets (main set and all questions)");
    println!();
    for (name, value, target) in checks {
        let ok = value >= target;
        missed += usize::from(!ok);
        println!(
            "- {name}: {value:.3} (target >= {target}) {}",
            if ok { "ok" } else { "MISSED" }
        );
    }
    if missed > 0 {
        eprintln!("{missed} target(s) missed");
        std::process::exit(1);
    }
    Ok(())
}
