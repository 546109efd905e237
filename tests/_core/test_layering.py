"""The core's contract with the package above it: it imports nothing from there; what it
calls above itself (the registry's op lookup, device_of, the tensor namespace) is handed
to it when autogradx is imported."""
import pathlib
import re
import subprocess
import sys

CORE = pathlib.Path(__file__).resolve().parents[2] / "autogradx" / "_core"
UPWARD = re.compile(r"^\s*(from\s+autogradx\b|import\s+autogradx\b)", re.MULTILINE)


def test_the_core_imports_nothing_above_it():
    sources = sorted(CORE.glob("*.pyx")) + sorted(CORE.glob("*.pxd")) + sorted(CORE.glob("*.py"))
    assert len(sources) > 10
    found = {p.name: UPWARD.findall(p.read_text()) for p in sources}
    assert {name: hits for name, hits in found.items() if hits} == {}


def test_importing_autogradx_loads_no_plugins_and_the_services_work():
    code = ("import sys, autogradx as agx\n"
            "assert 'autogradx._registry' not in sys.modules\n"
            "x = agx.ones(2, requires_grad=True)\n"
            "y = x + x\n"                                   # the operator's op lookup
            "g, = agx.autograd.grad((y * y).sum(), x, create_graph=True)\n"   # tensor namespace
            "g.sum().backward()\n"
            "print(x.grad.tolist())\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[8.0, 8.0]"
