"""Negative phases: where a training step takes the model's statistics from.

The gradient of an RBM's log-likelihood is data statistics minus model
statistics; each class here is one way to estimate the second, as a symbolic
graph built on the model's own pieces (:meth:`rbm.RBM.get_cost_gradients`,
:meth:`rbm.RBM.free_energy_gradients`):

- :class:`ContrastiveDivergence`: CD-k, chains started at the minibatch
  (Hinton 2002), monitored by the reconstruction cost;
- :class:`PersistentContrastiveDivergence`: PCD-k, chains carried across
  updates (Tieleman 2008), monitored by the pseudo-likelihood;
- :class:`rbm.training.tempering.ParallelTempering`: persistent ladders of
  tempered replicas with swaps (Desjardins et al. 2010).

:class:`rbm.Trainer` picks one from its ``persistent`` and ``tempering``
arguments, or takes one as ``negative_phase=``; the engine saves its state in
checkpoints and guards it against divergence.

Examples
--------
>>> import rbm
>>> from rbm.training.negative_phases import PersistentContrastiveDivergence
>>> model = rbm.RBM(n_visible=6, n_hidden=3, seed=0)
>>> trainer = rbm.Trainer(model, k=2, negative_phase=PersistentContrastiveDivergence(n_chains=10), seed=0)
>>> trainer.persistent_chain.get_value().shape
(10, 3)
"""
from typing import Any

import numpy as np

from .. import backend
from ..validation import check_positive_int

__all__ = ["ContrastiveDivergence", "NegativePhase", "PersistentContrastiveDivergence"]


class NegativePhase:
    """What every negative phase provides."""

    #: whether the chains persist across updates
    persistent = False

    def bind(self, model, n_chains: int) -> "NegativePhase":
        """Make the phase's state (chains) for ``model``; ``n_chains`` is the trainer's default count.

        Parameters
        ----------
        model : RBM
        n_chains : int
            The number of chains when the phase does not set its own.

        Returns
        -------
        NegativePhase
            ``self``, with its shared state made.
        """
        return self

    def build(self, model, k: int) -> tuple[Any, list, dict]:
        """(monitoring cost, gradients of ``model.params``, state updates) of one step, symbolic.

        Parameters
        ----------
        model : RBM
        k : int >= 1
            Gibbs steps.

        Returns
        -------
        tuple
            The cost, one gradient per parameter, and the updates of the
            chains, the pseudo-likelihood's bit index and the generator.
        """
        raise NotImplementedError

    @property
    def state_variables(self) -> dict[str, Any]:
        """name -> shared variable of the phase's state, for checkpoints and the divergence guard."""
        return {}

    def epoch_begin(self, mode: str) -> None:
        """Called at the start of each epoch (before its first minibatch).

        Parameters
        ----------
        mode : str
            The trainer's compile mode.
        """

    def epoch_record(self, record: dict) -> None:
        """Add the phase's figures for the epoch to ``record``.

        Parameters
        ----------
        record : dict
            The epoch's history record.
        """


class ContrastiveDivergence(NegativePhase):
    """CD-k: k Gibbs steps from the minibatch itself; the reconstruction cost is monitored."""

    def build(self, model, k):
        """The model's CD-k graph (:meth:`rbm.RBM.get_cost_gradients` without chains).

        Parameters
        ----------
        model : RBM
        k : int >= 1
            Gibbs steps.

        Returns
        -------
        tuple
            (monitoring cost, gradients of ``model.params``, updates).
        """
        return model.get_cost_gradients(None, k)

    def __repr__(self):
        return "ContrastiveDivergence()"


class PersistentContrastiveDivergence(NegativePhase):
    """PCD-k: ``n_chains`` chains whose hidden states persist across updates; the pseudo-likelihood is monitored.

    Parameters
    ----------
    n_chains : int >= 1, optional
        The trainer's (its ``n_chains``, by default the minibatch size) when None.

    Attributes
    ----------
    chain : shared matrix (n_chains, n_hidden)
        The chains' hidden states, zero at the start.
    """

    persistent = True

    def __init__(self, n_chains: int | None = None):
        self.n_chains = None if n_chains is None else check_positive_int(n_chains, "n_chains")
        self.chain = None

    def bind(self, model, n_chains):
        """Make the chains: ``self.n_chains`` of them, or ``n_chains`` when that is None.

        Parameters
        ----------
        model : RBM
        n_chains : int
            The trainer's chain count.

        Returns
        -------
        PersistentContrastiveDivergence
            ``self``, with :attr:`chain` made (zeros).
        """
        n_chains = self.n_chains or n_chains
        self.chain = backend.shared(np.zeros((n_chains, model.n_hidden)), "persistent_chain", model.dtype)
        return self

    def build(self, model, k):
        """The model's PCD-k graph on :attr:`chain` (:meth:`rbm.RBM.get_cost_gradients`).

        Parameters
        ----------
        model : RBM
        k : int >= 1
            Gibbs steps.

        Returns
        -------
        tuple
            (monitoring cost, gradients of ``model.params``, updates).
        """
        return model.get_cost_gradients(self.chain, k)

    @property
    def state_variables(self):
        """``{"persistent_chain": chain}``."""
        return {"persistent_chain": self.chain}

    def __repr__(self):
        return f"PersistentContrastiveDivergence(n_chains={self.n_chains})"
