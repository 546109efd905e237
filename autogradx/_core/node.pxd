# Graph nodes. A node is created by each recorded op (see op.pxd's OpNode)
# and holds the edges to the nodes of that op's inputs; a leaf tensor that
# requires grad is reached through its AccumulateGrad node. Nodes refer only
# backwards (towards inputs), so graphs are freed by reference counting alone.

from .tensor cimport TensorBase


cdef class NodeExtras:
    # What few nodes carry, kept apart so that every other node is 32 bytes smaller.
    cdef dict tensor_hooks           # output index -> {hook id: hook} of the tensor made there, or None
    cdef dict retain_refs            # output index -> weakref of a tensor that retains its grad, or None
    cdef object pre_hooks            # hook id -> hook(grad_outputs), run before apply, or None
    cdef object post_hooks           # hook id -> hook(grad_inputs, grad_outputs), run after, or None
    cdef dict metadata               # free-form per-node data (anomaly mode's forward traceback), or None


cdef class Node:
    cdef str _name                   # grad_fn name, e.g. "MulBackward0"
    cdef tuple next_nodes            # per input: producer Node, or None when no gradient flows there
    cdef tuple next_slots            # per input: which output of that producer (Python ints)
    cdef Py_ssize_t n_outputs        # number of forward outputs (gradients this node takes)
    cdef object out_shape            # shape of the output; a tuple of shapes when n_outputs > 1
    cdef object out_dtype            # dtype of the output; a tuple of dtypes when n_outputs > 1
    cdef NodeExtras extras           # hooks and metadata, made on first use; None for most nodes
    cdef object pending              # the running backward's state of this node (engine.pyx); None between sweeps
    cdef Py_ssize_t sequence_nr      # creation order (PyTorch's sequence_nr): of the ready nodes, the engine
                                     # runs the latest made first; an accumulator's is the largest
    cdef object __weakref__

    cdef NodeExtras get_extras(self)

    cdef object expected_shape(self, Py_ssize_t slot)
    cdef object expected_dtype(self, Py_ssize_t slot)
    cdef list apply(self, list grads, bint create_graph)
    cdef void release(self) noexcept


cdef class AccumulateGrad(Node):
    cdef readonly object variable    # the leaf tensor whose .grad this node accumulates into


cdef class CopyBackwards(Node):
    pass                             # a leaf's .grad copied from a gradient with history (node.pyx)


cdef class PyNode(Node):
    cdef object backward_fn          # backward_fn(grads, create_graph) -> one gradient per input
    cdef object release_fn           # called when the graph's saved values are freed, or None
    cdef str qualname                # the repr's class path, e.g. "autogradx.autograd.function.FooBackward"
    cdef readonly object ctx         # a custom Function's ctx; its attributes show on the node, or None


cdef Node grad_edge(TensorBase t)
cdef object hook_result(object hook, object res, object g)
cdef list run_leaf_hooks(AccumulateGrad node, list grads)
cdef void move_retained_grad(TensorBase t, object old_fn, Py_ssize_t old_nr) except *
