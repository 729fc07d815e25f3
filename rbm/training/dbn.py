"""Greedy layer-wise pretraining and fine-tuning of a :class:`rbm.DBN`, the tutorial's recipe, on the one engine.

:class:`DBNTrainer` runs the tutorial's ``test_DBN``: CD-k on each layer's
RBM in turn, bottom up, then minibatch gradient descent on the whole network
with the tutorial's early stopping (a patience that grows on a clear
improvement of the validation error). Each stage is a trainer of
:mod:`rbm.training.engine`, so the DBN gets what every model gets there:
steps compiled once per structure, the divergence guard, callbacks, progress
and checkpoints (:mod:`rbm.training.checkpoint`, kind ``rbm.DBNCheckpoint``):

- :class:`LayerPretraining` is an :class:`rbm.Trainer` (CD-k, plain SGD) of
  one layer's RBM. Its minibatches are the network's input: the RBM reads
  them through the layers below (its ``input`` is their output, as in the
  tutorial's ``givens`` on ``dbn.x``), inside the compiled step.
- :class:`FineTuning` is a trainer whose step is gradient descent on the
  negative log-likelihood of the labels, validated after every epoch.

One checkpoint file holds the whole network at any epoch of either stage
(every layer's weights and visible bias, the best validated parameters, the
samplers' states, the history and early stopping), so a resumed run ends
with exactly the parameters of an uninterrupted one.
"""
import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from pytensor.graph.replace import clone_replace

from .. import backend
from .._compat import DBNHistory, keyword_only
from ..backend import pt
from ..persistence import load_npz
from ..validation import check_array, check_data, check_float, check_positive_int, check_verbose
from .checkpoint import data_fingerprint, save_checkpoint
from .engine import TrainingEngine, check_npz_path, default_batches_per_call, epoch_start
from .optimizers import SGD
from .trainer import Trainer

__all__ = ["DBNTrainer", "FineTuning", "LayerPretraining"]

_KIND = "rbm.DBNCheckpoint"
#: version 3: the engine's format (one stage's position, all arrays, the rest as JSON); 1 and 2 still load
_FORMAT_VERSION = 3
#: the DBN trainer's settings that no compiled step holds (the learning rates are read from shared scalars)
_UNCOMPILED_SETTINGS = ("pretrain_lr", "finetune_lr", "pretraining_epochs", "patience_epochs", "patience_increase",
                        "improvement_threshold")


def _check_labels(y, n_rows, n_classes, name):
    labels = check_array(y, name, ndim=1)
    if labels.shape[0] != n_rows:
        raise ValueError(f"{name} has {labels.shape[0]} labels for {n_rows} rows")
    if np.any(labels != np.round(labels)) or labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(f"{name} must hold integer class labels in 0 .. {n_classes - 1}")
    return labels.astype(np.int32)


def _datasets_fingerprint(arrays):
    """sha256 of the arrays (the three sets' rows and labels) with their shapes, so that a resume finds the same split."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(repr(array.shape).encode())
        digest.update(data_fingerprint(array).encode())
    return digest.hexdigest()


def format_record(record: dict) -> str:
    """One line for an epoch's record of a DBN's training, as :meth:`rbm.DBNTrainer.fit` prints it.

    Parameters
    ----------
    record : dict
        A record of :attr:`rbm.DBNTrainer.history`.

    Returns
    -------
    str
        E.g. ``Fine-tuning epoch 3, cost 0.0912, validation error 2.10 %, 8.1 s``.
    """
    if record["stage"] == "pretraining":
        return (f"Pre-training layer {record['layer']}, epoch {record['epoch']}, cost {record['cost']:.4f}, "
                f"{record['time']:.1f} s")
    line = (f"Fine-tuning epoch {record['epoch']}, cost {record['cost']:.4f}, validation error "
            f"{100 * record['validation_error']:.2f} %")
    if "test_error" in record:
        line += f", test error of best model {100 * record['test_error']:.2f} %"
    return line + f", {record['time']:.1f} s"


class _Stage:
    """What both stages of a DBN's training share: the settings, arrays, fingerprint and checkpoint of their DBNTrainer.

    ``stage`` numbers the stage: the layer for pretraining, the number of
    layers for fine-tuning; checkpoints record it.
    """

    _checkpoint_kind = _KIND
    _checkpoint_version = _FORMAT_VERSION
    _checkpoint_readable = (_FORMAT_VERSION,)
    format_record = staticmethod(format_record)

    def _checkpoint_settings(self):
        return self.owner._settings()

    def _structure_key(self, what):
        """The engine's key, plus the DBN (its class and sizes: the step reads the layers below) and the stage."""
        key = super()._structure_key(what)
        network = backend.structure_of(self.owner.dbn)
        if key is None or network is None:
            return None
        n_outs = self.owner.dbn.logLayer.b.get_value(borrow=True).shape[0]
        return (*key, network, ("outputs", n_outs), ("stage", self.stage))

    def _settings_without_structure(self):
        return (*super()._settings_without_structure(), *_UNCOMPILED_SETTINGS)

    def _fingerprint(self, batches):
        return self.owner._fingerprint

    def _check_fit_data(self, data):
        return data  # DBNTrainer.fit checked it

    def _data_variable(self):
        return self.owner.dbn.x

    def _checkpoint_scalars(self):
        return {**super()._checkpoint_scalars(), "stage": self.stage}

    def _check_checkpoint_scalars(self, scalars, path):
        super()._check_checkpoint_scalars(scalars, path)
        if scalars["stage"] != self.stage:
            raise ValueError(f"{path!r} holds stage {scalars['stage']}, not stage {self.stage}")

    def _checkpoint_extra(self):
        return self.owner._checkpoint_extra(self)

    def _check_checkpoint_extra(self, extra, path):
        self.owner._check_checkpoint_extra(extra, path, self)

    def _restore_checkpoint_extra(self, extra):
        self.owner._restore_checkpoint_extra(extra, self)

    def _epoch_record(self, record):
        super()._epoch_record(record)
        figures = dict(record)
        record.clear()
        layer = {} if self.stage == self.owner.dbn.n_layers else {"layer": self.stage}
        record.update(stage="pretraining" if layer else "finetuning", **layer, **figures)


