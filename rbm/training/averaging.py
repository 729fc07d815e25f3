"""Parameter averaging: a run ends with the mean of its parameters over its last epochs.

Stochastic gradient methods end at a noisy iterate; the mean of the iterates
near the end is closer to where they fluctuate around (Polyak & Juditsky 1992;
Swersky et al. 2010 measured it for RBMs trained by PCD; the epoch-end form
is Izmailov et al.'s 2018 stochastic weight averaging). :class:`ParameterAverage`
keeps the sum, in float64, of the parameters at the end of each epoch of the
window and hands back their mean; the training engine saves it in
checkpoints, so a resumed run averages exactly what the uninterrupted one would.
"""
from collections.abc import Sequence

import numpy as np

__all__ = ["ParameterAverage"]


class ParameterAverage:
    """The mean of parameter arrays at the ends of the last ``n_epochs`` epochs of a run.

    Parameters
    ----------
    n_epochs : int >= 1
        How many of the run's last epochs are averaged (all of them when the
        run is shorter).

    Attributes
    ----------
    first_epoch : int or None
        The first epoch of the window (set by :meth:`start`): the later of
        the fit's first epoch and its end minus ``n_epochs``.
    count : int
        Epochs added so far.
    sums : list of ndarray (float64) or None
        Their sums, one per parameter (None before the first :meth:`add`).
    """

    def __init__(self, n_epochs: int) -> None:
        self.n_epochs = n_epochs
        self.end_epoch = self.fit_first_epoch = self.first_epoch = None
        self.count = 0
        self.sums = None

    def start(self, end_epoch: int, fit_first_epoch: int = 0) -> None:
        """Aim at a fit of epochs ``fit_first_epoch`` .. ``end_epoch - 1``, with no epoch added yet.

        The window is the fit's last ``n_epochs`` epochs (all of them in a
        shorter fit). A resume starts with ``fit_first_epoch`` 0 and
        restores the interrupted fit's own (:meth:`check`, :meth:`restore`).

        Parameters
        ----------
        end_epoch : int
            One past the fit's last epoch (epochs counted over the whole run).
        fit_first_epoch : int, default 0
            The fit's first epoch.
        """
        self.end_epoch, self.fit_first_epoch = end_epoch, fit_first_epoch
        self.first_epoch = max(end_epoch - self.n_epochs, fit_first_epoch)
        self.count, self.sums = 0, None

    def add(self, epoch: int, params: Sequence[np.ndarray]) -> None:
        """Add the parameters at the end of ``epoch`` when the epoch is in the window.

        Parameters
        ----------
        epoch : int
            The epoch just trained.
        params : sequence of arrays
            The parameters at its end (copied, as float64).
        """
        if epoch < self.first_epoch:
            return
        values = [np.asarray(value, dtype=np.float64) for value in params]
        self.sums = values if self.sums is None else [total + value for total, value in zip(self.sums, values)]
        self.count += 1

    def mean(self) -> list[np.ndarray] | None:
        """The mean of the parameters added so far.

        Returns
        -------
        list of ndarray (float64) or None
            sum / count for each parameter, or None when no epoch was added.
        """
        return None if self.count == 0 else [total / self.count for total in self.sums]

    # ------------------------------------------------------------ checkpoints
    def arrays(self, shapes: Sequence[tuple[int, ...]]) -> dict[str, np.ndarray]:
        """The state as named arrays for a checkpoint.

        Parameters
        ----------
        shapes : sequence of tuples
            The parameters' shapes (zero sums stand in before the window's first epoch).

        Returns
        -------
        dict of str to ndarray
            ``average_fit_first_epoch``, ``average_first_epoch``,
            ``average_count`` and ``average_sum_<i>`` per parameter.
        """
        sums = self.sums if self.sums is not None else [np.zeros(shape) for shape in shapes]
        return {"average_fit_first_epoch": np.int64(self.fit_first_epoch),
                "average_first_epoch": np.int64(self.first_epoch), "average_count": np.int64(self.count),
                **{f"average_sum_{i}": total for i, total in enumerate(sums)}}

    def check(self, arrays: dict[str, np.ndarray], shapes: Sequence[tuple[int, ...]], position_epoch: int,
              path: str) -> None:
        """Refuse a checkpoint's averaging state that this run cannot continue (ValueError naming ``path``).

        The window must start where this run's (ending at :meth:`start`'s
        ``end_epoch``) does, and have counted each epoch of it that the
        checkpoint's run finished.

        Parameters
        ----------
        arrays : dict of str to ndarray
            The checkpoint's arrays (see :meth:`arrays`).
        shapes : sequence of tuples
            The parameters' shapes.
        position_epoch : int
            The epoch the checkpoint resumes at.
        path : str
            The checkpoint, for the messages.

        Raises
        ------
        ValueError
            Naming ``path`` and what is wrong.
        """
        try:
            fit_first, first = int(arrays["average_fit_first_epoch"]), int(arrays["average_first_epoch"])
            count = int(arrays["average_count"])
            sums = [np.asarray(arrays[f"average_sum_{i}"]) for i in range(len(shapes))]
        except KeyError as error:
            raise ValueError(f"{path!r} lacks the parameter average's {error.args[0]!r}") from None
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path!r} holds an unreadable parameter average: {error}") from None
        expected = max(self.end_epoch - self.n_epochs, fit_first)
        if first != expected:
            raise ValueError(f"{path!r} averages from epoch {first}, this run from epoch {expected}: "
                             "resume with the same epochs as the interrupted run")
        if count != max(position_epoch - first, 0):
            raise ValueError(f"{path!r} holds an average of {count} epochs at epoch {position_epoch}")
        for i, (total, shape) in enumerate(zip(sums, shapes)):
            if total.shape != tuple(shape) or total.dtype != np.float64 or not np.all(np.isfinite(total)):
                raise ValueError(f"{path!r}: average_sum_{i} is {total.dtype}{total.shape}, expected finite "
                                 f"float64{tuple(shape)}")

    def restore(self, arrays: dict[str, np.ndarray], n_params: int) -> None:
        """Take the state :meth:`check` accepted.

        Parameters
        ----------
        arrays : dict of str to ndarray
            The checkpoint's arrays.
        n_params : int
            How many parameters are averaged.
        """
        self.fit_first_epoch = int(arrays["average_fit_first_epoch"])
        self.first_epoch = int(arrays["average_first_epoch"])
        self.count = int(arrays["average_count"])
        self.sums = [np.array(arrays[f"average_sum_{i}"]) for i in range(n_params)] if self.count else None
