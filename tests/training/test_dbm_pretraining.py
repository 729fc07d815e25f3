"""DBM pretraining with modified RBMs: the copies' energies by brute force, CD steps against numpy, composition, gains.

The references are written from the models as Salakhutdinov & Hinton state them, with their copies made
explicit: the bottom RBM has two copies v', v'' of the visible vector (hidden bias doubled with the
weights, as in Salakhutdinov's code), the top RBM two copies h', h'' of the hidden one, the middle
RBM twice the plain energy:

    bottom  E(v', v'', h) = -(v' + v'').b - (v' + v'') W h - 2 c.h
    top     E(v, h', h'') = -2 b.v - v W (h' + h'') - c.(h' + h'')
    middle  E(v, h)       = -2 b.v - 2 v W h - 2 c.h

and every sum over hidden states is an enumeration.
"""
import doctest
import importlib

import numpy as np
import pytest
from scipy.special import expit, logsumexp

from rbm import backend, dbm_evaluation
from rbm.backend import pt
from rbm.models.dbm import DBM
from rbm.training import Trainer, TrainingDiverged
from rbm.training.dbm import DBMTrainer
from rbm.training.dbm_pretraining import ModifiedRBM, pretrain_dbm

from .. import reference

#: (double_up, double_down) of the bottom, middle and top RBMs
KINDS = {"bottom": (True, False), "middle": (True, True), "top": (False, True)}
#: each energy above as E = -b_f sum_(v copies) v.b - w_f sum_(v copy, h copy) v W h - c_f sum_(h copies) c.h:
#: (visible copies, hidden copies, w_f, b_f, c_f)
ENERGY_TERMS = {"bottom": (2, 1, 1, 1, 2), "middle": (1, 1, 2, 2, 2), "top": (1, 2, 1, 2, 1)}


def copies(kind):
    """(visible copies, hidden copies)."""
    return ENERGY_TERMS[kind][:2]


def energy(kind, visible_copies, hidden_copies, W, hbias, vbias):
    """The energy of the copies' joint states (lists of (n, units) arrays, one per copy), per the module docstring."""
    _, _, w_f, b_f, c_f = ENERGY_TERMS[kind]
    return (-b_f * sum(v @ vbias for v in visible_copies) - c_f * sum(h @ hbias for h in hidden_copies)
            - w_f * sum(np.einsum("ni,ij,nj->n", v, W, h) for v in visible_copies for h in hidden_copies))


def brute_force_free_energy(kind, visible_copies, W, hbias, vbias):
    """-log sum over every state of every hidden copy of exp(-E), for each row of the visible copies."""
    n_hidden_copies = copies(kind)[1]
    hidden = reference.all_binary_states(W.shape[1] * n_hidden_copies)
    result = []
    for row in range(len(visible_copies[0])):
        rows = [np.repeat(v[row:row + 1], len(hidden), axis=0) for v in visible_copies]
        hidden_copies = np.split(hidden, n_hidden_copies, axis=1)
        result.append(-logsumexp(-energy(kind, rows, hidden_copies, W, hbias, vbias)))
    return np.array(result)


def random_parameters(seed, n_visible=4, n_hidden=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_visible, n_hidden)), rng.normal(size=n_hidden), rng.normal(size=n_visible)


def modified_rbm(kind, W, hbias, vbias, seed=0):
    double_up, double_down = KINDS[kind]
    return ModifiedRBM(W.shape[0], W.shape[1], double_up=double_up, double_down=double_down, W=W, hbias=hbias,
                       vbias=vbias, seed=seed, dtype="float64")


def compile_(inputs, outputs):
    return backend.compile_function(inputs, outputs, mode="FAST_COMPILE")


