"""How good is a Deep Boltzmann Machine as a density model: log Z, log p(v) and the mean-field bound.

Given the states of one parity of layers (odd: 1, 3, ...; even: 0, 2, ...),
the layers of the other parity are independent rows of units, so they sum
out analytically: with the odd layers' states x fixed,

    log sum_(even layers) exp(-E) = sum_(k odd) b_k . x_k + sum_(k even) sum_j softplus(a_kj),

a_k = b_k + x_(k-1) W_(k-1) + x_(k+1) W_k^T. :func:`exact_log_partition` and
:func:`exact_log_likelihood` enumerate the smaller parity that way (small
models only); :func:`ais_log_partition` anneals with the odd layers as the
sampled state and the even layers summed out, as Salakhutdinov & Hinton
(2009) do; :func:`mean_field_bound` gives the variational lower bound on
log p(v) that, with AIS's log Z, is the figure DBM papers report, and
:func:`raise_log_likelihood` a conservative estimate of log p(v) by reverse
annealing from the mean-field posterior (Burda, Grosse & Salakhutdinov 2015);
:func:`free_energy` and :func:`mean_log_likelihood` enumerate, for small models.

Importing this module (which importing :mod:`rbm.evaluation` does) registers
these functions as the DBM forms of :mod:`rbm.evaluation`'s
``exact_log_partition``, ``ais_log_partition``, ``raise_log_likelihood``,
``free_energy`` and ``mean_log_likelihood``.
"""
import collections
import time

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import entr, logsumexp

from . import backend, evaluation
from .backend import pt, ptr
from .evaluation import MAX_EXACT_UNITS, AISResult, ExactResult, RAISEResult, _check_betas, default_betas
from .models.dbm import DBM, parity_layers
from .models.rbm import visible_bias_from_data
from .validation import check_data, check_positive_int, check_seed

__all__ = ["ExactLikelihoodResult", "MeanFieldBoundResult", "exact_log_partition", "exact_log_likelihood",
           "free_energy", "mean_log_likelihood", "ais_log_partition", "raise_log_likelihood", "mean_field_bound"]

_STATES_PER_BATCH = 1 << 12

ExactLikelihoodResult = collections.namedtuple(
    "ExactLikelihoodResult", ["log_likelihood", "per_row", "log_z", "n_states", "seconds"])
ExactLikelihoodResult.__doc__ = """What :func:`exact_log_likelihood` returns.

Parameters
----------
log_likelihood : float
    Mean exact log p(v) over the rows.
per_row : array (n_rows,)
    Each row's log p(v).
log_z : float
    The exact log partition function.
n_states : int
    Hidden states enumerated per row.
seconds : float
"""

MeanFieldBoundResult = collections.namedtuple(
    "MeanFieldBoundResult", ["log_likelihood_bound", "standard_error", "per_row", "low", "high", "log_z",
                             "mean_field_steps", "seconds"])
MeanFieldBoundResult.__doc__ = """What :func:`mean_field_bound` returns: the variational lower bound on mean log p(v).

Parameters
----------
log_likelihood_bound : float
    Mean over the rows of each row's bound, with ``log_z``.
standard_error : float
    Standard error of that mean over the rows (NaN for one row).
per_row : array (n_rows,)
    Each row's bound.
low, high : float
    The mean bound with the upper and the lower end of ``log_z``'s interval
    (equal to ``log_likelihood_bound`` for an exact log Z).
log_z : float
mean_field_steps : int
    Fixed-point steps the slowest batch of rows took.
seconds : float
"""


def _check_model(model):
    """(weights, biases) of a DBM in float64."""
    if not isinstance(model, DBM):
        raise TypeError(f"model must be an rbm DBM, got {type(model).__name__}")
    return model.numpy_params()


