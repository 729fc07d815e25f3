"""Centering: the centered RBM equals the plain RBM it converts to, and a centered step follows Melchior et al."""
import numpy as np
import pytest
from pytensor.graph.traversal import ancestors
from scipy.special import expit, logsumexp

from rbm import RBM, Trainer
from rbm.backend import pt
from rbm.evaluation import exact_log_partition
from rbm.training.centering import from_plain, to_plain

from .. import reference
from ..models.test_rbm import chain_end_of, compile_, fix_chain_end, numpy_params

N_VISIBLE, N_HIDDEN = 6, 4


def random_centered(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(N_VISIBLE, N_HIDDEN)), rng.normal(size=N_HIDDEN), rng.normal(size=N_VISIBLE),
            rng.random(N_VISIBLE), rng.random(N_HIDDEN))


def centered_energy(v, h, W, c, b, mu, lam):
    """E_c(v, h) = -(v - mu).b - c.(h - lambda) - (v - mu)^T W (h - lambda), written out directly."""
    return -(v - mu) @ b - (h - lam) @ c - np.einsum("i,ij,j->", v - mu, W, h - lam)


def test_a_centered_model_is_the_plain_rbm_it_converts_to():
    W, c, b, mu, lam = random_centered()
    plain_W, plain_c, plain_b = to_plain(W, c, b, mu, lam)
    model = RBM(n_visible=N_VISIBLE, n_hidden=N_HIDDEN, W=plain_W, hbias=plain_c, vbias=plain_b, dtype="float64")
    vs = reference.all_binary_states(N_VISIBLE)
    hs = reference.all_binary_states(N_HIDDEN)
    # log p(v) of the centered model by enumerating every (v, h) ...
    joint = np.array([[-centered_energy(v, h, W, c, b, mu, lam) for h in hs] for v in vs])
    centered_log_p = logsumexp(joint, axis=1) - logsumexp(joint)
    # ... equals the plain model's, from its compiled free energy and exact log Z
    v_sym = model.input
    free_energy = compile_([v_sym], model.free_energy(v_sym))(vs)
    np.testing.assert_allclose(-free_energy - exact_log_partition(model).log_z, centered_log_p, rtol=1e-12, atol=1e-12)
    # free energies differ by one constant only
    differences = free_energy - (-logsumexp(joint, axis=1))
    np.testing.assert_allclose(differences, differences[0], atol=1e-12)
    # conditionals: p(h | v) = sigmoid(c + W^T (v - mu)), p(v | h) = sigmoid(b + W (h - lambda))
    h_sym = RBM(n_visible=N_VISIBLE, n_hidden=N_HIDDEN, dtype="float64").input  # any float64 matrix
    up = compile_([v_sym], model.propup(v_sym)[1])(vs)
    down = compile_([h_sym], model.propdown(h_sym)[1])(hs)
    np.testing.assert_allclose(up, expit(c + (vs - mu) @ W), rtol=1e-12)
    np.testing.assert_allclose(down, expit(b + (hs - lam) @ W.T), rtol=1e-12)


def test_from_plain_inverts_to_plain():
    W, c, b, mu, lam = random_centered(1)
    for got, expected in zip(from_plain(*to_plain(W, c, b, mu, lam), mu, lam), (W, c, b)):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def melchior_step(plain, mu, lam, v_data, v_model, lr, rate):
    """One PCD step of Melchior et al.'s algorithm 1 in centered coordinates (numpy), returned as plain + offsets."""
    W, c_plain, b_plain = plain
    _, c, b = from_plain(W, c_plain, b_plain, mu, lam)
    h_data = expit(v_data @ W + c_plain)
    new_mu = (1 - rate) * mu + rate * v_data.mean(axis=0)
    new_lam = (1 - rate) * lam + rate * h_data.mean(axis=0)
    # reparametrise so that the distribution stays the same under the new offsets
    b = b + W @ (new_lam - lam)
    c = c + W.T @ (new_mu - mu)
    h_model = expit(v_model @ W + c_plain)
    grad_W = ((v_data - new_mu).T @ (h_data - new_lam) - (v_model - new_mu).T @ (h_model - new_lam)) / len(v_data)
    W = W + lr * grad_W
    b = b + lr * (v_data - v_model).mean(axis=0)
    c = c + lr * (h_data - h_model).mean(axis=0)
    return (*to_plain(W, c, b, new_mu, new_lam), new_mu, new_lam)


@pytest.mark.parametrize("mode", ["cpu", "FAST_COMPILE"])  # NUMBA trains centered in test_checkpoint.py
def test_a_centered_step_is_melchiors_algorithm(mode):
    pytest.importorskip("jax") if mode == "cpu" else None
    rng = np.random.default_rng(4)
    model = RBM(n_visible=N_VISIBLE, n_hidden=N_HIDDEN, W=rng.normal(size=(N_VISIBLE, N_HIDDEN)),
                hbias=rng.normal(size=N_HIDDEN), vbias=rng.normal(size=N_VISIBLE), seed=0, dtype="float64")
    trainer = Trainer(model, learning_rate=0.3, k=1, batch_size=5, centering=True, centering_rate=0.2, mode=mode)
    mu, lam = rng.random(N_VISIBLE), rng.random(N_HIDDEN)
    trainer.visible_offset.set_value(mu)
    trainer.hidden_offset.set_value(lam)
    updates, _ = trainer._minibatch_updates(pt.lscalar("index"))
    v_data = (rng.random((5, N_VISIBLE)) < 0.5).astype(float)
    v_model = (rng.random((5, N_VISIBLE)) < 0.5).astype(float)
    targets = [*model.params, trainer.visible_offset, trainer.hidden_offset]
    got = compile_([model.input], fix_chain_end([updates[t] for t in targets], v_model), mode=mode)(v_data)
    expected = melchior_step(numpy_params(model), mu, lam, v_data, v_model, lr=0.3, rate=0.2)
    for name, g, e in zip(["W", "hbias", "vbias", "visible_offset", "hidden_offset"], got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12, err_msg=name)


