"""The Deep Boltzmann Machine (Salakhutdinov & Hinton, "Deep Boltzmann machines", AISTATS 2009).

Layers x_0 (visible), x_1, ..., x_L of binary units, each joined only to its
neighbours: W_i (n_i x n_(i+1)) joins layer i to layer i + 1 and bias_i
belongs to layer i. The energy is

    E(x) = -sum_i x_i^T W_i x_(i+1) - sum_i x_i . bias_i,

so a layer, given its two neighbours, is a row of independent units with

    p(x_i = 1 | x_(i-1), x_(i+1)) = sigmoid(x_(i-1) W_(i-1) + W_i x_(i+1) + bias_i).

The odd layers (1, 3, ...) are therefore independent given the even ones
(0, 2, ...) and the other way round: a Gibbs sweep samples one parity, then
the other, and evaluation sums one parity out analytically (see
:mod:`rbm.dbm_evaluation`).

Training (:class:`rbm.training.dbm.DBMTrainer`) takes the data statistics
from a factorised mean-field posterior q(h | v) = prod_i prod_j mu_ij^h (1 - mu_ij)^(1 - h)
(:meth:`DBM.mean_field`) and the model statistics from persistent Gibbs
chains (:meth:`DBM.gibbs_sweep`).
"""
import numbers
import os
from collections.abc import Sequence
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike

from .. import backend
from ..backend import pt, ptr
from ..persistence import FORMAT_VERSION, atomic_savez, load_npz
from ..validation import check_array, check_data, check_positive_int, check_seed
from .rbm import _as_numpy_rng

__all__ = ["DBM"]


def _check_layer_sizes(layer_sizes):
    """``layer_sizes`` as a tuple of ints >= 1: the visible width and two or more hidden widths."""
    if isinstance(layer_sizes, (str, bytes)) or not hasattr(layer_sizes, "__len__"):
        raise TypeError(f"layer_sizes must be a sequence of layer widths, got {type(layer_sizes).__name__}")
    if len(layer_sizes) < 3:
        raise ValueError("layer_sizes must give the visible width and at least two hidden widths "
                         f"(a DBM with one hidden layer is an RBM), got {list(layer_sizes)}")
    return tuple(check_positive_int(size, f"layer_sizes[{i}]") for i, size in enumerate(layer_sizes))


def parity_layers(n_layers, parity):
    """The layers of one parity: 0 -> (0, 2, 4, ...) (visible included), 1 -> (1, 3, ...).

    Examples
    --------
    >>> from rbm.models.dbm import parity_layers
    >>> parity_layers(5, 0), parity_layers(5, 1)
    ((0, 2, 4), (1, 3))
    """
    return tuple(range(parity, n_layers, 2))


def _sigmoid(x):
    """The logistic function in numpy, without overflow warnings for large |x|."""
    return np.exp(-np.logaddexp(0.0, -x))


def _numpy_activation(weights, biases, i, states):
    """Layer i's input from its neighbours (numpy): x_(i-1) W_(i-1) + x_(i+1) W_i^T + bias_i."""
    activation = biases[i]
    if i > 0:
        activation = activation + states[i - 1] @ weights[i - 1]
    if i < len(biases) - 1:
        activation = activation + states[i + 1] @ weights[i].T
    return activation


