//! What the comparisons of one gradient found over all cases, and the inconclusive verdict when
//! nothing was certified and nothing failed.

use crate::compare::Comparison;
use crate::verify::Inconclusive;

/// How many times the inputs of a case are drawn again while the forward is not finite there.
pub(super) const REDRAWS: usize = 4;

/// What the comparisons of one gradient found, over all cases.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Tally {
    certified: usize,
    excused: usize,
    skipped: usize,
    failed: usize,
    /// Counted in projections (fast mode) rather than elements.
    projections: bool,
    /// What certified them: `finite differences` or `the reference`.
    oracle: &'static str,
}

impl Tally {
    /// An empty tally, of projections or of elements, certified against `oracle`.
    pub(super) fn counting(projections: bool, oracle: &'static str) -> Tally {
        Tally {
            projections,
            oracle,
            ..Tally::default()
        }
    }

    pub(super) fn add(&mut self, c: &Comparison) {
        self.certified += c.certified;
        self.excused += c.excused;
        self.skipped += c.skipped;
        self.failed += c.failed + usize::from(c.actual_shape.is_some());
    }

    pub(super) fn compared(&self) -> usize {
        self.certified + self.excused + self.skipped + self.failed
    }

    /// Nothing certified, nothing failed.
    pub(super) fn undecided(&self) -> bool {
        self.certified == 0 && self.failed == 0
    }

    /// Nothing certified, nothing failed: why, and what to try.
    pub(super) fn inconclusive(&self, gradient: String, not_finite: usize, cases: usize) -> Inconclusive {
        let reason = if self.compared() == 0 && not_finite > 0 {
            format!(
                "the forward was NaN or infinite at the drawn inputs of {not_finite} of {cases} cases (each drawn {} times)",
                REDRAWS + 1
            )
        } else {
            format!(
                "no element could be certified: of {} over {cases} cases, {} excused (the finite differences do not resolve the value: rounding is as large as the derivative) and {} not comparable (the differences did not converge: a kink, or a step the function does not allow)",
                self.compared(),
                self.excused,
                self.skipped
            )
        };
        Inconclusive {
            gradient,
            reason,
            try_next: "other points (another seed, or OpCheck's .points), inputs in a domain where the forward is finite and smooth (OpCheck's .domain), or another scale (inputs and outputs nearer 1)".to_owned(),
        }
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of {} {} certified against {}, {} excused, {} not comparable, {} failed",
            self.certified,
            self.compared(),
            if self.projections {
                "projections"
            } else {
                "elements"
            },
            self.oracle,
            self.excused,
            self.skipped,
            self.failed
        )
    }
}
