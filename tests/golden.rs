//! Golden data from an independent implementation (JAX float64, cross-checked with PyTorch):
//! the reference engine must match every loss and gradient to 1e-10 relative.

use std::fs;
use std::path::PathBuf;

use gradverify::compare::{self, Tolerance, Verdict};
use gradverify::json;
use gradverify::mlp::{self, MlpParams};
use gradverify::ops::{linear, relu, sqerr};
use gradverify::tape::Wrt;
use ndarray::{ArrayD, arr0};
use serde_json::{Map, Value};

const GOLDEN_REL: f64 = 1e-10;

fn load(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/golden")
        .join(name);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn matrix(object: &Map<String, Value>, key: &str) -> ArrayD<f64> {
    json::matrix(&object[key], key).unwrap().into_dyn()
}

fn vector(object: &Map<String, Value>, key: &str) -> ArrayD<f64> {
    json::vector(&object[key], key).unwrap().into_dyn()
}

/// Relative agreement to `GOLDEN_REL`; an exact zero on both sides is agreement too.
#[track_caller]
fn assert_matches(case: &str, name: &str, golden: ArrayD<f64>, ours: ArrayD<f64>) {
    let c = compare::compare(
        name,
        golden.view(),
        ours.view(),
        &Tolerance::uniform(GOLDEN_REL, 0.0),
    );
    assert_eq!(c.verdict(), Verdict::Pass, "{case}: {c}");
}

#[test]
fn the_network_matches_every_golden_case() {
    for n in 1..=6 {
        let case = load(&format!("mlp_case_{n}.json"));
        let o = case.as_object().unwrap();
        let as2 = |k: &str| json::matrix(&o[k], k).unwrap();
        let as1 = |k: &str| json::vector(&o[k], k).unwrap();
        let params = MlpParams {
            w1: as2("W1"),
            b1: as1("b1"),
            w2: as2("W2"),
            b2: as1("b2"),
            w3: as2("W3"),
            b3: as1("b3"),
        };
        let ours = mlp::loss_and_grads(&params, &as2("x"), &as2("y"), Wrt::ParamsAndData).unwrap();
        let label = format!("mlp_case_{n} ({})", o["description"]);
        let grads = o["grads"].as_object().unwrap();
        assert_matches(
            &label,
            "L",
            arr0(o["loss"].as_f64().unwrap()).into_dyn(),
            arr0(ours.loss).into_dyn(),
        );
        assert_matches(&label, "dL/dx", matrix(grads, "x"), ours.x.unwrap().into_dyn());
        assert_matches(&label, "dL/dW1", matrix(grads, "W1"), ours.w1.into_dyn());
        assert_matches(&label, "dL/db1", vector(grads, "b1"), ours.b1.into_dyn());
        assert_matches(&label, "dL/dW2", matrix(grads, "W2"), ours.w2.into_dyn());
        assert_matches(&label, "dL/db2", vector(grads, "b2"), ours.b2.into_dyn());
        assert_matches(&label, "dL/dW3", matrix(grads, "W3"), ours.w3.into_dyn());
        assert_matches(&label, "dL/db3", vector(grads, "b3"), ours.b3.into_dyn());
    }
}

fn op_cases(op: &str) -> Vec<Map<String, Value>> {
    let all = load("op_cases.json");
    let cases = all[op]["cases"].as_array().unwrap();
    assert!(!cases.is_empty(), "no {op} cases");
    cases.iter().map(|c| c.as_object().unwrap().clone()).collect()
}

#[test]
fn linear_matches_every_golden_case() {
    for c in op_cases("linear") {
        let name = c["name"].as_str().unwrap();
        let (h, w) = (
            json::matrix(&c["h"], "h").unwrap(),
            json::matrix(&c["W"], "W").unwrap(),
        );
        let b = json::vector(&c["b"], "b").unwrap();
        let g = json::matrix(&c["upstream"], "upstream").unwrap();
        let out = linear::forward(h.view(), w.view(), b.view()).unwrap();
        let grads = linear::backward(g.view(), h.view(), w.view(), b.view()).unwrap();
        assert_matches(name, "a", matrix(&c, "out"), out.into_dyn());
        assert_matches(name, "dL/dh", matrix(&c, "dh"), grads.h.into_dyn());
        assert_matches(name, "dL/dW", matrix(&c, "dW"), grads.w.into_dyn());
        assert_matches(name, "dL/db", vector(&c, "db"), grads.b.into_dyn());
    }
}

#[test]
fn relu_matches_every_golden_case_including_exact_zeros() {
    let cases = op_cases("relu");
    assert!(
        cases
            .iter()
            .any(|c| c["contains_exact_zeros"] == Value::Bool(true))
    );
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let a = matrix(&c, "a");
        let g = matrix(&c, "upstream");
        assert_matches(name, "h", matrix(&c, "out"), relu::forward(a.view()).unwrap());
        assert_matches(
            name,
            "dL/da",
            matrix(&c, "da"),
            relu::backward(g.view(), a.view()).unwrap(),
        );
    }
}

#[test]
fn sqerr_matches_every_golden_case() {
    for c in op_cases("sqerr") {
        let name = c["name"].as_str().unwrap();
        let (f, y) = (matrix(&c, "f"), matrix(&c, "y"));
        let upstream = c["upstream"].as_f64().unwrap();
        let loss = sqerr::forward(f.view(), y.view()).unwrap();
        let (df, dy) = sqerr::backward(upstream, f.view(), y.view()).unwrap();
        assert_matches(
            name,
            "L",
            arr0(c["loss"].as_f64().unwrap()).into_dyn(),
            arr0(loss).into_dyn(),
        );
        assert_matches(name, "dL/df", matrix(&c, "df"), df);
        assert_matches(name, "dL/dy", matrix(&c, "dy"), dy);
    }
}
