//! Three patterns of real code that no single-case prediction of the right gradient names.
//!
//! - **`broadcast_scalar`**: every element of the answer is the same number, where the right
//!   gradient varies: one scalar (`2 * mean(y - f)`, the derivative of a mean loss taken as a
//!   whole) broadcast to every element. Each element has its own derivative,
//!   dL/df_m = ∂L/∂f_m (Eq. 36a), for sqerr f_m − y_m (Eq. 31b). The scalar is matched, up to a
//!   small rational c, against the mean and the sum of the right gradient.
//! - **`fanout_overwrite`**: a value used in several places gets the sum of the contributions of
//!   every use (Eq. 4–10, 36); `grad = …` where `grad += …` belongs leaves one term. For linear
//!   (a = h W + b, Eq. 48–49), with g = dL/da, k the first or last data point, j the first or
//!   last output:
//!   ```text
//!   dL/dW = Σ_k h[k]ᵀ g[k]         (Eq. 70)     becomes  h[k]ᵀ g[k]
//!   dL/db = Σ_k g[k]               (Eq. 74)     becomes  g[k]
//!   dL/dh = Σ_j g[:, j] W[:, j]ᵀ   (Eq. 65–66)  becomes  g[:, j] W[:, j]ᵀ  (wrong at B = 1 too)
//!   ```
//! - **`float32`**: every element agrees with the right gradient to float32 precision
//!   (|got − expected| ≤ [`FLOAT32_AGREE`] of the array's scale) and no better (somewhere more than
//!   [`FLOAT32_FLOOR`], which f64 rounding never reaches): the program computed in float32.
//!   gradcheck's defaults, `--rtol 1e-3 --atol 1e-5`, accept it.

use ndarray::{Array2, ArrayD, ArrayView2, Axis};
use serde::Serialize;

use super::{SMALL_RATIONALS, close, max_abs, rational_text};

/// float32 agreement: at most this fraction of the array's scale apart (f32's ε is 1.2e-7; sums
/// of a few terms, each rounded, stay well inside).
pub const FLOAT32_AGREE: f64 = 1e-4;
/// "And no better": somewhere at least this fraction of the scale apart (f64 rounding is 1e-16).
pub const FLOAT32_FLOOR: f64 = 1e-9;
/// The tolerances that accept a float32 computation (gradcheck's defaults).
pub const FLOAT32_ADVICE: &str = "--rtol 1e-3 --atol 1e-5";

/// Which scalar of the right gradient a broadcast value matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Statistic {
    /// The mean of its elements.
    Mean,
    /// The sum of its elements.
    Sum,
}

/// One value broadcast to every element.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BroadcastScalar {
    /// The statistic and the rational c with value = c × statistic(right gradient), in every case,
    /// when one fits.
    pub matches: Option<(Statistic, (i64, i64))>,
    /// The smallest case (index into those given) with more than one element, where the right
    /// gradient is not constant: the unambiguous example.
    pub example: usize,
    /// What it means and what to change.
    pub sentence: String,
}

/// One value in every element of every case's answer, where the right gradient varies (in at
/// least one case); `None` otherwise. Cases are (expected, got) pairs of the same gradient.
pub fn broadcast_scalar(cases: &[(&ArrayD<f64>, &ArrayD<f64>)]) -> Option<BroadcastScalar> {
    let mut values = Vec::with_capacity(cases.len());
    for (expected, got) in cases {
        values.push(constant_value(expected, got)?);
    }
    let example = cases
        .iter()
        .enumerate()
        .filter(|(_, (e, _))| e.len() > 1 && constant_value(e, e).is_none())
        .min_by_key(|(i, (e, _))| (e.len(), *i))
        .map(|(i, _)| i)?;
    let statistic = |s: Statistic, e: &ArrayD<f64>| match s {
        Statistic::Mean => e.sum() / e.len() as f64,
        Statistic::Sum => e.sum(),
    };
    let matches = [Statistic::Mean, Statistic::Sum].into_iter().find_map(|s| {
        SMALL_RATIONALS.into_iter().find_map(|(n, d)| {
            let c = n as f64 / d as f64;
            cases
                .iter()
                .zip(&values)
                .all(|((e, _), v)| close(*v, c * statistic(s, e)))
                .then_some((s, (n, d)))
        })
    });
    let which = match matches {
        Some((s, c)) => {
            let of = match s {
                Statistic::Mean => "the mean",
                Statistic::Sum => "the sum",
            };
            let times = if c == (1, 1) {
                String::new()
            } else {
                format!("{} × ", rational_text(c))
            };
            format!(", {times}{of} of the right gradient")
        }
        None => String::new(),
    };
    let sentence = format!(
        "every element is the same number{which}: one scalar broadcast to every element (such as \
         `2 * mean(y - f)`, the derivative of a mean loss taken as a whole); each element has its \
         own derivative, dL/df_m = ∂L/∂f_m (Eq. 36a), for sqerr f_m − y_m (Eq. 31b): compute it \
         elementwise"
    );
    Some(BroadcastScalar {
        matches,
        example,
        sentence,
    })
}

