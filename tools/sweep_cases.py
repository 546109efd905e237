"""The calls ``tools/sweep.py`` makes: hostile variants of every registered op's
conformance samples, and odd uses of the main APIs.

A case is a dict that names a piece of Python (``code``) written against ``agx`` and
``np``: the worker runs it with ``agx`` bound to autogradx, and again with ``agx`` bound
to PyTorch (through a thin shim) to compare, where the case says the code means the
same thing in both. ``stage`` asks the worker to add lines that depend on what the
code returned (a backward of its outputs, gradients of gradients); the worker writes
them out, so that a finding's reproducer is the whole program as it ran.

The ops come from the registry, each op's calls from its conformance samples
(:func:`autogradx.conformance.plugin_cases`): nothing here lists ops by hand. A few
ops that no namespace exposes are spelt as PyTorch spells them (``x[i]``); the rest of
those go through ``get_op``.
"""

import math
import random
import textwrap
import zlib

import numpy as np

# --------------------------------------------------------------- hostile values

#: Values written into one floating input (``mixed``: into all of them).
VALUES = {
    "nan": "np.nan",
    "inf": "np.inf",
    "-inf": "-np.inf",
    "-0.0": "-0.0",
    "huge": "1e308",
    "tiny": "5e-324",
    "-huge": "-1.7e308",
}
MIXED = "np.resize(np.array([np.nan, np.inf, -np.inf, -0.0, 1e308, 5e-324, 1.0]), {shape})"

#: Memory layouts, applied to every tensor input (made with ``agx.from_numpy``, except
#: big-endian arrays, which from_numpy refuses by design: those go through tensor()).
#: ``{e}`` is the array expression; the minimum number of dims the layout needs.
LAYOUTS = {
    "noncontiguous": ("np.repeat({e}, 2, axis=-1)[..., ::2]", 1),
    "negative-strides": ("np.flip(np.flip({e}, -1).copy(), -1)", 1),
    "zero-stride": ("np.broadcast_to(np.asarray({e})[..., :1], {shape})", 1),
    "fortran": ("np.asfortranarray({e})", 2),
    "misaligned": ("np.frombuffer(bytearray(bytes(1) + (_m := np.asarray({e})).tobytes()), "
                   "_m.dtype, offset=1).reshape(_m.shape)", 0),
    "readonly": ("(_r := np.array({e})).setflags(write=False) or _r", 0),
    "big-endian": ("(_b := np.asarray({e})).astype(_b.dtype.newbyteorder('>'))", 0),
}

#: NumPy dtypes autogradx has no type for: the constructors should refuse them. Those a
#: constructor accepts (the sweep probes it first) are also fed to every op.
UNSUPPORTED_DTYPES = {
    "object": "{e}.astype(object)",
    "str": "{e}.astype(str)",
    "bytes": "{e}.astype('S8')",
    "datetime64": "np.abs({e} * 1e3).astype('int64').astype('datetime64[s]')",
    "timedelta64": "np.abs({e} * 1e3).astype('int64').astype('timedelta64[s]')",
    "longdouble": "{e}.astype(np.longdouble)",
    "clongdouble": "{e}.astype(np.clongdouble)",
    "uint16": "np.abs({e} * 10).astype(np.uint16)",
    "uint32": "np.abs({e} * 10).astype(np.uint32)",
    "uint64": "np.abs({e} * 10).astype(np.uint64)",
    "void": "{e}.view('V8')",
}

#: What goes where a tensor should.
BAD_TENSOR = {
    "None": "None",
    "number": "2.5",
    "str": "'abc'",
    "list": "[[1.0, 2.0], [3.0, 4.0]]",
    "bool": "True",
    "ndarray": "np.ones((2, 3))",
    "wrong-shape": "agx.ones(7, 11, dtype=agx.float64)",
}

#: What goes where a sequence of tensors should (``{first}`` is the first tensor).
BAD_SEQUENCE = {
    "empty": "[]",
    "[None]": "[None]",
    "bare-tensor": "{first}",
    "with-str": "[{first}, 'abc']",
    "with-number": "[{first}, 2.5]",
    "generator": "({first} for _ in range(2))",
}

#: What goes where a parameter (a dim, a size, a flag, a number) should.
BAD_PARAM = {
    "None": "None",
    "str": "'abc'",
    "float": "2.5",
    "nan": "float('nan')",
    "tensor-0d": "agx.tensor(1.5)",
    "tensor-2x2": "agx.tensor([[1, 2], [3, 4]])",
    "list": "[1, 2]",
    "empty-tuple": "()",
    "99": "99",
    "-99": "-99",
    "2**62": "2**62",
    "-2**63": "-2**63",
    "2**64": "2**64",
    "bool": "True",
}

#: What goes into the last element of a size, shape or dims tuple.
BAD_ELEMENT = {
    "-5": "-5",
    "0": "0",
    "99": "99",
    "10**5": "10**5",
    "2**31": "2**31",
    "2**62": "2**62",
    "-2**63": "-2**63",
    "float": "2.5",
    "None": "None",
    "tensor": "agx.tensor(2)",
}

#: Backward variants on the first differentiable output (the worker writes the lines).
BACKWARD = ("bw:none", "bw:shape", "bw:broadcastable", "bw:int", "bw:other-float", "bw:list",
            "bw:ndarray", "bw:nan", "bw:twice", "bw:requires-grad")


class Raw:
    """Code text taken as is by :func:`lit`."""

    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text


