"""Finite-difference gradient checks (float64) of every built-in op, over broadcasting.

Each case is one line: an id, the function, and the inputs. Inputs are built
from specs: ``R(shape)`` real values, ``P(shape)`` positive values (for log,
pow and division), ``U(shape)`` values in (0, 1) (BCE targets), ``K(spec)``
the same but not requiring grad (a constant operand). Python scalars are
written into the functions.
"""

import pytest

import autogradx as agx
from autogradx.testing import gradcheck
from helpers import K, P, R, U, case, make_inputs

F = agx.nn.functional


ELEMENTWISE = [
    # add
    case("add-same", lambda x, y: x + y, R(2, 3), R(2, 3)),
    case("add-tensor+py", lambda x: x + 1.5, R(2, 3)),
    case("add-py+tensor", lambda x: 1.5 + x, R(2, 3)),
    case("add-3x1+1x4", lambda x, y: x + y, R(3, 1), R(1, 4)),
    case("add-2x3x4+4", lambda x, y: x + y, R(2, 3, 4), R(4)),
    case("add-0d+2x3", lambda x, y: x + y, R(), R(2, 3)),
    case("add-1+5", lambda x, y: x + y, R(1), R(5)),
    case("add-alpha", lambda x, y: agx.add(x, y, alpha=-2.5), R(3, 1), R(1, 4)),
    case("add-const-other", lambda x, y: x + y, R(2, 3), K(R(3))),
    # sub
    case("sub-same", lambda x, y: x - y, R(2, 3), R(2, 3)),
    case("sub-tensor-py", lambda x: x - 1.5, R(2, 3)),
    case("sub-3x1-1x4", lambda x, y: x - y, R(3, 1), R(1, 4)),
    case("sub-2x3x4-4", lambda x, y: x - y, R(2, 3, 4), R(4)),
    case("sub-0d-2x3", lambda x, y: x - y, R(), R(2, 3)),
    case("sub-1-5", lambda x, y: x - y, R(1), R(5)),
    case("sub-alpha", lambda x, y: agx.sub(x, y, alpha=3), R(2, 3, 4), R(4)),
    # rsub (what ``scalar - tensor`` computes)
    case("rsub-py-tensor", lambda x: 2.0 - x, R(2, 3)),
    case("rsub-int-tensor", lambda x: 2 - x, R(2, 3)),
    case("rsub-0d-scalar", lambda x: 2.0 - x, R()),
    case("rsub-op-3x1-1x4", lambda x, y: agx.rsub(x, y), R(3, 1), R(1, 4)),
    case("rsub-op-alpha", lambda x, y: agx.rsub(x, y, alpha=2), R(2, 3, 4), R(4)),
    # mul
    case("mul-same", lambda x, y: x * y, R(2, 3), R(2, 3)),
    case("mul-tensor*py", lambda x: x * 2.5, R(2, 3)),
    case("mul-py*tensor", lambda x: 2.5 * x, R(2, 3)),
    case("mul-3x1*1x4", lambda x, y: x * y, R(3, 1), R(1, 4)),
    case("mul-2x3x4*4", lambda x, y: x * y, R(2, 3, 4), R(4)),
    case("mul-0d*2x3", lambda x, y: x * y, R(), R(2, 3)),
    case("mul-1*5", lambda x, y: x * y, R(1), R(5)),
    case("mul-self", lambda x: x * x, R(2, 3)),
    # div
    case("div-same", lambda x, y: x / y, R(2, 3), P(2, 3)),
    case("div-tensor/py", lambda x: x / 2.5, R(2, 3)),
    case("div-py/tensor", lambda x: 2.5 / x, P(2, 3)),
    case("div-3x1/1x4", lambda x, y: x / y, R(3, 1), P(1, 4)),
    case("div-2x3x4/4", lambda x, y: x / y, R(2, 3, 4), P(4)),
    case("div-0d/2x3", lambda x, y: x / y, R(), P(2, 3)),
    case("div-2x3/0d", lambda x, y: x / y, R(2, 3), P()),
    case("div-1/5", lambda x, y: x / y, R(1), P(5)),
    # neg, exp, log, clone
    case("neg", lambda x: -x, R(2, 3)),
    case("neg-0d", lambda x: -x, R()),
    case("neg-fn", lambda x: agx.neg(x), R(4)),
    case("exp", lambda x: agx.exp(x), R(2, 3)),
    case("exp-method-0d", lambda x: x.exp(), R()),
    case("log", lambda x: agx.log(x), P(2, 3)),
    case("log-method-0d", lambda x: x.log(), P()),
    case("clone", lambda x: x.clone(), R(2, 3)),
    case("clone-0d", lambda x: agx.clone(x), R()),
    case("chain", lambda x, y: agx.log(agx.exp(x) * y + 1.0) / (y - x * 0.1 + 3.0),
         R(3, 1), P(1, 4)),
]

