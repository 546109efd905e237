"""Sphinx extension of the autogradx docs.

- ``autogradx-ops MODULE``: the reference of the ops the registry exposes in a
  module (``autogradx``, ``autogradx.nn.functional``, ...), one section per op
  family, from the ops' forward docstrings: no op list is kept by hand.
- ``autogradx-tensor-methods``: the same for the Tensor methods ops declare.
- ``autogradx-script PATH``: a script split at its ``# In [N]:`` markers, each
  cell shown with what it prints, run at build time.
- Markdown fences titled ``title="file name"`` show the title as a caption.
- A check, once every page is read, that each public name of the modules in
  ``autogradx_public_modules`` (and of ``autogradx.Tensor``) has an entry:
  a name added to the API without documentation fails the ``-W`` build.
"""

import contextlib
import importlib
import inspect
import io
import re
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

import autogradx
from autogradx._core.op import InplaceMethod
from autogradx._registry import REGISTRY, TORCH_INPLACE_FUNCTIONS
from autogradx.plugin import Op

logger = logging.getLogger(__name__)

# Section titles of the built-in op families (the modules of autogradx.ops); a
# family not named here is titled after its module.
FAMILY_TITLES = {
    "elementwise": "Elementwise math",
    "reductions": "Reductions",
    "shape": "Shape and layout",
    "indexing": "Indexing",
    "linalg": "Linear algebra",
    "activations": "Activations",
    "losses": "Losses",
    "conv": "Convolution and pooling",
    "conversion": "Conversion",
}

CELL = re.compile(r"^# In \[(\d+)\]:\n", re.M)
TITLED_FENCE = re.compile(r'^```(\w+) title="([^"]+)"[ \t]*$', re.M)


def builtin_ops():
    """The registry's ops from autogradx's own plugins, in registration order."""
    registry = REGISTRY.load()
    builtin = {name for name, info in registry.plugins.items() if info.builtin}
    return [op for op in registry.ops.values() if op.plugin in builtin]


def call_signature(op, method=False):
    """The signature callers use: the parser's for an op with one, else the
    forward's without ``xp`` and with the inputs under their op names
    (``input``, ``other``); for a method, without its first input."""
    if op.parse is not None:
        sig = inspect.signature(op.parse)
        params = list(sig.parameters.values())
    else:
        sig = inspect.signature(op.forward)
        params = list(sig.parameters.values())[1:]
        names = [name.lstrip("*") for name in op.inputs]
        params = [p.replace(name=names[i]) if i < len(names) else p
                  for i, p in enumerate(params)]
    if method and params and params[0].kind in (params[0].POSITIONAL_ONLY,
                                                 params[0].POSITIONAL_OR_KEYWORD):
        params = params[1:]
    return str(sig.replace(parameters=params))


def method_names(op):
    """``(methods, in-place methods)`` that ``op`` gives Tensor, aliases included, less
    those the Tensor class defines itself (they win, as at run time)."""
    methods = (op.method,) + op.aliases if op.method else ()
    inplace = (op.inplace,) + tuple(alias + "_" for alias in op.aliases) if op.inplace else ()
    own = autogradx.Tensor.__dict__
    return [n for n in methods if n not in own], [n for n in inplace if n not in own]


def inplace_functions(op):
    """The in-place methods of ``op`` that are also functions of ``autogradx``
    (``autogradx.sin_``), as in PyTorch."""
    names = (op.inplace,) + tuple(alias + "_" for alias in op.aliases) if op.inplace else ()
    return [n for n in names if n in TORCH_INPLACE_FUNCTIONS]


def by_family(ops):
    """``[(family, [ops])]`` grouped by the module that defines each op's forward."""
    groups = {}
    for op in ops:
        family = op.forward.__module__.rpartition(".")[2]
        groups.setdefault(family, []).append(op)
    return list(groups.items())


def family_sections(ops, entries):
    """RST lines of one section per op family: its title, its module's first paragraph,
    then the entries ``entries(op)`` gives for each of its ops."""
    lines = []
    for family, members in by_family(ops):
        title = FAMILY_TITLES.get(family, family.capitalize())
        lines += [title, "-" * len(title), ""]
        module_doc = inspect.getmodule(members[0].forward).__doc__
        if module_doc:
            lines += [inspect.cleandoc(module_doc).split("\n\n")[0], ""]
        for op in members:
            lines += entries(op)
    return lines


def entry(kind, name, signature, module, body):
    """One ``py:function``/``py:method``/... entry, as RST lines (``module`` None: the
    enclosing one)."""
    lines = [f".. py:{kind}:: {name}{signature}"]
    lines += [f"   :module: {module}", ""] if module else [""]
    lines += ["   " + line if line else "" for line in body.splitlines()]
    return lines + [""]


