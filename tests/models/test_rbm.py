"""The model's graphs against plain numpy formulas, in every supported compile mode."""
import numpy as np
import pytest
from pytensor.graph.replace import graph_replace
from pytensor.graph.traversal import ancestors
from pytensor.scalar import basic as ps
from pytensor.scalar.math import Sigmoid
from scipy.special import expit

from rbm import RBM, backend, visible_bias_from_data
from rbm.backend import pt, pytensor

from .. import reference

TOLERANCE = {"float32": dict(rtol=2e-5, atol=2e-4), "float64": dict(rtol=1e-12, atol=1e-10)}


def random_model(n_visible=7, n_hidden=5, dtype="float64", seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return RBM(n_visible=n_visible, n_hidden=n_hidden, W=scale * rng.normal(size=(n_visible, n_hidden)),
               hbias=rng.normal(size=n_hidden), vbias=rng.normal(size=n_visible), seed=seed, dtype=dtype)


def numpy_params(model):
    return [p.get_value().astype(np.float64) for p in model.params]


def compile_(inputs, outputs, mode="NUMBA", updates=None):
    return backend.compile_function(inputs, outputs, updates=updates, mode=mode)


#: the mode of tests about what a graph computes rather than how a mode runs it (those take the ``mode``
#: fixture): FAST_COMPILE compiles a graph with a Gibbs chain in about a second, NUMBA in ten or more
ONE_MODE = "FAST_COMPILE"


def _scalar_ops(node):
    """(op, input-owner-ops) pairs of a node, looking inside fused Composite scalar graphs."""
    scalar_op = getattr(node.op, "scalar_op", node.op)
    inner = getattr(scalar_op, "fgraph", None)
    if inner is not None:
        for inner_node in inner.toposort():
            yield from _scalar_ops(inner_node)
        return
    yield scalar_op, [getattr(getattr(i.owner, "op", None), "scalar_op", getattr(i.owner, "op", None))
                      for i in node.inputs]


def log_of_sigmoid_nodes(function):
    """Nodes of a compiled function (scan bodies included) that take the log of a sigmoid."""
    found = []
    pending = list(function.maker.fgraph.toposort())
    while pending:
        node = pending.pop()
        inner = getattr(node.op, "fgraph", None)
        if inner is not None and not hasattr(node.op, "scalar_op"):  # a scan / OpFromGraph body
            pending.extend(inner.toposort())
            continue
        for op, input_ops in _scalar_ops(node):
            if isinstance(op, (ps.Log, ps.Log1p)) and any(isinstance(i, Sigmoid) for i in input_ops):
                found.append(node)
    return found


# ----------------------------------------------------------------- construction
def test_default_initialisation_matches_tutorial():
    model = RBM(n_visible=30, n_hidden=20, numpy_rng=np.random.RandomState(1234), dtype="float64")
    bound = 4 * np.sqrt(6.0 / 50)
    expected = np.random.RandomState(1234).uniform(-bound, bound, size=(30, 20))
    np.testing.assert_array_equal(model.W.get_value(), expected)
    assert not model.hbias.get_value().any() and not model.vbias.get_value().any()
    assert model.params == [model.W, model.hbias, model.vbias]
    assert model.input.ndim == 2 and (model.n_visible, model.n_hidden) == (30, 20)


def test_accepts_shared_parameters_and_input():
    W = pytensor.shared(np.ones((4, 3), dtype="float32"))
    x = pt.matrix("x", dtype="float32")
    model = RBM(input=x, n_visible=4, n_hidden=3, W=W)
    assert model.W is W and model.input is x and model.dtype == "float32"


def test_default_dtype_is_float32():
    assert RBM(n_visible=3, n_hidden=2).W.dtype == "float32"


def test_hinton_initialisation_from_data():
    data = np.array([[1, 0, 0], [1, 1, 0], [1, 0, 0], [0, 1, 0]], dtype=float)
    model = RBM.from_data(data, n_hidden=2000, numpy_rng=0, dtype="float64")
    p = np.clip(data.mean(axis=0), 1e-3, 1 - 1e-3)
    np.testing.assert_allclose(model.vbias.get_value(), np.log(p / (1 - p)))
    np.testing.assert_allclose(visible_bias_from_data(data), np.log(p / (1 - p)))
    assert abs(model.W.get_value().std() - 0.01) < 0.001
    assert not model.hbias.get_value().any()


# ------------------------------------------------------------------ energies
def test_free_energy_matches_numpy(mode, dtype):
    model = random_model(dtype=dtype)
    v = pt.matrix(dtype=dtype)
    data = (np.random.default_rng(1).random((6, 7)) < 0.5).astype(dtype)
    got = compile_([v], model.free_energy(v), mode)(data)
    np.testing.assert_allclose(got, reference.free_energy(data, *numpy_params(model)), **TOLERANCE[dtype])


def test_free_energy_equals_brute_force_sum_over_hidden_states():
    model = random_model()
    W, hbias, vbias = numpy_params(model)
    v = pt.matrix(dtype="float64")
    data = reference.all_binary_states(7)[::9]
    H = reference.all_binary_states(5)
    brute = -np.log(np.exp(data @ W @ H.T + (data @ vbias)[:, None] + (H @ hbias)[None, :]).sum(axis=1))
    np.testing.assert_allclose(compile_([v], model.free_energy(v))(data), brute, rtol=1e-12)


def test_conditionals_match_numpy(mode, dtype):
    model = random_model(dtype=dtype)
    W, hbias, vbias = numpy_params(model)
    v, h = pt.matrix(dtype=dtype), pt.matrix(dtype=dtype)
    data_v = (np.random.default_rng(2).random((4, 7)) < 0.5).astype(dtype)
    data_h = (np.random.default_rng(3).random((4, 5)) < 0.5).astype(dtype)
    pre_h, mean_h = compile_([v], model.propup(v), mode)(data_v)
    pre_v, mean_v = compile_([h], model.propdown(h), mode)(data_h)
    np.testing.assert_allclose(pre_h, data_v @ W + hbias, **TOLERANCE[dtype])
    np.testing.assert_allclose(mean_h, expit(data_v @ W + hbias), **TOLERANCE[dtype])
    np.testing.assert_allclose(pre_v, data_h @ W.T + vbias, **TOLERANCE[dtype])
    np.testing.assert_allclose(mean_v, expit(data_h @ W.T + vbias), **TOLERANCE[dtype])


def test_samples_are_binary_with_the_right_frequencies(mode):
    model = random_model(n_visible=4, n_hidden=3, scale=0.5)
    v = pt.matrix(dtype="float64")
    pre, mean, sample = model.sample_h_given_v(v)
    draw = compile_([v], [mean, sample], mode, updates=model.rng_updates())
    data = np.tile(np.array([[1.0, 0.0, 1.0, 1.0]]), (20000, 1))
    p, s = draw(data)
    assert set(np.unique(s)) <= {0.0, 1.0}
    # 20,000 Bernoulli draws per unit: the frequency is within 5 standard errors of p.
    np.testing.assert_allclose(s.mean(axis=0), p[0], atol=5 * np.sqrt(0.25 / 20000))
    assert not np.array_equal(draw(data)[1], s), "the generator must advance between calls"


def test_gibbs_steps_return_six_values_in_tutorial_order():
    model = random_model()
    v, h = pt.matrix(dtype="float64"), pt.matrix(dtype="float64")
    hvh = model.gibbs_hvh(h)
    vhv = model.gibbs_vhv(v)
    assert len(hvh) == len(vhv) == 6
    data_v = np.ones((2, 7))
    values = compile_([h, v], hvh + vhv, ONE_MODE, updates=model.rng_updates())(np.ones((2, 5)), data_v)
    shapes = [x.shape[1] for x in values]
    assert shapes == [7, 7, 7, 5, 5, 5, 5, 5, 5, 7, 7, 7]
    pre_h1 = values[6]
    np.testing.assert_allclose(pre_h1, data_v @ model.W.get_value() + model.hbias.get_value())


def test_gibbs_steps_condition_each_layer_on_the_previous_sample():
    """Each half-step's activation is the previous half-step's binary *sample* times W plus a bias (numpy),
    in both orders: a step that read the previous means instead (in (0, 1), not binary) would differ."""
    model = random_model()
    W, hbias, vbias = numpy_params(model)
    v, h = pt.matrix(dtype="float64"), pt.matrix(dtype="float64")
    outputs = model.gibbs_hvh(h) + model.gibbs_vhv(v)
    rng = np.random.default_rng(8)
    h0, v0 = (rng.random((20, 5)) < 0.5).astype(float), (rng.random((20, 7)) < 0.5).astype(float)
    (pre_v1, mean_v1, v1, pre_h1, mean_h1, h1,
     pre_h1_vhv, mean_h1_vhv, h1_vhv, pre_v1_vhv, mean_v1_vhv, v1_vhv) = compile_(
        [h, v], outputs, ONE_MODE, updates=model.rng_updates())(h0, v0)
    for sample in (v1, h1, h1_vhv, v1_vhv):
        assert set(np.unique(sample)) <= {0.0, 1.0}
    tolerance = TOLERANCE["float64"]
    # gibbs_hvh: h0 -> v1 -> h1
    np.testing.assert_allclose(pre_v1, h0 @ W.T + vbias, **tolerance)
    np.testing.assert_allclose(mean_v1, expit(h0 @ W.T + vbias), **tolerance)
    np.testing.assert_allclose(pre_h1, v1 @ W + hbias, **tolerance)
    np.testing.assert_allclose(mean_h1, expit(v1 @ W + hbias), **tolerance)
    # gibbs_vhv: v0 -> h1 -> v1
    np.testing.assert_allclose(pre_h1_vhv, v0 @ W + hbias, **tolerance)
    np.testing.assert_allclose(pre_v1_vhv, h1_vhv @ W.T + vbias, **tolerance)
    np.testing.assert_allclose(mean_v1_vhv, expit(h1_vhv @ W.T + vbias), **tolerance)
    # the check can fail: the means give activations far from the samples' ones
    assert np.abs((mean_v1 - v1) @ W).max() > 0.5 and np.abs((mean_h1_vhv - h1_vhv) @ W.T).max() > 0.5


# ------------------------------------------------------------------- learning
def test_cd_gradient_is_data_minus_model_statistics(dtype):
    """The gradient given the chain's end (replaced by a constant); the chain itself is tested below."""
    model = random_model(dtype=dtype)
    cost, gradients, updates = model.get_cost_gradients(k=3)
    v_model = (np.random.default_rng(5).random((6, 7)) < 0.5).astype(dtype)
    v_data = (np.random.default_rng(6).random((6, 7)) < 0.5).astype(dtype)
    got = compile_([model.input], fix_chain_end(gradients, v_model), ONE_MODE)(v_data)
    expected = reference.cd_gradients(v_data.astype(float), v_model.astype(float), *numpy_params(model))
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, **TOLERANCE[dtype])


