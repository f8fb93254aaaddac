"""Stage 3, output annotation with self-consistency.

Each kept input is put to the model in a few-shot chat prompt (the instruction, the demonstrations
as turns, the new input), ``annotation_samples`` times at a low temperature. Samples that are empty,
noise, or (generation tasks) outside the demonstrations' output length window are dropped;
classification samples are mapped to the label they mention last and dropped when they mention
none. The most frequent answer is kept if at least ``consistency_threshold`` of all samples gave it.

Classification with ``annotation="rank"``: instead of sampling, every label is scored by its
log-likelihood as the answer after the same prompt (the evaluation's ``rank`` framing,
``cookbook_datasets.eval.framings.rank_requests``; the prompt is read once per input and its cached
keys and values serve every label, batched). The label distribution (a softmax over the labels'
log-likelihoods, optionally divided by the model's content-free prior and renormalised) plays
the vote: its top label is the answer and its probability the vote share, which is what the
vote over infinitely many samples constrained to the label set would give; kept when at least
``consistency_threshold`` (as in generate mode).

Classification with ``annotation="target"``: no annotation; each input's output is the label it
was written for (input generation draws it uniformly), so the labels are as balanced as the inputs
that pass the filters. ``agree_with_target`` keeps a generate or rank annotation only when it is
the input's target label. ``calibrate_labels="batch"`` divides each label's votes by the model's
mean label distribution over the round's own inputs (batch calibration) before the vote;
``"content-free"`` by its answers to content-free inputs (:func:`label_prior`).
"""

from __future__ import annotations

import math
from collections import Counter

from cookbook_datasets.generation import SamplingParams
from cookbook_datasets.tasks import Task

from .config import SelfGuideConfig
from .input_filters import is_noise
from .input_generation import round_seed


def extract_label(text: str, labels: list) -> str | None:
    """The label ``text`` mentions last, as the task spells it (the scoring metric's rule)."""
    from cookbook_datasets.eval.metrics.label_exact_match.label_exact_match import extract_label as last_label
    from cookbook_datasets.eval.metrics.label_exact_match.label_exact_match import normalise

    spelled = {normalise(label): label for label in labels}
    found = last_label(text, list(spelled))
    return spelled[found] if found is not None else None


def annotation_prompt(task: Task, text: str) -> list:
    """The few-shot prompt the model answers: as the task is posed at evaluation time."""
    messages = [{"role": "system", "content": task.instruction.strip()}]
    for demo in task.demonstrations:
        messages += [{"role": "user", "content": demo.input}, {"role": "assistant", "content": demo.answer}]
    return messages + [{"role": "user", "content": text}]


def sample_answer(text: str, task: Task, config: SelfGuideConfig, window):
    """(answer, None) for a usable sample, or (None, reason) when an output filter drops it."""
    answer = text.strip()
    if not answer:
        return None, "empty"
    if task.kind == "classification":
        label = extract_label(answer, task.labels)
        return (label, None) if label is not None else (None, "no_label")
    if is_noise(answer, config.noise_phrases):
        return None, "noise"
    if window is not None and not window[0] <= len(answer) <= window[1]:
        return None, "length"
    return " ".join(answer.split()), None


CONTENT_FREE = ("N/A", "[MASK]", "none")


def label_prior(engine, task: Task, config: SelfGuideConfig) -> dict:
    """The model's answer distribution over the labels for content-free inputs: what it says when
    the input carries no information, i.e. its label bias. Generate mode: the sampled answers'
    labels, add-one smoothed; rank mode: the label distribution averaged over the inputs (as in
    contextual calibration)."""
    if config.annotation == "rank":
        dists = label_distributions(engine, task, list(CONTENT_FREE))
        return {label: sum(d[k] for d in dists) / len(dists) for k, label in enumerate(task.labels)}
    params = SamplingParams(n=config.annotation_samples, temperature=config.annotation_temperature,
                            top_k=config.annotation_top_k, max_new_tokens=config.annotation_tokens_for(True),
                            seed=round_seed(config, 0, "calibration"))
    outputs = engine.generate([annotation_prompt(task, text) for text in CONTENT_FREE], params, desc="label prior")
    votes = Counter(extract_label(t, task.labels) for out in outputs for t in out.texts)
    total = sum(votes[label] + 1 for label in task.labels)
    return {label: (votes[label] + 1) / total for label in task.labels}


