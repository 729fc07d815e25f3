"""Optimizers: how a training step turns gradients into new parameter values.

Each optimizer is one small class that every trainer of the engine
(:mod:`rbm.training.engine`) uses alike: it names its hyperparameters (a
number or a schedule of the epoch each, read by the compiled step from a
shared scalar when scheduled), makes the state it keeps per parameter (shared
variables, saved in checkpoints) and builds the symbolic update. For a
parameter p with gradient g (of the quantity to *minimise*) and learning
rate lr:

- :class:`SGD`: p <- p - lr g;
- :class:`Momentum`: v <- m v - lr g, p <- p + v (the tutorial's and
  Hinton's guide's momentum; m = 0 is SGD without a velocity buffer);
- :class:`Adam`: Kingma & Ba (2015), t <- t + 1,
  m <- b1 m + (1 - b1) g, s <- b2 s + (1 - b2) g^2,
  p <- p - lr (m / (1 - b1^t)) / (sqrt(s / (1 - b2^t)) + eps).

Examples
--------
>>> import numpy as np
>>> import rbm
>>> from rbm.training.optimizers import Adam
>>> model = rbm.RBM(n_visible=6, n_hidden=3, seed=0)
>>> trainer = rbm.Trainer(model, learning_rate=0.01, optimizer=Adam(), seed=0)
>>> [variable.name for variable in trainer.optimizer_state]
['adam_step', 'adam_mean_W', 'adam_mean_hbias', 'adam_mean_vbias', 'adam_square_W', 'adam_square_hbias', 'adam_square_vbias']
"""
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import backend
from ..backend import pt
from ..validation import check_float
from . import schedules

__all__ = ["Adam", "Momentum", "Optimizer", "SGD", "optimizer_from"]


class Optimizer:
    """What every optimizer provides (see the module's docstring).

    Attributes
    ----------
    hyperparameters : dict
        name -> number or schedule, each read per epoch by the trainer.
    """

    #: name -> (low, high, high inclusive) of each hyperparameter's allowed values
    ranges: dict[str, tuple[float, float, bool]] = {}

    def __init__(self):
        self.hyperparameters = {}

    def state(self, params, dtype) -> list:
        """The shared variables this optimizer keeps for ``params`` (created once, by the trainer).

        Parameters
        ----------
        params : list of shared variables
            The parameters the trainer updates, in the order of their
            gradients in :meth:`updates`.
        dtype : str
            The model's float type ("float32" or "float64").

        Returns
        -------
        list of shared variables
            Zero-initialised, saved in checkpoints; none for this base class.
        """
        return []

    def updates(self, params, gradients, learning_rate, hyper, state) -> dict:
        """The symbolic update of one training step: each parameter's and state variable's new value.

        Parameters
        ----------
        params : list of shared variables
            The parameters p.
        gradients : list of symbolic tensors
            g, the gradient of the quantity to minimise with respect to each
            parameter, each of its parameter's shape.
        learning_rate : symbolic scalar
            lr, for this epoch.
        hyper : dict of str to symbolic scalar
            Each hyperparameter's name -> its value for this epoch (a
            constant, or a shared scalar's value when scheduled).
        state : list of shared variables
            What :meth:`state` made for ``params``.

        Returns
        -------
        dict
            Shared variable -> its new value (symbolic), for every parameter
            and every state variable the step changes.
        """
        raise NotImplementedError

    def describe(self) -> dict[str, Any] | None:
        """The optimizer's settings for checkpoints, which a resume must match.

        Returns
        -------
        dict or None
            JSON-serialisable: ``"type"`` (the class name) and each
            hyperparameter (a schedule as its description); None for the
            trainers' historical default (momentum, recorded by the trainers
            as a setting of their own).
        """
        return {"type": type(self).__name__,
                **{name: schedules.describe(value) for name, value in self.hyperparameters.items()}}

    def __repr__(self):
        settings = ", ".join(f"{name}={schedules.describe(value)!r}" for name, value in self.hyperparameters.items())
        return f"{type(self).__name__}({settings})"


