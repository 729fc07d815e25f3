"""scikit-learn's own BernoulliRBM test suite, run against rbm's BernoulliRBM.

The suite is read from the installed scikit-learn (``sklearn/neural_network/tests/test_rbm.py``,
which its wheel ships), loaded as a private module copy whose ``BernoulliRBM`` name is rbm's
estimator, and its test functions are bound here under ``test_sklearn_<name>``: pytest collects
them with their own parametrizations and fixtures. Nothing of its text is copied into this repository,
so a newer scikit-learn brings its newer tests.

Excluded, each for the reason given in :data:`EXCLUDED`: tests whose expected numbers are draws of
scikit-learn's own random stream (its weight initialisation and its numpy Gibbs sampler), which
rbm's sampler (PyTensor's generator, another algorithm) cannot reproduce and should not.
"""
import functools
import importlib.util
import inspect
import pathlib

import pytest
import sklearn

from rbm.estimators import BernoulliRBM

#: rbm's estimator as the suite constructs it: every argument the suite passes, compiled with Numba, whose
#: compiled functions PyTensor caches on disk (the default mode, JAX on the CPU, compiles each fit afresh:
#: measured ~8 minutes for the suite on this project's shared 2-core machine)
SUITE_ESTIMATOR = functools.partial(BernoulliRBM, mode="NUMBA")

SUITE_PATH = pathlib.Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_rbm.py"

#: test name -> why it is not run against rbm's estimator
EXCLUDED = {
    "test_fit_gibbs": "pins components_ after 42 iterations to scikit-learn's own values [[0.02649814], "
                      "[0.02009084]] (to 4 decimals), numbers drawn by scikit-learn's random stream; the suite's "
                      "own comment calls it 'very seed-dependent'",
}


def load_suite():
    """scikit-learn's test_rbm.py as a new module object whose BernoulliRBM is rbm's."""
    if not SUITE_PATH.is_file():
        raise FileNotFoundError(f"scikit-learn's RBM test suite is not at {SUITE_PATH}: this scikit-learn "
                                f"({sklearn.__version__}) was installed without its tests")
    spec = importlib.util.spec_from_file_location("sklearn_test_rbm_against_rbm", SUITE_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # A private copy of the module, so scikit-learn's own module keeps its estimator.
    module.BernoulliRBM = SUITE_ESTIMATOR
    return module


SUITE = load_suite()
SUITE_TESTS = {name: function for name, function in vars(SUITE).items()
               if name.startswith("test_") and inspect.isfunction(function)}

for _name, _function in SUITE_TESTS.items():
    if _name in EXCLUDED:
        _function = pytest.mark.skip(reason=f"scikit-learn's random stream: {EXCLUDED[_name]}")(_function)
    globals()[f"test_sklearn_{_name[len('test_'):]}"] = _function


def test_the_suite_runs_rbm_estimator():
    """The suite was found, its tests are bound here, its BernoulliRBM is ours, every exclusion names one of them."""
    assert len(SUITE_TESTS) >= 10, sorted(SUITE_TESTS)
    assert SUITE.BernoulliRBM is SUITE_ESTIMATOR and SUITE_ESTIMATOR.func is BernoulliRBM
    assert set(EXCLUDED) <= set(SUITE_TESTS), set(EXCLUDED) - set(SUITE_TESTS)
