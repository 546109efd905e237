"""The large MLP training step on the GPU: autogradx's cuda device (the CuPy plugin)
against a hand-written CuPy floor, and PyTorch CUDA when it is importable.

The step is bench_mlp.py's, on the large MLP (1024-4096-4096-10, batch 512, float32):
zero-grad, forward, cross-entropy, backward, SGD update in place. Implementations,
taking turns in each round, each waited for (the device synchronized) before the
clock stops:

    autogradx    bench_mlp's step on tensors of device "cuda"
    torch        the same step on PyTorch CUDA tensors (skipped when PyTorch or its
                 CUDA is missing)
    cupy         the floor: bench_mlp's NumPy floor run with CuPy as its array module

Before timing, one step of each from the same start is checked against the floor's
(loss and the first and last weight gradients); the benchmark aborts on a difference.

``--device cpu`` runs the same code on the CPU with NumPy as the floor's module: a dry
run of the script on a machine without a GPU (its numbers are not GPU numbers).
``tools/gpu-check.sh`` runs this after the plugin's tests and the conformance suite.

Run:  python benchmarks/bench_gpu.py [--rounds N | --quick] [--device cuda|cpu]
Writes benchmarks/results/gpu.jsonl and benchmarks/results/gpu.md.
"""

import sys

import numpy as np

import autogradx as agx
import autogradx.nn.functional as agx_F
from _common import (
    arg_parser, fmt, fmt_range, fmt_spread, import_torch, machine_info, machine_line,
    match_torch_threads, parse_args, ratio, round_ratios, summarize, target, time_interleaved,
    write_results,
)
from bench_mlp import GRAD_RTOL, LOSS_RTOL, SIZES, make_problem, numpy_step, tensor_step

torch = import_torch()

NAMES = {"autogradx": "autogradx", "torch": "PyTorch CUDA", "cupy": "CuPy floor"}
DRY_RUN_NAMES = {"autogradx": "autogradx (cpu)", "torch": "PyTorch CPU",
                 "cupy": "NumPy floor (dry run)"}
STEPS_PER_SAMPLE = 3


def array_module(device):
    """CuPy for ``cuda`` (exits with why when it cannot run), NumPy for ``cpu``."""
    if device == "cpu":
        return np
    try:
        import cupy
    except ImportError:
        sys.exit("error: CuPy is not importable: the GPU benchmark needs it")
    if not agx.cuda.is_available():
        sys.exit(f"error: autogradx's cuda device is unavailable: {agx.cuda.unavailable_reason()}")
    return cupy


def synchronizer(xp):
    """A call that waits for the device's queued work (nothing to wait for with NumPy)."""
    if xp is np:
        return lambda: None
    return xp.cuda.Device().synchronize


def torch_device(device):
    """PyTorch's device for the run, or None (and why) when its column is skipped."""
    if torch is None:
        return None, "PyTorch is not importable; its column is skipped."
    if device == "cuda" and not torch.cuda.is_available():
        return None, "PyTorch has no CUDA here (a CPU build, or no device); its column is skipped."
    return torch.device(device), None


def make_runner(impl, xp, device, params_np, x_np, y_np):
    """A zero-argument callable: one step, waited for; returns (loss, gradients)."""
    if impl == "cupy":
        params = [xp.array(p) for p in params_np]      # a copy: the step updates it in place
        x, y = xp.asarray(x_np), xp.asarray(y_np)
        sync = synchronizer(xp)

        def run():
            out = numpy_step(params, x, y, xp)
            sync()
            return out
        return run
    if impl == "autogradx":
        lib, F, dev, sync = agx, agx_F, device, synchronizer(xp)
    else:
        lib, F, dev = torch, torch.nn.functional, torch.device(device)
        sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    params = [lib.tensor(p, device=dev, requires_grad=True) for p in params_np]
    x, y = lib.tensor(x_np, device=dev), lib.tensor(y_np, device=dev)

    def run():
        out = tensor_step(params, x, y, F, lib.no_grad)
        sync()
        return out
    return run


