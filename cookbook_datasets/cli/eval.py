"""``cookbook eval``: score a model on task files and templates, or compare result files.

The scoring options are ``EvalConfig``'s fields; where the results go and the compare mode are
this command's own.
"""

from __future__ import annotations

from .config_args import add_config, config_from_args
from .options import add_command

# Shorthands for the keys of EvalConfig.dataset_task (--dataset-task KEY=VALUE sets any of them).
DATASET_TASK_OPTIONS = (
    ("--input-field", "input_field", "COLUMN", "read --tasks as datasets (a file, directory or Hub id): the column "
                                               "with each row's input (or question)"),
    ("--output-field", "output_field", "COLUMN", "with --input-field: the column with the acceptable output(s)"),
    ("--choices-field", "choices_field", "COLUMN", "with --input-field: the options of a multiple-choice row"),
    ("--label-field", "label_field", "COLUMN", "with --input-field: the gold choice index, or the class label"),
    ("--id-field", "id_field", "COLUMN", "with --input-field: a stable row id"),
    ("--instruction", "instruction", "TEXT", "with --input-field: the task's instruction"),
    ("--dataset-config", "config", "NAME", "with --input-field: the dataset's config"),
    ("--dataset-split", "split", "SPLIT", "with --input-field: the split holding the rows to score (default: test)"),
)


def add_parser(subparsers) -> None:
    from ..eval import EvalConfig

    p = add_command(subparsers, "eval", "score a model on task files and templates, or compare results")
    add_config(p, EvalConfig)
    for flag, key, metavar, help in DATASET_TASK_OPTIONS:
        p.add_argument(flag, dest=f"dataset_task.{key}", default=None, metavar=metavar, help=help)  # not a YAML key
    # Where the results go: an argument of evaluate_model(), not part of what is scored.
    p.add_argument("--out", default=None, metavar="RESULTS_JSON", help="results JSON (a .md table is written next to it)")
    p.add_argument("--overwrite", action="store_true", help="start over instead of resuming --out")
    # The other mode of this command: compare result files already written (no model, no EvalConfig).
    p.add_argument("--compare", nargs="+", metavar="RESULTS",
                   help="result files to compare, paired by row: differences vs the first (or --baseline) with "
                        "paired-bootstrap 95%% intervals, per task and on the task average")
    p.add_argument("--labels", nargs="+", default=None, metavar="LABEL", help="arm names for --compare")
    p.add_argument("--baseline", default=None, metavar="LABEL", help="with --compare: the arm subtracted (default: first)")
    p.add_argument("--plot", default=None, metavar="PNG", help="with --compare: write a PNG of the scores and intervals")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from ..eval import EvalConfig, compare, evaluate_model, plot_comparison

    if args.compare:
        comparison = compare(args.compare, labels=args.labels, baseline=args.baseline)
        print(comparison.to_markdown())
        if args.plot:
            plot_comparison(comparison, args.plot)
            print(f"Wrote {args.plot}")
        return 0
    if not args.tasks or not args.out:
        raise ValueError("cookbook eval needs --tasks and --out (or --compare A.json B.json)")
    config = config_from_args(args, EvalConfig, dataset_task=_dataset_task(args))
    if args.overwrite and Path(args.out).exists():
        Path(args.out).unlink()
    evaluate_model(config, out=args.out)
    print(Path(args.out).with_suffix(".md").read_text())
    print(f"Wrote {args.out} and {Path(args.out).with_suffix('.md')}")
    return 0


def _dataset_task(args) -> dict:
    """``--dataset-task`` with the shorthands given (the column mapping that reads --tasks as datasets)."""
    shorthands = {key: getattr(args, f"dataset_task.{key}") for _, key, _, _ in DATASET_TASK_OPTIONS}
    shorthands = {k: v for k, v in shorthands.items() if v is not None}
    if shorthands and "input_field" not in {**args.dataset_task, **shorthands}:
        raise ValueError("--output-field, --label-field, --instruction, ... read --tasks as datasets: "
                         "name the input column with --input-field too")
    return {**args.dataset_task, **shorthands}
