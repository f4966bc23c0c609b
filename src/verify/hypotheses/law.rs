//! A wrong factor read as a law: the fit got = c · B^p · Π D_k^(q_k) · expected of
//! [`super::shape_factor`] (or one case's constant c), named by the bug it stands for, with its
//! stable code and what it means.
//!
//! | law               | code             | generic meaning                                      |
//! |-------------------|------------------|------------------------------------------------------|
//! | −1                | `sign`           | the sign is flipped                                  |
//! | c                 | `factor`         | a constant too many                                  |
//! | 1/B               | `batch_mean`     | a mean over data points where the gradient sums      |
//! | 2/B               | `mse_convention` | a mean of squares' 2 and 1/B                         |
//! | 1/(B·D)           | `element_mean`   | a mean over elements where the gradient sums         |
//! | 2/(B·D)           | `mse_convention` | a mean of squares' 2 and 1/(B·D)                     |
//! | anything else     | `factor`         | a factor that changes with the shape                 |
//!
//! What a law means depends on the op: for sqerr a factor of 2 is the ½ of L = ½ Σ (f − y)²
//! (Eq. 34b) missing, for linear it is only a 2 too many. So the op at hand gives its own
//! meaning where it has one ([`Wording`], from `VerifiedOp::factor_meaning`), and the generic
//! one stands otherwise: a code never changes with the op, only the words.

use super::rational_text;

/// The name of the batch dimension in a case's dims.
pub const BATCH: &str = "B";