def vote(answers: list, prior=None):
    """(answer, share) of the most frequent answer among ``answers`` (None: a dropped sample), its
    share counted over all samples. With a ``prior``, each label's count is divided by its prior
    first; the share is then the calibrated share of the usable samples, times their share of all
    samples (with a uniform prior, exactly the plain share)."""
    votes = Counter(a for a in answers if a is not None)
    if not votes:
        return None, 0.0
    if prior is None:
        top, count = votes.most_common(1)[0]
        return top, count / len(answers)
    scores = {label: count / prior[label] for label, count in votes.items()}
    top = max(scores, key=lambda label: (scores[label], -list(prior).index(label)))  # ties: the label set's order
    usable = sum(votes.values()) / len(answers)
    return top, scores[top] / sum(scores.values()) * usable


def check_can_rank(engine) -> None:
    """A clear error, before anything runs, when ``engine`` cannot score labels."""
    if callable(getattr(engine, "score_labels", None)):
        return
    if getattr(engine, "model", None) is None or getattr(engine, "tokenizer", None) is None:
        raise ValueError(f"annotation='rank' scores each label's log-likelihood with a local model; the "
                         f"{getattr(engine, 'name', type(engine).__name__)!r} engine only samples. Use the transformers "
                         "backend, or annotation='generate'")


