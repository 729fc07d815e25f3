"""Independent numpy references: plain formulas and brute-force enumeration of tiny models."""
import itertools

import numpy as np
from scipy.special import expit, logsumexp


def free_energy(v, W, hbias, vbias):
    """F(v) = -v.b - sum_j log(1 + exp((vW + c)_j)), with np.logaddexp for stability."""
    return -v @ vbias - np.logaddexp(0.0, v @ W + hbias).sum(axis=1)


def all_binary_states(n):
    """All 2^n binary vectors of length n, as rows."""
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


def exact_log_partition(W, hbias, vbias):
    """log Z by enumerating every visible AND hidden configuration: log sum exp(-E(v, h))."""
    V = all_binary_states(W.shape[0])
    H = all_binary_states(W.shape[1])
    negative_energy = (V @ W @ H.T) + (V @ vbias)[:, None] + (H @ hbias)[None, :]
    return logsumexp(negative_energy)


def mean_log_likelihood(data, W, hbias, vbias):
    """Average log p(v) over rows, by brute force."""
    return float(np.mean(-free_energy(data, W, hbias, vbias)) - exact_log_partition(W, hbias, vbias))


def cd_gradients(v_data, v_model, W, hbias, vbias):
    """d/dtheta [mean F(v_data) - mean F(v_model)]: minus data statistics plus model statistics."""
    h_data = expit(v_data @ W + hbias)
    h_model = expit(v_model @ W + hbias)
    grad_W = -(v_data.T @ h_data) / len(v_data) + (v_model.T @ h_model) / len(v_model)
    grad_hbias = -h_data.mean(axis=0) + h_model.mean(axis=0)
    grad_vbias = -v_data.mean(axis=0) + v_model.mean(axis=0)
    return grad_W, grad_hbias, grad_vbias


def reconstruction_cost(x, pre_sigmoid):
    """Mean over rows of sum_i x log s(a) + (1 - x) log(1 - s(a)), stably."""
    log_p = -np.logaddexp(0.0, -pre_sigmoid)
    log_not_p = -np.logaddexp(0.0, pre_sigmoid)
    return float(np.mean(np.sum(x * log_p + (1 - x) * log_not_p, axis=1)))


def pseudo_likelihood_cost(x, bit, W, hbias, vbias):
    """n_visible * mean log sigmoid(F(x with bit flipped) - F(x)), x rounded."""
    xi = np.round(x)
    flipped = xi.copy()
    flipped[:, bit] = 1 - flipped[:, bit]
    difference = free_energy(flipped, W, hbias, vbias) - free_energy(xi, W, hbias, vbias)
    return float(x.shape[1] * np.mean(-np.logaddexp(0.0, -difference)))


def bars_and_stripes(size=3):
    """All distinct size x size bars-and-stripes images (2 * 2^size - 2 of them), flattened."""
    patterns = set()
    for bits in itertools.product([0.0, 1.0], repeat=size):
        rows = np.repeat(np.array(bits)[:, None], size, axis=1)
        patterns.add(tuple(rows.ravel()))
        patterns.add(tuple(rows.T.ravel()))
    return np.array(sorted(patterns))


# ------------------------------------------------------------- exact Gibbs chains
def state_index(states):
    """Row number in :func:`all_binary_states` of each binary vector (last axis, first bit most significant)."""
    states = np.asarray(states)
    n = states.shape[-1]
    return (np.rint(states).astype(np.int64) << np.arange(n - 1, -1, -1)).sum(axis=-1)


def bernoulli_table(means, states):
    """P(state | means) of independent Bernoulli units: (len(means), len(states))."""
    return np.prod(np.where(states[None, :, :] == 1, means[:, None, :], 1 - means[:, None, :]), axis=2)


def gibbs_kernels(W, hbias, vbias):
    """(up, down): up[v, h] = p(h | v) and down[h, v] = p(v | h) over every binary state, from the energy directly."""
    visible, hidden = all_binary_states(W.shape[0]), all_binary_states(W.shape[1])
    up = bernoulli_table(expit(visible @ W + hbias), hidden)
    down = bernoulli_table(expit(hidden @ W.T + vbias), visible)
    return up, down


def joint_probabilities(W, hbias, vbias, beta=1.0):
    """p(v, h) proportional to exp(-beta E(v, h)) by enumeration: (2^n_visible, 2^n_hidden), rows v, columns h."""
    visible, hidden = all_binary_states(W.shape[0]), all_binary_states(W.shape[1])
    log_p = beta * ((visible @ W @ hidden.T) + (visible @ vbias)[:, None] + (hidden @ hbias)[None, :])
    return np.exp(log_p - logsumexp(log_p))