/// A recognised law of a wrong factor, its sign left out (a flipped sign is said beside it).
#[derive(Debug, Clone, PartialEq)]
pub enum Law<'a> {
    /// −1: the sign alone.
    Sign,
    /// |c| ≠ 1 at every shape, as (numerator, denominator).
    Constant((i64, i64)),
    /// 1/B.
    BatchMean,
    /// 2/B.
    BatchMse,
    /// 1/(B·D), with the width D's name.
    ElementMean(&'a str),
    /// 2/(B·D), with the width D's name.
    ElementMse(&'a str),
    /// Any other dependence on the shape: the factor as text, and the dims it involves.
    Shaped {
        /// The factor as a student reads it: `Dout/B`.
        formula: &'a str,
        /// The dims with a non-zero exponent, B first.
        dims: Vec<&'a str>,
    },
}

/// The op's own meaning of a law, where it has one.
pub type Wording<'w> = &'w dyn Fn(&Law<'_>) -> Option<String>;

impl<'a> Law<'a> {
    /// The law of |c| · B^p · Π D^q over the dims `names` with exponents `exps` (B among them
    /// or not); `formula` is the whole factor as text.
    pub fn of(c: (i64, i64), names: &[&'a str], exps: &[i32], formula: &'a str) -> Law<'a> {
        let exponent = |want: &str| {
            names
                .iter()
                .zip(exps)
                .find(|(n, _)| **n == want)
                .map_or(0, |(_, &e)| e)
        };
        let widths = || names.iter().zip(exps).filter(|(n, _)| **n != BATCH);
        let down: Vec<&'a str> = widths().filter(|(_, e)| **e == -1).map(|(n, _)| *n).collect();
        let up = widths().any(|(_, e)| *e == 1);
        let magnitude = (c.0.abs(), c.1);
        match (exponent(BATCH), down.as_slice(), up, magnitude) {
            (0, [], false, (1, 1)) => Law::Sign,
            (0, [], false, m) => Law::Constant(m),
            (-1, [], false, (1, 1)) => Law::BatchMean,
            (-1, [], false, (2, 1)) => Law::BatchMse,
            (-1, [d], false, (1, 1)) => Law::ElementMean(d),
            (-1, [d], false, (2, 1)) => Law::ElementMse(d),
            _ => Law::Shaped {
                formula,
                dims: (names.iter().zip(exps))
                    .filter(|(_, e)| **e != 0)
                    .map(|(n, _)| *n)
                    .collect(),
            },
        }
    }

    /// The stable code: `sign`, `factor`, `batch_mean`, `element_mean` or `mse_convention`.
    pub fn code(&self) -> &'static str {
        match self {
            Law::Sign => "sign",
            Law::Constant(_) | Law::Shaped { .. } => "factor",
            Law::BatchMean => "batch_mean",
            Law::ElementMean(_) => "element_mean",
            Law::BatchMse | Law::ElementMse(_) => "mse_convention",
        }
    }

    /// What the law means for any op, and what to change.
    pub fn generic_meaning(&self) -> String {
        match self {
            Law::Sign => "the sign is flipped (a difference taken the wrong way round, or a minus where the chain rule adds); negate it".to_owned(),
            Law::Constant(c) => format!(
                "a constant factor, the same at every shape; find where {} enters the backward and remove it",
                rational_text(*c)
            ),
            Law::BatchMean => "the right gradient divided by the batch size B: a mean over data points where the gradient sums over them; remove the division by B (it is right only when B = 1)".to_owned(),
            Law::BatchMse => "a 2 and a division by the batch size B, `2 * ... / B`, the gradient of a mean of squares, where this op's gradient has neither; drop both (deleting only the 2 leaves 1/B)".to_owned(),
            Law::ElementMean(d) => format!(
                "the right gradient divided by B·{d}, the number of elements: a mean (`/ x.size`, `np.mean`) where the gradient sums; remove the division"
            ),
            Law::ElementMse(d) => format!(
                "a 2 and a division by the B·{d} elements, `2 * ... / x.size`, the gradient of a mean of squares, where this op's gradient has neither; drop both (deleting only the 2 leaves 1/(B·{d}))"
            ),
            Law::Shaped { formula, dims } => format!(
                "a factor that changes with the shape as {formula}; find where {} enter the backward",
                dims.join(" and ")
            ),
        }
    }

    /// The op's meaning where `wording` has one, the generic one otherwise.
    pub fn meaning(&self, wording: Wording<'_>) -> String {
        wording(self).unwrap_or_else(|| self.generic_meaning())
    }
}

/// The wording of an op with no meanings of its own.
pub fn generic(_law: &Law<'_>) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn laws_are_read_from_the_exponents_and_the_magnitude_of_c() {
        let names = ["B", "Din", "Dout"];
        assert_eq!(Law::of((-1, 1), &names, &[0, 0, 0], "−1"), Law::Sign);
        assert_eq!(Law::of((-2, 1), &names, &[0, 0, 0], "−2"), Law::Constant((2, 1)));
        assert_eq!(Law::of((1, 1), &names, &[-1, 0, 0], "1/B"), Law::BatchMean);
        assert_eq!(Law::of((2, 1), &names, &[-1, 0, 0], "2/B"), Law::BatchMse);
        assert_eq!(
            Law::of((1, 1), &names, &[-1, 0, -1], "1/(B·Dout)"),
            Law::ElementMean("Dout")
        );
        assert_eq!(
            Law::of((2, 1), &names, &[-1, -1, 0], "2/(B·Din)"),
            Law::ElementMse("Din")
        );
        assert_eq!(
            Law::of((1, 1), &names, &[-1, 0, 1], "Dout/B"),
            Law::Shaped {
                formula: "Dout/B",
                dims: vec!["B", "Dout"]
            }
        );
    }

    #[test]
    fn generic_meanings_name_no_ops_maths_and_an_ops_wording_replaces_them() {
        let laws = [
            Law::Sign,
            Law::Constant((2, 1)),
            Law::Constant((1, 2)),
            Law::BatchMean,
            Law::BatchMse,
            Law::ElementMean("D"),
            Law::ElementMse("D"),
        ];
        for law in &laws {
            let text = law.meaning(&generic);
            assert!(!text.contains("(f − y)") && !text.contains("Eq."), "{text}");
        }
        let sqerr_like = |law: &Law<'_>| (*law == Law::Constant((2, 1))).then(|| "a missing ½".to_owned());
        assert_eq!(Law::Constant((2, 1)).meaning(&sqerr_like), "a missing ½");
        assert_eq!(
            Law::Constant((3, 1)).meaning(&sqerr_like),
            Law::Constant((3, 1)).generic_meaning()
        );
    }
}
