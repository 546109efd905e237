# The backward sweep.

cpdef run_backward(tuple tensors, tuple grads, bint keep_graph, bint create_graph,
                   tuple inputs=*, bint accumulate=*)
