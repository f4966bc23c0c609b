#!/usr/bin/env python3
"""The course's eleven ops (shared/protocol-ops.md) in vectorised NumPy, a second implementation
independent of examples/student.py's loops: np.add.at for the scatters of embedding and maxpool2d,
sliding windows and einsum for conv2d, whole-array statistics for the normalisations. It speaks
protocol-v1 on stdin/stdout and answers linear, relu, sqerr and mlp with "unsupported op".

    python3 tests/programs/course_numpy.py [BUG]

Without BUG every op is correct. With BUG only the op(s) named below answer wrongly; the others
stay right (g is grad_out, gL a loss's scalar dL/dL, B the batch rows):

- `derivative_at_input`: sigmoid da = g*a*(1-a) and tanh da = g*(1-a**2) with a the input, not
  the output; rnn_step dpre = g*(1-pre**2) with pre = x@Wx + h@Wh + b, all five grads from it.
- `dropout_scale`: dropout dx = g*mask (the 1/(1-p) forgotten).
- `batch_sum`: softmax_xent dz = gL*(softmax(z) - onehot) and hinge dz = gL*(per-row gradient),
  neither divided by B.
- `onehot_missing`: softmax_xent dz = gL*softmax(z)/B.
- `hinge_correct_class`: hinge dz[i,j] = gL/B*[z_ij - z_iy + 1 > 0] for j != y_i and
  dz[i,y_i] = 0 (the -count term left out).
- `stats_as_constants`: batchnorm and layernorm dx = g*gamma/sqrt(var+eps) (mu and sigma taken
  as constants; biased var per column / per row); dgamma, dbeta right.
- `unbiased_variance`: batchnorm with var = sum((x-mu)**2, 0)/(B-1) in the forward and that
  forward's exact backward: dx = gamma*istd/B*(B*g - g.sum(0) - B/(B-1)*xhat*(g*xhat).sum(0)).
- `wrong_axis`: batchnorm answered with layernorm's backward (statistics per row), layernorm
  with batchnorm's (statistics per column); gamma, beta per feature in both.
- `kernel_flipped`: conv2d dx with the kernel flipped in both spatial axes; dw, db right.
- `bias_not_summed`: conv2d db = g[0].sum(axis=(1,2)) (first image only).
- `pool_spread`: maxpool2d dx gets each window's g/pool**2 at every position of the window.
- `fanout_overwrite`: maxpool2d dx[argmax] = g (assignment: where overlapping windows share a
  max, the last wins); embedding dW[idx] += g (a repeated index counts once, the last).
- `no_max`: softmax_xent with np.exp(z), the row max not subtracted (NaN/inf for logits near
  +-800; not guarded).

An unknown BUG is a usage error: a message on stderr and exit status 2.
"""
import json
import sys

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

BUGS = {
    "derivative_at_input": ["sigmoid", "tanh", "rnn_step"],
    "dropout_scale": ["dropout"],
    "batch_sum": ["softmax_xent", "hinge"],
    "onehot_missing": ["softmax_xent"],
    "hinge_correct_class": ["hinge"],
    "stats_as_constants": ["batchnorm", "layernorm"],
    "unbiased_variance": ["batchnorm"],
    "wrong_axis": ["batchnorm", "layernorm"],
    "kernel_flipped": ["conv2d"],
    "bias_not_summed": ["conv2d"],
    "pool_spread": ["maxpool2d"],
    "fanout_overwrite": ["maxpool2d", "embedding"],
    "no_max": ["softmax_xent"],
}
DEFAULT_EPS = 1e-5
BUG = None


def arr(value):
    return np.asarray(value, dtype=np.float64)


def ints(value):
    return np.asarray(value, dtype=np.float64).astype(np.int64)


def sigmoid(g, a):
    e = np.exp(-np.abs(a))  # never overflows
    out = np.where(a >= 0, 1 / (1 + e), e / (1 + e))
    if BUG == "derivative_at_input":
        return {"a": g * a * (1 - a)}
    return {"a": g * out * (1 - out)}


