import os
import warnings

import pytest

#: Every compile mode rbm supports on a CPU: "cpu" (JAX pinned to the CPU, the default) and
#: PyTensor's modes ("JAX" runs on a GPU where JAX sees one).
CPU_MODES = ["cpu", "NUMBA", "CVM", "FAST_COMPILE", "JAX"]

SHARED_MNIST = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist")


# CVM compiles C code, the dearest first compile of all (about 30 s per test with an empty cache): its cases run
# with the end-to-end group (make test-slow, which .ci/run runs too), so that make test fits in ten minutes.
@pytest.fixture(params=[pytest.param(mode, marks=pytest.mark.slow) if mode == "CVM" else mode for mode in CPU_MODES])
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


@pytest.fixture(autouse=True)
def one_minibatch_per_numba_call_in_estimators(monkeypatch):
    """The estimators train with one minibatch per compiled call under "NUMBA" in the tests, not 100.

    Why: with an empty compile cache (CI) Numba's loop over several minibatches compiles some 17 s
    longer per structure than the one-minibatch step (the digits estimator: 40 s against 23 s), and the
    estimators' tests fit dozens of structures. The default is tested on its own
    (tests/test_estimators.py::test_numba_fits_run_100_minibatches_per_call_by_default), the loop
    itself in tests/training/test_trainer.py.
    """
    from rbm import estimators

    monkeypatch.setattr(estimators, "NUMBA_BATCHES_PER_CALL", 1)
