"""``cookbook templates [list | show NAME]``: the registered templates, or samples of one."""

from __future__ import annotations

from .options import add_command, parse_assignments, template_params


def add_parser(subparsers) -> None:
    p = add_command(subparsers, "templates", "list templates, or show samples of one")
    p.add_argument("action", nargs="?", choices=["list", "show"], default="list",
                   help="list every template, or show one with its parameters and samples")
    p.add_argument("name", nargs="?", metavar="NAME", help="the template to show")
    p.add_argument("-n", "--num", type=int, default=3, metavar="N", help="samples to show")
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                   help="a template parameter for the samples shown (repeatable)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..templates import get_template, get_template_class, list_templates

    if args.action == "show":
        if not args.name:
            raise ValueError("usage: cookbook templates show NAME")
        params = template_params([args.name], parse_assignments(args.param, "--param"))
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
