//! What the verifier found, as data ([`model`], [`diagnosis`]) apart from how it is written:
//! [`text`] for the person who wrote the backward (the `Display` of a [`Report`]), [`json`] for
//! programs.

pub mod diagnosis;
pub mod json;
pub mod model;
pub mod text;

pub use diagnosis::Diagnosis;
pub(crate) use model::gradient_label;
pub use model::{Fault, Finding, Inconclusive, Problem, Report, Subject};