def test_get_cost_updates_pcd_updates_params_chain_bit_and_rng():
    model = random_model()
    chain = pytensor.shared(np.zeros((3, 5)))
    cost, updates = model.get_cost_updates(lr=0.5, persistent=chain, k=2)
    assert set(updates) == {model.W, model.hbias, model.vbias, chain, model.bit_i_idx, model.rng}
    step = compile_([model.input], cost, ONE_MODE, updates=updates)
    W_before = model.W.get_value()
    data = np.eye(7)[:3]
    bit_before = int(model.bit_i_idx.get_value())
    expected = reference.pseudo_likelihood_cost(data, bit_before, *numpy_params(model))
    np.testing.assert_allclose(step(data), expected, rtol=1e-12)
    assert int(model.bit_i_idx.get_value()) == (bit_before + 1) % 7
    assert not np.array_equal(model.W.get_value(), W_before)
    assert set(np.unique(chain.get_value())) <= {0.0, 1.0}


def test_bit_index_wraps_modulo_n_visible():
    model = random_model(n_visible=3)
    chain = pytensor.shared(np.zeros((2, 5)))
    cost, updates = model.get_cost_updates(lr=0.01, persistent=chain, k=1)
    step = compile_([model.input], cost, ONE_MODE, updates=updates)
    seen = []
    for _ in range(5):
        seen.append(int(model.bit_i_idx.get_value()))
        step(np.ones((2, 3)))
    assert seen == [0, 1, 2, 0, 1]


