"""utils.checkpoint: the same gradients as without it, the random state replayed, and less
memory kept by the graph."""

import gc
import tracemalloc
import warnings

import numpy as np
import pytest

import autogradx as agx
from autogradx.utils.checkpoint import checkpoint as _checkpoint
from helpers import arr, backward_cycle_warning
from helpers import float_tensor as t


def checkpoint(function, *args, **kwargs):
    """The checkpoint under test, saying which behaviour it wants (leaving it out warns)."""
    kwargs.setdefault("use_reentrant", True)
    return _checkpoint(function, *args, **kwargs)


F = agx.nn.functional


X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
W = np.array([[1.0, -0.5], [0.3, 2.0], [-1.2, 0.7]])


def block(x, w):
    return (x @ w).tanh() * x.sum(1, keepdim=True) + (x ** 2).mean()


def grads_of(fn, use_checkpoint, *values):
    leaves = [t(v) for v in values]
    out = checkpoint(fn, *leaves) if use_checkpoint else fn(*leaves)
    (out * out).sum().backward()
    return [arr(x.grad) for x in leaves], arr(out)


# ------------------------------------------------------------------ gradients

def test_same_values_and_gradients_as_without():
    (plain, out_plain), (ckpt, out_ckpt) = (grads_of(block, flag, X, W) for flag in (False, True))
    np.testing.assert_array_equal(out_plain, out_ckpt)
    for a, b in zip(plain, ckpt):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)


def test_the_output_has_a_checkpoint_node_with_edges_to_the_inputs():
    x, w = t(X), t(W, requires_grad=False)
    y = checkpoint(block, x * 1, w)
    assert y.grad_fn.name() == "CheckpointFunctionBackward"
    (first, _), (second, _) = y.grad_fn.next_functions
    assert first.name() == "MulBackward0" and second is None


def test_several_outputs_non_tensor_arguments_and_keywords():
    def fn(x, scale, mode, *, shift):
        assert mode == "both"
        return x * scale + shift, (x * x).sum(), 7

    x = t(X)
    a, b, seven = checkpoint(fn, x, 3.0, "both", shift=1.0)
    assert seven == 7
    (a.sum() + b).backward()
    np.testing.assert_allclose(arr(x.grad), 3.0 + 2 * X)


def test_only_the_inputs_that_require_grad_get_gradients():
    x, w = t(X), t(W, requires_grad=False)
    checkpoint(block, x, w).sum().backward()
    assert x.grad is not None and w.grad is None


def test_parameters_the_function_closes_over_get_gradients():
    w = t(W)
    x = t(X)
    checkpoint(lambda a: block(a, w), x).sum().backward()
    w_plain, x_plain = t(W), t(X)
    block(x_plain, w_plain).sum().backward()
    np.testing.assert_allclose(arr(w.grad), arr(w_plain.grad), rtol=1e-14)
    np.testing.assert_allclose(arr(x.grad), arr(x_plain.grad), rtol=1e-14)


@pytest.mark.torch
@pytest.mark.parametrize("call", [
    lambda lib, y, x: lib.autograd.grad(y, (x,)),
    lambda lib, y, x: lib.autograd.grad(y, (x,), create_graph=True),
    lambda lib, y, x: y.backward(inputs=(x,)),
], ids=["grad", "grad-create-graph", "backward-inputs"])
def test_a_backward_to_chosen_inputs_is_refused_as_in_torch(call):
    torch = pytest.importorskip("torch")
    from torch.utils.checkpoint import checkpoint as torch_checkpoint
    from torch_compare import error_of

    def run(lib, ckpt):
        x = t(X, lib=lib)
        error = error_of(lambda: call(lib, ckpt(lambda a: a.exp(), x, use_reentrant=True).sum(), x))
        # Nothing is left behind: a plain backward through a checkpoint works after it.
        ckpt(lambda a: a.exp(), x, use_reentrant=True).sum().backward()
        return error, arr(x.grad).tolist()

    assert run(agx, checkpoint) == run(torch, torch_checkpoint)


