//! The speed workloads of the project, at the sizes of the peers' figures, shared by
//! `gradverify bench` and `cargo bench`.
//!
//! The network is Eq. 33 with D0 = D1 = D2 = D and D3 = D/4. Each figure is the median of
//! repeated runs after a warm-up ([`crate::timing::median_time`]), but for the full checks at
//! B=64, D=256, which take seconds: three runs of each, no warm-up
//! ([`crate::timing::median_times_of`]):
//! - `forward_backward` (B=32, D=64 and B=256, D=1024): the loss and all six parameter
//!   gradients by the tape; `forward` (recording the tape) and `backward` (walking it) apart, at
//!   the same sizes, to set the ratio of their times against the ratio of their flops;
//! - `full_check` (B=16, D=64, 9,360 parameters; B=32, D=128; B=64, D=256): central
//!   differences of every parameter ([`network_fd`]) against the reference gradients, compared as
//!   [`crate::oracle::check`] compares them (certified only where the estimate resolves its
//!   value, [`Abs::Bound`]);
//! - `full_check_kinks` (B=64, D=256): the same on kink-dense data ([`kink_dense_network`]: every
//!   hidden unit's pre-activation within 1e-6 of 0 at one data point), timed in turn with the
//!   random data's check in the same runs, with the ratio of the two;
//! - `projection_check` (B=16, D=64): one random projection ([`projection`]);
//! - `full_check_conv2d` (N=2, C=3, 8×8, F=4, 3×3) and `full_check_batchnorm` (B=64, D=256):
//!   the finite-difference oracle on one course-op case, each element through the op's local
//!   form ([`course_full_check`]);
//! - `sweep`: cases per second of the reference against both oracles.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ndarray::{Array2, ArrayD};
use serde_json::{Value, json};

use crate::compare::{self, Abs, Tolerance, Verdict};
use crate::error::{Error, Result};
use crate::mlp::{self, MlpParams};
use crate::ops::{BatchNorm, Conv2d, DEFAULT_EPS, Op};
use crate::oracle::FINITE_DIFF_REL;
use crate::oracle::finite_diff::{self, FdConfig};
use crate::oracle::{network_fd, projection};
use crate::random;
use crate::sweep;
use crate::tape::{Tape, Var, Vjp, Wrt};
use crate::timing::{median_time, median_times, median_times_of};

/// Cases in the sweep throughput workload.
pub const SWEEP_CASES: u64 = 4000;

/// One benchmark figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// `forward_backward`, `forward`, `backward`, `full_check`, `projection_check` or `sweep`.
    pub name: &'static str,
    /// Batch size B (0 for the sweep).
    pub batch: usize,
    /// Width D (0 for the sweep).
    pub width: usize,
    /// Median seconds of one run.
    pub median_s: f64,
    /// Cases per second (the sweep only).
    pub cases_per_s: Option<f64>,
    /// Floating-point operations of one run by the ops' cost models (the network's passes).
    pub flops: Option<u64>,
    /// Whether every gradient passed (the full checks only).
    pub passed: Option<bool>,
    /// This figure's time over the random data's at the same size (`full_check_kinks` only).
    pub over_random: Option<f64>,
}

impl Figure {
    /// `median_s` seconds per run of `name` at (B, D), with neither a rate nor flops.
    pub fn timed(name: &'static str, batch: usize, width: usize, median_s: f64) -> Figure {
        Figure {
            name,
            batch,
            width,
            median_s,
            cases_per_s: None,
            flops: None,
            passed: None,
            over_random: None,
        }
    }

    /// One JSON object, as `gradverify bench --json` prints it.
    pub fn to_json(&self) -> Value {
        let mut v = json!({"name": self.name, "B": self.batch, "D": self.width, "median_s": self.median_s});
        if let Some(rate) = self.cases_per_s {
            v["cases_per_s"] = rate.into();
        }
        if let Some(flops) = self.flops {
            v["flops"] = flops.into();
        }
        if let Some(passed) = self.passed {
            v["passed"] = passed.into();
        }
        if let Some(ratio) = self.over_random {
            v["over_random"] = ratio.into();
        }
        v
    }

    /// Floating-point operations per second, where the flops are known.
    pub fn flop_rate(&self) -> Option<f64> {
        self.flops.map(|f| f as f64 / self.median_s)
    }
}

