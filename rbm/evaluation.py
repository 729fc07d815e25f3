"""How good is an RBM as a density model: log Z exactly or by AIS, and mean log p(v).

For an RBM with weights W, hidden biases c and visible biases b,
log p(v) = -F(v) - log Z with F(v) = -v.b - sum_j softplus((v W + c)_j).
Z sums exp(-F) over all 2^n_visible binary vectors, so it is computed exactly
only for small models (:func:`exact_log_partition`) and otherwise estimated by
Annealed Importance Sampling (Salakhutdinov & Murray, "On the quantitative
analysis of deep belief networks", ICML 2008): :func:`ais_log_partition`,
whose log-likelihood errs high, and bracketed from below by reverse AIS
(RAISE): :func:`raise_log_likelihood`.

The public functions that take a model dispatch on its class
(``functools.singledispatch``): the code here is the :class:`rbm.RBM`
implementation (a :class:`rbm.GaussianBernoulliRBM` too), and
:mod:`rbm.dbm_evaluation` registers the :class:`rbm.DBM` one when this module
is imported, so ``exact_log_partition(dbm)``, ``ais_log_partition(dbm, ...)``,
``raise_log_likelihood(dbm, ...)``, ``free_energy(dbm, ...)`` and
``mean_log_likelihood(dbm, ...)`` work alike. A model of a kind nobody
registered gets a ``TypeError`` naming its kind.
"""
import collections
import functools
import time

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import logsumexp

from . import backend
from ._compat import DeprecatedFloat, keyword_only
from .backend import pt, ptr
from .models import RBM
from .validation import check_array, check_positive_int, check_seed

__all__ = ["MAX_EXACT_UNITS", "AISResult", "ExactResult", "RAISEResult", "default_betas", "exact_log_partition",
           "ais_log_partition", "raise_log_likelihood", "free_energy", "mean_log_likelihood",
           "LikelihoodTracker"]

#: exact_log_partition enumerates 2^k states of the smaller layer, k at most this.
MAX_EXACT_UNITS = 25
_STATES_PER_BATCH = 1 << 14

AISResult = collections.namedtuple(
    "AISResult", ["log_z", "log_z_low", "log_z_high", "n_runs", "n_betas", "log_z_base", "seconds"])
AISResult.__doc__ = """What :func:`ais_log_partition` returns: an estimate of log Z and its interval.

Parameters
----------
log_z : float
    log of the mean importance weight times the base model's Z.
log_z_low, log_z_high : float
    log(mean w -+ 3 standard errors of the mean), scaled as log_z: the
    +-3 standard deviation interval of Z, in log space (log_z_low is -inf
    when the lower end is not positive, i.e. the weights vary wildly).
n_runs : int
    Annealing runs.
n_betas : int
    Inverse temperatures, 0 and 1 included.
log_z_base : float
    log Z of the base model the runs start from.
seconds : float
    Wall time, compilation included.
"""


class ExactResult(DeprecatedFloat, collections.namedtuple(
        "ExactResult", ["log_z", "log_z_low", "log_z_high", "n_states", "seconds"])):
    """What :func:`exact_log_partition` returns: log Z, with the first fields of :class:`AISResult`.

    Code that reads an AIS estimate (``result.log_z`` and its interval)
    reads an exact value alike: the interval is the point itself.

    Parameters
    ----------
    log_z : float
        The exact log partition function.
    log_z_low, log_z_high : float
        Both equal to log_z.
    n_states : int
        States enumerated (2^k).
    seconds : float
        Wall time.

    Notes
    -----
    :func:`exact_log_partition` returned a float before; using the result
    as a number (``float(result)``, arithmetic, numpy) still works, with a
    ``DeprecationWarning`` pointing to ``result.log_z``.
    """

    __slots__ = ()
    _float_advice = "exact_log_partition(model).log_z"


def _exact_result(log_z, n_states, started):
    return ExactResult(log_z, log_z, log_z, n_states, time.perf_counter() - started)


def _check_model(model):
    """(W, hbias, vbias) of an rbm.RBM (any visible layer) in float64."""
    if not isinstance(model, RBM):
        raise TypeError(f"model must be an rbm.RBM, got {type(model).__name__}")
    return [np.asarray(p.get_value(borrow=True), dtype=np.float64) for p in (model.W, model.hbias, model.vbias)]


