//! The bugs the verifier can name, each with a stable code (the vocabulary of the diagnoses
//! issue, shown in reports and JSON) and a short explanation that cites the notes' equation.
//!
//! Codes: `zero`, `sign`, `upstream_ignored`, `batch_mean`, `element_mean`, `factor`,
//! `transposed`, `swapped`, and `row_zero` / `column_zero` for one zeroed row or column (kept
//! apart from `zero`, every element zero, because they point at a loop bound rather than a
//! missing computation). A constant factor carries what it means for the op at hand, where the
//! op says (a 2 in sqerr is the ½ of its loss missing; in linear, only a 2).
//!
//! Beside them, the diagnoses that only many cases (or a whole network) show, carrying what
//! [`crate::verify::hypotheses`] found: a factor that depends on the shape (its code is the fit's:
//! `sign`, `factor`, `batch_mean`, `element_mean`, `mse_convention`), `loss_factor` (with
//! `mse_convention` beside it when the factors are 2/(B·D3) or 2/B), `broadcast_scalar`,
//! `fanout_overwrite`, `float32`; and those of a call: `nondeterministic`, `no_answer`,
//! `upstream_nonlinear` (a custom op's backward not linear in its cotangent), `mutated_input`.
//!
//! And [`Diagnosis::Bug`]: a bug particular to one op, with its code and texts in that op's home
//! (`crate::verify::ops`), so that a new op's bugs touch nothing here.

use std::fmt;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::catalogue::Bug;
use crate::verify::hypotheses::network::LossFactor;
use crate::verify::hypotheses::patterns::{BroadcastScalar, FanoutOverwrite, Float32};
use crate::verify::hypotheses::shape_factor::ShapeFactor;

/// A recognised bug.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Diagnosis {
    /// Every element is zero.
    AllZero,
    /// The right gradient, negated.
    SignFlipped,
    /// What an upstream gradient of all ones would give: dL/d(output) is not multiplied in.
    UpstreamIgnored,
    /// The right gradient divided by the batch size B.
    MeanOverBatch,
    /// The right gradient divided by the number of elements N = B·D.
    MeanOverElements,
    /// The right gradient times a constant, with what it means for the op at hand where the op
    /// says (`VerifiedOp::factor_meaning`: sqerr's 2 is its ½ missing).
    Factor {
        /// The constant.
        factor: f64,
        /// The op's meaning of it, if it has one.
        meaning: Option<String>,
    },
    /// The transpose of the right gradient.
    Transposed,
    /// The network: this is another parameter's gradient.
    SwappedWith(String),
    /// One row (the last, or another) is zero and the rest are right.
    RowZero { last: bool },
    /// One column (the last, or another) is zero and the rest are right.
    ColumnZero { last: bool },
    /// got = c · B^p · Π D^q · expected over every failing case, with the fit's own code.
    ShapeFactor(ShapeFactor),
    /// The network: every parameter gradient off by one shared factor per case.
    LossFactor(LossFactor),
    /// One value in every element, where the right gradient varies.
    BroadcastScalar(BroadcastScalar),
    /// One term of a sum over the uses of a value kept, instead of the sum.
    FanoutOverwrite(FanoutOverwrite),
    /// Right to float32 precision and no better.
    Float32(Float32),
    /// The same request, asked twice, got two different answers.
    Nondeterministic,
    /// The backward is not linear in the upstream gradient (it squares, clips or takes the
    /// absolute value of it).
    UpstreamNonlinear,
    /// Not one request got an answer: an unflushed standard output, most often.
    NoAnswer,
    /// The backward wrote into an array it was given.
    MutatedInput,
    /// A bug particular to one op, named in its home.
    Bug(&'static Bug),
}

/// The flush idioms `no_answer` suggests.
pub const FLUSH_ADVICE: &str = "did the program flush its standard output after each answer? \
    Output to a pipe is buffered: in Python `print(json.dumps(answer), flush=True)` (or run \
    `python3 -u`), in C `fflush(stdout)`, in C++ `std::cout << std::flush` (or `std::endl`), in \
    Rust `io::stdout().flush()`, in Julia `flush(stdout)`; `gradverify explain no_answer` has more";

