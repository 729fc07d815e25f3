"""Unit types as layers (rbm.layers): every composition against brute-force enumeration of a tiny model.

The references here are written from the energy alone, E(v, h) = e(v) - h.c - s(v) W h, with every
state enumerated by itertools (Gaussian visible units: numerical integration on a grid), never from
rbm's own formulas.
"""
import itertools
import os
import tempfile

import numpy as np
import pytest
from scipy.special import logsumexp

import rbm
from rbm import backend, evaluation
from rbm.backend import pt
from rbm.layers import Bernoulli, Categorical, Gaussian

from .reference import total_variation, tv_threshold

K = 3


def one_hot_states(n_variables, n_categories):
    """Every complete one-hot row of ``n_variables`` categorical variables."""
    rows = []
    for codes in itertools.product(range(n_categories), repeat=n_variables):
        row = np.zeros(n_variables * n_categories)
        row[np.arange(n_variables) * n_categories + np.array(codes)] = 1
        rows.append(row)
    return np.array(rows)


def hidden_states(n_hidden):
    return np.array(list(itertools.product([0.0, 1.0], repeat=n_hidden)))


def categorical_model(n_visible=2, n_hidden=3, seed=0, scale=1.0, dtype="float64"):
    rng = np.random.default_rng(seed)
    return rbm.RBM(n_visible=n_visible, n_hidden=n_hidden, visible=Categorical(K), dtype=dtype, seed=seed,
                   W=scale * rng.normal(size=(n_visible * K, n_hidden)), hbias=rng.normal(size=n_hidden),
                   vbias=rng.normal(size=n_visible * K))


def params(model):
    return [np.asarray(p.get_value(), dtype=np.float64) for p in (model.W, model.hbias, model.vbias)]


def brute_free_energy(v, W, c, b, scaled=None, visible_term=None):
    """-log sum_h exp(-E(v, h)), E = visible_term(v) - h.c - scaled(v) W h, over every binary h."""
    scaled = v if scaled is None else scaled
    visible_term = -v @ b if visible_term is None else visible_term
    h = hidden_states(W.shape[1])
    return visible_term - logsumexp(h @ c + scaled @ W @ h.T, axis=1)


# ------------------------------------------------------------------------------------------- graphs, every mode
@pytest.fixture(scope="module")
def compiled_categorical():
    """One function per mode: (v, h) -> [F(v), p(h | v), p(v | h), a one-hot draw of v | h]."""
    model = categorical_model()
    v, h = model.input, pt.matrix("h", dtype="float64")
    cache = {}

    def get(mode):
        if mode not in cache:
            outputs = [model.free_energy(v), model.propup(v)[1], *model.sample_v_given_h(h)[1:]]
            cache[mode] = backend.compile_function([v, h], outputs, mode=mode)
        return cache[mode]
    return model, get


def test_categorical_graphs_match_brute_force(compiled_categorical, mode):
    model, get = compiled_categorical
    W, c, b = params(model)
    states = one_hot_states(2, K)
    h = np.resize(hidden_states(3), (len(states), 3))
    free_energy, p_h, p_v, draw = get(mode)(states, h)
    np.testing.assert_allclose(free_energy, brute_free_energy(states, W, c, b), rtol=1e-10)
    # p(h_j = 1 | v) from the joint over h
    all_h = hidden_states(3)
    log_joint = all_h @ c + states @ W @ all_h.T  # (states, h)
    posterior = np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True))
    np.testing.assert_allclose(p_h, posterior @ all_h, rtol=1e-10)
    # p(v | h) by enumerating the complete rows: the probability that variable i takes category k
    log_v = (states @ b)[:, None] + states @ W @ h.T  # (states, rows of h)
    p_states = np.exp(log_v - logsumexp(log_v, axis=0))
    np.testing.assert_allclose(p_v, p_states.T @ states, rtol=1e-10)
    np.testing.assert_array_equal(draw.reshape(len(h), 2, K).sum(axis=2), 1)  # one category on per group


