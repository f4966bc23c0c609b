//! The options a case of a custom op is checked under, and the names of its inputs in reports.

use super::domain::Domain;

/// The options a case is checked under (see [`super::OpCheck`]).
#[derive(Debug, Clone)]
pub(super) struct Options {
    pub(super) domains: Vec<Domain>,
    pub(super) rtol: f64,
    /// The relative tolerance against a reference ([`super::reference`]): 1e-8 unless `.rtol`
    /// is given.
    pub(super) reference_rtol: f64,
    pub(super) atol: f64,
    pub(super) eps: f64,
    pub(super) nondet_tol: Option<f64>,
    pub(super) no_grad: Vec<bool>,
    pub(super) fast: bool,
    /// The inputs' names in reports (`x0`, `x1`, … unless named).
    pub(super) names: Vec<String>,
}

impl Options {
    /// The inputs whose gradients are compared.
    pub(super) fn compared(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.no_grad.len()).filter(|&k| !self.no_grad[k])
    }

    /// The name of input `k` in reports.
    pub(super) fn name(&self, k: usize) -> String {
        self.names[k].clone()
    }
}

/// The default name of input `k`: `x{k}`.
pub(super) fn default_name(k: usize) -> String {
    format!("x{k}")
}
