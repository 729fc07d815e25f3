"""The models: each builds its symbolic graphs (energies, conditionals, costs) on PyTensor."""
from .dbm import DBM
from .dbn import DBN
from .gaussian import GaussianBernoulliRBM
from .layers import HiddenLayer, LogisticRegression
from .rbm import RBM, visible_bias_from_data

__all__ = ["DBM", "DBN", "GaussianBernoulliRBM", "HiddenLayer", "LogisticRegression", "RBM", "visible_bias_from_data"]
