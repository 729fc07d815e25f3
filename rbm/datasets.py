"""Datasets: MNIST (the four IDX files or the tutorial's mnist.pkl.gz, checked by sha256) and ratings.

Where the MNIST files come from, in order: the folder the caller names
(``data_dir``), else the cache folder (``$RBM_DATA_DIR`` or ``~/.cache/rbm``),
downloading into the cache what is missing. Downloads go to a temporary file
that is checked and then renamed, so a failed download leaves nothing behind.

Ratings (users rating items 1..K, for the collaborative-filtering RBM of
Salakhutdinov, Mnih & Hinton, 2007) are read from MovieLens-format files
(:func:`read_ratings`) or made up (:func:`synthetic_ratings`), split per user
(:func:`split_ratings`) and one-hot encoded with all-zero groups for the
missing ratings (:func:`ratings_to_one_hot`).
"""
import collections
import gzip
import hashlib
import os
import pickle
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .validation import check_float, check_positive_int, check_seed

__all__ = ["MNIST_FILES", "MNIST_MIRRORS", "Split", "MnistSplits", "load_mnist", "load_mnist_pkl",
           "read_idx", "binarize", "default_data_dir", "fetch_mnist_files",
           "Ratings", "RatingsSplit", "OneHotRatings", "read_ratings", "split_ratings", "synthetic_ratings",
           "ratings_to_one_hot"]

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


# --- Ratings: users rating items 1..K, for the collaborative-filtering RBM -----------------------------------------

Ratings = collections.namedtuple("Ratings", ["user", "item", "rating"])
Ratings.__doc__ = """Ratings as three aligned arrays: ``user[n]`` gave ``item[n]`` the rating ``rating[n]``.

Parameters
----------
user : array (n,) of int64
    The user ids.
item : array (n,) of int64
    The item ids.
rating : array (n,) of int64
    The ratings, 1..K.
"""
RatingsSplit = collections.namedtuple("RatingsSplit", ["train", "test"])
RatingsSplit.__doc__ = """Ratings split in two, each part a :class:`Ratings` (see :func:`split_ratings`).

Parameters
----------
train : Ratings
    The ratings to learn from.
test : Ratings
    The held-out ratings.
"""
OneHotRatings = collections.namedtuple("OneHotRatings", ["data", "users", "items"])
OneHotRatings.__doc__ = """Ratings one-hot encoded (see :func:`ratings_to_one_hot`).

Parameters
----------
data : array (n_users, n_items * K)
    Row r is user ``users[r]``; columns ``j*K .. j*K+K-1`` are item
    ``items[j]``, with a 1 in column ``j*K + rating - 1`` where the user
    rated it and all zeros where not.
users : array (n_users,) of int64
    The user id of each row, increasing: ``np.searchsorted(users, ids)``
    gives the rows of ``ids``.
items : array (n_items,) of int64
    The item id of each group of K columns, increasing.
"""

#: a field of a ratings file: digits only (no sign, no spaces), few enough to fit in an int64
_RATINGS_FIELD = re.compile(r"[0-9]{1,18}")
_RATINGS_FIELDS = ("user", "item", "rating", "timestamp")
#: shares of the ratings 1..5 in MovieLens 100k (6,110, 11,370, 27,145, 34,174 and 21,201 of 100,000)
MOVIELENS_100K_RATING_SHARES = (0.0611, 0.1137, 0.27145, 0.34174, 0.21201)


def _check_ratings(ratings, n_categories, name="ratings"):
    """``ratings`` as a :class:`Ratings` of int64 arrays, checked: aligned, ratings 1..K, no (user, item) twice."""
    if not (isinstance(ratings, tuple) and len(ratings) == 3):
        raise TypeError(f"{name} must be a Ratings (user, item, rating) triple of arrays, got {type(ratings).__name__}")
    arrays = []
    for field, values in zip(Ratings._fields, ratings):
        array = np.asarray(values)
        if array.ndim != 1:
            raise ValueError(f"{name}.{field} must be 1-D, got shape {array.shape}")
        if array.size and not np.issubdtype(array.dtype, np.integer):
            raise TypeError(f"{name}.{field} must hold integers, got dtype {array.dtype}")
        arrays.append(array.astype(np.int64))
    user, item, rating = arrays
    if not len(user) == len(item) == len(rating):
        raise ValueError(f"{name}: user, item and rating must have the same length, got "
                         f"{len(user)}, {len(item)} and {len(rating)}")
    if len(rating) == 0:
        raise ValueError(f"{name} is empty: it holds no ratings")
    outside = (rating < 1) | (rating > n_categories)
    if outside.any():
        where = int(np.flatnonzero(outside)[0])
        raise ValueError(f"{name}.rating must be in 1..{n_categories}, got {rating[where]} at position {where}")
    order = np.lexsort((item, user))
    repeated = (np.diff(user[order]) == 0) & (np.diff(item[order]) == 0)
    if repeated.any():
        where = int(order[np.flatnonzero(repeated)[0] + 1])
        raise ValueError(f"{name}: user {user[where]} rated item {item[where]} more than once "
                         f"(again at position {where})")
    return Ratings(user, item, rating)


