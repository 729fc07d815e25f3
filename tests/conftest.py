import os
import warnings

import pytest

#: Every compile mode rbm supports on a CPU: "cpu" (JAX pinned to the CPU, the default) and
#: PyTensor's modes ("JAX" runs on a GPU where JAX sees one).
CPU_MODES = ["cpu", "NUMBA", "CVM", "FAST_COMPILE", "JAX"]

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
