//! The cases a backward is tried on: first a planned set that covers what bugs hide behind —
//! B = 1 and B > 1, square and non-square, widths of 1 — then random shapes. Values and upstream
//! gradients are random (never all ones); sqerr's dL/dL is never 1; some relu inputs are exactly
//! 0, to see which side of the kink the backward takes.

use ndarray::{Array2, Zip};
use ndarray_rand::rand::Rng;
use ndarray_rand::rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

use crate::protocol::{OpKind, Request};
use crate::random;

/// Largest batch drawn for a random case.
pub const MAX_BATCH: usize = 5;
/// Largest width drawn for a random case.
pub const MAX_WIDTH: usize = 6;

/// Planned dimensions per op: [B, Din, Dout] for linear, [B, D] for relu and sqerr,
/// [B, D0, D1, D2, D3] for the network.
fn planned(kind: OpKind) -> &'static [&'static [usize]] {
    match kind {
        OpKind::Linear => &[
            &[1, 3, 2],
            &[4, 3, 2],
            &[3, 3, 3],
            &[1, 2, 2],
            &[2, 1, 3],
            &[3, 4, 1],
            &[1, 1, 1],
        ],
        OpKind::Relu | OpKind::SqErr => &[&[1, 4], &[3, 5], &[4, 4], &[2, 1], &[1, 1]],
        OpKind::Mlp => &[
            &[1, 3, 4, 5, 2],
            &[4, 3, 3, 3, 3],
            &[3, 2, 4, 3, 1],
            &[2, 1, 3, 3, 1],
            &[5, 4, 1, 3, 2],
        ],
    }
}

/// The dimensions of case `index`: planned ones first, then random.
pub fn dims(kind: OpKind, index: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let plan = planned(kind);
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
    let m = |rng: &mut ChaCha8Rng, r, c| random::normal_matrix(rng, r, c);
    match (kind, dims) {
        (OpKind::Linear, &[batch, d_in, d_out]) => Request::Linear {
            h: m(rng, batch, d_in),
            w: m(rng, d_in, d_out),
            b: random::normal_vector(rng, d_out),
            grad_out: m(rng, batch, d_out),
        },
        (OpKind::Relu, &[batch, d]) => {
            let mut a = m(rng, batch, d);
            if rng.random_bool(0.5) {
                put_exact_zeros(&mut a, rng);
            }
            Request::Relu {
                a,
                grad_out: m(rng, batch, d),
            }
        }
        (OpKind::SqErr, &[batch, d]) => {
            let magnitude = *[0.5, 1.5, 2.0, 3.0].choose(rng).expect("internal: non-empty");
            let sign = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
            Request::SqErr {
                f: m(rng, batch, d),
                y: m(rng, batch, d),
                grad_out: sign * magnitude,
            }
        }
        (OpKind::Mlp, &[batch, d0, d1, d2, d3]) => {
            let params = random::mlp_params(rng, [d0, d1, d2, d3]);
            Request::Mlp {
                x: m(rng, batch, d0),
                y: m(rng, batch, d3),
                params: Box::new(params),
            }
        }
        _ => unreachable!("internal: dims {dims:?} do not fit {kind}"),
    }
}

/// Sets about a quarter of the entries (at least one) to exactly 0.
fn put_exact_zeros(a: &mut Array2<f64>, rng: &mut ChaCha8Rng) {
    let first = rng.random_range(0..a.len());
    let mut index = 0;
    Zip::from(a).for_each(|v| {
        if index == first || rng.random_bool(0.25) {
            *v = 0.0;
        }
        index += 1;
    });
}
