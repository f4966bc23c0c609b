#!/usr/bin/env python3
"""sqerr's backward with the mean-squared-error convention, `2 * (f - y) / f.size`, and the
network built on it: dL/df is 2/(B·D) times the right one, so every gradient of the network is
2/(B·D3) times right. At B = D = 1 the factor is exactly 2.

Expected: sqerr `mse_convention`; mlp `loss_factor` with `mse_convention`; linear, relu pass.
"""
from backprop import Backprop, negate, serve


class MseSize(Backprop):
    def sqerr_backward(self, grad_loss, f, y):
        size = len(f) * len(f[0])
        df = [[grad_loss * 2 * (fv - yv) / size for fv, yv in zip(frow, yrow)] for frow, yrow in zip(f, y)]
        return df, negate(df)


if __name__ == "__main__":
    serve(MseSize())
