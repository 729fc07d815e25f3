"""The Gaussian-Bernoulli RBM against numpy, brute force over hidden states and numerical integration."""
import numpy as np
import pytest
from scipy import integrate
from scipy.special import expit, logsumexp

import rbm
from rbm import backend, evaluation
from rbm.backend import pt

from .. import reference

TOLERANCE = {"float32": dict(rtol=2e-5, atol=2e-4), "float64": dict(rtol=1e-12, atol=1e-10)}


def gaussian_model(n_visible=5, n_hidden=4, dtype="float64", seed=0, learn_sigma=False):
    rng = np.random.default_rng(seed)
    return rbm.GaussianBernoulliRBM(n_visible=n_visible, n_hidden=n_hidden, W=0.7 * rng.normal(size=(n_visible, n_hidden)),
                                    hbias=rng.normal(size=n_hidden), vbias=rng.normal(size=n_visible),
                                    sigma=rng.uniform(0.5, 1.5, size=n_visible), learn_sigma=learn_sigma,
                                    seed=seed, dtype=dtype)


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


def test_exact_log_partition_equals_numerical_integration():
    model = gaussian_model(n_visible=2, n_hidden=3, seed=4)
    density = lambda y, x: np.exp(-evaluation.free_energy(model, np.array([[x, y]]))[0])  # noqa: E731
    integral, _ = integrate.dblquad(density, -20, 20, -20, 20, epsabs=1e-11)
    np.testing.assert_allclose(evaluation.exact_log_partition(model), np.log(integral), rtol=1e-9)


@pytest.mark.parametrize("mode", ["NUMBA", "cpu"])
def test_ais_brackets_the_exact_log_partition(mode):
    model = gaussian_model(n_visible=6, n_hidden=8, seed=5)
    exact = evaluation.exact_log_partition(model)
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


def test_training_lowers_the_reconstruction_error_and_learns_sigma():
    rng = np.random.default_rng(7)
    sources = rng.normal(size=(600, 2))
    data = sources @ rng.normal(size=(2, 6)) * 2.0 + 0.1 * rng.normal(size=(600, 6))
    model = rbm.GaussianBernoulliRBM(n_visible=6, n_hidden=10, learn_sigma=True, numpy_rng=1, seed=1,
                                     dtype="float64")
    assert model.params[-1] is model.log_sigma
    history = rbm.Trainer(model, learning_rate=0.02, k=1, batch_size=20, mode="NUMBA").fit(data, epochs=30,
                                                                                           verbose=False)
    assert history[-1]["cost"] < 0.5 * history[0]["cost"]
    assert np.all(np.abs(model.get_sigma() - 1.0) > 0.2)  # sigma moved from its start


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
