#!/usr/bin/env python3
"""A correct backward written with loops instead of products: every sum over the uses of a value
accumulated with `+=` (Eq. 4–10, 65–74).

Expected: every op passes.
"""
from backprop import Backprop, serve


class Loops(Backprop):
    def linear_backward(self, g, h, W, b):
        batch, d_in, d_out = len(h), len(W), len(W[0])
        dh = [[0.0] * d_in for _ in range(batch)]
        dW = [[0.0] * d_out for _ in range(d_in)]
        db = [0.0] * d_out
        for k in range(batch):
            for j in range(d_out):
                db[j] += g[k][j]
                for i in range(d_in):
                    dW[i][j] += h[k][i] * g[k][j]
                    dh[k][i] += g[k][j] * W[i][j]
        return dh, dW, db

    def relu_backward(self, g, a):
        da = []
        for k in range(len(a)):
            row = []
            for i in range(len(a[k])):
                row.append(g[k][i] if a[k][i] > 0 else 0.0)
            da.append(row)
        return da

    def sqerr_backward(self, grad_loss, f, y):
        df, dy = [], []
        for k in range(len(f)):
            df.append([grad_loss * (f[k][i] - y[k][i]) for i in range(len(f[k]))])
            dy.append([-v for v in df[k]])
        return df, dy


if __name__ == "__main__":
    serve(Loops())
