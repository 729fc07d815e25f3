"""rbm.evaluation's functions on a DBM, and the DBM's reverse annealing (RAISE), against brute-force enumeration.

The references are numpy tables over every joint state of tiny DBMs (tests/models/test_dbm.py's helpers):
p(v) by summing every hidden state, and the annealing chains' laws by multiplying their transition
matrices, written from the definitions rather than from rbm.dbm_evaluation's formulas.
"""
import subprocess
import sys

import numpy as np
import pytest
from scipy.special import logsumexp

from rbm import DBN, RBM, dbm_evaluation, evaluation
from rbm.models.dbm import DBM

from . import reference
from .models.test_dbm import brute_force_log_p, brute_force_log_z, joint_states, negative_energy, numpy_mean_field, random_dbm


def compile_annealing_once(monkeypatch):
    """Make ``rbm.dbm_evaluation`` compile each annealing loop once in this test and reuse it.

    The compiled loop's generator advances at every call, so later runs stay independent of earlier
    ones; only their ``seed`` is ignored. It saves a compilation per call.
    """
    compiled, original = {}, dbm_evaluation._annealing_function

    def annealing_function(model, base, n_steps, seed, mode, reverse=False):
        key = (id(model), tuple(b.tobytes() for b in base), n_steps, mode, reverse)
        if key not in compiled:
            compiled[key] = original(model, base, n_steps, seed, mode, reverse)
        return compiled[key]

    monkeypatch.setattr(dbm_evaluation, "_annealing_function", annealing_function)


def model_samples(model, layer_sizes, weights, biases, n_rows, seed):
    """``n_rows`` exact draws of v from the model, by enumerating p(v), with their exact log p(v)."""
    every_v = reference.all_binary_states(layer_sizes[0])
    log_p = brute_force_log_p(every_v, layer_sizes, weights, biases)
    chosen = np.random.default_rng(seed).choice(len(every_v), n_rows, p=np.exp(log_p) / np.exp(log_p).sum())
    return every_v[chosen], log_p[chosen]


# ------------------------------------------------------------------ the same functions take a DBM
def test_evaluation_functions_take_a_dbm_and_give_the_brute_force_values():
    layer_sizes = (4, 3, 2)
    model, weights, biases = random_dbm(layer_sizes, seed=11)
    every_v = reference.all_binary_states(4)
    exact_log_z = brute_force_log_z(layer_sizes, weights, biases)
    exact_log_p = brute_force_log_p(every_v, layer_sizes, weights, biases)

    result = evaluation.exact_log_partition(model)
    assert isinstance(result, evaluation.ExactResult)
    np.testing.assert_allclose(result.log_z, exact_log_z, rtol=1e-12)
    # F(v) = -log sum_h exp(-E(v, h)), so -F(v) - log Z is log p(v), a distribution over the 2^4 rows
    np.testing.assert_allclose(-evaluation.free_energy(model, every_v) - exact_log_z, exact_log_p, rtol=1e-11)
    rows = every_v[::3]
    np.testing.assert_allclose(evaluation.mean_log_likelihood(model, rows, result),
                               exact_log_p[::3].mean(), rtol=1e-11)
    np.testing.assert_allclose(evaluation.mean_log_likelihood(model=model, data=rows, log_z=exact_log_z),
                               exact_log_p[::3].mean(), rtol=1e-11)  # the model by keyword dispatches too
    # rbm.dbm_evaluation's functions are the implementations (no second copy of the maths)
    for name in ("exact_log_partition", "ais_log_partition", "raise_log_likelihood", "free_energy",
                 "mean_log_likelihood"):
        assert getattr(evaluation, name).dispatch(DBM) is getattr(dbm_evaluation, name), name


