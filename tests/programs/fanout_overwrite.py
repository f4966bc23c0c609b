#!/usr/bin/env python3
"""linear's backward in loops that overwrite where they should add (`grad = …` for `grad += …`):
dL/dW and dL/db keep the last data point's term, dL/dh the last output's term, of sums over the
uses of W, b and h (Eq. 4–10, 65–74). dL/dh is wrong at B = 1 too. The network is built on it.

Expected: linear `fanout_overwrite` for dL/dW, dL/db, dL/dh; relu, sqerr pass.
"""
from backprop import Backprop, serve


class FanoutOverwrite(Backprop):
    def linear_backward(self, g, h, W, b):
        batch, d_in, d_out = len(h), len(W), len(W[0])
        dh = [[0.0] * d_in for _ in range(batch)]
        dW = [[0.0] * d_out for _ in range(d_in)]
        db = [0.0] * d_out
        for k in range(batch):
            for j in range(d_out):
                db[j] = g[k][j]
                for i in range(d_in):
                    dW[i][j] = h[k][i] * g[k][j]
        for j in range(d_out):
            for k in range(batch):
                for i in range(d_in):
                    dh[k][i] = g[k][j] * W[i][j]
        return dh, dW, db


if __name__ == "__main__":
    serve(FanoutOverwrite())
