"""Tensor factories: ``tensor``, ``ones``, ``rand``, ... with PyTorch's signatures.

Floating results default to float32 (``set_default_dtype`` changes that);
``tensor([1, 2])`` infers int64 and ``tensor([True])`` bool, as in PyTorch.
"""

import math
import numbers

import numpy as np

from autogradx import _dtype
from autogradx._core.batching import is_batching_active
from autogradx._core.promote import get_default_float, set_default_float
from autogradx._core.tensor import Size, TensorBase, wrap
from autogradx._device import default_device, device as _device

__all__ = [
    "tensor", "as_tensor", "from_numpy", "ones", "zeros", "full", "empty", "eye", "arange",
    "linspace", "rand", "randn", "randint", "ones_like", "zeros_like", "full_like",
    "empty_like", "rand_like", "randn_like", "manual_seed", "seed", "initial_seed",
    "Generator", "set_default_dtype", "get_default_dtype",
]

# PyTorch's default seed, so that unseeded programs are reproducible there and here.
_DEFAULT_SEED = 67280421310721


class Generator:
    """A random number generator (NumPy's PCG64 underneath; its stream differs from PyTorch's).

    NumPy's random module is imported on first use, not with autogradx.
    """

    # Set by vmap(randomness="error") while it runs the mapped function: the error's message.
    _refuse_random = None
    # Counts the draws of every generator: vmap sees whether an op drew random numbers.
    _draws = 0

    def __init__(self, device="cpu"):
        self._seed = _DEFAULT_SEED
        self._rng = None

    @property
    def rng(self):
        """The ``numpy.random.Generator`` that draws the values, made from the seed on first use."""
        if Generator._refuse_random:
            raise RuntimeError(Generator._refuse_random)
        Generator._draws += 1
        if self._rng is None:
            self._rng = np.random.Generator(np.random.PCG64(self._seed))
        return self._rng

    def manual_seed(self, seed):
        """Seed this generator (a negative seed counts modulo 2**64, as in PyTorch); returns it."""
        seed = int(seed)
        if seed < 0:
            seed += 1 << 64
        self._seed = seed
        self._rng = None
        return self

    def initial_seed(self):
        """The seed this generator was last seeded with."""
        return self._seed

    def seed(self):
        """Seed this generator from fresh OS entropy; returns the seed."""
        s = int(np.random.SeedSequence().entropy % (1 << 63))
        self.manual_seed(s)
        return s

    def get_state(self):
        """The generator's state (a dict), for ``set_state``."""
        return self.rng.bit_generator.state

    def set_state(self, state):
        """Restore a state that :meth:`get_state` returned."""
        self.rng.bit_generator.state = state


default_generator = Generator()


def manual_seed(seed):
    """Seed the default generator; returns it."""
    return default_generator.manual_seed(seed)


def seed():
    """Seed the default generator from fresh OS entropy; returns the seed."""
    return default_generator.seed()


def initial_seed():
    """The seed the default generator was last seeded with."""
    return default_generator.initial_seed()


def set_default_dtype(d):
    """Set the dtype of floating tensors created without an explicit dtype (and so of
    complex ones: ``complex64`` for ``float32``, else ``complex128``). Only the floating
    dtypes are allowed, given as dtypes (``autogradx.float64``), as in PyTorch."""
    if not isinstance(d, _dtype.dtype):
        raise TypeError("invalid dtype object: only floating-point types are supported as "
                        "the default type")
    if not d.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    set_default_float(d.numpy)


def get_default_dtype():
    """The dtype of floating tensors created without an explicit dtype (``float32`` at start)."""
    return _dtype.from_numpy_dtype(get_default_float())


def _wrap(data, requires_grad=False, device=None):
    """A new tensor of ``data`` on ``device``: the default device when None."""
    if device is None:
        device = default_device()
    if device is not None:
        dev = _device(device)
        if dev.type != "cpu":
            from autogradx.backends import move
            data = move(data, dev)
    return wrap(data, requires_grad)


def _size(size, kwsize=None):
    if kwsize is not None:
        if size:
            raise TypeError("size given both positionally and by keyword")
        size = (kwsize,)
    if len(size) == 1 and not isinstance(size[0], numbers.Integral):
        size = size[0]
        if isinstance(size, TensorBase):
            size = size.tolist()
    try:
        size = tuple(int(s) for s in size)
    except TypeError:
        raise TypeError(f"size must be a sequence of ints, got {size!r}") from None
    if any(s < 0 for s in size):
        bad = next(s for s in size if s < 0)
        raise RuntimeError(f"Trying to create tensor with negative dimension {bad}: {list(size)}")
    return size


def _float(dtype):
    return get_default_float() if dtype is None else _dtype.as_numpy_dtype(dtype)


