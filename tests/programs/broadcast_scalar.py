#!/usr/bin/env python3
"""sqerr's backward as one scalar broadcast to every element: `2 * mean(y - f)` (times dL/dL),
the derivative of a mean loss taken as a whole. At B = D = 1 it reads as the sign flipped and
doubled. The network is built on it too.

Expected: sqerr `broadcast_scalar` (−2 × the mean of the right gradient); linear, relu pass.
"""
from backprop import Backprop, negate, serve


class BroadcastScalar(Backprop):
    def sqerr_backward(self, grad_loss, f, y):
        values = [yv - fv for frow, yrow in zip(f, y) for fv, yv in zip(frow, yrow)]
        scalar = grad_loss * 2 * sum(values) / len(values)
        df = [[scalar for _ in row] for row in f]
        return df, negate(df)


if __name__ == "__main__":
    serve(BroadcastScalar())