def test_get_cost_updates_cd_monitors_reconstruction():
    model = random_model()
    cost, updates = model.get_cost_updates(lr=0.1, k=1)
    assert set(updates) == {model.W, model.hbias, model.vbias, model.rng}
    value = compile_([model.input], cost, ONE_MODE, updates=updates)(np.eye(7)[:4])
    assert np.isfinite(value) and value < 0  # a mean log-probability of 7 bits


def test_pseudo_likelihood_rounds_grey_input():
    """The tutorial's pseudo-likelihood rounds its input to binary: grey rows score as their rounded rows
    (reference.pseudo_likelihood_cost rounds too), bit after bit."""
    model = random_model()
    updates = {}
    function = compile_([model.input], model.get_pseudo_likelihood_cost(updates), ONE_MODE, updates=updates)
    rng = np.random.default_rng(9)
    # grey values in [0.05, 0.45] and [0.55, 0.95]: none at 0.5, where rounding conventions differ
    grey = rng.uniform(0.05, 0.45, (6, 7)) + 0.5 * (rng.random((6, 7)) < 0.5)
    for bit in range(3):
        expected = reference.pseudo_likelihood_cost(grey, bit, *numpy_params(model))
        np.testing.assert_allclose(function(grey), expected, **TOLERANCE["float64"])


