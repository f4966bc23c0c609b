"""Types of ``gradverify._native``, the checks (Rust, through PyO3); ``gradverify`` re-exports
every name."""

from collections.abc import Sequence
from typing import Literal, final

from numpy.typing import ArrayLike

from ._types import Backprop, Backward, Domain, Forward, LinearBackward, ReluBackward, SqerrBackward

__all__ = [
    "Report",
    "check",
    "check_linear",
    "check_relu",
    "check_sqerr",
    "check_network",
    "check_op",
    "DEFAULT_CASES",
    "__version__",
]

__version__: str
DEFAULT_CASES: int

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
    """Checks ``backward(grad_out, *inputs, **attrs)`` of a course op by its name."""

def check_linear(backward: LinearBackward, *, cases: int | None = None, seed: int = 0) -> Report:
    """Checks ``backward(grad_a, h, W, b) -> (dL/dh, dL/dW, dL/db)`` of a = h W + b."""

def check_relu(backward: ReluBackward, *, cases: int | None = None, seed: int = 0) -> Report:
    """Checks ``backward(grad_h, a) -> dL/da`` of h = max(a, 0)."""

def check_sqerr(backward: SqerrBackward, *, cases: int | None = None, seed: int = 0) -> Report:
    """Checks ``backward(grad_loss, f, y) -> (dL/df, dL/dy)`` of L = ½ Σ (f − y)²."""

def check_network(backprop: Backprop, *, cases: int | None = None, seed: int = 0) -> Report:
    """Checks ``backprop(x, y, params)``, the six parameter gradients of the Eq. 33 network."""

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
) -> Report:
    """Checks ``backward`` (and ``jvp``) against finite differences of ``forward``."""
