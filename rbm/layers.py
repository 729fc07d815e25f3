"""Unit types of an RBM's layers: binary (Bernoulli), real-valued (Gaussian) and categorical (softmax) units.

A layer states the maths of its units once, and every model, trainer and
evaluation function reads it from here instead of branching on a model class.
For a visible layer with biases b coupled by weights W to binary hidden units
h (hidden activation a = s(v) W + c, top-down input t = h W^T), a layer gives

- ``scale(v)``: s(v), what multiplies W (v itself, or v / sigma);
- ``activation(t, b)`` and ``mean(activation)``: the conditional p(v | h);
- ``sample(mean, ...)``: a draw from it;
- ``energy_term(v, b)``: its term of the free energy
  F(v) = energy_term(v, b) - sum_j softplus((s(v) W + c)_j);
- ``log_partition_given_input(t, b)``: log of the sum (or integral) over its
  states of exp(-energy_term(v, b) + s(v).t), which sums the layer out
  exactly (for log Z of small models, by enumerating h);
- ``states(start, stop)``: the states of a small layer (to enumerate v instead);
- a base-rate model (no weights) for annealed importance sampling, and the
  visible part of the intermediate models between it and the RBM.

``Bernoulli()``: units in {0, 1}, p(v_i = 1 | h) = sigmoid(t_i + b_i),
energy term -v.b.

``Gaussian(sigma=1.0, learn_sigma=False)``: real units, v | h ~ N(b + sigma t,
sigma^2), energy term sum_i (v_i - b_i)^2 / (2 sigma_i^2), s(v) = v / sigma.

``Categorical(n_categories)``: each variable is a group of K units with
exactly one on, variable-major (variable i owns columns i K .. i K + K - 1);
p(v_i = k | h) = softmax_k(t_ik + b_ik), energy term -v.b. **An all-zero
group is a missing value**: as in Salakhutdinov, Mnih & Hinton (2007),
"Restricted Boltzmann machines for collaborative filtering", the variable is
absent from that row's model (an RBM over the row's observed variables, with
the shared weights), so it adds nothing to the free energy or to p(h | v),
and contrastive divergence leaves it out of the negative phase too (the
reconstruction keeps only the row's observed variables). With no value
missing, the row's model is the whole RBM.

A model binds a layer to its size and float type (:meth:`Layer.bind`), which
makes the layer's own shared parameters (Gaussian's ``log_sigma``).

Examples
--------
>>> import rbm
>>> from rbm.layers import Categorical
>>> model = rbm.RBM(n_visible=3, n_hidden=2, visible=Categorical(4), seed=0)
>>> model, model.W.get_value().shape
(RBM(n_visible=3, n_hidden=2, visible=Categorical(4), dtype='float32'), (12, 2))
"""
import copy
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import expit, logsumexp

from . import backend
from .backend import pt
from .validation import check_array, check_data, check_float, check_positive_int

__all__ = ["Bernoulli", "Categorical", "Gaussian", "Layer", "layer_from_settings"]


def _softplus(x):
    return np.logaddexp(0.0, x)


def _rows(unit_axis):
    """Whether units run along the last axis (one row per chain), not the first (one column per chain)."""
    return unit_axis in (-1, 1)


