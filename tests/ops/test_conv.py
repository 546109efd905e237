"""Convolution and pooling on their own: finite-difference gradient checks
(float64) over every option (stride, padding, dilation, groups, bias,
unbatched input, 1-d and 3-d), max pooling's ties and padding, and the
im2col helpers.

Gradcheck cases are one line each: an id, the function, and input specs
(``R(shape)`` random values, ``K(spec)`` a constant). Random values have no
ties, where max pooling is not differentiable; ties are tested by hand below.
The comparison with PyTorch is in ``test_conv_torch.py``.
"""

import numpy as np
import pytest

import autogradx as agx
from autogradx._xp import tensor_namespace
from autogradx.ops import conv as conv_ops
from autogradx.testing import gradcheck, gradgradcheck
from helpers import K, R, case, make_inputs

F = agx.nn.functional


def conv2d(**kw):
    return lambda x, w, *b: F.conv2d(x, w, *b, **kw)


def conv1d(**kw):
    return lambda x, w, *b: F.conv1d(x, w, *b, **kw)


CONV = [
    case("conv2d", conv2d(), R(2, 3, 5, 4), R(4, 3, 3, 2), R(4)),
    case("conv2d-no-bias", conv2d(), R(2, 3, 5, 4), R(4, 3, 3, 2)),
    case("conv2d-stride=2", conv2d(stride=2), R(2, 2, 6, 5), R(3, 2, 3, 3), R(3)),
    case("conv2d-stride=(1,2)", conv2d(stride=(1, 2)), R(1, 2, 5, 6), R(3, 2, 2, 3), R(3)),
    case("conv2d-padding=1", conv2d(padding=1), R(2, 2, 4, 4), R(3, 2, 3, 3), R(3)),
    case("conv2d-padding=(2,0)", conv2d(padding=(2, 0)), R(1, 2, 4, 5), R(3, 2, 3, 3)),
    case("conv2d-padding=valid", conv2d(padding="valid"), R(1, 2, 4, 5), R(3, 2, 3, 3)),
    case("conv2d-padding=same-odd", conv2d(padding="same"), R(2, 2, 4, 5), R(3, 2, 3, 3), R(3)),
    case("conv2d-padding=same-even", conv2d(padding="same"), R(1, 2, 4, 5), R(3, 2, 2, 4)),
    case("conv2d-padding=same-dilation", conv2d(padding="same", dilation=(2, 1)),
         R(1, 2, 5, 4), R(2, 2, 2, 3)),
    case("conv2d-dilation=2", conv2d(dilation=2), R(1, 2, 6, 6), R(3, 2, 2, 3), R(3)),
    case("conv2d-stride-padding-dilation", conv2d(stride=(2, 1), padding=(1, 2), dilation=(2, 1)),
         R(2, 2, 7, 5), R(3, 2, 3, 2), R(3)),
    case("conv2d-groups=2", conv2d(groups=2), R(2, 4, 4, 4), R(6, 2, 2, 3), R(6)),
    case("conv2d-depthwise", conv2d(groups=3, padding=1), R(1, 3, 4, 4), R(6, 1, 3, 3), R(6)),
    case("conv2d-groups-stride-dilation", conv2d(groups=2, stride=2, dilation=2, padding=1),
         R(1, 4, 7, 6), R(4, 2, 2, 2)),
    case("conv2d-1x1", conv2d(), R(2, 3, 2, 3), R(5, 3, 1, 1), R(5)),
    case("conv2d-kernel=input", conv2d(), R(2, 2, 3, 3), R(2, 2, 3, 3), R(2)),
    case("conv2d-unbatched", conv2d(padding=1), R(2, 4, 3), R(3, 2, 3, 3), R(3)),
    case("conv2d-unbatched-groups", conv2d(groups=2, stride=2), R(4, 5, 5), R(2, 2, 2, 2), R(2)),
    case("conv2d-const-weight", conv2d(), R(1, 2, 4, 4), K(R(3, 2, 2, 2)), K(R(3))),
    case("conv2d-const-input", conv2d(padding=1), K(R(1, 2, 4, 4)), R(3, 2, 2, 2), R(3)),
    case("conv1d", conv1d(), R(2, 3, 6), R(4, 3, 3), R(4)),
    case("conv1d-stride-padding", conv1d(stride=2, padding=2), R(2, 2, 7), R(3, 2, 3), R(3)),
    case("conv1d-dilation-groups", conv1d(dilation=2, groups=2), R(1, 4, 8), R(4, 2, 3)),
    case("conv1d-same", conv1d(padding="same", dilation=3), R(1, 2, 7), R(3, 2, 2)),
    case("conv1d-unbatched", conv1d(padding=1), R(2, 5), R(3, 2, 3), R(3)),
    case("conv3d", lambda x, w, b: F.conv3d(x, w, b, stride=(1, 2, 1), padding=(1, 0, 1)),
         R(1, 2, 3, 4, 3), R(2, 2, 2, 2, 2), R(2)),
    case("conv3d-unbatched-groups", lambda x, w: F.conv3d(x, w, groups=2, dilation=(1, 1, 2)),
         R(2, 3, 3, 4), R(4, 1, 2, 2, 2)),
    case("conv2d-twice", lambda x, w1, w2: F.conv2d(F.conv2d(x, w1, padding=1), w2),
         R(1, 2, 4, 4), R(3, 2, 3, 3), R(2, 3, 2, 2)),
]


