"""Tests for tensor printing: exact strings, plus byte-for-byte comparison with PyTorch."""

import numpy as np
import pytest

from autogradx._printing import format_tensor, get_printoptions, set_printoptions

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


@pytest.fixture(autouse=True)
def _default_printoptions():
    set_printoptions(profile="default")
    yield
    set_printoptions(profile="default")


def fmt(arr, **kwargs):
    arr = np.asarray(arr)
    return format_tensor(arr, dtype_name=str(arr.dtype), **kwargs)


# ---------------------------------------------------------------- exact strings

@pytest.mark.parametrize("arr, expected", [
    (np.array([1.0, 2.0], np.float32), "tensor([1., 2.])"),
    (np.array([[0.3214, 0.2906, 0.3239], [0.1, 0.25, 0.5]], np.float32),
     "tensor([[0.3214, 0.2906, 0.3239],\n        [0.1000, 0.2500, 0.5000]])"),
    (np.array(3), "tensor(3)"),
    (np.array(3.0, np.float32), "tensor(3.)"),
    (np.array(True), "tensor(True)"),
    (np.array([1.0, 2.0]), "tensor([1., 2.], dtype=torch.float64)"),
    (np.arange(2000), "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])"),
    (np.arange(8).reshape(2, 2, 2),
     "tensor([[[0, 1],\n         [2, 3]],\n\n        [[4, 5],\n         [6, 7]]])"),
    (np.array([1e-5, 1.0, 100.0], np.float32), "tensor([1.0000e-05, 1.0000e+00, 1.0000e+02])"),
    (np.array([np.nan, np.inf, -np.inf, 0.0], np.float32), "tensor([nan, inf, -inf, 0.])"),
    (np.zeros(0, np.float32), "tensor([])"),
    (np.zeros(0, np.int64), "tensor([], dtype=torch.int64)"),
    (np.zeros((2, 0), np.float32), "tensor([], size=(2, 0))"),
    (np.array([1.5, -2.25], np.float16), "tensor([ 1.5000, -2.2500], dtype=torch.float16)"),
])
def test_exact_strings(arr, expected):
    assert fmt(arr) == expected


def test_autograd_and_device_suffixes():
    arr = np.array([1.0, 2.0], np.float32)
    assert fmt(arr, requires_grad=True) == "tensor([1., 2.], requires_grad=True)"
    assert fmt(arr, grad_fn_name="MulBackward0") == "tensor([1., 2.], grad_fn=<MulBackward0>)"
    assert fmt(arr, device="cuda:0") == "tensor([1., 2.], device='cuda:0')"
    assert fmt(arr, device="cpu") == "tensor([1., 2.])"


def test_suffixes_wrap_to_new_line_when_too_long():
    arr = np.linspace(0, 1, 9)
    assert fmt(arr, grad_fn_name="MulBackward0") == (
        "tensor([0.0000, 0.1250, 0.2500, 0.3750, 0.5000, 0.6250, 0.7500, 0.8750, 1.0000],\n"
        "       dtype=torch.float64, grad_fn=<MulBackward0>)")


def test_default_dtype_suffix_rules():
    assert fmt(np.array([1.0, 2.0]), default_dtype_name="float64") == "tensor([1., 2.])"
    assert (fmt(np.array([1.0], np.float32), default_dtype_name="float64")
            == "tensor([1.], dtype=torch.float32)")


def test_printoptions_roundtrip():
    assert get_printoptions() == dict(precision=4, threshold=1000, edgeitems=3,
                                      linewidth=80, sci_mode=None)
    set_printoptions(precision=2)
    assert fmt(np.array([1.12345], np.float32)) == "tensor([1.12])"
    set_printoptions(threshold=5)
    assert fmt(np.arange(10)) == "tensor([0, 1, 2,  ..., 7, 8, 9])"
    set_printoptions(profile="short")
    assert get_printoptions()["edgeitems"] == 2
    set_printoptions(profile="default")
    assert fmt(np.array([1.12345], np.float32)) == "tensor([1.1235])"


# ---------------------------------------------------------------- comparison with PyTorch

