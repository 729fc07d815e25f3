"""One vocabulary across models, trainers and evaluation, and the old spellings that still work, with a warning.

The new forms: rbm's own settings are keyword-only past the tutorial's positional arguments (and past the
data an operation acts on); ``get_params`` returns name -> array for the RBM and the DBN; both trainers'
``fit`` return their history list; ``exact_log_partition`` returns a result like ``ais_log_partition``;
``verbose`` is a bool or an int level on every trainer. Each old form must keep working and raise a
``DeprecationWarning`` that names the new one (the suite turns any other DeprecationWarning into an error,
so the new forms are checked to warn nothing).
"""
import contextlib
import inspect
import io
import re
import warnings

import numpy as np
import pytest

import rbm
from rbm import evaluation, sampling

from . import reference
from .models.test_dbn import prototypes_dataset, small_dbn

DATA = reference.bars_and_stripes(3)  # 14 binary rows of width 9


@contextlib.contextmanager
def old_form(match):
    """Expect the deprecation of an old form: a DeprecationWarning naming the new spelling (regex ``match``).

    Every DeprecationWarning in the block must point at the user's line (here, this file), so it is rbm's
    own and tells users where to change their code.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert any(re.search(match, str(w.message)) for w in deprecations), [str(w.message) for w in caught]
    assert all(w.filename == __file__ for w in deprecations), [(w.filename, str(w.message)) for w in deprecations]


# ------------------------------------------------------------------ signatures
#: callable -> its positional parameters (the tutorial's, or the data it acts on); the rest are keyword-only
POSITIONAL = {
    rbm.RBM: ["input", "n_visible", "n_hidden", "W", "hbias", "vbias", "numpy_rng", "theano_rng"],
    rbm.GaussianBernoulliRBM: ["input", "n_visible", "n_hidden", "W", "hbias", "vbias"],
    rbm.RBM.from_data: ["data", "n_hidden"],
    rbm.RBM.load: ["path"],
    rbm.DBN: ["numpy_rng", "theano_rng", "n_ins", "hidden_layers_sizes", "n_outs"],
    rbm.DBN.pretraining_functions: ["self", "train_set_x", "batch_size", "k"],
    rbm.DBN.build_finetune_functions: ["self", "datasets", "batch_size", "learning_rate"],
    rbm.Trainer: ["model"],
    rbm.Trainer.fit: ["self", "data"],
    rbm.DBNTrainer: ["dbn"],
    rbm.DBNTrainer.fit: ["self", "train", "valid", "test"],
    rbm.sample_chains: ["model", "start"],
    evaluation.exact_log_partition: ["model"],
    evaluation.ais_log_partition: ["model"],
    evaluation.raise_log_likelihood: ["model", "data"],
    evaluation.mean_log_likelihood: ["model", "data", "log_z"],
    evaluation.LikelihoodTracker: ["data"],
}


@pytest.mark.parametrize("function", POSITIONAL, ids=lambda f: f.__qualname__)
def test_settings_past_the_positional_arguments_are_keyword_only(function):
    parameters = inspect.signature(function).parameters.values()
    positional = [p.name for p in parameters if p.kind == p.POSITIONAL_OR_KEYWORD]
    assert positional == POSITIONAL[function]
    assert all(p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) for p in parameters)


def test_the_same_ideas_have_the_same_names():
    """seed (not random_state), mode, verbose, dtype: one name each wherever rbm's own API takes them."""
    names = {}
    for function in POSITIONAL:
        for name in inspect.signature(function).parameters:
            names.setdefault(name, []).append(function.__qualname__)
    assert "random_state" not in names  # scikit-learn's name stays in rbm.estimators only
    assert set(names["dtype"]) == {"RBM", "GaussianBernoulliRBM", "RBM.from_data", "RBM.load", "DBN"}
    for function in POSITIONAL:
        parameters = inspect.signature(function).parameters
        if "mode" in parameters:  # where code compiles: rbm's default, or the trainer's (None)
            assert parameters["mode"].default in ("cpu", None)
        if "verbose" in parameters:
            assert parameters["verbose"].default is True


