"""The `cookbook` parser: every option documented, and building it imports nothing heavy."""

import argparse
import json
import subprocess
import sys

import pytest

from cookbook_datasets.cli import build_parser

HEAVY = ("torch", "transformers", "datasets", "trl", "peft")


def _subcommands(parser, prefix=()):
    """(command path, parser) for every subcommand, nested ones (mix learn) included."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _subcommands(sub, prefix + (name,))
                yield prefix + (name,), sub


COMMANDS = dict(_subcommands(build_parser()))


def test_every_subcommand_of_the_issue_is_there():
    for name in ("templates", "generate", "train", "eval", "select", "self-guide", "augment", "augment-recommend",
                 "mix", "demo", "push", "regenerate"):
        assert (name,) in COMMANDS
    assert ("mix", "learn") in COMMANDS and ("mix", "signals") in COMMANDS


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_option_has_help_and_a_metavar(path):
    for action in COMMANDS[path]._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        name = "/".join(action.option_strings) or action.dest
        assert action.help, f"cookbook {' '.join(path)}: {name} has no help text"
        takes_value = action.nargs != 0 and not isinstance(action, argparse.BooleanOptionalAction)
        if takes_value:
            assert action.metavar or action.choices, f"cookbook {' '.join(path)}: {name} has no metavar"


def test_help_shows_defaults(capsys):
    with pytest.raises(SystemExit) as exit:
        build_parser().parse_args(["generate", "--help"])
    assert exit.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "train rows per template (default: 1000)" in out
    assert "seed of every row (default: 0)" in out
    assert "(default: None)" not in out and "(default: False)" not in out


def test_augment_recommend_is_also_spelled_as_two_words():
    parser = build_parser()
    from cookbook_datasets.cli.augment import spell_recommend

    args = parser.parse_args(spell_recommend(["-v", "augment", "recommend", "--seed-size", "10", "--budget", "5"]))
    assert args.command == "augment-recommend" and args.seed_size == 10 and args.verbose


def _modules_after(code: str) -> list:
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport json, sys\n"
                          f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


def test_building_the_parser_imports_no_heavy_module():
    assert _modules_after("import cookbook_datasets.cli\ncookbook_datasets.cli.build_parser()") == []


def test_importing_the_package_is_cheap_and_its_names_load_on_use():
    assert _modules_after("import cookbook_datasets") == []
    assert _modules_after("import cookbook_datasets\nassert 'nli' in cookbook_datasets.list_templates()\n"
                          "cookbook_datasets.get_template('nli')") == []
    assert "datasets" in _modules_after("from cookbook_datasets import load_dataset")


def test_the_package_runs_as_a_module():
    result = subprocess.run([sys.executable, "-m", "cookbook_datasets.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "usage: cookbook" in result.stdout
