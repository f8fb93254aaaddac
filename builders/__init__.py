"""`datasets` builders of cookbook-datasets (installed as ``cookbook_datasets.builders``)."""

from .cookbook import Cookbook, CookbookConfig
from .self_guide import SelfGuide, SelfGuideBuilderConfig

__all__ = ["Cookbook", "CookbookConfig", "SelfGuide", "SelfGuideBuilderConfig"]