def _dispatch_on_model(rbm_implementation):
    """Make ``rbm_implementation`` the rbm.RBM case of a function dispatching on its ``model`` argument's class.

    A ``functools.singledispatch`` registry picks the implementation for the
    model's class (the first positional argument, or ``model=``); other
    modules add theirs with ``function.register(ModelClass, implementation)``
    (:mod:`rbm.dbm_evaluation` does for :class:`rbm.DBM`). The public
    function keeps the RBM implementation's name, signature and docstring; a
    model of a kind without an implementation gets a ``TypeError`` naming its
    kind and the kinds that have one. Apply ``rbm._compat.keyword_only``
    outside this (it copies ``register``), so that its warnings point at the
    caller's line.
    """
    name = rbm_implementation.__name__

    def refuse(*args, **kwargs):
        model = args[0] if args else kwargs.get("model")
        kinds = " or ".join(f"{kind.__module__.partition('.')[0]}.{kind.__name__}"
                            for kind in chooser.registry if kind is not object)
        raise TypeError(f"{name}() takes a model of kind {kinds} (or a subclass), got a {type(model).__name__}")

    chooser = functools.singledispatch(refuse)
    chooser.register(RBM, rbm_implementation)

    @functools.wraps(rbm_implementation)
    def dispatcher(*args, **kwargs):
        # singledispatch's own wrapper reads the first positional argument only; model= works here too
        model = args[0] if args else kwargs.get("model")
        return chooser.dispatch(type(model))(*args, **kwargs)

    dispatcher.register, dispatcher.dispatch, dispatcher.registry = chooser.register, chooser.dispatch, chooser.registry
    return dispatcher


@_dispatch_on_model
def free_energy(model: RBM, data: ArrayLike) -> np.ndarray:
    """F(v) for each row of ``data``, in float64, computed in numpy from the model's parameters.

    F(v) = e(v) - sum_j softplus((s(v) W + c)_j) with the visible layer's
    energy term e and scaling s (:mod:`rbm.layers`): binary and categorical
    units -v.b - sum_j softplus((v W + c)_j); Gaussian visible units
    sum_i (v_i - b_i)^2 / (2 sigma_i^2) - sum_j softplus(((v / sigma) W + c)_j).

    Parameters
    ----------
    model : RBM or GaussianBernoulliRBM
        (A :class:`rbm.DBM` goes to :func:`rbm.dbm_evaluation.free_energy`.)
    data : array (n, n_visible)
        Rows the model accepts (:meth:`rbm.RBM.check_data`).

    Returns
    -------
    array (n,) of float64
        The free energy of each row; log p(v) = -F(v) - log Z.

    Examples
    --------
    >>> import numpy as np
    >>> import rbm
    >>> from rbm import evaluation
    >>> model = rbm.RBM(n_visible=3, n_hidden=2, W=np.zeros((3, 2)), vbias=[1.0, 0.0, 0.0])
    >>> evaluation.free_energy(model, [[1, 0, 0], [0, 0, 0]]).round(4)  # -v.b - 2 log 2
    array([-2.3863, -1.3863])
    """
    W, hbias, vbias = _check_model(model)
    data = model.check_data(data).astype(np.float64)
    return model.visible.np_free_energy(data, W, hbias, vbias)


def _binary_states(start, stop, n_bits):
    """Rows start..stop-1 of the table of all n_bits-bit binary vectors."""
    return ((np.arange(start, stop)[:, None] >> np.arange(n_bits)) & 1).astype(np.float64)


def _complete_rows(model, data, name="data"):
    """``data`` checked, refusing rows with missing values: their -F(v) - log Z is not a log-probability."""
    data = model.check_data(data, name)
    if model.visible.group_size > 1:
        per_group = np.asarray(data).reshape(len(data), model.n_visible, -1).sum(axis=2)
        if np.any(per_group == 0):
            row = int(np.argwhere(per_group == 0)[0, 0])
            raise ValueError(f"{name} row {row} has missing values: log p(v) is defined here for complete rows "
                             "(a row's free energy with missing values is that of its own smaller model)")
    return data


