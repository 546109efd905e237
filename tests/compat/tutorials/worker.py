"""Run tutorial programs under one library and record what each prints.

    python worker.py torch|autogradx PROGRAM_DIR OUT_JSON NAME...

With ``autogradx``, the name ``torch`` and its submodules (``torch.nn``,
``torch.nn.functional``, ``torch.optim``, ``torch.autograd``, ``torch.utils``...) are
bound to autogradx's modules in ``sys.modules`` before any program runs, so a program's
``import torch`` imports autogradx; its text is not touched. A ``torch.X`` that autogradx
lacks fails to import, as it would for a user.

The runner's one intervention, the same under both libraries: randomness. PyTorch and
autogradx draw from different generators, so before each program this module seeds
Python's ``random``, NumPy's global generator and the library's own (``manual_seed``),
and replaces the library's random factories (``rand``, ``randn``, ``randint``,
``rand_like``, ``randn_like``), ``nn.init``'s random fills (``uniform_``, ``normal_``,
``kaiming_uniform_``, which ``nn.Linear``, ``nn.Conv2d`` and ``nn.Embedding`` initialise
with) and ``nn.functional.dropout`` (which ``nn.Dropout`` calls: a drawn mask, then
``input * mask / (1 - p)``) by ones that draw from one NumPy generator seeded alike and
convert to the library's tensor; the program's own ``manual_seed(s)`` reseeds that
generator with ``s``. The worker runs with ``PYTHONHASHSEED=0``, so that a set of strings
iterates in the same order in both runs (and with one thread, ``OMP_NUM_THREADS=1``). ``empty`` and ``empty_like`` return zeros:
uninitialised memory has no defined value to compare.

Everything a program prints goes to its record; each program runs in a fresh namespace
(``runpy``) in this one process, so the library is imported once.
"""

import contextlib
import importlib
import io
import json
import math
import os
import pkgutil
import random
import runpy
import sys
import time

import numpy as np

SEED = 0


def import_library(name):
    """The module the programs will get as ``torch``."""
    if name == "torch":
        return importlib.import_module("torch")
    import autogradx
    # Import every submodule first, so that each has one module object, bound under
    # both names (importing torch.nn.functional later would otherwise load a second copy).
    for info in pkgutil.walk_packages(autogradx.__path__, "autogradx."):
        if info.name.endswith("__main__"):
            continue
        try:
            importlib.import_module(info.name)
        except ImportError:
            pass  # an optional dependency (CuPy, graphviz) that is not installed
    for module_name, module in list(sys.modules.items()):
        if module_name == "autogradx" or module_name.startswith("autogradx."):
            sys.modules["torch" + module_name[len("autogradx"):]] = module
    return autogradx


