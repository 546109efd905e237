"""Function transforms (``autogradx.func``) in float64:

    jacobian/tall   f: R^8 -> R^256 (elementwise maps of x tiled): jacfwd needs 8 jvps,
                    jacrev 256 vjps
    jacobian/wide   f: R^256 -> R^8 (sums of maps of x): jacfwd needs 256 jvps, jacrev 8
    per-sample      vmap(grad(loss)) of a 16-32-4 MLP over a batch of 32 (per-sample
                    gradients of every parameter): autogradx's batched path (every op by
                    its batching rule; the run stops if any op took vmap's fallback
                    loop), a Python loop of grad over the samples, and torch.func's
                    vmap(grad) on the same model

jacfwd is vmap of jvp over the basis vectors (one batched forward pass per input);
jacrev is one vjp per output element.

Each cell is the median over rounds, with the spread of its rounds ((max - min) /
median); implementations take turns within a round (see _common.py). Before timing,
every implementation's result is checked against autogradx's jacrev (Jacobians) or the
loop (per-sample gradients).

Run:  python benchmarks/bench_func.py [--rounds N | --quick] [--no-torch]
Writes benchmarks/results/func.jsonl and benchmarks/results/func.md.
"""

import numpy as np

import autogradx as agx
import autogradx.func as afunc
from _common import (
    arg_parser, fmt, fmt_spread, import_torch, machine_info, machine_line, parse_args, ratio,
    summarize, time_interleaved, torch_note, write_results,
)

torch = import_torch()

N_SMALL, N_LARGE = 8, 256
WIDTHS, BATCH = (16, 32, 4), 32


