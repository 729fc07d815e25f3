"""DBNTrainer: learning, early stopping, checkpoints that resume bit for bit, divergence, bad input."""
import os

import numpy as np
import pytest

import rbm
from rbm import DBNTrainer, TrainingDiverged

from ..models.test_dbn import prototypes_dataset, small_dbn

TRAIN, VALID, TEST = prototypes_dataset(100, 1), prototypes_dataset(40, 2), prototypes_dataset(40, 3)


def fit(trainer, **kwargs):
    arguments = dict(pretraining_epochs=2, training_epochs=6, verbose=False)
    return trainer.fit(TRAIN, VALID, TEST, **{**arguments, **kwargs})


def test_fit_pretrains_every_layer_then_finetunes_and_keeps_the_best_model(capsys):
    dbn = small_dbn()
    trainer = DBNTrainer(dbn, pretrain_lr=0.1, finetune_lr=0.2, batch_size=10, mode="NUMBA")
    result = fit(trainer, verbose=True, progress_bars=False)
    lines = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("Pre-training layer") for line in lines) == 4
    assert [len(layer) for layer in result["history"]["pretraining"]] == [2, 2]
    finetuning = result["history"]["finetuning"]
    assert 1 <= len(finetuning) <= 6
    best = min(finetuning, key=lambda record: record["validation_error"])
    assert result["best_validation_error"] == best["validation_error"] < 0.2
    assert result["test_error"] == best["test_error"] < 0.2
    _, valid_score, test_score = trainer._finetune_fns
    assert np.mean(test_score()) == pytest.approx(result["test_error"])  # the DBN keeps the best model


def test_patience_stops_finetuning_once_the_validation_error_stops_improving():
    trainer = DBNTrainer(small_dbn(), finetune_lr=1e-9, patience_epochs=2, batch_size=10, mode="NUMBA")
    result = fit(trainer, pretraining_epochs=1, training_epochs=50)
    assert len(result["history"]["finetuning"]) == 2  # nothing improves at this learning rate


class Interrupted(Exception):
    pass


@pytest.mark.parametrize("mode", ["NUMBA", "cpu"])
def test_a_run_resumed_from_its_checkpoint_ends_with_the_uninterrupted_runs_parameters(tmp_path, mode):
    reference = small_dbn(dtype="float32")
    fit(DBNTrainer(reference, pretrain_lr=0.1, batch_size=10, mode=mode))

    dbn = small_dbn(dtype="float32")
    interrupted = DBNTrainer(dbn, pretrain_lr=0.1, batch_size=10, mode=mode)
    epochs_run, step = [0], interrupted._guarded_epoch

    def stop_after_five_epochs(*args):
        if epochs_run[0] == 5:  # four pretraining epochs and one fine-tuning epoch
            raise Interrupted
        epochs_run[0] += 1
        return step(*args)

    interrupted._guarded_epoch = stop_after_five_epochs
    checkpoint = str(tmp_path / "dbn.npz")
    with pytest.raises(Interrupted):
        fit(interrupted, checkpoint=checkpoint)
    resumed_dbn = small_dbn(dtype="float32", seed=77)  # other seeds: the checkpoint must restore them
    result = fit(DBNTrainer(resumed_dbn, pretrain_lr=0.1, batch_size=10, mode=mode), resume=checkpoint,
                 checkpoint=checkpoint)
    for got, want in zip(resumed_dbn.get_params(), reference.get_params()):
        np.testing.assert_array_equal(got, want)
    assert len(result["history"]["pretraining"][1]) == 2


def test_divergence_stops_training_and_keeps_finite_parameters():
    dbn = small_dbn()
    trainer = DBNTrainer(dbn, finetune_lr=1e36, batch_size=10, mode="NUMBA")
    with pytest.raises(TrainingDiverged, match="fine-tuning epoch 0 diverged at minibatch"):
        fit(trainer, pretraining_epochs=1)
    assert all(np.all(np.isfinite(p)) for p in dbn.get_params())


@pytest.mark.parametrize("change, error, match", [
    (dict(train=(np.ones((100, 15)), TRAIN[1])), ValueError, "15 columns but the model has 16"),
    (dict(train=(TRAIN[0], TRAIN[1][:50])), ValueError, "50 labels for 100 rows"),
    (dict(valid=(VALID[0], VALID[1] + 5)), ValueError, r"integer class labels in 0 \.\. 2"),
    (dict(test=(TEST[0] * np.nan, TEST[1])), ValueError, "NaN"),
    (dict(train=(TRAIN[0][:5], TRAIN[1][:5])), ValueError, "fewer than batch_size"),
    (dict(pretraining_epochs=-1), ValueError, "pretraining_epochs"),
    (dict(resume="missing.npz"), FileNotFoundError, "does not exist"),
])
def test_bad_input_is_refused_and_changes_nothing(change, error, match):
    dbn = small_dbn()
    before = dbn.get_params()
    trainer = DBNTrainer(dbn, batch_size=10, mode="NUMBA")
    arguments = dict(train=TRAIN, valid=VALID, test=TEST, pretraining_epochs=1, training_epochs=1, verbose=False)
    with pytest.raises(error, match=match):
        trainer.fit(**{**arguments, **change})
    for got, want in zip(dbn.get_params(), before):
        np.testing.assert_array_equal(got, want)


def test_a_checkpoint_of_other_settings_is_refused(tmp_path):
    checkpoint = str(tmp_path / "dbn.npz")
    fit(DBNTrainer(small_dbn(), batch_size=10, mode="NUMBA"), training_epochs=1, checkpoint=checkpoint)
    dbn = small_dbn()
    before = dbn.get_params()
    with pytest.raises(ValueError, match="finetune_lr: checkpoint 0.1, trainer 0.3"):
        fit(DBNTrainer(dbn, finetune_lr=0.3, batch_size=10, mode="NUMBA"), resume=checkpoint)
    for got, want in zip(dbn.get_params(), before):
        np.testing.assert_array_equal(got, want)
    assert os.path.exists(checkpoint)


def test_bad_trainer_arguments_are_refused():
    with pytest.raises(TypeError, match="rbm.DBN"):
        DBNTrainer(rbm.RBM(n_visible=4, n_hidden=2))
    with pytest.raises(ValueError, match="improvement_threshold"):
        DBNTrainer(small_dbn(), improvement_threshold=1.5)
