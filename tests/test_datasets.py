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


# --- ratings ---------------------------------------------------------------------------------------------------------

GOOD_RATINGS = "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n244\t51\t2\t880606923\n" \
               "196\t51\t5\t881250950\n"


def write_ratings(path, lines):
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_read_ratings_reads_a_movielens_file(tmp_path):
    path = tmp_path / "u.data"
    path.write_text(GOOD_RATINGS)
    ratings = datasets.read_ratings(path)
    np.testing.assert_array_equal(ratings.user, [196, 186, 22, 244, 196])
    np.testing.assert_array_equal(ratings.item, [242, 302, 377, 51, 51])
    np.testing.assert_array_equal(ratings.rating, [3, 3, 1, 2, 5])
    assert ratings.user.dtype == ratings.item.dtype == ratings.rating.dtype == np.int64
    # MovieLens 1M's format; Windows line ends; a K other than 5
    write_ratings(tmp_path / "ratings.dat", ["1::1193::5::978300760\r", "1::661::3::978302109\r"])
    ratings = datasets.read_ratings(tmp_path / "ratings.dat", delimiter="::")
    assert ratings.item.tolist() == [1193, 661] and ratings.rating.tolist() == [5, 3]
    write_ratings(tmp_path / "ten.data", ["1\t2\t10\t0"])
    assert datasets.read_ratings(tmp_path / "ten.data", n_categories=10).rating.tolist() == [10]


@pytest.mark.parametrize("bad_line, match", [
    ("5\t6\t3", "expected 4 fields .* got 3"),
    ("5\t6\t3\t881250949\textra", "expected 4 fields .* got 5"),
    ("5 6 3 881250949", "expected 4 fields .* got 1"),
    ("", "expected 4 fields .* got 1"),
    ("5\t6\t4.5\t881250949", "the rating '4.5' is not a non-negative integer"),
    ("5\tsix\t3\t881250949", "the item 'six' is not a non-negative integer"),
    ("-5\t6\t3\t881250949", "the user '-5' is not a non-negative integer"),
    ("5\t6\t3\t 881250949", "the timestamp ' 881250949' is not a non-negative integer"),
    ("5\t6\t3\t8812509491234567890", "the timestamp '8812509491234567890' is not a non-negative integer"),
    ("5\t6\t0\t881250949", "the rating 0 is outside 1..5"),
    ("5\t6\t6\t881250949", "the rating 6 is outside 1..5"),
    ("196\t242\t4\t881250949", "user 196 rated item 242 already on line 1"),
])
def test_read_ratings_names_the_file_and_line_of_a_bad_row(tmp_path, bad_line, match):
    lines = GOOD_RATINGS.splitlines()
    path = write_ratings(tmp_path / "u.data", lines[:3] + [bad_line] + lines[3:])
    with pytest.raises(ValueError, match=f"u.data', line 4: {match}"):
        datasets.read_ratings(path)


def test_read_ratings_refuses_empty_files_and_bad_arguments(tmp_path):
    (tmp_path / "empty.data").write_text("")
    with pytest.raises(ValueError, match="holds no ratings"):
        datasets.read_ratings(tmp_path / "empty.data")
    (tmp_path / "u.data").write_text(GOOD_RATINGS)
    with pytest.raises(ValueError, match="n_categories must be >= 2"):
        datasets.read_ratings(tmp_path / "u.data", n_categories=1)
    with pytest.raises(ValueError, match="delimiter"):
        datasets.read_ratings(tmp_path / "u.data", delimiter="")
    with pytest.raises(FileNotFoundError):
        datasets.read_ratings(tmp_path / "absent.data")


def many_users_ratings(n_users=2000, n_items=10):
    """Each user rates items 0..n_items-1 (ratings cycling through 1..5), users in a shuffled order."""
    user = np.repeat(np.arange(n_users), n_items)
    item = np.tile(np.arange(n_items), n_users)
    order = np.random.default_rng(0).permutation(len(user))
    return datasets.Ratings(user[order] * 3 + 1, item[order], (user[order] + item[order]) % 5 + 1)


