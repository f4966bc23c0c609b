//! Shrinking a failing case of a custom op along the axes marked `.shrinkable(input, axis)`, as
//! the built-in verifier shrinks its ops: one dimension at a time, to 1, halved, one less, with
//! fresh inputs drawn in their domains, keeping each that still shows the same kind of problem.
//! Marked axes of the same length are one dimension (a batch axis shared by several inputs
//! shrinks in all of them at once).

use rand_chacha::ChaCha8Rng;

use crate::verify::{CaseRecord, Subject, shrink_by};

/// The marked axes, grouped by length: each group is one dimension that shrinks.
#[derive(Debug, Clone, Default)]
pub(super) struct Groups(Vec<(usize, Vec<(usize, usize)>)>);

impl Groups {
    /// The current length of each group: a case's `dims`.
    pub(super) fn lengths(&self) -> Vec<usize> {
        self.0.iter().map(|(length, _)| *length).collect()
    }

    /// `shapes` with each group's axes set to its length in `dims`.
    fn apply(&self, shapes: &[Vec<usize>], dims: &[usize]) -> Vec<Vec<usize>> {
        let mut shapes = shapes.to_vec();
        for ((_, members), &length) in self.0.iter().zip(dims) {
            for &(input, axis) in members {
                shapes[input][axis] = length;
            }
        }
        shapes
    }

    /// The smallest case found that fails like `start` for `what` (`start` itself if none):
    /// `case` draws and checks one at the given shapes (`shapes` with each group shrunk to
    /// `dims`) from the given stream.
    pub(super) fn shrunk(
        &self,
        shapes: &[Vec<usize>],
        (start, what): (&CaseRecord, &Subject),
        seed: u64,
        mut case: impl FnMut(&[Vec<usize>], &[usize], &mut ChaCha8Rng) -> Option<CaseRecord>,
    ) -> CaseRecord {
        shrink_by(start, what, seed, |dims, rng| {
            case(&self.apply(shapes, &dims), &dims, rng)
        })
    }
}

/// The marks `(input, axis)` grouped by their length in `shapes`.
pub(super) fn groups(shapes: &[Vec<usize>], marks: &[(usize, usize)]) -> Groups {
    let mut groups: Vec<(usize, Vec<(usize, usize)>)> = Vec::new();
    for &(input, axis) in marks {
        let length = shapes[input][axis];
        match groups.iter_mut().find(|(l, _)| *l == length) {
            Some((_, members)) if !members.contains(&(input, axis)) => members.push((input, axis)),
            Some(_) => {}
            None => groups.push((length, vec![(input, axis)])),
        }
    }
    Groups(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_of_the_same_length_shrink_together() {
        let shapes = vec![vec![5, 3], vec![5], vec![3, 3]];
        let g = groups(&shapes, &[(0, 0), (1, 0), (2, 1)]);
        assert_eq!(g.lengths(), vec![5, 3]);
        assert_eq!(g.apply(&shapes, &[2, 1]), vec![vec![2, 3], vec![2], vec![3, 1]]);
    }
}
