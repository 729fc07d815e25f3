"""The backend: mode vocabulary, float types, and refusing to run without packaging."""
import subprocess
import sys

import numpy as np
import pytest

from rbm import backend
from rbm.backend import pt


def test_mode_vocabulary():
    pytest.importorskip("jax")
    cpu = backend.resolve_mode("cpu")
    assert isinstance(cpu.linker, backend.CPUJAXLinker) and backend.resolve_mode("CPU") is cpu
    assert backend.uses_jax("cpu") and not backend.runs_on_gpu("cpu")
    assert backend.resolve_mode("numba") is backend.resolve_mode("NUMBA")
    assert not backend.uses_jax("NUMBA") and not backend.runs_on_gpu("NUMBA")
    mode = backend.resolve_mode("CVM")
    assert backend.resolve_mode(mode) is mode


@pytest.mark.parametrize("name, error", [("tpu", ValueError), ("PYTORCH", ValueError), ("MLX", ValueError),
                                         (3, TypeError)])
def test_unknown_modes_are_refused(name, error):
    with pytest.raises(error, match="mode"):
        backend.resolve_mode(name)


def test_cpu_mode_computes_on_the_cpu_device():
    """Also where JAX sees a GPU (run on the lent GPU machine): "cpu" must not use it."""
    pytest.importorskip("jax")
    import numpy as np

    x = backend.pytensor.shared(np.ones(3, dtype=np.float32), name="x")
    backend.set_shared_data(x, np.arange(3, dtype=np.float32), "cpu")
    double = backend.compile_function([], [], updates={x: 2 * x}, mode="cpu")
    double()
    value = x.get_value(borrow=True)
    assert {device.platform for device in value.devices()} == {"cpu"}
    np.testing.assert_array_equal(np.asarray(value), [0.0, 2.0, 4.0])


def test_gpu_mode_needs_a_gpu():
    pytest.importorskip("jax")
    import jax

    try:
        has_gpu = bool(jax.devices("gpu"))
    except RuntimeError:
        has_gpu = False
    if has_gpu:
        assert backend.resolve_mode("gpu") is backend.resolve_mode("JAX")
    else:
        with pytest.raises(RuntimeError, match="GPU"):
            backend.resolve_mode("gpu")


@pytest.mark.parametrize("mode", ["NUMBA", "JAX"])
def test_reductions_return_their_declared_dtype(mode):
    """PyTensor 3.0.7's JAX code returned float64 for float32 sums; rbm's backend casts them back."""
    pytest.importorskip("jax") if mode == "JAX" else None
    import numpy as np

    x = backend.pt.matrix("x", dtype="float32")
    reductions = [backend.pt.sum(x, axis=0), backend.pt.mean(x), backend.pt.max(x, axis=1),
                  backend.pt.sum(backend.pt.softplus(x), axis=1)]
    outputs = backend.compile_function([x], reductions, mode=mode)(np.full((4, 3), 0.5, dtype=np.float32))
    for reduction, output in zip(reductions, outputs):
        assert reduction.type.dtype == "float32"
        assert np.asarray(output).dtype == np.float32
    np.testing.assert_allclose(np.asarray(outputs[0]), [2.0, 2.0, 2.0])


def test_floatx_default_and_checks():
    assert backend.get_floatx() == "float32"
    assert backend.check_dtype("float64") == "float64"
    with pytest.raises(ValueError, match="float32"):
        backend.set_floatx("float16")
    assert backend.get_floatx() == "float32"


BLOCK_PACKAGING = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] == 'packaging':
            raise ImportError('blocked for the test')
