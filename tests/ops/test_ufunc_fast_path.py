"""Ops that declare ``ufunc=`` are computed by that NumPy ufunc when called on float
arrays without parameters: it must give exactly what their forward gives there, and
leave errors and other dtypes to it."""

import numpy as np
import pytest

import autogradx as ag
from autogradx._registry import REGISTRY
from helpers import fast_paths

UFUNC_OPS = sorted(name for name, op in REGISTRY.load().ops.items() if op.numpy_ufunc is not None)

OPERANDS = {
    "float32": np.array([[-1.5, 0.0], [2.25, 3.0]], np.float32),
    "float64": np.array([0.5, -4.0], np.float64),
    "int64": np.array([3, -7], np.int64),
    "bool": np.array([True, False]),
    "0-d": np.array(2.5, np.float32),
    "float": 1.0001,
    "int": 3,
}


def test_the_arithmetic_ops_declare_their_ufunc():
    assert {"add", "sub", "mul", "div", "neg"} <= set(UFUNC_OPS)


def _floats_only(values):
    return all(v.dtype.kind == "f" for v in values if isinstance(v, np.ndarray))


@pytest.mark.parametrize("name", UFUNC_OPS)
def test_ufunc_equals_the_forward(name):
    op = REGISTRY.load().ops[name]
    arrays = [k for k, v in OPERANDS.items() if isinstance(v, np.ndarray)]
    combos = ([(k,) for k in arrays] if op.n_inputs == 1
              else [(a, b) for a in arrays for b in OPERANDS])
    checked = 0
    for combo in combos:
        values = [OPERANDS[k] for k in combo]
        if not _floats_only(values):
            continue                # the core calls the forward for these
        try:
            expected = op.forward(np, *values)
        except Exception as e:       # the fast path must fail the same way (through the forward)
            with pytest.raises(type(e)):
                getattr(ag, name)(*[ag.tensor(v) if isinstance(v, np.ndarray) else v for v in values])
            continue
        got = op.numpy_ufunc(*values)
        assert got.dtype == expected.dtype and got.shape == expected.shape, combo
        np.testing.assert_array_equal(got, expected, err_msg=str(combo))
        checked += 1
    assert checked


def _outcome(name, args, fast):
    """The result of ``ag.<name>(*args)`` (or the type of its error), fast paths on or off."""
    with fast_paths(fast):
        try:
            out = getattr(ag, name)(*args)
        except Exception as e:
            return type(e)
        return out.dtype, out.numpy().tolist()


@pytest.mark.parametrize("name", UFUNC_OPS)
def test_other_dtypes_go_through_the_forward(name):
    """The contract covers float arrays only: integers and bools get the forward's result
    (integer division gives the default float, where np.divide gives float64)."""
    op = REGISTRY.load().ops[name]
    for combo in ([("int64",), ("bool",)] if op.n_inputs == 1
                  else [("int64", "int64"), ("int64", "int"), ("int", "int64"), ("bool", "bool")]):
        args = [ag.tensor(OPERANDS[k]) if isinstance(OPERANDS[k], np.ndarray) else OPERANDS[k]
                for k in combo]
        assert _outcome(name, args, True) == _outcome(name, args, False), combo
    assert ag.div(ag.tensor([1, 2]), ag.tensor([2, 4])).dtype == ag.get_default_dtype()


def test_bool_subtraction_keeps_pytorch_error():
    t = ag.tensor([True, False])
    with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with two bool"):
        t - t


# -- arithmetic vjp formulas: the vjps the core computes itself -------------------------

# Those of one or two inputs in the autogradx namespace (nn.functional.linear's bias
# passes g through too, but is called otherwise).
ARITHMETIC_OPS = sorted(name for name, op in REGISTRY.load().ops.items()
                        if op.arithmetic_vjps and op.n_inputs <= 2 and "" in op.namespaces)


