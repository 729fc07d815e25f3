"""Every public entry point meets bad input with a clear error and changes no state."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import rbm
from rbm import backend, datasets, evaluation, images


@pytest.fixture(scope="module")
def model():
    return rbm.RBM(n_visible=9, n_hidden=4, seed=0, dtype="float64")


@pytest.fixture(scope="module")
def trainer(model):
    return rbm.Trainer(model, batch_size=5, seed=0)


def snapshot(model, trainer):
    """Everything the calls below could wrongly change."""
    params = {name: value.copy() for name, value in model.get_params().items()}
    return (params, model.rng.get_value().bit_generator.state, int(model.bit_i_idx.get_value()),
            len(trainer.history), trainer.persistent_chain.get_value().copy())


def assert_unchanged(before, after):
    for name in before[0]:
        np.testing.assert_array_equal(before[0][name], after[0][name])
    assert before[1:4] == after[1:4]
    np.testing.assert_array_equal(before[4], after[4])


GOOD = np.ones((10, 9)) * 0.5

CASES = {
    # model constructor
    "RBM: zero visible units": (lambda m, t, d: rbm.RBM(n_visible=0), ValueError, "n_visible"),
    "RBM: float n_hidden": (lambda m, t, d: rbm.RBM(n_hidden=3.0), TypeError, "n_hidden"),
    "RBM: W wrong shape": (lambda m, t, d: rbm.RBM(n_visible=3, n_hidden=2, W=np.ones((2, 3))), ValueError, "shape"),
    "RBM: W with inf": (lambda m, t, d: rbm.RBM(n_visible=1, n_hidden=1, W=[[np.inf]]), ValueError, "NaN or inf"),
    "RBM: W of strings": (lambda m, t, d: rbm.RBM(n_visible=1, n_hidden=1, W=[["a"]]), TypeError, "real numbers"),
    "RBM: int16 dtype": (lambda m, t, d: rbm.RBM(dtype="int16"), ValueError, "dtype"),
    "RBM.from_data: NaN": (lambda m, t, d: rbm.RBM.from_data(np.full((3, 4), np.nan)), ValueError, "NaN"),
    "RBM.from_data: weight_std 0": (lambda m, t, d: rbm.RBM.from_data(GOOD, weight_std=0), ValueError, "weight_std"),
    # graphs and parameters
    "get_cost_updates: k=0": (lambda m, t, d: m.get_cost_updates(k=0), ValueError, "k must"),
    "get_cost_updates: lr=-1": (lambda m, t, d: m.get_cost_updates(lr=-1), ValueError, "lr"),
    "set_params: wrong shape": (lambda m, t, d: m.set_params(W=np.ones((4, 9))), ValueError, "W must have shape"),
    "set_params: NaN bias": (lambda m, t, d: m.set_params(hbias=np.full(4, np.nan)), ValueError, "NaN"),
    "gibbs_chain: bad step": (lambda m, t, d: m.gibbs_chain(m.input, 2, "vvv"), ValueError, "step"),
    # trainer
    "Trainer: not a model": (lambda m, t, d: rbm.Trainer(object()), TypeError, "rbm.RBM"),
    "Trainer: lr 0": (lambda m, t, d: rbm.Trainer(m, learning_rate=0), ValueError, "learning_rate"),
    "Trainer: lr NaN": (lambda m, t, d: rbm.Trainer(m, learning_rate=float("nan")), ValueError, "finite"),
    "Trainer: negative momentum": (lambda m, t, d: rbm.Trainer(m, momentum=-0.1), ValueError, "momentum"),
    "Trainer: batch 0": (lambda m, t, d: rbm.Trainer(m, batch_size=0), ValueError, "batch_size"),
    "Trainer: batches_per_call 0": (lambda m, t, d: rbm.Trainer(m, batches_per_call=0), ValueError,
                                    "batches_per_call"),
    "Trainer: batches_per_call 2.5": (lambda m, t, d: rbm.Trainer(m, batches_per_call=2.5), TypeError,
                                      "batches_per_call"),
    "Trainer: mode pytorch": (lambda m, t, d: rbm.Trainer(m, mode="PYTORCH"), ValueError, "mode"),
    "fit: 3-D data": (lambda m, t, d: t.fit(np.ones((2, 5, 9))), ValueError, "2-D"),
    "fit: wrong width": (lambda m, t, d: t.fit(np.ones((10, 8))), ValueError, "columns"),
    "fit: NaN": (lambda m, t, d: t.fit(np.where(np.eye(10, 9) > 0, np.nan, 0.5)), ValueError, "NaN"),
    "fit: above 1": (lambda m, t, d: t.fit(GOOD + 0.6), ValueError, r"\[0, 1\]"),
    "fit: empty": (lambda m, t, d: t.fit(np.ones((0, 9))), ValueError, "empty"),
    "fit: strings": (lambda m, t, d: t.fit(np.full((10, 9), "x")), TypeError, "real numbers"),
    "fit: None": (lambda m, t, d: t.fit(None), TypeError, "numeric array"),
    "fit: too few rows": (lambda m, t, d: t.fit(GOOD[:4]), ValueError, "batch_size"),
    "fit: epochs 0": (lambda m, t, d: t.fit(GOOD, epochs=0), ValueError, "epochs"),
    "fit: bad valid": (lambda m, t, d: t.fit(GOOD, valid=np.ones((2, 3))), ValueError, "valid"),
    "fit: resume missing": (lambda m, t, d: t.fit(GOOD, resume=d / "none.npz"), FileNotFoundError, "exist"),
    "fit: checkpoint folder missing": (lambda m, t, d: t.fit(GOOD, checkpoint=d / "x" / "c.npz"),
                                       FileNotFoundError, "folder"),
    # sampling
    "sample_chains: wrong width": (lambda m, t, d: rbm.sample_chains(m, np.ones((2, 3))), ValueError, "columns"),
    "sample_chains: n_samples 0": (lambda m, t, d: rbm.sample_chains(m, GOOD, n_samples=0), ValueError, "n_samples"),
    # files
    "save: not .npz": (lambda m, t, d: m.save(d / "model.txt"), ValueError, ".npz"),
    "load: missing": (lambda m, t, d: rbm.RBM.load(d / "missing.npz"), FileNotFoundError, "missing.npz"),
    "load: not a zip": (lambda m, t, d: (d / "bad.npz").write_bytes(b"x") and rbm.RBM.load(d / "bad.npz"),
                        ValueError, "corrupted"),
    "load_mnist: missing folder": (lambda m, t, d: datasets.load_mnist(d / "nowhere"), FileNotFoundError, "folder"),
    "load_mnist: bad binarize": (lambda m, t, d: datasets.load_mnist(binarize_method="x"), ValueError, "binarize"),
    "read_idx: not gzip": (lambda m, t, d: (d / "x.gz").write_bytes(b"nope") and datasets.read_idx(d / "x.gz"),
                           ValueError, "could not be read"),
    "binarize: bad method": (lambda m, t, d: datasets.binarize(GOOD, "coin"), ValueError, "binarize"),
    # images
    "tile: wrong image size": (lambda m, t, d: images.tile_raster_images(GOOD, (2, 2), (1, 1)), ValueError, "needs 4"),
    "tile: NaN": (lambda m, t, d: images.tile_raster_images(np.full((1, 4), np.nan), (2, 2), (1, 1)),
                  ValueError, "NaN"),
    "save_image: float array": (lambda m, t, d: images.save_image(GOOD, d / "x.png"), ValueError, "uint8"),
    # evaluation
    "exact log Z: too big": (lambda m, t, d: evaluation.exact_log_partition(rbm.RBM(n_visible=40, n_hidden=30)),
                             ValueError, "limit"),
    "AIS: one run": (lambda m, t, d: evaluation.ais_log_partition(m, n_runs=1), ValueError, "n_runs"),
    "AIS: betas not ending at 1": (lambda m, t, d: evaluation.ais_log_partition(m, betas=[0, 0.5]),
                                   ValueError, "betas"),
    "AIS: base rate width": (lambda m, t, d: evaluation.ais_log_partition(m, base_rate=np.ones((2, 2))),
                             ValueError, "columns"),
    "log-likelihood: inf log Z": (lambda m, t, d: evaluation.mean_log_likelihood(m, GOOD, np.inf),
                                  ValueError, "finite"),
    "log-likelihood: not a model": (lambda m, t, d: evaluation.mean_log_likelihood("m", GOOD, 0.0),
                                    TypeError, "rbm.RBM"),
    # backend
    "mode: unknown": (lambda m, t, d: backend.resolve_mode("warp"), ValueError, "unknown mode"),
    "floatX: float16": (lambda m, t, d: backend.set_floatx("float16"), ValueError, "floatX"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_raises_clear_error_and_changes_nothing(name, model, trainer, tmp_path):
    call, error, match = CASES[name]
    before = snapshot(model, trainer)
    files_before = {p.name for p in tmp_path.iterdir()}
    with pytest.raises(error, match=match):
        call(model, trainer, tmp_path)
    assert_unchanged(before, snapshot(model, trainer))
    created = {p.name for p in tmp_path.iterdir()} - files_before - {"bad.npz", "x.gz"}  # the cases' own inputs
    assert not created, f"{name} left files behind: {created}"
    assert backend.get_floatx() == "float32"


finite_or_not = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                          st.floats(min_value=0, max_value=1))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=hnp.arrays(np.float64, (10, 9), elements=finite_or_not))
def test_fit_accepts_exactly_finite_data_in_unit_interval(model, trainer, data):
    valid = bool(np.all(np.isfinite(data)) and data.min() >= 0 and data.max() <= 1)
    before = snapshot(model, trainer)
    if valid:
        trainer.fit(data, epochs=1, verbose=False)
        assert np.all(np.isfinite(model.W.get_value()))
    else:
        with pytest.raises(ValueError, match=r"NaN|\[0, 1\]"):
            trainer.fit(data, epochs=1, verbose=False)
        assert_unchanged(before, snapshot(model, trainer))


@settings(max_examples=40, deadline=None)
@given(value=st.one_of(st.integers(-5, 5), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                       st.text(max_size=3), st.none()))
def test_hyper_parameters_are_checked(value):
    model = rbm.RBM(n_visible=3, n_hidden=2)
    ok_lr = (isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value) and value > 0)
    if ok_lr:
        assert rbm.Trainer(model, learning_rate=value).learning_rate == float(value)
    else:
        with pytest.raises((ValueError, TypeError), match="learning_rate"):
            rbm.Trainer(model, learning_rate=value)
