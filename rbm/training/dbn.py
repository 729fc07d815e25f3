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
import time

import numpy as np
from tqdm.auto import tqdm

from .. import backend
from ..persistence import atomic_savez, load_npz
from ..validation import check_array, check_data, check_float, check_positive_int
from .checkpoint import data_fingerprint
from .trainer import TrainingDiverged, _check_npz_path

__all__ = ["DBNTrainer"]

_KIND = "rbm.DBNCheckpoint"


def _check_labels(y, n_rows, n_classes, name):
    labels = check_array(y, name, ndim=1)
    if labels.shape[0] != n_rows:
        raise ValueError(f"{name} has {labels.shape[0]} labels for {n_rows} rows")
    if np.any(labels != np.round(labels)) or labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(f"{name} must hold integer class labels in 0 .. {n_classes - 1}")
    return labels.astype(np.int32)


class DBNTrainer:
    """Pretrain a :class:`rbm.DBN` layer by layer with CD-k, then fine-tune it with early stopping.

    Parameters follow the tutorial's ``test_DBN``: ``pretrain_lr`` (0.01),
    ``k`` (1), ``finetune_lr`` (0.1), ``batch_size`` (10); early stopping
    starts with a patience of ``patience_epochs`` (4) epochs and, whenever
    the validation error falls below ``improvement_threshold`` (0.995) times
    the best so far, extends it to ``patience_increase`` (2) times the
    minibatch updates done. Validation runs after every epoch. ``mode`` is
    any mode of :func:`rbm.backend.resolve_mode`.
    """

    def __init__(self, dbn, pretrain_lr=0.01, k=1, finetune_lr=0.1, batch_size=10, patience_epochs=4,
                 patience_increase=2.0, improvement_threshold=0.995, mode="cpu"):
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
        self.history = {"pretraining": [[] for _ in dbn.rbm_layers], "finetuning": []}
        self.state = {"stage": "pretraining", "layer": 0, "epoch": 0}
        self.early_stopping = {"patience": None, "best_validation_error": float("inf"), "best_epoch": None,
                               "test_error": None}
        self._best_params = None
        self._data = {name: backend.shared(np.zeros((1, dbn.rbm_layers[0].n_visible)), name, dbn.dtype)
                      for name in ("train_x", "valid_x", "test_x")}
        self._labels = {name: backend.pytensor.shared(np.zeros(1, dtype=np.int32), name=name)
                        for name in ("train_y", "valid_y", "test_y")}
        self._pretrain_fns = self._finetune_fns = None

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
    def fit(self, train, valid, test, pretraining_epochs=100, training_epochs=1000, verbose=True,
            checkpoint=None, resume=None, progress_bars=None):
        """Pretrain every layer for ``pretraining_epochs``, then fine-tune for up to ``training_epochs``.

        ``train``, ``valid`` and ``test`` are ``(X, y)`` pairs: X rows in [0, 1]
        of the DBN's input width, y integer class labels. The last rows that
        do not fill a minibatch are not used, as in the tutorial.
        ``checkpoint=PATH`` writes the whole state after every epoch;
        ``resume=PATH`` continues from such a file (same data and settings)
        and ends with the parameters of an uninterrupted run. ``verbose``
        prints a line per epoch; ``progress_bars`` (default: ``verbose``)
        shows a bar per epoch. Returns a dict
        with ``best_validation_error``, ``test_error`` (of the parameters at the
        best validation error, which the DBN keeps at the end), ``best_epoch``,
        ``pretraining_minutes``, ``finetuning_minutes`` and ``history``.
        """
        pretraining_epochs = check_positive_int(pretraining_epochs, "pretraining_epochs", minimum=0)
        training_epochs = check_positive_int(training_epochs, "training_epochs", minimum=0)
        checkpoint = _check_npz_path(checkpoint, "checkpoint", must_exist=False)
        resume = _check_npz_path(resume, "resume", must_exist=True)
        checked = self._check_datasets(train, valid, test)
        self._progress_bars = verbose if progress_bars is None else bool(progress_bars)
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
        return {**self.early_stopping, "history": self.history,
                "pretraining_minutes": (pretrained - start) / 60, "finetuning_minutes": (finished - pretrained) / 60}

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
                lambda index: function(index, self.pretrain_lr), n_batches,
                f"pretraining layer {layer}, epoch {state['epoch']}")
            record = {"epoch": state["epoch"], "cost": float(np.mean(costs)), "time": time.perf_counter() - started}
            self.history["pretraining"][layer].append(record)
            if verbose:
                tqdm.write(f"Pre-training layer {layer}, epoch {record['epoch']}, cost {record['cost']:.4f}, "
                           f"{record['time']:.1f} s")
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
            record = {"epoch": state["epoch"], "cost": float(np.mean(costs)),
                      "validation_error": validation_error, "time": time.perf_counter() - started}
            if validation_error < stopping["best_validation_error"]:
                if validation_error < stopping["best_validation_error"] * self.improvement_threshold:
                    stopping["patience"] = max(stopping["patience"], int((updates_done - 1) * self.patience_increase))
                stopping.update(best_validation_error=validation_error, best_epoch=state["epoch"],
                                test_error=float(np.mean(test_score())))
                self._best_params = self.dbn.get_params()
                record["test_error"] = stopping["test_error"]
            self.history["finetuning"].append(record)
            if verbose:
                tqdm.write(f"epoch {record['epoch']}, cost {record['cost']:.4f}, validation error "
                           f"{100 * validation_error:.2f} %"
                           + (f", test error of best model {100 * record['test_error']:.2f} %"
                              if "test_error" in record else "") + f", {record['time']:.1f} s")
            if stopping["patience"] <= updates_done:
                break
            if save:
                save()
        state["stage"] = "done"
        if self._best_params is not None:
            self.dbn.set_params(self._best_params)  # keep the model that validated best
        if save:
            save()

    def _guarded_epoch(self, step, n_batches, description):
        """Run ``step(index)`` on every minibatch; on a non-finite cost or parameter restore the epoch's start.

        The DBN then keeps its last finite parameters (those of the epoch's
        start) and :class:`rbm.TrainingDiverged` names where it went wrong.
        """
        params_before = self.dbn.get_params()
        costs = np.empty(n_batches)
        for index in tqdm(range(n_batches), desc=description, unit="batch", disable=not self._progress_bars, leave=False):
            costs[index] = step(index)
        if not np.all(np.isfinite(costs)) or not all(np.all(np.isfinite(p)) for p in self.dbn.get_params()):
            self.dbn.set_params(params_before)
            first_bad = int(np.argmax(~np.isfinite(costs))) if not np.all(np.isfinite(costs)) else n_batches - 1
            raise TrainingDiverged(f"{description} diverged at minibatch {first_bad}: a cost or parameter became "
                                   "NaN or infinite; the DBN keeps the parameters of the epoch's start "
                                   "(try a smaller learning rate)")
        return costs

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
        params = {f"param_{i}": p for i, p in enumerate(self.dbn.get_params())}
        best = {f"best_{i}": p for i, p in enumerate(self._best_params or [])}
        atomic_savez(path, dict(
            kind=np.str_(_KIND), format_version=np.int64(1), data_sha256=np.str_(fingerprint),
            settings=np.str_(json.dumps(self._settings(pretraining_epochs), sort_keys=True)),
            state=np.str_(json.dumps({"state": self.state, "early_stopping": self.early_stopping,
                                      "history": self.history, "rng": self._rng_states()})),
            **params, **best))

    def _load_checkpoint(self, path, fingerprint, pretraining_epochs):
        arrays = load_npz(path, _KIND)
        try:
            settings = json.loads(str(arrays["settings"]))
            saved = json.loads(str(arrays["state"]))
            params = [arrays[f"param_{i}"] for i in range(len(self.dbn.params))]
            best = ([arrays[f"best_{i}"] for i in range(len(self.dbn.params))]
                    if "best_0" in arrays else None)
            fingerprint_saved = str(arrays["data_sha256"])
            state, stopping, history, rng_states = (saved["state"], saved["early_stopping"], saved["history"],
                                                    saved["rng"])
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
        current = self.dbn.get_params()
        for value, now in zip(params + (best or []), current + current):
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
        self.dbn.set_params(params)
        self._best_params = best
        for i, (fn, model) in enumerate(zip(self._pretrain_fns, self.dbn.rbm_layers)):
            if generators:
                model.rng.set_value(generators[i])
            else:
                backend.set_jax_rng_key(fn, model.rng, np.asarray(rng_states[i], dtype=np.uint32))
        self.state, self.early_stopping, self.history = state, stopping, history
