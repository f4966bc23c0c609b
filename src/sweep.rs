//! Sweeps: the reference engine checked against both oracles over many random cases, in
//! parallel with rayon.
//!
//! Case `i` draws its kind, shape, values and cotangent from its own ChaCha stream
//! ([`random::case_rng`]`(seed, i)`), and results are kept in case order, so a sweep's result and
//! its summary are the same for any number of threads.

use std::fmt;

use ndarray::{ArrayD, arr0};
use ndarray_rand::rand::Rng;
use ndarray_rand::rand_distr::StandardNormal;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::compare::{Comparison, nan_max};
use crate::error::Result;
use crate::mlp;
use crate::ops::{Linear, Op, Relu, SqErr};
use crate::oracle::{self, OracleReport};
use crate::protocol::OpKind;
use crate::random;

/// Largest batch B drawn for a case.
pub const MAX_BATCH: usize = 6;
/// Largest width drawn for a case.
pub const MAX_WIDTH: usize = 7;

/// One case's outcome.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The case's index in the sweep.
    pub index: u64,
    /// What it exercised.
    pub kind: OpKind,
    /// Its shape, e.g. `B=3 Din=2 Dout=5`.
    pub shape: String,
    /// The comparisons with both oracles.
    pub report: OracleReport,
}

/// A whole sweep, in case order.
#[derive(Debug, Clone)]
pub struct SweepReport {
    /// The seed every case was drawn from.
    pub seed: u64,
    /// Every case's result, sorted by index.
    pub cases: Vec<CaseResult>,
}

/// Runs cases `0..count` from `seed` in parallel on the current rayon pool.
pub fn run(seed: u64, count: u64) -> Result<SweepReport> {
    let cases = (0..count)
        .into_par_iter()
        .map(|index| run_case(seed, index))
        .collect::<Result<Vec<_>>>()?;
    Ok(SweepReport { seed, cases })
}

/// Draws case `index` of the sweep `seed` and checks it against both oracles.
pub fn run_case(seed: u64, index: u64) -> Result<CaseResult> {
    let mut rng = random::case_rng(seed, index);
    let kind = OpKind::ALL[(index % OpKind::ALL.len() as u64) as usize];
    let dim = |rng: &mut ChaCha8Rng, max: usize| rng.random_range(1..=max);
    let batch = dim(&mut rng, MAX_BATCH);
    let (shape, report) = match kind {
        OpKind::Linear => {
            let (d_in, d_out) = (dim(&mut rng, MAX_WIDTH), dim(&mut rng, MAX_WIDTH));
            let h = random::normal_matrix(&mut rng, batch, d_in).into_dyn();
            let w = random::normal_matrix(&mut rng, d_in, d_out).into_dyn();
            let b = random::normal_vector(&mut rng, d_out).into_dyn();
            (
                format!("B={batch} Din={d_in} Dout={d_out}"),
                single_op(&mut rng, Linear, vec![h, w, b])?,
            )
        }
        OpKind::Relu => {
            let d = dim(&mut rng, MAX_WIDTH);
            let a = random::normal_matrix(&mut rng, batch, d).into_dyn();
            (format!("B={batch} D={d}"), single_op(&mut rng, Relu, vec![a])?)
        }
        OpKind::SqErr => {
            let d = dim(&mut rng, MAX_WIDTH);
            let f = random::normal_matrix(&mut rng, batch, d).into_dyn();
            let y = random::normal_matrix(&mut rng, batch, d).into_dyn();
            (
                format!("B={batch} D={d}"),
                single_op(&mut rng, SqErr, vec![f, y])?,
            )
        }
        OpKind::Mlp => {
            let widths = [0; 4].map(|_| dim(&mut rng, MAX_WIDTH));
            let params = random::mlp_params(&mut rng, widths);
            let x = random::normal_matrix(&mut rng, batch, widths[0]);
            let y = random::normal_matrix(&mut rng, batch, widths[3]);
            let net = mlp::record(&params, &x, &y)?;
            let mut leaves = vec![net.x];
            leaves.extend(net.params);
            let report = oracle::check(&net.tape, net.loss, arr0(1.0).into_dyn().view(), &leaves)?;
            let [d0, d1, d2, d3] = widths;
            (format!("B={batch} D={d0}-{d1}-{d2}-{d3}"), report)
        }
    };
    Ok(CaseResult {
        index,
        kind,
        shape,
        report,
    })
}

