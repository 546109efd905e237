"""Shared plumbing of the benchmark scripts: timing, machine facts, output.

Not a benchmark itself. Each ``bench_*.py`` imports it (they run as scripts,
so ``benchmarks/`` is on ``sys.path``) and keeps only what it measures.

Conventions every script follows:

* Implementations take turns within each round (``time_interleaved``), so a
  burst of load on the shared machine lands on all of them alike; a cell's
  number is the median over rounds.
* The garbage collector is off while a timed unit runs and collects before it,
  so no implementation pays for a collection triggered by another's garbage.
* Results go to ``<out-dir>/<name>.jsonl`` (one JSON object per measurement,
  each with a ``case`` field and the ``machine`` it ran on) and
  ``<out-dir>/<name>.md`` (the table also printed to stdout).
* Checks against the project's speed targets are extra records with
  ``"case": "target"`` (see ``target``); ``run_all.py`` gathers them into the
  summary's first table.
"""

import argparse
import ctypes
import gc
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def import_torch():
    """The torch module, or None when it is not importable (its column is optional)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def import_hips():
    """HIPS autograd's ``autograd`` package (it loads ``autograd.numpy``), or None
    when it is not importable (its column is optional: ``pip install autograd``)."""
    try:
        import autograd
    except ImportError:
        return None
    return autograd


def import_jax(threads=None):
    """``jax`` (CPU wheel), or None when it is not importable (its column is optional:
    ``pip install jax``). Double precision stays off: the benchmarks run float32.

    With ``threads=1``, XLA's CPU backend is told to run each op on the calling
    thread (``XLA_FLAGS``, read at JAX's first use, so this must come before it);
    other counts leave XLA's own thread pool as it is."""
    if threads == 1:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + JAX_ONE_THREAD).strip()
    try:
        import jax
    except ImportError:
        return None
    return jax


JAX_ONE_THREAD = " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
HIPS_MISSING_NOTE = ("HIPS autograd is not importable (`pip install autograd`, see "
                     "benchmarks/README.md), so it is left out.")
JAX_MISSING_NOTE = ("JAX is not importable (`pip install jax`, see benchmarks/README.md), "
                    "so its columns are left out.")


# ---------------------------------------------------------------------------
# Command line.
# ---------------------------------------------------------------------------

def arg_parser(doc, rounds, quick_rounds, rounds_help=None):
    """The options every script shares: --rounds, --quick, --no-torch, --threads,
    --out-dir.

    ``parse_args`` on the result turns --quick into ``quick_rounds`` rounds.
    A script whose cells have their own round counts passes None for both
    (``args.rounds`` then stays None unless given) and says so in ``rounds_help``.
    """
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=rounds,
                   help=rounds_help or f"timed rounds per cell (default {rounds})")
    p.add_argument("--quick", action="store_true",
                   help="fewer rounds and smaller loops: a smoke run"
                   + (f" ({quick_rounds} rounds)" if quick_rounds else ""))
    p.add_argument("--no-torch", action="store_true", help="leave out the PyTorch column")
    p.add_argument("--threads", type=int, default=None,
                   help="set NumPy's BLAS (and so PyTorch) to this many threads "
                        "(default: leave NumPy's BLAS as it is)")
    p.add_argument("--out-dir", type=Path, default=RESULTS_DIR,
                   help="where the .jsonl and .md results go (default benchmarks/results/)")
    p.set_defaults(quick_rounds=quick_rounds)
    return p


def parse_args(parser, argv=None):
    args = parser.parse_args(argv)
    if args.quick and args.quick_rounds is not None:
        args.rounds = args.quick_rounds
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def torch_note(args, torch):
    """Why the PyTorch column is missing, or None when it runs."""
    if torch is None:
        return "PyTorch is not importable; its column is skipped."
    if getattr(args, "no_torch", False):
        return "PyTorch column skipped (--no-torch)."
    return None