def test_gaussian_layer_matches_brute_force_and_the_named_composition():
    rng = np.random.default_rng(1)
    W, c, b, sigma = rng.normal(size=(2, 3)), rng.normal(size=3), rng.normal(size=2), np.array([0.5, 1.5])
    composed = rbm.RBM(n_visible=2, n_hidden=3, W=W, hbias=c, vbias=b, visible=Gaussian(sigma), dtype="float64")
    named = rbm.GaussianBernoulliRBM(n_visible=2, n_hidden=3, W=W, hbias=c, vbias=b, sigma=sigma, dtype="float64")
    v = rng.normal(size=(5, 2))
    expected = brute_free_energy(v, W, c, b, scaled=v / sigma,
                                 visible_term=(((v - b) / sigma) ** 2 / 2).sum(axis=1))
    for model in (composed, named):
        np.testing.assert_allclose(evaluation.free_energy(model, v), expected, rtol=1e-10)
    # log Z: a sum over h of a numerical integral over a fine grid of v
    grid = np.linspace(-12, 12, 1201)
    v1, v2 = np.meshgrid(grid, grid, indexing="ij")
    points = np.stack([v1.ravel(), v2.ravel()], axis=1)
    log_density = -brute_free_energy(points, W, c, b, scaled=points / sigma,
                                     visible_term=(((points - b) / sigma) ** 2 / 2).sum(axis=1))
    log_z_grid = logsumexp(log_density) + 2 * np.log(grid[1] - grid[0])
    for model in (composed, named):
        assert evaluation.exact_log_partition(model).log_z == pytest.approx(log_z_grid, abs=1e-6)


@pytest.mark.parametrize("n_hidden", [2, 6])  # 2^2 < 3^2 states: enumerate h; 2^6 > 3^2: enumerate v
def test_categorical_exact_log_z_matches_brute_force_over_every_state(n_hidden):
    model = categorical_model(n_visible=2, n_hidden=n_hidden, seed=n_hidden)
    W, c, b = params(model)
    v, h = one_hot_states(2, K), hidden_states(n_hidden)
    brute = logsumexp(v @ b[:, None] + (h @ c)[None, :] + v @ W @ h.T)
    result = evaluation.exact_log_partition(model)
    assert result.log_z == pytest.approx(brute, abs=1e-10)
    assert result.n_states == min(len(v), len(h))


# ------------------------------------------------------------------------------------------------ missing values
def test_a_missing_value_is_absent_from_the_rows_model():
    """F and p(h | v) of a row with variable 1 missing equal those of the RBM without variable 1."""
    model = categorical_model(n_visible=3, n_hidden=3, seed=2)
    W, c, b = params(model)
    row = np.zeros((1, 3 * K))
    row[0, [0 * K + 2, 2 * K + 1]] = 1  # variable 0 = 2, variable 1 missing, variable 2 = 1
    keep = np.r_[0:K, 2 * K:3 * K]
    restricted = brute_free_energy(row[:, keep], W[keep], c, b[keep])
    np.testing.assert_allclose(evaluation.free_energy(model, row), restricted, rtol=1e-12)
    v = model.input
    p_h = backend.compile_function([v], model.propup(v)[1], mode="FAST_COMPILE")(row)
    np.testing.assert_allclose(p_h[0], 1 / (1 + np.exp(-(row[:, keep] @ W[keep] + c)[0])), rtol=1e-12)
    with pytest.raises(ValueError, match="row 0 has missing values"):
        evaluation.mean_log_likelihood(model, row, 0.0)


def test_missing_values_take_part_in_neither_phase_of_cd():
    """With variable 1 missing in every row, CD-k's gradients of its weights and biases are exactly zero."""
    model = categorical_model(n_visible=3, n_hidden=4, seed=3)
    _, gradients, updates = model.get_cost_gradients(k=2)
    step = backend.compile_function([model.input], gradients[:3], updates=updates, mode="FAST_COMPILE")
    rng = np.random.default_rng(0)
    data = np.zeros((50, 3 * K))
    for variable in (0, 2):
        data[np.arange(50), variable * K + rng.integers(K, size=50)] = 1
    grad_W, grad_c, grad_b = step(data)
    np.testing.assert_array_equal(grad_W[K:2 * K], 0)
    np.testing.assert_array_equal(grad_b[K:2 * K], 0)
    assert np.abs(grad_W[:K]).max() > 1e-3 and np.abs(grad_b[:K]).max() > 1e-3  # the observed ones do move