/// Checks `op` alone under a random cotangent shaped like its output.
fn single_op(rng: &mut ChaCha8Rng, op: impl Op + 'static, inputs: Vec<ArrayD<f64>>) -> Result<OracleReport> {
    let views: Vec<_> = inputs.iter().map(|a| a.view()).collect();
    let shape = op.forward(&views)?.raw_dim();
    let cotangent = ArrayD::from_shape_simple_fn(shape, || rng.sample::<f64, _>(StandardNormal));
    oracle::check_op(op, inputs, cotangent.view())
}

/// Aggregates over a set of comparisons.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    /// Arrays compared.
    pub arrays: usize,
    /// Arrays whose comparison failed.
    pub failed: usize,
    /// Elements certified.
    pub certified: usize,
    /// Elements excused by the noise floor.
    pub excused: usize,
    /// Elements the oracle could not judge (kinks).
    pub skipped: usize,
    /// The largest element-wise relative error over certified and failed elements.
    pub max_rel_err: f64,
    /// The largest array-wise disagreement, [`Comparison::array_rel_err`].
    pub max_array_rel_err: f64,
}

impl Tally {
    fn add(&mut self, c: &Comparison) {
        self.arrays += 1;
        self.failed += usize::from(!c.is_ok());
        self.certified += c.certified;
        self.excused += c.excused;
        self.skipped += c.skipped;
        self.max_rel_err = nan_max(self.max_rel_err, c.max_rel_err);
        self.max_array_rel_err = nan_max(self.max_array_rel_err, c.array_rel_err());
    }
}

impl SweepReport {
    /// Tallies of the comparisons with (the Jacobian oracle, the finite-difference oracle) over
    /// the cases of `kind`, or all cases with `None`.
    pub fn tally(&self, kind: Option<OpKind>) -> (Tally, Tally) {
        let (mut jac, mut fd) = (Tally::default(), Tally::default());
        for case in self.cases.iter().filter(|c| kind.is_none_or(|k| c.kind == k)) {
            case.report.vs_jacobian.iter().for_each(|c| jac.add(c));
            case.report.vs_finite_diff.iter().for_each(|c| fd.add(c));
        }
        (jac, fd)
    }

    /// The cases with any failed comparison.
    pub fn failures(&self) -> impl Iterator<Item = &CaseResult> {
        self.cases.iter().filter(|c| !c.report.is_ok())
    }
}

impl fmt::Display for SweepReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} random cases (seed {}), batch 1..={MAX_BATCH}, widths 1..={MAX_WIDTH}",
            self.cases.len(),
            self.seed
        )?;
        let groups = format!(
            "{:<7} {:>6}   {:^26}   {:^44}",
            "op", "cases", "VJP vs Jacobian (Eq. 36)", "VJP vs central differences"
        );
        writeln!(f, "{}", groups.trim_end())?;
        writeln!(
            f,
            "{:<7} {:>6}   {:>9} {:>16}   {:>9} {:>16} {:>8} {:>8}",
            "", "", "elements", "max|a-e|/max|e|", "elements", "max|a-e|/max|e|", "excused", "at kink"
        )?;
        let kinds = OpKind::ALL.map(Some).into_iter().chain([None]);
        for kind in kinds {
            let cases = self
                .cases
                .iter()
                .filter(|c| kind.is_none_or(|k| c.kind == k))
                .count();
            let (jac, fd) = self.tally(kind);
            writeln!(
                f,
                "{:<7} {:>6}   {:>9} {:>16.2e}   {:>9} {:>16.2e} {:>8} {:>8}",
                kind.map_or("all", OpKind::name),
                cases,
                jac.certified + jac.excused,
                jac.max_array_rel_err,
                fd.certified + fd.excused,
                fd.max_array_rel_err,
                fd.excused,
                fd.skipped
            )?;
        }
        let failures: Vec<_> = self.failures().collect();
        if failures.is_empty() {
            write!(f, "every case agrees with both oracles")
        } else {
            writeln!(f, "{} cases DISAGREE:", failures.len())?;
            for case in failures {
                writeln!(f, "  case {} ({}, {}):", case.index, case.kind.name(), case.shape)?;
                let all = case.report.vs_jacobian.iter().chain(&case.report.vs_finite_diff);
                for c in all.filter(|c| !c.is_ok()) {
                    writeln!(f, "    {c}")?;
                }
            }
            Ok(())
        }
    }
}
