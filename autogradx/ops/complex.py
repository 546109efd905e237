"""Ops on the parts of complex numbers: conj, real, imag, angle, complex, view_as_real,
view_as_complex; and the helpers other families use for their complex cases (the complex
sign, the squared modulus).

None of these is holomorphic, so each is made with ``holomorphic=False`` and its formula
gives PyTorch's gradient itself (the conjugate Wirtinger convention, docs/autograd.md):
for a real loss ``L`` of ``z``, the gradient stored for ``z`` is ``dL/dx + i dL/dy``.
"""

from autogradx._core.names import scalar_name
from autogradx.plugin import Op, OpList, lazy_conformance_cases

_ops = OpList()      # every op defined below, in order; OPS at the end


def is_complex(v):
    """Whether array or tensor ``v`` holds complex numbers (Python numbers: False)."""
    dtype = getattr(v, "dtype", None)
    if dtype is None:
        return False
    # NumPy's and CuPy's dtypes have a kind; autogradx's (on tensors) say is_complex. A
    # failed getattr costs as much as the rest, so only the one that applies is asked.
    kind = getattr(dtype, "kind", None)
    return kind == "c" if kind is not None else getattr(dtype, "is_complex", False)


def refuse_complex(what, *values, error=NotImplementedError):
    """PyTorch's refusal by an op that has no complex kernel, where any of ``values`` is
    complex: ``what`` is the kernel's name (the message is then ``"floor_cpu" not
    implemented for 'ComplexFloat'``) or, with a space in it, the whole message."""
    for v in values:
        if is_complex(v):
            raise error(what if " " in what
                        else f"\"{what}\" not implemented for '{scalar_name(v.dtype)}'")


def complex_sign(xp, z):
    """``z / |z|`` (0 at 0): the sign of a complex number."""
    a = xp.abs(z)
    nonzero = a != 0
    return xp.where(nonzero, z / xp.where(nonzero, a, 1), 0)


def abs_square(xp, z):
    """``|z| ** 2``, real also for complex ``z``."""
    return xp.real(z * xp.conj(z)) if is_complex(z) else z * z


def _conj(xp, x):
    """The complex conjugate (the tensor itself for real tensors, as PyTorch)."""
    return xp.conj(x) if is_complex(x) else x


def _real(xp, x):
    """The real part (the tensor itself for real tensors, as PyTorch)."""
    return xp.real(x) if is_complex(x) else x


def _imag(xp, x):
    """The imaginary part of a complex tensor."""
    if not is_complex(x):
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return xp.imag(x)


def _angle(xp, x):
    """The argument of each element, in radians (for real tensors: pi where negative, else
    0; NaN stays NaN)."""
    if x.dtype.kind == "c":     # an array here: is_complex's checks for tensors not needed
        return xp.angle(x)
    # sign(x) is -1, 0 or 1, NaN for NaN: min(sign, 0) * -pi is pi where x < 0, NaN where
    # x is, -0.0 elsewhere (+ 0 makes it PyTorch's +0); a comparison with a number and two
    # where() would cost twice as much.
    return xp.minimum(xp.sign(x), 0) * -xp.pi + 0


def _angle_grad(xp, g, input):
    if not is_complex(input):
        return xp.zeros_like(g)
    # PyTorch's angle_backward: d arg(z) = Im(dz / z), 0 at z = 0.
    a2 = abs_square(xp, input)
    nonzero = a2 != 0
    return xp.where(nonzero, g * input / xp.where(nonzero, a2, 1), 0) * 1j


conj = _ops.add(Op("conj", _conj, method=True, holomorphic=False,
                   vjp={"input": lambda xp, g: _conj(xp, g)}, jvp="linear"))
