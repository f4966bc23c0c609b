#!/usr/bin/env python3
"""A correct backward computed in float32, as PyTorch does by default: every input and every
result of an arithmetic operation is rounded to float32 through `array('f')`. Right to about 7
digits, and no better.

Expected: every op `float32`; every op passes with `--rtol 1e-3 --atol 1e-5`.
"""
from array import array

from backprop import Backprop, serve


def f32(x):
    return array("f", [x])[0]


def rounded(a):
    return [[f32(v) for v in row] for row in a]


def dot(xs, ys):
    total = 0.0
    for x, y in zip(xs, ys):
        total = f32(total + f32(x * y))
    return total


def matmul(a, b):
    cols = list(zip(*b))
    return [[dot(row, col) for col in cols] for row in a]


def transpose(a):
    return [list(col) for col in zip(*a)]


class Float32(Backprop):
    def linear_forward(self, h, W, b):
        return [[f32(v + f32(b[j])) for j, v in enumerate(row)] for row in matmul(rounded(h), rounded(W))]

    def linear_backward(self, g, h, W, b):
        g, h, W = rounded(g), rounded(h), rounded(W)
        db = [0.0] * len(W[0])
        for row in g:
            db = [f32(s + v) for s, v in zip(db, row)]
        return matmul(g, transpose(W)), matmul(transpose(h), g), db

    def relu_backward(self, g, a):
        return [[f32(gv) if f32(av) > 0 else 0.0 for gv, av in zip(grow, arow)] for grow, arow in zip(g, a)]

    def sqerr_backward(self, grad_loss, f, y):
        c = f32(grad_loss)
        df = [[f32(c * f32(f32(fv) - f32(yv))) for fv, yv in zip(frow, yrow)] for frow, yrow in zip(f, y)]
        return df, [[-v for v in row] for row in df]


if __name__ == "__main__":
    serve(Float32())