def max_pool(**kw):
    return lambda x: F.max_pool2d(x, **kw)


def avg_pool(**kw):
    return lambda x: F.avg_pool2d(x, **kw)


POOL = [
    case("max_pool2d-2", max_pool(kernel_size=2), R(2, 3, 4, 6)),
    case("max_pool2d-3-stride=1", max_pool(kernel_size=3, stride=1), R(1, 2, 5, 4)),
    case("max_pool2d-overlapping-stride", max_pool(kernel_size=3, stride=2), R(1, 2, 7, 6)),
    case("max_pool2d-padding", max_pool(kernel_size=3, stride=2, padding=1), R(1, 2, 5, 6)),
    case("max_pool2d-(3,2)-padding-(1,0)", max_pool(kernel_size=(3, 2), padding=(1, 0)),
         R(2, 1, 6, 5)),
    case("max_pool2d-dilation", max_pool(kernel_size=2, stride=1, dilation=2), R(1, 2, 5, 5)),
    case("max_pool2d-dilation-padding", max_pool(kernel_size=3, dilation=(2, 1), padding=1),
         R(1, 2, 7, 5)),
    case("max_pool2d-ceil_mode", max_pool(kernel_size=2, ceil_mode=True), R(1, 2, 5, 5)),
    case("max_pool2d-ceil_mode-padding", max_pool(kernel_size=3, stride=2, padding=1,
                                                  ceil_mode=True), R(1, 2, 6, 6)),
    case("max_pool2d-unbatched", max_pool(kernel_size=2, stride=1), R(2, 3, 4)),
    case("max_pool2d-with_indices", lambda x: F.max_pool2d_with_indices(x, 2, padding=1)[0],
         R(1, 2, 4, 5)),
    case("avg_pool2d-2", avg_pool(kernel_size=2), R(2, 3, 4, 6)),
    case("avg_pool2d-3-stride=1", avg_pool(kernel_size=3, stride=1), R(1, 2, 5, 4)),
    case("avg_pool2d-padding", avg_pool(kernel_size=3, stride=2, padding=1), R(1, 2, 5, 6)),
    case("avg_pool2d-padding-exclude", avg_pool(kernel_size=3, stride=2, padding=1,
                                                count_include_pad=False), R(1, 2, 5, 6)),
    case("avg_pool2d-ceil_mode", avg_pool(kernel_size=2, ceil_mode=True), R(1, 2, 5, 5)),
    case("avg_pool2d-ceil_mode-padding-exclude",
         avg_pool(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
         R(1, 2, 6, 6)),
    case("avg_pool2d-(3,2)-(1,2)", avg_pool(kernel_size=(3, 2), stride=(1, 2), padding=(1, 0)),
         R(2, 1, 5, 5)),
    case("avg_pool2d-divisor_override", avg_pool(kernel_size=2, divisor_override=3),
         R(1, 2, 4, 4)),
    case("avg_pool2d-unbatched", avg_pool(kernel_size=2, stride=1, padding=1), R(2, 3, 4)),
    case("conv-relu-pool", lambda x, w: F.avg_pool2d(F.max_pool2d(F.conv2d(x, w), 2), 1),
         R(1, 2, 5, 5), R(3, 2, 2, 2)),
]

ALL = CONV + POOL


@pytest.mark.parametrize("fn, specs", ALL)
def test_gradcheck(fn, specs):
    assert gradcheck(fn, make_inputs(specs, seed=1234))


@pytest.mark.parametrize("fn, specs", [
    case("conv2d-groups", conv2d(groups=2, padding=1), R(1, 4, 3, 3), R(4, 2, 2, 2), R(4)),
    case("max_pool2d", max_pool(kernel_size=2), R(1, 2, 4, 4)),
    case("avg_pool2d", avg_pool(kernel_size=3, padding=1, stride=2), R(1, 2, 5, 5)),
])
def test_gradcheck_float32_inputs(fn, specs):
    rng = np.random.default_rng(1234)
    inputs = tuple(s.make(rng).to(agx.float32).detach().requires_grad_(s.requires_grad)
                   for s in specs)
    assert gradcheck(fn, inputs)


# Gradients of gradients (create_graph=True): the vjps run again on tensors.
SECOND_ORDER = [
    case("conv2d-all", conv2d(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2),
         R(1, 4, 5, 5), R(2, 2, 2, 2), R(2)),
    case("conv2d-same-unbatched", conv2d(padding="same"), R(2, 3, 3), R(2, 2, 2, 2)),
    case("conv1d", conv1d(stride=2, padding=1), R(2, 2, 5), R(3, 2, 2), R(3)),
    case("max_pool2d", lambda x: F.max_pool2d(x * x, 3, stride=2, padding=1, ceil_mode=True),
         R(1, 2, 4, 5)),
    case("avg_pool2d", lambda x: F.avg_pool2d(x * x, 3, stride=2, padding=1,
                                              count_include_pad=False), R(2, 4, 5)),
]


@pytest.mark.parametrize("fn, specs", SECOND_ORDER)
def test_gradgradcheck(fn, specs):
    assert gradgradcheck(fn, make_inputs(specs, seed=1234), n_directions=2)


def test_every_op_is_covered():
    ids = " ".join(p.id for p in ALL)
    for name in ("conv1d", "conv2d", "conv3d", "max_pool2d", "avg_pool2d", "with_indices"):
        assert name in ids, name


# ---------------------------------------------------------------- by hand

def test_conv2d_is_a_cross_correlation():
    x = agx.tensor(np.arange(16.0).reshape(1, 1, 4, 4), dtype=agx.float32)
    w = agx.tensor([[[[1.0, 0.0], [0.0, -1.0]]]])
    # each output is x[i, j] - x[i + 1, j + 1] = -5
    assert F.conv2d(x, w).tolist() == [[[[-5.0] * 3] * 3]]
    assert F.conv2d(x, w, stride=2, padding=1).tolist() == [[[[0.0, -2.0, 0.0],
                                                               [-8.0, -5.0, 7.0],
                                                               [0.0, 13.0, 15.0]]]]


def test_max_pool_ties_send_the_gradient_to_the_first_maximum():
    x = agx.tensor([[[[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]]], requires_grad=True)
    out, index = F.max_pool2d_with_indices(x, 2, 1)
    assert index.tolist() == [[[[0, 1], [3, 4]]]]
    out.sum().backward()
    assert x.grad.tolist() == [[[[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]]]


def test_max_pool_padding_is_never_the_maximum():
    # windows of -inf only point at their first element inside the input: the window
    # at (0, 0) covers rows and columns -1 and 1, so its first element is (1, 1)
    x = agx.full((1, 1, 3, 3), -float("inf"), requires_grad=True)
    out, index = F.max_pool2d_with_indices(x, 2, 1, padding=1, dilation=2)
    assert index.tolist() == [[[[4, 3, 4], [1, 0, 1], [4, 3, 4]]]]
    out.sum().backward()
    assert x.grad.sum().item() == 9.0


def test_max_pool_overlapping_windows_add_their_gradients():
    x = agx.tensor([[[[0.0, 0.0, 0.0], [0.0, 5.0, 0.0], [0.0, 0.0, 0.0]]]], requires_grad=True)
    F.max_pool2d(x, 2, 1).sum().backward()
    assert x.grad[0, 0, 1, 1].item() == 4.0


def test_avg_pool_integer_input_rounds_toward_zero():
    x = agx.tensor([[[[1, 2], [3, 5]]]])
    assert F.avg_pool2d(x, 2).tolist() == [[[[2]]]]
    assert F.avg_pool2d(-x, 2).tolist() == [[[[-2]]]]
    assert F.avg_pool2d(x, 2).dtype == agx.int64


@pytest.mark.parametrize("stride, dilation", [((1, 1), (1, 1)), ((2, 1), (1, 2)), ((3, 2), (2, 3))],
                         ids=["plain", "strided-dilated", "wide"])
def test_col2im_is_the_adjoint_of_the_windows(stride, dilation):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 9, 8))
    out = tuple((n - (k - 1) * d - 1) // s + 1
                for n, k, s, d in zip((9, 8), (2, 3), stride, dilation))
    win = conv_ops._windows(np, x, (2, 3), stride, dilation, out)      # (N, C, *kernel, *out)
    cols = rng.standard_normal(win.shape)
    back = conv_ops._col2im(np, cols, x.shape[2:], stride, dilation)
    np.testing.assert_allclose(np.sum(win * cols), np.sum(x * back))


def test_windows_of_tensors_match_the_strided_view():
    # the path vjps take when differentiated with create_graph=True
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 8))
    view = conv_ops._windows(np, x, (2, 3), (2, 1), (1, 2), (3, 4))
    stacked = conv_ops._windows(tensor_namespace, agx.tensor(x), (2, 3), (2, 1), (1, 2),
                                (3, 4))
    np.testing.assert_array_equal(stacked.numpy(), view)
