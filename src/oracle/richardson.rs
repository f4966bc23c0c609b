//! The one finite-difference core: central differences over a shrinking sequence of steps,
//! extrapolated as in Ridders' method (Numerical Recipes' `dfridr`, numdifftools), with an error
//! bound computed from the sequence itself.
//!
//! For a coordinate θ and steps `h_i = h₀ / 1.4^i` (`h₀ = first · max(1, |θ|)`), the central quotient
//! `q_i = (L(θ + h_i) − L(θ − h_i)) / ((θ + h_i) − (θ − h_i))` has a truncation error
//! `c₁h² + c₂h⁴ + …` where L is smooth. Richardson's tableau removes it one power at a time:
//! `T[i][0] = q_i`, `T[i][j] = (r^j T[i][j−1] − T[i−1][j−1]) / (r^j − 1)` with `r = 1.4²`. The error of an entry is
//! estimated from its neighbours, as `dfridr` does, plus the entry of the row above (a second look
//! against a lucky agreement): `e = max(|T[i][j] − T[i][j−1]|, |T[i][j] − T[i−1][j−1]|,
//! |T[i][j] − T[i−1][j]|)`. (The width divided by is the one actually stepped, exact in floating
//! point.)
//!
//! **Rounding.** Each quotient's rounding error is at most `κ · ε · M / width`, with M the
//! magnitude actually subtracted, which the caller knows: `Σ |vⱼ| (|outⱼ⁺| + |outⱼ⁻|)` over the
//! terms that changed, never `|L|` (a sum of cancelling terms is small, its rounding is not; the
//! terms that did not change cancel exactly and add nothing). It is carried through the tableau
//! with the same coefficients, `N[i][j] = (r^j N[i][j−1] + N[i−1][j−1]) / (r^j − 1)`, and the bound
//! of an entry is `e + N`. (The forward's own rounding, ε times its condition number, is not
//! known here; the comparison's relative tolerance covers it.)
//!
//! Where the objective is known to be quadratic along the coordinate ([`Steps::quadratic`]),
//! the first smooth quotient is exact up to rounding and is the estimate.
//!
//! **Stopping.** The entry with the smallest bound is kept. The sequence stops when that bound is
//! below [`STOP_REL`] of the value or at rounding level; when the rounding of the newest quotient
//! alone exceeds it (a smaller step can only be worse); or after `count` steps.
//!
//! **A first look.** Where the caller holds an independent claim of the value (a check comparing an
//! op's own backward), [`Sequence::first_look`] takes two quotients only, at a short step h (3e-4) and
//! h/1.4, and extrapolates once: `T₁₁ = (r q₁ − q₀) / (r − 1)`, bounded by
//! `|T₁₁ − q₀| + |T₁₁ − q₁| + N₁₁` (twice the truncation of q₀ where the step is asymptotic). Two
//! quotients cannot show that the sequence is asymptotic (the ratio test needs three), so the
//! estimate is used only where it certifies the claim ([`crate::compare::certified_by`]): a lucky
//! agreement of the two quotients at a step longer than the function's scale would have to match
//! the claim too. Elsewhere the caller runs the whole sequence. On smooth functions that is 4
//! evaluations per coordinate instead of 12 to 16.
//!
//! **Kinks.** Across a kink at distance d the quotient changes like d/h as h passes d, so no entry
//! that uses such a step has a small error; below d the sequence converges again. Where the graph
//! is known, the caller also says which steps reached a kink (the structural test, exact), and
//! entries that use them are not chosen. An estimate whose bound stays above [`RESOLVED`] of its
//! value and above rounding level has not converged: the oracle is blind there.

// The comparison owns it (only a resolved estimate certifies); `converged` here means the same.
pub use crate::compare::RESOLVED;