sys.meta_path.insert(0, Block())
import importlib.util
importlib.util.find_spec = lambda name, *a: None if name == 'packaging' else _find(name, *a)
"""


def test_refuses_to_start_without_packaging():
    code = ("import importlib.util as u; _find = u.find_spec\n" + BLOCK_PACKAGING + "import rbm\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0
    assert "rbm needs the 'packaging' package" in result.stderr


# ------------------------------------------------ slices with symbolic bounds
def test_static_slice_length_reads_the_length_of_linear_bounds():
    import numpy as np

    from rbm.backend import pt

    index, other = pt.lscalar("index"), pt.lscalar("other")
    assert backend.static_slice_length(slice(index * 20, (index + 1) * 20)) == 20
    assert backend.static_slice_length(slice(index * 20 + 3, index * 20 + 23 - 1)) == 19
    assert backend.static_slice_length(slice(pt.cast(index, "int32") * 4, 4 * index + 4)) == 4
    assert backend.static_slice_length(slice(index, 2 * index)) is None  # the length depends on index
    assert backend.static_slice_length(slice(index, other)) is None
    assert backend.static_slice_length(slice(index * 4, index * 4 + 8, 2)) is None  # steps other than 1
    assert backend.static_slice_length(slice(index, None)) is None
    assert backend.static_slice_length(slice(pt.constant(np.int64(1)), pt.constant(np.int64(3)))) is None


@pytest.mark.parametrize("mode", ["cpu", "JAX", "NUMBA"])
def test_the_tutorials_givens_slice_reads_the_numpy_rows(mode):
    """``givens={x: data[index * n:(index + 1) * n]}`` runs under JAX (static length), rows as numpy's."""
    pytest.importorskip("jax")
    import numpy as np

    from rbm.backend import pt, pytensor

    values = np.arange(60.0).reshape(20, 3)
    data = pytensor.shared(values)
    index = pt.lscalar("index")
    x = pt.matrix("x", dtype="float64")
    rows = backend.compile_function([index], 2 * x, givens={x: data[index * 5:(index + 1) * 5, 1:]}, mode=mode)
    for i in (0, 3, -2):
        np.testing.assert_array_equal(rows(i), 2 * values[i * 5:(i + 1) * 5, 1:])
    if backend.uses_jax(mode):  # rows numpy would not return read as NaN, never as other rows
        assert np.all(np.isnan(rows(4))) and np.all(np.isnan(rows(-1)))


_DTYPE_SCRIPT = """
import json, warnings
import numpy as np
import pytensor.tensor as pt
import rbm
import numpy as np

from rbm import backend
from rbm.backend import pt

report = {}
for dtype in ("float32", "float64"):
    model = rbm.RBM(n_visible=6, n_hidden=4, seed=0, dtype=dtype, numpy_rng=np.random.default_rng(0))
    W, c, b = (np.asarray(p.get_value(), np.float64) for p in (model.W, model.hbias, model.vbias))
    x = (np.random.default_rng(1).random((3, 6)) < 0.5).astype(dtype)
    x64 = x.astype(np.float64)
    reference = -x64 @ b - np.logaddexp(0, x64 @ W + c).sum(axis=1)  # numpy, float64
    v = pt.matrix("v", dtype=dtype)
    for mode in ("cpu", "NUMBA"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = np.asarray(backend.compile_function([v], model.free_energy(v), mode=mode)(x))
        report[f"{dtype} {mode}"] = [out.dtype.name, float(np.max(np.abs(out - reference))),
                                     [str(w.message)[:80] for w in caught if "truncated" in str(w.message)]]
print(json.dumps(report))
"""


