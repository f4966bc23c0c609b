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
    assert!(stdout.contains("400 random cases (seed 0)"), "{stdout}");
    for op in ["linear", "relu", "sqerr", "mlp", "all"] {
        let row = stdout
            .lines()
            .find(|l| l.starts_with(op))
            .unwrap_or_else(|| panic!("no {op} row in\n{stdout}"));
        let cases: usize = row.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert_eq!(cases, if op == "all" { 400 } else { 100 }, "{row}");
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
