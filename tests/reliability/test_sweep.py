"""A seeded sample of the adversarial sweep (``tools/sweep.py``, issue 16), run in
child processes through the sweep's own machinery: no call may crash the interpreter,
hang, or take more memory than the cap.

The full sweep (about 20,000 calls, a minute or two on two cores, compared with
PyTorch) is ``python tools/sweep.py``; docs/reliability.md gives the counts of a run.
This sample draws a few calls of every registered op and of the APIs, without PyTorch
and without the leak checks, in a few seconds. Crashes the sweep found are kept as
strict expected failures below, each run alone in a fresh worker.
"""

import importlib.util
import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[2] / "tools"


def _load_sweep():
    spec = importlib.util.spec_from_file_location("sweep", TOOLS / "sweep.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("sweep", module)
    spec.loader.exec_module(module)
    return module


sweep = _load_sweep()

#: Calls that crashed the interpreter when the sweep found them, with the finding; each
#: now raises a clear error, and stays here as a regression test.
FORMER_CRASHES = {
    "repeat/s0/arg:arg1[-1]=2**62":
        "Tensor.repeat passed sizes whose product overflows 64 bits to NumPy's "
        "ndarray.repeat, which allocates for the wrapped-around size and writes past it "
        "(SIGSEGV; ASan: heap-buffer-overflow in PyArray_Repeat; with NumPy 2.4.6 "
        "np.ones(4).repeat(2**62) crashes too). PyTorch raises RuntimeError, and so does "
        "autogradx now.",
    "tile/s0/arg:dims[-1]=2**62":
        "autogradx.tile reached the same overflow in NumPy's repeat (np.tile).",
}

BAD = ("crash", "hang", "unbounded")

# Under tools/sanitize.sh asan a deliberate crash, and an allocation past a limit, would be
# ASan error reports of their own (and there is no memory cap): those tests skip there.
no_asan = pytest.mark.skipif(sweep.under_asan(), reason="a deliberate crash is an ASan report")


def _describe(results):
    return "\n".join(f"{r['id']}: {r['cat']}: {r.get('etype', '')} {r.get('msg', '')}\n"
                     f"{r.get('code', '')}" for r in results)


def test_a_seeded_sample_neither_crashes_nor_hangs_nor_runs_out_of_memory(size):
    # AUTOGRADX_LONG_CHECKS=1: 100 calls an op instead of 6 (about 20,000 in all)
    cases = sweep.sample_cases(seed=0, per_op=size(6, 100), n_api=size(80, 1000))
    assert len({c["op"] for c in cases if c["op"]}) >= 150     # every op of the registry
    opts = sweep.options(timeout=20.0)
    results, before = sweep.drive(cases, opts, workers=2, torch=False)
    assert all(r is not None for r in results)
    # as the sweep does: a call that timed out is run again alone (with three times the
    # time) before it counts as a hang; a few calls ask for billions of elements of a view
    sweep.confirm(cases, results, before, opts)
    bad = [r for r in results if r["cat"] in BAD]
    assert not bad, _describe(bad)


@pytest.mark.parametrize("case_id", list(FORMER_CRASHES))
def test_a_call_that_crashed_the_sweep(case_id):
    [case] = sweep.cases_by_id([case_id])
    [result], _ = sweep.drive([case], sweep.options(timeout=20.0), workers=1, torch=False)
    assert result["cat"] == "clear error", _describe([result])
    assert result["etype"] == "RuntimeError" and "larger than any array" in result["msg"]


@no_asan
def test_the_machinery_sees_a_crash_a_hang_a_leak_and_memory_beyond_the_cap():
    """Each outcome the sample asserts against is one the machinery reports, and the
    worker that died is replaced: the call after it still runs."""
    def case(name, code, leak=False):
        return {"id": name, "family": "self-test", "op": None, "kind": "self-test",
                "code": code, "stage": None, "torch": False, "leak": leak}
    cases = [
        case("abort", "import os\nos.abort()"),
        case("segfault", "import ctypes\nctypes.string_at(0)"),
        case("sleep", "import time\ntime.sleep(60)"),
        case("memory", "b = bytearray(300 << 20)\nc = bytearray(300 << 20)"),
        case("leak", "import sys\nsys.__dict__.setdefault('sweep_hold', [])"
                     ".append(bytearray(1000))", leak=True),
        case("fine", "out = agx.ones(2) * 2", leak=True),
    ]
    opts = sweep.options(timeout=3.0, mem_cap_mb=256)
    results, _ = sweep.drive(cases, opts, workers=1, torch=False)
    cats = {r["id"]: r["cat"] for r in results}
    assert cats == {"abort": "crash", "segfault": "crash", "sleep": "hang",
                    "memory": "unbounded", "leak": "leak", "fine": "ok"}, results
