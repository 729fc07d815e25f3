"""Model files: exact round trip, no pickle, clear errors on damaged files, atomic writes."""
import os

import numpy as np
import pytest

from rbm import RBM
from rbm.persistence import FORMAT_VERSION


def make_model(dtype="float64"):
    rng = np.random.default_rng(0)
    return RBM(n_visible=6, n_hidden=4, W=rng.normal(size=(6, 4)), hbias=rng.normal(size=4),
               vbias=rng.normal(size=6), dtype=dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_is_exact(tmp_path, dtype):
    model = make_model(dtype)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = RBM.load(path)
    assert (loaded.n_visible, loaded.n_hidden, loaded.dtype) == (6, 4, dtype)
    for name, value in model.get_params().items():
        np.testing.assert_array_equal(loaded.get_params()[name], value)
    with np.load(path, allow_pickle=False) as archive:
        assert int(archive["format_version"]) == FORMAT_VERSION
    assert os.listdir(tmp_path) == ["model.npz"]  # no temporary file left behind


def rewrite(path, **changes):
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays.update(changes)
    for name in [n for n, v in changes.items() if v is None]:
        del arrays[name]
    np.savez(path, **arrays)


@pytest.mark.parametrize("damage, match", [
    (lambda p: p.write_bytes(p.read_bytes()[:200]), "truncated or corrupted"),
    (lambda p: p.write_bytes(b"not a zip file at all"), "truncated or corrupted"),
    (lambda p: rewrite(p, format_version=np.int64(99)), "format version 99"),
    (lambda p: rewrite(p, W=np.zeros((5, 4))), "W has shape"),
    (lambda p: rewrite(p, vbias=np.full(6, np.nan)), "NaN"),
    (lambda p: rewrite(p, hbias=None), "lacks the entry"),
    (lambda p: rewrite(p, kind=np.str_("something else")), "not a 'rbm.RBM'"),
    (lambda p: np.savez(p, W=np.array([object()], dtype=object)), "truncated or corrupted|not an rbm file"),
])
def test_damaged_files_raise_clear_errors(tmp_path, damage, match):
    path = tmp_path / "model.npz"
    make_model().save(path)
    damage(path)
    with pytest.raises(ValueError, match=match):
        RBM.load(path)


def test_failed_save_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    make_model().save(path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        RBM(n_visible=2, n_hidden=2).save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]


def test_bad_paths_are_refused(tmp_path):
    with pytest.raises(ValueError, match=".npz"):
        make_model().save(tmp_path / "model.pkl")
    with pytest.raises(FileNotFoundError):
        make_model().save(tmp_path / "missing" / "model.npz")
    with pytest.raises(FileNotFoundError):
        RBM.load(tmp_path / "absent.npz")


def test_saved_files_get_the_permissions_of_any_new_file(tmp_path):
    """mkstemp creates files readable by their owner alone; a saved model must follow the umask instead."""
    umask = os.umask(0o022)
    try:
        make_model().save(tmp_path / "model.npz")
    finally:
        os.umask(umask)
    assert (tmp_path / "model.npz").stat().st_mode & 0o777 == 0o644
