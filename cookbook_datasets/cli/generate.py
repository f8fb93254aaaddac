"""``cookbook generate NAME... --out DIR``: template data (and a mixture) in the Hub layout.

The options are ``GenerateConfig``'s fields (the template names are its positional ``templates``).
"""

from __future__ import annotations

from .config_args import add_config, config_from_args
from .options import add_command, parse_assignments, template_params


def add_parser(subparsers) -> None:
    from ..template_data import GenerateConfig

    p = add_command(subparsers, "generate", "generate template data in the Hub layout")
    add_config(p, GenerateConfig, options={
        "templates": {"positional": True, "metavar": "NAME"},
        # --mix alone: a uniform mixture; --mix MIX_JSON: a learned one; weights come with --weight below.
        "mixture": {"flags": ["--mix", "--mixture"], "nargs": "?", "const": {}, "type": str, "metavar": "MIX_JSON"},
    })
    # Command-line forms of fields that YAML gives whole: --all fills `templates`, -p and --weight
    # fill `params` and `mixture` one entry at a time.
    p.add_argument("--all", action="store_true", help="every registered template")
    p.add_argument("-p", "--param", action="append", default=[], metavar="[TEMPLATE.]KEY=VALUE",
                   help="a template parameter, for every named template that has it or for one (repeatable)")
    p.add_argument("--weight", action="append", default=[], metavar="TEMPLATE=W",
                   help="mixture weight of a template (repeatable; implies --mix)")
    # What is done with the written directory, not how it is made: arguments of generate(), no config fields.
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
    from ..template_data import MIXTURE_CONFIG, GenerateConfig, generate
    from ..templates import list_templates

    names = list_templates() if args.all else args.templates
    if not names:
        raise ValueError("name templates to generate, or pass --all (see `cookbook templates`)")
    params = {name: dict(p) for name, p in args.params.items()}
    for name, values in template_params(names, parse_assignments(args.param, "--param")).items():
        params.setdefault(name, {}).update(values)
    weights = parse_assignments(args.weight, "--weight")
    mixture = args.mixture
    if weights:
        if isinstance(mixture, str):
            raise ValueError("give mixture weights either with --weight or in the mix.json given to --mix, not both")
        mixture = {**(mixture or {}), **weights}
    config = config_from_args(args, GenerateConfig, templates=names, params=params, mixture=mixture)
    out = generate(config, overwrite=args.overwrite)  # pushed below, after the rows are shown: a push that
    print(f"Wrote {out}")                              # fails leaves the written data to look at
    if mixture is not None:
        print(f"TRL recipe (run it from its directory): cd {out} && trl sft --config sft_recipe.yaml")
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
