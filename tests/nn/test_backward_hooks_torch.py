"""Module backward hooks (``register_full_backward_hook``, ``register_full_backward_pre_hook``)
against PyTorch's: the same module and calls in both libraries, then what each hook saw, what
it changed and the gradients that came out."""

import numpy as np
import pytest

import autogradx as agx

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

A = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
B = np.array([[2.0, 0.5, -1.5], [0.25, 1.0, 3.0]])


def _plain(values):
    """Hook arguments as nested lists (None kept), comparable across the libraries."""
    return [None if v is None else v.detach().numpy().tolist() for v in values]


def run(lib, *, a_grad=True, b_grad=True, hook_result=None, pre_result=None, remove=False):
    """A module of two tensor arguments and a number, with two outputs, hooked both ways;
    returns what the hooks saw and the gradients of the arguments."""

    class Two(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = lib.nn.Parameter(lib.tensor(2.0))

        def forward(self, a, b, k):
            return a * b * k * self.w, (a * a).sum(1) * self.w

    seen = []

    def hook(module, grad_input, grad_output):
        seen.append(("hook", _plain(grad_input), _plain(grad_output)))
        return hook_result(grad_input) if hook_result else None

    def pre_hook(module, grad_output):
        seen.append(("pre", _plain(grad_output)))
        return pre_result(grad_output) if pre_result else None

    module = Two()
    handles = [module.register_full_backward_hook(hook),
               module.register_full_backward_pre_hook(pre_hook)]
    if remove:
        for handle in handles:
            handle.remove()
    a = lib.tensor(A, requires_grad=a_grad)
    b = lib.tensor(B, requires_grad=b_grad)
    first, second = module(a, b, 3.0)
    (first.sum() * 2 + (second * second).sum()).backward()
    grads = [None if t.grad is None else t.grad.numpy().tolist() for t in (a, b, module.w)]
    return seen, grads


@pytest.mark.parametrize("a_grad, b_grad", [(True, True), (True, False)])
def test_hooks_see_the_gradients_torch_sees(a_grad, b_grad):
    assert run(agx, a_grad=a_grad, b_grad=b_grad) == run(torch, a_grad=a_grad, b_grad=b_grad)


def test_where_no_input_requires_grad_the_hooks_run_at_the_outputs_and_warn_as_torch():
    results = []
    for lib in (agx, torch):
        with pytest.warns(UserWarning) as caught:
            results.append(run(lib, a_grad=False, b_grad=False))
        results.append([str(w.message) for w in caught])
    assert results[0] == results[2] and results[1] == results[3]


def test_hook_and_pre_hook_replace_gradients_as_in_torch():
    def doubled(grads):
        return tuple(None if g is None else 2 * g for g in grads)

    for kwargs in (dict(hook_result=doubled), dict(pre_result=doubled),
                   dict(hook_result=doubled, pre_result=doubled)):
        assert run(agx, **kwargs) == run(torch, **kwargs)


def test_removed_hooks_do_not_run():
    seen, _ = run(agx, remove=True)
    assert seen == [] and run(agx, remove=True) == run(torch, remove=True)


def test_a_double_backward_runs_no_hook_again():
    counts = []
    for lib in (agx, torch):
        x = lib.tensor([0.5, -1.5], requires_grad=True)
        loss = lib.nn.MSELoss()
        calls = []
        loss.register_full_backward_hook(lambda m, gi, go: calls.append(1))
        (gx,) = lib.autograd.grad(loss(x, lib.zeros(2)), x, create_graph=True)
        lib.autograd.grad(gx.sum(), x)
        counts.append(len(calls))
    assert counts == [1, 1]


@pytest.mark.parametrize("kind", ["hook", "pre"])
def test_a_hook_returning_the_wrong_number_of_gradients_is_torchs_error(kind):
    def too_many(grads):
        return tuple(grads) + (None,)

    messages = []
    for lib in (agx, torch):
        with pytest.raises(RuntimeError) as info:
            run(lib, **{"hook_result" if kind == "hook" else "pre_result": too_many})
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_a_hook_returning_gradients_where_no_input_requires_grad_is_torchs_error():
    messages = []
    for lib in (agx, torch):
        with pytest.raises(RuntimeError) as info, pytest.warns(UserWarning):
            run(lib, a_grad=False, b_grad=False, hook_result=lambda grads: (1.0, None, None))
        messages.append(str(info.value))
    assert messages[0] == messages[1]
