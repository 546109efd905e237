#!/usr/bin/env python3
"""An adversarial sweep over every registered op and the main APIs (issue 16).

    python tools/sweep.py [--quick] [--seed N] [--json out.json] [--workers 2]
                          [--timeout 10] [--mem-cap-mb 1024] [--no-torch] [--only REGEX]

For every op of the registry (the calls come from each op's conformance samples, see
``tools/sweep_cases.py``) it makes hostile calls: NaN, inf, -0.0, huge and tiny values,
size-0 and 0-d shapes; non-contiguous, negative-stride, zero-stride, Fortran-order,
misaligned, read-only and big-endian arrays; every autogradx dtype and NumPy dtypes
autogradx has no type for; wrong types and out-of-range values in every argument;
then backward with odd gradients, gradients of gradients, and in-place variants. Odd
uses of the APIs follow (constructors, ``autograd.backward``/``grad``, hooks, custom
Functions, save/load, threads sharing a graph).

Each call runs in a worker process (two by default) under a memory limit
(``RLIMIT_DATA``: what the worker held after its imports plus ``--mem-cap-mb``) and a
timeout: a crash or a hang ends the worker, not the sweep; the supervisor records it
against the call in flight, starts a new worker, and afterwards reruns the call alone
(then after the calls that preceded it) to say whether it reproduces. Outcomes:

ok            it ran; where PyTorch can run the same code its results (outputs, their
              dtypes and shapes, gradients) agree with PyTorch's; the ``fd`` calls
              check gradients and gradients of gradients against finite differences
clear error   a TypeError, ValueError, RuntimeError, IndexError or NotImplementedError
              (or a subclass autogradx defines) raised by a ``raise`` statement in
              autogradx's own code (or Python's own complaint about a call's arguments,
              which names the function and the argument), whose message is not a
              NumPy or Python internals message (see ``RAW_MESSAGES``); and an OSError
              naming a file (save/load of a path that cannot be written or read)
unclear error any other exception: another type (AttributeError, KeyError, ...), one
              NumPy raised (its own classes, or a call into NumPy failing inside
              autogradx), or a message from ``RAW_MESSAGES``
crash         the worker died (signal, abort) during the call
hang          the call ran past the timeout
wrong         the results disagree with PyTorch's, or a check of the call failed
leak          (sampled calls) memory traced by tracemalloc grows with every repetition
unbounded     the call used more memory than the cap: a MemoryError other than a single
              request larger than the cap that NumPy refuses before allocating (that is
              an unclear error), the kernel killing the worker, or its peak RSS
              growing past the cap

The exit status is 1 when a call crashed, hung or was unbounded, else 0.
"""

import argparse
import ast
import collections
import datetime
import json
import os
import platform
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]

CATEGORIES = ("ok", "clear error", "unclear error", "crash", "hang", "wrong", "leak",
              "unbounded")
FINDINGS = ("crash", "hang", "unbounded", "wrong", "leak")

#: The exception types a clear error may have (or a subclass of them autogradx defines).
CLEAR_TYPES = ("TypeError", "ValueError", "RuntimeError", "IndexError", "NotImplementedError")

#: Messages that come from NumPy's or Python's internals, not from autogradx's checks.
RAW_MESSAGES = [re.compile(p) for p in (
    r"operands could not be broadcast together",
    r"ufunc '\w+'", r"did not contain a loop with signature", r"Cannot cast ufunc",
    r"is out of bounds for (axis|array of dimension|size)",
    r"only integers, slices \(`:`\), ellipsis",
    r"object has no attribute", r"'NoneType' object", r"unsupported operand type\(s\)",
    r"object (is not|cannot be) (iterable|interpreted as an integer|subscriptable)",
    r"object is not callable",
    r"object of type '\w+' has no len\(\)", r"must be real number, not",
    r"an integer is required", r"invalid literal for int\(\)",
    r"could not convert string to float", r"setting an array element with a sequence",
    r"inhomogeneous shape", r"Python int too large to convert to C",
    r"int too big to convert", r"cannot reshape array of size", r"maximum recursion depth",
    r"Unable to allocate", r"assignment destination is read-only",
    r"output array is read-only", r"non-broadcastable output operand",
    r"data type .* not understood", r"Cannot interpret '.*' as a data type",
    r"The truth value of an array with more than one element is ambiguous",
    r"cannot convert float (NaN|infinity) to integer", r"too many indices for array",
    r"mismatch in its core dimension", r"einstein sum subscript",
    r"can't multiply sequence by non-int", r"bad operand type for unary",
    r"not supported between instances of", r"zero-size array to reduction operation",
    r"attempt to get arg(max|min) of an empty sequence",
    r"negative dimensions are not allowed", r"maximum supported dimension for an ndarray",
    r"array is too big", r"Integers to negative integer powers are not allowed", r"^$",
)]

#: Python's own complaints about a call's arguments: they name the function and argument.
SIGNATURE_MESSAGES = re.compile(
    r"\w+\(\) (got an unexpected keyword argument|missing \d+ required|takes (from )?\d+ "
    r"(to \d+ )?positional arguments?|got multiple values for argument|takes no keyword "
    r"arguments|takes exactly|argument after \* must be)")

#: Gradient and value tolerances by dtype name (rtol, atol).
TOLERANCES = {"float16": (1e-2, 1e-3), "float32": (1e-4, 1e-5), "complex64": (1e-4, 1e-5),
              "float64": (1e-7, 1e-9), "complex128": (1e-7, 1e-9)}

#: Variables of a case whose values are compared with PyTorch's.
COMPARED = re.compile(r"^(out|g|gg|grads|[a-z]\d+)$")

LEAK_REPEATS = 10          # two windows of this many calls, after a warm-up
LEAK_BYTES_PER_CALL = 128  # growth per call in both windows that counts as a leak


# =============================================================== the worker

