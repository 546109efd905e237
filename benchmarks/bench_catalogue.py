"""Every differentiable op of the registry against PyTorch: forward+backward, float32.

The list of ops is not written here: it is every op of every installed plugin
that has a vjp, read from the registry as the conformance kit reads it, and the
inputs are the op's own conformance samples (``conformance_cases`` of its
plugin, see docs/plugins.md). For each op one sample is timed: the first whose
tensor inputs are not all 0-d (else the first), made at float32.

One timed call is, on both sides::

    leaf.grad = None for every leaf
    out = op(*args, **kwargs)                       # the sample's call
    (sum of .sum() of each output that requires grad).backward()

on leaves made once from the same values. PyTorch is called with the same
arguments under the same public name: ``torch.<namespace>.<name>`` for each
namespace the op appears in (``""``, ``nn.functional``, ``linalg``, ``special``)
and each of its aliases, else the Tensor method of the same name. The few ops
PyTorch spells otherwise are in ``TORCH_CALLS`` below, each with the reason;
an op neither finds, or whose call PyTorch refuses, is listed as not compared,
with why: nothing is left out silently. An op none of whose outputs requires
grad on either side (comparisons) is timed forward only, and says so.

Before timing, autogradx's outputs and gradients are compared with PyTorch's
(float32 tolerance; values of random ops are not compared, only their shapes):
an op that differs is not timed and is listed with the difference.

Timing: per op, a calibration call sets how many calls make one timed sample
(about ``--sample-ms``), the same count for both; then ``--rounds`` rounds in
which autogradx and PyTorch take turns. Each op's cells are medians over the
rounds, with their spread ((max - min) / median); its ratio is autogradx /
PyTorch of the medians, with the range of the round-by-round ratios. The
distribution over the ops gives the median ratio, the 90th percentile and
the ten worst.

Run:  python benchmarks/bench_catalogue.py [--rounds N | --quick] [--ops NAME ...]
Writes benchmarks/results/catalogue.jsonl and benchmarks/results/catalogue.md.
"""

import statistics
import sys
import time

import numpy as np

import autogradx as agx
from autogradx.conformance import Arg, Skip, plugin_cases
from _common import (
    arg_parser, fmt, fmt_range, fmt_spread, freeze_heap, import_torch, machine_info, machine_line,
    match_torch_threads, parse_args, ratio, round_ratios, summarize, target, time_interleaved,
    write_results,
)

torch = import_torch()

DTYPE = np.dtype(np.float32)       # Arg.make takes NumPy dtypes
SEED = 0
# Float32 results of one op: the libraries' kernels may differ by a few ulps.
RTOL, ATOL = 1e-4, 1e-5


def _setitem_clone(x, values, index):
    out = x.clone()
    out[index] = values
    return out


# Ops PyTorch offers under another name or calls another way than the lookup by
# name finds: registry name -> (the PyTorch call taking the sample's arguments, why).
# The ops behind an operator or an in-place method compute out of place when
# called as ops (that is what the conformance kit and this benchmark call), so their
# PyTorch side is the in-place method on a clone: the copy the op makes itself.
TORCH_CALLS = {
    "getitem": (lambda x, index: x[index],
                "the op behind `x[index]` (basic indexing): Tensor.__getitem__"),
    "index": (lambda x, index: x[index],
              "the op behind `x[tensor]` (advanced indexing): Tensor.__getitem__"),
    "setitem": (_setitem_clone,
                "the op behind `x[index] = values`, out of place: a clone, then "
                "Tensor.__setitem__"),
    "_to_copy": (lambda x, dtype: x.to(dtype), "the op behind `x.to(dtype)`: Tensor.to"),
    "_to_device": (lambda x, device: x.to(device), "the op behind `x.to(device)`: Tensor.to"),
    "zero": (lambda x: x.clone().zero_(), "the op behind `x.zero_()`, out of place: "
             "clone().zero_()"),
    "uniform": (lambda x, *a: x.clone().uniform_(*a), "the op behind `x.uniform_()`, out of "
                "place: clone().uniform_()"),
    "normal": (lambda x, *a: x.clone().normal_(*a), "the op behind `x.normal_()`, out of "
               "place: clone().normal_()"),
    "copy": (lambda x, src: x.clone().copy_(src), "the op behind `x.copy_(src)`, out of "
             "place: clone().copy_(src)"),
}