/// Steps shrink by this factor (as `dfridr`'s 1.4), so the leading truncation term shrinks by its
/// square, 1.96. Not an integer: with halving, a step where kh ≈ 2π makes every longer step an
/// alias of a short one for sin(kx), and the sequence converges, smoothly and wrongly.
const SHRINK: f64 = 1.4;
/// Past the function's scale, each halving of the step shrinks the quotient's change at least
/// this much.
const ASYMPTOTIC_RATIO: f64 = 1.5;
/// The most steps in one sequence (one bit each in the asymptotic flags).
const MAX_STEPS: usize = 128;
/// The highest extrapolation order used: higher ones amplify rounding more than they remove.
const MAX_ORDER: usize = 6;
/// Safety factor on the rounding bound of one quotient.
pub const ROUNDING_SAFETY: f64 = 8.0;
/// The sequence stops once the bound is this fraction of the value.
pub const STOP_REL: f64 = 1e-9;
/// The first look's step, relative to `max(1, |θ|)`: short enough that two quotients bound a
/// smooth derivative to 1e-6 of it while its third derivative is up to 40 times its size (the
/// bound is about `2.3e-8 f'''`), long enough that the rounding, about `3e-12 M`, stays below
/// that where the terms subtracted are up to 1e5 times the derivative.
pub const FIRST_LOOK_STEP: f64 = 3e-4;
/// The quotients of a first look.
const FIRST_LOOK_QUOTIENTS: usize = 2;

/// The sequence of steps: `h_i = first · max(1, |θ|) / 1.4^i` for i < count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Steps {
    /// The first step, relative to `max(1, |θ|)`.
    pub first: f64,
    /// At most this many quotients (and at most 128).
    pub count: usize,
    /// Judge each entry only once the next row is known, and count its distance to it in the
    /// error: for callers whose rounding bound may be low (they cannot see every value the
    /// forward subtracts), where quantized rounding noise may agree with itself by chance.
    pub look_ahead: bool,
    /// The objective is known to be a quadratic along each coordinate between kinks (the Eq. 33
    /// network: affine layers, relu masks fixed, squared error): the central quotient has no
    /// truncation error, so one smooth quotient is the estimate, with its rounding as the bound.
    pub quadratic: bool,
}

impl Steps {
    /// For an unknown function: a large first step (exact for polynomials of degree 2, the
    /// smallest rounding) and a sequence long enough to reach below 1e-9 of it.
    pub const ANY_FUNCTION: Steps = Steps {
        first: 0.125,
        count: 64,
        look_ahead: true,
        quadratic: false,
    };
}

/// One central difference, as the caller measured it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// `L(θ + h) − L(θ − h)`, computed term by term where possible.
    pub difference: f64,
    /// The magnitude the difference's rounding scales with (see the module docs).
    pub magnitude: f64,
    /// False when the structural test found a kink between θ − h and θ + h.
    pub smooth: bool,
}

impl Sample {
    /// A step that reached a kink: its value is not needed.
    pub const KINK: Sample = Sample {
        difference: f64::NAN,
        magnitude: f64::NAN,
        smooth: false,
    };
}

/// The derivative at one coordinate, with its error bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The extrapolated derivative (NaN when no step was smooth).
    pub value: f64,
    /// The bound on `|value − true derivative|`: the sequence's error plus rounding.
    pub error: f64,
    /// The rounding part of `error`.
    pub rounding: f64,
    /// The steps it was built from were smooth (always true where the graph is unknown).
    pub smooth: bool,
    /// The bound is below [`RESOLVED`] of the value, or at rounding level.
    pub converged: bool,
    /// How many quotients were evaluated.
    pub quotients: usize,
}

impl Estimate {
    /// The estimate may be compared: smooth, converged and finite.
    pub fn comparable(&self) -> bool {
        self.smooth && self.converged && self.value.is_finite() && self.error.is_finite()
    }
}

/// One entry of the tableau.
#[derive(Debug, Clone, Copy)]
struct Entry {
    value: f64,
    rounding: f64,
    /// Every quotient it uses was smooth and finite.
    valid: bool,
}

impl Entry {
    /// No entry (yet): the orders a row does not reach.
    const EMPTY: Entry = Entry {
        value: f64::NAN,
        rounding: f64::NAN,
        valid: false,
    };
}

/// One row of the tableau: `T[i][0..=MAX_ORDER]`.
type Row = [Entry; MAX_ORDER + 1];