def _fixed_arrays():
    rng = np.random.default_rng(0)
    f32 = np.float32
    yield np.array([1.0, 2.0], f32)
    yield np.array([1.0, -2.0, 300.0], f32)
    yield rng.random((3, 3)).astype(f32)
    yield rng.standard_normal((4, 5)).astype(f32)
    yield np.array([0.001, 1.0, 999.0], f32)
    yield np.array([0.001, 1.0, 1001.0], f32)        # ratio just over 1000: scientific
    yield np.array([1.0, 1000.0], f32)               # ratio exactly 1000: fixed
    yield np.array([1e8, 5e7], np.float64)           # exactly 1e8: fixed
    yield np.array([1e8 + 1, 2e8], np.float64)       # above 1e8: scientific
    yield np.array([1e-4, 2e-4], np.float64)         # exactly 1e-4: fixed
    yield np.array([1e-4, 2e-4], f32)                # float32 1e-4 is below 1e-4
    yield np.array([1e300, 1e-300, -5e-324, 1.0])    # three-digit exponents
    yield np.array([-1e-300, -1.0, 5.0])             # widest text at a small negative
    yield np.array([np.nan, np.inf, -np.inf, 1.5, 0.0], f32)
    yield np.array([np.nan, np.inf, -np.inf], f32)
    yield np.array([-0.0, 0.0, 1.0], f32)
    yield np.array([-0.0, 0.5], f32)
    yield np.array(-0.0, f32)
    yield np.zeros((2, 3), f32)
    yield np.array([1e10, -1e10, 3.0], f32)
    yield np.array([9.99996, 0.5], f32)              # rounds up to a wider number
    yield np.array([65504.0, -65504.0, 1e-7, np.inf], np.float16)
    yield np.array([0.1, 0.2, 0.3], np.float16)
    yield np.array(3.0, f32)
    yield np.array(3.25)
    yield np.array(np.nan, f32)
    yield np.array(True)
    yield np.array(-7, np.int8)
    yield np.array([True, False, True])
    yield np.array([[True], [False]])
    yield np.array([-128, 0, 127], np.int8)
    yield np.array([0, 255], np.uint8)
    yield np.array([-32768, 5], np.int16)
    yield np.array([2**31 - 1, -2**31], np.int32)
    yield np.array([2**63 - 1, -2**63, 0], np.int64)
    for dtype in DTYPES:
        yield np.zeros(0, dtype)
        yield np.zeros((0, 3), dtype)
        yield np.zeros((2, 0, 4), dtype)
    yield np.arange(1001, dtype=f32)
    yield np.arange(1000, dtype=np.int64)
    yield np.arange(4000, dtype=np.int32).reshape(10, 20, 20)
    yield rng.standard_normal((3, 4, 2, 5)).astype(f32)
    yield rng.standard_normal((8, 8, 8, 8)).astype(f32)    # summarised along every dim
    yield rng.standard_normal(50).astype(np.float64) * 1e5  # wraps at linewidth
    yield np.arange(100, dtype=np.int64) * 10**12
    yield np.arange(60, dtype=f32).reshape(3, 20) / 7


def _random_array(rng):
    dtype = DTYPES[rng.integers(len(DTYPES))]
    rank = int(rng.integers(0, 5))
    max_dim = {0: 1, 1: 1500, 2: 40, 3: 14, 4: 8}[rank]
    shape = tuple(int(rng.integers(0, max_dim + 1)) if rng.random() < 0.15
                  else int(rng.integers(1, max_dim + 1)) for _ in range(rank))
    if dtype == "bool":
        return rng.random(shape) < 0.5
    scale = 10.0 ** rng.uniform(-10, 10)
    if dtype.startswith("int") or dtype == "uint8":
        info = np.iinfo(dtype)
        high = min(float(info.max), 9e18, scale + 1)  # 9e18 keeps int64 casts in range
        low = 0 if dtype == "uint8" else -high
        return rng.uniform(low, high, shape).clip(info.min, high).astype(dtype)
    values = rng.standard_normal(shape) * scale
    kind = rng.random()
    if kind < 0.2:
        values = np.round(values)                               # integer-valued floats
    elif kind < 0.4:
        values = values * 10.0 ** rng.uniform(-10, 10, shape)   # mixed magnitudes
    if values.size and rng.random() < 0.4:
        flat = values.reshape(-1)
        picks = rng.integers(0, flat.size, int(rng.integers(1, 4)))
        flat[picks] = rng.choice([np.nan, np.inf, -np.inf, 0.0, -0.0], picks.size)
    with np.errstate(over="ignore"):
        return values.astype(dtype)


def _random_arrays(count=300, seed=1234):
    rng = np.random.default_rng(seed)
    return [_random_array(rng) for _ in range(count)]


def _assert_matches_torch(torch, arr, **format_kwargs):
    arr = np.ascontiguousarray(arr)
    tensor = torch.from_numpy(arr.copy())
    kwargs = dict(format_kwargs)
    if arr.dtype.kind == "f":
        # cycle through the autograd variants deterministically
        variant = arr.size % 3
        if variant == 1:
            tensor.requires_grad_()
            kwargs["requires_grad"] = True
        elif variant == 2:
            tensor = tensor.requires_grad_() * 1
            kwargs["grad_fn_name"] = type(tensor.grad_fn).__name__
    expected = repr(tensor)
    assert format_tensor(arr, dtype_name=str(arr.dtype), **kwargs) == expected


@pytest.fixture
def torch():
    torch = pytest.importorskip("torch")
    torch.set_printoptions(profile="default")
    yield torch
    torch.set_printoptions(profile="default")


@pytest.mark.torch
def test_fixed_arrays_match_torch(torch):
    arrays = list(_fixed_arrays())
    for arr in arrays:
        _assert_matches_torch(torch, arr)


@pytest.mark.torch
def test_random_sweep_matches_torch(torch):
    for arr in _random_arrays():
        _assert_matches_torch(torch, arr)


OPTION_SETS = [
    dict(precision=2),
    dict(precision=0),
    dict(precision=8),
    dict(sci_mode=True),
    dict(sci_mode=False),
    dict(linewidth=40),
    dict(linewidth=200),
    dict(threshold=10, edgeitems=2),
    dict(threshold=10, edgeitems=0),
    dict(edgeitems=1),
    dict(profile="short"),
    dict(profile="full"),
]


@pytest.mark.torch
@pytest.mark.parametrize("options", OPTION_SETS, ids=str)
def test_printoptions_match_torch(torch, options):
    torch.set_printoptions(**options)
    set_printoptions(**options)
    assert get_printoptions() == dict(torch._tensor_str.get_printoptions())
    for arr in list(_fixed_arrays()) + _random_arrays(count=40, seed=7):
        _assert_matches_torch(torch, arr)


@pytest.mark.torch
def test_default_dtype_float64_matches_torch(torch):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        for arr in list(_fixed_arrays())[:40]:
            _assert_matches_torch(torch, arr, default_dtype_name="float64")
    finally:
        torch.set_default_dtype(previous)
