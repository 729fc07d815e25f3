"""log Z and log-likelihood against brute-force enumeration of both layers."""
import numpy as np
import pytest
from scipy.special import logsumexp

from rbm import RBM, Trainer, evaluation

from . import reference


def model_with(n_visible, n_hidden, scale=1.0, seed=0, dtype="float64"):
    rng = np.random.default_rng(seed)
    return RBM(n_visible=n_visible, n_hidden=n_hidden, W=scale * rng.normal(size=(n_visible, n_hidden)),
               hbias=rng.normal(size=n_hidden), vbias=rng.normal(size=n_visible), dtype=dtype)


def params(model):
    return [p.get_value().astype(np.float64) for p in model.params]


@pytest.mark.parametrize("n_visible, n_hidden", [(6, 4), (4, 6), (8, 8), (1, 3)])
def test_exact_log_partition_matches_enumeration_of_both_layers(n_visible, n_hidden):
    model = model_with(n_visible, n_hidden)
    np.testing.assert_allclose(evaluation.exact_log_partition(model).log_z,
                               reference.exact_log_partition(*params(model)), rtol=1e-12)


@pytest.mark.parametrize("n_visible, n_hidden", [(6, 5), (5, 6)])
def test_exact_log_partition_sums_several_batches(monkeypatch, n_visible, n_hidden):
    """7 states per batch: 32 states of the smaller layer make four full batches and a partial one;
    both layers are enumerated by the reference."""
    monkeypatch.setattr(evaluation, "_STATES_PER_BATCH", 7)
    model = model_with(n_visible, n_hidden)
    np.testing.assert_allclose(evaluation.exact_log_partition(model).log_z,
                               reference.exact_log_partition(*params(model)), rtol=1e-12)


def test_exact_log_partition_of_15_hidden_units_spans_two_batches_of_the_real_size():
    """2^15 hidden states in two batches of 2^14, against the sum over the 2^16 visible states of exp(-F(v))."""
    assert evaluation._STATES_PER_BATCH == 1 << 14
    model = model_with(16, 15, scale=0.3)
    every_v = ((np.arange(1 << 16)[:, None] >> np.arange(16)) & 1).astype(float)
    expected = logsumexp(-reference.free_energy(every_v, *params(model)))
    np.testing.assert_allclose(evaluation.exact_log_partition(model).log_z, expected, rtol=1e-12)


def test_exact_log_partition_refuses_large_models():
    with pytest.raises(ValueError, match="2\\^26"):
        evaluation.exact_log_partition(RBM(n_visible=30, n_hidden=26))
    with pytest.raises(TypeError, match="rbm.RBM"):
        evaluation.exact_log_partition("model")


def test_mean_log_likelihood_matches_brute_force():
    model = model_with(6, 4)
    data = reference.all_binary_states(6)[::5]
    log_z = evaluation.exact_log_partition(model).log_z
    np.testing.assert_allclose(evaluation.mean_log_likelihood(model, data, log_z),
                               reference.mean_log_likelihood(data, *params(model)), rtol=1e-12)
    # the probabilities of all 2^6 vectors sum to one
    every = reference.all_binary_states(6)
    log_p = -evaluation.free_energy(model, every) - log_z
    np.testing.assert_allclose(np.exp(log_p).sum(), 1.0, rtol=1e-12)


def test_default_schedule_is_the_papers():
    betas = evaluation.default_betas()
    assert len(betas) == 14501 and betas[0] == 0 and betas[-1] == 1
    steps = np.diff(betas)
    np.testing.assert_allclose(steps[:500], 1e-3)
    np.testing.assert_allclose(steps[500:4500], 1e-4)
    np.testing.assert_allclose(steps[4500:], 1e-5)


def ais_agrees_with_exact(model, base_rate=None, n_runs=100, n_betas=3000, seed=0, mode="cpu"):
    exact = evaluation.exact_log_partition(model).log_z
    result = evaluation.ais_log_partition(model, n_runs=n_runs, betas=np.linspace(0, 1, n_betas),
                                          base_rate=base_rate, seed=seed, mode=mode)
    assert result.log_z_low <= result.log_z <= result.log_z_high, result
    # the estimate's +-3 standard error interval holds the exact value ...
    assert result.log_z_low <= exact <= result.log_z_high, (result, exact)
    # ... and is narrow enough that an AIS which stayed at its base model would have missed it
    assert result.log_z_high - result.log_z_low < abs(exact - result.log_z_base) / 2, (result, exact)
    assert (result.n_runs, result.n_betas) == (n_runs, n_betas)
    return result


