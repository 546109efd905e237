"""Strategies of calls of ``nn.functional`` beyond the elementwise activations
(autogradx/ops/activations.py, normalization.py, losses.py, conv.py): softmax along any dim,
linear, pad in every mode, layer, batch, instance and group norm, embedding; every loss with
its reductions, weights and options (targets that keep off the kinks of l1, smooth l1 and huber); convolutions with strides,
padding, dilation and groups; pooling with ceil mode (no ties for max pooling)."""

import numpy as np
from hypothesis import strategies as st

from fuzz.calls import (Call, DType, broadcastable_to, const, dim_of, distinct, off_grid,
                        on_grid, options, rngs, shapes, uniform)

F = "nn.functional."
REDUCTIONS = st.sampled_from(["mean", "sum", "none"])


def _values(draw, min_dims=0, max_dims=3, min_side=1, max_side=4):
    return uniform(draw(rngs()), draw(shapes(min_dims, max_dims, min_side, max_side)))


# ---------------------------------------------------------------- activations and layers

@st.composite
def softmax(draw, path):
    x = _values(draw)
    kwargs = {"dtype": DType("float64")} if draw(st.booleans()) else {}
    return Call(draw(st.sampled_from([F + path, path])), x, draw(dim_of(x.ndim)), **kwargs)


@st.composite
def linear(draw):
    rng = draw(rngs())
    n_in, n_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    x = uniform(rng, draw(shapes(0, 2, 1, 3)) + (n_in,))
    bias = draw(st.sampled_from([None, (n_out,), (), (1,)]))
    args = () if bias is None else (uniform(rng, bias),)
    return Call(F + "linear", x, uniform(rng, (n_out, n_in)), *args)


# The ranks pad accepts per number of padded dims in the modes other than constant.
_PAD_RANKS = {1: (2, 3), 2: (3, 4), 3: (4, 5)}


def _pad_limit(mode, side):
    """The largest pad of a dim of size ``side`` that ``mode`` accepts."""
    return {"reflect": side - 1, "circular": side}.get(mode, 2)


