//! Convolutions, y = x ⋆ w (cross-correlation, candle's and PyTorch's convention):
//! dL/dx = v convolved back with w (a transposed convolution with the same stride, padding and
//! dilation), dL/dw = x correlated with v (stride and dilation exchanging roles). A transposed
//! convolution is the VJP of a convolution with respect to its input, so its own VJPs are a
//! convolution (dL/dx) and again a correlation (dL/dw). Samples: channels in ≠ out, lengths and
//! kernels that are not square, stride, padding, dilation, groups, a batch of one, a length that
//! the stride does not divide.

use super::{Expect, Sample, sample};

pub(super) fn samples() -> Vec<Sample> {
    vec![
        sample(
            "conv1d",
            "x [2, 3, 7], w [4, 3, 3]",
            &[&[2, 3, 7], &[4, 3, 3]],
            |x| x[0].conv1d(&x[1], 0, 1, 1, 1),
        )
        .expect(Expect::Defect("conv1d_batch_channels")),
        sample(
            "conv1d",
            "B = 1: x [1, 3, 7], w [4, 3, 3]",
            &[&[1, 3, 7], &[4, 3, 3]],
            |x| x[0].conv1d(&x[1], 0, 1, 1, 1),
        ),
        sample(
            "conv1d",
            "stride 2, padding 1, x [2, 2, 8]",
            &[&[2, 2, 8], &[3, 2, 3]],
            |x| x[0].conv1d(&x[1], 1, 2, 1, 1),
        )
        .expect(Expect::Defect("conv1d_batch_channels")),
        sample(
            "conv1d",
            "dilation 2, B = 1, x [1, 2, 9]",
            &[&[1, 2, 9], &[2, 2, 3]],
            |x| x[0].conv1d(&x[1], 0, 1, 2, 1),
        ),
        sample(
            "conv1d",
            "groups 2, x [2, 4, 6], w [2, 2, 2]",
            &[&[2, 4, 6], &[2, 2, 2]],
            |x| x[0].conv1d(&x[1], 0, 1, 1, 2),
        ),
        sample(
            "conv2d",
            "x [2, 3, 5, 6], w [2, 3, 3, 2]",
            &[&[2, 3, 5, 6], &[2, 3, 3, 2]],
            |x| x[0].conv2d(&x[1], 0, 1, 1, 1),
        ),
        sample(
            "conv2d",
            "padding 1, B = 1, x [1, 2, 4, 5]",
            &[&[1, 2, 4, 5], &[3, 2, 3, 3]],
            |x| x[0].conv2d(&x[1], 1, 1, 1, 1),
        ),
        sample(
            "conv2d",
            "dilation 2, x [1, 2, 6, 7]",
            &[&[1, 2, 6, 7], &[2, 2, 2, 3]],
            |x| x[0].conv2d(&x[1], 0, 1, 2, 1),
        ),
        sample(
            "conv2d",
            "stride 2, x [1, 2, 5, 5] (square)",
            &[&[1, 2, 5, 5], &[2, 2, 3, 3]],
            |x| x[0].conv2d(&x[1], 0, 2, 1, 1),
        ),
        sample(
            "conv2d",
            "stride 2, x [1, 2, 5, 6]: H and W leave different remainders",
            &[&[1, 2, 5, 6], &[2, 2, 3, 3]],
            |x| x[0].conv2d(&x[1], 0, 2, 1, 1),
        )
        .expect(Expect::Defect("conv2d_stride_width")),
        sample(
            "conv_transpose1d",
            "x [2, 3, 4], w [3, 2, 3]",
            &[&[2, 3, 4], &[3, 2, 3]],
            |x| x[0].conv_transpose1d(&x[1], 0, 0, 1, 1, 1),
        )
        .expect(Expect::Unsupported),
        sample(
            "conv_transpose2d",
            "x [2, 3, 3, 4], w [3, 2, 2, 3]",
            &[&[2, 3, 3, 4], &[3, 2, 2, 3]],
            |x| x[0].conv_transpose2d(&x[1], 0, 0, 1, 1),
        ),
        sample(
            "conv_transpose2d",
            "padding 1, B = 1, x [1, 2, 4, 3]",
            &[&[1, 2, 4, 3], &[2, 3, 3, 3]],
            |x| x[0].conv_transpose2d(&x[1], 1, 0, 1, 1),
        ),
        sample(
            "conv_transpose2d",
            "stride 2, x [1, 2, 3, 4]",
            &[&[1, 2, 3, 4], &[2, 2, 3, 2]],
            |x| x[0].conv_transpose2d(&x[1], 0, 0, 2, 1),
        ),
        sample(
            "conv_transpose2d",
            "dilation 2, x [1, 2, 3, 3]",
            &[&[1, 2, 3, 3], &[2, 1, 2, 2]],
            |x| x[0].conv_transpose2d(&x[1], 0, 0, 1, 2),
        ),
        sample(
            "conv_transpose2d",
            "stride 2, output_padding 1, x [1, 1, 3, 3]",
            &[&[1, 1, 3, 3], &[1, 2, 3, 3]],
            |x| x[0].conv_transpose2d(&x[1], 0, 1, 2, 1),
        ),
    ]
}