def total_variation(samples_index, probabilities):
    """Half the L1 distance between the empirical distribution of ``samples_index`` and ``probabilities``."""
    counts = np.bincount(np.ravel(samples_index), minlength=len(probabilities))
    return 0.5 * np.abs(counts / counts.sum() - probabilities).sum()


def tv_threshold(n_draws, n_states, failure_probability=1e-6):
    """A bound that the total variation distance of ``n_draws`` independent exact draws exceeds with
    probability at most ``failure_probability``.

    Its expectation is at most sqrt(n_states / n_draws) / 2 (E|p_hat - p| <= sqrt(p / n) for each
    state, then Cauchy-Schwarz over the states; about sqrt(S / (2 pi N)) for large N); one draw moves
    it by at most 1 / n_draws, so by McDiarmid's inequality it exceeds its expectation by t with
    probability at most exp(-2 n_draws t^2). A sampler whose distribution is off by more than about
    twice this bound fails.
    """
    return np.sqrt(n_states / n_draws) / 2 + np.sqrt(np.log(1 / failure_probability) / (2 * n_draws))


def hidden_after(up, down, h_start, steps):
    """The distribution of h after ``steps`` Gibbs steps h -> v -> h from the distribution ``h_start``."""
    h = np.asarray(h_start, dtype=np.float64)
    for _ in range(steps):
        h = h @ down @ up
    return h


def joint_after_step(up, down, h_previous):
    """p(v, h) of the pair a Gibbs step h_previous -> v -> h ends with: (2^n_visible, 2^n_hidden)."""
    return (h_previous @ down)[:, None] * up


def maximal_correlation(joint):
    """The maximal correlation of the two variables of a discrete joint distribution (rows, columns).

    It is the second singular value of p(x, y) / sqrt(p(x) p(y)); one Gibbs step through the other
    variable shrinks the L2 distance of any start from equilibrium by at least this factor, so
    burn-in steps can be checked (see tests/training/test_tempering.py).
    """
    scaled = joint / np.sqrt(np.outer(joint.sum(axis=1), joint.sum(axis=0)))
    return np.linalg.svd(scaled, compute_uv=False)[1]


# ------------------------------------------------------ Gaussian-Bernoulli chains
def gaussian_hidden_log_weights(W, hbias, vbias, sigma):
    """log of the unnormalised p(h) of a Gaussian-Bernoulli RBM, for every hidden state.

    Integrating v out of exp(-E(v, h)), E = sum_i (v_i - b_i)^2 / (2 sigma_i^2) - c.h - sum_i (v_i / sigma_i) (W h)_i,
    completes a square in each v_i: the integral is sqrt(2 pi) sigma_i exp(b_i u_i / sigma_i + u_i^2 / 2), u = W h.
    """
    hidden = all_binary_states(W.shape[1])
    u = hidden @ W.T
    return hidden @ hbias + (u * vbias / sigma + u ** 2 / 2).sum(axis=1) + np.log(np.sqrt(2 * np.pi) * sigma).sum()


def gaussian_hidden_kernel(W, hbias, vbias, sigma, n_points=40):
    """T[h, h'] = p(h' | h) of the chain h -> v -> h' of a Gaussian-Bernoulli RBM, by Gauss-Hermite quadrature.

    v / sigma = b / sigma + W h + z with z standard normal, so p(h' | h) = E_z prod_j Bernoulli(h'_j;
    sigmoid(c_j + ((b / sigma + W h + z) W)_j)), a smooth integrand the quadrature gets to ~1e-12.
    """
    nodes, weights = np.polynomial.hermite_e.hermegauss(n_points)
    n_visible = W.shape[0]
    z = np.stack(np.meshgrid(*[nodes] * n_visible, indexing="ij"), axis=-1).reshape(-1, n_visible)
    w = np.prod(np.stack(np.meshgrid(*[weights / np.sqrt(2 * np.pi)] * n_visible, indexing="ij"), axis=-1)
                .reshape(-1, n_visible), axis=1)
    hidden = all_binary_states(W.shape[1])
    return np.array([w @ bernoulli_table(expit(hbias + (vbias / sigma + W @ h + z) @ W), hidden) for h in hidden])