/// The entry with the smallest bound so far.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    /// `e + N`, the bound on its error.
    bound: f64,
    entry: Entry,
    /// Its largest distance to a neighbour, `e` in the module docs.
    e: f64,
}

impl Candidate {
    /// The sequence stops here: the bound is below [`STOP_REL`] of the value or at rounding
    /// level, or the rounding of the `newest` quotient alone exceeds it.
    fn stops_before(&self, newest: Entry) -> bool {
        self.bound <= STOP_REL * self.entry.value.abs()
            || self.e <= self.entry.rounding
            || newest.rounding > self.bound
    }
}

/// The derivative at `theta` from central differences: `sample(plus, minus)` returns the
/// difference of the objective between the two coordinate values.
pub fn estimate<E>(
    theta: f64,
    steps: Steps,
    mut sample: impl FnMut(f64, f64) -> Result<Sample, E>,
) -> Result<Estimate, E> {
    let mut sequence = Sequence::new(theta, steps);
    while let Some((plus, minus)) = sequence.next_pair() {
        sequence.feed(sample(plus, minus)?);
    }
    Ok(sequence.estimate())
}

/// [`estimate`] turned inside out, for a caller that samples many coordinates at once (a
/// program asked for a batch of forwards in one request): [`Sequence::next_pair`] says where to
/// sample next, [`Sequence::feed`] takes the sample, and [`Sequence::estimate`] concludes. The
/// samples asked for, and the estimate, are those of [`estimate`].
#[derive(Debug, Clone)]
pub struct Sequence {
    theta: f64,
    steps: Steps,
    tableau: Tableau,
    /// The first quotient, the estimate when no entry could be judged.
    first: f64,
    any_valid: bool,
    best: Option<Candidate>,
    /// The next step.
    h: f64,
    /// The next quotient's index.
    i: usize,
    /// The width of the pair asked for and not yet fed.
    pending: Option<f64>,
    /// No more samples are needed; `exact` holds the estimate of a quadratic objective.
    done: bool,
    exact: Option<Estimate>,
    /// Two quotients and one extrapolation ([`Sequence::first_look`]).
    first_look: bool,
}

impl Sequence {
    /// The sequence of `steps` at `theta`, before its first sample.
    pub fn new(theta: f64, steps: Steps) -> Sequence {
        Sequence {
            theta,
            steps,
            tableau: Tableau::new(),
            first: f64::NAN,
            any_valid: false,
            best: None,
            h: steps.first * theta.abs().max(1.0),
            i: 0,
            pending: None,
            done: false,
            exact: None,
            first_look: false,
        }
    }

    /// A first look at `theta` (see the module docs): two quotients from the step `first ·
    /// max(1, |θ|)`, for a caller that compares the estimate with a claim and runs the whole
    /// sequence where it does not certify it.
    pub fn first_look(theta: f64, first: f64) -> Sequence {
        let steps = Steps {
            first,
            count: FIRST_LOOK_QUOTIENTS,
            look_ahead: false,
            quadratic: false,
        };
        Sequence {
            first_look: true,
            ..Sequence::new(theta, steps)
        }
    }

    /// The two coordinate values to sample next, or `None` once the estimate is settled.
    pub fn next_pair(&mut self) -> Option<(f64, f64)> {
        if self.done || self.i >= self.steps.count.min(MAX_STEPS) {
            return None;
        }
        let (plus, minus) = (self.theta + self.h, self.theta - self.h);
        let width = plus - minus;
        self.h /= SHRINK;
        if width == 0.0 {
            self.done = true;
            return None;
        }
        self.pending = Some(width);
        Some((plus, minus))
    }

    /// Takes the sample at the pair [`Sequence::next_pair`] gave last.
    pub fn feed(&mut self, sample: Sample) {
        let width = self
            .pending
            .take()
            .expect("internal: a sample fed without a pair asked for");
        let i = self.i;
        self.i += 1;
        let q = quotient(sample, width);
        if i == 0 {
            self.first = q.value;
            if self.steps.quadratic && q.valid {
                self.exact = Some(exact(q, self.i));
                self.done = true;
                return;
            }
        }
        self.any_valid |= q.valid;
        self.tableau.push(i, q);
        // The row whose entries can be judged now: this one, or with a look-ahead the one before.
        let lag = usize::from(self.steps.look_ahead);
        let Some(c) = i.checked_sub(lag).filter(|&c| c >= 1) else {
            return;
        };
        self.tableau.judge(c, lag, &mut self.best);
        if self.best.is_some_and(|b| b.stops_before(q)) {
            self.done = true;
        }
    }

