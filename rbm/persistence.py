"""Model files: ``.npz`` archives with a format version and checked shapes.

Files are read with ``allow_pickle=False`` (a model file can never run code)
and written atomically: to a temporary file in the same folder, flushed to disk,
then renamed over the target, so a crash mid-write leaves any previous file
intact.
"""
import os
import tempfile
import zipfile

import numpy as np

__all__ = ["FORMAT_VERSION", "save_model", "load_model_arrays", "atomic_savez", "load_npz"]

FORMAT_VERSION = 1
_MODEL_KIND = "rbm.RBM"


def atomic_savez(path, arrays):
    """Write ``arrays`` (a dict) to ``path`` as an uncompressed .npz, atomically."""
    path = os.fspath(path)
    if not path.endswith(".npz"):
        raise ValueError(f"model files end in .npz, got {path!r}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"folder {folder!r} does not exist")
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, **arrays)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def load_npz(path, kind):
    """All arrays of an .npz written by rbm, checked for its kind and format version."""
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
    if version != FORMAT_VERSION:
        raise ValueError(f"{path!r} has format version {version}; this rbm reads version {FORMAT_VERSION}")
    return arrays


def save_model(model, path):
    """Write ``model``'s arrays (:meth:`rbm.RBM._file_arrays`) and shapes to ``path`` (.npz)."""
    atomic_savez(path, dict(kind=np.str_(model.FILE_KIND), format_version=np.int64(FORMAT_VERSION),
                            n_visible=np.int64(model.n_visible), n_hidden=np.int64(model.n_hidden),
                            **model._file_arrays()))


def load_model_arrays(path, kind=_MODEL_KIND):
    """The arrays of a model file of ``kind`` (W, hbias, vbias and any vector such as sigma), checked."""
    arrays = load_npz(path, kind)
    try:
        n_visible, n_hidden = int(arrays["n_visible"]), int(arrays["n_hidden"])
        params = {name: arrays[name] for name in ("W", "hbias", "vbias")}
    except KeyError as error:
        raise ValueError(f"{path!r} lacks the entry {error}") from None
    expected = {"W": (n_visible, n_hidden), "hbias": (n_hidden,), "vbias": (n_visible,)}
    for name in set(arrays) - set(expected) - {"kind", "format_version", "n_visible", "n_hidden"}:
        params[name] = arrays[name]
        expected[name] = (n_visible,)  # the per-visible-unit vectors of other models
    for name, shape in expected.items():
        value = params[name]
        if value.shape != shape:
            raise ValueError(f"{path!r}: {name} has shape {value.shape}, expected {shape}")
        if value.dtype.name not in ("float32", "float64"):
            raise ValueError(f"{path!r}: {name} has dtype {value.dtype}, expected float32 or float64")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{path!r}: {name} holds NaN or infinite values")
    return params
