#!/usr/bin/env python3
"""sqerr's backward with the mean-over-the-batch convention, `2 * (f - y) / B`, and the network
built on it: every gradient of the network is 2/B times right.

Expected: sqerr `mse_convention`; mlp `loss_factor` with `mse_convention`; linear, relu pass.
"""
from backprop import Backprop, negate, serve


class MseBatch(Backprop):
    def sqerr_backward(self, grad_loss, f, y):
        batch = len(f)
        df = [[grad_loss * 2 * (fv - yv) / batch for fv, yv in zip(frow, yrow)] for frow, yrow in zip(f, y)]
        return df, negate(df)


if __name__ == "__main__":
    serve(MseBatch())
