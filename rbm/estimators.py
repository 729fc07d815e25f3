"""scikit-learn estimators: RBM feature extractors that drop into ``Pipeline`` and ``GridSearchCV``.

:class:`rbm.estimators.BernoulliRBM` takes scikit-learn's ``BernoulliRBM`` parameters and
methods (``fit``, ``partial_fit``, ``transform`` = hidden probabilities,
``score_samples`` = pseudo-likelihood, ``gibbs``, ``components_``, ...) and
trains with rbm's compiled graphs (:class:`rbm.Trainer`), adding ``k``,
``persistent``, ``momentum``, ``weight_decay`` and ``mode``.
:class:`rbm.estimators.GaussianBernoulliRBM` is the same for real-valued features. Nothing
happens in ``__init__``; inputs are checked with scikit-learn's utilities.
"""
import collections
import numbers
import threading
import warnings
from typing import Self

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike
from scipy.special import expit, log_expit
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import check_is_fitted, validate_data

from . import backend, layers
from .models import RBM
from .models import GaussianBernoulliRBM as GaussianModel
from .training import Trainer
from .validation import check_array

__all__ = ["BernoulliRBM", "GaussianBernoulliRBM", "automatic_mode", "AUTO_NUMBA_MAX_PRODUCT", "NUMBA_BATCHES_PER_CALL"]


#: the float type the estimators train and keep their fitted arrays in, whatever the input's: a float32 and a
#: float64 copy of the same X then give the same model (transform returns X's dtype)
_TRAINING_DTYPE = np.float64
#: Compiled trainers kept for reuse, least recently used first: (the settings that shape the compiled graph)
#: -> (trainer, lock). Compiling costs seconds while fitting small data takes milliseconds, so the fits that
#: share those settings (GridSearchCV's folds and refits, clones, partial_fit chunks) share one trainer. An
#: estimator keeps no compiled state: each use first loads the estimator's whole training state into the
#: trainer (so what another estimator left there never matters), and the lock keeps threads apart.
_COMPILED_TRAINERS = collections.OrderedDict()
_COMPILED_TRAINERS_LOCK = threading.Lock()
_MAX_COMPILED_TRAINERS = 8
#: mode="auto" trains with "NUMBA" up to this many multiply-adds in a minibatch's product with the weights
#: (batch_size x n_features x n_components), with "cpu" above (see automatic_mode)
AUTO_NUMBA_MAX_PRODUCT = 2 ** 18
#: minibatch updates per compiled call with "NUMBA" when batches_per_call is None (see BernoulliRBM's batches_per_call)
NUMBA_BATCHES_PER_CALL = 100


def automatic_mode(batch_size: int, n_features: int, n_components: int) -> str:
    """The compile mode ``mode="auto"`` trains with: "NUMBA" for small minibatch products, else "cpu".

    Why: a small model's fit is mostly fixed costs, and Numba's are lower:
    no JAX import, and one compiled step for every data shape, where JAX
    traces and compiles again for each new shape. Measured on the project's
    2-core machine with other work running (benchmarks/bench_small.py,
    benchmarks/results/bench_small.txt), for scikit-learn's digits
    (10 x 64 x 100 = 64,000 multiply-adds): a first fit in a process, import
    included, took 2.1 s with "NUMBA" against 3.3 s with "cpu", 2.2 s against
    7.6 s for a number of hidden units not compiled before, about the same
    (8.4 s, 7.6 s) for a new learning rate (both compile it) and a grid search
    of 10 candidates x 5 folds (56 s, 61 s); per minibatch the two were within
    the runs' noise (0.75x-1.5x). The exception is a first fit with empty compile
    caches (30 s against 8 s): Numba's cache then fills once. Above 2**18
    multiply-adds OpenBLAS runs the products on several threads and, with the
    cores busy, "NUMBA"'s step was 4-8x slower than "cpu"'s (100 x 64 x 100,
    10 x 784 x 500, 100 x 784 x 500), so larger models train with "cpu".

    Parameters
    ----------
    batch_size, n_features, n_components : int

    Returns
    -------
    str
        ``"NUMBA"`` when ``batch_size * n_features * n_components`` is at most
        ``AUTO_NUMBA_MAX_PRODUCT`` (2**18 = 262,144), else ``"cpu"``.

    Examples
    --------
    >>> from rbm.estimators import automatic_mode
    >>> automatic_mode(10, 64, 100), automatic_mode(20, 784, 500)
    ('NUMBA', 'cpu')
    """
    return "NUMBA" if batch_size * n_features * n_components <= AUTO_NUMBA_MAX_PRODUCT else "cpu"