# ------------------------------------------------------- positional settings
@pytest.mark.parametrize("make, old_args, new_kwargs", [  # new_kwargs: the old positional settings, in order
    (rbm.RBM, (None, 6, 3, None, None, None, None, None, 5, "float64"), dict(seed=5, dtype="float64")),
    (rbm.GaussianBernoulliRBM, (None, 6, 3, None, None, None, 0.5, True, 2, None, 7),
     dict(sigma=0.5, learn_sigma=True, numpy_rng=2, theano_rng=None, seed=7)),
    (rbm.DBN, (None, None, 6, [4, 3], 2, "float64", 9), dict(dtype="float64", seed=9)),
])
def test_models_take_their_old_positional_settings_with_a_warning(make, old_args, new_kwargs):
    with old_form(re.escape(f"pass {', '.join(f'{name}=...' for name in new_kwargs)} by keyword")):
        old = make(*old_args)
    new = make(*old_args[:len(old_args) - len(new_kwargs)], **new_kwargs)
    assert repr(old) == repr(new)  # sizes, dtype (and learn_sigma)
    layers = getattr(new, "rbm_layers", [new])
    for old_layer, new_layer in zip(getattr(old, "rbm_layers", [old]), layers):  # the same seeds
        assert old_layer.rng.get_value().bit_generator.state == new_layer.rng.get_value().bit_generator.state
        np.testing.assert_array_equal(old_layer.W.get_value(), new_layer.W.get_value())
    if "sigma" in new_kwargs:
        np.testing.assert_array_equal(old.get_sigma(), new.get_sigma())
        np.testing.assert_allclose(old.get_sigma(), 0.5, rtol=1e-6)  # stored as a float32 log sigma
        assert old.learn_sigma


def test_a_model_file_loads_with_a_positional_dtype_with_a_warning(tmp_path):
    path = tmp_path / "model.npz"
    rbm.RBM(n_visible=4, n_hidden=3, seed=0).save(path)
    with old_form("dtype=... by keyword"):
        model = rbm.RBM.load(path, "float64")
    assert model.dtype == "float64"


def positional_calls():
    """(call with old positional settings, the setting it must bind, error naming that setting)."""
    model = rbm.RBM(n_visible=9, n_hidden=4, seed=0)
    trainer = rbm.Trainer(model, batch_size=7, mode="FAST_COMPILE")
    dbn = small_dbn()
    train = prototypes_dataset(20, 1)
    data = rbm.backend.pytensor.shared(np.zeros((20, 16)))
    return {
        "RBM.from_data": (lambda: rbm.RBM.from_data(DATA, 3, -1.0), "weight_std"),
        "Trainer": (lambda: rbm.Trainer(model, -0.1), "learning_rate"),
        "Trainer.fit": (lambda: trainer.fit(DATA, 0), "epochs"),
        "DBNTrainer": (lambda: rbm.DBNTrainer(dbn, 0.1, 0), "k"),
        "DBNTrainer.fit": (lambda: rbm.DBNTrainer(dbn).fit(train, train, train, -1), "pretraining_epochs"),
        "DBN.pretraining_functions": (lambda: dbn.pretraining_functions(data, 10, 1, "no-such-mode"), "mode"),
        "DBN.build_finetune_functions": (
            lambda: dbn.build_finetune_functions([train] * 3, 10, 0.1, "no-such-mode"), "mode"),
        "sample_chains": (lambda: sampling.sample_chains(model, DATA[:2], 0), "n_samples"),
        "ais_log_partition": (lambda: evaluation.ais_log_partition(model, 1), "n_runs"),
        "raise_log_likelihood": (lambda: evaluation.raise_log_likelihood(model, DATA, 0), "n_runs"),
        "LikelihoodTracker": (lambda: evaluation.LikelihoodTracker(DATA, 0), "every"),
    }


@pytest.mark.parametrize("name", list(positional_calls()))
def test_functions_take_their_old_positional_settings_with_a_warning(name):
    """Each old call passes a bad value positionally: the error naming the setting proves where it went."""
    call, setting = positional_calls()[name]
    with old_form(f"{setting}=... by keyword"), pytest.raises((ValueError, TypeError), match=setting):
        call()


def test_positional_settings_past_the_old_signature_or_twice_are_refused():
    with pytest.raises(TypeError, match=r"at most 10 positional arguments \(11 given\)"):
        rbm.RBM(None, 6, 3, None, None, None, None, None, 5, "float64", "extra")
    with pytest.raises(TypeError, match="multiple values for argument 'seed'"):
        rbm.RBM(None, 6, 3, None, None, None, None, None, 5, seed=5)


