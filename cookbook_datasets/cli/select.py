"""``cookbook select POOL --out DIR``: DiverseEvol, the model picks a diverse subset round by round."""

from __future__ import annotations

from .options import add_command, add_train_overrides, parse_assignments, train_overrides


def add_parser(subparsers) -> None:
    p = add_command(subparsers, "select",
                    "DiverseEvol: the model picks a diverse training subset of a pool, round by round")
    p.add_argument("pool", metavar="POOL", help="pool in the row schema: Hub-layout directory, Hub id or builder name")
    p.add_argument("--pool-config", default=None, metavar="NAME", help="config name of the pool")
    p.add_argument("--pool-split", default="train", metavar="SPLIT", help="split of the pool to select from")
    p.add_argument("--pool-param", action="append", default=[], metavar="KEY=VALUE",
                   help="load_dataset parameter (repeatable)")
    p.add_argument("--strategy", default="kcenter", metavar="NAME",
                   help="kcenter, kcenter_balanced, random, least_confidence, margin or entropy")
    p.add_argument("--space", choices=["raw", "cosine", "whiten"], default=None,
                   help="kcenter(_balanced): distances on the raw embeddings (default), L2-normalised ones, or "
                        "whitened + normalised ones (the reference code's option)")
    p.add_argument("--whiten-components", type=int, default=None, metavar="N",
                   help="--space whiten: components kept (default: as many as the pool's rows allow)")
    p.add_argument("--source-column", default=None, metavar="COLUMN",
                   help="kcenter_balanced: the pool column naming each row's task/template/file (default: source)")
    p.add_argument("--allocation", choices=["proportional", "equal"], default=None,
                   help="kcenter_balanced: picks per source by its share of the pool (default) or equal")
    p.add_argument("--k0", type=int, default=100, metavar="N", help="random rows in round 0")
    p.add_argument("--per-round", type=int, default=100, metavar="N", help="rows added per round")
    p.add_argument("--rounds", type=int, default=10, metavar="N", help="selection rounds after round 0")
    p.add_argument("--model", default="smollm2-135m", metavar="MODEL", help="the model that embeds, trains and is scored")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (resumes a run found there)")
    p.add_argument("--eval", nargs="*", default=[], metavar="TASK", help="tasks scored after every round")
    p.add_argument("--eval-limit", type=int, default=None, metavar="N", help="examples per evaluation task (default: all)")
    p.add_argument("--eval-num-shots", type=int, default=0, metavar="K", help="demonstrations when scoring")
    add_train_overrides(p, epochs_help="training epochs per round (default 3)")
    p.add_argument("--embed-batch-size", type=int, default=16, metavar="B", help="rows embedded at once")
    p.add_argument("--max-length", type=int, default=512, metavar="TOKENS", help="tokens per row when embedding")
    p.add_argument("--dtype", choices=["float32", "bfloat16"], default=None,
                   help="embedding and scoring dtype (default: bf16 on GPU, fp32 on CPU)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed of round 0 and the training")
    p.add_argument("--no-diversity", action="store_true", help="skip the covering radius / Vendi report")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from ..trainers import DiverseEvolConfig, run_diverse_evol

    config = DiverseEvolConfig(
        pool=args.pool, pool_config=args.pool_config, pool_split=args.pool_split,
        pool_params=parse_assignments(args.pool_param, "--pool-param"), output_dir=args.out,
        strategy=args.strategy, space=args.space, whiten_components=args.whiten_components,
        source_column=args.source_column, allocation=args.allocation, k0=args.k0, per_round=args.per_round,
        rounds=args.rounds, model=args.model,
        train=train_overrides(args), eval_tasks=args.eval, eval_limit=args.eval_limit,
        eval_num_shots=args.eval_num_shots, seed=args.seed, embed_batch_size=args.embed_batch_size,
        max_length=args.max_length, dtype=args.dtype, diversity=not args.no_diversity)
    report = run_diverse_evol(config)
    print(Path(args.out, "report.md").read_text())
    print(f"Subsets (a config per round): datasets.load_dataset({report['subsets']!r}, 'round_{args.rounds}')")
    print(f"Wrote {Path(args.out, 'report.json')} and report.png")
    return 0