# ---------------------------------------------------------------------------
# The ops and their calls.
# ---------------------------------------------------------------------------

def differentiable_ops():
    """``[(op, cases)]`` for every op of every installed plugin that has a vjp, in
    registry order, as the conformance kit finds their samples."""
    from autogradx._registry import REGISTRY
    out = []
    for plugin in REGISTRY.load().plugins:
        for op, cases in plugin_cases(plugin):
            if op.vjp is not None or op.vjps is not None:
                out.append((op, cases))
    return out


def _args_of(value):
    """The :class:`Arg` placeholders in a sample's argument (lists and tuples too)."""
    if isinstance(value, Arg):
        return [value]
    if type(value) in (list, tuple):
        return [a for v in value for a in _args_of(v)]
    return []


def pick_sample(cases):
    """The op's first sample with a tensor input of at least one dimension, else its first."""
    for sample in cases:
        args = [a for v in (*sample.args, *sample.kwargs.values()) for a in _args_of(v)]
        if any(a.shape for a in args):
            return sample
    return cases[0]


def torch_value(value):
    """A non-tensor argument as PyTorch takes it: autogradx and NumPy dtypes, devices."""
    if isinstance(value, np.dtype):
        return getattr(torch, value.name)
    if isinstance(value, type(agx.float32)):
        return getattr(torch, repr(value).rpartition(".")[2])
    if isinstance(value, type(agx.device("cpu"))):
        return torch.device(str(value))
    return value


class Call:
    """A sample made into leaves for both libraries, from the same values: ``args[impl]``,
    ``kwargs[impl]`` and ``leaves[impl]`` (the tensors that require grad)."""

    def __init__(self, sample):
        rng = np.random.default_rng(SEED)
        drawn = []                  # autogradx's tensors, in the order of the walk

        def draw(arg):
            drawn.append(arg.make(rng, DTYPE))
            return drawn[-1]

        taken = iter(drawn)         # the torch walk copies them, in the same order

        def copy(arg):
            src = next(taken)
            t = torch.tensor(np.array(src.detach().numpy()))
            return t.requires_grad_() if src.requires_grad else t

        self.leaves, self.args, self.kwargs = {}, {}, {}
        for impl, make in (("autogradx", draw), ("torch", copy)):
            self.leaves[impl] = []
            self.args[impl] = self._walk(sample.args, impl, make)
            self.kwargs[impl] = {k: self._walk(v, impl, make) for k, v in sample.kwargs.items()}

    def _walk(self, value, impl, make):
        if isinstance(value, Arg):
            t = make(value)
            if t.requires_grad:
                self.leaves[impl].append(t)
            return t
        if type(value) in (list, tuple):
            return type(value)(self._walk(v, impl, make) for v in value)
        return value if impl == "autogradx" else torch_value(value)


def torch_function(op):
    """(PyTorch's callable for ``op``, how it was found), or (None, why not)."""
    if op.name in TORCH_CALLS:
        return TORCH_CALLS[op.name]
    modules = {"": torch, "nn.functional": torch.nn.functional, "linalg": torch.linalg,
               "special": torch.special}
    names = (op.name.rpartition(".")[2], *op.aliases)
    for namespace in op.namespaces:
        module = modules.get(namespace)
        for name in names:
            if module is not None and hasattr(module, name):
                where = f"torch.{namespace}." if namespace else "torch."
                return getattr(module, name), f"{where}{name}"
    for name in ((op.method,) if op.method else ()) + op.aliases:
        if hasattr(torch.Tensor, name):
            method = getattr(torch.Tensor, name)
            return (lambda *a, **k: method(*a, **k)), f"Tensor.{name}"
    return None, "PyTorch has no function or Tensor method of this name"


# ---------------------------------------------------------------------------
# One forward+backward.
# ---------------------------------------------------------------------------