@pytest.mark.parametrize("floatx", ["float32", "float64"])
def test_a_model_computes_in_its_own_dtype_whatever_floatx_says(floatx):
    """Under floatX=float32 PyTensor's JAX backend turned JAX's 64-bit mode off: float64 models got float32 results.

    Each model's free energy, in the default mode and NUMBA, must come back in the
    model's dtype and agree with numpy in float64 to that dtype's precision.
    """
    import json
    import os

    environment = dict(os.environ, PYTENSOR_FLAGS=f"floatX={floatx}")
    run = subprocess.run([sys.executable, "-c", _DTYPE_SCRIPT], capture_output=True, text=True, env=environment,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    for key, (out_dtype, error, truncation_warnings) in report.items():
        dtype = key.split()[0]
        assert out_dtype == dtype, key
        assert error < (1e-12 if dtype == "float64" else 1e-5), (key, error)
        assert truncation_warnings == [], key


_CACHE_SCRIPT = """
import hashlib, json, sys
import jax
import numpy as np
import rbm

events = []
jax.monitoring.register_event_listener(lambda event, **kwargs: events.append(event))
data = (np.random.default_rng(0).random((40, 7)) < 0.4).astype("float32")
report = {}
for name, init_seed in (("first", 0), ("second", 1)):  # two objects of one structure, other weights
    before, compiled = len(events), rbm.backend.compiled_function_count()
    model = rbm.RBM(n_visible=7, n_hidden=5, seed=0, numpy_rng=np.random.default_rng(init_seed))
    rbm.Trainer(model, batch_size=10, momentum=0.5, seed=3).fit(data, epochs=2, verbose=False)
    new = events[before:]
    report[name] = {"misses": new.count("/jax/compilation_cache/cache_misses"),
                    "hits": new.count("/jax/compilation_cache/cache_hits"),
                    "compiled": rbm.backend.compiled_function_count() - compiled,
                    "W": hashlib.sha256(np.asarray(model.W.get_value()).tobytes()).hexdigest()}
report["cache"] = rbm.backend.get_cache_dir()
print(json.dumps(report))
"""


def _run_cache_script(cache_dir, wait=True):
    import os

    environment = dict(os.environ, RBM_CACHE_DIR=str(cache_dir))
    process = subprocess.Popen([sys.executable, "-c", _CACHE_SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=environment)
    return _report(process) if wait else process


def _report(process):
    import json

    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.slow  # an end-to-end run: make test-slow (and .ci/run) runs it
def test_compiled_code_is_reused_across_objects_and_processes(tmp_path):
    """A second Trainer of the same structure runs the step compiled in its process; another process loads it.

    Two processes start at once on an empty cache folder (both compile, both
    write: the folder must stay readable); in each the second Trainer compiles
    no graph and JAX compiles nothing new for it; a third process then loads
    the step from the folder; a run without any cache gives the same weights
    bit for bit.
    """
    pytest.importorskip("jax")
    cache = tmp_path / "cache"
    racing = [_run_cache_script(cache, wait=False) for _ in range(2)]
    first, second = (_report(process) for process in racing)
    assert first["first"]["misses"] > 0  # an empty cache: the first Trainer compiles
    for report in (first, second):
        assert report["first"]["compiled"] >= 1
        # the second compiles no graph; JAX traces the cache's template once and finds its code on disk
        assert report["second"]["compiled"] == 0 and report["second"]["misses"] == 0
    later = _run_cache_script(cache)
    assert later["first"]["misses"] == later["second"]["misses"] == 0
    assert later["first"]["hits"] > 0 and later["cache"] == str(cache)
    uncached = _run_cache_script("")
    assert uncached["cache"] is None and uncached["first"]["hits"] == 0  # no cache: nothing is loaded
    for report in (first, second, later):
        for name in ("first", "second"):
            assert report[name]["W"] == uncached[name]["W"], name  # reuse changes no result


def test_cache_folder_can_be_set_and_cleared(tmp_path):
    pytest.importorskip("jax")
    import jax
    import numpy as np

    previous = backend.get_cache_dir()
    try:
        backend.set_cache_dir(tmp_path / "c")
        assert jax.config.jax_compilation_cache_dir == str(tmp_path / "c" / "jax")
        x = backend.pytensor.shared(np.zeros(2), name="x")
        backend.compile_function([], [], updates={x: x + 1.5}, mode="cpu")()
        assert any((tmp_path / "c" / "jax").iterdir())
        backend.clear_cache()
        assert not (tmp_path / "c" / "jax").exists()
        backend.set_cache_dir(None)
        assert backend.get_cache_dir() is None and jax.config.jax_compilation_cache_dir is None
        with pytest.raises(TypeError, match="cache folder"):
            backend.set_cache_dir(3)
        assert backend.get_cache_dir() is None  # refused: unchanged
    finally:
        backend.set_cache_dir(previous)



_LAZY_IMPORT_SCRIPT = """
import json, sys
import numpy as np
import pytensor
import rbm
import numpy as np

from rbm import backend
from rbm.backend import pt

def loaded():
    return sorted(m for m in ("jax", "numba") if m in sys.modules)

report = {"after import": loaded()}
# compiled as a user would, with PyTensor itself: rbm's settings and patches must still apply
x, y = backend.pt.vector("x", dtype="float64"), backend.pt.matrix("y", dtype="float32")
first = pytensor.function([x, y], [2 * x, backend.pt.sum(y, axis=0)], mode=backend.resolve_mode("cpu"))
import jax

report["after a cpu function"] = loaded()
report["x64"] = bool(jax.config.jax_enable_x64)
report["cache"] = [jax.config.jax_compilation_cache_dir, backend.get_cache_dir()]
report["outputs"] = [[np.asarray(out).dtype.name, np.asarray(out).tolist()]
                     for out in first([1.0, 2.5], np.ones((2, 3), dtype=np.float32))]
pytensor.function([y], y.T, mode="NUMBA")
from pytensor.link.numba.dispatch.basic import numba_funcify_default_op_cache_key
from pytensor.tensor.elemwise import DimShuffle

report["after a NUMBA function"] = loaded()
report["transpose from"] = numba_funcify_default_op_cache_key.dispatch(DimShuffle).__module__
print(json.dumps(report))
"""


def test_import_rbm_leaves_jax_and_numba_until_a_function_needs_them(tmp_path):
    """`import rbm` took 2 s, 1.4 s of it importing JAX and Numba: they now come with the first function.

    Under floatX=float32, PyTensor's JAX backend turns JAX's 64-bit mode off when it
    is imported; a function compiled with PyTensor itself must still find it on (its
    float64 output stays float64), rbm's JAX patch (a float32 sum stays float32) and
    JAX's compilation cache in rbm's folder; a Numba function gets rbm's Numba patches.
    """
    pytest.importorskip("jax")
    pytest.importorskip("numba")
    import json
    import os

    environment = dict(os.environ, PYTENSOR_FLAGS="floatX=float32", RBM_CACHE_DIR=str(tmp_path))
    run = subprocess.run([sys.executable, "-c", _LAZY_IMPORT_SCRIPT], capture_output=True, text=True,
                         env=environment, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["after import"] == []
    assert report["after a cpu function"] == ["jax"]  # JAX only: the Numba backend was not needed
    assert report["x64"] is True
    assert report["cache"] == [str(tmp_path / "jax"), str(tmp_path)]
    assert report["outputs"] == [["float64", [2.0, 5.0]], ["float32", [2.0, 2.0, 2.0]]]
    assert report["after a NUMBA function"] == ["jax", "numba"]
    assert report["transpose from"] == "rbm.backend.patches"


def test_a_cpu_function_compiles_once_whatever_its_shared_values_were_set_from():
    """Values set from numpy between calls (a counter, a generator's key) made JAX compile the function again.

    Each new kind of input (numpy, or a JAX array committed to a device or not)
    is a new JAX signature: the estimators' first two fits compiled the training
    step three times (6 s each with an empty disk cache). The step's lowerings are
    counted from JAX's own events; the values are checked against plain arithmetic.
    """
    pytest.importorskip("jax")
    import jax
    import numpy as np

    x = backend.pytensor.shared(np.zeros(3), name="x")
    backend.set_shared_data(x, np.zeros(3), "cpu")  # on the CPU device, as the trainer puts its data
    counter = backend.pytensor.shared(np.int64(0), name="counter")
    rng = backend.shared_rng(0)
    draw = backend.ptr.uniform(size=(3,), rng=rng, return_next_rng=True)
    step = backend.compile_function([], draw[1], updates={x: x + 1, counter: counter + 1, rng: draw[0]},
                                    mode="cpu")
    lowerings = []

    def count(event, duration, fun_name="", **kwargs):
        if event == "/jax/core/compile/jaxpr_to_mlir_module_duration" and "funcified_fgraph" in fun_name:
            lowerings.append(fun_name)  # the step's, not the small jits of jnp.asarray

    jax.monitoring.register_event_duration_secs_listener(count)
    try:
        step()
        step()  # now every shared input holds the function's own output
        x.set_value(np.full(3, 10.0))
        counter.set_value(np.int64(5))
        backend.set_jax_rng_key(step, rng, np.array([0, 7], dtype=np.uint32))
        step()
    finally:
        jax.monitoring.unregister_event_duration_listener(count)
    assert len(lowerings) == 1
    np.testing.assert_array_equal(np.asarray(x.get_value()), [11.0, 11.0, 11.0])
    assert int(counter.get_value()) == 6


@pytest.mark.parametrize("mode", ["NUMBA", "cpu"])
def test_a_copied_function_runs_the_originals_compiled_code_on_its_own_variables(mode):
    """copy_function: no conversion or JIT compile for the copy (the original's callable), its own state."""
    pytest.importorskip("jax") if mode == "cpu" else None
    from rbm.backend import reuse

    first, second = (backend.shared(np.full(3, start), "counter", "float64") for start in (0.0, 10.0))
    x = pt.vector("x", dtype="float64")
    original = backend.compile_function([x], first * 2, updates={first: first + x}, mode=mode)
    copy = backend.copy_function(original, {first: second})
    assert copy.vm.jit_fn is original.vm.jit_fn and not reuse.converting_for_a_copy()
    np.testing.assert_array_equal(copy(np.ones(3)), np.full(3, 20.0))
    np.testing.assert_array_equal(original(np.ones(3)), np.zeros(3))
    assert list(second.get_value()) == [11.0] * 3 and list(first.get_value()) == [1.0] * 3