def _log_sum_free_layers(weights, biases, fixed):
    """log sum over the free layers' states of exp(-E), given the ``fixed`` layers' states.

    ``fixed`` maps layer -> states (..., n_k), broadcastable against one
    another; every neighbour of a free layer must be fixed (free layers then
    are independent units, each contributing sum_j softplus(a_kj)).
    """
    n_layers = len(biases)
    total = sum(states @ biases[k] for k, states in fixed.items())
    for k in range(n_layers - 1):
        if k in fixed and k + 1 in fixed:
            total = total + ((fixed[k] @ weights[k]) * fixed[k + 1]).sum(axis=-1)
    for k in range(n_layers):
        if k in fixed:
            continue
        activation = biases[k]
        for neighbour, product in ((k - 1, lambda s, k=k: s @ weights[k - 1]), (k + 1, lambda s, k=k: s @ weights[k].T)):
            if 0 <= neighbour < n_layers:
                if neighbour not in fixed:
                    raise ValueError(f"layer {k} is summed out but its neighbour {neighbour} is not fixed")
                activation = activation + product(fixed[neighbour])
        total = total + np.logaddexp(0.0, activation).sum(axis=-1)
    return total


def _enumeration(layer_sizes, layers, name):
    """(n_bits, split) for enumerating the joint states of ``layers``; refuses more than MAX_EXACT_UNITS bits."""
    n_bits = sum(layer_sizes[k] for k in layers)
    if n_bits > MAX_EXACT_UNITS:
        raise ValueError(f"{name} enumerates 2^{n_bits} states, more than the limit of 2^{MAX_EXACT_UNITS}: "
                         "use ais_log_partition, mean_field_bound and raise_log_likelihood")
    bounds = np.cumsum([0] + [layer_sizes[k] for k in layers])

    def split(start, stop):
        states = ((np.arange(start, stop)[:, None] >> np.arange(n_bits)) & 1).astype(np.float64)
        return {k: states[:, bounds[j]:bounds[j + 1]] for j, k in enumerate(layers)}

    return n_bits, split


def exact_log_partition(model: DBM) -> ExactResult:
    """log Z by enumerating the parity of layers with fewer units and summing the other out.

    Parameters
    ----------
    model : DBM
        At most :data:`rbm.evaluation.MAX_EXACT_UNITS` units in its odd or its even layers.

    Returns
    -------
    ExactResult
        As :func:`rbm.evaluation.exact_log_partition` returns it.

    Examples
    --------
    Without weights every unit is independent: Z = 2^(number of units).

    >>> import math
    >>> import rbm
    >>> from rbm import dbm_evaluation
    >>> model = rbm.DBM([3, 2, 2])
    >>> model.set_params(W_0=[[0.0] * 2] * 3, W_1=[[0.0] * 2] * 2)
    >>> round(dbm_evaluation.exact_log_partition(model).log_z, 6), round(7 * math.log(2), 6)
    (4.85203, 4.85203)
    """
    started = time.perf_counter()
    weights, biases = _check_model(model)
    sizes = model.layer_sizes
    layers = min((parity_layers(model.n_layers, parity) for parity in (0, 1)),
                 key=lambda chosen: sum(sizes[k] for k in chosen))
    n_bits, split = _enumeration(sizes, layers, "exact log Z")
    partial = [logsumexp(_log_sum_free_layers(weights, biases, split(start, min(start + _STATES_PER_BATCH,
                                                                                 1 << n_bits))))
               for start in range(0, 1 << n_bits, _STATES_PER_BATCH)]
    log_z = float(logsumexp(partial))
    return ExactResult(log_z, log_z, log_z, 1 << n_bits, time.perf_counter() - started)


def exact_log_likelihood(model: DBM, data: ArrayLike) -> ExactLikelihoodResult:
    """Exact log p(v) of each row: the hidden parity with fewer units enumerated, the other summed out.

    Parameters
    ----------
    model : DBM
        Small: at most :data:`rbm.evaluation.MAX_EXACT_UNITS` units in its
        odd hidden layers or in its even hidden layers, and in one parity of
        all layers (for log Z).
    data : array (n, n_visible)
        Binary rows.

    Returns
    -------
    ExactLikelihoodResult
    """
    started = time.perf_counter()
    weights, biases = _check_model(model)
    data = model.check_data(data).astype(np.float64)
    log_z = exact_log_partition(model).log_z
    log_p_star, n_bits = _log_unnormalised_marginal(model, weights, biases, data, "exact log p(v)")
    per_row = log_p_star - log_z
    return ExactLikelihoodResult(float(per_row.mean()), per_row, log_z, 1 << n_bits, time.perf_counter() - started)


