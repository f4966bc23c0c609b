"""protocol-v1 for NumPy functions: the JSON Lines loop that ``gradverify verify --exec`` drives.

``serve(linear=..., relu=..., softmax_xent=..., mlp=...)`` takes a backward for any op of the
catalogue, by its name, called as the op's ``check_<op>`` says. Requests are read and answers
written by the crate's own protocol code (the native ``serve``, as ``gradverify serve`` answers),
one answer per line, flushed at once: an unflushed answer sits in the pipe's buffer and the
verifier times out. An op without a function is answered "unsupported op"; an exception in a
function is answered with its traceback as the error, and the loop goes on.
"""

import sys
from collections.abc import Iterable
from typing import TextIO

from . import _native
from ._types import Backward


def serve(
    *,
    stdin: Iterable[str] | None = None,
    stdout: TextIO | None = None,
    **backwards: Backward,
) -> None:
    """Answers protocol-v1 requests from ``stdin`` (default: ``sys.stdin``) on ``stdout``
    (default: ``sys.stdout``) until ``stdin`` ends, with ``backwards[op]`` for a request of
    ``op``."""
    _native.serve(backwards, sys.stdin if stdin is None else stdin, sys.stdout if stdout is None else stdout)
