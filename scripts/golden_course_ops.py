#!/usr/bin/env python3
"""Golden cases for the course's eleven ops, computed independently with JAX in float64.

Writes fixtures/golden/course_ops.json: for sigmoid, tanh, dropout, softmax_xent, hinge,
batchnorm, layernorm, conv2d, maxpool2d, embedding and rnn_step (the formulas and input names of
shared/protocol-ops.md), a few cases each: the inputs, the attributes, a random cotangent
`grad_out` (for the two losses a scalar dL/dL), the op's `output` and, from `jax.vjp`, the
gradient of every differentiated input (labels, indices and masks get none).

Every forward below is written in jax.numpy straight from the formulas; nothing is taken from the
crate. Before writing, the script checks itself: conv2d's and maxpool2d's forwards against plain
loops, tanh's and sigmoid's VJPs against their exact derivatives, and every VJP against central
differences along random directions. The draws use a fixed numpy seed, so a rerun with the same
JAX and numpy writes the same file.

Rerun (from the repository root; the venv lives outside the repository, never commit it):

    python3 -m venv /tmp/gv-golden && /tmp/gv-golden/bin/pip install jax numpy \
        && /tmp/gv-golden/bin/python scripts/golden_course_ops.py

then `cargo test --release --test suite golden_course_ops` checks the crate against the file.
"""

import json
import platform
from importlib.metadata import version
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

SEED = 20240613
DEFAULT_EPS = 1e-5
HINGE_KINK_GAP = 1e-3  # no margin (j != label) within this of 0
POOL_TIE_GAP = 1e-3  # in every window the max beats the runner-up by at least this
OUT = Path(__file__).resolve().parent.parent / "fixtures" / "golden" / "course_ops.json"


# --- The ops, from the formulas ---------------------------------------------------------------


def sigmoid(a):
    return 1.0 / (1.0 + jnp.exp(-a))


def tanh(a):
    return jnp.tanh(a)


def dropout(x, mask, p):
    return x * mask / (1.0 - p)


def softmax_xent(z, labels):
    # -log softmax(z_i)[y_i] = logsumexp(z_i) - z_i,y_i, the log-sum-exp taken stably.
    b = z.shape[0]
    lse = jax.nn.logsumexp(z, axis=1)
    return jnp.mean(lse - z[jnp.arange(b), labels])


def hinge(z, labels):
    b, c = z.shape
    correct = z[jnp.arange(b), labels][:, None]
    margins = z - correct + 1.0
    others = 1.0 - jax.nn.one_hot(labels, c, dtype=z.dtype)  # j != y_i
    return jnp.sum(jnp.maximum(0.0, margins) * others) / b


def _norm(x, gamma, beta, eps, axis):
    mu = jnp.mean(x, axis=axis, keepdims=True)
    var = jnp.mean((x - mu) ** 2, axis=axis, keepdims=True)  # biased
    return gamma * (x - mu) / jnp.sqrt(var + eps) + beta


def batchnorm(x, gamma, beta, eps=DEFAULT_EPS):
    return _norm(x, gamma, beta, eps, axis=0)


def layernorm(x, gamma, beta, eps=DEFAULT_EPS):
    return _norm(x, gamma, beta, eps, axis=1)


def conv2d(x, w, b, stride, pad):
    # conv_general_dilated does not flip the kernel: it is cross-correlation.
    out = jax.lax.conv_general_dilated(
        x,
        w,
        window_strides=(stride, stride),
        padding=((pad, pad), (pad, pad)),
        dimension_numbers=("NCHW", "OIHW", "NCHW"),
        precision=jax.lax.Precision.HIGHEST,
    )
    return out + b[None, :, None, None]


def maxpool2d(x, pool, stride):
    return jax.lax.reduce_window(
        x, -jnp.inf, jax.lax.max, (1, 1, pool, pool), (1, 1, stride, stride), "VALID"
    )


def embedding(W, idx):
    return W[idx]


def rnn_step(x, h, Wx, Wh, b):
    return jnp.tanh(x @ Wx + h @ Wh + b)