class Layer:
    """What every unit type provides; see the module's docstring for the maths.

    Attributes
    ----------
    n_variables : int or None
        Variables of the bound layer (None before :meth:`bind`).
    dtype : str or None
        The bound model's float type.
    centering : bool
        Whether centred training (:mod:`rbm.training.centering`) is defined
        for these units (offsets of binary units).
    pseudo_likelihood : bool
        Whether the pseudo-likelihood (one flipped bit) is defined.
    binarizable : bool
        Whether each unit is a 0/1 variable of its own, so that grey-level
        data may be binarised for it (thresholded or drawn).
    unit_interval : bool
        Whether the units' means lie in [0, 1] (drawable as grey levels).
    reconstruction_cost_name : str
        What the units' ``reconstruction_cost`` measures, for plots and logs.
    """

    centering = False
    pseudo_likelihood = False
    binarizable = False
    unit_interval = True
    reconstruction_cost_name = "reconstruction log-probability"
    #: units per variable
    group_size = 1

    def __init__(self):
        self.n_variables = None
        self.dtype = None

    # -------------------------------------------------------------- binding
    def bind(self, n_variables: int, dtype: str) -> "Layer":
        """A copy of this layer for a model of ``n_variables`` variables and float type ``dtype``.

        Parameters
        ----------
        n_variables : int >= 1
        dtype : "float32" or "float64"

        Returns
        -------
        Layer
            The bound copy, with its shared parameters; ``self`` is unchanged.
        """
        bound = copy.copy(self)
        bound.n_variables = check_positive_int(n_variables, "n_visible")
        bound.dtype = dtype
        bound._make_params()
        return bound

    def _make_params(self):
        """Create the bound layer's shared parameters (none for most layers)."""

    def n_units(self, n_variables: int) -> int:
        """Columns (units) of ``n_variables`` variables of this type: n_variables K.

        Parameters
        ----------
        n_variables : int
            Variables of a layer of this type.

        Returns
        -------
        int
            ``n_variables`` times the units per variable, ``group_size`` (K for
            categorical units, 1 for the others).
        """
        return n_variables * self.group_size

    @property
    def units(self) -> int:
        """Units of the bound layer."""
        return self.n_units(self.n_variables)

    def own_params(self) -> dict[str, Any]:
        """The bound layer's own shared arrays, learnt or not, beyond the model's W and biases.

        Returns
        -------
        dict of str to shared variable
            name -> shared variable; empty for binary and categorical units.
            A model saves and sets them with its weights (``get_params``).
        """
        return {}

    def learnt_params(self) -> list:
        """The layer's own shared variables that training moves.

        Returns
        -------
        list of shared variables
            Appended to the model's ``params`` after W, hbias and vbias;
            empty for binary and categorical units.
        """
        return []

    def settings(self) -> dict[str, Any]:
        """The layer's constructor settings, for model files and checkpoints.

        Returns
        -------
        dict
            JSON-serialisable, with the class name under ``"type"``:
            ``layer_from_settings(layer.settings())`` rebuilds the (unbound)
            layer.
        """
        return {"type": type(self).__name__}

    # ------------------------------------------------------------ symbolic
    def scale(self, v, unit_axis=-1):
        """s(v), what multiplies W in the hidden activation a = s(v) W + c: v itself.

        Parameters
        ----------
        v : symbolic matrix (batch, n_units)
            Visible states, one row per chain; (n_units, chains) when
            ``unit_axis`` is 0.
        unit_axis : {-1, 1, 0}, default -1
            The axis along which the units run: -1 or 1 for one row per
            chain, 0 for one column per chain.

        Returns
        -------
        symbolic matrix, the shape of ``v``
            s(v) = v.
        """
        return v

    def activation(self, top_down, bias, unit_axis=-1):
        """The visible activation given the top-down input t = h W^T: a_v = t + b.

        ``mean(a_v)`` is the mean of p(v | h): sigmoid(a_v) for binary units,
        the softmax of each group for categorical ones.

        Parameters
        ----------
        top_down : symbolic matrix (batch, n_units)
            t = h W^T, the hidden states' input to the visible units, one
            row per chain; (n_units, chains) = W h when ``unit_axis`` is 0.
        bias : symbolic vector (n_units,)
            b, the visible biases; a column (n_units, 1) when ``unit_axis``
            is 0.
        unit_axis : {-1, 1, 0}, default -1
            The axis along which the units run: -1 or 1 for one row per
            chain, 0 for one column per chain.

        Returns
        -------
        symbolic matrix, the shape of ``top_down``
            a_v = t + b.
        """
        return top_down + bias

    def annealed_activation(self, top_down, bias, base_bias, beta):
        """The visible activation of the intermediate model at inverse temperature beta.

        The intermediate models of annealed importance sampling interpolate
        between the base model A (no weights, visible biases b_A) and the
        RBM: p_beta(v, h) is proportional to exp(-(1 - beta) E_A(v) - beta
        E(v, h)).

        Parameters
        ----------
        top_down : symbolic matrix (batch, n_units)
            t = h W^T, one row per chain.
        bias : symbolic vector (n_units,)
            b, the RBM's visible biases.
        base_bias : symbolic vector (n_units,)
            b_A, the base model's visible biases (``base_bias_from_data``).
        beta : symbolic scalar
            The inverse temperature, from 0 (the base model) to 1 (the RBM).

        Returns
        -------
        symbolic matrix (batch, n_units)
            beta (t + b) + (1 - beta) b_A, whose ``mean`` is the mean of
            p_beta(v | h).
        """
        return beta * (top_down + bias) + (1 - beta) * base_bias

    def observed(self, v):
        """A 0/1 mask of the units whose variable is observed in each row, or None when every value is.

        Contrastive divergence multiplies the reconstruction by the mask, so
        that each row's negative phase runs that row's own model.

        Parameters
        ----------
        v : symbolic matrix (batch, n_units)
            Visible rows (data).

        Returns
        -------
        None
            Binary and Gaussian units have no missing values.
        """
        return None

    def log_f_visible_difference(self, v, beta, previous_beta, bias, base_bias):
        """The visible part of log f_beta(v) - log f_previous(v): (beta - previous_beta) v.(b - b_A).

        Along the annealing path (see ``annealed_activation``), the
        unnormalised marginal of the intermediate model at beta is f_beta(v) =
        exp(visible part) prod_j (1 + exp(beta a_j)); annealed importance
        sampling adds log f_beta(v) - log f_previous(v) to each run's log
        weight. This method gives the visible part of that difference (the
        hidden part is the same for every layer).

        Parameters
        ----------
        v : symbolic matrix (batch, n_units), float64
            The runs' current visible states.
        beta, previous_beta : symbolic scalars
            The new and the previous inverse temperature.
        bias : symbolic vector (n_units,), float64
            b, the RBM's visible biases.
        base_bias : symbolic vector (n_units,), float64
            b_A, the base model's visible biases.

        Returns
        -------
        symbolic vector (batch,), float64
            (beta - previous_beta) v.(b - b_A), one value per row: the visible
            part of log f_beta(v) is beta v.b + (1 - beta) v.b_A.
        """
        return (beta - previous_beta) * pt.dot(v, bias - base_bias)

    # -------------------------------------------------------------- numpy
    def np_scale(self, v):
        """s(v) in numpy (see :meth:`scale`): v itself.

        Parameters
        ----------
        v : ndarray (rows, n_units)
            Visible states.

        Returns
        -------
        ndarray (rows, n_units)
            s(v) = v.
        """
        return v

    def np_energy_term(self, v, bias):
        """The layer's term e(v) of the free energy, in numpy: -v.b.

        F(v) = e(v) - sum_j softplus((s(v) W + c)_j).

        Parameters
        ----------
        v : ndarray (rows, n_units)
            Visible states.
        bias : ndarray (n_units,)
            b, the visible biases.

        Returns
        -------
        ndarray (rows,)
            e(v) = -v.b, one value per row.
        """
        return -v @ bias

    def np_free_energy(self, v, W, hbias, vbias):
        """F(v) for each row of ``v`` in numpy, with binary hidden units: e(v) - sum_j softplus((s(v) W + c)_j).

        Parameters
        ----------
        v : ndarray (rows, n_units)
            Visible states (complete rows).
        W : ndarray (n_units, n_hidden)
        hbias, vbias : ndarray (n_hidden,), (n_units,)
            c and b.

        Returns
        -------
        ndarray (rows,)
            The free energy of each row; log p(v) = -F(v) - log Z.
        """
        return self.np_energy_term(v, vbias) - _softplus(self.np_scale(v) @ W + hbias).sum(axis=1)

    def np_sample(self, top_down, bias, generator):
        """A draw from p(v | h) in numpy, given the top-down input t = h W^T: v_i = 1 where u_i < sigmoid(t_i + b_i).

        Parameters
        ----------
        top_down : ndarray (rows, n_units)
            t = h W^T, one row per chain.
        bias : ndarray (n_units,)
            b, the visible biases.
        generator : numpy RandomState or Generator
            Draws ``rows x n_units`` uniforms, in row order.

        Returns
        -------
        ndarray (rows, n_units), float64
            0/1 states.
        """
        probabilities = expit(top_down + bias)
        return (generator.uniform(size=probabilities.shape) < probabilities).astype(np.float64)

    def n_states(self) -> float:
        """How many states the bound layer has (infinite for real units).

        Returns
        -------
        int or float
            2^n for n binary units, K^n for n categorical variables of K
            categories, ``inf`` for Gaussian units.
        """
        raise NotImplementedError

    def states(self, start: int, stop: int) -> np.ndarray:
        """States start .. stop - 1 of the bound layer's enumeration, as rows.

        Exact log Z enumerates the visible states in batches this way when
        the visible layer has fewer states than the hidden one.

        Parameters
        ----------
        start, stop : int
            0 <= start <= stop <= ``n_states()``.

        Returns
        -------
        ndarray (stop - start, n_units), float64
            One state per row, in the order of the enumeration.
        """
        raise NotImplementedError

    def log_partition_given_input(self, top_down, bias):
        """log sum_v exp(-e(v) + s(v).t) for each row t of ``top_down``, in numpy: the layer summed out.

        With e the layer's energy term (:meth:`np_energy_term`) and s its
        scaling (:meth:`np_scale`); an integral over v for real units. Exact
        log Z is logsumexp_h [h.c + this(h W^T, b)].

        Parameters
        ----------
        top_down : ndarray (rows, n_units)
            t = h W^T, one row per hidden state h.
        bias : ndarray (n_units,)
            b, the visible biases.

        Returns
        -------
        ndarray (rows,), float64
            One log-sum (or log-integral) per row of ``top_down``.
        """
        raise NotImplementedError

    def base_bias_from_data(self, data):
        """The visible biases b_A of the base model of annealed importance sampling.

        The base model has no weights; fitting b_A to the data's per-unit
        means (Salakhutdinov & Murray 2008) makes it closer to the RBM.

        Parameters
        ----------
        data : ndarray (rows, n_units) or None
            Rows checked by the model (``check_data``), or None for the
            uniform base model.

        Returns
        -------
        ndarray (n_units,), float64
            b_A.
        """
        raise NotImplementedError

    def base_log_partition(self, base_bias):
        """log Z of the visible part of the base model (no weights); its free hidden units add n_hidden log 2.

        Parameters
        ----------
        base_bias : ndarray (n_units,)
            b_A, from ``base_bias_from_data``.

        Returns
        -------
        float
            log of the sum (or integral) over v of the base model's
            unnormalised p_A(v).
        """
        raise NotImplementedError

    def sample_base(self, base_bias, bias, n, generator):
        """``n`` independent rows drawn from the visible part of the base model, in numpy.

        The starting states of annealed importance sampling.

        Parameters
        ----------
        base_bias : ndarray (n_units,)
            b_A, from ``base_bias_from_data``.
        bias : ndarray (n_units,)
            b, the RBM's visible biases.
        n : int
            Rows to draw (the annealing runs).
        generator : numpy.random.Generator
            The source of the draws.

        Returns
        -------
        ndarray (n, n_units), float64
            One draw from p_A(v) per row.
        """
        raise NotImplementedError

    def check_data(self, data: ArrayLike, n_variables: int, name: str = "data") -> np.ndarray:
        """``data`` checked as rows of this layer: a non-empty finite 2-D array of :meth:`n_units` columns.

        Parameters
        ----------
        data : array_like (rows, n_units)
            The rows to check.
        n_variables : int
            The model's visible variables (n_visible).
        name : str, default "data"
            What the error messages call ``data``.

        Returns
        -------
        ndarray (rows, n_units)
            ``data`` as a numpy array.

        Raises
        ------
        TypeError
            ``data`` is not a numeric array.
        ValueError
            ``data`` has another shape, no rows, or values the units cannot
            take.
        """
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"

    def __eq__(self, other):
        return type(self) is type(other) and self.settings() == other.settings()

    def __hash__(self):
        return hash(repr(self))