def test_a_checkpoint_inside_a_backward_of_its_own_is_allowed_under_grad():
    # The check is the innermost backward's: a Function whose backward runs a plain backward
    # through a checkpoint works inside autograd.grad.
    class Outer(agx.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a.clone()

        @staticmethod
        def backward(ctx, g):
            w = t(W)
            with agx.enable_grad():
                checkpoint(block, t(X), w).sum().backward()
            ctx.w_grad = w.grad
            return g

    x = t(X)
    (gx,) = agx.autograd.grad(Outer.apply(x).sum(), x)
    np.testing.assert_array_equal(arr(gx), np.ones_like(X))


def test_no_input_requires_grad_warns_and_records_nothing():
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):
        y = checkpoint(block, t(X, requires_grad=False), t(W, requires_grad=False))
    assert y.grad_fn is None


def test_under_no_grad_nothing_is_recorded():
    with agx.no_grad():
        y = checkpoint(block, t(X), t(W))
    assert y.grad_fn is None and not y.requires_grad


def test_nested_checkpoints():
    def outer(x, w):
        return checkpoint(block, x, w) * 2

    (plain, _), (ckpt, _) = (grads_of(fn, flag, X, W) for fn, flag in
                             ((lambda x, w: block(x, w) * 2, False), (outer, True)))
    for a, b in zip(plain, ckpt):
        np.testing.assert_allclose(a, b, rtol=1e-14)


def test_gradients_of_gradients_through_a_checkpoint():
    x, w = t(X), t(W)
    x2, w2 = t(X), t(W)
    with backward_cycle_warning():
        checkpoint(block, x, w).sum().backward(create_graph=True)
        block(x2, w2).sum().backward(create_graph=True)
    (hw,) = agx.autograd.grad((x.grad ** 2).sum(), w)
    (hw2,) = agx.autograd.grad((x2.grad ** 2).sum(), w2)
    np.testing.assert_allclose(arr(x.grad), arr(x2.grad), rtol=1e-13)
    np.testing.assert_allclose(arr(hw), arr(hw2), rtol=1e-12)


def test_closed_over_parameters_with_create_graph():
    w, x = t(W), t(X)
    w2, x2 = t(W), t(X)
    with backward_cycle_warning():
        checkpoint(lambda a: block(a, w), x).sum().backward(create_graph=True)
        block(x2, w2).sum().backward(create_graph=True)
    assert w.grad.requires_grad
    np.testing.assert_allclose(arr(w.grad), arr(w2.grad), rtol=1e-14)
    np.testing.assert_allclose(arr(x.grad), arr(x2.grad), rtol=1e-14)
    (hw,) = agx.autograd.grad((x.grad ** 2).sum(), w)
    (hw2,) = agx.autograd.grad((x2.grad ** 2).sum(), w2)
    np.testing.assert_allclose(arr(hw), arr(hw2), rtol=1e-12)


def test_in_place_change_of_an_argument_is_detected():
    x = t(X)
    h = x * 1
    y = checkpoint(block, h, t(W)).sum()
    h.add_(1.0)
    with pytest.raises(RuntimeError, match=r"argument 0 of checkpoint\(\) is at version 1; "
                                           "expected version 0"):
        y.backward()


def test_second_backward_raises():
    y = checkpoint(block, t(X), t(W)).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = t(X)
    y = checkpoint(block, x, t(W)).sum()
    y.backward(retain_graph=True)
    first = arr(x.grad).copy()
    y.backward()
    np.testing.assert_allclose(arr(x.grad), 2 * first, rtol=1e-14)


def test_error_in_the_recomputation_propagates():
    calls = []

    def flaky(x):
        calls.append(1)
        if len(calls) == 2:
            raise ValueError("recomputation failed")
        return x * 2

    x = t(X)
    y = checkpoint(flaky, x).sum()
    with pytest.raises(ValueError, match="recomputation failed"):
        y.backward()
    assert x.grad is None and agx.is_grad_enabled()


def detached_inside(x):
    with agx.no_grad():
        return x * 2


def test_outputs_the_recomputation_detaches_are_an_error_when_reentrant():
    x = t(X)
    y = checkpoint(detached_inside, x, use_reentrant=True) + x
    with pytest.raises(RuntimeError, match="^none of output has requires_grad=True, this "
                                           "checkpoint\\(\\) is not necessary$"):
        y.sum().backward()


