"""Greedy layer-wise pretraining and fine-tuning of a :class:`rbm.DBN`, the tutorial's recipe.

:class:`DBNTrainer` is a thin driver over the functions the DBN compiles
(:meth:`rbm.DBN.pretraining_functions`, :meth:`rbm.DBN.build_finetune_functions`):
it runs CD-k on each layer in turn, then minibatch gradient descent on the
whole network with the tutorial's early stopping (patience that doubles on a
clear improvement of the validation error), and adds what a long run needs:
progress bars, atomic checkpoints after every epoch that resume bit for bit,
and a divergence guard.
"""
import json
import os
import time

import numpy as np
from numpy.typing import ArrayLike
from tqdm.auto import tqdm

from .. import backend
from .._compat import DBNHistory, keyword_only
from ..persistence import atomic_savez, load_npz
from ..validation import check_array, check_data, check_float, check_positive_int, check_verbose
from .checkpoint import data_fingerprint
from .engine import TrainingDiverged
from .engine import check_npz_path as _check_npz_path

__all__ = ["DBNTrainer"]

_KIND = "rbm.DBNCheckpoint"
#: version 2: the history as one list of records (epochs from 0) and the RBMs' visible biases; 1 still loads
_FORMAT_VERSION = 2


def _check_labels(y, n_rows, n_classes, name):
    labels = check_array(y, name, ndim=1)
    if labels.shape[0] != n_rows:
        raise ValueError(f"{name} has {labels.shape[0]} labels for {n_rows} rows")
    if np.any(labels != np.round(labels)) or labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(f"{name} must hold integer class labels in 0 .. {n_classes - 1}")
    return labels.astype(np.int32)


