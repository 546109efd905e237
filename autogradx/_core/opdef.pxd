# The contract of one op: its forward, its derivative formulas and what they read, its API
# surface and speed hints. Made once per op (a plugin's Op), read by the hot path.

from .loops cimport Loops


cdef class OpDef:
    cdef readonly str name           # registry name, e.g. "mul"
    cdef readonly object plugin      # name of the plugin that registered it (set by the registry)
    cdef readonly object forward     # forward(xp, *inputs, *args, **params) -> array(s) [, residuals]
    cdef readonly object vjp         # vjp(xp, g, *saved, **params) -> one grad per input; or None
    cdef readonly tuple vjps         # or one vjp per input (None where not differentiable); or None
                                     # (given as a dict: formula(xp, g, *its reads, **params))
    cdef readonly tuple inputs       # names of the tensor inputs, in call order
    cdef readonly bint variadic      # inputs == ("*name",): input 0 is a sequence of any number of tensors
    cdef readonly object parse       # parse(*args, **kwargs) -> (args, kwargs) in the op's order, or None
    cdef readonly Py_ssize_t n_inputs
    cdef readonly Py_ssize_t n_required  # inputs that must be given
    cdef readonly bint varargs       # forward takes *args after its inputs (they are not passed to the vjp)
    cdef readonly tuple params       # names of the parameters after the inputs, in call order
    cdef readonly tuple save         # names saved for the vjp: input names and/or "result"
    cdef tuple save_idx              # ``save`` resolved: input index, or -1 for the result
    cdef readonly bint residuals     # forward returns (output, residuals); the vjp gets them after the saved values
    cdef readonly object grad_fn     # grad_fn name, or callable(*inputs) -> name
    cdef readonly str promote        # None, "elementwise" (PyTorch type promotion) or "float" (ints promote to float)
    cdef readonly Py_ssize_t n_outputs   # outputs of the forward; 0: as many as it returns (n_outputs=None)
    cdef readonly object output_type # callable building the returned value from a tuple of outputs, or None
    cdef readonly object namespace   # module the function appears in: "" (autogradx), "nn.functional", ...; None: nowhere
    cdef readonly tuple namespaces   # all the modules it appears in (namespace may be a tuple of them)
    cdef readonly object method      # name of the Tensor method, or None
    cdef readonly object inplace     # name of the in-place Tensor method (e.g. "add_"), or None
    cdef readonly object inplace_param  # a bool parameter (e.g. "inplace") that makes a call in-place
    cdef readonly bint view          # the output is a view of input 0 (shares its storage)
    cdef readonly bint out           # the forward takes out=: an array to write the result into
    cdef readonly object numpy_ufunc # the NumPy ufunc the forward computes on float arrays without parameters, or None
    cdef Loops loops                 # its inner loops, called directly on small arrays
    cdef readonly bint number_first  # with ufunc=: input 0 may be a Python number (torch.add(2, t));
                                     # else the ufunc path leaves one there to the forward (torch.lt(2, t) is refused)
    cdef readonly tuple reads        # per input: the indices in ``save`` its formula reads (vjp given
                                     # per input name); None for the positional forms, which read all
    cdef tuple read_masks            # ``reads`` as bit masks over ``save`` (Python ints), for _save
    cdef tuple vjp_rules             # per input: its formula as an expression tree (formula.py), or None
    cdef readonly object jvp         # its forward rule when declared: "elementwise" (its vjp formulas,
                                     # g standing for the tangent), "linear" (the op applied to the
                                     # tangents), "multilinear" (summed over inputs, each in turn
                                     # replaced by its tangent), or per input (tuple, None where
                                     # not given) formula(xp, t, *its reads, **params); None: derived
    cdef readonly tuple jvp_reads    # per input: the names its jvp formula reads; None unless per input
    cdef readonly bint holomorphic   # its formulas are the real ones extended holomorphically: on
                                     # complex gradients the core gives conj(formula(conj(g)))
    cdef readonly tuple aliases      # further names of the function and method (e.g. "clip")
    cdef readonly str doc            # documentation (the forward's docstring by default)
    cdef readonly dict overrides     # array module name -> OpDef with the same contract, for that backend

    cdef bint differentiable(self) noexcept


cdef void call_as_method(type t) noexcept    # x.name(...) calls it as t(x, ...), no bound method
