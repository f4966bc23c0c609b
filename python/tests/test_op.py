"""check_op: gradcheck for any NumPy function, against finite differences of its own forward."""

import json

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


# The options of the Rust OpCheck, as keywords: each lets a right implementation pass where the
# defaults cannot judge it, and never lets a wrong one through.


def log10_backward(grad_out, x):
    return grad_out / (x * np.log(10.0))


def ln_backward_for_log10(grad_out, x):
    """Bug: the derivative of ln, off from log10's by the factor ln 10."""
    return grad_out / x


def sqrt_backward(grad_out, x):
    return grad_out * 0.5 / np.sqrt(x)


def test_a_domain_makes_log10_and_sqrt_checkable():
    # At standard-normal inputs log10 is NaN for the negative ones: nothing can be judged.
    with np.errstate(invalid="ignore", divide="ignore"):
        unchecked = gradverify.check_op("log10", [(3, 4)], np.log10, log10_backward)
    assert unchecked.verdict == "inconclusive"
    for domain in [(0.1, 10.0), "positive", [1e-6, 1e-3]]:
        right = gradverify.check_op("log10", [(3, 4)], np.log10, log10_backward, domains={0: domain})
        right.assert_correct()
        wrong = gradverify.check_op(
            "log10", [(3, 4)], np.log10, ln_backward_for_log10, domains={0: domain}
        )
        assert wrong.verdict == "fail", f"{domain}: {wrong}"
        assert "dL/dx0: wrong values" in str(wrong)
    gradverify.check_op(
        "sqrt", [(3, 4)], np.sqrt, sqrt_backward, domains={0: "positive"}
    ).assert_correct()


def test_explicit_points_are_the_cases_even_next_to_the_bound():
    points = [
        (np.array([[1e-9, 0.5], [2.0, 100.0]]),),
        ([[3.0, 1e-3], [7.0, 0.25]],),
    ]

    def at(forward, backward):
        return gradverify.check_op(
            "at points", [(2, 2)], forward, backward, domains={0: "positive"}, points=points
        )

    report = at(np.sqrt, sqrt_backward)
    report.assert_correct()
    assert json.loads(report.to_json())["cases"] == 2, str(report)
    assert json.loads(report.to_json())["given_points"] is True
    assert "pass, 2 given points" in str(report), str(report)
    assert "dL/dx0: 8 of 8" in str(report)
    at(np.log10, log10_backward).assert_correct()
    assert at(np.log10, ln_backward_for_log10).verdict == "fail"


def sin_backward_off(grad_out, x):
    """The derivative 1e-4 too large, relative."""
    return grad_out * np.cos(x) * (1.0 + 1e-4)


def test_rtol_separates_a_vjp_1e_4_off():
    assert gradverify.check_op("sin", [(3, 4)], np.sin, sin_backward_off).verdict == "fail"
    tight = gradverify.check_op("sin", [(3, 4)], np.sin, sin_backward_off, rtol=1e-5)
    assert tight.verdict == "fail"
    gradverify.check_op("sin", [(3, 4)], np.sin, sin_backward_off, rtol=1e-3).assert_correct()
    # atol only excuses: every element excused, none certified, is not a pass.
    excused = gradverify.check_op("sin", [(3, 4)], np.sin, sin_backward_off, atol=10.0)
    assert excused.verdict == "inconclusive", str(excused)


def masked(x, mask):
    return x * (mask > 0)


def masked_backward(grad_out, x, mask):
    """The mask's own "gradient" is whatever the backward likes: here the mask itself."""
    return grad_out * (mask > 0), (mask > 0).astype(float)


def test_a_mask_input_is_not_differentiated_with_no_grad():
    shapes = [(3, 4), (3, 4)]
    report = gradverify.check_op("masked", shapes, masked, masked_backward, no_grad=(1,))
    report.assert_correct()
    assert "dL/dx1: not compared (no_grad)" in str(report)
    differentiated = gradverify.check_op("masked", shapes, masked, masked_backward)
    assert differentiated.verdict == "fail"

    def wrong(grad_out, x, mask):
        return grad_out, mask

    assert gradverify.check_op("masked", shapes, masked, wrong, no_grad=[1]).verdict == "fail"


def product(x, y):
    return x * y


def product_backward(grad_out, x, y):
    return grad_out * y, grad_out * x


