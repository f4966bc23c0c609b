//! The cases a backward is tried on: first the op's planned set, which covers what bugs hide
//! behind — B = 1 and B > 1, square and non-square, widths of 1 — then random shapes within
//! [`BOUNDS`]. Values and upstream gradients are random
//! (never all ones); each op draws its own ([`super::ops`]).

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

/// The dimensions of case `index`: planned ones first, then random, drawn by the op within
/// [`BOUNDS`].
pub fn dims(kind: OpKind, index: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let plan = op(kind).planned_dims();
    match plan.get(index) {
        Some(dims) => dims.to_vec(),
        None => op(kind).random_dims(rng, BOUNDS),
    }
}

/// A random request for `kind` with dimensions `dims`.
pub fn request(kind: OpKind, dims: &[usize], rng: &mut ChaCha8Rng) -> Request {
    op(kind).draw(dims, rng)
}