class Worker:
    """Runs cases it reads from stdin, one JSON line each, and writes one JSON line per
    phase of each (``phase`` lines before PyTorch's run and the leak check, ``done``
    last) to the protocol pipe. Everything the code prints goes to stderr."""

    def __init__(self, opts):
        self.opts = opts
        fd = os.dup(1)
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        self.proto = os.fdopen(fd, "w", buffering=1)
        import faulthandler
        faulthandler.enable(file=sys.stderr, all_threads=True)
        faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)
        import numpy as np
        import autogradx as agx
        from autogradx._registry import REGISTRY
        REGISTRY.load()
        import autogradx.nn  # noqa: F401  (the cases use them; imported before the limit)
        import autogradx.optim  # noqa: F401
        self.np, self.agx = np, agx
        self.np_err = np.geterr()
        self.torch = None
        if opts.with_torch:
            try:
                import torch
                torch.set_num_threads(1)
                self.torch = torch
                self.shim = TorchShim(torch, np)
            except ImportError:
                pass
        self.pkg = Path(agx.__file__).resolve().parent
        import gc
        gc.collect()
        gc.freeze()             # what the imports made: the leak check's collections skip it
        self.cap = opts.mem_cap_mb << 20
        self.data0 = _status("VmData")
        import resource
        self.resource = resource
        # Under AddressSanitizer (tools/sanitize.sh) the shadow memory and ASan's own
        # allocator count as data, and an allocation it cannot make is an ASan error
        # report: no memory cap there.
        self.capped = not under_asan()
        if self.capped:
            limit = self.data0 + self.cap
            resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
        self.rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self.send({"t": "ready", "torch": self.torch is not None, "data0": self.data0,
                   "capped": self.capped, "autogradx": str(Path(agx.__file__).resolve())})

    def send(self, msg):
        self.proto.write(json.dumps(msg, default=str) + "\n")
        self.proto.flush()

    def serve(self):
        for line in sys.stdin:
            if not line.strip():
                continue
            case = json.loads(line)
            try:
                self.run_case(case)
            except Exception as e:          # the sweep's own failure: say so, go on
                self.send({"t": "done", "result": {
                    "id": case["id"], "cat": "unclear error", "code": case["code"],
                    "etype": type(e).__name__, "msg": _short(str(e)), "notes": [],
                    "why": "raised while the sweep read the result: "
                           + _short(traceback.format_exc(), 600)}})

    # -- state between cases

    def reset(self):
        agx, np = self.agx, self.np
        agx.set_grad_enabled(True)
        agx.set_detect_anomaly(False)
        agx.set_default_dtype(agx.float32)
        agx.set_printoptions(profile="default")
        np.seterr(**self.np_err)
        if self.torch is not None:
            t = self.torch
            t.set_grad_enabled(True)
            t.autograd.set_detect_anomaly(False)
            t.set_default_dtype(t.float32)
            t.set_printoptions(profile="default")

    # -- one case

    def run_case(self, case):
        import warnings
        self.reset()
        res = {"id": case["id"], "notes": []}
        run = Run(self, self.agx)
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            err = run.execute(case)
        res["seconds"] = round(time.perf_counter() - t0, 4)
        res["code"] = run.reproducer(err)
        res["notes"] += run.notes
        warned = []
        for w in caught:
            text = f"{w.category.__name__}: {w.message}"
            if text not in warned and "torch" not in (w.filename or ""):
                warned.append(text)
        if warned:
            res["warnings"] = warned[:4]
        if err is not None:
            cat, why = self.classify(err)
            res.update(cat=cat, why=why, etype=type(err).__name__,
                       msg=_short(str(err)), where=self.where(err))
        else:
            res["cat"] = "ok"
        peak = self.resource.getrusage(self.resource.RUSAGE_SELF).ru_maxrss * 1024
        if self.capped and peak - self.rss0 > self.cap:
            res.update(cat="unbounded", why=f"peak RSS grew by {(peak - self.rss0) >> 20} MiB")
            self.send({"t": "done", "result": res, "exit": True})
            sys.exit(0)
        if case.get("torch") and self.torch is not None and res["cat"] in (
                "ok", "clear error", "unclear error"):
            self.send({"t": "phase", "phase": "torch", "result": res})
            self.compare(run, err, res)
        # as tests/reliability/test_memory.py: growth means something where Python's own
        # allocator runs (tools/sanitize.sh turns it off, PYTHONMALLOC=malloc)
        if (case.get("leak") and res["cat"] in ("ok", "clear error", "unclear error")
                and sys.getallocatedblocks() > 0):
            self.send({"t": "phase", "phase": "leak", "result": res})
            self.leak_check(run, res)
        self.send({"t": "done", "result": res})

    def compare(self, run, err, res):
        import warnings
        self.reset()
        trun = Run(self, self.shim)
        lines = run.lines[:run.failed_line + 1] if err is not None else run.lines
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            terr = trun.exec_lines(lines)
        if err is not None:
            if terr is None:
                res["torch"] = "accepts"
                res["notes"].append("PyTorch runs this code without an error")
            else:
                res["torch"] = "refuses"
                res["torch_error"] = f"{type(terr).__name__}: {_short(str(terr), 160)}"
            return
        if terr is not None:
            res["torch"] = "refuses"
            res["torch_error"] = f"{type(terr).__name__}: {_short(str(terr), 160)}"
            return
        try:
            diffs = compare_namespaces(snapshot(run.ns, self.agx_tensor, _agx_numpy),
                                       snapshot(trun.ns, self.torch_tensor, _torch_numpy))
        except Exception as e:                      # a value the comparison cannot read
            res["notes"].append(f"not compared: {type(e).__name__}: {e}")
            return
        if diffs:
            res["torch"] = "differs"
            res.update(cat="wrong", why="disagrees with PyTorch", msg=_short("; ".join(diffs), 600))
        else:
            res["torch"] = "same"

    def agx_tensor(self, v):
        return isinstance(v, self.agx.Tensor)

    def torch_tensor(self, v):
        return isinstance(v, self.torch.Tensor)

    def leak_check(self, run, res):
        import gc
        import tracemalloc
        import warnings
        code = compile("\n".join(run.lines), "<case>", "exec")

        def once():
            ns = run.fresh_ns()
            try:
                exec(code, ns)
            except Exception:
                pass
            ns.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(3):
                once()
            gc.collect()
            tracemalloc.start()
            try:
                for _ in range(2):
                    once()
                gc.collect()
                sizes = [tracemalloc.get_traced_memory()[0]]
                for _ in range(2):
                    for _ in range(LEAK_REPEATS):
                        once()
                    gc.collect()
                    sizes.append(tracemalloc.get_traced_memory()[0])
            finally:
                tracemalloc.stop()
        grow = [b - a for a, b in zip(sizes, sizes[1:])]
        per_call = (sizes[-1] - sizes[0]) / (2 * LEAK_REPEATS)
        res["leak_bytes_per_call"] = round(per_call, 1)
        if all(g > LEAK_BYTES_PER_CALL * LEAK_REPEATS for g in grow):
            # a suspect: a cache that fills up (NumPy keeps some of 256 entries) stops
            # growing; a leak goes on over many more calls
            long = LEAK_REPEATS * 20
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tracemalloc.start()
                try:
                    gc.collect()
                    a = tracemalloc.get_traced_memory()[0]
                    for _ in range(long):
                        once()
                    gc.collect()
                    b = tracemalloc.get_traced_memory()[0]
                finally:
                    tracemalloc.stop()
            per_call = (b - a) / long
            res["leak_bytes_per_call"] = round(per_call, 1)
            if per_call > LEAK_BYTES_PER_CALL:
                res.update(cat="leak", why=f"traced memory grows {per_call:.0f} bytes a call "
                                           f"over {long} more calls")

    # -- classification

    def where(self, exc):
        frames = traceback.extract_tb(exc.__traceback__)
        if not frames:
            return "?"
        f = frames[-1]
        name = f.filename
        try:
            name = str(Path(name).resolve().relative_to(ROOT))
        except ValueError:
            name = re.sub(r".*/site-packages/", "", name)
        return f"{name}:{f.lineno}"

    def classify(self, exc):
        """``(category, reason)`` for an exception a case raised."""
        frames = traceback.extract_tb(exc.__traceback__)
        inner = frames[-1] if frames else None
        msg = str(exc)
        etype = type(exc)
        in_case = inner is not None and inner.filename == "<case>"
        if isinstance(exc, MemoryError):
            size = getattr(exc, "_total_size", None)
            if size is not None and size > self.cap:
                return "unclear error", "NumPy refused one allocation larger than the cap"
            return "unbounded", "MemoryError under the memory cap"
        if in_case and isinstance(exc, AssertionError):
            return "wrong", "the case's own check failed"
        if in_case and "sweep-deliberate" in msg:
            return "ok", "the exception raised on purpose reached the caller"
        if isinstance(exc, OSError) and getattr(exc, "filename", None) is not None:
            return "clear error", "the operating system's error, naming the file"
        if isinstance(exc, RecursionError):
            return "unclear error", "RecursionError"
        names = {c.__name__ for c in etype.__mro__ if c.__module__ == "builtins"}
        if not names & set(CLEAR_TYPES):
            return "unclear error", f"{etype.__name__} is not an error type a check raises"
        module = etype.__module__ or ""
        if module != "builtins" and not module.startswith("autogradx"):
            return "unclear error", f"an exception class of {module.split('.')[0]}"
        if any(p.search(msg) for p in RAW_MESSAGES):
            return "unclear error", "a NumPy or Python internals message"
        if in_case:
            if SIGNATURE_MESSAGES.search(msg):
                return "clear error", "Python's check of the call's arguments"
            return "unclear error", "raised by the calling line itself"
        if self._own_raise(inner):
            return "clear error", "raised by autogradx"
        if SIGNATURE_MESSAGES.search(msg):
            return "unclear error", "Python's complaint about an internal function's arguments"
        return "unclear error", "raised inside a call autogradx made (NumPy or Python)"

    def _own_raise(self, frame):
        path = Path(frame.filename)
        if not path.is_absolute():          # Cython names its sources from the package up
            path = self.pkg.parent / path
        try:
            path.resolve().relative_to(self.pkg)
        except ValueError:
            return False
        return _is_raise(str(path.resolve()), frame.lineno)

    def fresh_ns(self, lib):
        return {"__name__": "__sweep__", "np": self.np, "agx": lib}


