"""MNIST loading from IDX files and mnist.pkl.gz, checksums, downloads, binarisation. Nothing is downloaded."""
import gzip
import hashlib
import os
import pickle

import numpy as np
import pytest

from rbm import datasets

from .conftest import SHARED_MNIST


def write_idx(path, array, magic):
    header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in array.shape)
    with gzip.open(path, "wb") as stream:
        stream.write(header + array.astype(np.uint8).tobytes())


def fake_mnist(folder, n_train=60, n_test=10):
    """Four small IDX files with the real names; returns their sha256 sums."""
    rng = np.random.default_rng(0)
    parts = {"train": n_train, "t10k": n_test}
    for part, n in parts.items():
        write_idx(folder / f"{part}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)), 2051)
        write_idx(folder / f"{part}-labels-idx1-ubyte.gz", rng.integers(0, 10, n), 2049)
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in datasets.MNIST_FILES}


def test_read_idx_round_trip(tmp_path):
    images = np.arange(2 * 3 * 4).reshape(2, 3, 4) % 256
    write_idx(tmp_path / "x.gz", images, 2051)
    np.testing.assert_array_equal(datasets.read_idx(tmp_path / "x.gz"), images)


@pytest.mark.parametrize("make, match", [
    (lambda p: write_idx(p, np.zeros((2, 3, 3)), 1234), "magic number 1234"),
    (lambda p: p.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + (5).to_bytes(4, "big") * 3 + b"\x00" * 10)),
     "needs"),
    (lambda p: p.write_bytes(gzip.compress(b"\x00\x00")), "too short"),
    (lambda p: p.write_bytes(gzip.compress(np.random.default_rng(0).bytes(5000))[:2000]), "could not be read"),
])
def test_read_idx_rejects_bad_files(tmp_path, make, match):
    path = tmp_path / "bad.gz"
    make(path)
    with pytest.raises(ValueError, match=match):
        datasets.read_idx(path)


def test_load_from_folder_with_checksums(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "MNIST_FILES", fake_mnist(tmp_path))
    monkeypatch.setattr(datasets, "_TRAIN_SIZE", 50)
    mnist = datasets.load_mnist(tmp_path)
    assert mnist.train.X.shape == (50, 784) and mnist.valid.X.shape == (10, 784)
    assert mnist.test.X.shape == (10, 784) and mnist.test.y.dtype == np.int64
    raw = datasets.read_idx(tmp_path / "train-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(mnist.valid.X, raw[50:].reshape(10, 784) / 255.0)


def test_wrong_checksum_is_refused(tmp_path, monkeypatch):
    sums = fake_mnist(tmp_path)
    sums["t10k-labels-idx1-ubyte.gz"] = "0" * 64
    monkeypatch.setattr(datasets, "MNIST_FILES", sums)
    with pytest.raises(ValueError, match="sha256"):
        datasets.load_mnist(tmp_path)


def test_missing_files_in_named_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing"):
        datasets.load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="not a folder"):
        datasets.load_mnist(tmp_path / "nowhere")


def test_download_into_cache_from_a_local_mirror(tmp_path, monkeypatch):
    """The real download code, fed from a file:// mirror so no network is used."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    monkeypatch.setattr(datasets, "MNIST_FILES", fake_mnist(mirror))
    monkeypatch.setattr(datasets, "MNIST_MIRRORS", ("file:///nonexistent/", mirror.as_uri() + "/"))
    cache = tmp_path / "cache"
    monkeypatch.setenv("RBM_DATA_DIR", str(cache))
    paths = datasets.fetch_mnist_files(mirrors=datasets.MNIST_MIRRORS)
    assert sorted(os.listdir(cache)) == sorted(datasets.MNIST_FILES)
    assert all(os.path.dirname(p) == str(cache) for p in paths.values())


def test_failed_download_leaves_nothing_and_names_data_dir(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    sums = fake_mnist(mirror)
    sums["train-images-idx3-ubyte.gz"] = "f" * 64  # the mirror serves a wrong file
    monkeypatch.setattr(datasets, "MNIST_FILES", sums)
    cache = tmp_path / "cache"
    monkeypatch.setenv("RBM_DATA_DIR", str(cache))
    with pytest.raises(OSError, match="--data-dir"):
        datasets.fetch_mnist_files(mirrors=(mirror.as_uri() + "/",))
    assert os.listdir(cache) == []


def test_tutorial_pickle_is_read_and_code_is_refused(tmp_path):
    splits = tuple((np.full((n, 784), 0.5, dtype=np.float32), np.arange(n)) for n in (4, 2, 3))
    with gzip.open(tmp_path / "mnist.pkl.gz", "wb") as stream:
        pickle.dump(splits, stream)
    mnist = datasets.load_mnist(tmp_path)
    assert [len(s.X) for s in mnist] == [4, 2, 3]
    np.testing.assert_array_equal(mnist.test.y, np.arange(3))

    class Exploit:
        def __reduce__(self):
            return (os.system, ("echo owned",))

    with gzip.open(tmp_path / "mnist.pkl.gz", "wb") as stream:
        pickle.dump(Exploit(), stream)
    with pytest.raises(ValueError, match="only numpy arrays"):
        datasets.load_mnist(tmp_path)


def test_binarisation():
    X = np.array([[0.2, 0.5, 0.8]] * 4000)
    np.testing.assert_array_equal(datasets.binarize(X, "threshold")[0], [0, 0, 1])
    stochastic = datasets.binarize(X, "stochastic", seed=1)
    np.testing.assert_array_equal(stochastic, datasets.binarize(X, "stochastic", seed=1))
    np.testing.assert_allclose(stochastic.mean(axis=0), X[0], atol=5 * np.sqrt(0.25 / 4000))
    with pytest.raises(ValueError, match="binarize"):
        datasets.binarize(X, "round")
    with pytest.raises(ValueError, match="binarize_method"):
        datasets.load_mnist(binarize_method="round")


@pytest.mark.skipif(not os.path.isdir(SHARED_MNIST), reason="the shared MNIST folder is not on this machine")
def test_real_mnist_matches_its_published_description():
    mnist = datasets.load_mnist(SHARED_MNIST, dtype="float32")
    assert [s.X.shape for s in mnist] == [(50000, 784), (10000, 784), (10000, 784)]
    labels = np.concatenate([mnist.train.y, mnist.valid.y])
    np.testing.assert_array_equal(np.bincount(labels),
                                  [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
    np.testing.assert_allclose(np.concatenate([mnist.train.X, mnist.valid.X]).mean() * 255, 33.318, atol=1e-3)
    assert mnist.train.X.min() == 0.0 and mnist.train.X.max() == 1.0
