"""``cookbook augment SEED ...``: budgeted augmentation by a teacher; ``cookbook augment recommend``
(also spelled ``augment-recommend``): which strategy fits a budget ratio.

``--teacher`` repeats for several servers of one model (requests go round robin); the executor
options (``--executor ray --ray-address ADDR --replicas N``) are AugmentationConfig's ``execution``.
"""

from __future__ import annotations

import argparse
import json
import sys

from .config_args import add_config, add_field_assignments, config_from_args
from .options import add_command, parse_assignments


class _Teachers(argparse.Action):
    """``--teacher``, repeatable: the ones given replace a ``--config`` file's teacher(s), as any option
    overrides the file, and add up among themselves."""

    def __call__(self, parser, namespace, value, option_string=None):
        current = getattr(namespace, self.dest, None)
        before = [] if current is self.default or current is None else list(current)
        setattr(namespace, self.dest, before + [value])


def add_parser(subparsers) -> None:
    from ..augmentation.config import AugmentationConfig

    p = add_command(subparsers, "augment",
                    "budgeted augmentation of a seed set by a teacher (see also: augment recommend)",
                    description="cookbook augment SEED --strategy S --budget Q --teacher URL|SPEC [--teacher URL ...] "
                                "--out DIR [--executor ray --ray-address ADDR --replicas N]; "
                                "cookbook augment recommend --seed-size N --budget Q [--curves DIR]")
    # The recipe (what the card records) is AugmentationConfig; queries cost money, so the budget is never a default.
    add_config(p, AugmentationConfig, options={"budget": {"required": True}})
    add_field_assignments(p, AugmentationConfig, "--param",
                          help="an AugmentationConfig field, e.g. answer_temperature=0.8 (repeatable; each field "
                               "also has its own option)")
    # The job around the recipe: where the seed set, the teacher and the files are. These are
    # augment_to_hub()'s arguments, not the recipe's fields (a cached run is the same recipe wherever it ran).
    p.add_argument("seed_data", metavar="SEED", help="seed set: .jsonl/.json file, Hub-layout directory or dataset name")
    p.add_argument("--teacher", required=True, action=_Teachers, metavar="URL|SPEC",
                   help="OpenAI-compatible server URL (http://host:port/v1) or model spec; repeat it for several "
                        "servers of the same model (query i goes to the (i mod n)-th)")
    p.add_argument("--teacher-model", default=None, metavar="NAME",
                   help="the served model's name (default: the one the servers serve)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (Hub layout; config = the strategy)")
    p.add_argument("--work", default=None, metavar="DIR",
                   help="ledger and response cache (default: OUT.work; reused to resume)")
    p.add_argument("--cache", default=None, metavar="FILE",
                   help="response cache file to share between runs (default: in --work)")
    p.add_argument("--concurrency", type=int, default=8, metavar="N",
                   help="requests in flight to each server (on Ray: per replica, up to --ray-batch-size)")
    p.add_argument("--engine-option", action="append", default=[], metavar="KEY=VALUE",
                   help="engine option, e.g. timeout=60, max_retries=3, api_key_env=MY_KEY (repeatable)")
    p.add_argument("--question-field", default=None, metavar="FIELD", help="the seed rows' question field (default: auto)")
    p.add_argument("--answer-field", default=None, metavar="FIELD", help="the seed rows' answer field (default: auto)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    p.set_defaults(func=run)

    p = add_command(subparsers, "augment-recommend",
                    "which augmentation strategy fits BR = budget / seed size (also spelled: augment recommend)")
    p.add_argument("--seed-size", type=int, required=True, metavar="N", help="|S|: seed examples")
    p.add_argument("--budget", type=int, required=True, metavar="Q", help="teacher queries")
    p.add_argument("--curves", default=None, metavar="PATH",
                   help="pilot curves: directory or file of CSV (strategy,budget,score) or JSON "
                        "(default: the paper's switch points)")
    p.add_argument("--json", default=None, metavar="FILE", help="also write the recommendation as JSON here")
    p.set_defaults(func=run_recommend)


def spell_recommend(argv: list[str]) -> list[str]:
    """``augment recommend ...`` -> ``augment-recommend ...``: ``augment``'s other form takes a
    positional SEED, so argparse cannot tell the two apart by itself."""
    first = next((i for i, a in enumerate(argv) if not a.startswith("-")), None)
    if first is not None and argv[first:first + 2] == ["augment", "recommend"]:
        argv = argv[:first] + ["augment-recommend"] + argv[first + 2:]
    return argv


def run(args) -> int:
    from ..augmentation import AugmentationConfig, augment_to_hub

    try:
        config = config_from_args(args, AugmentationConfig)  # a bad field fails here, before the teacher is called
        if config.execution.uses_ray:
            config.execution.connect()  # an unreachable or too small cluster: one line, before any query
    except (ImportError, ConnectionError, RuntimeError) as e:  # no Ray, no cluster, or too small a one
        print(f"error: {e}", file=sys.stderr)
        return 1
    teacher = args.teacher  # one (a --config file's may be a list), or several
    if isinstance(teacher, list) and len(teacher) == 1:
        teacher = teacher[0]
    summary = augment_to_hub(args.seed_data, args.out, teacher=teacher, teacher_model=args.teacher_model,
                             work_dir=args.work, cache_path=args.cache, concurrency=args.concurrency,
                             engine_options=parse_assignments(args.engine_option, "--engine-option"),
                             question_field=args.question_field, answer_field=args.answer_field,
                             overwrite=args.overwrite, **config.to_dict())
    ledger = summary["ledger"]
    print(f"{summary['strategy']}: {summary['kept']} new examples from {summary['steps']} steps over "
          f"{summary['seed_size']} seeds (BR = {summary['budget_ratio']})")
    print(f"Queries used {ledger['used_total']} of {ledger['budget']} ({json.dumps(ledger['used'])}); "
          f"sent now {ledger['new_queries']}, from the cache {ledger['cache_hits']}; paid in all {ledger['paid_total']}"
          + (f", lost in flight {ledger['lost_in_flight']}" if ledger["lost_in_flight"] else ""))
    if summary["dropped"]:
        print(f"Dropped: {json.dumps(summary['dropped'])}")
    print(f"Wrote {summary['out']} ({summary['rows']} rows): "
          f"datasets.load_dataset({summary['out']!r}, {summary['strategy']!r})")
    return 0


def run_recommend(args) -> int:
    from pathlib import Path

    from ..augmentation import recommend

    rec = recommend(args.seed_size, args.budget, curves=args.curves)
    print(rec.format())
    if args.json:
        Path(args.json).write_text(json.dumps(rec.to_dict(), indent=2))
        print(f"Wrote {args.json}")
    return 0