/// The one value of every element of `got` (to the explaining tolerance), unless it is zero
/// (that is `zero`) or the shapes differ.
fn constant_value(expected: &ArrayD<f64>, got: &ArrayD<f64>) -> Option<f64> {
    if expected.shape() != got.shape() || got.is_empty() || got.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let first = got.iter().next().copied()?;
    (first != 0.0 && got.iter().all(|v| close(*v, first))).then_some(first)
}

/// Which term of a sum is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Term {
    /// The first data point (or output): a loop that overwrites, run backwards, or `[0]`.
    First,
    /// The last one: a loop that overwrites, run forwards.
    Last,
}

/// One linear case: the inputs and upstream gradient, and a gradient returned.
#[derive(Debug, Clone, Copy)]
pub struct LinearCase<'a> {
    /// The layer's input, B × Din.
    pub h: ArrayView2<'a, f64>,
    /// The weights, Din × Dout.
    pub w: ArrayView2<'a, f64>,
    /// dL/da, B × Dout.
    pub grad_out: ArrayView2<'a, f64>,
    /// The gradient returned for the input in question.
    pub got: &'a ArrayD<f64>,
}

/// Contributions overwritten instead of summed, the same term in every case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FanoutOverwrite {
    /// The term kept.
    pub term: Term,
    /// The smallest case (index into those given).
    pub example: usize,
    /// What it means and what to change.
    pub sentence: String,
}

/// What linear's `input` gradient (`W`, `b` or `h`) would be if only `term` of its sum were
/// kept; `None` for another input or where the sum has one term (B = 1 for W and b, Dout = 1 for
/// h: the term is the whole sum, and right).
pub fn linear_term(input: &str, case: &LinearCase<'_>, term: Term) -> Option<ArrayD<f64>> {
    let pick = |n: usize| match term {
        Term::First => 0,
        Term::Last => n - 1,
    };
    let (batch, d_out) = case.grad_out.dim();
    match input {
        "W" | "b" if batch > 1 => {
            let k = pick(batch);
            let g = case.grad_out.row(k);
            Some(match input {
                "W" => outer(case.h.row(k).to_owned(), g.to_owned()).into_dyn(),
                _ => g.to_owned().into_dyn(),
            })
        }
        "h" if d_out > 1 => {
            let j = pick(d_out);
            let g = case.grad_out.index_axis(Axis(1), j).to_owned();
            let w = case.w.index_axis(Axis(1), j).to_owned();
            Some(outer(g, w).into_dyn())
        }
        _ => None,
    }
}

/// u vᵀ.
fn outer(u: ndarray::Array1<f64>, v: ndarray::Array1<f64>) -> Array2<f64> {
    let (m, n) = (u.len(), v.len());
    Array2::from_shape_fn((m, n), |(i, j)| u[i] * v[j])
}

/// The term of linear's `input` gradient that every case returns instead of the sum, or `None`.
pub fn fanout_overwrite(input: &str, cases: &[LinearCase<'_>]) -> Option<FanoutOverwrite> {
    let kept = |term: Term| {
        !cases.is_empty()
            && cases
                .iter()
                .all(|c| linear_term(input, c, term).is_some_and(|p| super::explains(&p, c.got)))
    };
    let term = [Term::Last, Term::First].into_iter().find(|&t| kept(t))?;
    let example = (0..cases.len())
        .min_by_key(|&i| (cases[i].h.len() + cases[i].w.len() + cases[i].grad_out.len(), i))?;
    let which = match term {
        Term::First => "first",
        Term::Last => "last",
    };
    let sentence = match input {
        "W" => format!(
            "dL/dW is one term of its sum, the {which} data point's h[k]ᵀ dL/da[k]: W is used by every data point, so their contributions add up, dL/dW = Σ_k h[k]ᵀ dL/da[k] = hᵀ dL/da (Eq. 70, the sum over paths of Eq. 4–10); write `dW += …` where you wrote `dW = …` in the loop over data points"
        ),
        "b" => format!(
            "dL/db is one data point's dL/da[k], the {which}: b is added to every row, so dL/db = Σ_k dL/da[k] (Eq. 74, the sum over paths of Eq. 4–10); write `db += …` where you wrote `db = …`"
        ),
        _ => format!(
            "dL/dh is the contribution through the {which} output j alone, dL/da[:, j] W[:, j]ᵀ: h feeds every output, so dL/dh = Σ_j dL/da[:, j] W[:, j]ᵀ = dL/da Wᵀ (Eq. 65–66, the sum over paths of Eq. 4–10); write `dh += …` where you wrote `dh = …` in the loop over outputs (this is wrong at B = 1 too)"
        ),
    };
    Some(FanoutOverwrite {
        term,
        example,
        sentence,
    })
}

/// Agreement to float32 precision and no better.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Float32 {
    /// The largest |got − expected| over the cases, as a fraction of its array's scale.
    pub worst: f64,
    /// Every value returned is a float32 (to the few f64 ulps a JSON round trip may add).
    pub all_float32_values: bool,
    /// What it means and what to change.
    pub sentence: String,
}