/// The backward's time over the forward's, against the backward's flops over the forward's:
/// `(time ratio, flop ratio)` for the `forward` and `backward` figures of one size.
pub fn backward_over_forward(forward: &Figure, backward: &Figure) -> Option<(f64, f64)> {
    let same_size = (forward.batch, forward.width) == (backward.batch, backward.width);
    if (forward.name, backward.name) != ("forward", "backward") || !same_size {
        return None;
    }
    let flop_ratio = backward.flops? as f64 / forward.flops? as f64;
    Some((backward.median_s / forward.median_s, flop_ratio))
}

/// Parameters, data and targets of the benchmark network at batch `batch`, width `width`.
pub fn network(batch: usize, width: usize) -> (MlpParams, Array2<f64>, Array2<f64>) {
    let widths = [width, width, width, (width / 4).max(1)];
    let mut rng = random::case_rng(2026, (batch * 10_000 + width) as u64);
    let params = random::mlp_params(&mut rng, widths);
    let x = random::normal_matrix(&mut rng, batch, widths[0]);
    let y = random::normal_matrix(&mut rng, batch, widths[3]);
    (params, x, y)
}

/// Distance of each hidden unit's pre-activation from its kink at its data point in
/// [`kink_dense_network`], alternately above and below 0.
pub const KINK_DISTANCE: f64 = 5e-7;

/// The benchmark network at (B, D) with every hidden unit's pre-activation within
/// [`KINK_DISTANCE`] of 0 at one data point: unit j of layer 1 at row `j mod B`, unit k of layer
/// 2 at row `(k + 1) mod B`, each set by its bias (layer 1's first, since they move h1), so the
/// data are deterministic and every unit sits next to its kink somewhere in the batch.
pub fn kink_dense_network(batch: usize, width: usize) -> (MlpParams, Array2<f64>, Array2<f64>) {
    let (mut p, x, y) = network(batch, width);
    let side = |unit: usize| {
        if unit.is_multiple_of(2) {
            KINK_DISTANCE
        } else {
            -KINK_DISTANCE
        }
    };
    let a1 = x.dot(&p.w1) + &p.b1;
    for j in 0..p.b1.len() {
        p.b1[j] += side(j) - a1[[j % batch, j]];
    }
    let h1 = (x.dot(&p.w1) + &p.b1).mapv(|v| v.max(0.0));
    let a2 = h1.dot(&p.w2) + &p.b2;
    for k in 0..p.b2.len() {
        p.b2[k] += side(k + 1) - a2[[(k + 1) % batch, k]];
    }
    (p, x, y)
}

/// Flops of the network's forward pass and of its backward for the six parameter gradients, by
/// the ops' cost models.
fn network_flops(params: &MlpParams, x: &Array2<f64>, y: &Array2<f64>) -> Result<[u64; 2]> {
    let net = mlp::record(params, x.view(), y.view())?;
    let backward = net.tape.backward_cost(net.loss, Wrt::Params)?.vjp.flops;
    Ok([net.tape.forward_flops(net.loss)?, backward])
}

/// Forward and backward of the network, all six parameter gradients.
pub fn forward_backward(batch: usize, width: usize) -> Result<Figure> {
    let (params, x, y) = network(batch, width);
    let [forward, backward] = network_flops(&params, &x, &y)?;
    let median_s = median_time(|| mlp::loss_and_grads(&params, &x, &y, Wrt::Params).map(drop))?;
    Ok(Figure {
        flops: Some(forward + backward),
        ..Figure::timed("forward_backward", batch, width, median_s)
    })
}

/// The forward pass (recording the tape) and the backward pass (walking it for the six parameter
/// gradients) timed apart, in turn in each run, each with its flops.
pub fn forward_and_backward_apart(batch: usize, width: usize) -> Result<[Figure; 2]> {
    let (params, x, y) = network(batch, width);
    let [forward_s, backward_s] = median_times(|| {
        let start = Instant::now();
        let net = mlp::record(&params, x.view(), y.view())?;
        let recorded = Instant::now();
        net.tape.backward(net.loss)?;
        Ok([recorded - start, recorded.elapsed()])
    })?;
    let [forward, backward] = network_flops(&params, &x, &y)?;
    let figure = |name, median_s, flops| Figure {
        flops: Some(flops),
        ..Figure::timed(name, batch, width, median_s)
    };
    Ok([
        figure("forward", forward_s, forward),
        figure("backward", backward_s, backward),
    ])
}

