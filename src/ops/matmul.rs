//! The matrix product `C = A B`, `C_ij = Σ_k A_ik B_kj`, of the linear op (Eq. 34a, 66, 70).
//!
//! One safe function over the `gemm` crate's f64 kernels (`gemm-f64`, without the f16, f32 and
//! complex kernels of the umbrella crate, which this crate never calls), which read any strides, so the transposed
//! operands of the backward (`g Wᵀ`, `hᵀ g`) are views, never copies. At the sizes of this
//! project they are faster than ndarray's `dot` (matrixmultiply): 1.5× at 16×64×64 on one core
//! and 1.6× at 256×1024×1024 on two (`BENCHMARKS.md`). Products of more than about 600,000
//! multiply-adds are split over the current rayon pool, so inside a parallel sweep they share its
//! threads instead of starting their own.
//!
//! gemm's microkernels write columns of the destination (`mr` consecutive rows at a time): fed a
//! row-major `C` directly they store element by element. So the product is computed as its
//! transpose, `Cᵀ = Bᵀ Aᵀ`, into the same memory: the row-major m×n `C` is the column-major n×m
//! `Cᵀ`, and `Bᵀ`, `Aᵀ` are `B`, `A` with their strides swapped (no copy). The umbrella `gemm`
//! crate makes the same swap before it dispatches; `gemm-f64` alone does not. It took the
//! forward+backward at B=32, D=64 from 53 to 44 µs.
//!
//! `gemm-f64` is built with its `x86-v4` feature: on a CPU with AVX-512 (this machine's EPYC, as
//! NumPy's OpenBLAS uses it) it dispatches to 512-bit kernels at run time, elsewhere to the AVX2
//! ones as before. Here they do the eight products of a forward+backward at B=32, D=64 in
//! 30.4 µs instead of 33.0 (49.6 against 45.7 GFLOP/s, single-core peak 57); on a busy
//! machine, where the AVX2 kernels' twice as many instructions cost most, the whole pass took
//! 53 instead of 73 µs. The feature costs 8 to 10 s of a fresh release build (pulp and
//! gemm-f64 compile their AVX-512 paths).
//!
//! The oracles keep ndarray's `dot`: the explicit-Jacobian road contracts with a different kernel
//! from the reference's.

use gemm_common::Parallelism;
use ndarray::{Array2, ArrayView2};

