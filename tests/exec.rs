//! `gradverify verify --exec`: programs in other languages, end to end with real child processes.
//! A correct one passes; one that crashes, prints garbage, answers late, answers the wrong shape
//! or the wrong id, or has not written an op fails with a message that says which, and the
//! verifier neither hangs nor panics.

use crate::common::text;
use std::process::{Command, Output};
use std::time::Duration;

use gradverify::verify::ops;
use gradverify::verify::{self, Config, Problem, exec::ExecSubject};

const BIN: &str = env!("CARGO_BIN_EXE_gradverify");

fn verify_cli(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["verify"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run gradverify verify")
}

/// A shell program that answers every request with `reply`, in which `$id` is the request's id.
fn answering(reply: &str) -> String {
    format!(
        r#"while IFS= read -r line; do id=$(printf '%s' "$line" | sed 's/^{{"id":\([0-9]*\).*/\1/'); echo "{reply}"; done"#
    )
}

fn relu_report(command: &str, timeout: Duration, cases: usize) -> verify::Report {
    let mut subject = ExecSubject::start(command, timeout).expect("start sh");
    verify::verify(ops::relu::KIND, &mut subject, Config::default().cases(cases))
}

#[track_caller]
fn fault_of(report: &verify::Report) -> String {
    match report
        .findings
        .iter()
        .find(|f| f.what == "the call")
        .map(|f| &f.problem)
    {
        Some(Problem::Fault(fault)) => fault.to_string(),
        _ => panic!("no fault in\n{report}"),
    }
}

#[test]
fn the_reference_server_passes_every_op_and_exits_0() {
    let out = verify_cli(&["--exec", &format!("{BIN} serve")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let ops = gradverify::verify::ops::all().len();
    let all_pass = format!("{ops} of {ops} ops pass");
    assert!(text(&out).contains(&all_pass), "{}", text(&out));
}

#[test]
fn the_python_student_example_passes_every_op() {
    let out = verify_cli(&["--exec", "python3 examples/student.py", "--cases", "20"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn an_op_the_program_has_not_written_is_not_implemented_and_exits_1() {
    let program = answering(r#"{\"id\": $id, \"error\": \"unsupported op\"}"#);
    let out = verify_cli(&["--exec", &program, "--ops", "relu,sqerr"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("relu (") && text(&out).contains("NOT IMPLEMENTED"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("0 of 2 ops pass"), "{}", text(&out));
}

#[test]
fn an_unknown_op_name_is_a_usage_error() {
    let out = verify_cli(&["--exec", "true", "--ops", "softmax"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("softmax"), "{}", text(&out));
}

#[test]
fn a_program_that_crashes_fails_every_case_with_its_status_and_last_words() {
    let report = relu_report(
        "read line; echo 'Traceback: KeyError grads' >&2; exit 3",
        Duration::from_secs(5),
        10,
    );
    let message = fault_of(&report);
    assert!(message.contains("exit status: 3"), "{message}");
    assert!(message.contains("Traceback: KeyError grads"), "{message}");
    assert!(!report.passed());
}

#[test]
fn a_command_that_does_not_exist_fails_with_the_shells_message() {
    let report = relu_report("no-such-program-xyz", Duration::from_secs(5), 3);
    let message = fault_of(&report);
    assert!(
        message.contains("exit status: 127") && message.contains("not found"),
        "{message}"
    );
}

#[test]
fn a_program_that_prints_garbage_fails_with_not_json() {
    let report = relu_report(&answering("hello there"), Duration::from_secs(5), 5);
    let message = fault_of(&report);
    assert!(
        message.starts_with("the answer is not JSON") && message.contains("`hello there`"),
        "{message}"
    );
}

#[test]
fn a_program_that_answers_late_times_out_and_the_verifier_stops_waiting() {
    let program =
        format!("while IFS= read -r line; do sleep 2; printf '%s\\n' \"$line\" | {BIN} serve; done");
    let mut subject = ExecSubject::start(&program, Duration::from_millis(300)).expect("start sh");
    let request =
        gradverify::verify::cases::request(ops::relu::KIND, &[1, 2], &mut gradverify::random::case_rng(0, 0));
    let fault = |subject: &mut ExecSubject| match verify::Backward::answer(subject, &request) {
        Err(fault) => fault.to_string(),
        other => panic!("expected a time-out, got {other:?}"),
    };
    assert_eq!(fault(&mut subject), "no answer within 0.3 s (request id 1)");
    assert_eq!(fault(&mut subject), "no answer within 0.3 s (request id 2)");
    // Two time-outs in a row: the program has stopped answering, and no request waits again.
    let third = fault(&mut subject);
    assert!(
        third.starts_with("the program stopped answering: 2 requests in a row"),
        "{third}"
    );
    let report = verify::verify(ops::relu::KIND, &mut subject, Config::default().cases(10).seed(0));
    assert!(
        fault_of(&report).starts_with("the program stopped answering"),
        "{report}"
    );
}

#[test]
fn a_program_that_answers_the_wrong_shape_fails_with_the_shapes() {
    let report = relu_report(
        &answering(r#"{\"id\": $id, \"grads\": {\"a\": [[1.0]]}}"#),
        Duration::from_secs(5),
        8,
    );
    let wrong = report
        .findings
        .iter()
        .find(|f| f.what == "dL/da")
        .expect("a finding for dL/da");
    assert!(
        matches!(&wrong.problem, Problem::WrongShape { got, .. } if got == &[1, 1]),
        "{report}"
    );
}

#[test]
fn an_answer_with_the_wrong_id_or_a_missing_key_or_a_ragged_matrix_says_which() {
    let cases = [
        (
            r#"{\"id\": 999, \"grads\": {\"a\": [[1.0]]}}"#,
            "the answer has id 999, expected ",
        ),
        (r#"{\"id\": $id, \"grads\": {\"b\": [[1.0]]}}"#, "missing key `a`"),
        (
            r#"{\"id\": $id, \"grads\": {\"a\": [[1.0], [1.0, 2.0]]}}"#,
            "ragged matrix",
        ),
        (
            r#"{\"id\": $id, \"grads\": {\"a\": [[\"x\"]]}}"#,
            "expected a number, got a string",
        ),
        (
            r#"{\"id\": $id, \"error\": \"shapes confuse me\"}"#,
            "the program answered with an error: shapes confuse me",
        ),
    ];
    for (reply, expected) in cases {
        let report = relu_report(&answering(reply), Duration::from_secs(5), 3);
        let message = fault_of(&report);
        assert!(message.contains(expected), "{reply}: {message}");
    }
}

#[test]
fn a_wrong_backward_over_exec_is_diagnosed_like_a_rust_one() {
    // A relu backward without the mask: answers dL/da = dL/dh.
    let program = r#"while IFS= read -r line; do
        id=$(printf '%s' "$line" | sed 's/^{"id":\([0-9]*\).*/\1/')
        g=$(printf '%s' "$line" | sed 's/.*"grad_out":\(.*\)}$/\1/')
        echo "{\"id\": $id, \"grads\": {\"a\": $g}}"
    done"#;
    let report = relu_report(program, Duration::from_secs(5), 6);
    let wrong = report
        .findings
        .iter()
        .find(|f| f.what == "dL/da")
        .expect("a finding for dL/da");
    assert_eq!(
        wrong.diagnosis,
        Some(verify::Diagnosis::Bug(&verify::ops::relu::MASK_MISSING)),
        "{report}"
    );
}

#[test]
fn the_networks_optional_loss_is_checked_when_the_program_sends_it() {
    let program = format!(r#"{BIN} serve | sed -u 's/"loss":[-0-9.eE+]*/"loss":12345.0/'"#);
    let mut subject = ExecSubject::start(&program, Duration::from_secs(5)).expect("start sh");
    let report = verify::verify(ops::mlp::KIND, &mut subject, Config::default().cases(5).seed(0));
    assert_eq!(report.findings.len(), 1, "{report}");
    assert_eq!(report.findings[0].what, "the loss L", "{report}");
}

#[test]
fn an_empty_command_a_huge_timeout_and_a_huge_sweep_are_clear_usage_errors() {
    let cases: [(&[&str], &str); 5] = [
        (&["verify", "--exec", ""], "the command is empty"),
        (&["verify", "--exec", "  "], "the command is empty"),
        (
            &["verify", "--exec", "true", "--timeout", "1e300"],
            "at most 86400",
        ),
        (
            &["verify", "--exec", "true", "--timeout", "1e19"],
            "at most 86400",
        ),
        (&["sweep", "--cases", "18446744073709551615"], "--cases"),
    ];
    for (args, expected) in cases {
        let out = Command::new(BIN).args(args).output().expect("run gradverify");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(expected), "{args:?}: {}", text(&out));
        assert!(!text(&out).contains("panicked"), "{args:?}: {}", text(&out));
    }
}

#[test]
fn the_limits_are_options_with_ranges() {
    let out = Command::new(BIN)
        .args(["verify", "--exec", "true", "--memory-mb", "0"])
        .output()
        .expect("run gradverify");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--memory-mb"), "{}", text(&out));
    let help = Command::new(BIN)
        .args(["verify", "--help"])
        .output()
        .expect("run gradverify");
    for flag in ["--memory-mb", "--cpu-seconds", "--file-mb", "--sandbox"] {
        assert!(text(&help).contains(flag), "{flag}: {}", text(&help));
    }
}

#[test]
fn a_line_too_long_then_silence_is_reported_as_the_line_too_long() {
    // Past the 64 MiB cap and ended; past the budget of relu's first request (B = 1, D = 4) and
    // never ended (a print whose newline is never flushed). Either way the program then says
    // nothing more: the line is the fault, not the silence after it.
    let cases = [
        (
            "head -c 100000000 /dev/zero | tr '\\0' x; echo; exec sleep 613",
            "the answer line has 100000000 bytes, more than the limit of 67108864 bytes",
        ),
        (
            "head -c 3000000 /dev/zero | tr '\\0' x; exec sleep 613",
            "the answer line has 3000000 bytes, more than the limit of 1048896 bytes",
        ),
    ];
    for (program, expected) in cases {
        let report = relu_report(program, Duration::from_secs(2), 5);
        assert!(fault_of(&report).starts_with(expected), "{program}:\n{report}");
    }
}
