//! Golden cases for the course's eleven ops from an independent implementation (JAX float64,
//! `fixtures/golden/course_ops.json`, written by `scripts/golden_course_ops.py`): every reference
//! op's forward and VJP must match JAX to 1e-10 relative, element by element.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use gradverify::compare::{self, Tolerance, Verdict};
use gradverify::json;
use gradverify::ops::{
    BatchNorm, Conv2d, DEFAULT_EPS, Dropout, Embedding, Hinge, LayerNorm, MaxPool2d, Op, RnnStep, Sigmoid,
    SoftmaxXent, Tanh,
};
use ndarray::ArrayD;
use serde_json::{Map, Value};

/// Relative agreement required of every element.
const GOLDEN_REL: f64 = 1e-10;
/// Below this absolute difference an element is excused: a value that cancels to near zero
/// (|x| ~ 1e-16 from O(1) terms) has no meaningful relative error.
const GOLDEN_ABS: f64 = 1e-13;
/// The ops of `shared/protocol-ops.md`, and the fewest cases the fixture holds of each.
const OPS: [&str; 11] = [
    "sigmoid",
    "tanh",
    "dropout",
    "softmax_xent",
    "hinge",
    "batchnorm",
    "layernorm",
    "conv2d",
    "maxpool2d",
    "embedding",
    "rnn_step",
];
const MIN_CASES: usize = 3;

fn cases() -> Vec<Map<String, Value>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/golden/course_ops.json");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let all: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(all["dtype"], "float64");
    let cases = all["cases"].as_array().expect("a list of cases");
    cases.iter().map(|c| c.as_object().unwrap().clone()).collect()
}

/// How deep the lists nest: 0 for a number, 1 for a list of numbers, 4 for a TENSOR4.
fn rank(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.first().map_or(0, rank),
        _ => 0,
    }
}

fn array(value: &Value, what: &str) -> ArrayD<f64> {
    json::array(value, rank(value), what).unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn number(attrs: &Map<String, Value>, key: &str, case: &str) -> f64 {
    attrs
        .get(key)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{case}: attrs.{key} missing"))
}

fn integer(attrs: &Map<String, Value>, key: &str, case: &str) -> usize {
    let n = attrs
        .get(key)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("{case}: attrs.{key} missing or not an integer"));
    usize::try_from(n).unwrap()
}

/// The crate's reference op for a case, its attributes from `attrs` (an absent `eps` is 1e-5).
fn build(op: &str, attrs: &Map<String, Value>, case: &str) -> Box<dyn Op> {
    let eps = || attrs.get("eps").map_or(DEFAULT_EPS, |v| v.as_f64().unwrap());
    let known: &[&str] = match op {
        "dropout" => &["p"],
        "batchnorm" | "layernorm" => &["eps"],
        "conv2d" => &["stride", "pad"],
        "maxpool2d" => &["pool", "stride"],
        _ => &[],
    };
    if let Some(k) = attrs.keys().find(|k| !known.contains(&k.as_str())) {
        panic!("{case}: unknown attribute {k}");
    }
    match op {
        "sigmoid" => Box::new(Sigmoid),
        "tanh" => Box::new(Tanh),
        "dropout" => Box::new(Dropout {
            p: number(attrs, "p", case),
        }),
        "softmax_xent" => Box::new(SoftmaxXent),
        "hinge" => Box::new(Hinge),
        "batchnorm" => Box::new(BatchNorm { eps: eps() }),
        "layernorm" => Box::new(LayerNorm { eps: eps() }),
        "conv2d" => Box::new(Conv2d {
            stride: integer(attrs, "stride", case),
            pad: integer(attrs, "pad", case),
        }),
        "maxpool2d" => Box::new(MaxPool2d {
            pool: integer(attrs, "pool", case),
            stride: integer(attrs, "stride", case),
        }),
        "embedding" => Box::new(Embedding),
        "rnn_step" => Box::new(RnnStep),
        other => panic!("{case}: unknown op {other}"),
    }
}

/// The worst relative error (over the certified and failed elements) and the elements excused by
/// the absolute floor, per op.
#[derive(Default)]
struct Tally {
    cases: usize,
    max_rel_err: f64,
    excused: usize,
    elements: usize,
}

