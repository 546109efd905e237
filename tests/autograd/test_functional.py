"""autograd.functional: vjp, jvp, jacobian, hessian, hvp, vhp.

Analytic results first; then every transform against torch.autograd.functional
on the same functions and inputs: values, the nesting of tuples, which results
carry a graph, and the strict-mode and bad-argument errors.
"""

import numpy as np
import pytest

import autogradx as agx
from helpers import arr, close, float_tensor

AF = agx.autograd.functional


def t(values, requires_grad=False, lib=agx):
    """A float64 tensor, by default without grad (most values here are directions)."""
    return float_tensor(values, requires_grad, lib=lib)


X = np.array([0.5, -1.0, 2.0])
Y = np.array([1.5, -0.5])


# ------------------------------------------------------------------ analytic

def test_vjp_of_a_single_function():
    out, g = AF.vjp(lambda a: a ** 2, t(X), t([1.0, 2.0, 3.0]))
    close(out, X ** 2)
    close(g, 2 * X * [1, 2, 3])
    assert not out.requires_grad and not g.requires_grad


def test_vjp_default_v_for_a_scalar_output():
    _, g = AF.vjp(lambda a: (a ** 3).sum(), t(X))
    close(g, 3 * X ** 2)


def test_vjp_tuples_of_inputs_and_outputs():
    outs, (ga, gb) = AF.vjp(lambda a, b: (a * 2, b.sum() * a), (t(X), t(Y)),
                            (t([1.0, 1.0, 1.0]), t([1.0, 0.0, 2.0])))
    assert isinstance(outs, tuple) and len(outs) == 2
    close(ga, 2 + Y.sum() * np.array([1.0, 0.0, 2.0]))
    close(gb, np.full(2, X @ [1.0, 0.0, 2.0]))


def test_jvp():
    out, jv = AF.jvp(lambda a: a.sin() * a, t(X), t([1.0, 0.0, -1.0]))
    close(out, np.sin(X) * X)
    close(jv, (np.cos(X) * X + np.sin(X)) * [1, 0, -1])


def test_jvp_several_inputs_and_outputs():
    outs, (j1, j2) = AF.jvp(lambda a, b: (a * b.sum(), (a ** 2).sum()), (t(X), t(Y)),
                            (t([1.0, 1.0, 1.0]), t([1.0, -1.0])))
    close(j1, np.ones(3) * Y.sum() + X * 0.0)
    close(j2, 2 * X.sum())
    assert len(outs) == 2


def test_jacobian_shapes_and_values():
    j = AF.jacobian(lambda a: a.reshape(3, 1) * t([[1.0, 2.0]]), t(X))
    assert j.shape == (3, 2, 3)
    expected = np.zeros((3, 2, 3))
    for i in range(3):
        expected[i, :, i] = [1, 2]
    close(j, expected)


def test_jacobian_nests_like_torch():
    jac = AF.jacobian(lambda a, b: (a * 2, (a ** 2).sum() * b), (t(X), t(Y)))
    (j00, j01), (j10, j11) = jac
    assert j00.shape == (3, 3) and j01.shape == (3, 2)
    assert j10.shape == (2, 3) and j11.shape == (2, 2)
    close(j00, 2 * np.eye(3))
    close(j01, np.zeros((3, 2)))
    close(j10, np.outer(Y, 2 * X))
    close(j11, np.eye(2) * (X ** 2).sum())
    single_out = AF.jacobian(lambda a, b: a * b.sum(), (t(X), t(Y)))
    assert isinstance(single_out, tuple) and len(single_out) == 2
    single_in = AF.jacobian(lambda a: (a, a * 2), t(X))
    assert isinstance(single_in, tuple) and single_in[1].shape == (3, 3)


def test_hessian():
    h = AF.hessian(lambda a: (a ** 3).sum() + a[0] * a[1], t(X))
    expected = np.diag(6 * X)
    expected[0, 1] = expected[1, 0] = 1
    close(h, expected)


def test_hessian_of_several_inputs():
    (haa, hab), (hba, hbb) = AF.hessian(lambda a, b: (a ** 2).sum() * b.sum(), (t(X), t(Y)))
    close(haa, 2 * Y.sum() * np.eye(3))
    close(hab, np.repeat(2 * X[:, None], 2, 1))
    close(hba, np.repeat(2 * X[None, :], 2, 0))
    close(hbb, np.zeros((2, 2)))