def chain_end_of(graph):
    """The Gibbs chain's end (visible states) that the gradient ``graph`` reads."""
    return next(var for var in ancestors(graph) if var.name == "chain_end")


def fix_chain_end(graph, v_model):
    """``graph`` with the Gibbs chain's end replaced by the constant ``v_model``."""
    return graph_replace(graph, {chain_end_of(graph): pt.constant(v_model)})


def test_sgd_update_is_param_minus_lr_times_gradient():
    model = random_model()
    _, gradients, _ = model.get_cost_gradients(k=1)
    _, updates = model.get_cost_updates(lr=0.25, k=1)
    v_model, data = np.eye(7)[2:5], np.eye(7)[:3]
    grad_W = compile_([model.input], fix_chain_end(gradients, v_model)[0], ONE_MODE)(data)
    new_W = compile_([model.input], fix_chain_end([updates[model.W]], v_model)[0], ONE_MODE)(data)
    np.testing.assert_allclose(new_W, model.W.get_value() - 0.25 * grad_W, rtol=1e-12)


# ------------------------------------------------- Gibbs chains against exact enumeration
#: independent chains per check: the total variation distance of their end states from the exact
#: distribution stays below reference.tv_threshold (about 0.04 for 32 states) but for a chance of 1e-6
N_CHAINS = 20000


def slow_rbm():
    """A 3-2 RBM (non-square, so a transposed W fails) whose Gibbs chain forgets its start slowly.

    Its hidden chain's second eigenvalue is 0.6, so the exact distributions after 1, 2, 3 ... steps
    differ by far more than the sampling noise: the number of steps k and the persistence of the chain
    change what a correct sampler gives (each test checks that its alternatives are told apart).
    Chains start far from equilibrium: from v = 0 (p(v = 0) is 0.001) or h = 0 (p(h = 0) is 0.03).
    """
    rng = np.random.default_rng(3)
    return RBM(n_visible=3, n_hidden=2, W=3.0 * rng.normal(size=(3, 2)), hbias=rng.normal(size=2),
               vbias=rng.normal(size=3), seed=0, dtype="float64")


@pytest.fixture(scope="module")
def slow_model():
    return slow_rbm()


def assert_distinguishable(exact, alternatives, threshold):
    """A sampler that followed any of ``alternatives`` instead of ``exact`` would fail the check."""
    for alternative in alternatives:
        assert 0.5 * np.abs(exact - alternative).sum() > 3 * threshold


