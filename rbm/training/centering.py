"""Centering (Melchior, Fischer & Wiskott, "How to center deep Boltzmann machines", JMLR 2016).

A centered binary RBM with visible offsets mu and hidden offsets lambda has
the energy

    E_c(v, h) = -(v - mu).b - c.(h - lambda) - (v - mu)^T W (h - lambda).

Expanding it gives an ordinary RBM's energy plus a constant:

    E_c(v, h) = -v^T W h - v.(b - W lambda) - h.(c - W^T mu) + const,

so the centered model *is* the plain RBM with weights W, visible biases
b - W lambda and hidden biases c - W^T mu (:func:`to_plain`), and Z, log p(v),
samples and conditionals are those of that RBM. The Trainer therefore keeps
the plain parameters in the model (saving, sampling and evaluation need no
change) and only changes the direction of each update: gradient descent on
the centered parameters, written in plain coordinates
(:func:`centered_gradients`). Moving an offset with the plain parameters
held fixed leaves the distribution unchanged, which is the
reparametrisation of Melchior et al.'s algorithm 1.
"""
import numpy as np

from ..backend import pt

__all__ = ["centered_gradients", "to_plain", "from_plain"]


def centered_gradients(grad_W, grad_hbias, grad_vbias, visible_offset, hidden_offset):
    """The centered update direction in plain coordinates (symbolic).

    With g_W, g_c, g_b the plain descent gradients (model minus data
    statistics of v h^T, h and v), the gradient of the centered weights is
    that of the centered statistics (v - mu)(h - lambda)^T:

        G_W = g_W - mu g_c^T - g_b lambda^T,

    and the centered biases keep g_b and g_c. A step of size eta on the
    centered parameters moves the plain biases b' = b - W lambda and
    c' = c - W^T mu by -eta (g_b - G_W lambda) and -eta (g_c - G_W^T mu).

    Parameters
    ----------
    grad_W, grad_hbias, grad_vbias : symbolic tensors
        The plain gradients (:meth:`rbm.RBM.get_cost_gradients`).
    visible_offset, hidden_offset : symbolic vectors
        mu (n_visible,) and lambda (n_hidden,).

    Returns
    -------
    tuple of three symbolic tensors
        (G_W, G_c', G_b'): the update directions of W, hbias and vbias, in
        the order of ``RBM.params``.
    """
    centered_W = (grad_W - pt.outer(visible_offset, grad_hbias) - pt.outer(grad_vbias, hidden_offset))
    return (centered_W,
            grad_hbias - pt.dot(visible_offset, centered_W),
            grad_vbias - pt.dot(centered_W, hidden_offset))


def to_plain(W, hbias, vbias, visible_offset, hidden_offset):
    """(W, hbias, vbias) of the plain RBM equal to a centered one: c - W^T mu and b - W lambda.

    Parameters
    ----------
    W : array (n_visible, n_hidden)
    hbias, vbias : arrays (n_hidden,), (n_visible,)
        The centered model's biases c and b.
    visible_offset, hidden_offset : arrays (n_visible,), (n_hidden,)
        mu and lambda.

    Returns
    -------
    tuple of three float64 arrays
        W, c - W^T mu and b - W lambda.

    Examples
    --------
    :func:`from_plain` undoes it:

    >>> import numpy as np
    >>> from rbm.training.centering import from_plain, to_plain
    >>> rng = np.random.default_rng(0)
    >>> W, c, b, mu, lam = rng.normal(size=(3, 2)), rng.normal(size=2), rng.normal(size=3), rng.random(3), rng.random(2)
    >>> _, c_back, b_back = from_plain(*to_plain(W, c, b, mu, lam), mu, lam)
    >>> np.allclose(c_back, c), np.allclose(b_back, b)
    (True, True)
    """
    W, visible_offset, hidden_offset = (np.asarray(x, dtype=np.float64) for x in (W, visible_offset, hidden_offset))
    return W, np.asarray(hbias, np.float64) - visible_offset @ W, np.asarray(vbias, np.float64) - W @ hidden_offset


def from_plain(W, hbias, vbias, visible_offset, hidden_offset):
    """The centered biases (W, c, b) with offsets mu, lambda of a plain RBM: the inverse of :func:`to_plain`.

    Parameters
    ----------
    W : array (n_visible, n_hidden)
    hbias, vbias : arrays (n_hidden,), (n_visible,)
        The plain model's biases.
    visible_offset, hidden_offset : arrays (n_visible,), (n_hidden,)
        mu and lambda.

    Returns
    -------
    tuple of three float64 arrays
        W, hbias + W^T mu and vbias + W lambda.
    """
    W, visible_offset, hidden_offset = (np.asarray(x, dtype=np.float64) for x in (W, visible_offset, hidden_offset))
    return W, np.asarray(hbias, np.float64) + visible_offset @ W, np.asarray(vbias, np.float64) + W @ hidden_offset