/// Every case agrees to float32 precision ([`FLOAT32_AGREE`]) and the worst is no better than
/// [`FLOAT32_FLOOR`]; `None` otherwise. Cases are (expected, got) pairs.
pub fn float32(cases: &[(&ArrayD<f64>, &ArrayD<f64>)]) -> Option<Float32> {
    let mut worst = 0.0_f64;
    for (expected, got) in cases {
        if expected.shape() != got.shape() || got.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let scale = max_abs(expected).max(max_abs(got));
        let diff = max_abs(&(*got - *expected));
        if diff > FLOAT32_AGREE * scale {
            return None;
        }
        if scale > 0.0 {
            worst = worst.max(diff / scale);
        }
    }
    if worst <= FLOAT32_FLOOR {
        return None;
    }
    let all_float32_values = cases.iter().flat_map(|(_, g)| g.iter()).all(|&v| is_float32(v));
    let evidence = if all_float32_values {
        " and every value you return is a float32"
    } else {
        ""
    };
    let sentence = format!(
        "computed in float32? every element agrees to float32 precision (worst {worst:.1e} of the gradient's scale) and no better{evidence}: float32 keeps about 7 digits, these checks ask for 8; compute in float64 (`np.float64`, `torch.float64`), or accept float32 with {FLOAT32_ADVICE}"
    );
    Some(Float32 {
        worst,
        all_float32_values,
        sentence,
    })
}

