"""Training recipes (installed as ``cookbook_datasets.trainers``)."""

from .diverse_evol import DiverseEvolConfig, run_diverse_evol
from .sft import TrainConfig, train

__all__ = ["DiverseEvolConfig", "TrainConfig", "run_diverse_evol", "train"]
