//! Reductions, y = reduce over some axes: for a sum dL/dx = v broadcast back over the reduced
//! axes; for a mean the same divided by their size; for max/min v goes to the maximising element
//! (ties have probability zero in the draws; at a tie candle gives v to every maximum, see
//! the README); for the variance (Bessel-corrected, n − 1)
//! dL/dx = 2 v (x − mean) / (n − 1); for log-sum-exp v ⊙ softmax(x). Each with and without
//! `_keepdim`, on axes that are not the last and on several axes at once.

use candle_core::D;

use super::{Sample, sample};

pub(super) fn samples() -> Vec<Sample> {
    vec![
        sample("sum_keepdim", "[3, 4] axis 1", &[&[3, 4]], |x| {
            x[0].sum_keepdim(1)
        }),
        sample("sum", "[3, 4, 2] axis 0", &[&[3, 4, 2]], |x| x[0].sum(0)),
        sample("sum", "[2, 3, 4] axes (0, 2)", &[&[2, 3, 4]], |x| {
            x[0].sum((0, 2))
        }),
        sample("sum_all", "[3, 5]", &[&[3, 5]], |x| x[0].sum_all()),
        sample("mean_keepdim", "[4, 3] axis 0", &[&[4, 3]], |x| {
            x[0].mean_keepdim(0)
        }),
        sample("mean", "[2, 3, 4] axis -1", &[&[2, 3, 4]], |x| {
            x[0].mean(D::Minus1)
        }),
        sample("mean_all", "[3, 4]", &[&[3, 4]], |x| x[0].mean_all()),
        sample("max_keepdim", "[3, 5] axis 1", &[&[3, 5]], |x| {
            x[0].max_keepdim(1)
        }),
        sample("max", "[4, 3] axis 0", &[&[4, 3]], |x| x[0].max(0)),
        sample("min_keepdim", "[2, 3, 4] axis 2", &[&[2, 3, 4]], |x| {
            x[0].min_keepdim(2)
        }),
        sample("min", "[3, 4] axis 1", &[&[3, 4]], |x| x[0].min(1)),
        sample("max_all", "[3, 4]", &[&[3, 4]], |x| x[0].max_all()),
        sample("var_keepdim", "[3, 5] axis 1", &[&[3, 5]], |x| {
            x[0].var_keepdim(1)
        }),
        sample("var", "[4, 3] axis 0", &[&[4, 3]], |x| x[0].var(0)),
        sample("log_sum_exp", "[3, 4] axis 1", &[&[3, 4]], |x| {
            x[0].log_sum_exp(1)
        }),
        sample("cumsum", "[3, 4] axis 1", &[&[3, 4]], |x| x[0].cumsum(1)),
        sample("sum_keepdim", "B = 1: [1, 4] axis 1", &[&[1, 4]], |x| {
            x[0].sum_keepdim(1)
        }),
    ]
}