# ------------------------------------------------------------------ the modified RBMs
@pytest.mark.parametrize("kind", KINDS)
def test_free_energy_and_conditionals_are_those_of_the_copies_model(kind):
    """F(m) and both conditionals, m the mean of the copies, against the copies' energy summed by brute force.

    The rows' copies differ (v' != v''), so the states hold halves: the model is exact in the mean.
    The conditionals come from the energy too: p(x_j = 1 | rest) = sigmoid(E(x_j = 0) - E(x_j = 1)),
    which for the doubled side is sigmoid(2 (x W + c)) per unit (bottom-up) or sigmoid(2 (W h + b)).
    """
    W, hbias, vbias = random_parameters(1)
    model = modified_rbm(kind, W, hbias, vbias)
    n_visible_copies, n_hidden_copies = copies(kind)
    rng = np.random.default_rng(2)
    visible_copies = [(rng.random((6, 4)) < 0.5).astype(float) for _ in range(n_visible_copies)]
    hidden_copies = [(rng.random((6, 3)) < 0.5).astype(float) for _ in range(n_hidden_copies)]
    v_mean, h_mean = np.mean(visible_copies, axis=0), np.mean(hidden_copies, axis=0)
    x, h = pt.matrix("x", dtype="float64"), pt.matrix("h", dtype="float64")
    free_energy, up, down = compile_([x, h], [model.free_energy(x), model.propup(x)[1], model.propdown(h)[1]])(
        v_mean, h_mean)
    np.testing.assert_allclose(free_energy, brute_force_free_energy(kind, visible_copies, W, hbias, vbias),
                               rtol=1e-10)
    # p(unit = 1 | other side) of one copy's unit, flipping it in the copies' energy
    expected_up = np.empty((6, 3))
    for j in range(3):
        on, off = [c.copy() for c in hidden_copies], [c.copy() for c in hidden_copies]
        on[0][:, j], off[0][:, j] = 1.0, 0.0
        expected_up[:, j] = expit(energy(kind, visible_copies, off, W, hbias, vbias)
                                  - energy(kind, visible_copies, on, W, hbias, vbias))
    expected_down = np.empty((6, 4))
    for i in range(4):
        on, off = [c.copy() for c in visible_copies], [c.copy() for c in visible_copies]
        on[0][:, i], off[0][:, i] = 1.0, 0.0
        expected_down[:, i] = expit(energy(kind, off, hidden_copies, W, hbias, vbias)
                                    - energy(kind, on, hidden_copies, W, hbias, vbias))
    np.testing.assert_allclose(up, expected_up, rtol=1e-10)
    np.testing.assert_allclose(down, expected_down, rtol=1e-10)
    # and the doubled side in the plain formula: both copies of the other side equal
    doubled_up = expit(2 * (v_mean @ W + hbias)) if KINDS[kind][0] else expit(v_mean @ W + hbias)
    np.testing.assert_allclose(up, doubled_up, rtol=1e-10)


@pytest.mark.parametrize("kind", ["bottom", "top"])
def test_a_side_with_two_copies_samples_the_mean_of_two_independent_draws(kind):
    """Each unit of that side is 0, 1/2 or 1 with probabilities (1-p)^2, 2p(1-p), p^2.

    4,000 draws per unit: the frequency of each value lies within 5 standard errors
    sqrt(q (1 - q) / 4000) of its probability q (a chance below 1e-5 per comparison to fail).
    """
    W, hbias, vbias = random_parameters(3)
    model = modified_rbm(kind, W, hbias, vbias)
    n = 4000
    if kind == "bottom":
        given = np.tile([[1.0, 0.0, 1.0]], (n, 1))
        h = pt.matrix("h", dtype="float64")
        draw = compile_([h], model.sample_v_given_h(h)[2])
        p = expit(given[0] @ W.T + vbias)
    else:
        given = np.tile([[1.0, 0.0, 1.0, 1.0]], (n, 1))
        v = pt.matrix("v", dtype="float64")
        draw = compile_([v], model.sample_h_given_v(v)[2])
        p = expit(given[0] @ W + hbias)
    states = draw(given)
    assert set(np.unique(states)) <= {0.0, 0.5, 1.0}
    for value, q in ((0.0, (1 - p) ** 2), (0.5, 2 * p * (1 - p)), (1.0, p ** 2)):
        frequency = (states == value).mean(axis=0)
        np.testing.assert_array_less(np.abs(frequency - q), 5 * np.sqrt(q * (1 - q) / n) + 1e-12)


