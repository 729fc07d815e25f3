"""The trainer: learning measured by exact log-likelihood, reproducibility, warm starts, errors."""
import numpy as np
import pytest
from scipy.special import expit

from rbm import RBM, Trainer, TrainingDiverged, backend
from rbm.backend import pt

from .. import reference

BARS = reference.bars_and_stripes(3)  # 14 distinct 3x3 patterns


def exact_ll(model, data=BARS):
    return reference.mean_log_likelihood(data, *[p.get_value().astype(np.float64) for p in model.params])


def bars_model(seed=0, dtype="float64"):
    return RBM(n_visible=9, n_hidden=8, numpy_rng=np.random.RandomState(seed), seed=seed, dtype=dtype)


@pytest.mark.parametrize("mode, persistent", [("NUMBA", True), ("cpu", False)])
def test_training_raises_exact_log_likelihood_on_bars_and_stripes(mode, persistent):
    """50 epochs of PCD-1 / CD-1 with momentum; the exact log-likelihood must rise far above the start
    and clearly above the best model without hidden units, the uniform distribution (every pixel is on
    in half the patterns). Measured with seeds 1 to 3 in both modes: -11.53 to -4.38 .. -3.66."""
    pytest.importorskip("jax") if mode == "cpu" else None
    model = bars_model()
    data = np.tile(BARS, (20, 1))  # 280 rows: 28 minibatches of 10
    before = exact_ll(model)
    trainer = Trainer(model, learning_rate=0.05, k=1, persistent=persistent, batch_size=10,
                      momentum=0.5, mode=mode, seed=1)
    trainer.fit(data, epochs=50, verbose=False)
    after = exact_ll(model)
    uniform = -9 * np.log(2)  # -6.24: the uniform distribution over 9 bits
    assert before < uniform  # the tutorial's large random weights start below uniform
    assert after > uniform + 1.5  # (no upper check: -log 14 = -2.64, the data's own, bounds it always)
    assert after > before + 3.0


@pytest.fixture(scope="module")
def bookkeeping_trainer():
    """One compiled trainer (2 minibatches of 7) that the tests of fit's bookkeeping share.

    Each test continues its run, so each reads the history from where it found it. FAST_COMPILE
    compiles in about a second; these tests are about the loop around the step, not the mode.
    """
    return Trainer(bars_model(), batch_size=7, seed=0, mode="FAST_COMPILE")


def test_history_records_cost_time_and_free_energy_gap(bookkeeping_trainer, capsys):
    done = len(bookkeeping_trainer.history)
    history = bookkeeping_trainer.fit(BARS, epochs=2, valid=BARS[:5], verbose=True)
    assert [r["epoch"] for r in history[done:]] == [done, done + 1]
    for record in history[done:]:
        assert np.isfinite(record["cost"]) and record["cost"] < 0 and record["time"] > 0
        assert np.isfinite(record["free_energy_gap"])
    out = capsys.readouterr()
    assert f"epoch {done + 1}: cost" in out.out + out.err


def test_free_energy_gap_matches_numpy(bookkeeping_trainer):
    valid = np.ones((3, 9))
    record = bookkeeping_trainer.fit(BARS, epochs=1, valid=valid, verbose=False)[-1]
    params = [p.get_value() for p in bookkeeping_trainer.model.params]
    expected = reference.free_energy(valid, *params).mean() - reference.free_energy(BARS[:3], *params).mean()
    np.testing.assert_allclose(record["free_energy_gap"], expected, rtol=1e-10)


def test_silent_when_not_verbose(bookkeeping_trainer, capsys):
    bookkeeping_trainer.fit(BARS, epochs=1, verbose=False)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_callback_can_stop_training(bookkeeping_trainer):
    done, seen = len(bookkeeping_trainer.history), []
    bookkeeping_trainer.fit(BARS, epochs=5, callbacks=[lambda t, r: seen.append(r["epoch"]) or r["epoch"] == done + 1],
                            verbose=False)
    assert seen == [done, done + 1] and len(bookkeeping_trainer.history) == done + 2


