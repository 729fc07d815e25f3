"""Every round trip keeps the whole model: files, get_params / set_params, checkpoints.

The property test builds models of every kind and setting, trains them, sends
them through each round trip and checks that training continues *bit for bit*
as it would have without the trip. The other tests pin the cases a property
test would find only by luck (learnt sigma, version 1 files and checkpoints).
"""
import json
import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rbm import RBM, GaussianBernoulliRBM, Trainer
from rbm.persistence import FORMAT_VERSION

N_VISIBLE, N_HIDDEN, BATCH = 5, 3, 4
BINARY_DATA = (np.random.default_rng(11).random((12, N_VISIBLE)) < 0.4).astype(float)
REAL_DATA = np.random.default_rng(12).normal(size=(12, N_VISIBLE))


def build_model(kind, dtype, init_seed):
    """A fresh model of ``kind``; ``init_seed`` picks its initial weights (and, for Gaussians, sigma)."""
    rng = np.random.default_rng(init_seed)
    if kind == "rbm":
        return RBM(n_visible=N_VISIBLE, n_hidden=N_HIDDEN, numpy_rng=rng, seed=init_seed, dtype=dtype)
    return GaussianBernoulliRBM(n_visible=N_VISIBLE, n_hidden=N_HIDDEN, numpy_rng=rng, seed=init_seed,
                                sigma=rng.uniform(0.5, 2.0, N_VISIBLE), learn_sigma=kind == "grbm learnt sigma",
                                dtype=dtype)


@st.composite
def training_setups(draw):
    """A model kind and the Trainer settings that apply to it."""
    kind = draw(st.sampled_from(["rbm", "grbm fixed sigma", "grbm learnt sigma"]))
    binary = kind == "rbm"
    persistent = draw(st.booleans())
    setup = dict(kind=kind, dtype=draw(st.sampled_from(["float32", "float64"])),
                 mode=draw(st.sampled_from(["cpu", "NUMBA"])),
                 trainer=dict(persistent=persistent, k=draw(st.integers(1, 2)),
                              learning_rate=0.05, momentum=draw(st.sampled_from([0.0, 0.5])),
                              weight_decay=draw(st.sampled_from([0.0, 1e-3])), batch_size=BATCH))
    if persistent:
        setup["trainer"]["n_chains"] = draw(st.sampled_from([None, 3]))
    if binary:
        setup["trainer"]["centering"] = draw(st.booleans())
        if persistent:
            setup["trainer"]["tempering"] = draw(st.sampled_from([None, 3]))
    return setup


def assert_same_arrays(got, want):
    assert set(got) == set(want)
    for name in want:
        assert got[name].dtype == want[name].dtype, name
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def trainer_state(trainer):
    """Every array the training step carries besides the model's: velocities, chains, offsets."""
    state = {v.name: np.asarray(v.get_value()) for v in trainer.velocities}
    if trainer.persistent_chain is not None:
        state["persistent_chain"] = np.asarray(trainer.persistent_chain.get_value())
    if trainer.centering:
        state["offsets"] = np.concatenate([np.asarray(trainer.visible_offset.get_value()),
                                           np.asarray(trainer.hidden_offset.get_value())])
    if trainer.tempering is not None:
        state.update({name: np.asarray(v.get_value()) for name, v in trainer.tempering.state_variables.items()})
    return state


ONE_OF_EACH_KIND = [
    dict(kind="rbm", dtype="float32", mode="cpu",
         trainer=dict(persistent=True, k=1, learning_rate=0.05, momentum=0.5, weight_decay=1e-3, batch_size=BATCH,
                      n_chains=3, centering=True, tempering=3)),
    dict(kind="grbm learnt sigma", dtype="float64", mode="NUMBA",
         trainer=dict(persistent=True, k=2, learning_rate=0.05, momentum=0.5, weight_decay=0.0, batch_size=BATCH,
                      n_chains=None)),
    dict(kind="grbm fixed sigma", dtype="float32", mode="cpu",
         trainer=dict(persistent=False, k=1, learning_rate=0.05, momentum=0.0, weight_decay=1e-3, batch_size=BATCH)),
]