/// The reference against both oracles on [`SWEEP_CASES`] cases, on the current rayon pool.
pub fn sweep_throughput() -> Result<Figure> {
    let start = Instant::now();
    let report = sweep::run(0, SWEEP_CASES)?;
    let seconds = start.elapsed().as_secs_f64();
    let cases = report.cases() as f64;
    Ok(Figure {
        cases_per_s: Some(cases / seconds),
        ..Figure::timed("sweep", 0, 0, seconds / cases)
    })
}

/// The full finite-difference check of the network: central differences of every parameter
/// ([`network_fd`]), the reference gradients, and their comparison.
pub fn full_check(batch: usize, width: usize) -> Result<Figure> {
    let (params, x, y) = network(batch, width);
    let mut passed = true;
    let median_s = median_time(|| {
        passed &= check_network_by_finite_differences(&params, &x, &y)?;
        Ok(())
    })?;
    Ok(Figure {
        passed: Some(passed),
        ..Figure::timed("full_check", batch, width, median_s)
    })
}

/// The full check on random data and on kink-dense data ([`kink_dense_network`]) at (B, D),
/// timed in turn in each of `runs` runs ([`median_times_of`]): `full_check` and
/// `full_check_kinks`, the latter with its ratio to the former.
pub fn full_check_with_kinks(batch: usize, width: usize, runs: usize) -> Result<[Figure; 2]> {
    let random = network(batch, width);
    let kinks = kink_dense_network(batch, width);
    let mut passed = [true; 2];
    let [random_s, kinks_s] = median_times_of(runs, || {
        let mut times = [Duration::ZERO; 2];
        for (k, (params, x, y)) in [&random, &kinks].into_iter().enumerate() {
            let start = Instant::now();
            passed[k] &= check_network_by_finite_differences(params, x, y)?;
            times[k] = start.elapsed();
        }
        Ok(times)
    })?;
    let random = Figure {
        passed: Some(passed[0]),
        ..Figure::timed("full_check", batch, width, random_s)
    };
    let kinks = Figure {
        passed: Some(passed[1]),
        over_random: Some(kinks_s / random_s),
        ..Figure::timed("full_check_kinks", batch, width, kinks_s)
    };
    Ok([random, kinks])
}

/// Every parameter gradient of the reference against central differences: true when all pass.
pub fn check_network_by_finite_differences(
    params: &MlpParams,
    x: &Array2<f64>,
    y: &Array2<f64>,
) -> Result<bool> {
    let reference = mlp::loss_and_grads(params, x, y, Wrt::Params)?.into_params();
    let verdicts = full_check_verdicts(params, x, y, &reference)?;
    Ok(verdicts.iter().all(|v| *v == Verdict::Pass))
}

/// The verdicts of the full check on six gradients of the network's loss (W1, b1, W2, b2, W3,
/// b3, Eq. 35's order): each against [`network_fd`]'s central differences under the tolerance of
/// [`crate::oracle::check`] (relative [`FINITE_DIFF_REL`] plus the estimate's own error bound;
/// elements at a kink left out).
pub fn full_check_verdicts(
    params: &MlpParams,
    x: &Array2<f64>,
    y: &Array2<f64>,
    grads: &[ArrayD<f64>; 6],
) -> Result<[Verdict; 6]> {
    let fd = network_fd::network_gradients(params, x, y, FdConfig::default())?;
    Ok(std::array::from_fn(|k| {
        let tol = Tolerance {
            rel: FINITE_DIFF_REL,
            abs: Abs::Bound(fd[k].noise.view()),
            compare: Some(fd[k].smooth.view()),
        };
        compare::compare("", fd[k].values.view(), grads[k].view(), &tol).verdict()
    }))
}

