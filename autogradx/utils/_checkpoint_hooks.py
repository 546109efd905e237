"""The non-reentrant checkpoint (``checkpoint(fn, *args, use_reentrant=False)``), built on
saved-tensor hooks as PyTorch's is.

``fn`` runs once, recorded as usual, under a pair of hooks whose pack hook keeps a
placeholder (a ``_Holder``) for each tensor saved for backward instead of the tensor. The
first unpack of a placeholder in a backward (a graph task) runs ``fn`` again from its saved
inputs, grad mode on, under hooks that give each placeholder its recomputed value, in the
order the tensors were saved; by default the recomputation stops as soon as every live
placeholder is filled. Each unpack takes its value out, so a recomputed tensor lives until
its one use in that backward; a second backward (``retain_graph=True``) recomputes again.
The recomputation is checked against the first run: as many tensors saved, with the same
shapes, dtypes and devices (``determinism_check="none"`` turns the second check off).
The inputs themselves are saved tensors of whatever hooks are active around the checkpoint
(an enclosing checkpoint, ``save_on_cpu``), which is how checkpoints nest.
"""

import contextlib
import itertools
import threading
import traceback
import weakref
from collections import defaultdict

from autogradx._core import saved as _saved
from autogradx._core.engine import current_graph_task_id
from autogradx._core.grad_mode import _set_grad_enabled, is_grad_enabled
from autogradx._core.opnode import on_history, saved_history
from autogradx._core.tensor import TensorBase
from autogradx._core.thread_state import carry
from autogradx._factories import default_generator
from autogradx.autograd.graph import saved_tensors_hooks

__all__ = ["CheckpointError", "GraphExecGroup", "set_checkpoint_early_stop",
           "set_checkpoint_debug_enabled", "checkpoint_without_reentrant"]


class CheckpointError(RuntimeError):
    """A recomputation that does not match the first run, or a saved tensor unpacked twice."""


_early_stop = None          # set_checkpoint_early_stop's setting, overriding early_stop=
_debug_enabled = None       # set_checkpoint_debug_enabled's setting, overriding debug=


@contextlib.contextmanager
def set_checkpoint_early_stop(enable):
    """Whether the checkpoints run (forward) under it stop recomputing as soon as every
    tensor they need is recomputed, whatever their ``early_stop=`` says."""
    global _early_stop
    prev, _early_stop = _early_stop, enable
    try:
        yield
    finally:
        _early_stop = prev


@contextlib.contextmanager
def set_checkpoint_debug_enabled(enabled):
    """Whether checkpoints run under it have ``debug=True`` (True or False), or follow their
    own ``debug=`` (None)."""
    global _debug_enabled
    prev, _debug_enabled = _debug_enabled, enabled
    try:
        yield
    finally:
        _debug_enabled = prev


_DEBUG_TIP = (
    "\nTip: To see a more detailed error message, either pass `debug=True` to\n"
    "`torch.utils.checkpoint.checkpoint(...)` or wrap the code block\n"
    "with `with torch.utils.checkpoint.set_checkpoint_debug_enabled(True):` to\n"
    "enable checkpoint-debug mode globally.\n")


def _metadata(x):
    return {"shape": x.shape, "dtype": x.dtype, "device": x.device}


_DETERMINISM_CHECKS = {"default": _metadata, "none": lambda x: None}


class _Group(threading.local):
    current = None


_group = _Group()
carry(lambda: _group.current, lambda group: setattr(_group, "current", group))


class GraphExecGroup:
    """Under one instance of this context manager, the backward calls recompute each
    (non-reentrant) checkpointed region at most once, as if they were one backward; they
    must then use disjoint saved tensors, even with ``retain_graph=True``. Not nestable."""

    def __enter__(self):
        if _group.current is not None:
            raise RuntimeError("GraphExecGroup contexts cannot be nested. Already inside "
                               f"group {_group.current}")
        _group.current = self
        return self

    def __exit__(self, *args):
        _group.current = None

    @classmethod
    def _get_current_group(cls):
        return _group.current


class _Handle:
    pass


class _Holder:
    """The placeholder packed in place of a saved tensor: per graph task, the handle under
    which the recomputed value waits (None once it was unpacked)."""

    def __init__(self):
        self.handles = {}


class _SavedInput:
    """An input of the checkpointed function, saved as an op saves a tensor: through the
    hooks active around the checkpoint, else kept with its version for the in-place check."""

    def __init__(self, t, index):
        self.index = index
        if _saved.active():
            self.packed, self.history, self.tensor = _saved.pack(t), saved_history(t), None
        else:
            self.packed, self.tensor, self.version = None, t, t._version

    def unpack(self):
        if self.packed is not None:
            return on_history(_saved.unpack(self.packed), self.history)
        t = self.tensor
        if t._version != self.version:
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: argument {self.index} of checkpoint() is at version "
                f"{t._version}; expected version {self.version} instead. The checkpointed "
                "function is recomputed from its arguments during backward; clone() them "
                "before changing them in place.")
        return t


class _StopRecomputation(Exception):
    pass


