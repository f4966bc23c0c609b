"""A student's test file with type annotations, calling every public function of gradverify:
pytest runs it as any other, and test_typing.py runs `mypy --strict` on it against the installed
package (its stubs and py.typed)."""

import io
import json

import numpy as np
from numpy.typing import NDArray

import gradverify

Array = NDArray[np.float64]


def linear_backward(grad_a: Array, h: Array, W: Array, b: Array) -> tuple[Array, Array, Array]:
    return grad_a @ W.T, h.T @ grad_a, grad_a.sum(axis=0)


def relu_backward(grad_h: Array, a: Array) -> Array:
    return grad_h * (a > 0)


def sqerr_backward(grad_loss: float, f: Array, y: Array) -> tuple[Array, Array]:
    df = grad_loss * (f - y)
    return df, -df


def backprop(x: Array, y: Array, params: dict[str, Array]) -> dict[str, Array]:
    a1 = x @ params["W1"] + params["b1"]
    h1 = np.maximum(a1, 0)
    a2 = h1 @ params["W2"] + params["b2"]
    h2 = np.maximum(a2, 0)
    df = h2 @ params["W3"] + params["b3"] - y
    dh2, dW3, db3 = linear_backward(df, h2, params["W3"], params["b3"])
    dh1, dW2, db2 = linear_backward(relu_backward(dh2, a2), h1, params["W2"], params["b2"])
    _, dW1, db1 = linear_backward(relu_backward(dh1, a1), x, params["W1"], params["b1"])
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "W3": dW3, "b3": db3}


def softplus(x: Array) -> Array:
    return np.logaddexp(0.0, x)


def softplus_backward(grad_out: Array, x: Array) -> Array:
    return grad_out / (1.0 + np.exp(-x))


def softplus_jvp(tangents: tuple[Array, ...], x: Array) -> Array:
    return tangents[0] / (1.0 + np.exp(-x))


def sigmoid_backward(grad_out: Array, x: Array) -> Array:
    s = 1.0 / (1.0 + np.exp(-x))
    return grad_out * s * (1.0 - s)


def test_the_notes_ops() -> None:
    gradverify.check_linear(linear_backward).assert_correct()
    gradverify.check_relu(relu_backward, cases=10, seed=1).assert_correct()
    gradverify.check_sqerr(sqerr_backward).assert_correct()
    gradverify.check_network(backprop).assert_correct()


def test_an_op_of_my_own_with_options() -> None:
    report = gradverify.check_op(
        "softplus",
        [(3, 4)],
        softplus,
        softplus_backward,
        cases=gradverify.DEFAULT_CASES,
        domains={0: (-3.0, 3.0)},
        rtol=1e-6,
        jvp=softplus_jvp,
        shrinkable=[(0, 0)],
    )
    report.assert_correct()


def test_a_course_op_by_name() -> None:
    gradverify.check("sigmoid", sigmoid_backward).assert_correct()


def test_what_a_report_says() -> None:
    report: gradverify.Report = gradverify.check_relu(lambda grad_h, a: grad_h)
    verdict: str = report.verdict
    assert (report.passed, verdict, report.op) == (False, "fail", "relu")
    assert report.subject == "<lambda>"
    assert json.loads(report.to_json())["verdict"] == "fail"
    assert report._repr_html_().startswith("<div")
    assert gradverify.__version__.count(".") == 2


def test_serve_answers_over_any_text_stream() -> None:
    out = io.StringIO()
    request = {"id": 1, "op": "relu", "inputs": {"a": [[1.0, -1.0]]}, "grad_out": [[2.0, 2.0]]}
    gradverify.serve(relu=relu_backward, stdin=io.StringIO(json.dumps(request) + "\n"), stdout=out)
    assert json.loads(out.getvalue()) == {"id": 1, "grads": {"a": [[2.0, 0.0]]}}
