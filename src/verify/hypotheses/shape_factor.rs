//! Factors that depend on the shape: got = c · B^p · Π_k D_k^(q_k) · expected, in every failing
//! case at once.
//!
//! A factor tried one case at a time cannot tell 2/(B·D) from 2: at B = D = 1 they agree, and a
//! student who deletes the 2 fails again by 1/(B·D). So each failing case gives its ratio r (got =
//! r · expected in every element, elements with expected ≈ 0 left out of the estimate), and the
//! ratios are fitted together as
//!
//! ```text
//! r = c · B^p · Π_k D_k^(q_k),   p, q_k ∈ {−1, 0, 1},   c ∈ ±{1, 2, ½, 3, ⅓, 4, ¼},
//! ```
//!
//! each to [`EXPLAIN_REL`](crate::verify::diagnose::EXPLAIN_REL), preferring the simplest fit
//! (fewest exponents, then the simplest c). The fit is then named as a [`Law`] (`sign`,
//! `factor`, `batch_mean`, `element_mean`, `mse_convention`), in the words of the op at hand.
//!
//! The smallest *unambiguous* example is the smallest case in which every dimension of the fit
//! is > 1 and the factor is not just c (a shape-dependent factor at B = D = 1 reads as a
//! constant); where there is a choice, dimensions that differ from each other tell them apart.

use ndarray::ArrayD;
use serde::Serialize;

use super::law::{Law, Wording};
use super::{Ratio, SMALL_RATIONALS, close, ratio, rational_text};

pub use super::law::BATCH;

/// One failing case: the dims of the fit by name (`[("B", 3), ("Din", 2), ("Dout", 4)]` for
/// linear, `[("B", 3), ("D", 4)]` for sqerr, `[("B", 3), ("D3", 2)]` for the network), the
/// right gradient and the one returned.
#[derive(Debug, Clone, Copy)]
pub struct ShapeCase<'a> {
    /// The dimensions the factor may depend on, by name; `B` is the batch.
    pub dims: &'a [(&'a str, usize)],
    /// The right gradient.
    pub expected: &'a ArrayD<f64>,
    /// The gradient returned.
    pub got: &'a ArrayD<f64>,
}

/// A fitted factor c · B^p · Π D_k^(q_k), named.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShapeFactor {
    /// The stable code: `sign`, `factor`, `batch_mean`, `element_mean` or `mse_convention`.
    pub code: &'static str,
    /// The constant c as (numerator, denominator), e.g. (2, 1) or (−1, 3).
    pub c: (i64, i64),
    /// The exponent of B.
    pub p: i32,
    /// The exponent of each width, in the order of the cases' dims (B left out).
    pub q: Vec<(String, i32)>,
    /// The factor as a student reads it: `2/(B·D)`, `1/B`, `½`.
    pub formula: String,
    /// What the fit means and what to change.
    pub sentence: String,
    /// The index (into the cases given) of the smallest unambiguous example, if any case is.
    pub example: Option<usize>,
}

impl ShapeFactor {
    /// c as a number.
    pub fn constant(&self) -> f64 {
        self.c.0 as f64 / self.c.1 as f64
    }

    /// Whether the factor changes with the shape (an exponent is not 0).
    pub fn depends_on_shape(&self) -> bool {
        self.p != 0 || self.q.iter().any(|(_, e)| *e != 0)
    }

    /// The factor the fit predicts for a case with these dims.
    pub fn predict(&self, dims: &[(&str, usize)]) -> f64 {
        let power = |name: &str, e: i32| {
            dims.iter()
                .find(|(n, _)| *n == name)
                .map_or(1.0, |&(_, d)| (d as f64).powi(e))
        };
        self.q
            .iter()
            .fold(self.constant() * power(BATCH, self.p), |f, (name, e)| {
                f * power(name, *e)
            })
    }
}

/// One case's ratio, with where it came from.
#[derive(Debug, Clone, Copy)]
pub(super) struct Observed<'a> {
    /// Its index among the cases given.
    pub(super) index: usize,
    /// Its dims by name.
    pub(super) dims: &'a [(&'a str, usize)],
    /// got / expected.
    pub(super) ratio: f64,
}