def test_evaluation_functions_still_take_rbms_and_refuse_other_kinds_by_name():
    rbm_model = RBM(n_visible=3, n_hidden=2, W=np.zeros((3, 2)), dtype="float64")
    assert evaluation.exact_log_partition(rbm_model).log_z == pytest.approx(5 * np.log(2))
    assert evaluation.exact_log_partition(model=rbm_model).log_z == pytest.approx(5 * np.log(2))
    dbn = DBN(n_ins=4, hidden_layers_sizes=[3], n_outs=2, numpy_rng=0)
    calls = {"exact_log_partition": lambda model: evaluation.exact_log_partition(model),
             "ais_log_partition": lambda model: evaluation.ais_log_partition(model, n_runs=2),
             "raise_log_likelihood": lambda model: evaluation.raise_log_likelihood(model, np.ones((1, 4))),
             "free_energy": lambda model: evaluation.free_energy(model, np.ones((1, 4))),
             "mean_log_likelihood": lambda model: evaluation.mean_log_likelihood(model, np.ones((1, 4)), 0.0)}
    for name, call in calls.items():
        for other, kind in ((dbn, "DBN"), ("model", "str")):
            with pytest.raises(TypeError, match=rf"{name}\(\) takes a model of kind rbm\.RBM or rbm\.DBM .*got a {kind}"):
                call(other)
    with pytest.raises(TypeError, match="got a NoneType"):
        evaluation.free_energy(data=np.ones((1, 4)))


@pytest.mark.parametrize("first_import", ["rbm.evaluation", "rbm.dbm_evaluation"])
def test_either_module_imported_first_registers_the_dbm_forms(first_import):
    """The two modules import each other; whichever comes first, the DBM forms end up registered."""
    script = (f"import sys, {first_import}\n"
              "from rbm import dbm_evaluation, evaluation\n"
              "from rbm.models.dbm import DBM\n"
              "assert evaluation.raise_log_likelihood.dispatch(DBM) is dbm_evaluation.raise_log_likelihood\n"
              "assert evaluation.free_energy.dispatch(DBM) is dbm_evaluation.free_energy\n")
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, timeout=120)


def test_dbm_free_energy_refuses_models_too_large_to_enumerate():
    with pytest.raises(ValueError, match="2\\^30.*mean_field_bound"):
        evaluation.free_energy(DBM([4, 30, 30]), np.ones((1, 4)))


# ------------------------------------------------------------------ RAISE: exact laws of the chains
def parity_index(layers):
    """Row index of each joint state's odd layers and of its even layers (first bit most significant)."""
    return (reference.state_index(np.concatenate(layers[1::2], axis=1)),
            reference.state_index(np.concatenate(layers[0::2], axis=1)))


def intermediate_log_table(layer_sizes, weights, biases, base, beta):
    """L[x, e] = log of the unnormalised p_beta(odd layers x, even layers e), every state enumerated.

    p_beta is proportional to exp(-beta E + (1 - beta) sum_k bA_k . x_k), the annealing's path from the
    base model of independent units (biases bA) to the DBM. Even states are ordered visible bits first,
    so e // 2^(even hidden bits) is v's row in all_binary_states(n_visible).
    """
    layers = joint_states(layer_sizes)
    log_f = beta * negative_energy(layers, weights, biases) + (1 - beta) * sum(x @ b for x, b in zip(layers, base))
    odd_index, even_index = parity_index(layers)
    table = np.full((odd_index.max() + 1, even_index.max() + 1), -np.inf)
    table[odd_index, even_index] = log_f
    return table


def sweep_kernel(log_table):
    """T[x, x'] of a Gibbs sweep on the odd layers: draw the even layers given x, then x' given them."""
    joint = np.exp(log_table - log_table.max())
    return (joint / joint.sum(axis=1, keepdims=True)) @ (joint / joint.sum(axis=0, keepdims=True)).T


def annealed_visible_law(layer_sizes, weights, biases, base, betas):
    """p_ann(v): forward AIS from the base model's odd layers, sweeps at betas[1:], then v ~ p(v | x_K)."""
    tables = [intermediate_log_table(layer_sizes, weights, biases, base, beta) for beta in betas]
    law = np.exp(logsumexp(tables[0], axis=1) - logsumexp(tables[0]))
    for table in tables[1:]:
        law = law @ sweep_kernel(table)
    final = np.exp(tables[-1] - logsumexp(tables[-1], axis=1, keepdims=True))  # p(e | x) of the model
    return law @ final.reshape(len(law), 2 ** layer_sizes[0], -1).sum(axis=2)


