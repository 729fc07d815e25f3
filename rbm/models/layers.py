"""The feed-forward layers a Deep Belief Network is fine-tuned as: sigmoid layers and a softmax on top.

They follow the Theano tutorial's ``HiddenLayer`` and ``LogisticRegression``:
each holds its shared parameters in ``params`` and its symbolic ``output``.
"""
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import backend
from ..backend import pt
from ..validation import check_positive_int

__all__ = ["HiddenLayer", "LogisticRegression"]


class HiddenLayer:
    """A fully connected layer: output = activation(input W + b).

    Parameters
    ----------
    rng : numpy RandomState or Generator
        Draws the initial W.
    input : symbolic matrix (batch, n_in)
    n_in, n_out : int
        Input and output widths.
    W : array or shared variable (n_in, n_out), optional
        Uniform in +-sqrt(6 / (n_in + n_out)) by default, four times wider
        for a sigmoid (Glorot & Bengio 2010, as the tutorial). A shared
        variable is used as it is (the DBN shares it with an RBM).
    b : array or shared variable (n_out,), optional
        Zero by default.
    activation : callable or None, default ``pt.tanh``
        Applied to input W + b; None leaves the layer linear.
    dtype : "float32" or "float64", optional
        ``input``'s dtype by default.

    Attributes
    ----------
    W, b : shared variables
    output : symbolic matrix (batch, n_out)
    params : list
        [W, b].

    Examples
    --------
    >>> import numpy as np
    >>> import rbm
    >>> from rbm.backend import pt
    >>> x = pt.matrix("x", dtype="float64")
    >>> layer = rbm.HiddenLayer(np.random.RandomState(0), x, n_in=784, n_out=500, activation=pt.sigmoid)
    >>> [p.get_value().shape for p in layer.params], layer.output.dtype
    ([(784, 500), (500,)], 'float64')
    """

    def __init__(self, rng: np.random.RandomState | np.random.Generator, input: pt.TensorVariable, n_in: int,
                 n_out: int, W: ArrayLike | pt.TensorVariable | None = None,
                 b: ArrayLike | pt.TensorVariable | None = None,
                 activation: Callable[..., Any] | None = pt.tanh, dtype: str | None = None) -> None:
        n_in = check_positive_int(n_in, "n_in")
        n_out = check_positive_int(n_out, "n_out")
        dtype = backend.check_dtype(dtype or getattr(input, "dtype", None))
        if W is None:
            bound = np.sqrt(6.0 / (n_in + n_out)) * (4 if activation is pt.sigmoid else 1)
            W = rng.uniform(low=-bound, high=bound, size=(n_in, n_out))
        self.input = input
        self.W = W if backend.is_shared(W) else backend.shared(W, "W", dtype)
        self.b = b if backend.is_shared(b) else backend.shared(np.zeros(n_out) if b is None else b, "b", dtype)
        linear = pt.dot(input, self.W) + self.b
        self.output = linear if activation is None else activation(linear)
        self.params = [self.W, self.b]


class LogisticRegression:
    """Multi-class logistic regression: p(y = i | x) = softmax(x W + b)_i, W and b zero at first.

    Parameters
    ----------
    input : symbolic matrix (batch, n_in)
    n_in : int
        Input width.
    n_out : int
        Number of classes.
    dtype : "float32" or "float64", optional
        ``input``'s dtype by default.

    Attributes
    ----------
    W, b : shared variables
    p_y_given_x : symbolic matrix (batch, n_out)
        The class probabilities.
    y_pred : symbolic vector (batch,)
        The most probable class of each row.
    params : list
        [W, b].

    Examples
    --------
    With W and b zero, every class is equally probable:

    >>> import numpy as np
    >>> import rbm
    >>> from rbm import backend
    >>> from rbm.backend import pt
    >>> x = pt.matrix("x", dtype="float64")
    >>> layer = rbm.LogisticRegression(x, n_in=3, n_out=4)
    >>> probabilities = backend.compile_function([x], layer.p_y_given_x, mode="FAST_COMPILE")
    >>> probabilities(np.ones((2, 3)))
    array([[0.25, 0.25, 0.25, 0.25],
           [0.25, 0.25, 0.25, 0.25]])
    """

    def __init__(self, input: pt.TensorVariable, n_in: int, n_out: int, dtype: str | None = None) -> None:
        n_in = check_positive_int(n_in, "n_in")
        n_out = check_positive_int(n_out, "n_out")
        dtype = backend.check_dtype(dtype or getattr(input, "dtype", None))
        self.input = input
        self.W = backend.shared(np.zeros((n_in, n_out)), "W", dtype)
        self.b = backend.shared(np.zeros(n_out), "b", dtype)
        self.linear = pt.dot(input, self.W) + self.b
        self.p_y_given_x = pt.special.softmax(self.linear, axis=1)
        self.y_pred = pt.argmax(self.linear, axis=1)
        self.params = [self.W, self.b]

    def negative_log_likelihood(self, y: pt.TensorVariable) -> pt.TensorVariable:
        """-mean_n log p(y_n | x_n), from log_softmax so that it stays finite.

        Parameters
        ----------
        y : symbolic integer vector (batch,)
            The rows' classes.

        Returns
        -------
        symbolic scalar
        """
        log_p = pt.special.log_softmax(self.linear, axis=1)
        return -pt.mean(log_p[pt.arange(y.shape[0]), y])

    def errors(self, y: pt.TensorVariable) -> pt.TensorVariable:
        """The fraction of rows whose predicted class differs from ``y``.

        Parameters
        ----------
        y : symbolic integer vector (batch,)
            The rows' classes.

        Returns
        -------
        symbolic scalar
            The error rate, in [0, 1].

        Raises
        ------
        TypeError
            When ``y`` is not a vector of integers.
        """
        if y.ndim != self.y_pred.ndim:
            raise TypeError(f"y must be a vector of class labels, got {y.type}")
        if not y.dtype.startswith("int"):
            raise TypeError(f"y must hold integer labels, got dtype {y.dtype}")
        return pt.mean(pt.neq(self.y_pred, y))