# ---------------------------------------------------------------------------------------------------- sampling
def test_categorical_gibbs_chains_reach_the_exact_distribution():
    """Chains started far from equilibrium: the visible states after 30 steps against exact p(v).

    30 steps of this 2-variable model (weights of scale 0.7) bring each chain within ~1e-6 of
    equilibrium in total variation (its two-step kernel's second eigenvalue is below 0.5), so the
    draws are as good as exact ones and the threshold is the sampling error's (tv_threshold).
    """
    model = categorical_model(n_visible=2, n_hidden=2, seed=4, scale=0.7)
    W, c, b = params(model)
    states = one_hot_states(2, K)
    log_p = states @ b + np.logaddexp(0, states @ W + c).sum(axis=1)
    p = np.exp(log_p - logsumexp(log_p))
    n_chains = 4000
    start = np.tile(states[0], (n_chains, 1))
    v = model.input
    with model.drawing_from(backend.shared_rng(0)) as rng_updates:
        visible_samples = model.gibbs_chain(v, 30, "vhv")[5]  # the columns layout of training's chains
    samples = backend.compile_function([v], visible_samples[-1], updates=rng_updates, mode="cpu")(start)
    assert np.all(samples.reshape(n_chains, 2, K).sum(axis=2) == 1)
    codes = samples.reshape(n_chains, 2, K).argmax(axis=2) @ np.array([K, 1])  # itertools order: first varies slowest
    assert total_variation(codes, p) < tv_threshold(n_chains, len(states))


# ------------------------------------------------------------------------------------------------- evaluation
def test_ais_brackets_the_exact_log_z_of_a_categorical_rbm():
    model = categorical_model(n_visible=3, n_hidden=4, seed=5, scale=0.5)
    exact = evaluation.exact_log_partition(model).log_z
    base_rate = one_hot_states(3, K)[::5]
    for rate in (None, base_rate):
        result = evaluation.ais_log_partition(model, n_runs=200, betas=np.linspace(0, 1, 300), base_rate=rate,
                                              seed=0, mode="cpu")
        assert result.log_z_low <= exact <= result.log_z_high, (rate is None, result, exact)


def test_training_raises_the_exact_log_likelihood_of_categorical_data():
    rng = np.random.default_rng(6)
    codes = rng.integers(K, size=(300, 1))
    codes = np.hstack([codes, (codes + (rng.random((300, 1)) < 0.2)) % K, rng.integers(K, size=(300, 1))])
    data = np.eye(K)[codes].reshape(300, 3 * K)  # variable 1 copies variable 0 80% of the time
    model = rbm.RBM(n_visible=3, n_hidden=4, visible=Categorical(K), numpy_rng=0, seed=0, dtype="float64")

    def exact_log_likelihood():
        return evaluation.mean_log_likelihood(model, data, evaluation.exact_log_partition(model))

    before = exact_log_likelihood()
    rbm.Trainer(model, learning_rate=0.1, k=1, persistent=False, batch_size=10, seed=0).fit(data, epochs=20)
    after = exact_log_likelihood()
    # independent variables with the data's marginals: the best a model without the 0-1 coupling does
    marginals = data.mean(axis=0).reshape(3, K)
    independent = np.mean(np.log(marginals.ravel()[None, :] ** data).sum(axis=1))
    assert after > independent + 0.2, (before, after, independent)  # the coupling is worth ~0.5 nats


# ------------------------------------------------------------------------------------------- files, bad input
@pytest.mark.parametrize("visible", [Categorical(4), Gaussian(sigma=0.5, learn_sigma=True)], ids=repr)
def test_model_files_keep_the_layer(visible):
    model = rbm.RBM(n_visible=3, n_hidden=2, visible=visible, numpy_rng=0, seed=0, dtype="float64")
    if isinstance(visible, Gaussian):
        model.set_params(log_sigma=np.log([0.3, 0.6, 0.9]))
    path = os.path.join(tempfile.mkdtemp(), "model.npz")
    model.save(path)
    loaded = rbm.RBM.load(path)
    assert loaded.visible == model.visible and loaded.params.__len__() == model.params.__len__()
    for name, value in model.get_params().items():
        np.testing.assert_array_equal(loaded.get_params()[name], value)