class LayerPretraining(_Stage, Trainer):
    """CD-k on the RBM of one layer of a DBN, on the network's input carried up through the layers below.

    The engine's :class:`rbm.Trainer` with plain SGD at the DBN trainer's
    ``pretrain_lr``; its step is the tutorial's pretraining function
    (:meth:`rbm.DBN.pretraining_functions`). Built and run by :class:`DBNTrainer`.

    Parameters
    ----------
    owner : DBNTrainer
    layer : int
        The layer, from 0 at the bottom.
    """

    _function_name = "pretrain_fn"

    def __init__(self, owner, layer):
        self.owner, self.stage = owner, layer
        super().__init__(owner.dbn.rbm_layers[layer], learning_rate=owner.pretrain_lr, k=owner.k, persistent=False,
                         batch_size=owner.batch_size, mode=owner.mode, optimizer=SGD(),
                         batches_per_call=owner.batches_per_call)

    def _init_engine_state(self, model, width):
        super()._init_engine_state(model, self.owner.dbn.rbm_layers[0].n_visible)  # minibatches of the input

    def _state_variables(self):
        return {**self.owner._network_arrays(), **{v.name: v for v in self.optimizer_state},
                **self.negative_phase.state_variables}

    def _epoch_name(self, epoch):
        return f"pretraining layer {self.stage}, epoch {epoch}"


