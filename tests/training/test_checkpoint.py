"""Checkpoints: a run killed with SIGKILL and resumed ends bit-identical to an uninterrupted run."""
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from rbm import RBM, Trainer

WORKER = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    import rbm
    out, checkpoint, resume = sys.argv[1], sys.argv[2] or None, sys.argv[3] or None
    data = (np.random.default_rng(0).random((200, 64)) < 0.3).astype(float)
    model = rbm.RBM(n_visible=64, n_hidden=16, numpy_rng=np.random.RandomState(1), seed=1, dtype="float32")
    trainer = rbm.Trainer(model, learning_rate=0.05, k=2, batch_size=10, momentum=0.9, weight_decay=1e-3, seed=2,
                          mode=os.environ["WORKER_MODE"])
    slow = [lambda t, r: time.sleep(0.3)] if os.environ.get("WORKER_SLOW") else []
    trainer.fit(data, epochs=12, checkpoint=checkpoint, checkpoint_every=7 if checkpoint else None, resume=resume,
                callbacks=slow, verbose=False)
    np.save(out, np.concatenate([p.get_value().ravel() for p in model.params]
                                + [trainer.persistent_chain.get_value().ravel()]))
    print(len(trainer.history), [round(r["cost"], 6) for r in trainer.history])
""")


def run_worker(tmp_path, name, mode, checkpoint="", resume="", cold_cache=False, slow=False, wait=True):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = dict(os.environ, WORKER_MODE=mode)
    if cold_cache:  # an empty PyTensor compile cache, Numba's cache included
        env["PYTENSOR_FLAGS"] = f"base_compiledir={tmp_path / ('cache_' + name)}"
    if slow:
        env["WORKER_SLOW"] = "1"
    command = [sys.executable, str(script), str(tmp_path / f"{name}.npy"), str(checkpoint), str(resume)]
    if not wait:
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def kill_after_checkpoints(tmp_path, mode, checkpoint, cold_cache):
    process = run_worker(tmp_path, "killed", mode, checkpoint=checkpoint, cold_cache=cold_cache, slow=True, wait=False)
    deadline = time.time() + 240
    while not checkpoint.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.01)
    time.sleep(0.5)  # a few more minibatches and checkpoints, then die mid-run
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (tmp_path / "killed.npy").exists()


@pytest.mark.slow  # an end-to-end run: make test-slow (and .ci/run) runs it
@pytest.mark.parametrize("mode, killed_cold, resumed_cold, reference_cold", [
    # Numba keeps compiled code on disk: the killed run compiles into an empty cache, the others reuse the
    # warm one (one cold case: each costs ~3 minutes of compiling on a cold machine)
    ("NUMBA", True, False, False),
    ("cpu", False, False, False),  # JAX compiles in memory; its generator lives in the compiled function
])
def test_killed_and_resumed_run_is_bit_identical(tmp_path, mode, killed_cold, resumed_cold, reference_cold):
    pytest.importorskip("jax") if mode == "cpu" else None
    checkpoint = tmp_path / "state.npz"
    kill_after_checkpoints(tmp_path, mode, checkpoint, killed_cold)
    with np.load(checkpoint) as archive:
        stopped_at = (int(archive["epoch"]), int(archive["batch"]))
    assert stopped_at < (12, 0), "the checkpoint must come from the middle of the run"
    resumed_out = run_worker(tmp_path, "resumed", mode, checkpoint=checkpoint, resume=checkpoint,
                             cold_cache=resumed_cold)
    reference_out = run_worker(tmp_path, "reference", mode, cold_cache=reference_cold)
    resumed = np.load(tmp_path / "resumed.npy")
    reference = np.load(tmp_path / "reference.npy")
    np.testing.assert_array_equal(resumed, reference)
    assert resumed_out.split()[0] == reference_out.split()[0] == "12"
    assert resumed_out == reference_out  # the same per-epoch costs too


BARS = (np.random.default_rng(3).random((60, 9)) < 0.5).astype(float)


def make_trainer(**kwargs):
    """PCD-1 with momentum on BARS; FAST_COMPILE (compiles in ~1 s) unless a test is about a mode."""
    model = RBM(n_visible=9, n_hidden=4, seed=0, dtype="float64")
    settings = dict(batch_size=10, momentum=0.5, seed=1, mode="FAST_COMPILE")
    settings.update(kwargs)
    return Trainer(model, **settings)


@pytest.fixture(scope="module")
def one_epoch_checkpoint(tmp_path_factory):
    """A checkpoint of make_trainer() after one epoch, shared by the tests that only read it."""
    path = tmp_path_factory.mktemp("checkpoint") / "c.npz"
    make_trainer().fit(BARS, epochs=1, checkpoint=path, verbose=False)
    return path


@pytest.mark.parametrize("mode", ["cpu", "NUMBA"])
def test_resume_in_process_matches_uninterrupted_and_counts_whole_run(tmp_path, mode):
    pytest.importorskip("jax") if mode == "cpu" else None
    path = tmp_path / "c.npz"
    first = make_trainer(mode=mode)
    first.fit(BARS, epochs=2, checkpoint=path, verbose=False)
    resumed = make_trainer(mode=mode)
    history = resumed.fit(BARS, epochs=5, resume=path, checkpoint=path, verbose=False)
    assert [r["epoch"] for r in history] == [0, 1, 2, 3, 4]
    straight = make_trainer(mode=mode)
    straight.fit(BARS, epochs=5, verbose=False)
    np.testing.assert_array_equal(resumed.model.W.get_value(), straight.model.W.get_value())
    np.testing.assert_array_equal(resumed.velocities[0].get_value(), straight.velocities[0].get_value())
    np.testing.assert_array_equal(resumed.persistent_chain.get_value(), straight.persistent_chain.get_value())
    again = make_trainer(mode=mode)
    assert len(again.fit(BARS, epochs=5, resume=path, verbose=False)) == 5  # already complete: no work


@pytest.mark.parametrize("mode", ["NUMBA", "cpu"])
def test_centered_tempered_resume_mid_epoch_is_bit_identical(tmp_path, mode):
    """A run with centering and parallel tempering, resumed from minibatch 4 of epoch 0 (6 per epoch).

    The uninterrupted run checkpoints every 4 minibatches; after its first epoch the newest checkpoint is
    the one at minibatch 4, which a callback keeps. A second trainer resumes from it and must end with
    the same parameters, velocities, offsets, ladder, swap counts and per-epoch costs and swap rates.
    """
    pytest.importorskip("jax") if mode == "cpu" else None
    path, kept = tmp_path / "c.npz", tmp_path / "kept.npz"

    def keep_the_mid_epoch_checkpoint(trainer, record):
        if record["epoch"] == 0:
            shutil.copy(path, kept)
        return False

    settings = dict(mode=mode, centering=True, centering_rate=0.1, tempering=3)
    straight = make_trainer(**settings)
    expected = straight.fit(BARS, epochs=3, checkpoint=path, checkpoint_every=4,
                            callbacks=[keep_the_mid_epoch_checkpoint], verbose=False)
    with np.load(kept) as archive:
        assert (int(archive["epoch"]), int(archive["batch"])) == (0, 4)
    resumed = make_trainer(**settings)
    history = resumed.fit(BARS, epochs=3, resume=kept, verbose=False)
    for name, value in straight.model.get_params().items():
        np.testing.assert_array_equal(resumed.model.get_params()[name], value, err_msg=name)
    shared = {"visible_offset": (resumed.visible_offset, straight.visible_offset),
              "hidden_offset": (resumed.hidden_offset, straight.hidden_offset),
              **{f"velocity {i}": pair for i, pair in enumerate(zip(resumed.velocities, straight.velocities))},
              **{name: (variable, straight.tempering.state_variables[name])
                 for name, variable in resumed.tempering.state_variables.items()}}
    for name, (got, want) in shared.items():
        np.testing.assert_array_equal(np.asarray(got.get_value()), np.asarray(want.get_value()), err_msg=name)
    assert [(r["cost"], r["swap_rates"]) for r in history] == [(r["cost"], r["swap_rates"]) for r in expected]


@pytest.mark.parametrize("change, match", [
    (dict(learning_rate=0.2), "learning_rate"),
    (dict(centering=True, tempering=3), "centering: checkpoint None, trainer 0.01.*tempering: checkpoint None"),
    (dict(batch_size=5), "batch_size"),
    (dict(momentum=0.9), "momentum"),
])
def test_resume_refuses_other_settings_and_changes_nothing(one_epoch_checkpoint, change, match):
    other = make_trainer(**change)
    before = other.model.get_params()
    with pytest.raises(ValueError, match=match):
        other.fit(BARS, epochs=3, resume=one_epoch_checkpoint, verbose=False)
    assert other.history == []
    for name, value in other.model.get_params().items():
        np.testing.assert_array_equal(value, before[name])


def test_resume_refuses_other_data(one_epoch_checkpoint):
    with pytest.raises(ValueError, match="other data"):
        make_trainer().fit(BARS[::-1].copy(), epochs=3, resume=one_epoch_checkpoint, verbose=False)


def test_crash_while_writing_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    trainer = make_trainer()
    trainer.fit(BARS, epochs=1, checkpoint=path, verbose=False)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        trainer.fit(BARS, epochs=1, checkpoint=path, verbose=False)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.npz"]


@pytest.mark.parametrize("damage, match", [
    (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "truncated or corrupted"),
    (lambda p: p.write_bytes(b"garbage"), "truncated or corrupted"),
])
def test_damaged_checkpoint_is_refused_and_changes_nothing(tmp_path, one_epoch_checkpoint, damage, match):
    path = tmp_path / "c.npz"
    shutil.copy(one_epoch_checkpoint, path)
    damage(path)
    trainer = make_trainer()
    before = trainer.model.get_params()
    with pytest.raises(ValueError, match=match):
        trainer.fit(BARS, epochs=2, resume=path, verbose=False)
    np.testing.assert_array_equal(trainer.model.get_params()["W"], before["W"])


def test_model_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "model.npz"
    make_trainer().model.save(path)
    with pytest.raises(ValueError, match="not a 'rbm.Checkpoint'"):
        make_trainer().fit(BARS, resume=path, verbose=False)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(checkpoint_every=5), ValueError, "needs checkpoint"),
    (dict(checkpoint="state.pkl"), ValueError, ".npz"),
    (dict(checkpoint=3), TypeError, "path"),
    (dict(resume="absent.npz"), FileNotFoundError, "does not exist"),
    (dict(checkpoint="c.npz", checkpoint_every=0), ValueError, "checkpoint_every"),
])
def test_bad_checkpoint_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_trainer().fit(BARS, verbose=False, **kwargs)


def test_a_checkpoint_resumes_only_in_the_mode_that_wrote_it(tmp_path):
    """JAX modes keep a JAX key, the others a numpy generator: the mode is part of the settings."""
    pytest.importorskip("jax")
    path = tmp_path / "c.npz"
    make_trainer(mode="cpu").fit(BARS, epochs=1, checkpoint=path, verbose=False)
    trainer = make_trainer(mode="FAST_COMPILE")
    before = trainer.model.get_params()
    with pytest.raises(ValueError, match="mode: checkpoint 'cpu', trainer 'FAST_COMPILE'"):
        trainer.fit(BARS, epochs=2, resume=path, verbose=False)
    assert trainer.history == []
    for name, value in trainer.model.get_params().items():
        np.testing.assert_array_equal(value, before[name])


def test_resume_continues_the_monitored_costs_and_the_bit_index(tmp_path):
    """PCD monitors the pseudo-likelihood of one bit per minibatch, bit i + 1 after bit i, modulo n_visible:
    resumed after 2 epochs (12 minibatches: bit 3 next), a 4-epoch run reports the costs of the
    uninterrupted run and ends at bit 24 mod 9 = 6."""
    path = tmp_path / "c.npz"
    make_trainer().fit(BARS, epochs=2, checkpoint=path, verbose=False)
    with np.load(path) as archive:
        assert int(archive["bit_i_idx"]) == 12 % 9
    resumed = make_trainer()
    history = resumed.fit(BARS, epochs=4, resume=path, verbose=False)
    straight = make_trainer()
    expected = straight.fit(BARS, epochs=4, verbose=False)
    assert [r["cost"] for r in history] == [r["cost"] for r in expected]
    assert int(resumed.model.bit_i_idx.get_value()) == int(straight.model.bit_i_idx.get_value()) == 24 % 9


def test_adam_resume_matches_uninterrupted(tmp_path):
    """Adam's step count and moments come back from the checkpoint: the resumed run ends as the straight one,
    after 4 epochs of 6 minibatches (Adam's step count 24)."""
    from rbm.training.optimizers import Adam

    path = tmp_path / "c.npz"
    settings = dict(momentum=0.0, optimizer=Adam(), learning_rate=0.01)
    make_trainer(**settings).fit(BARS, epochs=2, checkpoint=path, verbose=False)
    resumed = make_trainer(**settings)
    history = resumed.fit(BARS, epochs=4, resume=path, verbose=False)
    straight = make_trainer(**settings)
    expected = straight.fit(BARS, epochs=4, verbose=False)
    for name, value in straight.model.get_params().items():
        np.testing.assert_array_equal(resumed.model.get_params()[name], value, err_msg=name)
    assert float(resumed.optimizer_state[0].get_value()) == 24
    for got, want in zip(resumed.optimizer_state, straight.optimizer_state):
        np.testing.assert_array_equal(np.asarray(got.get_value()), np.asarray(want.get_value()), err_msg=got.name)
    assert [r["cost"] for r in history] == [r["cost"] for r in expected]
