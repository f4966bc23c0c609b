//! The Eq. 33 network as a whole: what the six parameter gradients say together.
//!
//! Backprop walks the network from the loss down (Eq. 37a–f): dL/df from sqerr, then layer 3
//! (W3, b3), relu, layer 2, relu, layer 1. A bug at one step is inherited by every step below it,
//! so two patterns locate it:
//!
//! - **`loss_factor`**: in each case every parameter gradient is the right one times one shared
//!   factor r. Every layer's gradient is linear in dL/df (Eq. 37b–f), so a shared factor means
//!   dL/df itself is r × (f − y): the loss's backward is the cause. When the factors fit
//!   2/(B·D₃) or 2/B across cases ([`super::shape_factor`]), `mse_convention`
//!   stands beside it: the loss was taken as a mean of squares, not L = ½ Σ (f − y)² (Eq. 34b).
//!   One example serves all six gradients.
//! - **the first wrong layer**: going down from the loss, the first layer whose gradients are
//!   wrong, and the layers below that inherit it. With both dL/dW_k and dL/db_k wrong, dL/da_k is
//!   wrong (dL/dW_k = h_{k−1}ᵀ dL/da_k, dL/db_k = Σ_rows dL/da_k, Eq. 70, 74); with only one of
//!   them wrong, that gradient's own formula is.

use ndarray::ArrayD;
use serde::Serialize;

use super::law::{BATCH, Wording};
use super::shape_factor::{self, Observed, ShapeFactor};
use super::{Ratio, close, ratio};

/// The name of the network's output width in a case's dims.
pub const OUTPUT_WIDTH: &str = "D3";

/// One parameter gradient of one case.
#[derive(Debug, Clone, Copy)]
pub struct Gradient<'a> {
    /// `W1`, `b1`, … `b3` (an `x` is taken as the layer below layer 1).
    pub name: &'a str,
    /// The right gradient.
    pub expected: &'a ArrayD<f64>,
    /// The gradient returned.
    pub got: &'a ArrayD<f64>,
    /// Whether the verifier found it wrong (under its tolerances).
    pub wrong: bool,
}

/// One case of the network: its dims by name (`B`, `D0` … `D3`) and its gradients.
#[derive(Debug, Clone)]
pub struct NetworkCase<'a> {
    /// The dims, by name; `B` and `D3` are used for fitting a factor.
    pub dims: &'a [(&'a str, usize)],
    /// The parameter gradients of the case.
    pub gradients: Vec<Gradient<'a>>,
}

impl NetworkCase<'_> {
    fn size(&self) -> usize {
        self.dims.iter().map(|(_, d)| d).product()
    }
}

/// Every parameter gradient off by one factor per case: the loss's backward is wrong.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LossFactor {
    /// The shared factor of each case given (`None` where the case determines none: every
    /// gradient zero).
    pub factors: Vec<Option<f64>>,
    /// The law of the factors over B and D₃, when one fits.
    pub fit: Option<ShapeFactor>,
    /// The one example for every gradient: the fit's unambiguous example for a factor that
    /// depends on the shape, the smallest case otherwise.
    pub example: usize,
    /// What it means and what to change.
    pub sentence: String,
}

impl LossFactor {
    /// `loss_factor`, with `mse_convention` beside it when the factors are 2/(B·D₃) or 2/B.
    pub fn codes(&self) -> Vec<&'static str> {
        let mut codes = vec!["loss_factor"];
        if let Some(fit) = &self.fit
            && fit.code == "mse_convention"
        {
            codes.push("mse_convention");
        }
        codes
    }
}

