"""Backward functions as a student writes them with NumPy: right ones, and one known bug per op.

Shapes as in the notes: rows are data points; h is B×Din, W Din×Dout, b Dout.
"""

import numpy as np


def linear_backward(grad_a, h, W, b):
    """(dL/dh, dL/dW, dL/db) of a = h W + b (Eq. 30b)."""
    return grad_a @ W.T, h.T @ grad_a, grad_a.sum(axis=0)


def relu_backward(grad_h, a):
    """dL/da = Θ(a) ⊙ dL/dh (Eq. 29b)."""
    return grad_h * (a > 0)


def sqerr_backward(grad_loss, f, y):
    """(dL/df, dL/dy) of L = ½ Σ (f − y)² (Eq. 31b)."""
    df = grad_loss * (f - y)
    return df, -df


def backprop(x, y, params, relu=relu_backward):
    """Eq. 33 forward, Eq. 37 backward: the six parameter gradients in Eq. 35's order."""
    W1, b1, W2, b2, W3, b3 = (params[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
    a1 = x @ W1 + b1
    h1 = np.maximum(a1, 0)
    a2 = h1 @ W2 + b2
    h2 = np.maximum(a2, 0)
    f = h2 @ W3 + b3
    df, _ = sqerr_backward(1.0, f, y)
    dh2, dW3, db3 = linear_backward(df, h2, W3, b3)
    da2 = relu(dh2, a2)
    dh1, dW2, db2 = linear_backward(da2, h1, W2, b2)
    da1 = relu_backward(dh1, a1)
    _, dW1, db1 = linear_backward(da1, x, W1, b1)
    return dW1, db1, dW2, db2, dW3, db3


def linear_backward_mean(grad_a, h, W, b):
    """Bug: dL/db averages over the batch instead of summing."""
    return grad_a @ W.T, h.T @ grad_a, grad_a.mean(axis=0)


def relu_backward_no_mask(grad_h, a):
    """Bug: passes the upstream gradient through without Θ(a)."""
    return grad_h.copy()


def sqerr_backward_sign(grad_loss, f, y):
    """Bug: dL/dy = +(f − y)."""
    df = grad_loss * (f - y)
    return df, df.copy()


def backprop_no_mask(x, y, params):
    """Bug: the second relu's mask is left out (dL/da2 = dL/dh2)."""
    return backprop(x, y, params, relu=lambda grad_h, a: grad_h)


RIGHT = {"linear": linear_backward, "relu": relu_backward, "sqerr": sqerr_backward, "mlp": backprop}
BUGGY = {
    "linear": linear_backward_mean,
    "relu": relu_backward_no_mask,
    "sqerr": sqerr_backward_sign,
    "mlp": backprop_no_mask,
}
