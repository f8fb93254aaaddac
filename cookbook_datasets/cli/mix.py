"""``cookbook mix signals|learn``: Cookbook-Mix, template signals on real tasks and learned weights.

The options are ``MixSignalsConfig``'s fields (``mix signals``) and ``MixLearnConfig``'s (``mix
learn``: the same, and how the weights are learned); a data file's columns are their
``dataset_task`` (``--input-field``, ...).
"""

from __future__ import annotations

import os

from .config_args import add_config, config_from_args
from .options import add_command

# The spellings these commands had before their options came from the configs.
OLD_SPELLINGS = {"use_model": {"no_aliases": ["--no-model"]}, "use_labels": {"no_aliases": ["--no-labels"]},
                 "fields": {"aliases": ["--field"], "metavar": "ROLE=NAME"}}


def add_parser(subparsers) -> None:
    from ..mixing.learn import MixLearnConfig, MixSignalsConfig

    p = add_command(subparsers, "mix", "Cookbook-Mix: template signals on real tasks, learned mixture weights")
    mix_sub = p.add_subparsers(dest="mix_command", required=True, metavar="{signals,learn}")
    q = add_command(mix_sub, "signals", "per template and task: the rule's accuracy and the model's template alignment")
    add_config(q, MixSignalsConfig, options={
        **OLD_SPELLINGS, "out": {"default": os.path.join("runs", "mix_signals"), "required": False,
                                 "help": "Where the model's answers are cached."}})
    q.add_argument("--all", action="store_true", help="every template (the default)")
    q.set_defaults(func=run_signals)

    q = add_command(mix_sub, "learn", "learn template weights for several tasks; write mix.json, report, mixture")
    add_config(q, MixLearnConfig, options=OLD_SPELLINGS)
    q.add_argument("--all", action="store_true", help="every template (the default)")
    # NAME=DATA@CONFIG, one at a time: the command-line form of `components` (a name given twice is an error)
    q.add_argument("--component", action="append", default=[], metavar="NAME=DATA[@CONFIG]",
                   help="your own rows as a component, mixed with the templates (repeatable): a row-schema "
                        "file, a Hub-layout directory such as SELF-GUIDE's or augmentation's output, a Hub id; "
                        "@CONFIG picks a config of a directory that has several")
    q.set_defaults(func=run_learn)


def run_signals(args) -> int:
    from ..mixing.learn import MixSignalsConfig, measure

    config = config_from_args(args, MixSignalsConfig, **({"templates": []} if args.all else {}))
    signals, fit, _, aligned = measure(config, protect=False)
    print("Fields found per task (role = field, how):")
    for t in signals.tasks:
        f = signals.fields.get(t)
        if f is None:
            print(f"  {t}: multiple choice (question, choices)")
            continue
        roles = "; ".join(f"{r} = {n} ({f['how'][r]})" for r, n in f["roles"].items()) or "no role filled"
        sep = f" split at {f['separator']!r}" if f.get("separator") else ""
        print(f"  {t}: fields {', '.join(f['fields'])}{sep} -> {roles}")
        for note in f.get("notes", []):
            print(f"    note: {note}")
        if f.get("unassigned"):
            print(f"    not placed: {', '.join(f['unassigned'])} (map with --field ROLE=NAME)")
    for t, by in signals.label_codes.items():
        for roles, meaning in by.items():
            print(f"  {t}: labels read from the definition ({roles}): "
                  + ", ".join(f"{lab} -> {'/'.join(rs)}" for lab, rs in meaning.items()))
    print(f"Fit rows per task: {config.fit_size} (seed {config.seed}); rule accuracy on the rows the rule maps "
          f"(coverage), chance, and the untuned model's alignment{'' if config.use_model else ' (skipped: --no-model)'}")
    width = max(len(c) for c in signals.components) if signals.components else 10
    print(f"{'template setting':<{width}}  {'task':<40} {'rule acc':>8} {'cover':>6} {'chance':>7} {'align':>6}")
    for c in signals.components:
        for t in signals.tasks:
            acc = signals.rule_accuracy[c][t]
            if acc is None:
                continue
            al = aligned.get(c, {}).get(t)
            print(f"{c:<{width}}  {t[:40]:<40} {acc:>8.3f} {signals.coverage[c][t]:>6.2f} {signals.chance[t]:>7.3f} "
                  f"{'' if al is None else f'{al:.3f}':>6}")
    uncovered = [t for t in signals.tasks if all(signals.rule_accuracy[c][t] is None for c in signals.components)]
    if uncovered:
        print(f"No template maps to: {', '.join(uncovered)}")
    if signals.base_scores:
        print("Untuned model on the fit rows: " + ", ".join(f"{t} {v:.3f}" for t, v in signals.base_scores.items()))
    return 0


def _components(given: dict, texts) -> dict:
    """``components`` (``--components``, the config file) with each ``--component NAME=DATA[@CONFIG]``."""
    from ..mixing.user_components import parse_component_arg

    out = dict(given)
    for text in texts:
        name, spec = parse_component_arg(text)
        if name in out:
            raise ValueError(f"--component {name!r} is given twice")
        out[name] = spec
    return out


def run_learn(args) -> int:
    from pathlib import Path

    from ..mixing.learn import MixLearnConfig, learn

    mix = learn(config_from_args(args, MixLearnConfig, components=_components(args.components, args.component),
                                 **({"templates": []} if args.all else {})))
    out = Path(args.out)
    if mix.get("auto"):
        print(f"auto chose {mix['auto']['chosen']}: {mix['auto']['why']}")
    print(f"Weights ({mix['method']}):")
    for c, w in sorted(mix["weights"].items(), key=lambda kv: -kv[1]):
        print(f"  {c:<45} {w:.3f}")
    for task, info in mix["protection"]["tasks"].items():
        print(f"  {task} is protected by {info['components'][0]} ({info['how']})" if info["components"] else
              f"  {task}: no component can answer in its format; nothing was added")
    print(f"Wrote {out / 'mix.json'}, {out / 'report.md'}, weights.png, signals.png and the mixture in {out / 'data'}")
    guard = mix.get("guard")
    if guard:
        from ..mixing.learn import guard_log_lines

        for line in guard_log_lines(guard):
            print(f"Guard ({guard['mode']}): {line}")
    if guard and guard.get("untuned_for_every_task"):
        print("Next step: do not train on this mixture: a fine-tune on it is not better than the untuned model on "
              "any task's judge rows (report.md, 'Guard'); keep the untuned model, or learn another mixture "
              "(--method, --templates, --component)")
        return 0
    print(f"Train on it: cd {out / 'data'} && trl sft --config sft_recipe.yaml   or draw more rows: "
          f"cookbook_datasets.load_dataset('mixture', weights='{out / 'mix.json'}', num_examples=N)")
    return 0
