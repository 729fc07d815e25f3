"""The one training engine: epochs, schedules, callbacks, progress, the divergence guard and checkpoints.

Every trainer of a model that learns by minibatch updates (:class:`rbm.Trainer`
for the RBMs, :class:`rbm.training.DBMTrainer` for the DBM, and the two stages
of :class:`rbm.DBNTrainer`: each layer's CD-k, then supervised fine-tuning) is a
:class:`TrainingEngine` that states only its step: ``_minibatch_updates``
builds the symbolic update of one minibatch (negative phase, gradient
transforms, then the optimizer of :mod:`rbm.training.optimizers`), and the
engine does the rest once for all of them:

- the dataset lives in a shared variable, reshaped to (n_batches,
  batch_size, width), and the compiled function takes only the indices of its
  minibatches (the tutorial's ``givens`` idea), running ``batches_per_call``
  of them in a ``scan`` (a GPU needs several per call), and a shorter rest
  one by one, so that the updates do not depend on ``batches_per_call``;
- the step is compiled once per structure in the process: a later trainer of
  the same structure runs the same compiled code on its own shared variables
  (:class:`rbm.backend.FunctionCache`);
- the learning rate and each optimizer hyperparameter may be schedules of the
  epoch, read from shared scalars, so a schedule recompiles nothing;
- the divergence guard is part of the graph: an update applies only while
  every update so far left the cost and the parameters finite;
- ``fit`` runs epochs, calls callbacks, shows progress, and writes and resumes
  checkpoints (:mod:`rbm.training.checkpoint`) bit for bit.
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
from ..validation import check_positive_int, check_verbose
from . import schedules
from .averaging import ParameterAverage
from .checkpoint import data_fingerprint, load_checkpoint, save_checkpoint

__all__ = ["TrainingDiverged", "TrainingEngine"]

#: minibatches between two looks at the divergence flag (each look waits for the device)
_DIVERGENCE_CHECK_EVERY = 100
#: default minibatches per compiled call on a GPU, where a call costs ~0.8 ms of overhead
_GPU_BATCHES_PER_CALL = 50
#: the trainers' functions compiled in this process, by structure, for every later trainer of that structure
COMPILED_STEPS = backend.FunctionCache()


def epoch_start(epoch):
    """The position at the start of ``epoch``: no minibatch done yet."""
    return {"epoch": epoch, "batch": 0, "epoch_costs": [], "epoch_seconds": 0.0}


def check_npz_path(path, name, must_exist):
    """None, or ``path`` as a string ending in .npz (existing, or in an existing folder)."""
    if path is None:
        return None
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path, got {type(path).__name__}")
    path = os.fspath(path)
    if not path.endswith(".npz"):
        raise ValueError(f"{name} must be an .npz path, got {path!r}")
    if must_exist and not os.path.isfile(path):
        raise FileNotFoundError(f"{name} file {path!r} does not exist")
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise FileNotFoundError(f"the folder of {name} {path!r} does not exist")
    return path


def default_batches_per_call(batches_per_call, mode):
    """``batches_per_call`` checked, or the fastest measured default: 50 on a GPU, 1 on the CPU.

    (On the CPU several per call save ~0.2 ms a call, which matters for small
    models only, and with Numba cost a longer first compile: see the
    estimators' ``batches_per_call``.)
    """
    if batches_per_call is None:
        return _GPU_BATCHES_PER_CALL if backend.runs_on_gpu(mode) else 1
    return check_positive_int(batches_per_call, "batches_per_call")


class TrainingDiverged(FloatingPointError):
    """A parameter or the monitoring cost became NaN or infinite; the model kept its last finite state.

    Raised by :meth:`rbm.Trainer.fit`, :meth:`rbm.training.DBMTrainer.fit` and
    :meth:`rbm.DBNTrainer.fit`; the message names the epoch and minibatch.
    Try a smaller learning rate.
    """


class TrainingEngine:
    """The runner every minibatch trainer shares; subclasses build the step.

    A subclass calls ``_init_schedules`` while it checks its arguments
    (nothing changes yet), then ``_init_engine_state`` once every check
    passed, and implements ``_minibatch_updates``,
    ``_checkpoint_settings`` and ``_state_variables``.
    """

    #: what the compiled function and its scan are called (in profiles and the JAX cache)
    _function_name = "train_fn"
    #: the checkpoint kind this trainer writes, and the format versions it reads
    _checkpoint_kind = "rbm.Checkpoint"
    _checkpoint_version = 2
    _checkpoint_readable = (1, 2)
    #: progress bars: None follows ``verbose``; True or False overrides it
    _progress_bars = None

    # ------------------------------------------------------------ set-up
    def _init_schedules(self, learning_rate, optimizer):
        """Keep the learning rate and the optimizer, checking every scheduled value of epoch 0."""
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        # how many last epochs' parameters a fit averages into the model (rbm.training.averaging); None: the
        # last iterate. Trainers that offer averaging set it by _init_averaging.
        self.average_last_epochs = None
        self._schedules = {"learning_rate": schedules.as_schedule(learning_rate, "learning_rate"),
                           **{name: schedules.as_schedule(value, name)
                              for name, value in optimizer.hyperparameters.items()}}
        self._schedule_values(0)  # a number out of range fails now

    def _init_averaging(self, average_last_epochs):
        """Keep ``average_last_epochs`` (None or an int >= 1), checked."""
        if average_last_epochs is not None:
            average_last_epochs = check_positive_int(average_last_epochs, "average_last_epochs")
        self.average_last_epochs = average_last_epochs

    def _init_engine_state(self, model, width):
        """The engine's shared state, once every argument is checked: data, costs, guard, scheduled values."""
        self.model = model
        self.history = []
        self._position = epoch_start(0)
        self._batches = backend.shared(np.zeros((1, self.batch_size, width)), "batches", model.dtype)
        self._epoch_costs = backend.pytensor.shared(np.zeros(1), name="epoch_costs")
        self._healthy = backend.pytensor.shared(np.int8(1), name="healthy")
        self._first_bad_step = backend.pytensor.shared(np.int64(-1), name="first_bad_step")
        # The step reads these each call (float64, cast in the graph); fit sets them from the schedules.
        self._now = {name: backend.pytensor.shared(np.float64(value), name=f"{name}_now")
                     for name, value in self._schedule_values(0).items()}
        self._average = None if self.average_last_epochs is None else ParameterAverage(self.average_last_epochs)
        #: the optimizer's state (momentum's velocities, Adam's moments), saved in checkpoints
        self.optimizer_state = self.optimizer.state(model.params, model.dtype)
        self._train_fn = self._single_step_fn = None

    @property
    def velocities(self) -> list:
        """The momentum buffers, one per parameter (empty without momentum or with another optimizer)."""
        return [v for v in self.optimizer_state if v.name.startswith("velocity_")]

    def _schedule_values(self, epoch) -> dict[str, float]:
        """name -> value of the learning rate and every optimizer hyperparameter for ``epoch``, checked."""
        values = {"learning_rate": schedules.value_at(self._schedules["learning_rate"], epoch, "learning_rate",
                                                      low=0.0, low_inclusive=False)}
        for name in self.optimizer.hyperparameters:
            low, high, high_inclusive = self.optimizer.ranges[name]
            values[name] = schedules.value_at(self._schedules[name], epoch, name, low=low, high=high,
                                              high_inclusive=high_inclusive)
        return values

    # --------------------------------------------------------------- the step
    def _scheduled(self, name, dtype):
        """A setting as the graph reads it: from its shared scalar, which fit sets each epoch, also for a number.

        Why not a constant: the step is then the same for every learning rate
        and momentum, so trainers differing only there (a grid search's
        candidates) share one compiled step. Measured on the digits job in
        both CPU modes (plain, momentum 0.5, CD with weight decay): the same
        weights to the last bit as with constants, and no slower.
        """
        return pt.cast(self._now[name], dtype)

    def _optimizer_updates(self, params, gradients):
        """param / optimizer state -> new value after the optimizer's step (symbolic)."""
        dtype = self.model.dtype
        hyper = {name: self._scheduled(name, dtype) for name in self.optimizer.hyperparameters}
        return self.optimizer.updates(params, gradients, self._scheduled("learning_rate", dtype), hyper,
                                      self.optimizer_state)

    def _guarded(self, updates, cost, index, guarded):
        """``updates`` with the divergence guard: the variables of ``guarded`` change only while healthy.

        Healthy means every update so far, this one included, left the cost
        and the model's parameters finite; ``_first_bad_step`` remembers the
        first minibatch that did not. The model so keeps its last finite
        state without copying parameters.
        """
        finite = pt.all(pt.isfinite(cost))
        for param in self.model.params:
            finite = pt.and_(finite, pt.all(pt.isfinite(updates[param])))
        healthy = pt.and_(pt.eq(self._healthy, 1), finite)
        for shared_var in guarded:
            updates[shared_var] = pt.switch(healthy, updates[shared_var], shared_var)
        updates[self._first_bad_step] = pt.switch(pt.and_(pt.eq(self._healthy, 1), pt.invert(finite)),
                                                  index, self._first_bad_step)
        updates[self._healthy] = pt.cast(healthy, "int8")
        return updates

    def _minibatch_updates(self, index, data):
        """(shared variable -> new value after one update on the minibatch ``data``, float64 cost); symbolic."""
        raise NotImplementedError

    def _data_variable(self):
        """The symbolic minibatch the step reads (replaced by the stored minibatches)."""
        return pt.matrix("minibatch", dtype=self.model.dtype)

    def _build_train_fn(self):
        """Compile (or take from :data:`COMPILED_STEPS`) the step of ``batches_per_call`` minibatches per call."""
        self._train_fn = self._step_function(self.batches_per_call)
        self._single_step_fn = self._train_fn if self.batches_per_call == 1 else None

    def _structure_key(self, what):
        """Everything a compiled function of the trainer bakes in, or None when that cannot be told.

        ``what`` names the function: the number of minibatches of a step, or a name.

        The checkpoint settings name every option the graph holds as a
        constant (sizes, dtype, mode, method, k, weight decay, centering,
        tempering); the learning rate and the optimizer's hyperparameters are
        read from shared scalars, so only the optimizer's kind and state
        count; the classes name the graph's code. A class of the user's
        own (a trainer, model, layer, optimizer or negative phase defined
        outside rbm) or a ``Mode`` object may bake in anything: its trainers
        compile their own step.
        """
        structure = backend.structure_of(self, self.model, self.optimizer, getattr(self, "negative_phase", None),
                                         getattr(self.model, "visible", None), getattr(self.model, "hidden", None))
        if structure is None or not isinstance(self.mode, str):
            return None
        settings = self._checkpoint_settings()
        for name in self._settings_without_structure():
            settings.pop(name, None)
        state = sorted(variable.name for variable in self.optimizer_state)
        settings = json.dumps([settings, state], sort_keys=True, default=repr)
        # the trainer by its class alone: its plain attributes hold the learning rate and momentum too
        return (structure[0][0], *structure[1:], self.mode.lower(), what, settings)

    def _settings_without_structure(self) -> tuple[str, ...]:
        """Checkpoint settings that no compiled function holds: left out of the structure key.

        The learning rate and the optimizer's hyperparameters are read from
        shared scalars (see :meth:`_scheduled`); the optimizer's state counts
        (see :meth:`_structure_key`).
        """
        return ("learning_rate", "momentum", "optimizer")

    def _step_variables(self) -> dict[str, Any]:
        """Name -> every shared variable the compiled step reads or updates (how a reused step is bound)."""
        variables = {f"state {name}": variable for name, variable in self._state_variables().items()}
        variables.update({"batches": self._batches, "epoch costs": self._epoch_costs, "healthy": self._healthy,
                          "first bad step": self._first_bad_step,
                          **{f"{name} now": variable for name, variable in self._now.items()}})
        if self._generator() is not None:
            variables["generator"] = self._generator()
        return variables

    def _generator(self):
        """The shared random generator the step draws from (the model's), or None for a step that draws nothing."""
        return self.model.rng

    def _step_function(self, n_steps):
        """The compiled step of ``n_steps`` minibatches per call, bound to this trainer's shared variables."""
        return self._shared_function(n_steps, lambda: self._compile_step(n_steps))

    def _shared_function(self, what, compile_function):
        """The function ``compile_function()`` compiles (``what`` names it), compiled once per structure."""
        key = self._structure_key(what)
        if key is None:
            return compile_function()
        return COMPILED_STEPS.get(key, self._step_variables(), compile_function)

    def _compile_step(self, n_steps):
        """Compile ``(start, stop) -> nothing``: updates on minibatches start .. stop - 1, in order.

        The per-minibatch graph of :meth:`_minibatch_updates` runs in a
        ``scan`` of ``n_steps`` steps whose state is every shared
        variable it updates; steps from ``stop`` on change no state (they
        still draw their random numbers, which is why :meth:`_run_minibatches`
        runs a shorter stretch with the one-step function) and write their
        cost past the epoch's end in ``_epoch_costs``. Several minibatches per call
        matter on a GPU, where a call costs ~0.8 ms of Python and dispatch; a
        one-step scan is inlined by PyTensor into the plain training step.
        The function returns no output so that a call need not wait for the
        device (a JAX call that returns values blocks until the GPU is done).
        """
        index = pt.lscalar("index")
        data = self._data_variable()
        updates, cost = self._minibatch_updates(index, data)
        states = sorted(updates, key=backend.is_rng)  # scan hands generators to the step after the other states
        start, stop = pt.lscalar("start"), pt.lscalar("stop")
        last_batch = self._batches.shape[0] - 1
        fixed_length = self._fixed_length(n_steps)

        def one_minibatch(minibatch_index, *values):
            replace = dict(zip(states, values))
            replace[index] = minibatch_index
            replace[data] = self._batches[pt.minimum(minibatch_index, last_batch)]
            new_values = clone_replace([updates[s] for s in states] + [cost], replace=replace)
            if fixed_length:
                active = pt.lt(minibatch_index, stop)
                new_values[:-1] = [new if backend.is_rng(state) else pt.switch(active, new, old)
                                   for state, new, old in zip(states, new_values, values)]
            return [minibatch_index + 1, *new_values]

        if not fixed_length:
            n_steps = stop - start
        _, *final_states, costs = backend.pytensor.scan(
            one_minibatch, outputs_info=[start, *states, None], n_steps=n_steps,
            name=self._function_name.replace("train_fn", "minibatches"), return_updates=False)
        new_values = {}
        for shared_var, final in zip(states, final_states):
            # random generators come back as their final state, other states as a sequence
            new_values[shared_var] = final if backend.is_rng(shared_var) else final[-1]
        # Indices as a vector, not a slice: JAX needs slice bounds known when it compiles.
        new_values[self._epoch_costs] = pt.set_subtensor(self._epoch_costs[start + pt.arange(n_steps)], costs)
        return backend.compile_function([start, stop], [], updates=new_values, mode=self.mode,
                                        name=self._function_name, nested_scan=not fixed_length or n_steps > 1)

    def _fixed_length(self, n_steps):
        """Whether the compiled step of up to ``n_steps`` minibatches runs exactly ``n_steps`` per call.

        JAX compiles a loop of a length known when it compiles, so there a
        call always runs ``n_steps`` steps (those past ``stop`` change no
        state). The other backends (Numba, C, Python) loop ``stop - start``
        times: one function then serves every stretch, and a call's steps are
        exactly the updates asked for. One step is always the plain step (a
        one-step scan is inlined).
        """
        return n_steps == 1 or backend.uses_jax(self.mode)

    def _run_minibatches(self, start, stop):
        """Update on minibatches start .. stop - 1: one call of the step, or a shorter stretch one by one.

        (One by one only for a step of fixed length, see :meth:`_fixed_length`.)
        Why one by one: a call of the ``batches_per_call``-step function runs
        every step's random draws, also of the steps past ``stop`` (which
        change no state), so a shorter call would leave the generator
        elsewhere than single updates do, and later draws would depend on
        ``batches_per_call``. The one-minibatch function shares the
        generator (under JAX, where each function draws from its own copy,
        its key is handed over and back).
        """
        if stop - start == self.batches_per_call or not self._fixed_length(self.batches_per_call):
            self._train_fn(start, stop)
            return
        if self._single_step_fn is None:
            self._single_step_fn = self._step_function(1)
        rng = self._generator()
        jax = backend.uses_jax(self.mode) and rng is not None
        if jax:
            backend.set_jax_rng_key(self._single_step_fn, rng, backend.jax_rng_key(self._train_fn, rng))
        try:
            for index in range(start, stop):
                self._single_step_fn(index, index + 1)
        finally:  # also when interrupted: the long step's key must include the draws made
            if jax:
                backend.set_jax_rng_key(self._train_fn, rng, backend.jax_rng_key(self._single_step_fn, rng))

    # -------------------------------------------------------------- hooks
    def _check_valid(self, valid):
        """``valid`` checked (None when not given); trainers without a validation measure refuse it."""
        if valid is not None:
            raise TypeError(f"{type(self).__name__}.fit takes no validation rows")
        return None

    def _validation_record(self, record, valid, used):
        """Add what the validation rows measure to the epoch's ``record``."""

    def _epoch_begin(self, first_batch):
        """Called before an epoch runs from minibatch ``first_batch``."""

    def _epoch_record(self, record):
        """Add the trainer's own per-epoch figures to ``record``."""

    def _set_offsets(self, data):
        """Start centering offsets from the training rows (trainers with centering)."""

    def _checkpoint_settings(self) -> dict[str, Any]:
        """The settings a checkpoint records and a resume must match."""
        raise NotImplementedError

    def _state_variables(self) -> dict[str, Any]:
        """name -> shared variable of every array the step reads and updates."""
        raise NotImplementedError

    def _saved_settings(self) -> dict[str, Any]:
        """:meth:`_checkpoint_settings` and the engine's own: parameter averaging."""
        return {**self._checkpoint_settings(), "average_last_epochs": self.average_last_epochs}

    def _checkpoint_arrays(self) -> dict[str, np.ndarray]:
        """The engine's state outside the step: the parameter average's sums, when averaging."""
        if self._average is None:
            return {}
        return self._average.arrays([param.get_value(borrow=True).shape for param in self.model.params])

    def _check_checkpoint_arrays(self, arrays, position, path):
        """Refuse :meth:`_checkpoint_arrays` this run cannot continue from ``position`` (ValueError naming ``path``)."""
        if self._average is not None:
            shapes = [param.get_value(borrow=True).shape for param in self.model.params]
            self._average.check(arrays, shapes, position["epoch"], path)

    def _restore_checkpoint_arrays(self, arrays):
        """Take the state :meth:`_check_checkpoint_arrays` accepted."""
        if self._average is not None:
            self._average.restore(arrays, len(self.model.params))

    def _checkpoint_scalars(self) -> dict[str, int]:
        """Integer state outside the step's arrays (e.g. the pseudo-likelihood's bit index)."""
        return {}

    def _checkpoint_extra(self) -> dict[str, Any]:
        """Other state outside the step's arrays, as JSON values (e.g. a DBN's early stopping); {} for none."""
        return {}

    def _check_checkpoint_extra(self, extra, path):
        """Refuse an impossible :meth:`_checkpoint_extra` (ValueError naming ``path``)."""

    def _restore_checkpoint_extra(self, extra):
        """Set the values :meth:`_check_checkpoint_extra` accepted."""

    def _check_fit_data(self, data):
        """The training rows checked, as the array the minibatches are cut from."""
        return self.model.check_data(data, "data")

    def _fingerprint(self, batches):
        """What a checkpoint records of the training data (a resume must find the same)."""
        return data_fingerprint(batches)

    def _finished(self, record) -> bool:
        """Whether training stops after the epoch of ``record`` (e.g. once early stopping's patience is spent)."""
        return False

    def _run_complete(self) -> bool:
        """Whether the run restored from a checkpoint had ended (:meth:`_finished`), so a resume trains no more."""
        return bool(self.history) and self._finished(self.history[-1])

    def _epoch_name(self, epoch) -> str:
        """How messages name ``epoch``."""
        return f"epoch {epoch}"

    def _check_checkpoint_scalars(self, scalars, path):
        """Refuse impossible values of :meth:`_checkpoint_scalars` (ValueError naming ``path``)."""

    def _restore_checkpoint_scalars(self, scalars):
        """Set the values :meth:`_check_checkpoint_scalars` accepted."""

    @staticmethod
    def format_record(record: dict) -> str:
        """One line for an epoch's record, as ``fit`` prints it.

        Parameters
        ----------
        record : dict
            A record of ``history``, with at least ``epoch``, ``cost`` and
            ``time`` (seconds).

        Returns
        -------
        str
            ``"epoch <epoch>: cost <cost>, <time> s"``.
        """
        return f"epoch {record['epoch']}: cost {record['cost']:.2f}, {record['time']:.1f} s"

    # ------------------------------------------------------------------- fit
    def _fit(self, data: ArrayLike, epochs: int = 1, valid: ArrayLike | None = None,
             callbacks: Callable[..., Any] | Sequence[Callable[..., Any]] = (), verbose: bool | int = True,
             checkpoint: str | os.PathLike[str] | None = None, checkpoint_every: int | None = None,
             resume: str | os.PathLike[str] | None = None) -> list[dict]:
        """The loop behind every trainer's ``fit`` (see :meth:`rbm.Trainer.fit`)."""
        model = self.model
        verbose = check_verbose(verbose)
        data = self._check_fit_data(data)
        epochs = check_positive_int(epochs, "epochs")
        valid = self._check_valid(valid)
        callbacks = [callbacks] if callable(callbacks) else list(callbacks)
        for callback in callbacks:
            if not callable(callback):
                raise TypeError(f"callbacks must be callables, got {type(callback).__name__}")
        if checkpoint_every is not None:
            checkpoint_every = check_positive_int(checkpoint_every, "checkpoint_every")
            if checkpoint is None:
                raise ValueError("checkpoint_every needs checkpoint=PATH")
        checkpoint = check_npz_path(checkpoint, "checkpoint", must_exist=False)
        resume = check_npz_path(resume, "resume", must_exist=True)
        n_batches = data.shape[0] // self.batch_size
        if n_batches == 0:
            raise ValueError(f"batch_size={self.batch_size} is larger than the {data.shape[0]} rows of data")
        used = data[: n_batches * self.batch_size]
        batches = backend.as_floatx(used, model.dtype).reshape(n_batches, self.batch_size, data.shape[1])
        fingerprint = self._fingerprint(batches) if (checkpoint or resume) else None
        if self._train_fn is None:
            self._build_train_fn()  # before a resume: under JAX the generator state lives in the function
        if self._average is not None and resume is not None:
            self._average.start(epochs)  # the run ends at epoch epochs - 1; the checkpoint says where it began
        elif self._average is not None:
            self._average.start(len(self.history) + epochs, len(self.history))
        if resume is not None:
            self._position = load_checkpoint(self, resume, fingerprint)  # checks everything first
            self._offsets_set = True
            # a run that had ended (e.g. early stopping's patience spent) stays ended
            epochs_to_run = 0 if self._run_complete() else epochs - self._position["epoch"]
        else:
            epochs_to_run = epochs
            if getattr(self, "centering", False) and not self._offsets_set:
                self._set_offsets(used)
        first_epoch = self._position["epoch"]
        for epoch in range(first_epoch, first_epoch + max(epochs_to_run, 0)):
            self._schedule_values(epoch)  # a schedule that leaves the allowed range fails before training
        backend.set_shared_data(self._batches, batches, self.mode)
        # room for the costs of a last call's steps past the epoch's end
        backend.set_shared_data(self._epoch_costs, np.zeros(n_batches + self.batches_per_call - 1), self.mode)
        # on the device like the step's own output: a numpy value here made JAX trace and compile the
        # step again on every later fit (measured: 3.6 s instead of 0.14 s for a second fit of 2,000 rows)
        backend.set_shared_data(self._healthy, np.int8(1), self.mode)
        for param in model.params:  # back on the device (a fit hands them back as numpy): no new trace
            backend.set_shared_data(param, param.get_value(borrow=True), self.mode)
        try:
            for _ in range(max(epochs_to_run, 0)):
                record = self._run_epoch(n_batches, verbose, checkpoint, checkpoint_every, fingerprint)
                if valid is not None:
                    self._validation_record(record, valid, used)
                self.history.append(record)
                self._position = epoch_start(len(self.history))
                if self._average is not None:
                    self._average.add(record["epoch"], [param.get_value() for param in model.params])
                if checkpoint is not None and checkpoint_every is None:
                    save_checkpoint(self, checkpoint, self._position, fingerprint)
                if verbose:
                    tqdm.write(self.format_record(record))
                stop = any(callback(self, record) for callback in callbacks)
                if stop or self._finished(record):
                    break
        finally:
            self._hand_back_rng()
        self._set_average()
        return self.history

    def _set_average(self):
        """Give the model the mean of its parameters over the epochs averaged (when averaging and any were)."""
        mean = None if self._average is None else self._average.mean()
        if mean is not None:
            for param, value in zip(self.model.params, mean):
                param.set_value(value.astype(param.dtype))

    def _hand_back_rng(self):
        """Under JAX, re-seed ``model.rng`` from the key the training function advanced.

        PyTensor's JAX functions draw from private copies of the generator, so
        ``model.rng`` would otherwise stay where it was, and a function compiled
        later (another trainer, a sampler) would repeat this one's draws.
        """
        if backend.uses_jax(self.mode):
            rng = self._generator()
            if rng is not None:
                rng.set_value(np.random.default_rng(backend.jax_rng_key(self._train_fn, rng).tolist()))
            # The updates left the parameters as JAX device arrays, which functions of other modes (a
            # user's NUMBA-mode graph, a sampler) cannot read: hand them back as numpy arrays (fit puts
            # them back on the device before training again).
            for param in self.model.params:
                param.set_value(np.array(param.get_value(borrow=True)), borrow=True)

    def _run_epoch(self, n_batches, verbose, checkpoint, checkpoint_every, fingerprint):
        """Run the epoch in progress from its current minibatch; returns its history record."""
        position = self._position
        epoch, first = position["epoch"], position["batch"]
        values = self._schedule_values(epoch)
        self._epoch_begin(first)
        for name, value in values.items():  # on the device, like the step's other inputs: JAX traces nothing new
            backend.set_shared_data(self._now[name], np.float64(value), self.mode)
        done_before = np.asarray(position["epoch_costs"], dtype=np.float64)
        start = time.perf_counter() - position["epoch_seconds"]
        # disable=None: tqdm draws the bar only when its stream (stderr) is a terminal, so a log gets just the
        # epoch's line instead of dozens of redraws
        show = bool(verbose) if self._progress_bars is None else self._progress_bars
        with tqdm(desc=self._epoch_name(epoch), unit="batch", disable=None if show else True, leave=False,
                  initial=first, total=n_batches) as progress:
            done = looked = first
            while done < n_batches:
                # A call ends at a multiple of batches_per_call, at the epoch's end or where a checkpoint is due.
                stop = min(n_batches, (done // self.batches_per_call + 1) * self.batches_per_call)
                if checkpoint_every is not None:
                    run_done = epoch * n_batches + done  # counted over the whole run, like checkpoint_every
                    stop = min(stop, (run_done // checkpoint_every + 1) * checkpoint_every - epoch * n_batches)
                self._run_minibatches(done, stop)
                progress.update(stop - done)
                done = stop
                checkpoint_due = checkpoint_every is not None and (epoch * n_batches + done) % checkpoint_every == 0
                # Reading device state waits for the device, so look only now and then.
                if checkpoint_due or done - looked >= _DIVERGENCE_CHECK_EVERY or done == n_batches:
                    looked = done
                    self._raise_if_diverged(epoch)
                    position["batch"] = done
                    position["epoch_costs"] = self._costs_so_far(done_before, first, done)
                    position["epoch_seconds"] = time.perf_counter() - start
                if checkpoint_due:
                    save_checkpoint(self, checkpoint, position, fingerprint)
        costs = self._costs_so_far(done_before, first, n_batches)
        record = {"epoch": epoch, "cost": float(np.mean(costs)), "time": time.perf_counter() - start, **values}
        self._epoch_record(record)
        return record

    def _costs_so_far(self, done_before, first, done):
        """Costs of the epoch's minibatches 0..done-1 (those before ``first`` came from a checkpoint)."""
        costs = np.asarray(self._epoch_costs.get_value(borrow=True))
        return list(done_before[:first]) + [float(c) for c in costs[first:done]]

    def _raise_if_diverged(self, epoch):
        if int(self._healthy.get_value()) != 1:
            raise TrainingDiverged(
                f"training diverged at {self._epoch_name(epoch)}, minibatch {int(self._first_bad_step.get_value())}: "
                "a parameter or the monitoring cost became NaN or infinite; the model keeps its last "
                "finite parameters (try a smaller learning_rate)")
