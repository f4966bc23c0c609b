#!/usr/bin/env python3
"""A correct backward whose relu mask comes from relu's output h = relu(a) rather than from a:
h > 0 exactly where a > 0, so Θ is the same (Eq. 42, 47), exact zeros included.

Expected: every op passes.
"""
from backprop import Backprop, serve


class MaskFromOutput(Backprop):
    def relu_backward(self, g, a):
        h = self.relu_forward(a)
        return [[gv if hv > 0 else 0.0 for gv, hv in zip(grow, hrow)] for grow, hrow in zip(g, h)]


if __name__ == "__main__":
    serve(MaskFromOutput())
