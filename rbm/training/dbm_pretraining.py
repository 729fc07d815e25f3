"""Greedy layer-wise pretraining of a DBM with Salakhutdinov & Hinton's stack of modified RBMs.

Salakhutdinov & Hinton ("Deep Boltzmann machines", AISTATS 2009, section
3.1) pretrain a DBM v - h1 - h2 as two RBMs whose inputs are doubled on the
side where, in the DBM, a layer will also hear its other neighbour:

- the bottom RBM has two copies of the visible vector, tied to h1 by the same
  weights, so that p(h1 | v) = sigmoid(2 v W1) while p(v | h1) = sigmoid(W1 h1);
- the top RBM has two copies of h2: p(h1 | h2) = sigmoid(2 W2 h2) while
  p(h2 | h1) = sigmoid(h1 W2).

Composed into the DBM, h1 hears both v and h2, and its total input is halved
to p(h1 | v, h2) = sigmoid(v W1 + W2 h2): the weights go in as trained, without
halving, because the doubling was part of the RBMs' graphs. For more than two
hidden layers (Salakhutdinov & Hinton, "An efficient learning procedure for
deep Boltzmann machines", Neural Computation 2012) the RBMs in between are
doubled in both directions, p(h_(i+1) | h_i) = sigmoid(2 (h_i W + c)) and
p(h_i | h_(i+1)) = sigmoid(2 (W h_(i+1) + b)): a plain RBM with twice the
energy, whose effective weights 2 W are halved when it is composed (Goodfellow,
Bengio & Courville, "Deep Learning", 2016, section 20.4.5, say the same: all
but the top and bottom RBMs have their weights divided by two).

:class:`ModifiedRBM` is such an RBM on PyTensor graphs (a subclass of
:class:`rbm.RBM`), so :class:`rbm.Trainer` trains it with CD-k on the shared
engine; :func:`pretrain_dbm` trains the stack bottom up and writes the result
into a :class:`rbm.DBM`.
"""
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..backend import pt
from ..models.rbm import RBM
from ..validation import check_float, check_positive_int, check_seed, check_verbose
from .trainer import Trainer

__all__ = ["ModifiedRBM", "pretrain_dbm"]


def _sigmoid(x):
    """The logistic function in numpy, without overflow warnings."""
    return np.exp(-np.logaddexp(0.0, -x))


