//! Ops a program brings, end to end: `verify --exec CMD --spec examples/ops/ops.json --op NAME`
//! on the C and the Node programs of `examples/ops/` (softplus and a GRU cell), each right and
//! with a planted bug, checked against finite differences of the program's own forward. Skipped
//! with a message where `cc` or `node` is missing (a fresh machine has neither for certain).

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use gradverify::verify::exec::Program;
use gradverify::verify::program_ops::{SpecFile, wire};

const BIN: &str = env!("CARGO_BIN_EXE_gradverify");

/// The verdict and, per finding, its subject's label and diagnosis code.
fn check(command: &str, op: &str) -> (String, Vec<(String, Option<String>)>) {
    let (verdict, findings, _) = check_with(command, op, &[]);
    (verdict, findings)
}

/// [`check`] with more arguments, and what was said on standard error.
fn check_with(command: &str, op: &str, more: &[&str]) -> (String, Vec<(String, Option<String>)>, String) {
    verify_op(command, op, Some("examples/ops/ops.json"), more)
}

/// `verify --exec command --op op` with `--spec spec` (without, the program describes its ops)
/// and `more`: the verdict (`usage` for exit 2), per finding its subject's label and diagnosis
/// code, and what was said on standard error.
fn verify_op(
    command: &str,
    op: &str,
    spec: Option<&str>,
    more: &[&str],
) -> (String, Vec<(String, Option<String>)>, String) {
    let out = Command::new(BIN)
        .args(["verify", "--exec", command, "--op", op])
        .args(spec.map(|file| ["--spec", file]).into_iter().flatten())
        .args(["--cases", "6", "--format", "json"])
        .args(more)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run gradverify verify");
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.code() == Some(2) {
        return ("usage".to_owned(), Vec::new(), said);
    }
    let json: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{command} {op}: not JSON ({e}): {said}"));
    let report = &json[0];
    let findings = (report["findings"].as_array().into_iter().flatten())
        .map(|f| {
            let what = f["what"]["input"].as_str().unwrap_or("the call").to_owned();
            (what, f["diagnosis"]["code"].as_str().map(str::to_owned))
        })
        .collect();
    (
        report["verdict"].as_str().unwrap_or_default().to_owned(),
        findings,
        said,
    )
}

/// Where the C program is compiled to for the test `tag`.
pub fn binary(tag: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("gradverify-ops-{tag}-{}", std::process::id()))
}

/// The programs this machine can run: the C one compiled with `cc` (to [`binary`]), the Node one.
pub fn programs(tag: &str) -> Vec<String> {
    let mut found = Vec::new();
    let binary = binary(tag);
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ops/ops.c");
    // No cc skips the C program; a cc that cannot compile it is a failure, not a skip.
    match Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&binary)
        .arg(&source)
        .arg("-lm")
        .output()
    {
        Ok(out) => {
            assert!(
                out.status.success(),
                "cc cannot compile examples/ops/ops.c:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            found.push(binary.display().to_string());
        }
        Err(_) => eprintln!("skipped the C program: no cc here"),
    }
    if Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        found.push("node examples/ops/ops.js".to_owned());
    } else {
        eprintln!("skipped the Node program: no node here");
    }
    found
}

