//! Binary elementwise ops and their broadcasting forms, z = f(x, y): dL/dx = v ⊙ ∂f/∂x, summed
//! over the axes along which x was broadcast (and likewise for y). Shapes: equal, a row against
//! a matrix, a column against a row (both broadcast), a rank-3 tensor against a rank-2 one.
//! Divisors and bases are drawn positive. `maximum`/`minimum` ties have probability zero.

use candle_core::Tensor;
use gradverify::check::Domain;

use super::{Sample, sample};

pub(super) fn samples() -> Vec<Sample> {
    vec![
        sample("add", "[3, 4] + [3, 4]", &[&[3, 4], &[3, 4]], |x| &x[0] + &x[1]),
        sample("sub", "[4, 3] - [4, 3]", &[&[4, 3], &[4, 3]], |x| &x[0] - &x[1]),
        sample("mul", "[2, 5] * [2, 5]", &[&[2, 5], &[2, 5]], |x| &x[0] * &x[1]),
        sample("div", "[3, 2] / [3, 2], y > 0", &[&[3, 2], &[3, 2]], |x| {
            &x[0] / &x[1]
        })
        .with(|c| c.domain(1, Domain::Positive)),
        sample("maximum", "[3, 4]", &[&[3, 4], &[3, 4]], |x| x[0].maximum(&x[1])),
        sample("minimum", "[4, 3]", &[&[4, 3], &[4, 3]], |x| x[0].minimum(&x[1])),
        sample("broadcast_add", "[2, 3] + [3]", &[&[2, 3], &[3]], |x| {
            x[0].broadcast_add(&x[1])
        }),
        sample("broadcast_sub", "[4, 1] - [1, 5]", &[&[4, 1], &[1, 5]], |x| {
            x[0].broadcast_sub(&x[1])
        }),
        sample(
            "broadcast_mul",
            "[2, 3, 4] * [3, 1]",
            &[&[2, 3, 4], &[3, 1]],
            |x| x[0].broadcast_mul(&x[1]),
        ),
        sample("broadcast_div", "[3, 4] / [4], y > 0", &[&[3, 4], &[4]], |x| {
            x[0].broadcast_div(&x[1])
        })
        .with(|c| c.domain(1, Domain::Positive)),
        sample(
            "broadcast_maximum",
            "[3, 1] vs [1, 4]",
            &[&[3, 1], &[1, 4]],
            |x| x[0].broadcast_maximum(&x[1]),
        ),
        sample("broadcast_minimum", "[2, 3] vs [3]", &[&[2, 3], &[3]], |x| {
            x[0].broadcast_minimum(&x[1])
        }),
        sample("pow", "[2, 3] ^ [2, 3], x > 0", &[&[2, 3], &[2, 3]], |x| {
            x[0].pow(&x[1])
        })
        .with(|c| c.domain(0, Domain::Positive)),
        sample("broadcast_pow", "[2, 3] ^ [3], x > 0", &[&[2, 3], &[3]], |x| {
            x[0].broadcast_pow(&x[1])
        })
        .with(|c| c.domain(0, Domain::Positive)),
        sample(
            "where_cond",
            "mask [2, 3] picks x or y",
            &[&[2, 3], &[2, 3]],
            |x| {
                let mask = Tensor::new(&[[1u8, 0, 1], [0, 0, 1]], x[0].device())?;
                mask.where_cond(&x[0], &x[1])
            },
        ),
        sample("mul", "x used twice: x * x", &[&[3, 2]], |x| &x[0] * &x[0]),
        sample("div", "x used twice: x / (1 + x²)", &[&[4]], |x| {
            &x[0] / (x[0].sqr()? + 1.0)?
        }),
    ]
}
