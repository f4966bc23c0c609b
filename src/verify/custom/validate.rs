//! The rules of [`OpCheck`](super::OpCheck)'s options, public so that a front end (the Python
//! package) checks a value before it builds the check, by the same rule: each function returns
//! the value, or [`Error::Config`] naming the option, the value and what was expected. The
//! builder words a misuse as its report's finding (`.rtol(-1): expected a finite value ≥ 0`), a
//! front end as it likes (Python: `rtol is -1: expected a finite value ≥ 0`), from those fields.
//! Where an explicit point may lie is [`Domain::admits`](super::Domain::admits).

use crate::error::{Error, Result};

/// What a tolerance must be.
pub const TOLERANCE: &str = "a finite value ≥ 0";
/// What a finite-difference step must be.
pub const STEP: &str = "a finite value > 0";

/// `rtol`, `atol`, `nondet_tol` (named `option`): a finite value ≥ 0.
pub fn tolerance(option: &str, value: f64) -> Result<f64> {
    within(option, value, value >= 0.0, TOLERANCE)
}

/// `eps` (named `option`): a finite value > 0.
pub fn step(option: &str, value: f64) -> Result<f64> {
    within(option, value, value > 0.0, STEP)
}

/// Input `input` of an op with `inputs` inputs, for `option` (`no_grad`, `domain`, …).
pub fn input(option: &str, input: usize, inputs: usize) -> Result<usize> {
    match input < inputs {
        true => Ok(input),
        false => Err(config(option, input, format!("one of the op's {inputs} inputs"))),
    }
}

/// Axis `axis` of an input shaped `shape`, for `option` (`shrinkable`).
pub fn axis(option: &str, axis: usize, shape: &[usize]) -> Result<usize> {
    match axis < shape.len() {
        true => Ok(axis),
        false => Err(config(
            option,
            axis,
            format!("one of the input's {} axes (shape {shape:?})", shape.len()),
        )),
    }
}

/// `no_grad` as one flag per input: at least one input is left to differentiate.
pub fn some_gradient(no_grad: &[bool]) -> Result<()> {
    match no_grad.iter().all(|&fixed| fixed) {
        true => Err(config(
            "no_grad",
            format!("{no_grad:?}"),
            "at least one input left out (there is no gradient to compare)".to_owned(),
        )),
        false => Ok(()),
    }
}

/// `value` when it is finite and `ok`; else the misuse of `option`.
fn within(option: &str, value: f64, ok: bool, expected: &str) -> Result<f64> {
    match ok && value.is_finite() {
        true => Ok(value),
        false => Err(config(option, value, expected.to_owned())),
    }
}

/// The misuse of `option` set to `value`.
fn config(option: &str, value: impl std::fmt::Display, expected: String) -> Error {
    Error::Config {
        arg: option.to_owned(),
        value: value.to_string(),
        expected,
    }
}

/// The option, value and expectation of a misuse from this module (empty for another error).
pub fn parts(error: &Error) -> (&str, &str, &str) {
    match error {
        Error::Config { arg, value, expected } => (arg, value, expected),
        _ => ("", "", ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_names_the_option_the_value_and_what_was_expected() {
        assert_eq!(tolerance("rtol", 0.0), Ok(0.0));
        let error = tolerance("rtol", -1.0).unwrap_err();
        assert_eq!(parts(&error), ("rtol", "-1", TOLERANCE));
        assert_eq!(
            error.to_string(),
            "argument `rtol` is -1, expected a finite value ≥ 0"
        );
        assert!(tolerance("atol", f64::NAN).is_err());
        assert!(step("eps", 0.0).is_err());
        assert_eq!(step("eps", 1e-3), Ok(1e-3));
        assert!(step("eps", f64::INFINITY).is_err());
        assert_eq!(input("no_grad", 1, 2), Ok(1));
        assert!(input("no_grad", 2, 2).is_err());
        assert_eq!(axis("shrinkable", 1, &[3, 4]), Ok(1));
        assert!(axis("shrinkable", 2, &[3, 4]).is_err());
        assert!(some_gradient(&[true, false]).is_ok());
        assert!(some_gradient(&[true, true]).is_err());
    }
}
