//! gradverify's [`OpCheck`](gradverify::check::OpCheck) on candle: any function of candle tensors
//! has its VJP, as candle's autodiff computes it, checked against finite differences of its own
//! forward, as `torch.autograd.gradcheck` does for PyTorch.
//!
//! For inputs x₀…xₙ₋₁ (f64 arrays) and one random cotangent vⱼ per output yⱼ = fⱼ(x), the
//! gradient under test is candle's: each input becomes a [`Var`](candle_core::Var), the scalar
//! L = Σⱼ sum(yⱼ ⊙ vⱼ) is built in candle's graph, and `L.backward()` gives the store from which
//! dL/dxᵢ = Σⱼ Jⱼᵢᵀ vⱼ is read. The oracle is central differences of the same forward (run without
//! `Var`s), extrapolated with their error bound, with every option, diagnosis and verdict of
//! `OpCheck`.
//!
//! An op candle cannot differentiate (its backward answers "backward not supported", or no
//! gradient reaches an input that is compared) is [`Outcome::Unsupported`], never a failure.
//!
//! [`registry`] holds OpInfo-style samples of candle-core's differentiable ops;
//! `cargo run --release --example candle_ops` sweeps them.
//!
//! ```
//! use gradverify::check::Domain;
//!
//! let report = gradverify_candle::check("log", &[&[2, 3]], |x| x[0].log())
//!     .domain(0, Domain::Positive)
//!     .cases(3)
//!     .run();
//! assert!(report.outcome().is_pass(), "{report}");
//! ```

mod check;
mod convert;
mod outcome;
pub mod registry;

pub use check::{Check, check, check_multi};
pub use convert::{to_array, to_tensor};
pub use outcome::{CandleReport, Outcome};
