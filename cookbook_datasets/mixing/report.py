"""The Markdown report and PNGs of a learned mixture (from its mix.json content)."""

from __future__ import annotations

from pathlib import Path
from statistics import NormalDist


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def markdown(mix: dict) -> str:
    s = mix["signals"]
    lines = [f"# Cookbook-Mix: {mix['method']} weights for {len(s['tasks'])} task(s)", "",
             f"Model: {mix.get('model')}. Chosen on each task's fit rows only "
             f"({', '.join(f'{t}: {len(r)}' for t, r in mix['fit_rows'].items())} rows); score on other rows."]
    lines += probe_section(mix)
    lines += (["", "## Weights"] if mix.get("probe") else [])
    lines += ["", "| component | weight | parameters |", "|---|---:|---|"]
    specs = s["components"]
    for c, w in sorted(mix["weights"].items(), key=lambda kv: -kv[1]):
        params = {k: v for k, v in specs.get(c, {}).items() if k != "template"}
        lines.append(f"| {c} | {w:.3f} | {params or ''} |")
    yours = mix.get("user_components") or []
    if yours:
        lines += ["", f"Your components ({', '.join(yours)}) are datasets: no rule reads them, so "
                  + ("`rules` gives them weight only where no template helps a task." if mix["method"] == "rules"
                     else f"`{mix['method']}` weighed them on the same footing as the templates.")]
    lines += guard_section(mix)
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
    lines += fields_lines(s)
    lines += reads_lines(mix)
    lines += protection_lines(mix)
    lines += auto_lines(mix)
    return "\n".join(lines) + "\n"


def fields_lines(s: dict) -> list:
    """Per task: the fields found in its inputs and the role each filled (and by which rule)."""
    if not s.get("fields") and not s.get("label_codes"):
        return []
    lines = ["", "## Fields found in each task's inputs and the roles they fill", "",
             "| task | fields found | roles (field, how) | not placed |", "|---|---|---|---|"]
    for t in s["tasks"]:
        f = s.get("fields", {}).get(t)
        if f is None:
            lines.append(f"| {t} | (multiple choice: question, choices) | | |")
            continue
        roles = "; ".join(f"{r} = {n} ({f['how'].get(r, '')})" for r, n in f["roles"].items()) or "none"
        found = ", ".join(f["fields"]) + (f" (split at {f['separator']!r})" if f.get("separator") else "")
        notes = "; ".join(f.get("notes", [])) if not f["roles"] else ""
        lines.append(f"| {t} | {found} | {roles} | {', '.join(f.get('unassigned', []))} {notes} |")
    codes = s.get("label_codes") or {}
    if codes:
        lines += ["", "Code labels read from the definitions (label -> roles): " + "; ".join(
            f"{t} ({roles}): " + ", ".join(f"{lab} -> {'/'.join(rs)}" for lab, rs in meaning.items())
            for t, by in codes.items() for roles, meaning in by.items())]
    return lines


def probe_section(mix: dict) -> list:
    """The report's opening: does the untuned model read each task (the probe of its answers on the
    fit rows, ``mix["probe"]``; eval/probe.py)? Empty when the run had no model."""
    from cookbook_datasets.eval.probe import probe_lines

    if not mix.get("probe"):
        return []
    lines = probe_lines(mix["probe"], heading="## Does the untuned model read each task? (fit rows)")
    if any(r["kind"] == "classification" for r in mix["probe"]["tasks"].values()):
        lines += ["", "From the answers mix learn already had: a classification task in the generate framing only "
                      "(`cookbook probe` also scores rank, the label the model ranks first)."]
    return lines


def reads_lines(mix: dict) -> list:
    """Per classification or multiple-choice task, whether the model reads it on the fit rows: the
    untuned model's and the best proxy run's score against chance. Where neither is clearly above
    chance, a fine-tune that "helps" the task has taught its answer format or its label prior, not
    the task (a model that answers one label everywhere scores exactly chance). With the probe at the
    top of the report (``probe_section``), this section is there only for the proxy runs."""
    s = mix["signals"]
    base, runs = s.get("base_scores") or {}, s.get("runs") or []
    if mix.get("probe") and not runs:  # the probe (probe_section) says it for the untuned model
        return []
    tasks = [t for t in s["tasks"] if s.get("chance", {}).get(t) and t in base]
    if not tasks:
        return []
    lines = ["", "## Does the model read each task? (fit rows)", "",
             "Chance: what answering without reading scores (the most frequent label's share, or 1 / #options). "
             "Clearly above: the better of the scores more than z standard errors of chance above it, z set for a "
             f"2.5% false alarm over the {1 + len(runs)} scores (Bonferroni: the best of many runs is a biased pick).",
             "",
             "| task | chance | untuned | best proxy run | clearly above chance |", "|---|---:|---:|---:|---|"]
    z = NormalDist().inv_cdf(1 - 0.025 / (1 + len(runs)))
    unread = []
    for t in tasks:
        c, n = s["chance"][t], max(1, len(mix.get("fit_rows", {}).get(t, ())))
        best = max((r["scores"][t] for r in runs if t in r.get("scores", {})), default=None)
        top = max(x for x in (base[t], best) if x is not None)
        above = top > c + z * (c * (1 - c) / n) ** 0.5
        unread += [] if above else [t]
        lines.append(f"| {t} | {c:.3f} | {base[t]:.3f} | {_fmt(best)} | {'yes' if above else '**no**'} |")
    if unread:
        lines += ["", f"Not clearly above chance: {', '.join(unread)}. The model does not read these yet: a gain on "
                  "them is the answer format or the label prior; a larger model or more steps may change that."]
    return lines


