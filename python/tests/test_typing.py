"""The package is typed and versioned: `mypy --strict` passes on a student's annotated test file
against the installed package (its stubs and py.typed) and rejects a wrong call, the stubs match
the native module (mypy's stubtest), and `__version__` is the crate's.

mypy is a test dependency (`pip install ./python[test]`); without it these tests skip, unless
GRADVERIFY_REQUIRE_MYPY=1 (.ci/run sets it), when they fail instead.
"""

import importlib.metadata
import importlib.util
import os
import subprocess
import sys

import pytest

import gradverify

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.dirname(HERE)


@pytest.fixture(scope="module")
def mypy(tmp_path_factory):
    """Runs `python -m MODULE ARGS` in `cwd` (mypy with one cache for the module's runs) and gives
    the finished process."""
    if importlib.util.find_spec("mypy") is None:
        if os.environ.get("GRADVERIFY_REQUIRE_MYPY") == "1":
            pytest.fail("mypy is not installed, and GRADVERIFY_REQUIRE_MYPY=1 requires it")
        pytest.skip("mypy is not installed: pip install mypy (or ./python[test]) to type-check")
    cache = tmp_path_factory.mktemp("mypy-cache")

    def run(module, *args, cwd):
        if module == "mypy":
            args = (*args, "--cache-dir", str(cache))
        command = [sys.executable, "-m", module, *args]
        return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)

    return run


def test_mypy_strict_passes_on_a_students_test_file(mypy):
    # From the tests' folder, `import gradverify` is the installed package, not python/gradverify.
    run = mypy("mypy", "--strict", "test_typed_student.py", cwd=HERE)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Success: no issues found" in run.stdout


def test_mypy_strict_rejects_a_wrong_call(mypy, tmp_path):
    (tmp_path / "wrong.py").write_text(
        "import numpy as np\n"
        "from numpy.typing import NDArray\n"
        "import gradverify\n"
        "def relu_backward(grad_h: NDArray[np.float64], a: NDArray[np.float64]) -> NDArray[np.float64]:\n"
        "    return grad_h * (a > 0)\n"
        "gradverify.check_linear(relu_backward)\n"
        "gradverify.check_relu(relu_backward, cases='ten')\n"
        "verdict: int = gradverify.check_relu(relu_backward).verdict\n"
    )
    run = mypy("mypy", "--strict", "wrong.py", cwd=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert 'Argument 1 to "check_linear" has incompatible type' in run.stdout
    assert 'Argument "cases" to "check_relu" has incompatible type "str"' in run.stdout
    assert "Incompatible types in assignment" in run.stdout
    assert "Found 3 errors" in run.stdout


def test_mypy_strict_passes_on_the_package_itself(mypy):
    run = mypy("mypy", "--strict", "gradverify", cwd=PACKAGE)
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_stubs_match_the_native_module(mypy, tmp_path):
    # Every name, parameter and default of the installed module against its stubs.
    run = mypy("mypy.stubtest", "gradverify", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_wheel_ships_the_types():
    installed = os.path.dirname(gradverify.__file__)
    for name in ("py.typed", "_native.pyi"):
        assert os.path.isfile(os.path.join(installed, name)), f"{name} not in {installed}"


def test_the_version_is_the_crates():
    tomllib = pytest.importorskip("tomllib", reason="reading Cargo.toml needs Python 3.11's tomllib")
    with open(os.path.join(PACKAGE, "Cargo.toml"), "rb") as f:
        crate = tomllib.load(f)["package"]["version"]
    with open(os.path.join(PACKAGE, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]
    # pyproject.toml takes its version from Cargo.toml (maturin reads it), so there is one to bump.
    assert "version" in project["dynamic"] and "version" not in project, project
    assert gradverify.__version__ == crate
    assert importlib.metadata.version("gradverify") == crate
