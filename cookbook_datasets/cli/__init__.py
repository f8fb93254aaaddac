"""The ``cookbook`` command line: a thin layer over the Python API.

One module per subcommand, each with ``add_parser(subparsers)`` (its options) and ``run(args)``
(calls the Python API); this module only assembles them. A command that runs a job takes its
options from its dataclass config and ``--config FILE.yaml`` (see ``config_args``). Building the
parser imports nothing heavy: torch, transformers and datasets load inside ``run``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Optional, Sequence

from . import augment, demo, eval, generate, mix, probe, push, regenerate, select, self_guide, templates, train
from .config_args import apply_config_file
from .options import HelpFormatter

COMMANDS = (templates, generate, train, eval, probe, select, self_guide, augment, mix, demo, push, regenerate)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cookbook", formatter_class=HelpFormatter,
        description="Instruction-tuning data without annotators or a stronger LLM: Cookbook templates, SELF-GUIDE, "
                    "budgeted augmentation, DiverseEvol. `cookbook COMMAND --help` shows a command's options.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The parsed command line; a job command's ``--config FILE.yaml`` gives the defaults that the
    options on the command line override."""
    parser = build_parser()
    argv = augment.spell_recommend(list(sys.argv[1:] if argv is None else argv))
    apply_config_file(parser, argv)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        args = parse_args(argv)
    except (ValueError, FileNotFoundError) as e:  # a --config file or a KEY=VALUE that does not fit
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ImportError as e:  # e.g. --executor ray without the extra: our message names the pip command
        if "pip install" not in str(e):
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ValueError, FileExistsError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ConnectionError as e:  # a Ray cluster or server that does not answer: one line, before any model loads
        print(f"error: {e}", file=sys.stderr)
        return 1
    except ImportError as e:  # an extra that is not installed (our messages name the pip command); else a bug
        if "pip install" not in str(e):
            raise
        print(f"error: {e}", file=sys.stderr)
        return 1
    except RuntimeError as e:  # a teacher, server or push that failed: say so, no traceback
        from ..augmentation.teacher import TeacherError
        from ..generation import GenerationError
        from ..push import PushError

        if not isinstance(e, (TeacherError, GenerationError, PushError)):
            raise
        print(f"error: {e}", file=sys.stderr)
        return 1