    /// The estimate from the samples fed.
    pub fn estimate(&self) -> Estimate {
        if self.first_look {
            return self.first_look_estimate();
        }
        self.exact
            .unwrap_or_else(|| conclude(self.best, self.first, self.any_valid, self.i))
    }

    /// `T₁₁` with the bound `|T₁₁ − q₀| + |T₁₁ − q₁| + N₁₁`; unbounded until both quotients are
    /// in and valid.
    fn first_look_estimate(&self) -> Estimate {
        let rows = &self.tableau.rows;
        let (q0, q1, t) = (rows[0][0], rows[1][0], rows[1][1]);
        if self.i < FIRST_LOOK_QUOTIENTS || !t.valid {
            return conclude(None, self.first, self.any_valid, self.i);
        }
        let e = (t.value - q0.value).abs() + (t.value - q1.value).abs();
        let bound = e + t.rounding;
        conclude(Some(Candidate { bound, entry: t, e }), self.first, true, self.i)
    }
}

/// The central quotient `q_i` of one sample over the width actually stepped, with its rounding
/// bound `κ · ε · M / width`.
fn quotient(s: Sample, width: f64) -> Entry {
    Entry {
        value: s.difference / width,
        rounding: ROUNDING_SAFETY * f64::EPSILON * s.magnitude / width,
        valid: s.smooth && s.difference.is_finite() && s.magnitude.is_finite(),
    }
}

/// A quotient of an objective known to be quadratic along the coordinate: exact up to
/// rounding, it is the estimate, with its rounding as the bound.
fn exact(q: Entry, quotients: usize) -> Estimate {
    Estimate {
        value: q.value,
        error: q.rounding,
        rounding: q.rounding,
        smooth: true,
        converged: true,
        quotients,
    }
}

/// The estimate from the best entry, converged when its bound is below [`RESOLVED`] of its
/// value or at rounding level; with no entry judged, the first quotient, unbounded.
fn conclude(best: Option<Candidate>, first: f64, any_valid: bool, quotients: usize) -> Estimate {
    match best {
        Some(Candidate { bound, entry, e }) => Estimate {
            value: entry.value,
            error: bound,
            rounding: entry.rounding,
            smooth: true,
            converged: bound <= RESOLVED * entry.value.abs() || e <= entry.rounding,
            quotients,
        },
        None => Estimate {
            value: first,
            error: f64::INFINITY,
            rounding: f64::INFINITY,
            smooth: any_valid,
            converged: false,
            quotients,
        },
    }
}

/// The last three rows of the tableau (a ring: row i at `i % 3`), and per row whether the
/// sequence looks asymptotic there (bit i): no allocation, as this runs once per element.
#[derive(Debug, Clone)]
struct Tableau {
    rows: [Row; 3],
    asymptotic: u128,
}

impl Tableau {
    fn new() -> Tableau {
        Tableau {
            rows: [[Entry::EMPTY; MAX_ORDER + 1]; 3],
            asymptotic: 0,
        }
    }

    /// Adds row i from its quotient `q`: marks whether the plain quotients look asymptotic there,
    /// and extrapolates, `T[i][j] = (r^j T[i][j−1] − T[i−1][j−1]) / (r^j − 1)` and
    /// `N[i][j] = (r^j N[i][j−1] + N[i−1][j−1]) / (r^j − 1)`, up to [`MAX_ORDER`].
    fn push(&mut self, i: usize, q: Entry) {
        let rows = &self.rows;
        let plain = [
            (i >= 2).then(|| rows[(i - 2) % 3][0]),
            (i >= 1).then(|| rows[(i - 1) % 3][0]),
            Some(q),
        ];
        if shrinks_as_expected(&plain) {
            self.asymptotic |= 1 << i;
        }
        let mut row: Row = [Entry::EMPTY; MAX_ORDER + 1];
        row[0] = q;
        let mut factor = 1.0;
        for j in 1..=i.min(MAX_ORDER) {
            factor *= SHRINK * SHRINK;
            let (lower, above) = (row[j - 1], rows[(i - 1) % 3][j - 1]);
            row[j] = Entry {
                value: (factor * lower.value - above.value) / (factor - 1.0),
                rounding: (factor * lower.rounding + above.rounding) / (factor - 1.0),
                valid: lower.valid && above.valid,
            };
        }
        self.rows[i % 3] = row;
    }

