"""Complex autograd against PyTorch (issue 17), over the whole registry.

Every registered op whose conformance samples have a floating point argument, spelt as
PyTorch spells it (a function of the same namespace and name, or the method), is called
with those arguments made complex64 and complex128 in autogradx and in PyTorch:

- where PyTorch refuses complex input, autogradx refuses it too, with a clear error;
- where PyTorch accepts it, autogradx gives the same values and dtypes and, after a
  backward with the same random (complex) output gradients, the same gradients, of the
  same dtypes: PyTorch's convention, the conjugate Wirtinger derivative (docs/autograd.md).
  The ops autogradx refuses though PyTorch accepts them are ``REFUSED`` below, each
  listed in docs/autograd.md.

In complex128, :func:`autogradx.testing.gradcheck` also holds each call's gradients to
finite differences. A few single cases follow: special points, real inputs of complex
results, gradients of gradients.
"""

import re

import numpy as np
import pytest

import autogradx as agx
from autogradx._registry import REGISTRY
from autogradx.conformance import Arg, Sample, generated_samples, plugin_cases
from autogradx.testing import GradcheckError, gradcheck, gradgradcheck

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

DTYPES = ["complex64", "complex128"]
TOL = {"complex64": dict(rtol=2e-4, atol=2e-5), "complex128": dict(rtol=1e-7, atol=1e-9)}
SAMPLES_PER_OP = 2

#: Ops autogradx refuses complex input to, though PyTorch accepts it: op -> why. Each is
#: listed in docs/autograd.md ("Complex numbers").
REFUSED = {}

#: Errors of NumPy's internals rather than a check naming the op.
RAW = re.compile(r"ufunc '|did not contain a loop|Cannot cast|could not be coerced|"
                 r"not supported for the input types|object has no attribute")
CLEAR = (RuntimeError, TypeError, ValueError, NotImplementedError, IndexError)


# ---------------------------------------------------------------- the calls

def _torch_path(path):
    obj = torch
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _spellings(op):
    """How both libraries spell a call of ``op``: ("fn", "linalg.solve") or ("method",
    "conj"), the function first; empty where PyTorch has no public spelling of it."""
    out = []
    for ns in op.namespaces:
        names = sorted((n for n, o in REGISTRY.namespace(ns).items() if o is op),
                       key=lambda n: (n != op.name.rpartition(".")[2], n))
        path = next((p for p in (f"{ns}.{n}".strip(".") for n in names)
                     if _torch_path(p) is not None), None)
        if path is not None:
            out.append(("fn", path))
            break
    if op.method and hasattr(torch.Tensor, op.method):
        out.append(("method", op.method))
    return tuple(out)


def _is_complexed(arg):
    """An argument that takes the dtype under test (complex here), or is complex already."""
    if not isinstance(arg, Arg):
        return False
    if arg.dtype is not None:
        return arg.dtype.kind == "c"
    return arg.values is None or arg.values.dtype.kind == "f"


def _has_complexed(value):
    if isinstance(value, (list, tuple)):
        return any(_has_complexed(v) for v in value)
    return _is_complexed(value)


def _samples(op, cases):
    if not isinstance(cases, list) or not cases:
        cases = generated_samples(op)
    return [s for s in cases if _has_complexed(list(s.args) + list(s.kwargs.values()))]


def _cases():
    out = []
    for plugin in sorted(REGISTRY.plugins):
        if REGISTRY.plugins[plugin].error:
            continue
        for op, cases in plugin_cases(plugin):
            spelt = _spellings(op)
            if not spelt:
                continue
            for k, sample in enumerate(_samples(op, cases)[:SAMPLES_PER_OP]):
                out.append(pytest.param(op, spelt, sample, id=f"{op.name}/s{k}"))
    return out


REGISTRY.load()
CASES = _cases()


