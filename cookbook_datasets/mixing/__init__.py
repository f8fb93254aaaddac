"""Cookbook-Mix: template mixtures for several target tasks (METHODS.md §1).

- ``components.py``, ``interleave.py``: what the ``mixture`` builder mixes and how rows are drawn;
- ``mix_file.py``: the learned ``mix.json``;
- ``fields.py``: which parts of a task's inputs are fields and which role each plays (``--field``);
- ``task_examples.py``, ``task_rows.py``: real task files as structured examples, fit/eval rows;
- ``label_codes.py``: what code labels ("1"/"0", "E"/"N"/"C") mean, from the task's definition;
- ``signals.py``: rule accuracy, label words per task, template alignment;
- ``protect.py``: each task's protecting component (its format) and the floor every method keeps;
- ``base.py`` + one file per method (``rules.py``, ``proxy.py`` with ``laws.py``, ``uniform.py``,
  ``best_single.py``, ``online.py``, ``auto.py``), registered in ``methods.py``;
- ``learn.py``: ``mix learn`` end to end; ``report.py``: its Markdown and PNGs.
"""

from .base import MixingMethod, MixSignals
from .learn import MixLearnConfig, learn, measure
from .methods import METHODS, get_method
from .mix_file import read_mix, write_mix

__all__ = ["METHODS", "MixLearnConfig", "MixSignals", "MixingMethod", "get_method", "learn", "measure", "read_mix",
           "write_mix"]