    /// Judges the entries of row `c` (with a look-ahead, `lag` = 1, row `c + 1` is known): an
    /// entry counts when it and its neighbours are valid and the sequence looks asymptotic over
    /// the rows it uses; its error `e` is its largest distance to a neighbour, and the one with
    /// the smallest bound `e + N` so far is kept in `best`.
    fn judge(&self, c: usize, lag: usize, best: &mut Option<Candidate>) {
        let rows = &self.rows;
        let (this, above, below) = (&rows[c % 3], &rows[(c - 1) % 3], &rows[(c + lag) % 3]);
        for j in 0..=c.min(MAX_ORDER) {
            let entry = this[j];
            let neighbours = [
                j.checked_sub(1).map(|k| this[k]),
                j.checked_sub(1).map(|k| above[k]),
                (j < c).then(|| above[j]),
                (lag > 0 && j <= (c + 1).min(MAX_ORDER)).then(|| below[j]),
            ];
            let settled = ((c - j).max(1)..=c + lag).all(|r| self.asymptotic & (1 << r) != 0);
            if !entry.valid || !settled || neighbours.iter().flatten().any(|n| !n.valid) {
                continue;
            }
            let e = neighbours
                .iter()
                .flatten()
                .map(|n| (entry.value - n.value).abs())
                .fold(0.0, f64::max);
            let bound = e + entry.rounding;
            if best.is_none_or(|b| bound < b.bound) {
                *best = Some(Candidate { bound, entry, e });
            }
        }
    }
}