def read_ratings(path: str | os.PathLike[str], n_categories: int = 5, delimiter: str = "\t") -> Ratings:
    """The ratings of a MovieLens-format file: one ``user item rating timestamp`` line per rating.

    This is the format of MovieLens 100k's ``u.data`` (tab-separated) and,
    with ``delimiter="::"``, of MovieLens 1M's ``ratings.dat``. Every field
    is a non-negative integer; the timestamps are checked and dropped.

    Parameters
    ----------
    path : str or path-like
        The ratings file.
    n_categories : int >= 2, default 5
        K: the ratings are the integers 1..K.
    delimiter : str, default "\\t"
        What separates the fields.

    Returns
    -------
    Ratings
        ``(user, item, rating)`` int64 arrays, in the file's order.

    Raises
    ------
    ValueError
        A line with another number of fields, a field that is not a
        non-negative integer (blank lines, spaces and signs included), a
        rating outside 1..K or a (user, item) pair rated a second time; the
        message names the file and the line number (from 1). Also raised for
        a file with no ratings.

    Examples
    --------
    >>> import os, tempfile
    >>> from rbm.datasets import read_ratings
    >>> path = os.path.join(tempfile.mkdtemp(), "u.data")
    >>> with open(path, "w") as stream:
    ...     _ = stream.write("196\\t242\\t3\\t881250949\\n186\\t302\\t3\\t891717742\\n22\\t377\\t1\\t878887116\\n")
    >>> read_ratings(path)
    Ratings(user=array([196, 186,  22]), item=array([242, 302, 377]), rating=array([3, 3, 1]))
    """
    n_categories = check_positive_int(n_categories, "n_categories", minimum=2)
    if not isinstance(delimiter, str) or not delimiter or any(c.isdigit() for c in delimiter):
        raise ValueError(f"delimiter must be a non-empty string without digits, got {delimiter!r}")
    users, items, ratings = [], [], []
    first_line = {}
    # latin-1 decodes every byte, so a stray byte is reported as a bad field with its line number
    with open(path, encoding="latin-1") as stream:
        for number, line in enumerate(stream, start=1):
            where = f"{os.fspath(path)!r}, line {number}"
            fields = line.rstrip("\r\n").split(delimiter)
            if len(fields) != len(_RATINGS_FIELDS):
                raise ValueError(f"{where}: expected 4 fields (user, item, rating, timestamp) separated by "
                                 f"{delimiter!r}, got {len(fields)}: {line.rstrip(chr(10))!r}")
            for field_name, field in zip(_RATINGS_FIELDS, fields):
                if not _RATINGS_FIELD.fullmatch(field):
                    raise ValueError(f"{where}: the {field_name} {field!r} is not a non-negative integer")
            user, item, rating = (int(field) for field in fields[:3])
            if not 1 <= rating <= n_categories:
                raise ValueError(f"{where}: the rating {rating} is outside 1..{n_categories}")
            if (user, item) in first_line:
                raise ValueError(f"{where}: user {user} rated item {item} already on line {first_line[user, item]}")
            first_line[user, item] = number
            users.append(user)
            items.append(item)
            ratings.append(rating)
    if not users:
        raise ValueError(f"{os.fspath(path)!r} holds no ratings")
    return Ratings(*(np.array(values, dtype=np.int64) for values in (users, items, ratings)))


