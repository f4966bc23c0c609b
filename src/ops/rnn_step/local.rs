//! rnn_step one element at a time ([`LocalForward`]).
//!
//! With `h'[i, j] = tanh(b[j] + Σ_k x[i, k] Wx[k, j] + Σ_m h[i, m] Wh[m, j])`:
//! - a data element x[i, k] or h[i, m] reaches row i of h', H outputs;
//! - a weight element Wx[k, j] or Wh[m, j], and a bias b[j], reach column j of h', B outputs.
//!
//! Each reached output is its pre-activation's sum again with the element moved, D + H
//! multiply-adds, against the whole forward's B·H·(D + H). tanh is smooth everywhere. The
//! reach is structural (every reached output has the element in its formula), so a reach
//! that a step leaves unmoved (a tanh saturated to within an ulp of ±1) is bounded by its own
//! rounding by the finite-difference oracle, not taken as an exact 0.

use ndarray::ArrayViewD;

use super::{Args, views};
use crate::error::Result;
use crate::ops::local::{LocalForward, Reach};
use crate::ops::validate;

/// The op at fixed inputs.
struct RnnLocal<'a> {
    args: Args<'a>,
}

/// [`Op::local`](crate::ops::Op::local) for rnn_step: the inputs checked as the forward checks
/// them.
pub(super) fn op_local<'a>(inputs: &[ArrayViewD<'a, f64>]) -> Result<Option<Box<dyn LocalForward + 'a>>> {
    let args = views(inputs)?;
    args.checked()?;
    Ok(Some(Box::new(RnnLocal { args })))
}

impl RnnLocal<'_> {
    /// h'[i, j] with element `flat` of input `input` set to `value`.
    fn output(&self, i: usize, j: usize, (input, flat, value): (usize, usize, f64)) -> f64 {
        let a = &self.args;
        let (d, hid) = (a.x.ncols(), a.h.ncols());
        let at = |k: usize, cols: usize, r: usize, c: usize, was: f64| {
            if input == k && flat == r * cols + c {
                value
            } else {
                was
            }
        };
        let mut z = at(4, hid, 0, j, a.b[j]);
        for k in 0..d {
            z += at(0, d, i, k, a.x[[i, k]]) * at(2, hid, k, j, a.wx[[k, j]]);
        }
        for m in 0..hid {
            z += at(1, hid, i, m, a.h[[i, m]]) * at(3, hid, m, j, a.wh[[m, j]]);
        }
        z.tanh()
    }
}

impl LocalForward for RnnLocal<'_> {
    fn reach(&self, input: usize, flat: usize, value: f64, reach: &mut Reach) -> Result<()> {
        reach.clear();
        let (batch, d, hid) = (self.args.x.nrows(), self.args.x.ncols(), self.args.h.ncols());
        let moved = (input, flat, value);
        match input {
            0 | 1 => {
                let i = flat / if input == 0 { d } else { hid };
                (0..hid).for_each(|j| reach.push(i * hid + j, self.output(i, j, moved)));
            }
            2..=4 => {
                let j = flat % hid;
                (0..batch).for_each(|i| reach.push(i * hid + j, self.output(i, j, moved)));
            }
            _ => {
                return Err(validate::shape_error(
                    super::NAME,
                    "input",
                    "an input index below 5".into(),
                    &[input],
                ));
            }
        }
        Ok(())
    }

    fn smooth(&self, _input: usize, _flat: usize, _from: f64, _to: f64) -> bool {
        true
    }
}
