//! Measured time of both roads of the backward on this machine (never snapshotted: times depend
//! on the machine and its load).
//!
//! Each figure is the median of repeated runs of [`Tape::pullback`] after one warm-up run, with
//! the reference [`Vjp`] and with [`JacobianContraction`], on the same recorded forward pass. The
//! Jacobian road is skipped where its model says it would allocate more than
//! [`JACOBIAN_BUDGET_BYTES`]. The growth exponent is the least-squares slope of log(time) against
//! log(D) at B = 1 over the widths from [`FIT_FROM_WIDTH`] on, where fixed per-call overhead no
//! longer dominates: about 2 for relu's Jacobian road against about 1 for its VJP (Eq. 44–47).

use std::fmt;
use std::time::{Duration, Instant};

use ndarray::ArrayD;
use ndarray_rand::RandomExt;
use ndarray_rand::rand_distr::StandardNormal;

use crate::cost::{self, model_cost};
use crate::error::Result;

use crate::catalogue::OpKind;
use crate::oracle::jacobian::JacobianContraction;
use crate::random;
use crate::tape::{Pullback, Vjp, Wrt};
use crate::verify::ops;
use crate::workload::Workload;

/// The Jacobian road is not run where it would allocate more than this.
pub const JACOBIAN_BUDGET_BYTES: u64 = 512 << 20;
/// The growth exponent is fitted over widths from this one on.
pub const FIT_FROM_WIDTH: usize = 64;
/// Each measurement repeats until this much time has passed (and at least three times).
const MEASURE_FOR: Duration = Duration::from_millis(60);

/// Median times of both roads for one op at one size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// Which op.
    pub op: OpKind,
    /// Batch size B.
    pub batch: usize,
    /// Width D.
    pub width: usize,
    /// Seconds of the VJP road.
    pub vjp_s: f64,
    /// Seconds of the Jacobian road, when it fits the budget.
    pub jacobian_s: Option<f64>,
}

/// Measured times for every op and size, with growth exponents.
#[derive(Debug, Clone, PartialEq)]
pub struct TimingTable {
    /// Rows by op, then batch, then width.
    pub rows: Vec<Timing>,
}

/// The median time of `run`, after one warm-up run, over at least three runs and 60 ms.
pub fn median_time(mut run: impl FnMut() -> Result<()>) -> Result<f64> {
    let [median] = median_times(|| {
        let t = Instant::now();
        run()?;
        Ok([t.elapsed()])
    })?;
    Ok(median)
}

/// The median of each of the `N` durations that `run` measures of its parts, over the same runs
/// (after one warm-up run, at least three runs and 60 ms): parts timed in turn see the same
/// state of the machine, so their ratio is steadier than that of separate measurements.
pub fn median_times<const N: usize>(mut run: impl FnMut() -> Result<[Duration; N]>) -> Result<[f64; N]> {
    run()?;
    let mut times: [Vec<f64>; N] = std::array::from_fn(|_| Vec::new());
    let start = Instant::now();
    let mut runs = 0;
    while runs < 3 || start.elapsed() < MEASURE_FOR {
        for (part, time) in times.iter_mut().zip(run()?) {
            part.push(time.as_secs_f64());
        }
        runs += 1;
    }
    Ok(times.map(median))
}

/// The median of each of the `N` durations that `run` measures, over exactly `runs` runs and
/// no warm-up: for workloads of seconds, too long to repeat for [`MEASURE_FOR`], whose first run
/// is not measurably slower than the others.
pub fn median_times_of<const N: usize>(
    runs: usize,
    mut run: impl FnMut() -> Result<[Duration; N]>,
) -> Result<[f64; N]> {
    let mut times: [Vec<f64>; N] = std::array::from_fn(|_| Vec::with_capacity(runs));
    for _ in 0..runs.max(1) {
        for (part, time) in times.iter_mut().zip(run()?) {
            part.push(time.as_secs_f64());
        }
    }
    Ok(times.map(median))
}

/// The median of some times (the upper one of an even count).
fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Measures both roads for `op` at this size; `None` where the op is not defined there.
pub fn measure(op: OpKind, batch: usize, width: usize) -> Result<Option<Timing>> {
    let (Some(inputs), Some(cost)) = (
        ops::op(op).timing_inputs(batch, width),
        model_cost(op, batch, width)?,
    ) else {
        return Ok(None);
    };
    let (tape, out) = inputs.record()?;
    // The loss is seeded with dL/dL = 1; a lone op with a random upstream gradient.
    let (cotangent, wrt) = match inputs {
        Workload::Mlp(_) => (ArrayD::ones(tape.value(out).raw_dim()), Wrt::Params),
        Workload::Op(..) => {
            let mut rng = random::case_rng(4, width as u64 * 64 + batch as u64);
            let cotangent = ArrayD::random_using(tape.value(out).shape(), StandardNormal, &mut rng);
            (cotangent, Wrt::ParamsAndData)
        }
    };
    let time =
        |road: &dyn Pullback| median_time(|| tape.pullback(out, cotangent.clone(), wrt, road).map(drop));
    let jacobian_fits = cost.jacobian.bytes <= JACOBIAN_BUDGET_BYTES;
    Ok(Some(Timing {
        op,
        batch,
        width,
        vjp_s: time(&Vjp)?,
        jacobian_s: if jacobian_fits {
            Some(time(&JacobianContraction)?)
        } else {
            None
        },
    }))
}

