//! The command line: the no-argument run is the main job, and bad arguments exit with status 2.

use std::process::Command;

fn gradverify(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gradverify"))
        .args(args)
        .output()
        .expect("run gradverify")
}

#[test]
fn the_default_run_checks_every_op_against_both_oracles_and_summarises() {
    let out = gradverify(&[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = gradverify::verify::ops::all();
    let cases = 100 * all.len();
    assert!(
        stdout.contains(&format!("{cases} random cases (seed 0)")),
        "{stdout}"
    );
    let ops = all.iter().map(|k| k.name());
    for op in ops.chain(["all"]) {
        let row = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(op))
            .unwrap_or_else(|| panic!("no {op} row in\n{stdout}"));
        let row_cases: usize = row.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert_eq!(row_cases, if op == "all" { cases } else { 100 }, "{row}");
    }
    assert!(stdout.contains("every case agrees with both oracles"), "{stdout}");
    assert!(stdout.contains("took "), "{stdout}");
}

#[test]
fn a_sweep_of_zero_cases_is_a_usage_error() {
    let out = gradverify(&["sweep", "--cases", "0"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--cases"), "{stderr}");
}

#[test]
fn every_command_has_help() {
    for command in [
        vec!["--help"],
        vec!["sweep", "--help"],
        vec!["costs", "--help"],
        vec!["verify", "--help"],
        vec!["serve", "--help"],
        vec!["grade", "--help"],
        vec!["explain", "--help"],
    ] {
        let out = gradverify(&command);
        assert!(out.status.success(), "{command:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage: gradverify"),
            "{command:?}"
        );
    }
}

#[test]
fn bad_arguments_are_one_clear_line_and_status_2() {
    for args in [
        vec!["sweep", "--shard", "5/2"],
        vec!["sweep", "--threads", "0"],
        vec!["verify"],
        vec!["verify", "--exec", "x", "--timeout", "-1"],
        vec!["verify", "--exec", "x", "--rtol", "-1e-3"],
        vec!["verify", "--exec", "x", "--atol", "nan"],
        vec!["sweep", "--exec", "x", "--rtol", "lots"],
        vec!["bogus"],
    ] {
        let out = gradverify(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    }
}

#[test]
fn costs_prints_both_tables_in_markdown_and_writes_the_plot() {
    let svg = std::env::temp_dir().join(format!("gradverify-costs-{}.svg", std::process::id()));
    let out = gradverify(&[
        "costs",
        "--markdown",
        "--no-timing",
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("| relu | 1 | 1024 | 1.02 k | 2.10 M | ×2048 |"),
        "{stdout}"
    );
    assert!(
        stdout.contains("| depth | width | B | retained for backward | inference peak | ratio |"),
        "{stdout}"
    );
    let plot = std::fs::read_to_string(&svg).unwrap();
    std::fs::remove_file(&svg).unwrap();
    assert!(
        plot.starts_with("<svg")
            && plot.contains("explicit Jacobian dashed")
            && ["linear", "relu", "sqerr", "mlp"]
                .iter()
                .all(|op| plot.contains(&format!("\n{op}\n")))
            && plot.contains("width D"),
        "{}",
        &plot[..200]
    );
}

#[test]
fn costs_says_which_file_it_cannot_write() {
    let out = gradverify(&["costs", "--no-timing", "--svg", "/no/such/dir/plot.svg"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot write `/no/such/dir/plot.svg`"),
        "{stderr}"
    );
}

#[test]
fn a_sweep_in_json_is_machine_readable() {
    let out = gradverify(&[
        "sweep", "--cases", "12", "--seed", "4", "--json", "--shard", "2/3",
    ]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["range"], serde_json::json!([4, 8]));
    assert_eq!(json["cases"].as_array().unwrap().len(), 4);
    assert_eq!(json["ok"], serde_json::json!(true));
    assert!(
        json["per_op"]["all"]["finite_diff"]["certified"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[test]
fn a_sweep_of_a_program_runs_one_process_per_thread_and_reports_per_op() {
    let serve = format!("{} serve", env!("CARGO_BIN_EXE_gradverify"));
    let out = gradverify(&[
        "sweep",
        "--exec",
        &serve,
        "--cases",
        "30",
        "--threads",
        "2",
        "--ops",
        "linear,mlp",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("linear (")
            && stdout.contains("pass, 30 random cases")
            && stdout.contains("2 of 2 ops pass"),
        "{stdout}"
    );
}

/// A relu backward over the protocol that leaves out the mask: dL/da = dL/dh.
const RELU_WITHOUT_MASK: &str = r#"while IFS= read -r line; do
    id=$(printf '%s' "$line" | sed 's/^{"id":\([0-9]*\).*/\1/')
    g=$(printf '%s' "$line" | sed 's/.*"grad_out":\(.*\)}$/\1/')
    echo "{\"id\": $id, \"grads\": {\"a\": $g}}"
done"#;

#[test]
fn verify_in_json_gives_one_report_object_per_op_with_verdicts_and_codes() {
    let serve = format!("{} serve", env!("CARGO_BIN_EXE_gradverify"));
    let out = gradverify(&[
        "verify",
        "--exec",
        &serve,
        "--cases",
        "5",
        "--ops",
        "linear,relu",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let reports = json.as_array().unwrap();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0]["op"], serde_json::json!("linear"));
    assert!(reports.iter().all(|r| r["verdict"] == "pass"), "{json}");

    let out = gradverify(&[
        "verify",
        "--exec",
        RELU_WITHOUT_MASK,
        "--cases",
        "6",
        "--ops",
        "relu",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let report = &json[0];
    assert_eq!(report["verdict"], serde_json::json!("fail"));
    let finding = &report["findings"][0];
    assert_eq!(
        finding["what"],
        serde_json::json!({"kind": "gradient", "input": "a"})
    );
    assert_eq!(finding["diagnosis"]["code"], serde_json::json!("mask_missing"));
    assert!(finding["text"].as_str().unwrap().contains("dL/da"), "{finding}");
}

#[test]
fn a_sweep_of_a_program_in_json_gives_the_report_objects() {
    let out = gradverify(&[
        "sweep",
        "--exec",
        RELU_WITHOUT_MASK,
        "--cases",
        "6",
        "--threads",
        "1",
        "--ops",
        "relu",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["op"], serde_json::json!("relu"));
    assert_eq!(json[0]["verdict"], serde_json::json!("fail"));
    assert_eq!(
        json[0]["findings"][0]["diagnosis"]["code"],
        serde_json::json!("mask_missing")
    );
}

#[test]
fn an_unknown_op_or_format_is_bad_usage() {
    for args in [
        ["verify", "--exec", "true", "--ops", "relu,no_such_op"],
        ["verify", "--exec", "true", "--format", "xml"],
    ] {
        let out = gradverify(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn explain_prints_each_codes_long_explanation() {
    for code in gradverify::verify::explain::codes() {
        let out = gradverify(&["explain", code]);
        assert_eq!(out.status.code(), Some(0), "{code}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.starts_with(&format!("{code}: ")), "{code}: {stdout}");
    }
}

#[test]
fn explain_of_an_unknown_code_lists_the_codes_and_exits_2() {
    let out = gradverify(&["explain", "mse"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no diagnosis code `mse`"), "{stderr}");
    assert!(
        stderr.contains("mse_convention") && stderr.contains("no_answer"),
        "{stderr}"
    );
}

#[test]
fn the_tolerances_and_their_defaults_are_in_the_help_of_verify_sweep_and_grade() {
    for command in ["verify", "sweep", "grade"] {
        let out = gradverify(&[command, "--help"]);
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains("--rtol") && help.contains("[default: 1e-8]"),
            "{command}: {help}"
        );
        assert!(
            help.contains("--atol") && help.contains("[default: 0]"),
            "{command}: {help}"
        );
    }
}

#[test]
fn explain_without_a_code_lists_every_code_with_its_first_line() {
    let out = gradverify(&["explain"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for code in gradverify::verify::explain::codes() {
        let line = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(code))
            .unwrap_or_else(|| panic!("no line for {code}: {stdout}"));
        assert!(line.len() > code.len() + 10, "{code} has no summary: {line}");
    }
}
