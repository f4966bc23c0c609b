"""The check of every op of the catalogue, one function each, generated from the op specs by
``gradverify._native.checks_source()`` (python/tests/test_catalogue.py keeps this file equal to
it): do not edit it by hand; regenerate it with
``python -c "import gradverify._native as n; print(n.checks_source(), end='')" > python/gradverify/_checks.py``."""

from collections.abc import Callable, Mapping, Sequence

from numpy.typing import ArrayLike

from ._native import Report, check
from ._types import Array, Indices

__all__: tuple[str, ...] = (
    "check_linear",
    "check_relu",
    "check_sqerr",
    "check_mlp",
    "check_sigmoid",
    "check_tanh",
    "check_dropout",
    "check_softmax_xent",
    "check_hinge",
    "check_batchnorm",
    "check_layernorm",
    "check_conv2d",
    "check_maxpool2d",
    "check_embedding",
    "check_rnn_step",
)


def check_linear(
    backward: Callable[[Array, Array, Array, Array], tuple[ArrayLike, ArrayLike, ArrayLike]],
    *,
    cases: int | None = None,
    seed: int = 0,
) -> Report:
    """Checks ``backward(grad_out, h, W, b) -> (dL/dh, dL/dW, dL/db)`` of the catalogue's ``linear``, as ``check("linear", backward)``.

    Arguments: grad_out [B, Dout]; h [B, Din]; W [Din, Dout]; b [Dout].
    """
    return check("linear", backward, cases=cases, seed=seed)


def check_relu(
    backward: Callable[[Array, Array], ArrayLike],
    *,
    cases: int | None = None,
    seed: int = 0,
) -> Report:
    """Checks ``backward(grad_out, a) -> dL/da`` of the catalogue's ``relu``, as ``check("relu", backward)``.

    Arguments: grad_out [B, D]; a [B, D].
    """
    return check("relu", backward, cases=cases, seed=seed)


def check_sqerr(
    backward: Callable[[float, Array, Array], tuple[ArrayLike, ArrayLike]],
    *,
    cases: int | None = None,
    seed: int = 0,
) -> Report:
    """Checks ``backward(grad_out, f, y) -> (dL/df, dL/dy)`` of the catalogue's ``sqerr``, as ``check("sqerr", backward)``.

    Arguments: grad_out a float, dL/dL; f [B, D]; y [B, D].
    """
    return check("sqerr", backward, cases=cases, seed=seed)


def check_mlp(
    backprop: Callable[[Array, Array, dict[str, Array]], Sequence[ArrayLike] | Mapping[str, ArrayLike]],
    *,
    cases: int | None = None,
    seed: int = 0,
) -> Report:
    """Checks ``backprop(x, y, params) -> (dL/dW1, dL/db1, dL/dW2, dL/db2, dL/dW3, dL/db3), or a dict keyed like params`` of the catalogue's ``mlp``, as ``check("mlp", backprop)``.

    Arguments: x [B, D0]; y [B, D3]; params {W1 [D0, D1], b1 [D1], W2 [D1, D2], b2 [D2], W3 [D2, D3], b3 [D3]}.
    """
    return check("mlp", backprop, cases=cases, seed=seed)


def check_sigmoid(
    backward: Callable[[Array, Array], ArrayLike],
    *,
    cases: int | None = None,
    seed: int = 0,
) -> Report:
    """Checks ``backward(grad_out, a) -> dL/da`` of the catalogue's ``sigmoid``, as ``check("sigmoid", backward)``.

    Arguments: grad_out [B, D]; a [B, D].
    """
    return check("sigmoid", backward, cases=cases, seed=seed)


def check_tanh(
    backward: Callable[[Array, Array], ArrayLike],
    *,
    cases: int | None = None,
    seed: int = 0,
) -> Report:
    """Checks ``backward(grad_out, a) -> dL/da`` of the catalogue's ``tanh``, as ``check("tanh", backward)``.

    Arguments: grad_out [B, D]; a [B, D].
    """
    return check("tanh", backward, cases=cases, seed=seed)


def check_dropout(
    backward: Callable[..., ArrayLike],
    *,
    cases: int | None = None,
    seed: int = 0,
) -> Report:
    """Checks ``backward(grad_out, x, mask, *, p) -> dL/dx`` of the catalogue's ``dropout``, as ``check("dropout", backward)``.

    Arguments: grad_out [B, D]; x [B, D]; mask [B, D]. Keywords: ``p`` (a float).
    """
    return check("dropout", backward, cases=cases, seed=seed)


