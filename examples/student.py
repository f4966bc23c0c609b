#!/usr/bin/env python3
"""A student's backward functions, checked by `gradverify verify --exec "python3 examples/student.py"`.

The verifier sends one JSON request per line on standard input and reads one answer per line on
standard output (protocol-v1). Matrices are lists of rows; rows are data points. Plain Python, no
NumPy needed: replace the bodies with your own and run the command above.

Beyond the notes' linear, relu, sqerr and mlp, it answers the course's eleven other ops
(shared/protocol-ops.md): sigmoid, tanh, dropout, softmax_xent, hinge, batchnorm, layernorm,
conv2d, maxpool2d, embedding and rnn_step. Images are N×C×H×W lists nested four deep; losses are
means over the batch, and their `grad_out` is the number dL/dL.
"""
import json
import math
import sys


def matmul(a, b):
    return [[sum(a[i][k] * b[k][j] for k in range(len(b))) for j in range(len(b[0]))] for i in range(len(a))]


def transpose(a):
    return [list(col) for col in zip(*a)]


def linear_forward(h, W, b):
    """a = h W + b (Eq. 34a)."""
    return [[v + b[j] for j, v in enumerate(row)] for row in matmul(h, W)]


def linear_backward(grad_a, h, W, b):
    """(dL/dh, dL/dW, dL/db) from dL/da (Eq. 66, 70, 74)."""
    dh = matmul(grad_a, transpose(W))
    dW = matmul(transpose(h), grad_a)
    db = [sum(col) for col in zip(*grad_a)]
    return dh, dW, db


def relu_forward(a):
    return [[max(v, 0.0) for v in row] for row in a]


def relu_backward(grad_h, a):
    """dL/da = Θ(a) ⊙ dL/dh (Eq. 47)."""
    return [[g if v > 0 else 0.0 for g, v in zip(grow, arow)] for grow, arow in zip(grad_h, a)]


def sqerr_backward(grad_loss, f, y):
    """(dL/df, dL/dy) for L = ½ Σ (f − y)² (Eq. 31b)."""
    df = [[grad_loss * (fv - yv) for fv, yv in zip(frow, yrow)] for frow, yrow in zip(f, y)]
    return df, [[-v for v in row] for row in df]


def mlp_backward(x, y, W1, b1, W2, b2, W3, b3):
    """Eq. 33 forward, then Eq. 37 backward."""
    a1 = linear_forward(x, W1, b1)
    h1 = relu_forward(a1)
    a2 = linear_forward(h1, W2, b2)
    h2 = relu_forward(a2)
    f = linear_forward(h2, W3, b3)
    df, _ = sqerr_backward(1.0, f, y)
    dh2, dW3, db3 = linear_backward(df, h2, W3, b3)
    da2 = relu_backward(dh2, a2)
    dh1, dW2, db2 = linear_backward(da2, h1, W2, b2)
    da1 = relu_backward(dh1, a1)
    _, dW1, db1 = linear_backward(da1, x, W1, b1)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "W3": dW3, "b3": db3}


def zeros(*shape):
    """A list of zeros nested as deep as `shape` is long: zeros(2, 3) is a 2×3 matrix."""
    if len(shape) == 1:
        return [0.0] * shape[0]
    return [zeros(*shape[1:]) for _ in range(shape[0])]


def sigmoid(v):
    """σ(v) = 1 / (1 + e^(−v)), written so that e^(…) never overflows."""
    if v >= 0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)
    return e / (1.0 + e)


def sigmoid_backward(grad_h, a):
    """h = σ(a): dL/da = dL/dh ⊙ h ⊙ (1 − h), the derivative taken at the output h = σ(a)."""
    da = []
    for grow, arow in zip(grad_h, a):
        row = []
        for g, v in zip(grow, arow):
            h = sigmoid(v)
            row.append(g * h * (1.0 - h))
        da.append(row)
    return da


