//! `cargo bench --bench wire_check`: the full check of an op a program brings over the wire
//! (`gradverify-ops/1`, the C program of `examples/ops/ops.c`, compiled here with `cc -O2`)
//! against the same op checked in-process by [`OpCheck`], in the same run, with the round trips
//! and bytes of each kind of request: softplus at 10,000 elements, compact steps
//! (`forward_steps`), fast mode, and whole points at 1,000 elements (at 10,000 they are about
//! 4·10⁴ points of 10⁴ numbers, gigabytes of JSON). `-- gru` adds a GRU cell of 10,880 elements
//! (B = 16, I = H = 40) over the wire.
//!
//! A full check costs about 4 forwards per element (the first look's two central quotients),
//! each forward touching every element: 4n² element evaluations for an op of n elements
//! (4·10⁸ at n = 10⁴), in-process or not; the wire adds the requests' JSON.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use gradverify::check::OpCheck;
use gradverify::verify::exec::Program;
use gradverify::verify::program_ops::{self, Exchange, Order, SpecFile};
use gradverify::verify::{Config, Fault, Report};
use ndarray::ArrayD;
use serde_json::Value;

/// A program's exchange, counting each call's requests and the bytes sent and answered.
struct Counted<'a> {
    program: &'a mut dyn Exchange,
    calls: BTreeMap<String, (usize, usize, usize)>,
}

impl Exchange for Counted<'_> {
    fn exchange(&mut self, request: Value) -> Result<Value, Fault> {
        let call = request["call"].as_str().unwrap_or_default().to_owned();
        let sent = request.to_string().len();
        let answer = self.program.exchange(request)?;
        let entry = self.calls.entry(call).or_default();
        *entry = (entry.0 + 1, entry.1 + sent, entry.2 + answer.to_string().len());
        Ok(answer)
    }
}

fn main() {
    let binary = compiled();
    let softplus = |dims: &str| {
        format!(
            r#"{{"protocol": "gradverify-ops/1", "ops": [{{"name": "softplus", "dims": {dims},
            "inputs": [{{"name": "x", "shape": ["B", "D"]}}], "outputs": ["y"]}}]}}"#
        )
    };
    let big = softplus(r#"{"B": 100, "D": 100}"#);
    let seconds = in_process_softplus(&[100, 100]);
    println!("softplus 100x100 in-process (OpCheck, 1 case): {seconds:.2} s");
    over_the_wire(
        ("softplus", "softplus 100x100 compact"),
        &format!("{}", binary.display()),
        &big,
        false,
    );
    over_the_wire(
        ("softplus", "softplus 100x100 --fast"),
        &format!("{}", binary.display()),
        &big,
        true,
    );
    let small = softplus(r#"{"B": 10, "D": 100}"#);
    let seconds = in_process_softplus(&[10, 100]);
    println!("softplus 10x100 in-process (OpCheck, 1 case): {seconds:.3} s");
    over_the_wire(
        ("softplus", "softplus 10x100 compact"),
        &format!("{}", binary.display()),
        &small,
        false,
    );
    over_the_wire(
        ("softplus", "softplus 10x100 whole points"),
        &format!("{} right full", binary.display()),
        &small,
        false,
    );
    if std::env::args().any(|a| a == "gru") {
        let gru =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ops/ops.json"))
                .expect("examples/ops/ops.json")
                .replace(
                    r#""dims": {"B": 2, "I": 3, "H": 4}"#,
                    r#""dims": {"B": 16, "I": 40, "H": 40}"#,
                );
        over_the_wire(
            ("gru_cell", "gru_cell B16 I40 H40 compact"),
            &format!("{}", binary.display()),
            &gru,
            false,
        );
        over_the_wire(
            ("gru_cell", "gru_cell B16 I40 H40 --fast"),
            &format!("{}", binary.display()),
            &gru,
            true,
        );
    }
    let _ = std::fs::remove_file(binary);
}

/// examples/ops/ops.c, compiled to a temporary file.
fn compiled() -> PathBuf {
    let binary = std::env::temp_dir().join(format!("gradverify-wire-check-{}", std::process::id()));
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ops/ops.c");
    let status = Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&binary)
        .arg(source)
        .arg("-lm")
        .status()
        .expect("cc, to compile examples/ops/ops.c");
    assert!(status.success(), "cc failed");
    binary
}

/// Seconds of one case of softplus's full check in-process.
fn in_process_softplus(shape: &[usize]) -> f64 {
    let forward = |x: &[ArrayD<f64>]| x[0].mapv(|v| v.exp().ln_1p());
    let backward = |x: &[ArrayD<f64>], g: &ArrayD<f64>| vec![g * &x[0].mapv(|v| 1.0 / (1.0 + (-v).exp()))];
    let start = Instant::now();
    let report = OpCheck::new("softplus", &[shape], forward, backward)
        .cases(1)
        .run();
    let seconds = start.elapsed().as_secs_f64();
    assert!(report.passed(), "{report}");
    seconds
}

/// One case of the check of the spec's op by `command`, timed, with its requests counted.
fn over_the_wire((name, label): (&str, &str), command: &str, spec: &str, fast: bool) {
    let specs = SpecFile::parse(spec, label).expect("the spec");
    let op = specs.op(name).expect("the op");
    let mut subject = Program::new(command, Duration::from_secs(600))
        .start()
        .expect("start the C program");
    let mut counted = Counted {
        program: &mut subject,
        calls: BTreeMap::new(),
    };
    let config = Config::default().cases(1);
    let start = Instant::now();
    let report: Report = if fast {
        program_ops::check_fast(op, &mut counted, command, config)
    } else {
        program_ops::check(op, &mut counted, command, config, Order::First)
    };
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{label} over the wire (1 case): {seconds:.2} s, {:?}",
        report.verdict()
    );
    for (call, (requests, sent, answered)) in &counted.calls {
        println!("  {call}: {requests} requests, {sent} bytes sent, {answered} bytes answered");
    }
}