class Momentum(Optimizer):
    """v <- momentum v - lr g; p <- p + v. With ``momentum`` 0 (a number) it is plain SGD, without buffers.

    Parameters
    ----------
    momentum : float in [0, 1) or schedule, default 0.0
    """

    ranges = {"momentum": (0.0, 1.0, False)}

    def __init__(self, momentum: float | Callable[[int], float] = 0.0):
        super().__init__()
        schedules.as_schedule(momentum, "momentum")  # refuses a bad type now
        self.hyperparameters = {"momentum": momentum}

    @property
    def uses_velocity(self) -> bool:
        """Whether the optimizer keeps velocities: when ``momentum`` is a schedule or a non-zero number."""
        momentum = self.hyperparameters["momentum"]
        return callable(momentum) or momentum != 0

    def state(self, params, dtype):
        """One velocity v per parameter, ``velocity_<name>``, of its shape (none without momentum).

        Parameters
        ----------
        params : list of shared variables
            The parameters the trainer updates, in the order of their
            gradients in :meth:`updates`.
        dtype : str
            The model's float type ("float32" or "float64").

        Returns
        -------
        list of shared variables
            The velocities, in the order of ``params``; empty when
            :attr:`uses_velocity` is false.
        """
        if not self.uses_velocity:
            return []
        return [backend.shared(np.zeros(p.get_value(borrow=True).shape), f"velocity_{p.name}", dtype) for p in params]

    def updates(self, params, gradients, learning_rate, hyper, state):
        """The momentum step: v <- m v - lr g, p <- p + v; p <- p - lr g without velocities.

        Parameters
        ----------
        params : list of shared variables
            The parameters p.
        gradients : list of symbolic tensors
            g, the gradient of the quantity to minimise with respect to each
            parameter, each of its parameter's shape.
        learning_rate : symbolic scalar
            lr, for this epoch.
        hyper : dict of str to symbolic scalar
            ``{"momentum": m}``, m for this epoch.
        state : list of shared variables
            The velocities :meth:`state` made (empty: plain SGD).

        Returns
        -------
        dict
            Shared variable -> its new value (symbolic), for every parameter
            and every state variable the step changes.
        """
        new_values = {}
        for i, (param, grad) in enumerate(zip(params, gradients)):
            if state:
                new_velocity = hyper["momentum"] * state[i] - learning_rate * grad
                new_values[state[i]] = new_velocity
                new_values[param] = param + new_velocity
            else:
                new_values[param] = param - learning_rate * grad
        return new_values

    def describe(self):
        """The optimizer's settings for checkpoints: None, the trainers' historical default.

        Returns
        -------
        None
            The trainers record momentum as a setting of their own.
        """
        return None  # the trainers record momentum as a setting of their own