def test_same_seed_gives_bit_identical_weights():
    """float32 (the default) in mode "cpu", with k = 2, momentum and weight decay; the parameters stay float32."""
    weights = []
    for _ in range(2):
        model = bars_model(dtype="float32")
        Trainer(model, k=2, batch_size=7, momentum=0.5, weight_decay=1e-3, seed=42).fit(
            BARS, epochs=3, verbose=False)
        weights.append(model.W.get_value())
        assert all(value.dtype == np.float32 for value in model.get_params().values())
    np.testing.assert_array_equal(weights[0], weights[1])
    other = bars_model(dtype="float32")
    Trainer(other, k=2, batch_size=7, momentum=0.5, weight_decay=1e-3, seed=43).fit(BARS, epochs=3, verbose=False)
    assert not np.array_equal(other.W.get_value(), weights[0])


def test_fit_again_continues_from_current_state_and_reuses_compilation():
    """Two fits of 2 + 1 epochs equal one fit of 3 epochs on the same data, with one compilation.

    (Under JAX a second fit must not even trace again: test_a_second_fit_..._compiles_nothing.)
    """
    model_a, model_b = bars_model(), bars_model()
    trainer_a, trainer_b = (Trainer(model, batch_size=7, seed=3, mode="FAST_COMPILE") for model in (model_a, model_b))
    trainer_a.fit(BARS, epochs=2, verbose=False)
    compiled = trainer_a._train_fn
    trainer_a.fit(BARS, epochs=1, verbose=False)
    assert trainer_a._train_fn is compiled
    assert [r["epoch"] for r in trainer_a.history] == [0, 1, 2]
    trainer_b.fit(BARS, epochs=3, verbose=False)
    np.testing.assert_array_equal(model_a.W.get_value(), model_b.W.get_value())


# ------------------------------------------------- updates against numpy, step by step
#: visible biases so large that p(v_i = 1 | h) is within 1e-12 of 1 or 0 whatever h is: |W h| <= 1.06 here,
#: and centering moves the plain visible biases by W lambda, no more than that either
SATURATED_VBIAS = np.array([30.0, -30.0, 30.0, -30.0])


def saturated_model():
    """A 4-3 RBM whose Gibbs chain ends, after any k >= 1 steps, at v* = (1, 0, 1, 0) in every chain.

    Only the visible biases are saturated: W and the hidden biases are moderate, so p(h | v) is far
    from 0 and 1, and the data below (random rows, not v*) differ from v* in both statistics. The
    gradient is then exactly computable and non-zero, data-minus-model statistics with the model's
    side read at v* (a chance below 1e-10 per run that one of its at most 120 visible draws differs),
    while the random draws that feed the hidden states of the chain still happen.
    """
    rng = np.random.default_rng(11)
    return RBM(n_visible=4, n_hidden=3, W=0.3 * rng.normal(size=(4, 3)), hbias=rng.normal(size=3),
               vbias=SATURATED_VBIAS, dtype="float64")


STEP_DATA = (np.random.default_rng(12).random((15, 4)) < 0.5).astype(float)  # 3 minibatches of 5
CHAIN_END = (SATURATED_VBIAS > 0).astype(float)


def numpy_updates(model, learning_rate, momentum=0.0, weight_decay=0.0, batch_size=5):
    """Parameters and velocities after one epoch on STEP_DATA, computed with numpy from the update rule
    v <- momentum v - learning_rate (gradient + weight_decay W, on W only), p <- p + v."""
    params = [p.get_value().astype(np.float64) for p in model.params]
    velocities = [np.zeros_like(p) for p in params]
    for batch in STEP_DATA.reshape(-1, batch_size, 4):
        gradients = list(reference.cd_gradients(batch, np.tile(CHAIN_END, (batch_size, 1)), *params))
        gradients[0] = gradients[0] + weight_decay * params[0]
        velocities = [momentum * v - learning_rate * g for v, g in zip(velocities, gradients)]
        params = [p + v for p, v in zip(params, velocities)]
    return params, velocities


def assert_updates_equal(model, before, expected):
    """The change of each parameter equals the expected change (compared as changes: vbias is 30)."""
    for name, old, new, want in zip(("W", "hbias", "vbias"), before, (p.get_value() for p in model.params), expected):
        assert np.abs(want - old).max() > 1e-3, name  # a real step, not a fixed point
        np.testing.assert_allclose(new - old, want - old, rtol=1e-9, atol=1e-13, err_msg=name)


