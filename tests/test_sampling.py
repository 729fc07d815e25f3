"""Persistent sampling chains: the exact distribution step by step, shapes, ranges, reproducibility."""
import numpy as np
import pytest
from scipy.special import expit, logsumexp

from rbm import RBM, sample_chains

from . import reference
from .models.test_gaussian import numpy_params as gaussian_params
from .models.test_gaussian import slow_gaussian_rbm
from .models.test_rbm import numpy_params, slow_rbm


def identify_hidden(means, candidates):
    """Row numbers of the hidden states whose visible means p(v | h) are ``means`` (checked to 1e-10)."""
    distances = np.abs(means[:, None, :] - candidates[None, :, :]).max(axis=2)
    assert np.all(distances.min(axis=1) < 1e-10), "a kept mean is p(v | h) for no hidden state h"
    return distances.argmin(axis=1)


def assert_kept_states_follow(kept_hidden, exact_after, plot_every, n_states):
    """Kept sample s holds h after (s + 1) * plot_every steps v -> h -> v: its distribution is exact_after(steps)."""
    n_chains = kept_hidden.shape[1]
    threshold = reference.tv_threshold(n_chains, n_states)
    for s, hidden in enumerate(kept_hidden):
        steps = (s + 1) * plot_every
        exact = exact_after(steps)
        # a sampler that runs another number of steps per call, or does not carry its chains on, fails
        for wrong_steps in ({steps - 1, steps + 1} - {0}) if s == 0 else {plot_every}:
            assert 0.5 * np.abs(exact - exact_after(wrong_steps)).sum() > 3 * threshold, (steps, wrong_steps)
        assert reference.total_variation(hidden, exact) < threshold, (steps, hidden[:10])


def test_binary_chains_follow_the_exact_distribution_step_by_step():
    """Chains from v = 0 (improbable: 0.001) against the exact distribution after every kept step.

    sample_chains keeps p(v | h) of the last hidden state; on this 3-2 model each of the four hidden
    states gives other means, so the kept means say which h each chain was in.
    """
    model = slow_rbm()
    W, hbias, vbias = numpy_params(model)
    up, down = reference.gibbs_kernels(W, hbias, vbias)
    n_chains, plot_every = 20000, 2
    training_stream = model.rng.get_value().bit_generator.state
    means = sample_chains(model, np.zeros((n_chains, 3)), n_samples=4, plot_every=plot_every, seed=1)
    assert model.rng.get_value().bit_generator.state == training_stream  # sampling leaves it alone
    assert means.shape == (4, n_chains, 3) and np.all((means > 0) & (means < 1))
    hidden = identify_hidden(means.reshape(-1, 3), expit(reference.all_binary_states(2) @ W.T + vbias))
    # h_1 ~ p(h | v = 0), then steps - 1 steps h -> v -> h
    exact_after = lambda steps: reference.hidden_after(up, down, up[0], steps - 1)
    assert_kept_states_follow(hidden.reshape(4, n_chains), exact_after, plot_every, 4)
    # the seed makes the draws reproducible
    start = np.zeros((50, 3))
    first = sample_chains(model, start, n_samples=2, plot_every=plot_every, seed=7)
    np.testing.assert_array_equal(sample_chains(model, start, n_samples=2, plot_every=plot_every, seed=7), first)
    assert not np.array_equal(sample_chains(model, start, n_samples=2, plot_every=plot_every, seed=8), first)


def test_gaussian_chains_follow_the_exact_distribution_then_equilibrium():
    """The Gaussian-Bernoulli chain from v = 0: kept means b + sigma (W h) say h; its distribution after each
    kept step is the quadrature's exact transient, and after 12 steps the closed-form p(h) of enumeration."""
    model = slow_gaussian_rbm()
    W, hbias, vbias, sigma = gaussian_params(model)
    transition = reference.gaussian_hidden_kernel(W, hbias, vbias, sigma)
    log_p = reference.gaussian_hidden_log_weights(W, hbias, vbias, sigma)
    equilibrium = np.exp(log_p - logsumexp(log_p))
    # the quadrature's chain keeps the closed form's p(h): the two references agree
    np.testing.assert_allclose(equilibrium @ transition, equilibrium, atol=1e-9)
    n_chains, plot_every = 40000, 2
    means = sample_chains(model, np.zeros((n_chains, 2)), n_samples=6, plot_every=plot_every, seed=2)
    candidates = vbias + sigma * (reference.all_binary_states(3) @ W.T)
    hidden = identify_hidden(means.reshape(-1, 2), candidates).reshape(6, n_chains)
    first = reference.bernoulli_table(expit(hbias)[None], reference.all_binary_states(3))[0]  # p(h | v = 0)
    exact_after = lambda steps: first @ np.linalg.matrix_power(transition, steps - 1)
    assert_kept_states_follow(hidden, exact_after, plot_every, 8)
    assert 0.5 * np.abs(exact_after(12) - equilibrium).sum() < 1e-3  # 12 steps are a burn-in
    assert reference.total_variation(hidden[-1], equilibrium) < reference.tv_threshold(n_chains, 8)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(start=np.ones((2, 4))), ValueError, "4 columns but the model has 9"),
    (dict(start=np.full((2, 9), 3.0)), ValueError, r"\[0, 1\]"),
    (dict(n_samples=0), ValueError, "n_samples"),
    (dict(plot_every=0), ValueError, "plot_every"),
    (dict(mode="quantum"), ValueError, "unknown mode"),
])
def test_bad_arguments_are_refused(kwargs, error, match):
    arguments = {"start": np.ones((2, 9)), **kwargs}
    with pytest.raises(error, match=match):
        sample_chains(RBM(n_visible=9, n_hidden=2), **arguments)


def test_sampling_is_compiled_once_per_structure_and_reads_each_models_parameters():
    """A second model of the same sizes compiles no sampler, and draws what a fresh compile draws."""
    from rbm import backend

    def draw(seed):
        model = RBM(n_visible=6, n_hidden=4, numpy_rng=seed, dtype="float64")
        return sample_chains(model, np.eye(3, 6), n_samples=2, plot_every=3, seed=7, mode="NUMBA")

    draw(1)
    before = backend.compiled_function_count()
    reused = draw(2)
    assert backend.compiled_function_count() == before
    backend.COMPILED_FUNCTIONS.clear()
    np.testing.assert_array_equal(draw(2), reused)
    assert backend.compiled_function_count() == before + 1
    assert not np.array_equal(draw(1), reused)