class SGD(Momentum):
    """p <- p - lr g."""

    def __init__(self):
        super().__init__(0.0)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with bias-corrected first and second moments.

    Parameters
    ----------
    beta1, beta2 : float in [0, 1), default 0.9 and 0.999
        Decay rates of the moments.
    epsilon : float > 0, default 1e-8
    """

    ranges = {"beta1": (0.0, 1.0, False), "beta2": (0.0, 1.0, False)}

    def __init__(self, beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8):
        super().__init__()
        self.hyperparameters = {"beta1": check_float(beta1, "beta1", low=0.0, high=1.0, high_inclusive=False),
                                "beta2": check_float(beta2, "beta2", low=0.0, high=1.0, high_inclusive=False)}
        self.epsilon = check_float(epsilon, "epsilon", low=0.0, low_inclusive=False)

    def state(self, params, dtype):
        """The step count t, then the first moments m and the second moments s of every parameter.

        Parameters
        ----------
        params : list of shared variables
            The parameters the trainer updates, in the order of their
            gradients in :meth:`updates`.
        dtype : str
            The model's float type ("float32" or "float64").

        Returns
        -------
        list of shared variables
            ``adam_step`` (a scalar), ``adam_mean_<name>`` for each parameter,
            then ``adam_square_<name>`` for each parameter (each of its
            parameter's shape).
        """
        step = backend.shared(np.zeros(()), "adam_step", dtype)
        means = [backend.shared(np.zeros(p.get_value(borrow=True).shape), f"adam_mean_{p.name}", dtype) for p in params]
        squares = [backend.shared(np.zeros(p.get_value(borrow=True).shape), f"adam_square_{p.name}", dtype)
                   for p in params]
        return [step, *means, *squares]

    def updates(self, params, gradients, learning_rate, hyper, state):
        """The Adam step, with bias-corrected moments.

        t <- t + 1, m <- b1 m + (1 - b1) g, s <- b2 s + (1 - b2) g^2, p <- p
        - lr (m / (1 - b1^t)) / (sqrt(s / (1 - b2^t)) + eps).

        Parameters
        ----------
        params : list of shared variables
            The parameters p.
        gradients : list of symbolic tensors
            g, the gradient of the quantity to minimise with respect to each
            parameter, each of its parameter's shape.
        learning_rate : symbolic scalar
            lr, for this epoch.
        hyper : dict of str to symbolic scalar
            ``{"beta1": b1, "beta2": b2}`` for this epoch.
        state : list of shared variables
            [t, m of each parameter, s of each parameter], as :meth:`state`
            made them.

        Returns
        -------
        dict
            Shared variable -> its new value (symbolic), for every parameter
            and every state variable the step changes.
        """
        step, means, squares = state[0], state[1:1 + len(params)], state[1 + len(params):]
        beta1, beta2 = hyper["beta1"], hyper["beta2"]
        t = step + 1
        epsilon = np.asarray(self.epsilon, dtype=step.dtype)
        new_values = {step: t}
        for param, grad, mean, square in zip(params, gradients, means, squares):
            new_mean = beta1 * mean + (1 - beta1) * grad
            new_square = beta2 * square + (1 - beta2) * pt.sqr(grad)
            corrected_mean = new_mean / (1 - beta1 ** t)
            corrected_square = new_square / (1 - beta2 ** t)
            new_values[mean], new_values[square] = new_mean, new_square
            new_values[param] = param - learning_rate * corrected_mean / (pt.sqrt(corrected_square) + epsilon)
        return new_values

    def describe(self):
        """The optimizer's settings for checkpoints, which a resume must match.

        Returns
        -------
        dict
            ``{"type": "Adam", "beta1": b1, "beta2": b2, "epsilon": eps}``.
        """
        return {"type": "Adam", **self.hyperparameters, "epsilon": self.epsilon}


def optimizer_from(optimizer: Optimizer | None, momentum: float | Callable[[int], float]) -> Optimizer:
    """The trainer's optimizer: ``optimizer``, or :class:`Momentum` from the ``momentum`` argument.

    Parameters
    ----------
    optimizer : Optimizer or None
        The trainer's ``optimizer`` argument.
    momentum : float or callable
        The trainer's ``momentum`` argument, a number or a schedule (epoch ->
        value); must be 0 when ``optimizer`` is given.

    Returns
    -------
    Optimizer
        ``optimizer`` itself, or ``Momentum(momentum)`` when it is None.

    Raises
    ------
    TypeError
        ``optimizer`` is not an :class:`Optimizer`.
    ValueError
        Both an optimizer and a non-zero momentum.
    """
    if optimizer is None:
        return Momentum(momentum)
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be an rbm.training.optimizers.Optimizer, got {type(optimizer).__name__}")
    if callable(momentum) or momentum != 0:
        raise ValueError("give momentum through the optimizer (Momentum(momentum)), not both")
    return optimizer
