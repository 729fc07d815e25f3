"""MNIST: read the four IDX files (or the tutorial's mnist.pkl.gz), checked by sha256.

Where the files come from, in order: the folder the caller names
(``data_dir``), else the cache folder (``$RBM_DATA_DIR`` or ``~/.cache/rbm``),
downloading into the cache what is missing. Downloads go to a temporary file
that is checked and then renamed, so a failed download leaves nothing behind.
"""
import collections
import gzip
import hashlib
import os
import pickle
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .validation import check_seed

__all__ = ["MNIST_FILES", "MNIST_MIRRORS", "Split", "MnistSplits", "load_mnist", "load_mnist_pkl",
           "read_idx", "binarize", "default_data_dir", "fetch_mnist_files"]

#: The published MNIST files and their sha256 sums.
MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
#: Where missing files are downloaded from, tried in order.
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
_IDX_MAGIC = {2049: 1, 2051: 3}  # labels are 1-D, images 3-D
_TRAIN_SIZE = 50000  # the tutorial's split of the 60,000 training images

Split = collections.namedtuple("Split", ["X", "y"])
Split.__doc__ = """One part of a dataset: images and their labels.

Parameters
----------
X : array (n, 784)
    The images, one per row, in [0, 1].
y : array (n,) of int64
    The digit of each row, 0..9.
"""
MnistSplits = collections.namedtuple("MnistSplits", ["train", "valid", "test"])
MnistSplits.__doc__ = """MNIST as the tutorial splits it; each part is a :class:`Split`.

Parameters
----------
train : Split
    The first 50,000 of the published training images.
valid : Split
    The last 10,000 of the published training images.
test : Split
    The 10,000 published test images.
"""