# ------------------------------------------------------------------ parameters
def test_dbn_get_params_is_a_dict_like_the_rbms_and_the_old_list_form_still_answers():
    dbn, machine = small_dbn(), rbm.RBM(n_visible=4, n_hidden=3)
    params = dbn.get_params()
    assert isinstance(params, dict) and isinstance(machine.get_params(), dict)
    arrays = [variable.get_value() for variable in dbn.params]  # the tutorial's list of shared variables
    with old_form(r"list\(params.values\(\)\)\[i\]"):
        np.testing.assert_array_equal(params[0], arrays[0])
    with old_form("list"):
        last_two = params[-2:]
    for got, want in zip(last_two, arrays[-2:]):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("as_list", [True, False])
def test_dbn_set_params_with_one_positional_list_or_dict_still_works(as_list):
    dbn = small_dbn(dtype="float64")
    rng = np.random.RandomState(0)
    new = {name: rng.normal(size=array.shape) for name, array in dbn.get_params().items()}
    with old_form(r"dbn.set_params\(\*\*params\)"):
        dbn.set_params(list(new.values()) if as_list else new)
    for variable, want in zip(dbn.params, new.values()):  # by position in params, and by name
        np.testing.assert_array_equal(variable.get_value(), want)


# ------------------------------------------------------------------- trainers
@pytest.fixture(scope="module")
def fitted_dbn_trainer():
    """(trainer, what fit returned, what it printed) after a tiny run with an int verbose level.

    FAST_COMPILE: no compile mode is under test in this module, and a cold Numba compile of a DBN's
    steps costs some 40 s of make test.
    """
    trainer = rbm.DBNTrainer(small_dbn(), pretrain_lr=0.1, finetune_lr=0.2, batch_size=10, mode="FAST_COMPILE")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        history = trainer.fit(prototypes_dataset(40, 1), prototypes_dataset(20, 2), prototypes_dataset(20, 3),
                              pretraining_epochs=1, training_epochs=3, verbose=2, progress_bars=False)
    return trainer, history, printed.getvalue()


def test_both_trainers_fit_return_their_history_list_of_epoch_records(fitted_dbn_trainer):
    trainer, history, printed = fitted_dbn_trainer
    assert isinstance(history, list) and history is trainer.history
    assert [(r["stage"], r.get("layer"), r["epoch"]) for r in history[:2]] == [("pretraining", 0, 0),
                                                                               ("pretraining", 1, 0)]
    finetuning = history[2:]
    assert [r["epoch"] for r in finetuning] == list(range(len(finetuning)))  # from 0, as rbm.Trainer's
    for record in history:
        assert {"epoch", "cost", "time"} <= set(record)  # rbm.Trainer's record keys
    best = min(finetuning, key=lambda record: record["validation_error"])
    assert (trainer.best_validation_error, trainer.test_error, trainer.best_epoch) == (
        best["validation_error"], best["test_error"], best["epoch"])
    assert printed.count("Pre-training layer") == 2  # verbose=2 is an int level, like True
    assert printed.count("Fine-tuning epoch") == len(finetuning)


def test_the_old_dbn_fit_result_keys_still_answer_with_a_warning(fitted_dbn_trainer):
    trainer, history, _ = fitted_dbn_trainer
    with old_form("trainer.test_error"):
        assert history["test_error"] == trainer.test_error
    with old_form("trainer.best_validation_error"):
        assert history["best_validation_error"] == trainer.best_validation_error
    with old_form("trainer.best_epoch"):
        assert history["best_epoch"] == trainer.best_epoch + 1  # the old dict counted epochs from 1
    with old_form(r"trainer.pretraining_seconds / 60"):
        assert history["pretraining_minutes"] == pytest.approx(trainer.pretraining_seconds / 60)
    with old_form("the returned list itself"):
        old_history = history["history"]
    finetuning = [r for r in history if r["stage"] == "finetuning"]
    assert [r["epoch"] for r in old_history["finetuning"]] == [r["epoch"] + 1 for r in finetuning]
    assert [len(layer) for layer in old_history["pretraining"]] == [1, 1]
    assert "stage" not in old_history["pretraining"][0][0]
    with old_form("trainer's attributes"):
        as_dict = {**history}  # e.g. json.dump({**result}) in the old examples
    assert as_dict["test_error"] == trainer.test_error and as_dict["history"] == old_history
    with pytest.raises(KeyError, match="list of records"):
        history["no such key"]


