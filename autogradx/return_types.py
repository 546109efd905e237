"""PyTorch's named tuples for ops that return several tensors.

``x.max(dim)`` returns ``autogradx.return_types.max(values=..., indices=...)``:
a tuple (it unpacks as ``values, indices = x.max(1)``) whose fields are also
attributes. Like PyTorch's, each type is built from one sequence
(``max((values, indices))``) and also, as a namedtuple, from its fields
(``max(values, indices)`` or by keyword). The repr is PyTorch's, spelt
``torch.return_types.<name>`` so that code ported by swapping the import
(``import autogradx as torch``) prints what it did, as dtypes do.
"""

from collections import namedtuple


def _return_type(name, fields):
    """A tuple type with named ``fields`` that behaves as ``torch.return_types.<name>``."""
    base = namedtuple(name, fields)

    def __new__(cls, *args, **kwargs):
        if len(args) == 1 and not kwargs and len(fields) > 1:
            # PyTorch's structseq form: max((values, indices))
            seq = tuple(args[0])
            if len(seq) != len(fields):
                raise TypeError(f"torch.return_types.{name}() takes a {len(fields)}-sequence "
                                f"({len(seq)}-sequence given)")
            return base.__new__(cls, *seq)
        return base.__new__(cls, *args, **kwargs)

    def __repr__(self):
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(fields, self))
        return f"torch.return_types.{name}(\n{body})"

    return type(name, (base,), {
        "__slots__": (), "__new__": __new__, "__repr__": __repr__, "__str__": __repr__,
        "__module__": __name__,
        "__doc__": f"{name}({', '.join(fields)}), as torch.return_types.{name}.",
    })


# As in torch.return_types (PyTorch 2.13).
aminmax = _return_type("aminmax", ("min", "max"))
cummax = _return_type("cummax", ("values", "indices"))
cummin = _return_type("cummin", ("values", "indices"))
frexp = _return_type("frexp", ("mantissa", "exponent"))
geqrf = _return_type("geqrf", ("a", "tau"))
histogram = _return_type("histogram", ("hist", "bin_edges"))
histogramdd = _return_type("histogramdd", ("hist", "bin_edges"))
kthvalue = _return_type("kthvalue", ("values", "indices"))
linalg_cholesky_ex = _return_type("linalg_cholesky_ex", ("L", "info"))
linalg_eig = _return_type("linalg_eig", ("eigenvalues", "eigenvectors"))
linalg_eigh = _return_type("linalg_eigh", ("eigenvalues", "eigenvectors"))
linalg_inv_ex = _return_type("linalg_inv_ex", ("inverse", "info"))
linalg_ldl_factor = _return_type("linalg_ldl_factor", ("LD", "pivots"))
linalg_ldl_factor_ex = _return_type("linalg_ldl_factor_ex", ("LD", "pivots", "info"))
linalg_lstsq = _return_type("linalg_lstsq", ("solution", "residuals", "rank", "singular_values"))
linalg_lu = _return_type("linalg_lu", ("P", "L", "U"))
linalg_lu_factor = _return_type("linalg_lu_factor", ("LU", "pivots"))
linalg_lu_factor_ex = _return_type("linalg_lu_factor_ex", ("LU", "pivots", "info"))
linalg_qr = _return_type("linalg_qr", ("Q", "R"))
linalg_slogdet = _return_type("linalg_slogdet", ("sign", "logabsdet"))
linalg_solve_ex = _return_type("linalg_solve_ex", ("result", "info"))
linalg_svd = _return_type("linalg_svd", ("U", "S", "Vh"))
lu_unpack = _return_type("lu_unpack", ("P", "L", "U"))
max = _return_type("max", ("values", "indices"))
median = _return_type("median", ("values", "indices"))
min = _return_type("min", ("values", "indices"))
mode = _return_type("mode", ("values", "indices"))
nanmedian = _return_type("nanmedian", ("values", "indices"))
qr = _return_type("qr", ("Q", "R"))
slogdet = _return_type("slogdet", ("sign", "logabsdet"))
sort = _return_type("sort", ("values", "indices"))
svd = _return_type("svd", ("U", "S", "V"))
topk = _return_type("topk", ("values", "indices"))
triangular_solve = _return_type("triangular_solve", ("solution", "cloned_coefficient"))

__all__ = [
    "aminmax", "cummax", "cummin", "frexp", "geqrf", "histogram", "histogramdd",
    "kthvalue", "linalg_cholesky_ex", "linalg_eig", "linalg_eigh", "linalg_inv_ex",
    "linalg_ldl_factor", "linalg_ldl_factor_ex", "linalg_lstsq", "linalg_lu",
    "linalg_lu_factor", "linalg_lu_factor_ex", "linalg_qr", "linalg_slogdet",
    "linalg_solve_ex", "linalg_svd", "lu_unpack", "max", "median", "min", "mode",
    "nanmedian", "qr", "slogdet", "sort", "svd", "topk", "triangular_solve",
]