@_dispatch_on_model
def exact_log_partition(model: RBM) -> ExactResult:
    """log Z by enumerating the states of the smaller layer (at most 2^:data:`MAX_EXACT_UNITS` of them).

    Summing the other layer out analytically leaves, for hidden states h,
    log Z = logsumexp_h [h.c + L(W h)], where L sums or integrates the
    visible layer out (:meth:`rbm.layers.Layer.log_partition_given_input`:
    sum_i softplus((W h + b)_i) for binary units, a sum of log-sum-exps over
    each group for categorical ones, a Gaussian integral for Gaussian ones);
    for visible states v, log Z = logsumexp_v [-e(v) + sum_j softplus((s(v) W
    + c)_j)]. The layer with fewer states is enumerated (the hidden one for
    Gaussian visible units), in batches, with log-sum-exp in float64.

    Parameters
    ----------
    model : RBM or GaussianBernoulliRBM
        A small model: the smaller layer's states (2^n_hidden hidden states,
        2^n_visible binary or K^n_visible categorical visible states) at most
        2^:data:`MAX_EXACT_UNITS`. (A :class:`rbm.DBM` goes to
        :func:`rbm.dbm_evaluation.exact_log_partition`.)

    Returns
    -------
    ExactResult
        ``log_z``, the exact log partition function, as an
        :class:`AISResult` holds its estimate.

    Raises
    ------
    ValueError
        When the model is too large to enumerate (use :func:`ais_log_partition`).

    Examples
    --------
    A model without weights has Z = 2^n_visible 2^n_hidden:

    >>> import math
    >>> import numpy as np
    >>> import rbm
    >>> from rbm import evaluation
    >>> model = rbm.RBM(n_visible=4, n_hidden=2, W=np.zeros((4, 2)))
    >>> round(evaluation.exact_log_partition(model).log_z, 6), round(6 * math.log(2), 6)
    (4.158883, 4.158883)
    """
    started = time.perf_counter()
    W, hbias, vbias = _check_model(model)
    visible = model.visible
    n_hidden_states, n_visible_states = 2 ** model.n_hidden, visible.n_states()
    if min(n_hidden_states, n_visible_states) > 2 ** MAX_EXACT_UNITS:
        raise ValueError(
            f"exact log Z enumerates the states of the smaller layer; this model's has {min(n_hidden_states, n_visible_states)} "
            f"(visible: {n_visible_states}, hidden: 2^{model.n_hidden}), more than the limit of 2^{MAX_EXACT_UNITS}: "
            "use ais_log_partition")
    partial = []
    if n_hidden_states <= n_visible_states:
        for start in range(0, n_hidden_states, _STATES_PER_BATCH):
            h = _binary_states(start, min(start + _STATES_PER_BATCH, n_hidden_states), model.n_hidden)
            partial.append(logsumexp(h @ hbias + visible.log_partition_given_input(h @ W.T, vbias)))
        return _exact_result(float(logsumexp(partial)), n_hidden_states, started)
    for start in range(0, n_visible_states, _STATES_PER_BATCH):
        v = visible.states(start, min(start + _STATES_PER_BATCH, n_visible_states))
        partial.append(logsumexp(-visible.np_free_energy(v, W, hbias, vbias)))
    return _exact_result(float(logsumexp(partial)), n_visible_states, started)


def default_betas() -> np.ndarray:
    """The inverse temperatures of Salakhutdinov & Murray (2008): 0 to 0.5 by 1e-3, to 0.9 by 1e-4, to 1 by 1e-5.

    Returns
    -------
    array (14501,) of float64
        Increasing from exactly 0 to exactly 1.

    Examples
    --------
    >>> from rbm.evaluation import default_betas
    >>> betas = default_betas()
    >>> len(betas), betas[0], betas[-1]
    (14501, np.float64(0.0), np.float64(1.0))
    """
    return np.concatenate([np.linspace(0.0, 0.5, 501)[:-1], np.linspace(0.5, 0.9, 4001)[:-1],
                           np.linspace(0.9, 1.0, 10001)])


def _check_betas(betas):
    betas = check_array(betas, "betas", ndim=1).astype(np.float64)
    if len(betas) < 2 or betas[0] != 0.0 or betas[-1] != 1.0 or np.any(np.diff(betas) <= 0):
        raise ValueError("betas must increase strictly from exactly 0 to exactly 1 (at least 2 values)")
    return betas


