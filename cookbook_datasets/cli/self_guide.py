"""``cookbook self-guide TASK --out DIR``: the model writes its own task data, is tuned on it, scored."""

from __future__ import annotations

import argparse

from .options import add_command, add_train_overrides, parse_assignments, train_overrides


def add_parser(subparsers) -> None:
    p = add_command(subparsers, "self-guide",
                    "SELF-GUIDE: the model writes its own task data, is tuned on it and scored")
    p.add_argument("task", metavar="TASK",
                   help="task file: NIV2 JSON, or JSON with instruction, examples and (classification) labels")
    p.add_argument("--model", default="smollm2-135m", metavar="MODEL",
                   help="the model that writes the data and is tuned on it")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (a run found there is resumed)")
    p.add_argument("--num-examples", type=int, default=None, metavar="N", help="pairs to keep (default 100)")
    p.add_argument("--train", action=argparse.BooleanOptionalAction, default=True,
                   help="fine-tune the model on the kept pairs")
    p.add_argument("--eval", action=argparse.BooleanOptionalAction, default=True,
                   help="score prompting vs the tuned model on the task's instances")
    p.add_argument("--eval-limit", type=int, default=100, metavar="N", help="real instances scored")
    p.add_argument("--val-instances", type=int, default=None, metavar="N",
                   help="pick the best epoch on N labelled real instances, disjoint from the scored ones (the "
                        "paper's protocol; the task needs --eval-limit + N instances); default: on the synthetic "
                        "validation split")
    p.add_argument("--finetune", choices=["lora", "full"], default="lora",
                   help="lora (the project's LoRA recipe, learning rate 2e-4) or full (the reference code's full "
                        "fine-tuning: learning rate 5e-5, linear, 3 epochs); --lr and --epochs override either")
    p.add_argument("--num-shots", type=int, default=2, metavar="K", help="demonstrations in the prompting baseline")
    p.add_argument("--train-num-shots", type=int, default=None, metavar="K",
                   help="demonstrations in each training row's prompt, posed as scored (default: --num-shots; 0: none)")
    p.add_argument("--tuned-num-shots", type=int, default=None, metavar="K",
                   help="demonstrations when scoring the tuned model (default: as trained)")
    p.add_argument("--num-demonstrations", type=int, default=3, metavar="K", help="demonstrations the pipeline reads")
    p.add_argument("--max-minutes", type=float, default=None, metavar="M",
                   help="time budget of synthesis: ends it with the pairs it has (not trained; run again to resume)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="SELF-GUIDE parameter (e.g. consistency_threshold=0.3, max_rounds=50; repeatable)")
    p.add_argument("--backend", default="transformers", metavar="NAME",
                   help="generation backend: transformers, openai or vllm")
    p.add_argument("--base-url", default=None, metavar="URL",
                   help="openai backend: the server's URL (e.g. http://localhost:8000/v1)")
    p.add_argument("--engine-option", action="append", default=[], metavar="KEY=VALUE",
                   help="backend option (repeatable)")
    add_train_overrides(p, epochs_help="training epochs (default 3)")
    p.add_argument("--dtype", choices=["float32", "bfloat16"], default=None,
                   help="generation and scoring dtype (default: bf16 on GPU, fp32 on CPU)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the pipeline (unless --param seed=...)")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from ..self_guide import SelfGuideConfig, run_self_guide

    params = parse_assignments(args.param, "--param")
    if args.num_examples is not None:
        params["num_examples"] = args.num_examples
    if args.max_minutes is not None:
        params["max_minutes"] = args.max_minutes
    if args.train_num_shots is not None:
        params["train_num_shots"] = args.train_num_shots
    params.setdefault("seed", args.seed)
    engine_options = parse_assignments(args.engine_option, "--engine-option")
    if args.base_url:
        engine_options["base_url"] = args.base_url
    report = run_self_guide(args.task, args.out, model=args.model, config=SelfGuideConfig.from_dict(params),
                            backend=args.backend, engine_options=engine_options, dtype=args.dtype, train=args.train,
                            evaluate=args.eval, train_args=train_overrides(args), finetune=args.finetune,
                            val_instances=args.val_instances, eval_limit=args.eval_limit,
                            num_shots=args.num_shots, tuned_num_shots=args.tuned_num_shots,
                            num_demonstrations=args.num_demonstrations)
    print(Path(args.out, "report.md").read_text())
    print(f"Data: datasets.load_dataset({report['data']!r}, {report['task']!r})")
    if "gain" in report:
        print(f"SELF-GUIDE vs prompting: {report['gain']:+.3f}")
    return 0
