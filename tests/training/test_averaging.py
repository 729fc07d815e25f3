"""Parameter averaging (Trainer(average_last_epochs=N)): the mean of the last N epochs' parameters, resumable."""
import numpy as np
import pytest

from rbm import RBM, Trainer
from rbm.training.averaging import ParameterAverage

DATA = (np.random.default_rng(0).random((60, 6)) < 0.4).astype("float64")


def trainer_of(average_last_epochs, mode="FAST_COMPILE", seed=0, **settings):
    model = RBM(n_visible=6, n_hidden=3, numpy_rng=np.random.RandomState(1), seed=1, dtype="float64")
    return Trainer(model, learning_rate=0.1, batch_size=10, momentum=0.5, seed=seed, mode=mode,
                   average_last_epochs=average_last_epochs, **settings)


def recorder(snapshots):
    """A callback keeping a copy of the parameters after each epoch (callbacks see the iterates)."""
    def record(trainer, _record):
        snapshots.append([np.array(param.get_value(), dtype=np.float64) for param in trainer.model.params])
    return record


@pytest.mark.parametrize("mode", ["FAST_COMPILE", "cpu"])
@pytest.mark.parametrize("average_last_epochs, epochs", [(3, 5), (1, 4), (9, 4)])
def test_a_fit_ends_with_the_mean_of_its_last_epochs_parameters(mode, average_last_epochs, epochs):
    trainer, snapshots = trainer_of(average_last_epochs, mode), []
    trainer.fit(DATA, epochs=epochs, callbacks=[recorder(snapshots)], verbose=False)
    window = snapshots[-average_last_epochs:]  # all of them when the fit is shorter
    for i, param in enumerate(trainer.model.params):
        want = np.mean([snapshot[i] for snapshot in window], axis=0)
        np.testing.assert_allclose(param.get_value(), want, rtol=1e-12, atol=1e-15)
        if len(window) > 1:  # not the last iterate
            assert np.abs(param.get_value() - snapshots[-1][i]).max() > 1e-4
    # a second fit averages its own epochs, continuing from the average
    start = [np.array(param.get_value()) for param in trainer.model.params]
    again = []
    trainer.fit(DATA, epochs=2, callbacks=[recorder(again)], verbose=False)
    assert not np.array_equal(again[0][0], start[0])
    np.testing.assert_allclose(trainer.model.W.get_value(), np.mean([s[0] for s in again[-average_last_epochs:]], 0),
                               rtol=1e-12, atol=1e-15)


def test_without_averaging_the_model_keeps_the_last_iterate():
    trainer, snapshots = trainer_of(None), []
    trainer.fit(DATA, epochs=3, callbacks=[recorder(snapshots)], verbose=False)
    for param, last in zip(trainer.model.params, snapshots[-1]):
        np.testing.assert_array_equal(param.get_value(), last)


def test_a_callback_that_stops_the_run_gets_the_mean_of_the_window_so_far():
    trainer, snapshots = trainer_of(3), []
    trainer.fit(DATA, epochs=6, callbacks=[recorder(snapshots), lambda t, r: r["epoch"] == 4], verbose=False)
    assert len(snapshots) == 5  # epochs 3 and 4 of the window 3..5 were trained
    np.testing.assert_allclose(trainer.model.W.get_value(), (snapshots[3][0] + snapshots[4][0]) / 2, rtol=1e-12)


@pytest.mark.parametrize("mode", ["FAST_COMPILE", "NUMBA"])
@pytest.mark.parametrize("stop_after, checkpoint_every", [(1, None), (3, None), (4, None), (None, 13)])
def test_a_resumed_run_averages_exactly_as_the_uninterrupted_one(tmp_path, mode, stop_after, checkpoint_every):
    """Interrupted before, inside and at the end of the window (epochs 3..5), or mid-epoch: the same model."""
    uninterrupted = trainer_of(3, mode)
    uninterrupted.fit(DATA, epochs=6, verbose=False)
    path = tmp_path / "run.npz"
    interrupted = trainer_of(3, mode)
    if checkpoint_every is None:
        interrupted.fit(DATA, epochs=6, checkpoint=path, callbacks=[lambda t, r: r["epoch"] == stop_after],
                        verbose=False)
    else:  # a checkpoint every 13 minibatches (6 per epoch): the last one mid-epoch 5
        with pytest.raises(KeyboardInterrupt):
            interrupted.fit(DATA, epochs=6, checkpoint=path, checkpoint_every=checkpoint_every, verbose=False,
                            callbacks=[lambda t, r: (_ for _ in ()).throw(KeyboardInterrupt) if r["epoch"] == 5
                                       else False])
    resumed = trainer_of(3, mode, seed=9)
    resumed.fit(DATA, epochs=6, resume=path, verbose=False)
    for got, want in zip(resumed.model.params, uninterrupted.model.params):
        np.testing.assert_array_equal(got.get_value(), want.get_value())


