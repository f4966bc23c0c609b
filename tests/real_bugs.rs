//! The bugs students actually write (issue 12), each in a Python program of `tests/programs/`
//! run through `gradverify verify --exec`: the mean-squared-error convention in sqerr and in the
//! network, one scalar broadcast to every element, fan-out overwritten instead of summed, a
//! float32 computation, an unflushed standard output; and correct variations that must pass
//! (loops instead of products, the relu mask from relu's output).
//!
//! The verdicts, the diagnoses (a stable code per finding, in `verify --format json`, and the
//! smallest *unambiguous* example as the finding's `smallest_shape`) and the tolerances
//! (`--rtol`, `--atol`) are asserted.

use crate::common::text;
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_gradverify");

/// `gradverify verify --exec "python3 tests/programs/PROGRAM.py" --ops OPS ARGS…`.
fn verify(program: &str, ops: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args([
            "verify",
            "--exec",
            &format!("python3 tests/programs/{program}.py"),
            "--ops",
            ops,
        ])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("run gradverify verify")
}

#[track_caller]
fn assert_passes(program: &str, ops: &str) {
    let out = verify(program, ops, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{program} {ops} should pass:\n{}",
        text(&out)
    );
}

#[track_caller]
fn assert_fails(program: &str, ops: &str, args: &[&str]) -> String {
    let out = verify(program, ops, args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{program} {ops} should fail:\n{}",
        text(&out)
    );
    text(&out)
}

// ---- Verdicts: what the verifier says today, and must keep saying. ----

#[test]
fn loops_instead_of_products_pass_every_op() {
    assert_passes("correct_loops", "linear,relu,sqerr,mlp");
}

#[test]
fn a_relu_mask_from_relus_output_passes_every_op() {
    assert_passes("correct_mask_from_output", "linear,relu,sqerr,mlp");
}

#[test]
fn the_mse_convention_fails_sqerr_and_the_network_only() {
    for program in ["mse_size", "mse_batch"] {
        assert_passes(program, "linear,relu");
        assert_fails(program, "sqerr", &[]);
        assert_fails(program, "mlp", &[]);
    }
}

#[test]
fn a_broadcast_scalar_fails_sqerr_only_among_the_ops() {
    assert_passes("broadcast_scalar", "linear,relu");
    assert_fails("broadcast_scalar", "sqerr", &[]);
}

#[test]
fn an_overwritten_fan_out_fails_linear_only_among_the_ops() {
    assert_passes("fanout_overwrite", "relu,sqerr");
    let report = assert_fails("fanout_overwrite", "linear", &[]);
    for gradient in ["dL/dW", "dL/db", "dL/dh"] {
        assert!(report.contains(gradient), "{gradient} not reported:\n{report}");
    }
}

#[test]
fn float32_fails_every_op_at_the_default_tolerance() {
    for op in ["linear", "relu", "sqerr", "mlp"] {
        assert_fails("float32", op, &[]);
    }
}

#[test]
fn an_unflushed_program_fails_for_want_of_an_answer() {
    let report = assert_fails("unflushed", "relu", &["--timeout", "1"]);
    assert!(report.contains("answer"), "{report}");
}

// ---- Diagnoses: the code and the unambiguous smallest example. ----

/// The JSON report of `verify --format json` (one document, or one per line).
fn json_report(program: &str, ops: &str, args: &[&str]) -> Value {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let out = verify(program, ops, &all);
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&stdout).unwrap_or_else(|_| {
        let lines: Result<Vec<Value>, _> = stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str)
            .collect();
        Value::Array(lines.unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", text(&out))))
    })
}

/// A shape's dims by name.
type Dims = Vec<(String, u64)>;

/// A finding of a JSON report, its diagnosis codes and its example's dims.
type Diagnosed<'a> = (&'a Value, Vec<String>, Dims);

