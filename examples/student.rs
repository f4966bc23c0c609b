//! A student's backward functions for the ops of the notes, in Rust, and how they are checked.
//!
//! `cargo run --example student` prints a report per op; `cargo test --example student` runs the
//! tests at the bottom, one per op, written by `gradverify::backward_tests!`.
//! Copy this file into your own crate (with `gradverify` and `ndarray` as dependencies) and
//! replace the bodies with your own.

use gradverify::check::{self, NetworkGrads};
use gradverify::mlp::MlpParams;
use ndarray::{Array1, Array2, Axis};

/// Θ(a): 1 where a > 0, else 0 (Eq. 42).
fn step(a: &Array2<f64>) -> Array2<f64> {
    a.mapv(|v| if v > 0.0 { 1.0 } else { 0.0 })
}

/// linear.backward (Eq. 30b): dL/dh = dL/da Wᵀ (Eq. 66), dL/dW = hᵀ dL/da (Eq. 70),
/// dL/db = Σ_rows dL/da (Eq. 74).
pub fn linear_backward(
    grad_a: &Array2<f64>,
    h: &Array2<f64>,
    w: &Array2<f64>,
    _b: &Array1<f64>,
) -> (Array2<f64>, Array2<f64>, Array1<f64>) {
    (grad_a.dot(&w.t()), h.t().dot(grad_a), grad_a.sum_axis(Axis(0)))
}

/// relu.backward (Eq. 29b, 47): dL/da = Θ(a) ⊙ dL/dh.
pub fn relu_backward(grad_h: &Array2<f64>, a: &Array2<f64>) -> Array2<f64> {
    grad_h * &step(a)
}

/// sqerr.backward (Eq. 31b): dL/df = dL/dL · (f − y), dL/dy = −dL/dL · (f − y).
pub fn sqerr_backward(grad_loss: f64, f: &Array2<f64>, y: &Array2<f64>) -> (Array2<f64>, Array2<f64>) {
    let df = grad_loss * (f - y);
    let dy = -&df;
    (df, dy)
}

/// The whole network: the forward pass of Eq. 33, then the backward pass of Eq. 37.
pub fn backprop(x: &Array2<f64>, y: &Array2<f64>, p: &MlpParams) -> NetworkGrads {
    let a1 = x.dot(&p.w1) + &p.b1;
    let h1 = a1.mapv(|v| v.max(0.0));
    let a2 = h1.dot(&p.w2) + &p.b2;
    let h2 = a2.mapv(|v| v.max(0.0));
    let f = h2.dot(&p.w3) + &p.b3;
    let (df, _dy) = sqerr_backward(1.0, &f, y);
    let (dh2, dw3, db3) = linear_backward(&df, &h2, &p.w3, &p.b3);
    let da2 = relu_backward(&dh2, &a2);
    let (dh1, dw2, db2) = linear_backward(&da2, &h1, &p.w2, &p.b2);
    let da1 = relu_backward(&dh1, &a1);
    let (_dx, dw1, db1) = linear_backward(&da1, x, &p.w1, &p.b1);
    (dw1, db1, dw2, db2, dw3, db3)
}

fn main() {
    let reports = [
        check::linear(linear_backward),
        check::relu(relu_backward),
        check::sqerr(sqerr_backward),
        check::network(backprop),
    ];
    for report in &reports {
        println!("{report}");
    }
    if reports.iter().any(|r| !r.passed()) {
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    gradverify::backward_tests!(
        linear: super::linear_backward,
        relu: super::relu_backward,
        sqerr: super::sqerr_backward,
        network: super::backprop,
    );
}