class Run:
    """One run of a case's code (and of the lines its stage adds) in one namespace."""

    def __init__(self, worker, lib):
        self.worker, self.lib = worker, lib
        self.ns = self.fresh_ns()
        self.lines = []
        self.failed_line = None
        self.notes = []

    def fresh_ns(self):
        return self.worker.fresh_ns(self.lib)

    def exec_lines(self, lines):
        start = len(self.lines)
        new = "\n".join(lines).split("\n")
        self.lines += new
        try:
            code = compile("\n" * start + "\n".join(new), "<case>", "exec")
            exec(code, self.ns)
        except Exception as e:
            lineno = max((f.lineno for f in traceback.extract_tb(e.__traceback__)
                          if f.filename == "<case>"), default=len(self.lines))
            if isinstance(e, SyntaxError) and e.filename == "<case>":
                lineno = e.lineno or lineno
            self.failed_line = min(max(lineno - 1, 0), len(self.lines) - 1)
            return e
        return None

    def execute(self, case):
        err = self.exec_lines([case["code"]])
        stage = case.get("stage")
        if err is not None or not stage:
            return err
        try:
            lines = stage_lines(stage, self.ns, self.worker.agx_tensor, self.notes)
        except Exception:
            # reading the outputs failed: the line that reads them is the reproducer
            return self.exec_lines([PROBE])
        if not lines:
            return None
        err = self.exec_lines(lines)
        if err is None and stage == "double":
            try:
                more = second_derivative_lines(self.ns, self.worker.agx_tensor, self.notes)
            except Exception:
                return self.exec_lines([PROBE.replace("out", "g")])
            if more:
                err = self.exec_lines(more)
        return err

    def reproducer(self, err):
        lines = self.lines
        flat = not any(line[:1].isspace() for line in lines)
        if err is not None and flat and self.failed_line is not None:
            lines = lines[:self.failed_line + 1]
        return "\n".join(lines)


#: What the stages read of the outputs, as a line of the case when reading them fails.
PROBE = ("[(o.requires_grad, o.dtype, o.shape) for o in "
         "(out if isinstance(out, (tuple, list)) else [out])]")


def under_asan():
    """Whether this process runs with AddressSanitizer's runtime preloaded."""
    return "libasan" in os.environ.get("LD_PRELOAD", "")