def select_impls(impls, args, torch, hips, jax=False):
    """(the names in ``impls`` that run, notes on those left out): "torch" goes
    with --no-torch or when not importable, "autograd" (HIPS) when not importable,
    "jax_jit" and "jax_eager" when ``jax`` is None (not importable)."""
    left_out = {"torch": torch_note(args, torch),
                "autograd": HIPS_MISSING_NOTE if hips is None else None}
    if jax is None:
        left_out["jax_jit"] = left_out["jax_eager"] = JAX_MISSING_NOTE
    return ([impl for impl in impls if left_out.get(impl) is None],
            [note for note in left_out.values() if note])


# ---------------------------------------------------------------------------
# Timing.
# ---------------------------------------------------------------------------

def time_once(run, repeat=1):
    """Seconds for ``repeat`` calls of ``run``, the collector off meanwhile.

    The results of the calls are kept until the clock stops, so tearing down
    what they built (a graph, say) is never timed here.
    """
    gc.collect()
    gc.disable()
    try:
        kept = [None] * repeat
        start = time.perf_counter_ns()
        for i in range(repeat):
            kept[i] = run()
        elapsed = time.perf_counter_ns() - start
    finally:
        gc.enable()
    del kept
    return elapsed / 1e9


def freeze_heap():
    """Move every object alive now (modules, the libraries' tables, the inputs) out of the
    collector's sight, so that the collection before each timed sample scans only what
    the benchmark made since: with PyTorch and JAX loaded a full collection takes about
    0.2 s on the 2-core machine, which would dominate a run of many short samples."""
    gc.collect()
    gc.freeze()


def time_interleaved(runners, rounds, repeat=1, warmup=1):
    """{impl: [seconds per call, one per round]} for ``{impl: callable}``.

    Every runner gets ``warmup`` untimed calls first (first-use lookups,
    allocator). Within each round the implementations take turns, rather than
    running their rounds back to back, so load on the machine hits them alike.
    """
    for run in runners.values():
        for _ in range(warmup):
            run()
    samples = {impl: [] for impl in runners}
    for _ in range(rounds):
        for impl, run in runners.items():
            samples[impl].append(time_once(run, repeat) / repeat)
    return samples


def summarize(samples, scale=1.0):
    """``{"median", "min", "max", "spread"}`` of one cell's per-round samples (times
    ``scale``): spread is (max - min) / median, the width of the rounds' range
    relative to the cell's number (0.1: the rounds lie within 10% of it)."""
    values = [s * scale for s in samples]
    median = statistics.median(values)
    return {"median": median, "min": min(values), "max": max(values),
            "spread": (max(values) - min(values)) / median if median else None}


def round_ratios(samples, impl, ref):
    """``impl`` / ``ref`` round by round (the two took turns in each round), or None."""
    if impl not in samples or ref not in samples:
        return None
    return [a / b for a, b in zip(samples[impl], samples[ref]) if b]


def fmt_spread(spread):
    """A relative spread as a percentage (``"12%"``), ``"n/a"`` for None."""
    return "n/a" if spread is None else f"{100 * spread:.0f}%"


def fmt_range(values, digits=2):
    """``"min-max"`` of a list of ratios, ``"n/a"`` for None or empty."""
    if not values:
        return "n/a"
    return f"{min(values):.{digits}f}-{max(values):.{digits}f}"


# ---------------------------------------------------------------------------
# Memory.
# ---------------------------------------------------------------------------

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes():
    """Resident set size of this process now, from /proc/self/statm (Linux).

    Page-granular, and it counts whatever the allocators keep: memory freed
    to malloc but not returned to the OS still counts. None off Linux.
    """
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * PAGE_SIZE
    except OSError:
        return None


# ---------------------------------------------------------------------------
# Machine facts.
# ---------------------------------------------------------------------------

# Names OpenBLAS builds give their thread-count functions: NumPy's wheels ship
# scipy-openblas with prefixed, 64-bit-int symbols; distributions plain ones.
_OPENBLAS_GET = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
                 "openblas_get_num_threads64_", "openblas_get_num_threads")
_OPENBLAS_SET = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                 "openblas_set_num_threads64_", "openblas_set_num_threads")


