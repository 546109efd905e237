"""``autograd.graph.saved_tensors_hooks`` (and ``save_on_cpu``, ``disable_saved_tensors_hooks``,
``grad_fn._raw_saved_*``) against PyTorch: which tensors reach the pack hook and when, how
often the unpack hook runs, the gradients when the hooks change the values, and the errors."""

import numpy as np
import pytest

import autogradx as agx

torch = pytest.importorskip("torch")
LIBS = [pytest.param(agx, id="autogradx"), pytest.param(torch, id="torch")]

X = np.array([0.5, -1.25, 2.0])
Y = np.array([1.5, 0.75, -0.5])


def leaves(lib, requires=(True, True)):
    return [lib.tensor(v, requires_grad=r) for v, r in zip((X, Y), requires)]


def both(run):
    """``run(lib)`` for autogradx and for torch, results compared as plain Python data."""
    got = run(agx)
    want = run(torch)
    assert got == want
    return got


def grads_list(*ts):
    return [None if t.grad is None else np.round(t.grad.detach().numpy(), 10).tolist() for t in ts]


# Each expression with what it is built of: the pack log names each packed tensor by role.
EXPRESSIONS = {
    "mul": lambda lib, x, y: x * y,
    "mul-same": lambda lib, x, y: x * x,
    "mul-number": lambda lib, x, y: x * 3,
    "exp": lambda lib, x, y: x.exp(),
    "sin-exp": lambda lib, x, y: x.sin().exp(),
    "pow-number": lambda lib, x, y: x ** 3,
    "tanh": lambda lib, x, y: lib.tanh(x),
    "sigmoid": lambda lib, x, y: lib.sigmoid(x),
    "div": lambda lib, x, y: x / y,
    "matmul": lambda lib, x, y: x.reshape(3, 1) @ y.reshape(1, 3),
    "sum-add": lambda lib, x, y: (x + y).sum(),
}


@pytest.mark.parametrize("requires", [(True, True), (True, False)], ids=["both", "x-only"])
@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_the_pack_hook_sees_what_torch_saves(expr, requires):
    def run(lib):
        x, y = leaves(lib, requires)
        log = []

        def pack(t):
            assert not lib.is_grad_enabled()        # packing runs with grad mode off
            role = "x" if t is x else "y" if t is y else "other"
            log.append((role, tuple(t.shape)))
            return t

        with lib.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = EXPRESSIONS[expr](lib, x, y)
        n_packed = len(log)
        out.sum().backward()
        assert len(log) == n_packed                 # nothing packed by backward
        return sorted(log), grads_list(x, y)
    both(run)


@pytest.mark.parametrize("expr", ["mul", "mul-same", "sin-exp", "pow-number", "div", "matmul"])
def test_hooks_that_change_the_values_change_the_gradients_as_in_torch(expr):
    def run(lib):
        x, y = leaves(lib)
        with lib.autograd.graph.saved_tensors_hooks(lambda t: t * 2, lambda t: t + 0.25):
            out = EXPRESSIONS[expr](lib, x, y)
        out.sum().backward()
        return grads_list(x, y)
    both(run)


def test_the_unpack_hook_runs_at_each_use_and_each_access():
    def run(lib):
        x, y = leaves(lib)
        counts = {"pack": 0, "unpack": 0}

        def pack(t):
            counts["pack"] += 1
            return t

        def unpack(t):
            counts["unpack"] += 1
            return t

        with lib.autograd.graph.saved_tensors_hooks(pack, unpack):
            out = (x * y).exp()
        seen = [dict(counts)]
        out.grad_fn._saved_result
        out.grad_fn._saved_result
        seen.append(dict(counts))
        out.sum().backward(retain_graph=True)
        seen.append(dict(counts))
        out.sum().backward()
        seen.append(dict(counts))
        return seen
    both(run)


def test_the_innermost_pair_applies_and_leaving_restores_the_outer_one():
    def run(lib):
        x, y = leaves(lib)
        G = lib.autograd.graph
        with G.saved_tensors_hooks(lambda t: t * 3, lambda t: t):
            with G.saved_tensors_hooks(lambda t: t * 5, lambda t: t):
                a = x * y
            b = x * y
        c = x * y
        (a + 10 * b + 100 * c).sum().backward()
        return grads_list(x, y)
    both(run)


def test_double_backward_packs_what_the_backward_records():
    def run(lib):
        x, _ = leaves(lib)
        with lib.autograd.graph.saved_tensors_hooks(lambda t: 2 * t, lambda t: t):
            y = x ** 3
            (g,) = lib.autograd.grad(y.sum(), (x,), create_graph=True)
            g.sum().backward()
        return grads_list(x)
    both(run)


def test_a_custom_function_saves_through_the_hooks():
    def run(lib):
        log = []

        class Cube(lib.autograd.Function):
            @staticmethod
            def forward(ctx, a):
                ctx.save_for_backward(a)
                return a ** 3

            @staticmethod
            def backward(ctx, g):
                (a,) = ctx.saved_tensors
                log.append("backward")
                return 3 * a ** 2 * g

        x, _ = leaves(lib)

        def pack(t):
            log.append(("pack", t is x))
            return t * 2

        def unpack(t):
            log.append("unpack")
            return t

        with lib.autograd.graph.saved_tensors_hooks(pack, unpack):
            out = Cube.apply(x)
            with lib.no_grad():
                Cube.apply(x)               # nothing recorded: nothing packed
        out.sum().backward()
        return log, grads_list(x)
    both(run)