impl TimingTable {
    /// Measures every op at [`cost::SIZES`] × [`cost::BATCHES`].
    pub fn standard() -> Result<TimingTable> {
        let mut rows = Vec::new();
        for &op in ops::all() {
            for &batch in &cost::BATCHES {
                for &width in &cost::SIZES {
                    rows.extend(measure(op, batch, width)?);
                }
            }
        }
        Ok(TimingTable { rows })
    }

    /// The growth exponents (VJP, Jacobian) of `op` in D at B = 1, over widths from
    /// [`FIT_FROM_WIDTH`]; `None` with fewer than two measured widths.
    pub fn exponents(&self, op: OpKind) -> (Option<f64>, Option<f64>) {
        let at_b1 = || {
            self.rows
                .iter()
                .filter(move |r| r.op == op && r.batch == 1 && r.width >= FIT_FROM_WIDTH)
        };
        let vjp: Vec<(f64, f64)> = at_b1().map(|r| (r.width as f64, r.vjp_s)).collect();
        let jac: Vec<(f64, f64)> = at_b1()
            .filter_map(|r| Some((r.width as f64, r.jacobian_s?)))
            .collect();
        (log_log_slope(&vjp), log_log_slope(&jac))
    }
}

/// The least-squares slope of log(y) against log(x); `None` with fewer than two points.
pub fn log_log_slope(points: &[(f64, f64)]) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let logs: Vec<(f64, f64)> = points.iter().map(|(x, y)| (x.ln(), y.ln())).collect();
    let n = logs.len() as f64;
    let (mx, my) = (
        logs.iter().map(|p| p.0).sum::<f64>() / n,
        logs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxy: f64 = logs.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = logs.iter().map(|(x, _)| (x - mx) * (x - mx)).sum();
    Some(sxy / sxx)
}

/// "1 thread" or "N threads": the size of the current rayon pool.
pub fn pool_threads() -> String {
    match rayon::current_num_threads() {
        1 => "1 thread".to_owned(),
        n => format!("{n} threads"),
    }
}

/// Seconds with a unit: `812 ns`, `3.41 µs`, `12.0 ms`, `1.52 s`.
pub fn seconds(s: f64) -> String {
    match s {
        s if s < 1e-6 => format!("{:.0} ns", s * 1e9),
        s if s < 1e-3 => format!("{:.2} µs", s * 1e6),
        s if s < 1.0 => format!("{:.2} ms", s * 1e3),
        s => format!("{s:.2} s"),
    }
}

impl fmt::Display for TimingTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Measured backward time on this machine (median of repeated runs; Jacobian road skipped above {})",
            cost::bytes(JACOBIAN_BUDGET_BYTES)
        )?;
        writeln!(
            f,
            "{:<12} {:>3} {:>5} {:>11} {:>13} {:>9}",
            "op", "B", "D", "VJP", "Jacobian", "ratio"
        )?;
        for r in &self.rows {
            let (jac, ratio) = match r.jacobian_s {
                Some(j) => (seconds(j), format!("×{:.0}", j / r.vjp_s)),
                None => ("skipped".to_owned(), "—".to_owned()),
            };
            writeln!(
                f,
                "{:<12} {:>3} {:>5} {:>11} {:>13} {:>9}",
                r.op.name(),
                r.batch,
                r.width,
                seconds(r.vjp_s),
                jac,
                ratio
            )?;
        }
        write!(
            f,
            "growth exponent in D at B = 1, D ≥ {FIT_FROM_WIDTH} (time ∝ D^k):"
        )?;
        for &op in ops::all() {
            let (v, j) = self.exponents(op);
            let show = |k: Option<f64>| k.map_or("—".to_owned(), |k| format!("{k:.2}"));
            write!(
                f,
                "\n  {:<12} VJP {:>5}   Jacobian {:>5}",
                op.name(),
                show(v),
                show(j)
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_times_gives_each_parts_own_median_over_the_same_runs() {
        // Part 0 takes 1, 2, 3, 1, 2, 3, … µs and part 1 ten times as long.
        let mut k = 0_u64;
        let [first, second] = median_times(|| {
            k += 1;
            let us = Duration::from_micros(k % 3 + 1);
            Ok([us, us * 10])
        })
        .unwrap();
        assert_eq!((first, second), (2e-6, 2e-5));
        assert!(k >= 4, "a warm-up and at least three runs, {k} runs");
    }

    #[test]
    fn median_times_of_runs_exactly_so_many_times_with_no_warm_up() {
        let mut k = 0_u64;
        let [median] = median_times_of(3, || {
            k += 1;
            Ok([Duration::from_micros([5, 1, 3][k as usize - 1])])
        })
        .unwrap();
        assert_eq!((median, k), (3e-6, 3));
    }

    #[test]
    fn median_times_of_no_parts_is_empty() {
        assert_eq!(median_times(|| Ok([])).unwrap(), [0.0; 0]);
    }
}