def _infer_dtype(data):
    """PyTorch's inference for Python data: bool, else int64, else the default float (also
    for no elements at all: ``tensor([])``)."""
    flat = np.asarray(data, dtype=object).ravel() if not isinstance(data, numbers.Number) else [data]
    if len(flat) == 0:
        return get_default_float()
    kind = "b"
    for v in flat:
        if isinstance(v, TensorBase):
            k = v._data.dtype.kind
        elif isinstance(v, (bool, np.bool_)):
            k = "b"
        elif isinstance(v, numbers.Integral):
            k = "i"
        elif isinstance(v, numbers.Real):
            k = "f"
        elif isinstance(v, numbers.Complex):
            k = "c"
        else:
            raise TypeError(f"Could not infer dtype of {type(v).__name__}")
        if "bifc".index(k) > "bifc".index(kind):
            kind = k
    if kind == "b":
        return np.dtype(np.bool_)
    if kind == "i":
        return np.dtype(np.int64)
    if kind == "c":
        return np.dtype(np.complex64 if get_default_float() == np.float32 else np.complex128)
    return get_default_float()


def _array_from(data, dtype):
    if isinstance(data, TensorBase):
        arr = data._data
    elif isinstance(data, (np.ndarray, np.generic)):
        # Subclasses (np.matrix, masked arrays) become plain arrays: a mask is dropped,
        # as PyTorch drops it.
        arr = np.asarray(data)
        _dtype.check_array_dtype(arr.dtype)
    else:
        if isinstance(data, (list, tuple)) and any(isinstance(v, TensorBase) for v in data):
            data = [v._data if isinstance(v, TensorBase) else v for v in data]
        if dtype is None:
            dtype = _infer_dtype(data)
        try:
            arr = np.array(data, dtype=dtype)
        except (ValueError, TypeError) as exc:
            raise TypeError(f"could not make a tensor from {type(data).__name__}: {exc}") from None
        if arr.dtype == object:
            raise TypeError(f"could not make a tensor from {data!r}")
        return arr
    if dtype is not None and arr.dtype != dtype:
        arr = arr.astype(dtype)
    return arr


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new leaf tensor holding a copy of ``data`` (numbers, nested lists, arrays)."""
    if isinstance(data, TensorBase):
        import warnings
        warnings.warn(
            "To copy construct from a tensor, it is recommended to use "
            "sourceTensor.detach().clone() or sourceTensor.detach().clone().requires_grad_(True), "
            "rather than torch.tensor(sourceTensor).", UserWarning, stacklevel=2)
    np_dtype = None if dtype is None else _dtype.as_numpy_dtype(dtype)
    arr = _array_from(data, np_dtype)
    if isinstance(data, (np.ndarray, TensorBase)) or arr.base is not None:
        arr = arr.copy()
    return _wrap(arr, requires_grad, device)


def as_tensor(data, dtype=None, device=None):
    """A tensor sharing memory with ``data`` where it can (a tensor or ndarray of the right
    dtype, on the device asked for, or the default device)."""
    if isinstance(data, TensorBase):
        # ``to`` returns ``data`` itself when nothing changes, else records the copy.
        return data.to(dtype=dtype, device=device if device is not None else default_device())
    np_dtype = None if dtype is None else _dtype.as_numpy_dtype(dtype)
    return _wrap(_array_from(data, np_dtype), False, device)


def from_numpy(ndarray):
    """A tensor sharing memory with ``ndarray`` (changes to one show in the other)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    _dtype.check_array_dtype(ndarray.dtype)
    return wrap(np.asarray(ndarray))        # in host memory whatever the default device


def _filled(size, value, dtype, requires_grad, device, kwsize=None):
    shape = _size(size, kwsize)
    if dtype is None:
        np_dtype = _infer_dtype(value) if not isinstance(value, float) else get_default_float()
    else:
        np_dtype = _dtype.as_numpy_dtype(dtype)
    return _wrap(np.full(shape, value, dtype=np_dtype), requires_grad, device)


def ones(*size, out=None, dtype=None, device=None, requires_grad=False, **kw):
    """A tensor of ones of the given size."""
    return _wrap(np.ones(_size(size, kw.pop("size", None)), _float(dtype)), requires_grad, device)


def zeros(*size, out=None, dtype=None, device=None, requires_grad=False, **kw):
    """A tensor of zeros of the given size."""
    return _wrap(np.zeros(_size(size, kw.pop("size", None)), _float(dtype)), requires_grad, device)


