"""``cookbook train --dataset DATA --out DIR``: fine-tune a model with TRL (LoRA by default).

The options are ``TrainConfig``'s fields; ``--config`` also takes a recipe's name in trainers/configs.
With ``--validation-data`` the guard compares the trained model with the untuned one after training
and the command prints its decision; where it keeps the untuned model, the output says so first.
"""

from __future__ import annotations

import argparse

from .config_args import add_config, config_from_args
from .options import add_command, parse_assignments


def add_parser(subparsers) -> None:
    from ..trainers.sft import CONFIG_DIR, TrainConfig

    p = add_command(subparsers, "train", "fine-tune a model with TRL (LoRA by default)")
    # Every run its own directory: a shared default would resume another run's checkpoints.
    add_config(p, TrainConfig, options={"output_dir": {"required": True}}, config_dir=CONFIG_DIR)
    # Shorthands kept from before the options were TrainConfig's fields (the scripts that use them keep working):
    # --dataset/--dataset-config/--dataset-param build `datasets`; the rest set one field to one value.
    p.add_argument("--dataset", action="append", default=[], metavar="DATA",
                   help="builder name (cookbook), Hub-layout directory, Hub id or data file; repeat to mix "
                        "(replaces --datasets)")
    p.add_argument("--dataset-config", default=None, metavar="NAME", help="with --dataset: the config name, e.g. a "
                                                                           "template or 'mixture'")
    p.add_argument("--dataset-param", action="append", default=[], metavar="KEY=VALUE",
                   help="with --dataset: a load_dataset parameter, e.g. num_examples=500 (repeatable)")
    for flag, dest, value, help in (("--full", "use_lora", False, "full fine-tuning instead of LoRA (--use-lora false)"),
                                    ("--no-eval", "eval_split", None, "skip evaluation on the validation split"),
                                    ("--full-lm-head", "loss_positions_only", False, "run the LM head on every "
                                     "position (TRL's path) instead of only the loss positions "
                                     "(--no-loss-positions-only)")):
        p.add_argument(flag, dest=dest, action="store_const", const=value, default=argparse.SUPPRESS, help=help)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..data_spec import DataSpec
    from ..trainers import TrainConfig, train

    overrides = {}
    if args.dataset:
        params = parse_assignments(args.dataset_param, "--dataset-param")
        overrides["datasets"] = [DataSpec(path=d, name=args.dataset_config, params=params) for d in args.dataset]
    config = config_from_args(args, TrainConfig, **overrides)
    card = train(config)
    what = "adapter" if config.use_lora else "model"
    result = card.get("result") or {"kept": "tuned"}
    if result["kept"] == "untuned":
        print(f"KEPT = UNTUNED: the guard kept the untuned model {config.model}; do not use the trained {what}, "
              f"moved to {result['not_kept']}. Wrote the run card to {config.output_dir} "
              f"({card['global_step']} steps, {card['train_seconds']} s)")
    else:
        print(f"Wrote {what} and run card to {config.output_dir} "
              f"({card['global_step']} steps, {card['train_seconds']} s)")
    for key, value in card["final_metrics"].items():
        print(f"  {key}: {value}")
    if card.get("guard"):
        from ..trainers.sft import guard_line

        print(guard_line(card["guard"], config))
    return 0
