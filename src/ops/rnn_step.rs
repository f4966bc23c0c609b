//! `rnn_step`: one vanilla RNN step, h' = tanh(x Wx + h Wh + b).
//!
//! Shapes: `x` is B×D, `h` is B×H, `Wx` is D×H, `Wh` is H×H, `b` has H entries (added to every
//! row); h' is B×H. Every input is differentiated; tanh is smooth, so there are no kinks.
//!
//! Backward, with g = dL/dh' and the derivative of tanh taken from the OUTPUT,
//! `da = g ⊙ (1 − h'²)`:
//! - `dL/dx = da Wxᵀ`, `dL/dh = da Whᵀ`;
//! - `dL/dWx = xᵀ da`, `dL/dWh = hᵀ da` (summed over the batch by the products);
//! - `dL/db = Σ_rows da` (b is shared by every row: fan-out).

use ndarray::{Array2, ArrayD, ArrayView1, ArrayView2, ArrayViewD, Axis};

mod local;

use super::matmul::matmul;
use super::{Cost, LocalForward, Op, jacobian_road, validate, vjp_road};
use crate::error::Result;

const NAME: &str = "rnn_step";
const INPUTS: &[&str] = &["x", "h", "Wx", "Wh", "b"];

/// The rnn_step op on a tape; inputs `x`, `h`, `Wx`, `Wh`, `b`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RnnStep;

struct Args<'a> {
    x: ArrayView2<'a, f64>,
    h: ArrayView2<'a, f64>,
    wx: ArrayView2<'a, f64>,
    wh: ArrayView2<'a, f64>,
    b: ArrayView1<'a, f64>,
}

fn views<'a>(inputs: &[ArrayViewD<'a, f64>]) -> Result<Args<'a>> {
    validate::arity(NAME, INPUTS, inputs.len())?;
    Ok(Args {
        x: validate::as_matrix(NAME, "x", &inputs[0])?,
        h: validate::as_matrix(NAME, "h", &inputs[1])?,
        wx: validate::as_matrix(NAME, "Wx", &inputs[2])?,
        wh: validate::as_matrix(NAME, "Wh", &inputs[3])?,
        b: validate::as_vector(NAME, "b", &inputs[4])?,
    })
}

/// (B, D, H) from shapes that fit, or an error naming the argument that does not.
fn dims(shapes: [&[usize]; 5]) -> Result<(usize, usize, usize)> {
    let [x, h, wx, wh, b] = shapes;
    let (&[batch, d], &[_, hid]) = (x, h) else {
        return Err(validate::shape_error(NAME, "x, h", "two matrices".into(), x));
    };
    let expected: [(&str, &[usize], Vec<usize>); 4] = [
        ("h", h, vec![batch, hid]),
        ("Wx", wx, vec![d, hid]),
        ("Wh", wh, vec![hid, hid]),
        ("b", b, vec![hid]),
    ];
    for (arg, got, want) in expected {
        if got != want.as_slice() {
            return Err(validate::shape_error(
                NAME,
                arg,
                format!("{want:?} (x is {x:?}, h is {h:?})"),
                got,
            ));
        }
    }
    Ok((batch, d, hid))
}

impl Args<'_> {
    fn dims(&self) -> Result<(usize, usize, usize)> {
        dims([
            self.x.shape(),
            self.h.shape(),
            self.wx.shape(),
            self.wh.shape(),
            self.b.shape(),
        ])
    }

    fn checked(&self) -> Result<(usize, usize, usize)> {
        validate::usable(NAME, "x", &self.x)?;
        validate::usable(NAME, "h", &self.h)?;
        validate::usable(NAME, "Wx", &self.wx)?;
        validate::usable(NAME, "Wh", &self.wh)?;
        validate::usable(NAME, "b", &self.b)?;
        self.dims()
    }

    /// h' = tanh(x Wx + h Wh + b).
    fn output(&self) -> Array2<f64> {
        let mut a = matmul(self.x, self.wx) + matmul(self.h, self.wh);
        a += &self.b;
        a.mapv_inplace(f64::tanh);
        a
    }

    /// 1 − h'², the derivative of tanh at the pre-activation, from the output.
    fn slope(&self) -> Array2<f64> {
        self.output().mapv(|v| 1.0 - v * v)
    }
}

/// h' = tanh(x Wx + h Wh + b), every argument checked.
pub fn forward(inputs: &[ArrayViewD<'_, f64>]) -> Result<Array2<f64>> {
    let args = views(inputs)?;
    args.checked()?;
    Ok(args.output())
}

/// (dL/dx, dL/dh, dL/dWx, dL/dWh, dL/db) from dL/dh', every argument checked.
pub fn backward(grad_out: ArrayView2<'_, f64>, inputs: &[ArrayViewD<'_, f64>]) -> Result<Vec<ArrayD<f64>>> {
    let args = views(inputs)?;
    let (batch, _, hid) = args.checked()?;
    validate::same_shape(NAME, "dL/dh'", &grad_out, &[batch, hid])?;
    Ok(gradients(&args, &grad_out, &[true; 5])
        .into_iter()
        .flatten()
        .collect())
}