# ------------------------------------------------------------- margins of sample means
def hoeffding_margin(n_draws, value_range, failure_probability=1e-6):
    """A bound that the mean of ``n_draws`` independent values, each in an interval of width ``value_range``,
    misses its expectation by, with probability at most ``failure_probability``.

    Hoeffding's inequality: P(|mean - E| >= t) <= 2 exp(-2 n t^2 / range^2), solved for t.
    """
    return value_range * np.sqrt(np.log(2 / failure_probability) / (2 * n_draws))


def bernstein_margin(n_draws, standard_deviation, bound, failure_probability=1e-6):
    """As :func:`hoeffding_margin`, for values of known standard deviation that lie within ``bound`` of
    their expectation: much tighter than Hoeffding's when the range is wide but the values rarely reach it.

    Bernstein's inequality: P(|mean - E| >= t) <= 2 exp(-n t^2 / (2 sd^2 + 2 bound t / 3)), solved for t
    (the positive root of n t^2 - (2 bound L / 3) t - 2 sd^2 L = 0, L = log(2 / failure_probability)).
    """
    log_term = np.log(2 / failure_probability)
    linear = 2 * bound * log_term / 3
    return (linear + np.sqrt(linear ** 2 + 8 * n_draws * standard_deviation ** 2 * log_term)) / (2 * n_draws)


# ------------------------------------------------------- annealed importance sampling
def annealing_log_f(W, hbias, vbias, base_bias, beta):
    """log f_beta(v) of every visible state, the intermediate model of AIS at inverse temperature ``beta``.

    p_beta(v, h) is proportional to exp((1 - beta) v.b_A + beta (v.b + h.c + v W h)), b_A the base model's
    visible biases; summing h out gives f_beta(v) = exp((1 - beta) v.b_A + beta v.b) prod_j (1 + exp(beta (v W + c)_j)).
    """
    visible = all_binary_states(W.shape[0])
    return ((1 - beta) * visible @ base_bias + beta * visible @ vbias
            + np.logaddexp(0.0, beta * (visible @ W + hbias)).sum(axis=1))


def annealing_kernel(W, hbias, vbias, base_bias, beta):
    """T[v, v'] of the Gibbs step v -> h -> v' of p_beta (see :func:`annealing_log_f`), over every binary state."""
    visible, hidden = all_binary_states(W.shape[0]), all_binary_states(W.shape[1])
    up = bernoulli_table(expit(beta * (visible @ W + hbias)), hidden)
    down = bernoulli_table(expit(beta * (hidden @ W.T + vbias) + (1 - beta) * base_bias), visible)
    return up @ down


def ais_weight_moments(W, hbias, vbias, base_bias, betas, move_betas=None, start=None):
    """(E w, E w^2, min w, max w) of one AIS run's importance weight, exactly, by enumerating every state.

    The run draws x_0 from ``start`` (a distribution over all_binary_states; the base model by default),
    then for k = 0 .. K - 1 multiplies its weight by f_{k+1}(x_k) / f_k(x_k) and moves x_k -> x_{k+1}
    by the Gibbs step of the model at ``move_betas[k]`` (betas[k + 1] by default, which AIS prescribes);
    w = Z_A times the product, Z_A = prod_i (1 + exp(b_A,i)) 2^n_hidden the base model's partition
    function. Forward recursion: alpha_{k+1}(x') = sum_x alpha_k(x) r_k(x) T_k(x, x'), with r the
    weight's factor (its square for E w^2). With the default moves E w = Z whatever the schedule.
    """
    betas = np.asarray(betas, dtype=np.float64)
    move_betas = betas[1:] if move_betas is None else np.asarray(move_betas, dtype=np.float64)
    visible = all_binary_states(W.shape[0])
    if start is None:
        start = np.exp(visible @ base_bias - np.logaddexp(0.0, base_bias).sum())
    log_z_base = np.logaddexp(0.0, base_bias).sum() + W.shape[1] * np.log(2.0)
    first, second = np.asarray(start, dtype=np.float64), np.asarray(start, dtype=np.float64)
    log_low = log_high = log_z_base
    for k in range(len(betas) - 1):
        log_ratio = (annealing_log_f(W, hbias, vbias, base_bias, betas[k + 1])
                     - annealing_log_f(W, hbias, vbias, base_bias, betas[k]))
        kernel = annealing_kernel(W, hbias, vbias, base_bias, move_betas[k])
        first = (first * np.exp(log_ratio)) @ kernel
        second = (second * np.exp(2 * log_ratio)) @ kernel
        log_low, log_high = log_low + log_ratio.min(), log_high + log_ratio.max()
    return (np.exp(log_z_base) * first.sum(), np.exp(2 * log_z_base) * second.sum(), np.exp(log_low),
            np.exp(log_high))