def test_a_centered_tempered_step_is_melchiors_algorithm_on_the_ladders_chain_end():
    """With parallel tempering the chain end comes from the beta = 1 replicas; the centered step is unchanged.

    The chain end (replaced by fixed visible states) must be the one the ladder hands over, and the
    step must still take the centered gradient and move the offsets; the ladder must advance too.
    """
    rng = np.random.default_rng(5)
    model = RBM(n_visible=N_VISIBLE, n_hidden=N_HIDDEN, W=rng.normal(size=(N_VISIBLE, N_HIDDEN)),
                hbias=rng.normal(size=N_HIDDEN), vbias=rng.normal(size=N_VISIBLE), seed=0, dtype="float64")
    trainer = Trainer(model, learning_rate=0.3, k=1, batch_size=5, centering=True, centering_rate=0.2,
                      tempering=3, mode="cpu")
    mu, lam = rng.random(N_VISIBLE), rng.random(N_HIDDEN)
    trainer.visible_offset.set_value(mu)
    trainer.hidden_offset.set_value(lam)
    updates, cost = trainer._minibatch_updates(pt.lscalar("index"))
    assert trainer.tempering.chains in updates and trainer.tempering.step in updates
    assert trainer.tempering.chains in ancestors([chain_end_of([updates[model.W]])])  # the ladder's chain end
    v_data = (rng.random((5, N_VISIBLE)) < 0.5).astype(float)
    v_model = (rng.random((5, N_VISIBLE)) < 0.5).astype(float)
    targets = [*model.params, trainer.visible_offset, trainer.hidden_offset]
    got = compile_([model.input], fix_chain_end([updates[t] for t in targets], v_model), mode="cpu")(v_data)
    expected = melchior_step(numpy_params(model), mu, lam, v_data, v_model, lr=0.3, rate=0.2)
    for name, g, e in zip(["W", "hbias", "vbias", "visible_offset", "hidden_offset"], got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12, err_msg=name)


def test_fit_starts_offsets_at_the_data_means_and_keeps_a_plain_model():
    data = (np.random.default_rng(0).random((40, N_VISIBLE)) < 0.3).astype(float)
    model = RBM(n_visible=N_VISIBLE, n_hidden=N_HIDDEN, seed=0, dtype="float64")
    W0, c0 = model.W.get_value(), model.hbias.get_value()
    trainer = Trainer(model, learning_rate=0.05, batch_size=10, centering=True, centering_rate=1e-9,
                      mode="cpu", seed=0)
    trainer.fit(data, epochs=1, verbose=False)
    # a negligible rate leaves the offsets where the fit started them
    np.testing.assert_allclose(trainer.visible_offset.get_value(), data.mean(axis=0), atol=1e-8)
    np.testing.assert_allclose(trainer.hidden_offset.get_value(), expit(data @ W0 + c0).mean(axis=0), atol=1e-8)
    assert set(model.get_params()) == {"W", "hbias", "vbias"}


def test_centered_training_learns_a_tiny_distribution():
    """Centered PCD on four 6-bit patterns raises the exact log-likelihood well towards its best, log(1/4)."""
    patterns = np.array([[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1], [1, 0, 1, 0, 1, 0], [0, 1, 0, 1, 0, 1]], float)
    data = np.tile(patterns, (20, 1))
    model = RBM.from_data(data, n_hidden=4, seed=0, numpy_rng=np.random.default_rng(0), dtype="float64")
    before = reference.mean_log_likelihood(data, *numpy_params(model))
    Trainer(model, learning_rate=0.1, batch_size=8, n_chains=20, centering=True, mode="cpu",
            seed=0).fit(data, epochs=50, verbose=False)
    after = reference.mean_log_likelihood(data, *numpy_params(model))
    # measured in mode "cpu" with seeds 0, 1, 2: -4.16 -> -2.47, -2.26, -2.30 (the best possible is -1.39)
    assert after > before + 1.0, (before, after)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(centering=1), TypeError, "centering must be True or False"),
    (dict(centering=True, centering_rate=0.0), ValueError, "centering_rate must be > 0"),
    (dict(centering=True, centering_rate=1.5), ValueError, "centering_rate must be <= 1"),
])
def test_bad_centering_settings(kwargs, error, match):
    with pytest.raises(error, match=match):
        Trainer(RBM(n_visible=3, n_hidden=2), **kwargs)


def test_gaussian_rbm_is_refused():
    from rbm import GaussianBernoulliRBM
    with pytest.raises(ValueError, match="binary visible units"):
        Trainer(GaussianBernoulliRBM(n_visible=3, n_hidden=2), centering=True)
