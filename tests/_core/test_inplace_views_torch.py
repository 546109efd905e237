"""In-place changes through views, against PyTorch: the base's history becomes CopySlices,
the view's is rebuilt on it, views taken before a change of their base are rebuilt too, and
PyTorch's refusals are PyTorch's (see autogradx/_core/views.pyx)."""

import numpy as np
import pytest

import autogradx as agx
from torch_compare import as_torch_names_a_view, error_of, view_error_of

torch = pytest.importorskip("torch")


def leaf(lib, values):
    return lib.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def node_name(t):
    return None if t.grad_fn is None else t.grad_fn.name().rpartition("::")[2]


def _scale_columns(lib):
    w = leaf(lib, np.arange(12.0).reshape(3, 4))
    h = w * 1
    h[:, :2] *= w[:, 2:]            # the pattern of attention masks and gated layers
    (h * h).sum().backward()
    return [h], [w]


def _mask_assign(lib):
    x = leaf(lib, [1.0, -2.0, 3.0])
    out = lib.zeros(3, dtype=lib.float64)
    out[x > 0] = x[x > 0] * 2
    (out * out).sum().backward()
    return [out], [x]


def _diagonal_add(lib):
    x = leaf(lib, np.arange(9.0).reshape(3, 3))
    y = x * 1
    y.diagonal().add_(1)
    y.diagonal().mul_(x[0])
    (y * y).sum().backward()
    return [y], [x]


def _copy_into_view(lib):
    x = leaf(lib, [2.0, 3.0])
    out = lib.zeros(3, dtype=lib.float64)
    view = out[:2]
    view.copy_(x)
    (out * out).sum().backward()
    return [out, view], [x]


def _view_of_a_view(lib):
    x = leaf(lib, [1.0, 2.0, 3.0, 4.0])
    y = x * 1
    w = y[:2].view(2, 1).t()
    w.mul_(x[2:].view(1, 2))
    (y * y * y).sum().backward()
    return [y, w], [x]


def _view_taken_before_its_base_changed(lib):
    x = leaf(lib, [1.0, 2.0, 3.0, 4.0])
    y = x * 1
    v = y[:2]
    y.mul_(x)
    (v * v).sum().backward()
    return [v], [x]


def _sibling_views(lib):
    x = leaf(lib, [1.0, 2.0, 3.0, 4.0])
    y = x * 1
    v1, v2 = y[:2], y[1:]
    v1.mul_(3)
    (v2 * v2).sum().backward()
    return [v1, v2], [x]


def _transposed_row(lib):
    x = leaf(lib, [[1.0, 2.0], [3.0, 4.0]])
    y = x.clone()
    y.t()[0].add_(x[1])
    (y ** 2).sum().backward()
    return [y], [x]


def _into_a_tensor_without_history(lib):
    x = leaf(lib, [1.0, 2.0])
    buf = lib.ones(2, 3, dtype=lib.float64)
    buf[:, 1] = x.exp()
    buf.sum().backward()
    return [buf], [x]


def _view_updated_under_no_grad(lib):
    w = leaf(lib, [1.0, 2.0])
    row = w[1]
    with lib.no_grad():
        w -= 0.5                      # an optimizer's step
    (row * 2).backward()
    return [row], [w]


def _unsqueezed_view_mul(lib):
    x = leaf(lib, [[1.0, 2.0], [3.0, 4.0]])
    y = x.sin()
    y.unsqueeze(0)[0, :, 1].mul_(2)
    y.sum().backward()
    return [y], [x]


def _zero_dim_view(lib):
    x = leaf(lib, 0.5)
    y = x * 3
    y.reshape(()).add_(x)           # a 0-d view of a 0-d tensor
    (y * y).backward()
    return [y], [x]


def _complex_as_real_pairs(lib):
    # view_as_real changes the dtype: CopySlices finds the view's elements by their strides.
    z = lib.tensor(np.arange(6.0).reshape(3, 2) + 1j, dtype=lib.complex128, requires_grad=True)
    a = z * 1
    r = lib.view_as_real(a)
    r[:, 0, 1].mul_(3)
    (lib.view_as_real(a) * lib.arange(12.0, dtype=lib.float64).reshape(3, 2, 2)).sum().backward()
    return [a, r], [z]


def _real_pairs_as_complex(lib):
    x = leaf(lib, np.arange(8.0).reshape(2, 2, 2))
    y = x * 1
    c = lib.view_as_complex(y)
    c[1].mul_(1j)
    (y * y).sum().backward()
    return [y], [x]


