"""Training loops that compile a model's graphs once and run them over the data."""
from .dbm import DBMTrainer
from .dbm_pretraining import ModifiedRBM, pretrain_dbm
from .dbn import DBNTrainer
from .trainer import Trainer, TrainingDiverged

__all__ = ["DBMTrainer", "DBNTrainer", "ModifiedRBM", "Trainer", "TrainingDiverged", "pretrain_dbm"]
