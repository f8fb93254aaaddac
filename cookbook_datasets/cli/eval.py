"""``cookbook eval``: score a model on task files and templates, or compare result files.

The scoring options are ``EvalConfig``'s fields; where the results go and the compare mode are
this command's own.
"""

from __future__ import annotations

from .config_args import add_config, config_from_args
from .options import add_command

def add_parser(subparsers) -> None:
    from ..eval import EvalConfig

    p = add_command(subparsers, "eval", "score a model on task files and templates, or compare results")
    add_config(p, EvalConfig)  # its dataset_task gives --input-field, --output-field, ... (tasks.DatasetTask)
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
    config = config_from_args(args, EvalConfig)
    if args.overwrite and Path(args.out).exists():
        Path(args.out).unlink()
    evaluate_model(config, out=args.out)
    print(Path(args.out).with_suffix(".md").read_text())
    print(f"Wrote {args.out} and {Path(args.out).with_suffix('.md')}")
    return 0

