"""The Gaussian-Bernoulli RBM against numpy, brute force over hidden states and numerical integration."""
import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import expit, logsumexp

import rbm
from rbm import backend, evaluation
from rbm.backend import pt

from .. import reference
from .test_rbm import chain_end_of, fix_chain_end

TOLERANCE = {"float32": dict(rtol=2e-5, atol=2e-4), "float64": dict(rtol=1e-12, atol=1e-10)}


def gaussian_model(n_visible=5, n_hidden=4, dtype="float64", seed=0, learn_sigma=False):
    rng = np.random.default_rng(seed)
    return rbm.GaussianBernoulliRBM(n_visible=n_visible, n_hidden=n_hidden,
                                    W=0.7 * rng.normal(size=(n_visible, n_hidden)),
                                    hbias=rng.normal(size=n_hidden), vbias=rng.normal(size=n_visible),
                                    sigma=rng.uniform(0.5, 1.5, size=n_visible), learn_sigma=learn_sigma,
                                    seed=seed, dtype=dtype)


def slow_gaussian_rbm():
    """A 2-3 Gaussian-Bernoulli RBM whose hidden chain forgets its start slowly (second eigenvalue 0.5).

    Two visible units keep the quadrature of reference.gaussian_hidden_kernel exact to ~1e-10; the
    hidden states' distribution is spread (every state between 0.03 and 0.32).
    """
    rng = np.random.default_rng(4)
    return rbm.GaussianBernoulliRBM(n_visible=2, n_hidden=3, W=rng.normal(size=(2, 3)), hbias=rng.normal(size=3),
                                    vbias=rng.normal(size=2), sigma=np.array([0.6, 1.4]), seed=0, dtype="float64")


def numpy_params(model):
    return [p.get_value().astype(np.float64) for p in (model.W, model.hbias, model.vbias)] + [model.get_sigma()]


def energy(v, h, W, hbias, vbias, sigma):
    """E(v, h) for every pair of rows: (len(v), len(h))."""
    return ((((v - vbias) / sigma) ** 2 / 2).sum(axis=1)[:, None] - (h @ hbias)[None, :]
            - (v / sigma) @ W @ h.T)


def test_free_energy_and_conditionals_match_numpy(mode, dtype):
    model = gaussian_model(dtype=dtype)
    W, hbias, vbias, sigma = numpy_params(model)
    v, h = pt.matrix(dtype=dtype), pt.matrix(dtype=dtype)
    data_v = np.random.default_rng(1).normal(size=(6, 5)).astype(dtype)
    data_h = (np.random.default_rng(2).random((6, 4)) < 0.5).astype(dtype)
    free, pre_h, mean_h = backend.compile_function([v], [model.free_energy(v), *model.propup(v)], mode=mode)(data_v)
    mean_v = backend.compile_function([h], model.propdown(h)[1], mode=mode)(data_h)
    x = data_v.astype(float)
    expected = (((x - vbias) / sigma) ** 2 / 2).sum(axis=1) - np.logaddexp(0, (x / sigma) @ W + hbias).sum(axis=1)
    np.testing.assert_allclose(free, expected, **TOLERANCE[dtype])
    np.testing.assert_allclose(mean_h, expit((x / sigma) @ W + hbias), **TOLERANCE[dtype])
    np.testing.assert_allclose(mean_v, vbias + sigma * (data_h @ W.T), **TOLERANCE[dtype])


def test_free_energy_sums_the_energy_over_hidden_states():
    model = gaussian_model()
    params = numpy_params(model)
    v = np.random.default_rng(3).normal(size=(7, 5))
    brute = -logsumexp(-energy(v, reference.all_binary_states(4), *params), axis=1)
    np.testing.assert_allclose(evaluation.free_energy(model, v), brute, rtol=1e-12)