class ModifiedRBM(RBM):
    """A binary RBM of Salakhutdinov & Hinton's pretraining stack: input doubled bottom-up, top-down or both.

    With weights W, hidden biases c (``hbias``) and visible biases b (``vbias``):

    - ``double_up`` only (the bottom RBM): two copies v', v'' of the visible
      vector share W; E(v', v'', h) = -(v' + v'').b - (v' + v'') W h - 2 c.h, so
      p(h | v', v'') = sigmoid((v' + v'') W + 2 c), which is
      sigmoid(2 (v W + c)) when both copies hold the data v, and each copy
      has p(v'_i = 1 | h) = sigmoid(W h + b);
    - ``double_down`` only (the top RBM): two copies h', h'' of the hidden
      vector; E(v, h', h'') = -2 b.v - v W (h' + h'') - c.(h' + h''), so
      p(v | h', h'') = sigmoid(2 (W h + b)) when h' = h'' = h, and each copy
      has p(h'_j = 1 | v) = sigmoid(v W + c);
    - both (the RBMs in between, for three or more hidden layers): no copies,
      E(v, h) = 2 (-b.v - v W h - c.h), so p(h | v) = sigmoid(2 (v W + c))
      and p(v | h) = sigmoid(2 (W h + b)).

    The bias of the layer whose input is doubled is doubled with the
    weights, as in Salakhutdinov's released DBM code (his ``rbm.m`` and
    ``rbm_l2.m``); the papers write the conditionals without biases. Each
    model is therefore 2 E_plain(x, y) with copies on the side whose
    input is not doubled, and :func:`pretrain_dbm` composes the DBM by
    averaging the two RBMs' inputs to each shared layer.

    A layer with two copies is held as their mean, m = (x' + x'') / 2, in
    {0, 1/2, 1} per unit: the energy depends on the copies only through
    their sum, so the model's graphs (free energy, conditionals, CD's
    gradient) are exact in m. The data's m is the data itself (both copies
    clamped to it); a sampled m is the mean of two independent Bernoulli
    draws, as a Gibbs step of the two-copy model draws each copy
    (Salakhutdinov's code draws one state and doubles it, which makes the
    copies equal). Summing out the hidden layer gives the free energy

        F(x) = -2 x.b - sum_j softplus(2 (x W + c)_j)   (hidden input doubled: one hidden copy)
        F(x) = -2 x.b - 2 sum_j softplus((x W + c)_j)   (hidden copies)

    and CD's gradient is that of mean F(data) - mean F(chain end), as for
    :class:`rbm.RBM`: :class:`rbm.Trainer` with ``persistent=False`` trains
    it unchanged (without centering, tempering or a sparsity target, which
    assume the plain RBM's energy).

    Parameters
    ----------
    n_visible, n_hidden : int >= 1
    double_up : bool
        Double the hidden units' input, 2 (v W + c) (bottom and middle RBMs).
    double_down : bool
        Double the visible units' input, 2 (W h + b) (middle and top RBMs).
        At least one of the two.
    W, hbias, vbias, numpy_rng, seed, dtype
        As for :class:`rbm.RBM` (binary visible units only).

    Examples
    --------
    >>> import numpy as np
    >>> from rbm import backend
    >>> from rbm.training.dbm_pretraining import ModifiedRBM
    >>> bottom = ModifiedRBM(2, 1, double_up=True, double_down=False, W=[[1.0], [0.0]], dtype="float64")
    >>> up = backend.compile_function([bottom.input], bottom.propup(bottom.input)[0], mode="FAST_COMPILE")
    >>> up(np.array([[1.0, 1.0]]))  # 2 (v W + c)
    array([[2.]])
    """

    def __init__(self, n_visible: int = 784, n_hidden: int = 500, *, double_up: bool, double_down: bool,
                 W: ArrayLike | None = None, hbias: ArrayLike | None = None, vbias: ArrayLike | None = None,
                 numpy_rng: np.random.Generator | np.random.RandomState | int | None = None, seed: int | None = None,
                 dtype: str | None = None) -> None:
        for name, value in (("double_up", double_up), ("double_down", double_down)):
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be True or False, got {value!r}")
        if not (double_up or double_down):
            raise ValueError("a modified RBM doubles its input on at least one side "
                             "(double_up or double_down); with neither it is a plain rbm.RBM")
        super().__init__(n_visible=n_visible, n_hidden=n_hidden, W=W, hbias=hbias, vbias=vbias, numpy_rng=numpy_rng,
                         seed=seed, dtype=dtype)
        self.double_up = double_up
        self.double_down = double_down

    #: its own kind: a checkpoint of its training is not a plain RBM's
    FILE_KIND = "rbm.ModifiedRBM"

    def get_settings(self) -> dict[str, Any]:
        """The doubling, which changes every graph of the model (see :meth:`rbm.RBM.get_settings`).

        Returns
        -------
        dict
            ``{"double_up": bool, "double_down": bool}``.
        """
        return {**super().get_settings(), "double_up": self.double_up, "double_down": self.double_down}

    # ------------------------------------------------------------ the model
    def free_energy(self, v_sample: pt.TensorVariable) -> pt.TensorVariable:
        """F(x) = -2 x.b - sum_j softplus(2 (x W + c)_j), or -2 x.b - 2 sum_j softplus((x W + c)_j) with hidden copies.

        ``x`` is the visible layer's state (the mean of its two copies when
        it has them); log p(x) = -F(x) - log Z up to the copies' multiplicity,
        which does not depend on the parameters.

        Parameters
        ----------
        v_sample : symbolic matrix (batch, n_visible)

        Returns
        -------
        symbolic vector (batch,)
        """
        hidden_input = pt.dot(v_sample, self.W) + self.hbias
        if self.double_up:  # one hidden copy, which hears 2 (x W + c)
            hidden_term = pt.sum(pt.softplus(2 * hidden_input), axis=1)
        else:  # two hidden copies, each hearing x W + c
            hidden_term = 2 * pt.sum(pt.softplus(hidden_input), axis=1)
        return -2 * pt.dot(v_sample, self.vbias) - hidden_term

    def propup(self, vis: pt.TensorVariable) -> list[pt.TensorVariable]:
        """[a_h, sigmoid(a_h)] with a_h = 2 (vis W + c) when the input is doubled up, vis W + c otherwise.

        Parameters
        ----------
        vis : symbolic matrix (batch, n_visible)

        Returns
        -------
        list of two symbolic matrices (batch, n_hidden)
            sigmoid(a_h) is p(h_j = 1 | vis) (of each copy, with hidden copies).
        """
        activation = self._up_factor() * (pt.dot(vis, self.W) + self.hbias)
        return [activation, pt.sigmoid(activation)]

    def propdown(self, hid: pt.TensorVariable) -> list[pt.TensorVariable]:
        """[a_v, sigmoid(a_v)] with a_v = 2 (hid W^T + b) when the input is doubled down, hid W^T + b otherwise.

        Parameters
        ----------
        hid : symbolic matrix (batch, n_hidden)

        Returns
        -------
        list of two symbolic matrices (batch, n_visible)
            sigmoid(a_v) is p(v_i = 1 | hid) (of each copy, with visible copies).
        """
        activation = self._down_factor() * (pt.dot(hid, self.W.T) + self.vbias)
        return [activation, pt.sigmoid(activation)]

    def _up_factor(self):
        return np.asarray(2.0 if self.double_up else 1.0, dtype=self.dtype)

    def _down_factor(self):
        return np.asarray(2.0 if self.double_down else 1.0, dtype=self.dtype)

    def _draw(self, mean, copies):
        """A layer's state given its units' means: one Bernoulli draw, or the mean of two independent ones."""
        if copies == 1:
            return self._bernoulli(mean)
        return (self._bernoulli(mean) + self._bernoulli(mean)) * np.asarray(0.5, dtype=self.dtype)

    def sample_h_given_v(self, v0_sample: pt.TensorVariable) -> list[pt.TensorVariable]:
        """[a_h, p(h | v0), h]: h one Bernoulli draw, or the mean of its two copies' draws (hidden copies).

        Parameters
        ----------
        v0_sample : symbolic matrix (batch, n_visible)

        Returns
        -------
        list of three symbolic matrices (batch, n_hidden)
        """
        pre_sigmoid_h1, h1_mean = self.propup(v0_sample)
        return [pre_sigmoid_h1, h1_mean, self._draw(h1_mean, 1 if self.double_up else 2)]

    def sample_v_given_h(self, h0_sample: pt.TensorVariable) -> list[pt.TensorVariable]:
        """[a_v, p(v | h0), v]: v one Bernoulli draw, or the mean of its two copies' draws (visible copies).

        Parameters
        ----------
        h0_sample : symbolic matrix (batch, n_hidden)

        Returns
        -------
        list of three symbolic matrices (batch, n_visible)
        """
        pre_sigmoid_v1, v1_mean = self.propdown(h0_sample)
        return [pre_sigmoid_v1, v1_mean, self._draw(v1_mean, 1 if self.double_down else 2)]

    def _sample_columns(self, state, layer, observed=None):
        """[activation, mean, state] of ``layer`` given the other layer's state, one chain per column.

        The Gibbs chain of :meth:`rbm.RBM.gibbs_chain` calls this; the
        activations are :meth:`propdown`'s and :meth:`propup`'s, transposed.
        """
        if layer == "v":
            pre_sigmoid = self._down_factor() * (pt.dot(self.W, state) + self.vbias[:, None])
            mean = pt.sigmoid(pre_sigmoid)
            sample = self._draw(mean, 1 if self.double_down else 2)
            return [pre_sigmoid, mean, sample if observed is None else sample * observed]
        pre_sigmoid = self._up_factor() * (pt.dot(self.W.T, state) + self.hbias[:, None])
        mean = pt.sigmoid(pre_sigmoid)
        return [pre_sigmoid, mean, self._draw(mean, 1 if self.double_up else 2)]

    def get_pseudo_likelihood_cost(self, updates: dict) -> pt.TensorVariable:
        """Refused: the pseudo-likelihood estimate assumes the plain RBM's energy; train with ``persistent=False``.

        Parameters
        ----------
        updates : dict
            Not used.

        Raises
        ------
        TypeError
            Always.
        """
        raise TypeError("a modified RBM is monitored by the reconstruction cost: train it with "
                        "rbm.Trainer(..., persistent=False)")

    def save(self, path) -> None:
        """Refused: a modified RBM is one step of pretraining; save the composed :class:`rbm.DBM` instead.

        Parameters
        ----------
        path : str or path-like
            Not used.

        Raises
        ------
        TypeError
            Always.
        """
        raise TypeError("a modified RBM is a step of DBM pretraining, not a model of its own: save the DBM "
                        "that pretrain_dbm composed")

    def __repr__(self):
        return (f"ModifiedRBM(n_visible={self.n_visible}, n_hidden={self.n_hidden}, double_up={self.double_up}, "
                f"double_down={self.double_down}, dtype={self.dtype!r})")


