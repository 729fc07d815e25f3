"""rbm: Restricted Boltzmann Machines built as PyTensor graphs, the Theano tutorial's way."""
from .models import RBM, visible_bias_from_data
from .sampling import sample_chains
from .training import Trainer, TrainingDiverged

__version__ = "0.1.0"
__all__ = ["RBM", "Trainer", "TrainingDiverged", "sample_chains", "visible_bias_from_data"]
