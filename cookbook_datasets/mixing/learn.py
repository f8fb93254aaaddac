"""``mix learn``: a method's weights for several tasks, learned on their fit rows, and what it writes.

:func:`learn` runs these stages in order, each a small function below, each cached under
``out/work`` so a killed run resumes where it stopped:

1. :func:`load_rows`: each task's fit rows (they choose everything) and eval rows (never used here);
2. :func:`rule_signals`: rule signals per (template setting, task), see signals.py (each task's
   fields and their roles from tasks/fields.py, ``fields`` for the user's mapping); each task's
   protecting component (protect.py); each task's most helpful components kept
   (``max_components_per_task``), its protecting one and your own (``components``: datasets in
   the row schema, user_components.py);
3. :func:`model_signals`: the untuned model's answers on the fit rows: base scores and alignment
   (and from the same answers :func:`base_probe`: does the model read each task? eval/probe.py);
4. ``TaskLearner.learn`` (learner.py), the one way any method is learned (``auto`` learns its
   candidates the same way): the training the method asks for (methods/base.py: proxy
   fine-tunes, the online run, or ``auto``'s candidates judged on held-out fit rows), the
   method's weights, and each task's protecting component floored at ``protect_share``;
5. :func:`guard`: never worse than where you started, per task (the rule of ``eval.guard``, shared
   with ``cookbook train``, SELF-GUIDE and DiverseEvol). With the model, a proxy fine-tune of the
   final mixture (the proxy budget, cached by recipe like every proxy run) answers each task's
   *judge rows* (the judge half of its fit rows, the seeded split auto judges on, for every method),
   paired row by row with the untuned model's answers there (the base answers of stage 3); with
   ``guard="keep-best"`` a task whose tuned mean is not strictly above the untuned one's is named:
   for it, keep the untuned model. ``guard="off"`` names nothing and warns. A task with fewer than
   ``min_validation_rows`` judge rows, or a run without the model, gets no choice, said so. The
   judge rows are fit rows (the weights were chosen on them): never worse on the rows that chose,
   not a held-out score;
6. :func:`write_outputs`: ``mix.json`` (weights, parameters, method, signals, fields, protection,
   budget, seeds, the rows that chose them, the guard), written once; ``report.md``, ``weights.png``,
   ``signals.png`` and the Hub-layout mixture with its TRL recipe, made from the same record.

Several methods can be learned into one ``out``, one after another: they share its caches (the
model's answers, the proxy fine-tunes, the online runs), and ``mix.json`` and the rest are the last
method's. Other settings in the same ``out`` are refused.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from ..atomic_files import atomic_json
from ..executor import ExecutorConfig
from ..eval.guard import GUARD_MODES, check_guard_mode
from ..models import DEFAULT_MODEL, DTYPES
from ..tasks import DatasetTask
from ..tasks.fields import ROLES, parse_field_map
from .learner import TaskLearner, base_answers
from .methods import METHODS, Learned
from .signals import MixSignals
from .user_components import normalise_components

logger = logging.getLogger(__name__)

# settings ``out/work`` does not depend on (the guard reads the caches and adds a proxy run keyed by its recipe)
NOT_IN_CACHES = ("out", "eval_batch_size", "dtype", "method", "guard", "min_validation_rows", "execution")


@dataclass
class MixSignalsConfig:
    """What to measure template signals on: the target tasks, their fit rows, the model (``mix
    signals``, :func:`measure`; :class:`MixLearnConfig` adds how the weights are learned)."""

    tasks: list = field(metadata={
        "help": "Target tasks: task files (NIV2 .json, multiple-choice .jsonl) or directories of them, or your data "
                "(a .csv/.parquet file, a dataset directory or Hub id) read through dataset_task's columns."})
    out: str = field(metadata={"help": "Output directory: mix.json, report.md, PNGs, the mixture (Hub layout)."})
    templates: list = field(default_factory=list, metadata={"help": "Template names; empty: every template."})
    model: str = field(default=DEFAULT_MODEL, metadata={"help": "The model the mixture is for (alignment, proxies)."})
    fit_size: int = field(default=60, metadata={"help": "Fit rows per task (choose weights and label words)."})
    eval_size: int = field(default=100, metadata={"help": "Rows per task held out for scoring (never used here)."})
    use_labels: bool = field(default=True, metadata={
        "help": "Use the fit rows' gold answers; False: a label model over the rules' votes and demonstrations."})
    use_model: bool = field(default=True, metadata={
        "help": "Measure the untuned model (base scores, alignment): on by default, so every method, rules "
                "included, loads and runs the model on every task's fit rows (minutes on a CPU); False (CLI "
                "--no-model) skips it (rules, uniform). Required by training methods."})
    num_shots: int = field(default=2, metadata={
        "help": "Demonstrations in NIV2 prompts (and the demonstrations taken from a data file's first rows)."})
    eval_batch_size: int = field(default=16, metadata={"help": "Batch size when the model answers tasks."})
    dtype: Optional[str] = field(default=None, metadata={"help": "Dtype to run the model in when answering.",
                                                         "choices": list(DTYPES)})
    seed: int = field(default=0, metadata={"help": "Seed of the row split, the proxies and the mixture."})
    fields: dict = field(default_factory=dict, metadata={
        "help": "Role -> field name as the inputs spell it (e.g. {'premise': 'Text A'}; CLI --field premise='Text A'): "
                "overrides the detected roles (tasks/fields.py) in every task that has that field. Roles: "
                + ", ".join(ROLES) + "."})
    dataset_task: Optional[DatasetTask] = field(default=None, metadata={
        "help": "Read the tasks as datasets (a data file, a dataset directory, a Hub id) with these columns, "
                "instruction, split, ... (DatasetTask's fields, each its own option: --input-field, ...); a data "
                "file (.csv, .parquet) is read so anyway. Its first num_shots labelled rows are the demonstrations "
                "unless dataset_task.demonstrations says otherwise."})
    execution: Optional[ExecutorConfig] = field(default=None, metadata={
        "help": "Where the model answers the fit rows (the untuned model's, and each proxy fine-tune's) run "
                "(default local; ExecutorConfig's fields, each its own option: --executor ray --ray-address ADDR "
                "--replicas N), a task per work item; the same answers either way."})

    def __post_init__(self):
        self.execution = ExecutorConfig.from_value(self.execution)
        if not self.tasks:
            raise ValueError("give at least one task file or directory (--tasks)")
        for name in ("fit_size", "eval_size", "eval_batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer (got {value!r})")
        if isinstance(self.num_shots, bool) or not isinstance(self.num_shots, int) or self.num_shots < 0:
            raise ValueError(f"num_shots must be an integer >= 0 (got {self.num_shots!r})")
        self.fields = parse_field_map(self.fields)  # unknown roles are named with the allowed ones
        self.dataset_task = DatasetTask.from_value(self.dataset_task)

    def load_tasks(self) -> list:
        """The target tasks (files, directories of them, or data read with ``dataset_task``)."""
        from ..tasks import load_tasks

        return load_tasks(self.tasks, dataset_task=self.dataset_task, demonstrations=self.num_shots)


@dataclass
class MixLearnConfig(MixSignalsConfig):
    """What to learn a mixture for, from what, and with which budget (the signals' settings, and how
    the weights are learned)."""

    method: str = field(default="rules", metadata={"help": "How the weights are learned.", "choices": list(METHODS)})
    method_params: dict = field(default_factory=dict, metadata={
        "help": "The method's parameters (e.g. sharpness=2, num_random=4, penalty=2).", "aliases": ["-p", "--param"]})
    max_components_per_task: int = field(default=2, metadata={
        "help": "Keep each task's most helpful rule settings (0: keep all)."})
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
    components: dict = field(default_factory=dict, metadata={
        "help": "Your own components, mixed with the templates in every method: name -> data reference (a "
                "row-schema file, a Hub-layout directory such as SELF-GUIDE's or augmentation's output, a Hub id) "
                "or {'path': DATA, 'name': CONFIG, 'repeat': True}; CLI --component NAME=DATA[@CONFIG]. They wrap "
                "around unless 'repeat' is false (user_components.py)."})
    protect_share: float = field(default=0.02, metadata={
        "help": "Each task's protecting component (mixing/protect.py) keeps at least this share of the mixture "
                "in every method, online updates included (0 < x <= 0.5; the floors together take at most 0.5)."})
    guard: str = field(default="keep-best", metadata={
        "help": "Never worse than where you started, per task (with the model): a proxy fine-tune of the learned "
                "mixture answers each task's judge rows (the judge half of its fit rows, auto's split), paired with "
                "the untuned model's answers. 'keep-best': tasks where the tuned mean is not strictly above the "
                "untuned one are named in the report and the log: for them keep the untuned model (for all of "
                "them: do not train on this mixture). 'off': nothing is named, a warning says where it is not "
                "better. mix.json's guard section records both means and the paired interval either way; costs "
                "one proxy fine-tune.", "choices": list(GUARD_MODES)})
    min_validation_rows: int = field(default=20, metadata={
        "help": "Fewest judge rows a task needs for the guard to choose for it (about half of fit_size); with "
                "fewer the guard makes no choice for that task and says so."})

    def __post_init__(self):
        super().__post_init__()
        METHODS.get(self.method)  # an unknown method: the error lists the methods
        check_guard_mode(self.guard)
        for name in ("num_examples", "proxy_steps", "proxy_rows", "batch_size", "online_steps", "update_every",
                     "min_validation_rows"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer (got {value!r})")
        if METHODS[self.method].fine_tunes() and not self.use_model:
            raise ValueError(f"method {self.method!r} fine-tunes the model: it needs use_model=True")
        if not self.eta > 0:
            raise ValueError(f"eta must be > 0 (got {self.eta!r})")
        if self.method in ("online", "auto") and self.update_every > self.online_steps:
            raise ValueError(f"update_every ({self.update_every}) is larger than the run (online_steps "
                             f"{self.online_steps}): the weights would never change")
        self.components = normalise_components(self.components)
        if isinstance(self.protect_share, bool) or not isinstance(self.protect_share, (int, float)) or \
                not 0 < self.protect_share <= 0.5:
            raise ValueError(f"protect_share must be a number in (0, 0.5] (got {self.protect_share!r})")


def learn(config: MixLearnConfig) -> dict:
    """Learn the weights and write everything (see the module doc); returns the mix.json content."""
    from .protect import floors

    if config.use_model:
        logger.info("mix learn runs the model %s on every task's fit rows (base scores and template alignment)%s; "
                    "use_model=False (CLI --no-model) skips it", config.model,
                    "" if not METHODS[config.method].fine_tunes() else ", and fine-tunes it (the method needs it)")
    check_user_components(config)
    fit, _ = load_rows(config)
    out = check_out(config)  # after the inputs were read: a run that fails on them records nothing in out
    signals, rule_answers = rule_signals(config, fit)
    aligned = model_signals(config, signals, fit, rule_answers)  # the base answers
    learner = TaskLearner(config, fit, floors(signals.protection, config.protect_share))
    method = learner.method(config.method, **config.method_params)
    learned = learner.learn(method, signals)  # the training it asks for -> its weights -> the floors
    if config.method == "rules" and config.components:
        logger.warning("rules cannot measure your components (%s): no rule reads a dataset, so they get weight only "
                       "where no template helps a task; --method proxy, online or auto measure them",
                       ", ".join(config.components))
    guarded = guard(config, learner, learned)  # the learned mixture vs the untuned model, per task
    mix = mix_record(config, learned, learner.floors, aligned, fit, guarded)
    write_outputs(out, mix, config)
    return mix


def measure(config: MixSignalsConfig, protect: bool = True) -> tuple[MixSignals, dict, dict, dict]:
    """The first stages of :func:`learn`: signals on the fit rows (with base scores and alignment when
    ``use_model``); also returns the rows (fit, eval) and the alignment table {component: {task:
    value}}. ``protect``: choose each task's protecting component (protect.py) and keep it. A
    MixSignalsConfig keeps every template setting (a MixLearnConfig: its ``max_components_per_task``)."""
    if not isinstance(config, MixLearnConfig):
        config = MixLearnConfig(**vars(config), max_components_per_task=0)
    check_user_components(config)
    fit, held = load_rows(config)
    signals, rule_answers = rule_signals(config, fit, protect=protect)
    aligned = model_signals(config, signals, fit, rule_answers)
    return signals, fit, held, aligned


def check_out(config: MixLearnConfig) -> Path:
    """``config.out``, with its settings recorded in ``out/work/config.json``; an ``out`` whose caches
    were made with other settings (the method aside) is refused. Settings recorded by a run that
    left no work behind (it failed before any stage finished) are replaced, so a failed run never
    blocks its retry."""
    out = Path(config.out)
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    identity = {k: v for k, v in asdict(config).items() if k not in NOT_IN_CACHES}
    for name in ("components", "dataset_task"):  # a directory learned before the field existed still resumes
        if not identity[name]:
            del identity[name]
    identity_path = work / "config.json"
    if identity_path.exists():
        stored = json.loads(identity_path.read_text())
        stored.pop("method", None)  # recorded by earlier versions
        if stored != json.loads(json.dumps(identity, default=str)):
            done = sorted(p.name for p in work.iterdir() if p.name != identity_path.name)
            if done:
                raise ValueError(f"{out} holds a mixture learned with other settings ({identity_path}; its work: "
                                 f"{', '.join(done[:4])}); use another --out, or delete {work} to start over")
            logger.info("%s: an earlier run with other settings left no work; recording these settings", out)
    atomic_json(identity_path, identity)
    return out


def load_rows(config: MixSignalsConfig) -> tuple[dict, dict]:
    """(fit rows, eval rows) per task name: each task's fit part and eval part (tasks.split_fit_eval)."""
    from ..tasks import check_field_map, split_fit_eval

    fit, held = {}, {}
    for task in config.load_tasks():
        f, e = split_fit_eval(task, config.fit_size, config.eval_size, seed=config.seed, field_map=config.fields)
        if f.name in fit:
            raise ValueError(f"two tasks are named {f.name!r}")
        fit[f.name], held[f.name] = f, e
    check_field_map(config.fields, {t: r.layout for t, r in fit.items()})
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


