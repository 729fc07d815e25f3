"""rbm: Restricted Boltzmann Machines built as PyTensor graphs, the Theano tutorial's way."""
from .models import DBN, RBM, GaussianBernoulliRBM, HiddenLayer, LogisticRegression, visible_bias_from_data
from .sampling import sample_chains
from .training import DBNTrainer, Trainer, TrainingDiverged
from ._version import __version__

__all__ = ["DBN", "DBNTrainer", "GaussianBernoulliRBM", "HiddenLayer", "LogisticRegression", "RBM", "Trainer", "TrainingDiverged",
           "sample_chains", "visible_bias_from_data"]
