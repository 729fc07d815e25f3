"""The Examples sections of the public docstrings run as doctests, so the documentation shows working code.

Each module's examples run in one test, in a fresh namespace, with doctest's ELLIPSIS and
NORMALIZE_WHITESPACE. Examples print only seeded, rounded or exact values, and stay tiny: compiling a
PyTensor function costs seconds, so only a few examples do.
"""
import doctest
import importlib
import tempfile
import warnings

import pytest

#: every module whose docstrings the API reference shows (docs/api/index.rst), and those they import
MODULES = [
    "rbm",
    "rbm.backend",
    "rbm.backend.patches",
    "rbm.backend.reuse",
    "rbm.datasets",
    "rbm.dbm_evaluation",
    "rbm.estimators",
    "rbm.evaluation",
    "rbm.images",
    "rbm.layers",
    "rbm.models",
    "rbm.models.dbm",
    "rbm.models.dbn",
    "rbm.models.gaussian",
    "rbm.models.layers",
    "rbm.models.rbm",
    "rbm.persistence",
    "rbm.sampling",
    "rbm.training",
    "rbm.training.centering",
    "rbm.training.dbm",
    "rbm.training.dbm_pretraining",
    "rbm.training.dbn",
    "rbm.training.engine",
    "rbm.training.negative_phases",
    "rbm.training.optimizers",
    "rbm.training.schedules",
    "rbm.training.tempering",
    "rbm.training.trainer",
]

OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _examples(module_name):
    module = importlib.import_module(module_name)
    # exclude_empty: docstrings without examples are not tests; objects re-exported from another module
    # are found (and run) in the module that defines them only
    return [test for test in doctest.DocTestFinder(exclude_empty=True).find(module, module_name)
            if test.examples]


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples(module_name, tmp_path, monkeypatch):
    # Examples that write files do so under tempfile.mkdtemp(): here, inside pytest's temporary folder.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    runner = doctest.DocTestRunner(optionflags=OPTIONS)
    reports = []
    for test in _examples(module_name):
        with warnings.catch_warnings():
            # The examples show rbm's behaviour, not the warnings of the libraries under it (PyTensor
            # reports a missing BLAS once per process, for instance); our own code's warnings are
            # checked by the rest of the suite.
            warnings.simplefilter("ignore")
            result = runner.run(test, out=reports.append)
        assert result.failed == 0, f"{test.name}:\n{''.join(reports)}"


def test_every_module_with_examples_is_listed():
    """A module of rbm whose docstrings hold examples, but which is not in MODULES, would go untested."""
    import pkgutil

    import rbm

    names = {"rbm"} | {info.name for info in pkgutil.walk_packages(rbm.__path__, "rbm.")}
    unlisted = sorted(name for name in names - set(MODULES) if _examples(name))
    assert not unlisted, f"add these modules to MODULES: {unlisted}"
