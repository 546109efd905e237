"""The grad-mode context managers as decorators, compared with torch: generator functions
(the mode holds while the generator runs, the caller's is back between yields), classes
(deprecated: a FutureWarning, construction wrapped), and plain functions."""

import warnings

import pytest

import autogradx as agx

pytest.importorskip("torch")

# Each as the decorator a user writes: (name, decorator of lib)
DECORATORS = {
    "no_grad()": lambda lib: lib.no_grad(),
    "no_grad": lambda lib: lib.no_grad,
    "enable_grad()": lambda lib: lib.enable_grad(),
    "inference_mode()": lambda lib: lib.inference_mode(),
    "inference_mode(False)": lambda lib: lib.inference_mode(False),
    "set_grad_enabled(False)": lambda lib: lib.set_grad_enabled(False),
    "set_grad_enabled(True)": lambda lib: lib.set_grad_enabled(True),
}


def _generator_modes(lib, decorator, caller_mode):
    """What a decorated generator and its caller see at each step, with send, throw,
    return value and close."""
    seen = []

    @decorator
    def gen(n):
        seen.append(("start", lib.is_grad_enabled()))
        total = 0
        for _ in range(n):
            try:
                got = yield lib.is_grad_enabled()
            except KeyError:
                seen.append(("thrown into", lib.is_grad_enabled()))
                got = 100
            total += got or 0
        seen.append(("end", lib.is_grad_enabled()))
        return total

    with lib.set_grad_enabled(caller_mode):
        g = gen(4)
        seen.append(("first", next(g), lib.is_grad_enabled()))
        seen.append(("sent", g.send(5), lib.is_grad_enabled()))
        seen.append(("throw", g.throw(KeyError("k")), lib.is_grad_enabled()))
        g.send(1)
        try:
            g.send(2)
        except StopIteration as stop:
            seen.append(("returned", stop.value, lib.is_grad_enabled()))
        h = gen(3)
        next(h)
        h.close()
        seen.append(("closed", lib.is_grad_enabled()))
    return seen, lib.is_grad_enabled()


@pytest.mark.parametrize("caller_mode", [True, False])
@pytest.mark.parametrize("name", sorted(DECORATORS))
def test_decorated_generator_runs_in_the_mode(torch, name, caller_mode):
    make = DECORATORS[name]
    assert _generator_modes(agx, make(agx), caller_mode) == _generator_modes(
        torch, make(torch), caller_mode)


def test_exception_out_of_a_decorated_generator_restores_the_mode(torch):
    def run(lib):
        @lib.no_grad()
        def gen():
            yield 1
            raise ValueError("inside")

        g = gen()
        next(g)
        with pytest.raises(ValueError, match="inside"):
            next(g)
        return lib.is_grad_enabled()

    assert run(agx) is run(torch) is True


def test_decorated_generator_records_nothing_inside(torch):
    def run(lib):
        x = lib.ones(2, requires_grad=True)

        @lib.no_grad()
        def scaled(k):
            for i in range(k):
                yield x * i

        return [y.requires_grad for y in scaled(3)], (x * 2).requires_grad

    assert run(agx) == run(torch)


@pytest.mark.parametrize("name", sorted(DECORATORS))
def test_decorating_a_class_is_deprecated_and_wraps_construction(torch, name):
    def run(lib):
        class Model:
            def __init__(self, k):
                self.k = k
                self.mode = lib.is_grad_enabled()

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            made = DECORATORS[name](lib)(Model)
        m = made(3)
        messages = [(w.category, str(w.message)) for w in caught]
        return messages, (m.k, m.mode, type(m).__name__), lib.is_grad_enabled()

    got, expected = run(agx), run(torch)
    assert got == expected and expected[0][0][0] is FutureWarning


@pytest.mark.parametrize("name", sorted(DECORATORS))
def test_decorated_function_keeps_its_name_and_restores_the_mode(torch, name):
    def run(lib):
        @DECORATORS[name](lib)
        def f(x):
            """doc"""
            return lib.is_grad_enabled(), x

        return f(1), f.__name__, f.__doc__, lib.is_grad_enabled()

    assert run(agx) == run(torch)


@pytest.mark.parametrize("name", ["no_grad", "enable_grad", "set_grad_enabled",
                                  "inference_mode"])
def test_the_context_managers_at_torch_autograd_grad_modes_path(name):
    torch = pytest.importorskip("torch")
    assert hasattr(torch.autograd.grad_mode, name)
    assert getattr(agx.autograd.grad_mode, name) is getattr(agx, name)


@pytest.mark.parametrize("name", sorted(DECORATORS))
def test_the_inference_mode_flag_follows_torchs(torch, name):
    """``is_inference_mode_enabled`` in a decorated function, a decorated generator's steps
    (not between them), a context and a no_grad nested in it."""
    def run(lib):
        make = DECORATORS[name]
        seen = []

        @make(lib)
        def f():
            with lib.no_grad():
                seen.append(lib.is_inference_mode_enabled())
            return lib.is_inference_mode_enabled()

        @make(lib)
        def gen():
            yield lib.is_inference_mode_enabled()
            yield lib.is_inference_mode_enabled()

        seen.append(f())
        g = gen()
        seen.append((next(g), lib.is_inference_mode_enabled(), next(g)))
        with make(lib) if name.endswith(")") else lib.inference_mode():
            seen.append(lib.is_inference_mode_enabled())
        seen.append(lib.is_inference_mode_enabled())
        return seen

    assert run(agx) == run(torch)