# op: (function, input names, names of the differentiated inputs, attribute names)
OPS = {
    "sigmoid": (sigmoid, ["a"], ["a"], []),
    "tanh": (tanh, ["a"], ["a"], []),
    "dropout": (dropout, ["x", "mask"], ["x"], ["p"]),
    "softmax_xent": (softmax_xent, ["z", "labels"], ["z"], []),
    "hinge": (hinge, ["z", "labels"], ["z"], []),
    "batchnorm": (batchnorm, ["x", "gamma", "beta"], ["x", "gamma", "beta"], ["eps"]),
    "layernorm": (layernorm, ["x", "gamma", "beta"], ["x", "gamma", "beta"], ["eps"]),
    "conv2d": (conv2d, ["x", "w", "b"], ["x", "w", "b"], ["stride", "pad"]),
    "maxpool2d": (maxpool2d, ["x"], ["x"], ["pool", "stride"]),
    "embedding": (embedding, ["W", "idx"], ["W"], []),
    "rnn_step": (rnn_step, ["x", "h", "Wx", "Wh", "b"], ["x", "h", "Wx", "Wh", "b"], []),
}
INTEGER_INPUTS = {"labels", "idx"}


# --- Independent checks of the definitions above ----------------------------------------------


def conv2d_loops(x, w, b, stride, pad):
    n, c, hgt, wid = x.shape
    f, _, hh, ww = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho, wo = 1 + (hgt + 2 * pad - hh) // stride, 1 + (wid + 2 * pad - ww) // stride
    out = np.zeros((n, f, ho, wo))
    for i_n in range(n):
        for i_f in range(f):
            for i in range(ho):
                for j in range(wo):
                    win = xp[i_n, :, i * stride : i * stride + hh, j * stride : j * stride + ww]
                    out[i_n, i_f, i, j] = b[i_f] + np.sum(win * w[i_f])
    return out


def pool_windows(x, pool, stride):
    """Every window as (n, c, i, j, values) for maxpool2d's plain-loop check and tie test."""
    n, c, hgt, wid = x.shape
    ho, wo = 1 + (hgt - pool) // stride, 1 + (wid - pool) // stride
    for i_n in range(n):
        for i_c in range(c):
            for i in range(ho):
                for j in range(wo):
                    win = x[i_n, i_c, i * stride : i * stride + pool, j * stride : j * stride + pool]
                    yield i_n, i_c, i, j, win