/// The full finite-difference check of one case of a course op: central differences of every
/// element of every differentiated input ([`finite_diff`], which moves each element through the
/// op's local form, [`crate::oracle::local_fd`]) against
/// the reference VJP under a random cotangent, compared as [`crate::oracle::check`] compares
/// them: `full_check_conv2d` (N = `batch` images of 3 channels, `width` × `width`, 4 filters of
/// 3×3, stride 1, pad 1) or `full_check_batchnorm` (B×D = `batch` × `width`).
pub fn course_full_check(name: &'static str, batch: usize, width: usize) -> Result<Figure> {
    let mut rng = random::case_rng(11, 0);
    let mut normal = |shape: &[usize]| random::normal_array(&mut rng, shape);
    let (op, inputs): (Arc<dyn Op>, Vec<ArrayD<f64>>) = match name {
        "full_check_conv2d" => (
            Arc::new(Conv2d { stride: 1, pad: 1 }),
            vec![
                normal(&[batch, 3, width, width]),
                normal(&[4, 3, 3, 3]),
                normal(&[4]),
            ],
        ),
        "full_check_batchnorm" => (
            Arc::new(BatchNorm { eps: DEFAULT_EPS }),
            vec![normal(&[batch, width]), normal(&[width]), normal(&[width])],
        ),
        other => {
            return Err(Error::Config {
                arg: "workload".into(),
                value: other.into(),
                expected: "full_check_conv2d or full_check_batchnorm".into(),
            });
        }
    };
    let mut tape = Tape::new();
    let leaves: Vec<Var> = (op.input_names().iter().zip(&inputs))
        .map(|(n, v)| tape.param(n, v.view()))
        .collect();
    let out = tape.apply("out", op, &leaves)?;
    let cotangent = random::normal_array(&mut rng, tape.value(out).shape());
    let mut passed = true;
    let median_s = median_time(|| {
        let vjp = tape.pullback(out, cotangent.clone(), Wrt::Params, &Vjp)?;
        let fd = finite_diff::gradients(&tape, out, cotangent.view(), &leaves, FdConfig::default())?;
        for (&leaf, fd) in leaves.iter().zip(&fd) {
            let tol = Tolerance {
                rel: FINITE_DIFF_REL,
                abs: Abs::Bound(fd.noise.view()),
                compare: Some(fd.smooth.view()),
            };
            let actual = vjp.require(&tape, leaf)?.view();
            passed &= compare::compare("", fd.values.view(), actual, &tol).verdict() == Verdict::Pass;
        }
        Ok(())
    })?;
    Ok(Figure {
        passed: Some(passed),
        ..Figure::timed(name, batch, width, median_s)
    })
}

/// One random projection of the reference gradient: a backward, two forwards and a dot
/// product ([`projection`]).
pub fn projection_check(batch: usize, width: usize) -> Result<Figure> {
    let (params, x, y) = network(batch, width);
    let mut rng = random::case_rng(7, 7);
    let median_s = median_time(|| {
        let g = mlp::loss_and_grads(&params, &x, &y, Wrt::Params)?;
        let grads = g.into_params();
        projection::project(&params, &x, &y, &grads, &mut rng).map(drop)
    })?;
    Ok(Figure::timed("projection_check", batch, width, median_s))
}

/// The figures as the table of `gradverify bench` and `cargo bench --bench speed`: one line per
/// figure with its median time and its rate (GFLOP/s, cases/s, or the kink-dense data's time
/// over the random data's), and under each `backward` the ratio of its time and flops to the
/// `forward` above it.
pub fn table(figures: &[Figure]) -> String {
    let mut out = String::new();
    for (k, f) in figures.iter().enumerate() {
        let size = if f.batch == 0 {
            String::new()
        } else {
            format!("B={} D={}", f.batch, f.width)
        };
        let rate = match (f.cases_per_s, f.flop_rate()) {
            (Some(r), _) => format!("  ({r:.0} cases/s on {})", crate::timing::pool_threads()),
            (None, Some(r)) => format!("  ({:.1} GFLOP/s)", r / 1e9),
            (None, None) => f
                .over_random
                .map_or(String::new(), |r| format!("  (×{r:.2} the random data's)")),
        };
        let time = crate::timing::seconds(f.median_s);
        out += &format!("{:<20} {size:<13} {time:>10}{rate}\n", f.name);
        let forward = k.checked_sub(1).map(|i| &figures[i]);
        if let Some((time, flops)) = forward.and_then(|fw| backward_over_forward(fw, f)) {
            out += &format!(
                "{:<34} backward/forward: time ×{time:.2}, flops ×{flops:.2}\n",
                ""
            );
        }
    }
    out
}

