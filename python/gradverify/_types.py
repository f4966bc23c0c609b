"""The functions gradverify checks, as types: for the stubs of ``_native`` and for ``serve``.

Arrays reach a function as float64 NumPy arrays (``check``'s labels and indices as int64); a
gradient may go back as anything NumPy reads as an array of numbers (``ArrayLike``: an array, a
list, a float).
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]
# backward(grad_a, h, W, b) -> (dL/dh, dL/dW, dL/db)
LinearBackward = Callable[[Array, Array, Array, Array], tuple[ArrayLike, ArrayLike, ArrayLike]]
# backward(grad_h, a) -> dL/da
ReluBackward = Callable[[Array, Array], ArrayLike]
# backward(grad_loss, f, y) -> (dL/df, dL/dy)
SqerrBackward = Callable[[float, Array, Array], tuple[ArrayLike, ArrayLike]]
# backprop(x, y, {"W1": ..., ..., "b3": ...}) -> (dL/dW1, ..., dL/db3), or a dict keyed like params
Backprop = Callable[[Array, Array, dict[str, Array]], Sequence[ArrayLike] | Mapping[str, ArrayLike]]
# forward(*xs) -> output; jvp(tangents, *xs) -> J u
Forward = Callable[..., ArrayLike]
# backward(grad_out, *xs) -> one gradient, or a tuple of one per input
Backward = Callable[..., ArrayLike | Sequence[ArrayLike]]
# check_op's domains={i: "positive" or (a, b)}
Domain = Literal["positive"] | tuple[float, float]
