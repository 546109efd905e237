"""The Op constructor's calling convention, and what a vjp can ask of it (on_tensors)."""
import numpy as np
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


# -- on_tensors: a vjp knows whether it runs on arrays or on tensors ---------------------

def test_on_tensors_is_false_on_arrays_and_true_under_create_graph():
    from autogradx.plugin import Op, on_tensors
    seen = []

    def vjp(xp, g, input):
        seen.append(on_tensors(xp))
        return 2 * g * input

    square = Op("probe_on_tensors", lambda xp, x: x * x, vjp=vjp, save="input")
    x = agx.tensor([1.0, 2.0], dtype=agx.float64, requires_grad=True)
    (gx,) = agx.autograd.grad(square(x).sum(), x, create_graph=True)
    gx.sum().backward()
    assert seen == [True] and x.grad.tolist() == [2.0, 2.0]
    square(x).sum().backward()
    assert seen == [True, False]


def _bessel_ops():
    """j0 and j1 with SciPy forwards; each vjp calls SciPy on arrays, an op on tensors."""
    special = pytest.importorskip("scipy.special")
    from autogradx.plugin import Op, on_tensors

    def j1_vjp(xp, g, input, result):       # j1' = j0 - j1 / x
        j0 = J0(input) if on_tensors(xp) else special.j0(input)
        return g * (j0 - result / input)

    J1 = Op("probe_j1", lambda xp, x: special.j1(x), vjp={"input": j1_vjp})
    J0 = Op("probe_j0", lambda xp, x: special.j0(x), vjp={
        "input": lambda xp, g, input: -g * (J1(input) if on_tensors(xp) else special.j1(input))})
    return J0, J1


def test_a_vjp_that_asks_on_tensors_has_gradients_of_gradients():
    from autogradx.testing import gradgradcheck
    j0, _ = _bessel_ops()
    x = agx.tensor([0.5, 1.5, 3.0], dtype=agx.float64, requires_grad=True)
    assert gradgradcheck(j0, (x,))
    torch = pytest.importorskip("torch")
    (gx,) = agx.autograd.grad(j0(x).sum(), x, create_graph=True)
    gx.sum().backward()
    xt = torch.tensor([0.5, 1.5, 3.0], dtype=torch.float64, requires_grad=True)
    # torch.special.bessel_j0 has no derivative: j0'' = -j1' written out, from torch's j0, j1
    expected = -(torch.special.bessel_j0(xt) - torch.special.bessel_j1(xt) / xt)
    assert np.allclose(x.grad.numpy(), expected.detach().numpy())


def test_a_vjp_that_forgets_it_is_named_with_its_op_and_plugin(monkeypatch):
    from autogradx._registry import REGISTRY
    from autogradx.plugin import Op
    special = pytest.importorskip("scipy.special")
    j0 = Op("probe_forgets", lambda xp, x: special.j0(x),
            vjp={"input": lambda xp, g, input: -g * special.j1(input)})
    j0._set_plugin("myplug")
    monkeypatch.setitem(REGISTRY.load().ops, "probe_forgets", j0)
    x = agx.tensor([0.5, 1.5], dtype=agx.float64, requires_grad=True)
    j0(x).sum().backward()          # on arrays, SciPy is fine
    with pytest.raises(RuntimeError) as info:
        agx.autograd.grad(j0(x).sum(), x, create_graph=True)
    assert str(info.value) == (
        "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead. "
        "(In the vjp of op 'probe_forgets' (plugin 'myplug'), run on tensors to compute "
        "gradients of gradients (create_graph=True): call ops there, not array functions; "
        "autogradx.plugin.on_tensors(xp) tells a vjp which case it is in.)")
    # outside a vjp the message is PyTorch's alone
    with pytest.raises(RuntimeError, match=r"instead\.$"):
        np.asarray(x)


# -- what docs/plugins.md says of names and arguments --------------------------------------

def test_a_dotted_name_as_the_guide_says(monkeypatch):
    """A dotted name's prefix is its namespace, unless namespace= says otherwise; the
    function and method use the part after the dot, the node name the whole name."""
    from autogradx._registry import REGISTRY
    from autogradx.plugin import Op
    torch = pytest.importorskip("torch")
    logit = Op("special.probe_logit", lambda xp, x: xp.log(x / (1 - x)),
               vjp={"input": lambda xp, g, input: g / (input * (1 - input))}, method=True)
    assert logit.namespaces == ("special",) and logit.method == "probe_logit"
    monkeypatch.setitem(REGISTRY.load().ops, logit.name, logit)
    x = agx.tensor([0.25, 0.5], requires_grad=True)
    y = agx.special.probe_logit(x)
    assert y.grad_fn.name() == "SpecialProbeLogitBackward0"
    assert not hasattr(agx, "probe_logit")
    y.sum().backward()
    xt = torch.tensor([0.25, 0.5], requires_grad=True)
    torch.special.logit(xt).sum().backward()
    assert np.allclose(x.grad.numpy(), xt.grad.numpy())
    top = Op("special.probe_top", lambda xp, x: x, vjp={"input": lambda xp, g: g}, namespace="")
    assert top.namespaces == ("",)