def _status(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


_RAISE_CACHE = {}


def _is_raise(filename, lineno):
    """Whether line ``lineno`` of ``filename`` is part of a ``raise`` statement."""
    spans = _RAISE_CACHE.get(filename)
    if spans is None:
        try:
            text = Path(filename).read_text()
        except OSError:
            text = ""
        if filename.endswith(".py"):
            try:
                tree = ast.parse(text)
                spans = [(n.lineno, n.end_lineno, isinstance(n, ast.Raise))
                         for n in ast.walk(tree) if isinstance(n, ast.stmt)]
            except SyntaxError:
                spans = []
        else:
            spans = text.split("\n")      # Cython: read as text below
        _RAISE_CACHE[filename] = spans
    if filename.endswith(".py"):
        inner = [s for s in spans if s[0] <= lineno <= (s[1] or s[0])]
        return bool(inner) and max(inner, key=lambda s: (s[0], -(s[1] or s[0])))[2]
    lines = spans
    i = lineno - 1
    if not 0 <= i < len(lines):
        return False
    # the statement the line belongs to: the nearest line above (or this one) that is
    # less indented than every continuation line below it
    indent = len(lines[i]) - len(lines[i].lstrip())
    for j in range(i, max(i - 8, -1), -1):
        text = lines[j].strip()
        if not text:
            continue
        ind = len(lines[j]) - len(lines[j].lstrip())
        if j < i and ind >= indent:
            continue
        if text.startswith("raise ") or text == "raise":
            return True
        if j < i and ind < indent:
            indent = ind
            if not text.endswith(("(", ",", "[", "{", "\\")) and not text.startswith(("f\"", "\"", "f'", "'")):
                return False
    return False


def _short(text, n=300):
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[:n - 3] + "..."


# -- the lines a stage adds, written from what the code returned

def _outputs(out, is_tensor, path="out"):
    if is_tensor(out):
        return [(path, out)]
    if isinstance(out, (tuple, list)):
        found = []
        for i, v in enumerate(out):
            found += _outputs(v, is_tensor, f"{path}[{i}]")
        return found
    return []


def _backward_of(items, extra=""):
    """Backward of the sum of ``items`` (complex ones: with a gradient of ones, as a
    real loss such as ``abs`` would test its own vjp too)."""
    if any(t.dtype.is_complex for _, t in items):
        paths = ", ".join(p for p, _ in items)
        ones = ", ".join(f"agx.ones_like({p})" for p, _ in items)
        return f"agx.autograd.backward([{paths}], [{ones}]{extra})"
    return f"({_summed(items)}).backward({extra.lstrip(', ')})"


def _summed(items):
    return " + ".join(f"{p}.sum()" for p, _ in items)


def stage_lines(stage, ns, is_tensor, notes):
    outs = [(p, t) for p, t in _outputs(ns.get("out"), is_tensor)
            if t.requires_grad and (t.dtype.is_floating_point or t.dtype.is_complex)]
    if not outs:
        notes.append("no output requires grad: no backward")
        return []
    total = _summed(outs)
    p, t = outs[0]
    shape = tuple(t.shape)
    dname = f"agx.{t.dtype.name}" if hasattr(t.dtype, "name") else "None"
    complex_ = any(t.dtype.is_complex for _, t in outs)
    if stage == "sum":
        return [_backward_of(outs)]
    if stage == "double":
        leaves = _leaves(ns, is_tensor)
        if not leaves or complex_:
            notes.append("complex outputs: no second derivative" if leaves else
                         "no leaf requires grad")
            return []
        return [f"g = agx.autograd.grad({total}, [{', '.join(leaves)}], create_graph=True, "
                f"allow_unused=True)"]
    if stage == "bw:twice":
        return [_backward_of(outs, ", retain_graph=False"), _backward_of(outs)]
    grads = {
        "bw:none": None,
        "bw:shape": f"agx.ones({shape + (2,)!r}, dtype={dname})",
        "bw:broadcastable": f"agx.ones({(1,) if t.ndim == 0 else ()!r}, dtype={dname})",
        "bw:int": f"agx.ones({shape!r}, dtype=agx.int64)",
        "bw:other-float": f"agx.ones({shape!r}, dtype=agx."
                          f"{'float32' if t.dtype.name == 'float64' else 'float64'})",
        "bw:list": f"np.ones({shape!r}).tolist()",
        "bw:ndarray": f"np.ones({shape!r})",
        "bw:nan": f"agx.full({shape!r}, float('nan'), dtype={dname})",
        "bw:requires-grad": f"agx.ones({shape!r}, dtype={dname}, requires_grad=True)",
    }
    g = grads[stage]
    return [f"{p}.backward()" if g is None else f"{p}.backward({g})"]


def _leaves(ns, is_tensor):
    names = [n for n, v in ns.items() if re.fullmatch(r"a\d+", n) and is_tensor(v)
             and v.is_leaf and v.requires_grad]
    return sorted(names, key=lambda n: int(n[1:]))


def second_derivative_lines(ns, is_tensor, notes):
    g = ns.get("g")
    leaves = _leaves(ns, is_tensor)
    if not isinstance(g, tuple):
        return []
    items = [(f"g[{i}]", t) for i, t in enumerate(g) if is_tensor(t) and t.requires_grad]
    if not items:
        notes.append("the first derivatives do not require grad: no second derivative")
        return []
    return [f"gg = agx.autograd.grad({_summed(items)}, [{', '.join(leaves)}], allow_unused=True)"]


# -- PyTorch's side

class TorchShim:
    """``torch`` for the case code, but ``tensor``/``from_numpy``/``as_tensor`` take
    native-endian, contiguous, writable copies of NumPy arrays: PyTorch refuses negative
    strides and big-endian arrays, and the comparison is about the values."""

    def __init__(self, torch, np):
        self._torch, self._np = torch, np

    def __getattr__(self, name):
        return getattr(self._torch, name)

    def _native(self, a):
        np = self._np
        if isinstance(a, np.ndarray) and a.dtype.kind in "biufc":
            return np.array(a, dtype=a.dtype.newbyteorder("="), order="C", copy=True)
        return a

    def tensor(self, data, *args, **kwargs):
        return self._torch.tensor(self._native(data), *args, **kwargs)

    def from_numpy(self, a):
        return self._torch.from_numpy(self._native(a))

    def as_tensor(self, data, *args, **kwargs):
        return self._torch.as_tensor(self._native(data), *args, **kwargs)


def _agx_numpy(t):
    import numpy as np
    return np.array(t.detach().numpy(), copy=True)


def _torch_numpy(t):
    return t.detach().cpu().resolve_conj().resolve_neg().numpy().copy()


def snapshot(ns, is_tensor, to_numpy):
    return {name: _snap(v, is_tensor, to_numpy) for name, v in ns.items()
            if COMPARED.match(name)}


def _snap(v, is_tensor, to_numpy, depth=0):
    import numpy as np
    if is_tensor(v):
        d = {"shape": tuple(v.shape), "dtype": str(v.dtype), "value": to_numpy(v)}
        if v.is_leaf and v.requires_grad:
            d["grad"] = None if v.grad is None else _snap(v.grad, is_tensor, to_numpy, depth + 1)
        return ("tensor", d)
    if isinstance(v, (tuple, list)) and depth < 4:
        return ("seq", [_snap(x, is_tensor, to_numpy, depth + 1) for x in v])
    if isinstance(v, (bool, int, float, complex, str, np.generic)) or v is None:
        return ("value", v)
    return ("other", type(v).__name__)


def compare_namespaces(a, b):
    diffs = []
    for name in sorted(set(a) & set(b)):
        _compare(name, a[name], b[name], diffs)
    return diffs


def _compare(path, x, y, diffs):
    import numpy as np
    if x[0] != y[0]:
        diffs.append(f"{path}: a {x[0]} here, a {y[0]} in PyTorch")
        return
    kind = x[0]
    if kind == "seq":
        if len(x[1]) != len(y[1]):
            diffs.append(f"{path}: {len(x[1])} items, PyTorch {len(y[1])}")
            return
        for i, (p, q) in enumerate(zip(x[1], y[1])):
            _compare(f"{path}[{i}]", p, q, diffs)
        return
    if kind == "value":
        p, q = x[1], y[1]
        if isinstance(p, (float, complex, np.floating)) and isinstance(q, (float, complex, np.floating)):
            if not np.allclose(p, q, rtol=1e-6, atol=1e-9, equal_nan=True):
                diffs.append(f"{path}: {p!r}, PyTorch {q!r}")
        elif p != q and not (p is None and q is None):
            diffs.append(f"{path}: {p!r}, PyTorch {q!r}")
        return
    if kind == "other":
        return
    p, q = x[1], y[1]
    if p["shape"] != q["shape"]:
        diffs.append(f"{path}: shape {p['shape']}, PyTorch {q['shape']}")
        return
    if p["dtype"] != q["dtype"]:
        diffs.append(f"{path}: dtype {p['dtype']}, PyTorch {q['dtype']}")
    else:
        u, v = p["value"], q["value"]
        bad = _mismatch(u, v, p["dtype"].rpartition(".")[2])
        if bad.any():
            diffs.append(f"{path}: values differ from PyTorch's ({_first_difference(u, v, bad)})")
    if path in ("out", "g", "gg") or path.startswith(("out[", "g[", "gg[")):
        return                  # results, not leaves: PyTorch's x.contiguous() is x itself
    if "grad" in p or "grad" in q:
        gp, gq = p.get("grad"), q.get("grad")
        if (gp is None) != (gq is None):
            other = gq if gp is None else gp
            if other is not None and other[0] == "tensor" and not np.any(other[1]["value"]):
                return          # None and a gradient of zeros: the same gradient
            diffs.append(f"{path}.grad: {'None' if gp is None else 'a tensor'}, PyTorch "
                         f"{'None' if gq is None else 'a tensor'}")
        elif gp is not None:
            _compare(f"{path}.grad", gp, gq, diffs)


def _mismatch(u, v, dtype_name):
    """Where ``u`` and ``v`` disagree. Where both overflowed (inf, NaN, or beyond a
    millionth of the dtype's largest value: a sixty-fourth for float16) the order of a
    sum decides between them, and they count as agreeing."""
    import numpy as np
    if u.dtype.kind not in "fc":
        return np.atleast_1d(u != v)
    rtol, atol = TOLERANCES.get(dtype_name, (1e-6, 1e-8))
    with np.errstate(all="ignore"):
        bad = ~np.isclose(u, v, rtol=rtol, atol=atol, equal_nan=True)
        top = np.finfo(u.dtype).max / (1e6 if u.dtype.itemsize >= 4 else 64)

        def wild(a):
            return ~np.isfinite(a) | (np.abs(a) > top)
        bad &= ~(wild(u) & wild(v))
    return np.atleast_1d(bad)


def _first_difference(u, v, bad):
    import numpy as np
    if u.ndim == 0:
        return f"{u.item()!r} vs {v.item()!r}"
    idx = tuple(int(i[0]) for i in np.nonzero(bad))
    return f"{int(bad.sum())} of {bad.size} differ; at {idx}: {u[idx].item()!r} vs {v[idx].item()!r}"


# =============================================================== the supervisor

class Proc:
    """A worker process as the supervisor sees it."""

    def __init__(self, opts, torch):
        self.err = tempfile.TemporaryFile()
        cmd = [sys.executable, str(HERE), "--worker", "--mem-cap-mb", str(opts.mem_cap_mb)]
        if torch:
            cmd.append("--with-torch")
        import autogradx
        # the worker imports the autogradx this process imported (a sanitizer build's
        # scratch copy, say), not whatever its own sys.path would find first
        where = str(Path(autogradx.__file__).resolve().parents[1])
        path = os.pathsep.join(filter(None, [where, os.environ.get("PYTHONPATH")]))
        self.expected = str(Path(autogradx.__file__).resolve())
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                   MKL_NUM_THREADS="1", PYTHONWARNINGS="ignore", PYTHONPATH=path)
        if "ASAN_OPTIONS" in env or under_asan():
            # the calls ask for impossible sizes on purpose: under ASan, as without it,
            # malloc then fails (NumPy raises MemoryError) instead of ending the process
            env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"),
                                                         "allocator_may_return_null=1"]))
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self.err, env=env)
        self.buf = b""
        self.ready = False
        self.case = None            # index of the case in flight
        self.phase = None
        self.partial = None
        self.history = []           # indices of the cases this process finished
        self.deadline = time.monotonic() + 120
        self.err_at = 0
        self.killed = False

    def send(self, index, case, timeout):
        self.case, self.phase, self.partial = index, "agx", None
        self.err.seek(0, 2)
        self.err_at = self.err.tell()
        self.deadline = time.monotonic() + timeout
        self.sent = time.monotonic()
        self.p.stdin.write((json.dumps(case) + "\n").encode())
        self.p.stdin.flush()

    def stderr_tail(self, n=1500):
        self.err.seek(self.err_at)
        text = self.err.read().decode(errors="replace")
        return text[-n:]

    def stop(self):
        if self.p.poll() is None:
            self.killed = True
            self.p.kill()
        self.p.wait()
        for f in (self.p.stdin, self.p.stdout):
            try:
                f.close()
            except OSError:
                pass
        self.err.close()


