"""Parallel tempering: every replica samples its tempered model, swaps are accepted as often as theory says."""
import numpy as np
import pytest

from rbm import RBM, Trainer, backend
from rbm.training.tempering import ParallelTempering

from .. import reference

N_VISIBLE, N_HIDDEN = 4, 3
BETAS = np.array([0.0, 0.4, 0.7, 1.0])
#: independent ladders: each check below fails by chance with probability at most 1e-6 (see the bounds)
N_CHAINS = 50000
BURN_IN, ROUNDS = 30, 10


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(1)
    return RBM(n_visible=N_VISIBLE, n_hidden=N_HIDDEN, W=2.0 * rng.normal(size=(N_VISIBLE, N_HIDDEN)),
               hbias=rng.normal(size=N_HIDDEN), vbias=rng.normal(size=N_VISIBLE), seed=3, dtype="float64")


def numpy_params(model):
    return [p.get_value() for p in model.params]


def energies(model, v, h):
    W, hbias, vbias = numpy_params(model)
    return -v @ vbias - h @ hbias - np.einsum("ni,ij,nj->n", v, W, h)


def tempered_joint(model, beta):
    """p_beta(v, h) proportional to exp(-beta E(v, h)) by enumeration: rows v, columns h."""
    return reference.joint_probabilities(*numpy_params(model), beta=beta)


def burn_in_error(model, start_hidden):
    """A bound on the total variation distance of the ladder from equilibrium after BURN_IN rounds.

    One round draws v ~ p(v | h) and h' ~ p(h | v) in every replica, then swaps (v, h') pairs; the
    swap keeps the product of the tempered distributions, so it contracts the L2 distance from it,
    and the draw through v shrinks it by the maximal correlation of v and h, the largest over the
    replicas for the ladder. So TV <= 1/2 rho^BURN_IN sqrt(chi^2(start, equilibrium)).
    """
    rho = max(reference.maximal_correlation(tempered_joint(model, beta)) for beta in BETAS)
    chi_square_plus_one = np.prod([np.sum(start_hidden ** 2 / tempered_joint(model, beta).sum(axis=0))
                                   for beta in BETAS])
    return 0.5 * rho ** BURN_IN * np.sqrt(chi_square_plus_one - 1)


@pytest.fixture(scope="module", params=["NUMBA", "cpu"])
def sampled(model, request):
    """(hidden and visible states of every replica, swap rates, proposals) of N_CHAINS independent
    ladders started uniformly at random, after BURN_IN + ROUNDS rounds; the swap counters cover the
    last ROUNDS rounds. The gradient reads the visible states of the beta = 1 replicas, v[-1] of the
    ladder's visible states, which the function returns whole (the indexed array, read from the graph)."""
    if request.param == "cpu":
        pytest.importorskip("jax")
    ladder = ParallelTempering(model, BETAS, N_CHAINS)
    ladder.chains.set_value((np.random.default_rng(0).random((len(BETAS), N_CHAINS, N_HIDDEN)) < 0.5).astype(float))
    with model.drawing_from() as rng_updates:
        top_visible, updates = ladder.negative_phase(k=1)
    updates.update(rng_updates)
    ladder_visible, index = top_visible.owner.inputs
    assert index.data == -1  # the chain end is the last replica's
    step = backend.compile_function([], [top_visible, ladder_visible], updates=updates, mode=request.param)
    for _ in range(BURN_IN):
        step()
    ladder.reset_counts(request.param)
    for _ in range(ROUNDS):
        top_visible, visible = step()
    np.testing.assert_array_equal(top_visible, visible[-1])
    return (np.asarray(ladder.chains.get_value()), np.asarray(visible), ladder.swap_rates(),
            np.asarray(ladder.proposed.get_value()))


def test_the_burn_in_reaches_equilibrium(model):
    assert burn_in_error(model, np.full(1 << N_HIDDEN, 1.0 / (1 << N_HIDDEN))) < 1e-4