def maxpool2d_loops(x, pool, stride):
    n, c, hgt, wid = x.shape
    out = np.zeros((n, c, 1 + (hgt - pool) // stride, 1 + (wid - pool) // stride))
    for i_n, i_c, i, j, win in pool_windows(x, pool, stride):
        out[i_n, i_c, i, j] = win.max()
    return out


def check_central_differences(rng, fn, inputs, wrt, grad_out, grads, step=1e-6):
    """<grad_out, (f(x + s v) - f(x - s v)) / 2s> against <grads, v>, along random v."""
    for _ in range(3):
        dirs = {k: rng.standard_normal(np.shape(inputs[k])) for k in wrt}
        plus = dict(inputs, **{k: inputs[k] + step * dirs[k] for k in wrt})
        minus = dict(inputs, **{k: inputs[k] - step * dirs[k] for k in wrt})
        fd = np.sum(np.asarray(grad_out) * (np.asarray(fn(**plus)) - np.asarray(fn(**minus))))
        fd /= 2 * step
        ad = sum(np.sum(np.asarray(grads[k]) * dirs[k]) for k in wrt)
        assert abs(fd - ad) <= 1e-6 * max(1.0, abs(ad)), (fn.__name__, fd, ad)


# --- The cases --------------------------------------------------------------------------------


class Case:
    def __init__(self, op, name, inputs, attrs, grad_out, note):
        self.op, self.name, self.note = op, name, note
        self.inputs, self.attrs, self.grad_out = inputs, attrs, grad_out


def draw_cases(rng):
    cases = []

    def add(op, inputs, attrs=None, grad_out=None, note=""):
        name = f"{op}_{sum(c.op == op for c in cases) + 1}"
        cases.append(Case(op, name, inputs, attrs or {}, grad_out, note))

    def normal(*shape, scale=1.0):
        return scale * rng.standard_normal(shape)

    def cot(*shape):
        return rng.standard_normal(shape)

    # Elementwise. |a| stays below 4: there h(1 - h) and 1 - h^2 (the derivative from the output)
    # lose at most ~1e-14 to cancellation.
    for op in ["sigmoid", "tanh"]:
        add(op, {"a": normal(1, 3)}, grad_out=cot(1, 3), note="B = 1")
        add(op, {"a": normal(4, 5)}, grad_out=cot(4, 5), note="B = 4, non-square")
        add(op, {"a": rng.uniform(-4, 4, (3, 2))}, grad_out=cot(3, 2), note="|a| up to 4")

    # dropout: the mask is given, 0 and 1.
    add("dropout", {"x": normal(1, 6), "mask": np.ones((1, 6))}, {"p": 0.0},
        cot(1, 6), "p = 0, mask all ones, B = 1")
    add("dropout", {"x": normal(4, 5), "mask": rng.integers(0, 2, (4, 5)).astype(float)},
        {"p": 0.5}, cot(4, 5), "p = 0.5, random mask")
    add("dropout", {"x": normal(3, 2), "mask": rng.integers(0, 2, (3, 2)).astype(float)},
        {"p": 0.3}, cot(3, 2), "p = 0.3, random mask")
    add("dropout", {"x": normal(2, 3), "mask": np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])},
        {"p": 0.0}, cot(2, 3), "p = 0 with zeros in the mask")

    # softmax_xent
    add("softmax_xent", {"z": normal(1, 4), "labels": np.array([2])}, grad_out=1.0,
        note="B = 1, dL/dL = 1")
    add("softmax_xent", {"z": normal(5, 3, scale=2.0), "labels": np.array([1, 1, 0, 1, 2])},
        grad_out=-0.7, note="repeated labels, dL/dL = -0.7")
    big = rng.uniform(-800.0, 800.0, (3, 4))
    big[0, 0], big[0, 1] = 800.0, -800.0
    big[1] = -800.0 + rng.uniform(0.0, 2.0, 4)  # every logit near -800
    big[2, 2] = 800.0
    big[2, 0] = 799.25
    add("softmax_xent", {"z": big, "labels": np.array([1, 3, 0])}, grad_out=2.5,
        note="logits up to +-800 (loss ~1600 in row 0), dL/dL = 2.5")

    # hinge: no margin z_ij - z_i,y + 1 (j != y) within HINGE_KINK_GAP of 0.
    def hinge_z(b, c, labels, scale):
        while True:
            z = normal(b, c, scale=scale)
            m = z - z[np.arange(b), labels][:, None] + 1.0
            m[np.arange(b), labels] = np.inf
            if np.all(np.abs(m) > HINGE_KINK_GAP):
                return z

    for b, c, labels, g, note in [
        (1, 3, [1], 1.0, "B = 1, dL/dL = 1"),
        (5, 4, [0, 3, 3, 1, 3], -0.7, "repeated labels, dL/dL = -0.7"),
        (4, 6, [5, 2, 0, 2], 2.5, "active and inactive margins, dL/dL = 2.5"),
    ]:
        labels = np.array(labels)
        add("hinge", {"z": hinge_z(b, c, labels, 1.5), "labels": labels}, grad_out=g, note=note)

    # batchnorm (B >= 2) and layernorm (D >= 2); an absent eps is 1e-5.
    add("batchnorm", {"x": normal(2, 3), "gamma": normal(3), "beta": normal(3)}, {},
        cot(2, 3), "B = 2 (the smallest batch), eps absent: 1e-5")
    add("batchnorm", {"x": normal(5, 4, scale=3.0) + 2.0, "gamma": normal(4), "beta": normal(4)},
        {"eps": 1e-5}, cot(5, 4), "B = 5, eps = 1e-5 given, x offset and scaled")
    add("batchnorm", {"x": normal(3, 1), "gamma": normal(1), "beta": normal(1)},
        {"eps": 0.1}, cot(3, 1), "D = 1, eps = 0.1")
    add("layernorm", {"x": normal(1, 4), "gamma": normal(4), "beta": normal(4)}, {},
        cot(1, 4), "B = 1, eps absent: 1e-5")
    add("layernorm", {"x": normal(4, 3), "gamma": normal(3), "beta": normal(3)},
        {"eps": 1e-5}, cot(4, 3), "B = 4, eps = 1e-5 given")
    add("layernorm", {"x": normal(3, 6, scale=3.0) - 1.0, "gamma": normal(6), "beta": normal(6)},
        {"eps": 0.01}, cot(3, 6), "eps = 0.01, x offset and scaled")

    # conv2d: (N, C, H, W, F, HH, WW, stride, pad), each dividing exactly.
    for n, c, hgt, wid, f, hh, ww, stride, pad in [
        (1, 1, 4, 5, 2, 2, 3, 1, 0),
        (2, 2, 5, 5, 3, 3, 3, 2, 1),
        (2, 3, 3, 4, 2, 3, 2, 1, 1),
        (1, 2, 6, 4, 1, 2, 2, 2, 0),
    ]:
        ho, wo = 1 + (hgt + 2 * pad - hh) // stride, 1 + (wid + 2 * pad - ww) // stride
        assert (hgt + 2 * pad - hh) % stride == 0 and (wid + 2 * pad - ww) % stride == 0
        add("conv2d", {"x": normal(n, c, hgt, wid), "w": normal(f, c, hh, ww), "b": normal(f)},
            {"stride": stride, "pad": pad}, cot(n, f, ho, wo),
            f"N={n} C={c} H={hgt} W={wid} F={f} HH={hh} WW={ww}, stride {stride}, pad {pad}")

    # maxpool2d: (N, C, H, W, pool, stride); no window with a near-tie at its max.
    for n, c, hgt, wid, pool, stride, note in [
        (1, 1, 4, 6, 2, 2, "non-overlapping"),
        (2, 2, 5, 4, 3, 1, "overlapping, a shared argmax"),
        (1, 3, 5, 7, 3, 2, "overlapping by one row and column"),
        (2, 1, 3, 4, 2, 1, "overlapping"),
    ]:
        assert (hgt - pool) % stride == 0 and (wid - pool) % stride == 0
        while True:
            x = normal(n, c, hgt, wid)
            if "shared" in note:
                x[0, 1, 2, 1] = 5.0  # the max of every window that holds it: gradients sum
            gaps = [np.diff(np.sort(win, axis=None))[-1] for *_, win in pool_windows(x, pool, stride)]
            if min(gaps) > POOL_TIE_GAP:
                break
        ho, wo = 1 + (hgt - pool) // stride, 1 + (wid - pool) // stride
        add("maxpool2d", {"x": x}, {"pool": pool, "stride": stride}, cot(n, c, ho, wo),
            f"N={n} C={c} H={hgt} W={wid}, pool {pool}, stride {stride}, {note}")

    # embedding
    add("embedding", {"W": normal(4, 3), "idx": np.array([2])}, grad_out=cot(1, 3), note="B = 1")
    add("embedding", {"W": normal(5, 3), "idx": np.array([2, 0, 2, 4, 2, 0])},
        grad_out=cot(6, 3), note="repeated indices (2 three times, 0 twice), rows 1 and 3 unused")
    add("embedding", {"W": normal(3, 4), "idx": np.array([1, 1, 1, 1])},
        grad_out=cot(4, 4), note="one index four times")

    # rnn_step: (B, D, H)
    for b, d, hid in [(1, 3, 2), (4, 2, 3), (3, 5, 4)]:
        add("rnn_step", {"x": normal(b, d), "h": normal(b, hid), "Wx": normal(d, hid, scale=0.7),
                         "Wh": normal(hid, hid, scale=0.7), "b": normal(hid)},
            grad_out=cot(b, hid), note=f"B={b} D={d} H={hid}")
    return cases


