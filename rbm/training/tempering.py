"""Parallel tempering for the negative phase (Desjardins et al., AISTATS 2010; Cho et al., IJCNN 2010).

Each persistent chain is a ladder of replicas at inverse temperatures
0 <= beta_1 < ... < beta_T = 1, replica t sampling the intermediate model of
annealing at beta_t (:mod:`rbm.layers`): p_t(v, h) proportional to
f_t(v, h) = exp(-E_A(v) + beta_t D(v, h)), with E_A the energy of the visible
layer's base model without weights (uniform binary or categorical units, the
Gaussian units' own N(b, sigma^2)) and D = E_A - E. For binary units this is
exp(-beta_t E(v, h)). Hot replicas (small beta) mix fast, and swaps between
neighbours carry their states down to beta = 1, whose visible states give the
model statistics of the gradient. Swapping replicas t and t + 1 is accepted
with probability min(1, exp((beta_t - beta_(t+1)) (D(x_(t+1)) - D(x_t)))),
which keeps the joint distribution of the ladder invariant; even and odd
neighbour pairs alternate from one update to the next.
"""
import numpy as np

from .. import backend
from ..backend import pt
from ..validation import check_array, check_positive_int
from .negative_phases import NegativePhase

__all__ = ["ParallelTempering", "check_betas"]


def check_betas(tempering):
    """Inverse temperatures from ``tempering``: an int n >= 2 (n evenly spaced from 0 to 1) or increasing values ending at 1.

    Parameters
    ----------
    tempering : int or array
        :class:`rbm.Trainer`'s ``tempering`` argument.

    Returns
    -------
    array of float64
        Increasing strictly from >= 0 to exactly 1.

    Examples
    --------
    >>> from rbm.training.tempering import check_betas
    >>> check_betas(5)
    array([0.  , 0.25, 0.5 , 0.75, 1.  ])
    """
    if isinstance(tempering, (int, np.integer)) and not isinstance(tempering, bool):
        n = check_positive_int(tempering, "tempering", minimum=2)
        return np.linspace(0.0, 1.0, n)
    betas = check_array(tempering, "tempering", ndim=1).astype(np.float64)
    if len(betas) < 2 or betas[0] < 0 or betas[-1] != 1.0 or np.any(np.diff(betas) <= 0):
        raise ValueError("tempering must be a number of temperatures >= 2 or inverse temperatures that "
                         f"increase strictly from >= 0 to exactly 1, got {tempering!r}")
    return betas


