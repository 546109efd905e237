"""Finds op plugins through entry points, validates them, and serves ops.

Loading is lazy: nothing is scanned until the first op is needed, so that
``import autogradx`` stays cheap. The built-in NumPy ops are loaded through
the same entry point group as any third-party plugin.

Plugins are loaded in priority order, and an op name registered by several plugins
goes to the first: by default autogradx's own plugins, then the others in the
alphabetical order of their entry point names; ``AUTOGRADX_PLUGIN_PRIORITY=a,b`` or
:func:`autogradx.plugin.set_priority` puts the plugins it names first, in its order.
"""

import os
import sys
import threading
import warnings

from autogradx.plugin import ENTRY_POINT_GROUP, Op, Plugin

#: Set to 1 to load only autogradx's own plugins (third-party code never runs).
DISABLE_ENV = "AUTOGRADX_DISABLE_PLUGINS"

#: Comma-separated plugin names, first choice first, for op names several plugins register.
PRIORITY_ENV = "AUTOGRADX_PLUGIN_PRIORITY"

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _warn(message):
    """A :class:`PluginWarning` shown at the user's line that loaded the plugins (its first op
    call), not at autogradx's own code or importlib's, whatever the depth in between."""
    level, frame = 2, sys._getframe(1)
    while frame is not None and (frame.f_code.co_filename.startswith(_PACKAGE_DIR)
                                 or frame.f_code.co_filename.startswith("<frozen importlib")):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, PluginWarning, stacklevel=level)

BUILTIN_DIST = "autogradx"


class PluginWarning(UserWarning):
    """A plugin failed to load or conflicts with another one."""


class PluginInfo:
    """What the registry knows of one entry point."""

    __slots__ = ("name", "value", "dist", "version", "ops", "error", "builtin")

    def __init__(self, name, value, dist, version, builtin):
        self.name, self.value, self.dist, self.version = name, value, dist, version
        self.builtin = builtin
        self.ops = []
        self.error = None

    def __repr__(self):
        state = f"failed: {self.error}" if self.error else f"{len(self.ops)} ops"
        return f"<PluginInfo {self.name!r} ({self.dist} {self.version}): {state}>"


