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

use ndarray::{Array1, Array2, ArrayD, Ix1, Ix2};

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
    pub fn named(&self) -> [(&'static str, ArrayD<f64>); 6] {
        [
            ("W1", self.w1.clone().into_dyn()),
            ("b1", self.b1.clone().into_dyn()),
            ("W2", self.w2.clone().into_dyn()),
            ("b2", self.b2.clone().into_dyn()),
            ("W3", self.w3.clone().into_dyn()),
            ("b3", self.b3.clone().into_dyn()),
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
pub struct MlpTape {
    /// The tape holding the forward pass.
    pub tape: Tape,
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
pub fn record(params: &MlpParams, x: &Array2<f64>, y: &Array2<f64>) -> Result<MlpTape> {
    let mut tape = Tape::new();
    let xv = tape.data("x", x.clone().into_dyn());
    let yv = tape.data("y", y.clone().into_dyn());
    let named = params.named();
    let p: Vec<Var> = named
        .into_iter()
        .map(|(name, value)| tape.param(name, value))
        .collect();
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
        params: [p[0], p[1], p[2], p[3], p[4], p[5]],
        a1,
        h1,
        a2,
        h2,
        f,
        loss,
    })
}

impl MlpTape {
    /// The recorded loss L.
    pub fn loss_value(&self) -> f64 {
        self.tape
            .value(self.loss)
            .iter()
            .copied()
            .next()
            .expect("internal: scalar loss")
    }

    /// Collects a backward pass's gradients into [`MlpGrads`].
    pub fn collect(&self, grads: &Gradients) -> Result<MlpGrads> {
        let matrix = |v: Var| -> Result<Array2<f64>> {
            let g = grads.require(&self.tape, v)?.clone();
            g.into_dimensionality::<Ix2>()
                .map_err(|e| Error::Tape(format!("gradient of `{}`: {e}", self.tape.name(v))))
        };
        let vector = |v: Var| -> Result<Array1<f64>> {
            let g = grads.require(&self.tape, v)?.clone();
            g.into_dimensionality::<Ix1>()
                .map_err(|e| Error::Tape(format!("gradient of `{}`: {e}", self.tape.name(v))))
        };
        let [w1, b1, w2, b2, w3, b3] = self.params;
        Ok(MlpGrads {
            loss: self.loss_value(),
            w1: matrix(w1)?,
            b1: vector(b1)?,
            w2: matrix(w2)?,
            b2: vector(b2)?,
            w3: matrix(w3)?,
            b3: vector(b3)?,
            x: grads.get(self.x).map(|_| matrix(self.x)).transpose()?,
        })
    }
}

/// The loss and its gradients by backprop on the tape (Eq. 33 forward, Eq. 37 backward).
pub fn loss_and_grads(params: &MlpParams, x: &Array2<f64>, y: &Array2<f64>, wrt: Wrt) -> Result<MlpGrads> {
    let net = record(params, x, y)?;
    let grads = net.tape.backward_wrt(net.loss, wrt)?;
    net.collect(&grads)
}