/// The dims of a shape written `B=2 D=3`, or given as an object `{"B": 2, "D": 3}`.
fn dims(value: &Value) -> Option<Dims> {
    match value {
        Value::String(s) => s
            .split_whitespace()
            .map(|t| {
                let (name, n) = t.split_once('=')?;
                Some((name.to_owned(), n.parse().ok()?))
            })
            .collect::<Option<Vec<_>>>()
            .filter(|d| d.iter().any(|(n, _)| n == "B")),
        Value::Object(m) if m.contains_key("B") => {
            m.iter().map(|(k, v)| Some((k.clone(), v.as_u64()?))).collect()
        }
        _ => None,
    }
}

/// A finding: the innermost object that has a shape among its fields and, somewhere inside,
/// a diagnosis object with `"code"`. Returns (finding, its codes, its example's dims).
fn findings(report: &Value) -> Vec<Diagnosed<'_>> {
    fn codes(v: &Value) -> Vec<String> {
        match v {
            Value::Object(m) => {
                let own = m.get("code").and_then(Value::as_str).map(str::to_owned);
                own.into_iter().chain(m.values().flat_map(codes)).collect()
            }
            Value::Array(a) => a.iter().flat_map(codes).collect(),
            _ => Vec::new(),
        }
    }
    fn shape(m: &serde_json::Map<String, Value>) -> Option<Dims> {
        let preferred = m
            .iter()
            .filter(|(k, _)| k.contains("example") || k.contains("smallest"))
            .find_map(|(_, v)| dims(v));
        preferred.or_else(|| m.values().find_map(dims))
    }
    fn walk<'a>(v: &'a Value, out: &mut Vec<Diagnosed<'a>>) {
        let before = out.len();
        match v {
            Value::Object(m) => m.values().for_each(|c| walk(c, out)),
            Value::Array(a) => a.iter().for_each(|c| walk(c, out)),
            _ => return,
        }
        if out.len() == before
            && let Value::Object(m) = v
            && let Some(dims) = shape(m)
        {
            let codes = codes(v);
            if !codes.is_empty() {
                out.push((v, codes, dims));
            }
        }
    }
    let mut out = Vec::new();
    walk(report, &mut out);
    out
}

/// The finding about `gradient` (`dL/df`; a field equal to it, or to the input's name `f`,
/// directly or as the `input` of its subject, `"what": {"kind": "gradient", "input": "f"}`).
#[track_caller]
fn finding(report: &Value, gradient: &str) -> (Vec<String>, Dims) {
    let input = gradient.trim_start_matches("dL/d");
    let names = |v: &Value| v.as_str().is_some_and(|s| s == gradient || s == input);
    findings(report)
        .into_iter()
        .find(|(f, _, _)| {
            f.as_object()
                .is_some_and(|m| m.values().any(|v| names(v) || v.get("input").is_some_and(names)))
        })
        .map(|(_, codes, dims)| (codes, dims))
        .unwrap_or_else(|| panic!("no diagnosed finding for {gradient} in\n{report:#}"))
}

fn dim(dims: &[(String, u64)], name: &str) -> u64 {
    dims.iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name} in {dims:?}"))
        .1
}

#[track_caller]
fn assert_code(codes: &[String], code: &str) {
    assert!(codes.iter().any(|c| c == code), "{code} not among {codes:?}");
}

#[test]
fn the_mse_convention_in_sqerr_is_named_at_an_example_with_b_and_d_above_one() {
    for program in ["mse_size", "mse_batch"] {
        let report = json_report(program, "sqerr", &[]);
        for gradient in ["dL/df", "dL/dy"] {
            let (codes, dims) = finding(&report, gradient);
            assert_code(&codes, "mse_convention");
            assert!(dim(&dims, "B") > 1, "{program} {gradient}: {dims:?}");
            if program == "mse_size" {
                assert!(dim(&dims, "D") > 1, "{program} {gradient}: {dims:?}");
            }
        }
    }
}

