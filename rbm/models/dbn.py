"""The Theano tutorial's Deep Belief Network: sigmoid layers whose weights are RBMs' weights.

Each hidden layer is at once a sigmoid layer of a feed-forward network and
an :class:`rbm.RBM` sharing its W and hidden bias, whose input is the layer
below's output. Greedy pretraining trains the RBMs one by one with CD-k
(:meth:`DBN.pretraining_functions`); fine-tuning trains the whole network,
a softmax layer on top, by gradient descent on the negative log-likelihood
(:meth:`DBN.build_finetune_functions`). :class:`rbm.training.DBNTrainer`
runs both with early stopping.
"""
import collections.abc
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import backend
from .._compat import ParamsDict, keyword_only, warn_deprecated
from ..backend import pt
from ..validation import check_array, check_float, check_positive_int, check_seed
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


def _check_matrix(data, name):
    """Refuse a shared or symbolic ``data`` that is not a real matrix (numpy arrays are checked by conversion)."""
    if isinstance(data, backend.pytensor.graph.basic.Variable):
        if data.ndim != 2 or data.dtype.startswith("complex"):
            raise TypeError(f"{name} must be a real matrix (n_rows, n_ins), got {data.type}")
    return data


def _n_rows(data, name):
    """Rows of a shared or numpy matrix (the number of minibatches comes from it)."""
    if backend.is_shared(data):
        return data.get_value(borrow=True).shape[0]
    if isinstance(data, np.ndarray):
        return data.shape[0]
    raise TypeError(f"{name} must be a shared variable or a numpy array, got {type(data).__name__}")