def lit(v):
    """``v`` as Python source (in the namespace of a case: ``agx``, ``np``)."""
    if isinstance(v, Raw):
        return v.text
    if v is None or isinstance(v, (bool, str, bytes)):
        return repr(v)
    if isinstance(v, int):
        return repr(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "float('nan')"
        if math.isinf(v):
            return "float('inf')" if v > 0 else "float('-inf')"
        return repr(v)
    if v is Ellipsis:
        return "..."
    if isinstance(v, slice):
        return f"slice({lit(v.start)}, {lit(v.stop)}, {lit(v.step)})"
    if isinstance(v, np.dtype):
        return f"np.dtype({v.name!r})"
    if type(v).__name__ == "device":
        return f"agx.device({str(v)!r})"
    if type(v).__name__ == "dtype" and hasattr(v, "is_floating_point"):
        return f"agx.{v.name}"
    if isinstance(v, list):
        return "[" + ", ".join(lit(x) for x in v) + "]"
    if isinstance(v, tuple):
        inner = ", ".join(lit(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    raise ValueError(f"no literal for {v!r}")


def case(id, family, op, kind, code, *, stage=None, torch=True, leak=False):
    return {"id": id, "family": family, "op": op, "kind": kind, "code": code,
            "stage": stage, "torch": torch, "leak": leak}


# --------------------------------------------------------------- op samples as templates

class Leaf:
    """A tensor input of a sample: its conformance ``Arg`` and where it goes."""

    __slots__ = ("arg", "label")

    def __init__(self, arg, label):
        self.arg, self.label = arg, label

    def dtype(self, float_dtype):
        """The NumPy dtype it takes when the floating inputs are ``float_dtype``."""
        return self.arg.dtype_under(np.dtype(float_dtype))

    @property
    def floating(self):
        return self.arg.dtype_under(np.dtype("float64")).kind in "fc"

    def array(self, seed, dt, shape=None):
        """Source for the sample's values as a NumPy array of dtype ``dt``."""
        a = self.arg
        dt = np.dtype(dt)
        shape = tuple(a.shape if shape is None else shape)
        rng = f"np.random.default_rng({seed})"
        if a.values is not None and shape == tuple(a.shape):
            vals = a.values
            kept = vals.dtype if vals.dtype.kind in "biu" else dt
            return f"np.array({vals.tolist()!r}, dtype={kept.name!r})"
        if a.values is not None and a.values.dtype.kind in "biu":
            # an index or mask at another shape: its values repeated over that shape
            flat = a.values.ravel().tolist() or [0]
            return f"np.resize(np.array({flat!r}, dtype={a.values.dtype.name!r}), {shape!r})"
        low, high = a.low, a.high
        if dt.kind == "b":
            return f"{rng}.uniform(size={shape!r}) < 0.5"
        if dt.kind == "u":
            return f"{rng}.integers(0, 5, {shape!r}).astype({dt.name!r})"
        if dt.kind == "i":
            lo, hi = math.ceil(low), math.floor(high)
            return f"{rng}.integers({lo}, {max(lo, hi) + 1}, {shape!r}).astype({dt.name!r})"
        if dt.kind == "c":
            return (f"({rng}.uniform({low}, {high}, {shape + (2,)!r}) @ np.array([1, 1j]))"
                    f".astype({dt.name!r})")
        suffix = "" if dt == np.float64 else f".astype({dt.name!r})"
        return f"{rng}.uniform({low}, {high}, {shape!r}){suffix}"


class Template:
    """A conformance sample with its tensors as :class:`Leaf` slots, to render calls from."""

    def __init__(self, op, sample):
        from autogradx.conformance import Arg
        self.op, self.sample = op, sample
        self.leaves = []
        inputs = tuple(n.lstrip("*") for n in (op.inputs or ()))
        names = inputs + tuple(op.params or ())
        self.names = names if not op.parse else ()

        def conv(v, label):
            if isinstance(v, Arg):
                self.leaves.append(Leaf(v, label))
                return ("leaf", len(self.leaves) - 1)
            if type(v) in (list, tuple):
                return ("seq", type(v), [conv(x, f"{label}[{j}]") for j, x in enumerate(v)])
            return ("val", v)

        self.pos = [conv(v, self.names[i] if i < len(self.names) else f"arg{i}")
                    for i, v in enumerate(sample.args)]
        self.kw = {k: conv(v, k) for k, v in sample.kwargs.items()}

    def slots(self):
        """``[(where, name, item)]`` for every argument of the call: where is ``('pos', i)``
        or ``('kw', name)``."""
        out = [(("pos", i), self.names[i] if i < len(self.names) else f"arg{i}", item)
               for i, item in enumerate(self.pos)]
        out += [(("kw", k), k, item) for k, item in self.kw.items()]
        return out


def _item_text(item, names):
    kind = item[0]
    if kind == "leaf":
        return names[item[1]]
    if kind == "seq":
        parts = [_item_text(x, names) for x in item[2]]
        if item[1] is tuple:
            return f"({parts[0]},)" if len(parts) == 1 else "(" + ", ".join(parts) + ")"
        return "[" + ", ".join(parts) + "]"
    return lit(item[1])


class Callee:
    """How a case spells the call of an op: a public function, a method of the first
    tensor, a subscription, or the registry's op (autogradx only)."""

    def __init__(self, op, registry, torch_names=None):
        self.op = op
        self.kind, self.text = "op", f"get_op({op.name!r})"
        for ns in op.namespaces:
            table = registry.namespace(ns)
            names = [n for n, o in table.items() if o is op]
            names.sort(key=lambda n: (n != op.name.rpartition(".")[2], n))
            if torch_names is not None:                # a name PyTorch also has, if any
                names.sort(key=lambda n: (f"{ns}.{n}".strip(".") not in torch_names))
            if names:
                prefix = "agx." + (ns + "." if ns else "")
                self.kind, self.text = "fn", prefix + names[0]
                return
        if op.name in ("getitem", "index"):
            self.kind, self.text = "subscript", None
        elif op.method:
            self.kind, self.text = "method", op.method

    @property
    def torch(self):
        """Whether the spelling means the same call in PyTorch."""
        return self.kind != "op"

    def render(self, pos, kw):
        """The call, from the source of its positional and keyword arguments."""
        if self.kind == "subscript" and len(pos) == 2 and not kw:
            return f"{pos[0]}[{pos[1]}]"
        if self.kind == "subscript" and len(pos) == 1 and list(kw) == ["index"]:
            return f"{pos[0]}[{kw['index']}]"
        args = list(pos) + [f"{k}={v}" for k, v in kw.items()]
        if self.kind == "fn":
            return f"{self.text}({', '.join(args)})"
        if self.kind == "method" and pos:
            return f"{pos[0]}.{self.text}({', '.join(args[1:])})"
        return f"get_op({self.op.name!r})({', '.join(args)})"

    def needs_import(self, text):
        return "get_op(" in text


def family(op):
    return getattr(op.forward, "__module__", "").rpartition(".")[2] or op.plugin


class OpCases:
    """The cases of one op."""

    def __init__(self, op, registry, samples, *, seed, torch_names, accepted_dtypes, leak_rate,
                 dtypes):
        self.op, self.registry = op, registry
        self.samples = samples
        self.callee = Callee(op, registry, torch_names)
        self.fam = family(op)
        self.rng = random.Random(f"{seed}/{op.name}")
        self.seed = seed
        self.accepted = accepted_dtypes
        self.leak_rate = leak_rate
        self.dtypes = dtypes
        # an op whose samples seed the generator draws random numbers: PyTorch draws others
        self.random = any(getattr(s, "manual_seed", None) is not None for s in samples)
        self.out = []

    # -- rendering

    def _seed_of(self, si, k):
        return zlib.crc32(f"{self.seed}/{self.op.name}/{si}/{k}".encode()) % 10_000

    def leaf_lines(self, t, si, *, dtype="float64", make=None, names=None):
        """``a0 = agx.tensor(...)`` lines; ``make(k, leaf, expr, dt)`` may replace a leaf's
        source (return None to keep the default)."""
        lines = []
        names = names or [f"a{k}" for k in range(len(t.leaves))]
        for k, leaf in enumerate(t.leaves):
            dt = leaf.dtype(dtype)
            expr = leaf.array(self._seed_of(si, k), dt)
            grad = leaf.arg.requires_grad
            if grad is None:
                grad = dt.kind in "fc"
            text = make(k, leaf, expr, dt) if make else None
            if text is None:
                text = f"agx.tensor({expr}{', requires_grad=True' if grad else ''})"
            lines.append(f"{names[k]} = {text}")
        if getattr(t, "seed_line", None):
            lines.append(t.seed_line)
        return lines

    def call_text(self, t, *, names=None, pos_override=None, kw_override=None, drop_last=False,
                  extra_pos=(), extra_kw=None, callee=None):
        names = names or [f"a{k}" for k in range(len(t.leaves))]
        pos = [_item_text(item, names) for item in t.pos]
        kw = {k: _item_text(item, names) for k, item in t.kw.items()}
        for i, text in (pos_override or {}).items():
            pos[i] = text
        for k, text in (kw_override or {}).items():
            kw[k] = text
        if drop_last:
            pos = pos[:-1]
        pos += list(extra_pos)
        kw.update(extra_kw or {})
        return (callee or self.callee).render(pos, kw)

    def add(self, kind, si, lines, call, *, stage="sum", torch=None, leak=None, detail=""):
        text = "\n".join(lines + [f"out = {call}"])
        if "get_op(" in text:
            text = "from autogradx._registry import get_op\n" + text
        if torch is None or torch:
            torch = self.callee.torch and "get_op(" not in text and not self.random
        if leak is None:
            leak = self.rng.random() < self.leak_rate
        cid = f"{self.op.name}/s{si}/{kind}" + (f":{detail}" if detail else "")
        self.out.append(case(cid, self.fam, self.op.name, kind.partition(":")[0], text,
                             stage=stage, torch=torch, leak=leak))

    # -- the kinds

    def build(self):
        for si, sample in enumerate(self.samples):
            t = Template(self.op, sample)
            t.seed_line = (f"agx.manual_seed({sample.manual_seed})"
                           if sample.manual_seed is not None else None)
            self.base(t, si)
            self.fd(si)
            self.values(t, si)
            self.shapes(t, si)
            self.layouts(t, si)
            self.dtype_cases(t, si)
            if si == 0:
                self.arguments(t, si)
                self.backward(t, si)
                self.inplace(t, si)
            self.double(t, si)
        return self.out

    def base(self, t, si):
        self.add("base", si, self.leaf_lines(t, si), self.call_text(t), leak=si == 0)

    def fd(self, si):
        """Gradients (and gradients of gradients) against finite differences, in float64,
        through the conformance kit."""
        op = self.op
        code = textwrap.dedent(f"""\
            from autogradx.conformance import check_op, plugin_cases
            op, samples = next((o, c) for o, c in plugin_cases({op.plugin!r}) if o.name == {op.name!r})
            report = check_op(op, [samples[{si}]], dtypes=(agx.float64,), raise_exception=False)
            assert report.ok, str(report)""")
        if op.vjp is None and op.vjps is None:
            return
        self.out.append(case(f"{op.name}/s{si}/fd", self.fam, op.name, "fd", code, torch=False))

    def _float_leaves(self, t):
        return [k for k, leaf in enumerate(t.leaves) if leaf.floating]

    def values(self, t, si):
        floats = self._float_leaves(t)
        if not floats:
            return
        first = floats[0]
        for name, value in VALUES.items():
            def make(k, leaf, expr, dt, value=value):
                if k == first:
                    return f"agx.tensor(np.full({tuple(leaf.arg.shape)!r}, {value}), requires_grad=True)"
            self.add(f"value:{name}", si, self.leaf_lines(t, si, make=make), self.call_text(t))

        def mixed(k, leaf, expr, dt):
            if k in floats:
                return f"agx.tensor({MIXED.format(shape=tuple(leaf.arg.shape))}, requires_grad=True)"
        self.add("value:mixed", si, self.leaf_lines(t, si, make=mixed), self.call_text(t))

    def shapes(self, t, si):
        if not t.leaves:
            return
        variants = {
            "size-0-first": lambda s: (0,) + tuple(s[1:]) if s else (0,),
            "size-0-last": lambda s: tuple(s[:-1]) + (0,) if s else (0,),
            "0-d": lambda s: (),
        }
        for name, reshape in variants.items():
            def make(k, leaf, expr, dt, reshape=reshape):
                shape = reshape(tuple(leaf.arg.shape))
                src = leaf.array(self._seed_of(si, k), dt, shape)
                grad = leaf.floating and leaf.arg.requires_grad is not False
                return f"agx.tensor({src}{', requires_grad=True' if grad else ''})"
            self.add(f"shape:{name}", si, self.leaf_lines(t, si, make=make), self.call_text(t))

    def layouts(self, t, si):
        for name, (pattern, min_dims) in LAYOUTS.items():
            applied = []

            def make(k, leaf, expr, dt, pattern=pattern, min_dims=min_dims, name=name):
                shape = tuple(leaf.arg.shape)
                ok = len(shape) >= min_dims and (min_dims == 0 or shape[-1] > 0)
                src = pattern.format(e=expr, shape=shape) if ok else f"np.asarray({expr})"
                if ok:
                    applied.append(k)
                grad = leaf.floating and leaf.arg.requires_grad is not False
                if name == "big-endian":
                    return f"agx.tensor({src}{', requires_grad=True' if grad else ''})"
                return f"agx.from_numpy({src})" + (".requires_grad_()" if grad else "")
            lines = self.leaf_lines(t, si, make=make)
            if applied:
                self.add(f"layout:{name}", si, lines, self.call_text(t))

    def dtype_cases(self, t, si):
        floats = self._float_leaves(t)
        if not floats:
            return
        for d in self.dtypes:
            if d.name == "float64":
                continue

            def make(k, leaf, expr, dt, d=d):
                if k not in floats:
                    return None
                src = leaf.array(self._seed_of(si, k), d.numpy)
                grad = d.is_floating_point or d.is_complex
                return f"agx.tensor({src}{', requires_grad=True' if grad else ''})"
            self.add(f"dtype:{d.name}", si, self.leaf_lines(t, si, make=make), self.call_text(t))
        first = floats[0]
        for name, how in sorted(self.accepted.items() if si == 0 else ()):
            pattern = UNSUPPORTED_DTYPES[name]

            def make(k, leaf, expr, dt, pattern=pattern, how=how):
                if k != first:
                    return None
                return f"agx.{how}({pattern.format(e=expr)})"
            self.add(f"dtype:numpy-{name}", si, self.leaf_lines(t, si, make=make),
                     self.call_text(t))

    def arguments(self, t, si):
        """Wrong types and values in every argument, missing and extra arguments."""
        lines = self.leaf_lines(t, si)
        method = self.callee.kind in ("method", "subscript")
        given = set()
        for where, name, item in t.slots():
            given.add(name)
            if where[0] == "pos" and where[1] == 0 and method:
                continue            # the tensor a method is called on
            def call(text, where=where):
                if where[0] == "pos":
                    return self.call_text(t, pos_override={where[1]: text})
                return self.call_text(t, kw_override={where[1]: text})
            if item[0] == "seq" and item[2] and all(x[0] == "val" and type(x[1]) is int
                                                    for x in item[2]):
                self._tuple_elements(t, si, lines, where, name, item, call)
            if item[0] == "leaf":
                table = BAD_TENSOR
            elif item[0] == "seq" and any(x[0] == "leaf" for x in item[2]):
                first = _item_text(item[2][0], [f"a{k}" for k in range(len(t.leaves))])
                table = {k: v.format(first=first) for k, v in BAD_SEQUENCE.items()}
            else:
                table = BAD_PARAM
            for bad, text in table.items():
                # PyTorch wraps some integers beyond int64 or int32 silently: no reference there
                self.add(f"arg:{name}={bad}", si, lines, call(text),
                         torch=False if "2**" in bad else None)
        # declared inputs and parameters the sample leaves out, passed by keyword
        everything = [n.lstrip("*") for n in (self.op.inputs or ())] + list(self.op.params or ())
        for i, name in enumerate(everything):
            if i < max(len(t.pos), self.op.n_required) or name in given or name.startswith("_"):
                continue
            for bad, text in BAD_PARAM.items():
                self.add(f"arg:{name}={bad}", si, lines,
                         self.call_text(t, kw_override={name: text}),
                         torch=False if "2**" in bad else None)
        if t.pos and not (method and len(t.pos) == 1):
            self.add("signature:missing-last", si, lines, self.call_text(t, drop_last=True))
        self.add("signature:extra-positional", si, lines, self.call_text(t, extra_pos=["1"]))
        self.add("signature:unknown-keyword", si, lines,
                 self.call_text(t, extra_kw={"bogus": "1"}))

    def _tuple_elements(self, t, si, lines, where, name, item, call):
        """A size, shape or dims tuple with one hostile element, or one more element."""
        values = [x[1] for x in item[2]]
        kind = item[1]
        for bad, v in BAD_ELEMENT.items():
            changed = values[:-1] + [Raw(v)]
            self.add(f"arg:{name}[-1]={bad}", si, lines, call(lit(kind(changed))),
                     torch=False if "2**" in bad else None)
        self.add(f"arg:{name}+element", si, lines, call(lit(kind(values + [2]))))

    def backward(self, t, si):
        lines = self.leaf_lines(t, si)
        for variant in BACKWARD:
            self.add(variant, si, lines, self.call_text(t), stage=variant)

    def double(self, t, si):
        self.add("double", si, self.leaf_lines(t, si), self.call_text(t), stage="double")

    def inplace(self, t, si):
        op = self.op
        if not t.pos or t.pos[0][0] != "leaf":
            return
        names = [f"a{k}" for k in range(len(t.leaves))]
        lines = self.leaf_lines(t, si)
        shape = tuple(t.leaves[0].arg.shape)
        if op.inplace:
            ip = Callee(op, self.registry)
            ip.kind, ip.text = "method", op.inplace

            def call(first):
                return self.call_text(t, pos_override={0: first}, callee=ip)
            self.add("inplace:leaf", si, lines, call("a0"))
            self.add("inplace:non-leaf", si, lines + ["b0 = a0 * 1"], call("b0"))
            self.add("inplace:view", si, lines + ["b0 = a0 * 1", "v0 = b0[...]"],
                     f"({call('v0')}, b0)")
            self.add("inplace:saved", si, lines + ["b0 = a0 * 1", "s0 = b0 * b0", call("b0")],
                     "s0")
            self.add("inplace:expanded", si, lines + [f"e0 = (a0.sum() * 1).expand({shape!r})"],
                     f"({call('e0')}, e0)")
            self.add("inplace:no-grad-leaf", si, lines + [f"with agx.no_grad(): {call('a0')}"],
                     "a0 * 1")
            ro = (f"c0 = agx.from_numpy((_r := np.ones({shape!r})).setflags(write=False) or _r)")
            self.add("inplace:readonly-array", si, lines + [ro], call("c0"), stage=None)
            self.add("inplace:integer-tensor", si,
                     lines + [f"c0 = agx.ones({shape!r}, dtype=agx.int64)"], call("c0"),
                     stage=None)
            self.add("inplace:twice", si, lines + ["b0 = a0 * 1", call("b0")], call("b0"))
        param = op.inplace_param
        if param:
            kw = {param: "True"}
            self.add(f"inplace:{param}=True-non-leaf", si, lines + ["b0 = a0 * 1"],
                     self.call_text(t, names=["b0"] + names[1:], kw_override=kw))
            self.add(f"inplace:{param}=True-leaf", si, lines,
                     self.call_text(t, kw_override=kw))


def op_cases(registry, *, seed=0, samples_per_op=2, torch_names=None, accepted_dtypes=None,
             leak_rate=0.02):
    """Every registered op's cases (the ops of every loaded plugin)."""
    from autogradx import _dtype
    from autogradx.conformance import generated_samples, plugin_cases
    out = []
    for plugin in sorted(registry.plugins):
        info = registry.plugins[plugin]
        if info.error:
            continue
        for op, samples in plugin_cases(plugin):
            if not isinstance(samples, list) or not samples:
                samples = generated_samples(op)      # a plugin that gives none: elementwise
            out += OpCases(op, registry, samples[:samples_per_op], seed=seed,
                           torch_names=torch_names, accepted_dtypes=accepted_dtypes or {},
                           leak_rate=leak_rate, dtypes=_dtype.ALL).build()
    return out


# --------------------------------------------------------------- the APIs

#: API cases whose results PyTorch cannot match by design: uninitialised memory,
#: another random generator, object identities.
NOT_COMPARED = {"constructors/Tensor-sizes", "constructors/manual_seed-negative",
                "constructors/manual_seed-huge", "tensor/hash", "constructors/randint-huge-range"}


def _api(family, cases, *, torch=False):
    return [case(f"{family}/{name}", f"api:{family}", None, family,
                 textwrap.dedent(code).strip(),
                 torch=torch and f"{family}/{name}" not in NOT_COMPARED)
            for name, code in cases]


def constructor_probes():
    """Each constructor with each NumPy dtype autogradx has no type for: what the sweep
    learns here decides which of them reach the ops."""
    out = []
    for name, pattern in UNSUPPORTED_DTYPES.items():
        src = pattern.format(e="np.random.default_rng(0).uniform(-2, 2, (2, 3))")
        for how in ("tensor", "from_numpy", "as_tensor"):
            # accepting the array is only right if the tensor has one of autogradx's dtypes
            code = (f"out = agx.{how}({src})\n"
                    f"assert out.numpy().dtype in {{d.numpy for d in agx._dtype.ALL}}, "
                    f"f'{how}() kept a {{out.numpy().dtype}} array, for which autogradx has "
                    f"no dtype'")
            out.append(case(f"constructors/probe-{how}-{name}", "api:constructors", None,
                            "constructors", code, torch=False))
    return out


def api_cases():
    """Odd uses of the main APIs: constructors, autograd.backward/grad, hooks, custom
    Functions, grad modes, tensor attributes, printing, save/load, and threads."""
    out = constructor_probes()
    out += _api("constructors", [
        ("tensor-None", "out = agx.tensor(None)"),
        ("tensor-str", "out = agx.tensor('abc')"),
        ("tensor-ragged", "out = agx.tensor([1, [2, 3]])"),
        ("tensor-ragged-2", "out = agx.tensor([[1, 2], [3]])"),
        ("tensor-empty-list", "out = agx.tensor([])"),
        ("tensor-empty-nested", "out = agx.tensor([[], []])"),
        ("tensor-object", "out = agx.tensor(object())"),
        ("tensor-dict", "out = agx.tensor({'a': 1})"),
        ("tensor-set", "out = agx.tensor({1, 2})"),
        ("tensor-bytes", "out = agx.tensor(b'abc')"),
        ("tensor-bytearray", "out = agx.tensor(bytearray(b'ab'))"),
        ("tensor-range", "out = agx.tensor(range(5))"),
        ("tensor-generator", "out = agx.tensor(x for x in range(3))"),
        ("tensor-2**70", "out = agx.tensor(2**70)"),
        ("tensor-2**63", "out = agx.tensor(2**63)"),
        ("tensor--2**63", "out = agx.tensor(-2**63)"),
        ("tensor-nan", "out = agx.tensor(float('nan'))"),
        ("tensor-mixed-bool-float", "out = agx.tensor([True, 1.5, 2])"),
        ("tensor-complex-list", "out = agx.tensor([1, 2.5j])"),
        ("tensor-np-datetime", "out = agx.tensor(np.datetime64('2020-01-01'))"),
        ("tensor-str-array", "out = agx.tensor(np.array(['a', 'b']))"),
        ("tensor-object-mixed", "out = agx.tensor(np.array([1, 'a'], dtype=object))"),
        ("tensor-object-floats", "out = agx.tensor(np.array([1.0, 2.0], dtype=object))"),
        ("tensor-masked-array", "out = agx.tensor(np.ma.masked_array([1.0, 2.0], [0, 1]))"),
        ("tensor-matrix", "out = agx.tensor(np.matrix([[1.0, 2.0]]))"),
        ("tensor-np-scalar", "out = agx.tensor(np.float32(1.5))"),
        ("tensor-big-endian", "out = agx.tensor(np.arange(3.0).astype('>f8'))\n"
                              "assert out.numpy().dtype.isnative, 'tensor() kept a big-endian "
                              "array: reading its dtype raises TypeError'"),
        ("tensor-big-endian-arithmetic", "out = agx.tensor(np.arange(3.0).astype('>f8')) * 2"),
        ("tensor-negative-strides", "out = agx.tensor(np.arange(6.0).reshape(2, 3)[:, ::-1])"),
        ("tensor-65-dims", "out = agx.tensor(np.zeros((1,) * 64)).reshape((1,) * 65)"),
        ("tensor-deep-list", "_n = 1.0\nfor _ in range(100000): _n = [_n]\nout = agx.tensor(_n)"),
        ("tensor-fp16-overflow", "out = agx.tensor([1e10], dtype=agx.float16)"),
        ("tensor-uint8-overflow", "out = agx.tensor([300], dtype=agx.uint8)"),
        ("tensor-uint8-negative", "out = agx.tensor([-1], dtype=agx.uint8)"),
        ("tensor-nan-to-int", "out = agx.tensor(float('nan'), dtype=agx.int64)"),
        ("tensor-dtype-str", "out = agx.tensor(1.5, dtype='float32')"),
        ("tensor-dtype-numpy", "out = agx.tensor(1.5, dtype=np.float32)"),
        ("tensor-dtype-object", "out = agx.tensor(1.5, dtype=object)"),
        ("tensor-dtype-uint32", "out = agx.tensor(1.5, dtype=np.uint32)"),
        ("tensor-dtype-bogus", "out = agx.tensor(1.5, dtype='bogus')"),
        ("tensor-requires-grad-str", "out = agx.tensor([1.0], requires_grad='yes')"),
        ("tensor-int-requires-grad", "out = agx.tensor([1], requires_grad=True)"),
        ("tensor-device-cuda", "out = agx.tensor([1.0], device='cuda')"),
        ("tensor-device-bogus", "out = agx.tensor([1.0], device='bogus')"),
        ("tensor-of-tensor", "out = agx.tensor(agx.tensor([1.0], requires_grad=True) * 2)"),
        ("tensor-list-of-tensors", "out = agx.tensor([agx.tensor(1.0), agx.tensor(2.0)])"),
        ("tensor-list-of-2d-tensors", "out = agx.tensor([agx.ones(2, 2), agx.ones(2, 2)])"),
        ("from_numpy-list", "out = agx.from_numpy([1.0, 2.0])"),
        ("from_numpy-None", "out = agx.from_numpy(None)"),
        ("from_numpy-np-scalar", "out = agx.from_numpy(np.float64(1.0))"),
        ("from_numpy-big-endian", "out = agx.from_numpy(np.arange(3.0).astype('>f8'))"),
        ("from_numpy-zero-stride-write",
         "a = np.broadcast_to(np.zeros(1), (3,))\nout = agx.from_numpy(a)\nout.add_(1)"),
        ("from_numpy-readonly-write",
         "a = np.zeros(3)\na.setflags(write=False)\nout = agx.from_numpy(a)\nout.add_(1)\n"
         "assert not a.any(), 'wrote into a read-only array'"),
        ("from_numpy-shares-memory",
         "a = np.zeros(3)\nout = agx.from_numpy(a)\na[0] = 5\n"
         "assert out[0].item() == 5, 'from_numpy copied'"),
        ("from_numpy-empty", "out = agx.from_numpy(np.empty((0, 5)))"),
        ("from_numpy-misaligned",
         "a = np.frombuffer(bytearray(25), np.float64, 3, 1)\nout = agx.from_numpy(a) * 2"),
        ("as_tensor-list-of-arrays", "out = agx.as_tensor([np.ones(2), np.ones(2)])"),
        ("as_tensor-dtype-change", "out = agx.as_tensor(agx.ones(2), dtype=agx.int64)"),
        ("zeros-negative", "out = agx.zeros(-1)"),
        ("zeros-negative-2d", "out = agx.zeros((2, -3))"),
        ("zeros-2**63", "out = agx.zeros(2**63)"),
        ("zeros-huge", "out = agx.zeros(2**40)"),
        ("zeros-float", "out = agx.zeros(2.5)"),
        ("zeros-str", "out = agx.zeros('a')"),
        ("zeros-None", "out = agx.zeros(None)"),
        ("zeros-nested", "out = agx.zeros([2, [3]])"),
        ("zeros-tensor", "out = agx.zeros(agx.tensor(3))"),
        ("zeros-bool-dtype-grad", "out = agx.zeros(2, dtype=agx.bool, requires_grad=True)"),
        ("empty-huge", "out = agx.empty(2**31)"),
        ("empty-dims-overflow", "out = agx.empty(2**32, 2**32)"),
        ("ones-size-0", "out = agx.ones(0, 5)"),
        ("full-str", "out = agx.full((2,), 'a')"),
        ("full-None", "out = agx.full((2,), None)"),
        ("full-nan-int", "out = agx.full((2,), float('nan'), dtype=agx.int64)"),
        ("full-tensor-value", "out = agx.full((2, 2), agx.ones(2))"),
        ("arange-inf", "out = agx.arange(0, float('inf'))"),
        ("arange-zero-step", "out = agx.arange(0, 10, 0)"),
        ("arange-nan", "out = agx.arange(float('nan'))"),
        ("arange-huge", "out = agx.arange(10**20)"),
        ("arange-backwards", "out = agx.arange(5, 0)"),
        ("arange-tiny-step", "out = agx.arange(0, 1, 1e-300)"),
        ("arange-str", "out = agx.arange('a')"),
        ("linspace-negative", "out = agx.linspace(0, 1, -1)"),
        ("linspace-huge", "out = agx.linspace(0, 1, 2**40)"),
        ("linspace-nan", "out = agx.linspace(0, float('nan'), 3)"),
        ("eye-negative", "out = agx.eye(-1)"),
        ("eye-huge", "out = agx.eye(2**32)"),
        ("eye-float", "out = agx.eye(2.5)"),
        ("randn-negative", "out = agx.randn(-1)"),
        ("randn-int-dtype", "out = agx.randn(2, 3, dtype=agx.int64)"),
        ("rand-bool-dtype", "out = agx.rand(2, dtype=agx.bool)"),
        ("randint-empty-range", "out = agx.randint(5, 1, (3,))"),
        ("randint-huge-range", "out = agx.randint(0, 2**70, (2,))"),
        ("manual_seed-negative", "agx.manual_seed(-1)\nout = agx.rand(2)"),
        ("manual_seed-huge", "agx.manual_seed(2**70)\nout = agx.rand(2)"),
        ("manual_seed-str", "agx.manual_seed('a')"),
        ("set_default_dtype-int", "agx.set_default_dtype(agx.int64)"),
        ("set_default_dtype-None", "agx.set_default_dtype(None)"),
        ("set_default_dtype-float16",
         "agx.set_default_dtype(agx.float16)\nout = agx.tensor(1.0) + agx.ones(2)"),
        ("zeros_like-None", "out = agx.zeros_like(None)"),
        ("zeros_like-ndarray", "out = agx.zeros_like(np.ones(2))"),
        ("ones_like-list", "out = agx.ones_like([1, 2])"),
        ("full_like-str", "out = agx.full_like(agx.ones(2), 'a')"),
        ("rand_like-int", "out = agx.rand_like(agx.ones(2, dtype=agx.int64))"),
        ("randn_like-int-dtype", "out = agx.randn_like(agx.ones(2), dtype=agx.int64)"),
        ("Tensor-no-args", "out = agx.Tensor()"),
        ("Tensor-sizes", "out = agx.Tensor(2, 3)"),
        ("Tensor-list", "out = agx.Tensor([1.0, 2.0])"),
        ("Tensor-None", "out = agx.Tensor(None)"),
        ("Tensor-str", "out = agx.Tensor('a')"),
    ], torch=True)
    out += _api("tensor", [
        ("item-of-many", "out = agx.ones(2).item()"),
        ("float-of-many", "out = float(agx.ones(2))"),
        ("int-of-nan", "out = int(agx.tensor(float('nan')))"),
        ("int-of-inf", "out = int(agx.tensor(float('inf')))"),
        ("bool-of-many", "out = bool(agx.ones(2))"),
        ("bool-of-empty", "out = bool(agx.ones(0))"),
        ("len-of-0d", "out = len(agx.tensor(1.0))"),
        ("iter-of-0d", "out = list(agx.tensor(1.0))"),
        ("index-out-of-range", "out = agx.ones(2)[5]"),
        ("index-huge", "out = agx.ones(2)[2**63]"),
        ("index-float", "out = agx.ones(2)[1.5]"),
        ("index-str", "out = agx.ones(2)['a']"),
        ("index-None-tensor", "out = agx.ones(2)[agx.tensor([True, False, True])]"),
        ("index-too-many", "out = agx.ones(2)[0, 0]"),
        ("setitem-wrong-shape", "out = agx.ones(2, 3)\nout[0] = agx.ones(4)"),
        ("setitem-str", "out = agx.ones(2)\nout[0] = 'a'"),
        ("setitem-on-leaf", "out = agx.ones(2, requires_grad=True)\nout[0] = 5.0"),
        ("requires_grad_-str", "out = agx.ones(2).requires_grad_('yes')"),
        ("requires_grad_-int-tensor", "out = agx.ones(2, dtype=agx.int64).requires_grad_()"),
        ("requires_grad-set-on-non-leaf",
         "x = agx.ones(2, requires_grad=True)\nout = x * 2\nout.requires_grad = False"),
        ("grad-set-ndarray", "out = agx.ones(2, requires_grad=True)\nout.grad = np.ones(2)"),
        ("grad-set-wrong-shape", "out = agx.ones(2, requires_grad=True)\nout.grad = agx.ones(3)"),
        ("grad-set-wrong-dtype",
         "out = agx.ones(2, requires_grad=True)\nout.grad = agx.ones(2, dtype=agx.int64)"),
        ("grad-set-then-backward",
         "out = agx.ones(2, requires_grad=True)\nout.grad = agx.ones(3)\n(out * 2).sum().backward()"),
        ("data-set-other-shape",
         "out = agx.ones(2, requires_grad=True)\ny = out * out\nout.data = agx.ones(5)\n"
         "y.sum().backward()"),
        ("data-set-ndarray", "out = agx.ones(2)\nout.data = np.ones(2)"),
        ("shape-set", "out = agx.ones(2)\nout.shape = (1, 2)"),
        ("numpy-requires-grad", "out = agx.ones(2, requires_grad=True).numpy()"),
        ("to-cuda", "out = agx.ones(2).to('cuda')"),
        ("to-str", "out = agx.ones(2).to('bogus')"),
        ("to-int-then-backward",
         "x = agx.ones(2, requires_grad=True)\nout = x.to(agx.int64)\nout.sum().backward()"),
        ("view-huge", "out = agx.ones(2).view(2**63)"),
        ("view-negative", "out = agx.ones(6).view(-1, -1)"),
        ("view-of-expanded", "out = agx.ones(1).expand(4).view(2, 2)"),
        ("retain_grad-on-leaf", "out = agx.ones(2, requires_grad=True)\nout.retain_grad()"),
        ("retain_grad-no-grad", "out = agx.ones(2)\nout.retain_grad()"),
        ("detach_-on-view",
         "x = agx.ones(2, 2, requires_grad=True) * 1\nout = x[0]\nout.detach_()"),
        ("type-bogus", "out = agx.ones(2).type('bogus')"),
        ("tolist-0d", "out = agx.tensor(1.5).tolist()"),
        ("backward-int-tensor", "out = agx.ones(2, dtype=agx.int64)\nout.sum().backward()"),
        ("backward-no-grad", "out = agx.ones(2)\nout.sum().backward()"),
        ("backward-non-scalar", "x = agx.ones(2, requires_grad=True)\nout = x * 2\nout.backward()"),
        ("backward-of-complex",
         "x = agx.ones(2, dtype=agx.complex128, requires_grad=True)\nout = (x * x).sum()\n"
         "out.backward()"),
        ("pow-huge-exponent", "out = agx.tensor(2.0, requires_grad=True) ** 10**6\nout.backward()"),
        ("int-pow-negative", "out = agx.tensor([2, 3]) ** -1"),
        ("int-div-zero", "out = agx.tensor([1, 2]) // 0"),
        ("int-remainder-zero", "out = agx.tensor([1, 2]) % 0"),
        ("int-min-div-minus-one", "out = agx.tensor([-2**63]) // -1"),
        ("uint8-minus", "out = agx.tensor([1], dtype=agx.uint8) - 2"),
        ("matmul-0d", "out = agx.tensor(1.0) @ agx.tensor(2.0)"),
        ("matmul-empty", "x = agx.ones(0, 3, requires_grad=True)\nout = x @ agx.ones(3, 0)\n"
                         "out.sum().backward()"),
        ("compare-with-str", "out = agx.ones(2) == 'a'"),
        ("add-list", "out = agx.ones(2) + [1, 2]"),
        ("add-ndarray-right", "out = np.ones(2) + agx.ones(2)"),
        ("add-ndarray-left", "out = agx.ones(2) + np.ones(2)"),
        ("add-None", "out = agx.ones(2) + None"),
        ("add-huge-int", "out = agx.ones(2, dtype=agx.int64) + 2**70"),
        ("in-operator", "out = 1.0 in agx.ones(2)"),
        ("hash", "out = hash(agx.ones(2))"),
        ("deepcopy-non-leaf",
         "import copy\nx = agx.ones(2, requires_grad=True)\nout = copy.deepcopy(x * 2)"),
        ("pickle", "import pickle\nout = pickle.loads(pickle.dumps(agx.ones(2, requires_grad=True)))"),
    ], torch=True)
    out += _api("printing", [
        ("repr-huge", "out = repr(agx.zeros(10**7))"),
        ("repr-empty-huge-dim", "out = repr(agx.zeros((0, 10**9)))"),
        ("repr-inf", "out = str(agx.tensor([1e308]) * 10)"),
        ("repr-65-dims", "out = repr(agx.zeros((1,) * 64))"),
        ("printoptions-negative",
         "agx.set_printoptions(precision=-1)\ntry:\n    out = repr(agx.ones(2))\n"
         "finally:\n    agx.set_printoptions(profile='default')"),
        ("printoptions-huge-precision",
         "agx.set_printoptions(precision=10**6)\ntry:\n    out = repr(agx.ones(2) / 3)\n"
         "finally:\n    agx.set_printoptions(profile='default')"),
        ("printoptions-zero-linewidth",
         "agx.set_printoptions(linewidth=0)\ntry:\n    out = repr(agx.ones(3, 3))\n"
         "finally:\n    agx.set_printoptions(profile='default')"),
        ("printoptions-str", "agx.set_printoptions(threshold='a')\n"
                             "agx.set_printoptions(profile='default')"),
        ("printoptions-profile-bogus", "agx.set_printoptions(profile='bogus')"),
        ("format-spec", "out = f'{agx.tensor(1.5):.2f}'"),
        ("format-spec-many", "out = f'{agx.ones(2):.2f}'"),
    ], torch=True)
    out += _api("autograd", [
        ("backward-None", "agx.autograd.backward(None)"),
        ("backward-empty", "agx.autograd.backward([])"),
        ("backward-number", "agx.autograd.backward(5)"),
        ("backward-str", "agx.autograd.backward('a')"),
        ("backward-list-with-number",
         "x = agx.ones(2, requires_grad=True)\nagx.autograd.backward([(x * 2).sum(), 5])"),
        ("backward-grad-tensors-empty",
         "x = agx.ones(2, requires_grad=True)\nagx.autograd.backward([(x * 2).sum()], grad_tensors=[])"),
        ("backward-grad-tensors-too-many",
         "x = agx.ones(2, requires_grad=True)\n"
         "agx.autograd.backward([(x * 2).sum()], grad_tensors=[agx.tensor(1.0), agx.tensor(1.0)])"),
        ("backward-grad-tensors-number",
         "x = agx.ones(2, requires_grad=True)\nagx.autograd.backward((x * 2).sum(), grad_tensors=2.0)"),
        ("backward-inputs-empty",
         "x = agx.ones(2, requires_grad=True)\nagx.autograd.backward((x * 2).sum(), inputs=[])"),
        ("backward-inputs-unrelated",
         "x = agx.ones(2, requires_grad=True)\nz = agx.ones(2, requires_grad=True)\n"
         "agx.autograd.backward((x * 2).sum(), inputs=[z])\nout = z.grad"),
        ("backward-inputs-non-leaf",
         "x = agx.ones(2, requires_grad=True)\ny = x * 2\n"
         "agx.autograd.backward((y * y).sum(), inputs=[y])\nout = y.grad"),
        ("backward-inputs-tensor", "x = agx.ones(2, requires_grad=True)\n"
                                   "agx.autograd.backward((x * 2).sum(), inputs=x)\nout = x.grad"),
        ("backward-inputs-duplicate", "x = agx.ones(2, requires_grad=True)\n"
                                      "agx.autograd.backward((x * 2).sum(), inputs=[x, x])\nout = x.grad"),
        ("backward-inputs-no-grad", "x = agx.ones(2, requires_grad=True)\n"
                                    "agx.autograd.backward((x * 2).sum(), inputs=[agx.ones(2)])"),
        ("backward-retain-graph-str", "x = agx.ones(2, requires_grad=True)\ny = (x * x).sum()\n"
                                      "y.backward(retain_graph='no')\ny.backward()\nout = x.grad"),
        ("backward-twice", "x = agx.ones(2, requires_grad=True)\ny = (x * x).sum()\n"
                           "y.backward()\ny.backward()"),
        ("backward-create-graph-then-grad",
         "x = agx.ones(2, requires_grad=True)\n(x ** 3).sum().backward(create_graph=True)\n"
         "out = agx.autograd.grad(x.grad.sum(), x)"),
        ("grad-no-requires-grad", "x = agx.ones(2)\nout = agx.autograd.grad((x * 2).sum(), x)"),
        ("grad-inputs-empty", "x = agx.ones(2, requires_grad=True)\n"
                              "out = agx.autograd.grad((x * 2).sum(), [])"),
        ("grad-non-scalar-no-grad-outputs",
         "x = agx.ones(2, requires_grad=True)\nout = agx.autograd.grad(x * 2, x)"),
        ("grad-grad-outputs-None-list",
         "x = agx.ones(2, requires_grad=True)\nout = agx.autograd.grad(x * 2, [x], grad_outputs=[None])"),
        ("grad-unused", "x = agx.ones(2, requires_grad=True)\nz = agx.ones(2, requires_grad=True)\n"
                        "out = agx.autograd.grad((x * 2).sum(), [x, z])"),
        ("grad-unused-allowed", "x = agx.ones(2, requires_grad=True)\nz = agx.ones(2, requires_grad=True)\n"
                                "out = agx.autograd.grad((x * 2).sum(), [x, z], allow_unused=True)"),
        ("grad-materialize", "x = agx.ones(2, requires_grad=True)\nz = agx.ones(2, requires_grad=True)\n"
                             "out = agx.autograd.grad((x * 2).sum(), [x, z], materialize_grads=True)"),
        ("grad-batched", "x = agx.ones(2, requires_grad=True)\n"
                         "out = agx.autograd.grad(x * 2, x, agx.eye(2), is_grads_batched=True)"),
        ("grad-outputs-length-mismatch",
         "x = agx.ones(2, requires_grad=True)\n"
         "out = agx.autograd.grad([x * 2, x * 3], [x], grad_outputs=[agx.ones(2)])"),
        ("grad-inputs-generator", "x = agx.ones(2, requires_grad=True)\n"
                                  "out = agx.autograd.grad((x * 2).sum(), (t for t in [x]))"),
        ("grad-inputs-set", "x = agx.ones(2, requires_grad=True)\n"
                            "out = agx.autograd.grad((x * 2).sum(), {x})"),
        ("grad-twice", "x = agx.ones(2, requires_grad=True)\ny = (x * x).sum()\n"
                       "agx.autograd.grad(y, x)\nout = agx.autograd.grad(y, x)"),
        ("grad-of-self", "x = agx.ones(2, requires_grad=True)\nout = agx.autograd.grad(x, x, agx.ones(2))"),
        ("grad-outputs-wrong-shape", "x = agx.ones(2, requires_grad=True)\n"
                                     "out = agx.autograd.grad(x * 2, x, agx.ones(3))"),
        ("grad-outputs-wrong-dtype", "x = agx.ones(2, requires_grad=True)\n"
                                     "out = agx.autograd.grad(x * 2, x, agx.ones(2, dtype=agx.int64))"),
        ("grad-of-number", "x = agx.ones(2, requires_grad=True)\nout = agx.autograd.grad(5, x)"),
        ("grad-wrt-number", "x = agx.ones(2, requires_grad=True)\nout = agx.autograd.grad((x * 2).sum(), 5)"),
        ("grad-create-graph-under-no-grad",
         "x = agx.ones(2, requires_grad=True)\ny = (x ** 3).sum()\n"
         "with agx.no_grad():\n    out = agx.autograd.grad(y, x, create_graph=True)"),
        ("grad-only-inputs-false", "x = agx.ones(2, requires_grad=True)\n"
                                   "out = agx.autograd.grad((x * 2).sum(), x, only_inputs=False)"),
        ("grad-output-not-requiring-grad",
         "x = agx.ones(2, requires_grad=True)\nout = agx.autograd.grad(agx.ones(()), x)"),
        ("grad-nan-anomaly", "x = agx.tensor([0.0, 1.0], requires_grad=True)\n"
                             "with agx.autograd.detect_anomaly():\n"
                             "    out = agx.autograd.grad(x.sqrt().sum() * 0, x)"),
        ("grad-nan-anomaly-backward", "x = agx.tensor([-1.0, 1.0], requires_grad=True)\n"
                                      "with agx.autograd.detect_anomaly():\n"
                                      "    x.log().sum().backward()"),
        ("set_grad_enabled-str", "agx.set_grad_enabled('yes')\nagx.set_grad_enabled(True)"),
        ("set_grad_enabled-None", "agx.set_grad_enabled(None)\nagx.set_grad_enabled(True)"),
        ("no_grad-class", "with agx.no_grad:\n    out = agx.ones(2, requires_grad=True) * 2"),
        ("no_grad-decorator", "@agx.no_grad()\ndef f(x):\n    return x * 2\n"
                              "out = f(agx.ones(2, requires_grad=True))\nassert not out.requires_grad"),
        ("inference-tensor-backward",
         "x = agx.ones(2, requires_grad=True)\nwith agx.inference_mode():\n    y = x * 2\n"
         "out = (y * x).sum()\nout.backward()"),
        ("inference-tensor-inplace",
         "with agx.inference_mode():\n    y = agx.ones(2)\ny.add_(1)\nout = y"),
        ("jacobian-returns-None", "out = agx.autograd.functional.jacobian(lambda x: None, agx.ones(2))"),
        ("jacobian-returns-number", "out = agx.autograd.functional.jacobian(lambda x: 5, agx.ones(2))"),
        ("jacobian-str-input", "out = agx.autograd.functional.jacobian(lambda x: x, 'abc')"),
        ("jacobian-unused-strict", "out = agx.autograd.functional.jacobian(lambda x: agx.ones(2), "
                                   "agx.ones(2), strict=True)"),
        ("hessian-non-scalar", "out = agx.autograd.functional.hessian(lambda x: x * x, agx.ones(2))"),
        ("vjp-wrong-v", "out = agx.autograd.functional.vjp(lambda x: x * 2, agx.ones(2), agx.ones(3))"),
        ("jvp-no-v-non-scalar", "out = agx.autograd.functional.jvp(lambda x: x * 2, agx.ones(2))"),
        ("checkpoint-non-tensor",
         "from autogradx.utils.checkpoint import checkpoint\n"
         "x = agx.ones(2, requires_grad=True)\nout = checkpoint(lambda x, n: x * n, x, 3, use_reentrant=False)\n"
         "out.sum().backward()"),
        ("checkpoint-returns-None",
         "from autogradx.utils.checkpoint import checkpoint\n"
         "out = checkpoint(lambda x: None, agx.ones(2, requires_grad=True), use_reentrant=False)"),
    ], torch=True)
    out += _api("function", [
        ("backward-too-many", _fn("return g, g")),
        ("backward-too-few", _fn("return ()", inputs=2)),
        ("backward-list", _fn("return [g]")),
        ("backward-str", _fn("return 'abc'")),
        ("backward-number", _fn("return 2.0")),
        ("backward-wrong-shape", _fn("return agx.ones(5)")),
        ("backward-wrong-dtype", _fn("return agx.ones(2, dtype=agx.int64)")),
        ("backward-ndarray", _fn("return np.ones(2)")),
        ("backward-raises", _fn("raise ValueError('sweep-deliberate')")),
        ("forward-returns-None", _fn("return g", forward="return None")),
        ("forward-returns-str", _fn("return g", forward="return 'abc'")),
        ("forward-returns-input", _fn("return g * 2", forward="return x")),
        ("forward-returns-ndarray", _fn("return g", forward="return np.ones(2)")),
        ("save-non-tensor", _fn("return g", forward="ctx.save_for_backward(5)\n        return x * 2")),
        ("saved-modified", _fn("(x,) = ctx.saved_tensors\n        return g * x",
                               forward="ctx.save_for_backward(x)\n        return x * 2",
                               modify=True)),
        ("mark-dirty-not-input", _fn("return g", forward="y = x * 2\n        ctx.mark_dirty(y)\n"
                                                         "        return y")),
        ("apply-with-kwargs", "class F(agx.autograd.Function):\n"
                              "    @staticmethod\n    def forward(ctx, x):\n        return x * 2\n"
                              "    @staticmethod\n    def backward(ctx, g):\n        return g * 2\n"
                              "out = F.apply(x=agx.ones(2, requires_grad=True))"),
        ("call-instance", "class F(agx.autograd.Function):\n"
                          "    @staticmethod\n    def forward(ctx, x):\n        return x * 2\n"
                          "    @staticmethod\n    def backward(ctx, g):\n        return g * 2\n"
                          "out = F()(agx.ones(2, requires_grad=True))"),
    ], torch=True)
    out += _api("graph", _graph_cases(), torch=True)
    out += _api("hooks", _hook_cases(), torch=True)
    out += _api("serialization", _serialization_cases())
    out += _api("threads", _thread_cases())
    return out


def _fn(backward, *, forward="return x * 2", inputs=1, modify=False):
    """A custom Function whose backward (or forward) does something odd, run once."""
    args = ", ".join(["x", "y"][:inputs])
    leaves = "\n".join(f"{n} = agx.ones(2, requires_grad=True)" for n in ["x", "y"][:inputs])
    body = (f"class F(agx.autograd.Function):\n"
            f"    @staticmethod\n    def forward(ctx, {args}):\n        {forward}\n"
            f"    @staticmethod\n    def backward(ctx, g):\n        {backward}\n"
            f"{leaves}\n")
    if modify:
        return body + "x2 = x * 1\nout = F.apply(x2)\nx2.add_(1)\nout.sum().backward()"
    return body + f"out = F.apply({args})\nout.sum().backward()\ngrads = x.grad"


def _graph_cases():
    """Changes to a graph between its forward and its backward, and odd custom Functions."""
    x = "x = agx.tensor([1.0, 2.0, 3.0], requires_grad=True)\n"
    fn2 = ("class F(agx.autograd.Function):\n"
           "    @staticmethod\n    def forward(ctx, x):\n        {forward}\n"
           "    @staticmethod\n    def backward(ctx, *g):\n        {backward}\n")
    return [
        ("data-other-dtype", x + "y = x * x\nx.data = agx.ones(3, dtype=agx.int64)\n"
                                 "y.sum().backward()\nout = x.grad"),
        ("data-other-dtype-float32", x + "y = (x * x).sum()\nx.data = agx.ones(3)\n"
                                         "y.backward()\nout = x.grad"),
        ("leaf-requires-grad-off", x + "y = (x * x).sum()\nx.requires_grad_(False)\n"
                                       "y.backward()\nout = x.grad"),
        ("leaf-detach_", x + "y = (x * x).sum()\nx.detach_()\ny.backward()\nout = x.grad"),
        ("non-leaf-detach_", x + "z = x * 2\ny = (z * z).sum()\nz.detach_()\n"
                                 "y.backward()\nout = x.grad"),
        ("grad-set-to-graph", x + "x.grad = x * 2\n(x * x).sum().backward(create_graph=True)\n"
                                  "out = x.grad"),
        ("grad-set-then-create-graph", x + "x.grad = agx.ones(3)\n"
                                           "(x ** 3).sum().backward(create_graph=True)\n"
                                           "out = agx.autograd.grad(x.grad.sum(), x)"),
        ("version-bump-saved-leaf-input", x + "z = x * 1\ny = z.exp()\nz.add_(1)\n"
                                              "y.sum().backward()\nout = x.grad"),
        ("inplace-on-output-then-backward", x + "y = x.exp()\ny.mul_(2)\n"
                                               "y.sum().backward()\nout = x.grad"),
        ("inplace-through-two-views", x + "z = x * 1\na, b = z[:2], z[1:]\n"
                                          "with agx.no_grad():\n    a.add_(b)\n"
                                          "z.sum().backward()\nout = (x.grad, z)"),
        ("overlapping-inplace-add", "z = agx.arange(6.0)\nz[1:].add_(z[:-1])\nout = z"),
        ("overlapping-inplace-mul", "z = agx.arange(6.0)\nz[:-1].mul_(z[1:])\nout = z"),
        ("overlapping-inplace-copy", "z = agx.arange(6.0)\nz[1:].copy_(z[:-1])\nout = z"),
        ("self-inplace-add", "z = agx.arange(6.0)\nz.add_(z)\nout = z"),
        ("self-inplace-flip", "z = agx.arange(6.0)\nz.add_(z.flip(0))\nout = z"),
        ("inplace-500", "z = agx.arange(500.0)\nz[1:].add_(z[:-1])\nout = z"),
        ("inplace-501", "z = agx.arange(501.0)\nz[1:].add_(z[:-1])\nout = z"),
        ("multi-output-one-used", x + "v, i = x.max(0)\nv.backward()\nout = x.grad"),
        ("multi-output-hook", "x = agx.ones(4, 3, requires_grad=True)\nparts = x.unbind(0)\n"
                              "parts[1].register_hook(lambda g: g * 5)\n"
                              "sum(p.sum() for p in parts).backward()\nout = x.grad"),
        ("multi-output-retain-grad", "x = agx.ones(4, 3, requires_grad=True)\n"
                                     "a, b = x.split(2)\na.retain_grad()\n"
                                     "(a * b).sum().backward()\nout = (x.grad, a.grad)"),
        ("inputs-multi-output", "x = agx.ones(4, 3, requires_grad=True)\na, b = x.split(2)\n"
                                "(a * b).sum().backward(inputs=[a])\nout = a.grad"),
        ("accumulate-node-hook", x + "y = x * 2\nacc = y.grad_fn.next_functions[0][0]\n"
                                     "acc.register_hook(lambda gi, go: 5)\n"
                                     "y.sum().backward()\nout = x.grad"),
        ("accumulate-node-prehook", x + "y = x * 2\nacc = y.grad_fn.next_functions[0][0]\n"
                                        "acc.register_prehook(lambda go: (agx.ones(9),))\n"
                                        "y.sum().backward()\nout = x.grad"),
        ("hook-on-dead-tensor", x + "y = x * 2\ny.register_hook(lambda g: g * 3)\n"
                                    "s = y.sum()\ndel y\ns.backward()\nout = x.grad"),
        ("grad-fn-name", x + "out = (x * 2).grad_fn.name()"),
        ("grad-fn-saved", x + "out = (x * x).grad_fn._saved_self"),
        ("grad-fn-after-free", x + "y = (x * x)\ny.sum().backward()\n"
                                   "out = y.grad_fn.next_functions"),
        ("backward-twice-cleared-graph-hook", x + "y = (x * x).sum()\ny.backward()\n"
                                                  "y.grad_fn.register_hook(lambda gi, go: None)\n"
                                                  "y.backward()"),
        ("function-two-outputs-one-used", fn2.format(
            forward="return x * 2, x * 3", backward="return g[0] + g[1]")
         + x + "a, b = F.apply(x)\na.sum().backward()\nout = x.grad"),
        ("function-output-non-tensor", fn2.format(
            forward="return x * 2, 5", backward="return g[0]")
         + x + "a, n = F.apply(x)\na.sum().backward()\nout = (x.grad, n)"),
        ("function-mark-non-differentiable", fn2.format(
            forward="y = x * 2\n        ctx.mark_non_differentiable(y)\n        return y",
            backward="return g[0]") + x + "out = F.apply(x)\nout.sum().backward()"),
        ("function-returns-view", fn2.format(forward="return x[:2]", backward="return None")
         + x + "out = F.apply(x)\nout.sum().backward()\nout = x.grad"),
        ("function-needs-input-grad", fn2.format(
            forward="ctx.flags = ctx.needs_input_grad\n        return x * 2",
            backward="return g[0] * 2") + x + "y = F.apply(x)\ny.sum().backward()\n"
                                               "out = x.grad"),
        ("function-backward-requires-grad", fn2.format(
            forward="ctx.save_for_backward(x)\n        return x * x",
            backward="(x,) = ctx.saved_tensors\n        return 2 * x * g[0]")
         + x + "y = F.apply(x).sum()\n(g,) = agx.autograd.grad(y, x, create_graph=True)\n"
               "out = agx.autograd.grad(g.sum(), x)"),
        ("once-differentiable-double", "from autogradx.autograd.function import once_differentiable\n"
         "class F(agx.autograd.Function):\n    @staticmethod\n    def forward(ctx, x):\n"
         "        ctx.save_for_backward(x)\n        return x * x\n    @staticmethod\n"
         "    @once_differentiable\n    def backward(ctx, g):\n        (x,) = ctx.saved_tensors\n"
         "        return 2 * x * g\n"
         + x + "y = F.apply(x).sum()\n(g,) = agx.autograd.grad(y, x, create_graph=True)\n"
               "out = agx.autograd.grad(g.sum(), x)"),
        ("function-saved-tensors-twice", fn2.format(
            forward="ctx.save_for_backward(x)\n        return x * 2",
            backward="ctx.saved_tensors\n        (x,) = ctx.saved_tensors\n        return g[0] * 2")
         + x + "F.apply(x).sum().backward()\nout = x.grad"),
        ("function-apply-no-grad-input", fn2.format(forward="return x * 2",
                                                    backward="return g[0]")
         + "out = F.apply(agx.ones(2))\nout = out.requires_grad"),
        ("function-apply-non-tensor-input", fn2.format(forward="return agx.ones(2) * x",
                                                       backward="return g[0]")
         + "out = F.apply(3.0)"),
        ("checkpoint-reentrant-inplace",
         "from autogradx.utils.checkpoint import checkpoint\n" + x +
         "def f(x):\n    y = x * 2\n    y.add_(1)\n    return y.exp()\n"
         "out = checkpoint(f, x, use_reentrant=True)\nout.sum().backward()\nout = x.grad"),
        ("checkpoint-nested", "from autogradx.utils.checkpoint import checkpoint\n" + x +
         "inner = lambda x: (x * x).sin()\n"
         "out = checkpoint(lambda x: checkpoint(inner, x, use_reentrant=False) * 2, x, "
         "use_reentrant=False)\nout.sum().backward()\nout = x.grad"),
        ("anomaly-backward-raises", fn2.format(forward="return x * 2",
                                               backward="raise ValueError('sweep-deliberate')")
         + x + "with agx.autograd.detect_anomaly():\n    F.apply(x).sum().backward()"),
        ("deep-graph-recursion-limit", "import sys\nx = agx.ones(2, requires_grad=True)\n"
         "y = x\nfor _ in range(20000): y = y * 1.0\nlimit = sys.getrecursionlimit()\n"
         "sys.setrecursionlimit(60)\ntry:\n    y.sum().backward()\n    del y\n"
         "finally:\n    sys.setrecursionlimit(limit)\nout = x.grad"),
        ("wide-stack", "xs = [agx.ones((), requires_grad=True) for _ in range(20000)]\n"
                       "agx.stack(xs).sum().backward()\nout = xs[-1].grad"),
        ("view-chain-inplace", "x = agx.ones(4, 4, requires_grad=True)\nz = x * 1\n"
                               "v = z.t()[1:].t()\nv.mul_(2)\nz.sum().backward()\nout = x.grad"),
        ("base-modified-after-view", "x = agx.ones(4, requires_grad=True)\nz = x * 1\n"
                                     "v = z[1:]\nz.mul_(3)\nv.sum().backward()\nout = x.grad"),
    ]


def _hook_cases():
    """Tensor and node hooks returning odd objects, raising, or changing the graph."""
    returns = {
        "int": "5", "float": "2.5", "str": "'abc'", "list": "[g]", "tuple": "(g,)",
        "ndarray": "np.ones(g.shape)", "wrong-shape": "agx.ones(7)",
        "int-dtype": "agx.ones(g.shape, dtype=agx.int64)",
        "float32": "agx.ones(g.shape, dtype=agx.float32)",
        "requires-grad": "agx.ones(g.shape, dtype=g.dtype, requires_grad=True)",
        "nan": "g * float('nan')", "None": "None",
    }
    out = []
    setup = "x = agx.ones(2, dtype=agx.float64, requires_grad=True)\ny = x * x\n"
    for name, ret in returns.items():
        out.append((f"tensor-hook-returns-{name}",
                    setup + f"y.register_hook(lambda g: {ret})\ny.sum().backward()\nout = x.grad"))
        out.append((f"leaf-hook-returns-{name}",
                    setup + f"x.register_hook(lambda g: {ret})\ny.sum().backward()\nout = x.grad"))
    node_returns = {
        "int": "5", "None": "None", "tuple-int": "(5,)", "tuple-None": "(None,)",
        "tuple-str": "('a',)", "tuple-wrong-shape": "(agx.ones(9),)", "list": "[g[0]]",
        "tuple-too-many": "(g[0], g[0])", "empty": "()", "tuple-int-dtype":
        "(agx.ones(2, dtype=agx.int64),)",
    }
    for name, ret in node_returns.items():
        out.append((f"node-prehook-returns-{name}",
                    setup + f"y.grad_fn.register_prehook(lambda g: {ret})\ny.sum().backward()\n"
                            "out = x.grad"))
        post = ret.replace("g[0]", "gi[0]")
        out.append((f"node-posthook-returns-{name}",
                    setup + f"y.grad_fn.register_hook(lambda gi, g: {post})\ny.sum().backward()\n"
                            "out = x.grad"))
    out += [
        ("hook-raises", setup + "def h(g):\n    raise ValueError('sweep-deliberate')\n"
                                "y.register_hook(h)\ny.sum().backward()"),
        ("hook-not-callable", setup + "y.register_hook(5)"),
        ("hook-None", setup + "y.register_hook(None)"),
        ("hook-on-no-grad-tensor", "x = agx.ones(2)\nx.register_hook(lambda g: g)"),
        ("hook-removes-itself", setup + "def h(g):\n    handle.remove()\n    return g * 2\n"
                                        "handle = y.register_hook(h)\ny.sum().backward(retain_graph=True)\n"
                                        "y.sum().backward()\nout = x.grad"),
        ("hook-remove-twice", setup + "handle = y.register_hook(lambda g: g)\nhandle.remove()\n"
                                      "handle.remove()\ny.sum().backward()\nout = x.grad"),
        ("hook-adds-hook", setup + "def h(g):\n    y.register_hook(lambda g2: g2 * 3)\n    return g\n"
                                   "y.register_hook(h)\ny.sum().backward(retain_graph=True)\n"
                                   "y.sum().backward()\nout = x.grad"),
        ("hook-reentrant-backward", setup + "def h(g):\n    z = agx.ones(2, requires_grad=True)\n"
                                            "    (z * 3).sum().backward()\n    return g\n"
                                            "y.register_hook(h)\ny.sum().backward()\nout = x.grad"),
        ("hook-backward-same-graph", setup + "def h(g):\n    y.sum().backward(retain_graph=True)\n"
                                             "    return g\ny.register_hook(h)\n"
                                             "y.sum().backward(retain_graph=True)\nout = x.grad"),
        ("hook-modifies-grad-in-place", setup + "def h(g):\n    g.add_(1)\n"
                                                "y.register_hook(h)\ny.sum().backward()\nout = x.grad"),
        ("hook-deletes-graph", setup + "def h(g):\n    global y\n    del y\n    return g\n"
                                       "y.register_hook(h)\ny.sum().backward()\nout = x.grad"),
        ("hook-many", setup + "for i in range(1000):\n    y.register_hook(lambda g: g)\n"
                              "y.sum().backward()\nout = x.grad"),
        ("retain-grad-then-hook", setup + "y.retain_grad()\ny.register_hook(lambda g: g * 2)\n"
                                          "y.sum().backward()\nout = (x.grad, y.grad)"),
        ("grad_fn-next-functions", setup + "out = len(y.grad_fn.next_functions)"),
        ("grad_fn-call", setup + "out = y.grad_fn(agx.ones(2))"),
        ("module-forward-hook-returns-str",
         "m = agx.nn.Linear(2, 2)\nm.register_forward_hook(lambda mod, i, o: 'abc')\n"
         "out = m(agx.ones(1, 2))"),
        ("module-forward-pre-hook-returns-int",
         "m = agx.nn.Linear(2, 2)\nm.register_forward_pre_hook(lambda mod, i: 5)\n"
         "out = m(agx.ones(1, 2))"),
    ]
    return out


def _serialization_cases():
    save_load = "import io\nb = io.BytesIO()\nagx.save({obj}, b)\nb.seek(0)\nout = agx.load(b)\n"
    odd = {
        "lambda": "lambda: 1", "object": "object()", "set": "{1, 2}", "bytes": "b'abc'",
        "complex": "1 + 2j", "2**100": "2**100", "nan": "float('nan')",
        "ndarray": "np.ones(3)", "np-scalar": "np.float64(1.5)", "generator": "(i for i in [1])",
        "None": "None", "surrogate-str": "'\\ud800'", "long-str": "'x' * 10**7",
        "int-keys": "{1: agx.ones(2)}", "tuple-keys": "{(1, 2): 3}", "object-keys": "{object(): 1}",
        "non-leaf": "agx.ones(2, requires_grad=True) * 2",
        "complex-tensor": "agx.ones(2, dtype=agx.complex64)",
        "empty-tensor": "agx.ones(0, 3)", "0-d": "agx.tensor(1.5)",
        "big-endian-tensor": "agx.tensor(np.arange(3.0).astype('>f8'))",
        "module": "agx.nn.Linear(2, 2)", "parameter": "agx.nn.Parameter(agx.ones(2))",
        "state_dict": "agx.nn.Linear(2, 2).state_dict()",
        "optimizer": "agx.optim.SGD(agx.nn.Linear(2, 2).parameters(), lr=0.1, momentum=0.9)"
                     ".state_dict()",
        "tensor-class": "agx.Tensor", "dtype": "agx.float32", "device": "agx.device('cpu')",
        "slice": "slice(1, 2)", "Ellipsis": "...",
    }
    out = [(f"save-{name}", save_load.format(obj=obj)) for name, obj in odd.items()]
    out += [
        ("save-recursive-list", "import io\nl = []\nl.append(l)\nagx.save(l, io.BytesIO())"),
        ("save-recursive-dict", "import io\nd = {}\nd['d'] = d\nagx.save(d, io.BytesIO())"),
        ("save-deep-nesting", "import io\nn = []\nfor _ in range(100000): n = [n]\n"
                              "agx.save(n, io.BytesIO())"),
        ("save-shared-views",
         "import io\nx = agx.ones(4)\nb = io.BytesIO()\nagx.save([x, x[1:3]], b)\nb.seek(0)\n"
         "out = agx.load(b)\nout[0][1] = 5.0\nout = out[1]"),
        ("save-to-directory", "import tempfile\nagx.save(agx.ones(2), tempfile.mkdtemp())"),
        ("save-to-missing-folder", "agx.save(agx.ones(2), '/nonexistent-sweep/x.pt')"),
        ("save-to-read-only-file", "import tempfile, os\nfd, p = tempfile.mkstemp()\n"
                                   "with open(p, 'rb') as f:\n    agx.save(agx.ones(2), f)"),
        ("save-to-closed-file", "import io\nb = io.BytesIO()\nb.close()\nagx.save(agx.ones(2), b)"),
        ("save-to-None", "agx.save(agx.ones(2), None)"),
        ("save-to-int", "agx.save(agx.ones(2), 5)"),
        ("load-missing", "out = agx.load('/nonexistent-sweep/x.pt')"),
        ("load-directory", "import tempfile\nout = agx.load(tempfile.mkdtemp())"),
        ("load-empty", "import io\nout = agx.load(io.BytesIO(b''))"),
        ("load-garbage", "import io\nout = agx.load(io.BytesIO(bytes(range(256)) * 10))"),
        ("load-text", "import io\nout = agx.load(io.BytesIO(b'hello world'))"),
        ("load-pickle", "import io, pickle\nout = agx.load(io.BytesIO(pickle.dumps([1, 2])))"),
        ("load-npy", "import io\nb = io.BytesIO()\nnp.save(b, np.ones(3))\nb.seek(0)\n"
                     "out = agx.load(b)"),
        ("load-zip-of-nothing", "import io, zipfile\nb = io.BytesIO()\n"
                                "zipfile.ZipFile(b, 'w').close()\nb.seek(0)\nout = agx.load(b)"),
        ("load-None", "out = agx.load(None)"),
        ("load-int", "out = agx.load(5)"),
        ("load-map-location-cuda", "import io\nb = io.BytesIO()\nagx.save(agx.ones(2), b)\n"
                                   "b.seek(0)\nout = agx.load(b, map_location='cuda')"),
        ("load-map-location-callable", "import io\nb = io.BytesIO()\nagx.save(agx.ones(2), b)\n"
                                       "b.seek(0)\nout = agx.load(b, map_location=lambda s, l: s)"),
        ("load-weights-only-false", "import io\nb = io.BytesIO()\nagx.save(agx.ones(2), b)\n"
                                    "b.seek(0)\nout = agx.load(b, weights_only=False)"),
        ("load-limits-negative", "import io\nb = io.BytesIO()\nagx.save(agx.ones(2), b)\n"
                                 "b.seek(0)\nout = agx.load(b, max_total_size=-1)"),
        ("load-limits-str", "import io\nb = io.BytesIO()\nagx.save(agx.ones(2), b)\n"
                            "b.seek(0)\nout = agx.load(b, max_entries='a')"),
        ("load-truncated", "import io\nb = io.BytesIO()\nagx.save({'a': agx.ones(100)}, b)\n"
                           "out = agx.load(io.BytesIO(b.getvalue()[:-40]))"),
    ]
    return out


def _thread_cases():
    """Threads running backward concurrently on shared graphs (each checks its results)."""
    pre = ("import threading\n"
           "errors = []\n"
           "def run(n, f):\n"
           "    def body():\n"
           "        try:\n"
           "            f()\n"
           "        except Exception as e:\n"
           "            errors.append(e)\n"
           "    ts = [threading.Thread(target=body) for _ in range(n)]\n"
           "    for t in ts: t.start()\n"
           "    for t in ts: t.join(60)\n"
           "    assert not any(t.is_alive() for t in ts), 'a thread is still running'\n")
    x64 = "x = agx.tensor(np.random.default_rng(0).uniform(-1, 1, (64, 64)), requires_grad=True)\n"
    return [
        ("shared-graph-retain", pre + x64 +
         "y = (x @ x).tanh().sum()\n"
         "ref = agx.autograd.grad(y, x, retain_graph=True)[0].numpy()\n"
         "def f():\n    for _ in range(10): y.backward(retain_graph=True)\n"
         "run(4, f)\nassert not errors, errors\n"
         "assert np.allclose(x.grad.numpy(), 40 * ref), 'lost or extra gradient'"),
        ("shared-graph-no-retain", pre + x64 +
         "y = (x @ x).tanh().sum()\n"
         "def f():\n    y.backward()\n"
         "run(4, f)\n"
         "assert all(isinstance(e, RuntimeError) for e in errors), errors\n"
         "assert len(errors) == 3, f'{len(errors)} errors for 4 backward passes of one graph'"),
        ("shared-graph-grad-create-graph", pre + x64 +
         "y = (x * x * x).sum()\nres = []\n"
         "def f():\n    g, = agx.autograd.grad(y, x, create_graph=True, retain_graph=True)\n"
         "    gg, = agx.autograd.grad(g.sum(), x, retain_graph=True)\n    res.append(gg.numpy())\n"
         "run(4, f)\nassert not errors, errors\n"
         "assert all(np.allclose(r, 6 * x.detach().numpy()) for r in res)"),
        ("shared-leaf-separate-graphs", pre +
         "x = agx.ones(1000, dtype=agx.float64, requires_grad=True)\n"
         "def f():\n    for _ in range(20): (x * 2).sum().backward()\n"
         "run(8, f)\nassert not errors, errors\n"
         "assert np.allclose(x.grad.numpy(), 320), 'lost or extra gradient'"),
        ("inplace-while-backward", pre + x64 +
         "y = x * 1\nz = (y * y).sum()\n"
         "def f():\n    try:\n        z.backward(retain_graph=True)\n    except RuntimeError:\n"
         "        pass\n"
         "def g():\n    with agx.no_grad():\n        y.add_(1)\n"
         "run(2, f)\nrun(1, g)\nrun(2, f)\nassert not errors, errors"),
        ("hooks-registered-while-backward", pre + x64 +
         "y = (x * x).sum()\n"
         "def f():\n    for _ in range(10):\n        x.register_hook(lambda g: g)\n"
         "        y.backward(retain_graph=True)\n"
         "run(4, f)\nassert not errors, errors"),
        ("grad-mode-per-thread", pre +
         "x = agx.ones(2, requires_grad=True)\nflags = []\n"
         "def f():\n    with agx.no_grad():\n        for _ in range(100): flags.append((x * 2).requires_grad)\n"
         "def g():\n    for _ in range(100): flags.append(not (x * 2).requires_grad)\n"
         "run(2, f)\nrun(2, g)\nassert not errors, errors\nassert not any(flags), 'grad mode leaked'"),
        ("graph-dropped-while-backward", pre + x64 +
         "holder = [(x @ x).sum()]\n"
         "def f():\n    try:\n        y = holder[0]\n        y.backward(retain_graph=True)\n"
         "    except (IndexError, RuntimeError):\n        pass\n"
         "def g():\n    holder.clear()\n    import gc; gc.collect()\n"
         "run(3, f)\nrun(1, g)\nassert not errors, errors"),
        ("anomaly-toggled", pre + x64 +
         "y = (x * x).sum()\n"
         "def f():\n    for i in range(20):\n        agx.set_detect_anomaly(i % 2 == 0)\n"
         "        y.backward(retain_graph=True)\n"
         "run(4, f)\nagx.set_detect_anomaly(False)\nassert not errors, errors"),
        ("many-small-graphs", pre +
         "x = agx.ones(3, requires_grad=True)\n"
         "def f():\n    for _ in range(200): (x.exp() * x).sum().backward()\n"
         "run(16, f)\nassert not errors, errors\n"
         "assert np.allclose(x.grad.numpy(), 3200 * 2 * np.e), 'lost or extra gradient'"),
        ("custom-function-threads", pre +
         "class F(agx.autograd.Function):\n    @staticmethod\n    def forward(ctx, x):\n"
         "        ctx.save_for_backward(x)\n        return x * x\n    @staticmethod\n"
         "    def backward(ctx, g):\n        (x,) = ctx.saved_tensors\n        return 2 * x * g\n"
         "x = agx.ones(3, requires_grad=True)\ny = F.apply(x).sum()\n"
         "def f():\n    for _ in range(20): y.backward(retain_graph=True)\n"
         "run(4, f)\nassert not errors, errors\nassert np.allclose(x.grad.numpy(), 160)"),
    ]
