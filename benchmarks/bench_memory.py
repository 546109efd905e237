"""Memory growth over 1000 training steps with the garbage collector off.

The small MLP step of ``bench_mlp.py`` (64-128-128-10, batch 64: zero-grad,
forward, cross-entropy, backward, in-place SGD) runs 1000 times with
``gc.disable()``. Anything a step leaves behind that only the cycle collector
could free (a reference cycle through a node, a hook, a saved tensor) then
accumulates, as would anything leaked outright. Memory is sampled after step
100 and after step 1000; the growth between them divided by 900 is the growth
per step, which should be zero.

Each run starts with 1000 unmeasured steps (gc already off) to fill
CPython's free lists: CPython 3.11 keeps up to 2000 freed tuples of each small size for reuse,
and some NumPy calls (``np.expand_dims``, used by autogradx's cross-entropy
vjp) free a 1-tuple per call into a list that their allocations do not draw
from. That list fills over the first ~2000 calls (~64 KB, which tracemalloc
counts as live) and then stops: without the warm-up it reads as ~90 B/step of
growth between steps 100 and 1000, a bounded cache rather than a leak.

Three measures, in separate runs of 1000 steps:

    tracemalloc   bytes Python's allocators (and NumPy's buffers) hold
    gc objects    ``len(gc.get_objects())``: container objects alive
    RSS           resident set (/proc/self/statm): also sees C allocations,
                  but page-granular and including allocator slack

PyTorch runs the same steps as a reference (RSS and gc objects; its graph is
C++, invisible to tracemalloc), and so does HIPS autograd (all three measures:
its graph is Python objects and NumPy arrays), each when importable and
except with --quick. Memory, not speed, is measured, so NumPy's BLAS runs on
one thread by default: on a shared two-core machine that keeps the 1000 steps
quick.

Run:  python benchmarks/bench_memory.py [--steps N] [--no-torch] [--threads N]
Writes benchmarks/results/memory.jsonl and benchmarks/results/memory.md.
"""

import gc
import tracemalloc

import bench_mlp
from _common import (
    HIPS_MISSING_NOTE, arg_parser, fmt, import_torch, machine_info, machine_line,
    match_torch_threads, parse_args, rss_bytes, target, torch_note, write_results,
)

torch = import_torch()          # None when not importable: the column is optional
hips = bench_mlp.hips_autograd  # likewise

CASE = "memory_growth"
STEPS, FIRST_PROBE, WARMUP = 1000, 100, 1000
WIDTHS, BATCH = bench_mlp.SIZES["small"][:2]
# A leak of even one small object per step (a float is 24 bytes, a node far
# more) shows as this much growth per step; allocator noise stays well below.
GROWTH_LIMIT = 16


def probe(method):
    if method == "tracemalloc":
        return tracemalloc.get_traced_memory()[0]
    if method == "rss":
        return rss_bytes()
    return len(gc.get_objects())


def growth_run(impl, method, steps):
    """(value after FIRST_PROBE steps, after ``steps`` steps) for one measure.

    The warm-up runs with the collector already off: a full collection
    empties CPython's free lists, so one between warm-up and window would undo
    it. tracemalloc starts before the warm-up: started after it, the free
    lists' entries would be untraced, and as steps swap them for traced ones
    the traced total would creep up although nothing more is allocated.
    """
    params, x, y = bench_mlp.make_problem(WIDTHS, BATCH)
    step = bench_mlp.make_runner(impl, params, x, y)
    gc.collect()
    gc.disable()
    if method == "tracemalloc":
        tracemalloc.start()
    try:
        for _ in range(WARMUP):         # first-call costs, free lists: see the docstring
            step()
        for i in range(1, steps + 1):
            step()
            if i == FIRST_PROBE:
                first = probe(method)
        last = probe(method)
    finally:
        gc.enable()
        tracemalloc.stop()
    return first, last


def markdown_table(rows, steps, machine, notes):
    """rows: {(impl, method): (first, last)}."""
    span = steps - FIRST_PROBE
    lines = [
        f"# Memory growth: {steps} small-MLP training steps, gc disabled",
        "",
        f"Growth per step = (value after step {steps} - after step {FIRST_PROBE}) / {span}, "
        f"after {WARMUP} unmeasured warm-up steps that fill CPython's free lists.",
        "",
        f"| impl | measure | after step {FIRST_PROBE} | after step {steps} | growth per step |",
        "|---|---|---:|---:|---:|",
    ]
    units = {"tracemalloc": " B", "rss": " B", "gc_objects": " objects"}
    for (impl, method), (first, last) in rows.items():
        lines.append(f"| {impl} | {method} | {first:,} | {last:,} "
                     f"| {fmt((last - first) / span, 1)}{units[method]} |")
    lines += ["", machine_line(machine)]
    lines += [f"Note: {note}" for note in notes]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = arg_parser(__doc__, rounds=None, quick_rounds=None,
                        rounds_help="(not used: one run of --steps steps per measure)")
    parser.add_argument("--steps", type=int, default=STEPS,
                        help=f"training steps per run (default {STEPS}, also with --quick)")
    parser.set_defaults(threads=1)
    args = parse_args(parser, argv)
    if args.steps <= FIRST_PROBE:
        parser.error(f"--steps must be more than {FIRST_PROBE}")
    skip_note = torch_note(args, torch)
    hips_note = None if hips else HIPS_MISSING_NOTE
    if args.quick:
        skip_note = skip_note or "PyTorch reference skipped (--quick)."
        hips_note = hips_note or "HIPS autograd reference skipped (--quick)."
    _, threads_note = match_torch_threads(torch, args.threads)
    notes = [n for n in (threads_note, skip_note, hips_note) if n]
    machine = machine_info(torch, hips)

    all_measures = ("tracemalloc", "gc_objects", "rss")
    runs = [("autogradx", m) for m in all_measures]
    if skip_note is None:
        runs += [("torch", m) for m in ("gc_objects", "rss")]
    if hips_note is None:
        runs += [("autograd", m) for m in all_measures]
    rows = {run: growth_run(*run, args.steps) for run in runs}

    span = args.steps - FIRST_PROBE
    records = [{
        "case": CASE, "impl": impl, "measure": method, "steps": args.steps,
        "first_probe_step": FIRST_PROBE, "at_first_probe": first, "at_last_step": last,
        "growth_per_step": round((last - first) / span, 2), "machine": machine,
    } for (impl, method), (first, last) in rows.items()]
    for method, unit in (("tracemalloc", "bytes"), ("gc_objects", "objects"),
                         ("rss", "bytes")):
        first, last = rows["autogradx", method]
        records.append(target(
            "memory", f"growth per step, gc off (autogradx, {method}, {unit})",
            (last - first) / span, GROWTH_LIMIT if unit == "bytes" else 0,
            "no growth" if unit == "objects" else f"no growth (<= {GROWTH_LIMIT} B/step: noise)",
            machine))
    write_results(args.out_dir, "memory", records,
                  markdown_table(rows, args.steps, machine, notes))


if __name__ == "__main__":
    main()
