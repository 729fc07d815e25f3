"""Learning-rate and momentum schedules: a value per epoch, fed to the compiled step without recompiling.

A :class:`Schedule` maps the epoch number (0, 1, ...) to a value; the
trainer writes it into a shared scalar that the compiled training step reads,
so changing it costs nothing. Anything callable as ``schedule(epoch)`` works;
these named ones also describe themselves, so checkpoints can tell them apart.
"""
import numbers
from collections.abc import Callable

import numpy as np

from ..validation import check_float, check_positive_int

__all__ = ["Schedule", "constant", "linear", "exponential", "as_schedule", "describe"]


class Schedule:
    """``schedule(epoch) -> value``, with a description such as ``linear(0.1, 0.001, 100)``.

    Parameters
    ----------
    function : callable
        ``function(epoch)`` gives the value for the epoch (0, 1, ...).
    description : str
        How the schedule was made; its ``repr`` and what checkpoints record.

    Examples
    --------
    >>> from rbm.training.schedules import Schedule
    >>> halving = Schedule(lambda epoch: 0.1 / 2 ** epoch, "halving(0.1)")
    >>> halving(3), halving
    (0.0125, halving(0.1))
    """

    def __init__(self, function: Callable[[int], float], description: str) -> None:
        self._function = function
        self.description = description

    def __call__(self, epoch: int) -> float:
        return self._function(epoch)

    def __repr__(self):
        return self.description


def constant(value: float) -> Schedule:
    """The same ``value`` every epoch.

    Parameters
    ----------
    value : float
        A finite number.

    Returns
    -------
    Schedule

    Examples
    --------
    >>> from rbm.training.schedules import constant
    >>> constant(0.1)(0), constant(0.1)(500)
    (0.1, 0.1)
    """
    value = check_float(value, "value")
    return Schedule(lambda epoch: value, f"constant({value!r})")


def linear(start: float, end: float, epochs: int) -> Schedule:
    """From ``start`` at epoch 0 in a straight line to ``end`` at epoch ``epochs``, then ``end``.

    Parameters
    ----------
    start, end : float
        The values at epoch 0 and from epoch ``epochs`` on.
    epochs : int >= 1
        The epoch at which ``end`` is reached.

    Returns
    -------
    Schedule

    Examples
    --------
    >>> from rbm.training.schedules import linear
    >>> schedule = linear(0.02, 0.0, 320)  # the likelihood preset's learning rate
    >>> [schedule(epoch) for epoch in (0, 160, 320, 400)]
    [0.02, 0.01, 0.0, 0.0]
    """
    start, end = check_float(start, "start"), check_float(end, "end")
    epochs = check_positive_int(epochs, "epochs")
    return Schedule(lambda epoch: start + (end - start) * min(epoch, epochs) / epochs,
                    f"linear({start!r}, {end!r}, {epochs!r})")


def exponential(start: float, decay: float) -> Schedule:
    """``start * decay ** epoch``.

    Parameters
    ----------
    start : float
        The value at epoch 0.
    decay : float > 0
        The factor applied per epoch.

    Returns
    -------
    Schedule

    Examples
    --------
    >>> from rbm.training.schedules import exponential
    >>> schedule = exponential(0.1, 0.5)
    >>> schedule(0), schedule(2), schedule
    (0.1, 0.025, exponential(0.1, 0.5))
    """
    start = check_float(start, "start")
    decay = check_float(decay, "decay", low=0.0, low_inclusive=False)
    return Schedule(lambda epoch: start * decay ** epoch, f"exponential({start!r}, {decay!r})")


def as_schedule(value: float | Callable[[int], float], name: str) -> Callable[[int], float]:
    """A number becomes :func:`constant`; a callable is kept; anything else is refused.

    Parameters
    ----------
    value : float or callable
        A setting such as :class:`rbm.Trainer`'s ``learning_rate``.
    name : str
        The setting's name, for the error message.

    Returns
    -------
    callable
        ``schedule(epoch) -> value``.

    Raises
    ------
    TypeError
        When ``value`` is neither a real number nor callable.

    Examples
    --------
    >>> from rbm.training.schedules import as_schedule
    >>> as_schedule(0.1, "learning_rate")
    constant(0.1)
    >>> as_schedule("fast", "learning_rate")
    Traceback (most recent call last):
    ...
    TypeError: learning_rate must be a number or a schedule (a callable of the epoch), got str
    """
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return constant(check_float(value, name))  # the error names the setting
    if callable(value):
        return value
    raise TypeError(f"{name} must be a number or a schedule (a callable of the epoch), got {type(value).__name__}")


def describe(value: float | Callable[[int], float]) -> float | str:
    """What checkpoints record of a setting: the number itself, or the schedule's description.

    Parameters
    ----------
    value : float, Schedule or callable
        A learning-rate or momentum setting.

    Returns
    -------
    float or str
        The number as a float, a :class:`Schedule`'s description, or
        ``"callable <qualified name>"`` for any other callable.

    Examples
    --------
    >>> from rbm.training.schedules import describe, linear
    >>> describe(0.1), describe(linear(0.1, 0.0, 10))
    (0.1, 'linear(0.1, 0.0, 10)')
    """
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, Schedule):
        return value.description
    return f"callable {getattr(value, '__qualname__', type(value).__name__)}"


def value_at(schedule, epoch, name, low, high=None, low_inclusive=True, high_inclusive=True):
    """``schedule(epoch)`` as a checked float; the error names the setting and the epoch."""
    value = schedule(epoch)
    try:
        value = check_float(value, name, low=low, low_inclusive=low_inclusive)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} schedule at epoch {epoch}: {error}") from None
    if high is not None and (value > high or (value == high and not high_inclusive)):
        raise ValueError(f"{name} schedule at epoch {epoch}: {name} must be < {high}, got {value}")
    return float(np.float64(value))
