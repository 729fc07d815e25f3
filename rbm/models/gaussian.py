"""The Gaussian-Bernoulli RBM: real-valued visible units with standard deviations sigma, binary hidden units.

Energy and free energy (sigma per visible unit, W, hidden bias c = ``hbias``,
visible bias b = ``vbias``):

    E(v, h) = sum_i (v_i - b_i)^2 / (2 sigma_i^2) - sum_j c_j h_j - sum_ij (v_i / sigma_i) W_ij h_j
    F(v)    = sum_i (v_i - b_i)^2 / (2 sigma_i^2) - sum_j softplus(c_j + sum_i (v_i / sigma_i) W_ij)

so that p(h_j = 1 | v) = sigmoid(c_j + sum_i (v_i / sigma_i) W_ij) and
v | h ~ N(b + sigma * (W h), sigma^2). The class is an :class:`rbm.RBM` with
these graphs, so :class:`rbm.Trainer`, :func:`rbm.sample_chains`, save/load,
checkpoints and :mod:`rbm.evaluation` take it unchanged.
"""
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import backend
from .._compat import keyword_only
from ..backend import pt, ptr
from ..validation import check_array, check_float, check_positive_int
from .rbm import RBM, _as_numpy_rng

__all__ = ["GaussianBernoulliRBM"]


