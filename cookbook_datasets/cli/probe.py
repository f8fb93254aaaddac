"""``cookbook probe TASK... --model M``: does the untuned model read each task, on its fit rows?

The options are ``ProbeConfig``'s fields (the tasks are its positional ``tasks``); the Python API
is ``cookbook_datasets.eval.probe.probe`` (see there for the verdict rule).
"""

from __future__ import annotations

import sys

from .config_args import add_config, config_from_args
from .options import add_command


def add_parser(subparsers) -> None:
    from ..eval.probe import ProbeConfig

    p = add_command(subparsers, "probe",
                    "does the untuned model read each task? Its score on the fit rows against chance and the "
                    "constant answer, with intervals and a verdict per task")
    add_config(p, ProbeConfig, options={"tasks": {"positional": True, "metavar": "TASK"},
                                          "out": {"metavar": "DIR"}})
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from ..eval.probe import NOT_READ_WARNING, ProbeConfig, not_read, probe, probe_lines

    config = config_from_args(args, ProbeConfig)
    report = probe(config)
    print("\n".join(probe_lines(report)).lstrip("\n"))
    for task in not_read(report):
        print(f"warning: {config.model} does not read {task}: {NOT_READ_WARNING}", file=sys.stderr)
    if config.out:
        print(f"Wrote {Path(config.out, 'probe.json')} and {Path(config.out, 'probe.md')}")
    return 0
