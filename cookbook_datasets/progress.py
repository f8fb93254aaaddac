"""One progress bar per stage.

``datasets`` draws a bar for every split it generates and every Parquet file it writes, and the
transformers ``Trainer`` draws an evaluation bar inside its training bar. Inside a stage that has
a bar of its own these scroll as nested noise, so the stage silences them here.
"""

from __future__ import annotations

import os
from contextlib import contextmanager


@contextmanager
def quiet_datasets():
    """``datasets``' own progress bars off for the block (unless the user's environment decides)."""
    import datasets
    from datasets.utils.tqdm import are_progress_bars_disabled

    if os.environ.get("HF_DATASETS_DISABLE_PROGRESS_BARS") is not None or are_progress_bars_disabled():
        yield  # the environment variable has priority; an already quiet datasets stays as it is
        return
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        datasets.enable_progress_bars()


def one_bar_per_stage(trainer) -> None:
    """Replace the Trainer's progress callback by one without the nested evaluation bar (the
    evaluation's metrics are still logged when it ends)."""
    from transformers.trainer_callback import ProgressCallback

    class TrainingBarOnly(ProgressCallback):
        def on_prediction_step(self, args, state, control, eval_dataloader=None, **kwargs):
            pass

    if trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(TrainingBarOnly())