class _Frame:
    """One checkpointed call: its inputs, the placeholders of what it saved, and per graph
    task the recomputed values."""

    def __init__(self, recompute_fn, early_stop, metadata_fn, log):
        self.recompute_fn = recompute_fn
        self.early_stop = early_stop
        self.metadata_fn = metadata_fn
        self.log = log                  # _DebugLog with debug=True, else None
        self.saved_args = []
        self.weak_holders = []
        self.x_metadatas = []
        # Weak keys: a placeholder freed with its graph frees its recomputed value.
        self.recomputed = defaultdict(weakref.WeakKeyDictionary)
        self.recomp_counter = defaultdict(int)
        self.is_recomputed = defaultdict(bool)
        self.forward_completed = False
        self.ignore_saved_mismatch = False

    def save_inputs(self, args):
        self.saved_args = [_SavedInput(a, i) if isinstance(a, TensorBase) else a
                           for i, a in enumerate(args)]

    def get_inputs(self):
        return [a.unpack() if isinstance(a, _SavedInput) else a for a in self.saved_args]

    def check_recomputed_tensors_match(self, gid):
        if self.ignore_saved_mismatch:
            return
        if len(self.weak_holders) != self.recomp_counter[gid]:
            raise CheckpointError(
                "torch.utils.checkpoint: A different number of tensors was saved during the "
                "original forward and recomputation.\n"
                f"Number of tensors saved during forward: {len(self.weak_holders)}\n"
                f"Number of tensors saved during recomputation: {self.recomp_counter[gid]}.\n"
                f"{_DEBUG_TIP}")
        mismatched = ""
        for idx, weak_holder in enumerate(self.weak_holders):
            holder = weak_holder()
            if holder is None:
                continue
            x_meta = self.x_metadatas[idx]
            recomputed_meta = self.metadata_fn(self.recomputed[gid][holder.handles[gid]])
            if x_meta != recomputed_meta:
                mismatched += (f"tensor at position {idx}:\nsaved metadata: {x_meta}\n"
                               f"recomputed metadata: {recomputed_meta}\n")
        if mismatched:
            raise CheckpointError(
                "torch.utils.checkpoint: Recomputed values for the following tensors have "
                f"different metadata than during the forward pass.\n{mismatched}.\n{_DEBUG_TIP}")


class _checkpoint_hook(saved_tensors_hooks):
    """The hooks of the first run: a placeholder for each saved tensor."""

    def __init__(self, frame):
        def pack_hook(x):
            holder = _Holder()
            frame.weak_holders.append(weakref.ref(holder))
            if frame.metadata_fn is not None:
                frame.x_metadatas.append(frame.metadata_fn(x))
            if frame.log is not None:
                frame.log.record("forward", x)
            return holder

        def unpack_hook(holder):
            gid = GraphExecGroup._get_current_group()
            if gid is None:
                gid = current_graph_task_id()
            if gid == -1:
                gid = next(_outside_backward)   # grad_fn._saved_* read outside a backward
            if not frame.is_recomputed[gid]:
                args = frame.get_inputs()
                prev = _set_grad_enabled(True)
                try:
                    with _recomputation_hook(weakref.ref(frame), gid):
                        frame.recompute_fn(*args)
                except _StopRecomputation:
                    pass
                finally:
                    _set_grad_enabled(prev)
                frame.is_recomputed[gid] = True
                frame.check_recomputed_tensors_match(gid)
            if gid not in holder.handles:
                raise CheckpointError(
                    "torch.utils.checkpoint: a saved tensor was not recomputed (its place was "
                    "freed during the recomputation)")
            if holder.handles[gid] is None:
                extra = ("Performing two backward calls that overlap (i.e. require the same "
                         "saved activation in order to compute gradients) is not allowed while "
                         "under the torch.utils.checkpoint.GraphExecGroup context. "
                         if isinstance(gid, GraphExecGroup) else "")
                raise CheckpointError(
                    "torch.utils.checkpoint: Unpack is being triggered for a tensor that was "
                    f"already unpacked once. {extra}If you are calling ctx.saved_tensors in "
                    "backward, make sure to do so only once. Otherwise please open an issue "
                    "with details on your use case.")
            ret = frame.recomputed[gid].pop(holder.handles[gid])
            holder.handles[gid] = None
            return ret

        if frame.log is not None:
            def unpack_hook_debug(holder):
                try:
                    return unpack_hook(holder)
                except CheckpointError as e:
                    raise CheckpointError(frame.log.report()) from e
            super().__init__(pack_hook, unpack_hook_debug)
        else:
            super().__init__(pack_hook, unpack_hook)


# Graph-task ids for unpacks outside any backward (PyTorch draws a random one): negative,
# so that they never meet the engine's.
_outside_backward = itertools.count(-2, -1)


