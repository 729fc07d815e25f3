"""The Restricted Boltzmann Machine and its symbolic graphs.

The class follows the Theano deep-learning tutorial's ``RBM`` name for name, so
tutorial code ports by changing imports. A Bernoulli-Bernoulli RBM with weights
W (n_visible x n_hidden), hidden bias c (``hbias``) and visible bias b
(``vbias``) has energy E(v, h) = -v.b - h.c - v W h and free energy

    F(v) = -v.b - sum_j softplus((v W + c)_j).

Every log of a sigmoid is written as a softplus of the pre-sigmoid activation
(log sigmoid(a) = -softplus(-a)) so costs stay finite for any activation.

Random draws thread an explicit PyTensor random generator through the graph
(PyTensor 3 deprecates hidden generators and updates returned by ``scan``): the
model keeps a *cursor*, the newest symbolic generator state, which each draw
advances; :meth:`RBM.rng_updates` turns it into the ``{rng: new_state}`` update
that a compiled function applies.
"""
import contextlib
import numbers
import os
from collections.abc import Iterator
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike

from .. import backend
from .._compat import keyword_only
from ..backend import pt, ptr
from ..layers import Bernoulli, Layer, layer_from_settings
from ..validation import check_array, check_data, check_float, check_positive_int, check_seed

__all__ = ["RBM", "visible_bias_from_data"]


def visible_bias_from_data(data: ArrayLike, eps: float = 1e-3) -> np.ndarray:
    """Visible biases log(p / (1 - p)) from the data's per-unit means p.

    This is the initialisation recommended by Hinton's practical guide (2010);
    p is clipped to [eps, 1 - eps] so that units that are always off (the MNIST
    border) get a large negative but finite bias.

    Parameters
    ----------
    data : array (n, n_visible)
        Training rows with values in [0, 1].
    eps : float, default 1e-3
        How far from 0 and 1 the means are clipped.

    Returns
    -------
    array (n_visible,) of float64

    Examples
    --------
    >>> import rbm
    >>> rbm.visible_bias_from_data([[1, 0, 1], [1, 0, 0]]).round(2)  # means 1, 0 and 0.5
    array([ 6.91, -6.91,  0.  ])
    """
    p = np.clip(np.mean(data, axis=0, dtype=np.float64), eps, 1.0 - eps)
    return np.log(p) - np.log1p(-p)


def _as_numpy_rng(numpy_rng):
    """A numpy Generator or RandomState from None, an int seed or a generator."""
    if numpy_rng is None:
        return np.random.RandomState(1234)  # the tutorial's default
    if isinstance(numpy_rng, (np.random.Generator, np.random.RandomState)):
        return numpy_rng
    if isinstance(numpy_rng, numbers.Integral) and not isinstance(numpy_rng, bool):
        return np.random.default_rng(check_seed(numpy_rng, "numpy_rng"))
    raise TypeError(
        "numpy_rng must be None, an integer seed, numpy.random.Generator or RandomState, "
        f"got {type(numpy_rng).__name__}"
    )


def _model_dtype(dtype, input, **params):
    """The model's float type: ``dtype``, else ``input``'s, else shared parameters', else the default.

    Every piece that has a dtype must agree with it; a ``TypeError`` names
    the ones that do not.
    """
    pieces = [] if dtype is None else [("dtype", backend.check_dtype(dtype))]
    if input is not None:
        pieces.append(("input", input.dtype))
    pieces += [(f"shared {name}", value.dtype) for name, value in params.items() if backend.is_shared(value)]
    if not pieces:
        return backend.get_floatx()
    chosen = pieces[0][1]
    if any(piece_dtype != chosen for _, piece_dtype in pieces):
        described = ", ".join(f"{name} is {piece_dtype}" for name, piece_dtype in pieces)
        raise TypeError(f"the model's pieces disagree on the float type ({described}): give them one dtype")
    return backend.check_dtype(chosen)


def _sampler_generators(theano_rng, seed):
    """(shared generator for :attr:`RBM.rng` or None, SeedSequence for per-call generators).

    ``theano_rng`` is the tutorial's argument: a PyTensor ``RandomStream``
    (its seed sequence seeds both) or a shared generator (used as the model's
    generator; the per-call generators are seeded from a copy of its state).
    """
    if theano_rng is None:
        # spawn key 1 keeps these streams apart from rbm_rng, which default_rng(seed) seeds
        return None, np.random.SeedSequence(seed, spawn_key=(1,))
    if isinstance(theano_rng, ptr.utils.RandomStream):
        rng_seed, sequence = theano_rng.gen_seedgen.spawn(2)
        return backend.shared_rng(rng_seed, name="rbm_rng"), sequence
    if backend.is_shared(theano_rng) and backend.is_rng(theano_rng):
        entropy = theano_rng.get_value(borrow=False).integers(2 ** 63, size=4)
        return theano_rng, np.random.SeedSequence(entropy.tolist())
    raise TypeError("theano_rng must be a PyTensor RandomStream or a shared random generator "
                    f"(pt.random.shared_rng), got {type(theano_rng).__name__}")