/// The newest of the plain quotients `q` continues an asymptotic sequence: its difference from
/// the one before is at rounding level, or at most 1/[`ASYMPTOTIC_RATIO`] of the previous
/// difference (the truncation error shrinks by 1.96 per step where it is `c h²`, faster where
/// `c` vanishes). Far from it (a step longer than the function's scale, or across a kink, where
/// the quotient goes like d/h) the differences do not shrink so, and a lucky agreement there is
/// not taken for convergence.
fn shrinks_as_expected(q: &[Option<Entry>; 3]) -> bool {
    let at_rounding = |a: Entry, b: Entry| (a.value - b.value).abs() <= 2.0 * (a.rounding + b.rounding);
    match *q {
        [_, Some(last), Some(newest)] if !(last.valid && newest.valid) => false,
        [Some(before), Some(last), Some(newest)] => {
            let (d_new, d_old) = (
                (newest.value - last.value).abs(),
                (last.value - before.value).abs(),
            );
            at_rounding(last, newest) || (before.valid && ASYMPTOTIC_RATIO * d_new <= d_old)
        }
        [None, Some(last), Some(newest)] => at_rounding(last, newest),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The estimate of f′(x) for a plain function, rounding from |f(x ± h)|.
    fn of(f: impl Fn(f64) -> f64, x: f64) -> Estimate {
        estimate(x, Steps::ANY_FUNCTION, |plus, minus| {
            let (a, b) = (f(plus), f(minus));
            Ok::<_, ()>(Sample {
                difference: a - b,
                magnitude: a.abs() + b.abs(),
                smooth: true,
            })
        })
        .unwrap()
    }

    /// The forward's own rounding (ε times the condition of sin(kx), kx) is not in the bound:
    /// a comparison's relative tolerance ([`crate::oracle::FINITE_DIFF_REL`]) covers it.
    const FORWARD_ROUNDING: f64 = 1e-10;

    #[track_caller]
    fn assert_within_bound(e: Estimate, truth: f64) {
        assert!(e.converged, "{e:?}");
        assert!(
            (e.value - truth).abs() <= e.error + FORWARD_ROUNDING * truth.abs(),
            "{e:?} vs {truth}"
        );
        assert!(e.error <= 1e-6 * truth.abs().max(1e-300), "{e:?} vs {truth}");
    }

    #[test]
    fn the_bound_holds_and_is_tight_on_smooth_functions() {
        for &x in &[-2.3, -0.7, 0.1, 0.9, 1.7] {
            assert_within_bound(of(|v| v.sin(), x), x.cos());
            assert_within_bound(of(|v| (1000.0 * v).sin(), x), 1000.0 * (1000.0 * x).cos());
            assert_within_bound(of(|v| (30.0 * v).exp(), x), 30.0 * (30.0 * x).exp());
            assert_within_bound(of(|v| v * v * v, x), 3.0 * x * x);
            assert_within_bound(of(|v| 1e-8 * v * v, x), 2e-8 * x);
        }
    }

    #[test]
    fn the_bound_holds_over_a_grid_of_points_and_frequencies() {
        for k in [1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0] {
            for n in -200..200 {
                let x = n as f64 * 0.0151;
                let e = of(|v| (k * v).sin(), x);
                let truth = k * (k * x).cos();
                assert!(
                    (e.value - truth).abs() <= e.error + FORWARD_ROUNDING * truth.abs(),
                    "k {k} x {x}: {e:?} vs {truth}"
                );
                assert!(e.error <= 1e-6 * k, "k {k} x {x}: {e:?}");
            }
        }
    }

    #[test]
    fn a_known_quadratic_takes_one_quotient_and_an_unknown_one_is_checked() {
        let square = |plus: f64, minus: f64| {
            Ok::<_, ()>(Sample {
                difference: 0.5 * (plus * plus - minus * minus),
                magnitude: 0.5 * (plus * plus + minus * minus),
                smooth: true,
            })
        };
        let known = Steps {
            quadratic: true,
            ..Steps::ANY_FUNCTION
        };
        let e = estimate(0.7, known, square).unwrap();
        assert_eq!(e.quotients, 1);
        assert_within_bound(e, 0.7);
        let e = estimate(0.7, Steps::ANY_FUNCTION, square).unwrap();
        assert!(e.quotients >= 3, "{e:?}");
        assert_within_bound(e, 0.7);
    }

    #[test]
    fn an_affine_function_stops_early_at_rounding_level() {
        let e = of(|v| 3.0 * v + 1e8, 0.4);
        assert!(e.converged && e.quotients <= 4, "{e:?}");
        assert!((e.value - 3.0).abs() <= e.error && e.error < 1e-5, "{e:?}");
    }

    #[test]
    fn a_kink_closer_than_every_step_is_not_converged() {
        // |x − c| with θ 1e-13 from the kink: every step crosses it, the quotient goes as d/h.
        let e = of(|v| (v - 0.5).abs(), 0.5 + 1e-13);
        assert!(!e.converged, "{e:?}");
    }

    #[test]
    fn a_kink_within_the_first_steps_is_stepped_below() {
        let e = of(|v| (v - 0.5).abs(), 0.5 + 1e-3);
        assert_within_bound(e, 1.0);
    }

    #[test]
    fn steps_marked_as_kinks_are_never_chosen() {
        // The structural test says the three largest steps cross a kink.
        let mut k = 0;
        let e = estimate(0.3, Steps::ANY_FUNCTION, |plus, minus| {
            k += 1;
            Ok::<_, ()>(if k <= 3 {
                Sample::KINK
            } else {
                Sample {
                    difference: plus * plus - minus * minus,
                    magnitude: plus * plus + minus * minus,
                    smooth: true,
                }
            })
        })
        .unwrap();
        assert!(e.smooth && e.quotients >= 5, "{e:?}");
        assert_within_bound(e, 0.6);
        let never = estimate(
            0.3,
            Steps {
                first: 1e-4,
                count: 5,
                look_ahead: true,
                quadratic: false,
            },
            |_, _| Ok::<_, ()>(Sample::KINK),
        )
        .unwrap();
        assert!(!never.smooth && !never.comparable(), "{never:?}");
    }
}