def test_a_second_fit_shorter_than_the_window_averages_its_own_epochs_and_resumes(tmp_path):
    """Window 5, fits of 3 and 3 epochs: the second averages its epochs 3..5 only, also when resumed."""
    uninterrupted, snapshots = trainer_of(5), []
    uninterrupted.fit(DATA, epochs=3, verbose=False)
    uninterrupted.fit(DATA, epochs=3, callbacks=[recorder(snapshots)], verbose=False)
    np.testing.assert_allclose(uninterrupted.model.W.get_value(), np.mean([s[0] for s in snapshots], 0), rtol=1e-12)
    interrupted, path = trainer_of(5), tmp_path / "run.npz"
    interrupted.fit(DATA, epochs=3, verbose=False)
    interrupted.fit(DATA, epochs=3, checkpoint=path, callbacks=[lambda t, r: r["epoch"] == 4], verbose=False)
    resumed = trainer_of(5, seed=9)
    resumed.fit(DATA, epochs=6, resume=path, verbose=False)  # epochs of the whole run, as for any resume
    for got, want in zip(resumed.model.params, uninterrupted.model.params):
        np.testing.assert_array_equal(got.get_value(), want.get_value())


def test_a_resume_with_another_window_or_run_length_is_refused_and_changes_nothing(tmp_path):
    path = tmp_path / "run.npz"
    trainer_of(3).fit(DATA, epochs=6, checkpoint=path, callbacks=[lambda t, r: r["epoch"] == 3], verbose=False)
    for average_last_epochs, epochs, message in ((2, 6, "other settings"), (None, 6, "other settings"),
                                                 (3, 8, "averages from epoch 3, this run from epoch 5")):
        refused = trainer_of(average_last_epochs, seed=9)
        before = [np.array(param.get_value()) for param in refused.model.params]
        with pytest.raises(ValueError, match=message):
            refused.fit(DATA, epochs=epochs, resume=path, verbose=False)
        for param, value in zip(refused.model.params, before):
            np.testing.assert_array_equal(param.get_value(), value)
        assert refused.history == []


def test_a_damaged_average_in_a_checkpoint_is_refused(tmp_path):
    path = tmp_path / "run.npz"
    trainer_of(3).fit(DATA, epochs=6, checkpoint=path, callbacks=[lambda t, r: r["epoch"] == 4], verbose=False)
    with np.load(path) as archive:
        arrays = dict(archive)
    for key, value, message in (("average_count", np.int64(1), "an average of 1 epochs at epoch 5"),
                                ("average_count", np.str_("two"), "unreadable parameter average"),
                                ("average_first_epoch", np.array([3, 3]), "unreadable parameter average"),
                                ("average_sum_0", np.full((6, 3), np.nan), "expected finite float64"),
                                ("average_sum_1", np.zeros(4), r"float64\(4,\), expected")):
        damaged = tmp_path / f"{key}.npz"
        np.savez(damaged, **{**arrays, key: value})
        with pytest.raises(ValueError, match=message):
            trainer_of(3).fit(DATA, epochs=6, resume=damaged, verbose=False)
    np.savez(tmp_path / "lacking.npz", **{k: v for k, v in arrays.items() if k != "average_sum_2"})
    with pytest.raises(ValueError, match="lacks the parameter average's 'average_sum_2'"):
        trainer_of(3).fit(DATA, epochs=6, resume=tmp_path / "lacking.npz", verbose=False)


@pytest.mark.parametrize("value, error", [(0, ValueError), (-2, ValueError), (1.5, TypeError), (True, TypeError),
                                          ("3", TypeError)])
def test_a_bad_window_is_refused(value, error):
    with pytest.raises(error, match="average_last_epochs"):
        trainer_of(value)


def test_the_average_sums_in_float64():
    """float32 parameters: a float32 sum would lose small values beside a large one (2**25 + 1 == 2**25)."""
    average = ParameterAverage(3)
    average.start(3)
    for epoch, value in enumerate([2.0 ** 25, 1.0, 1.0]):
        average.add(epoch, [np.array([value], dtype=np.float32)])
    mean = average.mean()[0]
    assert mean.dtype == np.float64 and mean[0] == np.float64(2.0 ** 25 + 2.0) / 3  # a float32 sum: 2**25 / 3


def test_the_dbm_trainer_averages_too():
    """One engine: the DBM's trainer ends with the mean of its last epochs' parameters as well."""
    from rbm import DBM
    from rbm.training import DBMTrainer

    model = DBM([6, 4, 3], numpy_rng=1, seed=1, dtype="float64")
    trainer, snapshots = DBMTrainer(model, learning_rate=0.05, batch_size=10, n_chains=5, seed=0,
                                    mode="FAST_COMPILE", average_last_epochs=2), []
    trainer.fit(DATA, epochs=3, callbacks=[recorder(snapshots)], verbose=False)
    for i, param in enumerate(model.params):
        np.testing.assert_allclose(param.get_value(), (snapshots[1][i] + snapshots[2][i]) / 2, rtol=1e-12)
    assert np.abs(model.params[0].get_value() - snapshots[2][0]).max() > 1e-5
