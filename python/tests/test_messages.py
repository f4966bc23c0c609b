"""What Python shows is in a Python person's words: an exception in your function is "your
function raised …" with its traceback, zero has no sign, AssertionError's first line is the
verdict (pytest's short summary shows it), and a notebook shows the report as a table."""

import json
import math
import os
import shutil
import subprocess
import sys
import textwrap
from html.parser import HTMLParser

import pytest

import gradverify
import students


def not_yet(grad_a, h, W, b):
    raise ValueError(f"not yet: {h.shape}")


def test_an_exception_reads_your_function_raised_with_its_traceback():
    report = gradverify.check_linear(not_yet, cases=3)
    lines = str(report).splitlines()
    assert lines[1].startswith("  the call: your function raised ValueError: not yet: ("), lines
    assert lines[2].strip() == "Traceback (most recent call last):"
    assert any(line.strip().endswith(", in not_yet") for line in lines), lines
    assert "panicked" not in str(report)
    (finding,) = json.loads(report.to_json())["findings"]
    fault = finding["problem"]["detail"]
    assert fault["kind"] == "raised" and fault["detail"].startswith("your function raised ValueError")


def test_check_op_names_the_function_that_raised():
    def forward(x):
        raise RuntimeError("forward not written")

    report = gradverify.check_op("todo", [(2,)], forward, lambda g, x: g, cases=2)
    text = str(report)
    assert "the call: the forward failed: raised RuntimeError: forward not written" in text
    assert "panicked" not in text
    kinds = {f["problem"]["detail"]["kind"] for f in json.loads(report.to_json())["findings"]}
    assert kinds == {"raised"}, kinds


def test_explain_raised_speaks_of_python_and_panicked_of_rust():
    command = shutil.which("gradverify", path=os.path.dirname(sys.executable))
    if command is None:
        pytest.skip("the wheel's gradverify command is not beside this Python")
    raised = subprocess.run([command, "explain", "raised"], capture_output=True, text=True, timeout=60)
    assert raised.returncode == 0, raised.stderr
    assert raised.stdout.startswith("raised: your Python function raised an exception"), raised.stdout
    assert "traceback" in raised.stdout
    panicked = subprocess.run([command, "explain", "panicked"], capture_output=True, text=True, timeout=60)
    assert panicked.stdout.startswith("panicked: the Rust function under test panicked"), panicked.stdout
    assert "Python" not in panicked.stdout.split("(A Python function")[0], panicked.stdout


def test_negative_zero_prints_as_zero():
    # Without the mask, got = grad_h where the reference is grad_h * 0: -0.0 for a negative grad_h.
    report = gradverify.check_relu(students.relu_backward_no_mask)
    text = str(report)
    assert "-0.000000" not in text
    assert "expected 0.000000, got -" in text, text
    worst = [e for f in json.loads(report.to_json())["findings"] for e in f["worst"]]
    zeros = [v for e in worst for v in (e["expected"], e["actual"]) if v == 0]
    assert zeros and all(math.copysign(1.0, v) == 1.0 for v in zeros), worst


def test_the_assertion_errors_first_line_is_the_verdict():
    with pytest.raises(AssertionError) as raised:
        gradverify.check_linear(students.linear_backward_mean).assert_correct()
    message = str(raised.value)
    assert message.splitlines()[0] == "linear (linear_backward_mean): FAIL, 1 problem in 40 random cases"
    assert message == str(gradverify.check_linear(students.linear_backward_mean))


def test_pytests_short_summary_shows_the_verdict(tmp_path):
    (tmp_path / "test_student.py").write_text(
        textwrap.dedent(
            """
            import gradverify

            def linear_backward(grad_a, h, W, b):
                return grad_a @ W.T, h.T @ grad_a, grad_a.mean(axis=0)

            def test_linear():
                gradverify.check_linear(linear_backward).assert_correct()
            """
        )
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_student.py"],
        cwd=tmp_path,
        # A terminal wide enough that pytest does not cut the summary line.
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    summary = [line for line in run.stdout.splitlines() if line.startswith("FAILED ")]
    assert summary == [
        "FAILED test_student.py::test_linear - AssertionError: linear (linear_backward): FAIL, 1 problem in 40 random cases"
    ], run.stdout


class Page(HTMLParser):
    """The tags of an HTML fragment, checked to nest, and its text."""

    def __init__(self, html):
        super().__init__()
        self.open, self.tags, self.text = [], [], []
        self.feed(html)
        self.close()
        assert not self.open, f"unclosed: {self.open}"

    def handle_starttag(self, tag, attrs):
        self.open.append(tag)
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        assert self.open and self.open.pop() == tag, f"</{tag}> closes {self.open}"

    def handle_data(self, data):
        self.text.append(data)


def test_a_notebook_shows_a_failing_report_as_a_table_with_its_wrong_elements_highlighted():
    report = gradverify.check_linear(students.linear_backward_mean)
    page = Page(report._repr_html_())
    text = "".join(page.text).strip()
    assert text.startswith("linear (linear_backward_mean): FAIL, 1 problem in 40 random cases")
    rows = [attrs.get("style", "") for tag, attrs in page.tags if tag == "tr"]
    # The header, the finding (a failing row), its worst elements' header and rows (highlighted).
    assert "background: #f8d0d0" in rows[1]
    highlighted = [style for style in rows if "background: #f2a5a5" in style]
    assert len(highlighted) == len(json.loads(report.to_json())["findings"][0]["worst"]) >= 1
    assert "dL/db" in text and "wrong values" in text and "[batch_mean]" in text
    assert any(tag == "svg" for tag, _ in page.tags), "no heat map"
    assert not any(tag == "script" for tag, _ in page.tags)


def test_a_passing_report_is_its_verdict_line():
    page = Page(gradverify.check_relu(students.relu_backward)._repr_html_())
    assert "".join(page.text).strip() == "relu (relu_backward): pass, 40 random cases"
    assert not any(tag == "table" for tag, _ in page.tags)


def test_what_the_student_wrote_is_escaped_in_the_html():
    def linear_backward(grad_a, h, W, b):
        raise ValueError("<script>alert('x')</script> & more")

    html = gradverify.check_linear(linear_backward, cases=2)._repr_html_()
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more" in html
    text = "".join(Page(html).text)
    assert "your function raised ValueError: <script>alert('x')</script> & more" in text
    assert "\nTraceback (most recent call last):" in text
    lambda_html = gradverify.check_relu(lambda grad_h, a: grad_h, cases=2)._repr_html_()
    assert "relu (&lt;lambda&gt;): FAIL" in lambda_html
