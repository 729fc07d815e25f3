"""scikit-learn estimators: its estimator checks, Pipeline + GridSearchCV, and independent references."""
import collections
import pickle
import re

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import softmax
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from rbm import estimators
from rbm.estimators import BernoulliRBM, GaussianBernoulliRBM

from . import reference


@parametrize_with_checks([BernoulliRBM(n_components=3, n_iter=2, mode="NUMBA", random_state=0),
                          GaussianBernoulliRBM(n_components=3, n_iter=2, mode="NUMBA", random_state=0)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def digits(n=400):
    X, y = load_digits(return_X_y=True)
    return X[:n] / 16.0, y[:n]


def brute_force_hidden_probabilities(interaction_input, W, hbias):
    """p(h_j = 1 | v) by enumerating every hidden vector h.

    Given v, p(h | v) is proportional to exp(-E(v, h)); the terms of E of v
    alone cancel, leaving exp(u.W h + hbias.h), where u = v for binary visible
    units and u = v / sigma for Gaussian ones (E = sum (v - b)^2 / 2 sigma^2
    - hbias.h - (v / sigma).W h). p(h_j = 1 | v) sums p(h | v) over h with h_j = 1.
    """
    hidden_states = reference.all_binary_states(W.shape[1])
    p_h_given_v = softmax(interaction_input @ W @ hidden_states.T + hidden_states @ hbias, axis=1)
    return p_h_given_v @ hidden_states


def test_pipeline_and_grid_search():
    X, y = digits()
    pipeline = Pipeline([("rbm", BernoulliRBM(n_iter=10, learning_rate=0.1, random_state=0, mode="NUMBA")),
                         ("logistic", LogisticRegression(max_iter=1000, C=100))])
    grid = [16, 48]
    folds = StratifiedKFold(2)
    search = GridSearchCV(pipeline, {"rbm__n_components": grid}, cv=folds).fit(X, y)
    # Each candidate scored again, outside the search: a fit is a function of its parameters and data (the
    # search's clones must keep random_state and everything else), and the search picks the best of them.
    scores = [cross_val_score(pipeline.set_params(rbm__n_components=n), X, y, cv=folds).mean() for n in grid]
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"], scores)
    assert search.best_params_["rbm__n_components"] == grid[int(np.argmax(scores))]
    best_rbm = search.best_estimator_.named_steps["rbm"]
    assert best_rbm.components_.shape == (search.best_params_["rbm__n_components"], 64)
    # The trained features classify better than the same pipeline's untrained ones (n_iter=0: the initial
    # W ~ N(0, 0.01^2) leaves every feature within ~0.01 of 1/2).
    untrained = cross_val_score(pipeline.set_params(rbm__n_components=grid[int(np.argmax(scores))], rbm__n_iter=0),
                                X, y, cv=folds).mean()
    assert search.best_score_ > untrained


def test_transform_matches_brute_force_and_score_samples_matches_numpy():
    X, _ = digits(100)
    model = BernoulliRBM(n_components=4, n_iter=3, random_state=1, mode="NUMBA").fit(X)
    W, hbias, vbias = model.components_.T, model.intercept_hidden_, model.intercept_visible_
    expected = brute_force_hidden_probabilities(X, W, hbias)
    np.testing.assert_allclose(model.transform(X), expected, rtol=1e-10)
    np.testing.assert_allclose(model.transform(sp.csr_matrix(X)), expected, rtol=1e-10)
    np.testing.assert_allclose(model._mean_hiddens(X[0]), expected[0], rtol=1e-10)  # scikit-learn's helper
    binary = (X > 0.5).astype(float)[:5]
    # the sum over features of the single-feature terms that reference.pseudo_likelihood_cost averages
    expected = [sum(reference.pseudo_likelihood_cost(row[None], bit, W, hbias, vbias) / 64 for bit in range(64))
                for row in binary]
    np.testing.assert_allclose(model.score_samples(binary), expected, rtol=1e-10)
    np.testing.assert_allclose(model.score_samples(sp.csr_matrix(binary)), expected, rtol=1e-10)


def test_fit_raises_the_exact_log_likelihood():
    # 3x3 bars and stripes, 9 visible units: log p(v) by enumerating all 2^9 x 2^4 states (tests/reference.py)
    data = np.tile(reference.bars_and_stripes(3), (20, 1))
    np.random.default_rng(0).shuffle(data)
    settings = dict(n_components=4, learning_rate=0.1, random_state=0, mode="NUMBA")
    start = BernoulliRBM(n_iter=0, **settings).fit(data)  # the initial parameters, untrained
    trained = BernoulliRBM(n_iter=30, **settings).fit(data)

    def log_likelihood(model):
        return reference.mean_log_likelihood(data, model.components_.T, model.intercept_hidden_,
                                             model.intercept_visible_)

    assert log_likelihood(trained) > log_likelihood(start)


def fitted_state(model):
    """Every fitted array of ``model`` (the Gaussian's sigma_ too), by name."""
    names = ["components_", "intercept_hidden_", "intercept_visible_", "h_samples_", "sigma_"]
    return {name: getattr(model, name) for name in names if getattr(model, name, None) is not None}


def assert_same_fit(first, second):
    assert first.n_iter_ == second.n_iter_
    state = fitted_state(first)
    assert state.keys() == fitted_state(second).keys()
    for name, value in state.items():
        np.testing.assert_array_equal(getattr(second, name), value, err_msg=name)


def test_partial_fit_continues_the_fit_exactly():
    # fit(n_iter=3) and fit(n_iter=1) + two partial_fit passes are the same three epochs of the same chains
    X, _ = digits(100)
    settings = dict(n_components=5, batch_size=10, momentum=0.5, random_state=0, mode="NUMBA")
    whole = BernoulliRBM(n_iter=3, **settings).fit(X)
    pieces = BernoulliRBM(n_iter=1, **settings).fit(X)
    pieces.partial_fit(X)
    pieces.partial_fit(X)
    assert_same_fit(whole, pieces)


def binary_digits(n):
    return (digits(n)[0] > 0.5).astype(float)


def normal_rows(n):
    return np.random.default_rng(0).normal(size=(n, 4))


def short_chunk(model, X):
    model.partial_fit(X[:7])  # fewer rows than batch_size: a second compiled trainer, the same state


def to_jax_on_the_cpu(model, X):
    model.set_params(mode="cpu").partial_fit(X)  # the sampler's numpy state becomes a JAX function's key


@pytest.mark.parametrize("make, data, before_pickling", [
    (lambda: BernoulliRBM(n_components=5, n_iter=2, momentum=0.5, random_state=0, mode="NUMBA"), binary_digits,
     short_chunk),
    (lambda: BernoulliRBM(n_components=5, n_iter=2, persistent=False, random_state=0, mode="NUMBA"), binary_digits,
     short_chunk),
    (lambda: BernoulliRBM(n_components=5, n_iter=1, momentum=0.5, random_state=0, mode="NUMBA"), binary_digits,
     to_jax_on_the_cpu),
    (lambda: GaussianBernoulliRBM(n_components=3, n_iter=2, random_state=0, mode="NUMBA"), normal_rows, short_chunk),
    (lambda: GaussianBernoulliRBM(n_components=3, n_iter=2, learn_sigma=True, momentum=0.5, random_state=0,
                                  mode="NUMBA"), normal_rows, short_chunk),
], ids=["bernoulli-pcd-momentum", "bernoulli-cd", "bernoulli-pcd-jax-cpu", "gaussian", "gaussian-learn-sigma"])
def test_pickled_estimator_continues_training_bit_for_bit(make, data, before_pickling, monkeypatch):
    """Everything training carries on from survives pickling: the sampler's generator (a numpy Generator, or
    the key of a JAX function), the persistent chains, the momentum buffers, sigma."""
    X = data(60)
    model = make().fit(X)
    before_pickling(model, X)
    copy = pickle.loads(pickle.dumps(model))
    assert_same_fit(model, copy)
    model.partial_fit(X)
    # as in a new process: no compiled trainer to reuse, the copy's is compiled afresh from its pickled state
    monkeypatch.setattr(estimators, "_COMPILED_TRAINERS", collections.OrderedDict())
    copy.partial_fit(X)
    assert_same_fit(model, copy)
    np.testing.assert_array_equal(copy.transform(X), model.transform(X))


def test_estimators_sharing_a_compiled_trainer_do_not_disturb_each_other():
    # Same settings, so the same compiled trainer: a fit of other data between two passes changes nothing.
    X = binary_digits(60)
    settings = dict(n_components=5, n_iter=1, momentum=0.5, random_state=0, mode="NUMBA")
    alone = BernoulliRBM(**settings).fit(X).partial_fit(X)
    interrupted = BernoulliRBM(**settings).fit(X)
    BernoulliRBM(**{**settings, "random_state": 1}).fit(1 - X)  # leaves its own state in the trainer
    interrupted.partial_fit(X)
    assert_same_fit(alone, interrupted)


def test_float32_and_float64_input_give_the_same_model():
    # Training runs in float64 whatever the input: the same values give the same model, and transform
    # differs only by rounding its float64 result to float32 (relative error at most 2^-24).
    X32 = normal_rows(60).astype(np.float32)
    for estimator, data32 in ((GaussianBernoulliRBM, X32), (BernoulliRBM, (X32 > 0).astype(np.float32))):
        settings = dict(n_components=3, n_iter=2, random_state=0, mode="NUMBA")
        single, double = estimator(**settings).fit(data32), estimator(**settings).fit(data32.astype(np.float64))
        assert_same_fit(single, double)
        assert single.transform(data32).dtype == np.float32
        np.testing.assert_allclose(single.transform(data32), double.transform(data32.astype(np.float64)),
                                   rtol=2.0 ** -24, atol=0)


def test_verbose_prints_one_scikit_learn_line_per_iteration(capsys):
    X = binary_digits(50)
    model = BernoulliRBM(n_components=3, n_iter=2, verbose=True, random_state=0, mode="NUMBA").fit(X)
    model.partial_fit(X)
    GaussianBernoulliRBM(n_components=3, n_iter=1, verbose=1, random_state=0, mode="NUMBA").fit(normal_rows(20))
    BernoulliRBM(n_components=3, n_iter=1, persistent=False, verbose=1, random_state=0, mode="NUMBA").fit(X)
    captured = capsys.readouterr()
    number = r"-?\d+\.\d\d"
    expected = [rf"\[BernoulliRBM\] Iteration {i}, pseudo-likelihood = {number}, time = \d+\.\d\ds" for i in (1, 2, 3)]
    expected.append(rf"\[GaussianBernoulliRBM\] Iteration 1, reconstruction error = {number}, time = \d+\.\d\ds")
    expected.append(rf"\[BernoulliRBM\] Iteration 1, reconstruction log-likelihood = {number}, time = \d+\.\d\ds")
    lines = captured.out.splitlines()
    assert len(lines) == len(expected), captured.out
    for line, pattern in zip(lines, expected):
        assert re.fullmatch(pattern, line), line
    assert captured.err == ""  # no trainer epoch line, no progress bar


def test_feature_names_out_after_fit():
    X = binary_digits(40)
    for model, prefix in ((BernoulliRBM(n_components=3, n_iter=1, mode="NUMBA"), "bernoullirbm"),
                          (GaussianBernoulliRBM(n_components=3, n_iter=1, mode="NUMBA"), "gaussianbernoullirbm")):
        with pytest.raises(NotFittedError):
            model.get_feature_names_out()
        model.fit(X)
        np.testing.assert_array_equal(model.get_feature_names_out(), [f"{prefix}{i}" for i in range(3)])
    pipeline = Pipeline([("scale", MinMaxScaler()), ("rbm", BernoulliRBM(n_components=2, n_iter=1, mode="NUMBA"))])
    np.testing.assert_array_equal(pipeline.fit(X).get_feature_names_out(), ["bernoullirbm0", "bernoullirbm1"])


def test_set_output_pandas_names_the_columns():
    pandas = pytest.importorskip("pandas")
    X = pandas.DataFrame(binary_digits(40), columns=[f"pixel{i}" for i in range(64)])
    model = BernoulliRBM(n_components=2, n_iter=1, mode="NUMBA").set_output(transform="pandas")
    frame = model.fit_transform(X)
    assert list(frame.columns) == ["bernoullirbm0", "bernoullirbm1"]


def test_sample_hiddens_has_the_mean_hiddens_frequency():
    X = binary_digits(4)
    model = BernoulliRBM(n_components=3, n_iter=1, random_state=0, mode="NUMBA").fit(X)
    n_draws = 4000
    rng = np.random.RandomState(0)
    samples = np.array([model._sample_hiddens(X, rng) for _ in range(n_draws)])
    assert samples.dtype == bool and samples.shape == (n_draws, 4, 3)
    p = brute_force_hidden_probabilities(X, model.components_.T, model.intercept_hidden_)
    # a frequency over n draws has standard deviation sqrt(p (1 - p) / n) <= 0.5 / sqrt(n); allow 5 of them
    assert np.abs(samples.mean(axis=0) - p).max() < 5 * 0.5 / np.sqrt(n_draws)


def test_gaussian_estimator_transform_uses_sigma():
    X = normal_rows(60)
    model = GaussianBernoulliRBM(n_components=4, n_iter=3, sigma=2.0, random_state=0, mode="NUMBA").fit(X)
    np.testing.assert_array_equal(model.sigma_, np.full(4, 2.0))  # learn_sigma=False keeps it
    expected = brute_force_hidden_probabilities(X / 2.0, model.components_.T, model.intercept_hidden_)
    np.testing.assert_allclose(model.transform(X), expected, rtol=1e-10)
    assert model.gibbs(X).shape == X.shape


def test_bad_input_gets_a_clear_error():
    X, _ = digits(50)
    model = BernoulliRBM(n_components=4, n_iter=1, mode="NUMBA")
    with pytest.raises(NotFittedError):
        model.transform(X)
    with pytest.raises(ValueError, match="Negative values in data passed to BernoulliRBM"):
        model.fit(X - 1)
    with pytest.raises(ValueError, match="NaN"):
        model.fit(np.where(X > 0.9, np.nan, X))
    with pytest.warns(UserWarning, match="values up to 16"):
        model.fit(X * 16)
    model.fit(X)
    with pytest.raises(ValueError, match="features"):
        model.transform(X[:, :10])
    with pytest.raises(ValueError, match="sigma must be > 0"):
        GaussianBernoulliRBM(sigma=np.array([1.0, -1.0]), mode="NUMBA").fit(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="learning_rate"):
        BernoulliRBM(learning_rate=-1.0).fit(X)
    unknown_mode = BernoulliRBM(mode="fast")
    with pytest.raises(ValueError, match="unknown mode 'fast'"):
        unknown_mode.fit(X)
    assert not hasattr(unknown_mode, "components_")  # refused before anything changed


def test_auto_mode_trains_exactly_as_the_mode_it_picks():
    """mode="auto" (the default): "NUMBA" up to 2**18 multiply-adds in a minibatch's product with W, else "cpu".

    The pick is all it changes: the fit is the picked mode's, array for array.
    """
    assert BernoulliRBM().mode == GaussianBernoulliRBM().mode == "auto"
    # batch_size x n_features x n_components: 10 x 64 x 409 = 261,760 <= 262,144 < 10 x 64 x 410 = 262,400
    assert estimators.automatic_mode(10, 64, 409) == "NUMBA" and estimators.automatic_mode(10, 64, 410) == "cpu"
    X, _ = digits(100)
    for batch_size, n_components, mode, picked in ((10, 5, "auto", "NUMBA"), (100, 41, "AUTO", "cpu")):
        settings = dict(n_components=n_components, batch_size=batch_size, n_iter=1, random_state=0)
        automatic = BernoulliRBM(**settings, mode=mode).fit(X)
        assert automatic.mode_ == picked, (batch_size * 64 * n_components, picked)
        assert_same_fit(automatic, BernoulliRBM(**settings, mode=picked).fit(X))


def test_batches_per_call_changes_no_fit():
    """Minibatches 3 per call (10 per pass: three calls and one alone) fit as one per call, to rounding
    (LLVM compiles the scan's body apart); a clone with other weights then compiles nothing."""
    from rbm import backend

    X, _ = digits(100)
    settings = dict(n_components=5, batch_size=10, n_iter=2, momentum=0.5, random_state=0, mode="NUMBA")
    grouped, single = BernoulliRBM(**settings, batches_per_call=3).fit(X), BernoulliRBM(**settings).fit(X)
    assert {trainer.batches_per_call for trainer, _ in estimators._COMPILED_TRAINERS.values()} >= {1, 3}
    for name, value in fitted_state(single).items():
        if isinstance(value, np.ndarray):
            np.testing.assert_allclose(getattr(grouped, name), value, rtol=1e-11, atol=1e-13, err_msg=name)
    before = backend.compiled_function_count()
    BernoulliRBM(**{**settings, "random_state": 1}, batches_per_call=3).fit(X)
    assert backend.compiled_function_count() == before
    with pytest.raises(ValueError, match="batches_per_call"):
        BernoulliRBM(batches_per_call=0).fit(X)


def test_numba_fits_run_100_minibatches_per_call_by_default(monkeypatch):
    """batches_per_call=None: 100 per call with "NUMBA" (mode="auto" picks it here), one otherwise; the same fit."""
    monkeypatch.setattr(estimators, "NUMBA_BATCHES_PER_CALL", 100)  # the library's value (conftest sets 1)
    X, _ = digits(100)
    settings = dict(n_components=5, batch_size=10, n_iter=2, random_state=0)
    default = BernoulliRBM(**settings).fit(X)
    assert default.mode_ == "NUMBA" and default._batches_per_call() == 100
    assert BernoulliRBM(**settings, mode="cpu").fit(X)._batches_per_call() is None  # the trainer's default: 1
    single = BernoulliRBM(**settings, batches_per_call=1).fit(X)
    for name, value in fitted_state(single).items():
        np.testing.assert_allclose(getattr(default, name), value, rtol=1e-11, atol=1e-13, err_msg=name)
