"""maturin's PEP 517 backend, plus the `gradverify` command in the wheel.

maturin puts one Rust target in a wheel: here the extension module `gradverify._native`. The
command-line tool is the root crate's binary, so before maturin runs, this backend builds it
(`cargo build --release --locked --bin gradverify` on the root manifest, into this folder's
target/, sharing the compiled dependencies) and copies it to the wheel's data scripts, which pip
installs beside `python` in the environment's bin/.
"""

import os
import shutil
import subprocess

import maturin
from maturin import (  # noqa: F401 (the hooks maturin answers unchanged)
    build_sdist,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
)

PYTHON = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(PYTHON)
TARGET = os.path.join(PYTHON, "target")
# Must match [tool.maturin] data in pyproject.toml.
SCRIPTS = os.path.join(TARGET, "wheel-data", "scripts")


def _build_command():
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
    shutil.copy2(os.path.join(TARGET, "release", "gradverify"), os.path.join(SCRIPTS, "gradverify"))


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    # maturin wants the data folder to exist before the wheel's metadata is written.
    os.makedirs(SCRIPTS, exist_ok=True)
    return maturin.prepare_metadata_for_build_wheel(metadata_directory, config_settings)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _build_command()
    return maturin.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    _build_command()
    return maturin.build_editable(wheel_directory, config_settings, metadata_directory)