def _numpy_generator(kind, value):
    """The sampler's numpy Generator from a saved state: kind "seed" (an int), "numpy" (a state) or "jax" (a key).

    A JAX key seeds a new Generator, as the trainer hands a JAX function's
    generator back (so a mode changed between fits still continues from it).
    """
    if kind == "numpy":
        generator = np.random.Generator(getattr(np.random, value["bit_generator"])())
        generator.bit_generator.state = value
        return generator
    return np.random.default_rng(value.tolist() if kind == "jax" else value)


class _RBMEstimator(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """What both estimators share: validation, training through rbm.Trainer, the fitted attributes.

    The fitted attributes are the training state: before each pass they are
    written into a compiled trainer's model and read back after it. What
    else training carries on from (the sampler's generator, the momentum
    buffers, the pseudo-likelihood bit index) is kept in
    ``_training_state``, so a pickled or copied estimator continues exactly
    as the original would.
    """

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
        "batches_per_call": [Interval(numbers.Integral, 1, None, closed="left"), None],
    }

    def __init__(self, n_components: int, *, learning_rate: float, batch_size: int, n_iter: int, verbose: int,
                 random_state: int | np.random.RandomState | None, k: int, persistent: bool, momentum: float,
                 weight_decay: float, mode: str, batches_per_call: int | None) -> None:
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
        self.batches_per_call = batches_per_call

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    @property
    def _n_features_out(self):
        """Number of output features (hidden units), for get_feature_names_out."""
        return self.components_.shape[0]

    # -------------------------------------------------------------- fitting
    def fit(self, X: ArrayLike | sp.spmatrix | sp.sparray, y: None = None) -> Self:
        """Fit the model to ``X`` for ``n_iter`` passes, from new initial parameters.

        Parameters
        ----------
        X : array-like or sparse matrix (n_samples, n_features)
        y : None
            Ignored; accepted for scikit-learn's API.

        Returns
        -------
        self
        """
        self._validate_params()
        self._check_mode()  # an unknown mode (or one missing JAX) fails before anything changes
        X = self._validate_X(X, reset=True)
        self.random_state_ = check_random_state(self.random_state)
        self._start(X)
        self._train(X, self.n_iter)
        return self

    def partial_fit(self, X: ArrayLike | sp.spmatrix | sp.sparray, y: None = None) -> Self:
        """One pass over ``X``, continuing from the current state (or starting one).

        Parameters
        ----------
        X : array-like or sparse matrix (n_samples, n_features)
        y : None
            Ignored; accepted for scikit-learn's API.

        Returns
        -------
        self
        """
        first = not hasattr(self, "components_")
        if first:
            self._validate_params()
            self._check_mode()
        X = self._validate_X(X, reset=first)
        if first:
            self.random_state_ = check_random_state(self.random_state)
            self._start(X)
        self._train(X, 1)
        return self

    def _check_mode(self):
        """Refuse an unknown ``mode`` (or one whose backend is missing); "auto" picks between two installed ones."""
        if self.mode.lower() != "auto":
            backend.resolve_mode(self.mode)

    def _training_mode(self):
        """The compile mode of the next pass: ``mode``, or for "auto" what :func:`automatic_mode` picks."""
        if self.mode.lower() == "auto":
            return automatic_mode(self.batch_size, self.n_features_in_, self.n_components)
        return self.mode

    def _validate_X(self, X, reset):
        X = validate_data(self, X, accept_sparse=("csr", "csc"), dtype=(np.float64, np.float32), reset=reset)
        self._check_values(X.data if sp.issparse(X) else X)
        return X

    def _start(self, X):
        """Initial parameters as scikit-learn's: W ~ N(0, 0.01^2), zero biases and chains (plus the model's own)."""
        n_features = X.shape[1]
        self.components_ = self.random_state_.normal(0.0, 0.01, (self.n_components, n_features))
        self.intercept_hidden_ = np.zeros(self.n_components, dtype=_TRAINING_DTYPE)
        self.intercept_visible_ = np.zeros(n_features, dtype=_TRAINING_DTYPE)
        # the persistent chains' hidden states, batch_size of them as in scikit-learn (CD-k keeps none)
        self.h_samples_ = np.zeros((self.batch_size, self.n_components)) if self.persistent else None
        self.n_iter_ = 0
        # "sampler": None until the first pass, then ("numpy", a Generator's state) or ("jax", a JAX key)
        self._training_state = {"seed": int(self.random_state_.randint(np.iinfo(np.int32).max)),
                                "sampler": None, "bit_index": 0, "velocities": {}}

    def _train(self, X, n_passes):
        """``n_passes`` epochs of rbm.Trainer over ``X`` (dense), then the fitted attributes from the model."""
        if n_passes == 0:
            return
        dense = np.asarray(X.toarray() if sp.issparse(X) else X, dtype=_TRAINING_DTYPE)
        self.mode_ = self._training_mode()
        trainer, lock = self._compiled_trainer(min(self.batch_size, dense.shape[0]))
        done = []

        def after_epoch(trainer, record):
            done.append(record)
            if self.verbose:
                print(f"[{type(self).__name__}] Iteration {self.n_iter_ + len(done)}, {self._cost_name()} = "
                      f"{record['cost']:.2f}, time = {record['time']:.2f}s")

        with lock:
            self._load_state(trainer)
            try:
                # the trainer's own epoch line and progress bar stay off: the estimator prints scikit-learn's line
                trainer.fit(dense, epochs=n_passes, verbose=False, callbacks=[after_epoch])
                self._save_state(trainer)
            finally:
                # a kept trainer holds no estimator's data: the training set goes, its history too
                backend.set_shared_data(trainer._batches, np.zeros((1, trainer.batch_size, dense.shape[1])),
                                        trainer.mode)
                trainer.history.clear()
        self.n_iter_ += len(done)

    def _compiled_trainer(self, batch_size):
        """(trainer, lock) for minibatches of ``batch_size`` rows and this estimator's settings, compiled once."""
        key = (type(self), self.mode_, self.n_features_in_, self.n_components, batch_size, self.batch_size,
               float(self.learning_rate), int(self.k), bool(self.persistent), float(self.momentum),
               float(self.weight_decay), self._batches_per_call(), *sorted(self._model_kwargs().items()))
        with _COMPILED_TRAINERS_LOCK:
            if key not in _COMPILED_TRAINERS:
                # the seed is immaterial: each use sets the sampler's state (_load_state)
                model = self._model_class(n_visible=self.n_features_in_, n_hidden=self.n_components, seed=0,
                                          dtype=np.dtype(_TRAINING_DTYPE).name, **self._model_kwargs())
                trainer = Trainer(model, learning_rate=self.learning_rate, k=self.k, persistent=self.persistent,
                                  batch_size=batch_size, n_chains=self.batch_size if self.persistent else None,
                                  momentum=self.momentum, weight_decay=self.weight_decay, mode=self.mode_,
                                  batches_per_call=self._batches_per_call())
                _COMPILED_TRAINERS[key] = (trainer, threading.Lock())
                while len(_COMPILED_TRAINERS) > _MAX_COMPILED_TRAINERS:
                    _COMPILED_TRAINERS.popitem(last=False)
            _COMPILED_TRAINERS.move_to_end(key)
            return _COMPILED_TRAINERS[key]

    def _batches_per_call(self):
        """``batches_per_call``, or when None: NUMBA_BATCHES_PER_CALL with "NUMBA", the trainer's default otherwise."""
        if self.batches_per_call is None and str(self.mode_).upper() == "NUMBA":
            return NUMBA_BATCHES_PER_CALL
        return self.batches_per_call

    def _load_state(self, trainer):
        """Write the fitted attributes and ``_training_state`` into ``trainer`` and its model."""
        model, state = trainer.model, self._training_state
        model.set_params(**self._model_arrays())
        model.bit_i_idx.set_value(np.int64(state["bit_index"]))
        if trainer.persistent_chain is not None:
            backend.set_shared_data(trainer.persistent_chain, np.array(self.h_samples_), trainer.mode)
        for velocity in trainer.velocities:
            saved = state["velocities"].get(velocity.name)
            backend.set_shared_data(velocity, np.zeros(velocity.get_value(borrow=True).shape)
                                    if saved is None else np.array(saved), trainer.mode)
        kind, value = state["sampler"] or ("seed", state["seed"])
        if backend.uses_jax(trainer.mode):
            # A JAX function draws from its own copy of the generator (see backend.jax_rng_key), which exists
            # once the function is compiled: compile it now (Trainer.fit would) and give it the key.
            if kind != "jax":
                value = _numpy_generator(kind, value).integers(2 ** 32, size=2, dtype=np.uint32)
            if trainer._train_fn is None:
                trainer._build_train_fn()
            backend.set_jax_rng_key(trainer._train_fn, model.rng, value)
        else:
            model.rng.set_value(_numpy_generator(kind, value), borrow=True)

    def _save_state(self, trainer):
        """Read the fitted attributes and ``_training_state`` back from ``trainer`` after training."""
        model, state = trainer.model, self._training_state
        self._read_model(model)
        state["bit_index"] = int(model.bit_i_idx.get_value())
        if trainer.persistent_chain is not None:
            self.h_samples_ = np.array(trainer.persistent_chain.get_value(borrow=True))
        state["velocities"] = {v.name: np.array(v.get_value(borrow=True)) for v in trainer.velocities}
        if backend.uses_jax(trainer.mode):
            state["sampler"] = ("jax", np.array(backend.jax_rng_key(trainer._train_fn, model.rng)))
        else:
            state["sampler"] = ("numpy", model.rng.get_value(borrow=True).bit_generator.state)

    def _model_arrays(self):
        return {"W": self.components_.T, "hbias": self.intercept_hidden_, "vbias": self.intercept_visible_}

    def _read_model(self, model):
        params = model.get_params()
        self.components_ = np.ascontiguousarray(params["W"].T)
        self.intercept_hidden_ = params["hbias"]
        self.intercept_visible_ = params["vbias"]

    # ------------------------------------------------------------ transforms
    def transform(self, X: ArrayLike | sp.spmatrix | sp.sparray) -> np.ndarray:
        """The hidden units' probabilities p(h_j = 1 | x): the features.

        Parameters
        ----------
        X : array-like or sparse matrix (n_samples, n_features)

        Returns
        -------
        array (n_samples, n_components)
            In X's dtype.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return self._mean_hiddens(X).astype(X.dtype, copy=False)

    def _mean_hiddens(self, v):
        """p(h_j = 1 | v) for validated rows ``v`` (dense, sparse or one 1-D row), in float64."""
        v = v.astype(_TRAINING_DTYPE) if v.dtype != _TRAINING_DTYPE else v
        scaled = self._visible_layer().np_scale(v)
        return expit(safe_sparse_dot(scaled, self.components_.T) + self.intercept_hidden_)

    def _sample_hiddens(self, v, rng):
        """A binary (bool) sample of h ~ p(h | v), drawn as uniform < p with the RandomState ``rng``."""
        p = self._mean_hiddens(v)
        return rng.uniform(size=p.shape) < p

    def gibbs(self, v: ArrayLike | sp.spmatrix | sp.sparray) -> np.ndarray:
        """One Gibbs step from the visible rows ``v``: a sample of h, then of v.

        Computed in numpy with the fitted ``random_state_``.

        Parameters
        ----------
        v : array-like or sparse matrix (n_samples, n_features)

        Returns
        -------
        array (n_samples, n_features)
            The new visible sample, in v's dtype.
        """
        check_is_fitted(self)
        v = self._validate_X(v, reset=False)
        hidden = self._sample_hiddens(v, self.random_state_)
        visible = self._visible_layer().np_sample(hidden @ self.components_, self.intercept_visible_,
                                                  self.random_state_)
        return visible.astype(v.dtype)

    def _visible_layer(self):
        """The fitted model's visible layer (:mod:`rbm.layers`), bound: the estimator computes with its numpy maths."""
        return self._unbound_visible_layer().bind(self.n_features_in_, np.dtype(_TRAINING_DTYPE).name)


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
        When true, one line per pass, as scikit-learn's:
        ``[BernoulliRBM] Iteration 1, pseudo-likelihood = -25.39, time = 0.05s``
        (the pseudo-likelihood the trainer monitored during the pass; the
        reconstruction's log-likelihood when ``persistent=False``).
    random_state : int, RandomState or None
        Initial weights and the sampler's seed.
    k : int, default=1
        Gibbs steps per update (scikit-learn's is 1).
    persistent : bool, default=True
        PCD-k (as scikit-learn) or CD-k.
    momentum : float in [0, 1), default=0
    weight_decay : float >= 0, default=0
        L2 penalty on the weights.
    mode : str, default="auto"
        rbm's compile mode (:func:`rbm.backend.resolve_mode`), or "auto":
        "NUMBA" for small models, "cpu" for large ones, by the rule of
        :func:`automatic_mode` (batch_size x n_features x n_components up to
        2**18: "NUMBA"); a seed then gives exactly what the picked mode gives
        (``mode_`` names it).
    batches_per_call : int >= 1, optional
        Minibatch updates per call of the compiled step (:class:`rbm.Trainer`).
        None: 100 (``NUMBA_BATCHES_PER_CALL``) with "NUMBA", whose one
        compiled function loops over any number of minibatches, and the
        trainer's default (1 on the CPU) otherwise. The draws and their order
        do not depend on it; the arithmetic may differ in the last bit, which
        can flip a sampled unit, after which two runs drift apart (alike in
        distribution). Measured on scikit-learn's digits (1,797 x 64,
        100 components, 10 passes, "NUMBA", 2-core machine,
        ``benchmarks/bench_small.py --modes NUMBA:1 NUMBA:100``): 100 against 1
        makes every fit after a process's first 0.20 s instead of 0.43 s
        (scikit-learn: 0.15 s) and a 10 x 5 grid search 27 s instead of 35 s
        (scikit-learn: 22 s), the first fit 1.8 s instead of 1.5 s with a warm
        compile cache, and the first ever (empty cache) 40 s instead of 23 s.

    Attributes
    ----------
    components_ : array (n_components, n_features)
        The weights.
    intercept_hidden_ : array (n_components,)
    intercept_visible_ : array (n_features,)
    h_samples_ : array (batch_size, n_components) or None
        The persistent chains' hidden states (None with ``persistent=False``).
    n_features_in_ : int
    n_iter_ : int
        Passes over the data so far.
    random_state_ : RandomState
    mode_ : str
        The compile mode the last pass trained with (``mode``, or what "auto" picked).

    Notes
    -----
    X holds values in [0, 1] (probabilities or binary). Negative values are
    refused; values above 1 are used as given, as scikit-learn's
    ``BernoulliRBM`` does, with a warning (scale X first, e.g. with
    ``MinMaxScaler``). Training runs in float64 whatever X's dtype, so a
    float32 and a float64 copy of the same X give the same model, and the
    fitted arrays are float64; ``transform`` returns X's dtype. Fits with
    the same settings and data width reuse one compiled training function
    (e.g. in ``GridSearchCV``); a pickled estimator continues training
    exactly where the original would. The estimator is a scikit-learn transformer, so
    ``fit_transform``, ``get_params``, ``set_params``, ``set_output`` and
    ``get_feature_names_out`` are scikit-learn's.

    Examples
    --------
    >>> import numpy as np
    >>> from rbm.estimators import BernoulliRBM
    >>> X = (np.random.default_rng(0).random((40, 6)) < 0.5).astype(float)
    >>> estimator = BernoulliRBM(n_components=3, n_iter=2, random_state=0).fit(X)
    >>> estimator.transform(X[:2]).shape, estimator.components_.shape
    ((2, 3), (3, 6))
    """

    _model_class = _NonNegativeRBM

    def __init__(self, n_components: int = 256, *, learning_rate: float = 0.1, batch_size: int = 10, n_iter: int = 10,
                 verbose: int = 0, random_state: int | np.random.RandomState | None = None, k: int = 1,
                 persistent: bool = True, momentum: float = 0.0, weight_decay: float = 0.0,
                 mode: str = "auto", batches_per_call: int | None = None) -> None:
        super().__init__(n_components, learning_rate=learning_rate, batch_size=batch_size, n_iter=n_iter,
                         verbose=verbose, random_state=random_state, k=k, persistent=persistent, momentum=momentum,
                         weight_decay=weight_decay, mode=mode, batches_per_call=batches_per_call)

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
        """The model's settings beyond its size, part of the compiled graph (none for the binary RBM)."""
        return {}

    def _cost_name(self):
        """What the trainer monitors: the pseudo-likelihood with persistent chains, else the reconstruction's."""
        return "pseudo-likelihood" if self.persistent else "reconstruction log-likelihood"

    @staticmethod
    def _unbound_visible_layer():
        return layers.Bernoulli()

    def score_samples(self, X):
        """Pseudo-log-likelihood of each row: sum_i log p(x_i | x_(-i)) = sum_i log sigmoid(F(x^i) - F(x)).

        x^i is x with feature i flipped. scikit-learn's ``BernoulliRBM``
        returns n_features times this term for one feature drawn at random,
        an unbiased estimate of the same sum; here every feature is summed, so
        a row's score depends on that row alone (and is exact).

        Parameters
        ----------
        X : array-like or sparse matrix (n_samples, n_features)

        Returns
        -------
        array (n_samples,) of float64
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

    ``score_samples`` is the unnormalised log-density -F(x) (log p(x) up to
    the constant log Z, see :mod:`rbm.evaluation`).

    Parameters
    ----------
    n_components : int, default=256
        Number of hidden units.
    learning_rate : float, default=0.01
        Lower than :class:`BernoulliRBM`'s, as real-valued visible units need.
    batch_size, n_iter, verbose, random_state, k, persistent, momentum, weight_decay, mode, batches_per_call
        As for :class:`BernoulliRBM`.
    sigma : float or array (n_features,) > 0, default=1.0
        The visible units' standard deviations.
    learn_sigma : bool, default=False
        Learn sigma too (through log sigma).

    Attributes
    ----------
    components_, intercept_hidden_, intercept_visible_, h_samples_, n_features_in_, n_iter_, random_state_, mode_
        As for :class:`BernoulliRBM` (its verbose line reports the mean squared
        reconstruction error).
    sigma_ : array (n_features,)
        The visible units' standard deviations, learnt or not.
    """

    _model_class = GaussianModel
    _parameter_constraints = {
        **_RBMEstimator._parameter_constraints,
        "sigma": [Interval(numbers.Real, 0, None, closed="neither"), "array-like"],
        "learn_sigma": ["boolean"],
    }

    def __init__(self, n_components: int = 256, *, learning_rate: float = 0.01, batch_size: int = 10,
                 n_iter: int = 10, verbose: int = 0, random_state: int | np.random.RandomState | None = None,
                 k: int = 1, persistent: bool = True, momentum: float = 0.0, weight_decay: float = 0.0,
                 mode: str = "auto", sigma: float | ArrayLike = 1.0, learn_sigma: bool = False,
                 batches_per_call: int | None = None) -> None:
        super().__init__(n_components, learning_rate=learning_rate, batch_size=batch_size, n_iter=n_iter,
                         verbose=verbose, random_state=random_state, k=k, persistent=persistent, momentum=momentum,
                         weight_decay=weight_decay, mode=mode, batches_per_call=batches_per_call)
        self.sigma = sigma
        self.learn_sigma = learn_sigma

    @staticmethod
    def _check_values(values):
        """validate_data has refused NaN and infinity; any finite value is a valid Gaussian unit."""

    def _start(self, X):
        super()._start(X)
        self.sigma_ = GaussianModel._check_sigma(self.sigma, X.shape[1]).astype(_TRAINING_DTYPE)

    def _model_kwargs(self):
        # sigma itself is a value the trainer's model is given before each use (_model_arrays)
        return {"learn_sigma": self.learn_sigma}

    @staticmethod
    def _cost_name():
        return "reconstruction error"

    def _model_arrays(self):
        return {**super()._model_arrays(), "sigma": self.sigma_}

    def _read_model(self, model):
        super()._read_model(model)
        self.sigma_ = model.get_sigma()

    def _unbound_visible_layer(self):
        return layers.Gaussian(sigma=self.sigma_)

    def score_samples(self, X):
        """-F(x) per row: the log-density up to the model's constant log Z.

        Parameters
        ----------
        X : array-like or sparse matrix (n_samples, n_features)

        Returns
        -------
        array (n_samples,) of float64
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        dense = np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float64)
        return -self._visible_layer().np_free_energy(dense, self.components_.T, self.intercept_hidden_,
                                                     self.intercept_visible_)
