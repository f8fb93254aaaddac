"""Rebuild a dataset this package wrote from its card alone, and check it against the original.

The card (README.md) records every config's recipe and a SHA-256 of every Parquet file
(``hub_layout.py``). Template and mixture configs (``cookbook generate``, ``mix learn``) are
deterministic: their recipe rebuilds them and ``check`` compares the rebuilt Parquet with the
original byte for byte, naming the config, split and first row that differ. Model-made configs
(SELF-GUIDE, augmentation, DiverseEvol subsets) cannot be remade without running the model again:
``check`` says which inputs those are, and checks what it can without the model (the files against
the card's checksums, the augmentation seed set against its recorded fingerprint).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

logger = logging.getLogger(__name__)


@dataclass
class SplitCheck:
    """One config and split of the original, compared with what was rebuilt or recorded."""

    config: str
    split: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.config}/{self.split}: {self.detail}"


@dataclass
class Regeneration:
    """What ``regenerate`` rebuilt, what it could not, and (with ``check``) how the original compares."""

    source: str
    out: Optional[Path]
    rebuilt: list = field(default_factory=list)
    not_reproducible: dict = field(default_factory=dict)  # config -> the inputs only the model can remake
    notes: list = field(default_factory=list)
    checks: list = field(default_factory=list)  # of SplitCheck, empty without check

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def format(self) -> str:
        lines = []
        if self.rebuilt:
            lines.append(f"Rebuilt from the card of {self.source}: {', '.join(self.rebuilt)} -> {self.out}")
        else:
            lines.append(f"Nothing in {self.source} can be rebuilt from its card alone")
        for config, what in self.not_reproducible.items():
            lines.append(f"Not reproducible without the model: {config}: {what}")
        lines += [f"Note: {n}" for n in self.notes]
        lines += [c.line() for c in self.checks]
        if self.checks:
            failed = [f"{c.config}/{c.split}" for c in self.checks if not c.ok]
            lines.append(f"Check failed: {', '.join(failed)}" if failed else
                         "Check passed: every rebuilt split is byte-identical and every other file matches its card")
        return "\n".join(lines)


# -- where the original is --------------------------------------------------------------------------

def _local_copy(source: str, with_data: bool) -> Path:
    """A local directory with the original: the path itself, or the Hub dataset downloaded."""
    path = Path(source).expanduser()
    if path.exists():
        return path
    import huggingface_hub

    from .loading import hub_offline

    if hub_offline():
        where = "the Hub is offline (HF_HUB_OFFLINE is set)"
    else:
        try:
            return Path(huggingface_hub.snapshot_download(
                source, repo_type="dataset", allow_patterns=None if with_data else ["README.md"]))
        except Exception as e:  # any Hub error (not found, refused, unreachable): one line
            where = f"the Hub has no dataset {source!r} this machine can fetch ({type(e).__name__})"
    raise FileNotFoundError(f"cannot regenerate {source}: no such directory ({path.absolute()}), and {where}")


# -- rebuilding ---------------------------------------------------------------------------------------

def _cookbook_builder(name: str, recipe: dict, cache_dir):
    from .loading import load_builder

    sizes = recipe["split_sizes"]
    return load_builder("cookbook", recipe["template"], num_examples=sizes["train"],
                        num_eval_examples=sizes.get("validation"), seed=recipe["seed"], format=recipe["format"],
                        cache_dir=cache_dir, **recipe["params"])


def _mixture_builder(name: str, recipe: dict, cache_dir):
    from .loading import load_builder

    components = {n: {"template": d["template"], **d["params"]} if "template" in d else dict(d["dataset"])
                  for n, d in recipe["components"].items()}
    caps = recipe["split_caps"]
    return load_builder("mixture", name, weights=recipe["weights"], components=components,
                        num_examples=caps["train"], num_eval_examples=caps.get("validation"), seed=recipe["seed"],
                        stopping_strategy=recipe["stopping_strategy"], format=recipe["format"], cache_dir=cache_dir)


REBUILDERS = {"cookbook": _cookbook_builder, "mixture": _mixture_builder}


def _drift(config: str, recipe: dict) -> list[str]:
    """What changed since the data was made that may change its rows (template code, package)."""
    from . import __version__
    from .templates import get_template_class

    notes = []
    if recipe.get("package_version") not in (None, __version__):
        notes.append(f"{config} was made by cookbook-datasets {recipe['package_version']}, this is {__version__}")
    parts = recipe.get("components", {}).values() if recipe.get("builder") == "mixture" else [recipe]
    for part in parts:
        if "template" in part and part.get("template_code_hash") != get_template_class(part["template"]).code_hash():
            notes.append(f"{config}: template {part['template']}'s code changed since the data was made "
                         "(its rows may differ)")
    return notes


def _model_made(config: str, recipe: dict) -> Optional[str]:
    """The inputs of a model-made config that only its model can remake; None for rebuildable ones."""
    if recipe.get("builder") in REBUILDERS:
        return None
    method = recipe.get("method", "")
    if method == "self_guide":
        return (f"the inputs and outputs the model `{recipe.get('model')}` wrote for itself and which its filters "
                f"kept (task and SELF-GUIDE config are recorded: rerun `cookbook self-guide` to remake them)")
    if method == "augmentation":
        return (f"the teacher `{recipe.get('teacher')}`'s questions and answers (strategy, budget and seed set are "
                f"recorded: rerun `cookbook augment` with a response cache to replay them)")
    if method.startswith("DiverseEvol"):
        return f"which rows the model `{recipe.get('model')}` chose in each round"
    return f"no recipe this package can rebuild from (method {method or recipe.get('builder')!r})"


# -- checking -----------------------------------------------------------------------------------------

def _first_different_row(a: Path, b: Path) -> str:
    import pyarrow.parquet as pq

    left, right = pq.read_table(a), pq.read_table(b)
    if left.num_rows != right.num_rows:
        return f"{left.num_rows} rows in the original, {right.num_rows} rebuilt"
    if left.schema != right.schema:
        return "the columns or their types differ"
    step = 1024
    for start in range(0, left.num_rows, step):
        x, y = left.slice(start, step).to_pylist(), right.slice(start, step).to_pylist()
        for i, (r, s) in enumerate(zip(x, y)):
            if r != s:
                return f"row {start + i} differs (source {r.get('source')!r})"
    return "same rows, different bytes (written by another pyarrow?)"


def _compare_rebuilt(config: str, original, rebuilt) -> list[SplitCheck]:
    from .hub_layout import file_sha256

    checks = []
    for split in sorted(set(original.configs[config]) | set(rebuilt.configs[config])):
        old, new = original.configs[config].get(split, []), rebuilt.configs[config].get(split, [])
        if [Path(f).name for f in old] != [Path(f).name for f in new]:
            checks.append(SplitCheck(config, split, False, f"files differ: original {old or 'none'}, rebuilt "
                                                           f"{new or 'none'}"))
            continue
        diff = [(a, b) for a, b in zip(original.files(config, split), rebuilt.files(config, split))
                if file_sha256(a) != file_sha256(b)]
        if diff:
            checks.append(SplitCheck(config, split, False, f"{diff[0][0].name} is not the rebuilt Parquet: "
                                                           f"{_first_different_row(*diff[0])}"))
        else:
            checks.append(SplitCheck(config, split, True, f"byte-identical ({len(old)} Parquet file(s))"))
    return checks


def _compare_checksums(config: str, original) -> list[SplitCheck]:
    from .hub_layout import file_sha256

    checks = []
    for split, files in original.configs[config].items():
        if not original.checksums:
            checks.append(SplitCheck(config, split, True, "the card records no checksums (written before they "
                                                          "were): nothing to check without the model"))
            continue
        unknown = [f for f in files if f not in original.checksums]
        changed = [f for f in files if f in original.checksums and file_sha256(original.root / f) != original.checksums[f]]
        missing = [f for f, _ in original.checksums.items() if f.startswith(f"{config}/") and
                   Path(f).name.startswith(f"{split}-") and f not in files]
        if changed or unknown or missing:
            what = (f"{changed[0]} changed since it was written" if changed else
                    f"{unknown[0]} is not in the card" if unknown else f"{missing[0]} is missing")
            checks.append(SplitCheck(config, split, False, what))
        else:
            checks.append(SplitCheck(config, split, True, "files match the card's checksums (rows not remade)"))
    return checks


def _check_seed_set(config: str, recipe: dict) -> Optional[SplitCheck]:
    """An augmentation's seed set, where it is still on disk, against the fingerprint recorded."""
    seed_data = recipe.get("seed_data")
    if recipe.get("method") != "augmentation" or not seed_data or not Path(seed_data).exists():
        return None
    from .augmentation.seed_data import load_seed_set, seed_fingerprint

    seeds = load_seed_set(seed_data, question_field=recipe.get("question_field"),
                          answer_field=recipe.get("answer_field"))
    same = seed_fingerprint(seeds) == recipe.get("seed_set")
    return SplitCheck(config, "seed set", same, f"{seed_data} {'is' if same else 'is not'} the seed set it was made "
                                                 f"from (fingerprint {recipe.get('seed_set')})")