class Bernoulli(Layer):
    """Binary units: p(v_i = 1 | h) = sigmoid(t_i + b_i), energy term -v.b.

    Examples
    --------
    >>> from rbm.layers import Bernoulli
    >>> Bernoulli().bind(3, "float64").n_states()
    8
    """

    centering = True
    pseudo_likelihood = True
    binarizable = True
    reconstruction_cost_name = "reconstruction cross-entropy"

    def mean(self, activation, unit_axis=-1):
        """The mean of p(v | h) given the visible activation: sigmoid(a_v) = p(v_i = 1 | h).

        Parameters
        ----------
        activation : symbolic matrix (batch, n_units)
            a_v, from ``activation`` or ``annealed_activation``, one row per
            chain; (n_units, chains) when ``unit_axis`` is 0.
        unit_axis : {-1, 1, 0}, default -1
            The axis along which the units run: -1 or 1 for one row per
            chain, 0 for one column per chain.

        Returns
        -------
        symbolic matrix, the shape of ``activation``
            sigmoid(a_v), in (0, 1).
        """
        return pt.sigmoid(activation)

    def sample(self, mean, uniform, normal, unit_axis=-1):
        """A draw from p(v | h): v_i = 1 where u_i < mean_i, u uniform in [0, 1).

        Exactly Bernoulli(mean), and cheaper than a binomial draw; ``normal``
        is not used.

        Parameters
        ----------
        mean : symbolic matrix (batch, n_units)
            The mean of p(v | h), from ``mean``, one row per chain;
            (n_units, chains) when ``unit_axis`` is 0.
        uniform, normal : callable
            shape -> symbolic draws of that shape, uniform in [0, 1) and
            standard normal (the model's random stream).
        unit_axis : {-1, 1, 0}, default -1
            The axis along which the units run: -1 or 1 for one row per
            chain, 0 for one column per chain.

        Returns
        -------
        symbolic matrix, the shape and dtype of ``mean``
            0/1 states.
        """
        return pt.cast(pt.lt(uniform(mean.shape), mean), mean.dtype)

    def energy_term(self, v, bias):
        """The layer's term e(v) of the free energy F(v) = e(v) - sum_j softplus((v W + c)_j): -v.b.

        Parameters
        ----------
        v : symbolic matrix (batch, n_units)
            Visible states.
        bias : symbolic vector (n_units,)
            b, the visible biases.

        Returns
        -------
        symbolic vector (batch,)
            e(v) = -v.b, one value per row.
        """
        return -pt.dot(v, bias)

    def reconstruction_cost(self, x, activation):
        """The reconstruction log-probability: the mean over rows of sum_i log p(x_i | a_i).

        log p(x_i | a_i) = x_i a_i - softplus(a_i), computed from the
        activation so that no log of a rounded sigmoid appears; the negative
        of the reconstruction cross-entropy.

        Parameters
        ----------
        x : symbolic matrix (batch, n_units)
            The minibatch's data.
        activation : symbolic matrix (batch, n_units)
            a_v of the reconstruction, the visible activation after one
            up-down pass from ``x``.

        Returns
        -------
        symbolic scalar
            mean over rows of sum_i x_i a_i - softplus(a_i) (<= 0; the higher
            the better).
        """
        return pt.mean(pt.sum(x * activation - pt.softplus(activation), axis=1))

    def n_states(self):
        """How many states the bound layer has: 2^n for n binary units.

        Returns
        -------
        int
            2^n_variables.
        """
        return 2 ** self.n_variables

    def states(self, start, stop):
        """States start .. stop - 1 of the binary units, as rows: state s has v_i = bit i of s.

        Parameters
        ----------
        start, stop : int
            0 <= start <= stop <= ``n_states()``.

        Returns
        -------
        ndarray (stop - start, n_units), float64
            0/1 rows; unit i of state s is (s >> i) & 1.
        """
        return ((np.arange(start, stop)[:, None] >> np.arange(self.n_variables)) & 1).astype(np.float64)

    def log_partition_given_input(self, top_down, bias):
        """log sum_v exp(v.(t + b)) for each row t of ``top_down``: sum_i softplus(t_i + b_i).

        Each binary unit sums out on its own: log(1 + exp(t_i + b_i)).

        Parameters
        ----------
        top_down : ndarray (rows, n_units)
            t = h W^T, one row per hidden state h.
        bias : ndarray (n_units,)
            b, the visible biases.

        Returns
        -------
        ndarray (rows,), float64
            sum_i softplus(t_i + b_i), one value per row.
        """
        return _softplus(top_down + bias).sum(axis=1)

    def base_bias_from_data(self, data):
        """The base model's biases: b_A,i = log(p_i / (1 - p_i)) of the per-unit means p_i of ``data``.

        p is clipped to [1e-3, 1 - 1e-3] so that a unit always (or never) on
        in the data keeps a finite bias.

        Parameters
        ----------
        data : ndarray (rows, n_units) or None
            Rows checked by the model (``check_data``), or None for the
            uniform base model.

        Returns
        -------
        ndarray (n_units,), float64
            b_A: the logits of p, or zeros (every unit on with probability
            1/2) when ``data`` is None.
        """
        if data is None:
            return np.zeros(self.units)
        p = np.clip(np.mean(data, axis=0, dtype=np.float64), 1e-3, 1 - 1e-3)
        return np.log(p) - np.log1p(-p)

    def base_log_partition(self, base_bias):
        """log Z of the visible part of the base model p_A(v) ~ exp(v.b_A): sum_i softplus(b_A,i).

        Parameters
        ----------
        base_bias : ndarray (n_units,)
            b_A, from ``base_bias_from_data``.

        Returns
        -------
        float
            sum_i softplus(b_A,i).
        """
        return float(_softplus(base_bias).sum())

    def sample_base(self, base_bias, bias, n, generator):
        """``n`` rows drawn from the base model: independent v_i ~ Bernoulli(sigmoid(b_A,i)).

        ``bias`` is not used: the base model's biases are b_A.

        Parameters
        ----------
        base_bias : ndarray (n_units,)
            b_A, from ``base_bias_from_data``.
        bias : ndarray (n_units,)
            b, the RBM's visible biases.
        n : int
            Rows to draw (the annealing runs).
        generator : numpy.random.Generator
            The source of the draws.

        Returns
        -------
        ndarray (n, n_units), float64
            0/1 rows.
        """
        return (generator.random((n, self.units)) < 1 / (1 + np.exp(-base_bias))).astype(np.float64)

    def check_data(self, data, n_variables, name="data"):
        """``data`` checked as rows of binary units: a non-empty 2-D array in [0, 1], ``n_variables`` wide.

        Values between 0 and 1 (grey levels, probabilities) are accepted.

        Parameters
        ----------
        data : array_like (rows, n_units)
            The rows to check.
        n_variables : int
            The model's visible variables (n_visible).
        name : str, default "data"
            What the error messages call ``data``.

        Returns
        -------
        ndarray (rows, n_units)
            ``data`` as a numpy array.

        Raises
        ------
        TypeError
            ``data`` is not a numeric array.
        ValueError
            ``data`` is not 2-D, has no rows, another width, or values
            outside [0, 1] (or NaN).
        """
        return check_data(data, n_variables, name)