class ParallelTempering(NegativePhase):
    """The state and the graph of the tempered negative phase of an :class:`rbm.RBM`, for any visible layer.

    :class:`rbm.Trainer` builds one for ``tempering=...``.

    Parameters
    ----------
    model : RBM
        The RBM (binary, Gaussian or categorical visible units).
    betas : int or array
        The inverse temperatures (see :func:`check_betas`).
    n_chains : int
        Ladders of replicas.

    Attributes
    ----------
    chains : shared tensor (n_temperatures, n_chains, n_hidden)
        The replicas' hidden states.
    accepted, proposed : shared vectors (n_temperatures - 1,)
        Swaps per neighbour pair (float64, reset by :meth:`reset_counts`).
    """

    persistent = True

    def __init__(self, model, betas, n_chains):
        self.model = model
        self.betas = check_betas(betas)
        n_temperatures = len(self.betas)
        self.n_chains = n_chains
        self.chains = backend.shared(np.zeros((n_temperatures, n_chains, model.n_hidden)), "tempered_chains",
                                     model.dtype)
        self.step = backend.pytensor.shared(np.int64(0), name="tempering_step")
        self.accepted = backend.pytensor.shared(np.zeros(n_temperatures - 1), name="swaps_accepted")
        self.proposed = backend.pytensor.shared(np.zeros(n_temperatures - 1), name="swaps_proposed")

    @property
    def state_variables(self):
        """dict: name -> shared variable of the ladder's state, for checkpoints."""
        return {"tempered_chains": self.chains, "tempering_step": self.step,
                "swaps_accepted": self.accepted, "swaps_proposed": self.proposed}

    def base_bias(self):
        """b_A, the visible biases of the base model at beta = 0: zero (uniform units; Gaussian units keep b).

        Returns
        -------
        symbolic vector (n_visible_units,)
            Zeros in the model's dtype.
        """
        return pt.zeros((self.model.n_visible_units,), dtype=self.model.dtype)

    def annealed_part(self, v, h):
        """D(v, h) = E_A(v) - E(v, h) = (b - b_A).v + c.h + s(v)^T W h, one value per row: log f_beta grows as beta D.

        Parameters
        ----------
        v, h : symbolic matrices (rows, n_visible_units), (rows, n_hidden)

        Returns
        -------
        symbolic vector (rows,)
            D for each row (for binary units, with b_A = 0, minus the energy).
        """
        model = self.model
        visible = model.visible.log_f_visible_difference(v, 1.0, 0.0, model.vbias, self.base_bias())
        return visible + pt.dot(h, model.hbias) + pt.sum(pt.dot(model.visible.scale(v), model.W) * h, axis=-1)

    def negative_phase(self, k):
        """(visible states at beta = 1, updates) after k Gibbs steps of every replica and one swap round.

        Draws with ``model._uniform``: call it inside ``model.drawing_from()``.

        Parameters
        ----------
        k : int >= 1
            Gibbs steps per replica.

        Returns
        -------
        chain_end : symbolic matrix (n_chains, n_visible)
            The visible states of the beta = 1 replicas, for the gradient.
        updates : dict
            The ladder's new state and swap counts.
        """
        model, dtype, visible = self.model, self.model.dtype, self.model.visible
        # The replicas as rows (temperature-major), so that every layer's graph sees a matrix; each row's beta.
        # Static sizes for the random draws: JAX needs them known when it compiles.
        ladder = (len(self.betas), self.n_chains)
        rows = ladder[0] * ladder[1]
        beta = pt.repeat(pt.constant(self.betas.astype(dtype)), ladder[1])[:, None]  # (a small constant to compile)
        h = pt.specify_shape(self.chains, (*ladder, model.n_hidden)).reshape((rows, model.n_hidden))
        for _ in range(check_positive_int(k, "k")):
            activation = visible.annealed_activation(pt.dot(h, model.W.T), model.vbias, self.base_bias(), beta)
            v = visible.sample(visible.mean(activation), model._uniform, model._normal)
            h_mean = pt.sigmoid(beta * (pt.dot(visible.scale(v), model.W) + model.hbias))
            h = pt.cast(pt.lt(model._uniform((rows, model.n_hidden)), h_mean), dtype)
        annealed = pt.cast(self.annealed_part(v, h), "float64").reshape(ladder)  # (T, n_chains)
        v, h = v.reshape((*ladder, model.n_visible_units)), h.reshape((*ladder, model.n_hidden))
        beta64 = pt.constant(self.betas)[:, None]
        log_ratio = (beta64[:-1] - beta64[1:]) * (annealed[1:] - annealed[:-1])
        pair = pt.arange(len(self.betas) - 1)
        this_round = pt.eq(pair % 2, self.step % 2)[:, None]  # disjoint pairs: even, then odd
        uniform = pt.cast(model._uniform((ladder[0] - 1, ladder[1])), "float64")
        swap = pt.and_(this_round, pt.lt(pt.log(uniform), log_ratio))
        no_swap = pt.zeros_like(swap[:1])
        with_next = pt.concatenate([swap, no_swap])[:, :, None]  # replica t takes t + 1's state
        with_previous = pt.concatenate([no_swap, swap])[:, :, None]  # replica t takes t - 1's state

        def swapped(x):
            following = pt.concatenate([x[1:], x[-1:]])
            preceding = pt.concatenate([x[:1], x[:-1]])
            return pt.switch(with_next, following, pt.switch(with_previous, preceding, x))

        v, h = swapped(v), swapped(h)
        n_chains = float(self.n_chains)
        updates = {self.chains: h, self.step: self.step + 1,
                   self.accepted: self.accepted + pt.sum(swap, axis=1),
                   self.proposed: self.proposed + pt.cast(this_round[:, 0], "float64") * n_chains}
        return v[-1], updates

    def build(self, model, k):
        """(monitoring cost, gradients at the beta = 1 replicas' visible states, updates): the trainer's step.

        Parameters
        ----------
        model : RBM
            The model this ladder was made for.
        k : int >= 1
            Gibbs steps per replica.

        Returns
        -------
        tuple
            The monitoring cost, one gradient per parameter of ``model.params``
            and the ladder's, bit index's and generator's updates.
        """
        with model.drawing_from() as rng_updates:
            chain_end, updates = self.negative_phase(k)
        gradients = model.free_energy_gradients(chain_end)
        cost = model.monitoring_cost(updates, self.chains, None)  # pseudo-likelihood, or reconstruction
        updates.update(rng_updates)
        return cost, gradients, updates

    def epoch_begin(self, mode):
        """Set the swap counts to zero, so that each epoch's record has its own swap rates.

        Parameters
        ----------
        mode : str
            The trainer's compile mode.
        """
        self.reset_counts(mode)

    def epoch_record(self, record):
        """Add ``swap_rates`` (per neighbour pair) to the epoch's ``record``.

        Parameters
        ----------
        record : dict
            The epoch's history record.
        """
        record["swap_rates"] = [float(rate) for rate in self.swap_rates()]

    def reset_counts(self, mode):
        """Set the swap counts to zero (at the start of each epoch).

        Parameters
        ----------
        mode : str
            The trainer's compile mode (the counts live on its device).
        """
        for counter in (self.accepted, self.proposed):
            backend.set_shared_data(counter, np.zeros(len(self.betas) - 1), mode)

    def swap_rates(self):
        """Accepted / proposed swaps per neighbour pair since the last reset.

        Returns
        -------
        array (n_temperatures - 1,) of float64
            NaN where no swap was proposed.
        """
        accepted, proposed = np.asarray(self.accepted.get_value()), np.asarray(self.proposed.get_value())
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(proposed > 0, accepted / np.maximum(proposed, 1), np.nan)
