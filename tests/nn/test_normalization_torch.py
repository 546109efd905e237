"""Batch, instance and group normalisation in training against PyTorch's: the same layer
(weights copied across), several training steps, then evaluation. Outputs, gradients and
the running statistics (``running_mean``, ``running_var``, ``num_batches_tracked``) must
match after every step; bad calls raise PyTorch's errors. (Evaluation mode alone, and the
reprs: test_modules_torch.py; finite differences: the ops' conformance samples and fuzz.)"""

import numpy as np
import pytest

import autogradx as agx
from autogradx import nn

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

TOL = dict(rtol=1e-9, atol=1e-11)


def _pair(make):
    ours, theirs = make(nn).double(), make(torch.nn).double()
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                            for k, v in ours.state_dict().items()})
    return ours, theirs


def _step(ours, theirs, x, rng):
    xs, ts = agx.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = ours(xs), theirs(ts)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), **TOL)
    assert out.grad_fn.name() == expected.grad_fn.name()
    g = rng.standard_normal(tuple(expected.shape))
    out.backward(agx.tensor(g))
    expected.backward(torch.tensor(g))
    np.testing.assert_allclose(xs.grad.numpy(), ts.grad.numpy(), **TOL)
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs_params[name].grad.numpy(), **TOL,
                                   err_msg=name)
    theirs_buffers = dict(theirs.named_buffers())
    assert sorted(dict(ours.named_buffers())) == sorted(theirs_buffers)
    for name, b in ours.named_buffers():
        np.testing.assert_allclose(b.numpy(), theirs_buffers[name].numpy(), **TOL, err_msg=name)
        assert str(b.dtype) == str(theirs_buffers[name].dtype)


@pytest.mark.parametrize("make, shape", [
    (lambda nn: nn.BatchNorm1d(3), (4, 3)),
    (lambda nn: nn.BatchNorm1d(3, momentum=0.5, eps=1e-3), (2, 3, 5)),
    (lambda nn: nn.BatchNorm1d(3, momentum=None), (4, 3)),
    (lambda nn: nn.BatchNorm1d(3, track_running_stats=False), (4, 3, 2)),
    (lambda nn: nn.BatchNorm1d(3, affine=False), (5, 3)),
    (lambda nn: nn.BatchNorm2d(2, bias=False), (2, 2, 3, 4)),
    (lambda nn: nn.BatchNorm3d(2, momentum=None), (2, 2, 2, 3, 2)),
    (lambda nn: nn.InstanceNorm1d(3, affine=True), (2, 3, 5)),
    (lambda nn: nn.InstanceNorm1d(3, track_running_stats=True), (3, 5)),
    (lambda nn: nn.InstanceNorm2d(2, affine=True, track_running_stats=True, momentum=0.3),
     (3, 2, 3, 3)),
    (lambda nn: nn.InstanceNorm3d(2), (1, 2, 2, 2, 3)),
    (lambda nn: nn.GroupNorm(3, 6), (2, 6, 4)),
    (lambda nn: nn.GroupNorm(1, 2, eps=1e-3, bias=False), (3, 2, 2, 2)),
], ids=["BatchNorm1d", "BatchNorm1d-3d", "BatchNorm1d-cumulative", "BatchNorm1d-no-stats",
        "BatchNorm1d-no-affine", "BatchNorm2d", "BatchNorm3d-cumulative", "InstanceNorm1d",
        "InstanceNorm1d-unbatched-stats", "InstanceNorm2d-stats", "InstanceNorm3d",
        "GroupNorm", "GroupNorm-one-group"])
def test_training_steps_then_evaluation_match_torch(make, shape):
    rng = np.random.default_rng(0)
    ours, theirs = _pair(make)
    for _ in range(3):
        _step(ours, theirs, rng.normal(1.0, 2.0, shape), rng)
    ours.eval()
    theirs.eval()
    _step(ours, theirs, rng.normal(1.0, 2.0, shape), rng)


def test_reset_running_stats_matches_torch():
    rng = np.random.default_rng(1)
    ours, theirs = _pair(lambda nn: nn.BatchNorm1d(2))
    _step(ours, theirs, rng.standard_normal((3, 2)), rng)
    ours.reset_running_stats()
    theirs.reset_running_stats()
    for (name, b), t in zip(ours.named_buffers(), theirs.buffers()):
        np.testing.assert_array_equal(b.numpy(), t.numpy(), err_msg=name)


def test_functional_batch_norm_updates_the_running_statistics_in_place():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 3, 2))
    mean, var = agx.zeros(3, dtype=agx.float64), agx.ones(3, dtype=agx.float64)
    tmean, tvar = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    nn.functional.batch_norm(agx.tensor(x), mean, var, training=True, momentum=0.25)
    torch.nn.functional.batch_norm(torch.tensor(x), tmean, tvar, training=True, momentum=0.25)
    np.testing.assert_allclose(mean.numpy(), tmean.numpy(), **TOL)
    np.testing.assert_allclose(var.numpy(), tvar.numpy(), **TOL)
    assert mean._version == tmean._version     # PyTorch does not count this write


@pytest.mark.parametrize("dtypes", [("float16", "float32"), ("float32", "float16"),
                                    ("float64", "float32")])