def _shape(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return tuple(size[0])
    return tuple(size)


class SharedDraws:
    """The random factories of ``lib``, drawing from one NumPy generator."""

    def __init__(self, lib):
        self.lib = lib
        self._manual_seed = lib.manual_seed
        self.rng = np.random.Generator(np.random.PCG64(SEED))

    def manual_seed(self, seed):
        """Reseed the shared draws too, so that a program that reseeds repeats its draws."""
        self.rng = np.random.Generator(np.random.PCG64(seed))
        return self._manual_seed(seed)

    def _tensor(self, values, dtype, device, requires_grad, out=None):
        if out is not None:
            return self._fill(out, values)
        tensor = self.lib.tensor(values, dtype=dtype, device=device)
        return tensor.requires_grad_() if requires_grad else tensor

    def _float(self, dtype):
        return self.lib.get_default_dtype() if dtype is None else dtype

    def rand(self, *size, out=None, dtype=None, device=None, requires_grad=False, **_):
        return self._tensor(self.rng.random(_shape(size)), self._float(dtype), device,
                            requires_grad, out)

    def randn(self, *size, out=None, dtype=None, device=None, requires_grad=False, **_):
        return self._tensor(self.rng.standard_normal(_shape(size)), self._float(dtype),
                            device, requires_grad, out)

    def randint(self, *args, size=None, out=None, dtype=None, device=None,
                requires_grad=False, **_):
        args = list(args)
        if size is None:
            size = args.pop()
        low, high = (0, args[0]) if len(args) == 1 else args
        return self._tensor(self.rng.integers(low, high, _shape((size,))),
                            self.lib.int64 if dtype is None else dtype, device, requires_grad,
                            out)

    def rand_like(self, input, dtype=None, device=None, requires_grad=False, **_):
        return self._tensor(self.rng.random(tuple(input.shape)),
                            input.dtype if dtype is None else dtype,
                            input.device if device is None else device, requires_grad)

    def randn_like(self, input, dtype=None, device=None, requires_grad=False, **_):
        return self._tensor(self.rng.standard_normal(tuple(input.shape)),
                            input.dtype if dtype is None else dtype,
                            input.device if device is None else device, requires_grad)

    def _fill(self, tensor, values):
        with self.lib.no_grad():
            tensor.copy_(self.lib.tensor(values, dtype=tensor.dtype))
        return tensor

    def uniform_(self, tensor, a=0.0, b=1.0, generator=None):
        return self._fill(tensor, self.rng.uniform(a, b, tuple(tensor.shape)))

    def normal_(self, tensor, mean=0.0, std=1.0, generator=None):
        return self._fill(tensor, self.rng.normal(mean, std, tuple(tensor.shape)))

    def dropout(self, input, p=0.5, training=True, inplace=False):
        if not training or p == 0:
            return input
        keep = self.lib.tensor(self.rng.random(tuple(input.shape)) >= p, dtype=input.dtype)
        return input * keep / (1 - p)

    def kaiming_uniform_(self, tensor, a=0, mode="fan_in", nonlinearity="leaky_relu",
                         generator=None):
        init = self.lib.nn.init
        gain = init.calculate_gain(nonlinearity, a)
        bound = math.sqrt(3.0) * gain / math.sqrt(init._calculate_correct_fan(tensor, mode))
        return self.uniform_(tensor, -bound, bound)


FACTORIES = ("manual_seed", "rand", "randn", "randint", "rand_like", "randn_like")
INIT_FILLS = ("uniform_", "normal_", "kaiming_uniform_")
FUNCTIONAL = ("dropout",)


def prepare(lib, draws):
    """Seed every generator and install the shared draws, before each program."""
    random.seed(SEED)
    np.random.seed(SEED)
    draws.manual_seed(SEED)
    for name in FACTORIES:
        setattr(lib, name, getattr(draws, name))
    for name in INIT_FILLS:
        setattr(lib.nn.init, name, getattr(draws, name))
    for name in FUNCTIONAL:
        setattr(lib.nn.functional, name, getattr(draws, name))
    lib.empty = lib.zeros
    lib.empty_like = lib.zeros_like
    # Undo what an earlier program may have set (polynomial_autograd sets the device).
    if hasattr(lib, "set_default_device"):
        lib.set_default_device(None)
    lib.set_default_dtype(lib.float32)


def run(lib, draws, path):
    prepare(lib, draws)
    out = io.StringIO()
    error = None
    start, cpu_start = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(out):
        try:
            runpy.run_path(path, run_name="__main__")
        except (Exception, SystemExit) as exc:
            error = f"{type(exc).__name__}: {exc}"
    return {"stdout": out.getvalue(), "error": error,
            "seconds": round(time.perf_counter() - start, 3),
            "cpu_seconds": round(time.process_time() - cpu_start, 3)}


def main(argv):
    library, program_dir, out_path, *names = argv
    lib = import_library(library)
    draws = SharedDraws(lib)
    results = {"version": getattr(lib, "__version__", "?"), "programs": {}}
    for name in names:
        results["programs"][name] = run(lib, draws, os.path.join(program_dir, name + ".py"))
    with open(out_path, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    # String hashing unsalted, so that iterating a set of words (word_embeddings_tutorial
    # numbers its vocabulary so) goes in the same order in both runs; one thread each, as
    # the two workers run side by side (torch's idle threads spin: 8x the CPU time of
    # nlp_sequence_models_tutorial with two).
    if os.environ.get("PYTHONHASHSEED") != "0" or os.environ.get("OMP_NUM_THREADS") != "1":
        os.execve(sys.executable, [sys.executable, *sys.argv],
                  dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1"))
    main(sys.argv[1:])
