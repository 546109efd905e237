"""A node hook that returns the wrong thing gets PyTorch's error, never a crash.

Each case runs in a child interpreter, so that a crash fails its test instead of
ending the test run.
"""

import pytest

from helpers import error_in_child

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

@pytest.mark.parametrize("register, error", CASES.values(), ids=CASES)
def test_a_bad_hook_result_gets_pytorchs_error(register, error):
    assert error_in_child(f"""
        x = agx.tensor([1.0, 2.0], requires_grad=True)
        y = x * x
        {register}
        y.sum().backward()
        """) == error