/// Compares one array; a disagreement is written to `failures`.
fn check(
    tally: &mut Tally,
    failures: &mut Vec<String>,
    case: &str,
    name: &str,
    golden: &ArrayD<f64>,
    ours: &ArrayD<f64>,
) {
    let c = compare::compare(
        name,
        golden.view(),
        ours.view(),
        &Tolerance::uniform(GOLDEN_REL, GOLDEN_ABS),
    );
    tally.max_rel_err = compare::nan_max(tally.max_rel_err, c.max_rel_err);
    tally.excused += c.excused;
    tally.elements += golden.len();
    if c.verdict() != Verdict::Pass {
        failures.push(format!("{case}: {c}"));
    }
}

/// Runs one case through the reference op: its forward against `output`, its VJP (of every
/// differentiated input, from `grad_out`) against `grads`.
fn run_case(c: &Map<String, Value>, tally: &mut Tally, failures: &mut Vec<String>) {
    let (op_name, case) = (c["op"].as_str().unwrap(), c["name"].as_str().unwrap());
    let op = build(op_name, c["attrs"].as_object().unwrap(), case);
    let given = c["inputs"].as_object().unwrap();
    let names: Vec<&str> = given.keys().map(String::as_str).collect();
    assert_eq!(names, op.input_names(), "{case}: the inputs, in the op's order");
    let inputs: Vec<ArrayD<f64>> = given.iter().map(|(k, v)| array(v, k)).collect();
    let views: Vec<_> = inputs.iter().map(|a| a.view()).collect();

    let output = op
        .forward(&views)
        .unwrap_or_else(|e| panic!("{case}: forward: {e}"));
    check(
        tally,
        failures,
        case,
        "out",
        &array(&c["output"], "output"),
        &output,
    );

    let wanted: Vec<bool> = (0..names.len()).map(|k| op.differentiable(k)).collect();
    let golden = c["grads"].as_object().unwrap();
    let differentiated: Vec<&str> = (names.iter().zip(&wanted))
        .filter_map(|(n, &w)| w.then_some(*n))
        .collect();
    let answered: Vec<&str> = golden.keys().map(String::as_str).collect();
    assert_eq!(
        answered, differentiated,
        "{case}: grads of the differentiated inputs only"
    );

    let grad_out = array(&c["grad_out"], "grad_out");
    let grads = (op.vjp(&views, grad_out.view(), &wanted)).unwrap_or_else(|e| panic!("{case}: vjp: {e}"));
    for ((name, grad), &want) in names.iter().zip(&grads).zip(&wanted) {
        match (grad, want) {
            (Some(ours), true) => {
                let expected = array(&golden[*name], name);
                check(tally, failures, case, &format!("dL/d{name}"), &expected, ours);
            }
            (None, false) => {}
            (got, _) => failures.push(format!(
                "{case}: dL/d{name} {} though wanted is {want}",
                if got.is_some() { "answered" } else { "missing" }
            )),
        }
    }
}

#[test]
fn every_course_op_matches_jax_forward_and_vjp_to_1e_10() {
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let mut failures = Vec::new();
    for c in cases() {
        let tally = tallies.entry(c["op"].as_str().unwrap().to_owned()).or_default();
        tally.cases += 1;
        run_case(&c, tally, &mut failures);
    }
    for (op, t) in &tallies {
        println!(
            "{op:>13}: {} cases, {} elements, max rel err {:.2e}, {} excused under {GOLDEN_ABS:e}",
            t.cases, t.elements, t.max_rel_err, t.excused
        );
    }
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
    for op in OPS {
        let n = tallies.get(op).map_or(0, |t| t.cases);
        assert!(
            n >= MIN_CASES,
            "{op}: {n} golden cases, want at least {MIN_CASES}"
        );
    }
    assert_eq!(
        tallies.len(),
        OPS.len(),
        "ops beyond the eleven: {:?}",
        tallies.keys()
    );
}