def compile_annealing_once(monkeypatch):
    """Make ``rbm.evaluation`` compile each annealing loop once in this test and reuse it.

    The compiled loop's generator advances at every call, so later runs stay independent of earlier
    ones; only their ``seed`` is ignored. It saves a compilation per call of tests that call AIS often.
    """
    compiled, original = {}, evaluation._annealing_function

    def annealing_function(model, base_bias, n_steps, seed, mode, reverse=False):
        key = (id(model), base_bias.tobytes(), n_steps, mode, reverse)
        if key not in compiled:
            compiled[key] = original(model, base_bias, n_steps, seed, mode, reverse)
        return compiled[key]

    monkeypatch.setattr(evaluation, "_annealing_function", annealing_function)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_ais_on_random_784_by_15_model(dtype):
    rng = np.random.default_rng(1)
    model = RBM(n_visible=784, n_hidden=15, W=rng.normal(0, 0.05, (784, 15)), hbias=rng.normal(size=15),
                vbias=rng.normal(size=784), dtype=dtype)
    ais_agrees_with_exact(model)


def stroke_images(n, seed=0):
    """Binary 28x28 images of one vertical or horizontal stroke: structured, MNIST-sized data."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28))
    for image, position, vertical in zip(images, rng.integers(3, 23, n), rng.random(n) < 0.5):
        if vertical:
            image[4:24, position:position + 3] = 1
        else:
            image[position:position + 3, 4:24] = 1
    return images.reshape(n, 784)


def test_ais_on_trained_784_by_15_model_with_base_rate():
    data = stroke_images(400)
    model = RBM.from_data(data, n_hidden=15, numpy_rng=0, seed=0, dtype="float64")
    untrained = evaluation.mean_log_likelihood(model, data, evaluation.exact_log_partition(model))
    Trainer(model, learning_rate=0.05, k=1, batch_size=20, seed=0).fit(data, epochs=5, verbose=False)
    ais_agrees_with_exact(model, base_rate=data)
    trained = evaluation.mean_log_likelihood(model, data, evaluation.exact_log_partition(model))
    # Training made the strokes likelier than the initialisation, which is nearly AIS's base-rate model
    # (exact values both; measured -175.4 -> -162.7), so the AIS check above ran on a model AIS must find.
    assert trained > untrained, (untrained, trained)


def test_ais_runs_on_jax():
    pytest.importorskip("jax")
    ais_agrees_with_exact(model_with(20, 10, scale=0.2), n_runs=50, n_betas=500, mode="JAX")


def test_ais_mean_weight_is_unbiased_for_z_with_three_temperatures():
    """AIS's mean importance weight estimates Z without bias for any schedule (Neal 2001), however coarse.

    With betas [0, 0.5, 1] and a base-rate model on a 4-3 RBM, the weight's mean, variance and range are
    exact by enumeration (reference.ais_weight_moments); 100,000 runs must then give Z within the margin
    of Bernstein's inequality (a chance of 1e-6 to miss). Moving at the previous temperature, or starting
    from the base model with its biases' sign flipped, gives other means, far outside the margin.
    """
    model = model_with(4, 3, scale=2.0)
    base_rows = (np.random.default_rng(100).random((50, 4)) < [0.8, 0.2, 0.7, 0.3]).astype(float)
    p = base_rows.mean(axis=0)
    assert np.all((0 < p) & (p < 1))  # the base biases log(p / (1 - p)) are finite, unclipped
    base_bias = np.log(p) - np.log1p(-p)
    betas, n_runs = np.array([0.0, 0.5, 1.0]), 100_000
    exact_z = np.exp(reference.exact_log_partition(*params(model)))
    mean, second_moment, low, high = reference.ais_weight_moments(*params(model), base_bias, betas)
    margin = reference.bernstein_margin(n_runs, np.sqrt(second_moment - mean ** 2), max(high - mean, mean - low))
    flipped_base = np.exp(-reference.all_binary_states(4) @ base_bias - np.logaddexp(0.0, -base_bias).sum())
    for alternative in (dict(move_betas=betas[:-1]), dict(start=flipped_base)):
        assert abs(reference.ais_weight_moments(*params(model), base_bias, betas, **alternative)[0] - exact_z) \
            > 2 * margin, alternative
    result = evaluation.ais_log_partition(model, n_runs=n_runs, betas=betas, base_rate=base_rows, seed=0,
                                          mode="FAST_COMPILE")
    assert abs(np.exp(result.log_z) - exact_z) < margin, (np.exp(result.log_z), exact_z, margin)


def test_ais_is_reproducible_with_a_seed():
    model = model_with(20, 8, scale=0.2)
    first = evaluation.ais_log_partition(model, n_runs=10, betas=np.linspace(0, 1, 50), seed=3)
    again = evaluation.ais_log_partition(model, n_runs=10, betas=np.linspace(0, 1, 50), seed=3)
    assert first.log_z == again.log_z


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n_runs=1), ValueError, "n_runs"),
    (dict(betas=np.array([0.0, 0.5])), ValueError, "betas"),
    (dict(betas=np.array([0.0, 0.7, 0.5, 1.0])), ValueError, "betas"),
    (dict(betas=np.array([0.1, 1.0])), ValueError, "betas"),
    (dict(base_rate=np.ones((3, 5))), ValueError, "5 columns"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(mode="abacus"), ValueError, "unknown mode"),
])
def test_ais_refuses_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        evaluation.ais_log_partition(model_with(4, 3), **kwargs)


def test_mean_log_likelihood_refuses_bad_input():
    model = model_with(4, 3)
    with pytest.raises(ValueError, match="finite"):
        evaluation.mean_log_likelihood(model, np.ones((2, 4)), np.nan)
    with pytest.raises(ValueError, match="3 columns"):
        evaluation.mean_log_likelihood(model, np.ones((2, 3)), 1.0)


# ----------------------------------------------------------------- RAISE
@pytest.fixture(scope="module")
def trained_12_by_10():
    """A 12-10 RBM trained on noisy copies of five patterns, with its training rows and exact log Z."""
    rng = np.random.default_rng(0)
    patterns = (rng.random((5, 12)) < 0.5).astype(float)
    data = patterns[rng.integers(0, 5, 300)]
    data = np.where(rng.random(data.shape) < 0.05, 1 - data, data)
    model = RBM.from_data(data, n_hidden=10, seed=0, numpy_rng=0, dtype="float64")
    Trainer(model, learning_rate=0.1, batch_size=10, n_chains=20, mode="cpu", seed=0).fit(
        data, epochs=30, verbose=False)
    return model, data, evaluation.exact_log_partition(model).log_z


def exact_log_p(model, rows, log_z):
    return -reference.free_energy(rows, *params(model)) - log_z


@pytest.mark.parametrize("mode", ["NUMBA", "cpu"])
def test_raise_matches_exact_log_likelihood_with_fine_temperatures(trained_12_by_10, mode):
    pytest.importorskip("jax") if mode == "cpu" else None
    model, data, log_z = trained_12_by_10
    rows = data[:20]
    result = evaluation.raise_log_likelihood(model, rows, n_runs=20, betas=np.linspace(0, 1, 3000),
                                             base_rate=data, seed=1, mode=mode)
    differences = result.per_row - exact_log_p(model, rows, log_z)
    # measured (model trained in mode "cpu"): max |difference| 0.04, mean +0.008 (NUMBA) and +0.011 (cpu), sd 0.02
    assert np.all(np.abs(differences) < 0.1), differences
    assert abs(differences.mean()) < 0.03
    assert result.log_likelihood == pytest.approx(result.per_row.mean())
    assert result.standard_error == pytest.approx(result.per_row.std(ddof=1) / np.sqrt(20))
    assert (result.n_runs, result.n_betas, result.per_row.shape) == (20, 3000, (20,))


def test_raise_and_ais_bracket_the_exact_log_likelihood_of_model_samples(trained_12_by_10, monkeypatch):
    """With coarse annealing both estimators are biased, in opposite directions, as theory says.

    For rows drawn from the model itself, E log RAISE <= E log p_ann(v) <= E log p(v)
    (Jensen, then Gibbs' inequality); AIS's log Z errs low, so its log-likelihood errs high.
    """
    compile_annealing_once(monkeypatch)
    model, data, log_z = trained_12_by_10
    states = reference.all_binary_states(12)
    probabilities = np.exp(exact_log_p(model, states, log_z))
    rows = states[np.random.default_rng(5).choice(len(states), 200, p=probabilities / probabilities.sum())]
    exact = exact_log_p(model, rows, log_z)
    betas = np.linspace(0, 1, 10)
    raised = evaluation.raise_log_likelihood(model, rows, betas=betas, base_rate=data, seed=2, mode="NUMBA")
    differences = raised.per_row - exact
    standard_error = differences.std(ddof=1) / np.sqrt(len(differences))
    assert differences.mean() < -3 * standard_error, (differences.mean(), standard_error)  # measured -0.77 (se 0.09)
    # 1,000 estimates of 5 runs each: their sd is ~0.7 and their mean errs ~0.18 low, 8 standard errors
    ais_log_z = [evaluation.ais_log_partition(model, n_runs=5, betas=betas, base_rate=data, seed=seed,
                                              mode="NUMBA").log_z for seed in range(1000)]
    assert np.mean(ais_log_z) < log_z - 3 * np.std(ais_log_z, ddof=1) / np.sqrt(1000), (np.mean(ais_log_z), log_z)
    # the bracket itself: RAISE's mean log-likelihood below AIS's, which is mean(-F) - log Z_AIS
    assert raised.log_likelihood < np.mean(-reference.free_energy(rows, *params(model))) - np.mean(ais_log_z)


def test_raise_on_a_gaussian_rbm_matches_its_closed_form_log_z():
    from rbm import GaussianBernoulliRBM
    rng = np.random.default_rng(2)
    model = GaussianBernoulliRBM(n_visible=3, n_hidden=4, W=rng.normal(0, 0.5, (3, 4)), hbias=rng.normal(size=4),
                                 vbias=rng.normal(size=3), sigma=np.array([0.5, 1.0, 2.0]), dtype="float64")
    rows = rng.normal(size=(10, 3))
    exact = -evaluation.free_energy(model, rows) - evaluation.exact_log_partition(model).log_z
    result = evaluation.raise_log_likelihood(model, rows, n_runs=20, betas=np.linspace(0, 1, 2000), seed=0,
                                             mode="cpu")
    np.testing.assert_allclose(result.per_row, exact, atol=0.05)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n_runs=0), ValueError, "n_runs"),
    (dict(betas=np.array([0.0, 0.5])), ValueError, "betas"),
    (dict(base_rate=np.ones((3, 5))), ValueError, "5 columns"),
    (dict(data=np.ones((2, 3))), ValueError, "3 columns"),
    (dict(data=np.full((2, 4), np.nan)), ValueError, "NaN|finite"),
    (dict(mode="abacus"), ValueError, "unknown mode"),
])
def test_raise_refuses_bad_arguments(kwargs, error, match):
    arguments = dict(data=np.ones((2, 4)))
    arguments.update(kwargs)
    with pytest.raises(error, match=match):
        evaluation.raise_log_likelihood(model_with(4, 3), **arguments)


def test_likelihood_tracker_records_an_ais_estimate_every_n_epochs(trained_12_by_10, monkeypatch):
    compile_annealing_once(monkeypatch)  # the tracker's two estimates share one compiled loop
    model, data, log_z = trained_12_by_10
    copy = RBM(n_visible=12, n_hidden=10, W=model.W.get_value(), hbias=model.hbias.get_value(),
               vbias=model.vbias.get_value(), seed=0, dtype="float64")
    tracker = evaluation.LikelihoodTracker(data[:50], every=2, n_runs=50, n_betas=2000, base_rate=data,
                                           last_epoch=2)
    trainer = Trainer(copy, learning_rate=1e-6, batch_size=10, mode="cpu", seed=0)
    history = trainer.fit(data, epochs=3, callbacks=[tracker], verbose=False)
    assert ["log_likelihood" in record for record in history] == [False, True, True]
    exact = evaluation.mean_log_likelihood(copy, data[:50], evaluation.exact_log_partition(copy))
    assert history[1]["log_likelihood"] == pytest.approx(exact, abs=0.1)
    assert history[1]["log_z"] == pytest.approx(evaluation.exact_log_partition(copy).log_z, abs=0.1)


@pytest.mark.parametrize("method", ["ais", "raise"])
def test_annealing_is_compiled_once_per_structure_and_reads_each_models_parameters(method):
    """A second model of the same sizes compiles no annealing loop, and gets what a fresh compile gives."""
    from rbm import backend

    def run(model):
        if method == "ais":
            return evaluation.ais_log_partition(model, n_runs=20, betas=np.linspace(0, 1, 40), seed=5).log_z
        return evaluation.raise_log_likelihood(model, (np.arange(12).reshape(3, 4) % 3 == 0).astype(float),
                                               betas=np.linspace(0, 1, 40), n_runs=5, seed=5).log_likelihood

    run(model_with(4, 3, seed=1))
    before = backend.compiled_function_count()
    reused = run(model_with(4, 3, seed=2))
    assert backend.compiled_function_count() == before
    backend.COMPILED_FUNCTIONS.clear()
    assert run(model_with(4, 3, seed=2)) == reused != run(model_with(4, 3, seed=1))
    assert backend.compiled_function_count() == before + 1
