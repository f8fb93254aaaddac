"""SELF-GUIDE (arXiv 2407.12874): the student model writes its own task data.

One small module per stage, called in order by :func:`synthesize` (pipeline.py):
``input_generation`` -> ``input_filters`` -> ``annotation`` (self-consistency) -> ``balancing``.
:func:`run_self_guide` (job.py) adds fine-tuning on the kept pairs and scoring against prompting, with
the guard (guard.py: the untuned model probed and kept when tuning does not beat it on real
validation rows; classification pairs that cannot teach refused before training);
``cookbook_datasets.load_dataset("self_guide", task=..., model=...)`` runs the builder.
SELF-GUIDE reads a task's definition only (``cookbook_datasets.tasks.task_definition``: the
instruction, a few demonstrations and the label set; never the instances).
"""

from .config import NOISE_PHRASES, SelfGuideConfig
from .job import run_self_guide
from .pipeline import synthesize, to_dataset_dict, to_rows

__all__ = ["NOISE_PHRASES", "SelfGuideConfig", "run_self_guide", "synthesize", "to_dataset_dict", "to_rows"]
