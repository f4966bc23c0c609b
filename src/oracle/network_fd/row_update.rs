//! One row of f moved by `Δf = u g` for both moves of an element at once, and what the rounding
//! of that change scales with.
//!
//! The loss changes by `L(r + Δf) − L(r) = ½ Σ ((r + Δf)² − r²) = ½ Σ Δf ⊙ (2r + Δf)` (Eq. 34b,
//! `r = f − y`). Doubling r and halving the sum are exact in floating point, so each term is
//! `2 Δf (r + ½ Δf)` to the last bit; only the order of the sum is free. Each move keeps
//! [`LANES`] partial sums of its own: independent adds, which the compiler keeps in vector
//! registers, where one running sum would wait on every add. The two moves share the loads of g
//! and 2r, and neither ever sees the other's values.
//!
//! The rounding of the terms scales with `Σ_c |Δf_c| (|f_c| + |y_c| + ½ |Δf_c|)` (r is a
//! difference of f and y), which for `Δf = u g` is `|u| Σ_c |g_c| (|f_c| + |y_c|) + ½ u² Σ_c g_c²`:
//! two sums of the row and g alone ([`RowSize`]), summed once rather than once per move.

use ndarray::ArrayView2;

/// Partial sums per move: a multiple of the widths the benchmarks use (D3 = D / 4), and enough
/// independent adds to cover the adder's latency.
pub(super) const LANES: usize = 8;

/// `Σ Δf ⊙ (2r + Δf)`, twice ΔL, for each of the two moves of an element, in [`LANES`] partial
/// sums each.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Sums([[f64; LANES]; 2]);

impl Sums {
    pub(super) const ZERO: Sums = Sums([[0.0; LANES]; 2]);

    /// A row of f moved by `u[0] g` and by `u[1] g`; `r2` is the same row of 2r.
    #[inline(always)]
    pub(super) fn add_row(&mut self, u: [f64; 2], g: &[f64], r2: &[f64]) {
        let (g_chunks, g_rest) = g.as_chunks::<LANES>();
        let (r_chunks, r_rest) = r2.as_chunks::<LANES>();
        for (g, r) in g_chunks.iter().zip(r_chunks) {
            for (sums, u) in self.0.iter_mut().zip(u) {
                add_terms(sums, u, g, r);
            }
        }
        for (sums, u) in self.0.iter_mut().zip(u) {
            add_terms(sums, u, g_rest, r_rest);
        }
    }

    /// ΔL of each move: half the sum of its partial sums.
    #[inline(always)]
    pub(super) fn delta_losses(&self) -> [f64; 2] {
        self.0.map(|sums| 0.5 * sums.iter().sum::<f64>())
    }
}

/// `sums[c] += Δf_c (2r_c + Δf_c)` with `Δf = u g`, for the c that g and r2 share.
#[inline(always)]
fn add_terms(sums: &mut [f64; LANES], u: f64, g: &[f64], r2: &[f64]) {
    for ((sum, g), r2) in sums.iter_mut().zip(g).zip(r2) {
        let d = u * g;
        *sum += d * (r2 + d);
    }
}

/// What the rounding of a row's change scales with per unit of the move: for `Δf = u g`,
/// `Σ_c |Δf_c| (|f_c| + |y_c| + ½ |Δf_c|) = |u| linear + ½ u² square`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct RowSize {
    /// `Σ_c |g_c| (|f_c| + |y_c|)`.
    linear: f64,
    /// `Σ_c g_c²`.
    square: f64,
}

impl RowSize {
    /// The sums for g over a row whose `|f| + |y|` is `size`.
    pub(super) fn of(g: &[f64], size: &[f64]) -> RowSize {
        let (linear, square) = g
            .iter()
            .zip(size)
            .fold((0.0, 0.0), |(l, s), (g, size)| (l + g.abs() * size, s + g * g));
        RowSize { linear, square }
    }

    /// `Σ_c |Δf_c| (|f_c| + |y_c| + ½ |Δf_c|)` over both moves, `Δf = u[0] g` and `u[1] g`.
    #[inline(always)]
    pub(super) fn magnitude(&self, u: [f64; 2]) -> f64 {
        u.iter()
            .map(|u| u.abs() * self.linear + 0.5 * (u * u) * self.square)
            .sum()
    }
}

/// A matrix's rows as contiguous slices, in a copy (of a transposed view: its columns), so that
/// a loop over one index reads consecutive memory.
pub(super) struct Rows {
    data: Vec<f64>,
    len: usize,
}

