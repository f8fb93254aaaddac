"""Cookbook-Mix: template mixtures for several target tasks (METHODS.md §1).

- ``components.py``, ``interleave.py``: what the ``mixture`` builder mixes and how rows are drawn;
- ``mix_file.py``: the learned ``mix.json``;
- the target tasks come from ``cookbook_datasets.tasks``: their fit and eval parts
  (``split_fit_eval``), their inputs as named fields (``fields.py``, ``--field``) and what code
  labels mean (``label_codes.py``); a model's answers are scored by ``cookbook_datasets.eval``;
- ``signals.py``: what every method reads (``MixSignals``): rule accuracy, label words per task,
  template alignment;
- ``protect.py``: each task's protecting component (its format) and the floor every method keeps;
- ``methods/``: one file per method (``uniform.py``, ``best_single.py``, ``rules.py``, ``proxy.py``
  with ``laws.py``, ``online.py``, ``auto.py``) behind one interface (``methods/base.py``: the
  training a method asks for, ``fit``), registered by name in ``methods/__init__.py``;
- ``learner.py``: that training (the model's answers, proxy fine-tunes, the online run of
  ``online_run.py`` with ``live_mixture.py``, ``schedule.py`` and ``task_loss.py``), the one way a
  method is learned;
- ``learn.py``: ``mix learn`` end to end, as named stages; ``report.py``: its Markdown and PNGs;
- ``user_components.py``: your own datasets as components.
"""

from .learn import MixLearnConfig, MixSignalsConfig, learn, load_rows, measure
from .learner import train_mixture
from .methods import METHODS, MixingMethod, get_method
from .mix_file import read_mix, write_mix
from .signals import MixSignals

__all__ = ["METHODS", "MixLearnConfig", "MixSignals", "MixSignalsConfig", "MixingMethod", "get_method", "learn",
           "load_rows", "measure", "read_mix", "train_mixture", "write_mix"]
