# Which array module computes on an array. (Whether the core's fast paths are on, which
# the conformance kit turns off to compare, is told to the hot paths by on_fast_paths.)

cdef object array_module(object data)