def _expanded_written_one_element(lib):
    # PyTorch refuses a write only where the part written shares memory (gI[0] = 0).
    x = leaf(lib, [2.0])
    g = (x * 1).expand(4)
    g[0] = 0.5
    g[1] += x[0]
    g[2].mul_(x[0])
    (g * g).sum().backward()
    return [g], [x]


CASES = [_zero_dim_view, _scale_columns, _mask_assign, _diagonal_add, _copy_into_view, _view_of_a_view,
         _view_taken_before_its_base_changed, _sibling_views, _transposed_row,
         _into_a_tensor_without_history, _view_updated_under_no_grad, _unsqueezed_view_mul,
         _complex_as_real_pairs, _real_pairs_as_complex, _expanded_written_one_element]


@pytest.mark.parametrize("case", CASES, ids=lambda f: f.__name__.strip("_"))
def test_in_place_through_views_gives_pytorchs_values_gradients_and_nodes(case):
    outs, leaves = case(agx)
    touts, tleaves = case(torch)
    for a, t in zip(outs, touts):
        np.testing.assert_allclose(a.detach().numpy(), t.detach().numpy(), rtol=1e-12)
        assert node_name(a) == node_name(t)
        assert a._version == t._version
    for a, t in zip(leaves, tleaves):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_a_saved_value_changed_through_a_0d_view_is_pytorchs_error():
    # Found by the graph fuzzer: tanh saved its result, which the view's add_ changed.
    def run(lib):
        x = leaf(lib, 0.3)
        y = x.tanh()
        y.reshape(()).add_(x)
        with pytest.raises(RuntimeError) as e:
            y.tanh().backward()
        return str(e.value).split(":")[0]
    assert run(agx) == run(torch)


@pytest.mark.parametrize("view", ["slice", "0-d"])
def test_create_graph_through_copy_slices(view):
    def f(lib):
        x = leaf(lib, [1.0, 2.0, 3.0, 4.0])
        y = x * x
        if view == "slice":
            y[1:3].mul_(x[:2])
        else:
            y[1].add_(y[2])         # a 0-d view's positions in its base: an array all the same
        g, = lib.autograd.grad((y * y).sum(), x, create_graph=True)
        (g * g).sum().backward()
        return g.detach().numpy(), x.grad.numpy()
    for a, t in zip(f(agx), f(torch)):
        np.testing.assert_allclose(a, t, rtol=1e-12)


def test_create_graph_through_copy_slices_of_a_view_changing_the_dtype():
    def f(lib):
        z = lib.tensor([1.0 + 2.0j, -0.5 + 1.0j], dtype=lib.complex128, requires_grad=True)
        w = leaf(lib, [2.0, 3.0])
        a = z * 1
        lib.view_as_real(a)[:, 1].mul_(w)
        g, = lib.autograd.grad(lib.view_as_real(a * a).sum(), w, create_graph=True)
        (g * g).sum().backward()
        return g.detach().numpy(), z.grad.numpy(), w.grad.numpy()
    for a, t in zip(f(agx), f(torch)):
        np.testing.assert_allclose(a, t, rtol=1e-12)


def test_create_graph_through_an_in_place_threshold_on_a_view():
    # PyTorch's issue #10532: the gradient's node reads the op's double-backward node.
    def f(lib):
        x = lib.tensor(np.linspace(-2.0, 2.0, 12).reshape(1, 3, 2, 2), requires_grad=True)
        tmp = (x + 0.5).view_as(x)
        prob = lib.sigmoid(lib.nn.functional.threshold(tmp, 0.0, 0.0, True))
        g, = lib.autograd.grad(prob, x, lib.ones(prob.shape, dtype=lib.float64),
                               create_graph=True)
        penalty = (g * g).sum()
        penalty.backward()
        inner = penalty.grad_fn.next_functions[0][0].next_functions[0][0]
        return g.detach().numpy(), x.grad.numpy(), node_name(g), \
            inner.next_functions[1][0].name()
    ours, theirs = f(agx), f(torch)
    for a, t in zip(ours[:2], theirs[:2]):
        np.testing.assert_allclose(a, t, rtol=1e-12)
    assert ours[3] == theirs[3] == "ThresholdBackwardBackward0"


def _view_of_a_base_transposed_in_place(lib, then):
    x = lib.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = x * 1
    v = y[0]
    y.t_()
    if then == "in-place on the view":
        v.mul_(2)
    else:
        v.grad_fn


