"""In-process and over protocol-v1 the verifier sees the same numbers, so a bug gets the same
report either way: `check_linear(f)` against `gradverify verify --exec` of `serve(linear=f)`."""

import os
import shlex
import shutil
import subprocess
import sys

import pytest

import gradverify
import students

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKS = {
    "linear": gradverify.check_linear,
    "relu": gradverify.check_relu,
    "sqerr": gradverify.check_sqerr,
    "mlp": gradverify.check_network,
}


def gradverify_command():
    """The `gradverify` binary: $GRADVERIFY_BIN, else the one installed beside this Python, else
    the checkout's release build (which the root `cargo test --release` makes)."""
    candidates = [
        os.environ.get("GRADVERIFY_BIN"),
        shutil.which("gradverify", path=os.path.dirname(sys.executable)),
        os.path.join(HERE, "..", "..", "target", "release", "gradverify"),
    ]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip("no gradverify binary: set GRADVERIFY_BIN or run `cargo build --release`")


def body(report_text):
    """The report without the subject's name, which differs (a function against a command)."""
    head, _, rest = report_text.partition("\n")
    op, _, verdict = head.partition("): ")
    return op.split(" (")[0], verdict, rest


@pytest.mark.parametrize("kind", ["buggy", "right"])
@pytest.mark.parametrize("op", CHECKS)
def test_the_same_report_in_process_and_over_exec(op, kind):
    program = f"{shlex.quote(sys.executable)} {shlex.quote(os.path.join(HERE, 'serve_student.py'))} {kind}"
    run = subprocess.run(
        [gradverify_command(), "verify", "--exec", program, "--ops", op],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == (1 if kind == "buggy" else 0), run.stderr
    *report, summary = run.stdout.rstrip("\n").split("\n")
    assert summary.endswith(" of 1 ops pass"), run.stdout
    over_exec = "\n".join(report)
    in_process = str(CHECKS[op]({"buggy": students.BUGGY, "right": students.RIGHT}[kind][op]))
    assert body(over_exec) == body(in_process)
    if kind == "buggy":
        assert "diagnosis:" in in_process


def test_pip_install_puts_the_gradverify_command_beside_python():
    installed = shutil.which("gradverify", path=os.path.dirname(sys.executable))
    if installed is None:
        pytest.skip("not installed by pip (maturin develop builds the module only)")
    run = subprocess.run([installed, "--version"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.startswith("gradverify "), run