def default_data_dir() -> str:
    """Where MNIST is looked for and downloaded when no folder is named.

    Returns
    -------
    str
        ``$RBM_DATA_DIR`` if set (and not empty), else ``~/.cache/rbm``
        with ``~`` expanded.
    """
    return os.environ.get("RBM_DATA_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "rbm")


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_sha256(path, expected):
    actual = _sha256(path)
    if actual != expected:
        raise ValueError(f"{path!r} has sha256 {actual}, expected {expected}: the file is corrupted, "
                         "truncated or not the published MNIST file; delete it and try again")


def _download(name, folder, mirrors):
    """Download ``name`` into ``folder`` from the first mirror that serves it, checked by sha256."""
    errors = []
    for mirror in mirrors:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as stream, urllib.request.urlopen(mirror + name, timeout=60) as response:
                for block in iter(lambda: response.read(1 << 20), b""):
                    stream.write(block)
            _check_sha256(temporary, MNIST_FILES[name])
            os.replace(temporary, os.path.join(folder, name))
            return
        except (urllib.error.URLError, OSError, ValueError) as error:
            errors.append(f"{mirror}: {error}")
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    raise OSError(
        f"could not download {name} ({'; '.join(errors)}). If this machine is offline, put the four "
        "MNIST .gz files in a folder and pass it with --data-dir (data_dir= in Python)")


def fetch_mnist_files(data_dir: str | os.PathLike[str] | None = None, download: bool = True,
                      mirrors: Sequence[str] = MNIST_MIRRORS) -> dict[str, str]:
    """Paths of the four MNIST files, each checked against its sha256.

    Parameters
    ----------
    data_dir : str or path-like, optional
        A folder that must hold the four files of :data:`MNIST_FILES`.
        Without it they are looked up in :func:`default_data_dir` and
        downloaded there when absent.
    download : bool, default True
        Whether missing files may be downloaded (into the default folder only).
    mirrors : sequence of str, default :data:`MNIST_MIRRORS`
        Base URLs tried in order for each missing file.

    Returns
    -------
    dict
        File name -> path, for the four names of :data:`MNIST_FILES`.

    Raises
    ------
    FileNotFoundError
        A file is missing from ``data_dir`` (or from the default folder with
        ``download=False``).
    ValueError
        A file's sha256 differs from the published one.
    OSError
        No mirror served a missing file (the message says how to work offline).
    """
    folder = os.fspath(data_dir) if data_dir is not None else default_data_dir()
    if data_dir is not None and not os.path.isdir(folder):
        raise FileNotFoundError(f"data_dir {folder!r} is not a folder")
    paths = {}
    for name, checksum in MNIST_FILES.items():
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            if data_dir is not None or not download:
                raise FileNotFoundError(
                    f"{path!r} is missing; the MNIST folder must hold {sorted(MNIST_FILES)}")
            os.makedirs(folder, exist_ok=True)
            _download(name, folder, mirrors)
        _check_sha256(path, checksum)
        paths[name] = path
    return paths


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """The array in an IDX file (gzipped or not), checked for magic number and length.

    Parameters
    ----------
    path : str or path-like
        An IDX file of unsigned bytes: labels (magic number 2049, 1-D) or
        images (2051, 3-D); read through gzip when the name ends in ``.gz``.

    Returns
    -------
    array of uint8
        (n,) labels or (n, rows, columns) images, as the header says.

    Raises
    ------
    ValueError
        The file is unreadable, has another magic number, or its length does
        not match its header.

    Examples
    --------
    >>> import os, tempfile
    >>> from rbm.datasets import read_idx
    >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte")
    >>> with open(path, "wb") as stream:  # magic number 2049, 3 labels, then the labels
    ...     _ = stream.write(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]))
    >>> read_idx(path)
    array([7, 2, 1], dtype=uint8)
    """
    opener = gzip.open if os.fspath(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as stream:
            content = stream.read()
    except (OSError, EOFError) as error:
        raise ValueError(f"{path!r} could not be read (truncated or not gzip?): {error}") from None
    if len(content) < 8:
        raise ValueError(f"{path!r} is too short to be an IDX file")
    magic = int.from_bytes(content[:4], "big")
    if magic not in _IDX_MAGIC:
        raise ValueError(f"{path!r} has magic number {magic}, expected 2049 (labels) or 2051 (images)")
    ndim = _IDX_MAGIC[magic]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(content[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(content) != expected:
        raise ValueError(f"{path!r} holds {len(content)} bytes but its header {shape} needs {expected}")
    return np.frombuffer(content, dtype=np.uint8, offset=header).reshape(shape)


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and nothing else, so a pickle file cannot run code."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"mnist.pkl.gz may hold only numpy arrays, found {module}.{name}")
        return super().find_class(module, name)


def load_mnist_pkl(path: str | os.PathLike[str]) -> MnistSplits:
    """The tutorial's ``mnist.pkl.gz``: (train, valid, test) splits of float images in [0, 1].

    The file is unpickled by an unpickler that admits numpy arrays only, so
    it cannot run code.

    Parameters
    ----------
    path : str or path-like
        The gzipped pickle of ``((train_X, train_y), (valid_X, valid_y),
        (test_X, test_y))``.

    Returns
    -------
    MnistSplits
        Images as float64, labels as int64.
    """
    try:
        with gzip.open(path, "rb") as stream:
            splits = _ArraysOnlyUnpickler(stream, encoding="latin1").load()
    except (OSError, EOFError, pickle.UnpicklingError) as error:
        raise ValueError(f"{path!r} is not a readable mnist.pkl.gz: {error}") from None
    if not (isinstance(splits, tuple) and len(splits) == 3):
        raise ValueError(f"{path!r} must hold a (train, valid, test) tuple")
    return MnistSplits(*(Split(np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64))
                         for X, y in splits))


def binarize(X: ArrayLike, method: str = "threshold", seed: int | None = None) -> np.ndarray:
    """Binary copy of X in [0, 1]: ``"threshold"`` (X > 0.5) or ``"stochastic"`` (u < X, seeded).

    Parameters
    ----------
    X : array
        Grey levels in [0, 1].
    method : {"threshold", "stochastic"}, default "threshold"
        ``"threshold"`` keeps the pixels above 0.5 (as PyDeep loads MNIST);
        ``"stochastic"`` sets each pixel with probability X, as Salakhutdinov
        and Murray (2008) binarise it.
    seed : int, optional
        Seeds the uniform draws of ``"stochastic"``.

    Returns
    -------
    array
        0s and 1s, of X's shape and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from rbm.datasets import binarize
    >>> X = np.array([[0.1, 0.5, 0.9]])
    >>> binarize(X)
    array([[0., 0., 1.]])
    >>> binarize(np.full((2, 4), 0.5), "stochastic", seed=0)  # the same for the same seed
    array([[0., 1., 1., 1.],
           [0., 0., 0., 0.]])
    """
    if method == "threshold":
        return (X > 0.5).astype(X.dtype)
    if method == "stochastic":
        return (np.random.default_rng(check_seed(seed)).random(X.shape) < X).astype(X.dtype)
    raise ValueError(f"binarize must be None, 'threshold' or 'stochastic', got {method!r}")


def load_mnist(data_dir: str | os.PathLike[str] | None = None, download: bool = True,
               binarize_method: str | None = None, seed: int | None = None,
               dtype: DTypeLike = "float64") -> MnistSplits:
    """MNIST as the tutorial splits it: 50,000 train, 10,000 valid, 10,000 test.

    Parameters
    ----------
    data_dir : str or path-like, optional
        A folder holding the four IDX ``.gz`` files of :data:`MNIST_FILES` or
        the tutorial's ``mnist.pkl.gz``. Without it the IDX files are read
        from :func:`default_data_dir`, downloaded there first if missing.
    download : bool, default True
        Whether missing files may be downloaded (see :func:`fetch_mnist_files`).
    binarize_method : {None, "threshold", "stochastic"}, default None
        Keep grey levels (None) or binarise every split with :func:`binarize`.
    seed : int, optional
        Seeds ``"stochastic"`` binarisation (each split draws independently).
    dtype : str or numpy dtype, default "float64"
        The images' dtype.

    Returns
    -------
    MnistSplits
        ``(train, valid, test)``, each a :class:`Split` ``(X, y)`` with X
        (n, 784) in [0, 1] of ``dtype`` and y (n,) int64 labels.
    """
    if binarize_method not in (None, "threshold", "stochastic"):
        raise ValueError(f"binarize_method must be None, 'threshold' or 'stochastic', got {binarize_method!r}")
    dtype = np.dtype(dtype)
    pkl = os.path.join(os.fspath(data_dir), "mnist.pkl.gz") if data_dir is not None else None
    if pkl and os.path.exists(pkl) and not all(
            os.path.exists(os.path.join(os.fspath(data_dir), name)) for name in MNIST_FILES):
        splits = load_mnist_pkl(pkl)
    else:
        paths = fetch_mnist_files(data_dir, download)
        images = {part: read_idx(paths[f"{part}-images-idx3-ubyte.gz"]) for part in ("train", "t10k")}
        labels = {part: read_idx(paths[f"{part}-labels-idx1-ubyte.gz"]) for part in ("train", "t10k")}
        for part in images:
            if len(images[part]) != len(labels[part]):
                raise ValueError(f"MNIST {part}: {len(images[part])} images but {len(labels[part])} labels")
        train_X = images["train"].reshape(len(images["train"]), -1) / 255.0
        test_X = images["t10k"].reshape(len(images["t10k"]), -1) / 255.0
        train_y, test_y = labels["train"].astype(np.int64), labels["t10k"].astype(np.int64)
        splits = MnistSplits(Split(train_X[:_TRAIN_SIZE], train_y[:_TRAIN_SIZE]),
                             Split(train_X[_TRAIN_SIZE:], train_y[_TRAIN_SIZE:]),
                             Split(test_X, test_y))
    out = []
    for offset, split in enumerate(splits):
        X = split.X
        if binarize_method is not None:
            # One seed per split, so the three splits get independent draws.
            X = binarize(X, binarize_method, None if seed is None else seed + offset)
        out.append(Split(X.astype(dtype), split.y))
    return MnistSplits(*out)
