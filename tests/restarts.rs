//! One crash costs one op: a program that exits or stops answering is started again for the next
//! request (at most `RESTARTS_PER_OP` times an op, then that op's remaining requests are not
//! asked), so every other op is graded on its own answers; and a program that answered before it
//! hung is not asked whether it flushed. Each program is `examples/student.py` (plain Python)
//! with one line changed, run by `verify --exec`, which kills what it started.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gradverify::verify::exec::RESTARTS_PER_OP;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_gradverify");

/// `examples/student.py` with `insert` put first in `answer()`, written to a fresh folder.
fn student_with(name: &str, insert: &str) -> (PathBuf, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let source = fs::read_to_string(root.join("examples/student.py")).expect("read student.py");
    let anchor = "def answer(request):\n    op, inputs = request[\"op\"], request[\"inputs\"]\n";
    assert!(
        source.contains(anchor),
        "examples/student.py no longer has `{anchor}`"
    );
    let changed = source.replace(anchor, &format!("{anchor}{insert}"));
    let dir = std::env::temp_dir().join(format!("gradverify-restarts-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("a temporary folder");
    let program = dir.join("student.py");
    fs::write(&program, changed).expect("write the program");
    (dir, program)
}

fn verify(program: &Path, ops: &str, extra: &[&str]) -> Output {
    Command::new(BIN)
        .args([
            "verify",
            "--exec",
            &format!("python3 {}", program.display()),
            "--ops",
            ops,
        ])
        .args(["--cases", "6", "--format", "json"])
        .args(extra)
        .output()
        .expect("run gradverify verify")
}

/// The JSON report of each op, by name.
fn reports(out: &Output) -> Vec<(String, Value)> {
    let text = String::from_utf8_lossy(&out.stdout);
    let json: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{e}: {text}{}", String::from_utf8_lossy(&out.stderr)));
    json["reports"]
        .as_array()
        .or_else(|| json.as_array())
        .unwrap_or_else(|| panic!("no reports in {json:#}"))
        .iter()
        .map(|r| (r["op"].as_str().unwrap_or_default().to_owned(), r.clone()))
        .collect()
}

fn verdict<'a>(reports: &'a [(String, Value)], op: &str) -> &'a Value {
    &reports
        .iter()
        .find(|(name, _)| name == op)
        .unwrap_or_else(|| panic!("no report for {op}: {reports:?}"))
        .1
}

/// Every finding's text of one op's report, joined.
fn texts(report: &Value) -> String {
    (report["findings"].as_array().into_iter().flatten())
        .map(|f| f["text"].as_str().unwrap_or_default().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_crash_in_one_op_costs_that_op_only_and_is_given_up_on_after_the_restarts() {
    let (dir, program) = student_with(
        "crash",
        "    if op == \"linear\":\n        import os\n        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), \"crashes\"), \"a\") as log:\n            log.write(\"crash\\n\")\n        raise RuntimeError(\"crash in linear\")\n",
    );
    let out = verify(&program, "linear,relu,sqerr", &[]);
    let reports = reports(&out);
    assert_eq!(verdict(&reports, "linear")["verdict"], "fail", "{reports:?}");
    assert_eq!(verdict(&reports, "relu")["verdict"], "pass", "{reports:?}");
    assert_eq!(verdict(&reports, "sqerr")["verdict"], "pass", "{reports:?}");
    // The finding shows the fault that ended the program, with its last words, not the give-up.
    let linear = texts(verdict(&reports, "linear"));
    assert!(
        linear.contains("exited") && linear.contains("crash in linear"),
        "{linear}"
    );
    assert_eq!(out.status.code(), Some(1));
    // Started once and restarted RESTARTS_PER_OP times for linear; its other cases not asked.
    let crashes = fs::read_to_string(dir.join("crashes")).expect("the program logged its crashes");
    assert_eq!(crashes.lines().count(), 1 + RESTARTS_PER_OP as usize, "{crashes}");
    let _ = fs::remove_dir_all(dir);
}

#[test]
fn a_program_that_crashes_once_loses_that_case_and_answers_the_rest() {
    let (dir, program) = student_with(
        "once",
        "    import os\n    marker = os.path.join(os.path.dirname(os.path.abspath(__file__)), \"crashed\")\n    if op == \"linear\" and not os.path.exists(marker):\n        open(marker, \"w\").close()\n        raise RuntimeError(\"crash once\")\n",
    );
    let out = verify(&program, "linear,relu", &[]);
    let reports = reports(&out);
    let linear = verdict(&reports, "linear");
    assert_eq!(linear["verdict"], "fail", "{reports:?}");
    let call = (linear["findings"].as_array().into_iter().flatten())
        .find(|f| f["what"]["kind"] == "call")
        .unwrap_or_else(|| panic!("no fault of the call: {linear:#}"));
    assert_eq!(call["failed"], 1, "only the case at hand: {call:#}");
    assert_eq!(
        linear["findings"].as_array().map(Vec::len),
        Some(1),
        "no gradient is wrong: {linear:#}"
    );
    assert_eq!(verdict(&reports, "relu")["verdict"], "pass");
    let _ = fs::remove_dir_all(dir);
}

#[test]
fn a_program_that_answered_and_then_hangs_is_not_asked_whether_it_flushed() {
    let (dir, program) = student_with(
        "hang",
        "    if op == \"relu\":\n        import time\n        time.sleep(60)\n",
    );
    // 1.5 s: the first request's wait includes Python's start-up, which on two busy cores has
    // taken more than 0.5 s.
    let out = verify(&program, "linear,relu,sqerr", &["--timeout", "1.5"]);
    let reports = reports(&out);
    assert_eq!(verdict(&reports, "linear")["verdict"], "pass", "{reports:?}");
    assert_eq!(
        verdict(&reports, "sqerr")["verdict"],
        "pass",
        "a hang in relu costs relu only"
    );
    let relu = verdict(&reports, "relu");
    assert_eq!(relu["verdict"], "fail");
    let codes: Vec<&str> = (relu["findings"].as_array().into_iter().flatten())
        .filter_map(|f| f["diagnosis"]["code"].as_str())
        .collect();
    assert!(
        !codes.contains(&"no_answer"),
        "it answered 6 linear requests: {relu:#}"
    );
    let said = texts(relu);
    assert!(
        said.contains("no answer within 1.5 s") || said.contains("stopped answering"),
        "{said}"
    );
    assert!(!said.contains("flush"), "{said}");
    let _ = fs::remove_dir_all(dir);
}

#[test]
fn a_program_that_hangs_when_asked_the_same_request_again_is_not_called_nondeterministic() {
    let (dir, program) = student_with(
        "again",
        "    seen = globals().setdefault(\"SEEN\", set())\n    key = json.dumps([inputs, request.get(\"grad_out\")], sort_keys=True)\n    if key in seen:\n        import time\n        time.sleep(60)\n    seen.add(key)\n",
    );
    let out = verify(&program, "relu", &["--timeout", "0.5"]);
    let reports = reports(&out);
    let relu = verdict(&reports, "relu");
    assert_eq!(relu["verdict"], "fail", "{relu:#}");
    let said = texts(relu);
    assert!(said.contains("no answer within 0.5 s"), "{said}");
    assert!(!said.contains("different answer"), "{said}");
    let codes: Vec<&str> = (relu["findings"].as_array().into_iter().flatten())
        .filter_map(|f| f["diagnosis"]["code"].as_str())
        .collect();
    assert!(!codes.contains(&"nondeterministic"), "{relu:#}");
    let _ = fs::remove_dir_all(dir);
}