def test_an_in_place_op_packs_the_values_before_the_write():
    def run(lib):
        x, y = leaves(lib)
        with lib.autograd.graph.saved_tensors_hooks(lambda t: t.clone(), lambda t: t):
            z = x * 1
            z.mul_(y)
            w = z.sin()
        w.sum().backward()
        return grads_list(x, y)
    both(run)


def test_save_on_cpu_gives_the_same_gradients():
    def run(lib):
        x, y = leaves(lib)
        with lib.autograd.graph.save_on_cpu():
            out = (x * y).exp() / y
        out.sum().backward()
        return grads_list(x, y)
    both(run)


def errors(fn):
    def run(lib):
        try:
            fn(lib)
        except Exception as e:      # noqa: BLE001 (the comparison is the point)
            return type(e).__name__, str(e).split("\n")[0]
        return None
    return both(run)


def test_an_unpack_hook_that_returns_no_tensor_is_a_type_error():
    def fn(lib):
        x, y = leaves(lib)
        with lib.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: 1):
            out = x * y
        out.sum().backward()
    assert errors(fn)[0] == "TypeError"


def test_a_pack_hook_that_changes_its_input_in_place_is_refused():
    def fn(lib):
        x, y = leaves(lib)

        def inc(t):
            t += 1
            return t
        with lib.autograd.graph.saved_tensors_hooks(inc, lambda t: t):
            x.exp()
    assert errors(fn)[0] == "RuntimeError"


def test_an_error_in_a_hook_reaches_the_caller():
    def fn(lib):
        x, _ = leaves(lib)

        def boom(t):
            raise ValueError("boom")
        with lib.autograd.graph.saved_tensors_hooks(boom, lambda t: t):
            x.sin()
    assert errors(fn) == ("ValueError", "boom")


def test_disabling_refuses_hooks_with_the_message():
    def fn(lib):
        with lib.autograd.graph.disable_saved_tensors_hooks("no hooks here"):
            with lib.autograd.graph.save_on_cpu():
                pass
    assert errors(fn) == ("RuntimeError", "no hooks here")

    def fn(lib):
        with lib.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
            with lib.autograd.graph.disable_saved_tensors_hooks("not while hooks are on"):
                pass
    assert errors(fn) == ("RuntimeError", "not while hooks are on")

    def fn(lib):            # allowed again after
        with lib.autograd.graph.disable_saved_tensors_hooks("no"):
            pass
        with lib.autograd.graph.save_on_cpu():
            pass
    assert errors(fn) is None


def test_raw_saved_tensors_show_the_packed_object_and_take_hooks():
    def run(lib):
        x, y = leaves(lib)
        out = x * y
        raw = out.grad_fn._raw_saved_self
        before = (raw.data is x, raw.unpack_hook is None)
        raw.register_hooks(lambda t: t * 2, lambda t: t)
        out.sum().backward()
        e = out.exp()
        return before, grads_list(x, y), e.grad_fn._raw_saved_result.data is e
    both(run)


def test_raw_saved_tensor_hooks_can_be_set_once():
    def fn(lib):
        x, y = leaves(lib)
        out = x * y
        out.grad_fn._raw_saved_self.register_hooks(lambda t: t, lambda t: t)
        out.grad_fn._raw_saved_self.register_hooks(lambda t: t, lambda t: t)
    assert errors(fn)[0] == "RuntimeError"


def test_hooks_are_per_thread():
    import threading

    x, y = leaves(agx)
    packed = []
    with agx.autograd.graph.saved_tensors_hooks(lambda t: packed.append(t) or t, lambda t: t):
        worker = threading.Thread(target=lambda: x * y)
        worker.start()
        worker.join()
    assert packed == []


def test_index_arrays_an_op_keeps_are_packed_too():
    # max(dim) saves its indices (autogradx: among the op's residual arrays), as in PyTorch.
    def run(lib):
        x, y = leaves(lib)
        dtypes = []

        def pack(t):
            dtypes.append(str(t.dtype))
            return t.clone()            # a copy: backward must use the unpacked values

        with lib.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            values, _ = lib.stack([x, y]).max(0)
        values.sum().backward()
        return "torch.int64" in dtypes, grads_list(x, y)
    assert both(run)[0] is True


def test_an_unpacked_tensor_of_another_dtype_is_taken_and_another_shape_refused():
    def run(lib):
        b = lib.tensor(X, dtype=lib.float32, requires_grad=True) * 1
        with lib.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t.double()):
            out = b.sin()
        (g,) = lib.autograd.grad(out.sum(), b)
        return str(g.dtype), np.round(g.numpy(), 6).tolist()
    both(run)

    x = agx.tensor(X, requires_grad=True)
    with agx.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t[:2]):
        out = x.sin()
    with pytest.raises(RuntimeError, match=r"unpack_hook returned a tensor of shape \[2\], but "
                                           r"the tensor saved had shape \[3\]"):
        out.sum().backward()
