//! Sweeps: the reference engine checked against both oracles over many random cases, in
//! parallel with rayon.
//!
//! Case `i` is of the op `i mod n` of the registry's n ops, and is that op's case `k = i div n`:
//! it draws its shape, values and cotangent from a ChaCha stream of its own,
//! ([`random::op_case_rng`]`(seed, op, k)`), so that adding an op leaves every other op's cases
//! as they were. Results are kept in case order, so a sweep's result and its summary are the same
//! for any number of threads. A [`Shard`] `i/n` runs the i-th of n
//! contiguous parts of the cases, so that n jobs together run exactly the whole sweep.
//!
//! A sweep's memory is flat in the number of cases: each case is folded into its op's tallies as
//! it finishes (counts and maxima, so the order of folding does not change them) and dropped,
//! and only the failing cases are kept whole. A one-line summary of every case is kept only when
//! asked for ([`Keep::EveryCase`], for the JSON report, which lists them all).

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use ndarray_rand::rand::Rng;
use rayon::prelude::*;
use serde_json::{Map, Value, json};

use crate::catalogue::OpKind;
use crate::compare::{Comparison, nan_max};
use crate::error::{Error, Result};
use crate::oracle::OracleReport;
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

/// One case in a line: what it exercised and its tallies against each oracle.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseLine {
    /// The case's index in the sweep.
    pub index: u64,
    /// What it exercised.
    pub kind: OpKind,
    /// Its shape, e.g. `B=3 Din=2 Dout=5`.
    pub shape: String,
    /// True when no comparison failed.
    pub ok: bool,
    /// Its comparisons with the Jacobian oracle, tallied.
    pub jacobian: Tally,
    /// Its comparisons with central differences, tallied.
    pub finite_diff: Tally,
}

impl CaseLine {
    /// The line of one case's result.
    pub fn of(case: &CaseResult) -> CaseLine {
        let fold = |list: &[Comparison]| {
            let mut t = Tally::default();
            list.iter().for_each(|c| t.add(c));
            t
        };
        CaseLine {
            index: case.index,
            kind: case.kind,
            shape: case.shape.clone(),
            ok: case.report.is_ok(),
            jacobian: fold(&case.report.vs_jacobian),
            finite_diff: fold(&case.report.vs_finite_diff),
        }
    }
}

/// What a sweep keeps of each case besides the tallies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The failing cases whole; memory flat in the number of cases.
    Failures,
    /// The failing cases whole and a [`CaseLine`] of every case.
    EveryCase,
}

/// The tallies of one op's cases (or all cases).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OpTally {
    /// Cases run.
    pub cases: usize,
    /// Their comparisons with the Jacobian oracle.
    pub jacobian: Tally,
    /// Their comparisons with central differences.
    pub finite_diff: Tally,
}

impl OpTally {
    fn add(&mut self, case: &CaseResult) {
        self.cases += 1;
        case.report.vs_jacobian.iter().for_each(|c| self.jacobian.add(c));
        case.report
            .vs_finite_diff
            .iter()
            .for_each(|c| self.finite_diff.add(c));
    }

    fn merge(&mut self, other: &OpTally) {
        self.cases += other.cases;
        self.jacobian.merge(&other.jacobian);
        self.finite_diff.merge(&other.finite_diff);
    }
}

/// A sweep, or one shard of it: tallies per op, and the failing cases in case order.
#[derive(Debug, Clone)]
pub struct SweepReport {
    /// The seed every case was drawn from.
    pub seed: u64,
    /// The number of cases in the whole sweep.
    pub total: u64,
    /// The shard this report covers.
    pub shard: Shard,
    /// The tallies of each op's cases, in the order of [`ops::all`].
    pub per_op: Vec<OpTally>,
    /// The cases with any failed comparison, sorted by index.
    pub failures: Vec<CaseResult>,
    /// A line for every case, sorted by index, with [`Keep::EveryCase`].
    pub lines: Option<Vec<CaseLine>>,
}

impl SweepReport {
    fn empty(seed: u64, total: u64, shard: Shard, keep: Keep) -> SweepReport {
        SweepReport {
            seed,
            total,
            shard,
            per_op: vec![OpTally::default(); ops::all().len()],
            failures: Vec::new(),
            lines: (keep == Keep::EveryCase).then(Vec::new),
        }
    }

