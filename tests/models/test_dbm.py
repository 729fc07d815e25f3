"""The DBM against brute force: every joint state of tiny models enumerated in numpy, written here."""
import doctest
import importlib
import itertools
import os

import numpy as np
import pytest
from scipy.special import expit, logsumexp

from rbm import dbm_evaluation
from rbm.backend import pt
from rbm.models.dbm import DBM

from .. import reference
from ..models.test_rbm import compile_


# ------------------------------------------------------------------ numpy references
def random_dbm(layer_sizes, seed, scale=1.0):
    """A float64 DBM with N(0, scale^2) weights and N(0, 1) biases, and its parameters as lists."""
    rng = np.random.default_rng(seed)
    weights = [scale * rng.normal(size=(a, b)) for a, b in zip(layer_sizes[:-1], layer_sizes[1:])]
    biases = [rng.normal(size=n) for n in layer_sizes]
    model = DBM(layer_sizes, dtype="float64")
    model.set_params(**{f"W_{i}": w for i, w in enumerate(weights)}, **{f"bias_{i}": b for i, b in enumerate(biases)})
    return model, weights, biases


def negative_energy(layers, weights, biases):
    """-E = sum_i x_i W_i x_(i+1) + sum_i x_i . b_i for batches of joint states (one row each)."""
    total = sum(x @ b for x, b in zip(layers, biases))
    return total + sum(np.einsum("ni,ij,nj->n", layers[i], weights[i], layers[i + 1]) for i in range(len(weights)))


def joint_states(layer_sizes):
    """Every joint binary state of all layers, split per layer."""
    states = reference.all_binary_states(sum(layer_sizes))
    bounds = np.cumsum([0, *layer_sizes])
    return [states[:, bounds[i]:bounds[i + 1]] for i in range(len(layer_sizes))]


def brute_force_log_z(layer_sizes, weights, biases):
    return logsumexp(negative_energy(joint_states(layer_sizes), weights, biases))


def brute_force_log_p(v, layer_sizes, weights, biases):
    """log p(v) for each row of v: every hidden state enumerated."""
    hidden = joint_states(layer_sizes[1:])
    log_z = brute_force_log_z(layer_sizes, weights, biases)
    return np.array([logsumexp(negative_energy([np.repeat(row[None], len(hidden[0]), 0), *hidden], weights, biases))
                     for row in v]) - log_z


def numpy_mean_field(v, weights, biases, n_steps):
    """Salakhutdinov & Hinton's start (doubled bottom-up input below the top), then odd/even fixed-point steps."""
    n_layers = len(biases)
    means = [v]
    for i in range(1, n_layers):
        factor = 2.0 if i < n_layers - 1 else 1.0
        means.append(expit(factor * means[i - 1] @ weights[i - 1] + biases[i]))
    for _ in range(n_steps):
        for i in [*range(1, n_layers, 2), *range(2, n_layers, 2)]:
            activation = biases[i] + means[i - 1] @ weights[i - 1]
            if i < n_layers - 1:
                activation = activation + means[i + 1] @ weights[i].T
            means[i] = expit(activation)
    return means


SIZES = [(4, 3, 2), (3, 2, 3, 2)]  # two hidden layers, and three (both parities hold hidden layers)


# ------------------------------------------------------------------ exact evaluation
@pytest.mark.parametrize("layer_sizes", SIZES)
def test_exact_log_partition_is_the_brute_force_sum(layer_sizes):
    model, weights, biases = random_dbm(layer_sizes, seed=1)
    result = dbm_evaluation.exact_log_partition(model)
    assert result.log_z == result.log_z_low == result.log_z_high
    np.testing.assert_allclose(result.log_z, brute_force_log_z(layer_sizes, weights, biases), rtol=1e-12)


@pytest.mark.parametrize("layer_sizes", SIZES)
def test_exact_log_likelihood_is_the_brute_force_marginal(layer_sizes):
    model, weights, biases = random_dbm(layer_sizes, seed=2)
    every_v = reference.all_binary_states(layer_sizes[0])
    result = dbm_evaluation.exact_log_likelihood(model, every_v)
    np.testing.assert_allclose(result.per_row, brute_force_log_p(every_v, layer_sizes, weights, biases), rtol=1e-11)
    np.testing.assert_allclose(result.log_likelihood, result.per_row.mean(), rtol=1e-12)
    assert logsumexp(result.per_row) == pytest.approx(0.0, abs=1e-12)  # a distribution over v


def test_exact_evaluation_refuses_models_too_large_to_enumerate():
    model = DBM([30, 30, 30])
    with pytest.raises(ValueError, match="use ais_log_partition"):
        dbm_evaluation.exact_log_partition(model)