def check_user_components(config: MixLearnConfig) -> None:
    """Your components (``config.components``) read as row-schema data: a bad file fails here, before
    any task is read or any rule or model runs."""
    from .user_components import check_components

    if config.components:
        sizes = check_components(config.components)
        logger.info("your components: %s", ", ".join(f"{n} ({sum(v.values())} rows)" for n, v in sizes.items()))


def rule_signals(config: MixLearnConfig, fit: dict, protect: bool = True) -> tuple[MixSignals, dict]:
    """Rule signals on the fit rows, each task's protecting component (``protect``), your components;
    each task's most helpful components kept. Also returns task -> component -> the rule's answers."""
    from ..templates import list_templates
    from .protect import choose_protection
    from .signals import compute_signals, measure_rules
    from .user_components import add_components

    templates = config.templates or list_templates()
    signals, rule_answers = compute_signals(fit, templates, use_labels=config.use_labels)
    keep = ()
    if protect:
        work = Path(config.out) / "work"
        protection, added = choose_protection(signals, fit, templates, work / "protect", num_shots=config.num_shots)
        signals.protection = protection
        keep = {c for p in protection.values() for c in p["components"]}
        signals.components.update({c: s for c, s in added.items() if c not in signals.components})
        if added:
            rule_answers = measure_rules(signals, fit, use_labels=config.use_labels)
    if config.components:
        add_components(signals, config.components)
        keep = set(keep) | set(config.components)  # the user asked for them: never dropped for lack of a rule
    return select_components(signals, config.max_components_per_task, keep=keep), rule_answers