def protection_lines(mix: dict) -> list:
    """Which component protects which task's format, and its floor."""
    p = mix.get("protection")
    if not p:
        return []
    lines = ["", "## Which component protects which task's format", "",
             f"Each task keeps a component that answers exactly as the task is scored; it keeps at least "
             f"{p['share']:.3f} of the mixture in every method (the floor; online updates included).", "",
             "| task | protecting component | how | floor | weight |", "|---|---|---|---:|---:|"]
    for t, info in p["tasks"].items():
        comps = info["components"]
        if not comps:
            lines.append(f"| {t} | **none** | {info['note']} | | |")
            continue
        c = comps[0]
        lines.append(f"| {t} | {c} | {info['how']}: {info['note']} | {p['floors'].get(c, 0):.3f} | "
                     f"{mix['weights'].get(c, 0):.3f} |")
    unprotected = [t for t, info in p["tasks"].items() if not info["components"]]
    if unprotected:
        lines += ["", f"No component can answer in the format of: {', '.join(unprotected)}; nothing was added "
                      "for them (no demonstrations, no template in their answer format)."]
    return lines


def guard_section(mix: dict) -> list:
    """The guard (learn.py, stage 5): per task, a proxy fine-tune of this mixture vs the untuned model
    on the task's judge rows, and where to keep the untuned model. Empty for a mix.json without one."""
    g = mix.get("guard")
    if not g:
        return []
    lines = ["", "## Guard: tuned vs untuned on the judge rows", ""]
    if not g["chose"] and g.get("reason"):
        return lines + [f"No choice ({g['mode']}): {g['reason']}."]
    lines += [f"A proxy fine-tune of this mixture (the proxy budget) and the untuned model answer {g['judged_on']} "
              f"(rows paired). Rule ({g['mode']}): the tuned model is kept for a task only when its mean there is "
              "strictly above the untuned model's; the interval (paired bootstrap) informs, it does not decide. "
              "The judge rows are fit rows, which chose the weights: never worse on the rows that chose, not a "
              "held-out score.", "",
              "| task | judge rows | untuned | tuned | tuned - untuned [interval] | kept |",
              "|---|---:|---:|---:|---|---|"]
    for t, r in g["tasks"].items():
        if not r["chose"]:
            lines.append(f"| {t} | {r['rows']} | | | | no choice: {r['reason']} |")
            continue
        kept = "**untuned**" if r["kept"] == "untuned" else "tuned"
        lines.append(f"| {t} | {r['rows']} | {r['untuned']:.3f} | {r['tuned']:.3f} | {r['diff']:+.3f} "
                     f"[{r['low']:+.3f}, {r['high']:+.3f}] ({r['verdict']}) | {kept} |")
    a = g.get("average")
    if a:
        lines.append(f"| task average | {a['rows']} | {a['untuned']:.3f} | {a['tuned']:.3f} | {a['diff']:+.3f} "
                     f"[{a['low']:+.3f}, {a['high']:+.3f}] ({a['verdict']}) | |")
    if g["untuned_tasks"]:
        lines += ["", f"**For these tasks keep the untuned model: {', '.join(g['untuned_tasks'])}** (a fine-tune on "
                      "this mixture is not better there)."]
    if g.get("untuned_for_every_task"):
        lines += ["", "**The guard keeps the untuned model for every task: do not train on this mixture.**"]
    worse = [t for t, r in g["tasks"].items() if r["chose"] and r["kept"] == "tuned" and not r["tuned_better"]]
    if worse:
        lines += ["", f"Warning (guard off): the tuned model is not better on {', '.join(worse)}."]
    return lines


def auto_lines(mix: dict) -> list:
    a = mix.get("auto")
    if not a:
        return []
    lines = ["", "## Method chosen by auto", "", f"Chosen: **{a['chosen']}**. {a['why']}.", "",
             f"Rule: {a['rule']}.", "", "| candidate | objective (judge half of the fit rows) |", "|---|---:|"]
    for c in a["candidates"]:
        lines.append(f"| {c} | {a['objectives'][c]:+.4f} |")
    return lines


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
