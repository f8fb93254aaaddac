"""``cookbook regenerate DIR_OR_HUB_ID --out NEW [--check]``: rebuild a dataset from its card."""

from __future__ import annotations

from .options import add_command


def add_parser(subparsers) -> None:
    p = add_command(subparsers, "regenerate",
                    "rebuild a dataset this package wrote from its card alone, and check it against the original")
    p.add_argument("source", metavar="DIR_OR_HUB_ID", help="a Hub-layout directory, or a Hub dataset id")
    p.add_argument("--out", required=True, metavar="NEW", help="where the rebuilt Hub-layout directory is written")
    p.add_argument("--check", action="store_true",
                   help="compare the rebuilt Parquet with the original byte for byte (model-made configs: against "
                        "the card's checksums); exit 1 when anything differs")
    p.add_argument("--overwrite", action="store_true", help="replace an existing NEW directory")
    p.add_argument("--num-proc", type=int, default=None, metavar="N",
                   help="processes generating in parallel (default: one)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..rebuild import regenerate

    result = regenerate(args.source, args.out, check=args.check, overwrite=args.overwrite, num_proc=args.num_proc)
    print(result.format())
    return 0 if result.ok else 1