def test_hvp_and_vhp():
    f = lambda a: (a ** 3).sum() + a[0] * a[2]      # noqa: E731
    v = t([1.0, 2.0, 3.0])
    h = np.diag(6 * X)
    h[0, 2] = h[2, 0] = 1
    for transform in (AF.hvp, AF.vhp):
        out, hv = transform(f, t(X), v)
        close(out, (X ** 3).sum() + X[0] * X[2])
        close(hv, h @ [1, 2, 3])


def test_create_graph_results_are_differentiable():
    x = t(X, requires_grad=True)
    out, g = AF.vjp(lambda a: a ** 3, x, t([1.0, 1.0, 1.0]), create_graph=True)
    assert out.requires_grad and g.requires_grad
    (gg,) = agx.autograd.grad(g.sum(), x)
    close(gg, 6 * X)
    j = AF.jacobian(lambda a: a ** 3, x, create_graph=True)
    (gj,) = agx.autograd.grad(j.sum(), x)
    close(gj, 6 * X)
    _, hv = AF.hvp(lambda a: (a ** 4).sum(), x, t([1.0, 1.0, 1.0]), create_graph=True)
    (ghv,) = agx.autograd.grad(hv.sum(), x)
    close(ghv, 24 * X)


def test_without_create_graph_the_callers_graph_is_untouched():
    x = t(X, requires_grad=True)
    h = x * 2
    out, g = AF.vjp(lambda a: a ** 2, h, t([1.0, 1.0, 1.0]))
    assert not out.requires_grad and not g.requires_grad
    assert x.grad is None


def test_outputs_that_do_not_depend_on_an_input_give_zeros():
    _, (ga, gb) = AF.vjp(lambda a, b: a * 2, (t(X), t(Y)), t([1.0, 1.0, 1.0]))
    close(gb, np.zeros(2))
    close(ga, [2, 2, 2])


# ------------------------------------------------------------------ errors

