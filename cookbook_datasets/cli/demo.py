"""``cookbook demo``: the main job, mix templates, LoRA-tune the default model, compare."""

from __future__ import annotations

from .options import add_command


def add_parser(subparsers) -> None:
    p = add_command(subparsers, "demo", "the main job: mix templates, LoRA-tune the default model, compare")
    p.add_argument("--out", default="runs/demo", metavar="DIR", help="data, adapter and results (a run there resumes)")
    p.add_argument("--model", default="smollm2-135m", metavar="MODEL", help="model spec to fine-tune")
    p.add_argument("--templates", nargs="*", default=[], metavar="NAME",
                   help="templates to mix (default: 9 short-answer ones)")
    p.add_argument("--vocab", default=None, metavar="VOCAB", help="random-token vocabulary (default: tokenizer:<model>)")
    p.add_argument("--max-steps", type=int, default=40, metavar="N", help="LoRA training steps")
    p.add_argument("--eval-examples", type=int, default=16, metavar="N",
                   help="examples per task (test rows per template)")
    p.add_argument("--tasks", nargs="*", default=[], metavar="TASK", help="extra task files or directories to evaluate")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..demo import DemoConfig, run_demo

    config = DemoConfig(out=args.out, model=args.model, templates=args.templates, vocab=args.vocab,
                        max_steps=args.max_steps, eval_examples=args.eval_examples, tasks=args.tasks)
    result = run_demo(config)
    print(f"Trained {result['train']['global_step']} steps in {result['train']['train_seconds']} s "
          f"on {result['train']['train_rows']} rows.\n")
    print(result["table"])
    print(f"Wrote {result['comparison_table']} and {result['plot']}")
    return 0