@st.composite
def pad(draw):
    """Constant padding (negative pads crop) of any trailing dims; reflect, replicate and
    circular padding of the last 1 to 3 dims of 2-d to 5-d inputs, within their limits."""
    mode = draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    if mode == "constant":
        x = _values(draw, min_dims=1)
        k = draw(st.integers(1, x.ndim))
        low = [-(side // 2) for side in x.shape[::-1][:k]]
        pads = [draw(st.integers(lo, 2)) for lo in low for _ in range(2)]
        return Call(F + "pad", x, tuple(pads), **draw(options(value=st.sampled_from([0.5, -1.0]))))
    k = draw(st.integers(1, 3 if mode != "reflect" else 2))
    rank = draw(st.sampled_from(_PAD_RANKS[k]))
    x = _values(draw, rank, rank, 2 if mode == "reflect" else 1, 3)
    pads = [draw(st.integers(0, _pad_limit(mode, side)))
            for side in x.shape[::-1][:k] for _ in range(2)]
    return Call(F + "pad", x, tuple(pads), mode)


@st.composite
def layer_norm(draw):
    """Layer norm over the last dims; values pairwise apart (a variance near 0 is
    ill-conditioned: float32 results would differ by more than rounding)."""
    rng = draw(rngs())
    x = distinct(rng, draw(shapes(1, 3)))
    k = draw(st.integers(1, x.ndim))
    normalized = x.shape[x.ndim - k:]
    kwargs = draw(options(weight=st.just(uniform(rng, normalized)),
                          bias=st.just(uniform(rng, normalized)),
                          eps=st.sampled_from([1e-5, 1e-3])))
    return Call(F + "layer_norm", x, list(normalized), **kwargs)


def _channels_first(draw, rng, min_dims=2):
    """``(N, C, *)`` values pairwise apart (a variance near 0 is ill-conditioned), at least
    two values per statistic."""
    shape = draw(shapes(min_dims, 4, 1, 3))
    if shape[0] * int(np.prod(shape[2:], dtype=np.int64)) == 1:
        shape = (2,) + shape[1:]
    return distinct(rng, shape)


def _per_channel(draw, rng, c, **more):
    return draw(options(weight=st.just(uniform(rng, (c,))), bias=st.just(uniform(rng, (c,))),
                        eps=st.sampled_from([1e-5, 1e-3]), **more))


@st.composite
def batch_norm(draw):
    """Training (the batch's statistics, running ones updated or absent) or evaluation
    (positive running statistics)."""
    rng = draw(rngs())
    x = _channels_first(draw, rng)
    c = x.shape[1]
    training = draw(st.booleans())
    stats = (const(uniform(rng, (c,))), const(uniform(rng, (c,), 0.5, 2.0)))
    if training and draw(st.booleans()):
        stats = (None, None)
    kwargs = _per_channel(draw, rng, c, momentum=st.sampled_from([0.1, 0.5]))
    return Call(F + "batch_norm", x, *stats, training=training, **kwargs)


@st.composite
def instance_norm(draw):
    rng = draw(rngs())
    x = _channels_first(draw, rng, min_dims=3)
    if x.size // (x.shape[0] * x.shape[1]) == 1:
        x = np.concatenate([x, x[..., :1] * 0.5 + 0.05], axis=-1)
    c = x.shape[1]
    if draw(st.booleans()):
        stats = {"running_mean": const(uniform(rng, (c,))),
                 "running_var": const(uniform(rng, (c,), 0.5, 2.0)),
                 "use_input_stats": draw(st.booleans())}
    else:
        stats = {}
    return Call(F + "instance_norm", x, **stats, **_per_channel(draw, rng, c))


@st.composite
def group_norm(draw):
    rng = draw(rngs())
    groups = draw(st.integers(1, 3))
    shape = draw(shapes(0, 2, 1, 3))
    x = distinct(rng, (draw(st.integers(1, 3)), groups * draw(st.integers(1, 2))) + shape)
    if x.size // (x.shape[0] * groups) == 1:
        x = np.concatenate([x, x * 0.5 + 0.05], axis=1)     # two channels per group
    return Call(F + "group_norm", x, groups, **_per_channel(draw, rng, x.shape[1]))


@st.composite
def embedding(draw):
    rng = draw(rngs())
    n, dim = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    indices = rng.integers(0, n, draw(shapes(0, 2, 0, 4)))
    kwargs = draw(options(padding_idx=st.integers(-n, n - 1),
                          scale_grad_by_freq=st.booleans()))
    # The padding row gets no gradient, and scale_grad_by_freq divides a repeated row's
    # gradient by its count, whatever finite differences say.
    padded = "padding_idx" in kwargs and (kwargs["padding_idx"] % n == indices).any()
    scaled = kwargs.get("scale_grad_by_freq") and len(np.unique(indices)) < indices.size
    return Call(F + "embedding", const(indices), uniform(rng, (n, dim)),
                finite_differences=not (padded or scaled), **kwargs)


# ---------------------------------------------------------------- losses

@st.composite
def bce_with_logits(draw):
    rng = draw(rngs())
    x = _values(draw)
    kwargs = draw(options(reduction=REDUCTIONS,
                          weight=st.just(const(uniform(rng, draw(broadcastable_to(x.shape)),
                                                       0.5, 2.0))),
                          pos_weight=st.just(const(uniform(rng, x.shape[-1:], 0.5, 2.0)))))
    return Call(F + "binary_cross_entropy_with_logits", x, uniform(rng, x.shape, 0, 1), **kwargs)


@st.composite
def bce(draw):
    rng = draw(rngs())
    shape = draw(shapes())
    kwargs = draw(options(reduction=REDUCTIONS,
                          weight=st.just(const(uniform(rng, draw(broadcastable_to(shape)),
                                                       0.5, 2.0)))))
    return Call(F + "binary_cross_entropy", uniform(rng, shape, 0.05, 0.95),
                uniform(rng, shape, 0, 1), **kwargs)


@st.composite
def regression_loss(draw, path):
    """``mse``, ``l1``, ``smooth_l1``, ``huber``: inputs off the 0.5 grid, targets and the
    beta/delta thresholds on it, so no difference sits at a kink; a weight where the loss
    takes one."""
    rng = draw(rngs())
    shape = draw(shapes())
    x, target = off_grid(rng, shape), on_grid(rng, shape)
    extra = {"smooth_l1_loss": {"beta": st.sampled_from([1.0, 0.5, 0.0])},
             "huber_loss": {"delta": st.sampled_from([1.0, 0.5, 1.5])}}.get(path, {})
    if path != "smooth_l1_loss":        # a weight of the input's shape (PyTorch's rule)
        extra["weight"] = st.just(const(uniform(rng, shape, 0.5, 2.0)))
    kwargs = draw(options(reduction=REDUCTIONS, **extra))
    return Call(F + path, x, target, **kwargs)


def class_targets(rng, n, batch, ignore_index):
    """Class indices in ``[0, n)``, some set to ``ignore_index`` but never the first (a mean
    over no target is 0 / 0)."""
    target = rng.integers(0, n, batch)
    flat = target.reshape(-1)
    if ignore_index is not None:
        flat[1:][rng.uniform(size=flat.size - 1) < 0.3] = ignore_index
        if flat[0] == ignore_index:
            flat[0] = (ignore_index + 1) % n
    return const(target)


@st.composite
def classification(draw, path):
    """``nll_loss`` and ``cross_entropy`` on (C,), (N, C) or (N, C, d) inputs: class
    indices (some ignored), or for cross entropy probabilities; weights, reductions, label
    smoothing."""
    rng = draw(rngs())
    n = draw(st.integers(1, 4))
    batch = draw(st.sampled_from([(), (draw(st.integers(1, 3)),),
                                  (draw(st.integers(1, 3)), draw(st.integers(1, 3)))]))
    shape = batch[:1] + (n,) + batch[1:]
    x = uniform(rng, shape)
    if path == "nll_loss":
        x = np.log(uniform(rng, shape, 0.1, 1.0))        # log-probabilities
    kwargs = draw(options(reduction=REDUCTIONS,
                          weight=st.just(const(uniform(rng, (n,), 0.5, 2.0)))))
    if path == "cross_entropy" and draw(st.booleans()):
        kwargs.update(draw(options(label_smoothing=st.sampled_from([0.1, 0.3]))))
        if draw(st.booleans()):
            probs = uniform(rng, shape, 0.1, 1.0)
            return Call(F + path, x, probs / probs.sum(axis=0 if not batch else 1,
                                                     keepdims=True), **kwargs)
    ignore = draw(st.sampled_from([None, -100] + [0] * (n > 1)))
    if ignore is not None:
        kwargs["ignore_index"] = ignore
    target = class_targets(rng, n, batch, ignore)
    return Call(F + path, x, target, **kwargs)


# ---------------------------------------------------------------- convolution and pooling

@st.composite
def conv(draw, d):
    """``conv{d}d``: batched or not, groups of 1 or 2, kernel, stride, dilation and padding
    (numbers, tuples, ``'same'`` with stride 1, ``'valid'``) per spatial dim, bias or not."""
    rng = draw(rngs())
    groups = draw(st.integers(1, 2))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(d))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(d))
    stride = tuple(draw(st.integers(1, 2)) for _ in range(d))
    padding = draw(st.sampled_from(["same", "valid", "numbers"]))
    if padding == "same":
        stride = (1,) * d
    pads = tuple(draw(st.integers(0, (k - 1) * dl // 2)) if padding == "numbers" else 0
                 for k, dl in zip(kernel, dilation))
    reach = [(k - 1) * dl + 1 for k, dl in zip(kernel, dilation)]
    spatial = tuple(max(1, r - 2 * p) + draw(st.integers(0, 2)) for r, p in zip(reach, pads))
    batch = draw(st.sampled_from([(), (draw(st.integers(1, 2)),)]))
    x = uniform(rng, batch + (c_in,) + spatial)
    weight = uniform(rng, (c_out, c_in // groups) + kernel)
    bias = uniform(rng, (c_out,)) if draw(st.booleans()) else None
    kwargs = {"stride": draw(st.sampled_from([stride, stride[0]])) if len(set(stride)) == 1
              else stride,
              "padding": pads if padding == "numbers" else padding,
              "dilation": dilation, "groups": groups}
    return Call(F + f"conv{d}d", x, weight, bias, **kwargs)


@st.composite
def pooling(draw, path):
    """``max_pool2d`` (values without ties), ``max_pool2d_with_indices`` and ``avg_pool2d``
    on (N, C, H, W) or (C, H, W) inputs: kernel, stride, padding up to half the kernel,
    dilation (max), ceil mode, and for avg the count of padding and a divisor."""
    rng = draw(rngs())
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if "max" in path else (1, 1)
    ceil_mode = draw(st.booleans())
    lead = draw(st.sampled_from([(1,), (2,), (1, 2)]))
    # at least one window without padding: one output at least, in either rounding mode
    spatial = tuple(draw(st.integers((k - 1) * dl + 1, 5)) for k, dl in zip(kernel, dilation))
    shape = lead + spatial
    kwargs = {"stride": stride, "padding": padding, "ceil_mode": ceil_mode}
    if "max" in path:
        return Call(F + path, distinct(rng, shape), kernel, dilation=dilation, **kwargs)
    kwargs.update(draw(options(count_include_pad=st.booleans(),
                               divisor_override=st.integers(1, 4))))
    return Call(F + path, uniform(rng, shape), kernel, **kwargs)


CALLS = {
    "softmax": softmax("softmax"),
    "log_softmax": softmax("log_softmax"),
    "linear": linear(),
    "pad": pad(),
    "layer_norm": layer_norm(),
    "embedding": embedding(),
    "batch_norm": batch_norm(),
    "instance_norm": instance_norm(),
    "group_norm": group_norm(),
    "binary_cross_entropy_with_logits": bce_with_logits(),
    "binary_cross_entropy": bce(),
    **{name: regression_loss(name)
       for name in ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss")},
    "nll_loss": classification("nll_loss"),
    "cross_entropy": classification("cross_entropy"),
    **{f"conv{d}d": conv(d) for d in (1, 2, 3)},
    **{name: pooling(name) for name in ("max_pool2d", "max_pool2d_with_indices", "avg_pool2d")},
}