# ------------------------------------------------------------------ CD steps against numpy
#: visible biases so large that the visible side's input (doubled or not) saturates whatever h is
#: (|W h| <= 1.2 here): every chain ends at v* = (1, 0, 1, 0), both copies included
SATURATED_VBIAS = np.array([30.0, -30.0, 30.0, -30.0])
CHAIN_END = (SATURATED_VBIAS > 0).astype(float)
STEP_DATA = (np.random.default_rng(12).random((15, 4)) < 0.5).astype(float)  # 3 minibatches of 5


def saturated_parameters():
    rng = np.random.default_rng(11)
    return 0.3 * rng.normal(size=(4, 3)), rng.normal(size=3), SATURATED_VBIAS.copy()


def copies_gradient(kind, data, chain_end, W, hbias, vbias):
    """Data minus chain-end expectations of dE/dtheta, every visible copy clamped to its row.

    From E's terms: dE/dW = -w_f (sum of visible copies)^T (sum of hidden copies), dE/dc = -c_f (sum of
    hidden copies), dE/db = -b_f (sum of visible copies); each hidden copy's units are independent given
    the visible copies, with input w_f (sum of visible copies) W + c_f c.
    """
    n_visible_copies, n_hidden_copies, w_f, b_f, c_f = ENERGY_TERMS[kind]

    def expectations(x):
        visible_sum = n_visible_copies * x
        hidden_sum = n_hidden_copies * expit(w_f * visible_sum @ W + c_f * hbias)
        return [-w_f * visible_sum.T @ hidden_sum / len(x), -c_f * hidden_sum.mean(axis=0),
                -b_f * visible_sum.mean(axis=0)]

    return [d - m for d, m in zip(expectations(data), expectations(chain_end))]


@pytest.mark.parametrize("kind, k", [("bottom", 1), ("middle", 2), ("top", 1)])
def test_cd_steps_of_rbm_trainer_match_the_copies_models_numpy_step(kind, k):
    """rbm.Trainer(persistent=False) on a modified RBM: three SGD steps of rate 0.2, each with the gradient of
    the copies' energy at its own parameters (the chain end saturated, so the model side is exact)."""
    W, hbias, vbias = saturated_parameters()
    model = modified_rbm(kind, W, hbias, vbias)
    params = [W, hbias, vbias]
    for batch in STEP_DATA.reshape(3, 5, 4):
        gradients = copies_gradient(kind, batch, np.tile(CHAIN_END, (5, 1)), *params)
        params = [p - 0.2 * g for p, g in zip(params, gradients)]
    Trainer(model, learning_rate=0.2, k=k, persistent=False, batch_size=5, mode="FAST_COMPILE", seed=0).fit(
        STEP_DATA, epochs=1, verbose=False)
    for name, old, want in zip(("W", "hbias", "vbias"), (W, hbias, vbias), params):
        new = model.get_params()[name]
        assert np.abs(want - old).max() > 1e-3, name  # a real step
        np.testing.assert_allclose(new - old, want - old, rtol=1e-9, atol=1e-13, err_msg=name)