def label_loglikelihoods(engine, task: Task, texts: list[str]) -> list[list[float]]:
    """Per input, the log-likelihood of each label (``task.labels`` order) as the answer after the
    annotation prompt. An engine may score labels itself (``engine.score_labels(prompts, labels)``);
    a local transformers engine is scored as the evaluation's ``rank`` framing scores."""
    if not texts:
        return []
    check_can_rank(engine)
    if callable(getattr(engine, "score_labels", None)):
        return engine.score_labels([annotation_prompt(task, t) for t in texts], list(task.labels))
    from cookbook_datasets.eval.framings import rank_requests
    from cookbook_datasets.eval.lm import loglikelihoods
    from cookbook_datasets.tasks import Instance

    requests = rank_requests(engine.tokenizer, task, len(task.demonstrations), [Instance.make(t) for t in texts])
    width = len(task.labels)
    batch = max(1, getattr(engine, "batch_size", 16) // width)  # contexts per pass; each expands to every label
    flat = loglikelihoods(engine.model, engine.tokenizer, [p for req in requests for p in req], batch_size=batch,
                          desc="ranking labels")
    return [flat[i * width:(i + 1) * width] for i in range(len(texts))]


def softmax(scores: list[float]) -> list[float]:
    top = max(scores)
    weights = [math.exp(s - top) for s in scores]
    total = sum(weights)
    return [w / total for w in weights]


def label_distributions(engine, task: Task, texts: list[str]) -> list[list[float]]:
    """Per input, the model's probability of each label, renormalised over the label set."""
    return [softmax(scores) for scores in label_loglikelihoods(engine, task, texts)]


def rank_vote(dist: list[float], labels: list, prior=None):
    """(label, share) from one input's label distribution: with a ``prior`` (label -> probability),
    each probability is divided by the label's prior and the result renormalised (contextual
    calibration) first. Ties go to the label set's order."""
    if prior is not None:
        dist = [p / prior[label] for p, label in zip(dist, labels)]
        total = sum(dist)
        dist = [p / total for p in dist]
    k = max(range(len(labels)), key=lambda i: (dist[i], -i))
    return labels[k], dist[k]


def batch_prior(dists: list[list[float]], labels: list) -> dict:
    """Batch calibration's bias estimate: the mean label distribution over a batch of inputs
    (each ``dists`` entry a distribution over ``labels``), floored so no label divides by zero."""
    mean = [max(sum(d[k] for d in dists) / len(dists), 1e-6) for k in range(len(labels))]
    total = sum(mean)
    return {label: m / total for label, m in zip(labels, mean)}


def vote_distribution(answers: list, labels: list) -> list[float]:
    """One input's sampled labels as a distribution over ``labels`` (add-one smoothed)."""
    votes = Counter(a for a in answers if a is not None)
    total = sum(votes[label] + 1 for label in labels)
    return [(votes[label] + 1) / total for label in labels]


def new_counts(inputs: list) -> dict:
    return {"annotated": len(inputs), "samples": 0, "samples_dropped": 0, "dropped_inconsistent": 0,
            "dropped_disagreeing": 0, "kept": 0}


def rank_annotate(engine, task: Task, inputs: list[dict], config: SelfGuideConfig, round_index: int,
                  prior=None) -> tuple[list[dict], dict]:
    """Rank mode of :func:`annotate` (classification): one scoring pass per input, no samples."""
    counts = new_counts(inputs)
    dists = label_distributions(engine, task, [c["text"] for c in inputs])
    if config.calibrate_labels == "batch" and dists:
        prior = counts["batch_prior"] = batch_prior(dists, task.labels)
    rows = []
    for cand, dist in zip(inputs, dists):
        top, share = rank_vote(dist, task.labels, prior)
        if share < config.consistency_threshold:
            counts["dropped_inconsistent"] += 1
            continue
        rows.append({"input": cand["text"], "output": top, "vote_share": round(share, 4), "round": round_index,
                     "label": top, "target_label": cand.get("target_label"),
                     "label_probs": [round(p, 4) for p in dist]})
    return rows, counts


def target_annotate(inputs: list[dict], round_index: int) -> tuple[list[dict], dict]:
    """Target mode of :func:`annotate` (classification): each input's output is its target label."""
    counts = new_counts(inputs)
    rows = [{"input": c["text"], "output": c["target_label"], "vote_share": None, "round": round_index,
             "label": c["target_label"], "target_label": c["target_label"]} for c in inputs]
    return rows, counts


def sample_annotate(engine, task: Task, inputs: list[dict], config: SelfGuideConfig, round_index: int,
                    output_window=None, prior=None) -> tuple[list[dict], dict]:
    """Generate mode of :func:`annotate`: ``annotation_samples`` sampled answers per input, voted."""
    counts = new_counts(inputs)
    if not inputs:
        return [], counts
    classification = task.kind == "classification"
    params = SamplingParams(n=config.annotation_samples, temperature=config.annotation_temperature,
                            top_k=config.annotation_top_k, max_new_tokens=config.annotation_tokens_for(classification),
                            seed=round_seed(config, round_index, "annotation"))
    outputs = engine.generate([annotation_prompt(task, c["text"]) for c in inputs], params,
                              desc=f"round {round_index}: answers")
    answers = [[sample_answer(t, task, config, output_window)[0] for t in out.texts] for out in outputs]
    if classification and config.calibrate_labels == "batch":
        prior = counts["batch_prior"] = batch_prior([vote_distribution(a, task.labels) for a in answers], task.labels)
    rows = []
    for cand, samples in zip(inputs, answers):
        counts["samples"] += len(samples)
        counts["samples_dropped"] += sum(a is None for a in samples)
        top, share = vote(samples, prior)
        if top is None or share < config.consistency_threshold:
            counts["dropped_inconsistent"] += 1
            continue
        rows.append({"input": cand["text"], "output": top, "vote_share": round(share, 4), "round": round_index,
                     "label": top if classification else None, "target_label": cand.get("target_label")})
    return rows, counts


def annotate(engine, task: Task, inputs: list[dict], config: SelfGuideConfig, round_index: int,
             output_window=None, prior=None) -> tuple[list[dict], dict]:
    """Answer each input; return the pairs kept and the counts. Classification: by
    ``config.annotation`` (generate, rank or target; see the module doc), then, with
    ``agree_with_target``, only the pairs whose label is their input's target label. ``prior``:
    the content-free label prior to calibrate the votes with (:func:`label_prior`); with
    ``calibrate_labels="batch"`` the round's own batch prior is used instead."""
    classification = task.kind == "classification"
    if classification and config.annotation == "target":
        rows, counts = target_annotate(inputs, round_index)
    elif classification and config.annotation == "rank":
        rows, counts = rank_annotate(engine, task, inputs, config, round_index, prior)
    else:
        rows, counts = sample_annotate(engine, task, inputs, config, round_index, output_window, prior)
    if classification and config.agree_with_target:
        agreeing = [row for row in rows if row["label"] == row["target_label"]]
        counts["dropped_disagreeing"] = len(rows) - len(agreeing)
        rows = agreeing
    counts["kept"] = len(rows)
    return rows, counts
