"""The MNIST example end to end, on a small subset, as a user runs it."""
import gzip
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from rbm import RBM

from .conftest import SHARED_MNIST

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "mnist_rbm.py")
SMALL_RUN = ["--subset", "100", "--epochs", "2", "--k", "1", "--n-hidden", "16", "--n-chains", "3",
             "--n-samples", "2", "--plot-every", "3", "--batch-size", "10"]


def synthetic_mnist_pkl(folder):
    """A tiny stand-in for the tutorial's mnist.pkl.gz: blurry strokes in [0, 1]."""
    rng = np.random.default_rng(0)
    splits = []
    for n in (120, 20, 30):
        X = np.zeros((n, 28, 28), dtype=np.float32)
        for image, column in zip(X, rng.integers(4, 24, n)):
            image[4:24, column:column + 3] = rng.uniform(0.5, 1.0)
        splits.append((X.reshape(n, 784), rng.integers(0, 10, n)))
    with gzip.open(folder / "mnist.pkl.gz", "wb") as stream:
        pickle.dump(tuple(splits), stream)
    return folder


def run_example(data_dir, out, *extra):
    command = [sys.executable, EXAMPLE, "--data-dir", str(data_dir), "--out", str(out), *SMALL_RUN, *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def check_outputs(result, out):
    assert result.returncode == 0, result.stderr
    assert "epoch 0: cost" in result.stdout + result.stderr and "epoch 1: cost" in result.stdout + result.stderr
    for name in ("filters_at_epoch_0.png", "filters_at_epoch_1.png", "samples.png"):
        image = np.asarray(Image.open(out / name))
        assert image.ndim == 2 and image.std() > 0, name
    assert np.asarray(Image.open(out / "samples.png")).shape == (2 * 29 - 1, 3 * 29 - 1)
    model = RBM.load(out / "model.npz")
    assert (model.n_visible, model.n_hidden) == (784, 16)


@pytest.mark.slow  # an end-to-end run: make test-slow (and .ci/run) runs it
def test_example_on_synthetic_data(tmp_path):
    data = synthetic_mnist_pkl(tmp_path)
    result = run_example(data, tmp_path / "out")
    check_outputs(result, tmp_path / "out")


@pytest.mark.slow  # an end-to-end run: make test-slow (and .ci/run) runs it
@pytest.mark.skipif(not os.path.isdir(SHARED_MNIST), reason="the shared MNIST folder is not on this machine")
def test_example_on_real_mnist(tmp_path):
    result = run_example(SHARED_MNIST, tmp_path / "out", "--cd")
    check_outputs(result, tmp_path / "out")
    assert "CD-1" in result.stdout


@pytest.mark.slow  # an end-to-end run: make test-slow (and .ci/run) runs it
def test_example_reports_log_likelihood_with_ais(tmp_path):
    data = synthetic_mnist_pkl(tmp_path)
    result = run_example(data, tmp_path / "out", "--ais", "--ais-runs", "20", "--ais-betas", "300")
    assert result.returncode == 0, result.stderr
    assert "AIS: log Z =" in result.stdout and "20 runs, 300 temperatures" in result.stdout
    line = next(text for text in result.stdout.splitlines() if text.startswith("average log-likelihood"))
    train, test = (float(part.split()[-2]) for part in line.split(":")[1].split(","))
    assert -784 * np.log(2) < test < 0 and -784 * np.log(2) < train < 0


def test_example_reports_a_missing_data_folder_clearly(tmp_path):
    result = run_example(tmp_path / "absent", tmp_path / "out")
    assert result.returncode != 0
    assert "is not a folder" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow  # an end-to-end run: make test-slow (and .ci/run) runs it
def test_dbn_example_pretrains_finetunes_and_reports(tmp_path):
    """examples/mnist_dbn.py end to end on the synthetic digits, shrunk by its flags."""
    data_dir = synthetic_mnist_pkl(tmp_path)
    example = os.path.join(os.path.dirname(__file__), "..", "examples", "mnist_dbn.py")
    command = [sys.executable, example, "--data-dir", str(data_dir), "--out", str(tmp_path), "--hidden", "12", "8",
               "--pretraining-epochs", "1", "--training-epochs", "2", "--no-progress", "--mode", "NUMBA"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Pre-training layer") == 2
    assert "best validation error" in result.stdout and "test error" in result.stdout
    import json

    with open(tmp_path / "dbn.json", encoding="utf-8") as stream:
        report = json.load(stream)
    assert [r["epoch"] for r in report["history"] if r["stage"] == "finetuning"] == [0, 1]
    assert 0 <= report["test_error"] <= 1
    assert "DeprecationWarning" not in result.stderr  # the example speaks the current API


@pytest.mark.slow  # an end-to-end run: make test-slow (and .ci/run) runs it
def test_patches_example_writes_filters_and_curve(tmp_path):
    example = os.path.join(os.path.dirname(__file__), "..", "examples", "patches_grbm.py")
    command = [sys.executable, example, "--out", str(tmp_path), "--patches", "600", "--epochs", "2",
               "--n-hidden", "9", "--batch-size", "50", "--mode", "NUMBA"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    for name in ("grbm_filters.png", "grbm_reconstruction.png"):
        with Image.open(tmp_path / name) as image:
            assert image.size[0] > 20


@pytest.mark.slow  # an end-to-end run: make test-slow (and .ci/run) runs it
def test_likelihood_preset_trains_centered_tracks_and_brackets(tmp_path):
    """--preset likelihood, shrunk by flags: centered PCD, tracking AIS, AIS and RAISE bracket, the curves PNG."""
    data = synthetic_mnist_pkl(tmp_path)
    out = tmp_path / "out"
    result = run_example(data, out, "--preset", "likelihood", "--persistent-chains", "7", "--track-every", "1",
                         "--filters-every", "1",
                         "--ais-runs", "20", "--ais-betas", "300", "--raise-rows", "6", "--raise-betas", "200",
                         "--mode", "NUMBA")
    check_outputs(result, out)
    assert "centered PCD-1" in result.stdout and "7 chains" in result.stdout and "binarised stochastic" in result.stdout
    assert "weight decay 0.0005, averaged over 10 last epochs" in result.stdout
    line = next(text for text in result.stdout.splitlines() if text.startswith("test log-likelihood bracket"))
    low, high = float(line.split(":")[1].split()[0]), float(line.split("..")[1].split()[0])
    test = float(next(text for text in result.stdout.splitlines()
                      if text.startswith("average log-likelihood")).split("test")[1].split()[0])
    assert high == test and np.isfinite(low)
    assert "epoch 1: test log-likelihood" in result.stdout
    with Image.open(out / "training_curves.png") as image:
        assert image.size[0] > 100 and image.size[1] > 300  # three panels


@pytest.mark.slow  # an end-to-end run: make test-slow (and .ci/run) runs it
def test_tempering_takes_inverse_temperatures_and_validation_rows_may_train(tmp_path):
    data = synthetic_mnist_pkl(tmp_path)
    out = tmp_path / "out"
    result = run_example(data, out, "--tempering", "0.5,0.75,1", "--train-on-validation", "--mode", "NUMBA")
    check_outputs(result, out)
    assert "MNIST: 120 training rows, PT-1" in result.stdout  # the subset's 100 and the 20 validation digits
    assert "swap rates" in result.stdout and "free-energy gap" not in result.stdout
    bad = run_example(data, tmp_path / "bad", "--tempering", "0.5,x")
    assert bad.returncode == 2 and "comma-separated inverse temperatures" in bad.stderr


@pytest.mark.slow  # an end-to-end run: make test-slow (and .ci/run) runs it
def test_filters_every_writes_every_nth_epoch_and_the_last(tmp_path):
    data = synthetic_mnist_pkl(tmp_path)
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, EXAMPLE, "--data-dir", str(data), "--out", str(out), "--subset", "40",
                             "--epochs", "5", "--k", "1", "--n-hidden", "4", "--batch-size", "10", "--n-chains", "2",
                             "--n-samples", "1", "--plot-every", "1", "--filters-every", "2", "--mode", "NUMBA"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.glob("filters_at_epoch_*.png")) == [
        "filters_at_epoch_1.png", "filters_at_epoch_3.png", "filters_at_epoch_4.png"]
