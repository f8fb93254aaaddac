"""A job's config is its command line: every field of a subcommand's dataclass config is an option
of that subcommand, ``--config FILE.yaml`` fills the fields, options given override the file, and a
key the config does not have is a clear error.

To cover a new command, add one line to CASES."""

import argparse
import dataclasses

import pytest
import yaml

from cookbook_datasets.augmentation.config import AugmentationConfig
from cookbook_datasets.cli import build_parser, main, parse_args
from cookbook_datasets.cli.config_args import config_from_args, to_bool
from cookbook_datasets.demo import DemoConfig
from cookbook_datasets.eval import EvalConfig
from cookbook_datasets.mixing import MixLearnConfig, MixSignalsConfig
from cookbook_datasets.self_guide import SelfGuideConfig
from cookbook_datasets.eval.probe import ProbeConfig
from cookbook_datasets.template_data import GenerateConfig
from cookbook_datasets.trainers import DiverseEvolConfig, TrainConfig

# (command, its config class, what the command needs that no field of the class gives,
#  what the class's required fields need on the command line)
CASES = [
    (("generate",), GenerateConfig, [], ["nli", "--out", "OUT"]),
    (("train",), TrainConfig, [], ["--out", "OUT"]),
    (("eval",), EvalConfig, [], []),
    (("probe",), ProbeConfig, [], ["task.json"]),
    (("select",), DiverseEvolConfig, [], ["pool", "--out", "OUT"]),
    (("augment",), AugmentationConfig, ["seed.jsonl", "--teacher", "http://t/v1", "--out", "OUT"], ["--budget", "5"]),
    (("demo",), DemoConfig, [], []),
    (("self-guide",), SelfGuideConfig, ["task.json", "--out", "OUT"], []),
    (("mix", "signals"), MixSignalsConfig, [], ["--tasks", "t.json"]),
    (("mix", "learn"), MixLearnConfig, [], ["--tasks", "t.json", "--out", "OUT"]),
]
IDS = [" ".join(case[0]) for case in CASES]


def _subparsers(parser, prefix=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield prefix + (name,), sub
                yield from _subparsers(sub, prefix + (name,))


PARSERS = dict(_subparsers(build_parser()))


def _fields(cls):
    return [f for f in dataclasses.fields(cls) if f.init]


def _action(command, name):
    """The option (or positional) that sets field ``name``: the first action with that dest."""
    return next(a for a in PARSERS[command]._actions if a.dest == name and a.default is not argparse.SUPPRESS)


def _samples(action):
    """Two different values for the field behind ``action``: (Python value for a YAML file, command-line
    strings and the value they parse to), both different from the default."""
    if action.choices:
        others = [c for c in action.choices if c != action.default]
        b = action.default if action.default in action.choices else others[0]
        return others[-1], ([str(b)], b)
    if action.type is to_bool:
        return (not action.default), (["true" if action.default else "false"], bool(action.default))
    if isinstance(action.default, dict) or type(action).__name__ == "_KeyValues":
        return {"k": 1}, (["k=2"], {"k": 2})
    if action.nargs == "*":
        return ["a", "b"], (["c", "d"], ["c", "d"])
    kind = getattr(action.type, "__name__", "str")
    if kind == "int":
        return 7, (["8"], 8)
    if kind == "float":
        return 0.25, (["0.5"], 0.5)
    return "alpha", (["beta"], "beta")


def test_the_table_covers_every_command_that_has_a_config():
    registered = {path: list(getattr(p, "cookbook_configs").classes) for path, p in PARSERS.items()
                  if getattr(p, "cookbook_configs", None) is not None}
    table = {case[0]: [case[1]] for case in CASES}
    assert {k: v for k, v in registered.items() if k in table} == table
    missing = sorted(" ".join(k) for k in set(registered) - set(table))
    assert not missing, f"add {missing} to CASES"


@pytest.mark.parametrize("command, cls, needs, required", CASES, ids=IDS)
def test_every_field_is_an_option_spelled_as_hf_argument_parser_spells_it(command, cls, needs, required):
    for field in _fields(cls):
        action = _action(command, field.name)
        assert action.help, f"{cls.__name__}.{field.name} has no help"
        if not action.option_strings:  # a positional: the command line's required part gives it
            args = parse_args([*command, *needs, *required])
            assert getattr(args, field.name) not in (None, []), field.name
            continue
        assert f"--{field.name.replace('_', '-')}" in action.option_strings, action.option_strings
        assert f"--{field.name}" in action.option_strings, action.option_strings
        _, (strings, value) = _samples(action)
        for spelling in action.option_strings:
            args = parse_args([*command, *needs, *required, spelling, *strings])
            assert getattr(args, field.name) == value, (spelling, strings)


@pytest.mark.parametrize("command, cls, needs, required", CASES, ids=IDS)
def test_config_file_values_arrive_and_options_override_them(command, cls, needs, required, tmp_path):
    values = {f.name: _samples(_action(command, f.name))[0] for f in _fields(cls)}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(values))
    args = parse_args([*command, *needs, "--config", str(path)])  # the file gives the required fields too
    for name, value in values.items():
        assert getattr(args, name) == value, name
    for field in _fields(cls):
        action = _action(command, field.name)
        if not action.option_strings:
            continue
        _, (strings, value) = _samples(action)
        args = parse_args([*command, *needs, action.option_strings[0], *strings, "--config", str(path)])
        assert getattr(args, field.name) == value, field.name  # wherever --config stands
        others = [n for n in values if n != field.name]
        assert all(getattr(args, n) == values[n] for n in others)