/// `a b` for an m×k `a` and a k×n `b`.
///
/// # Panics
/// If the inner dimensions differ; the ops check shapes, with errors naming the argument,
/// before they multiply.
pub(crate) fn matmul(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> Array2<f64> {
    let ((m, k), (k_b, n)) = (a.dim(), b.dim());
    assert_eq!(k, k_b, "internal: matmul of {m}×{k} by {k_b}×{n}");
    if m == 0 || n == 0 || k == 0 {
        return Array2::zeros((m, n));
    }
    let [a_rs, a_cs] = [a.strides()[0], a.strides()[1]];
    let [b_rs, b_cs] = [b.strides()[0], b.strides()[1]];
    let mut c = Array2::<f64>::uninit((m, n));
    // gemm computes the n×m `Cᵀ = Bᵀ Aᵀ`; its arguments are (rows, columns, depth, dst, dst's
    // column stride, dst's row stride, read_dst, lhs, lhs's column stride, lhs's row stride, rhs,
    // ...). `Cᵀ[j, i]` is `C[i, j]` at `i·n + j`: column stride n, row stride 1. `Bᵀ[j, l]` is
    // `B[l, j]`: column stride b_rs, row stride b_cs; likewise `Aᵀ[l, i]` is `A[i, l]`.
    // SAFETY: `a` and `b` are live views whose elements are addressed exactly by
    // `ptr + i·rs + j·cs` for i, j within their dims, so `Bᵀ` and `Aᵀ` above address exactly the
    // same elements. `c` is an owned, standard-layout m×n array (row stride n, column stride 1)
    // that aliases neither operand; with `read_dst` false and m, n, k ≥ 1, gemm writes every one
    // of its elements (`Cᵀ = 1·Bᵀ Aᵀ`) without reading any, so it is initialised afterwards.
    unsafe {
        gemm_f64::gemm::f64::get_gemm_fn()(
            n,
            m,
            k,
            c.as_mut_ptr().cast::<f64>(),
            n as isize,
            1,
            false,
            b.as_ptr(),
            b_rs,
            b_cs,
            a.as_ptr(),
            a_rs,
            a_cs,
            0.0,
            1.0,
            false,
            false,
            false,
            Parallelism::Rayon(0),
        );
        c.assume_init()
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, s};

    use super::matmul;

    fn sample(m: usize, n: usize, seed: usize) -> Array2<f64> {
        Array2::from_shape_fn((m, n), |(i, j)| ((i * 31 + j * 17 + seed * 7) % 23) as f64 - 11.0)
    }

    #[test]
    fn agrees_with_ndarray_on_every_layout_of_the_operands() {
        for &(m, k, n) in &[(1, 1, 1), (3, 5, 2), (32, 64, 64), (64, 32, 16), (7, 129, 33)] {
            let a = sample(m, k, 1);
            let b = sample(k, n, 2);
            let expected = a.dot(&b);
            // Integers below 2^53: every layout must give exactly the same sums.
            assert_eq!(matmul(a.view(), b.view()), expected, "{m}×{k}×{n}");
            let (at, bt) = (a.t().to_owned(), b.t().to_owned());
            assert_eq!(matmul(at.t(), bt.t()), expected, "transposed views {m}×{k}×{n}");
            let a_rev = a.slice(s![..;-1, ..]).to_owned();
            assert_eq!(
                matmul(a_rev.slice(s![..;-1, ..]), b.view()),
                expected,
                "negative strides {m}×{k}×{n}"
            );
        }
    }

    #[test]
    fn agrees_with_ndarray_on_strided_and_reversed_views_of_odd_shapes() {
        for &(m, k, n) in &[(1, 3, 1), (5, 7, 3), (17, 9, 13), (33, 64, 16)] {
            let a_wide = sample(2 * m, 3 * k, 5);
            let b_wide = sample(2 * k, 2 * n + 1, 6);
            let a = a_wide.slice(s![..;2, 1..;3]);
            let b = b_wide.slice(s![1..;2, ..;-2]);
            let b = b.slice(s![.., ..n]);
            assert_eq!((a.dim(), b.dim()), ((m, k), (k, n)));
            assert_eq!(matmul(a, b), a.dot(&b), "strided {m}×{k}×{n}");
            let at = a.t().to_owned();
            assert_eq!(
                matmul(at.t(), b.slice(s![..;-1, ..]).slice(s![..;-1, ..])),
                a.dot(&b)
            );
        }
    }

    #[test]
    fn broadcast_operands_with_zero_strides_give_ndarrays_product() {
        // A row broadcast down k rows (row stride 0) and a column broadcast across n columns
        // (column stride 0): gemm only reads them.
        let (row, column) = (sample(1, 5, 9), sample(6, 1, 10));
        let a = column.broadcast((6, 4)).expect("6×1 broadcasts to 6×4");
        let b = row.broadcast((4, 5)).expect("1×5 broadcasts to 4×5");
        assert_eq!(b.strides()[0], 0);
        assert_eq!(a.strides()[1], 0);
        assert_eq!(matmul(a, b), a.dot(&b));
    }

    #[test]
    fn empty_outer_dimensions_give_empty_products() {
        let (a, b) = (Array2::<f64>::zeros((0, 4)), sample(4, 3, 7));
        assert_eq!(matmul(a.view(), b.view()).dim(), (0, 3));
        let (a, b) = (sample(2, 4, 8), Array2::<f64>::zeros((4, 0)));
        assert_eq!(matmul(a.view(), b.view()).dim(), (2, 0));
    }

    #[test]
    fn a_product_large_enough_to_be_split_over_threads_is_still_exact() {
        let (a, b) = (sample(256, 128, 3), sample(128, 300, 4));
        assert_eq!(matmul(a.view(), b.view()), a.dot(&b));
    }

    #[test]
    fn an_empty_inner_dimension_gives_zeros() {
        let (a, b) = (Array2::<f64>::zeros((3, 0)), Array2::<f64>::zeros((0, 2)));
        assert_eq!(matmul(a.view(), b.view()), Array2::<f64>::zeros((3, 2)));
    }
}