class _recomputation_hook(saved_tensors_hooks):
    """The hooks of the recomputation: each saved tensor fills the next placeholder."""

    def __init__(self, frame_ref, gid):
        def pack_hook(x):
            x = x.detach() if x.requires_grad else x
            frame = frame_ref()
            idx = frame.recomp_counter[gid]
            frame.recomp_counter[gid] += 1
            if frame.log is not None:
                frame.log.record("recompute", x)
            if idx >= len(frame.weak_holders):
                if not frame.forward_completed:
                    # backward inside the checkpointed function, early stop off
                    frame.ignore_saved_mismatch = True
                    return x
                raise CheckpointError(
                    "torch.utils.checkpoint: trying to save more tensors during recomputation "
                    f"than during the original forward pass.\n{_DEBUG_TIP}")
            holder = frame.weak_holders[idx]()
            if holder is not None:      # else its graph was freed already: nothing to keep
                holder.handles[gid] = _Handle()
                frame.recomputed[gid][holder.handles[gid]] = x
            if frame.early_stop and frame.recomp_counter[gid] == len(frame.weak_holders):
                raise _StopRecomputation
            return x

        super().__init__(pack_hook, lambda x: x)


class _DebugLog:
    """With debug=True: each tensor saved in the first run and in the recomputation, and
    where it was saved, for the error message. (PyTorch logs every operator with a
    dispatch mode; autogradx logs the saves, which are what the checks compare.)"""

    def __init__(self):
        self.entries = {"forward": [], "recompute": []}

    def record(self, phase, x):
        where = [f for f in traceback.extract_stack()[:-3]
                 if "autogradx" not in f.filename.replace("\\", "/").split("/site-packages/")[-1]
                 or "/tests/" in f.filename]
        self.entries[phase].append((f"saved {tuple(x.shape)} {x.dtype} on {x.device}", where))

    def _traces(self, phase):
        out = ""
        entries = self.entries[phase]
        for i, (what, where) in enumerate(entries):
            out += f"{what}   ({i + 1} of {len(entries)} in {phase})\n\n"
            out += "".join(f"{f.filename}:{f.lineno}:{f.name}\n" for f in where) + "\n\n"
        return out

    def report(self):
        return _DEBUG_REPORT.format(
            forward_traces=self._traces("forward"),
            recompute_traces=self._traces("recompute"),
            forward_ops="\n".join(w for w, _ in self.entries["forward"]),
            recompute_ops="\n".join(w for w, _ in self.entries["recompute"]))


_DEBUG_REPORT = """\
An error happened while unpacking tensors; dumping logs of latest computation
because you passed `debug=True` to `torch.utils.checkpoint.checkpoint()`.
Scroll all the way down for guidance on how to navigate these logs.

+------------------------------------------------------------------------------+
|        1. Stack traces of the tensors saved in the original forward          |
+------------------------------------------------------------------------------+

{forward_traces}
+------------------------------------------------------------------------------+
|        2. Stack traces of the tensors saved during recomputation             |
+------------------------------------------------------------------------------+

{recompute_traces}
+------------------------------------------------------------------------------+
|       3. Log of tensors saved in the original forward and recomputation      |
+------------------------------------------------------------------------------+

Saved during the original forward:
{forward_ops}

Saved during recomputation:
{recompute_ops}

+------------------------------------------------------------------------------+
 ERROR: Detected non-determinism while running activation checkpointing

 You are seeing this error because you passed `debug=True` to checkpoint and
 tensors to be saved during the original forward and differ between those saved
 during recomputation. This can happen if different operators were ran in the
 original forward and in the recomputation.

 To identify where the mismatch may be coming from, compare the tensors saved
 in the original forward and in the recomputation (listed above in the order
 they were saved), and the stack traces of where each was saved.
--------------------------------------------------------------------------------
"""


def _noop_context_fn():
    return contextlib.nullcontext(), contextlib.nullcontext()


def checkpoint_without_reentrant(function, preserve_rng_state, context_fn, determinism_check,
                                 debug, early_stop, args, kwargs):
    """``function(*args, **kwargs)`` under the first run's hooks (see the module docstring)."""
    log = None
    if _debug_enabled if _debug_enabled is not None else debug:
        if context_fn is not _noop_context_fn:
            raise ValueError("debug=True is incompatible with non-default context_fn")
        log = _DebugLog()
    if determinism_check not in _DETERMINISM_CHECKS:
        raise ValueError(
            f"determinism_check should be one of {list(_DETERMINISM_CHECKS)}, but got "
            f"{determinism_check}")
    forward_context, recompute_context = context_fn()
    rng_state = default_generator.rng.bit_generator.state if preserve_rng_state else None

    def recompute_fn(*inputs):
        saved_rng = default_generator.rng.bit_generator.state
        if rng_state is not None:
            default_generator.rng.bit_generator.state = rng_state
        try:
            with recompute_context:
                function(*inputs, **kwargs)
        finally:
            default_generator.rng.bit_generator.state = saved_rng

    if not is_grad_enabled():
        return function(*args, **kwargs)
    frame = _Frame(recompute_fn, _early_stop if _early_stop is not None else early_stop,
                   _DETERMINISM_CHECKS[determinism_check], log)
    frame.save_inputs(args)
    with _checkpoint_hook(frame), forward_context:
        result = function(*args, **kwargs)
    frame.forward_completed = True
    return result