def outputs(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def differentiable(out):
    return [o for o in outputs(out) if getattr(o, "requires_grad", False)]


def make_runner(fn, args, kwargs, leaves, backward):
    """One call: clear the leaves' gradients, the op, and (with ``backward``) the backward
    of the sum of its differentiable outputs. Returns what it made (freed after the clock)."""
    if not backward:
        return lambda: fn(*args, **kwargs)

    def run():
        for leaf in leaves:
            leaf.grad = None
        out = fn(*args, **kwargs)
        diff = differentiable(out)
        loss = diff[0].sum()
        for o in diff[1:]:
            loss = loss + o.sum()
        loss.backward()
        return out
    return run


def as_numpy(t):
    if isinstance(t, torch.Tensor):
        return t.detach().numpy(force=True)     # force: PyTorch's zero gradients are ZeroTensors
    return np.asarray(t.detach().numpy()) if hasattr(t, "detach") else np.asarray(t)


def _close(a, b):
    a, b = as_numpy(a), as_numpy(b)
    if a.shape != b.shape:
        return f"shapes {a.shape} and {b.shape}"
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        scale = float(np.nanmax(np.abs(b))) if b.size and np.isfinite(b).any() else 1.0
        if not np.allclose(a, b, rtol=RTOL, atol=ATOL * max(scale, 1.0), equal_nan=True):
            return f"max abs diff {float(np.nanmax(np.abs(a.astype(np.float64) - b))):.3g}"
    elif not np.array_equal(a, b):
        return "values differ"
    if str(a.dtype) != str(b.dtype):
        return f"dtypes {a.dtype} and {b.dtype}"
    return None


def compare(call, fns, backward, random):
    """None when autogradx's outputs (and gradients, with ``backward``) match
    PyTorch's, else what differs. Random ops: shapes only."""
    got = {}
    for impl, fn in fns.items():
        out = make_runner(fn, call.args[impl], call.kwargs[impl], call.leaves[impl], backward)()
        got[impl] = (outputs(out), [leaf.grad for leaf in call.leaves[impl]])
    (a_out, a_grads), (t_out, t_grads) = got["autogradx"], got["torch"]
    if len(a_out) != len(t_out):
        return f"{len(a_out)} outputs, PyTorch {len(t_out)}"
    for k, (a, t) in enumerate(zip(a_out, t_out)):
        problem = (f"shapes {tuple(a.shape)} and {tuple(t.shape)}"
                   if random and tuple(a.shape) != tuple(t.shape)
                   else None if random else _close(a, t))
        if problem:
            return f"output {k}: {problem}"
    for k, (a, t) in enumerate(zip(a_grads, t_grads)):
        if (a is None) != (t is None):
            return f"gradient of leaf {k}: {'none' if a is None else 'one'} here, " \
                   f"{'none' if t is None else 'one'} in PyTorch"
        problem = None if a is None or random else _close(a, t)
        if problem:
            return f"gradient of leaf {k}: {problem}"
    return None


# ---------------------------------------------------------------------------
# Per op.
# ---------------------------------------------------------------------------

def prepare(op, cases):
    """``(record, runners)`` for one op: ``runners`` is None when the op is not compared,
    and the record then says why."""
    record = {"op": op.name}
    if isinstance(cases, Skip) or not cases:
        return dict(record, excluded="no conformance sample: "
                    + (cases.reason if isinstance(cases, Skip) else "none given")), None
    sample = pick_sample(cases)
    fn, how = torch_function(op)
    record.update(call=sample.describe(), torch_call=how)
    if fn is None:
        return dict(record, excluded=how), None
    call = Call(sample)
    fns = {"autogradx": op, "torch": fn}
    try:
        a_out = op(*call.args["autogradx"], **call.kwargs["autogradx"])
    except Exception as e:                       # noqa: BLE001 - reported, not hidden
        return dict(record, excluded=f"autogradx raised {type(e).__name__}: {e}"), None
    try:
        t_out = fn(*call.args["torch"], **call.kwargs["torch"])
    except Exception as e:                       # noqa: BLE001
        return dict(record, excluded=f"PyTorch refuses the call: {type(e).__name__}: "
                    f"{str(e).splitlines()[0]}"), None
    a_diff, t_diff = bool(differentiable(a_out)), bool(differentiable(t_out))
    if a_diff != t_diff:
        return dict(record, excluded=f"output requires grad here: {a_diff}, in PyTorch: "
                    f"{t_diff}"), None
    backward = a_diff
    random = sample.manual_seed is not None
    try:
        problem = compare(call, fns, backward, random)
    except Exception as e:                       # noqa: BLE001
        return dict(record, excluded=f"forward+backward raised {type(e).__name__}: "
                    f"{str(e).splitlines()[0]}"), None
    if problem:
        return dict(record, excluded=f"differs from PyTorch: {problem}"), None
    record.update(mode="forward+backward" if backward else "forward only (no output "
                  "requires grad)", values_compared=not random)
    runners = {impl: make_runner(fns[impl], call.args[impl], call.kwargs[impl],
                                 call.leaves[impl], backward) for impl in fns}
    return record, runners


def calls_per_sample(run, sample_s):
    """How many calls of ``run`` take about ``sample_s`` seconds (1 to 2000), from the
    fastest of three calls (a call that lost the CPU would say too few)."""
    run()
    one = min(_seconds(run) for _ in range(3))
    return max(1, min(2000, round(sample_s / max(one, 1e-7))))


def _seconds(run):
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def time_op(record, runners, rounds, sample_s):
    repeat = calls_per_sample(runners["autogradx"], sample_s)
    samples = time_interleaved(runners, rounds, repeat=repeat, warmup=2)
    cells = {impl: summarize(s, 1e6) for impl, s in samples.items()}
    per_round = round_ratios(samples, "autogradx", "torch")
    return dict(record, rounds=rounds, calls_per_sample=repeat,
                autogradx_us=_rounded(cells["autogradx"]), torch_us=_rounded(cells["torch"]),
                ratio=round(ratio(cells["autogradx"]["median"], cells["torch"]["median"]), 4),
                ratio_min=round(min(per_round), 4), ratio_max=round(max(per_round), 4),
                ratio_fastest=round(ratio(cells["autogradx"]["min"], cells["torch"]["min"]), 4))


def _rounded(cell):
    return {k: None if v is None else round(v, 4) for k, v in cell.items()}


# ---------------------------------------------------------------------------
# Reporting.
# ---------------------------------------------------------------------------

def distribution(timed, n_vjp):
    ratios = sorted(r["ratio"] for r in timed)
    fastest = sorted(r["ratio_fastest"] for r in timed)
    worst = sorted(timed, key=lambda r: r["ratio"], reverse=True)[:10]
    return {
        "case": "distribution", "ops_with_vjp": n_vjp, "ops_compared": len(timed),
        "median_ratio": round(statistics.median(ratios), 4) if ratios else None,
        "p90_ratio": round(float(np.percentile(ratios, 90)), 4) if ratios else None,
        "max_ratio": ratios[-1] if ratios else None,
        "median_ratio_fastest": round(statistics.median(fastest), 4) if fastest else None,
        "p90_ratio_fastest": round(float(np.percentile(fastest, 90)), 4) if fastest else None,
        "ops_slower_than_torch": [r["op"] for r in timed if r["ratio"] > 1],
        "worst_ten": [{"op": r["op"], "ratio": r["ratio"]} for r in worst],
    }


def op_row(r):
    a, t = r["autogradx_us"], r["torch_us"]
    mode = "" if r["mode"] == "forward+backward" else " (fwd only)"
    return (f"| `{r['op']}`{mode} | {r['call']} | {r['torch_call']} | {fmt(a['median'], 1)} "
            f"| {fmt_spread(a['spread'])} | {fmt(t['median'], 1)} | {fmt_spread(t['spread'])} "
            f"| {fmt(r['ratio'])} | {fmt_range([r['ratio_min'], r['ratio_max']])} "
            f"| {fmt(r['ratio_fastest'])} |")


def markdown_table(timed, excluded, dist, rounds, machine, notes):
    head = ("| op | call (float32) | PyTorch call | autogradx µs | spread | PyTorch µs | spread "
            "| autogradx / PyTorch | per-round ratios | fastest rounds' ratio |")
    rule = "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"
    by_ratio = sorted(timed, key=lambda r: r["ratio"], reverse=True)
    lines = [
        "# Catalogue: every differentiable op, forward+backward, against PyTorch",
        "",
        f"{dist['ops_compared']} of the {dist['ops_with_vjp']} ops with a vjp compared "
        f"(the others are listed below, with why). Median over {rounds} interleaved rounds "
        "of one call (forward, sum of the outputs, backward), in microseconds; spread is "
        "(max - min) / median of the rounds.",
        "",
        f"- median autogradx / PyTorch: **{fmt(dist['median_ratio'])}**",
        f"- 90th percentile: **{fmt(dist['p90_ratio'])}**",
        f"- worst: {fmt(dist['max_ratio'])}; ops slower than PyTorch: "
        f"{len(dist['ops_slower_than_torch'])}",
        f"- of the fastest rounds (each side's minimum; on a busy machine the medians carry "
        f"the interference): median {fmt(dist['median_ratio_fastest'])}, 90th percentile "
        f"{fmt(dist['p90_ratio_fastest'])}",
        "",
        "## The ten slowest against PyTorch",
        "",
        head, rule, *map(op_row, by_ratio[:10]),
        "",
        "## Every op (slowest first)",
        "",
        head, rule, *map(op_row, by_ratio),
    ]
    if excluded:
        lines += ["", "## Not compared", "", "| op | why |", "|---|---|"]
        lines += [f"| `{r['op']}` | {r['excluded']} |" for r in excluded]
    lines += ["", "## PyTorch calls other than by name", "", "| op | PyTorch call |", "|---|---|"]
    lines += [f"| `{name}` | {why} |" for name, (_, why) in TORCH_CALLS.items()]
    lines += ["", machine_line(machine)]
    lines += [f"Note: {note}" for note in notes]
    return "\n".join(lines) + "\n"


def targets(dist, machine):
    return [
        target("catalogue", "median op, forward+backward: autogradx / PyTorch",
               dist["median_ratio"], 1 / 3, "<= 1/3 of PyTorch", machine),
        target("catalogue", "slowest op: autogradx / PyTorch", dist["max_ratio"], 1.0,
               "no op slower than PyTorch", machine),
    ]


def main(argv=None):
    parser = arg_parser(__doc__, rounds=7, quick_rounds=5)
    parser.add_argument("--ops", nargs="+", help="time only these registry names")
    parser.add_argument("--sample-ms", type=float, default=None,
                        help="milliseconds per timed sample (default 5, with --quick 2)")
    args = parse_args(parser, argv)
    if torch is None or args.no_torch:
        sys.exit("error: the catalogue benchmark compares with PyTorch; it needs torch")
    # One thread unless told: on inputs of a few elements a second thread has nothing to
    # do but wake up, and on a loaded machine PyTorch's wait for it can cost milliseconds.
    _, threads_note = match_torch_threads(torch, 1 if args.threads is None else args.threads)
    sample_s = (args.sample_ms or (2.0 if args.quick else 5.0)) / 1e3

    machine = machine_info(torch)
    ops = differentiable_ops()
    n_vjp = len(ops)
    if args.ops:
        unknown = set(args.ops) - {op.name for op, _ in ops}
        if unknown:
            sys.exit(f"error: no differentiable op named {', '.join(sorted(unknown))}")
        ops = [(op, cases) for op, cases in ops if op.name in args.ops]
        n_vjp = len(ops)
    freeze_heap()
    timed, excluded = [], []
    for op, cases in ops:
        record, runners = prepare(op, cases)
        if runners is None:
            excluded.append(dict(record, case="excluded"))
            print(f"  {op.name}: not compared ({record['excluded']})", file=sys.stderr)
            continue
        timed.append(dict(time_op(record, runners, args.rounds, sample_s), case="op"))

    dist = distribution(timed, n_vjp)
    records = [dict(r, machine=machine) for r in timed + excluded] + [dict(dist, machine=machine)]
    records += targets(dist, machine)
    notes = [threads_note, "Ratios come from this one run on this one machine; compare them "
             "only within it."]
    write_results(args.out_dir, "catalogue", records,
                  markdown_table(timed, excluded, dist, args.rounds, machine, notes))


if __name__ == "__main__":
    main()