def raise_weight_moments(layer_sizes, weights, biases, base, betas, v_index, q_law, move_betas=None):
    """(E w, E w^2, min w, max w) of one reverse run's weight for the visible row ``v_index``, exactly.

    x_K ~ q_law, then x_(k-1) ~ T(. | x_k), the sweep at ``move_betas[k - 1]`` (betas[k] by default, as
    RAISE prescribes), each x_k multiplying the weight by f_k(x_k) / f_(k+1)(x_k); the start's factor is
    f(v, x_K) / (Z_0 q(x_K)). Backward recursion over the odd states, as tests/reference.py's
    ais_weight_moments runs forward.
    """
    move_betas = betas[1:] if move_betas is None else move_betas
    tables = [intermediate_log_table(layer_sizes, weights, biases, base, beta) for beta in betas]
    log_f = [logsumexp(table, axis=1) for table in tables]  # odd marginals f_k(x)
    n_odd = len(log_f[0])
    log_f_v = logsumexp(tables[-1].reshape(n_odd, 2 ** layer_sizes[0], -1)[:, v_index], axis=1)
    log_start = log_f_v - np.log(q_law) - logsumexp(tables[0])
    first, second = q_law * np.exp(log_start), q_law * np.exp(2 * log_start)
    log_low, log_high = log_start.min(), log_start.max()
    for k in range(len(betas) - 1, 0, -1):
        kernel = sweep_kernel(intermediate_log_table(layer_sizes, weights, biases, base, move_betas[k - 1]))
        log_ratio = log_f[k - 1] - log_f[k]
        first, second = (first @ kernel) * np.exp(log_ratio), (second @ kernel) * np.exp(2 * log_ratio)
        log_low, log_high = log_low + log_ratio.min(), log_high + log_ratio.max()
    return first.sum(), second.sum(), np.exp(log_low), np.exp(log_high)


def test_raise_mean_weight_is_unbiased_for_the_annealed_law_with_three_temperatures():
    """Each row's mean weight estimates p_ann(v), the law of forward annealing's end, whatever q is.

    A (3, 2, 3, 2) DBM (two odd layers drawn from q, one even hidden layer summed out) with betas
    [0, 0.5, 1] and a skewed base model: the weight's mean, variance and range come exactly from the
    chains' transition matrices; 40,000 runs per row must give p_ann(v) within Bernstein's margin (a
    chance of 1e-6 per row to miss). The model's own p(v), and the mean weight of a reverse chain that
    sweeps at the next temperature instead of the current one, lie outside twice that margin for some
    row (on this model, found by trying a few: the weights' spread is wide, so many models leave
    p_ann and p closer together than a feasible number of runs can tell apart).
    """
    layer_sizes = (3, 2, 3, 2)
    model, weights, biases = random_dbm(layer_sizes, seed=1, scale=2.0)
    base_rows = (np.random.default_rng(0).random((50, 3)) < [0.8, 0.3, 0.6]).astype(float)
    p = base_rows.mean(axis=0)
    base = [np.log(p) - np.log1p(-p)] + [np.zeros(n) for n in layer_sizes[1:]]
    betas = np.array([0.0, 0.5, 1.0])
    every_v = reference.all_binary_states(3)
    annealed = annealed_visible_law(layer_sizes, weights, biases, base, betas)
    exact = np.exp(brute_force_log_p(every_v, layer_sizes, weights, biases))
    assert annealed.sum() == pytest.approx(1.0, abs=1e-12)

    n_runs = 40_000
    result = evaluation.raise_log_likelihood(model, np.repeat(every_v, n_runs, axis=0), betas=betas,
                                             base_rate=base_rows, seed=0, mode="cpu")
    mean_weights = np.exp(result.per_row).reshape(len(every_v), n_runs).mean(axis=1)  # n_runs=1: one w per row
    odd_states = reference.all_binary_states(4)  # layers 1 and 3, in that order
    separated = False
    for v_index, v in enumerate(every_v):
        means = numpy_mean_field(v[None], weights, biases, 1000)
        q_law = reference.bernoulli_table(np.concatenate([means[1], means[3]], axis=1), odd_states)[0]
        mean, second, low, high = raise_weight_moments(layer_sizes, weights, biases, base, betas, v_index, q_law)
        # the docstring's claim, by two recursions: the reverse chain's weight has mean p_ann(v)
        assert mean == pytest.approx(annealed[v_index], rel=1e-10)
        margin = reference.bernstein_margin(n_runs, np.sqrt(second - mean ** 2), max(high - mean, mean - low))
        assert abs(mean_weights[v_index] - annealed[v_index]) < margin, (v_index, mean_weights, annealed, margin)
        wrong_move = raise_weight_moments(layer_sizes, weights, biases, base, betas, v_index, q_law,
                                          move_betas=betas[:-1])[0]
        separated |= abs(exact[v_index] - annealed[v_index]) > 2 * margin and abs(wrong_move - mean) > 2 * margin
    assert separated, "the test cannot tell p_ann from p or a misplaced sweep on this model"


