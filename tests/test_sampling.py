"""Persistent sampling chains: shapes, ranges, reproducibility, exactness on a deterministic model."""
import numpy as np
import pytest

from rbm import RBM, sample_chains


def test_shapes_range_and_reproducibility():
    model = RBM(n_visible=9, n_hidden=4, seed=0, dtype="float64")
    start = np.eye(9)[:3]
    first = sample_chains(model, start, n_samples=4, plot_every=5, seed=7)
    again = sample_chains(model, start, n_samples=4, plot_every=5, seed=7)
    other = sample_chains(model, start, n_samples=4, plot_every=5, seed=8)
    assert first.shape == (4, 3, 9)
    assert np.all((first > 0) & (first < 1))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_sampling_leaves_the_training_generator_alone():
    model = RBM(n_visible=9, n_hidden=4, seed=0)
    state = model.rng.get_value().bit_generator.state
    sample_chains(model, np.ones((2, 9)), n_samples=2, plot_every=3, seed=1)
    assert model.rng.get_value().bit_generator.state == state


def test_means_follow_a_deterministic_chain():
    """Saturated weights copy v through h and back, so every kept mean is sigmoid(+-big) of the start."""
    W = 40.0 * np.eye(3)
    model = RBM(n_visible=3, n_hidden=3, W=W, hbias=np.full(3, -20.0), vbias=np.full(3, -20.0), dtype="float64")
    start = np.array([[1.0, 0.0, 1.0]])
    means = sample_chains(model, start, n_samples=3, plot_every=2, seed=0)
    for kept in means:
        np.testing.assert_allclose(kept[0], 1 / (1 + np.exp(-(start[0] * 40 - 20))))


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(start=np.ones((2, 4))), ValueError, "4 columns but the model has 9"),
    (dict(start=np.full((2, 9), 3.0)), ValueError, r"\[0, 1\]"),
    (dict(n_samples=0), ValueError, "n_samples"),
    (dict(plot_every=0), ValueError, "plot_every"),
    (dict(mode="quantum"), ValueError, "unknown mode"),
])
def test_bad_arguments_are_refused(kwargs, error, match):
    arguments = {"start": np.ones((2, 9)), **kwargs}
    with pytest.raises(error, match=match):
        sample_chains(RBM(n_visible=9, n_hidden=2), **arguments)