def test_the_arithmetic_ops_get_the_fast_path_from_their_formulas():
    assert {"add", "sub", "mul", "neg", "div", "exp", "log", "sqrt", "tanh", "sigmoid",
            "reciprocal", "square"} <= set(ARITHMETIC_OPS)
    ops = REGISTRY.load().ops
    # A unary ufunc of the array module is part of the tree (sin: g * xp.cos(input));
    # ** or a comparison are not (rsqrt: ** 3).
    assert ops["sin"].arithmetic_vjps == ("input",) and ops["cos"].arithmetic_vjps == ("input",)
    assert ops["rsqrt"].arithmetic_vjps == ()
    assert ops["div"].arithmetic_vjps == ("input", "other")


def _grads(name, values):
    """Gradients of ``sum(op(*values) * w)`` w.r.t. the tensor inputs, through the core."""
    tensors = [ag.tensor(v, requires_grad=True) if isinstance(v, np.ndarray) else v for v in values]
    out = getattr(ag, name)(*tensors)
    w = np.linspace(0.5, 2.0, out.numel(), dtype=out.detach().numpy().dtype).reshape(out.shape)
    (out * ag.tensor(w)).sum().backward()
    return [t.grad.numpy() for t in tensors if isinstance(t, ag.Tensor)], w


@pytest.mark.parametrize("name", ARITHMETIC_OPS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_core_evaluates_formulas_as_python_does(name, dtype):
    """The core's evaluation of a formula gives exactly what calling the formula gives."""
    op = REGISTRY.load().ops[name]
    a = np.array([[-1.5, 0.25], [2.0, 3.5]], dtype)
    b = np.array([0.75, -2.5], dtype)           # broadcast against a
    combos = [(a,)] if op.n_inputs == 1 else [(a, b), (b, a), (a, 1.0001), (3, a), (a, a.copy())]
    for values in combos:
        with np.errstate(invalid="ignore", divide="ignore"):    # log of the negative ones
            _check_formulas(op, name, values, dtype)


def _check_formulas(op, name, values, dtype):
    try:
        result = getattr(ag, name)(*[ag.tensor(v) if isinstance(v, np.ndarray) else v
                                     for v in values]).numpy()
    except TypeError:
        return                              # fmod(3, x): a number where it takes a tensor
    try:
        got, w = _grads(name, values)
    except RuntimeError:
        return                              # remainder(3, x): no derivative for x
    # The formulas on the same saved values (Python numbers stay numbers, as saved).
    saved = [result if s == "result" else values[op.inputs.index(s)] for s in op.save]
    g = w.astype(dtype)
    expected = []
    for i, v in enumerate(values):
        if not isinstance(v, np.ndarray):
            continue
        grad = np.asarray(op.vjps[i](np, g, *[saved[k] for k in op.reads[i]]))
        if grad.shape != v.shape:          # the engine sums broadcast gradients back
            lead = grad.ndim - v.ndim
            grad = grad.sum(axis=tuple(range(lead)))
            grad = grad.sum(axis=tuple(k for k, s in enumerate(v.shape) if s == 1), keepdims=True)
        expected.append(grad)
    assert len(got) == len(expected)
    for x, y in zip(got, expected):
        assert x.dtype == y.dtype
        assert x.tobytes() == y.tobytes(), f"{name} {values}"


def test_formulas_that_branch_on_a_value_get_no_fast_path():
    from autogradx.plugin import Op
    fwd = lambda xp, a, b: a * b
    branching = [
        lambda xp, g, other: g if other == 0 else g / other,      # a comparison
        lambda xp, g, other: g * other ** 2,                      # a power
        lambda xp, g, other: g * xp.where(other > 0, 1.0, 2.0),   # the array module, not a unary ufunc
        lambda xp, g, other: g * xp.exp(other, out=None),         # a ufunc with keywords
        lambda xp, g, other: g * other.conj(),                    # a method
        lambda xp, g, other: g * np.float32(2.0) * other,         # a NumPy scalar
        lambda xp, g, other: other * 2.0,                         # no g
    ]
    for formula in branching:
        op = Op("probe", fwd, inputs=("input", "other"), vjp={"input": formula})
        assert op.arithmetic_vjps == ()
    for formula in (lambda xp, g, other: g * other, lambda xp, g, other: g * xp.exp(other)):
        op = Op("probe", fwd, inputs=("input", "other"), vjp={"input": formula})
        assert op.arithmetic_vjps == ("input",)


def test_vjp_ufunc_is_deprecated_and_ignored():
    from autogradx.plugin import Op
    fwd = lambda xp, a, b: a * b
    with pytest.warns(DeprecationWarning, match="vjp_ufunc= is deprecated and ignored"):
        op = Op("old_style", fwd, inputs=("a", "b"), save=("a", "b"),
                vjp=(lambda xp, g, a, b: g * b, lambda xp, g, a, b: g * a),
                vjp_ufunc=("g * b", "g * a"))
    assert op.arithmetic_vjps == ()
    x, y = ag.tensor([1.0, 2.0], requires_grad=True), ag.tensor([3.0, 5.0], requires_grad=True)
    op(x, y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 5.0])
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, 2.0])


