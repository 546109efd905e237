"""Module-level ``__getattr__``/``__dir__`` serving the ops of one registry namespace.

Functions such as ``autogradx.exp`` or ``autogradx.nn.functional.softmax`` are
not listed by hand: each module asks the registry for the ops exposed in its
namespace, on first use, so that importing autogradx scans no plugins.
"""


#: The modules that serve ops, by registry namespace: a function appears only where one is.
MODULES = {"": "autogradx", "nn.functional": "autogradx.nn.functional",
           "linalg": "autogradx.linalg", "special": "autogradx.special"}


def op_namespace(module_name, namespace):
    """``(__getattr__, __dir__)`` for module ``module_name``, serving the ops of registry
    namespace ``namespace`` (``""``: the top level); an op looked up is cached on the module."""
    import sys
    assert MODULES[namespace] == module_name, "a module serving ops is listed in MODULES"

    def __getattr__(name):
        if name.startswith("__"):
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        from autogradx._registry import REGISTRY
        ops = REGISTRY.namespace(namespace)
        try:
            op = ops[name]
        except KeyError:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}") from None
        setattr(sys.modules[module_name], name, op)
        return op

    def __dir__():
        from autogradx._registry import REGISTRY
        return sorted(set(vars(sys.modules[module_name])) | set(REGISTRY.namespace(namespace)))

    return __getattr__, __dir__