class Gaussian(Layer):
    """Real-valued units of standard deviation sigma: v | h ~ N(b + sigma t, sigma^2).

    The energy term is sum_i (v_i - b_i)^2 / (2 sigma_i^2) and the hidden
    units see v / sigma. sigma is the exponential of the parameter
    ``log_sigma`` (learnt when ``learn_sigma``), so it stays positive.

    Parameters
    ----------
    sigma : float or array (n_visible,) > 0, default 1.0
    learn_sigma : bool, default False

    Examples
    --------
    >>> from rbm.layers import Gaussian
    >>> Gaussian(sigma=0.5)
    Gaussian(sigma=0.5, learn_sigma=False)
    """

    unit_interval = False
    reconstruction_cost_name = "reconstruction mean squared error"

    def __init__(self, sigma: float | ArrayLike = 1.0, learn_sigma: bool = False):
        super().__init__()
        if not isinstance(learn_sigma, bool):
            raise TypeError(f"learn_sigma must be True or False, got {learn_sigma!r}")
        if np.ndim(sigma) == 0:
            check_float(sigma, "sigma", low=0.0, low_inclusive=False)
        self.sigma_init = sigma
        self.learn_sigma = learn_sigma

    @staticmethod
    def check_sigma(sigma, n_variables):
        """``sigma`` checked as a float array (n_variables,) of positive values; a number applies to every unit.

        Parameters
        ----------
        sigma : float or array_like (n_variables,)
            Standard deviations, > 0.
        n_variables : int
            The layer's units.

        Returns
        -------
        ndarray (n_variables,), float64

        Raises
        ------
        TypeError
            ``sigma`` is not a number or a numeric array.
        ValueError
            ``sigma`` has another shape, or a value <= 0 or not finite.
        """
        if np.ndim(sigma) == 0 and not isinstance(sigma, (str, bytes)) and sigma is not None:
            sigma = np.full(n_variables, check_float(sigma, "sigma"))
        sigma = check_array(sigma, "sigma", ndim=1, shape=(n_variables,)).astype(float)
        if np.any(sigma <= 0):
            raise ValueError("sigma must be > 0 for every visible unit")
        return sigma

    def _make_params(self):
        self.log_sigma = backend.shared(np.log(self.check_sigma(self.sigma_init, self.n_variables)),
                                        "log_sigma", self.dtype)
        #: symbolic standard deviations, exp(log_sigma)
        self.sigma = pt.exp(self.log_sigma)

    def own_params(self):
        """The bound layer's own shared array: ``log_sigma``, learnt or not.

        Returns
        -------
        dict of str to shared variable
            ``{"log_sigma": log_sigma}``, a vector (n_visible,): sigma = exp(log_sigma).
        """
        return {"log_sigma": self.log_sigma}

    def learnt_params(self):
        """The layer's own shared variables that training moves: ``log_sigma`` when ``learn_sigma``.

        Returns
        -------
        list of shared variables
            ``[log_sigma]`` when ``learn_sigma``, else empty (sigma stays fixed).
        """
        return [self.log_sigma] if self.learn_sigma else []

    def settings(self):
        """The layer's constructor settings, for model files and checkpoints.

        sigma itself is an array of the model (``log_sigma``, see
        :meth:`own_params`), saved with its weights, so it is not a setting.

        Returns
        -------
        dict
            ``{"type": "Gaussian", "learn_sigma": learn_sigma}``.
        """
        return {"type": "Gaussian", "learn_sigma": self.learn_sigma}

    def get_sigma(self) -> np.ndarray:
        """The bound layer's standard deviations, sigma = exp(log_sigma).

        Returns
        -------
        ndarray (n_visible,), float64
            A new array.
        """
        return np.exp(np.asarray(self.log_sigma.get_value(borrow=True), dtype=np.float64))

    def _sigma_along(self, unit_axis):
        return self.sigma if _rows(unit_axis) else self.sigma[:, None]

    def scale(self, v, unit_axis=-1):
        """s(v), what multiplies W in the hidden activation a = s(v) W + c: v / sigma.

        Parameters
        ----------
        v : symbolic matrix (batch, n_units)
            Visible states, one row per chain; (n_units, chains) when
            ``unit_axis`` is 0.
        unit_axis : {-1, 1, 0}, default -1
            The axis along which the units run: -1 or 1 for one row per
            chain, 0 for one column per chain.

        Returns
        -------
        symbolic matrix, the shape of ``v``
            v_i / sigma_i.
        """
        return v / self._sigma_along(unit_axis)

    def activation(self, top_down, bias, unit_axis=-1):
        """The visible activation given the top-down input t = h W^T: the mean a_v = b + sigma t.

        The activation of a Gaussian unit is its mean: v | h ~ N(b + sigma
        t, sigma^2).

        Parameters
        ----------
        top_down : symbolic matrix (batch, n_units)
            t = h W^T, the hidden states' input to the visible units, one
            row per chain; (n_units, chains) = W h when ``unit_axis`` is 0.
        bias : symbolic vector (n_units,)
            b, the visible biases; a column (n_units, 1) when ``unit_axis``
            is 0.
        unit_axis : {-1, 1, 0}, default -1
            The axis along which the units run: -1 or 1 for one row per
            chain, 0 for one column per chain.

        Returns
        -------
        symbolic matrix, the shape of ``top_down``
            a_v,i = b_i + sigma_i t_i.
        """
        return bias + self._sigma_along(unit_axis) * top_down

    def annealed_activation(self, top_down, bias, base_bias, beta):
        """The visible activation of the intermediate model at inverse temperature beta: b + beta sigma t.

        The base model keeps the units' own Gaussians N(b, sigma^2) and drops
        W, so only the top-down input is annealed: v | h ~ N(b + beta sigma
        t, sigma^2) at beta.

        The intermediate models of annealed importance sampling interpolate
        between the base model A (no weights, visible biases b_A) and the
        RBM: p_beta(v, h) is proportional to exp(-(1 - beta) E_A(v) - beta
        E(v, h)).

        Parameters
        ----------
        top_down : symbolic matrix (batch, n_units)
            t = h W^T, one row per chain.
        bias : symbolic vector (n_units,)
            b, the RBM's visible biases.
        base_bias : symbolic vector (n_units,)
            b_A, the base model's visible biases; not used (the base model
            keeps b).
        beta : symbolic scalar
            The inverse temperature, from 0 (the base model) to 1 (the RBM).

        Returns
        -------
        symbolic matrix (batch, n_units)
            b_i + beta sigma_i t_i, the mean of p_beta(v | h).
        """
        return bias + beta * self.sigma * top_down

    def mean(self, activation, unit_axis=-1):
        """The mean of p(v | h) given the visible activation: the activation itself.

        Parameters
        ----------
        activation : symbolic matrix (batch, n_units)
            a_v, from ``activation`` or ``annealed_activation``, one row per
            chain; (n_units, chains) when ``unit_axis`` is 0.
        unit_axis : {-1, 1, 0}, default -1
            The axis along which the units run: -1 or 1 for one row per
            chain, 0 for one column per chain.

        Returns
        -------
        symbolic matrix, the shape of ``activation``
            ``activation``, unchanged (a Gaussian unit's activation is its mean).
        """
        return activation

    def sample(self, mean, uniform, normal, unit_axis=-1):
        """A draw from p(v | h) = N(mean, sigma^2): v_i = mean_i + sigma_i z_i, z standard normal.

        ``uniform`` is not used.

        Parameters
        ----------
        mean : symbolic matrix (batch, n_units)
            The mean of p(v | h), from ``mean``, one row per chain;
            (n_units, chains) when ``unit_axis`` is 0.
        uniform, normal : callable
            shape -> symbolic draws of that shape, uniform in [0, 1) and
            standard normal (the model's random stream).
        unit_axis : {-1, 1, 0}, default -1
            The axis along which the units run: -1 or 1 for one row per
            chain, 0 for one column per chain.

        Returns
        -------
        symbolic matrix, the shape and dtype of ``mean``
            Real states.
        """
        return mean + self._sigma_along(unit_axis) * normal(mean.shape)

    def energy_term(self, v, bias):
        """The layer's term e(v) of the free energy F(v) = e(v) - sum_j softplus((v / sigma W + c)_j).

        e(v) = sum_i (v_i - b_i)^2 / (2 sigma_i^2).

        Parameters
        ----------
        v : ndarray (rows, n_units)
            Visible states.
        bias : ndarray (n_units,)
            b, the visible biases.

        Returns
        -------
        ndarray (rows,)
            e(v), one value per row.
        """
        return pt.sum(pt.sqr(v - bias) / (2 * pt.sqr(self.sigma)), axis=1)

    def reconstruction_cost(self, x, mean):
        """The reconstruction mean squared error: the mean over all entries of (x - mean)^2.

        Parameters
        ----------
        x : symbolic matrix (batch, n_units)
            The minibatch's data.
        mean : symbolic matrix (batch, n_units)
            The reconstruction's mean (a Gaussian unit's activation is its
            mean), after one up-down pass from ``x``.

        Returns
        -------
        symbolic scalar
            mean_(r, i) (x_ri - mean_ri)^2 (>= 0; the lower the better).
        """
        return pt.mean(pt.sqr(x - mean))

    def log_f_visible_difference(self, v, beta, previous_beta, bias, base_bias):
        """The visible part of log f_beta(v) - log f_previous(v): 0.

        The base model shares the Gaussian term -sum_i (v_i - b_i)^2 / (2
        sigma_i^2), which is the same at every temperature.

        Along the annealing path (see ``annealed_activation``), the
        unnormalised marginal of the intermediate model at beta is f_beta(v) =
        exp(visible part) prod_j (1 + exp(beta a_j)); annealed importance
        sampling adds log f_beta(v) - log f_previous(v) to each run's log
        weight. This method gives the visible part of that difference (the
        hidden part is the same for every layer).

        Parameters
        ----------
        v : symbolic matrix (batch, n_units), float64
            The runs' current visible states.
        beta, previous_beta : symbolic scalars
            The new and the previous inverse temperature.
        bias : symbolic vector (n_units,), float64
            b, the RBM's visible biases.
        base_bias : symbolic vector (n_units,), float64
            b_A, the base model's visible biases.

        Returns
        -------
        symbolic vector (batch,), float64
            Zeros.
        """
        return pt.zeros((v.shape[0],), dtype="float64")

    def np_scale(self, v):
        """s(v) in numpy (see :meth:`scale`): v / sigma.

        Parameters
        ----------
        v : ndarray (rows, n_units)
            Visible states.

        Returns
        -------
        ndarray (rows, n_units)
            v_i / sigma_i (sparse when ``v`` is a scipy sparse matrix).
        """
        if hasattr(v, "multiply"):  # a scipy sparse matrix: divide its stored values only
            return v.multiply(1.0 / self.get_sigma()).tocsr()
        return v / self.get_sigma()

    def np_energy_term(self, v, bias):
        """The layer's term e(v) of the free energy, in numpy: sum_i (v_i - b_i)^2 / (2 sigma_i^2).

        Parameters
        ----------
        v : ndarray (rows, n_units)
            Visible states.
        bias : ndarray (n_units,)
            b, the visible biases.

        Returns
        -------
        ndarray (rows,)
            e(v), one value per row.
        """
        return (((v - bias) / self.get_sigma()) ** 2 / 2).sum(axis=1)

    def np_sample(self, top_down, bias, generator):
        """A draw from p(v | h) = N(b + sigma t, sigma^2) in numpy, given t = h W^T.

        Parameters
        ----------
        top_down : ndarray (rows, n_units)
            t = h W^T, one row per chain.
        bias : ndarray (n_units,)
            b, the visible biases.
        generator : numpy RandomState or Generator
            Draws rows x n_units standard normals, in row order.

        Returns
        -------
        ndarray (rows, n_units), float64
            Real states.
        """
        sigma = self.get_sigma()
        mean = bias + sigma * top_down
        return mean + sigma * generator.standard_normal(mean.shape)

    def n_states(self):
        """How many states the bound layer has: infinitely many for real units.

        Returns
        -------
        float
            ``inf``: exact log Z enumerates the hidden layer instead.
        """
        return float("inf")

    def log_partition_given_input(self, top_down, bias):
        """log of the integral over v of exp(-e(v) + (v / sigma).t) for each row t of ``top_down``.

        Each v_i integrates out on its own (a Gaussian integral):
        sum_i b_i t_i / sigma_i + t_i^2 / 2 + log(sqrt(2 pi) sigma_i).

        Parameters
        ----------
        top_down : ndarray (rows, n_units)
            t = h W^T, one row per hidden state h.
        bias : ndarray (n_units,)
            b, the visible biases.

        Returns
        -------
        ndarray (rows,), float64
            One log-integral per row of ``top_down``.
        """
        sigma = self.get_sigma()
        return ((top_down * (bias / sigma) + top_down ** 2 / 2).sum(axis=1)
                + np.sum(np.log(np.sqrt(2 * np.pi) * sigma)))

    def base_bias_from_data(self, data):
        """The base model's biases: zeros, since Gaussian units anneal from their own Gaussians N(b, sigma^2).

        Parameters
        ----------
        data : None
            Must be None: the base model of Gaussian units does not depend on
            the data.

        Returns
        -------
        ndarray (n_units,), float64
            Zeros (not used by the Gaussian base model).

        Raises
        ------
        ValueError
            ``data`` is not None.
        """
        if data is not None:
            raise ValueError("Gaussian visible units anneal from their own Gaussians: base_rate must be None")
        return np.zeros(self.units)

    def base_log_partition(self, base_bias):
        """log Z of the visible part of the base model, independent N(b_i, sigma_i^2): sum_i log(sqrt(2 pi) sigma_i).

        Parameters
        ----------
        base_bias : ndarray (n_units,)
            b_A, from ``base_bias_from_data``; not used.

        Returns
        -------
        float
            sum_i log(sqrt(2 pi) sigma_i).
        """
        return float(np.sum(np.log(np.sqrt(2 * np.pi) * self.get_sigma())))

    def sample_base(self, base_bias, bias, n, generator):
        """``n`` rows drawn from the base model: independent v_i ~ N(b_i, sigma_i^2).

        ``base_bias`` is not used: the base model keeps the RBM's biases b.

        Parameters
        ----------
        base_bias : ndarray (n_units,)
            b_A, from ``base_bias_from_data``.
        bias : ndarray (n_units,)
            b, the RBM's visible biases.
        n : int
            Rows to draw (the annealing runs).
        generator : numpy.random.Generator
            The source of the draws.

        Returns
        -------
        ndarray (n, n_units), float64
            Real rows.
        """
        return bias + self.get_sigma() * generator.standard_normal((n, self.units))

    def check_data(self, data, n_variables, name="data"):
        """``data`` checked as rows of Gaussian units: a non-empty finite 2-D array, ``n_variables`` wide.

        Parameters
        ----------
        data : array_like (rows, n_units)
            The rows to check.
        n_variables : int
            The model's visible variables (n_visible).
        name : str, default "data"
            What the error messages call ``data``.

        Returns
        -------
        ndarray (rows, n_units)
            ``data`` as a numpy array.

        Raises
        ------
        TypeError
            ``data`` is not a numeric array.
        ValueError
            ``data`` is not 2-D, has no rows, another width, or NaN or
            infinite values.
        """
        array = check_array(data, name, ndim=2)
        if array.shape[0] == 0:
            raise ValueError(f"{name} is empty: it has no rows")
        if array.shape[1] != n_variables:
            raise ValueError(f"{name} has {array.shape[1]} columns but the model has {n_variables} visible units")
        return array

    def __repr__(self):
        sigma = self.sigma_init if np.ndim(self.sigma_init) == 0 else "array"
        return f"Gaussian(sigma={sigma}, learn_sigma={self.learn_sigma})"


