//! # gradverify: proves backward passes right
//!
//! Backprop is the chain rule run by the computer: each op has a `forward` and a backward that
//! maps dL/d(outputs) to dL/d(inputs), a vector-Jacobian product, without ever forming the
//! Jacobian (Eq. 28 of the course notes). This crate holds a reference backprop and checks it, and
//! anyone's backward code, along three roads to the same gradient:
//!
//! 1. **VJP backprop**, the reference: [`ops`] (linear, relu, sqerr) recorded on a [`tape`] and
//!    walked backwards; the three-layer network of Eq. 33 is [`mlp`].
//! 2. **Explicit Jacobians** ([`oracle::jacobian`]): every op builds its full Jacobian and the
//!    walk contracts them (Eq. 36). Exact up to rounding, at O(D²) cost.
//! 3. **Central finite differences** ([`oracle::finite_diff`]): no derivative at all, approximate,
//!    and blind at relu's kinks, which it detects and leaves out.
//!
//! [`compare`] turns a pair of arrays into a verdict under the rule "a relative tolerance
//! certifies, an absolute one may only excuse, NaN never passes".
//!
//! Around them:
//! - [`verify`] and [`check`]: someone else's backward against the reference — a student's
//!   `linear_backward` in one line of a `#[test]`, a whole backprop, a library author's own op
//!   (against finite differences of its own forward), or a program in any language over the
//!   JSON Lines [`protocol`] — with shrinking to the smallest failing shape and a diagnosis;
//! - [`sweep`]: many random cases in parallel, the same for any number of threads;
//! - [`claims`] ([`cost`], [`timing`], [`plot`]): the notes' two claims (Sec. 4.1 cost, Sec. 4.2
//!   memory) as tables, measured times and a plot;
//! - [`oracle::network_fd`] and [`oracle::projection`]: the full finite-difference check of the
//!   network in milliseconds, and a random-projection pre-check; [`mod@bench`] times them.
//! - [`allocator`]: glibc told to keep freed buffers, called first by the binary and the benches.
//!
//! ```
//! use gradverify::mlp::{self, MlpParams};
//! use gradverify::tape::Wrt;
//! use ndarray::array;
//!
//! // One data point through the Eq. 33 network with widths 2 → 2 → 2 → 1.
//! let params = MlpParams {
//!     w1: array![[1.0, -1.0], [0.5, 2.0]],
//!     b1: array![0.1, 0.2],
//!     w2: array![[1.0, 0.0], [0.0, 1.0]],
//!     b2: array![0.0, 0.0],
//!     w3: array![[1.0], [1.0]],
//!     b3: array![0.0],
//! };
//! let x = array![[1.0, 1.0]];
//! let y = array![[2.0]];
//! let grads = mlp::loss_and_grads(&params, &x, &y, Wrt::Params)?;
//! // a1 = [1.6, 1.2], both relus pass everything, f = 2.8, L = ½ (2.8 − 2)² = 0.32.
//! assert!((grads.loss - 0.32).abs() < 1e-12);
//! // dL/db3 = f − y = 0.8 (Eq. 74 with dL/df = f − y).
//! assert!((grads.b3[0] - 0.8).abs() < 1e-12);
//! # Ok::<(), gradverify::Error>(())
//! ```

pub mod allocator;
pub mod catalogue;
pub mod claims;
pub mod compare;
pub mod error;
pub mod grade;
pub mod json;
pub mod mlp;
pub mod ops;
pub mod oracle;
pub mod protocol;
pub mod random;
pub mod serve;
pub mod sweep;
pub mod tape;
pub mod verify;
pub mod workload;

pub use claims::{bench, cost, plot, timing};
pub use error::{Error, Result};
pub use verify::check;

/// The README's examples, run as doctests so that they keep working.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