def model_signals(config: MixLearnConfig, signals: MixSignals, fit: dict, rule_answers: dict) -> dict:
    """The untuned model's answers on the fit rows (``use_model``): sets ``signals.base_scores`` and
    returns the template alignment {component: {task: value}} (empty without the model)."""
    from ..eval.agreement import score
    from .signals import alignment

    if not config.use_model:
        return {}
    answers = base_answers(config, fit)
    signals.base_scores = {t: score(fit[t], answers[t]) for t in fit}
    return {c: {t: alignment(fit[t], answers[t], rule_answers[t][c]) for t in fit}
            for c in signals.components if c in rule_answers[next(iter(fit))]}


def base_probe(config: MixLearnConfig, fit: dict) -> Optional[dict]:
    """Does the untuned model read each task? The probe (eval/probe.py) of its answers on the fit rows,
    the ones :func:`model_signals` cached (no model runs again); None without the model."""
    from ..eval.probe import probe_answers

    if not config.use_model:
        return None
    return probe_answers(fit, base_answers(config, fit), model=config.model, seed=config.seed)


def guard(config: MixLearnConfig, learner: TaskLearner, learned: Learned) -> dict:
    """Stage 5 (the module doc): per task, a proxy fine-tune of the learned mixture vs the untuned model
    on the task's judge rows, decided by ``eval.guard``'s rule; what ``mix.json``'s ``guard`` holds:
    per task ``chose`` and ``kept`` (``"tuned"``/``"untuned"``) with both means, the paired interval and
    the rows, or why no choice; ``untuned_tasks``: where to keep the untuned model."""
    from ..eval.guard import answer_row_scores, guard_figures
    from .methods.auto import JUDGE_SHARE, MIN_SPLIT_ROWS, split_fit_rows

    fit = learner.rows
    share = getattr(learned.method, "judge_share", JUDGE_SHARE)  # auto's own split, where it set another share
    record = {"mode": config.guard, "min_validation_rows": config.min_validation_rows, "judge_share": share,
              "judged_on": f"the judge part ({share:.0%}) of each task's fit rows, the seeded split auto judges on",
              "tasks": {}, "untuned_tasks": [], "average": None}
    if not config.use_model:
        reason = ("no model (use_model=False, --no-model): no proxy fine-tune of the mixture and no untuned answers "
                  "to compare, so the guard makes no choice")
        logger.info("mix learn guard: %s", reason)  # the user's choice, not a problem: the report says it
        return {**record, "chose": False, "reason": reason}
    splittable = {t: rows for t, rows in fit.items() if len(rows) >= MIN_SPLIT_ROWS}
    _, judge_idx = split_fit_rows(splittable, config.seed, share)
    for t in fit:
        n = len(judge_idx.get(t, ()))
        if n < config.min_validation_rows:
            record["tasks"][t] = {"chose": False, "rows": n, "reason": (
                f"{n} judge rows, fewer than the {config.min_validation_rows} the guard chooses on "
                "(min_validation_rows; raise fit_size): no choice for this task")}
    judged = [t for t in fit if t not in record["tasks"]]
    record["judge_rows"] = {t: [fit[t].ids[i] for i in judge_idx[t]] for t in judged}
    if judged:
        base = learner.base_answers()
        tuned = learner.proxy_answers(learned.weights, learned.signals.components)  # cached by recipe
        rows = {t: fit[t].take(judge_idx[t]) for t in judged}
        figures = guard_figures(config.guard, {t: answer_row_scores(rows[t], [base[t][i] for i in judge_idx[t]])
                                               for t in judged},
                                {t: answer_row_scores(rows[t], [tuned[t][i] for i in judge_idx[t]]) for t in judged},
                                seed=config.seed)
        record["tasks"].update({t: {"chose": True, **figures["tasks"][t]} for t in judged})
        record["average"] = figures["average"]
        record["proxy_run"] = {"weights": learned.weights, "steps": config.proxy_steps, "rows": config.proxy_rows}
    record["tasks"] = {t: record["tasks"][t] for t in fit}  # the tasks' order
    record["chose"] = bool(judged)
    record["untuned_tasks"] = [t for t in judged if record["tasks"][t]["kept"] == "untuned"]
    record["untuned_for_every_task"] = bool(judged) and len(record["untuned_tasks"]) == len(fit)
    for line in guard_log_lines(record):
        logger.warning("mix learn guard: %s", line)
    return record


