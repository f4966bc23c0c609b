"""The functions gradverify checks, as types: for the stubs of ``_native``, the generated checks
(``_checks.py``) and ``serve``.

Arrays reach a function as float64 NumPy arrays (labels and indices as int64); a gradient may go
back as anything NumPy reads as an array of numbers (``ArrayLike``: an array, a list, a float).
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]
# Labels and indices.
Indices = NDArray[np.int64]
# forward(*xs) -> output; jvp(tangents, *xs) -> J u
Forward = Callable[..., ArrayLike]
# backward(grad_out, *xs) -> one gradient, a tuple of one per input, or (a network) a dict
Backward = Callable[..., ArrayLike | Sequence[ArrayLike] | Mapping[str, ArrayLike]]
# second_order(grad_out, directions, *xs) -> one d/dt gradient, or a tuple of one per input
SecondOrder = Callable[..., ArrayLike | Sequence[ArrayLike]]
# check_op's domains={i: "positive" or (a, b)}, or data never differentiated: {"labels": C}
# (the integers 0 to C - 1) or "one_hot" (one-hot rows along the last axis)
Domain = Literal["positive", "one_hot"] | tuple[float, float] | dict[Literal["labels"], int]
