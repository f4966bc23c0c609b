//! The course ops' named bugs on a student-style NumPy program (`tests/programs/course_numpy.py`,
//! written independently of the crate): correct, every op passes; with one bug injected
//! (`course_numpy.py CODE`), exactly the ops that bug touches fail, and each with that code in
//! `--format json`. A softmax without its max subtracted overflows at ±800 and answers NaN: a
//! wrong value, never an unreadable line.
//!
//! NumPy comes from the interpreter `GRADVERIFY_TEST_PYTHON` (else `python3`); `.ci/run` installs
//! it in a virtual environment and sets `GRADVERIFY_REQUIRE_NUMPY=1`, so that a missing NumPy
//! fails there. Elsewhere these tests say that they were skipped and why.

use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_gradverify");
const PROGRAM: &str = "tests/programs/course_numpy.py";
const COURSE_OPS: &str =
    "sigmoid,tanh,dropout,softmax_xent,hinge,batchnorm,layernorm,conv2d,maxpool2d,embedding,rnn_step";

/// The interpreter with NumPy, or `None` (with a message) where there is none and none is required.
fn numpy_python() -> Option<String> {
    let python = std::env::var("GRADVERIFY_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_numpy = Command::new(&python)
        .args(["-c", "import numpy"])
        .output()
        .is_ok_and(|out| out.status.success());
    if has_numpy {
        return Some(python);
    }
    assert!(
        std::env::var_os("GRADVERIFY_REQUIRE_NUMPY").is_none(),
        "{python} cannot import numpy, and GRADVERIFY_REQUIRE_NUMPY is set"
    );
    eprintln!("skipped: {python} cannot import numpy (pip install numpy, or set GRADVERIFY_TEST_PYTHON)");
    None
}

/// Each op's verdict and the codes of its findings, from `verify --format json`.
fn verdicts(python: &str, bug: &str, ops: &str) -> Vec<(String, String, Vec<String>)> {
    let command = format!("{python} {PROGRAM} {bug}");
    let out = Command::new(BIN)
        .args(["verify", "--exec", &command, "--ops", ops, "--format", "json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run gradverify verify");
    let json: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{bug}: not JSON ({e}):\n{}", String::from_utf8_lossy(&out.stderr)));
    let reports = json.as_array().expect("a list of reports, one per op");
    reports
        .iter()
        .map(|r| {
            let findings = r["findings"].as_array().map(Vec::as_slice).unwrap_or_default();
            let codes = findings
                .iter()
                .filter_map(|f| f["diagnosis"]["code"].as_str().map(str::to_owned))
                .collect();
            (
                r["op"].as_str().unwrap_or_default().to_owned(),
                r["verdict"].as_str().unwrap_or_default().to_owned(),
                codes,
            )
        })
        .collect()
}

#[test]
fn the_numpy_program_passes_every_course_op() {
    let Some(python) = numpy_python() else { return };
    for (op, verdict, codes) in verdicts(&python, "", COURSE_OPS) {
        assert_eq!(verdict, "pass", "{op}: {codes:?}");
    }
}

#[test]
fn each_bug_fails_exactly_its_ops_with_its_code() {
    let Some(python) = numpy_python() else { return };
    let bugs: &[(&str, &[&str])] = &[
        ("derivative_at_input", &["sigmoid", "tanh", "rnn_step"]),
        ("dropout_scale", &["dropout"]),
        ("batch_sum", &["softmax_xent", "hinge"]),
        ("onehot_missing", &["softmax_xent"]),
        ("hinge_correct_class", &["hinge"]),
        ("stats_as_constants", &["batchnorm", "layernorm"]),
        ("unbiased_variance", &["batchnorm"]),
        ("wrong_axis", &["batchnorm", "layernorm"]),
        ("kernel_flipped", &["conv2d"]),
        ("bias_not_summed", &["conv2d"]),
        ("pool_spread", &["maxpool2d"]),
        ("fanout_overwrite", &["maxpool2d", "embedding"]),
    ];
    for &(bug, failing) in bugs {
        for (op, verdict, codes) in verdicts(&python, bug, COURSE_OPS) {
            if failing.contains(&op.as_str()) {
                assert_eq!(verdict, "fail", "{bug} in {op}");
                assert!(!codes.is_empty(), "{bug} in {op}: no diagnosis");
                assert!(codes.iter().all(|c| c == bug), "{bug} in {op}: {codes:?}");
            } else {
                assert_eq!(verdict, "pass", "{bug} leaves {op} right: {codes:?}");
            }
        }
    }
}

#[test]
fn a_softmax_without_the_max_subtracted_overflows_into_a_nan_finding() {
    let Some(python) = numpy_python() else { return };
    let command = format!("{python} {PROGRAM} no_max");
    let out = Command::new(BIN)
        .args(["verify", "--exec", &command, "--ops", "softmax_xent"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run gradverify verify");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("dL/dz: NaN or infinity"), "{text}");
    assert!(!text.contains("not JSON"), "{text}");
    assert!(
        !text.contains("correct only when B = 1"),
        "an overflow is no batch law: {text}"
    );
}