def op_body(op):
    """An op's documentation: its forward's docstring, then its backward node."""
    doc = inspect.cleandoc(op.doc) if op.doc.strip() else "(No description yet.)"
    differentiable = op.vjp is not None or op.vjps is not None
    if not differentiable:
        note = "Not differentiable."
    elif isinstance(op.grad_fn, str):
        note = f"Backward node ``{op.grad_fn}``."
    else:
        note = "The backward node's name depends on the call."
    return f"{doc}\n\n{note}"


class GeneratedRstDirective(SphinxDirective):
    """Shared by the directives that write RST: parses it into the page."""

    def render(self, lines):
        container = nodes.container()
        nested_parse_with_titles(self.state, StringList(lines, source=self.get_source_info()[0]),
                                 container)
        return container.children


class OpsDirective(GeneratedRstDirective):
    """``.. autogradx-ops:: autogradx.nn.functional``: the functions of one namespace."""

    required_arguments = 1

    def run(self):
        module = self.arguments[0]
        namespace = module.removeprefix("autogradx").removeprefix(".")
        ops = [op for op in builtin_ops()
               if namespace in op.namespaces or namespace == "" and inplace_functions(op)]
        if not ops:
            return self.render(["autogradx itself has no ops here: plugins add them.", ""])

        def entries(op):
            name = op.name.rpartition(".")[2]
            lines = []
            if namespace in op.namespaces:
                lines += entry("function", name, call_signature(op), module, op_body(op))
                for alias in op.aliases:
                    lines += entry("function", alias, call_signature(op), module,
                                   f"Alias of :func:`{name}`.")
            for inplace in inplace_functions(op) if namespace == "" else ():
                lines += entry("function", inplace, call_signature(op), module,
                               f"In-place version of ``{name}``, as ``Tensor.{inplace}``.")
            return lines

        return self.render(family_sections(ops, entries))


class TensorMethodsDirective(GeneratedRstDirective):
    """``.. autogradx-tensor-methods::``: the Tensor methods that ops declare."""

    def run(self):
        ops = [op for op in builtin_ops() if any(method_names(op))]

        def entries(op):
            methods, inplace = method_names(op)
            lines = []
            for name in methods:
                body = op_body(op) if name == op.method else f"Alias of :meth:`{op.method}`."
                lines += entry("method", f"Tensor.{name}", call_signature(op, True),
                               "autogradx", body)
            body = f"In-place version of :meth:`{op.method}`." if op.method else op_body(op)
            for name in inplace:
                lines += entry("method", f"Tensor.{name}", call_signature(op, True),
                               "autogradx", body)
            return lines

        return self.render(family_sections(ops, entries))


class DtypesDirective(GeneratedRstDirective):
    """``.. autogradx-dtypes::``: the dtype objects of ``autogradx``, aliases together."""

    def run(self):
        names = {}
        for name in dir(autogradx):
            value = getattr(autogradx, name)
            if isinstance(value, autogradx.dtype):
                names.setdefault(value, []).append(name)
        lines = []
        for value, aliases in names.items():
            lines += [f".. py:data:: {value.name}", "   :module: autogradx", "",
                      f"   Prints as ``{value!r}``; NumPy's ``{value.numpy}``.", ""]
            for alias in sorted(set(aliases) - {value.name}):
                lines += [f".. py:data:: {alias}", "   :module: autogradx", "",
                          f"   Alias of :data:`{value.name}`.", ""]
        return self.render(lines)


class ReexportsDirective(GeneratedRstDirective):
    """``.. autogradx-reexports:: autogradx.autograd``: entries for the public names of
    a module that are ``autogradx``'s own objects, pointing to their documentation."""

    required_arguments = 1

    def run(self):
        module = importlib.import_module(self.arguments[0])
        lines = []
        for name in module.__all__:
            value = getattr(module, name)
            if getattr(autogradx, name, None) is value:
                kind = "class" if inspect.isclass(value) else "function"
                lines += entry(kind, name, "", module.__name__,
                               f"The same object as :obj:`autogradx.{name}`.")
        return self.render(lines)


def embedded_signature(doc, prefix):
    """``(signature, rest)`` of a docstring that starts with the signature Cython embeds
    (``OpDef(str name, bool view=False)`` -> ``(name, view=False)``), C types dropped."""
    first, _, rest = inspect.cleandoc(doc).partition("\n\n")
    if not first.startswith(prefix + "("):
        return "", inspect.cleandoc(doc)
    signature = first.removeprefix(prefix).replace("(self, ", "(").replace("(self)", "()")
    return re.sub(r"\b(?:str|bool|int|double|object|tuple|list|dict) (?=\w)", "",
                  signature), rest


