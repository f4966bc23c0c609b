//! `cargo bench --bench peak`: this machine's peak f64 throughput, the limit that the matrix
//! products of the reference are measured against in BENCHMARKS.md.
//!
//! Each thread runs twelve independent chains of AVX2 fused multiply-adds (4 doubles, 2 flops
//! each), enough to keep both FMA units busy whatever their latency; the figure is flops over
//! wall time, on 1 thread and then on every core at once. Needs x86-64 with AVX2 and FMA.

use std::time::Instant;

/// Fused multiply-adds per chain and thread.
const ROUNDS: usize = 50_000_000;
/// Independent chains per thread.
const CHAINS: usize = 12;

fn main() {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        for threads in [1, cores] {
            let start = Instant::now();
            let workers: Vec<_> = (0..threads)
                // SAFETY: AVX2 and FMA were detected above.
                .map(|_| std::thread::spawn(|| unsafe { fma::chains(ROUNDS) }))
                .collect();
            for worker in workers {
                std::hint::black_box(worker.join().expect("a worker panicked"));
            }
            let seconds = start.elapsed().as_secs_f64();
            let flops = (threads * ROUNDS * CHAINS * 8) as f64;
            println!(
                "{threads} thread(s): {:.1} GFLOP/s ({:.2} GHz × 16 flops per cycle per core)",
                flops / seconds / 1e9,
                flops / seconds / 1e9 / threads as f64 / 16.0
            );
        }
        return;
    }
    println!("peak: needs x86-64 with AVX2 and FMA");
}

#[cfg(target_arch = "x86_64")]
mod fma {
    use std::arch::x86_64::{
        __m256d, _mm_cvtsd_f64, _mm256_add_pd, _mm256_castpd256_pd128, _mm256_fmadd_pd, _mm256_set1_pd,
    };

    use super::CHAINS;

    /// `rounds` fused multiply-adds on each of [`CHAINS`] registers; returns a sum of them so
    /// that none is optimised away.
    #[target_feature(enable = "avx2,fma")]
    pub fn chains(rounds: usize) -> f64 {
        let (a, b) = (_mm256_set1_pd(0.999_999), _mm256_set1_pd(1e-7));
        let mut acc: [__m256d; CHAINS] = [_mm256_set1_pd(1.0); CHAINS];
        for _ in 0..rounds {
            for x in &mut acc {
                *x = _mm256_fmadd_pd(*x, a, b);
            }
        }
        let total = acc.iter().fold(_mm256_set1_pd(0.0), |s, &x| _mm256_add_pd(s, x));
        _mm_cvtsd_f64(_mm256_castpd256_pd128(total))
    }
}
