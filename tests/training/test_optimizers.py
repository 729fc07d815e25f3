"""The optimizers and gradient transforms of the training engine, each against a numpy step.

The model is test_trainer's saturated one: its chains end at a known visible state whatever the
draws, so each CD gradient is exactly computable (reference.cd_gradients) and non-zero.
"""
import re

import numpy as np
import pytest
from scipy.special import expit

from rbm import DBM, Trainer, TrainingDiverged
from rbm.training import DBMTrainer
from rbm.training.optimizers import SGD, Adam, Momentum

from .. import reference
from .test_trainer import CHAIN_END, STEP_DATA, assert_updates_equal, numpy_updates, saturated_model


def numpy_adam(params, batches, learning_rate, beta1=0.9, beta2=0.999, epsilon=1e-8, transform=None):
    """Adam (Kingma & Ba 2015, Algorithm 1) on the CD gradients of ``batches``, written out in numpy."""
    means = [np.zeros_like(p) for p in params]
    squares = [np.zeros_like(p) for p in params]
    for t, batch in enumerate(batches, start=1):
        gradients = list(reference.cd_gradients(batch, np.tile(CHAIN_END, (len(batch), 1)), *params))
        if transform is not None:
            gradients = transform(batch, params, gradients)
        means = [beta1 * m + (1 - beta1) * g for m, g in zip(means, gradients)]
        squares = [beta2 * s + (1 - beta2) * g ** 2 for s, g in zip(squares, gradients)]
        params = [p - learning_rate * (m / (1 - beta1 ** t)) / (np.sqrt(s / (1 - beta2 ** t)) + epsilon)
                  for p, m, s in zip(params, means, squares)]
    return params, means, squares


def test_adam_steps_match_numpy():
    model = saturated_model()
    before = [p.get_value() for p in model.params]
    expected, means, squares = numpy_adam([p.copy() for p in before], STEP_DATA.reshape(3, 5, 4), 0.05, beta1=0.8)
    trainer = Trainer(model, learning_rate=0.05, k=1, persistent=False, batch_size=5, optimizer=Adam(beta1=0.8),
                      mode="cpu", seed=0)
    trainer.fit(STEP_DATA, epochs=1, verbose=False)
    assert_updates_equal(model, before, expected)
    state = [np.asarray(v.get_value()) for v in trainer.optimizer_state]
    assert state[0] == 3  # the step count
    for got, want in zip(state[1:], means + squares):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-15)


def test_sgd_and_momentum_objects_are_the_momentum_argument():
    for optimizer, momentum in ((SGD(), 0.0), (Momentum(0.5), 0.5)):
        model = saturated_model()
        before = [p.get_value() for p in model.params]
        expected, _ = numpy_updates(model, learning_rate=0.2, momentum=momentum)
        Trainer(model, learning_rate=0.2, k=1, persistent=False, batch_size=5, optimizer=optimizer, mode="cpu",
                seed=0).fit(STEP_DATA, epochs=1, verbose=False)
        assert_updates_equal(model, before, expected)


def test_sparsity_target_steps_match_numpy():
    """The penalty adds cost (q - p) to hbias's gradient and cost mean(v) (q - p) to W's, q the minibatch's
    mean p(h | v)."""
    target, cost = 0.05, 0.5
    model = saturated_model()
    before = [p.get_value() for p in model.params]
    params = [p.copy() for p in before]
    for batch in STEP_DATA.reshape(3, 5, 4):
        gradients = list(reference.cd_gradients(batch, np.tile(CHAIN_END, (5, 1)), *params))
        excess = expit(batch @ params[0] + params[1]).mean(axis=0) - target
        gradients[0] = gradients[0] + cost * np.outer(batch.mean(axis=0), excess)
        gradients[1] = gradients[1] + cost * excess
        params = [p - 0.2 * g for p, g in zip(params, gradients)]
    Trainer(model, learning_rate=0.2, k=1, persistent=False, batch_size=5, sparsity_target=target,
            sparsity_cost=cost, mode="cpu", seed=0).fit(STEP_DATA, epochs=1, verbose=False)
    assert_updates_equal(model, before, params)