#[test]
fn the_network_with_the_mse_loss_blames_the_loss_with_one_example_for_all_six() {
    for program in ["mse_size", "mse_batch"] {
        let report = json_report(program, "mlp", &[]);
        let mut examples = Vec::new();
        for gradient in ["dL/dW1", "dL/db1", "dL/dW2", "dL/db2", "dL/dW3", "dL/db3"] {
            let (codes, dims) = finding(&report, gradient);
            assert_code(&codes, "loss_factor");
            assert_code(&codes, "mse_convention");
            examples.push(dims);
        }
        assert!(
            examples.windows(2).all(|w| w[0] == w[1]),
            "{program}: {examples:?}"
        );
        assert!(dim(&examples[0], "B") > 1, "{program}: {:?}", examples[0]);
        if program == "mse_size" {
            assert!(dim(&examples[0], "D3") > 1, "{program}: {:?}", examples[0]);
        }
    }
}

#[test]
fn a_broadcast_scalar_is_named_at_an_example_of_more_than_one_element() {
    let report = json_report("broadcast_scalar", "sqerr", &[]);
    let (codes, dims) = finding(&report, "dL/df");
    assert_code(&codes, "broadcast_scalar");
    assert!(dim(&dims, "B") * dim(&dims, "D") > 1, "{dims:?}");
    assert!(!codes.iter().any(|c| c == "sign" || c == "factor"), "{codes:?}");
}

#[test]
fn an_overwritten_fan_out_is_named_for_each_gradient_and_is_not_called_random() {
    let report = json_report("fanout_overwrite", "linear", &[]);
    for gradient in ["dL/dW", "dL/db", "dL/dh"] {
        let (codes, dims) = finding(&report, gradient);
        assert_code(&codes, "fanout_overwrite");
        let summed = if gradient == "dL/dh" { "Dout" } else { "B" };
        assert!(dim(&dims, summed) > 1, "{gradient}: {dims:?}");
    }
    let all: Vec<String> = findings(&report).into_iter().flat_map(|(_, c, _)| c).collect();
    assert!(!all.iter().any(|c| c == "nondeterministic"), "{all:?}");
}

#[test]
fn float32_is_named_with_the_tolerances_that_accept_it() {
    for op in ["linear", "relu", "sqerr", "mlp"] {
        let report = json_report("float32", op, &[]);
        let found = findings(&report);
        assert!(!found.is_empty(), "{op}: {report:#}");
        for (_, codes, _) in &found {
            assert_code(codes, "float32");
        }
        assert!(
            report.to_string().contains("--rtol 1e-3 --atol 1e-5"),
            "{op}: {report:#}"
        );
    }
}

#[test]
fn float32_passes_with_gradchecks_tolerances() {
    let out = verify(
        "float32",
        "linear,relu,sqerr,mlp",
        &["--rtol", "1e-3", "--atol", "1e-5"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn an_unflushed_program_is_asked_whether_it_flushed() {
    let report = json_report("unflushed", "relu", &["--timeout", "1"]);
    let all: Vec<String> = findings(&report).into_iter().flat_map(|(_, c, _)| c).collect();
    assert_code(&all, "no_answer");
    assert!(report.to_string().contains("flush"), "{report:#}");
}

#[test]
fn the_json_reader_finds_each_findings_codes_and_example_at_any_nesting() {
    let report: Value = serde_json::from_str(
        r#"{"ops": [{"op": "sqerr", "cases": 40, "findings": [
            {"what": "dL/df", "smallest": "B=2 D=3", "shape": "B=1 D=1",
             "diagnosis": {"code": "mse_convention", "text": "2/(B·D)"}},
            {"input": "y", "example": {"B": 4, "D": 5},
             "diagnoses": [{"code": "mse_convention"}, {"code": "factor"}]},
            {"what": "dL/dh", "smallest": "B=1 D=1"}]}]}"#,
    )
    .expect("JSON");
    assert_eq!(findings(&report).len(), 2);
    let (codes, dims) = finding(&report, "dL/df");
    assert_eq!(codes, vec!["mse_convention"]);
    assert_eq!((dim(&dims, "B"), dim(&dims, "D")), (2, 3));
    let (codes, dims) = finding(&report, "dL/dy");
    assert_eq!(codes, vec!["mse_convention", "factor"]);
    assert_eq!((dim(&dims, "B"), dim(&dims, "D")), (4, 5));
}
