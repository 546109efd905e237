"""Ops on the parts of complex numbers: conj, real, imag, angle; and the helpers other
families use for their complex cases (the complex sign, the squared modulus).

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
    return dtype is not None and (getattr(dtype, "kind", None) == "c"
                                  or getattr(dtype, "is_complex", False))


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
    if is_complex(x):
        return xp.angle(x)
    return xp.where(x < 0, xp.pi, xp.where(xp.isnan(x), x, 0)).astype(x.dtype)


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


OPS = tuple(_ops)


# -- samples for the conformance kit -------------------------------------------------

__getattr__ = lazy_conformance_cases(__name__)


def _conformance_cases():
    """Generated samples for every op here (real ones: tests/ops/test_complex_torch.py
    checks them all on complex tensors too); imag refuses real tensors, so its samples are
    complex."""
    from autogradx.conformance import Arg, Sample, generated_samples
    cases = {op.name: generated_samples(op) for op in OPS}
    cases["imag"] = [Sample(Arg(shape, dtype="complex128", requires_grad=True))
                     for shape in ((), (2, 3))]
    return cases