def test_bad_layers_and_data_are_refused():
    with pytest.raises(ValueError, match="n_categories"):
        Categorical(1)
    with pytest.raises(TypeError, match="hidden units must be rbm.layers.Bernoulli"):
        rbm.RBM(n_visible=2, n_hidden=2, hidden=Gaussian())
    with pytest.raises(TypeError, match="visible must be an unbound"):
        rbm.RBM(n_visible=2, n_hidden=2, visible="categorical")
    model = categorical_model()
    with pytest.raises(ValueError, match="row 1, variable 0: more than one category"):
        model.check_data([[1, 0, 0, 0, 1, 0], [1, 1, 0, 0, 0, 1]])
    with pytest.raises(ValueError, match="one-hot"):
        model.check_data([[0.5, 0.5, 0, 0, 1, 0]])
    with pytest.raises(ValueError, match="centering is implemented for binary visible units"):
        rbm.Trainer(model, centering=True)
    with pytest.raises(TypeError, match="pseudo-likelihood"):
        model.get_pseudo_likelihood_cost({})
    assert Bernoulli() == Bernoulli() and Categorical(3) != Categorical(4)


# ------------------------------------------------------------------------------ draws, monitoring, base models
def test_categorical_draws_invert_the_cumulative_probabilities():
    """Given its uniform u, a group's draw is the first category k with u < p_0 + ... + p_k, in both layouts.

    The means of the first group sum to 0.99, as rounding can leave them a little under 1: a u above
    their sum must still draw the last category, never leave the group all zero. Then real draws:
    one-hot rows whose category frequencies, over 20,000 rows, lie within 5 standard errors of p(v | h).
    """
    layer = Categorical(K).bind(2, "float64")
    group_means = np.array([[0.2, 0.3, 0.49], [0.5, 0.25, 0.25]])  # (variable, category)
    u = np.array([0.0, 0.19, 0.2, 0.49, 0.5, 0.989, 0.995, 0.9999])
    means = np.tile(group_means.ravel(), (len(u), 1))  # one row per u, the same u for both groups
    # the inverse cumulative distribution, the last cumulative probability taken as 1
    cumulative = np.cumsum(group_means, axis=1)
    cumulative[:, -1] = 1.0
    expected_codes = (u[:, None, None] >= cumulative[None, :, :]).sum(axis=2)  # (rows, variable)
    expected = np.eye(K)[expected_codes].reshape(len(u), 2 * K)
    mean = pt.matrix("mean", dtype="float64")
    rows_uniform = pt.as_tensor(np.repeat(u[:, None, None], 2, axis=1))  # (rows, variable, 1)
    columns_uniform = pt.as_tensor(np.repeat(u[None, None, :], 2, axis=0))  # (variable, 1, columns)
    by_rows = layer.sample(mean, lambda shape: rows_uniform, None)
    by_columns = layer.sample(mean.T, lambda shape: columns_uniform, None, unit_axis=0)
    got_rows, got_columns = backend.compile_function([mean], [by_rows, by_columns], mode="FAST_COMPILE")(means)
    np.testing.assert_array_equal(got_rows, expected)
    np.testing.assert_array_equal(got_columns.T, expected)

    model = categorical_model(n_visible=2, n_hidden=3, seed=7)
    W, _, b = params(model)
    h = pt.matrix("h", dtype="float64")
    draw = backend.compile_function([h], model.sample_v_given_h(h)[2], mode="FAST_COMPILE")
    hidden = np.tile([[1.0, 0.0, 1.0]], (20000, 1))
    samples = draw(hidden)
    assert set(np.unique(samples)) <= {0.0, 1.0}
    np.testing.assert_array_equal(samples.reshape(-1, 2, K).sum(axis=2), 1)
    activation = (hidden[0] @ W.T + b).reshape(2, K)
    p = np.exp(activation - logsumexp(activation, axis=1, keepdims=True)).ravel()
    np.testing.assert_allclose(samples.mean(axis=0), p, atol=5 * np.sqrt(0.25 / 20000))