/// The fixture holds the cases the brief of the golden data asks for, so that a regenerated file
/// cannot quietly drop them.
#[test]
fn the_course_op_cases_cover_the_edge_cases() {
    let all = cases();
    let of = |op: &'static str| all.iter().filter(move |c| c["op"] == op);
    let attr = |c: &Map<String, Value>, k: &str| c["attrs"].get(k).and_then(Value::as_f64);
    let input = |c: &Map<String, Value>, k: &str| array(&c["inputs"][k], k);
    // B: the rows of the first input (images: N), of embedding's out (idx's length).
    let batch = |c: &Map<String, Value>| {
        let first = c["inputs"].as_object().unwrap().keys().next().unwrap();
        let key = if c["op"] == "embedding" { "idx" } else { first };
        input(c, key).shape()[0]
    };
    let repeats = |v: &ArrayD<f64>| {
        let mut seen: Vec<f64> = v.iter().copied().collect();
        seen.sort_by(f64::total_cmp);
        seen.windows(2).any(|w| w[0] == w[1])
    };

    for op in OPS.into_iter().filter(|&op| op != "batchnorm") {
        assert!(of(op).any(|c| batch(c) == 1), "{op}: a case with B = 1");
    }
    for op in OPS {
        assert!(of(op).any(|c| batch(c) > 1), "{op}: a case with B > 1");
    }
    for p in [0.0, 0.5] {
        assert!(
            of("dropout").any(|c| attr(c, "p") == Some(p)),
            "dropout with p = {p}"
        );
    }
    let max_abs = |a: ArrayD<f64>| a.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    assert!(
        of("softmax_xent").any(|c| max_abs(input(c, "z")) >= 800.0),
        "logits at ±800"
    );
    for op in ["softmax_xent", "hinge"] {
        assert!(
            of(op).any(|c| repeats(&input(c, "labels"))),
            "{op}: repeated labels"
        );
        assert!(
            of(op).any(|c| c["grad_out"].as_f64() != Some(1.0)),
            "{op}: dL/dL ≠ 1"
        );
    }
    assert!(
        of("embedding").any(|c| repeats(&input(c, "idx"))),
        "embedding: repeated indices"
    );
    for (stride, pad) in [(1.0, 0.0), (2.0, 1.0), (1.0, 1.0), (2.0, 0.0)] {
        assert!(
            of("conv2d").any(|c| attr(c, "stride") == Some(stride) && attr(c, "pad") == Some(pad)),
            "conv2d with stride {stride}, pad {pad}"
        );
    }
    let overlapping = |c: &Map<String, Value>| attr(c, "stride") < attr(c, "pool");
    assert!(
        of("maxpool2d").any(overlapping),
        "maxpool2d with overlapping windows"
    );
    assert!(of("maxpool2d").any(|c| !overlapping(c)), "maxpool2d without");

    // Hinge: no margin z_ij − z_i,y + 1 (j ≠ y) within 1e-3 of its kink.
    for c in of("hinge") {
        let (z, labels) = (input(c, "z"), input(c, "labels"));
        for (i, &y) in labels.iter().enumerate() {
            for j in (0..z.shape()[1]).filter(|&j| j != y as usize) {
                let m = z[[i, j]] - z[[i, y as usize]] + 1.0;
                assert!(m.abs() > 1e-3, "{}: margin {m} at ({i}, {j})", c["name"]);
            }
        }
    }
}

/// Every golden case sent to `gradverify serve` as a request line (the fixture's inputs, attrs
/// and grad_out): each answer holds exactly the differentiated inputs' gradients, equal to JAX's
/// to 1e-10 relative (as the Rust API above).
#[test]
fn serve_answers_every_golden_case_as_jax_does() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let cases = cases();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gradverify"))
        .arg("serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start gradverify serve");
    let mut stdin = child.stdin.take().expect("piped");
    for (id, c) in cases.iter().enumerate() {
        let request = serde_json::json!({
            "id": id, "op": c["op"], "inputs": c["inputs"], "attrs": c["attrs"], "grad_out": c["grad_out"],
        });
        writeln!(stdin, "{request}").expect("write a request");
    }
    drop(stdin);
    let out = child
        .wait_with_output()
        .expect("serve exits at the end of its input");
    assert!(out.status.success());
    let answers: Vec<Value> = (String::from_utf8_lossy(&out.stdout).lines())
        .map(|l| serde_json::from_str(l).expect("an answer is JSON"))
        .collect();
    assert_eq!(answers.len(), cases.len());
    let (mut tally, mut failures) = (Tally::default(), Vec::new());
    for (id, (c, answer)) in cases.iter().zip(&answers).enumerate() {
        let case = c["name"].as_str().unwrap();
        assert_eq!(answer["id"], id, "{case}");
        let (golden, grads) = (c["grads"].as_object().unwrap(), answer["grads"].as_object());
        let grads = grads.unwrap_or_else(|| panic!("{case}: {answer}"));
        let keys = |m: &Map<String, Value>| m.keys().cloned().collect::<Vec<_>>();
        assert_eq!(
            keys(grads),
            keys(golden),
            "{case}: the differentiated inputs only"
        );
        for (name, expected) in golden {
            let ours = array(&grads[name], name);
            check(
                &mut tally,
                &mut failures,
                case,
                &format!("dL/d{name}"),
                &array(expected, name),
                &ours,
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        tally.elements > 0 && tally.max_rel_err <= GOLDEN_REL,
        "{}",
        tally.max_rel_err
    );
}
