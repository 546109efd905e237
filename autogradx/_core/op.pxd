# The op-application hot path: every call of a registered op, and its in-place form.

from .opdef cimport OpDef

cpdef object apply_op(OpDef op, tuple args, dict kwargs)
cpdef object apply_inplace(OpDef op, tuple args, dict kwargs)