impl Diagnosis {
    /// The stable code, e.g. `sign` or `bias_not_summed`.
    pub fn code(&self) -> &'static str {
        match self {
            Diagnosis::AllZero => "zero",
            Diagnosis::SignFlipped => "sign",
            Diagnosis::UpstreamIgnored => "upstream_ignored",
            Diagnosis::MeanOverBatch => "batch_mean",
            Diagnosis::MeanOverElements => "element_mean",
            Diagnosis::Factor { .. } => "factor",
            Diagnosis::Transposed => "transposed",
            Diagnosis::SwappedWith(_) => "swapped",
            Diagnosis::RowZero { .. } => "row_zero",
            Diagnosis::ColumnZero { .. } => "column_zero",
            Diagnosis::ShapeFactor(fit) => fit.code,
            Diagnosis::LossFactor(_) => "loss_factor",
            Diagnosis::BroadcastScalar(_) => "broadcast_scalar",
            Diagnosis::FanoutOverwrite(_) => "fanout_overwrite",
            Diagnosis::Float32(_) => "float32",
            Diagnosis::Nondeterministic => "nondeterministic",
            Diagnosis::UpstreamNonlinear => "upstream_nonlinear",
            Diagnosis::NoAnswer => "no_answer",
            Diagnosis::MutatedInput => "mutated_input",
            Diagnosis::Bug(bug) => bug.code,
        }
    }

    /// Every code the diagnosis stands for: its own, then any beside it (`mse_convention` beside
    /// `loss_factor`).
    pub fn codes(&self) -> Vec<&'static str> {
        match self {
            Diagnosis::LossFactor(loss) => loss.codes(),
            other => vec![other.code()],
        }
    }

    /// Whether the diagnosis itself explains why a batch of one passes (a mean over the batch, the
    /// bias taken from one data point, a law in B), so that a report need not say it again.
    pub fn says_batch_of_one_passes(&self) -> bool {
        match self {
            Diagnosis::MeanOverBatch
            | Diagnosis::FanoutOverwrite(_)
            | Diagnosis::ShapeFactor(_)
            | Diagnosis::LossFactor(_) => true,
            Diagnosis::Bug(bug) => bug.says_batch_of_one_passes(),
            _ => false,
        }
    }

    /// What the bug is and what the notes say instead, in one sentence.
    pub fn explanation(&self) -> String {
        match self {
            Diagnosis::AllZero => "every element is zero".to_owned(),
            Diagnosis::SignFlipped => "sign flipped: you return minus the right gradient".to_owned(),
            Diagnosis::UpstreamIgnored => "upstream gradient ignored: you return what an upstream of all ones would give; backward must multiply by dL/d(output) (Eq. 28)".to_owned(),
            Diagnosis::MeanOverBatch => "divided by the batch size B: a mean over data points where the loss sums (Eq. 34b); correct only when B = 1".to_owned(),
            Diagnosis::MeanOverElements => {
                "divided by the number of elements B·D: a mean where L = ½ Σ (f − y)² sums (Eq. 34b)".to_owned()
            }
            Diagnosis::Factor {
                factor: c,
                meaning: Some(meaning),
            } => format!("you return {c} × the right gradient: {meaning}"),
            Diagnosis::Factor { factor: c, .. } => {
                format!("off by a constant factor: you return {c} × the right gradient")
            }
            Diagnosis::Transposed => "transposed: you return the transpose of the gradient; a gradient has the shape of its input (dL/dW = hᵀ dL/da, Eq. 70)".to_owned(),
            Diagnosis::SwappedWith(other) => {
                format!("this is dL/d{other}: gradients returned in the wrong place")
            }
            Diagnosis::RowZero { last } => format!(
                "{} row is zero and every other row is right (a loop that stops one short?)",
                if *last { "the last" } else { "one" }
            ),
            Diagnosis::ColumnZero { last } => format!(
                "{} column is zero and every other column is right (a loop that stops one short?)",
                if *last { "the last" } else { "one" }
            ),
            Diagnosis::ShapeFactor(fit) => fit.sentence.clone(),
            Diagnosis::LossFactor(loss) => loss.sentence.clone(),
            Diagnosis::BroadcastScalar(broadcast) => broadcast.sentence.clone(),
            Diagnosis::FanoutOverwrite(fanout) => fanout.sentence.clone(),
            Diagnosis::Float32(float32) => float32.sentence.clone(),
            Diagnosis::Nondeterministic => "the backward keeps state between calls (an accumulator not reset, a cache) or draws random numbers; a backward is a function of its inputs".to_owned(),
            Diagnosis::UpstreamNonlinear => "not linear in the upstream gradient: the backward squares, clips or takes the absolute value of dL/d(output), or adds a term without it; a backward multiplies dL/d(output) in exactly once (Eq. 28)".to_owned(),
            Diagnosis::NoAnswer => FLUSH_ADVICE.to_owned(),
            Diagnosis::MutatedInput => "a masked or scaled copy written into the array itself (`dout[x <= 0] = 0`, `grad *= 2`, `x -= …`) changes the caller's array too, and a network's next backward reads the changed values; copy first: `dx = dout.copy(); dx[x <= 0] = 0` (or `dx = dout * (x > 0)`)".to_owned(),
            Diagnosis::Bug(bug) => bug.summary.to_owned(),
        }
    }
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.explanation())
    }
}