@pytest.mark.parametrize("mode, persistent, k", [("cpu", True, 1), ("FAST_COMPILE", False, 2)])
def test_sgd_steps_match_numpy(mode, persistent, k):
    """Three plain SGD steps (PCD-1 and CD-2) of learning rate 0.2, each with its own parameters' gradient.

    PCD also monitors the pseudo-likelihood of each minibatch before its update, bit 0, 1, 2 in turn.
    """
    model = saturated_model()
    before = [p.get_value() for p in model.params]
    expected, _ = numpy_updates(model, learning_rate=0.2)
    trainer = Trainer(model, learning_rate=0.2, k=k, persistent=persistent, batch_size=5, mode=mode, seed=0)
    record = trainer.fit(STEP_DATA, epochs=1, verbose=False)[0]
    assert_updates_equal(model, before, expected)
    if persistent:
        params, costs = [p.copy() for p in before], []
        for bit, batch in enumerate(STEP_DATA.reshape(3, 5, 4)):
            costs.append(reference.pseudo_likelihood_cost(batch, bit, *params))
            params = [p - 0.2 * g for p, g in zip(params, reference.cd_gradients(batch, np.tile(CHAIN_END, (5, 1)),
                                                                                   *params))]
        assert record["cost"] == pytest.approx(np.mean(costs), rel=1e-10)


def test_momentum_and_weight_decay_steps_match_numpy():
    """Three CD-1 steps with momentum 0.5 and weight decay 0.1: the velocity carries the earlier steps."""
    model = saturated_model()
    before = [p.get_value() for p in model.params]
    expected, velocities = numpy_updates(model, learning_rate=0.2, momentum=0.5, weight_decay=0.1)
    trainer = Trainer(model, learning_rate=0.2, k=1, persistent=False, batch_size=5, momentum=0.5,
                      weight_decay=0.1, mode="cpu", seed=0)
    trainer.fit(STEP_DATA, epochs=1, verbose=False)
    assert_updates_equal(model, before, expected)
    for velocity, want in zip(trainer.velocities, velocities):
        np.testing.assert_allclose(np.asarray(velocity.get_value()), want, rtol=1e-9, atol=1e-13)


def test_centered_steps_match_melchiors_algorithm():
    """Three centered PCD-1 steps: offsets start at the data means, then slide (rate 0.3) before each step."""
    from .test_centering import melchior_step

    model = saturated_model()
    params = [p.get_value() for p in model.params]
    mu = STEP_DATA.mean(axis=0)
    lam = expit(STEP_DATA @ params[0] + params[1]).mean(axis=0)
    for batch in STEP_DATA.reshape(3, 5, 4):
        *params, mu, lam = melchior_step(params, mu, lam, batch, np.tile(CHAIN_END, (5, 1)), lr=0.2, rate=0.3)
    before = [p.get_value() for p in model.params]
    trainer = Trainer(model, learning_rate=0.2, k=1, batch_size=5, centering=True, centering_rate=0.3,
                      mode="cpu", seed=0)
    trainer.fit(STEP_DATA, epochs=1, verbose=False)
    assert_updates_equal(model, before, params)
    np.testing.assert_allclose(trainer.visible_offset.get_value(), mu, rtol=1e-12)
    np.testing.assert_allclose(trainer.hidden_offset.get_value(), lam, rtol=1e-12)


@pytest.mark.parametrize("mode, batches_per_call", [("NUMBA", 1), ("JAX", 3)])
def test_divergence_stops_with_clear_error_and_keeps_last_finite_parameters(mode, batches_per_call):
    pytest.importorskip("jax") if mode == "JAX" else None
    model = RBM(n_visible=9, n_hidden=8, W=np.full((9, 8), 3e38), dtype="float32")  # v W overflows
    before = model.get_params()
    trainer = Trainer(model, learning_rate=1.0, k=1, batch_size=7, seed=0, mode=mode,
                      batches_per_call=batches_per_call)
    with pytest.raises(TrainingDiverged, match="epoch 0, minibatch 0"):
        trainer.fit(BARS, epochs=1, verbose=False)
    for name, value in model.get_params().items():
        assert np.all(np.isfinite(value))
        np.testing.assert_array_equal(value, before[name])