@pytest.mark.parametrize("name, call", [
    # torch.special's and torch.linalg's own functions: the namespace is in the node's name
    ("special.erfcx", lambda t, x: t.special.erfcx(x)),
    ("special.log_ndtr", lambda t, x: t.special.log_ndtr(x)),
    ("special.i0e", lambda t, x: t.special.i0e(x)),
    ("special.xlog1py", lambda t, x: t.special.xlog1py(x, x)),
    ("special.ndtri", lambda t, x: t.special.ndtri(x)),
    ("linalg.vector_norm", lambda t, x: t.linalg.vector_norm(x)),
    # digits and underscores as PyTorch's codegen title-cases them
    ("log1p", lambda t, x: t.log1p(x)),
    ("logaddexp2", lambda t, x: t.logaddexp2(x, x)),
    ("binary_cross_entropy_with_logits",
     lambda t, x: t.nn.functional.binary_cross_entropy_with_logits(x, x.detach())),
])
def test_the_default_node_name_is_pytorchs(name, call):
    from autogradx.plugin import Op
    torch = pytest.importorskip("torch")
    x = torch.tensor([0.25, 0.5], dtype=torch.float64, requires_grad=True)
    op = Op(name, lambda xp, x: x, vjp={"input": lambda xp, g: g})
    assert op.grad_fn == type(call(torch, x).grad_fn).__name__


def test_the_guides_op_signature_is_ops():
    """docs/plugins.md's Op(...) block lists Op's keyword arguments, all of them, and
    everything after forward is keyword-only."""
    import re
    from pathlib import Path

    from autogradx.plugin import Op
    guide = (Path(__file__).resolve().parents[2] / "docs" / "plugins.md").read_text()
    block = guide[guide.index("Op(name, forward, *,"):]
    block = block[:block.index("```")]
    documented = re.findall(r"(\w+)=", block)
    signature = Op.__doc__.splitlines()[0]          # the signature help(Op) shows
    actual = re.findall(r"(\w+)=", signature)
    assert sorted(documented) == sorted(actual)
    with pytest.raises(TypeError, match="takes name and forward positionally"):
        Op("probe_kw", lambda xp, x: x, None, ("input",))


def test_the_guide_shows_each_public_method_of_op():
    """Op's public methods (defvjp) are in the guide with a use, not only in help(Op)."""
    from pathlib import Path

    from autogradx.plugin import Op
    guide = (Path(__file__).resolve().parents[2] / "docs" / "plugins.md").read_text()
    methods = [name for name, value in vars(Op).items()
               if not name.startswith("_") and callable(value)]
    assert "defvjp" in methods
    for name in methods:
        assert f"op.{name}(" in guide, name
    assert "@cube.defvjp\ndef " in guide


def test_help_op_shows_inputs_keyword_only():
    """help(Op) shows Op's real signature: name and forward positional, the rest keyword-only,
    each keyword accepted with the default it shows, the same keywords as the stub's."""
    import ast
    import pydoc
    import re
    from pathlib import Path

    from autogradx.plugin import Op
    shown = pydoc.render_doc(Op, renderer=pydoc.plaintext)
    signature = Op.__doc__.splitlines()[0]
    assert signature in shown
    assert signature.startswith("Op(name, forward, *, inputs=")
    # a default computed from other arguments is described: namespace=<the name's prefix>
    described = re.findall(r"(\w+)=<[^>]*>", signature)
    node = ast.parse(f"def {re.sub(r'=<[^>]*>', '=...', signature)}: pass").body[0].args
    assert [a.arg for a in node.args] == ["name", "forward"] and node.vararg is None
    defaults = {a.arg: ast.literal_eval(d) for a, d in zip(node.kwonlyargs, node.kw_defaults)}
    op = Op("probe_signature", lambda xp, x: x,
            **{k: v for k, v in defaults.items() if k not in described})
    assert described == ["namespace"] and op.namespaces == ("",)
    assert op.inputs == ("input",) and op.grad_fn == "ProbeSignatureBackward0"
    stub = ast.parse((Path(agx.__file__).parent / "_core" / "opdef.pyi").read_text())
    init = next(f for c in stub.body if isinstance(c, ast.ClassDef)
                for f in c.body if getattr(f, "name", None) == "__init__")
    assert [a.arg for a in init.args.kwonlyargs] == list(defaults)
