"""``cookbook mix signals|learn``: Cookbook-Mix, template signals on real tasks and learned weights."""

from __future__ import annotations

import os

from .options import add_command, parse_assignments


def add_parser(subparsers) -> None:
    from ..mixing.methods import METHODS  # no heavy imports: the methods' names and classes

    p = add_command(subparsers, "mix", "Cookbook-Mix: template signals on real tasks, learned mixture weights")
    mix_sub = p.add_subparsers(dest="mix_command", required=True, metavar="{signals,learn}")
    for name, help_ in (("signals", "per template and task: the rule's accuracy and the model's template alignment"),
                        ("learn", "learn template weights for several tasks; write mix.json, report, mixture")):
        q = add_command(mix_sub, name, help_)
        q.add_argument("--tasks", nargs="+", required=True, metavar="TASK",
                       help="task files (.json NIV2, .jsonl choice) or dirs")
        q.add_argument("--templates", nargs="*", default=None, metavar="NAME", help="template names (default: all)")
        q.add_argument("--all", action="store_true", help="every template (the default)")
        q.add_argument("--model", default="smollm2-135m", metavar="MODEL", help="the model whose answers are read")
        q.add_argument("--no-model", action="store_true", help="rules only: skip the model's answers")
        q.add_argument("--fit-size", type=int, default=60, metavar="N",
                       help="fit rows per task (they choose everything)")
        q.add_argument("--eval-size", type=int, default=100, metavar="N", help="rows per task held out for scoring")
        q.add_argument("--no-labels", action="store_true",
                       help="do not read the fit rows' answers (label model over the rules, demonstrations)")
        q.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the fit/eval split")
        q.add_argument("--dtype", default=None, metavar="DTYPE",
                       help="dtype the model answers in, e.g. bfloat16 (default: the model's)")
        q.add_argument("--field", action="append", default=[], metavar="ROLE=NAME",
                       help="which input field plays a role, NAME as the inputs spell it (e.g. premise='Text A'; "
                            "repeatable; roles: premise, hypothesis, sentence1, sentence2, passage, question, "
                            "choices, context); overrides the detected roles")
        if name == "signals":
            q.add_argument("--out", default=os.path.join("runs", "mix_signals"), metavar="DIR",
                           help="cache of the model's answers")
            q.set_defaults(func=run_signals)
        else:
            q.add_argument("--out", required=True, metavar="DIR", help="output directory")
            q.add_argument("--method", choices=list(METHODS), default="rules", help="how the weights are learned")
            q.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                           help="a method parameter (e.g. sharpness=2, num_random=4, penalty=2; repeatable)")
            q.add_argument("--max-components-per-task", type=int, default=2, metavar="N",
                           help="template settings kept per task")
            q.add_argument("--num-examples", type=int, default=2000, metavar="N", help="rows of the written mixture")
            q.add_argument("--proxy-steps", type=int, default=40, metavar="N", help="LoRA steps per proxy fine-tune")
            q.add_argument("--proxy-rows", type=int, default=320, metavar="N", help="rows each proxy fine-tune draws")
            q.add_argument("--online-steps", type=int, default=200, metavar="N",
                           help="--method online: steps of the one LoRA run that learns the weights")
            q.add_argument("--update-every", type=int, default=20, metavar="N",
                           help="--method online: re-weight every N steps from the tasks' fit-row losses")
            q.add_argument("--eta", type=float, default=0.5, metavar="X",
                           help="--method online: exponentiated-gradient step size")
            q.add_argument("--component", action="append", default=[], metavar="NAME=DATA[@CONFIG]",
                           help="your own rows as a component, mixed with the templates (repeatable): a row-schema "
                                "file, a Hub-layout directory such as SELF-GUIDE's or augmentation's output, a Hub id; "
                                "@CONFIG picks a config of a directory that has several")
            q.add_argument("--protect-share", type=float, default=0.02, metavar="X",
                           help="minimum share of each task's protecting component (its demonstrations or a "
                                "component in its answer format), in every method")
            q.set_defaults(func=run_learn)


def _mix_config(args, **overrides):
    from ..mixing.learn import MixLearnConfig
    from ..tasks.fields import parse_field_map

    templates = [] if args.all else list(args.templates or [])
    return MixLearnConfig(tasks=args.tasks, out=args.out, templates=templates, model=args.model,
                          fit_size=args.fit_size, eval_size=args.eval_size, use_labels=not args.no_labels,
                          seed=args.seed, dtype=args.dtype, fields=parse_field_map(args.field), **overrides)


def run_signals(args) -> int:
    from ..mixing.learn import measure

    config = _mix_config(args, max_components_per_task=0, use_model=not args.no_model)
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
          f"(coverage), chance, and the {'model' if aligned else 'untuned model (skipped: --no-model)'}'s alignment")
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


def _components(texts) -> dict:
    from ..mixing.user_components import parse_component_arg

    out = {}
    for text in texts:
        name, spec = parse_component_arg(text)
        if name in out:
            raise ValueError(f"--component {name!r} is given twice")
        out[name] = spec
    return out


def run_learn(args) -> int:
    from pathlib import Path

    from ..mixing.learn import learn

    params = parse_assignments(args.param, "--param")
    mix = learn(_mix_config(args, method=args.method, method_params=params,
                            max_components_per_task=args.max_components_per_task, use_model=not args.no_model,
                            num_examples=args.num_examples, proxy_steps=args.proxy_steps, proxy_rows=args.proxy_rows,
                            online_steps=args.online_steps, update_every=args.update_every, eta=args.eta,
                            protect_share=args.protect_share, components=_components(args.component)))
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
    print(f"Train on it: trl sft --config {out / 'data' / 'sft_recipe.yaml'}   "
          f"or: cookbook generate ... --mix {out / 'mix.json'}")
    return 0