def test_outputs_the_recomputation_detaches_get_no_gradient_when_not_reentrant():
    x = t(X)
    y = checkpoint(detached_inside, x, use_reentrant=False) + x
    y.sum().backward()
    np.testing.assert_array_equal(arr(x.grad), np.ones_like(X))


@pytest.mark.torch
def test_outputs_the_recomputation_detaches_as_torch():
    torch = pytest.importorskip("torch")
    from torch.utils.checkpoint import checkpoint as torch_checkpoint

    def run(lib, ckpt, use_reentrant):
        x = t(X, lib=lib)

        def fn(a):
            with lib.no_grad():
                return a * 2

        y = ckpt(fn, x, use_reentrant=use_reentrant) + x
        try:
            y.sum().backward()
        except RuntimeError as e:
            return str(e)
        return arr(x.grad).tolist()

    for use_reentrant in (True, False):
        assert (run(agx, checkpoint, use_reentrant)
                == run(torch, torch_checkpoint, use_reentrant))


# ------------------------------------------------------------------ random state

def noisy(x):
    """Dropout: the recomputation must draw the same mask as the first run."""
    return F.dropout(x.sin(), p=0.5) * x


def test_dropout_masks_are_replayed():
    data = np.linspace(-2, 2, 200).reshape(20, 10)
    results = []
    for use in (False, True):
        agx.manual_seed(3)
        x = t(data)
        y = checkpoint(noisy, x) if use else noisy(x)
        y.sum().backward()
        results.append((arr(y), arr(x.grad)))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
    assert (results[0][0] == 0).sum() > 50         # the mask does drop elements


def test_backward_leaves_the_random_stream_where_the_forward_left_it():
    agx.manual_seed(5)
    y = checkpoint(noisy, t(np.ones((4, 4))))
    y.sum().backward()
    after_with_backward = agx.rand(5).numpy()
    agx.manual_seed(5)
    with agx.no_grad():
        noisy(t(np.ones((4, 4))))
    np.testing.assert_array_equal(after_with_backward, agx.rand(5).numpy())


def test_without_preserving_the_rng_state_the_mask_changes():
    data = np.linspace(-2, 2, 200).reshape(20, 10)
    agx.manual_seed(3)
    x = t(data)
    noisy(x).sum().backward()
    agx.manual_seed(3)
    x2 = t(data)
    checkpoint(noisy, x2, preserve_rng_state=False).sum().backward()
    assert not np.array_equal(arr(x.grad), arr(x2.grad))


# ------------------------------------------------------------------ memory

N = 100_000           # elements per array: 800 kB in float64
SEGMENTS = 20


def segment(x):
    # saves sin(x), exp(x) and tanh's result (the next input) for backward
    return (x.sin() * x + x.exp() * 0.01).tanh()


def memory(use_checkpoint, use_reentrant=True):
    """Bytes the graph keeps alive after the forward of 20 segments, and the peak during
    backward (both above what existed before the forward), as tracemalloc counts them."""
    for use in (False, True):      # warm up: modules and ops load on first use
        small = t(np.zeros(3))
        (checkpoint(segment, small, use_reentrant=use_reentrant) if use
         else segment(small)).sum().backward()
    x = t(np.linspace(-1.0, 1.0, N))
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        h = x
        for _ in range(SEGMENTS):
            h = checkpoint(segment, h, use_reentrant=use_reentrant) if use_checkpoint else segment(h)
        loss = h.sum()
        kept = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.reset_peak()
        loss.backward()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return kept, peak, arr(x.grad)


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_checkpointing_keeps_less_memory(use_reentrant):
    array = N * 8
    plain_kept, plain_peak, plain_grad = memory(False)
    ckpt_kept, ckpt_peak, ckpt_grad = memory(True, use_reentrant)
    np.testing.assert_allclose(plain_grad, ckpt_grad, rtol=1e-13)
    # Measured (NumPy 2, CPython 3.11): plain keeps 48.08 MB after the forward (60 arrays of
    # 800 kB and 76 kB of nodes) and peaks at 50.49 MB in backward; checkpointed keeps
    # 16.06 MB (the 20 segment outputs) and peaks at 21.67 MB (one segment recomputed).
    assert plain_kept >= 3 * SEGMENTS * array          # three saved arrays per segment
    assert ckpt_kept <= (SEGMENTS + 1) * array         # only each segment's output
    assert ckpt_peak < plain_peak / 2


