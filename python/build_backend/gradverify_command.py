"""The `gradverify` command for the wheel: the root crate's binary, built in release and copied to
the wheel's data scripts, which pip installs beside `python` in the environment's bin/ (Scripts\\
on Windows).

`build_backend/gradverify_build.py` calls it before maturin builds a wheel; a release job that runs
maturin itself (`.github/workflows/wheels.yml`) runs this file first: `python3
build_backend/gradverify_command.py`. It builds into this folder's target/ (`--target-dir`),
sharing the compiled dependencies with the extension.
"""

import os
import shutil
import subprocess

PYTHON = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(PYTHON)
TARGET = os.path.join(PYTHON, "target")
# Must match [tool.maturin] data in pyproject.toml.
SCRIPTS = os.path.join(TARGET, "wheel-data", "scripts")
EXE = "gradverify.exe" if os.name == "nt" else "gradverify"


def build():
    cargo = os.environ.get("CARGO", "cargo")
    subprocess.run(
        [
            cargo,
            "build",
            "--release",
            "--locked",
            "--bin",
            "gradverify",
            "--manifest-path",
            os.path.join(ROOT, "Cargo.toml"),
            "--target-dir",
            TARGET,
        ],
        check=True,
    )
    os.makedirs(SCRIPTS, exist_ok=True)
    shutil.copy2(os.path.join(TARGET, "release", EXE), os.path.join(SCRIPTS, EXE))


if __name__ == "__main__":
    build()