def _expression_op(vjp):
    """A two-input op whose input's formula is ``vjp(g, input, other, result)``."""
    from autogradx.plugin import Op
    return Op("expression_probe", lambda xp, a, b: a * b + 0.5, inputs=("input", "other"),
              vjp={"input": lambda xp, g, input, other, result: vjp(g, input, other, result)})


@pytest.mark.parametrize("vjp", [
    lambda g, a, b, r: g * (1 - r * r),
    lambda g, a, b, r: -g * a / (b * b),
    lambda g, a, b, r: (g + a) * (g - 2.5) / -b,
    lambda g, a, b, r: g * (b * 3 - 1 / 7),
    lambda g, a, b, r: 2 * g - g * g,
], ids=["tanh-like", "div-like", "mixed", "constants", "g-twice"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_vjp_expressions_make_the_ufunc_calls_python_makes(vjp, dtype):
    """Expressions in g, saved values and numbers: the same bits as the Python vjp, with
    arrays or Python numbers as saved values, into fresh temporaries or not."""
    op = _expression_op(vjp)
    assert op.arithmetic_vjps == ("input",)
    rng = np.random.default_rng(3)
    a = rng.standard_normal(5).astype(dtype)
    for other in [rng.standard_normal(5).astype(dtype) + 3, 1.75, 3,
                  rng.standard_normal((2, 5)).astype(dtype) + 3]:
        x = ag.tensor(a, requires_grad=True)
        out = op(x, other)
        g = np.linspace(-1, 2, out.numel(), dtype=dtype).reshape(out.shape)
        out.backward(ag.tensor(g))
        expected = np.asarray(vjp(g, a, other, a * other + 0.5))
        if expected.shape != a.shape:
            expected = expected.sum(axis=0)
        assert x.grad.numpy().dtype == expected.dtype
        assert x.grad.numpy().tobytes() == expected.tobytes(), other


def test_a_vjp_expression_reading_g_after_an_operation_on_g_sees_it_unchanged():
    # g's buffer is written only by an operation whose first operand is g itself, and
    # only as the expression's last operation: the second g must be read unchanged.
    for sign, vjp in [(1, lambda g, a, b, r: (g + 1) * g), (-1, lambda g, a, b, r: -(g + 1) * g),
                      (1, lambda g, a, b, r: g * (g + 1))]:
        op = _expression_op(vjp)
        x = ag.tensor([1.0, 2.0], requires_grad=True)
        (op(x, 2.0) * 1.0).backward(ag.tensor([3.0, 4.0]))       # g is owned by the sweep
        np.testing.assert_array_equal(x.grad.numpy(), [sign * 12.0, sign * 20.0])


def test_gradients_written_in_place_only_when_nothing_else_holds_them():
    """The last ufunc vjp of a node may write into its incoming gradient: never into one a
    hook kept, a retained .grad, or one the sweep passed on unchanged (add's "g")."""
    x = ag.tensor([1.0, 2.0, 3.0], requires_grad=True)
    c = ag.tensor([2.0, 2.0, 2.0], requires_grad=True)
    kept = []
    h = x * c
    h.register_hook(lambda g: kept.append(g))
    h.retain_grad()
    s = h + h                   # add passes g to both of its inputs unchanged
    y = -(s * 3.0)
    y.sum().backward()
    np.testing.assert_array_equal(kept[0].numpy(), [-6.0, -6.0, -6.0])
    np.testing.assert_array_equal(h.grad.numpy(), [-6.0, -6.0, -6.0])
    np.testing.assert_array_equal(x.grad.numpy(), [-12.0, -12.0, -12.0])
    np.testing.assert_array_equal(c.grad.numpy(), [-6.0, -12.0, -18.0])


# -- Python numbers in ufunc calls: cached casts --------------------------------------

@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_python_numbers_give_numpys_results_bit_for_bit(dtype):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(7).astype(dtype)
    numbers = [1.0001, -0.5, 3, -7, 1e-30, 6.1e4, 1e5, 2.0 ** 60, 2 ** 60 + 1, float("inf"),
               float("nan"), 0.0, -0.0, 0]
    t = ag.tensor(a)
    with np.errstate(all="ignore"):
        for v in numbers:
            for got, expected in ((t * v, a * v), (v * t, v * a), (t + v, a + v), (t - v, a - v),
                                  (v - t, v - a)):
                got = got.numpy()
                assert got.dtype == expected.dtype, v
                assert got.tobytes() == expected.tobytes(), (v, got, expected)


def test_signed_zero_operands_keep_their_sign():
    t = ag.tensor([1.0, -2.0])
    assert np.signbit((t * -0.0).numpy()).tolist() == [True, False]
    assert np.signbit((t * 0.0).numpy()).tolist() == [False, True]
    assert np.signbit((t * -0.0).numpy()).tolist() == [True, False]


def test_many_distinct_numbers_stay_exact():
    """Past the cache's size, numbers go to NumPy as they are: the same results."""
    t = ag.tensor(np.linspace(-1, 1, 5, dtype=np.float32))
    for k in range(2000):
        v = 1.0 + k * 1e-4
        assert (t * v).numpy().tobytes() == (t.numpy() * v).tobytes()


def test_the_conformance_kit_compares_the_fast_paths_with_the_definitions():
    """Where the core's evaluation of a formula differs from calling it, the kit says so,
    even where the gradients through the fast path alone would pass the finite-difference
    check. (A formula that looks at its arguments' types is one way to get there.)"""
    from autogradx import conformance
    from autogradx.plugin import Op
    # Traced on symbols it is g * other; on arrays it computes g * input: wrong there.
    two_faced = lambda xp, g, input, other: g * input if type(g) is np.ndarray else g * other
    wrong = Op("conformance_probe_mul", lambda xp, a, b: a * b, inputs=("input", "other"),
               vjp={"input": two_faced, "other": lambda xp, g, input: g * input})
    assert wrong.arithmetic_vjps == ("input", "other")
    sample = conformance.Sample(conformance.Arg((3,)), conformance.Arg((3,)))
    report = conformance.check_op(wrong, [sample], second_order=False, raise_exception=False)
    assert not report.ok
    assert "ufunc fast path" in str(report) and "arithmetic vjp formulas" in str(report)
    right = Op("conformance_probe_mul", lambda xp, a, b: a * b, inputs=("input", "other"),
               vjp={"input": lambda xp, g, other: g * other,
                    "other": lambda xp, g, input: g * input})
    assert conformance.check_op(right, [sample], second_order=False, raise_exception=False).ok


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_in_place_updates_through_the_ufunc_match_the_forward(dtype):
    """``p -= lr * g`` under no_grad writes the ufunc's result into p's array: the bits
    the forward with out= gives, broadcasting and Python numbers included; the version
    counter moves as for any in-place change."""
    rng = np.random.default_rng(5)
    base = rng.standard_normal((4, 3)).astype(dtype)
    row = rng.standard_normal(3).astype(dtype)
    updates = [("sub_", 0.37), ("add_", row), ("mul_", 1.0001), ("sub_", base[::-1].copy()),
               ("neg_", None), ("div_", 3)]

    def run(fast):
        with fast_paths(fast):
            p = ag.tensor(base.copy(), requires_grad=True)
            data = p.detach().numpy()
            with ag.no_grad():
                for name, other in updates:
                    if isinstance(other, np.ndarray):
                        other = ag.tensor(other)
                    getattr(p, name)(*(() if other is None else (other,)))
        assert p.detach().numpy() is data or np.shares_memory(p.detach().numpy(), data)
        return p.detach().numpy().copy(), p._version

    (fast, v_fast), (slow, v_slow) = run(True), run(False)
    assert fast.tobytes() == slow.tobytes()
    assert v_fast == v_slow == len(updates)


def test_matmul_through_its_ufunc_keeps_pytorchs_errors():
    a = ag.ones(2, 3)
    with pytest.raises(RuntimeError, match="expected m1 and m2 to have the same dtype"):
        a @ ag.ones(3, 2, dtype=ag.float64)
    with pytest.raises(RuntimeError, match="both arguments to matmul need to be at least 1D"):
        ag.matmul(a, ag.tensor(2.0))
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        a @ ag.ones(2, 2)


# -- whole graphs: the fast paths against the definitions ------------------------------

_CHAIN_OPS = ["add", "sub", "mul", "div", "neg", "exp", "tanh", "sigmoid", "sqrt", "log",
              "square", "reciprocal", "radd", "rsub", "rmul", "rdiv"]


def _random_chain(seed, shape, fast):
    """h, x.grad and c.grad (as bytes) of a random 40-op chain in x and c, with the fast
    paths on or off. Values run into inf and NaN: their signs and payloads must agree too."""
    with fast_paths(fast):
        r = np.random.default_rng(seed)
        dtype = (np.float32, np.float64)[seed % 2]
        x = ag.tensor(r.standard_normal(shape).astype(dtype), requires_grad=True)
        c = ag.tensor((r.random(shape[-1:]) + 0.5).astype(dtype), requires_grad=True)
        h = x
        with np.errstate(all="ignore"):
            for k in range(40):
                op = _CHAIN_OPS[r.integers(len(_CHAIN_OPS))]
                s = float(r.choice([0.5, -1.25, 2.0, 3.0, 1e-3]))
                other = c if op in ("add", "sub", "mul", "div") and r.random() < 0.5 else s
                if op in ("add", "sub", "mul", "div"):
                    h = {"add": h + other, "sub": h - other, "mul": h * other,
                         "div": h / other}[op]
                elif op in ("radd", "rsub", "rmul"):
                    h = {"radd": s + h, "rsub": s - h, "rmul": s * h}[op]
                elif op == "rdiv":
                    h = s / (h.abs() + 1)
                elif op == "neg":
                    h = -h
                elif op in ("sqrt", "log"):
                    h = getattr(ag, op)(h.abs() + 0.5)
                else:
                    h = getattr(ag, op)(h)
                if k % 5 == 4:
                    h = ag.tanh(h) * 3
            h.sum().backward()
        return [None if t is None else t.detach().numpy().tobytes() for t in (h, x.grad, c.grad)]


@pytest.mark.parametrize("shape", [(1,), (3,), (2, 1, 3), (700,)])
def test_random_chains_give_the_same_bits_with_fast_paths_on_and_off(shape):
    """Every fast path at once (ufunc= forwards, vjp expressions, NumPy's loops called
    directly, sums in place) against the ops' Python forwards and vjps. Single elements
    showed that sums in place must not depend on who holds a buffer: NumPy's loops take
    an in-place sum of one element for a reduction, which can pick the other of two NaNs."""
    n = 400 if shape == (1,) else 60
    differing = [seed for seed in range(n)
                 if _random_chain(seed, shape, True) != _random_chain(seed, shape, False)]
    assert differing == []
