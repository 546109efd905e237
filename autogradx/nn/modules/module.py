"""``nn.Module``: the base class of layers and models, as in PyTorch.

A module keeps its parameters, buffers and submodules in three ordered dicts
filled by ``__setattr__``; everything else (``parameters()``, ``state_dict()``,
``train()``, ``to()``, the repr) walks them.
"""

import itertools
from collections import OrderedDict, namedtuple

from autogradx import _dtype
from autogradx._core.node import _HookDict, add_hook
from autogradx._core.dispatch import get_array_module
from autogradx._core.tensor import TensorBase
from autogradx.grad_mode import no_grad
from autogradx.nn.modules._backward_hooks import BackwardHook
from autogradx.nn.parameter import Parameter

__all__ = ["Module"]


def _typename(obj):
    """PyTorch's ``torch.typename``: ``torch.FloatTensor`` for tensors, else the type's path."""
    if isinstance(obj, TensorBase):
        return obj.type()
    module = type(obj).__module__
    name = type(obj).__qualname__
    return name if module == "builtins" else f"{module}.{name}"


def _addindent(text, spaces):
    """Indent every line but the first (blank lines stay empty)."""
    first, *rest = text.split("\n")
    if not rest:
        return text
    return "\n".join([first] + [" " * spaces + line if line.strip() else "" for line in rest])


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys it did not match."""

    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class Module:
    """Base class of all layers and models.

    Subclasses call ``super().__init__()`` first, assign parameters and
    submodules as attributes and define ``forward``; calling the module runs
    ``forward`` (with any hooks).
    """

    training: bool

    def __init__(self):
        # Set through object.__setattr__: our __setattr__ needs these dicts to exist.
        for name, value in (("training", True), ("_parameters", OrderedDict()),
                            ("_buffers", OrderedDict()), ("_non_persistent_buffers_set", set()),
                            ("_modules", OrderedDict()), ("_forward_pre_hooks", _HookDict()),
                            ("_forward_hooks", _HookDict()), ("_backward_hooks", _HookDict()),
                            ("_backward_pre_hooks", _HookDict())):
            object.__setattr__(self, name, value)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args, **kwargs):
        if not (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks
                or self._backward_pre_hooks):
            return self.forward(*args, **kwargs)
        for hook in list(self._forward_pre_hooks.values()):
            new = hook(self, args)
            if new is not None:
                args = new if isinstance(new, tuple) else (new,)
        backward_hook = None
        if self._backward_hooks or self._backward_pre_hooks:
            backward_hook = BackwardHook(self, list(self._backward_hooks.values()),
                                         list(self._backward_pre_hooks.values()))
            args = backward_hook.setup_input_hook(args)
        result = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            new = hook(self, args, result)
            if new is not None:
                result = new
        if backward_hook is not None:
            result = backward_hook.setup_output_hook(result)
        return result

    def register_forward_pre_hook(self, hook):
        """``hook(module, args)`` runs before ``forward``; it may return new args.
        Returns a handle whose ``remove()`` unregisters it."""
        return add_hook(self._forward_pre_hooks, hook)

    def register_forward_hook(self, hook):
        """``hook(module, args, output)`` runs after ``forward``; it may return a new output.
        Returns a handle whose ``remove()`` unregisters it."""
        return add_hook(self._forward_hooks, hook)

    def register_full_backward_pre_hook(self, hook):
        """``hook(module, grad_output)`` runs when the gradients of the module's outputs are
        known; it may return new ``grad_output``. Returns a handle whose ``remove()``
        unregisters it."""
        return add_hook(self._backward_pre_hooks, hook)

    def register_full_backward_hook(self, hook):
        """``hook(module, grad_input, grad_output)`` runs when the gradients of the module's
        positional tensor arguments are known (with ``grad_input`` all None when none requires
        grad); it may return new ``grad_input``. Returns a handle whose ``remove()``
        unregisters it."""
        return add_hook(self._backward_hooks, hook)

    # -- registration -----------------------------------------------------------------

    def _check_new_name(self, kind, name, table):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {kind} before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {_typename(name)}")
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain "."')
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')
        if hasattr(self, name) and name not in table:
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name, param):
        """Add ``param`` (a Parameter, or None) as the parameter ``name``."""
        self._check_new_name("parameter", name, self.__dict__.get("_parameters", {}))
        if param is not None:
            if not isinstance(param, Parameter):
                raise TypeError(f"cannot assign '{_typename(param)}' object to parameter "
                                f"'{name}' (torch.nn.Parameter or None required)")
            if param.grad_fn is not None:
                raise ValueError(
                    f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters "
                    f"must be created explicitly. To express '{name}' as a function of another "
                    f"Tensor, compute the value in the forward() method.")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Add ``tensor`` (or None) as the buffer ``name``: state that is not a parameter.

        Persistent buffers are part of ``state_dict()``.
        """
        self._check_new_name("buffer", name, self.__dict__.get("_buffers", {}))
        if tensor is not None and not isinstance(tensor, TensorBase):
            raise TypeError(f"cannot assign '{_typename(tensor)}' object to buffer '{name}' "
                            f"(torch Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name, module):
        """Add ``module`` (or None) as the child ``name``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        self._check_new_name("module", name, self.__dict__.get("_modules", {}))
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name, value):
        d = self.__dict__
        params, buffers, modules = d.get("_parameters"), d.get("_buffers"), d.get("_modules")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name, d, buffers, modules, self._non_persistent_buffers_set)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as parameter '{name}' "
                                f"(torch.nn.Parameter or None expected)")
            params[name] = None
        elif isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._forget(name, d, params, buffers, self._non_persistent_buffers_set)
            modules[name] = value
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as child module '{name}' "
                                f"(torch.nn.Module or None expected)")
            modules[name] = None
        elif buffers is not None and name in buffers:
            if value is not None and not isinstance(value, TensorBase):
                raise TypeError(f"cannot assign '{_typename(value)}' as buffer '{name}' "
                                f"(torch.nn.Buffer, torch.Tensor or None expected)")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    @staticmethod
    def _forget(name, *tables):
        for table in tables:
            if isinstance(table, dict):
                table.pop(name, None)
            else:
                table.discard(name)

    def __getattr__(self, name):
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            if table in d and name in d[table]:
                return d[table][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))

    # -- traversal --------------------------------------------------------------------

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """``(name, module)`` for this module and every module below it, each once."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if self in memo:
                return
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(
                    memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        """``(name, module)`` for the direct children, each once."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and module not in seen:
                seen.add(module)
                yield name, module

    def children(self):
        for _, module in self.named_children():
            yield module

    def _named_members(self, table, prefix, recurse, remove_duplicate):
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        seen = set()
        for module_prefix, module in modules:
            for name, value in getattr(module, table).items():
                if value is None or (remove_duplicate and value in seen):
                    continue
                if remove_duplicate:
                    seen.add(value)
                yield module_prefix + ("." if module_prefix else "") + name, value

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """``(dotted name, parameter)`` for this module's parameters and, with
        ``recurse``, those of every submodule; a shared parameter comes once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def get_submodule(self, target):
        """The submodule at the dotted path ``target`` ("" is this module)."""
        module = self
        for item in target.split(".") if target else []:
            if not hasattr(module, item):
                raise AttributeError(f"{module._get_name()} has no attribute `{item}`")
            module = getattr(module, item)
            if not isinstance(module, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return module

    def get_parameter(self, target):
        """The parameter at the dotted path ``target``."""
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if not hasattr(module, name):
            raise AttributeError(f"{module._get_name()} has no attribute `{name}`")
        param = getattr(module, name)
        if not isinstance(param, Parameter):
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return param

    def apply(self, fn):
        """Call ``fn`` on every submodule (children first), then on this module."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # -- modes and gradients ----------------------------------------------------------

    def train(self, mode=True):
        """Set training mode (dropout active) on this module and all below it."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self):
        """Set evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Reset the gradients of all parameters: to None, or to zeros in place."""
        for p in self.parameters():
            _zero_grad(p, set_to_none)

    # -- state ------------------------------------------------------------------------

    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        """An ordered dict of parameters and persistent buffers by dotted name.

        Values share storage with the module (detached unless ``keep_vars``).
        """
        if args:
            raise TypeError("state_dict() takes its arguments by keyword only")
        if destination is None:
            destination = OrderedDict()
        for name, value in itertools.chain(self._parameters.items(), self._buffers.items()):
            if value is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = value if keep_vars else value.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".",
                                  keep_vars=keep_vars)
        return destination

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy values from ``state_dict`` into the parameters and buffers, in place.

        With ``strict``, missing and unexpected keys raise PyTorch's error;
        otherwise they are returned as ``(missing_keys, unexpected_keys)``.
        ``assign=True`` makes the module hold the given tensors instead.
        """
        if not isinstance(state_dict, dict):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing, unexpected, errors = [], [], []
        self._load(dict(state_dict), "", assign, missing, unexpected, errors)
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in unexpected)))
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in missing)))
        if errors:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
                type(self).__name__, "\n\t".join(errors)))
        return _IncompatibleKeys(missing, unexpected)

    def _load(self, state_dict, prefix, assign, missing, unexpected, errors):
        local = {k: v for k, v in itertools.chain(self._parameters.items(), self._buffers.items())
                 if v is not None and k not in self._non_persistent_buffers_set}
        for name, target in local.items():
            key = prefix + name
            if key not in state_dict:
                missing.append(key)
                continue
            source = state_dict[key]
            if not isinstance(source, TensorBase):
                errors.append(f'While copying the parameter named "{key}", expected torch.Tensor '
                              f"or Tensor-like object from checkpoint but received {type(source)}")
            elif source.shape != target.shape:
                errors.append(f"size mismatch for {key}: copying a param with shape "
                              f"{source.shape} from checkpoint, the shape in current model is "
                              f"{target.shape}.")
            elif assign:
                if isinstance(target, Parameter) and not isinstance(source, Parameter):
                    source = Parameter(source, requires_grad=target.requires_grad)
                setattr(self, name, source)
            else:
                _copy_into(target, source)
        for key in state_dict:
            if key.startswith(prefix):
                head = key[len(prefix):].split(".", 1)[0]
                if head not in self._modules and head not in local:
                    unexpected.append(key)
        for name, module in self._modules.items():
            if module is not None:
                child = prefix + name + "."
                module._load({k: v for k, v in state_dict.items() if k.startswith(child)},
                             child, assign, missing, unexpected, errors)

    # -- conversion -------------------------------------------------------------------

    def _apply(self, convert):
        """Give every parameter, gradient and buffer the storage of ``convert(tensor)``,
        keeping the tensor objects (so optimizers holding them stay valid)."""
        with no_grad():
            for module in self.modules():
                for t in itertools.chain(module._parameters.values(), module._buffers.values()):
                    if t is not None:
                        t._data = convert(t.detach())._data
                        if t.grad is not None:
                            t.grad._data = convert(t.grad.detach())._data
        return self

    def to(self, *args, **kwargs):
        """Move and/or cast parameters and buffers in place: ``to(device)``,
        ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)``. A dtype applies
        to floating-point and complex tensors only, as in PyTorch."""
        from autogradx._tensor import _parse_to
        dtype, device, _ = _parse_to(args, kwargs)
        if dtype is not None:
            dtype = _dtype.from_numpy_dtype(_dtype.as_numpy_dtype(dtype))
        if dtype is not None and not (dtype.is_floating_point or dtype.is_complex):
            raise TypeError(f"nn.Module.to only accepts floating point or complex dtypes, "
                            f"but got desired dtype={dtype}")

        def convert(t):
            cast = t.dtype.is_floating_point or t.dtype.is_complex
            return t.to(device=device, dtype=dtype if cast else None)
        return self._apply(convert)

    def float(self):
        """Cast floating-point parameters and buffers to float32."""
        return self._apply(lambda t: t.float() if t.is_floating_point() else t)

    def double(self):
        """Cast floating-point parameters and buffers to float64."""
        return self._apply(lambda t: t.double() if t.is_floating_point() else t)

    def half(self):
        """Cast floating-point parameters and buffers to float16."""
        return self._apply(lambda t: t.half() if t.is_floating_point() else t)

    def cpu(self):
        return self

    def cuda(self, device=None):
        return self.to("cuda" if device is None else device)

    # -- repr -------------------------------------------------------------------------

    def extra_repr(self):
        """The text inside the parentheses of this module's repr (override it)."""
        return ""

    def _get_name(self):
        return type(self).__name__

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({key}): " + _addindent(repr(module), 2)
                       for key, module in self._modules.items()]
        lines = extra_lines + child_lines
        text = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                text += extra_lines[0]
            else:
                text += "\n  " + "\n  ".join(lines) + "\n"
        return text + ")"


def _zero_grad(param, set_to_none):
    """Drop a parameter's gradient, or zero it in place (out of any graph)."""
    if param.grad is None:
        return
    if set_to_none:
        param.grad = None
        return
    grad = param.grad
    if grad.grad_fn is not None:        # a gradient built with create_graph=True
        grad.detach_()
    else:
        grad.requires_grad_(False)
    with no_grad():
        grad.zero_()


def _copy_into(target, source):
    """``target.copy_(source)`` without recording: cast to the target's dtype, in place."""
    target._data[...] = get_array_module(target._data).asarray(source._data)
    target._bump_version()
