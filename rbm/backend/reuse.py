"""Compiled functions reused across objects of the same structure, in one process.

Why: compiling a training step (graph rewrites, linking, JAX tracing or
Numba's LLVM) costs from a fraction of a second to seconds, while a small job
trains in milliseconds; every new ``Trainer``, every clone of an estimator and
every fold of a grid search used to pay it again for the same graph.

How: a compiled PyTensor function reads and updates its shared variables
through their containers, so the same compiled code serves another object
once those are swapped. :class:`FunctionCache` keeps, per structure key, one
*template*: the function first compiled for that structure, re-bound to
placeholder shared variables (so the cache keeps no model, data or state of
the object it was first compiled for). A later object of the same structure
gets ``template.copy(swap=...)`` bound to its own shared variables: the
rewritten graph is copied (no rewrites run) and, under the JIT linkers (JAX,
Numba), the copy runs the template's already-compiled code. Results are those
of a fresh compile (tested), and state stays live in the object's own
shared variables, as if it had compiled the function itself.
"""
import collections
import contextlib
import json
import threading
import types
import warnings

import numpy as np
import pytensor
import pytensor.link.jax.linker

__all__ = ["FunctionCache", "copy_function", "compiled_function_count", "converting_for_a_copy", "structure_of",
           "compiled_for_model", "COMPILED_FUNCTIONS"]

#: functions compiled (graphs rewritten and linked) by rbm.backend.compile_function in this process
_compiled = collections.Counter()


def count_compilation(name):
    """Record that ``compile_function`` compiled a function named ``name`` (for the tests' compile counts)."""
    _compiled[name] += 1


def compiled_function_count(name=None):
    """How many functions rbm compiled in this process (copies of reused ones not counted).

    Parameters
    ----------
    name : str, optional
        Count only functions of this name (e.g. ``"train_fn"``); all when None.

    Returns
    -------
    int

    Examples
    --------
    >>> from rbm.backend import reuse
    >>> before = reuse.compiled_function_count()
    >>> isinstance(before, int)
    True
    """
    return sum(_compiled.values()) if name is None else _compiled[name]


#: set while copy_function copies a function whose compiled code the copy will take over
_copying = threading.local()


def converting_for_a_copy():
    """Whether the graph being converted belongs to a copy that will run its original's compiled code.

    rbm's wrapper of Numba's ``fgraph_convert`` (in :mod:`rbm.backend`) then
    skips the conversion (a quarter of a second for a training step: every
    node made into Python source and Numba functions) and returns
    :data:`UNCONVERTED`.
    """
    return getattr(_copying, "active", False)


def _never_called(*args):
    raise RuntimeError("rbm: a copied Numba function ran without its original's compiled code")


#: what a skipped conversion returns: a function that refuses to run, and no cache key
UNCONVERTED = (types.SimpleNamespace(py_func=_never_called), None)


