"""The entry point on any machine: a Plugin for the cuda device, never an exception."""

from autogradx.plugin import Plugin

from autogradx_cupy import make_plugin


def test_make_plugin_gives_the_cuda_backend_or_the_reason_it_is_off():
    plugin = make_plugin()
    assert isinstance(plugin, Plugin) and plugin.name == "cupy"
    [backend] = plugin.backends
    assert backend.device_type == "cuda"
    if backend.available:
        assert {name for name, module, _ in plugin.overrides} == {
            "sigmoid", "binary_cross_entropy_with_logits"}
    else:
        assert backend.reason and not plugin.overrides
