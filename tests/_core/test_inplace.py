"""In-place arithmetic that records nothing writes straight into the tensor's
array (the op's forward takes ``out=``); everything else takes the checked
out-of-place path. Both must give the same values, versions and errors."""

import numpy as np
import pytest

import autogradx as ag
from helpers import error_in_child


def _pair(seed=0, shape=(4, 3)):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape).astype(np.float32), rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("update", [
    lambda p, g: p.__isub__(0.1 * g),
    lambda p, g: p.__iadd__(g),
    lambda p, g: p.__imul__(0.9),
    lambda p, g: p.add_(g, alpha=-0.5),
    lambda p, g: p.sub_(g[0]),          # broadcast row
    lambda p, g: p.mul_(g),
], ids=["isub", "iadd", "imul-scalar", "add_-alpha", "sub_-broadcast", "mul_"])
def test_no_grad_update_writes_into_the_same_buffer(update):
    a, b = _pair()
    p, g = ag.tensor(a.copy(), requires_grad=True), ag.tensor(b)
    view = p[1]
    buffer = p._data
    expected = update(ag.tensor(a.copy()), g)._data     # a tensor without grad: same op
    with ag.no_grad():
        out = update(p, g)
    assert out is p and p._data is buffer
    np.testing.assert_array_equal(p._data, expected)
    np.testing.assert_array_equal(view._data, expected[1])  # views see the write
    assert p._version == 1 and view._version == 1


def test_results_equal_the_out_of_place_op_bit_for_bit():
    a, b = _pair(1, (64, 32))
    p = ag.tensor(a.copy())
    with ag.no_grad():
        p -= 0.01 * ag.tensor(b)
    np.testing.assert_array_equal(p._data, a - np.float32(0.01) * b)


def test_float64_operand_into_float32_goes_the_checked_way():
    a, b = _pair()
    p = ag.tensor(a.copy())
    p += ag.tensor(b.astype(np.float64))      # a cast PyTorch allows (same category)
    np.testing.assert_allclose(p._data, a + b, rtol=1e-6)
    assert p.dtype == ag.float32


def test_failures_change_nothing():
    a, b = _pair()
    p = ag.tensor(a.copy())
    with ag.no_grad(), pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        p += ag.tensor(np.ones((2, 4, 3), np.float32))
    with pytest.raises(RuntimeError, match="can't be cast"):
        ag.tensor(np.arange(3)).__iadd__(0.5)
    np.testing.assert_array_equal(p._data, a)
    assert p._version == 0


def test_leaf_requiring_grad_still_refuses_in_place_with_grad_on():
    p = ag.tensor(_pair()[0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        p -= 1.0
    assert p._version == 0


def test_recorded_in_place_keeps_its_gradient():
    a, b = _pair()
    x = ag.tensor(a, requires_grad=True)
    h = x * 2
    h += ag.tensor(b)
    h *= 3.0
    h.sum().backward()
    np.testing.assert_array_equal(x.grad._data, np.full_like(a, 6.0))


def test_no_grad_update_allocates_no_temporary_result():
    import tracemalloc
    p = ag.tensor(np.ones(1 << 20, np.float32))     # 4 MiB
    g = ag.tensor(np.full(1 << 20, 0.5, np.float32))
    tracemalloc.start()
    try:
        with ag.no_grad():
            p -= g
            p *= 2.0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < p._data.nbytes // 4, f"peak {peak} bytes: a temporary result was made"
    np.testing.assert_array_equal(p._data, np.ones(1 << 20, np.float32))


def test_views_stay_usable_when_their_base_history_is_unchanged():
    """Views used before the change, views taken after it, and views of a leaf updated
    under no_grad (an optimizer's step) all give PyTorch's gradients."""
    x = ag.tensor([1.0, 1.0], requires_grad=True)
    base = x * 2
    early = base[0] + 3             # used before the change: its graph is the old values'
    base.mul_(5)
    late = base[1]                  # taken after the change
    (early + late).backward()
    assert x.grad.tolist() == [2.0, 10.0]
    w = ag.tensor([1.0, 2.0], requires_grad=True)
    row = w[1]
    with ag.no_grad():
        w -= 0.5
    (row * 2).backward()
    assert w.grad.tolist() == [0.0, 2.0]


# -- what a plugin's in-place form may hand the core --------------------------------------

@pytest.mark.parametrize("kwargs", [dict(output_type=lambda t: [t]), dict(n_outputs=2),
                                    dict(n_outputs=None)])
def test_an_in_place_form_of_an_op_of_several_outputs_is_refused(kwargs):
    from autogradx.plugin import Op
    with pytest.raises(ValueError, match="an in-place form is for ops of one output"):
        Op("probe_inplace", lambda xp, x: (x, x), vjp=lambda xp, g: g, inplace=True, **kwargs)


def test_an_in_place_op_that_leaves_its_input_writes_nothing():
    # The forward returns input 0's own array: the core gives back the tensor itself, whose
    # node here is a custom Function's, not an op's (read as one, it crashed the process).
    code = """
        import numpy as np, autogradx as agx
        from autogradx.plugin import Op
        keep = Op("probe_keep", lambda xp, x: x, vjp=lambda xp, g: g, inplace=True,
                  namespace=None)

        class Twice(agx.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2
            @staticmethod
            def backward(ctx, g):
                return g * 2

        x = agx.ones(3, requires_grad=True)
        y = Twice.apply(x)
        version = y._version
        from autogradx._core.op import apply_inplace
        assert apply_inplace(keep, (y,), None) is y and y._version == version
        y.sum().backward()
        assert x.grad.tolist() == [2.0, 2.0, 2.0]
    """
    assert error_in_child(code) == "no error"


# -- out=: the result written into a given tensor, as PyTorch does ---------------------------

def _libs():
    libs = [ag]
    try:
        import torch
        libs.append(torch)
    except ImportError:
        pass
    return libs


@pytest.mark.parametrize("lib", _libs(), ids=lambda lib: lib.__name__)
def test_out_is_written_returned_and_counted_as_a_change(lib):
    x = lib.ones(3, requires_grad=True)
    w = lib.ones(3)
    y = (x * w).sum()                   # saves w, for x's gradient
    before = w._version
    assert lib.add(w, 10.0, out=w) is w
    assert w.tolist() == [11.0, 11.0, 11.0] and w._version == before + 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


@pytest.mark.parametrize("lib", _libs(), ids=lambda lib: lib.__name__)
def test_out_with_an_argument_that_requires_grad_is_refused(lib):
    x = lib.ones(3, requires_grad=True)
    message = "functions with out=... arguments don't support automatic differentiation"
    with pytest.raises(RuntimeError, match=message):
        lib.add(x, 1.0, out=lib.empty(3))
    with pytest.raises(RuntimeError, match=message):
        lib.exp(lib.ones(3), out=lib.empty(3, requires_grad=True))
    with lib.no_grad():
        out = lib.empty(3)
        assert lib.add(x, 1.0, out=out) is out and out.tolist() == [2.0, 2.0, 2.0]


def test_out_of_another_shape_or_a_narrower_dtype_is_refused():
    with pytest.raises(RuntimeError, match=r"out= has shape \[2\], the result \[3\]"):
        ag.add(ag.ones(3), 1.0, out=ag.empty(2))
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired "
                                           "output type Long"):
        ag.add(ag.ones(3), 1.5, out=ag.zeros(3, dtype=ag.int64))
    with pytest.raises(TypeError, match="argument 'out' must be Tensor, not list"):
        ag.add(ag.ones(3), 1.0, out=[0, 0, 0])
