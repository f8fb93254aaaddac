"""Each target task's loss on a few of its fit rows: the gold answer's completion loss in the
task's generate framing, all tasks in one batched forward pass.

The generate framing is the prompt the evaluation harness generates from (eval/prompts.py): a
task's chat prompt (instruction, demonstrations, input) with the first acceptable output as the
answer; a multiple-choice task's options listed as the templates list them (``Question: ...`` /
``Options:`` / ``A. ...``) with the gold option's letter as the answer (what that prompt asks for). The loss
is the mean token cross-entropy of the answer (plus the end-of-turn tokens the chat template puts
after it), averaged over a task's rows.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
import torch.nn.functional as F


def generate_framing_rows(task, n: int, num_shots: int = 2) -> list[dict]:
    """The first ``n`` of a task's fit rows (a Task) as prompt/completion message lists, in the
    prompts the evaluation harness generates from (eval/prompts.py, ``num_shots`` demonstrations)."""
    from cookbook_datasets.eval.prompts import LETTERS, chat_prompt, options_prompt

    out = []
    for instance in task.instances[:n]:
        if task.kind == "multiple_choice":
            prompt, answer = options_prompt(task, instance), LETTERS[instance.gold]
        else:
            prompt, answer = chat_prompt(task, instance, num_shots), instance.answer
        out.append({"prompt": prompt, "completion": [{"role": "assistant", "content": str(answer)}]})
    return out


class TaskLosses:
    """Tokenized once; :meth:`measure` gives task -> mean completion loss under a model."""

    def __init__(self, rows: Mapping[str, Sequence[dict]], tokenizer, max_length: int = 1024):
        if not rows or any(len(r) == 0 for r in rows.values()):
            raise ValueError("every task needs at least one row to measure its loss on "
                             f"(rows per task: {({t: len(r) for t, r in rows.items()})})")
        self.tasks = list(rows)
        self.pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.sequences, self.task_of = [], []
        for t, task_rows in rows.items():
            for row in task_rows:
                self.sequences.append(_tokenize(tokenizer, row, max_length))
                self.task_of.append(self.tasks.index(t))

    def batch(self, device) -> dict:
        """Left-padded ids, attention mask and labels (-100 outside the answers)."""
        width = max(len(ids) for ids, _ in self.sequences)
        ids = torch.full((len(self.sequences), width), self.pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        labels = torch.full_like(ids, -100)
        for r, (seq, start) in enumerate(self.sequences):
            off = width - len(seq)
            ids[r, off:] = torch.tensor(seq)
            mask[r, off:] = 1
            labels[r, off + start:] = torch.tensor(seq[start:])
        return {"input_ids": ids.to(device), "attention_mask": mask.to(device), "labels": labels.to(device)}

    @torch.no_grad()
    def measure(self, model, autocast: bool = False) -> dict:
        """task -> mean completion loss; the model in eval mode for the pass, then as it was."""
        from cookbook_datasets.trainers.compact_loss import causal_lm

        was_training = model.training
        model.eval()
        try:
            device = next(model.parameters()).device
            batch = self.batch(device)
            lm = causal_lm(model)
            targets = batch["labels"][:, 1:]
            keep = targets != -100
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                backbone = getattr(lm, lm.base_model_prefix, None)
                if backbone is not None and lm.get_output_embeddings() is not None:
                    # the LM head on the answer positions only (prompts are most of every row)
                    hidden = backbone(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                      use_cache=False).last_hidden_state
                    logits = lm.get_output_embeddings()(hidden[:, :-1][keep]).float()
                else:
                    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                   use_cache=False).logits[:, :-1][keep].float()
            nll = F.cross_entropy(logits, targets[keep], reduction="none")
            row = torch.repeat_interleave(torch.arange(keep.shape[0], device=device), keep.sum(1))
            per_row = torch.zeros(keep.shape[0], device=device).index_add_(0, row, nll) / keep.sum(1).clamp(min=1)
        finally:
            model.train(was_training)
        task_of = torch.tensor(self.task_of, device=device)
        return {t: float(per_row[task_of == i].mean()) for i, t in enumerate(self.tasks)}


def _tokenize(tokenizer, row: dict, max_length: int) -> tuple[list, int]:
    """(token ids of prompt + answer, where the answer starts), as TRL tokenizes a conversational row;
    a long prompt loses its beginning, never the answer."""
    prompt = tokenizer.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(row["prompt"] + row["completion"], tokenize=False)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    ids = tokenizer(full, add_special_tokens=False)["input_ids"]
    start = 0
    while start < min(len(prompt_ids), len(ids)) and prompt_ids[start] == ids[start]:
        start += 1
    if start >= len(ids):
        raise ValueError(f"a row's answer adds no tokens after its prompt: {row['completion']!r}")
    if len(ids) > max_length:
        cut = min(len(ids) - max_length, start)
        ids, start = ids[cut:], start - cut
    return ids, start