def test_every_replica_samples_its_tempered_model(model, sampled):
    """The (v, h) pairs of each replica against p_beta(v, h), all 128 of them (v first, then h), and the
    hidden states alone against p_beta(h); the beta = 1 pairs are those the gradient reads."""
    hidden, visible, _, _ = sampled
    threshold = reference.tv_threshold(N_CHAINS, 1 << N_HIDDEN)
    joint_threshold = reference.tv_threshold(N_CHAINS, 1 << (N_VISIBLE + N_HIDDEN))
    for t, beta in enumerate(BETAS):
        exact = tempered_joint(model, beta)
        if t > 0:  # a replica that sampled its neighbour's temperature would fail
            neighbour = tempered_joint(model, BETAS[t - 1])
            assert 0.5 * np.abs(exact.sum(axis=0) - neighbour.sum(axis=0)).sum() > 3 * threshold
        assert reference.total_variation(reference.state_index(hidden[t]), exact.sum(axis=0)) < threshold, beta
        pair = reference.state_index(visible[t]) * (1 << N_HIDDEN) + reference.state_index(hidden[t])
        assert reference.total_variation(pair, exact.ravel()) < joint_threshold, beta


def test_swap_rates_match_the_exact_acceptance_probability(model, sampled):
    """At equilibrium a proposed swap of replicas t, t + 1 is accepted with probability
    sum_x,y p_t(x) p_t+1(y) min(1, exp((beta_t - beta_t+1) (E(x) - E(y)))).

    Each ladder's fraction of accepted proposals lies in [0, 1] and the ladders are independent, so by
    Hoeffding's inequality their mean (the rate) is that far from its expectation with probability
    at most 2 exp(-2 N_CHAINS t^2); the burn-in adds at most its TV bound.
    """
    _, _, rates, proposed = sampled
    vs, hs = reference.all_binary_states(N_VISIBLE), reference.all_binary_states(N_HIDDEN)
    v, h = np.repeat(vs, len(hs), axis=0), np.tile(hs, (len(vs), 1))
    E = energies(model, v, h)
    tolerance = np.sqrt(np.log(2 / 1e-6) / (2 * N_CHAINS)) + 1e-4
    for t in range(len(BETAS) - 1):
        p_low, p_high = tempered_joint(model, BETAS[t]).ravel(), tempered_joint(model, BETAS[t + 1]).ravel()
        acceptance = np.minimum(1.0, np.exp((BETAS[t] - BETAS[t + 1]) * (E[:, None] - E[None, :])))
        expected = p_low @ acceptance @ p_high
        assert proposed[t] == ROUNDS // 2 * N_CHAINS  # even and odd pairs alternating
        assert abs(rates[t] - expected) < tolerance, (t, rates[t], expected)


def test_tempered_training_runs_and_reports_swap_rates():
    """In mode "cpu" (tests/training/test_checkpoint.py trains tempered ladders in NUMBA too)."""
    pytest.importorskip("jax")
    mode = "cpu"
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


# ------------------------------------------------------------------ other visible layers
LAYER_BETAS = np.array([0.0, 0.5, 1.0])
LAYER_CHAINS, LAYER_ROUNDS = 20000, 40


def run_ladders(model, mode="NUMBA"):
    """(visible, hidden) states of every replica of LAYER_CHAINS independent ladders after LAYER_ROUNDS rounds."""
    ladder = ParallelTempering(model, LAYER_BETAS, LAYER_CHAINS)
    ladder.chains.set_value((np.random.default_rng(0).random(ladder.chains.get_value().shape) < 0.5).astype(float))
    with model.drawing_from() as rng_updates:
        top_visible, updates = ladder.negative_phase(k=1)
    updates.update(rng_updates)
    ladder_visible = top_visible.owner.inputs[0]
    step = backend.compile_function([], ladder_visible, updates=updates, mode=mode)
    for _ in range(LAYER_ROUNDS):
        visible = step()
    return np.asarray(visible), np.asarray(ladder.chains.get_value())


def hidden_marginals(log_weights):
    """p(h) over the hidden states in reference.all_binary_states order, from unnormalised log weights."""
    weights = np.exp(log_weights - log_weights.max())
    return weights / weights.sum()


