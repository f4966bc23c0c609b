"""A correct protocol-v1 student in plain Python (no NumPy), for the test programs beside it.

Each program in this folder subclasses `Backprop`, replaces the one function that carries its bug
(or its harmless variation), and calls `serve`. Matrices are lists of rows, rows are data points.
The right backward passes, in the notes' numbering: sqerr dL/df = f − y (Eq. 31b), linear
dL/dh = dL/da Wᵀ, dL/dW = hᵀ dL/da, dL/db = Σ_rows dL/da (Eq. 66, 70, 74), relu
dL/da = Θ(a) ⊙ dL/dh (Eq. 47), the network Eq. 33 forward and Eq. 37 backward.
"""
import json
import sys


def matmul(a, b):
    return [[sum(a[i][k] * b[k][j] for k in range(len(b))) for j in range(len(b[0]))] for i in range(len(a))]


def transpose(a):
    return [list(col) for col in zip(*a)]


def negate(a):
    return [[-v for v in row] for row in a]


class Backprop:
    """The right backward of every op; a test program overrides one method."""

    def linear_forward(self, h, W, b):
        """a = h W + b (Eq. 34a)."""
        return [[v + b[j] for j, v in enumerate(row)] for row in matmul(h, W)]

    def linear_backward(self, g, h, W, b):
        """(dL/dh, dL/dW, dL/db) from dL/da (Eq. 66, 70, 74)."""
        return matmul(g, transpose(W)), matmul(transpose(h), g), [sum(col) for col in zip(*g)]

    def relu_forward(self, a):
        return [[max(v, 0.0) for v in row] for row in a]

    def relu_backward(self, g, a):
        """dL/da = Θ(a) ⊙ dL/dh (Eq. 47)."""
        return [[gv if av > 0 else 0.0 for gv, av in zip(grow, arow)] for grow, arow in zip(g, a)]

    def sqerr_backward(self, grad_loss, f, y):
        """(dL/df, dL/dy) for L = ½ Σ (f − y)² (Eq. 31b)."""
        df = [[grad_loss * (fv - yv) for fv, yv in zip(frow, yrow)] for frow, yrow in zip(f, y)]
        return df, negate(df)

    def mlp_backward(self, x, y, W1, b1, W2, b2, W3, b3):
        """Eq. 33 forward, then Eq. 37 backward through this object's own ops."""
        a1 = self.linear_forward(x, W1, b1)
        h1 = self.relu_forward(a1)
        a2 = self.linear_forward(h1, W2, b2)
        h2 = self.relu_forward(a2)
        f = self.linear_forward(h2, W3, b3)
        df, _ = self.sqerr_backward(1.0, f, y)
        dh2, dW3, db3 = self.linear_backward(df, h2, W3, b3)
        da2 = self.relu_backward(dh2, a2)
        dh1, dW2, db2 = self.linear_backward(da2, h1, W2, b2)
        da1 = self.relu_backward(dh1, a1)
        _, dW1, db1 = self.linear_backward(da1, x, W1, b1)
        return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "W3": dW3, "b3": db3}

    def answer(self, request):
        op, inputs = request["op"], request["inputs"]
        if op == "linear":
            dh, dW, db = self.linear_backward(request["grad_out"], inputs["h"], inputs["W"], inputs["b"])
            return {"h": dh, "W": dW, "b": db}
        if op == "relu":
            return {"a": self.relu_backward(request["grad_out"], inputs["a"])}
        if op == "sqerr":
            df, dy = self.sqerr_backward(request["grad_out"], inputs["f"], inputs["y"])
            return {"f": df, "y": dy}
        if op == "mlp":
            return self.mlp_backward(*(inputs[k] for k in ["x", "y", "W1", "b1", "W2", "b2", "W3", "b3"]))
        return None


def serve(student, flush=True):
    """Answers protocol-v1 requests on standard input until it closes, one line each."""
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        grads = student.answer(request)
        if grads is None:
            reply = {"id": request["id"], "error": "unsupported op"}
        else:
            reply = {"id": request["id"], "grads": grads}
        print(json.dumps(reply), flush=flush)