impl Rows {
    pub(super) fn of(a: ArrayView2<'_, f64>) -> Rows {
        let mut data = Vec::with_capacity(a.len());
        for row in a.rows() {
            data.extend(row.iter());
        }
        Rows { data, len: a.ncols() }
    }

    /// Rows of `len` values, one after the other in `data`.
    pub(super) fn new(data: Vec<f64>, len: usize) -> Rows {
        Rows { data, len }
    }

    pub(super) fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.len..(i + 1) * self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random;

    /// A row of n values, g and 2r, from the crate's seeded normals.
    fn row(seed: u64, n: usize) -> (Vec<f64>, Vec<f64>) {
        let m = random::normal_matrix(&mut random::case_rng(seed, 3), 2, n);
        (m.row(0).to_vec(), m.row(1).iter().map(|r| 2.0 * r).collect())
    }

    #[test]
    fn each_move_is_summed_as_if_alone() {
        for n in [1, 3, 8, 19, 64] {
            let (g, r2) = row(n as u64, n);
            let (u, v) = (0.37, -1.3e-3);
            let mut both = Sums::ZERO;
            let (mut first, mut second) = (Sums::ZERO, Sums::ZERO);
            for _ in 0..3 {
                both.add_row([u, v], &g, &r2);
                first.add_row([u, u], &g, &r2);
                second.add_row([v, v], &g, &r2);
            }
            let [a, b] = both.delta_losses();
            assert_eq!(a.to_bits(), first.delta_losses()[0].to_bits(), "n {n}");
            assert_eq!(b.to_bits(), second.delta_losses()[1].to_bits(), "n {n}");
        }
    }

    #[test]
    fn the_change_is_the_loss_difference_exactly_where_nothing_rounds() {
        // Small dyadic values: every product and sum below is exact, in either form.
        let g: Vec<f64> = (0..19).map(|c| (c as f64 - 9.0) * 0.25).collect();
        let r: Vec<f64> = (0..19).map(|c| ((c * 7) % 11) as f64 * 0.5 - 2.0).collect();
        let r2: Vec<f64> = r.iter().map(|r| 2.0 * r).collect();
        let mut sums = Sums::ZERO;
        let u = [0.125, -0.75];
        sums.add_row(u, &g, &r2);
        let loss = |shift: f64| -> f64 { g.iter().zip(&r).map(|(g, r)| 0.5 * (r + shift * g).powi(2)).sum() };
        let [up, down] = sums.delta_losses();
        assert_eq!(up, loss(u[0]) - loss(0.0));
        assert_eq!(down, loss(u[1]) - loss(0.0));
        assert!(up != 0.0 && down != 0.0);
    }

    #[test]
    fn the_change_matches_the_sequential_sum_within_its_reordering_bound() {
        for n in [3, 16, 19, 64] {
            let (g, r2) = row(100 + n as u64, n);
            for u in [1e-4, -0.3, 7.0] {
                let mut sums = Sums::ZERO;
                sums.add_row([u, u], &g, &r2);
                let terms = g.iter().zip(&r2).map(|(g, r2)| {
                    let d = u * g;
                    d * (0.5 * r2 + 0.5 * d)
                });
                let sequential: f64 = terms.clone().sum();
                let absolute: f64 = terms.map(f64::abs).sum();
                let bound = 2.0 * n as f64 * f64::EPSILON * absolute;
                let got = sums.delta_losses()[0];
                assert!(
                    (got - sequential).abs() <= bound,
                    "n {n} u {u}: {got} vs {sequential}"
                );
            }
        }
    }

    #[test]
    fn the_magnitude_is_the_sum_over_the_changed_values() {
        for n in [1, 5, 16] {
            let (g, size) = row(200 + n as u64, n);
            let size: Vec<f64> = size.iter().map(|s| s.abs()).collect();
            let u = [2.5e-3, -4.0];
            let direct: f64 = u
                .iter()
                .flat_map(|u| {
                    g.iter()
                        .zip(&size)
                        .map(move |(g, s)| (u * g).abs() * (s + 0.5 * (u * g).abs()))
                })
                .sum();
            let factored = RowSize::of(&g, &size).magnitude(u);
            assert!(
                (factored - direct).abs() <= 4.0 * n as f64 * f64::EPSILON * direct,
                "n {n}: {factored} vs {direct}"
            );
        }
    }

    #[test]
    fn rows_of_a_transposed_view_are_its_columns() {
        let a = ndarray::array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
        let columns = Rows::of(a.t());
        assert_eq!(columns.row(0), &[1.0, 4.0]);
        assert_eq!(columns.row(2), &[3.0, 6.0]);
        assert_eq!(Rows::of(a.view()).row(1), &[4.0, 5.0, 6.0]);
    }
}