def _annealing_function(model, base_bias, n_steps, seed, mode, reverse=False):
    """Compile an annealing loop: (v0, betas) -> log importance weights (float64, one per row of v0).

    Intermediate model k has unnormalised log-probability
    f_k(v) = (1 - beta_k) v.b_A + beta_k v.b + sum_j softplus(beta_k (v W + c)_j),
    the base model A (beta = 0) having visible biases b_A and no weights; for
    Gaussian visible units the base model keeps b and sigma and drops W and c,
    so f_k(v) = -sum_i (v_i - b_i)^2 / (2 sigma_i^2) + sum_j softplus(beta_k ((v / sigma) W + c)_j).
    Forward (AIS), step k adds f_{k+1}(v) - f_k(v) to the log weight, then
    moves v by one Gibbs step that leaves model k + 1 invariant. Reverse
    (RAISE, ``betas`` running from 1 down to 0), step k first moves v by a
    Gibbs step of model k, then adds f_{k+1}(v) - f_k(v): the importance
    weight of the reversed chain (a Gibbs step v -> h -> v is reversible).
    """
    dtype = model.dtype
    rng = backend.shared_rng(seed, name="annealing_rng")
    # a shared value, not a constant: the compiled loop then serves every model of the structure
    base = backend.shared(base_bias, "annealing_base_bias", dtype)
    name = "raise" if reverse else "ais"
    return backend.compiled_for_model((name, n_steps), model, mode, {"base bias": base, "generator": rng},
                                      lambda: _compile_annealing(model, base, rng, n_steps, mode, reverse))


def _compile_annealing(model, base, rng, n_steps, mode, reverse):
    """Build and compile the loop of :func:`_annealing_function` on the shared ``base`` biases and ``rng``."""
    dtype = model.dtype
    v_start = pt.matrix("v_start", dtype=dtype)
    betas = pt.vector("betas", dtype="float64")
    visible = model.visible

    def hidden_activation(v):
        return pt.dot(visible.scale(v), model.W) + model.hbias

    def log_f_difference(v, beta, previous_beta):
        """f_beta(v) - f_previous_beta(v), in float64."""
        activation64 = pt.cast(hidden_activation(v), "float64")
        difference = pt.sum(pt.softplus(beta * activation64) - pt.softplus(previous_beta * activation64), axis=1)
        return difference + visible.log_f_visible_difference(pt.cast(v, "float64"), beta, previous_beta,
                                                             pt.cast(model.vbias, "float64"), pt.cast(base, "float64"))

    def gibbs_move(v, beta, rng):
        """v -> h -> v' under the intermediate model at ``beta``; returns (v', rng)."""
        beta_model = pt.cast(beta, dtype)
        h_mean = pt.sigmoid(beta_model * hidden_activation(v))
        rng, h_uniform = ptr.uniform(size=h_mean.shape, dtype=dtype, rng=rng, return_next_rng=True)
        h = pt.cast(pt.lt(h_uniform, h_mean), dtype)
        threaded = [rng]

        def draw(distribution):
            def draws(shape):
                threaded[0], values = distribution(size=shape, dtype=dtype, rng=threaded[0], return_next_rng=True)
                return values
            return draws

        v_mean = visible.mean(visible.annealed_activation(pt.dot(h, model.W.T), model.vbias, base, beta_model))
        v = visible.sample(v_mean, draw(ptr.uniform), draw(ptr.normal))
        return v, threaded[0]

    def step(k, v, log_w, rng):
        # betas is indexed by a step counter rather than iterated as a scan
        # sequence: PyTensor's JAX backend cannot trace sliced sequences here.
        beta, previous_beta = betas[k + 1], betas[k]
        if reverse:
            v, rng = gibbs_move(v, previous_beta, rng)
            return k + 1, v, log_w + log_f_difference(v, beta, previous_beta), rng
        log_w = log_w + log_f_difference(v, beta, previous_beta)
        v, rng = gibbs_move(v, beta, rng)
        return k + 1, v, log_w, rng

    _, _, log_weights, rng_end = backend.pytensor.scan(
        step,
        n_steps=n_steps,
        outputs_info=[pt.constant(np.int64(0)), v_start, pt.zeros((v_start.shape[0],), dtype="float64"), rng],
        name="raise" if reverse else "ais",
        return_updates=False,
    )
    return backend.compile_function([v_start, betas], log_weights[-1], updates={rng: rng_end},
                                    mode=mode, name="raise" if reverse else "ais")


