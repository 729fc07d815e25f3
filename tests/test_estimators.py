"""scikit-learn estimators: its estimator checks, Pipeline + GridSearchCV, and numpy references."""
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import expit
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from rbm.estimators import BernoulliRBM, GaussianBernoulliRBM

from . import reference


@parametrize_with_checks([BernoulliRBM(n_components=3, n_iter=2, mode="NUMBA", random_state=0),
                          GaussianBernoulliRBM(n_components=3, n_iter=2, mode="NUMBA", random_state=0)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def digits(n=400):
    X, y = load_digits(return_X_y=True)
    return X[:n] / 16.0, y[:n]


def test_pipeline_and_grid_search():
    X, y = digits()
    pipeline = Pipeline([("rbm", BernoulliRBM(n_iter=10, learning_rate=0.1, random_state=0, mode="NUMBA")),
                         ("logistic", LogisticRegression(max_iter=1000, C=100))])
    search = GridSearchCV(pipeline, {"rbm__n_components": [16, 48]}, cv=2).fit(X, y)
    assert search.best_params_["rbm__n_components"] in (16, 48)
    assert search.best_score_ > 0.7  # 10 classes: chance is 0.1
    assert search.best_estimator_.named_steps["rbm"].components_.shape == (search.best_params_["rbm__n_components"], 64)


def test_transform_and_score_samples_match_numpy():
    X, _ = digits(100)
    model = BernoulliRBM(n_components=10, n_iter=3, random_state=1, mode="NUMBA").fit(X)
    W, hbias, vbias = model.components_.T, model.intercept_hidden_, model.intercept_visible_
    np.testing.assert_allclose(model.transform(X), expit(X @ W + hbias), rtol=1e-12)
    binary = (X > 0.5).astype(float)[:5]
    # the sum over features of the single-feature terms that reference.pseudo_likelihood_cost averages
    expected = [sum(reference.pseudo_likelihood_cost(row[None], bit, W, hbias, vbias) / 64 for bit in range(64))
                for row in binary]
    np.testing.assert_allclose(model.score_samples(binary), expected, rtol=1e-10)
    np.testing.assert_allclose(model.score_samples(sp.csr_matrix(binary)), expected, rtol=1e-10)
    np.testing.assert_allclose(model.transform(sp.csr_matrix(X)), model.transform(X), rtol=1e-12)


def test_fit_learns_and_partial_fit_continues():
    X, _ = digits(300)
    binary = (X > 0.5).astype(float)
    model = BernoulliRBM(n_components=32, learning_rate=0.1, n_iter=1, random_state=0, mode="NUMBA")
    before = model.fit(binary).score_samples(binary).mean()
    for _ in range(9):
        model.partial_fit(binary)
    assert model.n_iter_ == 10
    assert model.score_samples(binary).mean() > before + 4  # measured: -24.8 -> -19.5
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.transform(binary), model.transform(binary))
    assert again.partial_fit(binary).n_iter_ == 11


def test_gaussian_estimator_transform_uses_sigma():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    model = GaussianBernoulliRBM(n_components=5, n_iter=3, sigma=2.0, random_state=0, mode="NUMBA").fit(X)
    np.testing.assert_array_equal(model.sigma_, np.full(4, 2.0))
    expected = expit((X / 2.0) @ model.components_.T + model.intercept_hidden_)
    np.testing.assert_allclose(model.transform(X), expected, rtol=1e-12)
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