def test_pretrain_dbm_takes_the_bottom_rbms_numpy_step_and_composes_where_the_docstring_says():
    """One epoch of 3 minibatches on a 4-3-2 DBM whose visible biases saturate: the bottom RBM's steps are
    the numpy steps of the two-visible-copies model, started from W_0, bias_0 and half of bias_1; the DBM
    then holds W_0 and bias_0 of that RBM, bias_1 = c_0 + b_1, bias_2 = c_1, W_1 of the top RBM."""
    W0, hbias0, vbias0 = saturated_parameters()
    rng = np.random.default_rng(5)
    W1, bias_1, bias_2 = 0.5 * rng.normal(size=(3, 2)), rng.normal(size=3), rng.normal(size=2)
    model = DBM((4, 3, 2), dtype="float64")
    model.set_params(W_0=W0, W_1=W1, bias_0=vbias0, bias_1=bias_1, bias_2=bias_2)
    params = [W0, bias_1 / 2, vbias0]
    for batch in STEP_DATA.reshape(3, 5, 4):
        gradients = copies_gradient("bottom", batch, np.tile(CHAIN_END, (5, 1)), *params)
        params = [p - 0.2 * g for p, g in zip(params, gradients)]
    trainers = pretrain_dbm(model, STEP_DATA, epochs=1, learning_rate=0.2, batch_size=5, seed=0,
                            mode="FAST_COMPILE", verbose=False)
    bottom, top = (trainer.model.get_params() for trainer in trainers)
    for name, want in zip(("W", "hbias", "vbias"), params):
        np.testing.assert_allclose(bottom[name], want, rtol=1e-9, atol=1e-12, err_msg=name)
    # the top RBM trained on the bottom one's doubled means, sigmoid(2 (v W_0 + c_0))
    np.testing.assert_allclose(trainers[1]._batches.get_value().reshape(15, 3),
                               expit(2 * (STEP_DATA @ params[0] + params[1])), rtol=1e-12)
    assert np.abs(top["vbias"] - bias_1 / 2).max() > 1e-3  # the top RBM moved from its start
    got = model.get_params()
    np.testing.assert_array_equal(got["W_0"], bottom["W"])
    np.testing.assert_array_equal(got["W_1"], top["W"])
    np.testing.assert_array_equal(got["bias_0"], bottom["vbias"])
    np.testing.assert_allclose(got["bias_1"], bottom["hbias"] + top["vbias"], rtol=1e-15)
    np.testing.assert_array_equal(got["bias_2"], top["hbias"])


def test_three_hidden_layers_pretrain_a_middle_rbm_doubled_both_ways():
    """A 5-4-3-2 DBM: bottom, middle and top RBMs, each trained on the one below's doubled means, composed
    with bias_i = c_(i-1) + b_i for the layers between them."""
    data = (np.random.default_rng(6).random((20, 5)) < 0.5).astype(float)
    model = DBM((5, 4, 3, 2), numpy_rng=0, dtype="float64")
    trainers = pretrain_dbm(model, data, epochs=2, learning_rate=0.1, batch_size=10, seed=1, mode="FAST_COMPILE",
                            verbose=False)
    rbms = [trainer.model for trainer in trainers]
    assert [(r.double_up, r.double_down) for r in rbms] == [KINDS["bottom"], KINDS["middle"], KINDS["top"]]
    trained = [r.get_params() for r in rbms]
    below = data
    for i, trainer in enumerate(trainers):
        np.testing.assert_allclose(trainer._batches.get_value().reshape(20, -1), below, rtol=1e-12)
        below = expit(2 * (below @ trained[i]["W"] + trained[i]["hbias"]))
    got = model.get_params()
    for i in range(3):
        np.testing.assert_array_equal(got[f"W_{i}"], trained[i]["W"])
    np.testing.assert_array_equal(got["bias_0"], trained[0]["vbias"])
    for i in (1, 2):
        np.testing.assert_allclose(got[f"bias_{i}"], trained[i - 1]["hbias"] + trained[i]["vbias"], rtol=1e-15)
    np.testing.assert_array_equal(got["bias_3"], trained[2]["hbias"])