class Categorical(Layer):
    """Softmax units: each variable a group of K units, one on; an all-zero group is a missing value.

    p(v_i = k | h) = exp(t_ik + b_ik) / sum_l exp(t_il + b_il); energy term
    -v.b. Columns are variable-major: variable i owns columns i K .. i K + K - 1.

    Parameters
    ----------
    n_categories : int >= 2
        K, the states of each variable.

    Examples
    --------
    >>> from rbm.layers import Categorical
    >>> Categorical(5).bind(3, "float64").units
    15
    """

    def __init__(self, n_categories: int):
        super().__init__()
        self.n_categories = check_positive_int(n_categories, "n_categories", minimum=2)

    @property
    def group_size(self):
        """Units per variable: K, the categories."""
        return self.n_categories

    def settings(self):
        """The layer's constructor settings, for model files and checkpoints.

        Returns
        -------
        dict
            ``{"type": "Categorical", "n_categories": K}``.
        """
        return {"type": "Categorical", "n_categories": self.n_categories}

    def _groups(self, x, unit_axis):
        """``x`` with its unit axis split into (variable, category): (rows, n, K) or (n, K, columns)."""
        if _rows(unit_axis):
            return x.reshape((x.shape[0], self.n_variables, self.n_categories))
        return x.reshape((self.n_variables, self.n_categories, x.shape[-1]))

    def mean(self, activation, unit_axis=-1):
        """The mean of p(v | h) given the visible activation: the softmax of each group.

        mean_ik = exp(a_ik) / sum_l exp(a_il) = p(v_i = k | h), computed
        with each group's largest activation subtracted first.

        Parameters
        ----------
        activation : symbolic matrix (batch, n_units)
            a_v, from ``activation`` or ``annealed_activation``, one row per
            chain; (n_units, chains) when ``unit_axis`` is 0.
        unit_axis : {-1, 1, 0}, default -1
            The axis along which the units run: -1 or 1 for one row per
            chain, 0 for one column per chain.

        Returns
        -------
        symbolic matrix, the shape of ``activation``
            Each group's K values sum to 1.
        """
        category_axis = 2 if _rows(unit_axis) else 1
        grouped = self._groups(activation, unit_axis)
        exp = pt.exp(grouped - pt.max(grouped, axis=category_axis, keepdims=True))
        return (exp / pt.sum(exp, axis=category_axis, keepdims=True)).reshape(activation.shape)

    def sample(self, mean, uniform, normal, unit_axis=-1):
        """A draw from p(v | h), one-hot per group: one uniform u per group, the category k where cdf_(k-1) <= u < cdf_k.

        cdf_k = mean_i1 + ... + mean_ik; the last cumulative probability is
        set to exactly 1 so that rounding cannot leave a group all zero.
        ``normal`` is not used.

        Parameters
        ----------
        mean : symbolic matrix (batch, n_units)
            The mean of p(v | h), from ``mean``, one row per chain;
            (n_units, chains) when ``unit_axis`` is 0.
        uniform, normal : callable
            shape -> symbolic draws of that shape, uniform in [0, 1) and
            standard normal (the model's random stream).
        unit_axis : {-1, 1, 0}, default -1
            The axis along which the units run: -1 or 1 for one row per
            chain, 0 for one column per chain.

        Returns
        -------
        symbolic matrix, the shape and dtype of ``mean``
            One 1 per group of K units, zeros elsewhere.
        """
        category_axis = 2 if _rows(unit_axis) else 1
        grouped = self._groups(mean, unit_axis)
        cdf = pt.cumsum(grouped, axis=category_axis)
        cdf = pt.set_subtensor(cdf[_along(category_axis, slice(-1, None))], 1.0)
        uniform_shape = [grouped.shape[0], grouped.shape[1], grouped.shape[2]]
        uniform_shape[category_axis] = 1
        # 1 from the drawn category on; the differences along the categories are the one-hot draw
        from_drawn_on = pt.cast(pt.lt(uniform(tuple(uniform_shape)), cdf), mean.dtype)
        before = pt.concatenate([pt.zeros_like(from_drawn_on[_along(category_axis, slice(0, 1))]),
                                 from_drawn_on[_along(category_axis, slice(None, -1))]], axis=category_axis)
        return (from_drawn_on - before).reshape(mean.shape)

    def observed(self, v):
        """A 0/1 mask of the units whose variable is observed in each row (a group holding a one).

        Contrastive divergence multiplies the reconstruction by the mask, so
        that each row's negative phase runs that row's own model (missing
        variables left out).

        Parameters
        ----------
        v : symbolic matrix (batch, n_units)
            Visible rows (data).

        Returns
        -------
        symbolic matrix (batch, n_units)
            For each unit, the sum of its group in ``v``: 1 where the
            variable is observed, 0 where its group is all zero (missing).
        """
        present = pt.sum(self._groups(v, -1), axis=2, keepdims=True)
        return pt.repeat(present, self.n_categories, axis=2).reshape(v.shape)

    def energy_term(self, v, bias):
        """The layer's term e(v) of the free energy F(v) = e(v) - sum_j softplus((v W + c)_j): -v.b.

        Missing variables (all-zero groups) add nothing.

        Parameters
        ----------
        v : ndarray (rows, n_units)
            Visible states.
        bias : ndarray (n_units,)
            b, the visible biases.

        Returns
        -------
        ndarray (rows,)
            e(v) = -v.b, one value per row.
        """
        return -pt.dot(v, bias)

    def reconstruction_cost(self, x, activation):
        """The reconstruction log-probability: the mean over rows of sum over observed i of log p(x_i | a_i).

        log p(v_i = k | a_i) = a_ik - logsumexp_l a_il, the log softmax of
        the group at the data's category k; missing variables (all-zero
        groups in ``x``) add nothing.

        Parameters
        ----------
        x : symbolic matrix (batch, n_units)
            The minibatch's data.
        activation : symbolic matrix (batch, n_units)
            a_v of the reconstruction, the visible activation after one
            up-down pass from ``x``.

        Returns
        -------
        symbolic scalar
            The mean over rows (<= 0; the higher the better).
        """
        grouped = self._groups(activation, -1)
        # shifted by each group's maximum here, not left to PyTensor's rewrites (FAST_COMPILE applies none)
        shifted = grouped - pt.max(grouped, axis=2, keepdims=True)
        log_softmax = shifted - pt.log(pt.sum(pt.exp(shifted), axis=2, keepdims=True))
        return pt.mean(pt.sum(self._groups(x, -1) * log_softmax, axis=(1, 2)))

    def n_states(self):
        """How many states the bound layer has: K^n for n variables of K categories.

        Missing values are not states: the enumeration covers complete rows.

        Returns
        -------
        int
            K^n_variables.
        """
        return self.n_categories ** self.n_variables

    def states(self, start, stop):
        """States start .. stop - 1 of the categorical variables, as one-hot rows.

        State s has category (s // K^i) % K for variable i (the base-K digits
        of s).

        Parameters
        ----------
        start, stop : int
            0 <= start <= stop <= ``n_states()``.

        Returns
        -------
        ndarray (stop - start, n_units), float64
            One-hot rows, one 1 per group of K columns.
        """
        powers = self.n_categories ** np.arange(self.n_variables)
        codes = np.arange(start, stop)[:, None] // powers % self.n_categories
        return np.eye(self.n_categories)[codes].reshape(len(codes), self.units)

    def np_sample(self, top_down, bias, generator):
        """A draw from p(v | h) in numpy, one-hot per group: the category k where cdf_(k-1) <= u < cdf_k.

        As :meth:`sample`: one uniform u per group, cdf the cumulative softmax
        of the group's activations t + b, its last value set to 1.

        Parameters
        ----------
        top_down : ndarray (rows, n_units)
            t = h W^T, one row per chain.
        bias : ndarray (n_units,)
            b, the visible biases.
        generator : numpy RandomState or Generator
            Draws rows x n_variables uniforms, in row order.

        Returns
        -------
        ndarray (rows, n_units), float64
            One 1 per group of K units, zeros elsewhere.
        """
        grouped = (top_down + bias).reshape(len(top_down), self.n_variables, self.n_categories)
        cdf = np.cumsum(np.exp(grouped - logsumexp(grouped, axis=2, keepdims=True)), axis=2)
        cdf[:, :, -1] = 1.0
        codes = (generator.uniform(size=cdf.shape[:2] + (1,)) >= cdf).sum(axis=2)
        return np.eye(self.n_categories)[codes].reshape(len(top_down), self.units)

    def log_partition_given_input(self, top_down, bias):
        """log sum_v exp(v.(t + b)) for each row t of ``top_down``: sum_i logsumexp_k(t_ik + b_ik).

        Each variable sums out on its own over its K categories (complete
        rows: no value missing).

        Parameters
        ----------
        top_down : ndarray (rows, n_units)
            t = h W^T, one row per hidden state h.
        bias : ndarray (n_units,)
            b, the visible biases.

        Returns
        -------
        ndarray (rows,), float64
            sum_i logsumexp_k(t_ik + b_ik), one value per row.
        """
        grouped = (top_down + bias).reshape(len(top_down), self.n_variables, self.n_categories)
        return logsumexp(grouped, axis=2).sum(axis=1)

    def base_bias_from_data(self, data):
        """The base model's biases: b_A,ik = log of category k's frequency among variable i's observed values.

        Counts get 1e-3 added so that a category absent from the data keeps
        a finite bias; missing values (all-zero groups) count for no
        category.

        Parameters
        ----------
        data : ndarray (rows, n_units) or None
            Rows checked by the model (``check_data``), or None for the
            uniform base model.

        Returns
        -------
        ndarray (n_units,), float64
            b_A, log frequencies (each group's exp sums to 1), or zeros (every
            category equally likely) when ``data`` is None.
        """
        if data is None:
            return np.zeros(self.units)
        counts = np.asarray(data, dtype=np.float64).sum(axis=0).reshape(self.n_variables, self.n_categories) + 1e-3
        return np.log(counts / counts.sum(axis=1, keepdims=True)).ravel()

    def base_log_partition(self, base_bias):
        """log Z of the visible part of the base model p_A(v) ~ exp(v.b_A): sum_i logsumexp_k b_A,ik.

        Parameters
        ----------
        base_bias : ndarray (n_units,)
            b_A, from ``base_bias_from_data``.

        Returns
        -------
        float
            sum_i logsumexp_k b_A,ik.
        """
        return float(logsumexp(base_bias.reshape(self.n_variables, self.n_categories), axis=1).sum())

    def sample_base(self, base_bias, bias, n, generator):
        """``n`` rows drawn from the base model: independent v_i ~ softmax_k(b_A,ik), one-hot.

        ``bias`` is not used: the base model's biases are b_A. No value is
        missing in the draws.

        Parameters
        ----------
        base_bias : ndarray (n_units,)
            b_A, from ``base_bias_from_data``.
        bias : ndarray (n_units,)
            b, the RBM's visible biases.
        n : int
            Rows to draw (the annealing runs).
        generator : numpy.random.Generator
            The source of the draws.

        Returns
        -------
        ndarray (n, n_units), float64
            One-hot rows, one 1 per group of K columns.
        """
        logits = base_bias.reshape(self.n_variables, self.n_categories)
        p = np.exp(logits - logsumexp(logits, axis=1, keepdims=True))
        u = generator.random((n, self.n_variables, 1))
        codes = (u >= np.cumsum(p, axis=1)[None, :, :-1]).sum(axis=2)
        return np.eye(self.n_categories)[codes].reshape(n, self.units)

    def check_data(self, data, n_variables, name="data"):
        """``data`` checked as rows of categorical variables: 0/1, ``n_variables`` K wide, at most one 1 per group.

        A group with no 1 is a missing value.

        Parameters
        ----------
        data : array_like (rows, n_variables K)
            The rows to check.
        n_variables : int
            The model's visible variables (n_visible).
        name : str, default "data"
            What the error messages call ``data``.

        Returns
        -------
        ndarray (rows, n_variables K)
            ``data`` as a numpy array.

        Raises
        ------
        TypeError
            ``data`` is not a numeric array.
        ValueError
            ``data`` is not 2-D, has no rows, another width, a value other
            than 0 and 1, or a group with more than one 1 (the message names
            the row and the variable).
        """
        array = check_data(data, n_variables * self.n_categories, name)
        if not np.all((array == 0) | (array == 1)):
            raise ValueError(f"{name} must be one-hot (0 or 1) for categorical visible units")
        per_group = array.reshape(len(array), n_variables, self.n_categories).sum(axis=2)
        if np.any(per_group > 1):
            row, variable = np.argwhere(per_group > 1)[0]
            raise ValueError(f"{name} row {row}, variable {variable}: more than one category is on "
                             f"(each group of {self.n_categories} columns holds one 1, or none when missing)")
        return array

    def __repr__(self):
        return f"Categorical({self.n_categories})"