@pytest.fixture(scope="module")
def tiny_trainer():
    return rbm.Trainer(rbm.RBM(n_visible=9, n_hidden=4, seed=0), batch_size=7, mode="FAST_COMPILE", seed=0)


@pytest.mark.parametrize("verbose, prints", [(0, False), (False, False), (1, True), (True, True), (3, True),
                                             (np.bool_(True), True)])
def test_trainer_verbose_is_a_bool_or_an_int_level(tiny_trainer, capsys, verbose, prints):
    tiny_trainer.fit(DATA, epochs=1, verbose=verbose)
    assert ("epoch" in capsys.readouterr().out) is prints


@pytest.mark.parametrize("verbose, error", [(-1, ValueError), (1.5, TypeError), ("yes", TypeError),
                                            (None, TypeError)])
def test_a_bad_verbose_is_refused_by_both_trainers(tiny_trainer, verbose, error):
    with pytest.raises(error, match="verbose must be True, False or an int >= 0"):
        tiny_trainer.fit(DATA, epochs=1, verbose=verbose)
    train = prototypes_dataset(20, 1)
    with pytest.raises(error, match="verbose must be True, False or an int >= 0"):
        rbm.DBNTrainer(small_dbn(), mode="FAST_COMPILE").fit(train, train, train, verbose=verbose)


# ----------------------------------------------------------------- evaluation
def test_exact_log_partition_returns_a_result_like_ais():
    model = rbm.RBM(n_visible=5, n_hidden=3, numpy_rng=1, dtype="float64")
    W, hbias, vbias = (p.get_value() for p in model.params)
    result = evaluation.exact_log_partition(model)
    assert result._fields[:3] == evaluation.AISResult._fields[:3] == ("log_z", "log_z_low", "log_z_high")
    np.testing.assert_allclose(result.log_z, reference.exact_log_partition(W, hbias, vbias), rtol=1e-12)
    assert result.log_z_low == result.log_z == result.log_z_high and result.n_states == 2 ** 3
    assert result == evaluation.ExactResult(*result)  # still a namedtuple, compared as one


def test_mean_log_likelihood_takes_a_number_an_exact_result_or_an_ais_result():
    model = rbm.RBM(n_visible=9, n_hidden=4, numpy_rng=2, dtype="float64")
    exact = evaluation.exact_log_partition(model)
    ais = evaluation.AISResult(log_z=exact.log_z, log_z_low=exact.log_z - 1, log_z_high=exact.log_z + 1,
                               n_runs=2, n_betas=2, log_z_base=0.0, seconds=0.0)
    expected = reference.mean_log_likelihood(DATA, *(p.get_value() for p in model.params))
    for log_z in (exact.log_z, exact, ais):
        np.testing.assert_allclose(evaluation.mean_log_likelihood(model, DATA, log_z), expected, rtol=1e-12)


@pytest.mark.parametrize("use, expected", [
    (float, lambda z: z),
    (lambda r: r - 1.0, lambda z: z - 1.0),
    (lambda r: 2.0 - r, lambda z: 2.0 - z),
    (lambda r: -r, lambda z: -z),
    (lambda r: 2 * r, lambda z: 2 * z),
    (lambda r: r / 4, lambda z: z / 4),
    (lambda r: r < 1e9, lambda z: True),
    (lambda r: r == 0.0, lambda z: False),
    (lambda r: round(r, 3), lambda z: round(z, 3)),
    (lambda r: f"{r:.4f}", lambda z: f"{z:.4f}"),
    (np.exp, np.exp),
    (lambda r: np.array([1.0, 2.0]) - r, lambda z: np.array([1.0, 2.0]) - z),
])
def test_the_old_float_use_of_exact_log_partition_still_works_with_a_warning(use, expected):
    model = rbm.RBM(n_visible=4, n_hidden=3, numpy_rng=3, dtype="float64")
    result = evaluation.exact_log_partition(model)
    with old_form(r"exact_log_partition\(model\).log_z"):
        got = use(result)
    np.testing.assert_equal(got, expected(result.log_z))
