"""One wheel for every Python: built once from the checkout (`pip wheel ./python`), an abi3 wheel
that installs into fresh virtual environments of other Python versions with no Rust toolchain on
PATH, where its checks and its `gradverify` command work.

The wheel is the one in $GRADVERIFY_WHEELS where that is set (.ci/run builds it there and installs
it for the other tests), else it is built here, once for the module: seconds when the build is
warm, minutes on a fresh checkout. The Pythons are the oldest and the newest version from 3.10 on
that this machine has: `python3.X` on PATH, ~/.pyenv/versions/*/bin/python3, and the one running
the tests. Where there is only one version, the test of the second skips, saying so.
"""

import glob
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLCHAIN = ("cargo", "rustc", "rustup")

# Run in each environment: a right and a wrong linear backward, from the installed wheel.
CHECK = textwrap.dedent(
    """
    import os, shutil, sys
    assert shutil.which("cargo") is None and shutil.which("rustc") is None, os.environ["PATH"]
    import gradverify, gradverify._native
    assert gradverify.__file__.startswith(sys.prefix), gradverify.__file__
    assert ".abi3." in os.path.basename(gradverify._native.__file__), gradverify._native.__file__

    def right(grad_a, h, W, b):
        return grad_a @ W.T, h.T @ grad_a, grad_a.sum(axis=0)

    def mean(grad_a, h, W, b):
        return grad_a @ W.T, h.T @ grad_a, grad_a.mean(axis=0)

    gradverify.check_linear(right).assert_correct()
    wrong = gradverify.check_linear(mean)
    assert wrong.verdict == "fail" and "[batch_mean]" in str(wrong), str(wrong)
    print("%d.%d" % sys.version_info[:2], gradverify.__version__)
    """
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The path of the one gradverify wheel: $GRADVERIFY_WHEELS's, or built from the checkout."""
    folder = os.environ.get("GRADVERIFY_WHEELS")
    if not folder:
        folder = str(tmp_path_factory.mktemp("wheels"))
        build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", folder, PACKAGE]
        run = subprocess.run(build, capture_output=True, text=True, timeout=3600)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    wheels = glob.glob(os.path.join(folder, "gradverify-*.whl"))
    assert len(wheels) == 1, f"expected one gradverify wheel in {folder}, found {wheels}"
    return wheels[0]


@pytest.fixture(scope="module")
def pythons():
    """The Pythons from 3.10 on, one interpreter per version, oldest first."""
    candidates = [
        sys.executable,
        *(shutil.which(f"python3.{minor}") for minor in range(10, 20)),
        *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/*/bin/python3"))),
    ]
    found = {}
    for python in filter(None, candidates):
        try:
            # A pyenv shim of a version that is not selected exits 127: not a Python.
            run = subprocess.run(
                [python, "-c", "import sys, venv; print(*sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=60,
            )
        except OSError:
            continue
        if run.returncode == 0:
            version = tuple(int(part) for part in run.stdout.split())
            if version >= (3, 10):
                found.setdefault(version, python)
    return [found[version] for version in sorted(found)]


def without_rust(venv):
    """The environment with no Rust toolchain: PATH without any folder that holds cargo, rustc or
    rustup (and the venv's bin first), no CARGO*/RUSTUP*/RUSTC* variable, no other venv."""
    folders = os.environ.get("PATH", "").split(os.pathsep)
    kept = [d for d in folders if d and not any(os.path.exists(os.path.join(d, t)) for t in TOOLCHAIN)]
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CARGO", "RUSTUP", "RUSTC", "PYTHON", "VIRTUAL_ENV"))
    }
    env["PATH"] = os.pathsep.join([os.path.join(venv, "bin"), *kept])
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def run_in(env, cwd, *command):
    run = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, f"{command}:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return run.stdout


def test_the_wheel_is_one_for_every_python_from_3_10(wheel):
    assert "-cp310-abi3-" in os.path.basename(wheel), wheel


@pytest.mark.parametrize("which", ["oldest", "newest"])
def test_the_wheel_installs_and_works_without_rust(which, wheel, pythons, tmp_path):
    if which == "newest" and len(pythons) < 2:
        pytest.skip(
            f"only one Python from 3.10 on was found ({pythons[0]}; looked for python3.X on PATH "
            "and ~/.pyenv/versions/*/bin/python3): the wheel is tried in that one version only"
        )
    python = pythons[0] if which == "oldest" else pythons[-1]
    venv = str(tmp_path / "venv")
    env = without_rust(venv)
    for tool in TOOLCHAIN:
        assert shutil.which(tool, path=env["PATH"]) is None, f"{tool} is still on {env['PATH']}"
    run_in(env, tmp_path, python, "-m", "venv", venv)
    pip = [os.path.join(venv, "bin", "python"), "-m", "pip", "install", "--quiet", "--only-binary", ":all:"]
    run_in(env, tmp_path, *pip, "numpy")
    run_in(env, tmp_path, *pip, "--no-index", "--find-links", os.path.dirname(wheel), "gradverify")
    # In tmp_path, away from the checkout: `import gradverify` can only be the installed wheel.
    out = run_in(env, tmp_path, os.path.join(venv, "bin", "python"), "-c", CHECK)
    version, package = out.split()
    assert tuple(int(part) for part in version.split(".")) >= (3, 10)
    command = os.path.join(venv, "bin", "gradverify")
    assert run_in(env, tmp_path, command, "--version").strip() == f"gradverify {package}"
    assert "batch_mean" in run_in(env, tmp_path, command, "explain", "batch_mean")
