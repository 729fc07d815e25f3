"""The models: each builds its symbolic graphs (energies, conditionals, costs) on PyTensor."""
from .rbm import RBM, visible_bias_from_data

__all__ = ["RBM", "visible_bias_from_data"]
