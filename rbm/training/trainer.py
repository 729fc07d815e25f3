"""Training: compile the model's CD-k / PCD-k graph once, then loop over minibatches.

The dataset lives in a shared variable, reshaped to (n_batches, batch_size,
n_visible), and the compiled step takes only the index of its first minibatch
(the tutorial's ``givens`` idea): the data stay on the device, and JAX, whose
slices must have static sizes, can run it. One call may run several
minibatches in a ``scan`` (``batches_per_call``), which a GPU needs.
"""
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import backend
from .._compat import keyword_only
from ..backend import pt
from ..validation import check_float, check_positive_int, check_seed
from . import schedules
from .centering import centered_gradients
from .engine import TrainingDiverged, TrainingEngine, default_batches_per_call
from .negative_phases import ContrastiveDivergence, NegativePhase, PersistentContrastiveDivergence
from .optimizers import Optimizer, optimizer_from
from .tempering import ParallelTempering

__all__ = ["Trainer", "TrainingDiverged"]


class Trainer(TrainingEngine):
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
        Shorthand for ``optimizer=Momentum(momentum)``.
    weight_decay : float >= 0
        L2 penalty on W (not on the biases).
    optimizer : rbm.training.optimizers.Optimizer, optional
        How gradients become updates: :class:`~rbm.training.optimizers.SGD`,
        :class:`~rbm.training.optimizers.Momentum` (the default, from
        ``momentum``) or :class:`~rbm.training.optimizers.Adam`.
    sparsity_target : float in (0, 1), optional
        A target p for the hidden units' mean activation q (Hinton's practical
        guide, section 11; Lee, Ekanadham & Ng 2008): adds
        ``sparsity_cost`` times the gradient of
        sum_j -p log q_j - (1 - p) log(1 - q_j), q_j the minibatch mean of
        p(h_j = 1 | v), i.e. sparsity_cost (q_j - p) on hbias and
        sparsity_cost mean_rows(v_i) (q_j - p) on W_ij (the guide's
        approximation of the cross-entropy's gradient through the
        activation's mean).
    sparsity_cost : float >= 0, default 0.1
        The weight of that penalty.
    negative_phase : rbm.training.negative_phases.NegativePhase, optional
        Where the model statistics come from, instead of ``persistent`` and
        ``tempering``: :class:`~rbm.training.negative_phases.ContrastiveDivergence`,
        :class:`~rbm.training.negative_phases.PersistentContrastiveDivergence`
        or a class of your own.
    mode : str
        "cpu", "gpu" or a PyTensor mode name (see :func:`rbm.backend.resolve_mode`).
    seed : int, optional
        Re-seeds the model's Gibbs sampler generator, for reproducible runs.
    batches_per_call : int >= 1, optional
        Minibatch updates per call of the compiled function; each call costs a
        fixed overhead, large on a GPU. None picks the fastest measured
        (benchmarks/bench_epoch.py): 50 on a GPU, 1 on the CPU. The updates do
        not depend on it: under JAX, which compiles loops of a fixed length,
        a shorter stretch (an epoch's rest, a stretch cut by
        ``checkpoint_every``) runs one minibatch per call with the same random
        draws; the other modes compile one loop for any number of
        minibatches. The arithmetic may differ in the last bit (a compiler
        may fuse a loop's body its own way; with NUMBA it was often bit for
        bit), which can flip a sampled unit, after which runs drift apart
        (alike in distribution).
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
        Parallel tempering for the negative phase (persistent only, any
        visible layer; see :mod:`rbm.training.tempering`): each of the ``n_chains``
        chains becomes a ladder of replicas at these inverse temperatures
        (an int n: n evenly spaced from 0 to 1), each update runs k Gibbs
        steps in every replica and one round of neighbour swaps. Each history
        record then holds ``swap_rates``, per neighbour pair, for the epoch.
        Costs n_temperatures times the chains' work of PCD-k.
    average_last_epochs : int >= 1, optional
        End each ``fit`` with the mean of the model's parameters at the ends of
        its last ``average_last_epochs`` epochs (all of them in a shorter fit;
        a fit that a callback stops early, those of the window it reached)
        instead of the last iterate: stochastic weight averaging, which
        smooths the noise of the last updates (see
        :mod:`rbm.training.averaging`). Callbacks see the iterates; a
        checkpoint keeps the running sums, so a resumed run averages as the
        uninterrupted one; a further ``fit`` continues from the average.

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
                 centering_rate: float = 0.01, tempering: int | ArrayLike | None = None,
                 optimizer: Optimizer | None = None, sparsity_target: float | None = None,
                 sparsity_cost: float = 0.1, negative_phase: NegativePhase | None = None,
                 average_last_epochs: int | None = None) -> None:
        from ..models import RBM

        if not isinstance(model, RBM):
            raise TypeError(f"model must be an rbm.RBM, got {type(model).__name__}")
        if not isinstance(centering, bool):
            raise TypeError(f"centering must be True or False, got {centering!r}")
        if centering and not model.visible.centering:
            raise ValueError(f"centering is implemented for binary visible units, not {model.visible!r}")
        self.centering = centering
        if tempering is not None and not persistent:
            raise ValueError("parallel tempering keeps persistent chains: it needs persistent=True")
        if negative_phase is not None:
            if not isinstance(negative_phase, NegativePhase):
                raise TypeError("negative_phase must be an rbm.training.negative_phases.NegativePhase, "
                                f"got {type(negative_phase).__name__}")
            if tempering is not None or n_chains is not None:
                raise ValueError("give the chains and temperatures through negative_phase, not tempering or n_chains")
            persistent = negative_phase.persistent
        self.centering_rate = check_float(centering_rate, "centering_rate", low=0.0, high=1.0, low_inclusive=False)
        self.momentum = momentum
        self._init_schedules(learning_rate, optimizer_from(optimizer, momentum))
        self.sparsity_target = (None if sparsity_target is None else
                                check_float(sparsity_target, "sparsity_target", low=0.0, high=1.0, low_inclusive=False,
                                            high_inclusive=False))
        self.sparsity_cost = check_float(sparsity_cost, "sparsity_cost", low=0.0)
        self.k = check_positive_int(k, "k")
        if not isinstance(persistent, bool):
            raise TypeError(f"persistent must be True or False, got {persistent!r}")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        if n_chains is not None and not persistent:
            raise ValueError("n_chains is the number of persistent chains: it needs persistent=True")
        self.n_chains = self.batch_size if n_chains is None else check_positive_int(n_chains, "n_chains")
        self.weight_decay = check_float(weight_decay, "weight_decay", low=0.0)
        self._init_averaging(average_last_epochs)
        self.mode = mode
        backend.resolve_mode(mode)  # fail now on an unknown mode or missing JAX
        seed = check_seed(seed)
        self.batches_per_call = default_batches_per_call(batches_per_call, mode)
        self.persistent = persistent
        self.seed = seed
        # every check passed: now build state
        if seed is not None:
            model.rng.set_value(np.random.default_rng(seed))
        self._init_engine_state(model, model.n_visible_units)
        self._free_energy_fn = None
        dtype = model.dtype
        #: where the model statistics come from (CD, PCD or a tempered ladder)
        self._custom_negative_phase = negative_phase is not None
        if negative_phase is None:
            negative_phase = (ParallelTempering(model, tempering, self.n_chains) if tempering is not None
                              else PersistentContrastiveDivergence() if persistent else ContrastiveDivergence())
        self.negative_phase = negative_phase.bind(model, self.n_chains)
        #: the parallel-tempering ladder (None without tempering)
        self.tempering = self.negative_phase if isinstance(self.negative_phase, ParallelTempering) else None
        #: centering offsets mu and lambda (None without centering); set from the data by the first fit
        self.visible_offset = self.hidden_offset = None
        if centering:
            self.visible_offset = backend.shared(np.zeros(model.n_visible_units), "visible_offset", dtype)
            self.hidden_offset = backend.shared(np.zeros(model.n_hidden), "hidden_offset", dtype)
        self._offsets_set = False

    # --------------------------------------------------------------- compile
    def _data_variable(self):
        return self.model.input  # the model's graphs read the minibatch as their input

    def _minibatch_updates(self, index, data=None):
        """Shared variable -> new value after one update on minibatch ``index`` (symbolic), and its cost.

        The graph reads the minibatch as ``model.input`` (``data`` is that
        variable, or None). Negative phase (CD-k, PCD-k or parallel tempering), gradient
        transforms (centering, weight decay, sparsity), then the optimizer;
        the engine's divergence guard wraps it (:meth:`TrainingEngine._guarded`).
        """
        model = self.model
        dtype = model.dtype
        cost, gradients, updates = self.negative_phase.build(model, self.k)
        new_values = {}
        if self.centering:
            # Offsets move before the gradient is taken (Melchior et al.'s best variant, "dd^b_s").
            rate = np.asarray(self.centering_rate, dtype=dtype)
            visible_offset = (1 - rate) * self.visible_offset + rate * pt.mean(model.input, axis=0)
            hidden_offset = (1 - rate) * self.hidden_offset + rate * pt.mean(model.propup(model.input)[1], axis=0)
            gradients = centered_gradients(*gradients, visible_offset, hidden_offset)
            new_values.update({self.visible_offset: visible_offset, self.hidden_offset: hidden_offset})
        gradients = list(gradients)
        if self.weight_decay:
            gradients[0] = gradients[0] + np.asarray(self.weight_decay, dtype=dtype) * model.W
        if self.sparsity_target is not None:
            gradients[:2] = self._sparsity_gradients(*gradients[:2])
        new_values.update(self._optimizer_updates(model.params, gradients))
        updates.update(new_values)
        guarded = list(new_values) + list(self.negative_phase.state_variables.values())
        return self._guarded(updates, cost, index, guarded), pt.cast(cost, "float64")

    def _sparsity_gradients(self, grad_W, grad_hbias):
        """The W and hbias gradients plus the sparsity penalty's: cost (q - p) on hbias, cost mean(v) (q - p) on W."""
        model = self.model
        dtype = model.dtype
        excess = pt.mean(model.propup(model.input)[1], axis=0) - np.asarray(self.sparsity_target, dtype=dtype)
        cost = np.asarray(self.sparsity_cost, dtype=dtype)
        return (grad_W + cost * pt.outer(pt.mean(model.visible.scale(model.input), axis=0), excess),
                grad_hbias + cost * excess)

    def _mean_free_energy(self, data):
        if self._free_energy_fn is None:
            def compile_function():
                v = pt.matrix("v", dtype=self.model.dtype)
                return backend.compile_function([v], pt.mean(self.model.free_energy(v)), mode=self.mode,
                                                name="mean_free_energy")

            self._free_energy_fn = self._shared_function("mean_free_energy", compile_function)
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
        weights of an uninterrupted run with the same seed and data (under
        JAX with several minibatches per call, equal to the last bit when
        both runs were cut at the same places, e.g. by ``checkpoint_every``).

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
        return self._fit(data, epochs, valid, callbacks, verbose, checkpoint, checkpoint_every, resume)

    def _check_valid(self, valid):
        return None if valid is None else self.model.check_data(valid, "valid")

    def _validation_record(self, record, valid, used):
        """The free-energy gap: mean F(valid) - mean F(as many training rows)."""
        n = min(len(valid), len(used))
        record["free_energy_gap"] = self._mean_free_energy(valid[:n]) - self._mean_free_energy(used[:n])

    def _set_offsets(self, data):
        """Start the centering offsets at the data means of v and p(h | v) (at most 10,000 rows)."""
        rows = np.asarray(data[:10_000], dtype=np.float64)
        W, hbias = (np.asarray(p.get_value(borrow=True), dtype=np.float64) for p in (self.model.W, self.model.hbias))
        hidden_means = 1 / (1 + np.exp(-(rows @ W + hbias)))
        backend.set_shared_data(self.visible_offset, rows.mean(axis=0).astype(self.model.dtype), self.mode)
        backend.set_shared_data(self.hidden_offset, hidden_means.mean(axis=0).astype(self.model.dtype), self.mode)
        self._offsets_set = True

    @property
    def persistent_chain(self):
        """The persistent chains' hidden states (shared, (n_chains, n_hidden)) under PCD, else None."""
        return getattr(self.negative_phase, "chain", None)

    def _epoch_begin(self, first_batch):
        if first_batch == 0:
            self.negative_phase.epoch_begin(self.mode)

    def _epoch_record(self, record):
        self.negative_phase.epoch_record(record)

    # ----------------------------------------------------------- checkpoints
    def _checkpoint_settings(self):
        model = self.model
        return {"model": model.FILE_KIND, "model_settings": model.get_settings(),
                "n_visible": model.n_visible, "n_hidden": model.n_hidden, "dtype": model.dtype,
                "learning_rate": schedules.describe(self.learning_rate), "k": self.k, "persistent": self.persistent,
                "batch_size": self.batch_size, "n_chains": self.n_chains, "momentum": schedules.describe(self.momentum),
                "weight_decay": self.weight_decay, "mode": str(self.mode),
                "centering": self.centering_rate if self.centering else None,
                "tempering": None if self.tempering is None else [float(b) for b in self.tempering.betas],
                "optimizer": self.optimizer.describe(),
                **({"negative_phase": repr(self.negative_phase)} if self._custom_negative_phase else {}),
                **({} if self.sparsity_target is None else
                   {"sparsity": [self.sparsity_target, self.sparsity_cost]})}

    def _state_variables(self):
        """name -> shared variable for every array the training step reads and updates."""
        model = self.model
        # every array of the model, trained or not: a fixed sigma changes training as much as W does
        variables = dict(model._settable())
        variables.update({v.name: v for v in self.optimizer_state})
        variables.update(self.negative_phase.state_variables)
        if self.centering:
            variables.update(visible_offset=self.visible_offset, hidden_offset=self.hidden_offset)
        return variables

    def _step_variables(self):
        return {**super()._step_variables(), "pseudo-likelihood bit index": self.model.bit_i_idx}

    def _checkpoint_scalars(self):
        return {"bit_i_idx": int(self.model.bit_i_idx.get_value())}

    def _check_checkpoint_scalars(self, scalars, path):
        if not 0 <= scalars["bit_i_idx"] < self.model.n_visible_units:
            raise ValueError(f"{path!r} holds an impossible pseudo-likelihood bit index")

    def _restore_checkpoint_scalars(self, scalars):
        self.model.bit_i_idx.set_value(np.int64(scalars["bit_i_idx"]))

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