@pytest.mark.slow  # an end-to-end run: make test-slow (and .ci/run) runs it
@settings(max_examples=2, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(setup=training_setups())
@example(setup=ONE_OF_EACH_KIND[0])
@example(setup=ONE_OF_EACH_KIND[1])
@example(setup=ONE_OF_EACH_KIND[2])
def test_every_round_trip_continues_training_bit_for_bit(tmp_path_factory, setup):
    folder = tmp_path_factory.mktemp("trip")
    kind, dtype, mode = setup["kind"], setup["dtype"], setup["mode"]
    data = BINARY_DATA if kind == "rbm" else REAL_DATA
    settings_ = dict(setup["trainer"], mode=mode)

    # The uninterrupted run: two epochs; after the first, its checkpoint is kept aside.
    checkpoint, after_first_epoch = folder / "run.npz", folder / "epoch1.npz"

    def keep_first_checkpoint(trainer, record):
        if record["epoch"] == 0:
            shutil.copy(checkpoint, after_first_epoch)
        return False

    straight = Trainer(build_model(kind, dtype, 0), seed=1, **settings_)
    straight.fit(data, epochs=2, checkpoint=checkpoint, callbacks=keep_first_checkpoint, verbose=False)

    # Checkpoint: a fresh model of the same kind (other initial weights) resumes to the same end.
    resumed = Trainer(build_model(kind, dtype, 99), seed=2, **settings_)
    resumed.fit(data, epochs=2, resume=after_first_epoch, verbose=False)
    assert_same_arrays(resumed.model.get_params(), straight.model.get_params())
    assert_same_arrays(trainer_state(resumed), trainer_state(straight))
    assert resumed.model.get_settings() == straight.model.get_settings()

    # Model file and get_params / set_params: the same kind, dtype, settings and arrays bit for bit, which is
    # all a new Trainer reads (test_a_loaded_model_trains_as_the_saved_one trains both to show it; here it
    # would cost two more compilations per example).
    model = straight.model
    model.save(folder / "model.npz")
    loaded = type(model).load(folder / "model.npz")
    copied = build_model(kind, dtype, 7)
    copied.set_params(**model.get_params())
    for other in (loaded, copied):
        assert type(other) is type(model) and other.dtype == model.dtype
        assert other.get_settings() == model.get_settings()
        assert [p.name for p in other.params] == [p.name for p in model.params]
        assert_same_arrays(other.get_params(), model.get_params())


@pytest.mark.parametrize("kind", ["grbm learnt sigma", "rbm"])
def test_a_loaded_model_trains_as_the_saved_one(tmp_path, kind):
    """The issue's case: a learnt-sigma model saved and loaded must keep learning sigma, bit for bit."""
    data = BINARY_DATA if kind == "rbm" else REAL_DATA
    settings_ = dict(batch_size=BATCH, mode="FAST_COMPILE", seed=5, momentum=0.5)
    model = build_model(kind, "float32", 0)
    Trainer(model, **settings_).fit(data, epochs=1, verbose=False)
    model.save(tmp_path / "m.npz")
    loaded = type(model).load(tmp_path / "m.npz")
    Trainer(loaded, **settings_).fit(data, epochs=1, verbose=False)
    sigma_before = model.get_params().get("log_sigma")
    Trainer(model, **settings_).fit(data, epochs=1, verbose=False)
    assert_same_arrays(loaded.get_params(), model.get_params())
    if kind != "rbm":
        assert not np.array_equal(model.get_params()["log_sigma"], sigma_before)  # sigma was learnt


@pytest.mark.parametrize("learn_sigma", [True, False])
def test_gaussian_file_keeps_learn_sigma_and_exact_sigma(tmp_path, learn_sigma):
    model = build_model("grbm learnt sigma" if learn_sigma else "grbm fixed sigma", "float32", 3)
    model.set_params(log_sigma=np.array([0.1234567, -0.3, 1e-3, 0.7, -1.1], dtype=np.float32))
    model.save(tmp_path / "g.npz")
    loaded = GaussianBernoulliRBM.load(tmp_path / "g.npz")
    assert loaded.learn_sigma is learn_sigma
    assert (loaded.log_sigma in loaded.params) is learn_sigma  # so a trainer moves sigma, or not
    assert_same_arrays(loaded.get_params(), model.get_params())
    with np.load(tmp_path / "g.npz") as archive:  # sigma stays readable in the file
        np.testing.assert_allclose(archive["sigma"], np.exp(archive["log_sigma"].astype(np.float64)), rtol=1e-6)
        assert json.loads(str(archive["settings"])) == {"learn_sigma": learn_sigma}


def test_set_params_takes_get_params_of_every_kind():
    for kind in ("rbm", "grbm fixed sigma", "grbm learnt sigma"):
        model = build_model(kind, "float64", 4)
        params = model.get_params()
        model.set_params(**params)
        assert_same_arrays(model.get_params(), params)
    gaussian = build_model("grbm fixed sigma", "float64", 4)
    assert "log_sigma" in gaussian.get_params()  # a fixed sigma is still part of the model's parameters
    gaussian.set_params(sigma=np.full(N_VISIBLE, 2.0))
    np.testing.assert_allclose(gaussian.get_sigma(), 2.0)
    with pytest.raises(TypeError, match="sigma or log_sigma"):
        gaussian.set_params(sigma=np.ones(N_VISIBLE), log_sigma=np.zeros(N_VISIBLE))
    with pytest.raises(ValueError, match="sigma must be > 0"):
        gaussian.set_params(sigma=-np.ones(N_VISIBLE))
    np.testing.assert_allclose(gaussian.get_sigma(), 2.0)  # refused: nothing changed


def write_version_1_file(path, kind, arrays):
    """A model file as rbm 0.2.0 wrote it: arrays only, sigma (not log sigma) for Gaussian models."""
    n_visible, n_hidden = arrays["W"].shape
    np.savez(path, kind=np.str_(kind), format_version=np.int64(1), n_visible=np.int64(n_visible),
             n_hidden=np.int64(n_hidden), **arrays)


def test_version_1_files_still_load(tmp_path):
    rng = np.random.default_rng(5)
    arrays = dict(W=rng.normal(size=(4, 2)), hbias=rng.normal(size=2), vbias=rng.normal(size=4))
    write_version_1_file(tmp_path / "rbm.npz", "rbm.RBM", arrays)
    loaded = RBM.load(tmp_path / "rbm.npz")
    assert_same_arrays(loaded.get_params(), arrays)
    sigma = rng.uniform(0.5, 2, 4)
    write_version_1_file(tmp_path / "grbm.npz", "rbm.GaussianBernoulliRBM", {**arrays, "sigma": sigma})
    gaussian = GaussianBernoulliRBM.load(tmp_path / "grbm.npz")
    np.testing.assert_allclose(gaussian.get_sigma(), sigma, rtol=1e-15)
    assert gaussian.learn_sigma is False  # version 1 did not record it: the default
    assert FORMAT_VERSION == 2


def test_files_with_unknown_entries_or_settings_are_refused(tmp_path):
    model = build_model("rbm", "float64", 0)
    model.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as archive:
        arrays = dict(archive)
    np.savez(tmp_path / "extra.npz", **arrays, mystery=np.zeros(N_VISIBLE))
    with pytest.raises(ValueError, match="mystery"):
        RBM.load(tmp_path / "extra.npz")
    np.savez(tmp_path / "settings.npz", **{**arrays, "settings": np.str_('{"learn_sigma": true}')})
    with pytest.raises(ValueError, match="settings"):
        RBM.load(tmp_path / "settings.npz")
    grbm = build_model("grbm fixed sigma", "float64", 0)
    grbm.save(tmp_path / "g.npz")
    with np.load(tmp_path / "g.npz") as archive:
        arrays = {name: archive[name] for name in archive.files if name not in ("sigma", "log_sigma")}
    np.savez(tmp_path / "nosigma.npz", **arrays)
    with pytest.raises(ValueError, match="neither"):
        GaussianBernoulliRBM.load(tmp_path / "nosigma.npz")


def test_checkpoints_record_the_model_and_refuse_another(tmp_path):
    """A checkpoint of a learnt-sigma model resumes only into a learnt-sigma model of that kind."""
    path = tmp_path / "c.npz"
    settings_ = dict(batch_size=BATCH, mode="FAST_COMPILE", seed=0)
    Trainer(build_model("grbm learnt sigma", "float64", 0), **settings_).fit(
        REAL_DATA, epochs=1, checkpoint=path, verbose=False)
    fixed = build_model("grbm fixed sigma", "float64", 0)
    before = fixed.get_params()
    with pytest.raises(ValueError, match="model_settings"):
        Trainer(fixed, **settings_).fit(REAL_DATA, epochs=2, resume=path, verbose=False)
    assert_same_arrays(fixed.get_params(), before)  # refused: nothing changed


def test_version_1_checkpoints_still_resume(tmp_path):
    """A checkpoint as rbm 0.2.0 wrote it (no model kind, no fixed arrays) resumes as it did."""
    path = tmp_path / "c.npz"
    settings_ = dict(batch_size=BATCH, mode="FAST_COMPILE", seed=0, momentum=0.5)
    Trainer(build_model("grbm fixed sigma", "float64", 0), **settings_).fit(
        REAL_DATA, epochs=1, checkpoint=path, verbose=False)
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files if name != "state_log_sigma"}
    saved = json.loads(str(arrays["settings"]))
    del saved["model"], saved["model_settings"]
    arrays.update(settings=np.str_(json.dumps(saved)), format_version=np.int64(1))
    np.savez(path, **arrays)
    resumed = Trainer(build_model("grbm fixed sigma", "float64", 0), **settings_)
    resumed.fit(REAL_DATA, epochs=2, resume=path, verbose=False)
    straight = Trainer(build_model("grbm fixed sigma", "float64", 0), **settings_)
    straight.fit(REAL_DATA, epochs=2, verbose=False)
    assert_same_arrays(resumed.model.get_params(), straight.model.get_params())
