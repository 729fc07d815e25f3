"""Training a Deep Boltzmann Machine: mean-field data statistics, persistent Gibbs chains for the model's.

Each minibatch update (Salakhutdinov & Hinton, "Deep Boltzmann machines",
AISTATS 2009) takes the data statistics from the mean-field posterior of the
minibatch (:meth:`rbm.models.dbm.DBM.mean_field`) and the model statistics
from persistent chains that hold a state of every layer and move by
``gibbs_steps`` sweeps per update (:meth:`rbm.models.dbm.DBM.gibbs_sweep`).
With ``centering`` the update is the gradient of the centered DBM of
Melchior, Fischer & Wiskott ("How to center deep Boltzmann machines", JMLR
2016), written in plain coordinates, so the model always holds plain
parameters (see :meth:`DBMTrainer.centered_gradients`).

The loop mirrors :class:`rbm.Trainer`: the data live in a shared variable of
minibatches, one compiled ``scan`` runs ``batches_per_call`` updates per call,
a divergence guard keeps the last finite state, and checkpoints restore a run
bit for bit. The checkpoint format is this module's own (kind
``"rbm.DBMCheckpoint"``): :mod:`rbm.training.checkpoint` is written for
:class:`rbm.Trainer`'s RBM state.
"""
import json
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from pytensor.graph.replace import clone_replace
from tqdm.auto import tqdm

from .. import backend
from ..backend import pt
from ..persistence import atomic_savez, load_npz
from ..validation import check_float, check_positive_int, check_seed, check_verbose
from . import schedules
from .checkpoint import data_fingerprint
from .trainer import _GPU_BATCHES_PER_CALL, TrainingDiverged, _check_npz_path, _epoch_start

__all__ = ["DBMTrainer"]

_CHECKPOINT_KIND = "rbm.DBMCheckpoint"
_CHECKPOINT_VERSION = 1
#: minibatches between two looks at the divergence flag (each look waits for the device)
_DIVERGENCE_CHECK_EVERY = 100


