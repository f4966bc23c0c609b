"""gradverify: proves backward passes right, for NumPy code.

Each check calls your backward on random cases in the course notes' shapes (rows are data points),
with random upstream gradients, compares it with the reference backprop, shrinks a failure to the
smallest shape that shows it and names the bug when the pattern is known::

    linear_backward(grad_out, h, W, b) -> (dL/dh, dL/dW, dL/db)   check_linear   (Eq. 30b)
    relu_backward(grad_out, a) -> dL/da                            check_relu     (Eq. 29b)
    sqerr_backward(grad_out, f, y) -> (dL/df, dL/dy)               check_sqerr    (Eq. 31b)
    backprop(x, y, params) -> (dL/dW1, dL/db1, ..., dL/db3)        check_mlp, or check_network
    backward(grad_out, *inputs, **attrs) of a course op            check_softmax_xent, ...
    forward(*xs), backward(grad_out, *xs) of any op                check_op       (finite differences)

Every op of the catalogue (``OPS``: the notes' linear, relu, sqerr and mlp, and the course's
sigmoid, tanh, dropout, softmax_xent, hinge, batchnorm, layernorm, conv2d, maxpool2d, embedding,
rnn_step) has its ``check_<op>``, generated from the op's spec, as ``check(op, backward)``: the
upstream gradient first (a float for a loss), the inputs in the protocol's order (labels and
indices as int arrays), the op's settings (``stride``, ``pad``, ``p``, ``eps``, ``pool``) as
keywords; it returns the gradients of the differentiated inputs, a tuple or a single array. The
network's backprop gets its parameters as a dict and may return a dict keyed like it. Each
check's docstring gives its op's arguments and shapes.

``check_op`` also takes the Rust ``OpCheck``'s options as keywords: ``domains``, ``points``,
``rtol``, ``atol``, ``eps``, ``nondet_tol``, ``no_grad``, ``jvp(tangents, *xs)`` (forward mode),
``fast`` and ``shrinkable``.

Each returns a Report: ``str(report)`` is the text report, ``report.passed`` and
``report.verdict`` the outcome, and ``report.assert_correct()`` raises AssertionError with the
report (its first line the verdict), so a pytest test is one line; in a notebook the report shows
as a table. An exception in your function is a finding of the report, with its traceback, and
so is a backward that writes into the arrays it is given (``dout[x <= 0] = 0``). ``serve(...)``
answers the same functions over protocol-v1 for ``gradverify verify --exec``.

The package is typed (``py.typed``, with stubs for the native checks), and ``__version__`` is the
crate's version.
"""

# The generated checks: a check_<op> for every op of the catalogue (their __all__ is the list). The
# module has no __all__ of its own, which mypy could not read through the star import: every name
# here is public, each import re-exported explicitly (`X as X`).
from ._checks import *  # noqa: F403
from ._native import DEFAULT_CASES as DEFAULT_CASES
from ._native import OPS as OPS
from ._native import Report as Report
from ._native import __version__ as __version__
from ._native import check as check
from ._native import check_op as check_op
from ._serve import serve as serve

# The notes call the mlp op the network.
check_network = check_mlp  # noqa: F405
