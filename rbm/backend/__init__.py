"""The one place where rbm configures PyTensor (its patches to PyTensor live in ``rbm.backend.patches``).

Everything else in the package asks this module for the float type, the compile
mode and random generators, so that switching between CPU and GPU, or between
float32 and float64, is a single decision made here.

Why these checks exist: PyTensor's unification-based rewrites (the ones that
turn ``log(sigmoid(x))`` into ``-softplus(-x)`` and fuse element-wise work)
live in ``etuples``, which needs ``packaging``. Without it PyTensor does not
fail: it silently skips those rewrites, so costs overflow to -inf/NaN and graphs
run about three times slower. We refuse to start in that state.

JAX and Numba are imported only when a function of their backend is first
built (rbm's patches, JAX's 64-bit mode and its compiled-code cache are set
then; see the end of this module), which keeps ``import rbm`` short.
"""
import functools
import importlib.util
import os
import shutil
import sys
import warnings

import numpy as np

for _module, _why in (
    ("packaging", "PyTensor silently skips its unification rewrites without it "
                  "(log(sigmoid) is not made stable, graphs run ~3x slower)"),
    ("etuples", "PyTensor's unification rewrites are built on it"),
):
    if importlib.util.find_spec(_module) is None:
        raise ImportError(
            f"rbm needs the '{_module}' package: {_why}. "
            f"Install it with `pip install {_module}` (it is a declared dependency of rbm)."
        )

import pytensor  # noqa: E402  (imported only after the checks above)
import pytensor.link.jax.linker  # noqa: E402  (needs no JAX until a JAX function is built)
import pytensor.link.numba.linker  # noqa: E402  (needs no Numba until a Numba function is built)
import pytensor.tensor as pt  # noqa: E402
import pytensor.tensor.random as ptr  # noqa: E402

from .patches import (  # noqa: E402
    fix_jax_dispatch,
    numba_sigmoid_in_input_precision,
    numba_transpose_as_view,
    register_static_length_slices,
    static_slice_length,
)
from .reuse import (  # noqa: E402
    COMPILED_FUNCTIONS,
    UNCONVERTED,
    FunctionCache,
    compiled_for_model,
    compiled_function_count,
    converting_for_a_copy,
    copy_function,
    count_compilation,
    expected_linker_warnings,
    structure_of,
)

# Numba's fast-math lets LLVM reassociate floating-point sums differently when a
# function is compiled fresh and when it is loaded from PyTensor's cache, so the
# same training step gave results differing in the last bits (measured: a run
# resumed with a cold cache drifted ~3e-5 relative from a warm-cache run).
# IEEE-exact arithmetic makes results independent of the cache.
pytensor.config.numba__fastmath = False

register_static_length_slices()  # a rewrite: registered now, before any graph is rewritten (imports nothing)

__all__ = ["get_floatx", "set_floatx", "resolve_mode", "compile_function",
           "shared", "shared_rng", "as_floatx", "MODE_ALIASES"]

#: Mode names users may pass, mapped to PyTensor's predefined modes.
#: ("cpu", JAX pinned to the CPU, is built by :func:`resolve_mode`.)
MODE_ALIASES = {"gpu": "JAX"}
#: PyTensor modes that can run everything rbm builds (scan with random draws).
SUPPORTED_PYTENSOR_MODES = ("NUMBA", "CVM", "JAX", "FAST_RUN", "FAST_COMPILE")

_FLOAT_TYPES = ("float32", "float64")
_floatx = "float32"


def get_floatx():
    """The float type rbm builds models in when nothing else decides it.

    Returns
    -------
    str
        ``"float32"`` unless :func:`set_floatx` changed it.

    Examples
    --------
    >>> from rbm import backend
    >>> backend.get_floatx()
    'float32'
    """
    return _floatx


def set_floatx(dtype):
    """Set the default float type of new models: "float32" (fast) or "float64".

    Models built afterwards without a ``dtype`` (and without a typed input or
    shared parameters) use it; existing models keep theirs.

    Parameters
    ----------
    dtype : str or numpy dtype
        ``"float32"`` or ``"float64"``.

    Raises
    ------
    ValueError
        For any other type.

    Examples
    --------
    >>> from rbm import backend
    >>> backend.set_floatx("float64")
    >>> backend.get_floatx()
    'float64'
    >>> backend.set_floatx("float32")  # back to the default
    """
    global _floatx
    dtype = np.dtype(dtype).name if dtype is not None else None
    if dtype not in _FLOAT_TYPES:
        raise ValueError(f"floatX must be one of {_FLOAT_TYPES}, got {dtype!r}")
    _floatx = dtype