/// `v` is a float32 value, up to the few f64 ulps a JSON round trip may add.
fn is_float32(v: f64) -> bool {
    (v - f64::from(v as f32)).abs() <= 4.0 * f64::EPSILON * v.abs()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::linear;
    use crate::random;
    use crate::verify::explain;
    use ndarray::{Array2, arr2};

    #[test]
    fn twice_the_mean_of_minus_the_gradient_broadcast_is_named_with_its_scalar() {
        // sqerr: dL/df = f − y; the bug answers 2 · mean(y − f) everywhere.
        let right = [
            arr2(&[[0.5, -1.0, 2.0]]).into_dyn(),
            arr2(&[[1.0], [3.0]]).into_dyn(),
            arr2(&[[4.0]]).into_dyn(),
        ];
        let got: Vec<ArrayD<f64>> = right
            .iter()
            .map(|e| e.mapv(|_| -2.0 * e.mean().unwrap_or(0.0)))
            .collect();
        let cases: Vec<_> = right.iter().zip(&got).collect();
        let found = broadcast_scalar(&cases).expect("a broadcast");
        assert_eq!(found.matches, Some((Statistic::Mean, (-2, 1))));
        assert!(found.sentence.contains("−2 × the mean"), "{}", found.sentence);
        // The 1×1 case is ambiguous (it reads as a sign flipped and doubled); 2×1 is the smallest.
        assert_eq!(found.example, 1);
    }

    #[test]
    fn a_broadcast_of_an_unknown_scalar_is_still_a_broadcast() {
        let e = arr2(&[[0.5, -1.0], [2.0, 0.25]]).into_dyn();
        let g = e.mapv(|_| 0.123);
        let found = broadcast_scalar(&[(&e, &g)]).expect("a broadcast");
        assert_eq!(found.matches, None);
        // The sum of 4 elements is 4 × their mean: a second size tells them apart.
        let sum = e.mapv(|_| e.sum());
        assert_eq!(
            broadcast_scalar(&[(&e, &sum)]).and_then(|b| b.matches),
            Some((Statistic::Mean, (4, 1)))
        );
        let row = arr2(&[[1.0, 2.5, -0.5]]).into_dyn();
        let row_sum = row.mapv(|_| row.sum());
        let both = broadcast_scalar(&[(&e, &sum), (&row, &row_sum)]);
        assert_eq!(both.and_then(|b| b.matches), Some((Statistic::Sum, (1, 1))));
    }

    #[test]
    fn no_broadcast_where_the_answer_varies_is_zero_or_the_right_one_is_constant() {
        let e = arr2(&[[0.5, -1.0], [2.0, 0.25]]).into_dyn();
        assert_eq!(broadcast_scalar(&[(&e, &(&e * 2.0))]), None);
        assert_eq!(broadcast_scalar(&[(&e, &e.mapv(|_| 0.0))]), None);
        // A constant right gradient, or a single element, proves nothing.
        let flat = e.mapv(|_| 1.5);
        assert_eq!(broadcast_scalar(&[(&flat, &flat.mapv(|_| 3.0))]), None);
        let one = arr2(&[[2.0]]).into_dyn();
        assert_eq!(broadcast_scalar(&[(&one, &one.mapv(|_| -4.0))]), None);
        // One case that does not broadcast spoils the rest.
        assert_eq!(
            broadcast_scalar(&[(&e, &e.mapv(|_| 0.1)), (&e, &(&e * 2.0))]),
            None
        );
    }

    /// A linear case of shape (B, Din, Dout) with random inputs, and its right gradients.
    struct Drawn {
        h: Array2<f64>,
        w: Array2<f64>,
        g: Array2<f64>,
        right: linear::LinearGrads,
    }

    fn draw(seed: u64, (b, din, dout): (usize, usize, usize)) -> Drawn {
        let mut rng = random::case_rng(seed, 0);
        let h = random::normal_matrix(&mut rng, b, din);
        let w = random::normal_matrix(&mut rng, din, dout);
        let bias = random::normal_vector(&mut rng, dout);
        let g = random::normal_matrix(&mut rng, b, dout);
        let right = linear::backward(g.view(), h.view(), w.view(), bias.view()).expect("shapes fit");
        Drawn { h, w, g, right }
    }

    const SHAPES: [(usize, usize, usize); 4] = [(4, 3, 2), (3, 3, 3), (2, 1, 3), (3, 4, 2)];

    /// Loops that overwrite: what a student's `=` for `+=` returns, written out by hand.
    fn overwritten(d: &Drawn, input: &str, reversed: bool) -> ArrayD<f64> {
        let (b, din) = d.h.dim();
        let dout = d.w.ncols();
        let order = |n: usize| -> Vec<usize> {
            if reversed {
                (0..n).rev().collect()
            } else {
                (0..n).collect()
            }
        };
        match input {
            "W" => {
                let mut dw = Array2::zeros((din, dout));
                for k in order(b) {
                    for i in 0..din {
                        for j in 0..dout {
                            dw[[i, j]] = d.h[[k, i]] * d.g[[k, j]];
                        }
                    }
                }
                dw.into_dyn()
            }
            "b" => {
                let mut db = ndarray::Array1::zeros(dout);
                for k in order(b) {
                    for j in 0..dout {
                        db[j] = d.g[[k, j]];
                    }
                }
                db.into_dyn()
            }
            _ => {
                let mut dh = Array2::zeros((b, din));
                for j in order(dout) {
                    for k in 0..b {
                        for i in 0..din {
                            dh[[k, i]] = d.g[[k, j]] * d.w[[i, j]];
                        }
                    }
                }
                dh.into_dyn()
            }
        }
    }

    fn cases<'a>(drawn: &'a [Drawn], got: &'a [ArrayD<f64>]) -> Vec<LinearCase<'a>> {
        drawn
            .iter()
            .zip(got)
            .map(|(d, got)| LinearCase {
                h: d.h.view(),
                w: d.w.view(),
                grad_out: d.g.view(),
                got,
            })
            .collect()
    }

    #[test]
    fn overwriting_loops_are_recognised_for_each_input_and_direction() {
        let drawn = draw_all();
        for input in ["W", "b", "h"] {
            for (reversed, term) in [(false, Term::Last), (true, Term::First)] {
                let got: Vec<ArrayD<f64>> = drawn.iter().map(|d| overwritten(d, input, reversed)).collect();
                let found = fanout_overwrite(input, &cases(&drawn, &got)).expect("an overwrite");
                assert_eq!(found.term, term, "dL/d{input}");
                assert!(found.sentence.contains("+="), "{}", found.sentence);
                // (2, 1, 3) is the smallest.
                assert_eq!(found.example, 2);
            }
        }
    }

    #[test]
    fn the_right_gradient_and_other_bugs_are_not_an_overwrite() {
        let drawn = draw_all();
        let right: Vec<ArrayD<f64>> = drawn.iter().map(|d| d.right.w.clone().into_dyn()).collect();
        assert_eq!(fanout_overwrite("W", &cases(&drawn, &right)), None);
        let halved: Vec<ArrayD<f64>> = right.iter().map(|w| w / 2.0).collect();
        assert_eq!(fanout_overwrite("W", &cases(&drawn, &halved)), None);
        // Last term in some cases, first in others: no one loop explains it.
        let mixed: Vec<ArrayD<f64>> = drawn
            .iter()
            .enumerate()
            .map(|(i, d)| overwritten(d, "b", i % 2 == 0))
            .collect();
        assert_eq!(fanout_overwrite("b", &cases(&drawn, &mixed)), None);
        assert_eq!(fanout_overwrite("x", &cases(&drawn, &right)), None);
    }

    #[test]
    fn a_sum_of_one_term_is_no_evidence() {
        // B = 1: h[0]ᵀ g[0] is the whole sum for W and b; Dout = 1: the same for h.
        let d = draw(9, (1, 2, 1));
        let case = LinearCase {
            h: d.h.view(),
            w: d.w.view(),
            grad_out: d.g.view(),
            got: &d.right.b.clone().into_dyn(),
        };
        for input in ["W", "b", "h"] {
            assert_eq!(linear_term(input, &case, Term::Last), None, "{input}");
        }
    }

    /// One drawn case of each of [`SHAPES`].
    fn draw_all() -> Vec<Drawn> {
        SHAPES
            .iter()
            .enumerate()
            .map(|(i, &s)| draw(i as u64, s))
            .collect()
    }

    /// `a` rounded to float32, element by element.
    fn rounded(a: &ArrayD<f64>) -> ArrayD<f64> {
        a.mapv(|v| f64::from(v as f32))
    }

    #[test]
    fn a_gradient_rounded_to_float32_is_float32_and_says_what_to_pass() {
        let drawn = draw_all();
        let right: Vec<ArrayD<f64>> = drawn.iter().map(|d| d.right.w.clone().into_dyn()).collect();
        let got: Vec<ArrayD<f64>> = right.iter().map(rounded).collect();
        let cases: Vec<_> = right.iter().zip(&got).collect();
        let found = float32(&cases).expect("float32");
        assert!(found.all_float32_values);
        // One f64 ulp off (a decimal round trip) is still a float32; a real f64 is not.
        assert!(is_float32(f64::from(0.1_f32).next_up()));
        assert!(!is_float32(0.1));
        assert!(
            found.worst > FLOAT32_FLOOR && found.worst < 1e-6,
            "{}",
            found.worst
        );
        assert!(
            found.sentence.contains("--rtol 1e-3 --atol 1e-5"),
            "{}",
            found.sentence
        );
    }

    #[test]
    fn a_float32_computation_is_float32_too() {
        // hᵀ g with every input and every product and sum rounded to float32.
        let d = draw(3, (5, 4, 6));
        let (h, g) = (d.h.mapv(|v| v as f32), d.g.mapv(|v| v as f32));
        let dw = Array2::from_shape_fn((4, 6), |(i, j)| {
            f64::from((0..5).fold(0.0_f32, |s, k| s + h[[k, i]] * g[[k, j]]))
        })
        .into_dyn();
        let right = d.right.w.into_dyn();
        assert!(float32(&[(&right, &dw)]).is_some());
    }

    #[test]
    fn float64_rounding_and_real_errors_are_not_float32() {
        let e = arr2(&[[0.5, -1.0], [2.0, 0.25]]).into_dyn();
        // Better than float32: f64 rounding.
        assert_eq!(float32(&[(&e, &(&e * (1.0 + 1e-15)))]), None);
        // Worse than float32: a real bug.
        let mut off = e.clone();
        off[[1, 1]] += 1e-3;
        assert_eq!(float32(&[(&e, &off)]), None);
        let mut nan = rounded(&e);
        nan[[0, 0]] = f64::NAN;
        assert_eq!(float32(&[(&e, &nan)]), None);
    }

    #[test]
    fn its_codes_are_documented() {
        for code in ["broadcast_scalar", "fanout_overwrite", "float32"] {
            assert!(explain::explanation(code).is_some(), "{code}");
        }
    }
}