class DBMTrainer:
    """Stochastic gradient training of an :class:`rbm.models.dbm.DBM`.

    Parameters
    ----------
    model : DBM
        Its shared parameters change in place.
    learning_rate : float > 0 or schedule, default 0.005
        A number or a callable of the epoch (:mod:`rbm.training.schedules`).
    batch_size : int >= 1, default 100
    n_chains : int >= 1, default 100
        Persistent chains of the negative phase.
    mean_field_steps : int >= 0, default 10
        Fixed-point steps of the positive phase after the doubled bottom-up start.
    gibbs_steps : int >= 1, default 5
        Gibbs sweeps of the chains per update.
    momentum : float in [0, 1) or schedule, default 0.0
        velocity <- momentum velocity - learning_rate (gradient + weight_decay W); param <- param + velocity.
    weight_decay : float >= 0, default 0.0
        L2 penalty on the weights (not on the biases); with centering it is
        added to the weights' centered direction, as :class:`rbm.Trainer` does.
    centering : bool, default False
        Follow the centered gradient of Melchior et al. (2016), with one
        offset vector per layer that tracks the data means of that layer
        (the minibatch for the visible layer, the mean-field means for the
        hidden ones). Offsets start at the first ``fit``'s data means.
    centering_rate : float in (0, 1], default 0.01
        Each minibatch moves the offsets this fraction of the way to its means.
    mode : str, default "cpu"
        "cpu", "gpu" or a PyTensor mode name.
    seed : int, optional
        Re-seeds the model's generator and draws the chains' first states.
    batches_per_call : int >= 1, optional
        Updates per compiled call; 50 on a GPU, 1 on a CPU by default.

    Attributes
    ----------
    history : list of dict
        One record per epoch: ``epoch``, ``cost`` (mean reconstruction
        log-probability of the data from the mean-field posterior, see
        :meth:`rbm.DBM.reconstruction_cost`), ``time``,
        ``learning_rate``, ``momentum``.
    chains : list of shared matrices (n_chains, n_k)
        The persistent chains' states, one per layer.
    velocities : list of shared variables
        Momentum buffers (empty without momentum).
    offsets : list of shared vectors or None
        The centering offsets, one per layer.
    """

    def __init__(self, model, *, learning_rate: float | Callable[[int], float] = 0.005, batch_size: int = 100,
                 n_chains: int = 100, mean_field_steps: int = 10, gibbs_steps: int = 5,
                 momentum: float | Callable[[int], float] = 0.0, weight_decay: float = 0.0,
                 centering: bool = False, centering_rate: float = 0.01, mode: str = "cpu",
                 seed: int | None = None, batches_per_call: int | None = None) -> None:
        from ..models.dbm import DBM

        if not isinstance(model, DBM):
            raise TypeError(f"model must be an rbm DBM, got {type(model).__name__}")
        if not isinstance(centering, bool):
            raise TypeError(f"centering must be True or False, got {centering!r}")
        self.learning_rate = learning_rate
        self.momentum = momentum
        self._schedules = {"learning_rate": schedules.as_schedule(learning_rate, "learning_rate"),
                           "momentum": schedules.as_schedule(momentum, "momentum")}
        self._schedule_values(0)  # a number out of range fails now
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.n_chains = check_positive_int(n_chains, "n_chains")
        self.mean_field_steps = check_positive_int(mean_field_steps, "mean_field_steps", minimum=0)
        self.gibbs_steps = check_positive_int(gibbs_steps, "gibbs_steps")
        self.weight_decay = check_float(weight_decay, "weight_decay", low=0.0)
        self.centering = centering
        self.centering_rate = check_float(centering_rate, "centering_rate", low=0.0, high=1.0, low_inclusive=False)
        backend.resolve_mode(mode)
        self.mode = mode
        self.seed = check_seed(seed)
        if batches_per_call is None:
            batches_per_call = _GPU_BATCHES_PER_CALL if backend.runs_on_gpu(mode) else 1
        self.batches_per_call = check_positive_int(batches_per_call, "batches_per_call")
        # every check passed: now build state
        self.model = model
        if self.seed is not None:
            model.rng.set_value(np.random.default_rng(self.seed))
        dtype = model.dtype
        first_states = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(2,)))
        self.chains = [backend.shared(first_states.random((self.n_chains, n)) < 0.5, f"chain_{i}", dtype)
                       for i, n in enumerate(model.layer_sizes)]
        uses_momentum = callable(momentum) or momentum != 0
        self.velocities = ([backend.shared(np.zeros(p.get_value(borrow=True).shape), f"velocity_{p.name}", dtype)
                            for p in model.params] if uses_momentum else [])
        self.offsets = ([backend.shared(np.zeros(n), f"offset_{i}", dtype) for i, n in enumerate(model.layer_sizes)]
                        if centering else None)
        self._offsets_set = False
        self.history = []
        self._position = _epoch_start(0)
        self._batches = backend.shared(np.zeros((1, self.batch_size, model.n_visible)), "batches", dtype)
        self._epoch_costs = backend.pytensor.shared(np.zeros(1), name="epoch_costs")
        self._healthy = backend.pytensor.shared(np.int8(1), name="healthy")
        self._first_bad_step = backend.pytensor.shared(np.int64(-1), name="first_bad_step")
        self._learning_rate_now = backend.pytensor.shared(np.float64(0.0), name="learning_rate_now")
        self._momentum_now = backend.pytensor.shared(np.float64(0.0), name="momentum_now")
        self._train_fn = None

    def _schedule_values(self, epoch):
        """(learning rate, momentum) for ``epoch``, checked: lr > 0, 0 <= momentum < 1."""
        return (schedules.value_at(self._schedules["learning_rate"], epoch, "learning_rate", low=0.0,
                                   low_inclusive=False),
                schedules.value_at(self._schedules["momentum"], epoch, "momentum", low=0.0, high=1.0,
                                   high_inclusive=False))

    # --------------------------------------------------------------- the step
    def centered_gradients(self, gradients: Sequence[pt.TensorVariable],
                           offsets: Sequence[pt.TensorVariable]) -> list[pt.TensorVariable]:
        """The centered update direction in plain coordinates (symbolic).

        With g_Wi and g_i the plain descent gradients (model minus data
        statistics of x_i x_(i+1)^T and x_i) and o_i the offsets, the
        centered energy -sum_i (x_i - o_i)^T W_i (x_(i+1) - o_(i+1))
        - sum_i (x_i - o_i).b_i has the weight gradient of the centered
        statistics,

            G_Wi = g_Wi - o_i g_(i+1)^T - g_i o_(i+1)^T,

        and bias gradients g_i. Its plain biases are
        b_i - W_i o_(i+1) - W_(i-1)^T o_(i-1), so a centered step of size eta
        moves them by -eta (g_i - G_Wi o_(i+1) - G_W(i-1)^T o_(i-1)).

        Parameters
        ----------
        gradients : list of symbolic tensors
            Plain gradients in the order of ``model.params`` (weights, then biases).
        offsets : list of symbolic vectors
            One per layer.

        Returns
        -------
        list of symbolic tensors
            The directions of the weights, then of the plain biases.
        """
        n_weights = self.model.n_layers - 1
        weight_grads, bias_grads = gradients[:n_weights], gradients[n_weights:]
        centered = [weight_grads[i] - pt.outer(offsets[i], bias_grads[i + 1]) - pt.outer(bias_grads[i], offsets[i + 1])
                    for i in range(n_weights)]
        biases = []
        for i, grad in enumerate(bias_grads):
            if i < n_weights:
                grad = grad - pt.dot(centered[i], offsets[i + 1])
            if i > 0:
                grad = grad - pt.dot(offsets[i - 1], centered[i - 1])
            biases.append(grad)
        return centered + biases

    def _minibatch_updates(self, index, data):
        """Shared variable -> new value after one update on the minibatch ``data`` (symbolic), and its cost.

        Positive phase: mean field on ``data``; negative phase: ``gibbs_steps``
        sweeps of the chains; gradient = model minus data statistics, centered
        if asked; then momentum and weight decay. The divergence guard is
        part of the graph: an update applies only while every update so far,
        this one included, left the cost and parameters finite.
        """
        model = self.model
        dtype = model.dtype
        mean_field = model.mean_field(data, self.mean_field_steps)
        states, rng = list(self.chains), model.rng
        for _ in range(self.gibbs_steps):
            states, _, rng = model.gibbs_sweep(states, rng)
        gradients = [model_stat - data_stat for model_stat, data_stat in
                     zip(model.sufficient_statistics(states), model.sufficient_statistics(mean_field))]
        cost = model.reconstruction_cost(data, mean_field)
        new_values = dict(zip(self.chains, states))
        if self.centering:
            # offsets move before the gradient is taken, as the RBM trainer does (Melchior et al.'s "dd^b_s")
            rate = np.asarray(self.centering_rate, dtype=dtype)
            offsets = [(1 - rate) * offset + rate * pt.mean(means, axis=0)
                       for offset, means in zip(self.offsets, mean_field)]
            gradients = self.centered_gradients(gradients, offsets)
            new_values.update(zip(self.offsets, offsets))
        lr, momentum = (pt.cast(now, dtype) if callable(setting) else np.asarray(setting, dtype=dtype)
                        for setting, now in ((self.learning_rate, self._learning_rate_now),
                                             (self.momentum, self._momentum_now)))
        for i, (param, grad) in enumerate(zip(model.params, gradients)):
            if self.weight_decay and i < len(model.weights):
                grad = grad + np.asarray(self.weight_decay, dtype=dtype) * param
            if self.velocities:
                new_velocity = momentum * self.velocities[i] - lr * grad
                new_values[self.velocities[i]] = new_velocity
                new_values[param] = param + new_velocity
            else:
                new_values[param] = param - lr * grad
        finite = pt.all(pt.isfinite(cost))
        for param in model.params:
            finite = pt.and_(finite, pt.all(pt.isfinite(new_values[param])))
        healthy = pt.and_(pt.eq(self._healthy, 1), finite)
        updates = {variable: pt.switch(healthy, value, variable) for variable, value in new_values.items()}
        updates[model.rng] = rng
        updates[self._first_bad_step] = pt.switch(pt.and_(pt.eq(self._healthy, 1), pt.invert(finite)),
                                                  index, self._first_bad_step)
        updates[self._healthy] = pt.cast(healthy, "int8")
        return updates, pt.cast(cost, "float64")

    def _build_train_fn(self):
        """Compile ``(start, stop) -> nothing``: updates on minibatches start .. stop - 1, in a ``scan``.

        As :meth:`rbm.Trainer._build_train_fn`: the scan's state is every
        shared variable the update changes; steps from ``stop`` on change
        nothing but still draw, so the generator advances alike whatever the
        call's length; one function serves every call (under JAX each
        compiled function keeps its own copy of the generator).
        """
        index = pt.lscalar("index")
        data = pt.matrix("minibatch", dtype=self.model.dtype)
        updates, cost = self._minibatch_updates(index, data)
        states = sorted(updates, key=backend.is_rng)  # scan hands generators to the step after the other states
        stop = pt.lscalar("stop")
        last_batch = self._batches.shape[0] - 1

        def one_minibatch(minibatch_index, *values):
            replace = dict(zip(states, values))
            replace[index] = minibatch_index
            replace[data] = self._batches[pt.minimum(minibatch_index, last_batch)]
            new_values = clone_replace([updates[s] for s in states] + [cost], replace=replace)
            active = pt.lt(minibatch_index, stop)
            new_values[:-1] = [new if backend.is_rng(state) else pt.switch(active, new, old)
                               for state, new, old in zip(states, new_values, values)]
            return [minibatch_index + 1, *new_values]

        start = pt.lscalar("start")
        n_steps = self.batches_per_call
        _, *final_states, costs = backend.pytensor.scan(
            one_minibatch, outputs_info=[start, *states, None], n_steps=n_steps, name="dbm_minibatches",
            return_updates=False)
        new_values = {shared_var: final if backend.is_rng(shared_var) else final[-1]
                      for shared_var, final in zip(states, final_states)}
        new_values[self._epoch_costs] = pt.set_subtensor(self._epoch_costs[start + pt.arange(n_steps)], costs)
        self._train_fn = backend.compile_function([start, stop], [], updates=new_values, mode=self.mode,
                                                  name="dbm_train_fn")

    # ------------------------------------------------------------------- fit
    def fit(self, data: ArrayLike, *, epochs: int = 1,
            callbacks: Callable[..., Any] | Sequence[Callable[..., Any]] = (), verbose: bool | int = True,
            checkpoint: str | os.PathLike[str] | None = None, checkpoint_every: int | None = None,
            resume: str | os.PathLike[str] | None = None) -> list[dict]:
        """Train on ``data``; returns ``history``.

        As :meth:`rbm.Trainer.fit`: the last n % batch_size rows are not
        used; without ``resume`` ``epochs`` more epochs run; with
        ``resume=PATH`` the state is restored first and ``epochs`` counts the
        whole run, which then ends with exactly the parameters of an
        uninterrupted run. ``checkpoint=PATH`` writes the full state after
        every epoch, or every ``checkpoint_every`` updates.

        Parameters
        ----------
        data : array (n, n_visible)
            Training rows in [0, 1].
        epochs : int >= 1, default 1
        callbacks : callable or sequence of callables, default ()
            ``callback(trainer, record)`` after each epoch; True stops training.
        verbose : bool or int >= 0, default True
        checkpoint : str or path-like, optional
        checkpoint_every : int >= 1, optional
        resume : str or path-like, optional

        Returns
        -------
        list of dict

        Raises
        ------
        TrainingDiverged
            When an update made a parameter or the cost non-finite; the model
            keeps its last finite parameters.
        ValueError, TypeError, FileNotFoundError
            For bad arguments or a checkpoint that does not match, before anything changes.
        """
        model = self.model
        verbose = check_verbose(verbose)
        data = model.check_data(data, "data")
        epochs = check_positive_int(epochs, "epochs")
        callbacks = [callbacks] if callable(callbacks) else list(callbacks)
        for callback in callbacks:
            if not callable(callback):
                raise TypeError(f"callbacks must be callables, got {type(callback).__name__}")
        if checkpoint_every is not None:
            checkpoint_every = check_positive_int(checkpoint_every, "checkpoint_every")
            if checkpoint is None:
                raise ValueError("checkpoint_every needs checkpoint=PATH")
        checkpoint = _check_npz_path(checkpoint, "checkpoint", must_exist=False)
        resume = _check_npz_path(resume, "resume", must_exist=True)
        n_batches = data.shape[0] // self.batch_size
        if n_batches == 0:
            raise ValueError(f"batch_size={self.batch_size} is larger than the {data.shape[0]} rows of data")
        used = data[: n_batches * self.batch_size]
        batches = backend.as_floatx(used, model.dtype).reshape(n_batches, self.batch_size, model.n_visible)
        fingerprint = data_fingerprint(batches) if (checkpoint or resume) else None
        if self._train_fn is None:
            self._build_train_fn()  # before a resume: under JAX the generator state lives in the function
        if resume is not None:
            self._position = self._load_checkpoint(resume, fingerprint)  # checks everything first
            epochs_to_run = epochs - self._position["epoch"]
        else:
            epochs_to_run = epochs
            if self.centering and not self._offsets_set:
                self._set_offsets(used)
        first_epoch = self._position["epoch"]
        for epoch in range(first_epoch, first_epoch + max(epochs_to_run, 0)):
            self._schedule_values(epoch)  # a schedule that leaves the allowed range fails before training
        backend.set_shared_data(self._batches, batches, self.mode)
        backend.set_shared_data(self._epoch_costs, np.zeros(n_batches + self.batches_per_call - 1), self.mode)
        backend.set_shared_data(self._healthy, np.int8(1), self.mode)
        for param in model.params:
            backend.set_shared_data(param, param.get_value(borrow=True), self.mode)
        try:
            for _ in range(max(epochs_to_run, 0)):
                record = self._run_epoch(n_batches, verbose, checkpoint, checkpoint_every, fingerprint)
                self.history.append(record)
                self._position = _epoch_start(len(self.history))
                if checkpoint is not None and checkpoint_every is None:
                    self._save_checkpoint(checkpoint, self._position, fingerprint)
                if verbose:
                    tqdm.write(f"epoch {record['epoch']}: reconstruction {record['cost']:.2f}, "
                               f"{record['time']:.1f} s")
                if any(callback(self, record) for callback in callbacks):
                    break
        finally:
            self._hand_back_rng()
        return self.history

    def _set_offsets(self, data):
        """Start the offsets at the data means of every layer: v, and the mean-field means (<= 10,000 rows)."""
        means = self.model.mean_field_means(data[:10_000], max_steps=self.mean_field_steps, tol=0.0)
        for offset, layer_means in zip(self.offsets, means):
            backend.set_shared_data(offset, layer_means.mean(axis=0).astype(self.model.dtype), self.mode)
        self._offsets_set = True

    def _hand_back_rng(self):
        """Under JAX, re-seed ``model.rng`` from the training function's key and hand parameters back as numpy."""
        if backend.uses_jax(self.mode):
            key = backend.jax_rng_key(self._train_fn, self.model.rng)
            self.model.rng.set_value(np.random.default_rng(key.tolist()))
            for param in self.model.params:
                param.set_value(np.array(param.get_value(borrow=True)), borrow=True)

    def _raise_if_diverged(self, epoch):
        if int(self._healthy.get_value()) != 1:
            raise TrainingDiverged(
                f"training diverged at epoch {epoch}, minibatch {int(self._first_bad_step.get_value())}: "
                "a parameter or the monitoring cost became NaN or infinite; the model keeps its last "
                "finite parameters (try a smaller learning_rate)")

    def _run_epoch(self, n_batches, verbose, checkpoint, checkpoint_every, fingerprint):
        """Run the epoch in progress from its current minibatch; returns its history record."""
        position = self._position
        epoch, first = position["epoch"], position["batch"]
        learning_rate, momentum = self._schedule_values(epoch)
        backend.set_shared_data(self._learning_rate_now, np.float64(learning_rate), self.mode)
        backend.set_shared_data(self._momentum_now, np.float64(momentum), self.mode)
        done_before = list(position["epoch_costs"])
        start = time.perf_counter() - position["epoch_seconds"]
        with tqdm(desc=f"epoch {epoch}", unit="batch", disable=None if verbose else True, leave=False,
                  initial=first, total=n_batches) as progress:
            done = looked = first
            while done < n_batches:
                stop = min(n_batches, (done // self.batches_per_call + 1) * self.batches_per_call)
                if checkpoint_every is not None:
                    run_done = epoch * n_batches + done
                    stop = min(stop, (run_done // checkpoint_every + 1) * checkpoint_every - epoch * n_batches)
                self._train_fn(done, stop)
                progress.update(stop - done)
                done = stop
                checkpoint_due = checkpoint_every is not None and (epoch * n_batches + done) % checkpoint_every == 0
                if checkpoint_due or done - looked >= _DIVERGENCE_CHECK_EVERY or done == n_batches:
                    looked = done
                    self._raise_if_diverged(epoch)
                    position["batch"] = done
                    position["epoch_costs"] = self._costs_so_far(done_before, first, done)
                    position["epoch_seconds"] = time.perf_counter() - start
                if checkpoint_due:
                    self._save_checkpoint(checkpoint, position, fingerprint)
        costs = self._costs_so_far(done_before, first, n_batches)
        return {"epoch": epoch, "cost": float(np.mean(costs)), "time": time.perf_counter() - start,
                "learning_rate": learning_rate, "momentum": momentum}

    def _costs_so_far(self, done_before, first, done):
        """Costs of the epoch's minibatches 0..done-1 (those before ``first`` came from a checkpoint)."""
        costs = np.asarray(self._epoch_costs.get_value(borrow=True))
        return list(done_before[:first]) + [float(c) for c in costs[first:done]]

    # ----------------------------------------------------------- checkpoints
    def _settings(self):
        model = self.model
        return {"model": model.FILE_KIND, "layer_sizes": list(model.layer_sizes), "dtype": model.dtype,
                "learning_rate": schedules.describe(self.learning_rate), "batch_size": self.batch_size,
                "n_chains": self.n_chains, "mean_field_steps": self.mean_field_steps,
                "gibbs_steps": self.gibbs_steps, "momentum": schedules.describe(self.momentum),
                "weight_decay": self.weight_decay, "centering": self.centering_rate if self.centering else None,
                "mode": str(self.mode), "batches_per_call": self.batches_per_call}

    def _state_variables(self):
        """name -> shared variable of every array the step reads and updates."""
        variables = {p.name: p for p in self.model.params}
        variables.update({v.name: v for v in self.velocities + self.chains + (self.offsets or [])})
        return variables

    def _save_checkpoint(self, path, position, fingerprint):
        """Write the full training state at ``position`` to ``path`` atomically."""
        rng_jax_key, rng_state = np.zeros(0, np.uint32), ""
        if backend.uses_jax(self.mode):
            rng_jax_key = backend.jax_rng_key(self._train_fn, self.model.rng)
        else:
            rng_state = json.dumps(self.model.rng.get_value(borrow=True).bit_generator.state)
        arrays = {f"state_{name}": np.asarray(variable.get_value(borrow=True))
                  for name, variable in self._state_variables().items()}
        atomic_savez(path, dict(
            kind=np.str_(_CHECKPOINT_KIND), format_version=np.int64(_CHECKPOINT_VERSION),
            settings=np.str_(json.dumps(self._settings(), sort_keys=True)),
            history=np.str_(json.dumps(self.history)), data_sha256=np.str_(fingerprint),
            epoch=np.int64(position["epoch"]), batch=np.int64(position["batch"]),
            epoch_costs=np.asarray(position["epoch_costs"], dtype=np.float64),
            epoch_seconds=np.float64(position["epoch_seconds"]),
            rng_jax_key=rng_jax_key, rng_state=np.str_(rng_state), **arrays))

    def _load_checkpoint(self, path, fingerprint):
        """Check the checkpoint at ``path`` against this trainer, then restore it; returns the position.

        Raises ``ValueError`` naming the mismatch, and then nothing has changed.
        """
        arrays = load_npz(path, _CHECKPOINT_KIND, versions=(_CHECKPOINT_VERSION,))
        try:
            settings = json.loads(str(arrays["settings"]))
            history = json.loads(str(arrays["history"]))
            position = {"epoch": int(arrays["epoch"]), "batch": int(arrays["batch"]),
                        "epoch_costs": [float(c) for c in arrays["epoch_costs"]],
                        "epoch_seconds": float(arrays["epoch_seconds"])}
            rng_state, rng_jax_key = str(arrays["rng_state"]), np.asarray(arrays["rng_jax_key"])
            fingerprint_saved = str(arrays["data_sha256"])
        except (KeyError, ValueError, TypeError) as error:
            raise ValueError(f"{path!r} is not a complete DBM checkpoint: {error}") from None
        expected = self._settings()
        different = {key: (settings.get(key), value) for key, value in expected.items() if settings.get(key) != value}
        if different:
            described = ", ".join(f"{key}: checkpoint {saved!r}, trainer {now!r}"
                                  for key, (saved, now) in different.items())
            raise ValueError(f"{path!r} was written by a trainer with other settings ({described})")
        if fingerprint_saved != fingerprint:
            raise ValueError(f"{path!r} was written while training on other data: resume needs the same "
                             "rows in the same order")
        restored = {}
        for name, variable in self._state_variables().items():
            key = f"state_{name}"
            if key not in arrays:
                raise ValueError(f"{path!r} lacks the training state {name!r}")
            value, current = arrays[key], variable.get_value(borrow=True)
            if value.shape != current.shape or value.dtype != np.dtype(variable.dtype):
                raise ValueError(f"{path!r}: {name} is {value.dtype}{value.shape}, expected "
                                 f"{variable.dtype}{current.shape}")
            if not np.all(np.isfinite(value)):
                raise ValueError(f"{path!r}: {name} holds NaN or infinite values")
            restored[variable] = value
        if position["batch"] < 0 or position["epoch"] < 0:
            raise ValueError(f"{path!r} holds an impossible position")
        uses_jax = backend.uses_jax(self.mode)
        if uses_jax:
            if rng_jax_key.dtype != np.uint32 or rng_jax_key.shape != (2,):
                raise ValueError(f"{path!r} holds no JAX random key (uint32, 2 values) for a JAX mode")
        else:
            try:
                state = json.loads(rng_state)
                generator = np.random.Generator(getattr(np.random, state["bit_generator"])())
                generator.bit_generator.state = state
            except (AttributeError, KeyError, TypeError, ValueError) as error:
                raise ValueError(f"{path!r} holds an unreadable random generator state: {error}") from None
        # every check passed: now change state
        for variable, value in restored.items():
            backend.set_shared_data(variable, value, self.mode)
        if uses_jax:
            backend.set_jax_rng_key(self._train_fn, self.model.rng, rng_jax_key)
        else:
            self.model.rng.set_value(generator)
        self.history[:] = history
        self._offsets_set = True
        return position
