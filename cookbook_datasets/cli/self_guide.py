"""``cookbook self-guide TASK --out DIR``: the model writes its own task data, is tuned on it, scored.

The options are ``SelfGuideConfig``'s fields (the synthesis recipe and the job around it; the
task's columns, for a data file, are its ``dataset_task``: ``--input-field``, ...); the task and
where the run goes are run_self_guide()'s arguments.
"""

from __future__ import annotations

from .config_args import add_config, add_field_assignments, config_from_args
from .options import add_command


def add_parser(subparsers) -> None:
    from ..self_guide import SelfGuideConfig

    p = add_command(subparsers, "self-guide",
                    "SELF-GUIDE: the model writes its own task data, is tuned on it and scored")
    add_config(p, SelfGuideConfig, options={"evaluate": {"no_aliases": ["--no-eval"]}})
    add_field_assignments(p, SelfGuideConfig, "--param",
                          help="a SelfGuideConfig field, e.g. consistency_threshold=0.3 (repeatable; each field also "
                               "has its own option)")
    p.add_argument("task", metavar="TASK",
                   help="the task: an NIV2 JSON file, a task JSON (instruction, examples, labels), or your data (a "
                        ".csv/.parquet file, a dataset directory or Hub id) read through --input-field, "
                        "--output-field, --instruction, ...")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (a run found there is resumed)")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from ..self_guide import SelfGuideConfig, run_self_guide

    report = run_self_guide(args.task, args.out, config_from_args(args, SelfGuideConfig))
    print(Path(args.out, "report.md").read_text())
    print(f"Data: datasets.load_dataset({report['data']!r}, {report['task']!r})")
    if "gain" in report:
        print(f"SELF-GUIDE vs prompting: {report['gain']:+.3f}")
    return 0