def tanh_backward(grad_h, a):
    """h = tanh(a): dL/da = dL/dh ⊙ (1 − h²), the derivative taken at the output h = tanh(a)."""
    da = []
    for grow, arow in zip(grad_h, a):
        row = []
        for g, v in zip(grow, arow):
            h = math.tanh(v)
            row.append(g * (1.0 - h * h))
        da.append(row)
    return da


def dropout_backward(grad_out, mask, p):
    """out = x ⊙ mask / (1 − p) (inverted dropout): dL/dx = dL/dout ⊙ mask / (1 − p)."""
    scale = 1.0 / (1.0 - p)
    return [[g * m * scale for g, m in zip(grow, mrow)] for grow, mrow in zip(grad_out, mask)]


def softmax(row):
    """softmax(z)ⱼ = e^(zⱼ − max z) / Σₖ e^(zₖ − max z): subtracting the max changes nothing but
    keeps e^(…) ≤ 1, so logits of ±800 neither overflow nor give 0/0."""
    top = max(row)
    e = [math.exp(v - top) for v in row]
    total = sum(e)
    return [v / total for v in e]


def softmax_xent_backward(grad_loss, z, labels):
    """L = −(1/B) Σᵢ log softmax(zᵢ)[yᵢ]: dL/dzᵢⱼ = dL/dL · (softmax(zᵢ)ⱼ − [j = yᵢ]) / B."""
    batch = len(z)
    dz = []
    for row, y in zip(z, labels):
        probs = softmax(row)
        probs[int(y)] -= 1.0
        dz.append([grad_loss * v / batch for v in probs])
    return dz


def hinge_backward(grad_loss, z, labels):
    """L = (1/B) Σᵢ Σ_{j≠yᵢ} max(0, mᵢⱼ) with mᵢⱼ = zᵢⱼ − zᵢ,yᵢ + 1. Each active margin (mᵢⱼ > 0)
    adds dL/dL / B to dL/dzᵢⱼ and subtracts it from dL/dzᵢ,yᵢ (z_yᵢ is in every margin of row i)."""
    batch = len(z)
    dz = []
    for row, y in zip(z, labels):
        y = int(y)
        drow = [0.0] * len(row)
        for j, v in enumerate(row):
            if j != y and v - row[y] + 1.0 > 0:
                drow[j] += grad_loss / batch
                drow[y] -= grad_loss / batch
        dz.append(drow)
    return dz


def normalize_backward(dxhat, values, eps):
    """The gradient through x̂ = (x − μ) / √(σ² + ε) for one group of n values (μ, σ² their mean and
    biased variance): dL/dx = 1/(n √(σ² + ε)) · (n dL/dx̂ − Σ dL/dx̂ − x̂ ⊙ Σ (dL/dx̂ ⊙ x̂)).
    Returns (dL/dx, x̂)."""
    n = len(values)
    mu = sum(values) / n
    var = sum((v - mu) ** 2 for v in values) / n
    istd = 1.0 / math.sqrt(var + eps)
    xhat = [(v - mu) * istd for v in values]
    sum_d = sum(dxhat)
    sum_dx = sum(d * xh for d, xh in zip(dxhat, xhat))
    dx = [istd / n * (n * d - sum_d - xh * sum_dx) for d, xh in zip(dxhat, xhat)]
    return dx, xhat


def batchnorm_backward(grad_out, x, gamma, eps):
    """out = γ ⊙ x̂ + β with x̂ normalised per column j over the batch (μⱼ, biased σⱼ²):
    dL/dβⱼ = Σᵢ gᵢⱼ, dL/dγⱼ = Σᵢ gᵢⱼ x̂ᵢⱼ, dL/dx per column by normalize_backward with dL/dx̂ = g γⱼ."""
    batch, dim = len(x), len(gamma)
    dx = zeros(batch, dim)
    dgamma, dbeta = [0.0] * dim, [0.0] * dim
    for j in range(dim):
        column = [x[i][j] for i in range(batch)]
        dxhat = [grad_out[i][j] * gamma[j] for i in range(batch)]
        dcol, xhat = normalize_backward(dxhat, column, eps)
        for i in range(batch):
            dx[i][j] = dcol[i]
            dgamma[j] += grad_out[i][j] * xhat[i]
            dbeta[j] += grad_out[i][j]
    return dx, dgamma, dbeta


