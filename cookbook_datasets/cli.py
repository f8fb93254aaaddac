"""The ``cookbook`` command line: a thin layer over the Python API."""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
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
        for i in range(args.num):
            sample = template.sample(random.Random(i))
            print(f"\n--- sample {i} ---\n{sample.prompt}\n>>> {sample.completion}")
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
    mixture = weights if (args.mix or weights) else None
    out = generate(
        names, args.out, num_examples=args.num_examples, num_eval_examples=args.num_eval_examples,
        seed=args.seed, format=args.format, params=template_params(names, _parse_assignments(args.param, "--param")),
        mixture=mixture, num_proc=args.num_proc, overwrite=args.overwrite, push_to_hub=args.push_to_hub,
        private=args.private,
    )
    print(f"Wrote {out}")
    import datasets

    shown = MIXTURE_CONFIG if mixture is not None else names[0]
    ds = datasets.load_dataset(str(out), shown, split="train")
    print(f"Load it with: datasets.load_dataset({str(out)!r}, {shown!r})\n")
    for row in ds.select(range(min(args.show, len(ds)))):
        print(f"--- {row['source']} ---\n{_show_sample(row['prompt'], row['completion'])}\n")
    if args.push_to_hub:
        print(f"Pushed to https://huggingface.co/datasets/{args.push_to_hub}")
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
    p.add_argument("--mix", action="store_true", help="also write a 'mixture' config (uniform unless --weight)")
    p.add_argument("--weight", action="append", default=[], metavar="TEMPLATE=W", help="mixture weight")
    p.add_argument("--num-proc", type=int, default=None)
    p.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    p.add_argument("--push-to-hub", metavar="REPO", default=None)
    p.add_argument("--private", action="store_true")
    p.add_argument("--show", type=int, default=3, help="rows to print after writing")
    p.set_defaults(func=cmd_generate)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ValueError, FileExistsError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
