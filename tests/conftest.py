import importlib.util
import os
import warnings

import pytest

#: Every compile mode rbm supports on a CPU; JAX only where it is installed.
CPU_MODES = ["NUMBA", "CVM", "FAST_COMPILE"] + (
    ["JAX"] if importlib.util.find_spec("jax") is not None else [])

SHARED_MNIST = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist")


@pytest.fixture(params=CPU_MODES)
def mode(request):
    return request.param


@pytest.fixture(params=["float32", "float64"])
def dtype(request):
    return request.param


@pytest.fixture(autouse=True)
def no_deprecation_warnings():
    """Our own code must raise no PyTensor deprecation warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        warnings.simplefilter("error", FutureWarning)
        yield
