"""``mix learn``: signals on the tasks' fit rows -> a method's weights -> mix.json, report, mixture.

Steps, each cached under ``out/work`` so a killed run resumes where it stopped:

1. load each task's fit rows (they choose everything) and eval rows (never used here);
2. rule signals per (template setting, task), see signals.py (each task's fields and their roles
   from fields.py, ``fields`` for the user's mapping); each task's protecting component
   (protect.py); keep each task's most helpful components (``max_components_per_task``), its
   protecting one and your own (``components``: datasets in the row schema, user_components.py);
3. the untuned model's answers on the fit rows: base scores and template alignment;
4. proxy fine-tunes when the method asks for them (same step budget each, cached by recipe);
5. the method's weights (``auto``: the method chosen on held-out fit rows, auto.py), each task's
   protecting component floored at ``protect_share``; ``mix.json`` (weights, parameters, method,
   signals, fields, protection, budget, seeds, the rows that chose them), ``report.md``,
   ``weights.png``, ``signals.png``, and the Hub-layout mixture with its TRL recipe.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from ..atomic_files import atomic_json as _atomic_json
from ..models import DEFAULT_MODEL
from .base import MixSignals, normalise
from .fields import ROLES, parse_field_map
from .methods import METHODS, get_method
from .user_components import normalise_components

logger = logging.getLogger(__name__)


@dataclass
class MixLearnConfig:
    """What to learn a mixture for, from what, and with which budget."""

    tasks: list = field(metadata={"help": "Task files (NIV2 .json, multiple-choice .jsonl) or directories of them."})
    out: str = field(metadata={"help": "Output directory: mix.json, report.md, PNGs, the mixture (Hub layout)."})
    templates: list = field(default_factory=list, metadata={"help": "Template names; empty: every template."})
    model: str = field(default=DEFAULT_MODEL, metadata={"help": "The model the mixture is for (alignment, proxies)."})
    method: str = field(default="rules", metadata={"help": f"One of {', '.join(METHODS)}."})
    method_params: dict = field(default_factory=dict, metadata={"help": "The method's parameters."})
    fit_size: int = field(default=60, metadata={"help": "Fit rows per task (choose weights and label words)."})
    eval_size: int = field(default=100, metadata={"help": "Rows per task held out for scoring (never used here)."})
    use_labels: bool = field(default=True, metadata={
        "help": "Use the fit rows' gold answers; False: a label model over the rules' votes and demonstrations."})
    max_components_per_task: int = field(default=2, metadata={
        "help": "Keep each task's most helpful rule settings (0: keep all)."})
    use_model: bool = field(default=True, metadata={
        "help": "Measure the untuned model (base scores, alignment); required by training methods."})
    num_examples: int = field(default=2000, metadata={"help": "Rows of the written mixture's train split."})
    proxy_steps: int = field(default=40, metadata={"help": "LoRA steps of each proxy fine-tune."})
    proxy_rows: int = field(default=320, metadata={"help": "Mixture rows each proxy fine-tune draws from."})
    online_steps: int = field(default=200, metadata={
        "help": "Steps of the one LoRA run in which --method online learns its weights."})
    update_every: int = field(default=20, metadata={
        "help": "--method online: re-weight every N steps (task losses on the fit rows, one forward pass)."})
    eta: float = field(default=0.5, metadata={
        "help": "--method online: exponentiated-gradient step size (a weight's log moves by eta times its "
                "estimated loss change over the typical change, per update)."})
    learning_rate: float = field(default=5e-4, metadata={"help": "Proxy fine-tunes' learning rate."})
    batch_size: int = field(default=8, metadata={"help": "Proxy fine-tunes' batch size."})
    num_shots: int = field(default=2, metadata={"help": "Demonstrations in NIV2 prompts."})
    eval_batch_size: int = field(default=16, metadata={"help": "Batch size when the model answers tasks."})
    dtype: Optional[str] = field(default=None, metadata={"help": "Dtype to run the model in when answering."})
    seed: int = field(default=0, metadata={"help": "Seed of the row split, the proxies and the mixture."})
    fields: dict = field(default_factory=dict, metadata={
        "help": "Role -> field name as the inputs spell it (e.g. {'premise': 'Text A'}; CLI --field premise='Text A'): "
                "overrides the detected roles (mixing/fields.py) in every task that has that field. Roles: "
                + ", ".join(ROLES) + "."})
    components: dict = field(default_factory=dict, metadata={
        "help": "Your own components, mixed with the templates in every method: name -> data reference (a "
                "row-schema file, a Hub-layout directory such as SELF-GUIDE's or augmentation's output, a Hub id) "
                "or {'path': DATA, 'name': CONFIG, 'repeat': True}; CLI --component NAME=DATA[@CONFIG]. They wrap "
                "around unless 'repeat' is false (user_components.py)."})
    protect_share: float = field(default=0.02, metadata={
        "help": "Each task's protecting component (mixing/protect.py) keeps at least this share of the mixture "
                "in every method, online updates included (0 < x <= 0.5; the floors together take at most 0.5)."})

    def __post_init__(self):
        if not self.tasks:
            raise ValueError("give at least one task file or directory (--tasks)")
        if self.method not in METHODS:
            get_method(self.method)  # the error lists the methods
        for name in ("fit_size", "eval_size", "num_examples", "proxy_steps", "proxy_rows", "batch_size",
                     "online_steps", "update_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer (got {value!r})")
        if METHODS[self.method].uses_training and not self.use_model:
            raise ValueError(f"method {self.method!r} fine-tunes the model: it needs use_model=True")
        if not self.eta > 0:
            raise ValueError(f"eta must be > 0 (got {self.eta!r})")
        if self.method in ("online", "auto") and self.update_every > self.online_steps:
            raise ValueError(f"update_every ({self.update_every}) is larger than the run (online_steps "
                             f"{self.online_steps}): the weights would never change")
        self.fields = parse_field_map(self.fields)  # unknown roles are named with the allowed ones
        self.components = normalise_components(self.components)
        if isinstance(self.protect_share, bool) or not isinstance(self.protect_share, (int, float)) or \
                not 0 < self.protect_share <= 0.5:
            raise ValueError(f"protect_share must be a number in (0, 0.5] (got {self.protect_share!r})")

    def task_files(self) -> list:
        files = []
        for spec in self.tasks:
            path = Path(spec)
            if path.is_dir():
                found = sorted(p for p in path.iterdir() if p.suffix in (".json", ".jsonl"))
                if not found:
                    raise FileNotFoundError(f"{path}: no .json (NIV2) or .jsonl (multiple choice) task files")
                files += found
            elif path.is_file():
                files.append(path)
            else:
                raise FileNotFoundError(f"task {spec!r} is neither a task file nor a directory")
        return files


def _key(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def load_rows(config: MixLearnConfig) -> tuple[dict, dict]:
    """(fit rows, eval rows) per task name."""
    from .task_rows import load_task_rows

    from .task_examples import check_field_map

    fit, held = {}, {}
    for path in config.task_files():
        f, e = load_task_rows(path, config.fit_size, config.eval_size, seed=config.seed, num_shots=config.num_shots,
                              field_map=config.fields)
        if f.name in fit:
            raise ValueError(f"two task files are named {f.name!r}")
        fit[f.name], held[f.name] = f, e
    check_field_map(config.fields, {t: r.examples.layout for t, r in fit.items()})
    return fit, held


def select_components(signals: MixSignals, per_task: int, keep=()) -> MixSignals:
    """Keep each task's ``per_task`` most helpful components (all of them when ``per_task`` is 0),
    and the components in ``keep`` (the tasks' protecting components) whatever their help."""
    if per_task <= 0:
        return signals
    help_ = signals.helpfulness()
    helpful: set = set()
    for task in signals.tasks:
        ranked = sorted((c for c in signals.components if help_[c][task] > 0), key=lambda c: -help_[c][task])
        helpful.update(ranked[:per_task])
    if not helpful:  # no rule beats chance anywhere: keep each task's most accurate setting
        for task in signals.tasks:
            acc = {c: signals.rule_accuracy[c][task] for c in signals.components
                   if signals.rule_accuracy[c][task] is not None}
            if acc:
                helpful.add(max(acc, key=acc.get))
    keep = set(keep)
    names = [c for c in signals.components if c in helpful or c in keep]
    return signals.replace(components={c: signals.components[c] for c in names},
                           rule_accuracy={c: signals.rule_accuracy[c] for c in names},
                           coverage={c: signals.coverage[c] for c in names})


def answer_tasks(model_spec: str, adapter: Optional[str], rows: dict, cache: Path, config: MixLearnConfig) -> dict:
    """task -> the model's answers on ``rows`` (cached in ``cache``)."""
    from ..cpu import release_memory
    from ..models import load_model
    from .task_rows import model_answers

    done = json.loads(cache.read_text()) if cache.exists() else {}
    todo = [t for t in rows if not _current_answers(done.get(t), rows[t])]
    if todo:
        model, tokenizer = load_model(model_spec, adapter=adapter, dtype=config.dtype)
        for task in todo:
            done[task] = model_answers(model, tokenizer, rows[task], batch_size=config.eval_batch_size)
            _atomic_json(cache, done)
        del model
        release_memory()
    return {t: done[t] for t in rows}


def _current_answers(answers, rows) -> bool:
    """Whether cached answers are the current kind for ``rows``: one per row, and for multiple choice
    a choice per framing (an older cache held the log-likelihood choice alone: it is answered again)."""
    if answers is None or len(answers) != len(rows):
        return False
    return rows.kind != "multiple_choice" or all(isinstance(a, list) for a in answers)


def train_mixture(weights: dict, components: dict, work: Path, config: MixLearnConfig, steps: int,
                  rows: int) -> str:
    """LoRA-tune the model on ``rows`` mixture rows for ``steps`` steps; returns the adapter directory
    (reused when it exists: the directory is keyed by the whole recipe)."""
    from ..trainers import TrainConfig, train

    recipe = {"weights": weights, "components": components, "steps": steps, "rows": rows, "seed": config.seed,
              "lr": config.learning_rate, "batch": config.batch_size, "model": config.model}
    out = work / _key(recipe)
    if (out / "run_card.json").exists():
        return str(out)
    positive = {c: w for c, w in weights.items() if w > 0}
    spec = {"path": "mixture", "weights": positive, "components": {c: components[c] for c in positive},
            "num_examples": rows, "seed": config.seed}
    train(TrainConfig(model=config.model, datasets=[spec], output_dir=str(out), max_steps=steps,
                      learning_rate=config.learning_rate, per_device_train_batch_size=config.batch_size,
                      eval_split=None, seed=config.seed, max_length=512, save_total_limit=1, eval_steps=steps))
    _atomic_json(out / "recipe.json", recipe)
    return str(out)


def measure(config: MixLearnConfig, protect: bool = True) -> tuple[MixSignals, dict, dict, dict]:
    """Signals on the fit rows (with base scores and alignment when ``use_model``); also returns the
    rows (fit, eval) and the alignment table {component: {task: value}}. ``protect``: choose each
    task's protecting component (protect.py) and keep it in the components."""
    from .protect import choose_protection
    from .signals import alignment, compute_signals, measure_rules
    from .task_rows import score
    from .user_components import add_components, check_components
    from ..templates import list_templates

    work = Path(config.out) / "work"
    if config.components:  # a bad file fails here, before any rule or model runs
        sizes = check_components(config.components)
        logger.info("your components: %s", ", ".join(f"{n} ({sum(v.values())} rows)" for n, v in sizes.items()))
    fit, held = load_rows(config)
    templates = config.templates or list_templates()
    signals, rule_answers = compute_signals(fit, templates, use_labels=config.use_labels)
    keep = ()
    if protect:
        protection, added = choose_protection(signals, fit, templates, work / "protect", num_shots=config.num_shots)
        signals.protection = protection
        keep = {c for p in protection.values() for c in p["components"]}
        signals.components.update({c: s for c, s in added.items() if c not in signals.components})
        if added:
            rule_answers = measure_rules(signals, fit, use_labels=config.use_labels)
    if config.components:
        add_components(signals, config.components)
        keep = set(keep) | set(config.components)  # the user asked for them: never dropped for lack of a rule
    signals = select_components(signals, config.max_components_per_task, keep=keep)
    aligned = {}
    if config.use_model:
        answers = answer_tasks(config.model, None, fit, work / "base_fit_answers.json", config)
        signals.base_scores = {t: score(fit[t], answers[t]) for t in fit}
        aligned = {c: {t: alignment(fit[t], answers[t], rule_answers[t][c]) for t in fit}
                   for c in signals.components if c in rule_answers[next(iter(fit))]}
    return signals, fit, held, aligned


def run_answers(weights: dict, signals: MixSignals, fit: dict, config: MixLearnConfig, work: Path) -> dict:
    """task -> the answers, on every fit row, of a proxy fine-tune on ``weights`` (cached by weights
    and components in ``work/proxy_answers.json``, and the run by its recipe)."""
    cache = work / "proxy_answers.json"
    done = json.loads(cache.read_text()) if cache.exists() else {}
    key = _key({"weights": weights, "components": {c: signals.components[c] for c in weights
                                                   if c in signals.components}})
    if key not in done or set(done[key]["answers"]) != set(fit) or \
            not all(_current_answers(done[key]["answers"][t], fit[t]) for t in fit):
        adapter = train_mixture(weights, signals.components, work / "proxies", config, config.proxy_steps,
                                config.proxy_rows)
        answers = answer_tasks(config.model, adapter, fit, Path(adapter) / "fit_answers.json", config)
        done[key] = {"weights": weights, "answers": answers}
        _atomic_json(cache, done)
    return done[key]["answers"]


def fit_weights(name: str, params: dict, signals: MixSignals, fit: dict, config: MixLearnConfig, out: Path,
                floors: Optional[dict] = None, scored_rows: Optional[dict] = None, work: Optional[Path] = None):
    """(method, weights) of method ``name`` on ``signals``: its proxy runs or its online run first.
    ``scored_rows`` (task -> row indices into ``fit``) scores the proxy runs on those fit rows only
    (``auto`` learns on one part of the fit rows and judges on the other); default all."""
    from .task_rows import score, subset_rows

    work = out / "work" if work is None else work  # where proxy runs are cached (shared by auto's candidates)
    method = get_method(name, **params)
    if getattr(method, "trains_online", False):  # one run that learns the weights as it trains (online.py)
        method = get_method(name, **{"update_every": config.update_every, "eta": config.eta, **params})
        rows = fit if scored_rows is None else {t: subset_rows(fit[t], scored_rows[t]) for t in fit}
        method.train(signals, rows, out / "online", model=config.model, steps=config.online_steps,
                     seed=config.seed, learning_rate=config.learning_rate, batch_size=config.batch_size,
                     floors=floors)
    elif method.uses_training:
        signals = signals.replace(runs=[])
        parts = {t: fit[t] if scored_rows is None else subset_rows(fit[t], scored_rows[t]) for t in fit}
        for weights in method.runs(list(signals.components), seed=config.seed):
            answers = run_answers(weights, signals, fit, config, work)
            if scored_rows is not None:
                answers = {t: [answers[t][i] for i in scored_rows[t]] for t in fit}
            signals.runs.append({"weights": weights, "scores": {t: score(parts[t], answers[t]) for t in fit}})
    return method, method.fit(signals), signals


def learn(config: MixLearnConfig) -> dict:
    """Learn the weights and write everything (see the module doc); returns the mix.json content."""
    from .protect import apply_floors, floors as protect_floors
    from .report import write_report

    out = Path(config.out)
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    identity = {k: v for k, v in asdict(config).items() if k not in ("out", "eval_batch_size", "dtype")}
    if not identity["components"]:  # a directory learned before `components` existed still resumes
        del identity["components"]
    identity_path = work / "config.json"
    if identity_path.exists() and json.loads(identity_path.read_text()) != json.loads(json.dumps(identity, default=str)):
        raise ValueError(f"{out} holds a mixture learned with other settings ({identity_path}); use another --out")
    _atomic_json(identity_path, identity)
    signals, fit, _, aligned = measure(config)
    floors = protect_floors(signals.protection, config.protect_share)
    if config.method == "auto":
        from .auto import choose

        method, raw, signals = choose(config, signals, fit, out, floors=floors)
    else:
        method, raw, signals = fit_weights(config.method, config.method_params, signals, fit, config, out,
                                           floors=floors)
    if config.method == "rules" and config.components:
        logger.warning("rules cannot measure your components (%s): no rule reads a dataset, so they get weight only "
                       "where no template helps a task; --method proxy, online or auto measure them",
                       ", ".join(config.components))
    weights = apply_floors(normalise(raw), floors)
    path = write_learned_mix(out / "mix.json", config.method, method, raw, weights, signals, aligned, floors, fit,
                             config)
    write_report(out, json.loads(path.read_text()))
    _write_mixture(out, path, config)
    return json.loads(path.read_text())


def write_learned_mix(path: Path, name: str, method, raw: dict, weights: dict, signals: MixSignals, aligned: dict,
                      floors: dict, fit: dict, config: MixLearnConfig) -> Path:
    """Write ``mix.json`` for method ``name``'s ``weights`` (``raw``: before the floors) with everything
    that chose them: signals, alignment, protection, budget, seeds and the fit rows."""
    from .mix_file import write_mix

    record = {
        "method": name, "method_params": method.params(), "explanation": method.explain(),
        "signals": signals.to_dict(), "alignment": aligned,
        "protection": {"share": config.protect_share, "floors": floors, "tasks": signals.protection,
                       "weights_before_floors": normalise(raw)},
        "budget": {"proxy_runs": len(signals.runs), "proxy_steps": config.proxy_steps,
                   "proxy_rows": config.proxy_rows, "batch_size": config.batch_size,
                   **({"online_steps": config.online_steps} if name in ("online", "auto") else {})},
        "seeds": {"seed": config.seed}, "model": config.model,
        "fit_rows": {t: r.rows for t, r in fit.items()},
        "user_components": list(config.components),
        "note": "Weights and label words were chosen on fit_rows only; score on other rows.",
    }
    if name == "auto":
        record["auto"] = method.explain().get("auto", {})
    # a template under its own name with no parameters needs no component entry
    components = {c: spec for c, spec in signals.components.items()
                  if "template" not in spec or c != spec["template"] or any(k != "template" for k in spec)}
    return write_mix(path, weights, components=components, **record)


def _write_mixture(out: Path, mix_path: Path, config: MixLearnConfig) -> None:
    from ..hub_layout import write_hub_layout
    from ..loading import load_builder
    from ..trainers.trl_recipe import write_trl_recipe

    builder = load_builder("mixture", "mixture", weights=str(mix_path), num_examples=config.num_examples,
                           seed=config.seed)
    builder.download_and_prepare()
    data = write_hub_layout({"mixture": builder.as_dataset()}, out / "data", {"mixture": builder.recipe()},
                            overwrite=True, pretty_name="Cookbook-Mix mixture",
                            description=f"Learned with `cookbook mix learn --method {config.method}`.")
    write_trl_recipe(data, ["mixture"], model=config.model)
