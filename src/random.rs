//! Seeded random inputs: every case draws from its own ChaCha generator, seeded from the case's
//! index, so results never depend on the order or the thread a case runs on.

use ndarray::{Array1, Array2};
use ndarray_rand::RandomExt;
use ndarray_rand::rand::SeedableRng;
use ndarray_rand::rand_distr::StandardNormal;
use rand_chacha::ChaCha8Rng;

use crate::mlp::MlpParams;

/// The generator for one case: a ChaCha stream chosen by `(seed, case)`.
pub fn case_rng(seed: u64, case: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(case);
    rng
}

/// A matrix of independent standard normals.
pub fn normal_matrix(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Array2<f64> {
    Array2::random_using((rows, cols), StandardNormal, rng)
}

/// A vector of independent standard normals.
pub fn normal_vector(rng: &mut ChaCha8Rng, len: usize) -> Array1<f64> {
    Array1::random_using(len, StandardNormal, rng)
}

/// Parameters for widths [D0, D1, D2, D3], with weights scaled by 1/√(fan-in) so activations
/// keep unit scale, and biases at unit scale so relu inputs sit on both sides of 0.
pub fn mlp_params(rng: &mut ChaCha8Rng, widths: [usize; 4]) -> MlpParams {
    let mut layer = |d_in: usize, d_out: usize| {
        let w = normal_matrix(rng, d_in, d_out) / (d_in as f64).sqrt();
        (w, normal_vector(rng, d_out))
    };
    let (w1, b1) = layer(widths[0], widths[1]);
    let (w2, b2) = layer(widths[1], widths[2]);
    let (w3, b3) = layer(widths[2], widths[3]);
    MlpParams {
        w1,
        b1,
        w2,
        b2,
        w3,
        b3,
    }
}
