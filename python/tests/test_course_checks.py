"""gradverify.check(op, backward): the course's ops by name, called as backward(grad_out, *inputs,
**attrs) in the protocol's order; right NumPy code passes, a student's bug fails with its code."""

import json

import numpy as np
import pytest

import gradverify


def codes(report):
    return {f["diagnosis"]["code"] for f in json.loads(report.to_json())["findings"] if f.get("diagnosis")}


def softmax_xent_backward(grad_loss, z, labels):
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(labels)), labels] -= 1
    return grad_loss * p / len(labels)


def softmax_xent_no_onehot(grad_loss, z, labels):
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return grad_loss * p / p.sum(axis=1, keepdims=True) / len(labels)


def embedding_backward(grad_out, W, idx):
    dW = np.zeros_like(W)
    np.add.at(dW, idx, grad_out)
    return dW


def embedding_fancy_add(grad_out, W, idx):
    dW = np.zeros_like(W)
    dW[idx] += grad_out
    return dW


def dropout_backward(grad_out, x, mask, p):
    return grad_out * mask / (1 - p)


def maxpool_backward(grad_out, x, pool, stride):
    dx = np.zeros_like(x)
    n, c, ho, wo = grad_out.shape
    for i in range(ho):
        for j in range(wo):
            window = x[:, :, i * stride : i * stride + pool, j * stride : j * stride + pool]
            flat = window.reshape(n, c, -1).argmax(axis=2)
            for a in range(n):
                for b in range(c):
                    p, q = divmod(flat[a, b], pool)
                    dx[a, b, i * stride + p, j * stride + q] += grad_out[a, b, i, j]
    return dx


@pytest.mark.parametrize(
    "op, backward",
    [
        ("softmax_xent", softmax_xent_backward),
        ("embedding", embedding_backward),
        ("dropout", dropout_backward),
        ("maxpool2d", maxpool_backward),
    ],
)
def test_right_numpy_code_passes(op, backward):
    report = gradverify.check(op, backward)
    report.assert_correct()
    assert str(report).startswith(f"{op} ({backward.__name__}): pass, 40 random cases")


@pytest.mark.parametrize(
    "op, backward, code",
    [
        ("softmax_xent", softmax_xent_no_onehot, "onehot_missing"),
        ("embedding", embedding_fancy_add, "fanout_overwrite"),
    ],
)
def test_a_students_bug_fails_with_its_code(op, backward, code):
    report = gradverify.check(op, backward)
    assert not report.passed
    assert codes(report) == {code}


def test_labels_arrive_as_integers_and_settings_as_keywords():
    seen = []

    def conv_backward(grad_out, x, w, b, stride, pad):
        seen.append((type(stride), type(pad)))
        return np.zeros_like(x), np.zeros_like(w), np.zeros_like(b)

    def hinge_backward(grad_loss, z, labels):
        seen.append(labels.dtype)
        return np.zeros_like(z)

    assert not gradverify.check("conv2d", conv_backward, cases=6).passed
    assert not gradverify.check("hinge", hinge_backward, cases=6).passed
    assert (int, int) in seen and np.dtype("int64") in seen


def test_an_unknown_op_is_a_value_error_naming_the_ops():
    with pytest.raises(ValueError, match="one of linear, relu, sqerr, mlp, sigmoid"):
        gradverify.check("no_such_op", softmax_xent_backward)