@pytest.mark.parametrize("k", [1, 3])
def test_cd_chain_end_follows_the_exact_k_step_distribution(slow_model, k):
    """CD-k from data v0 = 0: h0 ~ p(h | v0), then k steps h -> v -> h; the gradient reads v_k."""
    up, down = reference.gibbs_kernels(*numpy_params(slow_model))
    _, gradients, updates = slow_model.get_cost_gradients(k=k)
    # k = 3 in NUMBA, whose transposes rbm patches (rbm.backend.patches); k = 1 in mode "cpu"
    mode = "NUMBA" if k == 3 else "cpu"
    chain_end = compile_([slow_model.input], chain_end_of(gradients), updates=updates, mode=mode)
    ends = chain_end(np.zeros((N_CHAINS, 3)))
    assert set(np.unique(ends)) <= {0.0, 1.0}

    def exact(steps):  # p(v_steps) from v0 = 0
        return reference.joint_after_step(up, down, reference.hidden_after(up, down, up[0], steps - 1)).sum(axis=1)

    threshold = reference.tv_threshold(N_CHAINS, 8)
    # one step more or fewer, or k ignored (always one step), would fail
    assert_distinguishable(exact(k), [exact(steps) for steps in {1, k - 1, k + 1} - {0, k}], threshold)
    assert reference.total_variation(reference.state_index(ends), exact(k)) < threshold


def test_cd_k_monitors_the_reconstruction_of_its_last_step():
    """CD-3's monitored cost, from data rows x = 0: mean over the chains of sum_i x_i a_i - softplus(a_i)
    (reference.reconstruction_cost) with a = h_2 W^T + b, the activation of the chain's last visible
    draw, h_2 the hidden state two steps after h_0 ~ p(h | x). Its expectation is exact by enumeration."""
    k, model = 3, slow_rbm()
    W, hbias, vbias = numpy_params(model)
    up, down = reference.gibbs_kernels(W, hbias, vbias)
    cost, _, updates = model.get_cost_gradients(k=k)
    data = np.zeros((N_CHAINS, 3))
    got = compile_([model.input], cost, "cpu", updates=updates)(data)
    activations = reference.all_binary_states(2) @ W.T + vbias  # a given each hidden state
    cost_given_h = np.array([reference.reconstruction_cost(data[:1], a[None]) for a in activations])

    def expected(steps):  # the cost read after ``steps`` steps
        return reference.hidden_after(up, down, up[0], steps - 1) @ cost_given_h

    # N_CHAINS independent chains, each row's cost within the range of cost_given_h: Hoeffding's margin
    margin = reference.hoeffding_margin(N_CHAINS, np.ptp(cost_given_h))
    # reading the first step's reconstruction (as CD-1), or one step more or fewer, would fail
    for other in (1, 2, 4):
        assert abs(expected(k) - expected(other)) > 2 * margin, other
    assert abs(got - expected(k)) < margin, (got, expected(k), margin)


def test_pcd_chain_continues_from_the_persistent_state(slow_model):
    """PCD-2 from h = 0: after call n the chain end and the new persistent state are (v, h) after 2n steps."""
    up, down = reference.gibbs_kernels(*numpy_params(slow_model))
    persistent = pytensor.shared(np.zeros((N_CHAINS, 2)))
    _, gradients, updates = slow_model.get_cost_gradients(persistent=persistent, k=2)
    assert slow_model.bit_i_idx in updates  # the pseudo-likelihood's bit; this test draws without it
    del updates[slow_model.bit_i_idx]
    step = compile_([], chain_end_of(gradients), updates=updates, mode="cpu")
    threshold = reference.tv_threshold(N_CHAINS, 32)

    def exact(steps):  # p(v_steps, h_steps) from h0 = 0, flattened as v * 4 + h
        return reference.joint_after_step(up, down, reference.hidden_after(up, down, np.eye(4)[0], steps - 1)).ravel()

    for call in range(1, 4):
        v = step()
        h = np.asarray(persistent.get_value())
        if call in (1, 3):
            # k ignored (one step per call), a step more, or a chain restarting from h = 0 at each call fail
            assert_distinguishable(exact(2 * call), [exact(call), exact(2 if call == 3 else 3)], threshold)
            index = reference.state_index(v) * 4 + reference.state_index(h)
            assert reference.total_variation(index, exact(2 * call)) < threshold, call


# ----------------------------------------------------------------- stability
EXTREME = [-1e4, -1e3, -40.0, -1.0, 0.0, 1.0, 40.0, 1e3, 1e4]


