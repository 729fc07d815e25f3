"""The backend: mode vocabulary, float types, and refusing to run without packaging."""
import subprocess
import sys

import pytest

from rbm import backend


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
