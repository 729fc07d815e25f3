"""DBNTrainer: learning, early stopping, checkpoints that resume bit for bit, divergence, bad input."""
import json
import os

import numpy as np
import pytest

import rbm
from rbm import DBNTrainer, TrainingDiverged

from ..models.test_dbn import numpy_finetune_step, numpy_predictions, prototypes_dataset, small_dbn

TRAIN, VALID, TEST = prototypes_dataset(100, 1), prototypes_dataset(40, 2), prototypes_dataset(40, 3)


def fit(trainer, **kwargs):
    arguments = dict(pretraining_epochs=2, training_epochs=6, verbose=False)
    return trainer.fit(TRAIN, VALID, TEST, **{**arguments, **kwargs})


def records(history, stage, layer=None):
    return [record for record in history if record["stage"] == stage and record.get("layer") == layer]


def test_fit_pretrains_every_layer_then_finetunes_and_keeps_the_best_model(capsys):
    dbn = small_dbn()
    trainer = DBNTrainer(dbn, pretrain_lr=0.1, finetune_lr=0.2, batch_size=10, mode="NUMBA")
    history = fit(trainer, verbose=True, progress_bars=False)
    assert history is trainer.history
    lines = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("Pre-training layer") for line in lines) == 4
    assert sum(line.startswith("Fine-tuning epoch") for line in lines) == len(records(history, "finetuning"))
    assert [[r["epoch"] for r in records(history, "pretraining", layer)] for layer in (0, 1)] == [[0, 1], [0, 1]]
    finetuning = records(history, "finetuning")
    assert 1 <= len(finetuning) <= 6
    assert [r["epoch"] for r in finetuning] == list(range(len(finetuning)))  # from 0, as rbm.Trainer's
    best = min(finetuning, key=lambda record: record["validation_error"])
    assert trainer.best_validation_error == best["validation_error"] < 0.2
    assert trainer.test_error == best["test_error"] < 0.2
    assert trainer.best_epoch == best["epoch"]
    assert trainer.pretraining_seconds > 0 and trainer.finetuning_seconds > 0
    # the DBN keeps the best model: numpy's test error of its parameters is the best epoch's
    predictions = numpy_predictions(list(dbn.get_params().values()), TEST[0])
    assert np.mean(predictions != TEST[1]) == pytest.approx(trainer.test_error)


