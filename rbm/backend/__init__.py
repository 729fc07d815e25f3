"""The one place where rbm configures PyTensor (its patches to PyTensor live in :mod:`.patches`).

Everything else in the package asks this module for the float type, the compile
mode and random generators, so that switching between CPU and GPU, or between
float32 and float64, is a single decision made here.

Why these checks exist: PyTensor's unification-based rewrites (the ones that
turn ``log(sigmoid(x))`` into ``-softplus(-x)`` and fuse element-wise work)
live in ``etuples``, which needs ``packaging``. Without it PyTensor does not
fail: it silently skips those rewrites, so costs overflow to -inf/NaN and graphs
run about three times slower. We refuse to start in that state.
"""
import importlib.util
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
import pytensor.tensor as pt  # noqa: E402
import pytensor.tensor.random as ptr  # noqa: E402

from .patches import (fix_jax_dispatch, numba_sigmoid_in_input_precision,  # noqa: E402
                      numba_transpose_as_view, register_static_length_slices, static_slice_length)


# Numba's fast-math lets LLVM reassociate floating-point sums differently when a
# function is compiled fresh and when it is loaded from PyTensor's cache, so the
# same training step gave results differing in the last bits (measured: a run
# resumed with a cold cache drifted ~3e-5 relative from a warm-cache run).
# IEEE-exact arithmetic makes results independent of the cache.
pytensor.config.numba__fastmath = False

if importlib.util.find_spec("numba") is not None:
    numba_transpose_as_view()
    numba_sigmoid_in_input_precision()
register_static_length_slices()
if importlib.util.find_spec("jax") is not None:
    # at import, so that functions users compile themselves with a JAX mode get them too
    fix_jax_dispatch()

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
    """The float type rbm builds models in ("float32" unless changed)."""
    return _floatx


def set_floatx(dtype):
    """Set the default float type of new models: "float32" (fast) or "float64"."""
    global _floatx
    dtype = np.dtype(dtype).name if dtype is not None else None
    if dtype not in _FLOAT_TYPES:
        raise ValueError(f"floatX must be one of {_FLOAT_TYPES}, got {dtype!r}")
    _floatx = dtype


def check_dtype(dtype):
    """Return ``dtype`` as a name in ("float32", "float64"), or the default when None."""
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
    """``value`` as a numpy array of the model float type."""
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

    Why: mode "cpu" is JAX on the CPU (the fastest CPU mode measured), and
    JAX would otherwise place work on its default device, a GPU if present.
    """

    def jit_compile(self, fn):
        import jax

        compiled = super().jit_compile(fn)
        cpu = jax.devices("cpu")[0]

        def run_on_cpu(*args):
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

    ``"cpu"``: PyTensor's JAX backend pinned to the CPU (:class:`CPUJAXLinker`),
    the fastest CPU mode benchmarks/bench_epoch.py measured on 2 cores (on a
    16-core host ``"NUMBA"`` was faster; see README, Performance).
    ``"gpu"``: PyTensor's JAX backend on a GPU; fails if JAX or a GPU is missing.
    Any name in :data:`SUPPORTED_PYTENSOR_MODES` is passed through (``"JAX"``
    runs JAX on whatever device JAX picks). A ``pytensor.compile.Mode``
    instance is returned unchanged.
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
    """True when ``mode`` compiles for a GPU: JAX, not pinned to the CPU, with a GPU as JAX's default."""
    linker = resolve_mode(mode).linker
    if not isinstance(linker, pytensor.link.jax.linker.JAXLinker) or isinstance(linker, CPUJAXLinker):
        return False
    import jax

    return jax.default_backend() == "gpu"


def compile_function(inputs, outputs, updates=None, givens=None, mode="cpu", name=None,
                     nested_scan=False):
    """``pytensor.function`` with rbm's mode vocabulary; the only place rbm compiles.

    ``nested_scan=True`` (a ``scan`` whose step runs another ``scan``) leaves
    out PyTensor's ``scan_sit_sot_to_untraced`` rewrite: in PyTensor 3.0.7
    it miswires the training step's nested Gibbs chain under the Numba and
    JAX linkers (``np.dot`` shape errors), while the graph runs correctly
    without it (tests/test_training.py compares with one minibatch per call).
    """
    mode = resolve_mode(mode)
    if isinstance(mode.linker, pytensor.link.jax.linker.JAXLinker):
        fix_jax_dispatch()
    if nested_scan:
        mode = mode.excluding("scan_sit_sot_to_untraced")
    with warnings.catch_warnings():
        # The JAX linker announces that it keeps its own copy of shared random
        # generators (so ``model.rng`` stops advancing there) and that it drops
        # shape assertions JAX cannot trace; both are expected for our graphs.
        warnings.filterwarnings("ignore", message="The RandomType SharedVariables", category=UserWarning)
        warnings.filterwarnings("ignore", message="Skipping Assert", category=UserWarning)
        return pytensor.function(inputs, outputs, updates=updates, givens=givens, mode=mode, name=name)


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

        import pytensor.link.jax.dispatch  # noqa: F401  (switches JAX to 64-bit types, as PyTensor's JAX code expects)

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
    """The JAX key (uint32 array) of the generator ``rng`` as the compiled JAX ``function`` advanced it.

    Why: PyTensor's JAX linker gives each compiled function a private copy of
    every shared generator (JAX cannot take a numpy Generator), so ``rng``
    itself never advances; checkpoints read and restore the copy instead.
    """
    return np.asarray(_function_rng_cell(function, rng)[0]["jax_state"])


def set_jax_rng_key(function, rng, key):
    """Make the compiled JAX ``function`` continue its draws of ``rng`` from ``key``."""
    import jax.numpy as jnp

    cell = _function_rng_cell(function, rng)
    cell[0] = {**cell[0], "jax_state": jnp.asarray(np.asarray(key, dtype=np.uint32))}


def shared(value, name=None, dtype=None):
    """A shared variable holding ``value`` as the model float type (a copy)."""
    return pytensor.shared(as_floatx(value, dtype).copy(), name=name, borrow=True)


def shared_rng(seed=None, name="rng"):
    """A shared numpy ``Generator`` for PyTensor random draws, seeded with ``seed``."""
    return ptr.shared_rng(np.random.default_rng(seed), name=name)


def set_default_update(shared_variable, update):
    """Give ``shared_variable`` the default update ``update``.

    Why: a default update is applied by every compiled function that uses the
    variable, and ``scan`` turns the default update of a generator created in
    its step function into per-step state. That is how Theano's
    ``RandomStreams`` gave fresh draws at each step of a user's ``scan`` and at
    each call, and the tutorial's code relies on it (see
    :meth:`rbm.RBM._uniform`). PyTensor 3 deprecates setting it in favour of
    explicit generator outputs, which rbm's own graphs use; only the
    tutorial-compatible sampling methods come here, so the warning is
    silenced here alone.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Setting default_update is deprecated",
                                category=DeprecationWarning)
        shared_variable.default_update = update


def is_shared(value):
    """True when ``value`` is a PyTensor shared variable."""
    return isinstance(value, pytensor.compile.SharedVariable)


def is_rng(variable):
    """True when ``variable`` holds a random generator (a PyTensor ``RandomGeneratorType``)."""
    return isinstance(variable.type, ptr.type.RandomGeneratorType)


__all__ += ["check_dtype", "set_default_update", "static_slice_length", "is_rng", "is_shared", "jax_rng_key", "set_jax_rng_key", "runs_on_gpu",
            "CPUJAXLinker", "pt", "ptr", "pytensor"]
