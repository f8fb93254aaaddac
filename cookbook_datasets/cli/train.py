"""``cookbook train --dataset DATA --out DIR``: fine-tune a model with TRL (LoRA by default)."""

from __future__ import annotations

from .options import add_command, add_train_overrides, parse_assignments, train_overrides


def add_parser(subparsers) -> None:
    p = add_command(subparsers, "train", "fine-tune a model with TRL (LoRA by default)")
    p.add_argument("--model", default=None, metavar="MODEL", help="model spec (default: smollm2-135m)")
    p.add_argument("--dataset", action="append", default=[], metavar="DATA",
                   help="builder name (cookbook), Hub-layout directory or Hub id; repeat to mix")
    p.add_argument("--dataset-config", default=None, metavar="NAME", help="config name, e.g. a template or 'mixture'")
    p.add_argument("--dataset-param", action="append", default=[], metavar="KEY=VALUE",
                   help="load_dataset parameter, e.g. num_examples=500 (repeatable)")
    p.add_argument("--config", default=None, metavar="YAML", help="YAML recipe (path or name in trainers/configs)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    add_train_overrides(p, epochs_help="training epochs (default: the recipe's)")
    p.add_argument("--lora-alpha", dest="lora_alpha", type=int, default=None, metavar="A",
                   help="LoRA alpha (default: the recipe's)")
    p.add_argument("--lora-targets", dest="lora_target_modules", default=None, metavar="MODULES",
                   help="modules LoRA adapts, e.g. all-linear or q_proj,v_proj (default: the recipe's)")
    p.add_argument("--lora-dropout", dest="lora_dropout", type=float, default=None, metavar="P",
                   help="LoRA dropout (default: the recipe's)")
    p.add_argument("--precision", choices=["auto", "bf16", "fp32"], default=None,
                   help="compute precision (auto: bf16 on GPUs and on CPUs with AVX512-BF16/AMX, else fp32)")
    p.add_argument("--attn-implementation", dest="attn_implementation", default=None, metavar="KERNEL",
                   help="attention kernel: auto (eager on CPU), eager, sdpa, flash_attention_2, ...")
    p.add_argument("--full-lm-head", action="store_true",
                   help="run the LM head on every position (TRL's path) instead of only the loss positions")
    p.add_argument("--group-by-length", action="store_true", help="batch rows of similar length together")
    p.add_argument("--max-length", dest="max_length", type=int, default=None, metavar="TOKENS",
                   help="tokens per row; longer rows are truncated (default: the recipe's)")
    p.add_argument("--seed", type=int, default=None, metavar="N", help="training seed (default: the recipe's)")
    p.add_argument("--full", action="store_true", help="full fine-tuning instead of LoRA")
    p.add_argument("--merge", action="store_true", help="also save the LoRA-merged model")
    p.add_argument("--no-eval", action="store_true", help="skip evaluation on the validation split")
    p.add_argument("--no-resume", action="store_true", help="start over even if checkpoints exist")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..data_spec import DataSpec
    from ..trainers import TrainConfig, train

    names = ("model", "lora_alpha", "lora_target_modules", "lora_dropout", "seed", "max_length", "precision",
             "attn_implementation")
    overrides = {k: getattr(args, k) for k in names if getattr(args, k) is not None}  # only what was given
    overrides.update(train_overrides(args))
    overrides["output_dir"] = args.out
    flags = {"full": ("use_lora", False), "merge": ("merge", True), "no_eval": ("eval_split", None),
             "no_resume": ("resume", False), "full_lm_head": ("loss_positions_only", False),
             "group_by_length": ("group_by_length", True)}  # a flag given sets its config field
    overrides.update(dict(value for flag, value in flags.items() if getattr(args, flag)))
    if args.dataset:
        params = parse_assignments(args.dataset_param, "--dataset-param")
        overrides["datasets"] = [DataSpec(path=d, name=args.dataset_config, params=params) for d in args.dataset]
    config = TrainConfig.from_yaml(args.config, **overrides) if args.config else TrainConfig(**overrides)
    card = train(config)
    print(f"Wrote {'adapter' if config.use_lora else 'model'} and run card to {config.output_dir} "
          f"({card['global_step']} steps, {card['train_seconds']} s)")
    for key, value in card["final_metrics"].items():
        print(f"  {key}: {value}")
    return 0