def test_categorical_cd_monitors_the_log_probability_of_the_mean_field_reconstruction():
    """CD's monitored cost: mean over rows of sum over observed variables of log softmax(a)_(x's category),
    a = p(h | x) W^T + b, written out in numpy; row 1 has variable 2 missing."""
    model = categorical_model(n_visible=3, n_hidden=4, seed=8)
    W, c, b = params(model)
    data = np.zeros((3, 3 * K))
    data[0, [0, K + 1, 2 * K + 2]] = 1
    data[1, [2, K]] = 1
    data[2, [1, K + 2, 2 * K]] = 1
    cost, _, _ = model.get_cost_gradients(k=1)
    got = backend.compile_function([model.input], cost, mode="FAST_COMPILE")(data)
    activation = (1 / (1 + np.exp(-(data @ W + c))) @ W.T + b).reshape(3, 3, K)
    log_softmax = activation - logsumexp(activation, axis=2, keepdims=True)
    assert got == pytest.approx(np.mean(np.sum(data.reshape(3, 3, K) * log_softmax, axis=(1, 2))), rel=1e-12)


@pytest.mark.parametrize("layer", [Bernoulli(), Categorical(K), Gaussian(sigma=np.array([0.5, 1.5]))], ids=repr)
def test_base_models_match_the_data_marginals_and_brute_force_log_z(layer):
    """AIS's base model (no weights) from training rows: its marginals are the rows' unit means (binary) or
    each variable's category frequencies among its observed values (categorical), its log Z is the sum
    over every state (a grid integral for Gaussian units), and its draws follow it.

    20,000 draws: the total variation to the exact distribution lies under tv_threshold; Gaussian draws'
    means within 5 standard errors.
    """
    layer = layer.bind(2, "float64")
    rng = np.random.default_rng(9)
    n_draws = 20000
    if isinstance(layer, Gaussian):
        sigma = np.array([0.5, 1.5])
        with pytest.raises(ValueError, match="base_rate must be None"):
            layer.base_bias_from_data(rng.normal(size=(5, 2)))
        np.testing.assert_array_equal(layer.base_bias_from_data(None), 0)
        grid = np.linspace(-20, 20, 40001)
        vbias = np.array([0.3, -1.0])
        integrals = [np.log(np.exp(-(grid - b) ** 2 / (2 * s ** 2)).sum() * (grid[1] - grid[0]))
                     for b, s in zip(vbias, sigma)]
        assert layer.base_log_partition(np.zeros(2)) == pytest.approx(sum(integrals), abs=1e-9)
        draws = layer.sample_base(np.zeros(2), vbias, n_draws, rng)
        assert np.all(np.abs(draws.mean(axis=0) - vbias) < 5 * sigma / np.sqrt(n_draws))
        np.testing.assert_allclose(draws.std(axis=0), sigma, rtol=0.03)
        return
    if isinstance(layer, Bernoulli):
        data = (rng.random((200, 2)) < [0.2, 0.7]).astype(float)
        states = hidden_states(2)  # every binary pair
        marginals = data.mean(axis=0)
    else:
        codes = rng.choice(K, size=(200, 2), p=[0.6, 0.3, 0.1])
        data = np.eye(K)[codes].reshape(200, 2 * K)
        data[:50, :K] = 0  # variable 0 missing in 50 rows: its frequencies are among the other 150
        states = one_hot_states(2, K)
        grouped = data.reshape(200, 2, K)
        marginals = (grouped.sum(axis=0) / grouped.sum(axis=(0, 2))[:, None]).ravel()
    base_bias = layer.base_bias_from_data(data)
    log_weights = states @ base_bias
    p = np.exp(log_weights - logsumexp(log_weights))
    np.testing.assert_allclose(p @ states, marginals, atol=1e-4)  # counts + 1e-3 (clipping: no mean is extreme)
    assert layer.base_log_partition(base_bias) == pytest.approx(logsumexp(log_weights), rel=1e-12)
    draws = layer.sample_base(base_bias, np.zeros(layer.units), n_draws, rng)
    matches = (draws[:, None, :] == states[None, :, :]).all(axis=2)
    np.testing.assert_array_equal(matches.sum(axis=1), 1)  # every draw is one of the layer's states
    assert total_variation(matches.argmax(axis=1), p) < tv_threshold(n_draws, len(states))