fn gradients(args: &Args<'_>, grad_out: &ArrayView2<'_, f64>, wanted: &[bool]) -> Vec<Option<ArrayD<f64>>> {
    let da = args.slope() * grad_out;
    let want = |k: usize| wanted.get(k).copied().unwrap_or(false);
    vec![
        want(0).then(|| matmul(da.view(), args.wx.t()).into_dyn()),
        want(1).then(|| matmul(da.view(), args.wh.t()).into_dyn()),
        want(2).then(|| matmul(args.x.t(), da.view()).into_dyn()),
        want(3).then(|| matmul(args.h.t(), da.view()).into_dyn()),
        want(4).then(|| da.sum_axis(Axis(0)).into_dyn()),
    ]
}

/// ∂h'/∂input, with s = 1 − h'² and rows (b, k) of h': `J_x[(b,k),(b,d)] = s_bk Wx_dk`,
/// `J_h[(b,k),(b,m)] = s_bk Wh_mk`, `J_Wx[(b,k),(d,k)] = s_bk x_bd`, `J_Wh[(b,k),(m,k)] = s_bk h_bm`,
/// `J_b[(b,k),k] = s_bk`.
fn jacobian(args: &Args<'_>, wrt: usize, (batch, d, hid): (usize, usize, usize)) -> Array2<f64> {
    let s = args.slope();
    let cols = [batch * d, batch * hid, d * hid, hid * hid, hid][wrt];
    let mut jac = Array2::zeros((batch * hid, cols));
    for b in 0..batch {
        for k in 0..hid {
            let row = b * hid + k;
            let sk = s[[b, k]];
            match wrt {
                0 => (0..d).for_each(|e| jac[[row, b * d + e]] = sk * args.wx[[e, k]]),
                1 => (0..hid).for_each(|m| jac[[row, b * hid + m]] = sk * args.wh[[m, k]]),
                2 => (0..d).for_each(|e| jac[[row, e * hid + k]] = sk * args.x[[b, e]]),
                3 => (0..hid).for_each(|m| jac[[row, m * hid + k]] = sk * args.h[[b, m]]),
                _ => jac[[row, k]] = sk,
            }
        }
    }
    jac
}

fn shape_dims(input_shapes: &[&[usize]]) -> Result<(usize, usize, usize)> {
    validate::arity(NAME, INPUTS, input_shapes.len())?;
    let s = input_shapes;
    dims([s[0], s[1], s[2], s[3], s[4]])
}

impl Op for RnnStep {
    fn name(&self) -> &'static str {
        NAME
    }

    fn input_names(&self) -> &'static [&'static str] {
        INPUTS
    }

    fn forward(&self, inputs: &[ArrayViewD<'_, f64>]) -> Result<ArrayD<f64>> {
        Ok(forward(inputs)?.into_dyn())
    }

    fn vjp(
        &self,
        inputs: &[ArrayViewD<'_, f64>],
        grad_out: ArrayViewD<'_, f64>,
        wanted: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        let args = views(inputs)?;
        let (batch, _, hid) = args.dims()?;
        let go = validate::as_matrix(NAME, "dL/dh'", &grad_out)?;
        validate::has_shape(NAME, "dL/dh'", &go, &[batch, hid])?;
        Ok(gradients(&args, &go, wanted))
    }

    fn jacobian(&self, inputs: &[ArrayViewD<'_, f64>], wrt: usize) -> Result<Array2<f64>> {
        let args = views(inputs)?;
        let dims = args.checked()?;
        if wrt > 4 {
            return Err(validate::shape_error(
                NAME,
                "wrt",
                "an input index below 5".into(),
                &[wrt],
            ));
        }
        Ok(jacobian(&args, wrt, dims))
    }

    /// x Wx and h Wh (B·D·H and B·H·H multiply-adds), two additions and a tanh per element.
    fn forward_flops(&self, input_shapes: &[&[usize]]) -> Result<u64> {
        let (batch, d, hid) = shape_dims(input_shapes)?;
        Ok((2 * batch * hid * (d + hid) + 3 * batch * hid) as u64)
    }

    /// The forward again (for h'), 3 flops per element for da, then one product per input.
    fn cost(&self, input_shapes: &[&[usize]], wanted: &[bool]) -> Result<Cost> {
        let (batch, d, hid) = shape_dims(input_shapes)?;
        let out_len = batch * hid;
        let lens = [batch * d, batch * hid, d * hid, hid * hid, hid];
        let products = [
            2 * batch * d * hid,
            2 * batch * hid * hid,
            2 * batch * d * hid,
            2 * batch * hid * hid,
            out_len,
        ];
        let shared = self.forward_flops(input_shapes)? as usize + 3 * out_len;
        let roads = (0..5).filter(|&k| wanted.get(k).copied().unwrap_or(false));
        Ok(roads
            .enumerate()
            .map(|(n, k)| Cost {
                vjp: vjp_road(products[k] + if n == 0 { shared } else { 0 }, lens[k]),
                jacobian: jacobian_road(out_len, lens[k]),
            })
            .fold(Cost::default(), |acc, c| acc + c))
    }

    fn local<'a>(&'a self, inputs: &[ArrayViewD<'a, f64>]) -> Result<Option<Box<dyn LocalForward + 'a>>> {
        local::op_local(inputs)
    }
}