def evaluate(rng, case):
    fn, names, wrt, attr_names = OPS[case.op]
    assert list(case.inputs) == names, (case.name, list(case.inputs))
    assert set(case.attrs) <= set(attr_names), case.name
    inputs = {k: (np.asarray(v, dtype=np.int64) if k in INTEGER_INPUTS else np.asarray(v, float))
              for k, v in case.inputs.items()}
    f = lambda **kw: fn(**kw, **case.attrs)  # noqa: E731
    f.__name__ = case.op

    def of_wrt(*diff):
        return f(**dict(inputs, **dict(zip(wrt, diff))))

    output, pullback = jax.vjp(of_wrt, *(inputs[k] for k in wrt))
    grad_out = np.asarray(case.grad_out, dtype=float)
    assert grad_out.shape == output.shape, (case.name, grad_out.shape, output.shape)
    grads = dict(zip(wrt, (np.asarray(g) for g in pullback(jnp.asarray(grad_out)))))
    output = np.asarray(output)
    assert np.all(np.isfinite(output)) and all(np.all(np.isfinite(g)) for g in grads.values())

    # Self-checks of the JAX definitions.
    check_central_differences(rng, f, inputs, wrt, grad_out, grads)
    if case.op == "conv2d":
        loops = conv2d_loops(**inputs, **case.attrs)
        assert np.allclose(loops, output, rtol=1e-13, atol=1e-13), case.name
    if case.op == "maxpool2d":
        assert np.array_equal(maxpool2d_loops(inputs["x"], **case.attrs), output), case.name
    if case.op == "sigmoid":
        a = inputs["a"]
        exact = np.exp(-a) / (1.0 + np.exp(-a)) ** 2
        assert np.allclose(grads["a"], grad_out * exact, rtol=1e-13, atol=0), case.name
    if case.op == "tanh":
        exact = 1.0 / np.cosh(inputs["a"]) ** 2
        assert np.allclose(grads["a"], grad_out * exact, rtol=1e-13, atol=0), case.name
    return output, grads