def check_dtype(dtype):
    """``dtype`` as a float type's name, or the default when None.

    Parameters
    ----------
    dtype : str, numpy dtype or None

    Returns
    -------
    str
        ``"float32"`` or ``"float64"``; :func:`get_floatx` for None.

    Raises
    ------
    ValueError
        For any other type.

    Examples
    --------
    >>> import numpy as np
    >>> from rbm import backend
    >>> backend.check_dtype(np.float64), backend.check_dtype(None)
    ('float64', 'float32')
    """
    if dtype is None:
        return _floatx
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = None
    if name not in _FLOAT_TYPES:
        raise ValueError(f"dtype must be one of {_FLOAT_TYPES}, got {dtype!r}")
    return name


def as_floatx(value, dtype=None):
    """``value`` as a numpy array of a float type.

    Parameters
    ----------
    value : array-like
    dtype : str, optional
        ``"float32"`` or ``"float64"``; :func:`get_floatx` when None.

    Returns
    -------
    numpy.ndarray
        ``value`` itself when it already has that type, else a converted copy.

    Examples
    --------
    >>> from rbm import backend
    >>> backend.as_floatx([1, 2])
    array([1., 2.], dtype=float32)
    """
    return np.asarray(value, dtype=check_dtype(dtype))


def _jax_gpu_devices():
    if importlib.util.find_spec("jax") is None:
        raise ImportError(
            'mode="gpu" runs through PyTensor\'s JAX backend, but JAX is not installed: '
            "`pip install 'rbm[gpu]'` (JAX with CUDA)."
        )
    import jax

    try:
        return jax.devices("gpu")
    except RuntimeError:
        return []


class CPUJAXLinker(pytensor.link.jax.linker.JAXLinker):
    """PyTensor's JAX linker with every call run on the CPU, even where JAX also sees a GPU.

    Why: mode "cpu" is JAX on the CPU (the fastest CPU mode measured on the
    project's 2-core machine), and JAX would otherwise place work on its
    default device, a GPU if present. :func:`resolve_mode` builds the mode
    that uses it.

    Parameters
    ----------
    *args, **kwargs
        Those of PyTensor's ``JAXLinker``.
    """

    def jit_compile(self, fn):
        """JAX's compiled ``fn``, wrapped to run with the CPU as JAX's default device.

        Parameters
        ----------
        fn : callable
            The JAX function PyTensor built for a graph.

        Returns
        -------
        callable
            Takes and returns what the compiled ``fn`` does.
        """
        import jax

        compiled = super().jit_compile(fn)
        cpu = jax.devices("cpu")[0]
        # The inputs the function updates (shared variables) get its outputs, CPU arrays, as their next
        # values. JAX compiles again for every new combination of input kinds (numpy or JAX, committed to a
        # device or not), so such an input set from numpy between calls (a generator's key, a counter) made
        # the training step compile three times in a process's first two fits (measured: 6 s each with an
        # empty disk cache). They are put on the CPU first, so that every call has the same kinds.
        updated = sorted(set((self.fgraph.update_mapping or {}).values()) - set(self.scalar_shape_inputs))

        def on_cpu(value):
            if all(isinstance(leaf, jax.Array) and leaf.committed for leaf in jax.tree_util.tree_leaves(value)):
                return value
            return jax.device_put(value, cpu)

        def run_on_cpu(*args):
            if updated:
                args = list(args)
                for i in updated:
                    args[i] = on_cpu(args[i])
            with jax.default_device(cpu):
                return compiled(*args)

        return run_on_cpu


_cpu_mode = None


def _cpu_jax_mode():
    """PyTensor's JAX mode (same rewrites) with :class:`CPUJAXLinker`; built once."""
    global _cpu_mode
    if _cpu_mode is None:
        if importlib.util.find_spec("jax") is None:
            raise ImportError("mode='cpu' runs PyTensor's JAX backend on the CPU, but JAX is not "
                              "installed: `pip install jax` (a declared dependency of rbm), or pass "
                              "mode='NUMBA'")
        jax_mode = pytensor.compile.mode.get_mode("JAX")
        _cpu_mode = pytensor.compile.mode.Mode(linker=CPUJAXLinker(), optimizer=jax_mode.provided_optimizer)
    return _cpu_mode


