"""Parallel tempering: every replica samples its tempered model, swaps are accepted as often as theory says."""
import numpy as np
import pytest
from scipy.special import logsumexp

from rbm import RBM, Trainer, backend
from rbm.training.tempering import ParallelTempering

from .. import reference

N_VISIBLE, N_HIDDEN = 4, 3
BETAS = np.array([0.0, 0.4, 0.7, 1.0])
N_CHAINS = 3000


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(1)
    return RBM(n_visible=N_VISIBLE, n_hidden=N_HIDDEN, W=2.0 * rng.normal(size=(N_VISIBLE, N_HIDDEN)),
               hbias=rng.normal(size=N_HIDDEN), vbias=rng.normal(size=N_VISIBLE), seed=3, dtype="float64")


def joint_states():
    """Every (v, h) of the tiny model, as two aligned arrays."""
    vs, hs = reference.all_binary_states(N_VISIBLE), reference.all_binary_states(N_HIDDEN)
    return np.repeat(vs, len(hs), axis=0), np.tile(hs, (len(vs), 1))


def energies(model, v, h):
    W, hbias, vbias = (p.get_value() for p in model.params)
    return -v @ vbias - h @ hbias - np.einsum("ni,ij,nj->n", v, W, h)


def tempered_probabilities(model, beta):
    v, h = joint_states()
    log_p = -beta * energies(model, v, h)
    return np.exp(log_p - logsumexp(log_p))


def hidden_index(h):
    return (h * (1 << np.arange(N_HIDDEN))).sum(axis=-1).astype(int)


@pytest.fixture(scope="module", params=["NUMBA", "cpu"])
def sampled(model, request):
    """Hidden states of every replica over 20 rounds after 30 of burn-in, and the swap counters."""
    if request.param == "cpu":
        pytest.importorskip("jax")
    ladder = ParallelTempering(model, BETAS, N_CHAINS)
    ladder.chains.set_value((np.random.default_rng(0).random((len(BETAS), N_CHAINS, N_HIDDEN)) < 0.5).astype(float))
    with model.drawing_from() as rng_updates:
        _, updates = ladder.negative_phase(k=1)
    updates.update(rng_updates)
    step = backend.compile_function([], [], updates=updates, mode=request.param)
    for _ in range(30):
        step()
    ladder.reset_counts(request.param)
    states = []
    for _ in range(20):
        step()
        states.append(np.asarray(ladder.chains.get_value()))
    return np.stack(states), ladder.swap_rates(), np.asarray(ladder.proposed.get_value())


def test_every_replica_samples_its_tempered_model(model, sampled):
    states, _, _ = sampled
    v, h = joint_states()
    for t, beta in enumerate(BETAS):
        exact = np.bincount(hidden_index(h), weights=tempered_probabilities(model, beta), minlength=1 << N_HIDDEN)
        seen = np.bincount(hidden_index(states[:, t]).ravel(), minlength=1 << N_HIDDEN) / (states.shape[0] * N_CHAINS)
        # 60,000 draws (chains independent, rounds correlated): sampling noise ~0.005 per state
        assert 0.5 * np.abs(seen - exact).sum() < 0.02, (beta, seen, exact)


def test_swap_rates_match_the_exact_acceptance_probability(model, sampled):
    _, rates, proposed = sampled
    v, h = joint_states()
    E = energies(model, v, h)
    for t in range(len(BETAS) - 1):
        p_low, p_high = tempered_probabilities(model, BETAS[t]), tempered_probabilities(model, BETAS[t + 1])
        acceptance = np.minimum(1.0, np.exp((BETAS[t] - BETAS[t + 1]) * (E[:, None] - E[None, :])))
        expected = p_low @ acceptance @ p_high
        assert proposed[t] == 10 * N_CHAINS  # 20 rounds, even and odd pairs alternating
        assert abs(rates[t] - expected) < 0.02, (t, rates[t], expected)


@pytest.mark.parametrize("mode", ["cpu", "NUMBA"])
def test_tempered_training_runs_and_reports_swap_rates(mode):
    if mode == "cpu":
        pytest.importorskip("jax")
    data = (np.random.default_rng(0).random((60, 6)) < 0.3).astype(float)
    model = RBM(n_visible=6, n_hidden=4, seed=0, dtype="float32")
    trainer = Trainer(model, learning_rate=0.05, batch_size=10, n_chains=8, tempering=5, mode=mode, seed=0)
    history = trainer.fit(data, epochs=2, verbose=False)
    assert trainer.persistent_chain is None
    assert trainer.tempering.chains.get_value().shape == (5, 8, 4)
    for record in history:
        assert len(record["swap_rates"]) == 4
        assert all(0.0 <= rate <= 1.0 for rate in record["swap_rates"])
    assert np.all(np.isfinite(model.W.get_value()))
    assert "swap rates" in Trainer.format_record(history[-1])


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(tempering=1), ValueError, "tempering must be >= 2"),
    (dict(tempering=[0.5, 0.9]), ValueError, "exactly 1"),
    (dict(tempering=[0.0, 1.0, 0.5, 1.0]), ValueError, "increase strictly"),
    (dict(tempering=[-0.5, 1.0]), ValueError, ">= 0"),
    (dict(tempering=3, persistent=False), ValueError, "persistent=True"),
])
def test_bad_tempering_settings(kwargs, error, match):
    with pytest.raises(error, match=match):
        Trainer(RBM(n_visible=3, n_hidden=2), **kwargs)


def test_gaussian_rbm_is_refused():
    from rbm import GaussianBernoulliRBM
    with pytest.raises(ValueError, match="binary RBMs"):
        Trainer(GaussianBernoulliRBM(n_visible=3, n_hidden=2), tempering=3)