class Call:
    """One sample's arrays, made once, as autogradx and torch tensors (fresh each time)."""

    def __init__(self, spellings, sample, dtype, seed=0):
        self.spellings, self.sample = spellings, sample
        self.spelt = spellings[0]
        self.rng = np.random.default_rng(seed)
        self.dtype = np.dtype(dtype)
        self.arrays = []        # (array, requires_grad) per tensor argument, in order
        self.args = [self._plan(a) for a in sample.args]
        self.kwargs = {k: self._plan(v) for k, v in sample.kwargs.items()}

    def _plan(self, value):
        if isinstance(value, (list, tuple)):
            return type(value)(self._plan(v) for v in value)
        if not isinstance(value, Arg):
            return value
        if _is_complexed(value):
            shape = value.shape
            re_ = (value.values if value.values is not None
                   else self.rng.uniform(value.low, value.high, shape))
            # imaginary parts away from 0: off the real axis, where branch cuts lie
            im = self.rng.uniform(0.2, 1.0, shape) * self.rng.choice([-1, 1], shape)
            data = (re_ + 1j * im).astype(self.dtype)
            grad = value.requires_grad is not False
        else:
            data = value.make(self.rng, np.dtype(np.float64))._data
            grad = value.requires_grad is True and data.dtype.kind in "fc"
        self.arrays.append((data, grad))
        return _Leaf(len(self.arrays) - 1)

    def leaves(self, lib):
        return [lib.tensor(a.copy(), requires_grad=g) for a, g in self.arrays]

    def call(self, lib, leaves):
        def fill(v):
            if isinstance(v, _Leaf):
                return leaves[v.index]
            if isinstance(v, (list, tuple)):
                return type(v)(fill(x) for x in v)
            return v
        args = [fill(a) for a in self.args]
        kwargs = {k: fill(v) for k, v in self.kwargs.items()}
        kind, name = self.spelt
        if kind == "method":
            return getattr(args[0], name)(*args[1:], **kwargs)
        obj = lib
        for part in name.split("."):
            obj = getattr(obj, part)
        return obj(*args, **kwargs)


class _Leaf:
    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index


def _tensors(out, is_tensor):
    if is_tensor(out):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for v in out for t in _tensors(v, is_tensor)]
    return []


def _numpy(t):
    if isinstance(t, torch.Tensor):
        return t.detach().resolve_conj().resolve_neg().numpy()
    return np.asarray(t.detach().numpy())


def _same(a, t, what, tol):
    a, t = _numpy(a), _numpy(t)
    assert a.dtype == t.dtype, f"{what}: dtype {a.dtype}, PyTorch {t.dtype}"
    assert a.shape == t.shape, f"{what}: shape {a.shape}, PyTorch {t.shape}"
    if a.dtype.kind in "fc":
        np.testing.assert_allclose(a, t, equal_nan=True, err_msg=what, **tol)
    else:
        np.testing.assert_array_equal(a, t, err_msg=what)


def _assert_clear(err, op):
    assert isinstance(err, CLEAR) and not RAW.search(str(err)), (
        f"{op.name}: complex input refused with an unclear error: "
        f"{type(err).__name__}: {err}")


def _run(lib, call, leaves):
    try:
        return call.call(lib, leaves), None
    except Exception as e:      # compared below: PyTorch's refusal against ours
        return None, e


def _run_torch(call, leaves):
    """PyTorch's run, in the first spelling whose arguments PyTorch takes (a sample written
    for the method, ``x.permute(1, 0)``, does not fit the function); ``call`` keeps it."""
    for spelt in call.spellings:
        call.spelt = spelt
        out, err = _run(torch, call, leaves)
        if not (isinstance(err, TypeError) and spelt != call.spellings[-1]):
            return out, err
    return out, err


def _output_grads(rng, outs):
    grads = []
    for t in outs:
        g = rng.standard_normal(tuple(t.shape))
        if str(t.dtype).endswith(("complex64", "complex128")):
            g = g + 1j * rng.standard_normal(tuple(t.shape))
        grads.append(g.astype(str(t.dtype).rpartition(".")[2]))
    return grads


def _differentiable(t):
    return t.requires_grad and (t.dtype.is_floating_point or t.dtype.is_complex)


