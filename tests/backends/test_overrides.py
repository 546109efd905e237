"""A plugin's per-backend override, loaded through an entry point: used for that backend's
arrays only, and refused (with the plugin named) when it does not fit the op."""

import sys
import textwrap
import warnings

import numpy as np
import pytest

import autogradx as agx
from autogradx._registry import PluginWarning, Registry

PLUGIN = """
import autogradx.plugin as agp

twice = agp.Op("agxtest_twice", lambda xp, x: 2 * x, vjp=lambda xp, g: 2 * g)
# The "fast" version for the fake device's module: marked by a different value.
fast = agp.Op("agxtest_twice", lambda xp, x: 2 * x + 1000, vjp=lambda xp, g: 2 * g + 1000)
misfit = agp.Op("agxtest_twice", lambda xp, x, y: x, inputs=("input", "other"))
plugin = agp.Plugin("overplug", [twice], overrides=[
    ("agxtest_twice", "fakenumpy", fast),
    ("agxtest_twice", "othermodule", misfit),
    ("agxtest_nosuchop", "fakenumpy", fast),
])
"""


@pytest.fixture
def registry(tmp_path, monkeypatch):
    (tmp_path / "agxtest_over.py").write_text(textwrap.dedent(PLUGIN))
    info = tmp_path / "agxtest_over-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: agxtest-over\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[autogradx.plugins]\noverplug = agxtest_over:plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = Registry()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg.load()
    yield reg, [str(w.message) for w in caught if issubclass(w.category, PluginWarning)]
    sys.modules.pop("agxtest_over", None)


def test_override_is_used_for_its_backend_only(fake_device, registry):
    reg, _ = registry
    op = reg.ops["agxtest_twice"]
    assert set(op.overrides) == {"fakenumpy"} and op.overrides["fakenumpy"].plugin == "overplug"
    x = agx.tensor([1.0, 2.0], requires_grad=True)
    np.testing.assert_array_equal(op(x).detach().numpy(), [2.0, 4.0])
    xf = agx.tensor([1.0, 2.0]).to("fake").requires_grad_()
    y = op(xf)
    np.testing.assert_array_equal(y.detach().cpu().numpy(), [1002.0, 1004.0])
    y.sum().backward()          # the override's vjp too
    np.testing.assert_array_equal(xf.grad.cpu().numpy(), [1002.0, 1002.0])


def test_overrides_that_do_not_fit_are_reported_and_skipped(registry):
    _, warned = registry
    assert any("overplug" in w and "'agxtest_nosuchop', which no plugin registers" in w
               for w in warned)
    assert any("overplug" in w and "must keep its inputs ('input',)" in w for w in warned)