def _log_unnormalised_marginal(model, weights, biases, data, name):
    """(log sum_h exp(-E(v, h)) for each row v of ``data``, bits enumerated): the smaller hidden parity enumerated."""
    sizes = model.layer_sizes
    layers = min((tuple(k for k in parity_layers(model.n_layers, parity) if k > 0) for parity in (0, 1)),
                 key=lambda chosen: sum(sizes[k] for k in chosen))
    n_bits, split = _enumeration(sizes, layers, name)
    log_p_star = np.full(len(data), -np.inf)
    rows_per_batch = max(1, (1 << 20) // min(1 << n_bits, _STATES_PER_BATCH) // max(sizes))
    for first_row in range(0, len(data), rows_per_batch):
        rows = data[first_row:first_row + rows_per_batch]
        for start in range(0, 1 << n_bits, _STATES_PER_BATCH):
            fixed = {k: states[None] for k, states in split(start, min(start + _STATES_PER_BATCH, 1 << n_bits)).items()}
            fixed[0] = rows[:, None, :]
            terms = _log_sum_free_layers(weights, biases, fixed)
            chunk = slice(first_row, first_row + len(rows))
            log_p_star[chunk] = np.logaddexp(log_p_star[chunk], logsumexp(terms, axis=1))
    return log_p_star, n_bits


def free_energy(model: DBM, data: ArrayLike) -> np.ndarray:
    """F(v) = -log sum_h exp(-E(v, h)) for each row of ``data``, in float64, by enumeration (small DBMs only).

    The hidden parity with fewer units is enumerated and the other summed
    out analytically (module docstring), so that log p(v) = -F(v) - log Z.
    What :func:`rbm.evaluation.free_energy` gives for a DBM.

    Parameters
    ----------
    model : DBM
        At most :data:`rbm.evaluation.MAX_EXACT_UNITS` units in its odd
        hidden layers or in its even hidden layers.
    data : array (n, n_visible)
        Binary rows.

    Returns
    -------
    array (n,) of float64

    Raises
    ------
    ValueError
        For a DBM too large to enumerate: :func:`mean_field_bound` bounds
        -F(v) from below, :func:`raise_log_likelihood` estimates log p(v).

    Examples
    --------
    Without weights the units are independent: -F(v) = v.b_0 plus softplus
    of every hidden bias (here 5 log 2):

    >>> import rbm
    >>> from rbm import evaluation
    >>> model = rbm.DBM([2, 3, 2])
    >>> model.set_params(W_0=[[0.0] * 3] * 2, W_1=[[0.0] * 2] * 3, bias_0=[1.0, 0.0])
    >>> evaluation.free_energy(model, [[1, 0], [0, 1]]).round(4)
    array([-4.4657, -3.4657])
    """
    weights, biases = _check_model(model)
    data = model.check_data(data).astype(np.float64)
    return -_log_unnormalised_marginal(model, weights, biases, data, "the free energy")[0]


def mean_log_likelihood(model: DBM, data: ArrayLike, log_z: float | ExactResult | AISResult) -> float:
    """Average log p(v) = -F(v) - log Z over the rows of ``data``, F by enumeration (:func:`free_energy`).

    What :func:`rbm.evaluation.mean_log_likelihood` gives for a DBM; with
    :func:`exact_log_partition`'s log Z it equals :func:`exact_log_likelihood`'s
    mean. Small DBMs only: for larger ones use :func:`mean_field_bound` (a
    lower bound) and :func:`raise_log_likelihood` (a conservative estimate).

    Parameters
    ----------
    model : DBM
    data : array (n, n_visible)
        Binary rows.
    log_z : float, ExactResult or AISResult
        The model's log Z (a result's ``log_z`` is used).

    Returns
    -------
    float
        The mean log-likelihood in nats.
    """
    log_z = float(getattr(log_z, "log_z", log_z))
    if not np.isfinite(log_z):
        raise ValueError(f"log_z must be finite, got {log_z}")
    return float(np.mean(-free_energy(model, data)) - log_z)


def _base_biases(model, base_rate):
    """Biases of AIS's base model of independent units (visible from ``base_rate``'s means, hidden zero) and its log Z."""
    visible = (np.zeros(model.n_visible) if base_rate is None
               else visible_bias_from_data(check_data(base_rate, model.n_visible, "base_rate")))
    base = [visible] + [np.zeros(n) for n in model.layer_sizes[1:]]
    return base, float(sum(np.logaddexp(0.0, b).sum() for b in base))


def _annealing_function(model, base, n_steps, seed, mode, reverse=False):
    """Compile (odd-layer start states, betas) -> log importance weights (float64, one per run).

    Intermediate model at beta: p_beta(x) proportional to
    exp(-beta E(x) + (1 - beta) sum_k bA_k . x_k), bA the base biases. Its
    odd-layer marginal is f_beta(x_odd) = exp(sum_(k odd) (beta b_k + (1 - beta) bA_k) . x_k
    + sum_(k even) sum_j softplus(beta a_kj + (1 - beta) bA_kj)). Forward
    (AIS), step k adds log f_(k+1) - log f_k at the current state (float64),
    then moves the state by a Gibbs sweep of model k + 1 (even layers given
    odd, then odd given even), which leaves f_(k+1) invariant. Reverse
    (RAISE, ``betas`` running from 1 down to 0), step k first moves the state
    by a sweep of model k, then adds log f_(k+1) - log f_k at the new state:
    the sweep, seen on the odd layers, is reversible (f(x) T(x' | x) =
    sum_e p(x, e) p(x', e) / p(e) up to Z is symmetric), so it is its own
    reversal in :func:`raise_log_likelihood`'s weight.
    """
    dtype = model.dtype
    n_layers = model.n_layers
    odd, even = parity_layers(n_layers, 1), parity_layers(n_layers, 0)
    base_const = [pt.constant(b.astype(dtype)) for b in base]
    base64 = [pt.constant(b) for b in base]
    rng = backend.shared_rng(seed, name="dbm_annealing_rng")
    starts = [pt.matrix(f"start_{k}", dtype=dtype) for k in odd]
    betas = pt.vector("betas", dtype="float64")

    def log_f(states, activations, beta):
        """log f_beta of the odd states, the even layers' model activations given."""
        total = 0.0
        for k in odd:
            bias = beta * pt.cast(model.biases[k], "float64") + (1 - beta) * base64[k]
            total = total + pt.dot(pt.cast(states[k], "float64"), bias)
        for k in even:
            total = total + pt.sum(pt.softplus(beta * pt.cast(activations[k], "float64") + (1 - beta) * base64[k]),
                                   axis=1)
        return total

    def sample(layers, states, beta, rng, activations=None):
        """Draw ``layers`` given their neighbours in ``states`` from the model at ``beta``.

        ``activations`` (layer -> its model activation given ``states``) saves recomputing them.
        """
        beta_model = pt.cast(beta, dtype)
        for k in layers:
            activation = model.layer_activation(k, states) if activations is None else activations[k]
            mean = pt.sigmoid(beta_model * activation + (1 - beta_model) * base_const[k])
            rng, uniform = ptr.uniform(size=mean.shape, dtype=dtype, rng=rng, return_next_rng=True)
            states[k] = pt.cast(pt.lt(uniform, mean), dtype)
        return states, rng

    def even_activations(states):
        return [model.layer_activation(layer, states) for layer in even]

    def as_states(odd_states):
        states = [None] * n_layers
        for layer, value in zip(odd, odd_states):
            states[layer] = value
        return states

    def forward_step(k, *values):
        *odd_states, log_w, rng = values
        states = as_states(odd_states)
        beta, previous_beta = betas[k + 1], betas[k]
        activations = dict(zip(even, even_activations(states)))
        log_w = log_w + log_f(states, activations, beta) - log_f(states, activations, previous_beta)
        states, rng = sample(even, states, beta, rng)
        states, rng = sample(odd, states, beta, rng)
        return [k + 1, *(states[layer] for layer in odd), log_w, rng]

    def reverse_step(k, *values):
        # The even layers' activations of the current state ride along in the scan: the log f
        # difference of one step and the first draw of the next both need them.
        odd_states, carried = values[:len(odd)], values[len(odd):len(odd) + len(even)]
        log_w, rng = values[-2:]
        states = as_states(odd_states)
        beta, previous_beta = betas[k + 1], betas[k]
        states, rng = sample(even, states, previous_beta, rng, dict(zip(even, carried)))
        states, rng = sample(odd, states, previous_beta, rng)
        activations = even_activations(states)
        named = dict(zip(even, activations))
        log_w = log_w + log_f(states, named, beta) - log_f(states, named, previous_beta)
        return [k + 1, *(states[layer] for layer in odd), *activations, log_w, rng]

    name = "dbm_raise" if reverse else "dbm_ais"
    carried = even_activations(as_states(starts)) if reverse else []
    *_, log_weights, rng_end = backend.pytensor.scan(
        reverse_step if reverse else forward_step, n_steps=n_steps,
        outputs_info=[pt.constant(np.int64(0)), *starts, *carried, pt.zeros((starts[0].shape[0],), dtype="float64"),
                      rng],
        name=name, return_updates=False)
    return backend.compile_function([*starts, betas], log_weights[-1], updates={rng: rng_end}, mode=mode, name=name)


def ais_log_partition(model: DBM, *, n_runs: int = 100, betas: ArrayLike | None = None,
                      base_rate: ArrayLike | None = None, seed: int | None = None, mode: str = "cpu") -> AISResult:
    """Estimate log Z by Annealed Importance Sampling with the odd layers sampled and the even ones summed out.

    The base model has independent units: the visible ones with biases
    log(p / (1 - p)) from ``base_rate``'s means (zero when None), the hidden
    ones with zero biases; its log Z is the sum of softplus of those biases.
    ``n_runs`` runs start from exact samples of its odd layers and anneal
    through ``betas`` in one compiled ``scan`` (see ``_annealing_function``),
    importance weights in float64. By Jensen's inequality the estimate errs low.

    Parameters
    ----------
    model : DBM
    n_runs : int >= 2, default 100
    betas : array, optional
        Strictly increasing from exactly 0 to exactly 1;
        :func:`rbm.evaluation.default_betas` by default.
    base_rate : array (n, n_visible), optional
        Rows whose per-unit means set the base model's visible biases.
    seed : int, optional
    mode : str, default "cpu"

    Returns
    -------
    AISResult
        As :func:`rbm.evaluation.ais_log_partition` returns it: ``log_z`` and
        log(mean w -+ 3 standard errors) as its interval.
    """
    _check_model(model)
    n_runs = check_positive_int(n_runs, "n_runs", minimum=2)
    betas = default_betas() if betas is None else _check_betas(betas)
    seed = check_seed(seed)
    backend.resolve_mode(mode)
    base, log_z_base = _base_biases(model, base_rate)
    started = time.perf_counter()
    generator = np.random.default_rng(seed)
    starts = [(generator.random((n_runs, model.layer_sizes[k])) < 1 / (1 + np.exp(-base[k]))).astype(model.dtype)
              for k in parity_layers(model.n_layers, 1)]
    anneal = _annealing_function(model, base, len(betas) - 1, None if seed is None else seed + 1, mode)
    log_weights = np.asarray(anneal(*starts, betas), dtype=np.float64)
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
        n_runs=n_runs, n_betas=len(betas), log_z_base=log_z_base, seconds=time.perf_counter() - started)


