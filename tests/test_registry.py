"""The plugin loader: entry points, failures, duplicates, and the off switch."""

import sys
import textwrap
import warnings

import pytest

import autogradx
from autogradx._registry import DISABLE_ENV, PluginWarning, Registry


def make_dist(root, dist, module, source, entry_points):
    """Write an installed distribution ``dist`` (metadata + module) under ``root``."""
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    eps = "".join(f"{name} = {value}\n" for name, value in entry_points.items())
    (info / "entry_points.txt").write_text(f"[autogradx.plugins]\n{eps}")


GOOD = """
import autogradx.plugin as agp
cube = agp.Op("test_cube", lambda xp, x: x ** 3, vjp=lambda xp, g, x: 3 * g * x ** 2,
              save="input", method=True)
plugin = agp.Plugin("goodplug", [cube])
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("agxtest_")]:
        del sys.modules[name]


def load(monkeypatch=None):
    reg = Registry()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg.load()
    return reg, [w for w in caught if issubclass(w.category, PluginWarning)]


def test_builtin_ops_come_through_the_entry_point():
    reg, warned = load()
    assert "numpy" in reg.plugins and reg.plugins["numpy"].dist == "autogradx"
    assert reg.ops["mul"].plugin == "numpy"
    assert not warned


def test_third_party_plugin_is_loaded_and_usable(site):
    make_dist(site, "agxtest-good", "agxtest_good", GOOD, {"goodplug": "agxtest_good:plugin"})
    reg, warned = load()
    assert not warned
    op = reg.ops["test_cube"]
    assert op.plugin == "goodplug"
    x = autogradx.tensor([2.0], requires_grad=True)
    y = op(x)
    y.backward()
    assert y.item() == 8.0 and x.grad.item() == 12.0


def test_plugin_failing_at_import_is_named_and_skipped(site):
    make_dist(site, "agxtest-broken", "agxtest_broken", "raise ImportError('no libfoo')",
              {"brokenplug": "agxtest_broken:plugin"})
    reg, warned = load()
    assert len(warned) == 1
    msg = str(warned[0].message)
    assert "brokenplug" in msg and "no libfoo" in msg
    assert reg.plugins["brokenplug"].error.startswith("ImportError")
    assert "mul" in reg.ops


def test_entry_point_that_is_not_a_plugin(site):
    make_dist(site, "agxtest-notplug", "agxtest_notplug", "plugin = 42",
              {"notplug": "agxtest_notplug:plugin"})
    reg, warned = load()
    assert "expected an autogradx.plugin.Plugin" in str(warned[0].message)
    assert "notplug" in str(warned[0].message)


def test_duplicate_op_name_is_reported_and_first_kept(site):
    make_dist(site, "agxtest-dup", "agxtest_dup", """
        import autogradx.plugin as agp
        plugin = agp.Plugin("dupplug", [agp.Op("mul", lambda xp, a, b: a, inputs=("input", "other"))])
    """, {"dupplug": "agxtest_dup:plugin"})
    reg, warned = load()
    assert any("'mul'" in str(w.message) and "dupplug" in str(w.message) for w in warned)
    assert reg.ops["mul"].plugin == "numpy"
    assert ("mul", "numpy", "dupplug") in reg.duplicates


def test_environment_variable_turns_third_party_plugins_off(site, monkeypatch):
    make_dist(site, "agxtest-good", "agxtest_good", GOOD, {"goodplug": "agxtest_good:plugin"})
    monkeypatch.setenv(DISABLE_ENV, "1")
    reg, warned = load()
    assert "goodplug" not in reg.plugins and "test_cube" not in reg.ops
    assert "agxtest_good" not in sys.modules        # its code never ran
    assert "mul" in reg.ops


def test_malformed_op_definitions_are_refused_with_the_op_named():
    from autogradx.plugin import Op, Plugin
    with pytest.raises(ValueError, match="'bad'.*cannot save 'nope'"):
        Op("bad", lambda xp, x: x, save="nope")
    with pytest.raises(TypeError, match="'bad2': forward must be callable"):
        Op("bad2", 3)
    with pytest.raises(ValueError, match="2 vjps given for 1 inputs"):
        Op("bad3", lambda xp, x: x, vjp=(None, None))
    with pytest.raises(TypeError, match="forward must take"):
        Op("bad4", lambda xp: 1, inputs=("a", "b"))
    with pytest.raises(TypeError, match="is not an autogradx.plugin.Op"):
        Plugin("p", [object()])


def test_import_scans_no_plugins():
    import subprocess
    code = ("import autogradx, sys; "
            "print('autogradx.ops' in sys.modules, 'importlib.metadata' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == "False"


def test_info_lists_plugins(capsys):
    from autogradx.__main__ import main
    main(["info"])
    out = capsys.readouterr().out
    assert "numpy" in out and "ops" in out


# -- the built-in plugin's op list -------------------------------------------------------

def _ops_modules():
    import importlib
    import pkgutil

    import autogradx.ops
    # Private modules (_sum: sum's compiled code) are parts of an ops module, not one.
    return [importlib.import_module(f"autogradx.ops.{info.name}")
            for info in pkgutil.iter_modules(autogradx.ops.__path__)
            if not info.name.startswith("_")]


def test_every_ops_module_is_registered():
    from autogradx.ops import MODULES
    assert sorted(m.__name__ for m in MODULES) == sorted(m.__name__ for m in _ops_modules())


@pytest.mark.parametrize("module", _ops_modules(), ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_ops_module_lists_each_op_it_defines_once(module):
    from autogradx.plugin import Op
    ops = module.OPS
    assert isinstance(ops, tuple) and ops and all(isinstance(op, Op) for op in ops)
    assert len({id(op) for op in ops}) == len(ops)
    for name, value in vars(module).items():
        if isinstance(value, Op):
            assert any(value is op for op in ops), f"{module.__name__}.{name} is not in OPS"
    # What a module lists is its own: no op imported from elsewhere.
    assert all(op.forward.__module__ == module.__name__ for op in ops)


@pytest.mark.parametrize("module", _ops_modules(), ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_no_op_global_shadows_a_builtin(module):
    import builtins

    from autogradx.plugin import Op
    shadowing = sorted(name for name, value in vars(module).items()
                       if isinstance(value, Op) and hasattr(builtins, name))
    assert not shadowing, f"{module.__name__} binds ops to builtin names: {shadowing}"


def test_builtin_plugin_registers_the_modules_op_lists_in_order():
    from autogradx.ops import MODULES
    reg, warned = load()
    assert not warned
    listed = [op.name for module in MODULES for op in module.OPS]
    assert [op.name for op in reg.ops.values() if op.plugin == "numpy"] == listed
    assert reg.plugins["numpy"].dist == "autogradx" and len(set(listed)) == len(listed)


def test_op_list_keeps_ops_in_order_and_refuses_repeats():
    from autogradx.plugin import Op, OpList
    ops = OpList()
    a = ops.add(Op("agxtest_a", lambda xp, x: x))
    b = ops.add(Op("agxtest_b", lambda xp, x: x))
    assert tuple(ops) == (a, b) and len(ops) == 2
    with pytest.raises(ValueError, match="'agxtest_a' is already in this list"):
        ops.add(a)
    with pytest.raises(TypeError, match="takes an autogradx.plugin.Op"):
        ops.add(lambda xp, x: x)


def test_collect_gathers_a_modules_op_globals(site):
    # autogradx.plugin.collect stays, as a convenience for third-party plugins.
    from autogradx.plugin import collect
    (site / "agxtest_collected.py").write_text(textwrap.dedent("""
        from autogradx.plugin import Op
        first = Op("agxtest_first", lambda xp, x: x)
        second = Op("agxtest_second", lambda xp, x: x)
    """))
    import agxtest_collected
    assert [op.name for op in collect(agxtest_collected)] == ["agxtest_first", "agxtest_second"]


# -- op names several plugins register: the priority ----------------------------------

def _dup_plugin(plugin, factor):
    return f"""
        import autogradx.plugin as agp
        plugin = agp.Plugin("{plugin}", [agp.Op("agxtest_scale", lambda xp, x: {factor} * x,
                                                vjp={{"input": lambda xp, g: {factor} * g}})])
    """


@pytest.fixture
def contested(site):
    """Plugins 'zeta' and 'alpha' both register op 'agxtest_scale' (times 3 and times 2).
    (Distribution names without a dash: importlib.metadata takes a dist-info directory's
    name up to its first dash as the distribution's, and lists one per name.)"""
    make_dist(site, "agxtest_zeta", "agxtest_zeta", _dup_plugin("zeta", 3),
              {"zeta": "agxtest_zeta:plugin"})
    make_dist(site, "agxtest_alpha", "agxtest_alpha", _dup_plugin("alpha", 2),
              {"alpha": "agxtest_alpha:plugin"})
    return site


def test_by_default_the_first_entry_point_by_name_wins_and_the_warning_names_both(contested):
    reg, warned = load()
    assert reg.ops["agxtest_scale"].plugin == "alpha"
    assert reg.providers("agxtest_scale") == ["alpha", "zeta"]
    [w] = warned
    assert str(w.message) == (
        "autogradx plugins 'alpha' and 'zeta' both register op 'agxtest_scale'; 'alpha''s is "
        "used, by the default order: autogradx's own plugins, then the others by entry point "
        "name; set AUTOGRADX_PLUGIN_PRIORITY to choose")


@pytest.mark.parametrize("how", ["environment", "call"])
def test_the_priority_chooses_the_plugin_used(contested, monkeypatch, how):
    reg = Registry()
    if how == "environment":
        monkeypatch.setenv("AUTOGRADX_PLUGIN_PRIORITY", "zeta, alpha")
    else:
        monkeypatch.setenv("AUTOGRADX_PLUGIN_PRIORITY", "alpha")      # the call wins
        reg.set_priority(["zeta"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg.load()
    assert reg.ops["agxtest_scale"].plugin == "zeta"
    x = autogradx.tensor([1.0], requires_grad=True)
    reg.ops["agxtest_scale"](x).backward()
    assert x.grad.item() == 3.0
    assert "'zeta''s is used, by the plugin priority (AUTOGRADX_PLUGIN_PRIORITY=zeta" \
        in str(caught[0].message)
    with pytest.raises(RuntimeError, match="already loaded"):
        reg.set_priority(["alpha"])


def test_a_priority_may_put_a_plugin_before_autogradxs_own(site, monkeypatch):
    make_dist(site, "agxtest-dup", "agxtest_dup", """
        import autogradx.plugin as agp
        plugin = agp.Plugin("dupplug", [agp.Op("mul", lambda xp, a, b: a, inputs=("input", "other"))])
    """, {"dupplug": "agxtest_dup:plugin"})
    monkeypatch.setenv("AUTOGRADX_PLUGIN_PRIORITY", "dupplug")
    reg, _ = load()
    assert reg.ops["mul"].plugin == "dupplug" and reg.providers("mul") == ["dupplug", "numpy"]


def test_info_shows_who_provides_each_contested_op_aligned(contested, monkeypatch):
    import io

    from autogradx.__main__ import info
    make_dist(contested, "agxtest_long", "agxtest_long", GOOD.replace("goodplug", "a_long_plugin_name"),
              {"a_long_plugin_name": "agxtest_long:plugin"})
    reg, _ = load()
    monkeypatch.setattr("autogradx._registry.REGISTRY", reg)
    out = io.StringIO()
    info(out)
    lines = out.getvalue().splitlines()
    assert "ops several plugins register (used: the first; default order, " \
           "AUTOGRADX_PLUGIN_PRIORITY chooses):" in lines
    assert any(line.split() == ["agxtest_scale", "alpha,", "zeta"] for line in lines)
    # the second column starts at one place, however long a plugin's name
    rows = [line for line in lines if line.startswith("  ") and " (" in line]
    starts = {len(line) - len(line[2:].lstrip().partition(" ")[2].lstrip()) for line in rows}
    assert len(starts) == 1, lines


def test_plugin_warnings_point_at_the_line_that_loaded_the_plugins(site):
    make_dist(site, "agxtest-broken", "agxtest_broken", "raise ImportError('no libfoo')",
              {"brokenplug": "agxtest_broken:plugin"})
    reg = Registry()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg.load(); line = sys._getframe().f_lineno  # noqa: E702 (the line of the call)
    assert [(w.filename, w.lineno) for w in caught] == [(__file__, line)]


@pytest.mark.parametrize("plugin, version, message", [
    ("othername", None, "autogradx plugin 'goodplug': its Plugin is named 'othername', but a "
                        "plugin is named by its entry point ('goodplug' in agxtest_good:plugin)"),
    ("goodplug", "0.9", "autogradx plugin 'goodplug': Plugin(version='0.9') differs from its "
                        "distribution 'agxtest-good''s version '1.0', which is the one reported"),
])
def test_a_plugin_name_or_version_other_than_its_distributions_is_reported(site, plugin, version,
                                                                          message):
    source = GOOD.replace('agp.Plugin("goodplug", [cube])',
                          f'agp.Plugin({plugin!r}, [cube], version={version!r})')
    make_dist(site, "agxtest-good", "agxtest_good", source, {"goodplug": "agxtest_good:plugin"})
    reg, warned = load()
    assert [str(w.message) for w in warned] == [message]
    assert "goodplug" in reg.plugins and reg.plugins["goodplug"].version == "1.0"


def test_an_op_in_a_namespace_no_module_serves_is_reported(site):
    """A dotted name's prefix is its namespace: one that names no autogradx module (a vendor
    prefix) would leave the function nowhere, so loading says so; the op is still loaded."""
    source = GOOD.replace('agp.Op("test_cube",', 'agp.Op("goodplug.test_cube",')
    make_dist(site, "agxtest-good", "agxtest_good", source, {"goodplug": "agxtest_good:plugin"})
    reg, warned = load()
    assert [str(w.message) for w in warned] == [
        "autogradx plugin 'goodplug': op 'goodplug.test_cube' is declared in namespace "
        "'goodplug', where no module serves functions (a dotted name's prefix is its namespace "
        "unless namespace= is given); the namespaces are '', 'nn.functional', 'linalg', "
        "'special'"]
    assert reg.ops["goodplug.test_cube"].method == "test_cube"
    assert "test_cube" not in reg.namespace("")