def check_softmax_xent(
    backward: Callable[[float, Array, Indices], ArrayLike],
    *,
    cases: int | None = None,
    seed: int = 0,
) -> Report:
    """Checks ``backward(grad_out, z, labels) -> dL/dz`` of the catalogue's ``softmax_xent``, as ``check("softmax_xent", backward)``.

    Arguments: grad_out a float, dL/dL; z [B, C]; labels [B] of whole numbers.
    """
    return check("softmax_xent", backward, cases=cases, seed=seed)


def check_hinge(
    backward: Callable[[float, Array, Indices], ArrayLike],
    *,
    cases: int | None = None,
    seed: int = 0,
) -> Report:
    """Checks ``backward(grad_out, z, labels) -> dL/dz`` of the catalogue's ``hinge``, as ``check("hinge", backward)``.

    Arguments: grad_out a float, dL/dL; z [B, C]; labels [B] of whole numbers.
    """
    return check("hinge", backward, cases=cases, seed=seed)


def check_batchnorm(
    backward: Callable[..., tuple[ArrayLike, ArrayLike, ArrayLike]],
    *,
    cases: int | None = None,
    seed: int = 0,
) -> Report:
    """Checks ``backward(grad_out, x, gamma, beta, *, eps) -> (dL/dx, dL/dgamma, dL/dbeta)`` of the catalogue's ``batchnorm``, as ``check("batchnorm", backward)``.

    Arguments: grad_out [B, D]; x [B, D]; gamma [D]; beta [D]. Keywords: ``eps`` (a float, 0.00001 by default).
    """
    return check("batchnorm", backward, cases=cases, seed=seed)


def check_layernorm(
    backward: Callable[..., tuple[ArrayLike, ArrayLike, ArrayLike]],
    *,
    cases: int | None = None,
    seed: int = 0,
) -> Report:
    """Checks ``backward(grad_out, x, gamma, beta, *, eps) -> (dL/dx, dL/dgamma, dL/dbeta)`` of the catalogue's ``layernorm``, as ``check("layernorm", backward)``.

    Arguments: grad_out [B, D]; x [B, D]; gamma [D]; beta [D]. Keywords: ``eps`` (a float, 0.00001 by default).
    """
    return check("layernorm", backward, cases=cases, seed=seed)


def check_conv2d(
    backward: Callable[..., tuple[ArrayLike, ArrayLike, ArrayLike]],
    *,
    cases: int | None = None,
    seed: int = 0,
) -> Report:
    """Checks ``backward(grad_out, x, w, b, *, stride, pad) -> (dL/dx, dL/dw, dL/db)`` of the catalogue's ``conv2d``, as ``check("conv2d", backward)``.

    Arguments: grad_out [N, F, Ho, Wo]; x [N, C, H, W]; w [F, C, HH, WW]; b [F]. Keywords: ``stride`` (an int), ``pad`` (an int).
    """
    return check("conv2d", backward, cases=cases, seed=seed)


def check_maxpool2d(
    backward: Callable[..., ArrayLike],
    *,
    cases: int | None = None,
    seed: int = 0,
) -> Report:
    """Checks ``backward(grad_out, x, *, pool, stride) -> dL/dx`` of the catalogue's ``maxpool2d``, as ``check("maxpool2d", backward)``.

    Arguments: grad_out [N, C, Ho, Wo]; x [N, C, H, W]. Keywords: ``pool`` (an int), ``stride`` (an int).
    """
    return check("maxpool2d", backward, cases=cases, seed=seed)


def check_embedding(
    backward: Callable[[Array, Array, Indices], ArrayLike],
    *,
    cases: int | None = None,
    seed: int = 0,
) -> Report:
    """Checks ``backward(grad_out, W, idx) -> dL/dW`` of the catalogue's ``embedding``, as ``check("embedding", backward)``.

    Arguments: grad_out [B, D]; W [V, D]; idx [B] of whole numbers.
    """
    return check("embedding", backward, cases=cases, seed=seed)


def check_rnn_step(
    backward: Callable[[Array, Array, Array, Array, Array, Array], tuple[ArrayLike, ArrayLike, ArrayLike, ArrayLike, ArrayLike]],
    *,
    cases: int | None = None,
    seed: int = 0,
) -> Report:
    """Checks ``backward(grad_out, x, h, Wx, Wh, b) -> (dL/dx, dL/dh, dL/dWx, dL/dWh, dL/db)`` of the catalogue's ``rnn_step``, as ``check("rnn_step", backward)``.

    Arguments: grad_out [B, H]; x [B, D]; h [B, H]; Wx [D, H]; Wh [H, H]; b [H].
    """
    return check("rnn_step", backward, cases=cases, seed=seed)