def _log_bernoulli(states, means):
    """log prod_j mu_j^x_j (1 - mu_j)^(1 - x_j) per row, exact where a mean is 0 or 1 (then so is its state)."""
    with np.errstate(divide="ignore"):
        return np.where(states > 0, np.log(means), np.log1p(-means)).sum(axis=1)


def raise_log_likelihood(model: DBM, data: ArrayLike, *, n_runs: int = 1, betas: ArrayLike | None = None,
                         base_rate: ArrayLike | None = None, seed: int | None = None,
                         mode: str = "cpu") -> RAISEResult:
    """A conservative estimate of log p(v) for each row: reverse annealing (RAISE) from the mean-field posterior.

    Burda, Grosse & Salakhutdinov, "Accurate and conservative estimates of
    MRF log-likelihood using reverse annealing", AISTATS 2015, on the
    state space of :func:`ais_log_partition`: the odd layers x, the even
    ones summed out, intermediate marginals f_0, ..., f_K (``betas``,
    f_K the model's, f_0 the base model's with partition function Z_0) and
    T_k the Gibbs sweep at beta_k (even layers given x, then x given them),
    which satisfies detailed balance f_k(x) T_k(x' | x) = f_k(x') T_k(x | x').

    *The target.* Forward annealing (AIS) run to its end, x_0 ~ f_0 / Z_0,
    x_k ~ T_k(. | x_(k-1)) for k = 1..K, then one draw v ~ p(v | x_K) (the
    visible units given the first hidden layer), ends at v with probability
    p_ann(v), which tends to p(v) as the temperatures get finer.

    *The estimate.* The posterior p(x_K | v) is intractable, so each of
    ``n_runs`` reverse chains starts from the mean-field posterior
    q(x | v) = prod_(k odd) prod_j mu_kj^x (1 - mu_kj)^(1 - x)
    (:meth:`rbm.DBM.mean_field_means`, sampled) and runs the temperatures
    down: x_K ~ q(. | v), x_(k-1) ~ T_k(. | x_k) for k = K..1. The ratio of
    the forward path's probability to this one's,

        w = f(v, x_K) / (Z_0 q(x_K | v)) * prod_(k=0)^(K-1) f_k(x_k) / f_(k+1)(x_k),

    f(v, x) = f_K(x) p(v | x) = exp(v . b_0 + v W_0 x_1 + sum_(k odd) b_k . x_k
    + sum_(k even, k >= 2) sum_j softplus(a_kj)) the model's unnormalised
    probability of (v, x), follows from detailed balance (the T_k
    telescope into f_K(x_K) / f_0(x_0) times the f_k ratios). Its mean over
    the reverse chains is exactly p_ann(v) (importance sampling of the
    forward path), whatever q is, as long as q(x | v) > 0 wherever
    p(x | v) > 0 (where q misses states the mean falls short of p_ann(v),
    still conservative). So each row's estimate, log(mean of its
    ``n_runs`` w), satisfies E[estimate] <= log p_ann(v) (Jensen), the gap
    shrinking with more runs and as q nears the true posterior; and for rows
    v drawn from the model E_v[log p_ann(v)] <= E_v[log p(v)] (Gibbs'
    inequality). AIS's log Z errs low, so its log-likelihood errs high: the
    two bracket log p(v). On rows the model did not generate, p_ann(v) may
    exceed p(v), so the estimate is conservative in expectation over the
    model's own rows and in practice, not a bound for every row.

    Costs n_rows x n_runs chains over all temperatures, as many as
    :func:`ais_log_partition` with as many runs: use a subset of rows for a
    large test set.

    Parameters
    ----------
    model : DBM
    data : array (n_rows, n_visible)
        Binary rows whose log-likelihood is estimated.
    n_runs : int >= 1, default 1
        Reverse chains per row.
    betas : array, optional
        As for :func:`ais_log_partition` (run in reverse);
        :func:`rbm.evaluation.default_betas` by default.
    base_rate : array (n, n_visible), optional
        As for :func:`ais_log_partition`; use the same for both.
    seed : int, optional
        Seeds the draws from q and the annealing's draws.
    mode : str, default "cpu"

    Returns
    -------
    RAISEResult
        As :func:`rbm.evaluation.raise_log_likelihood` returns it: the mean,
        its standard error over the rows and each row's estimate.
    """
    weights, biases = _check_model(model)
    data = model.check_data(data).astype(np.float64)
    n_runs = check_positive_int(n_runs, "n_runs")
    betas = default_betas() if betas is None else _check_betas(betas)
    seed = check_seed(seed)
    backend.resolve_mode(mode)
    base, log_z_base = _base_biases(model, base_rate)
    started = time.perf_counter()
    odd = parity_layers(model.n_layers, 1)
    # x_K ~ q(. | v): each row's mean-field means (visible: the row itself), repeated for its n_runs chains
    means = [np.repeat(layer_means, n_runs, axis=0) for layer_means in model.mean_field_means(data)]
    generator = np.random.default_rng(seed)
    starts = {k: (generator.random(means[k].shape) < means[k]).astype(np.float64) for k in odd}
    log_q = sum(_log_bernoulli(starts[k], means[k]) for k in odd)
    # log f(v, x_K), the even hidden layers summed out
    log_f_start = _log_sum_free_layers(weights, biases, {0: means[0], **starts})
    anneal = _annealing_function(model, base, len(betas) - 1, None if seed is None else seed + 1, mode, reverse=True)
    log_f_ratios = np.asarray(anneal(*(starts[k].astype(model.dtype) for k in odd), betas[::-1].copy()),
                              dtype=np.float64)
    log_weights = (log_f_start - log_q - log_z_base + log_f_ratios).reshape(len(data), n_runs)
    per_row = logsumexp(log_weights, axis=1) - np.log(n_runs)
    standard_error = float(per_row.std(ddof=1) / np.sqrt(len(per_row))) if len(per_row) > 1 else float("nan")
    return RAISEResult(log_likelihood=float(per_row.mean()), standard_error=standard_error, per_row=per_row,
                       n_runs=n_runs, n_betas=len(betas), seconds=time.perf_counter() - started)