# ------------------------------------------------------------------ against torch

@pytest.mark.torch
def test_matches_torch():
    torch = pytest.importorskip("torch")
    from torch.utils.checkpoint import checkpoint as torch_checkpoint

    def run(lib, ckpt):
        x, w, v = t(X, lib=lib), t(W, lib=lib), t(W[:, :1], lib=lib)

        def fn(a, b):
            return block(a, b) * (a @ v).tanh()         # v: a parameter closed over

        h = x
        for _ in range(3):
            h = ckpt(fn, h, w, use_reentrant=True)[:, :1] * h
        (h ** 2).sum().backward()
        return [arr(g.grad) for g in (x, w, v)]

    for ours, theirs in zip(run(agx, _checkpoint), run(torch, torch_checkpoint)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_utils_checkpoint_is_the_module_as_in_torch():
    # PyTorch code calls torch.utils.checkpoint.checkpoint(...); the name must not be the
    # function itself.
    import types

    torch = pytest.importorskip("torch")

    assert isinstance(agx.utils.checkpoint, types.ModuleType)
    assert agx.utils.checkpoint.checkpoint is _checkpoint
    assert isinstance(torch.utils.checkpoint, types.ModuleType)


def test_leaving_out_use_reentrant_warns_as_in_torch():
    torch = pytest.importorskip("torch")
    pattern = "the use_reentrant parameter should be passed explicitly"
    for lib, fn in ((torch, torch.utils.checkpoint.checkpoint), (agx, _checkpoint)):
        x = lib.ones(2, requires_grad=True)
        with pytest.warns(UserWarning, match=pattern):
            fn(lambda a: a * 2, x)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fn(lambda a: a * 2, x, use_reentrant=True)


@pytest.mark.parametrize("segments", [1, 2, 3, 4])
@pytest.mark.parametrize("as_sequential", [True, False])
def test_checkpoint_sequential_matches_torch(segments, as_sequential):
    torch = pytest.importorskip("torch")
    from autogradx.utils.checkpoint import checkpoint_sequential

    def run(lib, ckpt):
        lib.manual_seed(0)
        layers = [lib.nn.Linear(3, 3), lib.nn.Tanh(), lib.nn.Linear(3, 2), lib.nn.Sigmoid(),
                  lib.nn.Linear(2, 2)]
        with lib.no_grad():
            for i, layer in enumerate(layers[::2]):
                layer.weight.copy_(lib.tensor(np.cos(np.arange(layer.weight.numel()) + i)
                                              .reshape(layer.weight.shape)))
                layer.bias.copy_(lib.tensor(np.sin(np.arange(layer.bias.numel()) + i)))
        x = lib.tensor(X.astype(np.float32), requires_grad=True)
        functions = lib.nn.Sequential(*layers) if as_sequential else layers
        out = ckpt(functions, segments, x, use_reentrant=True)
        (out ** 2).sum().backward()
        params = [p for layer in layers[::2] for p in (layer.weight, layer.bias)]
        return [arr(out)] + [arr(p.grad) for p in [x] + params]

    ours = run(agx, checkpoint_sequential)
    theirs = run(torch, torch.utils.checkpoint.checkpoint_sequential)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_checkpoint_sequential_refuses_as_torch():
    torch = pytest.importorskip("torch")
    from autogradx.utils.checkpoint import checkpoint_sequential
    for lib, fn in ((torch, torch.utils.checkpoint.checkpoint_sequential),
                    (agx, checkpoint_sequential)):
        layers = [lib.nn.Linear(3, 3)] * 3
        x = lib.ones(3, requires_grad=True)
        with pytest.raises(ValueError, match="Unexpected keyword arguments: debug"):
            fn(layers, 3, x, use_reentrant=True, debug=True)
        with pytest.raises(ValueError):
            fn(layers, 5, x, use_reentrant=True)
        with pytest.warns(UserWarning, match="use_reentrant parameter should be passed"):
            fn(layers, 3, x)


# ------------------------------------------------------------------ non-reentrant, against torch

def both(run):
    """``run(lib, checkpoint)`` for autogradx and for torch; the results must be equal."""
    torch = pytest.importorskip("torch")
    got = run(agx, _checkpoint)
    want = run(torch, torch.utils.checkpoint.checkpoint)
    assert got == want
    return got


def rounded(*ts):
    return [None if x is None else np.round(arr(x), 10).tolist() for x in ts]


def test_non_reentrant_gradients_and_recomputations_match_torch():
    def run(lib, ckpt):
        x, w, v = t(X, lib=lib), t(W, lib=lib), t(W[:, :1], lib=lib)
        calls = []

        def fn(a, b, scale=1.0):
            calls.append("fn")
            return block(a, b) * (a @ v).tanh() * scale    # v: a parameter closed over

        h = x
        for _ in range(3):
            h = ckpt(fn, h, w, use_reentrant=False, scale=0.5)[:, :1] * h
        forward = len(calls)
        (h ** 2).sum().backward(retain_graph=True)
        first = len(calls)
        (h ** 2).sum().backward()           # a second backward recomputes again
        return [forward, first, len(calls)] + rounded(x.grad, w.grad, v.grad)
    both(run)


def test_non_reentrant_allows_autograd_grad_and_double_backward():
    def run(lib, ckpt):
        x, w, v = t(X, lib=lib), t(W, lib=lib), t(W[:, :1], lib=lib)
        out = ckpt(lambda a, b: block(a, b) * (a @ v), x, w, use_reentrant=False)
        gx, gv = lib.autograd.grad((out ** 2).sum(), (x, v), create_graph=True)
        (gx.sum() + gv.sum()).backward()
        return rounded(gx, gv, x.grad, w.grad, v.grad)
    both(run)


def test_non_reentrant_recomputation_stops_early_unless_told_not_to():
    def run(lib, ckpt):
        x = t(X, lib=lib)
        log = []

        def fn(a):
            log.append("start")
            b = a.sin()                 # saves a
            log.append("sin")
            c = b.exp()                 # saves its result
            log.append("exp")
            d = c + 1                   # saves nothing
            log.append("add")
            return d

        ckpt(fn, x, use_reentrant=False).sum().backward()
        with lib.utils.checkpoint.set_checkpoint_early_stop(False):
            y = ckpt(fn, x, use_reentrant=False)
        y.sum().backward()
        return log
    both(run)


def test_non_reentrant_frees_the_saved_intermediates_after_the_forward():
    import weakref

    def run(lib, ckpt):
        x = t(X, lib=lib)
        refs = []

        def fn(a):
            h = a * 2
            refs.append(weakref.ref(h))
            return h.sin()              # sin saves h
        out = ckpt(fn, x, use_reentrant=False)
        alive = refs[0]() is not None
        out.sum().backward()
        return alive, rounded(x.grad)
    assert both(run)[0] is False


def first_line_of_error(run):
    def wrapped(lib, ckpt):
        try:
            run(lib, ckpt)
        except Exception as e:     # noqa: BLE001 (the comparison is the point)
            return type(e).__name__, str(e).split("\n")[0]
        return None
    return wrapped


def flaky(first, again):
    """A function that runs ``first`` the first time and ``again`` after."""
    calls = []

    def fn(a):
        calls.append(1)
        return first(a) if len(calls) == 1 else again(a)
    return fn


@pytest.mark.parametrize("again, check", [
    (lambda a: a.sin().exp(), "default"),           # fewer tensors saved
    (lambda a: a.sin() * a.sin().detach()[:2].sum(), "default"),   # as many, one of another shape
    (lambda a: a.sin().exp().sin(), "default"),     # more: early stop hides it
], ids=["fewer", "other-metadata", "more"])
def test_non_reentrant_detects_a_different_recomputation_as_torch(again, check):
    def run(lib, ckpt):
        x = t(X, lib=lib)
        fn = flaky(lambda a: a.sin().exp().sin(), again)
        ckpt(fn, x, use_reentrant=False, determinism_check=check).sum().backward()
        return rounded(x.grad)
    both(first_line_of_error(run))


def test_non_reentrant_debug_explains_a_mismatch():
    def run(lib, ckpt):
        x = t([0.5], lib=lib)
        fn = flaky(lambda a: a.sin().exp(), lambda a: a.sin() * lib.tensor([1.0, 2.0]))
        with pytest.raises(RuntimeError) as info:
            ckpt(fn, x, use_reentrant=False, debug=True).sum().backward()
        return "You are seeing this error because you passed `debug=True` to checkpoint" in str(
            info.value)
    assert both(run) is True


def test_non_reentrant_unpacks_each_saved_tensor_once_per_backward():
    def run(lib, ckpt):
        class Twice(lib.autograd.Function):
            @staticmethod
            def forward(ctx, a):
                ctx.save_for_backward(a)
                return a * 2

            @staticmethod
            def backward(ctx, g):
                ctx.saved_tensors
                ctx.saved_tensors
                return g * 2

        x = t(X, lib=lib)
        ckpt(lambda a: Twice.apply(a * 1), x, use_reentrant=False).sum().backward()
    both(first_line_of_error(run))


def test_non_reentrant_runs_context_fn_s_contexts():
    import contextlib

    def run(lib, ckpt):
        log = []

        @contextlib.contextmanager
        def context(name):
            log.append(f"enter {name}")
            yield
            log.append(f"exit {name}")

        x = t(X, lib=lib)
        out = ckpt(lambda a: a.sin(), x, use_reentrant=False,
                   context_fn=lambda: (context("forward"), context("recompute")))
        out.sum().backward()
        return log, rounded(x.grad)
    both(run)


@pytest.mark.parametrize("kwargs", [
    {"use_reentrant": True, "debug": True},
    {"use_reentrant": False, "determinism_check": "shapes"},
    {"use_reentrant": False, "debug": True, "context_fn": lambda: (None, None)},
], ids=["debug-reentrant", "unknown-check", "debug-and-context_fn"])
def test_bad_checkpoint_arguments_are_refused_as_in_torch(kwargs):
    def run(lib, ckpt):
        ckpt(lambda a: a.sin(), t(X, lib=lib), **kwargs)
    assert both(first_line_of_error(run))[0] == "ValueError"


def test_nested_non_reentrant_checkpoints_and_save_on_cpu_match_torch():
    def run(lib, ckpt):
        x, w = t(X, lib=lib), t(W, lib=lib)

        def inner(a):
            return (a @ w).tanh()

        def outer(a):
            with lib.autograd.graph.save_on_cpu():
                h = ckpt(inner, a.sin(), use_reentrant=False)
            return (h ** 2).exp()

        out = ckpt(outer, x, use_reentrant=False)
        out.sum().backward()
        return rounded(x.grad, w.grad)
    both(run)


@pytest.mark.parametrize("grouped", [True, False])
def test_graph_exec_group_recomputes_once_for_several_backwards_as_torch(grouped):
    import contextlib

    def run(lib, ckpt):
        calls = []

        def fn(a):
            calls.append(1)
            y = a.sin().cos()
            return y, y.sin().cos()

        x = t(X, lib=lib)
        y, z = ckpt(fn, x, use_reentrant=False)
        with lib.utils.checkpoint.GraphExecGroup() if grouped else contextlib.nullcontext():
            (gy,) = lib.autograd.grad(z, (y,), grad_outputs=(lib.ones_like(z),))
            (gx,) = lib.autograd.grad(y, (x,), grad_outputs=(gy,))
        return len(calls), rounded(gx)
    both(run)


def test_unchecked_recomputed_tensors_of_another_shape_are_an_error_not_wrong_gradients():
    # determinism_check="none": PyTorch hands the formula the other shape, which broadcasts
    # here and gives a gradient silently; autogradx refuses the unpacked tensor's shape.
    def run(lib, ckpt):
        x = t(X, lib=lib)
        fn = flaky(lambda a: a.sin().exp().sin(), lambda a: a.sin() * a.sin().detach()[:2].sum())
        ckpt(fn, x, use_reentrant=False, determinism_check="none").sum().backward()
        return x.grad is not None

    torch = pytest.importorskip("torch")
    assert run(torch, torch.utils.checkpoint.checkpoint) is True
    with pytest.raises(RuntimeError, match=r"unpack_hook returned a tensor of shape \[\], but "
                                           r"the tensor saved had shape \[2, 3\]"):
        run(agx, _checkpoint)
