"""Collation: a list of samples into one batch (``default_collate``) and a single
sample's arrays into tensors (``default_convert``, for ``batch_size=None``).

The rules and dtypes are PyTorch's: tensors are stacked along a new first dimension,
NumPy arrays and scalars become tensors of their own dtype, Python floats float64,
Python ints int64 (bools bool), strings and bytes stay lists; mappings, namedtuples and
sequences are collated field by field (a tuple gives a list, as in PyTorch).
"""

import collections.abc
import copy
import re

import numpy as np

from autogradx._core.tensor import TensorBase

__all__ = ["default_collate", "default_convert", "collate", "default_collate_fn_map"]

# NumPy dtypes that hold no numbers (bytes, str, object): such arrays are left alone.
np_str_obj_array_pattern = re.compile(r"[SaUO]")

default_collate_err_msg_format = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
    "found {}")


def _as_tensor(data, dtype=None):
    from autogradx._factories import as_tensor
    return as_tensor(data, dtype=dtype)


def _is_numeric_array(array):
    return np_str_obj_array_pattern.search(array.dtype.str) is None


def _rebuild_mapping(mapping, convert):
    """``mapping`` with each value converted, of ``mapping``'s own type where it can be."""
    converted = {key: convert(key) for key in mapping}
    try:
        if isinstance(mapping, collections.abc.MutableMapping):
            clone = copy.copy(mapping)
            clone.update(converted)
            return clone
        return type(mapping)(converted)
    except TypeError:       # a mapping type that cannot be built from a dict
        return converted


def _rebuild_sequence(sequence, items):
    """``items`` in a sequence of ``sequence``'s own type where it can be (a list else)."""
    try:
        if isinstance(sequence, collections.abc.MutableSequence):
            clone = copy.copy(sequence)
            for i, item in enumerate(items):
                clone[i] = item
            return clone
        return type(sequence)(items)
    except TypeError:
        return list(items)


def default_convert(data):
    """Each NumPy array or scalar in ``data`` (nested in mappings, namedtuples and
    sequences) made a tensor sharing its memory; everything else is left as it is."""
    if isinstance(data, TensorBase):
        return data
    if isinstance(data, (np.ndarray, np.generic)) and not isinstance(data, (np.str_, np.bytes_)):
        if isinstance(data, np.ndarray) and not _is_numeric_array(data):
            return data
        return _as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return _rebuild_mapping(data, lambda key: default_convert(data[key]))
    if isinstance(data, tuple) and hasattr(data, "_fields"):    # namedtuple
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuild_sequence(data, [default_convert(d) for d in data])
    return data


def collate(batch, *, collate_fn_map=None):
    """Collate ``batch``, a list of samples, element type by element type.

    ``collate_fn_map`` maps a type (or a tuple of types) to the function that collates a
    list of such elements, ``fn(batch, *, collate_fn_map)``: an exact type match wins,
    else the first key that the element is an instance of. Containers (mappings,
    namedtuples, sequences) are collated field by field with the same map.
    """
    elem = batch[0]
    if collate_fn_map is not None:
        if type(elem) in collate_fn_map:
            return collate_fn_map[type(elem)](batch, collate_fn_map=collate_fn_map)
        for key, fn in collate_fn_map.items():
            if isinstance(elem, key):
                return fn(batch, collate_fn_map=collate_fn_map)

    def sub(samples):
        return collate(samples, collate_fn_map=collate_fn_map)

    if isinstance(elem, collections.abc.Mapping):
        return _rebuild_mapping(elem, lambda key: sub([d[key] for d in batch]))
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):    # namedtuple
        return type(elem)(*(sub(samples) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(sample) != len(elem) for sample in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        fields = [sub(samples) for samples in zip(*batch)]   # tuples, as PyTorch passes them
        # A tuple gives a list, as in PyTorch (for backward compatibility there).
        return fields if isinstance(elem, tuple) else _rebuild_sequence(elem, fields)
    raise TypeError(default_collate_err_msg_format.format(type(elem)))


def collate_tensor_fn(batch, *, collate_fn_map=None):
    """Tensors stacked along a new first dimension."""
    from autogradx import stack
    return stack(batch, 0)


def collate_numpy_array_fn(batch, *, collate_fn_map=None):
    """NumPy arrays as tensors, then stacked; arrays of strings or objects are refused."""
    if not _is_numeric_array(batch[0]):
        raise TypeError(default_collate_err_msg_format.format(batch[0].dtype))
    return collate([_as_tensor(b) for b in batch], collate_fn_map=collate_fn_map)


def collate_numpy_scalar_fn(batch, *, collate_fn_map=None):
    """NumPy scalars as a 1-D tensor, their dtypes promoted as PyTorch promotes them."""
    return collate_tensor_fn([_as_tensor(b) for b in batch])


def collate_float_fn(batch, *, collate_fn_map=None):
    """Python floats as float64 (not the default float dtype), as in PyTorch."""
    from autogradx._factories import tensor
    return tensor(batch, dtype="float64")


def collate_int_fn(batch, *, collate_fn_map=None):
    """Python ints as int64 (bools as bool)."""
    from autogradx._factories import tensor
    return tensor(batch)


def collate_str_fn(batch, *, collate_fn_map=None):
    """Strings and bytes stay a list."""
    return batch


default_collate_fn_map = {
    TensorBase: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    (np.bool_, np.number, np.object_): collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def default_collate(batch):
    """Merge a list of samples into a batch: tensors, arrays and numbers become tensors
    with a new first dimension of the batch's size, containers are collated field by
    field (see the module docstring for the rules and dtypes)."""
    return collate(batch, collate_fn_map=default_collate_fn_map)
