//! The measuring tools keep working as the schema changes: each runs briefly at a tiny scale and
//! must print its table with no failed request.

use std::process::Command;

#[test]
fn inbox_scale_seeds_and_measures_every_listing() {
    let output = Command::new(env!("CARGO_BIN_EXE_inbox_scale"))
        .args([
            "--conversations",
            "30",
            "--messages",
            "90",
            "--clients",
            "2",
            "--duration",
            "1",
        ])
        .output()
        .expect("inbox_scale runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "inbox_scale failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("seeded 30 conversations and 90 messages"),
        "{stdout}"
    );
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| listing"))
        .collect();
    assert_eq!(rows.len(), 8, "{stdout}");
    for row in rows {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert_eq!(cells[cells.len() - 2], "0", "failed requests in: {row}");
        let per_second: f64 = cells[2].parse().expect("requests/s");
        assert!(per_second > 0.0, "no successful request in: {row}");
    }
}

#[test]
fn the_routing_simulation_prints_every_strategy_for_every_team_size() {
    let output = Command::new(env!("CARGO_BIN_EXE_routing_sim"))
        .args(["--days", "1"])
        .output()
        .expect("routing_sim runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "routing_sim failed: {stdout}");
    for strategy in ["round_robin", "least_loaded", "skills", "manual"] {
        let rows = stdout
            .lines()
            .filter(|l| l.starts_with(&format!("| {strategy} |")))
            .count();
        assert_eq!(rows, 3, "{strategy} rows in {stdout}");
    }
    // Skills routing exists to avoid wrong-skill assignments: it must beat round robin at it.
    let wrong = |strategy: &str| -> Vec<f64> {
        stdout
            .lines()
            .filter(|l| l.starts_with(&format!("| {strategy} |")))
            .map(|l| {
                let cell = l.split('|').nth(6).unwrap_or_default();
                cell.split('(')
                    .nth(1)
                    .and_then(|p| p.trim_end_matches([')', '%', ' ']).parse().ok())
                    .unwrap_or(f64::NAN)
            })
            .collect()
    };
    for (skills, round_robin) in wrong("skills").iter().zip(wrong("round_robin")) {
        assert!(
            skills < &round_robin,
            "skills {skills}% vs round robin {round_robin}%"
        );
    }
}

#[test]
fn the_routing_bench_measures_every_case_and_each_freed_seat_is_filled() {
    // The bench itself checks that every "seat freed" pass assigns exactly one conversation.
    let output = Command::new(env!("CARGO_BIN_EXE_routing_bench"))
        .args(["--operators", "10", "--waiting", "40", "--samples", "5"])
        .output()
        .expect("routing_bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "routing_bench failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows = stdout
        .lines()
        .filter(|l| l.starts_with("| ") && l.ends_with(" ms |"))
        .count();
    assert_eq!(rows, 4, "{stdout}");
}

#[test]
fn the_assistant_evaluation_meets_its_targets_and_prints_every_table() {
    // The whole labelled set runs in well under a second: no app, an in-memory database.
    let output = Command::new(env!("CARGO_BIN_EXE_assistant_eval"))
        .output()
        .expect("assistant_eval runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "a target was missed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for table in ["## Escalation", "## Knowledge base", "## Targets"] {
        assert!(stdout.contains(table), "{table} missing in {stdout}");
    }
    for language in ["en", "es", "fr", "de"] {
        assert!(
            stdout.contains(&format!("| {language} |")),
            "no {language} row in {stdout}"
        );
    }
    let targets = stdout
        .lines()
        .filter(|l| l.starts_with("- ") && l.contains("(target >= "))
        .count();
    assert_eq!(targets, 4, "{stdout}");
    assert!(!stdout.contains("MISSED"), "{stdout}");
}
