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