class Registry:
    def __init__(self):
        self.ops = {}
        self.plugins = {}
        self.duplicates = []        # (op name, plugin used, plugin not used)
        self.backends = []
        self.priority = None        # set_priority's names; None: AUTOGRADX_PLUGIN_PRIORITY's
        self._lock = threading.RLock()
        self._loaded = False
        self._loading = False

    def set_priority(self, names):
        """Plugins whose ops win when several register one name, first choice first (the
        others follow in the default order). Only before the plugins load."""
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        names = [n for n in names if n]
        with self._lock:
            if (self._loaded or self._loading) and names != self.priority_order():
                raise RuntimeError(
                    "autogradx's plugins are already loaded (the first op call loads them): "
                    "set the priority before that, or with the environment variable "
                    f"{PRIORITY_ENV}")
            self.priority = names

    def priority_order(self):
        """The plugin names set first, by :meth:`set_priority` or the environment."""
        if self.priority is not None:
            return list(self.priority)
        return [n.strip() for n in os.environ.get(PRIORITY_ENV, "").split(",") if n.strip()]

    def providers(self, op_name):
        """The plugins registering ``op_name``: the one used first, then the others."""
        op = self.load().ops.get(op_name)
        if op is None:
            return []
        return [op.plugin] + [other for name, _, other in self.duplicates if name == op_name]

    def load(self):
        with self._lock:
            if self._loaded or self._loading:
                # Loaded, or loading on this thread: a plugin's import reached autogradx
                # again (e.g. ``from autogradx import testing``); it sees the ops so far.
                return self
            self._loading = True
            try:
                return self._load()
            finally:
                self._loading = False

    def _load(self):
        from importlib.metadata import entry_points

        eps = list(entry_points(group=ENTRY_POINT_GROUP))
        builtin = [ep for ep in eps if _dist_name(ep) == BUILTIN_DIST]
        others = sorted((ep for ep in eps if _dist_name(ep) != BUILTIN_DIST),
                        key=lambda ep: ep.name)
        if not builtin:
            raise ImportError(
                f"autogradx's built-in ops were not found in the {ENTRY_POINT_GROUP!r} "
                "entry points: install autogradx with pip (pip install -e .) so that its "
                "entry points are registered")
        if os.environ.get(DISABLE_ENV, "") not in ("", "0"):
            others = []
        order = self.priority_order()
        rank = {name: k for k, name in enumerate(order)}
        # sorted() is stable: unlisted plugins keep the default order (built-in first).
        eps = sorted(builtin + others, key=lambda ep: rank.get(ep.name, len(order)))
        loaded = [(info, plugin) for info, plugin in
                  (self._load_entry_point(ep, builtin=ep in builtin) for ep in eps)
                  if plugin is not None]
        for info, plugin in loaded:
            for op in plugin.ops:
                self._add(op, info, order)
        # Overrides and backends once every plugin's ops are in, whatever the order.
        for info, plugin in loaded:
            self._add_extras(info, plugin)
        self._loaded = True
        return self

    def _load_entry_point(self, ep, builtin):
        """``(info, plugin)``; plugin is None when loading failed (reported)."""
        dist = ep.dist
        info = PluginInfo(ep.name, ep.value, dist.name if dist else None,
                          dist.version if dist else None, builtin)
        self.plugins[ep.name] = info
        try:
            obj = ep.load()
            plugin = obj() if callable(obj) and not isinstance(obj, Plugin) else obj
            if not isinstance(plugin, Plugin):
                raise TypeError(
                    f"entry point {ep.value!r} gave {type(plugin).__name__}, "
                    "expected an autogradx.plugin.Plugin")
        except (Exception, SystemExit) as exc:     # a plugin's sys.exit() must not end the program
            if builtin:
                raise
            info.error = f"{type(exc).__name__}: {exc}"
            _warn(f"autogradx plugin {ep.name!r} ({ep.value}) failed to load and was skipped: "
                  f"{info.error}")
            return info, None
        # The entry point names the plugin and the distribution versions it, everywhere
        # autogradx reports them: a Plugin saying otherwise is told so, not ignored.
        if plugin.name != ep.name:
            _warn(f"autogradx plugin {ep.name!r}: its Plugin is named {plugin.name!r}, but a "
                  f"plugin is named by its entry point ({ep.name!r} in {ep.value})")
        if plugin.version is not None:
            if info.version is None:
                info.version = str(plugin.version)
            elif str(plugin.version) != info.version:
                _warn(f"autogradx plugin {ep.name!r}: Plugin(version={plugin.version!r}) differs "
                      f"from its distribution {info.dist!r}'s version {info.version!r}, which "
                      "is the one reported")
        return info, plugin

    def _add_extras(self, info, plugin):
        """``plugin``'s overrides of registered ops, and its backends."""
        for op_name, module_name, other in plugin.overrides:
            target = self.ops.get(op_name)
            if target is None:
                _warn(f"autogradx plugin {info.name!r} overrides op {op_name!r}, which no "
                      "plugin registers; skipped")
                continue
            try:
                other._set_plugin(info.name)
                target._add_override(module_name, other)
            except ValueError as exc:
                _warn(f"autogradx plugin {info.name!r}: {exc}; skipped")
        from autogradx.backends import register
        for backend in plugin.backends:
            backend.plugin = info.name
            self.backends.append(register(backend))

    def _add(self, op, info, order):
        if not isinstance(op, Op):
            _warn(f"autogradx plugin {info.name!r}: skipped {op!r}, not an Op")
            return
        existing = self.ops.get(op.name)
        if existing is not None:
            self.duplicates.append((op.name, existing.plugin, info.name))
            how = (f"the plugin priority ({PRIORITY_ENV}={','.join(order)})" if order else
                   "the default order: autogradx's own plugins, then the others by entry "
                   f"point name; set {PRIORITY_ENV} to choose")
            if existing.plugin == info.name:
                _warn(f"autogradx plugin {info.name!r} registers op {op.name!r} twice; the "
                      "first definition is used")
            else:
                _warn(f"autogradx plugins {existing.plugin!r} and {info.name!r} both register "
                      f"op {op.name!r}; {existing.plugin!r}'s is used, by {how}")
            return
        if op.plugin is not None and op.plugin != info.name:
            _warn(f"autogradx plugin {info.name!r}: op {op.name!r} already belongs to plugin "
                  f"{op.plugin!r}; skipped")
            return
        from autogradx._namespace import MODULES
        for namespace in op.namespaces:
            if namespace not in MODULES:
                _warn(f"autogradx plugin {info.name!r}: op {op.name!r} is declared in namespace "
                      f"{namespace!r}, where no module serves functions (a dotted name's prefix "
                      f"is its namespace unless namespace= is given); the namespaces are "
                      f"{', '.join(repr(n) for n in MODULES)}")
        op._set_plugin(info.name)
        self.ops[op.name] = op
        info.ops.append(op.name)

    def namespace(self, namespace):
        """``{function name: op}`` for the ops exposed in ``namespace`` (aliases included);
        the top level also gets the in-place methods that PyTorch spells as functions
        (``torch.sin_(x)``)."""
        self.load()
        out = {}
        for op in self.ops.values():
            if namespace in op.namespaces:
                for name in (op.name.rpartition(".")[2],) + op.aliases:
                    out.setdefault(name, op)
        if namespace == "":
            for name, method in self._inplace_methods().items():
                if name in TORCH_INPLACE_FUNCTIONS:
                    out.setdefault(name, method)
        return out

    def _inplace_methods(self):
        """``{method name: InplaceMethod}``: each op's in-place method, under its aliases too
        (``multiply_``, as in PyTorch)."""
        from autogradx._core.op import InplaceMethod
        out = {}
        for op in self.ops.values():
            if op.inplace:
                inplace = InplaceMethod(op)
                for name in (op.inplace,) + tuple(alias + "_" for alias in op.aliases):
                    out.setdefault(name, inplace)
        return out

    def methods(self):
        """``{method name: callable}`` for the Tensor methods ops declare (and in-place ones)."""
        self.load()
        out = {}
        for op in self.ops.values():
            if op.method:
                for name in (op.method,) + op.aliases:
                    out.setdefault(name, op)
        for name, method in self._inplace_methods().items():
            out.setdefault(name, method)
        return out