def host(value, xp):
    """A NumPy array of a tensor, CuPy array or number."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if xp is not np and isinstance(value, xp.ndarray):
        value = xp.asnumpy(value)
    return np.asarray(value)


def check_step(impls, xp, device, problem):
    """Abort unless every implementation's first step matches the floor's."""
    loss_ref, grads_ref = make_runner("cupy", xp, device, *problem)()
    loss_ref, grads_ref = float(host(loss_ref, xp)), [host(g, xp) for g in grads_ref]
    for impl in impls:
        if impl == "cupy":
            continue
        loss, grads = make_runner(impl, xp, device, *problem)()
        if not np.isclose(float(host(loss, xp)), loss_ref, rtol=LOSS_RTOL):
            sys.exit(f"error: {impl} loss differs from the floor's; refusing to time it")
        for k in (0, len(grads_ref) - 2):
            ours, ref = host(grads[k], xp), grads_ref[k]
            if not np.allclose(ours, ref, rtol=0, atol=GRAD_RTOL * float(np.abs(ref).max())):
                sys.exit(f"error: {impl} gradient of parameter {k} differs from the floor's")


def markdown_table(device, cells, per_round, rounds, machine, notes):
    widths, batch = SIZES["large"][:2]
    lines = [
        f"# Large MLP step on {device}, float32",
        "",
        f"{'-'.join(map(str, widths))}, batch {batch}. Median over {rounds} interleaved rounds "
        f"of {STEPS_PER_SAMPLE} steps, milliseconds per step, each step waited for; spread is "
        "(max - min) / median of the rounds.",
        "",
        "| implementation | ms | spread | autogradx / it | per-round ratios |",
        "|---|---:|---:|---:|---:|",
    ]
    a = cells["autogradx"]["median"]
    for impl, cell in cells.items():
        name = NAMES[impl] if device == "cuda" else DRY_RUN_NAMES[impl]
        lines.append(f"| {name} | {fmt(cell['median'], 3)} | {fmt_spread(cell['spread'])} "
                     f"| {fmt(ratio(a, cell['median']))} | {fmt_range(per_round[impl])} |")
    lines += ["", machine_line(machine)]
    lines += [f"Note: {note}" for note in notes]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = arg_parser(__doc__, rounds=5, quick_rounds=3)
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda",
                        help="cuda (default), or cpu for a dry run of the script")
    args = parse_args(parser, argv)
    xp = array_module(args.device)
    _, threads_note = match_torch_threads(torch, args.threads)
    dev, torch_skip = torch_device(args.device)
    impls = ["autogradx"] + (["torch"] if dev is not None and not args.no_torch else []) + ["cupy"]
    notes = [n for n in (threads_note, torch_skip, "--no-torch" if args.no_torch else None) if n]
    notes.append("Ratios come from this one run on this one machine; compare them only "
                 "within it.")
    if xp is not np:
        notes.append(f"GPU: {xp.cuda.runtime.getDeviceProperties(0)['name'].decode()}, "
                     f"CuPy {xp.__version__}.")

    widths, batch = SIZES["large"][:2]
    problem = make_problem(widths, batch)
    check_step(impls, xp, args.device, problem)
    runners = {impl: make_runner(impl, xp, args.device, *problem) for impl in impls}
    samples = time_interleaved(runners, args.rounds, repeat=STEPS_PER_SAMPLE, warmup=2)
    cells = {impl: summarize(s, 1e3) for impl, s in samples.items()}
    per_round = {impl: round_ratios(samples, "autogradx", impl) for impl in samples}
    machine = machine_info(torch)
    records = [{
        "case": "mlp_train_step_gpu", "device": args.device, "size": "large", "impl": impl,
        "median_ms_per_step": round(cell["median"], 4), "min_ms_per_step": round(cell["min"], 4),
        "max_ms_per_step": round(cell["max"], 4), "spread": round(cell["spread"], 4),
        "rounds": args.rounds, "steps_per_round": STEPS_PER_SAMPLE, "machine": machine,
    } for impl, cell in cells.items()]
    records.append(target("gpu", f"large MLP step on {args.device}: autogradx / floor",
                          ratio(cells["autogradx"]["median"], cells["cupy"]["median"]), 1.25,
                          "within 1.25x of the CuPy floor", machine))
    write_results(args.out_dir, "gpu", records,
                  markdown_table(args.device, cells, per_round, args.rounds, machine, notes))


if __name__ == "__main__":
    main()
