"""The engine's compiled step, compiled once per structure in the process.

(That the updates do not depend on batches_per_call: tests/training/test_trainer.py.)

A later trainer of the same structure must compile nothing and train exactly as
if it had compiled its own step (compared with a fresh compile, the cache
emptied); interleaved trainers must not see each other's state; another
structure must compile its own.
"""
import numpy as np
import pytest

from rbm import RBM, Trainer, backend
from rbm.layers import Categorical, Gaussian
from rbm.models.dbm import DBM
from rbm.training.dbm import DBMTrainer
from rbm.training.dbm_pretraining import ModifiedRBM
from rbm.training.engine import COMPILED_STEPS
from rbm.training.optimizers import Adam

from .. import reference

BARS = np.tile(reference.bars_and_stripes(3), (2, 1))  # 28 rows: 4 minibatches of 7
RATINGS = np.eye(3)[np.random.default_rng(0).integers(0, 3, size=(28, 4))].reshape(28, 12)
REAL = np.random.default_rng(1).normal(size=(28, 9))


def bars_rbm(seed):
    return RBM(n_visible=9, n_hidden=5, numpy_rng=seed, seed=seed, dtype="float64")


#: name -> (mode, data, make_trainer(seed)): the step's options, each in one mode
STRUCTURES = {
    "pcd-numba": ("NUMBA", BARS, lambda seed: Trainer(bars_rbm(seed), learning_rate=0.1, k=2, batch_size=7,
                                                        momentum=0.5, mode="NUMBA", seed=seed)),
    "cd-decay-sparsity-cpu": ("cpu", BARS, lambda seed: Trainer(
        bars_rbm(seed), learning_rate=0.1, persistent=False, batch_size=7, weight_decay=0.01,
        sparsity_target=0.2, mode="cpu", seed=seed)),
    "centering-adam-tempering-cpu": ("cpu", BARS, lambda seed: Trainer(
        bars_rbm(seed), learning_rate=0.01, batch_size=7, centering=True, tempering=3,
        optimizer=Adam(), mode="cpu", seed=seed)),
    "gaussian-cpu": ("cpu", REAL, lambda seed: Trainer(
        RBM(n_visible=9, n_hidden=4, numpy_rng=seed, seed=seed, dtype="float64", visible=Gaussian(learn_sigma=True)),
        learning_rate=0.01, batch_size=7, mode="cpu", seed=seed)),
    "categorical-cpu": ("cpu", RATINGS, lambda seed: Trainer(
        RBM(n_visible=4, n_hidden=3, numpy_rng=seed, seed=seed, dtype="float64", visible=Categorical(3)),
        learning_rate=0.1, batch_size=7, mode="cpu", seed=seed)),
    "dbm-cpu": ("cpu", BARS, lambda seed: DBMTrainer(
        DBM([9, 4, 3], numpy_rng=seed, seed=seed, dtype="float64"), learning_rate=0.05, batch_size=7, n_chains=5,
        mean_field_steps=3, gibbs_steps=2, mode="cpu", seed=seed)),
}


def trained(make_trainer, seed, data, epochs=2):
    """(every model array, every epoch's cost, the number of steps compiled meanwhile) of a fresh trainer."""
    before = backend.compiled_function_count()
    trainer = make_trainer(seed)
    trainer.fit(data, epochs=epochs, verbose=False)
    params = {name: np.array(value) for name, value in trainer.model.get_params().items()}
    return params, [record["cost"] for record in trainer.history], backend.compiled_function_count() - before


def assert_same(first, second):
    assert first[0].keys() == second[0].keys()
    for name in first[0]:
        np.testing.assert_array_equal(first[0][name], second[0][name], err_msg=name)
    np.testing.assert_array_equal(first[1], second[1])


@pytest.mark.parametrize("structure", list(STRUCTURES))
def test_a_second_trainer_of_the_same_structure_compiles_nothing_and_trains_as_if_it_had(structure):
    mode, data, make_trainer = STRUCTURES[structure]
    pytest.importorskip("jax") if mode == "cpu" else None
    COMPILED_STEPS.clear()
    first = trained(make_trainer, 3, data)
    assert first[2] >= 1  # the step (and, with several minibatches per call, its one-step twin)
    reused = trained(make_trainer, 4, data)  # other seeds: other initial weights and draws
    assert reused[2] == 0
    COMPILED_STEPS.clear()
    fresh = trained(make_trainer, 4, data)
    assert fresh[2] == first[2]
    assert_same(reused, fresh)
    assert not np.array_equal(first[0]["W" if "W" in first[0] else "W_0"], reused[0]["W" if "W" in reused[0] else "W_0"])