class DBM:
    """Deep Boltzmann Machine with binary units in every layer.

    Parameters
    ----------
    layer_sizes : sequence of int, default (784, 500, 1000)
        Widths of the visible layer and of two or more hidden layers, bottom up.
    numpy_rng : numpy Generator, RandomState or int, optional
        Draws the initial weights, N(0, 0.01^2) as in Hinton's practical
        guide (2010); biases start at zero.
    seed : int, optional
        Seeds :attr:`rng`, the generator of training and sampling.
    dtype : "float32" or "float64", optional
        Float type of parameters and graphs; :func:`rbm.backend.get_floatx` when None.

    Attributes
    ----------
    layer_sizes : tuple of int
    weights : list of shared matrices
        ``W_0, W_1, ...``: W_i joins layer i to layer i + 1, shape (n_i, n_(i+1)).
    biases : list of shared vectors
        ``bias_0, bias_1, ...``; layer 0 is the visible layer.
    params : list of shared variables
        ``weights + biases``, in that order.
    rng : shared random generator
        The generator the training step and samplers thread through their graphs.
    n_visible : int
    dtype : str

    Examples
    --------
    >>> import rbm
    >>> model = rbm.DBM([6, 4, 3], numpy_rng=0, seed=0)
    >>> model, sorted(model.get_params())
    (DBM(layer_sizes=[6, 4, 3], dtype='float32'), ['W_0', 'W_1', 'bias_0', 'bias_1', 'bias_2'])
    """

    #: what model files of this class say they hold
    FILE_KIND = "rbm.DBM"

    def __init__(self, layer_sizes: Sequence[int] = (784, 500, 1000), *,
                 numpy_rng: np.random.Generator | np.random.RandomState | int | None = None, seed: int | None = None,
                 dtype: str | None = None) -> None:
        layer_sizes = _check_layer_sizes(layer_sizes)
        seed = check_seed(seed)
        dtype = backend.check_dtype(dtype)
        numpy_rng = _as_numpy_rng(numpy_rng)
        self.layer_sizes = layer_sizes
        self.n_layers = len(layer_sizes)
        self.n_visible = layer_sizes[0]
        self.dtype = dtype
        self.weights = [backend.shared(numpy_rng.normal(0.0, 0.01, size=(n_below, n_above)), f"W_{i}", dtype)
                        for i, (n_below, n_above) in enumerate(zip(layer_sizes[:-1], layer_sizes[1:]))]
        self.biases = [backend.shared(np.zeros(n), f"bias_{i}", dtype) for i, n in enumerate(layer_sizes)]
        self.params = self.weights + self.biases
        self.rng = backend.shared_rng(seed, name="dbm_rng")

    # ------------------------------------------------------------ conditionals
    def layer_activation(self, i: int, states: Sequence[pt.TensorVariable]) -> pt.TensorVariable:
        """a_i = x_(i-1) W_(i-1) + x_(i+1) W_i^T + bias_i: layer i's input from its neighbours.

        Parameters
        ----------
        i : int
            The layer.
        states : sequence of symbolic matrices (batch, n_k), one per layer
            Only layers i - 1 and i + 1 are read (entries elsewhere may be None).

        Returns
        -------
        symbolic matrix (batch, n_i)
            p(x_i = 1 | neighbours) = sigmoid(a_i).
        """
        activation = self.biases[i]
        if i > 0:
            activation = activation + pt.dot(states[i - 1], self.weights[i - 1])
        if i < self.n_layers - 1:
            activation = activation + pt.dot(states[i + 1], self.weights[i].T)
        return activation

    def mean_field(self, v: pt.TensorVariable, n_steps: int) -> list[pt.TensorVariable]:
        """The mean-field posterior means [v, mu_1, ..., mu_L] after ``n_steps`` fixed-point steps.

        Start (Salakhutdinov & Hinton 2009): a bottom-up pass with doubled
        input for the layers below the top, mu_i = sigmoid(2 mu_(i-1) W_(i-1)
        + bias_i), and mu_L = sigmoid(mu_(L-1) W_(L-1) + bias_L) at the top;
        the doubling stands in for the missing input from above. Each step
        then sets the odd layers to sigmoid(a_i(mu)) given the even ones, and
        the even hidden layers given the new odd ones. Each half-step
        maximises the variational bound over one parity exactly (those units
        do not interact), so the bound never decreases.

        Parameters
        ----------
        v : symbolic matrix (batch, n_visible)
        n_steps : int >= 0
            Fixed-point steps, unrolled into the graph (so that the training
            step holds no inner ``scan``).

        Returns
        -------
        list of symbolic matrices
            ``[v, mu_1, ..., mu_L]``.
        """
        if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral) or n_steps < 0:
            raise ValueError(f"n_steps must be an integer >= 0, got {n_steps!r}")
        means = [v]
        for i in range(1, self.n_layers):
            factor = 2 if i < self.n_layers - 1 else 1
            means.append(pt.sigmoid(factor * pt.dot(means[i - 1], self.weights[i - 1]) + self.biases[i]))
        for _ in range(n_steps):
            for parity in (1, 0):
                for i in parity_layers(self.n_layers, parity):
                    if i > 0:
                        means[i] = pt.sigmoid(self.layer_activation(i, means))
        return means

    def gibbs_sweep(self, states: Sequence[pt.TensorVariable],
                    rng) -> tuple[list[pt.TensorVariable], list[pt.TensorVariable], Any]:
        """One Gibbs sweep: the odd layers given the even ones, then the even layers (visible too) given the odd.

        Each unit is drawn as uniform < p, the uniforms coming from ``rng``,
        threaded explicitly: odd layers bottom up, then even layers bottom up.

        Parameters
        ----------
        states : list of symbolic matrices (n_chains, n_k), one per layer
        rng : symbolic random generator

        Returns
        -------
        states : list of symbolic matrices
            The new binary states.
        means : list of symbolic matrices
            The probabilities each new state was drawn from.
        rng : symbolic random generator
            The generator after the draws.
        """
        states, means = list(states), [None] * self.n_layers
        for parity in (1, 0):
            for i in parity_layers(self.n_layers, parity):
                means[i] = pt.sigmoid(self.layer_activation(i, states))
                rng, uniform = ptr.uniform(size=means[i].shape, dtype=self.dtype, rng=rng, return_next_rng=True)
                states[i] = pt.cast(pt.lt(uniform, means[i]), self.dtype)
        return states, means, rng

    def sufficient_statistics(self, states: Sequence[pt.TensorVariable]) -> list[pt.TensorVariable]:
        """Means over rows of x_i^T x_(i+1) (one per weight) and of x_i (one per bias), in ``params``' order.

        Parameters
        ----------
        states : list of symbolic matrices (batch, n_k), one per layer
            Binary states or mean-field means.

        Returns
        -------
        list of symbolic tensors
            The log-likelihood gradient is the data's minus the model's.
        """
        batch = pt.cast(states[0].shape[0], self.dtype)
        return ([pt.dot(states[i].T, states[i + 1]) / batch for i in range(self.n_layers - 1)]
                + [pt.mean(state, axis=0) for state in states])

    def reconstruction_cost(self, v: pt.TensorVariable, mean_field: Sequence[pt.TensorVariable]) -> pt.TensorVariable:
        """Mean over rows of sum_i v_i log s(a_i) + (1 - v_i) log(1 - s(a_i)), a = mu_1 W_0^T + bias_0.

        How well the mean-field posterior's first hidden layer reconstructs
        the data (higher is better): the trainer's progress measure. Written
        as v.a - softplus(a), which equals it and stays finite.

        Parameters
        ----------
        v : symbolic matrix (batch, n_visible)
        mean_field : list of symbolic matrices
            :meth:`mean_field`'s output for ``v``.

        Returns
        -------
        symbolic scalar
        """
        activation = pt.dot(mean_field[1], self.weights[0].T) + self.biases[0]
        return pt.mean(pt.sum(v * activation - pt.softplus(activation), axis=1))

    def numpy_params(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The parameters as float64 numpy arrays (copies), for numpy-level evaluation.

        Returns
        -------
        weights, biases : list of arrays
            ``weights[i]`` joins layer i to layer i + 1; ``biases[i]`` is layer i's.
        """
        return ([np.array(w.get_value(borrow=True), dtype=np.float64) for w in self.weights],
                [np.array(b.get_value(borrow=True), dtype=np.float64) for b in self.biases])

    def mean_field_means(self, data: ArrayLike, *, max_steps: int = 100, tol: float = 1e-7) -> list[np.ndarray]:
        """The mean-field fixed point for each row of ``data``, in numpy float64: [v, mu_1, ..., mu_L].

        The same start and steps as :meth:`mean_field`, repeated until no
        mean moves by more than ``tol`` or ``max_steps`` steps are done (each
        step can only raise the variational bound, see :meth:`mean_field`).

        Parameters
        ----------
        data : array (n, n_visible)
            Values in [0, 1].
        max_steps : int >= 0, default 100
        tol : float, default 1e-7

        Returns
        -------
        list of float64 arrays
            ``[v, mu_1, ..., mu_L]``, each (n, n_k).
        """
        return self._mean_field_fixed_point(data, max_steps, tol)[0]

    def _mean_field_fixed_point(self, data, max_steps, tol):
        """(means, steps taken) of :meth:`mean_field_means`."""
        data = self.check_data(data).astype(np.float64)
        if isinstance(max_steps, bool) or not isinstance(max_steps, numbers.Integral) or max_steps < 0:
            raise ValueError(f"max_steps must be an integer >= 0, got {max_steps!r}")
        weights, biases = self.numpy_params()
        means = [data]
        for i in range(1, self.n_layers):
            factor = 2.0 if i < self.n_layers - 1 else 1.0
            means.append(_sigmoid(factor * (means[i - 1] @ weights[i - 1]) + biases[i]))
        steps = 0
        while steps < max_steps:
            steps += 1
            change = 0.0
            for parity in (1, 0):
                for i in parity_layers(self.n_layers, parity):
                    if i > 0:
                        new = _sigmoid(_numpy_activation(weights, biases, i, means))
                        change = max(change, float(np.max(np.abs(new - means[i]))))
                        means[i] = new
            if change <= tol:
                break
        return means, steps

    # ------------------------------------------------------------ sampling
    def sample_chains(self, start: ArrayLike, *, n_samples: int = 10, plot_every: int = 1000, mode: str = "cpu",
                      seed: int | None = None) -> np.ndarray:
        """Run persistent Gibbs chains from the rows of ``start``; keep the visible means every ``plot_every`` sweeps.

        The DBM form of :func:`rbm.sample_chains`. The hidden layers start at
        the bottom-up mean-field pass's means (:meth:`mean_field` with no
        fixed-point step), rounded to binary; each sweep samples the odd
        layers, then the even ones (:meth:`gibbs_sweep`). The chains draw from
        their own generator (``seed``), leaving :attr:`rng` untouched.

        Parameters
        ----------
        start : array (n_chains, n_visible)
            One chain per row, values in [0, 1].
        n_samples : int >= 1, default 10
        plot_every : int >= 1, default 1000
            Sweeps between two kept states (a compiled ``scan``).
        mode : str, default "cpu"
        seed : int, optional

        Returns
        -------
        array (n_samples, n_chains, n_visible)
            p(v = 1 | x_1) at each kept sweep.
        """
        start = self.check_data(start, "start")
        n_samples = check_positive_int(n_samples, "n_samples")
        plot_every = check_positive_int(plot_every, "plot_every")
        seed = check_seed(seed)
        backend.resolve_mode(mode)
        first_states = [np.round(means) for means in self.mean_field_means(start, max_steps=0)]
        chains = [backend.shared(state, f"chain_{i}", self.dtype) for i, state in enumerate(first_states)]
        rng = backend.shared_rng(seed, name="dbm_sampler_rng")

        def sweep(*values):
            *states, rng_now = values
            states, means, rng_now = self.gibbs_sweep(states, rng_now)
            return [*states, means[0], rng_now]

        *final, visible_means, rng_end = backend.pytensor.scan(
            sweep, outputs_info=[*chains, None, rng], n_steps=plot_every, name="dbm_gibbs", return_updates=False)
        updates = {chain: sequence[-1] for chain, sequence in zip(chains, final)}
        updates[rng] = rng_end
        sample_fn = backend.compile_function([], visible_means[-1], updates=updates, mode=mode, name="dbm_sample")
        return np.stack([np.asarray(sample_fn()) for _ in range(n_samples)])

    # ------------------------------------------------------------ parameters
    def check_data(self, data: ArrayLike, name: str = "data") -> np.ndarray:
        """``data`` checked as visible vectors: a non-empty 2-D array in [0, 1], n_visible wide.

        Parameters
        ----------
        data : array-like
        name : str, default "data"

        Returns
        -------
        numpy.ndarray

        Examples
        --------
        >>> import rbm
        >>> rbm.DBM([3, 2, 2]).check_data([[0.0, 0.5]], "train")
        Traceback (most recent call last):
        ...
        ValueError: train has 2 columns but the model has 3 visible units
        """
        return check_data(data, self.n_visible, name)

    def _param_shapes(self):
        """name -> shape of every parameter: ``W_i`` (n_i, n_(i+1)) and ``bias_i`` (n_i,)."""
        sizes = self.layer_sizes
        shapes = {f"W_{i}": (sizes[i], sizes[i + 1]) for i in range(self.n_layers - 1)}
        shapes.update({f"bias_{i}": (n,) for i, n in enumerate(sizes)})
        return shapes

    def get_params(self) -> dict[str, np.ndarray]:
        """Every parameter as a dict of numpy arrays (copies): ``W_0, W_1, ..., bias_0, bias_1, ...``.

        Returns
        -------
        dict
            name -> array in the model's dtype; ``set_params(**get_params())``
            restores the model bit for bit.
        """
        return {p.name: np.array(p.get_value(borrow=True)) for p in self.params}

    def set_params(self, **values: ArrayLike) -> None:
        """Replace parameters from arrays (``W_0=``, ``bias_1=``, ...), all checked before any is set.

        Parameters
        ----------
        **values : arrays
            Any names of :meth:`get_params`, each of its shape; None leaves one as it is.

        Raises
        ------
        TypeError
            An unknown name.
        ValueError
            A wrong shape or non-finite values; nothing is set.

        Examples
        --------
        >>> import numpy as np
        >>> import rbm
        >>> model = rbm.DBM([3, 2, 2], seed=0)
        >>> model.set_params(bias_2=np.ones(3))
        Traceback (most recent call last):
        ...
        ValueError: bias_2 must have shape (2,), got (3,)
        """
        shapes = self._param_shapes()
        unknown = set(values) - set(shapes)
        if unknown:
            raise TypeError(f"unknown parameters {sorted(unknown)}; this model has {sorted(shapes)}")
        checked = {name: check_array(value, name, ndim=len(shapes[name]), shape=shapes[name])
                   for name, value in values.items() if value is not None}
        by_name = {p.name: p for p in self.params}
        for name, value in checked.items():
            by_name[name].set_value(backend.as_floatx(value, self.dtype))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model to ``path`` (.npz, no pickle) atomically.

        The file holds ``kind`` ("rbm.DBM"), ``format_version``,
        ``layer_sizes`` and the plain parameters ``W_i`` and ``bias_i``
        (a centered trainer keeps the model's parameters plain, so nothing
        of centering is in it).

        Parameters
        ----------
        path : str or path-like
            Ends in ``.npz``, in an existing folder.
        """
        atomic_savez(path, dict(kind=np.str_(self.FILE_KIND), format_version=np.int64(FORMAT_VERSION),
                                layer_sizes=np.asarray(self.layer_sizes, dtype=np.int64), **self.get_params()))

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, dtype: str | None = None) -> Self:
        """A new DBM from a file written by :meth:`save`.

        Parameters
        ----------
        path : str or path-like
        dtype : "float32" or "float64", optional
            The file's by default.

        Returns
        -------
        DBM

        Raises
        ------
        ValueError
            For a damaged file, another kind or version, a missing, extra,
            misshapen or non-finite entry; nothing is built.

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np
        >>> import rbm
        >>> path = os.path.join(tempfile.mkdtemp(), "dbm.npz")
        >>> model = rbm.DBM([6, 4, 3], numpy_rng=0, seed=0)
        >>> model.save(path)
        >>> loaded = rbm.DBM.load(path)
        >>> loaded, np.array_equal(loaded.weights[1].get_value(), model.weights[1].get_value())
        (DBM(layer_sizes=[6, 4, 3], dtype='float32'), True)
        """
        arrays = load_npz(path, cls.FILE_KIND, versions=(FORMAT_VERSION,))
        if "layer_sizes" not in arrays:
            raise ValueError(f"{path!r} lacks the entry 'layer_sizes'")
        sizes = np.asarray(arrays["layer_sizes"])
        if sizes.ndim != 1 or not np.issubdtype(sizes.dtype, np.integer):
            raise ValueError(f"{path!r}: layer_sizes must be a vector of integers, got {sizes.dtype}{sizes.shape}")
        try:
            layer_sizes = _check_layer_sizes([int(n) for n in sizes])
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path!r}: {error}") from None
        model_shapes = {f"W_{i}": (layer_sizes[i], layer_sizes[i + 1]) for i in range(len(layer_sizes) - 1)}
        model_shapes.update({f"bias_{i}": (n,) for i, n in enumerate(layer_sizes)})
        unknown = sorted(set(arrays) - set(model_shapes) - {"kind", "format_version", "layer_sizes"})
        if unknown:
            raise ValueError(f"{path!r} holds entries a {cls.FILE_KIND!r} file does not have: {unknown}")
        for name, shape in model_shapes.items():
            if name not in arrays:
                raise ValueError(f"{path!r} lacks the entry {name!r}")
            value = arrays[name]
            if value.shape != shape:
                raise ValueError(f"{path!r}: {name} has shape {value.shape}, expected {shape}")
            if value.dtype.name not in ("float32", "float64"):
                raise ValueError(f"{path!r}: {name} has dtype {value.dtype}, expected float32 or float64")
            if not np.all(np.isfinite(value)):
                raise ValueError(f"{path!r}: {name} holds NaN or infinite values")
        model = cls(layer_sizes, dtype=dtype or arrays["W_0"].dtype.name)
        model.set_params(**{name: arrays[name] for name in model_shapes})
        return model

    def __repr__(self):
        return f"DBM(layer_sizes={list(self.layer_sizes)}, dtype={self.dtype!r})"
