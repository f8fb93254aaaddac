"""``cookbook generate NAME... --out DIR``: template data (and a mixture) in the Hub layout."""

from __future__ import annotations

from .options import add_command, parse_assignments, template_params


def add_parser(subparsers) -> None:
    p = add_command(subparsers, "generate", "generate template data in the Hub layout")
    p.add_argument("names", nargs="*", metavar="NAME", help="templates to generate (see `cookbook templates`)")
    p.add_argument("--all", action="store_true", help="every registered template")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (Hub layout)")
    p.add_argument("--num-examples", type=int, default=1000, metavar="N", help="train rows per template")
    p.add_argument("--num-eval-examples", type=int, default=None, metavar="N",
                   help="validation and test rows (default: 10%% of --num-examples)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed of every row")
    p.add_argument("--format", choices=["chat", "text"], default="chat",
                   help="chat: conversational prompt/completion messages; text: plain strings for base models")
    p.add_argument("-p", "--param", action="append", default=[], metavar="[TEMPLATE.]KEY=VALUE",
                   help="a template parameter, for every named template that has it or for one (repeatable)")
    p.add_argument("--mix", nargs="?", const=True, default=False, metavar="MIX_JSON",
                   help="also write a 'mixture' config and a TRL recipe: uniform, by --weight, or by a learned mix.json")
    p.add_argument("--weight", action="append", default=[], metavar="TEMPLATE=W",
                   help="mixture weight of a template (repeatable; implies --mix)")
    p.add_argument("--stopping-strategy", choices=["first_exhausted", "all_exhausted"], default="first_exhausted",
                   help="as in datasets.interleave_datasets (matters only for finite parts)")
    p.add_argument("--recipe-model", default="smollm2-135m", metavar="MODEL", help="the model the TRL recipe trains")
    p.add_argument("--num-proc", type=int, default=None, metavar="N",
                   help="processes generating in parallel (default: one)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    p.add_argument("--push-to-hub", metavar="REPO_ID", default=None,
                   help="then upload to this Hub dataset repository (the data stays in --out either way)")
    p.add_argument("--private", action="store_true", help="with --push-to-hub: create the repository private")
    p.add_argument("--show", type=int, default=3, metavar="N", help="rows to print after writing")
    p.set_defaults(func=run)


def _show_sample(prompt, completion) -> str:
    def text(x):
        return x if isinstance(x, str) else "\n".join(f"[{m['role']}] {m['content']}" for m in x)
    return f"{text(prompt)}\n>>> {text(completion)}"


def run(args) -> int:
    from ..generate import MIXTURE_CONFIG, generate
    from ..templates import list_templates

    names = list_templates() if args.all else args.names
    if not names:
        raise ValueError("name templates to generate, or pass --all (see `cookbook templates`)")
    weights = parse_assignments(args.weight, "--weight")
    if isinstance(args.mix, str):
        if weights:
            raise ValueError("give mixture weights either with --weight or in the mix.json given to --mix, not both")
        mixture = args.mix
    else:
        mixture = weights if (args.mix or weights) else None
    out = generate(
        names, args.out, num_examples=args.num_examples, num_eval_examples=args.num_eval_examples,
        seed=args.seed, format=args.format, params=template_params(names, parse_assignments(args.param, "--param")),
        mixture=mixture, stopping_strategy=args.stopping_strategy, recipe_model=args.recipe_model,
        num_proc=args.num_proc, overwrite=args.overwrite,
    )  # pushed below, after the rows are shown: a push that fails leaves the written data to look at
    print(f"Wrote {out}")
    if mixture is not None:
        print(f"TRL recipe: trl sft --config {out / 'sft_recipe.yaml'}")
    import datasets

    from ..progress import quiet_datasets

    shown = MIXTURE_CONFIG if mixture is not None else names[0]
    with quiet_datasets():  # reading back a few rows to show is no stage of its own
        ds = datasets.load_dataset(str(out), shown, split="train")
    print(f"Load it with: datasets.load_dataset({str(out)!r}, {shown!r})\n")
    for row in ds.select(range(min(args.show, len(ds)))):
        print(f"--- {row['source']} ---\n{_show_sample(row['prompt'], row['completion'])}\n")
    if args.push_to_hub:
        from ..push import push_dataset

        print(f"Pushed to {push_dataset(out, args.push_to_hub, private=args.private)}")
    return 0
