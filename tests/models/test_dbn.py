"""The DBN and its layers: the tutorial's API in every mode, and fine-tuning against a numpy reference."""
import numpy as np
import pytest
from scipy.special import expit, log_softmax

import rbm
from rbm import backend
from rbm.backend import pt, pytensor

from .. import reference
from .test_rbm import slow_rbm


def prototypes_dataset(n_rows, seed, n_ins=16, n_classes=3, flip=0.1):
    """Rows are one of ``n_classes`` random binary prototypes with ``flip`` of their bits flipped."""
    prototypes = (np.random.RandomState(99).uniform(size=(n_classes, n_ins)) < 0.5).astype(float)
    rng = np.random.RandomState(seed)
    y = rng.randint(n_classes, size=n_rows)
    X = np.abs(prototypes[y] - (rng.uniform(size=(n_rows, n_ins)) < flip))
    return X, y


def shared_dataset(X, y, dtype="float32"):
    """The tutorial's shared_dataset: floats on the device (the tutorial's are floatX), labels cast to int32."""
    shared_x = pytensor.shared(np.asarray(X, dtype=dtype), borrow=True)
    shared_y = pytensor.shared(np.asarray(y, dtype=dtype), borrow=True)
    return shared_x, pt.cast(shared_y, "int32")


def small_dbn(**kwargs):
    arguments = dict(numpy_rng=np.random.RandomState(123), n_ins=16, hidden_layers_sizes=[12, 8], n_outs=3,
                     seed=4)
    return rbm.DBN(**{**arguments, **kwargs})


def test_layers_share_their_weights_with_the_rbms():
    dbn = small_dbn()
    assert len(dbn.sigmoid_layers) == len(dbn.rbm_layers) == dbn.n_layers == 2
    for layer, machine in zip(dbn.sigmoid_layers, dbn.rbm_layers):
        assert machine.W is layer.W and machine.hbias is layer.b
    assert dbn.rbm_layers[1].input is dbn.sigmoid_layers[0].output
    assert dbn.params == [dbn.sigmoid_layers[0].W, dbn.sigmoid_layers[0].b, dbn.sigmoid_layers[1].W,
                          dbn.sigmoid_layers[1].b, dbn.logLayer.W, dbn.logLayer.b]
    bound = 4 * np.sqrt(6 / (16 + 12))
    assert np.abs(dbn.sigmoid_layers[0].W.get_value()).max() <= bound


