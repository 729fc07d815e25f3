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
from scipy.special import logsumexp

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
    tempering : bool
        Whether parallel tempering (:mod:`rbm.training.tempering`) runs
        with these units.
    pseudo_likelihood : bool
        Whether the pseudo-likelihood (one flipped bit) is defined.
    unit_interval : bool
        Whether the units' means lie in [0, 1] (drawable as grey levels).
    reconstruction_cost_name : str
        What :meth:`reconstruction_cost` measures, for plots and logs.
    """

    centering = False
    tempering = False
    pseudo_likelihood = False
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
        """Columns (units) of ``n_variables`` variables of this type."""
        return n_variables * self.group_size

    @property
    def units(self) -> int:
        """Units of the bound layer."""
        return self.n_units(self.n_variables)

    def own_params(self) -> dict[str, Any]:
        """name -> shared variable of the layer's own arrays (learnt or not)."""
        return {}

    def learnt_params(self) -> list:
        """The layer's own shared variables that training moves."""
        return []

    def settings(self) -> dict[str, Any]:
        """JSON-serialisable description: ``layer_from_settings(settings)`` rebuilds the (unbound) layer."""
        return {"type": type(self).__name__}

    # ------------------------------------------------------------ symbolic
    def scale(self, v, unit_axis=-1):
        """s(v), what multiplies W in the hidden activation: v."""
        return v

    def activation(self, top_down, bias, unit_axis=-1):
        """The visible activation given the top-down input t = h W^T: t + b."""
        return top_down + bias

    def annealed_activation(self, top_down, bias, base_bias, beta):
        """beta (t + b) + (1 - beta) b_A: the activation of the intermediate model at inverse temperature beta."""
        return beta * (top_down + bias) + (1 - beta) * base_bias

    def observed(self, v):
        """A 0/1 mask of the units whose variable is observed in each row, or None when every value is."""
        return None

    def log_f_visible_difference(self, v, beta, previous_beta, bias, base_bias):
        """The visible part of f_beta(v) - f_previous(v) along the annealing path: (beta - previous) v.(b - b_A)."""
        return (beta - previous_beta) * pt.dot(v, bias - base_bias)

    # -------------------------------------------------------------- numpy
    def np_scale(self, v):
        """:meth:`scale` in numpy."""
        return v

    def np_energy_term(self, v, bias):
        """The free energy's term of this layer, one value per row, in numpy: -v.b."""
        return -v @ bias

    def n_states(self) -> float:
        """How many states the bound layer has (infinite for real units)."""
        raise NotImplementedError

    def states(self, start: int, stop: int) -> np.ndarray:
        """States start .. stop - 1 of the bound layer's enumeration, as rows."""
        raise NotImplementedError

    def log_partition_given_input(self, top_down, bias):
        """log sum_v exp(-energy_term(v, b) + s(v).t) for each row t of ``top_down``, in numpy."""
        raise NotImplementedError

    def base_bias_from_data(self, data):
        """The base-rate model's biases from the per-unit means of ``data`` (checked rows, or None)."""
        raise NotImplementedError

    def base_log_partition(self, base_bias):
        """log Z of the visible part of the base model (no weights)."""
        raise NotImplementedError

    def sample_base(self, base_bias, bias, n, generator):
        """``n`` rows drawn from the base model, in numpy."""
        raise NotImplementedError

    def check_data(self, data: ArrayLike, n_variables: int, name: str = "data") -> np.ndarray:
        """``data`` checked as rows of this layer: a non-empty 2-D array of :meth:`n_units` columns."""
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
    tempering = True
    pseudo_likelihood = True
    reconstruction_cost_name = "reconstruction cross-entropy"

    def mean(self, activation, unit_axis=-1):
        """sigmoid(activation)."""
        return pt.sigmoid(activation)

    def sample(self, mean, uniform, normal, unit_axis=-1):
        """uniform < mean: exactly Bernoulli(mean), cheaper than a binomial draw."""
        return pt.cast(pt.lt(uniform(mean.shape), mean), mean.dtype)

    def energy_term(self, v, bias):
        """-v.b, one value per row."""
        return -pt.dot(v, bias)

    def reconstruction_cost(self, x, activation):
        """Mean over rows of sum_i x_i a_i - softplus(a_i) = sum_i log p(x_i | a_i): no log of a rounded sigmoid."""
        return pt.mean(pt.sum(x * activation - pt.softplus(activation), axis=1))

    def n_states(self):
        return 2 ** self.n_variables

    def states(self, start, stop):
        return ((np.arange(start, stop)[:, None] >> np.arange(self.n_variables)) & 1).astype(np.float64)

    def log_partition_given_input(self, top_down, bias):
        """sum_i softplus(t_i + b_i)."""
        return _softplus(top_down + bias).sum(axis=1)

    def base_bias_from_data(self, data):
        """log(p / (1 - p)) of the per-unit means, p clipped to [1e-3, 1 - 1e-3]; zeros when ``data`` is None."""
        if data is None:
            return np.zeros(self.units)
        p = np.clip(np.mean(data, axis=0, dtype=np.float64), 1e-3, 1 - 1e-3)
        return np.log(p) - np.log1p(-p)

    def base_log_partition(self, base_bias):
        """sum_i softplus(b_A,i)."""
        return float(_softplus(base_bias).sum())

    def sample_base(self, base_bias, bias, n, generator):
        return (generator.random((n, self.units)) < 1 / (1 + np.exp(-base_bias))).astype(np.float64)

    def check_data(self, data, n_variables, name="data"):
        """A 2-D array in [0, 1], ``n_variables`` wide."""
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
        """``sigma`` as a float array (n_variables,) of positive values; a number applies to every unit."""
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
        return {"log_sigma": self.log_sigma}

    def learnt_params(self):
        return [self.log_sigma] if self.learn_sigma else []

    def settings(self):
        return {"type": "Gaussian", "learn_sigma": self.learn_sigma}

    def get_sigma(self) -> np.ndarray:
        """The bound layer's standard deviations, float64."""
        return np.exp(np.asarray(self.log_sigma.get_value(borrow=True), dtype=np.float64))

    def _sigma_along(self, unit_axis):
        return self.sigma if _rows(unit_axis) else self.sigma[:, None]

    def scale(self, v, unit_axis=-1):
        """v / sigma."""
        return v / self._sigma_along(unit_axis)

    def activation(self, top_down, bias, unit_axis=-1):
        """The mean b + sigma t (the activation of a Gaussian unit is its mean)."""
        return bias + self._sigma_along(unit_axis) * top_down

    def annealed_activation(self, top_down, bias, base_bias, beta):
        """b + beta sigma t: the base model keeps the units' own Gaussians and drops W."""
        return bias + beta * self.sigma * top_down

    def mean(self, activation, unit_axis=-1):
        """The activation itself."""
        return activation

    def sample(self, mean, uniform, normal, unit_axis=-1):
        """mean + sigma * standard normal."""
        return mean + self._sigma_along(unit_axis) * normal(mean.shape)

    def energy_term(self, v, bias):
        """sum_i (v_i - b_i)^2 / (2 sigma_i^2), one value per row."""
        return pt.sum(pt.sqr(v - bias) / (2 * pt.sqr(self.sigma)), axis=1)

    def reconstruction_cost(self, x, mean):
        """Mean over all entries of (x - mean)^2 (the lower the better)."""
        return pt.mean(pt.sqr(x - mean))

    def log_f_visible_difference(self, v, beta, previous_beta, bias, base_bias):
        """0: the base model shares the Gaussian term, which is the same at every temperature."""
        return pt.zeros((v.shape[0],), dtype="float64")

    def np_scale(self, v):
        return v / self.get_sigma()

    def np_energy_term(self, v, bias):
        return (((v - bias) / self.get_sigma()) ** 2 / 2).sum(axis=1)

    def n_states(self):
        return float("inf")

    def log_partition_given_input(self, top_down, bias):
        """sum_i b_i t_i / sigma_i + t_i^2 / 2 + log(sqrt(2 pi) sigma_i): each v_i integrated out."""
        sigma = self.get_sigma()
        return ((top_down * (bias / sigma) + top_down ** 2 / 2).sum(axis=1)
                + np.sum(np.log(np.sqrt(2 * np.pi) * sigma)))

    def base_bias_from_data(self, data):
        if data is not None:
            raise ValueError("Gaussian visible units anneal from their own Gaussians: base_rate must be None")
        return np.zeros(self.units)

    def base_log_partition(self, base_bias):
        """sum_i log(sqrt(2 pi) sigma_i)."""
        return float(np.sum(np.log(np.sqrt(2 * np.pi) * self.get_sigma())))

    def sample_base(self, base_bias, bias, n, generator):
        return bias + self.get_sigma() * generator.standard_normal((n, self.units))

    def check_data(self, data, n_variables, name="data"):
        """A non-empty finite 2-D array, ``n_variables`` wide."""
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
        return self.n_categories

    def settings(self):
        return {"type": "Categorical", "n_categories": self.n_categories}

    def _groups(self, x, unit_axis):
        """``x`` with its unit axis split into (variable, category): (rows, n, K) or (n, K, columns)."""
        if _rows(unit_axis):
            return x.reshape((x.shape[0], self.n_variables, self.n_categories))
        return x.reshape((self.n_variables, self.n_categories, x.shape[-1]))

    def mean(self, activation, unit_axis=-1):
        """The softmax of each group's activations."""
        category_axis = 2 if _rows(unit_axis) else 1
        grouped = self._groups(activation, unit_axis)
        exp = pt.exp(grouped - pt.max(grouped, axis=category_axis, keepdims=True))
        return (exp / pt.sum(exp, axis=category_axis, keepdims=True)).reshape(activation.shape)

    def sample(self, mean, uniform, normal, unit_axis=-1):
        """One-hot draws: one uniform u per group, the category k where cdf_(k-1) <= u < cdf_k.

        The last cumulative probability is set to exactly 1 so that rounding
        cannot leave a group all zero.
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
        """1 for the units of each row's observed variables (a group holding a one), 0 for missing ones."""
        present = pt.sum(self._groups(v, -1), axis=2, keepdims=True)
        return pt.repeat(present, self.n_categories, axis=2).reshape(v.shape)

    def energy_term(self, v, bias):
        """-v.b, one value per row (missing groups, all zero, add nothing)."""
        return -pt.dot(v, bias)

    def reconstruction_cost(self, x, activation):
        """Mean over rows of the sum over observed variables of log softmax(a)_(x's category)."""
        grouped = self._groups(activation, -1)
        log_softmax = grouped - pt.logsumexp(grouped, axis=2, keepdims=True)
        return pt.mean(pt.sum(self._groups(x, -1) * log_softmax, axis=(1, 2)))

    def n_states(self):
        return self.n_categories ** self.n_variables

    def states(self, start, stop):
        """One-hot rows; state s has category (s // K^i) % K for variable i."""
        powers = self.n_categories ** np.arange(self.n_variables)
        codes = np.arange(start, stop)[:, None] // powers % self.n_categories
        return np.eye(self.n_categories)[codes].reshape(len(codes), self.units)

    def log_partition_given_input(self, top_down, bias):
        """sum_i logsumexp_k(t_ik + b_ik)."""
        grouped = (top_down + bias).reshape(len(top_down), self.n_variables, self.n_categories)
        return logsumexp(grouped, axis=2).sum(axis=1)

    def base_bias_from_data(self, data):
        """log of each category's frequency among a variable's observed values (counts + 1e-3); zeros when None."""
        if data is None:
            return np.zeros(self.units)
        counts = np.asarray(data, dtype=np.float64).sum(axis=0).reshape(self.n_variables, self.n_categories) + 1e-3
        return np.log(counts / counts.sum(axis=1, keepdims=True)).ravel()

    def base_log_partition(self, base_bias):
        """sum_i logsumexp_k b_A,ik."""
        return float(logsumexp(base_bias.reshape(self.n_variables, self.n_categories), axis=1).sum())

    def sample_base(self, base_bias, bias, n, generator):
        logits = base_bias.reshape(self.n_variables, self.n_categories)
        p = np.exp(logits - logsumexp(logits, axis=1, keepdims=True))
        u = generator.random((n, self.n_variables, 1))
        codes = (u >= np.cumsum(p, axis=1)[None, :, :-1]).sum(axis=2)
        return np.eye(self.n_categories)[codes].reshape(n, self.units)

    def check_data(self, data, n_variables, name="data"):
        """0/1 rows of ``n_variables * K`` columns with at most one 1 per group (none: missing)."""
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