def tanh(g, a):
    out = np.tanh(a)
    if BUG == "derivative_at_input":
        return {"a": g * (1 - a**2)}
    return {"a": g * (1 - out**2)}


def dropout(g, x, mask, p):
    if BUG == "dropout_scale":
        return {"x": g * mask}
    return {"x": g * mask / (1 - p)}


def softmax_xent(gL, z, labels):
    b, c = z.shape
    if BUG == "no_max":
        with np.errstate(all="ignore"):
            e = np.exp(z)
            probs = e / e.sum(axis=1, keepdims=True)
    else:
        e = np.exp(z - z.max(axis=1, keepdims=True))
        probs = e / e.sum(axis=1, keepdims=True)
    onehot = np.eye(c)[labels]
    if BUG == "onehot_missing":
        return {"z": gL * probs / b}
    if BUG == "batch_sum":
        return {"z": gL * (probs - onehot)}
    return {"z": gL * (probs - onehot) / b}


def hinge(gL, z, labels):
    b, _ = z.shape
    rows = np.arange(b)
    active = (z - z[rows, labels][:, None] + 1) > 0
    active[rows, labels] = False
    dz = active.astype(np.float64)
    dz[rows, labels] = 0.0 if BUG == "hinge_correct_class" else -active.sum(axis=1)
    return {"z": gL * dz if BUG == "batch_sum" else gL * dz / b}


def norm(g, x, gamma, eps, axis, op):
    """gamma * xhat + beta, xhat normalised along `axis` (0: batchnorm, 1: layernorm)."""
    n = x.shape[axis]
    mu = x.mean(axis=axis, keepdims=True)
    if BUG == "unbiased_variance" and op == "batchnorm":
        var = ((x - mu) ** 2).sum(axis=0, keepdims=True) / (n - 1)
    else:
        var = ((x - mu) ** 2).mean(axis=axis, keepdims=True)
    istd = 1 / np.sqrt(var + eps)
    xhat = (x - mu) * istd
    dxhat = g * gamma
    if BUG == "stats_as_constants":
        dx = dxhat * istd
    elif BUG == "unbiased_variance" and op == "batchnorm":
        dx = gamma * istd / n * (n * g - g.sum(axis=0) - n / (n - 1) * xhat * (g * xhat).sum(axis=0))
    else:
        dx = istd / n * (n * dxhat - dxhat.sum(axis=axis, keepdims=True)
                         - xhat * (dxhat * xhat).sum(axis=axis, keepdims=True))
    return {"x": dx, "gamma": (g * xhat).sum(axis=0), "beta": g.sum(axis=0)}


def batchnorm(g, x, gamma, eps):
    return norm(g, x, gamma, eps, 1 if BUG == "wrong_axis" else 0, "batchnorm")


def layernorm(g, x, gamma, eps):
    return norm(g, x, gamma, eps, 0 if BUG == "wrong_axis" else 1, "layernorm")


def conv2d(g, x, w, b, stride, pad):
    _, _, height, width = x.shape
    _, _, kh, kw = w.shape
    _, _, ho, wo = g.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    # cols[n, c, i, j, p, q] = xp[n, c, i*stride + p, j*stride + q]  (im2col as a strided view)
    cols = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride][:, :, :ho, :wo]
    dw = np.einsum("nfij,ncijpq->fcpq", g, cols)
    db = g[0].sum(axis=(1, 2)) if BUG == "bias_not_summed" else g.sum(axis=(0, 2, 3))
    wk = w[:, :, ::-1, ::-1] if BUG == "kernel_flipped" else w
    dxp = np.zeros_like(xp)
    for p in range(kh):  # col2im: one strided slice of xp per kernel position
        for q in range(kw):
            rows, columns = slice(p, p + stride * ho, stride), slice(q, q + stride * wo, stride)
            dxp[:, :, rows, columns] += np.einsum("nfij,fc->ncij", g, wk[:, :, p, q])
    return {"x": dxp[:, :, pad:pad + height, pad:pad + width], "w": dw, "b": db}


