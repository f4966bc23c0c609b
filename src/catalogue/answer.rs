//! Gradients keyed by input name: what a backward returns for a request, and what the reference
//! returns. A scalar (the network's `loss`) is a 0-dimensional array.

use ndarray::ArrayD;

/// Gradients keyed by input name, in the protocol's order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Answer {
    /// (name, value) pairs.
    pub grads: Vec<(String, ArrayD<f64>)>,
}

impl Answer {
    /// The gradient named `name`.
    pub fn get(&self, name: &str) -> Option<&ArrayD<f64>> {
        self.grads.iter().find(|(n, _)| n == name).map(|(_, g)| g)
    }

    /// Adds a named value.
    pub fn with(mut self, name: &str, value: ArrayD<f64>) -> Answer {
        self.grads.push((name.to_owned(), value));
        self
    }
}