class DBNTrainer:
    """Pretrain a :class:`rbm.DBN` layer by layer with CD-k, then fine-tune it with early stopping.

    The defaults are the tutorial's ``test_DBN``. Early stopping starts with
    a patience of ``patience_epochs`` epochs and, whenever the validation
    error falls below ``improvement_threshold`` times the best so far,
    extends it to ``patience_increase`` times the minibatch updates done.
    Validation runs after every epoch. Every setting past ``dbn`` is
    keyword-only (positional use still works, with a ``DeprecationWarning``).

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

    Attributes
    ----------
    history : list of dict
        One record per epoch, as :attr:`rbm.Trainer.history`: ``stage``
        ("pretraining" or "finetuning"), ``layer`` (pretraining only),
        ``epoch`` (from 0 in each layer and in fine-tuning), ``cost`` (mean
        reconstruction cost, or mean negative log-likelihood), ``time`` (s);
        fine-tuning records add ``validation_error`` and, where it improved,
        ``test_error``.
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
                 mode: str = "cpu") -> None:
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
        self.history = DBNHistory(n_layers=dbn.n_layers)
        self.pretraining_seconds = self.finetuning_seconds = None
        self.state = {"stage": "pretraining", "layer": 0, "epoch": 0}
        self.early_stopping = {"patience": None, "best_validation_error": float("inf"), "best_epoch": None,
                               "test_error": None}
        self._best_params = None
        self._data = {name: backend.shared(np.zeros((1, dbn.rbm_layers[0].n_visible)), name, dbn.dtype)
                      for name in ("train_x", "valid_x", "test_x")}
        self._labels = {name: backend.pytensor.shared(np.zeros(1, dtype=np.int32), name=name)
                        for name in ("train_y", "valid_y", "test_y")}
        self._pretrain_fns = self._finetune_fns = None

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

    # ------------------------------------------------------------ data
    def _check_datasets(self, train, valid, test):
        dbn = self.dbn
        n_in, n_out = dbn.rbm_layers[0].n_visible, dbn.logLayer.b.get_value(borrow=True).shape[0]
        checked = []
        for (X, y), name in zip((train, valid, test), ("train", "valid", "test")):
            X = check_data(X, n_in, f"{name} X")
            if X.shape[0] < self.batch_size:
                raise ValueError(f"{name} X has {X.shape[0]} rows, fewer than batch_size={self.batch_size}")
            checked.append((X, _check_labels(y, X.shape[0], n_out, f"{name} y")))
        return checked

    def _set_data(self, checked):
        for (X, y), name in zip(checked, ("train", "valid", "test")):
            rows = X.shape[0] // self.batch_size * self.batch_size  # whole minibatches, as the tutorial
            backend.set_shared_data(self._data[f"{name}_x"], backend.as_floatx(X[:rows], self.dbn.dtype), self.mode)
            backend.set_shared_data(self._labels[f"{name}_y"], y[:rows], self.mode)

    def _compile(self):
        """Compile both phases' functions once, on the shared data (whose values change, not their graphs)."""
        if self._pretrain_fns is None:
            self._pretrain_fns = self.dbn.pretraining_functions(self._data["train_x"], self.batch_size, self.k,
                                                                mode=self.mode)
            datasets = [(self._data[f"{name}_x"], self._labels[f"{name}_y"]) for name in ("train", "valid", "test")]
            self._finetune_fns = self.dbn.build_finetune_functions(datasets, self.batch_size, self.finetune_lr,
                                                                   mode=self.mode)

    # ------------------------------------------------------------ training
    @keyword_only("pretraining_epochs", "training_epochs", "verbose", "checkpoint", "resume", "progress_bars")
    def fit(self, train: tuple[ArrayLike, ArrayLike], valid: tuple[ArrayLike, ArrayLike],
            test: tuple[ArrayLike, ArrayLike], *, pretraining_epochs: int = 100, training_epochs: int = 1000,
            verbose: bool | int = True, checkpoint: str | os.PathLike[str] | None = None,
            resume: str | os.PathLike[str] | None = None, progress_bars: bool | None = None) -> list[dict]:
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

        Returns
        -------
        list of dict
            :attr:`history`, as :meth:`rbm.Trainer.fit` returns its history.
            The summary is in the trainer's attributes
            (:attr:`best_validation_error`, :attr:`test_error`,
            :attr:`best_epoch`, :attr:`pretraining_seconds`, ...). The list
            still answers the keys of the dict this method returned before
            (``result["test_error"]``, ...), with a ``DeprecationWarning``.
        """
        pretraining_epochs = check_positive_int(pretraining_epochs, "pretraining_epochs", minimum=0)
        training_epochs = check_positive_int(training_epochs, "training_epochs", minimum=0)
        checkpoint = _check_npz_path(checkpoint, "checkpoint", must_exist=False)
        resume = _check_npz_path(resume, "resume", must_exist=True)
        verbose = check_verbose(verbose)
        checked = self._check_datasets(train, valid, test)
        self._progress_bars = verbose > 0 if progress_bars is None else bool(progress_bars)
        fingerprint = data_fingerprint(np.concatenate([X.ravel() for X, _ in checked]).astype(self.dbn.dtype))
        self._compile()
        if resume is not None:
            self._load_checkpoint(resume, fingerprint, pretraining_epochs)  # checks everything first
        self._set_data(checked)
        save = (lambda: self._save_checkpoint(checkpoint, fingerprint, pretraining_epochs)) if checkpoint else None
        start = time.perf_counter()
        self._pretrain(pretraining_epochs, verbose, save)
        pretrained = time.perf_counter()
        self._finetune(training_epochs, verbose, save)
        finished = time.perf_counter()
        self.pretraining_seconds, self.finetuning_seconds = pretrained - start, finished - pretrained
        best_epoch = self.best_epoch
        # what the old result dict held (best_epoch counted from 1 then), for old code reading it
        self.history.legacy = {**self.early_stopping, "best_epoch": None if best_epoch is None else best_epoch + 1,
                               "pretraining_minutes": self.pretraining_seconds / 60,
                               "finetuning_minutes": self.finetuning_seconds / 60}
        return self.history

    @staticmethod
    def format_record(record: dict) -> str:
        """One line for an epoch's record, as ``fit`` prints it.

        Parameters
        ----------
        record : dict
            A record of ``history``.

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

    def _pretrain(self, epochs, verbose, save):
        state = self.state
        n_batches = self._data["train_x"].get_value(borrow=True).shape[0] // self.batch_size
        while state["stage"] == "pretraining":
            layer = state["layer"]
            if layer >= len(self._pretrain_fns) or state["epoch"] >= epochs:
                state.update(layer=layer + 1, epoch=0)
                if layer + 1 >= len(self._pretrain_fns):
                    state.update(stage="finetuning", layer=None, epoch=0)
                continue
            function = self._pretrain_fns[layer]
            started = time.perf_counter()
            costs = self._guarded_epoch(
                lambda index, function=function: function(index, self.pretrain_lr), n_batches,
                f"pretraining layer {layer}, epoch {state['epoch']}")
            record = {"stage": "pretraining", "layer": layer, "epoch": state["epoch"], "cost": float(np.mean(costs)),
                      "time": time.perf_counter() - started}
            self.history.append(record)
            if verbose:
                tqdm.write(self.format_record(record))
            state["epoch"] += 1
            if save:
                save()

    def _finetune(self, epochs, verbose, save):
        state, stopping = self.state, self.early_stopping
        if state["stage"] != "finetuning":
            return
        train_fn, valid_score, test_score = self._finetune_fns
        n_batches = self._data["train_x"].get_value(borrow=True).shape[0] // self.batch_size
        if stopping["patience"] is None:
            stopping["patience"] = self.patience_epochs * n_batches
        while state["epoch"] < epochs:
            started = time.perf_counter()
            costs = self._guarded_epoch(train_fn, n_batches, f"fine-tuning epoch {state['epoch']}")
            state["epoch"] += 1
            updates_done = state["epoch"] * n_batches
            validation_error = float(np.mean(valid_score()))
            record = {"stage": "finetuning", "epoch": state["epoch"] - 1, "cost": float(np.mean(costs)),
                      "validation_error": validation_error, "time": time.perf_counter() - started}
            if validation_error < stopping["best_validation_error"]:
                if validation_error < stopping["best_validation_error"] * self.improvement_threshold:
                    stopping["patience"] = max(stopping["patience"], int((updates_done - 1) * self.patience_increase))
                stopping.update(best_validation_error=validation_error, best_epoch=record["epoch"],
                                test_error=float(np.mean(test_score())))
                self._best_params = self.dbn.get_params()
                record["test_error"] = stopping["test_error"]
            self.history.append(record)
            if verbose:
                tqdm.write(self.format_record(record))
            if stopping["patience"] <= updates_done:
                break
            if save:
                save()
        state["stage"] = "done"
        if self._best_params is not None:
            self.dbn.set_params(**self._best_params)  # keep the model that validated best
        if save:
            save()

    def _guarded_epoch(self, step, n_batches, description):
        """Run ``step(index)`` on every minibatch; on a non-finite cost or parameter restore the epoch's start.

        The DBN then keeps its last finite parameters (those of the epoch's
        start, the RBMs' visible biases included) and
        :class:`rbm.TrainingDiverged` names where it went wrong.
        """
        params_before, visible_biases_before = self.dbn.get_params(), self._visible_biases()
        costs = np.empty(n_batches)
        # disable=None: a bar only when stderr is a terminal (a log gets the epoch lines alone)
        bars = None if self._progress_bars else True
        for index in tqdm(range(n_batches), desc=description, unit="batch", disable=bars, leave=False):
            costs[index] = step(index)
        arrays_after = [*self.dbn.get_params().values(), *self._visible_biases()]
        if not np.all(np.isfinite(costs)) or not all(np.all(np.isfinite(a)) for a in arrays_after):
            self.dbn.set_params(**params_before)
            self._set_visible_biases(visible_biases_before)
            first_bad = int(np.argmax(~np.isfinite(costs))) if not np.all(np.isfinite(costs)) else n_batches - 1
            raise TrainingDiverged(f"{description} diverged at minibatch {first_bad}: a cost or parameter became "
                                   "NaN or infinite; the DBN keeps the parameters of the epoch's start "
                                   "(try a smaller learning rate)")
        return costs

    def _visible_biases(self):
        """Each RBM's visible bias (copies): pretraining state that is not a parameter of the network."""
        return [np.array(layer.vbias.get_value(borrow=True)) for layer in self.dbn.rbm_layers]

    def _set_visible_biases(self, values):
        for layer, value in zip(self.dbn.rbm_layers, values):
            layer.vbias.set_value(backend.as_floatx(value, self.dbn.dtype))

    # ------------------------------------------------------------ checkpoints
    def _settings(self, pretraining_epochs):
        widths = [r.n_visible for r in self.dbn.rbm_layers] + [self.dbn.rbm_layers[-1].n_hidden]
        return {"widths": widths, "dtype": self.dbn.dtype, "pretrain_lr": self.pretrain_lr, "k": self.k,
                "finetune_lr": self.finetune_lr, "batch_size": self.batch_size, "mode": str(self.mode),
                "patience_epochs": self.patience_epochs, "patience_increase": self.patience_increase,
                "improvement_threshold": self.improvement_threshold, "pretraining_epochs": pretraining_epochs}

    def _rng_states(self):
        """Each RBM's sampler state: the key of its pretraining function's copy under JAX, else the Generator's."""
        if backend.uses_jax(self.mode):
            return [backend.jax_rng_key(fn, r.rng).tolist() for fn, r in zip(self._pretrain_fns, self.dbn.rbm_layers)]
        return [r.rng.get_value(borrow=True).bit_generator.state for r in self.dbn.rbm_layers]

    def _save_checkpoint(self, path, fingerprint, pretraining_epochs):
        params = {f"param_{i}": p for i, p in enumerate(self.dbn.get_params().values())}
        best = {f"best_{i}": p for i, p in enumerate((self._best_params or {}).values())}
        visible_biases = {f"vbias_{i}": b for i, b in enumerate(self._visible_biases())}
        atomic_savez(path, dict(
            kind=np.str_(_KIND), format_version=np.int64(_FORMAT_VERSION), data_sha256=np.str_(fingerprint),
            settings=np.str_(json.dumps(self._settings(pretraining_epochs), sort_keys=True)),
            state=np.str_(json.dumps({"state": self.state, "early_stopping": self.early_stopping,
                                      "history": list(self.history), "rng": self._rng_states()})),
            **params, **best, **visible_biases))

    @staticmethod
    def _history_from_version_1(history, stopping):
        """A version-1 checkpoint's history dict as the record list, and its best epoch counted from 0."""
        records = [{"stage": "pretraining", "layer": layer, **record}
                   for layer, layer_records in enumerate(history["pretraining"]) for record in layer_records]
        records += [{"stage": "finetuning", **record, "epoch": record["epoch"] - 1} for record in history["finetuning"]]
        if stopping.get("best_epoch") is not None:
            stopping = {**stopping, "best_epoch": stopping["best_epoch"] - 1}
        return records, stopping

    def _load_checkpoint(self, path, fingerprint, pretraining_epochs):
        arrays = load_npz(path, _KIND, versions=(1, _FORMAT_VERSION))
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
        expected = self._settings(pretraining_epochs)
        if settings != expected:
            different = ", ".join(f"{key}: checkpoint {settings.get(key)!r}, trainer {value!r}"
                                  for key, value in expected.items() if settings.get(key) != value)
            raise ValueError(f"{path!r} was written by a DBN trainer with other settings ({different})")
        if fingerprint_saved != fingerprint:
            raise ValueError(f"{path!r} was written while training on other data: resume needs the same rows")
        if len(rng_states) != len(self.dbn.rbm_layers):
            raise ValueError(f"{path!r} holds {len(rng_states)} random states for {len(self.dbn.rbm_layers)} layers")
        current = list(self.dbn.get_params().values())
        current_biases = self._visible_biases()
        for value, now in zip(params + (best or []) + (visible_biases or []),
                              current + (current if best else []) + (current_biases if visible_biases else [])):
            if value.shape != now.shape or not np.all(np.isfinite(value)):
                raise ValueError(f"{path!r} holds parameters of the wrong shape or with NaN/infinite values")
        generators = []
        if not backend.uses_jax(self.mode):
            try:
                for rng_state in rng_states:
                    generator = np.random.Generator(getattr(np.random, rng_state["bit_generator"])())
                    generator.bit_generator.state = rng_state
                    generators.append(generator)
            except (AttributeError, KeyError, TypeError, ValueError) as error:
                raise ValueError(f"{path!r} holds an unreadable random generator state: {error}") from None
        # Every check passed: now change state.
        self.dbn.set_params(**dict(zip(names, params)))
        if visible_biases is not None:
            self._set_visible_biases(visible_biases)
        self._best_params = None if best is None else dict(zip(names, best))
        for i, (fn, model) in enumerate(zip(self._pretrain_fns, self.dbn.rbm_layers)):
            if generators:
                model.rng.set_value(generators[i])
            else:
                backend.set_jax_rng_key(fn, model.rng, np.asarray(rng_states[i], dtype=np.uint32))
        self.state, self.early_stopping = state, stopping
        self.history = DBNHistory(history, n_layers=self.dbn.n_layers)
