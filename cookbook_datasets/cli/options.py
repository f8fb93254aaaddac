"""What several subcommands share: the help formatter, ``KEY=VALUE`` options, template parameters
and the training overrides. Nothing here imports a heavy module."""

from __future__ import annotations

import argparse
import json
from typing import Sequence


class HelpFormatter(argparse.HelpFormatter):
    """Shows each option's default, except where there is nothing to show (None, False, empty)
    or the help text already says what the default means. A config field's help, written as a
    sentence ("Peak learning rate."), reads as the other options' do ("peak learning rate")."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help = _as_phrase(action.help or "")
        default = action.default
        if "%(default)" in help or "(default" in help or default is None or default is False or action.required \
                or (isinstance(default, (list, dict)) and not default) or default == argparse.SUPPRESS:
            return help
        if action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            return f"{help} (default: %(default)s)"
        return help

    def _format_action_invocation(self, action: argparse.Action) -> str:
        """``--num-shots, --num_shots K`` rather than the value after every spelling."""
        if not action.option_strings or action.nargs == 0:
            return super()._format_action_invocation(action)
        value = self._format_args(action, self._get_default_metavar_for_optional(action))
        return f"{', '.join(action.option_strings)} {value}"


def _as_phrase(help: str) -> str:
    """``"Seed of the data."`` -> ``"seed of the data"``; acronyms and names keep their case."""
    first = help.split(" ", 1)[0]
    if first[:1].isupper() and (first[1:].islower() or first == "A"):
        help = help[:1].lower() + help[1:]
    return help[:-1] if help.endswith(".") and not help.endswith("..") else help


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
    """The training options a command that fine-tunes on its way passes on to ``TrainConfig``:
    those fields' options (``--epochs``, ``--max-steps``, ``--lr``, ``--batch-size``, ``--lora-r``),
    with no default of their own, so only those given are passed on."""
    from ..trainers.sft import TrainConfig
    from .config_args import add_fields

    group = p.add_argument_group("training (TrainConfig fields; default: the recipe's)")
    add_fields(group, TrainConfig, TRAIN_OVERRIDES, default=None, options={"num_train_epochs": {"help": epochs_help}})


def train_overrides(args: argparse.Namespace) -> dict:
    """The training options that were given (the rest stay the recipe's)."""
    return {k: getattr(args, k) for k in TRAIN_OVERRIDES if getattr(args, k) is not None}
