"""The conformance kit itself: it passes correct ops and names what is wrong with the others."""

import doctest
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import autogradx as agx
from autogradx import conformance
from autogradx.conformance import (Arg, ConformanceError, Sample, Skip, check_op,
                                   generated_samples)
from autogradx.plugin import Op


def cube_vjp(xp, g, x):
    return 3 * g * x ** 2


CUBE = Op("kit_cube", lambda xp, x: x ** 3, vjp=cube_vjp, save="input")
HYPOT = Op("kit_hypot", lambda xp, x, y: xp.sqrt(x * x + y * y), inputs=("input", "other"),
           vjp=(lambda xp, g, x, y, r: g * x / r, lambda xp, g, x, y, r: g * y / r),
           save=("input", "other", "result"), promote="elementwise")


def test_the_module_examples_run():
    assert doctest.testmod(conformance).failed == 0


def test_a_correct_op_passes_every_check():
    report = check_op(CUBE, [Sample(Arg((2, 3))), Sample(Arg(()))], (agx.float32, agx.float64))
    assert report.ok and not report.failures
    # per sample and dtype: forward, gradients, contract; per sample: forward mode (the
    # jvp), second order
    assert report.passed == 2 * (2 * 3 + 1 + 1)
    assert str(report).startswith("check_op(kit_cube): 1 ops checked, 16 checks passed, 0 failed")


def test_generated_samples_cover_shapes_and_broadcasting():
    shapes = [tuple(tuple(a.shape) for a in s.args) for s in generated_samples(HYPOT)]
    assert ((3, 1), (1, 4)) in shapes and ((), (2, 3)) in shapes and ((2, 3, 4), (4,)) in shapes
    assert check_op(HYPOT, None, (agx.float32, agx.float64)).ok


WRONG = [
    pytest.param(Op("kit_bad_vjp", lambda xp, x: x ** 3, vjp=lambda xp, g, x: 2 * g * x ** 2,
                    save="input"),
                 "gradients", "vjp mismatch", id="wrong-vjp"),
    pytest.param(Op("kit_upcast", lambda xp, x: x.astype("float64") ** 3, vjp=cube_vjp,
                    save="input"),
                 "output dtype", "output 0 has dtype torch.float64, expected torch.float32",
                 id="float64-output"),
    pytest.param(Op("kit_writes_g", lambda xp, x: x ** 3, save="input",
                    vjp=lambda xp, g, x: xp.multiply(g, 3 * x ** 2, out=g)),
                 "contract", "changed the gradient of output 0 in place", id="vjp-writes-g"),
    pytest.param(Op("kit_np_vjp", lambda xp, x: x ** 3, save="input",
                    vjp=lambda xp, g, x: 3 * g * np.square(x)),
                 "second order", "differentiating the gradients", id="numpy-only-vjp"),
    pytest.param(Op("kit_raises", lambda xp, x: x[99], vjp=cube_vjp, save="input"),
                 "forward", "the op raised IndexError", id="forward-raises"),
]


@pytest.mark.parametrize("op, what, message", WRONG)
def test_a_wrong_op_is_reported_with_what_failed(op, what, message):
    report = check_op(op, [Sample(Arg((2, 3)))], (agx.float32,) if what == "output dtype"
                      else (agx.float64,), raise_exception=False)
    assert not report.ok
    text = str(report)
    assert f"FAIL {op.name} (2x3; float" in text and f"; {what})" in text and message in text
    with pytest.raises(ConformanceError, match=message):
        check_op(op, [Sample(Arg((2, 3)))], (agx.float32,) if what == "output dtype"
                 else (agx.float64,))


def test_gradients_are_checked_in_each_dtype():
    """A vjp wrong only in float32 (a factor 2) fails there, labelled float32, and passes
    in float64; check_op checks float32 and float64 by default, as the command does."""
    def doubled_in_float32(xp, g, input):
        return (2 if input.dtype == np.float32 else 1) * g * xp.cos(input)

    op = Op("kit_sin32", lambda xp, x: xp.sin(x), vjp={"input": doubled_in_float32})
    samples = [Sample(Arg((2, 3))), Sample(Arg(()))]
    assert check_op(op, samples, (agx.float64,)).ok
    report = check_op(op, samples, raise_exception=False)
    assert [where for _, where, _ in report.failures] == ["2x3; float32; gradients",
                                                         "0-d; float32; gradients"]
    assert "(backward in torch.float32)" in report.failures[0][2]


