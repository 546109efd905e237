"""PyTorch's legacy constructors, compared with torch: ``autograd.Variable`` and the typed
tensor classes (``LongTensor``, ``FloatTensor``, ...), with ``isinstance`` and
``Tensor.type()`` on them."""

import warnings

import numpy as np
import pytest

import autogradx as agx
from torch_compare import error_of

torch = pytest.importorskip("torch")

TYPES = ["BoolTensor", "ByteTensor", "CharTensor", "ShortTensor", "IntTensor", "LongTensor",
         "HalfTensor", "FloatTensor", "DoubleTensor"]


def _made(t):
    return type(t).__name__, str(t.dtype), tuple(t.shape), t.requires_grad, t.is_leaf


@pytest.mark.parametrize("name", TYPES)
@pytest.mark.parametrize("args", [
    (), (3,), (2, 3), "Size", ([1.7, -2.5, 0.0],), ((2, 3),), ([[1, 0], [0, 1]],),
    "ndarray64", "ndarray32", ([True, False],),
], ids=str)
def test_typed_constructor_makes_pytorchs_tensor(name, args):
    def run(lib):
        if args == "Size":
            call = (lib.Size([2, 3]),)
        elif args == "ndarray64":
            call = (np.array([1.5, -2.0]),)
        elif args == "ndarray32":
            call = (np.array([1.5, -2.0], dtype=np.float32),)
        else:
            call = args
        made = error_of(lambda: getattr(lib, name)(*call))
        if made is not None:
            return made                 # out of the type's range, as PyTorch refuses
        t = getattr(lib, name)(*call)
        # sizes leave the values uninitialised: compare them only for data
        values = t.tolist() if call and not isinstance(call[0], (int, lib.Size)) else None
        return _made(t), values

    assert run(agx) == run(torch)


@pytest.mark.parametrize("name", TYPES)
def test_isinstance_checks_dtype_as_pytorch(name):
    def run(lib):
        cls = getattr(lib, name)
        samples = [lib.ones(2, dtype=getattr(lib, d)) for d in
                   ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32",
                    "float64")]
        samples.append(lib.ones(2, requires_grad=True) * 2)      # a non-leaf float32
        return [isinstance(s, cls) for s in samples], isinstance(3, cls), \
            issubclass(cls, lib.Tensor), str(cls.dtype), cls.is_cuda

    assert run(agx) == run(torch)


def test_a_tensor_of_the_same_dtype_is_aliased_with_its_gradient():
    def run(lib):
        t = lib.ones(2, requires_grad=True)
        a = lib.FloatTensor(t)
        a.sum().backward()
        same = lib.ones(2)
        b = lib.FloatTensor(same)
        b.add_(1)
        return a is t, a.requires_grad, a.is_leaf, t.grad.tolist(), same.tolist()

    assert run(agx) == run(torch)


@pytest.mark.parametrize("call", [
    lambda lib: lib.FloatTensor(lib.ones(2, dtype=lib.int64)),
    lambda lib: lib.LongTensor(lib.ones(2)),
    lambda lib: lib.FloatTensor([1.0], requires_grad=True),
    lambda lib: lib.FloatTensor([1.0], dtype=lib.float64),
    lambda lib: lib.FloatTensor("a"),
    lambda lib: lib.FloatTensor(2.5),
    lambda lib: lib.FloatTensor(-1),
    lambda lib: lib.Tensor(2, -3),
    lambda lib: lib.ones(2).type("float64"),
    lambda lib: lib.ones(2).type("torch.float64"),
], ids=["int-to-Float", "float-to-Long", "requires_grad", "dtype", "str", "float", "negative",
        "Tensor-negative", "type-bad-name", "type-dtype-name"])
def test_refusals_are_pytorchs(call):
    got, expected = error_of(lambda: call(agx)), error_of(lambda: call(torch))
    assert got[0] == expected[0]
    # PyTorch's own first line (its argument parser lists the signatures after it)
    assert got[1].splitlines()[0] == expected[1].splitlines()[0]


def test_tensor_type_accepts_the_classes_and_their_names():
    def run(lib):
        x = lib.ones(2)
        return (tuple(lib.DoubleTensor(2, device="cpu").shape), str(x.type(lib.DoubleTensor).dtype), str(x.type("torch.LongTensor").dtype),
                x.type(lib.FloatTensor) is x, x.type(lib.float16).type())

    assert run(agx) == run(torch)


def _variables(lib):
    from importlib import import_module
    Variable = import_module(f"{lib.__name__}.autograd").Variable
    x = lib.ones(2)
    v = Variable(x)
    w = Variable(x, requires_grad=True)
    w.detach().add_(1)                          # the data is shared
    y = lib.ones(2, requires_grad=True) * 2
    u = Variable(y)
    return [(v is x, _made(v)), (w is x, _made(w), x.tolist(), x.requires_grad),
            _made(u), _made(Variable()), isinstance(x, Variable), isinstance(3, Variable),
            issubclass(lib.Tensor, Variable), Variable.__name__]


def test_variable_returns_a_tensor_as_pytorch():
    assert _variables(agx) == _variables(torch)


@pytest.mark.parametrize("call", [
    lambda V, lib: V([1, 2]), lambda V, lib: V(3), lambda V, lib: V(np.ones(2)),
    lambda V, lib: V(lib.arange(3), requires_grad=True),
], ids=["list", "int", "ndarray", "int-requires-grad"])
def test_variable_refusals_are_pytorchs(call):
    got = error_of(lambda: call(agx.autograd.Variable, agx))
    assert got == error_of(lambda: call(torch.autograd.Variable, torch)) and got is not None


def test_variable_volatile_warns_as_pytorch():
    def run(lib):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            v = lib.autograd.Variable(lib.ones(1), volatile=True)
        return [(w.category, str(w.message)) for w in caught], v.requires_grad

    assert run(agx) == run(torch)