    /// Folds one case in: its tallies, and the case itself if it failed.
    fn add(mut self, case: CaseResult) -> SweepReport {
        let op = ops::all().iter().position(|k| *k == case.kind);
        if let Some(op) = op {
            self.per_op[op].add(&case);
        }
        if let Some(lines) = &mut self.lines {
            lines.push(CaseLine::of(&case));
        }
        if !case.report.is_ok() {
            self.failures.push(case);
        }
        self
    }

    /// Two reports over disjoint cases as one, the cases sorted by index.
    fn merge(mut self, other: SweepReport) -> SweepReport {
        for (mine, theirs) in self.per_op.iter_mut().zip(&other.per_op) {
            mine.merge(theirs);
        }
        self.failures.extend(other.failures);
        self.failures.sort_by_key(|c| c.index);
        if let (Some(lines), Some(theirs)) = (&mut self.lines, other.lines) {
            lines.extend(theirs);
            lines.sort_by_key(|l| l.index);
        }
        self
    }

    /// The number of cases run.
    pub fn cases(&self) -> usize {
        self.per_op.iter().map(|t| t.cases).sum()
    }
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

/// Runs cases `0..count` from `seed` in parallel on the current rayon pool, keeping the
/// failures.
pub fn run(seed: u64, count: u64) -> Result<SweepReport> {
    run_shard(seed, count, Shard::WHOLE, Keep::Failures, &|| {})
}

/// Runs `shard`'s part of the cases `0..total` from `seed` in parallel on the current rayon
/// pool, keeping what `keep` says, calling `on_case` after each case (for a progress bar).
pub fn run_shard(
    seed: u64,
    total: u64,
    shard: Shard,
    keep: Keep,
    on_case: &(dyn Fn() + Sync),
) -> Result<SweepReport> {
    let empty = || SweepReport::empty(seed, total, shard, keep);
    shard
        .range(total)
        .into_par_iter()
        .map(|index| {
            let result = run_case(seed, index);
            on_case();
            result
        })
        .try_fold(empty, |report, case| Ok(report.add(case?)))
        .try_reduce(empty, |a, b| Ok(a.merge(b)))
}

/// Draws case `index` of the sweep `seed` and checks it against both oracles.
pub fn run_case(seed: u64, index: u64) -> Result<CaseResult> {
    let all = ops::all();
    let kind = all[(index % all.len() as u64) as usize];
    let mut rng = random::op_case_rng(seed, kind.name(), index / all.len() as u64);
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

    fn merge(&mut self, other: &Tally) {
        self.arrays += other.arrays;
        self.failed += other.failed;
        self.certified += other.certified;
        self.excused += other.excused;
        self.skipped += other.skipped;
        self.failed_elements += other.failed_elements;
        self.max_rel_err = nan_max(self.max_rel_err, other.max_rel_err);
        self.max_array_rel_err = nan_max(self.max_array_rel_err, other.max_array_rel_err);
    }
}

impl SweepReport {
    /// Tallies of the comparisons with (the Jacobian oracle, the finite-difference oracle) over
    /// the cases of `kind`, or all cases with `None`.
    pub fn tally(&self, kind: Option<OpKind>) -> (Tally, Tally) {
        let mut all = OpTally::default();
        for (_, t) in (ops::all().iter())
            .zip(&self.per_op)
            .filter(|(k, _)| kind.is_none_or(|kind| **k == kind))
        {
            all.merge(t);
        }
        (all.jacobian, all.finite_diff)
    }

    /// For each op and then for all together (`None`): the number of cases and the tallies
    /// against (the Jacobian oracle, the finite-difference oracle).
    fn per_op(&self) -> impl Iterator<Item = (Option<OpKind>, usize, Tally, Tally)> + '_ {
        let mut all = OpTally::default();
        self.per_op.iter().for_each(|t| all.merge(t));
        let ops = (ops::all().iter().zip(&self.per_op)).map(|(k, t)| (Some(*k), *t));
        ops.chain([(None, all)])
            .map(|(kind, t)| (kind, t.cases, t.jacobian, t.finite_diff))
    }

