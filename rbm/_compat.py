"""Old spellings of rbm's API that keep working for now, each with a ``DeprecationWarning`` naming the new one.

rbm settled on one vocabulary across models, trainers and evaluation (see
each function below for what changed). Code written for the old forms keeps
running: these helpers accept the old form, warn once per call site (Python's
default filter) with the new spelling, and do what the old form did. They go
away in a later release, so the warning is the user's cue to update.
"""
import functools
import inspect
import numbers
import warnings

import numpy as np

__all__ = ["warn_deprecated", "keyword_only", "DeprecatedFloat", "ParamsDict", "DBNHistory"]


def warn_deprecated(message, stacklevel=3):
    """Issue a ``DeprecationWarning`` attributed to the user's line (``stacklevel`` frames up from the caller).

    The default, 3, points past the helper that calls this one to its caller.
    """
    warnings.warn(message, DeprecationWarning, stacklevel=stacklevel)


def keyword_only(*legacy_names):
    """Decorator: the keyword-only parameters ``legacy_names`` may still be passed positionally, with a warning.

    Use it on a function whose signature marks rbm's own settings
    keyword-only (``def f(model, *, seed=None, dtype=None)``). A call with
    more positional arguments than the signature takes binds the extra ones
    to ``legacy_names``, in that order (the order of the old positional
    signature), and warns with the keyword spelling. Anything Python itself
    would refuse (too many arguments, a name given twice) is refused the
    same way.
    """
    def decorate(function):
        parameters = inspect.signature(function).parameters.values()
        n_positional = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters)
        implicit_first = next(iter(parameters)).name in ("self", "cls")
        keyword_names = {p.name for p in parameters if p.kind == p.KEYWORD_ONLY}
        unknown = set(legacy_names) - keyword_names
        if unknown:
            raise TypeError(f"{function.__qualname__}: {sorted(unknown)} are not keyword-only parameters")
        # "RBM.__init__" reads better to a user as "RBM()"
        shown = (function.__qualname__.removesuffix(".__init__") if function.__name__ == "__init__"
                 else function.__qualname__)

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            if len(args) <= n_positional:
                return function(*args, **kwargs)
            extra = args[n_positional:]
            if len(extra) > len(legacy_names):
                bound = int(implicit_first)  # self or cls, which the caller does not write
                raise TypeError(f"{shown}() takes at most {n_positional + len(legacy_names) - bound} positional "
                                f"arguments ({len(args) - bound} given)")
            names = legacy_names[:len(extra)]
            twice = [name for name in names if name in kwargs]
            if twice:
                raise TypeError(f"{shown}() got multiple values for argument {twice[0]!r}")
            keywords = ", ".join(f"{name}=..." for name in names)
            warn_deprecated(f"passing {', '.join(names)} positionally to {shown}() is deprecated: pass "
                            f"{keywords} by keyword", stacklevel=3)
            return function(*args[:n_positional], **dict(zip(names, extra)), **kwargs)

        return wrapper

    return decorate


class DeprecatedFloat:
    """Mixin for a result namedtuple that used to be a float: number-like use still works, with a warning.

    The subclass names the field that holds the old float (``_float_field``)
    and the new spelling to suggest (``_float_advice``). ``float(result)``,
    arithmetic, comparisons with numbers, ``round``, numpy functions and
    formatting with a format spec act on that field; equality with another
    tuple stays the tuple's. ``"%f" % result`` cannot be kept: ``%`` takes
    any tuple as its argument list.
    """

    __slots__ = ()
    _float_field = "log_z"
    _float_advice = "result.log_z"

    def _number(self, stacklevel=4):
        """The old float, with the warning attributed to the user's line (``stacklevel`` as warnings.warn's)."""
        warn_deprecated(f"{type(self).__name__} is no longer a float: use {self._float_advice} for the number",
                        stacklevel=stacklevel)
        return float(getattr(self, self._float_field))

    def __float__(self):
        return self._number()

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self._number(), dtype=dtype)

    def __format__(self, spec):
        return format(self._number(), spec) if spec else super().__format__(spec)

    def __round__(self, ndigits=None):
        return round(self._number(), ndigits)

    def __neg__(self):
        return -self._number()

    def __pos__(self):
        return +self._number()

    def __abs__(self):
        return abs(self._number())

    def _binary(self, other, operation):
        if isinstance(other, numbers.Real) or (isinstance(other, np.ndarray) and other.dtype.kind in "biuf"):
            return operation(self._number(stacklevel=5), other)  # user -> __add__ -> _binary -> _number
        return NotImplemented

    def __add__(self, other):
        return self._binary(other, lambda x, y: x + y)

    def __radd__(self, other):
        return self._binary(other, lambda x, y: y + x)

    def __sub__(self, other):
        return self._binary(other, lambda x, y: x - y)

    def __rsub__(self, other):
        return self._binary(other, lambda x, y: y - x)

    def __mul__(self, other):
        return self._binary(other, lambda x, y: x * y)

    def __rmul__(self, other):
        return self._binary(other, lambda x, y: y * x)

    def __truediv__(self, other):
        return self._binary(other, lambda x, y: x / y)

    def __rtruediv__(self, other):
        return self._binary(other, lambda x, y: y / x)

    def __lt__(self, other):
        return self._binary(other, lambda x, y: x < y)

    def __le__(self, other):
        return self._binary(other, lambda x, y: x <= y)

    def __gt__(self, other):
        return self._binary(other, lambda x, y: x > y)

    def __ge__(self, other):
        return self._binary(other, lambda x, y: x >= y)

    def __eq__(self, other):
        if isinstance(other, tuple):
            return tuple.__eq__(self, other)
        return self._binary(other, lambda x, y: x == y)

    def __ne__(self, other):
        if isinstance(other, tuple):
            return tuple.__ne__(self, other)
        return self._binary(other, lambda x, y: x != y)

    __hash__ = tuple.__hash__