# ------------------------------------------------------------------ RAISE against exact log p(v)
def test_raise_lies_below_exact_log_likelihood_and_approaches_it_with_many_temperatures(monkeypatch):
    compile_annealing_once(monkeypatch)
    layer_sizes = (6, 4, 3)
    model, weights, biases = random_dbm(layer_sizes, seed=3)
    rows = (np.random.default_rng(1).random((6, 6)) < 0.5).astype(float)
    exact = brute_force_log_p(rows, layer_sizes, weights, biases)
    betas, n_repeats = np.linspace(0.0, 1.0, 1000), 200
    single = evaluation.raise_log_likelihood(model, np.repeat(rows, n_repeats, axis=0), betas=betas, seed=1)
    log_weights = single.per_row.reshape(len(rows), n_repeats)
    # E log w <= log p_ann(v) (Jensen), and p_ann is p up to the schedule's error: each row's mean log
    # weight over 200 runs lies below log p(v) up to 3 standard errors (a miss ~0.1% per row, by the CLT)
    standard_errors = log_weights.std(axis=1, ddof=1) / np.sqrt(n_repeats)
    assert np.all(log_weights.mean(axis=1) <= exact + 3 * standard_errors), (log_weights.mean(axis=1) - exact)
    # with 200 runs per row the estimate approaches log p(v): measured within 0.011 nats, tolerance 0.05
    pooled = evaluation.raise_log_likelihood(model, rows, n_runs=n_repeats, betas=betas, seed=2)
    np.testing.assert_allclose(pooled.per_row, exact, atol=0.05)
    assert pooled.log_likelihood == pytest.approx(pooled.per_row.mean())
    assert pooled.standard_error == pytest.approx(pooled.per_row.std(ddof=1) / np.sqrt(len(rows)))
    assert (pooled.n_runs, pooled.n_betas, pooled.per_row.shape) == (n_repeats, 1000, (6,))


def test_raise_and_ais_bracket_the_exact_log_likelihood_of_model_samples():
    """With coarse annealing, RAISE lands below exact log p(v) of the model's own rows and AIS above it.

    For rows drawn from the model E log RAISE <= E log p_ann(v) <= E log p(v) (Jensen, then Gibbs'
    inequality); AIS's log Z errs low, so its log-likelihood -F(v) - log Z_AIS errs high.
    """
    layer_sizes = (6, 4, 3)
    model, weights, biases = random_dbm(layer_sizes, seed=4, scale=1.5)
    rows, exact = model_samples(model, layer_sizes, weights, biases, 300, seed=5)
    exact_log_z = brute_force_log_z(layer_sizes, weights, biases)
    betas = np.linspace(0.0, 1.0, 10)
    raised = evaluation.raise_log_likelihood(model, rows, betas=betas, seed=6)
    differences = raised.per_row - exact
    standard_error = differences.std(ddof=1) / np.sqrt(len(differences))
    assert differences.mean() < -3 * standard_error, (differences.mean(), standard_error)  # measured -0.42 (se 0.05)
    ais = evaluation.ais_log_partition(model, n_runs=1000, betas=betas, seed=7)
    assert isinstance(ais, evaluation.AISResult)
    # the AIS interval's upper end of the likelihood (its lower end of log Z) lies at or above exact
    assert ais.log_z_low <= exact_log_z, (ais, exact_log_z)
    ais_log_likelihood = evaluation.mean_log_likelihood(model, rows, ais)
    assert raised.log_likelihood < exact.mean() and raised.log_likelihood < ais_log_likelihood


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_runs=0), "n_runs"),
    (dict(betas=np.array([0.0, 0.5])), "betas"),
    (dict(base_rate=np.ones((3, 5))), "5 columns"),
    (dict(data=np.ones((2, 3))), "3 columns"),
    (dict(data=np.full((2, 4), np.nan)), "NaN|finite"),
    (dict(seed=-1), "seed"),
    (dict(mode="abacus"), "unknown mode"),
])
def test_dbm_raise_refuses_bad_arguments(kwargs, match):
    arguments = dict(data=np.ones((2, 4)))
    arguments.update(kwargs)
    model = DBM((4, 3, 2), dtype="float64")
    before = model.get_params()
    with pytest.raises(ValueError, match=match):
        evaluation.raise_log_likelihood(model, **arguments)
    assert all(np.array_equal(value, before[name]) for name, value in model.get_params().items())
