//! Ops that move elements without arithmetic: their VJP moves v back (`cat` splits it,
//! `narrow` pads it with zeros, `transpose`/`permute` undo the permutation, `broadcast_as` sums
//! over the broadcast axes, `pad_with_same` adds the copied edges back onto the edge). Each
//! sample is followed by no other op, except where an input is used twice.

use candle_core::Tensor;

use super::{Sample, sample};
use crate::check_multi;

pub(super) fn samples() -> Vec<Sample> {
    vec![
        sample("cat", "axis 0: [2, 3] ++ [1, 3]", &[&[2, 3], &[1, 3]], |x| {
            Tensor::cat(&[&x[0], &x[1]], 0)
        }),
        sample("cat", "axis 1: [2, 3] ++ [2, 4]", &[&[2, 3], &[2, 4]], |x| {
            Tensor::cat(&[&x[0], &x[1]], 1)
        }),
        sample("cat", "x used twice: [x, 2x] axis 1", &[&[3, 2]], |x| {
            Tensor::cat(&[&x[0], &(&x[0] * 2.0)?], 1)
        }),
        sample("stack", "[2, 3], [2, 3] axis 1", &[&[2, 3], &[2, 3]], |x| {
            Tensor::stack(&[&x[0], &x[1]], 1)
        }),
        sample("narrow", "[4, 5] axis 1 from 1, length 3", &[&[4, 5]], |x| {
            x[0].narrow(1, 1, 3)
        }),
        sample("transpose", "[2, 3, 4] axes 0, 2", &[&[2, 3, 4]], |x| {
            x[0].transpose(0, 2)
        }),
        sample("permute", "[2, 3, 4] to (1, 2, 0)", &[&[2, 3, 4]], |x| {
            x[0].permute((1, 2, 0))
        }),
        sample("reshape", "[2, 6] to [3, 4]", &[&[2, 6]], |x| {
            x[0].reshape((3, 4))
        }),
        sample("flatten_all", "of a transposed [3, 4]", &[&[3, 4]], |x| {
            x[0].t()?.flatten_all()
        }),
        sample("squeeze", "[3, 1, 2] axis 1", &[&[3, 1, 2]], |x| x[0].squeeze(1)),
        sample("unsqueeze", "[3, 2] axis 0", &[&[3, 2]], |x| x[0].unsqueeze(0)),
        sample("broadcast_as", "[3, 1] to [2, 3, 4]", &[&[3, 1]], |x| {
            x[0].broadcast_as((2, 3, 4))
        }),
        sample("broadcast_left", "[2, 3] to [4, 2, 3]", &[&[2, 3]], |x| {
            x[0].broadcast_left(4)
        }),
        sample("contiguous", "of a transposed [2, 5]", &[&[2, 5]], |x| {
            x[0].t()?.contiguous()
        }),
        sample(
            "pad_with_zeros",
            "[2, 3] axis 1, 1 left, 2 right",
            &[&[2, 3]],
            |x| x[0].pad_with_zeros(1, 1, 2),
        ),
        sample(
            "pad_with_same",
            "[3, 2] axis 0, 2 left, 1 right",
            &[&[3, 2]],
            |x| x[0].pad_with_same(0, 2, 1),
        ),
        sample("repeat", "[2, 3] by (2, 1)", &[&[2, 3]], |x| x[0].repeat((2, 1))),
        sample("flip", "[3, 4] axis 1", &[&[3, 4]], |x| x[0].flip(&[1])),
        sample("roll", "[5, 2] by 2 on axis 0", &[&[5, 2]], |x| x[0].roll(2, 0)),
        sample(
            "slice_scatter0",
            "[4, 3] with [2, 3] at row 1",
            &[&[4, 3], &[2, 3]],
            |x| x[0].slice_scatter0(&x[1], 1),
        ),
        Sample {
            op: "chunk",
            label: "[4, 6] in 3 along axis 1: three outputs".to_owned(),
            expect: super::Expect::Pass,
            check: check_multi("chunk", &[&[4, 6]], |x| x[0].chunk(3, 1)).cases(super::CASES),
        },
    ]
}