def _dist_name(ep):
    dist = getattr(ep, "dist", None)
    return dist.name if dist is not None else None


#: PyTorch's in-place functions of the ``torch`` namespace (``dir(torch)`` of PyTorch 2.13,
#: public callables ending in ``_``): the in-place methods of these names are functions of
#: ``autogradx`` too. Most in-place methods have no such function (``torch.add_`` does not
#: exist), and no rule of PyTorch's says which do, hence the list.
TORCH_INPLACE_FUNCTIONS = frozenset("""
    abs_ acos_ acosh_ addmv_ alpha_dropout_ arccos_ arccosh_ arcsin_ arcsinh_ arctan_
    arctanh_ as_strided_ asin_ asinh_ atan_ atanh_ ceil_ celu_ clamp_ clamp_max_ clamp_min_
    clip_ conj_physical_ cos_ cosh_ deg2rad_ detach_ dropout_ embedding_renorm_ erf_ erfc_
    exp2_ exp_ expm1_ feature_alpha_dropout_ feature_dropout_ fill_ fix_ floor_ frac_ gcd_ i0_
    index_put_ lcm_ ldexp_ log10_ log1p_ log2_ log_ logit_ nan_to_num_ neg_ negative_
    rad2deg_ reciprocal_ relu_ resize_as_ resize_as_sparse_ round_ rrelu_ rsqrt_ selu_
    sigmoid_ sin_ sinc_ sinh_ sqrt_ square_ tan_ tanh_ threshold_ trunc_ xlogy_ zero_
""".split())

REGISTRY = Registry()


def get_op(name):
    """The registered op called ``name``."""
    ops = REGISTRY.load().ops
    try:
        return ops[name]
    except KeyError:
        raise NotImplementedError(
            f"no op named {name!r} is registered (plugins: "
            f"{', '.join(REGISTRY.plugins) or 'none'})") from None
