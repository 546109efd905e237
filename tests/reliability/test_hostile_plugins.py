"""Hostile and broken plugins: each mistake gets a named error or warning, and the
built-in ops keep working.

Plugins are installed as distributions in a temporary directory on sys.path and
loaded into a fresh :class:`Registry` (autogradx's own registry is never touched),
or, where a plugin would take the process down, in a child interpreter.
Tests of the loader's basic cases (an import error, an entry point that is not a
plugin, duplicates across plugins, the off switch) are in tests/test_registry.py.
"""

import os
import re
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import autogradx as agx
from autogradx._registry import DISABLE_ENV, REGISTRY, PluginWarning, Registry
from autogradx.conformance import Arg, Sample, check_op

# name -> (module source, what the PluginWarning must say)
BROKEN = {
    "raises": ("raise RuntimeError('cannot find libfoo')",
               r"'raises' \(agxtest_raises:plugin\) failed to load.*RuntimeError: cannot find libfoo"),
    "syntax": ("def oops(:\n",
               r"'syntax' .*failed to load.*SyntaxError"),
    "no_attribute": ("x = 1",
                     r"'no_attribute' .*failed to load.*AttributeError.*plugin"),
    "factory_raises": ("def plugin():\n    raise ValueError('no licence')",
                       r"'factory_raises' .*failed to load.*ValueError: no licence"),
    "factory_none": ("def plugin():\n    return None",
                     r"'factory_none' .*gave NoneType, expected an autogradx.plugin.Plugin"),
    "malformed_op": ("""
        import autogradx.plugin as agp
        plugin = agp.Plugin("malformed_op", [agp.Op("bad_save", lambda xp, x: x, save="nope")])
        """, r"'malformed_op' .*failed to load.*'bad_save'.*cannot save 'nope'"),
    "not_an_op": ("""
        import autogradx.plugin as agp
        plugin = agp.Plugin("not_an_op", [lambda xp, x: x])
        """, r"'not_an_op' .*failed to load.*is not an autogradx.plugin.Op"),
    "twice": ("""
        import autogradx.plugin as agp
        first = agp.Op("agxtest_twice", lambda xp, x: 2 * x, vjp=lambda xp, g: 2 * g)
        again = agp.Op("agxtest_twice", lambda xp, x: 3 * x, vjp=lambda xp, g: 3 * g)
        plugin = agp.Plugin("twice", [first, again])
        """, r"'twice' registers op 'agxtest_twice' twice; the first definition is used"),
}

# Ops that load, then misbehave when called: (op name, forward, vjp, save).
HOSTILE_OPS = """
import numpy as np
import autogradx.plugin as agp

class Duck:                             # not an array, with an array's attributes
    def __init__(self, a):
        self.shape, self.dtype, self.ndim, self.size = a.shape, a.dtype, a.ndim, a.size

def op(name, forward, vjp, save=(), residuals=False):
    return agp.Op(name, forward, vjp=vjp, save=save, residuals=residuals)

def shift_in_place(xp, x):
    x -= x.max()                        # writes into the caller's tensor
    return xp.exp(x)

def halve_residual(xp, g, x, r):
    grad = g * r
    r /= 2                              # writes into what the forward saved
    return grad

def scale_saved_input(xp, g, x):
    grad = g * 1
    x *= 2                              # writes into the input saved for it
    return grad

plugin = agp.Plugin("hostile", [
    op("hostile_shape", lambda xp, x: 2 * x, lambda xp, g: xp.ones(7)),
    op("hostile_int_grad", lambda xp, x: 2 * x, lambda xp, g: (2 * g).astype("int64")),
    op("hostile_complex_grad", lambda xp, x: 2 * x, lambda xp, g: (2 * g).astype("complex128")),
    op("hostile_list_grad", lambda xp, x: 2 * x, lambda xp, g: [1.0, 2.0, 3.0]),
    op("hostile_matrix_grad", lambda xp, x: 2 * x, lambda xp, g: np.asmatrix(2 * g)),
    op("hostile_masked_grad", lambda xp, x: 2 * x, lambda xp, g: np.ma.masked_array(2 * g)),
    op("hostile_duck_grad", lambda xp, x: 2 * x, lambda xp, g: Duck(2 * g)),
    op("hostile_object_out", lambda xp, x: x.astype(object), lambda xp, g: g),
    op("hostile_str_out", lambda xp, x: x.astype(str), lambda xp, g: g),
    op("hostile_longdouble_out", lambda xp, x: x.astype(np.longdouble), lambda xp, g: g),
    agp.Op("hostile_object_pair", lambda xp, x: (x, x.astype(object)), n_outputs=2,
           vjp=lambda xp, g: g[0]),
    agp.Op("hostile_count", lambda xp, x, y: x * y, inputs=("input", "other"),
           vjp=lambda xp, g, x, y: (g * y,), save=("input", "other")),
    op("hostile_none_out", lambda xp, x: None, lambda xp, g: g),
    op("hostile_shift", shift_in_place, lambda xp, g, r: g * r, save="result"),
    op("hostile_residual", lambda xp, x: (2 * x, xp.full(x.shape, 2.0)), halve_residual,
       save="input", residuals=True),
    op("hostile_saved", lambda xp, x: x + 1, scale_saved_input, save="input"),
])
"""


