"""``cookbook eval``: score a model on task files and templates, or compare result files."""

from __future__ import annotations

from .options import add_command, parse_assignments


def add_parser(subparsers) -> None:
    p = add_command(subparsers, "eval", "score a model on task files and templates, or compare results")
    p.add_argument("--model", default="smollm2-135m", metavar="MODEL", help="model spec to score")
    p.add_argument("--adapter", default=None, metavar="DIR", help="PEFT adapter directory")
    p.add_argument("--tasks", nargs="+", default=[], metavar="TASK",
                   help="NIV2 .json, multiple-choice .jsonl, dirs, templates")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="examples per task (default: all)")
    p.add_argument("--num-shots", type=int, default=2, metavar="K", help="demonstrations in each prompt")
    p.add_argument("--batch-size", type=int, default=16, metavar="B", help="prompts scored at once")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the demonstrations and template rows")
    p.add_argument("--dtype", choices=["float32", "bfloat16"], default=None,
                   help="weights dtype (default: bf16 on GPU, fp32 on CPU; bf16 on a CPU with AVX512-BF16 scores "
                        "about twice as fast, with slightly different log-likelihoods)")
    p.add_argument("--template-param", action="append", default=[], metavar="KEY=VALUE",
                   help="parameter of the template tasks, e.g. vocab=tokenizer:smollm2-135m (repeatable)")
    for part, what in (("input", "each row's input (or question)"), ("output", "the acceptable output(s)"),
                       ("choices", "the options of a multiple-choice row"),
                       ("label", "the gold choice index, or the class label"), ("id", "a stable row id")):
        p.add_argument(f"--{part}-field", default=None, metavar="COLUMN",
                       help=f"read --tasks as datasets (a file, directory or Hub id): the column with {what}")
    p.add_argument("--instruction", default=None, metavar="TEXT", help="with --input-field: the task's instruction")
    p.add_argument("--dataset-config", default=None, metavar="NAME", help="with --input-field: the dataset's config")
    p.add_argument("--dataset-split", default=None, metavar="SPLIT",
                   help="with --input-field: the split holding the rows to score (default: test)")
    p.add_argument("--mc-framing", choices=["loglik", "generate"], default="loglik", metavar="{loglik,generate}",
                   help="multiple choice: each choice's log-likelihood, or the options listed and the generated "
                        "answer's letter or text (default: %(default)s)")
    p.add_argument("--cls-framing", choices=["generate", "rank"], default="generate", metavar="{generate,rank}",
                   help="classification: the last label the generated answer mentions, or the label with the "
                        "highest log-likelihood as the answer (default: %(default)s)")
    p.add_argument("--out", default=None, metavar="RESULTS_JSON", help="results JSON (a .md table is written next to it)")
    p.add_argument("--overwrite", action="store_true", help="start over instead of resuming --out")
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
    config = EvalConfig(model=args.model, adapter=args.adapter, tasks=args.tasks, limit=args.limit,
                        num_shots=args.num_shots, batch_size=args.batch_size, seed=args.seed, dtype=args.dtype,
                        mc_framing=args.mc_framing, cls_framing=args.cls_framing,
                        template_params=parse_assignments(args.template_param, "--template-param"),
                        dataset_task=_dataset_task(args))
    if args.overwrite and Path(args.out).exists():
        Path(args.out).unlink()
    evaluate_model(config, out=args.out)
    print(Path(args.out).with_suffix(".md").read_text())
    print(f"Wrote {args.out} and {Path(args.out).with_suffix('.md')}")
    return 0


def _dataset_task(args) -> dict:
    """The column mapping (and instruction, config, split) that reads --tasks as datasets."""
    options = {f"{part}_field": getattr(args, f"{part}_field") for part in ("input", "output", "choices", "label", "id")}
    options.update(instruction=args.instruction, config=args.dataset_config, split=args.dataset_split)
    options = {k: v for k, v in options.items() if v is not None}
    if options and "input_field" not in options:
        raise ValueError("--output-field, --label-field, --instruction, ... read --tasks as datasets: "
                         "name the input column with --input-field too")
    return options
