"""Training: compile the model's CD-k / PCD-k graph once, then loop over minibatches.

The dataset lives in a shared variable, reshaped to (n_batches, batch_size,
n_visible), and the compiled step takes only the index of its first minibatch
(the tutorial's ``givens`` idea): the data stay on the device, and JAX, whose
slices must have static sizes, can run it. One call may run several
minibatches in a ``scan`` (``batches_per_call``), which a GPU needs.
"""
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from pytensor.graph.replace import clone_replace
from tqdm.auto import tqdm

from .. import backend
from .._compat import keyword_only
from ..backend import pt
from ..validation import check_float, check_positive_int, check_seed, check_verbose
from . import schedules
from .centering import centered_gradients
from .checkpoint import data_fingerprint, load_checkpoint, save_checkpoint
from .tempering import ParallelTempering

__all__ = ["Trainer", "TrainingDiverged"]

#: minibatches between two looks at the divergence flag (each look waits for the device)
_DIVERGENCE_CHECK_EVERY = 100
#: default minibatches per compiled call on a GPU, where a call costs ~0.8 ms of overhead
_GPU_BATCHES_PER_CALL = 50


def _epoch_start(epoch):
    """The position at the start of ``epoch``: no minibatch done yet."""
    return {"epoch": epoch, "batch": 0, "epoch_costs": [], "epoch_seconds": 0.0}


def _check_npz_path(path, name, must_exist):
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


class TrainingDiverged(FloatingPointError):
    """A parameter or the monitoring cost became NaN or infinite; the model kept its last finite state.

    Raised by :meth:`Trainer.fit` and :meth:`rbm.DBNTrainer.fit`; the message
    names the epoch and minibatch. Try a smaller learning rate.
    """


