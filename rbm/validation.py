"""Input checks shared by every public entry point.

Each check either returns a clean value or raises a ``ValueError``/``TypeError``
whose message names the argument and the problem. They never modify their
input, so callers can run all checks before touching any state.
"""
import numbers

import numpy as np


def check_positive_int(value, name, minimum=1):
    """``value`` as an int >= ``minimum``; bools and non-integers are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_float(value, name, low=None, high=None, low_inclusive=True, high_inclusive=True):
    """``value`` as a finite float in the given range (each end inclusive unless said otherwise)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if low is not None and (value < low or (value == low and not low_inclusive)):
        relation = ">=" if low_inclusive else ">"
        raise ValueError(f"{name} must be {relation} {low}, got {value}")
    if high is not None and (value > high or (value == high and not high_inclusive)):
        relation = "<=" if high_inclusive else "<"
        raise ValueError(f"{name} must be {relation} {high}, got {value}")
    return value


def check_seed(seed, name="seed"):
    """``None`` or a non-negative integer seed."""
    if seed is None:
        return None
    return check_positive_int(seed, name, minimum=0)


def check_verbose(verbose, name="verbose"):
    """``verbose`` as an int level >= 0: True and False (1 and 0) or an int, as scikit-learn's ``verbose``."""
    if not isinstance(verbose, (numbers.Integral, np.bool_)):
        raise TypeError(f"{name} must be True, False or an int >= 0 (0 is silent), got {verbose!r}")
    if verbose < 0:
        raise ValueError(f"{name} must be True, False or an int >= 0 (0 is silent), got {verbose!r}")
    return int(verbose)


def check_array(value, name, ndim, shape=None):
    """A finite floating array of ``ndim`` dimensions (and ``shape`` where given)."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a numeric array, got {type(value).__name__}")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a numeric array: {error}") from None
    if array.dtype == bool:
        array = array.astype(np.float64)
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    if array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got {array.ndim}-D with shape {array.shape}")
    if shape is not None and array.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return array


def check_data(data, n_visible=None, name="data"):
    """A non-empty 2-D array of values in [0, 1], ``n_visible`` wide when given."""
    array = check_array(data, name, ndim=2)
    if array.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has no rows")
    if n_visible is not None and array.shape[1] != n_visible:
        raise ValueError(f"{name} has {array.shape[1]} columns but the model has {n_visible} visible units")
    if array.size and (array.min() < 0 or array.max() > 1):
        raise ValueError(
            f"{name} must hold values in [0, 1], got values in [{array.min()}, {array.max()}]"
        )
    return array