# ---------------------------------------------------------------- against PyTorch

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op, spelt, sample", CASES)
def test_complex_values_and_gradients_match_torch(op, spelt, sample, dtype):
    call = Call(spelt, sample, dtype)
    a_in, t_in = call.leaves(agx), call.leaves(torch)
    t_out, t_err = _run_torch(call, t_in)
    a_out, a_err = _run(agx, call, a_in)
    if t_err is not None:
        assert a_err is not None, (f"{op.name}: PyTorch refuses this complex call "
                                   f"({type(t_err).__name__}: {t_err}); autogradx runs it")
        _assert_clear(a_err, op)
        return
    if op.name in REFUSED:
        assert a_err is not None, f"{op.name} is listed in REFUSED but accepts complex input"
        _assert_clear(a_err, op)
        return
    if a_err is not None:
        raise AssertionError(f"{op.name}: PyTorch accepts this complex call, autogradx "
                             f"raises {type(a_err).__name__}: {a_err}") from a_err
    tol = TOL[dtype]
    a_outs = _tensors(a_out, lambda v: isinstance(v, agx.Tensor))
    t_outs = _tensors(t_out, lambda v: isinstance(v, torch.Tensor))
    assert len(a_outs) == len(t_outs), f"{len(a_outs)} outputs, PyTorch {len(t_outs)}"
    for k, (a, t) in enumerate(zip(a_outs, t_outs)):
        _same(a, t, f"output {k}", tol)
    pairs = [(a, t) for a, t in zip(a_outs, t_outs) if _differentiable(t)]
    assert all(_differentiable(a) for a, _ in pairs), "an output does not require grad"
    if not pairs:
        return
    grads = _output_grads(call.rng, [t for _, t in pairs])
    try:
        torch.autograd.backward([t for _, t in pairs], [torch.tensor(g) for g in grads])
    except RuntimeError as e:
        if "omplex" in str(e):
            with pytest.raises(CLEAR):      # PyTorch has no complex derivative here
                agx.autograd.backward([a for a, _ in pairs], [agx.tensor(g) for g in grads])
            return
        # else PyTorch's own limit, whatever the dtype (scatter_add of a smaller src): no
        # reference but the finite differences
    else:
        agx.autograd.backward([a for a, _ in pairs], [agx.tensor(g) for g in grads])
        for i, (a, t) in enumerate(zip(a_in, t_in)):
            if t.grad is None:
                assert a.grad is None, f"input {i}: PyTorch gives no gradient, autogradx does"
                continue
            assert a.grad is not None, f"input {i}: autogradx gives no gradient"
            _same(a.grad, t.grad, f"gradient of input {i}", tol)
    if dtype == "complex128":
        _gradcheck(call)


def _gradcheck(call):
    """The call's gradients against finite differences (complex as pairs of reals)."""
    def fn(*xs):
        outs = _tensors(call.call(agx, list(xs)), lambda v: isinstance(v, agx.Tensor))
        return tuple(o for o in outs if o.dtype.is_floating_point or o.dtype.is_complex)
    assert gradcheck(fn, tuple(call.leaves(agx)), atol=1e-5, rtol=1e-4)


def test_the_comparison_covers_the_catalogue():
    # Derived from the registry: each op PyTorch spells the same way, with a floating
    # point argument in its samples, is compared.
    compared = {p.values[0].name for p in CASES}
    assert {"add", "mul", "div", "exp", "sigmoid", "abs", "sgn", "angle", "real", "imag",
            "conj", "var", "std", "matmul", "sum"} <= compared
    assert len(compared) >= 120


def _documented_refusals():
    from pathlib import Path
    text = (Path(__file__).resolve().parents[2] / "docs" / "autograd.md").read_text()
    section = text.partition("## Complex numbers")[2].partition("\n## ")[0]
    paragraph = section.partition("These ops refuse complex input")[2].partition("\n\n")[0]
    return set(re.findall(r"`([\w.]+)`", paragraph))


def test_the_docs_list_the_ops_that_refuse_complex_input():
    # The ops of the comparison above that refuse every complex sample call of theirs
    # (each as PyTorch does, or in REFUSED), and no other, are docs/autograd.md's list.
    refusing = {}
    for p in CASES:
        op, spelt, sample = p.values
        call = Call(spelt, sample, "complex64")
        _, err = _run(agx, call, call.leaves(agx))
        refusing[op.name] = refusing.get(op.name, True) and err is not None
    always = {name for name, refused in refusing.items() if refused}
    # dropout refuses in training only, as PyTorch; the docs name it too. The docs also name
    # the ops of the scipy_special plugin, which a run without it does not compare.
    documented = {name for name in _documented_refusals()
                  if name in refusing or name == "dropout" or not name.startswith("special.")}
    assert documented == always | {"dropout"}
    assert set(REFUSED) <= always