def test_exact_log_partition_equals_numerical_integration(monkeypatch):
    """In one batch of hidden states, and in batches of 3 (3 + 3 + 2 of the 8 states)."""
    model = gaussian_model(n_visible=2, n_hidden=3, seed=4)
    density = lambda y, x: np.exp(-evaluation.free_energy(model, np.array([[x, y]]))[0])  # noqa: E731
    integral, _ = integrate.dblquad(density, -20, 20, -20, 20, epsabs=1e-11)
    np.testing.assert_allclose(evaluation.exact_log_partition(model).log_z, np.log(integral), rtol=1e-9)
    monkeypatch.setattr(evaluation, "_STATES_PER_BATCH", 3)
    np.testing.assert_allclose(evaluation.exact_log_partition(model).log_z, np.log(integral), rtol=1e-9)


def test_exact_log_partition_sums_several_batches_of_hidden_states(monkeypatch):
    """32 hidden states in batches of 7 (four full, one partial) against the closed form of reference.py."""
    monkeypatch.setattr(evaluation, "_STATES_PER_BATCH", 7)
    model = gaussian_model(n_visible=4, n_hidden=5, seed=8)
    expected = logsumexp(reference.gaussian_hidden_log_weights(*numpy_params(model)))
    np.testing.assert_allclose(evaluation.exact_log_partition(model).log_z, expected, rtol=1e-12)


@pytest.mark.parametrize("mode", ["NUMBA", "cpu"])
def test_ais_brackets_the_exact_log_partition(mode):
    model = gaussian_model(n_visible=6, n_hidden=8, seed=5)
    exact = evaluation.exact_log_partition(model).log_z
    result = evaluation.ais_log_partition(model, n_runs=100, betas=np.linspace(0, 1, 1000), seed=2, mode=mode)
    assert result.log_z_low <= exact <= result.log_z_high
    assert abs(result.log_z - exact) < 0.1


def test_mean_log_likelihood_is_a_normalised_log_density():
    """Integrating exp(log p(v)) over the plane gives 1."""
    model = gaussian_model(n_visible=2, n_hidden=3, seed=6)
    log_z = evaluation.exact_log_partition(model)
    density = lambda y, x: np.exp(evaluation.mean_log_likelihood(model, np.array([[x, y]]), log_z))  # noqa: E731
    total, _ = integrate.dblquad(density, -20, 20, -20, 20, epsabs=1e-11)
    assert total == pytest.approx(1.0, rel=1e-8)


def test_visible_samples_have_the_conditional_mean_and_sigma(mode):
    model = gaussian_model(dtype="float64")
    W, hbias, vbias, sigma = numpy_params(model)
    h = pt.matrix(dtype="float64")
    draw = backend.compile_function([h], model.sample_v_given_h(h)[2], mode=mode)
    hidden = np.tile([[1.0, 0.0, 1.0, 1.0]], (20000, 1))
    first, second = draw(hidden), draw(hidden)
    mean = vbias + sigma * (hidden[0] @ W.T)
    np.testing.assert_allclose(first.mean(axis=0), mean, atol=5 * sigma.max() / np.sqrt(20000))
    np.testing.assert_allclose(first.std(axis=0), sigma, rtol=0.03)
    assert not np.array_equal(first, second)


def test_pcd_chain_follows_the_exact_hidden_chain_and_visible_conditionals():
    """The training chain (PCD-1 from h = 0) of a 2-3 model, 40,000 independent chains.

    After call n the persistent hidden states follow row 0 of T^n, T the exact hidden chain of
    reference.gaussian_hidden_kernel; after 12 calls (a burn-in: T^12 is within 1e-3 of
    equilibrium) the closed-form p(h) of enumerating h. Given the hidden state a call started from,
    the chain end (the visible states the gradient reads) has mean b + sigma (W h) and variance sigma^2.
    """
    model = slow_gaussian_rbm()
    W, hbias, vbias, sigma = numpy_params(model)
    transition = reference.gaussian_hidden_kernel(W, hbias, vbias, sigma)
    log_p = reference.gaussian_hidden_log_weights(W, hbias, vbias, sigma)
    equilibrium = np.exp(log_p - logsumexp(log_p))
    n_chains = 40000
    persistent = backend.shared(np.zeros((n_chains, 3)), "persistent", "float64")
    _, gradients, updates = model.get_cost_gradients(persistent=persistent, k=1)
    step = backend.compile_function([], chain_end_of(gradients), updates=updates, mode="cpu")
    threshold = reference.tv_threshold(n_chains, 8)
    after = lambda n: np.linalg.matrix_power(transition, n)[0]
    assert 0.5 * np.abs(after(12) - equilibrium).sum() < 1e-3
    for call in range(1, 13):
        h_before = reference.state_index(np.asarray(persistent.get_value()))
        v = step()
        h_after = reference.state_index(np.asarray(persistent.get_value()))
        if call in (1, 2):
            for wrong in {1: (0, 2, 12), 2: (1, 12)}[call]:  # a step fewer or more, or equilibrium, would fail
                assert 0.5 * np.abs(after(call) - after(wrong)).sum() > 3 * threshold
            assert reference.total_variation(h_after, after(call)) < threshold, call
        if call == 2:
            check_visible_given_hidden(v, h_before, vbias, sigma, W)
    assert reference.total_variation(h_after, equilibrium) < threshold


