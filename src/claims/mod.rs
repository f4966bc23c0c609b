//! The notes' two quantitative claims of Sec. 4, checked on this machine: [`cost`] models the
//! work of both roads of the backward (Sec. 4.1: O(D) for relu's VJP against O(D²) for its
//! Jacobian) and the memory backprop retains (Sec. 4.2); [`timing`] measures both roads;
//! [`plot`] draws the cost against D; [`mod@bench`] times the project's speed workloads.
//! Each module is also at the crate's root (`gradverify::cost`, ...), where it was first.

pub mod bench;
pub mod cost;
pub mod plot;
pub mod timing;
