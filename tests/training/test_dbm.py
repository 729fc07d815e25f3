"""DBMTrainer: one update against numpy, likelihood gains by brute force, bit-exact resume, the divergence guard."""
import os

import numpy as np
import pytest
from scipy.special import expit

from rbm import dbm_evaluation
from rbm.models.dbm import DBM
from rbm.training import TrainingDiverged
from rbm.training.dbm import DBMTrainer

from ..models.test_dbm import brute_force_log_p, numpy_mean_field, random_dbm

LAYER_SIZES = (4, 3, 2)


def numpy_centered_updates(data, weights, biases, chains, generator, settings, n_updates):
    """Melchior et al.'s centered DBM update, written in centered coordinates, applied to minibatches in turn.

    Plain parameters (W, b) and offsets o correspond to centered biases
    c_i = b_i + W_i o_(i+1) + W_(i-1)^T o_(i-1) (the energies differ by a
    constant). A step moves the offsets to the sliding average of the data
    means, takes the centered gradient (data minus model statistics of
    (x_i - o_i)(x_(i+1) - o_(i+1))^T and of x_i), steps the centered
    parameters and converts back; momentum accumulates the resulting plain
    steps, weight decay adds -lr wd W to the weights' step. Chains sweep odd
    layers then even layers, bottom up, each unit drawn as uniform < p from
    ``generator`` in that order. ``settings["centering_rate"]`` None: no centering.
    """
    lr, momentum, decay, rate, mf_steps, sweeps, batch = (settings[key] for key in (
        "learning_rate", "momentum", "weight_decay", "centering_rate", "mean_field_steps", "gibbs_steps",
        "batch_size"))
    n_layers = len(biases)
    weights, biases, chains = [w.copy() for w in weights], [b.copy() for b in biases], [c.copy() for c in chains]
    if rate is None:  # no centering: offsets stay at zero, where centered and plain coordinates coincide
        rate, offsets = 0.0, [np.zeros(len(b)) for b in biases]
    else:
        offsets = [m.mean(axis=0) for m in numpy_mean_field(data, weights, biases, mf_steps)]
    velocities = [np.zeros_like(p) for p in weights + biases]

    def to_centered(W, b, o):
        return [b[i] + (W[i] @ o[i + 1] if i < n_layers - 1 else 0) + (o[i - 1] @ W[i - 1] if i > 0 else 0)
                for i in range(n_layers)]

    def to_plain(W, c, o):
        return [c[i] - (W[i] @ o[i + 1] if i < n_layers - 1 else 0) - (o[i - 1] @ W[i - 1] if i > 0 else 0)
                for i in range(n_layers)]

    costs = []
    for update in range(n_updates):
        v = data[update * batch:(update + 1) * batch]
        positive = numpy_mean_field(v, weights, biases, mf_steps)
        for _ in range(sweeps):
            for i in [*range(1, n_layers, 2), *range(0, n_layers, 2)]:
                activation = biases[i] + (chains[i - 1] @ weights[i - 1] if i > 0 else 0)
                activation = activation + (chains[i + 1] @ weights[i].T if i < n_layers - 1 else 0)
                chains[i] = (generator.uniform(0.0, 1.0, chains[i].shape) < expit(activation)).astype(np.float64)
        activation = positive[1] @ weights[0].T + biases[0]
        costs.append(np.mean(np.sum(v * activation - np.logaddexp(0, activation), axis=1)))
        offsets = [(1 - rate) * o + rate * m.mean(axis=0) for o, m in zip(offsets, positive)]
        centered_biases = to_centered(weights, biases, offsets)
        new_weights = []
        for i, W in enumerate(weights):
            data_stat = ((positive[i] - offsets[i]).T @ (positive[i + 1] - offsets[i + 1])) / len(v)
            model_stat = ((chains[i] - offsets[i]).T @ (chains[i + 1] - offsets[i + 1])) / len(chains[0])
            new_weights.append(W + lr * (data_stat - model_stat))
        new_centered = [c + lr * (p.mean(axis=0) - x.mean(axis=0)) for c, p, x in zip(centered_biases, positive, chains)]
        new_biases = to_plain(new_weights, new_centered, offsets)
        steps = ([new - old - lr * decay * old for new, old in zip(new_weights, weights)]
                 + [new - old for new, old in zip(new_biases, biases)])
        velocities = [momentum * velocity + step for velocity, step in zip(velocities, steps)]
        params = [p + velocity for p, velocity in zip(weights + biases, velocities)]
        weights, biases = params[:n_layers - 1], params[n_layers - 1:]
    return weights, biases, chains, offsets, velocities, costs


