"""The Markdown report and PNGs of a learned mixture (from its mix.json content)."""

from __future__ import annotations

from pathlib import Path


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def markdown(mix: dict) -> str:
    s = mix["signals"]
    lines = [f"# Cookbook-Mix: {mix['method']} weights for {len(s['tasks'])} task(s)", "",
             f"Model: {mix.get('model')}. Chosen on each task's fit rows only "
             f"({', '.join(f'{t}: {len(r)}' for t, r in mix['fit_rows'].items())} rows); score on other rows.", "",
             "| component | weight | parameters |", "|---|---:|---|"]
    specs = s["components"]
    for c, w in sorted(mix["weights"].items(), key=lambda kv: -kv[1]):
        params = {k: v for k, v in specs.get(c, {}).items() if k != "template"}
        lines.append(f"| {c} | {w:.3f} | {params or ''} |")
    lines += ["", "## Rule accuracy on the fit rows (coverage), chance, alignment of the untuned model", "",
              "| component | task | rule accuracy | coverage | chance | alignment |", "|---|---|---:|---:|---:|---:|"]
    for c in specs:
        for t in s["tasks"]:
            acc = s["rule_accuracy"][c].get(t)
            if acc is None:
                continue
            align = mix.get("alignment", {}).get(c, {}).get(t)
            lines.append(f"| {c} | {t} | {_fmt(acc)} | {s['coverage'][c][t]:.2f} | {s['chance'][t]:.3f} | {_fmt(align)} |")
    if any(s.get("estimated", {}).values()):
        lines += ["", "Rule accuracies were estimated without labels (agreement with the other rules' majority)."]
    uncovered = mix.get("explanation", {}).get("tasks_without_a_helpful_rule")
    if uncovered:
        lines += ["", f"No rule beats chance on: {', '.join(uncovered)}; their share is spread evenly."]
    predicted = mix.get("explanation", {}).get("predicted_gain")
    if predicted:
        lines += ["", "Predicted gain over the untuned model (mixing law): "
                  + ", ".join(f"{t} {g:+.3f}" for t, g in predicted.items())]
    if s.get("base_scores"):
        lines += ["", "Untuned model on the fit rows: " + ", ".join(f"{t} {v:.3f}" for t, v in s["base_scores"].items())]
    return "\n".join(lines) + "\n"


def plot_weights(mix: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = sorted(mix["weights"].items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(items) + 1.2))
    ax.barh([k for k, _ in items], [v for _, v in items], color="tab:blue")
    ax.set_xlabel("weight")
    ax.set_title(f"Cookbook-Mix weights ({mix['method']})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_signals(mix: dict, path: Path) -> None:
    """Template setting x task: rule accuracy minus chance (colour), coverage-weighted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    s = mix["signals"]
    comps, tasks = list(s["components"]), s["tasks"]
    grid = np.full((len(comps), len(tasks)), np.nan)
    for i, c in enumerate(comps):
        for j, t in enumerate(tasks):
            acc = s["rule_accuracy"][c].get(t)
            if acc is not None:
                grid[i, j] = acc - s["chance"][t]
    fig, ax = plt.subplots(figsize=(1.0 * len(tasks) + 3, 0.45 * len(comps) + 2))
    im = ax.imshow(grid, cmap="RdBu", vmin=-0.3, vmax=0.3, aspect="auto")
    ax.set_xticks(range(len(tasks)), [t[:18] for t in tasks], rotation=45, ha="right")
    ax.set_yticks(range(len(comps)), comps)
    for i in range(len(comps)):
        for j in range(len(tasks)):
            if np.isfinite(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:+.2f}", ha="center", va="center", fontsize=7)
    fig.colorbar(im, ax=ax, label="rule accuracy - chance (fit rows)")
    ax.set_title("Which template's rule approximates which task")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(out: Path, mix: dict) -> None:
    out = Path(out)
    (out / "report.md").write_text(markdown(mix))
    plot_weights(mix, out / "weights.png")
    plot_signals(mix, out / "signals.png")