def _along(axis, part):
    """An index of a 3-D tensor taking ``part`` along ``axis`` and everything along the others."""
    index = [slice(None)] * 3
    index[axis] = part
    return tuple(index)


def layer_from_settings(settings: dict | None) -> Layer:
    """The unbound layer that :meth:`Layer.settings` describes (None: Bernoulli).

    Parameters
    ----------
    settings : dict or None
        What :meth:`Layer.settings` returned: ``"type"`` (the class name)
        and the constructor's settings; None for binary units (model files
        without layer settings).

    Returns
    -------
    Layer
        A new, unbound layer (:meth:`Layer.bind` binds it).

    Raises
    ------
    ValueError
        An unknown layer type or settings.
    """
    if settings is None:
        return Bernoulli()
    if not isinstance(settings, dict):
        raise ValueError(f"layer settings must be a mapping, got {settings!r}")
    settings = dict(settings)
    kinds = {"Bernoulli": Bernoulli, "Gaussian": Gaussian, "Categorical": Categorical}
    kind = settings.pop("type", None)
    if kind not in kinds:
        raise ValueError(f"unknown layer type {kind!r}; known: {sorted(kinds)}")
    try:
        return kinds[kind](**settings)
    except TypeError as error:
        raise ValueError(f"bad settings for a {kind} layer: {error}") from None
