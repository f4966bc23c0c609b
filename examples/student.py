#!/usr/bin/env python3
"""A student's backward functions, checked by `gradverify verify --exec "python3 examples/student.py"`.

The verifier sends one JSON request per line on standard input and reads one answer per line on
standard output (protocol-v1). Matrices are lists of rows; rows are data points. Plain Python, no
NumPy needed: replace the bodies with your own and run the command above.
"""
import json
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


def answer(request):
    op, inputs = request["op"], request["inputs"]
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