def test_trainers_sharing_a_step_keep_their_own_state():
    """A and B (same structure, other seeds) trained in turns end exactly where each alone ends."""
    make_trainer = STRUCTURES["pcd-numba"][2]
    alone = [trained(make_trainer, seed, BARS, epochs=3)[:2] for seed in (5, 6)]
    a, b = make_trainer(5), make_trainer(6)
    for _ in range(3):
        a.fit(BARS, epochs=1, verbose=False)
        b.fit(BARS, epochs=1, verbose=False)
    for trainer, expected in zip((a, b), alone):
        got = ({name: np.array(value) for name, value in trainer.model.get_params().items()},
               [record["cost"] for record in trainer.history])
        assert_same(got, expected)


def test_another_structure_compiles_its_own_step():
    pytest.importorskip("jax")
    COMPILED_STEPS.clear()
    assert trained(lambda seed: Trainer(bars_rbm(seed), k=1, batch_size=7, mode="cpu", seed=seed), 0, BARS)[2] == 1
    assert trained(lambda seed: Trainer(bars_rbm(seed), k=2, batch_size=7, mode="cpu", seed=seed), 0, BARS)[2] == 1
    assert trained(lambda seed: Trainer(bars_rbm(seed), k=1, batch_size=7, momentum=0.5, mode="cpu",
                                        seed=seed), 0, BARS)[2] == 1  # velocities: another step
    assert trained(lambda seed: Trainer(bars_rbm(seed), k=1, batch_size=7, mode="cpu", seed=seed), 1, BARS)[2] == 0


def test_the_learning_rate_and_momentum_are_read_not_compiled_in():
    """A grid over learning rates and momenta compiles one step; each candidate trains as its own compile."""
    pytest.importorskip("jax")

    def make(learning_rate, momentum):
        return lambda seed: Trainer(bars_rbm(seed), learning_rate=learning_rate, momentum=momentum, batch_size=7,
                                    mode="cpu", seed=seed)

    COMPILED_STEPS.clear()
    assert trained(make(0.1, 0.5), 0, BARS)[2] == 1
    reused = trained(make(0.3, 0.9), 0, BARS)
    assert reused[2] == 0
    COMPILED_STEPS.clear()
    assert_same(reused, trained(make(0.3, 0.9), 0, BARS))


def test_the_structure_names_what_a_model_class_bakes_in():
    """The doubling of DBM pretraining's modified RBMs changes every graph: three structures, not one."""
    keys = {Trainer(ModifiedRBM(4, 3, double_up=up, double_down=down), persistent=False, batch_size=2,
                    mode="NUMBA")._structure_key(1)
            for up, down in ((True, False), (False, True), (True, True))}
    assert len(keys) == 3 and None not in keys


def test_a_class_of_ones_own_compiles_its_own_step():
    class MyRBM(RBM):
        pass

    MyRBM.__module__ = "my_project"
    trainer = Trainer(MyRBM(n_visible=4, n_hidden=3), mode="NUMBA")
    assert trainer._structure_key(1) is None


def test_a_second_trainers_validation_compiles_nothing():
    """The free-energy gap's function is shared by structure too, and reads the second model's weights."""
    make_trainer = STRUCTURES["pcd-numba"][2]
    first = make_trainer(8)
    first.fit(BARS, epochs=1, valid=BARS[:5], verbose=False)
    before = backend.compiled_function_count()
    second = make_trainer(9)
    second.fit(BARS, epochs=1, valid=BARS[:5], verbose=False)
    assert backend.compiled_function_count() == before
    params = second.model.get_params()
    free_energy = reference.free_energy(BARS[:5], params["W"], params["hbias"], params["vbias"]).mean()
    assert second._mean_free_energy(BARS[:5]) == pytest.approx(free_energy, rel=1e-12)


def test_the_cache_keeps_nothing_of_the_trainer_first_compiled_for():
    """Its template runs on placeholders: the first trainer's data and model go when the trainer goes."""
    import gc
    import weakref

    pytest.importorskip("jax")
    COMPILED_STEPS.clear()
    trainer = Trainer(bars_rbm(0), batch_size=7, mode="cpu", seed=0)
    trainer.fit(BARS, epochs=1, verbose=False)
    # the containers: a copy's graph keeps clones of its original's shared variables, which share them
    batches, weights = weakref.ref(trainer._batches.container), weakref.ref(trainer.model.W.container)
    del trainer
    gc.collect()
    assert len(COMPILED_STEPS) == 1 and batches() is None and weights() is None


def test_the_structure_names_a_dbms_layer_sizes():
    first, other = (backend.structure_of(DBM(sizes, numpy_rng=0)) for sizes in ([6, 4, 3], [6, 5, 3]))
    assert first != other and first == backend.structure_of(DBM([6, 4, 3], numpy_rng=1))
