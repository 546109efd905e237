"""Hypothesis settings profiles of the fuzz tests, chosen by ``AUTOGRADX_FUZZ_PROFILE``.

``ci`` (the default)
    Deterministic: ``derandomize=True`` draws the same examples on every run (until a
    test or Hypothesis changes), no deadline (the machines are shared and noisy), and
    nothing written in the working tree (no example database; Hypothesis's other files go
    to a temporary directory). Each test runs the few examples it asks for with
    ``calls.examples(n)``.
``fuzz-long``
    For long local runs: ``AUTOGRADX_FUZZ_PROFILE=fuzz-long python -m pytest tests/fuzz``.
    Random (a new seed each run; ``--hypothesis-seed=N`` fixes one), ``calls.LONG_FACTOR``
    times the examples, and failing examples saved in ``.hypothesis/`` and replayed first
    on the next run.

Both print a failing example's ``@reproduce_failure`` blob (see docs/fuzzing.md).
"""

import importlib.util
import os
import tempfile
import warnings

if importlib.util.find_spec("libcst") is not None:
    # Hypothesis imports libcst when a test fails (to suggest a patch); that import warns
    # (mypy_extensions' DeprecationWarning), which, with warnings as errors, would replace the
    # report of the failure with an internal error. Imported here, it warns once, quietly.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import libcst  # noqa: F401

if importlib.util.find_spec("hypothesis") is not None:
    from hypothesis import HealthCheck, settings

    from fuzz.calls import PROFILE_ENV

    # The strategies draw shapes, then values from a seeded generator: Hypothesis may find
    # that slow on a busy machine, or large; neither is a problem of the test.
    _QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large]
    settings.register_profile("ci", derandomize=True, database=None, deadline=None,
                              print_blob=True, suppress_health_check=_QUIET)
    settings.register_profile("fuzz-long", derandomize=False, deadline=None, print_blob=True,
                              suppress_health_check=_QUIET)
    settings.load_profile(os.environ.get(PROFILE_ENV, "ci"))
    if settings.default.database is None:
        from hypothesis.configuration import set_hypothesis_home_dir

        # Hypothesis caches the constants it reads from the code under test on disk.
        _HOME = tempfile.TemporaryDirectory(prefix="autogradx-hypothesis-")
        set_hypothesis_home_dir(_HOME.name)