def split_ratings(ratings: Ratings, test_fraction: float = 0.2, seed: int | None = None,
                  n_categories: int = 5) -> RatingsSplit:
    """Split each user's ratings at random: ``test_fraction`` of them to test, the rest to train.

    A user with n ratings gives ``floor(test_fraction * n + 0.5)`` of them,
    drawn without replacement, to the test part (so a user with a single
    rating keeps it for training when ``test_fraction < 0.5``). Every user is
    split on its own, so each keeps its share of training ratings.

    Parameters
    ----------
    ratings : Ratings
        ``(user, item, rating)`` arrays, e.g. from :func:`read_ratings`.
    test_fraction : float in (0, 1), default 0.2
        The share of each user's ratings held out.
    seed : int, optional
        Seeds the draw: the same seed and ratings give the same split.
    n_categories : int >= 2, default 5
        K, for checking the ratings (1..K).

    Returns
    -------
    RatingsSplit
        ``(train, test)``, each a :class:`Ratings` keeping the input's order.

    Examples
    --------
    >>> import numpy as np
    >>> from rbm.datasets import Ratings, split_ratings
    >>> ratings = Ratings(user=np.repeat([1, 2], 5), item=np.tile(np.arange(5), 2), rating=np.full(10, 4))
    >>> train, test = split_ratings(ratings, test_fraction=0.2, seed=0)
    >>> len(train.user), len(test.user), test.user.tolist()
    (8, 2, [1, 2])
    """
    ratings = _check_ratings(ratings, check_positive_int(n_categories, "n_categories", minimum=2))
    test_fraction = check_float(test_fraction, "test_fraction", low=0.0, high=1.0, low_inclusive=False)
    if test_fraction == 1.0:
        raise ValueError("test_fraction must be < 1, got 1.0: nothing would be left to train on")
    rng = np.random.default_rng(check_seed(seed))
    user_ids, user_index, counts = np.unique(ratings.user, return_inverse=True, return_counts=True)
    n_test = np.floor(test_fraction * counts + 0.5).astype(np.int64)
    # sort by user, and within a user by a random key: a user's first n_test ratings in this order go to test
    order = np.lexsort((rng.random(len(user_index)), user_index))
    group_start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank_in_user = np.arange(len(order)) - group_start[user_index[order]]
    is_test = np.zeros(len(order), dtype=bool)
    is_test[order] = rank_in_user < n_test[user_index[order]]
    return RatingsSplit(Ratings(*(array[~is_test] for array in ratings)),
                        Ratings(*(array[is_test] for array in ratings)))


def synthetic_ratings(n_users: int = 1000, n_items: int = 200, n_factors: int = 5, density: float = 0.15,
                      noise: float = 0.5, bias_std: float = 0.5,
                      rating_shares: Sequence[float] = MOVIELENS_100K_RATING_SHARES,
                      seed: int | None = None) -> Ratings:
    """Made-up ratings from a noisy low-rank score, thresholded into 1..K; a random part observed.

    How they are made: every user u gets ``n_factors`` latent factors x_u
    and every item i factors y_i, all standard normal; user and item
    biases a_u, b_i are normal with standard deviation ``bias_std``. The
    score of (u, i) is

        s_ui = x_u . y_i / sqrt(n_factors) + a_u + b_i + noise * e_ui,

    e_ui standard normal (the product term has unit variance). Scores are
    cut into ratings 1..K at the quantiles of all n_users x n_items scores
    that give the ratings the shares ``rating_shares`` (by default those of
    MovieLens 100k: 6%, 11%, 27%, 34%, 21%). Each (user, item) is observed
    independently with probability ``density``.

    The default size is 1,000 users x 200 items, 5 factors, density 0.15:
    about 30,000 ratings, 30 per user and 150 per item. User ids are
    1..n_users and item ids 1..n_items, as in MovieLens.

    Parameters
    ----------
    n_users, n_items : int >= 1, default 1000 and 200
        The sizes of the full rating matrix.
    n_factors : int >= 1, default 5
        The rank of the product term.
    density : float in (0, 1], default 0.15
        The probability that a rating is observed.
    noise : float >= 0, default 0.5
        Standard deviation of the score's noise (the product term's is 1).
    bias_std : float >= 0, default 0.5
        Standard deviation of the user and item biases.
    rating_shares : sequence of K >= 2 positive floats, default MovieLens 100k's
        The share of each rating 1..K over the full matrix; normalised to sum 1.
    seed : int, optional
        Seeds every draw.

    Returns
    -------
    Ratings
        The observed ratings, ordered by user and then item.

    Examples
    --------
    >>> from rbm.datasets import synthetic_ratings
    >>> ratings = synthetic_ratings(n_users=50, n_items=20, density=0.5, seed=0)
    >>> int(ratings.rating.min()), int(ratings.rating.max()), 400 < len(ratings.user) < 600
    (1, 5, True)
    """
    n_users = check_positive_int(n_users, "n_users")
    n_items = check_positive_int(n_items, "n_items")
    n_factors = check_positive_int(n_factors, "n_factors")
    density = check_float(density, "density", low=0.0, high=1.0, low_inclusive=False)
    noise = check_float(noise, "noise", low=0.0)
    bias_std = check_float(bias_std, "bias_std", low=0.0)
    shares = np.asarray(rating_shares, dtype=np.float64)
    if shares.ndim != 1 or len(shares) < 2 or not np.all(np.isfinite(shares)) or np.any(shares <= 0):
        raise ValueError(f"rating_shares must be two or more positive numbers, got {rating_shares!r}")
    rng = np.random.default_rng(check_seed(seed))
    user_factors = rng.standard_normal((n_users, n_factors))
    item_factors = rng.standard_normal((n_items, n_factors))
    user_bias = bias_std * rng.standard_normal(n_users)
    item_bias = bias_std * rng.standard_normal(n_items)
    scores = (user_factors @ item_factors.T / np.sqrt(n_factors) + user_bias[:, None] + item_bias[None, :]
              + noise * rng.standard_normal((n_users, n_items)))
    thresholds = np.quantile(scores, np.cumsum(shares / shares.sum())[:-1])
    rating_matrix = 1 + np.searchsorted(thresholds, scores, side="right")
    user_index, item_index = np.nonzero(rng.random((n_users, n_items)) < density)
    return Ratings(user_index.astype(np.int64) + 1, item_index.astype(np.int64) + 1,
                   rating_matrix[user_index, item_index].astype(np.int64))


