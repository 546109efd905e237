"""``python -m autogradx info`` lists plugins, backends, the op names several plugins
register and the distributed backends (whether each works here); ``python -m autogradx coverage`` prints the op coverage page of every loaded
plugin's ops (``--builtin``: autogradx's own, docs/ops.md), both read from the registry."""

import argparse
import sys


def _names(op):
    names = (op.name.rpartition(".")[2],) + op.aliases
    fns = [f"{'autogradx.' + ns + '.' if ns else 'autogradx.'}{n}"
           for ns in op.namespaces for n in names]
    return fns


def coverage_markdown(registry=None, all_plugins=True):
    """The op coverage page, generated from the registry: the ops of every loaded plugin,
    or with ``all_plugins=False`` autogradx's own (docs/ops.md)."""
    from autogradx._registry import REGISTRY
    from autogradx._batching.rules import kind_of
    from autogradx.autograd._jvp import NO_FORWARD, rule_kind
    registry = (registry or REGISTRY).load()
    builtin = {name for name, info in registry.plugins.items() if info.builtin}
    lines = [
        "# Op coverage",
        "",
        "Generated from the registry by `python -m autogradx coverage"
        f"{'' if all_plugins else ' --builtin'}`; do not edit by hand.",
        "Every op has a forward and a vector-Jacobian product written once against the array",
        "module it is handed; `create_graph=True` runs the same vjp on tensors.",
        "The forward rule (forward-mode AD) comes from the same definition: `elementwise` (the",
        "vjp formulas), `view`/`linear` (the op applied to the tangents), `multilinear`,",
        "`formula` (declared `jvp=`), or `transpose` (two reverse passes through the vjp: slow);",
        "`refused`: forward mode raises, with the reason (`NO_FORWARD` in autograd/_jvp.py).",
        "The batching rule (`vmap`, docs/func.md) is derived per kind of op the same way; `-`:",
        "vmap runs the op once per sample (its fallback loop).",
        "",
        "| op | plugin | functions | Tensor methods | differentiable inputs | node | forward rule "
        "| batching rule |",
        "|---|---|---|---|---|---|---|---|",
    ]
    names = [n for n in sorted(registry.ops)
             if all_plugins or registry.ops[n].plugin in builtin]
    for name in names:
        op = registry.ops[name]
        methods = [m for m in ((op.method,) + (op.aliases if op.method else ()) +
                               ((op.inplace,) if op.inplace else ())) if m]
        if op.vjps is not None:
            diff = [n for n, v in zip(op.inputs, op.vjps) if v is not None]
        elif op.vjp is not None:
            diff = list(op.inputs)
        else:
            diff = []
        node = op.grad_fn if isinstance(op.grad_fn, str) else "depends on the call"
        lines.append(
            f"| `{name}` | {op.plugin} | {', '.join(f'`{f}`' for f in _names(op)) or '-'} | "
            f"{', '.join(f'`{m}`' for m in methods) or '-'} | "
            f"{', '.join(f'`{d}`' for d in diff) or 'none'} | "
            f"{node if diff else '-'} | "
            f"{'refused' if name in NO_FORWARD else rule_kind(op) or '-'} | {kind_of(op) or '-'} |")
    lines.append("")
    batched = sum(kind_of(registry.ops[n]) is not None for n in names)
    lines.append(f"{len(names)} ops. {batched} have a batching rule, {len(names) - batched} "
                 "take vmap's fallback loop.")
    return "\n".join(lines) + "\n"


def info(out=None):
    from autogradx._registry import REGISTRY
    out = out or sys.stdout
    registry = REGISTRY.load()
    import autogradx
    print(f"autogradx {autogradx.__version__}", file=out)
    # one column width for the names of both tables, fit to the longest
    width = max([12] + [len(p) + 1 for p in registry.plugins]
                + [len(b.device_type) + 1 for b in registry.backends])
    print("plugins:", file=out)
    for p in registry.plugins.values():
        state = f"failed: {p.error}" if p.error else f"{len(p.ops)} ops"
        print(f"  {p.name:<{width}} {p.dist or '?'} {p.version or ''} ({p.value}): {state}",
              file=out)
    print("backends:", file=out)
    print(f"  {'cpu':<{width}} numpy (built in): available", file=out)
    for b in registry.backends:
        state = "available" if b.available else f"unavailable: {b.reason}"
        print(f"  {b.device_type:<{width}} {b.name} (plugin {b.plugin}): {state}", file=out)
    print("distributed backends (autogradx.distributed):", file=out)
    from autogradx.distributed import backend as dist_backends
    for name in dist_backends.BACKENDS:
        works, detail = dist_backends.status(name)
        print(f"  {name:<{width}} {'available' if works else 'unavailable'}: {detail}",
              file=out)
    contested = sorted({name for name, _, _ in registry.duplicates})
    if contested:
        order = registry.priority_order()
        print(f"ops several plugins register (used: the first; "
              f"{'priority ' + ','.join(order) if order else 'default order'}, "
              "AUTOGRADX_PLUGIN_PRIORITY chooses):", file=out)
        for name in contested:
            print(f"  {name:<{width}} {', '.join(registry.providers(name))}", file=out)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autogradx")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="list plugins, their versions and ops, and load failures")
    cov = sub.add_parser("coverage", help="print the op coverage page (Markdown) of every "
                                          "loaded plugin's ops")
    cov.add_argument("--builtin", action="store_true",
                     help="autogradx's own ops only (the page docs/ops.md)")
    args = parser.parse_args(argv)
    if args.command == "info":
        info()
    else:
        sys.stdout.write(coverage_markdown(all_plugins=not args.builtin))


if __name__ == "__main__":
    main()