def _base_model(model, base_rate):
    """(visible biases b_A of the base model, its log Z) for :func:`ais_log_partition` and :func:`raise_log_likelihood`.

    The visible layer states its base model (:mod:`rbm.layers`); the
    hidden units of the base model are free, adding n_hidden log 2.
    """
    base_rate = None if base_rate is None else model.check_data(base_rate, "base_rate")
    base_bias = model.visible.base_bias_from_data(base_rate)
    return base_bias, model.visible.base_log_partition(base_bias) + model.n_hidden * np.log(2.0)


@keyword_only("n_runs", "betas", "base_rate", "seed", "mode")  # the old positional order (any model kind)
@_dispatch_on_model
def ais_log_partition(model: RBM, *, n_runs: int = 100, betas: ArrayLike | None = None,
                      base_rate: ArrayLike | None = None, seed: int | None = None, mode: str = "cpu") -> AISResult:
    """Estimate log Z by Annealed Importance Sampling from a base-rate model.

    The base model has independent visible units with biases
    log(p / (1 - p)) from the data marginals of ``base_rate``, or zero biases
    when it is None; its log partition function is
    sum_i softplus(b_A,i) + n_hidden log 2. A :class:`rbm.GaussianBernoulliRBM`
    anneals from its own visible Gaussians instead. ``n_runs`` chains anneal
    through ``betas`` in one compiled ``scan``; importance weights accumulate
    in float64. By Jensen's inequality the estimate of log Z errs low, so the
    log-likelihood computed from it (:func:`mean_log_likelihood`) errs high;
    :func:`raise_log_likelihood` gives the other side.

    Parameters
    ----------
    model : RBM or GaussianBernoulliRBM
        (A :class:`rbm.DBM` goes to :func:`rbm.dbm_evaluation.ais_log_partition`.)
    n_runs : int >= 2, default 100
        Independent annealing runs.
    betas : array, optional
        Inverse temperatures increasing strictly from exactly 0 to exactly 1;
        :func:`default_betas` (14,501 of them) by default.
    base_rate : array (n, n_visible), optional
        Training rows whose per-unit means set the base model's biases (a
        much better start than zero biases for MNIST). None for Gaussian
        visible units.
    seed : int, optional
        Seeds the base model's samples and the annealing's draws.
    mode : str, default "cpu"
        Compile mode (:func:`rbm.backend.resolve_mode`).

    Returns
    -------
    AISResult
        ``log_z`` and its interval log(mean w +- 3 standard errors), computed
        on weights scaled by their maximum.

    Examples
    --------
    On a model small enough to enumerate, AIS agrees with the exact value:

    >>> import numpy as np
    >>> import rbm
    >>> from rbm import evaluation
    >>> model = rbm.RBM(n_visible=6, n_hidden=3, numpy_rng=0, seed=0)
    >>> exact = evaluation.exact_log_partition(model).log_z
    >>> ais = evaluation.ais_log_partition(model, n_runs=100, betas=np.linspace(0, 1, 500), seed=0)
    >>> round(exact, 2), abs(ais.log_z - exact) < 0.05, ais.log_z_low < ais.log_z < ais.log_z_high
    (10.67, True, True)
    """
    _check_model(model)
    n_runs = check_positive_int(n_runs, "n_runs", minimum=2)
    betas = default_betas() if betas is None else _check_betas(betas)
    seed = check_seed(seed)
    backend.resolve_mode(mode)
    base_bias, log_z_base = _base_model(model, base_rate)
    start = time.perf_counter()
    generator = np.random.default_rng(seed)
    vbias = _check_model(model)[2]
    v_start = model.visible.sample_base(base_bias, vbias, n_runs, generator).astype(model.dtype)
    anneal = _annealing_function(model, base_bias, len(betas) - 1, None if seed is None else seed + 1, mode)
    log_weights = np.asarray(anneal(v_start, betas), dtype=np.float64)
    shift = log_weights.max()
    weights = np.exp(log_weights - shift)
    mean = weights.mean()
    three_standard_errors = 3 * weights.std(ddof=1) / np.sqrt(n_runs)
    offset = log_z_base + shift
    return AISResult(
        log_z=float(offset + np.log(mean)),
        log_z_low=float(offset + np.log(mean - three_standard_errors)) if mean > three_standard_errors
        else float("-inf"),
        log_z_high=float(offset + np.log(mean + three_standard_errors)),
        n_runs=n_runs, n_betas=len(betas), log_z_base=log_z_base,
        seconds=time.perf_counter() - start)