def resolve_mode(mode="cpu"):
    """Map rbm's mode vocabulary to a PyTensor compile mode.

    Parameters
    ----------
    mode : str or pytensor.compile.mode.Mode, default "cpu"
        ``"cpu"``: PyTensor's JAX backend pinned to the CPU
        (:class:`CPUJAXLinker`), the fastest CPU mode benchmarks/bench_epoch.py
        measured on 2 cores (on a 16-core host ``"NUMBA"`` was faster; see the
        documentation's results). ``"gpu"``: PyTensor's JAX backend on a GPU.
        ``"NUMBA"``, ``"CVM"``, ``"JAX"`` (JAX on whatever device JAX picks),
        ``"FAST_RUN"`` or ``"FAST_COMPILE"``: PyTensor's own modes, any case.
        A ``Mode`` instance is returned unchanged.

    Returns
    -------
    pytensor.compile.mode.Mode

    Raises
    ------
    ValueError
        For an unknown name (PyTensor's PyTorch and MLX backends cannot run
        ``scan`` with random draws, so they are refused too).
    ImportError, RuntimeError
        For ``"cpu"``, ``"gpu"`` or ``"JAX"`` without JAX, or ``"gpu"``
        without a GPU that JAX sees.

    Examples
    --------
    >>> from rbm import backend
    >>> mode = backend.resolve_mode("cpu")
    >>> type(mode.linker).__name__
    'CPUJAXLinker'
    >>> backend.resolve_mode("numba") is backend.resolve_mode("NUMBA")
    True
    >>> backend.resolve_mode("fast")
    Traceback (most recent call last):
    ...
    ValueError: unknown mode 'fast': use 'cpu', 'gpu' or one of (...)
    """
    if isinstance(mode, pytensor.compile.mode.Mode):
        return mode
    if not isinstance(mode, str):
        raise TypeError(f"mode must be a string or a pytensor Mode, got {type(mode).__name__}")
    if mode.lower() == "cpu":
        return _cpu_jax_mode()
    name = MODE_ALIASES.get(mode.lower(), mode.upper())
    if name not in SUPPORTED_PYTENSOR_MODES:
        raise ValueError(
            f"unknown mode {mode!r}: use 'cpu', 'gpu' or one of {SUPPORTED_PYTENSOR_MODES} "
            "(PyTensor's PyTorch and MLX backends cannot run scan with random draws)"
        )
    if name == "JAX":
        if mode.lower() == "gpu" and not _jax_gpu_devices():
            raise RuntimeError('mode="gpu" needs JAX with a visible GPU; jax.devices("gpu") found none')
        if mode.lower() != "gpu" and importlib.util.find_spec("jax") is None:
            raise ImportError("mode='JAX' needs JAX: `pip install jax` (a declared dependency of rbm)")
    return pytensor.compile.mode.get_mode(name)


def runs_on_gpu(mode):
    """Whether functions compiled with ``mode`` run on a GPU.

    Parameters
    ----------
    mode : str or pytensor.compile.mode.Mode
        Anything :func:`resolve_mode` takes.

    Returns
    -------
    bool
        True for a JAX mode not pinned to the CPU while JAX's default backend
        is a GPU.

    Examples
    --------
    >>> from rbm import backend
    >>> backend.runs_on_gpu("cpu"), backend.runs_on_gpu("NUMBA")
    (False, False)
    """
    linker = resolve_mode(mode).linker
    if not isinstance(linker, pytensor.link.jax.linker.JAXLinker) or isinstance(linker, CPUJAXLinker):
        return False
    import jax

    return jax.default_backend() == "gpu"


def use_jax_64_bit_types():
    """Turn JAX's 64-bit mode on (idempotent); called before anything runs under JAX.

    Why: importing PyTensor's JAX backend sets JAX's 64-bit mode from
    ``floatX``, off under ``floatX=float32`` (the Theano tutorial's GPU
    setting). JAX then silently computes a float64 model's graph in float32.
    rbm's graphs state every dtype, so with 64-bit mode on a float32 model
    still computes in float32 and a float64 model in float64.
    """
    import jax
    import pytensor.link.jax.dispatch  # noqa: F401  (sets the mode from floatX when first imported)

    if not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)