def _check_ids(ids, name):
    """``ids`` as a strictly increasing 1-D int64 array."""
    array = np.asarray(ids)
    if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"{name} must be a 1-D array of integer ids, got shape {array.shape}, dtype {array.dtype}")
    array = array.astype(np.int64)
    if np.any(np.diff(array) <= 0):
        raise ValueError(f"{name} must be strictly increasing (each id once, sorted)")
    return array


def _index_of(ids, known, name, known_name):
    """The positions of ``ids`` in the sorted ``known``, refusing ids it lacks."""
    index = np.searchsorted(known, ids)
    found = index < len(known)
    found[found] = known[index[found]] == ids[found]
    if not found.all():
        missing = ids[~found][0]
        raise ValueError(f"{name} {missing} is not among the {len(known)} ids of {known_name}")
    return index


def ratings_to_one_hot(ratings: Ratings, n_categories: int = 5, users: ArrayLike | None = None,
                       items: ArrayLike | None = None, dtype: DTypeLike = "float64") -> OneHotRatings:
    """One row per user, K columns per item: a 1 at the rating's column, all zeros where a rating is missing.

    This is the data of the collaborative-filtering RBM of Salakhutdinov,
    Mnih & Hinton (2007): item j is a categorical visible variable with K
    units (columns ``j*K .. j*K+K-1``, variable-major); a missing rating is
    an all-zero group, which contributes nothing to the model.

    Parameters
    ----------
    ratings : Ratings
        ``(user, item, rating)`` arrays, ratings in 1..K, each (user, item)
        at most once.
    n_categories : int >= 2, default 5
        K.
    users, items : array of int, optional
        The ids of the rows and of the item groups, strictly increasing;
        every id in ``ratings`` must be among them. By default the ids that
        occur in ``ratings``. Pass the ids of the whole data set to encode
        its train and test parts alike.
    dtype : str or numpy dtype, default "float64"
        The matrix's dtype.

    Returns
    -------
    OneHotRatings
        ``(data, users, items)``: the (n_users, n_items * K) matrix and the
        ids of its rows and item groups.

    Examples
    --------
    >>> import numpy as np
    >>> from rbm.datasets import Ratings, ratings_to_one_hot
    >>> ratings = Ratings(user=np.array([7, 7, 9]), item=np.array([2, 5, 5]), rating=np.array([3, 1, 2]))
    >>> encoded = ratings_to_one_hot(ratings, n_categories=3)
    >>> encoded.data
    array([[0., 0., 1., 1., 0., 0.],
           [0., 0., 0., 0., 1., 0.]])
    >>> encoded.users, encoded.items
    (array([7, 9]), array([2, 5]))
    """
    n_categories = check_positive_int(n_categories, "n_categories", minimum=2)
    ratings = _check_ratings(ratings, n_categories)
    users = np.unique(ratings.user) if users is None else _check_ids(users, "users")
    items = np.unique(ratings.item) if items is None else _check_ids(items, "items")
    rows = _index_of(ratings.user, users, "user", "users")
    groups = _index_of(ratings.item, items, "item", "items")
    data = np.zeros((len(users), len(items) * n_categories), dtype=np.dtype(dtype))
    data[rows, groups * n_categories + ratings.rating - 1] = 1
    return OneHotRatings(data, users, items)