def check_visible_given_hidden(v, hidden_index, vbias, sigma, W):
    """Rows of ``v`` grouped by their hidden state h: mean b + sigma (W h) and variance sigma^2.

    The bounds are exact for normal draws: the mean within 5.5 standard errors, and (n - 1) s^2 / sigma^2
    within the 1e-8 and 1 - 1e-8 quantiles of chi-squared with n - 1 degrees of freedom.
    """
    hidden = reference.all_binary_states(W.shape[1])
    checked = 0
    for state in np.unique(hidden_index):
        rows = v[hidden_index == state]
        n = len(rows)
        if n < 500:
            continue
        checked += 1
        mean = vbias + sigma * (W @ hidden[state])
        assert np.all(np.abs(rows.mean(axis=0) - mean) < 5.5 * sigma / np.sqrt(n)), (state, rows.mean(axis=0), mean)
        scaled = (n - 1) * rows.var(axis=0, ddof=1) / sigma ** 2
        assert np.all((stats.chi2.ppf(1e-8, n - 1) < scaled) & (scaled < stats.chi2.ppf(1 - 1e-8, n - 1))), state
    assert checked >= 4


def test_training_lowers_the_reconstruction_error_and_learns_sigma():
    rng = np.random.default_rng(7)
    sources = rng.normal(size=(600, 2))
    data = sources @ rng.normal(size=(2, 6)) * 2.0 + 0.1 * rng.normal(size=(600, 6))
    model = rbm.GaussianBernoulliRBM(n_visible=6, n_hidden=10, learn_sigma=True, numpy_rng=1, seed=1,
                                     dtype="float64")
    assert model.params[-1] is model.log_sigma
    history = rbm.Trainer(model, learning_rate=0.02, k=1, batch_size=20, mode="cpu").fit(data, epochs=30,
                                                                                           verbose=False)
    assert history[-1]["cost"] < 0.5 * history[0]["cost"]
    # sigma is learnt (its step is checked against numpy below): it left its start. (A bound on how far
    # would be a tuned number: one unit moved 0.196 in mode "cpu", all above 0.2 in NUMBA.)
    assert not np.any(np.isclose(model.get_sigma(), 1.0, rtol=1e-3))


def test_monitored_cost_is_the_mean_squared_error_of_the_mean_field_reconstruction():
    """The cost CD and PCD training report: mean over all entries of (x - r)^2, r = b + sigma (p(h | x) W^T)
    the mean-field reconstruction, p(h | x) = sigmoid((x / sigma) W + c) (numpy)."""
    model = gaussian_model()
    W, hbias, vbias, sigma = numpy_params(model)
    cost, _, _ = model.get_cost_gradients(k=1)
    data = 2.0 * np.random.default_rng(10).normal(size=(6, 5))
    got = backend.compile_function([model.input], cost, mode="FAST_COMPILE")(data)
    reconstruction = vbias + sigma * (expit((data / sigma) @ W + hbias) @ W.T)
    np.testing.assert_allclose(got, np.mean((data - reconstruction) ** 2), **TOLERANCE["float64"])


