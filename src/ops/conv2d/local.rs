//! conv2d one element at a time ([`LocalForward`]).
//!
//! With `out[n,f,i,j] = b[f] + Σ_{c,p,q} xpad[n,c,i·stride+p, j·stride+q] · w[f,c,p,q]`:
//! - an image element x[n,c,h,v] reaches the outputs whose window covers it,
//!   `out[n, f, i, j]` for every filter f and every tap (p, q) with `i·stride + p − pad = h` and
//!   `j·stride + q − pad = v`: at most F·HH·WW outputs;
//! - a kernel element w[f,c,p,q] and a bias b[f] reach filter f's outputs, N·Ho·Wo of them.
//!
//! Each reached output is its window's sum again with the element moved, C·HH·WW multiply-adds,
//! against the whole forward's N·F·Ho·Wo·C·HH·WW. conv2d is smooth everywhere.

use ndarray::ArrayViewD;

use super::{Conv2d, Geometry, views};
use crate::error::Result;
use crate::ops::local::{LocalForward, Reach, unflatten};

/// The op at fixed inputs, row-major.
struct ConvLocal {
    g: Geometry,
    x: Vec<f64>,
    w: Vec<f64>,
    b: Vec<f64>,
}

/// Which element moved, and where to: `(input, flat, value)`.
type Moved = (usize, usize, f64);

impl Conv2d {
    /// [`Op::local`](crate::ops::Op::local) for this op.
    pub(super) fn op_local<'a>(
        &self,
        inputs: &[ArrayViewD<'a, f64>],
    ) -> Result<Option<Box<dyn LocalForward + 'a>>> {
        let (x, w, b) = views(inputs)?;
        let g = self.geometry(x.shape(), w.shape(), b.shape())?;
        Ok(Some(Box::new(ConvLocal {
            g,
            x: x.iter().copied().collect(),
            w: w.iter().copied().collect(),
            b: b.to_vec(),
        })))
    }
}

impl ConvLocal {
    /// out[n,f,i,j] with one element moved, summed as the forward sums it.
    fn output(&self, n: usize, f: usize, i: usize, j: usize, (input, flat, value): Moved) -> f64 {
        let pick = |k: usize, array: &[f64], at: usize| {
            if input == k && at == flat {
                value
            } else {
                array[at]
            }
        };
        let (x, w) = (|at| pick(0, &self.x, at), |at| pick(1, &self.w, at));
        self.g.window_sum((n, f, i, j), pick(2, &self.b, f), x, w)
    }

    fn flat_output(&self, n: usize, f: usize, i: usize, j: usize) -> usize {
        ((n * self.g.f + f) * self.g.ho + i) * self.g.wo + j
    }

    /// The output positions along one axis whose window covers image position `at`.
    fn covering(
        at: usize,
        kernel: usize,
        stride: usize,
        pad: usize,
        outputs: usize,
    ) -> impl Iterator<Item = usize> {
        (0..kernel).filter_map(move |p| {
            let start = (at + pad).checked_sub(p)?;
            (start.is_multiple_of(stride) && start / stride < outputs).then_some(start / stride)
        })
    }
}

impl LocalForward for ConvLocal {
    fn reach(&self, input: usize, flat: usize, value: f64, reach: &mut Reach) -> Result<()> {
        reach.clear();
        let g = self.g;
        let moved = (input, flat, value);
        if input == 0 {
            let mut at = [0; 4];
            unflatten(flat, &[g.n, g.c, g.h, g.w], &mut at);
            let [n, _, h, v] = at;
            for f in 0..g.f {
                for i in Self::covering(h, g.hh, g.stride, g.pad, g.ho) {
                    for j in Self::covering(v, g.ww, g.stride, g.pad, g.wo) {
                        reach.push(self.flat_output(n, f, i, j), self.output(n, f, i, j, moved));
                    }
                }
            }
        } else {
            // w[f, c, p, q] or b[f]: filter f's outputs.
            let f = if input == 1 {
                flat / (g.c * g.hh * g.ww)
            } else {
                flat
            };
            for n in 0..g.n {
                for i in 0..g.ho {
                    for j in 0..g.wo {
                        reach.push(self.flat_output(n, f, i, j), self.output(n, f, i, j, moved));
                    }
                }
            }
        }
        Ok(())
    }

    fn smooth(&self, _: usize, _: usize, _: f64, _: f64) -> bool {
        true
    }
}
