"""Learning-rate and momentum schedules: a value per epoch, fed to the compiled step without recompiling.

A :class:`Schedule` maps the epoch number (0, 1, ...) to a value; the
trainer writes it into a shared scalar that the compiled training step reads,
so changing it costs nothing. Anything callable as ``schedule(epoch)`` works;
these named ones also describe themselves, so checkpoints can tell them apart.
"""
import numbers

import numpy as np

from ..validation import check_float, check_positive_int

__all__ = ["Schedule", "constant", "linear", "exponential", "as_schedule", "describe"]


class Schedule:
    """``schedule(epoch) -> value``, with a description such as ``linear(0.1, 0.001, 100)``."""

    def __init__(self, function, description):
        self._function = function
        self.description = description

    def __call__(self, epoch):
        return self._function(epoch)

    def __repr__(self):
        return self.description


def constant(value):
    """The same ``value`` every epoch."""
    value = check_float(value, "value")
    return Schedule(lambda epoch: value, f"constant({value!r})")


def linear(start, end, epochs):
    """From ``start`` at epoch 0 in a straight line to ``end`` at epoch ``epochs``, then ``end``."""
    start, end = check_float(start, "start"), check_float(end, "end")
    epochs = check_positive_int(epochs, "epochs")
    return Schedule(lambda epoch: start + (end - start) * min(epoch, epochs) / epochs,
                    f"linear({start!r}, {end!r}, {epochs!r})")


def exponential(start, decay):
    """``start * decay ** epoch``."""
    start = check_float(start, "start")
    decay = check_float(decay, "decay", low=0.0, low_inclusive=False)
    return Schedule(lambda epoch: start * decay ** epoch, f"exponential({start!r}, {decay!r})")


def as_schedule(value, name):
    """A number becomes :func:`constant`; a callable is kept; anything else is refused."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return constant(check_float(value, name))  # the error names the setting
    if callable(value):
        return value
    raise TypeError(f"{name} must be a number or a schedule (a callable of the epoch), got {type(value).__name__}")


def describe(value):
    """What checkpoints record of a setting: the number itself, or the schedule's description."""
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