    /// The cases with any failed comparison.
    pub fn failures(&self) -> impl Iterator<Item = &CaseResult> {
        self.failures.iter()
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
                "{:<12} {:>5} cases, {:>6} gradient elements against each oracle, {} arrays failed\n",
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
        // Every case with its line where kept, the failing ones otherwise.
        let failing: Vec<CaseLine>;
        let lines = match &self.lines {
            Some(lines) => lines,
            None => {
                failing = self.failures.iter().map(CaseLine::of).collect();
                &failing
            }
        };
        let mut failures = self.failures.iter().peekable();
        let cases: Vec<Value> = lines
            .iter()
            .map(|c| {
                let failed = failures.next_if(|f| f.index == c.index).map(|f| {
                    f.report
                        .vs_jacobian
                        .iter()
                        .chain(&f.report.vs_finite_diff)
                        .filter(|c| !c.is_ok())
                        .map(|c| c.to_string())
                        .collect::<Vec<_>>()
                });
                json!({"index": c.index, "op": c.kind.name(), "shape": c.shape, "ok": c.ok,
                       "jacobian": tally(c.jacobian), "finite_diff": tally(c.finite_diff),
                       "failures": failed.unwrap_or_default()})
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
            self.cases(),
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
            "{:<12} {:>6}   {:^26}   {:^44}",
            "op", "cases", "VJP vs Jacobian (Eq. 36)", "VJP vs central differences"
        );
        writeln!(f, "{}", groups.trim_end())?;
        writeln!(
            f,
            "{:<12} {:>6}   {:>9} {:>16}   {:>9} {:>16} {:>8} {:>8}",
            "", "", "elements", "max|a-e|/max|e|", "elements", "max|a-e|/max|e|", "excused", "at kink"
        )?;
        for (kind, cases, jac, fd) in self.per_op() {
            writeln!(
                f,
                "{:<12} {:>6}   {:>9} {:>16.2e}   {:>9} {:>16.2e} {:>8} {:>8}",
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

#[cfg(test)]
mod tests {
    use ndarray::arr1;

    use super::*;
    use crate::compare::{self, Tolerance};

    /// A case of `kind` whose one comparison with central differences passes, or fails.
    fn case(index: u64, kind: OpKind, fails: bool) -> CaseResult {
        let expected = arr1(&[1.0, 2.0]).into_dyn();
        let actual = arr1(&[1.0, if fails { 3.0 } else { 2.0 }]).into_dyn();
        let c = compare::compare(
            "dL/dx",
            expected.view(),
            actual.view(),
            &Tolerance::uniform(1e-6, 0.0),
        );
        CaseResult {
            index,
            kind,
            shape: format!("B={index}"),
            report: OracleReport {
                vs_jacobian: Vec::new(),
                vs_finite_diff: vec![c],
            },
        }
    }

    #[test]
    fn folding_in_any_order_gives_the_same_tallies_and_the_failures_in_case_order() {
        let cases = [
            case(0, crate::verify::ops::linear::KIND, false),
            case(1, crate::verify::ops::relu::KIND, true),
            case(2, crate::verify::ops::linear::KIND, true),
            case(3, crate::verify::ops::mlp::KIND, false),
        ];
        let empty = || SweepReport::empty(0, 4, Shard::WHOLE, Keep::Failures);
        let in_order = cases.iter().cloned().fold(empty(), SweepReport::add);
        // Two halves folded apart, the later half first, then merged.
        let late = cases[2..].iter().cloned().fold(empty(), SweepReport::add);
        let early = cases[..2].iter().cloned().fold(empty(), SweepReport::add);
        let merged = late.merge(early);
        for report in [&in_order, &merged] {
            let indices: Vec<u64> = report.failures().map(|c| c.index).collect();
            assert_eq!(indices, [1, 2]);
            assert_eq!(report.cases(), 4);
            assert!(report.lines.is_none());
            let (_, fd) = report.tally(Some(crate::verify::ops::linear::KIND));
            assert_eq!(
                (fd.arrays, fd.failed, fd.certified, fd.failed_elements),
                (2, 1, 3, 1)
            );
        }
        assert_eq!(in_order.to_string(), merged.to_string());
        assert_eq!(in_order.to_json(), merged.to_json());
        let json = merged.to_json();
        assert_eq!(json["ok"], json!(false));
        assert_eq!(
            json["cases"].as_array().map(Vec::len),
            Some(2),
            "the failing cases"
        );
        assert_eq!(json["cases"][1]["failures"].as_array().map(Vec::len), Some(1));
    }
}