def layernorm_backward(grad_out, x, gamma, eps):
    """out = γ ⊙ x̂ + β with x̂ normalised per row i over its D features (μᵢ, biased σᵢ²):
    dL/dβⱼ = Σᵢ gᵢⱼ, dL/dγⱼ = Σᵢ gᵢⱼ x̂ᵢⱼ, dL/dx per row by normalize_backward with dL/dx̂ = g γⱼ."""
    dim = len(gamma)
    dx = []
    dgamma, dbeta = [0.0] * dim, [0.0] * dim
    for grow, xrow in zip(grad_out, x):
        dxhat = [grow[j] * gamma[j] for j in range(dim)]
        drow, xhat = normalize_backward(dxhat, xrow, eps)
        dx.append(drow)
        for j in range(dim):
            dgamma[j] += grow[j] * xhat[j]
            dbeta[j] += grow[j]
    return dx, dgamma, dbeta


def conv2d_backward(grad_out, x, w, b, stride, pad):
    """out[n,f,i,j] = b[f] + Σ_{c,p,q} xpad[n, c, i·stride + p, j·stride + q] · w[f,c,p,q]
    (cross-correlation, x zero-padded by `pad`). Every use of a value adds to its gradient:
    dL/db[f] = Σ g[n,f,i,j];  dL/dw[f,c,p,q] = Σ g[n,f,i,j] · xpad[n,c,i·s+p,j·s+q];
    dL/dx[n,c,i·s+p−pad,j·s+q−pad] += g[n,f,i,j] · w[f,c,p,q] (padding positions dropped)."""
    n_img, chans, height, width = len(x), len(x[0]), len(x[0][0]), len(x[0][0][0])
    filters, kh, kw = len(w), len(w[0][0]), len(w[0][0][0])
    dx = zeros(n_img, chans, height, width)
    dw = zeros(filters, chans, kh, kw)
    db = [0.0] * filters
    for n in range(n_img):
        for f in range(filters):
            for i, grow in enumerate(grad_out[n][f]):
                for j, g in enumerate(grow):
                    db[f] += g
                    for c in range(chans):
                        for p in range(kh):
                            r = i * stride + p - pad  # the row of x (outside: padding)
                            if not 0 <= r < height:
                                continue
                            for q in range(kw):
                                s = j * stride + q - pad  # the column of x
                                if 0 <= s < width:
                                    dw[f][c][p][q] += g * x[n][c][r][s]
                                    dx[n][c][r][s] += g * w[f][c][p][q]
    return dx, dw, db


def maxpool2d_backward(grad_out, x, pool, stride):
    """out[n,c,i,j] = max of the pool×pool window at (i·stride, j·stride): the gradient goes to
    the window's largest input only, dL/dx[argmax] += g[n,c,i,j]. Overlapping windows (stride <
    pool) that share a max both add to it."""
    n_img, chans, height, width = len(x), len(x[0]), len(x[0][0]), len(x[0][0][0])
    dx = zeros(n_img, chans, height, width)
    for n in range(n_img):
        for c in range(chans):
            for i, grow in enumerate(grad_out[n][c]):
                for j, g in enumerate(grow):
                    best = (i * stride, j * stride)
                    for r in range(i * stride, i * stride + pool):
                        for s in range(j * stride, j * stride + pool):
                            if x[n][c][r][s] > x[n][c][best[0]][best[1]]:
                                best = (r, s)
                    dx[n][c][best[0]][best[1]] += g
    return dx


