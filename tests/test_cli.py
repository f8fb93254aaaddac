"""The `cookbook` command line."""

import datasets
import pytest

from cookbook_datasets import list_templates
from cookbook_datasets.cli import main


def test_templates_lists_names_families_and_descriptions(capsys):
    assert main(["templates"]) == 0
    out = capsys.readouterr().out
    for name in list_templates():
        assert name in out
    assert "search" in out and "selection" in out


def test_templates_show_prints_samples_with_parameters(capsys):
    assert main(["templates", "show", "document_qa", "-n", "2", "-p", "doc_length=16"]) == 0
    out = capsys.readouterr().out
    assert "doc_length = 16" in out and out.count("--- sample") == 2


def test_generate_writes_a_hub_layout_and_prints_rows(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["generate", "document_qa", "nli", "--num-examples", "20", "--seed", "1", "--out", str(out),
                 "-p", "document_qa.doc_length=20", "--mix", "--show", "2"]) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and printed.count(">>>") == 2
    ds = datasets.load_dataset(str(out), "document_qa", split="train")
    assert len(ds) == 20
    assert len(datasets.load_dataset(str(out), "mixture", split="train")) == 20


@pytest.mark.parametrize("argv, message", [
    (["generate", "documnt_qa", "--out", "X"], "Did you mean 'document_qa'"),
    (["generate", "document_qa", "--num-examples", "0", "--out", "X"], "num_examples"),
    (["generate", "document_qa", "-p", "num_options=3", "--out", "X"], "num_options"),
])
def test_generate_errors_are_clear_and_write_nothing(argv, message, tmp_path, capsys):
    argv = [str(tmp_path / "out") if a == "X" else a for a in argv]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()

