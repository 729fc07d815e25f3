"""The feed-forward layers a Deep Belief Network is fine-tuned as: sigmoid layers and a softmax on top.

They follow the Theano tutorial's ``HiddenLayer`` and ``LogisticRegression``:
each holds its shared parameters in ``params`` and its symbolic ``output``.
"""
import numpy as np

from .. import backend
from ..backend import pt
from ..validation import check_positive_int

__all__ = ["HiddenLayer", "LogisticRegression"]


class HiddenLayer:
    """A fully connected layer: output = activation(input W + b).

    W (n_in x n_out) is uniform in +-sqrt(6 / (n_in + n_out)), four times
    wider for a sigmoid (Glorot & Bengio 2010, as the tutorial); b is zero.
    ``W`` and ``b`` may be given (arrays or shared variables).
    ``activation=None`` leaves the layer linear.
    """

    def __init__(self, rng, input, n_in, n_out, W=None, b=None, activation=pt.tanh, dtype=None):
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
    """Multi-class logistic regression: p(y = i | x) = softmax(x W + b)_i, W and b zero at first."""

    def __init__(self, input, n_in, n_out, dtype=None):
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

    def negative_log_likelihood(self, y):
        """-mean_n log p(y_n | x_n), from log_softmax so that it stays finite."""
        log_p = pt.special.log_softmax(self.linear, axis=1)
        return -pt.mean(log_p[pt.arange(y.shape[0]), y])

    def errors(self, y):
        """The fraction of rows whose predicted class differs from ``y`` (an integer vector)."""
        if y.ndim != self.y_pred.ndim:
            raise TypeError(f"y must be a vector of class labels, got {y.type}")
        if not y.dtype.startswith("int"):
            raise TypeError(f"y must hold integer labels, got dtype {y.dtype}")
        return pt.mean(pt.neq(self.y_pred, y))