def test_pretraining_is_the_tutorials_pretraining_functions_run_in_order():
    """Each layer's stage is an rbm.Trainer reading the network's input through the layers below: two epochs
    per layer give, bit for bit (FAST_COMPILE runs equal graphs op by op), what the tutorial's
    pretraining_functions give when called minibatch by minibatch (tested against numpy in
    tests/models/test_dbn.py), the RBMs' visible biases included."""
    batch_size, lr, epochs = 10, 0.1, 2
    dbn, by_hand = small_dbn(dtype="float64"), small_dbn(dtype="float64")
    history = DBNTrainer(dbn, pretrain_lr=lr, batch_size=batch_size, mode="FAST_COMPILE").fit(
        TRAIN, VALID, TEST, pretraining_epochs=epochs, training_epochs=0, verbose=False)
    functions = by_hand.pretraining_functions(TRAIN[0], batch_size=batch_size, k=1, mode="FAST_COMPILE")
    costs = [[np.mean([function(index, lr) for index in range(len(TRAIN[0]) // batch_size)]) for _ in range(epochs)]
             for function in functions]
    assert_same_state(dbn, by_hand)
    trained_costs = [[r["cost"] for r in records(history, "pretraining", layer)] for layer in (0, 1)]
    np.testing.assert_allclose(trained_costs, costs, rtol=1e-12)  # each epoch's mean reconstruction cost
    assert not np.array_equal(dbn.get_params()["hidden_1_W"], small_dbn(dtype="float64").get_params()["hidden_1_W"])


def test_a_second_trainer_of_the_same_structure_compiles_nothing():
    fit(DBNTrainer(small_dbn(), batch_size=10, mode="NUMBA"), pretraining_epochs=1, training_epochs=1)
    compiled = rbm.backend.compiled_function_count()
    trainer = DBNTrainer(small_dbn(seed=9), pretrain_lr=0.3, finetune_lr=0.05, batch_size=10, mode="NUMBA")
    fit(trainer, pretraining_epochs=1, training_epochs=1)
    assert rbm.backend.compiled_function_count() == compiled
    assert len(trainer.history) == 3


def test_finetuning_ends_with_the_best_validated_model_not_the_last():
    """Validation labels shifted by one class, (y + 1) mod 3: fine-tuning on the true labels first lowers the
    validation error, then raises it, so the best epoch is inside the run. Without pretraining, fine-tuning
    is plain gradient descent, which numpy replays (numpy_finetune_step, numpy_predictions): the DBN must end
    with the parameters of numpy's best epoch, which are not its last."""
    epochs, lr, batch_size = 5, 0.1, 10
    dbn = small_dbn(dtype="float64")
    params = list(dbn.get_params().values())
    valid = (VALID[0], (VALID[1] + 1) % 3)
    trainer = DBNTrainer(dbn, finetune_lr=lr, batch_size=batch_size, patience_epochs=epochs, mode="FAST_COMPILE")
    history = trainer.fit(TRAIN, valid, TEST, pretraining_epochs=0, training_epochs=epochs, verbose=False)
    errors, snapshots = [], []
    for _ in range(epochs):
        for begin in range(0, len(TRAIN[0]), batch_size):
            _, params = numpy_finetune_step(params, TRAIN[0][begin:begin + batch_size],
                                            TRAIN[1][begin:begin + batch_size], lr)
        errors.append(np.mean(numpy_predictions(params, valid[0]) != valid[1]))
        snapshots.append(params)
    best = int(np.argmin(errors))  # the first of equal errors: the trainer keeps a model only when it improves
    assert 0 < best < epochs - 1, errors  # neither the first model nor the last one is the best
    assert [record["validation_error"] for record in records(history, "finetuning")] == pytest.approx(errors)
    assert trainer.best_epoch == best
    assert trainer.test_error == pytest.approx(np.mean(numpy_predictions(snapshots[best], TEST[0]) != TEST[1]))
    for got, want in zip(dbn.get_params().values(), snapshots[best]):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_patience_stops_finetuning_once_the_validation_error_stops_improving():
    trainer = DBNTrainer(small_dbn(), finetune_lr=1e-9, patience_epochs=2, batch_size=10, mode="NUMBA")
    history = fit(trainer, pretraining_epochs=1, training_epochs=50)
    assert len(records(history, "finetuning")) == 2  # nothing improves at this learning rate


def tutorials_validated_epochs(valid, lr, batch_size, patience_epochs, epochs, patience_increase=2.0,
                               improvement_threshold=0.995):
    """The validation errors the tutorial's fine-tuning loop (DBN.py's test_DBN) computes, replayed in numpy.

    It checks ``patience <= iter`` after every minibatch and validates every validation_frequency
    minibatches (once an epoch for patience_epochs >= 2), so it may stop inside an epoch.
    """
    params = list(small_dbn(dtype="float64").get_params().values())
    n_batches = len(TRAIN[0]) // batch_size
    patience = patience_epochs * n_batches
    validation_frequency = min(n_batches, patience // 2)
    best, errors = np.inf, []
    for epoch in range(epochs):
        for index in range(n_batches):
            rows = slice(index * batch_size, (index + 1) * batch_size)
            _, params = numpy_finetune_step(params, TRAIN[0][rows], TRAIN[1][rows], lr)
            iteration = epoch * n_batches + index
            if (iteration + 1) % validation_frequency == 0:
                errors.append(np.mean(numpy_predictions(params, valid[0]) != valid[1]))
                if errors[-1] < best:
                    if errors[-1] < best * improvement_threshold:
                        patience = max(patience, iteration * patience_increase)
                    best = errors[-1]
            if patience <= iteration:
                return errors
    return errors


@pytest.mark.parametrize("patience_epochs", [2, 3])
def test_early_stopping_validates_the_epochs_the_tutorials_loop_validates(patience_epochs):
    """Validation labels shifted so that the error first falls, then rises: patience is extended, then spent. The
    trainer validates after every epoch exactly the epochs the tutorial's loop validates, with the same errors."""
    valid = (VALID[0], (VALID[1] + 1) % 3)
    trainer = DBNTrainer(small_dbn(dtype="float64"), finetune_lr=0.1, batch_size=10, patience_epochs=patience_epochs,
                         mode="FAST_COMPILE")
    history = trainer.fit(TRAIN, valid, TEST, pretraining_epochs=0, training_epochs=20, verbose=False)
    expected = tutorials_validated_epochs(valid, 0.1, 10, patience_epochs, 20)
    assert 2 < len(expected) < 20  # patience, not the epoch limit, ended both
    assert [record["validation_error"] for record in history] == pytest.approx(expected)


def test_a_user_subclass_of_dbn_compiles_its_own_steps():
    """A DBN class defined outside rbm may build another graph: its trainer reuses no step compiled for rbm.DBN."""
    class TwoClassDBN(rbm.DBN):
        pass

    fit(DBNTrainer(small_dbn(), batch_size=10, mode="NUMBA"), pretraining_epochs=1, training_epochs=1)
    compiled = rbm.backend.compiled_function_count()
    dbn = TwoClassDBN(numpy_rng=np.random.RandomState(123), n_ins=16, hidden_layers_sizes=[12, 8], n_outs=3, seed=4)
    fit(DBNTrainer(dbn, batch_size=10, mode="NUMBA"), pretraining_epochs=1, training_epochs=1)
    assert rbm.backend.compiled_function_count() >= compiled + 3  # two layers' steps and fine-tuning's


class Interrupted(Exception):
    pass


def interrupt_after(n_epochs):
    """A callback raising Interrupted after epoch number ``n_epochs`` (pretraining counted), once it is saved."""
    epochs_run = [0]

    def stop(trainer, record):
        epochs_run[0] += 1
        if epochs_run[0] == n_epochs:
            raise Interrupted

    return stop


def assert_same_state(dbn, reference):
    for got, want in zip(dbn.get_params().values(), reference.get_params().values()):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(dbn.rbm_layers, reference.rbm_layers):  # pretraining state outside params
        np.testing.assert_array_equal(got.vbias.get_value(), want.vbias.get_value())


@pytest.fixture(scope="module")
def uninterrupted():
    """mode -> (DBN, history without times) of an uninterrupted run, run once per mode for the resume tests."""
    runs = {}

    def run(mode):
        if mode not in runs:
            reference = small_dbn(dtype="float32")
            history = fit(DBNTrainer(reference, pretrain_lr=0.1, batch_size=10, mode=mode))
            runs[mode] = reference, [dict(record, time=None) for record in history]
        return runs[mode]

    return run


# Interrupted in layer 0's pretraining, in layer 1's, and in fine-tuning (after four pretraining epochs). Under
# JAX the samplers' keys live in the compiled functions: in layer 1's pretraining both layers' keys have moved.
@pytest.mark.parametrize("mode, n_epochs", [("NUMBA", 1), ("NUMBA", 3), ("NUMBA", 5), ("cpu", 3), ("cpu", 5)])
def test_a_run_resumed_from_its_checkpoint_ends_with_the_uninterrupted_runs_parameters(tmp_path, uninterrupted,
                                                                                        mode, n_epochs):
    reference, reference_history = uninterrupted(mode)
    interrupted = DBNTrainer(small_dbn(dtype="float32"), pretrain_lr=0.1, batch_size=10, mode=mode)
    checkpoint = str(tmp_path / "dbn.npz")
    with pytest.raises(Interrupted):
        fit(interrupted, checkpoint=checkpoint, callbacks=interrupt_after(n_epochs))
    resumed_dbn = small_dbn(dtype="float32", seed=77)  # other seeds: the checkpoint must restore them
    history = fit(DBNTrainer(resumed_dbn, pretrain_lr=0.1, batch_size=10, mode=mode), resume=checkpoint,
                  checkpoint=checkpoint)
    assert_same_state(resumed_dbn, reference)
    assert [dict(record, time=None) for record in history] == reference_history


def test_a_resume_in_finetuning_keeps_early_stopping(tmp_path):
    """Validation labels shifted as in test_finetuning_ends_with_the_best_validated_model_not_the_last, so the
    last epoch is worse than the best: resumed before it, the run must still end with the best model, not
    take the last epoch for an improvement."""
    valid = (VALID[0], (VALID[1] + 1) % 3)
    arguments = dict(finetune_lr=0.1, batch_size=10, patience_epochs=5, mode="NUMBA")
    run = dict(pretraining_epochs=0, training_epochs=5, verbose=False)
    reference = DBNTrainer(small_dbn(dtype="float64"), **arguments)
    reference_history = reference.fit(TRAIN, valid, TEST, **run)
    assert reference.best_epoch < 4  # the last epoch does not improve
    checkpoint = str(tmp_path / "dbn.npz")
    with pytest.raises(Interrupted):
        DBNTrainer(small_dbn(dtype="float64"), **arguments).fit(TRAIN, valid, TEST, checkpoint=checkpoint,
                                                                callbacks=interrupt_after(4), **run)
    resumed = DBNTrainer(small_dbn(dtype="float64", seed=77), **arguments)
    history = resumed.fit(TRAIN, valid, TEST, resume=checkpoint, **run)
    assert [dict(r, time=None) for r in history] == [dict(r, time=None) for r in reference_history]
    assert resumed.best_epoch == reference.best_epoch and resumed.test_error == reference.test_error
    assert_same_state(resumed.dbn, reference.dbn)


def test_a_resume_after_the_epoch_that_spent_the_patience_trains_no_more(tmp_path):
    arguments = dict(finetune_lr=1e-9, patience_epochs=2, batch_size=10, mode="NUMBA")
    reference = DBNTrainer(small_dbn(), **arguments)
    reference_history = fit(reference, pretraining_epochs=1, training_epochs=50)
    assert len(reference_history) == 4  # a pretraining epoch per layer, two fine-tuning epochs
    checkpoint = str(tmp_path / "dbn.npz")
    with pytest.raises(Interrupted):  # after the last epoch's checkpoint, before the run's last one
        fit(DBNTrainer(small_dbn(), **arguments), pretraining_epochs=1, training_epochs=50, checkpoint=checkpoint,
            callbacks=interrupt_after(4))
    resumed = DBNTrainer(small_dbn(seed=77), **arguments)
    history = fit(resumed, pretraining_epochs=1, training_epochs=50, resume=checkpoint)
    assert [dict(r, time=None) for r in history] == [dict(r, time=None) for r in reference_history]
    assert_same_state(resumed.dbn, reference.dbn)


def test_a_run_without_finetuning_resumes_to_the_same_network(tmp_path):
    checkpoint = str(tmp_path / "dbn.npz")
    reference = DBNTrainer(small_dbn(), batch_size=10, mode="NUMBA")
    fit(reference, pretraining_epochs=1, training_epochs=0, checkpoint=checkpoint)
    resumed = DBNTrainer(small_dbn(seed=77), batch_size=10, mode="NUMBA")
    history = fit(resumed, pretraining_epochs=1, training_epochs=3, resume=checkpoint)  # the run had ended
    assert [r["stage"] for r in history] == ["pretraining", "pretraining"]
    assert_same_state(resumed.dbn, reference.dbn)


def test_a_second_fit_after_an_interruption_goes_on_and_keeps_the_best_model():
    valid = (VALID[0], (VALID[1] + 1) % 3)
    arguments = dict(finetune_lr=0.1, batch_size=10, patience_epochs=5, mode="NUMBA")
    run = dict(pretraining_epochs=0, training_epochs=5, verbose=False)
    reference = DBNTrainer(small_dbn(dtype="float64"), **arguments)
    reference.fit(TRAIN, valid, TEST, **run)
    assert reference.best_epoch < 3  # a worse epoch follows the best before the interruption
    trainer = DBNTrainer(small_dbn(dtype="float64"), **arguments)
    with pytest.raises(Interrupted):
        trainer.fit(TRAIN, valid, TEST, callbacks=interrupt_after(4), **run)
    trainer.fit(TRAIN, valid, TEST, **run)
    assert trainer.best_epoch == reference.best_epoch and len(trainer.history) == 5
    assert_same_state(trainer.dbn, reference.dbn)


def test_resuming_a_finished_run_changes_nothing(tmp_path, uninterrupted):
    """The last checkpoint of a run whose patience ran out holds the best model and says it is done."""
    reference, reference_history = uninterrupted("NUMBA")
    checkpoint = str(tmp_path / "dbn.npz")
    fit(DBNTrainer(small_dbn(dtype="float32"), pretrain_lr=0.1, batch_size=10, mode="NUMBA"), checkpoint=checkpoint)
    resumed = DBNTrainer(small_dbn(dtype="float32", seed=77), pretrain_lr=0.1, batch_size=10, mode="NUMBA")
    history = fit(resumed, resume=checkpoint, training_epochs=50)  # more epochs allowed: early stopping had ended it
    assert_same_state(resumed.dbn, reference)
    assert [dict(record, time=None) for record in history] == reference_history
    assert resumed.state["stage"] == "done"


def test_callbacks_see_the_dbn_trainer_and_may_end_a_stage():
    seen = []

    def end_each_stage_after_one_epoch(trainer, record):
        seen.append((trainer, record["stage"], record.get("layer"), record["epoch"], len(trainer.history)))
        return True

    trainer = DBNTrainer(small_dbn(), batch_size=10, mode="NUMBA")
    fit(trainer, pretraining_epochs=3, training_epochs=3, callbacks=end_each_stage_after_one_epoch)
    assert seen == [(trainer, "pretraining", 0, 0, 1), (trainer, "pretraining", 1, 0, 2), (trainer, "finetuning", None, 0, 3)]
    with pytest.raises(TypeError, match="callbacks must be callables"):
        fit(DBNTrainer(small_dbn(), batch_size=10, mode="NUMBA"), callbacks=[1])


def version_2_checkpoint(path):
    """A checkpoint at ``path`` as DBNTrainer wrote it before it ran on the engine (format 2), after epoch 5.

    Epoch 5 is fine-tuning's first: the file is written by today's trainer, then rewritten here by hand in the
    old layout (parameters, best parameters and visible biases as numbered arrays; position, early stopping,
    history and every layer's generator state in one JSON entry).
    """
    interrupted = DBNTrainer(small_dbn(dtype="float32"), pretrain_lr=0.1, batch_size=10, mode="NUMBA")
    with pytest.raises(Interrupted):
        fit(interrupted, checkpoint=path, callbacks=interrupt_after(5))
    with np.load(path) as archive:
        new = {name: archive[name] for name in archive.files}
    assert int(new["format_version"]) == 3 and int(new["stage"]) == 2  # fine-tuning, after its first epoch
    extra = json.loads(str(new["extra"]))
    names = list(interrupted.dbn.get_params())
    old = {f"param_{i}": new[f"state_{name}"] for i, name in enumerate(names)}
    if extra["early_stopping"]["best_epoch"] is not None:
        old.update({f"best_{i}": new[f"state_best {name}"] for i, name in enumerate(names)})
    old.update({f"vbias_{i}": new[f"state_vbias_{i}"] for i in range(2)})
    state = {"state": {"stage": "finetuning", "layer": None, "epoch": int(new["epoch"])},
             "early_stopping": extra["early_stopping"],
             "history": extra["earlier_history"] + json.loads(str(new["history"])),
             "rng": [extra["generators"][str(i)] for i in range(2)]}
    # format 2's fingerprint: the three sets' rows as given (not cut to whole minibatches), in the DBN's dtype
    rows = np.concatenate([X.ravel() for X in (TRAIN[0], VALID[0], TEST[0])]).astype(np.float32)
    fingerprint = np.str_(rbm.training.checkpoint.data_fingerprint(rows))
    settings = json.loads(str(new["settings"]))
    del settings["average_last_epochs"]  # the engine's setting, newer than formats 1 and 2
    np.savez(path, kind=np.str_("rbm.DBNCheckpoint"), format_version=np.int64(2), data_sha256=fingerprint,
             settings=np.str_(json.dumps(settings)), state=np.str_(json.dumps(state)), **old)
    return path


def version_1_checkpoint(path):
    """Rewrite the checkpoint at ``path`` as DBNTrainer wrote it before format 2, written out here by hand.

    Version 1 kept the history as {"pretraining": [records per layer], "finetuning": [records]} with
    fine-tuning epochs (and best_epoch) counted from 1, records without stage or layer, and no visible biases.
    """
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files if not name.startswith("vbias_")}
    saved = json.loads(str(arrays["state"]))
    pretraining = [[], []]
    finetuning = []
    for record in saved["history"]:
        old = {key: value for key, value in record.items() if key not in ("stage", "layer")}
        if record["stage"] == "pretraining":
            pretraining[record["layer"]].append(old)
        else:
            finetuning.append({**old, "epoch": old["epoch"] + 1})
    saved["history"] = {"pretraining": pretraining, "finetuning": finetuning}
    if saved["early_stopping"]["best_epoch"] is not None:
        saved["early_stopping"]["best_epoch"] += 1
    arrays.update(format_version=np.int64(1), state=np.str_(json.dumps(saved)))
    np.savez(path, **arrays)


@pytest.mark.parametrize("version", [1, 2])
def test_a_checkpoint_of_an_older_format_still_resumes(tmp_path, uninterrupted, version):
    reference, reference_history = uninterrupted("NUMBA")
    checkpoint = version_2_checkpoint(str(tmp_path / "dbn.npz"))
    if version == 1:
        version_1_checkpoint(checkpoint)
    resumed = DBNTrainer(small_dbn(dtype="float32", seed=77), pretrain_lr=0.1, batch_size=10, mode="NUMBA")
    history = fit(resumed, resume=checkpoint)
    for got, want in zip(resumed.dbn.get_params().values(), reference.get_params().values()):
        np.testing.assert_array_equal(got, want)
    assert [dict(record, time=None) for record in history] == reference_history
    best = min(records(history, "finetuning"), key=lambda record: record["validation_error"])
    assert resumed.best_epoch == best["epoch"]


def test_divergence_stops_training_and_keeps_finite_parameters():
    dbn = small_dbn()
    trainer = DBNTrainer(dbn, finetune_lr=1e36, batch_size=10, mode="NUMBA")
    with pytest.raises(TrainingDiverged, match="diverged at fine-tuning epoch 0, minibatch"):
        fit(trainer, pretraining_epochs=1)
    assert all(np.all(np.isfinite(p)) for p in dbn.get_params().values())


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
    for got, want in zip(dbn.get_params().values(), before.values()):
        np.testing.assert_array_equal(got, want)


def test_a_checkpoint_of_other_settings_is_refused(tmp_path):
    checkpoint = str(tmp_path / "dbn.npz")
    fit(DBNTrainer(small_dbn(), batch_size=10, mode="NUMBA"), training_epochs=1, checkpoint=checkpoint)
    dbn = small_dbn()
    before = dbn.get_params()
    refused = DBNTrainer(dbn, finetune_lr=0.3, batch_size=10, mode="NUMBA")
    stopping = dict(refused.early_stopping)
    with pytest.raises(ValueError, match="finetune_lr: checkpoint 0.1, trainer 0.3"):
        fit(refused, resume=checkpoint)
    for got, want in zip(dbn.get_params().values(), before.values()):
        np.testing.assert_array_equal(got, want)
    assert refused.early_stopping == stopping and refused.history == []
    assert os.path.exists(checkpoint)
    # other labels, or rows moved from the validation set to the training set, are other data
    other_labels = (TRAIN[0], (TRAIN[1] + 1) % 3)
    moved = ((np.concatenate([TRAIN[0], VALID[0][:10]]), np.concatenate([TRAIN[1], VALID[1][:10]])),
             (VALID[0][10:], VALID[1][10:]))
    for train, valid in ((other_labels, VALID), moved):
        with pytest.raises(ValueError, match="other data"):
            DBNTrainer(small_dbn(), batch_size=10, mode="NUMBA").fit(
                train, valid, TEST, pretraining_epochs=2, training_epochs=6, verbose=False, resume=checkpoint)


def test_bad_trainer_arguments_are_refused():
    with pytest.raises(TypeError, match="rbm.DBN"):
        DBNTrainer(rbm.RBM(n_visible=4, n_hidden=2))
    with pytest.raises(ValueError, match="improvement_threshold"):
        DBNTrainer(small_dbn(), improvement_threshold=1.5)
