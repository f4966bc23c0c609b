"""check_op: gradcheck for any NumPy function, against finite differences of its own forward."""

import numpy as np
import pytest

import gradverify


def softplus(x):
    return np.logaddexp(0.0, x)


def softplus_backward(grad_out, x):
    """d softplus / dx is the logistic function."""
    return grad_out / (1.0 + np.exp(-x))


def softplus_backward_wrong(grad_out, x):
    """Bug: the derivative of ln(1 + eˣ) taken as 1 / (1 + eˣ)."""
    return grad_out / (1.0 + np.exp(x))


def test_the_right_softplus_derivative_passes():
    report = gradverify.check_op("softplus", [(3, 4)], softplus, softplus_backward)
    report.assert_correct()
    assert str(report).startswith("softplus (your forward and backward): pass, 40 random cases")


def test_a_wrong_softplus_derivative_fails():
    report = gradverify.check_op("softplus", [(3, 4)], softplus, softplus_backward_wrong)
    assert report.verdict == "fail"
    assert "dL/dx0: wrong values" in str(report)


def test_two_inputs_take_a_tuple_of_gradients():
    def forward(a, b):
        return a * b

    def backward(g, a, b):
        return g * b, g * a

    def backward_swapped(g, a, b):
        return g * a, g * b

    gradverify.check_op("mul", [(2, 3), (2, 3)], forward, backward).assert_correct()
    report = gradverify.check_op("mul", [(2, 3), (2, 3)], forward, backward_swapped, cases=5)
    assert not report.passed


def test_a_scalar_output_is_checked():
    def forward(x):
        return np.sum(x**2)

    def backward(g, x):
        return 2.0 * g * x

    gradverify.check_op("sumsq", [(5,)], forward, backward, cases=5, seed=3).assert_correct()


def test_a_raising_forward_is_reported_with_its_traceback():
    def forward(x):
        raise RuntimeError("forward not written")

    report = gradverify.check_op("todo", [(2,)], forward, softplus_backward, cases=2)
    assert not report.passed
    assert "raised RuntimeError: forward not written" in str(report)
    assert "Traceback" in str(report)


def test_bad_shapes_are_a_value_error_naming_the_shape():
    with pytest.raises(ValueError, match="shapes is empty"):
        gradverify.check_op("softplus", [], softplus, softplus_backward)
    with pytest.raises(ValueError, match=r"shapes\[1\] is \[3, 0\]"):
        gradverify.check_op("mul", [(3,), (3, 0)], softplus, softplus_backward)
    with pytest.raises(ValueError, match=r"shapes\[0\] is \[-2\]"):
        gradverify.check_op("softplus", [(-2,)], softplus, softplus_backward)
    with pytest.raises(TypeError, match="forward must be a function"):
        gradverify.check_op("softplus", [(2,)], None, softplus_backward)
