"""scikit-learn estimators: RBM feature extractors that drop into ``Pipeline`` and ``GridSearchCV``.

:class:`BernoulliRBM` takes scikit-learn's ``BernoulliRBM`` parameters and
methods (``fit``, ``partial_fit``, ``transform`` = hidden probabilities,
``score_samples`` = pseudo-likelihood, ``gibbs``, ``components_``, ...) and
trains with rbm's compiled graphs (:class:`rbm.Trainer`), adding ``k``,
``persistent``, ``momentum``, ``weight_decay`` and ``mode``.
:class:`GaussianBernoulliRBM` is the same for real-valued features. Nothing
happens in ``__init__``; inputs are checked with scikit-learn's utilities.
"""
import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, log_expit
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import check_is_fitted, validate_data

from .models import GaussianBernoulliRBM as GaussianModel
from .models import RBM
from .training import Trainer
from .validation import check_array

__all__ = ["BernoulliRBM", "GaussianBernoulliRBM"]


class _RBMEstimator(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """What both estimators share: validation, training through rbm.Trainer, the fitted attributes."""

    _parameter_constraints = {
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_iter": [Interval(numbers.Integral, 0, None, closed="left")],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "k": [Interval(numbers.Integral, 1, None, closed="left")],
        "persistent": ["boolean"],
        "momentum": [Interval(numbers.Real, 0, 1, closed="left")],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "mode": [str],
    }

    def __init__(self, n_components, *, learning_rate, batch_size, n_iter, verbose, random_state, k, persistent,
                 momentum, weight_decay, mode):
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.verbose = verbose
        self.random_state = random_state
        self.k = k
        self.persistent = persistent
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.mode = mode

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    # -------------------------------------------------------------- fitting
    def fit(self, X, y=None):
        """Fit the model to ``X`` (n_samples, n_features) for ``n_iter`` passes; returns self."""
        self._validate_params()
        X = self._validate_X(X, reset=True)
        self.random_state_ = check_random_state(self.random_state)
        self._start(X)
        self._train(X, self.n_iter)
        return self

    def partial_fit(self, X, y=None):
        """One pass over ``X``, continuing from the current state (or starting one); returns self."""
        first = not hasattr(self, "components_")
        if first:
            self._validate_params()
        X = self._validate_X(X, reset=first)
        if first:
            self.random_state_ = check_random_state(self.random_state)
            self._start(X)
        self._train(X, 1)
        return self

    def _validate_X(self, X, reset):
        X = validate_data(self, X, accept_sparse=("csr", "csc"), dtype=(np.float64, np.float32), reset=reset)
        self._check_values(X.data if sp.issparse(X) else X)
        return X

    def _start(self, X):
        """Initial parameters as scikit-learn's: W ~ N(0, 0.01^2), zero biases (plus the model's own)."""
        dtype = X.dtype
        self.components_ = self.random_state_.normal(0.0, 0.01, (self.n_components, X.shape[1])).astype(dtype)
        self.intercept_hidden_ = np.zeros(self.n_components, dtype=dtype)
        self.intercept_visible_ = np.zeros(X.shape[1], dtype=dtype)
        self.n_iter_ = 0
        self._trainer = None

    def _train(self, X, n_passes):
        """``n_passes`` epochs of rbm.Trainer over ``X`` (dense), then the fitted attributes from the model."""
        dense = np.asarray(X.toarray() if sp.issparse(X) else X)
        batch_size = min(self.batch_size, dense.shape[0])
        trainer = getattr(self, "_trainer", None)
        if trainer is None or trainer.batch_size != batch_size or trainer.model.dtype != dense.dtype.name:
            seed = int(self.random_state_.randint(np.iinfo(np.int32).max))
            model = self._model_class(n_visible=dense.shape[1], n_hidden=self.n_components, seed=seed,
                                      dtype=dense.dtype.name, **self._model_kwargs())
            trainer = Trainer(model, learning_rate=self.learning_rate, k=self.k, persistent=self.persistent,
                              batch_size=batch_size, momentum=self.momentum, weight_decay=self.weight_decay,
                              mode=self.mode, seed=seed)
        trainer.model.set_params(**self._model_arrays())  # the fitted attributes are the state
        if n_passes:
            history = trainer.fit(dense, epochs=n_passes, verbose=bool(self.verbose))
            if self.verbose:
                for record in history[-n_passes:]:
                    print(f"[{type(self).__name__}] Iteration {self.n_iter_ + 1}, {self._cost_name} = "
                          f"{record['cost']:.2f}, time = {record['time']:.2f}s")
                    self.n_iter_ += 1
            else:
                self.n_iter_ += n_passes
        self._trainer = trainer
        self._read_model(trainer.model)

    def _model_arrays(self):
        return {"W": self.components_.T, "hbias": self.intercept_hidden_, "vbias": self.intercept_visible_}

    def _read_model(self, model):
        params = model.get_params()
        self.components_ = np.ascontiguousarray(params["W"].T)
        self.intercept_hidden_ = params["hbias"]
        self.intercept_visible_ = params["vbias"]

    def __getstate__(self):
        # The trainer holds compiled functions, which do not pickle; it is rebuilt from the arrays.
        state = dict(self.__dict__)
        state.pop("_trainer", None)
        return state

    # ------------------------------------------------------------ transforms
    def transform(self, X):
        """The hidden units' probabilities p(h_j = 1 | x), shape (n_samples, n_components)."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return self._hidden_probabilities(X)

    def _hidden_probabilities(self, X):
        activation = safe_sparse_dot(self._scaled(X), self.components_.T.astype(X.dtype)) + self.intercept_hidden_
        return expit(activation).astype(X.dtype, copy=False)

    def gibbs(self, v):
        """One Gibbs step from the visible rows ``v``: a sample of h, then of v (numpy, ``random_state_``)."""
        check_is_fitted(self)
        v = self._validate_X(v, reset=False)
        rng = self.random_state_
        hidden = (rng.uniform(size=(v.shape[0], self.n_components)) < self._hidden_probabilities(v))
        return self._sample_visible(hidden.astype(v.dtype), rng)


class _NonNegativeRBM(RBM):
    """The RBM the estimator trains: like scikit-learn's it takes X >= 0, values above 1 included."""

    def check_data(self, data, name="data"):
        array = check_array(data, name, ndim=2)
        if array.shape[0] == 0 or array.shape[1] != self.n_visible or (array.size and array.min() < 0):
            return super().check_data(data, name)  # its error names the problem
        return array


class BernoulliRBM(_RBMEstimator):
    """Bernoulli RBM feature extractor, scikit-learn's ``BernoulliRBM`` trained by rbm.

    Parameters
    ----------
    n_components : int, default=256
        Number of hidden units.
    learning_rate : float, default=0.1
    batch_size : int, default=10
    n_iter : int, default=10
        Passes over the training set.
    verbose : int, default=0
    random_state : int, RandomState or None
        Initial weights and the sampler's seed.
    k : int, default=1
        Gibbs steps per update (scikit-learn's is 1).
    persistent : bool, default=True
        PCD-k (as scikit-learn) or CD-k.
    momentum, weight_decay : float, default=0
    mode : str, default="cpu"
        rbm's compile mode (:func:`rbm.backend.resolve_mode`).

    X holds values in [0, 1] (probabilities or binary). Negative values are
    refused; values above 1 are used as given, as scikit-learn's
    ``BernoulliRBM`` does, with a warning (scale X first, e.g. with
    ``MinMaxScaler``).

    Attributes: ``components_`` (n_components, n_features),
    ``intercept_hidden_``, ``intercept_visible_``, ``n_features_in_``,
    ``n_iter_``, ``random_state_``.
    """

    _model_class = _NonNegativeRBM
    _cost_name = "pseudo-likelihood"

    def __init__(self, n_components=256, *, learning_rate=0.1, batch_size=10, n_iter=10, verbose=0,
                 random_state=None, k=1, persistent=True, momentum=0.0, weight_decay=0.0, mode="cpu"):
        super().__init__(n_components, learning_rate=learning_rate, batch_size=batch_size, n_iter=n_iter,
                         verbose=verbose, random_state=random_state, k=k, persistent=persistent, momentum=momentum,
                         weight_decay=weight_decay, mode=mode)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        return tags

    @staticmethod
    def _check_values(values):
        if values.size and values.min() < 0:
            raise ValueError(f"Negative values in data passed to BernoulliRBM (minimum {values.min()}): X holds "
                             "probabilities in [0, 1]; scale it first, e.g. with MinMaxScaler")
        if values.size and values.max() > 1:
            warnings.warn(f"BernoulliRBM treats X as probabilities in [0, 1] but got values up to {values.max()}; "
                          "they are used as given, as scikit-learn's BernoulliRBM does (scale X, e.g. with "
                          "MinMaxScaler, for a meaningful model)", UserWarning, stacklevel=4)

    def _model_kwargs(self):
        return {}

    @staticmethod
    def _scaled(X):
        return X

    def _sample_visible(self, hidden, rng):
        p = expit(hidden @ self.components_.astype(hidden.dtype) + self.intercept_visible_)
        return (rng.uniform(size=p.shape) < p).astype(hidden.dtype)

    def score_samples(self, X):
        """Pseudo-log-likelihood of each row: sum_i log p(x_i | x_-i) = sum_i log sigmoid(F(x^i) - F(x)).

        x^i is x with feature i flipped. scikit-learn's ``BernoulliRBM``
        returns n_features times this term for one feature drawn at random,
        an unbiased estimate of the same sum; here every feature is summed, so
        a row's score depends on that row alone (and is exact).
        """
        check_is_fitted(self)
        v = self._validate_X(X, reset=False)
        v = np.asarray(v.toarray() if sp.issparse(v) else v, dtype=np.float64)
        W = self.components_.T.astype(np.float64)
        activation = v @ W + self.intercept_hidden_
        hidden_term = np.logaddexp(0, activation).sum(axis=1)
        score = np.zeros(v.shape[0])
        for i in range(v.shape[1]):
            sign = 1 - 2 * v[:, i]  # flipping x_i adds sign * (b_i + W_i . ) to -F
            flipped_minus_own = -(sign * self.intercept_visible_[i]
                                  + np.logaddexp(0, activation + sign[:, None] * W[i]).sum(axis=1) - hidden_term)
            score += log_expit(flipped_minus_own)
        return score


class GaussianBernoulliRBM(_RBMEstimator):
    """Gaussian-Bernoulli RBM feature extractor for real-valued features (standardise them first).

    Parameters are :class:`BernoulliRBM`'s plus ``sigma`` (the visible
    units' standard deviation, a number or one per feature, default 1) and
    ``learn_sigma``; the default learning rate is lower (0.01), as real-valued
    visible units need. ``score_samples`` is the unnormalised log-density
    -F(x) (log p(x) up to the constant log Z, see :mod:`rbm.evaluation`).
    Extra attribute: ``sigma_``.
    """

    _model_class = GaussianModel
    _cost_name = "reconstruction error"
    _parameter_constraints = {
        **_RBMEstimator._parameter_constraints,
        "sigma": [Interval(numbers.Real, 0, None, closed="neither"), "array-like"],
        "learn_sigma": ["boolean"],
    }

    def __init__(self, n_components=256, *, learning_rate=0.01, batch_size=10, n_iter=10, verbose=0,
                 random_state=None, k=1, persistent=True, momentum=0.0, weight_decay=0.0, mode="cpu",
                 sigma=1.0, learn_sigma=False):
        super().__init__(n_components, learning_rate=learning_rate, batch_size=batch_size, n_iter=n_iter,
                         verbose=verbose, random_state=random_state, k=k, persistent=persistent, momentum=momentum,
                         weight_decay=weight_decay, mode=mode)
        self.sigma = sigma
        self.learn_sigma = learn_sigma

    @staticmethod
    def _check_values(values):
        """validate_data has refused NaN and infinity; any finite value is a valid Gaussian unit."""

    def _start(self, X):
        super()._start(X)
        sigma = GaussianModel._check_sigma(self.sigma, X.shape[1])
        self.sigma_ = sigma.astype(X.dtype)

    def _model_kwargs(self):
        return {"sigma": self.sigma_, "learn_sigma": self.learn_sigma}

    def _model_arrays(self):
        return {**super()._model_arrays(), "sigma": self.sigma_}

    def _read_model(self, model):
        super()._read_model(model)
        self.sigma_ = model.get_sigma().astype(self.components_.dtype)

    def _scaled(self, X):
        return X.multiply(1 / self.sigma_).tocsr() if sp.issparse(X) else X / self.sigma_

    def _sample_visible(self, hidden, rng):
        mean = self.intercept_visible_ + self.sigma_ * (hidden @ self.components_.astype(hidden.dtype))
        return (mean + self.sigma_ * rng.standard_normal(mean.shape)).astype(hidden.dtype)

    def score_samples(self, X):
        """-F(x) per row: the log-density up to the model's constant log Z."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        dense = np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float64)
        quadratic = (((dense - self.intercept_visible_) / self.sigma_) ** 2 / 2).sum(axis=1)
        hidden = np.logaddexp(0, (dense / self.sigma_) @ self.components_.T + self.intercept_hidden_).sum(axis=1)
        return hidden - quadratic
