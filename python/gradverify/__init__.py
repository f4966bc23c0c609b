"""gradverify: proves backward passes right, for NumPy code.

Each check calls your backward on random cases in the course notes' shapes (rows are data points),
with random upstream gradients, compares it with the reference backprop, shrinks a failure to the
smallest shape that shows it and names the bug when the pattern is known::

    linear_backward(grad_a, h, W, b) -> (dL/dh, dL/dW, dL/db)   check_linear   (Eq. 30b)
    relu_backward(grad_h, a) -> dL/da                            check_relu     (Eq. 29b)
    sqerr_backward(grad_loss, f, y) -> (dL/df, dL/dy)            check_sqerr    (Eq. 31b)
    backprop(x, y, params) -> (dL/dW1, dL/db1, ..., dL/db3)      check_network  (Eq. 32/37)
    forward(*xs), backward(grad_out, *xs) of any op              check_op       (finite differences)
    backward(grad_out, *inputs, **attrs) of a course op          check("softmax_xent", backward)

``check(op, backward)`` takes any op of docs/protocol-ops.md by name (sigmoid, tanh, dropout,
softmax_xent, hinge, batchnorm, layernorm, conv2d, maxpool2d, embedding, rnn_step, and the notes'
linear, relu, sqerr): the inputs in the protocol's order (labels and indices as int arrays),
``grad_out`` a float for a loss, the op's settings (``stride``, ``pad``, ``p``, ``eps``, ``pool``)
as keywords; it returns the gradients of the differentiated inputs, a tuple or a single array.

``check_op`` also takes the Rust ``OpCheck``'s options as keywords: ``domains``, ``points``,
``rtol``, ``atol``, ``eps``, ``nondet_tol``, ``no_grad``, ``jvp(tangents, *xs)`` (forward mode),
``fast`` and ``shrinkable``.

Each returns a Report: ``str(report)`` is the text report, ``report.passed`` and
``report.verdict`` the outcome, and ``report.assert_correct()`` raises AssertionError with the
report (its first line the verdict), so a pytest test is one line; in a notebook the report shows
as a table. An exception in your function is a finding of the report, with its traceback.
``serve(...)`` answers the same functions over protocol-v1 for ``gradverify verify --exec``.

The package is typed (``py.typed``, with stubs for the native checks), and ``__version__`` is the
crate's version.
"""

from ._native import (
    DEFAULT_CASES,
    Report,
    check,
    check_linear,
    check_network,
    check_op,
    check_relu,
    check_sqerr,
    __version__,
)
from ._serve import serve

__all__ = [
    "__version__",
    "DEFAULT_CASES",
    "Report",
    "check",
    "check_linear",
    "check_network",
    "check_op",
    "check_relu",
    "check_sqerr",
    "serve",
]
