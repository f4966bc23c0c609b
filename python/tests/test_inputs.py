"""A backward must leave the arrays it is given as they were: each is copied before the call and
compared bit for bit after it, and one that changed is a finding (`mutated_input`), even where
the gradients are right."""

import json
import re

import numpy as np

import gradverify


def relu_backward_in_place(dout, x):
    # CS231n's line: right values, but it zeroes the caller's dout.
    dout[x <= 0] = 0
    return dout


def relu_backward(dout, x):
    dx = dout.copy()
    dx[x <= 0] = 0
    return dx


def test_a_backward_that_writes_into_its_upstream_gradient_fails():
    report = gradverify.check_relu(relu_backward_in_place)
    assert report.verdict == "fail", str(report)
    (finding,) = json.loads(report.to_json())["findings"]
    assert finding["problem"] == {"kind": "mutated_input", "detail": {"argument": "grad_out"}}
    assert finding["diagnosis"]["code"] == "mutated_input"
    text = str(report)
    assert "the call: the backward changed its argument `grad_out` in place" in text, text
    assert "dx = dout.copy()" in text, text
    # A case where every a > 0 masks nothing, so writes nothing: not every case changes dout.
    assert re.search(r"in [1-9][0-9] of 40 cases; smallest: grad_out of shape \(1, 1\)", text), text


def test_a_backward_that_copies_first_passes():
    report = gradverify.check_relu(relu_backward)
    assert report.passed, str(report)


def test_an_input_written_in_place_is_named_in_check_op_too():
    def backward(grad_out, x):
        dx = grad_out * np.cos(x)
        x[...] = 0
        return dx

    report = gradverify.check_op("sin", [(3,)], np.sin, backward, cases=3)
    (finding,) = json.loads(report.to_json())["findings"]
    assert finding["problem"] == {"kind": "mutated_input", "detail": {"argument": "x0"}}, finding


def test_a_networks_parameter_written_in_place_is_named_by_its_key():
    def backprop(x, y, params):
        grads = tuple(np.zeros_like(params[k]) for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
        params["b2"] += 1.0
        return grads

    report = gradverify.check_network(backprop, cases=2)
    arguments = [
        f["problem"]["detail"]["argument"]
        for f in json.loads(report.to_json())["findings"]
        if f["problem"]["kind"] == "mutated_input"
    ]
    assert arguments == ["params['b2']"], str(report)
