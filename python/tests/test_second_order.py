"""check_op's second_order= (the backward's own derivative, as gradgradcheck) and aliases= (an
input used twice, as f(x, x))."""

import numpy as np
import pytest

import gradverify


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softplus(x):
    return np.logaddexp(0.0, x)


def softplus_backward(grad_out, x):
    return grad_out * sigmoid(x)


def softplus_second(grad_out, directions, x):
    """d/dt [v · σ(x + t d)] = v · σ(1 − σ) · d."""
    s = sigmoid(x)
    return grad_out * s * (1.0 - s) * directions[0]


def softplus_second_missing_term(grad_out, directions, x):
    """σ' written as σ: the second derivative's (1 − σ) forgotten."""
    return grad_out * sigmoid(x) * directions[0]


def check_softplus(second):
    return gradverify.check_op("softplus", [(3, 4)], softplus, softplus_backward, second_order=second)


def test_a_right_double_backward_passes_and_one_missing_its_term_fails_on_the_second_order():
    check_softplus(softplus_second).assert_correct()
    wrong = check_softplus(softplus_second_missing_term)
    assert wrong.verdict == "fail", str(wrong)
    assert "dL/dx0 (second order): wrong values" in str(wrong), str(wrong)
    assert "dL/dx0: wrong values" not in str(wrong), "the first order is right"


def test_a_second_order_that_raises_is_a_fault_and_one_that_is_not_callable_a_type_error():
    def raising(grad_out, directions, x):
        raise RuntimeError("not written yet")

    report = check_softplus(raising)
    assert report.verdict == "fail" and "not written yet" in str(report), str(report)
    with pytest.raises(TypeError, match="second_order"):
        check_softplus(3)


def maximum_backward(at_a_tie):
    """max's backward giving `at_a_tie` of the upstream gradient to each input where x = y."""

    def backward(grad_out, x, y):
        to_x = np.where(x > y, 1.0, np.where(x < y, 0.0, at_a_tie))
        to_y = np.where(y > x, 1.0, np.where(y < x, 0.0, at_a_tie))
        return grad_out * to_x, grad_out * to_y

    return backward


def test_an_input_used_twice_gets_one_gradient_and_a_tie_given_to_both_fails():
    def check(backward):
        return gradverify.check_op("max", [(6,), (6,)], np.maximum, backward, aliases=((0, 1),))

    # Aliased, every element is a tie: an even split is max's derivative along both at once.
    right = check(maximum_backward(0.5))
    right.assert_correct()
    assert "dL/dx0 (≡ x1): 240 of 240 elements certified" in str(right), str(right)
    wrong = check(maximum_backward(1.0))
    assert wrong.verdict == "fail", str(wrong)
    assert "dL/dx0 (≡ x1): wrong values" in str(wrong), str(wrong)


def test_aliased_inputs_are_one_object_where_they_are_equal():
    seen = []

    def forward(x, y):
        seen.append(x is y)
        return x * y

    def backward(grad_out, x, y):
        return grad_out * y, grad_out * x

    gradverify.check_op("mul", [(3,), (3,)], forward, backward, aliases=((0, 1),)).assert_correct()
    assert any(seen), "the aliased case passes one array for both"
    assert not all(seen), "a step of one input alone passes two arrays"


@pytest.mark.parametrize(
    "aliases, message",
    [
        (((0, 0),), r"aliases has \(0, 0\): an input is always the same array as itself"),
        (((0, 2),), r"aliases names input 2, which does not exist"),
    ],
)
def test_a_bad_alias_is_a_value_error_naming_it(aliases, message):
    with pytest.raises(ValueError, match=message):
        gradverify.check_op("mul", [(3,), (3,)], np.multiply, np.multiply, aliases=aliases)


def test_aliases_of_two_shapes_are_refused():
    with pytest.raises(ValueError, match=r"shapes\[0\] is \[3\] and shapes\[1\] is \[4\]"):
        gradverify.check_op("outer", [(3,), (4,)], np.multiply.outer, np.multiply, aliases=((0, 1),))
