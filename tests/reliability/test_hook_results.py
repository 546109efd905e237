"""A node hook that returns the wrong thing gets PyTorch's error, never a crash.

Each case runs in a child interpreter, so that a crash fails its test instead of
ending the test run.
"""

import subprocess
import sys
import textwrap

import pytest

# (hook registration on y = x * x, PyTorch's exception type and message)
CASES = {
    "prehook-returns-list": ("y.grad_fn.register_prehook(lambda g: [g[0]])",
                             "TypeError: expected tuple, but hook returned 'list'"),
    "prehook-returns-float": ("y.grad_fn.register_prehook(lambda g: (1.0,))",
                              "TypeError: expected Variable, but hook returned 'float'"),
    "prehook-returns-too-few": ("y.grad_fn.register_prehook(lambda g: ())",
                                "RuntimeError: hook '<lambda>' has returned an incorrect number "
                                "of values (got 0, but expected 1)"),
    "posthook-returns-int": ("y.grad_fn.register_hook(lambda gi, go: (3, None))",
                             "TypeError: expected Variable, but hook returned 'int'"),
    "posthook-returns-too-few": ("y.grad_fn.register_hook(lambda gi, go: (gi[0],))",
                                 "RuntimeError: hook '<lambda>' has returned an incorrect number "
                                 "of values (got 1, but expected 2)"),
}

CHILD = """
import autogradx as agx
x = agx.tensor([1.0, 2.0], requires_grad=True)
y = x * x
{register}
try:
    y.sum().backward()
    print("no error; x.grad =", x.grad)
except Exception as e:
    print(f"{{type(e).__name__}}: {{e}}")
"""


@pytest.mark.parametrize("register, error", CASES.values(), ids=CASES)
def test_a_bad_hook_result_gets_pytorchs_error(register, error):
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD.format(register=register))],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"the interpreter died with status {out.returncode}"
    assert out.stdout.strip() == error