def empty(*size, dtype=None, device=None, requires_grad=False, **kw):
    """An uninitialised tensor of the given size."""
    return _wrap(np.empty(_size(size, kw.pop("size", None)), _float(dtype)), requires_grad, device)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False):
    """A tensor of the given size filled with ``fill_value`` (dtype inferred from it)."""
    return _filled((size,), fill_value, dtype, requires_grad, device)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    """A 2-D tensor with ones on the diagonal."""
    return _wrap(np.eye(n, n if m is None else m, dtype=_float(dtype)), requires_grad, device)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """Values from ``start`` to ``end`` (exclusive) by ``step``; int64 if all are integers."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        np_dtype = np.dtype(np.int64) if ints else get_default_float()
    else:
        np_dtype = _dtype.as_numpy_dtype(dtype)
    if step == 0:
        raise RuntimeError("step must be nonzero")
    return _wrap(np.arange(start, end, step).astype(np_dtype), requires_grad, device)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    return _wrap(np.linspace(start, end, steps, dtype=np.float64).astype(_float(dtype)),
                 requires_grad, device)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False, **kw):
    """Uniform random values on [0, 1)."""
    shape, levels = _per_sample(_size(size, kw.pop("size", None)))
    rng = (generator or default_generator).rng
    return _batched(_wrap(_draw(rng.random, shape, _float(dtype), 1.0), requires_grad, device),
                    levels)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False, **kw):
    """Standard normal random values."""
    shape, levels = _per_sample(_size(size, kw.pop("size", None)))
    rng = (generator or default_generator).rng
    # A complex normal of unit variance: each part has variance 1/2, as in PyTorch.
    return _batched(_wrap(_draw(rng.standard_normal, shape, _float(dtype), math.sqrt(0.5)),
                          requires_grad, device), levels)


def _per_sample(shape):
    """Inside vmap(randomness="different"), each sample draws its own values: the shape
    with those levels' batch dims in front, and the levels; else ``shape`` and ()."""
    if not is_batching_active():
        return shape, ()
    from autogradx import _batching
    levels = tuple(level for level in _batching.active_levels()
                   if level.randomness == "different")
    return tuple(level.size for level in levels) + tuple(shape), tuple(l.id for l in levels)


def _batched(t, levels):
    if not levels:
        return t
    from autogradx import _batching
    return _batching.mark(t, levels)


def _draw(sample, shape, np_dtype, complex_scale):
    """``sample(shape, dtype=...)`` cast to ``np_dtype``. NumPy's generators draw only float32
    and float64: float16 is drawn as float32, and a complex dtype as two independent draws of
    its real dtype (real and imaginary parts), each scaled by ``complex_scale``."""
    if np_dtype.kind == "c":
        part = np.finfo(np_dtype).dtype
        values = sample(shape, dtype=part) + 1j * sample(shape, dtype=part)
        return (values * complex_scale).astype(np_dtype, copy=False)
    return sample(shape, dtype=np_dtype if np_dtype != np.float16 else np.float32).astype(
        np_dtype, copy=False)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad=False):
    """Random integers on [low, high): ``randint(high, size)`` or ``randint(low, high, size)``."""
    if size is None and high is not None and not isinstance(high, numbers.Number):
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    rng = (generator or default_generator).rng
    np_dtype = np.dtype(np.int64) if dtype is None else _dtype.as_numpy_dtype(dtype)
    return _wrap(rng.integers(low, high, _size((size,))).astype(np_dtype), requires_grad, device)


def _like(t, dtype, device):
    """Shape, dtype and device of a ``*_like`` result: ``t``'s unless given."""
    if not isinstance(t, TensorBase):
        raise TypeError(f"expected a Tensor, got {type(t).__name__}")
    # t.shape: a sample's shape for a tensor batched by vmap.
    return (tuple(t.shape), t._data.dtype if dtype is None else _dtype.as_numpy_dtype(dtype),
            t.device if device is None else device)


def ones_like(input, *, dtype=None, device=None, requires_grad=False):
    """A tensor of ones with the shape, dtype and device of ``input`` unless given."""
    shape, d, device = _like(input, dtype, device)
    return _wrap(np.ones(shape, d), requires_grad, device)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False):
    """A tensor of zeros with the shape, dtype and device of ``input`` unless given."""
    shape, d, device = _like(input, dtype, device)
    return _wrap(np.zeros(shape, d), requires_grad, device)


def empty_like(input, *, dtype=None, device=None, requires_grad=False):
    """An uninitialised tensor with the shape, dtype and device of ``input`` unless
    given."""
    shape, d, device = _like(input, dtype, device)
    return _wrap(np.empty(shape, d), requires_grad, device)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False):
    """A tensor filled with ``fill_value``, with the shape, dtype and device of ``input``
    unless given."""
    shape, d, device = _like(input, dtype, device)
    return _wrap(np.full(shape, fill_value, d), requires_grad, device)


def rand_like(input, *, dtype=None, device=None, requires_grad=False):
    """Uniform random values on [0, 1) (as :func:`rand`), with the shape, dtype and device of
    ``input`` unless given."""
    shape, d, device = _like(input, dtype, device)
    return rand(shape, dtype=d, requires_grad=requires_grad, device=device)


def randn_like(input, *, dtype=None, device=None, requires_grad=False):
    """Standard normal random values (as :func:`randn`), with the shape, dtype and device of
    ``input`` unless given."""
    shape, d, device = _like(input, dtype, device)
    return randn(shape, dtype=d, requires_grad=requires_grad, device=device)