/// The simplest factor c · B^p · Π D_k^(q_k) that explains every case, named; `None` when a
/// case has no single ratio, when no case says anything, or when nothing in the family fits.
pub fn fit(cases: &[ShapeCase<'_>], wording: Wording<'_>) -> Option<ShapeFactor> {
    let mut observed = Vec::new();
    for (index, case) in cases.iter().enumerate() {
        if let Ratio::Of(r) = ratio(case.expected, case.got)? {
            observed.push(Observed {
                index,
                dims: case.dims,
                ratio: r,
            });
        }
    }
    fit_ratios(&observed, wording)
}

/// The simplest factor that explains every observed ratio (see [`fit`]).
pub(super) fn fit_ratios(observed: &[Observed<'_>], wording: Wording<'_>) -> Option<ShapeFactor> {
    let names: Vec<&str> = observed.first()?.dims.iter().map(|(n, _)| *n).collect();
    let dim = |o: &Observed<'_>, name: &str| o.dims.iter().find(|(n, _)| *n == name).map(|&(_, d)| d);
    if observed.iter().any(|o| names.iter().any(|n| dim(o, n).is_none())) {
        return None;
    }
    let factor_of = |o: &Observed<'_>, exps: &[i32]| -> f64 {
        names
            .iter()
            .zip(exps)
            .map(|(n, &e)| (dim(o, n).unwrap_or(1) as f64).powi(e))
            .product()
    };
    let mut candidates: Vec<(usize, usize, Vec<i32>)> = Vec::new();
    for exps in exponent_vectors(names.len()) {
        let nonzero = exps.iter().filter(|&&e| e != 0).count();
        for (rank, &(n, d)) in SMALL_RATIONALS.iter().enumerate() {
            if nonzero == 0 && (n, d) == (1, 1) {
                continue; // the right gradient
            }
            let c = n as f64 / d as f64;
            if observed.iter().all(|o| close(o.ratio, c * factor_of(o, &exps))) {
                candidates.push((nonzero, rank, exps.clone()));
            }
        }
    }
    let (_, rank, exps) = candidates
        .into_iter()
        .min_by_key(|(nonzero, rank, _)| (*nonzero, *rank))?;
    let c = SMALL_RATIONALS[rank];
    let example = example(observed, &names, &exps, factor_of);
    Some(named(c, (&names, &exps), observed.len(), example, wording))
}

/// Every exponent vector over `n` dims, simplest first: fewer non-zero exponents, then fewer
/// +1 (divisions are the common bug), then B before the widths.
fn exponent_vectors(n: usize) -> Vec<Vec<i32>> {
    let mut all: Vec<Vec<i32>> = vec![Vec::new()];
    for _ in 0..n {
        all = all
            .into_iter()
            .flat_map(|v| {
                [-1, 0, 1].map(|e| {
                    let mut w = v.clone();
                    w.push(e);
                    w
                })
            })
            .collect();
    }
    let order = |e: &i32| match e {
        -1 => 0,
        1 => 1,
        _ => 2,
    };
    all.sort_by_key(|v| {
        (
            v.iter().filter(|&&e| e != 0).count(),
            v.iter().filter(|&&e| e == 1).count(),
            v.iter().map(order).collect::<Vec<_>>(),
        )
    });
    all
}

/// The smallest case where the fit is unambiguous: every dim with an exponent is > 1 and the
/// shape part of the factor is not 1; dims that differ from each other preferred.
fn example(
    observed: &[Observed<'_>],
    names: &[&str],
    exps: &[i32],
    factor_of: impl Fn(&Observed<'_>, &[i32]) -> f64,
) -> Option<usize> {
    let involved = |o: &Observed<'_>| -> Vec<usize> {
        names
            .iter()
            .zip(exps)
            .filter(|(_, e)| **e != 0)
            .filter_map(|(n, _)| o.dims.iter().find(|(m, _)| m == n).map(|&(_, d)| d))
            .collect()
    };
    observed
        .iter()
        .filter(|o| {
            involved(o).iter().all(|&d| d > 1) && (exps.iter().all(|&e| e == 0) || factor_of(o, exps) != 1.0)
        })
        .min_by_key(|o| {
            let dims = involved(o);
            let repeated = dims.iter().enumerate().any(|(i, d)| dims[..i].contains(d));
            let size: usize = o.dims.iter().map(|(_, d)| d).product();
            (repeated, size, o.index)
        })
        .map(|o| o.index)
}

/// The fit c · Π dims^exps as a named [`ShapeFactor`], over `cases` cases, in the words of
/// `wording` (the op's).
fn named(
    c: (i64, i64),
    (names, exps): (&[&str], &[i32]),
    cases: usize,
    example: Option<usize>,
    wording: Wording<'_>,
) -> ShapeFactor {
    let exponent = |want: &str| names.iter().zip(exps).find(|(n, _)| **n == want).map(|(_, &e)| e);
    let q: Vec<(String, i32)> = (names.iter().zip(exps))
        .filter(|(n, _)| **n != BATCH)
        .map(|(n, &e)| ((*n).to_owned(), e))
        .collect();
    let formula = formula(c, names, exps);
    let law = Law::of(c, names, exps, &formula);
    let all = if cases == 1 {
        "in the failing case".to_owned()
    } else {
        format!("in all {cases} failing cases")
    };
    let flipped = if c.0 < 0 && c != (-1, 1) {
        "; the sign is flipped as well"
    } else {
        ""
    };
    let sentence = format!(
        "you return {formula} × the right gradient {all}: {}{flipped}",
        law.meaning(wording)
    );
    ShapeFactor {
        code: law.code(),
        c,
        p: exponent(BATCH).unwrap_or(0),
        q,
        sentence,
        formula,
        example,
    }
}

/// c · Π dims^exps as text: `2/(B·D)`, `1/B`, `−2·Dout/B`, `½`.
fn formula(c: (i64, i64), names: &[&str], exps: &[i32]) -> String {
    let of = |want: i32| -> Vec<&str> {
        names
            .iter()
            .zip(exps)
            .filter(|(_, e)| **e == want)
            .map(|(n, _)| *n)
            .collect()
    };
    let (up, down) = (of(1), of(-1));
    if up.is_empty() && down.is_empty() {
        return rational_text(c);
    }
    let sign = if c.0 < 0 { "−" } else { "" };
    let mut top: Vec<String> = Vec::new();
    if c.0.abs() != 1 || up.is_empty() {
        top.push(c.0.abs().to_string());
    }
    top.extend(up.iter().map(|s| (*s).to_owned()));
    let mut bottom: Vec<String> = Vec::new();
    if c.1 != 1 {
        bottom.push(c.1.to_string());
    }
    bottom.extend(down.iter().map(|s| (*s).to_owned()));
    let bottom = match bottom.len() {
        0 => String::new(),
        1 => format!("/{}", bottom[0]),
        _ => format!("/({})", bottom.join("·")),
    };
    format!("{sign}{}{bottom}", top.join("·"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::explain;
    use crate::verify::hypotheses::law::generic;
    use ndarray::{Array, IxDyn};

    /// A deterministic, non-constant array of `shape` (no element is 0).
    fn gradient(shape: &[usize], seed: usize) -> ArrayD<f64> {
        let len: usize = shape.iter().product();
        Array::from_shape_fn(IxDyn(&[len]), |i| {
            let k = (i[0] + 1) * (seed + 3);
            (k % 7) as f64 - 3.5 + 0.1 * (k % 5) as f64
        })
        .into_shape_with_order(IxDyn(shape))
        .expect("len elements")
    }

    /// A case's dims, right gradient and returned gradient.
    type Owned = (Vec<(&'static str, usize)>, ArrayD<f64>, ArrayD<f64>);

    /// Cases of sqerr's shape (B, D), each answered with `factor(B, D)` × the right gradient.
    fn sqerr_cases(shapes: &[(usize, usize)], factor: impl Fn(f64, f64) -> f64) -> Vec<Owned> {
        shapes
            .iter()
            .enumerate()
            .map(|(i, &(b, d))| {
                let e = gradient(&[b, d], i);
                let g = &e * factor(b as f64, d as f64);
                (vec![("B", b), ("D", d)], e, g)
            })
            .collect()
    }

    fn fit_of(cases: &[Owned]) -> Option<ShapeFactor> {
        let cases: Vec<ShapeCase<'_>> = cases
            .iter()
            .map(|(dims, e, g)| ShapeCase {
                dims,
                expected: e,
                got: g,
            })
            .collect();
        fit(&cases, &generic)
    }

    const SHAPES: [(usize, usize); 6] = [(1, 4), (3, 5), (4, 4), (2, 1), (1, 2), (2, 3)];

    #[test]
    fn two_over_the_number_of_elements_is_the_mse_convention_at_an_unambiguous_example() {
        let cases = sqerr_cases(&SHAPES, |b, d| 2.0 / (b * d));
        let fit = fit_of(&cases).expect("a fit");
        assert_eq!((fit.code, fit.c, fit.p), ("mse_convention", (2, 1), -1));
        assert_eq!(fit.q, vec![("D".to_owned(), -1)]);
        assert_eq!(fit.formula, "2/(B·D)");
        assert!(
            fit.sentence.contains("x.size") && fit.sentence.contains("mean of squares"),
            "{}",
            fit.sentence
        );
        // (2, 3): both > 1 and different; (4, 4) has equal dims, (3, 5) is larger.
        assert_eq!(fit.example, Some(5));
        assert_eq!(fit.predict(&[("B", 2), ("D", 3)]), 2.0 / 6.0);
        assert!(fit.depends_on_shape());
        // In a JSON report it is an object with its code.
        let json = serde_json::to_value(&fit).expect("serialisable");
        assert_eq!(
            (json["code"].as_str(), json["formula"].as_str()),
            (Some("mse_convention"), Some("2/(B·D)"))
        );
    }

    #[test]
    fn two_over_b_is_the_mse_convention_too() {
        let fit = fit_of(&sqerr_cases(&SHAPES, |b, _| 2.0 / b)).expect("a fit");
        assert_eq!(
            (fit.code, fit.formula.as_str(), fit.p),
            ("mse_convention", "2/B", -1)
        );
        assert_eq!(fit.q, vec![("D".to_owned(), 0)]);
        // B > 1 matters, D does not: the smallest case with B > 1.
        assert_eq!(fit.example, Some(3));
    }

    #[test]
    fn means_over_the_batch_and_over_elements_are_named() {
        let shapes = [(2, 3), (3, 5), (4, 4), (2, 1)];
        let batch = fit_of(&sqerr_cases(&shapes, |b, _| 1.0 / b)).expect("a fit");
        assert_eq!((batch.code, batch.formula.as_str()), ("batch_mean", "1/B"));
        let element = fit_of(&sqerr_cases(&shapes, |b, d| 1.0 / (b * d))).expect("a fit");
        assert_eq!(
            (element.code, element.formula.as_str()),
            ("element_mean", "1/(B·D)")
        );
    }

    #[test]
    fn constants_are_a_sign_a_missing_half_or_a_factor() {
        let sign = fit_of(&sqerr_cases(&SHAPES, |_, _| -1.0)).expect("a fit");
        assert_eq!((sign.code, sign.formula.as_str()), ("sign", "−1"));
        let twice = fit_of(&sqerr_cases(&SHAPES, |_, _| 2.0)).expect("a fit");
        assert_eq!(twice.code, "factor");
        assert!(!twice.depends_on_shape());
        assert!(twice.sentence.contains("a constant factor"), "{}", twice.sentence);
        // A constant is unambiguous anywhere: the smallest case.
        assert_eq!(twice.example, Some(3));
        let third = fit_of(&sqerr_cases(&SHAPES, |_, _| -1.0 / 3.0)).expect("a fit");
        assert_eq!((third.code, third.formula.as_str()), ("factor", "−⅓"));
    }

    #[test]
    fn a_flipped_mse_convention_says_so() {
        let fit = fit_of(&sqerr_cases(&SHAPES, |b, d| -2.0 / (b * d))).expect("a fit");
        assert_eq!((fit.code, fit.formula.as_str()), ("mse_convention", "−2/(B·D)"));
        assert!(fit.sentence.contains("sign is flipped"), "{}", fit.sentence);
    }

    #[test]
    fn linear_fits_over_both_widths_and_names_unusual_factors_generically() {
        let shapes = [(1, 3, 2), (4, 3, 2), (3, 3, 3), (2, 1, 3), (3, 4, 1)];
        let cases: Vec<_> = shapes
            .iter()
            .enumerate()
            .map(|(i, &(b, din, dout))| {
                let e = gradient(&[din, dout], i);
                let g = &e * (din as f64 / (2.0 * b as f64));
                (vec![("B", b), ("Din", din), ("Dout", dout)], e, g)
            })
            .collect();
        let cases: Vec<ShapeCase<'_>> = cases
            .iter()
            .map(|(dims, e, g)| ShapeCase {
                dims,
                expected: e,
                got: g,
            })
            .collect();
        let fit = fit(&cases, &generic).expect("a fit");
        assert_eq!((fit.code, fit.formula.as_str()), ("factor", "Din/(2·B)"));
        assert_eq!(fit.q, vec![("Din".to_owned(), 1), ("Dout".to_owned(), 0)]);
        assert!(fit.sentence.contains("B and Din"), "{}", fit.sentence);
        // B = 3, Din = 4 (Dout = 1) is the smallest with both > 1 and different; B = Din = 3
        // could be read as either.
        assert_eq!(fit.example, Some(4));
    }

    #[test]
    fn only_a_law_that_holds_in_every_case_is_a_fit() {
        // 2/(B·D) in all cases but one, which has 3/(B·D).
        let mut cases = sqerr_cases(&SHAPES, |b, d| 2.0 / (b * d));
        cases[2].2 = &cases[2].1 * (3.0 / 16.0);
        assert_eq!(fit_of(&cases), None);
        // A ratio that is no small rational times a power of the dims.
        assert_eq!(fit_of(&sqerr_cases(&SHAPES, |_, _| 1.7)), None);
        // A case whose elements do not share one ratio.
        let mut cases = sqerr_cases(&SHAPES, |_, _| 2.0);
        cases[1].2[[0, 0]] += 0.5;
        assert_eq!(fit_of(&cases), None);
        // A zero answer is not a factor (it is `zero`).
        assert_eq!(fit_of(&sqerr_cases(&SHAPES, |_, _| 0.0)), None);
        assert_eq!(fit_of(&[]), None);
    }

    #[test]
    fn the_simplest_fit_wins_when_the_cases_cannot_tell() {
        // Only B = 1 fails: 2/(B·D) and 2/D agree everywhere; the simpler 2/D is chosen.
        let fit = fit_of(&sqerr_cases(&[(1, 4), (1, 2), (1, 5)], |b, d| 2.0 / (b * d))).expect("a fit");
        assert_eq!(fit.formula, "2/D");
        // At B = D = 1 alone the factor is a constant.
        let fit = fit_of(&sqerr_cases(&[(1, 1)], |b, d| 2.0 / (b * d))).expect("a fit");
        assert_eq!((fit.code, fit.formula.as_str()), ("factor", "2"));
    }

    #[test]
    fn the_example_needs_every_dim_of_the_fit_above_one() {
        let fit = fit_of(&sqerr_cases(&[(2, 1), (3, 1), (2, 2), (4, 1)], |b, d| {
            2.0 / (b * d)
        }));
        // (2, 2) is the only case with B > 1 and D > 1.
        assert_eq!(fit.expect("a fit").example, Some(2));
        let fit = fit_of(&sqerr_cases(&[(2, 1), (3, 1), (1, 4), (4, 2)], |b, _| 1.0 / b)).expect("a fit");
        assert_eq!((fit.formula.as_str(), fit.example), ("1/B", Some(0)));
        // B/D at B = D everywhere is a law that never shows: no case is an example.
        let fit = fit_of(&sqerr_cases(&[(2, 2), (3, 3), (1, 1)], |b, d| b / d)).expect("a fit");
        assert_eq!((fit.formula.as_str(), fit.example), ("D/B", None));
    }

    #[test]
    fn every_code_it_gives_is_documented() {
        for factor in [-1.0, 2.0, 0.5, 3.0] {
            let fit = fit_of(&sqerr_cases(&SHAPES, |_, _| factor)).expect("a fit");
            assert!(explain::explanation(fit.code).is_some(), "{}", fit.code);
        }
        let laws: [fn(f64, f64) -> f64; 5] = [
            |b, _| 1.0 / b,
            |b, d| 1.0 / (b * d),
            |b, _| 2.0 / b,
            |b, d| 2.0 / (b * d),
            |b, d| b / d,
        ];
        for law in laws {
            let fit = fit_of(&sqerr_cases(&SHAPES, law)).expect("a fit");
            assert!(explain::explanation(fit.code).is_some(), "{}", fit.code);
        }
    }
}
