"""Fused CUDA kernels that replace a shared op for CuPy arrays.

A shared op written with ``xp`` calls launches one kernel per call:
``sigmoid`` as ``exp(-|x|)``, ``where``, ``+``, ``/`` is four launches and
three temporaries; ``binary_cross_entropy_with_logits`` more. Each override
here keeps the op's contract (inputs, saved values, promotion, node name) and
computes the elementwise part in one ``cupy.ElementwiseKernel``. Kernels are
compiled on first use.

Gradients of gradients run the vjps on tensors (``create_graph=True``): the
fused vjps then fall back to the same formula written with operators, which
autogradx records.
"""

import functools

from autogradx.plugin import Op

# sigmoid(x) = 1 / (1 + exp(-x)), split by sign so that exp never overflows.
_SIGMOID = """
    T e = exp(x < 0 ? x : -x);
    y = (x < 0 ? e : (T)1) / ((T)1 + e);
"""
_SIGMOID_GRAD = "dx = g * y * ((T)1 - y);"

# The loss of BCE with logits: (1 - t) x + softplus(-x), where
# softplus(-x) = max(-x, 0) + log1p(exp(-|x|)) never overflows.
_BCE_LOGITS = """
    T ax = x < 0 ? -x : x;
    loss = ((T)1 - t) * x + (x < 0 ? -x : (T)0) + log1p(exp(-ax));
"""


def overrides(cupy):
    """The ``(op name, "cupy", Op)`` overrides of the CuPy plugin."""
    kernel = functools.lru_cache(maxsize=None)(
        lambda name: _KERNELS[name](cupy.ElementwiseKernel))
    return [
        ("sigmoid", "cupy", _sigmoid_op(cupy, kernel)),
        ("binary_cross_entropy_with_logits", "cupy", _bce_logits_op(cupy, kernel)),
    ]


_KERNELS = {
    "sigmoid": lambda K: K("T x", "T y", _SIGMOID, "autogradx_sigmoid"),
    "sigmoid_grad": lambda K: K("T g, T y", "T dx", _SIGMOID_GRAD, "autogradx_sigmoid_grad"),
    "bce_logits": lambda K: K("T x, T t", "T loss", _BCE_LOGITS, "autogradx_bce_logits"),
}


def _sigmoid_op(cupy, kernel):
    def forward(xp, x):
        """``1 / (1 + exp(-x))`` in one kernel (complex numbers, which have no order for
        the kernel's split by sign, by the formula)."""
        if x.dtype.kind == "c":
            return 1 / (1 + xp.exp(-x))
        return kernel("sigmoid")(x)

    def vjp(xp, g, result):
        if (isinstance(g, cupy.ndarray) and isinstance(result, cupy.ndarray)
                and g.dtype == result.dtype and g.dtype.kind != "c"):
            return kernel("sigmoid_grad")(g, result)
        return g * result * (1 - result)    # on tensors (create_graph), or mixed dtypes

    return Op("sigmoid", forward, vjp={"input": vjp}, promote="float", namespace=None,
              grad_fn="SigmoidBackward0")


def _shared_bce_logits():
    """The shared op this plugin overrides, looked up when called (the registry is loaded
    by then: the plugin is loaded while it loads)."""
    import autogradx.nn.functional
    return autogradx.nn.functional.binary_cross_entropy_with_logits


def _bce_logits_op(cupy, kernel):
    def forward(xp, x, target, weight=None, size_average=None, reduce=None, reduction="mean",
                pos_weight=None):
        """BCE with logits; the plain case (no weights, legacy arguments) in one kernel."""
        plain = (weight is None and pos_weight is None and size_average is None
                 and reduce is None and isinstance(target, cupy.ndarray)
                 and x.shape == target.shape and x.dtype == target.dtype
                 and x.dtype.kind != "c"        # the shared op refuses it, as PyTorch
                 and reduction in ("mean", "sum", "none"))
        if not plain:
            return _shared_bce_logits().forward(xp, x, target, weight, size_average, reduce,
                                                reduction, pos_weight)
        loss = kernel("bce_logits")(x, target)
        if reduction == "none":
            return loss
        return loss.mean() if reduction == "mean" else loss.sum()

    # The forward computes the same value from the same inputs, so the shared formulas
    # (looked up at call time) stay valid; each reads what the shared one reads.
    def grad_input(xp, g, input, target, weight=None, **params):
        return _shared_bce_logits().vjps[0](xp, g, input, target, weight, **params)

    def grad_target(xp, g, input, weight=None, **params):
        return _shared_bce_logits().vjps[1](xp, g, input, weight, **params)

    return Op("binary_cross_entropy_with_logits", forward, inputs=("input", "target", "weight"),
              promote="elementwise", namespace=None,
              grad_fn="BinaryCrossEntropyWithLogitsBackward0",
              vjp={"input": grad_input, "target": grad_target})