def _recipe_of(original, config: str) -> Optional[dict]:
    """A config's recipe: its own, or the one recipe recorded for all configs (DiverseEvol's rounds)."""
    if config in original.recipes:
        return original.recipes[config]
    shared = [r for k, r in original.recipes.items() if k not in original.configs]
    return shared[0] if len(shared) == 1 else None


# -- the function -------------------------------------------------------------------------------------

def regenerate(source: str | os.PathLike, out: str | os.PathLike, *, check: bool = False, overwrite: bool = False,
               num_proc: Optional[int] = None, cache_dir: Optional[str] = None) -> Regeneration:
    """Rebuild ``source`` (a Hub-layout directory or Hub dataset id) from its card into ``out``.

    Only the card is read to rebuild; with ``check`` the original Parquet is compared too. Configs
    that only a model can remake are not rebuilt; they are named in the result with what their
    model made, and checked against the card's checksums."""
    from .hub_layout import read_card, write_hub_layout

    original = read_card(_local_copy(str(source), with_data=check))
    result = Regeneration(source=str(source), out=None)
    builders, recipes = {}, {}
    for config in original.configs:
        recipe = _recipe_of(original, config)
        reason = "the card records no recipe for it" if recipe is None else _model_made(config, recipe)
        if reason is not None:
            result.not_reproducible[config] = reason
            continue
        builders[config] = REBUILDERS[recipe["builder"]](config, recipe, cache_dir)
        result.notes += _drift(config, recipe)
    if builders:
        from tqdm.auto import tqdm

        from .progress import quiet_datasets

        configs = {}
        with quiet_datasets():  # one bar over the configs, not one per config and split
            for config, builder in tqdm(builders.items(), desc="Rebuilding configs", unit="config",
                                        disable=len(builders) < 2):
                builder.download_and_prepare(num_proc=num_proc)
                configs[config] = builder.as_dataset()
                recipes[config] = builder.config.recipe() if hasattr(builder.config, "recipe") else builder.recipe()
        result.out = write_hub_layout(configs, out, recipes, overwrite=overwrite,
                                      **({"pretty_name": original.pretty_name} if original.pretty_name else {}))
        result.rebuilt = list(configs)
        for config in builders:
            recipes[config] = json.loads(json.dumps(recipes[config], default=str))  # as the card holds it
            if recipes[config] != original.recipes[config]:
                changed = sorted(k for k in set(recipes[config]) | set(original.recipes[config])
                                 if recipes[config].get(k) != original.recipes[config].get(k))
                result.notes.append(f"{config}: the rebuilt recipe differs from the card's in {', '.join(changed)}")
    if check:
        rebuilt = read_card(result.out) if result.out else None
        for config in original.configs:
            if config in builders:
                result.checks += _compare_rebuilt(config, original, rebuilt)
            else:
                result.checks += _compare_checksums(config, original)
                seed_check = _check_seed_set(config, _recipe_of(original, config) or {})
                if seed_check is not None:
                    result.checks.append(seed_check)
    logger.info("regenerated %s: rebuilt %s, not reproducible %s", source, result.rebuilt,
                list(result.not_reproducible))
    return result
