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

The trainer runs on the engine of :mod:`rbm.training.engine`, as
:class:`rbm.Trainer` does: the data live in a shared variable of minibatches,
one compiled ``scan`` runs ``batches_per_call`` updates per call, schedules,
callbacks and progress, a divergence guard keeps the last finite state, the
optimizers of :mod:`rbm.training.optimizers` apply, and checkpoints
(:mod:`rbm.training.checkpoint`, kind ``"rbm.DBMCheckpoint"``) restore a run
bit for bit.
"""
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import backend
from ..backend import pt
from ..validation import check_float, check_positive_int, check_seed
from . import schedules
from .engine import TrainingEngine, default_batches_per_call
from .optimizers import Optimizer, optimizer_from

__all__ = ["DBMTrainer"]


class DBMTrainer(TrainingEngine):
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
        Updates per compiled call; 50 on a GPU, 1 on a CPU by default. The
        updates do not depend on it (see :class:`rbm.Trainer`).
    optimizer : rbm.training.optimizers.Optimizer, optional
        :class:`~rbm.training.optimizers.Momentum` from ``momentum`` by
        default; :class:`~rbm.training.optimizers.Adam` or
        :class:`~rbm.training.optimizers.SGD` otherwise.
    average_last_epochs : int >= 1, optional
        End each ``fit`` with the mean of the parameters at the ends of its
        last ``average_last_epochs`` epochs, as :class:`rbm.Trainer` does.

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
                 seed: int | None = None, batches_per_call: int | None = None,
                 optimizer: Optimizer | None = None, average_last_epochs: int | None = None) -> None:
        from ..models.dbm import DBM

        if not isinstance(model, DBM):
            raise TypeError(f"model must be an rbm DBM, got {type(model).__name__}")
        if not isinstance(centering, bool):
            raise TypeError(f"centering must be True or False, got {centering!r}")
        self.momentum = momentum
        self._init_schedules(learning_rate, optimizer_from(optimizer, momentum))
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.n_chains = check_positive_int(n_chains, "n_chains")
        self.mean_field_steps = check_positive_int(mean_field_steps, "mean_field_steps", minimum=0)
        self.gibbs_steps = check_positive_int(gibbs_steps, "gibbs_steps")
        self.weight_decay = check_float(weight_decay, "weight_decay", low=0.0)
        self._init_averaging(average_last_epochs)
        self.centering = centering
        self.centering_rate = check_float(centering_rate, "centering_rate", low=0.0, high=1.0, low_inclusive=False)
        backend.resolve_mode(mode)
        self.mode = mode
        self.seed = check_seed(seed)
        self.batches_per_call = default_batches_per_call(batches_per_call, mode)
        # every check passed: now build state
        if self.seed is not None:
            model.rng.set_value(np.random.default_rng(self.seed))
        dtype = model.dtype
        first_states = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(2,)))
        self.chains = [backend.shared(first_states.random((self.n_chains, n)) < 0.5, f"chain_{i}", dtype)
                       for i, n in enumerate(model.layer_sizes)]
        self._init_engine_state(model, model.n_visible)
        self.offsets = ([backend.shared(np.zeros(n), f"offset_{i}", dtype) for i, n in enumerate(model.layer_sizes)]
                        if centering else None)
        self._offsets_set = False

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
        gradients = [grad + np.asarray(self.weight_decay, dtype=dtype) * param
                     if self.weight_decay and i < len(model.weights) else grad
                     for i, (param, grad) in enumerate(zip(model.params, gradients))]
        new_values.update(self._optimizer_updates(model.params, gradients))
        updates = self._guarded(dict(new_values), cost, index, list(new_values))
        updates[model.rng] = rng
        return updates, pt.cast(cost, "float64")

    _function_name = "dbm_train_fn"
    _checkpoint_kind = "rbm.DBMCheckpoint"
    _checkpoint_version = 1
    _checkpoint_readable = (1,)

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
        return self._fit(data, epochs, None, callbacks, verbose, checkpoint, checkpoint_every, resume)

    def _set_offsets(self, data):
        """Start the offsets at the data means of every layer: v, and the mean-field means (<= 10,000 rows)."""
        means = self.model.mean_field_means(data[:10_000], max_steps=self.mean_field_steps, tol=0.0)
        for offset, layer_means in zip(self.offsets, means):
            backend.set_shared_data(offset, layer_means.mean(axis=0).astype(self.model.dtype), self.mode)
        self._offsets_set = True

    @staticmethod
    def format_record(record: dict) -> str:
        """One line for an epoch's record, as ``fit`` prints it.

        Parameters
        ----------
        record : dict
            A record of ``history``, with at least ``epoch``, ``cost`` (the
            reconstruction cost) and ``time`` (seconds).

        Returns
        -------
        str
            ``"epoch <epoch>: reconstruction <cost>, <time> s"``.
        """
        return f"epoch {record['epoch']}: reconstruction {record['cost']:.2f}, {record['time']:.1f} s"

    # ----------------------------------------------------------- checkpoints
    def _checkpoint_settings(self):
        model = self.model
        return {"model": model.FILE_KIND, "layer_sizes": list(model.layer_sizes), "dtype": model.dtype,
                "learning_rate": schedules.describe(self.learning_rate), "batch_size": self.batch_size,
                "n_chains": self.n_chains, "mean_field_steps": self.mean_field_steps,
                "gibbs_steps": self.gibbs_steps, "momentum": schedules.describe(self.momentum),
                "weight_decay": self.weight_decay, "centering": self.centering_rate if self.centering else None,
                "mode": str(self.mode), "optimizer": self.optimizer.describe()}

    def _state_variables(self):
        """name -> shared variable of every array the step reads and updates."""
        variables = {p.name: p for p in self.model.params}
        variables.update({v.name: v for v in self.optimizer_state + self.chains + (self.offsets or [])})
        return variables