def embedding_backward(grad_out, W, idx):
    """out[i] = W[idxᵢ]: dL/dW[v] = Σ_{i : idxᵢ = v} dL/dout[i] (a row used twice gets both
    gradients, Eq. 4–10: fan-out); rows never used get 0."""
    dW = zeros(len(W), len(W[0]))
    for grow, v in zip(grad_out, idx):
        for d, g in enumerate(grow):
            dW[int(v)][d] += g
    return dW


def rnn_step_backward(grad_out, x, h, Wx, Wh, b):
    """h' = tanh(a) with a = x Wx + h Wh + b: dL/da = dL/dh' ⊙ (1 − h'²), then a is two linear
    maps sharing one bias: (dL/dx, dL/dWx, dL/db) and (dL/dh, dL/dWh) by linear_backward."""
    a = [[u + v for u, v in zip(urow, vrow)] for urow, vrow in zip(linear_forward(x, Wx, b), matmul(h, Wh))]
    da = tanh_backward(grad_out, a)
    dx, dWx, db = linear_backward(da, x, Wx, b)
    dh, dWh, _ = linear_backward(da, h, Wh, b)
    return {"x": dx, "h": dh, "Wx": dWx, "Wh": dWh, "b": db}


def answer(request):
    op, inputs = request["op"], request["inputs"]
    attrs = request.get("attrs") or {}
    if op == "linear":
        dh, dW, db = linear_backward(request["grad_out"], inputs["h"], inputs["W"], inputs["b"])
        return {"h": dh, "W": dW, "b": db}
    if op == "relu":
        return {"a": relu_backward(request["grad_out"], inputs["a"])}
    if op == "sqerr":
        df, dy = sqerr_backward(request["grad_out"], inputs["f"], inputs["y"])
        return {"f": df, "y": dy}
    if op == "mlp":
        return mlp_backward(*(inputs[k] for k in ["x", "y", "W1", "b1", "W2", "b2", "W3", "b3"]))
    if op == "sigmoid":
        return {"a": sigmoid_backward(request["grad_out"], inputs["a"])}
    if op == "tanh":
        return {"a": tanh_backward(request["grad_out"], inputs["a"])}
    if op == "dropout":
        return {"x": dropout_backward(request["grad_out"], inputs["mask"], attrs["p"])}
    if op == "softmax_xent":
        return {"z": softmax_xent_backward(request["grad_out"], inputs["z"], inputs["labels"])}
    if op == "hinge":
        return {"z": hinge_backward(request["grad_out"], inputs["z"], inputs["labels"])}
    if op in ("batchnorm", "layernorm"):
        backward = batchnorm_backward if op == "batchnorm" else layernorm_backward
        dx, dgamma, dbeta = backward(request["grad_out"], inputs["x"], inputs["gamma"], attrs.get("eps", 1e-5))
        return {"x": dx, "gamma": dgamma, "beta": dbeta}
    if op == "conv2d":
        dx, dw, db = conv2d_backward(request["grad_out"], inputs["x"], inputs["w"], inputs["b"],
                                     int(attrs["stride"]), int(attrs["pad"]))
        return {"x": dx, "w": dw, "b": db}
    if op == "maxpool2d":
        dx = maxpool2d_backward(request["grad_out"], inputs["x"], int(attrs["pool"]), int(attrs["stride"]))
        return {"x": dx}
    if op == "embedding":
        return {"W": embedding_backward(request["grad_out"], inputs["W"], inputs["idx"])}
    if op == "rnn_step":
        return rnn_step_backward(request["grad_out"], *(inputs[k] for k in ["x", "h", "Wx", "Wh", "b"]))
    return None


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        grads = answer(request)
        if grads is None:
            reply = {"id": request["id"], "error": "unsupported op"}
        else:
            reply = {"id": request["id"], "grads": grads}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