def install(root, name, source, entry="plugin"):
    """Install plugin ``name`` under ``root``: module ``agxtest_<name>`` and a distribution
    whose entry point names ``agxtest_<name>:<entry>``."""
    module = f"agxtest_{name}"
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"agxtest_{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: agxtest-{name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[autogradx.plugins]\n{name} = {module}:{entry}\n")


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A directory on sys.path to install plugins into; their modules are forgotten after."""
    REGISTRY.load()         # autogradx's own registry, loaded before: it never sees them
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("agxtest_")]:
        del sys.modules[name]


def load_registry():
    """A fresh registry, loaded; returns it and the messages of its PluginWarnings."""
    reg = Registry()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg.load()
    return reg, [str(w.message) for w in caught if issubclass(w.category, PluginWarning)]


def builtin_ops_work(reg):
    """The built-in ops of ``reg`` still compute values and gradients."""
    x = agx.tensor([1.0, 2.0], requires_grad=True)
    reg.ops["sum"](reg.ops["add"](reg.ops["mul"](x, x), reg.ops["exp"](x))).backward()
    return np.allclose(x.grad.numpy(), 2 * np.array([1.0, 2.0]) + np.exp([1.0, 2.0]))


def run_python(site, code, **env):
    """Run ``code`` in a child interpreter that sees the plugins installed in ``site``."""
    env = dict(os.environ, PYTHONPATH=str(site), **env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=env, timeout=120)


# ---------------------------------------------------------------- loading

@pytest.mark.parametrize("name", BROKEN)
def test_a_broken_plugin_is_named_and_the_rest_works(site, name):
    source, message = BROKEN[name]
    install(site, name, source)
    reg, warned = load_registry()
    assert len(warned) == 1 and re.search(message, warned[0]), warned
    assert builtin_ops_work(reg)


def test_every_broken_plugin_at_once(site):
    for name, (source, _) in BROKEN.items():
        install(site, name, source)
    install(site, "hostile", HOSTILE_OPS)
    reg, warned = load_registry()
    for name, (_, message) in BROKEN.items():
        assert sum(bool(re.search(message, w)) for w in warned) == 1, name
    assert len(warned) == len(BROKEN)
    assert reg.ops["agxtest_twice"].plugin == "twice" and "hostile_shape" in reg.ops
    assert builtin_ops_work(reg)


def test_the_off_switch_runs_none_of_them(site, monkeypatch):
    for name, (source, _) in BROKEN.items():
        install(site, name, source)
    install(site, "exits", "import sys; sys.exit(3)")
    monkeypatch.setenv(DISABLE_ENV, "1")
    reg, warned = load_registry()
    assert warned == [] and list(reg.plugins) == ["numpy"]
    assert not [m for m in sys.modules if m.startswith("agxtest_")]
    assert builtin_ops_work(reg)


def test_a_plugin_that_exits_at_import_is_named_and_skipped(site):
    install(site, "exits", "import sys; sys.exit(3)")
    out = run_python(site, """
        import warnings
        import autogradx as agx
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            print(agx.exp(agx.zeros(1)).item())
        print(*[w.message for w in caught], sep="\\n")
        """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("1.0\n") and "'exits'" in out.stdout and "SystemExit" in out.stdout


def test_a_plugin_cannot_replace_a_core_tensor_attribute(site):
    install(site, "hijack", """
        import autogradx.plugin as agp
        plugin = agp.Plugin("hijack", [agp.Op("hijack_detach", lambda xp, x: 0 * x,
                                              method="detach")])
        """)
    out = run_python(site, """
        import warnings
        import autogradx as agx
        from autogradx._core.tensor import TensorBase
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            agx.ones(1).exp()                   # installs the op methods
        print(agx.Tensor.detach is TensorBase.detach)
        print(*[w.message for w in caught], sep="\\n")
        """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("True\n")
    assert "'hijack'" in out.stdout and "'detach'" in out.stdout


# ---------------------------------------------------------------- calling a hostile op

@pytest.fixture
def hostile(site):
    """The ops of the hostile plugin, loaded into a fresh registry."""
    install(site, "hostile", HOSTILE_OPS)
    reg, warned = load_registry()
    assert warned == []
    return reg


def backward_through(op):
    x = agx.tensor([1.0, 2.0, 3.0], dtype=agx.float64, requires_grad=True)
    try:
        op(*[x] * len(op.inputs)).sum().backward()
    finally:
        assert x.grad is None           # a failed backward leaves nothing behind


def case(name, error, message):
    """A row of GRADIENT_ERRORS."""
    return pytest.param(name, error, message, id=name)


GRADIENT_ERRORS = [
    case("hostile_shape", RuntimeError,
         r"HostileShapeBackward0 \(op 'hostile_shape', plugin 'hostile'\) returned an invalid "
         r"gradient at index 0 - got \[7\] but expected shape compatible with \[3\]"),
    case("hostile_int_grad", TypeError,
         r"HostileIntGradBackward0 \(op 'hostile_int_grad', plugin 'hostile'\) returned a "
         r"gradient of dtype int64 at index 0; expected float64"),
    case("hostile_list_grad", TypeError,
         r"HostileListGradBackward0 \(op 'hostile_list_grad', plugin 'hostile'\) returned a "
         r"list as gradient 0, expected an array"),
    # Array subclasses and look-alikes would reach .grad and change what arithmetic on it means.
    case("hostile_matrix_grad", TypeError,
         r"HostileMatrixGradBackward0 \(op 'hostile_matrix_grad', plugin 'hostile'\) returned "
         r"a numpy.matrix as gradient 0, expected an array \(numpy.ndarray, or the array type "
         r"of a registered backend\)"),
    case("hostile_masked_grad", TypeError,
         r"\(op 'hostile_masked_grad', plugin 'hostile'\) returned a numpy.ma.MaskedArray "
         r"as gradient 0"),
    case("hostile_duck_grad", TypeError,
         r"\(op 'hostile_duck_grad', plugin 'hostile'\) returned a agxtest_hostile.Duck as "
         r"gradient 0"),
    case("hostile_count", RuntimeError,
         r"vjp of op 'hostile_count' \(plugin 'hostile'\) returned 1 gradients, expected 2"),
    case("hostile_complex_grad", TypeError,
         r"HostileComplexGradBackward0 \(op 'hostile_complex_grad', plugin 'hostile'\) "
         r"returned a gradient of dtype complex128 at index 0; expected float64"),
    case("hostile_none_out", TypeError, r"'hostile_none_out'.*NoneType"),
    # Arrays of no tensor dtype: refused as they come out of the forward, not when .dtype
    # is first asked for.
    case("hostile_object_out", TypeError, r"forward of op 'hostile_object_out' \(plugin "
         r"'hostile'\) returned an array of dtype object, expected an array of one of the "
         r"tensor dtypes"),
    case("hostile_str_out", TypeError, r"'hostile_str_out' \(plugin 'hostile'\) returned an "
         r"array of dtype <U32"),
    case("hostile_longdouble_out", TypeError, r"'hostile_longdouble_out' \(plugin 'hostile'\) "
         r"returned an array of dtype float128"),
    case("hostile_object_pair", TypeError, r"'hostile_object_pair' \(plugin 'hostile'\) "
         r"returned an array of dtype object"),
]


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
@pytest.mark.parametrize("name, error, message", GRADIENT_ERRORS)
def test_a_hostile_op_gets_a_named_error_and_leaves_no_trace(hostile, name, error, message):
    with pytest.raises(error, match=message):
        backward_through(hostile.ops[name])
    assert builtin_ops_work(hostile)


MUTATIONS = [
    ("hostile_shift", "forward",
     "op 'hostile_shift' (plugin 'hostile') mutated its input 'input' in forward"),
    ("hostile_residual", "contract",
     "op 'hostile_residual' (plugin 'hostile') mutated its arguments in vjp: backward changed "
     "its residual 0 in place"),
    ("hostile_saved", "contract",
     "op 'hostile_saved' (plugin 'hostile') mutated its arguments in vjp: backward changed "
     "its input 'input' in place"),
]


@pytest.mark.parametrize("name, where, message", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_the_kit_names_an_op_that_writes_into_its_arguments(hostile, name, where, message):
    # Not checked at run time (it would cost every call): the conformance kit finds it.
    report = check_op(hostile.ops[name], [Sample(Arg((2, 3)))], second_order=False,
                      raise_exception=False)
    # once per dtype checked: float32 and float64
    assert [(n, w.rsplit("; ", 1)[1]) for n, w, _ in report.failures] == [(name, where)] * 2
    assert message in report.failures[0][2]
