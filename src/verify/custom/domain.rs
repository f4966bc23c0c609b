//! Where an input may be drawn and stepped: the real line, the positive reals, or an interval;
//! or, for an input that is data and not a variable (a class target, an index), integer labels
//! or one-hot rows, drawn but never stepped, so never differentiated.
//!
//! Random inputs are drawn per domain: standard normal on the real line; `exp(z)`, z standard
//! normal, on the positive reals (a log-normal: most draws within [0.14, 7.4], none at 0); uniform
//! on the open interval `(a, b)`. A finite-difference step never leaves the domain: at a
//! coordinate θ whose distance to the nearest bound is d, the first step is at most `d / 2`, so
//! every step `θ ± h` stays inside (central differences with shorter steps near a bound: same
//! order, and the Richardson sequence shrinks from there). At the bound itself (d = 0, possible
//! only with explicit points) no step fits, and the element is not comparable: reported as such,
//! never guessed.

use ndarray::{ArrayD, IxDyn};
use ndarray_rand::RandomExt;
use ndarray_rand::rand::Rng;
use ndarray_rand::rand_distr::{Open01, StandardNormal};
use rand_chacha::ChaCha8Rng;

use super::validate;
use crate::error::{Error, Result};
use crate::oracle::richardson::Steps;

/// The first step is at most this fraction of the distance to the nearest bound.
const ROOM_FRACTION: f64 = 0.5;

/// Where one input lives: its random draws and its finite-difference steps stay inside.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Domain {
    /// Any real number; draws are standard normal (the default).
    Real,
    /// x > 0 (`ln`, `sqrt`, `log10`); draws are `exp(z)`, z standard normal.
    Positive,
    /// a < x < b; draws are uniform.
    Interval(f64, f64),
    /// The integers 0, 1, …, C − 1 (class labels, indices), drawn uniformly. Never stepped: the
    /// input is not differentiated.
    Labels(usize),
    /// One-hot rows along the last axis (a cross-entropy's targets): each row one 1 at a uniform
    /// place, 0 elsewhere. Never stepped: the input is not differentiated.
    OneHot,
}

impl Domain {
    /// The domain, or the misuse of an interval that is empty or not finite, or of no labels.
    pub fn validate(self) -> Result<Domain> {
        match self {
            Domain::Interval(a, b) if !(a.is_finite() && b.is_finite() && a < b) => Err(Error::Config {
                arg: "domain".to_owned(),
                value: format!("Interval({a}, {b})"),
                expected: "finite bounds a < b".to_owned(),
            }),
            Domain::Labels(0) => Err(Error::Config {
                arg: "domain".to_owned(),
                value: "Labels(0)".to_owned(),
                expected: "at least one class".to_owned(),
            }),
            _ => Ok(self),
        }
    }

    /// Labels and one-hot rows: data, drawn but never stepped nor differentiated.
    pub fn is_discrete(&self) -> bool {
        matches!(self, Domain::Labels(_) | Domain::OneHot)
    }

    /// Why this domain cannot be used, if it cannot.
    pub(super) fn unusable(&self) -> Option<String> {
        let error = self.validate().err()?;
        let (_, value, expected) = validate::parts(&error);
        Some(format!("{value} is empty or not finite: expected {expected}"))
    }

    /// The value lies in the domain or on its bound (where an explicit point may be: on the
    /// bound its element is not comparable).
    pub fn admits(&self, v: f64) -> bool {
        match *self {
            Domain::Real => v.is_finite(),
            Domain::Positive => v.is_finite() && v >= 0.0,
            Domain::Interval(a, b) => (a..=b).contains(&v),
            Domain::Labels(c) => v.fract() == 0.0 && (0.0..c as f64).contains(&v),
            Domain::OneHot => v == 0.0 || v == 1.0,
        }
    }

    /// The distance from `v` to the nearest bound (infinite on the real line, 0 where no step
    /// is allowed).
    pub(super) fn room(&self, v: f64) -> f64 {
        match *self {
            Domain::Real => f64::INFINITY,
            Domain::Positive => v,
            Domain::Interval(a, b) => (v - a).min(b - v),
            Domain::Labels(_) | Domain::OneHot => 0.0,
        }
        .max(0.0)
    }