def drive(cases, opts, *, workers, torch, progress=False):
    """Run ``cases`` on ``workers`` worker processes; returns ``(results, histories)``:
    a result per case, in order, and for each crash or hang the indices of the cases the
    worker ran before it."""
    results = [None] * len(cases)
    before = {}
    queue = collections.deque(range(len(cases)))
    sel = selectors.DefaultSelector()
    procs = []

    def start():
        w = Proc(opts, torch)
        os.set_blocking(w.p.stdout.fileno(), False)
        sel.register(w.p.stdout, selectors.EVENT_READ, w)
        procs.append(w)
        return w

    def retire(w, result=None):
        """Stop ``w``; ``result`` is what its call in flight came to."""
        sel.unregister(w.p.stdout)
        procs.remove(w)
        if result is not None and w.case is not None:
            results[w.case] = result
            before[w.case] = list(w.history[-200:])
        w.stop()

    last = time.monotonic()
    while queue or any(w.case is not None for w in procs):
        busy = sum(w.case is not None for w in procs)
        while len(procs) < min(workers, len(queue) + busy):
            start()     # at the start, and in place of a worker that died or hung
        for w in list(procs):
            if w.ready and w.case is None and queue:
                i = queue.popleft()
                try:
                    w.send(i, cases[i], opts.timeout)
                except OSError:         # it died between two calls: the next one starts
                    queue.appendleft(i)
                    w.case = None
                    retire(w)
        for key, _ in sel.select(timeout=0.2):
            w = key.data
            try:
                data = os.read(w.p.stdout.fileno(), 1 << 16)
            except BlockingIOError:
                continue
            if not data:
                _died(w, cases, retire)
                continue
            w.buf += data
            while b"\n" in w.buf:
                line, w.buf = w.buf.split(b"\n", 1)
                msg = json.loads(line)
                if msg["t"] == "ready":
                    if msg["autogradx"] != w.expected:
                        raise RuntimeError(f"a sweep worker imported {msg['autogradx']}, not "
                                           f"{w.expected}")
                    w.ready = True
                elif msg["t"] == "phase":
                    w.phase, w.partial = msg["phase"], msg["result"]
                    scale = 3 if w.phase == "leak" else 1
                    w.deadline = time.monotonic() + opts.timeout * scale
                elif msg["t"] == "done":
                    results[w.case] = msg["result"]
                    results[w.case]["wall"] = round(time.monotonic() - w.sent, 4)
                    w.history.append(w.case)
                    w.case = None
                    if msg.get("exit"):     # its peak RSS passed the cap: a fresh one
                        retire(w)
                        break
        now = time.monotonic()
        for w in list(procs):
            if now > w.deadline and (w.case is not None or not w.ready):
                _hung(w, cases, retire, opts)
        if progress and now - last > 10:
            last = now
            counts = collections.Counter(r["cat"] for r in results if r)
            print(f"  {sum(counts.values())}/{len(cases)} calls: "
                  + ", ".join(f"{c} {counts[c]}" for c in CATEGORIES if counts[c]),
                  file=sys.stderr, flush=True)
    for w in list(procs):
        sel.unregister(w.p.stdout)
        w.stop()
    return results, before


