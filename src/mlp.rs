//! The three-layer network of Eq. 33, built on the tape.
//!
//! ```text
//! a1 = x W1 + b1    h1 = relu(a1)         (33a, 33b)
//! a2 = h1 W2 + b2   h2 = relu(a2)         (33c, 33d)
//! f  = h2 W3 + b3   L  = ½ Σ (f − y)²     (33e, 33f)
//! ```
//! x is B×D0 (rows are data points), Wk is D(k−1)×Dk, bk has Dk entries, y is B×D3. The backward
//! pass is Eq. 37, read bottom-up: sqerr, linear, relu, linear, relu, linear. Note that the notes'
//! Eq. 32e/37e print `dL/da1 = relu.backward(dL/dh2; a2)`; the correct step, which the tape takes,
//! is `dL/da1 = relu.backward(dL/dh1; a1)`.

use ndarray::{Array, Array1, Array2, ArrayD, ArrayView2, ArrayViewD, Dimension};

use crate::error::{Error, Result};
use crate::ops::{Linear, Relu, SqErr};
use crate::tape::{Gradients, Tape, Var, Wrt};

/// The parameters of the Eq. 33 network.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpParams {
    /// D0×D1.
    pub w1: Array2<f64>,
    /// D1.
    pub b1: Array1<f64>,
    /// D1×D2.
    pub w2: Array2<f64>,
    /// D2.
    pub b2: Array1<f64>,
    /// D2×D3.
    pub w3: Array2<f64>,
    /// D3.
    pub b3: Array1<f64>,
}

impl MlpParams {
    /// The widths [D0, D1, D2, D3] implied by the weight matrices.
    pub fn widths(&self) -> [usize; 4] {
        [self.w1.nrows(), self.w1.ncols(), self.w2.ncols(), self.w3.ncols()]
    }

    /// The parameters in Eq. 35's order, with their names.
    pub fn views(&self) -> [(&'static str, ArrayViewD<'_, f64>); 6] {
        [
            ("W1", self.w1.view().into_dyn()),
            ("b1", self.b1.view().into_dyn()),
            ("W2", self.w2.view().into_dyn()),
            ("b2", self.b2.view().into_dyn()),
            ("W3", self.w3.view().into_dyn()),
            ("b3", self.b3.view().into_dyn()),
        ]
    }
}

/// The loss and dL/d(parameter) for every parameter (Eq. 35), and dL/dx when asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpGrads {
    /// L.
    pub loss: f64,
    /// dL/dW1.
    pub w1: Array2<f64>,
    /// dL/db1.
    pub b1: Array1<f64>,
    /// dL/dW2.
    pub w2: Array2<f64>,
    /// dL/db2.
    pub b2: Array1<f64>,
    /// dL/dW3.
    pub w3: Array2<f64>,
    /// dL/db3.
    pub b3: Array1<f64>,
    /// dL/dx, with [`Wrt::ParamsAndData`] only.
    pub x: Option<Array2<f64>>,
}

impl MlpGrads {
    /// The six parameter gradients in Eq. 35's order (dL/dW1, dL/db1, …, dL/db3), as arrays of
    /// any dimension, the form the oracles and the projection take.
    pub fn into_params(self) -> [ArrayD<f64>; 6] {
        [
            self.w1.into_dyn(),
            self.b1.into_dyn(),
            self.w2.into_dyn(),
            self.b2.into_dyn(),
            self.w3.into_dyn(),
            self.b3.into_dyn(),
        ]
    }
}

/// The network recorded on a tape, with a handle to every value of Eq. 33.
#[derive(Debug)]
pub struct MlpTape<'a> {
    /// The tape holding the forward pass; it borrows the parameters, x and y.
    pub tape: Tape<'a>,
    /// Data leaves.
    pub x: Var,
    /// Targets (a data leaf).
    pub y: Var,
    /// Parameter leaves, in Eq. 35's order: W1, b1, W2, b2, W3, b3.
    pub params: [Var; 6],
    /// Pre-activations and activations.
    pub a1: Var,
    /// relu(a1).
    pub h1: Var,
    /// Second pre-activation.
    pub a2: Var,
    /// relu(a2).
    pub h2: Var,
    /// The network's output.
    pub f: Var,
    /// The loss.
    pub loss: Var,
}

/// Runs the forward pass of Eq. 33 on a new tape.
///
/// Shapes that do not fit (x's columns against W1's rows, y against f, ...) are an [`Error`]
/// naming the layer's op and argument.
pub fn record<'a>(
    params: &'a MlpParams,
    x: ArrayView2<'a, f64>,
    y: ArrayView2<'a, f64>,
) -> Result<MlpTape<'a>> {
    let mut tape = Tape::new();
    let xv = tape.data("x", x.into_dyn());
    let yv = tape.data("y", y.into_dyn());
    let p = params.views().map(|(name, value)| tape.param(name, value));
    let a1 = tape.apply("a1", Linear, &[xv, p[0], p[1]])?;
    let h1 = tape.apply("h1", Relu, &[a1])?;
    let a2 = tape.apply("a2", Linear, &[h1, p[2], p[3]])?;
    let h2 = tape.apply("h2", Relu, &[a2])?;
    let f = tape.apply("f", Linear, &[h2, p[4], p[5]])?;
    let loss = tape.apply("L", SqErr, &[f, yv])?;
    Ok(MlpTape {
        tape,
        x: xv,
        y: yv,
        params: p,
        a1,
        h1,
        a2,
        h2,
        f,
        loss,
    })
}

impl MlpTape<'_> {
    /// The recorded loss L.
    pub fn loss_value(&self) -> f64 {
        self.tape
            .value(self.loss)
            .iter()
            .copied()
            .next()
            .expect("internal: scalar loss")
    }

    /// Moves a backward pass's gradients into [`MlpGrads`].
    pub fn collect(&self, mut grads: Gradients) -> Result<MlpGrads> {
        let tape = &self.tape;
        let data_gradient = grads.get(self.x).is_some();
        let [w1, b1, w2, b2, w3, b3] = self.params;
        Ok(MlpGrads {
            loss: self.loss_value(),
            w1: take(tape, &mut grads, w1)?,
            b1: take(tape, &mut grads, b1)?,
            w2: take(tape, &mut grads, w2)?,
            b2: take(tape, &mut grads, b2)?,
            w3: take(tape, &mut grads, w3)?,
            b3: take(tape, &mut grads, b3)?,
            x: data_gradient
                .then(|| take(tape, &mut grads, self.x))
                .transpose()?,
        })
    }
}

/// Moves dL/d`v` out of `grads` as an array of rank `D`.
fn take<D: Dimension>(tape: &Tape<'_>, grads: &mut Gradients, v: Var) -> Result<Array<f64, D>> {
    grads
        .take(tape, v)?
        .into_dimensionality::<D>()
        .map_err(|e| Error::Tape(format!("gradient of `{}`: {e}", tape.name(v))))
}

/// The loss and its gradients by backprop on the tape (Eq. 33 forward, Eq. 37 backward).
pub fn loss_and_grads(params: &MlpParams, x: &Array2<f64>, y: &Array2<f64>, wrt: Wrt) -> Result<MlpGrads> {
    let net = record(params, x.view(), y.view())?;
    let grads = net.tape.backward_wrt(net.loss, wrt)?;
    net.collect(grads)
}