@pytest.mark.parametrize("call, error, message", [
    pytest.param(lambda: AF.vjp(lambda a, b: a.sum(), (t(X), t(Y)), t(1.0), strict=True),
                 RuntimeError, "The output of the user-provided function is independent of input 1",
                 id="vjp-strict-independent"),
    pytest.param(lambda: AF.vjp(lambda a: t([1.0, 2.0]), t(X), t([1.0, 1.0]), strict=True),
                 RuntimeError, "Output 0 of the user-provided function does not require gradients",
                 id="vjp-strict-constant-output"),
    pytest.param(lambda: AF.vjp(lambda a: a, t(X), t([1.0, 1.0, 1.0]), create_graph=True,
                                strict=True),
                 RuntimeError, "independent of input 0. This is not allowed in strict mode when "
                               "create_graph=True", id="vjp-strict-create-graph-linear"),
    pytest.param(lambda: AF.jvp(lambda a: (a * 2, a.detach()), t(X), t([1.0, 1.0, 1.0]),
                                strict=True),
                 RuntimeError, "Output 1 of the user-provided function does not require gradients",
                 id="jvp-strict-detached-output"),
    pytest.param(lambda: AF.jacobian(lambda a, b: a * 2, (t(X), t(Y)), strict=True),
                 RuntimeError, "Output 0 of the user-provided function is independent of input 1",
                 id="jacobian-strict-independent"),
    pytest.param(lambda: AF.hessian(lambda a, b: (a ** 2).sum(), (t(X), t(Y)), strict=True),
                 RuntimeError, "the jacobian of the user-provided function with respect to input "
                               "1 is independent of the input", id="hessian-strict-independent"),
    pytest.param(lambda: AF.hvp(lambda a: (a * 2).sum(), t(X), t([1.0, 1.0, 1.0]), strict=True),
                 RuntimeError, "this would be violated by a linear function",
                 id="hvp-strict-linear"),
    pytest.param(lambda: AF.hessian(lambda a: a ** 2, t(X)), RuntimeError,
                 "The Tensor returned by the function given to hessian should contain a single "
                 "element", id="hessian-non-scalar"),
    pytest.param(lambda: AF.vhp(lambda a: a * 2, t(X), t([1.0, 1.0, 1.0])), RuntimeError,
                 "function given to vhp should contain a single element", id="vhp-non-scalar"),
    pytest.param(lambda: AF.hessian(lambda a: (a.sum(), a.sum()), t(X)), RuntimeError,
                 "The function given to hessian should return a single Tensor",
                 id="hessian-tuple-output"),
    pytest.param(lambda: AF.vjp(lambda a: a * 2, t(X)), RuntimeError,
                 "v can only be None if the user-provided function returns a single Tensor with a "
                 "single element", id="vjp-v-none"),
    pytest.param(lambda: AF.jvp(lambda a: a * 2, t(X)), RuntimeError,
                 "v can only be None if the input to the user-provided function is a single "
                 "Tensor with a single element", id="jvp-v-none"),
    pytest.param(lambda: AF.vjp(lambda a: a * 2, t(X), t([1.0, 1.0])), RuntimeError,
                 r"v has invalid size: should be torch.Size\(\[3\]\) but got torch.Size\(\[2\]\)",
                 id="vjp-v-shape"),
    pytest.param(lambda: AF.jvp(lambda a, b: a, (t(X), t(Y)), (t(X), t([1.0]))), RuntimeError,
                 r"Entry 1 in v has invalid size", id="jvp-v-entry-shape"),
    pytest.param(lambda: AF.vjp(lambda a: a * 2, t(X), (t(X), t(X))), RuntimeError,
                 "The given v should contain a single Tensor", id="vjp-v-count"),
    pytest.param(lambda: AF.vjp(lambda a, b: (a, b), (t(X), t(Y)), (t(X),)), RuntimeError,
                 "v is a tuple of invalid length: should be 2 but got 1", id="vjp-v-tuple-count"),
    pytest.param(lambda: AF.vjp(lambda a: 3, t(X)), TypeError,
                 "The outputs of the user-provided function given to vjp must be either a Tensor "
                 "or a tuple of Tensors but the given outputs of the user-provided function has "
                 "type <class 'int'>", id="vjp-output-not-tensor"),
    pytest.param(lambda: AF.jacobian(lambda a: a, [t(X)]), TypeError,
                 "The inputs given to jacobian must be either a Tensor or a tuple of Tensors but "
                 "the given inputs has type <class 'list'>", id="jacobian-list-inputs"),
    pytest.param(lambda: AF.hvp(lambda a, b: a.sum(), (t(X), 2.0), (t(X), t(X))), TypeError,
                 "the value at index 1 has type <class 'float'>", id="hvp-number-input"),
    pytest.param(lambda: AF.jacobian(lambda a: a, t(X), strategy="forward-mode"),
                 NotImplementedError, "reverse mode only", id="jacobian-forward-mode"),
])
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ------------------------------------------------------------------ against torch
# (the ``torch`` fixture is in conftest.py)


def _f_single(a):
    return a.exp() * a.sin()


def _f_multi(a, b):
    return (a.reshape(3, 1) * b).tanh(), (a ** 2).sum() * b.prod()


def _f_scalar(a, b):
    return (a.sin() * b.sum()).sum() + (a ** 3).sum() * (b ** 2).sum()


def _f_scalar1(a):
    return (a.exp() * a).sum() + a.prod()


def _run(lib, transform, create_graph):
    """The transform applied with ``lib`` to fixed inputs; results as nested arrays."""
    a, b = t(X, lib=lib), t(Y, lib=lib)
    F = lib.autograd.functional
    kw = dict(create_graph=create_graph)
    if transform == "vjp-single":
        return F.vjp(_f_single, a, t([1.0, -2.0, 0.5], lib=lib), **kw)
    if transform == "vjp-multi":
        return F.vjp(_f_multi, (a, b), (t(np.ones((3, 2)), lib=lib), t(2.0, lib=lib)), **kw)
    if transform == "jvp-single":
        return F.jvp(_f_single, a, t([1.0, -2.0, 0.5], lib=lib), **kw)
    if transform == "jvp-multi":
        return F.jvp(_f_multi, (a, b), (t([1.0, 0.0, -1.0], lib=lib), t([0.5, 2.0], lib=lib)),
                     **kw)
    if transform == "jacobian-single":
        return F.jacobian(_f_single, a, **kw)
    if transform == "jacobian-multi":
        return F.jacobian(_f_multi, (a, b), **kw)
    if transform == "jacobian-tuple-of-one":
        return F.jacobian(lambda x: (_f_single(x),), (a,), **kw)
    if transform == "hessian-single":
        return F.hessian(_f_scalar1, a, **kw)
    if transform == "hessian-multi":
        return F.hessian(_f_scalar, (a, b), **kw)
    if transform == "hvp":
        return F.hvp(_f_scalar, (a, b), (t([1.0, 2.0, 3.0], lib=lib), t([-1.0, 1.0], lib=lib)), **kw)
    if transform == "vhp":
        return F.vhp(_f_scalar1, a, t([1.0, 2.0, 3.0], lib=lib), **kw)
    raise AssertionError(transform)


