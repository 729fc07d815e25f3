"""rbm used exactly as the Theano tutorial's ``test_rbm`` and ``DBN.py`` use it, in every mode.

Written afresh in the tutorial's idioms (shared data and ``givens``, a
user-built ``scan`` over ``gibbs_vhv`` whose updates go to the compiled
function, shared weights, a symbolic learning rate), changed only where
PyTensor changed: ``pytensor`` for ``theano``, ``RandomStream`` for
``RandomStreams``, no ``In(lr, value=0.1)`` defaults. Random draws are checked
statistically on a fair-coin model (all weights and biases zero, so every
unit is on with probability 1/2): draws must be fresh at every scan step and
every call.
"""
import os
import warnings

import numpy as np
import pytest

import rbm
from rbm import backend
from rbm.backend import pt, pytensor

from . import reference
from .models.test_rbm import numpy_params, slow_rbm

N_CHAINS, N_UNITS, N_STEPS = 40, 25, 4
#: a mean of n fair coins lies within 5 standard errors of 1/2 (p ~ 6e-7 to fail by chance)
def assert_fair(samples):
    samples = np.asarray(samples)
    assert set(np.unique(samples)) <= {0.0, 1.0}
    assert abs(samples.mean() - 0.5) < 5 * 0.5 / np.sqrt(samples.size)


def assert_independent(a, b):
    """Two arrays of fair coins drawn independently agree on about half their entries, not all."""
    agreement = np.mean(np.asarray(a) == np.asarray(b))
    assert abs(agreement - 0.5) < 5 * 0.5 / np.sqrt(np.size(a)), f"draws agree on {agreement:.0%} of entries"


def random_stream(seed):
    """The tutorial's ``theano_rng``; PyTensor deprecates RandomStream itself (the user's choice, not rbm's)."""
    with pytest.warns(FutureWarning, match="RandomStream is deprecated"):
        return pytensor.tensor.random.utils.RandomStream(seed)


def fair_coin_rbm(x, n_visible=N_UNITS, n_hidden=N_UNITS):
    return rbm.RBM(input=x, n_visible=n_visible, n_hidden=n_hidden, W=np.zeros((n_visible, n_hidden)),
                   numpy_rng=np.random.RandomState(123), theano_rng=random_stream(1234))


def user_scan(step, start, n_steps):
    """``([...], updates) = scan(step, outputs_info=[None] * 5 + [start], n_steps=n_steps)``, the tutorial's call.

    PyTensor 3 deprecates returning updates from ``scan`` (and, inside it,
    the default updates that carry the step's random state out): these
    warnings are PyTensor's about what the user wrote, so they are checked
    here, not hidden. Each must come from PyTensor's scan module.
    """
    with pytest.warns(DeprecationWarning) as caught:
        result = pytensor.scan(step, outputs_info=[None] * 5 + [start], n_steps=n_steps, name="user_scan")
    signature = [w for w in caught if str(w.message).startswith("Scan return signature will change")]
    default_updates = [w for w in caught if str(w.message) == "Setting default_update is deprecated."]
    assert signature and len(signature) + len(default_updates) == len(caught), [str(w.message) for w in caught]
    assert all(w.filename.endswith(os.path.join("pytensor", "scan", "basic.py")) for w in default_updates)
    return result


# ------------------------------------------------------------------ dtypes
def test_the_model_takes_its_dtype_from_the_input():
    x = pt.matrix("x")  # PyTensor's default floatX, float64
    assert rbm.RBM(input=x, n_visible=4, n_hidden=3, numpy_rng=np.random.RandomState(1)).dtype == x.dtype
    x32 = pt.matrix("x", dtype="float32")
    assert rbm.RBM(input=x32, n_visible=4, n_hidden=3).W.dtype == "float32"
    shared_W = pytensor.shared(np.zeros((4, 3)))
    assert rbm.RBM(n_visible=4, n_hidden=3, W=shared_W).dtype == "float64"