def test_reconstruction_cost_is_stable_at_extremes(mode, dtype):
    model = RBM(n_visible=len(EXTREME), n_hidden=2, dtype=dtype)
    pre = pt.matrix("pre", dtype=dtype)
    cost = model.get_reconstruction_cost({}, pre)
    function = compile_([model.input, pre], cost, mode)
    # Rows 1 and 2 hold activations symmetric about 0, where sum_i softplus(a_i) = sum_i softplus(-a_i);
    # row 3's sum to 18, not 0 (softplus(a) - softplus(-a) = a), so a sign error in the softplus shows.
    a = np.array([EXTREME, EXTREME[::-1], np.linspace(-2.0, 6.0, len(EXTREME))], dtype=dtype)
    for x in (np.zeros_like(a), np.ones_like(a), np.full_like(a, 0.5)):
        got = function(x, a)
        assert np.isfinite(got)
        np.testing.assert_allclose(got, reference.reconstruction_cost(x.astype(float), a.astype(float)),
                                   rtol=1e-6)
    assert log_of_sigmoid_nodes(function) == []


def test_free_energy_is_stable_at_extremes(mode, dtype):
    n = len(EXTREME)
    W = np.diag(EXTREME)  # row i of v = e_i gives activation EXTREME[i] on unit i, 0 elsewhere
    model = RBM(n_visible=n, n_hidden=n, W=W, dtype=dtype)
    v = pt.matrix(dtype=dtype)
    function = compile_([v], model.free_energy(v), mode)
    data = np.eye(n, dtype=dtype)
    got = function(data)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, reference.free_energy(data.astype(float), W, np.zeros(n), np.zeros(n)),
                               rtol=1e-6)
    assert log_of_sigmoid_nodes(function) == []


def test_pseudo_likelihood_is_stable_at_extremes(mode, dtype):
    model = RBM(n_visible=2, n_hidden=1, W=np.array([[1e4], [-1e4]]), vbias=np.array([1e3, -1e3]), dtype=dtype)
    updates = {}
    cost = model.get_pseudo_likelihood_cost(updates)
    function = compile_([model.input], cost, mode, updates=updates)
    data = np.array([[0.0, 1.0], [1.0, 0.0]], dtype=dtype)
    for bit in (0, 1):
        got = function(data)
        assert np.isfinite(got)
        expected = reference.pseudo_likelihood_cost(data.astype(float), bit, *numpy_params(model))
        np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert log_of_sigmoid_nodes(function) == []


def test_log_of_sigmoid_detector_finds_an_unstable_graph():
    """The graph check above can fail: it flags a log(sigmoid) that no rewrite removed."""
    x = pt.vector()
    unstable = backend.pytensor.function([x], pt.log(pt.sigmoid(x)),
                                         mode=backend.resolve_mode("FAST_COMPILE"))
    assert log_of_sigmoid_nodes(unstable)


# ----------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n_visible=0), ValueError, "n_visible"),
    (dict(n_hidden=-1), ValueError, "n_hidden"),
    (dict(n_visible=2.5), TypeError, "n_visible"),
    (dict(W=np.zeros((3, 3))), ValueError, "W must have shape"),
    (dict(hbias=np.zeros(3)), ValueError, "hbias must have shape"),
    (dict(vbias=np.zeros((4, 1))), ValueError, "vbias must be 1-D"),
    (dict(W=np.full((4, 2), np.nan)), ValueError, "NaN"),
    (dict(W="weights"), TypeError, "W must be a numeric array"),
    (dict(dtype="int32"), ValueError, "dtype"),
    (dict(numpy_rng="seed"), TypeError, "numpy_rng"),
    (dict(seed=-3), ValueError, "seed"),
])
def test_bad_constructor_arguments_are_refused(kwargs, error, match):
    arguments = {"n_visible": 4, "n_hidden": 2, **kwargs}
    with pytest.raises(error, match=match):
        RBM(**arguments)


def test_bad_k_and_lr_are_refused():
    model = random_model()
    with pytest.raises(ValueError, match="k must be >= 1"):
        model.get_cost_updates(k=0)
    with pytest.raises(ValueError, match="lr must be > 0"):
        model.get_cost_updates(lr=0.0)


def test_set_params_checks_all_before_setting_any():
    model = random_model()
    before = model.get_params()
    with pytest.raises(ValueError, match="vbias"):
        model.set_params(W=np.zeros((7, 5)), vbias=np.zeros(3))
    for name, value in model.get_params().items():
        np.testing.assert_array_equal(value, before[name])