class RBM:
    """Restricted Boltzmann Machine: binary visible and hidden units by default, other visible units by layer.

    Parameters
    ----------
    input : symbolic matrix, optional
        The minibatch the training graph reads; a new ``pt.matrix`` when None.
        Its dtype becomes the model's (the tutorial passes ``pt.matrix('x')``).
    n_visible, n_hidden : int
        Number of visible variables and of hidden units.
    W, hbias, vbias : numpy array or shared variable, optional
        Initial parameters, shapes (n_units, n_hidden), (n_hidden,),
        (n_units,), where n_units = n_visible for binary or Gaussian visible
        units and n_visible * K for categorical ones. By default W is uniform in +-4 sqrt(6 / (n_visible +
        n_hidden)) and the biases are zero, as in the tutorial. Shared
        variables are used as they are (the DBN shares W and hbias with its
        sigmoid layers), so training the RBM moves them.
    numpy_rng : numpy Generator, RandomState or int, optional
        Draws the initial weights (the tutorial's ``RandomState(1234)`` by default).
    theano_rng : PyTensor ``RandomStream`` or shared generator, optional
        The tutorial's source of the sampler's random numbers. A shared
        generator (``pt.random.shared_rng``) becomes :attr:`rng`; a
        ``RandomStream`` seeds the model's generators. Give this or ``seed``.
    seed : int, optional
        Seeds the generators of the Gibbs sampler instead.
    dtype : "float32" or "float64", optional
        Float type of parameters and graphs. When None: the dtype of ``input``,
        else that of shared parameters passed in, else
        :func:`rbm.backend.get_floatx`. Pieces that disagree are refused.
    visible : rbm.layers.Layer, optional
        The visible units' type: :class:`rbm.layers.Bernoulli` (the default),
        :class:`rbm.layers.Gaussian` or :class:`rbm.layers.Categorical`
        (one-hot groups; an all-zero group is a missing value).
    hidden : rbm.layers.Layer, optional
        The hidden units' type; only :class:`rbm.layers.Bernoulli` (the
        default) is implemented.

    Attributes
    ----------
    W, hbias, vbias : shared variables
        The parameters (``params`` lists them, in that order).
    input : symbolic matrix
        The minibatch the training graphs read.
    rng : shared random generator
        The generator of :meth:`get_cost_updates`, :class:`rbm.Trainer` and
        the samplers, threaded explicitly through their graphs.
    n_visible, n_hidden : int
    n_visible_units : int
        Columns of the data: n_visible times the units per visible variable.
    visible, hidden : rbm.layers.Layer
        The layers, bound to the model's size and dtype (their own
        parameters, e.g. Gaussian ``log_sigma``, live there).
    dtype : str

    Notes
    -----
    Random numbers: :meth:`get_cost_updates` draws from ``rng`` and returns
    its update with the others. Each call of the sampling methods outside it
    (:meth:`sample_h_given_v`, :meth:`gibbs_vhv`, ...) draws from a generator
    of its own that carries its default update, as the tutorial's
    ``theano_rng`` did: a compiled function draws fresh numbers at each call,
    and a ``scan`` over :meth:`gibbs_vhv` at each step (pass the updates that
    ``scan`` returns to ``pytensor.function``, as the tutorial does).

    Examples
    --------
    The tutorial's model, and its free energy F(v) = -v.b - sum_j softplus((v W + c)_j)
    evaluated for a tiny one without weights:

    >>> import numpy as np
    >>> import rbm
    >>> from rbm import backend
    >>> rbm.RBM(n_visible=784, n_hidden=500, numpy_rng=np.random.RandomState(123), seed=123)
    RBM(n_visible=784, n_hidden=500, dtype='float32')
    >>> model = rbm.RBM(n_visible=3, n_hidden=2, W=np.zeros((3, 2)), vbias=[1.0, 0.0, 0.0], dtype="float64")
    >>> free_energy = backend.compile_function([model.input], model.free_energy(model.input), mode="FAST_COMPILE")
    >>> free_energy(np.array([[1.0, 0.0, 0.0]])).round(4)  # -1 - 2 log 2
    array([-2.3863])
    """

    @keyword_only("seed", "dtype")  # rbm's own settings: keyword-only past the tutorial's arguments
    def __init__(self, input: pt.TensorVariable | None = None, n_visible: int = 784, n_hidden: int = 500,
                 W: ArrayLike | pt.TensorVariable | None = None, hbias: ArrayLike | pt.TensorVariable | None = None,
                 vbias: ArrayLike | pt.TensorVariable | None = None,
                 numpy_rng: np.random.Generator | np.random.RandomState | int | None = None, theano_rng=None, *,
                 seed: int | None = None, dtype: str | None = None, visible: Layer | None = None,
                 hidden: Layer | None = None) -> None:
        n_visible = check_positive_int(n_visible, "n_visible")
        visible = Bernoulli() if visible is None else visible
        hidden = Bernoulli() if hidden is None else hidden
        if not isinstance(visible, Layer) or visible.n_variables is not None:
            raise TypeError(f"visible must be an unbound rbm.layers layer such as Bernoulli(), got {visible!r}")
        if type(hidden) is not Bernoulli:
            raise TypeError(f"hidden units must be rbm.layers.Bernoulli() (the only hidden type implemented), "
                            f"got {hidden!r}")
        n_units = visible.n_units(n_visible)
        n_hidden = check_positive_int(n_hidden, "n_hidden")
        seed = check_seed(seed)
        if seed is not None and theano_rng is not None:
            raise ValueError("give seed or theano_rng, not both")
        if input is not None and (not isinstance(input, pt.Variable) or input.ndim != 2):
            raise TypeError("input must be a symbolic matrix (2-D PyTensor variable)")
        dtype = _model_dtype(dtype, input, W=W, hbias=hbias, vbias=vbias)
        numpy_rng = _as_numpy_rng(numpy_rng)
        sampler_rng, seed_sequence = _sampler_generators(theano_rng, seed)
        # Validate every parameter before creating any shared variable.
        W = self._check_param(W, "W", (n_units, n_hidden), dtype)
        hbias = self._check_param(hbias, "hbias", (n_hidden,), dtype)
        vbias = self._check_param(vbias, "vbias", (n_units,), dtype)
        self.visible = visible.bind(n_visible, dtype)
        self.hidden = hidden.bind(n_hidden, dtype)

        if W is None:
            bound = 4 * np.sqrt(6.0 / (n_hidden + n_units))
            W = numpy_rng.uniform(low=-bound, high=bound, size=(n_units, n_hidden))
        self.n_visible = n_visible
        self.n_visible_units = n_units
        self.n_hidden = n_hidden
        self.dtype = dtype
        self.W = W if backend.is_shared(W) else backend.shared(W, "W", dtype)
        self.hbias = (hbias if backend.is_shared(hbias)
                      else backend.shared(np.zeros(n_hidden) if hbias is None else hbias, "hbias", dtype))
        self.vbias = (vbias if backend.is_shared(vbias)
                      else backend.shared(np.zeros(n_units) if vbias is None else vbias, "vbias", dtype))
        self.input = pt.matrix("input", dtype=dtype) if input is None else input
        self.params = [self.W, self.hbias, self.vbias, *self.visible.learnt_params()]
        #: the generator of get_cost_updates, Trainer and samplers (explicitly threaded)
        self.rng = sampler_rng if sampler_rng is not None else backend.shared_rng(seed, name="rbm_rng")
        # seeds the generators that the sampling methods create outside an explicit stream
        self._seed_sequence = seed_sequence
        # Which visible bit the next pseudo-likelihood estimate flips.
        self.bit_i_idx = backend.pytensor.shared(np.int64(0), name="bit_i_idx")
        self._rng_origin = self._rng_cursor = None

    @staticmethod
    def _check_param(value, name, shape, dtype):
        if value is None:
            return None
        if backend.is_shared(value):
            current = value.get_value(borrow=True)
            if current.shape != shape:
                raise ValueError(f"{name} must have shape {shape}, got {current.shape}")
            if value.dtype != dtype:
                raise TypeError(f"shared {name} has dtype {value.dtype} but the model uses {dtype}")
            return value
        return check_array(value, name, ndim=len(shape), shape=shape)

    @classmethod
    @keyword_only("weight_std", "numpy_rng", "seed", "dtype")  # the old positional order
    def from_data(cls, data: ArrayLike, n_hidden: int = 500, *, weight_std: float = 0.01,
                  numpy_rng: np.random.Generator | np.random.RandomState | int | None = None, seed: int | None = None,
                  dtype: str | None = None) -> Self:
        """An RBM initialised as in Hinton's practical guide (2010), section 8.

        W ~ N(0, weight_std^2), hidden biases zero, visible biases
        log(p / (1 - p)) from the training data (:func:`rbm.visible_bias_from_data`).

        Parameters
        ----------
        data : array (n, n_visible)
            Training rows in [0, 1]; their width sets n_visible.
        n_hidden : int >= 1, default 500
        weight_std : float > 0, default 0.01
        numpy_rng : numpy Generator, RandomState or int, optional
            Draws W.
        seed : int, optional
            Seeds the Gibbs sampler's generators.
        dtype : "float32" or "float64", optional

        Returns
        -------
        RBM

        Examples
        --------
        >>> import numpy as np
        >>> import rbm
        >>> data = (np.random.default_rng(0).random((100, 6)) < 0.3).astype("float32")
        >>> model = rbm.RBM.from_data(data, n_hidden=4, numpy_rng=0, seed=0)
        >>> model, model.W.get_value().std().round(2)
        (RBM(n_visible=6, n_hidden=4, dtype='float32'), np.float32(0.01))
        """
        data = check_data(data)
        weight_std = check_float(weight_std, "weight_std", low=0.0, low_inclusive=False)
        numpy_rng = _as_numpy_rng(numpy_rng)
        n_visible = data.shape[1]
        n_hidden = check_positive_int(n_hidden, "n_hidden")
        W = numpy_rng.normal(0.0, weight_std, size=(n_visible, n_hidden))
        return cls(n_visible=n_visible, n_hidden=n_hidden, W=W,
                   vbias=visible_bias_from_data(data), seed=seed, dtype=dtype)

    # ------------------------------------------------------------------ energies
    def free_energy(self, v_sample: pt.TensorVariable) -> pt.TensorVariable:
        """F(v) = -v.vbias - sum_j softplus((v W + hbias)_j), one value per row.

        For other visible units, F(v) = e(v) - sum_j softplus((s(v) W + hbias)_j)
        with the visible layer's energy term e and scaling s
        (:mod:`rbm.layers`): for Gaussian units e(v) = sum_i (v_i - b_i)^2 /
        (2 sigma_i^2) and s(v) = v / sigma.

        Parameters
        ----------
        v_sample : symbolic matrix (batch, n_visible)

        Returns
        -------
        symbolic vector (batch,)
            log p(v) = -F(v) - log Z (see :mod:`rbm.evaluation` for log Z).
        """
        wx_b = pt.dot(self.visible.scale(v_sample), self.W) + self.hbias
        hidden_term = pt.sum(pt.softplus(wx_b), axis=1)
        return self.visible.energy_term(v_sample, self.vbias) - hidden_term

    # ------------------------------------------------------------- conditionals
    def propup(self, vis: pt.TensorVariable) -> list[pt.TensorVariable]:
        """The hidden units' activation and probabilities given visible states.

        Parameters
        ----------
        vis : symbolic matrix (batch, n_visible)

        Returns
        -------
        list of two symbolic matrices (batch, n_hidden)
            [a_h, sigmoid(a_h)] with a_h = vis W + hbias; sigmoid(a_h) is
            p(h_j = 1 | v). The pre-sigmoid activation is returned too, as in
            the tutorial, so that costs can use softplus(a) instead of
            log(sigmoid(a)). (For Gaussian visible units a_h = (vis /
            sigma) W + hbias.)
        """
        pre_sigmoid_activation = pt.dot(self.visible.scale(vis), self.W) + self.hbias
        return [pre_sigmoid_activation, pt.sigmoid(pre_sigmoid_activation)]

    def propdown(self, hid: pt.TensorVariable) -> list[pt.TensorVariable]:
        """The visible units' activation and probabilities given hidden states.

        Parameters
        ----------
        hid : symbolic matrix (batch, n_hidden)

        Returns
        -------
        list of two symbolic matrices (batch, n_visible_units)
            [a_v, sigmoid(a_v)] with a_v = hid W^T + vbias; sigmoid(a_v) is
            p(v_i = 1 | h). Other visible layers give their activation and
            mean: each group's softmax for categorical units, [mean, mean]
            with mean = vbias + sigma (hid W^T) for Gaussian ones.
        """
        pre_sigmoid_activation = self.visible.activation(pt.dot(hid, self.W.T), self.vbias)
        return [pre_sigmoid_activation, self.visible.mean(pre_sigmoid_activation)]

    def _bernoulli(self, mean):
        """A binary sample with P(1) = mean, drawn as uniform < mean.

        ``uniform < p`` is exactly Bernoulli(p) and much cheaper than a
        binomial draw; see :meth:`_uniform` for where the numbers come from.
        """
        return pt.cast(pt.lt(self._uniform(mean.shape), mean), self.dtype)

    def _uniform(self, shape):
        """Uniform draws in [0, 1) of ``shape`` (see :meth:`_random`)."""
        return self._random(ptr.uniform, shape)

    def _normal(self, shape):
        """Standard normal draws of ``shape`` (see :meth:`_random`)."""
        return self._random(ptr.normal, shape)

    def _random(self, distribution, shape):
        """Draws of ``distribution`` (``ptr.uniform`` or ``ptr.normal``, standard parameters) of ``shape``.

        Inside an explicit stream (:meth:`reset_rng` ... :meth:`rng_updates`)
        they advance the stream's cursor. Otherwise they come from a new
        shared generator whose default update advances it: every compiled
        function that uses them draws afresh at each call, and a ``scan``
        whose step made them turns that update into per-step state, so each
        step draws afresh (the behaviour of Theano's ``RandomStreams``).
        """
        if self._rng_cursor is None:
            rng = backend.shared_rng(self._seed_sequence.spawn(1)[0], name="rbm_draw_rng")
            next_rng, draws = distribution(size=shape, dtype=self.dtype, rng=rng, return_next_rng=True)
            backend.set_default_update(rng, next_rng)
            return draws
        next_rng, draws = distribution(size=shape, dtype=self.dtype, rng=self._rng_cursor, return_next_rng=True)
        self._rng_cursor = next_rng
        return draws

    def sample_h_given_v(self, v0_sample: pt.TensorVariable) -> list[pt.TensorVariable]:
        """Sample the hidden units given visible states.

        Parameters
        ----------
        v0_sample : symbolic matrix (batch, n_visible)

        Returns
        -------
        list of three symbolic matrices (batch, n_hidden)
            [a_h, p(h | v0), h ~ p(h | v0)] (see :meth:`propup`); the sample
            is binary, of the model's dtype, drawn as uniform < p.
        """
        pre_sigmoid_h1, h1_mean = self.propup(v0_sample)
        return [pre_sigmoid_h1, h1_mean, self._bernoulli(h1_mean)]

    def sample_v_given_h(self, h0_sample: pt.TensorVariable) -> list[pt.TensorVariable]:
        """Sample the visible units given hidden states.

        Parameters
        ----------
        h0_sample : symbolic matrix (batch, n_hidden)

        Returns
        -------
        list of three symbolic matrices (batch, n_visible)
            [a_v, p(v | h0), v ~ p(v | h0)] (see :meth:`propdown`).
        """
        pre_sigmoid_v1, v1_mean = self.propdown(h0_sample)
        return [pre_sigmoid_v1, v1_mean, self.visible.sample(v1_mean, self._uniform, self._normal)]

    def gibbs_hvh(self, h0_sample: pt.TensorVariable) -> list[pt.TensorVariable]:
        """One Gibbs step from the hidden state: h0 -> v1 -> h1.

        Parameters
        ----------
        h0_sample : symbolic matrix (batch, n_hidden)

        Returns
        -------
        list of six symbolic matrices
            [a_v1, p(v1 | h0), v1, a_h1, p(h1 | v1), h1]: the outputs of
            :meth:`sample_v_given_h` then :meth:`sample_h_given_v`.
        """
        pre_sigmoid_v1, v1_mean, v1_sample = self.sample_v_given_h(h0_sample)
        pre_sigmoid_h1, h1_mean, h1_sample = self.sample_h_given_v(v1_sample)
        return [pre_sigmoid_v1, v1_mean, v1_sample, pre_sigmoid_h1, h1_mean, h1_sample]

    def gibbs_vhv(self, v0_sample: pt.TensorVariable) -> list[pt.TensorVariable]:
        """One Gibbs step from the visible state: v0 -> h1 -> v1.

        Parameters
        ----------
        v0_sample : symbolic matrix (batch, n_visible)

        Returns
        -------
        list of six symbolic matrices
            [a_h1, p(h1 | v0), h1, a_v1, p(v1 | h1), v1]: the outputs of
            :meth:`sample_h_given_v` then :meth:`sample_v_given_h`. The
            tutorial runs it in ``scan`` to draw samples.
        """
        pre_sigmoid_h1, h1_mean, h1_sample = self.sample_h_given_v(v0_sample)
        pre_sigmoid_v1, v1_mean, v1_sample = self.sample_v_given_h(h1_sample)
        return [pre_sigmoid_h1, h1_mean, h1_sample, pre_sigmoid_v1, v1_mean, v1_sample]

    # ------------------------------------------------------------ random state
    def reset_rng(self, rng=None) -> None:
        """Start an explicit stream: draws from now on thread ``rng`` (the model's own by default).

        ``rng`` is a shared generator (:func:`rbm.backend.shared_rng`); a
        sampler passes its own so that sampling leaves training's stream
        alone. End the stream with :meth:`rng_updates`, or use
        :meth:`drawing_from`, which always ends it.

        Parameters
        ----------
        rng : shared random generator, optional
            The generator to thread; the model's ``rng`` when None.
        """
        self._rng_origin = self.rng if rng is None else rng
        self._rng_cursor = self._rng_origin

    def rng_updates(self) -> dict:
        """``{rng: newest state}`` for the explicit stream's draws, and ends the stream.

        Merge it into the updates of the compiled function so the generator
        advances between calls. Outside an explicit stream it is empty: those
        draws carry their own default updates.

        Returns
        -------
        dict
            ``{generator: its newest symbolic state}``, or ``{}`` when the
            stream drew nothing (or none was open).
        """
        origin, cursor = self._rng_origin, self._rng_cursor
        self._rng_origin = self._rng_cursor = None
        return {} if cursor is origin else {origin: cursor}

    @contextlib.contextmanager
    def drawing_from(self, rng=None) -> Iterator[dict]:
        """Context manager: an explicit stream from ``rng`` for the draws built inside the block.

        Parameters
        ----------
        rng : shared random generator, optional
            The model's ``rng`` when None.

        Yields
        ------
        dict
            Empty inside the block; holds ``{rng: final state}`` once the
            block ends (normally or by an exception, which ends the stream
            too). Pass it to the compiled function's updates.
        """
        updates = {}
        self.reset_rng(rng)
        try:
            yield updates
        finally:
            updates.update(self.rng_updates())

    def gibbs_chain(self, start: pt.TensorVariable, n_steps: int, step: str = "hvh",
                    observed: pt.TensorVariable | None = None) -> list[pt.TensorVariable]:
        """Run ``n_steps`` Gibbs steps in ``scan`` from ``start``.

        Inside an explicit stream the generator's advance is kept in its
        cursor (finish with :meth:`rng_updates`); outside one the chain draws
        from a generator of its own with a default update, like the sampling
        methods.

        The loop computes the same conditionals as :meth:`gibbs_hvh` /
        :meth:`gibbs_vhv`, but stores states one column per chain so that
        both products keep the weight matrix as their left operand (``W h^T``
        and ``W^T v^T``), which BLAS runs ~10% faster per PCD-15 minibatch
        for these shapes (measured with PyTensor's Numba backend).

        Parameters
        ----------
        start : symbolic matrix (batch, units)
            Hidden states for "hvh", visible states for "vhv".
        n_steps : int >= 1
        step : {"hvh", "vhv"}, default "hvh"
        observed : symbolic matrix (batch, n_visible_units), optional
            0/1 mask of each chain's observed visible units (missing
            categorical values): the visible samples are multiplied by it, so
            the chains run each row's own model, without its missing
            variables. All units by default.

        Returns
        -------
        list of six symbolic tensors (n_steps, batch, units)
            The per-step sequences of :meth:`gibbs_hvh` or :meth:`gibbs_vhv`.
        """
        if step not in ("hvh", "vhv"):
            raise ValueError(f"step must be 'hvh' or 'vhv', got {step!r}")
        n_steps = check_positive_int(n_steps, "n_steps")
        first, second = ("v", "h") if step == "hvh" else ("h", "v")
        own_generator = None
        if self._rng_cursor is None:
            own_generator = backend.shared_rng(self._seed_sequence.spawn(1)[0], name="rbm_chain_rng")
            self.reset_rng(own_generator)

        observed_columns = None if observed is None else observed.T

        def one_step(state, rng):
            self._rng_cursor = rng
            outputs_first = self._sample_columns(state, first, observed_columns)
            outputs_second = self._sample_columns(outputs_first[2], second, observed_columns)
            return [*outputs_first, *outputs_second, self._rng_cursor]

        *sequences, rng_end = backend.pytensor.scan(
            one_step,
            outputs_info=[None] * 5 + [start.T, self._rng_cursor],
            n_steps=n_steps,
            name=f"gibbs_{step}",
            return_updates=False,
        )
        self._rng_cursor = rng_end
        if own_generator is not None:
            backend.set_default_update(own_generator, self.rng_updates()[own_generator])
        return [sequence.dimshuffle(0, 2, 1) for sequence in sequences]

    def _sample_columns(self, state, layer, observed=None):
        """[activation, mean, sample] for ``layer`` given the other layer's state.

        States and results hold one chain per column: the visible layer's
        activation from W h and vbias (masked by ``observed`` when given),
        a = W^T s(v) + hbias for the hidden one.
        """
        if layer == "v":
            pre_sigmoid = self.visible.activation(pt.dot(self.W, state), self.vbias[:, None], unit_axis=0)
            mean = self.visible.mean(pre_sigmoid, unit_axis=0)
            sample = self.visible.sample(mean, self._uniform, self._normal, unit_axis=0)
            return [pre_sigmoid, mean, sample if observed is None else sample * observed]
        pre_sigmoid = pt.dot(self.W.T, self.visible.scale(state, unit_axis=0)) + self.hbias[:, None]
        mean = pt.sigmoid(pre_sigmoid)
        return [pre_sigmoid, mean, self._bernoulli(mean)]

    # ---------------------------------------------------------------- learning
    def get_cost_gradients(self, persistent: pt.TensorVariable | None = None,
                           k: int = 1) -> tuple[pt.TensorVariable, list[pt.TensorVariable], dict]:
        """(monitoring_cost, gradients of params, state updates) for CD-k / PCD-k.

        The gradient is that of mean F(input) - mean F(chain end), with the
        chain end held constant: the data-minus-model statistics. Training
        loops that change the step (momentum, centering, :class:`rbm.Trainer`)
        start from here; :meth:`get_cost_updates` adds plain gradient descent.

        Parameters
        ----------
        persistent : shared matrix (n_chains, n_hidden), optional
            The persistent chains' hidden states (PCD-k); CD-k, starting
            from the data, when None.
        k : int >= 1, default 1
            Gibbs steps.

        Returns
        -------
        monitoring_cost : symbolic scalar
            See :meth:`monitoring_cost`.
        gradients : list of symbolic tensors
            One per parameter of ``params``.
        updates : dict
            The persistent chain's new state (PCD), the pseudo-likelihood bit
            index and the random state, but no parameter updates.
        """
        k = check_positive_int(k, "k")
        self._check_persistent(persistent)
        with self.drawing_from() as rng_updates:
            if persistent is None:
                chain_start = self.sample_h_given_v(self.input)[2]
                observed = self.visible.observed(self.input)  # CD runs each row's own model
            else:
                chain_start, observed = persistent, None
            (pre_sigmoid_nvs, nv_means, nv_samples,
             pre_sigmoid_nhs, nh_means, nh_samples) = self.gibbs_chain(chain_start, k, "hvh", observed)
        gparams = self.free_energy_gradients(nv_samples[-1])
        updates = {}
        if persistent is not None:
            updates[persistent] = nh_samples[-1]
        monitoring_cost = self.monitoring_cost(updates, persistent, pre_sigmoid_nvs[-1])
        updates.update(rng_updates)
        return monitoring_cost, gparams, updates

    def free_energy_gradients(self, chain_end: pt.TensorVariable) -> list[pt.TensorVariable]:
        """Gradients of mean F(input) - mean F(chain_end) with respect to params, the chain end held constant.

        That is the negative log-likelihood gradient with the model's
        expectations estimated on the chains' visible states: data-minus-model
        statistics, with p(h | v) in place of sampled hidden states.

        Parameters
        ----------
        chain_end : symbolic matrix (n_chains, n_visible)
            The negative phase's visible states.

        Returns
        -------
        list of symbolic tensors
            One gradient per parameter of ``params``, in that order.
        """
        chain_end.name = "chain_end"  # findable by tests and debug prints
        cost = pt.mean(self.free_energy(self.input)) - pt.mean(self.free_energy(chain_end))
        return pt.grad(cost, self.params, consider_constant=[chain_end])

    def monitoring_cost(self, updates: dict, persistent: pt.TensorVariable | None,
                        pre_sigmoid_nv: pt.TensorVariable) -> pt.TensorVariable:
        """The tutorial's progress measure: pseudo-likelihood for PCD, reconstruction cost for CD.

        Visible units without a pseudo-likelihood (Gaussian, categorical) are
        monitored by the reconstruction cost of the input's mean-field
        reconstruction (the activation given p(h | input)), for CD and PCD.

        Parameters
        ----------
        updates : dict
            The step's updates; the pseudo-likelihood adds its bit index's.
        persistent : shared matrix or None
            The persistent chains (PCD), or None (CD).
        pre_sigmoid_nv : symbolic matrix
            The chain end's visible activation (for the reconstruction cost).

        Returns
        -------
        symbolic scalar
        """
        if not self.visible.pseudo_likelihood:
            return self.get_reconstruction_cost(updates, self.propdown(self.propup(self.input)[1])[0])
        if persistent is not None:
            return self.get_pseudo_likelihood_cost(updates)
        return self.get_reconstruction_cost(updates, pre_sigmoid_nv)

    def _check_persistent(self, persistent):
        """Refuse a persistent chain that is not a shared (batch, n_hidden) matrix of the model's dtype."""
        if persistent is None:
            return
        if not backend.is_shared(persistent) or persistent.ndim != 2:
            raise TypeError("persistent must be None or a shared matrix holding the chains' hidden states, "
                            f"got {type(persistent).__name__}")
        if persistent.dtype != self.dtype:
            raise TypeError(f"persistent has dtype {persistent.dtype} but the model uses {self.dtype}")
        width = persistent.get_value(borrow=True).shape[1]
        if width != self.n_hidden:
            raise ValueError(f"persistent has {width} columns but the model has {self.n_hidden} hidden units")

    def get_cost_updates(self, lr: float | pt.TensorVariable = 0.1, persistent: pt.TensorVariable | None = None,
                         k: int = 1) -> tuple[pt.TensorVariable, dict]:
        """(monitoring_cost, updates) for one step of CD-k, or PCD-k if ``persistent``.

        The tutorial's method, with the tutorial's arguments.

        Parameters
        ----------
        lr : float > 0 or symbolic scalar, default 0.1
            The learning rate; symbolic when fed per call, as the DBN does.
        persistent : shared matrix (n_chains, n_hidden), optional
            The persistent chains' hidden states (PCD-k); CD-k when None.
        k : int >= 1, default 1
            Gibbs steps.

        Returns
        -------
        monitoring_cost : symbolic scalar
            The pseudo-likelihood for PCD, the reconstruction cost for CD.
        updates : dict
            param <- param - lr * gradient for W, hbias and vbias, the
            chain's new state, the pseudo-likelihood bit index and the random
            state: pass it to ``pytensor.function(..., updates=updates)``.

        Examples
        --------
        >>> import rbm
        >>> from rbm import backend
        >>> model = rbm.RBM(n_visible=6, n_hidden=3, seed=0)
        >>> chains = backend.shared(backend.as_floatx([[0.0, 0.0, 0.0]] * 4), "persistent_chain")
        >>> cost, updates = model.get_cost_updates(lr=0.1, persistent=chains, k=15)
        >>> sorted(variable.name for variable in updates)
        ['W', 'bit_i_idx', 'hbias', 'persistent_chain', 'rbm_rng', 'vbias']
        """
        lr = self._learning_rate(lr)
        monitoring_cost, gparams, updates = self.get_cost_gradients(persistent, k)
        for gparam, param in zip(gparams, self.params):
            updates[param] = param - gparam * lr
        return monitoring_cost, updates

    def _learning_rate(self, lr):
        """``lr`` in the model's dtype: a checked number > 0, or a symbolic scalar cast to it."""
        if isinstance(lr, pt.Variable):
            if lr.ndim != 0 or lr.dtype.startswith(("complex", "bool")):
                raise TypeError(f"a symbolic lr must be a real scalar, got {lr.type}")
            return pt.cast(lr, self.dtype)
        return np.asarray(check_float(lr, "lr", low=0.0, low_inclusive=False), dtype=self.dtype)

    def get_pseudo_likelihood_cost(self, updates: dict) -> pt.TensorVariable:
        """n_visible * log sigmoid(F(x with bit i flipped) - F(x)), averaged over rows.

        Stochastic approximation to the pseudo-likelihood: one bit i per call,
        i advancing modulo n_visible through ``updates``; x is the rounded
        input. Flipping bit i adds s = 1 - 2 x_i times row i of W to the hidden
        activation, so F(x_flip) reuses x W instead of a second product:
        F(x) - F(x_flip) = s b_i + sum_j softplus(a_j + s W_ij) - softplus(a_j).
        The log sigmoid is written as -softplus(F(x) - F(x_flip)) so it stays
        finite.

        Parameters
        ----------
        updates : dict
            Receives the bit index's update (it is changed in place).

        Returns
        -------
        symbolic scalar
            The estimate for the minibatch ``input`` (the higher the better).

        Raises
        ------
        TypeError
            For visible units that are not binary.
        """
        if not self.visible.pseudo_likelihood:
            raise TypeError(f"the pseudo-likelihood flips binary visible units; {self.visible!r} units are "
                            "monitored by the reconstruction cost (get_reconstruction_cost)")
        bit_i_idx = self.bit_i_idx
        xi = pt.round(self.input)
        activation = pt.dot(xi, self.W) + self.hbias
        flip_sign = 1 - 2 * xi[:, bit_i_idx]
        activation_flip = activation + flip_sign[:, None] * self.W[bit_i_idx]
        fe_xi_minus_fe_flip = (flip_sign * self.vbias[bit_i_idx]
                               + pt.sum(pt.softplus(activation_flip), axis=1)
                               - pt.sum(pt.softplus(activation), axis=1))
        cost = -self.n_visible * pt.mean(pt.softplus(fe_xi_minus_fe_flip))
        updates[bit_i_idx] = (bit_i_idx + 1) % self.n_visible
        return cost

    def get_reconstruction_cost(self, updates: dict, pre_sigmoid_nv: pt.TensorVariable) -> pt.TensorVariable:
        """Mean over rows of sum_i x_i log s(a_i) + (1 - x_i) log(1 - s(a_i)).

        s is the sigmoid and a = ``pre_sigmoid_nv`` the reconstruction's
        activation; the sum is computed as x.a - softplus(a), which equals it
        exactly and never takes the log of a rounded-to-zero sigmoid. Other
        visible layers give their own (:mod:`rbm.layers`): the log-probability
        of each observed category for categorical units, the mean squared
        error (the lower the better) for Gaussian ones.

        Parameters
        ----------
        updates : dict
            Accepted for the tutorial's signature and left unchanged.
        pre_sigmoid_nv : symbolic matrix (batch, n_visible)
            The reconstruction's visible activation.

        Returns
        -------
        symbolic scalar
            The mean log-probability of the input under the reconstruction's
            Bernoulli means (the tutorial's cross-entropy, negated).
        """
        return self.visible.reconstruction_cost(self.input, pre_sigmoid_nv)

    # ------------------------------------------------------------ parameters
    #: what model files of this class say they hold (see :mod:`rbm.persistence`)
    FILE_KIND = "rbm.RBM"

    def check_data(self, data: ArrayLike, name: str = "data") -> np.ndarray:
        """``data`` checked as this model's visible vectors: a non-empty 2-D array in [0, 1], n_visible wide.

        Parameters
        ----------
        data : array-like
        name : str, default "data"
            The argument's name, for the error message.

        Returns
        -------
        numpy.ndarray
            ``data`` as an array (unchanged values).

        Raises
        ------
        ValueError, TypeError
            Naming the problem: wrong dimensions or width, no rows, NaN or
            infinite values, values outside [0, 1], a non-numeric type.

        Examples
        --------
        >>> import rbm
        >>> rbm.RBM(n_visible=3, n_hidden=2).check_data([[0.0, 0.5, 2.0]], "train")
        Traceback (most recent call last):
        ...
        ValueError: train must hold values in [0, 1], got values in [0.0, 2.0]
        """
        return self.visible.check_data(data, self.n_visible, name)

    def get_params(self) -> dict[str, np.ndarray]:
        """Every array of the model as a dict of numpy arrays (copies), ready for :meth:`set_params`.

        Returns
        -------
        dict
            name -> array, in the model's own parametrisation and dtype
            (``W``, ``hbias``, ``vbias``, and e.g. ``log_sigma`` for Gaussian
            visible units, learnt or not), so that
            ``other.set_params(**model.get_params())`` makes ``other`` compute
            exactly what ``model`` computes, bit for bit.
        """
        return {name: np.array(variable.get_value(borrow=True)) for name, variable in self._settable().items()}

    def _settable(self):
        """name -> shared variable of every array :meth:`set_params` may replace (trained or not)."""
        return {"W": self.W, "hbias": self.hbias, "vbias": self.vbias, **self.visible.own_params()}

    def get_settings(self) -> dict[str, Any]:
        """The constructor settings that, beyond the arrays of :meth:`get_params`, change training or sampling.

        Model files and checkpoints record them, so that a loaded model trains
        as the saved one did.

        Returns
        -------
        dict
            Setting name -> value, JSON-serialisable; empty for the binary RBM,
            ``{"visible": layer settings}`` for other visible units.
        """
        if type(self.visible) is Bernoulli:
            return {}
        return {"visible": self.visible.settings()}

    def set_params(self, **values: ArrayLike) -> None:
        """Replace parameters from numpy arrays (``W=``, ``hbias=``, ...), all checked before any is set.

        Parameters
        ----------
        **values : arrays
            Any of the names :meth:`get_params` returns, each of its shape;
            None leaves that parameter as it is.

        Raises
        ------
        TypeError
            An unknown name.
        ValueError
            A wrong shape, or NaN or infinite values; nothing is set.

        Examples
        --------
        >>> import numpy as np
        >>> import rbm
        >>> model = rbm.RBM(n_visible=3, n_hidden=2, seed=0)
        >>> model.set_params(hbias=np.ones(2))
        >>> model.get_params()["hbias"]
        array([1., 1.], dtype=float32)
        >>> model.set_params(hbias=np.ones(3))
        Traceback (most recent call last):
        ...
        ValueError: hbias must have shape (2,), got (3,)
        """
        settable = self._settable()
        unknown = set(values) - set(settable)
        if unknown:
            raise TypeError(f"unknown parameters {sorted(unknown)}; this model has {sorted(settable)}")
        checked = {}
        for name, value in values.items():
            if value is not None:
                shape = settable[name].get_value(borrow=True).shape
                checked[name] = self._check_param_value(name, check_array(value, name, ndim=len(shape), shape=shape))
        for name, value in checked.items():
            settable[name].set_value(backend.as_floatx(value, self.dtype))

    def _check_param_value(self, name, value):
        """Hook for constraints beyond shape and finiteness (e.g. positive sigma)."""
        return value

    def _file_arrays(self):
        """The arrays a model file holds: those of :meth:`get_params` (with :meth:`get_settings`, the whole model)."""
        return self.get_params()

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model to ``path`` (.npz, no pickle), atomically; see :mod:`rbm.persistence`.

        Parameters
        ----------
        path : str or path-like
            Must end in ``.npz``, in an existing folder.
        """
        from ..persistence import save_model

        save_model(self, path)

    @classmethod
    @keyword_only("dtype")
    def load(cls, path: str | os.PathLike[str], *, dtype: str | None = None) -> Self:
        """A new model from a file written by :meth:`save`.

        Parameters
        ----------
        path : str or path-like
            A model file of this class's kind.
        dtype : "float32" or "float64", optional
            The new model's float type; the file's by default.

        Returns
        -------
        RBM
            Of the class ``load`` is called on.

        Raises
        ------
        ValueError
            When the file is damaged, of another kind or version, or its
            arrays have wrong shapes or non-finite values.

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np
        >>> import rbm
        >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
        >>> model = rbm.RBM(n_visible=6, n_hidden=3, seed=0)
        >>> model.save(path)
        >>> loaded = rbm.RBM.load(path)
        >>> loaded, np.array_equal(loaded.W.get_value(), model.W.get_value())
        (RBM(n_visible=6, n_hidden=3, dtype='float32'), True)
        """
        from ..persistence import load_model_arrays

        arrays, settings = load_model_arrays(path, cls.FILE_KIND, cls._file_array_shapes)
        try:
            return cls._from_file(arrays, settings, dtype=dtype or arrays["W"].dtype.name)
        except TypeError as error:  # settings this kind does not take
            raise ValueError(f"{path!r} holds settings a {cls.FILE_KIND!r} does not take: {error}") from None

    @staticmethod
    def _file_array_shapes(n_units, n_hidden):
        """name -> shape of every array this kind's model files may hold (a Gaussian layer's sigma too)."""
        return {"W": (n_units, n_hidden), "hbias": (n_hidden,), "vbias": (n_units,), "sigma": (n_units,),
                "log_sigma": (n_units,)}

    @classmethod
    def _from_file(cls, arrays, settings, dtype):
        """The model a file's checked ``arrays`` and ``settings`` describe."""
        settings = dict(settings)
        visible = layer_from_settings(settings.pop("visible", None))
        arrays = dict(arrays)
        arrays.pop("sigma", None)  # for readers of the file; log_sigma restores sigma exactly
        layer_arrays = {name: arrays.pop(name) for name in list(arrays) if name not in ("W", "hbias", "vbias")}
        n_units, n_hidden = arrays["W"].shape
        model = cls(n_visible=n_units // visible.group_size, n_hidden=n_hidden, dtype=dtype, visible=visible,
                    **arrays, **settings)
        model.set_params(**layer_arrays)
        return model

    def __repr__(self):
        visible = "" if type(self.visible) is Bernoulli else f", visible={self.visible!r}"
        return f"RBM(n_visible={self.n_visible}, n_hidden={self.n_hidden}{visible}, dtype={self.dtype!r})"