STEP_SETTINGS = dict(learning_rate=0.3, momentum=0.5, weight_decay=0.01, centering_rate=0.2, mean_field_steps=2,
                     gibbs_steps=2, batch_size=5, n_chains=3)


def test_updates_follow_the_centered_numpy_step():
    """Three updates with centering, momentum and weight decay; FAST_COMPILE draws with numpy's generator."""
    model, weights, biases = random_dbm(LAYER_SIZES, seed=10, scale=0.5)
    data = (np.random.default_rng(11).random((15, 4)) < 0.5).astype(np.float64)
    trainer = DBMTrainer(model, centering=True, mode="FAST_COMPILE", seed=12, **STEP_SETTINGS)
    chains = [np.array(c.get_value()) for c in trainer.chains]
    assert all(set(np.unique(c)) <= {0.0, 1.0} for c in chains)
    history = trainer.fit(data, epochs=1, verbose=False)
    expected = numpy_centered_updates(data, weights, biases, chains, np.random.default_rng(12), STEP_SETTINGS, 3)
    new_weights, new_biases, new_chains, offsets, velocities, costs = expected
    got = model.get_params()
    for i, W in enumerate(new_weights):
        np.testing.assert_allclose(got[f"W_{i}"], W, rtol=1e-10, atol=1e-13)
    for i, b in enumerate(new_biases):
        np.testing.assert_allclose(got[f"bias_{i}"], b, rtol=1e-10, atol=1e-13)
    for chain, expected_chain in zip(trainer.chains, new_chains):
        np.testing.assert_array_equal(chain.get_value(), expected_chain)
    for offset, expected_offset in zip(trainer.offsets, offsets):
        np.testing.assert_allclose(offset.get_value(), expected_offset, rtol=1e-12)
    for velocity, expected_velocity in zip(trainer.velocities, velocities):
        np.testing.assert_allclose(velocity.get_value(), expected_velocity, rtol=1e-10, atol=1e-13)
    assert history[0]["cost"] == pytest.approx(np.mean(costs), rel=1e-12)


def test_without_centering_the_update_is_the_plain_gradient():
    """With offsets held at zero the centered reference is the plain data-minus-model step."""
    model, weights, biases = random_dbm(LAYER_SIZES, seed=13, scale=0.5)
    data = (np.random.default_rng(14).random((10, 4)) < 0.5).astype(np.float64)
    trainer = DBMTrainer(model, mode="FAST_COMPILE", seed=15,
                         **{k: v for k, v in STEP_SETTINGS.items() if k != "centering_rate"})
    chains = [np.array(c.get_value()) for c in trainer.chains]
    trainer.fit(data, epochs=1, verbose=False)
    new_weights, new_biases, new_chains, *_ = numpy_centered_updates(
        data, weights, biases, chains, np.random.default_rng(15), {**STEP_SETTINGS, "centering_rate": None}, 2)
    got = model.get_params()
    for i, W in enumerate(new_weights):
        np.testing.assert_allclose(got[f"W_{i}"], W, rtol=1e-10, atol=1e-13)
    for i, b in enumerate(new_biases):
        np.testing.assert_allclose(got[f"bias_{i}"], b, rtol=1e-10, atol=1e-13)
    for chain, expected_chain in zip(trainer.chains, new_chains):
        np.testing.assert_array_equal(chain.get_value(), expected_chain)


