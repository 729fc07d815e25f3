"""The trainer: learning measured by exact log-likelihood, reproducibility, warm starts, errors."""
import numpy as np
import pytest

from rbm import RBM, Trainer, TrainingDiverged, backend
from rbm.backend import pt

from .. import reference

BARS = reference.bars_and_stripes(3)  # 14 distinct 3x3 patterns


def exact_ll(model, data=BARS):
    return reference.mean_log_likelihood(data, *[p.get_value().astype(np.float64) for p in model.params])


def bars_model(seed=0, dtype="float64"):
    return RBM(n_visible=9, n_hidden=8, numpy_rng=np.random.RandomState(seed), seed=seed, dtype=dtype)


@pytest.mark.parametrize("mode", ["NUMBA", "JAX"])
@pytest.mark.parametrize("persistent", [True, False])
def test_training_raises_exact_log_likelihood_on_bars_and_stripes(mode, persistent):
    pytest.importorskip("jax") if mode == "JAX" else None
    model = bars_model()
    data = np.tile(BARS, (20, 1))  # 280 rows: 28 minibatches of 10
    before = exact_ll(model)
    trainer = Trainer(model, learning_rate=0.05, k=1, persistent=persistent, batch_size=10,
                      momentum=0.5, mode=mode, seed=1)
    trainer.fit(data, epochs=50, verbose=False)
    after = exact_ll(model)
    uniform = -9 * np.log(2)  # -6.24: the uniform distribution over 9 bits
    best = -np.log(len(BARS))  # -2.64: the data distribution itself
    assert before < uniform  # the tutorial's large random weights start below uniform
    assert after > uniform + 1.5 and after <= best
    assert after > before + 3.0


def test_history_records_cost_time_and_free_energy_gap(capsys):
    model = bars_model()
    trainer = Trainer(model, batch_size=7, seed=0)
    history = trainer.fit(BARS, epochs=2, valid=BARS[:5], verbose=True)
    assert [r["epoch"] for r in history] == [0, 1]
    for record in history:
        assert np.isfinite(record["cost"]) and record["cost"] < 0 and record["time"] > 0
        assert np.isfinite(record["free_energy_gap"])
    out = capsys.readouterr()
    assert "epoch 1: cost" in out.out + out.err


def test_free_energy_gap_matches_numpy():
    model = bars_model()
    trainer = Trainer(model, batch_size=14, seed=0)
    valid = np.ones((3, 9))
    record = trainer.fit(BARS, epochs=1, valid=valid, verbose=False)[-1]
    params = [p.get_value() for p in model.params]
    expected = reference.free_energy(valid, *params).mean() - reference.free_energy(BARS[:3], *params).mean()
    np.testing.assert_allclose(record["free_energy_gap"], expected, rtol=1e-10)


def test_silent_when_not_verbose(capsys):
    Trainer(bars_model(), batch_size=7).fit(BARS, epochs=1, verbose=False)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_same_seed_gives_bit_identical_weights(dtype):
    weights = []
    for _ in range(2):
        model = bars_model(dtype=dtype)
        Trainer(model, k=2, batch_size=7, momentum=0.5, weight_decay=1e-3, seed=42).fit(
            BARS, epochs=3, verbose=False)
        weights.append(model.W.get_value())
    np.testing.assert_array_equal(weights[0], weights[1])
    other = bars_model(dtype=dtype)
    Trainer(other, k=2, batch_size=7, momentum=0.5, weight_decay=1e-3, seed=43).fit(BARS, epochs=3, verbose=False)
    assert not np.array_equal(other.W.get_value(), weights[0])