# ------------------------------------------------------------------ AIS
@pytest.mark.parametrize("use_base_rate", [False, True])
def test_ais_interval_holds_the_exact_log_z(use_base_rate):
    layer_sizes = (6, 4, 3)
    model, weights, biases = random_dbm(layer_sizes, seed=3, scale=0.7)
    exact = brute_force_log_z(layer_sizes, weights, biases)
    # a base model far from uniform (visible means 0.9, 0.1, ...), so that its biases matter
    skewed = np.random.default_rng(0).random((50, 6)) < [0.9, 0.1, 0.8, 0.2, 0.7, 0.3]
    base_rate = skewed.astype(float) if use_base_rate else None
    result = dbm_evaluation.ais_log_partition(model, n_runs=200, betas=np.linspace(0.0, 1.0, 2000),
                                              base_rate=base_rate, seed=0, mode="cpu")
    # the interval is +-3 standard errors of the mean weight over 200 runs: it misses with probability ~0.3%
    assert result.log_z_low <= exact <= result.log_z_high
    # and it is narrow: 2000 temperatures on a 13-unit model leave the weights close to one another
    assert 0 < result.log_z_high - result.log_z_low < 0.2
    assert (result.n_runs, result.n_betas) == (200, 2000)


# ------------------------------------------------------------------ mean field
@pytest.fixture(scope="module")
def mean_field_function():
    """(model, compiled v -> mean-field means after 3 steps) for the (3, 2, 3, 2) model."""
    model, weights, biases = random_dbm((3, 2, 3, 2), seed=4)
    v = pt.matrix("v", dtype="float64")
    return model, weights, biases, compile_([v], model.mean_field(v, 3))


def test_the_training_graph_mean_field_follows_the_fixed_point_equations(mean_field_function):
    model, weights, biases, mean_field = mean_field_function
    every_v = reference.all_binary_states(3)
    for got, expected in zip(mean_field(every_v), numpy_mean_field(every_v, weights, biases, 3)):
        np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("layer_sizes", SIZES)
def test_mean_field_bound_lies_below_the_exact_log_likelihood(layer_sizes):
    model, weights, biases = random_dbm(layer_sizes, seed=5)
    every_v = reference.all_binary_states(layer_sizes[0])
    exact = brute_force_log_p(every_v, layer_sizes, weights, biases)
    log_z = brute_force_log_z(layer_sizes, weights, biases)
    bound = dbm_evaluation.mean_field_bound(model, every_v, log_z)
    assert np.all(bound.per_row <= exact + 1e-12)
    assert np.all(bound.per_row > exact - 2.0)  # a bound, not nonsense: the gap is the KL from q to the posterior
    assert bound.low == bound.high == bound.log_likelihood_bound == pytest.approx(bound.per_row.mean(), abs=1e-12)


def test_mean_field_bound_is_exact_where_the_posterior_factorises():
    """W_1 = 0: given v, h_1 depends on v alone and h_2 on nothing, every unit independently."""
    layer_sizes = (4, 3, 2)
    model, weights, biases = random_dbm(layer_sizes, seed=6)
    weights[1] = np.zeros((3, 2))
    model.set_params(W_1=weights[1])
    every_v = reference.all_binary_states(4)
    exact = brute_force_log_p(every_v, layer_sizes, weights, biases)
    bound = dbm_evaluation.mean_field_bound(model, every_v, brute_force_log_z(layer_sizes, weights, biases))
    np.testing.assert_allclose(bound.per_row, exact, rtol=0, atol=1e-12)


def test_mean_field_bound_carries_the_log_z_interval_over():
    model, _, _ = random_dbm((4, 3, 2), seed=7)
    exact = dbm_evaluation.exact_log_partition(model)
    interval = exact._replace(log_z_low=exact.log_z - 0.5, log_z_high=exact.log_z + 0.25)
    bound = dbm_evaluation.mean_field_bound(model, [[1, 0, 1, 0]], interval)
    assert bound.low == pytest.approx(bound.log_likelihood_bound - 0.25, abs=1e-12)
    assert bound.high == pytest.approx(bound.log_likelihood_bound + 0.5, abs=1e-12)


# ------------------------------------------------------------------ sampling
def test_sample_chains_gives_the_visible_means():
    """No weights: p(v = 1 | h) = sigmoid(bias_0) whatever the hidden states."""
    model = DBM([5, 3, 2], dtype="float64")
    bias_0 = np.array([-3.0, -1.0, 0.0, 1.0, 3.0])
    model.set_params(W_0=np.zeros((5, 3)), W_1=np.ones((3, 2)), bias_0=bias_0)
    samples = model.sample_chains(np.eye(4, 5), n_samples=3, plot_every=4, mode="FAST_COMPILE", seed=0)
    assert samples.shape == (3, 4, 5)
    np.testing.assert_allclose(samples, np.broadcast_to(expit(bias_0), (3, 4, 5)), rtol=1e-12)