def test_categorical_reconstruction_cost_is_finite_at_extreme_activations(mode):
    """The compiled cost takes each group's log-softmax without overflow: activations of +-1000 give the exact
    finite value (a group whose observed category has activation a and the others b contributes
    a - logsumexp(a, b, b)), in every mode."""
    model = categorical_model(n_visible=2, n_hidden=2)
    activation = pt.matrix("activation", dtype="float64")
    cost = backend.compile_function([model.input, activation], model.get_reconstruction_cost({}, activation),
                                    mode=mode)
    x = np.array([[1.0, 0, 0, 0, 1, 0]])
    a = np.array([[-1000.0, 1000, 1000, 1000, -1000, 0]])
    expected = (-1000 - logsumexp([-1000, 1000, 1000])) + (-1000 - logsumexp([1000, -1000, 0]))
    assert cost(x, a) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("layer", [Bernoulli(), Gaussian(sigma=[0.5, 1.0, 2.0, 1.5, 0.7, 1.2]), Categorical(K)])
def test_numpy_draws_follow_each_layers_conditional(layer):
    """np_sample (what the scikit-learn estimators' gibbs draws from) against p(v | h) written out here: 20,000
    draws of each of two rows of top-down input t; means within 5 standard errors, Gaussian spreads within 3 %,
    categorical draws one-hot per group."""
    layer = layer.bind(6 // layer.group_size, "float64")
    rng = np.random.default_rng(5)
    top_down, bias = rng.normal(size=(2, 6)), rng.normal(size=6)
    n = 20_000
    draws = layer.np_sample(np.repeat(top_down, n, axis=0), bias, np.random.RandomState(0)).reshape(2, n, 6)
    if isinstance(layer, Gaussian):
        sigma = np.array([0.5, 1.0, 2.0, 1.5, 0.7, 1.2])
        mean, spread = bias + sigma * top_down, np.broadcast_to(sigma, (2, 6))
        np.testing.assert_allclose(draws.std(axis=1), spread, rtol=0.03)
    elif isinstance(layer, Categorical):
        logits = (top_down + bias).reshape(2, 2, K)
        mean = (np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)).reshape(2, 6)
        spread = np.sqrt(mean * (1 - mean))
        assert np.all(draws.reshape(2, n, 2, K).sum(axis=3) == 1) and set(np.unique(draws)) == {0.0, 1.0}
    else:
        mean = 1 / (1 + np.exp(-(top_down + bias)))
        spread = np.sqrt(mean * (1 - mean))
        assert set(np.unique(draws)) == {0.0, 1.0}
    assert np.all(np.abs(draws.mean(axis=1) - mean) < 5 * spread / np.sqrt(n))


@pytest.mark.parametrize("layer", [Bernoulli(), Gaussian(sigma=0.7), Categorical(K)])
def test_numpy_free_energy_is_minus_log_of_the_sum_over_hidden_states(layer):
    """F(v) = -log sum_h exp(-E(v, h)) with E(v, h) = e(v) - h.c - s(v) W h, e and s written out here."""
    layer = layer.bind(6 // layer.group_size, "float64")
    rng = np.random.default_rng(8)
    W, hbias, vbias = rng.normal(size=(6, 3)), rng.normal(size=3), rng.normal(size=6)
    v = one_hot_states(2, K)[:5] if isinstance(layer, Categorical) else rng.integers(0, 2, size=(5, 6)).astype(float)
    if isinstance(layer, Gaussian):
        v = rng.normal(size=(5, 6))
        energy_term, scaled = ((v - vbias) / 0.7) ** 2 / 2, v / 0.7
    else:
        energy_term, scaled = -v * vbias, v
    h = hidden_states(3)
    minus_energies = -energy_term.sum(axis=1)[:, None] + h @ hbias + scaled @ W @ h.T
    np.testing.assert_allclose(layer.np_free_energy(v, W, hbias, vbias), -logsumexp(minus_energies, axis=1),
                               rtol=1e-12)
