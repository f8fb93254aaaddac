"""Dataset references for training and evaluation, as in TRL's dataset mixtures.

A spec is ``{path, name, split, params}``: anything :func:`cookbook_datasets.load_dataset`
loads (a builder this package owns with its parameters, a Hub-layout directory, a Hub id).
Several specs are concatenated and shuffled into one training set.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional, Sequence

TRAIN_COLUMNS = ("prompt", "completion")


@dataclass
class DataSpec:
    path: str = field(metadata={"help": "Builder name ('cookbook'), Hub-layout directory or Hub id."})
    name: Optional[str] = field(default=None, metadata={"help": "Config name (e.g. the template)."})
    split: str = field(default="train", metadata={"help": "Split to train on."})
    params: dict = field(default_factory=dict, metadata={"help": "Extra load_dataset kwargs (builder params)."})

    @classmethod
    def from_dict(cls, d: dict) -> "DataSpec":
        if not isinstance(d, dict) or "path" not in d:
            raise ValueError(f"a dataset entry needs a 'path' (got {d!r})")
        known = {"path", "name", "split", "params"}
        extra = {k: v for k, v in d.items() if k not in known}  # TRL-style flat kwargs
        return cls(path=str(d["path"]), name=d.get("name"), split=d.get("split", "train"),
                   params={**dict(d.get("params") or {}), **extra})

    def to_dict(self) -> dict:
        return asdict(self)

    def load(self, split: Optional[str] = None) -> datasets.Dataset:
        from .loading import load_dataset  # datasets loads on use: configs that hold specs stay cheap to import

        return load_dataset(self.path, self.name, split=split or self.split, **self.params)


def load_training_data(specs: Sequence[DataSpec], split: Optional[str] = None, seed: int = 0) -> datasets.Dataset:
    """Concatenate the specs' splits (prompt/completion only) and shuffle them together."""
    import datasets

    if not specs:
        raise ValueError("no dataset given: pass --dataset (or `datasets:` in the YAML config)")
    parts = []
    for spec in specs:
        ds = spec.load(split)
        missing = [c for c in TRAIN_COLUMNS if c not in ds.column_names]
        if missing:
            raise ValueError(f"dataset {spec.path!r} has no column {missing[0]!r}; training needs "
                             f"{list(TRAIN_COLUMNS)} (the project's row schema), it has {ds.column_names}")
        parts.append(ds.select_columns(list(TRAIN_COLUMNS)))
    data = datasets.concatenate_datasets(parts)
    return data.shuffle(seed=seed) if len(parts) > 1 else data
