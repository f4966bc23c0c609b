//! Elementwise loops compiled for AVX-512 where the CPU has it.
//!
//! The crate is built for baseline x86-64, where a loop over `f64` slices vectorises two lanes
//! at a time (SSE2). [`widest`] runs a closure inside `pulp`'s dispatch (the `pulp` that `gemm`'s
//! kernels use, re-exported by `gemm-common`): a function compiled with AVX-512 enabled, chosen
//! once by run-time detection, into which the closure is inlined, so its loops vectorise 8
//! lanes wide. `pulp` has only its `x86-v4` feature here (through `gemm-f64`'s), so a CPU
//! without AVX-512, or a build without that feature, runs the baseline code as before. The
//! arithmetic is the same per element, so the values are the same.

use gemm_common::pulp::{Arch, Simd, WithSimd};

struct Inlined<F>(F);

impl<R, F: FnOnce() -> R> WithSimd for Inlined<F> {
    type Output = R;

    #[inline(always)]
    fn with_simd<S: Simd>(self, _: S) -> R {
        (self.0)()
    }
}

/// `f()`, compiled for AVX-512 when the CPU has it (see the module's note).
#[inline(always)]
pub(crate) fn widest<R>(f: impl FnOnce() -> R) -> R {
    Arch::new().dispatch(Inlined(f))
}