def test_a_right_jvp_for_x_times_y_passes_and_a_wrong_one_fails():
    def jvp(tangents, x, y):
        u, w = tangents
        return u * y + x * w

    def jvp_forgets_y(tangents, x, y):
        return tangents[0] * y

    shapes = [(3, 4), (3, 4)]
    report = gradverify.check_op("x*y", shapes, product, product_backward, jvp=jvp)
    report.assert_correct()
    assert "jvp (J u, forward mode): 480 of 480" in str(report)
    wrong = gradverify.check_op("x*y", shapes, product, product_backward, jvp=jvp_forgets_y)
    assert wrong.verdict == "fail"
    assert "dL/djvp: wrong values" in str(wrong)
    assert "dot-product test" in str(wrong)


def test_a_raising_jvp_is_reported_with_its_traceback():
    def jvp(tangents, x, y):
        raise NotImplementedError("forward mode not written")

    report = gradverify.check_op(
        "x*y", [(2,), (2,)], product, product_backward, jvp=jvp, cases=2
    )
    assert not report.passed
    assert "raised NotImplementedError: forward mode not written" in str(report)
    assert "Traceback" in str(report)


def test_fast_mode_passes_the_right_vjp_and_catches_one_badly_wrong_element():
    def right(grad_out, x):
        return grad_out * np.cos(x)

    def one_wrong(grad_out, x):
        grad = grad_out * np.cos(x)
        grad[1, 2] += 10.0 * max(abs(grad_out[1, 2]), 0.1)
        return grad

    report = gradverify.check_op("sin", [(3, 4)], np.sin, right, fast=True)
    report.assert_correct()
    assert "dL/dx0: 40 of 40 projections certified" in str(report)
    wrong = gradverify.check_op("sin", [(3, 4)], np.sin, one_wrong, fast=True)
    assert wrong.verdict == "fail"
    assert "in 40 of 40 cases" in str(wrong), str(wrong)


def test_nondet_tol_allows_a_reductions_jitter():
    calls = []

    def forward(x):
        return x.sum(axis=1) ** 2

    def jittery(grad_out, x):
        calls.append(None)
        jitter = 1.0 + 1e-11 * (len(calls) % 2)
        return np.broadcast_to((grad_out * 2.0 * x.sum(axis=1) * jitter)[:, None], x.shape).copy()

    assert gradverify.check_op("jittery", [(3, 4)], forward, jittery).verdict == "fail"
    gradverify.check_op("jittery", [(3, 4)], forward, jittery, nondet_tol=1e-9).assert_correct()


def test_a_bug_is_shrunk_along_a_shrinkable_axis():
    def forward(x, y):
        return x * y**2

    def swapped(grad_out, x, y):
        return grad_out * 2.0 * x * y, grad_out * y**2

    report = gradverify.check_op(
        "x*y^2", [(6, 3), (6, 3)], forward, swapped, shrinkable=((0, 0), (1, 0))
    )
    assert report.verdict == "fail"
    assert "smallest: [1, 3], [1, 3]" in str(report)
    assert "smallest: [6, 3], [6, 3]" in str(
        gradverify.check_op("x*y^2", [(6, 3), (6, 3)], forward, swapped)
    )


@pytest.mark.parametrize(
    "options, message",
    [
        ({"rtol": -1.0}, r"rtol is -1: expected a finite value ≥ 0"),
        ({"atol": float("nan")}, r"atol is NaN: expected a finite value ≥ 0"),
        ({"eps": 0.0}, r"eps is 0: expected a finite value > 0"),
        ({"nondet_tol": float("inf")}, r"nondet_tol is inf"),
        ({"domains": {0: "negative"}}, r"domains\[0\] is 'negative': expected \"positive\", \(a, b\)"),
        ({"domains": {1: {"labels": 0}}}, r"domains\[1\] is \{'labels': 0\}: expected .*C ≥ 1"),
        ({"domains": {1: {"classes": 3}}}, r"domains\[1\] is \{'classes': 3\}"),
        ({"domains": {0: (2.0, 1.0)}}, r"domains\[0\] is \(2.0, 1.0\)"),
        ({"domains": {2: "positive"}}, r"domains names input 2, which does not exist: the op has 2 inputs"),
        ({"domains": ["positive"]}, r"domains is a list of 1 items: expected a dict"),
        ({"no_grad": (0, 1)}, r"no_grad is \[0, 1\]: every input is no_grad"),
        ({"no_grad": (-1,)}, r"no_grad names input -1"),
        ({"shrinkable": ((0, 2),)}, r"shrinkable has \(0, 2\): input 0 has 2 axes"),
        ({"points": []}, r"points is empty"),
        ({"points": [np.ones((3, 4))]}, r"points\[0\] is a ndarray: expected a tuple of 2 arrays"),
        ({"points": [(np.ones((3, 4)), np.ones(4))]}, r"points\[0\]\[1\] has shape \[4\]: expected \[3, 4\]"),
        (
            {"points": [(np.ones((3, 4)), -np.ones((3, 4)))], "domains": {1: "positive"}},
            r"points\[0\]\[1\]\[0, 0\] is -1: expected a finite value in x > 0",
        ),
        ({"cases": 0}, r"cases must be at least 1"),
    ],
)
def test_a_bad_option_value_is_a_value_error_naming_it(options, message):
    def never(*args):
        raise AssertionError("not called: the options are checked first")

    with pytest.raises(ValueError, match=message):
        gradverify.check_op("x*y", [(3, 4), (3, 4)], never, never, **options)


