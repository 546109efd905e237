"""Build the Cython engine in autogradx/_core (and the ops compiled in autogradx/ops).

Compiler directives live here and nowhere else. Set AUTOGRADX_DEBUG=1 at build
time for a debug build: bounds and wraparound checks on, line tracing on, C
asserts kept and no optimisation, so sanitizers and coverage see real lines.
"""
import os

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("AUTOGRADX_DEBUG", "") not in ("", "0")

directives = {
    "language_level": 3,
    "embedsignature": True,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": not DEBUG,
    "linetrace": DEBUG,
    "profile": DEBUG,
}
macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
if DEBUG:
    macros += [("CYTHON_TRACE_NOGIL", "1")]
    compile_args = ["-O0", "-g", "-UNDEBUG"]
else:
    compile_args = ["-O2"]

CORE = ["grad_mode", "node", "tensor", "loops", "numpy_api", "special", "dispatch", "opdef",
        "promote", "opnode", "views", "forward", "batching", "op", "engine"]

# Ops compiled for their Python frames' sake (see each module's docstring).
OPS = ["_sum"]

extensions = [
    Extension(
        f"autogradx.{package}.{name}",
        [f"autogradx/{package}/{name}.pyx"],
        include_dirs=[numpy.get_include()],
        define_macros=macros,
        extra_compile_args=compile_args,
    )
    for package, names in (("_core", CORE), ("ops", OPS))
    for name in names
]

# The six modules translate and compile side by side: the first install takes about
# half the time it takes one module after another.
jobs = os.cpu_count() or 1
setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives=directives,
        annotate=os.environ.get("AUTOGRADX_ANNOTATE", "") not in ("", "0"),
        nthreads=jobs,
    ),
    options={"build_ext": {"parallel": jobs}},
)