def to_json(a, integers=False):
    a = np.asarray(a)
    if integers:
        return a.astype(int).tolist()
    return a.astype(float).tolist()  # Python floats: json writes repr, which round-trips


def dumps(value, indent=0):
    """JSON with objects one key a line and every innermost list of numbers on one line."""
    pad, inner = " " * indent, " " * (indent + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{json.dumps(k)}: {dumps(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and any(isinstance(v, (list, dict)) for v in value):
        return "[\n" + ",\n".join(inner + dumps(v, indent + 1) for v in value) + "\n" + pad + "]"
    return json.dumps(value, allow_nan=False)


def main():
    rng = np.random.default_rng(SEED)
    cases = draw_cases(rng)
    check_rng = np.random.default_rng(SEED + 1)  # the self-checks' directions, apart from the draws
    written = []
    for case in cases:
        output, grads = evaluate(check_rng, case)
        written.append({
            "op": case.op,
            "name": case.name,
            "note": case.note,
            "inputs": {k: to_json(v, k in INTEGER_INPUTS) for k, v in case.inputs.items()},
            "attrs": case.attrs,
            "grad_out": to_json(case.grad_out),
            "output": to_json(output),
            "grads": {k: to_json(g) for k, g in grads.items()},
        })
    document = {
        "dtype": "float64",
        "layout": "Every array is lists nested as deep as its rank, row-major (a MATRIX is a list "
                  "of rows, a TENSOR4 N lists of C lists of H rows of W numbers); a scalar is a "
                  "number. labels and idx are lists of integers. Floats are written with Python "
                  "repr (shortest string that round-trips exactly).",
        "definitions": "shared/protocol-ops.md: the op names, input names, attrs and formulas. "
                       "grad_out is dL/d(output) (for softmax_xent and hinge the scalar dL/dL); "
                       "grads holds dL/d(input) for the differentiated inputs only. An attrs "
                       "without eps means eps = 1e-5.",
        "generator": "scripts/golden_course_ops.py (jax.vjp in float64)",
        "seed": SEED,
        "produced_by": {
            "jax": jax.__version__,
            "jaxlib": version("jaxlib"),
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "cases": written,
    }
    OUT.write_text(dumps(document) + "\n")
    counts = {}
    for c in written:
        counts[c["op"]] = counts.get(c["op"], 0) + 1
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes): {len(written)} cases, {counts}")


if __name__ == "__main__":
    main()
