"""What several subcommands share: the help formatter, ``KEY=VALUE`` options, template parameters
and the training overrides. Nothing here imports a heavy module."""

from __future__ import annotations

import argparse
import json
from typing import Sequence


class HelpFormatter(argparse.HelpFormatter):
    """Shows each option's default, except where there is nothing to show (None, False, empty)
    or the help text already says what the default means."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help = action.help or ""
        default = action.default
        if "%(default)" in help or "(default" in help or default is None or default is False or default == [] \
                or default == argparse.SUPPRESS:
            return help
        if action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            return f"{help} (default: %(default)s)"
        return help


def add_command(subparsers, name: str, help: str, **kwargs) -> argparse.ArgumentParser:
    """A subcommand's parser, with its one-line help as description and defaults shown."""
    kwargs.setdefault("description", help[:1].upper() + help[1:] + ".")
    return subparsers.add_parser(name, help=help, formatter_class=HelpFormatter, **kwargs)


def parse_value(text: str):
    """A JSON value where the text is one (``3``, ``true``, ``[1, 2]``), else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_assignments(items: Sequence[str], what: str) -> dict[str, object]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}``; ``what`` names the option in errors."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{what} must look like KEY=VALUE (got {item!r})")
        out[key] = parse_value(value)
    return out


def template_params(names: Sequence[str], assignments: dict[str, object]) -> dict[str, dict]:
    """Route ``KEY=VALUE`` (every named template that has KEY) and ``TEMPLATE.KEY=VALUE``."""
    from ..templates import get_template_class

    params: dict[str, dict] = {}
    for key, value in assignments.items():
        if "." in key:
            name, _, field = key.partition(".")
            get_template_class(name)
            if name not in names:
                raise ValueError(f"--param {key}: {name!r} is not among the templates to generate")
            params.setdefault(name, {})[field] = value
            continue
        targets = [n for n in names if key in get_template_class(n).describe_params()]
        if not targets:
            raise ValueError(f"--param {key}: none of {', '.join(names)} has a parameter {key!r}")
        for name in targets:
            params.setdefault(name, {})[key] = value
    return params


TRAIN_OVERRIDES = ("num_train_epochs", "max_steps", "learning_rate", "per_device_train_batch_size", "lora_r")


def add_train_overrides(p: argparse.ArgumentParser, epochs_help: str) -> None:
    """The training options a command that fine-tunes on its way passes on to ``TrainConfig``."""
    p.add_argument("--epochs", dest="num_train_epochs", type=float, default=None, metavar="E", help=epochs_help)
    p.add_argument("--max-steps", dest="max_steps", type=int, default=None, metavar="N",
                   help="optimizer steps (overrides --epochs; default: the recipe's)")
    p.add_argument("--lr", dest="learning_rate", type=float, default=None, metavar="LR",
                   help="learning rate (default: the recipe's)")
    p.add_argument("--batch-size", dest="per_device_train_batch_size", type=int, default=None, metavar="B",
                   help="training rows per device and step (default: the recipe's)")
    p.add_argument("--lora-r", dest="lora_r", type=int, default=None, metavar="R",
                   help="LoRA rank (default: the recipe's)")


def train_overrides(args: argparse.Namespace) -> dict:
    """The training options that were given (the rest stay the recipe's)."""
    return {k: getattr(args, k) for k in TRAIN_OVERRIDES if getattr(args, k) is not None}