POW = [
    case("pow-tensor**tensor", lambda x, y: x ** y, P(2, 3), R(2, 3)),
    case("pow-3x1**1x4", lambda x, y: x ** y, P(3, 1), R(1, 4)),
    case("pow-2x3x4**4", lambda x, y: x ** y, P(2, 3, 4), R(4)),
    case("pow-0d**2x3", lambda x, y: x ** y, P(), R(2, 3)),
    case("pow-2x3**0d", lambda x, y: x ** y, P(2, 3), R()),
    case("pow-1**5", lambda x, y: x ** y, P(1), R(5)),
    case("pow-tensor**2", lambda x: x ** 2, R(2, 3)),
    case("pow-tensor**3", lambda x: x ** 3, R(2, 3)),
    case("pow-tensor**0.5", lambda x: x ** 0.5, P(2, 3)),
    case("pow-tensor**-1", lambda x: x ** -1, P(2, 3)),
    case("pow-tensor**0", lambda x: x ** 0, R(2, 3)),
    case("pow-tensor**2.0", lambda x: x ** 2.0, R(2, 3)),
    case("pow-fn", lambda x: agx.pow(x, 1.5), P(2, 3)),
    case("pow-py**tensor", lambda x: 2.0 ** x, R(2, 3)),
    case("pow-int**tensor", lambda x: 3 ** x, R(2, 3)),
    case("pow-const-base", lambda x, y: x ** y, K(P(2, 3)), R(2, 3)),
    case("pow-const-exponent", lambda x, y: x ** y, P(2, 3), K(R(3))),
]

MATMUL = [
    case("matmul-1d@1d", lambda a, b: a @ b, R(3), R(3)),
    case("matmul-2d@1d", lambda a, b: a @ b, R(2, 3), R(3)),
    case("matmul-1d@2d", lambda a, b: a @ b, R(3), R(3, 4)),
    case("matmul-2d@2d", lambda a, b: a @ b, R(2, 3), R(3, 4)),
    case("matmul-3d@3d", lambda a, b: a @ b, R(2, 2, 3), R(2, 3, 4)),
    case("matmul-3d@2d", lambda a, b: a @ b, R(2, 2, 3), R(3, 4)),
    case("matmul-2d@3d", lambda a, b: a @ b, R(2, 3), R(2, 3, 4)),
    case("matmul-broadcast-batch", lambda a, b: a @ b, R(2, 1, 3, 4), R(5, 4, 2)),
    case("matmul-1d@3d", lambda a, b: a @ b, R(3), R(2, 3, 4)),
    case("matmul-3d@1d", lambda a, b: a @ b, R(2, 3, 4), R(4)),
    case("matmul-fn", lambda a, b: agx.matmul(a, b), R(2, 3), R(3, 4)),
    case("matmul-method", lambda a, b: a.matmul(b), R(4, 3), R(3)),
    case("matmul-const-other", lambda a, b: a @ b, R(2, 3), K(R(3, 4))),
]


def _reduction_cases(name, method):
    dims = [(None, "all"), (0, "0"), (1, "1"), (-1, "-1"), ((0, 2), "0,2"), ((-1, 0), "-1,0")]
    out = []
    for dim, label in dims:
        for keepdim in (False, True):
            if dim is None and keepdim:
                continue
            if dim is None:
                fn = (lambda x, m=method: getattr(x, m)())
            else:
                fn = (lambda x, m=method, d=dim, k=keepdim: getattr(x, m)(d, keepdim=k))
            out.append(case(f"{name}-dim={label}-keepdim={keepdim}", fn, R(2, 3, 4)))
    fn_name = getattr(agx, method)
    out += [
        case(f"{name}-fn-dim-kwarg", lambda x, f=fn_name: f(x, dim=1, keepdim=True), R(2, 3, 4)),
        case(f"{name}-0d", lambda x, m=method: getattr(x, m)(), R()),
        case(f"{name}-0d-dim=0", lambda x, m=method: getattr(x, m)(0), R()),
        case(f"{name}-0d-dim=-1-keepdim", lambda x, m=method: getattr(x, m)(-1, keepdim=True),
             R()),
        case(f"{name}-1d-dim=0", lambda x, m=method: getattr(x, m)(0), R(5)),
    ]
    return out