def guard_log_lines(record: dict) -> list:
    """What the guard asks the user to know (the log and the command line say it): where no choice was
    made, where to keep the untuned model, and (guard off) where the mixture is not better."""
    lines = []
    if not record["chose"]:
        lines.append(record.get("reason") or "no task has enough judge rows: no choice; "
                     + "; ".join(f"{t}: {r['reason']}" for t, r in record["tasks"].items()))
        return lines
    lines += [f"{t}: {r['reason']}" for t, r in record["tasks"].items() if not r["chose"]]
    if record["untuned_tasks"]:
        lines.append("for these tasks keep the untuned model: " + ", ".join(
            f"{t} (tuned {record['tasks'][t]['tuned']:.3f} vs untuned {record['tasks'][t]['untuned']:.3f})"
            for t in record["untuned_tasks"]))
    if record["untuned_for_every_task"]:
        lines.append("the untuned model is kept for every task: do not train on this mixture")
    worse = [t for t, r in record["tasks"].items() if r["chose"] and r["kept"] == "tuned" and not r["tuned_better"]]
    if worse:
        lines.append("guard='off': the mixture's proxy fine-tune is not better than the untuned model on "
                     + ", ".join(worse) + ", and nothing is named")
    return lines


def mix_record(config: MixLearnConfig, learned: Learned, floors: dict, aligned: dict, fit: dict,
               guarded: Optional[dict] = None) -> dict:
    """What ``mix.json`` holds for the learned weights, with everything that chose them: signals,
    alignment, protection, budget, seeds and the fit rows (as JSON holds it), and the guard's record."""
    from .mix_file import mix_content

    method, signals = learned.method, learned.signals
    record = {
        "method": config.method, "method_params": method.params(), "explanation": method.explain(),
        "signals": signals.to_dict(), "alignment": aligned,
        "protection": {"share": config.protect_share, "floors": floors, "tasks": signals.protection,
                       "weights_before_floors": learned.before_floors},
        "budget": {"proxy_runs": len(signals.runs), "proxy_steps": config.proxy_steps,
                   "proxy_rows": config.proxy_rows, "batch_size": config.batch_size,
                   **({"online_steps": config.online_steps} if config.method in ("online", "auto") else {})},
        "seeds": {"seed": config.seed}, "model": config.model,
        "fit_rows": {t: r.ids for t, r in fit.items()},
        "probe": base_probe(config, fit),
        "user_components": list(config.components),
        "note": "Weights and label words were chosen on fit_rows only; score on other rows.",
    }
    if guarded is not None:
        record["guard"] = guarded
    if config.method == "auto":
        record["auto"] = method.explain().get("auto", {})
    # a template under its own name with no parameters needs no component entry
    components = {c: spec for c, spec in signals.components.items()
                  if "template" not in spec or c != spec["template"] or any(k != "template" for k in spec)}
    return mix_content(learned.weights, components=components, **record)


def write_outputs(out: Path, mix: dict, config: MixLearnConfig) -> None:
    """``mix.json`` (its one write), ``report.md`` with its PNGs, and the Hub-layout mixture with its
    TRL recipe, all from ``mix``."""
    from ..hub_layout import write_hub_layout
    from ..loading import load_builder
    from ..trainers.trl_recipe import write_trl_recipe
    from .report import write_report

    atomic_json(out / "mix.json", mix)
    write_report(out, mix)
    builder = load_builder("mixture", "mixture", weights=mix["weights"], params=mix["params"],
                           components=mix["components"], num_examples=config.num_examples, seed=config.seed)
    builder.download_and_prepare()
    data = write_hub_layout({"mixture": builder.as_dataset()}, out / "data", {"mixture": builder.recipe()},
                            overwrite=True, pretty_name="Cookbook-Mix mixture",
                            description=f"Learned with `cookbook mix learn --method {config.method}`.")
    write_trl_recipe(data, ["mixture"], model=config.model)