def test_fit_again_continues_from_current_state_and_reuses_compilation():
    model = bars_model()
    trainer = Trainer(model, batch_size=7, seed=3)
    trainer.fit(BARS, epochs=2, verbose=False)
    compiled = trainer._train_fn
    trainer.fit(BARS[::-1].copy(), epochs=1, verbose=False)  # new data, same width
    assert trainer._train_fn is compiled
    assert [r["epoch"] for r in trainer.history] == [0, 1, 2]
    # Two fits of 2 + 1 epochs equal one fit of 3 epochs on the same data.
    model_a, model_b = bars_model(), bars_model()
    trainer_a, trainer_b = Trainer(model_a, batch_size=7, seed=3), Trainer(model_b, batch_size=7, seed=3)
    trainer_a.fit(BARS, epochs=2, verbose=False)
    trainer_a.fit(BARS, epochs=1, verbose=False)
    trainer_b.fit(BARS, epochs=3, verbose=False)
    np.testing.assert_array_equal(model_a.W.get_value(), model_b.W.get_value())


def test_plain_sgd_step_matches_numpy_for_cd_with_fixed_randomness():
    """With saturated weights the sampler is deterministic, so one CD-1 step is computable by hand."""
    W = np.array([[30.0, -30.0], [-30.0, 30.0]])
    model = RBM(n_visible=2, n_hidden=2, W=W, vbias=np.array([-15.0, -15.0]), dtype="float64")
    data = np.array([[1.0, 0.0]])
    trainer = Trainer(model, learning_rate=0.01, k=1, persistent=False, batch_size=1, seed=0)
    trainer.fit(data, epochs=1, verbose=False)
    # h = (1, 0) surely; then v = sigmoid(h W^T + b) = sigmoid(15, -45) -> (1, 0) surely.
    expected_grad = reference.cd_gradients(data, np.array([[1.0, 0.0]]), W, np.zeros(2), np.array([-15.0, -15.0]))
    np.testing.assert_allclose(model.W.get_value(), W - 0.01 * expected_grad[0], atol=1e-9)


def test_callback_can_stop_training():
    trainer = Trainer(bars_model(), batch_size=7)
    seen = []
    trainer.fit(BARS, epochs=5, callbacks=[lambda t, r: seen.append(r["epoch"]) or r["epoch"] == 1],
                verbose=False)
    assert seen == [0, 1] and len(trainer.history) == 2


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
def train_bars(mode, batches_per_call, n_batches, epochs, dtype="float64"):
    """PCD-3 with momentum on bars-and-stripes; returns (model, trainer)."""
    data = np.tile(BARS, (5, 1))[: 7 * n_batches]  # n_batches minibatches of 7 rows
    model = bars_model(dtype=dtype)
    trainer = Trainer(model, learning_rate=0.1, k=3, batch_size=7, momentum=0.5, mode=mode, seed=5,
                      batches_per_call=batches_per_call)
    trainer.fit(data, epochs=epochs, verbose=False)
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


def test_several_minibatches_per_call_train_exactly_like_one():
    """10 minibatches, 5 per call: two full calls per epoch, the same updates in the same order."""
    assert_same_training(train_bars("NUMBA", 1, 10, 2), train_bars("NUMBA", 5, 10, 2), exact=True)


def test_a_partial_last_call_changes_nothing_past_the_epoch():
    """8 minibatches, 5 per call: the second call's last two steps must leave every state alone.

    Those steps still draw random numbers (so later epochs differ from one
    minibatch per call); the first epoch must match exactly.
    """
    one, five = train_bars("NUMBA", 1, 8, 1), train_bars("NUMBA", 5, 8, 1)
    assert_same_training(one, five, exact=True)
    assert len(five[1].history) == 1 and np.isfinite(five[1].history[0]["cost"])


def test_several_minibatches_per_call_under_jax():
    pytest.importorskip("jax")
    assert_same_training(train_bars("JAX", 1, 10, 2), train_bars("JAX", 5, 10, 2), exact=False)


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


@pytest.mark.parametrize("mode, batches_per_call", [("NUMBA", 1), ("JAX", 1), ("JAX", 2)])
def test_float32_model_stays_float32(mode, batches_per_call):
    """PyTensor's JAX code returned float64 sums for float32 input; the updates must keep the dtype."""
    pytest.importorskip("jax") if mode == "JAX" else None
    model, trainer = train_bars(mode, batches_per_call, 4, 1, dtype="float32")
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