#: the most disk the compiled-code cache may take before the least recently used entries go
CACHE_MAX_BYTES = 2 << 30


def _default_cache_dir():
    """``$RBM_CACHE_DIR`` if set (empty: no cache), else ``$XDG_CACHE_HOME/rbm/compiled`` (``~/.cache/rbm/compiled``)."""
    if "RBM_CACHE_DIR" in os.environ:
        return os.environ["RBM_CACHE_DIR"] or None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "rbm", "compiled")


_cache_dir = _default_cache_dir()


def get_cache_dir():
    """The folder where rbm keeps compiled JAX code between objects and processes (None: not kept).

    Returns
    -------
    str or None
    """
    return _cache_dir


def set_cache_dir(path):
    """Keep compiled JAX code in ``path`` from now on; None keeps none.

    Compiling a JAX training step takes seconds (XLA), tracing it a fraction
    of that; with the cache, a second :class:`rbm.Trainer` of the same
    structure, in this process or another, loads the compiled code instead
    of compiling it again. The default is ``$RBM_CACHE_DIR`` (empty: no cache),
    else ``~/.cache/rbm/compiled``. Numba's compiled code lives in PyTensor's
    own cache (``pytensor.config.compiledir``).

    Parameters
    ----------
    path : str, path-like or None
    """
    global _cache_dir
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"the cache folder must be a path or None, got {type(path).__name__}")
    _cache_dir = None if path is None else os.fspath(path)
    if "jax" in sys.modules:  # else JAX reads it when rbm or PyTensor first builds a JAX function
        _use_jax_disk_cache()


def clear_cache():
    """Delete the compiled code kept in :func:`get_cache_dir` (nothing else is in that folder)."""
    if _cache_dir is not None:
        shutil.rmtree(os.path.join(_cache_dir, "jax"), ignore_errors=True)


def _use_jax_disk_cache():
    """Point JAX's persistent compilation cache at ``<cache folder>/jax`` (or switch it off).

    Every compilation is kept (JAX's default keeps only those over a second).
    A size limit turns on JAX's file lock around reads and writes, which
    makes one folder safe for several processes at once (pytest-xdist
    workers, a grid search in parallel): without it an entry being written
    could be read half-written.
    """
    import jax
    from jax.experimental.compilation_cache import compilation_cache

    folder = None if _cache_dir is None else os.path.join(_cache_dir, "jax")
    if jax.config.jax_compilation_cache_dir == folder:
        return
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_compilation_cache_max_size", CACHE_MAX_BYTES)
    compilation_cache.reset_cache()  # the cache reads its settings once; make it read them again


def compile_function(inputs, outputs, updates=None, givens=None, mode="cpu", name=None,
                     nested_scan=False):
    """``pytensor.function`` with rbm's mode vocabulary; the only place rbm compiles.

    Parameters
    ----------
    inputs : list of symbolic variables
    outputs : symbolic variable or list of them
    updates : dict, optional
        shared variable -> new value, applied after each call.
    givens : dict, optional
        Substitutions, e.g. a minibatch slice of a shared dataset for the input.
    mode : str or pytensor.compile.mode.Mode, default "cpu"
        See :func:`resolve_mode`.
    name : str, optional
        The function's name, shown in PyTensor's messages and profiles.
    nested_scan : bool, default False
        For a ``scan`` whose step runs another ``scan``: leaves out PyTensor's
        ``scan_sit_sot_to_untraced`` rewrite, which in PyTensor 3.0.7 miswires
        the training step's nested Gibbs chain under the Numba and JAX linkers
        (``np.dot`` shape errors), while the graph runs correctly without it
        (the trainer's tests compare with one minibatch per call).

    Returns
    -------
    pytensor.compile.function.types.Function
        The compiled function.

    Examples
    --------
    >>> from rbm import backend
    >>> from rbm.backend import pt
    >>> x = pt.vector("x", dtype="float64")
    >>> double = backend.compile_function([x], 2 * x, mode="FAST_COMPILE")
    >>> double([1.0, 2.5])
    array([2., 5.])
    """
    mode = resolve_mode(mode)
    if nested_scan:
        mode = mode.excluding("scan_sit_sot_to_untraced")
    with expected_linker_warnings():
        function = pytensor.function(inputs, outputs, updates=updates, givens=givens, mode=mode, name=name)
    count_compilation(name)
    return function


