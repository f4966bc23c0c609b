//! One error type for misuse of the crate.
//!
//! Misuse (shapes that do not fit an op, an empty dimension, a NaN or an infinity in an input, a
//! variable from another tape, a malformed request) is an `Err` that names the op, the argument
//! and what was expected. A *wrong gradient* is never an error: it is a finding in a comparison.

use thiserror::Error;

/// The crate's `Result`, with [`enum@Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when the crate is used on input it cannot accept.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum Error {
    /// An argument's shape does not fit the op (or the other arguments).
    #[error("{op}: argument `{arg}` has shape {got:?}, expected {expected}")]
    Shape {
        op: String,
        arg: String,
        expected: String,
        got: Vec<usize>,
    },
    /// An argument has a dimension of length zero (B = 0 or a zero width).
    #[error("{op}: argument `{arg}` has shape {shape:?}; every dimension must be at least 1")]
    Empty {
        op: String,
        arg: String,
        shape: Vec<usize>,
    },
    /// An argument holds NaN or an infinity.
    #[error("{op}: argument `{arg}` holds {value} at index {index:?}; every value must be finite")]
    NonFinite {
        op: String,
        arg: String,
        index: Vec<usize>,
        value: f64,
    },
    /// An op was given the wrong number of inputs.
    #[error("{op}: takes {expected} inputs ({names}), got {got}")]
    Arity {
        op: String,
        expected: usize,
        names: String,
        got: usize,
    },
    /// A tape was used in a way it cannot honour (a foreign variable, a non-scalar loss, ...).
    #[error("tape: {0}")]
    Tape(String),
    /// A configuration value is out of its range.
    #[error("argument `{arg}` is {value}, expected {expected}")]
    Config {
        arg: String,
        value: String,
        expected: String,
    },
    /// A file could not be written.
    #[error("cannot write `{path}`: {message}")]
    Output { path: String, message: String },
    /// Input in JSON (a fixture or a protocol message) is not what was expected.
    #[error("{context}: {message}")]
    Json { context: String, message: String },
    /// An object in JSON lacks a key it must have.
    #[error("{context}: missing key `{key}`")]
    MissingKey { context: String, key: String },
}

impl Error {
    /// The same error with `context` (e.g. the tape node `a1 = linear(x, W1, b1)`) added to the
    /// op's name, so a message says where in a larger computation the op failed.
    pub fn within(self, context: &str) -> Error {
        let place = |op: String| format!("{op} in `{context}`");
        match self {
            Error::Shape {
                op,
                arg,
                expected,
                got,
            } => Error::Shape {
                op: place(op),
                arg,
                expected,
                got,
            },
            Error::Empty { op, arg, shape } => Error::Empty {
                op: place(op),
                arg,
                shape,
            },
            Error::NonFinite {
                op,
                arg,
                index,
                value,
            } => Error::NonFinite {
                op: place(op),
                arg,
                index,
                value,
            },
            Error::Arity {
                op,
                expected,
                names,
                got,
            } => Error::Arity {
                op: place(op),
                expected,
                names,
                got,
            },
            other => other,
        }
    }
}
