"""The Op constructor's calling convention."""
import pytest

import autogradx as agx


def test_op_takes_name_and_forward_positionally_and_the_rest_by_keyword():
    from autogradx.plugin import Op
    double = lambda xp, x: 2 * x
    with pytest.warns(DeprecationWarning, match="pass the derivative as vjp=...; a positional"):
        op = Op("probe_positional", double, lambda xp, g: 2 * g)
    x = agx.tensor([1.0, 3.0], requires_grad=True)
    op(x).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    with pytest.raises(TypeError, match="takes name and forward positionally"):
        Op("probe_positional", double, lambda xp, g: 2 * g, ("input",))
    with pytest.raises(TypeError, match="takes name and forward positionally"):
        Op("probe_positional", double, lambda xp, g: 2 * g, vjp=lambda xp, g: g)
