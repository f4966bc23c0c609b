"""serve: protocol-v1 over standard input and output, one flushed answer per request."""

import io
import json
import os
import subprocess
import sys

import pytest

import gradverify
import students

HERE = os.path.dirname(os.path.abspath(__file__))
REQUEST = {
    "id": 7,
    "op": "linear",
    "inputs": {"h": [[1.0, 2.0]], "W": [[1.0, 0.0, -1.0], [2.0, 1.0, 0.5]], "b": [0.0, 0.1, 0.2]},
    "grad_out": [[1.0, -2.0, 0.5]],
}


def test_serve_answers_a_request_over_a_pipe_flushing_it():
    process = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "serve_student.py"), "right"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        process.stdin.write(json.dumps(REQUEST) + "\n")
        process.stdin.flush()
        # The pipe stays open: this answer arrives only if serve flushed it.
        answer = json.loads(process.stdout.readline())
        process.stdin.close()
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert answer["id"] == 7
    assert answer["grads"]["h"] == [[0.5, 0.25]]  # grad_a Wᵀ
    assert answer["grads"]["W"] == [[1.0, -2.0, 0.5], [2.0, -4.0, 1.0]]  # hᵀ grad_a
    assert answer["grads"]["b"] == [1.0, -2.0, 0.5]


def serve_lines(lines, **functions):
    output = io.StringIO()
    gradverify.serve(stdin=io.StringIO("".join(line + "\n" for line in lines)), stdout=output, **functions)
    return [json.loads(line) for line in output.getvalue().splitlines()]


def test_serve_answers_unsupported_ops_and_exceptions_and_goes_on():
    def relu_backward(grad_h, a):
        raise ValueError("relu is hard")

    relu = json.dumps({"id": 1, "op": "relu", "inputs": {"a": [[1.0]]}, "grad_out": [[1.0]]})
    sqerr = json.dumps({"id": 2, "op": "sqerr", "inputs": {"f": [[1.0]], "y": [[0.0]]}, "grad_out": 2.0})
    answers = serve_lines([relu, "", sqerr, json.dumps(REQUEST)], relu=relu_backward, sqerr=students.sqerr_backward)
    assert answers[0]["id"] == 1 and "ValueError: relu is hard" in answers[0]["error"]
    assert answers[1] == {"id": 2, "grads": {"f": [[2.0]], "y": [[-2.0]]}}
    assert answers[2] == {"id": 7, "error": "unsupported op"}


def test_serve_needs_functions():
    with pytest.raises(TypeError, match=r"at least one backward, by its op's name .*; the ops are linear, relu, sqerr, mlp, "):
        gradverify.serve()
    with pytest.raises(TypeError, match="serve got softmax=…, which is not an op of the catalogue; the ops are linear,"):
        gradverify.serve(softmax=students.relu_backward)
    with pytest.raises(TypeError, match="relu must be a function, got an int"):
        gradverify.serve(relu=1)