#[test]
fn right_programs_pass_and_each_planted_bug_is_caught_as_what_it_is() {
    for program in programs("bugs") {
        for op in ["softplus", "gru_cell"] {
            let (verdict, findings) = check(&program, op);
            assert_eq!(verdict, "pass", "{program} {op}: {findings:?}");
        }
        // A wrong sign in dL/dz: every gradient that flows through the update gate is wrong.
        let (verdict, findings) = check(&format!("{program} sign"), "gru_cell");
        assert_eq!(verdict, "fail");
        let wrong: Vec<&str> = findings.iter().map(|(w, _)| w.as_str()).collect();
        for input in ["x", "h", "Wz", "Uz"] {
            assert!(wrong.contains(&input), "{program} sign: {findings:?}");
        }
        assert!(
            !wrong.contains(&"Wn") && !wrong.contains(&"Wr"),
            "{program} sign: {findings:?}"
        );
        // The direct term z ⊙ g of dL/dh forgotten: dL/dh alone is wrong.
        let (_, findings) = check(&format!("{program} forgotten"), "gru_cell");
        assert_eq!(findings, [("h".to_owned(), None)], "{program} forgotten");
        let (_, findings) = check(&format!("{program} upstream"), "softplus");
        assert!(
            findings.contains(&("x".to_owned(), Some("upstream_ignored".to_owned()))),
            "{program} upstream: {findings:?}"
        );
        // A gradient buffer never zeroed: the same request answered differently.
        let (verdict, findings) = check(&format!("{program} accumulating"), "softplus");
        assert_eq!(verdict, "fail", "{program} accumulating: {findings:?}");
        // A right backward of a wrong forward disagrees with that forward: not passed.
        let (verdict, findings) = check(&format!("{program} forward"), "softplus");
        assert_eq!(verdict, "fail", "{program} forward: {findings:?}");
    }
    let out = Command::new(BIN)
        .args([
            "verify",
            "--exec",
            "true",
            "--spec",
            "examples/ops/ops.json",
            "--op",
            "gru",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run gradverify verify");
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains("argument `op` is gru") && said.contains("softplus, gru_cell"),
        "{said}"
    );
    let _ = std::fs::remove_file(binary("bugs"));
}

/// The JSON report of `command` on `op` (3 cases) without its subject (the command), and the
/// requests it was sent, logged by `tee` to `log`.
fn report_and_requests(command: &str, op: &str, log: &Path) -> (Value, String) {
    let _ = std::fs::remove_file(log);
    let logged = format!("tee -a {} | {command}", log.display());
    let out = Command::new(BIN)
        .args([
            "verify",
            "--exec",
            &logged,
            "--spec",
            "examples/ops/ops.json",
            "--op",
            op,
        ])
        .args(["--cases", "3", "--format", "json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run gradverify verify");
    let mut json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{command} {op}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    json[0]["subject"] = Value::Null;
    let requests = std::fs::read_to_string(log).unwrap_or_default();
    (json[0].take(), requests)
}

#[test]
fn compact_steps_give_the_same_reports_as_whole_points_and_an_error_answer_falls_back() {
    let log = binary("steps-log");
    for program in programs("steps") {
        let checks = [
            ("right", "softplus"),
            ("right", "gru_cell"),
            ("sign", "gru_cell"),
            ("forgotten", "gru_cell"),
            ("upstream", "softplus"),
            ("accumulating", "softplus"),
            ("forward", "softplus"),
        ];
        for (bug, op) in checks {
            let (compact, steps) = report_and_requests(&format!("{program} {bug}"), op, &log);
            // "full": forward_steps is answered with an error, and whole points are sent instead.
            let (whole, points) = report_and_requests(&format!("{program} {bug} full"), op, &log);
            assert_eq!(compact, whole, "{program} {bug} {op}");
            let expected = if bug == "right" { "pass" } else { "fail" };
            assert_eq!(compact["verdict"], expected, "{program} {bug} {op}: {compact}");
            let asked = |requests: &str| requests.matches(r#""call":"forward_steps""#).count();
            assert!(asked(&steps) > 1, "{program} {bug} {op}: no steps asked");
            assert_eq!(asked(&points), 1, "{program} {bug} {op}: only the probe");
            assert!(
                steps.len() < points.len(),
                "{program} {bug} {op}: not fewer bytes"
            );
        }
    }
    let _ = std::fs::remove_file(log);
    let _ = std::fs::remove_file(binary("steps"));
}

#[test]
fn fast_mode_over_the_wire_passes_right_programs_and_fails_wrong_ones() {
    let fast = ["--fast"];
    for program in programs("fast") {
        for op in ["softplus", "gru_cell"] {
            let (verdict, findings, said) = check_with(&program, op, &fast);
            assert_eq!(verdict, "pass", "{program} {op}: {findings:?} {said}");
        }
        let (verdict, findings, _) = check_with(&format!("{program} sign"), "gru_cell", &fast);
        assert_eq!(verdict, "fail", "{program} sign: {findings:?}");
        assert!(findings.iter().any(|(what, _)| what == "Wz"), "{findings:?}");
        let (verdict, findings, _) = check_with(&format!("{program} upstream"), "softplus", &fast);
        assert_eq!(verdict, "fail", "{program} upstream: {findings:?}");
        let (verdict, _, said) = check_with(&program, "softplus", &["--fast", "--reference", &program]);
        assert_eq!(verdict, "usage", "{said}");
        assert!(said.contains("--fast") && said.contains("--reference"), "{said}");
    }
    let _ = std::fs::remove_file(binary("fast"));
}

#[test]
fn an_instructors_solution_judges_with_the_same_verdicts_and_a_wrong_one_is_refused() {
    for program in programs("reference") {
        let reference = ["--reference", program.as_str()];
        for op in ["softplus", "gru_cell"] {
            let (verdict, findings, said) = check_with(&program, op, &reference);
            assert_eq!(verdict, "pass", "{program} {op}: {findings:?} {said}");
        }
        let (_, findings, _) = check_with(&format!("{program} forgotten"), "gru_cell", &reference);
        assert_eq!(findings, [("h".to_owned(), None)], "{program} forgotten");
        // A right backward of a wrong forward: the forward alone is wrong, against the solution.
        let (verdict, findings, _) = check_with(&format!("{program} forward"), "softplus", &reference);
        assert_eq!(verdict, "fail", "{program} forward: {findings:?}");
        assert_eq!(findings, [("forward y".to_owned(), None)], "{program} forward");
        // A solution that fails its own finite-difference check judges no one.
        let wrong = format!("{program} sign");
        let (verdict, _, said) = check_with(&program, "gru_cell", &["--reference", &wrong]);
        assert_eq!(verdict, "usage", "{said}");
        assert!(
            said.contains("argument `--reference`") && said.contains("dL/dWz: wrong values"),
            "{said}"
        );
    }
    let _ = std::fs::remove_file(binary("reference"));
}

#[test]
fn the_toml_spec_is_the_json_spec_and_verify_reads_it_by_its_extension() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let json = SpecFile::read(&root.join("examples/ops/ops.json")).unwrap();
    let toml = SpecFile::read(&root.join("examples/ops/ops.toml")).unwrap();
    assert_eq!(toml, json);
    let wrong = std::env::temp_dir().join(format!("gradverify-ops-{}.toml", std::process::id()));
    std::fs::write(
        &wrong,
        "protocol = \"gradverify-ops/1\"\n[[ops]]\nname = \"f\"\noutputs = [\"y\"]\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["verify", "--exec", "true", "--op", "f", "--spec"])
        .arg(&wrong)
        .output()
        .expect("run gradverify verify");
    let _ = std::fs::remove_file(&wrong);
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains(&format!("argument `spec` is {}", wrong.display()))
            && said.contains("op `f`: missing field `inputs`"),
        "{said}"
    );
    for program in programs("toml") {
        let (verdict, findings, said) = verify_op(&program, "softplus", Some("examples/ops/ops.toml"), &[]);
        assert_eq!(verdict, "pass", "{program}: {findings:?} {said}");
    }
    let _ = std::fs::remove_file(binary("toml"));
}

/// The JSON of `args` run as `gradverify ARGS --format json` (`sweep` takes `--json`), its exit
/// status and what was said on standard error.
fn run(args: &[&str]) -> (Value, Option<i32>, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run gradverify");
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (json, out.status.code(), said)
}

#[test]
fn each_program_describes_the_spec_of_ops_json_and_verify_asks_it_without_spec() {
    let ops_json =
        SpecFile::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ops/ops.json")).unwrap();
    for program in programs("describe") {
        let mut subject = Program::new(&program, std::time::Duration::from_secs(10))
            .start()
            .expect("start the program");
        let answer = wire::describe(&mut subject).expect("an answer to describe");
        drop(subject);
        assert_eq!(
            SpecFile::from_value(answer, &program).unwrap(),
            ops_json,
            "{program}"
        );
        for op in ["softplus", "gru_cell"] {
            let (verdict, findings, said) = verify_op(&program, op, None, &[]);
            assert_eq!(verdict, "pass", "{program} {op}: {findings:?} {said}");
        }
        let (_, findings, _) = verify_op(&format!("{program} forgotten"), "gru_cell", None, &[]);
        assert_eq!(
            findings,
            [("h".to_owned(), None)],
            "{program} forgotten, described"
        );
        let (verdict, _, said) = verify_op(&program, "gru", None, &[]);
        assert_eq!(verdict, "usage", "{said}");
        assert!(
            said.contains("argument `op` is gru") && said.contains("softplus, gru_cell"),
            "{said}"
        );
    }
    let _ = std::fs::remove_file(binary("describe"));
    // A program that cannot describe: one that exits, one that answers describe with an error.
    let refusing = r#"read line; echo '{"id": 1, "error": "unknown call"}'"#;
    for (program, why) in [("true", "exited"), (refusing, "unknown call")] {
        let (verdict, _, said) = verify_op(program, "softplus", None, &[]);
        assert_eq!(verdict, "usage", "{said}");
        assert!(
            said.contains("does not describe its ops") && said.contains(why) && said.contains("--spec FILE"),
            "{said}"
        );
    }
    let wrong = r#"read line; echo '{"id": 1, "protocol": "gradverify-ops/1", "ops": [{"name": "f"}]}'"#;
    let (verdict, _, said) = verify_op(wrong, "f", None, &[]);
    assert_eq!(verdict, "usage", "{said}");
    assert!(
        said.contains("argument `spec` is the answer of") && said.contains("op `f`: missing field `inputs`"),
        "{said}"
    );
}

#[test]
fn order_2_checks_second_backward_and_a_program_without_it_is_told_so() {
    for program in programs("order") {
        let second = ["--order", "2"];
        let (verdict, findings, said) = check_with(&program, "softplus", &second);
        assert_eq!(verdict, "pass", "{program}: {findings:?} {said}");
        // The 1 − σ factor dropped: the backward is right, its derivative is not.
        let (verdict, findings, _) = check_with(&format!("{program} second"), "softplus", &second);
        assert_eq!(verdict, "fail", "{program} second: {findings:?}");
        assert_eq!(
            findings,
            [("x (second order)".to_owned(), None)],
            "{program} second"
        );
        let (verdict, _, _) = check_with(&format!("{program} second"), "softplus", &[]);
        assert_eq!(
            verdict, "pass",
            "{program} second: order 1 does not ask second_backward"
        );
        let (verdict, _, said) = check_with(&program, "gru_cell", &second);
        assert_eq!(verdict, "usage", "{said}");
        assert!(
            said.contains("argument `--order` is 2")
                && said.contains("`second_backward` for gru_cell")
                && said.contains("\"unsupported op\""),
            "{said}"
        );
    }
    let _ = std::fs::remove_file(binary("order"));
}

#[test]
fn sweep_checks_every_op_of_the_spec_or_of_the_description_with_a_report_each() {
    for program in programs("sweep") {
        for source in [&["--spec", "examples/ops/ops.toml"][..], &["--described"]] {
            let mut args = vec!["sweep", "--exec", &program, "--cases", "4", "--json"];
            args.extend(source);
            let (json, status, said) = run(&args);
            assert_eq!(status, Some(0), "{program} {source:?}: {said}");
            let ops: Vec<&str> = (json.as_array().into_iter().flatten())
                .map(|r| r["op"].as_str().unwrap_or_default())
                .collect();
            assert_eq!(ops, ["softplus", "gru_cell"], "{program} {source:?}: {json}");
        }
        let sign = format!("{program} sign");
        let (json, status, _) = run(&["sweep", "--exec", &sign, "--described", "--cases", "4", "--json"]);
        assert_eq!(status, Some(1), "{program} sign");
        let verdicts: Vec<&str> = (json.as_array().into_iter().flatten())
            .map(|r| r["verdict"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(verdicts, ["pass", "fail"], "{program} sign: {json}");
    }
    let _ = std::fs::remove_file(binary("sweep"));
    let (_, status, said) = run(&["sweep", "--exec", "true", "--described", "--shard", "1/2"]);
    assert_eq!(status, Some(2), "{said}");
    assert!(said.contains("argument `--shard` is 1/2"), "{said}");
    let (_, status, said) = run(&["sweep", "--exec", "true", "--order", "2"]);
    assert_eq!(status, Some(2), "--order without --spec or --described: {said}");
}