@pytest.mark.parametrize("centering", [False, True])
def test_training_raises_the_exact_log_likelihood(centering):
    """Four 6-pixel patterns; the best model gives each probability 1/4 (log-likelihood -1.39 nats)."""
    patterns = np.array([[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1], [1, 0, 1, 0, 1, 0], [0, 1, 0, 1, 0, 1]], float)
    data = np.tile(patterns, (25, 1))
    model = DBM((6, 4, 3), numpy_rng=0, dtype="float64")
    before = dbm_evaluation.exact_log_likelihood(model, data).log_likelihood
    trainer = DBMTrainer(model, learning_rate=0.05, batch_size=10, n_chains=20, mean_field_steps=5, gibbs_steps=1,
                         momentum=0.5, centering=centering, mode="FAST_COMPILE", seed=0)
    trainer.fit(data, epochs=30, verbose=False)
    after = dbm_evaluation.exact_log_likelihood(model, data).log_likelihood
    # weights of std 0.01 start at -6 log 2 = -4.16 nats; the optimum is 2.77 nats higher: ask for a third of it
    assert before == pytest.approx(-6 * np.log(2), abs=0.01)
    assert after > before + 2.77 / 3
    # and the exact value agrees with brute force at the end too
    W = [model.get_params()[f"W_{i}"] for i in range(2)]
    b = [model.get_params()[f"bias_{i}"] for i in range(3)]
    assert after == pytest.approx(brute_force_log_p(patterns, (6, 4, 3), W, b).mean(), rel=1e-10)


# ------------------------------------------------------------------ resume, divergence, bad input
def tiny_trainer(mode, seed=3, batches_per_call=None):
    model = DBM(LAYER_SIZES, numpy_rng=1, seed=2, dtype="float32")
    return model, DBMTrainer(model, learning_rate=0.1, batch_size=4, n_chains=5, mean_field_steps=2, gibbs_steps=1,
                             momentum=0.5, centering=True, mode=mode, seed=seed, batches_per_call=batches_per_call)


RESUME_DATA = (np.random.default_rng(4).random((16, 4)) < 0.5).astype(np.float32)


@pytest.mark.parametrize("mode", ["cpu", "FAST_COMPILE"])
def test_resume_ends_bit_identical_to_an_uninterrupted_run(tmp_path, mode):
    path = os.path.join(tmp_path, "state.npz")
    model, trainer = tiny_trainer(mode)
    trainer.fit(RESUME_DATA, epochs=3, verbose=False)
    reference = model.get_params()
    # interrupted: checkpoints every 3 updates (4 per epoch), stopped after the first epoch by a callback, so the
    # last checkpoint is mid-epoch (epoch 0 ended at 4 updates; the checkpoint at 3 is overwritten by none after)
    model, trainer = tiny_trainer(mode)
    trainer.fit(RESUME_DATA, epochs=3, verbose=False, checkpoint=path, checkpoint_every=3,
                callbacks=lambda trainer, record: record["epoch"] == 1)
    interrupted = model.get_params()
    assert not all(np.array_equal(interrupted[name], value) for name, value in reference.items())
    with np.load(path) as archive:
        assert (int(archive["epoch"]), int(archive["batch"])) == (1, 2)  # the 6th update
    model, trainer = tiny_trainer(mode)
    history = trainer.fit(RESUME_DATA, epochs=3, verbose=False, resume=path)
    assert [record["epoch"] for record in history] == [0, 1, 2]
    for name, value in reference.items():
        assert np.array_equal(model.get_params()[name], value), name


@pytest.mark.slow  # three DBM trainers, one with a 3-step loop: ~25 s with an empty cache (make test-slow runs it)
def test_a_resume_may_run_other_minibatches_per_call(tmp_path):
    """The updates do not depend on batches_per_call (the same draws in the same order), so it is not a setting a
    resume must match, as for rbm.Trainer; a loop of several updates may round differently from single ones
    (measured: 1 ulp of float32 in W after 4 updates), hence the tolerance."""
    path = os.path.join(tmp_path, "state.npz")
    model, trainer = tiny_trainer("FAST_COMPILE")
    trainer.fit(RESUME_DATA, epochs=2, verbose=False)
    reference = model.get_params()
    _, trainer = tiny_trainer("FAST_COMPILE")
    trainer.fit(RESUME_DATA, epochs=1, verbose=False, checkpoint=path)
    model, trainer = tiny_trainer("FAST_COMPILE", batches_per_call=3)
    trainer.fit(RESUME_DATA, epochs=2, verbose=False, resume=path)
    for name, value in reference.items():
        np.testing.assert_allclose(model.get_params()[name], value, rtol=1e-5, atol=1e-7, err_msg=name)
    assert not np.allclose(model.get_params()["W_0"], tiny_trainer("FAST_COMPILE")[0].get_params()["W_0"])


