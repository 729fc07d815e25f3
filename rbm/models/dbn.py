"""The Theano tutorial's Deep Belief Network: sigmoid layers whose weights are RBMs' weights.

Each hidden layer is at once a sigmoid layer of a feed-forward network and
an :class:`rbm.RBM` sharing its W and hidden bias, whose input is the layer
below's output. Greedy pretraining trains the RBMs one by one with CD-k
(:meth:`DBN.pretraining_functions`); fine-tuning trains the whole network,
a softmax layer on top, by gradient descent on the negative log-likelihood
(:meth:`DBN.build_finetune_functions`). :class:`rbm.training.DBNTrainer`
runs both with early stopping.
"""
import numpy as np

from .. import backend
from ..backend import pt
from ..validation import check_float, check_positive_int, check_seed
from .layers import HiddenLayer, LogisticRegression
from .rbm import RBM, _as_numpy_rng

__all__ = ["DBN"]


def _as_shared_data(data, name, dtype=None):
    """A shared variable holding ``data``, or ``data`` itself when it is shared already (or symbolic y)."""
    if isinstance(data, backend.pytensor.graph.basic.Variable):
        return data
    if dtype is None:
        return backend.shared(data, name)
    return backend.pytensor.shared(np.asarray(data, dtype=dtype), name=name, borrow=True)


def _n_rows(data, name):
    """Rows of a shared or numpy matrix (the number of minibatches comes from it)."""
    if backend.is_shared(data):
        return data.get_value(borrow=True).shape[0]
    if isinstance(data, np.ndarray):
        return data.shape[0]
    raise TypeError(f"{name} must be a shared variable or a numpy array, got {type(data).__name__}")


