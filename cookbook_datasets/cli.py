"""The ``cookbook`` command line: a thin layer over the Python API."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

from .templates import get_template, get_template_class, list_templates


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _parse_assignments(items: Sequence[str], what: str) -> dict[str, object]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{what} must look like KEY=VALUE (got {item!r})")
        out[key] = _parse_value(value)
    return out


def template_params(names: Sequence[str], assignments: dict[str, object]) -> dict[str, dict]:
    """Route ``KEY=VALUE`` (every named template that has KEY) and ``TEMPLATE.KEY=VALUE``."""
    params: dict[str, dict] = {}
    for key, value in assignments.items():
        if "." in key:
            name, _, field = key.partition(".")
            get_template_class(name)
            if name not in names:
                raise ValueError(f"--param {key}: {name!r} is not among the templates to generate")
            params.setdefault(name, {})[field] = value
            continue
        targets = [n for n in names if key in get_template_class(n).describe_params()]
        if not targets:
            raise ValueError(f"--param {key}: none of {', '.join(names)} has a parameter {key!r}")
        for name in targets:
            params.setdefault(name, {})[key] = value
    return params


def _show_sample(prompt, completion) -> str:
    def text(x):
        return x if isinstance(x, str) else "\n".join(f"[{m['role']}] {m['content']}" for m in x)
    return f"{text(prompt)}\n>>> {text(completion)}"


def cmd_templates(args) -> int:
    if args.action == "show":
        if not args.name:
            raise ValueError("usage: cookbook templates show NAME")
        params = template_params([args.name], _parse_assignments(args.param, "--param"))
        template = get_template(args.name, **params.get(args.name, {}))
        cls = type(template)
        print(f"{cls.name} ({cls.family}): {cls.description}\n\nParameters:")
        for field, help in cls.describe_params().items():
            print(f"  {field} = {getattr(template, field)!r}: {help}")
        for i, row in enumerate(template.sample_rows(range(args.num))):
            print(f"\n--- sample {i} ---\n{row['prompt']}\n>>> {row['completion']}")
        return 0
    width = max(len(n) for n in list_templates())
    for name in list_templates():
        cls = get_template_class(name)
        print(f"{name:<{width}}  {cls.family:<10} {cls.description}")
    return 0


def cmd_generate(args) -> int:
    from .generate import MIXTURE_CONFIG, generate

    names = list_templates() if args.all else args.names
    if not names:
        raise ValueError("name templates to generate, or pass --all (see `cookbook templates`)")
    weights = _parse_assignments(args.weight, "--weight")
    if isinstance(args.mix, str):
        if weights:
            raise ValueError("give mixture weights either with --weight or in the mix.json given to --mix, not both")
        mixture = args.mix
    else:
        mixture = weights if (args.mix or weights) else None
    out = generate(
        names, args.out, num_examples=args.num_examples, num_eval_examples=args.num_eval_examples,
        seed=args.seed, format=args.format, params=template_params(names, _parse_assignments(args.param, "--param")),
        mixture=mixture, stopping_strategy=args.stopping_strategy, recipe_model=args.recipe_model,
        num_proc=args.num_proc, overwrite=args.overwrite, push_to_hub=args.push_to_hub, private=args.private,
    )
    print(f"Wrote {out}")
    if mixture is not None:
        print(f"TRL recipe: trl sft --config {out / 'sft_recipe.yaml'}")
    import datasets

    shown = MIXTURE_CONFIG if mixture is not None else names[0]
    ds = datasets.load_dataset(str(out), shown, split="train")
    print(f"Load it with: datasets.load_dataset({str(out)!r}, {shown!r})\n")
    for row in ds.select(range(min(args.show, len(ds)))):
        print(f"--- {row['source']} ---\n{_show_sample(row['prompt'], row['completion'])}\n")
    if args.push_to_hub:
        print(f"Pushed to https://huggingface.co/datasets/{args.push_to_hub}")
    return 0


def cmd_train(args) -> int:
    from .data_spec import DataSpec
    from .trainers import TrainConfig, train

    names = ("model", "max_steps", "num_train_epochs", "learning_rate", "per_device_train_batch_size", "lora_r",
             "lora_alpha", "lora_target_modules", "lora_dropout", "seed", "max_length", "precision",
             "attn_implementation")
    overrides = {k: getattr(args, k) for k in names if getattr(args, k) is not None}  # only what was given
    overrides["output_dir"] = args.out
    if args.full:
        overrides["use_lora"] = False
    if args.merge:
        overrides["merge"] = True
    if args.no_eval:
        overrides["eval_split"] = None
    if args.no_resume:
        overrides["resume"] = False
    if args.full_lm_head:
        overrides["loss_positions_only"] = False
    if args.group_by_length:
        overrides["group_by_length"] = True
    if args.dataset:
        params = _parse_assignments(args.dataset_param, "--dataset-param")
        overrides["datasets"] = [DataSpec(path=d, name=args.dataset_config, params=params) for d in args.dataset]
    config = TrainConfig.from_yaml(args.config, **overrides) if args.config else TrainConfig(**overrides)
    card = train(config)
    print(f"Wrote {'adapter' if config.use_lora else 'model'} and run card to {config.output_dir} "
          f"({card['global_step']} steps, {card['train_seconds']} s)")
    for key, value in card["final_metrics"].items():
        print(f"  {key}: {value}")
    return 0


def cmd_eval(args) -> int:
    from .eval import EvalConfig, compare, evaluate_model, plot_comparison

    if args.compare:
        print(compare(args.compare, labels=args.labels))
        if args.plot:
            plot_comparison(args.compare, args.plot, labels=args.labels)
            print(f"Wrote {args.plot}")
        return 0
    if not args.tasks or not args.out:
        raise ValueError("cookbook eval needs --tasks and --out (or --compare A.json B.json)")
    config = EvalConfig(model=args.model, adapter=args.adapter, tasks=args.tasks, limit=args.limit,
                        num_shots=args.num_shots, batch_size=args.batch_size, seed=args.seed, dtype=args.dtype,
                        template_params=_parse_assignments(args.template_param, "--template-param"))
    if args.overwrite and Path(args.out).exists():
        Path(args.out).unlink()
    evaluate_model(config, out=args.out)
    print(Path(args.out).with_suffix(".md").read_text())
    print(f"Wrote {args.out} and {Path(args.out).with_suffix('.md')}")
    return 0


def cmd_select(args) -> int:
    from .trainers import DiverseEvolConfig, run_diverse_evol

    train = {}
    for key in ("num_train_epochs", "max_steps", "learning_rate", "per_device_train_batch_size", "lora_r"):
        if getattr(args, key) is not None:
            train[key] = getattr(args, key)
    config = DiverseEvolConfig(
        pool=args.pool, pool_config=args.pool_config, pool_split=args.pool_split,
        pool_params=_parse_assignments(args.pool_param, "--pool-param"), output_dir=args.out,
        strategy=args.strategy, k0=args.k0, per_round=args.per_round, rounds=args.rounds, model=args.model,
        train=train, eval_tasks=args.eval, eval_limit=args.eval_limit, eval_num_shots=args.eval_num_shots,
        seed=args.seed, embed_batch_size=args.embed_batch_size, max_length=args.max_length, dtype=args.dtype,
        diversity=not args.no_diversity)
    report = run_diverse_evol(config)
    print(Path(args.out, "report.md").read_text())
    print(f"Subsets (a config per round): datasets.load_dataset({report['subsets']!r}, 'round_{args.rounds}')")
    print(f"Wrote {Path(args.out, 'report.json')} and report.png")
    return 0


def cmd_self_guide(args) -> int:
    from .self_guide import SelfGuideConfig, run_self_guide

    params = _parse_assignments(args.param, "--param")
    if args.num_examples is not None:
        params["num_examples"] = args.num_examples
    params.setdefault("seed", args.seed)
    train = {k: getattr(args, k) for k in ("num_train_epochs", "max_steps", "learning_rate",
                                           "per_device_train_batch_size", "lora_r") if getattr(args, k) is not None}
    engine_options = _parse_assignments(args.engine_option, "--engine-option")
    if args.base_url:
        engine_options["base_url"] = args.base_url
    report = run_self_guide(args.task, args.out, model=args.model, config=SelfGuideConfig.from_dict(params),
                            backend=args.backend, engine_options=engine_options, dtype=args.dtype, train=args.train,
                            evaluate=args.eval, train_args=train, eval_limit=args.eval_limit, num_shots=args.num_shots,
                            tuned_num_shots=args.tuned_num_shots, num_demonstrations=args.num_demonstrations)
    print(Path(args.out, "report.md").read_text())
    print(f"Data: datasets.load_dataset({report['data']!r}, {report['task']!r})")
    if "gain" in report:
        print(f"SELF-GUIDE vs prompting: {report['gain']:+.3f}")
    return 0


def cmd_augment(args) -> int:
    from .augmentation import augment_to_hub

    params = _parse_assignments(args.param, "--param")
    for key in ("seed", "verify", "num_demonstrations"):
        if getattr(args, key) is not None:
            params[key] = getattr(args, key)
    summary = augment_to_hub(args.seed_data, args.out, teacher=args.teacher, strategy=args.strategy,
                             budget=args.budget, teacher_model=args.teacher_model, work_dir=args.work,
                             cache_path=args.cache, concurrency=args.concurrency,
                             engine_options=_parse_assignments(args.engine_option, "--engine-option"),
                             question_field=args.question_field, answer_field=args.answer_field,
                             overwrite=args.overwrite, **params)
    ledger = summary["ledger"]
    print(f"{summary['strategy']}: {summary['kept']} new examples from {summary['steps']} steps over "
          f"{summary['seed_size']} seeds (BR = {summary['budget_ratio']})")
    print(f"Queries used {ledger['used_total']} of {ledger['budget']} ({json.dumps(ledger['used'])}); "
          f"sent now {ledger['new_queries']}, from the cache {ledger['cache_hits']}; paid in all {ledger['paid_total']}"
          + (f", lost in flight {ledger['lost_in_flight']}" if ledger["lost_in_flight"] else ""))
    if summary["dropped"]:
        print(f"Dropped: {json.dumps(summary['dropped'])}")
    print(f"Wrote {summary['out']} ({summary['rows']} rows): "
          f"datasets.load_dataset({summary['out']!r}, {summary['strategy']!r})")
    return 0


def cmd_augment_recommend(args) -> int:
    from .augmentation import recommend

    rec = recommend(args.seed_size, args.budget, curves=args.curves)
    print(rec.format())
    if args.json:
        Path(args.json).write_text(json.dumps(rec.to_dict(), indent=2))
        print(f"Wrote {args.json}")
    return 0


def cmd_demo(args) -> int:
    from .demo import DemoConfig, run_demo

    config = DemoConfig(out=args.out, model=args.model, templates=args.templates, vocab=args.vocab,
                        max_steps=args.max_steps,
                        eval_examples=args.eval_examples, tasks=args.tasks)
    result = run_demo(config)
    print(f"Trained {result['train']['global_step']} steps in {result['train']['train_seconds']} s "
          f"on {result['train']['train_rows']} rows.\n")
    print(result["table"])
    print(f"Wrote {result['comparison_table']} and {result['plot']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cookbook", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("templates", help="list templates, or show samples of one")
    p.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    p.add_argument("name", nargs="?")
    p.add_argument("-n", "--num", type=int, default=3, help="samples to show")
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE")
    p.set_defaults(func=cmd_templates)

    p = sub.add_parser("generate", help="generate template data in the Hub layout")
    p.add_argument("names", nargs="*", metavar="NAME", help="templates to generate")
    p.add_argument("--all", action="store_true", help="every registered template")
    p.add_argument("--out", required=True, help="output directory (Hub layout)")
    p.add_argument("--num-examples", type=int, default=1000, help="train rows per template")
    p.add_argument("--num-eval-examples", type=int, default=None, help="validation and test rows (default 10%%)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--format", choices=["chat", "text"], default="chat")
    p.add_argument("-p", "--param", action="append", default=[], metavar="[TEMPLATE.]KEY=VALUE",
                   help="a template parameter, for every named template that has it or for one")
    p.add_argument("--mix", nargs="?", const=True, default=False, metavar="MIX_JSON",
                   help="also write a 'mixture' config and a TRL recipe: uniform, by --weight, or by a learned mix.json")
    p.add_argument("--weight", action="append", default=[], metavar="TEMPLATE=W", help="mixture weight")
    p.add_argument("--stopping-strategy", choices=["first_exhausted", "all_exhausted"], default="first_exhausted",
                   help="as in datasets.interleave_datasets (matters only for finite parts)")
    p.add_argument("--recipe-model", default="smollm2-135m", help="the model the TRL recipe trains")
    p.add_argument("--num-proc", type=int, default=None)
    p.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    p.add_argument("--push-to-hub", metavar="REPO", default=None)
    p.add_argument("--private", action="store_true")
    p.add_argument("--show", type=int, default=3, help="rows to print after writing")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("train", help="fine-tune a model with TRL (LoRA by default)")
    p.add_argument("--model", default=None, help="model spec (default: smollm2-135m)")
    p.add_argument("--dataset", action="append", default=[], metavar="DATA",
                   help="builder name (cookbook), Hub-layout directory or Hub id; repeat to mix")
    p.add_argument("--dataset-config", default=None, help="config name, e.g. a template or 'mixture'")
    p.add_argument("--dataset-param", action="append", default=[], metavar="KEY=VALUE",
                   help="load_dataset parameter, e.g. num_examples=500")
    p.add_argument("--config", default=None, help="YAML recipe (path or name in trainers/configs)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--max-steps", dest="max_steps", type=int, default=None)
    p.add_argument("--epochs", dest="num_train_epochs", type=float, default=None)
    p.add_argument("--lr", dest="learning_rate", type=float, default=None)
    p.add_argument("--batch-size", dest="per_device_train_batch_size", type=int, default=None)
    p.add_argument("--lora-r", dest="lora_r", type=int, default=None)
    p.add_argument("--lora-alpha", dest="lora_alpha", type=int, default=None)
    p.add_argument("--lora-targets", dest="lora_target_modules", default=None)
    p.add_argument("--lora-dropout", dest="lora_dropout", type=float, default=None)
    p.add_argument("--precision", choices=["auto", "bf16", "fp32"], default=None,
                   help="compute precision (auto: bf16 on GPUs and on CPUs with AVX512-BF16/AMX, else fp32)")
    p.add_argument("--attn-implementation", dest="attn_implementation", default=None,
                   help="attention kernel: auto (eager on CPU), eager, sdpa, flash_attention_2, ...")
    p.add_argument("--full-lm-head", action="store_true",
                   help="run the LM head on every position (TRL's path) instead of only the loss positions")
    p.add_argument("--group-by-length", action="store_true", help="batch rows of similar length together")
    p.add_argument("--max-length", dest="max_length", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--full", action="store_true", help="full fine-tuning instead of LoRA")
    p.add_argument("--merge", action="store_true", help="also save the LoRA-merged model")
    p.add_argument("--no-eval", action="store_true", help="skip evaluation on the validation split")
    p.add_argument("--no-resume", action="store_true", help="start over even if checkpoints exist")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="score a model on task files and templates, or compare results")
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--adapter", default=None, help="PEFT adapter directory")
    p.add_argument("--tasks", nargs="+", default=[], help="NIV2 .json, multiple-choice .jsonl, dirs, templates")
    p.add_argument("--limit", type=int, default=None, help="examples per task")
    p.add_argument("--num-shots", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", choices=["float32", "bfloat16"], default=None,
                   help="weights dtype (default: bf16 on GPU, fp32 on CPU; bf16 on a CPU with AVX512-BF16 scores "
                        "about twice as fast, with slightly different log-likelihoods)")
    p.add_argument("--template-param", action="append", default=[], metavar="KEY=VALUE",
                   help="parameter of the template tasks, e.g. vocab=tokenizer:smollm2-135m")
    p.add_argument("--out", default=None, help="results JSON (a .md table is written next to it)")
    p.add_argument("--overwrite", action="store_true", help="start over instead of resuming --out")
    p.add_argument("--compare", nargs="+", metavar="RESULTS", help="result files to put side by side")
    p.add_argument("--labels", nargs="+", default=None, help="column names for --compare")
    p.add_argument("--plot", default=None, help="with --compare: write a PNG bar chart")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("select", help="DiverseEvol: the model picks a diverse training subset of a pool, round by round")
    p.add_argument("pool", help="pool in the row schema: Hub-layout directory, Hub id or builder name")
    p.add_argument("--pool-config", default=None, help="config name of the pool")
    p.add_argument("--pool-split", default="train")
    p.add_argument("--pool-param", action="append", default=[], metavar="KEY=VALUE", help="load_dataset parameter")
    p.add_argument("--strategy", default="kcenter", help="kcenter, random, least_confidence, margin or entropy")
    p.add_argument("--k0", type=int, default=100, help="random rows in round 0")
    p.add_argument("--per-round", type=int, default=100, help="rows added per round")
    p.add_argument("--rounds", type=int, default=10, help="selection rounds after round 0")
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--out", required=True, help="output directory (resumes a run found there)")
    p.add_argument("--eval", nargs="*", default=[], metavar="TASK", help="tasks scored after every round")
    p.add_argument("--eval-limit", type=int, default=None, help="examples per evaluation task")
    p.add_argument("--eval-num-shots", type=int, default=0)
    p.add_argument("--epochs", dest="num_train_epochs", type=float, default=None, help="per round (default 3)")
    p.add_argument("--max-steps", dest="max_steps", type=int, default=None)
    p.add_argument("--lr", dest="learning_rate", type=float, default=None)
    p.add_argument("--batch-size", dest="per_device_train_batch_size", type=int, default=None)
    p.add_argument("--lora-r", dest="lora_r", type=int, default=None)
    p.add_argument("--embed-batch-size", type=int, default=16)
    p.add_argument("--max-length", type=int, default=512, help="tokens per row when embedding")
    p.add_argument("--dtype", choices=["float32", "bfloat16"], default=None, help="embedding and scoring dtype")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-diversity", action="store_true", help="skip the covering radius / Vendi report")
    p.set_defaults(func=cmd_select)

    p = sub.add_parser("self-guide", help="SELF-GUIDE: the model writes its own task data, is tuned on it and scored")
    p.add_argument("task", help="task file: NIV2 JSON, or JSON with instruction, examples and (classification) labels")
    p.add_argument("--model", default="smollm2-135m", help="the model that writes the data and is tuned on it")
    p.add_argument("--out", required=True, help="output directory (a run found there is resumed)")
    p.add_argument("--num-examples", type=int, default=None, help="pairs to keep (default 100)")
    p.add_argument("--train", action=argparse.BooleanOptionalAction, default=True,
                   help="fine-tune the model on the kept pairs (default: yes)")
    p.add_argument("--eval", action=argparse.BooleanOptionalAction, default=True,
                   help="score prompting vs the tuned model on the task's instances (default: yes)")
    p.add_argument("--eval-limit", type=int, default=100, help="real instances scored")
    p.add_argument("--num-shots", type=int, default=2, help="demonstrations in the prompting baseline")
    p.add_argument("--tuned-num-shots", type=int, default=0, help="demonstrations when scoring the tuned model")
    p.add_argument("--num-demonstrations", type=int, default=3, help="demonstrations the pipeline reads")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="SELF-GUIDE parameter (e.g. consistency_threshold=0.3, max_rounds=50)")
    p.add_argument("--backend", default="transformers", help="generation backend: transformers, openai or vllm")
    p.add_argument("--base-url", default=None, help="openai backend: the server's URL (e.g. http://localhost:8000/v1)")
    p.add_argument("--engine-option", action="append", default=[], metavar="KEY=VALUE", help="backend option")
    p.add_argument("--epochs", dest="num_train_epochs", type=float, default=None, help="training epochs (default 3)")
    p.add_argument("--max-steps", dest="max_steps", type=int, default=None)
    p.add_argument("--lr", dest="learning_rate", type=float, default=None)
    p.add_argument("--batch-size", dest="per_device_train_batch_size", type=int, default=None)
    p.add_argument("--lora-r", dest="lora_r", type=int, default=None)
    p.add_argument("--dtype", choices=["float32", "bfloat16"], default=None, help="generation and scoring dtype")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_self_guide)

    p = sub.add_parser("augment", help="budgeted augmentation of a seed set by a teacher (see also: augment recommend)",
                       description="cookbook augment SEED --strategy S --budget Q --teacher URL|SPEC --out DIR; "
                                   "cookbook augment recommend --seed-size N --budget Q [--curves DIR]")
    p.add_argument("seed_data", metavar="SEED", help="seed set: .jsonl/.json file, Hub-layout directory or dataset name")
    p.add_argument("--strategy", default="answer_aug", help="answer_aug, rephrase or new_question")
    p.add_argument("--budget", type=int, required=True, help="teacher queries to spend (Q)")
    p.add_argument("--teacher", required=True, help="OpenAI-compatible server URL (http://host:port/v1) or model spec")
    p.add_argument("--teacher-model", default=None, help="the served model's name (default: the one it serves)")
    p.add_argument("--out", required=True, help="output directory (Hub layout; config = the strategy)")
    p.add_argument("--work", default=None, help="ledger and response cache (default: OUT.work; reused to resume)")
    p.add_argument("--cache", default=None, help="response cache file to share between runs (default: in --work)")
    p.add_argument("--concurrency", type=int, default=8, help="requests in flight to a server")
    p.add_argument("--verify", choices=["none", "gold"], default=None, help="check answers against ground truth")
    p.add_argument("--num-demonstrations", type=int, default=None, help="seed examples shown before each answer")
    p.add_argument("--question-field", default=None, help="the seed rows' question field (default: auto)")
    p.add_argument("--answer-field", default=None, help="the seed rows' answer field (default: auto)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="AugmentationConfig field, e.g. answer_temperature=0.8, include_seed=false")
    p.add_argument("--engine-option", action="append", default=[], metavar="KEY=VALUE",
                   help="engine option, e.g. timeout=60, max_retries=3, api_key_env=MY_KEY")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    p.set_defaults(func=cmd_augment)

    p = sub.add_parser("mix", help="Cookbook-Mix: template signals on real tasks, learned mixture weights")
    mix_sub = p.add_subparsers(dest="mix_command", required=True)
    for name, help_ in (("signals", "per template and task: the rule's accuracy and the model's template alignment"),
                        ("learn", "learn template weights for several tasks; write mix.json, report, mixture")):
        q = mix_sub.add_parser(name, help=help_)
        q.add_argument("--tasks", nargs="+", required=True, help="task files (.json NIV2, .jsonl choice) or dirs")
        q.add_argument("--templates", nargs="*", default=None, help="template names (default: all)")
        q.add_argument("--all", action="store_true", help="every template (the default)")
        q.add_argument("--model", default="smollm2-135m")
        q.add_argument("--no-model", action="store_true", help="rules only: skip the model's answers")
        q.add_argument("--fit-size", type=int, default=60, help="fit rows per task (they choose everything)")
        q.add_argument("--eval-size", type=int, default=100, help="rows per task held out for scoring")
        q.add_argument("--no-labels", action="store_true",
                       help="do not read the fit rows' answers (label model over the rules, demonstrations)")
        q.add_argument("--seed", type=int, default=0)
        q.add_argument("--dtype", default=None, help="dtype the model answers in (e.g. bfloat16)")
        if name == "signals":
            q.add_argument("--out", default=os.path.join("runs", "mix_signals"), help="cache of the model's answers")
            q.set_defaults(func=cmd_mix_signals)
        else:
            from .mixing.methods import METHODS

            q.add_argument("--out", required=True, help="output directory")
            q.add_argument("--method", choices=list(METHODS), default="rules")
            q.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                           help="a method parameter (e.g. sharpness=2, num_random=4, penalty=2)")
            q.add_argument("--max-components-per-task", type=int, default=2)
            q.add_argument("--num-examples", type=int, default=2000, help="rows of the written mixture")
            q.add_argument("--proxy-steps", type=int, default=40, help="LoRA steps per proxy fine-tune")
            q.add_argument("--proxy-rows", type=int, default=320, help="rows each proxy fine-tune draws")
            q.set_defaults(func=cmd_mix_learn)

    p = sub.add_parser("augment-recommend", help="which augmentation strategy fits BR = budget / seed size "
                                                 "(also spelled: augment recommend)")
    p.add_argument("--seed-size", type=int, required=True, help="|S|: seed examples")
    p.add_argument("--budget", type=int, required=True, help="Q: teacher queries")
    p.add_argument("--curves", default=None, help="pilot curves: directory or file of CSV (strategy,budget,score) "
                                                  "or JSON; default: the paper's switch points")
    p.add_argument("--json", default=None, help="also write the recommendation as JSON here")
    p.set_defaults(func=cmd_augment_recommend)

    p = sub.add_parser("demo", help="the main job: mix templates, LoRA-tune the default model, compare")
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--templates", nargs="*", default=[], help="templates to mix (default: 9 short-answer ones)")
    p.add_argument("--vocab", default=None, help="random-token vocabulary (default: tokenizer:<model>)")
    p.add_argument("--max-steps", type=int, default=40)
    p.add_argument("--eval-examples", type=int, default=16, help="examples per task (test rows per template)")
    p.add_argument("--tasks", nargs="*", default=[], help="extra task files or directories to evaluate")
    p.set_defaults(func=cmd_demo)
    return parser


def _mix_config(args, **overrides):
    from .mixing.learn import MixLearnConfig

    templates = [] if args.all else list(args.templates or [])
    return MixLearnConfig(tasks=args.tasks, out=args.out, templates=templates, model=args.model,
                          fit_size=args.fit_size, eval_size=args.eval_size, use_labels=not args.no_labels,
                          seed=args.seed, dtype=args.dtype, **overrides)


def cmd_mix_signals(args) -> int:
    from .mixing.learn import measure

    config = _mix_config(args, max_components_per_task=0, use_model=not args.no_model)
    signals, fit, _, aligned = measure(config)
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


def cmd_mix_learn(args) -> int:
    from .mixing.learn import learn

    params = _parse_assignments(args.param, "--param")
    mix = learn(_mix_config(args, method=args.method, method_params=params,
                            max_components_per_task=args.max_components_per_task, use_model=not args.no_model,
                            num_examples=args.num_examples, proxy_steps=args.proxy_steps, proxy_rows=args.proxy_rows))
    out = Path(args.out)
    print(f"Weights ({mix['method']}):")
    for c, w in sorted(mix["weights"].items(), key=lambda kv: -kv[1]):
        print(f"  {c:<45} {w:.3f}")
    print(f"Wrote {out / 'mix.json'}, {out / 'report.md'}, weights.png, signals.png and the mixture in {out / 'data'}")
    print(f"Train on it: trl sft --config {out / 'data' / 'sft_recipe.yaml'}   "
          f"or: cookbook generate ... --mix {out / 'mix.json'}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    first = next((i for i, a in enumerate(argv) if not a.startswith("-")), None)
    if first is not None and argv[first:first + 2] == ["augment", "recommend"]:
        argv[first:first + 2] = ["augment-recommend"]  # `augment`'s other form takes a positional SEED
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ValueError, FileExistsError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except RuntimeError as e:  # a teacher or server that failed after its retries: say so, no traceback
        from .augmentation.teacher import TeacherError
        from .generation import GenerationError

        if not isinstance(e, (TeacherError, GenerationError)):
            raise
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
