"""maturin's PEP 517 backend, plus the `gradverify` command in the wheel.

maturin puts one Rust target in a wheel: here the extension module `gradverify._native` (built
for the stable ABI, so the wheel is `cp310-abi3`: one per platform for every Python from 3.10).
The command-line tool is the root crate's binary, so before maturin runs, this backend builds it
into the wheel's data scripts (gradverify_command.py).
"""

import os

import maturin
from maturin import (  # noqa: F401 (the hooks maturin answers unchanged)
    build_sdist,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
)

import gradverify_command


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    # maturin wants the data folder to exist before the wheel's metadata is written.
    os.makedirs(gradverify_command.SCRIPTS, exist_ok=True)
    return maturin.prepare_metadata_for_build_wheel(metadata_directory, config_settings)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    gradverify_command.build()
    return maturin.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    gradverify_command.build()
    return maturin.build_editable(wheel_directory, config_settings, metadata_directory)
