"""``cookbook demo``: the main job, mix templates, LoRA-tune the default model, compare.

The options are ``DemoConfig``'s fields.
"""

from __future__ import annotations

from .config_args import add_config, config_from_args
from .options import add_command


def add_parser(subparsers) -> None:
    from ..demo import DemoConfig

    p = add_command(subparsers, "demo", "the main job: mix templates, LoRA-tune the default model, compare")
    add_config(p, DemoConfig)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..demo import DemoConfig, run_demo

    result = run_demo(config_from_args(args, DemoConfig))
    done = result["train"]
    if done.get("reused"):
        print(f"Reused the trained adapter in {done['adapter']} (trained earlier: {done['global_step']} steps in "
              f"{done['train_seconds']} s on {done['train_rows']} rows).\n")
    else:
        print(f"Trained {done['global_step']} steps in {done['train_seconds']} s on {done['train_rows']} rows.\n")
    print(result["table"])
    print(f"Wrote {result['comparison_table']} and {result['plot']}")
    return 0