def uses_jax(mode):
    """True when ``mode`` compiles through PyTensor's JAX backend."""
    return isinstance(resolve_mode(mode).linker, pytensor.link.jax.linker.JAXLinker)


def set_shared_data(variable, value, mode):
    """Give the shared ``variable`` the array ``value``, on the device for JAX modes.

    Why: a PyTensor JAX function copies every numpy-held shared input to the
    device on every call. For the training set that is the whole dataset per
    minibatch (measured: 47 ms instead of 16 ms per PCD-1 minibatch of
    50,000-row MNIST with JAX on a CPU). Parameters need nothing: the first
    update already leaves them as device arrays.
    """
    variable.set_value(value, borrow=True)
    if uses_jax(mode):
        import jax

        use_jax_64_bit_types()
        on_cpu = isinstance(resolve_mode(mode).linker, CPUJAXLinker)
        device = jax.devices("cpu")[0] if on_cpu else None
        variable.container.storage[0] = jax.device_put(variable.get_value(borrow=True), device)


def _function_rng_cell(function, rng):
    """The storage list that holds ``rng``'s state for the compiled ``function``."""
    for symbolic_input, container in zip(function.maker.inputs, function.input_storage):
        if symbolic_input.variable is rng:
            return container.storage
    raise ValueError(f"the compiled function {function.name!r} does not use the generator {rng.name!r}")


def jax_rng_key(function, rng):
    """The JAX key of the generator ``rng`` as the compiled JAX ``function`` advanced it.

    Why: PyTensor's JAX linker gives each compiled function a private copy of
    every shared generator (JAX cannot take a numpy Generator), so ``rng``
    itself never advances; checkpoints read and restore the copy instead.

    Parameters
    ----------
    function : pytensor.compile.function.types.Function
        A function compiled with a JAX mode that draws from ``rng``.
    rng : shared random generator
        The shared variable the graph was built with.

    Returns
    -------
    numpy.ndarray of uint32
        The key; :func:`set_jax_rng_key` puts it back.

    Raises
    ------
    ValueError
        When ``function`` does not use ``rng``.
    """
    return np.asarray(_function_rng_cell(function, rng)[0]["jax_state"])


def set_jax_rng_key(function, rng, key):
    """Make the compiled JAX ``function`` continue its draws of ``rng`` from ``key``.

    Parameters
    ----------
    function : pytensor.compile.function.types.Function
        A function compiled with a JAX mode that draws from ``rng``.
    rng : shared random generator
        The shared variable the graph was built with.
    key : array of uint32
        A key from :func:`jax_rng_key`.
    """
    import jax.numpy as jnp

    cell = _function_rng_cell(function, rng)
    cell[0] = {**cell[0], "jax_state": jnp.asarray(np.asarray(key, dtype=np.uint32))}


def shared(value, name=None, dtype=None):
    """A shared variable holding a float copy of ``value``.

    Parameters
    ----------
    value : array-like
    name : str, optional
    dtype : str, optional
        ``"float32"`` or ``"float64"``; :func:`get_floatx` when None.

    Returns
    -------
    pytensor.compile.SharedVariable

    Examples
    --------
    >>> from rbm import backend
    >>> W = backend.shared([[1, 2], [3, 4]], "W")
    >>> W.name, W.dtype, W.get_value().shape
    ('W', 'float32', (2, 2))
    """
    return pytensor.shared(as_floatx(value, dtype).copy(), name=name, borrow=True)


def shared_rng(seed=None, name="rng"):
    """A shared numpy ``Generator`` for PyTensor random draws, seeded with ``seed``.

    Parameters
    ----------
    seed : int, sequence of int or numpy.random.SeedSequence, optional
        Anything ``numpy.random.default_rng`` takes; fresh entropy when None.
    name : str, default "rng"

    Returns
    -------
    pytensor.compile.SharedVariable
        Holds a ``numpy.random.Generator``; pass it as ``rng=`` to
        ``pytensor.tensor.random`` draws (or as ``theano_rng`` to :class:`rbm.RBM`).

    Examples
    --------
    >>> from rbm import backend
    >>> rng = backend.shared_rng(0)
    >>> backend.is_rng(rng), type(rng.get_value()).__name__
    (True, 'Generator')
    """
    return ptr.shared_rng(np.random.default_rng(seed), name=name)