class GaussianBernoulliRBM(RBM):
    """RBM with Gaussian visible units of standard deviation ``sigma`` and binary hidden units.

    Parameters
    ----------
    input : symbolic matrix, optional
        As for :class:`rbm.RBM`.
    n_visible, n_hidden : int
        Number of visible and hidden units.
    W, hbias, vbias : numpy array or shared variable, optional
        As for :class:`rbm.RBM`, except that W defaults to N(0, 0.01^2)
        (Hinton's practical guide, section 13.2): the binary RBM's wide
        uniform start would give huge visible means.
    sigma : float or array (n_visible,) > 0, optional
        The visible units' standard deviations (1 by default: standardise or
        whiten the data first).
    learn_sigma : bool, default False
        Learn sigma too, through log sigma (a parameter ``log_sigma``, so it
        stays positive); fixed by default.
    numpy_rng, theano_rng, seed, dtype
        As for :class:`rbm.RBM`.

    Attributes
    ----------
    log_sigma : shared vector (n_visible,)
        The parameter behind sigma (in ``params`` when ``learn_sigma``).
    sigma : symbolic vector (n_visible,)
        exp(log_sigma), for graphs; :meth:`get_sigma` gives its value.

    Examples
    --------
    >>> import rbm
    >>> model = rbm.GaussianBernoulliRBM(n_visible=64, n_hidden=16, sigma=0.5, seed=0)
    >>> model, model.get_sigma()[:3]
    (GaussianBernoulliRBM(n_visible=64, n_hidden=16, learn_sigma=False, dtype='float32'), array([0.5, 0.5, 0.5]))
    """

    FILE_KIND = "rbm.GaussianBernoulliRBM"

    # the first six parameters are RBM's; the rest by keyword (positionally, in this old order, with a warning)
    @keyword_only("sigma", "learn_sigma", "numpy_rng", "theano_rng", "seed", "dtype")
    def __init__(self, input: pt.TensorVariable | None = None, n_visible: int = 784, n_hidden: int = 500,
                 W: ArrayLike | pt.TensorVariable | None = None, hbias: ArrayLike | pt.TensorVariable | None = None,
                 vbias: ArrayLike | pt.TensorVariable | None = None, *, sigma: float | ArrayLike | None = None,
                 learn_sigma: bool = False, numpy_rng: np.random.Generator | np.random.RandomState | int | None = None,
                 theano_rng=None, seed: int | None = None, dtype: str | None = None) -> None:
        if not isinstance(learn_sigma, bool):
            raise TypeError(f"learn_sigma must be True or False, got {learn_sigma!r}")
        n_visible = check_positive_int(n_visible, "n_visible")
        n_hidden = check_positive_int(n_hidden, "n_hidden")
        sigma = self._check_sigma(1.0 if sigma is None else sigma, n_visible)
        numpy_rng = _as_numpy_rng(numpy_rng)
        if W is None:
            W = numpy_rng.normal(0.0, 0.01, size=(n_visible, n_hidden))
        super().__init__(input=input, n_visible=n_visible, n_hidden=n_hidden, W=W, hbias=hbias, vbias=vbias,
                         numpy_rng=numpy_rng, theano_rng=theano_rng, seed=seed, dtype=dtype)
        self.learn_sigma = learn_sigma
        self.log_sigma = backend.shared(np.log(sigma), "log_sigma", self.dtype)
        if learn_sigma:
            self.params.append(self.log_sigma)
        #: symbolic standard deviations, exp(log_sigma)
        self.sigma = pt.exp(self.log_sigma)

    @staticmethod
    def _check_sigma(sigma, n_visible):
        """``sigma`` as a float array (n_visible,) of positive values; a number applies to every unit."""
        if np.ndim(sigma) == 0 and not isinstance(sigma, (str, bytes)) and sigma is not None:
            sigma = np.full(n_visible, check_float(sigma, "sigma"))
        sigma = check_array(sigma, "sigma", ndim=1, shape=(n_visible,)).astype(float)
        if np.any(sigma <= 0):
            raise ValueError("sigma must be > 0 for every visible unit")
        return sigma

    # ------------------------------------------------------------------ energies
    def free_energy(self, v_sample: pt.TensorVariable) -> pt.TensorVariable:
        """F(v) = sum_i (v_i - b_i)^2 / (2 sigma_i^2) - sum_j softplus(((v / sigma) W + c)_j).

        Parameters
        ----------
        v_sample : symbolic matrix (batch, n_visible)

        Returns
        -------
        symbolic vector (batch,)
            log p(v) = -F(v) - log Z, a log-density.
        """
        wx_b = pt.dot(v_sample / self.sigma, self.W) + self.hbias
        quadratic = pt.sum(pt.sqr(v_sample - self.vbias) / (2 * pt.sqr(self.sigma)), axis=1)
        return quadratic - pt.sum(pt.softplus(wx_b), axis=1)

    # ------------------------------------------------------------- conditionals
    def propup(self, vis: pt.TensorVariable) -> list[pt.TensorVariable]:
        """The hidden units' activation and probabilities given visible states.

        Parameters
        ----------
        vis : symbolic matrix (batch, n_visible)

        Returns
        -------
        list of two symbolic matrices (batch, n_hidden)
            [a_h, sigmoid(a_h)] with a_h = (vis / sigma) W + hbias:
            p(h_j = 1 | v).
        """
        pre_sigmoid_activation = pt.dot(vis / self.sigma, self.W) + self.hbias
        return [pre_sigmoid_activation, pt.sigmoid(pre_sigmoid_activation)]

    def propdown(self, hid: pt.TensorVariable) -> list[pt.TensorVariable]:
        """The visible units' mean given hidden states.

        Parameters
        ----------
        hid : symbolic matrix (batch, n_hidden)

        Returns
        -------
        list of two symbolic matrices (batch, n_visible)
            [mean, mean] with mean = vbias + sigma * (hid W^T), E[v | h]; the
            pair keeps the binary RBM's [activation, probability] shape.
        """
        mean = self.vbias + self.sigma * pt.dot(hid, self.W.T)
        return [mean, mean]

    def sample_v_given_h(self, h0_sample: pt.TensorVariable) -> list[pt.TensorVariable]:
        """Sample the visible units given hidden states.

        Parameters
        ----------
        h0_sample : symbolic matrix (batch, n_hidden)

        Returns
        -------
        list of three symbolic matrices (batch, n_visible)
            [mean, mean, v ~ N(mean, sigma^2)] (see :meth:`propdown`).
        """
        mean, _ = self.propdown(h0_sample)
        return [mean, mean, mean + self.sigma * self._random(ptr.normal, mean.shape)]

    def _sample_columns(self, state, layer):
        """One chain per column: v ~ N(b + sigma W h, sigma^2), or h from a = W^T (v / sigma) + c."""
        sigma = self.sigma[:, None]
        if layer == "v":
            mean = self.vbias[:, None] + sigma * pt.dot(self.W, state)
            return [mean, mean, mean + sigma * self._random(ptr.normal, mean.shape)]
        pre_sigmoid = pt.dot(self.W.T, state / sigma) + self.hbias[:, None]
        mean = pt.sigmoid(pre_sigmoid)
        return [pre_sigmoid, mean, self._bernoulli(mean)]

    # ------------------------------------------------------------------ costs
    def monitoring_cost(self, updates: dict, persistent: pt.TensorVariable | None,
                        pre_sigmoid_nv: pt.TensorVariable) -> pt.TensorVariable:
        """Mean squared error of the input's mean-field reconstruction, E[v | h = p(h | input)].

        Parameters
        ----------
        updates : dict
            Left unchanged.
        persistent : shared matrix or None
            Not used: the same measure serves CD and PCD.
        pre_sigmoid_nv : symbolic matrix
            Not used.

        Returns
        -------
        symbolic scalar
        """
        return self.get_reconstruction_cost(updates, self.propdown(self.propup(self.input)[1])[1])

    def get_reconstruction_cost(self, updates: dict, pre_sigmoid_nv: pt.TensorVariable) -> pt.TensorVariable:
        """Mean over all entries of (input - reconstruction)^2.

        Parameters
        ----------
        updates : dict
            Accepted for the tutorial's signature and left unchanged.
        pre_sigmoid_nv : symbolic matrix (batch, n_visible)
            The reconstruction's mean.

        Returns
        -------
        symbolic scalar
        """
        return pt.mean(pt.sqr(self.input - pre_sigmoid_nv))

    def get_pseudo_likelihood_cost(self, updates: dict) -> pt.TensorVariable:
        """Not defined for real-valued visible units: raises ``TypeError``.

        Parameters
        ----------
        updates : dict
            Not used.

        Raises
        ------
        TypeError
            Always; :meth:`get_reconstruction_cost` monitors this model.
        """
        raise TypeError("the pseudo-likelihood flips binary visible units; a GaussianBernoulliRBM is "
                        "monitored by the reconstruction's mean squared error (get_reconstruction_cost)")

    # ------------------------------------------------------------ parameters
    def check_data(self, data: ArrayLike, name: str = "data") -> np.ndarray:
        """``data`` checked as real-valued visible vectors: a non-empty finite 2-D array, n_visible wide.

        Parameters
        ----------
        data : array-like
        name : str, default "data"
            The argument's name, for the error message.

        Returns
        -------
        numpy.ndarray
            ``data`` as an array (unchanged values).
        """
        array = check_array(data, name, ndim=2)
        if array.shape[0] == 0:
            raise ValueError(f"{name} is empty: it has no rows")
        if array.shape[1] != self.n_visible:
            raise ValueError(f"{name} has {array.shape[1]} columns but the model has {self.n_visible} "
                             "visible units")
        return array

    def _settable(self):
        return {**super()._settable(), "log_sigma": self.log_sigma}

    def get_settings(self) -> dict[str, Any]:
        """Whether training moves sigma (model files and checkpoints keep it).

        Returns
        -------
        dict
            ``{"learn_sigma": bool}``.
        """
        return {"learn_sigma": self.learn_sigma}

    def set_params(self, **values: ArrayLike) -> None:
        """As :meth:`rbm.RBM.set_params`; the standard deviations come as ``log_sigma`` or as ``sigma`` (> 0).

        :meth:`get_params` gives ``log_sigma``, the model's own parameter, so
        that copying parameters is exact; ``sigma`` is the readable form
        (its log is rounded to the model's dtype). Give one of the two.

        Parameters
        ----------
        **values : arrays
            ``W``, ``hbias``, ``vbias``, and ``log_sigma`` or ``sigma``.
        """
        if values.get("sigma") is not None:
            if values.get("log_sigma") is not None:
                raise TypeError("give sigma or log_sigma, not both")
            values["log_sigma"] = np.log(self._check_sigma(values["sigma"], self.n_visible))
        values.pop("sigma", None)
        super().set_params(**values)

    def _file_arrays(self):
        """As the binary RBM's, plus ``sigma`` = exp(log_sigma) for readers of the file (loading uses log_sigma)."""
        arrays = super()._file_arrays()
        arrays["sigma"] = np.exp(arrays["log_sigma"])
        return arrays

    @staticmethod
    def _file_array_shapes(n_visible, n_hidden):
        return {**RBM._file_array_shapes(n_visible, n_hidden), "sigma": (n_visible,), "log_sigma": (n_visible,)}

    @classmethod
    def _from_file(cls, arrays, settings, dtype):
        """The model of a file; ``log_sigma`` (format 2) restores sigma exactly, ``sigma`` (format 1) otherwise."""
        arrays = dict(arrays)
        log_sigma = arrays.pop("log_sigma", None)
        if log_sigma is None and "sigma" not in arrays:
            raise ValueError("a GaussianBernoulliRBM file holds sigma or log_sigma; this one holds neither")
        if log_sigma is not None:
            arrays.pop("sigma", None)
        model = super()._from_file(arrays, settings, dtype)
        if log_sigma is not None:
            model.set_params(log_sigma=log_sigma)
        return model

    def get_sigma(self) -> np.ndarray:
        """The visible units' standard deviations.

        Returns
        -------
        array (n_visible,) of float64
            exp(log_sigma).
        """
        return np.exp(np.asarray(self.log_sigma.get_value(borrow=True), dtype=np.float64))

    def __repr__(self):
        return (f"GaussianBernoulliRBM(n_visible={self.n_visible}, n_hidden={self.n_hidden}, "
                f"learn_sigma={self.learn_sigma}, dtype={self.dtype!r})")