def test_an_unknown_option_is_a_type_error():
    with pytest.raises(TypeError, match="tolerance"):
        gradverify.check_op("sin", [(3,)], np.sin, np.cos, tolerance=1e-3)
    with pytest.raises(TypeError, match="jvp must be a function"):
        gradverify.check_op("sin", [(3,)], np.sin, np.cos, jvp=3)


def cross_entropy(z, y):
    """-log softmax(z)[y] per row; a label that is not a class is refused, so a step is seen."""
    assert np.all(y == np.round(y)) and np.all((0 <= y) & (y < z.shape[1])), y
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(y)), y.astype(int)]


def cross_entropy_backward(shift):
    def backward(grad_out, z, y):
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(len(y)), (y.astype(int) + shift) % z.shape[1]] -= 1.0
        return grad_out[:, None] * p, np.zeros_like(y)

    return backward


def test_label_targets_are_drawn_as_classes_never_stepped_and_a_misread_label_fails():
    def check(shift):
        return gradverify.check_op(
            "cross_entropy", [(5, 4), (5,)], cross_entropy, cross_entropy_backward(shift),
            domains={1: {"labels": 4}},
        )

    right = check(0)
    right.assert_correct()
    assert "dL/dx1: not compared" in str(right), str(right)
    wrong = check(1)
    assert wrong.verdict == "fail", str(wrong)
    assert "dL/dx0: wrong values" in str(wrong), str(wrong)


def row_softmax(x):
    """A softmax along the last axis: one point, or a stack of points along a first axis."""
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def row_softmax_backward(grad_out, x):
    s = row_softmax(x)
    return s * (grad_out - (s * grad_out).sum(axis=-1, keepdims=True))


class Calls:
    """A forward that keeps the leading dimension of every input it is given."""

    def __init__(self, forward):
        self.forward, self.leading = forward, []

    def __call__(self, x):
        self.leading.append(x.shape[0] if x.ndim == 3 else None)
        return self.forward(x)


def test_a_vectorized_forward_is_called_on_stacks_of_points_with_the_same_verdicts():
    one_by_one, stacks = Calls(row_softmax), Calls(row_softmax)
    plain = gradverify.check_op("softmax", [(4, 6)], one_by_one, row_softmax_backward, cases=3)
    fast = gradverify.check_op(
        "softmax", [(4, 6)], stacks, row_softmax_backward, cases=3, vectorized=True
    )
    assert plain.passed and fast.passed, (plain, fast)
    assert set(one_by_one.leading) == {None}
    stacked = [p for p in stacks.leading if p is not None]
    assert stacked and max(stacked) >= 2 * 24, "a round of steps of every element in one call"
    assert len(stacks.leading) * 4 < len(one_by_one.leading), (len(stacks.leading), len(one_by_one.leading))

    def wrong(grad_out, x):  # the softmax's Jacobian taken as diagonal
        s = row_softmax(x)
        return s * (1.0 - s) * grad_out

    plain = gradverify.check_op("softmax", [(4, 6)], row_softmax, wrong, cases=3)
    fast = gradverify.check_op("softmax", [(4, 6)], row_softmax, wrong, cases=3, vectorized=True)
    assert plain.verdict == fast.verdict == "fail"
    assert json.loads(plain.to_json())["findings"] == json.loads(fast.to_json())["findings"]


def test_a_forward_that_does_not_vectorize_is_told_what_vectorized_expects():
    def first_point_only(x):
        return row_softmax(x[0] if x.ndim == 3 else x)

    report = gradverify.check_op(
        "softmax", [(4, 6)], first_point_only, row_softmax_backward, cases=2, vectorized=True
    )
    assert report.verdict != "pass"
    assert "stacked the same way, first dimension" in str(report), str(report)
    assert "vectorized=False" in str(report)