# ---------------------------------------------------------------- single cases

def _both(values, lib, dtype="complex128"):
    return lib.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


@pytest.mark.parametrize("fn", [
    lambda L, z: L.abs(z), lambda L, z: L.sgn(z), lambda L, z: L.angle(z),
    lambda L, z: z.abs() ** 2, lambda L, z: (z * z).abs(),
], ids=["abs", "sgn", "angle", "abs-squared", "abs-of-square"])
def test_at_zero_and_on_the_axes_as_torch(fn):
    # abs, sgn and angle at 0 (PyTorch's subgradient: 0) and on the real and imaginary axes
    values = [0j, 1 + 0j, -2 + 0j, 3j, -0.5j, 1 - 1j]
    grads = [1 + 2j, -1j, 0.5, 2 - 1j, 1j, 1.0]
    got = []
    for lib in (agx, torch):
        z = _both(values, lib)
        out = fn(lib, z)
        g = np.asarray(grads, dtype="complex128")
        out.backward(lib.tensor(g if out.dtype.is_complex else g.real))
        got.append((out, z.grad))
    _same(got[0][0], got[1][0], "values", TOL["complex128"])
    _same(got[0][1], got[1][1], "gradient", TOL["complex128"])


@pytest.mark.parametrize("fn", [
    lambda L, x, z: x * z, lambda L, x, z: z / x, lambda L, x, z: x / z,
    lambda L, x, z: L.matmul(x.reshape(2, 2).to(z.dtype), z.reshape(2, 2)),
    lambda L, x, z: (x + z).exp(),
], ids=["real*complex", "complex/real", "real/complex", "to-complex-matmul", "exp(real+complex)"])
def test_real_input_of_a_complex_result_gets_the_real_part(fn):
    # PyTorch's handle_r_to_c: a real input's gradient is real, the real part.
    got = []
    for lib in (agx, torch):
        x = lib.tensor([0.5, -1.0, 2.0, 1.5], dtype=lib.float64, requires_grad=True)
        z = _both([1 + 1j, -2j, 0.5 + 0.25j, 3 - 1j], lib)
        out = fn(lib, x, z)
        out.backward(lib.tensor(np.full(tuple(out.shape), 1 - 2j)))
        got.append((x.grad, z.grad))
    _same(got[0][0], got[1][0], "real input's gradient", TOL["complex128"])
    _same(got[0][1], got[1][1], "complex input's gradient", TOL["complex128"])


@pytest.mark.parametrize("fn", [
    lambda L, x, z: z[1:] * z[:-1], lambda L, x, z: z[L.tensor([2, 0, 2])],
    lambda L, x, z: z.clone().mul_(z).add_(x), lambda L, x, z: x.to(L.complex128) * z,
    lambda L, x, z: z.to(L.complex64) * 2, lambda L, x, z: L.where(x > 0, z, 2 * z),
], ids=["slices", "index", "in-place", "to-complex", "to-complex64", "where"])
def test_ops_the_registry_comparison_does_not_spell_as_torch(fn):
    # indexing, in-place methods and conversions, which PyTorch spells otherwise
    got = []
    for lib in (agx, torch):
        x = lib.tensor([0.5, -1.0, 2.0, 1.5], dtype=lib.float64, requires_grad=True)
        z = _both([1 + 1j, -2j, 0.5 + 0.25j, 3 - 1j], lib)
        out = fn(lib, x, z)
        g = np.random.default_rng(3).standard_normal(tuple(out.shape) + (2,)) @ [1, 1j]
        out.backward(lib.tensor(g.astype(str(out.dtype).rpartition(".")[2])))
        got.append((out, x.grad, z.grad))
    tol = TOL["complex64"]
    _same(got[0][0], got[1][0], "values", tol)
    for k in (1, 2):
        if got[1][k] is None:
            assert got[0][k] is None
        else:
            _same(got[0][k], got[1][k], f"gradient {k}", tol)