class FineTuning(_Stage, TrainingEngine):
    """Minibatch gradient descent on the whole DBN's negative log-likelihood of the labels, with early stopping.

    The step is the tutorial's fine-tuning function
    (:meth:`rbm.DBN.build_finetune_functions`): every parameter moves by
    ``-finetune_lr`` times its gradient. After each epoch the error rate on
    the validation rows decides the early stopping of the owner
    (:attr:`DBNTrainer.early_stopping`), and a better model is kept (with its
    test error) until the end. Built and run by :class:`DBNTrainer`.

    Parameters
    ----------
    owner : DBNTrainer
    """

    _function_name = "finetune_fn"

    def __init__(self, owner):
        dbn = owner.dbn
        self.owner, self.stage = owner, dbn.n_layers
        self.batch_size, self.mode, self.batches_per_call = owner.batch_size, owner.mode, owner.batches_per_call
        self._init_schedules(owner.finetune_lr, SGD())
        self._init_engine_state(dbn, dbn.rbm_layers[0].n_visible)
        self._labels = backend.pytensor.shared(np.zeros((1, self.batch_size), dtype=np.int32), name="label_batches")
        #: the parameters of the best validated epoch so far (copies of the network's until one is)
        best = owner._old_best or dbn.get_params()  # (an old checkpoint's best model)
        self.best_params = {name: backend.shared(value, f"best_{name}", dbn.dtype) for name, value in best.items()}
        self._n_batches = None

    def _generator(self):
        return None  # gradient descent draws nothing

    def _minibatch_updates(self, index, data):
        """Every parameter p <- p - finetune_lr d NLL(labels of minibatch ``index``) / dp (symbolic), and the NLL."""
        dbn = self.model
        labels = self._labels[pt.minimum(index, self._labels.shape[0] - 1)]
        cost = clone_replace(dbn.finetune_cost, replace={dbn.y: labels})
        updates = self._optimizer_updates(dbn.params, pt.grad(cost, dbn.params))
        return self._guarded(updates, cost, index, list(updates)), pt.cast(cost, "float64")

    def _state_variables(self):
        return {**self.owner._network_arrays(), **{f"best {name}": v for name, v in self.best_params.items()}}

    def _step_variables(self):
        return {**super()._step_variables(), "labels": self._labels}

    def _settings_without_structure(self):
        return (*super()._settings_without_structure(), "k")  # CD's k: not in fine-tuning's graph

    def fit(self, X, y, *, epochs, valid, test, callbacks, verbose, checkpoint, resume):
        """Fine-tune on rows ``X`` with labels ``y``, validating after every epoch.

        The arguments are those :meth:`rbm.DBNTrainer.fit` checked.

        Parameters
        ----------
        X : ndarray (n, n_ins)
            Whole minibatches of training rows, in the DBN's dtype.
        y : ndarray (n,) of int32
            Their labels.
        epochs : int >= 1
            Epochs to run, or the whole stage's with ``resume``.
        valid, test : (X, y) pairs
            Validation rows (early stopping) and test rows (the best model's error).
        callbacks : list of callables
            ``callback(self, record)`` after every epoch.
        verbose : int
            As for :meth:`rbm.Trainer.fit`.
        checkpoint, resume : str or None
            As for :meth:`rbm.Trainer.fit`.

        Returns
        -------
        list of dict
            The stage's history.
        """
        self._n_batches = len(X) // self.batch_size
        backend.set_shared_data(self._labels, y.reshape(self._n_batches, self.batch_size), self.mode)
        return self._fit(X, epochs, (valid, test), callbacks, verbose, checkpoint, None, resume)

    def _check_valid(self, valid):
        return valid  # DBNTrainer.fit checked the (X, y) pairs

    def error_rate(self, X, y) -> float:
        """The fraction of rows of ``X`` whose most probable class is not their label.

        Parameters
        ----------
        X : ndarray (n, n_ins)
            Rows in the DBN's dtype.
        y : ndarray (n,) of int32
            Their labels.

        Returns
        -------
        float
            The error rate, in [0, 1].
        """
        def compile_function():
            dbn = self.model
            return backend.compile_function([dbn.x, dbn.y], dbn.errors, mode=self.mode, name="errors")

        if getattr(self, "_errors_fn", None) is None:
            self._errors_fn = self._shared_function("errors", compile_function)
        return float(self._errors_fn(X, y))

    def _validation_record(self, record, valid, used):
        """The validation error; on an improvement, the test error, a new best model and maybe more patience."""
        (valid_X, valid_y), (test_X, test_y) = valid
        stopping = self.owner.early_stopping
        updates_done = (record["epoch"] + 1) * self._n_batches
        record["validation_error"] = validation_error = self.error_rate(valid_X, valid_y)
        if validation_error < stopping["best_validation_error"]:
            if validation_error < stopping["best_validation_error"] * self.owner.improvement_threshold:
                stopping["patience"] = max(stopping["patience"],
                                           int((updates_done - 1) * self.owner.patience_increase))
            stopping.update(best_validation_error=validation_error, best_epoch=record["epoch"],
                            test_error=self.error_rate(test_X, test_y))
            for param, best in zip(self.model.params, self.best_params.values()):
                best.set_value(np.array(param.get_value(borrow=True)))
            record["test_error"] = stopping["test_error"]

    def _epoch_begin(self, first_batch):
        # here, not in fit: a resume refused by its checks must leave early stopping as it was
        if self.owner.early_stopping["patience"] is None:
            self.owner.early_stopping["patience"] = self.owner.patience_epochs * self._n_batches

    def _finished(self, record):
        """Whether the tutorial's loop would stop before validating the next epoch.

        The tutorial checks ``patience <= iter`` after every minibatch (iter
        counting updates from 0) and validates after an epoch's last one,
        before that check: it validates epoch e + 1 only if patience exceeds
        the iter of that epoch's last minibatch but one, (e + 2) n - 2. (It
        may stop inside the epoch, unvalidated; the model kept is the best
        validated either way.)
        """
        return self.owner.early_stopping["patience"] <= (record["epoch"] + 2) * self._n_batches - 2

    def _run_complete(self):
        return self.owner._run_ended or super()._run_complete()

    def _epoch_name(self, epoch):
        return f"fine-tuning epoch {epoch}"

    def keep_best(self):
        """Set the network's parameters to the best validated ones (when an epoch was validated)."""
        if self.owner.early_stopping["best_epoch"] is not None:
            self.owner.dbn.set_params(**{name: best.get_value() for name, best in self.best_params.items()})


