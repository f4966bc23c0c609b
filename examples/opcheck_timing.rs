//! How long `check::op` takes on a 3×4 elementwise op (sin), per report, element by element and
//! in fast mode: prints durations, asserts only that the right VJP passes.
//! `cargo run --release --example opcheck_timing`.

use std::time::{Duration, Instant};

use gradverify::check::{self, OpCheck};
use ndarray::ArrayD;

/// Reports per measurement.
const RUNS: u32 = 50;

fn forward(x: &[ArrayD<f64>]) -> ArrayD<f64> {
    x[0].mapv(f64::sin)
}

fn backward(x: &[ArrayD<f64>], g: &ArrayD<f64>) -> Vec<ArrayD<f64>> {
    vec![g * &x[0].mapv(f64::cos)]
}

/// The mean time of one report.
fn time(run: impl Fn() -> bool) -> Duration {
    let start = Instant::now();
    for _ in 0..RUNS {
        assert!(run(), "the right VJP did not pass");
    }
    start.elapsed() / RUNS
}

fn main() {
    let elementwise = time(|| check::op("sin", &[&[3, 4]], forward, backward).passed());
    println!("check::op, sin on 3×4, elementwise, 40 cases: {elementwise:?} per report");
    let fast = time(|| {
        OpCheck::new("sin", &[&[3, 4]], forward, backward)
            .fast()
            .run()
            .passed()
    });
    println!("OpCheck::fast, sin on 3×4, 40 cases: {fast:?} per report");
}