def test_division_and_sigmoid_keep_the_imaginary_part():
    z = agx.tensor([1 + 2j, -0.5 + 1j], dtype=agx.complex64)
    w = agx.tensor([2 - 1j, 1j], dtype=agx.complex64)
    tz, tw = torch.tensor(z.numpy()), torch.tensor(w.numpy())
    _same(z / w, tz / tw, "z / w", TOL["complex64"])
    _same(agx.sigmoid(z), torch.sigmoid(tz), "sigmoid", TOL["complex64"])
    _same(agx.tensor([1, 2]) / w, torch.tensor([1, 2]) / tw, "int / complex", TOL["complex64"])


@pytest.mark.parametrize("fn", [lambda L, z: z.real, lambda L, z: z.imag,
                                lambda L, z: z.conj(), lambda L, z: L.real(z),
                                lambda L, z: L.imag(z), lambda L, z: L.conj(z)],
                         ids=["real", "imag", "conj", "fn-real", "fn-imag", "fn-conj"])
def test_parts_and_their_gradients_as_torch(fn):
    got = []
    for lib in (agx, torch):
        z = _both([1 + 2j, -3 + 0.5j], lib)
        out = fn(lib, z)
        g = np.array([0.5 - 1j, 2 + 1j])
        out.backward(lib.tensor(g if out.dtype.is_complex else g.real))
        got.append((out, z.grad))
    _same(got[0][0], got[1][0], "values", TOL["complex128"])
    _same(got[0][1], got[1][1], "gradient", TOL["complex128"])


def test_parts_of_real_tensors_as_torch():
    x = agx.tensor([1.0, -2.0], requires_grad=True)
    assert x.real is x and x.conj() is x        # PyTorch returns the tensor itself
    _same(agx.angle(x), torch.angle(torch.tensor([1.0, -2.0])), "angle", TOL["complex64"])
    with pytest.raises(RuntimeError, match="imag is not implemented for tensors with "
                                           "non-complex dtypes"):
        x.imag
    with pytest.raises(NotImplementedError, match="torch.sign is not intended to support complex"):
        agx.sign(agx.tensor([1j]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, kw", [("var", {}), ("std", {}), ("var", {"dim": 1}),
                                      ("std", {"dim": 0, "correction": 0}),
                                      ("var_mean", {"dim": 1}), ("std_mean", {})])
def test_variance_of_complex_as_torch(name, kw, dtype):
    rng = np.random.default_rng(1)
    data = (rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))).astype(dtype)
    got = []
    for lib in (agx, torch):
        z = lib.tensor(data, requires_grad=True)
        outs = _tensors(getattr(lib, name)(z, **kw), lambda v: isinstance(v, lib.Tensor))
        grads = _output_grads(np.random.default_rng(2), outs)
        lib.autograd.backward(outs, [lib.tensor(g) for g in grads])
        got.append((outs, z.grad))
    for k, (a, t) in enumerate(zip(got[0][0], got[1][0])):
        _same(a, t, f"output {k}", TOL[dtype])
    _same(got[0][1], got[1][1], "gradient", TOL[dtype])


def test_backward_of_a_complex_scalar_needs_a_gradient():
    z = agx.tensor([1 + 1j], requires_grad=True)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for real "
                                           "scalar outputs but got torch.complex64"):
        (z * z).sum().backward()


def test_gradients_of_gradients_of_complex_as_torch():
    got = []
    for lib in (agx, torch):
        z = _both([1 + 2j, -0.5 + 1j], lib)
        y = (z * z.exp()).sum().abs()
        (g,) = lib.autograd.grad(y, z, create_graph=True)
        (g.abs() ** 2).sum().backward()
        got.append((g, z.grad))
    _same(got[0][0], got[1][0], "first derivative", TOL["complex128"])
    _same(got[0][1], got[1][1], "second derivative", TOL["complex128"])