def _died(w, cases, retire):
    rc = w.p.wait()
    tail = w.stderr_tail()
    if w.case is None:
        if not w.ready:
            raise RuntimeError(f"a sweep worker failed to start (status {rc}):\n{tail}")
        retire(w)
        return
    case = cases[w.case]
    if w.phase == "torch" and w.partial:
        res = dict(w.partial)
        res["notes"] = res.get("notes", []) + [f"PyTorch's run of the same code killed the "
                                               f"worker (status {rc})"]
        res["torch"] = "crashed"
    else:
        sig = _signal_name(rc)
        res = {"id": case["id"], "code": (w.partial or {}).get("code", case["code"]),
               "notes": [], "etype": sig, "msg": _crash_summary(tail), "stderr": tail}
        if rc == -signal.SIGKILL or "MemoryError" in tail:
            res.update(cat="unbounded", why=f"the worker died of memory ({sig})")
        else:
            res.update(cat="crash", why=f"the worker died: {sig}")
        if w.phase == "leak":
            res["notes"].append("during the leak check's repetitions")
    retire(w, res)


def _hung(w, cases, retire, opts):
    if not w.ready:
        raise RuntimeError("a sweep worker did not start within 120 s:\n" + w.stderr_tail())
    try:
        os.kill(w.p.pid, signal.SIGUSR1)     # faulthandler: where every thread is
        time.sleep(0.5)
    except ProcessLookupError:
        pass
    tail = w.stderr_tail(3000)
    case = cases[w.case]
    if w.phase == "torch" and w.partial:
        res = dict(w.partial)
        res["notes"] = res.get("notes", []) + ["PyTorch's run of the same code timed out"]
        res["torch"] = "hung"
    else:
        res = {"id": case["id"], "code": case["code"], "notes": [], "cat": "hang",
               "why": f"no answer in {opts.timeout * (3 if w.phase == 'leak' else 1):g} s",
               "etype": "timeout", "msg": _hang_summary(tail), "stderr": tail}
        if w.phase == "leak":
            res["notes"].append("during the leak check's repetitions")
    retire(w, res)


def _signal_name(rc):
    if rc is not None and rc < 0:
        try:
            return signal.Signals(-rc).name
        except ValueError:
            return f"signal {-rc}"
    return f"exit status {rc}"


def _crash_summary(tail):
    lines = [ln.strip() for ln in tail.splitlines() if ln.strip()]
    fatal = [ln for ln in lines if ln.startswith(("Fatal Python error", "Segmentation", "Aborted",
                                                   "python3:", "Assertion"))]
    frames = [ln for ln in lines if ln.startswith("File ")]
    head = fatal[0] if fatal else (lines[-1] if lines else "no output")
    return _short(head + (f" (innermost: {frames[0]})" if frames else ""), 400)


def _hang_summary(tail):
    frames = [ln.strip() for ln in tail.splitlines() if ln.strip().startswith("File ")]
    return _short("stack: " + " <- ".join(frames[:4]) if frames else "no stack dumped", 400)


def confirm(cases, results, before, opts):
    """Rerun each crash and hang alone, then after the calls its worker ran before it."""
    for i, res in enumerate(results):
        if res is None or res["cat"] not in ("crash", "hang", "unbounded") or res.get("confirmed"):
            continue
        if res["cat"] == "unbounded" and "why" in res and "MemoryError" in res["why"]:
            continue
        alone, _ = drive([cases[i]], _longer(opts), workers=1, torch=False)
        res["confirmed"] = True
        if alone[0]["cat"] == res["cat"]:
            res["notes"].append("reproduced alone in a fresh process")
            continue
        history = [j for j in before.get(i, [])]
        seq = [cases[j] for j in history] + [cases[i]]
        found = None
        if history:
            again, _ = drive(seq, _longer(opts), workers=1, torch=False)
            if again[-1] and again[-1]["cat"] == res["cat"]:
                found = _shortest_prefix(history, cases, i, res["cat"], opts)
        if found is not None:
            res["notes"].append(f"reproduced only after {len(found)} earlier call(s) in the same "
                                f"process, from {cases[found[0]]['id']}")
            res["after"] = [cases[j]["id"] for j in found]
        else:
            res["notes"].append(f"did not reproduce alone ({alone[0]['cat']}) nor after the "
                                f"calls before it")
            if res["cat"] == "hang":
                res["notes"].append(f"finished alone in {alone[0].get('seconds', '?')} s: "
                                    "slow under load, not a hang")
                keep = {k: res[k] for k in ("notes",)}
                res.clear()
                res.update(alone[0])
                res["notes"] = alone[0].get("notes", []) + keep["notes"]
                res["confirmed"] = True


def _longer(opts):
    o = argparse.Namespace(**vars(opts))
    o.timeout = opts.timeout * 3
    return o


def _shortest_prefix(history, cases, i, cat, opts):
    """The shortest run of the calls just before ``i`` after which it still fails."""
    lo, hi = 0, len(history)        # history[lo:] reproduces; find the largest such lo
    best = list(history)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        seq = [cases[j] for j in history[mid:]] + [cases[i]]
        again, _ = drive(seq, _longer(opts), workers=1, torch=False)
        if again[-1] and again[-1]["cat"] == cat:
            lo = mid
            best = history[mid:]
        else:
            hi = mid
    return best


# =============================================================== building and reporting

def build_cases(opts, registry, accepted):
    import sweep_cases
    torch_names = _torch_names() if opts.torch else None
    cases = sweep_cases.op_cases(registry, seed=opts.seed,
                                 samples_per_op=1 if opts.quick else 2,
                                 torch_names=torch_names, accepted_dtypes=accepted,
                                 leak_rate=0 if opts.quick else opts.leak_rate)
    if opts.quick:
        cases = quick_subset(cases, opts.seed)
    return cases