def numpy_free_energy(v, W, hbias, vbias, log_sigma):
    """F(v) = sum_i (v_i - b_i)^2 / (2 sigma_i^2) - sum_j softplus(c_j + sum_i (v_i / sigma_i) W_ij), per row."""
    sigma = np.exp(log_sigma)
    return (((v - vbias) / sigma) ** 2 / 2).sum(axis=1) - np.logaddexp(0, (v / sigma) @ W + hbias).sum(axis=1)


def test_a_learn_sigma_step_follows_the_free_energy_gradient():
    """One step of the trainer (chain end fixed) moves W, c, b and log sigma by -lr times the gradient of
    mean F(data) - mean F(chain end), the gradient taken by central differences of numpy's F."""
    rng = np.random.default_rng(9)
    model = gaussian_model(n_visible=3, n_hidden=2, learn_sigma=True, seed=9)
    trainer = rbm.Trainer(model, learning_rate=0.1, batch_size=4, mode="cpu")
    updates, _ = trainer._minibatch_updates(pt.lscalar("index"))
    v_data, v_model = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    step = backend.compile_function([model.input], fix_chain_end([updates[p] for p in model.params], v_model),
                                    mode="cpu")
    params = [np.asarray(p.get_value(), dtype=np.float64) for p in model.params]  # W, hbias, vbias, log_sigma
    cost = lambda values: (numpy_free_energy(v_data, *values).mean()  # noqa: E731
                           - numpy_free_energy(v_model, *values).mean())
    for k, (name, got) in enumerate(zip(("W", "hbias", "vbias", "log_sigma"), step(v_data))):
        gradient = np.zeros_like(params[k])
        for index in np.ndindex(params[k].shape):
            up, down = [p.copy() for p in params], [p.copy() for p in params]
            up[k][index] += 1e-6
            down[k][index] -= 1e-6
            gradient[index] = (cost(up) - cost(down)) / 2e-6
        assert np.abs(gradient).max() > 1e-2, name  # a real step
        np.testing.assert_allclose(got, params[k] - 0.1 * gradient, rtol=1e-7, atol=1e-8, err_msg=name)


def test_save_and_load_keep_sigma(tmp_path):
    model = gaussian_model()
    path = str(tmp_path / "grbm.npz")
    model.save(path)
    loaded = rbm.GaussianBernoulliRBM.load(path)
    np.testing.assert_allclose(loaded.get_sigma(), model.get_sigma(), rtol=1e-15)
    for name, value in model.get_params().items():
        np.testing.assert_array_equal(loaded.get_params()[name], value)
    with pytest.raises(ValueError, match="not a 'rbm.RBM'"):
        rbm.RBM.load(path)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(sigma=-1.0), ValueError, "sigma must be > 0"),
    (dict(sigma=np.ones(3)), ValueError, "sigma must have shape"),
    (dict(sigma=np.array([1.0, np.nan, 1.0, 1.0, 1.0])), ValueError, "NaN"),
    (dict(learn_sigma="yes"), TypeError, "learn_sigma"),
])
def test_bad_constructor_arguments_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        rbm.GaussianBernoulliRBM(n_visible=5, n_hidden=2, **kwargs)


def test_bad_data_is_refused_and_changes_nothing():
    model = gaussian_model()
    before = model.get_params()
    trainer = rbm.Trainer(model, batch_size=2, mode="NUMBA")
    for data, match in ((np.ones((4, 3)), "3 columns but the model has 5"),
                        (np.full((4, 5), np.inf), "NaN or infinite"),
                        (np.ones((0, 5)), "empty")):
        with pytest.raises(ValueError, match=match):
            trainer.fit(data, verbose=False)
    with pytest.raises(ValueError, match="sigma must be > 0"):
        model.set_params(W=np.zeros((5, 4)), sigma=np.zeros(5))
    for name, value in model.get_params().items():
        np.testing.assert_array_equal(value, before[name])
    with pytest.raises(TypeError, match="pseudo-likelihood"):
        model.get_pseudo_likelihood_cost({})