def test_split_ratings_splits_each_user_80_20_seeded():
    counts = np.array([1, 2, 3, 4, 5, 7, 10, 12])
    user = np.repeat(np.arange(len(counts)) + 100, counts)
    item = np.concatenate([np.arange(n) for n in counts])
    ratings = datasets.Ratings(user, item, item % 5 + 1)
    train, test = datasets.split_ratings(ratings, test_fraction=0.2, seed=3)
    # floor(0.2 n + 0.5) of each user's n ratings are held out: 0, 0, 1, 1, 1, 1, 2, 2
    assert [int(np.sum(test.user == u)) for u in np.unique(user)] == [0, 0, 1, 1, 1, 1, 2, 2]
    together = sorted(zip(*train, strict=True)) + sorted(zip(*test, strict=True))
    assert sorted(together) == sorted(zip(*ratings, strict=True))  # a partition of the ratings, rows intact
    assert not set(zip(train.user, train.item)) & set(zip(test.user, test.item))
    again = datasets.split_ratings(ratings, test_fraction=0.2, seed=3)
    for part, same in zip((train, test), again):
        for array, array_again in zip(part, same):
            np.testing.assert_array_equal(array, array_again)


def test_split_ratings_draws_each_rating_alike():
    """2,000 users with 10 ratings each, 2 held out: each item is held out with probability 0.2."""
    ratings = many_users_ratings()
    _, test = datasets.split_ratings(ratings, test_fraction=0.2, seed=0)
    assert len(test.user) == 2000 * 2 and np.all(np.bincount(test.user)[1::3] == 2)
    # 2,000 Bernoulli(0.2) draws per item: within 5 standard errors, 5 sqrt(0.16 / 2000) = 0.045
    np.testing.assert_allclose(np.bincount(test.item, minlength=10) / 2000, 0.2, atol=0.045)
    _, other = datasets.split_ratings(ratings, test_fraction=0.2, seed=1)
    assert set(zip(test.user, test.item)) != set(zip(other.user, other.item))


def test_split_ratings_refuses_bad_input():
    ratings = datasets.Ratings(np.array([1, 1, 2]), np.array([1, 2, 1]), np.array([5, 4, 3]))
    for fraction in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="test_fraction"):
            datasets.split_ratings(ratings, test_fraction=fraction)
    with pytest.raises(ValueError, match="rated item 2 more than once"):
        datasets.split_ratings(datasets.Ratings(np.array([1, 1]), np.array([2, 2]), np.array([3, 4])))
    with pytest.raises(ValueError, match="rating must be in 1..5, got 6"):
        datasets.split_ratings(datasets.Ratings(np.array([1]), np.array([2]), np.array([6])))
    with pytest.raises(ValueError, match="same length"):
        datasets.split_ratings(datasets.Ratings(np.array([1, 2]), np.array([2]), np.array([3])))
    with pytest.raises(TypeError, match="integers"):
        datasets.split_ratings(datasets.Ratings(np.array([1.5]), np.array([2]), np.array([3])))
    with pytest.raises(TypeError, match="Ratings"):
        datasets.split_ratings(np.zeros((3, 3), dtype=int))


def test_ratings_to_one_hot_layout_and_ids():
    ratings = datasets.Ratings(np.array([30, 10, 30, 20]), np.array([7, 7, 5, 9]), np.array([2, 5, 1, 3]))
    encoded = datasets.ratings_to_one_hot(ratings, n_categories=5)
    np.testing.assert_array_equal(encoded.users, [10, 20, 30])
    np.testing.assert_array_equal(encoded.items, [5, 7, 9])
    expected = np.zeros((3, 15))
    for user, item, rating in [(10, 7, 5), (20, 9, 3), (30, 7, 2), (30, 5, 1)]:
        row, group = [10, 20, 30].index(user), [5, 7, 9].index(item)
        expected[row, 5 * group + rating - 1] = 1  # variable-major: item group j owns columns 5j..5j+4
    np.testing.assert_array_equal(encoded.data, expected)
    assert encoded.data.dtype == np.float64
    # named ids: users and items without ratings get all-zero rows and groups
    wider = datasets.ratings_to_one_hot(ratings, 5, users=[10, 20, 30, 40], items=[1, 5, 7, 9], dtype="float32")
    assert wider.data.shape == (4, 20) and wider.data.dtype == np.float32
    np.testing.assert_array_equal(wider.data[:3, 5:], expected)
    assert not wider.data[3].any() and not wider.data[:, :5].any()