def _compare(ours, theirs, where="result"):
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs), where
        for i, (o, r) in enumerate(zip(ours, theirs)):
            _compare(o, r, f"{where}[{i}]")
        return
    assert not isinstance(ours, tuple), where
    assert tuple(ours.shape) == tuple(theirs.shape), where
    assert ours.requires_grad == theirs.requires_grad, where
    np.testing.assert_allclose(arr(ours), theirs.detach().numpy(), rtol=1e-12, atol=1e-12,
                               err_msg=where)


TRANSFORMS = ["vjp-single", "vjp-multi", "jvp-single", "jvp-multi", "jacobian-single",
              "jacobian-multi", "jacobian-tuple-of-one", "hessian-single", "hessian-multi",
              "hvp", "vhp"]


@pytest.mark.torch
@pytest.mark.parametrize("create_graph", [False, True], ids=["plain", "create_graph"])
@pytest.mark.parametrize("transform", TRANSFORMS)
def test_matches_torch(torch, transform, create_graph):
    _compare(_run(agx, transform, create_graph), _run(torch, transform, create_graph))


@pytest.mark.torch
def test_create_graph_gradients_match_torch(torch):
    def second(lib):
        a = t(X, requires_grad=True, lib=lib)
        b = t(Y, requires_grad=True, lib=lib)
        F = lib.autograd.functional
        (haa, hab), (hba, hbb) = F.hessian(_f_scalar, (a, b), create_graph=True)
        # v that depends on b: the results are differentiable with respect to it too
        v = b.sum() * t([1.0, 1.0, 1.0], lib=lib)
        _, jv = F.jvp(_f_single, a, v, create_graph=True)
        _, vj = F.vjp(_f_single, a, v, create_graph=True)
        _, hv = F.hvp(_f_scalar1, a, v, create_graph=True)
        total = (haa ** 2).sum() + hab.sum() + (hba * hbb.sum()).sum() + (jv ** 2).sum() + \
            (vj * a).sum() + (hv ** 2).sum()
        return [g.numpy() for g in lib.autograd.grad(total, (a, b))]

    for o, r in zip(second(agx), second(torch)):
        np.testing.assert_allclose(o, r, rtol=1e-12, atol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("call", [
    lambda F, t: F.vjp(lambda a, b: a.sum(), (t(X), t(Y)), t(1.0), strict=True),
    lambda F, t: F.jvp(lambda a: (a * 2, a.detach()), t(X), t([1.0, 1.0, 1.0]), strict=True),
    lambda F, t: F.jacobian(lambda a, b: a * 2, (t(X), t(Y)), strict=True),
    lambda F, t: F.jacobian(lambda a: (a * 2).sum(), t(X), create_graph=True, strict=True),
    lambda F, t: F.hessian(lambda a, b: (a ** 2).sum(), (t(X), t(Y)), strict=True),
    lambda F, t: F.hvp(lambda a: (a * 2).sum(), t(X), t([1.0, 1.0, 1.0]), strict=True),
    lambda F, t: F.vhp(lambda a: a * 2, t(X), t([1.0, 1.0, 1.0])),
    lambda F, t: F.vjp(lambda a: a * 2, t(X), t([1.0, 1.0])),
    lambda F, t: F.vjp(lambda a: 3, t(X)),
], ids=["vjp-independent", "jvp-detached", "jacobian-independent", "jacobian-linear-create-graph",
        "hessian-independent", "hvp-linear", "vhp-non-scalar", "v-shape", "output-int"])
def test_errors_match_torch(torch, call):
    with pytest.raises(Exception) as theirs:
        call(torch.autograd.functional, lambda v: t(v, lib=torch))
    with pytest.raises(type(theirs.value)) as ours:
        call(AF, t)
    assert str(ours.value) == str(theirs.value)
