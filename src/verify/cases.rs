//! The cases a backward is tried on: first the op's planned set, which covers what bugs hide
//! behind — B = 1 and B > 1, square and non-square, widths of 1 — then random shapes with batch
//! up to [`MAX_BATCH`] and widths up to [`MAX_WIDTH`]. Values and upstream gradients are random
//! (never all ones); each op draws its own ([`super::ops`]).

use ndarray_rand::rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::ops::op;
use crate::protocol::{OpKind, Request};

/// Largest batch drawn for a random case.
pub const MAX_BATCH: usize = 5;
/// Largest width drawn for a random case.
pub const MAX_WIDTH: usize = 6;

/// The dimensions of case `index`: planned ones first, then random.
pub fn dims(kind: OpKind, index: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let plan = op(kind).planned_dims();
    if let Some(dims) = plan.get(index) {
        return dims.to_vec();
    }
    let count = plan[0].len();
    (0..count)
        .map(|d| rng.random_range(1..=if d == 0 { MAX_BATCH } else { MAX_WIDTH }))
        .collect()
}

/// A random request for `kind` with dimensions `dims`.
pub fn request(kind: OpKind, dims: &[usize], rng: &mut ChaCha8Rng) -> Request {
    op(kind).draw(dims, rng)
}
