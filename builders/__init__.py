"""`datasets` builders of cookbook-datasets (installed as ``cookbook_datasets.builders``)."""

from .augmentation import Augmentation, AugmentationBuilderConfig
from .cookbook import Cookbook, CookbookConfig
from .mixture import Mixture, MixtureConfig
from .self_guide import SelfGuide, SelfGuideBuilderConfig

__all__ = ["Augmentation", "AugmentationBuilderConfig", "Cookbook", "CookbookConfig", "Mixture", "MixtureConfig", "SelfGuide", "SelfGuideBuilderConfig"]
