//! Sweeps: the reference engine checked against both oracles over many random cases, in
//! parallel with rayon.
//!
//! Case `i` draws its kind, shape, values and cotangent from its own ChaCha stream
//! ([`random::case_rng`]`(seed, i)`), and results are kept in case order, so a sweep's result and
//! its summary are the same for any number of threads. A [`Shard`] `i/n` runs the i-th of n
//! contiguous parts of the cases, so that n jobs together run exactly the whole sweep.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use ndarray_rand::rand::Rng;
use rayon::prelude::*;
use serde_json::{Map, Value, json};

use crate::compare::{Comparison, nan_max};
use crate::error::{Error, Result};
use crate::oracle::OracleReport;
use crate::protocol::OpKind;
use crate::random::{self, ShapeBounds};
use crate::verify::ops;

/// The shapes of the sweep's cases: batch up to 6, widths up to 7.
pub const BOUNDS: ShapeBounds = ShapeBounds {
    max_batch: 6,
    max_width: 7,
};

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

/// A sweep, or one shard of it, in case order.
#[derive(Debug, Clone)]
pub struct SweepReport {
    /// The seed every case was drawn from.
    pub seed: u64,
    /// The number of cases in the whole sweep.
    pub total: u64,
    /// The shard this report covers.
    pub shard: Shard,
    /// Every case's result, sorted by index.
    pub cases: Vec<CaseResult>,
}

/// The i-th of n contiguous parts of a sweep (1-based, as in `--shard 2/4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    /// Which part, from 1.
    pub part: u64,
    /// How many parts.
    pub of: u64,
}

impl Shard {
    /// The whole sweep: part 1 of 1.
    pub const WHOLE: Shard = Shard { part: 1, of: 1 };

    /// The case indices of this part of a sweep of `total` cases.
    pub fn range(self, total: u64) -> Range<u64> {
        let bound = |k: u64| (u128::from(total) * u128::from(k) / u128::from(self.of)) as u64;
        bound(self.part - 1)..bound(self.part)
    }
}

impl FromStr for Shard {
    type Err = Error;
    fn from_str(s: &str) -> Result<Shard> {
        let bad = || Error::Config {
            arg: "shard".into(),
            value: s.into(),
            expected: "i/n with 1 ≤ i ≤ n, e.g. 2/4".into(),
        };
        let (part, of) = s.split_once('/').ok_or_else(bad)?;
        let (part, of) = (
            part.trim().parse::<u64>().map_err(|_| bad())?,
            of.trim().parse::<u64>().map_err(|_| bad())?,
        );
        if part == 0 || part > of {
            return Err(bad());
        }
        Ok(Shard { part, of })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.part, self.of)
    }
}

/// Runs cases `0..count` from `seed` in parallel on the current rayon pool.
pub fn run(seed: u64, count: u64) -> Result<SweepReport> {
    run_shard(seed, count, Shard::WHOLE, &|| {})
}