# ------------------------------------------------------------------ files and parameters
def test_save_and_load_round_trip_exactly(tmp_path):
    for dtype in ("float32", "float64"):
        model, _, _ = random_dbm((4, 3, 2, 5), seed=8)
        if dtype == "float32":
            model = DBM((4, 3, 2, 5), numpy_rng=1, dtype="float32")
        path = os.path.join(tmp_path, f"{dtype}.npz")
        model.save(path)
        with np.load(path) as archive:
            assert sorted(archive.files) == ["W_0", "W_1", "W_2", "bias_0", "bias_1", "bias_2", "bias_3",
                                             "format_version", "kind", "layer_sizes"]
            assert str(archive["kind"]) == "rbm.DBM" and archive["W_1"].shape == (3, 2)
        loaded = DBM.load(path)
        assert loaded.layer_sizes == (4, 3, 2, 5) and loaded.dtype == dtype
        for name, value in model.get_params().items():
            assert np.array_equal(loaded.get_params()[name], value) and loaded.get_params()[name].dtype == value.dtype


def test_load_refuses_damaged_or_foreign_files(tmp_path):
    model = DBM((4, 3, 2), seed=0)
    good = os.path.join(tmp_path, "good.npz")
    model.save(good)
    with np.load(good) as archive:
        arrays = dict(archive)
    cases = {"wrong shape": {**arrays, "W_1": np.zeros((2, 3))}, "missing": {k: v for k, v in arrays.items() if k != "bias_2"},
             "extra": {**arrays, "W_5": np.zeros(2)}, "nan": {**arrays, "bias_0": np.full(4, np.nan)},
             "kind": {**arrays, "kind": np.str_("rbm.RBM")}, "sizes": {**arrays, "layer_sizes": np.array([4, 3])}}
    for name, content in cases.items():
        path = os.path.join(tmp_path, f"{name.replace(' ', '_')}.npz")
        np.savez(path, **content)
        with pytest.raises(ValueError):
            DBM.load(path)
    truncated = os.path.join(tmp_path, "truncated.npz")
    with open(good, "rb") as source, open(truncated, "wb") as target:
        target.write(source.read()[:100])
    with pytest.raises(ValueError, match="readable"):
        DBM.load(truncated)


@pytest.mark.parametrize("layer_sizes, error", [([784], ValueError), ([4, 3], ValueError), ([4, 0, 2], ValueError),
                                                 ([4, 2.5, 2], TypeError), ("784", TypeError), (7, TypeError)])
def test_bad_layer_sizes_are_refused(layer_sizes, error):
    with pytest.raises(error):
        DBM(layer_sizes)


def test_set_params_checks_everything_before_changing_anything():
    model = DBM((4, 3, 2), numpy_rng=0, dtype="float64")
    before = model.get_params()
    with pytest.raises(ValueError, match="W_1 must have shape"):
        model.set_params(bias_0=np.ones(4), W_1=np.ones((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        model.set_params(bias_0=np.ones(4), bias_1=[np.nan] * 3)
    with pytest.raises(TypeError, match="unknown"):
        model.set_params(bias_0=np.ones(4), hbias=np.ones(3))
    for name, value in model.get_params().items():
        assert np.array_equal(value, before[name])
    model.set_params(**{name: value + 1 for name, value in before.items()})
    assert all(np.array_equal(model.get_params()[name], value + 1) for name, value in before.items())


@pytest.mark.parametrize("data, message", [(np.zeros((2, 5)), "columns"), (np.full((2, 4), 1.5), r"\[0, 1\]"),
                                           (np.zeros((0, 4)), "empty"), (np.full((1, 4), np.nan), "NaN")])
def test_evaluation_refuses_bad_rows(data, message):
    model = DBM((4, 3, 2))
    for evaluate in (lambda: dbm_evaluation.exact_log_likelihood(model, data),
                     lambda: dbm_evaluation.mean_field_bound(model, data, 1.0),
                     lambda: model.sample_chains(data, n_samples=1, plot_every=1, mode="FAST_COMPILE")):
        with pytest.raises(ValueError, match=message):
            evaluate()


def test_joint_states_cover_every_configuration_once():
    """The reference itself: 2^(sum of widths) distinct joint states."""
    layers = joint_states((2, 1, 2))
    rows = {tuple(itertools.chain(*(layer[n] for layer in layers))) for n in range(len(layers[0]))}
    assert len(layers[0]) == len(rows) == 32


@pytest.mark.parametrize("module", ["rbm.models.dbm", "rbm.dbm_evaluation"])
def test_docstring_examples_run(module):
    """The examples of these modules (not in tests/test_doctests.py's list) run as written."""
    failures, tried = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert tried > 0 and failures == 0