def test_dbm_trainer_takes_the_engines_optimizers():
    """A DBM trained with Adam moves its parameters and keeps Adam's state; a bad optimizer is refused."""
    model = DBM([4, 3, 2], numpy_rng=0, seed=0, dtype="float64")
    trainer = DBMTrainer(model, learning_rate=0.01, batch_size=5, n_chains=5, optimizer=Adam(), seed=0,
                         mode="FAST_COMPILE")
    before = [p.get_value().copy() for p in model.params]
    trainer.fit(STEP_DATA, epochs=1, verbose=False)
    assert float(trainer.optimizer_state[0].get_value()) == 3
    # each Adam step moves an entry by at most lr (1 - beta1) / sqrt(1 - beta2) (Kingma & Ba, section 2.1)
    moves = [np.abs(p.get_value() - b).max() for p, b in zip(model.params, before)]
    assert all(0 < move <= 3 * 0.01 * 0.1 / np.sqrt(0.001) for move in moves), moves
    with pytest.raises(ValueError, match="not both"):
        DBMTrainer(model, momentum=0.5, optimizer=Adam())
    with pytest.raises(TypeError, match="optimizer must be"):
        Trainer(saturated_model(), optimizer="adam")
    with pytest.raises(ValueError, match="sparsity_target"):
        Trainer(saturated_model(), sparsity_target=1.0)


@pytest.mark.parametrize("optimizer", [Momentum(0.5), Adam()], ids=repr)
def test_divergence_leaves_the_optimizer_state_at_its_last_finite_value(optimizer):
    """A learning rate of 1e308 with weight decay 10: lr (g + 10 W) overflows W's update while the step's
    cost (computed before the update) is still finite. Training stops at the first minibatch whose update
    is not finite, and the parameters and the optimizer's state (velocities; Adam's step and moments) are
    those after the minibatches before it, replayed in numpy: nothing non-finite is kept."""
    learning_rate, weight_decay = 1e308, 10.0
    model = saturated_model()
    before = [p.get_value().copy() for p in model.params]
    trainer = Trainer(model, learning_rate=learning_rate, k=1, persistent=False, batch_size=5,
                      weight_decay=weight_decay, optimizer=optimizer, mode="FAST_COMPILE", seed=0)
    with pytest.raises(TrainingDiverged, match="epoch 0, minibatch") as raised:
        trainer.fit(STEP_DATA, epochs=1, verbose=False)
    healthy_steps = int(re.search(r"minibatch (\d+)", str(raised.value)).group(1))
    assert healthy_steps < 3

    def with_weight_decay(batch, params, gradients):
        return [gradients[0] + weight_decay * params[0], *gradients[1:]]

    batches = STEP_DATA.reshape(3, 5, 4)[:healthy_steps]
    if isinstance(optimizer, Adam):
        params, means, squares = numpy_adam([p.copy() for p in before], batches, learning_rate,
                                            transform=with_weight_decay)
        expected_state = [np.array(float(healthy_steps)), *means, *squares]
    else:
        params, velocities = [p.copy() for p in before], [np.zeros_like(p) for p in before]
        for batch in batches:
            gradients = with_weight_decay(batch, params, reference.cd_gradients(
                batch, np.tile(CHAIN_END, (5, 1)), *params))
            velocities = [0.5 * v - learning_rate * g for v, g in zip(velocities, gradients)]
            params = [p + v for p, v in zip(params, velocities)]
        expected_state = velocities
    for got, want in zip(model.params, params):
        assert np.all(np.isfinite(got.get_value()))
        np.testing.assert_allclose(got.get_value(), want, rtol=1e-9, atol=1e-13)
    assert len(trainer.optimizer_state) == len(expected_state)
    for variable, want in zip(trainer.optimizer_state, expected_state):
        got = np.asarray(variable.get_value())
        assert np.all(np.isfinite(got)), variable.name
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-13, err_msg=variable.name)