@pytest.mark.parametrize("kwargs, match", [
    (dict(input=pt.matrix(dtype="float32"), W=pytensor.shared(np.zeros((4, 3)))),
     "input is float32, shared W is float64"),
    (dict(input=pt.matrix(dtype="float64"), dtype="float32"), "dtype is float32, input is float64"),
    (dict(hbias=pytensor.shared(np.zeros(3, dtype="float32")), vbias=pytensor.shared(np.zeros(4))),
     "shared hbias is float32, shared vbias is float64"),
])
def test_pieces_that_disagree_on_the_dtype_are_refused(kwargs, match):
    with pytest.raises(TypeError, match=match):
        rbm.RBM(n_visible=4, n_hidden=3, **kwargs)


def test_a_persistent_chain_of_another_dtype_or_width_is_refused():
    model = rbm.RBM(input=pt.matrix("x", dtype="float32"), n_visible=4, n_hidden=3)
    with pytest.raises(TypeError, match="persistent has dtype float64 but the model uses float32"):
        model.get_cost_updates(persistent=pytensor.shared(np.zeros((2, 3))))
    with pytest.raises(ValueError, match="persistent has 5 columns"):
        model.get_cost_updates(persistent=pytensor.shared(np.zeros((2, 5), dtype="float32")))


# --------------------------------------------------------- random numbers
def test_a_user_scan_over_gibbs_steps_draws_fresh_numbers_per_step_and_per_call(mode):
    """Both Gibbs steps in the tutorial's scan (one function for both keeps the suite quick)."""
    x = pt.matrix("x")
    model = fair_coin_rbm(x)
    chains = [pytensor.shared(np.zeros((N_CHAINS, N_UNITS)), name=f"persistent_{method}_chain")
              for method in ("gibbs_vhv", "gibbs_hvh")]
    outputs, updates = {}, {}
    for method, chain in zip(("gibbs_vhv", "gibbs_hvh"), chains):
        method_outputs, method_updates = user_scan(getattr(model, method), chain, N_STEPS)
        method_updates.update({chain: method_outputs[-1][-1]})
        outputs[method] = method_outputs[-1]
        updates.update(method_updates)
    sample_fn = pytensor.function([], list(outputs.values()), updates=updates, mode=backend.resolve_mode(mode))
    calls = [sample_fn() for _ in range(3)]
    for i, chain in enumerate(chains):
        for steps in (call[i] for call in calls):
            assert steps.shape == (N_STEPS, N_CHAINS, N_UNITS)
            assert_fair(steps)
            for t in range(N_STEPS - 1):
                assert_independent(steps[t], steps[t + 1])
        assert_independent(calls[0][i], calls[1][i])
        assert_independent(calls[1][i], calls[2][i])
        np.testing.assert_array_equal(chain.get_value(), calls[-1][i][-1])  # the user's update moved the chain
    assert_independent(calls[0][0], calls[0][1])  # the two scans draw apart


def test_sampling_methods_in_a_users_function_draw_fresh_numbers_per_call(mode):
    x = pt.matrix("x")
    h = pt.matrix("h")
    model = fair_coin_rbm(x)
    draws = [model.sample_h_given_v(x)[2], model.sample_v_given_h(h)[2],
             model.gibbs_vhv(x)[2], model.gibbs_vhv(x)[5], model.gibbs_hvh(h)[2], model.gibbs_hvh(h)[5]]
    draw_fn = pytensor.function([x, h], draws, mode=backend.resolve_mode(mode))
    zeros = np.zeros((N_CHAINS, N_UNITS))
    first, second = draw_fn(zeros, zeros), draw_fn(zeros, zeros)
    for a, b in zip(first, second):
        assert_fair(a)
        assert_independent(a, b)
    for a, b in zip(first[:-1], first[1:]):  # each method call draws its own numbers
        assert_independent(a, b)