# ------------------------------------------------------- minibatches per call
def train_bars(mode, batches_per_call, n_batches, epochs, dtype="float64", **fit_options):
    """PCD-3 with momentum on bars-and-stripes; returns (model, trainer)."""
    data = np.tile(BARS, (5, 1))[: 7 * n_batches]  # n_batches minibatches of 7 rows
    model = bars_model(dtype=dtype)
    trainer = Trainer(model, learning_rate=0.1, k=3, batch_size=7, momentum=0.5, mode=mode, seed=5,
                      batches_per_call=batches_per_call)
    trainer.fit(data, epochs=epochs, verbose=False, **fit_options)
    return model, trainer


def assert_same_training(first, second, exact):
    (model_a, trainer_a), (model_b, trainer_b) = first, second
    compare = (np.testing.assert_array_equal if exact
               else lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12))
    for name, value in model_a.get_params().items():
        compare(value, model_b.get_params()[name])
    compare(np.asarray(trainer_a.persistent_chain.get_value()), np.asarray(trainer_b.persistent_chain.get_value()))
    compare([r["cost"] for r in trainer_a.history], [r["cost"] for r in trainer_b.history])
    compare(np.asarray(trainer_a.velocities[0].get_value()), np.asarray(trainer_b.velocities[0].get_value()))


@pytest.mark.slow  # Numba's first compile of a 5-minibatch loop: ~50 s with an empty cache (make test-slow runs it)
@pytest.mark.parametrize("n_batches, checkpoint_every", [(10, None), (8, None), (8, 3)])
def test_updates_do_not_depend_on_batches_per_call(n_batches, checkpoint_every, tmp_path):
    """Minibatches 5 per call: whole calls, a shorter rest, calls cut at checkpoints
    every 3 updates; three epochs as one minibatch per call, bit for bit in this float32 case (NUMBA;
    in float64 with momentum LLVM's code for the scan's body rounded differently, in the last bit).

    In float32, which the parameters and the chain keep.
    """
    checkpoint = None if checkpoint_every is None else tmp_path / "run.npz"
    one = train_bars("NUMBA", 1, n_batches, 3, dtype="float32")
    five = train_bars("NUMBA", 5, n_batches, 3, dtype="float32", checkpoint=checkpoint,
                      checkpoint_every=checkpoint_every)
    assert_same_training(one, five, exact=True)
    assert five[1]._single_step_fn is None  # Numba's loop takes any number of minibatches: one function
    for model, trainer in (one, five):
        assert all(value.dtype == np.float32 for value in model.get_params().values())
        assert np.asarray(trainer.persistent_chain.get_value()).dtype == np.float32


def test_updates_do_not_depend_on_batches_per_call_under_jax():
    """8 minibatches, 5 per call. Under JAX each function draws from its own copy of the generator:
    the one-step function's key is handed over and back, so the draws are the same (XLA fuses a
    scan's body its own way: equal up to rounding)."""
    pytest.importorskip("jax")
    assert_same_training(train_bars("JAX", 1, 8, 3), train_bars("JAX", 5, 8, 3), exact=False)


def test_several_minibatches_per_call_only_on_a_gpu():
    pytest.importorskip("jax")
    import jax

    assert Trainer(bars_model(), mode="JAX").batches_per_call == (50 if jax.default_backend() == "gpu" else 1)
    assert Trainer(bars_model(), mode="cpu").batches_per_call == 1
    assert Trainer(bars_model(), mode="NUMBA").batches_per_call == 1


def test_jax_training_moves_the_model_generator_on():
    """JAX functions draw from a private copy of model.rng; fit re-seeds model.rng from it afterwards,
    so a second trainer does not repeat the first one's draws."""
    pytest.importorskip("jax")
    model = bars_model()
    before = model.rng.get_value().bit_generator.state
    Trainer(model, batch_size=7, mode="cpu", seed=4).fit(BARS, epochs=1, verbose=False)
    after_first = model.rng.get_value().bit_generator.state
    assert after_first != before
    Trainer(model, batch_size=7, mode="cpu").fit(BARS, epochs=1, verbose=False)
    assert model.rng.get_value().bit_generator.state not in (before, after_first)
    again = bars_model()  # the same seeds give the same hand-back
    Trainer(again, batch_size=7, mode="cpu", seed=4).fit(BARS, epochs=1, verbose=False)
    assert again.rng.get_value().bit_generator.state == after_first