class CompiledClassDirective(GeneratedRstDirective):
    """``.. autogradx-compiled-class:: autogradx.plugin.Op``: a compiled class exported
    under another name, documented under that name (autodoc would only say "alias of"
    the private class), with its public methods."""

    required_arguments = 1

    def run(self):
        module_name, _, name = self.arguments[0].rpartition(".")
        cls = getattr(importlib.import_module(module_name), name)
        # The class's docstring opens with its signature under the exported name (written by
        # hand in the .pyx: Cython's embedded one misplaced the keyword-only marker).
        signature, body = embedded_signature(cls.__doc__, name)
        lines = entry("class", name, signature, module_name, body)
        for attr, value in vars(cls).items():
            if not attr.startswith("_") and callable(value) and value.__doc__:
                signature, body = embedded_signature(value.__doc__, f"{cls.__name__}.{attr}")
                lines += ["   " + line if line else "" for line in
                          entry("method", attr, signature, None, body)]
        return self.render(lines)


def run_cells(source, seed):
    """``[(code, printed text)]`` for each ``# In [N]:`` cell of ``source``, run in
    order in one namespace after ``autogradx.manual_seed(seed)``."""
    parts = CELL.split(source)
    namespace = {"__name__": "__main__"}
    autogradx.manual_seed(seed)
    cells = []
    for number, code in zip(parts[1::2], parts[2::2]):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"<cell {number}>", "exec"), namespace)
        cells.append((code.strip(), out.getvalue()))
    return cells


class ScriptDirective(SphinxDirective):
    """``.. autogradx-script:: ../examples/tutorial.py``: each cell and what it prints."""

    required_arguments = 1
    option_spec = {"seed": directives.nonnegative_int}

    def run(self):
        rel, path = self.env.relfn2path(self.arguments[0])
        self.env.note_dependency(rel)
        try:
            cells = run_cells(Path(path).read_text(), self.options.get("seed", 0))
        except Exception as exc:
            raise self.error(f"{self.arguments[0]} failed: {type(exc).__name__}: {exc}")
        result = []
        for code, printed in cells:
            result.append(nodes.literal_block(code, code, language="python"))
            if printed:
                result.append(nodes.literal_block(printed, printed, language="output"))
        return result


def public_names(module_name):
    """``{full name}`` of a module's public API: its ``__all__``, or every public
    name but modules; for ``autogradx``, ``Tensor``'s attributes too."""
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in dir(module) if not n.startswith("_")]
    out = {f"{module_name}.{n}" for n in names if not inspect.ismodule(getattr(module, n))}
    if module_name == "autogradx":
        methods = {n for op in builtin_ops() for names in method_names(op) for n in names}
        methods |= {n for n in dir(autogradx.Tensor) if not n.startswith("_")}
        out |= {f"autogradx.Tensor.{n}" for n in methods}
    return out


def check_public_names(app, env):
    """Warn for each public name without an entry, and for a stale exemption."""
    documented = set(env.get_domain("py").objects)
    exempt = app.config.autogradx_undocumented
    public = set()
    for module in app.config.autogradx_public_modules:
        public |= public_names(module)
    for name in sorted(public - documented - set(exempt)):
        logger.warning("public name %s has no entry in the API reference", name,
                       type="autogradx", subtype="undocumented")
    for name in sorted(set(exempt) - (public - documented)):
        logger.warning("autogradx_undocumented lists %s, which is documented or gone: "
                       "drop it from conf.py", name, type="autogradx", subtype="undocumented")


def skip_registry_members(app, what, name, obj, skip, options):
    """Op methods installed on Tensor are documented from the registry, not by autodoc."""
    if what == "class" and isinstance(obj, (Op, InplaceMethod)):
        return True
    return None


def caption_titled_fences(app, docname, source):
    """A Markdown fence with a title (```` ```python title="pkg/mod.py" ````, which
    GitHub does not show) gets it as the block's caption."""
    def directive(m):
        lang, title = m.groups()
        # A file name shows as code (and its underscores stay underscores).
        caption = f"`{title}`" if "." in title or "/" in title else title
        return f"```{{code-block}} {lang}\n:caption: {caption}"

    if str(app.env.doc2path(docname)).endswith(".md"):
        source[0] = TITLED_FENCE.sub(directive, source[0])


def setup(app):
    app.add_config_value("autogradx_public_modules", [], "env")
    app.add_config_value("autogradx_undocumented", {}, "env")
    app.add_directive("autogradx-ops", OpsDirective)
    app.add_directive("autogradx-tensor-methods", TensorMethodsDirective)
    app.add_directive("autogradx-script", ScriptDirective)
    app.add_directive("autogradx-dtypes", DtypesDirective)
    app.add_directive("autogradx-reexports", ReexportsDirective)
    app.add_directive("autogradx-compiled-class", CompiledClassDirective)
    app.connect("source-read", caption_titled_fences)
    app.connect("env-check-consistency", check_public_names)
    app.connect("autodoc-skip-member", skip_registry_members)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
