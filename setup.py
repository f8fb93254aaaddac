"""Package discovery only; metadata and dependencies are in setup.cfg.

``builders/``, ``trainers/`` and ``eval/`` live at the top of the checkout but install as
``cookbook_datasets.builders`` / ``.trainers`` / ``.eval``. setup.cfg's ``find:`` cannot prefix
the packages it finds, so they are found here: any new subpackage (a directory with an
``__init__.py``) under one of these roots ships without being listed anywhere.
"""

from setuptools import find_packages, setup

MAPPED_ROOTS = ("builders", "trainers", "eval")

packages = find_packages(include=["cookbook_datasets", "cookbook_datasets.*"])
for root in MAPPED_ROOTS:
    packages += [f"cookbook_datasets.{name}" for name in find_packages(include=[root, f"{root}.*"])]

setup(packages=packages, package_dir={f"cookbook_datasets.{root}": root for root in MAPPED_ROOTS})