RAISEResult = collections.namedtuple(
    "RAISEResult", ["log_likelihood", "standard_error", "per_row", "n_runs", "n_betas", "seconds"])
RAISEResult.__doc__ = """What :func:`raise_log_likelihood` returns: the conservative estimate of mean log p(v).

Parameters
----------
log_likelihood : float
    Mean over the rows of each row's estimate.
standard_error : float
    Standard error of that mean over the rows (NaN for one row).
per_row : array (n_rows,)
    Each row's estimate of log p(v).
n_runs : int
    Annealing runs per row.
n_betas : int
    Inverse temperatures, 0 and 1 included.
seconds : float
    Wall time, compilation included.
"""


@keyword_only("n_runs", "betas", "base_rate", "seed", "mode")  # the old positional order (any model kind)
@_dispatch_on_model
def raise_log_likelihood(model: RBM, data: ArrayLike, *, n_runs: int = 1, betas: ArrayLike | None = None,
                         base_rate: ArrayLike | None = None, seed: int | None = None,
                         mode: str = "cpu") -> RAISEResult:
    """A conservative estimate of mean log p(v) over ``data``: reverse AIS (RAISE).

    Burda, Grosse & Salakhutdinov, "Accurate and conservative estimates of
    MRF log-likelihood using reverse annealing", AISTATS 2015. For each row
    v, ``n_runs`` chains start *at v* and anneal from the model (beta = 1)
    down to the base model of :func:`ais_log_partition` (same ``betas``,
    reversed; same ``base_rate``), one Gibbs step per temperature. With
    f_k as there and x_k the chain's state after the step at beta_(k+1),
    w = exp(f_K(v) - log Z_A + sum_k [f_k(x_k) - f_(k+1)(x_k)]) is an unbiased
    estimate of p_ann(v), the probability that forward annealing ends at v;
    log(mean of w) therefore errs low in expectation (Jensen), and p_ann
    approaches p as the temperatures get finer. AIS's log Z errs low, so
    its log-likelihood errs high: the two bracket log p(v).

    Costs n_rows x n_runs chains over all temperatures: use a subset of
    rows for a large test set.

    Parameters
    ----------
    model : RBM or GaussianBernoulliRBM
        (A :class:`rbm.DBM` goes to :func:`rbm.dbm_evaluation.raise_log_likelihood`.)
    data : array (n_rows, n_visible)
        The rows whose log-likelihood is estimated (e.g. a few hundred test rows).
    n_runs : int >= 1, default 1
        Annealing runs per row.
    betas : array, optional
        As for :func:`ais_log_partition` (run in reverse); :func:`default_betas`
        by default.
    base_rate : array (n, n_visible), optional
        As for :func:`ais_log_partition`; use the same for both.
    seed : int, optional
        Seeds the annealing's draws.
    mode : str, default "cpu"
        Compile mode (:func:`rbm.backend.resolve_mode`).

    Returns
    -------
    RAISEResult
        Mean, standard error and per-row estimates of log p(v).
    """
    _check_model(model)
    data = _complete_rows(model, data)
    n_runs = check_positive_int(n_runs, "n_runs")
    betas = default_betas() if betas is None else _check_betas(betas)
    seed = check_seed(seed)
    backend.resolve_mode(mode)
    base_bias, log_z_base = _base_model(model, base_rate)
    start = time.perf_counter()
    anneal = _annealing_function(model, base_bias, len(betas) - 1, seed, mode, reverse=True)
    v_start = np.repeat(backend.as_floatx(data, model.dtype), n_runs, axis=0)
    log_weights = np.asarray(anneal(v_start, betas[::-1].copy()), dtype=np.float64).reshape(len(data), n_runs)
    per_row = -free_energy(model, data) - log_z_base + logsumexp(log_weights, axis=1) - np.log(n_runs)
    standard_error = float(per_row.std(ddof=1) / np.sqrt(len(per_row))) if len(per_row) > 1 else float("nan")
    return RAISEResult(log_likelihood=float(per_row.mean()), standard_error=standard_error, per_row=per_row,
                       n_runs=n_runs, n_betas=len(betas), seconds=time.perf_counter() - start)