def test_float32_model_stays_float32_with_several_minibatches_per_call_under_jax():
    """PyTensor's JAX code returned float64 sums for float32 input; the updates must keep the dtype.

    (One minibatch per call: test_same_seed_gives_bit_identical_weights; NUMBA: the tests above.)
    """
    pytest.importorskip("jax")
    model, trainer = train_bars("JAX", 2, 4, 1, dtype="float32")
    for name, value in model.get_params().items():
        assert value.dtype == np.float32, name
    assert np.asarray(trainer.persistent_chain.get_value()).dtype == np.float32


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("kwargs, error, match", [
    (dict(learning_rate=0.0), ValueError, "learning_rate"),
    (dict(learning_rate=-1.0), ValueError, "learning_rate"),
    (dict(k=0), ValueError, "k must be >= 1"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(momentum=1.0), ValueError, "momentum"),
    (dict(weight_decay=-0.1), ValueError, "weight_decay"),
    (dict(mode="tpu"), ValueError, "unknown mode"),
    (dict(persistent="yes"), TypeError, "persistent"),
    (dict(seed=1.5), TypeError, "seed"),
])
def test_bad_trainer_arguments_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        Trainer(bars_model(), **kwargs)


def test_trainer_needs_a_model():
    with pytest.raises(TypeError, match="rbm.RBM"):
        Trainer("model")


@pytest.mark.parametrize("data, match", [
    (np.ones(9), "2-D"),
    (np.ones((4, 8)), "8 columns but the model has 9"),
    (np.full((4, 9), np.nan), "NaN"),
    (np.full((4, 9), 2.0), r"\[0, 1\]"),
    (np.full((4, 9), -0.5), r"\[0, 1\]"),
    (np.ones((0, 9)), "empty"),
    (np.ones((3, 9)), "batch_size=7 is larger than the 3 rows"),
])
def test_bad_data_is_refused_and_changes_nothing(data, match):
    model = bars_model()
    trainer = Trainer(model, batch_size=7, seed=0)
    before = model.get_params()
    with pytest.raises(ValueError, match=match):
        trainer.fit(data, verbose=False)
    assert trainer.history == []
    for name, value in model.get_params().items():
        np.testing.assert_array_equal(value, before[name])


def test_bad_fit_arguments_are_refused():
    trainer = Trainer(bars_model(), batch_size=7)
    with pytest.raises(ValueError, match="epochs"):
        trainer.fit(BARS, epochs=0)
    with pytest.raises(TypeError, match="callbacks"):
        trainer.fit(BARS, callbacks=[3])
    with pytest.raises(ValueError, match="valid"):
        trainer.fit(BARS, valid=np.ones((2, 3)))


def test_a_second_fit_on_data_of_the_same_shape_compiles_nothing():
    """Warm starts and scheduled values reuse the compiled step: JAX must not compile it again (it did, 3.6 s)."""
    jax = pytest.importorskip("jax")
    compiled = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, duration, **kwargs: compiled.append(event) if "backend_compile" in event else None)
    data = (np.random.default_rng(0).random((60, 9)) < 0.5).astype("float32")
    from rbm.training import schedules

    trainer = Trainer(bars_model(dtype="float32"), learning_rate=schedules.linear(0.1, 0.05, 3),
                      momentum=schedules.linear(0.5, 0.9, 3), batch_size=10, mode="cpu", seed=0)
    trainer.fit(data, epochs=1, verbose=False)
    assert compiled, "the listener must see the first fit's compilation"
    after_first = len(compiled)
    trainer.fit(data[::-1].copy(), epochs=2, verbose=False)
    assert len(compiled) == after_first


def test_a_model_trained_under_jax_runs_in_a_numba_graph():
    """After a mode="cpu" fit the parameters are numpy arrays again: a NUMBA function can read them."""
    pytest.importorskip("jax")
    data = (np.random.default_rng(0).random((40, 8)) < 0.3).astype("float32")
    model = RBM(n_visible=8, n_hidden=3, seed=0, dtype="float32")
    Trainer(model, batch_size=10, mode="cpu", seed=0).fit(data, epochs=1, verbose=False)
    v = pt.matrix("v", dtype="float32")
    free_energy = backend.compile_function([v], model.free_energy(v), mode="NUMBA")(data[:3])
    W, hbias, vbias = (p.get_value() for p in model.params)
    expected = -data[:3] @ vbias - np.logaddexp(0, data[:3] @ W + hbias).sum(axis=1)
    np.testing.assert_allclose(free_energy, expected, rtol=1e-5)
