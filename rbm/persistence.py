"""Model files: ``.npz`` archives with a format version and checked shapes.

A model file holds the model's kind (e.g. ``"rbm.RBM"``), ``n_visible`` (the
visible *units*, i.e. columns: n_visible * K for categorical units) and
``n_hidden``, every array of :meth:`rbm.RBM.get_params` and, from format
version 2 on, the constructor settings of :meth:`rbm.RBM.get_settings` as a
JSON string (``settings``): together the whole model, so that a loaded model
samples and trains exactly as the saved one. Version 1 files (arrays only)
still load, with default settings.

Files are read with ``allow_pickle=False`` (a model file can never run code)
and written atomically: to a temporary file in the same folder, flushed to disk,
then renamed over the target, so a crash mid-write leaves any previous file
intact.
"""
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["FORMAT_VERSION", "READABLE_VERSIONS", "save_model", "load_model_arrays", "atomic_savez", "load_npz"]

#: the format version written; files of every version in READABLE_VERSIONS load
FORMAT_VERSION = 2
#: the format versions :func:`load_model_arrays` reads
READABLE_VERSIONS = (1, 2)
_MODEL_KIND = "rbm.RBM"
_METADATA = ("kind", "format_version", "n_visible", "n_hidden", "settings")


def atomic_savez(path: str | os.PathLike[str], arrays: Mapping[str, ArrayLike]) -> None:
    """Write ``arrays`` to ``path`` as an uncompressed .npz, atomically.

    The archive is written to a temporary file in the same folder, flushed to
    disk and renamed over ``path``: a crash leaves any previous file intact,
    and a failure leaves no temporary file behind.

    Parameters
    ----------
    path : str or path-like
        Must end in ``.npz``, in an existing folder.
    arrays : dict
        name -> array (numpy scalars and strings included).

    Raises
    ------
    ValueError
        When ``path`` does not end in ``.npz``.
    FileNotFoundError
        When its folder does not exist.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from rbm.persistence import atomic_savez, load_npz
    >>> path = os.path.join(tempfile.mkdtemp(), "state.npz")
    >>> atomic_savez(path, {"kind": np.str_("my.State"), "format_version": np.int64(1), "x": np.arange(3.0)})
    >>> load_npz(path, "my.State")["x"]
    array([0., 1., 2.])
    """
    path = os.fspath(path)
    if not path.endswith(".npz"):
        raise ValueError(f"model files end in .npz, got {path!r}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"folder {folder!r} does not exist")
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".npz")
    try:
        # mkstemp makes the file private (0600); a saved model gets the permissions of any new file
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, **arrays)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def load_npz(path: str | os.PathLike[str], kind: str, versions: Sequence[int] = (1,)) -> dict[str, np.ndarray]:
    """All arrays of an .npz written by rbm, checked for its kind and for a format version in ``versions``.

    Read with ``allow_pickle=False``, so a file can never run code.

    Parameters
    ----------
    path : str or path-like
    kind : str
        The ``kind`` entry the file must hold, e.g. ``"rbm.RBM"``.
    versions : sequence of int, default (1,)
        The ``format_version`` entries accepted.

    Returns
    -------
    dict
        name -> array, every entry of the archive.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        When the file is unreadable (truncated, corrupted), lacks ``kind``
        or ``format_version``, or holds another kind or version.
    """
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as error:
        raise ValueError(f"{path!r} is not a readable rbm file (truncated or corrupted?): {error}") from None
    if "kind" not in arrays or "format_version" not in arrays:
        raise ValueError(f"{path!r} is not an rbm file: it lacks 'kind' and 'format_version'")
    if str(arrays["kind"]) != kind:
        raise ValueError(f"{path!r} holds a {str(arrays['kind'])!r}, not a {kind!r}")
    version = int(arrays["format_version"])
    if version not in versions:
        readable = " or ".join(str(v) for v in versions)
        raise ValueError(f"{path!r} has format version {version}; this rbm reads version {readable}")
    return arrays