def test_second_order_can_be_turned_off_per_sample_with_a_reason():
    op = Op("kit_np_vjp2", lambda xp, x: x ** 3, save="input",
            vjp=lambda xp, g, x: 3 * g * np.square(x))
    sample = Sample(Arg((3,))).options(second_order=False, reason="np.square in the vjp")
    report = check_op(op, [sample, Sample(Arg(())).options(second_order=False)])
    assert report.ok and report.unchecked == [("kit_np_vjp2", "3", "np.square in the vjp"),
                                              ("kit_np_vjp2", "0-d", "no reason given")]
    text = str(report)
    assert ", 2 samples without second order" in text.splitlines()[0]
    assert "NO SECOND ORDER kit_np_vjp2 (3): np.square in the vjp" in text
    # a run without second order at all lists nothing
    assert not check_op(op, sample, second_order=False).unchecked


def test_integer_inputs_of_a_float_op_give_the_default_float():
    exp = Op("kit_exp", lambda xp, x: xp.exp(x).astype(x.dtype if x.dtype.kind == "f"
                                                       else "float32"),
             vjp=lambda xp, g, r: g * r, save="result", promote="float")
    assert check_op(exp, Sample(Arg((4,), 0, 3)), ("int64", "float64")).ok


def test_fixed_values_index_tensors_and_options():
    take = Op("kit_take", lambda xp, x, index: x[index])
    sample = Sample(Arg(values=[1.0, 2.0, 3.0]), Arg(values=[2, 0])).options(id="take two")
    assert sample.describe() == "take two"
    assert check_op(take, sample, (agx.float32,)).ok
    assert Sample(Arg((2, 3)), Arg(values=[0, 1]), dim=1).describe() == "2x3, int64[2], dim=1"
    # floating values take the dtype under test
    assert Sample(Arg(values=[[1.0, 2.0]]), Arg(values=[1.0], dtype="float32")).describe() \
        == "values[1, 2], float32[1]"


def test_random_ops_are_checked_under_a_manual_seed():
    noisy = Op("kit_noisy", lambda xp, x: x * agx.rand(*x.shape, dtype=agx.float64).numpy()
               .astype(x.dtype), vjp=None)
    assert check_op(noisy, Sample(Arg((3,))).options(manual_seed=0), second_order=False).ok


def test_skip_is_reported_not_run():
    report = check_op(CUBE, Skip("needs a GPU"))
    assert report.ok and report.skipped == [("kit_cube", "needs a GPU")]


def test_plugin_cases_of_an_unknown_plugin():
    with pytest.raises(LookupError, match="no autogradx plugin named 'nope' is installed"):
        conformance.plugin_cases("nope")
    assert conformance.main(["nope"]) == 1


# -- the command, against a plugin installed in a temporary site ------------------------

PLUGIN = """
import autogradx.plugin as agp
from autogradx.conformance import Arg, Sample, Skip

square = agp.Op("cmd_square", lambda xp, x: x * x, vjp=lambda xp, g, x: {factor} * g * x,
                save="input", method=True)
double = agp.Op("cmd_double", lambda xp, x: 2 * x, vjp=lambda xp, g: 2 * g, method=True)
plugin = agp.Plugin("cmdplug", [square, double])
conformance_cases = {cases}
"""
SQUARE_ONLY = '{"cmd_square": [Sample(Arg((2, 3))), Sample(Arg(()))]}'    # none for double


def _install(root, factor, cases=SQUARE_ONLY):
    (root / "agxtest_cmd.py").write_text(textwrap.dedent(PLUGIN.format(factor=factor,
                                                                       cases=cases)))
    info = root / "agxtest-cmd-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: agxtest-cmd\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[autogradx.plugins]\ncmdplug = agxtest_cmd:plugin\n")


