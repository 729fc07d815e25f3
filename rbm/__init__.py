"""rbm: Restricted Boltzmann Machines built as PyTensor graphs, the Theano tutorial's way.

The models (:class:`RBM`, :class:`GaussianBernoulliRBM`, :class:`DBN` and its
layers, :class:`DBM`), the trainers (:class:`Trainer`, :class:`DBNTrainer`)
and :func:`sample_chains` are importable from here; the subpackages hold the
rest: :mod:`rbm.layers` (unit types: Bernoulli, Gaussian, categorical),
:mod:`rbm.evaluation` (log Z and log-likelihoods), :mod:`rbm.training`
(the engine, optimizers, schedules, centering, tempering, checkpoints),
:mod:`rbm.datasets` (MNIST, ratings), :mod:`rbm.images`,
:mod:`rbm.persistence`, :mod:`rbm.backend` (modes and float types) and
:mod:`rbm.estimators` (scikit-learn transformers).
"""
from ._version import __version__
from .models import DBM, DBN, RBM, GaussianBernoulliRBM, HiddenLayer, LogisticRegression, visible_bias_from_data
from .sampling import sample_chains
from .training import DBNTrainer, Trainer, TrainingDiverged

__all__ = ["DBM", "DBN", "DBNTrainer", "GaussianBernoulliRBM", "HiddenLayer", "LogisticRegression", "RBM", "Trainer",
           "TrainingDiverged", "__version__", "sample_chains", "visible_bias_from_data"]