def test_categorical_ladders_sample_each_tempered_model():
    """Replica t samples f_t(v, h) = exp(beta_t (v.b + c.h + v W h)) (uniform base), enumerated here over the 9
    complete rows of 2 variables with 3 categories and the 8 hidden states: the (v, h) pairs against it."""
    from rbm.layers import Categorical
    rng = np.random.default_rng(2)
    W, hbias, vbias = 1.5 * rng.normal(size=(6, 3)), rng.normal(size=3), rng.normal(size=6)
    model = RBM(n_visible=2, n_hidden=3, W=W, hbias=hbias, vbias=vbias, visible=Categorical(3), seed=5,
                dtype="float64")
    visible, hidden = run_ladders(model)
    rows = np.array([np.concatenate([np.eye(3)[a], np.eye(3)[b]]) for a in range(3) for b in range(3)])
    hs = reference.all_binary_states(3)
    assert np.all(visible.reshape(len(LAYER_BETAS), LAYER_CHAINS, 2, 3).sum(axis=3) == 1)  # one-hot groups
    row_index = (visible.reshape(len(LAYER_BETAS), LAYER_CHAINS, 2, 3).argmax(axis=3) @ np.array([3, 1]))
    threshold = reference.tv_threshold(LAYER_CHAINS, len(rows) * len(hs))
    for t, beta in enumerate(LAYER_BETAS):
        log_f = beta * ((rows @ vbias)[:, None] + (hs @ hbias)[None, :] + rows @ W @ hs.T)
        exact = hidden_marginals(log_f.ravel())
        pair = row_index[t] * len(hs) + reference.state_index(hidden[t])
        assert reference.total_variation(pair, exact) < threshold, beta


def test_gaussian_ladders_sample_each_tempered_model():
    """Gaussian visible units keep their own N(b, sigma^2) at beta = 0: v | h ~ N(b + beta sigma W h, sigma^2)
    and, integrating v out, p_t(h) proportional to exp(beta (c.h + (b / sigma).W h) + beta^2 |W h|^2 / 2).
    Each replica's hidden states against p_t(h), and its visible means (within 5 standard errors)."""
    from rbm import GaussianBernoulliRBM
    rng = np.random.default_rng(3)
    sigma = np.array([0.5, 1.0, 2.0])
    W, hbias, vbias = rng.normal(size=(3, 3)), rng.normal(size=3), rng.normal(size=3)
    model = GaussianBernoulliRBM(n_visible=3, n_hidden=3, W=W, hbias=hbias, vbias=vbias, sigma=sigma, seed=6,
                                 dtype="float64")
    visible, hidden = run_ladders(model)
    hs = reference.all_binary_states(3)
    top_down = hs @ W.T  # (W h) for each hidden state
    threshold = reference.tv_threshold(LAYER_CHAINS, len(hs))
    for t, beta in enumerate(LAYER_BETAS):
        p_h = hidden_marginals(beta * (hs @ hbias + top_down @ (vbias / sigma)) + beta ** 2 * (top_down ** 2).sum(1) / 2)
        assert reference.total_variation(reference.state_index(hidden[t]), p_h) < threshold, beta
        mean = vbias + beta * sigma * (p_h @ top_down)
        spread = np.sqrt(sigma ** 2 + (beta * sigma) ** 2 * (p_h @ top_down ** 2 - (p_h @ top_down) ** 2))
        assert np.all(np.abs(visible[t].mean(axis=0) - mean) < 5 * spread / np.sqrt(LAYER_CHAINS)), beta


@pytest.mark.parametrize("layer", ["gaussian", "categorical"])
def test_tempered_training_runs_for_other_visible_layers(layer):
    from rbm import GaussianBernoulliRBM
    from rbm.layers import Categorical
    rng = np.random.default_rng(0)
    if layer == "gaussian":
        model, data = GaussianBernoulliRBM(n_visible=6, n_hidden=4, seed=0), rng.normal(size=(60, 6))
    else:
        model = RBM(n_visible=3, n_hidden=4, visible=Categorical(3), seed=0)
        data = np.eye(3)[rng.integers(0, 3, size=(60, 3))].reshape(60, 9)
    trainer = Trainer(model, learning_rate=0.01, batch_size=10, n_chains=8, tempering=[0.5, 1.0], mode="FAST_COMPILE",
                      seed=0)
    history = trainer.fit(data, epochs=2, verbose=False)
    assert all(0.0 <= record["swap_rates"][0] <= 1.0 for record in history)
    assert np.all(np.isfinite(model.W.get_value())) and not np.allclose(model.W.get_value(), 0.0)