def maxpool2d(g, x, pool, stride):
    n, c, ho, wo = g.shape
    dx = np.zeros_like(x)
    ni, ci, ii, ji = np.meshgrid(np.arange(n), np.arange(c), np.arange(ho), np.arange(wo), indexing="ij")
    if BUG == "pool_spread":
        for p in range(pool):
            for q in range(pool):
                np.add.at(dx, (ni, ci, ii * stride + p, ji * stride + q), g / pool**2)
        return {"x": dx}
    windows = sliding_window_view(x, (pool, pool), axis=(2, 3))[:, :, ::stride, ::stride][:, :, :ho, :wo]
    best = windows.reshape(n, c, ho, wo, pool * pool).argmax(axis=-1)
    where = (ni, ci, ii * stride + best // pool, ji * stride + best % pool)
    if BUG == "fanout_overwrite":
        dx[where] = g
    else:
        np.add.at(dx, where, g)
    return {"x": dx}


def embedding(g, W, idx):
    dW = np.zeros_like(W)
    if BUG == "fanout_overwrite":
        dW[idx] += g
    else:
        np.add.at(dW, idx, g)
    return {"W": dW}


def rnn_step(g, x, h, Wx, Wh, b):
    pre = x @ Wx + h @ Wh + b
    out = np.tanh(pre)
    dpre = g * (1 - pre**2) if BUG == "derivative_at_input" else g * (1 - out**2)
    return {"x": dpre @ Wx.T, "h": dpre @ Wh.T, "Wx": x.T @ dpre, "Wh": h.T @ dpre, "b": dpre.sum(axis=0)}


def answer(request):
    op, inp = request["op"], request["inputs"]
    attrs = request.get("attrs") or {}
    g = request.get("grad_out")
    if op == "sigmoid":
        return sigmoid(arr(g), arr(inp["a"]))
    if op == "tanh":
        return tanh(arr(g), arr(inp["a"]))
    if op == "dropout":
        return dropout(arr(g), arr(inp["x"]), arr(inp["mask"]), float(attrs["p"]))
    if op == "softmax_xent":
        return softmax_xent(float(g), arr(inp["z"]), ints(inp["labels"]))
    if op == "hinge":
        return hinge(float(g), arr(inp["z"]), ints(inp["labels"]))
    if op in ("batchnorm", "layernorm"):
        fn = batchnorm if op == "batchnorm" else layernorm
        return fn(arr(g), arr(inp["x"]), arr(inp["gamma"]), float(attrs.get("eps", DEFAULT_EPS)))
    if op == "conv2d":
        return conv2d(arr(g), arr(inp["x"]), arr(inp["w"]), arr(inp["b"]), int(attrs["stride"]), int(attrs["pad"]))
    if op == "maxpool2d":
        return maxpool2d(arr(g), arr(inp["x"]), int(attrs["pool"]), int(attrs["stride"]))
    if op == "embedding":
        return embedding(arr(g), arr(inp["W"]), ints(inp["idx"]))
    if op == "rnn_step":
        return rnn_step(arr(g), *(arr(inp[k]) for k in ["x", "h", "Wx", "Wh", "b"]))
    return None


def main():
    global BUG
    args = sys.argv[1:]
    if len(args) > 1 or (args and args[0] not in BUGS):
        sys.stderr.write(f"usage: course_numpy.py [BUG]; unknown bug {' '.join(args)!r}; "
                         f"the bugs: {', '.join(BUGS)}\n")
        sys.exit(2)
    BUG = args[0] if args else None
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        grads = answer(request)
        if grads is None:
            reply = {"id": request["id"], "error": "unsupported op"}
        else:
            grads = {k: np.asarray(v).tolist() for k, v in grads.items()}
            reply = {"id": request["id"], "grads": grads}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