@pytest.mark.parametrize("then", ["in-place on the view", "its grad_fn"])
def test_a_view_of_a_base_whose_shape_changed_in_place_is_refused_not_rebuilt_wrong(then):
    # Difference from PyTorch (which replays such a view from the storage, with as_strided):
    # autogradx replays the view ops from the base's layout when the view was taken, which
    # transpose_ changed; a clear error, before anything is written, not a wrong gradient.
    _view_of_a_base_transposed_in_place(torch, then)
    with pytest.raises(NotImplementedError, match="base changed its shape in place"):
        _view_of_a_base_transposed_in_place(agx, then)


def _function_view(lib, then):
    class Func(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.view_as(x)[1:]

        @staticmethod
        def backward(ctx, g):
            return lib.cat([lib.zeros_like(g[:1]), g])

    base = lib.rand(3, 2, requires_grad=True).clone()
    out = Func.apply(base)
    if then == "in-place on it":
        out.add_(1)
    elif then == "in-place view op on it":
        out.t_()
    else:
        base.mul_(2)
        out.grad_fn


@pytest.mark.parametrize("then", ["in-place on it", "in-place view op on it",
                                  "base changed, then its grad_fn"])
def test_a_view_a_custom_function_returns_is_refused_as_torch_refuses_it(then):
    assert view_error_of(lambda: _function_view(agx, then)) == \
        error_of(lambda: _function_view(torch, then))


def test_a_retained_grad_follows_the_view_s_rebuilt_history():
    def f(lib):
        x = leaf(lib, [1.0, 2.0, 3.0])
        base = x * 1
        view, other = base[:2], base[1:]
        view.retain_grad()
        other.retain_grad()
        view.mul_(lib.tensor([2.0, 3.0], dtype=lib.float64))
        (view * view + other.sum()).sum().backward()
        return view.grad.numpy(), other.grad.numpy(), x.grad.numpy()
    for a, t in zip(f(agx), f(torch)):
        np.testing.assert_array_equal(a, t)


def test_a_base_s_retained_grad_is_of_its_version_after_an_in_place_op_on_a_view():
    def f(lib):
        x = leaf(lib, np.arange(6.0).reshape(2, 3))
        base = x * 1
        base.retain_grad()
        base[1].mul_(2)
        base.t()[0].mul_(3)
        (base * base).sum().backward()
        return base.grad.numpy(), x.grad.numpy()
    for a, t in zip(f(agx), f(torch)):
        np.testing.assert_array_equal(a, t)


def test_writes_into_an_expanded_tensor_change_every_element_sharing_the_memory():
    def f(lib):
        g = lib.zeros(1, dtype=lib.float64).expand(3)
        g[0] = 2.0
        g[1] /= 4.0
        g[2].add_(1.0)
        return g.numpy().tolist(), g._version
    assert f(agx) == f(torch)


OVERLAPS = {
    "same tensor": lambda x, m: x.add_(x),
    "same elements, another view": lambda x, m: x.add_(x.view(4)),
    "shifted": lambda x, m: x[1:].add_(x[:-1]),
    "copy_ shifted": lambda x, m: x[1:].copy_(x[:-1]),
    "unsqueezed": lambda x, m: x.unsqueeze(0).add_(x),
    "0-d element": lambda x, m: x.mul_(x[0]),
    "transposed": lambda x, m: m.t().add_(m),
    "disjoint rows": lambda x, m: m[0].mul_(m[1]),
    "disjoint slices": lambda x, m: x[1:3].mul_(x[0:1]),
    "with gaps": lambda x, m: x[:2].add_(x[::2]),
    "column into row": lambda x, m: m[0].mul_(m[:, 0]),
    "expanded": lambda x, m: m[0].mul_(m[0, :1].expand(3)),
    "lerp_": lambda x, m: m[0].lerp_(m.view(9)[1:4], 0.5),
    "clamp_": lambda x, m: m.clamp_(min=m.t()),
    "fill_ with an element": lambda x, m: m.fill_(m[0, 0]),
    "masked_fill_": lambda x, m: m.masked_fill_(m > 0.5, m[0, 0]),
    "index_add_": lambda x, m: m[0].index_add_(0, lib_index(m), m[:1, 0]),
    # x[i] = v: a copy into the view indexed, or index_put_ on it (which refuses any
    # shared memory), a broadcast v unchecked, a 0-d one at a slice or mask a fill.
    "setitem shifted": lambda x, m: x.__setitem__(slice(1, None), x[:-1]),
    "setitem transposed": lambda x, m: m.__setitem__(slice(None), m.t()),
    "setitem itself": lambda x, m: m.__setitem__(slice(None), m),
    "setitem disjoint row": lambda x, m: m.__setitem__(0, m[1]),
    "setitem one element broadcast": lambda x, m: x.__setitem__(slice(1, 4), x[2:3]),
    "setitem 0-d element": lambda x, m: x.__setitem__(slice(1, 4), x[2]),
    "setitem list, overlapping": lambda x, m: x.__setitem__([0, 1], x[2:]),
    "setitem list, same elements": lambda x, m: x.__setitem__([0, 1, 2, 3], x),
    "setitem list, 0-d element": lambda x, m: x.__setitem__([0, 1], x[3]),
    "setitem mask, 0-d element": lambda x, m: m.__setitem__(m > 4, m[0, 0]),
    "setitem mask, overlapping": lambda x, m: x.__setitem__(x > 1, x[:2]),
    "setitem list after a select, disjoint": lambda x, m: m.__setitem__((0, [0, 1]), m[1, :2]),
    "setitem list after a select": lambda x, m: m.__setitem__((0, [0, 1]), m[0, 1:]),
    # out=: checked as an elementwise op's inputs, input 0 too
    "out= shifted": lambda x, m: lib_of(x).add(x[:-1], x[1:], out=x[1:]),
    "out= transposed": lambda x, m: lib_of(m).mul(m, 2, out=m.t()),
    "out= the input": lambda x, m: lib_of(m).mul(m, 2, out=m),
    "out= disjoint": lambda x, m: lib_of(x).sqrt(x[:2], out=x[2:]),
}


def lib_of(t):
    return agx if isinstance(t, agx.Tensor) else torch


def lib_index(m):
    return lib_of(m).tensor([0])


@pytest.mark.parametrize("call", OVERLAPS.values(), ids=OVERLAPS.keys())
def test_in_place_ops_reading_overlapping_memory_are_refused_where_torch_refuses_them(call):
    def run(lib):
        x = lib.arange(4.0, dtype=lib.float64)
        m = lib.arange(9.0, dtype=lib.float64).reshape(3, 3)
        call(x, m)
        return x.tolist(), m.tolist()
    assert error_of(lambda: run(agx)) == error_of(lambda: run(torch))
    if error_of(lambda: run(torch)) is None:
        assert run(agx) == run(torch)


def _refusal(lib, which):
    x = leaf(lib, [1.0, 2.0, 3.0, 4.0])
    if which == "leaf":
        x[:2].mul_(2)
    elif which == "view_before_requires_grad":
        a = lib.zeros(3, dtype=lib.float64)
        v = a[:2]
        a.requires_grad_()
        v.add_(1)
    elif which == "no_grad_view":
        y = x * 1
        with lib.no_grad():
            v = y[:2]
        v.mul_(2)
    elif which == "multi_output_view":
        a, b = (x * 1).unbind()[:2]
        a.mul_(2)
    elif which == "multi_output_view_of_leaf":      # refused as such before as a leaf's view
        x.split(2)[0].mul_(2)
    elif which == "no_grad_multi_output_view":     # the no_grad refusal comes first
        y = x * 1
        with lib.no_grad():
            a = y.unbind()[0]
        a.mul_(2)
    elif which == "no_grad_view_of_a_leaf":     # its creation is refused before the leaf
        with lib.no_grad():
            v = x[:2]
        v.mul_(2)
    elif which == "no_grad_view_other_input_needs_grad":
        with lib.no_grad():
            v = lib.zeros(4, dtype=lib.float64)[:2]
        v.add_(x[:2])
    elif which == "multi_output_view_other_input_needs_grad":
        lib.zeros(2, 2, dtype=lib.float64).unbind()[0].copy_(x[:2])
    elif which == "view_of_a_no_grad_view":
        with lib.no_grad():
            y = lib.zeros(2, dtype=lib.float64).view(2)
        y.requires_grad_(True)
        y.view(2).div_(2)
    elif which == "view_of_an_inference_mode_view":
        base = lib.zeros(2, dtype=lib.float64)      # made outside: not an inference tensor
        with lib.inference_mode():
            y = base.view(2)
        y.requires_grad_(True)
        y.view(2).div_(2)
    elif which == "inference_mode_view_other_input_needs_grad":
        base = lib.zeros(4, dtype=lib.float64)
        with lib.inference_mode():
            v = base[:2]
        v.add_(x[:2])
    elif which == "multi_output_view_after_its_base_changed":
        y = x * 1
        a = y.unbind()[0]
        y.mul_(2)
        a.grad_fn
    elif which == "detach_":
        (x * 1)[:2].detach_()
    elif which == "expanded":
        lib.zeros(3, 1, dtype=lib.float64).expand(3, 3).add_(1)
    elif which == "expanded_row":
        lib.zeros(3, 1, dtype=lib.float64).expand(3, 3)[1] = 1.0
    elif which == "expanded_slice":
        lib.zeros(1, dtype=lib.float64).expand(4)[1:3].mul_(2)


@pytest.mark.parametrize("which", [
    "leaf", "view_before_requires_grad", "no_grad_view", "multi_output_view",
    "multi_output_view_of_leaf", "no_grad_multi_output_view", "no_grad_view_of_a_leaf",
    "no_grad_view_other_input_needs_grad", "multi_output_view_other_input_needs_grad",
    "view_of_a_no_grad_view", "view_of_an_inference_mode_view",
    "inference_mode_view_other_input_needs_grad", "multi_output_view_after_its_base_changed",
    "detach_", "expanded", "expanded_row", "expanded_slice"])
def test_refusals_are_pytorchs(which):
    with pytest.raises(RuntimeError) as expected:
        _refusal(torch, which)
    text = str(expected.value).split(" If you are using DistributedDataParallel")[0]
    with pytest.raises(RuntimeError) as got:
        _refusal(agx, which)
    assert as_torch_names_a_view(str(got.value)) == text


def test_in_place_on_views_without_grad_needs_no_history():
    base = agx.zeros(2, 3)
    base[:, 1].add_(1)
    base.t()[2].fill_(5)
    np.testing.assert_array_equal(base.numpy(), [[0, 1, 5], [0, 1, 5]])
    assert base.grad_fn is None and base._version == 2


def _stale_no_grad_view(lib):
    """A view made under no_grad of a tensor that needs a gradient, whose memory then
    changed in place (under no_grad too)."""
    a = leaf(lib, [1.0, 2.0]).clone()
    with lib.no_grad():
        b = a[:1]
        b *= 2
    return b


@pytest.mark.parametrize("use", [lambda b: b.grad_fn, lambda b: b.is_leaf, lambda b: b * 2],
                         ids=["grad_fn", "is_leaf", "op"])
def test_a_stale_view_made_under_no_grad_is_refused_as_torch_refuses_it(use):
    assert error_of(lambda: use(_stale_no_grad_view(agx))) == \
        error_of(lambda: use(_stale_no_grad_view(torch)))


def test_a_stale_view_made_under_no_grad_prints_an_invalid_grad_fn():
    ours = repr(_stale_no_grad_view(agx))
    assert ours == repr(_stale_no_grad_view(torch))
    assert ours.endswith("grad_fn=<Invalid>)")


@pytest.mark.parametrize("retain", [False, True])
def test_a_second_backward_through_copy_slices_needs_retain_graph_as_torch(retain):
    # CopySlices lets go of the op's node after a backward, even of one that saved nothing.
    def second(lib):
        x = leaf(lib, [1.0, 2.0, 3.0])
        h = x.clone()
        h[:2] += 1
        h.sum().backward(retain_graph=retain)
        return error_of(lambda: h.sum().backward()), x.grad.tolist()

    assert second(agx) == second(torch)


@pytest.mark.parametrize("make, index", [
    (lambda x: x.unbind(), 0), (lambda x: x.unbind(), 1), (lambda x: x.split(1), 1),
    (lambda x: x.chunk(2), 0),
])
def test_an_output_of_a_multi_view_op_refuses_in_place_naming_its_node(make, index):
    # The ported PyTorch tests' text names the view's node ("Output 1 of UnbindBackward0");
    # torch 2.13 names the op ("Output 1 of Unbind"), so only the rest is compared with it.
    def refusal(lib):
        views = make(leaf(lib, [1.0, 2.0]).clone())
        return views[index], error_of(lambda: views[index].add_(1))

    view, (kind, text) = refusal(agx)
    _, (torch_kind, torch_text) = refusal(torch)
    assert kind == torch_kind == "RuntimeError"
    head = f"Output {index} of {view.grad_fn.name()} is a view and is being modified inplace."
    assert text.startswith(head)
    assert text.partition(" is a view")[2] == torch_text.partition(" is a view")[2]