def _command(root, *args):
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run([sys.executable, "-m", "autogradx.conformance", "cmdplug", *args],
                          capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize("factor, status", [(2, 0), (3, 1)], ids=["correct", "wrong-vjp"])
def test_command_exit_status_and_report(tmp_path, factor, status):
    _install(tmp_path, factor)
    out = _command(tmp_path, "--dtypes", "float64", "--allow-skips")
    assert out.returncode == status, out.stderr
    assert "autogradx conformance of plugin 'cmdplug': 1 ops checked" in out.stdout
    assert "1 ops skipped" in out.stdout     # allowed: an op without samples is listed
    assert "SKIP cmd_double: the plugin gives no conformance_cases for it" in out.stdout
    if status:
        assert "FAIL cmd_square (2x3; float64; gradients):" in out.stdout
        # the same check failing again is one line; -v shows every failure in full
        assert "FAIL cmd_square (0-d; float64; gradients): as above" in out.stdout
        verbose = _command(tmp_path, "--dtypes", "float64", "--allow-skips", "-v")
        assert "FAIL cmd_square (0-d; float64; gradients):\n    gradcheck" in verbose.stdout
        assert len(verbose.stdout.splitlines()) > len(out.stdout.splitlines())


def test_an_op_without_samples_fails_the_command_unless_skips_are_allowed(tmp_path):
    _install(tmp_path, 2)
    out = _command(tmp_path)
    assert out.returncode == 1, out.stderr
    assert "FAIL cmd_double (conformance_cases):\n    cmd_double: no conformance_cases " \
           "(give samples, or Skip(reason))" in out.stdout
    assert "FAIL cmd_square" not in out.stdout


def test_checking_nothing_fails_the_command(tmp_path):
    _install(tmp_path, 2, cases='{"cmd_square": Skip("later"), "cmd_double": Skip("later")}')
    out = _command(tmp_path)
    assert out.returncode == 1, out.stderr
    assert out.stdout.startswith("autogradx conformance of plugin 'cmdplug': 0 ops checked")
    assert "FAIL cmdplug (plugin):\n    no op was checked" in out.stdout
    assert "SKIP cmd_square: later" in out.stdout
    allowed = _command(tmp_path, "--allow-skips")
    assert allowed.returncode == 0 and "0 ops checked" in allowed.stdout


def test_verbose_lists_each_op_that_passed(tmp_path):
    _install(tmp_path, 2, cases='{"cmd_square": [Sample(Arg(()))], "cmd_double": [Sample(Arg(()))]}')
    quiet, verbose = _command(tmp_path), _command(tmp_path, "--verbose")
    assert quiet.returncode == verbose.returncode == 0, quiet.stdout
    assert len(quiet.stdout.splitlines()) == 1
    assert "PASS cmd_square: " in verbose.stdout and "PASS cmd_double: " in verbose.stdout


# -- the pytest route, from the installed autogradx ---------------------------------------

PYTEST_FILE = """
from autogradx.conformance.pytest import conformance_tests

test_strict = conformance_tests("cmdplug", dtypes=("float64",))
test_lenient = conformance_tests("cmdplug", dtypes=("float64",), allow_skips=True)
test_absent = conformance_tests("nope")
"""


@pytest.mark.parametrize("factor", [2, 3], ids=["correct", "wrong-vjp"])
def test_conformance_tests_one_pytest_test_per_op_outside_the_source_tree(tmp_path, factor):
    import autogradx
    root = tmp_path / "plugin"
    root.mkdir()
    _install(root, factor)
    (root / "test_plugin.py").write_text(PYTEST_FILE)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(root), str(Path(autogradx.__file__).resolve().parents[1])]))
    out = subprocess.run([sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider",
                          "test_plugin.py"], capture_output=True, text=True, env=env,
                         cwd=root, timeout=300)
    # -v lines: "test_plugin.py::test_strict[cmdplug:cmd_square] PASSED    [ 20%]"
    outcomes = {line.split()[0].partition("::")[2]: line.split()[1]
                for line in out.stdout.splitlines() if line.startswith("test_plugin.py::")}
    square = "PASSED" if factor == 2 else "FAILED"
    assert outcomes == {
        "test_strict[cmdplug:cmd_square]": square,
        "test_strict[cmdplug:cmd_double]": "FAILED",         # no samples
        "test_lenient[cmdplug:cmd_square]": square,
        "test_lenient[cmdplug:cmd_double]": "SKIPPED",       # allowed
        "test_absent[nope:not-loaded]": "FAILED",
    }, out.stdout
    assert "cmd_double: no conformance_cases (give samples, or Skip(reason))" in out.stdout
    assert "no autogradx plugin named 'nope' is installed" in out.stdout


def test_a_wrong_jvp_fails_the_forward_mode_check():
    """A declared jvp formula wrong by a factor 2 fails against finite differences and the
    vjp (the transpose identity); with forward_mode=False it is not checked."""
    op = Op("kit_bad_jvp", lambda xp, x: xp.sin(x), vjp={"input": lambda xp, g, input: g * xp.cos(input)},
            jvp={"input": lambda xp, t, input: 2 * t * xp.cos(input)})
    samples = [Sample(Arg((2, 3)))]
    report = check_op(op, samples, raise_exception=False)
    assert [where for _, where, _ in report.failures] == ["2x3; float64; forward mode"]
    assert "finite differences" in report.failures[0][2] and "<u, J v>" in report.failures[0][2]
    assert check_op(op, samples, forward_mode=False).ok