/// Every case's parameter gradients share one factor per case (≠ 1 in some case), or `None`.
pub fn loss_factor(cases: &[NetworkCase<'_>], wording: Wording<'_>) -> Option<LossFactor> {
    let mut factors = Vec::with_capacity(cases.len());
    for case in cases {
        factors.push(shared_ratio(case)?);
    }
    if !factors.iter().flatten().any(|r| !close(*r, 1.0)) {
        return None;
    }
    let fit_dims: Vec<Vec<(&str, usize)>> = cases
        .iter()
        .map(|c| {
            c.dims
                .iter()
                .filter(|(n, _)| *n == BATCH || *n == OUTPUT_WIDTH)
                .copied()
                .collect()
        })
        .collect();
    let observed: Vec<Observed<'_>> = factors
        .iter()
        .zip(&fit_dims)
        .enumerate()
        .filter_map(|(index, (r, dims))| r.map(|ratio| Observed { index, dims, ratio }))
        .collect();
    let fit = shape_factor::fit_ratios(&observed, wording);
    // One example for every gradient: where possible a case in which all of them are wrong (a
    // dead relu leaves a gradient zero, and so right, in some cases).
    let all_wrong = |i: usize| cases[i].gradients.iter().all(|g| g.wrong);
    let smallest = (0..cases.len())
        .filter(|&i| factors[i].is_some_and(|r| !close(r, 1.0)))
        .min_by_key(|&i| (!all_wrong(i), cases[i].size(), i))?;
    let observed_all_wrong: Vec<Observed<'_>> =
        observed.iter().filter(|o| all_wrong(o.index)).copied().collect();
    let example = fit
        .as_ref()
        .filter(|f| f.depends_on_shape())
        .and_then(|f| {
            shape_factor::fit_ratios(&observed_all_wrong, wording)
                .filter(|g| g.formula == f.formula)
                .and_then(|g| g.example)
                .or(f.example)
        })
        .unwrap_or(smallest);
    let law = match &fit {
        Some(f) => format!("; the factor is {} in every case: {}", f.formula, f.sentence),
        None => {
            " (a different factor in different cases, with no law over B and D3 that we recognise)".to_owned()
        }
    };
    let sentence = format!(
        "every parameter gradient, dL/dW1 to dL/db3, is off by the same factor within each case: \
         each is linear in dL/df (Eq. 37b–f), so the loss's backward is the cause, dL/df must be \
         f − y (Eq. 31b, 37a){law}"
    );
    Some(LossFactor {
        factors,
        fit,
        example,
        sentence,
    })
}

/// The one ratio all of a case's gradients share (`Some(None)`: all zero, any factor fits).
fn shared_ratio(case: &NetworkCase<'_>) -> Option<Option<f64>> {
    let mut shared: Option<f64> = None;
    for g in &case.gradients {
        if let Ratio::Of(r) = ratio(g.expected, g.got)? {
            match shared {
                Some(s) if !close(s, r) => return None,
                Some(_) => {}
                None => shared = Some(r),
            }
        }
    }
    Some(shared)
}

/// Going down from the loss, the first layer with a wrong gradient.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FirstWrongLayer {
    /// 3, 2 or 1 (layer 3 is next to the loss).
    pub layer: usize,
    /// Which of its gradients are wrong in some case (`W2`, `b2`).
    pub wrong: Vec<String>,
    /// The gradients of the layers below that are wrong in some case: they inherit it.
    pub below: Vec<String>,
    /// The smallest case where the first wrong layer is wrong.
    pub example: usize,
    /// Where to look.
    pub sentence: String,
}