@pytest.mark.parametrize("fn", ["batch_norm", "instance_norm", "group_norm"])
def test_mixed_dtypes_match_torch(fn, dtypes):
    x = np.random.default_rng(3).standard_normal((2, 2, 3))
    results = []
    for lib in (agx, torch):
        xs = lib.tensor(x, dtype=getattr(lib, dtypes[0]))
        w = lib.ones(2, dtype=getattr(lib, dtypes[1]))
        call = {"batch_norm": lambda: lib.nn.functional.batch_norm(xs, None, None, w, w, True),
                "instance_norm": lambda: lib.nn.functional.instance_norm(xs, weight=w),
                "group_norm": lambda: lib.nn.functional.group_norm(xs, 1, w)}[fn]
        try:
            out = call()
        except RuntimeError as e:
            results.append(str(e))
        else:
            results.append((str(out.dtype), out.float().detach().numpy().round(2).tolist()))
    assert results[0] == results[1]


@pytest.mark.parametrize("fn", ["layer_norm", "batch_norm", "instance_norm", "group_norm"])
def test_float16_is_computed_in_float32(fn):
    """float16 input, weight and bias give float16 results and gradients within float16's
    rounding of PyTorch's float64 computation on the same (float16) values. Far from 0
    (float16's spacing at 300 is 0.25) a mean or centring in float16 would be off by more.
    (PyTorch's own float16 gradients are not that close: its layer_norm's input
    gradient is off by 0.07 here.)"""
    rng = np.random.default_rng(4)
    x, w, b = rng.normal(300.0, 1.0, (4, 2, 64)), rng.normal(1, 0.5, 64), rng.normal(0, 1, 64)
    g = rng.standard_normal((4, 2, 64))
    got = []
    for lib, dtype in ((agx, agx.float16), (torch, torch.float64)):
        xs, ws, bs = (lib.tensor(np.float16(v), dtype=dtype, requires_grad=True)
                      for v in (x, w, b))
        F = lib.nn.functional
        ch = (ws[:2], bs[:2])
        out = {"layer_norm": lambda: F.layer_norm(xs, (64,), ws, bs),
               "batch_norm": lambda: F.batch_norm(xs, None, None, *ch, training=True),
               "instance_norm": lambda: F.instance_norm(xs, weight=ch[0], bias=ch[1]),
               "group_norm": lambda: F.group_norm(xs, 2, *ch)}[fn]()
        out.backward(lib.tensor(np.float16(g), dtype=dtype))
        got.append([t.detach().numpy().astype(np.float64) for t in (out, xs.grad, ws.grad, bs.grad)])
        assert out.dtype == dtype and xs.grad.dtype == dtype
    for ours, exact, what in zip(*got, ("output", "input", "weight", "bias")):
        np.testing.assert_allclose(ours, exact, rtol=2e-3, atol=2e-3, err_msg=what)


F_ERRORS = [
    ("batch_norm", lambda F, lib: F.batch_norm(lib.ones(1, 3), None, None, training=True)),
    ("batch_norm", lambda F, lib: F.batch_norm(lib.ones(4, 3, 5), lib.zeros(4), lib.ones(4),
                                               training=True)),
    ("batch_norm", lambda F, lib: F.batch_norm(lib.ones(4, 3), None, None, lib.ones(4),
                                               training=True)),
    ("batch_norm", lambda F, lib: F.batch_norm(lib.ones(4, 3), None, None, training=False)),
    ("batch_norm", lambda F, lib: F.batch_norm(lib.ones(4, 3), lib.zeros(3), None)),
    ("batch_norm", lambda F, lib: F.batch_norm(lib.ones(3), None, None, training=True)),
    ("batch_norm", lambda F, lib: F.batch_norm(lib.ones(2, 3, dtype=lib.int64), None, None,
                                               training=True)),
    ("instance_norm", lambda F, lib: F.instance_norm(lib.ones(2, 3, 1))),
    ("instance_norm", lambda F, lib: F.instance_norm(lib.ones(2, 3, 4), use_input_stats=False)),
    ("group_norm", lambda F, lib: F.group_norm(lib.ones(4, 3, 5), 2)),
    ("group_norm", lambda F, lib: F.group_norm(lib.ones(4, 3, 5), 3, lib.ones(2))),
    ("group_norm", lambda F, lib: F.group_norm(lib.ones(3), 1)),
    ("BatchNorm1d", lambda F, lib: lib.nn.BatchNorm1d(3)(lib.ones(2, 3, 4, 5))),
    ("BatchNorm2d", lambda F, lib: lib.nn.BatchNorm2d(3)(lib.ones(2, 3, 4))),
    ("BatchNorm3d", lambda F, lib: lib.nn.BatchNorm3d(3)(lib.ones(2, 3, 4))),
    ("InstanceNorm2d", lambda F, lib: lib.nn.InstanceNorm2d(3)(lib.ones(3, 4))),
    ("InstanceNorm1d", lambda F, lib: lib.nn.InstanceNorm1d(3, affine=True)(lib.ones(2, 4, 5))),
    ("GroupNorm", lambda F, lib: lib.nn.GroupNorm(2, 3)),
]


@pytest.mark.parametrize("call", [c for _, c in F_ERRORS], ids=[n for n, _ in F_ERRORS])
def test_errors_match_torch(call):
    with pytest.raises(Exception) as theirs:
        call(torch.nn.functional, torch)
    with pytest.raises(type(theirs.value)) as ours:
        call(nn.functional, agx)
    assert str(ours.value) == str(theirs.value)


def test_instance_norm_warns_like_torch_on_a_channel_count_it_does_not_use():
    with pytest.warns(UserWarning) as theirs:
        torch.nn.InstanceNorm1d(3)(torch.ones(2, 4, 5))
    with pytest.warns(UserWarning) as ours:
        nn.InstanceNorm1d(3)(agx.ones(2, 4, 5))
    assert str(ours[0].message) == str(theirs[0].message)
