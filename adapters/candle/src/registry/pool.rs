//! Pooling and nearest upsampling. Average pooling with kernel k and stride s: each output is
//! the mean of its window, so dL/dx sums v/|k| over the windows that hold x; max pooling sends v
//! to each window's maximum (ties have probability zero in the draws). Nearest upsampling by an
//! integer factor copies each element into a block, so dL/dx sums v over its block. candle
//! differentiates pooling only without overlap (k = s) and upsampling only by one integer factor
//! on both axes: the other samples are unsupported. Samples with a size the kernel does not
//! divide, and an input used twice (upsampled and used directly).

use super::{Expect, Sample, sample};

pub(super) fn samples() -> Vec<Sample> {
    vec![
        sample("avg_pool2d", "k = s = 2, x [2, 3, 4, 6]", &[&[2, 3, 4, 6]], |x| {
            x[0].avg_pool2d(2)
        }),
        sample(
            "avg_pool2d",
            "k = s = (2, 3), B = 1, x [1, 2, 4, 6]",
            &[&[1, 2, 4, 6]],
            |x| x[0].avg_pool2d_with_stride((2, 3), (2, 3)),
        ),
        sample(
            "avg_pool2d",
            "k = s = 2, x [1, 1, 5, 4]: H not a multiple of k",
            &[&[1, 1, 5, 4]],
            |x| x[0].avg_pool2d(2),
        )
        .expect(Expect::Defect("pool2d_remainder")),
        sample(
            "avg_pool2d",
            "overlap k = 3, s = 2, x [1, 1, 5, 5]",
            &[&[1, 1, 5, 5]],
            |x| x[0].avg_pool2d_with_stride(3, 2),
        )
        .expect(Expect::Unsupported),
        sample("max_pool2d", "k = s = 2, x [2, 3, 4, 6]", &[&[2, 3, 4, 6]], |x| {
            x[0].max_pool2d(2)
        })
        .expect(Expect::Defect("max_pool2d_scale")),
        sample(
            "max_pool2d",
            "k = s = (3, 2), B = 1, x [1, 2, 6, 4]",
            &[&[1, 2, 6, 4]],
            |x| x[0].max_pool2d_with_stride((3, 2), (3, 2)),
        )
        .expect(Expect::Defect("max_pool2d_scale")),
        sample(
            "max_pool2d",
            "k = s = 2, x [1, 1, 4, 5]: W not a multiple of k",
            &[&[1, 1, 4, 5]],
            |x| x[0].max_pool2d(2),
        )
        .expect(Expect::Defect("pool2d_remainder")),
        sample(
            "max_pool2d",
            "overlap k = 3, s = 2, x [1, 1, 5, 5]",
            &[&[1, 1, 5, 5]],
            |x| x[0].max_pool2d_with_stride(3, 2),
        )
        .expect(Expect::Unsupported),
        sample("upsample_nearest1d", "x [2, 3, 4] → 8", &[&[2, 3, 4]], |x| {
            x[0].upsample_nearest1d(8)
        }),
        sample(
            "upsample_nearest2d",
            "x [1, 2, 3, 2] → (6, 4)",
            &[&[1, 2, 3, 2]],
            |x| x[0].upsample_nearest2d(6, 4),
        ),
        sample(
            "upsample_nearest2d",
            "x [1, 1, 2, 2] → (4, 6): two factors",
            &[&[1, 1, 2, 2]],
            |x| x[0].upsample_nearest2d(4, 6),
        )
        .expect(Expect::Unsupported),
        sample(
            "upsample_nearest2d",
            "x [1, 1, 2, 3] → (3, 4): not an integer factor",
            &[&[1, 1, 2, 3]],
            |x| x[0].upsample_nearest2d(3, 4),
        )
        .expect(Expect::Unsupported),
        sample(
            "upsample_nearest2d",
            "x used twice: sum sin(upsample(x)) + sum x²",
            &[&[1, 1, 2, 3]],
            |x| {
                let upsampled = x[0].upsample_nearest2d(4, 6)?.sin()?.sum_all()?;
                upsampled + x[0].sqr()?.sum_all()?
            },
        )
        .expect(Expect::Defect("upsample_overwrites")),
        sample(
            "upsample_nearest1d",
            "x used twice: sum sin(upsample(x)) + sum x²",
            &[&[1, 2, 3]],
            |x| {
                let upsampled = x[0].upsample_nearest1d(6)?.sin()?.sum_all()?;
                upsampled + x[0].sqr()?.sum_all()?
            },
        )
        .expect(Expect::Defect("upsample_overwrites")),
    ]
}