def mean_field_bound(model: DBM, data: ArrayLike, log_z: float | ExactResult | AISResult, *, max_steps: int = 100,
                     tol: float = 1e-7, batch_size: int = 1000) -> MeanFieldBoundResult:
    """The mean-field lower bound on log p(v) for each row of ``data``.

    With q(h) = prod_(k >= 1) prod_j mu_kj^h (1 - mu_kj)^(1 - h) at the mean-field fixed
    point (:meth:`rbm.DBM.mean_field_means`) and mu_0 = v,

        log p(v) >= sum_k mu_k . b_k + sum_k mu_k^T W_k mu_(k+1) + sum_(k >= 1) H(mu_k) - log Z,

    H the entropy of independent Bernoulli units. Equality holds where the
    posterior p(h | v) factorises over the units.

    Parameters
    ----------
    model : DBM
    data : array (n, n_visible)
        Binary rows.
    log_z : float, ExactResult or AISResult
        The model's log Z; an interval (``log_z_low``, ``log_z_high``) carries
        over to ``low`` and ``high``.
    max_steps : int >= 0, default 100
        Most mean-field steps per batch of rows.
    tol : float, default 1e-7
        Stop when no mean moves by more than this in a step.
    batch_size : int >= 1, default 1000
        Rows per mean-field batch (memory only; each row's fixed point is its own).

    Returns
    -------
    MeanFieldBoundResult
    """
    started = time.perf_counter()
    weights, biases = _check_model(model)
    data = model.check_data(data).astype(np.float64)
    batch_size = check_positive_int(batch_size, "batch_size")
    log_z_value = float(getattr(log_z, "log_z", log_z))
    log_z_low = float(getattr(log_z, "log_z_low", log_z_value))
    log_z_high = float(getattr(log_z, "log_z_high", log_z_value))
    if not np.isfinite(log_z_value):
        raise ValueError(f"log_z must be finite, got {log_z_value}")
    unnormalised, steps = [], 0
    for first in range(0, len(data), batch_size):
        means, batch_steps = model._mean_field_fixed_point(data[first:first + batch_size], max_steps, tol)
        steps = max(steps, batch_steps)
        total = sum(m @ b for m, b in zip(means, biases))
        total = total + sum(((means[k] @ weights[k]) * means[k + 1]).sum(axis=1) for k in range(len(weights)))
        total = total + sum((entr(m) + entr(1 - m)).sum(axis=1) for m in means[1:])
        unnormalised.append(total)
    unnormalised = np.concatenate(unnormalised)
    per_row = unnormalised - log_z_value
    standard_error = float(per_row.std(ddof=1) / np.sqrt(len(per_row))) if len(per_row) > 1 else float("nan")
    mean = float(unnormalised.mean())
    return MeanFieldBoundResult(log_likelihood_bound=mean - log_z_value, standard_error=standard_error,
                                per_row=per_row, low=mean - log_z_high, high=mean - log_z_low, log_z=log_z_value,
                                mean_field_steps=steps, seconds=time.perf_counter() - started)


# rbm.evaluation's functions take a DBM through these (see rbm.evaluation's module docstring).
for _implementation in (exact_log_partition, free_energy, mean_log_likelihood, ais_log_partition,
                        raise_log_likelihood):
    getattr(evaluation, _implementation.__name__).register(DBM, _implementation)
del _implementation