@contextlib.contextmanager
def expected_linker_warnings():
    """Silence what PyTensor's JAX linker says of every rbm graph it builds (expected, not a problem).

    It announces that it keeps its own copy of shared random generators (so
    ``model.rng`` stops advancing there) and that it drops shape assertions
    JAX cannot trace.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The RandomType SharedVariables", category=UserWarning)
        warnings.filterwarnings("ignore", message="Skipping Assert", category=UserWarning)
        yield


def copy_function(function, swap, name=None, share_compiled=True):
    """``function.copy(swap=swap)``, running ``function``'s compiled code where a JIT linker made it.

    Parameters
    ----------
    function : pytensor.compile.function.types.Function
        A compiled function.
    swap : dict
        Shared variable of ``function`` -> shared variable of the same type
        that the copy reads and updates instead.
    name : str, optional
        The copy's name (``function``'s by default).
    share_compiled : bool, default True
        Run ``function``'s compiled code; when False the copy compiles its
        own on its first call.

    Returns
    -------
    pytensor.compile.function.types.Function

    Notes
    -----
    PyTensor's JIT linkers (JAX, Numba) wrap the whole graph in one jitted
    callable, which the copy would make anew and compile again on its first
    call (measured: 4 s for the digits training step under Numba). The copy
    is of the same rewritten graph with its inputs in the same order, so it
    takes the original's callable instead; JAX and Numba compile lazily, so
    the copy's own one, never called, costs nothing.
    """
    original = getattr(function.vm, "jit_fn", None) if share_compiled else None
    _copying.active = original is not None
    try:
        with expected_linker_warnings():
            copy = function.copy(swap=swap, name=name or function.name)
    finally:
        _copying.active = False
    if original is None:
        return copy
    thunk = copy.vm
    defaults = getattr(thunk, "__defaults__", None)
    # PyTensor's JITLinker thunk takes its jitted callable as its first default argument
    if not defaults or defaults[0] is not getattr(thunk, "jit_fn", None):
        raise RuntimeError("rbm.backend.copy_function: this PyTensor's JIT thunks are not laid out as rbm expects")
    thunk.__defaults__ = (original, *defaults[1:])
    thunk.jit_fn = original
    return copy


def structure_of(*parts):
    """What of ``parts`` (a model, its layers, an optimizer, ...) a compiled graph may hold as constants.

    Each part's class and its public settings of a plain type: numbers,
    strings, flags, None, and tuples or lists of those (a DBM's layer sizes);
    shared variables, arrays, other objects and private state are left out,
    as a reused function reads them from the object's own shared variables
    (a setting held otherwise must be in the caller's key). None parts are
    skipped.

    Parameters
    ----------
    *parts : objects or None

    Returns
    -------
    tuple or None
        Hashable; None when a part's class is defined outside rbm (it may
        bake in anything: such objects compile their own functions).

    Examples
    --------
    >>> import rbm
    >>> from rbm.backend.reuse import structure_of
    >>> model = rbm.RBM(n_visible=6, n_hidden=3)
    >>> structure_of(model) == structure_of(rbm.RBM(n_visible=6, n_hidden=3, seed=1))
    True
    >>> structure_of(model) == structure_of(rbm.RBM(n_visible=6, n_hidden=4))
    False
    """
    parts = [part for part in parts if part is not None]
    if not all(type(part).__module__.split(".")[0] == "rbm" for part in parts):
        return None
    return tuple((f"{type(part).__module__}.{type(part).__qualname__}",
                  tuple(sorted((name, tuple(value) if isinstance(value, list) else value)
                               for name, value in vars(part).items()
                               if _plain(value) and not name.startswith("_") and name != "seed")))
                 for part in parts)


def _plain(value):
    """Whether ``value`` is a number, string, flag or None, or a tuple or list of those."""
    if isinstance(value, (tuple, list)):
        return all(_plain(item) and not isinstance(item, (tuple, list)) for item in value)
    return value is None or isinstance(value, (bool, int, float, str))


def _is_jax(function):
    return isinstance(function.maker.linker, pytensor.link.jax.linker.JAXLinker)


def _placeholder(variable):
    """A shared variable of ``variable``'s type holding a small value, not ``variable``'s data."""
    if isinstance(variable.type, pytensor.tensor.random.type.RandomGeneratorType):
        value = np.random.default_rng(0)
    else:
        value = np.zeros([1 if size is None else size for size in variable.type.shape], dtype=variable.type.dtype)
    return type(variable)(type=variable.type, value=value, strict=False, name=variable.name)


class FunctionCache:
    """Compiled functions by structure key, each served to every later object of that structure.

    Parameters
    ----------
    max_size : int, default 64
        Templates kept; the least recently used goes first.

    Examples
    --------
    >>> import numpy as np
    >>> from rbm import backend
    >>> from rbm.backend.reuse import FunctionCache
    >>> cache = FunctionCache()
    >>> def counter_function(counter):
    ...     return backend.compile_function([], counter, updates={counter: counter + 1}, mode="FAST_COMPILE")
    >>> first, second = (backend.shared(np.zeros(2), "counter", "float64") for _ in range(2))
    >>> f = cache.get("counter", {"counter": first}, lambda: counter_function(first))
    >>> g = cache.get("counter", {"counter": second}, lambda: counter_function(second))
    >>> _ = f(), f(), g()
    >>> first.get_value(), second.get_value()
    (array([2., 2.]), array([1., 1.]))
    """

    def __init__(self, max_size=64):
        self.max_size = max_size
        self._templates = collections.OrderedDict()
        self._lock = threading.Lock()

    def __len__(self):
        return len(self._templates)

    def clear(self):
        """Forget every template (later objects compile again)."""
        with self._lock:
            self._templates.clear()

    def get(self, key, variables, compile_function):
        """The function of structure ``key`` bound to ``variables``: a copy of the template, or compiled now.

        Parameters
        ----------
        key : hashable
            Everything that shapes the compiled graph (sizes, dtype, mode,
            method, options baked in as constants); two objects with equal
            keys must build the same graph from their own shared variables.
        variables : dict
            Name -> shared variable: every shared variable the function of
            this object reads or updates, named as for every object of the
            structure.
        compile_function : callable
            ``compile_function()`` builds and compiles the function for this
            object; called when no template exists (or the template does not
            fit ``variables``).

        Returns
        -------
        pytensor.compile.function.types.Function
            Reads and updates ``variables``.
        """
        with self._lock:
            entry = self._templates.get(key)
            if entry is not None:
                self._templates.move_to_end(key)
        if entry is not None:
            template, names = entry
            if all(name in variables and variables[name].type.in_same_class(placeholder.type)
                   for placeholder, name in names.items()):
                return copy_function(template, {placeholder: variables[name] for placeholder, name in names.items()})
        function = compile_function()
        names_of = {id(variable): name for name, variable in variables.items()}
        shared_inputs = [i.variable for i in function.maker.inputs if isinstance(i.variable, pytensor.compile.SharedVariable)]
        if not all(id(variable) in names_of for variable in shared_inputs):
            return function  # a shared variable the key's owner did not name: not safe to serve to others
        placeholders = {variable: _placeholder(variable) for variable in shared_inputs}
        # The cache must keep nothing of the object first compiled for (its training set, say). PyTensor's
        # JAX code closes over the nodes of the graph it was made from, and through them over that object's
        # shared variables, so under JAX the template compiles code of its own (traced once more, on the
        # next object's first call). And a copy's graph keeps clones of its original's shared inputs, which
        # share their containers: the template is a copy of a copy, whose leftover clones hold placeholders.
        share_compiled = not _is_jax(function)
        first_copy = copy_function(function, placeholders, share_compiled=share_compiled)
        second = {placeholder: _placeholder(placeholder) for placeholder in placeholders.values()}
        template = copy_function(first_copy, second, share_compiled=share_compiled)
        placeholders = {variable: second[placeholder] for variable, placeholder in placeholders.items()}
        with self._lock:
            self._templates[key] = (template, {placeholders[v]: names_of[id(v)] for v in shared_inputs})
            while len(self._templates) > self.max_size:
                self._templates.popitem(last=False)
        return function


#: the functions of sampling and evaluation compiled in this process, by structure, for every later model of it
COMPILED_FUNCTIONS = FunctionCache()


def compiled_for_model(what, model, mode, variables, compile_function):
    """The function ``compile_function()`` compiles for ``model``, compiled once per structure in the process.

    Parameters
    ----------
    what : hashable
        Names the function and every setting its graph holds as a constant.
    model : RBM or DBM
        Its class, sizes, dtype and layers are the rest of the structure; its
        parameters (``model._settable()``, or ``model.params``) are read from
        the model's own shared variables.
    mode : str
        The compile mode (a ``Mode`` object: compiled every time).
    variables : dict
        Name -> every other shared variable the function reads or updates.
    compile_function : callable
        Builds and compiles the function for ``model`` and ``variables``.

    Returns
    -------
    pytensor.compile.function.types.Function
    """
    structure = structure_of(model, getattr(model, "visible", None), getattr(model, "hidden", None))
    if structure is None or not isinstance(mode, str):
        return compile_function()
    settings = model.get_settings() if hasattr(model, "get_settings") else {}
    key = (what, structure, json.dumps(settings, sort_keys=True, default=repr), mode.lower())
    parameters = model._settable() if hasattr(model, "_settable") else {p.name: p for p in model.params}
    return COMPILED_FUNCTIONS.get(key, {**{f"model {name}": p for name, p in parameters.items()}, **variables},
                                  compile_function)