/// An object: `code`, `explanation`, and the diagnosis's parameter if it has one (`factor`,
/// `layer`, `with`, `last`).
impl Serialize for Diagnosis {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("code", self.code())?;
        map.serialize_entry("explanation", &self.explanation())?;
        match self {
            Diagnosis::Factor { factor, .. } => map.serialize_entry("factor", factor)?,
            Diagnosis::Bug(Bug {
                parameter: Some((name, value)),
                ..
            }) => map.serialize_entry(name, value)?,
            Diagnosis::SwappedWith(other) => map.serialize_entry("with", other)?,
            Diagnosis::RowZero { last } | Diagnosis::ColumnZero { last } => {
                map.serialize_entry("last", last)?
            }
            Diagnosis::ShapeFactor(fit) => map.serialize_entry("formula", &fit.formula)?,
            Diagnosis::LossFactor(loss) => {
                if let Some(fit) = &loss.fit {
                    let law = Related {
                        code: fit.code,
                        formula: &fit.formula,
                        explanation: &fit.sentence,
                    };
                    map.serialize_entry("related", &[law])?;
                }
            }
            Diagnosis::Float32(float32) => map.serialize_entry("worst", &float32.worst)?,
            _ => {}
        }
        map.end()
    }
}

/// A diagnosis that stands beside another (the law of a network's loss factor).
#[derive(serde::Serialize)]
struct Related<'a> {
    code: &'static str,
    formula: &'a str,
    explanation: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code a report can show (each variant's, each fit's, each beside another), with
    /// the fits drawn from cases of every B, D in 1..=3.
    fn every_reachable_code() -> Vec<&'static str> {
        use crate::verify::hypotheses::law::generic;
        use crate::verify::hypotheses::shape_factor::{ShapeCase, fit};
        use ndarray::{Array2, ArrayD};
        let laws: [fn(f64, f64) -> f64; 10] = [
            |_, _| -1.0,
            |_, _| 2.0,
            |_, _| 0.5,
            |_, _| 3.0,
            |b, _| 1.0 / b,
            |b, d| 1.0 / (b * d),
            |b, d| 2.0 / (b * d),
            |b, _| 2.0 / b,
            |b, d| d / b,
            |b, d| -2.0 / (b * d),
        ];
        let shapes: Vec<(usize, usize)> = (1..=3).flat_map(|b| (1..=3).map(move |d| (b, d))).collect();
        let dims: Vec<[(&str, usize); 2]> = shapes.iter().map(|&(b, d)| [("B", b), ("D", d)]).collect();
        let mut codes = Vec::new();
        for law in laws {
            let pairs: Vec<(ArrayD<f64>, ArrayD<f64>)> = shapes
                .iter()
                .map(|&(b, d)| {
                    let e =
                        Array2::from_shape_fn((b, d), |(i, j)| 1.0 + i as f64 - 0.5 * j as f64).into_dyn();
                    let g = &e * law(b as f64, d as f64);
                    (e, g)
                })
                .collect();
            let cases: Vec<ShapeCase<'_>> = pairs
                .iter()
                .zip(&dims)
                .map(|((e, g), dims)| ShapeCase {
                    dims,
                    expected: e,
                    got: g,
                })
                .collect();
            let found = fit(&cases, &generic).expect("every law of the family fits");
            let loss = LossFactor {
                factors: Vec::new(),
                fit: Some(found.clone()),
                example: 0,
                sentence: String::new(),
            };
            codes.extend(Diagnosis::LossFactor(loss).codes());
            codes.extend(Diagnosis::ShapeFactor(found).codes());
        }
        let broadcast = BroadcastScalar {
            matches: None,
            example: 0,
            sentence: String::new(),
        };
        let fanout = FanoutOverwrite {
            term: crate::verify::hypotheses::patterns::Term::Last,
            example: 0,
            sentence: String::new(),
        };
        let float32 = Float32 {
            worst: 1e-7,
            all_float32_values: true,
            sentence: String::new(),
        };
        let new_ones = [
            Diagnosis::BroadcastScalar(broadcast),
            Diagnosis::FanoutOverwrite(fanout),
            Diagnosis::Float32(float32),
            Diagnosis::Nondeterministic,
            Diagnosis::UpstreamNonlinear,
            Diagnosis::NoAnswer,
            Diagnosis::MutatedInput,
        ];
        for d in one_case_diagnoses().into_iter().chain(new_ones) {
            codes.extend(d.codes());
        }
        codes
    }

    /// One of each diagnosis a single case can show (those with no evidence of their own).
    fn one_case_diagnoses() -> Vec<Diagnosis> {
        vec![
            Diagnosis::AllZero,
            Diagnosis::SignFlipped,
            Diagnosis::UpstreamIgnored,
            Diagnosis::MeanOverBatch,
            Diagnosis::MeanOverElements,
            Diagnosis::Factor {
                factor: 3.0,
                meaning: None,
            },
            Diagnosis::Transposed,
            Diagnosis::SwappedWith("b2".to_owned()),
            Diagnosis::RowZero { last: true },
            Diagnosis::ColumnZero { last: false },
        ]
    }

    #[test]
    fn every_code_a_report_can_show_has_a_long_explanation() {
        let codes = every_reachable_code();
        for code in &codes {
            assert!(
                crate::verify::explain::codes().contains(code),
                "{code} is not in explain::codes()"
            );
        }
        for needed in [
            "sign",
            "factor",
            "batch_mean",
            "element_mean",
            "mse_convention",
            "loss_factor",
        ] {
            assert!(codes.contains(&needed), "no law reaches {needed}: {codes:?}");
        }
    }

    #[test]
    fn the_new_diagnoses_serialise_their_codes_and_the_text_shows_them() {
        let json = serde_json::to_value(Diagnosis::NoAnswer).expect("plain data");
        assert_eq!(json["code"], "no_answer");
        assert!(
            json["explanation"]
                .as_str()
                .is_some_and(|t| t.contains("flush=True") && t.contains("fflush(stdout)"))
        );
        assert_eq!(Diagnosis::Nondeterministic.codes(), ["nondeterministic"]);
    }

    #[test]
    fn every_code_is_distinct_and_named_from_the_vocabulary() {
        let all = one_case_diagnoses();
        let codes: Vec<&str> = all.iter().map(Diagnosis::code).collect();
        let mut distinct = codes.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), codes.len(), "{codes:?}");
        assert!(
            codes.iter().all(|c| c
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')),
            "{codes:?}"
        );
        assert_eq!(Diagnosis::SignFlipped.code(), "sign");
        assert_eq!(
            Diagnosis::Factor {
                factor: 2.0,
                meaning: None
            }
            .code(),
            "factor"
        );
        assert_eq!(
            Diagnosis::SwappedWith("b2".to_owned()).explanation(),
            "this is dL/db2: gradients returned in the wrong place"
        );
    }
}