def test_the_tutorials_dbn_code_pretrains_and_finetunes(mode):
    """DBN.py's test_DBN loop on a subset: pretraining moves the shared layers, fine-tuning learns."""
    train, valid, test = (shared_dataset(*prototypes_dataset(n, seed)) for n, seed in ((200, 1), (60, 2), (60, 3)))
    dbn = small_dbn(dtype="float32")
    batch_size = 10
    n_train_batches = train[0].get_value(borrow=True).shape[0] // batch_size
    pretraining_fns = dbn.pretraining_functions(train_set_x=train[0], batch_size=batch_size, k=1, mode=mode)
    assert len(pretraining_fns) == 2
    for i, function in enumerate(pretraining_fns):
        before = [p.get_value() for p in dbn.params]
        costs = [function(index=batch_index, lr=0.1) for batch_index in range(n_train_batches)]
        assert np.all(np.isfinite(costs))
        after = [p.get_value() for p in dbn.params]
        changed = [not np.array_equal(a, b) for a, b in zip(before, after)]
        # only layer i's W and b move (and its RBM's visible bias, which is not a DBN parameter)
        assert changed == [j // 2 == i for j in range(6)]

    train_fn, validate_model, test_model = dbn.build_finetune_functions(
        datasets=[train, valid, test], batch_size=batch_size, learning_rate=0.1, mode=mode)
    first = np.mean(validate_model())
    assert len(validate_model()) == 6 and len(test_model()) == 6
    for _epoch in range(15):
        costs = [train_fn(minibatch_index) for minibatch_index in range(n_train_batches)]
    assert np.all(np.isfinite(costs))
    assert np.mean(validate_model()) < min(first, 0.1)
    assert np.mean(test_model()) < 0.1


def one_layer_dbn(n_ins, n_hidden, **rbm_params):
    """A float64 DBN with one hidden layer whose RBM has the parameters ``rbm_params`` (W and hbias are the
    sigmoid layer's too)."""
    dbn = rbm.DBN(numpy_rng=0, n_ins=n_ins, hidden_layers_sizes=[n_hidden], n_outs=2, seed=0, dtype="float64")
    dbn.rbm_layers[0].set_params(**rbm_params)
    return dbn


def rbm_arrays(dbn):
    """The first RBM's W, hbias and vbias as float64 arrays."""
    return [np.asarray(p.get_value(), dtype=np.float64) for p in dbn.rbm_layers[0].params]


def test_pretraining_runs_chains_of_k_gibbs_steps():
    """CD-3 pretraining of the 3-2 RBM of tests/models/test_rbm.py's slow_rbm, one minibatch of n rows x = 0.

    Its visible-bias step is lr (mean x - mean v_k), v_k the chains' visible ends, so the step gives the
    chains' per-unit mean; each must be the exact marginal of v after 3 Gibbs steps from x (enumeration).
    """
    k, n_rows, lr = 3, 10000, 1.0
    slow = slow_rbm()
    up, down = reference.gibbs_kernels(*[np.asarray(p.get_value()) for p in slow.params])
    dbn = one_layer_dbn(3, 2, **slow.get_params())
    data = np.zeros((n_rows, 3))
    pretrain = dbn.pretraining_functions(data, batch_size=n_rows, k=k, mode="FAST_COMPILE")[0]
    vbias_before = rbm_arrays(dbn)[2]
    pretrain(0, lr)
    chain_end_means = data.mean(axis=0) - (rbm_arrays(dbn)[2] - vbias_before) / lr

    def exact(steps):  # p(v_i = 1) after ``steps`` steps from v0 = 0
        return reference.hidden_after(up, down, up[0], steps - 1) @ down @ reference.all_binary_states(3)

    # n_rows independent chains, values in [0, 1]: Hoeffding's margin, with a union bound over the 3 units
    margin = reference.hoeffding_margin(n_rows, 1.0, failure_probability=1e-6 / 3)
    for other in (1, 2, 4):  # k ignored (CD-1), or a step more or fewer, would fail
        assert np.abs(exact(k) - exact(other)).max() > 2 * margin, other
    np.testing.assert_array_less(np.abs(chain_end_means - exact(k)), margin)


def test_a_pretraining_step_is_numpys_cd_step_on_its_minibatch_rows():
    """Minibatch 1 of size 5 is rows 5 to 9: one CD-1 step moves W, c and b by -lr times the CD gradient
    of reference.cd_gradients on exactly those rows.

    The visible biases are saturated (+-30, while |W h| < 2): every chain ends at v* = (1, 0, 1, 0), but
    for a chance below 1e-10, so the step is exactly computable (as test_trainer.py's saturated_model).
    """
    rng = np.random.default_rng(11)
    dbn = one_layer_dbn(4, 3, W=0.3 * rng.normal(size=(4, 3)), hbias=rng.normal(size=3),
                        vbias=np.array([30.0, -30.0, 30.0, -30.0]))
    data = (np.random.default_rng(12).random((15, 4)) < 0.5).astype(float)
    pretrain = dbn.pretraining_functions(data, batch_size=5, k=1, mode="FAST_COMPILE")[0]
    before = rbm_arrays(dbn)
    pretrain(1, 0.2)
    gradients = reference.cd_gradients(data[5:10], np.tile([1.0, 0.0, 1.0, 0.0], (5, 1)), *before)
    for name, got, param, gradient in zip(("W", "hbias", "vbias"), rbm_arrays(dbn), before, gradients):
        np.testing.assert_allclose(got, param - 0.2 * gradient, rtol=1e-12, atol=1e-12, err_msg=name)


def numpy_predictions(params, X):
    """The class a sigmoid network with a softmax top predicts for each row: argmax of the logits."""
    *hidden, W_out, b_out = params
    activation = X
    for W, b in zip(hidden[::2], hidden[1::2]):
        activation = expit(activation @ W + b)
    return np.argmax(activation @ W_out + b_out, axis=1)


@pytest.mark.parametrize("data_dtype, dbn_dtype, mode", [
    ("float64", None, None),  # issue 15: PyTensor's default floatX data, rbm's default (float32) network
    ("float32", None, "NUMBA"),  # the other pairs in a mode that compiles faster
    ("float32", "float64", "NUMBA"),
])
def test_the_tutorials_driver_takes_shared_data_of_any_float_type(data_dtype, dbn_dtype, mode):
    """DBN.py's driver as written (shared floatX data, no mode), with data of another dtype than the DBN's.

    Each minibatch is cast to the DBN's dtype: pretraining runs, and a fine-tuning step and the scores
    agree with numpy on the same rows, so the cast data are the data (nothing dropped or reinterpreted).
    """
    assert pytensor.config.floatX == "float64"  # PyTensor's default, which the tutorial's data take
    (train_x, train_y), valid, test = ((prototypes_dataset(n, seed)) for n, seed in ((40, 1), (20, 2), (20, 3)))
    datasets = [shared_dataset(X, y, data_dtype) for X, y in ((train_x, train_y), valid, test)]
    arguments = dict(numpy_rng=np.random.RandomState(123), n_ins=16, hidden_layers_sizes=[5, 4], n_outs=3)
    dbn = rbm.DBN(**arguments) if dbn_dtype is None else rbm.DBN(**arguments, dtype=dbn_dtype)
    assert dbn.dtype == (dbn_dtype or backend.get_floatx())
    mode_argument = {} if mode is None else {"mode": mode}  # the tutorial passes none: rbm's default
    pretraining_fns = dbn.pretraining_functions(train_set_x=datasets[0][0], batch_size=10, k=1, **mode_argument)
    costs = [function(index=index, lr=0.1) for function in pretraining_fns for index in range(4)]
    assert np.all(np.isfinite(costs))

    dbn.logLayer.W.set_value(np.random.RandomState(8).normal(size=(4, 3)).astype(dbn.dtype))
    before = [p.astype(np.float64) for p in dbn.get_params().values()]
    train_fn, validate_model, test_model = dbn.build_finetune_functions(
        datasets=datasets, batch_size=10, learning_rate=0.1, **mode_argument)
    for score, (X, y) in ((validate_model, valid), (test_model, test)):
        wrong = [np.sum(numpy_predictions(before, X[i:i + 10]) != y[i:i + 10]) for i in (0, 10)]
        np.testing.assert_array_equal(np.round(np.array(score()) * 10), wrong)  # errors per minibatch of 10
    # The rows as the DBN sees them: the data's dtype, then the network's (both exact for binary rows).
    rows = train_x[10:20].astype(data_dtype).astype(dbn.dtype).astype(np.float64)
    expected_cost, expected = numpy_finetune_step(before, rows, train_y[10:20], 0.1)
    # float32 keeps ~7 significant digits; a 16-5-4-3 network's sums lose at most a few of them (rtol 1e-5)
    tolerance = 1e-12 if dbn.dtype == "float64" else 1e-5
    np.testing.assert_allclose(train_fn(1), expected_cost, rtol=tolerance)
    for got, want in zip(dbn.get_params().values(), expected):
        np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance)