def _openblas_function(names):
    """(function, description) for the first of ``names`` exported by an
    OpenBLAS loaded in this process (found in /proc/self/maps), or (None, None).

    threadpoolctl does the same, but is not a dependency.
    """
    np.ones((2, 2)) @ np.ones((2, 2))           # make sure the BLAS is loaded
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            libs = sorted({line.split()[-1] for line in f if "openblas" in line.lower()})
    except OSError:
        return None, None
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in names:
            function = getattr(lib, name, None)
            if function is not None:
                return function, f"{name}() of {Path(path).name}"
    return None, None


def blas_threads():
    """(threads NumPy's BLAS uses, how that was found).

    Asks the loaded OpenBLAS; falls back to the usual environment variables,
    then to the CPU count, and says so.
    """
    getter, how = _openblas_function(_OPENBLAS_GET)
    if getter is not None:
        getter.restype = ctypes.c_int
        return getter(), how
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var]), f"${var} (BLAS library not identified)"
    return os.cpu_count() or 1, "CPU count (BLAS library not identified)"


def match_torch_threads(torch, threads=None):
    """Give PyTorch as many intra-op threads as NumPy's BLAS has; returns
    (threads, a note saying so). With ``threads``, first set NumPy's BLAS
    (OpenBLAS only) to that many."""
    if threads is not None:
        setter, _ = _openblas_function(_OPENBLAS_SET)
        if setter is None:
            raise SystemExit("error: --threads needs NumPy linked to OpenBLAS")
        setter.argtypes = [ctypes.c_int]
        setter(threads)
    n, how = blas_threads()
    if torch is not None:
        torch.set_num_threads(n)
    return n, f"NumPy's BLAS uses {n} thread(s) ({how})" + (
        f"; torch.set_num_threads({n})" if torch is not None else "")


def git_commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def git_dirty():
    """True when the working tree differs from the commit (the numbers are of the tree)."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                             capture_output=True, text=True, check=True,
                             cwd=Path(__file__).parent).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return bool(out.strip())


def machine_info(torch=None, hips=None, jax=None):
    """Versions and machine facts for every record; ``torch``, ``hips`` and ``jax`` are
    the modules loaded for the run (None: not loaded, so no version)."""
    import autogradx
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__ if torch is not None else None,
        "torch_threads": torch.get_num_threads() if torch is not None else None,
        # HIPS autograd has no __version__; its distribution metadata has.
        "autograd": importlib.metadata.version("autograd") if hips is not None else None,
        "jax": jax.__version__ if jax is not None else None,
        "autogradx": autogradx.__version__,
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }


def machine_line(machine):
    torch_part = f"PyTorch {machine['torch'] or 'not loaded'}"
    if machine["torch_threads"]:
        torch_part += f" ({machine['torch_threads']} threads)"
    hips_part = f", HIPS autograd {machine['autograd']}" if machine.get("autograd") else ""
    if machine.get("jax"):
        hips_part += f", JAX {machine['jax']} (CPU)"
    commit = machine["git_commit"] or "unknown"
    if machine.get("git_dirty"):
        commit += " + uncommitted changes"
    return (f"Machine: Python {machine['python']}, NumPy {machine['numpy']}, {torch_part}"
            f"{hips_part}, {machine['platform']}, {machine['cpu_count']} CPUs, commit {commit}.")


# ---------------------------------------------------------------------------
# Reporting.
# ---------------------------------------------------------------------------

def fmt(value, digits=2):
    return "n/a" if value is None else f"{value:.{digits}f}"


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def target(benchmark, metric, value, limit, goal, machine):
    """A ``"case": "target"`` record: ``value`` checked against ``value <= limit``.

    ``goal`` says the target in words (``"<= 1/3 of PyTorch"``); ``value`` None
    (a column skipped) leaves ``met`` None.
    """
    return {
        "case": "target", "benchmark": benchmark, "metric": metric,
        "value": None if value is None else round(value, 4), "limit": limit, "goal": goal,
        "met": None if value is None else bool(value <= limit), "machine": machine,
    }


def write_results(out_dir, name, records, table):
    """Write ``name``.jsonl and ``name``.md under ``out_dir`` and print the table."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / f"{name}.jsonl", "w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
    (out_dir / f"{name}.md").write_text(table, encoding="utf-8")
    print(table, end="", flush=True)
