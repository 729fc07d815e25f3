"""The Gaussian-Bernoulli RBM: real-valued visible units with standard deviations sigma, binary hidden units.

Energy and free energy (sigma per visible unit, W, hidden bias c = ``hbias``,
visible bias b = ``vbias``):

    E(v, h) = sum_i (v_i - b_i)^2 / (2 sigma_i^2) - sum_j c_j h_j - sum_ij (v_i / sigma_i) W_ij h_j
    F(v)    = sum_i (v_i - b_i)^2 / (2 sigma_i^2) - sum_j softplus(c_j + sum_i (v_i / sigma_i) W_ij)

so that p(h_j = 1 | v) = sigmoid(c_j + sum_i (v_i / sigma_i) W_ij) and
v | h ~ N(b + sigma * (W h), sigma^2). The class is the named composition
``rbm.RBM(visible=rbm.layers.Gaussian(sigma, learn_sigma))`` (the layer
states the maths) with its own defaults (a narrow initial W), file kind and
sigma accessors, so :class:`rbm.Trainer`, :func:`rbm.sample_chains`,
save/load, checkpoints and :mod:`rbm.evaluation` take it unchanged.
"""
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._compat import keyword_only
from ..backend import pt
from ..layers import Gaussian
from ..validation import check_positive_int
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
        n_visible = check_positive_int(n_visible, "n_visible")
        n_hidden = check_positive_int(n_hidden, "n_hidden")
        visible = Gaussian(1.0 if sigma is None else sigma, learn_sigma=learn_sigma)
        Gaussian.check_sigma(visible.sigma_init, n_visible)  # before W is drawn
        numpy_rng = _as_numpy_rng(numpy_rng)
        if W is None:
            W = numpy_rng.normal(0.0, 0.01, size=(n_visible, n_hidden))
        super().__init__(input=input, n_visible=n_visible, n_hidden=n_hidden, W=W, hbias=hbias, vbias=vbias,
                         numpy_rng=numpy_rng, theano_rng=theano_rng, seed=seed, dtype=dtype, visible=visible)
        self.learn_sigma = learn_sigma
        self.log_sigma = self.visible.log_sigma
        #: symbolic standard deviations, exp(log_sigma)
        self.sigma = self.visible.sigma

    @staticmethod
    def _check_sigma(sigma, n_visible):
        """``sigma`` as a float array (n_visible,) of positive values; a number applies to every unit."""
        return Gaussian.check_sigma(sigma, n_visible)

    # ------------------------------------------------------------ parameters
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

    @classmethod
    def _from_file(cls, arrays, settings, dtype):
        """The model of a file; ``log_sigma`` (format 2) restores sigma exactly, ``sigma`` (format 1) otherwise."""
        arrays = dict(arrays)
        log_sigma, sigma = arrays.pop("log_sigma", None), arrays.pop("sigma", None)
        if log_sigma is None and sigma is None:
            raise ValueError("a GaussianBernoulliRBM file holds sigma or log_sigma; this one holds neither")
        n_visible, n_hidden = arrays["W"].shape
        model = cls(n_visible=n_visible, n_hidden=n_hidden, dtype=dtype, sigma=sigma if log_sigma is None else None,
                    **arrays, **settings)
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
        return self.visible.get_sigma()

    def __repr__(self):
        return (f"GaussianBernoulliRBM(n_visible={self.n_visible}, n_hidden={self.n_hidden}, "
                f"learn_sigma={self.learn_sigma}, dtype={self.dtype!r})")
