"""Training recipes (installed as ``cookbook_datasets.trainers``)."""

from .sft import TrainConfig, train

__all__ = ["TrainConfig", "train"]
