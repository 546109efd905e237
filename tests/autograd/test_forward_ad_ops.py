"""Every differentiable op of the registry has a forward rule (which kind is read from the
registry), and its jvp agrees with finite differences and, by the transpose identity, with
its vjp on the op's conformance samples (autogradx.conformance's forward-mode check)."""
import collections

import pytest

from autogradx._registry import REGISTRY
from autogradx.autograd._jvp import (NO_FORWARD, PYTORCH_HAS_NONE, RULE_KINDS, fallback_ops,
                                     rule_kind)
from autogradx.conformance import Skip, check_op, plugin_cases

BUILTIN = next(name for name, info in REGISTRY.load().plugins.items() if info.builtin)
CASES = [(op, cases) for op, cases in plugin_cases(BUILTIN)
         if cases is not None and not isinstance(cases, Skip) and rule_kind(op) is not None
         and op.name not in NO_FORWARD]


def test_every_differentiable_op_has_a_forward_rule():
    ops = REGISTRY.load().ops
    kinds = collections.defaultdict(list)
    for name, op in ops.items():
        kinds[rule_kind(op)].append(name)
        differentiable = op.vjp is not None or op.vjps is not None
        assert (rule_kind(op) in RULE_KINDS) == differentiable, name
    # The list the docs and coverage page report: derived, and consistent with the kinds.
    assert fallback_ops() == sorted(kinds["transpose"])
    assert kinds["elementwise"] and kinds["view"] and kinds["linear"] and kinds["multilinear"]


def test_declared_kinds_stay_declared():
    ops = REGISTRY.load().ops
    assert rule_kind(ops["matmul"]) == "multilinear"    # a gufunc, not an elementwise ufunc
    assert rule_kind(ops["sum"]) == "linear"
    assert rule_kind(ops["reshape"]) == "view"
    assert rule_kind(ops["sigmoid"]) == "elementwise"


@pytest.mark.parametrize("op, cases", CASES, ids=[op.name for op, _ in CASES])
def test_jvp_matches_finite_differences_and_the_vjp(op, cases):
    # dtypes=(): only the forward-mode check (float64), not the first-order ones.
    report = check_op(op, cases, dtypes=(), second_order=False, raise_exception=False)
    assert report.ok, str(report)


@pytest.mark.parametrize("name", sorted(n for n, why in NO_FORWARD.items()
                                         if why is not PYTORCH_HAS_NONE))
def test_ops_without_a_right_tangent_refuse_forward_mode(name):
    import autogradx as agx
    from autogradx.autograd import forward_ad as fwAD
    op = REGISTRY.load().ops[name]
    a = agx.tensor([[2.0, 1.0], [0.5, 3.0]], dtype=agx.float64)
    with fwAD.dual_level():
        dual = fwAD.make_dual(a, agx.ones_like(a))
        with pytest.raises(NotImplementedError, match=f"forward-mode AD of {name}"):
            op(dual)