@_dispatch_on_model
def mean_log_likelihood(model: RBM, data: ArrayLike, log_z: float | ExactResult | AISResult) -> float:
    """Average log p(v) = -F(v) - log Z over the rows of ``data``.

    Parameters
    ----------
    model : RBM or GaussianBernoulliRBM
        (A :class:`rbm.DBM` goes to :func:`rbm.dbm_evaluation.mean_log_likelihood`.)
    data : array (n, n_visible)
        Binary rows for an :class:`rbm.RBM` (log p(v) is a probability only
        for binary v); real-valued rows for a Gaussian-Bernoulli RBM, whose
        result is a log-density.
    log_z : float, ExactResult or AISResult
        The model's log partition function: a number, or the result of
        :func:`exact_log_partition` or :func:`ais_log_partition` (whose
        ``log_z`` is used).

    Returns
    -------
    float
        The mean log-likelihood in nats.

    Examples
    --------
    A model without weights or biases gives every binary vector the same
    probability, 2^-n_visible:

    >>> import math
    >>> import numpy as np
    >>> import rbm
    >>> from rbm import evaluation
    >>> model = rbm.RBM(n_visible=4, n_hidden=2, W=np.zeros((4, 2)))
    >>> log_z = evaluation.exact_log_partition(model)
    >>> round(evaluation.mean_log_likelihood(model, [[1, 0, 1, 1]], log_z), 6), round(-4 * math.log(2), 6)
    (-2.772589, -2.772589)
    """
    log_z = float(getattr(log_z, "log_z", log_z))
    if not np.isfinite(log_z):
        raise ValueError(f"log_z must be finite, got {log_z}")
    return float(np.mean(-free_energy(model, _complete_rows(model, data))) - log_z)


class LikelihoodTracker:
    """A :meth:`rbm.Trainer.fit` callback: a cheap AIS estimate of mean log p(data) every ``every`` epochs.

    After epochs every-1, 2 every-1, ... (and the last one it sees, when
    ``fit`` passes ``epochs=``-many as ``last_epoch``), it runs
    :func:`ais_log_partition` with ``n_runs`` runs over ``n_betas`` evenly
    spaced temperatures (far fewer than a final estimate uses, so it errs
    high by more) and stores ``log_likelihood`` and ``log_z`` in that epoch's
    history record. Costs one compiled AIS function per call: a few seconds
    for MNIST-sized models, besides the runs.

    Parameters
    ----------
    data : array (n, n_visible)
        The rows whose mean log-likelihood is tracked (e.g. the test set).
    every : int >= 1, default 10
        Estimate after every ``every``-th epoch.
    n_runs : int >= 2, default 100
        AIS runs per estimate.
    n_betas : int >= 2, default 1000
        Evenly spaced inverse temperatures per run.
    base_rate : array (n, n_visible), optional
        Passed on to :func:`ais_log_partition`.
    seed : int, default 0
        Seeds each estimate's AIS (the same seed every time).
    mode : str, optional
        Compile mode; the trainer's when None.
    last_epoch : int, optional
        Also estimate after this epoch (pass ``epochs - 1`` to track the end).
    """

    @keyword_only("every", "n_runs", "n_betas", "base_rate", "seed", "mode", "last_epoch")  # the old order
    def __init__(self, data: ArrayLike, *, every: int = 10, n_runs: int = 100, n_betas: int = 1000,
                 base_rate: ArrayLike | None = None, seed: int = 0, mode: str | None = None,
                 last_epoch: int | None = None) -> None:
        self.data = check_array(data, "data", ndim=2)
        self.every = check_positive_int(every, "every")
        self.n_runs = check_positive_int(n_runs, "n_runs", minimum=2)
        self.betas = np.linspace(0.0, 1.0, check_positive_int(n_betas, "n_betas", minimum=2))
        self.base_rate = base_rate
        self.seed = check_seed(seed)
        self.mode = mode
        self.last_epoch = last_epoch

    def __call__(self, trainer, record: dict) -> bool:
        epoch = record["epoch"]
        if (epoch + 1) % self.every and epoch != self.last_epoch:
            return False
        result = ais_log_partition(trainer.model, n_runs=self.n_runs, betas=self.betas, base_rate=self.base_rate,
                                   seed=self.seed, mode=self.mode or trainer.mode)
        record["log_z"] = result.log_z
        record["log_likelihood"] = mean_log_likelihood(trainer.model, self.data, result.log_z)
        return False


# The DBM implementations register themselves on the functions above (rbm.dbm_evaluation imports this module;
# importing it last lets either module be imported first).
from . import dbm_evaluation as _dbm_evaluation  # noqa: E402,F401
