"""The in-process checks: right NumPy code passes, each op's known bug fails with its diagnosis,
and whatever a student's function does wrong is a finding, not a crash."""

import json

import pytest

import gradverify
import students

CHECKS = {
    "linear": gradverify.check_linear,
    "relu": gradverify.check_relu,
    "sqerr": gradverify.check_sqerr,
    "mlp": gradverify.check_network,
}

# The diagnosis line each bug of students.BUGGY must get.
DIAGNOSES = {
    "linear": "divided by the batch size",
    "relu": "mask",
    "sqerr": "sign flipped",
    "mlp": "mask",
}


@pytest.mark.parametrize("op", CHECKS)
def test_right_numpy_code_passes(op):
    report = CHECKS[op](students.RIGHT[op])
    report.assert_correct()
    assert report.passed
    assert report.verdict == "pass"
    assert str(report).startswith(f"{op} ({students.RIGHT[op].__name__}): pass, 40 random cases")


@pytest.mark.parametrize("op", CHECKS)
def test_each_known_bug_fails_with_its_diagnosis(op):
    report = CHECKS[op](students.BUGGY[op])
    assert not report.passed
    assert report.verdict == "fail"
    text = str(report)
    assert "FAIL" in text.splitlines()[0]
    diagnoses = [line for line in text.splitlines() if line.strip().startswith("diagnosis:")]
    assert diagnoses and DIAGNOSES[op] in diagnoses[0].lower(), text
    with pytest.raises(AssertionError) as raised:
        report.assert_correct()
    assert str(raised.value).strip() == text

# The stable code of each of those diagnoses in the JSON report.
CODES = {"linear": "batch_mean", "relu": "mask_missing", "sqerr": "sign", "mlp": "layer_mask_missing"}


@pytest.mark.parametrize("op", CHECKS)
def test_to_json_is_the_report_model_with_the_diagnosis_code(op):
    model = json.loads(CHECKS[op](students.BUGGY[op]).to_json())
    assert model["verdict"] == "fail"
    assert model["findings"], model
    assert {f["diagnosis"]["code"] for f in model["findings"]} == {CODES[op]}
    right = json.loads(CHECKS[op](students.RIGHT[op]).to_json())
    assert (right["verdict"], right["findings"]) == ("pass", [])


def test_a_raising_function_is_a_finding_with_its_traceback():
    def linear_backward(grad_a, h, W, b):
        raise ValueError(f"not yet: {h.shape}")

    report = gradverify.check_linear(linear_backward)
    assert not report.passed
    text = str(report)
    assert "the call" in text
    assert "raised ValueError: not yet: (" in text
    assert "Traceback (most recent call last)" in text
    assert "in linear_backward" in text


def test_a_wrong_result_is_a_finding_naming_what_was_expected():
    def two_values(grad_a, h, W, b):
        return grad_a @ W.T, h.T @ grad_a

    def bias_as_a_row(grad_a, h, W, b):
        return grad_a @ W.T, h.T @ grad_a, grad_a.sum(axis=0, keepdims=True)

    def words(grad_h, a):
        return "zero"

    text = str(gradverify.check_linear(two_values))
    assert "two_values returned 2 values; expected 3: (dL/dh, dL/dW, dL/db)" in text
    text = str(gradverify.check_linear(bias_as_a_row))
    assert "bias_as_a_row returned dL/db with 2 dimensions" in text
    assert "); expected a 1-D array" in text
    text = str(gradverify.check_relu(words))
    assert "words returned a str for dL/da, not an array of numbers" in text


def test_a_transposed_gradient_of_the_right_rank_is_a_wrong_shape():
    def linear_backward(grad_a, h, W, b):
        return grad_a @ W.T, (h.T @ grad_a).T, grad_a.sum(axis=0)

    report = gradverify.check_linear(linear_backward)
    assert not report.passed
    assert "dL/dW: shape [" in str(report)


def test_lists_and_integers_are_taken_as_float_arrays():
    def relu_backward(grad_h, a):
        return (grad_h * (a > 0)).tolist()

    gradverify.check_relu(relu_backward).assert_correct()


def test_the_network_may_return_a_dict_keyed_like_its_parameters():
    def backprop(x, y, params):
        return dict(zip(("W1", "b1", "W2", "b2", "W3", "b3"), students.backprop(x, y, params)))

    gradverify.check_network(backprop).assert_correct()


def test_cases_and_seed_choose_the_cases():
    counted = []

    def relu_backward(grad_h, a):
        counted.append((a.shape, float(a.sum())))
        return grad_h * (a > 0)

    report = gradverify.check_relu(relu_backward, cases=3, seed=7)
    assert str(report).startswith("relu (relu_backward): pass, 3 random cases")
    first = list(counted)
    counted.clear()
    gradverify.check_relu(relu_backward, cases=3, seed=7)
    assert counted == first
    counted.clear()
    gradverify.check_relu(relu_backward, cases=3, seed=8)
    assert counted != first


def test_misuse_is_a_python_error_naming_the_argument():
    with pytest.raises(TypeError, match="backward must be a function, got an int"):
        gradverify.check_linear(3)
    with pytest.raises(ValueError, match="cases must be at least 1, got 0"):
        gradverify.check_relu(students.relu_backward, cases=0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'points'"):
        gradverify.check_relu(students.relu_backward, points=3)


def test_a_keyboard_interrupt_stops_the_check_and_is_raised_again():
    calls = []

    def relu_backward(grad_h, a):
        calls.append(1)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        gradverify.check_relu(relu_backward)
    assert len(calls) == 1


def test_the_report_repr_names_op_subject_and_verdict():
    report = gradverify.check_sqerr(students.sqerr_backward_sign, cases=2)
    assert repr(report) == "<gradverify.Report sqerr (sqerr_backward_sign): fail>"
    assert (report.op, report.subject) == ("sqerr", "sqerr_backward_sign")
    assert isinstance(report, gradverify.Report)
    assert gradverify.DEFAULT_CASES == 40