    /// An array of the given shape drawn in the domain.
    pub(super) fn draw(&self, shape: &[usize], rng: &mut ChaCha8Rng) -> ArrayD<f64> {
        match *self {
            Domain::Real => ArrayD::random_using(IxDyn(shape), StandardNormal, rng),
            Domain::Positive => ArrayD::<f64>::random_using(IxDyn(shape), StandardNormal, rng).mapv(f64::exp),
            Domain::Interval(a, b) => {
                ArrayD::<f64>::random_using(IxDyn(shape), Open01, rng).mapv(|u| a + (b - a) * u)
            }
            Domain::Labels(c) => ArrayD::from_shape_simple_fn(IxDyn(shape), || rng.random_range(0..c) as f64),
            Domain::OneHot => one_hot(shape, rng),
        }
    }
}

impl std::fmt::Display for Domain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Domain::Real => write!(f, "the real line"),
            Domain::Positive => write!(f, "x > 0"),
            Domain::Interval(a, b) => write!(f, "the interval ({a}, {b})"),
            Domain::Labels(c) => write!(f, "the labels 0 to {}", c.saturating_sub(1)),
            Domain::OneHot => write!(f, "one-hot rows (0 or 1)"),
        }
    }
}

/// Rows of one 1 at a uniform place along the last axis (a scalar is the row `[1]`).
fn one_hot(shape: &[usize], rng: &mut ChaCha8Rng) -> ArrayD<f64> {
    let mut x = ArrayD::zeros(IxDyn(shape));
    let Some(&width) = shape.last() else {
        x.fill(1.0);
        return x;
    };
    if width > 0 {
        for mut row in x.rows_mut() {
            row[rng.random_range(0..width)] = 1.0;
        }
    }
    x
}

/// The step sequence at coordinate `theta` (steps relative to `max(1, |θ|)`, first `eps`),
/// shortened so that it stays `room` away from the nearest bound.
pub(super) fn steps(eps: f64, theta: f64, room: f64) -> Steps {
    Steps {
        first: eps.min(ROOM_FRACTION * room / theta.abs().max(1.0)),
        ..Steps::ANY_FUNCTION
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random;

    #[test]
    fn draws_stay_inside_and_steps_near_a_bound_are_shorter() {
        let mut rng = random::case_rng(0, 0);
        let x = Domain::Interval(0.1, 10.0).draw(&[200], &mut rng);
        assert!(x.iter().all(|&v| v > 0.1 && v < 10.0), "{x}");
        let p = Domain::Positive.draw(&[200], &mut rng);
        assert!(p.iter().all(|&v| v > 0.0), "{p}");
        let near = steps(0.125, 0.1 + 1e-4, Domain::Interval(0.1, 10.0).room(0.1 + 1e-4));
        assert!(near.first <= 0.5e-4 * (1.0 + 1e-9), "{near:?}");
        assert_eq!(steps(0.125, 3.0, f64::INFINITY).first, 0.125);
        let labels = Domain::Labels(3).draw(&[300], &mut rng);
        assert!(labels.iter().all(|&v| Domain::Labels(3).admits(v)), "{labels}");
        for c in [0.0, 1.0, 2.0] {
            assert!(labels.iter().any(|&v| v == c), "every label is drawn: {labels}");
        }
        assert!(!Domain::Labels(3).admits(3.0) && !Domain::Labels(3).admits(0.5));
        let rows = Domain::OneHot.draw(&[50, 4], &mut rng);
        assert!(
            rows.rows()
                .into_iter()
                .all(|r| r.sum() == 1.0 && r.iter().all(|&v| v == 0.0 || v == 1.0))
        );
        assert!(
            (0..4).all(|j| rows.index_axis(ndarray::Axis(1), j).sum() > 0.0),
            "every place is drawn: {rows}"
        );
        assert_eq!(Domain::Labels(3).room(1.0), 0.0, "labels are never stepped");
        assert!(Domain::Labels(0).validate().is_err());
        assert_eq!(steps(0.125, 0.0, Domain::Positive.room(0.0)).first, 0.0);
    }

    #[test]
    fn an_empty_interval_is_unusable() {
        assert!(Domain::Interval(1.0, 1.0).unusable().is_some());
        assert!(Domain::Interval(0.0, f64::INFINITY).unusable().is_some());
        assert!(Domain::Interval(0.0, 1.0).unusable().is_none());
        assert!(!Domain::Positive.admits(-1e-300));
    }
}
