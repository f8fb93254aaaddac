"""``cookbook push DIR REPO_ID``: upload an already written Hub-layout directory."""

from __future__ import annotations

from .options import add_command


def add_parser(subparsers) -> None:
    p = add_command(subparsers, "push", "upload a Hub-layout directory this package wrote to a Hub dataset repository")
    p.add_argument("dir", metavar="DIR", help="the directory (README.md card + one folder of Parquet per config)")
    p.add_argument("repo_id", metavar="REPO_ID", help="the dataset repository, NAMESPACE/NAME (created if missing)")
    p.add_argument("--private", action="store_true", help="create the repository private")
    p.add_argument("--token", default=None, metavar="TOKEN", help="Hub token (default: HF_TOKEN or the saved login)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..push import push_dataset

    print(f"Pushed {args.dir} to {push_dataset(args.dir, args.repo_id, private=args.private, token=args.token)}")
    return 0
