"""`datasets` builders of cookbook-datasets (installed as ``cookbook_datasets.builders``)."""

from .cookbook import Cookbook, CookbookConfig

__all__ = ["Cookbook", "CookbookConfig"]