def quick_subset(cases, seed, per_op=24):
    """A deterministic part of each op's cases: its base call, its finite-difference
    check, and ``per_op`` others drawn with ``seed``."""
    import random
    by_op = collections.defaultdict(list)
    for c in cases:
        by_op[c["op"]].append(c)
    out = []
    for op, items in by_op.items():
        keep = [c for c in items if c["kind"] in ("base", "fd")]
        rest = [c for c in items if c["kind"] not in ("base", "fd")]
        rng = random.Random(f"{seed}/{op}")
        keep += rng.sample(rest, min(per_op, len(rest)))
        out += sorted(keep, key=items.index)
    return out


def sample_cases(seed=0, per_op=6, n_api=80):
    """The deterministic sample the test suite runs: ``per_op`` calls of every op drawn
    with ``seed`` from its cases (first sample only) and ``n_api`` API calls, without
    PyTorch and without leak checks."""
    import random
    if str(HERE.parent) not in sys.path:
        sys.path.insert(0, str(HERE.parent))
    import sweep_cases
    from autogradx._registry import REGISTRY
    registry = REGISTRY.load()
    rng = random.Random(seed)
    by_op = collections.defaultdict(list)
    for c in sweep_cases.op_cases(registry, seed=seed, samples_per_op=1, leak_rate=0):
        by_op[c["op"]].append(c)
    picked = []
    for op in sorted(by_op):
        picked += rng.sample(by_op[op], min(per_op, len(by_op[op])))
    api = sweep_cases.api_cases()
    picked += rng.sample(api, min(n_api, len(api)))
    for c in picked:
        c["torch"] = False
        c["leak"] = False
    return picked


def cases_by_id(ids, seed=0):
    """The cases of the full sweep (seed ``seed``) with these ids, in that order."""
    if str(HERE.parent) not in sys.path:
        sys.path.insert(0, str(HERE.parent))
    import sweep_cases
    from autogradx._registry import REGISTRY
    wanted = set(ids)
    found = {c["id"]: c for c in sweep_cases.op_cases(REGISTRY.load(), seed=seed, leak_rate=0)
             + sweep_cases.api_cases() if c["id"] in wanted}
    return [found[i] for i in ids]


def options(**kw):
    """The command line's options, for running the machinery from Python."""
    opts = parse([])
    for k, v in kw.items():
        setattr(opts, k, v)
    return opts


def _torch_names():
    try:
        import torch
        import torch.linalg  # noqa: F401
        import torch.nn.functional  # noqa: F401
    except ImportError:
        return None
    names = set()
    for prefix, mod in (("", torch), ("linalg.", torch.linalg),
                        ("nn.functional.", torch.nn.functional)):
        names.update(prefix + n for n in dir(mod))
    return names


def family_of(res, by_id):
    return by_id[res["id"]]["family"]


def normalise(msg):
    msg = re.sub(r"0x[0-9a-f]+", "0x…", msg or "")
    msg = re.sub(r"-?\d+(\.\d+)?(e[-+]?\d+)?", "N", msg)
    msg = re.sub(r"\(N(, N)*,?\)", "(shape)", msg)
    return msg[:160]


def report(results, cases, meta, *, out=sys.stdout):
    by_id = {c["id"]: c for c in cases}
    counts = collections.Counter(r["cat"] for r in results)
    w = out.write
    w(f"\nautogradx sweep: {meta['tried']} calls, seed {meta['seed']}"
      f"{' (quick)' if meta['quick'] else ''}, {meta['seconds']:.0f} s with {meta['workers']} "
      f"workers, PyTorch {meta['torch'] or 'not used'}\n")
    w(f"commit {meta['commit']}, {meta['date']}, {meta['machine']}\n\n")
    w(f"tried: {len(results)}  " + "  ".join(f"{c}: {counts[c]}" for c in CATEGORIES) + "\n\n")
    fams = collections.defaultdict(collections.Counter)
    for r in results:
        fams[family_of(r, by_id)][r["cat"]] += 1
    short = {"clear error": "clear", "unclear error": "unclear"}
    head = ["family", "tried"] + [short.get(c, c) for c in CATEGORIES]
    rows = [[f, str(sum(c.values()))] + [str(c[k]) for k in CATEGORIES]
            for f, c in sorted(fams.items())]
    rows.append(["all", str(len(results))] + [str(counts[k]) for k in CATEGORIES])
    widths = [max(len(x[i]) for x in rows + [head]) for i in range(len(head))]
    for row in [head] + rows:
        w("  ".join(x.ljust(widths[i]) if i == 0 else x.rjust(widths[i])
                    for i, x in enumerate(row)) + "\n")
    for cat in FINDINGS:
        found = [r for r in results if r["cat"] == cat]
        if not found:
            continue
        groups = collections.defaultdict(list)
        for r in found:
            groups[_finding_key(r, by_id)].append(r)
        w(f"\n== {cat}: {len(found)} calls in {len(groups)} kinds\n")
        for key, rs in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            ops = sorted({by_id[r['id']]['op'] or by_id[r['id']]['family'] for r in rs})
            if len(rs) > 1:
                w(f"\n  {len(rs)} calls like this one, {len(ops)} ops/APIs: {', '.join(ops[:12])}"
                  f"{' ...' if len(ops) > 12 else ''}")
            _finding(w, rs[0])
    unclear = [r for r in results if r["cat"] == "unclear error"]
    if unclear:
        groups = collections.defaultdict(list)
        for r in unclear:
            groups[(r.get("etype"), normalise(r.get("msg")))].append(r)
        w(f"\n== unclear errors: {len(unclear)} in {len(groups)} kinds; the most common\n")
        for (etype, _), rs in sorted(groups.items(), key=lambda kv: -len(kv[1]))[:15]:
            ops = sorted({by_id[r['id']]['op'] or by_id[r['id']]['family'] for r in rs})
            w(f"\n  {len(rs)} x {etype}: {rs[0].get('msg')}\n"
              f"    ({rs[0].get('why')}; at {rs[0].get('where')}; {len(ops)} ops/APIs: "
              f"{', '.join(ops[:8])}{' ...' if len(ops) > 8 else ''})\n")
            w(_indent(rs[0]["code"], "    | ") + "\n")
    accepts = [r for r in results if r.get("torch") == "accepts"]
    refuses = [r for r in results if r.get("torch") == "refuses" and r["cat"] == "ok"]
    w(f"\n== against PyTorch: {sum(r.get('torch') == 'same' for r in results)} calls agree, "
      f"{len(accepts)} errors where PyTorch runs the code, {len(refuses)} calls that run where "
      f"PyTorch raises\n")
    for title, rs in (("errors where PyTorch runs the code", accepts),
                      ("runs where PyTorch raises", refuses)):
        kinds = collections.Counter(by_id[r["id"]]["kind"] for r in rs)
        if rs:
            w(f"  {title}, by kind of call: "
              + ", ".join(f"{k} {n}" for k, n in kinds.most_common()) + "\n")
    warned = collections.Counter(normalise(x) for r in results for x in r.get("warnings", []))
    if warned:
        w(f"\n== warnings ({sum(warned.values())} in {sum(bool(r.get('warnings')) for r in results)}"
          " calls), the most common\n")
        for text, n in warned.most_common(8):
            w(f"  {n} x {text}\n")
    slow = sorted(results, key=lambda r: -r.get("seconds", 0))[:5]
    w("\n== slowest calls: " + ", ".join(f"{r['id']} {r.get('seconds', 0):.2f} s" for r in slow)
      + "\n")


