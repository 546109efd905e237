"""``autograd.gradcheck`` and ``autograd.gradgradcheck`` at PyTorch's paths and with its
keywords, compared with torch.autograd's: the same verdicts, the same exception types."""

import inspect

import numpy as np
import pytest

import autogradx as agx
import autogradx.testing

pytest.importorskip("torch")


def _x(lib):
    return lib.tensor(np.array([0.3, -1.2, 2.0]), requires_grad=True)    # float64


def _sin(lib, derivative):
    """sin as a Function whose backward is ``g * derivative(x)``."""
    class Sin(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin()

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * derivative(x)

    return Sin.apply


def _wrong_sin(lib):
    """sin with the derivative of cos in its backward."""
    return _sin(lib, lambda x: -x.sin())


def _noisy_sin(lib):
    """sin with a backward that differs by ~1e-9 from run to run."""
    rng = np.random.default_rng(0)
    return _sin(lib, lambda x: x.cos() + lib.tensor(rng.standard_normal(3) * 1e-9))


def test_both_import_paths(torch):
    from autogradx.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
    assert agx.autograd.gradcheck is gradcheck and agx.autograd.gradgradcheck is gradgradcheck
    from torch.autograd.gradcheck import GradcheckError as TorchGradcheckError
    assert GradcheckError is autogradx.testing.GradcheckError
    assert issubclass(GradcheckError, RuntimeError) and issubclass(TorchGradcheckError,
                                                                    RuntimeError)


@pytest.mark.parametrize("name", ["gradcheck", "gradgradcheck"])
def test_pytorchs_keywords_and_defaults(torch, name):
    ours = inspect.signature(getattr(agx.autograd, name)).parameters
    theirs = inspect.signature(getattr(torch.autograd, name)).parameters
    assert [(p.name, p.kind, p.default) for p in ours.values()] == \
        [(p.name, p.kind, p.default) for p in theirs.values()]


def _verdicts(lib, fn_of_lib):
    fn = fn_of_lib(lib)
    ok = lib.autograd.gradcheck(fn, (_x(lib),), raise_exception=False)
    okk = lib.autograd.gradgradcheck(fn, (_x(lib),), raise_exception=False)
    try:
        lib.autograd.gradcheck(fn, _x(lib), fast_mode=True, check_batched_grad=False)
        raised = None
    except RuntimeError as e:
        raised = type(e).__name__
    return ok, okk, raised


@pytest.mark.parametrize("fn", [lambda lib: lib.sin, lambda lib: (lambda x: x * x.exp()),
                                _wrong_sin], ids=["sin", "x*exp(x)", "wrong backward"])
def test_same_verdicts_as_torch(torch, fn):
    assert _verdicts(agx, fn) == _verdicts(torch, fn)


@pytest.mark.parametrize("nondet_tol", [0.0, 1e-6])
def test_nondet_tol_checks_that_backward_is_reentrant(torch, nondet_tol):
    def run(lib):
        return lib.autograd.gradcheck(_noisy_sin(lib), (_x(lib),), nondet_tol=nondet_tol,
                                      raise_exception=False)

    assert run(agx) == run(torch) == (nondet_tol > 0)


def test_non_reentrant_backward_is_reported_as_torch_words_it(torch):
    from torch.autograd.gradcheck import GradcheckError
    with pytest.raises(GradcheckError, match="Backward is not reentrant"):
        torch.autograd.gradcheck(_noisy_sin(torch), (_x(torch),))
    with pytest.raises(RuntimeError, match="Backward is not reentrant"):
        agx.autograd.gradcheck(_noisy_sin(agx), (_x(agx),))


def test_keywords_for_checks_autogradx_cannot_run_are_accepted(torch):
    x = _x(agx)
    assert agx.autograd.gradcheck(agx.sin, x, check_undefined_grad=True, check_grad_dtypes=True,
                                  check_batched_grad=True, fast_mode=False, masked=False)
    assert agx.autograd.gradgradcheck(agx.sin, x, gen_non_contig_grad_outputs=True,
                                      check_batched_grad=True, fast_mode=True, nondet_tol=1e-9)


def test_gradcheck_needs_backward_or_forward_ad(torch):
    def run(lib):
        try:
            lib.autograd.gradcheck(lib.sin, _x(lib), check_backward_ad=False)
        except AssertionError as e:
            return str(e)
        return None

    assert run(agx) == run(torch) is not None


@pytest.mark.parametrize("keyword", ["check_batched_forward_grad", "masked"])
def test_batched_forward_and_sparse_checks_are_refused(keyword):
    with pytest.raises(NotImplementedError, match=f"{keyword}=True"):
        agx.autograd.gradcheck(agx.sin, _x(agx), **{keyword: True})


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_check_forward_ad_catches_a_wrong_jvp_as_torch_does(torch):
    def run(lib):
        class Doubled(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g * 2

            @staticmethod
            def jvp(ctx, t):
                return t * 3        # wrong: 2

        x = lib.tensor([0.5, 1.5], dtype=lib.float64, requires_grad=True)
        good = lib.autograd.gradcheck(lib.sin, (x,), check_forward_ad=True)
        try:
            lib.autograd.gradcheck(Doubled.apply, (x,), check_forward_ad=True,
                                   check_backward_ad=False)
        except Exception as e:
            return good, "forward mode mismatch" in str(e)
        return good, False
    assert run(agx) == run(torch) == (True, True)


def test_fwd_over_rev_is_refused():
    with pytest.raises(NotImplementedError, match="check_fwd_over_rev=True"):
        agx.autograd.gradgradcheck(agx.sin, _x(agx), check_fwd_over_rev=True)


@pytest.mark.parametrize("keywords", [
    {"check_rev_over_rev": False},
    {"check_rev_over_rev": False, "check_undefined_grad": False, "check_batched_grad": True},
    {"check_rev_over_rev": False, "check_undefined_grad": False, "check_fwd_over_rev": False},
])
def test_gradgradcheck_argument_errors_are_pytorchs(torch, keywords):
    def run(lib):
        try:
            lib.autograd.gradgradcheck(lib.sin, _x(lib), **keywords)
        except AssertionError as e:
            return str(e)
        return None

    assert run(agx) == run(torch) is not None