class DBN:
    """Deep Belief Network, the tutorial's API: ``DBN(numpy_rng, theano_rng, n_ins, hidden_layers_sizes, n_outs)``.

    Parameters
    ----------
    numpy_rng : numpy RandomState, Generator or int, optional
        Draws the initial weights (the tutorial's ``RandomState(1234)`` by
        default) and, without ``theano_rng`` or ``seed``, the RBMs' seeds.
    theano_rng : PyTensor ``RandomStream`` or shared generator, optional
        Seeds the RBMs' samplers, as in the tutorial.
    n_ins : int, default 784
        Input width.
    hidden_layers_sizes : sequence of int, default (500, 500)
        Width of each hidden layer, bottom up (at least one).
    n_outs : int, default 10
        Number of classes.
    seed : int, optional, keyword-only
        Seeds the RBMs' samplers instead of ``theano_rng``.
    dtype : "float32" or "float64", optional, keyword-only
        The parameters' float type, :func:`rbm.backend.get_floatx` by
        default. Data of any float type is accepted: the compiled functions
        cast each minibatch to it (the tutorial's data are shared variables
        of PyTensor's floatX, float64 by default).

    Attributes
    ----------
    sigmoid_layers : list of HiddenLayer
    rbm_layers : list of RBM
        Sharing W and hbias with the sigmoid layers, so pretraining moves
        the network's weights.
    logLayer : LogisticRegression
    params : list of shared variables
        Every layer's W and b, bottom up.
    x : symbolic matrix
        The input.
    y : symbolic int32 vector
        The labels.
    finetune_cost : symbolic scalar
        The negative log-likelihood of ``y``.
    errors : symbolic scalar
        The error rate.

    Examples
    --------
    >>> import numpy as np
    >>> import rbm
    >>> dbn = rbm.DBN(numpy_rng=np.random.RandomState(123), n_ins=784, hidden_layers_sizes=[1000, 1000, 1000],
    ...               n_outs=10, seed=0)
    >>> dbn, len(dbn.rbm_layers), dbn.rbm_layers[1].W is dbn.sigmoid_layers[1].W
    (DBN(784-1000-1000-1000-10, dtype='float32'), 3, True)
    """

    @keyword_only("dtype", "seed")  # the old positional order
    def __init__(self, numpy_rng: np.random.Generator | np.random.RandomState | int | None = None, theano_rng=None,
                 n_ins: int = 784, hidden_layers_sizes: Sequence[int] = (500, 500), n_outs: int = 10, *,
                 seed: int | None = None, dtype: str | None = None) -> None:
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

    @keyword_only("mode")
    def pretraining_functions(self, train_set_x: ArrayLike | pt.TensorVariable, batch_size: int, k: int, *,
                              mode: str = "cpu") -> list[Callable[..., Any]]:
        """One compiled function per RBM, ``fn(index, lr) -> reconstruction cost``, doing one CD-k update.

        ``index`` picks rows index * batch_size up to (index + 1) * batch_size
        and ``lr`` is the learning rate (PyTensor 3 has no default inputs, so
        pass it every call; the tutorial's default was 0.1).

        Parameters
        ----------
        train_set_x : shared matrix or numpy array (n, n_ins)
            The training rows, of any float type (each minibatch is cast to
            the DBN's dtype).
        batch_size : int >= 1
        k : int >= 1
            Gibbs steps of CD-k.
        mode : str, default "cpu", keyword-only
            Compile mode (:func:`rbm.backend.resolve_mode`).

        Returns
        -------
        list of compiled functions
            One per layer, bottom up.
        """
        batch_size = check_positive_int(batch_size, "batch_size")
        k = check_positive_int(k, "k")
        train_set_x = _check_matrix(_as_shared_data(train_set_x, "train_set_x", self.dtype), "train_set_x")
        index = pt.lscalar("index")
        learning_rate = pt.scalar("lr", dtype="float64")  # a Python float fits; the RBM casts it
        batch_begin = index * batch_size
        batch_end = batch_begin + batch_size
        functions = []
        for rbm in self.rbm_layers:
            cost, updates = rbm.get_cost_updates(learning_rate, persistent=None, k=k)
            functions.append(backend.compile_function(
                [index, learning_rate], cost, updates=updates,
                givens={self.x: self._as_input(train_set_x[batch_begin:batch_end])}, mode=mode,
                name="pretrain_fn"))
        return functions

    def _as_input(self, rows):
        """The symbolic minibatch ``rows`` cast to the network's dtype (a no-op when it has it already).

        The tutorial keeps its data in shared variables of PyTensor's floatX
        (float64 unless configured), while the DBN's dtype is rbm's (float32
        by default); a ``givens`` substitution needs the input's exact type.
        """
        return pt.cast(rows, self.dtype)

    @keyword_only("mode")
    def build_finetune_functions(self, datasets: Sequence[tuple[Any, Any]], batch_size: int, learning_rate: float, *,
                                 mode: str = "cpu") -> tuple[Callable[..., Any], Callable[[], list[float]],
                                                             Callable[[], list[float]]]:
        """``(train_fn, valid_score, test_score)`` for fine-tuning by minibatch gradient descent.

        ``datasets`` is ``[(train_x, train_y), (valid_x, valid_y), (test_x,
        test_y)]``: shared matrices (or arrays) and integer label vectors
        (shared, symbolic such as the tutorial's ``pt.cast(shared_y,
        'int32')``, or arrays). ``train_fn(index)`` updates every parameter on
        minibatch ``index`` and returns its cost; ``valid_score()`` and
        ``test_score()`` return the error rate of each minibatch of the
        validation and test sets.

        Parameters
        ----------
        datasets : sequence of three (x, y) pairs
            Train, validation and test data, as described above.
        batch_size : int >= 1
        learning_rate : float > 0
        mode : str, default "cpu", keyword-only
            Compile mode (:func:`rbm.backend.resolve_mode`).

        Returns
        -------
        train_fn : compiled function
            ``train_fn(index) -> cost``.
        valid_score, test_score : callable
            ``() -> list of float``, one error rate per minibatch.
        """
        batch_size = check_positive_int(batch_size, "batch_size")
        learning_rate = check_float(learning_rate, "learning_rate", low=0.0, low_inclusive=False)
        if len(datasets) != 3:
            raise ValueError("datasets must hold three (x, y) pairs: train, valid, test")
        (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = [
            (_check_matrix(_as_shared_data(x, f"{part}_x", self.dtype), f"{part}_x"),
             _as_shared_data(y, f"{part}_y", "int32"))
            for (x, y), part in zip(datasets, ("train", "valid", "test"))]
        _n_rows(valid_x, "valid_x"), _n_rows(test_x, "test_x")  # refuse symbolic x now, not at scoring
        index = pt.lscalar("index")
        rows = slice(index * batch_size, (index + 1) * batch_size)
        gparams = pt.grad(self.finetune_cost, self.params)
        lr = np.asarray(learning_rate, dtype=self.dtype)
        updates = {param: param - gparam * lr for param, gparam in zip(self.params, gparams)}

        def givens(x, y):
            return {self.x: self._as_input(x[rows]), self.y: pt.cast(y[rows], "int32")}

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

    def _named_params(self):
        """name -> shared variable, in the order of ``params``: hidden_0_W, hidden_0_b, ..., output_W, output_b."""
        names = [f"hidden_{i}_{name}" for i in range(self.n_layers) for name in ("W", "b")] + ["output_W", "output_b"]
        return dict(zip(names, self.params))

    def get_params(self) -> dict[str, np.ndarray]:
        """The parameters as a dict of numpy arrays (copies), as :meth:`rbm.RBM.get_params`.

        Returns
        -------
        dict
            ``hidden_0_W``, ``hidden_0_b``, ``hidden_1_W``, ... (each sigmoid
            layer's, bottom up), ``output_W``, ``output_b`` (the logistic
            layer's): the order of ``params``, so ``list(result.values())``
            is the list this method returned before (indexing the dict by
            position still works, with a ``DeprecationWarning``).

        Examples
        --------
        >>> import rbm
        >>> dbn = rbm.DBN(numpy_rng=0, n_ins=6, hidden_layers_sizes=[4, 3], n_outs=2, seed=0)
        >>> {name: array.shape for name, array in dbn.get_params().items()}
        {'hidden_0_W': (6, 4), 'hidden_0_b': (4,), 'hidden_1_W': (4, 3), 'hidden_1_b': (3,),
         'output_W': (3, 2), 'output_b': (2,)}
        """
        params = ParamsDict((name, np.array(p.get_value(borrow=True))) for name, p in self._named_params().items())
        params._owner = "DBN.get_params()"
        return params

    def set_params(self, *values: Sequence[ArrayLike] | Mapping[str, ArrayLike], **named: ArrayLike) -> None:
        """Replace parameters from numpy arrays by name (``hidden_0_W=``, ..., as :meth:`get_params` names them).

        As :meth:`rbm.RBM.set_params`: any subset, all checked before any is
        set; ``dbn.set_params(**params)`` restores what ``get_params``
        returned. The old form, one positional list in the order of
        ``params`` (or the dict itself), still works with a ``DeprecationWarning``.

        Parameters
        ----------
        *values : list or dict of arrays
            The deprecated form: one list in the order of ``params``, or the
            dict of :meth:`get_params`.
        **named : arrays
            name -> array, as :meth:`get_params` names them.

        Raises
        ------
        TypeError
            An unknown name.
        ValueError
            A wrong shape, or NaN or infinite values.
        """
        if values:
            if len(values) > 1 or named:
                raise TypeError("set_params takes the arrays by name: dbn.set_params(**dbn.get_params())")
            warn_deprecated("DBN.set_params(values) is deprecated: pass the arrays by name, "
                            "dbn.set_params(**params) with params from dbn.get_params()")
            if isinstance(values[0], collections.abc.Mapping):
                named = dict(values[0])
            else:
                arrays = list(values[0])
                if len(arrays) != len(self.params):
                    raise ValueError(f"expected {len(self.params)} arrays, got {len(arrays)}")
                named = dict(zip(self._named_params(), arrays))
        settable = self._named_params()
        unknown = set(named) - set(settable)
        if unknown:
            raise TypeError(f"unknown parameters {sorted(unknown)}; this DBN has {list(settable)}")
        checked = {}
        for name, value in named.items():
            if value is not None:
                shape = settable[name].get_value(borrow=True).shape
                checked[name] = check_array(value, name, ndim=len(shape), shape=shape)
        for name, value in checked.items():
            settable[name].set_value(backend.as_floatx(value, self.dtype))

    def __repr__(self):
        widths = [self.rbm_layers[0].n_visible] + [r.n_hidden for r in self.rbm_layers]
        widths.append(self.logLayer.b.get_value(borrow=True).shape[0])
        return f"DBN({'-'.join(map(str, widths))}, dtype={self.dtype!r})"