@pytest.mark.parametrize("command, cls, needs, required", CASES, ids=IDS)
def test_an_unknown_key_in_the_config_file_is_named_with_the_valid_ones(command, cls, needs, required, tmp_path,
                                                                        capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("sed: 3\n")
    with pytest.raises(ValueError) as error:
        parse_args([*command, *needs, *required, "--config", str(path)])
    message = str(error.value)
    assert "unknown key 'sed'" in message and "did you mean 'seed'" in message
    assert all(f.name in message for f in _fields(cls))
    assert main([*command, *needs, *required, "--config", str(path)]) == 2
    assert "unknown key 'sed'" in capsys.readouterr().err


def test_the_config_built_from_a_file_and_options(tmp_path):
    path = tmp_path / "generate.yaml"
    path.write_text("templates: [nli, document_qa]\nout_dir: data\nnum_examples: 50\nseed: 3\n"
                    "params: {document_qa: {doc_length: 20}}\nmixture: {nli: 2, document_qa: 1}\n")
    config = config_from_args(parse_args(["generate", "--config", str(path), "--seed", "4"]), GenerateConfig)
    assert config == GenerateConfig(templates=["nli", "document_qa"], out_dir="data", num_examples=50, seed=4,
                                    params={"document_qa": {"doc_length": 20}}, mixture={"nli": 2, "document_qa": 1})


def test_yaml_strings_are_read_as_the_option_reads_them(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("learning_rate: 2e-4\nmax_steps: '3'\nmerge: 'yes'\n")  # YAML 1.1 reads 2e-4 as a string
    args = parse_args(["train", "--config", str(path), "--out", "run"])
    assert args.learning_rate == 2e-4 and args.max_steps == 3 and args.merge is True


def test_train_config_names_a_bundled_recipe_and_the_old_spellings_still_work():
    args = parse_args(["train", "--config", "lora_cpu", "--out", "run", "--lr", "0.1", "--no-eval", "--full",
                       "--dataset", "data", "--dataset-config", "mixture"])
    assert args.lora_r == 16 and args.max_steps == 60 and args.learning_rate == 0.1  # file, file, option
    assert args.eval_split is None and args.use_lora is False
    with pytest.raises(FileNotFoundError, match="bundled configs: .*lora_cpu"):
        parse_args(["train", "--config", "nope", "--out", "run"])


def test_param_sets_any_field_by_name_and_names_an_unknown_one():
    args = parse_args(["augment", "seed.jsonl", "--teacher", "t", "--out", "o", "--budget", "4",
                       "--param", "answer_temperature=0.2", "--param", "include_seed=false"])
    assert args.answer_temperature == 0.2 and args.include_seed is False
    with pytest.raises(ValueError, match="did you mean 'top_p'"):
        parse_args(["augment", "seed.jsonl", "--teacher", "t", "--out", "o", "--budget", "4", "--param", "top_pp=1"])


def test_optional_numbers_take_none_and_dicts_take_json():
    args = parse_args(["eval", "--limit", "none", "--template-params", '{"vocab": "x"}', "--template-param", "k=1"])
    assert args.limit is None and args.template_params == {"vocab": "x", "k": 1}


@pytest.mark.parametrize("command, cls, needs, required", CASES, ids=IDS)
def test_the_option_strings_hf_argument_parser_makes_work_here(command, cls, needs, required):
    """transformers' HfArgumentParser, over the same class, makes no option this command lacks (it cannot
    read a bare ``list`` field: such classes are skipped; a field this command takes as a positional too)."""
    from transformers import HfArgumentParser

    try:
        reference = HfArgumentParser(cls)
    except AttributeError:  # `list` without an element type
        pytest.skip(f"HfArgumentParser cannot read {cls.__name__}")
    ours = {s: a.dest for a in PARSERS[command]._actions for s in a.option_strings}
    for action in reference._actions:
        if action.dest == "help" or not _action(command, action.dest).option_strings:
            continue
        for spelling in action.option_strings:
            assert ours.get(spelling) == action.dest, spelling


def test_a_part_several_configs_share_is_one_option_per_field_and_a_mapping_in_the_file(tmp_path):
    """``dataset_task`` (tasks.DatasetTask): the same --input-field, ... on every command that reads a task."""
    from cookbook_datasets.tasks import DatasetTask

    for command, cls, needs in ((["eval", "--tasks", "r.csv"], EvalConfig, []),
                                (["mix", "signals", "--tasks", "r.csv"], MixSignalsConfig, []),
                                (["mix", "learn", "--tasks", "r.csv", "--out", "o"], MixLearnConfig, []),
                                (["self-guide", "r.csv", "--out", "o"], SelfGuideConfig, [])):
        assert config_from_args(parse_args(command), cls).dataset_task is None  # nothing given: task files
        args = parse_args([*command, "--input-field", "review", "--dataset-split", "train", "--label-set", "a", "b",
                           "--dataset-task", "instruction=Rate it."])
        assert config_from_args(args, cls).dataset_task == DatasetTask(
            input_field="review", dataset_split="train", label_set=["a", "b"], instruction="Rate it.")
    path = tmp_path / "sg.yaml"
    path.write_text("dataset_task: {input_field: review, output_field: stars}\nnum_examples: 5\n")
    args = parse_args(["self-guide", "r.csv", "--out", "o", "--config", str(path), "--output-field", "label"])
    config = config_from_args(args, SelfGuideConfig)  # the option overrides the file's key inside the mapping
    assert config.dataset_task == DatasetTask(input_field="review", output_field="label") and config.num_examples == 5
    path.write_text("dataset_task: {input_feild: review}\n")
    with pytest.raises(ValueError, match=r"unknown dataset_task key 'input_feild' \(did you mean 'input_field'"):
        config_from_args(parse_args(["self-guide", "r.csv", "--out", "o", "--config", str(path)]), SelfGuideConfig)


def test_old_spellings_of_mix_and_self_guide_options_still_work():
    args = parse_args(["mix", "learn", "--tasks", "t.json", "--out", "o", "--no-model", "--no-labels", "--field",
                       "premise=Origin", "-p", "sharpness=2", "--param", "penalty=1"])
    config = config_from_args(args, MixLearnConfig)
    assert (config.use_model, config.use_labels, config.fields) == (False, False, {"premise": "Origin"})
    assert config.method_params == {"sharpness": 2, "penalty": 1}
    args = parse_args(["self-guide", "t.json", "--out", "o", "--no-eval", "--no-train", "--epochs", "2", "--lr", "1e-4",
                       "--batch-size", "4", "--engine-option", "timeout=5", "--base-url", "http://h/v1"])
    config = config_from_args(args, SelfGuideConfig)
    assert (config.evaluate, config.train, config.engine_options) == (False, False, {"timeout": 5})
    assert config.train_args() == {"num_train_epochs": 2.0, "learning_rate": 1e-4, "per_device_train_batch_size": 4}
