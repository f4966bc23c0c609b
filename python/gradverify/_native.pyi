"""Types of ``gradverify._native``, the checks (Rust, through PyO3); ``gradverify`` re-exports
every name."""

from collections.abc import Iterable, Mapping, Sequence
from typing import Literal, TextIO, final

from numpy.typing import ArrayLike

from ._types import Backward, Domain, Forward, SecondOrder

__all__ = [
    "Report",
    "check",
    "check_op",
    "checks_source",
    "serve",
    "DEFAULT_CASES",
    "OPS",
    "__version__",
]

__version__: str
DEFAULT_CASES: int
# Every op of the catalogue, in the registry's order.
OPS: tuple[str, ...]

@final
class Report:
    """What the verifier found about one op's backward; ``str()`` is the text report."""

    @property
    def passed(self) -> bool: ...
    @property
    def verdict(self) -> Literal["pass", "fail", "inconclusive"]: ...
    @property
    def op(self) -> str: ...
    @property
    def subject(self) -> str: ...
    def to_json(self) -> str: ...
    def assert_correct(self) -> None: ...
    def _repr_html_(self) -> str: ...

def check(op: str, backward: Backward, *, cases: int | None = None, seed: int = 0) -> Report:
    """Checks ``backward`` of any op of the catalogue by its name, called as its spec says."""

def checks_source() -> str:
    """The source of ``gradverify/_checks.py``: a ``check_<op>`` for every op of the catalogue."""

def serve(backwards: Mapping[str, Backward], stdin: Iterable[str], stdout: TextIO) -> None:
    """``gradverify.serve``'s loop: protocol v1 read and written by the crate."""

def check_op(
    name: str,
    shapes: Sequence[Sequence[int]],
    forward: Forward,
    backward: Backward,
    *,
    cases: int | None = None,
    seed: int = 0,
    domains: dict[int, Domain] | None = None,
    points: Sequence[Sequence[ArrayLike]] | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    eps: float | None = None,
    nondet_tol: float | None = None,
    no_grad: Sequence[int] = (),
    jvp: Forward | None = None,
    fast: bool = False,
    shrinkable: Sequence[tuple[int, int]] = (),
    second_order: SecondOrder | None = None,
    aliases: Sequence[tuple[int, int]] = (),
    vectorized: bool = False,
) -> Report:
    """Checks ``backward`` (and ``jvp``, ``second_order``) against finite differences of ``forward``."""