class ParamsDict(dict):
    """name -> array, in the model's ``params`` order; integer indexing (the old list form) still works, with a warning.

    Iterating yields the names, as any dict: the arrays in order are
    ``list(params.values())`` (or the model's ``params``, the tutorial's list
    of shared variables).
    """

    _owner = "get_params()"

    def __getitem__(self, key):
        if isinstance(key, (numbers.Integral, slice)) and not isinstance(key, bool):
            warn_deprecated(f"{self._owner} returns a dict of name -> array now; indexing it by position is "
                            f"deprecated: use its names ({', '.join(self)}) or list(params.values())[i]")
            return list(self.values())[key]
        return super().__getitem__(key)


class DBNHistory(list):
    """:class:`rbm.DBNTrainer`'s history: a list of epoch records, like :attr:`rbm.Trainer.history`.

    ``DBNTrainer.fit`` used to return a dict; its keys (``"test_error"``,
    ``"history"``, ...) still answer here, with a warning naming the trainer
    attribute that replaces each. The trainer fills :attr:`legacy` after each
    fit; ``"pretraining"`` and ``"finetuning"`` (the old ``trainer.history``
    dict's keys) are rebuilt from the records.
    """

    #: old key -> the new spelling that the warning suggests
    _OLD_KEYS = {
        "best_validation_error": "trainer.best_validation_error",
        "test_error": "trainer.test_error",
        "best_epoch": "trainer.best_epoch (now counted from 0, like the records' epochs)",
        "patience": "trainer.patience",
        "pretraining_minutes": "trainer.pretraining_seconds / 60",
        "finetuning_minutes": "trainer.finetuning_seconds / 60",
        "history": "the returned list itself (one record per epoch, with 'stage' and, when pretraining, 'layer')",
        "pretraining": "[r for r in history if r['stage'] == 'pretraining']",
        "finetuning": "[r for r in history if r['stage'] == 'finetuning']",
    }

    def __init__(self, records=(), n_layers=0):
        super().__init__(records)
        self.n_layers = n_layers
        #: the old fit result's scalar entries, as the old dict held them (set by DBNTrainer.fit)
        self.legacy = {}

    def _old_layout(self):
        """The old ``{"pretraining": [[records] per layer], "finetuning": [records]}``, epochs counted as before."""
        pretraining = [[] for _ in range(self.n_layers)]
        finetuning = []
        for record in self:
            old = {key: value for key, value in record.items() if key not in ("stage", "layer")}
            if record["stage"] == "pretraining":
                pretraining[record["layer"]].append(old)
            else:
                finetuning.append({**old, "epoch": record["epoch"] + 1})  # fine-tuning epochs counted from 1
        return {"pretraining": pretraining, "finetuning": finetuning}

    def __getitem__(self, key):
        if not isinstance(key, str):
            return super().__getitem__(key)
        return self._old_value(key, stacklevel=4)

    def _old_value(self, key, stacklevel):
        """The old result's (or old history dict's) entry ``key``, with the warning at the user's line."""
        if key not in self._OLD_KEYS:
            raise KeyError(f"{key!r}: the DBN trainer's history is a list of records now (keys of the old "
                           f"result: {', '.join(self._OLD_KEYS)})")
        warn_deprecated(f"DBNTrainer.fit returns the history list now; result[{key!r}] is deprecated: use "
                        f"{self._OLD_KEYS[key]}", stacklevel=stacklevel)
        if key in ("history", "pretraining", "finetuning"):
            layout = self._old_layout()
            return layout if key == "history" else layout[key]
        return self.legacy[key]

    def keys(self):
        """The old result dict's keys, so that ``{**result}`` and ``dict(result)`` still work (deprecated)."""
        warn_deprecated("DBNTrainer.fit returns the history list now; using it as the old result dict is "
                        "deprecated: read the trainer's attributes (best_validation_error, test_error, ...)")
        return ["best_validation_error", "test_error", "best_epoch", "patience", "pretraining_minutes",
                "finetuning_minutes", "history"]

    def get(self, key, default=None):
        """The old result dict's ``get``, for string keys (deprecated, see ``__getitem__``)."""
        if key not in self._OLD_KEYS:
            return default
        return self._old_value(key, stacklevel=4)