/// Every workload, at the sizes of the peers' figures.
pub fn all() -> Result<Vec<Figure>> {
    let mut figures = Vec::new();
    for (batch, width) in [(32, 64), (256, 1024)] {
        figures.push(forward_backward(batch, width)?);
        figures.extend(forward_and_backward_apart(batch, width)?);
    }
    figures.push(full_check(16, 64)?);
    figures.push(full_check(32, 128)?);
    // About 3 s per check at this size: three runs of each, in turn, with no warm-up.
    figures.extend(full_check_with_kinks(64, 256, 3)?);
    figures.push(projection_check(16, 64)?);
    figures.push(course_full_check("full_check_conv2d", 2, 8)?);
    figures.push(course_full_check("full_check_batchnorm", 64, 256)?);
    figures.push(sweep_throughput()?);
    Ok(figures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_course_full_checks_pass_on_the_reference_and_name_their_workload() {
        for name in ["full_check_conv2d", "full_check_batchnorm"] {
            let f = course_full_check(name, 2, 3).expect("a small case");
            assert_eq!((f.name, f.passed), (name, Some(true)));
        }
        assert!(course_full_check("full_check_relu", 2, 3).is_err());
    }

    #[test]
    fn a_figure_is_one_json_object_with_the_documented_keys() {
        let f = Figure::timed("full_check", 16, 64, 0.0071);
        assert_eq!(
            f.to_json().to_string(),
            r#"{"name":"full_check","B":16,"D":64,"median_s":0.0071}"#
        );
        let s = Figure {
            name: "sweep",
            cases_per_s: Some(7000.0),
            ..f
        };
        let kinks = Figure {
            name: "full_check_kinks",
            passed: Some(true),
            over_random: Some(1.25),
            ..f
        };
        assert_eq!(kinks.to_json()["passed"], json!(true));
        assert_eq!(kinks.to_json()["over_random"], json!(1.25));
        assert_eq!(s.to_json()["cases_per_s"], json!(7000.0));
        let forward = Figure {
            name: "forward",
            median_s: 0.5,
            flops: Some(600_000),
            ..f
        };
        assert_eq!(forward.to_json()["flops"], json!(600_000));
        assert_eq!(forward.flop_rate(), Some(1.2e6));
        let backward = Figure {
            name: "backward",
            median_s: 1.0,
            flops: Some(900_000),
            ..f
        };
        assert_eq!(backward_over_forward(&forward, &backward), Some((2.0, 1.5)));
        assert_eq!(backward_over_forward(&forward, &s), None);
        assert_eq!(backward_over_forward(&backward, &forward), None);
        let other_size = Figure {
            batch: 32,
            ..backward
        };
        assert_eq!(backward_over_forward(&forward, &other_size), None);
    }

    #[test]
    fn the_table_has_a_line_per_figure_and_the_backwards_ratio_under_it() {
        let timed = |name, median_s, flops| Figure {
            flops: Some(flops),
            ..Figure::timed(name, 32, 64, median_s)
        };
        let kinks = Figure {
            over_random: Some(1.25),
            ..Figure::timed("full_check_kinks", 64, 256, 0.5)
        };
        let figures = [
            timed("forward", 2e-5, 600_000),
            timed("backward", 3e-5, 900_000),
            kinks,
        ];
        let table = table(&figures);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4, "{table}");
        assert!(lines[0].starts_with("forward              B=32 D=64"), "{table}");
        assert!(lines[0].ends_with("20.00 µs  (30.0 GFLOP/s)"), "{table}");
        assert!(
            lines[2].ends_with("backward/forward: time ×1.50, flops ×1.50"),
            "{table}"
        );
        assert!(
            lines[3].ends_with("500.00 ms  (×1.25 the random data's)"),
            "{table}"
        );
    }

    #[test]
    fn the_backward_of_the_benchmark_network_does_about_one_and_a_half_times_the_forwards_flops() {
        let [forward, backward] = forward_and_backward_apart(32, 64).unwrap();
        // Forward: three products, 2·32·(64·64 + 64·64 + 64·16) = 589,824 flops, plus the bias
        // additions (32·144), the relus (32·128) and sqerr (3·32·16): 600,064.
        assert_eq!(forward.flops, Some(600_064));
        // Backward: dW for all three layers, dh for the upper two (x is data), 917,504 flops,
        // plus dL/db (32·144), the relu masks (32·128) and sqerr's dL/df (2·32·16): 927,232.
        assert_eq!(backward.flops, Some(927_232));
    }

    #[test]
    fn the_benchmark_network_has_the_issues_shape() {
        let (p, x, y) = network(16, 64);
        assert_eq!(p.widths(), [64, 64, 64, 16]);
        let parameters = p.views().iter().map(|(_, v)| v.len()).sum::<usize>();
        assert_eq!(parameters, 9_360);
        assert_eq!((x.dim(), y.dim()), ((16, 64), (16, 16)));
    }
}
