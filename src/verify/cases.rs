//! The cases a backward is tried on: first the op's planned set, which covers what bugs hide
//! behind — B = 1 and B > 1, square and non-square, widths of 1 — then random shapes within
//! [`BOUNDS`]. Values and upstream gradients are random
//! (never all ones); each op draws its own ([`super::ops`]).

use ndarray_rand::rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::ops::op;
use crate::catalogue::{OpKind, Request};
use crate::random::ShapeBounds;

/// The shapes of the random cases: batch up to 5, widths up to 6 (small, so that a failing
/// case is small to read).
pub const BOUNDS: ShapeBounds = ShapeBounds {
    max_batch: 5,
    max_width: 6,
};

/// The dimensions of case `index`: planned ones first, then random.
pub fn dims(kind: OpKind, index: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let plan = op(kind).planned_dims();
    if let Some(dims) = plan.get(index) {
        return dims.to_vec();
    }
    let count = plan[0].len();
    (0..count)
        .map(|d| {
            let max = if d == 0 {
                BOUNDS.max_batch
            } else {
                BOUNDS.max_width
            };
            rng.random_range(1..=max)
        })
        .collect()
}

/// A random request for `kind` with dimensions `dims`.
pub fn request(kind: OpKind, dims: &[usize], rng: &mut ChaCha8Rng) -> Request {
    op(kind).draw(dims, rng)
}