# ------------------------------------------------------------------ the likelihood
def test_pretraining_raises_the_exact_log_likelihood_and_helps_joint_training():
    """Four 6-pixel patterns on a 6-4-3 DBM (optimum -log 4 = -1.39 nats, random start -6 log 2 = -4.16).

    Measured with seeds 0, 1, 2: pretraining alone (10 epochs of CD-1 per RBM) gives -2.92, -3.23,
    -3.40 nats; 5 epochs of DBMTrainer after it -2.72, -2.91, -2.99, the same 5 epochs from the random
    start -4.165, -4.163, -4.160. Asked here (seed 0): half a nat above the start, and above no pretraining.
    """
    patterns = np.array([[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1], [1, 0, 1, 0, 1, 0], [0, 1, 0, 1, 0, 1]], float)
    data = np.tile(patterns, (25, 1))

    def log_likelihood(model):
        return dbm_evaluation.exact_log_likelihood(model, data).log_likelihood

    pretrained, plain = DBM((6, 4, 3), numpy_rng=0, dtype="float64"), DBM((6, 4, 3), numpy_rng=0, dtype="float64")
    start = log_likelihood(pretrained)
    pretrain_dbm(pretrained, data, epochs=10, learning_rate=0.05, batch_size=10, momentum=0.5, seed=0,
                 mode="FAST_COMPILE", verbose=False)
    after_pretraining = log_likelihood(pretrained)
    for model in (pretrained, plain):
        DBMTrainer(model, learning_rate=0.05, batch_size=10, n_chains=20, mean_field_steps=5, gibbs_steps=1,
                   momentum=0.5, mode="FAST_COMPILE", seed=0).fit(data, epochs=5, verbose=False)
    assert start == pytest.approx(-6 * np.log(2), abs=0.01)
    assert after_pretraining > start + 0.5
    assert log_likelihood(pretrained) > log_likelihood(plain) + 0.5


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("arguments, error, message", [
    (dict(data=np.zeros((20, 5))), ValueError, "columns"),
    (dict(data=np.full((20, 4), 1.5)), ValueError, r"\[0, 1\]"),
    (dict(data=np.zeros((20, 4)), batch_size=30), ValueError, "larger than the 20 rows"),
    (dict(epochs=0), ValueError, "epochs"),
    (dict(learning_rate=-0.1), ValueError, "learning_rate"),
    (dict(k=0), ValueError, "k must be"),
    (dict(momentum=1.5), ValueError, "momentum"),
    (dict(weight_decay=-1.0), ValueError, "weight_decay"),
    (dict(verbose=-1), ValueError, "verbose"),
    (dict(seed=-3), ValueError, "seed"),
    (dict(mode="fast"), ValueError, "unknown mode"),
])
def test_bad_input_is_refused_and_changes_nothing(arguments, error, message):
    model = DBM((4, 3, 2), numpy_rng=0, dtype="float64")
    before = model.get_params()
    settings = dict(data=np.zeros((20, 4)), epochs=1, batch_size=5, mode="FAST_COMPILE", verbose=False)
    settings.update(arguments)
    with pytest.raises(error, match=message):
        pretrain_dbm(model, settings.pop("data"), **settings)
    for name, value in model.get_params().items():
        np.testing.assert_array_equal(value, before[name])


def test_other_models_are_refused():
    with pytest.raises(TypeError, match="must be an rbm.DBM"):
        pretrain_dbm(ModifiedRBM(4, 3, double_up=True, double_down=False), np.zeros((10, 4)))


def test_a_diverging_rbm_leaves_the_dbm_unchanged():
    """float32 and weight decay 1e10 times learning rate 1e31 overflow the bottom RBM's first update."""
    model = DBM((4, 3, 2), numpy_rng=0, dtype="float32")
    before = model.get_params()
    with pytest.raises(TrainingDiverged):
        pretrain_dbm(model, STEP_DATA, epochs=2, learning_rate=1e31, weight_decay=1e10, batch_size=5,
                     mode="FAST_COMPILE", verbose=False)
    for name, value in model.get_params().items():
        np.testing.assert_array_equal(value, before[name])


@pytest.mark.parametrize("settings, error, message", [
    (dict(double_up=False, double_down=False), ValueError, "plain rbm.RBM"),
    (dict(double_up=1, double_down=False), TypeError, "double_up must be True or False"),
])
def test_modified_rbm_refuses_settings_without_doubling(settings, error, message):
    with pytest.raises(error, match=message):
        ModifiedRBM(4, 3, **settings)


def test_a_modified_rbm_is_neither_saved_nor_trained_with_persistent_chains(tmp_path):
    model = ModifiedRBM(4, 3, double_up=True, double_down=False, dtype="float64")
    before = model.get_params()
    with pytest.raises(TypeError, match="save the DBM"):
        model.save(str(tmp_path / "rbm.npz"))
    with pytest.raises(TypeError, match="persistent=False"):
        Trainer(model, batch_size=5, persistent=True, mode="FAST_COMPILE").fit(STEP_DATA, verbose=False)
    assert not list(tmp_path.iterdir())
    for name, value in model.get_params().items():
        np.testing.assert_array_equal(value, before[name])


def test_docstring_examples_run():
    module = importlib.import_module("rbm.training.dbm_pretraining")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0