def test_gradcheck_holds_complex_ops_to_pytorchs_convention():
    z = agx.tensor([1 + 2j, -0.5 + 1j, 0.3 - 2j], dtype=agx.complex128, requires_grad=True)
    w = agx.tensor([2 - 1j, 1j, -1 + 0.5j], dtype=agx.complex128, requires_grad=True)
    assert gradcheck(lambda a, b: (a * b / (a + b), a.abs(), (a * b).var()), (z, w))
    # The gradient without the conjugation (d/dz instead of PyTorch's) is caught.
    from autogradx.plugin import Op
    wrong = Op("wrong_square", lambda xp, x: x * x, holomorphic=False,
               vjp={"input": lambda xp, g, input: 2 * g * input})
    with pytest.raises(GradcheckError, match="input 0 .*complex128.*vjp mismatch"):
        gradcheck(wrong, (z,))
    right = Op("right_square", lambda xp, x: x * x,
               vjp={"input": lambda xp, g, input: 2 * g * input})
    assert gradcheck(right, (z,))
    # and one level up: the vjp of 2 g z, conjugated by the core, is differentiated in turn
    assert gradgradcheck(right, (z,))
    assert gradgradcheck(lambda a, b: (a * b.exp() / (a + b), (a * b).abs(), a.var()), (z, w))


@pytest.mark.parametrize("real", ["float32", "float64", "int64", "bool"])
@pytest.mark.parametrize("make_other", [
    lambda L: 1j, lambda L: L.tensor(1j), lambda L: L.tensor(1j, dtype=L.complex128),
    lambda L: L.tensor([1j, 2j], dtype=L.complex64),
], ids=["number", "0-d-complex64", "0-d-complex128", "1-d-complex64"])
def test_real_tensors_meeting_complex_operands_promote_as_torch(real, make_other):
    # A float tensor meeting a complex number or 0-d tensor keeps its precision
    # (float64 * 1j is complex128), as in PyTorch.
    dtypes = [str((L.ones(2, dtype=getattr(L, real)) * make_other(L)).dtype) for L in (agx, torch)]
    assert dtypes[0] == dtypes[1]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_complex_from_parts_and_views_as_torch(dtype):
    rng = np.random.default_rng(3)
    re_, im_ = rng.standard_normal((2, 3)).astype(dtype), rng.standard_normal((2, 3)).astype(dtype)
    pairs = rng.standard_normal((3, 2)).astype(dtype)
    got = []
    for lib in (agx, torch):
        r, i = lib.tensor(re_, requires_grad=True), lib.tensor(im_, requires_grad=True)
        p = lib.tensor(pairs, requires_grad=True)
        z = lib.complex(r, i)
        v = lib.view_as_real(z * z)
        c = lib.view_as_complex(p)
        (v * lib.tensor(np.arange(12.0).reshape(2, 3, 2).astype(dtype))).sum().backward()
        (c * c.conj() + c.sin()).real.sum().backward()
        got.append([(z, z.grad_fn.name()), (v, v.grad_fn.name()), (c, c.grad_fn.name()),
                    (r.grad, None), (i.grad, None), (p.grad, None)])
    for (a, a_name), (t, t_name) in zip(*got):
        _same(a, t, "value", TOL["complex64"] if dtype == "float32" else TOL["complex128"])
        assert a_name == t_name


def test_views_share_memory_and_refuse_as_torch():
    z = agx.tensor([1 + 2j, 3 - 1j])
    v = agx.view_as_real(z)
    v[0, 1] = 5.0
    assert z[0].item() == 1 + 5j
    p = agx.tensor([[1.0, 2.0]])
    agx.view_as_complex(p)[0] = 3 - 4j
    assert p.tolist() == [[3.0, -4.0]]
    for call in (lambda L: L.view_as_real(L.ones(2)), lambda L: L.view_as_complex(L.ones(2, 3)),
                 lambda L: L.view_as_complex(L.ones(2, 2).t()),
                 lambda L: L.view_as_complex(L.ones(2, dtype=L.int64)),
                 lambda L: L.complex(L.ones(2), L.ones(2, dtype=L.float64)),
                 lambda L: L.complex(L.ones(2, dtype=L.int64), L.ones(2, dtype=L.int64))):
        with pytest.raises(RuntimeError) as theirs:
            call(torch)
        with pytest.raises(RuntimeError) as ours:
            call(agx)
        assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("call", [lambda L: L.complex(L.ones(2, dtype=L.float16),
                                                     L.ones(2, dtype=L.float16)),
                                  lambda L: L.view_as_complex(L.ones(2, dtype=L.float16))],
                         ids=["complex", "view_as_complex"])
def test_float16_parts_are_refused_for_want_of_complex32(call):
    with pytest.raises(RuntimeError, match="complex32"):
        call(agx)