class DBN:
    """Deep Belief Network, the tutorial's API: ``DBN(numpy_rng, theano_rng, n_ins, hidden_layers_sizes, n_outs)``.

    Attributes: ``sigmoid_layers`` (:class:`HiddenLayer`), ``rbm_layers``
    (:class:`rbm.RBM`, sharing W and hbias with them), ``logLayer``,
    ``params`` (every layer's W and b, bottom up), ``x`` (input matrix), ``y``
    (int32 labels), ``finetune_cost`` (negative log-likelihood) and
    ``errors`` (error rate).

    ``theano_rng`` (a PyTensor ``RandomStream`` or shared generator) or
    ``seed`` seeds the RBMs' samplers; with neither, seeds come from
    ``numpy_rng`` as the tutorial's do. ``dtype`` defaults to
    :func:`rbm.backend.get_floatx`.
    """

    def __init__(self, numpy_rng=None, theano_rng=None, n_ins=784, hidden_layers_sizes=(500, 500),
                 n_outs=10, dtype=None, seed=None):
        n_ins = check_positive_int(n_ins, "n_ins")
        n_outs = check_positive_int(n_outs, "n_outs")
        if isinstance(hidden_layers_sizes, (str, bytes)) or not hasattr(hidden_layers_sizes, "__len__"):
            raise TypeError("hidden_layers_sizes must be a list of layer widths")
        sizes = [check_positive_int(size, "hidden_layers_sizes[]") for size in hidden_layers_sizes]
        if not sizes:
            raise ValueError("hidden_layers_sizes must name at least one hidden layer")
        seed = check_seed(seed)
        if seed is not None and theano_rng is not None:
            raise ValueError("give seed or theano_rng, not both")
        dtype = backend.check_dtype(dtype)
        numpy_rng = _as_numpy_rng(numpy_rng)
        if theano_rng is None:
            seeds = (np.random.SeedSequence(seed).generate_state(len(sizes)) if seed is not None
                     else [numpy_rng.randint(2 ** 30) if hasattr(numpy_rng, "randint")
                           else numpy_rng.integers(2 ** 30) for _ in sizes])
        self.dtype = dtype
        self.n_layers = len(sizes)
        self.x = pt.matrix("x", dtype=dtype)
        self.y = pt.ivector("y")
        self.sigmoid_layers, self.rbm_layers, self.params = [], [], []
        for i, size in enumerate(sizes):
            input_size = n_ins if i == 0 else sizes[i - 1]
            layer_input = self.x if i == 0 else self.sigmoid_layers[-1].output
            sigmoid_layer = HiddenLayer(numpy_rng, layer_input, input_size, size, activation=pt.sigmoid,
                                        dtype=dtype)
            self.sigmoid_layers.append(sigmoid_layer)
            self.params.extend(sigmoid_layer.params)
            self.rbm_layers.append(RBM(
                input=layer_input, n_visible=input_size, n_hidden=size, W=sigmoid_layer.W,
                hbias=sigmoid_layer.b, numpy_rng=numpy_rng, theano_rng=theano_rng,
                seed=None if theano_rng is not None else int(seeds[i])))
        self.logLayer = LogisticRegression(self.sigmoid_layers[-1].output, sizes[-1], n_outs, dtype=dtype)
        self.params.extend(self.logLayer.params)
        self.finetune_cost = self.logLayer.negative_log_likelihood(self.y)
        self.errors = self.logLayer.errors(self.y)

    def pretraining_functions(self, train_set_x, batch_size, k, mode="cpu"):
        """One compiled function per RBM, ``fn(index, lr) -> reconstruction cost``, doing one CD-k update.

        ``train_set_x`` is a shared matrix (or numpy array) of training rows;
        ``index`` picks rows index * batch_size up to (index + 1) * batch_size
        and ``lr`` is the learning rate (PyTensor 3 has no default inputs, so
        pass it every call; the tutorial's default was 0.1).
        """
        batch_size = check_positive_int(batch_size, "batch_size")
        k = check_positive_int(k, "k")
        train_set_x = _as_shared_data(train_set_x, "train_set_x", self.dtype)
        index = pt.lscalar("index")
        learning_rate = pt.scalar("lr", dtype="float64")  # a Python float fits; the RBM casts it
        batch_begin = index * batch_size
        batch_end = batch_begin + batch_size
        functions = []
        for rbm in self.rbm_layers:
            cost, updates = rbm.get_cost_updates(learning_rate, persistent=None, k=k)
            functions.append(backend.compile_function(
                [index, learning_rate], cost, updates=updates,
                givens={self.x: train_set_x[batch_begin:batch_end]}, mode=mode, name="pretrain_fn"))
        return functions

    def build_finetune_functions(self, datasets, batch_size, learning_rate, mode="cpu"):
        """``(train_fn, valid_score, test_score)`` for fine-tuning by minibatch gradient descent.

        ``datasets`` is ``[(train_x, train_y), (valid_x, valid_y), (test_x,
        test_y)]``: shared matrices (or arrays) and integer label vectors
        (shared, symbolic such as the tutorial's ``pt.cast(shared_y,
        'int32')``, or arrays). ``train_fn(index)`` updates every parameter on
        minibatch ``index`` and returns its cost; ``valid_score()`` and
        ``test_score()`` return the error rate of each minibatch of the
        validation and test sets.
        """
        batch_size = check_positive_int(batch_size, "batch_size")
        learning_rate = check_float(learning_rate, "learning_rate", low=0.0, low_inclusive=False)
        if len(datasets) != 3:
            raise ValueError("datasets must hold three (x, y) pairs: train, valid, test")
        (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = [
            (_as_shared_data(x, f"{part}_x", self.dtype), _as_shared_data(y, f"{part}_y", "int32"))
            for (x, y), part in zip(datasets, ("train", "valid", "test"))]
        _n_rows(valid_x, "valid_x"), _n_rows(test_x, "test_x")  # refuse symbolic x now, not at scoring
        index = pt.lscalar("index")
        rows = slice(index * batch_size, (index + 1) * batch_size)
        gparams = pt.grad(self.finetune_cost, self.params)
        lr = np.asarray(learning_rate, dtype=self.dtype)
        updates = {param: param - gparam * lr for param, gparam in zip(self.params, gparams)}

        def givens(x, y):
            return {self.x: x[rows], self.y: pt.cast(y[rows], "int32")}

        train_fn = backend.compile_function([index], self.finetune_cost, updates=updates,
                                            givens=givens(train_x, train_y), mode=mode, name="train")
        valid_score_i = backend.compile_function([index], self.errors, givens=givens(valid_x, valid_y),
                                                 mode=mode, name="valid")
        test_score_i = backend.compile_function([index], self.errors, givens=givens(test_x, test_y),
                                                mode=mode, name="test")

        # The number of minibatches is read at each call, so new values of shared data are scored whole.
        def valid_score():
            return [float(valid_score_i(i)) for i in range(_n_rows(valid_x, "valid_x") // batch_size)]

        def test_score():
            return [float(test_score_i(i)) for i in range(_n_rows(test_x, "test_x") // batch_size)]

        return train_fn, valid_score, test_score

    def get_params(self):
        """Every parameter as a numpy array (copies), in the order of :attr:`params`."""
        return [np.array(p.get_value(borrow=True)) for p in self.params]

    def set_params(self, values):
        """Set every parameter from arrays in the order of :attr:`params`, all checked before any is set."""
        values = list(values)
        if len(values) != len(self.params):
            raise ValueError(f"expected {len(self.params)} arrays, got {len(values)}")
        checked = []
        for param, value in zip(self.params, values):
            value = np.asarray(value)
            current = param.get_value(borrow=True)
            if value.shape != current.shape:
                raise ValueError(f"{param.name} must have shape {current.shape}, got {value.shape}")
            if not np.all(np.isfinite(value)):
                raise ValueError(f"{param.name} holds NaN or infinite values")
            checked.append(value.astype(self.dtype))
        for param, value in zip(self.params, checked):
            param.set_value(value)

    def __repr__(self):
        widths = [self.rbm_layers[0].n_visible] + [r.n_hidden for r in self.rbm_layers]
        return f"DBN({'-'.join(map(str, widths))}-{self.logLayer.b.get_value(borrow=True).shape[0]}, dtype={self.dtype!r})"