/// The first layer (from the loss down) with a wrong gradient in any case, with what the layers
/// below inherit; `None` when nothing is wrong or a gradient's name is not a layer's.
pub fn first_wrong_layer(cases: &[NetworkCase<'_>]) -> Option<FirstWrongLayer> {
    let layer_of = |name: &str| -> Option<usize> {
        match name {
            "x" => Some(0),
            _ => name.get(1..)?.parse().ok().filter(|l| (1..=3).contains(l)),
        }
    };
    let mut wrong_names: Vec<(usize, &str)> = Vec::new();
    for g in cases.iter().flat_map(|c| &c.gradients).filter(|g| g.wrong) {
        let layer = layer_of(g.name)?;
        if !wrong_names.contains(&(layer, g.name)) {
            wrong_names.push((layer, g.name));
        }
    }
    wrong_names.sort();
    let layer = wrong_names.iter().map(|(l, _)| *l).max().filter(|&l| l > 0)?;
    let names_at = |keep: &dyn Fn(usize) -> bool| -> Vec<String> {
        wrong_names
            .iter()
            .filter(|(l, _)| keep(*l))
            .map(|(_, n)| (*n).to_owned())
            .collect()
    };
    let wrong = names_at(&|l| l == layer);
    let below = names_at(&|l| l < layer);
    let example = (0..cases.len())
        .filter(|&i| {
            cases[i]
                .gradients
                .iter()
                .any(|g| g.wrong && layer_of(g.name) == Some(layer))
        })
        .min_by_key(|&i| (cases[i].size(), i))?;
    let sentence = where_to_look(layer, &wrong, &below);
    Some(FirstWrongLayer {
        layer,
        wrong,
        below,
        example,
        sentence,
    })
}

/// The step of Eq. 37 to look at when `layer` is the first wrong one.
fn where_to_look(layer: usize, wrong: &[String], below: &[String]) -> String {
    let list = |names: &[String]| {
        names
            .iter()
            .map(|n| format!("dL/d{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let layers_above = match layer {
        3 => "the first layer from the loss".to_owned(),
        2 => "layer 3 above it is right".to_owned(),
        _ => "layers 3 and 2 above it are right".to_owned(),
    };
    let upstream = match layer {
        3 => "dL/df, from sqerr.backward (Eq. 37a)",
        2 => "dL/da2 = Θ(a2) ⊙ dL/dh2 (relu.backward, Eq. 37c), or dL/dh2 = dL/df W3ᵀ (Eq. 37b, 66)",
        _ => {
            "dL/da1 = Θ(a1) ⊙ dL/dh1 (relu.backward with a1, not a2: Eq. 37e is misprinted), or dL/dh1 = dL/da2 W2ᵀ (Eq. 37d, 66)"
        }
    };
    let both = wrong.iter().any(|n| n.starts_with('W')) && wrong.iter().any(|n| n.starts_with('b'));
    let cause = if both {
        format!(
            "both depend on dL/da{layer} only through Eq. 70 and 74, so dL/da{layer} is wrong: look at {upstream}"
        )
    } else if wrong.iter().any(|n| n.starts_with('W')) {
        let input = if layer == 1 {
            "x".to_owned()
        } else {
            format!("h{}", layer - 1)
        };
        format!(
            "dL/db{layer} is right, so dL/da{layer} is right: look at dL/dW{layer} = {input}ᵀ dL/da{layer} (Eq. 70)"
        )
    } else {
        format!("dL/dW{layer} is right: look at dL/db{layer} = Σ_rows dL/da{layer} (Eq. 74)")
    };
    let inherited = if below.is_empty() {
        String::new()
    } else {
        format!(
            "; {} below {} wrong because they inherit it (Eq. 37)",
            list(below),
            if below.len() == 1 { "is" } else { "are" }
        )
    };
    format!(
        "layer {layer} is the first wrong one going back from the loss ({}; {layers_above}): {cause}{inherited}",
        list(wrong)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlp::{self, MlpParams};
    use crate::random;
    use crate::tape::Wrt;
    use crate::verify::explain;
    use crate::verify::hypotheses::law::generic;
    use ndarray::Array2;

    const NAMES: [&str; 6] = ["W1", "b1", "W2", "b2", "W3", "b3"];

    /// A network case: its dims and the six right gradients.
    struct Drawn {
        dims: Vec<(&'static str, usize)>,
        expected: Vec<ArrayD<f64>>,
    }

    fn draw(seed: u64, [b, d0, d1, d2, d3]: [usize; 5]) -> Drawn {
        let mut rng = random::case_rng(seed, 0);
        let params: MlpParams = random::mlp_params(&mut rng, [d0, d1, d2, d3]);
        let x: Array2<f64> = random::normal_matrix(&mut rng, b, d0);
        let y: Array2<f64> = random::normal_matrix(&mut rng, b, d3);
        let g = mlp::loss_and_grads(&params, &x, &y, Wrt::Params).expect("shapes fit");
        Drawn {
            dims: vec![("B", b), ("D0", d0), ("D1", d1), ("D2", d2), ("D3", d3)],
            expected: vec![
                g.w1.into_dyn(),
                g.b1.into_dyn(),
                g.w2.into_dyn(),
                g.b2.into_dyn(),
                g.w3.into_dyn(),
                g.b3.into_dyn(),
            ],
        }
    }

    const SHAPES: [[usize; 5]; 5] = [
        [1, 3, 4, 5, 2],
        [4, 3, 3, 3, 3],
        [3, 2, 4, 3, 1],
        [2, 1, 3, 3, 1],
        [5, 4, 1, 3, 2],
    ];

    /// The drawn cases and, per case, the six gradients as returned by `answer(case, i, e)`.
    fn answered(
        answer: impl Fn(&Drawn, usize, &ArrayD<f64>) -> ArrayD<f64>,
    ) -> Vec<(Drawn, Vec<ArrayD<f64>>)> {
        SHAPES
            .iter()
            .enumerate()
            .map(|(s, &shape)| {
                let drawn = draw(s as u64 + 1, shape);
                let got = drawn
                    .expected
                    .iter()
                    .enumerate()
                    .map(|(i, e)| answer(&drawn, i, e))
                    .collect();
                (drawn, got)
            })
            .collect()
    }

    fn cases(answered: &[(Drawn, Vec<ArrayD<f64>>)]) -> Vec<NetworkCase<'_>> {
        answered
            .iter()
            .map(|(drawn, got)| NetworkCase {
                dims: &drawn.dims,
                gradients: NAMES
                    .iter()
                    .zip(&drawn.expected)
                    .zip(got)
                    .map(|((name, e), g)| Gradient {
                        name,
                        expected: e,
                        got: g,
                        wrong: super::super::max_abs(&(g - e)) > 1e-8 * super::super::max_abs(e),
                    })
                    .collect(),
            })
            .collect()
    }

    fn dim(drawn: &Drawn, name: &str) -> f64 {
        drawn.dims.iter().find(|(n, _)| *n == name).expect("a dim").1 as f64
    }

    #[test]
    fn the_mse_loss_makes_every_gradient_off_by_two_over_b_d3_with_one_example() {
        let data = answered(|d, _, e| e * (2.0 / (dim(d, "B") * dim(d, "D3"))));
        let found = loss_factor(&cases(&data), &generic).expect("a loss factor");
        assert_eq!(found.codes(), vec!["loss_factor", "mse_convention"]);
        let fit = found.fit.as_ref().expect("a law");
        assert_eq!(fit.formula, "2/(B·D3)");
        // B = 5, D3 = 2 is the smaller of the two cases with both > 1.
        assert_eq!(found.example, 4);
        assert!(found.sentence.contains("loss's backward"), "{}", found.sentence);
        assert!(
            found.factors[2].is_some_and(|r| close(r, 2.0 / 3.0)),
            "{:?}",
            found.factors
        );
    }

    #[test]
    fn a_constant_loss_factor_stands_alone() {
        let data = answered(|_, _, e| e * 2.0);
        let found = loss_factor(&cases(&data), &generic).expect("a loss factor");
        assert_eq!(found.codes(), vec!["loss_factor"]);
        assert_eq!(found.fit.as_ref().map(|f| f.formula.as_str()), Some("2"));
        // The smallest case: B = 2, widths 1, 3, 3, 1.
        assert_eq!(found.example, 3);
    }

    #[test]
    fn a_factor_on_some_gradients_only_is_no_loss_factor() {
        // Layer 3 right, layers 2 and 1 doubled: not the loss (the relu mask of layer 2, say).
        let data = answered(|_, i, e| if i < 4 { e * 2.0 } else { e.clone() });
        assert_eq!(loss_factor(&cases(&data), &generic), None);
        // A right answer is no loss factor either.
        let data = answered(|_, _, e| e.clone());
        assert_eq!(loss_factor(&cases(&data), &generic), None);
    }

    #[test]
    fn factors_with_no_recognised_law_still_blame_the_loss() {
        let data = answered(|d, _, e| e * (1.0 + dim(d, "D1")));
        let found = loss_factor(&cases(&data), &generic).expect("a loss factor");
        assert_eq!((found.codes(), found.fit), (vec!["loss_factor"], None));
        assert!(found.sentence.contains("no law"), "{}", found.sentence);
    }

    #[test]
    fn the_first_wrong_layer_is_named_with_what_it_hands_down() {
        // A bug in dL/da2: W2, b2 wrong, and W1, b1 below inherit it.
        let data = answered(|_, i, e| if i < 4 { e * 1.5 + 0.1 } else { e.clone() });
        let found = first_wrong_layer(&cases(&data)).expect("a wrong layer");
        assert_eq!(found.layer, 2);
        assert_eq!(found.wrong, vec!["W2", "b2"]);
        assert_eq!(found.below, vec!["W1", "b1"]);
        assert!(
            found.sentence.contains("dL/da2") && found.sentence.contains("inherit"),
            "{}",
            found.sentence
        );
        // The smallest case: B = 2, widths 1, 3, 3, 1.
        assert_eq!(found.example, 3);
    }

    #[test]
    fn a_wrong_weight_gradient_alone_points_at_its_own_formula() {
        let data = answered(|_, i, e| if i == 0 { e * 0.0 + 1.0 } else { e.clone() });
        let found = first_wrong_layer(&cases(&data)).expect("a wrong layer");
        assert_eq!((found.layer, found.below.len()), (1, 0));
        assert!(
            found.sentence.contains("dL/dW1 = xᵀ dL/da1 (Eq. 70)"),
            "{}",
            found.sentence
        );
        let data = answered(|_, i, e| if i == 5 { e * 0.0 } else { e.clone() });
        let found = first_wrong_layer(&cases(&data)).expect("a wrong layer");
        assert_eq!((found.layer, found.wrong.as_slice()), (3, &["b3".to_owned()][..]));
        assert!(found.sentence.contains("Eq. 74"), "{}", found.sentence);
    }

    #[test]
    fn nothing_wrong_or_an_unknown_name_gives_no_layer() {
        let data = answered(|_, _, e| e.clone());
        assert_eq!(first_wrong_layer(&cases(&data)), None);
        let data = answered(|_, _, e| e * 3.0);
        let mut named = cases(&data);
        named[0].gradients[0].name = "weights";
        assert_eq!(first_wrong_layer(&named), None);
    }

    #[test]
    fn its_codes_are_documented() {
        for code in ["loss_factor", "mse_convention"] {
            assert!(explain::explanation(code).is_some(), "{code}");
        }
    }
}