# A real gradient becomes the complex input's (its imaginary part 0).
real = _ops.add(Op("real", _real, holomorphic=False, vjp={"input": lambda xp, g: g}, jvp="linear"))
imag = _ops.add(Op("imag", _imag, holomorphic=False, vjp={"input": lambda xp, g: g * 1j}, jvp="linear"))
angle = _ops.add(Op("angle", _angle, promote="float", method=True, holomorphic=False,
                    vjp={"input": _angle_grad}, jvp="elementwise"))


def _complex(xp, real, imag):
    """The complex tensor ``real + i imag`` (both float or double, of one dtype; half parts,
    which PyTorch makes complex32, are refused: NumPy has no such dtype)."""
    if real.dtype != imag.dtype:
        raise RuntimeError(f"Expected object of scalar type {scalar_name(real.dtype)} but got "
                           f"scalar type {scalar_name(imag.dtype)} for second argument")
    if real.dtype.kind != "f":
        raise RuntimeError(f"Expected both inputs to be Half, Float or Double tensors but got "
                           f"{scalar_name(real.dtype)} and {scalar_name(imag.dtype)}")
    _refuse_complex_half("complex", real)
    return real + 1j * imag


def _refuse_complex_half(name, x):
    # PyTorch's result would be complex32 (ComplexHalf), which NumPy does not have.
    if x.dtype.itemsize == 2:
        raise RuntimeError(f"{name}(): float16 parts would make a complex32 (ComplexHalf) "
                           "tensor, which autogradx does not support (NumPy has no such dtype)")


complex_op = _ops.add(Op("complex", _complex, inputs=("real", "imag"), holomorphic=False,
                         vjp={"real": lambda xp, g: xp.real(g), "imag": lambda xp, g: xp.imag(g)}))


def _view_as_real(xp, x):
    """A complex tensor's real and imaginary parts as a last dim of size 2: a view."""
    if not is_complex(x):
        raise RuntimeError("view_as_real is only supported for complex tensors")
    return x[..., None].view(x.real.dtype)


def _view_as_complex(xp, x):
    """A tensor whose last dim (of size 2) holds real and imaginary parts as complex
    numbers: a view (float or double; half, which PyTorch makes complex32, is refused)."""
    if x.dtype.kind != "f":
        raise RuntimeError(f"view_as_complex is only supported for half, float and double "
                           f"tensors, but got a tensor of scalar type: {scalar_name(x.dtype)}")
    if x.ndim == 0 or x.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    if x.strides[-1] != x.itemsize:
        raise RuntimeError("Tensor must have a last dimension with stride 1")
    _refuse_complex_half("view_as_complex", x)
    return x.view(xp.result_type(x.dtype, 1j))[..., 0]


# The gradients are each other's op: a real loss's gradient dL/dx + i dL/dy, split or joined.
view_as_real = _ops.add(Op("view_as_real", _view_as_real, view=True, holomorphic=False,
                           vjp={"input": lambda xp, g: g[..., 0] + 1j * g[..., 1]}))
view_as_complex = _ops.add(Op("view_as_complex", _view_as_complex, view=True, holomorphic=False,
                              vjp={"input": lambda xp, g: xp.stack([xp.real(g), xp.imag(g)],
                                                                   axis=-1)}))


OPS = tuple(_ops)


# -- samples for the conformance kit -------------------------------------------------

__getattr__ = lazy_conformance_cases(__name__)


def _conformance_cases():
    """Generated samples for every op here (real ones: tests/ops/test_complex_torch.py
    checks them all on complex tensors too); imag and view_as_real refuse real tensors, so
    their samples are complex; view_as_complex takes a last dim of 2."""
    from autogradx.conformance import Arg, Sample, generated_samples
    cases = {op.name: generated_samples(op) for op in OPS}
    cases["imag"] = [Sample(Arg(shape, dtype="complex128", requires_grad=True))
                     for shape in ((), (2, 3))]
    cases["view_as_real"] = cases["imag"]
    cases["view_as_complex"] = [Sample(Arg((2,))), Sample(Arg((3, 2)))]
    return cases
