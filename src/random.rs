//! Seeded random inputs: every case draws from its own ChaCha generator, seeded from the case's
//! index, so results never depend on the order or the thread a case runs on.

use ndarray::{Array, Array1, Array2, ArrayD, Dimension};
use ndarray_rand::RandomExt;
use ndarray_rand::rand::{RngCore, SeedableRng};
use ndarray_rand::rand_distr::StandardNormal;
use rand_chacha::ChaCha8Rng;

use crate::mlp::MlpParams;

/// The largest batch B and the largest width D a random case's shape is drawn with (each from
/// 1): the verifier's cases ([`crate::verify::cases::BOUNDS`]) and the sweep's
/// ([`crate::sweep::BOUNDS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShapeBounds {
    /// The largest batch size.
    pub max_batch: usize,
    /// The largest width.
    pub max_width: usize,
}

/// The generator for one case: a ChaCha stream chosen by `(seed, case)`.
pub fn case_rng(seed: u64, case: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(case);
    rng
}

/// The generator for case `case` of the op named `op`: a ChaCha stream chosen by `case`, of a
/// seed that mixes `seed` with the op's name (64-bit FNV-1a), so that each op's cases are its
/// own whatever other ops there are.
pub fn op_case_rng(seed: u64, op: &str, case: u64) -> ChaCha8Rng {
    const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
    let name = (op.bytes()).fold(FNV_OFFSET, |h, byte| {
        (h ^ u64::from(byte)).wrapping_mul(FNV_PRIME)
    });
    case_rng(seed ^ name, case)
}

/// A matrix of independent standard normals.
pub fn normal_matrix(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Array2<f64> {
    Array2::random_using((rows, cols), StandardNormal, rng)
}

/// An array of independent standard normals, of any shape.
pub fn normal_array(rng: &mut ChaCha8Rng, shape: &[usize]) -> ArrayD<f64> {
    ArrayD::random_using(shape, StandardNormal, rng)
}

/// A vector of independent standard normals.
pub fn normal_vector(rng: &mut ChaCha8Rng, len: usize) -> Array1<f64> {
    Array1::random_using(len, StandardNormal, rng)
}

/// An array of independent random signs ±1 (Rademacher), one bit of the generator each: bit i
/// of a 64-bit draw is element i, −1 where it is set.
pub fn signs<D: Dimension>(rng: &mut ChaCha8Rng, shape: D) -> Array<f64, D> {
    let len = shape.size();
    let mut values = Vec::with_capacity(len + 63);
    while values.len() < len {
        for byte in rng.next_u64().to_le_bytes() {
            values.extend_from_slice(&SIGNS_OF_BYTE[usize::from(byte)]);
        }
    }
    values.truncate(len);
    Array::from_shape_vec(shape, values).expect("internal: one sign per element")
}

/// The eight signs that the bits of a byte stand for, lowest bit first: −1 for a set bit.
const SIGNS_OF_BYTE: [[f64; 8]; 256] = {
    let mut table = [[1.0; 8]; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut bit = 0;
        while bit < 8 {
            if (byte >> bit) & 1 == 1 {
                table[byte][bit] = -1.0;
            }
            bit += 1;
        }
        byte += 1;
    }
    table
};

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

#[cfg(test)]
mod tests {
    use ndarray::{Ix1, Ix2};

    use super::*;

    #[test]
    fn sign_i_is_bit_i_of_the_draw() {
        let bits = [case_rng(4, 5).next_u64(), {
            let mut rng = case_rng(4, 5);
            rng.next_u64();
            rng.next_u64()
        }];
        let a = signs(&mut case_rng(4, 5), Ix1(100));
        for (i, &sign) in a.iter().enumerate() {
            let set = (bits[i / 64] >> (i % 64)) & 1 == 1;
            assert_eq!(sign, if set { -1.0 } else { 1.0 }, "element {i}");
        }
    }

    #[test]
    fn signs_are_plus_or_minus_one_balanced_and_reproducible() {
        let a = signs(&mut case_rng(1, 2), Ix2(100, 100));
        assert!(a.iter().all(|&v| v == 1.0 || v == -1.0));
        let positive = a.iter().filter(|&&v| v > 0.0).count();
        // 10,000 fair bits: the count of ones has spread 50; 4,800..5,200 is four spreads.
        assert!((4800..=5200).contains(&positive), "{positive} of 10,000 positive");
        assert_eq!(a, signs(&mut case_rng(1, 2), Ix2(100, 100)));
        assert_ne!(a, signs(&mut case_rng(1, 3), Ix2(100, 100)));
        // Neighbours agree half of the time: every bit of a draw is used once, not repeated.
        let same = a.iter().zip(a.iter().skip(1)).filter(|(x, y)| x == y).count();
        assert!((4800..=5200).contains(&same), "{same} of 9,999 neighbours equal");
    }
}
