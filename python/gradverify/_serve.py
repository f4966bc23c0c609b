"""protocol-v1 for NumPy functions: the JSON Lines loop that ``gradverify verify --exec`` drives.

``serve(linear=..., relu=..., sqerr=..., mlp=...)`` reads one request per line, calls the function
for its op with NumPy arrays (the same signatures as the ``check_*`` functions), and writes one
answer per line, flushed at once: an unflushed answer sits in the pipe's buffer and the verifier
times out. An op without a function is answered "unsupported op"; an exception in a function is
answered with its traceback as the error, and the loop goes on.
"""

import json
import sys
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TextIO

import numpy as np

from ._types import Array, Backprop, LinearBackward, ReluBackward, SqerrBackward

# The network's parameters, in Eq. 35's order.
PARAMS = ("W1", "b1", "W2", "b2", "W3", "b3")


def serve(
    *,
    linear: LinearBackward | None = None,
    relu: ReluBackward | None = None,
    sqerr: SqerrBackward | None = None,
    mlp: Backprop | None = None,
    stdin: Iterable[str] | None = None,
    stdout: TextIO | None = None,
) -> None:
    """Answers protocol-v1 requests from ``stdin`` (default: ``sys.stdin``) on ``stdout``
    (default: ``sys.stdout``) until ``stdin`` ends."""
    functions: dict[str, Callable[..., Any] | None] = {
        "linear": linear,
        "relu": relu,
        "sqerr": sqerr,
        "mlp": mlp,
    }
    for op, function in functions.items():
        if function is not None and not callable(function):
            raise TypeError(f"{op} must be a function, got {type(function).__name__}")
    if all(function is None for function in functions.values()):
        raise TypeError("serve needs at least one of linear, relu, sqerr, mlp")
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    for line in stdin:
        if not line.strip():
            continue
        stdout.write(json.dumps(_answer(line, functions)) + "\n")
        stdout.flush()


def _answer(line: str, functions: Mapping[str, Callable[..., Any] | None]) -> dict[str, Any]:
    """One request's answer: its gradients, or an error."""
    try:
        request = json.loads(line)
    except json.JSONDecodeError as error:
        return {"id": None, "error": f"the request is not JSON: {error}"}
    op = request.get("op")
    function = functions.get(op)
    if function is None:
        return {"id": request.get("id"), "error": "unsupported op"}
    try:
        grads = _CALLS[op](function, request["inputs"], request.get("grad_out"))
    except Exception:
        return {"id": request.get("id"), "error": traceback.format_exc()}
    return {"id": request.get("id"), "grads": grads}


# One request's inputs and upstream gradient, as JSON gives them, to its answer's grads.
Call = Callable[[Any, dict[str, Any], Any], dict[str, Any]]


def _array(value: Any) -> Array:
    return np.asarray(value, dtype=np.float64)


def _list(value: Any) -> Any:
    return np.asarray(value, dtype=np.float64).tolist()


def _linear(function: LinearBackward, inputs: dict[str, Any], grad_out: Any) -> dict[str, Any]:
    dh, dW, db = function(_array(grad_out), _array(inputs["h"]), _array(inputs["W"]), _array(inputs["b"]))
    return {"h": _list(dh), "W": _list(dW), "b": _list(db)}


def _relu(function: ReluBackward, inputs: dict[str, Any], grad_out: Any) -> dict[str, Any]:
    return {"a": _list(function(_array(grad_out), _array(inputs["a"])))}


def _sqerr(function: SqerrBackward, inputs: dict[str, Any], grad_out: Any) -> dict[str, Any]:
    df, dy = function(float(grad_out), _array(inputs["f"]), _array(inputs["y"]))
    return {"f": _list(df), "y": _list(dy)}


def _mlp(function: Backprop, inputs: dict[str, Any], _grad_out: Any) -> dict[str, Any]:
    params = {name: _array(inputs[name]) for name in PARAMS}
    grads = function(_array(inputs["x"]), _array(inputs["y"]), params)
    if isinstance(grads, dict):
        return {name: _list(grads[name]) for name in PARAMS}
    return {name: _list(g) for name, g in zip(PARAMS, grads, strict=True)}


_CALLS: dict[str, Call] = {"linear": _linear, "relu": _relu, "sqerr": _sqerr, "mlp": _mlp}
