"""``Optimizer``: the base of SGD, Adam, ...: parameter groups, per-parameter
state, ``zero_grad``, ``step`` and state dicts, as in PyTorch.

Updates run outside the graph, in place on the parameters' arrays (NumPy or
CuPy alike): no node is recorded and the parameters stay leaves. State tensors
(``exp_avg``, ``momentum_buffer``, ...) are autogradx tensors, so that state
dicts look like PyTorch's and go through ``autogradx.save``.
"""

import copy
import warnings
from collections import defaultdict
from itertools import chain

from autogradx import _factories
from autogradx._core.dispatch import get_array_module
from autogradx._core.tensor import TensorBase
from autogradx.grad_mode import enable_grad, no_grad
from autogradx.nn.modules.module import _typename, _zero_grad

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """The default of an option that every parameter group must give (SGD's ``lr`` once)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


class Optimizer:
    """Base class: subclasses define ``_update(param, grad, state, group)``, which
    changes the array ``param`` in place from the array ``grad``.

    ``params`` is an iterable of tensors, or of dicts (parameter groups) with a
    ``"params"`` entry and options that override ``defaults`` for that group.
    """

    def __init__(self, params, defaults):
        if isinstance(params, TensorBase):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got " + _typename(params))
        self.defaults = defaults
        self.state = defaultdict(dict)
        self.param_groups = []
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group):
        """Add a group of parameters with its own options (fine-tuning a layer, say)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, TensorBase):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        params = list(params)
        for p in params:
            if not isinstance(p, TensorBase):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + _typename(p))
            if not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        group = dict(param_group, params=params)
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            group.setdefault(name, default)
        if len(params) != len(set(params)):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "in future, this will cause an error; see "
                          "github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        existing = set(chain.from_iterable(g["params"] for g in self.param_groups))
        if not existing.isdisjoint(params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        """Reset the gradients of all parameters: to None, or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                _zero_grad(p, set_to_none)

    def step(self, closure=None):
        """Update every parameter that has a gradient. ``closure``, if given, is
        called first (with grad enabled) to recompute the loss, which is returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state.get(p)
                    if state is None:       # first step: only stateful optimizers keep an entry
                        state = {}
                        self._init_state(state, p, group)
                    self._update(p._data, p.grad._data, state, group)
                    p._bump_version()
                    if state:
                        self.state[p] = state
        self._opt_called = True     # lets a scheduler warn when it steps first
        return loss

    def _init_state(self, state, param, group):
        """Fill the state of ``param`` before its first update (nothing by default)."""

    def _update(self, param, grad, state, group):
        raise NotImplementedError

    # -- state dicts --------------------------------------------------------------------

    def state_dict(self):
        """``{"state": {index: {...}}, "param_groups": [{options, "params": [index, ...]}]}``,
        parameters numbered in group order (PyTorch's layout)."""
        index = {}
        groups = []
        for group in self.param_groups:
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)] if isinstance(p, TensorBase) else p: v
                 for p, v in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore options and state saved by ``state_dict()`` (of an optimizer over
        parameters of the same shapes, in the same group layout)."""
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"])
               for g, s in zip(self.param_groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        by_index = dict(zip(chain.from_iterable(s["params"] for s in saved_groups),
                            chain.from_iterable(g["params"] for g in self.param_groups)))
        state = defaultdict(dict)
        for key, value in state_dict["state"].items():
            if key in by_index:
                param = by_index[key]
                state[param] = {k: _cast_state(param, k, v) for k, v in value.items()}
            else:
                state[key] = value
        for group, saved in zip(self.param_groups, saved_groups):
            saved["params"] = group["params"]
        self.state = state
        self.param_groups = saved_groups

    def __repr__(self):
        text = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"


def _cast_state(param, key, value):
    """A copy of a loaded state tensor with the parameter's dtype (``step`` stays as saved)."""
    if not isinstance(value, TensorBase):
        return value
    if key != "step" and param.is_floating_point():
        return value.detach().to(param.dtype, copy=True)
    return value.detach().clone()


def zeros_state(param):
    """A zero state tensor shaped and typed like ``param``, on its device."""
    return _factories._wrap(get_array_module(param._data).zeros_like(param._data))


def step_state():
    """The step counter PyTorch keeps in the state: a float32 0-d tensor (on the CPU)."""
    return _factories.tensor(0.0)


def increment(step):
    """Add one to a step counter tensor in place; return the new count."""
    step._data += 1
    return float(step._data)