def _layer_seeds(seed, n):
    """``n`` independent integer seeds from ``seed`` (fresh entropy when None)."""
    return [int(child.generate_state(1)[0]) for child in np.random.SeedSequence(seed).spawn(n)]


def pretrain_dbm(model, data: ArrayLike, *, epochs: int = 10, learning_rate: float | Callable[[int], float] = 0.05,
                 k: int = 1, batch_size: int = 100, momentum: float | Callable[[int], float] = 0.0,
                 weight_decay: float = 0.0, seed: int | None = None, mode: str = "cpu",
                 verbose: bool | int = True) -> list[Trainer]:
    """Pretrain ``model`` greedily with Salakhutdinov & Hinton's modified RBMs, then write them into it.

    A DBM with layers x_0 = v, x_1, ..., x_L (L >= 2 hidden layers) is
    pretrained as L modified RBMs (:class:`ModifiedRBM`), RBM i joining x_i
    to x_(i+1) with weights W_i, visible biases b_i and hidden biases c_i:

    - RBM 0 (bottom): hidden input doubled, p(x_1 | v) = sigmoid(2 (v W_0 + c_0)),
      two copies of v, p(v | x_1) = sigmoid(W_0 x_1 + b_0);
    - RBM L - 1 (top): visible input doubled, p(x_(L-1) | x_L) =
      sigmoid(2 (W x_L + b)), two copies of x_L, p(x_L | x_(L-1)) = sigmoid(x_(L-1) W + c);
    - RBMs in between (three or more hidden layers, Salakhutdinov & Hinton
      2012): both inputs doubled.

    Each is trained with CD-k by :class:`rbm.Trainer` (``persistent=False``)
    for ``epochs`` epochs, bottom up: RBM 0 on ``data``, RBM i on the means
    sigmoid(2 (x W_(i-1) + c_(i-1))) that the trained RBM i - 1 gives its
    own data rows x (its doubled bottom-up input, as in the DBM's mean-field
    start). Each RBM starts from the DBM's parameters: W_i = the DBM's W_i,
    b_0 = bias_0, c_(L-1) = bias_L, and half of bias_i for each of the two
    biases c_(i-1), b_i that layer i gets, so that composing the untrained
    stack gives back the DBM.

    Composition: in the DBM a hidden layer hears both neighbours and its
    input is the average of the two RBMs' doubled inputs,

        (2 (x_(i-1) W_(i-1) + c_(i-1)) + 2 (W_i x_(i+1) + b_i)) / 2
            = x_(i-1) W_(i-1) + W_i x_(i+1) + (c_(i-1) + b_i),

    so the DBM's parameters become

        W_i    = W_i of RBM i (not halved: the doubling was in the RBM's graph),
        bias_0 = b_0 (the visible units' input was not doubled),
        bias_i = c_(i-1) + b_i for 0 < i < L (the sum, as Salakhutdinov's DBM code does),
        bias_L = c_(L-1) (the top units' input was not doubled).

    Every RBM trains before the DBM changes: a divergence or an interrupt
    leaves the DBM as it was.

    Parameters
    ----------
    model : rbm.DBM
        Its parameters are replaced (and used as each RBM's start).
    data : array (n, n_visible)
        Training rows in [0, 1].
    epochs : int >= 1, default 10
        CD epochs per RBM.
    learning_rate : float > 0 or schedule, default 0.05
        As for :class:`rbm.Trainer` (Salakhutdinov's code uses 0.05).
    k : int >= 1, default 1
        Gibbs steps of CD-k.
    batch_size : int >= 1, default 100
        At most the number of rows; the last n % batch_size rows are not used.
    momentum : float in [0, 1) or schedule, default 0.0
    weight_decay : float >= 0, default 0.0
        L2 penalty on the weights, as for :class:`rbm.Trainer`.
    seed : int, optional
        Seeds each RBM's sampler (independent streams, spawned from it).
    mode : str, default "cpu"
        "cpu", "gpu" or a PyTensor mode name.
    verbose : bool or int >= 0, default True
        A line per RBM, and :class:`rbm.Trainer`'s line per epoch.

    Returns
    -------
    list of rbm.Trainer
        One per RBM, bottom up: ``trainer.model`` is the trained
        :class:`ModifiedRBM`, ``trainer.history`` its epochs' records
        (``cost``: the reconstruction log-probability).

    Raises
    ------
    TypeError, ValueError
        For a model that is not a DBM, bad data (width, values, fewer rows
        than ``batch_size``) or bad settings; nothing changes.
    rbm.TrainingDiverged
        When an RBM's update became non-finite; the DBM is left unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> import rbm
    >>> from rbm.training.dbm_pretraining import pretrain_dbm
    >>> data = (np.random.default_rng(0).random((40, 6)) < 0.5).astype("float32")
    >>> model = rbm.DBM([6, 4, 3], numpy_rng=0, seed=0)
    >>> trainers = pretrain_dbm(model, data, epochs=2, batch_size=10, seed=0, mode="FAST_COMPILE", verbose=False)
    >>> [trainer.model for trainer in trainers]
    [ModifiedRBM(n_visible=6, n_hidden=4, double_up=True, double_down=False, dtype='float32'), \
ModifiedRBM(n_visible=4, n_hidden=3, double_up=False, double_down=True, dtype='float32')]
    >>> bias_1 = trainers[0].model.hbias.get_value() + trainers[1].model.vbias.get_value()
    >>> np.allclose(model.biases[1].get_value(), bias_1)
    True
    """
    from ..models.dbm import DBM

    if not isinstance(model, DBM):
        raise TypeError(f"model must be an rbm.DBM, got {type(model).__name__}")
    data = model.check_data(data, "data")
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    if batch_size > data.shape[0]:
        raise ValueError(f"batch_size={batch_size} is larger than the {data.shape[0]} rows of data")
    if not callable(learning_rate):
        check_float(learning_rate, "learning_rate", low=0.0, low_inclusive=False)
    verbose = check_verbose(verbose)
    seed = check_seed(seed)
    weights, biases = model.numpy_params()
    sizes, n_rbms = model.layer_sizes, model.n_layers - 1
    # Every RBM and trainer is built (which checks every setting) before any trains.
    trainers = []
    for i, layer_seed in enumerate(_layer_seeds(seed, n_rbms)):
        rbm = ModifiedRBM(sizes[i], sizes[i + 1], double_up=i < n_rbms - 1, double_down=i > 0, W=weights[i],
                          vbias=biases[0] if i == 0 else biases[i] / 2,
                          hbias=biases[i + 1] if i == n_rbms - 1 else biases[i + 1] / 2, dtype=model.dtype)
        trainers.append(Trainer(rbm, learning_rate=learning_rate, k=k, persistent=False, batch_size=batch_size,
                                momentum=momentum, weight_decay=weight_decay, mode=mode, seed=layer_seed))
    layer_data = data
    for i, trainer in enumerate(trainers):
        rbm = trainer.model
        if verbose:
            sides = " and ".join(side for side, doubled in (("bottom-up", rbm.double_up),
                                                            ("top-down", rbm.double_down)) if doubled)
            print(f"pretraining RBM {i + 1} of {n_rbms} ({sizes[i]}-{sizes[i + 1]}, {sides} input doubled): "
                  f"{epochs} epochs", flush=True)
        trainer.fit(layer_data, epochs=epochs, verbose=verbose)
        if i < n_rbms - 1:  # the next RBM's data: this one's doubled bottom-up means
            W, hbias = (np.asarray(p.get_value(borrow=True), dtype=np.float64) for p in (rbm.W, rbm.hbias))
            layer_data = _sigmoid(2.0 * (np.asarray(layer_data, dtype=np.float64) @ W + hbias))
    trained = [{name: np.asarray(value, dtype=np.float64) for name, value in trainer.model.get_params().items()}
               for trainer in trainers]
    new_values = {f"W_{i}": layer["W"] for i, layer in enumerate(trained)}
    new_values["bias_0"] = trained[0]["vbias"]
    for i in range(1, n_rbms):
        new_values[f"bias_{i}"] = trained[i - 1]["hbias"] + trained[i]["vbias"]
    new_values[f"bias_{n_rbms}"] = trained[-1]["hbias"]
    model.set_params(**new_values)
    return trainers