def test_ratings_to_one_hot_refuses_bad_input():
    ratings = datasets.Ratings(np.array([1, 2]), np.array([3, 3]), np.array([1, 2]))
    with pytest.raises(ValueError, match="user 2 is not among the 1 ids of users"):
        datasets.ratings_to_one_hot(ratings, users=[1])
    with pytest.raises(ValueError, match="item 3 is not among"):
        datasets.ratings_to_one_hot(ratings, items=[1, 2, 4])
    with pytest.raises(ValueError, match="strictly increasing"):
        datasets.ratings_to_one_hot(ratings, users=[2, 1])
    with pytest.raises(ValueError, match="rating must be in 1..2, got 3"):
        datasets.ratings_to_one_hot(datasets.Ratings(np.array([1]), np.array([3]), np.array([3])), n_categories=2)
    with pytest.raises(ValueError, match="more than once"):
        datasets.ratings_to_one_hot(datasets.Ratings(np.array([1, 1]), np.array([3, 3]), np.array([1, 2])))
    with pytest.raises(ValueError, match="empty"):
        datasets.ratings_to_one_hot(datasets.Ratings(np.array([], int), np.array([], int), np.array([], int)))


def test_synthetic_ratings_shape_range_and_seed():
    ratings = datasets.synthetic_ratings(n_users=400, n_items=50, density=0.2, seed=5)
    assert set(np.unique(ratings.user)) <= set(range(1, 401)) and set(np.unique(ratings.item)) <= set(range(1, 51))
    assert ratings.rating.min() == 1 and ratings.rating.max() == 5
    assert len(set(zip(ratings.user, ratings.item))) == len(ratings.user)
    assert np.all(np.diff(ratings.user) >= 0)  # ordered by user
    # 20,000 Bernoulli(0.2) observations: within 5 standard errors, 5 sqrt(20000 * 0.2 * 0.8) = 283
    assert abs(len(ratings.user) - 4000) < 283
    # each rating's share among the ~4,000 observed: within 5 standard errors, 5 sqrt(0.25 / 4000) < 0.04
    shares = np.bincount(ratings.rating, minlength=6)[1:] / len(ratings.rating)
    np.testing.assert_allclose(shares, datasets.MOVIELENS_100K_RATING_SHARES, atol=0.04)
    again = datasets.synthetic_ratings(n_users=400, n_items=50, density=0.2, seed=5)
    other = datasets.synthetic_ratings(n_users=400, n_items=50, density=0.2, seed=6)
    for array, same in zip(ratings, again):
        np.testing.assert_array_equal(array, same)
    assert len(other.user) != len(ratings.user) or np.any(other.rating != ratings.rating)
    default = datasets.synthetic_ratings(seed=0)  # the documented default size: 1,000 x 200, density 0.15
    assert default.user.max() <= 1000 and default.item.max() <= 200
    assert abs(len(default.user) - 30000) < 5 * np.sqrt(200000 * 0.15 * 0.85)
    three = datasets.synthetic_ratings(n_users=50, n_items=10, rating_shares=(1, 1, 1), density=1.0, seed=0)
    assert np.bincount(three.rating).tolist() == [0, 167, 166, 167]  # the full matrix is cut at its quantiles


def item_orders_agree_up_to_reversal(matrix):
    """Whether every two users order every two items alike or exactly reversed (ties allowed)."""
    signs = np.sign(matrix[:, :, None] - matrix[:, None, :])  # (user, item a, item b)
    products = signs[:, None] * signs[None, :]  # (user, user, a, b)
    return bool(np.all((products >= 0).all(axis=(2, 3)) | (products <= 0).all(axis=(2, 3))))


def test_synthetic_ratings_come_from_a_low_rank_score():
    """Rank 1, no biases, no noise: s_ui = x_u y_i, so all users rank items by y (reversed where x_u < 0)."""
    def full_matrix(**settings):
        ratings = datasets.synthetic_ratings(n_users=40, n_items=25, n_factors=1, bias_std=0.0, density=1.0,
                                             seed=2, **settings)
        return ratings.rating.reshape(40, 25)  # density 1: every pair, ordered by user then item

    assert item_orders_agree_up_to_reversal(full_matrix(noise=0.0))
    assert not item_orders_agree_up_to_reversal(full_matrix(noise=0.5))  # the check can fail


def test_synthetic_ratings_refuses_bad_settings():
    with pytest.raises(ValueError, match="density"):
        datasets.synthetic_ratings(density=0.0)
    with pytest.raises(ValueError, match="n_users"):
        datasets.synthetic_ratings(n_users=0)
    with pytest.raises(ValueError, match="rating_shares"):
        datasets.synthetic_ratings(rating_shares=(1.0, -1.0, 2.0))
    with pytest.raises(ValueError, match="noise"):
        datasets.synthetic_ratings(noise=-1.0)
