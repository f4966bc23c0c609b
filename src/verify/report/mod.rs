//! What the verifier found, as data ([`model`], [`diagnosis`]) apart from how it is written:
//! [`text`] for the person who wrote the backward (the `Display` of a [`Report`]), [`json`] for
//! programs; [`score`] gives each op points for graders, read by [`gradescope`] and [`junit`].

pub mod autolab;
pub mod diagnosis;
pub mod gradescope;
pub mod html;
pub mod json;
pub mod junit;
pub mod model;
pub mod prairielearn;
mod schema;
pub mod score;
pub mod text;

pub use diagnosis::Diagnosis;
pub(crate) use model::gradient_label;
pub use model::{CaseValues, Fault, Finding, Inconclusive, Problem, Report, Subject};

/// `value` with negative zero as 0, for the renderers that print numbers ([`text`], [`html`]):
/// zero has no sign in a report (`-1 · 0`, relu's mask of a negative upstream gradient, is 0, as
/// NumPy's and Rust's `==` compare it). A tiny negative number keeps its sign.
pub(crate) fn unsigned(value: f64) -> f64 {
    if value == 0.0 { 0.0 } else { value }
}
