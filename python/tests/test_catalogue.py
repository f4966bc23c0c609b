"""Every op of the catalogue has its Python check, generated from the op's spec (_checks.py is
what ``checks_source()`` writes), called as the spec says, and ``serve`` answers every op through
the crate's protocol code."""

import io
import json
import os

import numpy as np

import gradverify
from gradverify import _native

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKS = os.path.join(HERE, "..", "gradverify", "_checks.py")


def test_every_op_of_the_catalogue_has_its_check():
    assert len(gradverify.OPS) >= 15 and {"linear", "mlp", "conv2d", "rnn_step"} <= set(gradverify.OPS)
    star = {}
    exec("from gradverify import *", star)
    for op in gradverify.OPS:
        check = getattr(gradverify, f"check_{op}")
        assert callable(check) and star[f"check_{op}"] is check, op
        assert f'check("{op}",' in check.__doc__, check.__doc__
    assert gradverify.check_network is gradverify.check_mlp


def test_the_checks_are_generated_from_the_specs():
    with open(CHECKS, encoding="utf-8") as f:
        committed = f.read()
    assert committed == _native.checks_source(), "regenerate python/gradverify/_checks.py (see its docstring)"


def test_a_check_says_its_ops_arguments_and_keywords():
    doc = gradverify.check_conv2d.__doc__
    assert "backward(grad_out, x, w, b, *, stride, pad) -> (dL/dx, dL/dw, dL/db)" in doc, doc
    assert "x [N, C, H, W]" in doc and "``stride`` (an int" in doc, doc
    doc = gradverify.check_mlp.__doc__
    assert "backprop(x, y, params)" in doc and "params {W1 [D0, D1]" in doc, doc


def test_every_check_calls_its_op_and_reports_what_the_function_raised():
    for op in gradverify.OPS:
        calls = []

        def backward(*args, **kwargs):
            calls.append((args, kwargs))
            raise NotImplementedError(op)

        report = getattr(gradverify, f"check_{op}")(backward, cases=1)
        assert report.op == op and report.verdict == "fail", str(report)
        (finding,) = json.loads(report.to_json())["findings"]
        assert finding["problem"]["detail"]["kind"] == "raised", finding
        assert f"your function raised NotImplementedError: {op}" in str(report)
        args, kwargs = calls[0]
        spec_attrs = {"conv2d": {"stride", "pad"}, "maxpool2d": {"pool", "stride"}}
        if op in spec_attrs:
            assert set(kwargs) == spec_attrs[op], kwargs
        if op == "mlp":
            x, y, params = args
            assert sorted(params) == ["W1", "W2", "W3", "b1", "b2", "b3"]
        assert all(isinstance(a, (float, np.ndarray, dict)) for a in args), args


def sigmoid_backward(grad_out, a):
    s = 1 / (1 + np.exp(-a))
    return grad_out * s * (1 - s)


def test_a_course_ops_generated_check_passes_right_code_and_fails_a_bug():
    assert gradverify.check_sigmoid(sigmoid_backward).passed
    wrong = gradverify.check_sigmoid(lambda grad_out, a: -sigmoid_backward(grad_out, a))
    assert wrong.verdict == "fail" and "[sign]" in str(wrong), str(wrong)


def test_serve_answers_any_op_of_the_catalogue():
    request = {"id": 3, "op": "sigmoid", "inputs": {"a": [[0.0, 1.0]]}, "grad_out": [[4.0, 1.0]]}
    out = io.StringIO()
    gradverify.serve(sigmoid=sigmoid_backward, stdin=io.StringIO(json.dumps(request) + "\n"), stdout=out)
    answer = json.loads(out.getvalue())
    assert answer["id"] == 3 and list(answer["grads"]) == ["a"]
    assert np.allclose(answer["grads"]["a"], sigmoid_backward(np.array([[4.0, 1.0]]), np.array([[0.0, 1.0]])))