/// Runs `shard`'s part of the cases `0..total` from `seed` in parallel on the current rayon
/// pool, calling `on_case` after each case (for a progress bar).
pub fn run_shard(seed: u64, total: u64, shard: Shard, on_case: &(dyn Fn() + Sync)) -> Result<SweepReport> {
    let cases = shard
        .range(total)
        .into_par_iter()
        .map(|index| {
            let result = run_case(seed, index);
            on_case();
            result
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(SweepReport {
        seed,
        total,
        shard,
        cases,
    })
}

/// Draws case `index` of the sweep `seed` and checks it against both oracles.
pub fn run_case(seed: u64, index: u64) -> Result<CaseResult> {
    let mut rng = random::case_rng(seed, index);
    let kind = OpKind::ALL[(index % OpKind::ALL.len() as u64) as usize];
    let batch = rng.random_range(1..=BOUNDS.max_batch);
    let (shape, report) = ops::op(kind).sweep_case(&mut rng, batch, BOUNDS.max_width)?;
    Ok(CaseResult {
        index,
        kind,
        shape,
        report,
    })
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
    /// Elements that disagree.
    pub failed_elements: usize,
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
        self.failed_elements += c.failed;
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

    /// For each op and then for all together (`None`): the number of cases and the tallies
    /// against (the Jacobian oracle, the finite-difference oracle).
    fn per_op(&self) -> impl Iterator<Item = (Option<OpKind>, usize, Tally, Tally)> + '_ {
        OpKind::ALL.map(Some).into_iter().chain([None]).map(|kind| {
            let cases = self
                .cases
                .iter()
                .filter(|c| kind.is_none_or(|k| c.kind == k))
                .count();
            let (jac, fd) = self.tally(kind);
            (kind, cases, jac, fd)
        })
    }

    /// The cases with any failed comparison.
    pub fn failures(&self) -> impl Iterator<Item = &CaseResult> {
        self.cases.iter().filter(|c| !c.report.is_ok())
    }
}

impl SweepReport {
    /// The part of the summary that is the same on every machine: cases and elements compared
    /// per op (shapes alone fix them) and the verdict, without the rounding-level error figures.
    /// What a regression snapshot should hold.
    pub fn counts(&self) -> String {
        let mut out = format!(
            "seed {}, shard {} of {} cases\n",
            self.seed, self.shard, self.total
        );
        for (kind, cases, jac, fd) in self.per_op() {
            let elements = |t: Tally| t.certified + t.excused + t.skipped + t.failed_elements;
            out += &format!(
                "{:<7} {:>5} cases, {:>6} gradient elements against each oracle, {} arrays failed\n",
                kind.map_or("all", OpKind::name),
                cases,
                elements(jac).max(elements(fd)),
                jac.failed + fd.failed
            );
        }
        out
    }

    /// The report as JSON: the sweep, every case's worst disagreements and counts, and the
    /// failing comparisons.
    pub fn to_json(&self) -> Value {
        let tally = |t: Tally| {
            json!({"arrays": t.arrays, "failed": t.failed, "certified": t.certified, "excused": t.excused,
                   "at_kink": t.skipped, "max_rel_err": t.max_rel_err, "max_array_rel_err": t.max_array_rel_err})
        };
        let per_op: Map<String, Value> = self
            .per_op()
            .map(|(kind, _, jac, fd)| {
                let name = kind.map_or("all", OpKind::name).to_owned();
                (name, json!({"jacobian": tally(jac), "finite_diff": tally(fd)}))
            })
            .collect();
        let cases: Vec<Value> = self
            .cases
            .iter()
            .map(|c| {
                let fold = |list: &[Comparison]| {
                    let mut t = Tally::default();
                    list.iter().for_each(|c| t.add(c));
                    tally(t)
                };
                json!({"index": c.index, "op": c.kind.name(), "shape": c.shape, "ok": c.report.is_ok(),
                       "jacobian": fold(&c.report.vs_jacobian), "finite_diff": fold(&c.report.vs_finite_diff),
                       "failures": c.report.vs_jacobian.iter().chain(&c.report.vs_finite_diff)
                           .filter(|c| !c.is_ok()).map(|c| c.to_string()).collect::<Vec<_>>()})
            })
            .collect();
        let range = self.shard.range(self.total);
        json!({"seed": self.seed, "total": self.total, "shard": self.shard.to_string(),
               "range": [range.start, range.end], "ok": self.failures().next().is_none(),
               "per_op": per_op, "cases": cases})
    }
}

impl fmt::Display for SweepReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} random cases (seed {}), batch 1..={}, widths 1..={}",
            self.cases.len(),
            self.seed,
            BOUNDS.max_batch,
            BOUNDS.max_width
        )?;
        if self.shard != Shard::WHOLE {
            let range = self.shard.range(self.total);
            write!(
                f,
                "; shard {}: cases {}..{} of {}",
                self.shard, range.start, range.end, self.total
            )?;
        }
        writeln!(f)?;
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
        for (kind, cases, jac, fd) in self.per_op() {
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