REDUCTIONS = _reduction_cases("sum", "sum") + _reduction_cases("mean", "mean")

PERMUTE = [
    case("permute-2d", lambda x: x.permute(1, 0), R(2, 3)),
    case("permute-3d", lambda x: x.permute(2, 0, 1), R(2, 3, 4)),
    case("permute-3d-tuple", lambda x: x.permute((1, 2, 0)), R(2, 3, 4)),
    case("permute-negative", lambda x: x.permute(-1, -3, -2), R(2, 3, 4)),
    case("permute-identity", lambda x: x.permute(0, 1, 2), R(2, 3, 4)),
    case("permute-fn", lambda x: agx.permute(x, (1, 0)), R(3, 4)),
    case("permute-then-mul", lambda x, y: x.permute(1, 0) * y, R(3, 4), R(4, 3)),
]


def _bce(**kw):
    return lambda x, y, *rest: F.binary_cross_entropy_with_logits(x, y, *rest, **kw)


def _bce_pos(reduction="mean"):
    return lambda x, y, pw: F.binary_cross_entropy_with_logits(
        x, y, pos_weight=pw, reduction=reduction)


def _bce_both(reduction):
    return lambda x, y, w, pw: F.binary_cross_entropy_with_logits(
        x, y, weight=w, pos_weight=pw, reduction=reduction)


BCE = [
    case(f"bce-{red}", _bce(reduction=red), R(2, 3), U(2, 3))
    for red in ("mean", "sum", "none")
] + [
    case(f"bce-weight-{red}", _bce(reduction=red), R(2, 3), U(2, 3), K(P(2, 3)))
    for red in ("mean", "sum", "none")
] + [
    case(f"bce-pos_weight-{red}", _bce_pos(red), R(2, 3), U(2, 3), K(P(3)))
    for red in ("mean", "sum", "none")
] + [
    case(f"bce-weight-pos_weight-{red}", _bce_both(red), R(2, 3), U(2, 3), K(P(1, 3)), K(P(3)))
    for red in ("mean", "sum", "none")
] + [
    case("bce-default", _bce(), R(4), U(4)),
    case("bce-input-only", _bce(), R(2, 3), K(U(2, 3))),
    case("bce-target-only", _bce(reduction="sum"), K(R(2, 3)), U(2, 3)),
    case("bce-broadcast-weight", _bce(reduction="sum"), R(2, 3), U(2, 3), K(P(3))),
    case("bce-0d", _bce(), R(), U()),
    case("bce-large-logits", lambda x, y: F.binary_cross_entropy_with_logits(x * 30.0, y),
         R(2, 3), U(2, 3)),
]

ALL = ELEMENTWISE + POW + MATMUL + REDUCTIONS + PERMUTE + BCE


@pytest.mark.parametrize("fn, specs", ALL)
def test_gradcheck_float64(fn, specs):
    assert gradcheck(fn, make_inputs(specs, seed=1234))


# float32 inputs: the check still runs in float64, and backward must give
# float32 gradients of the inputs' shapes.
FLOAT32 = [
    case("add-3x1+1x4", lambda x, y: x + y, R(3, 1), R(1, 4)),
    case("mul-0d*2x3", lambda x, y: x * y, R(), R(2, 3)),
    case("div-2x3x4/4", lambda x, y: x / y, R(2, 3, 4), P(4)),
    case("pow-3x1**1x4", lambda x, y: x ** y, P(3, 1), R(1, 4)),
    case("matmul-broadcast-batch", lambda a, b: a @ b, R(2, 1, 3, 4), R(5, 4, 2)),
    case("mean-dim", lambda x: x.mean((0, 2)), R(2, 3, 4)),
    case("bce-weight-pos_weight", _bce_both("mean"), R(2, 3), U(2, 3), K(P(1, 3)), K(P(3))),
]


@pytest.mark.parametrize("fn, specs", FLOAT32)
def test_gradcheck_float32_inputs(fn, specs):
    assert gradcheck(fn, make_inputs(specs, seed=1234, dtype=agx.float32))


def test_every_listed_op_is_covered():
    """Each built-in op appears in at least one case id above."""
    ids = " ".join(p.id for p in ALL)
    for op in ("add", "sub", "rsub", "mul", "div", "neg", "pow", "exp", "log", "clone",
               "sum", "mean", "permute", "matmul", "bce"):
        assert f"{op}-" in ids or ids.startswith(op), op