class DBNTrainer:
    """Pretrain a :class:`rbm.DBN` layer by layer with CD-k, then fine-tune it with early stopping.

    The defaults are the tutorial's ``test_DBN``. Early stopping starts with
    a patience of ``patience_epochs`` epochs (counted in minibatch updates)
    and, whenever the validation error falls below ``improvement_threshold``
    times the best so far, extends it to ``patience_increase`` times the
    updates done before the last (the tutorial's ``iter``). Validation runs
    after every epoch, and fine-tuning stops where the tutorial's loop would
    stop before validating again (it checks the patience after every
    minibatch; with ``patience_epochs=1`` it validates twice an epoch, this
    trainer once). Every setting past ``dbn`` is keyword-only (positional
    use still works, with a ``DeprecationWarning``).

    Both stages run on the engine of :mod:`rbm.training.engine`: a layer's
    pretraining is an :class:`rbm.Trainer` (CD-k, plain SGD) of that layer's
    RBM whose minibatches are the network's input, carried up through the
    layers below inside the compiled step; fine-tuning is
    :class:`~rbm.training.dbn.FineTuning`. Their steps are compiled once per structure in
    the process, guarded against divergence, and checkpointed in one file.

    Parameters
    ----------
    dbn : DBN
        The network to train; its shared parameters change in place.
    pretrain_lr : float > 0, default 0.01
        Learning rate of CD-k pretraining.
    k : int >= 1, default 1
        Gibbs steps of CD-k.
    finetune_lr : float > 0, default 0.1
        Learning rate of fine-tuning.
    batch_size : int >= 1, default 10
    patience_epochs : int >= 1, default 4
        The initial patience, in epochs.
    patience_increase : float >= 1, default 2.0
    improvement_threshold : float in (0, 1], default 0.995
    mode : str, default "cpu"
        Any mode of :func:`rbm.backend.resolve_mode`.
    batches_per_call : int >= 1, optional
        Minibatch updates per compiled call, as :class:`rbm.Trainer`'s (50 on
        a GPU, 1 on a CPU by default); the updates do not depend on it.

    Attributes
    ----------
    history : list of dict
        One record per epoch, as :attr:`rbm.Trainer.history`: ``stage``
        ("pretraining" or "finetuning"), ``layer`` (pretraining only),
        ``epoch`` (from 0 in each layer and in fine-tuning), ``cost`` (mean
        reconstruction cost, or mean negative log-likelihood), ``time`` (s),
        ``learning_rate``; fine-tuning records add ``validation_error`` and,
        where it improved, ``test_error``.
    state : dict
        Where the run is: ``stage`` ("pretraining", "finetuning" or
        "done"), ``layer``, ``epoch``. A trainer whose run is done trains
        no more (a new DBNTrainer starts a new run).
    early_stopping : dict
        ``patience``, ``best_validation_error``, ``best_epoch``, ``test_error``.
    best_validation_error : float
        The lowest mean validation error so far (inf before fine-tuning).
    test_error : float or None
        The test error of the parameters at ``best_validation_error``, which
        the DBN keeps at the end of fine-tuning.
    best_epoch : int or None
        The fine-tuning epoch of ``best_validation_error``, from 0.
    patience : int or None
        Minibatch updates after which fine-tuning stops.
    pretraining_seconds, finetuning_seconds : float or None
        Wall time of each stage in the last :meth:`fit`.
    """

    @keyword_only("pretrain_lr", "k", "finetune_lr", "batch_size", "patience_epochs", "patience_increase",
                  "improvement_threshold", "mode")  # the old positional order
    def __init__(self, dbn, *, pretrain_lr: float = 0.01, k: int = 1, finetune_lr: float = 0.1, batch_size: int = 10,
                 patience_epochs: int = 4, patience_increase: float = 2.0, improvement_threshold: float = 0.995,
                 mode: str = "cpu", batches_per_call: int | None = None) -> None:
        from ..models import DBN

        if not isinstance(dbn, DBN):
            raise TypeError(f"dbn must be an rbm.DBN, got {type(dbn).__name__}")
        self.dbn = dbn
        self.pretrain_lr = check_float(pretrain_lr, "pretrain_lr", low=0.0, low_inclusive=False)
        self.k = check_positive_int(k, "k")
        self.finetune_lr = check_float(finetune_lr, "finetune_lr", low=0.0, low_inclusive=False)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.patience_epochs = check_positive_int(patience_epochs, "patience_epochs")
        self.patience_increase = check_float(patience_increase, "patience_increase", low=1.0)
        self.improvement_threshold = check_float(improvement_threshold, "improvement_threshold",
                                                 low=0.0, low_inclusive=False, high=1.0)
        backend.resolve_mode(mode)
        self.mode = mode
        self.batches_per_call = default_batches_per_call(batches_per_call, mode)
        self.history = DBNHistory(n_layers=dbn.n_layers)
        self.pretraining_seconds = self.finetuning_seconds = None
        #: where the run is: ``stage`` ("pretraining", "finetuning" or "done"), ``layer`` and ``epoch`` (next to run)
        self.state = {"stage": "pretraining", "layer": 0, "epoch": 0}
        #: ``patience``, ``best_validation_error``, ``best_epoch``, ``test_error`` of fine-tuning so far
        self.early_stopping = {"patience": None, "best_validation_error": float("inf"), "best_epoch": None,
                               "test_error": None}
        self._pretraining_epochs = None
        self._fingerprint = None
        self._earlier = []  # the records of the stages before the running one
        self._checked_extra = self._old_best = None
        self._stages = {}  # stage -> its trainer, built once (a later fit goes on with the same)
        self._run_ended = False  # restored from a checkpoint of a run that had ended

    @property
    def best_validation_error(self) -> float:
        return self.early_stopping["best_validation_error"]

    @property
    def test_error(self) -> float | None:
        return self.early_stopping["test_error"]

    @property
    def best_epoch(self) -> int | None:
        return self.early_stopping["best_epoch"]

    @property
    def patience(self) -> int | None:
        return self.early_stopping["patience"]

    format_record = staticmethod(format_record)

    # ------------------------------------------------------------ data
    def _check_datasets(self, train, valid, test):
        """Each (X, y) pair checked, then cut to whole minibatches as the tutorial does."""
        dbn = self.dbn
        n_in, n_out = dbn.rbm_layers[0].n_visible, dbn.logLayer.b.get_value(borrow=True).shape[0]
        checked = []
        for (X, y), name in zip((train, valid, test), ("train", "valid", "test")):
            X = check_data(X, n_in, f"{name} X")
            if X.shape[0] < self.batch_size:
                raise ValueError(f"{name} X has {X.shape[0]} rows, fewer than batch_size={self.batch_size}")
            y = _check_labels(y, X.shape[0], n_out, f"{name} y")
            rows = X.shape[0] // self.batch_size * self.batch_size
            checked.append((backend.as_floatx(X[:rows], dbn.dtype), y[:rows]))
        return checked

    # ------------------------------------------------------------ training
    @keyword_only("pretraining_epochs", "training_epochs", "verbose", "checkpoint", "resume", "progress_bars")
    def fit(self, train: tuple[ArrayLike, ArrayLike], valid: tuple[ArrayLike, ArrayLike],
            test: tuple[ArrayLike, ArrayLike], *, pretraining_epochs: int = 100, training_epochs: int = 1000,
            verbose: bool | int = True, checkpoint: str | os.PathLike[str] | None = None,
            resume: str | os.PathLike[str] | None = None, progress_bars: bool | None = None,
            callbacks: Callable[..., Any] | Sequence[Callable[..., Any]] = ()) -> list[dict]:
        """Pretrain every layer for ``pretraining_epochs``, then fine-tune for up to ``training_epochs``.

        The last rows that do not fill a minibatch are not used, as in the
        tutorial. ``resume=PATH`` continues from a checkpoint (same data and settings)
        and ends with the parameters of an uninterrupted run. Every argument
        past ``test`` is keyword-only.

        Parameters
        ----------
        train, valid, test : (X, y) pairs
            X rows in [0, 1] of the DBN's input width, y integer class labels.
        pretraining_epochs : int >= 0, default 100
            CD-k epochs per layer.
        training_epochs : int >= 0, default 1000
            The most fine-tuning epochs (early stopping may end sooner).
        verbose : bool or int >= 0, default True
            Print a line per epoch (:meth:`format_record`) when true or >= 1;
            0 or False is silent, as for :meth:`rbm.Trainer.fit` and
            scikit-learn's ``verbose``.
        checkpoint : str or path-like, optional
            An ``.npz`` path; the whole state is written after every epoch.
        resume : str or path-like, optional
            A checkpoint to continue from.
        progress_bars : bool, optional
            Show a bar per epoch when stderr is a terminal; ``verbose`` by default.
        callbacks : callable or sequence of callables, default ()
            ``callback(trainer, record)`` after every epoch of either stage
            (``trainer`` is this DBNTrainer); one returning True ends the stage.

        Returns
        -------
        list of dict
            :attr:`history`, as :meth:`rbm.Trainer.fit` returns its history.
            The summary is in the trainer's attributes
            (:attr:`best_validation_error`, :attr:`test_error`,
            :attr:`best_epoch`, :attr:`pretraining_seconds`, ...). The list
            still answers the keys of the dict this method returned before
            (``result["test_error"]``, ...), with a ``DeprecationWarning``.

        Raises
        ------
        TrainingDiverged
            When an update made a parameter or the cost non-finite; the
            network keeps its last finite parameters.
        """
        pretraining_epochs = check_positive_int(pretraining_epochs, "pretraining_epochs", minimum=0)
        training_epochs = check_positive_int(training_epochs, "training_epochs", minimum=0)
        checkpoint = check_npz_path(checkpoint, "checkpoint", must_exist=False)
        resume = check_npz_path(resume, "resume", must_exist=True)
        verbose = check_verbose(verbose)
        callbacks = [callbacks] if callable(callbacks) else list(callbacks)
        for callback in callbacks:
            if not callable(callback):
                raise TypeError(f"callbacks must be callables, got {type(callback).__name__}")
        if progress_bars is not None and not isinstance(progress_bars, (bool, np.bool_)):
            raise TypeError(f"progress_bars must be True, False or None, got {progress_bars!r}")
        (X, y), valid, test = self._check_datasets(train, valid, test)
        self._fingerprint = _datasets_fingerprint([X, y, *valid, *test])
        self._pretraining_epochs = pretraining_epochs
        progress = verbose > 0 if progress_bars is None else bool(progress_bars)
        first = self._next_stage()
        if resume is not None:
            first = self._resume_point(resume, (train, valid, test))  # checks the file's kind, version and stage
            if first is None:  # an old format, restored: the run goes on from where it ended
                first, resume = self._next_stage(), None
        run = dict(verbose=verbose, checkpoint=checkpoint, callbacks=self._stage_callbacks(callbacks))

        def resuming(stage, epochs):
            """The resume and the whole stage's epochs (at least 1: a resume restores first), or (None, None)."""
            if resume is None or stage != first:
                return None, None
            return resume, max(epochs, 1)

        start = time.perf_counter()
        for layer in range(first, self.dbn.n_layers):
            path, epochs = resuming(layer, pretraining_epochs)
            self._run_stage(self._stage(layer), progress, pretraining_epochs,
                            lambda stage, epochs, path=path: stage._fit(X, epochs, resume=path, **run), epochs)
        pretrained = time.perf_counter()
        if first <= self.dbn.n_layers:
            path, epochs = resuming(self.dbn.n_layers, training_epochs)
            stage = self._run_stage(
                self._stage(self.dbn.n_layers), progress, training_epochs,
                lambda stage, epochs: stage.fit(X, y, epochs=epochs, valid=valid, test=test, resume=path, **run),
                epochs)
            stage.keep_best()  # the model that validated best
            self.state = {"stage": "done", "layer": None, "epoch": 0}
            if checkpoint:
                save_checkpoint(stage, checkpoint, stage._position, self._fingerprint)
        finished = time.perf_counter()
        self.pretraining_seconds, self.finetuning_seconds = pretrained - start, finished - pretrained
        best_epoch = self.best_epoch
        # what the old result dict held (best_epoch counted from 1 then), for old code reading it
        self.history.legacy = {**self.early_stopping, "best_epoch": None if best_epoch is None else best_epoch + 1,
                               "pretraining_minutes": self.pretraining_seconds / 60,
                               "finetuning_minutes": self.finetuning_seconds / 60}
        return self.history

    def _next_stage(self):
        """The stage the run is at: a layer's pretraining (its index), fine-tuning (n_layers) or done (n_layers + 1)."""
        stage, n_layers = self.state["stage"], self.dbn.n_layers
        return self.state["layer"] if stage == "pretraining" else n_layers if stage == "finetuning" else n_layers + 1

    def _stage_of(self, record):
        return record["layer"] if record["stage"] == "pretraining" else self.dbn.n_layers

    def _stage_callbacks(self, callbacks):
        """The user's callbacks as a stage calls them, after the DBN's history is brought up to date."""
        def update_then_call(stage, record):
            self._sync(stage)
            return any(callback(self, record) for callback in callbacks)

        return [update_then_call]

    def _sync(self, stage):
        """The history and state after the running stage's last epoch."""
        self.history[:] = self._earlier + stage.history
        name = "finetuning" if stage.stage == self.dbn.n_layers else "pretraining"
        self.state = {"stage": name, "layer": None if name == "finetuning" else stage.stage,
                      "epoch": len(stage.history)}

    def _stage(self, index):
        """The trainer of stage ``index`` (a layer's pretraining, or fine-tuning for n_layers), built once."""
        if index not in self._stages:
            self._stages[index] = (LayerPretraining(self, index) if index < self.dbn.n_layers
                                   else FineTuning(self))
        return self._stages[index]

    def _run_stage(self, stage, progress, epochs, fit, resume_epochs):
        """Run ``fit(stage, epochs)`` for the epochs of the stage not yet run (all of them with a resume)."""
        stage._progress_bars = progress
        done = [record for record in self.history if self._stage_of(record) == stage.stage]  # (an old checkpoint's)
        self._earlier = [record for record in self.history if self._stage_of(record) != stage.stage]
        stage.history[:] = done
        stage._position = epoch_start(len(done))
        if resume_epochs is not None:
            fit(stage, resume_epochs)
        elif epochs > len(done):
            fit(stage, epochs - len(done))
        self._sync(stage)
        if stage.stage < self.dbn.n_layers:
            self.state = {"stage": "pretraining" if stage.stage + 1 < self.dbn.n_layers else "finetuning",
                          "layer": stage.stage + 1 if stage.stage + 1 < self.dbn.n_layers else None, "epoch": 0}
        return stage

    def _network_arrays(self):
        """name -> shared variable of every array of the network: W and b of each layer and the output, the RBMs' vbias."""
        return {**self.dbn._named_params(), **{f"vbias_{i}": layer.vbias for i, layer in enumerate(self.dbn.rbm_layers)}}

    # ------------------------------------------------------------ checkpoints
    def _settings(self):
        widths = [r.n_visible for r in self.dbn.rbm_layers] + [self.dbn.rbm_layers[-1].n_hidden]
        return {"widths": widths, "dtype": self.dbn.dtype, "pretrain_lr": self.pretrain_lr, "k": self.k,
                "finetune_lr": self.finetune_lr, "batch_size": self.batch_size, "mode": str(self.mode),
                "patience_epochs": self.patience_epochs, "patience_increase": self.patience_increase,
                "improvement_threshold": self.improvement_threshold, "pretraining_epochs": self._pretraining_epochs}

    def _resume_point(self, path, datasets):
        """The stage the checkpoint at ``path`` resumes (the engine's stage trainer then restores it).

        None for a file of format 1 or 2 (written before DBNTrainer ran on
        the engine), which is checked against the (train, valid, test) pairs
        ``datasets`` as given and restored here: the run goes on from the
        epoch after the one it ends with.
        """
        arrays = load_npz(path, _KIND, versions=(1, 2, _FORMAT_VERSION))
        if int(arrays["format_version"]) < _FORMAT_VERSION:
            self._restore_old_format(arrays, path, datasets)
            return None
        try:
            stage = int(arrays["stage"])
        except (KeyError, ValueError, TypeError) as error:
            raise ValueError(f"{path!r} is not a complete rbm DBN checkpoint: {error}") from None
        if not 0 <= stage <= self.dbn.n_layers:
            raise ValueError(f"{path!r} holds stage {stage}, and this DBN has {self.dbn.n_layers} layers")
        return stage

    def _checkpoint_extra(self, stage):
        """What a checkpoint holds besides the running stage's position and the arrays (JSON)."""
        generators = {str(i): layer.rng.get_value(borrow=True).bit_generator.state
                      for i, layer in enumerate(self.dbn.rbm_layers) if i != stage.stage}
        return {"earlier_history": self._earlier, "early_stopping": self.early_stopping,
                "finished": self.state["stage"] == "done", "generators": generators}

    def _check_checkpoint_extra(self, extra, path, stage):
        try:
            history, stopping = list(extra["earlier_history"]), dict(extra["early_stopping"])
            generators = {}
            for i in range(self.dbn.n_layers):
                if i != stage.stage:
                    state = extra["generators"][str(i)]
                    generators[i] = np.random.Generator(getattr(np.random, state["bit_generator"])())
                    generators[i].bit_generator.state = state
            missing = {"patience", "best_validation_error", "best_epoch", "test_error"} - set(stopping)
            if missing or not all(isinstance(record, dict) and "stage" in record for record in history):
                raise ValueError(f"missing {sorted(missing)}" if missing else "unreadable history")
            ended = extra["finished"]
            if not isinstance(ended, bool):
                raise ValueError(f"finished must be true or false, got {ended!r}")
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{path!r} is not a complete rbm DBN checkpoint: {error}") from None
        self._checked_extra = (history, stopping, generators, ended)

    def _restore_checkpoint_extra(self, extra, stage):
        history, stopping, generators, self._run_ended = self._checked_extra
        self._earlier, self.early_stopping = history, stopping
        for i, generator in generators.items():
            self.dbn.rbm_layers[i].rng.set_value(generator)

    @staticmethod
    def _history_from_version_1(history, stopping):
        """A version-1 checkpoint's history dict as the record list, and its best epoch counted from 0."""
        records = [{"stage": "pretraining", "layer": layer, **record}
                   for layer, layer_records in enumerate(history["pretraining"]) for record in layer_records]
        records += [{"stage": "finetuning", **record, "epoch": record["epoch"] - 1} for record in history["finetuning"]]
        if stopping.get("best_epoch") is not None:
            stopping = {**stopping, "best_epoch": stopping["best_epoch"] - 1}
        return records, stopping

    def _restore_old_format(self, arrays, path, datasets):
        """Check, then restore, a checkpoint of format 1 or 2 (written after an epoch, before the engine ran the DBN).

        Those formats fingerprinted the three sets' rows as given (before the
        cut to whole minibatches), in the network's dtype.
        """
        names = list(self.dbn.get_params())
        try:
            settings = json.loads(str(arrays["settings"]))
            saved = json.loads(str(arrays["state"]))
            params = [arrays[f"param_{i}"] for i in range(len(names))]
            best = [arrays[f"best_{i}"] for i in range(len(names))] if "best_0" in arrays else None
            # version 1 did not keep the RBMs' visible biases: they stay as they are
            visible_biases = ([arrays[f"vbias_{i}"] for i in range(self.dbn.n_layers)]
                              if int(arrays["format_version"]) >= 2 else None)
            fingerprint_saved = str(arrays["data_sha256"])
            state, stopping, history, rng_states = (saved["state"], saved["early_stopping"], saved["history"],
                                                    saved["rng"])
            if int(arrays["format_version"]) == 1:
                history, stopping = self._history_from_version_1(history, stopping)
        except (KeyError, ValueError, TypeError) as error:
            raise ValueError(f"{path!r} is not a complete rbm DBN checkpoint: {error}") from None
        expected = self._settings()
        if settings != expected:
            different = ", ".join(f"{key}: checkpoint {settings.get(key)!r}, trainer {value!r}"
                                  for key, value in expected.items() if settings.get(key) != value)
            raise ValueError(f"{path!r} was written by a DBN trainer with other settings ({different})")
        rows = [check_array(X, "X", ndim=2) for X, _ in datasets]  # checked by fit already
        if fingerprint_saved != data_fingerprint(np.concatenate([X.ravel() for X in rows]).astype(self.dbn.dtype)):
            raise ValueError(f"{path!r} was written while training on other data: resume needs the same rows")
        if len(rng_states) != len(self.dbn.rbm_layers):
            raise ValueError(f"{path!r} holds {len(rng_states)} random states for {len(self.dbn.rbm_layers)} layers")
        current = list(self.dbn.get_params().values())
        current_biases = [layer.vbias.get_value() for layer in self.dbn.rbm_layers]
        for value, now in zip(params + (best or []) + (visible_biases or []),
                              current + (current if best else []) + (current_biases if visible_biases else [])):
            if value.shape != now.shape or not np.all(np.isfinite(value)):
                raise ValueError(f"{path!r} holds parameters of the wrong shape or with NaN/infinite values")
        if backend.uses_jax(self.mode):
            raise ValueError(f"{path!r} is a JAX-mode checkpoint of format {int(arrays['format_version'])}, whose "
                             "random keys this version cannot carry over: start the run again")
        generators = []
        try:
            for rng_state in rng_states:
                generator = np.random.Generator(getattr(np.random, rng_state["bit_generator"])())
                generator.bit_generator.state = rng_state
                generators.append(generator)
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{path!r} holds an unreadable random generator state: {error}") from None
        # Every check passed: now change state.
        self.dbn.set_params(**dict(zip(names, params)))
        for layer, generator, bias in zip(self.dbn.rbm_layers, generators, visible_biases or [None] * len(generators)):
            layer.rng.set_value(generator)
            if bias is not None:
                layer.vbias.set_value(backend.as_floatx(bias, self.dbn.dtype))
        self._old_best = None if best is None else dict(zip(names, best))
        self._stages.pop(self.dbn.n_layers, None)  # fine-tuning starts from the file's best model
        self.state, self.early_stopping = state, stopping
        self.history[:] = history