def tall(lib, x):
    """R^8 -> R^256."""
    tiled = x.repeat(N_LARGE // N_SMALL)
    return tiled.sin() * tiled.exp() + (tiled * x.sum()).tanh()


def wide(lib, x):
    """R^256 -> R^8."""
    parts = x.reshape(N_SMALL, N_LARGE // N_SMALL)
    return (parts.sin() * parts).sum(1) + parts.exp().mean(1) * x.sum()


def _jacobian_runners(fn, n, impls):
    x_np = np.random.default_rng(0).standard_normal(n)
    runners = {}
    for impl in impls:
        lib, F = (agx, afunc) if impl.startswith("autogradx") else (torch, torch.func)
        x = lib.tensor(x_np)
        transform = F.jacfwd if impl.endswith("jacfwd") else F.jacrev
        runners[impl] = (lambda transform=transform, lib=lib, x=x:
                         transform(lambda v: fn(lib, v))(x))
    expected = afunc.jacrev(lambda v: fn(agx, v))(agx.tensor(x_np)).numpy()
    for impl, run in runners.items():
        got = run().detach().numpy()
        if not np.allclose(got, expected, rtol=1e-9, atol=1e-12):
            raise SystemExit(f"{impl}: the Jacobian differs from autogradx's jacrev")
    return runners


def _mlp_problem():
    rng = np.random.default_rng(1)
    params = {}
    for k, (a, b) in enumerate(zip(WIDTHS[:-1], WIDTHS[1:])):
        params[f"w{k}"] = rng.standard_normal((a, b)) / np.sqrt(a)
        params[f"b{k}"] = rng.standard_normal(b) * 0.1
    xs = rng.standard_normal((BATCH, WIDTHS[0]))
    ys = rng.standard_normal((BATCH, WIDTHS[-1]))
    return params, xs, ys


def _loss(p, x, y):
    h = x
    for k in range(len(WIDTHS) - 1):
        h = h @ p[f"w{k}"] + p[f"b{k}"]
        if k < len(WIDTHS) - 2:
            h = h.tanh()
    return ((h - y) ** 2).mean()


def _per_sample_runners(impls):
    params_np, xs_np, ys_np = _mlp_problem()
    runners = {}
    for impl in impls:
        lib, F = (agx, afunc) if impl != "torch.func vmap(grad)" else (torch, torch.func)
        params = {k: lib.tensor(v) for k, v in params_np.items()}
        xs, ys = lib.tensor(xs_np), lib.tensor(ys_np)
        if impl == "autogradx loop of grad":
            g = F.grad(_loss)
            runners[impl] = (lambda g=g, params=params, xs=xs, ys=ys:
                             [g(params, xs[i], ys[i]) for i in range(BATCH)])
        else:
            runners[impl] = (lambda F=F, params=params, xs=xs, ys=ys:
                             F.vmap(F.grad(_loss), in_dims=(None, 0, 0))(params, xs, ys))
    expected = runners["autogradx loop of grad"]()
    afunc.reset_vmap_fallback_stats()
    for impl, run in runners.items():
        got = run()
        if impl == "autogradx vmap(grad)" and afunc.vmap_fallback_stats():
            raise SystemExit(f"{impl}: ops took vmap's fallback loop: "
                             f"{afunc.vmap_fallback_stats()}")
        for k in params_np:
            a = np.stack([e[k].numpy() for e in expected])
            b = got[k].detach().numpy() if isinstance(got, dict) else np.stack(
                [e[k].numpy() for e in got])
            if not np.allclose(a, b, rtol=1e-9, atol=1e-12):
                raise SystemExit(f"{impl}: per-sample gradients of {k} differ from the loop's")
    return runners


def _row(case, impl, cells, ref):
    c = cells[impl]
    return (f"| {case} | {impl} | {fmt(c['median'])} | {fmt_spread(c['spread'])} | "
            f"{fmt(ratio(c['median'], cells[ref]['median']))} |")


def _record(case, impl, cells, rounds, machine):
    c = cells[impl]
    return {"case": case, "impl": impl, "median_ms": round(c["median"], 4),
            "min_ms": round(c["min"], 4), "max_ms": round(c["max"], 4),
            "rounds": rounds, "machine": machine}


def main(argv=None):
    parser = arg_parser(__doc__, rounds=7, quick_rounds=2)
    args = parse_args(parser, argv)
    note = torch_note(args, torch)
    with_torch = note is None
    machine = machine_info(torch)
    records, lines = [], []
    jac_impls = ["autogradx jacfwd", "autogradx jacrev"] + (
        ["torch jacfwd", "torch jacrev"] if with_torch else [])
    lines += ["| case | implementation | median ms | spread | vs autogradx jacrev |",
              "|---|---|---|---|---|"]
    for case, fn, n in (("jacobian/tall (8 -> 256)", tall, N_SMALL),
                        ("jacobian/wide (256 -> 8)", wide, N_LARGE)):
        samples = time_interleaved(_jacobian_runners(fn, n, jac_impls), args.rounds)
        cells = {impl: summarize(s, 1e3) for impl, s in samples.items()}
        for impl in jac_impls:
            lines.append(_row(case, impl, cells, "autogradx jacrev"))
            records.append(_record(case, impl, cells, args.rounds, machine))
    ps_impls = ["autogradx vmap(grad)", "autogradx loop of grad"] + (
        ["torch.func vmap(grad)"] if with_torch else [])
    samples = time_interleaved(_per_sample_runners(ps_impls), args.rounds)
    cells = {impl: summarize(s, 1e3) for impl, s in samples.items()}
    lines += ["", "| case | implementation | median ms | spread | vs autogradx loop |",
              "|---|---|---|---|---|"]
    case = f"per-sample grads, MLP {'-'.join(map(str, WIDTHS))}, batch {BATCH}"
    for impl in ps_impls:
        lines.append(_row(case, impl, cells, "autogradx loop of grad"))
        records.append(_record("per_sample_grads", impl, cells, args.rounds, machine))
    header = ["# Function transforms", "", machine_line(machine), "",
              f"{args.rounds} rounds; medians. " + (note or ""), ""]
    write_results(args.out_dir, "func", records, "\n".join(header + lines) + "\n")


if __name__ == "__main__":
    main()