def _finding_key(r, by_id):
    """Findings of one kind: the same variant of a call, the same sort of difference."""
    detail = r["id"].split("/", 2)[-1] if by_id[r["id"]]["op"] else r["id"]
    detail = re.sub(r"^s\d+/", "", detail)
    detail = re.sub(r"^dtype:([a-z]+)\d+$", r"dtype:\1", detail)   # complex64 and 128 alike
    if detail.startswith("constructors/probe-"):                     # one per constructor
        return (detail.rpartition("-")[0], r["cat"])
    if r["cat"] == "wrong":
        parts = sorted({re.sub(r"\(.*", "", p).strip() for p in (r.get("msg") or "").split("; ")})
        return (detail, "; ".join(parts))
    return (detail, r.get("etype", ""), normalise(r.get("msg")))


def _finding(w, r):
    w(f"\n  {r['id']}: {r.get('etype', '')} {r.get('msg', '')}\n    ({r.get('why', '')}"
      + (f"; {'; '.join(r['notes'])}" if r.get("notes") else "") + ")\n")
    w(_indent(r.get("code", ""), "    | ") + "\n")


def _indent(text, prefix):
    return "\n".join(prefix + line for line in text.split("\n"))


def _commit():
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--",
                                "autogradx", "tools"], capture_output=True, text=True).stdout
        return head + (" (with uncommitted changes)" if dirty.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _machine():
    cpus = os.cpu_count()
    mem = _meminfo()
    return (f"{platform.system()} {platform.machine()}, {cpus} cores"
            + (f", {mem} GiB" if mem else "") + f", Python {platform.python_version()}")


def _meminfo():
    try:
        with open("/proc/meminfo") as fh:
            return round(int(fh.readline().split()[1]) / 2**20)
    except OSError:
        return None


def run_sweep(opts):
    sys.path.insert(0, str(HERE.parent))
    import numpy as np
    import sweep_cases
    import autogradx
    from autogradx._registry import REGISTRY
    registry = REGISTRY.load()
    t0 = time.monotonic()
    torch_version = None
    if opts.torch:
        try:
            import torch
            torch_version = torch.__version__
        except ImportError:
            opts.torch = False
    api = sweep_cases.api_cases()
    chosen = _chooser(opts.only)
    api = [c for c in api if chosen(c["id"])]
    print(f"sweep: {len(api)} API calls ...", file=sys.stderr, flush=True)
    api_results, api_before = drive(api, opts, workers=opts.workers, torch=opts.torch,
                                    progress=True)
    accepted = {}
    for c, r in zip(api, api_results):
        m = re.fullmatch(r"constructors/probe-(tensor|from_numpy|as_tensor)-(\w+)", c["id"])
        # "wrong": the constructor took the array but made a tensor of no autogradx dtype
        if m and r["cat"] in ("ok", "wrong") and m.group(2) not in accepted:
            accepted[m.group(2)] = m.group(1)
    cases = [c for c in build_cases(opts, registry, accepted) if chosen(c["id"])]
    print(f"sweep: {len(cases)} op calls over {len({c['op'] for c in cases})} ops "
          f"(NumPy dtypes a constructor accepts: {', '.join(sorted(accepted)) or 'none'}) ...",
          file=sys.stderr, flush=True)
    op_results, op_before = drive(cases, opts, workers=opts.workers, torch=opts.torch,
                                  progress=True)
    all_cases = api + cases
    results = api_results + op_results
    before = dict(api_before)
    before.update({k + len(api): [j + len(api) for j in v] for k, v in op_before.items()})
    confirm(all_cases, results, before, opts)
    meta = {
        "tried": len(results), "seed": opts.seed, "quick": opts.quick,
        "seconds": time.monotonic() - t0, "workers": opts.workers, "torch": torch_version,
        "commit": _commit(), "date": datetime.date.today().isoformat(),
        "machine": _machine(), "numpy": np.__version__, "autogradx": autogradx.__version__,
        "timeout": opts.timeout, "mem_cap_mb": opts.mem_cap_mb,
        "ops": len({c["op"] for c in cases}),
        "counts": dict(collections.Counter(r["cat"] for r in results)),
    }
    report(results, all_cases, meta)
    if opts.json:
        by_id = {c["id"]: c for c in all_cases}
        for r in results:
            c = by_id[r["id"]]
            r.update(op=c["op"], family=c["family"], kind=c["kind"])
        with open(opts.json, "w") as fh:
            json.dump({"meta": meta, "results": results}, fh, indent=1, default=str)
    bad = sum(r["cat"] in ("crash", "hang", "unbounded") for r in results)
    return 1 if bad else 0


def _chooser(only):
    """Which call ids ``--only`` keeps: the id itself, or those the regex finds."""
    if not only:
        return lambda cid: True
    try:
        pattern = re.compile(only)
    except re.error:            # an id such as repeat/s0/arg:arg1[-1]=2**62
        pattern = None
    return lambda cid: cid == only or (pattern is not None and bool(pattern.search(cid)))


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="one sample per op and a seeded part of its calls (about a minute)")
    p.add_argument("--seed", type=int, default=0, help="seeds the values and the quick subset")
    p.add_argument("--json", help="write every result to this file")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--timeout", type=float, default=10.0,
                   help="seconds a call may take before it counts as a hang (default 10)")
    p.add_argument("--mem-cap-mb", type=int, default=1024,
                   help="memory a worker may take beyond its imports (default 1024)")
    p.add_argument("--no-torch", dest="torch", action="store_false",
                   help="do not compare with PyTorch")
    p.add_argument("--leak-rate", type=float, default=0.02,
                   help="share of the other calls whose memory is checked for leaks "
                        "(each op's base call always is; default 0.02)")
    p.add_argument("--only", help="run only the call with this id, or those whose id matches "
                                  "this regex")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--with-torch", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None):
    opts = parse(argv)
    if opts.worker:
        Worker(opts).serve()
        return 0
    return run_sweep(opts)


if __name__ == "__main__":
    sys.exit(main())
