//! Elementwise loops compiled for the widest vector instructions the CPU has.
//!
//! The crate is built for baseline x86-64, where a loop over `f64` slices vectorises two lanes
//! at a time (SSE2). [`widest`] runs a closure inside `pulp`'s dispatch (the one `gemm` uses for
//! its kernels): a function compiled with AVX-512 or AVX2 enabled, chosen once by run-time
//! detection, into which the closure is inlined, so its loops vectorise 8 or 4 lanes wide. The
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

/// `f()`, compiled for the widest instruction set available at run time.
#[inline(always)]
pub(crate) fn widest<R>(f: impl FnOnce() -> R) -> R {
    Arch::new().dispatch(Inlined(f))
}
