"""Running one case through autogradx and PyTorch, and comparing what comes out: values,
dtypes, gradients, grad_fn names and errors. The ``*_torch.py`` test files share it.

torch is imported when a function here first needs it, never at import time: a test file
skips itself (``pytest.importorskip("torch")``) before it calls anything here, and the
files without torch must collect.
"""

import re
import warnings

import numpy as np
import pytest

import autogradx as agx
from helpers import as_spec

# The dtypes every comparison runs at.
DTYPES = ["float32", "float64"]


def _torch():
    import torch        # see the module docstring: not at import time
    return torch


def case(id, fn, specs, grad_fn, marks=()):
    """A comparison case: ``fn(lib, *inputs)`` on inputs made from ``specs`` (or shapes, see
    ``helpers.as_spec``); ``grad_fn``: the name of the output's node in PyTorch."""
    return pytest.param(fn, specs, grad_fn, id=id, marks=marks)


def promo(id, fn, *arrays, expected, marks=()):
    """A dtype rule: ``fn`` on tensors of ``arrays`` gives a result of dtype ``expected``."""
    return pytest.param(fn, arrays, expected, id=id, marks=marks)


def F(lib):
    """``lib.nn.functional``, for the cases written once over either library."""
    return lib.nn.functional


def special(id, fn, *arrays, marks=()):
    """A case at special points: ``fn(lib, *tensors)`` on tensors of fixed ``arrays``."""
    return pytest.param(fn, arrays, id=id, marks=marks)


# ---------------------------------------------------------------- inputs and outputs

def both(arrays, specs=None):
    """The same arrays as autogradx and torch tensors. Float data requires grad unless its
    spec says otherwise; integer and bool data cannot."""
    torch = _torch()
    flags = [x.dtype.kind == "f" and (specs is None or specs[i].requires_grad)
             for i, x in enumerate(arrays)]
    a = [agx.tensor(x, requires_grad=g) for x, g in zip(arrays, flags)]
    t = [torch.tensor(x, requires_grad=g) for x, g in zip(arrays, flags)]
    return a, t


def make_both(specs, dtype, seed=0):
    """Random inputs from ``specs`` (or shapes, see ``helpers.as_spec``) at ``dtype`` as
    autogradx and torch tensors, and the generator they came from (to draw output gradients)."""
    rng = np.random.default_rng(seed)
    specs = [as_spec(s) for s in specs]
    a, t = both([s.array(rng, dtype) for s in specs], specs)
    return a, t, rng


def run_both(fn, specs, dtype, seed=0, ignore_torch_warnings=False):
    """``fn(lib, *inputs)`` in both libraries on the same random inputs:
    ``(autogradx inputs, torch inputs, autogradx output, torch output, generator)``."""
    a_in, t_in, rng = make_both(specs, dtype, seed)
    a_out = fn(agx, *a_in)
    if ignore_torch_warnings:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_out = fn(_torch(), *t_in)
    else:
        t_out = fn(_torch(), *t_in)
    return a_in, t_in, a_out, t_out, rng


def outputs(out):
    """An op's outputs as a tuple: the tuple (or named tuple) it returns, or its one tensor."""
    return tuple(out) if isinstance(out, tuple) else (out,)


def random_like(rng, t, dtype=None):
    """Standard normal values of torch tensor ``t``'s shape, in ``dtype`` (default: ``t``'s):
    an output gradient."""
    return rng.standard_normal(tuple(t.shape)).astype(dtype or str(t.dtype)[len("torch."):])


def backward_both(a_out, t_out, grad):
    """Backward from both outputs with the same output gradient ``grad`` (an array); for
    lists of outputs, a list of gradients, one each."""
    torch = _torch()
    if isinstance(t_out, (list, tuple)):
        agx.autograd.backward(list(a_out), [agx.tensor(g) for g in grad])
        torch.autograd.backward(list(t_out), [torch.tensor(g) for g in grad])
    else:
        a_out.backward(agx.tensor(grad))
        t_out.backward(torch.tensor(grad))