def test_a_checkpoint_of_other_settings_or_data_is_refused_and_changes_nothing(tmp_path):
    path = os.path.join(tmp_path, "state.npz")
    _, trainer = tiny_trainer("FAST_COMPILE")
    trainer.fit(RESUME_DATA, epochs=1, verbose=False, checkpoint=path)
    model, other = tiny_trainer("FAST_COMPILE")
    other.gibbs_steps = 2  # another trainer setting
    before = model.get_params()
    with pytest.raises(ValueError, match="gibbs_steps"):
        other.fit(RESUME_DATA, epochs=2, verbose=False, resume=path)
    model, other = tiny_trainer("FAST_COMPILE")
    with pytest.raises(ValueError, match="other data"):
        other.fit(1 - RESUME_DATA, epochs=2, verbose=False, resume=path)
    assert all(np.array_equal(model.get_params()[name], value) for name, value in before.items())
    assert other.history == []


def test_divergence_keeps_the_last_finite_parameters():
    """float32 and weight decay 1e10 times lr 1e31 overflow the first update to infinity."""
    model = DBM(LAYER_SIZES, numpy_rng=1, seed=2, dtype="float32")
    trainer = DBMTrainer(model, learning_rate=1e31, weight_decay=1e10, batch_size=4, n_chains=5,
                         mean_field_steps=1, gibbs_steps=1, mode="FAST_COMPILE", seed=0)
    before = model.get_params()
    chains = [np.array(c.get_value()) for c in trainer.chains]
    with pytest.raises(TrainingDiverged, match="epoch 0, minibatch 0"):
        trainer.fit(RESUME_DATA, epochs=2, verbose=False)
    for name, value in before.items():
        assert np.array_equal(model.get_params()[name], value), name
    for chain, value in zip(trainer.chains, chains):
        assert np.array_equal(chain.get_value(), value)


@pytest.mark.parametrize("data, error", [(np.zeros((8, 5)), "columns"), (np.full((8, 4), -0.5), r"\[0, 1\]"),
                                         (np.zeros((2, 4)), "larger than")])
def test_fit_refuses_bad_data_before_changing_anything(data, error):
    model = DBM(LAYER_SIZES, numpy_rng=1, dtype="float64")
    trainer = DBMTrainer(model, batch_size=4, mode="FAST_COMPILE")
    before = model.get_params()
    with pytest.raises(ValueError, match=error):
        trainer.fit(data, verbose=False)
    assert trainer._train_fn is None and trainer.history == []
    assert all(np.array_equal(model.get_params()[name], value) for name, value in before.items())


@pytest.mark.parametrize("settings, error", [
    (dict(learning_rate=0.0), ValueError), (dict(batch_size=0), ValueError), (dict(momentum=1.0), ValueError),
    (dict(mean_field_steps=-1), ValueError), (dict(gibbs_steps=0), ValueError), (dict(centering="yes"), TypeError),
    (dict(centering_rate=0.0), ValueError), (dict(weight_decay=-1.0), ValueError), (dict(mode="fast"), ValueError)])
def test_bad_trainer_settings_are_refused(settings, error):
    with pytest.raises(error):
        DBMTrainer(DBM(LAYER_SIZES), **settings)


def test_trainer_refuses_other_models():
    from rbm import RBM

    with pytest.raises(TypeError, match="DBM"):
        DBMTrainer(RBM(n_visible=4, n_hidden=3))