def test_the_tutorials_training_and_sampling_code_runs_and_draws_fresh_numbers(mode):
    """test_rbm's code: shared data, givens, PCD-k with (cost, updates), then the sampling scan."""
    rng = np.random.RandomState(123)
    data = (rng.uniform(size=(60, 16)) < np.linspace(0.1, 0.9, 16)).astype(pytensor.config.floatX)
    train_set_x = pytensor.shared(data, borrow=True)
    batch_size, n_hidden = 10, 8
    n_train_batches = train_set_x.get_value(borrow=True).shape[0] // batch_size
    index = pt.lscalar()
    x = pt.matrix("x")
    persistent_chain = pytensor.shared(np.zeros((batch_size, n_hidden), dtype=pytensor.config.floatX), borrow=True)
    model = rbm.RBM(input=x, n_visible=16, n_hidden=n_hidden, numpy_rng=rng, theano_rng=random_stream(7))
    cost, updates = model.get_cost_updates(lr=0.1, persistent=persistent_chain, k=3)
    train_rbm = pytensor.function([index], cost, updates=updates,
                                  givens={x: train_set_x[index * batch_size:(index + 1) * batch_size]},
                                  name="train_rbm", mode=backend.resolve_mode(mode))
    W_before = model.W.get_value()
    chains = []
    for _epoch in range(2):
        costs = [train_rbm(batch_index) for batch_index in range(n_train_batches)]
        assert np.all(np.isfinite(costs))
        chains.append(persistent_chain.get_value())
    assert not np.allclose(model.W.get_value(), W_before)
    assert_independent(chains[0], chains[1])  # the persistent chain moved on between epochs

    persistent_vis_chain = pytensor.shared(np.asarray(data[:N_CHAINS // 4], dtype=pytensor.config.floatX))
    (_, _, _, _, vis_mfs, vis_samples), updates = user_scan(model.gibbs_vhv, persistent_vis_chain, 3)
    updates.update({persistent_vis_chain: vis_samples[-1]})
    sample_fn = pytensor.function([], [vis_mfs[-1], vis_samples[-1]], updates=updates, name="sample_fn",
                                  mode=backend.resolve_mode(mode))
    (mean_1, sample_1), (mean_2, sample_2) = sample_fn(), sample_fn()
    for mean in (mean_1, mean_2):
        assert np.all((mean > 0) & (mean < 1))
    assert not np.array_equal(sample_1, sample_2)


def test_the_tutorials_sampling_scan_follows_the_exact_distribution():
    """The tutorial's sampling code (a user scan over gibbs_vhv, the chain moved on by the user's update)
    on a 3-2 model with asymmetric weights, 20,000 chains from v = 0: after call n the visible samples
    follow the exact distribution after 2n steps v -> h -> v, by enumeration (tests/reference.py)."""
    model = slow_rbm()
    up, down = reference.gibbs_kernels(*numpy_params(model))
    n_chains = 20000
    persistent_vis_chain = pytensor.shared(np.zeros((n_chains, 3)))
    (_, _, _, _, vis_mfs, vis_samples), updates = user_scan(model.gibbs_vhv, persistent_vis_chain, 2)
    updates.update({persistent_vis_chain: vis_samples[-1]})
    sample_fn = pytensor.function([], [vis_mfs[-1], vis_samples[-1]], updates=updates, name="sample_fn",
                                  mode=backend.resolve_mode("FAST_COMPILE"))
    threshold = reference.tv_threshold(n_chains, 8)

    def exact(steps):  # p(v) after `steps` steps from v = 0
        return reference.hidden_after(up, down, up[0], steps - 1) @ down

    for call in (1, 2):
        _, samples = sample_fn()
        # one step per call, or chains that restart from v = 0 at each call, would fail
        for wrong in {1: (1, 3), 2: (2, 3)}[call]:
            assert 0.5 * np.abs(exact(2 * call) - exact(wrong)).sum() > 3 * threshold
        assert reference.total_variation(reference.state_index(samples), exact(2 * call)) < threshold, call


def test_tutorial_style_training_equals_the_trainer():
    """The same graph piece in a user's function and inside Trainer gives the same weights (bit for bit).

    FAST_COMPILE runs both graphs op by op, so equal graphs give equal bits, and compiles in a second.
    """
    mode = "FAST_COMPILE"
    data = (np.random.RandomState(0).uniform(size=(40, 12)) < 0.4).astype("float64")
    models = [rbm.RBM(n_visible=12, n_hidden=5, numpy_rng=np.random.RandomState(3), seed=11, dtype="float64")
              for _ in range(2)]
    trainer = rbm.Trainer(models[0], learning_rate=0.05, k=2, persistent=True, batch_size=10, mode=mode)
    trainer.fit(data, epochs=2, verbose=False)

    user_model = models[1]
    train_set_x = pytensor.shared(data)
    index = pt.lscalar()
    chain = pytensor.shared(np.zeros((10, 5)))
    cost, updates = user_model.get_cost_updates(lr=0.05, persistent=chain, k=2)
    train = pytensor.function([index], cost, updates=updates,
                              givens={user_model.input: train_set_x[index * 10:(index + 1) * 10]},
                              mode=backend.resolve_mode(mode))
    costs = [[train(i) for i in range(4)] for _ in range(2)]
    for trained, user in zip(models[0].params, user_model.params):
        np.testing.assert_array_equal(trained.get_value(), user.get_value())
    np.testing.assert_array_equal(trainer.persistent_chain.get_value(), chain.get_value())
    assert [r["cost"] for r in trainer.history] == pytest.approx(np.mean(costs, axis=1), rel=1e-12)


# -------------------------------------------------- symbolic learning rate
def test_a_symbolic_learning_rate_gives_the_numeric_update():
    data = np.eye(6)[:4]
    results = []
    for symbolic in (False, True):
        model = rbm.RBM(n_visible=6, n_hidden=3, numpy_rng=np.random.RandomState(2), seed=5, dtype="float64")
        lr = pt.scalar("lr") if symbolic else 0.3
        cost, updates = model.get_cost_updates(lr=lr, persistent=None, k=1)
        inputs = [model.input, lr] if symbolic else [model.input]
        step = pytensor.function(inputs, cost, updates=updates, mode=backend.resolve_mode("FAST_COMPILE"))
        step(data, 0.3) if symbolic else step(data)
        results.append(model.W.get_value())
    np.testing.assert_array_equal(results[0], results[1])


def test_a_symbolic_learning_rate_must_be_a_real_scalar():
    model = rbm.RBM(n_visible=6, n_hidden=3)
    with pytest.raises(TypeError, match="real scalar"):
        model.get_cost_updates(lr=pt.vector("lr"))


# ------------------------------------------------------------ theano_rng
def test_theano_rng_may_be_a_shared_generator_or_a_random_stream():
    generator = pt.random.shared_rng(np.random.default_rng(5))
    model = rbm.RBM(n_visible=4, n_hidden=3, theano_rng=generator)
    assert model.rng is generator
    cost, updates = model.get_cost_updates(lr=0.1, k=1)
    assert generator in updates  # get_cost_updates advances the user's generator
    a = rbm.RBM(n_visible=4, n_hidden=3, theano_rng=random_stream(3), W=np.zeros((4, 3)))
    b = rbm.RBM(n_visible=4, n_hidden=3, theano_rng=random_stream(3), W=np.zeros((4, 3)))
    v = pt.matrix()
    draws = [pytensor.function([v], m.sample_h_given_v(v)[2], mode=backend.resolve_mode("NUMBA"))(np.zeros((50, 4)))
             for m in (a, b)]
    np.testing.assert_array_equal(*draws)  # same stream seed, same draws


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(theano_rng=12), TypeError, "theano_rng must be a PyTensor RandomStream or a shared random generator"),
    (dict(theano_rng=pt.random.shared_rng(np.random.default_rng(0)), seed=3), ValueError, "not both"),
])
def test_bad_theano_rng_is_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        rbm.RBM(n_visible=4, n_hidden=3, **kwargs)


def test_rbm_code_raises_no_pytensor_deprecation_warning():
    """Building and compiling every graph piece warns nothing when the user's code uses no deprecated API."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = pt.matrix("x")
        model = rbm.RBM(input=x, n_visible=5, n_hidden=4, seed=1)
        chain = pytensor.shared(np.zeros((3, 4)))
        pieces = [model.free_energy(x), *model.propup(x), *model.sample_h_given_v(x), *model.gibbs_vhv(x)]
        cost, updates = model.get_cost_updates(lr=pt.scalar("lr"), persistent=chain, k=2)
        backend.compile_function([x], pieces, mode="NUMBA")