def numpy_finetune_step(params, X, y, lr):
    """One gradient step on the mean negative log-likelihood of a sigmoid network with a softmax top."""
    *hidden, W_out, b_out = params
    activations = [X]
    for W, b in zip(hidden[::2], hidden[1::2]):
        activations.append(expit(activations[-1] @ W + b))
    logits = activations[-1] @ W_out + b_out
    nll = -np.mean(log_softmax(logits, axis=1)[np.arange(len(y)), y])
    delta = (np.exp(log_softmax(logits, axis=1)) - np.eye(W_out.shape[1])[y]) / len(y)
    gradients = [activations[-1].T @ delta, delta.sum(axis=0)]
    weights = [W_out] + hidden[::2][::-1]
    for layer in range(len(hidden) // 2 - 1, -1, -1):
        above = weights[len(hidden) // 2 - 1 - layer]
        delta = (delta @ above.T) * activations[layer + 1] * (1 - activations[layer + 1])
        gradients = [activations[layer].T @ delta, delta.sum(axis=0)] + gradients
    return nll, [p - lr * g for p, g in zip(params, gradients)]


def test_a_finetuning_step_matches_numpy_backpropagation():
    X, y = prototypes_dataset(30, seed=5)
    dbn = small_dbn(dtype="float64")
    rng = np.random.RandomState(8)
    dbn.logLayer.W.set_value(rng.normal(size=(8, 3)))  # zero output weights would give zero hidden gradients
    before = list(dbn.get_params().values())
    datasets = [(X, y), (X, y), (X, y)]
    train_fn, _, _ = dbn.build_finetune_functions(datasets, batch_size=10, learning_rate=0.2, mode="NUMBA")
    cost = train_fn(1)
    expected_cost, expected = numpy_finetune_step(before, X[10:20], y[10:20], 0.2)
    np.testing.assert_allclose(cost, expected_cost, rtol=1e-12)
    for got, want in zip(dbn.get_params().values(), expected):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_get_params_names_every_parameter_in_the_order_of_params_and_set_params_restores_them():
    dbn = small_dbn(dtype="float64")
    params = dbn.get_params()
    assert list(params) == ["hidden_0_W", "hidden_0_b", "hidden_1_W", "hidden_1_b", "output_W", "output_b"]
    for array, variable in zip(params.values(), dbn.params):
        np.testing.assert_array_equal(array, variable.get_value())
        assert array is not variable.get_value(borrow=True)  # a copy
    rng = np.random.RandomState(0)
    changed = {name: rng.normal(size=array.shape) for name, array in params.items()}
    dbn.set_params(**changed)
    for name, array in dbn.get_params().items():
        np.testing.assert_array_equal(array, changed[name])
    dbn.set_params(output_b=params["output_b"])  # any subset, as RBM.set_params
    np.testing.assert_array_equal(dbn.logLayer.b.get_value(), params["output_b"])
    np.testing.assert_array_equal(dbn.logLayer.W.get_value(), changed["output_W"])


@pytest.mark.parametrize("values, error, match", [
    (dict(hidden_2_W=np.zeros((8, 3))), TypeError, "unknown parameters"),
    (dict(hidden_0_b=np.zeros(11)), ValueError, r"hidden_0_b must have shape \(12,\)"),
    (dict(output_W=np.full((8, 3), np.nan)), ValueError, "output_W holds NaN"),
])
def test_set_params_refuses_bad_arrays_and_changes_nothing(values, error, match):
    dbn = small_dbn()
    before = dbn.get_params()
    with pytest.raises(error, match=match):
        dbn.set_params(hidden_0_W=np.zeros((16, 12)), **values)
    for name, array in dbn.get_params().items():
        np.testing.assert_array_equal(array, before[name])


def test_logistic_regression_matches_numpy_and_stays_finite():
    x = pt.matrix("x", dtype="float64")
    y = pt.ivector("y")
    layer = rbm.LogisticRegression(x, n_in=2, n_out=3)
    layer.W.set_value(np.array([[1e4, 0.0, -1e4], [0.0, 1.0, 0.0]]))
    data = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    labels = np.array([2, 1, 0], dtype=np.int32)
    nll, errors = backend.compile_function([x, y], [layer.negative_log_likelihood(y), layer.errors(y)],
                                           mode="NUMBA")(data, labels)
    logits = data @ layer.W.get_value()
    assert np.isfinite(nll)
    np.testing.assert_allclose(nll, -np.mean(log_softmax(logits, axis=1)[np.arange(3), labels]), rtol=1e-12)
    assert errors == pytest.approx(np.mean(np.argmax(logits, axis=1) != labels))


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(hidden_layers_sizes=[]), ValueError, "at least one hidden layer"),
    (dict(hidden_layers_sizes=[5, 0]), ValueError, "hidden_layers_sizes"),
    (dict(hidden_layers_sizes="500"), TypeError, "list of layer widths"),
    (dict(n_ins=0), ValueError, "n_ins"),
    (dict(dtype="int8"), ValueError, "dtype"),
])
def test_bad_dbn_arguments_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        small_dbn(**kwargs)


def test_errors_refuse_float_labels():
    layer = rbm.LogisticRegression(pt.matrix("x"), n_in=2, n_out=3)
    with pytest.raises(TypeError, match="integer labels"):
        layer.errors(pt.vector("y"))