def set_default_update(shared_variable, update):
    """Give ``shared_variable`` the default update ``update``.

    Why: a default update is applied by every compiled function that uses the
    variable, and ``scan`` turns the default update of a generator created in
    its step function into per-step state. That is how Theano's
    ``RandomStreams`` gave fresh draws at each step of a user's ``scan`` and at
    each call, and the tutorial's code relies on it (see
    ``rbm.RBM._uniform``). PyTensor 3 deprecates setting it in favour of
    explicit generator outputs, which rbm's own graphs use; only the
    tutorial-compatible sampling methods come here, so the warning is
    silenced here alone.

    Parameters
    ----------
    shared_variable : pytensor.compile.SharedVariable
    update : symbolic variable
        The variable's new value, of its type.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Setting default_update is deprecated",
                                category=DeprecationWarning)
        shared_variable.default_update = update


def is_shared(value):
    """Whether ``value`` is a PyTensor shared variable.

    Parameters
    ----------
    value : object

    Returns
    -------
    bool

    Examples
    --------
    >>> from rbm import backend
    >>> from rbm.backend import pt
    >>> backend.is_shared(backend.shared([1.0, 2.0])), backend.is_shared(pt.vector())
    (True, False)
    """
    return isinstance(value, pytensor.compile.SharedVariable)


def is_rng(variable):
    """Whether ``variable`` holds a random generator (a PyTensor ``RandomGeneratorType``).

    Parameters
    ----------
    variable : symbolic variable

    Returns
    -------
    bool
    """
    return isinstance(variable.type, ptr.type.RandomGeneratorType)


__all__ += ["check_dtype", "use_jax_64_bit_types", "get_cache_dir", "set_cache_dir", "clear_cache", "CACHE_MAX_BYTES",
            "set_default_update", "static_slice_length", "is_rng", "is_shared", "jax_rng_key", "set_jax_rng_key",
            "runs_on_gpu", "CPUJAXLinker", "FunctionCache", "compiled_function_count", "copy_function", "structure_of",
            "compiled_for_model", "COMPILED_FUNCTIONS",
            "pt", "ptr", "pytensor"]


# ------------------------------------------------------------ configured on first use
# Importing JAX (with ml_dtypes) and Numba took 1.4 of the 2.0 s of `import rbm` (measured with
# `python -X importtime -c 'import rbm'` on the 2-core machine), so neither is imported here. Every JAX or
# Numba function PyTensor builds, rbm's and those users compile themselves with pytensor.function, goes
# through its linker's fgraph_convert, which imports that backend's dispatch code: rbm's patches and
# settings are applied there, just before, once.


def _prepare_jax():
    """rbm's JAX patches, 64-bit mode and compiled-code cache; run before any JAX function is built."""
    fix_jax_dispatch()
    use_jax_64_bit_types()
    _use_jax_disk_cache()


_numba_patched = False


def _prepare_numba():
    """rbm's patches to PyTensor's Numba dispatch (once); run before any Numba function is built."""
    global _numba_patched
    if not _numba_patched:
        numba_transpose_as_view()
        numba_sigmoid_in_input_precision()
        _numba_patched = True


def _prepare_before_converting(linker_class, prepare, skip_for_copies=False):
    """Make ``linker_class.fgraph_convert`` call ``prepare()`` first (once per class, even on a reload).

    With ``skip_for_copies``, a graph converted for a copy that will run its
    original's compiled code (:func:`rbm.backend.reuse.copy_function`) is not
    converted at all (only for a linker whose conversion changes no storage).
    """
    convert = linker_class.fgraph_convert
    convert = getattr(convert, "_rbm_original", convert)

    @functools.wraps(convert)
    def fgraph_convert(self, *args, **kwargs):
        prepare()
        if skip_for_copies and converting_for_a_copy():
            return UNCONVERTED
        return convert(self, *args, **kwargs)

    fgraph_convert._rbm_original = convert
    linker_class.fgraph_convert = fgraph_convert


_prepare_before_converting(pytensor.link.jax.linker.JAXLinker, _prepare_jax)
# (JAX's conversion also replaces the shared generators' storage by copies, so it always runs)
_prepare_before_converting(pytensor.link.numba.linker.NumbaLinker, _prepare_numba, skip_for_copies=True)
