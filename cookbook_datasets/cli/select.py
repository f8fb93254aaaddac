"""``cookbook select POOL --out DIR``: DiverseEvol, the model picks a diverse subset round by round.

The options are ``DiverseEvolConfig``'s fields (the pool is its positional ``pool``).
"""

from __future__ import annotations

from .config_args import add_config, config_from_args
from .options import add_command, add_train_overrides, train_overrides


def add_parser(subparsers) -> None:
    from ..trainers.diverse_evol import DiverseEvolConfig

    p = add_command(subparsers, "select",
                    "DiverseEvol: the model picks a diverse training subset of a pool, round by round")
    # Every run its own directory: a run found there is resumed.
    add_config(p, DiverseEvolConfig, options={"pool": {"positional": True, "metavar": "POOL"},
                                              "output_dir": {"required": True}})
    # Shorthands for the most used keys of --train (TrainConfig's own options, passed on when given).
    add_train_overrides(p, epochs_help="training epochs per round (default 3)")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from ..trainers import DiverseEvolConfig, run_diverse_evol

    config = config_from_args(args, DiverseEvolConfig, train={**args.train, **train_overrides(args)})
    report = run_diverse_evol(config)
    print(Path(config.output_dir, "report.md").read_text())
    print(f"Subsets (a config per round): datasets.load_dataset({report['subsets']!r}, 'round_{config.rounds}')")
    print(f"Wrote {Path(config.output_dir, 'report.json')} and report.png")
    return 0
