//! The op catalogue, the bottom layer of the verifier: what an op *is* on the wire and in a case,
//! described once as data ([`OpSpec`]), and the generic [`Request`] and [`Answer`] every op shares.
//!
//! An op's spec names its dimension letters (`B`, `Din`, `Dout`), its inputs with their shapes in
//! those letters (differentiated or not: labels and indices are not), its attributes and the
//! kind of its upstream gradient (an array shaped like the output, the scalar dL/dL of a loss, or
//! none for a whole network). Reading and writing a request, its shape label, its batch size, a
//! zero upstream gradient and the keys of an answer follow from the spec alone, for every op.
//!
//! Nothing here knows any particular op: the specs themselves live in each op's home
//! (`crate::verify::ops`), and the list of ops is that module's registry.

mod answer;
mod bug;
mod request;
mod spec;

pub use answer::Answer;
pub use bug::Bug;
pub use request::Request;
pub use spec::{AttrSpec, Grad, GradOut, InputKind, InputSpec, OpKind, OpSpec};
