//! Ops a program brings: a course's own op (a GRU cell, an attention head, a custom loss) that
//! gradverify has no reference for, written in any language, checked over the protocol of
//! `docs/protocol-program-ops.md` by finite differences of the program's own forward.
//!
//! The op is described by a spec ([`spec`]: inputs with shapes and domains, outputs,
//! attributes) from a file (JSON or TOML) or from the program's answer to `describe`; the
//! requests (`forward`, `backward`, `second_backward`, `describe`) and their answers are
//! [`wire`]'s; [`check`] runs [`OpCheck`](crate::check::OpCheck) on them.

pub mod check;
pub mod spec;
pub mod wire;

pub use check::{Order, against_reference, check, check_fast, second_order_missing};
pub use spec::{PROTOCOL, ProgramOp, SpecFile};
pub use wire::Exchange;