class Trainer:
    """Stochastic gradient training of an :class:`rbm.RBM` with CD-k or PCD-k.

    Parameters
    ----------
    model : RBM or GaussianBernoulliRBM
        The model to train; its shared parameters change in place.
    learning_rate : float > 0 or schedule
        A number, or a callable of the epoch (see :mod:`rbm.training.schedules`:
        ``linear``, ``exponential``); the compiled step reads it from a shared
        scalar, so a schedule recompiles nothing.
    k : int >= 1
        Gibbs steps per update.
    persistent : bool
        PCD-k (chains carried across updates, pseudo-likelihood monitored) when
        True, CD-k (reconstruction cost monitored) when False.
    batch_size : int >= 1
        Rows per minibatch update.
    n_chains : int >= 1, optional
        Number of persistent chains (PCD only); the minibatch size by
        default, as in the tutorial. The literature keeps e.g. 100 chains with
        small minibatches.
    momentum : float in [0, 1) or schedule
        v <- momentum v - learning_rate (gradient + weight_decay W); p <- p + v.
    weight_decay : float >= 0
        L2 penalty on W (not on the biases).
    mode : str
        "cpu", "gpu" or a PyTensor mode name (see :func:`rbm.backend.resolve_mode`).
    seed : int, optional
        Re-seeds the model's Gibbs sampler generator, for reproducible runs.
    batches_per_call : int >= 1, optional
        Minibatch updates per call of the compiled function; each call costs a
        fixed overhead, large on a GPU. None picks the fastest measured
        (benchmarks/bench_epoch.py): 50 on a GPU, 1 on the CPU. The updates do
        not depend on it when it divides the number of minibatches; otherwise
        an epoch's shorter last call still draws the random numbers of its
        unused steps, so later epochs see other draws.
    centering : bool
        Train the centered RBM of Melchior et al. (2016) (binary RBMs): the
        gradient of the energy with offsets, -(v - mu).b - c.(h - lambda)
        - (v - mu)^T W (h - lambda), where mu and lambda (:attr:`visible_offset`,
        :attr:`hidden_offset`) follow the data means of v and p(h | v). The
        model keeps the equivalent plain parameters (see
        :mod:`rbm.training.centering`), so it is saved, sampled and evaluated
        as any RBM. Offsets start at the first ``fit``'s data means.
    centering_rate : float in (0, 1]
        Each minibatch moves the offsets this fraction of the way to its means
        (Melchior et al.'s sliding average; 0.01 in their experiments).
    tempering : int >= 2 or array of inverse temperatures, optional
        Parallel tempering for the negative phase (persistent only, binary
        RBMs; see :mod:`rbm.training.tempering`): each of the ``n_chains``
        chains becomes a ladder of replicas at these inverse temperatures
        (an int n: n evenly spaced from 0 to 1), each update runs k Gibbs
        steps in every replica and one round of neighbour swaps. Each history
        record then holds ``swap_rates``, per neighbour pair, for the epoch.
        Costs n_temperatures times the chains' work of PCD-k.

    Attributes
    ----------
    history : list of dict
        One record per epoch trained (see :meth:`fit`).
    persistent_chain : shared matrix (n_chains, n_hidden) or None
        The persistent chains' hidden states (PCD without tempering).
    velocities : list of shared variables
        The momentum buffers, one per parameter (empty without momentum).
    visible_offset, hidden_offset : shared vectors or None
        The centering offsets mu and lambda (None without centering).

    Examples
    --------
    >>> import numpy as np
    >>> import rbm
    >>> data = (np.random.default_rng(0).random((100, 6)) < 0.5).astype("float32")
    >>> model = rbm.RBM(n_visible=6, n_hidden=3, seed=0)
    >>> trainer = rbm.Trainer(model, learning_rate=0.1, k=1, batch_size=10, seed=0)
    >>> history = trainer.fit(data, epochs=3, verbose=False)
    >>> len(history), sorted(history[-1])
    (3, ['cost', 'epoch', 'learning_rate', 'momentum', 'time'])
    """

    @keyword_only("learning_rate", "k", "persistent", "batch_size", "momentum", "weight_decay", "mode", "seed",
                  "batches_per_call", "n_chains", "centering", "centering_rate", "tempering")  # the old order
    def __init__(self, model, *, learning_rate: float | Callable[[int], float] = 0.1, k: int = 1,
                 persistent: bool = True, batch_size: int = 20, momentum: float | Callable[[int], float] = 0.0,
                 weight_decay: float = 0.0, mode: str = "cpu", seed: int | None = None,
                 batches_per_call: int | None = None, n_chains: int | None = None, centering: bool = False,
                 centering_rate: float = 0.01, tempering: int | ArrayLike | None = None) -> None:
        from ..models import RBM, GaussianBernoulliRBM

        if not isinstance(model, RBM):
            raise TypeError(f"model must be an rbm.RBM, got {type(model).__name__}")
        if not isinstance(centering, bool):
            raise TypeError(f"centering must be True or False, got {centering!r}")
        if centering and isinstance(model, GaussianBernoulliRBM):
            raise ValueError("centering is implemented for binary RBMs, not GaussianBernoulliRBM")
        self.centering = centering
        if tempering is not None and isinstance(model, GaussianBernoulliRBM):
            raise ValueError("parallel tempering is implemented for binary RBMs, not GaussianBernoulliRBM")
        if tempering is not None and not persistent:
            raise ValueError("parallel tempering keeps persistent chains: it needs persistent=True")
        self.centering_rate = check_float(centering_rate, "centering_rate", low=0.0, high=1.0, low_inclusive=False)
        self.learning_rate = learning_rate
        self.momentum = momentum
        self._schedules = {"learning_rate": schedules.as_schedule(learning_rate, "learning_rate"),
                           "momentum": schedules.as_schedule(momentum, "momentum")}
        self._schedule_values(0)  # a number out of range fails now
        self.k = check_positive_int(k, "k")
        if not isinstance(persistent, bool):
            raise TypeError(f"persistent must be True or False, got {persistent!r}")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        if n_chains is not None and not persistent:
            raise ValueError("n_chains is the number of persistent chains: it needs persistent=True")
        self.n_chains = self.batch_size if n_chains is None else check_positive_int(n_chains, "n_chains")
        self.weight_decay = check_float(weight_decay, "weight_decay", low=0.0)
        self.mode = mode
        backend.resolve_mode(mode)  # fail now on an unknown mode or missing JAX
        seed = check_seed(seed)
        if batches_per_call is None:
            batches_per_call = _GPU_BATCHES_PER_CALL if backend.runs_on_gpu(mode) else 1
        self.batches_per_call = check_positive_int(batches_per_call, "batches_per_call")
        self.persistent = persistent
        self.model = model
        self.seed = seed
        if seed is not None:
            model.rng.set_value(np.random.default_rng(seed))
        self.history = []
        self._position = _epoch_start(0)
        self._epoch_costs = backend.pytensor.shared(np.zeros(1), name="epoch_costs")
        self._healthy = backend.pytensor.shared(np.int8(1), name="healthy")
        self._first_bad_step = backend.pytensor.shared(np.int64(-1), name="first_bad_step")
        self._train_fn = None
        self._free_energy_fn = None
        dtype = model.dtype
        self._batches = backend.shared(np.zeros((1, self.batch_size, model.n_visible)), "batches", dtype)
        #: the parallel-tempering ladder (None without tempering), else the plain persistent chains
        self.tempering = None if tempering is None else ParallelTempering(model, tempering, self.n_chains)
        self.persistent_chain = (backend.shared(np.zeros((self.n_chains, model.n_hidden)),
                                                "persistent_chain", dtype)
                                 if persistent and self.tempering is None else None)
        uses_momentum = callable(momentum) or self.momentum != 0
        self.velocities = [backend.shared(np.zeros(p.get_value(borrow=True).shape), f"velocity_{p.name}", dtype)
                           for p in model.params] if uses_momentum else []
        # The step reads these each call (float64, cast in the graph); fit sets them from the schedules.
        self._learning_rate_now = backend.pytensor.shared(np.float64(0.0), name="learning_rate_now")
        self._momentum_now = backend.pytensor.shared(np.float64(0.0), name="momentum_now")
        #: centering offsets mu and lambda (None without centering); set from the data by the first fit
        self.visible_offset = self.hidden_offset = None
        if centering:
            self.visible_offset = backend.shared(np.zeros(model.n_visible), "visible_offset", dtype)
            self.hidden_offset = backend.shared(np.zeros(model.n_hidden), "hidden_offset", dtype)
        self._offsets_set = False

    def _schedule_values(self, epoch):
        """(learning rate, momentum) for ``epoch``, checked: lr > 0, 0 <= momentum < 1."""
        return (schedules.value_at(self._schedules["learning_rate"], epoch, "learning_rate", low=0.0,
                                   low_inclusive=False),
                schedules.value_at(self._schedules["momentum"], epoch, "momentum", low=0.0, high=1.0,
                                   high_inclusive=False))

    # --------------------------------------------------------------- compile
    def _minibatch_updates(self, index):
        """Shared variable -> new value after one update on minibatch ``index`` (symbolic), and its cost.

        The graph reads the minibatch as ``model.input``; the divergence guard
        is part of it: an update is applied only while every update so far,
        this one included, left the cost and parameters finite. The model so
        keeps its last finite state without copying parameters, and
        ``_first_bad_step`` remembers where it went wrong.
        """
        model = self.model
        dtype = model.dtype
        if self.tempering is None:
            cost, gradients, updates = model.get_cost_gradients(self.persistent_chain, self.k)
        else:
            with model.drawing_from() as rng_updates:
                chain_end, updates = self.tempering.negative_phase(self.k)
            gradients = model.free_energy_gradients(chain_end)
            cost = model.get_pseudo_likelihood_cost(updates)
            updates.update(rng_updates)
        new_values = {}
        if self.centering:
            # Offsets move before the gradient is taken (Melchior et al.'s best variant, "dd^b_s").
            rate = np.asarray(self.centering_rate, dtype=dtype)
            visible_offset = (1 - rate) * self.visible_offset + rate * pt.mean(model.input, axis=0)
            hidden_offset = (1 - rate) * self.hidden_offset + rate * pt.mean(model.propup(model.input)[1], axis=0)
            gradients = centered_gradients(*gradients, visible_offset, hidden_offset)
            new_values.update({self.visible_offset: visible_offset, self.hidden_offset: hidden_offset})
        # A number stays a constant of the graph (the step is then exactly the unscheduled one, as fast as
        # before); a schedule is read from its shared scalar, which fit sets each epoch.
        lr, momentum = (pt.cast(now, dtype) if callable(setting) else np.asarray(setting, dtype=dtype)
                        for setting, now in ((self.learning_rate, self._learning_rate_now),
                                             (self.momentum, self._momentum_now)))
        for i, (param, grad) in enumerate(zip(model.params, gradients)):
            if self.weight_decay and param is model.W:
                grad = grad + np.asarray(self.weight_decay, dtype=dtype) * param
            if self.velocities:
                velocity = self.velocities[i]
                new_velocity = momentum * velocity - lr * grad
                new_values[velocity] = new_velocity
                new_values[param] = param + new_velocity
            else:
                new_values[param] = param - lr * grad
        finite = pt.all(pt.isfinite(cost))
        for param in model.params:
            finite = pt.and_(finite, pt.all(pt.isfinite(new_values[param])))
        healthy = pt.and_(pt.eq(self._healthy, 1), finite)
        updates.update(new_values)
        guarded = list(new_values) + ([self.persistent_chain] if self.persistent_chain is not None else [])
        if self.tempering is not None:
            guarded += list(self.tempering.state_variables.values())
        for shared_var in guarded:
            updates[shared_var] = pt.switch(healthy, updates[shared_var], shared_var)
        updates[self._first_bad_step] = pt.switch(pt.and_(pt.eq(self._healthy, 1), pt.invert(finite)),
                                                  index, self._first_bad_step)
        updates[self._healthy] = pt.cast(healthy, "int8")
        return updates, pt.cast(cost, "float64")

    def _build_train_fn(self):
        """Compile ``(start, stop) -> nothing``: updates on minibatches start .. stop - 1, in order.

        The per-minibatch graph of :meth:`_minibatch_updates` runs in a
        ``scan`` of ``batches_per_call`` steps whose state is every shared
        variable it updates; steps from ``stop`` on change no state (they
        still draw their random numbers, so the generator advances alike
        whatever the call's length) and write their cost past the epoch's end
        in ``_epoch_costs``. One function serves every call: under JAX each
        compiled function keeps its own copy of the generator, so a second one
        would replay the first one's draws. Several minibatches per call
        matter on a GPU, where a call costs ~0.8 ms of Python and dispatch; a
        one-step scan is inlined by PyTensor into the plain training step.
        The function returns no output so that a call need not wait for the
        device (a JAX call that returns values blocks until the GPU is done).
        """
        n_steps = self.batches_per_call
        index = pt.lscalar("index")
        updates, cost = self._minibatch_updates(index)
        # scan hands random generators to the step function after the other states
        states = sorted(updates, key=backend.is_rng)
        stop = pt.lscalar("stop")
        last_batch = self._batches.shape[0] - 1

        def one_minibatch(minibatch_index, *values):
            replace = dict(zip(states, values))
            replace[index] = minibatch_index
            replace[self.model.input] = self._batches[pt.minimum(minibatch_index, last_batch)]
            new_values = clone_replace([updates[s] for s in states] + [cost], replace=replace)
            active = pt.lt(minibatch_index, stop)
            new_values[:-1] = [new if backend.is_rng(state) else pt.switch(active, new, old)
                               for state, new, old in zip(states, new_values, values)]
            return [minibatch_index + 1, *new_values]

        start = pt.lscalar("start")
        _, *final_states, costs = backend.pytensor.scan(
            one_minibatch, outputs_info=[start, *states, None], n_steps=n_steps,
            name="minibatches", return_updates=False)
        new_values = {}
        for shared_var, final in zip(states, final_states):
            # random generators come back as their final state, other states as a sequence
            new_values[shared_var] = final if backend.is_rng(shared_var) else final[-1]
        # Indices as a vector, not a slice: JAX needs slice bounds known when it compiles.
        new_values[self._epoch_costs] = pt.set_subtensor(
            self._epoch_costs[start + pt.arange(n_steps)], costs)
        self._train_fn = backend.compile_function(
            [start, stop], [], updates=new_values, mode=self.mode, name="train_fn",
            nested_scan=n_steps > 1)

    def _mean_free_energy(self, data):
        if self._free_energy_fn is None:
            v = pt.matrix("v", dtype=self.model.dtype)
            self._free_energy_fn = backend.compile_function(
                [v], pt.mean(self.model.free_energy(v)), mode=self.mode, name="mean_free_energy")
        return float(self._free_energy_fn(backend.as_floatx(data, self.model.dtype)))

    # ------------------------------------------------------------------- fit
    @keyword_only("epochs", "valid", "callbacks", "verbose", "checkpoint", "checkpoint_every", "resume")
    def fit(self, data: ArrayLike, *, epochs: int = 1, valid: ArrayLike | None = None,
            callbacks: Callable[..., Any] | Sequence[Callable[..., Any]] = (), verbose: bool | int = True,
            checkpoint: str | os.PathLike[str] | None = None, checkpoint_every: int | None = None,
            resume: str | os.PathLike[str] | None = None) -> list[dict]:
        """Train on ``data``; returns ``history``.

        ``data`` is (n, n_visible) in [0, 1]; the last n % batch_size rows are
        not used, as in the tutorial. Each history record holds ``epoch``,
        ``cost`` (mean monitoring cost), ``time`` (s) and, with ``valid``,
        ``free_energy_gap``: mean F(valid) - mean F(same number of training
        rows), which grows as the model overfits (Hinton's practical guide,
        section 6). Each callback is called as ``callback(trainer, record)``
        after every epoch; a callback returning True stops training.

        Without ``resume``, ``epochs`` more epochs run, continuing from the
        current state (also on new data of the same width) and reusing the
        compiled function. With ``resume=PATH`` the state is first restored
        from that checkpoint and ``epochs`` counts the whole run: training
        stops once ``epochs`` epochs are complete, ending with exactly the
        weights of an uninterrupted run with the same seed and data.

        ``checkpoint=PATH`` writes the full training state (see
        ``rbm.training.checkpoint``) every ``checkpoint_every`` minibatch updates,
        or after every epoch when that is None; PATH may equal ``resume``.

        Parameters
        ----------
        data : array (n, n_visible)
            Training rows in [0, 1] (real values for Gaussian visible units).
        epochs : int >= 1, default 1
            Epochs to run now, or the whole run's length with ``resume``.
        valid : array (m, n_visible), optional
            Validation rows, for the free-energy gap.
        callbacks : callable or sequence of callables, default ()
            ``callback(trainer, record)`` after every epoch, e.g.
            :class:`rbm.evaluation.LikelihoodTracker`.
        verbose : bool or int >= 0, default True
            Print a line per epoch and show a progress bar when true or >= 1;
            0 or False is silent (scikit-learn's levels).
        checkpoint : str or path-like, optional
            An ``.npz`` path in an existing folder.
        checkpoint_every : int >= 1, optional
            Minibatch updates between checkpoints (counted over the whole run).
        resume : str or path-like, optional
            A checkpoint written with the same settings and data.

        Returns
        -------
        list of dict
            ``history``: every epoch trained so far, this call's last.

        Raises
        ------
        TrainingDiverged
            When an update made a parameter or the cost non-finite; the
            model keeps its last finite parameters.
        ValueError, TypeError, FileNotFoundError
            For bad arguments or a checkpoint that does not match, before
            anything changes.
        """
        model = self.model
        verbose = check_verbose(verbose)
        data = model.check_data(data, "data")
        epochs = check_positive_int(epochs, "epochs")
        if valid is not None:
            valid = model.check_data(valid, "valid")
        if callable(callbacks):
            callbacks = [callbacks]
        callbacks = list(callbacks)
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
            raise ValueError(
                f"batch_size={self.batch_size} is larger than the {data.shape[0]} rows of data")
        used = data[: n_batches * self.batch_size]
        batches = backend.as_floatx(used, model.dtype).reshape(n_batches, self.batch_size, model.n_visible)
        fingerprint = data_fingerprint(batches) if (checkpoint or resume) else None
        if self._train_fn is None:
            self._build_train_fn()  # before a resume: under JAX the generator state lives in the function
        if resume is not None:
            self._position = load_checkpoint(self, resume, fingerprint)  # checks everything first
            self._offsets_set = True
            epochs_to_run = epochs - self._position["epoch"]
        else:
            epochs_to_run = epochs
            if self.centering and not self._offsets_set:
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
            self._train_epochs(epochs_to_run, n_batches, used, valid, callbacks, verbose, checkpoint,
                               checkpoint_every, fingerprint)
        finally:
            self._hand_back_rng()
        return self.history

    def _set_offsets(self, data):
        """Start the centering offsets at the data means of v and p(h | v) (at most 10,000 rows)."""
        rows = np.asarray(data[:10_000], dtype=np.float64)
        W, hbias = (np.asarray(p.get_value(borrow=True), dtype=np.float64) for p in (self.model.W, self.model.hbias))
        hidden_means = 1 / (1 + np.exp(-(rows @ W + hbias)))
        backend.set_shared_data(self.visible_offset, rows.mean(axis=0).astype(self.model.dtype), self.mode)
        backend.set_shared_data(self.hidden_offset, hidden_means.mean(axis=0).astype(self.model.dtype), self.mode)
        self._offsets_set = True

    def _train_epochs(self, epochs_to_run, n_batches, used, valid, callbacks, verbose, checkpoint,
                      checkpoint_every, fingerprint):
        for _ in range(max(epochs_to_run, 0)):
            record = self._run_epoch(n_batches, verbose, checkpoint, checkpoint_every, fingerprint)
            if valid is not None:
                n = min(len(valid), len(used))
                record["free_energy_gap"] = self._mean_free_energy(valid[:n]) - self._mean_free_energy(used[:n])
            self.history.append(record)
            self._position = _epoch_start(len(self.history))
            if checkpoint is not None and checkpoint_every is None:
                save_checkpoint(self, checkpoint, self._position, fingerprint)
            if verbose:
                tqdm.write(self.format_record(record))
            if any(callback(self, record) for callback in callbacks):
                break

    def _hand_back_rng(self):
        """Under JAX, re-seed ``model.rng`` from the key the training function advanced.

        PyTensor's JAX functions draw from private copies of the generator, so
        ``model.rng`` would otherwise stay where it was, and a function compiled
        later (another Trainer, a sampler) would repeat this one's draws.
        """
        if backend.uses_jax(self.mode):
            key = backend.jax_rng_key(self._train_fn, self.model.rng)
            self.model.rng.set_value(np.random.default_rng(key.tolist()))
            # The updates left the parameters as JAX device arrays, which functions of other modes (a
            # user's NUMBA-mode graph, a sampler) cannot read: hand them back as numpy arrays (fit puts
            # them back on the device before training again).
            for param in self.model.params:
                param.set_value(np.array(param.get_value(borrow=True)), borrow=True)

    def _run_epoch(self, n_batches, verbose, checkpoint, checkpoint_every, fingerprint):
        """Run the epoch in progress from its current minibatch; returns its history record."""
        position = self._position
        epoch, first = position["epoch"], position["batch"]
        learning_rate, momentum = self._schedule_values(epoch)
        if self.tempering is not None and first == 0:
            self.tempering.reset_counts(self.mode)
        # on the device, like the step's other inputs, so that JAX does not trace the step again
        backend.set_shared_data(self._learning_rate_now, np.float64(learning_rate), self.mode)
        backend.set_shared_data(self._momentum_now, np.float64(momentum), self.mode)
        done_before = np.asarray(position["epoch_costs"], dtype=np.float64)
        start = time.perf_counter() - position["epoch_seconds"]
        # disable=None: tqdm draws the bar only when its stream (stderr) is a terminal, so a log gets just the
        # epoch's line (tqdm.write in _train_epochs) instead of dozens of redraws
        with tqdm(desc=f"epoch {epoch}", unit="batch", disable=None if verbose else True, leave=False,
                  initial=first, total=n_batches) as progress:
            done = looked = first
            while done < n_batches:
                # A call ends at a multiple of batches_per_call, at the epoch's end or where a checkpoint is due.
                stop = min(n_batches, (done // self.batches_per_call + 1) * self.batches_per_call)
                if checkpoint_every is not None:
                    run_done = epoch * n_batches + done  # counted over the whole run, like checkpoint_every
                    stop = min(stop, (run_done // checkpoint_every + 1) * checkpoint_every - epoch * n_batches)
                self._train_fn(done, stop)
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
        record = {"epoch": epoch, "cost": float(np.mean(costs)), "time": time.perf_counter() - start,
                  "learning_rate": learning_rate, "momentum": momentum}
        if self.tempering is not None:
            record["swap_rates"] = [float(rate) for rate in self.tempering.swap_rates()]
        return record

    def _costs_so_far(self, done_before, first, done):
        """Costs of the epoch's minibatches 0..done-1 (those before ``first`` came from a checkpoint)."""
        costs = np.asarray(self._epoch_costs.get_value(borrow=True))
        return list(done_before[:first]) + [float(c) for c in costs[first:done]]

    def _raise_if_diverged(self, epoch):
        if int(self._healthy.get_value()) != 1:
            raise TrainingDiverged(
                f"training diverged at epoch {epoch}, minibatch {int(self._first_bad_step.get_value())}: "
                "a parameter or the monitoring cost became NaN or infinite; the model keeps its last "
                "finite parameters (try a smaller learning_rate)")

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

        Examples
        --------
        >>> import rbm
        >>> rbm.Trainer.format_record({"epoch": 3, "cost": -72.404, "time": 18.21})
        'epoch 3: cost -72.40, 18.2 s'
        """
        line = f"epoch {record['epoch']}: cost {record['cost']:.2f}, {record['time']:.1f} s"
        if "free_energy_gap" in record:
            line += f", free-energy gap {record['free_energy_gap']:.2f}"
        if "swap_rates" in record:
            line += f", swap rates {min(record['swap_rates']):.2f}..{max(record['swap_rates']):.2f}"
        return line