def save_model(model, path: str | os.PathLike[str]) -> None:
    """Write ``model``'s arrays (:meth:`rbm.RBM.get_params`), settings and shapes to ``path`` (.npz).

    :meth:`rbm.RBM.save` calls it; the file is written with
    :func:`atomic_savez` in format :data:`FORMAT_VERSION`.

    Parameters
    ----------
    model : RBM or GaussianBernoulliRBM
    path : str or path-like
        Must end in ``.npz``, in an existing folder.
    """
    atomic_savez(path, dict(kind=np.str_(model.FILE_KIND), format_version=np.int64(FORMAT_VERSION),
                            n_visible=np.int64(model.n_visible_units), n_hidden=np.int64(model.n_hidden),
                            settings=np.str_(json.dumps(model.get_settings(), sort_keys=True)),
                            **model._file_arrays()))


def load_model_arrays(path: str | os.PathLike[str], kind: str = _MODEL_KIND,
                      shapes: Callable[..., Any] | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(arrays, settings) of a model file of ``kind``, checked.

    ``shapes(n_visible, n_hidden)`` gives name -> shape of every array the
    kind's files may hold (by default the binary RBM's W, hbias and vbias);
    W, hbias and vbias must be there, every array must have its shape, a float
    dtype and finite values, and no other entry may be present.
    :meth:`rbm.RBM.load` calls it.

    Parameters
    ----------
    path : str or path-like
    kind : str, default "rbm.RBM"
        The model kind the file must hold (a class's ``FILE_KIND``).
    shapes : callable, optional
        ``shapes(n_visible, n_hidden) -> {name: shape}``.

    Returns
    -------
    arrays : dict
        name -> checked array.
    settings : dict
        The constructor settings (empty for version 1 files).

    Raises
    ------
    ValueError
        Naming what is wrong with the file; nothing is loaded.

    Examples
    --------
    >>> import os, tempfile
    >>> import rbm
    >>> from rbm.persistence import load_model_arrays
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> rbm.RBM(n_visible=4, n_hidden=2, seed=0).save(path)
    >>> arrays, settings = load_model_arrays(path)
    >>> {name: array.shape for name, array in arrays.items()}, settings
    ({'W': (4, 2), 'hbias': (2,), 'vbias': (4,)}, {})
    """
    arrays = load_npz(path, kind, READABLE_VERSIONS)
    try:
        n_visible, n_hidden = int(arrays["n_visible"]), int(arrays["n_hidden"])
    except KeyError as error:
        raise ValueError(f"{path!r} lacks the entry {error}") from None
    if shapes is None:
        expected = {"W": (n_visible, n_hidden), "hbias": (n_hidden,), "vbias": (n_visible,)}
    else:
        expected = shapes(n_visible, n_hidden)
    missing = [name for name in ("W", "hbias", "vbias") if name not in arrays]
    if missing:
        raise ValueError(f"{path!r} lacks the entry {missing[0]!r}")
    unknown = sorted(set(arrays) - set(expected) - set(_METADATA))
    if unknown:
        raise ValueError(f"{path!r} holds entries a {kind!r} file does not have: {unknown}")
    params = {name: arrays[name] for name in expected if name in arrays}
    for name, value in params.items():
        if value.shape != expected[name]:
            raise ValueError(f"{path!r}: {name} has shape {value.shape}, expected {expected[name]}")
        if value.dtype.name not in ("float32", "float64"):
            raise ValueError(f"{path!r}: {name} has dtype {value.dtype}, expected float32 or float64")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{path!r}: {name} holds NaN or infinite values")
    settings = {}
    if "settings" in arrays:
        try:
            settings = json.loads(str(arrays["settings"]))
        except ValueError as error:
            raise ValueError(f"{path!r} holds unreadable settings: {error}") from None
        if not isinstance(settings, dict):
            raise ValueError(f"{path!r} holds settings that are not a mapping: {settings!r}")
    return params, settings
