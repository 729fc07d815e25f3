"""Learning-rate and momentum schedules, and persistent chains independent of the minibatch."""
import numpy as np
import pytest

from rbm import RBM, Trainer
from rbm.training import schedules

from .. import reference

BARS = np.tile(reference.bars_and_stripes(3), (5, 1))  # 70 rows


def model(seed=0):
    return RBM(n_visible=9, n_hidden=6, numpy_rng=np.random.RandomState(seed), seed=seed, dtype="float64")


def test_schedules_give_their_formulas():
    assert [schedules.linear(0.1, 0.02, 4)(e) for e in (0, 2, 4, 9)] == pytest.approx([0.1, 0.06, 0.02, 0.02])
    assert [schedules.exponential(0.5, 0.9)(e) for e in (0, 1, 3)] == pytest.approx([0.5, 0.45, 0.5 * 0.9 ** 3])
    assert schedules.constant(0.3)(17) == 0.3
    assert schedules.describe(schedules.linear(0.1, 0.02, 4)) == "linear(0.1, 0.02, 4)"
    assert schedules.describe(0.25) == 0.25


def test_each_epoch_trains_with_its_scheduled_values_and_one_compiled_step():
    """An epoch whose learning rate is 1e-300 leaves the weights as they were; the others move them."""
    trainer = Trainer(model(), learning_rate=lambda epoch: [0.05, 1e-300, 0.05][epoch], momentum=0.0,
                      batch_size=10, mode="FAST_COMPILE", seed=1)
    snapshots = []
    step = None
    for _ in range(3):
        trainer.fit(BARS, epochs=1, verbose=False)
        snapshots.append(trainer.model.W.get_value().copy())
        step = step or trainer._train_fn
        assert trainer._train_fn is step  # never recompiled
    np.testing.assert_array_equal(snapshots[0], snapshots[1])
    assert not np.array_equal(snapshots[1], snapshots[2])
    assert [record["learning_rate"] for record in trainer.history] == [0.05, 1e-300, 0.05]


def test_a_constant_schedule_trains_exactly_like_the_number():
    results = []
    for learning_rate, momentum in ((0.05, 0.5), (schedules.constant(0.05), schedules.constant(0.5))):
        trainer = Trainer(model(), learning_rate=learning_rate, momentum=momentum, batch_size=10, mode="FAST_COMPILE",
                          seed=3)
        trainer.fit(BARS, epochs=3, verbose=False)
        results.append(trainer.model.W.get_value())
    np.testing.assert_array_equal(*results)


def test_momentum_schedule_starting_at_zero_has_velocities():
    trainer = Trainer(model(), momentum=schedules.linear(0.0, 0.9, 5), batch_size=10, mode="FAST_COMPILE", seed=0)
    assert len(trainer.velocities) == 3
    trainer.fit(BARS, epochs=2, verbose=False)
    assert [record["momentum"] for record in trainer.history] == pytest.approx([0.0, 0.18])
    assert np.any(trainer.velocities[0].get_value() != 0)


def test_a_schedule_leaving_its_range_is_refused_before_any_training():
    network = model()
    before = network.get_params()
    trainer = Trainer(network, learning_rate=schedules.linear(0.1, -0.1, 4), batch_size=10, mode="FAST_COMPILE")
    with pytest.raises(ValueError, match="learning_rate schedule at epoch 2: learning_rate must be > 0"):
        trainer.fit(BARS, epochs=3, verbose=False)
    for name, value in network.get_params().items():
        np.testing.assert_array_equal(value, before[name])
    with pytest.raises(ValueError, match="momentum schedule at epoch 0: momentum must be < 1"):
        Trainer(model(), momentum=lambda epoch: 1.0)
    with pytest.raises(TypeError, match="learning_rate must be a number or a schedule"):
        Trainer(model(), learning_rate="fast")


def test_persistent_chains_need_not_match_the_minibatch():
    trainer = Trainer(model(), learning_rate=0.05, batch_size=5, n_chains=40, mode="FAST_COMPILE", seed=2)
    before = reference.mean_log_likelihood(reference.bars_and_stripes(3),
                                           *[p.get_value() for p in trainer.model.params])
    trainer.fit(BARS, epochs=30, verbose=False)
    assert trainer.persistent_chain.get_value().shape == (40, 6)
    after = reference.mean_log_likelihood(reference.bars_and_stripes(3), *[p.get_value() for p in trainer.model.params])
    assert after > before + 1.0
    with pytest.raises(ValueError, match="n_chains is the number of persistent chains"):
        Trainer(model(), persistent=False, n_chains=10)


def test_a_scheduled_run_with_many_chains_resumes_bit_for_bit(tmp_path):
    def make():
        return Trainer(model(), learning_rate=schedules.exponential(0.1, 0.8), momentum=schedules.linear(0.5, 0.9, 3),
                       batch_size=5, n_chains=12, mode="FAST_COMPILE", seed=4)

    path = tmp_path / "c.npz"
    make().fit(BARS, epochs=2, checkpoint=path, verbose=False)
    resumed = make()
    resumed.fit(BARS, epochs=4, resume=path, verbose=False)
    straight = make()
    straight.fit(BARS, epochs=4, verbose=False)
    np.testing.assert_array_equal(resumed.model.W.get_value(), straight.model.W.get_value())
    np.testing.assert_array_equal(resumed.persistent_chain.get_value(), straight.persistent_chain.get_value())
    other = Trainer(model(), learning_rate=schedules.exponential(0.1, 0.7), momentum=schedules.linear(0.5, 0.9, 3),
                    batch_size=5, n_chains=12, mode="FAST_COMPILE", seed=4)
    with pytest.raises(ValueError, match="exponential"):
        other.fit(BARS, epochs=4, resume=path, verbose=False)