def node_name(node):
    """A node's name without the namespace of PyTorch's C++ nodes
    ("torch::autograd::CopySlices" is "CopySlices")."""
    return node.name().rpartition("::")[2]


# ---------------------------------------------------------------- comparisons

def assert_close(a, t, what, rtol, atol, equal_nan=False):
    """Autogradx tensor ``a`` has the shape and (within ``rtol``, ``atol``) the values of ``t``,
    a torch tensor or its values as a NumPy array."""
    a = np.asarray(a.detach().numpy())
    t = t if isinstance(t, np.ndarray) else t.detach().numpy()
    assert a.shape == t.shape, f"{what}: shape {a.shape} != torch's {t.shape}"
    np.testing.assert_allclose(a, t, rtol=rtol, atol=atol, equal_nan=equal_nan, err_msg=what)


def compare_input_gradients(a_in, t_in, close, every_input=False):
    """Each autogradx input has a gradient where its torch twin has one, of the same dtype,
    and ``close(a_grad, t_grad, what)`` holds for them. ``every_input``: each input must
    have a gradient."""
    for i, (a, t) in enumerate(zip(a_in, t_in)):
        if t.grad is None and not every_input:
            assert a.grad is None, f"input {i}: torch gives no gradient, autogradx does"
            continue
        assert a.grad is not None, f"input {i}: autogradx gives no gradient"
        assert str(a.grad.dtype) == str(t.grad.dtype), f"input {i}: gradient dtype"
        close(a.grad, t.grad, f"gradient of input {i}")


# ---------------------------------------------------------------- errors

def ones(lib, shape, dtype="float32", requires_grad=False):
    """A tensor of ones of ``lib``, its dtype by name: an argument of an error case."""
    return lib.ones(shape, dtype=getattr(lib, dtype), requires_grad=requires_grad)


def _builtin_base(exc_type):
    return next(c for c in exc_type.__mro__ if c.__module__ == "builtins")


def assert_raises_like_torch(fn, match):
    """``fn(torch)`` raises; ``fn(agx)`` raises the built-in exception type PyTorch's derives
    from (PyTorch's own subclasses are not autogradx's to raise), matching ``match``."""
    with pytest.raises(Exception) as t_err:
        fn(_torch())
    with pytest.raises(_builtin_base(type(t_err.value)), match=match):
        fn(agx)


def _raised(fn, lib, x):
    try:
        fn(lib, x)
    except Exception as e:      # noqa: BLE001 - the type is what is compared
        return type(e)
    return None


def assert_same_error_type(fn, data):
    """``fn(lib, x)``, x a tensor of ``data``, fails in PyTorch and with the same exception
    type in autogradx."""
    torch = _torch()
    expected = _raised(fn, torch, torch.tensor(data))
    assert expected is not None, "PyTorch accepts this call"
    assert _raised(fn, agx, agx.tensor(data)) is expected


def as_torch_names_a_view(text):
    """A refusal of an in-place change of a view, worded as torch 2.13 words it: autogradx
    names the view's node ("Output 0 of UnbindBackward0", "... of MyFnBackward"), as
    PyTorch's handle_view_on_rebase and the ported tests (tests/compat, at their pinned
    commit) expect; torch 2.13 names the op or Function ("Output 0 of Unbind")."""
    return re.sub(r"^(Output \d+ of \w+?)Backward\d*( is a view)", r"\1\2", text)


def error_of(fn):
    """``(type name, message)`` of the exception ``fn()`` raises, or None: compared whole
    between autogradx and PyTorch where the situation, and so PyTorch's text, is the same."""
    try:
        fn()
    except Exception as e:      # noqa: BLE001 - the type and text are what is compared
        return type(e).__name__, str(e)
    return None


def view_error_of(fn):
    """``error_of(fn)``, a refusal of an in-place change of a view worded as torch 2.13 words
    it (``as_torch_names_a_view``)."""
    err = error_of(fn)
    return err if err is None else (err[0], as_torch_names_a_view(err[1]))
